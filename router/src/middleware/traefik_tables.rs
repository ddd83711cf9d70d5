//! Traefik's own middleware test tables (`pkg/middlewares/...`, `pkg/ip`), translated into
//! data: a middleware configuration as written in a dynamic configuration file, a request,
//! and what Traefik's middleware does with it (the path forwarded, headers, the status of its
//! own answer, `Location`). Each group names the Traefik test it comes from. Where the router
//! differs on purpose, the case states the router's behaviour and points to README.md.
//!
//! The middlewares run as on the request path ([`super::apply`]), each alone, without
//! routing: "passed on" is Traefik's next handler answering 200.

// The tables are tuples of plain data.
#![allow(clippy::type_complexity)]

use std::net::SocketAddr;

use bytes::Bytes;
use futures_util::FutureExt as _;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::Method;

use super::{Body, BodyFuture, BodyWithinFuture, Effects, Flow, Request};
use crate::dynamic::Middleware;
use crate::proxy::{Inbound, Log};

/// A middleware from its YAML definition (the part under `middlewares.<name>`).
fn middleware(yaml: &str) -> Result<Middleware, String> {
    let node = crate::tree::Node::from_yaml(yaml, "m")?;
    match crate::dynamic::middleware::decode(&node) {
        Ok(Some(m)) => Ok(m),
        Ok(None) => Err("not supported".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// A request as a Traefik test builds it.
#[derive(Clone)]
struct Req<'a> {
    method: Method,
    /// `http` or `https` (a Traefik test's `req.TLS`).
    scheme: &'static str,
    /// The `Host` header (none when empty).
    host: &'a str,
    path: &'a str,
    query: Option<&'a str>,
    /// The connection's address (Go's `RemoteAddr`; `httptest` uses 192.0.2.1:1234).
    peer: &'a str,
    headers: Vec<(&'a str, &'a str)>,
}

impl Default for Req<'_> {
    fn default() -> Self {
        Req {
            method: Method::GET,
            scheme: "http",
            host: "localhost",
            path: "/",
            query: None,
            peer: "192.0.2.1:1234",
            headers: Vec::new(),
        }
    }
}

fn get(path: &str) -> Req<'_> {
    Req {
        path,
        ..Req::default()
    }
}

/// What the middleware did.
#[derive(Debug)]
struct Out {
    /// 200 when passed on, else the status of the middleware's answer (or refusal).
    status: u16,
    /// The path forwarded (escaped, as sent).
    path: String,
    /// `X-Forwarded-Prefix`.
    prefix: Option<String>,
    /// The request's headers afterwards.
    headers: HeaderMap,
    /// The middleware's own answer's headers (when it answered).
    answer: HeaderMap,
    fx: Effects,
}

impl Out {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    fn location(&self) -> Option<&str> {
        self.answer.get("location").and_then(|v| v.to_str().ok())
    }
    /// The answer headers of a backend that sent `backend`, after this middleware's
    /// `Effects::response_headers` (as `proxy::finish_response` sets them).
    fn response(&self, backend: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut h = HeaderMap::new();
        for (k, v) in backend {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        crate::proxy::set_answer_headers(&self.fx.response_headers, false, &mut h);
        sorted(&h)
    }
}

fn sorted(h: &HeaderMap) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = h
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("?").to_owned()))
        .collect();
    v.sort();
    v
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = p
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
        .collect();
    v.sort();
    v
}

struct NoBody;

impl Body for NoBody {
    fn read_all(&mut self, _limit: u64) -> BodyFuture<'_> {
        Box::pin(async { Ok(Bytes::new()) })
    }
    fn declared(&self) -> Option<u64> {
        Some(0)
    }
    fn read_within(&mut self, _limit: u64) -> BodyWithinFuture<'_> {
        Box::pin(async { Ok(Some(Bytes::new())) })
    }
}

fn shared() -> std::sync::Arc<crate::server::Shared> {
    static SHARED: std::sync::OnceLock<std::sync::Arc<crate::server::Shared>> =
        std::sync::OnceLock::new();
    SHARED
        .get_or_init(|| {
            let config =
                crate::config::Config::from_env(&std::collections::HashMap::new()).unwrap();
            crate::server::Shared::new(config)
        })
        .clone()
}

/// Runs the middleware of `yaml` on `req`.
fn run(yaml: &str, req: &Req<'_>) -> Out {
    let mw = middleware(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"));
    let shared = shared();
    let ep = shared.config.entry_points[0].clone();
    let peer: SocketAddr = req.peer.parse().unwrap();
    let client = crate::proxy::client_text(peer);
    let host = crate::proxy::request_host(req.host);
    let mut headers = HeaderMap::new();
    if !req.host.is_empty() {
        headers.insert(
            hyper::header::HOST,
            HeaderValue::from_str(req.host).unwrap(),
        );
    }
    for (k, v) in &req.headers {
        headers.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    let inbound = Inbound {
        entrypoint: "web",
        scheme: req.scheme,
        peer,
        trusted: true,
        ep: &ep,
        tls_options: "",
        client_certs: None,
        client: &client,
        host: &host,
        method: &req.method,
        path: req.path,
        query: req.query,
        has_body: false,
    };
    let mut fx = Effects::default();
    let mut log = Log::default();
    let mut body = NoBody;
    let mut r = Request {
        shared: &shared,
        inbound: &inbound,
        headers: &mut headers,
        fx: &mut fx,
        log: &mut log,
        body: &mut body,
        kept: None,
    };
    let flow = super::apply("m", 0, &mw, &mut r)
        .now_or_never()
        .expect("the middleware does not wait");
    let (status, answer) = match flow {
        Ok(Flow::Next) => (200, HeaderMap::new()),
        Ok(Flow::Answer(a)) => (a.status.as_u16(), a.headers),
        Err(e) => (e.status().as_u16(), e.answer(&log).headers),
    };
    Out {
        status,
        path: fx.path.clone().unwrap_or_else(|| req.path.to_owned()),
        prefix: headers
            .get("x-forwarded-prefix")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        headers,
        answer,
        fx,
    }
}

/// `pkg/middlewares/stripprefix/strip_prefix_test.go`, `TestStripPrefix`.
mod strip_prefix {
    use super::*;

    #[test]
    fn traefik_table() {
        // (prefixes, path, status, forwarded path, X-Forwarded-Prefix). The forwarded path
        // is Traefik's `RawPath` when set, else its `Path`; "" is a path stripped to nothing
        // (Traefik's `RequestURI` then is "/").
        let cases: &[(&[&str], &str, u16, &str, Option<&str>)] = &[
            (&["/"], "/", 200, "", Some("/")),
            (&["/stat"], "/stat", 200, "", Some("/stat")),
            (&["/stat/"], "/stat/", 200, "", Some("/stat/")),
            (&["/stat/"], "/stat/us", 200, "/us", Some("/stat/")),
            (&["/stat/"], "/status", 200, "/status", None),
            (&["/stat"], "/stat/", 200, "/", Some("/stat")),
            (
                &["/stat", "/stat/us"],
                "/stat/us",
                200,
                "/us",
                Some("/stat"),
            ),
            (&["/mismatch", "/stat"], "/stat", 200, "", Some("/stat")),
            // "prefix matching within slash boundaries": a plain string prefix.
            (&["/stat"], "/status", 200, "/us", Some("/stat")),
            (&["/stat"], "/stat/a%2Fb", 200, "/a%2Fb", Some("/stat")),
            // Matched against the decoded path; the escaped rest is forwarded.
            (&["/api/"], "/ap%69/a%2Fb", 200, "/a%2Fb", Some("/api/")),
            // A rest that is not a clean path is refused.
            (&["/api"], "/api./foo", 400, "", None),
            (&["/api"], "/api../foo", 400, "", None),
        ];
        for (prefixes, path, status, want, prefix) in cases {
            let yaml = format!("stripPrefix:\n  prefixes: {prefixes:?}\n");
            let out = run(&yaml, &get(path));
            assert_eq!(out.status, *status, "{prefixes:?} {path}");
            if *status == 200 {
                assert_eq!(
                    (out.path.as_str(), out.prefix.as_deref()),
                    (*want, *prefix),
                    "{prefixes:?} {path}"
                );
            }
        }
        // "... with forceSlash": deprecated, same answer.
        let out = run(
            "stripPrefix:\n  prefixes: [/api]\n  forceSlash: true\n",
            &get("/api../foo"),
        );
        assert_eq!(out.status, 400);
    }

    /// "no prefixes configured": Traefik takes an empty list and passes every request on;
    /// the router refuses it when read (README.md, `stripprefix.prefixes`: "prefixes
    /// starting with `/`").
    #[test]
    fn no_prefixes_is_refused_here() {
        assert!(middleware("stripPrefix:\n  prefixes: []\n").is_err());
    }
}

/// `pkg/middlewares/stripprefixregex/strip_prefix_regex_test.go`, `TestStripPrefixRegex`.
mod strip_prefix_regex {
    use super::*;

    #[test]
    fn traefik_table() {
        // (regex, path, status, forwarded path, X-Forwarded-Prefix).
        let cases: &[(&str, &str, u16, &str, Option<&str>)] = &[
            ("/a/api/", "/a/test", 200, "/a/test", None),
            ("/a/api/", "/a/test/", 200, "/a/test/", None),
            ("/a/api/", "/a/api/", 200, "", Some("/a/api/")),
            ("/a/api/", "/a/api/test", 200, "/test", Some("/a/api/")),
            ("/a/api/", "/a/api/test/", 200, "/test/", Some("/a/api/")),
            ("/b/([a-z0-9]+)/", "/b/api/", 200, "", Some("/b/api/")),
            ("/b/([a-z0-9]+)/", "/b/api", 200, "/b/api", None),
            (
                "/b/([a-z0-9]+)/",
                "/b/api/test1",
                200,
                "/test1",
                Some("/b/api/"),
            ),
            (
                "/b/([a-z0-9]+)/",
                "/b/api2/test2",
                200,
                "/test2",
                Some("/b/api2/"),
            ),
            (
                "/c/[a-z0-9]+/[0-9]+/",
                "/c/api/123/",
                200,
                "",
                Some("/c/api/123/"),
            ),
            (
                "/c/[a-z0-9]+/[0-9]+/",
                "/c/api/123",
                200,
                "/c/api/123",
                None,
            ),
            (
                "/c/[a-z0-9]+/[0-9]+/",
                "/c/api/123/test3",
                200,
                "/test3",
                Some("/c/api/123/"),
            ),
            (
                "/c/[a-z0-9]+/[0-9]+/",
                "/c/api/abc/test4",
                200,
                "/c/api/abc/test4",
                None,
            ),
            ("/a/api/", "/a/api/a%2Fb", 200, "/a%2Fb", Some("/a/api/")),
            (
                "/b/([a-z0-9]+)/",
                "/b/ap%69/test",
                200,
                "/test",
                Some("/b/api/"),
            ),
            (
                "/b/([a-z0-9]+)/",
                "/b/ap%69/a%2Fb",
                200,
                "/a%2Fb",
                Some("/b/api/"),
            ),
            ("/t /test", "/t%2F/test/foo", 200, "/t%2F/test/foo", None),
            // ("/t /test/a%2Fb", a raw space, cannot be in a request line: left out.)
            (
                "/t /test",
                "/t%20/test/a%2Fb",
                200,
                "/a%2Fb",
                Some("/t /test"),
            ),
            ("/api", "/api./foo", 400, "", None),
            ("/api", "/api../foo", 400, "", None),
        ];
        for (re, path, status, want, prefix) in cases {
            let yaml = format!("stripPrefixRegex:\n  regex: ['{re}']\n");
            let out = run(&yaml, &get(path));
            assert_eq!(out.status, *status, "{re} {path}");
            if *status == 200 {
                assert_eq!(
                    (out.path.as_str(), out.prefix.as_deref()),
                    (*want, *prefix),
                    "{re} {path}"
                );
            }
        }
    }
}

/// `pkg/middlewares/replacepath/replace_path_test.go`, `TestReplacePath`.
mod replace_path {
    use super::*;

    #[test]
    fn traefik_table() {
        // (path option, request path, forwarded path, X-Replaced-Path).
        let cases = [
            (
                "/replacement-path",
                "/example",
                "/replacement-path",
                "/example",
            ),
            (
                "/replacement-path",
                "/some/really/long/path",
                "/replacement-path",
                "/some/really/long/path",
            ),
            (
                "/replacement-path",
                "/foo%2Fbar",
                "/replacement-path",
                "/foo%2Fbar",
            ),
            ("/foo%2Fbar", "/path", "/foo%2Fbar", "/path"),
            (
                "/path/%08bar",
                "/path/%08bar",
                "/path/%08bar",
                "/path/%08bar",
            ),
        ];
        for (option, path, want, replaced) in cases {
            let out = run(&format!("replacePath:\n  path: '{option}'\n"), &get(path));
            assert_eq!(out.status, 200);
            assert_eq!(out.path, want, "{option} {path}");
            assert_eq!(
                out.header("x-replaced-path"),
                Some(replaced),
                "{option} {path}"
            );
        }
    }
}

/// `pkg/middlewares/replacepathregex/replace_path_regex_test.go`, `TestReplacePathRegex`.
mod replace_path_regex {
    use super::*;

    #[test]
    fn traefik_table() {
        // (regex, replacement, path, status, forwarded path, X-Replaced-Path).
        let cases: &[(&str, &str, &str, u16, &str, Option<&str>)] = &[
            (
                "^/whoami/(.*)",
                "/who-am-i/$1",
                "/whoami/and/whoami",
                200,
                "/who-am-i/and/whoami",
                Some("/whoami/and/whoami"),
            ),
            (
                "/whoami",
                "/who-am-i",
                "/whoami/and/whoami",
                200,
                "/who-am-i/and/who-am-i",
                Some("/whoami/and/whoami"),
            ),
            (
                "/whoami",
                "",
                "/whoami/and/whoami",
                200,
                "/and",
                Some("/whoami/and/whoami"),
            ),
            (
                "/whoami",
                " ",
                "/whoami/and/whoami",
                200,
                "/and",
                Some("/whoami/and/whoami"),
            ),
            (
                "/no-match",
                "/whoami",
                "/whoami/and/whoami",
                200,
                "/whoami/and/whoami",
                None,
            ),
            (
                "^(?i)/downloads/([^/]+)/([^/]+)$",
                "/downloads/$1-$2",
                "/downloads/src/source.go",
                200,
                "/downloads/src-source.go",
                Some("/downloads/src/source.go"),
            ),
            (
                "/aaa/bbb",
                "/foo%2Fbar",
                "/aaa/bbb",
                200,
                "/foo%2Fbar",
                Some("/aaa/bbb"),
            ),
            (
                "/aaa%2Fbbb",
                "/foo/bar",
                "/aaa%2Fbbb",
                200,
                "/foo/bar",
                Some("/aaa%2Fbbb"),
            ),
            (
                "/aaa/bbb",
                "/foo/bar",
                "/aaa%2Fbbb",
                200,
                "/aaa%2Fbbb",
                None,
            ),
            (
                "^/foo/(.*)",
                "/$1",
                "/foo/%08bar",
                200,
                "/%08bar",
                Some("/foo/%08bar"),
            ),
            ("^/foo(.*)", "/$1", "/foo../bar", 400, "", None),
        ];
        for (re, replacement, path, status, want, replaced) in cases {
            let yaml =
                format!("replacePathRegex:\n  regex: '{re}'\n  replacement: '{replacement}'\n");
            let out = run(&yaml, &get(path));
            assert_eq!(out.status, *status, "{re} {path}");
            if *status == 200 {
                assert_eq!(out.path, *want, "{re} {path}");
                assert_eq!(out.header("x-replaced-path"), *replaced, "{re} {path}");
            }
        }
        // "invalid regular expression": refused when read.
        assert!(middleware(
            "replacePathRegex:\n  regex: '^(?err)/invalid/regexp/([^/]+)$'\n  replacement: /valid/regexp/$1\n"
        )
        .is_err());
    }
}

/// `pkg/middlewares/addprefix/add_prefix_test.go`, `TestNewAddPrefix` and `TestAddPrefix`.
mod add_prefix {
    use super::*;

    #[test]
    fn traefik_table() {
        for (prefix, path, want) in [("/a", "/b", "/a/b"), ("/a", "/b%2Fc", "/a/b%2Fc")] {
            let out = run(&format!("addPrefix:\n  prefix: '{prefix}'\n"), &get(path));
            assert_eq!(out.path, want, "{prefix} {path}");
        }
        // "Fails if prefix is empty".
        assert!(middleware("addPrefix:\n  prefix: ''\n").is_err());
    }

    /// "Works with missing leading slash": Traefik makes `/a/` of prefix `a` and path `/`;
    /// the router refuses a prefix without a leading `/` when read (README.md,
    /// `addprefix.prefix`: "A prefix starting with `/`").
    #[test]
    fn missing_leading_slash_is_refused_here() {
        assert!(middleware("addPrefix:\n  prefix: a\n").is_err());
    }
}

/// `pkg/middlewares/redirect/redirect_regex_test.go`, `TestRedirectRegexHandler`. Traefik's
/// test requests use an absolute target without a path (`http://foo.com:80`); a client
/// sends `/` as the path, which the URL matched then ends with.
mod redirect_regex {
    use super::*;

    struct Case {
        regex: &'static str,
        replacement: &'static str,
        permanent: bool,
        method: Method,
        scheme: &'static str,
        host: &'static str,
        path: &'static str,
        headers: Vec<(&'static str, &'static str)>,
        status: u16,
        location: Option<&'static str>,
    }

    fn case(regex: &'static str, replacement: &'static str, host: &'static str) -> Case {
        Case {
            regex,
            replacement,
            permanent: false,
            method: Method::GET,
            scheme: "http",
            host,
            path: "/",
            headers: Vec::new(),
            status: 302,
            location: None,
        }
    }

    #[test]
    fn traefik_table() {
        let www = r"(https?)://[^/:]+(:[0-9]+)?/(.*)";
        let cases = [
            // "simple redirection"
            Case {
                location: Some("https://foobar.com:443/"),
                ..case(
                    r"^(?:http?:\/\/)(foo)(\.com)(:\d+)(.*)$",
                    "https://${1}bar$2:443$4",
                    "foo.com:80",
                )
            },
            // "URL doesn't match regex"
            Case {
                status: 200,
                ..case(
                    r"^(?:http?:\/\/)(foo)(\.com)(:\d+)(.*)$",
                    "https://${1}bar$2:443$4",
                    "bar.com:80",
                )
            },
            // "invalid rewritten URL": Go's url.Parse refuses it, answered 502.
            Case {
                status: 502,
                ..case("^(.*)$", "http://192.168.0.%31/", "foo.com:80")
            },
            // "HTTP to HTTPS permanent"
            Case {
                permanent: true,
                status: 301,
                location: Some("https://foo/"),
                ..case("^http://", "https://$1", "foo")
            },
            // "HTTPS to HTTP permanent"
            Case {
                permanent: true,
                scheme: "https",
                status: 301,
                location: Some("http://foo/"),
                ..case("https://foo", "http://foo", "foo")
            },
            // "HTTP to HTTPS"
            Case {
                location: Some("https://foo:443/"),
                ..case("http://foo:80", "https://foo:443", "foo:80")
            },
            // "HTTP to HTTPS, with X-Forwarded-Proto": the connection's scheme counts.
            Case {
                headers: vec![("X-Forwarded-Proto", "https")],
                location: Some("https://foo:443/"),
                ..case("http://foo:80", "https://foo:443", "foo:80")
            },
            // "HTTPS to HTTP"
            Case {
                scheme: "https",
                location: Some("http://foo:80/"),
                ..case("https://foo:443", "http://foo:80", "foo:443")
            },
            // "HTTP to HTTP"
            Case {
                location: Some("http://foo:88/"),
                ..case("http://foo:80", "http://foo:88", "foo:80")
            },
            // "HTTP to HTTP POST"
            Case {
                method: Method::POST,
                status: 307,
                location: Some("https://foo/"),
                ..case("^http://", "https://$1", "foo")
            },
            // "www-redirect without port"
            Case {
                permanent: true,
                path: "/path",
                status: 301,
                location: Some("http://example.com/path"),
                ..case(www, "$1://example.com$2/$3", "www.example.com")
            },
            // "www-redirect with port"
            Case {
                permanent: true,
                path: "/path",
                status: 301,
                location: Some("http://example.com:8080/path"),
                ..case(www, "$1://example.com$2/$3", "www.example.com:8080")
            },
            // "www-redirect without port, root path"
            Case {
                permanent: true,
                status: 301,
                location: Some("http://example.com/"),
                ..case(www, "$1://example.com$2/$3", "www.example.com")
            },
            // "www-redirect HTTPS without port"
            Case {
                permanent: true,
                scheme: "https",
                path: "/path",
                status: 301,
                location: Some("https://example.com/path"),
                ..case(www, "$1://example.com$2/$3", "www.example.com")
            },
            // "HTTP to HTTP POST permanent"
            Case {
                permanent: true,
                method: Method::POST,
                status: 308,
                location: Some("https://foo/"),
                ..case("^http://", "https://$1", "foo")
            },
        ];
        for c in cases {
            let yaml = format!(
                "redirectRegex:\n  regex: '{}'\n  replacement: '{}'\n  permanent: {}\n",
                c.regex, c.replacement, c.permanent
            );
            let req = Req {
                method: c.method.clone(),
                scheme: c.scheme,
                host: c.host,
                path: c.path,
                headers: c.headers.clone(),
                ..Req::default()
            };
            let out = run(&yaml, &req);
            let what = format!(
                "{} -> {} on {}://{}",
                c.regex, c.replacement, c.scheme, c.host
            );
            assert_eq!(out.status, c.status, "{what}");
            assert_eq!(out.location(), c.location, "{what}");
        }
        // "invalid regex": refused when read.
        assert!(middleware("redirectRegex:\n  regex: '^(.*'\n  replacement: $1\n").is_err());
    }
}

/// `pkg/middlewares/ipallowlist/ip_allowlist_test.go` and `pkg/ip`'s `checker_test.go` and
/// `strategy_test.go`.
mod ip_allow_list {
    use super::*;
    use crate::dynamic::IpStrategy;

    /// `TestNewIPAllowLister`.
    #[test]
    fn configurations() {
        assert!(middleware("ipAllowList:\n  sourceRange: [foo]\n").is_err());
        assert!(middleware("ipAllowList:\n  sourceRange: [10.10.10.10]\n").is_ok());
        assert!(middleware(
            "ipAllowList:\n  sourceRange: [10.10.10.10]\n  rejectStatusCode: 600\n"
        )
        .is_err());
    }

    /// `TestIPAllowLister_ServeHTTP`.
    #[test]
    fn serve_http() {
        let cases = [
            ("", "20.20.20.20:1234", 200),
            ("", "20.20.20.21:1234", 403),
            ("  rejectStatusCode: 404\n", "20.20.20.20:1234", 200),
            ("  rejectStatusCode: 404\n", "20.20.20.21:1234", 404),
        ];
        for (extra, peer, status) in cases {
            let yaml = format!("ipAllowList:\n  sourceRange: [20.20.20.20]\n{extra}");
            let req = Req {
                host: "10.10.10.10",
                peer,
                ..Req::default()
            };
            assert_eq!(run(&yaml, &req).status, status, "{extra} {peer}");
        }
    }

    fn nets(list: &[&str]) -> Vec<ipnet::IpNet> {
        list.iter()
            .map(|s| {
                s.parse()
                    .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .unwrap()
            })
            .collect()
    }

    /// The decision on the address a strategy gave (Traefik's `Checker.IsAuthorized`), as
    /// the middleware makes it: the request is refused unless it is in a range.
    fn allowed(ranges: &[&str], client: &str) -> bool {
        let yaml =
            format!("ipAllowList:\n  sourceRange: {ranges:?}\n  ipStrategy:\n    depth: 1\n");
        let req = Req {
            headers: vec![("X-Forwarded-For", client)],
            ..Req::default()
        };
        run(&yaml, &req).status == 200
    }

    /// `checker_test.go`: `TestIsAuthorized`, `TestContainsIsAllowed`,
    /// `TestContainsBrokenIPs`. The address reaches the check through `X-Forwarded-For`
    /// (depth 1), where a port and an IPv6 zone can be.
    #[test]
    fn checker() {
        assert!(!allowed(&["1.2.3.4/24"], "10.2.3.1:123"));
        assert!(allowed(&["1.2.3.4/24"], "1.2.3.1:123"));
        assert!(!allowed(&["127.2.3.4/24"], "0127.2.3.1:123"));
        let table: &[(&[&str], &[&str], &[&str])] = &[
            (
                &["1.2.3.4/24"],
                &["1.2.3.1", "1.2.3.32", "1.2.3.156", "1.2.3.255"],
                &["1.2.16.1", "1.2.32.1", "127.0.0.1", "8.8.8.8"],
            ),
            (
                &["8.8.8.8"],
                &["8.8.8.8"],
                &[
                    "8.8.8.7",
                    "8.8.8.9",
                    "8.8.8.0",
                    "8.8.8.255",
                    "4.4.4.4",
                    "127.0.0.1",
                ],
            ),
            (
                &["8.8.8.8/32"],
                &["8.8.8.8"],
                &[
                    "8.8.8.7",
                    "8.8.8.9",
                    "8.8.8.0",
                    "8.8.8.255",
                    "4.4.4.4",
                    "127.0.0.1",
                ],
            ),
            (
                &["1.2.3.4/24", "8.8.8.8/8"],
                &[
                    "1.2.3.1",
                    "1.2.3.32",
                    "1.2.3.156",
                    "1.2.3.255",
                    "8.8.4.4",
                    "8.0.0.1",
                    "8.32.42.128",
                    "8.255.255.255",
                ],
                &["1.2.16.1", "1.2.32.1", "127.0.0.1", "4.4.4.4", "4.8.8.8"],
            ),
            (
                &["2a03:4000:6:d080::/64"],
                &[
                    "2a03:4000:6:d080::",
                    "2a03:4000:6:d080::1",
                    "2a03:4000:6:d080:dead:beef:ffff:ffff",
                    "2a03:4000:6:d080::42",
                ],
                &[
                    "2a03:4000:7:d080::",
                    "2a03:4000:7:d080::1",
                    "fe80::",
                    "4242::1",
                ],
            ),
            (
                &["2a03:4000:6:d080::42/128"],
                &["2a03:4000:6:d080::42"],
                &[
                    "2a03:4000:6:d080::1",
                    "2a03:4000:6:d080:dead:beef:ffff:ffff",
                    "2a03:4000:6:d080::43",
                ],
            ),
            (
                &["2a03:4000:6:d080::/64", "fe80::/16"],
                &[
                    "2a03:4000:6:d080::",
                    "2a03:4000:6:d080::1",
                    "2a03:4000:6:d080:dead:beef:ffff:ffff",
                    "2a03:4000:6:d080::42",
                    "fe80::1",
                    "fe80:aa00:00bb:4232:ff00:eeee:00ff:1111",
                    "fe80::fe80",
                ],
                &["2a03:4000:7:d080::", "2a03:4000:7:d080::1", "4242::1"],
            ),
            (
                &[
                    "2a03:4000:6:d080::/64",
                    "fe80::/16",
                    "1.2.3.4/24",
                    "8.8.8.8/8",
                ],
                &[
                    "2a03:4000:6:d080::",
                    "2a03:4000:6:d080::1",
                    "2a03:4000:6:d080:dead:beef:ffff:ffff",
                    "2a03:4000:6:d080::42",
                    "fe80::1",
                    "fe80:aa00:00bb:4232:ff00:eeee:00ff:1111",
                    "fe80:aa00:00bb:4232:ff00:eeee:00ff:1111%vEthernet",
                    "fe80::fe80",
                    "1.2.3.1",
                    "1.2.3.32",
                    "1.2.3.156",
                    "1.2.3.255",
                    "8.8.4.4",
                    "8.0.0.1",
                    "8.32.42.128",
                    "8.255.255.255",
                ],
                &[
                    "2a03:4000:7:d080::",
                    "2a03:4000:7:d080::1",
                    "2a03:4000:7:d080::1%vmnet1",
                    "4242::1",
                    "1.2.16.1",
                    "1.2.32.1",
                    "127.0.0.1",
                    "4.4.4.4",
                    "4.8.8.8",
                ],
            ),
        ];
        for (ranges, pass, reject) in table {
            for ip in *pass {
                assert!(allowed(ranges, ip), "{ip} in {ranges:?}");
            }
            for ip in *reject {
                assert!(!allowed(ranges, ip), "{ip} not in {ranges:?}");
            }
        }
        for broken in ["foo", "10.0.0.350", "fe:::80", "", "\\&$/("] {
            assert!(!allowed(&["1.2.3.4/24"], broken), "{broken}");
        }
    }

    /// `strategy_test.go`: `TestRemoteAddrStrategy_GetIP`, `TestDepthStrategy_GetIP`,
    /// `TestTrustedIPsStrategy_GetIP`. Left out: a remote address with an IPv6 zone or
    /// without a port (the connection's address is a socket address here).
    #[test]
    fn strategies() {
        let remote = |peer: &str, subnet: Option<u8>| {
            let s = IpStrategy {
                ipv6_subnet: subnet,
                ..Default::default()
            };
            let peer: SocketAddr = peer.parse().unwrap();
            s.client(peer.ip(), None)
        };
        let v6 = "[::abcd:ffff:c0a8:1]:80";
        assert_eq!(remote("192.0.2.1:1234", None), "192.0.2.1");
        assert_eq!(remote(v6, None), "::abcd:ffff:c0a8:1");
        assert_eq!(remote("192.0.2.1:1234", Some(24)), "192.0.2.1");
        assert_eq!(remote(v6, Some(80)), "::abcd:0:0:0");
        // "invalid subnet" (500): Traefik ignores it; refused here when read.
        assert!(middleware(
            "ipAllowList:\n  sourceRange: [1.2.3.4]\n  ipStrategy:\n    ipv6Subnet: 500\n"
        )
        .is_err());

        let depth = |d: usize, xff: &str, subnet: Option<u8>| {
            let s = IpStrategy {
                depth: d,
                ipv6_subnet: subnet,
                ..Default::default()
            };
            s.client("127.0.0.1".parse().unwrap(), Some(xff))
        };
        assert_eq!(
            depth(3, "10.0.0.4,10.0.0.3,10.0.0.2,10.0.0.1", None),
            "10.0.0.3"
        );
        assert_eq!(depth(2, "", None), "");
        assert_eq!(depth(2, "10.0.0.2,10.0.0.1", None), "10.0.0.2");
        assert_eq!(depth(2, "10.0.0.3,10.0.0.2,10.0.0.1", Some(80)), "10.0.0.2");
        assert_eq!(
            depth(2, "10.0.0.3,::abcd:ffff:c0a8:1,10.0.0.1", Some(80)),
            "::abcd:0:0:0"
        );

        let pool = |excluded: &[&str], xff: &str| {
            let s = IpStrategy {
                excluded_ips: nets(excluded),
                ..Default::default()
            };
            s.client("127.0.0.1".parse().unwrap(), Some(xff))
        };
        let xff = "10.0.0.4,10.0.0.3,10.0.0.2,10.0.0.1";
        assert_eq!(
            pool(&["10.0.0.4", "10.0.0.3", "10.0.0.2", "10.0.0.1"], xff),
            ""
        );
        assert_eq!(pool(&["10.0.0.2", "10.0.0.1"], xff), "10.0.0.3");
        assert_eq!(
            pool(
                &["10.0.0.1/24"],
                "127.0.0.1,10.0.0.4,10.0.0.3,10.0.0.2,10.0.0.1"
            ),
            "127.0.0.1"
        );
        assert_eq!(pool(&["10.0.0.1/24"], xff), "");
    }
}

/// `pkg/middlewares/ipwhitelist/ip_whitelist_test.go`: v2's `ipWhiteList`, deprecated and
/// still found in configurations. It has no `rejectStatusCode` (Traefik's `IPWhiteList`
/// has no such field, so the key is refused).
mod ip_white_list {
    use super::*;

    /// `TestNewIPWhiteLister`: (case, middleware, accepted).
    #[test]
    fn configurations() {
        let table: &[(&str, &str, bool)] = &[
            ("invalid IP", "ipWhiteList:\n  sourceRange: [foo]\n", false),
            (
                "valid IP",
                "ipWhiteList:\n  sourceRange: [10.10.10.10]\n",
                true,
            ),
            (
                "no range (Traefik: sourceRange is empty)",
                "ipWhiteList: {}\n",
                false,
            ),
            (
                "rejectStatusCode is ipAllowList's only",
                "ipWhiteList:\n  sourceRange: [10.10.10.10]\n  rejectStatusCode: 404\n",
                false,
            ),
        ];
        for (case, yaml, ok) in table {
            let got = middleware(yaml);
            assert_eq!(got.is_ok(), *ok, "{case}: {got:?}");
        }
        let e = middleware("ipWhiteList:\n  sourceRange: [10.10.10.10]\n  rejectStatusCode: 404\n")
            .expect_err("refused");
        assert!(e.contains("rejectStatusCode"), "{e}");
    }

    /// `TestIPWhiteLister_ServeHTTP`: (case, client, status).
    #[test]
    fn serve_http() {
        let table: &[(&str, &str, u16)] = &[
            ("authorized with remote address", "20.20.20.20:1234", 200),
            (
                "non authorized with remote address",
                "20.20.20.21:1234",
                403,
            ),
        ];
        for (case, peer, status) in table {
            let req = Req {
                host: "10.10.10.10",
                peer,
                ..Req::default()
            };
            let yaml = "ipWhiteList:\n  sourceRange: [20.20.20.20]\n";
            assert_eq!(run(yaml, &req).status, *status, "{case}");
        }
    }
}

/// `pkg/middlewares/headers`: `headers_test.go`, `header_test.go`, `secure_test.go`.
mod headers {
    use super::*;

    /// `TestNew_withoutOptions`, `TestNew_withSTSSecondsZero`.
    #[test]
    fn configurations() {
        assert!(middleware("headers: {}\n").is_err());
        assert!(middleware("headers:\n  stsSeconds: 0\n").is_ok());
    }

    /// `TestNew_allowedHosts`.
    #[test]
    fn allowed_hosts() {
        let yaml = "headers:\n  allowedHosts: [foo.com, bar.com]\n";
        for (host, status) in [("foo.com", 200), ("", 500), ("boo.com", 500)] {
            let req = Req {
                host,
                path: "/foo",
                ..Req::default()
            };
            assert_eq!(run(yaml, &req).status, status, "{host:?}");
        }
    }

    /// `TestNew_customHeaders`.
    #[test]
    fn custom_headers() {
        let out = run(
            "headers:\n  customRequestHeaders:\n    X-Custom-Request-Header: test_request\n  customResponseHeaders:\n    X-Custom-Response-Header: test_response\n",
            &get("/foo"),
        );
        assert_eq!(out.status, 200);
        assert_eq!(out.header("x-custom-request-header"), Some("test_request"));
        assert_eq!(
            out.response(&[]),
            pairs(&[("X-Custom-Response-Header", "test_response")])
        );
    }

    /// `TestNewHeader_customRequestHeader`: the request has `Foo: bar`.
    #[test]
    fn custom_request_headers() {
        let cases: &[(&str, &[(&str, &str)], bool)] = &[
            (
                "    X-Custom-Request-Header: test_request\n",
                &[("Foo", "bar"), ("X-Custom-Request-Header", "test_request")],
                false,
            ),
            // "delete a header": `X-Forwarded-For: ""` is kept empty in Traefik so that the
            // proxy adds none: here the backend is sent none (`drop_xff`).
            (
                "    X-Forwarded-For: ''\n    X-Custom-Request-Header: ''\n    Foo: ''\n",
                &[],
                true,
            ),
            ("    Foo: test\n", &[("Foo", "test")], false),
        ];
        for (custom, want, drop_xff) in cases {
            let yaml = format!("headers:\n  customRequestHeaders:\n{custom}");
            let req = Req {
                host: "",
                path: "/foo",
                headers: vec![("Foo", "bar")],
                ..Req::default()
            };
            let out = run(&yaml, &req);
            assert_eq!(out.status, 200);
            assert_eq!(sorted(&out.headers), pairs(want), "{custom}");
            assert_eq!(out.fx.drop_xff, *drop_xff, "{custom}");
        }
    }

    /// `TestNewHeader_customRequestHeader_Host`.
    #[test]
    fn custom_host() {
        let req = Req {
            host: "example.org",
            path: "/foo",
            ..Req::default()
        };
        let out = run("headers:\n  customRequestHeaders:\n    Foo: x\n", &req);
        assert_eq!(out.header("host"), Some("example.org"));
        let out = run(
            "headers:\n  customRequestHeaders:\n    Host: example.com\n",
            &req,
        );
        assert_eq!(out.header("host"), Some("example.com"));
    }

    const PREFLIGHT: &[(&str, &str)] = &[
        ("Access-Control-Request-Headers", "origin"),
        ("Access-Control-Request-Method", "GET"),
        ("Access-Control-Request-Method", "OPTIONS"),
        ("Origin", "https://foo.bar.org"),
    ];

    /// `TestNewHeader_CORSPreflights` (Traefik's answer also has `Content-Length: 0`: the
    /// body is empty).
    #[test]
    fn cors_preflights() {
        let methods = "  accessControlAllowMethods: [GET, OPTIONS, PUT]\n";
        let cases: &[(String, &[(&str, &str)], &[(&str, &str)])] = &[
            // "Test Simple Preflight"
            (
                format!("{methods}  accessControlAllowOriginList: [https://foo.bar.org]\n  accessControlMaxAge: 600\n"),
                PREFLIGHT,
                &[
                    ("Access-Control-Allow-Origin", "https://foo.bar.org"),
                    ("Access-Control-Max-Age", "600"),
                    ("Access-Control-Allow-Methods", "GET,OPTIONS,PUT"),
                ],
            ),
            // "Wildcard origin Preflight"
            (
                format!("{methods}  accessControlAllowOriginList: ['*']\n  accessControlMaxAge: 600\n"),
                PREFLIGHT,
                &[
                    ("Access-Control-Allow-Origin", "*"),
                    ("Access-Control-Max-Age", "600"),
                    ("Access-Control-Allow-Methods", "GET,OPTIONS,PUT"),
                ],
            ),
            // "Allow Credentials Preflight"
            (
                format!("{methods}  accessControlAllowOriginList: ['*']\n  accessControlAllowCredentials: true\n  accessControlMaxAge: 600\n"),
                PREFLIGHT,
                &[
                    ("Access-Control-Allow-Origin", "https://foo.bar.org"),
                    ("Access-Control-Max-Age", "600"),
                    ("Access-Control-Allow-Methods", "GET,OPTIONS,PUT"),
                    ("Access-Control-Allow-Credentials", "true"),
                ],
            ),
            // "Allow Headers Preflight"
            (
                format!("{methods}  accessControlAllowOriginList: ['*']\n  accessControlAllowHeaders: [origin, X-Forwarded-For]\n  accessControlMaxAge: 600\n"),
                PREFLIGHT,
                &[
                    ("Access-Control-Allow-Origin", "*"),
                    ("Access-Control-Max-Age", "600"),
                    ("Access-Control-Allow-Methods", "GET,OPTIONS,PUT"),
                    ("Access-Control-Allow-Headers", "origin,X-Forwarded-For"),
                ],
            ),
            // "No Request Headers Preflight"
            (
                format!("{methods}  accessControlAllowOriginList: ['*']\n  accessControlAllowHeaders: [origin, X-Forwarded-For]\n  accessControlMaxAge: 600\n"),
                &PREFLIGHT[1..],
                &[
                    ("Access-Control-Allow-Origin", "*"),
                    ("Access-Control-Max-Age", "600"),
                    ("Access-Control-Allow-Methods", "GET,OPTIONS,PUT"),
                    ("Access-Control-Allow-Headers", "origin,X-Forwarded-For"),
                ],
            ),
            // "Nil MaxAge Preflight"
            (
                format!("{methods}  accessControlAllowOriginList: ['*']\n"),
                &PREFLIGHT[1..],
                &[
                    ("Access-Control-Allow-Origin", "*"),
                    ("Access-Control-Allow-Methods", "GET,OPTIONS,PUT"),
                ],
            ),
        ];
        for (cfg, request, want) in cases {
            let req = Req {
                method: Method::OPTIONS,
                host: "",
                path: "/foo",
                headers: request.to_vec(),
                ..Req::default()
            };
            let out = run(&format!("headers:\n{cfg}"), &req);
            assert_eq!(out.status, 200, "{cfg}");
            assert_eq!(sorted(&out.answer), pairs(want), "{cfg}");
        }
    }

    /// `TestNewHeader_CORSResponses`: (configuration, request headers, backend's answer
    /// headers, answer headers, `Vary: Origin` added).
    #[test]
    fn cors_responses() {
        let origin: &[(&str, &str)] = &[("Origin", "https://foo.bar.org")];
        let cases: &[(&str, &[(&str, &str)], &[(&str, &str)], &[(&str, &str)], bool)] = &[
            // "Test Simple Request"
            (
                "  accessControlAllowOriginList: [https://foo.bar.org]\n",
                origin,
                &[],
                &[("Access-Control-Allow-Origin", "https://foo.bar.org")],
                false,
            ),
            // "Wildcard origin Request"
            (
                "  accessControlAllowOriginList: ['*']\n",
                origin,
                &[],
                &[("Access-Control-Allow-Origin", "*")],
                false,
            ),
            // "Regexp Origin Request"
            (
                "  accessControlAllowOriginListRegex: ['^https?://([a-z]+)\\.bar\\.org$']\n",
                origin,
                &[],
                &[("Access-Control-Allow-Origin", "https://foo.bar.org")],
                false,
            ),
            // "Partial Regexp Origin Request"
            (
                "  accessControlAllowOriginListRegex: ['([a-z]+)\\.bar']\n",
                origin,
                &[],
                &[("Access-Control-Allow-Origin", "https://foo.bar.org")],
                false,
            ),
            // "Regexp Origin Request without matching"
            (
                "  accessControlAllowOriginListRegex: ['([a-z]+)\\.bar\\.org']\n",
                &[("Origin", "https://bar.org")],
                &[],
                &[],
                false,
            ),
            // "Empty origin Request"
            (
                "  accessControlAllowOriginList: [https://foo.bar.org]\n",
                &[],
                &[],
                &[],
                false,
            ),
            // "Allow Credentials Request"
            (
                "  accessControlAllowOriginList: ['*']\n  accessControlAllowCredentials: true\n",
                origin,
                &[],
                &[
                    ("Access-Control-Allow-Origin", "https://foo.bar.org"),
                    ("Access-Control-Allow-Credentials", "true"),
                ],
                false,
            ),
            // "Expose Headers Request"
            (
                "  accessControlAllowOriginList: ['*']\n  accessControlExposeHeaders: [origin, X-Forwarded-For]\n",
                origin,
                &[],
                &[
                    ("Access-Control-Allow-Origin", "*"),
                    ("Access-Control-Expose-Headers", "origin,X-Forwarded-For"),
                ],
                false,
            ),
            // "Test Simple Request with Vary Headers" (and "... non-empty response", "...
            // existing vary:origin response": `Vary` is merged by proxy::finish_response).
            (
                "  accessControlAllowOriginList: [https://foo.bar.org]\n  addVaryHeader: true\n",
                origin,
                &[],
                &[("Access-Control-Allow-Origin", "https://foo.bar.org")],
                true,
            ),
            // "Test Simple Request with non-empty response: set ACAO" / "add ACAO"
            (
                "  accessControlAllowOriginList: ['*']\n",
                origin,
                &[("Access-Control-Allow-Origin", "http://foo.bar.org")],
                &[("Access-Control-Allow-Origin", "*")],
                false,
            ),
            // "Test Simple CustomRequestHeaders Not Hijacked by CORS" (a GET).
            (
                "  customRequestHeaders:\n    foo: bar\n",
                PREFLIGHT,
                &[],
                &[],
                false,
            ),
        ];
        for (cfg, request, backend, want, vary) in cases {
            let req = Req {
                host: "",
                path: "/foo",
                headers: request.to_vec(),
                ..Req::default()
            };
            let out = run(&format!("headers:\n{cfg}"), &req);
            assert_eq!(out.status, 200, "{cfg}");
            assert_eq!(out.response(backend), pairs(want), "{cfg}");
            assert_eq!(out.fx.vary_origin, *vary, "{cfg}");
        }
        // "Regexp Malformed Origin Request": refused when read.
        assert!(middleware("headers:\n  accessControlAllowOriginListRegex: ['a(b']\n").is_err());
    }

    /// `TestNewHeader_customResponseHeaders`: the backend answers `Foo: bar`.
    #[test]
    fn custom_response_headers() {
        let cases: &[(&str, &[(&str, &str)])] = &[
            (
                "    Testing: foo\n    Testing2: bar\n",
                &[("Foo", "bar"), ("Testing", "foo"), ("Testing2", "bar")],
            ),
            (
                "    Testing: foo\n    Testing2: ''\n",
                &[("Foo", "bar"), ("Testing", "foo")],
            ),
            ("    Testing: foo\n    Foo: ''\n", &[("Testing", "foo")]),
        ];
        for (cfg, want) in cases {
            let out = run(
                &format!("headers:\n  customResponseHeaders:\n{cfg}"),
                &get("/foo"),
            );
            assert_eq!(out.response(&[("Foo", "bar")]), pairs(want), "{cfg}");
        }
    }

    /// `secure_test.go`, `Test_newSecure_modifyResponse` (a plain HTTP request).
    #[test]
    fn secure_modify_response() {
        let cases = [
            (
                "  permissionsPolicy: 'microphone=(),'\n",
                ("Permissions-Policy", "microphone=(),"),
            ),
            (
                "  stsSeconds: 1\n  forceSTSHeader: true\n",
                ("Strict-Transport-Security", "max-age=1"),
            ),
            (
                "  stsSeconds: 1\n  forceSTSHeader: true\n  stsPreload: true\n",
                ("Strict-Transport-Security", "max-age=1; preload"),
            ),
            (
                "  customFrameOptionsValue: foo\n",
                ("X-Frame-Options", "foo"),
            ),
            ("  frameDeny: true\n", ("X-Frame-Options", "DENY")),
            (
                "  contentTypeNosniff: true\n",
                ("X-Content-Type-Options", "nosniff"),
            ),
        ];
        for (cfg, want) in cases {
            let out = run(&format!("headers:\n{cfg}"), &get("/foo"));
            assert_eq!(out.response(&[]), pairs(&[want]), "{cfg}");
        }
    }

    /// Not in Traefik's tables: unrolled/secure v1.0.9's `processRequest` (Traefik's
    /// `secure.go`), for `hostsProxyHeaders`, `sslProxyHeaders`, `isDevelopment`, `publicKey`
    /// and the v3-removed `sslRedirect`.
    #[test]
    fn secure_request_checks() {
        let hosts =
            "headers:\n  allowedHosts: [foo.com]\n  hostsProxyHeaders: [X-Forwarded-Host]\n";
        let proxied = |h: &'static str| Req {
            host: "other.com",
            headers: vec![("X-Forwarded-Host", h)],
            ..Req::default()
        };
        assert_eq!(run(hosts, &proxied("foo.com")).status, 200);
        assert_eq!(run(hosts, &proxied("other.com")).status, 500);
        // An empty proxy header is skipped: the Host header counts.
        assert_eq!(run(hosts, &proxied("")).status, 500);
        let dev = "headers:\n  allowedHosts: [foo.com]\n  isDevelopment: true\n  stsSeconds: 10\n  forceSTSHeader: true\n";
        let out = run(dev, &get("/"));
        assert_eq!((out.status, out.response(&[])), (200, vec![]));
        // HSTS only over HTTPS, or a request an `sslProxyHeaders` header says is.
        let sts = "headers:\n  stsSeconds: 10\n  stsIncludeSubdomains: true\n  sslProxyHeaders:\n    X-Forwarded-Proto: https\n";
        let want = pairs(&[("Strict-Transport-Security", "max-age=10; includeSubDomains")]);
        assert_eq!(run(sts, &get("/")).response(&[]), vec![]);
        let tls = Req {
            scheme: "https",
            ..Req::default()
        };
        assert_eq!(run(sts, &tls).response(&[]), want);
        let proxied_tls = Req {
            headers: vec![("X-Forwarded-Proto", "https")],
            ..Req::default()
        };
        assert_eq!(run(sts, &proxied_tls).response(&[]), want);
        // `publicKey` (HPKP): unrolled/secure sets it only over HTTPS and not in
        // development. KNOWN DIFFERENCE: the router sets it on every answer (decoded into
        // the plain answer headers by `dynamic::middleware::headers`; telling it apart
        // needs a field of its own there).
        let hpkp = "headers:\n  publicKey: pin-sha256=\"x\"; max-age=10\n";
        let pin = pairs(&[("Public-Key-Pins", "pin-sha256=\"x\"; max-age=10")]);
        assert_eq!(run(hpkp, &tls).response(&[]), pin);
        assert_eq!(run(hpkp, &get("/")).response(&[]), pin); // Traefik: none.
                                                             // `sslRedirect`: removed in Traefik v3, no effect.
        let out = run(
            "headers:\n  sslRedirect: true\n  frameDeny: true\n",
            &get("/"),
        );
        assert_eq!(out.status, 200);
    }
}

/// `pkg/middlewares/auth/basic_auth_test.go`.
mod basic_auth {
    use super::*;
    use base64::Engine as _;

    const TEST: &str = "test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/";

    fn with(user: &str, pass: &str) -> Req<'static> {
        let v = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        Req {
            headers: vec![(
                "Authorization",
                Box::leak(format!("Basic {v}").into_boxed_str()),
            )],
            ..Req::default()
        }
    }

    fn users(list: &[&str], extra: &str) -> String {
        let list: Vec<String> = list.iter().map(|u| format!("'{u}'")).collect();
        format!("basicAuth:\n  users: [{}]\n{extra}", list.join(", "))
    }

    /// `TestNewBasicEmpty`, `TestBasicAuthFail`.
    #[test]
    fn configurations() {
        assert!(middleware("basicAuth:\n  users: []\n").is_err());
        assert!(middleware(&users(&["test"], "")).is_err());
        // `test:test` (plain text): Traefik takes it and refuses every password (401); the
        // router refuses it when read (README.md, `basicauth.users`: "Plain-text passwords
        // are refused").
        assert!(middleware(&users(&["test:test"], "")).is_err());
    }

    /// `TestBasicAuthSuccess`, `TestBasicAuthUserHeader`, `TestBasicAuthUserHeaderCanonical`,
    /// `TestBasicAuthHeaderRemoved`, `TestBasicAuthHeaderPresent`.
    #[test]
    fn credentials_and_headers() {
        let out = run(&users(&[TEST], ""), &with("test", "test"));
        assert_eq!(out.status, 200);
        assert!(out.header("authorization").is_some());
        let out = run(&users(&[TEST], ""), &with("test", "nope"));
        assert_eq!(out.status, 401);
        assert_eq!(
            out.answer.get("www-authenticate").unwrap(),
            "Basic realm=\"traefik\""
        );
        let out = run(
            &users(&[TEST], "  headerField: X-Webauth-User\n"),
            &with("test", "test"),
        );
        assert_eq!(out.header("x-webauth-user"), Some("test"));
        let mut req = with("test", "test");
        req.headers.push(("X-User", "admin"));
        let out = run(&users(&[TEST], "  headerField: x-user\n"), &req);
        assert_eq!(out.status, 200);
        let got: Vec<_> = out.headers.get_all("x-user").iter().collect();
        assert_eq!(got, ["test"]);
        let out = run(
            &users(&[TEST], "  removeHeader: true\n"),
            &with("test", "test"),
        );
        assert_eq!((out.status, out.header("authorization")), (200, None));
    }

    /// `TestBasicAuthUsersFromFile`: (file, users, realm, user/password pairs that pass).
    #[test]
    fn users_from_file() {
        let test2 = "test2:$apr1$d9hr9HBB$4HxwgUir3HP4EsggP/QNo0";
        let two = format!("{TEST}\n{test2}\n");
        let overridden = "test2:$apr1$mK.GtItK$ncnLYvNLek0weXdxo68690";
        let test3 = "test3:$apr1$3rJbDP0q$RfzJiorTk78jQ1EcKqWso0";
        let cases: &[(String, &[&str], Option<&str>, &[(&str, &str)])] = &[
            (
                two.clone(),
                &[],
                None,
                &[("test", "test"), ("test2", "test2")],
            ),
            (
                format!("{TEST}\n"),
                &[test2, test3],
                None,
                &[("test", "test"), ("test2", "test2"), ("test3", "test3")],
            ),
            (
                two.clone(),
                &[overridden],
                None,
                &[("test", "test"), ("test2", "overridden")],
            ),
            (
                two.clone(),
                &[overridden],
                Some("traefik"),
                &[("test", "test"), ("test2", "overridden")],
            ),
            (
                format!("#Comment\n{two}"),
                &[],
                Some("traefiker"),
                &[("test", "test"), ("test2", "test2")],
            ),
        ];
        for (i, (file, given, realm, pass)) in cases.iter().enumerate() {
            let path = std::env::temp_dir()
                .join(format!("router-traefik-tables-{}-{i}", std::process::id()));
            std::fs::write(&path, file).unwrap();
            let mut extra = format!("  usersFile: '{}'\n", path.display());
            if let Some(r) = realm {
                extra.push_str(&format!("  realm: {r}\n"));
            }
            let yaml = if given.is_empty() {
                format!("basicAuth:\n{extra}")
            } else {
                users(given, &extra)
            };
            shared().users_files.clear();
            for (u, p) in *pass {
                assert_eq!(run(&yaml, &with(u, p)).status, 200, "{i}: {u}");
            }
            let out = run(&yaml, &with("foo", "foo"));
            assert_eq!(out.status, 401, "{i}");
            let want = format!("Basic realm=\"{}\"", realm.unwrap_or("traefik"));
            assert_eq!(out.answer.get("www-authenticate").unwrap(), want.as_str());
            let _ = std::fs::remove_file(&path);
        }
    }

    /// The hash formats of Traefik's checker (go-http-auth's `CheckSecret`): `{SHA}`,
    /// `$apr1$`, bcrypt (`$2a$`, `$2b$`, `$2x$`, `$2y$`) and MD5-crypt (`$1$`).
    #[test]
    fn hash_formats() {
        use crate::model::auth::verify;
        assert!(verify("password", "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="));
        assert!(verify("test", "$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/"));
        let y = bcrypt::hash("secret", 4).unwrap();
        for prefix in ["$2a$", "$2b$", "$2y$", "$2x$"] {
            let h = format!("{prefix}{}", &y[4..]);
            assert!(verify("secret", &h), "{h}");
            assert!(!verify("Secret", &h), "{h}");
        }
        let md5 = "$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/";
        assert!(verify("password", md5));
        assert!(!verify("passwort", md5));
    }
}

/// `pkg/middlewares/encodedcharacters/encoded_characters_test.go`: the `encodedCharacters`
/// middleware, whose keys are all `false` unless set (unlike the entry point's section).
mod encoded_characters {
    use super::*;

    const KEYS: [&str; 7] = [
        "allowEncodedSlash",
        "allowEncodedBackSlash",
        "allowEncodedNullCharacter",
        "allowEncodedSemicolon",
        "allowEncodedPercent",
        "allowEncodedQuestionMark",
        "allowEncodedHash",
    ];

    fn yaml(allowed: &[&str]) -> String {
        let mut y = "encodedCharacters:\n".to_string();
        if allowed.is_empty() {
            y = "encodedCharacters: {}\n".into();
        }
        for k in allowed {
            y.push_str(&format!("  {k}: true\n"));
        }
        y
    }

    /// `TestEncodedCharacters`: (allowed keys, path, status).
    #[test]
    fn encoded_characters() {
        let rows: &[(&str, &[&str], &str, u16)] = &[
            ("deny encoded slash", &[], "/foo%2fbar", 400),
            (
                "allow encoded slash",
                &["allowEncodedSlash"],
                "/foo%2fbar",
                200,
            ),
            ("deny encoded backslash", &[], "/foo%5cbar", 400),
            (
                "allow encoded backslash",
                &["allowEncodedBackSlash"],
                "/foo%5cbar",
                200,
            ),
            ("deny encoded null character", &[], "/foo%00bar", 400),
            (
                "allow encoded null character",
                &["allowEncodedNullCharacter"],
                "/foo%00bar",
                200,
            ),
            ("deny encoded semi colon", &[], "/foo%3bbar", 400),
            (
                "allow encoded semi colon",
                &["allowEncodedSemicolon"],
                "/foo%3bbar",
                200,
            ),
            ("deny encoded percent", &[], "/foo%25bar", 400),
            (
                "allow encoded percent",
                &["allowEncodedPercent"],
                "/foo%25bar",
                200,
            ),
            ("deny encoded question mark", &[], "/foo%3fbar", 400),
            (
                "allow encoded question mark",
                &["allowEncodedQuestionMark"],
                "/foo%3fbar",
                200,
            ),
            ("deny encoded hash", &[], "/foo%23bar", 400),
            (
                "allow encoded hash",
                &["allowEncodedHash"],
                "/foo%23bar",
                200,
            ),
            // Beyond the table: other encodings pass, a `%` without two characters is refused.
            ("other encodings pass", &[], "/foo%20bar%41", 200),
            ("a cut encoding is refused", &[], "/foo%2", 400),
        ];
        for (desc, allowed, path, want) in rows {
            assert_eq!(run(&yaml(allowed), &get(path)).status, *want, "{desc}");
        }
        assert!(middleware("encodedCharacters:\n  allowEncodedSpace: true\n").is_err());
        assert!(middleware("encodedCharacters:\n  allowEncodedSlash: maybe\n").is_err());
    }

    /// `TestMapDeniedCharacters`: (allowed keys, the encodings refused), each encoding tried
    /// in a path.
    #[test]
    fn denied_characters() {
        let every = [
            "%2F", "%2f", "%5C", "%5c", "%00", "%3B", "%3b", "%25", "%3F", "%3f", "%23",
        ];
        let rows: &[(&str, &[&str], &[&str])] = &[
            ("deny all characters", &[], &every),
            (
                "allow only encoded slash",
                &["allowEncodedSlash"],
                &[
                    "%5C", "%5c", "%00", "%3B", "%3b", "%25", "%3F", "%3f", "%23",
                ],
            ),
            ("allow all characters", &KEYS, &[]),
        ];
        for (desc, allowed, denied) in rows {
            for code in every {
                let path = format!("/a{code}b");
                let want = if denied.contains(&code) { 400 } else { 200 };
                assert_eq!(
                    run(&yaml(allowed), &get(&path)).status,
                    want,
                    "{desc}: {code}"
                );
            }
        }
    }

    /// The path checked is the one the middlewares before it left (Traefik's `EscapedPath` of
    /// the request it is handed).
    #[test]
    fn after_a_rewrite() {
        let mut headers = HeaderMap::new();
        let shared = shared();
        let ep = shared.config.entry_points[0].clone();
        let inbound = Inbound {
            entrypoint: "web",
            scheme: "http",
            peer: "192.0.2.1:1234".parse().unwrap(),
            trusted: true,
            ep: &ep,
            tls_options: "",
            client_certs: None,
            client: "192.0.2.1",
            host: "localhost",
            method: &Method::GET,
            path: "/plain",
            query: None,
            has_body: false,
        };
        let mut fx = Effects {
            path: Some("/a%2Fb".into()),
            ..Effects::default()
        };
        let mut log = Log::default();
        let mut body = NoBody;
        let mut r = Request {
            shared: &shared,
            inbound: &inbound,
            headers: &mut headers,
            fx: &mut fx,
            log: &mut log,
            body: &mut body,
            kept: None,
        };
        let mw = middleware(&yaml(&[])).unwrap();
        let flow = super::super::apply("m", 0, &mw, &mut r)
            .now_or_never()
            .unwrap();
        assert_eq!(flow.err().map(|e| e.status().as_u16()), Some(400));
    }
}

/// `pkg/middlewares/auth/digest_auth_test.go`, with `digest_auth_request_test.go`'s client.
mod digest_auth {
    use super::*;
    use md5::{Digest as _, Md5};

    const TEST: &str = "test:traefik:a2688e031edb4be6a3797f3882655c05";
    const TEST2: &str = "test2:traefik:518845800f9e2bfb1f1f740ec24f074e";
    const TEST3: &str = "test3:traefik:c8e9f57ce58ecb4424407f665a91646c";
    /// test2's password `overridden`.
    const TEST2_OVERRIDDEN: &str = "test2:traefik:8de60a1c52da68ccf41f0c0ffb7c51a0";
    /// test's password `test2` in the realm `traefiker`.
    const TEST_TRAEFIKER: &str = "test:traefiker:a3d334dff2645b914918de78bec50bf4";

    fn md5(parts: &[&str]) -> String {
        Md5::digest(parts.join(":").as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn users(list: &[&str], extra: &str) -> String {
        let list: Vec<String> = list.iter().map(|u| format!("'{u}'")).collect();
        format!("digestAuth:\n  users: [{}]\n{extra}", list.join(", "))
    }

    /// Traefik's test client (`digestRequest`): a first request gets the challenge, whose
    /// `algorithm`, `nonce`, `opaque`, `qop` and `realm` it reads between quotes (each must
    /// be quoted, as go-http-auth writes them); the second answers it for `uri` (the client
    /// sends the request's whole URL, `http://localhost/...`).
    fn login(yaml: &str, req: &Req<'_>, user: &str, pass: &str, uri: &str) -> Out {
        let first = run(yaml, req);
        assert_eq!(first.status, 401, "{yaml}");
        let www = first.answer["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        let mut parts = std::collections::HashMap::new();
        for seg in www.trim_start_matches("Digest ").split(',') {
            let (k, _) = seg.trim().split_once('=').unwrap();
            let v = seg
                .split('"')
                .nth(1)
                .unwrap_or_else(|| panic!("{k} unquoted: {www}"));
            parts.insert(k.to_owned(), v.to_owned());
        }
        for w in ["algorithm", "nonce", "opaque", "qop", "realm"] {
            assert!(parts.contains_key(w), "{w} missing: {www}");
        }
        let ha1 = md5(&[user, &parts["realm"], pass]);
        let ha2 = md5(&[req.method.as_str(), uri]);
        let (nc, cnonce) = ("00000001", "0a4f113b");
        let response = md5(&[&ha1, &parts["nonce"], nc, cnonce, &parts["qop"], &ha2]);
        let auth = format!(
            r#"Digest username="{user}", realm="{}", nonce="{}", uri="{uri}", algorithm={}, qop={}, nc={nc}, cnonce="{cnonce}", response="{response}", opaque="{}""#,
            parts["realm"], parts["nonce"], parts["algorithm"], parts["qop"], parts["opaque"],
        );
        let mut second = req.clone();
        second
            .headers
            .push(("Authorization", Box::leak(auth.into_boxed_str())));
        run(yaml, &second)
    }

    /// `TestDigestAuthError`, `TestDigestAuthFail`.
    #[test]
    fn configurations() {
        assert!(middleware(&users(&["test"], "")).is_err());
        let v = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "test:test");
        let req = Req {
            headers: vec![(
                "Authorization",
                Box::leak(format!("Basic {v}").into_boxed_str()),
            )],
            ..Req::default()
        };
        assert_eq!(run(&users(&[TEST], ""), &req).status, 401);
    }

    /// `TestDigestAuthUsersFromFile`: (file, users, realm, user/password pairs that pass);
    /// `foo` never does. Then a row beyond Traefik's: of two `users` entries for one user
    /// and realm, the last counts (Traefik's map of them).
    #[test]
    fn users_from_file() {
        let cases: &[(String, &[&str], Option<&str>, &[(&str, &str)])] = &[
            (
                format!("{TEST}\n{TEST2}\n"),
                &[],
                None,
                &[("test", "test"), ("test2", "test2")],
            ),
            (
                format!("{TEST}\n"),
                &[TEST2, TEST3],
                None,
                &[("test", "test"), ("test2", "test2"), ("test3", "test3")],
            ),
            (
                format!("{TEST}\n{TEST2}\n"),
                &[TEST2_OVERRIDDEN],
                None,
                &[("test", "test"), ("test2", "overridden")],
            ),
            (
                format!("{TEST}\n{TEST_TRAEFIKER}\n"),
                &[],
                Some("traefiker"),
                &[("test", "test2")],
            ),
            (
                String::new(),
                &[TEST, TEST2, TEST2_OVERRIDDEN],
                None,
                &[("test", "test"), ("test2", "overridden")],
            ),
        ];
        for (i, (file, given, realm, pass)) in cases.iter().enumerate() {
            let path = std::env::temp_dir()
                .join(format!("router-digest-tables-{}-{i}", std::process::id()));
            std::fs::write(&path, file).unwrap();
            let mut extra = format!("  usersFile: '{}'\n", path.display());
            if let Some(r) = realm {
                extra.push_str(&format!("  realm: {r}\n"));
            }
            let yaml = if given.is_empty() {
                format!("digestAuth:\n{extra}")
            } else {
                users(given, &extra)
            };
            for (u, p) in *pass {
                let out = login(&yaml, &Req::default(), u, p, "http://localhost/");
                assert_eq!(out.status, 200, "{i}: {u}");
            }
            let out = login(&yaml, &Req::default(), "foo", "foo", "http://localhost/");
            assert_eq!(out.status, 401, "{i}");
            if let Some((u, _)) = pass.iter().find(|(u, _)| *u == "test2") {
                let out = login(&yaml, &Req::default(), u, "test2-wrong", "/");
                assert_eq!(out.status, 401, "{i}");
            }
            let _ = std::fs::remove_file(&path);
        }
    }

    /// `TestDigestAuthUserHeaderCanonical`: the client's `X-User` gives way to the user.
    #[test]
    fn user_header() {
        let req = Req {
            headers: vec![("X-User", "admin")],
            ..Req::default()
        };
        let out = login(
            &users(&[TEST], "  headerField: x-user\n"),
            &req,
            "test",
            "test",
            "http://localhost/",
        );
        assert_eq!(out.status, 200);
        let got: Vec<_> = out.headers.get_all("x-user").iter().collect();
        assert_eq!(got, ["test"]);
    }

    /// go-http-auth's `uri` check, which Traefik's client relies on: the request's target, or
    /// a URL (absolute, as the client sends it, or a path) whose decoded path is a prefix of
    /// the request's.
    #[test]
    fn uri() {
        let yaml = users(&[TEST], "");
        let req = Req {
            path: "/a/b",
            query: Some("x=1"),
            ..Req::default()
        };
        for (uri, want) in [
            ("/a/b?x=1", 200),
            ("http://localhost/a/b?x=1", 200),
            ("http://localhost/a/b", 200),
            ("http://localhost/a", 200),
            ("/a", 200),
            ("/%61/b", 200),
            ("//other-host/a", 200),
            ("http://localhost/a/b/c", 401),
            ("http://localhost/b", 401),
            ("/a/c", 401),
            ("1a:b/c", 401),
            ("a:b/c", 200),
            ("/a%zz", 401),
            ("mailto:/a/b", 200),
            ("mailto:x", 200),
        ] {
            let out = login(&yaml, &req, "test", "test", uri);
            assert_eq!(out.status, want, "{uri}");
        }
    }
}

/// `pkg/middlewares/contenttype/content_type_test.go`, `TestAutoDetection`: with the
/// middleware, an answer without `Content-Type` gets the sniffed one; the server's is kept
/// (by the sending side: `conn.rs`, `proxy.rs`).
mod content_type {
    use super::*;

    #[test]
    fn traefik_table() {
        assert!(run("contentType: {}\n", &get("/")).fx.sniff);
        assert!(
            !run("contentType:\n  autoDetect: false\n", &get("/"))
                .fx
                .sniff
        );
        assert_eq!(crate::sniff::detect(b"Test"), "text/plain; charset=utf-8");
    }
}

/// `pkg/middlewares/compress/acceptencoding_test.go`, `Test_getCompressionEncoding`.
/// Traefik's default coding list is `gzip, br, zstd` (the first wins a tie); the router's is
/// `br, zstd, gzip` (README.md, "Compression": "ties go to `br`, then `zstd`, then `gzip`"),
/// so cases without a list give Traefik's default list explicitly.
mod compress {
    use crate::compress::{negotiate_with, Encoding};
    use crate::dynamic::middleware::CompressOptions;
    use hyper::header::HeaderValue;

    #[test]
    fn traefik_table() {
        use Encoding::{Brotli as Br, Gzip, Zstd};
        // (Accept-Encoding, encodings offered, defaultEncoding, coding: None = not encoded).
        let traefik_default: &[&str] = &["gzip", "br", "zstd"];
        let cases: &[(&str, &[&str], Option<&str>, Option<Encoding>)] = &[
            ("", traefik_default, None, None),
            ("gzip, br", traefik_default, None, Some(Gzip)),
            ("gzip, br, zstd", traefik_default, None, Some(Gzip)),
            ("compress, gzip", traefik_default, None, Some(Gzip)),
            ("compress, rar", traefik_default, None, None),
            ("*", traefik_default, None, Some(Gzip)),
            ("*", traefik_default, Some("br"), Some(Br)),
            (
                "br;q=0.8, gzip;q=1.0, *;q=0.1",
                traefik_default,
                None,
                Some(Gzip),
            ),
            ("br;q=0.8, identity;q=1.0", traefik_default, None, None),
            ("br;q=0.8, identity;q=0.8", traefik_default, None, Some(Br)),
            (
                "compress;q=1.0, gzip;q=0.5",
                traefik_default,
                None,
                Some(Gzip),
            ),
            (
                "compress;q=1.0, gzip, identity;q=0",
                traefik_default,
                None,
                Some(Gzip),
            ),
            ("compress;q=1.0, identity;q=0", traefik_default, None, None),
            ("compress;q=1.0, *;q=0", traefik_default, None, None),
            ("gzip, *;q=0", traefik_default, None, Some(Gzip)),
            ("zstd, gzip, br", &["br", "gzip"], None, Some(Br)),
            (
                "br;q=0.8, gzip;q=1.0, *;q=0.1",
                &["zstd", "br"],
                None,
                Some(Br),
            ),
            ("gzip, br;q=0.9", &["gzip", "br"], None, Some(Gzip)),
            ("br;q=0, gzip;q=0, zstd;q=0", traefik_default, None, None),
            (
                "br;q=0, gzip;q=0, zstd;q=0",
                traefik_default,
                Some("br"),
                None,
            ),
            (
                "br;q=1.0, gzip;q=1.0, zstd;q=1.0",
                traefik_default,
                None,
                Some(Gzip),
            ),
            (
                "br;q=1.0, zstd;q=1.0, gzip;q=1.0",
                traefik_default,
                None,
                Some(Gzip),
            ),
            (
                "br;q=1.0, zstd;q=1.0, gzip;q=1.0",
                traefik_default,
                Some("br"),
                Some(Gzip),
            ),
        ];
        for (accept, encodings, default, want) in cases {
            let o = CompressOptions {
                encodings: encodings.iter().map(|e| e.to_string()).collect(),
                default_encoding: default.map(str::to_owned),
                ..Default::default()
            };
            let got = negotiate_with(Some(&HeaderValue::from_static(accept)), &o);
            assert_eq!(got, *want, "{accept:?} {encodings:?} {default:?}");
        }
        // The router's own default list, on a tie (README.md, "Compression").
        let got = negotiate_with(
            Some(&HeaderValue::from_static("gzip, br")),
            &CompressOptions::default(),
        );
        assert_eq!(got, Some(Br));
        let _ = Zstd;
    }
}
