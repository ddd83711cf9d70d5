//! The policies file (`GUARD_POLICIES_FILE`): several named policies in one guard, so a
//! router, a dashboard and an updater can share it with different rights.
//!
//! ```text
//! # a comment
//! [prometheus]
//! MATCH_FROM=172.30.0.10/32
//! PRESET=monitoring
//!
//! [updater]
//! MATCH_LISTEN=unix:///run/guard/updater.sock
//! CONTAINERS=1
//! IMAGES=1
//! POST=1
//! GUARD_MODE=warn
//! ```
//!
//! A `[name]` line opens a policy; its lines are `KEY=VALUE`, written with the environment's
//! own policy variables (a preset's lines can be pasted in, or `PRESET=name` starts from one;
//! the section's own lines then override it, and its `GUARD_RULES` lines are added to the
//! preset's). `MATCH_*` lines say which clients the policy is for; what they mean is the
//! server's business ([`Section::matches`] is handed over as written). Everything else is
//! refused with the line it is on: a line outside a section, a key set twice, a server
//! setting (listeners, limits: one per guard), a section that matches nobody, an unknown name.
//! Pure: the caller reads the files.

use std::collections::HashMap;

use crate::config::{policy_from_env, ConfigError, GUARD_POLICIES_FILE, GUARD_RULES, SERVER_VARS};
use crate::policy::Policy;
use crate::preset;

/// How a section names its preset.
pub const PRESET: &str = "PRESET";
/// The prefix of the lines that say which clients a section is for.
pub const MATCH_PREFIX: &str = "MATCH_";
/// The name of the environment's own policy, which no section may take.
pub const DEFAULT_NAME: &str = "default";

/// One policy of the file.
#[derive(Debug, Clone)]
pub struct Section {
    /// Its name, from the `[name]` line.
    pub name: String,
    /// The line of `[name]`.
    pub line: usize,
    /// Its `MATCH_*` lines: line number, key, value, in order.
    pub matches: Vec<(usize, String, String)>,
    /// The policy its other lines give.
    pub policy: Policy,
}

/// An error in the file: the variable is `GUARD_POLICIES_FILE`, the value its path.
fn error(path: &str, line: usize, reason: impl std::fmt::Display) -> ConfigError {
    ConfigError::new(GUARD_POLICIES_FILE, path, format!("line {line}: {reason}"))
}

/// A section being read.
struct Open {
    name: String,
    line: usize,
    matches: Vec<(usize, String, String)>,
    vars: HashMap<String, String>,
    preset: Option<&'static str>,
}

/// Parses the file at `path` whose text is `text`; `read_file` reads the rule files its
/// sections name.
pub fn parse(
    path: &str,
    text: &str,
    read_file: impl Fn(&str) -> Result<String, String>,
) -> Result<Vec<Section>, ConfigError> {
    let mut done: Vec<Section> = Vec::new();
    let mut open: Option<Open> = None;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            if let Some(o) = open.take() {
                done.push(close(path, o, &read_file)?);
            }
            let name = name.trim();
            check_name(path, n, name, &done)?;
            open = Some(Open {
                name: name.to_owned(),
                line: n,
                matches: Vec::new(),
                vars: HashMap::new(),
                preset: None,
            });
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(error(
                path,
                n,
                format!("{line:?}: expected [name] or KEY=VALUE"),
            ));
        };
        let (key, value) = (key.trim(), value.trim());
        let Some(o) = open.as_mut() else {
            return Err(error(
                path,
                n,
                format!("{key} is outside a [policy] section"),
            ));
        };
        add(path, n, o, key, value)?;
    }
    if let Some(o) = open.take() {
        done.push(close(path, o, &read_file)?);
    }
    Ok(done)
}

fn check_name(path: &str, n: usize, name: &str, done: &[Section]) -> Result<(), ConfigError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !valid {
        return Err(error(
            path,
            n,
            format!("[{name}]: a policy name is 1 to 64 letters, digits, '-', '_' or '.'"),
        ));
    }
    if name == DEFAULT_NAME {
        return Err(error(
            path,
            n,
            "[default] is the environment's own policy (for clients no section matches): set it in the environment",
        ));
    }
    if let Some(first) = done.iter().find(|s| s.name == name) {
        return Err(error(
            path,
            n,
            format!("[{name}] is already defined on line {}", first.line),
        ));
    }
    Ok(())
}

/// One `KEY=VALUE` line of the open section.
fn add(path: &str, n: usize, o: &mut Open, key: &str, value: &str) -> Result<(), ConfigError> {
    let at = |reason: String| error(path, n, format!("[{}] {key}={value:?}: {reason}", o.name));
    if key.starts_with(MATCH_PREFIX) {
        o.matches.push((n, key.to_owned(), value.to_owned()));
        return Ok(());
    }
    if SERVER_VARS.contains(&key) {
        return Err(at(
            "a server setting, one per guard: set it in the environment, not per policy".into(),
        ));
    }
    if key == PRESET {
        if o.preset.is_some() {
            return Err(at("a section starts from one preset at most".into()));
        }
        let text = preset::text(value)
            .ok_or_else(|| at(format!("no such preset (there are {})", preset::names())))?;
        o.preset = Some(text);
        return Ok(());
    }
    if key == GUARD_RULES {
        // Several rule lines: each is one rule.
        let rules = o.vars.entry(key.to_owned()).or_default();
        if !rules.is_empty() {
            rules.push('\n');
        }
        rules.push_str(value);
        return Ok(());
    }
    if o.vars.insert(key.to_owned(), value.to_owned()).is_some() {
        return Err(at("set twice in this section".into()));
    }
    Ok(())
}

/// The open section, compiled: its preset under its own lines.
fn close(
    path: &str,
    o: Open,
    read_file: &impl Fn(&str) -> Result<String, String>,
) -> Result<Section, ConfigError> {
    if o.matches.is_empty() {
        return Err(error(
            path,
            o.line,
            format!(
                "[{}] matches no client: give it a MATCH_LISTEN, MATCH_FROM, MATCH_UID, MATCH_GID, MATCH_CERT or MATCH_LABEL line",
                o.name
            ),
        ));
    }
    let mut vars: HashMap<String, String> = HashMap::new();
    for (k, v) in o.preset.into_iter().flat_map(preset::pairs) {
        vars.insert(k.to_owned(), v.to_owned());
    }
    for (k, v) in o.vars {
        match (k.as_str(), vars.get_mut(&k)) {
            (GUARD_RULES, Some(rules)) => {
                rules.push('\n');
                rules.push_str(&v);
            }
            _ => {
                vars.insert(k, v);
            }
        }
    }
    let policy = policy_from_env(&vars, read_file)
        .map_err(|e| error(path, o.line, format!("[{}] {e}", o.name)))?;
    Ok(Section {
        name: o.name,
        line: o.line,
        matches: o.matches,
        policy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::canonicalize;
    use crate::section::Section as S;

    fn parsed(text: &str) -> Result<Vec<Section>, ConfigError> {
        parse("/p.conf", text, |f| match f {
            "/rules" => Ok("GET /plugins\n".into()),
            _ => Err("no file".into()),
        })
    }

    fn allows(p: &Policy, method: &str, path: &str) -> bool {
        let t = canonicalize(path).unwrap();
        matches!(
            p.decide(crate::Request { method, target: &t }),
            crate::Decision::Allow(_)
        )
    }

    #[test]
    fn sections_give_named_policies_with_their_matches() {
        let s = parsed(
            "# two clients\n[prometheus]\nMATCH_FROM=10.0.0.0/8\nPRESET=monitoring\n\n[updater]\n MATCH_LISTEN = unix:///run/u.sock \nCONTAINERS=1\nPOST=1\nGUARD_MODE=warn\nGUARD_RULES=GET /nodes\nGUARD_RULES=GET /swarm\nGUARD_RULES_FILE=/rules\n",
        )
        .unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].name.as_str(), s[0].line), ("prometheus", 2));
        assert_eq!(
            s[0].matches,
            vec![(3, "MATCH_FROM".to_owned(), "10.0.0.0/8".to_owned())]
        );
        assert!(s[0].policy.switches().section(S::Networks));
        assert!(allows(&s[0].policy, "GET", "/images/x/json"));
        assert!(!allows(&s[0].policy, "POST", "/containers/x/start"));
        assert!(!s[0].policy.warns());
        assert_eq!(s[1].matches[0].2, "unix:///run/u.sock");
        assert!(s[1].policy.warns());
        for p in ["/nodes", "/swarm", "/plugins"] {
            assert!(allows(&s[1].policy, "GET", p), "{p}");
        }
    }

    #[test]
    fn a_section_overrides_its_preset_and_adds_rules_to_the_presets() {
        let s =
            parsed("[m]\nMATCH_UID=1000\nPRESET=monitoring\nNETWORKS=0\nGUARD_RULES=GET /nodes\n")
                .unwrap();
        assert!(!s[0].policy.switches().section(S::Networks));
        assert!(allows(&s[0].policy, "GET", "/nodes"));
        assert!(allows(&s[0].policy, "GET", "/images/x/json"));
    }

    #[test]
    fn errors_name_the_file_the_line_and_the_cause() {
        for (text, line, words) in [
            ("CONTAINERS=1\n", 1, "outside"),
            ("[a]\nMATCH_UID=1\njunk\n", 3, "expected [name]"),
            (
                "[a]\nMATCH_UID=1\nCONTAINERS=1\nCONTAINERS=0\n",
                4,
                "set twice",
            ),
            (
                "[a]\nMATCH_UID=1\nGUARD_LISTEN=0.0.0.0:1\n",
                3,
                "server setting",
            ),
            ("[a]\nMATCH_UID=1\nPRESET=nope\n", 3, "no such preset"),
            ("[a]\nCONTAINERS=1\n", 1, "matches no client"),
            (
                "[a]\nMATCH_UID=1\n[a]\nMATCH_UID=2\n",
                3,
                "already defined on line 1",
            ),
            ("[default]\nMATCH_UID=1\n", 1, "environment"),
            ("[a b]\nMATCH_UID=1\n", 1, "policy name"),
            ("[a]\nMATCH_UID=1\nCONTAINER=1\n", 1, "CONTAINER"),
            ("[a]\nMATCH_UID=1\nGUARD_MODE=loose\n", 1, "enforce or warn"),
            (
                "[a]\nMATCH_UID=1\nGUARD_RULES_FILE=/missing\n",
                1,
                "no file",
            ),
        ] {
            let e = parsed(text).expect_err(text);
            assert_eq!(e.var, GUARD_POLICIES_FILE, "{text}");
            assert_eq!(e.value, "/p.conf");
            assert!(
                e.reason.starts_with(&format!("line {line}:")) && e.reason.contains(words),
                "{text:?}: {}",
                e.reason
            );
        }
    }

    #[test]
    fn warn_mode_forwards_what_the_table_would_refuse_and_says_so() {
        let s = parsed("[w]\nMATCH_UID=1\nGUARD_MODE=WARN\n").unwrap();
        let t = canonicalize("/containers/json").unwrap();
        match s[0].policy.decide(crate::Request {
            method: "GET",
            target: &t,
        }) {
            crate::Decision::Allow(a) => {
                assert!(a.would_deny(), "{}", a.by);
                assert!(a.by.contains("CONTAINERS=1"), "{}", a.by);
            }
            d => panic!("{d:?}"),
        }
        // What no mode forwards stays refused.
        assert!(!allows(&s[0].policy, "TRACE", "/containers/json"));
        assert!(!allows(&s[0].policy, "GET", "/no/such/endpoint"));
        assert!(!allows(&s[0].policy, "POST", "/swarm/unlockkey"));
        assert!(!allows(&s[0].policy, "GET", "/swarm/unlockkey"));
    }
}
