//! Explicit rules (`GUARD_RULES`, `GUARD_RULES_FILE`): `METHOD[,METHOD] REGEX` per line.
//!
//! For what the sections cannot express, e.g. `GET ^/containers/[a-z0-9]+/logs$` for one
//! log shipper. Each regex is anchored (`^(?:...)$`) and matched against the canonical,
//! decoded, unversioned path, so a rule never sees an escaped or dotted spelling. The regex
//! crate is linear-time and size-capped, so a rule cannot make matching blow up. Rules add
//! grants; they never bypass body inspection or the upgrade handling of the endpoint reached.

use regex::{RegexSet, RegexSetBuilder};

/// Methods a rule may name. PATCH, OPTIONS, TRACE and CONNECT are never forwarded.
pub const RULE_METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "DELETE"];

/// Compiled regex size cap per set (bytes of compiled program).
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// One explicit rule, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The methods it allows.
    pub methods: Vec<String>,
    /// The regex as written (before anchoring).
    pub pattern: String,
    /// Where it came from, e.g. `GUARD_RULES line 2`, for audit lines.
    pub origin: String,
}

/// A compiled, ordered set of rules.
#[derive(Debug, Clone)]
pub struct RuleSet {
    rules: Vec<Rule>,
    set: RegexSet,
}

/// Why a rule line does not parse; the message names the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {reason}: {line:?}")]
pub struct RuleError {
    /// Where the line came from.
    pub origin: String,
    /// The line as written.
    pub line: String,
    /// What is wrong with it.
    pub reason: String,
}

// === impl RuleSet ===

impl Default for RuleSet {
    fn default() -> Self {
        RuleSet::compile(Vec::new()).unwrap_or_else(|_| unreachable!("empty set compiles"))
    }
}

impl RuleSet {
    /// Parses rule lines (blank lines and `#` comments skipped); `origin` names the source,
    /// e.g. `GUARD_RULES` or the file path.
    pub fn parse_lines(origin: &str, text: &str) -> Result<Vec<Rule>, RuleError> {
        let mut rules = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let at = format!("{origin} line {}", n + 1);
            let err = |reason: &str| RuleError {
                origin: at.clone(),
                line: line.to_owned(),
                reason: reason.to_owned(),
            };
            let Some((methods, pattern)) = trimmed.split_once(char::is_whitespace) else {
                return Err(err("expected METHOD[,METHOD] REGEX"));
            };
            let pattern = pattern.trim();
            let mut ms = Vec::new();
            for m in methods.split(',') {
                if !RULE_METHODS.contains(&m) {
                    return Err(err(&format!(
                        "method {m:?} is not one of {}",
                        RULE_METHODS.join(", ")
                    )));
                }
                ms.push(m.to_owned());
            }
            if pattern.is_empty() {
                return Err(err("the regex is empty"));
            }
            rules.push(Rule {
                methods: ms,
                pattern: pattern.to_owned(),
                origin: at,
            });
        }
        Ok(rules)
    }

    /// Compiles rules into one anchored set.
    pub fn compile(rules: Vec<Rule>) -> Result<RuleSet, RuleError> {
        for r in &rules {
            anchored_set(std::slice::from_ref(&r.pattern)).map_err(|e| RuleError {
                origin: r.origin.clone(),
                line: r.pattern.clone(),
                reason: format!("invalid regex: {e}"),
            })?;
        }
        let patterns: Vec<String> = rules.iter().map(|r| r.pattern.clone()).collect();
        let set = anchored_set(&patterns).map_err(|e| RuleError {
            origin: "rules".into(),
            line: String::new(),
            reason: format!("the rules together are too large: {e}"),
        })?;
        Ok(RuleSet { rules, set })
    }

    /// The first rule (in order) that allows this method on this canonical path.
    pub fn find(&self, method: &str, path: &str) -> Option<&Rule> {
        if self.rules.is_empty() {
            return None;
        }
        self.set
            .matches(path)
            .iter()
            .map(|i| &self.rules[i])
            .find(|r| r.methods.iter().any(|m| m == method))
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }
}

fn anchored_set(patterns: &[String]) -> Result<RegexSet, regex::Error> {
    RegexSetBuilder::new(patterns.iter().map(|p| format!("^(?:{p})$")))
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(text: &str) -> RuleSet {
        RuleSet::compile(RuleSet::parse_lines("GUARD_RULES", text).expect("parses"))
            .expect("compiles")
    }

    #[test]
    fn parses_and_matches_anchored() {
        let s = set("# comment\n\nGET,HEAD /containers/[a-z0-9]+/logs\nPOST /build\n");
        assert_eq!(s.rules().len(), 2);
        assert!(s.find("GET", "/containers/abc/logs").is_some());
        assert!(s.find("HEAD", "/containers/abc/logs").is_some());
        assert!(s.find("POST", "/containers/abc/logs").is_none());
        assert!(s.find("GET", "/containers/abc/logsx").is_none());
        assert!(s.find("GET", "/x/containers/abc/logs").is_none());
        assert!(s.find("POST", "/build").is_some());
        assert_eq!(
            s.find("POST", "/build").map(|r| r.origin.as_str()),
            Some("GUARD_RULES line 4")
        );
    }

    #[test]
    fn alternation_cannot_escape_the_anchor() {
        let s = set("GET /_ping|/containers/json");
        assert!(s.find("GET", "/containers/json").is_some());
        assert!(s.find("GET", "/containers/json/x").is_none());
        assert!(s.find("GET", "/x/_ping").is_none());
    }

    #[test]
    fn bad_lines_name_the_line() {
        let e = RuleSet::parse_lines("GUARD_RULES", "GET /a\nPATCH /b").unwrap_err();
        assert_eq!(e.origin, "GUARD_RULES line 2");
        let e = RuleSet::parse_lines("f", "get /a").unwrap_err();
        assert!(e.reason.contains("\"get\""));
        assert!(RuleSet::parse_lines("f", "GET").is_err());
        let rules = RuleSet::parse_lines("f", "GET /a(").expect("parses");
        assert!(RuleSet::compile(rules)
            .unwrap_err()
            .reason
            .contains("invalid regex"));
    }
}
