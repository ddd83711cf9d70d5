//! Raw request target -> canonical target, or the reason it is not canonical.
//!
//! The Docker daemon percent-decodes the path before routing (`%2F` included), answers dot
//! segments and doubled slashes with a redirect, and strips an optional `/v{version}` prefix.
//! A filter that judged the raw path would be judging something the daemon never routes, so we
//! decode exactly once here, refuse every form the daemon would treat differently from its
//! plain spelling, and forward the canonical form we judged (see [`Target::forward_uri`]).
//!
//! Decoded characters are restricted to RFC 3986 `pchar` minus `;` and `%`: every Docker object
//! name (container, image reference, volume, network, plugin, node, secret) fits in that set,
//! and what is left can be forwarded without re-encoding, so the daemon sees byte for byte the
//! path that was judged.

use std::fmt;

/// Longest request target we judge; the daemon has no use for longer ones.
pub const MAX_TARGET_LEN: usize = 8 * 1024;

/// The oldest API version accepted in a version prefix. Older versions change request
/// semantics (for example `POST /v1.23/containers/{id}/start` still takes a HostConfig body),
/// so they would need their own rules; no current client needs them.
pub const MIN_API_VERSION: (u32, u32) = (1, 24);

/// A request target in canonical form: the optional API version, the decoded unversioned path
/// and the raw query.
///
/// Invariant: `path` starts with `/`, has no empty, `.` or `..` segment, no trailing slash
/// (except the root `/`), and only characters from [`is_path_char`] or `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    version: Option<String>,
    path: String,
    query: Option<String>,
}

/// Why a request target is not canonical. Every variant is a client error (400).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("the request target is not a path")]
    NotOriginForm,
    #[error("the request target is too long")]
    TooLong,
    #[error("the path has an empty segment (// or a trailing slash)")]
    EmptySegment,
    #[error("the path has a dot segment")]
    DotSegment,
    #[error("the path has an encoded slash")]
    EncodedSlash,
    #[error("the path has a backslash")]
    Backslash,
    #[error("the path has a control character")]
    ControlChar,
    #[error("the path has a ';' parameter")]
    Semicolon,
    #[error("the path is encoded twice")]
    DoubleEncoding,
    #[error("the path has an invalid percent-escape")]
    BadPercent,
    #[error("the path has a character that no Docker API path has")]
    BadChar,
    #[error("the query has a character that is not allowed")]
    BadQuery,
    #[error("the API version prefix is malformed")]
    BadVersion,
    #[error("the API version is older than 1.24, which socket-guard does not serve")]
    VersionTooOld,
}

// === impl Target ===

impl Target {
    /// The decoded, unversioned path that policies judge, e.g. `/containers/json`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The API version from the prefix, e.g. `Some("1.41")`.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// The raw query, without `?`.
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// The path segments after the leading `/` (one empty segment for the root).
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.path[1..].split('/')
    }

    /// The same target with another path and query (the version kept): what a visibility
    /// scope forwards once it has resolved a name to a full ID or added the daemon's filters.
    pub fn rewritten(&self, path: String, query: Option<String>) -> Target {
        Target {
            version: self.version.clone(),
            path,
            query,
        }
    }

    /// The origin-form target to forward: exactly what was judged, with the version kept.
    pub fn forward_uri(&self) -> String {
        let mut out = String::with_capacity(self.path.len() + 16);
        if let Some(v) = &self.version {
            out.push_str("/v");
            out.push_str(v);
        }
        out.push_str(&self.path);
        if let Some(q) = &self.query {
            out.push('?');
            out.push_str(q);
        }
        out
    }

    /// Looks up a query parameter's raw value (first occurrence), e.g. `follow` in
    /// `logs?follow=1`.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query.as_deref()?.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then_some(v)
        })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.forward_uri())
    }
}

/// Whether a decoded path byte may appear in a canonical path segment: RFC 3986 `pchar`
/// without `%` and `;`.
pub fn is_path_char(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b':'
                | b'@'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b'='
        )
}

/// Whether a raw query byte is acceptable: visible ASCII without `#`.
fn is_query_char(b: u8) -> bool {
    (0x21..0x7f).contains(&b) && b != b'#'
}

/// Canonicalises a raw request target (origin-form, or absolute-form reduced to its path).
pub fn canonicalize(raw: &str) -> Result<Target, PathError> {
    if raw.len() > MAX_TARGET_LEN {
        return Err(PathError::TooLong);
    }
    let origin = strip_absolute_form(raw)?;
    if !origin.starts_with('/') {
        return Err(PathError::NotOriginForm);
    }
    let (raw_path, query) = match origin.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (origin, None),
    };
    let query = match query {
        Some(q) if !q.bytes().all(is_query_char) => return Err(PathError::BadQuery),
        Some("") | None => None,
        Some(q) => Some(q.to_owned()),
    };
    let decoded = decode_once(raw_path)?;
    let (version, path) = split_version(&decoded)?;
    check_segments(path)?;
    Ok(Target {
        version: version.map(str::to_owned),
        path: path.to_owned(),
        query,
    })
}

/// Reduces `http://host/path` (any scheme, case-insensitive) to `/path`; leaves other forms.
fn strip_absolute_form(raw: &str) -> Result<&str, PathError> {
    let Some(idx) = raw.find("://") else {
        return Ok(raw);
    };
    let scheme = &raw[..idx];
    if scheme.is_empty() || raw.starts_with('/') {
        // A `://` inside an origin-form path: judged as a path (and refused as an empty segment).
        return Ok(raw);
    }
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(PathError::NotOriginForm);
    }
    let rest = &raw[idx + 3..];
    match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'/' => Ok(&rest[i..]),
        _ => Err(PathError::NotOriginForm),
    }
}

/// Decodes percent-escapes exactly once, refusing whatever would decode to a different path
/// structure (`%2F`), to a second escape (`%25`), or to a byte outside [`is_path_char`].
fn decode_once(raw: &str) -> Result<String, PathError> {
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let (decoded, escaped) = if b == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(PathError::BadPercent)?;
            let hi = hex_val(hex[0]).ok_or(PathError::BadPercent)?;
            let lo = hex_val(hex[1]).ok_or(PathError::BadPercent)?;
            i += 3;
            (hi << 4 | lo, true)
        } else {
            i += 1;
            (b, false)
        };
        match decoded {
            b'/' if escaped => return Err(PathError::EncodedSlash),
            b'/' => {}
            b'%' => return Err(PathError::DoubleEncoding),
            b'\\' => return Err(PathError::Backslash),
            b';' => return Err(PathError::Semicolon),
            0..=0x1f | 0x7f => return Err(PathError::ControlChar),
            c if !is_path_char(c) => return Err(PathError::BadChar),
            _ => {}
        }
        out.push(char::from(decoded));
    }
    Ok(out)
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Splits `/v1.41/containers/json` into `Some("1.41")` and `/containers/json`, as the daemon's
/// `/v{version:[0-9.]+}` route prefix does. A first segment of `v` and digits/dots that is not
/// a well-formed version is refused rather than treated as a path.
fn split_version(path: &str) -> Result<(Option<&str>, &str), PathError> {
    let first_end = path[1..].find('/').map_or(path.len(), |i| i + 1);
    let first = &path[1..first_end];
    let Some(ver) = first.strip_prefix('v') else {
        return Ok((None, path));
    };
    if ver.is_empty() || !ver.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Ok((None, path));
    }
    let parts: Vec<&str> = ver.split('.').collect();
    if parts.len() > 3 || parts.iter().any(|p| p.is_empty() || p.len() > 4) {
        return Err(PathError::BadVersion);
    }
    let major: u32 = parts[0].parse().map_err(|_| PathError::BadVersion)?;
    let minor: u32 = match parts.get(1) {
        Some(m) => m.parse().map_err(|_| PathError::BadVersion)?,
        None => 0,
    };
    if (major, minor) < MIN_API_VERSION {
        return Err(PathError::VersionTooOld);
    }
    let rest = &path[first_end..];
    if rest.is_empty() {
        // `/v1.41` alone: the daemon has no route there.
        return Ok((Some(ver), "/"));
    }
    Ok((Some(ver), rest))
}

/// The only routes the daemon registers with a trailing slash (`GET /networks/`, an alias of
/// the network list). Everywhere else a trailing slash is refused.
const TRAILING_SLASH_ROUTES: &[&str] = &["/networks/"];

/// Refuses empty, `.` and `..` segments. The root path `/` and [`TRAILING_SLASH_ROUTES`] are
/// the only paths ending in `/`.
fn check_segments(path: &str) -> Result<(), PathError> {
    if path == "/" || TRAILING_SLASH_ROUTES.contains(&path) {
        return Ok(());
    }
    for seg in path[1..].split('/') {
        match seg {
            "" => return Err(PathError::EmptySegment),
            "." | ".." => return Err(PathError::DotSegment),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> Target {
        canonicalize(raw).unwrap_or_else(|e| panic!("{raw}: {e}"))
    }

    #[test]
    fn plain_and_versioned_paths() {
        let t = ok("/v1.41/containers/json?all=1");
        assert_eq!(t.version(), Some("1.41"));
        assert_eq!(t.path(), "/containers/json");
        assert_eq!(t.query(), Some("all=1"));
        assert_eq!(t.forward_uri(), "/v1.41/containers/json?all=1");
        assert_eq!(ok("/v1.41.0/_ping").path(), "/_ping");
        assert_eq!(ok("/containers/json").version(), None);
        assert_eq!(ok("/_ping?").forward_uri(), "/_ping");
        assert_eq!(ok("/").path(), "/");
        assert_eq!(ok("/v1.41/networks/").path(), "/networks/");
    }

    #[test]
    fn decodes_once_and_forwards_decoded() {
        let t = ok("/v1.41/containers/%6Aso%6E");
        assert_eq!(t.path(), "/containers/json");
        assert_eq!(t.forward_uri(), "/v1.41/containers/json");
        assert_eq!(ok("/%761.41/info").path(), "/info");
    }

    #[test]
    fn refuses_non_canonical_forms() {
        use PathError::*;
        let cases = [
            ("/containers%2Fjson", EncodedSlash),
            ("/containers%2fjson", EncodedSlash),
            ("/containers/%252Fjson", DoubleEncoding),
            ("/containers/../images/json", DotSegment),
            ("/containers/./json", DotSegment),
            ("/containers/%2e%2e/x", DotSegment),
            ("//containers/json", EmptySegment),
            ("/containers//json", EmptySegment),
            ("/containers/json/", EmptySegment),
            ("/containers\\json", Backslash),
            ("/containers%5Cjson", Backslash),
            ("/containers/json;x=1", Semicolon),
            ("/containers/json%3Bx", Semicolon),
            ("/containers/json%00", ControlChar),
            ("/containers/json%0a", ControlChar),
            ("/containers/json%", BadPercent),
            ("/containers/json%zz", BadPercent),
            ("/containers/j son", BadChar),
            ("/containers/json%3F", BadChar),
            ("/containers/json%23", BadChar),
            ("/containers/jsön", BadChar),
            ("containers/json", NotOriginForm),
            ("*", NotOriginForm),
            ("ftp://x/containers/json", NotOriginForm),
            ("/v1.41..1/_ping", BadVersion),
            ("/v1.2.3.4/_ping", BadVersion),
            ("/v1.23/containers/x/start", VersionTooOld),
            ("/v1/_ping", VersionTooOld),
            ("/_ping?a#b", BadQuery),
            ("/_ping?a b", BadQuery),
        ];
        for (raw, want) in cases {
            assert_eq!(canonicalize(raw), Err(want), "{raw}");
        }
    }

    #[test]
    fn absolute_form_is_reduced_to_the_path() {
        assert_eq!(
            ok("http://docker/v1.41/_ping").forward_uri(),
            "/v1.41/_ping"
        );
        assert_eq!(ok("HTTP://x:2375/info?a=1").forward_uri(), "/info?a=1");
        assert_eq!(canonicalize("http://docker"), Err(PathError::NotOriginForm));
    }

    #[test]
    fn version_like_segments_that_are_not_versions_are_paths() {
        assert_eq!(ok("/vx/_ping").path(), "/vx/_ping");
        assert_eq!(ok("/v1.41").path(), "/");
    }

    #[test]
    fn query_param_lookup() {
        let t = ok("/containers/x/logs?stdout=1&follow=true");
        assert_eq!(t.query_param("follow"), Some("true"));
        assert_eq!(t.query_param("tail"), None);
    }
}
