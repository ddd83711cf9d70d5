//! This router's additions to Traefik's API, under `/api/x/` (a prefix Traefik does not use,
//! so no Traefik client meets them): what the dashboard shows beyond Traefik's shapes.
//!
//! - `/api/x/generation`: the table's generation alone (polled often by the dashboard).
//! - `/api/x/state`: the table's generation (its reload count: the dashboard refetches when it
//!   moves), every issue found in labels and files, where each router is defined, each
//!   backend's health and recent error rate, and the certificates held with their expiry.
//! - `/api/x/match?url=U[&method=M][&entryPoint=E][&header=Name:%20value...][&clientIP=A]`:
//!   which router the table in service gives that request on each entry point, the way a real
//!   request is looked up.

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime};

use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::StatusCode;
use serde_json::{json, Value};

use crate::api::ApiAnswer;
use crate::live::{Live, LiveBackend};
use crate::model::rule::RequestView;
use crate::server::Shared;

/// Answers `GET path?query` under `/api/x/`; `None` for another path.
pub fn answer(path: &str, query: Option<&str>, shared: &Shared, live: &Live) -> Option<ApiAnswer> {
    match path {
        "/api/x/generation" => Some(ApiAnswer::ok(
            json!({ "generation": shared.metrics.reloads.get() }),
        )),
        "/api/x/state" => Some(ApiAnswer::ok(state(shared, live))),
        "/api/x/match" => Some(match_request(query, shared, live)),
        p if p.starts_with("/api/x/") => Some(ApiAnswer::error(
            StatusCode::NOT_FOUND,
            format!("no such path: {p} (/api/x/generation, /api/x/state, /api/x/match)"),
        )),
        _ => None,
    }
}

fn state(shared: &Shared, live: &Live) -> Value {
    let t = &live.table;
    let issues: Vec<Value> = t
        .issues
        .iter()
        .map(
            |i| json!({ "source": i.source, "level": i.level, "key": i.key, "message": i.message }),
        )
        .collect();
    let sources: serde_json::Map<String, Value> = t
        .routes
        .iter()
        .map(|r| (r.name.clone(), json!(r.sources)))
        .collect();
    let now = Instant::now();
    let mut backends = Vec::new();
    let mut services: Vec<_> = live.services.iter().collect();
    services.sort_by(|a, b| a.0.cmp(b.0));
    for (name, svc) in services {
        for b in &svc.backends {
            backends.push(backend(shared, name, b, now));
        }
    }
    let certificates: Vec<Value> = shared
        .resolver()
        .map(|r| r.summary())
        .unwrap_or_default()
        .into_iter()
        .map(|c| {
            let secs = c
                .not_after
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let left = c
                .not_after
                .duration_since(SystemTime::now())
                .map_or(0, |d| d.as_secs());
            json!({ "store": c.store, "names": c.names, "notAfter": secs, "secondsLeft": left })
        })
        .collect();
    json!({
        "generation": shared.metrics.reloads.get(),
        "synced": shared.synced.load(Ordering::Relaxed),
        "issues": issues,
        "sources": sources,
        "backends": backends,
        "certificates": certificates,
    })
}

fn backend(shared: &Shared, service: &str, b: &LiveBackend, now: Instant) -> Value {
    let health = if !b.def.status.is_ready() || b.def.target.is_none() {
        b.def.status.to_string()
    } else if b.state.check_failed.load(Ordering::Relaxed) {
        "failing its health check".to_owned()
    } else if shared.registry.is_cooling_down(b) {
        "refusing connections".to_owned()
    } else {
        "up".to_owned()
    };
    let (requests, errors, seconds) = b.state.recent(now);
    json!({
        "service": service,
        "url": b.def.url,
        "container": b.def.container(),
        "weight": b.def.weight,
        "health": health,
        "usable": shared.registry.usable(b),
        "inFlight": b.state.inflight.load(Ordering::Relaxed),
        "requests": b.state.requests.load(Ordering::Relaxed),
        "errors": b.state.errors.load(Ordering::Relaxed),
        "recent": { "requests": requests, "errors": errors, "seconds": seconds },
    })
}

/// The request `/api/x/match` is asked about.
struct Asked {
    url: hyper::Uri,
    method: String,
    entry_point: Option<String>,
    headers: HeaderMap,
    client_ip: IpAddr,
}

fn parse_asked(query: Option<&str>) -> Result<Asked, String> {
    let mut url = None;
    let mut asked = Asked {
        url: hyper::Uri::from_static("/"),
        method: "GET".into(),
        entry_point: None,
        headers: HeaderMap::new(),
        client_ip: IpAddr::from([127, 0, 0, 1]),
    };
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = crate::model::rule::matcher::query_unescape(v)
            .ok_or_else(|| format!("{k}: bad percent-encoding: {v}"))?;
        match k {
            "url" => url = Some(v),
            "method" => asked.method = v.to_ascii_uppercase(),
            "entryPoint" if !v.is_empty() => asked.entry_point = Some(v),
            "entryPoint" => {}
            "clientIP" => {
                asked.client_ip = v
                    .parse()
                    .map_err(|_| format!("clientIP: not an address: {v}"))?
            }
            "header" => {
                let (n, val) = v
                    .split_once(':')
                    .ok_or_else(|| format!("header: expected `Name: value`, got {v}"))?;
                let n = HeaderName::from_bytes(n.trim().as_bytes())
                    .map_err(|_| format!("header: not a header name: {n}"))?;
                let val = HeaderValue::from_str(val.trim())
                    .map_err(|_| format!("header: not a header value: {val}"))?;
                asked.headers.append(n, val);
            }
            other => return Err(format!("unknown parameter {other}")),
        }
    }
    let url = url.ok_or("url: missing (an absolute URL, such as https://app.example/path)")?;
    asked.url = url
        .parse()
        .map_err(|e| format!("url: {e}: {url}"))
        .and_then(|u: hyper::Uri| match (u.scheme_str(), u.host()) {
            (Some("http" | "https"), Some(_)) => Ok(u),
            _ => Err(format!(
                "url: expected http:// or https:// with a host: {url}"
            )),
        })?;
    Ok(asked)
}

fn match_request(query: Option<&str>, shared: &Shared, live: &Live) -> ApiAnswer {
    let asked = match parse_asked(query) {
        Ok(a) => a,
        Err(e) => return ApiAnswer::error(StatusCode::BAD_REQUEST, e),
    };
    let tls = asked.url.scheme_str() == Some("https");
    let authority = asked.url.authority().map_or("", |a| a.as_str());
    let host = crate::proxy::request_host(authority);
    let mut headers = asked.headers.clone();
    if let Ok(h) = HeaderValue::from_str(authority) {
        headers.insert(hyper::header::HOST, h);
    }
    let raw_path = asked.url.path();
    let path = crate::model::rule::routing_path(raw_path).unwrap_or(raw_path.into());
    let view = RequestView {
        host: &host,
        path: &path,
        query: asked.url.query(),
        method: &asked.method,
        headers: &headers,
        client_ip: asked.client_ip,
    };
    let t = &live.table;
    let entry_points: Vec<&str> = shared
        .config
        .entry_points
        .iter()
        .map(|e| e.name.as_str())
        .filter(|n| asked.entry_point.as_deref().is_none_or(|e| e == *n))
        .collect();
    if entry_points.is_empty() {
        return ApiAnswer::error(
            StatusCode::BAD_REQUEST,
            format!(
                "entryPoint: no such entry point: {}",
                asked.entry_point.unwrap_or_default()
            ),
        );
    }
    let matches: Vec<Value> = entry_points
        .into_iter()
        .map(|ep| match t.lookup(ep, tls, &view) {
            Some(r) => {
                let rule = t
                    .api()
                    .routers
                    .get(&r.name)
                    .and_then(|i| i.def.as_ref())
                    .map(|d| d.rule.clone());
                json!({
                    "entryPoint": ep,
                    "router": r.name,
                    "rule": rule,
                    "priority": r.priority,
                    "service": r.service,
                    "middlewares": r.middlewares.iter().map(|m| &m.0).collect::<Vec<_>>(),
                    "sources": r.sources,
                })
            }
            None => json!({ "entryPoint": ep, "router": null }),
        })
        .collect();
    ApiAnswer::ok(json!({
        "url": asked.url.to_string(),
        "method": asked.method,
        "tls": tls,
        "matches": matches,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_asked_request_is_read_whole_or_refused_naming_the_parameter() {
        let a = parse_asked(Some(
            "url=https%3A%2F%2FApp.Example%3A8443%2Fa%3Fb%3D1&method=post&header=X-A%3A%201&clientIP=10.0.0.1",
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.url.host(), Some("App.Example"));
        assert_eq!(a.url.query(), Some("b=1"));
        assert_eq!(a.method, "POST");
        assert_eq!(a.headers["x-a"], "1");
        assert_eq!(a.client_ip, IpAddr::from([10, 0, 0, 1]));
        for (q, want) in [
            ("", "url: missing"),
            ("url=/relative", "url: expected"),
            ("url=ftp%3A%2F%2Fx", "url: expected"),
            ("url=http%3A%2F%2Fx&clientIP=nope", "clientIP"),
            ("url=http%3A%2F%2Fx&header=nocolon", "header"),
            ("url=http%3A%2F%2Fx&size=1", "unknown parameter size"),
        ] {
            let e = parse_asked(Some(q)).err().unwrap_or_default();
            assert!(e.starts_with(want), "{q}: {e}");
        }
    }
}
