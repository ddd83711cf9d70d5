//! `redirectScheme` and `redirectRegex`: the router answers with a redirect instead of
//! forwarding.

use hyper::header::{self, HeaderValue};
use hyper::{Method, StatusCode};

use super::{Flow, Request};
use crate::dynamic::GoRegex;
use crate::model::redirect::{Redirect, Requested, SchemeRedirect};
use crate::proxy::{written, Answer, ProxyError};

/// A redirect answer: the status, its reason as the body, `Location`.
pub fn answer(r: &Redirect) -> Answer {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::FOUND);
    let mut a = written(status, status.canonical_reason().unwrap_or("Redirect"));
    if let Ok(v) = HeaderValue::from_str(&r.location) {
        a.headers.insert(header::LOCATION, v);
    }
    a
}

/// `redirectScheme`.
pub fn scheme(
    to: &str,
    port: Option<u16>,
    permanent: bool,
    r: &mut Request<'_, '_>,
) -> Result<Flow, ProxyError> {
    let rule = SchemeRedirect {
        scheme: to,
        port,
        permanent,
    };
    // An untrusted client's X-Forwarded-Proto was removed before routing: what is left is a
    // trusted proxy's, or one a middleware set (Traefik reads it the same way).
    let forwarded_proto = r
        .headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok());
    let host = r.inbound.host_header(r.headers);
    // The target as the middlewares before left it (Traefik's `RequestURI`, which
    // `stripPrefix`, `addPrefix` and `replacePath` update).
    let target = match (&r.fx.path, r.inbound.query) {
        (Some(p), Some(q)) => format!("{p}?{q}"),
        (Some(p), None) => p.clone(),
        (None, _) => r.inbound.target(),
    };
    let asked = Requested {
        scheme: r.inbound.scheme,
        forwarded_proto,
        host: &host,
        target: &target,
        get: *r.inbound.method == Method::GET,
    };
    Ok(match rule.decide(&asked) {
        Some(d) => Flow::Answer(answer(&d)),
        None => Flow::Next,
    })
}

/// `redirectRegex`, as Traefik's: `regex` is matched against `scheme://host/path?query`
/// (the scheme the connection used, the `Host` header as sent); when the replacement makes
/// another URL, that is where the client goes: 302 for `GET` and 307 otherwise, 301 and 308
/// when permanent. A URL Go's `url.Parse` refuses is answered 502, as Traefik does (it
/// cannot redirect there).
pub fn regex(
    re: &GoRegex,
    replacement: &str,
    permanent: bool,
    r: &mut Request<'_, '_>,
) -> Result<Flow, ProxyError> {
    let path = match r.inbound.query {
        Some(q) => format!("{}?{q}", r.path()),
        None => r.path().to_owned(),
    };
    let old = format!(
        "{}://{}{path}",
        r.inbound.scheme,
        r.inbound.host_header(r.headers)
    );
    if !re.re().is_match(&old) {
        return Ok(Flow::Next);
    }
    let new = re.re().replace_all(&old, replacement);
    if new == old {
        return Ok(Flow::Next);
    }
    if !crate::model::redirect::go_url_parses(&new) {
        return Err(ProxyError::BadGateway(format!(
            "redirectregex made a URL that does not parse {new:?}"
        )));
    }
    if HeaderValue::from_str(&new).is_err() {
        return Err(ProxyError::Internal(format!(
            "redirectregex made an invalid URL {new:?}"
        )));
    }
    let get = *r.inbound.method == Method::GET;
    let status = match (permanent, get) {
        (false, true) => 302,
        (false, false) => 307,
        (true, true) => 301,
        (true, false) => 308,
    };
    Ok(Flow::Answer(answer(&Redirect {
        status,
        location: new.into_owned(),
    })))
}
