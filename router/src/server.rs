//! `run(listener, shared, shutdown)`: the web entry point. Listeners are bound once; a new
//! routing table is swapped in under them (see [`crate::discovery`]), never re-bound.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use hyper::server::conn::http1;
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
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Set once the first table from Docker is in service.
    pub synced: std::sync::atomic::AtomicBool,
    /// Active health check tasks by (service, backend address).
    pub health_tasks:
        std::sync::Mutex<std::collections::HashMap<(String, SocketAddr), tokio::task::AbortHandle>>,
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
            metrics: Arc::new(Metrics::default()),
            synced: std::sync::atomic::AtomicBool::new(false),
            health_tasks: std::sync::Mutex::default(),
        })
    }
}

/// Serves one entry point until `shutdown` completes, then drains.
pub async fn run(
    listener: TcpListener,
    entrypoint: &'static str,
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
                tokio::spawn(serve_connection(
                    stream,
                    peer,
                    entrypoint,
                    port,
                    shared.clone(),
                    stop_rx.clone(),
                ));
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

async fn serve_connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    entrypoint: &'static str,
    port: u16,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let svc_shared = shared.clone();
    let svc = service_fn(move |req| {
        let shared = svc_shared.clone();
        async move {
            Ok::<_, std::convert::Infallible>(
                proxy::handle(shared, entrypoint, "http", port, peer, req).await,
            )
        }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(shared.config.header_timeout)
        .max_buf_size(shared.config.max_header_bytes)
        .serve_connection(TokioIo::new(stream), svc)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(GRACE, conn.as_mut()).await;
        }
    }
}
