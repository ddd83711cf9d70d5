//! The internal provider's services answered by the router itself: `api@internal` (Traefik's
//! API, [`crate::api`]), `dashboard@internal` (the dashboard, [`crate::dashboard`]), `ping@internal`,
//! `prometheus@internal` (the metrics) and `noop@internal`. They are reached through routers,
//! behind their middlewares, like any service (`basicauth` in front of `api@internal`).

use std::sync::atomic::Ordering;

use bytes::Bytes;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, StatusCode};

use crate::dynamic::InternalService;
use crate::live::Live;
use crate::proxy::{plain, Answer, Inbound};
use crate::server::Shared;

/// The answer of internal service `kind` to a request.
pub fn answer(
    shared: &Shared,
    kind: InternalService,
    req: &Inbound<'_>,
    accept: Option<&str>,
    live: &Live,
) -> Answer {
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
        InternalService::Prometheus => {
            let (body, kind) = exposition::negotiate(shared.metrics.render(), accept);
            raw(StatusCode::OK, kind, Bytes::from(body))
        }
        InternalService::Api
            if req.path.starts_with("/dashboard")
                && shared.config.api.as_ref().is_some_and(|a| a.dashboard) =>
        {
            // As in Traefik, `api@internal` serves the dashboard too.
            crate::dashboard::answer(req.path).unwrap_or_else(not_found)
        }
        InternalService::Api => api(shared, req.path, req.query, live),
        InternalService::Dashboard => crate::dashboard::answer(req.path).unwrap_or_else(not_found),
    }
}

/// Traefik's API and this router's additions (`/api/x/`), for `api@internal` and the admin
/// listener.
pub fn api(shared: &Shared, path: &str, query: Option<&str>, live: &Live) -> Answer {
    let a = crate::api_extra::answer(path, query, shared, live)
        .unwrap_or_else(|| crate::api::answer(path, query, &live.table, &shared.config));
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

/// The 404 of paths no internal service has.
pub fn not_found() -> Answer {
    plain(StatusCode::NOT_FOUND, "404 page not found")
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
