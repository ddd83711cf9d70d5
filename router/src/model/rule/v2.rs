//! Traefik v2's rule matchers (`ruleSyntax=v2`, `core.defaultRuleSyntax=v2`), as Traefik v3
//! still runs them: gorilla/mux route templates for `Path`, `PathPrefix`, `HostRegexp` and
//! `Query` (`/api/{id:[0-9]+}`, `{sub:[a-z]+}.example.com`, `k={v}`), several values per
//! matcher, `Headers`/`HeadersRegexp` in key-value pairs.

use regex::Regex;

use super::re2;

/// What a gorilla template is matched against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template {
    /// A whole path: `^...$`, variables default to `[^/]+`.
    Path,
    /// A path prefix: `^...`, variables default to `[^/]+`.
    Prefix,
    /// A host: `^...$`, variables default to `[^.]+`.
    Host,
    /// A query pair `key=value`: `^...$`, variables default to `.*`.
    Query,
}

/// Compiles a gorilla/mux route template into an anchored regex: literal text is quoted,
/// `{name}` takes the default pattern and `{name:pattern}` its own (Go syntax; capturing
/// groups allowed, as in Traefik). A host template matches without case, as gorilla's `(?i)` makes it
/// (and Traefik's v2 `HostSNIRegexp`): `{sub:[A-Z]+}.Example.com` matches `a.example.com`,
/// the request's host being lowercase here.
pub fn template(tpl: &str, kind: Template) -> Result<Regex, String> {
    let default = match kind {
        Template::Path | Template::Prefix => "[^/]+",
        Template::Host => "[^.]+",
        Template::Query => ".*",
    };
    let mut pattern = String::from(if kind == Template::Host { "(?i)^" } else { "^" });
    let mut literal_start = 0;
    for (open, close) in braces(tpl)? {
        pattern.push_str(&quote_go(&tpl[literal_start..open]));
        let param = &tpl[open + 1..close];
        let (name, patt) = match param.split_once(':') {
            Some((n, p)) => (n, p),
            None => (param, default),
        };
        if name.is_empty() || patt.is_empty() {
            return Err(format!(
                "missing name or pattern in {:?}",
                &tpl[open..=close]
            ));
        }
        // Capturing groups are accepted: Traefik's fork of gorilla/mux (containous/mux) drops
        // upstream's refusal of them, and they change nothing to a match.
        let translated = re2::translate(patt)?;
        Regex::new(&translated).map_err(|e| format!("in {tpl:?}: {e}"))?;
        pattern.push_str("(?:");
        pattern.push_str(&translated);
        pattern.push(')');
        literal_start = close + 1;
    }
    pattern.push_str(&quote_go(&tpl[literal_start..]));
    if kind == Template::Query && tpl.split_once('=').is_some_and(|(_, v)| v.is_empty()) {
        pattern.push_str(default);
    }
    if kind != Template::Prefix {
        pattern.push('$');
    }
    regex::RegexBuilder::new(&pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| format!("invalid template {tpl:?}: {e}"))
}

/// The names of a template's variables (`{name}`, `{name:pattern}`), in order.
pub fn variables(tpl: &str) -> Result<Vec<&str>, String> {
    Ok(braces(tpl)?
        .into_iter()
        .map(|(open, close)| {
            let param = &tpl[open + 1..close];
            param.split_once(':').map_or(param, |(n, _)| n)
        })
        .collect())
}

/// First-level `{...}` pairs, as byte offsets of the braces; unbalanced braces are an error.
fn braces(s: &str) -> Result<Vec<(usize, usize)>, String> {
    let mut level = 0i32;
    let mut start = 0;
    let mut out = Vec::new();
    for (i, b) in s.bytes().enumerate() {
        match b {
            b'{' => {
                level += 1;
                if level == 1 {
                    start = i;
                }
            }
            b'}' => {
                level -= 1;
                if level == 0 {
                    out.push((start, i));
                } else if level < 0 {
                    return Err(format!("unbalanced braces in {s:?}"));
                }
            }
            _ => {}
        }
    }
    if level != 0 {
        return Err(format!("unbalanced braces in {s:?}"));
    }
    Ok(out)
}

/// Go's `regexp.QuoteMeta`, for the Rust engine.
fn quote_go(s: &str) -> String {
    regex::escape(s)
}

/// gorilla's query matching: the first `key=value` pair whose key is the template's key
/// (pairs split on `&` and `;`, unescaped as a query), as `key=value`; empty when absent.
pub fn first_query_pair(raw: Option<&str>, key: &str) -> String {
    for pair in raw.unwrap_or("").split(['&', ';']) {
        if pair.is_empty() {
            continue;
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (Some(k), Some(v)) = (
            super::matcher::query_unescape(k),
            super::matcher::query_unescape(v),
        ) else {
            continue;
        };
        if k == key {
            return format!("{k}={v}");
        }
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates() {
        let t = template("/api/{id:[0-9]+}", Template::Path).unwrap();
        assert!(t.is_match("/api/12"));
        assert!(!t.is_match("/api/12/x"));
        assert!(!t.is_match("/api/x"));
        let t = template("/api/{rest}", Template::Prefix).unwrap();
        assert!(t.is_match("/api/a/b"));
        let h = template("{sub:[a-z]+}.example.com", Template::Host).unwrap();
        assert!(h.is_match("www.example.com"));
        assert!(!h.is_match("www.examplexcom"));
        let h = template("{sub}.example.com", Template::Host).unwrap();
        assert!(!h.is_match("a.b.example.com"));
        let h = template("{sub:[A-Z]+}.Example.com", Template::Host).unwrap();
        assert!(h.is_match("www.example.com"));
        assert!(!template("/A", Template::Path).unwrap().is_match("/a"));
        let q = template("k=", Template::Query).unwrap();
        assert!(q.is_match("k=anything"));
        // Capturing groups are accepted, as by Traefik's gorilla/mux fork.
        let g = template("/{a:(x|y)}", Template::Path).unwrap();
        assert!(g.is_match("/x") && g.is_match("/y") && !g.is_match("/xy"));
        assert!(template("/{a", Template::Path).is_err());
        assert!(template("/{:x}", Template::Path).is_err());
        assert!(template("/a.b", Template::Path).unwrap().is_match("/a.b"));
        assert!(!template("/a.b", Template::Path).unwrap().is_match("/axb"));
    }

    #[test]
    fn query_pairs() {
        assert_eq!(first_query_pair(Some("a=1;k=x%20y&k=2"), "k"), "k=x y");
        assert_eq!(first_query_pair(Some("a=1"), "k"), "");
    }
}
