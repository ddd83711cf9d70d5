//! `basicAuth`: `Authorization: Basic` credentials checked against `user:hash` entries.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine as _;
use hyper::header::{self, HeaderMap};

use super::{Flow, Request};
use crate::proxy::{set_header, ProxyError};

/// `usersFile`s, read once per table (the cache is emptied when a table comes into service,
/// as Traefik reads the file when it builds the middleware).
#[derive(Debug, Default)]
pub struct UsersFiles(Mutex<HashMap<String, Arc<Entries>>>);

/// `user:hash` entries.
type Entries = Vec<(String, String)>;

impl UsersFiles {
    /// The `user:hash` entries of `path`.
    pub fn get(&self, path: &str) -> Result<Arc<Entries>, String> {
        self.get_parsed(
            path,
            "basic",
            crate::dynamic::middleware::users_file_entries,
        )
    }

    /// The `user:realm:HA1` entries of `path`, as (`user:realm`, HA1).
    pub fn get_digest(&self, path: &str) -> Result<Arc<Entries>, String> {
        self.get_parsed(
            path,
            "digest",
            crate::dynamic::middleware::digest_auth::file_entries,
        )
    }

    fn get_parsed(
        &self,
        path: &str,
        kind: &str,
        parse: fn(&str) -> Result<Entries, String>,
    ) -> Result<Arc<Entries>, String> {
        let key = format!("{kind}\0{path}");
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(e) = map.get(&key) {
            return Ok(e.clone());
        }
        let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
        let entries = Arc::new(parse(&text)?);
        map.insert(key, entries.clone());
        Ok(entries)
    }

    /// Forgets what was read: the next request reads the files again.
    pub fn clear(&self) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

/// 401 (with the realm) unless the credentials match an entry of `users` (or, for a name
/// `users` does not have, of the users file); then the user's name may be passed in
/// `header_field` and the credentials removed.
pub fn apply(
    file: Option<&Vec<(String, String)>>,
    users: &[(String, String)],
    realm: &str,
    remove_header: bool,
    header_field: Option<&str>,
    r: &mut Request<'_, '_>,
) -> Result<Flow, ProxyError> {
    let Some(user) = user(r.headers, users, file.map_or(&[][..], Vec::as_slice)) else {
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

/// The user whose `Authorization: Basic` credentials match their entry: in `users`, else in
/// `file` (the last entry of a name wins in each, as Traefik's map of them). An unknown user
/// costs the same as a wrong password, a hash being checked all the same (Traefik's
/// `notFoundSecret`): the time taken does not tell which names exist.
fn user(
    headers: &HeaderMap,
    users: &[(String, String)],
    file: &[(String, String)],
) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, pass) = text.split_once(':')?;
    let entry = users
        .iter()
        .rev()
        .find(|(u, _)| u == user)
        .or_else(|| file.iter().rev().find(|(u, _)| u == user));
    let Some((name, hash)) = entry else {
        if let Some((_, any)) = users.first().or(file.first()) {
            crate::model::auth::verify(pass, any);
        }
        return None;
    };
    crate::model::auth::verify(pass, hash).then(|| name.clone())
}
