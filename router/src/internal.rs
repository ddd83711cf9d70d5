//! The internal provider's services answered by the router itself: `api@internal` (Traefik's
//! API, [`crate::api`]), `dashboard@internal` (an overview page), `ping@internal`,
//! `prometheus@internal` (the metrics) and `noop@internal`. They are reached through routers,
//! behind their middlewares, like any service (`basicauth` in front of `api@internal`).

use std::sync::atomic::Ordering;

use bytes::Bytes;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, StatusCode};

use crate::dynamic::InternalService;
use crate::live::Live;
use crate::model::table::RouteTable;
use crate::proxy::{plain, Answer, Inbound};
use crate::server::Shared;

/// The answer of internal service `kind` to a request.
pub fn answer(shared: &Shared, kind: InternalService, req: &Inbound<'_>, live: &Live) -> Answer {
    let read = *req.method == Method::GET || *req.method == Method::HEAD;
    match kind {
        InternalService::Noop => Answer {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: Bytes::new(),
        },
        _ if !read => plain(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed"),
        InternalService::Ping => {
            let stopping = shared.stopping.load(Ordering::Relaxed);
            match (&shared.config.ping, stopping) {
                (Some(p), true) => plain(
                    StatusCode::from_u16(p.terminating_status)
                        .unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
                    "Service Unavailable",
                ),
                _ => raw(
                    StatusCode::OK,
                    "text/plain; charset=utf-8",
                    Bytes::from_static(b"OK"),
                ),
            }
        }
        InternalService::Prometheus => raw(
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Bytes::from(shared.metrics.render()),
        ),
        InternalService::Api
            if req.path.starts_with("/dashboard")
                && shared.config.api.as_ref().is_some_and(|a| a.dashboard) =>
        {
            // As in Traefik, `api@internal` serves the dashboard too.
            dashboard_page(&live.table)
        }
        InternalService::Api => {
            let a = crate::api::answer(req.path, req.query, &live.table, &shared.config);
            let mut out = raw(
                a.status,
                "application/json",
                Bytes::from(serde_json::to_vec(&a.body).unwrap_or_default()),
            );
            if let Some(n) = a.next_page {
                out.headers.insert("x-next-page", HeaderValue::from(n));
            }
            out
        }
        InternalService::Dashboard => dashboard_page(&live.table),
    }
}

fn dashboard_page(t: &RouteTable) -> Answer {
    raw(
        StatusCode::OK,
        "text/html; charset=utf-8",
        Bytes::from(dashboard(t)),
    )
}

fn raw(status: StatusCode, content_type: &'static str, body: Bytes) -> Answer {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    Answer {
        status,
        headers,
        body,
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A plain overview page: every router with its status, rule and service, every service
/// with its servers, every issue. Self-contained (no script, no external resource).
fn dashboard(t: &RouteTable) -> String {
    let mut out = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>router</title><style>body{font-family:system-ui,sans-serif;margin:1em}table{border-collapse:collapse}td,th{border:1px solid #888;padding:.2em .5em;text-align:left;vertical-align:top}.disabled{color:#b00}.warning{color:#a60}@media(prefers-color-scheme:dark){body{background:#111;color:#ddd}}</style></head><body><h1>Routers</h1><table><tr><th>Name</th><th>Status</th><th>Rule</th><th>Entry points</th><th>Service</th><th>Errors</th></tr>",
    );
    for (name, i) in &t.api.routers {
        let (rule, service) = i.def.as_ref().map_or((String::new(), String::new()), |r| {
            (r.rule.clone(), r.service.clone())
        });
        out.push_str(&format!(
            "<tr class=\"{s}\"><td>{}</td><td>{s}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(name),
            esc(&rule),
            esc(&i.using.join(", ")),
            esc(&service),
            esc(&i.errors.join("; ")),
            s = i.status,
        ));
    }
    out.push_str(
        "</table><h1>Services</h1><table><tr><th>Name</th><th>Servers</th><th>Used by</th></tr>",
    );
    for (name, i) in &t.api.services {
        let servers: Vec<String> = t.services.get(name).map_or_else(Vec::new, |s| {
            s.backends
                .iter()
                .map(|b| {
                    format!(
                        "{} ({})",
                        if b.url.is_empty() { "-" } else { &b.url },
                        b.status
                    )
                })
                .collect()
        });
        out.push_str(&format!(
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td></tr>",
            i.status,
            esc(name),
            esc(&servers.join(", ")),
            esc(&i.using.join(", "))
        ));
    }
    out.push_str("</table><h1>Issues</h1><table><tr><th>Source</th><th>Level</th><th>Key</th><th>Message</th></tr>");
    for i in &t.issues {
        out.push_str(&format!(
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if i.level == "error" {
                "disabled"
            } else {
                "warning"
            },
            esc(&i.source),
            i.level,
            esc(i.key.as_deref().unwrap_or("")),
            esc(&i.message)
        ));
    }
    out.push_str("</table></body></html>\n");
    out
}
