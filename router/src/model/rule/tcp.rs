//! TCP router rules, as Traefik's TCP muxer reads them (`pkg/muxer/tcp`): the same grammar
//! as HTTP rules ([`super::expr`]) over what a connection shows before any byte is relayed —
//! the ClientHello's server name and ALPN protocols, and the client's address.
//!
//! - **v3**: `HostSNI`, `HostSNIRegexp`, `ClientIP`, `ALPN`, one argument each.
//!   ``HostSNI(`*`)`` matches every connection (TLS or not); ``HostSNI(`*.example.com`)``
//!   one label; names compare case-insensitively, a trailing dot ignored. `HostSNIRegexp` is
//!   an unanchored Go regex on the lowercase server name.
//! - **v2**: the same names with several values each; `HostSNIRegexp` takes gorilla/mux host
//!   templates (`{sub:[a-z]+}.example.com`).
//!
//! `ALPN(`acme-tls/1`)` is refused: that protocol is the router's own (TLS-ALPN-01).

use std::net::IpAddr;

use ipnet::IpNet;
use regex::Regex;

use super::matcher::{canonical_in, client_ips, host_matches};
use super::v2::{self, Template};
use super::{expr, re2, RuleError, Syntax};

/// The protocol ACME's TLS-ALPN-01 challenge negotiates.
pub const ACME_TLS_ALPN: &str = "acme-tls/1";

const NAMES: &[&str] = &["HostSNI", "HostSNIRegexp", "ClientIP", "ALPN"];

/// What a TCP rule is matched against.
#[derive(Debug, Clone, Copy)]
pub struct ConnView<'a> {
    /// The ClientHello's server name, lowercase ("" without TLS or without SNI).
    pub sni: &'a str,
    /// The client's address.
    pub client_ip: IpAddr,
    /// The ALPN protocols the ClientHello offers.
    pub alpn: &'a [String],
}

/// A parsed TCP rule.
#[derive(Debug, Clone)]
pub enum TcpRule {
    /// A matcher: its canonical name, its arguments as written, its test.
    Match(&'static str, Vec<String>, Test),
    /// Negation.
    Not(Box<TcpRule>),
    /// Both.
    And(Box<TcpRule>, Box<TcpRule>),
    /// Either.
    Or(Box<TcpRule>, Box<TcpRule>),
}

/// A compiled TCP matcher.
#[derive(Debug, Clone)]
pub enum Test {
    /// ``HostSNI(`*`)``: every connection.
    AnySni,
    /// v3 `HostSNI`: a lowercase name without trailing dot, `*.` wildcard allowed.
    Sni(String),
    /// v2 `HostSNI`: exact lowercase names (`*` among them matches everything).
    SnisV2(Vec<String>),
    /// `HostSNIRegexp` (v3: one regex; v2: templates, any of them).
    SniRegexp(Vec<Regex>),
    /// `ClientIP`.
    ClientIp(Vec<IpNet>),
    /// `ALPN`: one of these is offered.
    Alpn(Vec<String>),
}

impl TcpRule {
    /// Parses a rule in the given syntax.
    pub fn parse_with(input: &str, syntax: Syntax) -> Result<TcpRule, RuleError> {
        let err = |(at, reason): (usize, String)| RuleError {
            rule: input.to_owned(),
            at,
            reason,
        };
        let e = expr::parse(input).map_err(err)?;
        build(e, syntax).map_err(err)
    }

    /// Whether the connection matches.
    pub fn matches(&self, c: &ConnView<'_>) -> bool {
        match self {
            TcpRule::Match(_, _, t) => t.matches(c),
            TcpRule::Not(r) => !r.matches(c),
            TcpRule::And(a, b) => a.matches(c) && b.matches(c),
            TcpRule::Or(a, b) => a.matches(c) || b.matches(c),
        }
    }

    /// Exactly ``HostSNI(`*`)``: Traefik's catch-all, which yields to any other match (and to
    /// an HTTPS router's host) and ranks below every other rule by default.
    pub fn is_catch_all(&self) -> bool {
        matches!(self, TcpRule::Match("HostSNI", args, _) if args.len() == 1 && args[0] == "*")
    }

    /// Every `HostSNI` argument, in order, lowercase (Traefik's `ParseHostSNI`, which lowers
    /// them: names compare without case).
    pub fn host_snis(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.walk(&mut |name, args| {
            if name == "HostSNI" {
                out.extend(args.iter().map(|a| a.to_ascii_lowercase()));
            }
        });
        out
    }

    /// The literal names a TLS router may be given a certificate for (the `HostSNI`s that
    /// are neither `*` nor wildcards).
    pub fn literal_names(&self) -> Vec<String> {
        self.host_snis()
            .into_iter()
            .filter(|h| !h.contains('*'))
            .map(|h| h.trim_end_matches('.').to_ascii_lowercase())
            .collect()
    }

    fn walk(&self, f: &mut impl FnMut(&'static str, &[String])) {
        match self {
            TcpRule::Match(name, args, _) => f(name, args),
            TcpRule::Not(r) => r.walk(f),
            TcpRule::And(a, b) | TcpRule::Or(a, b) => {
                a.walk(f);
                b.walk(f);
            }
        }
    }
}

/// A TCP router's priority when none is set (Traefik's `GetRulePriority`): -1 for the
/// catch-all ``HostSNI(`*`)``, else the rule's length.
pub fn default_priority(rule: &TcpRule, text: &str) -> i64 {
    if rule.is_catch_all() {
        -1
    } else {
        text.len() as i64
    }
}

fn build(e: expr::Expr, syntax: Syntax) -> Result<TcpRule, (usize, String)> {
    Ok(match e {
        expr::Expr::Call { name, args, at } => {
            let canonical = canonical_in(&name, NAMES)
                .ok_or_else(|| (at, format!("unknown TCP matcher {name:?}")))?;
            let test = test(canonical, &args, syntax).map_err(|r| (at, r))?;
            TcpRule::Match(canonical, args, test)
        }
        expr::Expr::Not(a) => TcpRule::Not(Box::new(build(*a, syntax)?)),
        expr::Expr::And(a, b) => {
            TcpRule::And(Box::new(build(*a, syntax)?), Box::new(build(*b, syntax)?))
        }
        expr::Expr::Or(a, b) => {
            TcpRule::Or(Box::new(build(*a, syntax)?), Box::new(build(*b, syntax)?))
        }
    })
}

/// Traefik's `^(\*\.)?[[:word:]\.\-\:]+$` (v3) and, without the wildcard, v2's.
fn host_or_ip(h: &str, wildcard: bool) -> bool {
    let rest = if wildcard {
        h.strip_prefix("*.").unwrap_or(h)
    } else {
        h
    };
    !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b':'))
}

fn test(name: &'static str, args: &[String], syntax: Syntax) -> Result<Test, String> {
    if args.is_empty() {
        return Err(format!("no args for matcher {name}"));
    }
    if args.iter().any(String::is_empty) {
        return Err(format!("empty args for matcher {name}"));
    }
    if syntax == Syntax::V3 && args.len() != 1 {
        return Err(format!(
            "{name}: unexpected number of parameters; got {}, expected 1",
            args.len()
        ));
    }
    Ok(match name {
        "HostSNI" => match syntax {
            Syntax::V3 if args[0] == "*" => Test::AnySni,
            Syntax::V3 => {
                if !host_or_ip(&args[0], true) {
                    return Err(format!(
                        "invalid value for HostSNI matcher, {:?} is not a valid hostname",
                        args[0]
                    ));
                }
                Test::Sni(args[0].trim_end_matches('.').to_ascii_lowercase())
            }
            Syntax::V2 => {
                let mut hosts = Vec::new();
                for h in args {
                    if h != "*" && !host_or_ip(h, false) {
                        return Err(format!(
                            "invalid value for HostSNI matcher, {h:?} is not a valid hostname or IP"
                        ));
                    }
                    hosts.push(h.to_ascii_lowercase());
                }
                Test::SnisV2(hosts)
            }
        },
        "HostSNIRegexp" => {
            let mut res = Vec::new();
            for a in args {
                // Traefik's v2 HostSNIRegexp has no such check: a non-ASCII template is
                // accepted there (and matches no punycode server name), not refused.
                if syntax == Syntax::V3 && !a.is_ascii() {
                    return Err(format!(
                        "invalid value for HostSNIRegexp matcher, {a:?} is not a valid hostname"
                    ));
                }
                res.push(match syntax {
                    Syntax::V3 => re2::compile(a)?,
                    Syntax::V2 => v2::template(a, Template::Host)?,
                });
            }
            Test::SniRegexp(res)
        }
        "ClientIP" => Test::ClientIp(client_ips(args)?),
        "ALPN" => {
            if args.iter().any(|a| a == ACME_TLS_ALPN) {
                return Err(format!(
                    "invalid protocol value for ALPN matcher, {ACME_TLS_ALPN:?} is not allowed"
                ));
            }
            Test::Alpn(args.to_vec())
        }
        other => return Err(format!("unknown TCP matcher {other:?}")),
    })
}

impl Test {
    fn matches(&self, c: &ConnView<'_>) -> bool {
        match self {
            Test::AnySni => true,
            Test::Sni(h) => host_matches(c.sni, h),
            Test::SnisV2(hosts) => {
                hosts.first().is_some_and(|h| h == "*")
                    || (!c.sni.is_empty()
                        && hosts
                            .iter()
                            .any(|h| h == "*" || h == c.sni || h.strip_suffix('.') == Some(c.sni)))
            }
            Test::SniRegexp(res) => res.iter().any(|re| re.is_match(c.sni)),
            Test::ClientIp(nets) => {
                let ip = match c.client_ip {
                    IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(c.client_ip, IpAddr::V4),
                    v4 => v4,
                };
                nets.iter().any(|n| n.contains(&ip))
            }
            Test::Alpn(protos) => c.alpn.iter().any(|p| protos.contains(p)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn<'a>(sni: &'a str, ip: &str, alpn: &'a [String]) -> ConnView<'a> {
        ConnView {
            sni,
            client_ip: ip.parse().unwrap(),
            alpn,
        }
    }

    fn m(rule: &str, sni: &str) -> bool {
        TcpRule::parse_with(rule, Syntax::V3)
            .unwrap()
            .matches(&conn(sni, "10.0.0.1", &[]))
    }

    #[test]
    fn host_sni_as_traefik_matches_it() {
        assert!(m("HostSNI(`foobar`)", "foobar"));
        assert!(m("HostSNI(`Foobar`)", "foobar"));
        assert!(m("HostSNI(`foobar.`)", "foobar"));
        assert!(!m("HostSNI(`foobar`)", "foo"));
        assert!(!m("HostSNI(`foobar`)", ""));
        assert!(m("HostSNI(`*`)", ""));
        assert!(m("HostSNI(`*.example.com`)", "a.example.com"));
        assert!(!m("HostSNI(`*.example.com`)", "a.b.example.com"));
        assert!(!m("HostSNI(`*.example.com`)", "example.com"));
        assert!(m("hostsni(`a`) || HOSTSNI(`b`)", "b"));
        assert!(m("!HostSNI(`a`)", "b"));
        assert!(m("HostSNI(`127.0.0.1`)", "127.0.0.1"));
    }

    #[test]
    fn other_matchers() {
        let h2 = ["h2".to_owned()];
        let r = TcpRule::parse_with("ALPN(`h2`) && ClientIP(`10.0.0.0/8`)", Syntax::V3).unwrap();
        assert!(r.matches(&conn("", "10.1.2.3", &h2)));
        assert!(!r.matches(&conn("", "11.1.2.3", &h2)));
        assert!(!r.matches(&conn("", "10.1.2.3", &[])));
        let r = TcpRule::parse_with("ClientIP(`10.0.0.1`)", Syntax::V3).unwrap();
        assert!(r.matches(&conn("", "::ffff:10.0.0.1", &[])));
        assert!(m(
            "HostSNIRegexp(`^[a-z]+\\.example\\.com$`)",
            "db.example.com"
        ));
        assert!(!m(
            "HostSNIRegexp(`^[a-z]+\\.example\\.com$`)",
            "db1.example.com"
        ));
        // Unanchored, as Go's MatchString.
        assert!(m("HostSNIRegexp(`example`)", "db.example.com"));
    }

    #[test]
    fn errors_as_traefik_gives_them() {
        for bad in [
            "HostSNI(`a`, `b`)",
            "HostSNI(`a b`)",
            "HostSNI(`é.com`)",
            "HostSNI(``)",
            "HostSNIRegexp(`(`)",
            "ALPN(`acme-tls/1`)",
            "ClientIP(`nope`)",
            "Host(`a`)",
            "PathPrefix(`/`)",
            "HostSNI(`a`",
        ] {
            assert!(
                TcpRule::parse_with(bad, Syntax::V3).is_err(),
                "{bad} parsed"
            );
        }
    }

    #[test]
    fn v2_takes_several_values_and_templates() {
        let r = TcpRule::parse_with("HostSNI(`a.com`, `B.com`)", Syntax::V2).unwrap();
        assert!(r.matches(&conn("b.com", "10.0.0.1", &[])));
        assert!(!r.matches(&conn("c.com", "10.0.0.1", &[])));
        let r =
            TcpRule::parse_with("HostSNIRegexp(`{sub:[a-z]+}.example.com`)", Syntax::V2).unwrap();
        assert!(r.matches(&conn("db.example.com", "10.0.0.1", &[])));
        assert!(!r.matches(&conn("db.example.org", "10.0.0.1", &[])));
        assert!(TcpRule::parse_with("HostSNI(`*.a.com`)", Syntax::V2).is_err());
        let r = TcpRule::parse_with("HostSNIRegexp(`{sub}.bücher.example`)", Syntax::V2).unwrap();
        assert!(!r.matches(&conn("a.xn--bcher-kva.example", "10.0.0.1", &[])));
        assert!(TcpRule::parse_with("HostSNIRegexp(`bücher`)", Syntax::V3).is_err());
    }

    #[test]
    fn catch_all_and_priority() {
        let all = TcpRule::parse_with("HostSNI(`*`)", Syntax::V3).unwrap();
        assert!(all.is_catch_all());
        assert_eq!(default_priority(&all, "HostSNI(`*`)"), -1);
        let r = TcpRule::parse_with("HostSNI(`*`) && ClientIP(`1.2.3.4`)", Syntax::V3).unwrap();
        assert!(!r.is_catch_all());
        assert_eq!(r.host_snis(), vec!["*"]);
        let text = "HostSNI(`a.com`) || HostSNI(`*.b.com`)";
        let r = TcpRule::parse_with(text, Syntax::V3).unwrap();
        assert_eq!(default_priority(&r, text), text.len() as i64);
        assert_eq!(r.literal_names(), vec!["a.com"]);
        let r = TcpRule::parse_with("HostSNI(`Foo.Bar`, `*`)", Syntax::V2).unwrap();
        assert_eq!(r.host_snis(), vec!["foo.bar", "*"]);
    }
}
