//! Active health checks (`healthcheck.path`, `healthcheck.interval`): one task per backend
//! of a service that asks for them, started and stopped as tables change. A failing check
//! takes the backend out of rotation until a check passes again. (Docker's own health status
//! and refused connections are handled without these tasks.)

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::{Request, Uri};

use crate::backend_tls::BackendTls;
use crate::live::BackendState;
use crate::server::Shared;

use crate::model::table::Target;

const DEFAULT_INTERVAL: Duration = crate::dynamic::decode::DEFAULT_HEALTH_INTERVAL;

/// One backend's check: where, which path, how often, the state it marks, and TLS for an
/// `https://` server.
type Check = (
    Target,
    String,
    Duration,
    Arc<BackendState>,
    Option<Arc<BackendTls>>,
);

/// Starts checks for new backends and stops those of backends that are gone.
pub fn reconcile(shared: &Shared) {
    let live = shared.live.load_full();
    let mut wanted: HashMap<(String, String), Check> = HashMap::new();
    for (name, svc) in &live.services {
        let Some(def) = live.table.services.get(name) else {
            continue;
        };
        let Some(path) = &def.health_path else {
            continue;
        };
        for b in &svc.backends {
            let Some(target) = &b.def.target else {
                continue;
            };
            let tls = if b.def.url.starts_with("https://") {
                match shared.backend_tls.get(&def.transport, &b.def.url) {
                    Ok(t) => Some(t),
                    Err(e) => {
                        tracing::warn!(service = %name, backend = %b.def.url, error = %e, "no health check: TLS settings unusable");
                        continue;
                    }
                }
            } else {
                None
            };
            wanted.insert(
                (name.clone(), b.def.url.clone()),
                (
                    target.clone(),
                    path.clone(),
                    def.health_interval.unwrap_or(DEFAULT_INTERVAL),
                    b.state.clone(),
                    tls,
                ),
            );
        }
    }
    let mut tasks = shared
        .health_tasks
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    tasks.retain(|key, handle| {
        let keep = wanted.contains_key(key);
        if !keep {
            handle.abort();
        }
        keep
    });
    for (key, (target, path, interval, state, tls)) in wanted {
        if tasks.contains_key(&key) {
            continue;
        }
        let client = shared.client.clone();
        let (service, url) = key.clone();
        let handle = tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            loop {
                tick.tick().await;
                let timeout = interval.min(Duration::from_secs(5));
                let ok = match crate::upstream::resolve(&target, timeout).await {
                    Ok(addr) => check(&client, tls.as_deref(), addr, &path, timeout).await,
                    Err(_) => false,
                };
                let was_failed = state.check_failed.swap(!ok, Ordering::Relaxed);
                if was_failed == ok {
                    tracing::info!(service = %service, backend = %url, healthy = ok, "health check changed");
                }
            }
        });
        tasks.insert(key, handle.abort_handle());
    }
}

async fn check(
    client: &hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        crate::proxy::ProxyBody,
    >,
    tls: Option<&BackendTls>,
    addr: std::net::SocketAddr,
    path: &str,
    timeout: Duration,
) -> bool {
    let scheme = if tls.is_some() { "https" } else { "http" };
    let Ok(uri) = format!("{scheme}://{addr}{path}").parse::<Uri>() else {
        return false;
    };
    let Ok(req) = Request::get(uri).body(crate::proxy::full(bytes::Bytes::new())) else {
        return false;
    };
    let sent = match tls {
        Some(t) => t.client().request(req),
        None => client.request(req),
    };
    match tokio::time::timeout(timeout, sent).await {
        Ok(Ok(resp)) => {
            let ok = resp.status().is_success() || resp.status().is_redirection();
            let _ = resp.into_body().collect().await;
            ok
        }
        _ => false,
    }
}
