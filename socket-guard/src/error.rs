//! Everything that can go wrong with one request, and the status each answers with.
//!
//! One exhaustive `match` (no `_` arm) maps a variant to its status, so adding a variant forces
//! a decision about who is at fault: the client (4xx), the daemon (502) or us (500).

use hyper::StatusCode;
use policies::body::BodyDenial;
use policies::path::PathError;
use policies::Denied;

/// A request that is not forwarded, or whose forwarding failed.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    /// The target is not canonical.
    #[error("{0}")]
    BadTarget(#[from] PathError),
    /// The policy denies it.
    #[error("{}", .0.message)]
    Denied(Denied),
    /// The body asks for something the policy does not grant.
    #[error("{0}")]
    BodyDenied(BodyDenial),
    /// The body is larger than `GUARD_MAX_BODY`.
    #[error("the body is larger than {0} bytes (GUARD_MAX_BODY)")]
    BodyTooLarge(usize),
    /// The endpoint takes no body and one was sent.
    #[error("this endpoint takes no request body")]
    BodyNotEmpty,
    /// Reading the body failed.
    #[error("the request body could not be read: {0}")]
    BodyRead(String),
    /// The request line or header block is not valid HTTP/1.x.
    #[error("{0}")]
    BadHead(crate::wire::HeadError),
    /// The request head did not arrive within `GUARD_HEADER_TIMEOUT`.
    #[error("the request head did not arrive in time")]
    HeadTimeout,
    /// The body's framing was refused (see [`crate::framing`]).
    #[error("malformed request framing: {0}")]
    Framing(crate::framing::FramingError),
    /// The body did not arrive in time.
    #[error("the request body did not arrive in time")]
    BodyTimeout,
    /// The daemon could not be reached or failed mid-request.
    #[error("the Docker daemon is unreachable: {0}")]
    Upstream(String),
    /// The daemon answered 101 to a request that did not ask for an upgrade.
    #[error("the Docker daemon upgraded a connection that was not asked to upgrade")]
    UnexpectedUpgrade,
    /// Building the forwarded request failed (a bug).
    #[error("internal error: {0}")]
    Internal(String),
    /// An object outside the visible scope: answered as the daemon answers one that does
    /// not exist (`No such container: <id>`).
    #[error("{0}")]
    NotVisible(String),
    /// A request that reaches objects the visible scope cannot check.
    #[error("{0} (GUARD_VISIBLE_LABELS, GUARD_VISIBLE_NAMES, GUARD_OWNER)")]
    OutOfScope(&'static str),
    /// A request that owned objects forbid (a forged owner label, another's namespace).
    #[error("{0} (GUARD_OWNER)")]
    NotOwned(&'static str),
    /// A create or build that cannot be stamped with the owner label as sent.
    #[error("{0}")]
    BadOwnedRequest(String),
    /// The client sent more requests this second than `GUARD_MAX_REQUESTS_PER_CLIENT` allows.
    #[error(
        "more than {0} requests per second from this client (GUARD_MAX_REQUESTS_PER_CLIENT={0})"
    )]
    RateLimited(usize),
}

impl GuardError {
    /// The status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            GuardError::BadTarget(_) => StatusCode::BAD_REQUEST,
            GuardError::Denied(_) => StatusCode::FORBIDDEN,
            GuardError::BodyDenied(d) if d.is_malformed() => StatusCode::BAD_REQUEST,
            GuardError::BodyDenied(_) => StatusCode::FORBIDDEN,
            GuardError::BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            GuardError::BodyNotEmpty => StatusCode::BAD_REQUEST,
            GuardError::BodyRead(_) => StatusCode::BAD_REQUEST,
            GuardError::BadHead(crate::wire::HeadError::TooManyHeaders) => {
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
            }
            GuardError::BadHead(crate::wire::HeadError::Expectation(_)) => {
                StatusCode::EXPECTATION_FAILED
            }
            GuardError::BadHead(_) => StatusCode::BAD_REQUEST,
            GuardError::HeadTimeout => StatusCode::REQUEST_TIMEOUT,
            GuardError::Framing(_) => StatusCode::BAD_REQUEST,
            GuardError::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            GuardError::Upstream(_) => StatusCode::BAD_GATEWAY,
            GuardError::UnexpectedUpgrade => StatusCode::BAD_GATEWAY,
            GuardError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            GuardError::NotVisible(_) => StatusCode::NOT_FOUND,
            GuardError::OutOfScope(_) => StatusCode::FORBIDDEN,
            GuardError::NotOwned(_) => StatusCode::FORBIDDEN,
            GuardError::BadOwnedRequest(_) => StatusCode::BAD_REQUEST,
            GuardError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    /// The audit decision label: `deny` for policy refusals, `invalid` for malformed
    /// requests, `error` for failures after the request was allowed.
    pub fn decision(&self) -> &'static str {
        match self {
            GuardError::BodyDenied(d) if d.is_malformed() => "invalid",
            GuardError::Denied(_)
            | GuardError::BodyDenied(_)
            | GuardError::NotVisible(_)
            | GuardError::OutOfScope(_)
            | GuardError::NotOwned(_)
            | GuardError::RateLimited(_) => "deny",
            GuardError::BadTarget(_)
            | GuardError::BadOwnedRequest(_)
            | GuardError::BodyTooLarge(_)
            | GuardError::BodyNotEmpty
            | GuardError::BodyRead(_)
            | GuardError::BadHead(_)
            | GuardError::HeadTimeout
            | GuardError::Framing(_)
            | GuardError::BodyTimeout => "invalid",
            GuardError::Upstream(_) | GuardError::UnexpectedUpgrade | GuardError::Internal(_) => {
                "error"
            }
        }
    }

    /// The one-line message the client sees (the docker CLI prints it after
    /// `Error response from daemon: `).
    pub fn message(&self, method: &str, path: &str) -> String {
        match self {
            GuardError::Denied(d) => format!("socket-guard: {}", d.message),
            GuardError::BodyDenied(d) => match d.needs() {
                Some(needs) => {
                    format!("socket-guard: {method} {path} is not allowed: {d} (needs {needs})")
                }
                None => format!("socket-guard: {method} {path} is not allowed: {d}"),
            },
            GuardError::Framing(e) => format!("socket-guard: malformed request framing: {e}"),
            GuardError::BadHead(e) => format!("socket-guard: {e}"),
            // Exactly the daemon's words for a missing object: a hidden one is indistinguishable.
            GuardError::NotVisible(m) => m.clone(),
            GuardError::OutOfScope(why) => {
                format!("socket-guard: {method} {path} is not allowed: {why} (GUARD_VISIBLE_LABELS, GUARD_VISIBLE_NAMES, GUARD_OWNER)")
            }
            GuardError::NotOwned(why) => {
                format!("socket-guard: {method} {path} is not allowed: {why} (GUARD_OWNER)")
            }
            GuardError::HeadTimeout => {
                "socket-guard: the request head did not arrive in time (GUARD_HEADER_TIMEOUT)"
                    .to_owned()
            }
            other => format!("socket-guard: {method} {path}: {other}"),
        }
    }
}

/// A readable cause chain for a hyper-util client error (its `Display` is only "client error").
pub fn describe_client_error(e: &hyper_util::client::legacy::Error) -> String {
    let mut out = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    out
}
