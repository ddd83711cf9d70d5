//! `loadBalancer.sticky.cookie`: a client's requests stay on the server that took its first
//! one, through a cookie naming that server, as Traefik's sticky sessions do (the same cookie
//! names and values, so sessions survive a move from Traefik).

use serde::Serialize;

use super::middleware::fields;
use crate::tree::{DecodeError, Node};

/// A sticky cookie.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StickyCookie {
    /// Its name (empty: Traefik's name made from the service's, see [`cookie_name`]).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// `Secure`.
    pub secure: bool,
    /// `HttpOnly`.
    pub http_only: bool,
    /// `SameSite`: `none`, `lax`, `strict` (else none set).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub same_site: String,
    /// `Max-Age` (0: none; below 0: `Max-Age=0`, delete it).
    pub max_age: i64,
    /// `Path` (default `/`): visible ASCII and spaces, no `;`.
    pub path: String,
    /// `Domain`: empty, a host name (perhaps with a leading `.`) or an IPv4 address.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domain: String,
}

/// Decodes `sticky` (its `cookie`: a section, or `true`). `sticky=false` is no sticky
/// sessions, as in Traefik (a section that may be empty, given false, is off).
pub fn decode(n: &Node) -> Result<Option<StickyCookie>, DecodeError> {
    if !n.section_on()? {
        return Ok(None);
    }
    let mut f = fields(n, &["cookie"])?;
    let Some(c) = f.take("cookie") else {
        return Ok(None);
    };
    if !c.section_on()? {
        return Ok(None);
    }
    let mut f = fields(
        c,
        &[
            "name", "secure", "httpOnly", "sameSite", "maxAge", "path", "domain",
        ],
    )?;
    let boolean =
        |n: Option<&Node>| Ok::<_, DecodeError>(n.map(Node::boolean).transpose()?.unwrap_or(false));
    let text = |n: Option<&Node>| {
        Ok::<_, DecodeError>(n.map(Node::text).transpose()?.unwrap_or("").to_owned())
    };
    let same_site = text(f.take("sameSite"))?;
    if !matches!(
        same_site.to_ascii_lowercase().as_str(),
        "" | "none" | "lax" | "strict"
    ) {
        return Err(DecodeError::at(
            c,
            format!("sameSite: expected none, lax or strict, got {same_site:?}"),
        ));
    }
    let path = match f.take("path") {
        Some(p) => {
            let path = p.text()?;
            // Go's `http.SetCookie` would drop these bytes from the attribute.
            if !path.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b';') {
                return Err(DecodeError::at(
                    p,
                    format!(
                        "expected a cookie path (visible ASCII and spaces, no ';'), got {path:?}"
                    ),
                ));
            }
            path.to_owned()
        }
        None => "/".to_owned(),
    };
    let domain = match f.take("domain") {
        Some(d) => {
            let domain = d.text()?;
            // Go's `http.SetCookie` would send the cookie without this attribute.
            if !domain.is_empty() && !cookie_domain(domain) {
                return Err(DecodeError::at(
                    d,
                    format!(
                        "expected a cookie domain (a host name or an IPv4 address), got {domain:?}"
                    ),
                ));
            }
            domain.to_owned()
        }
        None => String::new(),
    };
    Ok(Some(StickyCookie {
        name: text(f.take("name"))?,
        secure: boolean(f.take("secure"))?,
        http_only: boolean(f.take("httpOnly"))?,
        same_site,
        max_age: f
            .take("maxAge")
            .map(Node::integer)
            .transpose()?
            .unwrap_or(0),
        path,
        domain,
    }))
}

/// Whether `d` is a `Domain` Go's `http.SetCookie` writes (its `validCookieDomain`): a host
/// name of letters, digits, `-` and `.` (one leading `.` allowed, labels of 1 to 63 bytes,
/// none starting with `-` nor ending with it, a letter somewhere), or an IPv4 address.
fn cookie_domain(d: &str) -> bool {
    if d.parse::<std::net::Ipv4Addr>().is_ok() {
        return true;
    }
    if d.is_empty() || d.len() > 255 {
        return false;
    }
    let d = d.strip_prefix('.').unwrap_or(d);
    let (mut last, mut letter, mut label) = (b'.', false, 0);
    for c in d.bytes() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => letter = true,
            b'0'..=b'9' => {}
            b'-' if last != b'.' => {}
            b'.' if last != b'.' && last != b'-' && (1..=63).contains(&label) => {
                label = 0;
                last = c;
                continue;
            }
            _ => return false,
        }
        label += 1;
        last = c;
    }
    last != b'-' && label <= 63 && letter
}

/// The value of cookie `name` among a request's `Cookie` lines, as Go's `Request.Cookie`
/// reads it for Traefik: pairs split at `;` and trimmed, the name (trimmed) a token compared
/// exactly, the value one pair of surrounding double quotes stripped; a pair whose value
/// holds a byte a cookie value cannot (a control, non-ASCII, `"`, `;`, `\`) is skipped, and
/// the first pair left wins.
pub fn cookie_value<'a>(lines: impl IntoIterator<Item = &'a [u8]>, name: &str) -> Option<String> {
    let trim = |s: &'a [u8]| s.trim_ascii();
    lines
        .into_iter()
        .flat_map(|line| line.split(|b| *b == b';'))
        .map(trim)
        .filter(|pair| !pair.is_empty())
        .find_map(|pair| {
            let (k, v) = match pair.iter().position(|b| *b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &pair[pair.len()..]),
            };
            if trim(k) != name.as_bytes() || name.is_empty() || !name.bytes().all(token) {
                return None;
            }
            let v = match v {
                [b'"', inner @ .., b'"'] => inner,
                v => v,
            };
            v.iter()
                .all(|b| (0x20..0x7f).contains(b) && !matches!(b, b'"' | b';' | b'\\'))
                .then(|| String::from_utf8_lossy(v).into_owned())
        })
}

/// An RFC 7230 token character (a cookie name's).
fn token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The cookie's name for `service` (qualified): the configured one with characters a cookie
/// name cannot hold made `_`, else `_` and the first five hex digits of
/// SHA-1(`_TRAEFIK_BACKEND_<service>`), as Traefik names it.
pub fn cookie_name(configured: &str, service: &str) -> String {
    if !configured.is_empty() {
        return configured
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "!#$%&'*+-.^`|~".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
    }
    use sha1::Digest;
    let digest = sha1::Sha1::digest(format!("_TRAEFIK_BACKEND_{service}").as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("_{}", &hex[..5])
}

/// The cookie's value for a server: the first 16 hex digits of SHA-256 of its URL.
pub fn server_value(url: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(url.as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Whether a cookie `value` names the server of `url`: Traefik's current value, or one of
/// the older ones it still reads (the URL, its FNV-1 64 hash, that hash hashed again).
pub fn names_server(value: &str, url: &str) -> bool {
    if value == server_value(url) || value == url {
        return true;
    }
    let once = fnv64(url);
    value == once || value == fnv64(&once)
}

/// Go's `fnv.New64` (FNV-1) as lower-case hex without leading zeros.
fn fnv64(s: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
        h ^= u64::from(b);
    }
    format!("{h:x}")
}

impl StickyCookie {
    /// The `Set-Cookie` value naming the server of `url`, with `name` (see [`cookie_name`]).
    pub fn set_cookie(&self, name: &str, url: &str) -> String {
        let mut out = format!("{name}={}", server_value(url));
        if !self.path.is_empty() {
            out.push_str(&format!("; Path={}", self.path));
        }
        if !self.domain.is_empty() {
            // Go writes a leading `.` as nothing (browsers ignore it).
            let domain = self.domain.strip_prefix('.').unwrap_or(&self.domain);
            out.push_str(&format!("; Domain={domain}"));
        }
        match self.max_age {
            0 => {}
            a if a < 0 => out.push_str("; Max-Age=0"),
            a => out.push_str(&format!("; Max-Age={a}")),
        }
        if self.http_only {
            out.push_str("; HttpOnly");
        }
        if self.secure {
            out.push_str("; Secure");
        }
        match self.same_site.to_ascii_lowercase().as_str() {
            "none" => out.push_str("; SameSite=None"),
            "lax" => out.push_str("; SameSite=Lax"),
            "strict" => out.push_str("; SameSite=Strict"),
            _ => {}
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_values_are_traefiks() {
        // Traefik's cookie_test.go table.
        assert_eq!(cookie_name("", "/my/BACKEND-v1.0~rc1"), "_5f7bc");
        assert_eq!(
            cookie_name("/my/BACKEND-v1.0~rc1", ""),
            "_my_BACKEND-v1.0~rc1"
        );
        assert_eq!(cookie_name("cookie", "backend"), "cookie");
        let url = "http://10.0.0.2:80";
        let v = server_value(url);
        assert_eq!(v.len(), 16);
        assert!(names_server(&v, url) && names_server(url, url) && !names_server("nope", url));
        assert!(names_server(&fnv64(url), url) && names_server(&fnv64(&fnv64(url)), url));
        // FNV-1 of "" is the offset basis.
        assert_eq!(fnv64(""), "cbf29ce484222325");
        let c = StickyCookie {
            http_only: true,
            secure: true,
            same_site: "Lax".into(),
            max_age: 60,
            path: "/".into(),
            ..Default::default()
        };
        assert_eq!(
            c.set_cookie("sid", url),
            format!("sid={v}; Path=/; Max-Age=60; HttpOnly; Secure; SameSite=Lax")
        );
    }
}

/// Traefik's `pkg/server/service/loadbalancer/sticky_test.go`, translated: the cookie its
/// options write (`TestSticky_WriteStickyCookie`, `TestConvertSameSite_CaseInsensitive`),
/// and the attributes Go's `http.SetCookie` writes differently from what it is given (a
/// leading `.` of the domain, a domain or path it would drop, which the router refuses; see
/// README). `expires` is set by Traefik's NGINX ingress provider only (`file:"-"`).
/// `TestSticky_StickyHandler` is in `live.rs`, with the balancer.
#[cfg(test)]
// The tables are tuples of plain data.
#[allow(clippy::type_complexity)]
mod traefik_tables {
    use super::*;

    /// The cookie a `sticky` section (YAML, under `sticky.cookie`) sets for server `first`, or
    /// the error it gets.
    fn written(options: &str) -> Result<String, String> {
        let yaml = format!("sticky:\n  cookie:\n{options}");
        let root = Node::from_yaml(&yaml, "").unwrap_or_else(|e| panic!("{e}"));
        let sticky = root.get("sticky").expect("sticky");
        let cookie = decode(sticky)
            .map_err(|e| e.to_string())?
            .expect("sticky on");
        Ok(cookie.set_cookie(&cookie_name(&cookie.name, "svc@file"), "first"))
    }

    #[test]
    fn write_sticky_cookie() {
        // SHA-256("first"), its first 16 hex digits.
        let v = "a7937b64b8caa58f";
        let options = "    name: test\n    secure: true\n    httpOnly: true\n    sameSite: none\n    maxAge: 42\n    path: /foo\n    domain: foo.com\n";
        assert_eq!(
            written(options).as_deref(),
            Ok(&*format!(
                "test={v}; Path=/foo; Domain=foo.com; Max-Age=42; HttpOnly; Secure; SameSite=None"
            ))
        );
    }

    #[test]
    fn convert_same_site_case_insensitive() {
        // (sameSite, the attribute written; None: refused, see README).
        let table: &[(&str, Option<&str>)] = &[
            ("none", Some("; SameSite=None")),
            ("None", Some("; SameSite=None")),
            ("NONE", Some("; SameSite=None")),
            ("lax", Some("; SameSite=Lax")),
            ("Lax", Some("; SameSite=Lax")),
            ("LAX", Some("; SameSite=Lax")),
            ("strict", Some("; SameSite=Strict")),
            ("Strict", Some("; SameSite=Strict")),
            ("STRICT", Some("; SameSite=Strict")),
            ("", Some("")),
            // Traefik: SameSiteDefaultMode, no attribute.
            ("invalid", None),
        ];
        for (same_site, want) in table {
            let got = written(&format!("    name: t\n    sameSite: {same_site:?}\n"));
            match want {
                Some(attr) => assert_eq!(
                    got.as_deref(),
                    Ok(&*format!("t=a7937b64b8caa58f; Path=/{attr}")),
                    "{same_site}"
                ),
                None => {
                    let e = got.expect_err(same_site);
                    assert!(e.contains("sameSite") && e.contains(same_site), "{e}");
                }
            }
        }
    }

    #[test]
    fn go_cookie_attributes() {
        // (options, the cookie's attributes after its value; Err: the error names these).
        let table: &[(&str, Result<&str, &[&str]>)] = &[
            ("", Ok("; Path=/")),
            // Traefik's `Path *string`: given empty, no attribute.
            ("    path: \"\"\n", Ok("")),
            ("    path: /a b\n", Ok("; Path=/a b")),
            ("    maxAge: -1\n", Ok("; Path=/; Max-Age=0")),
            ("    maxAge: 0\n", Ok("; Path=/")),
            // Go writes a leading dot as nothing.
            ("    domain: .foo.com\n", Ok("; Path=/; Domain=foo.com")),
            ("    domain: 10.0.0.1\n", Ok("; Path=/; Domain=10.0.0.1")),
            ("    domain: localhost\n", Ok("; Path=/; Domain=localhost")),
            // Go drops these (`validCookieDomain`, `validCookiePathByte`): refused here.
            ("    domain: foo.com:80\n", Err(&["domain", "foo.com:80"])),
            ("    domain: foo..com\n", Err(&["domain", "foo..com"])),
            ("    domain: -foo.com\n", Err(&["domain", "-foo.com"])),
            ("    domain: foo-.com\n", Err(&["domain", "foo-.com"])),
            ("    domain: 10.0.0.256\n", Err(&["domain", "10.0.0.256"])),
            ("    domain: \"::1\"\n", Err(&["domain", "::1"])),
            ("    domain: fo_o.com\n", Err(&["domain", "fo_o.com"])),
            ("    path: /a;b\n", Err(&["path", "/a;b"])),
            ("    path: \"/a\\tb\"\n", Err(&["path", "/a\\tb"])),
            ("    path: /é\n", Err(&["path", "/é"])),
        ];
        for (options, want) in table {
            let got = written(&format!("    name: t\n{options}"));
            match want {
                Ok(attrs) => assert_eq!(
                    got.as_deref(),
                    Ok(&*format!("t=a7937b64b8caa58f{attrs}")),
                    "{options}"
                ),
                Err(words) => {
                    let e = got.expect_err(options);
                    assert!(words.iter().all(|w| e.contains(w)), "{options}: {e}");
                }
            }
        }
        // A label of 63 bytes is a domain label, 64 is not.
        assert!(cookie_domain(&format!("{}.com", "a".repeat(63))));
        assert!(!cookie_domain(&format!("{}.com", "a".repeat(64))));
    }
}
