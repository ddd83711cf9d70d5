//! Traefik's own test tables for rules, translated into data and run against this module:
//! `pkg/muxer/http/{matcher,matcher_v2,mux}_test.go`, `pkg/rules/parser_test.go` and
//! `pkg/muxer/tcp/{matcher,matcher_v2,mux}_test.go` (Traefik v3, commit fd5a576). Each case
//! is a fact of Traefik's: a rule in a syntax, and for requests (or connections) whether it
//! matches, or that the rule is refused.
//!
//! Requests are built as our front end builds a [`RequestView`]: the host through
//! [`crate::proxy::request_host`], the path through [`routing_path`]. Rows that cannot happen
//! here are left out, with the reason where they would be: a header name in non-canonical
//! form inside Go's `http.Header` map (Go's server canonicalizes every received name; our
//! header map ignores case), a remote address that is not an IP (ours come from sockets).
//! Where a difference is ours on purpose (README), the row holds our answer and says so.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use super::tcp::{default_priority, ConnView, TcpRule};
use super::{expr, matcher, routing_path, RequestView, Rule, Syntax};

const V2: Syntax = Syntax::V2;
const V3: Syntax = Syntax::V3;
const Y: bool = true;
const N: bool = false;

// === HTTP ===

/// A request as Traefik's tests send it: `httptest.NewRequest(method, url)`, its headers and
/// remote address (`192.0.2.1` by default, as httptest's).
#[derive(Clone, Copy)]
struct Req {
    url: &'static str,
    method: &'static str,
    headers: &'static [(&'static str, &'static str)],
    remote: &'static str,
}

const fn u(url: &'static str) -> Req {
    Req {
        url,
        method: "GET",
        headers: &[],
        remote: "192.0.2.1",
    }
}

const fn m(method: &'static str) -> Req {
    Req {
        method,
        ..u("https://example.com")
    }
}

const fn hd(headers: &'static [(&'static str, &'static str)]) -> Req {
    Req {
        headers,
        ..u("https://example.com")
    }
}

const fn uh(url: &'static str, headers: &'static [(&'static str, &'static str)]) -> Req {
    Req { headers, ..u(url) }
}

const fn ip(remote: &'static str) -> Req {
    Req {
        remote,
        ..u("https://example.com")
    }
}

const fn ui(url: &'static str, remote: &'static str) -> Req {
    Req { remote, ..u(url) }
}

/// One Traefik case: the test it comes from, the rule and its syntax, and the requests with
/// whether each matches (`None`: the rule is refused).
struct Case {
    from: &'static str,
    syntax: Syntax,
    rule: &'static str,
    rows: Option<&'static [(Req, bool)]>,
}

const fn ok(
    from: &'static str,
    syntax: Syntax,
    rule: &'static str,
    rows: &'static [(Req, bool)],
) -> Case {
    Case {
        from,
        syntax,
        rule,
        rows: Some(rows),
    }
}

const fn bad(from: &'static str, syntax: Syntax, rule: &'static str) -> Case {
    Case {
        from,
        syntax,
        rule,
        rows: None,
    }
}

const MT: &str = "matcher_test.go";
const MV2: &str = "matcher_v2_test.go";
const MUX: &str = "mux_test.go";

/// pkg/muxer/http/matcher_test.go (v3 syntax).
const HTTP_V3_MATCHERS: &[Case] = &[
    // TestClientIPMatcher ("valid ClientIP matcher but invalid remote address" left out: our
    // client address is always an IP).
    bad(MT, V3, "ClientIP(`1`)"),
    bad(MT, V3, "ClientIP()"),
    bad(MT, V3, "ClientIP(``)"),
    bad(MT, V3, "ClientIP(`127.0.0.1`, `192.168.1.0/24`)"),
    ok(
        MT,
        V3,
        "ClientIP(`127.0.0.1`)",
        &[(ip("127.0.0.1"), Y), (ip("192.168.1.1"), N)],
    ),
    ok(
        MT,
        V3,
        "ClientIP(`192.168.1.0/24`)",
        &[
            (ip("192.168.1.1"), Y),
            (ip("192.168.1.100"), Y),
            (ip("192.168.2.1"), N),
        ],
    ),
    // TestMethodMatcher
    bad(MT, V3, "Method()"),
    bad(MT, V3, "Method(``)"),
    bad(MT, V3, "Method(`GET`, `POST`)"),
    ok(
        MT,
        V3,
        "Method(`GET`)",
        &[(m("GET"), Y), (m("POST"), N), (m("get"), N)],
    ),
    ok(
        MT,
        V3,
        "Method(`get`)",
        &[(m("GET"), Y), (m("POST"), N), (m("get"), N)],
    ),
    // TestHostMatcher
    bad(MT, V3, "Host()"),
    bad(MT, V3, "Host(``)"),
    bad(MT, V3, "Host(`🦭.com`)"),
    bad(MT, V3, "Host(`example.com`, `example.org`)"),
    ok(
        MT,
        V3,
        "Host(`example.com`)",
        &[
            (u("https://example.com"), Y),
            (u("https://example.com:8080"), Y),
            (u("https://example.com/path"), Y),
            (u("https://EXAMPLE.COM/path"), Y),
            (u("https://example.org"), N),
            (u("https://example.org/path"), N),
        ],
    ),
    ok(
        MT,
        V3,
        "Host(`example.com.`)",
        &[
            (u("https://example.com"), Y),
            (u("https://example.com/path"), Y),
            (u("https://example.org"), N),
            (u("https://example.org/path"), N),
            (u("https://example.com."), Y),
            (u("https://example.com./path"), Y),
            (u("https://example.org."), N),
            (u("https://example.org./path"), N),
        ],
    ),
    ok(
        MT,
        V3,
        "Host(`example.com`)",
        &[
            (u("https://example.com."), Y),
            (u("https://example.com./path"), Y),
            (u("https://example.org."), N),
            (u("https://example.org./path"), N),
        ],
    ),
    ok(
        MT,
        V3,
        "Host(`EXAMPLE.COM`)",
        &[
            (u("https://example.com"), Y),
            (u("https://example.com/path"), Y),
            (u("https://example.org"), N),
            (u("https://example.org/path"), N),
        ],
    ),
    ok(
        MT,
        V3,
        "Host(`xn--9t9h.com`)",
        &[
            (u("https://xn--9t9h.com"), Y),
            (u("https://xn--9t9h.com/path"), Y),
            (u("https://example.com"), N),
            (u("https://example.com/path"), N),
            (u("https://🦭.com"), N),
        ],
    ),
    ok(
        MT,
        V3,
        "Host(`*.example.com`)",
        &[
            (u("https://test.example.com"), Y),
            (u("https://other.example.com"), Y),
            (u("https://example.com"), N),
            (u("https://test.otherexample.com"), N),
        ],
    ),
    ok(
        MT,
        V3,
        "Host(`*`)",
        &[
            (u("https://test.example.com"), Y),
            (u("https://other.example.com"), Y),
            (u("https://example.com"), Y),
            (u("https://test.otherexample.com"), Y),
            (u("https://localhost"), Y),
        ],
    ),
    // TestHostRegexpMatcher
    bad(MT, V3, "HostRegexp()"),
    bad(MT, V3, "HostRegexp(``)"),
    bad(MT, V3, "HostRegexp(`🦭.com`)"),
    bad(MT, V3, "HostRegexp(`(example.com`)"),
    bad(MT, V3, "HostRegexp(`example.com`, `example.org`)"),
    ok(
        MT,
        V3,
        r"HostRegexp(`^[a-zA-Z-]+\.com$`)",
        &[
            (u("https://example.com"), Y),
            (u("https://example.com:8080"), Y),
            (u("https://example.com/path"), Y),
            (u("https://example.org"), N),
            (u("https://example.org/path"), N),
        ],
    ),
    ok(
        MT,
        V3,
        r"HostRegexp(`^[A-Z]+\.com$`)",
        &[
            (u("https://example.com"), N),
            (u("https://EXAMPLE.com"), N),
            (u("https://example.com/path"), N),
            (u("https://example.org"), N),
            (u("https://example.org/path"), N),
        ],
    ),
    ok(
        MT,
        V3,
        r"HostRegexp(`{domain:[a-zA-Z-]+\.com}`)",
        &[
            (u("https://example.com"), N),
            (u("https://example.com/path"), N),
            (u("https://example.org"), N),
            (u("https://example.org/path"), N),
        ],
    ),
    // TestPathMatcher
    bad(MT, V3, "Path()"),
    bad(MT, V3, "Path(``)"),
    bad(MT, V3, "Path(`css`)"),
    bad(MT, V3, "Path(`/css`, `/js`)"),
    ok(
        MT,
        V3,
        "Path(`/css`)",
        &[
            (u("https://example.com"), N),
            (u("https://example.com/html"), N),
            (u("https://example.org/css"), Y),
            (u("https://example.com/css"), Y),
            (u("https://example.com/css/"), N),
            (u("https://example.com/css/main.css"), N),
        ],
    ),
    // TestPathRegexpMatcher
    bad(MT, V3, "PathRegexp()"),
    bad(MT, V3, "PathRegexp(``)"),
    bad(MT, V3, "PathRegexp(`/(css`)"),
    bad(MT, V3, "PathRegexp(`/css`, `/js`)"),
    ok(
        MT,
        V3,
        "PathRegexp(`^/(css|js)`)",
        &[
            (u("https://example.com"), N),
            (u("https://example.com/html"), N),
            (u("https://example.org/css"), Y),
            (u("https://example.com/CSS"), N),
            (u("https://example.com/css"), Y),
            (u("https://example.com/css/"), Y),
            (u("https://example.com/css/main.css"), Y),
            (u("https://example.com/js"), Y),
            (u("https://example.com/js/"), Y),
            (u("https://example.com/js/main.js"), Y),
        ],
    ),
    ok(
        MT,
        V3,
        r#"PathRegexp("/{path:(css|js)}")"#,
        &[
            (u("https://example.com"), N),
            (u("https://example.com/html"), N),
            (u("https://example.org/css"), N),
            (u("https://example.com/{path:css}"), Y),
            (u("https://example.com/{path:css}/"), Y),
            (u("https://example.com/%7Bpath:css%7D"), Y),
            (u("https://example.com/%7Bpath:css%7D/"), Y),
            (u("https://example.com/{path:js}"), Y),
            (u("https://example.com/{path:js}/"), Y),
            (u("https://example.com/%7Bpath:js%7D"), Y),
            (u("https://example.com/%7Bpath:js%7D/"), Y),
        ],
    ),
    // TestPathPrefixMatcher
    bad(MT, V3, "PathPrefix()"),
    bad(MT, V3, "PathPrefix(``)"),
    bad(MT, V3, "PathPrefix(`css`)"),
    bad(MT, V3, "PathPrefix(`/css`, `/js`)"),
    ok(
        MT,
        V3,
        r#"PathPrefix("/css")"#,
        &[
            (u("https://example.com"), N),
            (u("https://example.com/html"), N),
            (u("https://example.org/css"), Y),
            (u("https://example.com/css"), Y),
            (u("https://example.com/css/"), Y),
            (u("https://example.com/css/main.css"), Y),
        ],
    ),
    // TestHeaderMatcher (the rows with a lowercase name in Go's header map left out, in this
    // test and the next ones: Go's server never gives such a map).
    bad(MT, V3, "Header()"),
    bad(MT, V3, "Header(`X-Forwarded-Host`)"),
    bad(MT, V3, "Header(`X-Forwarded-Host`, ``)"),
    bad(MT, V3, "Header(``, `example.com`)"),
    bad(
        MT,
        V3,
        "Header(`X-Forwarded-Host`, `example.com`, `example.org`)",
    ),
    ok(MT, V3, "Header(`X-Forwarded-Proto`, `https`)", HEADER_ROWS),
    ok(MT, V3, "Header(`x-forwarded-proto`, `https`)", HEADER_ROWS),
    // A name no request can carry: Traefik accepts the rule (it canonicalizes the name and
    // looks it up), and it never matches; its negation always does.
    ok(
        MT,
        V3,
        "Header(`Bad Name`, `x`)",
        &[(u("http://localhost/"), N)],
    ),
    ok(
        MT,
        V3,
        "!HeaderRegexp(`Bad Name`, `x`) && Host(`localhost`)",
        &[(u("http://localhost/"), Y)],
    ),
    ok(
        MV2,
        V2,
        "Headers(`Bad Name`, `x`)",
        &[(u("http://localhost/"), N)],
    ),
    // TestHeaderRegexpMatcher
    bad(MT, V3, "HeaderRegexp()"),
    bad(MT, V3, "HeaderRegexp(`X-Forwarded-Host`)"),
    bad(MT, V3, "HeaderRegexp(`X-Forwarded-Host`, ``)"),
    bad(MT, V3, "HeaderRegexp(``, `example.com`)"),
    bad(MT, V3, "HeaderRegexp(`X-Forwarded-Host`,`(example.com`)"),
    bad(
        MT,
        V3,
        "HeaderRegexp(`X-Forwarded-Host`, `example.com`, `example.org`)",
    ),
    ok(
        MT,
        V3,
        "HeaderRegexp(`X-Forwarded-Proto`, `^https?$`)",
        HEADER_REGEXP_ROWS,
    ),
    ok(
        MT,
        V3,
        "HeaderRegexp(`x-forwarded-proto`, `^https?$`)",
        HEADER_REGEXP_ROWS,
    ),
    ok(
        MT,
        V3,
        "HeaderRegexp(`X-Forwarded-Proto`, `http{secure:s?}`)",
        HEADER_REGEXP_BRACES_ROWS,
    ),
    // TestQueryMatcher
    bad(MT, V3, "Query()"),
    bad(MT, V3, "Query(``)"),
    bad(MT, V3, "Query(``, `traefik`)"),
    bad(MT, V3, "Query(`q`, ``)"),
    bad(MT, V3, "Query(`q`, `traefik`, `proxy`)"),
    ok(
        MT,
        V3,
        "Query(`q`, `traefik`)",
        &[
            (u("https://example.com"), N),
            (u("https://example.com?q=traefik"), Y),
            (u("https://example.com?rel=ddg&q=traefik"), Y),
            (u("https://example.com?q=traefik&q=proxy"), Y),
            (u("https://example.com?q=awesome&q=traefik"), Y),
            (u("https://example.com?q=nginx"), N),
            (u("https://example.com?rel=ddg"), N),
            (u("https://example.com?q=TRAEFIK"), N),
            (u("https://example.com?Q=traefik"), N),
            (u("https://example.com?rel=traefik"), N),
        ],
    ),
    ok(
        MT,
        V3,
        "Query(`mobile`)",
        &[
            (u("https://example.com"), N),
            (u("https://example.com?mobile"), Y),
            (u("https://example.com?mobile=true"), N),
        ],
    ),
    // From Traefik's entry point (not in the test): it turns a query's `;` into `&` before
    // routing, so Traefik matches `?x=1;q=traefik`. Here a pair with `;` is ignored, as
    // README.md documents it ("Rules", the `Query` row: "a pair containing `;` ... is
    // ignored"): our answer.
    ok(
        MT,
        V3,
        "Query(`q`, `traefik`)",
        &[(u("https://example.com?x=1;q=traefik"), N)],
    ),
    // TestQueryRegexpMatcher
    bad(MT, V3, "QueryRegexp()"),
    bad(MT, V3, "QueryRegexp(``)"),
    bad(MT, V3, "QueryRegexp(`q`, `(traefik`)"),
    bad(MT, V3, "QueryRegexp(`q`, `traefik`, `proxy`)"),
    ok(
        MT,
        V3,
        "QueryRegexp(`q`, `^(traefik|nginx)$`)",
        &[
            (u("https://example.com"), N),
            (u("https://example.com?q=traefik"), Y),
            (u("https://example.com?rel=ddg&q=traefik"), Y),
            (u("https://example.com?q=traefik&q=proxy"), Y),
            (u("https://example.com?q=awesome&q=traefik"), Y),
            (u("https://example.com?q=TRAEFIK"), N),
            (u("https://example.com?Q=traefik"), N),
            (u("https://example.com?rel=traefik"), N),
            (u("https://example.com?q=nginx"), Y),
            (u("https://example.com?rel=ddg&q=nginx"), Y),
            (u("https://example.com?q=nginx&q=proxy"), Y),
            (u("https://example.com?q=awesome&q=nginx"), Y),
            (u("https://example.com?q=NGINX"), N),
            (u("https://example.com?Q=nginx"), N),
            (u("https://example.com?rel=nginx"), N),
            (u("https://example.com?q=haproxy"), N),
            (u("https://example.com?rel=ddg"), N),
        ],
    ),
    ok(
        MT,
        V3,
        "QueryRegexp(`q`, `^.*$`)",
        &[
            (u("https://example.com"), N),
            (u("https://example.com?q=traefik"), Y),
            (u("https://example.com?rel=ddg&q=traefik"), Y),
            (u("https://example.com?q=traefik&q=proxy"), Y),
            (u("https://example.com?q=awesome&q=traefik"), Y),
            (u("https://example.com?q=TRAEFIK"), Y),
            (u("https://example.com?Q=traefik"), N),
            (u("https://example.com?rel=traefik"), N),
            (u("https://example.com?q=nginx"), Y),
            (u("https://example.com?rel=ddg&q=nginx"), Y),
            (u("https://example.com?q=nginx&q=proxy"), Y),
            (u("https://example.com?q=awesome&q=nginx"), Y),
            (u("https://example.com?q=NGINX"), Y),
            (u("https://example.com?Q=nginx"), N),
            (u("https://example.com?rel=nginx"), N),
            (u("https://example.com?q=haproxy"), Y),
            (u("https://example.com?rel=ddg"), N),
        ],
    ),
    ok(
        MT,
        V3,
        "QueryRegexp(`q`, `{value:(traefik|nginx)}`)",
        &[
            (u("https://example.com?q=traefik"), N),
            (u("https://example.com?q={value:traefik}"), Y),
        ],
    ),
];

const HEADER_ROWS: &[(Req, bool)] = &[
    (hd(&[("X-Forwarded-Proto", "https")]), Y),
    (
        hd(&[
            ("X-Forwarded-Proto", "http"),
            ("X-Forwarded-Proto", "https"),
        ]),
        Y,
    ),
    (
        hd(&[
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Proto", "http"),
        ]),
        Y,
    ),
    (hd(&[("X-Forwarded-Host", "example.com")]), N),
];

const HEADER_REGEXP_ROWS: &[(Req, bool)] = &[
    (hd(&[("X-Forwarded-Proto", "http")]), Y),
    (hd(&[("X-Forwarded-Proto", "https")]), Y),
    (hd(&[("X-Forwarded-Proto", "HTTPS")]), N),
    (
        hd(&[("X-Forwarded-Proto", "ws"), ("X-Forwarded-Proto", "https")]),
        Y,
    ),
    (hd(&[("X-Forwarded-Host", "example.com")]), N),
];

const HEADER_REGEXP_BRACES_ROWS: &[(Req, bool)] = &[
    (hd(&[("X-Forwarded-Proto", "http")]), N),
    (hd(&[("X-Forwarded-Proto", "https")]), N),
    (hd(&[("X-Forwarded-Proto", "http{secure:}")]), Y),
    (hd(&[("X-Forwarded-Proto", "HTTP{secure:}")]), N),
    (hd(&[("X-Forwarded-Proto", "http{secure:s}")]), Y),
    (hd(&[("X-Forwarded-Proto", "http{secure:S}")]), N),
    (hd(&[("X-Forwarded-Proto", "HTTPS")]), N),
    (
        hd(&[
            ("X-Forwarded-Proto", "ws"),
            ("X-Forwarded-Proto", "http{secure:s}"),
        ]),
        Y,
    ),
    (hd(&[("X-Forwarded-Host", "example.com")]), N),
];

/// pkg/muxer/http/matcher_v2_test.go (v2 syntax).
const HTTP_V2_MATCHERS: &[Case] = &[
    // TestClientIPV2Matcher ("invalid remote address" left out, as above).
    bad(MV2, V2, "ClientIP(`1`)"),
    bad(MV2, V2, "ClientIP()"),
    bad(MV2, V2, "ClientIP(``)"),
    ok(
        MV2,
        V2,
        "ClientIP(`127.0.0.1`, `192.168.1.0/24`)",
        &[(ip("127.0.0.1"), Y), (ip("192.168.1.1"), Y)],
    ),
    ok(
        MV2,
        V2,
        "ClientIP(`127.0.0.1`)",
        &[(ip("127.0.0.1"), Y), (ip("192.168.1.1"), N)],
    ),
    ok(
        MV2,
        V2,
        "ClientIP(`192.168.1.0/24`)",
        &[
            (ip("192.168.1.1"), Y),
            (ip("192.168.1.100"), Y),
            (ip("192.168.2.1"), N),
        ],
    ),
    // TestMethodV2Matcher
    bad(MV2, V2, "Method()"),
    bad(MV2, V2, "Method(``)"),
    ok(
        MV2,
        V2,
        "Method(`GET`, `POST`)",
        &[(m("GET"), Y), (m("POST"), Y)],
    ),
    ok(
        MV2,
        V2,
        "Method(`GET`)",
        &[(m("GET"), Y), (m("POST"), N), (m("get"), N)],
    ),
    ok(
        MV2,
        V2,
        "Method(`get`)",
        &[(m("GET"), Y), (m("POST"), N), (m("get"), N)],
    ),
    // TestHostV2Matcher
    bad(MV2, V2, "Host()"),
    bad(MV2, V2, "Host(``)"),
    bad(MV2, V2, "Host(`🦭.com`)"),
    ok(
        MV2,
        V2,
        "Host(`example.com`, `example.org`)",
        &[
            (u("https://example.com"), Y),
            (u("https://example.com:8080"), Y),
            (u("https://example.com/path"), Y),
            (u("https://EXAMPLE.COM/path"), Y),
            (u("https://example.org"), Y),
            (u("https://example.org/path"), Y),
        ],
    ),
    ok(
        MV2,
        V2,
        "Host(`example.com`)",
        &[
            (u("https://example.com"), Y),
            (u("https://example.com:8080"), Y),
            (u("https://example.com/path"), Y),
            (u("https://EXAMPLE.COM/path"), Y),
            (u("https://example.org"), N),
            (u("https://example.org/path"), N),
        ],
    ),
    ok(
        MV2,
        V2,
        "Host(`example.com.`)",
        &[
            (u("https://example.com"), Y),
            (u("https://example.com/path"), Y),
            (u("https://example.org"), N),
            (u("https://example.org/path"), N),
            (u("https://example.com."), Y),
            (u("https://example.com./path"), Y),
            (u("https://example.org."), N),
            (u("https://example.org./path"), N),
        ],
    ),
    ok(
        MV2,
        V2,
        "Host(`example.com`)",
        &[
            (u("https://example.com."), Y),
            (u("https://example.com./path"), Y),
            (u("https://example.org."), N),
            (u("https://example.org./path"), N),
        ],
    ),
    ok(
        MV2,
        V2,
        "Host(`EXAMPLE.COM`)",
        &[
            (u("https://example.com"), Y),
            (u("https://example.com/path"), Y),
            (u("https://example.org"), N),
            (u("https://example.org/path"), N),
        ],
    ),
    ok(
        MV2,
        V2,
        "Host(`xn--9t9h.com`)",
        &[
            (u("https://xn--9t9h.com"), Y),
            (u("https://xn--9t9h.com/path"), Y),
            (u("https://example.com"), N),
            (u("https://example.com/path"), N),
            (u("https://🦭.com"), N),
        ],
    ),
    // TestHostRegexpV2Matcher
    bad(MV2, V2, "HostRegexp()"),
    bad(MV2, V2, "HostRegexp(``)"),
    bad(MV2, V2, "HostRegexp(`🦭.com`)"),
    // A template without variables is literal text: no regex to be invalid.
    ok(
        MV2,
        V2,
        "HostRegexp(`(example.com`)",
        &[
            (u("https://example.com"), N),
            (u("https://example.com:8080"), N),
            (u("https://example.com/path"), N),
            (u("https://example.org"), N),
            (u("https://example.org/path"), N),
        ],
    ),
    ok(
        MV2,
        V2,
        "HostRegexp(`example.com`, `example.org`)",
        &[
            (u("https://example.com"), Y),
            (u("https://example.com:8080"), Y),
            (u("https://example.com/path"), Y),
            (u("https://example.org"), Y),
            (u("https://example.org/path"), Y),
        ],
    ),
    ok(
        MV2,
        V2,
        r"HostRegexp(`^[A-Z]+\.com$`)",
        &[
            (u("https://example.com"), N),
            (u("https://EXAMPLE.com"), N),
            (u("https://example.com/path"), N),
            (u("https://example.org"), N),
            (u("https://example.org/path"), N),
        ],
    ),
    ok(
        MV2,
        V2,
        r"HostRegexp(`{domain:[a-zA-Z-]+\.com}`)",
        &[
            (u("https://example.com"), Y),
            (u("https://example.com/path"), Y),
            (u("https://example.org"), N),
            (u("https://example.org/path"), N),
        ],
    ),
    // TestPathV2Matcher
    bad(MV2, V2, "Path()"),
    bad(MV2, V2, "Path(``)"),
    bad(MV2, V2, "Path(`css`)"),
    ok(
        MV2,
        V2,
        "Path(`/css`, `/js`)",
        &[
            (u("https://example.com"), N),
            (u("https://example.com/html"), N),
            (u("https://example.org/css"), Y),
            (u("https://example.com/css"), Y),
            (u("https://example.com/css/"), N),
            (u("https://example.com/css/main.css"), N),
            (u("https://example.com/js"), Y),
            (u("https://example.com/js/main.js"), N),
        ],
    ),
    ok(
        MV2,
        V2,
        "Path(`/css`)",
        &[
            (u("https://example.com"), N),
            (u("https://example.com/html"), N),
            (u("https://example.org/css"), Y),
            (u("https://example.com/css"), Y),
            (u("https://example.com/css/"), N),
            (u("https://example.com/css/main.css"), N),
        ],
    ),
    // A capturing group in a variable (accepted by Traefik's gorilla fork), and the same
    // template with a non-capturing group.
    ok(MV2, V2, "Path(`/css{path:(/.*)?}`)", CSS_PATH_ROWS),
    ok(MV2, V2, "Path(`/css{path:(?:/.*)?}`)", CSS_PATH_ROWS),
    // TestPathPrefixV2Matcher
    bad(MV2, V2, "PathPrefix()"),
    bad(MV2, V2, "PathPrefix(``)"),
    bad(MV2, V2, "PathPrefix(`css`)"),
    ok(
        MV2,
        V2,
        "PathPrefix(`/css`, `/js`)",
        &[
            (u("https://example.com"), N),
            (u("https://example.com/html"), N),
            (u("https://example.org/css"), Y),
            (u("https://example.com/css"), Y),
            (u("https://example.com/css/"), Y),
            (u("https://example.com/css/main.css"), Y),
            (u("https://example.com/js/"), Y),
            (u("https://example.com/js/main.js"), Y),
        ],
    ),
    ok(
        MV2,
        V2,
        r#"PathPrefix("/css")"#,
        &[
            (u("https://example.com"), N),
            (u("https://example.com/html"), N),
            (u("https://example.org/css"), Y),
            (u("https://example.com/css"), Y),
            (u("https://example.com/css/"), Y),
            (u("https://example.com/css/main.css"), Y),
        ],
    ),
    ok(
        MV2,
        V2,
        "PathPrefix(`/css-{name:[0-9]?}`)",
        &[
            (u("https://example.com"), N),
            (u("https://example.com/css-1/main.css"), Y),
            (u("https://example.org/css-222/main.css"), Y),
            (
                u("https://example.com/css-333333/components/component.css"),
                Y,
            ),
            (u("https://example.com/css.css"), N),
            (u("https://example.com/js/main.js"), N),
        ],
    ),
    // TestHeadersMatcher
    bad(MV2, V2, "Headers()"),
    bad(MV2, V2, "Headers(`X-Forwarded-Host`)"),
    bad(MV2, V2, "Headers(`X-Forwarded-Host`, ``)"),
    bad(MV2, V2, "Headers(``, `example.com`)"),
    bad(
        MV2,
        V2,
        "Headers(`X-Forwarded-Host`, `example.com`, `example.org`)",
    ),
    ok(
        MV2,
        V2,
        "Headers(`X-Forwarded-Proto`, `https`)",
        HEADER_ROWS,
    ),
    ok(
        MV2,
        V2,
        "Headers(`x-forwarded-proto`, `https`)",
        HEADER_ROWS,
    ),
    // TestHeaderRegexpV2Matcher
    bad(MV2, V2, "HeaderRegexp()"),
    bad(MV2, V2, "HeadersRegexp(`X-Forwarded-Host`)"),
    bad(MV2, V2, "HeadersRegexp(`X-Forwarded-Host`, ``)"),
    bad(MV2, V2, "HeadersRegexp(``, `example.com`)"),
    bad(MV2, V2, "HeadersRegexp(`X-Forwarded-Host`,`(example.com`)"),
    bad(
        MV2,
        V2,
        "HeadersRegexp(`X-Forwarded-Host`, `example.com`, `example.org`)",
    ),
    ok(
        MV2,
        V2,
        "HeadersRegexp(`X-Forwarded-Proto`, `^https?$`)",
        HEADER_REGEXP_ROWS,
    ),
    ok(
        MV2,
        V2,
        "HeadersRegexp(`x-forwarded-proto`, `^https?$`)",
        HEADER_REGEXP_ROWS,
    ),
    ok(
        MV2,
        V2,
        "HeadersRegexp(`X-Forwarded-Proto`, `http{secure:s?}`)",
        HEADER_REGEXP_BRACES_ROWS,
    ),
    // TestHostRegexp (a capturing group, and the same without).
    ok(
        MV2,
        V2,
        r"HostRegexp(`{subdomain:(foo\.)?bar\.com}`)",
        BAR_COM_ROWS,
    ),
    ok(
        MV2,
        V2,
        r"HostRegexp(`{subdomain:(?:foo\.)?bar\.com}`)",
        BAR_COM_ROWS,
    ),
    ok(
        MV2,
        V2,
        r"HostRegexp(`{dummy:[A-Za-z-]+\.bar\.com}`)",
        FOO_BAR_COM_ROWS,
    ),
    ok(
        MV2,
        V2,
        r"HostRegexp(`{dummy:[a-z-]+\.bar\.com}`)",
        FOO_BAR_COM_ROWS,
    ),
    ok(MV2, V2, "HostRegexp(`foo.bar.com`)", FOO_BAR_COM_ROWS),
    // From gorilla's implementation behind TestHostRegexp ("insensitive host"): a host
    // template is matched without case, the template's case included.
    ok(
        MV2,
        V2,
        r"HostRegexp(`{dummy:[A-Z-]+}.Bar.com`)",
        FOO_BAR_COM_ROWS,
    ),
];

/// Traefik's rows for `Path(`/css{path:(/.*)?}`)`.
const CSS_PATH_ROWS: &[(Req, bool)] = &[
    (u("https://example.com"), N),
    (u("https://example.com/css/main.css"), Y),
    (u("https://example.org/css/main.css"), Y),
    (u("https://example.com/css/components/component.css"), Y),
    (u("https://example.com/css.css"), N),
    (u("https://example.com/js/main.js"), N),
];

const BAR_COM_ROWS: &[(Req, bool)] = &[
    (u("http://foo.bar.com"), Y),
    (u("http://bar.com"), Y),
    (u("http://fooubar.com"), N),
    (u("http://barucom"), N),
    (u("http://barcom"), N),
];

const FOO_BAR_COM_ROWS: &[(Req, bool)] = &[
    (u("http://FOO.bar.com"), Y),
    (u("http://foo.bar.com"), Y),
    (u("http://fooubar.com"), N),
    (u("http://barucom"), N),
    (u("http://barcom"), N),
];

/// pkg/muxer/http/matcher_v2_test.go, Test_addRoute (v2 syntax).
const HTTP_V2_ADD_ROUTE: &[Case] = &[
    bad(MV2, V2, ""),
    bad(MV2, V2, "rulewithnotmatcher"),
    bad(MV2, V2, "Host(``)"),
    bad(MV2, V2, "PathPrefix(``)"),
    ok(
        MV2,
        V2,
        "PathPrefix(`/foo`)",
        &[(u("http://localhost/foo"), Y)],
    ),
    ok(
        MV2,
        V2,
        "PathPrefix(`/bar`)",
        &[(u("http://localhost/foo"), N)],
    ),
    ok(
        MV2,
        V2,
        "Host(`localhost`)",
        &[(u("http://localhost/foo"), Y)],
    ),
    ok(
        MV2,
        V2,
        "Host(`127.0.0.1`)",
        &[(u("http://127.0.0.1/foo"), Y)],
    ),
    ok(MV2, V2, "Host(`10::10`)", &[(u("http://[10::10]/foo"), Y)]),
    bad(MV2, V2, "Host(`locàlhost`)"),
    bad(MV2, V2, "HostRegexp(`locàlhost`)"),
    ok(
        MV2,
        V2,
        "HostHeader(`localhost`)",
        &[(u("http://localhost/foo"), Y), (u("http://bar/foo"), N)],
    ),
    ok(
        MV2,
        V2,
        "Host(`localhost.`)",
        &[(u("http://localhost/foo"), Y)],
    ),
    ok(
        MV2,
        V2,
        "Host(`localhost`)",
        &[(u("http://localhost./foo"), Y)],
    ),
    ok(
        MV2,
        V2,
        "Host(`localhost.`)",
        &[(u("http://localhost./foo"), Y)],
    ),
    ok(MV2, V2, "Host(`nope`)", &[(u("http://localhost/foo"), N)]),
    ok(
        MV2,
        V2,
        "Host(`localhost`) && PathPrefix(`/foo`)",
        &[(u("http://localhost/foo"), Y)],
    ),
    ok(
        MV2,
        V2,
        "Host(`localhost`) && PathPrefix(`/bar`)",
        &[(u("http://localhost/foo"), N)],
    ),
    ok(
        MV2,
        V2,
        "Host(`nope`) && PathPrefix(`/foo`)",
        &[(u("http://localhost/foo"), N)],
    ),
    ok(
        MV2,
        V2,
        "Host(`nope`,`localhost`) && PathPrefix(`/foo`)",
        &[(u("http://localhost/foo"), Y), (u("http://nope/foo"), Y)],
    ),
    ok(
        MV2,
        V2,
        "Host(`nope,localhost`) && PathPrefix(`/bar`)",
        &[(u("http://localhost/foo"), N)],
    ),
    // A capturing group, and the same without.
    ok(
        MV2,
        V2,
        r"HostRegexp(`{subdomain:(foo\.)?bar\.com}`)",
        BAR_COM_ROWS,
    ),
    ok(
        MV2,
        V2,
        r"HostRegexp(`{subdomain:(?:foo\.)?bar\.com}`)",
        BAR_COM_ROWS,
    ),
    ok(MV2, V2, "Method(`GET`)", &[(u("http://localhost/foo"), Y)]),
    ok(
        MV2,
        V2,
        "Method(`GET`,`POST`)",
        &[(u("http://localhost/foo"), Y)],
    ),
    ok(MV2, V2, "Method(`POST`)", &[(u("http://localhost/foo"), N)]),
    ok(
        MV2,
        V2,
        "Headers(`Content-Type`,`application/json`)",
        &[(
            uh(
                "http://localhost/foo",
                &[("Content-Type", "application/json")],
            ),
            Y,
        )],
    ),
    ok(
        MV2,
        V2,
        "Headers(`Content-Type`,`application/foo`)",
        &[(
            uh(
                "http://localhost/foo",
                &[("Content-Type", "application/json")],
            ),
            N,
        )],
    ),
    ok(
        MV2,
        V2,
        "HeadersRegexp(`Content-Type`, `application/(text|json)`)",
        &[
            (
                uh(
                    "http://localhost/foo",
                    &[("Content-Type", "application/json")],
                ),
                Y,
            ),
            (
                uh(
                    "http://localhost/foo",
                    &[("Content-Type", "application/foo")],
                ),
                N,
            ),
            (
                uh(
                    "http://localhost/foo",
                    &[("Content-Type", "application/text")],
                ),
                Y,
            ),
        ],
    ),
    ok(
        MV2,
        V2,
        "Query(`foo=bar`, `bar=baz`)",
        &[
            (u("http://localhost/foo?foo=bar&bar=baz"), Y),
            (u("http://localhost/foo?bar=baz"), N),
        ],
    ),
    ok(
        MV2,
        V2,
        "Query(`foo=b=ar`)",
        &[
            (u("http://localhost/foo?foo=b=ar"), Y),
            (u("http://localhost/foo?foo=bar"), N),
        ],
    ),
    // From gorilla/mux's route building (uniqueVars): one variable name in two of the same
    // Query's templates is refused.
    bad(MV2, V2, "Query(`a={v}`, `b={v}`)"),
    ok(
        MV2,
        V2,
        "Query(`a={v}`, `b={w:[0-9]+}`)",
        &[
            (u("http://localhost/?a=x&b=1"), Y),
            (u("http://localhost/?a=x&b=y"), N),
        ],
    ),
    // From the implementation behind Query (not in the test): the key's first value counts;
    // and Traefik's entry point turns a query's `;` into `&` before routing
    // (`http.AllowQuerySemicolons`, unless `encodeQuerySemicolons`), so `;` separates pairs.
    ok(
        MV2,
        V2,
        "Query(`foo=bar`)",
        &[
            (u("http://localhost/?x=1;foo=bar"), Y),
            (u("http://localhost/?x=1;foo=baz&foo=bar"), N),
            (u("http://localhost/?foo=baz&foo=bar"), N),
            (u("http://localhost/?foo=b%61r"), Y),
        ],
    ),
    ok(MV2, V2, r#"Path("/a")"#, &[(u("http://plop/a"), Y)]),
    ok(MV2, V2, r#"Host("plop")"#, &[(u("http://plop"), Y)]),
    ok(
        MV2,
        V2,
        r#"Path("/a") && Host("plop")"#,
        &[(u("http://plop/a"), Y), (u("http://plopi/a"), N)],
    ),
    ok(
        MV2,
        V2,
        r#"Host("tchouk") || Host("pouet")"#,
        &[
            (u("http://tchouk/toto"), Y),
            (u("http://pouet/a"), Y),
            (u("http://plopi/a"), N),
        ],
    ),
    ok(
        MV2,
        V2,
        r#"Host("tchouk") || (Host("pouet") && Path("/powpow"))"#,
        TCHOUK_OR_POUET_POWPOW,
    ),
    ok(
        MV2,
        V2,
        r#"Host("tchouk") || Host("pouet") && Path("/powpow")"#,
        TCHOUK_OR_POUET_POWPOW,
    ),
    ok(
        MV2,
        V2,
        r#"(Host("tchouk") || Host("pouet")) && Path("/powpow")"#,
        TCHOUK_POUET_AND_POWPOW,
    ),
    ok(
        MV2,
        V2,
        r#"(Host("tchouk","pouet")) && Path("/powpow")"#,
        TCHOUK_POUET_AND_POWPOW,
    ),
    ok(
        MV2,
        V2,
        r#"Host("tchouk","pouet") && Path("/powpow", "/titi")"#,
        &[
            (u("http://tchouk/toto"), N),
            (u("http://tchouk/powpow"), Y),
            (u("http://pouet/powpow"), Y),
            (u("http://tchouk/titi"), Y),
            (u("http://pouet/titi"), Y),
            (u("http://pouet/toto"), N),
            (u("http://plopi/a"), N),
        ],
    ),
    ok(
        MV2,
        V2,
        r#"(Host("tchouk") && Path("/titi")) || ((Host("pouet")) && Path("/powpow"))"#,
        &[
            (u("http://tchouk/titi"), Y),
            (u("http://tchouk/powpow"), N),
            (u("http://pouet/powpow"), Y),
            (u("http://pouet/toto"), N),
            (u("http://plopi/a"), N),
        ],
    ),
    bad(MV2, V2, "Host(tchouk)"),
    ok(
        MV2,
        V2,
        r#"(HOST("tchouk") && PATHPREFIX("/titi"))"#,
        TCHOUK_TITI,
    ),
    ok(
        MV2,
        V2,
        r#"(host("tchouk") && pathprefix("/titi"))"#,
        TCHOUK_TITI,
    ),
    ok(
        MV2,
        V2,
        r#"(Host("tchouk") && PathPrefix("/titi"))"#,
        TCHOUK_TITI,
    ),
    ok(
        MV2,
        V2,
        r#"(Host("tchouk") && Pathprefix("/titi"))"#,
        TCHOUK_TITI,
    ),
    bad(MV2, V2, r#"Path("titi")"#),
    bad(MV2, V2, r#"PathPrefix("titi")"#),
    bad(MV2, V2, r#"HostRegexp("{test")"#),
    bad(MV2, V2, r#"Headers("titi")"#),
    bad(MV2, V2, r#"HeadersRegexp("titi")"#),
    bad(MV2, V2, r#"Query("titi")"#),
    bad(MV2, V2, r#"Query("titi={test")"#),
    bad(MV2, V2, r#"Host("tchouk") && Path()"#),
    bad(MV2, V2, r#"Host("tchouk") && Path("")"#),
    bad(MV2, V2, r#"Host("tchouk") && Path("", "/titi")"#),
    ok(
        MV2,
        V2,
        r#"!Host("tchouk")"#,
        &[(u("http://tchouk/titi"), N), (u("http://test/powpow"), Y)],
    ),
    ok(
        MV2,
        V2,
        r#"!Path("/titi")"#,
        &[(u("http://tchouk/titi"), N), (u("http://tchouk/powpow"), Y)],
    ),
    ok(
        MV2,
        V2,
        r#"!(Host("tchouk") || Host("toto"))"#,
        &[
            (u("http://tchouk/titi"), N),
            (u("http://toto/powpow"), N),
            (u("http://test/powpow"), Y),
        ],
    ),
    ok(
        MV2,
        V2,
        r#"!(Host("tchouk") && Path("/titi"))"#,
        &[
            (u("http://tchouk/titi"), N),
            (u("http://tchouk/toto"), Y),
            (u("http://test/titi"), Y),
        ],
    ),
    ok(
        MV2,
        V2,
        r#"!(Host("tchouk") && !Path("/titi"))"#,
        &[
            (u("http://tchouk/titi"), Y),
            (u("http://toto/titi"), Y),
            (u("http://tchouk/toto"), N),
        ],
    ),
    ok(
        MV2,
        V2,
        r#"!Host("tchouk") || !Path("/titi")"#,
        &[
            (u("http://tchouk/titi"), N),
            (u("http://tchouk/toto"), Y),
            (u("http://test/titi"), Y),
        ],
    ),
    ok(
        MV2,
        V2,
        r#"!(!(Host("tchouk") && Pathprefix("/titi")))"#,
        &[
            (u("http://tchouk/titi"), Y),
            (u("http://tchouk/powpow"), N),
            (u("http://test/titi"), N),
        ],
    ),
    ok(
        MV2,
        V2,
        r#"!Host("tchouk") && Pathprefix("/titi")"#,
        &[
            (u("http://tchouk/titi"), N),
            (u("http://tchouk/powpow"), N),
            (u("http://toto/powpow"), N),
            (u("http://toto/titi"), Y),
        ],
    ),
    ok(
        MV2,
        V2,
        r#"!(Host("tchouk","pouet") && Path("/powpow", "/titi"))"#,
        &[
            (u("http://tchouk/toto"), Y),
            (u("http://tchouk/powpow"), N),
            (u("http://pouet/powpow"), N),
            (u("http://tchouk/titi"), N),
            (u("http://pouet/titi"), N),
            (u("http://pouet/toto"), Y),
            (u("http://plopi/a"), Y),
        ],
    ),
    bad(MV2, V2, "ClientIP(``)"),
    bad(MV2, V2, "ClientIP(`invalid`)"),
    ok(
        MV2,
        V2,
        "ClientIP(`10.10.1.1`)",
        &[(ui("http://tchouk/toto", "10.0.0.0"), N)],
    ),
    ok(
        MV2,
        V2,
        "ClientIP(`10::10`)",
        &[(ui("http://tchouk/toto", "::1"), N)],
    ),
    ok(
        MV2,
        V2,
        "ClientIP(`10.0.0.0`)",
        &[(ui("http://tchouk/toto", "10.0.0.0:8456"), Y)],
    ),
    ok(
        MV2,
        V2,
        "ClientIP(`10::10`)",
        &[(ui("http://tchouk/toto", "10::10"), Y)],
    ),
    ok(
        MV2,
        V2,
        "ClientIP(`10.0.0.1`, `10.0.0.0`)",
        &[(ui("http://tchouk/toto", "10.0.0.0"), Y)],
    ),
    ok(
        MV2,
        V2,
        "ClientIP(`11.0.0.0/24`)",
        &[(ui("http://tchouk/toto", "10.0.0.0"), N)],
    ),
    ok(
        MV2,
        V2,
        "ClientIP(`11::/16`)",
        &[(ui("http://tchouk/toto", "10::"), N)],
    ),
    ok(
        MV2,
        V2,
        "ClientIP(`10.0.0.0/16`)",
        &[(ui("http://tchouk/toto", "10.0.0.0"), Y)],
    ),
    ok(
        MV2,
        V2,
        "ClientIP(`10::/16`)",
        &[(ui("http://tchouk/toto", "10::10"), Y)],
    ),
    ok(
        MV2,
        V2,
        "ClientIP(`11.0.0.0/16`, `10.0.0.0/16`)",
        &[(ui("http://tchouk/toto", "10.0.0.0"), Y)],
    ),
    ok(
        MV2,
        V2,
        "ClientIP(`11.0.0.0/16`, `10.0.0.0`)",
        &[(ui("http://tchouk/toto", "10.0.0.0"), Y)],
    ),
    ok(
        MV2,
        V2,
        "ClientIP(`11.0.0.0`, `10.0.0.0/16`)",
        &[(ui("http://tchouk/toto", "10.0.0.0"), Y)],
    ),
];

const TCHOUK_OR_POUET_POWPOW: &[(Req, bool)] = &[
    (u("http://tchouk/toto"), Y),
    (u("http://tchouk/powpow"), Y),
    (u("http://pouet/powpow"), Y),
    (u("http://pouet/toto"), N),
    (u("http://plopi/a"), N),
];

const TCHOUK_POUET_AND_POWPOW: &[(Req, bool)] = &[
    (u("http://tchouk/toto"), N),
    (u("http://tchouk/powpow"), Y),
    (u("http://pouet/powpow"), Y),
    (u("http://pouet/toto"), N),
    (u("http://plopi/a"), N),
];

const TCHOUK_TITI: &[(Req, bool)] = &[(u("http://tchouk/titi"), Y), (u("http://tchouk/powpow"), N)];

/// pkg/muxer/http/mux_test.go, TestMuxer (v3 syntax). Test_addRoutePriority and the priority
/// tests are the table's (crate::model), not a rule's; TestEmptyHost is the front end's
/// (which host an absolute-form request has).
const HTTP_MUX: &[Case] = &[
    bad(MUX, V3, ""),
    bad(MUX, V3, "rulewithnotmatcher"),
    bad(MUX, V3, "Host(example.com)"),
    ok(
        MUX,
        V3,
        "Host(`127.0.0.1`)",
        &[(u("http://127.0.0.1/foo"), Y)],
    ),
    ok(MUX, V3, "Host(`10::10`)", &[(u("http://[10::10]/foo"), Y)]),
    ok(
        MUX,
        V3,
        "Host(`localhost`) && PathPrefix(`/css`)",
        &[
            (u("https://localhost/css"), Y),
            (u("https://localhost/js"), N),
        ],
    ),
    ok(
        MUX,
        V3,
        "Host(`example.com`) || Host(`example.org`)",
        &[
            (u("https://example.com/css"), Y),
            (u("https://example.org/js"), Y),
            (u("https://example.eu/html"), N),
        ],
    ),
    ok(
        MUX,
        V3,
        r#"Host("example.com") || (Host("example.org") && Path("/css"))"#,
        COM_OR_ORG_CSS,
    ),
    ok(
        MUX,
        V3,
        r#"Host("example.com") || Host("example.org") && Path("/css")"#,
        COM_OR_ORG_CSS,
    ),
    ok(
        MUX,
        V3,
        r#"(Host("example.com") || Host("example.org")) && Path("/css")"#,
        &[
            (u("https://example.com/css"), Y),
            (u("https://example.com/js"), N),
            (u("https://example.org/css"), Y),
            (u("https://example.org/js"), N),
            (u("https://example.eu/css"), N),
        ],
    ),
    ok(
        MUX,
        V3,
        r#"(Host("example.com") && Path("/js")) || ((Host("example.org")) && Path("/css"))"#,
        &[
            (u("https://example.com/css"), N),
            (u("https://example.com/js"), Y),
            (u("https://example.org/css"), Y),
            (u("https://example.org/js"), N),
            (u("https://example.eu/css"), N),
        ],
    ),
    ok(MUX, V3, r#"PATHPREFIX("/css")"#, CSS_NOT_JS),
    ok(MUX, V3, r#"pathprefix("/css")"#, CSS_NOT_JS),
    ok(MUX, V3, r#"PathPrefix("/css")"#, CSS_NOT_JS),
    ok(MUX, V3, r#"Pathprefix("/css")"#, CSS_NOT_JS),
    ok(
        MUX,
        V3,
        r#"!Host("example.com")"#,
        &[(u("https://example.org"), Y), (u("https://example.com"), N)],
    ),
    ok(
        MUX,
        V3,
        r#"!(Host("example.com") || Host("example.org"))"#,
        &[
            (u("https://example.eu/js"), Y),
            (u("https://example.com/css"), N),
            (u("https://example.org/js"), N),
        ],
    ),
    ok(
        MUX,
        V3,
        r#"!(Host("example.com") && Path("/css"))"#,
        &[
            (u("https://example.com/js"), Y),
            (u("https://example.eu/css"), Y),
            (u("https://example.com/css"), N),
        ],
    ),
    ok(
        MUX,
        V3,
        r#"!(Host("example.com") && !Path("/css"))"#,
        &[
            (u("https://example.com/css"), Y),
            (u("https://example.org/css"), Y),
            (u("https://example.com/js"), N),
        ],
    ),
    ok(
        MUX,
        V3,
        r#"!Host("example.com") || !Path("/css")"#,
        &[
            (u("https://example.com/js"), Y),
            (u("https://example.org/css"), Y),
            (u("https://example.com/css"), N),
        ],
    ),
    ok(
        MUX,
        V3,
        r#"!(!(Host("example.com") && Pathprefix("/css")))"#,
        &[
            (u("https://example.com/css"), Y),
            (u("https://example.com/js"), N),
            (u("https://example.org/css"), N),
        ],
    ),
    ok(
        MUX,
        V3,
        r#"!Host("example.com") && Pathprefix("/css")"#,
        &[
            (u("https://example.org/css"), Y),
            (u("https://example.org/js"), N),
            (u("https://example.com/css"), N),
            (u("https://example.com/js"), N),
        ],
    ),
    ok(
        MUX,
        V3,
        r#"!(Host("example.com") && Path("/js"))"#,
        &[
            (u("https://example.com/js"), N),
            (u("https://example.com/html"), Y),
            (u("https://example.org/js"), Y),
            (u("https://example.com/css"), Y),
            (u("https://example.org/css"), Y),
            (u("https://example.org/html"), Y),
            (u("https://example.eu/images"), Y),
        ],
    ),
];

const COM_OR_ORG_CSS: &[(Req, bool)] = &[
    (u("https://example.com/css"), Y),
    (u("https://example.com/js"), Y),
    (u("https://example.org/css"), Y),
    (u("https://example.org/js"), N),
    (u("https://example.eu/css"), N),
];

const CSS_NOT_JS: &[(Req, bool)] = &[
    (u("https://example.com/css"), Y),
    (u("https://example.com/js"), N),
];

/// Splits a test URL as a client sends it: authority, path (`/` when empty), query.
fn split_url(url: &str) -> (&str, &str, Option<&str>) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, target) = rest.split_at(end);
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    (authority, if path.is_empty() { "/" } else { path }, query)
}

/// A remote address as Traefik's tests write it (`10.0.0.1`, `10.0.0.1:80`, `[10::10]:80`,
/// `10::10`), as the client IP we would see.
fn remote_ip(s: &str) -> IpAddr {
    let ip = s
        .parse::<SocketAddr>()
        .map(|a| a.ip())
        .or_else(|_| s.parse::<IpAddr>())
        .unwrap_or_else(|_| panic!("remote address {s:?}"));
    crate::proxy::client_ip(SocketAddr::new(ip, 0))
}

fn http_matches(rule: &Rule, req: &Req) -> bool {
    let (authority, raw_path, query) = split_url(req.url);
    let host = crate::proxy::request_host(authority);
    let path = routing_path(raw_path).expect("a valid test path");
    let mut headers = http::HeaderMap::new();
    for (k, v) in req.headers {
        headers.append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            http::HeaderValue::from_str(v).unwrap(),
        );
    }
    rule.matches(&RequestView {
        host: &host,
        path: &path,
        query,
        method: req.method,
        headers: &headers,
        client_ip: remote_ip(req.remote),
    })
}

/// Runs the cases; returns the mismatches, and counts cases (rule and request pairs, and
/// refused rules) per Traefik file.
fn run_http(cases: &[Case], counts: &mut BTreeMap<&'static str, usize>) -> Vec<String> {
    let mut out = Vec::new();
    for c in cases {
        let parsed = Rule::parse_with(c.rule, c.syntax);
        match (c.rows, parsed) {
            (None, Ok(r)) => out.push(format!(
                "{} {:?} {}: parsed as {r}, Traefik refuses it",
                c.from, c.syntax, c.rule
            )),
            (None, Err(_)) => {}
            (Some(_), Err(e)) => out.push(format!(
                "{} {:?} {}: refused ({}), Traefik accepts it",
                c.from, c.syntax, c.rule, e.reason
            )),
            (Some(rows), Ok(r)) => {
                for (req, want) in rows {
                    let got = http_matches(&r, req);
                    if got != *want {
                        out.push(format!(
                            "{} {:?} {}: {} {} headers {:?} from {}: matched {got}, Traefik {want}",
                            c.from, c.syntax, c.rule, req.method, req.url, req.headers, req.remote
                        ));
                    }
                }
            }
        }
        *counts.entry(c.from).or_default() += c.rows.map_or(1, <[_]>::len);
    }
    out
}

#[test]
fn http_tables() {
    let mut counts = BTreeMap::new();
    let mut failures = Vec::new();
    for table in [
        HTTP_V3_MATCHERS,
        HTTP_V2_MATCHERS,
        HTTP_V2_ADD_ROUTE,
        HTTP_MUX,
    ] {
        failures.extend(run_http(table, &mut counts));
    }
    eprintln!("HTTP cases per Traefik file: {counts:?}");
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// pkg/muxer/http/mux_test.go, TestRoutingPath.
#[test]
fn routing_paths() {
    for (raw, want) in [
        ("/foo%20bar", "/foo bar"),
        ("/foo%2Fbar", "/foo%2Fbar"),
        ("/foo%20bar%2Fbaz%23qux", "/foo bar%2Fbaz%23qux"),
    ] {
        assert_eq!(routing_path(raw).as_deref(), Some(want), "{raw}");
    }
}

/// pkg/muxer/http/mux_test.go, TestParseDomains: the `Host` names of a rule, lowercase. The
/// cases Traefik reads from a rule its router would refuse (`Foobar(...)`, `Host()`) are
/// refused here at parsing.
#[test]
fn parse_domains() {
    let cases: &[(&str, Option<&[&str]>)] = &[
        ("Foobar(`foo.bar`,`test.bar`)", None),
        ("Path(`/test`)", Some(&[])),
        ("Host(`foo.bar`) && Path(`/test`)", Some(&["foo.bar"])),
        (
            "Host(`Foo.Bar`) || Host(`bar.buz`) && Path(`/test`)",
            Some(&["foo.bar", "bar.buz"]),
        ),
        ("Host(`Foo.Bar`) && Path(`/test`)", Some(&["foo.bar"])),
        ("Host() && Path(`/test`)", None),
    ];
    for (rule, want) in cases {
        let got = Rule::parse(rule).ok().map(|r| r.host_names());
        let want = want.map(|w| w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(got, want, "{rule}");
    }
}

// === pkg/rules/parser_test.go ===

/// Traefik's tree of a rule: `!` pushed down to the matchers (De Morgan), as its parser
/// builds it: `and(m(1), !m(2))`.
fn traefik_tree(e: &expr::Expr, negated: bool) -> String {
    match e {
        expr::Expr::Call { name, args, .. } => {
            let name = matcher::canonical_in(name, &["m"]).unwrap_or("?");
            let not = if negated { "!" } else { "" };
            format!("{not}{name}({})", args.join(","))
        }
        expr::Expr::Not(a) => traefik_tree(a, !negated),
        expr::Expr::And(a, b) | expr::Expr::Or(a, b) => {
            let and = matches!(e, expr::Expr::And(..)) != negated;
            let op = if and { "and" } else { "or" };
            format!(
                "{op}({}, {})",
                traefik_tree(a, negated),
                traefik_tree(b, negated)
            )
        }
    }
}

/// Whether every matcher of the tree has arguments, none empty (Traefik's `CheckRule`), as
/// every matcher here checks them.
fn args_checked(e: &expr::Expr) -> bool {
    match e {
        expr::Expr::Call { args, .. } => matcher::build("Method", args, Syntax::V2).is_ok(),
        expr::Expr::Not(a) => args_checked(a),
        expr::Expr::And(a, b) | expr::Expr::Or(a, b) => args_checked(a) && args_checked(b),
    }
}

/// pkg/rules/parser_test.go, TestRuleMatch, with one matcher `m`: the tree, and whether its
/// matchers' arguments pass the check (`None`: a parse error).
#[test]
fn rule_parser() {
    let cases: &[(&str, Option<(&str, bool)>)] = &[
        ("", None),
        ("m", None),
        ("m()", Some(("m()", false))),
        ("m(``)", Some(("m()", false))),
        ("m(`1`) &&", None),
        ("m(`1`) ||", None),
        ("m(`1)", None),
        ("m(`1`))", None),
        ("(m(`1`)", None),
        ("m(`1`)", Some(("m(1)", true))),
        ("(m(`1`))", Some(("m(1)", true))),
        ("M(`1`)", Some(("m(1)", true))),
        ("w(`1`)", None),
        ("m(`1`, `2`)", Some(("m(1,2)", true))),
        ("!m(`1`)", Some(("!m(1)", true))),
        ("m(`1`) && m(`2`)", Some(("and(m(1), m(2))", true))),
        ("m(`1`) || m(`2`)", Some(("or(m(1), m(2))", true))),
        ("!(m(`1`) && m(`2`))", Some(("or(!m(1), !m(2))", true))),
        ("!(m(`1`) || m(`2`))", Some(("and(!m(1), !m(2))", true))),
        ("m(`1`) && m()", Some(("and(m(1), m())", false))),
    ];
    for (rule, want) in cases {
        // An unknown function is a parse error in Traefik's parser, a build error here.
        let got = expr::parse(rule)
            .ok()
            .map(|e| (traefik_tree(&e, false), args_checked(&e)))
            .filter(|(tree, _)| !tree.contains('?'));
        let want = want.map(|(t, c)| (t.to_string(), c));
        assert_eq!(got, want, "{rule}");
    }
}

// === TCP ===

/// A connection as Traefik's tests describe it: server name (as given: the tests that build
/// `ConnData` directly pass upper case through, which ours does too), remote address
/// (`0.0.0.0` when none), ALPN protocols.
#[derive(Clone, Copy)]
struct Conn {
    sni: &'static str,
    remote: &'static str,
    alpn: &'static [&'static str],
}

const fn sni(sni: &'static str) -> Conn {
    Conn {
        sni,
        remote: "0.0.0.0",
        alpn: &[],
    }
}

const fn sni_ip(sni: &'static str, remote: &'static str) -> Conn {
    Conn {
        sni,
        remote,
        alpn: &[],
    }
}

const fn from(remote: &'static str) -> Conn {
    Conn {
        sni: "",
        remote,
        alpn: &[],
    }
}

const fn alpn(alpn: &'static [&'static str]) -> Conn {
    Conn {
        sni: "",
        remote: "0.0.0.0",
        alpn,
    }
}

const fn sni_alpn(sni: &'static str, alpn: &'static [&'static str]) -> Conn {
    Conn {
        sni,
        remote: "0.0.0.0",
        alpn,
    }
}

struct TcpCase {
    from: &'static str,
    syntax: Syntax,
    rule: &'static str,
    rows: Option<&'static [(Conn, bool)]>,
}

const fn tok(
    from: &'static str,
    syntax: Syntax,
    rule: &'static str,
    rows: &'static [(Conn, bool)],
) -> TcpCase {
    TcpCase {
        from,
        syntax,
        rule,
        rows: Some(rows),
    }
}

const fn tbad(from: &'static str, syntax: Syntax, rule: &'static str) -> TcpCase {
    TcpCase {
        from,
        syntax,
        rule,
        rows: None,
    }
}

const TM: &str = "tcp/matcher_test.go";
const TMV2: &str = "tcp/matcher_v2_test.go";
const TMUX: &str = "tcp/mux_test.go";

/// pkg/muxer/tcp/matcher_test.go (v3 syntax).
const TCP_V3_MATCHERS: &[TcpCase] = &[
    // Test_HostSNI
    tbad(TM, V3, ""),
    tbad(TM, V3, "HostSNI(``)"),
    tbad(TM, V3, "HostSNI(`example.com`, `example.org`)"),
    tbad(TM, V3, "HostSNI(`🦭.com`)"),
    tok(
        TM,
        V3,
        "HostSNI(`xn--9t9h.com`)",
        &[(sni("xn--9t9h.com"), Y)],
    ),
    tok(TM, V3, "HostSNI(`xn--9t9h.com`)", &[(sni("🦭.com"), N)]),
    tok(TM, V3, "HostSNI(`example.com`)", &[(sni("example.com"), Y)]),
    tok(TM, V3, "HostSNI(`example.com`)", &[(sni("example.org"), N)]),
    tok(
        TM,
        V3,
        "HostSNI(`*`)",
        &[(sni("example.com"), Y), (sni(""), Y)],
    ),
    tok(
        TM,
        V3,
        "HostSNI(`example.com.`)",
        &[(sni("example.com"), Y)],
    ),
    tok(
        TM,
        V3,
        "HostSNI(`foo.example.com`)",
        &[(sni("foo.example.com"), Y)],
    ),
    tok(
        TM,
        V3,
        "HostSNI(`foo_bar.example.com`)",
        &[(sni("foo_bar.example.com"), Y)],
    ),
    tok(
        TM,
        V3,
        "HostSNI(`*.example.com`)",
        &[(sni("foo.example.com"), Y)],
    ),
    tbad(TM, V3, "HostSNI(`*.*.example.com`)"),
    // Test_HostSNIRegexp
    tbad(TM, V3, "HostSNIRegexp(``)"),
    tbad(TM, V3, "HostSNIRegexp(`🦭.com`)"),
    tbad(TM, V3, "HostSNIRegexp(`(example.com`)"),
    tbad(TM, V3, "HostSNIRegexp(`example.com`, `example.org`)"),
    tok(
        TM,
        V3,
        r"HostSNIRegexp(`^example\.(com|org)$`)",
        &[
            (sni("example.com"), Y),
            (sni("example.com."), N),
            (sni("EXAMPLE.com"), N),
            (sni("example.org"), Y),
            (sni("exampleuorg"), N),
            (sni(""), N),
        ],
    ),
    tok(
        TM,
        V3,
        "HostSNIRegexp(`example.{tld:(com|org)}`)",
        &[
            (sni("example.com"), N),
            (sni("example.com."), N),
            (sni("EXAMPLE.com"), N),
            (sni("example.org"), N),
            (sni("exampleuorg"), N),
            (sni(""), N),
        ],
    ),
    // Test_ClientIP
    tbad(TM, V3, "ClientIP(``)"),
    tbad(TM, V3, "ClientIP(`🦭/32`)"),
    tbad(TM, V3, "ClientIP(`127.0.0.1`, `127.0.0.2`)"),
    tok(
        TM,
        V3,
        "ClientIP(`20.20.20.20`)",
        &[(from("20.20.20.20"), Y), (from("10.10.10.10"), N)],
    ),
    tok(
        TM,
        V3,
        "ClientIP(`20.20.20.20/24`)",
        &[
            (from("20.20.20.20"), Y),
            (from("20.20.20.40"), Y),
            (from("10.10.10.10"), N),
        ],
    ),
    // Test_ALPN
    tbad(TM, V3, "ALPN(`acme-tls/1`)"),
    tbad(TM, V3, "ALPN(``)"),
    tbad(TM, V3, "ALPN(`h2`, `mqtt`)"),
    tok(
        TM,
        V3,
        "ALPN(`h2`)",
        &[(alpn(&["h2"]), Y), (alpn(&["mqtt"]), N), (alpn(&[""]), N)],
    ),
];

/// pkg/muxer/tcp/matcher_v2_test.go (v2 syntax). The tests that call a matcher's builder
/// directly (Test_HostSNIV2 and the next ones) are written as the rule with those arguments;
/// "Not matching empty remote IP" is left out (our client address is always an IP).
const TCP_V2_MATCHERS: &[TcpCase] = &[
    // Test_addTCPRouteV2 ("Invalid remoteAddr" left out, as above).
    tbad(TMV2, V2, ""),
    tbad(TMV2, V2, "rulewithnotmatcher"),
    tbad(TMV2, V2, "HostSNI()"),
    tbad(TMV2, V2, "HostSNI(``)"),
    tok(TMV2, V2, "HostSNI(`foobar`)", &[(sni("foobar"), Y), (sni("bar"), N)]),
    tok(TMV2, V2, "!HostSNI(`bar`)", &[(sni("foobar"), Y), (sni("bar"), N)]),
    tok(TMV2, V2, "hostsni(`foobar`)", &[(sni("foobar"), Y)]),
    tok(TMV2, V2, "HOSTSNI(`foobar`)", &[(sni("foobar"), Y)]),
    tbad(TMV2, V2, "HostSNIRegexp()"),
    tbad(TMV2, V2, "HostSNIRegexp(``)"),
    tok(
        TMV2,
        V2,
        "HostSNIRegexp(`{subdomain:[a-z]+}.foobar`)",
        &[(sni("sub.foobar"), Y)],
    ),
    tok(TMV2, V2, "!HostSNIRegexp(`bar`)", &[(sni("foobar"), Y)]),
    tok(TMV2, V2, "hostsniregexp(`foobar`)", &[(sni("foobar"), Y)]),
    tok(
        TMV2,
        V2,
        "HOSTSNIREGEXP(`foobar`)",
        &[(sni("foobar"), Y)],
    ),
    tok(TMV2, V2, "HostSNIRegexp(`foobar`)", &[(sni("bar"), N)]),
    tok(
        TMV2,
        V2,
        "HostSNIRegexp(`{subdomain:[a-z]*}`)",
        &[(sni(""), Y)],
    ),
    tok(
        TMV2,
        V2,
        "HostSNIRegexp(`{dummy}`)",
        &[(sni("toto"), Y), (sni("toto.com"), N)],
    ),
    tbad(TMV2, V2, "ClientIP()"),
    tbad(TMV2, V2, "ClientIP(``)"),
    tbad(TMV2, V2, "ClientIP(`invalid`)"),
    tok(
        TMV2,
        V2,
        "ClientIP(`10.0.0.1`)",
        &[(from("10.0.0.1:80"), Y), (from("10.0.0.2:80"), N)],
    ),
    tok(TMV2, V2, "!ClientIP(`20.0.0.1`)", &[(from("10.0.0.1:80"), Y)]),
    tok(TMV2, V2, "clientip(`10.0.0.1`)", &[(from("10.0.0.1:80"), Y)]),
    tok(TMV2, V2, "CLIENTIP(`10.0.0.1`)", &[(from("10.0.0.1:80"), Y)]),
    tok(TMV2, V2, "!ClientIP(`10.0.0.2`)", &[(from("10.0.0.2:80"), N)]),
    tok(
        TMV2,
        V2,
        "ClientIP(`10::10`)",
        &[(from("[10::10]:80"), Y), (from("[::1]:80"), N)],
    ),
    tok(TMV2, V2, "!ClientIP(`10::10`)", &[(from("[::1]:80"), Y)]),
    tok(
        TMV2,
        V2,
        "ClientIP(`10.0.0.1`, `10.0.0.0`)",
        &[(from("10.0.0.0:80"), Y)],
    ),
    tok(
        TMV2,
        V2,
        "ClientIP(`11.0.0.0/24`)",
        &[(from("11.0.0.0:80"), Y), (from("10.0.0.0:80"), N)],
    ),
    tok(
        TMV2,
        V2,
        "ClientIP(`11::/16`)",
        &[(from("[11::]:80"), Y), (from("[10::]:80"), N)],
    ),
    tok(
        TMV2,
        V2,
        "ClientIP(`11.0.0.0/16`, `10.0.0.0/16`)",
        &[(from("10.0.0.0:80"), Y)],
    ),
    tok(
        TMV2,
        V2,
        "ClientIP(`11.0.0.0/16`, `10.0.0.0`)",
        &[(from("10.0.0.0:80"), Y)],
    ),
    tok(
        TMV2,
        V2,
        "ClientIP(`11.0.0.0`, `10.0.0.0/16`)",
        &[(from("10.0.0.0:80"), Y)],
    ),
    tok(
        TMV2,
        V2,
        "HostSNI(`foobar`) && ClientIP(`10.0.0.1`)",
        &[
            (sni_ip("foobar", "10.0.0.1:80"), Y),
            (sni_ip("bar", "10.0.0.1:80"), N),
            (sni_ip("foobar", "10.0.0.2:80"), N),
        ],
    ),
    tok(
        TMV2,
        V2,
        "!HostSNI(`bar`) && ClientIP(`10.0.0.1`)",
        &[(sni_ip("foobar", "10.0.0.1:80"), Y)],
    ),
    tok(
        TMV2,
        V2,
        "HostSNI(`foobar`) && !ClientIP(`10.0.0.2`)",
        &[(sni_ip("foobar", "10.0.0.1:80"), Y)],
    ),
    tok(
        TMV2,
        V2,
        "!HostSNI(`bar`) && !ClientIP(`10.0.0.2`)",
        &[(sni_ip("foobar", "10.0.0.1:80"), Y)],
    ),
    tok(
        TMV2,
        V2,
        "!(HostSNI(`bar`) || ClientIP(`10.0.0.2`))",
        &[(sni_ip("foobar", "10.0.0.1:80"), Y)],
    ),
    tok(
        TMV2,
        V2,
        "!(HostSNI(`bar`) && ClientIP(`10.0.0.2`))",
        &[
            (sni_ip("foobar", "10.0.0.2:80"), Y),
            (sni_ip("bar", "10.0.0.1:80"), Y),
            (sni_ip("bar", "10.0.0.2:80"), N),
            (sni_ip("foobar", "10.0.0.1:80"), Y),
        ],
    ),
    tok(
        TMV2,
        V2,
        "HostSNI(`foobar`) || ClientIP(`10.0.0.1`)",
        &[
            (sni_ip("foobar", "10.0.0.1:80"), Y),
            (sni_ip("bar", "10.0.0.1:80"), Y),
            (sni_ip("foobar", "10.0.0.2:80"), Y),
            (sni_ip("bar", "10.0.0.2:80"), N),
        ],
    ),
    tok(
        TMV2,
        V2,
        "HostSNI(`foobar`) || HostSNI(`foo`) || HostSNI(`bar`)",
        &[(sni("foobar"), Y), (sni("baz"), N)],
    ),
    tok(
        TMV2,
        V2,
        "HostSNI(`foobar`) || HostSNI(`bar`) && ClientIP(`10.0.0.1`)",
        &[
            (sni_ip("foobar", "10.0.0.2:80"), Y),
            (sni_ip("bar", "10.0.0.1:80"), Y),
            (sni_ip("bar", "10.0.0.2:80"), N),
            (sni_ip("baz", "10.0.0.1:80"), N),
        ],
    ),
    tok(
        TMV2,
        V2,
        "(HostSNI(`foobar`) || HostSNI(`bar`)) && (ClientIP(`10.0.0.1`) || ClientIP(`10.0.0.2`))",
        &[
            (sni_ip("bar", "10.0.0.1:80"), Y),
            (sni_ip("baz", "10.0.0.1:80"), N),
            (sni_ip("bar", "10.0.0.3:80"), N),
        ],
    ),
    tok(
        TMV2,
        V2,
        "(HostSNI(`foobar`) || (HostSNI(`bar`) && !HostSNI(`foobar`))) && ((ClientIP(`10.0.0.1`) && !ClientIP(`10.0.0.2`)) || ClientIP(`10.0.0.2`)) ",
        &[(sni_ip("bar", "10.0.0.1:80"), Y)],
    ),
    tbad(TMV2, V2, "ALPN(`acme-tls/1`)"),
    tok(
        TMV2,
        V2,
        "ALPN(`foo`)",
        &[
            (alpn(&["foo"]), Y),
            (alpn(&["acme-tls/1"]), N),
            (alpn(&["bar"]), N),
        ],
    ),
    tok(
        TMV2,
        V2,
        "ALPN(`foo`) && !alpn(`h2`)",
        &[(alpn(&["foo", "bar"]), Y), (alpn(&["foo", "h2", "bar"]), N)],
    ),
    tok(
        TMV2,
        V2,
        "ALPN(`foo`) && (!alpn(`h2`) || hostsni(`foo`))",
        &[
            (sni_alpn("foo", &["foo", "bar"]), Y),
            (sni_alpn("bar", &["foo", "bar", "h2"]), N),
            (sni_alpn("bar", &["foo", "bar"]), Y),
            (sni_alpn("bar", &["h2", "bar"]), N),
        ],
    ),
    // Test_HostSNICatchAllV2: matches (catch-all checked in `catch_all`).
    tok(TMV2, V2, "HostSNI(`*`)", &[(sni("foobar"), Y)]),
    tok(TMV2, V2, "HOSTSNI(`*`)", &[(sni("foobar"), Y)]),
    tok(TMV2, V2, r#"HostSNI("*")"#, &[(sni("foobar"), Y)]),
    // Test_HostSNIV2
    tbad(TMV2, V2, "HostSNI(`héhé`)"),
    tok(TMV2, V2, "HostSNI(`*`)", &[(sni("foobar"), Y), (sni(""), Y)]),
    tok(
        TMV2,
        V2,
        "HostSNI(`foo`, `*`)",
        &[(sni("bar"), Y), (sni(""), N)],
    ),
    tbad(TMV2, V2, "HostSNI(`*.bar`)"),
    tok(
        TMV2,
        V2,
        "HostSNI(`foobar.`)",
        &[(sni("foobar."), Y), (sni("foobar"), Y)],
    ),
    tok(
        TMV2,
        V2,
        "HostSNI(`foobar`, `foo-bar.baz`)",
        &[(sni("foobar"), Y)],
    ),
    tok(TMV2, V2, "HostSNI(`foo.bar`)", &[(sni("foo.bar"), Y)]),
    tok(
        TMV2,
        V2,
        "HostSNI(`foo_bar.example.com`)",
        &[(sni("foo_bar.example.com"), Y)],
    ),
    tok(TMV2, V2, "HostSNI(`127.0.0.1`)", &[(sni("127.0.0.1"), Y)]),
    tok(TMV2, V2, "HostSNI(`10::10`)", &[(sni("10::10"), Y)]),
    // Test_HostSNIRegexpV2
    tbad(TMV2, V2, r"HostSNIRegexp(`subdomain:(foo\.)?bar\.com}`)"),
    tbad(TMV2, V2, r"HostSNIRegexp(`{:(foo\.)?bar\.com}`)"),
    tbad(TMV2, V2, "HostSNIRegexp(`{subdomain:}`)"),
    tbad(TMV2, V2, r"HostSNIRegexp(`{subdomain:(foo\.?bar\.com}`)"),
    tok(
        TMV2,
        V2,
        "HostSNIRegexp(`bar.com`)",
        &[(sni("bar.com"), Y), (sni("barucom"), N)],
    ),
    // A capturing group, and the same without.
    tok(
        TMV2,
        V2,
        r"HostSNIRegexp(`{subdomain:(foo\.)?bar\.com}`)",
        &[
            (sni("foo.bar.com"), Y),
            (sni("bar.com"), Y),
            (sni("fooubar.com"), N),
            (sni("barucom"), N),
            (sni("barcom"), N),
        ],
    ),
    tok(
        TMV2,
        V2,
        r"HostSNIRegexp(`{subdomain:(?:foo\.)?bar\.com}`)",
        &[
            (sni("foo.bar.com"), Y),
            (sni("bar.com"), Y),
            (sni("fooubar.com"), N),
            (sni("barucom"), N),
            (sni("barcom"), N),
        ],
    ),
    tok(
        TMV2,
        V2,
        r"HostSNIRegexp(`{dummy:[A-Za-z-]+\.bar\.com}`)",
        FOO_BAR_COM_SNI,
    ),
    tok(
        TMV2,
        V2,
        r"HostSNIRegexp(`{dummy:[a-z-]+\.bar\.com}`)",
        FOO_BAR_COM_SNI,
    ),
    tok(TMV2, V2, "HostSNIRegexp(`foo.bar.com`)", FOO_BAR_COM_SNI),
    // From the implementation behind Test_HostSNIRegexpV2 (hostSNIRegexpV2): no ASCII check
    // in v2, unlike v3's.
    tok(
        TMV2,
        V2,
        "HostSNIRegexp(`{sub}.bücher.example`)",
        &[(sni("a.xn--bcher-kva.example"), N)],
    ),
    // Test_ClientIPV2
    tbad(TMV2, V2, "ClientIP(`héhé`)"),
    tok(
        TMV2,
        V2,
        "ClientIP(`20.20.20.20`)",
        &[(from("10.10.10.10"), N)],
    ),
    tok(
        TMV2,
        V2,
        "ClientIP(`10.10.10.10`)",
        &[(from("10.10.10.10"), Y)],
    ),
    tok(
        TMV2,
        V2,
        "ClientIP(`20.20.20.20`, `30.30.30.30`)",
        &[(from("10.10.10.10"), N)],
    ),
    tok(
        TMV2,
        V2,
        "ClientIP(`10.10.10.10`, `20.20.20.20`, `30.30.30.30`)",
        &[(from("20.20.20.20"), Y)],
    ),
    tok(
        TMV2,
        V2,
        "ClientIP(`20.0.0.0/24`)",
        &[(from("10.10.10.10"), N)],
    ),
    tok(
        TMV2,
        V2,
        "ClientIP(`20.0.0.0/8`)",
        &[(from("20.10.10.10"), Y)],
    ),
    tok(
        TMV2,
        V2,
        "ClientIP(`10.0.0.0/24`, `20.0.0.0/24`)",
        &[(from("10.10.10.10"), N)],
    ),
    tok(
        TMV2,
        V2,
        "ClientIP(`10.0.0.0/8`, `20.0.0.0/8`)",
        &[(from("20.10.10.10"), Y)],
    ),
    // Test_ALPNV2
    tbad(TMV2, V2, "ALPN()"),
    tok(TMV2, V2, "ALPN(`h2`)", &[(alpn(&[""]), N), (alpn(&["mqtt"]), N)]),
    tok(TMV2, V2, "ALPN(`h2`)", &[(alpn(&["h2"]), Y)]),
    tok(TMV2, V2, "ALPN(`h2`, `mqtt`)", &[(alpn(&["h2c"]), N)]),
    tok(
        TMV2,
        V2,
        "ALPN(`h2`, `h2c`, `mqtt`)",
        &[(alpn(&["h2c"]), Y)],
    ),
];

const FOO_BAR_COM_SNI: &[(Conn, bool)] = &[
    (sni("FOO.bar.com"), Y),
    (sni("foo.bar.com"), Y),
    (sni("fooubar.com"), N),
    (sni("barucom"), N),
    (sni("barcom"), N),
];

/// pkg/muxer/tcp/mux_test.go, Test_addTCPRoute (v3 syntax). Test_Priority is the table's.
const TCP_MUX: &[TcpCase] = &[
    tbad(TMUX, V3, ""),
    tbad(TMUX, V3, "rulewithnotmatcher"),
    tbad(TMUX, V3, "HostSNI(``)"),
    tok(
        TMUX,
        V3,
        "HostSNI(`example.org`)",
        &[(sni("example.org"), Y), (sni("example.com"), N)],
    ),
    tok(
        TMUX,
        V3,
        "!HostSNI(`example.com`)",
        &[(sni("example.org"), Y), (sni("example.com"), N)],
    ),
    tok(TMUX, V3, "hostsni(`example.org`)", &[(sni("example.org"), Y)]),
    tok(TMUX, V3, "HOSTSNI(`example.org`)", &[(sni("example.org"), Y)]),
    tok(
        TMUX,
        V3,
        "HostSNI(`example.org`) && ClientIP(`10.0.0.1`)",
        &[
            (sni_ip("example.org", "10.0.0.1:80"), Y),
            (sni_ip("example.com", "10.0.0.1:80"), N),
            (sni_ip("example.org", "10.0.0.2:80"), N),
        ],
    ),
    tok(
        TMUX,
        V3,
        "!HostSNI(`example.com`) && ClientIP(`10.0.0.1`)",
        &[(sni_ip("example.org", "10.0.0.1:80"), Y)],
    ),
    tok(
        TMUX,
        V3,
        "HostSNI(`example.org`) && !ClientIP(`10.0.0.2`)",
        &[(sni_ip("example.org", "10.0.0.1:80"), Y)],
    ),
    tok(
        TMUX,
        V3,
        "!HostSNI(`example.com`) && !ClientIP(`10.0.0.2`)",
        &[(sni_ip("example.org", "10.0.0.1:80"), Y)],
    ),
    tok(
        TMUX,
        V3,
        "!(HostSNI(`example.com`) || ClientIP(`10.0.0.2`))",
        &[(sni_ip("example.org", "10.0.0.1:80"), Y)],
    ),
    tok(
        TMUX,
        V3,
        "!(HostSNI(`example.com`) && ClientIP(`10.0.0.2`))",
        &[
            (sni_ip("example.org", "10.0.0.2:80"), Y),
            (sni_ip("example.com", "10.0.0.1:80"), Y),
            (sni_ip("example.com", "10.0.0.2:80"), N),
            (sni_ip("example.org", "10.0.0.1:80"), Y),
        ],
    ),
    tok(
        TMUX,
        V3,
        "HostSNI(`example.org`) || ClientIP(`10.0.0.1`)",
        &[
            (sni_ip("example.org", "10.0.0.1:80"), Y),
            (sni_ip("example.com", "10.0.0.1:80"), Y),
            (sni_ip("example.org", "10.0.0.2:80"), Y),
            (sni_ip("example.com", "10.0.0.2:80"), N),
        ],
    ),
    tok(
        TMUX,
        V3,
        "HostSNI(`example.org`) || HostSNI(`example.eu`) || HostSNI(`example.com`)",
        &[(sni("example.org"), Y), (sni("baz"), N)],
    ),
    tok(
        TMUX,
        V3,
        "HostSNI(`example.org`) || HostSNI(`example.com`) && ClientIP(`10.0.0.1`)",
        &[
            (sni_ip("example.org", "10.0.0.2:80"), Y),
            (sni_ip("example.com", "10.0.0.1:80"), Y),
            (sni_ip("example.com", "10.0.0.2:80"), N),
            (sni_ip("baz", "10.0.0.1:80"), N),
        ],
    ),
    tok(
        TMUX,
        V3,
        "(HostSNI(`example.org`) || HostSNI(`example.com`)) && (ClientIP(`10.0.0.1`) || ClientIP(`10.0.0.2`))",
        &[
            (sni_ip("example.com", "10.0.0.1:80"), Y),
            (sni_ip("baz", "10.0.0.1:80"), N),
            (sni_ip("example.com", "10.0.0.3:80"), N),
        ],
    ),
    tok(
        TMUX,
        V3,
        "(HostSNI(`example.org`) || (HostSNI(`example.com`) && !HostSNI(`example.org`))) && ((ClientIP(`10.0.0.1`) && !ClientIP(`10.0.0.2`)) || ClientIP(`10.0.0.2`)) ",
        &[(sni_ip("example.com", "10.0.0.1:80"), Y)],
    ),
    tok(
        TMUX,
        V3,
        "ALPN(`h2c`) && (!ALPN(`h2`) || HostSNI(`example.eu`))",
        &[
            (sni_alpn("example.eu", &["h2c", "mqtt"]), Y),
            (sni_alpn("example.com", &["h2c", "http/1.1", "h2"]), N),
            (sni_alpn("example.com", &["h2c", "http/1.1"]), Y),
            (sni_alpn("example.com", &["http/1.1", "mqtt"]), N),
        ],
    ),
    tok(TMUX, V3, "HostSNI(`127.0.0.1`)", &[(sni("127.0.0.1"), Y)]),
    tok(TMUX, V3, "HostSNI(`10::10`)", &[(sni("10::10"), Y)]),
];

fn run_tcp(cases: &[TcpCase], counts: &mut BTreeMap<&'static str, usize>) -> Vec<String> {
    let mut out = Vec::new();
    for c in cases {
        let parsed = TcpRule::parse_with(c.rule, c.syntax);
        match (c.rows, parsed) {
            (None, Ok(_)) => out.push(format!(
                "{} {:?} {}: parsed, Traefik refuses it",
                c.from, c.syntax, c.rule
            )),
            (None, Err(_)) => {}
            (Some(_), Err(e)) => out.push(format!(
                "{} {:?} {}: refused ({}), Traefik accepts it",
                c.from, c.syntax, c.rule, e.reason
            )),
            (Some(rows), Ok(r)) => {
                for (conn, want) in rows {
                    let protos: Vec<String> = conn.alpn.iter().map(|p| p.to_string()).collect();
                    let got = r.matches(&ConnView {
                        sni: conn.sni,
                        client_ip: remote_ip(conn.remote),
                        alpn: &protos,
                    });
                    if got != *want {
                        out.push(format!(
                            "{} {:?} {}: sni {:?} from {} alpn {:?}: matched {got}, Traefik {want}",
                            c.from, c.syntax, c.rule, conn.sni, conn.remote, conn.alpn
                        ));
                    }
                }
            }
        }
        *counts.entry(c.from).or_default() += c.rows.map_or(1, <[_]>::len);
    }
    out
}

#[test]
fn tcp_tables() {
    let mut counts = BTreeMap::new();
    let mut failures = Vec::new();
    for table in [TCP_V3_MATCHERS, TCP_V2_MATCHERS, TCP_MUX] {
        failures.extend(run_tcp(table, &mut counts));
    }
    eprintln!("TCP cases per Traefik file: {counts:?}");
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// pkg/muxer/tcp/matcher_test.go Test_HostSNICatchAll, matcher_v2_test.go
/// Test_HostSNICatchAllV2, mux_test.go TestGetRulePriority.
#[test]
fn catch_all() {
    for (syntax, rule, want) in [
        (V3, "HostSNI(`example.com`)", false),
        (V3, "HostSNI(`*`)", true),
        (V3, "HostSNIRegexp(`.*`)", false),
        (V2, "HostSNI(`foobar`)", false),
        (V2, "HostSNI(`*`)", true),
        (V2, "HOSTSNI(`*`)", true),
        (V2, r#"HostSNI("*")"#, true),
    ] {
        let r = TcpRule::parse_with(rule, syntax).unwrap();
        assert_eq!(r.is_catch_all(), want, "{rule}");
    }
    for (rule, want) in [
        ("HostSNI(`example.org`)", 22),
        ("HostSNI(`*`)", -1),
        ("   HostSNI ( `*` )       ", -1),
    ] {
        let r = TcpRule::parse_with(rule, V3).unwrap();
        assert_eq!(default_priority(&r, rule), want, "{rule}");
    }
}

/// pkg/muxer/tcp/mux_test.go TestParseHostSNI and matcher_v2_test.go TestParseHostSNIV2: the
/// `HostSNI` names of a rule, lowercase. The cases Traefik reads from a rule its TCP router
/// would refuse (an unknown matcher, `HostSNI()`, `ClientIP(`10.1`)`) are refused here at
/// parsing.
#[test]
fn parse_host_sni() {
    let cases: &[(Syntax, &str, Option<&[&str]>)] = &[
        (V3, "Unknown(`example.com`)", None),
        (V3, "HostSNI(`example.com`)", Some(&["example.com"])),
        (V3, "HOSTSNI(`example.com`)", Some(&["example.com"])),
        (V3, "hostsni(`example.com`)", Some(&["example.com"])),
        (V3, "HostSNI(`127.0.0.1`)", Some(&["127.0.0.1"])),
        (V3, "HostSNI(`10::10`)", Some(&["10::10"])),
        (V3, "ClientIP(`10.1`)", None),
        (V3, "HostSNI(`example.com`) && ClientIP(`10.1`)", None),
        (V3, "HostSNI() && ClientIP(`10.1`)", None),
        (V2, "Foobar(`foo.bar`,`test.bar`)", None),
        (
            V2,
            "HostSNI(`foo.bar`,`test.bar`)",
            Some(&["foo.bar", "test.bar"]),
        ),
        (
            V2,
            "HOSTSNI(`foo.bar`,`test.bar`)",
            Some(&["foo.bar", "test.bar"]),
        ),
        (
            V2,
            "hostsni(`foo.bar`,`test.bar`)",
            Some(&["foo.bar", "test.bar"]),
        ),
        // With a valid ClientIP in place of Traefik's `10.1`:
        (
            V2,
            "HostSNI(`foo.bar`) && ClientIP(`10.0.0.1`)",
            Some(&["foo.bar"]),
        ),
        (
            V2,
            "HostSNI(`Foo.Bar`) && ClientIP(`10.0.0.1`)",
            Some(&["foo.bar"]),
        ),
    ];
    for (syntax, rule, want) in cases {
        let got = TcpRule::parse_with(rule, *syntax)
            .ok()
            .map(|r| r.host_snis());
        let want = want.map(|w| w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(got, want, "{rule}");
    }
}
