//! One request through the router, in named phases: route, middlewares, pick a backend,
//! rewrite, forward (retrying a refused connection on another backend when that is safe),
//! answer (bridging an upgrade), log.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Empty, Full};
use hyper::body::{Body as _, Incoming};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::rt::TokioIo;

use crate::live::{InFlight, Live};
use crate::model::labels::MiddlewareDef;
use crate::model::rule::RequestView;
use crate::server::Shared;
use crate::upstream::{ConnUpstream, SendError};

/// Bodies in both directions: streamed, never buffered whole.
pub type ProxyBody = BoxBody<Bytes, BoxError>;

/// The error type of [`ProxyBody`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a request was answered by the router itself.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// No route matches.
    #[error("404 page not found")]
    NotFound,
    /// The route's service has no backend that can take the request.
    #[error("no available server")]
    NoBackend,
    /// `ipallowlist` refused the client.
    #[error("Forbidden")]
    Forbidden,
    /// `basicauth` wants credentials.
    #[error("401 Unauthorized")]
    Unauthorized,
    /// `ratelimit` refused the request.
    #[error("Too Many Requests")]
    RateLimited,
    /// The backend failed.
    #[error("Bad Gateway")]
    BadGateway(String),
    /// The backend did not answer in time.
    #[error("Gateway Timeout")]
    GatewayTimeout,
    /// The request cannot be forwarded.
    #[error("Bad Request")]
    BadRequest(String),
}

impl ProxyError {
    /// The status each error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            ProxyError::NotFound => StatusCode::NOT_FOUND,
            ProxyError::NoBackend => StatusCode::SERVICE_UNAVAILABLE,
            ProxyError::Forbidden => StatusCode::FORBIDDEN,
            ProxyError::Unauthorized => StatusCode::UNAUTHORIZED,
            ProxyError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ProxyError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            ProxyError::GatewayTimeout => StatusCode::GATEWAY_TIMEOUT,
            ProxyError::BadRequest(_) => StatusCode::BAD_REQUEST,
        }
    }
}

/// A short plain-text response.
pub fn plain(status: StatusCode, text: &str) -> Response<ProxyBody> {
    let mut r = Response::new(full(Bytes::from(format!("{text}\n"))));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// A complete body.
pub fn full(b: Bytes) -> ProxyBody {
    Full::new(b).map_err(|never| match never {}).boxed()
}

fn empty() -> ProxyBody {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// What the access log line needs.
#[derive(Debug, Default)]
struct Log {
    router: String,
    service: String,
    backend: String,
}

/// Hop-by-hop headers (RFC 9110 7.6.1).
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
];

/// Handles one request on an entry point.
///
/// `upstream`: the backend connections kept by an HTTP/1.1 client connection (see
/// [`crate::upstream`]); `None` uses the shared pool (HTTP/2 clients).
pub async fn handle(
    shared: Arc<Shared>,
    upstream: Option<Arc<ConnUpstream>>,
    entrypoint: &'static str,
    scheme: &'static str,
    local_port: u16,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Response<ProxyBody> {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let host = request_host(&req);
    let mut log = Log::default();
    let resp = match route_and_forward(
        &shared,
        upstream.as_deref(),
        entrypoint,
        scheme,
        local_port,
        peer,
        &host,
        req,
        &mut log,
    )
    .await
    {
        Ok(r) => r,
        Err(e) => {
            let mut r = plain(e.status(), &e.to_string());
            if matches!(e, ProxyError::Unauthorized) {
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"traefik\""),
                );
            }
            if let ProxyError::BadGateway(why) | ProxyError::BadRequest(why) = &e {
                tracing::warn!(router = %log.router, backend = %log.backend, error = %why, "request failed");
            }
            r
        }
    };
    let status = resp.status().as_u16();
    shared.metrics.observe(&log.router, status, start.elapsed());
    if shared.config.access_log {
        tracing::info!(
            target: "access",
            client = %peer.ip(),
            method = %method,
            host = %host,
            path = %path,
            status,
            router = %log.router,
            service = %log.service,
            backend = %log.backend,
            entrypoint,
            duration_ms = (start.elapsed().as_secs_f64() * 1e6).round() / 1e3,
        );
    }
    resp
}

/// The request's host: the `Host` header (or the URI authority), lowercase, without port.
fn request_host(req: &Request<Incoming>) -> String {
    let raw = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_owned()))
        .unwrap_or_default();
    let host = if raw.starts_with('[') {
        raw.split_once(']')
            .map_or(raw.as_str(), |(h, _)| h)
            .trim_start_matches('[')
            .to_owned()
    } else {
        raw.rsplit_once(':')
            .map_or(raw.as_str(), |(h, _)| h)
            .to_owned()
    };
    host.to_ascii_lowercase()
}

#[allow(clippy::too_many_arguments)]
async fn route_and_forward(
    shared: &Arc<Shared>,
    upstream: Option<&ConnUpstream>,
    entrypoint: &'static str,
    scheme: &'static str,
    local_port: u16,
    peer: SocketAddr,
    host: &str,
    mut req: Request<Incoming>,
    log: &mut Log,
) -> Result<Response<ProxyBody>, ProxyError> {
    let live: Arc<Live> = shared.live.load_full();
    let client_ip = match peer.ip() {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(peer.ip(), IpAddr::V4),
        v4 => v4,
    };

    // Phase 0: ACME HTTP-01 challenges are answered on plain HTTP whatever else is set;
    // with websecure serving, everything else on plain HTTP goes to HTTPS.
    if scheme == "http" {
        if let Some(token) = req
            .uri()
            .path()
            .strip_prefix("/.well-known/acme-challenge/")
        {
            if let Some(key_auth) = shared.acme_challenge(token) {
                log.router = "acme-http-01".into();
                // Exactly the key authorization: RFC 8555 8.3 compares the body byte for byte.
                let mut r = Response::new(full(Bytes::from(key_auth)));
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/octet-stream"),
                );
                return Ok(r);
            }
        }
        if shared.config.redirect_to_https
            && shared
                .websecure_active
                .load(std::sync::atomic::Ordering::Relaxed)
        {
            log.router = "redirect-to-https".into();
            return Ok(redirect(
                "https",
                host,
                Some(shared.config.redirect_port),
                req.uri(),
                true,
            ));
        }
    }

    // Phase 1: route.
    let route = {
        let view = RequestView {
            host,
            path: req.uri().path(),
            query: req.uri().query(),
            method: req.method().as_str(),
            headers: req.headers(),
            client_ip,
        };
        live.table
            .lookup(entrypoint, &view)
            .ok_or(ProxyError::NotFound)?
    };
    log.router = route.name.clone();
    log.service = route.service.clone();

    // Phase 2: middlewares, in order.
    let mut response_headers: Vec<(String, String)> = Vec::new();
    let mut sts: Option<String> = None;
    let mut compress_route = false;
    let mut path = req.uri().path().to_owned();
    let mut forwarded_prefix = None;
    for (name, mw) in &route.middlewares {
        match mw {
            MiddlewareDef::IpAllowList(nets) => {
                if !nets.iter().any(|n| n.contains(&client_ip)) {
                    return Err(ProxyError::Forbidden);
                }
            }
            MiddlewareDef::BasicAuth(users) => {
                if !basic_auth_ok(req.headers(), users) {
                    return Err(ProxyError::Unauthorized);
                }
            }
            MiddlewareDef::RateLimit { average, burst } => {
                if !shared
                    .registry
                    .rate_limit(name, client_ip, *average, *burst)
                {
                    return Err(ProxyError::RateLimited);
                }
            }
            MiddlewareDef::RedirectScheme {
                scheme: to,
                permanent,
                port,
            } => {
                if to != scheme {
                    return Ok(redirect(to, host, *port, req.uri(), *permanent));
                }
            }
            MiddlewareDef::StripPrefix(prefixes) => {
                if let Some(p) = prefixes.iter().find(|p| path.starts_with(p.as_str())) {
                    let rest = &path[p.len()..];
                    forwarded_prefix = Some(p.clone());
                    path = if rest.starts_with('/') {
                        rest.to_owned()
                    } else {
                        format!("/{rest}")
                    };
                }
            }
            MiddlewareDef::AddPrefix(prefix) => {
                path = format!("{}{}", prefix.trim_end_matches('/'), path);
            }
            MiddlewareDef::Headers {
                request,
                response,
                sts: route_sts,
            } => {
                for (k, v) in request {
                    set_header(req.headers_mut(), k, v);
                }
                response_headers.extend(response.iter().cloned());
                if route_sts.is_some() {
                    sts.clone_from(route_sts);
                }
            }
            MiddlewareDef::Compress => compress_route = true,
        }
    }

    let method = req.method().clone();
    let compress = (compress_route || shared.config.compress)
        .then(|| crate::compress::negotiate(req.headers().get(header::ACCEPT_ENCODING)))
        .flatten();

    // Phase 3: pick a backend.
    let svc = live
        .services
        .get(&route.service)
        .ok_or(ProxyError::NoBackend)?;
    let retryable = req.body().is_end_stream() && !req.headers().contains_key(header::UPGRADE);
    let client_upgrade = req
        .headers()
        .contains_key(header::UPGRADE)
        .then(|| hyper::upgrade::on(&mut req));
    let (parts, body) = req.into_parts();
    let mut body = Some(body);
    let mut tried = None;

    // Phase 4 and 5: rewrite and forward; a refused connection is retried once elsewhere when
    // the request has no body (nothing reached the backend), and so is an idempotent request
    // whose connection the backend closed before answering (RFC 9110 9.2.2), on the same
    // backend when it is the only one.
    let mut resp = loop {
        let backend = shared
            .registry
            .pick(svc, shared.config.balancer, tried)
            .or_else(|| tried.and_then(|_| shared.registry.pick(svc, shared.config.balancer, None)))
            .ok_or(ProxyError::NoBackend)?;
        let addr = backend.def.addr.ok_or(ProxyError::NoBackend)?;
        log.backend = addr.to_string();
        let uri = match upstream {
            Some(_) => origin_uri(&path, &parts.uri)?,
            None => backend_uri(addr, &path, parts.uri.query())?,
        };
        let mut out = Request::new(match body.take() {
            Some(b) => b.map_err(Into::into).boxed(),
            None => empty(),
        });
        *out.method_mut() = parts.method.clone();
        *out.uri_mut() = uri;
        *out.headers_mut() = forward_headers(&parts.headers, client_upgrade.is_some());
        if !out.headers().contains_key(header::HOST) {
            let host = parts.uri.authority().map(|a| a.as_str().to_owned());
            if let Some(v) = host
                .or_else(|| upstream.map(|_| addr.to_string()))
                .and_then(|h| HeaderValue::from_str(&h).ok())
            {
                out.headers_mut().insert(header::HOST, v);
            }
        }
        add_forwarded(
            out.headers_mut(),
            &parts.headers,
            client_ip,
            scheme,
            host,
            local_port,
            forwarded_prefix.as_deref(),
        );
        let _inflight = InFlight::start(&backend.state);
        let sent = async {
            match upstream {
                Some(up) => up.send(addr, out, shared.config.connect_timeout).await,
                None => shared.client.request(out).await.map_err(classify),
            }
        };
        match tokio::time::timeout(shared.config.response_timeout, sent).await {
            Err(_) => return Err(ProxyError::GatewayTimeout),
            Ok(Ok(r)) => {
                shared.registry.mark_up(&backend.state);
                break r;
            }
            Ok(Err(SendError::Connect { detail, timed_out })) => {
                shared.registry.mark_down(&backend.state);
                if timed_out {
                    return Err(ProxyError::GatewayTimeout);
                }
                if retryable && tried.is_none() {
                    tried = Some(addr);
                    continue;
                }
                return Err(ProxyError::BadGateway(detail));
            }
            Ok(Err(SendError::Request(e))) => {
                let detail = describe(&*e);
                if retryable
                    && tried.is_none()
                    && parts.method.is_idempotent()
                    && closed_before_answer(&*e)
                {
                    tracing::debug!(backend = %addr, error = %detail, "closed before answering; retrying");
                    tried = Some(addr);
                    continue;
                }
                return Err(ProxyError::BadGateway(detail));
            }
        }
    };

    // Phase 6: answer.
    if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
        let Some(client_upgrade) = client_upgrade else {
            return Err(ProxyError::BadGateway(
                "the backend upgraded a request that did not ask to".into(),
            ));
        };
        let backend_upgrade = hyper::upgrade::on(&mut resp);
        let metrics = shared.metrics.clone();
        tokio::spawn(async move {
            metrics.open_tunnels.inc();
            if let Ok((c, b)) = tokio::try_join!(client_upgrade, backend_upgrade) {
                let (mut c, mut b) = (TokioIo::new(c), TokioIo::new(b));
                let _ = tokio::io::copy_bidirectional(&mut c, &mut b).await;
            }
            metrics.open_tunnels.dec();
        });
        let (parts, _) = resp.into_parts();
        return Ok(Response::from_parts(parts, empty()));
    }
    let (mut parts, body) = resp.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    if shared.config.security_headers {
        security_defaults(&mut parts.headers, scheme == "https");
    }
    for (k, v) in &response_headers {
        set_header(&mut parts.headers, k, v);
    }
    if scheme == "https" {
        if let Some(v) = sts.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
            parts.headers.insert(header::STRICT_TRANSPORT_SECURITY, v);
        }
    }
    let mut body: ProxyBody = body.map_err(Into::into).boxed();
    if let Some(enc) = compress.filter(|_| {
        method != hyper::Method::HEAD && crate::compress::compressible(parts.status, &parts.headers)
    }) {
        body = crate::compress::apply(&mut parts.headers, body, enc);
    }
    Ok(Response::from_parts(parts, body))
}

/// Hardening headers on every proxied answer (`ROUTER_SECURITY_HEADERS`): a backend's own
/// value wins, `Server` and `X-Powered-By` are removed, HSTS only over HTTPS. A route's
/// `headers.*` labels adjust them afterwards (an empty custom value removes one).
fn security_defaults(h: &mut HeaderMap, https: bool) {
    h.remove(header::SERVER);
    h.remove("x-powered-by");
    let defaults: [(HeaderName, &str); 3] = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "SAMEORIGIN"),
        (header::REFERRER_POLICY, "strict-origin-when-cross-origin"),
    ];
    for (k, v) in defaults {
        if !h.contains_key(&k) {
            h.insert(k, HeaderValue::from_static(v));
        }
    }
    if https && !h.contains_key(header::STRICT_TRANSPORT_SECURITY) {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
}

/// Whether the backend closed (or reset) the connection before any answer: the request may
/// be sent again when it is idempotent.
/// Sorts a shared-pool error into "not connected" and "failed after connecting".
fn classify(e: hyper_util::client::legacy::Error) -> SendError {
    if e.is_connect() {
        let detail = describe(&e);
        SendError::Connect {
            timed_out: detail.contains("timed out"),
            detail,
        }
    } else {
        SendError::Request(Box::new(e))
    }
}

fn closed_before_answer(e: &(dyn std::error::Error + 'static)) -> bool {
    if let Some(h) = e.downcast_ref::<hyper::Error>() {
        if h.is_incomplete_message() || h.is_canceled() {
            return true;
        }
    }
    let mut src = e.source();
    while let Some(s) = src {
        if let Some(h) = s.downcast_ref::<hyper::Error>() {
            if h.is_incomplete_message() || h.is_canceled() {
                return true;
            }
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
            ) {
                return true;
            }
        }
        src = s.source();
    }
    false
}

fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    out
}

/// The origin-form target for a kept connection: the client's own when the path is unchanged.
fn origin_uri(path: &str, original: &Uri) -> Result<Uri, ProxyError> {
    let mut parts = hyper::http::uri::Parts::default();
    parts.path_and_query = if path == original.path() {
        original.path_and_query().cloned()
    } else {
        let pq = match original.query() {
            Some(q) => format!("{path}?{q}"),
            None => path.to_owned(),
        };
        Some(
            pq.parse()
                .map_err(|e: hyper::http::uri::InvalidUri| ProxyError::BadRequest(e.to_string()))?,
        )
    };
    Uri::from_parts(parts).map_err(|e| ProxyError::BadRequest(e.to_string()))
}

fn backend_uri(addr: SocketAddr, path: &str, query: Option<&str>) -> Result<Uri, ProxyError> {
    let pq = match query {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    };
    Uri::builder()
        .scheme("http")
        .authority(addr.to_string())
        .path_and_query(pq)
        .build()
        .map_err(|e| ProxyError::BadRequest(e.to_string()))
}

fn set_header(h: &mut HeaderMap, k: &str, v: &str) {
    let Ok(name) = HeaderName::from_bytes(k.as_bytes()) else {
        return;
    };
    if v.is_empty() {
        h.remove(&name);
    } else if let Ok(value) = HeaderValue::from_str(v) {
        h.insert(name, value);
    }
}

fn strip_hop_by_hop(h: &mut HeaderMap) {
    let named: Vec<HeaderName> = h
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for name in HOP_BY_HOP.iter().chain(named.iter()) {
        h.remove(name);
    }
    h.remove(header::UPGRADE);
}

fn forward_headers(from: &HeaderMap, upgrade: bool) -> HeaderMap {
    let mut h = from.clone();
    strip_hop_by_hop(&mut h);
    if upgrade {
        if let Some(proto) = from.get(header::UPGRADE) {
            h.insert(header::UPGRADE, proto.clone());
            h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        }
    }
    h
}

/// `X-Forwarded-*` and `X-Real-IP`, as Traefik sets them (the client's own values are not
/// trusted: For is appended to, the others are replaced).
fn add_forwarded(
    h: &mut HeaderMap,
    original: &HeaderMap,
    client: IpAddr,
    scheme: &str,
    host: &str,
    port: u16,
    prefix: Option<&str>,
) {
    let xff = match original
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
    {
        Some(prev) if !prev.is_empty() => format!("{prev}, {client}"),
        _ => client.to_string(),
    };
    let set = |h: &mut HeaderMap, k: &'static str, v: &str| {
        if let Ok(v) = HeaderValue::from_str(v) {
            h.insert(HeaderName::from_static(k), v);
        }
    };
    set(h, "x-forwarded-for", &xff);
    set(h, "x-real-ip", &client.to_string());
    set(h, "x-forwarded-proto", scheme);
    let fwd_host = original
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or(host);
    set(h, "x-forwarded-host", fwd_host);
    set(h, "x-forwarded-port", &port.to_string());
    match prefix {
        Some(p) => set(h, "x-forwarded-prefix", p),
        None => {
            h.remove("x-forwarded-prefix");
        }
    }
}

fn basic_auth_ok(headers: &HeaderMap, users: &[(String, String)]) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(encoded) = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
    else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let Ok(text) = String::from_utf8(decoded) else {
        return false;
    };
    let Some((user, pass)) = text.split_once(':') else {
        return false;
    };
    users
        .iter()
        .find(|(u, _)| u == user)
        .is_some_and(|(_, hash)| crate::model::auth::verify(pass, hash))
}

fn redirect(
    scheme: &str,
    host: &str,
    port: Option<u16>,
    uri: &Uri,
    permanent: bool,
) -> Response<ProxyBody> {
    let default_port = if scheme == "https" { 443 } else { 80 };
    let authority = match port {
        Some(p) if p != default_port => {
            if host.contains(':') {
                format!("[{host}]:{p}")
            } else {
                format!("{host}:{p}")
            }
        }
        _ => {
            if host.contains(':') {
                format!("[{host}]")
            } else {
                host.to_owned()
            }
        }
    };
    let pq = uri.path_and_query().map_or("/", |pq| pq.as_str());
    let location = format!("{scheme}://{authority}{pq}");
    let status = if permanent {
        StatusCode::PERMANENT_REDIRECT
    } else {
        StatusCode::TEMPORARY_REDIRECT
    };
    let mut r = plain(status, status.canonical_reason().unwrap_or("Redirect"));
    if let Ok(v) = HeaderValue::from_str(&location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}
