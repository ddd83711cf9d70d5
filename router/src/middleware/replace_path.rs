//! `replacePath` and `replacePathRegex`: the path to forward replaced, the old one passed in
//! `X-Replaced-Path` (added to, as Traefik does).

use hyper::header::{HeaderName, HeaderValue};

use super::prefix::{is_clean, with_leading_slash};
use super::{Flow, Request};
use crate::dynamic::middleware::rewrite::go_escaped_path;
use crate::dynamic::GoRegex;
use crate::proxy::ProxyError;

const X_REPLACED_PATH: HeaderName = HeaderName::from_static("x-replaced-path");

/// `replacePath`: the path becomes `path` (checked when the configuration was read), sent as
/// Go escapes it ([`go_escaped_path`]).
pub fn literal(path: &str, r: &mut Request<'_, '_>) -> Result<Flow, ProxyError> {
    let sent = go_escaped_path(&with_leading_slash(path))
        .map_err(|e| ProxyError::Internal(format!("replacepath: {e}")))?;
    note_old_path(r);
    r.fx.path = Some(sent);
    Ok(Flow::Next)
}

/// `replacePathRegex`: when `regex` matches the escaped path, every match is replaced
/// (`$1`, `${name}` expanded). A result that does not unescape is a 500, one that is not a
/// clean path a 400, as in Traefik.
pub fn regex(re: &GoRegex, replacement: &str, r: &mut Request<'_, '_>) -> Result<Flow, ProxyError> {
    let current = r.path();
    if !re.re().is_match(current) {
        return Ok(Flow::Next);
    }
    let made = re.re().replace_all(current, replacement).into_owned();
    let new = go_escaped_path(&made)
        .map_err(|e| ProxyError::Internal(format!("replacepathregex made an invalid path: {e}")))?;
    if !new.is_empty() && !is_clean(&new) {
        return Err(ProxyError::BadRequest(format!(
            "the path made by replacepathregex ({new:?}) is not clean"
        )));
    }
    note_old_path(r);
    r.fx.path = Some(with_leading_slash(&new));
    Ok(Flow::Next)
}

fn note_old_path(r: &mut Request<'_, '_>) {
    if let Ok(v) = HeaderValue::from_str(r.path()) {
        r.headers.append(X_REPLACED_PATH, v);
    }
}
