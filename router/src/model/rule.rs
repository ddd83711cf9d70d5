//! Traefik router rules: parse, print, match.
//!
//! Syntax (Traefik v3, with v2's multi-argument matchers accepted as an OR of their
//! arguments): matchers `Host`, `HostRegexp`, `Path`, `PathPrefix`, `PathRegexp`, `Method`,
//! `Header`, `HeaderRegexp`, `Query`, `QueryRegexp`, `ClientIP`, combined with `!`, `&&`,
//! `||` and parentheses (`!` binds tightest, then `&&`, then `||`). Arguments are quoted with
//! backticks or double quotes. Regexes are Go RE2 syntax, which the regex crate shares; they
//! match unanchored as in Traefik (anchor them yourself with `^...$`).
//!
//! Parsing is pure and total: any input gives a rule or an error with its position, never a
//! panic. [`Rule`]'s `Display` prints a canonical form that parses back to the same rule.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use regex::Regex;

/// Longest rule accepted, and deepest nesting: labels are untrusted input.
const MAX_RULE_LEN: usize = 4096;
const MAX_DEPTH: usize = 32;
const REGEX_SIZE_LIMIT: usize = 1 << 20;

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

/// One matcher with its compiled arguments.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// `Host(`example.com`)`: the request host, case-insensitive, port ignored.
    Host(String),
    /// `HostRegexp(`^.+\.example\.com$`)`.
    HostRegexp(Re),
    /// `Path(`/exact`)`.
    Path(String),
    /// `PathPrefix(`/api`)`.
    PathPrefix(String),
    /// `PathRegexp(`^/v[0-9]+/`)`.
    PathRegexp(Re),
    /// `Method(`GET`)`.
    Method(String),
    /// `Header(`X-Key`, `value`)`: some value of the header equals it.
    Header(String, String),
    /// `HeaderRegexp(`X-Key`, `re`)`.
    HeaderRegexp(String, Re),
    /// `Query(`key`, `value`)`, or `Query(`key`)` for presence.
    Query(String, Option<String>),
    /// `QueryRegexp(`key`, `re`)`.
    QueryRegexp(String, Re),
    /// `ClientIP(`10.0.0.0/8`)` or a single address.
    ClientIp(IpNet),
}

/// A compiled regex that remembers its source (for printing and equality).
#[derive(Debug, Clone)]
pub struct Re {
    source: String,
    regex: Regex,
}

impl Re {
    fn new(source: &str) -> Result<Re, String> {
        let regex = regex::RegexBuilder::new(source)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| format!("invalid regex {source:?}: {e}"))?;
        Ok(Re {
            source: source.to_owned(),
            regex,
        })
    }

    /// Whether the regex matches anywhere in `s`.
    pub fn is_match(&self, s: &str) -> bool {
        self.regex.is_match(s)
    }
}

impl PartialEq for Re {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
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

/// What a rule is matched against.
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    /// Host without port, lowercase.
    pub host: &'a str,
    /// Path (raw, as received).
    pub path: &'a str,
    /// Raw query string.
    pub query: Option<&'a str>,
    /// Method.
    pub method: &'a str,
    /// Request headers.
    pub headers: &'a http::HeaderMap,
    /// The client's address.
    pub client_ip: IpAddr,
}

// === impl Rule ===

impl Rule {
    /// Parses a rule.
    pub fn parse(input: &str) -> Result<Rule, RuleError> {
        let err = |at: usize, reason: &str| RuleError {
            rule: input.to_owned(),
            at,
            reason: reason.to_owned(),
        };
        if input.len() > MAX_RULE_LEN {
            return Err(err(0, "rule too long"));
        }
        let tokens = lex(input).map_err(|(at, r)| err(at, &r))?;
        let mut p = Parser {
            tokens,
            pos: 0,
            depth: 0,
        };
        let rule = p.or().map_err(|(at, r)| err(at, &r))?;
        if let Some((at, t)) = p.tokens.get(p.pos) {
            return Err(err(*at, &format!("unexpected {t}")));
        }
        Ok(rule)
    }

    /// Whether the request matches.
    pub fn matches(&self, req: &RequestView<'_>) -> bool {
        match self {
            Rule::Match(m) => m.matches(req),
            Rule::Not(r) => !r.matches(req),
            Rule::And(a, b) => a.matches(req) && b.matches(req),
            Rule::Or(a, b) => a.matches(req) || b.matches(req),
        }
    }

    /// The hosts this rule can only match, if it is a plain `Host` (or an OR of them):
    /// lets the table index routes by host.
    pub fn literal_hosts(&self) -> Option<Vec<String>> {
        match self {
            Rule::Match(Matcher::Host(h)) => Some(vec![h.clone()]),
            Rule::Or(a, b) => {
                let mut v = a.literal_hosts()?;
                v.extend(b.literal_hosts()?);
                Some(v)
            }
            Rule::And(a, b) => a.literal_hosts().or_else(|| b.literal_hosts()),
            _ => None,
        }
    }
}

impl PartialEq for Rule {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

impl Matcher {
    fn matches(&self, req: &RequestView<'_>) -> bool {
        match self {
            Matcher::Host(h) => req.host.eq_ignore_ascii_case(h),
            Matcher::HostRegexp(re) => re.is_match(req.host),
            Matcher::Path(p) => req.path == p,
            Matcher::PathPrefix(p) => req.path.starts_with(p.as_str()),
            Matcher::PathRegexp(re) => re.is_match(req.path),
            Matcher::Method(m) => req.method.eq_ignore_ascii_case(m),
            Matcher::Header(k, v) => req
                .headers
                .get_all(k.as_str())
                .iter()
                .any(|h| h.as_bytes() == v.as_bytes()),
            Matcher::HeaderRegexp(k, re) => req
                .headers
                .get_all(k.as_str())
                .iter()
                .any(|h| h.to_str().is_ok_and(|s| re.is_match(s))),
            Matcher::Query(k, v) => {
                query_values(req.query, k).any(|qv| v.as_ref().is_none_or(|want| qv == *want))
            }
            Matcher::QueryRegexp(k, re) => query_values(req.query, k).any(|qv| re.is_match(&qv)),
            Matcher::ClientIp(net) => {
                let ip = match req.client_ip {
                    IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(req.client_ip, IpAddr::V4),
                    v4 => v4,
                };
                net.contains(&ip)
            }
        }
    }
}

fn query_values<'a>(query: Option<&'a str>, key: &'a str) -> impl Iterator<Item = String> + 'a {
    query.unwrap_or("").split('&').filter_map(move |pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k) == key).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

// === printing ===

fn quote(s: &str) -> String {
    if s.contains('`') {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        format!("`{s}`")
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Matcher::Host(h) => write!(f, "Host({})", quote(h)),
            Matcher::HostRegexp(r) => write!(f, "HostRegexp({})", quote(&r.source)),
            Matcher::Path(p) => write!(f, "Path({})", quote(p)),
            Matcher::PathPrefix(p) => write!(f, "PathPrefix({})", quote(p)),
            Matcher::PathRegexp(r) => write!(f, "PathRegexp({})", quote(&r.source)),
            Matcher::Method(m) => write!(f, "Method({})", quote(m)),
            Matcher::Header(k, v) => write!(f, "Header({}, {})", quote(k), quote(v)),
            Matcher::HeaderRegexp(k, r) => {
                write!(f, "HeaderRegexp({}, {})", quote(k), quote(&r.source))
            }
            Matcher::Query(k, None) => write!(f, "Query({})", quote(k)),
            Matcher::Query(k, Some(v)) => write!(f, "Query({}, {})", quote(k), quote(v)),
            Matcher::QueryRegexp(k, r) => {
                write!(f, "QueryRegexp({}, {})", quote(k), quote(&r.source))
            }
            Matcher::ClientIp(n) => write!(f, "ClientIP({})", quote(&n.to_string())),
        }
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

// === lexing and parsing ===

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    LParen,
    RParen,
    Comma,
    And,
    Or,
    Not,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Ident(s) => write!(f, "{s:?}"),
            Tok::Str(s) => write!(f, "string {s:?}"),
            Tok::LParen => f.write_str("'('"),
            Tok::RParen => f.write_str("')'"),
            Tok::Comma => f.write_str("','"),
            Tok::And => f.write_str("'&&'"),
            Tok::Or => f.write_str("'||'"),
            Tok::Not => f.write_str("'!'"),
        }
    }
}

type PErr = (usize, String);

fn lex(input: &str) -> Result<Vec<(usize, Tok)>, PErr> {
    let mut out = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '(' => out.push((i, Tok::LParen)),
            ')' => out.push((i, Tok::RParen)),
            ',' => out.push((i, Tok::Comma)),
            '!' => out.push((i, Tok::Not)),
            '&' | '|' => match chars.next() {
                Some((_, d)) if d == c => out.push((i, if c == '&' { Tok::And } else { Tok::Or })),
                _ => return Err((i, format!("expected '{c}{c}'"))),
            },
            '`' => {
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some((_, '`')) => break,
                        Some((_, ch)) => s.push(ch),
                        None => return Err((i, "unterminated string".into())),
                    }
                }
                out.push((i, Tok::Str(s)));
            }
            '"' => {
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some((_, '"')) => break,
                        Some((_, '\\')) => match chars.next() {
                            Some((_, ch)) => s.push(ch),
                            None => return Err((i, "unterminated string".into())),
                        },
                        Some((_, ch)) => s.push(ch),
                        None => return Err((i, "unterminated string".into())),
                    }
                }
                out.push((i, Tok::Str(s)));
            }
            c if c.is_ascii_alphabetic() => {
                let mut s = String::from(c);
                while let Some((_, d)) = chars.peek() {
                    if d.is_ascii_alphanumeric() {
                        s.push(*d);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push((i, Tok::Ident(s)));
            }
            other => return Err((i, format!("unexpected character {other:?}"))),
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<(usize, Tok)>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos).map(|(_, t)| t)
    }

    fn at(&self) -> usize {
        self.tokens
            .get(self.pos)
            .map_or_else(|| self.tokens.last().map_or(0, |(i, _)| *i), |(i, _)| *i)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.tokens.get(self.pos).map(|(_, t)| t.clone());
        self.pos += 1;
        t
    }

    fn expect(&mut self, want: Tok) -> Result<(), PErr> {
        let at = self.at();
        match self.next() {
            Some(t) if t == want => Ok(()),
            Some(t) => Err((at, format!("expected {want}, found {t}"))),
            None => Err((at, format!("expected {want}, found the end"))),
        }
    }

    fn or(&mut self) -> Result<Rule, PErr> {
        let mut left = self.and()?;
        while self.peek() == Some(&Tok::Or) {
            self.next();
            let right = self.and()?;
            left = Rule::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Rule, PErr> {
        let mut left = self.unary()?;
        while self.peek() == Some(&Tok::And) {
            self.next();
            let right = self.unary()?;
            left = Rule::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Rule, PErr> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err((self.at(), "rule nested too deeply".into()));
        }
        let at = self.at();
        let rule = match self.next() {
            Some(Tok::Not) => Rule::Not(Box::new(self.unary()?)),
            Some(Tok::LParen) => {
                let r = self.or()?;
                self.expect(Tok::RParen)?;
                r
            }
            Some(Tok::Ident(name)) => self.matcher(at, &name)?,
            Some(t) => return Err((at, format!("expected a matcher, found {t}"))),
            None => return Err((at, "expected a matcher, found the end".into())),
        };
        self.depth -= 1;
        Ok(rule)
    }

    fn matcher(&mut self, at: usize, name: &str) -> Result<Rule, PErr> {
        self.expect(Tok::LParen)?;
        let mut args = Vec::new();
        if self.peek() != Some(&Tok::RParen) {
            loop {
                let a = self.at();
                match self.next() {
                    Some(Tok::Str(s)) => args.push(s),
                    Some(t) => return Err((a, format!("expected a quoted argument, found {t}"))),
                    None => return Err((a, "expected a quoted argument".into())),
                }
                match self.peek() {
                    Some(Tok::Comma) => {
                        self.next();
                    }
                    _ => break,
                }
            }
        }
        self.expect(Tok::RParen)?;
        build_matcher(name, &args).map_err(|e| (at, e))
    }
}

/// Builds a matcher; single-value matchers given several values (Traefik v2 style) become an
/// OR of one matcher per value.
fn build_matcher(name: &str, args: &[String]) -> Result<Rule, String> {
    let one = |f: &dyn Fn(&str) -> Result<Matcher, String>| -> Result<Rule, String> {
        if args.is_empty() {
            return Err(format!("{name} needs at least one argument"));
        }
        let mut rules = args.iter().map(|a| f(a).map(Rule::Match));
        let first = rules
            .next()
            .ok_or_else(|| format!("{name} needs an argument"))??;
        rules.try_fold(first, |acc, r| Ok(Rule::Or(Box::new(acc), Box::new(r?))))
    };
    let two = |f: &dyn Fn(&str, &str) -> Result<Matcher, String>| -> Result<Rule, String> {
        match args {
            [k, v] => f(k, v).map(Rule::Match),
            _ => Err(format!("{name} takes two arguments")),
        }
    };
    match name {
        "Host" => one(&|h| {
            if h.is_empty() {
                return Err("Host needs a non-empty host".into());
            }
            Ok(Matcher::Host(h.to_ascii_lowercase()))
        }),
        "HostRegexp" => one(&|r| Re::new(r).map(Matcher::HostRegexp)),
        "Path" => one(&|p| path_arg(name, p).map(Matcher::Path)),
        "PathPrefix" => one(&|p| path_arg(name, p).map(Matcher::PathPrefix)),
        "PathRegexp" => one(&|r| Re::new(r).map(Matcher::PathRegexp)),
        "Method" => one(&|m| {
            if m.is_empty() || !m.bytes().all(|b| b.is_ascii_alphabetic()) {
                return Err(format!("Method: invalid method {m:?}"));
            }
            Ok(Matcher::Method(m.to_ascii_uppercase()))
        }),
        "Header" => two(&|k, v| header_name(k).map(|k| Matcher::Header(k, v.to_owned()))),
        "HeaderRegexp" => two(&|k, r| Ok(Matcher::HeaderRegexp(header_name(k)?, Re::new(r)?))),
        "Query" => match args {
            [k] => Ok(Rule::Match(Matcher::Query(k.clone(), None))),
            [k, v] => Ok(Rule::Match(Matcher::Query(k.clone(), Some(v.clone())))),
            _ => Err("Query takes one or two arguments".into()),
        },
        "QueryRegexp" => two(&|k, r| Ok(Matcher::QueryRegexp(k.to_owned(), Re::new(r)?))),
        "ClientIP" => one(&|c| {
            c.parse::<IpNet>()
                .or_else(|_| c.parse::<IpAddr>().map(IpNet::from))
                .map(Matcher::ClientIp)
                .map_err(|_| format!("ClientIP: invalid address or CIDR {c:?}"))
        }),
        other => Err(format!("unknown matcher {other:?}")),
    }
}

fn path_arg(name: &str, p: &str) -> Result<String, String> {
    if !p.starts_with('/') {
        return Err(format!("{name}: the path must start with '/', got {p:?}"));
    }
    Ok(p.to_owned())
}

fn header_name(k: &str) -> Result<String, String> {
    http::HeaderName::from_bytes(k.as_bytes())
        .map(|h| h.as_str().to_owned())
        .map_err(|_| format!("invalid header name {k:?}"))
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
            Rule::parse("Host(`a.com`, `b.com`) || !Method(`POST`) && ClientIP(`192.168.0.0/16`)")
                .unwrap();
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
        ] {
            assert!(Rule::parse(bad).is_err(), "{bad:?}");
        }
        let deep = format!("{}Host(`a`){}", "(".repeat(100), ")".repeat(100));
        assert!(Rule::parse(&deep).is_err());
    }

    #[test]
    fn literal_hosts_for_indexing() {
        let r = Rule::parse("(Host(`a`) || Host(`b`)) && PathPrefix(`/x`)").unwrap();
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
    }
}
