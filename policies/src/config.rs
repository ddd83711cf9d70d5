//! Environment -> [`Policy`], through the [`Env`] trait so tests pass a map.
//!
//! Every variable name is a constant here, including the server's own, so one place knows
//! which names exist: an unknown variable with a known prefix (`GUARD_`, `ALLOW_`) is a typo
//! and stops the program instead of silently leaving a gate closed or open. Values are
//! parsed strictly; an error names the variable and the value.

use std::collections::HashMap;

use crate::body::{clean_bind_prefix, BodyGrants};
use crate::owner::Owner;
use crate::policy::Policy;
use crate::rule::RuleSet;
use crate::scope::Scope;
use crate::section::{Gate, Section, Switches};

/// Where configuration comes from: the process environment in the binary, a map in tests.
pub trait Env {
    /// The value of one variable, if set.
    fn get(&self, name: &str) -> Option<String>;
    /// The names of all variables that are set.
    fn names(&self) -> Vec<String>;
}

impl Env for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        HashMap::get(self, name).cloned()
    }
    fn names(&self) -> Vec<String> {
        self.keys().cloned().collect()
    }
}

/// Body inspection grants.
pub const ALLOW_PRIVILEGED: &str = "ALLOW_PRIVILEGED";
/// Host namespaces in create bodies.
pub const ALLOW_HOST_NAMESPACES: &str = "ALLOW_HOST_NAMESPACES";
/// Added capabilities in create bodies.
pub const ALLOW_CAPABILITIES: &str = "ALLOW_CAPABILITIES";
/// Devices in create and update bodies.
pub const ALLOW_DEVICES: &str = "ALLOW_DEVICES";
/// Host path prefixes that bind mounts may use.
pub const ALLOW_BIND_MOUNTS: &str = "ALLOW_BIND_MOUNTS";
/// Explicit rules, one per line.
pub const GUARD_RULES: &str = "GUARD_RULES";
/// A file of explicit rules.
pub const GUARD_RULES_FILE: &str = "GUARD_RULES_FILE";
/// Redaction of the answers' secrets: `auto` (the default: on unless `POST=1`), on, off.
pub const GUARD_REDACT: &str = "GUARD_REDACT";
/// The labels a container must carry to be visible (`key` or `key=value`, all of them).
pub const GUARD_VISIBLE_LABELS: &str = "GUARD_VISIBLE_LABELS";
/// Name patterns (with `*`) of the visible containers, one of them.
pub const GUARD_VISIBLE_NAMES: &str = "GUARD_VISIBLE_NAMES";

/// The owner id stamped on what the client creates; it then touches only what it created.
pub const GUARD_OWNER: &str = "GUARD_OWNER";

/// Learn mode: forward what the policy refuses, marked in the audit log (unsafe).
pub const GUARD_LEARN: &str = "GUARD_LEARN";
/// The confirmation learn mode needs to start.
pub const GUARD_LEARN_UNSAFE: &str = "GUARD_LEARN_UNSAFE";

/// In LinuxServer's example compose file beside `ALLOW_PAUSE`, but read by nothing there: off
/// is accepted (a no-op), on is refused with the variable that does open unpause.
pub const ALLOW_RESUME: &str = "ALLOW_RESUME";

/// LinuxServer's nginx-era mode of one variable per endpoint (`CONTAINERS_ID_TOP`, ...): off is
/// accepted, on is refused (those names are not read, and would be ignored silently).
pub const ADVANCED: &str = "ADVANCED";

/// Rollout mode: `enforce` (the default) or `warn` (forward what would be refused, counted).
pub const GUARD_MODE: &str = "GUARD_MODE";

/// The policies file: several named policies, each for the clients it matches.
pub const GUARD_POLICIES_FILE: &str = "GUARD_POLICIES_FILE";

/// The server's variables (parsed by the binary; listed here so typos are caught in one place).
pub const SERVER_VARS: &[&str] = &[
    "SOCKET_PATH",
    "GUARD_LISTEN",
    "DISABLE_IPV6",
    "GUARD_SOCKET_MODE",
    "GUARD_SOCKET_GROUP",
    "GUARD_MAX_CONNECTIONS_PER_CLIENT",
    "GUARD_MAX_REQUESTS_PER_CLIENT",
    "GUARD_ALLOW_FROM",
    "GUARD_ADMIN_LISTEN",
    "GUARD_LOG_FORMAT",
    "GUARD_MAX_BODY",
    "GUARD_HEADER_TIMEOUT",
    "GUARD_COALESCE",
    "GUARD_TLS_CERT",
    "GUARD_TLS_KEY",
    "GUARD_TLS_CA",
    GUARD_POLICIES_FILE,
    "LOG_LEVEL",
];

/// Prefixes that belong to socket-guard: an unknown name with one of them is an error.
pub const OWN_PREFIXES: &[&str] = &["GUARD_", "ALLOW_"];

/// A configuration error: which variable, which value, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}={value:?}: {reason}")]
pub struct ConfigError {
    /// The variable.
    pub var: String,
    /// The value as given.
    pub value: String,
    /// What is wrong.
    pub reason: String,
}

impl ConfigError {
    /// Builds an error.
    pub fn new(var: &str, value: &str, reason: impl Into<String>) -> Self {
        ConfigError {
            var: var.to_owned(),
            value: value.to_owned(),
            reason: reason.into(),
        }
    }
}

/// Parses a boolean the way the peers' users write them: `1/0/true/false/yes/no/on/off`,
/// any case. Anything else (the empty string included) is an error.
pub fn parse_bool(var: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::new(
            var,
            value,
            "expected 1/0, true/false, yes/no or on/off",
        )),
    }
}

fn bool_var(env: &impl Env, var: &str, default: bool) -> Result<bool, ConfigError> {
    env.get(var).map_or(Ok(default), |v| parse_bool(var, &v))
}

/// Every variable name socket-guard reads.
pub fn known_vars() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = Section::ALL.iter().map(|s| s.var()).collect();
    v.extend(Gate::ALL.iter().map(|g| g.var()));
    v.extend([
        ALLOW_PRIVILEGED,
        ALLOW_HOST_NAMESPACES,
        ALLOW_CAPABILITIES,
        ALLOW_DEVICES,
        ALLOW_BIND_MOUNTS,
        GUARD_RULES,
        GUARD_RULES_FILE,
        GUARD_REDACT,
        GUARD_VISIBLE_LABELS,
        GUARD_VISIBLE_NAMES,
        GUARD_OWNER,
        GUARD_LEARN,
        GUARD_LEARN_UNSAFE,
        GUARD_MODE,
        ALLOW_RESUME,
        ADVANCED,
    ]);
    v.extend(SERVER_VARS);
    v
}

/// Refuses variables that look like ours but are not (`ALLOW_LOG=1`, `GUARD_LISTENS=...`).
pub fn check_unknown(env: &impl Env) -> Result<(), ConfigError> {
    let known = known_vars();
    let mut names = env.names();
    names.sort();
    for name in names {
        // `CONTAINER=1` for `CONTAINERS=1` would silently leave the section closed.
        let near_miss = !known.contains(&name.as_str())
            && Section::ALL.iter().any(|s| {
                let v = s.var();
                v.strip_suffix('S') == Some(name.as_str()) || format!("{v}S") == name
            });
        if near_miss {
            let value = env.get(&name).unwrap_or_default();
            return Err(ConfigError::new(
                &name,
                &value,
                "unknown variable (did you mean the plural or singular section name?)",
            ));
        }
        if OWN_PREFIXES.iter().any(|p| name.starts_with(p)) && !known.contains(&name.as_str()) {
            let value = env.get(&name).unwrap_or_default();
            return Err(ConfigError::new(
                &name,
                &value,
                "unknown variable (a typo?)",
            ));
        }
    }
    Ok(())
}

/// Builds the policy from the environment. `read_file` reads `GUARD_RULES_FILE` (the caller
/// does the I/O, so this stays pure).
pub fn policy_from_env(
    env: &impl Env,
    read_file: impl Fn(&str) -> Result<String, String>,
) -> Result<Policy, ConfigError> {
    check_unknown(env)?;
    off_only(
        env,
        ALLOW_RESUME,
        "opens nothing, in LinuxServer's proxy as here (its example lists it by mistake): ALLOW_UNPAUSE=1 opens POST /containers/{id}/unpause",
    )?;
    off_only(
        env,
        ADVANCED,
        "LinuxServer's per-endpoint variables (CONTAINERS_ID_TOP, ...) are not read: use the sections with GUARD_RULES for single endpoints",
    )?;
    let mut switches = Switches::default();
    for s in Section::ALL {
        switches.set_section(s, bool_var(env, s.var(), s.default_on())?);
    }
    for g in Gate::ALL {
        switches.set_gate(g, bool_var(env, g.var(), false)?);
    }
    let body = BodyGrants {
        privileged: bool_var(env, ALLOW_PRIVILEGED, false)?,
        host_namespaces: bool_var(env, ALLOW_HOST_NAMESPACES, false)?,
        capabilities: bool_var(env, ALLOW_CAPABILITIES, false)?,
        devices: bool_var(env, ALLOW_DEVICES, false)?,
        bind_mounts: bind_mounts(env)?,
    };
    let mut rules = Vec::new();
    if let Some(text) = env.get(GUARD_RULES) {
        rules.extend(RuleSet::parse_lines(GUARD_RULES, &text).map_err(|e| {
            ConfigError::new(GUARD_RULES, &e.line, format!("{}: {}", e.origin, e.reason))
        })?);
    }
    if let Some(path) = env.get(GUARD_RULES_FILE) {
        let text = read_file(&path).map_err(|e| ConfigError::new(GUARD_RULES_FILE, &path, e))?;
        rules.extend(
            RuleSet::parse_lines(&path, &text)
                .map_err(|e| ConfigError::new(GUARD_RULES_FILE, &path, e.to_string()))?,
        );
    }
    let rules = RuleSet::compile(rules).map_err(|e| {
        ConfigError::new(GUARD_RULES, &e.line, format!("{}: {}", e.origin, e.reason))
    })?;
    let redact = redaction(env, switches.gate(Gate::Post))?;
    let labels = env
        .get(GUARD_VISIBLE_LABELS)
        .filter(|v| !v.trim().is_empty());
    let names = env
        .get(GUARD_VISIBLE_NAMES)
        .filter(|v| !v.trim().is_empty());
    let scope = Scope::parse(labels.as_deref(), names.as_deref()).map_err(|e| {
        let (var, value) = match &labels {
            Some(l) if Scope::parse(Some(l), None).is_err() => (GUARD_VISIBLE_LABELS, l.clone()),
            _ => (GUARD_VISIBLE_NAMES, names.clone().unwrap_or_default()),
        };
        ConfigError::new(var, &value, e.0)
    })?;
    let owner = match env.get(GUARD_OWNER).filter(|v| !v.trim().is_empty()) {
        Some(v) => Some(Owner::parse(v.trim()).map_err(|e| ConfigError::new(GUARD_OWNER, &v, e))?),
        None => None,
    };
    let learn = learning(env)?;
    Ok(Policy::new(switches, rules, body)
        .with_redaction(redact)
        .with_scope(scope)
        .with_owner(owner)
        .with_learning(learn)
        .with_warning(warning(env)?))
}

/// A variable of another proxy accepted off (a no-op) and refused on, saying `why`.
fn off_only(env: &impl Env, var: &str, why: &str) -> Result<(), ConfigError> {
    match env.get(var) {
        Some(v) if parse_bool(var, &v)? => Err(ConfigError::new(var, &v, why)),
        _ => Ok(()),
    }
}

/// `GUARD_MODE`: `enforce` (the default) or `warn`, any case.
fn warning(env: &impl Env) -> Result<bool, ConfigError> {
    match env.get(GUARD_MODE) {
        None => Ok(false),
        Some(v) => match v.trim().to_ascii_lowercase().as_str() {
            "enforce" => Ok(false),
            "warn" => Ok(true),
            _ => Err(ConfigError::new(GUARD_MODE, &v, "expected enforce or warn")),
        },
    }
}

/// `GUARD_LEARN`, which starts only beside `GUARD_LEARN_UNSAFE=1`: learn mode forwards what
/// the policy refuses, so it must never be turned on by accident.
fn learning(env: &impl Env) -> Result<bool, ConfigError> {
    let on = match env.get(GUARD_LEARN) {
        Some(v) => parse_bool(GUARD_LEARN, &v)?,
        None => false,
    };
    let confirmed = match env.get(GUARD_LEARN_UNSAFE) {
        Some(v) => parse_bool(GUARD_LEARN_UNSAFE, &v)?,
        None => false,
    };
    if on && !confirmed {
        return Err(ConfigError::new(
            GUARD_LEARN,
            &env.get(GUARD_LEARN).unwrap_or_default(),
            "learn mode forwards every request of the endpoint table whatever the policy; set GUARD_LEARN_UNSAFE=1 beside it to confirm (never in production)",
        ));
    }
    Ok(on)
}

/// `GUARD_REDACT`: `auto` (or unset) redacts unless `POST=1` (a client that may only read has
/// no use for the secrets; one that recreates containers may need them), a boolean forces it.
fn redaction(env: &impl Env, post: bool) -> Result<bool, ConfigError> {
    match env.get(GUARD_REDACT) {
        None => Ok(!post),
        Some(v) if v.trim().eq_ignore_ascii_case("auto") => Ok(!post),
        Some(v) => parse_bool(GUARD_REDACT, &v).map_err(|_| {
            ConfigError::new(
                GUARD_REDACT,
                &v,
                "expected auto, or 1/0, true/false, yes/no, on/off",
            )
        }),
    }
}

fn bind_mounts(env: &impl Env) -> Result<Vec<String>, ConfigError> {
    let Some(value) = env.get(ALLOW_BIND_MOUNTS) else {
        return Ok(Vec::new());
    };
    value
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| clean_bind_prefix(p).map_err(|e| ConfigError::new(ALLOW_BIND_MOUNTS, &value, e)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linuxservers_allow_resume_is_accepted_off_and_refused_on() {
        assert!(policy_from_env(&env(&[("ALLOW_RESUME", "0")]), |_| Err(String::new())).is_ok());
        let e = policy_from_env(&env(&[("ALLOW_RESUME", "1")]), |_| Err(String::new()))
            .expect_err("on");
        assert!(
            e.var == "ALLOW_RESUME" && e.reason.contains("ALLOW_UNPAUSE=1"),
            "{e}"
        );
        assert!(policy_from_env(&env(&[("ADVANCED", "0")]), |_| Err(String::new())).is_ok());
        let e =
            policy_from_env(&env(&[("ADVANCED", "1")]), |_| Err(String::new())).expect_err("on");
        assert!(
            e.var == "ADVANCED" && e.reason.contains("GUARD_RULES"),
            "{e}"
        );
    }

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn no_file(_: &str) -> Result<String, String> {
        Err("no such file".into())
    }

    #[test]
    fn lenient_bools_any_case() {
        for v in ["1", "true", "TRUE", "Yes", "on", " 1 "] {
            assert_eq!(parse_bool("X", v), Ok(true), "{v}");
        }
        for v in ["0", "false", "No", "OFF"] {
            assert_eq!(parse_bool("X", v), Ok(false), "{v}");
        }
        for v in ["", "2", "y", "enabled"] {
            assert!(parse_bool("X", v).is_err(), "{v}");
        }
    }

    #[test]
    fn builds_switches_and_grants() {
        let p = policy_from_env(
            &env(&[
                ("CONTAINERS", "1"),
                ("EVENTS", "0"),
                ("ALLOW_LOGS", "yes"),
                ("ALLOW_BIND_MOUNTS", "/srv/data/, /tmp"),
            ]),
            no_file,
        )
        .expect("valid");
        let s = p.switches();
        assert!(
            s.section(Section::Containers)
                && !s.section(Section::Events)
                && s.section(Section::Ping)
        );
        assert!(s.gate(Gate::Logs) && !s.gate(Gate::Post));
        assert_eq!(
            p.body_grants().bind_mounts,
            vec!["/srv/data".to_string(), "/tmp".to_string()]
        );
    }

    #[test]
    fn errors_name_the_variable_and_value() {
        let e = policy_from_env(&env(&[("CONTAINERS", "maybe")]), no_file).unwrap_err();
        assert_eq!((e.var.as_str(), e.value.as_str()), ("CONTAINERS", "maybe"));
        let e = policy_from_env(&env(&[("ALLOW_LOG", "1")]), no_file).unwrap_err();
        assert_eq!(e.var, "ALLOW_LOG");
        let e = policy_from_env(&env(&[("CONTAINER", "1")]), no_file).unwrap_err();
        assert_eq!(e.var, "CONTAINER");
        let e = policy_from_env(&env(&[("NETWORK", "1")]), no_file).unwrap_err();
        assert_eq!(e.var, "NETWORK");
        let e = policy_from_env(&env(&[("GUARD_RULES", "GET /a(")]), no_file).unwrap_err();
        assert_eq!(e.var, "GUARD_RULES");
        let e = policy_from_env(&env(&[("GUARD_RULES_FILE", "/nope")]), no_file).unwrap_err();
        assert_eq!(
            (e.var.as_str(), e.reason.as_str()),
            ("GUARD_RULES_FILE", "no such file")
        );
        let e = policy_from_env(&env(&[("ALLOW_BIND_MOUNTS", "srv")]), no_file).unwrap_err();
        assert_eq!(e.var, "ALLOW_BIND_MOUNTS");
        assert!(
            policy_from_env(&env(&[("HOME", "/root"), ("GUARD_LISTEN", "x")]), no_file).is_ok()
        );
    }

    #[test]
    fn redaction_is_on_for_readers_unless_set() {
        let on =
            |pairs: &[(&str, &str)]| policy_from_env(&env(pairs), no_file).map(|p| p.redacts());
        assert_eq!(on(&[]), Ok(true));
        assert_eq!(on(&[("POST", "1")]), Ok(false));
        assert_eq!(on(&[("POST", "1"), ("GUARD_REDACT", "on")]), Ok(true));
        assert_eq!(on(&[("GUARD_REDACT", "off")]), Ok(false));
        assert_eq!(on(&[("POST", "1"), ("GUARD_REDACT", "AUTO")]), Ok(false));
        let e = on(&[("GUARD_REDACT", "env")]).unwrap_err();
        assert_eq!((e.var.as_str(), e.value.as_str()), ("GUARD_REDACT", "env"));
    }

    #[test]
    fn the_visible_scope_is_read_and_checked() {
        let p = policy_from_env(
            &env(&[
                ("GUARD_VISIBLE_LABELS", "traefik.enable=true"),
                ("GUARD_VISIBLE_NAMES", "web-*"),
            ]),
            no_file,
        )
        .unwrap();
        assert!(p.scope().is_limited());
        assert!(p
            .render_allow_list()
            .contains("labels traefik.enable=true; names web-*"));
        let e = policy_from_env(&env(&[("GUARD_VISIBLE_LABELS", "a,,b")]), no_file).unwrap_err();
        assert_eq!(e.var, "GUARD_VISIBLE_LABELS");
        let e = policy_from_env(&env(&[("GUARD_VISIBLE_NAMES", "a/b")]), no_file).unwrap_err();
        assert_eq!(e.var, "GUARD_VISIBLE_NAMES");
        assert!(
            !policy_from_env(&env(&[("GUARD_VISIBLE_LABELS", " ")]), no_file)
                .unwrap()
                .scope()
                .is_limited()
        );
    }

    #[test]
    fn rules_file_is_read_through_the_callback() {
        let p = policy_from_env(&env(&[("GUARD_RULES_FILE", "/etc/r")]), |p| {
            assert_eq!(p, "/etc/r");
            Ok("GET /info\n".into())
        })
        .expect("valid");
        assert_eq!(p.rules().rules().len(), 1);
    }
}
