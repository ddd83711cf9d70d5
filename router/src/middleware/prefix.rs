//! `stripPrefix`, `stripPrefixRegex` and `addPrefix`: the path's front removed or added
//! before forwarding. A removed prefix goes to the backend in `X-Forwarded-Prefix`.

use super::{Flow, Request};
use crate::dynamic::GoRegex;
use crate::proxy::ProxyError;

/// `stripPrefix`: the first of `prefixes` the decoded path starts with is removed, the
/// escaped rest forwarded, as Traefik does (`/ap%69/x` loses `/api/`); a path that is not
/// clean afterwards (`//`, `.` or `..` segments, as `/api./x` less `/api`) is refused with
/// 400.
pub fn strip(prefixes: &[String], r: &mut Request<'_, '_>) -> Result<Flow, ProxyError> {
    let raw = r.path();
    let Some(decoded) = percent_decode_bytes(raw) else {
        return Ok(Flow::Next);
    };
    if let Some(p) = prefixes.iter().find(|p| decoded.starts_with(p.as_bytes())) {
        let Some(rest) = raw.get(encoded_len(raw, p.len())..) else {
            return Ok(Flow::Next);
        };
        let rest = with_leading_slash(rest);
        if !rest.is_empty() && !is_clean(&rest) {
            return Err(ProxyError::BadRequest(format!(
                "the path left by stripprefix ({rest:?}) is not clean"
            )));
        }
        forwarded_prefix(r, p);
        r.fx.path = Some(rest);
    }
    Ok(Flow::Next)
}

/// `stripPrefixRegex`: the first pattern that matches (non-empty) at the start of the
/// decoded path has what it matched removed, as Traefik does; a path that is not clean
/// afterwards (`//`, `.` or `..` segments) is refused with 400.
pub fn strip_regex(regex: &[GoRegex], r: &mut Request<'_, '_>) -> Result<Flow, ProxyError> {
    let raw = r.path();
    let Some(decoded) = percent_decode(raw) else {
        return Ok(Flow::Next);
    };
    for re in regex {
        let Some(m) = re.re().find(&decoded) else {
            continue;
        };
        let prefix = m.as_str();
        if prefix.is_empty() || !decoded.starts_with(prefix) {
            continue;
        }
        let rest = with_leading_slash(&raw[encoded_len(raw, prefix.len())..]);
        if !rest.is_empty() && !is_clean(&rest) {
            return Err(ProxyError::BadRequest(format!(
                "the path left by stripprefixregex ({rest:?}) is not clean"
            )));
        }
        forwarded_prefix(r, prefix);
        r.fx.path = Some(rest);
        break;
    }
    Ok(Flow::Next)
}

/// The removed `prefix` added to the request's `X-Forwarded-Prefix` (one more line: Traefik adds
/// it, after a trusted client's and an earlier strip's), which the middlewares after, an
/// authentication server and the backend see.
fn forwarded_prefix(r: &mut Request<'_, '_>, prefix: &str) {
    if let Ok(v) = hyper::header::HeaderValue::from_str(prefix) {
        r.headers.append(
            hyper::header::HeaderName::from_static("x-forwarded-prefix"),
            v,
        );
    }
}

/// `addPrefix`: `prefix` in front of the path.
pub fn add(prefix: &str, r: &mut Request<'_, '_>) -> Result<Flow, ProxyError> {
    let path = format!("{}{}", prefix.trim_end_matches('/'), r.path());
    r.fx.path = Some(path);
    Ok(Flow::Next)
}

/// `s` with a `/` in front, unless empty.
pub(super) fn with_leading_slash(s: &str) -> String {
    if s.is_empty() || s.starts_with('/') {
        s.to_owned()
    } else {
        format!("/{s}")
    }
}

/// How many bytes of the escaped `raw` path make its first `decoded` bytes (an escape is
/// three bytes for one).
fn encoded_len(raw: &str, decoded: usize) -> usize {
    let b = raw.as_bytes();
    let (mut i, mut n) = (0, 0);
    while i < b.len() && n < decoded {
        i += if b[i] == b'%' && i + 2 < b.len() {
            3
        } else {
            1
        };
        n += 1;
    }
    i
}

/// Whether Go's `path.Clean` (keeping a trailing slash) leaves the path as it is: no empty,
/// `.` or `..` segment. Traefik refuses a rewritten path that is not.
pub(super) fn is_clean(path: &str) -> bool {
    if path == "/" {
        return true;
    }
    let inner = path.strip_prefix('/').unwrap_or(path);
    let inner = inner.strip_suffix('/').unwrap_or(inner);
    inner.split('/').all(|s| !matches!(s, "" | "." | ".."))
}

/// Go's `url.PathUnescape`, as text (`None` for a bad escape or bytes that are not UTF-8).
fn percent_decode(s: &str) -> Option<String> {
    String::from_utf8(percent_decode_bytes(s)?).ok()
}

/// Go's `url.PathUnescape` (`None` for a bad escape).
fn percent_decode_bytes(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            // Two hex digits (`from_str_radix` alone would take a sign: `%+1`).
            let hex = b
                .get(i + 1..i + 3)
                .filter(|h| h.iter().all(u8::is_ascii_hexdigit))?;
            out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_paths_are_those_go_leaves_alone() {
        for p in ["/", "/a", "/a/", "/a/b.c/", "/a..b"] {
            assert!(is_clean(p), "{p}");
        }
        for p in ["//", "//a", "/a//b", "/./a", "/a/..", "/a/../b", "/a/."] {
            assert!(!is_clean(p), "{p}");
        }
    }

    #[test]
    fn escapes_count_as_one_decoded_byte() {
        assert_eq!(encoded_len("/a%20b/c", 4), 6);
        assert_eq!(encoded_len("/%C3%BCx", 3), 7);
        assert_eq!(percent_decode("/a%20b").as_deref(), Some("/a b"));
        assert_eq!(percent_decode("/a%2"), None);
    }
}
