//! `errors`: the middleware notes its pages ([`Effects::error_pages`]); whoever meets a status
//! afterwards (a later middleware, the router's own 502/503/504, the backend's answer) asks
//! [`page`] for the page that replaces it. The outermost `errors` that catches the status
//! wins, as it is the last to see the answer in Traefik.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Request as HttpRequest, StatusCode, Uri};

use super::{Effects, Flow, Request};
use crate::dynamic::ErrorPages;
use crate::live::Live;
use crate::proxy::{full, Answer, Inbound, ProxyError};
use crate::server::Shared;

/// The largest error page read.
const MAX_PAGE: usize = 4 << 20;

/// An `errors` middleware met on the way: its pages, and what it saw of the request. A page
/// it serves is written through the middlewares before it only (in Traefik, those after it
/// wrapped the writer of the answer it replaces), so it gets their answer headers alone.
#[derive(Debug, Clone)]
pub struct Met {
    pub pages: ErrorPages,
    /// The request's target (path and query) as the middlewares before it left it: `{url}`.
    target: String,
    /// How many of [`Effects::response_headers`] were there (the last ones, as a later
    /// middleware's go first) and whether `Vary: Origin` was asked for.
    headers_before: usize,
    vary_before: bool,
}

/// Notes the pages.
pub fn apply(pages: &ErrorPages, r: &mut Request<'_, '_>) -> Result<Flow, ProxyError> {
    let target = match r.inbound.query {
        Some(q) => format!("{}?{q}", r.path()),
        None => r.path().to_owned(),
    };
    r.fx.error_pages.push(Met {
        pages: pages.clone(),
        target,
        headers_before: r.fx.response_headers.len(),
        vary_before: r.fx.vary_origin,
    });
    Ok(Flow::Next)
}

impl Effects {
    /// The `errors` middleware that catches `status`, if any.
    pub fn catching(&self, status: u16) -> Option<&Met> {
        self.error_pages.iter().find(|p| p.pages.catches(status))
    }
}

/// The page request's headers, as Traefik's: the original request's (all of them, or only
/// those `errorRequestHeaders` names), without what concerns the connection or a body (the
/// page request has none), and its host.
fn page_headers(pages: &ErrorPages, headers: &HeaderMap, host: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    match &pages.error_request_headers {
        None => h.clone_from(headers),
        Some(names) => {
            for n in names {
                for v in headers.get_all(n.as_str()) {
                    if let Ok(k) = header::HeaderName::from_bytes(n.as_bytes()) {
                        h.append(k, v.clone());
                    }
                }
            }
        }
    }
    crate::proxy::strip_hop_by_hop(&mut h);
    h.remove(header::CONTENT_LENGTH);
    h.remove(header::EXPECT);
    if let Ok(v) = HeaderValue::from_str(host) {
        h.insert(header::HOST, v);
    }
    h
}

/// The page that replaces an answer of `status`, fetched from the pages' service: the page's
/// headers and body with the original status (or its rewrite). `None` when the service gives
/// none (no server, a failure): the answer stays as it was.
pub async fn page(
    shared: &Shared,
    live: &Live,
    fx: &Effects,
    met: &Met,
    inbound: &Inbound<'_>,
    headers: &HeaderMap,
    status: u16,
) -> Option<Answer> {
    let pages = &met.pages;
    let code = pages.rewritten(status);
    let host = inbound.host_header(headers);
    let url = format!("{}://{host}{}", inbound.scheme, met.target);
    let path = pages.path(code, status, &url);
    let svc = live.services.get(&pages.service)?;
    let def = live.table.services.get(&pages.service)?;
    let backend = shared
        .registry
        .pick(svc, shared.config.balancer, None, inbound.client_ip())?;
    let target = backend.def.target.as_ref()?;
    let addr = crate::upstream::resolve(target, shared.config.connect_timeout)
        .await
        .ok()?;
    let tls = if backend.def.url.starts_with("https://") {
        Some(
            shared
                .backend_tls
                .get(&def.transport, &backend.def.url)
                .ok()?,
        )
    } else {
        None
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let uri: Uri = format!("{scheme}://{addr}{path}").parse().ok()?;
    let mut ask = HttpRequest::get(uri).body(full(Bytes::new())).ok()?;
    *ask.headers_mut() = page_headers(pages, headers, &host);
    let exchange = async {
        let resp = match &tls {
            Some(t) => t.client().request(ask).await,
            None => shared.client.request(ask).await,
        }
        .ok()?;
        let (parts, body) = resp.into_parts();
        let body = Limited::new(body, MAX_PAGE)
            .collect()
            .await
            .ok()?
            .to_bytes();
        Some((parts, body))
    };
    let timeout = shared.config.response_timeout.min(Duration::from_secs(30));
    let (parts, body) = tokio::time::timeout(timeout, exchange)
        .await
        .ok()
        .flatten()?;
    let mut headers = parts.headers;
    crate::proxy::strip_hop_by_hop(&mut headers);
    headers.remove(header::CONTENT_LENGTH);
    let from = fx.response_headers.len().saturating_sub(met.headers_before);
    let before = fx.response_headers.get(from..).unwrap_or_default();
    crate::proxy::set_answer_headers(before, met.vary_before, &mut headers);
    Some(Answer {
        status: StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        headers,
        body,
    })
}

/// pkg/middlewares/customerrors/custom_errors_test.go, TestHandler: the headers of the
/// original request that reach the error page's service.
#[cfg(test)]
mod traefik_tables {
    use super::*;

    fn pages(error_request_headers: Option<&[&str]>) -> ErrorPages {
        ErrorPages {
            status: vec![(503, 503)],
            status_rewrites: vec![],
            service: "error".into(),
            query: "/test".into(),
            error_request_headers: error_request_headers
                .map(|l| l.iter().map(|s| (*s).to_owned()).collect()),
        }
    }

    #[test]
    fn request_headers() {
        let mut req = HeaderMap::new();
        req.insert("x-request-id", HeaderValue::from_static("trace-abc"));
        req.insert("authorization", HeaderValue::from_static("Bearer secret"));
        req.insert("host", HeaderValue::from_static("localhost"));
        for (desc, names, id, auth) in [
            ("forward all headers by default", None, true, true),
            (
                "forward only allowlisted headers",
                Some(&["X-Request-Id"][..]),
                true,
                false,
            ),
            ("forward no headers", Some(&[][..]), false, false),
        ] {
            let h = page_headers(&pages(names), &req, "localhost");
            assert_eq!(
                (
                    h.get("x-request-id").is_some(),
                    h.get("authorization").is_some()
                ),
                (id, auth),
                "{desc}"
            );
            // "forward request host header": the page is asked with the request's host.
            assert_eq!(h.get(header::HOST).unwrap(), "localhost", "{desc}");
        }
    }
}
