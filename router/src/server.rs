//! `run(listener, shared, shutdown)`: the web entry point. Listeners are bound once; a new
//! routing table is swapped in under them (see [`crate::discovery`]), never re-bound.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use hyper::service::service_fn;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Config;
use crate::live::{Live, Registry};
use crate::metrics::Metrics;
use crate::proxy::{self, ProxyBody};

/// How long open connections get to finish after shutdown is asked.
pub const GRACE: Duration = Duration::from_secs(10);

/// State shared by every connection and by discovery.
#[derive(Debug)]
pub struct Shared {
    /// Configuration.
    pub config: Config,
    /// The table in service.
    pub live: ArcSwap<Live>,
    /// Runtime state that outlives tables.
    pub registry: Registry,
    /// Pooled HTTP/1.1 client to backends.
    pub client: Client<HttpConnector, ProxyBody>,
    /// Backend connections between HTTP/1.1 client connections (see [`crate::upstream`]).
    pub idle: Arc<crate::upstream::IdlePool>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// The providers' latest snapshots (see [`crate::state`]).
    pub snapshots: crate::state::Snapshots,
    /// Set once the first table from Docker is in service.
    pub synced: std::sync::atomic::AtomicBool,
    /// Set while the websecure entry point serves: only then does plain HTTP redirect to it.
    pub websecure_active: std::sync::atomic::AtomicBool,
    /// Pending ACME HTTP-01 challenges: token -> key authorization.
    pub acme_challenges: std::sync::Mutex<std::collections::HashMap<String, String>>,
    /// Active health check tasks by (service, backend URL).
    pub health_tasks:
        std::sync::Mutex<std::collections::HashMap<(String, String), tokio::task::AbortHandle>>,
}

impl Shared {
    /// Builds the shared state with an empty table.
    pub fn new(config: Config) -> Arc<Shared> {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(config.connect_timeout));
        connector.set_keepalive(Some(Duration::from_secs(60)));
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(256)
            .build(connector);
        Arc::new(Shared {
            config,
            live: ArcSwap::from_pointee(Live::default()),
            registry: Registry::default(),
            client,
            idle: Arc::default(),
            metrics: Arc::new(Metrics::default()),
            snapshots: std::sync::Mutex::default(),
            synced: std::sync::atomic::AtomicBool::new(false),
            health_tasks: std::sync::Mutex::default(),
            acme_challenges: std::sync::Mutex::default(),
            websecure_active: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// The key authorization for a pending HTTP-01 challenge token.
    pub fn acme_challenge(&self, token: &str) -> Option<String> {
        self.acme_challenges
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(token)
            .cloned()
    }
}

/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves the plain-HTTP entry point `name` until `shutdown` completes, then drains.
pub async fn run(
    listener: TcpListener,
    name: &'static str,
    shared: Arc<Shared>,
    shutdown: impl Future<Output = ()>,
) {
    serve(listener, name, None, shared, shutdown).await;
}

/// Serves the TLS entry point (`websecure`): HTTP/2 or HTTP/1.1 as ALPN chose.
pub async fn run_tls(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    shared: Arc<Shared>,
    shutdown: impl Future<Output = ()>,
) {
    shared
        .websecure_active
        .store(true, std::sync::atomic::Ordering::SeqCst);
    serve(
        listener,
        "websecure",
        Some(acceptor),
        shared.clone(),
        shutdown,
    )
    .await;
    shared
        .websecure_active
        .store(false, std::sync::atomic::Ordering::SeqCst);
}

async fn serve(
    listener: TcpListener,
    entrypoint: &'static str,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shared: Arc<Shared>,
    shutdown: impl Future<Output = ()>,
) {
    let (stop_tx, stop_rx) = watch::channel(false);
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let accept = {
        let shared = shared.clone();
        async move {
            let mut backoff = Duration::from_millis(10);
            loop {
                let (stream, peer) = match listener.accept().await {
                    Ok(x) => {
                        backoff = Duration::from_millis(10);
                        x
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(1));
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let conn = Conn {
                    peer,
                    entrypoint,
                    port,
                    shared: shared.clone(),
                    stop: stop_rx.clone(),
                };
                match &tls {
                    None => {
                        tokio::spawn(conn.serve_http1(stream));
                    }
                    Some(acceptor) => {
                        let acceptor = acceptor.clone();
                        tokio::spawn(async move {
                            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                                .await
                            {
                                Ok(Ok(tls_stream)) => {
                                    // HTTP/2 over TLS is chosen by ALPN (RFC 9113 3.2): without
                                    // it the connection is HTTP/1.1, served without the
                                    // protocol sniffing of the auto builder.
                                    if tls_stream.get_ref().1.alpn_protocol() == Some(b"h2") {
                                        conn.serve_h2(tls_stream).await
                                    } else {
                                        conn.serve_http1(tls_stream).await
                                    }
                                }
                                Ok(Err(e)) => {
                                    tracing::debug!(client = %peer, error = %e, "TLS handshake failed")
                                }
                                Err(_) => {
                                    tracing::debug!(client = %peer, "TLS handshake timed out")
                                }
                            }
                        });
                    }
                }
            }
        }
    };
    tokio::select! {
        () = accept => {}
        () = shutdown => {}
    }
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(GRACE, stop_tx.closed()).await;
}

struct Conn {
    peer: SocketAddr,
    entrypoint: &'static str,
    port: u16,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
}

impl Conn {
    /// Serves an HTTP/1.1 client connection on the raw bytes ([`crate::conn`]).
    async fn serve_http1<S>(self, stream: S)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let scheme = scheme_of(self.entrypoint);
        let at = crate::conn::Endpoint {
            entrypoint: self.entrypoint,
            scheme,
            port: self.port,
            peer: self.peer,
        };
        crate::conn::serve(stream, at, self.shared, self.stop).await;
    }

    /// The service for an HTTP/2 client connection: each request through [`proxy::handle`].
    /// (Its type is spelled out so that the futures' `Send` bounds are checked here, with
    /// concrete lifetimes.)
    fn h2_service(
        &self,
    ) -> impl hyper::service::Service<
        hyper::Request<hyper::body::Incoming>,
        Response = hyper::Response<ProxyBody>,
        Error = std::convert::Infallible,
        Future = impl Future<Output = Result<hyper::Response<ProxyBody>, std::convert::Infallible>>
                     + Send,
    > + Clone
           + Send
           + 'static {
        let (shared, entrypoint, port, peer) =
            (self.shared.clone(), self.entrypoint, self.port, self.peer);
        let scheme = scheme_of(entrypoint);
        service_fn(move |req| {
            let shared = shared.clone();
            async move {
                Ok::<_, std::convert::Infallible>(
                    proxy::handle(shared, entrypoint, scheme, port, peer, req).await,
                )
            }
        })
    }

    /// Serves an HTTP/2 client connection through hyper, with the shared pooled client.
    async fn serve_h2<S>(mut self, stream: S)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let conn = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .max_header_list_size(self.shared.config.max_header_bytes as u32)
            .keep_alive_interval(Some(Duration::from_secs(30)))
            .serve_connection(TokioIo::new(stream), self.h2_service());
        tokio::pin!(conn);
        drive(conn, &mut self.stop, |c| c.graceful_shutdown()).await;
    }
}

fn scheme_of(entrypoint: &str) -> &'static str {
    if entrypoint == "websecure" {
        "https"
    } else {
        "http"
    }
}

/// Drives a client connection until it ends; on shutdown asks it to finish the requests it has
/// (`graceful`, the connection type's own method) and gives it [`GRACE`] to do so.
async fn drive<C: Future>(
    mut conn: std::pin::Pin<&mut C>,
    stop: &mut watch::Receiver<bool>,
    graceful: impl FnOnce(std::pin::Pin<&mut C>),
) {
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = stop.changed() => {
            graceful(conn.as_mut());
            let _ = tokio::time::timeout(GRACE, conn).await;
        }
    }
}
