//! Rule conformance: cases written from Traefik v3's documented rule behaviour (the routing
//! reference for HTTP routers, the v2-to-v3 migration notes) and its matcher semantics, run
//! against the router's rule engine. Each case is a rule, its syntax, and either "refused"
//! or requests that must and must not match.
//!
//! A request is written `METHOD URL [header=value ...] [ip=ADDR]`; its host is canonicalized
//! and its path turned into the routing path exactly as the router does before matching.

#![allow(clippy::unwrap_used)]

use router::model::rule::{routing_path, RequestView, Rule, Syntax};
use router::proxy::request_host;

struct Req {
    method: String,
    host: String,
    path: String,
    query: Option<String>,
    headers: http::HeaderMap,
    ip: std::net::IpAddr,
}

fn req(spec: &str) -> Req {
    let mut parts = spec.split(' ');
    let method = parts.next().unwrap().to_owned();
    let url = parts.next().unwrap();
    let rest = url.split_once("://").unwrap().1;
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, pq) = rest.split_at(end);
    let pq = if pq.starts_with('/') {
        pq.to_owned()
    } else {
        format!("/{pq}")
    };
    let (path, query) = match pq.split_once('?') {
        Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
        None => (pq.clone(), None),
    };
    let mut headers = http::HeaderMap::new();
    let mut ip: std::net::IpAddr = "10.0.0.1".parse().unwrap();
    for kv in parts {
        let (k, v) = kv.split_once('=').unwrap();
        if k == "ip" {
            ip = v.parse().unwrap();
        } else {
            headers.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                http::HeaderValue::from_str(v).unwrap(),
            );
        }
    }
    Req {
        method,
        host: request_host(authority),
        path: routing_path(&path).unwrap().into_owned(),
        query,
        headers,
        ip,
    }
}

fn matches(rule: &Rule, spec: &str) -> bool {
    let r = req(spec);
    rule.matches(&RequestView {
        host: &r.host,
        path: &r.path,
        query: r.query.as_deref(),
        method: &r.method,
        headers: &r.headers,
        client_ip: r.ip,
    })
}

/// `(rule, syntax, matching requests, non-matching requests)`; no requests at all means the
/// rule must be refused.
type Case = (
    &'static str,
    Syntax,
    &'static [&'static str],
    &'static [&'static str],
);

const V3: Syntax = Syntax::V3;
const V2: Syntax = Syntax::V2;

const CASES: &[Case] = &[
    // Host: one name, case-insensitive, port ignored, trailing dots tolerated both ways.
    (
        "Host(`example.com`)",
        V3,
        &[
            "GET http://example.com/",
            "GET http://EXAMPLE.com:8080/a",
            "GET http://example.com./",
        ],
        &["GET http://example.org/", "GET http://www.example.com/"],
    ),
    (
        "Host(`Example.COM.`)",
        V3,
        &["GET http://example.com/"],
        &["GET http://example.co/"],
    ),
    (
        "Host(`xn--9t9h.com`)",
        V3,
        &["GET http://xn--9t9h.com/"],
        &["GET http://example.com/"],
    ),
    (
        "Host(`*.example.com`)",
        V3,
        &["GET http://a.example.com/", "GET http://B.example.com/"],
        &[
            "GET http://example.com/",
            "GET http://a.b.example.com/",
            "GET http://a.otherexample.com/",
        ],
    ),
    (
        "Host(`*`)",
        V3,
        &["GET http://anything.test/", "GET http://localhost/"],
        &[],
    ),
    ("Host(`bücher.example`)", V3, &[], &[]),
    ("Host(``)", V3, &[], &[]),
    ("Host()", V3, &[], &[]),
    ("Host(`a.com`, `b.com`)", V3, &[], &[]),
    // Matcher names: as written, lower, upper or capitalized.
    ("host(`a.com`)", V3, &["GET http://a.com/"], &[]),
    ("HOST(`a.com`)", V3, &["GET http://a.com/"], &[]),
    ("Pathprefix(`/a`)", V3, &["GET http://h/a"], &[]),
    ("hostregexp(`^a`)", V3, &["GET http://ab/"], &[]),
    ("pathPrefix(`/a`)", V3, &[], &[]),
    ("HostHeader(`a.com`)", V3, &[], &[]),
    // HostRegexp: Go RE2 on the lowercase host, unanchored.
    (
        "HostRegexp(`^[a-z-]+\\.com$`)",
        V3,
        &["GET http://example.com/", "GET http://Example.com:8080/"],
        &["GET http://example.org/"],
    ),
    (
        "HostRegexp(`^[A-Z]+\\.com$`)",
        V3,
        &[],
        &["GET http://EXAMPLE.com/", "GET http://example.com/"],
    ),
    (
        "HostRegexp(`example`)",
        V3,
        &["GET http://www.example.org/"],
        &["GET http://other.org/"],
    ),
    (
        "HostRegexp(`{domain:[a-z]+\\.com}`)",
        V3,
        &[],
        &["GET http://example.com/"],
    ),
    ("HostRegexp(`(example.com`)", V3, &[], &[]),
    (
        "HostRegexp(`^\\d+\\.test$`)",
        V3,
        &["GET http://42.test/"],
        &["GET http://x.test/"],
    ),
    // Path, PathPrefix, PathRegexp: on the routing path.
    (
        "Path(`/css`)",
        V3,
        &["GET http://h/css"],
        &["GET http://h/css/", "GET http://h/css/x", "GET http://h/"],
    ),
    (
        "Path(`/foo bar`)",
        V3,
        &["GET http://h/foo%20bar"],
        &["GET http://h/foo+bar"],
    ),
    (
        "Path(`/a/b`)",
        V3,
        &["GET http://h/a/b"],
        &["GET http://h/a%2Fb"],
    ),
    ("Path(`css`)", V3, &[], &[]),
    ("Path(`/css`, `/js`)", V3, &[], &[]),
    (
        "PathPrefix(`/api`)",
        V3,
        &[
            "GET http://h/api",
            "GET http://h/api/v1",
            "GET http://h/apis",
        ],
        &["GET http://h/", "GET http://h/ap"],
    ),
    ("PathPrefix(`/~user`)", V3, &["GET http://h/%7Euser/x"], &[]),
    (
        "PathRegexp(`^/(css|js)`)",
        V3,
        &["GET http://h/css", "GET http://h/js/x"],
        &["GET http://h/html"],
    ),
    (
        "PathRegexp(`/{path:(css|js)}`)",
        V3,
        &[],
        &["GET http://h/css"],
    ),
    (
        "PathRegexp(`\\.(jpe?g|png)$`)",
        V3,
        &["GET http://h/a/b.jpeg"],
        &["GET http://h/a.gif"],
    ),
    ("PathRegexp(``)", V3, &[], &[]),
    ("PathRegexp(`/(css`)", V3, &[], &[]),
    // Method: the argument upper-cased, the request's method as sent.
    (
        "Method(`GET`)",
        V3,
        &["GET http://h/"],
        &["POST http://h/", "get http://h/"],
    ),
    ("Method(`get`)", V3, &["GET http://h/"], &["POST http://h/"]),
    ("Method(`GET`, `POST`)", V3, &[], &[]),
    // Header, HeaderRegexp: any one value of the header.
    (
        "Header(`X-Env`, `prod`)",
        V3,
        &[
            "GET http://h/ x-env=prod",
            "GET http://h/ x-env=dev x-env=prod",
        ],
        &["GET http://h/ x-env=production", "GET http://h/"],
    ),
    ("Header(`X-Env`, ``)", V3, &[], &[]),
    (
        "HeaderRegexp(`X-Env`, `^pr`)",
        V3,
        &["GET http://h/ x-env=prod"],
        &["GET http://h/ x-env=dev"],
    ),
    // Query, QueryRegexp: Go's query reading; one argument means an empty value.
    (
        "Query(`mobile`, `true`)",
        V3,
        &["GET http://h/?mobile=true", "GET http://h/?a=1&mobile=true"],
        &["GET http://h/?mobile=false", "GET http://h/?mobile"],
    ),
    (
        "Query(`mobile`)",
        V3,
        &["GET http://h/?mobile", "GET http://h/?mobile="],
        &["GET http://h/?mobile=true", "GET http://h/"],
    ),
    (
        "Query(`q`, `a b`)",
        V3,
        &["GET http://h/?q=a+b", "GET http://h/?q=a%20b"],
        &["GET http://h/?q=a;x=1"],
    ),
    (
        "QueryRegexp(`mobile`, `^(true|yes)$`)",
        V3,
        &["GET http://h/?mobile=yes"],
        &["GET http://h/?mobile=no"],
    ),
    (
        "QueryRegexp(`mobile`)",
        V3,
        &["GET http://h/?mobile="],
        &["GET http://h/?mobile=1"],
    ),
    ("Query(`a`, `b`, `c`)", V3, &[], &[]),
    // ClientIP: one address or range, IPv4-mapped addresses as IPv4.
    (
        "ClientIP(`192.168.1.0/24`)",
        V3,
        &[
            "GET http://h/ ip=192.168.1.7",
            "GET http://h/ ip=::ffff:192.168.1.7",
        ],
        &["GET http://h/ ip=192.168.2.1"],
    ),
    (
        "ClientIP(`::1`)",
        V3,
        &["GET http://h/ ip=::1"],
        &["GET http://h/ ip=127.0.0.1"],
    ),
    ("ClientIP(`1`)", V3, &[], &[]),
    ("ClientIP(`127.0.0.1`, `10.0.0.1`)", V3, &[], &[]),
    // Operators: ! tightest, then &&, then ||; Go string literals.
    (
        "Host(`a`) || Host(`b`) && Path(`/x`)",
        V3,
        &["GET http://a/", "GET http://b/x"],
        &["GET http://b/"],
    ),
    (
        "!(Host(`a`) || Host(`b`)) && Method(`GET`)",
        V3,
        &["GET http://c/"],
        &["GET http://a/", "POST http://c/"],
    ),
    (
        "Host(\"a.com\") && PathPrefix(\"/\\x61\")",
        V3,
        &["GET http://a.com/a"],
        &["GET http://a.com/b"],
    ),
    ("Host(`a`) &&\nPath(`/`)", V3, &["GET http://a/"], &[]),
    ("Host(`a`)\n&& Path(`/`)", V3, &[], &[]),
    ("Host(`a`) & Path(`/`)", V3, &[], &[]),
    ("Host(`a`) and Path(`/`)", V3, &[], &[]),
    ("Host('a')", V3, &[], &[]),
    ("Host(1)", V3, &[], &[]),
    // v2: several values, gorilla templates, Headers/HeadersRegexp pairs, Query key=value.
    (
        "Host(`a.com`, `b.com`)",
        V2,
        &["GET http://a.com/", "GET http://B.com/"],
        &["GET http://c.com/"],
    ),
    ("HostHeader(`a.com`)", V2, &["GET http://a.com/"], &[]),
    (
        "HostRegexp(`{sub:[a-z]+}.example.com`)",
        V2,
        &[
            "GET http://www.example.com/",
            "GET http://www.example.com:8443/",
        ],
        &["GET http://www.example.org/", "GET http://a.b.example.com/"],
    ),
    (
        "HostRegexp(`{sub}.example.com`, `example.com`)",
        V2,
        &["GET http://x.example.com/", "GET http://example.com/"],
        &["GET http://example.org/"],
    ),
    (
        "Path(`/api/{id:[0-9]+}`)",
        V2,
        &["GET http://h/api/42"],
        &["GET http://h/api/x", "GET http://h/api/42/y"],
    ),
    (
        "PathPrefix(`/api/{version}`)",
        V2,
        &["GET http://h/api/v1/users"],
        &["GET http://h/api/"],
    ),
    (
        "PathPrefix(`/a`, `/b`)",
        V2,
        &["GET http://h/a/1", "GET http://h/b"],
        &["GET http://h/c"],
    ),
    // A capturing group in a variable: accepted, as Traefik's gorilla/mux fork does.
    (
        "Path(`/{a:(x|y)}`)",
        V2,
        &["GET http://h/x", "GET http://h/y"],
        &["GET http://h/z", "GET http://h/xy"],
    ),
    (
        "Method(`GET`, `post`)",
        V2,
        &["GET http://h/", "POST http://h/"],
        &["PUT http://h/"],
    ),
    (
        "Headers(`X-A`, `1`, `X-B`, `2`)",
        V2,
        &["GET http://h/ x-a=1 x-b=2"],
        &["GET http://h/ x-a=1"],
    ),
    (
        "HeadersRegexp(`X-A`, `^1`)",
        V2,
        &["GET http://h/ x-a=12"],
        &["GET http://h/ x-a=21"],
    ),
    ("Headers(`X-A`)", V2, &[], &[]),
    (
        "Query(`a=1`, `b={v:[0-9]+}`)",
        V2,
        &["GET http://h/?a=1&b=22"],
        &["GET http://h/?a=1&b=x", "GET http://h/?a=1"],
    ),
    (
        "Query(`a=`)",
        V2,
        &["GET http://h/?a=", "GET http://h/?a=anything"],
        &["GET http://h/?b=1"],
    ),
    (
        "ClientIP(`10.0.0.0/8`, `192.168.0.1`)",
        V2,
        &["GET http://h/ ip=10.1.2.3", "GET http://h/ ip=192.168.0.1"],
        &["GET http://h/ ip=192.168.0.2"],
    ),
    ("Header(`X-A`, `1`)", V2, &[], &[]),
    ("HostSNI(`*`)", V2, &[], &[]),
];

#[test]
fn traefik_rule_semantics() {
    let mut failures = Vec::new();
    for (src, syntax, yes, no) in CASES {
        let parsed = Rule::parse_with(src, *syntax);
        let refused = yes.is_empty() && no.is_empty();
        match (&parsed, refused) {
            (Err(_), true) => continue,
            (Ok(r), true) => {
                failures.push(format!(
                    "{src:?} ({syntax:?}): accepted as {r}, Traefik refuses it"
                ));
                continue;
            }
            (Err(e), false) => {
                failures.push(format!(
                    "{src:?} ({syntax:?}): refused ({e}), Traefik accepts it"
                ));
                continue;
            }
            (Ok(_), false) => {}
        }
        let Ok(rule) = parsed else { continue };
        for r in *yes {
            if !matches(&rule, r) {
                failures.push(format!("{src:?} ({syntax:?}): should match {r:?}"));
            }
        }
        for r in *no {
            if matches(&rule, r) {
                failures.push(format!("{src:?} ({syntax:?}): should not match {r:?}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
