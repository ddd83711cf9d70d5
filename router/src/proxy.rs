//! One request through the router, in named phases shared by both ways a request arrives:
//! route, middlewares ([`plan`]), pick a backend ([`Plan::pick`]), rewrite
//! ([`forward_headers`]), forward (retrying a refused connection on another backend when that
//! is safe), answer ([`finish_response`]), log ([`record`]).
//!
//! HTTP/1.1 client connections are served on the raw bytes by [`crate::conn`]; HTTP/2 ones
//! through hyper by [`handle`] below, with the shared pooled client. Both take every decision
//! here, so a rule, a middleware or a header means the same on either.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Empty, Full};
use hyper::body::Body as _;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Uri};

use crate::compress::Encoding;
use crate::dynamic::sticky as dynamic_sticky;
use crate::h2_body::H2Body;
use crate::live::{InFlight, Live, LiveBackend};
use crate::middleware::{Effects, Flow};
use crate::model::rule::RequestView;
use crate::server::Shared;
use crate::upstream::SendError;

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
    /// `basicauth` wants credentials (for this realm).
    #[error("401 Unauthorized")]
    Unauthorized(String),
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
    /// The request's router wants other TLS options than the connection was made with (its
    /// SNI named another host): Traefik's SNI check.
    #[error("Misdirected Request")]
    Misdirected,
    /// The client did not send a complete request head in time.
    #[error("Request Timeout")]
    HeadTimeout,
    /// A body the router reads whole (for a middleware, a retry, a mirror) stopped coming
    /// for the entry point's read timeout.
    #[error("Request Timeout")]
    BodyTimeout,
    /// The request head is larger than `ROUTER_MAX_HEADER_BYTES`.
    #[error("Request Header Fields Too Large")]
    HeadTooLarge,
    /// The request expects something other than `100-continue`.
    #[error("Expectation Failed")]
    ExpectationFailed(String),
    /// `forwardAuth`: the authentication server's answer was larger than allowed.
    #[error("401 Unauthorized")]
    AuthRefused,
    /// The request body is larger than `buffering.maxRequestBodyBytes`.
    #[error("Request Entity Too Large")]
    PayloadTooLarge,
    /// The request body is larger than a failover's `errors.maxRequestBodyBytes` (Traefik's
    /// words for it).
    #[error("Request body too large")]
    FailoverBodyTooLarge,
    /// The router could not do what the configuration asks (a rewrite that makes an invalid
    /// path).
    #[error("Internal Server Error")]
    Internal(String),
    /// `forwardAuth`: the authentication server could not be asked, or its answer not read
    /// (Traefik answers 500 with no body).
    #[error("Internal Server Error")]
    AuthFailed(String),
}

impl ProxyError {
    /// The status each error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            ProxyError::NotFound => StatusCode::NOT_FOUND,
            ProxyError::NoBackend => StatusCode::SERVICE_UNAVAILABLE,
            ProxyError::Forbidden => StatusCode::FORBIDDEN,
            ProxyError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ProxyError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ProxyError::Misdirected => StatusCode::MISDIRECTED_REQUEST,
            ProxyError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            ProxyError::GatewayTimeout => StatusCode::GATEWAY_TIMEOUT,
            ProxyError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ProxyError::HeadTimeout | ProxyError::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            ProxyError::HeadTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ProxyError::ExpectationFailed(_) => StatusCode::EXPECTATION_FAILED,
            ProxyError::AuthRefused => StatusCode::UNAUTHORIZED,
            ProxyError::PayloadTooLarge | ProxyError::FailoverBodyTooLarge => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            ProxyError::Internal(_) | ProxyError::AuthFailed(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// The router's own answer for this error (a plain status page), logged when it says
    /// something went wrong on the way to a backend.
    pub fn answer(&self, log: &Log) -> Answer {
        let (status, text) = (self.status(), self.to_string());
        let mut a = match self {
            // Written by Traefik's code as the status text alone.
            ProxyError::Forbidden
            | ProxyError::RateLimited
            | ProxyError::BadGateway(_)
            | ProxyError::GatewayTimeout => written(status, &text),
            ProxyError::AuthRefused
            | ProxyError::AuthFailed(_)
            | ProxyError::ExpectationFailed(_) => bare(status),
            // go-http-auth's page: its own type, no nosniff.
            ProxyError::Unauthorized(_) => {
                let mut a = written(status, "401 Unauthorized\n");
                a.headers
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
                a
            }
            _ => plain(status, &text),
        };
        match self {
            ProxyError::Unauthorized(realm) => {
                if let Ok(v) = HeaderValue::from_str(&format!("Basic realm=\"{realm}\"")) {
                    a.headers.insert(header::WWW_AUTHENTICATE, v);
                }
            }
            ProxyError::BadGateway(why)
            | ProxyError::BadRequest(why)
            | ProxyError::Internal(why)
            | ProxyError::AuthFailed(why) => {
                tracing::warn!(router = %log.router, backend = %log.backend_text(), error = %why, "request failed");
            }
            _ => {}
        }
        a
    }
}

/// A complete answer the router gives itself (errors, redirects, ACME challenges).
#[derive(Debug)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// Its headers (`Content-Type` and the like; never framing).
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
}

impl Answer {
    /// As a hyper response (HTTP/2 clients).
    pub fn into_response(self) -> Response<ProxyBody> {
        let mut r = Response::new(full(self.body));
        *r.status_mut() = self.status;
        *r.headers_mut() = self.headers;
        r
    }
}

/// A short plain-text answer as Go's `http.Error` writes it, as Traefik's code answers most
/// of its errors (404, 503 `no available server`, 421, 400): the text and a newline,
/// `text/plain; charset=utf-8` and `X-Content-Type-Options: nosniff`.
pub fn plain(status: StatusCode, text: &str) -> Answer {
    let mut a = written(status, text);
    a.body = Bytes::from(format!("{text}\n"));
    a.headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    a
}

/// The text alone, as Traefik's code writes a status's text (`rw.Write([]byte(
/// http.StatusText(code)))`: 502 and 504, `ipAllowList`'s refusal, `rateLimit`'s 429, the
/// redirects), its type the `text/plain; charset=utf-8` Go sniffs from it.
pub fn written(status: StatusCode, text: &str) -> Answer {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Answer {
        status,
        headers,
        body: Bytes::copy_from_slice(text.as_bytes()),
    }
}

/// A status alone, no body (Traefik's `forwardAuth` when it cannot ask or is answered too
/// much, Go's 417).
pub fn bare(status: StatusCode) -> Answer {
    Answer {
        status,
        headers: HeaderMap::new(),
        body: Bytes::new(),
    }
}

/// A complete body.
pub fn full(b: Bytes) -> ProxyBody {
    Full::new(b).map_err(|never| match never {}).boxed()
}

fn empty() -> ProxyBody {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// What the access log line and the metrics need.
#[derive(Debug, Default)]
pub struct Log {
    /// The router (route) that took the request, or what answered it.
    pub router: String,
    /// Its service.
    pub service: String,
    /// The backend address last tried.
    pub backend: Option<SocketAddr>,
    /// The router's own `observability.accessLogs`, when it sets one (see [`logs_access`]).
    pub access: Option<bool>,
    /// An internal router answered (see [`observes`]).
    pub internal: bool,
    /// The circuit breakers the request went through, told its status at the end.
    pub breakers: Vec<crate::middleware::BreakerWatch>,
    /// Copies for `mirroring` services' mirrors, sent once the answer is done.
    pub mirror: Option<Box<crate::mirror::Job>>,
    /// What Traefik's access log keeps of the request (only with `accessLog`).
    pub asked: Option<Box<crate::access_log::Asked>>,
    /// The last server tried, its URL as configured (only with `accessLog`).
    pub service_url: String,
    /// When the first server was tried.
    pub origin_started: Option<Instant>,
    /// Servers tried.
    pub tries: u32,
    /// Bytes of the answer's body sent.
    pub sent: u64,
    /// The user `basicAuth` or `digestAuth` let through.
    pub user: Option<String>,
    /// Traefik's `protocol` metric label (`http`, `websocket`, `sse`), with its metrics on.
    pub protocol: &'static str,
    /// The request body's declared length.
    pub received: u64,
}

impl Log {
    /// Notes a server tried (`url`), the first at `started`.
    pub fn tried(&mut self, c: &crate::config::Config, url: &str, started: Instant) {
        self.tries += 1;
        self.origin_started.get_or_insert(started);
        if c.traefik_access_log.is_some() {
            url.clone_into(&mut self.service_url);
        }
    }

    /// The backend for a log line (empty when none was tried).
    pub fn backend_text(&self) -> String {
        self.backend.map(|a| a.to_string()).unwrap_or_default()
    }
}

/// Hop-by-hop headers (RFC 9110 7.6.1), and `Upgrade` (set again only for an upgrade).
const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// What a request is, as the phases below need it, whichever protocol carried it.
#[derive(Debug, Clone, Copy)]
pub struct Inbound<'a> {
    /// The entry point's name (`web`, `websecure`).
    pub entrypoint: &'static str,
    /// `http` or `https`.
    pub scheme: &'static str,
    /// The client's address.
    pub peer: SocketAddr,
    /// Whether the client's `X-Forwarded-*` headers are kept (the entry point's
    /// `forwardedHeaders` trusts it).
    pub trusted: bool,
    /// The entry point's settings.
    pub ep: &'a crate::config::EntryPoint,
    /// The TLS options the connection's handshake used (empty for plain HTTP).
    pub tls_options: &'a str,
    /// The certificates a mutual-TLS client presented (leaf first).
    pub client_certs: Option<&'a [rustls::pki_types::CertificateDer<'static>]>,
    /// The client's IP address as text, as [`client_text`] gives it (`X-Forwarded-For`,
    /// `X-Real-IP`): computed once per client connection.
    pub client: &'a str,
    /// The request's host: lowercase, without port (see [`request_host`]).
    pub host: &'a str,
    /// The method.
    pub method: &'a Method,
    /// The path (escaped) as the entry point's pipeline left it ([`crate::entry_http`]:
    /// normalized, cleaned unless `http.sanitizePath=false`).
    pub path: &'a str,
    /// The query as the entry point's pipeline left it (each `;` a `&`, or `%3B` with
    /// `http.encodeQuerySemicolons`).
    pub query: Option<&'a str>,
    /// Whether the request has a body.
    pub has_body: bool,
}

/// A client's IP address, an IPv4-mapped IPv6 address shown as IPv4.
pub fn client_ip(peer: SocketAddr) -> IpAddr {
    match peer.ip() {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(peer.ip(), IpAddr::V4),
        v4 => v4,
    }
}

/// [`client_ip`] as text.
pub fn client_text(peer: SocketAddr) -> String {
    client_ip(peer).to_string()
}

impl Inbound<'_> {
    /// The client's address with an IPv4-mapped IPv6 address shown as IPv4.
    pub fn client_ip(&self) -> IpAddr {
        client_ip(self.peer)
    }

    /// The host as a URL authority (IPv6 in brackets).
    pub(crate) fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.to_owned()
        }
    }

    /// The `Host` as the request sent it (with its port) in `headers`, else its host: what
    /// Traefik's `req.Host` is to the middlewares.
    pub(crate) fn host_header(&self, headers: &HeaderMap) -> String {
        headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .map_or_else(|| self.authority(), str::to_owned)
    }

    /// The path and query, as the entry point's pipeline left them.
    pub(crate) fn target(&self) -> String {
        match self.query {
            Some(q) => format!("{}?{q}", self.path),
            None => self.path.to_owned(),
        }
    }
}

/// What the middlewares decided for a request that goes to a backend.
#[derive(Debug)]
pub struct Plan {
    live: Arc<Live>,
    service: String,
    /// What the middlewares left: the path to forward, headers for the answer.
    pub fx: Effects,
    /// The coding to compress the answer with, if it turns out compressible.
    pub compress: Option<Encoding>,
    /// The service's sticky cookie as the client sent it.
    sticky: Option<String>,
    /// The sticky cookie to set on the answer (the server picked was not the one it named).
    set_cookie: std::sync::Mutex<Option<String>>,
    /// Sticky cookies of `weighted` services on the way, for the answer.
    weighted_cookies: Vec<String>,
    /// A `failover` with `errors` on the way to the service.
    failover: Option<FailoverPlan>,
    /// The request went to the failover's fallback.
    on_fallback: std::sync::atomic::AtomicBool,
    /// The request's method (for `buffering.retryExpression`).
    method: hyper::Method,
    /// The client's address (what `hrw` picks a server by).
    client: IpAddr,
}

/// Where the request goes when the service answers one of a `failover`'s `errors` statuses.
#[derive(Debug)]
struct FailoverPlan {
    errors: crate::dynamic::FailoverErrors,
    /// The fallback's service with servers (`None`: none usable, which answers 503).
    fallback: Option<String>,
    /// The request can be sent again (no body, or its body is held).
    replayable: bool,
    /// The fallback's sticky cookie as the client sent it.
    sticky: Option<String>,
}

/// The outcome of routing and middlewares.
#[derive(Debug)]
pub enum Planned {
    /// Forward to a backend of the route's service.
    Forward(Box<Plan>),
    /// Answered by the router (a redirect, an ACME challenge).
    Answer(Answer),
}

/// Phases 0 to 2: ACME challenges on plain HTTP (above every router, as Traefik's
/// `acme-http@internal`), the route, then its middlewares in order, and the internal
/// services' own answers. `headers` are the request's; `headers.*` middlewares change them.
pub async fn plan(
    shared: &Shared,
    req: &Inbound<'_>,
    headers: &mut HeaderMap,
    log: &mut Log,
    body: &mut dyn crate::middleware::Body,
) -> Result<Planned, ProxyError> {
    plan_kept(shared, req, headers, log, body, None).await
}

/// [`plan`] on a client connection that keeps backend connections (`kept`): a middleware's
/// own exchanges (`forwardAuth`) use them too.
pub async fn plan_kept(
    shared: &Shared,
    req: &Inbound<'_>,
    headers: &mut HeaderMap,
    log: &mut Log,
    body: &mut dyn crate::middleware::Body,
    kept: Option<&mut crate::upstream::Kept>,
) -> Result<Planned, ProxyError> {
    let client_ip = req.client_ip();

    // Phase 0: ACME HTTP-01 challenges are answered on plain HTTP whatever else is set
    // (an entry point's redirection included), unless the entry point's `allowACMEByPass`
    // routes them like any request.
    if req.scheme == "http" && !req.ep.allow_acme_bypass {
        if let Some(token) = req.path.strip_prefix("/.well-known/acme-challenge/") {
            if let Some(key_auth) = shared.acme_challenge(token) {
                log.router = "acme-http-01".into();
                // Traefik's `acme-http@internal` router.
                log.internal = true;
                // Exactly the key authorization: RFC 8555 8.3 compares the body byte for byte.
                let mut headers = HeaderMap::new();
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/octet-stream"),
                );
                return Ok(Planned::Answer(Answer {
                    status: StatusCode::OK,
                    headers,
                    body: Bytes::from(key_auth),
                }));
            }
        }
    }

    entry_point_forwarded(req.trusted, headers);

    // Phase 1: route.
    let live: Arc<Live> = shared.live.load_full();
    let route = {
        // Rules see the routing path (unreserved characters decoded), as Traefik's do.
        let path = crate::model::rule::routing_path(req.path).ok_or_else(|| {
            ProxyError::BadRequest("invalid percent-encoding in the request path".into())
        })?;
        let view = RequestView {
            host: req.host,
            path: &path,
            query: req.query,
            method: req.method.as_str(),
            headers,
            client_ip,
        };
        live.table
            .lookup(req.entrypoint, req.scheme == "https", &view)
            .ok_or(ProxyError::NotFound)?
    };
    log.router.clone_from(&route.name);
    log.service.clone_from(&route.service);
    log.access = route.access_logs;
    log.internal = route.service.ends_with("@internal");
    // The entry point's `http.encodedCharacters`, checked by the router (as Traefik's
    // `denyEncodedPathCharacters`, before its SNI check and middlewares).
    if let Some(code) = route
        .encoded_characters
        .as_ref()
        .and_then(|e| e.refused(req.path))
    {
        return Err(ProxyError::BadRequest(format!(
            "the request path contains the encoded character {code}, which the entry point's http.encodedCharacters refuses"
        )));
    }
    if route.tls && req.scheme == "https" && route.tls_options != req.tls_options {
        return Err(ProxyError::Misdirected);
    }
    // A router made from a `defaultRule`: Traefik's `denyRouterRecursion` first (a request
    // that went through it already, its mark on, is a loop: 400 with nothing more).
    if let Some(mark) = &route.recursion_mark {
        if headers
            .get(&X_TRAEFIK_ROUTER)
            .is_some_and(|v| v.as_bytes() == mark.as_bytes())
        {
            tracing::debug!(router = %route.name, "a request back through the same router: refused (denyRouterRecursion)");
            return Ok(Planned::Answer(Answer {
                status: StatusCode::BAD_REQUEST,
                headers: HeaderMap::new(),
                body: Bytes::new(),
            }));
        }
        if let Ok(v) = HeaderValue::from_str(mark) {
            headers.insert(X_TRAEFIK_ROUTER, v);
        }
    }

    // Phase 2: middlewares, in order.
    let mut fx = crate::middleware::Effects::default();
    let mut r = crate::middleware::Request {
        shared,
        inbound: req,
        headers,
        fx: &mut fx,
        log,
        body,
        kept,
    };
    let mut refused = None;
    for (i, (name, mw)) in route.middlewares.iter().enumerate() {
        let nth = crate::middleware::nth(&route.middlewares, i);
        match crate::middleware::apply(name, nth, mw, &mut r).await {
            Ok(Flow::Next) => {}
            Ok(Flow::Answer(a)) => {
                refused = Some(Ok(a));
                break;
            }
            Err(e) => {
                refused = Some(Err(e));
                break;
            }
        }
    }
    if let Some(outcome) = refused {
        // An `errors` middleware before the one that answered may replace the answer.
        let status = match &outcome {
            Ok(a) => a.status.as_u16(),
            Err(e) => e.status().as_u16(),
        };
        if let Some(a) = error_page(shared, &live, &fx, req, headers, status).await {
            return Ok(Planned::Answer(a));
        }
        let answer = outcome.unwrap_or_else(|e| e.answer(log));
        return Ok(Planned::Answer(decorated(&fx, answer)));
    }
    if let Some(kind) = live
        .table
        .services
        .get(&route.service)
        .and_then(|s| s.internal)
    {
        let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
        let path = fx.path.as_deref().unwrap_or(req.path);
        if kind == crate::dynamic::InternalService::Api {
            Box::pin(crate::internal::api_view_made(&live)).await;
        }
        return Ok(Planned::Answer(crate::internal::answer(
            shared, kind, req, path, accept, &live,
        )));
    }
    if fx.compress.is_none() && shared.config.compress {
        fx.compress = Some(Default::default());
    }
    let compress = fx.compress.as_ref().and_then(|o| {
        if crate::compress::request_excluded(headers.get(header::CONTENT_TYPE), o) {
            return None;
        }
        crate::compress::negotiate_with(combined(headers, &header::ACCEPT_ENCODING).as_deref(), o)
    });
    // Under `weighted`, `failover` and `mirroring` services: the one with servers that
    // takes it (and the mirrors that get a copy).
    let mut walk = crate::weighted::Walk {
        headers: Some(headers),
        ..Default::default()
    };
    let service = match live.leaf(&shared.registry, &route.service, &mut walk) {
        Ok(s) => s.to_owned(),
        Err(e) => {
            let status = e.status().as_u16();
            if let Some(a) = error_page(shared, &live, &fx, req, headers, status).await {
                return Ok(Planned::Answer(a));
            }
            return Ok(Planned::Answer(decorated(&fx, e.answer(log))));
        }
    };
    let sticky_of = |service: &str| {
        live.table
            .services
            .get(service)
            .and_then(|s| s.sticky.as_ref())
            .and_then(|(name, _)| cookie(headers, name))
    };
    let sticky = sticky_of(&service);
    let failover = match walk.failover {
        Some(f) => {
            let mut f = match Box::pin(failover_plan(shared, &live, req, f, body)).await {
                Ok(f) => f,
                Err(e) => return Ok(Planned::Answer(decorated(&fx, e.answer(log)))),
            };
            f.sticky = f.fallback.as_deref().and_then(sticky_of);
            Some(f)
        }
        None => None,
    };
    let plan = Box::new(Plan {
        live,
        service,
        fx,
        compress,
        sticky,
        set_cookie: std::sync::Mutex::default(),
        weighted_cookies: walk.set_cookies,
        failover,
        on_fallback: std::sync::atomic::AtomicBool::new(false),
        method: req.method.clone(),
        client: client_ip,
    });
    if let Err(e) = hold_for_retry(req, &plan.fx, body).await {
        return Ok(Planned::Answer(decorated(&plan.fx, e.answer(log))));
    }
    if !walk.copies.is_empty() {
        let copied = match Box::pin(crate::mirror::body(req.has_body, body, &walk.copies)).await {
            Ok(c) => c,
            Err(e) => return Ok(Planned::Answer(decorated(&plan.fx, e.answer(log)))),
        };
        log.mirror = crate::mirror::Job::new(req, &plan, headers, walk.copies, copied);
    }
    Ok(Planned::Forward(plan))
}

/// What a body the router could not read whole answers: 413 over the limit, 408 when it
/// stopped coming, 400 when its framing is broken (or the client left).
pub fn held_body_error(e: http1_framing::io::BodyError) -> ProxyError {
    use http1_framing::io::BodyError;
    match e {
        BodyError::TooLarge(_) => ProxyError::PayloadTooLarge,
        BodyError::Stalled(_) => ProxyError::BodyTimeout,
        other @ (BodyError::ClientGone | BodyError::Framing(_)) => {
            ProxyError::BadRequest(other.to_string())
        }
    }
}

/// The largest body held to be sent again when Traefik's limit is unlimited
/// (`failover.errors.maxRequestBodyBytes` unset, `buffering` without `maxRequestBodyBytes`):
/// bodies are held in memory.
const HELD_BODY: u64 = 16 << 20;

/// A `failover` with `errors`: its fallback's service, and the request's body held so that it
/// can go there too (see [`hold_for_failover`]).
async fn failover_plan(
    shared: &Shared,
    live: &Live,
    req: &Inbound<'_>,
    f: crate::weighted::FailoverOnStatus,
    body: &mut dyn crate::middleware::Body,
) -> Result<FailoverPlan, ProxyError> {
    let fallback = live
        .leaf(
            &shared.registry,
            &f.fallback,
            &mut crate::weighted::Walk::default(),
        )
        .ok()
        .map(str::to_owned);
    let replayable = hold_for_failover(req.has_body, f.errors.max_request_body_bytes, body).await?;
    Ok(FailoverPlan {
        errors: f.errors,
        fallback,
        replayable,
        sticky: None,
    })
}

/// Whether a request to a `failover` with `errors` can go to the fallback after the main
/// service answered: its body, if it has one, is held now. One over an explicit
/// `maxRequestBodyBytes` is answered 413 `Request body too large`, as Traefik does; without
/// one, a body of known length over [`HELD_BODY`] streams to the main service and does not
/// fail over, and one of unknown length over it answers 413.
pub(crate) async fn hold_for_failover(
    has_body: bool,
    explicit: Option<u64>,
    body: &mut dyn crate::middleware::Body,
) -> Result<bool, ProxyError> {
    let limit = explicit.unwrap_or(HELD_BODY);
    match (has_body, body.declared()) {
        (false, _) => Ok(true),
        (true, Some(n)) if n > limit && explicit.is_none() => Ok(false),
        (true, _) => {
            let held = body.read_all(limit).await.map_err(|e| match e {
                http1_framing::io::BodyError::TooLarge(_) => ProxyError::FailoverBodyTooLarge,
                e => held_body_error(e),
            })?;
            // Held for sure (an upgrade's body is not read ahead).
            Ok(body.declared() == Some(held.len() as u64))
        }
    }
}

/// A `retry` that retries on statuses holds the request's body, when its length is known
/// and within `maxRequestBodyBytes`, so that it can be sent again (as Traefik does; a larger
/// body, or one of unknown length, streams and is not retried on a status).
async fn hold_for_retry(
    req: &Inbound<'_>,
    fx: &crate::middleware::Effects,
    body: &mut dyn crate::middleware::Body,
) -> Result<(), ProxyError> {
    if !req.has_body {
        return Ok(());
    }
    // `buffering.retryExpression`: Traefik's buffering holds every body (up to
    // `maxRequestBodyBytes`); here up to that or HELD_BODY, a larger one of known
    // length streaming without being tried again.
    if fx.retry_expression.is_some() {
        let limit = fx.max_request_body.unwrap_or(HELD_BODY);
        return match body.declared() {
            Some(len) if len > limit => Ok(()),
            _ => body
                .read_all(limit)
                .await
                .map(drop)
                .map_err(held_body_error),
        };
    }
    let Some(retry) = &fx.retry else {
        return Ok(());
    };
    if !retry.retries_on_status(req.method.as_str()) {
        return Ok(());
    }
    match body.declared() {
        Some(len) if len <= retry.max_request_body_bytes => {
            body.read_all(retry.max_request_body_bytes)
                .await
                .map_err(held_body_error)?;
            Ok(())
        }
        _ => Ok(()),
    }
}

/// How to reach one backend of a plan's service.
#[derive(Debug)]
pub struct Reach {
    /// TLS, for an `https://` server.
    pub tls: Option<Arc<crate::backend_tls::BackendTls>>,
    /// How long to wait for a connection (the transport's `dialTimeout`, else the router's).
    pub connect_timeout: std::time::Duration,
    /// How long to wait for an answer (`responseHeaderTimeout`, else the router's).
    pub response_timeout: std::time::Duration,
    /// The `Host` to send instead of the client's (`passHostHeader=false`).
    pub host: Option<HeaderValue>,
}

/// The page of the outermost `errors` middleware in `fx` that catches `status`, if it gives
/// one.
pub async fn error_page(
    shared: &Shared,
    live: &Live,
    fx: &Effects,
    req: &Inbound<'_>,
    headers: &HeaderMap,
    status: u16,
) -> Option<Answer> {
    let met = fx.catching(status)?;
    let page = Box::pin(crate::middleware::error_page(
        shared, live, fx, met, req, headers, status,
    ))
    .await;
    if page.is_none() {
        tracing::warn!(service = %met.pages.service, status, "no error page from the errors service; the answer stays");
    }
    page
}

impl Plan {
    /// The `errors` page for an answer of `status` on this plan's route, if any.
    pub async fn error_page(
        &self,
        shared: &Shared,
        req: &Inbound<'_>,
        headers: &HeaderMap,
        status: u16,
    ) -> Option<Answer> {
        error_page(shared, &self.live, &self.fx, req, headers, status).await
    }

    /// The wait before trying again after try number `tries` failed (a network error, or an
    /// answer of `status` to `method`), when the route's `retry` allows another try.
    fn retry_wait(
        &self,
        tries: u32,
        started: Instant,
        status: Option<(u16, &str)>,
    ) -> Option<std::time::Duration> {
        let by_retry = self.fx.retry.as_ref().and_then(|p| {
            let timed_out = !p.timeout.is_zero() && started.elapsed() >= p.timeout;
            let allowed = match status {
                None => !p.disable_retry_on_network_error,
                Some((s, m)) => p.retries_status(s, m),
            };
            (tries < p.attempts && !timed_out && allowed).then(|| p.wait_before(tries + 1))
        });
        // `buffering.retryExpression`: at once, when it holds (a server that could not be
        // reached counts as a 502, as oxy's forwarder answers it).
        by_retry.or_else(|| {
            let e = self.fx.retry_expression.as_ref()?;
            let t = crate::dynamic::middleware::retry_expression::Try {
                method: self.method.as_str(),
                attempt: tries,
                code: status.map_or(502, |(s, _)| s),
            };
            e.retries(t).then_some(std::time::Duration::ZERO)
        })
    }

    /// When the request can be sent again (`retryable`) and the route's `retry` allows
    /// another try after try `tries` failed: waits its interval and says so.
    pub async fn try_again(
        &self,
        retryable: bool,
        tries: u32,
        started: Instant,
        status: Option<(u16, &str)>,
    ) -> bool {
        match retryable
            .then(|| self.retry_wait(tries, started, status))
            .flatten()
        {
            Some(wait) => {
                tokio::time::sleep(wait).await;
                true
            }
            None => false,
        }
    }

    /// Whether an answer of `status` is to be replaced by an `errors` page.
    pub fn catches(&self, status: u16) -> bool {
        self.fx.catching(status).is_some()
    }

    /// The route's service as the table defines it.
    fn def(&self) -> Option<&crate::model::table::Service> {
        self.live.table.services.get(self.current()).map(|s| &**s)
    }

    /// The service the request goes to now: the route's, or a failover's fallback.
    fn current(&self) -> &str {
        match &self.failover {
            Some(FailoverPlan {
                fallback: Some(f), ..
            }) if self.on_fallback.load(std::sync::atomic::Ordering::Relaxed) => f,
            _ => &self.service,
        }
    }

    /// After the service answered `status`: whether the request now goes to the fallback
    /// of a `failover` whose `errors` list it (once). `Err`: it should, but the fallback has
    /// no usable server (503, as Traefik answers).
    pub fn fail_over(&self, status: u16) -> Result<bool, ProxyError> {
        use std::sync::atomic::Ordering::Relaxed;
        let Some(f) = &self.failover else {
            return Ok(false);
        };
        let listed = f.errors.lists(status);
        if !listed || !f.replayable || self.on_fallback.load(Relaxed) {
            return Ok(false);
        }
        if f.fallback.is_none() {
            return Err(ProxyError::NoBackend);
        }
        self.on_fallback.store(true, Relaxed);
        Ok(true)
    }

    /// How to reach `backend`: its TLS, its timeouts, its `Host`.
    pub fn reach(&self, shared: &Shared, backend: &LiveBackend) -> Result<Reach, ProxyError> {
        let svc = self.def();
        let transport = svc.map(|s| &s.transport);
        let url = &backend.def.url;
        let tls = if url.starts_with("https://") {
            let default = crate::dynamic::ServersTransport::default();
            let t = shared
                .backend_tls
                .get(transport.unwrap_or(&default), url)
                .map_err(|e| ProxyError::BadGateway(format!("TLS to {url}: {e}")))?;
            Some(t)
        } else {
            None
        };
        let host = match svc {
            Some(s) if !s.pass_host_header => {
                HeaderValue::from_str(backend.def.written_host()).ok()
            }
            _ => None,
        };
        Ok(Reach {
            tls,
            connect_timeout: transport
                .and_then(|t| t.dial_timeout)
                .unwrap_or(shared.config.connect_timeout),
            response_timeout: transport
                .and_then(|t| t.response_header_timeout)
                .unwrap_or(shared.config.response_timeout),
            host,
        })
    }

    /// Whether the service has a usable backend besides `url` (a timed-out connection is
    /// retried only then: with none, the answer stays the timeout's 504).
    pub fn another_usable(&self, shared: &Shared, url: &str) -> bool {
        self.live.services.get(self.current()).is_some_and(|svc| {
            svc.backends
                .iter()
                .any(|b| b.def.url != url && shared.registry.usable(b))
        })
    }

    /// [`Plan::pick`] for a try after a failure (`cause`, the answer it would have had): when
    /// no server is left to try, that failure is the answer (a refused connection's 502, as
    /// Traefik's), not a 503.
    pub async fn pick_again(
        &self,
        shared: &Shared,
        tried: Option<&str>,
        cause: &mut Option<ProxyError>,
    ) -> Result<(&LiveBackend, SocketAddr), ProxyError> {
        match self.pick(shared, tried).await {
            Err(ProxyError::NoBackend) => Err(cause.take().unwrap_or(ProxyError::NoBackend)),
            other => other,
        }
    }

    /// Phase 3: a backend of the route's service, skipping `tried` (a backend's URL) while
    /// another is usable, and the address to connect to (a name is resolved now, as Traefik
    /// resolves on each dial).
    pub async fn pick(
        &self,
        shared: &Shared,
        tried: Option<&str>,
    ) -> Result<(&LiveBackend, SocketAddr), ProxyError> {
        let svc = self
            .live
            .services
            .get(self.current())
            .ok_or(ProxyError::NoBackend)?;
        let sticky = self.def().and_then(|s| s.sticky.as_ref());
        // The client's cookie for the service asked now (a failover's fallback has its own,
        // as Traefik's fallback balancer reads it).
        let sent = match &self.failover {
            Some(f) if self.current() != self.service => f.sticky.as_deref(),
            _ => self.sticky.as_deref(),
        };
        let named = match (sent, sticky) {
            (Some(v), Some(_)) => shared.registry.named(svc, v, tried),
            _ => None,
        };
        let backend = named
            .or_else(|| {
                shared
                    .registry
                    .pick(svc, shared.config.balancer, tried, self.client)
            })
            .or_else(|| {
                tried.and_then(|_| {
                    shared
                        .registry
                        .pick(svc, shared.config.balancer, None, self.client)
                })
            })
            .ok_or(ProxyError::NoBackend)?;
        // A new client, a server gone, or a value in an older form: the cookie is set. The
        // main service's cookie does not go with its fallback's answer (Traefik drops the
        // main answer's headers with it).
        let set = sticky.and_then(|(name, cookie)| {
            let current = dynamic_sticky::server_value(&backend.def.written);
            (sent != Some(current.as_str())).then(|| cookie.set_cookie(name, &backend.def.written))
        });
        *self
            .set_cookie
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = set;
        let target = backend.def.target.as_ref().ok_or(ProxyError::NoBackend)?;
        let addr = crate::upstream::resolve(target, shared.config.connect_timeout)
            .await
            .map_err(|e| {
                shared.registry.mark_down(&backend.state);
                ProxyError::BadGateway(e)
            })?;
        Ok((backend, addr))
    }
}

/// Phase 4: the headers forwarded to a backend, made from the request's own (as the
/// middlewares left them): the end-to-end ones, `Host` (the client's, else `fallback_host`),
/// `Upgrade` when one is asked for, and `X-Forwarded-*` as Traefik sets them.
pub fn forward_headers(
    req: &Inbound<'_>,
    plan: &Plan,
    h: HeaderMap,
    upgrade: bool,
    fallback_host: impl FnOnce() -> Option<String>,
) -> HeaderMap {
    backend_headers(
        req,
        (plan.fx.drop_xff, &plan.fx.deleted),
        h,
        upgrade,
        fallback_host,
    )
}

/// [`forward_headers`] with what it needs of the plan: whether `X-Forwarded-For` is dropped
/// (a custom empty one), and the entry point's headers a middleware removed.
fn backend_headers(
    req: &Inbound<'_>,
    (drop_xff, deleted): (bool, &[HeaderName]),
    mut h: HeaderMap,
    upgrade: bool,
    fallback_host: impl FnOnce() -> Option<String>,
) -> HeaderMap {
    let proto = if upgrade {
        h.get(header::UPGRADE).cloned()
    } else {
        None
    };
    // A trusted client's list, or one a middleware set (an untrusted client's is gone);
    // several lines are one list, joined with `, ` in order, as Traefik joins them.
    let xff_before = xff_lines(&h);
    // As Go's reverse proxy: `TE: trailers` goes on (gRPC servers require it).
    let trailers = h.get_all(header::TE).iter().any(|v| {
        v.to_str().is_ok_and(|t| {
            t.split(',').any(|p| {
                p.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .eq_ignore_ascii_case("trailers")
            })
        })
    });
    strip_hop_by_hop(&mut h);
    if trailers {
        h.insert(header::TE, HeaderValue::from_static("trailers"));
    }
    if let Some(proto) = proto {
        h.insert(header::UPGRADE, proto);
        h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    }
    let host = h.get(header::HOST).cloned();
    if host.is_none() {
        if let Some(v) = fallback_host().and_then(|v| HeaderValue::from_str(&v).ok()) {
            h.insert(header::HOST, v);
        }
    }
    let websocket = websocket_handshake(&h);
    // Removed by a middleware and not set again: the router does not put them back (in
    // Traefik the entry point set them before the middlewares, and nothing sets them after).
    let gone: Vec<&HeaderName> = deleted.iter().filter(|n| !h.contains_key(*n)).collect();
    add_forwarded(
        &mut h,
        Forwarded {
            xff_before,
            host,
            websocket,
        },
        req,
    );
    if drop_xff {
        h.remove(X_FORWARDED_FOR);
    }
    for name in gone {
        h.remove(name);
    }
    h
}

/// Whether Traefik's entry point sets `name` on every request before the middlewares (the
/// router sets these when forwarding, unless a middleware removed them).
pub(crate) fn set_by_entry_point(name: &HeaderName) -> bool {
    [
        &X_FORWARDED_PROTO,
        &X_FORWARDED_HOST,
        &X_FORWARDED_PORT,
        &X_FORWARDED_SERVER,
        &X_REAL_IP,
    ]
    .contains(&name)
}

/// Phase 6: the headers of a backend's answer as the client gets them: hop-by-hop ones
/// removed, the security defaults, the route's `headers.*` adjustments, HSTS over HTTPS.
pub fn finish_response(shared: &Shared, plan: &Plan, scheme: &str, h: &mut HeaderMap) {
    strip_hop_by_hop(h);
    if shared.config.security_headers {
        security_defaults(h, scheme == "https");
    }
    set_answer_headers(&plan.fx.response_headers, false, h);
    auth_cookies(&plan.fx, h);
    let sticky = plan
        .set_cookie
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    for v in plan
        .weighted_cookies
        .iter()
        .map(String::as_str)
        .chain(sticky.as_deref())
    {
        if let Ok(v) = HeaderValue::from_str(v) {
            h.append(header::SET_COOKIE, v);
        }
    }
    if plan.fx.vary_origin {
        vary_origin(h);
    }
    // A coding was chosen for the client: `Vary: Accept-Encoding`, whether this answer turns
    // out compressible or not (too small, excluded, already encoded), as Traefik's `compress`
    // sets it before the answer is known. Not for `HEAD`, which its `compress` passes by.
    if plan.compress.is_some() && plan.method != Method::HEAD {
        h.append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
}

/// Answer headers the middlewares set ([`crate::middleware::Effects::response_headers`]), set
/// on `h` in order (`None`: removed), and `Vary: Origin` when `vary`.
pub(crate) fn set_answer_headers(
    set: &[(HeaderName, Option<HeaderValue>)],
    vary: bool,
    h: &mut HeaderMap,
) {
    for (k, v) in set {
        match v {
            Some(v) => h.insert(k.clone(), v.clone()),
            None => h.remove(k),
        };
    }
    if vary {
        vary_origin(h);
    }
}

/// One of the router's own answers (a middleware's refusal or redirect, a 502, a 504) as
/// the client gets it: with the answer headers of the `headers` middlewares that ran before
/// it. In Traefik each wraps the writer of what comes after it, so whatever is written
/// through it (a `basicAuth` 401, a `rateLimit` 429, the proxy's 502) gets its CORS and
/// custom headers, not only a backend's answer.
pub(crate) fn decorated(fx: &Effects, mut a: Answer) -> Answer {
    set_answer_headers(&fx.response_headers, fx.vary_origin, &mut a.headers);
    a
}

/// `headers.addVaryHeader`: `Origin` appended to `Vary`, unless that is all it says.
fn vary_origin(h: &mut HeaderMap) {
    let now = h
        .get(header::VARY)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if now == "Origin" {
        return;
    }
    let v = if now.is_empty() {
        "Origin".to_owned()
    } else {
        format!("{now},Origin")
    };
    if let Ok(v) = HeaderValue::from_str(&v) {
        h.insert(header::VARY, v);
    }
}

/// The value of cookie `name` in the request's `Cookie` headers, as Go reads it (see
/// [`dynamic_sticky::cookie_value`]).
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    dynamic_sticky::cookie_value(
        headers
            .get_all(header::COOKIE)
            .iter()
            .map(HeaderValue::as_bytes),
        name,
    )
}

/// `forwardAuth.addAuthCookiesToResponse`: the backend's cookies of those names give way to
/// the authentication server's.
fn auth_cookies(fx: &Effects, h: &mut HeaderMap) {
    if fx.cookie_names.is_empty() {
        return;
    }
    let kept: Vec<HeaderValue> = h
        .get_all(header::SET_COOKIE)
        .iter()
        .filter(|v| {
            crate::middleware::cookie_name(v)
                .is_none_or(|n| !fx.cookie_names.iter().any(|c| c == n))
        })
        .cloned()
        .collect();
    h.remove(header::SET_COOKIE);
    for v in kept.into_iter().chain(fx.cookies.iter().cloned()) {
        h.append(header::SET_COOKIE, v);
    }
}

/// The coding to compress an answer with: the negotiated one, when the answer is worth it.
pub fn compression(
    plan: &Plan,
    method: &Method,
    status: StatusCode,
    h: &HeaderMap,
) -> Option<Encoding> {
    plan.compress.filter(|_| {
        *method != Method::HEAD
            && plan
                .fx
                .compress
                .as_ref()
                .is_some_and(|o| crate::compress::compressible_with(status, h, o))
    })
}

/// Whether a request gets an access line, as Traefik decides: with the access log on, the
/// router's own `observability.accessLogs` when it sets one, else its entry point's (which is
/// also what a request no router took gets), else yes. Traefik applies the entry point's as
/// a default to each router on it (its "model"), so a router's own setting wins.
pub fn logs_access(access_log: bool, entry_point: bool, router: Option<bool>) -> bool {
    access_log && router.unwrap_or(entry_point)
}

/// Whether a request is logged (counted) at all, with `accessLog.addInternals`
/// (`metrics.addInternals`) at `add_internals`: one an internal router answered (its service
/// `<name>@internal`: the API, the dashboard, ping, prometheus, an entry point redirection's
/// `noop@internal`, an ACME HTTP-01 answer) only with it, whatever the router's own
/// `observability`, as Traefik's observability manager decides (`shouldAccessLog`,
/// `shouldMeter`).
pub fn observes(internal: bool, add_internals: bool) -> bool {
    !internal || add_internals
}

/// Phase 7: counts the answer and writes the access log line (see [`observes`],
/// [`logs_access`]).
pub fn record(shared: &Shared, req: &Inbound<'_>, log: &Log, status: u16, start: Instant) {
    let c = &shared.config;
    if observes(log.internal, c.metrics_internals) {
        let took = start.elapsed();
        shared.metrics.observe(&log.router, status, took);
        if let Some(t) = &shared.metrics.traefik {
            t.observe(&crate::metrics_traefik::Request {
                entry_point: req.entrypoint,
                method: req.method,
                protocol: log.protocol,
                router: &log.router,
                service: &log.service,
                status,
                took,
                received: log.received,
                sent: log.sent,
                retries: log.tries.saturating_sub(1),
            });
        }
    }
    for b in &log.breakers {
        b.done(status);
    }
    if !(observes(log.internal, c.access_log_internals)
        && logs_access(c.access_log, req.ep.access_logs, log.access))
    {
        return;
    }
    if let Some(settings) = &c.traefik_access_log {
        // Every request the router serves over HTTP carries what the line needs.
        let Some(asked) = &log.asked else { return };
        let count = shared
            .request_count
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        let seen = crate::access_log::Seen {
            asked,
            duration: start.elapsed(),
            origin: log.origin_started.map(|t| t.elapsed()),
            peer: req.peer,
            scheme: req.scheme,
            status,
            size: log.sent,
            router: &log.router,
            service: &log.service,
            service_url: &log.service_url,
            entry_point: req.entrypoint,
            retries: log.tries.saturating_sub(1),
            user: log.user.as_deref(),
            count,
        };
        if let (Some(line), Some(sink)) = (
            crate::access_log::line(&seen, settings),
            shared.access_sink.get(),
        ) {
            sink.write(&line);
        }
    } else {
        tracing::info!(
            target: "access",
            client = %req.peer.ip(),
            method = %req.method,
            host = %req.host,
            path = %req.path,
            status,
            router = %log.router,
            service = %log.service,
            backend = %log.backend_text(),
            entrypoint = req.entrypoint,
            duration_ms = (start.elapsed().as_secs_f64() * 1e6).round() / 1e3,
        );
    }
}

/// A head's `Content-Length`, when it holds a number.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// The request's host from a `Host` value (or an absolute URI's authority), as Traefik's
/// canonical host (see [`crate::entry_http::canonical_host`]).
pub fn request_host(raw: &str) -> String {
    crate::entry_http::canonical_host(raw)
}

/// Handles one request of an HTTP/2 client connection (HTTP/1.1 ones go through
/// [`crate::conn`]), with the shared pooled client.
pub async fn handle(
    shared: Arc<Shared>,
    at: &crate::conn::Endpoint,
    req: Request<hyper::body::Incoming>,
) -> Response<ProxyBody> {
    let start = Instant::now();
    let (mut parts, body) = req.into_parts();
    let client = client_text(at.peer);
    // The request's host is its `:authority` when it has one, whatever a `Host` header says
    // (Go's HTTP/2 server makes it the request's Host): routed, and forwarded, by it.
    if let Some(v) = parts
        .uri
        .authority()
        .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    {
        parts.headers.insert(header::HOST, v);
    }
    let host = request_host(
        parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| parts.uri.authority().map(|a| a.as_str()))
            .unwrap_or_default(),
    );
    let received = declared_length(&parts.headers).unwrap_or(0);
    let asked = shared.config.traefik_access_log.as_ref().map(|_| {
        let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let authority = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok());
        Box::new(crate::access_log::Asked::new(
            parts.method.as_str(),
            target,
            "HTTP/2.0",
            authority.unwrap_or_default(),
            &parts.headers,
            at.trusted,
            received,
        ))
    });
    // The entry point's pipeline (`http.underscoreHeadersStrategy`, the path's checks and
    // clean-up, the query's `;`): what routing, the middlewares and the backend see.
    let mut headers = std::mem::take(&mut parts.headers);
    let prepared = crate::entry_http::prepare(
        &at.ep.http,
        parts.uri.path(),
        parts.uri.query(),
        &mut headers,
    );
    let inbound = Inbound {
        entrypoint: at.entrypoint,
        scheme: at.scheme,
        peer: at.peer,
        trusted: at.trusted,
        tls_options: &at.tls_options,
        client_certs: at.client_certs.as_deref(),
        ep: &at.ep,
        client: &client,
        host: &host,
        method: &parts.method,
        path: prepared.as_ref().map_or(parts.uri.path(), |p| &p.path),
        query: match &prepared {
            Ok(p) => p.query.as_deref(),
            Err(_) => parts.uri.query(),
        },
        has_body: !body.is_end_stream(),
    };
    let authority = parts.uri.authority().map(|a| a.as_str().to_owned());
    let mut log = Log {
        asked,
        received,
        ..Log::default()
    };
    if shared.metrics.traefik.is_some() {
        log.protocol = crate::metrics_traefik::protocol(&headers);
    }
    let forwarded = match &prepared {
        Ok(_) => h2_forward(&shared, &inbound, &mut headers, authority, body, &mut log).await,
        Err(why) => Err(ProxyError::BadRequest(why.reason().into())),
    };
    let resp = match forwarded {
        Ok(r) => r,
        Err(e) => e.answer(&log).into_response(),
    };
    // Recorded as the answer's head goes out: its body's length is the declared one.
    log.sent = declared_length(resp.headers()).unwrap_or_else(|| {
        hyper::body::Body::size_hint(resp.body())
            .exact()
            .unwrap_or(0)
    });
    record(&shared, &inbound, &log, resp.status().as_u16(), start);
    crate::mirror::dispatch(&shared, &mut log);
    resp
}

async fn h2_forward(
    shared: &Shared,
    req: &Inbound<'_>,
    headers: &mut HeaderMap,
    authority: Option<String>,
    body: hyper::body::Incoming,
    log: &mut Log,
) -> Result<Response<ProxyBody>, ProxyError> {
    let mut body = H2Body::new(body, req.ep.header_timeout);
    let plan = match plan(shared, req, headers, log, &mut body).await? {
        Planned::Forward(p) => p,
        Planned::Answer(a) => return Ok(a.into_response()),
    };
    match h2_send(shared, req, headers, authority, body, log, &plan).await {
        Ok(resp) if plan.catches(resp.status().as_u16()) => {
            let status = resp.status().as_u16();
            match plan.error_page(shared, req, headers, status).await {
                Some(a) => Ok(a.into_response()),
                None => Ok(resp),
            }
        }
        Err(e) if plan.catches(e.status().as_u16()) => {
            match plan
                .error_page(shared, req, headers, e.status().as_u16())
                .await
            {
                Some(a) => Ok(a.into_response()),
                None => Ok(decorated(&plan.fx, e.answer(log)).into_response()),
            }
        }
        Err(e) => Ok(decorated(&plan.fx, e.answer(log)).into_response()),
        other => other,
    }
}

/// [`h2_forward`] after the middlewares: a backend, the exchange, the answer.
async fn h2_send(
    shared: &Shared,
    req: &Inbound<'_>,
    headers: &mut HeaderMap,
    authority: Option<String>,
    body: H2Body,
    log: &mut Log,
    plan: &Plan,
) -> Result<Response<ProxyBody>, ProxyError> {
    let retryable = body.replayable();
    let declared = crate::middleware::Body::declared(&body);
    let (read, incoming) = body.into_parts();
    let limit = plan.fx.max_request_body;
    if let (Some(max), Some(declared)) = (limit, declared) {
        if declared > max {
            return Err(ProxyError::PayloadTooLarge);
        }
    }
    let mut body = incoming;
    let mut tried: Option<String> = None;
    // A refused connection is retried once elsewhere when the request has no body (nothing
    // reached the backend), and so is an idempotent request whose connection the backend
    // closed before answering (RFC 9110 9.2.2), on the same backend when it is the only one.
    let started = Instant::now();
    let mut tries = 0;
    let mut cause = None;
    let resp = loop {
        tries += 1;
        let (backend, addr) = plan
            .pick_again(shared, tried.as_deref(), &mut cause)
            .await?;
        log.backend = Some(addr);
        log.tried(&shared.config, &backend.def.url, started);
        let path = plan.fx.path.as_deref().unwrap_or(req.path);
        let reach = plan.reach(shared, backend)?;
        let (sending, upload) = crate::upload_watch::watch(
            match (&read, body.take(), limit) {
                // Read whole by a middleware: sent from memory, on every attempt.
                (Some(b), _, _) => full(b.clone()),
                (None, Some(b), None) => b.map_err(box_error).boxed(),
                // Counted as it passes; past the limit the stream fails with a
                // LengthLimitError.
                (None, Some(b), Some(max)) => {
                    http_body_util::Limited::new(b, usize::try_from(max).unwrap_or(usize::MAX))
                        .boxed()
                }
                (None, None, _) => empty(),
            },
            reach.response_timeout,
        );
        let mut out = Request::new(sending);
        *out.method_mut() = req.method.clone();
        let scheme = if reach.tls.is_some() { "https" } else { "http" };
        *out.uri_mut() = backend_uri(scheme, addr, &backend.def.target_path(path), req.query)?;
        let h2c = backend.def.url.starts_with("h2c://");
        *out.headers_mut() =
            forward_headers(req, plan, headers.clone(), false, || authority.clone());
        if let Some(h) = &reach.host {
            out.headers_mut().insert(header::HOST, h.clone());
        }
        let mut inflight = InFlight::start(&backend.state);
        let sent = async {
            let legacy = match &reach.tls {
                Some(t) => t.client().request(out).await,
                None if h2c => {
                    return shared
                        .h2c
                        .send(addr, reach.connect_timeout, out)
                        .await
                        .map_err(Failed::Send)
                }
                None => shared.client.request(out).await,
            };
            legacy.map_err(|e| {
                if limit.is_some() && over_limit(&e) {
                    Failed::TooLarge
                } else {
                    Failed::Send(classify(e))
                }
            })
        };
        // As Go's ResponseHeaderTimeout: from the moment the body has been sent whole.
        let answer_due = async {
            upload.sent().await;
            tokio::time::sleep(reach.response_timeout).await;
        };
        let outcome = tokio::select! {
            r = sent => Ok(r),
            () = answer_due => Err(()),
        };
        match outcome {
            Err(()) => return Err(ProxyError::GatewayTimeout),
            Ok(Err(_)) if upload.stalled() => {
                // The client stopped sending its body: not the backend's failure.
                inflight.settled();
                return Err(ProxyError::GatewayTimeout);
            }
            Ok(Ok(r)) => {
                inflight.answered(r.status().as_u16());
                shared.registry.mark_up(&backend.state);
                if plan.fail_over(r.status().as_u16())? {
                    tried = None;
                    continue;
                }
                let status = Some((r.status().as_u16(), req.method.as_str()));
                let upgrade = r.status() == StatusCode::SWITCHING_PROTOCOLS;
                if plan
                    .try_again(retryable && !upgrade, tries, started, status)
                    .await
                {
                    tried = Some(backend.def.url.clone());
                    continue;
                }
                break r;
            }
            Ok(Err(Failed::TooLarge)) => {
                inflight.settled();
                return Err(ProxyError::PayloadTooLarge);
            }
            Ok(Err(Failed::Send(e))) => match e {
                SendError::Connect { detail, timed_out } => {
                    shared.registry.mark_down(&backend.state);
                    let failed = match timed_out {
                        true => ProxyError::GatewayTimeout,
                        false => ProxyError::BadGateway(detail),
                    };
                    // As over HTTP/1.1: elsewhere while another server is usable (up to
                    // 3 tries), and once more after a refusal.
                    let elsewhere = tries < crate::conn::SILENT_TRIES
                        && plan.another_usable(shared, &backend.def.url);
                    let again = plan.try_again(retryable, tries, started, None).await
                        || (retryable && (elsewhere || (!timed_out && tried.is_none())));
                    if !again {
                        return Err(failed);
                    }
                    cause = Some(failed);
                    tried = Some(backend.def.url.clone());
                    continue;
                }
                SendError::Request(detail, closed) => {
                    // Not `retry`'s to try again: the request may have reached the backend
                    // (Traefik's retries only what reached none; a request the pooled client
                    // could not write on a kept connection it sends again itself). An
                    // idempotent one the backend closed on goes once more (RFC 9110 9.2.2).
                    let again =
                        retryable && tried.is_none() && req.method.is_idempotent() && closed;
                    if !again {
                        return Err(ProxyError::BadGateway(detail));
                    }
                    tracing::debug!(backend = %addr, error = %detail, "no answer; trying again");
                    cause = Some(ProxyError::BadGateway(detail));
                    tried = Some(backend.def.url.clone());
                    continue;
                }
            },
        }
    };
    if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
        // Upgrades are an HTTP/1.1 mechanism (RFC 9113 8.6); nothing asked for one here.
        return Err(ProxyError::BadGateway(
            "the backend upgraded a request that did not ask to".into(),
        ));
    }
    let (mut parts, body) = resp.into_parts();
    finish_response(shared, plan, req.scheme, &mut parts.headers);
    let mut body: ProxyBody = body.map_err(box_error).boxed();
    // A HEAD answer's length is the GET's: it has no body to hold.
    if let Some(max) = plan
        .fx
        .max_response_body
        .filter(|_| req.method != Method::HEAD)
    {
        body = within(&parts.headers, body, max).await?;
    }
    if plan.fx.sniff && req.method != Method::HEAD {
        body = sniff_body(&mut parts.headers, body).await;
    }
    if let Some(enc) = compression(plan, req.method, parts.status, &parts.headers) {
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

/// Whether a request failed because its body passed `buffering`'s limit.
fn over_limit(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut src = Some(e);
    while let Some(s) = src {
        if s.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        src = s.source();
    }
    false
}

/// `buffering.maxResponseBodyBytes` for an answer through hyper: a declared length over `max`
/// is refused before anything is sent, and a body is read whole (up to `max`) first.
pub async fn within(
    headers: &HeaderMap,
    body: ProxyBody,
    max: u64,
) -> Result<ProxyBody, ProxyError> {
    let too_large =
        || ProxyError::Internal("the answer is over buffering.maxResponseBodyBytes".into());
    if declared_length(headers).is_some_and(|n| n > max) {
        return Err(too_large());
    }
    let mut body = body;
    let mut whole = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| ProxyError::BadGateway(format!("reading the answer: {e}")))?;
        if let Ok(data) = frame.into_data() {
            whole.extend_from_slice(&data);
            if whole.len() as u64 > max {
                return Err(too_large());
            }
        }
    }
    Ok(full(whole.freeze()))
}

/// `contentType`: an answer without a `Content-Type` gets the one its first bytes say (Go's
/// sniffing of the first write), when it has any.
pub async fn sniff_body(headers: &mut HeaderMap, mut body: ProxyBody) -> ProxyBody {
    // Not an answer with a Content-Encoding either, as Go's server (its bytes are not the
    // content's).
    if headers.contains_key(header::CONTENT_TYPE) || headers.contains_key(header::CONTENT_ENCODING)
    {
        return body;
    }
    let first = loop {
        match body.frame().await {
            Some(Ok(f)) if f.data_ref().is_some_and(Bytes::is_empty) => continue,
            other => break other,
        }
    };
    let Some(first) = first else {
        return empty();
    };
    if let Ok(f) = &first {
        if let Some(data) = f.data_ref() {
            if let Ok(v) = HeaderValue::from_str(crate::sniff::detect(data)) {
                headers.insert(header::CONTENT_TYPE, v);
            }
        }
    }
    let rest = http_body_util::BodyStream::new(body);
    http_body_util::StreamBody::new(futures_util::StreamExt::chain(
        futures_util::stream::once(std::future::ready(first)),
        rest,
    ))
    .boxed()
}

/// Why an HTTP/2 client's request did not get an answer.
enum Failed {
    /// Its body passed `buffering`'s limit.
    TooLarge,
    /// The exchange failed.
    Send(SendError),
}

/// Sorts a shared-pool error into "not connected" and "failed after connecting".
fn classify(e: hyper_util::client::legacy::Error) -> SendError {
    if e.is_connect() {
        let detail = crate::error_text::chain(&e);
        SendError::Connect {
            timed_out: detail.contains("timed out"),
            detail,
        }
    } else {
        SendError::Request(crate::error_text::chain(&e), closed_before_answer(&e))
    }
}

/// Whether the backend closed (or reset) the connection before any answer: the request may
/// be sent again when it is idempotent.
fn closed_before_answer(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut src = Some(e);
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

/// Every line of header `name` as one value (`a, b`), as Go's `Header.Values` read one after
/// the other: `Accept-Encoding` may come in several lines.
fn combined<'h>(
    headers: &'h HeaderMap,
    name: &HeaderName,
) -> Option<std::borrow::Cow<'h, HeaderValue>> {
    let mut lines = headers.get_all(name).iter();
    let first = lines.next()?;
    let Some(second) = lines.next() else {
        return Some(std::borrow::Cow::Borrowed(first));
    };
    let mut all = first.as_bytes().to_vec();
    for v in std::iter::once(second).chain(lines) {
        all.extend_from_slice(b", ");
        all.extend_from_slice(v.as_bytes());
    }
    HeaderValue::from_bytes(&all)
        .ok()
        .map(std::borrow::Cow::Owned)
}

fn backend_uri(
    scheme: &str,
    addr: SocketAddr,
    path: &str,
    query: Option<&str>,
) -> Result<Uri, ProxyError> {
    let pq = match query {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    };
    Uri::builder()
        .scheme(scheme)
        .authority(addr.to_string())
        .path_and_query(pq)
        .build()
        .map_err(|e| ProxyError::BadRequest(e.to_string()))
}

/// Sets header `k` to `v`; an empty value removes it (an invalid name or value is skipped:
/// the configuration's were checked when read).
pub(crate) fn set_header(h: &mut HeaderMap, k: &str, v: &str) {
    let Ok(name) = HeaderName::from_bytes(k.as_bytes()) else {
        return;
    };
    if v.is_empty() {
        h.remove(&name);
    } else if let Ok(value) = HeaderValue::from_str(v) {
        h.insert(name, value);
    }
}

/// Removes the hop-by-hop headers, those a `Connection` header names, and `Upgrade`.
pub fn strip_hop_by_hop(h: &mut HeaderMap) {
    remove_connection_named(h);
    remove_all(h, &HOP_BY_HOP);
}

/// Removes every header of `names` (at most 16) the map has: one pass over the map's names (a
/// few), then a removal for each one present, instead of a lookup for each of `names` (this
/// runs several times per proxied request).
pub(crate) fn remove_all(h: &mut HeaderMap, names: &[HeaderName]) {
    debug_assert!(names.len() <= 16);
    let mut present = [false; 16];
    for k in h.keys() {
        if let Some(i) = names.iter().take(16).position(|n| n == k) {
            present[i] = true;
        }
    }
    for (name, _) in names.iter().zip(present).filter(|(_, p)| *p) {
        h.remove(name);
    }
}

/// Removes the headers a `Connection` header names (RFC 9110 7.6.1), except those Traefik
/// manages ([`managed`]): its entry point never lets `Connection` remove them (RFC 7230 6.1: a
/// proxy sets its own), so a trusted client's `X-Forwarded-*` reach the backend and an
/// untrusted one's are replaced by the router's.
pub(crate) fn remove_connection_named(h: &mut HeaderMap) {
    if !h.contains_key(header::CONNECTION) {
        return;
    }
    let named: Vec<HeaderName> = h
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .filter(|n| !managed(n))
        .collect();
    for name in &named {
        h.remove(name);
    }
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_TRAEFIK_ROUTER: HeaderName = HeaderName::from_static("x-traefik-router");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");
const X_FORWARDED_SERVER: HeaderName = HeaderName::from_static("x-forwarded-server");
const X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");

/// Headers Traefik manages: from a client it does not trust (`forwardedHeaders`), they are
/// removed before its own are set. Every `X-Forwarded-*` it knows (`-For`, `-Proto`, `-Host`,
/// `-Port`, `-Server`, `-Uri`, `-Method`, `-Prefix`, `-Scheme`, `-Tls-Client-Cert*`) and
/// `X-Scheme`, `X-Real-IP`; and their forms with `_` for `-` (`X_Forwarded_For`), which a
/// server may read as the same header, as Traefik's `isManagedXHeader` counts them.
pub(crate) fn managed(name: &HeaderName) -> bool {
    const FORWARDED: [&str; 11] = [
        "proto",
        "scheme",
        "for",
        "host",
        "port",
        "server",
        "uri",
        "method",
        "prefix",
        "tls-client-cert",
        "tls-client-cert-info",
    ];
    let n = match name.as_str() {
        u if u.contains('_') => std::borrow::Cow::Owned(u.replace('_', "-")),
        n => std::borrow::Cow::Borrowed(n),
    };
    match n.strip_prefix("x-forwarded-") {
        Some(rest) => FORWARDED.contains(&rest),
        None => n == "x-scheme" || n == "x-real-ip",
    }
}

/// The router's host name as a header value, for `X-Forwarded-Server` (none when empty).
fn hostname() -> Option<&'static HeaderValue> {
    static NAME: std::sync::OnceLock<Option<HeaderValue>> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .or_else(|_| std::fs::read_to_string("/etc/hostname"))
            .ok()
            .and_then(|h| HeaderValue::from_str(h.trim()).ok())
            .filter(|v| !v.is_empty())
    })
    .as_ref()
}

/// What [`add_forwarded`] needs beside the request.
struct Forwarded {
    /// The client's `X-Forwarded-For`, before hop-by-hop headers were removed.
    xff_before: Option<String>,
    /// The `Host` header as received.
    host: Option<HeaderValue>,
    /// A WebSocket upgrade: `X-Forwarded-Proto` is `ws` or `wss`, as Traefik sets it.
    websocket: bool,
}

/// `X-Forwarded-Port` as Traefik sets it: the `Host` header's port, else 443 for `https` and
/// `wss`, else 80 (the port the client used, not the listener's, which a published port hides).
pub(crate) fn forwarded_port(
    host: Option<&HeaderValue>,
    proto: Option<&HeaderValue>,
) -> HeaderValue {
    let explicit = host
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.rsplit_once(':'))
        .filter(|(name, port)| {
            !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
                && (!name.contains(':') || name.ends_with(']'))
        })
        .and_then(|(_, port)| HeaderValue::from_str(port).ok());
    explicit.unwrap_or_else(|| match proto.map(HeaderValue::as_bytes) {
        Some(b"https" | b"wss") => HeaderValue::from_static("443"),
        _ => HeaderValue::from_static("80"),
    })
}

/// The request's headers as Traefik's entry point leaves them for its middlewares: an
/// untrusted client's `X-Forwarded-*` replaced by the router's own (what an authentication
/// server is sent).
pub(crate) fn entry_point_headers(req: &Inbound<'_>, h: &HeaderMap) -> HeaderMap {
    let mut out = h.clone();
    let xff_before = xff_lines(h);
    let websocket = websocket_handshake(h);
    let host = h.get(header::HOST).cloned();
    add_forwarded(
        &mut out,
        Forwarded {
            xff_before,
            host,
            websocket,
        },
        req,
    );
    out
}

/// A WebSocket handshake, as Traefik tells one for `X-Forwarded-Proto` (`ws`, `wss`):
/// `Connection` lists `upgrade` and `Upgrade` lists `websocket`, among other tokens and in
/// any case.
fn websocket_handshake(h: &HeaderMap) -> bool {
    let lists = |name: header::HeaderName, token: &str| {
        h.get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };
    lists(header::CONNECTION, "upgrade") && lists(header::UPGRADE, "websocket")
}

/// The request's `X-Forwarded-For` lines as one list: Traefik's entry point joins them with
/// `, ` (RFC 9110 5.3) before Go's reverse proxy appends the client's address.
fn xff_lines(h: &HeaderMap) -> Option<String> {
    combined(h, &X_FORWARDED_FOR).and_then(|v| v.to_str().ok().map(str::to_owned))
}

/// `X-Forwarded-*` and `X-Real-IP`, as Traefik sets them: values already there (a trusted
/// client's, or a middleware's: an untrusted client's were removed before routing) are kept,
/// `For` is appended to.
fn add_forwarded(h: &mut HeaderMap, f: Forwarded, req: &Inbound<'_>) {
    let Forwarded {
        xff_before,
        host,
        websocket,
    } = f;
    // Room for the headers below at once, not by doubling as they come.
    h.reserve(7);
    let client_text = req.client;
    let xff = match xff_before {
        Some(prev) if !prev.is_empty() => format!("{prev}, {client_text}"),
        _ => client_text.to_owned(),
    };
    if let Ok(v) = HeaderValue::from_str(&xff) {
        h.insert(X_FORWARDED_FOR, v);
    }
    let set_missing = |h: &mut HeaderMap, k: HeaderName, v: HeaderValue| {
        if let hyper::http::header::Entry::Vacant(e) = h.entry(k) {
            e.insert(v);
        }
    };
    if let Ok(v) = HeaderValue::from_str(client_text) {
        set_missing(h, X_REAL_IP, v);
    }
    let proto = match (websocket, req.scheme) {
        (true, "https") => "wss",
        (true, _) => "ws",
        (false, scheme) => scheme,
    };
    set_missing(h, X_FORWARDED_PROTO, HeaderValue::from_static(proto));
    if !h.contains_key(X_FORWARDED_PORT) {
        let port = forwarded_port(host.as_ref(), h.get(X_FORWARDED_PROTO));
        h.insert(X_FORWARDED_PORT, port);
    }
    match host {
        Some(v) => set_missing(h, X_FORWARDED_HOST, v),
        None => {
            if let Ok(v) = HeaderValue::from_str(req.host) {
                set_missing(h, X_FORWARDED_HOST, v);
            }
        }
    }
    // A trusted client's was removed before the middlewares (Traefik's entry point replaces
    // it); a middleware's stays.
    if let Some(v) = hostname() {
        set_missing(h, X_FORWARDED_SERVER, v.clone());
    }
}

/// What Traefik's entry point does to the `X-Forwarded-*` headers before routing (what a
/// middleware sets afterwards is kept): an untrusted client's go; a trusted client's
/// `X-Forwarded-For` lines become one list, joined with `, ` in order (what the middlewares
/// read: `ipStrategy.depth` counts from its end), and its `X-Forwarded-Server` goes (the
/// entry point sets its own whoever the client is).
pub(crate) fn entry_point_forwarded(trusted: bool, headers: &mut HeaderMap) {
    if !trusted {
        remove_managed(headers);
        return;
    }
    if let Some(std::borrow::Cow::Owned(joined)) = combined(headers, &X_FORWARDED_FOR) {
        headers.insert(X_FORWARDED_FOR, joined);
    }
    headers.remove(X_FORWARDED_SERVER);
}

/// Removes the headers [`managed`] names (an untrusted client's).
fn remove_managed(h: &mut HeaderMap) {
    let present: Vec<HeaderName> = h.keys().filter(|k| managed(k)).cloned().collect();
    for name in present {
        h.remove(name);
    }
}

/// A body error as the boxed error of [`ProxyBody`].
fn box_error(e: hyper::Error) -> BoxError {
    Box::new(e)
}

#[cfg(test)]
mod traefik_tables;

#[cfg(test)]
mod tests {
    use super::{forwarded_port, logs_access, managed};

    /// Each of the router's own pages as Traefik's code writes it: with `http.Error` (the
    /// text, a newline, nosniff), as the status text alone (`rw.Write(StatusText)`: its
    /// type sniffed), go-http-auth's 401, or a bare status (`forwardAuth`'s failures).
    #[test]
    fn the_routers_own_pages_are_written_as_traefiks() {
        use super::ProxyError as E;
        // (error, body, content type, nosniff)
        let plain = "text/plain; charset=utf-8";
        for (e, body, kind, nosniff) in [
            (E::NotFound, "404 page not found\n", plain, true),
            (E::NoBackend, "no available server\n", plain, true),
            (E::Misdirected, "Misdirected Request\n", plain, true),
            (E::BadRequest("x".into()), "Bad Request\n", plain, true),
            (E::Forbidden, "Forbidden", plain, false),
            (E::BadGateway("x".into()), "Bad Gateway", plain, false),
            (E::GatewayTimeout, "Gateway Timeout", plain, false),
            (E::RateLimited, "Too Many Requests", plain, false),
            (
                E::Unauthorized("r".into()),
                "401 Unauthorized\n",
                "text/plain",
                false,
            ),
            (E::AuthRefused, "", "", false),
            (E::AuthFailed("x".into()), "", "", false),
        ] {
            let a = e.answer(&super::Log::default());
            let header = |h: &str| {
                a.headers
                    .get(h)
                    .map(|v| v.to_str().unwrap().to_owned())
                    .unwrap_or_default()
            };
            assert_eq!(String::from_utf8_lossy(&a.body), body, "{e:?}");
            assert_eq!(header("content-type"), kind, "{e:?}");
            assert_eq!(
                header("x-content-type-options") == "nosniff",
                nosniff,
                "{e:?}"
            );
            assert_eq!(a.status, e.status(), "{e:?}");
        }
    }

    /// Traefik's precedence (`applyModel`, then `shouldAccessLog`): the router's own
    /// `observability.accessLogs`, else the entry point's, else on; nothing without the
    /// access log (`internal_test.go` `models.json`: an entry point with `accessLogs: false`).
    #[test]
    fn a_routers_own_access_log_setting_wins_over_its_entry_points() {
        // (access log on, entry point's, router's own, logged)
        for (on, ep, router, want) in [
            (true, true, None, true),
            (true, false, None, false),
            (true, false, Some(true), true),
            (true, true, Some(false), false),
            (false, true, Some(true), false),
        ] {
            assert_eq!(logs_access(on, ep, router), want, "{on} {ep} {router:?}");
        }
    }
    use hyper::header::HeaderName;

    #[test]
    fn accept_encoding_in_several_lines_is_read_whole() {
        use crate::compress::{negotiate_with, Encoding};
        use hyper::header::{HeaderMap, HeaderValue, ACCEPT_ENCODING};
        let mut h = HeaderMap::new();
        let o = Default::default();
        h.append(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
        assert_eq!(
            negotiate_with(super::combined(&h, &ACCEPT_ENCODING).as_deref(), &o),
            None
        );
        // Go reads every line (Header.Values): the second one offers gzip.
        h.append(ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
        assert_eq!(
            super::combined(&h, &ACCEPT_ENCODING).unwrap().as_bytes(),
            b"identity, gzip"
        );
        assert_eq!(
            negotiate_with(super::combined(&h, &ACCEPT_ENCODING).as_deref(), &o),
            Some(Encoding::Gzip)
        );
    }

    #[test]
    fn the_headers_traefik_manages_are_known() {
        for n in [
            "x-forwarded-for",
            "x-forwarded-proto",
            "x-forwarded-host",
            "x-forwarded-port",
            "x-forwarded-server",
            "x-forwarded-uri",
            "x-forwarded-method",
            "x-forwarded-prefix",
            "x-forwarded-scheme",
            "x-forwarded-tls-client-cert",
            "x-forwarded-tls-client-cert-info",
            "x-real-ip",
            "x-scheme",
        ] {
            assert!(managed(&HeaderName::from_static(n)), "{n}");
        }
        for n in [
            "x-forwarded-user",
            "x-forwarded",
            "forwarded",
            "x-request-id",
        ] {
            assert!(!managed(&HeaderName::from_static(n)), "{n}");
        }
    }
    use hyper::header::HeaderValue;

    fn port(host: Option<&str>, proto: &str) -> String {
        let host = host.map(|h| HeaderValue::from_str(h).unwrap());
        let proto = HeaderValue::from_str(proto).unwrap();
        forwarded_port(host.as_ref(), Some(&proto))
            .to_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn the_forwarded_port_is_the_hosts_else_the_schemes() {
        assert_eq!(port(Some("a.example:8443"), "https"), "8443");
        assert_eq!(port(Some("a.example"), "https"), "443");
        assert_eq!(port(Some("a.example"), "wss"), "443");
        assert_eq!(port(Some("a.example"), "http"), "80");
        assert_eq!(port(Some("a.example"), "ws"), "80");
        assert_eq!(port(None, "http"), "80");
        assert_eq!(port(Some("[::1]:81"), "http"), "81");
        assert_eq!(port(Some("[::1]"), "https"), "443");
        assert_eq!(port(Some("a.example:"), "http"), "80");
    }
}
