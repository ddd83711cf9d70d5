//! One request, in named phases: canonicalise, decide, read the body (inspect it), rewrite,
//! forward, answer (bridging an upgrade), audit.
//!
//! What is forwarded is exactly what was judged: the canonical target ([`Target::forward_uri`]),
//! the inspected bytes (not a re-read of the stream), and a connection upgrade only for an
//! endpoint that upgrades and only after the daemon answered 101.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::{Body as _, Incoming};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use policies::path::{canonicalize, Target};
use policies::{Allowed, Decision};

use crate::audit::Audit;
use crate::body::{Audited, GuardBody, GuardBodyExt};
use crate::error::GuardError;
use crate::response::json_error;
use crate::server::State;
use crate::upstream::ConnUpstream;

/// How long an inspected body may take to arrive.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// Hop-by-hop headers (RFC 9110 7.6.1), never forwarded as such.
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

/// Handles one request from a client. Never fails: every error becomes a JSON answer.
pub async fn handle(
    state: Arc<State>,
    upstream: Arc<ConnUpstream>,
    client: Arc<str>,
    req: Request<Incoming>,
) -> Response<Audited> {
    let start = Instant::now();
    let method = req.method().as_str().to_owned();
    let raw = req.uri().to_string();
    let head = req.method() == Method::HEAD;
    let wants_upgrade = req.headers().contains_key(header::UPGRADE);
    let mut audit = Audit {
        client,
        method: method.clone(),
        path: raw.clone(),
        endpoint: "-",
        decision: "invalid",
        reason: String::new(),
        section: "none",
        status: 0,
        start,
        stream: false,
        metrics: state.metrics.clone(),
    };

    // Phase 1: canonicalise.
    let target = match canonicalize(&raw) {
        Ok(t) => t,
        Err(e) => return refuse(audit, GuardError::BadTarget(e), &raw, head, wants_upgrade),
    };
    audit.path = target.to_string();

    // Phase 2: decide.
    let decision = state.config.policy.decide(policies::Request {
        method: &method,
        target: &target,
    });
    let allowed = match decision {
        Decision::Allow(a) => a,
        Decision::Deny(d) => {
            audit.endpoint = d.endpoint.map_or("unknown", |e| e.name);
            audit.section = d.endpoint.map_or("none", |e| e.section.var());
            audit.reason = d.message.clone();
            let path = target.path().to_owned();
            return refuse(audit, GuardError::Denied(d), &path, head, wants_upgrade);
        }
    };
    audit.endpoint = allowed.name();
    audit.section = allowed.endpoint.map_or("none", |e| e.section.var());
    audit.reason = allowed.by.clone();

    match forward(
        &state,
        &upstream,
        req,
        &target,
        &allowed,
        wants_upgrade,
        audit.endpoint,
    )
    .await
    {
        Ok(resp) => {
            audit.decision = "allow";
            audit.status = resp.status().as_u16();
            let (parts, body) = resp.into_parts();
            if !body.is_end_stream() {
                audit.open_stream();
            }
            Response::from_parts(parts, Audited::new(body, audit))
        }
        Err(e) => {
            if matches!(e, GuardError::Upstream(_)) {
                state.metrics.upstream_errors.inc();
            }
            let path = target.path().to_owned();
            let close = wants_upgrade || matches!(e, GuardError::Framing(_));
            refuse(audit, e, &path, head, close)
        }
    }
}

/// The answer to a request whose framing was refused below hyper (see [`crate::framing`]):
/// 400 with the reason, and the connection closes.
pub fn framing_refusal(
    state: &State,
    client: Arc<str>,
    err: crate::framing::FramingError,
) -> Response<Audited> {
    let audit = Audit {
        client,
        method: "-".into(),
        path: "-".into(),
        endpoint: "-",
        decision: "invalid",
        reason: format!("malformed request framing: {err}"),
        section: "none",
        status: 400,
        start: Instant::now(),
        stream: false,
        metrics: state.metrics.clone(),
    };
    let message = format!("socket-guard: malformed request framing: {err}");
    let (parts, body) = json_error(StatusCode::BAD_REQUEST, &message, false, true).into_parts();
    Response::from_parts(parts, Audited::new(body, audit))
}

/// Answers an error in the client's terms.
fn refuse(
    mut audit: Audit,
    err: GuardError,
    path: &str,
    head: bool,
    close: bool,
) -> Response<Audited> {
    let status = err.status();
    audit.decision = err.decision();
    audit.status = status.as_u16();
    if audit.reason.is_empty() || matches!(err, GuardError::BodyDenied(_) | GuardError::Upstream(_))
    {
        audit.reason = err.to_string();
    }
    let message = err.message(&audit.method, path);
    let resp = json_error(status, &message, head, close);
    let (parts, body) = resp.into_parts();
    Response::from_parts(parts, Audited::new(body, audit))
}

/// Phases 3 to 6 for an allowed request.
async fn forward(
    state: &Arc<State>,
    upstream: &ConnUpstream,
    mut req: Request<Incoming>,
    target: &Target,
    allowed: &Allowed,
    wants_upgrade: bool,
    endpoint: &'static str,
) -> Result<Response<GuardBody>, GuardError> {
    let client_upgrade = (allowed.upgrade && wants_upgrade).then(|| hyper::upgrade::on(&mut req));
    let (parts, incoming) = req.into_parts();

    // Phase 3: the body, read by its real framing (hyper's, after framing::Checked).
    let (body, length) = if let Some(kind) = allowed.inspect {
        let bytes = read_body(incoming, state.config.max_body).await?;
        state
            .config
            .policy
            .inspect_body(kind, &bytes)
            .map_err(GuardError::BodyDenied)?;
        let len = bytes.len();
        (GuardBody::full(bytes), Some(len))
    } else if allowed.empty_body {
        read_body(incoming, 0).await.map_err(|e| match e {
            GuardError::BodyTooLarge(_) => GuardError::BodyNotEmpty,
            other => other,
        })?;
        (GuardBody::empty(), Some(0))
    } else {
        (incoming.boxed(), None)
    };

    // Phase 4: rewrite.
    let uri = crate::upstream::uri(&target.forward_uri())
        .map_err(|e| GuardError::Internal(e.to_string()))?;
    let mut out = Request::new(body);
    *out.method_mut() = parts.method;
    *out.uri_mut() = uri;
    *out.headers_mut() = forward_headers(parts.headers, client_upgrade.is_some());
    if let Some(len) = length {
        out.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }

    // Phase 5: forward.
    let mut resp = upstream.send(out).await.map_err(GuardError::Upstream)?;

    // Phase 6: answer, bridging an upgrade after the daemon's 101.
    if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
        let Some(client_upgrade) = client_upgrade else {
            return Err(GuardError::UnexpectedUpgrade);
        };
        let upstream_upgrade = hyper::upgrade::on(&mut resp);
        let metrics = state.metrics.clone();
        let name = endpoint;
        // The tunnel outlives this response; it holds its own place in the open-streams gauge.
        metrics.open_streams.inc();
        tokio::spawn(async move {
            let result = async {
                let (client, daemon) = tokio::try_join!(client_upgrade, upstream_upgrade)
                    .map_err(|e| e.to_string())?;
                let (mut client, mut daemon) = (TokioIo::new(client), TokioIo::new(daemon));
                // copy_bidirectional passes a half-close on in each direction: the docker CLI
                // closes its write side when stdin ends and still expects all output.
                tokio::io::copy_bidirectional(&mut client, &mut daemon)
                    .await
                    .map_err(|e| e.to_string())
            };
            match result.await {
                Ok((up, down)) => {
                    tracing::info!(target: "audit", endpoint = name, client_bytes = up, daemon_bytes = down, "tunnel closed")
                }
                Err(e) => {
                    tracing::debug!(endpoint = name, error = %e, "tunnel ended with an error")
                }
            }
            metrics.open_streams.dec();
        });
        let (parts, _) = resp.into_parts();
        let mut answer = Response::from_parts(parts, GuardBody::empty());
        strip_hop_by_hop(answer.headers_mut(), true);
        return Ok(answer);
    }
    let (mut parts, body) = resp.into_parts();
    strip_hop_by_hop(&mut parts.headers, false);
    if wants_upgrade {
        // A refused or unanswered upgrade ends the connection: no tunnel, no ambiguity.
        parts
            .headers
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    Ok(Response::from_parts(parts, body.boxed()))
}

/// Reads a whole body up to `max` bytes.
async fn read_body(body: Incoming, max: usize) -> Result<Bytes, GuardError> {
    let collected = tokio::time::timeout(BODY_TIMEOUT, Limited::new(body, max).collect())
        .await
        .map_err(|_| GuardError::BodyTimeout)?;
    match collected {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) => match e.downcast::<hyper::Error>() {
            Ok(h) => Err(framing_cause(&h).map_or(GuardError::BodyRead(*h), GuardError::Framing)),
            Err(_) => Err(GuardError::BodyTooLarge(max)),
        },
    }
}

/// The framing refusal behind a body read error, if that is what it was.
fn framing_cause(e: &hyper::Error) -> Option<crate::framing::FramingError> {
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        // io::Error::source skips its own payload, so look inside it.
        let payload = s
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref());
        if let Some(f) = payload.and_then(|p| p.downcast_ref::<crate::framing::FramingError>()) {
            return Some(*f);
        }
        src = s.source();
    }
    None
}

/// The client's headers minus hop-by-hop ones; with `Connection: Upgrade` and the client's
/// `Upgrade` restored for an allowed upgrade.
fn forward_headers(mut h: HeaderMap, upgrade: bool) -> HeaderMap {
    let upgrade_proto = if upgrade {
        h.get(header::UPGRADE).cloned()
    } else {
        None
    };
    if h.contains_key(header::TRANSFER_ENCODING) {
        // Chunked: hyper frames it again; a Content-Length beside it was refused earlier.
        h.remove(header::CONTENT_LENGTH);
    }
    strip_hop_by_hop(&mut h, false);
    // HTTP/1.1 needs a Host; the daemon ignores its value.
    h.insert(header::HOST, HeaderValue::from_static("docker"));
    if let Some(proto) = upgrade_proto {
        h.insert(header::UPGRADE, proto);
        h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    }
    h
}

/// Removes hop-by-hop headers, including any named in `Connection`. `keep_upgrade` keeps
/// `Connection` and `Upgrade` on a 101 answer.
fn strip_hop_by_hop(h: &mut HeaderMap, keep_upgrade: bool) {
    if keep_upgrade {
        return;
    }
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
