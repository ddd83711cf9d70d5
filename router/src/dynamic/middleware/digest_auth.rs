//! `digestAuth`: HTTP Digest authentication (MD5, `qop="auth"`) against htdigest entries
//! (`user:realm:HA1`), as Traefik's (go-http-auth's) checks it.

use serde::Serialize;

use super::{fields, AuthCommon, Middleware};
use crate::tree::{DecodeError, Node};

/// A `digestAuth` middleware.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DigestAuth {
    /// Entries: (`user:realm`, HA1).
    pub users: Vec<(String, String)>,
    /// `usersFile`: more entries, read when a table using it comes into service (a `users`
    /// entry of the same user and realm wins).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub users_file: Option<String>,
    /// The realm offered, and the one entries are looked up with.
    pub realm: String,
    /// Remove `Authorization` before forwarding.
    pub remove_header: bool,
    /// A header to carry the authenticated user's name to the backend.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header_field: Option<String>,
}

/// Decodes `digestAuth`.
pub fn decode(kind: &Node) -> Result<Middleware, DecodeError> {
    let mut f = fields(
        kind,
        &["users", "usersFile", "realm", "removeHeader", "headerField"],
    )?;
    let c = AuthCommon::take(&mut f, kind, "digestauth", entry)?;
    Ok(Middleware::DigestAuth(Box::new(DigestAuth {
        users: c.users,
        users_file: c.users_file,
        realm: c.realm,
        remove_header: c.remove_header,
        header_field: c.header_field,
    })))
}

/// One `user:realm:HA1` entry (exactly three fields, as Traefik requires).
pub fn entry(text: &str) -> Result<(String, String), String> {
    match text.split(':').collect::<Vec<_>>()[..] {
        [user, realm, ha1] => Ok((format!("{user}:{realm}"), ha1.to_owned())),
        _ => Err(format!("error parsing DigestUser: {text}")),
    }
}

/// The entries of an htdigest file, as Traefik reads it: lines trimmed, blank lines and `#`
/// comments skipped.
pub fn file_entries(text: &str) -> Result<Vec<(String, String)>, String> {
    super::file_entries(text, entry)
}
