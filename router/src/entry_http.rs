//! Traefik's entry point HTTP pipeline: what its `newHTTPServer`
//! (`pkg/server/server_entrypoint_tcp.go`) does to every request before routing, in the same
//! order, over HTTP/1.1 and HTTP/2 alike:
//!
//! 1. `http.underscoreHeadersStrategy`: headers whose name holds `_` are kept (`keep`, the
//!    default), removed (`delete`) or make the request a 400 (`reject`);
//! 2. a `#` in the path is a 400 (`denyFragment`);
//! 3. the path's percent-encodings of unreserved characters are decoded and the others
//!    written in upper case (`normalizePath`); a malformed one is a 400;
//! 4. the path is what Go's `URL.EscapedPath` gives for it (characters Go will not leave raw,
//!    such as `{` or `"`, make it re-escape the decoded path whole);
//! 5. `http.sanitizePath` (default `true`): `.` and `..` segments and repeated `/` are removed
//!    as Go's `URL.JoinPath` does (`sanitizePath`);
//! 6. a `;` in the query becomes `&` (Go's `AllowQuerySemicolons`), or `%3B` with
//!    `http.encodeQuerySemicolons` (`encodeQuerySemicolons`).
//!
//! Routing, the middlewares and the backend all see the result (Traefik's proxies forward
//! `EscapedPath` and a query whose `;` became `&`). `http.encodedCharacters` is not here: in
//! Traefik it is checked by each router of the entry point, after routing (see
//! [`EncodedCharacters`]).

use std::borrow::Cow;

use hyper::HeaderMap;

/// `http.underscoreHeadersStrategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Underscores {
    /// Headers with `_` in their names are forwarded as they are.
    #[default]
    Keep,
    /// They are removed before routing.
    Delete,
    /// A request with one is answered 400.
    Reject,
}

impl Underscores {
    /// Traefik's values, compared exactly (`Keep` is an error there too); empty is `keep`.
    pub fn parse(v: &str) -> Option<Underscores> {
        match v {
            "" | "keep" => Some(Underscores::Keep),
            "delete" => Some(Underscores::Delete),
            "reject" => Some(Underscores::Reject),
            _ => None,
        }
    }

    /// The name Traefik gives it.
    pub fn name(self) -> &'static str {
        match self {
            Underscores::Keep => "keep",
            Underscores::Delete => "delete",
            Underscores::Reject => "reject",
        }
    }
}

/// An entry point's request pipeline settings, with Traefik's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `http.encodeQuerySemicolons` (default `false`).
    pub encode_query_semicolons: bool,
    /// `http.sanitizePath` (default `true`).
    pub sanitize_path: bool,
    /// `http.underscoreHeadersStrategy` (default `keep`).
    pub underscores: Underscores,
    /// `http.encodedCharacters` (default unset: every encoded character allowed).
    pub encoded_characters: Option<EncodedCharacters>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            encode_query_semicolons: false,
            sanitize_path: true,
            underscores: Underscores::Keep,
            encoded_characters: None,
        }
    }
}

/// `http.encodedCharacters`: which percent-encoded characters a request path may hold. Every
/// one is allowed unless set to `false` (Traefik's `SetDefaults` makes each `true` once the
/// section exists). Traefik checks it in each router of the entry point (a request no router
/// takes is still a 404), on the path the pipeline above left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct EncodedCharacters {
    /// `allowEncodedSlash`: `%2F`.
    #[serde(rename = "allowEncodedSlash")]
    pub slash: bool,
    /// `allowEncodedBackSlash`: `%5C`.
    #[serde(rename = "allowEncodedBackSlash")]
    pub back_slash: bool,
    /// `allowEncodedNullCharacter`: `%00`.
    #[serde(rename = "allowEncodedNullCharacter")]
    pub null_character: bool,
    /// `allowEncodedSemicolon`: `%3B`.
    #[serde(rename = "allowEncodedSemicolon")]
    pub semicolon: bool,
    /// `allowEncodedPercent`: `%25`.
    #[serde(rename = "allowEncodedPercent")]
    pub percent: bool,
    /// `allowEncodedQuestionMark`: `%3F`.
    #[serde(rename = "allowEncodedQuestionMark")]
    pub question_mark: bool,
    /// `allowEncodedHash`: `%23`.
    #[serde(rename = "allowEncodedHash")]
    pub hash: bool,
}

impl Default for EncodedCharacters {
    fn default() -> Self {
        EncodedCharacters {
            slash: true,
            back_slash: true,
            null_character: true,
            semicolon: true,
            percent: true,
            question_mark: true,
            hash: true,
        }
    }
}

impl EncodedCharacters {
    /// The encodings refused, as Traefik's `RouterDeniedEncodedPathCharacters.Map` lists them
    /// (upper and lower case, but `%00`, `%25` and `%23`, which have no letters).
    fn denied(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        for (allowed, codes) in [
            (self.slash, &["%2F", "%2f"][..]),
            (self.back_slash, &["%5C", "%5c"][..]),
            (self.null_character, &["%00"][..]),
            (self.semicolon, &["%3B", "%3b"][..]),
            (self.percent, &["%25"][..]),
            (self.question_mark, &["%3F", "%3f"][..]),
            (self.hash, &["%23"][..]),
        ] {
            if !allowed {
                out.extend_from_slice(codes);
            }
        }
        out
    }

    /// The first refused encoding in `escaped_path` (Traefik's `denyEncodedPathCharacters`:
    /// a `%` without two characters after it is refused too, as `%`).
    pub fn refused<'p>(&self, escaped_path: &'p str) -> Option<&'p str> {
        let denied = self.denied();
        if denied.is_empty() {
            return None;
        }
        let b = escaped_path.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] != b'%' {
                i += 1;
                continue;
            }
            let Some(code) = escaped_path.get(i..i + 3) else {
                return Some(&escaped_path[i..]);
            };
            if denied.contains(&code) {
                return Some(code);
            }
            i += 3;
        }
        None
    }
}

/// Why the pipeline refused a request (each is a 400).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// A header name holds `_` and the strategy is `reject`.
    Underscore,
    /// The path holds a `#`.
    Fragment,
    /// The path holds a malformed percent-encoding.
    Encoding,
}

impl Refused {
    /// The reason, for the log.
    pub fn reason(self) -> &'static str {
        match self {
            Refused::Underscore => {
                "a request header name contains an underscore (underscoreHeadersStrategy=reject)"
            }
            Refused::Fragment => "the request path contains a fragment",
            Refused::Encoding => "invalid percent-encoding in the request path",
        }
    }
}

/// The request's path and query as routing, the middlewares and the backend see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared<'a> {
    /// The path, escaped.
    pub path: Cow<'a, str>,
    /// The query.
    pub query: Option<Cow<'a, str>>,
}

/// Runs the pipeline on a request's path and query (as received) and headers (changed in
/// place by `delete`).
pub fn prepare<'a>(
    s: &Settings,
    path: &'a str,
    query: Option<&'a str>,
    headers: &mut HeaderMap,
) -> Result<Prepared<'a>, Refused> {
    match s.underscores {
        Underscores::Keep => {}
        Underscores::Delete => {
            let names: Vec<_> = headers
                .keys()
                .filter(|k| k.as_str().contains('_'))
                .cloned()
                .collect();
            for n in names {
                headers.remove(n);
            }
        }
        Underscores::Reject => {
            if headers.keys().any(|k| k.as_str().contains('_')) {
                return Err(Refused::Underscore);
            }
        }
    }
    if path.contains('#') {
        return Err(Refused::Fragment);
    }
    let path = if path.starts_with('/') {
        let normalized = normalize_path(path).ok_or(Refused::Encoding)?;
        let escaped = match escaped_path(&normalized) {
            Cow::Borrowed(_) => normalized,
            Cow::Owned(o) => Cow::Owned(o),
        };
        if s.sanitize_path {
            match sanitize_path(&escaped) {
                Cow::Borrowed(_) => escaped,
                Cow::Owned(o) => Cow::Owned(o),
            }
        } else {
            escaped
        }
    } else {
        // `*` (`OPTIONS *`): Go leaves it as it is.
        Cow::Borrowed(path)
    };
    let query = query.map(|q| {
        if !q.contains(';') {
            Cow::Borrowed(q)
        } else if s.encode_query_semicolons {
            Cow::Owned(q.replace(';', "%3B"))
        } else {
            Cow::Owned(q.replace(';', "&"))
        }
    });
    Ok(Prepared { path, query })
}

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Traefik's `normalizePath`: percent-encodings of unreserved characters (RFC 3986 2.3)
/// decoded, the others in upper case (RFC 3986 6.2.2.1). `None` for a malformed encoding
/// (Go's server answers 400 before Traefik sees it).
pub fn normalize_path(raw: &str) -> Option<Cow<'_, str>> {
    if !raw.contains('%') {
        return Some(Cow::Borrowed(raw));
    }
    let b = raw.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'%' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let hi = hex(*b.get(i + 1)?)?;
        let lo = hex(*b.get(i + 2)?)?;
        let c = hi << 4 | lo;
        if unreserved(c) {
            out.push(c);
        } else {
            out.extend_from_slice(&[b'%', HEX[hi as usize], HEX[lo as usize]]);
        }
        i += 3;
    }
    let out = String::from_utf8(out).ok()?;
    Some(if out == raw {
        Cow::Borrowed(raw)
    } else {
        Cow::Owned(out)
    })
}

/// Go's `shouldEscape(c, encodePath)`.
fn should_escape(c: u8) -> bool {
    if unreserved(c) {
        return false;
    }
    !matches!(
        c,
        b'$' | b'&' | b'+' | b',' | b'/' | b':' | b';' | b'=' | b'@'
    )
}

/// Go's `validEncoded(s, encodePath)`: what `EscapedPath` leaves as it was received.
fn valid_encoded(s: &str) -> bool {
    s.bytes().all(|c| {
        matches!(
            c,
            b'!' | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
                | b'['
                | b']'
                | b'%'
        ) || !should_escape(c)
    })
}

/// Go's `URL.EscapedPath` for a path received as `raw` (well-formed encodings): `raw` when Go
/// accepts it as an encoding of itself, else the decoded path escaped again by Go's rules
/// (then `%2F` is a `/` like any other).
pub fn escaped_path(raw: &str) -> Cow<'_, str> {
    if valid_encoded(raw) {
        return Cow::Borrowed(raw);
    }
    let b = raw.as_bytes();
    let mut out = String::with_capacity(b.len() + 8);
    let mut i = 0;
    while i < b.len() {
        let mut c = b[i];
        if c == b'%' {
            if let (Some(hi), Some(lo)) = (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            ) {
                c = hi << 4 | lo;
                i += 2;
            }
        }
        if should_escape(c) {
            out.push('%');
            out.push(HEX[(c >> 4) as usize] as char);
            out.push(HEX[(c & 15) as usize] as char);
        } else {
            out.push(c as char);
        }
        i += 1;
    }
    Cow::Owned(out)
}

/// Traefik's `sanitizePath`, Go's `URL.JoinPath()` on an escaped path starting with `/`:
/// `path.Clean` (no `.` or `..` segments, no repeated `/`, `..` above the root dropped) with
/// a trailing `/` kept. `%2F` is not a separator and `%2E` is not a dot here.
pub fn sanitize_path(p: &str) -> Cow<'_, str> {
    // Most paths are clean already: no allocation for them (this runs for every request).
    if is_clean(p) {
        return Cow::Borrowed(p);
    }
    let cleaned = go_clean(p);
    let cleaned = if p.ends_with('/') && !cleaned.ends_with('/') {
        cleaned + "/"
    } else {
        cleaned
    };
    if cleaned == p {
        Cow::Borrowed(p)
    } else {
        Cow::Owned(cleaned)
    }
}

/// Whether the rooted path `p` is what [`sanitize_path`] makes of it: no `.` or `..`
/// segment and no empty one but a last (a trailing `/`).
fn is_clean(p: &str) -> bool {
    let mut segments = p.split('/').skip(1).peekable();
    while let Some(s) = segments.next() {
        match s {
            "." | ".." => return false,
            "" if segments.peek().is_some() => return false,
            _ => {}
        }
    }
    true
}

/// Go's `path.Clean` for a rooted path.
pub(crate) fn go_clean(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    let mut s = String::with_capacity(p.len());
    for seg in &out {
        s.push('/');
        s.push_str(seg);
    }
    if s.is_empty() {
        s.push('/');
    }
    s
}

/// The request's canonical host, as Traefik's `requestdecorator` gives it to the `Host` and
/// `HostRegexp` matchers: the `Host` value without its port (`parseHost`: Go's
/// `net.SplitHostPort`; a bracketed IPv6 address without a port loses its brackets; a value
/// `SplitHostPort` refuses, such as a bare IPv6 address or one with an unbalanced bracket, is
/// kept whole), then trimmed and in lower case (`types.CanonicalDomain`).
pub fn canonical_host(raw: &str) -> String {
    // Go's server trims the header value (textproto) before it is the request's Host.
    let raw = raw.trim();
    let host = if !raw.contains(':') {
        raw
    } else if let Some(h) = split_host_port(raw) {
        h
    } else if raw.len() >= 2 && raw.starts_with('[') && raw.ends_with(']') {
        &raw[1..raw.len() - 1]
    } else {
        raw
    };
    host.trim().to_ascii_lowercase()
}

/// Go's `net.SplitHostPort`, the host only: `None` where Go returns an error (no port, too
/// many colons, a misplaced bracket). The port is not checked, as Go does not check it.
fn split_host_port(s: &str) -> Option<&str> {
    let i = s.rfind(':')?;
    let (host, j, k) = if s.starts_with('[') {
        let end = s.find(']')?;
        // The ']' must be just before the last ':' (and not the last character).
        if end + 1 != i {
            return None;
        }
        (&s[1..end], 1, end + 1)
    } else {
        let h = &s[..i];
        if h.contains(':') {
            return None;
        }
        (h, 0, 0)
    };
    if s[j..].contains('[') || s[k..].contains(']') {
        return None;
    }
    Some(host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::{HeaderName, HeaderValue};

    /// Traefik's `Test_parseHost` and `TestRequestHost` (requestdecorator): the `Host` value,
    /// the canonical host routing sees. Then `CanonicalDomain`'s trimming and lower case.
    #[test]
    fn canonical_host_as_traefiks_tables() {
        for (desc, host, want) in [
            ("host without :", "host", "host"),
            ("host with : and without port", "host:", "host"),
            ("IP host with : and with port", "127.0.0.1:123", "127.0.0.1"),
            ("IP host with : and without port", "127.0.0.1:", "127.0.0.1"),
            (
                "IPv6 without brackets is kept whole",
                "fe80::215:5dff:fe20:cd6a",
                "fe80::215:5dff:fe20:cd6a",
            ),
            (
                "IPv6 host with : and with port",
                "[fe80::215:5dff:fe20:cd6a]:123",
                "fe80::215:5dff:fe20:cd6a",
            ),
            (
                "IPv6 host with : and without port",
                "[fe80::215:5dff:fe20:cd6a]:",
                "fe80::215:5dff:fe20:cd6a",
            ),
            (
                "IPv6 host without : and without port",
                "[fe80::215:5dff:fe20:cd6a]",
                "fe80::215:5dff:fe20:cd6a",
            ),
            (
                "invalid IPv6: missing [",
                "fe80::215:5dff:fe20:cd6a]",
                "fe80::215:5dff:fe20:cd6a]",
            ),
            (
                "invalid IPv6: missing ]",
                "[fe80::215:5dff:fe20:cd6a",
                "[fe80::215:5dff:fe20:cd6a",
            ),
            ("empty address", "", ""),
            ("only :", ":", ""),
            // TestRequestHost (the same values through a request's URL).
            ("URL host without :", "host", "host"),
            ("URL IP host with port", "127.0.0.1:123", "127.0.0.1"),
            // CanonicalDomain: lower case; a port that is not a number is still a port (Go
            // does not check it); a misplaced bracket keeps the value whole.
            ("upper case", "Example.COM:8080", "example.com"),
            ("trailing dot kept", "example.com.:80", "example.com."),
            ("non-numeric port", "host:abc", "host"),
            ("bracket after the host", "a]:80", "a]:80"),
            ("IPv6 with two ports", "[::1]:80:81", "[::1]:80:81"),
            ("text after the bracket", "[::1]x", "[::1]x"),
        ] {
            assert_eq!(canonical_host(host), want, "{desc}: {host:?}");
        }
    }

    fn run(s: &Settings, target: &str) -> Result<String, Refused> {
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (target, None),
        };
        let p = prepare(s, path, query, &mut HeaderMap::new())?;
        Ok(match p.query {
            Some(q) => format!("{}?{q}", p.path),
            None => p.path.into_owned(),
        })
    }

    /// Traefik's `TestSanitizePath` (server_entrypoint_tcp_test.go): the path received, the
    /// path after sanitizing.
    #[test]
    fn sanitize_path_as_traefiks_table() {
        for (path, want) in [
            ("/b", "/b"),
            ("/b/", "/b/"),
            ("/../../b/", "/b/"),
            ("/../../b", "/b"),
            ("/a/b/..", "/a"),
            ("/a/b/../", "/a/"),
            ("/a/../../b", "/b"),
            ("/..///b///", "/b/"),
            ("/a/../b", "/b"),
            ("/a/./b", "/a/b"),
            ("/a//b", "/a/b"),
            ("/a/../c/../b", "/b"),
            ("/a/../../../c/../b", "/b"),
            ("/a/../c/../../b", "/b"),
            ("/a/..//c/.././b", "/b"),
            // Go's path.Clean on the rest.
            ("/", "/"),
            ("/..", "/"),
            ("/.", "/"),
            ("/a/.", "/a"),
            ("//", "/"),
            ("/a%2F..%2Fb", "/a%2F..%2Fb"),
        ] {
            assert_eq!(sanitize_path(path), want, "{path}");
        }
    }

    /// Traefik's documentation table for `sanitizePath`, on and off.
    #[test]
    fn the_clean_path_shortcut_agrees_with_the_full_cleaning() {
        // Every rooted path of up to 7 characters from `/`, `.` and `a`.
        let mut paths = vec!["/".to_owned()];
        let mut at = 0;
        while at < paths.len() {
            if paths[at].len() < 7 {
                for c in ['/', '.', 'a'] {
                    paths.push(format!("{}{c}", paths[at]));
                }
            }
            at += 1;
        }
        for p in &paths {
            let full = go_clean(p);
            let full = if p.ends_with('/') && !full.ends_with('/') {
                full + "/"
            } else {
                full
            };
            assert_eq!(is_clean(p), full == *p, "{p:?}");
        }
    }

    #[test]
    fn sanitize_path_on_and_off() {
        let off = Settings {
            sanitize_path: false,
            ..Default::default()
        };
        for (path, on_want) in [
            ("/./foo/bar", "/foo/bar"),
            ("/foo/../bar", "/bar"),
            ("/foo/bar//", "/foo/bar/"),
            ("/./foo/../bar//", "/bar/"),
        ] {
            assert_eq!(run(&Settings::default(), path).unwrap(), on_want, "{path}");
            assert_eq!(run(&off, path).unwrap(), path, "{path}");
        }
    }

    /// Traefik's `TestNormalizePath`: every unreserved character decoded, reserved ones kept,
    /// any other upper-cased.
    #[test]
    fn normalize_path_as_traefiks_test() {
        let unreserved = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
        let encoded: String = unreserved.bytes().map(|b| format!("%{b:02X}")).collect();
        let reserved = "%3A%2F%3F%23%5B%5D%40%21%24%26%27%28%29%2A%2B%2C%3B%3D%25";
        let raw = format!("/{encoded}{reserved}%0a");
        let want = format!("/{unreserved}{reserved}%0A");
        assert_eq!(normalize_path(&raw).unwrap(), want);
        // TestNormalizePath_malformedPercentEncoding.
        assert!(normalize_path("/%20").is_some());
        assert_eq!(normalize_path("/%"), None);
        assert_eq!(normalize_path("/%f"), None);
        assert_eq!(normalize_path("/%zz"), None);
        assert!(matches!(normalize_path("/plain"), Some(Cow::Borrowed(_))));
    }

    /// Traefik's `TestPathOperations`: the whole pipeline, path received -> escaped path the
    /// handler sees (its `allowEncodedSlash` and `allowEncodedPercent` are routers' checks).
    #[test]
    fn path_operations_as_traefiks_table() {
        for (raw, want) in [
            ("/a/../b/%41%42%43//%2f/", "/b/ABC/%2F/"),
            ("/../../b/", "/b/"),
            ("/a/../../b/../c/", "/c/"),
            ("/a/../b/./c/../d/", "/b/d/"),
            ("/a/b/../", "/a/"),
            ("/a/%2E%2E/%2E%2E/b/", "/b/"),
            ("/a/%252E%252E/%252E%252E/b/", "/a/%252E%252E/%252E%252E/b/"),
            ("/foo%20bar", "/foo%20bar"),
            ("/foo%2Fbar", "/foo%2Fbar"),
            ("/foo%20%2Fbar", "/foo%20%2Fbar"),
            ("/a/..%2Fb/", "/a/..%2Fb/"),
        ] {
            assert_eq!(run(&Settings::default(), raw).unwrap(), want, "{raw}");
        }
    }

    /// Go's `EscapedPath`: what it leaves raw, and what makes it escape the path again.
    #[test]
    fn escaped_path_as_gos() {
        for (raw, want) in [
            ("/a!$&'()*+,;=:@[]b", "/a!$&'()*+,;=:@[]b"),
            ("/a%20b%2F", "/a%20b%2F"),
            // `{` is not left raw: the decoded path is escaped whole (`%2F` is then `/`).
            ("/a{b}", "/a%7Bb%7D"),
            ("/a%2Fb{", "/a/b%7B"),
            ("/a|b\"c", "/a%7Cb%22c"),
            ("/%C3%A9", "/%C3%A9"),
            ("/é", "/%C3%A9"),
            ("/a%21{", "/a%21%7B"),
        ] {
            assert_eq!(escaped_path(raw), want, "{raw}");
        }
    }

    /// Traefik's `Test_denyFragment`, and a malformed encoding.
    #[test]
    fn fragments_and_bad_encodings_are_refused() {
        let s = Settings::default();
        assert_eq!(run(&s, "/foo#bar"), Err(Refused::Fragment));
        assert_eq!(run(&s, "/#"), Err(Refused::Fragment));
        assert_eq!(run(&s, "/foo%23bar").unwrap(), "/foo%23bar");
        // A `#` in the query is the query's (Go keeps it in RawQuery).
        assert_eq!(run(&s, "/foo?a#b").unwrap(), "/foo?a#b");
        assert_eq!(run(&s, "/a%zz"), Err(Refused::Encoding));
        assert_eq!(run(&s, "/a%"), Err(Refused::Encoding));
        assert_eq!(run(&s, "*").unwrap(), "*");
    }

    /// Traefik's documentation table for `encodeQuerySemicolons`.
    #[test]
    fn query_semicolons_as_traefiks_table() {
        let encode = Settings {
            encode_query_semicolons: true,
            ..Default::default()
        };
        for (query, plain, encoded) in [
            ("foo=bar;baz=bar", "foo=bar&baz=bar", "foo=bar%3Bbaz=bar"),
            (
                "foo=bar&baz=bar;foo",
                "foo=bar&baz=bar&foo",
                "foo=bar&baz=bar%3Bfoo",
            ),
            ("a=1", "a=1", "a=1"),
        ] {
            let target = format!("/p?{query}");
            assert_eq!(
                run(&Settings::default(), &target).unwrap(),
                format!("/p?{plain}")
            );
            assert_eq!(run(&encode, &target).unwrap(), format!("/p?{encoded}"));
        }
    }

    fn headers(names: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for n in names {
            h.append(
                HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_static("v"),
            );
        }
        h
    }

    /// Traefik's `TestUnderscoreHeadersStrategy`, `Test_removeHeadersWithUnderscores` and
    /// `Test_rejectHeadersWithUnderscores`: each strategy with and without such a header.
    #[test]
    fn underscore_headers_strategies() {
        let with = ["X-Auth-User", "X_Auth_User", "x_other", "Foo"];
        let without = ["X-Auth-User", "Foo"];
        for (strategy, with_left, refused) in [
            (Underscores::Keep, &with[..], false),
            (Underscores::Delete, &without[..], false),
            (Underscores::Reject, &[][..], true),
        ] {
            let s = Settings {
                underscores: strategy,
                ..Default::default()
            };
            let mut h = headers(&with);
            let out = prepare(&s, "/", None, &mut h);
            assert_eq!(out.is_err(), refused, "{strategy:?}");
            if refused {
                assert_eq!(out, Err(Refused::Underscore));
            } else {
                let left: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
                let want: Vec<String> = with_left.iter().map(|n| n.to_ascii_lowercase()).collect();
                assert_eq!(left, want, "{strategy:?}");
            }
            // Without any: nothing changes, nothing refused.
            let mut h = headers(&without);
            assert!(prepare(&s, "/", None, &mut h).is_ok());
            assert_eq!(h.len(), 2);
        }
        // Several values of one such header all go.
        let mut h = headers(&["a_b", "a_b", "c"]);
        let s = Settings {
            underscores: Underscores::Delete,
            ..Default::default()
        };
        prepare(&s, "/", None, &mut h).unwrap();
        assert_eq!(h.len(), 1);
        for (v, want) in [
            ("", Some(Underscores::Keep)),
            ("keep", Some(Underscores::Keep)),
            ("delete", Some(Underscores::Delete)),
            ("reject", Some(Underscores::Reject)),
            ("Keep", None),
            ("drop", None),
        ] {
            assert_eq!(Underscores::parse(v), want, "{v}");
        }
    }

    /// Traefik's `TestRouterDeniedEncodedPathCharacters_Map` (http_config_test.go) and
    /// `Test_denyEncodedPathCharacters` (router/deny_test.go).
    #[test]
    fn encoded_characters_refused() {
        let all = EncodedCharacters::default();
        assert!(all.denied().is_empty());
        assert_eq!(all.refused("/a%2Fb%00"), None);
        let none = EncodedCharacters {
            slash: false,
            back_slash: false,
            null_character: false,
            semicolon: false,
            percent: false,
            question_mark: false,
            hash: false,
        };
        assert_eq!(
            none.denied(),
            ["%2F", "%2f", "%5C", "%5c", "%00", "%3B", "%3b", "%25", "%3F", "%3f", "%23"]
        );
        for (allow, path, want) in [
            (
                EncodedCharacters {
                    slash: false,
                    ..Default::default()
                },
                "/a%2Fb",
                Some("%2F"),
            ),
            (
                EncodedCharacters {
                    slash: false,
                    ..Default::default()
                },
                "/a%2fb",
                Some("%2f"),
            ),
            (
                EncodedCharacters {
                    slash: false,
                    ..Default::default()
                },
                "/a%5Cb%20",
                None,
            ),
            (
                EncodedCharacters {
                    back_slash: false,
                    ..Default::default()
                },
                "/a%5cb",
                Some("%5c"),
            ),
            (
                EncodedCharacters {
                    null_character: false,
                    ..Default::default()
                },
                "/a%00",
                Some("%00"),
            ),
            (
                EncodedCharacters {
                    semicolon: false,
                    ..Default::default()
                },
                "/a%3Bb",
                Some("%3B"),
            ),
            (
                EncodedCharacters {
                    percent: false,
                    ..Default::default()
                },
                "/a%252F",
                Some("%25"),
            ),
            (
                EncodedCharacters {
                    question_mark: false,
                    ..Default::default()
                },
                "/a%3F",
                Some("%3F"),
            ),
            (
                EncodedCharacters {
                    hash: false,
                    ..Default::default()
                },
                "/a%23",
                Some("%23"),
            ),
            // `%25` is one encoding: the `2F` after it is not `%2F`.
            (
                EncodedCharacters {
                    slash: false,
                    ..Default::default()
                },
                "/a%252F",
                None,
            ),
            (
                EncodedCharacters {
                    slash: false,
                    ..Default::default()
                },
                "/a%2",
                Some("%2"),
            ),
        ] {
            assert_eq!(allow.refused(path), want, "{allow:?} {path}");
        }
    }
}
