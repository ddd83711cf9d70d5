//! `basicAuth`: `Authorization: Basic` credentials checked against `user:hash` entries.

use base64::Engine as _;
use hyper::header::{self, HeaderMap};

use super::{Flow, Request};
use crate::proxy::{set_header, ProxyError};

/// 401 (with the realm) unless the credentials match; then the user's name may be passed in
/// `header_field` and the credentials removed.
pub fn apply(
    users: &[(String, String)],
    realm: &str,
    remove_header: bool,
    header_field: Option<&str>,
    r: &mut Request<'_, '_>,
) -> Result<Flow, ProxyError> {
    let Some(user) = user(r.headers, users) else {
        return Err(ProxyError::Unauthorized(realm.to_owned()));
    };
    if let Some(field) = header_field {
        set_header(r.headers, field, &user);
    }
    if remove_header {
        r.headers.remove(header::AUTHORIZATION);
    }
    Ok(Flow::Next)
}

/// The user whose `Authorization: Basic` credentials match one of `users`.
fn user(headers: &HeaderMap, users: &[(String, String)]) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, pass) = text.split_once(':')?;
    users
        .iter()
        .find(|(u, _)| u == user)
        .filter(|(_, hash)| crate::model::auth::verify(pass, hash))
        .map(|(u, _)| u.clone())
}
