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
    /// The `Host` sent without `hostname` ([`default_host`]).
    host: Option<String>,
}

/// Starts checks for new backends and stops those of backends that are gone.
pub fn reconcile(shared: &Shared) {
    let live = shared.live.load_full();
    let mut wanted: HashMap<(String, String), Check> = HashMap::new();
    // The services with a check first (few of thousands), then their runtime state.
    for (name, def) in live.table.health_checked() {
        let Some(check) = &def.health else {
            continue;
        };
        let Some(svc) = live.services.get(name) else {
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
                host: default_host(&b.def.url, check.port),
                target: target.clone(),
                check: check.clone(),
                state: b.state.clone(),
                // gRPC checks speak HTTP/2 without TLS, as Traefik's (insecure credentials).
                h2c: tls.is_none()
                    && (check.grpc
                        || check.scheme.as_deref() == Some("h2c")
                        || (b.def.url.starts_with("h2c://") && check.scheme.is_none())),
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
                        let host = c.host.as_deref();
                        probe(&client, c.tls.as_deref(), h2c, addr, host, &c.check).await
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

/// The gRPC Health Checking Protocol: `grpc.health.v1.Health/Check` with an empty request
/// (the whole server, as Traefik asks); healthy when the answer's status is `SERVING`.
async fn grpc_probe(pool: &crate::h2c::Pool, addr: SocketAddr, check: &HealthCheck) -> bool {
    let exchange = async {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri("/grpc.health.v1.Health/Check")
            .header(header::CONTENT_TYPE, "application/grpc")
            .header(header::TE, "trailers")
            // One message, not compressed, of length 0.
            .body(crate::proxy::full(bytes::Bytes::from_static(&[
                0, 0, 0, 0, 0,
            ])))
            .ok()?;
        if let Some(v) = check
            .hostname
            .as_deref()
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            req.headers_mut().insert(header::HOST, v);
        }
        let resp = pool.send(addr, check.timeout, req).await.ok()?;
        if resp.status() != hyper::StatusCode::OK {
            return Some(false);
        }
        let head_status = resp.headers().get("grpc-status").cloned();
        let collected = resp.into_body().collect().await.ok()?;
        let status = collected
            .trailers()
            .and_then(|t| t.get("grpc-status").cloned())
            .or(head_status);
        if status.as_ref().map(HeaderValue::as_bytes) != Some(b"0") {
            return Some(false);
        }
        Some(grpc_serving(&collected.to_bytes()))
    };
    matches!(
        tokio::time::timeout(check.timeout, exchange).await,
        Ok(Some(true))
    )
}

/// Whether a gRPC `HealthCheckResponse` message (5-byte frame header, then protobuf) says
/// `SERVING` (field 1, varint 1).
fn grpc_serving(frame: &[u8]) -> bool {
    let Some(msg) = frame.get(5..) else {
        return false;
    };
    if frame[0] != 0 {
        return false; // compressed: never asked for
    }
    let mut i = 0;
    while i < msg.len() {
        let tag = msg[i];
        i += 1;
        match (tag >> 3, tag & 7) {
            (1, 0) => return msg.get(i) == Some(&1),
            (_, 0) => {
                while msg.get(i).is_some_and(|b| b & 0x80 != 0) {
                    i += 1;
                }
                i += 1;
            }
            (_, 2) => {
                let len = usize::from(*msg.get(i).unwrap_or(&0));
                i += 1 + len;
            }
            _ => return false,
        }
    }
    false // no status field: UNKNOWN
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
    host: Option<&str>,
    check: &HealthCheck,
) -> bool {
    let addr = SocketAddr::new(addr.ip(), check.port.unwrap_or(addr.port()));
    if check.grpc {
        return match (tls, h2c) {
            (None, Some(pool)) => grpc_probe(pool, addr, check).await,
            _ => {
                tracing::warn!(backend = %addr, "gRPC health checks over TLS are not supported: the server counts as unhealthy");
                false
            }
        };
    }
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
                .or(host)
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

/// The `Host` a check sends without `hostname`, as Traefik's (Go's request `Host` from the
/// server URL): the URL's host and port as written (`backend1:80`, or `backend1` without a
/// port), the port replaced by the check's `port`. Not the resolved address the connection
/// goes to, which a server that routes by name would not know.
fn default_host(url: &str, port: Option<u16>) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    if authority.is_empty() {
        return None;
    }
    let Some(port) = port else {
        return Some(authority.to_owned());
    };
    let host = match authority.find(']') {
        Some(i) if authority.starts_with('[') => &authority[..=i],
        _ => authority.split(':').next().unwrap_or(authority),
    };
    Some(format!("{host}:{port}"))
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

    #[test]
    fn grpc_health_answers() {
        assert!(super::grpc_serving(&[0, 0, 0, 0, 2, 0x08, 0x01]));
        assert!(!super::grpc_serving(&[0, 0, 0, 0, 2, 0x08, 0x02]));
        assert!(!super::grpc_serving(&[0, 0, 0, 0, 0]), "no status: UNKNOWN");
        assert!(
            !super::grpc_serving(&[1, 0, 0, 0, 2, 0x08, 0x01]),
            "compressed"
        );
        assert!(!super::grpc_serving(&[0, 0]));
        // An unknown field before the status is skipped.
        assert!(super::grpc_serving(&[
            0, 0, 0, 0, 4, 0x10, 0x05, 0x08, 0x01
        ]));
    }

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

/// Traefik's `pkg/healthcheck/healthcheck_test.go`, `TestServiceHealthChecker_newRequest`:
/// the `Host` a check sends. (The URL requested is the resolved address with the check's
/// path, scheme and port: only reachable end to end; the path cases are in
/// `dynamic::health`'s tables.)
#[cfg(test)]
// The tables are tuples of plain data.
#[allow(clippy::type_complexity)]
mod traefik_tables {
    use super::default_host;

    #[test]
    fn new_request_host() {
        // (Traefik case, server URL, port, hostname, Host sent).
        let table: &[(&str, &str, Option<u16>, Option<&str>, &str)] = &[
            (
                "no port override",
                "http://backend1:80",
                None,
                None,
                "backend1:80",
            ),
            (
                "port override",
                "http://backend2:80",
                Some(8080),
                None,
                "backend2:8080",
            ),
            (
                "no port override with no port in server URL",
                "http://backend1",
                None,
                None,
                "backend1",
            ),
            (
                "port override with no port in server URL",
                "http://backend2",
                Some(8080),
                None,
                "backend2:8080",
            ),
            (
                "scheme override",
                "https://backend1:80",
                None,
                None,
                "backend1:80",
            ),
            (
                "path with param",
                "http://backend1:80",
                None,
                None,
                "backend1:80",
            ),
            (
                "override hostname",
                "http://backend1:80",
                None,
                Some("myhost"),
                "myhost",
            ),
            (
                "not override hostname",
                "http://backend1:80",
                None,
                None,
                "backend1:80",
            ),
            (
                "custom header with hostname override",
                "http://backend1:80",
                None,
                Some("myhost"),
                "myhost",
            ),
            // Not in Traefik's table: an IPv6 server keeps its brackets (Go's JoinHostPort).
            (
                "ipv6 port override",
                "http://[::1]:80",
                Some(8080),
                None,
                "[::1]:8080",
            ),
            (
                "server URL with a path",
                "http://backend1:80/api",
                None,
                None,
                "backend1:80",
            ),
        ];
        for (case, url, port, hostname, want) in table {
            let host = default_host(url, *port);
            // As `probe` chooses: `hostname` first.
            let sent = hostname.map(str::to_owned).or(host);
            assert_eq!(sent.as_deref(), Some(*want), "{case}");
        }
    }
}
