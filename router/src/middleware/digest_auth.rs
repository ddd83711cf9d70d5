//! `digestAuth` on the request path, as go-http-auth (Traefik's) checks it: the client's
//! `Authorization: Digest` must carry this middleware's opaque value, `algorithm=MD5` (or
//! none), `qop=auth`, a `uri` that is the request's (or a URL whose path is a prefix of its
//! path), a nonce this middleware issued with a nonce count above the last one seen (no
//! replay), and the response `MD5(HA1:nonce:nc:cnonce:auth:MD5(method:uri))` for the user's
//! entry in the configured realm. Anything else gets 401 with a fresh nonce in
//! `WWW-Authenticate`.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use bytes::Bytes;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::StatusCode;
use md5::{Digest, Md5};

use super::{Flow, InUse, Request};
use crate::dynamic::middleware::digest_auth::DigestAuth;
use crate::proxy::{set_header, Answer, ProxyError};

/// Nonces issued, by middleware in use: each router using a `digestAuth` has its own opaque
/// value and nonces, as each has its own instance in Traefik ([`InUse`]).
#[derive(Debug, Default)]
pub struct Nonces(Mutex<HashMap<InUse, Instance>>);

/// One instance's opaque value and the nonces it issued (with the last count seen).
#[derive(Debug)]
struct Instance {
    opaque: String,
    clients: HashMap<String, (u64, Instant)>,
}

/// go-http-auth's cache: past 1000 + 100 nonces, the 200 least recently seen go.
const CACHE: usize = 1000;
const TOLERANCE: usize = 100;

/// 12 random bytes in base64 (an unguessable nonce is what the check relies on).
fn random_key() -> String {
    super::random_text::<12>(true)
}

fn h(data: &str) -> String {
    hex(&Md5::digest(data.as_bytes()))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Checks the request; 401 with a challenge when it does not pass.
pub fn apply(
    at: InUse,
    cfg: &DigestAuth,
    file: Option<&Vec<(String, String)>>,
    r: &mut Request<'_, '_>,
) -> Result<Flow, ProxyError> {
    let mut all = r
        .shared
        .digest_nonces
        .0
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let inst = all.entry(at).or_insert_with(|| Instance {
        opaque: random_key(),
        clients: HashMap::new(),
    });
    let secret = |user: &str| {
        let key = format!("{user}:{}", cfg.realm);
        cfg.users
            .iter()
            .rev()
            .find(|(k, _)| *k == key)
            .or_else(|| file.and_then(|f| f.iter().rev().find(|(k, _)| *k == key)))
            .map(|(_, ha1)| ha1.clone())
            .unwrap_or_default()
    };
    let target = r.inbound.target();
    match check(
        inst,
        r.headers,
        r.inbound.method.as_str(),
        &target,
        r.inbound.path,
        secret,
    ) {
        Some(Checked::User(user)) => {
            drop(all);
            if let Some(field) = &cfg.header_field {
                set_header(r.headers, field, &user);
            }
            if cfg.remove_header {
                r.headers.remove(header::AUTHORIZATION);
            }
            // Traefik's access log names the user (`ClientUsername`).
            r.log.user = Some(user);
            Ok(Flow::Next)
        }
        Some(Checked::Stale) => Ok(Flow::Answer(challenge(inst, &cfg.realm, true))),
        None => Ok(Flow::Answer(challenge(inst, &cfg.realm, false))),
    }
}

/// Credentials whose response is right.
#[derive(Debug, PartialEq, Eq)]
enum Checked {
    /// They pass: the user.
    User(String),
    /// Their nonce count is below the last one seen for the nonce (go-http-auth: out of order
    /// pipelined requests): refused with `stale="true"`, so that a client can answer the new
    /// nonce with the same credentials.
    Stale,
}

/// What the credentials are, when their response is right (`None`: refused).
fn check(
    inst: &mut Instance,
    headers: &HeaderMap,
    method: &str,
    target: &str,
    path: &str,
    secret: impl Fn(&str) -> String,
) -> Option<Checked> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    if scheme != "Digest" {
        return None;
    }
    let p = pairs(rest);
    let get = |k: &str| p.get(k).map_or("", String::as_str);
    let algorithm = p.get("algorithm").map_or("MD5", String::as_str);
    if get("opaque") != inst.opaque || algorithm != "MD5" || get("qop") != "auth" {
        return None;
    }
    let uri = get("uri");
    if uri != target {
        // go-http-auth lets the uri be an URL whose path is a prefix of the request's path
        // (both decoded, as Go's URL.Path).
        let uri_path = url_path(uri)?;
        let path = unescape(path)?;
        if uri_path.len() > path.len() || !path.starts_with(&uri_path) {
            return None;
        }
    }
    let user = get("username");
    let ha1 = secret(user);
    let ha2 = h(&format!("{method}:{uri}"));
    let (nonce, nc, cnonce) = (get("nonce"), get("nc"), get("cnonce"));
    let kd = h(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
    let response = get("response");
    let same = kd.len() == response.len()
        && kd
            .bytes()
            .zip(response.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !same {
        return None;
    }
    let count = u64::from_str_radix(nc, 16).ok()?;
    let client = inst.clients.get_mut(nonce)?;
    if client.0 != 0 {
        if count == client.0 {
            // A replay.
            return None;
        }
        if count < client.0 {
            return Some(Checked::Stale);
        }
    }
    *client = (count, Instant::now());
    Some(Checked::User(user.to_owned()))
}

/// The decoded path of a URL or request target, as Go's `url.Parse` gives `URL.Path`: after
/// the scheme and authority, before the query and fragment. `None` where Go's parse fails (a
/// bad percent-encoding, no scheme before a `:`, a colon in a relative first segment); empty
/// for an opaque URL (`mailto:x`).
fn url_path(uri: &str) -> Option<Vec<u8>> {
    let rest = uri.split_once('#').map_or(uri, |(r, _)| r);
    let rest = rest.split_once('?').map_or(rest, |(r, _)| r);
    let scheme_end = rest
        .bytes()
        .position(|c| !(c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.')));
    let (scheme, rest) = match scheme_end {
        Some(0) if rest.starts_with(':') => return None,
        Some(i) if rest.as_bytes()[i] == b':' && rest.as_bytes()[0].is_ascii_alphabetic() => {
            (true, &rest[i + 1..])
        }
        _ => (false, rest),
    };
    if scheme && !rest.starts_with('/') {
        return Some(Vec::new());
    }
    let rest = match rest.strip_prefix("//") {
        Some(auth) if scheme || !auth.starts_with('/') => auth.find('/').map_or("", |i| &auth[i..]),
        _ => rest,
    };
    if !scheme && rest.split('/').next().is_some_and(|s| s.contains(':')) {
        return None;
    }
    unescape(rest)
}

/// Go's path unescaping: `%XX` is the byte, anything else as it is; a bad `%` fails.
fn unescape(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            if !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

/// 401 with a new nonce (and `stale="true"` when the credentials were right but out of order).
fn challenge(inst: &mut Instance, realm: &str, stale: bool) -> Answer {
    if inst.clients.len() > CACHE + TOLERANCE {
        let mut seen: Vec<(Instant, String)> = inst
            .clients
            .iter()
            .map(|(n, (_, t))| (*t, n.clone()))
            .collect();
        seen.sort();
        for (_, n) in seen.into_iter().take(TOLERANCE * 2) {
            inst.clients.remove(&n);
        }
    }
    let nonce = random_key();
    inst.clients.insert(nonce.clone(), (0, Instant::now()));
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    let stale = if stale { r#"stale="true", "# } else { "" };
    if let Ok(v) = HeaderValue::from_str(&format!(
        r#"Digest realm="{realm}", nonce="{nonce}", opaque="{}", {stale}algorithm="MD5", qop="auth""#,
        inst.opaque
    )) {
        headers.insert(header::WWW_AUTHENTICATE, v);
    }
    Answer {
        status: StatusCode::UNAUTHORIZED,
        headers,
        body: Bytes::from_static(b"401 Unauthorized\n"),
    }
}

/// `key=value` pairs separated by commas (quotes kept together, backslash escapes inside
/// them), values unquoted: go-http-auth's `ParsePairs`.
fn pairs(value: &str) -> HashMap<String, String> {
    let mut items = Vec::new();
    let (mut cur, mut quote, mut escape) = (String::new(), false, false);
    for c in value.trim().chars() {
        if escape {
            cur.push(c);
            escape = false;
        } else if quote {
            if c == '\\' {
                escape = true;
            } else {
                if c == '"' {
                    quote = false;
                }
                cur.push(c);
            }
        } else if c == ',' {
            items.push(cur.trim().to_owned());
            cur.clear();
        } else {
            if c == '"' {
                quote = true;
            }
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        items.push(cur.trim().to_owned());
    }
    items
        .into_iter()
        .map(|item| match item.split_once('=') {
            None => (item, String::new()),
            Some((k, v)) => {
                let v = v
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(v);
                (k.to_owned(), v.to_owned())
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authorization(inst: &Instance, nonce: &str, nc: &str, uri: &str, pass: &str) -> HeaderMap {
        let ha1 = h(&format!("test:traefik:{pass}"));
        let ha2 = h(&format!("GET:{uri}"));
        let resp = h(&format!("{ha1}:{nonce}:{nc}:c0ffee:auth:{ha2}"));
        let mut m = HeaderMap::new();
        m.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!(
                r#"Digest username="test", realm="traefik", nonce="{nonce}", uri="{uri}", algorithm=MD5, response="{resp}", opaque="{}", qop=auth, nc={nc}, cnonce="c0ffee""#,
                inst.opaque
            ))
            .unwrap(),
        );
        m
    }

    #[test]
    fn a_valid_answer_passes_once_per_count() {
        let mut inst = Instance {
            opaque: random_key(),
            clients: HashMap::new(),
        };
        let a = challenge(&mut inst, "traefik", false);
        let www = a.headers[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .to_owned();
        let nonce = pairs(www.strip_prefix("Digest ").unwrap())["nonce"].clone();
        let secret = |u: &str| {
            if u == "test" {
                h("test:traefik:test")
            } else {
                String::new()
            }
        };
        let ok = authorization(&inst, &nonce, "00000001", "/a?b=1", "test");
        assert_eq!(
            check(&mut inst, &ok, "GET", "/a?b=1", "/a", secret),
            Some(Checked::User("test".into()))
        );
        // Replayed with the same count: refused; a higher count passes; a lower one, once a
        // higher one was seen, is stale (go-http-auth's out of order requests).
        assert_eq!(check(&mut inst, &ok, "GET", "/a?b=1", "/a", secret), None);
        let third = authorization(&inst, &nonce, "00000003", "/a?b=1", "test");
        assert!(matches!(
            check(&mut inst, &third, "GET", "/a?b=1", "/a", secret),
            Some(Checked::User(_))
        ));
        let late = authorization(&inst, &nonce, "00000002", "/a?b=1", "test");
        assert_eq!(
            check(&mut inst, &late, "GET", "/a?b=1", "/a", secret),
            Some(Checked::Stale)
        );
        let stale = challenge(&mut inst, "traefik", true);
        let www = stale.headers[header::WWW_AUTHENTICATE].to_str().unwrap();
        assert!(
            www.ends_with(r#"", stale="true", algorithm="MD5", qop="auth""#),
            "{www}"
        );
        // Wrong password, a uri for another path, an unknown nonce: refused.
        let bad = authorization(&inst, &nonce, "00000004", "/a?b=1", "nope");
        assert_eq!(check(&mut inst, &bad, "GET", "/a?b=1", "/a", secret), None);
        let other = authorization(&inst, &nonce, "00000005", "/other", "test");
        assert_eq!(check(&mut inst, &other, "GET", "/a", "/a", secret), None);
        let forged = authorization(&inst, "made-up", "00000001", "/a", "test");
        assert_eq!(check(&mut inst, &forged, "GET", "/a", "/a", secret), None);
    }

    #[test]
    fn pairs_as_go_http_auth_reads_them() {
        let p = pairs(r#"username="a,b", qop=auth, realm="x\"y", empty=, flag"#);
        assert_eq!(p["username"], "a,b");
        assert_eq!(p["qop"], "auth");
        assert_eq!(p["realm"], "x\"y");
        assert_eq!(p["empty"], "");
        assert_eq!(p["flag"], "");
    }
}
