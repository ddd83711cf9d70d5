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
        assert_eq!(format!("{s:?}").matches("10.0.0.").count(), 2, "{s:?}");
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
