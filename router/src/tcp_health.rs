//! TCP services' health checks, as Traefik's (`pkg/healthcheck/healthcheck_tcp.go`): every
//! server starts up; each is checked every `interval` (`unhealthyInterval` while down) by a
//! connection (to `port` when set) that writes `send` and must read `expect` back, within
//! `timeout`. A server that is down takes no new connection; its open ones go on.
//!
//! The checks outlive routing tables: [`TcpHealth::reconcile`] keeps one task per (service,
//! server, check) that the table in service wants, and forgets the others.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Mutex, PoisonError, RwLock};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::dynamic::tcp::TcpHealthCheck;
use crate::model::table::RouteTable;

type Key = (String, String, TcpHealthCheck);

/// The servers found down, and the tasks that check them.
#[derive(Debug, Default)]
pub struct TcpHealth {
    down: RwLock<HashSet<(String, String)>>,
    tasks: Mutex<HashMap<Key, tokio::task::AbortHandle>>,
}

impl TcpHealth {
    /// Whether server `address` of service `service` may take a connection.
    pub fn is_up(&self, service: &str, address: &str) -> bool {
        let down = self.down.read().unwrap_or_else(PoisonError::into_inner);
        down.is_empty() || !down.contains(&(service.to_owned(), address.to_owned()))
    }

    fn set(&self, service: &str, address: &str, up: bool) {
        let key = (service.to_owned(), address.to_owned());
        let mut down = self.down.write().unwrap_or_else(PoisonError::into_inner);
        let changed = if up {
            down.remove(&key)
        } else {
            down.insert(key)
        };
        if changed {
            tracing::info!(
                service,
                server = address,
                up,
                "TCP health check: server {}",
                if up { "up" } else { "down" }
            );
        }
    }

    /// Starts the checks `table` wants and stops the others (their servers count as up).
    pub fn reconcile(self: &std::sync::Arc<Self>, table: &RouteTable) {
        let wanted: BTreeSet<Key> = table.tcp.health_checked();
        let mut tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        tasks.retain(|key, task| {
            let keep = wanted.contains(key);
            if !keep {
                task.abort();
                self.set(&key.0, &key.1, true);
            }
            keep
        });
        for key in wanted {
            if tasks.contains_key(&key) {
                continue;
            }
            let me = self.clone();
            let (service, address, check) = key.clone();
            let task = tokio::spawn(async move {
                let mut up = true;
                loop {
                    let wait = if up {
                        check.interval
                    } else {
                        check.unhealthy_interval
                    };
                    tokio::time::sleep(wait).await;
                    up = match probe(&address, &check).await {
                        Ok(()) => true,
                        Err(e) => {
                            tracing::warn!(service = %service, server = %address, error = %e, "TCP health check failed");
                            false
                        }
                    };
                    me.set(&service, &address, up);
                }
            });
            tasks.insert(key, task.abort_handle());
        }
    }
}

/// One check of `address`.
async fn probe(address: &str, check: &TcpHealthCheck) -> Result<(), String> {
    let target = match check.port {
        Some(p) => {
            let host = address.rsplit_once(':').map_or(address, |(h, _)| h);
            format!("{host}:{p}")
        }
        None => address.to_owned(),
    };
    let run = async {
        let mut s = TcpStream::connect(&target)
            .await
            .map_err(|e| format!("connecting to {target}: {e}"))?;
        if !check.send.is_empty() {
            s.write_all(check.send.as_bytes())
                .await
                .map_err(|e| format!("sending to {target}: {e}"))?;
        }
        if !check.expect.is_empty() {
            let mut got = vec![0u8; check.expect.len()];
            s.read_exact(&mut got)
                .await
                .map_err(|e| format!("reading from {target}: {e}"))?;
            if got != check.expect.as_bytes() {
                return Err("unexpected health check response".to_owned());
            }
        }
        Ok(())
    };
    match tokio::time::timeout(check.timeout, run).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "no answer from {target} within {:?}",
            check.timeout
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn check(send: &str, expect: &str) -> TcpHealthCheck {
        TcpHealthCheck {
            port: None,
            send: send.into(),
            expect: expect.into(),
            interval: Duration::from_secs(30),
            unhealthy_interval: Duration::from_secs(30),
            timeout: Duration::from_millis(500),
        }
    }

    #[tokio::test]
    async fn a_probe_sends_and_expects() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let mut b = [0u8; 4];
                if s.read_exact(&mut b).await.is_ok() && &b == b"PING" {
                    let _ = s.write_all(b"PONG").await;
                }
            }
        });
        assert_eq!(probe(&addr, &check("PING", "PONG")).await, Ok(()));
        assert!(probe(&addr, &check("PING", "PANG")).await.is_err());
        // Nothing sent, an answer expected: the server waits, the timeout ends it.
        assert!(probe(&addr, &check("", "PONG")).await.is_err());
        assert_eq!(probe(&addr, &check("", "")).await, Ok(()));
        let closed = {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap().to_string()
        };
        assert!(probe(&closed, &check("", "")).await.is_err());
    }
}
