//! Learn mode (`GUARD_LEARN`) and `socket-guard suggest`: the least policy that allows exactly
//! what a client was seen doing.
//!
//! In learn mode the guard forwards every request of the endpoint table that its policy would
//! refuse (never an unknown endpoint, a never-forwarded method or `swarm/unlockkey`), and its
//! audit line says so (`decision: learn`), with what a body needed (`body needs ...`). From
//! those lines (and the `allow` ones), [`suggest`] derives:
//! - the section and gate variables of every read, content read, attach and lifecycle action
//!   seen (the alternative without `POST=1` when there is one);
//! - an explicit rule (`GUARD_RULES`) per write seen, by its endpoint's route, instead of
//!   `POST=1`, which would open every write of the section (a client seen to exec must not
//!   gain `docker run`);
//! - the body grants its creates needed;
//! - `EVENTS`, `PING` and `VERSION` (on by default) turned off when unused, and `POST=0`;
//! - `GUARD_VISIBLE_NAMES` when every container path named its container by name.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::Value;

use crate::body::{inspect, BodyDenial, BodyGrants, BodyKind};
use crate::endpoint::{lookup, Access, Endpoint};
use crate::path::canonicalize;
use crate::policy::{requirements, Need};
use crate::section::{Gate, Section};

/// What a body needs, every grant of it (inspection stops at the first refusal, so each need
/// found is granted and the body inspected again); `Err` for a malformed body.
pub fn body_needs(
    kind: BodyKind,
    body: &[u8],
    grants: &BodyGrants,
) -> Result<Vec<String>, BodyDenial> {
    let mut grants = grants.clone();
    let mut needs = Vec::new();
    // Each round grants one more of a handful of settings (bind paths one per mount).
    for _ in 0..64 {
        let denial = match inspect(kind, body, &grants) {
            Ok(()) => return Ok(needs),
            Err(d) => d,
        };
        let Some(need) = denial.needs() else {
            return Err(denial);
        };
        match &denial {
            BodyDenial::Privileged(_) => grants.privileged = true,
            BodyDenial::HostNamespace(_) => grants.host_namespaces = true,
            BodyDenial::Capabilities(_) => grants.capabilities = true,
            BodyDenial::Devices(_) => grants.devices = true,
            BodyDenial::BindMount(path) => grants.bind_mounts.push(path.clone()),
            _ => grants.bind_mounts.push("/".into()),
        }
        needs.push(need);
    }
    Ok(needs)
}

/// Where `suggest` says the rules file is when it needs one and was given no path.
pub const RULES_FILE: &str = "/etc/socket-guard/rules";

/// The variables, rules and scope that allow what was seen.
#[derive(Debug, Default)]
pub struct Suggestion {
    lines: usize,
    seen: BTreeSet<(String, String)>,
    vars: BTreeSet<&'static str>,
    bind_paths: BTreeSet<String>,
    rules: BTreeMap<String, BTreeSet<String>>,
    names: BTreeSet<String>,
    by_id: bool,
    left_out: BTreeSet<String>,
}

/// Reads audit lines (JSON, one per line; anything else is skipped) and derives the policy.
pub fn suggest<'a>(lines: impl IntoIterator<Item = &'a str>) -> Suggestion {
    let mut s = Suggestion::default();
    for line in lines {
        let Ok(Value::Object(l)) = serde_json::from_str::<Value>(line.trim()) else {
            continue;
        };
        let field = |k: &str| l.get(k).and_then(Value::as_str).unwrap_or_default();
        if l.get("target").and_then(Value::as_str) != Some("audit")
            || !matches!(field("decision"), "allow" | "learn")
        {
            continue;
        }
        s.lines += 1;
        s.add(field("method"), field("path"), field("reason"));
    }
    s
}

/// A route pattern as a rule regex: literal parts escaped, `{id}` one segment, `{name*}` one
/// or more.
fn pattern_regex(pattern: &str) -> String {
    let mut out = String::new();
    let mut rest = pattern;
    while let Some(i) = rest.find('{') {
        out.push_str(&regex::escape(&rest[..i]));
        let end = rest[i..].find('}').map_or(rest.len(), |j| i + j + 1);
        out.push_str(if rest[i..end].ends_with("*}") {
            ".+"
        } else {
            "[^/]+"
        });
        rest = &rest[end..];
    }
    out.push_str(&regex::escape(rest));
    out
}

impl Suggestion {
    fn add(&mut self, method: &str, raw: &str, reason: &str) {
        let Ok(target) = canonicalize(raw) else {
            return;
        };
        let path = target.path();
        let Some(e) = lookup(method, path) else {
            self.left_out
                .insert(format!("{method} {path} (outside the endpoint table)"));
            return;
        };
        self.seen
            .insert((format!("{method} {}", e.pattern), e.name.to_owned()));
        self.grant(method, e);
        if let Some(needs) = reason.split("body needs ").nth(1) {
            for need in needs
                .split(';')
                .next()
                .unwrap_or_default()
                .split_whitespace()
            {
                self.body_need(need);
            }
        }
        if e.pattern.starts_with("/containers/{id}") {
            // Learn mode names the container (`; container web`); else the path may.
            let noted = reason
                .split("; ")
                .find_map(|part| part.strip_prefix("container "));
            let id = path.split('/').nth(2).unwrap_or_default();
            let hex = id.len() >= 12 && id.bytes().all(|b| b.is_ascii_hexdigit());
            match noted {
                Some(name) => {
                    self.names.insert(name.to_owned());
                }
                None if hex => self.by_id = true,
                None => {
                    self.names.insert(id.trim_start_matches('/').to_owned());
                }
            }
        }
    }

    fn grant(&mut self, method: &str, e: &'static Endpoint) {
        if e.access == Access::Never {
            self.left_out
                .insert(format!("{method} {} (never granted)", e.pattern));
            return;
        }
        let alternatives = requirements(e);
        match alternatives
            .iter()
            .find(|alt| !alt.contains(&Need::Gate(Gate::Post)))
        {
            Some(alt) => self.vars.extend(alt.iter().map(|n| n.var())),
            None => {
                self.rules
                    .entry(pattern_regex(e.pattern))
                    .or_default()
                    .insert(e.method.to_owned());
                if method == "HEAD" {
                    self.rules
                        .entry(pattern_regex(e.pattern))
                        .or_default()
                        .insert("HEAD".into());
                }
            }
        }
    }

    fn body_need(&mut self, need: &str) {
        match need.split_once('=') {
            Some(("ALLOW_BIND_MOUNTS", path)) => {
                self.bind_paths.insert(path.to_owned());
            }
            Some((var, _)) => {
                if let Some(g) = [
                    "ALLOW_PRIVILEGED",
                    "ALLOW_HOST_NAMESPACES",
                    "ALLOW_CAPABILITIES",
                    "ALLOW_DEVICES",
                ]
                .into_iter()
                .find(|v| *v == var)
                {
                    self.vars.insert(g);
                }
            }
            None => {}
        }
    }

    /// The rule lines: one per set of methods, its routes in one alternation.
    fn rule_lines(&self) -> Vec<String> {
        let mut by_methods: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for (re, methods) in &self.rules {
            let m: Vec<&str> = methods.iter().map(String::as_str).collect();
            by_methods.entry(m.join(",")).or_default().push(re);
        }
        by_methods
            .iter()
            .map(|(m, res)| format!("{m} {}", res.join("|")))
            .collect()
    }

    /// The rules as a `GUARD_RULES_FILE`, when they need more than one line (else `None`).
    pub fn rules_file(&self) -> Option<String> {
        let rules = self.rule_lines();
        (rules.len() > 1).then(|| {
            let mut text = String::from("# socket-guard suggest: the writes seen, by route\n");
            for r in rules {
                text.push_str(&r);
                text.push('\n');
            }
            text
        })
    }

    /// Whether no request was seen.
    pub fn is_empty(&self) -> bool {
        self.lines == 0
    }

    /// The suggestion as an environment file (`NAME=value` lines and `#` comments).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# socket-guard suggest: the least policy allowing what {} audit lines show.",
            self.lines
        );
        let _ = writeln!(out, "# Seen:");
        for (what, name) in &self.seen {
            let _ = writeln!(out, "#   {what} ({name})");
        }
        for what in &self.left_out {
            let _ = writeln!(out, "# Not suggested: {what}");
        }
        for s in Section::ALL {
            let on = self.vars.contains(s.var());
            if on || s.default_on() {
                let _ = writeln!(out, "{}={}", s.var(), u8::from(on));
            }
        }
        let _ = writeln!(out, "POST=0");
        for g in Gate::ALL.iter().filter(|g| **g != Gate::Post) {
            if self.vars.contains(g.var()) {
                let _ = writeln!(out, "{}=1", g.var());
            }
        }
        for v in [
            "ALLOW_PRIVILEGED",
            "ALLOW_HOST_NAMESPACES",
            "ALLOW_CAPABILITIES",
            "ALLOW_DEVICES",
        ] {
            if self.vars.contains(v) {
                let _ = writeln!(out, "{v}=1");
            }
        }
        if !self.bind_paths.is_empty() {
            let paths: Vec<&str> = self.bind_paths.iter().map(String::as_str).collect();
            let _ = writeln!(out, "ALLOW_BIND_MOUNTS={}", paths.join(","));
        }
        let rules = self.rule_lines();
        if !rules.is_empty() {
            let _ = writeln!(
                out,
                "# The writes seen, each by its route (not POST=1, which opens them all)."
            );
        }
        match rules.as_slice() {
            [] => {}
            [one] => {
                let _ = writeln!(out, "GUARD_RULES={one}");
            }
            several => {
                // An environment file holds one line per variable, and each method set needs a
                // rule line of its own: the rules go to a file (`suggest --rules-file`).
                let _ = writeln!(
                    out,
                    "# They need {} rule lines, which one variable of an env file cannot hold; written to the file named here:",
                    several.len()
                );
                for rule in several {
                    let _ = writeln!(out, "#   {rule}");
                }
                let _ = writeln!(out, "GUARD_RULES_FILE={}", RULES_FILE);
            }
        }
        if !self.names.is_empty() && !self.by_id {
            let names: Vec<&str> = self.names.iter().map(String::as_str).collect();
            let _ = writeln!(out, "# Only the containers it named exist for it.");
            let _ = writeln!(out, "GUARD_VISIBLE_NAMES={}", names.join(","));
        } else if self.by_id {
            let _ = writeln!(out, "# Containers were named by ID: no name scope suggested (see GUARD_VISIBLE_LABELS).");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{policy_from_env, Env};
    use std::collections::HashMap;

    fn line(decision: &str, method: &str, path: &str, reason: &str) -> String {
        serde_json::json!({
            "target": "audit", "decision": decision, "method": method, "path": path,
            "reason": reason, "status": 200,
        })
        .to_string()
    }

    /// Parses an env-file text into a policy, as a preset would be.
    fn load(text: &str) -> crate::Policy {
        let env: HashMap<String, String> = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        struct E(HashMap<String, String>);
        impl Env for E {
            fn get(&self, n: &str) -> Option<String> {
                self.0.get(n).cloned()
            }
            fn names(&self) -> Vec<String> {
                self.0.keys().cloned().collect()
            }
        }
        policy_from_env(&E(env), |_| Err("no file".into())).unwrap()
    }

    fn allows(p: &crate::Policy, method: &str, path: &str) -> bool {
        let t = canonicalize(path).unwrap();
        matches!(
            p.decide(crate::Request { method, target: &t }),
            crate::Decision::Allow(_)
        )
    }

    #[test]
    fn the_cli_seen_gives_exactly_its_policy() {
        let lines = [
            line("learn", "HEAD", "/_ping", "learned"),
            line("learn", "GET", "/v1.47/containers/json", "learned"),
            line("learn", "GET", "/v1.47/containers/web/json", "learned"),
            line(
                "learn",
                "GET",
                "/v1.47/containers/web/logs?stdout=1",
                "learned",
            ),
            line("learn", "POST", "/v1.47/containers/web/exec", "learned"),
            line("learn", "POST", "/v1.47/exec/abc/start", "learned"),
            line("deny", "POST", "/v1.47/containers/create", "x"),
            "not json".into(),
        ];
        let s = suggest(lines.iter().map(String::as_str));
        let text = s.render();
        let p = load(&text);
        for (m, path) in [
            ("HEAD", "/_ping"),
            ("GET", "/containers/json"),
            ("GET", "/containers/web/logs"),
            ("POST", "/containers/web/exec"),
            ("POST", "/exec/abc/start"),
        ] {
            assert!(allows(&p, m, path), "{m} {path}:\n{text}");
        }
        for (m, path) in [
            ("POST", "/containers/create"),
            ("POST", "/containers/web/start"),
            ("DELETE", "/containers/web"),
            ("GET", "/events"),
            ("GET", "/images/json"),
            ("GET", "/containers/web/archive"),
        ] {
            assert!(!allows(&p, m, path), "{m} {path}:\n{text}");
        }
        assert!(text.contains("GUARD_VISIBLE_NAMES=web"), "{text}");
        assert!(text.contains("EVENTS=0"), "{text}");
    }

    #[test]
    fn rules_of_several_methods_go_to_a_file() {
        let lines = [
            line("learn", "POST", "/containers/web/restart", "learned"),
            line("learn", "DELETE", "/containers/web", "learned"),
            line("learn", "POST", "/containers/web/exec", "learned"),
        ];
        let s = suggest(lines.iter().map(String::as_str));
        let text = s.render();
        assert!(
            text.contains(&format!("GUARD_RULES_FILE={RULES_FILE}")),
            "{text}"
        );
        assert!(!text.contains("GUARD_RULES="), "{text}");
        let file = s.rules_file().unwrap();
        let rules = crate::rule::RuleSet::compile(
            crate::rule::RuleSet::parse_lines("suggested", &file).unwrap(),
        )
        .unwrap();
        assert!(rules.find("DELETE", "/containers/web").is_some());
        assert!(rules.find("POST", "/containers/web/exec").is_some());
        assert!(rules.find("DELETE", "/containers/web/exec").is_none());
        assert!(rules.find("POST", "/containers/create").is_none());
    }

    #[test]
    fn body_needs_are_all_found() {
        let body = br#"{"HostConfig":{"Privileged":true,"CapAdd":["NET_ADMIN"],"Binds":["/srv/a:/a","/srv/b:/b"]}}"#;
        let needs = body_needs(BodyKind::ContainerCreate, body, &BodyGrants::default()).unwrap();
        for n in [
            "ALLOW_PRIVILEGED=1",
            "ALLOW_BIND_MOUNTS=/srv/a",
            "ALLOW_BIND_MOUNTS=/srv/b",
        ] {
            assert!(needs.iter().any(|x| x == n), "{n}: {needs:?}");
        }
        assert!(body_needs(BodyKind::ContainerCreate, b"{", &BodyGrants::default()).is_err());
    }

    #[test]
    fn routes_become_anchored_regexes() {
        assert_eq!(
            pattern_regex("/containers/{id}/exec"),
            "/containers/[^/]+/exec"
        );
        assert_eq!(pattern_regex("/images/{name*}/push"), "/images/.+/push");
        assert_eq!(pattern_regex("/_ping"), "/_ping");
    }
}
