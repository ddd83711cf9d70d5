//! The key-value providers' layout (`providers.etcd`, `providers.redis`; Consul and ZooKeeper
//! use the same one in Traefik): one key per setting under the root key,
//! `traefik/http/routers/my-router/rule = Host(`a.test`)`. Pure: the stores' clients live in
//! [`crate::kv`].
//!
//! Read as Traefik's `kv.Decode` reads them:
//! - only keys under `<rootKey>/http`, `/tcp`, `/udp` and `/tls` (section names in any case)
//!   are configuration; other keys under the root are left out (a store holds other things:
//!   cluster mode's generation key, for one), and counted for the log;
//! - a numeric segment is a list index: `entryPoints/0 = web` and `entryPoints/1 = websecure`
//!   are a list of names, `servers/0/url` the first server's URL (Traefik joins lists of values
//!   in the keys' text order, so `/10` before `/2`; here they are in numeric order);
//! - empty segments are dropped (`traefik//http` is `traefik/http`), as Go's `FieldsFunc` does;
//! - the tree is then decoded exactly as a dynamic configuration file is, so every key a
//!   file takes works in a store too (TLS certificates as file paths or PEM text) and an
//!   unknown key is an error naming it.

use crate::dynamic::{Issue, Snapshot};
use crate::provider::file::{self, Parsed};
use crate::tree::{DecodeError, FlatStyle, Node};

/// The sections a dynamic configuration has; other keys under the root are not read.
pub const SECTIONS: [&str; 4] = ["http", "tcp", "udp", "tls"];

/// What the pairs under a root key hold.
#[derive(Debug)]
pub struct Read {
    /// The configuration tree.
    pub root: Node,
    /// Keys that do not make a tree (a value that also has keys under it).
    pub errors: Vec<DecodeError>,
    /// Keys under the root that are not configuration.
    pub ignored: Vec<String>,
}

/// The root key as stores list it: without leading or trailing slashes (`/traefik/` is
/// `traefik`).
pub fn normalize_root(root: &str) -> &str {
    root.trim_matches('/')
}

/// The configuration tree of `pairs` (key, value) under `root`.
pub fn tree(root: &str, pairs: &[(String, String)]) -> Read {
    let root = normalize_root(root);
    let mut entries = Vec::new();
    let mut ignored = Vec::new();
    for (key, value) in pairs {
        let Some(rest) = key
            .trim_start_matches('/')
            .strip_prefix(root)
            .and_then(|r| r.strip_prefix('/'))
        else {
            ignored.push(key.clone());
            continue;
        };
        let parts: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
        let in_section = parts
            .first()
            .is_some_and(|s| SECTIONS.iter().any(|k| k.eq_ignore_ascii_case(s)));
        if !in_section || parts.len() < 2 {
            ignored.push(key.clone());
            continue;
        }
        entries.push((key.clone(), segments(&parts), value.clone()));
    }
    let (root, errors) = Node::from_flat(root, FlatStyle::SLASHED, entries);
    Read {
        root,
        errors,
        ignored,
    }
}

/// Key parts -> tree segments: a numeric part indexes the part before it (`servers/0/url` is
/// `servers[0]`, `url`).
fn segments(parts: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(parts.len());
    for p in parts {
        match out.last_mut() {
            Some(prev) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                prev.push('[');
                prev.push_str(p);
                prev.push(']');
            }
            _ => out.push((*p).to_owned()),
        }
    }
    out
}

/// Provider `provider`'s snapshot from the pairs under `root`, decoded as a dynamic
/// configuration file is. Certificates are loaded by the caller (that is I/O).
pub fn snapshot(provider: &str, root: &str, pairs: &[(String, String)]) -> Snapshot {
    snapshot_of(provider, root, tree(root, pairs))
}

/// [`snapshot`] from the tree already read.
pub fn snapshot_of(provider: &str, root: &str, read: Read) -> Snapshot {
    let source = format!("{provider} {}", normalize_root(root));
    let mut snap = file::snapshot(&[Parsed {
        path: source.clone().into(),
        root: read.root,
    }]);
    snap.provider = provider.to_owned();
    for e in read.errors {
        snap.issues.push(Issue {
            source: source.clone(),
            level: "error",
            key: Some(e.key),
            message: format!("{}; the key is not read", e.message),
        });
    }
    snap
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn traefik_layout_decodes_like_a_file() {
        let p = pairs(&[
            ("traefik/http/routers/Router0/rule", "Host(`a.test`)"),
            ("traefik/http/routers/Router0/entryPoints/0", "web"),
            ("traefik/http/routers/Router0/entryPoints/1", "websecure"),
            ("traefik/http/routers/Router0/middlewares/0", "strip"),
            ("traefik/http/routers/Router0/service", "svc"),
            ("traefik/http/routers/Router0/tls/certResolver", "le"),
            ("traefik/http/routers/Router0/tls/domains/0/main", "a.test"),
            (
                "traefik/http/routers/Router0/tls/domains/0/sans/0",
                "b.test",
            ),
            (
                "traefik/http/services/svc/loadBalancer/servers/0/url",
                "http://10.0.0.1:80",
            ),
            (
                "traefik/http/services/svc/loadBalancer/servers/1/url",
                "http://10.0.0.2:80",
            ),
            (
                "traefik/http/middlewares/strip/stripPrefix/prefixes/0",
                "/api",
            ),
            ("traefik/tcp/routers/t/rule", "HostSNI(`*`)"),
            ("traefik/tcp/routers/t/service", "ts"),
            (
                "traefik/tcp/services/ts/loadBalancer/servers/0/address",
                "10.0.0.3:5432",
            ),
        ]);
        let snap = snapshot("etcd", "traefik", &p);
        assert!(snap.issues.is_empty(), "{:?}", snap.issues);
        assert_eq!(snap.provider, "etcd");
        let r = &snap.config.http.routers["Router0"];
        assert_eq!(r.rule, "Host(`a.test`)");
        assert_eq!(r.entry_points, ["web", "websecure"]);
        assert_eq!(r.middlewares, ["strip"]);
        assert_eq!(r.tls.as_ref().unwrap().cert_resolver, "le");
        let s = &snap.config.http.services["svc"];
        assert_eq!(
            format!("{s:?}").matches("url: \"http://10.0.0.").count(),
            2,
            "{s:?}"
        );
        assert!(snap.config.http.middlewares.contains_key("strip"));
        assert!(snap.config.tcp.routers.contains_key("t"));
    }

    #[test]
    fn other_keys_under_the_root_and_elsewhere_are_left_out() {
        let p = pairs(&[
            ("traefik/generation", "7"),
            ("traefik/HTTP/routers/r/rule", "Host(`a.test`)"),
            ("traefik/http/routers/r/service", "s"),
            ("traefikfoo/http/routers/x/rule", "Host(`x`)"),
            ("other/http/routers/y/rule", "Host(`y`)"),
        ]);
        let read = tree("/traefik/", &p);
        assert_eq!(
            read.ignored,
            [
                "traefik/generation",
                "traefikfoo/http/routers/x/rule",
                "other/http/routers/y/rule"
            ]
        );
        let snap = snapshot("redis", "traefik", &p);
        assert_eq!(snap.config.http.routers.len(), 1);
        assert_eq!(snap.config.http.routers["r"].service, "s");
    }

    #[test]
    fn numeric_lists_keep_numeric_order_and_unknown_keys_are_named() {
        let mut p = Vec::new();
        for i in 0..12 {
            p.push((
                format!("traefik/http/routers/r/entryPoints/{i}"),
                format!("ep{i}"),
            ));
        }
        p.push(("traefik/http/routers/r/service".into(), "s".into()));
        p.push(("traefik/http/routers/r/rule".into(), "Path(`/`)".into()));
        p.push(("traefik/http/routers/r/bogus".into(), "1".into()));
        let snap = snapshot("etcd", "traefik", &p);
        let eps: Vec<String> = (0..12).map(|i| format!("ep{i}")).collect();
        // `bogus` disables the router: it is reported with its key.
        assert!(
            snap.issues
                .iter()
                .any(|i| i.key.as_deref() == Some("traefik/http/routers/r/bogus")),
            "{:?}",
            snap.issues
        );
        p.pop();
        let snap = snapshot("etcd", "traefik", &p);
        assert_eq!(snap.config.http.routers["r"].entry_points, eps);
    }

    #[test]
    fn a_value_with_keys_under_it_is_an_error_naming_the_key() {
        let p = pairs(&[
            ("traefik/http/routers/r", "x"),
            ("traefik/http/routers/r/rule", "Host(`a`)"),
        ]);
        let snap = snapshot("etcd", "traefik", &p);
        assert!(
            snap.issues
                .iter()
                .any(|i| i.key.as_deref() == Some("traefik/http/routers/r/rule")),
            "{:?}",
            snap.issues
        );
    }

    #[test]
    fn empty_segments_are_dropped() {
        let p = pairs(&[
            ("traefik//http/routers/r/rule", "Host(`a`)"),
            ("traefik/http//routers/r/service", "s"),
        ]);
        let snap = snapshot("etcd", "traefik", &p);
        assert!(snap.issues.is_empty(), "{:?}", snap.issues);
        assert_eq!(snap.config.http.routers["r"].service, "s");
    }
}

/// Traefik's KV tables as data: pkg/config/kv/kv_node_test.go (how keys become a tree),
/// pkg/config/kv/kv_test.go (the tree decoded) and pkg/provider/kv/kv_test.go (a whole
/// dynamic configuration from keys).
#[cfg(test)]
mod traefik_tables {
    use super::*;
    use crate::tree::Value;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// A tree as text: `name=value`, `name{children}`. A list of values is written joined
    /// by commas, as Traefik's filterPairs joins `x/0`, `x/1` into one value `x` (the
    /// router keeps the items apart; both decode to the same list).
    fn show(n: &Node) -> String {
        match &n.value {
            Value::Leaf(v) => format!("{}={v}", n.name),
            Value::List(c) if c.iter().all(|i| matches!(i.value, Value::Leaf(_))) => {
                let items: Vec<String> = c.iter().map(|i| i.text().unwrap().to_owned()).collect();
                format!("{}={}", n.name, items.join(","))
            }
            Value::Map(c) | Value::List(c) => {
                let inner: Vec<String> = c.iter().map(show).collect();
                format!("{}{{{}}}", n.name, inner.join(" "))
            }
        }
    }

    // TestDecodeToNode (kv_node_test.go). Traefik's decoding filters keys by the root's
    // field names (`traefik/HTTP`, `traefik/TCP`, ...), so each key is put under `http` here,
    // and the tree compared is the one under it.
    #[test]
    fn decode_to_node() {
        type Keys<'a> = &'a [(&'a str, &'a str)];
        let cases: &[(&str, Keys, &str)] = &[
            ("level 1", &[("foo", "bar")], "http{foo=bar}"),
            ("level 1 empty value", &[("foo", "")], "http{foo=}"),
            ("level 2", &[("foo/bar", "bar")], "http{foo{bar=bar}}"),
            (
                "several entries, level 1",
                &[("foo", "bar"), ("fii", "bur")],
                "http{fii=bur foo=bar}",
            ),
            (
                "several entries, level 2",
                &[("foo/aaa", "bar"), ("foo/bbb", "bur")],
                "http{foo{aaa=bar bbb=bur}}",
            ),
            (
                "several entries, level 2, case-insensitive",
                &[("foo/aaa", "bar"), ("Foo/bbb", "bur")],
                "http{Foo{bbb=bur aaa=bar}}",
            ),
            (
                "several entries, level 2, 3 children",
                &[("foo/aaa", "bar"), ("foo/bbb", "bur"), ("foo/ccc", "bir")],
                "http{foo{aaa=bar bbb=bur ccc=bir}}",
            ),
            (
                "several entries, level 3",
                &[("foo/bar/aaa", "bar"), ("foo/bar/bbb", "bur")],
                "http{foo{bar{aaa=bar bbb=bur}}}",
            ),
            (
                "several entries, level 3, 2 children level 1",
                &[
                    ("foo/bar/aaa", "bar"),
                    ("foo/bar/bbb", "bur"),
                    ("bar/foo/bbb", "bir"),
                ],
                "http{bar{foo{bbb=bir}} foo{bar{aaa=bar bbb=bur}}}",
            ),
            (
                "several entries, slice syntax",
                &[
                    ("foo/0/aaa", "bar0"),
                    ("foo/0/bbb", "bur0"),
                    ("foo/1/aaa", "bar1"),
                    ("foo/1/bbb", "bur1"),
                ],
                "http{foo{[0]{aaa=bar0 bbb=bur0} [1]{aaa=bar1 bbb=bur1}}}",
            ),
            (
                "several entries, slice in slice of struct",
                &[
                    ("foo/0/aaa/0", "bar0"),
                    ("foo/0/aaa/1", "bar1"),
                    ("foo/1/aaa/0", "bar2"),
                    ("foo/1/aaa/1", "bar3"),
                ],
                "http{foo{[0]{aaa=bar0,bar1} [1]{aaa=bar2,bar3}}}",
            ),
        ];
        for (desc, keys, want) in cases {
            let p: Vec<(String, String)> = keys
                .iter()
                .map(|(k, v)| (format!("traefik/http/{k}"), (*v).to_owned()))
                .collect();
            let r = tree("traefik", &p);
            assert!(r.errors.is_empty(), "{desc}: {:?}", r.errors);
            let http = r.root.get("http").unwrap();
            assert_eq!(show(http), *want, "{desc}");
        }
        // "no label": nothing.
        let r = tree("traefik", &[]);
        assert!(r.root.children().is_empty() && r.errors.is_empty());
        // "several entries, level 0" (`traefik`, `traefik_`) is an error of DecodeToNode
        // alone; the provider's filters leave those keys out first, as here.
        let r = tree(
            "traefik",
            &pairs(&[("traefik", "bar"), ("traefik_", "bur")]),
        );
        assert!(r.root.children().is_empty() && r.errors.is_empty());
        assert_eq!(r.ignored, ["traefik", "traefik_"]);
        // "several entries, prefix filter": the filter matches without case.
        let r = tree("traefik", &pairs(&[("traefik/HTTP/foo", "bar")]));
        assert_eq!(show(r.root.get("http").unwrap()), "HTTP{foo=bar}");
    }

    // TestDecode (kv_test.go): the sample's fields played by dynamic configuration keys —
    // fielda a string (rule), fieldb a number (priority), fieldc a boolean (tls passthrough),
    // fieldd a list of strings (entryPoints), fielde an empty value for a section that may
    // be empty (tls), fieldf a map (customRequestHeaders), fieldg a list of sections
    // (weighted services), fieldh a key with a trailing slash; under a one-level and a
    // multi-level root.
    #[test]
    fn decode() {
        for root in ["traefik", "foo/bar/traefik"] {
            let k = |s: &str| format!("{root}/{s}");
            let p: Vec<(String, String)> = [
                ("http/routers/r/rule", "Host(`a.test`)"),
                ("http/routers/r/priority", "1"),
                ("http/routers/r/entryPoints/0", "one"),
                ("http/routers/r/entryPoints/1", "two"),
                ("http/routers/r/tls", ""),
                ("http/routers/r/service/", "w"),
                ("http/middlewares/m/headers/customRequestHeaders/Test1", "A"),
                ("http/middlewares/m/headers/customRequestHeaders/Test2", "B"),
                ("http/services/w/weighted/services/0/name", "A"),
                ("http/services/w/weighted/services/1/name", "B"),
                ("tcp/routers/t/rule", "HostSNI(`a.test`)"),
                ("tcp/routers/t/service", "ts"),
                ("tcp/routers/t/tls/passthrough", "true"),
            ]
            .iter()
            .map(|(key, v)| (k(key), (*v).to_owned()))
            .collect();
            let snap = snapshot("etcd", root, &p);
            let errors: Vec<_> = snap.issues.iter().filter(|i| i.level == "error").collect();
            assert!(errors.is_empty(), "{root}: {errors:?}");
            let r = &snap.config.http.routers["r"];
            assert_eq!(r.rule, "Host(`a.test`)");
            assert_eq!(r.priority, 1);
            assert_eq!(r.entry_points, ["one", "two"]);
            assert_eq!(r.service, "w", "{root}: fieldh/ is fieldh");
            assert!(
                r.tls.is_some(),
                "{root}: an empty value is an empty section"
            );
            let m = format!("{:?}", snap.config.http.middlewares["m"]);
            assert!(
                m.contains("\"Test1\", \"A\"") && m.contains("\"Test2\", \"B\""),
                "{root}: {m}"
            );
            let w = format!("{:?}", snap.config.http.services["w"]);
            assert!(w.contains("\"A\"") && w.contains("\"B\""), "{w}");
            assert!(
                format!("{:?}", snap.config.tcp.routers["t"]).contains("passthrough: true"),
                "{:?}",
                snap.config.tcp.routers["t"]
            );
        }
    }

    // Test_buildConfiguration (pkg/provider/kv/kv_test.go): the keys of every kind, with the
    // test's "foobar" values replaced by ones the router accepts (it checks rules, URLs and
    // addresses when reading; Traefik later).
    #[test]
    fn build_configuration() {
        let p = pairs(&[
            ("traefik/http/routers/Router0/entryPoints/0", "web"),
            ("traefik/http/routers/Router0/entryPoints/1", "websecure"),
            ("traefik/http/routers/Router0/middlewares/0", "Middleware00"),
            ("traefik/http/routers/Router0/middlewares/1", "Middleware19"),
            ("traefik/http/routers/Router0/service", "Service01"),
            ("traefik/http/routers/Router0/rule", "Host(`a.test`)"),
            ("traefik/http/routers/Router0/priority", "42"),
            ("traefik/http/routers/Router0/tls", ""),
            ("traefik/http/routers/Router1/rule", "Host(`b.test`)"),
            ("traefik/http/routers/Router1/priority", "42"),
            ("traefik/http/routers/Router1/tls/domains/0/main", "b.test"),
            (
                "traefik/http/routers/Router1/tls/domains/0/sans/0",
                "c.test",
            ),
            (
                "traefik/http/routers/Router1/tls/domains/0/sans/1",
                "d.test",
            ),
            ("traefik/http/routers/Router1/tls/domains/1/main", "e.test"),
            (
                "traefik/http/routers/Router1/tls/domains/1/sans/0",
                "f.test",
            ),
            ("traefik/http/routers/Router1/tls/options", "Options0"),
            ("traefik/http/routers/Router1/tls/certResolver", "le"),
            ("traefik/http/routers/Router1/service", "Service03"),
            (
                "traefik/http/services/Service01/loadBalancer/healthCheck/path",
                "/health",
            ),
            (
                "traefik/http/services/Service01/loadBalancer/healthCheck/port",
                "42",
            ),
            (
                "traefik/http/services/Service01/loadBalancer/healthCheck/interval",
                "1s",
            ),
            (
                "traefik/http/services/Service01/loadBalancer/healthCheck/timeout",
                "1s",
            ),
            (
                "traefik/http/services/Service01/loadBalancer/healthCheck/headers/name0",
                "v0",
            ),
            (
                "traefik/http/services/Service01/loadBalancer/healthCheck/headers/name1",
                "v1",
            ),
            (
                "traefik/http/services/Service01/loadBalancer/passHostHeader",
                "true",
            ),
            (
                "traefik/http/services/Service01/loadBalancer/sticky/cookie/name",
                "c",
            ),
            (
                "traefik/http/services/Service01/loadBalancer/sticky/cookie/secure",
                "true",
            ),
            (
                "traefik/http/services/Service01/loadBalancer/sticky/cookie/httpOnly",
                "true",
            ),
            (
                "traefik/http/services/Service01/loadBalancer/servers/0/url",
                "http://10.0.0.1:80",
            ),
            (
                "traefik/http/services/Service01/loadBalancer/servers/1/url",
                "http://10.0.0.2:80",
            ),
            (
                "traefik/http/services/Service02/mirroring/service",
                "Service01",
            ),
            (
                "traefik/http/services/Service02/mirroring/mirrorBody",
                "true",
            ),
            (
                "traefik/http/services/Service02/mirroring/maxBodySize",
                "42",
            ),
            (
                "traefik/http/services/Service02/mirroring/mirrors/0/name",
                "Service01",
            ),
            (
                "traefik/http/services/Service02/mirroring/mirrors/0/percent",
                "42",
            ),
            (
                "traefik/http/services/Service03/weighted/services/0/name",
                "Service01",
            ),
            (
                "traefik/http/services/Service03/weighted/services/0/weight",
                "42",
            ),
            (
                "traefik/http/services/Service03/weighted/services/1/name",
                "Service02",
            ),
            (
                "traefik/http/services/Service03/weighted/services/1/weight",
                "42",
            ),
            (
                "traefik/http/services/Service04/failover/service",
                "Service01",
            ),
            (
                "traefik/http/services/Service04/failover/fallback",
                "Service03",
            ),
            (
                "traefik/http/middlewares/Middleware00/addPrefix/prefix",
                "/p",
            ),
            (
                "traefik/http/middlewares/Middleware19/stripPrefix/prefixes/0",
                "/a",
            ),
            (
                "traefik/http/middlewares/Middleware19/stripPrefix/prefixes/1",
                "/b",
            ),
            (
                "traefik/http/middlewares/Middleware19/stripPrefix/forceSlash",
                "true",
            ),
            (
                "traefik/http/middlewares/Middleware10/ipAllowList/sourceRange/0",
                "10.0.0.0/8",
            ),
            (
                "traefik/http/middlewares/Middleware10/ipAllowList/sourceRange/1",
                "::1/128",
            ),
            (
                "traefik/http/middlewares/Middleware10/ipAllowList/ipStrategy/depth",
                "42",
            ),
            ("traefik/tcp/routers/TCPRouter0/entryPoints/0", "tcp"),
            ("traefik/tcp/routers/TCPRouter0/rule", "HostSNI(`a.test`)"),
            ("traefik/tcp/routers/TCPRouter0/service", "TCPService01"),
            ("traefik/tcp/routers/TCPRouter0/tls/passthrough", "true"),
            (
                "traefik/tcp/services/TCPService01/loadBalancer/servers/0/address",
                "10.0.0.3:5432",
            ),
            (
                "traefik/tcp/services/TCPService01/loadBalancer/servers/1/address",
                "10.0.0.4:5432",
            ),
            (
                "traefik/tcp/services/TCPService02/weighted/services/0/name",
                "TCPService01",
            ),
            (
                "traefik/tcp/services/TCPService02/weighted/services/0/weight",
                "42",
            ),
            ("traefik/udp/routers/UDPRouter0/entrypoints/0", "udp"),
            ("traefik/udp/routers/UDPRouter0/service", "UDPService01"),
            (
                "traefik/udp/services/UDPService01/loadBalancer/servers/0/address",
                "10.0.0.5:53",
            ),
            (
                "traefik/udp/services/UDPService01/loadBalancer/servers/1/address",
                "10.0.0.6:53",
            ),
            ("traefik/tls/options/Options0/minVersion", "VersionTLS12"),
            ("traefik/tls/options/Options0/sniStrict", "true"),
            (
                "traefik/tls/options/Options0/cipherSuites/0",
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            ),
            (
                "traefik/tls/stores/default/defaultCertificate/certFile",
                "/c/d.cert",
            ),
            (
                "traefik/tls/stores/default/defaultCertificate/keyFile",
                "/c/d.key",
            ),
            ("traefik/tls/certificates/0/certFile", "/c/0.cert"),
            ("traefik/tls/certificates/0/keyFile", "/c/0.key"),
            ("traefik/tls/certificates/0/stores/0", "default"),
            ("traefik/tls/certificates/1/certFile", "/c/1.cert"),
            ("traefik/tls/certificates/1/keyFile", "/c/1.key"),
        ]);
        let snap = snapshot("etcd", "traefik", &p);
        let errors: Vec<_> = snap.issues.iter().filter(|i| i.level == "error").collect();
        assert!(errors.is_empty(), "{errors:?}");
        let c = &snap.config;
        let r0 = &c.http.routers["Router0"];
        assert_eq!(r0.entry_points, ["web", "websecure"]);
        assert_eq!(r0.middlewares, ["Middleware00", "Middleware19"]);
        assert_eq!(r0.priority, 42);
        assert!(r0.tls.is_some(), "tls = \"\" is an empty TLS section");
        let t1 = c.http.routers["Router1"].tls.as_ref().unwrap();
        assert_eq!(
            (t1.options.as_str(), t1.cert_resolver.as_str()),
            ("Options0", "le")
        );
        assert_eq!(t1.domains.len(), 2);
        assert_eq!(format!("{:?}", t1.domains[0]).matches(".test").count(), 3);
        let services: Vec<&str> = c.http.services.keys().map(String::as_str).collect();
        assert_eq!(
            services,
            ["Service01", "Service02", "Service03", "Service04"]
        );
        let middlewares: Vec<&str> = c.http.middlewares.keys().map(String::as_str).collect();
        assert_eq!(
            middlewares,
            ["Middleware00", "Middleware10", "Middleware19"]
        );
        assert_eq!(c.tcp.routers.len(), 1);
        assert_eq!(c.tcp.services.len(), 2);
        assert_eq!(c.udp.routers["UDPRouter0"].entry_points, ["udp"]);
        assert_eq!(c.udp.services.len(), 1);
        assert!(c.tls.options["Options0"].sni_strict);
        assert!(c.tls.store.as_ref().unwrap().default_certificate.is_some());
        assert_eq!(c.tls.certificates.len(), 2);
    }

    // paerser's filler (used by kv.Decode): a list of values is one text split on commas,
    // each part trimmed, so `entryPoints/0 = "web, websecure"` is two entry points.
    #[test]
    fn a_list_item_holding_commas_is_several_items() {
        let p = pairs(&[
            ("traefik/http/routers/r/rule", "Host(`a.test`)"),
            ("traefik/http/routers/r/service", "s"),
            ("traefik/http/routers/r/entryPoints/0", "web, websecure"),
            ("traefik/http/routers/r/entryPoints/1", "other"),
        ]);
        let snap = snapshot("redis", "traefik", &p);
        assert_eq!(
            snap.config.http.routers["r"].entry_points,
            ["web", "websecure", "other"]
        );
    }

    // filterPairs orders the values of a list by their keys' text, so `/10` comes before
    // `/2`; the router orders them by number (README, KV providers: "Traefik orders list
    // items by the keys' text (`/10` before `/2`), the router by number").
    #[test]
    fn list_items_in_numeric_order_on_purpose() {
        let mut p: Vec<(String, String)> = (0..11)
            .map(|i| {
                (
                    format!("traefik/http/routers/r/entryPoints/{i}"),
                    format!("e{i}"),
                )
            })
            .collect();
        p.push((
            "traefik/http/routers/r/rule".into(),
            "Host(`a.test`)".into(),
        ));
        p.push(("traefik/http/routers/r/service".into(), "s".into()));
        let snap = snapshot("etcd", "traefik", &p);
        let eps = &snap.config.http.routers["r"].entry_points;
        assert_eq!(
            (eps[1].as_str(), eps[2].as_str(), eps[10].as_str()),
            ("e1", "e2", "e10")
        );
    }
}
