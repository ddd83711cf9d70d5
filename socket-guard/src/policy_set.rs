//! Several policies in one guard: the named policies of `GUARD_POLICIES_FILE`
//! ([`policies::policy_file`]), each for the clients its `MATCH_*` lines describe, and the
//! environment's policy for every other client.
//!
//! A client is known by what its connection says of it, never by what it sends: the listener
//! it came in on, its address (TCP and TLS), its user and group (unix peer credentials, from
//! the kernel), and the names of its certificate (mutual TLS, verified against
//! `GUARD_TLS_CA`). A policy's `MATCH_*` lines must all hold (each lists alternatives); the
//! first policy in the file that matches is the client's. The choice is made again for every
//! request, so a reload (SIGHUP) applies to open connections' next requests.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use policies::config::{ConfigError, Env, GUARD_POLICIES_FILE};
use policies::policy_file::{self, DEFAULT_NAME};
use policies::Policy;

use crate::config::ListenAddr;

/// What the connection says of a client.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The listener it came in on.
    pub listener: Arc<ListenAddr>,
    /// Its address (TCP and TLS clients).
    pub peer: Option<IpAddr>,
    /// Its user and group ids (unix clients, from `SO_PEERCRED`).
    pub cred: Option<(u32, u32)>,
    /// The DNS names and common name of its verified client certificate (TLS clients).
    pub cert_names: Vec<String>,
    /// The labels of the container it connects from, looked up when the connection opened if
    /// a policy has `MATCH_LABEL` ([`crate::client_labels`]).
    pub labels: Option<Arc<HashMap<String, String>>>,
}

/// Which clients a named policy is for: every non-empty list must hold one of its entries.
#[derive(Debug, Clone, Default)]
pub struct Match {
    listen: Vec<ListenAddr>,
    from: Vec<IpNet>,
    uid: Vec<u32>,
    gid: Vec<u32>,
    cert: Vec<String>,
    /// `key` or `key=value`.
    label: Vec<(String, Option<String>)>,
    /// The lines as written, for `socket-guard policy`.
    text: Vec<String>,
}

impl Match {
    /// Whether `id` is one of the clients.
    pub fn admits(&self, id: &Identity) -> bool {
        let peer = id.peer.map(|ip| match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        });
        (self.listen.is_empty() || self.listen.contains(&id.listener))
            && (self.from.is_empty()
                || peer.is_some_and(|ip| self.from.iter().any(|n| n.contains(&ip))))
            && (self.uid.is_empty() || id.cred.is_some_and(|(uid, _)| self.uid.contains(&uid)))
            && (self.gid.is_empty() || id.cred.is_some_and(|(_, gid)| self.gid.contains(&gid)))
            && (self.cert.is_empty()
                || id
                    .cert_names
                    .iter()
                    .any(|n| self.cert.iter().any(|c| c.eq_ignore_ascii_case(n))))
            && (self.label.is_empty()
                || id.labels.as_ref().is_some_and(|have| {
                    self.label.iter().any(|(k, v)| match (have.get(k), v) {
                        (Some(_), None) => true,
                        (Some(got), Some(want)) => got == want,
                        (None, _) => false,
                    })
                }))
    }

    /// The `MATCH_*` lines of a section; `listeners` are the guard's own.
    fn parse(
        path: &str,
        section: &str,
        lines: &[(usize, String, String)],
        listeners: &[ListenAddr],
    ) -> Result<Match, ConfigError> {
        let mut m = Match::default();
        for (n, key, value) in lines {
            let at = |reason: String| {
                ConfigError::new(
                    GUARD_POLICIES_FILE,
                    path,
                    format!("line {n}: [{section}] {key}={value:?}: {reason}"),
                )
            };
            let items = value.split(',').map(str::trim).filter(|s| !s.is_empty());
            match key.as_str() {
                "MATCH_LISTEN" => {
                    for item in items {
                        let addr = crate::config::parse_listen_list(key, item)
                            .map_err(|e| at(e.reason))?
                            .remove(0);
                        if !listeners.contains(&addr) {
                            return Err(at(format!("{addr} is not one of GUARD_LISTEN's")));
                        }
                        m.listen.push(addr);
                    }
                }
                "MATCH_FROM" => m
                    .from
                    .extend(crate::config::parse_cidrs(key, value).map_err(|e| at(e.reason))?),
                "MATCH_UID" | "MATCH_GID" => {
                    for item in items {
                        let id: u32 = item
                            .parse()
                            .map_err(|_| at(format!("{item:?}: expected a numeric id")))?;
                        if key == "MATCH_UID" {
                            &mut m.uid
                        } else {
                            &mut m.gid
                        }
                        .push(id);
                    }
                }
                "MATCH_CERT" => m.cert.extend(items.map(str::to_owned)),
                "MATCH_LABEL" => m.label.extend(items.map(|l| match l.split_once('=') {
                    Some((k, v)) => (k.trim().to_owned(), Some(v.trim().to_owned())),
                    None => (l.to_owned(), None),
                })),
                _ => return Err(at(
                    "unknown match (MATCH_LISTEN, MATCH_FROM, MATCH_UID, MATCH_GID, MATCH_CERT or MATCH_LABEL)"
                        .into(),
                )),
            }
            m.text.push(format!("{key}={value}"));
        }
        if m.listen.is_empty()
            && m.from.is_empty()
            && m.uid.is_empty()
            && m.gid.is_empty()
            && m.cert.is_empty()
            && m.label.is_empty()
        {
            let n = lines.first().map_or(0, |l| l.0);
            return Err(ConfigError::new(
                GUARD_POLICIES_FILE,
                path,
                format!("line {n}: [{section}] its MATCH_ lines list nothing"),
            ));
        }
        Ok(m)
    }
}

/// A named policy of the file.
#[derive(Debug, Clone)]
pub struct Named {
    /// Its name.
    pub name: Arc<str>,
    /// Whom it is for.
    pub matcher: Match,
    /// What it allows.
    pub policy: Arc<Policy>,
}

/// `GUARD_POLICIES_FILE`, read with `read_file`, checked against the guard's `listeners`.
pub fn from_file(
    env: &impl Env,
    read_file: &impl Fn(&str) -> Result<String, String>,
    listeners: &[ListenAddr],
) -> Result<Vec<Named>, ConfigError> {
    let Some(path) = env
        .get(GUARD_POLICIES_FILE)
        .filter(|p| !p.trim().is_empty())
    else {
        return Ok(Vec::new());
    };
    let text = read_file(&path).map_err(|e| ConfigError::new(GUARD_POLICIES_FILE, &path, e))?;
    policy_file::parse(&path, &text, read_file)?
        .into_iter()
        .map(|s| {
            Ok(Named {
                matcher: Match::parse(&path, &s.name, &s.matches, listeners)?,
                name: Arc::from(s.name),
                policy: Arc::new(s.policy),
            })
        })
        .collect()
}

/// Every policy in force, swapped whole on reload.
#[derive(Debug)]
pub struct PolicySet {
    default_name: Arc<str>,
    default: Arc<Policy>,
    named: Vec<Named>,
}

impl PolicySet {
    /// The environment's policy for every client, and the named ones for those they match.
    pub fn new(default: Policy, named: Vec<Named>) -> PolicySet {
        PolicySet {
            default_name: Arc::from(DEFAULT_NAME),
            default: Arc::new(default),
            named,
        }
    }

    /// The environment's policy.
    pub fn default_policy(&self) -> &Arc<Policy> {
        &self.default
    }

    /// The client's policy and its name: the first named one that matches, else the default.
    pub fn select(&self, id: &Identity) -> (&Arc<str>, &Arc<Policy>) {
        self.named
            .iter()
            .find(|n| n.matcher.admits(id))
            .map_or((&self.default_name, &self.default), |n| {
                (&n.name, &n.policy)
            })
    }

    /// Whether a policy names its clients by their container's labels (so a TCP client's
    /// labels are looked up when it connects).
    pub fn needs_labels(&self) -> bool {
        self.named.iter().any(|n| !n.matcher.label.is_empty())
    }

    /// Whether any policy is in warn mode.
    pub fn any_warns(&self) -> bool {
        self.default.warns() || self.named.iter().any(|n| n.policy.warns())
    }

    /// Each policy's allow-list, the named ones first (in the order they are tried).
    pub fn render(&self) -> String {
        let mut out = String::new();
        for n in &self.named {
            out.push_str(&format!(
                "#### policy {} (for clients with {})\n",
                n.name,
                n.matcher.text.join(" and ")
            ));
            out.push_str(&n.policy.render_allow_list());
            out.push('\n');
        }
        if !self.named.is_empty() {
            out.push_str("#### policy default (the environment's, for every other client)\n");
        }
        out.push_str(&self.default.render_allow_list());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::cfg_with_file;

    const FILE: &str =
        "[router]\nMATCH_FROM=172.30.0.0/16\nMATCH_LISTEN=0.0.0.0:2375\nCONTAINERS=1\n\n\
[updater]\nMATCH_LISTEN=unix:///run/u.sock\nMATCH_UID=1000,1001\nCONTAINERS=1\nPOST=1\n\n\
[remote]\nMATCH_CERT=router.example\nMATCH_LISTEN=tls://0.0.0.0:2376\nSERVICES=1\n\n\
[labelled]\nMATCH_LABEL=role=monitor, com.example.trusted\nINFO=1\n";

    fn set() -> PolicySet {
        let c = cfg_with_file(
            &[
                (
                    "GUARD_LISTEN",
                    "0.0.0.0:2375,unix:///run/u.sock,tls://0.0.0.0:2376",
                ),
                ("GUARD_POLICIES_FILE", "/p"),
                ("GUARD_TLS_CERT", "/c"),
                ("GUARD_TLS_KEY", "/k"),
                ("GUARD_TLS_CA", "/ca"),
            ],
            FILE,
        )
        .expect("valid");
        PolicySet::new(c.policy, c.policies)
    }

    fn id(
        listener: &str,
        peer: Option<&str>,
        cred: Option<(u32, u32)>,
        names: &[&str],
    ) -> Identity {
        Identity {
            listener: Arc::new(
                crate::config::parse_listen_list("L", listener)
                    .expect("addr")
                    .remove(0),
            ),
            peer: peer.map(|p| p.parse().expect("ip")),
            cred,
            cert_names: names.iter().map(|s| s.to_string()).collect(),
            labels: None,
        }
    }

    #[test]
    fn the_first_matching_policy_is_the_clients_and_the_default_the_rest() {
        let s = set();
        let name = |i: &Identity| s.select(i).0.to_string();
        assert_eq!(
            name(&id("0.0.0.0:2375", Some("172.30.1.2"), None, &[])),
            "router"
        );
        assert_eq!(
            name(&id("0.0.0.0:2375", Some("::ffff:172.30.1.2"), None, &[])),
            "router"
        );
        assert_eq!(
            name(&id("0.0.0.0:2375", Some("10.0.0.1"), None, &[])),
            "default"
        );
        // The right address on another listener is not enough.
        assert_eq!(
            name(&id("tls://0.0.0.0:2376", Some("172.30.1.2"), None, &[])),
            "default"
        );
        assert_eq!(
            name(&id("unix:///run/u.sock", None, Some((1001, 5)), &[])),
            "updater"
        );
        assert_eq!(
            name(&id("unix:///run/u.sock", None, Some((0, 0)), &[])),
            "default"
        );
        assert_eq!(
            name(&id(
                "tls://0.0.0.0:2376",
                Some("10.0.0.1"),
                None,
                &["ROUTER.example"]
            )),
            "remote"
        );
        assert_eq!(
            name(&id(
                "tls://0.0.0.0:2376",
                Some("10.0.0.1"),
                None,
                &["other.example"]
            )),
            "default"
        );
        let labelled = |pairs: &[(&str, &str)]| {
            let mut i = id("0.0.0.0:2375", Some("10.0.0.1"), None, &[]);
            i.labels = Some(Arc::new(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ));
            s.select(&i).0.to_string()
        };
        assert!(s.needs_labels());
        assert_eq!(labelled(&[("role", "monitor")]), "labelled");
        assert_eq!(labelled(&[("com.example.trusted", "")]), "labelled");
        assert_eq!(labelled(&[("role", "router")]), "default");
        assert_eq!(labelled(&[]), "default");
        assert!(s.render().contains("#### policy updater (for clients with MATCH_LISTEN=unix:///run/u.sock and MATCH_UID=1000,1001)"));
    }

    #[test]
    fn match_lines_are_checked_against_the_listeners() {
        for (text, words) in [
            (
                "[a]\nMATCH_LISTEN=0.0.0.0:9999\n",
                "not one of GUARD_LISTEN's",
            ),
            ("[a]\nMATCH_FROM=10.0.0.0/33\n", "CIDR"),
            ("[a]\nMATCH_UID=root\n", "numeric"),
            ("[a]\nMATCH_HOST=x\n", "unknown match"),
            ("[a]\nMATCH_CERT= , \n", "list nothing"),
        ] {
            let e = cfg_with_file(&[("GUARD_POLICIES_FILE", "/p")], text).expect_err(text);
            assert_eq!(
                (e.var.as_str(), e.value.as_str()),
                ("GUARD_POLICIES_FILE", "/p")
            );
            assert!(
                e.reason.contains(words) && e.reason.starts_with("line 2: [a]"),
                "{}",
                e.reason
            );
        }
    }
}
