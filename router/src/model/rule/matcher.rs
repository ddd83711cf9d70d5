//! The matchers of both rule syntaxes: their names, argument checks and what they match,
//! as Traefik v3 defines them (`pkg/muxer/http/matcher.go`, `matcher_v2.go`).

use std::net::IpAddr;

use http::HeaderName;
use ipnet::IpNet;
use regex::Regex;

use super::v2::{self, Template};
use super::{re2, RequestView, Syntax};

/// A compiled matcher test.
#[derive(Debug, Clone)]
pub enum Test {
    /// `Host(`*`)`: every request.
    AnyHost,
    /// v3 `Host`: a lowercase name, `*.`-wildcards allowed, trailing dots tolerated.
    Host(String),
    /// v2 `Host`/`HostHeader`: exact lowercase names, trailing dots tolerated.
    HostsV2(Vec<String>),
    /// `HostRegexp` (v3), or v2's templates (any of them).
    HostRegexp(Vec<Regex>),
    /// v3 `Path`.
    Path(String),
    /// v3 `PathPrefix`.
    PathPrefix(String),
    /// v3 `PathRegexp`, or v2's `Path`/`PathPrefix` templates (any of them).
    PathRegexp(Vec<Regex>),
    /// `Method`: the request's method equals one of these (uppercase).
    Method(Vec<String>),
    /// `Header`: one value of the header equals the given one.
    Header(HeaderName, String),
    /// `HeaderRegexp`: one value of the header matches.
    HeaderRegexp(HeaderName, Regex),
    /// v2 `Headers`: every pair holds.
    HeadersV2(Vec<(HeaderName, String)>),
    /// v2 `HeadersRegexp`: every pair holds.
    HeadersRegexpV2(Vec<(HeaderName, Regex)>),
    /// v3 `Query(k)` (value `""`) or `Query(k, v)`.
    Query(String, String),
    /// v3 `QueryRegexp(k, re)`.
    QueryRegexp(String, Regex),
    /// v2 `Query(`k=v`...)`: each key's first pair matches its template.
    QueryV2(Vec<(String, Regex)>),
    /// `ClientIP`: the client's address is in one of these.
    ClientIp(Vec<IpNet>),
    /// A header test naming a header no request can carry (`Header(`Bad Name`, `x`)`):
    /// Traefik accepts the rule, and it never matches.
    Never,
}

/// The canonical matcher names of each syntax.
const V3: &[&str] = &[
    "ClientIP",
    "Method",
    "Host",
    "HostRegexp",
    "Path",
    "PathRegexp",
    "PathPrefix",
    "Header",
    "HeaderRegexp",
    "Query",
    "QueryRegexp",
];
const V2: &[&str] = &[
    "Host",
    "HostHeader",
    "HostRegexp",
    "ClientIP",
    "Path",
    "PathPrefix",
    "Method",
    "Headers",
    "HeadersRegexp",
    "Query",
];

/// The canonical name a written name stands for. As in Traefik, a matcher is known by its
/// name, in lower case, in upper case, or capitalized (`HostRegexp`, `hostregexp`,
/// `HOSTREGEXP`, `Hostregexp`), not in any other case.
pub fn canonical(name: &str, syntax: Syntax) -> Option<&'static str> {
    let names = match syntax {
        Syntax::V3 => V3,
        Syntax::V2 => V2,
    };
    canonical_in(name, names)
}

/// The name of `names` that `name` stands for: as written, in lower case, in upper case or
/// capitalized.
pub fn canonical_in(name: &str, names: &[&'static str]) -> Option<&'static str> {
    names.iter().copied().find(|n| {
        let lower = n.to_ascii_lowercase();
        let mut title = lower.clone();
        title[..1].make_ascii_uppercase();
        name == *n || name == lower || name == n.to_ascii_uppercase() || name == title
    })
}

/// Builds a matcher's test from its canonical name and arguments.
pub fn build(name: &'static str, args: &[String], syntax: Syntax) -> Result<Test, String> {
    if args.is_empty() {
        return Err(format!("no args for matcher {name}"));
    }
    if args.iter().any(String::is_empty) {
        return Err(format!("empty args for matcher {name}"));
    }
    match syntax {
        Syntax::V3 => build_v3(name, args),
        Syntax::V2 => build_v2(name, args),
    }
}

fn count(name: &str, args: &[String], allowed: &[usize]) -> Result<(), String> {
    if allowed.contains(&args.len()) {
        Ok(())
    } else {
        let want: Vec<String> = allowed.iter().map(usize::to_string).collect();
        let hint = if name.starts_with("Host") || name.starts_with("Path") {
            format!(" (several values: {name}(`a`) || {name}(`b`), or ruleSyntax v2)")
        } else {
            String::new()
        };
        Err(format!(
            "{name} takes {} argument(s), got {}{hint}",
            want.join(" or "),
            args.len()
        ))
    }
}

fn ascii(name: &str, v: &str) -> Result<(), String> {
    if v.is_ascii() {
        Ok(())
    } else {
        Err(format!(
            "invalid value {v:?} for {name}: non-ASCII characters are not allowed (use the punycode form)"
        ))
    }
}

fn path_arg(name: &str, p: &str) -> Result<String, String> {
    if p.starts_with('/') {
        Ok(p.to_owned())
    } else {
        Err(format!("{name}: path {p:?} does not start with a '/'"))
    }
}

/// The header `k` names; `None` for a name no request can carry (a rule testing it is
/// accepted and never matches, as in Traefik).
fn header_name(k: &str) -> Option<HeaderName> {
    HeaderName::from_bytes(k.as_bytes()).ok()
}

pub(crate) fn client_ips(args: &[String]) -> Result<Vec<IpNet>, String> {
    args.iter()
        .map(|c| {
            c.parse::<IpNet>()
                .or_else(|_| c.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("ClientIP: invalid address or CIDR {c:?}"))
        })
        .collect()
}

fn build_v3(name: &'static str, args: &[String]) -> Result<Test, String> {
    let one = |n: &[usize]| count(name, args, n);
    Ok(match name {
        "Host" => {
            one(&[1])?;
            if args[0] == "*" {
                Test::AnyHost
            } else {
                ascii(name, &args[0])?;
                Test::Host(args[0].to_ascii_lowercase())
            }
        }
        "HostRegexp" => {
            one(&[1])?;
            ascii(name, &args[0])?;
            Test::HostRegexp(vec![re2::compile(&args[0])?])
        }
        "Path" => {
            one(&[1])?;
            Test::Path(path_arg(name, &args[0])?)
        }
        "PathPrefix" => {
            one(&[1])?;
            Test::PathPrefix(path_arg(name, &args[0])?)
        }
        "PathRegexp" => {
            one(&[1])?;
            Test::PathRegexp(vec![re2::compile(&args[0])?])
        }
        "Method" => {
            one(&[1])?;
            Test::Method(vec![args[0].to_uppercase()])
        }
        "Header" => {
            one(&[2])?;
            match header_name(&args[0]) {
                Some(k) => Test::Header(k, args[1].clone()),
                None => Test::Never,
            }
        }
        "HeaderRegexp" => {
            one(&[2])?;
            let re = re2::compile(&args[1])?;
            match header_name(&args[0]) {
                Some(k) => Test::HeaderRegexp(k, re),
                None => Test::Never,
            }
        }
        "Query" => {
            one(&[1, 2])?;
            Test::Query(args[0].clone(), args.get(1).cloned().unwrap_or_default())
        }
        "QueryRegexp" => {
            one(&[1, 2])?;
            match args.get(1) {
                None => Test::Query(args[0].clone(), String::new()),
                Some(re) => Test::QueryRegexp(args[0].clone(), re2::compile(re)?),
            }
        }
        "ClientIP" => {
            one(&[1])?;
            Test::ClientIp(client_ips(args)?)
        }
        other => return Err(format!("unknown matcher {other:?}")),
    })
}

fn build_v2(name: &'static str, args: &[String]) -> Result<Test, String> {
    let pairs = || -> Result<Vec<(&String, &String)>, String> {
        if args.len() % 2 != 0 {
            return Err(format!(
                "{name} takes key-value pairs, got {} arguments",
                args.len()
            ));
        }
        Ok(args.chunks(2).map(|p| (&p[0], &p[1])).collect())
    };
    Ok(match name {
        "Host" | "HostHeader" => {
            for h in args {
                ascii(name, h)?;
            }
            Test::HostsV2(args.iter().map(|h| h.to_ascii_lowercase()).collect())
        }
        "HostRegexp" => {
            for h in args {
                ascii(name, h)?;
            }
            Test::HostRegexp(
                args.iter()
                    .map(|h| v2::template(h, Template::Host))
                    .collect::<Result<_, _>>()?,
            )
        }
        "Path" | "PathPrefix" => {
            let kind = if name == "Path" {
                Template::Path
            } else {
                Template::Prefix
            };
            // gorilla refuses a path template that does not start with a '/', as v3 does.
            Test::PathRegexp(
                args.iter()
                    .map(|p| v2::template(&path_arg(name, p)?, kind))
                    .collect::<Result<_, _>>()?,
            )
        }
        "Method" => Test::Method(args.iter().map(|m| m.to_uppercase()).collect()),
        "ClientIP" => Test::ClientIp(client_ips(args)?),
        "Headers" => {
            let pairs = pairs()?;
            match pairs
                .into_iter()
                .map(|(k, v)| header_name(k).map(|k| (k, v.clone())))
                .collect::<Option<_>>()
            {
                Some(pairs) => Test::HeadersV2(pairs),
                None => Test::Never,
            }
        }
        "HeadersRegexp" => {
            let pairs = pairs()?
                .into_iter()
                .map(|(k, v)| Ok((header_name(k), re2::compile(v)?)))
                .collect::<Result<Vec<_>, String>>()?;
            match pairs
                .into_iter()
                .map(|(k, re)| k.map(|k| (k, re)))
                .collect::<Option<_>>()
            {
                Some(pairs) => Test::HeadersRegexpV2(pairs),
                None => Test::Never,
            }
        }
        "Query" => {
            // Each argument is `key=value`, split once and paired up as gorilla does.
            let flat: Vec<&str> = args
                .iter()
                .flat_map(|a| match a.split_once('=') {
                    Some((k, v)) => vec![k, v],
                    None => vec![a.as_str()],
                })
                .collect();
            if flat.len() % 2 != 0 {
                return Err(format!("Query: expected key=value pairs, got {args:?}"));
            }
            let mut tests = Vec::new();
            // One route's templates (gorilla's uniqueVars): a variable name used twice is an
            // error.
            let mut names = std::collections::HashSet::new();
            for p in flat.chunks(2) {
                let tpl = format!("{}={}", p[0], p[1]);
                for name in v2::variables(&tpl)? {
                    if !names.insert(name.to_owned()) {
                        return Err(format!("Query: duplicated route variable {name:?}"));
                    }
                }
                tests.push((p[0].to_owned(), v2::template(&tpl, Template::Query)?));
            }
            Test::QueryV2(tests)
        }
        other => return Err(format!("unknown matcher {other:?}")),
    })
}

// === matching ===

impl Test {
    /// Whether the request matches.
    pub fn matches(&self, req: &RequestView<'_>) -> bool {
        match self {
            Test::AnyHost => true,
            Test::Host(expr) => host_matches(req.host, expr),
            Test::HostsV2(hosts) => {
                !req.host.is_empty() && hosts.iter().any(|h| exact_host(req.host, h))
            }
            Test::HostRegexp(res) => res.iter().any(|re| re.is_match(req.host)),
            Test::Path(p) => req.path == p,
            Test::PathPrefix(p) => req.path.starts_with(p.as_str()),
            Test::PathRegexp(res) => res.iter().any(|re| re.is_match(req.path)),
            Test::Method(ms) => ms.iter().any(|m| m == req.method),
            Test::Header(k, v) => req
                .headers
                .get_all(k)
                .iter()
                .any(|h| h.as_bytes() == v.as_bytes()),
            Test::HeaderRegexp(k, re) => header_matches(req, k, re),
            Test::HeadersV2(pairs) => pairs.iter().all(|(k, v)| {
                req.headers
                    .get_all(k)
                    .iter()
                    .any(|h| h.as_bytes() == v.as_bytes())
            }),
            Test::HeadersRegexpV2(pairs) => pairs.iter().all(|(k, re)| header_matches(req, k, re)),
            Test::Query(k, v) => query_values(req.query, k).any(|qv| qv == *v),
            Test::QueryRegexp(k, re) => query_values(req.query, k).any(|qv| re.is_match(&qv)),
            Test::QueryV2(tests) => tests
                .iter()
                .all(|(k, re)| re.is_match(&v2::first_query_pair(req.query, k))),
            Test::ClientIp(nets) => {
                let ip = match req.client_ip {
                    IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(req.client_ip, IpAddr::V4),
                    v4 => v4,
                };
                nets.iter().any(|n| n.contains(&ip))
            }
            Test::Never => false,
        }
    }
}

fn header_matches(req: &RequestView<'_>, k: &HeaderName, re: &Regex) -> bool {
    req.headers
        .get_all(k)
        .iter()
        .any(|h| re.is_match(&String::from_utf8_lossy(h.as_bytes())))
}

/// v3 `Host`: the request's canonical host against the expression, each with or without one
/// trailing dot.
pub fn host_matches(host: &str, expr: &str) -> bool {
    if host.is_empty() {
        return false;
    }
    if domain_matches(host, expr) {
        return true;
    }
    if let Some(h) = expr.strip_suffix('.') {
        if domain_matches(host, h) {
            return true;
        }
    }
    match host.strip_suffix('.') {
        Some(h) => domain_matches(h, expr),
        None => false,
    }
}

/// Traefik's `DomainMatchHostExpression`: `*.example.com` stands for exactly one label.
fn domain_matches(domain: &str, expr: &str) -> bool {
    if expr.starts_with('*') {
        let rest = domain.split_once('.').map_or("", |(_, r)| r);
        let masked = if domain.contains('.') {
            format!("*.{rest}")
        } else {
            "*".to_owned()
        };
        return masked.eq_ignore_ascii_case(expr);
    }
    domain.eq_ignore_ascii_case(expr)
}

fn exact_host(host: &str, want: &str) -> bool {
    host == want || want.strip_suffix('.') == Some(host) || host.strip_suffix('.') == Some(want)
}

/// Go's `url.QueryUnescape`: `+` is a space, `%XX` a byte; a bad escape is an error.
pub fn query_unescape(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = b.get(i + 1).and_then(|c| (*c as char).to_digit(16))?;
                let lo = b.get(i + 2).and_then(|c| (*c as char).to_digit(16))?;
                out.push((hi * 16 + lo) as u8);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// The values of `key` in a query as Go's `url.Query` reads it: pairs split on `&`, a pair
/// with a `;` or a bad escape skipped.
fn query_values<'a>(query: Option<&'a str>, key: &'a str) -> impl Iterator<Item = String> + 'a {
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty() && !p.contains(';'))
        .filter_map(move |pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = query_unescape(k)?;
            let v = query_unescape(v)?;
            (k == key).then_some(v)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_traefiks_four_cases() {
        for n in ["PathPrefix", "pathprefix", "PATHPREFIX", "Pathprefix"] {
            assert_eq!(canonical(n, Syntax::V3), Some("PathPrefix"), "{n}");
        }
        for n in ["pathPrefix", "PaThPrefix", "HostSNI"] {
            assert_eq!(canonical(n, Syntax::V3), None, "{n}");
        }
        assert_eq!(canonical("HostHeader", Syntax::V3), None);
        assert_eq!(canonical("hostheader", Syntax::V2), Some("HostHeader"));
    }

    #[test]
    fn wildcard_and_trailing_dots() {
        assert!(host_matches("a.example.com", "*.example.com"));
        assert!(!host_matches("a.b.example.com", "*.example.com"));
        assert!(!host_matches("example.com", "*.example.com"));
        assert!(host_matches("example.com", "example.com."));
        assert!(host_matches("example.com.", "example.com"));
        assert!(host_matches("a.example.com.", "*.example.com"));
        assert!(!host_matches("", "example.com"));
    }

    #[test]
    fn v2_paths_start_with_a_slash() {
        for name in ["Path", "PathPrefix"] {
            let args = ["/css".to_owned(), "js".to_owned()];
            assert!(build(name, &args, Syntax::V2).is_err(), "{name}");
            assert!(build(name, &args[..1], Syntax::V2).is_ok(), "{name}");
        }
    }

    #[test]
    fn go_query_reading() {
        let vals: Vec<String> = query_values(Some("a=1&b=x+y&a=%32&bad=%zz&c;d=1"), "a").collect();
        assert_eq!(vals, vec!["1", "2"]);
        assert_eq!(
            query_values(Some("b=x+y"), "b").next().as_deref(),
            Some("x y")
        );
        assert_eq!(query_values(Some("bad=%zz"), "bad").next(), None);
        assert_eq!(query_values(Some("k"), "k").next().as_deref(), Some(""));
    }
}
