//! `run(listeners, config, shutdown)`: accept loops, one task per connection, graceful drain.
//!
//! Accept errors (out of file descriptors, a client that vanished) back off and never stop the
//! server. On shutdown the accept loops stop, open connections are asked to finish their
//! current request, and `run` returns when they are gone or the grace period is over.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;

use crate::coalesce::Coalescer;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::upstream::{self, DockerClient};

/// How long open connections get to finish after shutdown is asked.
pub const GRACE: Duration = Duration::from_secs(10);

/// Shared by every connection.
#[derive(Debug)]
pub struct State {
    /// The configuration, policy included.
    pub config: Config,
    /// The pooled client to the daemon.
    pub client: DockerClient,
    /// Counters and gauges.
    pub metrics: Arc<Metrics>,
    /// The socket path, shared by the per-connection upstreams.
    pub socket: Arc<std::path::PathBuf>,
    /// Groups of identical reads in flight, when `GUARD_COALESCE` is on.
    pub coalescer: Option<Coalescer>,
    /// The last answers redacted ([`crate::redaction::Memo`]).
    pub memo: crate::redaction::Memo,
}

impl State {
    /// Builds the shared state for a configuration.
    pub fn new(config: Config) -> Arc<State> {
        let client = upstream::client(config.socket_path.clone());
        Arc::new(State {
            socket: Arc::new(config.socket_path.clone()),
            coalescer: config.coalesce.then(Coalescer::default),
            config,
            client,
            metrics: Arc::new(Metrics::default()),
            memo: crate::redaction::Memo::default(),
        })
    }
}

/// A bound listener.
#[derive(Debug)]
pub enum Listener {
    /// TCP, checked against `GUARD_ALLOW_FROM`.
    Tcp(TcpListener),
    /// A unix socket (file permissions decide who may connect).
    Unix(UnixListener),
}

/// Serves the guard on `listeners` until `shutdown` completes, then drains.
pub async fn run(listeners: Vec<Listener>, state: Arc<State>, shutdown: impl Future<Output = ()>) {
    let (stop_tx, stop_rx) = watch::channel(false);
    for listener in listeners {
        tokio::spawn(accept_loop(listener, state.clone(), stop_rx.clone()));
    }
    drop(stop_rx);
    shutdown.await;
    tracing::info!("shutting down: no new connections, draining open ones");
    let _ = stop_tx.send(true);
    if tokio::time::timeout(GRACE, stop_tx.closed()).await.is_err() {
        tracing::warn!("grace period over, closing the remaining connections");
    }
}

async fn accept_loop(listener: Listener, state: Arc<State>, mut stop: watch::Receiver<bool>) {
    let mut backoff = Duration::from_millis(10);
    loop {
        let accepted = tokio::select! {
            _ = stop.changed() => return,
            res = accept(&listener) => res,
        };
        match accepted {
            Ok((Conn::Tcp(stream), Some(peer))) => {
                backoff = Duration::from_millis(10);
                let _ = stream.set_nodelay(true);
                if !state.config.client_allowed(peer.ip()) {
                    state.metrics.refused_clients.inc();
                    tokio::spawn(refuse_client(stream, peer));
                    continue;
                }
                tokio::spawn(serve_connection(
                    stream,
                    Arc::from(peer.to_string()),
                    state.clone(),
                    stop.clone(),
                ));
            }
            Ok((Conn::Tcp(_), None)) => {}
            Ok((Conn::Unix(stream), _)) => {
                backoff = Duration::from_millis(10);
                tokio::spawn(serve_connection(
                    stream,
                    Arc::from("unix"),
                    state.clone(),
                    stop.clone(),
                ));
            }
            Err(e) => {
                tracing::warn!(error = %e, backoff_ms = backoff.as_millis() as u64, "accept failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
    }
}

enum Conn {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
}

async fn accept(listener: &Listener) -> std::io::Result<(Conn, Option<SocketAddr>)> {
    match listener {
        Listener::Tcp(l) => l.accept().await.map(|(s, a)| (Conn::Tcp(s), Some(a))),
        Listener::Unix(l) => l.accept().await.map(|(s, _)| (Conn::Unix(s), None)),
    }
}

/// A client outside `GUARD_ALLOW_FROM` gets one JSON 403 and the connection closes.
async fn refuse_client(mut stream: tokio::net::TcpStream, peer: SocketAddr) {
    tracing::warn!(target: "audit", client = %peer, decision = "deny", reason = "GUARD_ALLOW_FROM", "client refused");
    let body = serde_json::json!({
        "message": format!("socket-guard: client {} is not in GUARD_ALLOW_FROM", peer.ip())
    })
    .to_string();
    let resp = format!(
        "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        let _ = stream.write_all(resp.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

async fn serve_connection<S>(
    stream: S,
    client: Arc<str>,
    state: Arc<State>,
    stop: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    crate::conn::serve(stream, client, state, stop).await;
}
