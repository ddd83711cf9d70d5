//! The middlewares on the request path, one file per kind behind one small interface: each
//! kind's `apply` reads and changes the request in flight ([`Request`]) and lets it go on
//! ([`Flow::Next`]), answers it itself ([`Flow::Answer`]: a redirect, an authentication
//! server's refusal), or refuses it with a [`ProxyError`]. What a middleware leaves for later
//! phases (the path to forward, headers for the answer) goes in [`Effects`].
//!
//! The configuration of each kind is plain data ([`crate::dynamic::Middleware`]); `chain`s
//! are expanded when routes are compiled, so none reaches here.

mod basic_auth;
mod circuit_breaker;
mod digest_auth;
mod errors;
mod forward_auth;
mod headers;
mod in_flight;
#[cfg(test)]
mod instances;
mod ip_allow_list;
mod pass_tls_client_cert;
mod prefix;
mod redirect;
mod replace_path;
#[cfg(test)]
mod traefik_tables;

use hyper::header::{HeaderMap, HeaderValue};

use crate::dynamic::Middleware;
use crate::proxy::{Answer, Inbound, Log, ProxyError};
use crate::server::Shared;

pub use basic_auth::UsersFiles;
pub use circuit_breaker::{Breakers, Watch as BreakerWatch};
pub use digest_auth::Nonces as DigestNonces;
pub use errors::page as error_page;
pub use forward_auth::{cookie_name, Clients as ForwardAuthClients};
pub use in_flight::Counts as InFlightCounts;
pub use ip_allow_list::max_delay as rate_limit_max_delay;

/// What the middlewares leave for the phases after them.
#[derive(Debug, Default)]
pub struct Effects {
    /// The path to forward (escaped, as sent), when a middleware changed it.
    pub path: Option<String>,
    /// Headers set on the answer (`None`: removed), in the order they are set: a later
    /// `headers` middleware's first, so an earlier one's win (in Traefik each wraps the answer
    /// of those after it, and the outermost sets its headers last).
    pub response_headers: Vec<(hyper::header::HeaderName, Option<HeaderValue>)>,
    /// `headers.addVaryHeader`: `Origin` added to the answer's `Vary`.
    pub vary_origin: bool,
    /// `headers.customRequestHeaders.X-Forwarded-For: ""`: the backend is sent no
    /// `X-Forwarded-For` at all (Traefik's way to turn it off).
    pub drop_xff: bool,
    /// Headers Traefik's entry point sets before the middlewares (`X-Forwarded-Proto`,
    /// `-Host`, `-Port`, `-Server`, `X-Real-Ip`) that a `headers` middleware removed (an empty
    /// value): the backend is not sent them, unless a later one set them again.
    pub deleted: Vec<hyper::header::HeaderName>,
    /// A `compress` middleware is on the route: its options.
    pub compress: Option<crate::dynamic::middleware::CompressOptions>,
    /// `forwardAuth.addAuthCookiesToResponse`: the backend's cookies of these names are
    /// dropped from the answer and [`Effects::cookies`] set instead.
    pub cookie_names: Vec<String>,
    /// `Set-Cookie` values of the authentication server's answer.
    pub cookies: Vec<HeaderValue>,
    /// The largest request body (`buffering`; the smallest when several).
    pub max_request_body: Option<u64>,
    /// The largest answer body (`buffering`; the smallest when several).
    pub max_response_body: Option<u64>,
    /// The `retry` policy (the innermost, when several).
    pub retry: Option<crate::dynamic::Retry>,
    /// `buffering.retryExpression` (the innermost, when several).
    pub retry_expression: Option<crate::dynamic::middleware::retry_expression::RetryExpression>,
    /// `errors` middlewares met so far, outermost first.
    pub error_pages: Vec<errors::Met>,
    /// `contentType`: an answer without a `Content-Type` gets the sniffed one.
    pub sniff: bool,
    /// `inFlightReq` counts, released when the plan is dropped (the answer done).
    pub held: Vec<in_flight::Held>,
}

/// `N` random bytes in base64 (`padded` or not), for the nonces and keys middlewares make;
/// empty if the system's generator failed (it does not on Linux): a value an attacker could
/// guess is never given out instead.
pub(crate) fn random_text<const N: usize>(padded: bool) -> String {
    use base64::Engine;
    let mut b = [0u8; N];
    if rustls::crypto::ring::default_provider()
        .secure_random
        .fill(&mut b)
        .is_err()
    {
        return String::new();
    }
    match padded {
        true => base64::engine::general_purpose::STANDARD.encode(b),
        false => base64::engine::general_purpose::STANDARD_NO_PAD.encode(b),
    }
}

/// The request's body as a middleware may ask for it: read whole, once, and kept for the
/// backend (`forwardAuth.forwardBody`). Otherwise it is never read before the backend is
/// reached, and streams there.
pub trait Body: Send {
    /// The whole body, at most `limit` bytes of data (the same bytes on later calls).
    fn read_all(&mut self, limit: u64) -> BodyFuture<'_>;
    /// Its length when known before reading (a `Content-Length`, or read already).
    fn declared(&self) -> Option<u64>;
    /// The whole body if it has at most `limit` bytes of data (then kept, as by
    /// [`Body::read_all`]); `None` if it has more, and the body then goes to the backend
    /// whole all the same, streamed as if it had not been read (a `mirroring` service copies
    /// only bodies up to its `maxBodySize`, of any framing).
    fn read_within(&mut self, limit: u64) -> BodyWithinFuture<'_>;
}

/// What [`Body::read_within`] gives.
pub type BodyWithinFuture<'b> = std::pin::Pin<
    Box<
        dyn std::future::Future<Output = Result<Option<bytes::Bytes>, http1_framing::io::BodyError>>
            + Send
            + 'b,
    >,
>;

/// A body read already, asked for again with `limit` (each asker has its own).
pub fn again(
    read: &bytes::Bytes,
    limit: u64,
) -> Result<bytes::Bytes, http1_framing::io::BodyError> {
    match read.len() as u64 > limit {
        true => Err(http1_framing::io::BodyError::TooLarge(limit)),
        false => Ok(read.clone()),
    }
}

/// What [`Body::read_all`] gives.
pub type BodyFuture<'b> = std::pin::Pin<
    Box<
        dyn std::future::Future<Output = Result<bytes::Bytes, http1_framing::io::BodyError>>
            + Send
            + 'b,
    >,
>;

/// A request on its way through the middlewares.
pub struct Request<'r, 'a> {
    /// Shared state (rate limit buckets, clients).
    pub shared: &'r Shared,
    /// The request as received.
    pub inbound: &'r Inbound<'a>,
    /// Its headers, as the middlewares before left them.
    pub headers: &'r mut HeaderMap,
    /// What is left for later phases.
    pub fx: &'r mut Effects,
    /// The access log's record.
    pub log: &'r mut Log,
    /// Its body, read only when a middleware asks.
    pub body: &'r mut dyn Body,
    /// The client connection's kept backend connections (HTTP/1.1), which a `forwardAuth`
    /// check uses as the request's backend does; `None`: the shared pool.
    pub kept: Option<&'r mut crate::upstream::Kept>,
}

impl Request<'_, '_> {
    /// The path as it will be forwarded so far (escaped).
    pub fn path(&self) -> &str {
        self.fx.path.as_deref().unwrap_or(self.inbound.path)
    }
}

/// A middleware in use: the instance of middleware `middleware` that router `router` runs,
/// at its `nth` place of that name in the router's chain. Traefik builds each router's
/// middlewares once per configuration and keeps one handler per router name, which the
/// entry points it is on share (`pkg/server/router/router.go`, `buildRouterHandler`), and
/// builds each name its chain lists as an instance of its own (`BuildMiddlewareChain`); an
/// entry point's model splits a router on several entry points into `<entrypoint>-<router>`
/// copies, each a router of its own. So a stateful middleware (`rateLimit`'s buckets,
/// `inFlightReq`'s counts, a `circuitBreaker`, `digestAuth`'s nonces) keeps its state apart
/// for each router using it and each place it has there (a chain and the router both listing
/// it: two instances).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InUse {
    /// The router (`name@provider`, or its `<entrypoint>-` copy).
    pub router: String,
    /// The middleware (`name@provider`).
    pub middleware: String,
    /// Its place among the router's middlewares of that name, from 0.
    pub nth: usize,
}

impl InUse {
    /// Middleware `name` at place `nth` of the request's router.
    fn of(r: &Request<'_, '_>, name: &str, nth: usize) -> InUse {
        InUse {
            router: r.log.router.clone(),
            middleware: name.to_owned(),
            nth,
        }
    }
}

/// The place of `middlewares[i]` among the middlewares of its name before it (see [`InUse`]).
pub fn nth<M>(middlewares: &[(String, M)], i: usize) -> usize {
    let Some((name, _)) = middlewares.get(i) else {
        return 0;
    };
    middlewares
        .iter()
        .take(i)
        .filter(|(n, _)| n == name)
        .count()
}

/// What a middleware decided.
#[derive(Debug)]
pub enum Flow {
    /// On to the next middleware, then the service.
    Next,
    /// The middleware answered; nothing reaches the service.
    Answer(Answer),
}

/// Runs middleware `name`, at place `nth` of that name in the router's chain ([`nth`]), on
/// the request.
pub async fn apply(
    name: &str,
    nth: usize,
    mw: &Middleware,
    r: &mut Request<'_, '_>,
) -> Result<Flow, ProxyError> {
    match mw {
        Middleware::IpAllowList {
            source_range,
            ip_strategy,
            reject_status_code,
        } => ip_allow_list::apply(source_range, ip_strategy, *reject_status_code, r),
        Middleware::BasicAuth {
            users,
            users_file,
            realm,
            remove_header,
            header_field,
        } => {
            let file = match users_file {
                Some(path) => Some(r.shared.users_files.get(path).map_err(|e| {
                    ProxyError::Internal(format!("middleware {name:?}: usersFile {path:?}: {e}"))
                })?),
                None => None,
            };
            basic_auth::apply(
                file.as_deref(),
                users,
                realm,
                *remove_header,
                header_field.as_deref(),
                r,
            )
            .await
        }
        Middleware::RateLimit {
            average,
            period,
            burst,
            source,
        } => ip_allow_list::rate_limit((name, nth), *average, *period, *burst, source, r),
        Middleware::RedirectScheme {
            scheme,
            port,
            permanent,
        } => redirect::scheme(scheme, *port, *permanent, r),
        Middleware::RedirectRegex {
            regex,
            replacement,
            permanent,
        } => redirect::regex(regex, replacement, *permanent, r),
        Middleware::StripPrefix { prefixes } => prefix::strip(prefixes, r),
        Middleware::StripPrefixRegex { regex } => prefix::strip_regex(regex, r),
        Middleware::AddPrefix { prefix } => prefix::add(prefix, r),
        Middleware::ReplacePath { path } => replace_path::literal(path, r),
        Middleware::ReplacePathRegex { regex, replacement } => {
            replace_path::regex(regex, replacement, r)
        }
        Middleware::Headers(h) => headers::apply(h, r),
        Middleware::InFlightReq { amount, source } => {
            in_flight::apply(InUse::of(r, name, nth), *amount, source, r)
        }
        Middleware::Compress(o) => {
            r.fx.compress = Some((**o).clone());
            Ok(Flow::Next)
        }
        // Boxed: the check's exchange is most of this future's size, which every route's
        // request would otherwise carry (and copy) whether it asks a server or not.
        Middleware::ForwardAuth(fa) => Box::pin(forward_auth::apply(name, fa, r)).await,
        Middleware::Errors(pages) => errors::apply(pages, r),
        Middleware::Buffering {
            max_request_body_bytes,
            max_response_body_bytes,
            retry_expression,
        } => {
            if retry_expression.is_some() {
                r.fx.retry_expression.clone_from(retry_expression);
            }
            let smallest = |now: Option<u64>, max: &Option<u64>| match (now, max) {
                (Some(a), Some(b)) => Some(a.min(*b)),
                (a, b) => a.or(*b),
            };
            r.fx.max_request_body = smallest(r.fx.max_request_body, max_request_body_bytes);
            r.fx.max_response_body = smallest(r.fx.max_response_body, max_response_body_bytes);
            Ok(Flow::Next)
        }
        Middleware::Retry(policy) => {
            r.fx.retry = Some((**policy).clone());
            Ok(Flow::Next)
        }
        Middleware::CircuitBreaker(cb) => circuit_breaker::apply(name, nth, cb, r),
        Middleware::PassTlsClientCert(p) => pass_tls_client_cert::apply(p, r),
        Middleware::ContentType { auto_detect } => {
            r.fx.sniff |= *auto_detect;
            Ok(Flow::Next)
        }
        Middleware::DigestAuth(d) => {
            let file = match &d.users_file {
                Some(path) => Some(r.shared.users_files.get_digest(path).map_err(|e| {
                    ProxyError::Internal(format!("middleware {name:?}: usersFile {path:?}: {e}"))
                })?),
                None => None,
            };
            digest_auth::apply(InUse::of(r, name, nth), d, file.as_deref(), r)
        }
        Middleware::EncodedCharacters(e) => {
            // The path as the middlewares before this one left it (Traefik's EscapedPath).
            let path = r.fx.path.as_deref().unwrap_or(r.inbound.path);
            match e.refused(path) {
                Some(code) => Err(ProxyError::BadRequest(format!(
                    "middleware {name:?}: the request path contains the encoded character {code}"
                ))),
                None => Ok(Flow::Next),
            }
        }
        Middleware::Chain { .. } => Err(ProxyError::Internal(format!(
            "middleware {name:?}: a chain reached the request path unexpanded"
        ))),
    }
}
