//! `providers.docker.constraints` (and Swarm's): an expression over a container's labels,
//! `Label(`key`, `value`)` and `LabelRegex(`key`, `regex`)` combined with `!`, `&&`, `||`
//! and parentheses, in the rule grammar (Go expressions). A container the expression does not
//! match is not routed. As in Traefik, a missing label reads as empty; unlike Traefik, a bad
//! regex is an error when the configuration is read rather than a silent non-match.

use std::collections::BTreeMap;

use regex::Regex;

use crate::model::rule::{expr, re2};

/// A parsed constraints expression.
#[derive(Debug, Clone)]
pub struct Constraints {
    source: String,
    expr: Node,
}

#[derive(Debug, Clone)]
enum Node {
    Label(String, String),
    LabelRegex(String, Regex),
    Not(Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
}

impl PartialEq for Constraints {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for Constraints {}

impl Constraints {
    /// Parses an expression; the error names the problem and its byte offset.
    pub fn parse(source: &str) -> Result<Constraints, String> {
        let e = expr::parse(source).map_err(|(at, r)| format!("{r} (at byte {at})"))?;
        Ok(Constraints {
            source: source.to_owned(),
            expr: build(e)?,
        })
    }

    /// Whether a container with these labels is kept.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        eval(&self.expr, labels)
    }

    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }
}

fn build(e: expr::Expr) -> Result<Node, String> {
    Ok(match e {
        expr::Expr::Call { name, args, at } => match (name.as_str(), args.as_slice()) {
            ("Label", [k, v]) => Node::Label(k.clone(), v.clone()),
            ("LabelRegex", [k, r]) => Node::LabelRegex(k.clone(), re2::compile(r)?),
            ("Label" | "LabelRegex", _) => {
                return Err(format!(
                    "{name} takes two arguments, got {} (at byte {at})",
                    args.len()
                ))
            }
            _ => {
                return Err(format!(
                    "unknown function {name:?}: expected Label or LabelRegex (at byte {at})"
                ))
            }
        },
        expr::Expr::Not(a) => Node::Not(Box::new(build(*a)?)),
        expr::Expr::And(a, b) => Node::And(Box::new(build(*a)?), Box::new(build(*b)?)),
        expr::Expr::Or(a, b) => Node::Or(Box::new(build(*a)?), Box::new(build(*b)?)),
    })
}

fn eval(n: &Node, labels: &BTreeMap<String, String>) -> bool {
    let get = |k: &str| labels.get(k).map_or("", String::as_str);
    match n {
        Node::Label(k, v) => get(k) == v,
        Node::LabelRegex(k, re) => re.is_match(get(k)),
        Node::Not(a) => !eval(a, labels),
        Node::And(a, b) => eval(a, labels) && eval(b, labels),
        Node::Or(a, b) => eval(a, labels) || eval(b, labels),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// What a constraints row expects.
    #[derive(Debug, PartialEq, Eq)]
    enum Want {
        /// The container is kept (`true`) or not.
        Match(bool),
        /// The expression is an error (at start, naming the key).
        Error,
    }

    /// Traefik's `TestMatchLabels` (constraints_labels_test.go): the expression (Go string
    /// literals, so `"w\\w+"` is the regex `w\w+`), the labels, the result. One row differs on
    /// purpose (README, `providers.docker`: "a bad regex is an error here, not a silent
    /// non-match"): Traefik's `LabelRegex("hello", "w(\\w+")` matches nothing, here it is an
    /// error. The empty expression is read by the configuration (no constraints: every
    /// container kept), as Traefik's `MatchLabels` returns `true` for it.
    #[test]
    fn match_labels_as_traefiks_table() {
        let hw = &[("hello", "world"), ("foo", "bar")][..];
        type Labels<'a> = &'a [(&'a str, &'a str)];
        let rows: &[(&str, Labels, Want)] = &[
            (r#"Label("hello", "world")"#, hw, Want::Match(true)),
            (r#"Label("hello", "worlds")"#, hw, Want::Match(false)),
            (r#"Label("hi", "world")"#, hw, Want::Match(false)),
            (r#"!Label("hello", "world")"#, hw, Want::Match(false)),
            (
                r#"Label("hello", "world") && Label("foo", "bar")"#,
                hw,
                Want::Match(true),
            ),
            (
                r#"Label("hello", "worlds") && Label("foo", "bar")"#,
                hw,
                Want::Match(false),
            ),
            (
                r#"Label("hello", "world") && !Label("foo", "bar")"#,
                hw,
                Want::Match(false),
            ),
            (
                r#"Label("hello", "world") || Label("foo", "bar")"#,
                hw,
                Want::Match(true),
            ),
            (
                r#"Label("hello", "worlds") || Label("foo", "bar")"#,
                hw,
                Want::Match(true),
            ),
            (
                r#"Label("hello", "world") || !Label("foo", "bar")"#,
                hw,
                Want::Match(true),
            ),
            (r#"Label("hello")"#, hw, Want::Error),
            (r#"Foo("hello")"#, hw, Want::Error),
            (r#"Label("hello", "bar")"#, &[], Want::Match(false)),
            (r#"LabelRegex("hello", "w\\w+")"#, hw, Want::Match(true)),
            (r#"LabelRegex("hello", "w\\w+s")"#, hw, Want::Match(false)),
            (r#"LabelRegex("hi", "w\\w+")"#, hw, Want::Match(false)),
            (r#"!LabelRegex("hello", "w\\w+")"#, hw, Want::Match(false)),
            // Traefik: Match(false) (its regex error is swallowed). README.
            (r#"LabelRegex("hello", "w(\\w+")"#, hw, Want::Error),
            // Beyond the table: precedence and parentheses, as Go's.
            (
                r#"Label("hi", "x") && Label("hello", "world") || Label("foo", "bar")"#,
                hw,
                Want::Match(true),
            ),
            (
                r#"Label("hi", "x") && (Label("hello", "world") || Label("foo", "bar"))"#,
                hw,
                Want::Match(false),
            ),
            (r#"!(Label("hi", "x"))"#, hw, Want::Match(true)),
            // An unanchored search, as Go's regexp.MatchString.
            (r#"LabelRegex("hello", "orl")"#, hw, Want::Match(true)),
        ];
        for (expr, pairs, want) in rows {
            let got = match Constraints::parse(expr) {
                Ok(c) => Want::Match(c.matches(&labels(pairs))),
                Err(_) => Want::Error,
            };
            assert_eq!(&got, want, "{expr}");
        }
        // ``: no constraints at all.
        let args =
            crate::config::sources::parse_args(&["--providers.docker.constraints=".to_string()])
                .unwrap();
        let c = crate::config::Config::load(
            &std::collections::HashMap::<String, String>::new(),
            &args,
            false,
        )
        .unwrap();
        assert!(c.docker.unwrap().constraints.is_none());
    }

    #[test]
    fn label_expressions() {
        let c = Constraints::parse("Label(`a.b`, `x`) && !LabelRegex(`env`, `^prod`)").unwrap();
        assert!(c.matches(&labels(&[("a.b", "x"), ("env", "dev")])));
        assert!(!c.matches(&labels(&[("a.b", "x"), ("env", "production")])));
        assert!(!c.matches(&labels(&[("env", "dev")])));
        let empty = Constraints::parse("Label(`missing`, ``)").unwrap();
        assert!(empty.matches(&labels(&[])));
        for bad in [
            "Label(`a`)",
            "Tag(`a`)",
            "LabelRegex(`a`, `(`)",
            "label(`a`, `b`)",
            "",
        ] {
            assert!(Constraints::parse(bad).is_err(), "{bad}");
        }
    }
}
