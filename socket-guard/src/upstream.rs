//! The Docker daemon side: a pooled HTTP/1.1 client over the unix socket.
//!
//! hyper-util's legacy client brings keep-alive pooling and upgrade support; all it needs is a
//! connector that dials the socket. The socket is dialled per new connection, so when the
//! daemon restarts (or the socket appears late) the next request simply reconnects: no state
//! to repair.

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::UnixStream;

use crate::body::{GuardBody, GuardBodyExt};

/// How long to wait for the socket to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The pooled client to the daemon.
pub type DockerClient = Client<UnixConnector, GuardBody>;

/// Builds the pooled client for a socket path.
pub fn client(socket: PathBuf) -> DockerClient {
    Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(64)
        .build(UnixConnector {
            path: Arc::new(socket),
        })
}

/// The base URI requests are addressed to; the connector ignores it and dials the socket.
pub fn uri(path_and_query: &str) -> Result<Uri, hyper::http::Error> {
    Uri::builder()
        .scheme("http")
        .authority("docker")
        .path_and_query(path_and_query)
        .build()
}

/// Dials the Docker socket.
#[derive(Debug, Clone)]
pub struct UnixConnector {
    path: Arc<PathBuf>,
}

impl tower_service::Service<Uri> for UnixConnector {
    type Response = UnixConn;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<UnixConn>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Uri) -> Self::Future {
        let path = self.path.clone();
        Box::pin(async move {
            let stream = tokio::time::timeout(CONNECT_TIMEOUT, UnixStream::connect(path.as_path()))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
            Ok(UnixConn {
                inner: TokioIo::new(stream),
            })
        })
    }
}

pin_project_lite::pin_project! {
    /// One connection to the socket.
    pub struct UnixConn {
        #[pin]
        inner: TokioIo<UnixStream>,
    }
}

impl Connection for UnixConn {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl Read for UnixConn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        self.project().inner.poll_read(cx, buf)
    }
}

impl Write for UnixConn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }
}

/// The daemon connection of one client connection.
///
/// hyper serves a client connection one request at a time, so one daemon connection per
/// client connection is enough and skips the shared pool's bookkeeping on the hot path. It is
/// dialled on first use and again whenever the previous one closed or became a tunnel.
#[derive(Debug)]
pub struct ConnUpstream {
    socket: Arc<PathBuf>,
    sender: tokio::sync::Mutex<Option<hyper::client::conn::http1::SendRequest<GuardBody>>>,
}

impl ConnUpstream {
    /// A connection slot for the socket at `path`.
    pub fn new(socket: Arc<PathBuf>) -> ConnUpstream {
        ConnUpstream {
            socket,
            sender: tokio::sync::Mutex::new(None),
        }
    }

    /// Sends one request, dialling the socket when there is no usable connection.
    pub async fn send(
        &self,
        req: hyper::Request<GuardBody>,
    ) -> Result<hyper::Response<Incoming>, String> {
        let mut slot = self.sender.lock().await;
        let reusable = match slot.take() {
            Some(mut s) if !s.is_closed() => s.ready().await.is_ok().then_some(s),
            _ => None,
        };
        let mut sender = match reusable {
            Some(s) => s,
            None => self.dial().await?,
        };
        let response = sender.send_request(req);
        *slot = Some(sender);
        drop(slot);
        response.await.map_err(|e| describe_hyper_error(&e))
    }

    async fn dial(&self) -> Result<hyper::client::conn::http1::SendRequest<GuardBody>, String> {
        let stream =
            tokio::time::timeout(CONNECT_TIMEOUT, UnixStream::connect(self.socket.as_path()))
                .await
                .map_err(|_| format!("connect to {}: timed out", self.socket.display()))?
                .map_err(|e| format!("connect to {}: {e}", self.socket.display()))?;
        let (sender, conn) = hyper::client::conn::http1::Builder::new()
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|e| describe_hyper_error(&e))?;
        tokio::spawn(async move {
            if let Err(e) = conn.with_upgrades().await {
                tracing::debug!(error = %e, "daemon connection ended with an error");
            }
        });
        Ok(sender)
    }
}

fn describe_hyper_error(e: &hyper::Error) -> String {
    let mut out = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    out
}

/// Pings the daemon: `Ok` when `GET /_ping` answers 200.
pub async fn ping(client: &DockerClient) -> Result<(), String> {
    let uri = uri("/_ping").map_err(|e| e.to_string())?;
    let req = hyper::Request::get(uri)
        .body(GuardBody::empty())
        .map_err(|e| e.to_string())?;
    let resp: hyper::Response<Incoming> =
        tokio::time::timeout(Duration::from_secs(5), client.request(req))
            .await
            .map_err(|_| "the daemon did not answer within 5 s".to_owned())?
            .map_err(|e| crate::error::describe_client_error(&e))?;
    if resp.status().is_success() {
        Ok(())
    } else {
        Err(format!("the daemon answered {}", resp.status()))
    }
}
