//! Active health checks (`loadBalancer.healthCheck`, Traefik's option set): one task per
//! backend of a service that asks for them, started and stopped as tables change. A failing
//! check takes the backend out of rotation until a check passes again. (Docker's own health
//! status and refused connections are handled without these tasks.)

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};

use http_body_util::BodyExt;
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::{Method, Request, Uri};

use crate::backend_tls::BackendTls;
use crate::dynamic::HealthCheck;
use crate::live::BackendState;
use crate::model::table::Target;
use crate::server::Shared;

/// Redirects followed at most (Go's client stops after ten).
const MAX_REDIRECTS: usize = 10;

/// One backend's check: where, how, the state it marks, and TLS when it is checked over
/// HTTPS.
struct Check {
    target: Target,
    check: HealthCheck,
    state: Arc<BackendState>,
    tls: Option<Arc<BackendTls>>,
    /// HTTP/2 without TLS, for an `h2c://` server.
    h2c: bool,
}

/// Starts checks for new backends and stops those of backends that are gone.
pub fn reconcile(shared: &Shared) {
    let live = shared.live.load_full();
    let mut wanted: HashMap<(String, String), Check> = HashMap::new();
    for (name, svc) in &live.services {
        let Some(def) = live.table.services.get(name) else {
            continue;
        };
        let Some(check) = &def.health else {
            continue;
        };
        for b in &svc.backends {
            let Some(target) = &b.def.target else {
                continue;
            };
            let https = match check.scheme.as_deref() {
                Some(s) => s == "https",
                None => b.def.url.starts_with("https://"),
            };
            let tls = if https {
                let url = b.def.url.replacen("http://", "https://", 1);
                match shared.backend_tls.get(&def.transport, &url) {
                    Ok(t) => Some(t),
                    Err(e) => {
                        tracing::warn!(service = %name, backend = %b.def.url, error = %e, "no health check: TLS settings unusable");
                        continue;
                    }
                }
            } else {
                None
            };
            let c = Check {
                target: target.clone(),
                check: check.clone(),
                state: b.state.clone(),
                h2c: tls.is_none()
                    && b.def.url.starts_with("h2c://")
                    && check.scheme.as_deref().is_none_or(|s| s == "h2c"),
                tls,
            };
            wanted.insert((name.clone(), b.def.url.clone()), c);
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
    for (key, c) in wanted {
        if tasks.contains_key(&key) {
            continue;
        }
        let client = shared.client.clone();
        let h2c = shared.h2c.clone();
        let (service, url) = key.clone();
        let handle = tokio::spawn(async move {
            loop {
                let ok = match crate::upstream::resolve(&c.target, c.check.timeout).await {
                    Ok(addr) => {
                        let h2c = c.h2c.then_some(&h2c);
                        probe(&client, c.tls.as_deref(), h2c, addr, &c.check).await
                    }
                    Err(_) => false,
                };
                let was_failed = c.state.check_failed.swap(!ok, Ordering::Relaxed);
                if was_failed == ok {
                    tracing::info!(service = %service, backend = %url, healthy = ok, "health check changed");
                }
                let wait = if ok {
                    c.check.interval
                } else {
                    c.check.unhealthy_interval
                };
                tokio::time::sleep(wait).await;
            }
        });
        tasks.insert(key, handle.abort_handle());
    }
}

/// One check of the server at `addr`: `true` when it answers in time with a healthy status
/// (after redirects to the same server, when they are followed).
async fn probe(
    client: &hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        crate::proxy::ProxyBody,
    >,
    tls: Option<&BackendTls>,
    h2c: Option<&crate::h2c::Pool>,
    addr: SocketAddr,
    check: &HealthCheck,
) -> bool {
    let addr = SocketAddr::new(addr.ip(), check.port.unwrap_or(addr.port()));
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut path = check.path.clone();
    let exchange = async {
        for _ in 0..=MAX_REDIRECTS {
            let uri: Uri = format!("{scheme}://{addr}{path}").parse().ok()?;
            let method = Method::from_bytes(check.method.as_bytes()).ok()?;
            let mut req = Request::builder()
                .method(method)
                .uri(uri)
                .body(crate::proxy::full(bytes::Bytes::new()))
                .ok()?;
            let h = req.headers_mut();
            if let Some(v) = check
                .hostname
                .as_deref()
                .and_then(|v| HeaderValue::from_str(v).ok())
            {
                h.insert(header::HOST, v);
            }
            for (k, v) in &check.headers {
                if let (Ok(k), Ok(v)) = (
                    HeaderName::from_bytes(k.as_bytes()),
                    HeaderValue::from_str(v),
                ) {
                    h.insert(k, v);
                }
            }
            let resp = match (tls, h2c) {
                (Some(t), _) => t.client().request(req).await.ok()?,
                (None, Some(p)) => p.send(addr, check.timeout, req).await.ok()?,
                (None, None) => client.request(req).await.ok()?,
            };
            let status = resp.status();
            let location = resp
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let _ = resp.into_body().collect().await;
            match location.and_then(|l| same_server_path(&l, addr)) {
                Some(next) if status.is_redirection() && check.follow_redirects => path = next,
                _ => return Some(check.healthy(status.as_u16())),
            }
        }
        Some(false)
    };
    matches!(
        tokio::time::timeout(check.timeout, exchange).await,
        Ok(Some(true))
    )
}

/// The path a redirect's `Location` names when it stays on the same server (relative, or
/// absolute with the server's own address); `None` for another server (its 3xx is judged).
fn same_server_path(location: &str, addr: SocketAddr) -> Option<String> {
    if location.starts_with('/') && !location.starts_with("//") {
        return Some(location.to_owned());
    }
    let rest = location
        .strip_prefix("http://")
        .or_else(|| location.strip_prefix("https://"))?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    (authority == addr.to_string()).then(|| {
        if path.is_empty() {
            "/".into()
        } else {
            path.to_owned()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_are_followed_on_the_same_server_only() {
        let addr: SocketAddr = "10.0.0.2:8080".parse().unwrap();
        assert_eq!(same_server_path("/ready", addr).as_deref(), Some("/ready"));
        assert_eq!(
            same_server_path("http://10.0.0.2:8080/x", addr).as_deref(),
            Some("/x")
        );
        assert_eq!(
            same_server_path("http://10.0.0.2:8080", addr).as_deref(),
            Some("/")
        );
        assert_eq!(same_server_path("https://login.example/", addr), None);
        assert_eq!(same_server_path("//other/x", addr), None);
    }
}
