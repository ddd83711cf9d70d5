//! The path and URL rewriting middlewares that take Go regular expressions: `replacePath`,
//! `replacePathRegex`, `stripPrefixRegex` and `redirectRegex`, decoded as Traefik reads them
//! (patterns trimmed, compiled with Go's syntax; a replacement's `$1` and `${name}` expand
//! as Go's `Regexp.ReplaceAllString` does).

use serde::{Serialize, Serializer};

use super::{fields, Middleware};
use crate::tree::{DecodeError, Node};

/// A Go regular expression, compiled once when the configuration is read. Two are equal
/// when their patterns are (the table compares configurations to see what changed).
#[derive(Debug, Clone)]
pub struct GoRegex {
    pattern: String,
    re: regex::Regex,
}

impl GoRegex {
    /// Compiles `pattern` with Go's syntax.
    pub fn new(pattern: &str) -> Result<GoRegex, String> {
        Ok(GoRegex {
            pattern: pattern.to_owned(),
            re: crate::model::rule::re2::compile(pattern)?,
        })
    }

    /// The compiled expression.
    pub fn re(&self) -> &regex::Regex {
        &self.re
    }

    /// The pattern as written.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }
}

impl PartialEq for GoRegex {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
    }
}

impl Eq for GoRegex {}

impl Serialize for GoRegex {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.pattern)
    }
}

/// A required pattern at `name`, trimmed as Traefik trims it, compiled.
fn regex_at(
    f: &mut crate::tree::Fields<'_>,
    kind: &Node,
    name: &str,
) -> Result<GoRegex, DecodeError> {
    let n = f.take(name).ok_or_else(|| {
        DecodeError::at(
            kind,
            format!("{} needs {name}", kind.name.to_ascii_lowercase()),
        )
    })?;
    let pattern = n.text()?.trim();
    if pattern.is_empty() {
        return Err(DecodeError::at(n, format!("{name} is empty")));
    }
    GoRegex::new(pattern).map_err(|e| DecodeError::at(n, e))
}

/// The replacement at `name` (may be empty: it removes what matched).
fn replacement_at(
    f: &mut crate::tree::Fields<'_>,
    name: &str,
    trim: bool,
) -> Result<String, DecodeError> {
    Ok(match f.take(name) {
        Some(n) if trim => n.text()?.trim().to_owned(),
        Some(n) => n.text()?.to_owned(),
        None => String::new(),
    })
}

/// `replacePath.path`: the whole path replaced (the old one goes in `X-Replaced-Path`).
pub fn replace_path(kind: &Node) -> Result<Middleware, DecodeError> {
    let mut f = fields(kind, &["path"])?;
    let n = f
        .take("path")
        .ok_or_else(|| DecodeError::at(kind, "replacepath needs a path"))?;
    let path = n.text()?.to_owned();
    check_escaped_path(&path).map_err(|e| DecodeError::at(n, e))?;
    Ok(Middleware::ReplacePath { path })
}

/// `replacePathRegex.regex` and `.replacement`.
pub fn replace_path_regex(kind: &Node) -> Result<Middleware, DecodeError> {
    let mut f = fields(kind, &["regex", "replacement"])?;
    let regex = regex_at(&mut f, kind, "regex")?;
    let replacement = replacement_at(&mut f, "replacement", true)?;
    Ok(Middleware::ReplacePathRegex { regex, replacement })
}

/// `stripPrefixRegex.regex`: patterns tried in order, the first that matches at the start of
/// the path is removed.
pub fn strip_prefix_regex(kind: &Node) -> Result<Middleware, DecodeError> {
    let mut f = fields(kind, &["regex"])?;
    let n = f
        .take("regex")
        .ok_or_else(|| DecodeError::at(kind, "stripprefixregex needs regex"))?;
    let mut regex = Vec::new();
    // None at all strips nothing, as Traefik's loop over no expressions.
    for p in n.strings()? {
        regex.push(GoRegex::new(p.trim()).map_err(|e| DecodeError::at(n, e))?);
    }
    Ok(Middleware::StripPrefixRegex { regex })
}

/// `redirectRegex.regex`, `.replacement` and `.permanent`.
pub fn redirect_regex(kind: &Node) -> Result<Middleware, DecodeError> {
    let mut f = fields(kind, &["regex", "replacement", "permanent"])?;
    let regex = regex_at(&mut f, kind, "regex")?;
    let replacement = replacement_at(&mut f, "replacement", false)?;
    let permanent = f
        .take("permanent")
        .map(Node::boolean)
        .transpose()?
        .unwrap_or(false);
    Ok(Middleware::RedirectRegex {
        regex,
        replacement,
        permanent,
    })
}

/// Whether `path` percent-decodes (Go's `url.PathUnescape`), as a path a rewrite makes must.
pub fn check_escaped_path(path: &str) -> Result<(), String> {
    go_escaped_path(path).map(drop)
}

/// The request path a rewrite to the raw path `raw` sends, as Traefik's: `raw` is the URL's
/// `RawPath`, its unescaped form the `Path`, and the request line takes Go's `EscapedPath`:
/// `raw` itself when it is a valid encoding (RFC 3986's path characters, `[` `]`, and escapes),
/// else the unescaped bytes escaped again (a space as `%20`, `?` as `%3F`, non-ASCII bytes
/// each as `%XX`). `Err`: an escape that does not decode (Traefik answers 500).
pub fn go_escaped_path(raw: &str) -> Result<String, String> {
    let b = raw.as_bytes();
    let mut unescaped = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = |c: u8| char::from(c).to_digit(16);
            match (
                b.get(i + 1).and_then(|c| hex(*c)),
                b.get(i + 2).and_then(|c| hex(*c)),
            ) {
                (Some(h), Some(l)) => unescaped.push((h * 16 + l) as u8),
                _ => return Err(format!("invalid URL escape in {raw:?}")),
            }
            i += 3;
        } else {
            unescaped.push(b[i]);
            i += 1;
        }
    }
    let valid = b
        .iter()
        .all(|&c| b"!$&'()*+,;=:@[]%".contains(&c) || !escaped_in_path(c));
    if valid {
        return Ok(raw.to_owned());
    }
    let mut out = String::with_capacity(unescaped.len() + 8);
    for c in unescaped {
        if escaped_in_path(c) {
            out.push_str(&format!("%{c:02X}"));
        } else {
            out.push(char::from(c));
        }
    }
    Ok(out)
}

/// Go's `shouldEscape(c, encodePath)`: all but letters, digits, `-_.~` and `$&+,/:;=@`.
fn escaped_in_path(c: u8) -> bool {
    !(c.is_ascii_alphanumeric() || b"-_.~$&+,/:;=@".contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_paths_are_checked_as_go_unescapes_them() {
        assert!(check_escaped_path("/a%20b/c").is_ok());
        assert!(check_escaped_path("/a%2").is_err());
        assert!(check_escaped_path("/a%zz").is_err());
        // What Go's URL.EscapedPath makes of a RawPath: kept when a valid encoding, else
        // the unescaped bytes escaped again.
        for (raw, sent) in [
            ("/a%20b/c", "/a%20b/c"),
            ("/a(b)*!'[x]", "/a(b)*!'[x]"),
            ("/my file", "/my%20file"),
            ("/caf\u{e9}", "/caf%C3%A9"),
            ("/a?b#c", "/a%3Fb%23c"),
            // Go's loss too: an escaped `/` comes back as `/`.
            ("/a b%2Fc", "/a%20b/c"),
            ("/{x}|\"", "/%7Bx%7D%7C%22"),
            ("/a b%41", "/a%20bA"),
        ] {
            assert_eq!(go_escaped_path(raw).as_deref(), Ok(sent), "{raw}");
        }
    }

    #[test]
    fn regexes_compare_by_pattern() {
        assert_eq!(GoRegex::new("^/a").unwrap(), GoRegex::new("^/a").unwrap());
        assert_ne!(GoRegex::new("^/a").unwrap(), GoRegex::new("^/b").unwrap());
        assert!(GoRegex::new("(").is_err());
    }
}

#[cfg(test)]
mod decode_tests {
    use super::*;

    fn one(yaml: &str) -> Result<Middleware, DecodeError> {
        let node = Node::from_yaml(yaml, "m").unwrap();
        super::super::decode(&node).map(|m| m.unwrap())
    }

    #[test]
    fn the_four_kinds_decode_as_traefik_reads_them() {
        let m =
            one("replacePathRegex:\n  regex: ' ^/api/(.*) '\n  replacement: ' /v2/$1 '\n").unwrap();
        let Middleware::ReplacePathRegex { regex, replacement } = m else {
            panic!("{m:?}")
        };
        assert_eq!(
            (regex.pattern(), replacement.as_str()),
            ("^/api/(.*)", "/v2/$1")
        );
        let m = one("stripprefixregex:\n  regex: ['/a/[0-9]+', '/b']\n").unwrap();
        let Middleware::StripPrefixRegex { regex } = m else {
            panic!("{m:?}")
        };
        assert_eq!(regex.len(), 2);
        let m = one("redirectRegex:\n  regex: ^http://localhost/(.*)\n  replacement: http://mydomain/${1}\n  permanent: true\n").unwrap();
        assert!(
            matches!(
                m,
                Middleware::RedirectRegex {
                    permanent: true,
                    ..
                }
            ),
            "{m:?}"
        );
        let m = one("replacepath:\n  path: /foo%20bar\n").unwrap();
        assert_eq!(
            m,
            Middleware::ReplacePath {
                path: "/foo%20bar".into()
            }
        );
        // Go's syntax: a `{` that starts no repetition is a literal.
        assert!(one("replacePathRegex:\n  regex: /{id}\n  replacement: /x\n").is_ok());
    }

    #[test]
    fn errors_name_the_key() {
        for (yaml, says) in [
            ("redirectregex:\n  replacement: /x\n", "needs regex"),
            (
                "redirectregex:\n  regex: '('\n  replacement: /x\n",
                "invalid regex",
            ),
            ("replacepathregex:\n  regex: ''\n", "regex is empty"),
            ("replacepath:\n  path: /a%zz\n", "invalid URL escape"),
        ] {
            let e = one(yaml).unwrap_err();
            assert!(e.to_string().contains(says), "{yaml}: {e}");
        }
        // As Traefik's: an empty list is no error, and does nothing.
        for yaml in [
            "stripprefixregex:\n  regex: []\n",
            "chain:\n  middlewares: []\n",
            "chain: {}\n",
        ] {
            assert!(one(yaml).is_ok(), "{yaml}");
        }
    }
}
