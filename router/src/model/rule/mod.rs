//! Traefik router rules: parse, print, match, as Traefik v3 reads them.
//!
//! Two syntaxes, chosen per router (`ruleSyntax`) or globally (`core.defaultRuleSyntax`):
//! - **v3** (the default): `Host`, `HostRegexp`, `Path`, `PathPrefix`, `PathRegexp`, `Method`,
//!   `Header`, `HeaderRegexp`, `Query`, `QueryRegexp`, `ClientIP`, each with one argument
//!   (two for the header and query ones). `Host(`*.example.com`)` matches one label,
//!   `Host(`*`)` every host; hosts with and without a trailing dot match each other.
//! - **v2**: `Host`/`HostHeader`, `HostRegexp`, `Path`, `PathPrefix` (gorilla/mux templates
//!   such as `{id:[0-9]+}`), `Method`, `Headers`, `HeadersRegexp`, `Query`, `ClientIP`, with
//!   several values each (see [`v2`]).
//!
//! The grammar is Go's expression syntax ([`expr`]): `!`, `&&` (tighter) and `||`,
//! parentheses, Go string literals. Matcher names are accepted as written, in lower case, in
//! upper case or capitalized. Regexes are Go RE2 ([`re2`]) and match unanchored. Every
//! matcher needs its arguments non-empty; hosts must be ASCII.
//!
//! Parsing is pure and total: any input gives a rule or an error with its position, never a
//! panic. [`Rule`]'s `Display` prints a canonical form that parses back to the same rule
//! (with the same syntax).

use std::fmt;
use std::net::IpAddr;

pub mod cache;
pub mod expr;
pub mod matcher;
pub mod re2;
pub mod tcp;
#[cfg(test)]
mod traefik_tables;
pub mod v2;

use matcher::Test;

/// Which rule syntax a rule is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Syntax {
    /// Traefik v2's matchers.
    V2,
    /// Traefik v3's matchers (the default).
    #[default]
    V3,
}

impl Syntax {
    /// `v2` or `v3`, in any case; `None` for anything else.
    pub fn from_name(s: &str) -> Option<Syntax> {
        match s.trim().to_ascii_lowercase().as_str() {
            "v2" => Some(Syntax::V2),
            "v3" => Some(Syntax::V3),
            _ => None,
        }
    }

    /// `v2` or `v3`.
    pub fn name(self) -> &'static str {
        match self {
            Syntax::V2 => "v2",
            Syntax::V3 => "v3",
        }
    }
}

/// A parsed rule.
#[derive(Debug, Clone)]
pub enum Rule {
    /// A matcher.
    Match(Matcher),
    /// Negation.
    Not(Box<Rule>),
    /// Both.
    And(Box<Rule>, Box<Rule>),
    /// Either.
    Or(Box<Rule>, Box<Rule>),
}

/// One matcher: its canonical name, its arguments as written, and its compiled test.
#[derive(Debug, Clone)]
pub struct Matcher {
    name: &'static str,
    args: Vec<String>,
    test: Test,
}

impl Matcher {
    /// The canonical name (`PathPrefix`).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The arguments as written.
    pub fn args(&self) -> &[String] {
        &self.args
    }
}

/// Why a rule does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rule {rule:?}: {reason} (at byte {at})")]
pub struct RuleError {
    /// The rule as written.
    pub rule: String,
    /// Byte offset of the problem.
    pub at: usize,
    /// What is wrong.
    pub reason: String,
}

/// A host a rule is indexed under ([`Rule::host_keys`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HostKey {
    /// Exactly this name.
    Exact(String),
    /// Any name one label under this one (`*.example.com`: `example.com`).
    Under(String),
    /// A name this regex matches (`HostRegexp`, v2 templates), as the rule matches it.
    Regex(String),
}

/// A literal path a rule requires ([`Rule::path_keys`]), compared with the routing path
/// byte for byte, as `Path` and `PathPrefix` compare it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathKey {
    /// The routing path is exactly this.
    Exact(String),
    /// The routing path starts with this.
    Prefix(String),
}

/// What a rule is matched against.
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    /// The canonical host: lowercase, without port, trimmed (see `proxy::request_host`).
    pub host: &'a str,
    /// The routing path: the request's path with the percent-encodings of unreserved
    /// characters decoded (see [`routing_path`]).
    pub path: &'a str,
    /// Raw query string.
    pub query: Option<&'a str>,
    /// Method, as received.
    pub method: &'a str,
    /// Request headers.
    pub headers: &'a http::HeaderMap,
    /// The client's address.
    pub client_ip: IpAddr,
}

// === impl Rule ===

impl Rule {
    /// Parses a rule in the v3 syntax.
    pub fn parse(input: &str) -> Result<Rule, RuleError> {
        Rule::parse_with(input, Syntax::V3)
    }

    /// Parses a rule in the given syntax.
    pub fn parse_with(input: &str, syntax: Syntax) -> Result<Rule, RuleError> {
        let err = |(at, reason): (usize, String)| RuleError {
            rule: input.to_owned(),
            at,
            reason,
        };
        let e = expr::parse(input).map_err(err)?;
        build(e, syntax).map_err(err)
    }

    /// Whether the request matches.
    pub fn matches(&self, req: &RequestView<'_>) -> bool {
        match self {
            Rule::Match(m) => m.test.matches(req),
            Rule::Not(r) => !r.matches(req),
            Rule::And(a, b) => a.matches(req) && b.matches(req),
            Rule::Or(a, b) => a.matches(req) || b.matches(req),
        }
    }

    /// The hosts this rule can only match, for the table's index: exact names, and
    /// one-label wildcards (`Host(`*.example.com`)`) by the name under the wildcard, host
    /// regexes by their pattern. `None`: the rule may match any host (no host matcher,
    /// `Host(`*`)`, `!`, an OR with such a side). Names are lowercase without a trailing dot.
    pub fn host_keys(&self) -> Option<Vec<HostKey>> {
        let strip = |h: &str| h.strip_suffix('.').unwrap_or(h).to_ascii_lowercase();
        match self {
            Rule::Match(m) => match &m.test {
                Test::Host(h) if h == "*" => None,
                Test::Host(h) => match h.strip_prefix("*.") {
                    Some(under) if !under.contains('*') => Some(vec![HostKey::Under(strip(under))]),
                    Some(_) => None,
                    None if h.contains('*') => None,
                    None => Some(vec![HostKey::Exact(strip(h))]),
                },
                Test::HostsV2(hs) => Some(hs.iter().map(|h| HostKey::Exact(strip(h))).collect()),
                Test::HostRegexp(res) => Some(
                    res.iter()
                        .map(|re| HostKey::Regex(re.as_str().to_owned()))
                        .collect(),
                ),
                _ => None,
            },
            Rule::Or(a, b) => {
                let mut v = a.host_keys()?;
                v.extend(b.host_keys()?);
                Some(v)
            }
            Rule::And(a, b) => a.host_keys().or_else(|| b.host_keys()),
            Rule::Not(_) => None,
        }
    }

    /// The literal paths one of which a request must have for this rule to match (`Path`,
    /// `PathPrefix`, an OR of them, an AND with one), or `None` when any path may match: lets
    /// the table index routes without a host by path.
    pub fn path_keys(&self) -> Option<Vec<PathKey>> {
        match self {
            Rule::Match(m) => match &m.test {
                Test::Path(p) => Some(vec![PathKey::Exact(p.clone())]),
                Test::PathPrefix(p) => Some(vec![PathKey::Prefix(p.clone())]),
                _ => None,
            },
            Rule::Or(a, b) => {
                let mut v = a.path_keys()?;
                v.extend(b.path_keys()?);
                Some(v)
            }
            Rule::And(a, b) => a.path_keys().or_else(|| b.path_keys()),
            Rule::Not(_) => None,
        }
    }

    /// The exact hosts this rule can only match, if it is a plain `Host` (or an OR of them,
    /// or an AND with one): lets the table index routes by host. Names are lowercase without
    /// a trailing dot; wildcard and `*` hosts make the rule unindexed (`None`).
    pub fn literal_hosts(&self) -> Option<Vec<String>> {
        let strip = |h: &String| h.strip_suffix('.').unwrap_or(h).to_owned();
        match self {
            Rule::Match(m) => match &m.test {
                Test::Host(h) if !h.starts_with('*') => Some(vec![strip(h)]),
                Test::HostsV2(hs) => Some(hs.iter().map(strip).collect()),
                _ => None,
            },
            Rule::Or(a, b) => {
                let mut v = a.literal_hosts()?;
                v.extend(b.literal_hosts()?);
                Some(v)
            }
            Rule::And(a, b) => a.literal_hosts().or_else(|| b.literal_hosts()),
            Rule::Not(_) => None,
        }
    }

    /// The host names of every `Host` matcher, as Traefik's `ParseDomains` gives them (for
    /// certificates and TLS options): lowercase, wildcards included, negated ones too; not
    /// the v2 syntax's `HostHeader`, which `ParseDomains` does not read (it matches as `Host`
    /// does, but names no domain).
    pub fn host_names(&self) -> Vec<String> {
        match self {
            Rule::Match(m) if m.name == "Host" => {
                m.args.iter().map(|a| a.to_ascii_lowercase()).collect()
            }
            Rule::Match(_) => Vec::new(),
            Rule::Not(r) => r.host_names(),
            Rule::And(a, b) | Rule::Or(a, b) => {
                let mut v = a.host_names();
                v.extend(b.host_names());
                v
            }
        }
    }
}

fn build(e: expr::Expr, syntax: Syntax) -> Result<Rule, (usize, String)> {
    Ok(match e {
        expr::Expr::Call { name, args, at } => {
            let canonical = matcher::canonical(&name, syntax).ok_or_else(|| {
                let other = match syntax {
                    Syntax::V3 => Syntax::V2,
                    Syntax::V2 => Syntax::V3,
                };
                let hint = if matcher::canonical(&name, other).is_some() {
                    format!(
                        " in the {} syntax (it is a {} matcher)",
                        syntax.name(),
                        other.name()
                    )
                } else {
                    String::new()
                };
                (at, format!("unknown matcher {name:?}{hint}"))
            })?;
            let test = matcher::build(canonical, &args, syntax).map_err(|r| (at, r))?;
            Rule::Match(Matcher {
                name: canonical,
                args,
                test,
            })
        }
        expr::Expr::Not(a) => Rule::Not(Box::new(build(*a, syntax)?)),
        expr::Expr::And(a, b) => {
            Rule::And(Box::new(build(*a, syntax)?), Box::new(build(*b, syntax)?))
        }
        expr::Expr::Or(a, b) => {
            Rule::Or(Box::new(build(*a, syntax)?), Box::new(build(*b, syntax)?))
        }
    })
}

impl PartialEq for Rule {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

/// Traefik's routing path: the path with the percent-encodings of characters that are not
/// reserved (RFC 3986 2.2, and `%` itself) decoded, so that `PathPrefix(`/foo bar`)` matches
/// `/foo%20bar` while `%2F` stays a non-separator. `None` for a malformed encoding (Traefik
/// answers 400).
pub fn routing_path(raw: &str) -> Option<std::borrow::Cow<'_, str>> {
    if !raw.contains('%') {
        return Some(std::borrow::Cow::Borrowed(raw));
    }
    const RESERVED: &[u8] = b":/?#[]@!$&'()*+,;=%";
    let b = raw.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'%' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let hi = (*b.get(i + 1)? as char).to_digit(16)?;
        let lo = (*b.get(i + 2)? as char).to_digit(16)?;
        let byte = (hi * 16 + lo) as u8;
        if RESERVED.contains(&byte) {
            out.extend_from_slice(&b[i..i + 3]);
        } else {
            out.push(byte);
        }
        i += 3;
    }
    Some(std::borrow::Cow::Owned(
        String::from_utf8_lossy(&out).into_owned(),
    ))
}

// === printing ===

/// A Go string literal for `s`: backquoted when it can be, else double-quoted and escaped.
fn quote(s: &str) -> String {
    if !s.contains('`') && !s.contains('\r') {
        return format!("`{s}`");
    }
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let args: Vec<String> = self.args.iter().map(|a| quote(a)).collect();
        write!(f, "{}({})", self.name, args.join(", "))
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Match(m) => write!(f, "{m}"),
            Rule::Not(r) => match **r {
                Rule::Match(_) | Rule::Not(_) => write!(f, "!{r}"),
                _ => write!(f, "!({r})"),
            },
            Rule::And(a, b) => write!(f, "{a} && {b}"),
            Rule::Or(a, b) => write!(f, "({a} || {b})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view<'a>(host: &'a str, path: &'a str, headers: &'a http::HeaderMap) -> RequestView<'a> {
        RequestView {
            host,
            path,
            query: Some("a=1&b=x%20y"),
            method: "GET",
            headers,
            client_ip: "10.1.2.3".parse().unwrap(),
        }
    }

    #[test]
    fn parses_and_matches() {
        let h = http::HeaderMap::new();
        let r = Rule::parse("Host(`Example.com`) && PathPrefix(`/api`)").unwrap();
        assert!(r.matches(&view("example.com", "/api/x", &h)));
        assert!(!r.matches(&view("example.com", "/web", &h)));
        let r =
            Rule::parse("Host(`b.com`) || !Method(`POST`) && ClientIP(`192.168.0.0/16`)").unwrap();
        assert!(r.matches(&view("b.com", "/", &h)));
        assert!(!r.matches(&view("c.com", "/", &h)));
        let r = Rule::parse(r#"Query("b", "x y") && HostRegexp(`^.+\.example\.org$`)"#).unwrap();
        assert!(r.matches(&view("www.example.org", "/", &h)));
        assert!(Rule::parse("ClientIP(`10.0.0.0/8`)")
            .unwrap()
            .matches(&view("x", "/", &h)));
    }

    #[test]
    fn precedence_and_round_trip() {
        for src in [
            "Host(`a`) || Host(`b`) && Path(`/x`)",
            "!(Host(`a`) || Host(`b`)) && Method(`GET`)",
            "Header(`X-A`, `1`) && !!Query(`k`)",
            "PathRegexp(`^/v[0-9]+/`) || QueryRegexp(`q`, `^a`)",
            "Host(\"we`ird\")",
            "host(`a`) && PATH(`/x`)",
        ] {
            let r = Rule::parse(src).unwrap();
            let printed = r.to_string();
            let again = Rule::parse(&printed).unwrap();
            assert_eq!(printed, again.to_string(), "{src}");
        }
        let r = Rule::parse("Host(`a`) || Host(`b`) && Path(`/x`)").unwrap();
        assert!(matches!(r, Rule::Or(..)));
    }

    #[test]
    fn errors_point_at_the_problem() {
        for bad in [
            "",
            "Host(`a`",
            "Host(a)",
            "Host(`a`) &&",
            "Host(`a`) & Path(`/`)",
            "Nope(`x`)",
            "Path(`x`)",
            "PathRegexp(`(`)",
            "ClientIP(`300.1.1.1`)",
            "Header(`a`)",
            "Host(`a`))",
            "Host(`unterminated)",
            "PathRegexp(``)",
            "Host(``)",
            "Host(`a`, `b`)",
            "Host(`bücher.example`)",
            "Header(`X`, ``)",
            "hOst(`a`)",
            "Host()",
            "Host(1)",
        ] {
            assert!(Rule::parse(bad).is_err(), "{bad:?}");
        }
        let deep = format!("{}Host(`a`){}", "(".repeat(100), ")".repeat(100));
        assert!(Rule::parse(&deep).is_err());
        let e = Rule::parse("Host(`a`) && Nope(`x`)").unwrap_err();
        assert_eq!(e.at, 13);
    }

    #[test]
    fn v2_syntax() {
        let h = http::HeaderMap::new();
        let r = Rule::parse_with(
            "HostRegexp(`{sub:[a-z]+}.example.com`) && Path(`/api/{id:[0-9]+}`)",
            Syntax::V2,
        )
        .unwrap();
        assert!(r.matches(&view("www.example.com", "/api/7", &h)));
        assert!(!r.matches(&view("www.example.com", "/api/x", &h)));
        let r = Rule::parse_with(
            "Host(`a.com`, `b.com`) && Method(`GET`, `POST`)",
            Syntax::V2,
        )
        .unwrap();
        assert!(r.matches(&view("b.com", "/", &h)));
        assert_eq!(
            r.literal_hosts(),
            Some(vec!["a.com".to_owned(), "b.com".to_owned()])
        );
        let r = Rule::parse_with("Query(`a=1`, `b={v:x.*}`)", Syntax::V2).unwrap();
        assert!(
            r.matches(&view("h", "/", &h)),
            "a=1 and b=x y (the first b)"
        );
        let r = Rule::parse_with("Query(`a=1`, `b=z`)", Syntax::V2).unwrap();
        assert!(!r.matches(&view("h", "/", &h)), "every pair must hold");
        // The same rule means something else in v3: a literal-brace regex.
        assert!(Rule::parse("HostRegexp(`{sub:[a-z]+}.example.com`)").is_ok());
        assert!(Rule::parse("HostHeader(`a`)")
            .unwrap_err()
            .reason
            .contains("v2"));
    }

    #[test]
    fn only_host_matchers_name_domains() {
        // mux.go ParseDomains reads `Host` alone: the v2 syntax's HostHeader matches the same
        // requests but names no domain (for certificates and TLS options).
        let r = Rule::parse_with("HostHeader(`a.test`) || Host(`B.test`)", Syntax::V2).unwrap();
        assert_eq!(r.host_names(), ["b.test"]);
        let r = Rule::parse_with("HostHeader(`a.test`)", Syntax::V2).unwrap();
        assert!(r.host_names().is_empty());
    }

    #[test]
    fn literal_hosts_for_indexing() {
        let r = Rule::parse("(Host(`a`) || Host(`b.`)) && PathPrefix(`/x`)").unwrap();
        assert_eq!(
            r.literal_hosts(),
            Some(vec!["a".to_string(), "b".to_string()])
        );
        assert_eq!(
            Rule::parse("PathPrefix(`/x`)").unwrap().literal_hosts(),
            None
        );
        assert_eq!(
            Rule::parse("Host(`a`) || PathPrefix(`/x`)")
                .unwrap()
                .literal_hosts(),
            None
        );
        assert_eq!(Rule::parse("Host(`*.a`)").unwrap().literal_hosts(), None);
        assert_eq!(Rule::parse("!Host(`a`)").unwrap().literal_hosts(), None);
    }

    #[test]
    fn routing_paths() {
        assert_eq!(routing_path("/a%20b").as_deref(), Some("/a b"));
        assert_eq!(routing_path("/a%2Fb").as_deref(), Some("/a%2Fb"));
        assert_eq!(routing_path("/%7Euser").as_deref(), Some("/~user"));
        assert_eq!(routing_path("/%25").as_deref(), Some("/%25"));
        assert_eq!(routing_path("/%zz"), None);
        assert_eq!(routing_path("/%2"), None);
    }
}
