//! The Docker daemon side: dialling the socket, and a pooled HTTP/1.1 client for health checks.
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

/// Dials the Docker socket for one client connection's exchanges.
pub async fn dial(socket: &std::path::Path) -> Result<UnixStream, String> {
    tokio::time::timeout(CONNECT_TIMEOUT, UnixStream::connect(socket))
        .await
        .map_err(|_| format!("connect to {}: timed out", socket.display()))?
        .map_err(|e| format!("connect to {}: {e}", socket.display()))
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
