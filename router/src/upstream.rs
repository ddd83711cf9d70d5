//! The backend connections of one HTTP/1.1 client connection.
//!
//! hyper serves an HTTP/1.1 client connection one request at a time, so a client connection
//! never needs more than one connection per backend at once. Keeping those few connections
//! with the client connection (instead of checking one out of the shared pool per request)
//! skips the pool's locking and bookkeeping on the hot path. HTTP/2 client connections carry
//! concurrent requests and use the shared pool ([`crate::server::Shared::client`]).

use std::net::SocketAddr;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::proxy::ProxyBody;

/// Most backends one client connection keeps a connection to (round robin over a service's
/// replicas visits each in turn).
const MAX_KEPT: usize = 8;

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
#[derive(Default)]
pub struct ConnUpstream {
    kept: tokio::sync::Mutex<Vec<(SocketAddr, SendRequest<ProxyBody>)>>,
}

impl std::fmt::Debug for ConnUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnUpstream").finish_non_exhaustive()
    }
}

impl ConnUpstream {
    /// Sends `req` (origin-form URI, `Host` set) to `addr` over a kept connection, or a new one.
    pub async fn send(
        &self,
        addr: SocketAddr,
        req: Request<ProxyBody>,
        connect_timeout: Duration,
    ) -> Result<Response<Incoming>, SendError> {
        let mut kept = self.kept.lock().await;
        let mut sender = None;
        if let Some(i) = kept.iter().position(|(a, _)| *a == addr) {
            let (_, mut s) = kept.swap_remove(i);
            if !s.is_closed() && s.ready().await.is_ok() {
                sender = Some(s);
            }
        }
        let mut sender = match sender {
            Some(s) => s,
            None => dial(addr, connect_timeout).await?,
        };
        let response = sender.send_request(req);
        if kept.len() >= MAX_KEPT {
            kept.remove(0);
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
