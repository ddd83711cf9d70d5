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
