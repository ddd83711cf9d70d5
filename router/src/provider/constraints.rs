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
