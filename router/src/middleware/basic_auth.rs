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
pub async fn apply(
    file: Option<&Vec<(String, String)>>,
    users: &[(String, String)],
    realm: &str,
    remove_header: bool,
    header_field: Option<&str>,
    r: &mut Request<'_, '_>,
) -> Result<Flow, ProxyError> {
    let Some(user) = user(r.headers, users, file.map_or(&[][..], Vec::as_slice)).await else {
        return Err(ProxyError::Unauthorized(realm.to_owned()));
    };
    if let Some(field) = header_field {
        set_header(r.headers, field, &user);
    }
    if remove_header {
        r.headers.remove(header::AUTHORIZATION);
    }
    // Traefik's access log names the user (`ClientUsername`).
    r.log.user = Some(user);
    Ok(Flow::Next)
}

/// The user whose `Authorization: Basic` credentials match their entry: in `users`, else in
/// `file` (the last entry of a name wins in each, as Traefik's map of them). An unknown user
/// costs the same as a wrong password, a hash being checked all the same (Traefik's
/// `notFoundSecret`): the time taken does not tell which names exist.
async fn user(
    headers: &HeaderMap,
    users: &[(String, String)],
    file: &[(String, String)],
) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    // As Go's `Request.BasicAuth`: the scheme in any case, then exactly the base64 text.
    let (scheme, encoded) = value.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case("basic ") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
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
            checked(pass, any).await;
        }
        return None;
    };
    checked(pass, hash).await.then(|| name.clone())
}

/// Whether `pass` matches `hash`; a bcrypt hash is checked off the serving thread (the
/// blocking pool): a check costs milliseconds of CPU (about 60 ms at cost 10), during which
/// the other connections of a serving thread ([`crate::workers`]) would wait. The others
/// (MD5, SHA-1) take microseconds and are checked here.
async fn checked(pass: &str, hash: &str) -> bool {
    if !hash.starts_with("$2") {
        return crate::model::auth::verify(pass, hash);
    }
    let (pass, hash) = (pass.to_owned(), hash.to_owned());
    tokio::task::spawn_blocking(move || crate::model::auth::verify(&pass, &hash))
        .await
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    /// A bcrypt check waits off the thread: the task beside it runs meanwhile (checked inline,
    /// the check would end in its first poll, before the other task ever ran).
    #[tokio::test(flavor = "current_thread")]
    async fn a_bcrypt_check_leaves_the_thread_to_other_connections() {
        // Cost 10 (tens of milliseconds): at cost 4 the check could be over before its first
        // poll when the test's thread was held up just after starting it (a busy machine),
        // and the other task would not have had a turn although the check left the thread.
        let users = vec![("alice".to_owned(), bcrypt::hash("secret", 10).unwrap())];
        let mut h = HeaderMap::new();
        let credentials = base64::engine::general_purpose::STANDARD.encode("alice:secret");
        h.insert(
            header::AUTHORIZATION,
            format!("Basic {credentials}").parse().unwrap(),
        );
        let done = Cell::new(false);
        let mut turns = 0;
        let check = async {
            let found = user(&h, &users, &[]).await;
            done.set(true);
            found
        };
        let other = async {
            while !done.get() {
                turns += 1;
                tokio::task::yield_now().await;
            }
        };
        let (found, ()) = tokio::join!(check, other);
        assert_eq!(found.as_deref(), Some("alice"));
        assert!(turns > 0, "the other task never ran during the check");
        // A wrong password is refused the same way.
        h.insert(
            header::AUTHORIZATION,
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode("alice:nope")
            )
            .parse()
            .unwrap(),
        );
        assert_eq!(user(&h, &users, &[]).await, None);
    }

    /// Go's `Request.BasicAuth`, which Traefik reads credentials with: the scheme in any case,
    /// nothing around the base64 text.
    #[tokio::test(flavor = "current_thread")]
    async fn the_scheme_is_read_in_any_case_as_go_reads_it() {
        let users = vec![(
            "u".to_owned(),
            "{SHA}UWuXg/ylF+7L0dBk2i0WUxCxl1k=".to_owned(),
        )];
        let b64 = base64::engine::general_purpose::STANDARD.encode("u:p");
        for (value, ok) in [
            (format!("Basic {b64}"), true),
            (format!("BASIC {b64}"), true),
            (format!("bAsIc {b64}"), true),
            (format!("Basic  {b64}"), false),
            (format!("Basic {b64} "), false),
            (format!("Bearer {b64}"), false),
            ("Basic".to_owned(), false),
        ] {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, value.parse().unwrap());
            assert_eq!(user(&h, &users, &[]).await.is_some(), ok, "{value:?}");
        }
    }
}
