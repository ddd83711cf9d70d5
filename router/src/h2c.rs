//! `h2c://` servers: HTTP/2 with prior knowledge over plain TCP (Traefik's `h2c` scheme, what
//! gRPC servers speak). One connection per server address carries every request to it
//! (HTTP/2 multiplexes), made again when it closes. Requests keep the client's `Host` as
//! their `:authority` (as Traefik's h2c transport does) while the connection goes to the
//! server's address.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::client::conn::http2::SendRequest;
use hyper::{header, Request, Response, Uri};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};

use crate::proxy::ProxyBody;
use crate::upstream::SendError;

/// The connections, by server address (a clone shares them).
#[derive(Default, Clone)]
pub struct Pool(Arc<Mutex<HashMap<SocketAddr, SendRequest<ProxyBody>>>>);

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("h2c::Pool")
    }
}

impl Pool {
    /// Sends `req` (its URI a path and query) to the server at `addr`; `authority` is the
    /// request's `:authority` (the `Host` it was given).
    pub async fn send(
        &self,
        addr: SocketAddr,
        connect_timeout: Duration,
        mut req: Request<ProxyBody>,
    ) -> Result<Response<Incoming>, SendError> {
        let authority = req
            .headers_mut()
            .remove(header::HOST)
            .and_then(|h| h.to_str().ok().map(str::to_owned))
            .unwrap_or_else(|| addr.to_string());
        let path = req
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        *req.uri_mut() = Uri::builder()
            .scheme("http")
            .authority(authority.as_str())
            .path_and_query(path)
            .build()
            .map_err(|e| SendError::Request(format!("the request's authority: {e}"), false))?;
        let mut sender = self.sender(addr, connect_timeout).await?;
        sender.send_request(req).await.map_err(|e| {
            let closed = e.is_canceled() || e.is_closed() || e.is_incomplete_message();
            SendError::Request(format!("h2c to {addr}: {e}"), closed)
        })
    }

    /// A ready connection to `addr`: the kept one, else a new one.
    async fn sender(
        &self,
        addr: SocketAddr,
        connect_timeout: Duration,
    ) -> Result<SendRequest<ProxyBody>, SendError> {
        let kept = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&addr)
            .filter(|s| !s.is_closed())
            .cloned();
        if let Some(mut s) = kept {
            if s.ready().await.is_ok() {
                return Ok(s);
            }
        }
        let tcp = crate::upstream::connect(addr, connect_timeout).await?;
        let (sender, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .keep_alive_interval(Some(Duration::from_secs(30)))
            .handshake(TokioIo::new(tcp))
            .await
            .map_err(|e| SendError::Connect {
                detail: format!("h2c handshake with {addr}: {e}"),
                timed_out: false,
            })?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(backend = %addr, error = %e, "h2c connection ended");
            }
        });
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(addr, sender.clone());
        Ok(sender)
    }
}
