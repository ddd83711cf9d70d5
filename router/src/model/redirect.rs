//! The `redirectScheme` middleware's decision, as Traefik makes it: the URL the client used
//! is rebuilt (scheme from the connection or a trusted `X-Forwarded-Proto`, host and port
//! from `Host`, a scheme's default port left out), the target URL is the same with the
//! middleware's scheme and port (none when it names none), and the client is redirected only
//! when the two differ — so `https` on a non-default port is sent to the default port unless
//! the middleware names that port. GET is answered 301 or 302 (permanent or not), any other
//! method 308 or 307, so that it keeps its method and body. Pure.

/// A `redirectScheme` middleware.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemeRedirect<'a> {
    /// The target scheme (`https`, `http`, or any other such as `wss`).
    pub scheme: &'a str,
    /// The target port; `None` leaves the port out.
    pub port: Option<u16>,
    /// 301/308 rather than 302/307.
    pub permanent: bool,
}

/// The request as the middleware sees it.
#[derive(Debug, Clone, Copy)]
pub struct Requested<'a> {
    /// The connection's scheme, `http` or `https`.
    pub scheme: &'a str,
    /// A trusted client's `X-Forwarded-Proto`, if any.
    pub forwarded_proto: Option<&'a str>,
    /// The `Host` header (or HTTP/2 authority) as sent, port included.
    pub host: &'a str,
    /// The path and query, as received.
    pub target: &'a str,
    /// Whether the method is GET.
    pub get: bool,
}

/// A redirect: status and `Location`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// 301, 302, 307 or 308.
    pub status: u16,
    /// The URL to go to.
    pub location: String,
}

fn default_port(scheme: &str) -> Option<&'static str> {
    match scheme {
        "http" => Some("80"),
        "https" => Some("443"),
        _ => None,
    }
}

/// `host` split as Go's `net.SplitHostPort` splits it, the host kept when there is no port
/// (IPv6 literals keep their brackets).
fn split_host(host: &str) -> (&str, Option<&str>) {
    if let Some(rest) = host.strip_prefix('[') {
        return match rest.find(']') {
            Some(end) => {
                let (name, after) = host.split_at(end + 2);
                (name, after.strip_prefix(':').filter(|p| !p.is_empty()))
            }
            None => (host, None),
        };
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') && !port.is_empty() => (name, Some(port)),
        _ => (host, None),
    }
}

fn url(scheme: &str, host: &str, port: Option<&str>, target: &str) -> String {
    let port = port.filter(|p| default_port(scheme) != Some(*p));
    match port {
        Some(p) => format!("{scheme}://{host}:{p}{target}"),
        None => format!("{scheme}://{host}{target}"),
    }
}

impl SchemeRedirect<'_> {
    /// Where to send the request, or `None` when it is already there.
    pub fn decide(&self, req: &Requested<'_>) -> Option<Redirect> {
        let mut scheme = req.scheme;
        match req.forwarded_proto.map(str::to_ascii_lowercase).as_deref() {
            Some("http" | "ws") => scheme = "http",
            Some("https" | "wss") => scheme = "https",
            _ => {}
        }
        let (host, port) = split_host(req.host);
        let old = url(scheme, host, port, req.target);
        let port = self.port.map(|p| p.to_string());
        let new = url(self.scheme, host, port.as_deref(), req.target);
        if new == old {
            return None;
        }
        let status = match (self.permanent, req.get) {
            (true, true) => 301,
            (true, false) => 308,
            (false, true) => 302,
            (false, false) => 307,
        };
        Some(Redirect {
            status,
            location: new,
        })
    }
}

/// Whether Go's `url.Parse` takes `s`: Traefik's `redirectRegex` answers 502 instead of
/// redirecting to a URL it refuses. Its refusals: a control byte; a scheme that is empty
/// (`://x`); a first path segment with `:` and no scheme; in the authority, userinfo with
/// characters it may not hold, a host with characters or escapes it may not hold (only
/// non-ASCII bytes and `%25` may be escaped there), a port that is not digits, an IPv6
/// literal without `]`; a bad `%` escape anywhere but the query. Pure.
pub fn go_url_parses(s: &str) -> bool {
    if s.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return false;
    }
    let (s, fragment) = s.split_once('#').unwrap_or((s, ""));
    if !escapes_ok(fragment) {
        return false;
    }
    if s == "*" {
        return true;
    }
    // The scheme: a letter, then letters, digits, `+`, `-`, `.`, up to the first `:`.
    let mut rest = s;
    let mut has_scheme = false;
    for (i, c) in s.char_indices() {
        match c {
            'a'..='z' | 'A'..='Z' => {}
            '0'..='9' | '+' | '-' | '.' if i > 0 => {}
            ':' if i == 0 => return false,
            ':' => {
                has_scheme = true;
                rest = &s[i + 1..];
                break;
            }
            _ => break,
        }
    }
    let rest = rest.split_once('?').map_or(rest, |(p, _)| p);
    if !rest.starts_with('/') {
        if has_scheme {
            return true; // Opaque (`mailto:x`).
        }
        let first = rest.split('/').next().unwrap_or("");
        if first.contains(':') {
            return false;
        }
    }
    let mut path = rest;
    if (has_scheme || !rest.starts_with("///")) && rest.starts_with("//") {
        let after = &rest[2..];
        let end = after.find('/').unwrap_or(after.len());
        if !authority_ok(&after[..end]) {
            return false;
        }
        path = &after[end..];
    }
    escapes_ok(path)
}

/// Every `%` is followed by two hex digits.
fn escapes_ok(s: &str) -> bool {
    let b = s.as_bytes();
    b.iter().enumerate().all(|(i, &c)| {
        c != b'%'
            || b.get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
    })
}

/// Go's `parseAuthority`: `userinfo@host:port`.
fn authority_ok(authority: &str) -> bool {
    let (userinfo, host) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    if let Some(u) = userinfo {
        let valid = u
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._:~!$&'()*+,;=%@".contains(c));
        if !valid || !escapes_ok(u) {
            return false;
        }
    }
    let (name, port) = if host.starts_with('[') {
        match host.rfind(']') {
            Some(i) => (&host[..=i], &host[i + 1..]),
            None => return false,
        }
    } else {
        match host.rfind(':') {
            Some(i) => (&host[..i], &host[i..]),
            None => (host, ""),
        }
    };
    if !(port.is_empty() || port.starts_with(':') && port[1..].bytes().all(|b| b.is_ascii_digit()))
    {
        return false;
    }
    // In the host, `%` may only escape a non-ASCII byte, or be `%25` (an IPv6 zone's).
    let b = name.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b'%' {
            let Some(h) = b
                .get(i + 1..i + 3)
                .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            else {
                return false;
            };
            if h[0] < b'8' && h != b"25" {
                return false;
            }
        } else if c < 0x80 && !(c.is_ascii_alphanumeric() || b"-_.~!$&'()*+,;=:[]<>\"".contains(&c))
        {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to(scheme: &str, port: Option<u16>, permanent: bool) -> SchemeRedirect<'_> {
        SchemeRedirect {
            scheme,
            port,
            permanent,
        }
    }

    /// One case: configuration, the connection's scheme and `Host`, a forwarded proto, and the
    /// expected status and `Location` (`None`: passed on).
    type Case<'a> = (
        SchemeRedirect<'a>,
        &'a str,
        &'a str,
        Option<&'a str>,
        Option<(u16, &'a str)>,
    );

    /// The cases of Traefik's own table (`redirect_scheme_test.go`).
    #[test]
    fn traefiks_table() {
        let cases: &[Case<'_>] = &[
            (
                to("https", None, false),
                "http",
                "foo",
                None,
                Some((302, "https://foo")),
            ),
            (
                to("https", None, false),
                "http",
                "foo",
                Some("http"),
                Some((302, "https://foo")),
            ),
            (to("https", None, false), "http", "foo", Some("https"), None),
            (
                to("https", None, false),
                "http",
                "foo",
                Some("bar"),
                Some((302, "https://foo")),
            ),
            (
                to("https", None, false),
                "http",
                "foo",
                Some("ws"),
                Some((302, "https://foo")),
            ),
            (to("https", None, false), "http", "foo", Some("wss"), None),
            (
                to("https", None, false),
                "http",
                "foo:8080",
                None,
                Some((302, "https://foo")),
            ),
            (
                to("https", Some(8443), false),
                "http",
                "foo",
                None,
                Some((302, "https://foo:8443")),
            ),
            (
                to("https", Some(8443), false),
                "http",
                "foo:8000",
                None,
                Some((302, "https://foo:8443")),
            ),
            (
                to("https", Some(8443), false),
                "https",
                "foo:8000",
                None,
                Some((302, "https://foo:8443")),
            ),
            (
                to("https", None, false),
                "https",
                "foo:8000",
                None,
                Some((302, "https://foo")),
            ),
            (
                to("https", Some(8443), true),
                "http",
                "foo",
                None,
                Some((301, "https://foo:8443")),
            ),
            (to("http", Some(80), false), "http", "foo:80", None, None),
            (
                to("https", Some(443), false),
                "https",
                "foo:443",
                None,
                None,
            ),
            (
                to("wss", Some(9443), false),
                "http",
                "foo",
                None,
                Some((302, "wss://foo:9443")),
            ),
            (
                to("wss", None, false),
                "http",
                "foo",
                None,
                Some((302, "wss://foo")),
            ),
            (
                to("wss", None, false),
                "http",
                "foo:5678",
                None,
                Some((302, "wss://foo")),
            ),
            (
                to("https", None, false),
                "http",
                "foo:443",
                None,
                Some((302, "https://foo")),
            ),
            (
                to("http", Some(8181), false),
                "http",
                "foo:8080",
                None,
                Some((302, "http://foo:8181")),
            ),
            (
                to("https", None, false),
                "https",
                "foo:80",
                None,
                Some((302, "https://foo")),
            ),
            (
                to("https", None, false),
                "http",
                "[::1]",
                None,
                Some((302, "https://[::1]")),
            ),
            (
                to("https", Some(8443), false),
                "http",
                "[::1]",
                None,
                Some((302, "https://[::1]:8443")),
            ),
            (
                to("https", None, false),
                "http",
                "[::1]:80",
                None,
                Some((302, "https://[::1]")),
            ),
            (
                to("https", Some(8443), false),
                "http",
                "[::1]:80",
                None,
                Some((302, "https://[::1]:8443")),
            ),
        ];
        for (conf, scheme, host, xfp, want) in cases {
            let req = Requested {
                scheme,
                forwarded_proto: *xfp,
                host,
                target: "",
                get: true,
            };
            let got = conf.decide(&req);
            let got = got.as_ref().map(|r| (r.status, r.location.as_str()));
            assert_eq!(got, *want, "{conf:?} {scheme}://{host} {xfp:?}");
        }
    }

    #[test]
    fn urls_as_go_parses_them() {
        for ok in [
            "https://foo.com:443/",
            "http://example.com/a%2Fb?x=%zz#f",
            "mailto:a@b",
            "/relative",
            "https://[::1]:8443/",
            "http://u:p@h/",
            "http://h%C3%A9/",
        ] {
            assert!(go_url_parses(ok), "{ok}");
        }
        for bad in [
            "http://192.168.0.%31/",
            "://x",
            "1a:b",
            "http://h:8x/",
            "http://[::1/",
            "http://h/%zz",
            "http://h/#%z",
            "http://h p/",
            "http://a\u{7f}/",
        ] {
            assert!(!go_url_parses(bad), "{bad}");
        }
    }

    #[test]
    fn other_methods_keep_their_method() {
        let req = Requested {
            scheme: "http",
            forwarded_proto: None,
            host: "a.example",
            target: "/x?y=1",
            get: false,
        };
        let permanent = to("https", None, true).decide(&req).unwrap();
        assert_eq!(
            (permanent.status, permanent.location.as_str()),
            (308, "https://a.example/x?y=1")
        );
        assert_eq!(to("https", None, false).decide(&req).unwrap().status, 307);
    }
}
