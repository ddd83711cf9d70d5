//! `ROUTER_PUBLISH`: the KV stores a router writes its configuration into, in Traefik's KV
//! layout (cluster mode's atomic publication; Traefik has no equivalent). One or more URLs,
//! separated by spaces:
//!
//! - `etcd://[user:password@]host:port[,host:port...][?rootKey=traefik]`
//! - `redis://[[user]:password@]host:port[?db=0&rootKey=traefik]`
//!
//! `etcds://` and `rediss://` connect with TLS, verified with `ROUTER_PUBLISH_TLS_CA` (else
//! the system's web roots), with `ROUTER_PUBLISH_TLS_CERT` and `ROUTER_PUBLISH_TLS_KEY` as
//! the client certificate. User names and passwords may be percent-encoded. Errors name the
//! variable and the value with its password hidden.

use super::{err, ConfigError};
use crate::dynamic::ClientTls;
use crate::kv::{KvProvider, Store};

/// The variables read here.
pub const VARS: [&str; 4] = [
    "ROUTER_PUBLISH",
    "ROUTER_PUBLISH_TLS_CA",
    "ROUTER_PUBLISH_TLS_CERT",
    "ROUTER_PUBLISH_TLS_KEY",
];

/// The targets `ROUTER_PUBLISH` names (none when unset), with the TLS files.
pub fn targets(
    publish: Option<&str>,
    tls_ca: Option<&str>,
    tls_cert: Option<&str>,
    tls_key: Option<&str>,
) -> Result<Vec<KvProvider>, ConfigError> {
    let Some(publish) = publish else {
        for (k, v) in [
            ("ROUTER_PUBLISH_TLS_CA", tls_ca),
            ("ROUTER_PUBLISH_TLS_CERT", tls_cert),
            ("ROUTER_PUBLISH_TLS_KEY", tls_key),
        ] {
            if let Some(v) = v {
                return Err(err(k, v, "needs ROUTER_PUBLISH"));
            }
        }
        return Ok(Vec::new());
    };
    if tls_cert.is_some() != tls_key.is_some() {
        let (k, v) = match tls_cert {
            Some(c) => ("ROUTER_PUBLISH_TLS_CERT", c),
            None => ("ROUTER_PUBLISH_TLS_KEY", tls_key.unwrap_or_default()),
        };
        return Err(err(
            k,
            v,
            "ROUTER_PUBLISH_TLS_CERT and ROUTER_PUBLISH_TLS_KEY go together",
        ));
    }
    let tls = ClientTls {
        ca: tls_ca.unwrap_or_default().to_owned(),
        cert: tls_cert.unwrap_or_default().to_owned(),
        key: tls_key.unwrap_or_default().to_owned(),
        insecure_skip_verify: false,
    };
    let mut out = Vec::new();
    let mut uses_tls = false;
    for url in publish.split_whitespace() {
        let t = target(url, &tls)
            .map_err(|reason| err("ROUTER_PUBLISH", &hide_password(url), reason))?;
        uses_tls |= t.tls.is_some();
        out.push(t);
    }
    if !uses_tls {
        for (k, v) in [
            ("ROUTER_PUBLISH_TLS_CA", tls_ca),
            ("ROUTER_PUBLISH_TLS_CERT", tls_cert),
        ] {
            if let Some(v) = v {
                return Err(err(
                    k,
                    v,
                    "no ROUTER_PUBLISH target uses TLS (etcds:// or rediss://)",
                ));
            }
        }
    }
    if let Some(t) = out.iter().find(|t| t.tls.is_some()) {
        crate::client_tls::config(t.tls.as_ref())
            .map_err(|e| err("ROUTER_PUBLISH_TLS_CA", tls_ca.unwrap_or_default(), e))?;
    }
    Ok(out)
}

/// One URL.
fn target(url: &str, tls: &ClientTls) -> Result<KvProvider, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or("expected etcd://, etcds://, redis:// or rediss://")?;
    let (store, secure) = match scheme.to_ascii_lowercase().as_str() {
        "etcd" => (Store::Etcd, false),
        "etcds" => (Store::Etcd, true),
        "redis" => (Store::Redis, false),
        "rediss" => (Store::Redis, true),
        _ => {
            return Err(format!(
                "unknown scheme {scheme:?}: expected etcd, etcds, redis or rediss"
            ))
        }
    };
    let mut p = KvProvider::traefik_defaults(store);
    if secure {
        p.tls = Some(tls.clone());
    }
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (userinfo, hosts) = match rest.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, rest),
    };
    if let Some(u) = userinfo {
        let (user, pass) = u.split_once(':').unwrap_or((u, ""));
        p.username = percent_decode(user)?;
        p.password = percent_decode(pass)?;
        if store == Store::Etcd && p.username.is_empty() {
            return Err("etcd authenticates a user: give user:password@".into());
        }
    }
    let hosts = hosts.trim_end_matches('/');
    if hosts.contains('/') {
        return Err("expected no path (the root key is ?rootKey=...)".into());
    }
    p.endpoints = hosts.split(',').map(str::to_owned).collect();
    if let Some(e) = p.endpoints.iter().find(|e| !crate::kv::is_endpoint(e)) {
        return Err(format!("{e:?}: expected host:port"));
    }
    for kv in query.split('&').filter(|s| !s.is_empty()) {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        match (k, store) {
            ("rootKey", _) => {
                p.root_key = percent_decode(v)?;
                if p.root().is_empty() {
                    return Err("rootKey: expected a key such as traefik".into());
                }
            }
            ("db", Store::Redis) => {
                p.db = v
                    .parse::<u16>()
                    .map_err(|_| format!("db={v}: expected a database number from 0"))?
                    .into();
            }
            _ => return Err(format!("unknown parameter {k:?}")),
        }
    }
    Ok(p)
}

fn percent_decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or("a bad %-escape in the user or password")?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "a user or password that is not UTF-8".into())
}

/// The URL with its password replaced, for messages.
pub fn hide_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.rsplit_once('@') {
        Some((u, h)) if u.contains(':') => {
            let user = u.split_once(':').map_or(u, |(user, _)| user);
            format!("{scheme}://{user}:***@{h}")
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(url: &str) -> Result<KvProvider, ConfigError> {
        targets(Some(url), None, None, None).map(|mut v| v.remove(0))
    }

    #[test]
    fn urls_give_the_stores_settings() {
        let e = one("etcd://edge:p%40ss@10.0.0.1:2379,10.0.0.2:2379?rootKey=/edge/").unwrap();
        assert_eq!(e.store, Store::Etcd);
        assert_eq!(e.endpoints, ["10.0.0.1:2379", "10.0.0.2:2379"]);
        assert_eq!((e.username.as_str(), e.password.as_str()), ("edge", "p@ss"));
        assert_eq!(e.root(), "edge");
        assert!(e.tls.is_none());
        let r = one("redis://:pw@redis:6379?db=3").unwrap();
        assert_eq!((r.store, r.db, r.root()), (Store::Redis, 3, "traefik"));
        assert_eq!((r.username.as_str(), r.password.as_str()), ("", "pw"));
        let both = targets(Some("etcd://e:2379  redis://r:6379"), None, None, None).unwrap();
        assert_eq!(both.len(), 2);
        assert!(targets(None, None, None, None).unwrap().is_empty());
    }

    #[test]
    fn bad_urls_are_errors_that_hide_the_password() {
        for (url, says) in [
            ("http://e:2379", "scheme"),
            ("etcd://e", "host:port"),
            ("etcd://:secret@e:2379", "user"),
            ("redis://r:6379/3", "path"),
            ("redis://r:6379?db=x", "db"),
            ("redis://r:6379?bogus=1", "bogus"),
            ("etcd://e:2379?db=1", "db"),
            ("redis://u:secret@r:0", "host:port"),
        ] {
            let e = one(url).unwrap_err();
            assert_eq!(e.var, "ROUTER_PUBLISH");
            assert!(e.reason.contains(says), "{url}: {e}");
            assert!(!e.to_string().contains("secret"), "{url}: {e}");
        }
        let e = targets(None, Some("/ca.pem"), None, None).unwrap_err();
        assert_eq!(e.var, "ROUTER_PUBLISH_TLS_CA");
        let e = targets(Some("redis://r:6379"), Some("/ca.pem"), None, None).unwrap_err();
        assert_eq!(e.var, "ROUTER_PUBLISH_TLS_CA");
        let e = targets(Some("rediss://r:6379"), None, Some("/c.pem"), None).unwrap_err();
        assert_eq!(e.var, "ROUTER_PUBLISH_TLS_CERT");
        let e = targets(
            Some("rediss://r:6379"),
            Some("/nonexistent.pem"),
            None,
            None,
        )
        .unwrap_err();
        assert_eq!(e.var, "ROUTER_PUBLISH_TLS_CA");
    }
}
