//! Traefik's tables for the headers a backend is sent (`forwardedHeaders` of an entry point),
//! as data: each row is run through the entry point's trust (the static configuration as
//! `TRAEFIK_*` variables), the removal of an untrusted client's headers and
//! [`super::backend_headers`]. Traefik's tests look at the request its `XForwarded` middleware
//! hands on, before Go's reverse proxy appends the client's address to `X-Forwarded-For` and
//! removes what `Connection` names; ours at what the backend receives, so `X-Forwarded-For`
//! ends with the client's address. Go's test leaves the remote address empty (never trusted);
//! ours is `192.0.2.1:1234` then.

use std::collections::HashMap;
use std::net::SocketAddr;

use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::Method;

use super::{backend_headers, client_ip, client_text, entry_point_forwarded, Inbound};

/// Header lines: name, value.
type Headers = &'static [(&'static str, &'static str)];

#[derive(Clone, Copy)]
struct Case {
    desc: &'static str,
    insecure: bool,
    trusted: &'static str,
    remote: &'static str,
    tls: bool,
    websocket: bool,
    host: &'static str,
    incoming: &'static [(&'static str, &'static str)],
    /// Header, value (`""`: absent or empty, as Go's `Header.Get`).
    expected: &'static [(&'static str, &'static str)],
    absent: &'static [&'static str],
}

const BASE: Case = Case {
    desc: "",
    insecure: false,
    trusted: "",
    remote: "",
    tls: false,
    websocket: false,
    host: "",
    incoming: &[],
    expected: &[],
    absent: &[],
};

const XFF: &str = "X-Forwarded-For";
const URI: &str = "X-Forwarded-Uri";
const METHOD: &str = "X-Forwarded-Method";
const CERT: &str = "X-Forwarded-Tls-Client-Cert";
const INFO: &str = "X-Forwarded-Tls-Client-Cert-Info";
const PREFIX: &str = "X-Forwarded-Prefix";
const PROTO: &str = "X-Forwarded-Proto";
const PORT: &str = "X-Forwarded-Port";
const HOST: &str = "X-Forwarded-Host";
const REAL_IP: &str = "X-Real-Ip";

/// A client's headers Traefik manages, each once.
const CLIENT_SET: &[(&str, &str)] = &[
    (XFF, "10.0.1.0, 10.0.1.12"),
    (URI, "/bar"),
    (METHOD, "GET"),
    (CERT, "Cert"),
    (INFO, "CertInfo"),
    (PREFIX, "/prefix"),
];

/// [`CLIENT_SET`] with `_` spellings.
const CLIENT_SET_UNDERSCORE: &[(&str, &str)] = &[
    (XFF, "10.0.1.0, 10.0.1.12"),
    (URI, "/bar"),
    (METHOD, "GET"),
    (CERT, "Cert"),
    (INFO, "CertInfo"),
    (PREFIX, "/prefix"),
    ("X_forwarded_proto", "https"),
    ("X_forwarded_for", "10.0.0.1"),
];

/// Every managed header with the value `foo`, each named by `Connection` too.
const FOO_NAMED_BY_CONNECTION: &[(&str, &str)] = &[
    (
        "Connection",
        "X-Forwarded-Proto, X-Forwarded-For, X-Forwarded-Uri, X-Forwarded-Method, \
         X-Forwarded-Host, X-Forwarded-Port, X-Forwarded-Tls-Client-Cert, \
         X-Forwarded-Tls-Client-Cert-Info, X-Forwarded-Prefix, X-Real-Ip",
    ),
    (PROTO, "foo"),
    (XFF, "foo"),
    (URI, "foo"),
    (METHOD, "foo"),
    (HOST, "foo"),
    (PORT, "foo"),
    (CERT, "foo"),
    (INFO, "foo"),
    (PREFIX, "foo"),
    (REAL_IP, "foo"),
];

/// [`FOO_NAMED_BY_CONNECTION`] with `Connection` in lowercase.
const FOO_NAMED_LOWERCASE: &[(&str, &str)] = &[
    (
        "Connection",
        "x-forwarded-proto, x-forwarded-for, x-forwarded-uri, x-forwarded-method, \
         x-forwarded-host, x-forwarded-port, x-forwarded-tls-client-cert, \
         x-forwarded-tls-client-cert-info, x-forwarded-prefix, x-real-ip",
    ),
    (PROTO, "foo"),
    (XFF, "foo"),
    (URI, "foo"),
    (METHOD, "foo"),
    (HOST, "foo"),
    (PORT, "foo"),
    (CERT, "foo"),
    (INFO, "foo"),
    (PREFIX, "foo"),
    (REAL_IP, "foo"),
];

/// A trusted client's `foo` values kept (`X-Forwarded-For` with the client's address after).
const FOO_KEPT: &[(&str, &str)] = &[
    (PROTO, "foo"),
    (XFF, "foo, 192.0.2.1"),
    (URI, "foo"),
    (METHOD, "foo"),
    (HOST, "foo"),
    (PORT, "foo"),
    (CERT, "foo"),
    (INFO, "foo"),
    (PREFIX, "foo"),
    (REAL_IP, "foo"),
    ("Connection", ""),
];

/// An untrusted client's `foo` values replaced by the router's own.
const FOO_REPLACED: &[(&str, &str)] = &[
    (PROTO, "http"),
    (XFF, "192.0.2.1"),
    (URI, ""),
    (METHOD, ""),
    (HOST, ""),
    (PORT, "80"),
    (CERT, ""),
    (INFO, ""),
    (PREFIX, ""),
    // Traefik's test has no remote address, so no X-Real-Ip; ours is the client's.
    (REAL_IP, "192.0.2.1"),
    ("Connection", ""),
];

// forwarded_header_test.go, TestServeHTTP (the rows with `connectionHeaders` or the scheme
// headers, options the router does not read, are in `not_read` below).
const SERVE_HTTP: &[Case] = &[
    Case {
        desc: "all Empty",
        insecure: true,
        expected: &[
            (XFF, "192.0.2.1"),
            (URI, ""),
            (METHOD, ""),
            (CERT, ""),
            (INFO, ""),
        ],
        ..BASE
    },
    Case {
        desc: "insecure true with incoming X-Forwarded headers",
        insecure: true,
        incoming: CLIENT_SET_UNDERSCORE,
        expected: &[
            (XFF, "10.0.1.0, 10.0.1.12, 192.0.2.1"),
            (URI, "/bar"),
            (METHOD, "GET"),
            (CERT, "Cert"),
            (INFO, "CertInfo"),
            (PREFIX, "/prefix"),
            ("X_forwarded_proto", "https"),
            ("X_forwarded_for", "10.0.0.1"),
        ],
        ..BASE
    },
    Case {
        desc: "insecure false with incoming X-Forwarded headers",
        incoming: &[
            (XFF, "10.0.1.0, 10.0.1.12"),
            (URI, "/bar"),
            (METHOD, "GET"),
            (CERT, "Cert"),
            (INFO, "CertInfo"),
            (PREFIX, "/prefix"),
            ("X_forwarded_proto", "https"),
            ("X_forwarded_for", "10.0.0.1"),
            ("X_forwarded_host", "evil.example"),
        ],
        expected: &[
            (XFF, "192.0.2.1"),
            (URI, ""),
            (METHOD, ""),
            (CERT, ""),
            (INFO, ""),
            (PREFIX, ""),
            ("X_forwarded_proto", ""),
            ("X_forwarded_for", ""),
            ("X_forwarded_host", ""),
        ],
        ..BASE
    },
    Case {
        desc: "insecure false with incoming X-Forwarded headers and valid Trusted Ips",
        trusted: "10.0.1.100",
        remote: "10.0.1.100:80",
        incoming: CLIENT_SET_UNDERSCORE,
        expected: &[
            (XFF, "10.0.1.0, 10.0.1.12, 10.0.1.100"),
            (URI, "/bar"),
            (METHOD, "GET"),
            (CERT, "Cert"),
            (INFO, "CertInfo"),
            (PREFIX, "/prefix"),
            ("X_forwarded_proto", "https"),
            ("X_forwarded_for", "10.0.0.1"),
        ],
        ..BASE
    },
    Case {
        desc: "insecure false with incoming X-Forwarded headers and invalid Trusted Ips",
        trusted: "10.0.1.100",
        remote: "10.0.1.101:80",
        incoming: CLIENT_SET,
        expected: &[
            (XFF, "10.0.1.101"),
            (URI, ""),
            (METHOD, ""),
            (CERT, ""),
            (INFO, ""),
            (PREFIX, ""),
        ],
        ..BASE
    },
    Case {
        desc: "insecure false with incoming X-Forwarded headers and valid Trusted Ips CIDR",
        trusted: "1.2.3.4/24",
        remote: "1.2.3.156:80",
        incoming: CLIENT_SET,
        expected: &[
            (XFF, "10.0.1.0, 10.0.1.12, 1.2.3.156"),
            (URI, "/bar"),
            (METHOD, "GET"),
            (CERT, "Cert"),
            (INFO, "CertInfo"),
            (PREFIX, "/prefix"),
        ],
        ..BASE
    },
    Case {
        desc: "insecure false with incoming X-Forwarded headers and invalid Trusted Ips CIDR",
        trusted: "1.2.3.4/24",
        remote: "10.0.1.101:80",
        incoming: CLIENT_SET,
        expected: &[
            (XFF, "10.0.1.101"),
            (URI, ""),
            (METHOD, ""),
            (CERT, ""),
            (INFO, ""),
            (PREFIX, ""),
        ],
        ..BASE
    },
    Case {
        desc: "xForwardedFor with multiple header(s) values",
        insecure: true,
        incoming: &[
            (XFF, "10.0.0.4, 10.0.0.3"),
            (XFF, "10.0.0.2, 10.0.0.1"),
            (XFF, "10.0.0.0"),
        ],
        expected: &[(
            XFF,
            "10.0.0.4, 10.0.0.3, 10.0.0.2, 10.0.0.1, 10.0.0.0, 192.0.2.1",
        )],
        ..BASE
    },
    Case {
        desc: "xRealIP populated from remote address",
        remote: "10.0.1.101:80",
        expected: &[(REAL_IP, "10.0.1.101")],
        ..BASE
    },
    Case {
        desc: "xRealIP was already populated from previous headers",
        insecure: true,
        remote: "10.0.1.101:80",
        incoming: &[(REAL_IP, "10.0.1.12")],
        expected: &[(REAL_IP, "10.0.1.12")],
        ..BASE
    },
    Case {
        desc: "xForwardedProto with no tls",
        expected: &[(PROTO, "http")],
        ..BASE
    },
    Case {
        desc: "xForwardedProto with tls",
        tls: true,
        expected: &[(PROTO, "https")],
        ..BASE
    },
    Case {
        desc: "xForwardedScheme headers disabled keeps legacy headers absent",
        tls: true,
        expected: &[(PROTO, "https")],
        absent: &["X-Forwarded-Scheme", "X-Scheme"],
        ..BASE
    },
    Case {
        desc: "xForwardedProto with websocket",
        websocket: true,
        expected: &[(PROTO, "ws")],
        ..BASE
    },
    Case {
        desc: "xForwardedProto with websocket and tls",
        tls: true,
        websocket: true,
        expected: &[(PROTO, "wss")],
        ..BASE
    },
    Case {
        desc: "xForwardedProto with websocket and tls and already x-forwarded-proto with wss",
        tls: true,
        websocket: true,
        incoming: &[(PROTO, "wss")],
        expected: &[(PROTO, "wss")],
        ..BASE
    },
    Case {
        desc: "xForwardedPort with explicit port",
        host: "foo.com:8080",
        expected: &[(PORT, "8080")],
        ..BASE
    },
    Case {
        desc: "xForwardedPort with implicit tls port from proto header",
        insecure: true,
        incoming: &[(PROTO, "https")],
        expected: &[(PROTO, "https"), (PORT, "443")],
        ..BASE
    },
    Case {
        desc: "xForwardedPort with implicit tls port from TLS in req",
        tls: true,
        expected: &[(PORT, "443")],
        ..BASE
    },
    Case {
        desc: "xForwardedHost from req host",
        host: "foo.com:8080",
        expected: &[(HOST, "foo.com:8080")],
        ..BASE
    },
    // "xForwardedServer from req XForwarded" replaces the host name by the test's; ours is
    // checked against the machine's in `the_server_is_the_host_name` below.
    Case {
        desc: "Untrusted: Connection header has no effect on X- forwarded headers",
        incoming: &[
            (
                "Connection",
                "X-Forwarded-Proto, X-Forwarded-For, X-Forwarded-Uri, X-Forwarded-Method, \
                 X-Forwarded-Host, X-Forwarded-Port, X-Forwarded-Tls-Client-Cert, \
                 X-Forwarded-Tls-Client-Cert-Info, X-Forwarded-Prefix, X-Real-Ip, \
                 X_forwarded_proto",
            ),
            (PROTO, "foo"),
            (XFF, "foo"),
            (URI, "foo"),
            (METHOD, "foo"),
            (HOST, "foo"),
            (PORT, "foo"),
            (CERT, "foo"),
            (INFO, "foo"),
            (PREFIX, "foo"),
            (REAL_IP, "foo"),
            ("X_forwarded_proto", "spoofed"),
        ],
        expected: FOO_REPLACED,
        ..BASE
    },
    Case {
        desc: "Trusted (insecure): Connection header has no effect on X- forwarded headers",
        insecure: true,
        incoming: FOO_NAMED_BY_CONNECTION,
        expected: FOO_KEPT,
        ..BASE
    },
    Case {
        desc: "Trusted (insecure) and Connection: Testing case sensitivity on X- forwarded headers",
        insecure: true,
        incoming: FOO_NAMED_LOWERCASE,
        expected: FOO_KEPT,
        ..BASE
    },
    // "Connection: one remove, and one passthrough header" needs `connectionHeaders`; its
    // removal half is here (a header `Connection` names does not reach the backend: Go's
    // reverse proxy removes the passed-through one too).
    Case {
        desc: "Connection: one remove, and one passthrough header",
        incoming: &[
            ("Connection", "foo"),
            ("Connection", "bar"),
            ("Foo", "bar"),
            ("Bar", "foo"),
        ],
        expected: &[("Bar", ""), ("Foo", ""), ("Connection", "")],
        ..BASE
    },
    Case {
        desc: "insecure false preserves non-matching underscore headers",
        remote: "10.0.1.101:80",
        incoming: &[
            ("X_custom_header", "value"),
            ("X_forwarded_proto", "spoofed"),
        ],
        expected: &[("X_custom_header", "value"), ("X_forwarded_proto", "")],
        ..BASE
    },
];

fn entry_point(c: &Case) -> crate::config::EntryPoint {
    let mut env = HashMap::new();
    env.insert(
        "TRAEFIK_ENTRYPOINTS_WEB_ADDRESS".to_owned(),
        ":80".to_owned(),
    );
    if c.insecure {
        env.insert(
            "TRAEFIK_ENTRYPOINTS_WEB_FORWARDEDHEADERS_INSECURE".to_owned(),
            "true".to_owned(),
        );
    }
    if !c.trusted.is_empty() {
        env.insert(
            "TRAEFIK_ENTRYPOINTS_WEB_FORWARDEDHEADERS_TRUSTEDIPS".to_owned(),
            c.trusted.to_owned(),
        );
    }
    let config = crate::config::Config::from_env(&env).unwrap_or_else(|e| panic!("{e}"));
    config.entry_point("web").unwrap().clone()
}

/// The headers the backend receives for the row's request.
fn run(c: &Case) -> HeaderMap {
    let ep = entry_point(c);
    let remote = if c.remote.is_empty() {
        "192.0.2.1:1234"
    } else {
        c.remote
    };
    let peer: SocketAddr = remote.parse().unwrap();
    let trusted = ep.forwarded.trusts(client_ip(peer));
    let mut h = HeaderMap::new();
    if !c.host.is_empty() {
        h.insert(header::HOST, HeaderValue::from_str(c.host).unwrap());
    }
    if c.websocket {
        h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    }
    for (k, v) in c.incoming {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    let client = client_text(peer);
    let host = super::request_host(c.host);
    let inbound = Inbound {
        entrypoint: "web",
        scheme: if c.tls { "https" } else { "http" },
        peer,
        trusted,
        ep: &ep,
        tls_options: "",
        client_certs: None,
        client: &client,
        host: &host,
        method: &Method::GET,
        path: "/",
        query: None,
        has_body: false,
    };
    entry_point_forwarded(trusted, &mut h);
    backend_headers(&inbound, (false, &[]), h, c.websocket, || None)
}

fn get<'a>(h: &'a HeaderMap, k: &str) -> &'a str {
    h.get(k).map_or("", |v| v.to_str().unwrap())
}

#[test]
fn serve_http() {
    let mut wrong = Vec::new();
    for c in SERVE_HTTP {
        let h = run(c);
        for (k, want) in c.expected {
            let got = get(&h, k);
            if got != *want {
                wrong.push(format!("{}: {k}: {got:?}, Traefik {want:?}", c.desc));
            }
        }
        for k in c.absent {
            if h.contains_key(*k) {
                wrong.push(format!("{}: {k} present", c.desc));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

// forwarded_header_test.go, TestServeHTTP "xForwardedServer from req XForwarded": the
// router's host name, whatever the client sent.
#[test]
fn the_server_is_the_host_name() {
    let c = Case {
        insecure: true,
        incoming: &[("X-Forwarded-Server", "client.example")],
        ..BASE
    };
    let h = run(&c);
    let want = super::hostname().map_or("", |v| v.to_str().unwrap());
    assert_eq!(get(&h, "X-Forwarded-Server"), want);
}

// forwarded_header_test.go, Test_isWebsocketRequest: Connection, Upgrade, a WebSocket
// handshake (X-Forwarded-Proto `ws`). Ours: the backend's X-Forwarded-Proto for a request
// asking for that upgrade.
#[test]
fn is_websocket_request() {
    let rows: &[(&str, &str, bool)] = &[
        ("foo,upgrade,bar", "websocket", true),
        ("foo,bar,upgrade", "websocket", true),
        ("upgrade,foo,bar", "websocket", true),
        ("foo,bar", "websocket", false),
        ("", "websocket", false),
        ("foo,bar", "foo,bar", false),
        ("upgrade", "foo,bar,websocket", true),
    ];
    let mut wrong = Vec::new();
    for (connection, upgrade, ws) in rows {
        let incoming: &'static [(&'static str, &'static str)] = Box::leak(Box::new([
            ("Connection", *connection),
            ("Upgrade", *upgrade),
        ]));
        let c = Case {
            incoming,
            insecure: true,
            ..BASE
        };
        let asked = connection.split(',').any(|t| t.trim() == "upgrade");
        let ep = entry_point(&c);
        let peer: SocketAddr = "192.0.2.1:1234".parse().unwrap();
        let client = client_text(peer);
        let mut h = HeaderMap::new();
        for (k, v) in c.incoming {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        let inbound = Inbound {
            entrypoint: "web",
            scheme: "http",
            peer,
            trusted: true,
            ep: &ep,
            tls_options: "",
            client_certs: None,
            client: &client,
            host: "",
            method: &Method::GET,
            path: "/",
            query: None,
            has_body: false,
        };
        let h = backend_headers(&inbound, (false, &[]), h, asked, || None);
        let want = if *ws { "ws" } else { "http" };
        if get(&h, PROTO) != want {
            wrong.push(format!(
                "{connection:?} {upgrade:?}: {:?}, Traefik {want:?}",
                get(&h, PROTO)
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

// forwarded_header_test.go, TestConnection (without `connectionHeaders`), as the backend
// sees it after Go's reverse proxy: what `Connection` names is removed, an upgrade keeps
// `Upgrade` and `Connection: Upgrade`.
#[test]
fn connection() {
    let rows: &[(Headers, bool, Headers)] = &[
        (&[("Foo", "bar"), ("Connection", "foo")], false, &[]),
        (
            &[
                ("Upgrade", "test"),
                ("Foo", "bar"),
                ("Connection", "upgrade,foo"),
            ],
            true,
            &[("Upgrade", "test"), ("Connection", "Upgrade")],
        ),
        (
            &[("Foo", "bar"), ("Connection", "fii")],
            false,
            &[("Foo", "bar")],
        ),
    ];
    let c = Case {
        insecure: true,
        ..BASE
    };
    let ep = entry_point(&c);
    let peer: SocketAddr = "192.0.2.1:1234".parse().unwrap();
    for (incoming, upgrade, want) in rows {
        let mut h = HeaderMap::new();
        for (k, v) in *incoming {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        let inbound = Inbound {
            entrypoint: "web",
            scheme: "https",
            peer,
            trusted: true,
            ep: &ep,
            tls_options: "",
            client_certs: None,
            client: "192.0.2.1",
            host: "localhost",
            method: &Method::GET,
            path: "/",
            query: None,
            has_body: false,
        };
        let mut h = backend_headers(&inbound, (false, &[]), h, *upgrade, || None);
        // Only the headers the row is about.
        let ours: Vec<(String, String)> = h
            .drain()
            .filter_map(|(k, v)| Some((k?.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .filter(|(k, _)| !k.starts_with("x-") && k != "host")
            .collect();
        let mut ours = ours;
        ours.sort();
        let mut want: Vec<(String, String)> = want
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), (*v).to_owned()))
            .collect();
        want.sort();
        assert_eq!(ours, want, "{incoming:?}");
    }
}

// static/entrypoints.go ForwardedHeaders: `connection`, `notAppendXForwardedFor` and
// `addXForwardedSchemeHeaders` (TestServeHTTP's rows with `connectionHeaders` and
// `addSchemeHeaders`, TestConnection's "no remove because connection header pass through")
// are options the router refuses, naming the key, rather than ignore.
#[test]
fn not_read() {
    for key in [
        "CONNECTION",
        "NOTAPPENDXFORWARDEDFOR",
        "ADDXFORWARDEDSCHEMEHEADERS",
    ] {
        let mut env = HashMap::new();
        env.insert(
            "TRAEFIK_ENTRYPOINTS_WEB_ADDRESS".to_owned(),
            ":80".to_owned(),
        );
        env.insert(
            format!("TRAEFIK_ENTRYPOINTS_WEB_FORWARDEDHEADERS_{key}"),
            "true".to_owned(),
        );
        assert!(crate::config::Config::from_env(&env).is_err(), "{key}");
    }
}
