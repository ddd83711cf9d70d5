//! The backend connections of one HTTP/1.1 client connection.
//!
//! hyper serves an HTTP/1.1 client connection one request at a time, so a client connection
//! never needs more than one connection per backend at once. Keeping those few connections
//! with the client connection (instead of checking one out of the shared pool per request)
//! skips the pool's locking and bookkeeping on the hot path. When the client connection ends,
//! its backend connections go to an idle pool ([`IdlePool`]) that the next client connections
//! take from, so clients that open a connection per request do not cost a backend connection
//! per request. HTTP/2 client connections carry concurrent requests and use the shared pooled
//! client ([`crate::server::Shared::client`]).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::proxy::ProxyBody;

/// Most backends one client connection keeps a connection to (round robin over a service's
/// replicas visits each in turn).
const MAX_KEPT: usize = 8;

/// Most idle connections kept per backend between client connections.
const IDLE_PER_BACKEND: usize = 256;

/// How long an idle connection is kept between client connections.
const IDLE_FOR: Duration = Duration::from_secs(60);

/// A parked connection and when it was parked.
type Parked = (Instant, SendRequest<ProxyBody>);

/// Backend connections no client connection holds, by backend.
#[derive(Default)]
pub struct IdlePool {
    idle: Mutex<HashMap<SocketAddr, Vec<Parked>>>,
}

impl std::fmt::Debug for IdlePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdlePool").finish_non_exhaustive()
    }
}

impl IdlePool {
    /// The most recently parked open connection to `addr`, if any.
    fn take(&self, addr: SocketAddr) -> Option<SendRequest<ProxyBody>> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let list = idle.get_mut(&addr)?;
        while let Some((since, s)) = list.pop() {
            if !s.is_closed() && since.elapsed() < IDLE_FOR {
                return Some(s);
            }
        }
        None
    }

    /// Parks connections a client connection no longer needs.
    fn put(&self, conns: impl Iterator<Item = (SocketAddr, SendRequest<ProxyBody>)>) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        for (addr, s) in conns {
            if s.is_closed() {
                continue;
            }
            let list = idle.entry(addr).or_default();
            list.retain(|(since, s)| !s.is_closed() && since.elapsed() < IDLE_FOR);
            if list.len() < IDLE_PER_BACKEND {
                list.push((now, s));
            }
        }
        idle.retain(|_, list| !list.is_empty());
    }
}

/// Why a request to a backend failed.
#[derive(Debug)]
pub enum SendError {
    /// The backend could not be reached; nothing was sent.
    Connect {
        /// What happened.
        detail: String,
        /// The connect timeout expired.
        timed_out: bool,
    },
    /// The exchange failed after the connection was made.
    Request(crate::proxy::BoxError),
}

/// The kept backend connections of one client connection.
pub struct ConnUpstream {
    kept: tokio::sync::Mutex<Vec<(SocketAddr, SendRequest<ProxyBody>)>>,
    pool: Arc<IdlePool>,
}

impl Drop for ConnUpstream {
    fn drop(&mut self) {
        self.pool.put(self.kept.get_mut().drain(..));
    }
}

impl std::fmt::Debug for ConnUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnUpstream").finish_non_exhaustive()
    }
}

impl ConnUpstream {
    /// No kept connections yet; they go back to `pool` when the client connection ends.
    pub fn new(pool: Arc<IdlePool>) -> ConnUpstream {
        ConnUpstream {
            kept: tokio::sync::Mutex::new(Vec::new()),
            pool,
        }
    }

    /// Sends `req` (origin-form URI, `Host` set) to `addr` over a kept connection, or a new one.
    pub async fn send(
        &self,
        addr: SocketAddr,
        req: Request<ProxyBody>,
        connect_timeout: Duration,
    ) -> Result<Response<Incoming>, SendError> {
        let mut kept = self.kept.lock().await;
        let mut sender = None;
        let mut candidate = match kept.iter().position(|(a, _)| *a == addr) {
            Some(i) => Some(kept.swap_remove(i).1),
            None => self.pool.take(addr),
        };
        while let Some(mut s) = candidate.take() {
            if !s.is_closed() && s.ready().await.is_ok() {
                sender = Some(s);
            } else {
                candidate = self.pool.take(addr);
            }
        }
        let mut sender = match sender {
            Some(s) => s,
            None => dial(addr, connect_timeout).await?,
        };
        let response = sender.send_request(req);
        if kept.len() >= MAX_KEPT {
            let oldest = kept.remove(0);
            self.pool.put(std::iter::once(oldest));
        }
        kept.push((addr, sender));
        drop(kept);
        response.await.map_err(|e| SendError::Request(Box::new(e)))
    }
}

async fn dial(addr: SocketAddr, timeout: Duration) -> Result<SendRequest<ProxyBody>, SendError> {
    let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Err(_) => {
            return Err(SendError::Connect {
                detail: format!("connect to {addr}: timed out"),
                timed_out: true,
            })
        }
        Ok(Err(e)) => {
            return Err(SendError::Connect {
                detail: format!("connect to {addr}: {e}"),
                timed_out: false,
            })
        }
        Ok(Ok(s)) => s,
    };
    let _ = stream.set_nodelay(true);
    let (sender, conn) = http1::Builder::new()
        .handshake(TokioIo::new(stream))
        .await
        .map_err(|e| SendError::Request(Box::new(e)))?;
    tokio::spawn(async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!(backend = %addr, error = %e, "backend connection ended with an error");
        }
    });
    Ok(sender)
}
