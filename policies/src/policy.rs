//! `Policy::decide`: method + canonical target -> `Allow` or `Deny`, with the reason.
//!
//! The decision is data, never a `bool`: an `Allow` carries what allowed it (for the audit
//! line) and what the proxy must still do (inspect the body, expect an upgrade, insist on an
//! empty body); a `Deny` carries the sentence the docker CLI prints, naming the method, the
//! path and what would allow it.

use std::fmt::Write as _;

use crate::body::{self, BodyDenial, BodyGrants, BodyKind};
use crate::endpoint::{self, Access, Endpoint};
use crate::owner::{classify, Owner, OwnerTouch, Stamp, OWNER_LABEL};
use crate::path::Target;
use crate::redact::Redact;
use crate::rule::RuleSet;
use crate::scope::Scope;
use crate::section::{Gate, Section, Switches};

/// Methods that are never forwarded, whatever the configuration says.
pub const NEVER_METHODS: &[&str] = &["PATCH", "OPTIONS", "TRACE", "CONNECT"];

/// What an audit line's reason says of a request allowed only by learn mode.
pub const LEARNED: &str = "learned (GUARD_LEARN)";

/// How an audit line's reason starts for a request forwarded only because the policy is in
/// warn mode (`GUARD_MODE=warn`); the denial it would have had follows.
pub const WOULD_DENY: &str = "would deny (GUARD_MODE=warn): ";

/// One requirement of an allow alternative: a section or a gate that must be on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// A section variable.
    Section(Section),
    /// A gate variable.
    Gate(Gate),
}

impl Need {
    /// The variable that turns it on.
    pub fn var(self) -> &'static str {
        match self {
            Need::Section(s) => s.var(),
            Need::Gate(g) => g.var(),
        }
    }
}

/// The compiled policy: which sections and gates are on, the explicit rules, body grants.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    switches: Switches,
    rules: RuleSet,
    body: BodyGrants,
    redact: bool,
    scope: Scope,
    owner: Option<Owner>,
    learn: bool,
    warn: bool,
}

/// A request as the policy sees it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The method, exactly as sent (case-sensitive).
    pub method: &'a str,
    /// The canonical target.
    pub target: &'a Target,
}

/// The outcome of [`Policy::decide`].
#[must_use]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Forward it, doing what [`Allowed`] says.
    Allow(Allowed),
    /// Answer 403 with [`Denied::message`].
    Deny(Denied),
}

/// An allowed request and what the proxy must still do with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowed {
    /// The endpoint reached, when it is in the table.
    pub endpoint: Option<&'static Endpoint>,
    /// What allowed it, e.g. `CONTAINERS=1` or `GUARD_RULES line 2`.
    pub by: String,
    /// Body inspection to run before forwarding.
    pub inspect: Option<BodyKind>,
    /// Whether the daemon may upgrade the connection.
    pub upgrade: bool,
    /// Whether the request must carry no body.
    pub empty_body: bool,
    /// The secrets to take out of the answer ([`crate::redact`]).
    pub redact: Option<Redact>,
    /// The owner label to stamp on the body of a create ([`crate::owner`]).
    pub stamp: Option<Stamp>,
}

/// A denied request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// The endpoint it would have reached, when known.
    pub endpoint: Option<&'static Endpoint>,
    /// Short machine reason for metrics: `method`, `unknown`, `section`, `never`.
    pub reason: &'static str,
    /// One line: `POST /containers/create is not allowed (needs CONTAINERS=1 and POST=1)`.
    pub message: String,
}

impl Allowed {
    /// The endpoint's name for logs, or `rule` for an endpoint outside the table.
    pub fn name(&self) -> &'static str {
        self.endpoint.map_or("rule", |e| e.name)
    }

    /// Whether it is forwarded only because the policy is in warn mode.
    pub fn would_deny(&self) -> bool {
        self.by.starts_with(WOULD_DENY)
    }
}

// === impl Policy ===

impl Policy {
    /// Builds a policy.
    pub fn new(switches: Switches, rules: RuleSet, body: BodyGrants) -> Self {
        Policy {
            switches,
            rules,
            body,
            redact: false,
            scope: Scope::default(),
            owner: None,
            learn: false,
            warn: false,
        }
    }

    /// The same policy, seeing only the containers in `scope` ([`crate::scope`]).
    pub fn with_scope(mut self, scope: Scope) -> Self {
        self.scope = scope;
        self
    }

    /// The visibility scope.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// The same policy for a client that owns what it creates ([`crate::owner`]): its
    /// containers are seen through the scope narrowed to the owner label.
    pub fn with_owner(mut self, owner: Option<Owner>) -> Self {
        if let Some(o) = &owner {
            self.scope = self.scope.with_label(OWNER_LABEL, o.id());
        }
        self.owner = owner;
        self
    }

    /// The same policy in learn mode ([`crate::learn`]): what the sections would refuse of
    /// the endpoint table is forwarded and marked learned. Unsafe: for deriving a policy only.
    pub fn with_learning(mut self, on: bool) -> Self {
        self.learn = on;
        self
    }

    /// Whether the policy is in learn mode.
    pub fn learns(&self) -> bool {
        self.learn
    }

    /// The same policy in warn mode (`GUARD_MODE=warn`), for rolling a policy out: what it
    /// would refuse of the endpoint table (never-forwarded methods, endpoints outside the
    /// table and `Access::Never` ones excepted) is forwarded, its reason starting with
    /// [`WOULD_DENY`] and naming the denial, so it can be logged and counted.
    pub fn with_warning(mut self, on: bool) -> Self {
        self.warn = on;
        self
    }

    /// Whether the policy is in warn mode.
    pub fn warns(&self) -> bool {
        self.warn
    }

    /// The owner of what this client creates, when objects are owned.
    pub fn owner(&self) -> Option<&Owner> {
        self.owner.as_ref()
    }

    /// The same policy, with the answers' secrets redacted or not ([`crate::redact`]).
    pub fn with_redaction(mut self, on: bool) -> Self {
        self.redact = on;
        self
    }

    /// Whether answers are redacted.
    pub fn redacts(&self) -> bool {
        self.redact
    }

    /// The switches in force.
    pub fn switches(&self) -> Switches {
        self.switches
    }

    /// The explicit rules.
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// The body grants.
    pub fn body_grants(&self) -> &BodyGrants {
        &self.body
    }

    /// Decides one request. Pure: same request, same policy, same decision.
    pub fn decide(&self, req: Request<'_>) -> Decision {
        let method = req.method;
        let path = req.target.path();
        if NEVER_METHODS.contains(&method) {
            return deny(
                None,
                "method",
                format!("{method} {path} is not allowed ({method} is never forwarded)"),
            );
        }
        let ep = endpoint::lookup(method, path);
        let section_grant = ep.and_then(|e| self.grant(e).ok());
        let by = match (section_grant, self.rules.find(method, path)) {
            (Some(by), _) => by,
            (None, Some(rule)) => rule.origin.clone(),
            (None, None) if self.learn && ep.is_some_and(|e| e.access != Access::Never) => {
                LEARNED.to_owned()
            }
            (None, None) => match self.denial(method, path, ep) {
                Decision::Deny(d) if self.warn && ep.is_some_and(|e| e.access != Access::Never) => {
                    format!("{WOULD_DENY}{}", d.message)
                }
                denial => return denial,
            },
        };
        Decision::Allow(Allowed {
            endpoint: ep,
            by,
            inspect: ep.and_then(|e| e.body),
            upgrade: ep.is_some_and(|e| e.upgrade),
            empty_body: ep.is_some_and(|e| e.empty_body),
            redact: ep
                .filter(|_| self.redact)
                .and_then(|e| Redact::for_endpoint(e.name)),
            stamp: self.owner.as_ref().and_then(|_| match classify(ep, path) {
                OwnerTouch::Stamp(s) => Some(s),
                _ => None,
            }),
        })
    }

    /// Inspects the body of an allowed request (see [`crate::body`]).
    pub fn inspect_body(&self, kind: BodyKind, body: &[u8]) -> Result<(), BodyDenial> {
        body::inspect(kind, body, &self.body)
    }

    /// What allows this endpoint under the current switches, or `Err` with what it needs.
    pub fn grant(&self, e: &Endpoint) -> Result<String, Vec<Vec<Need>>> {
        let alternatives = requirements(e);
        for alt in &alternatives {
            if alt.iter().all(|n| self.is_on(*n)) {
                return Ok(alt
                    .iter()
                    .map(|n| format!("{}=1", n.var()))
                    .collect::<Vec<_>>()
                    .join(" "));
            }
        }
        Err(alternatives)
    }

    /// The effective allow-list as text, for `socket-guard policy` and audits: every endpoint a
    /// section or gate opens, the explicit rules, and what inspected bodies may ask for.
    pub fn render_allow_list(&self) -> String {
        let mut out = String::from("# endpoints allowed by sections and gates\n");
        for e in endpoint::ENDPOINTS {
            if let Ok(by) = self.grant(e) {
                let methods = if e.method == "GET" {
                    "GET,HEAD"
                } else {
                    e.method
                };
                let _ = writeln!(out, "{methods:<9} {:<34} {:<24} {by}", e.pattern, e.name);
            }
        }
        out.push_str("# explicit rules (anchored regex on the canonical path)\n");
        if self.rules.rules().is_empty() {
            out.push_str("(none)\n");
        }
        for r in self.rules.rules() {
            let _ = writeln!(
                out,
                "{:<9} ^(?:{})$  ({})",
                r.methods.join(","),
                r.pattern,
                r.origin
            );
        }
        let b = &self.body;
        let _ = writeln!(
            out,
            "# inspected bodies may ask for\nprivileged={} host_namespaces={} capabilities={} devices={} bind_mounts={}",
            b.privileged,
            b.host_namespaces,
            b.capabilities,
            b.devices,
            if b.bind_mounts.is_empty() { "(none)".to_owned() } else { b.bind_mounts.join(",") }
        );
        let _ = writeln!(
            out,
            "# answers' secrets (GUARD_REDACT)
{}",
            if self.redact {
                "redacted: container list Command; inspect Path, Args, Config.Cmd, .Entrypoint, .Env, .Healthcheck.Test; top commands; exec inspect; exec events; service and task Env, Args, Command; config Data; system df Command"
            } else {
                "not redacted"
            }
        );
        let _ = writeln!(
            out,
            "# visible containers (GUARD_VISIBLE_LABELS, GUARD_VISIBLE_NAMES)\n{}",
            if self.scope.is_limited() {
                self.scope.describe()
            } else {
                "all".to_owned()
            }
        );
        if self.warn {
            let _ = writeln!(
                out,
                "# WARN MODE (GUARD_MODE=warn): what this policy refuses of the endpoint table (but swarm/unlockkey) is forwarded, logged and counted as would-deny"
            );
        }
        if self.learn {
            let _ = writeln!(
                out,
                "# LEARN MODE (GUARD_LEARN): every endpoint above and every other one of the table but swarm/unlockkey is forwarded; never in production"
            );
        }
        let _ = writeln!(
            out,
            "# owned objects (GUARD_OWNER)\n{}",
            match &self.owner {
                Some(o) => format!(
                    "created objects stamped {}; only those are seen and touched",
                    o.selector()
                ),
                None => "off".to_owned(),
            }
        );
        out
    }

    fn is_on(&self, need: Need) -> bool {
        match need {
            Need::Section(s) => self.switches.section(s),
            Need::Gate(g) => self.switches.gate(g),
        }
    }

    fn denial(&self, method: &str, path: &str, ep: Option<&'static Endpoint>) -> Decision {
        let Some(e) = ep else {
            return deny(
                None,
                "unknown",
                format!("{method} {path} is not allowed (not a Docker API endpoint socket-guard knows; an explicit GUARD_RULES line can allow it)"),
            );
        };
        let alternatives = match self.grant(e) {
            Ok(_) => Vec::new(),
            Err(alts) => alts,
        };
        if alternatives.is_empty() {
            return deny(
                ep,
                "never",
                format!("{method} {path} is not allowed (never granted by a section; only an explicit GUARD_RULES line can allow it)"),
            );
        }
        let mut needs = String::new();
        for (i, alt) in alternatives.iter().enumerate() {
            if i > 0 {
                needs.push_str(", or ");
            }
            let vars: Vec<String> = alt.iter().map(|n| format!("{}=1", n.var())).collect();
            let _ = write!(needs, "{}", join_and(&vars));
        }
        deny(
            ep,
            "section",
            format!("{method} {path} is not allowed (needs {needs})"),
        )
    }
}

fn deny(endpoint: Option<&'static Endpoint>, reason: &'static str, message: String) -> Decision {
    Decision::Deny(Denied {
        endpoint,
        reason,
        message,
    })
}

fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// The alternatives that allow an endpoint: any one list, all of whose needs are on.
/// Empty means nothing a section or gate can do allows it.
pub fn requirements(e: &Endpoint) -> Vec<Vec<Need>> {
    let section = Need::Section(e.section);
    let post = Need::Gate(Gate::Post);
    match e.access {
        Access::Read => vec![vec![section]],
        Access::Content(g) => vec![vec![section, Need::Gate(g)]],
        Access::Write => vec![vec![section, post]],
        Access::WriteContent(g) => vec![vec![section, post, Need::Gate(g)]],
        Access::Attach => vec![vec![
            Need::Section(Section::Containers),
            Need::Gate(Gate::Attach),
        ]],
        Access::ExecCreate => vec![vec![
            Need::Section(Section::Containers),
            Need::Section(Section::Exec),
            post,
        ]],
        Access::ExecRun => vec![vec![Need::Section(Section::Exec), post]],
        Access::Lifecycle(gates) => {
            let mut alts: Vec<Vec<Need>> = gates.iter().map(|g| vec![Need::Gate(*g)]).collect();
            alts.push(vec![section, post]);
            alts
        }
        Access::Never => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::canonicalize;

    fn decide(p: &Policy, method: &str, raw: &str) -> Decision {
        let t = canonicalize(raw).expect("canonical");
        p.decide(Request { method, target: &t })
    }

    fn allowed(p: &Policy, method: &str, raw: &str) -> bool {
        matches!(decide(p, method, raw), Decision::Allow(_))
    }

    fn policy(s: Switches) -> Policy {
        Policy::new(s, RuleSet::default(), BodyGrants::default())
    }

    #[test]
    fn defaults_allow_only_ping_version_events() {
        let p = Policy::default();
        assert!(allowed(&p, "GET", "/_ping"));
        assert!(allowed(&p, "HEAD", "/v1.41/_ping"));
        assert!(allowed(&p, "GET", "/version"));
        assert!(allowed(&p, "GET", "/events"));
        assert!(!allowed(&p, "GET", "/containers/json"));
        assert!(!allowed(&p, "GET", "/info"));
    }

    #[test]
    fn denial_names_what_would_allow_it() {
        let p = Policy::default();
        let Decision::Deny(d) = decide(&p, "POST", "/v1.41/containers/create") else {
            panic!("allowed")
        };
        assert_eq!(
            d.message,
            "POST /containers/create is not allowed (needs CONTAINERS=1 and POST=1)"
        );
        let Decision::Deny(d) = decide(&p, "POST", "/containers/x/start") else {
            panic!()
        };
        assert_eq!(d.message, "POST /containers/x/start is not allowed (needs ALLOW_START=1, or CONTAINERS=1 and POST=1)");
        let Decision::Deny(d) = decide(&p, "PATCH", "/_ping") else {
            panic!()
        };
        assert_eq!(d.reason, "method");
    }

    #[test]
    fn sections_do_not_grant_content_reads() {
        let s = Switches::default()
            .with_section(Section::Containers)
            .with_section(Section::Images);
        let p = policy(s);
        assert!(allowed(&p, "GET", "/containers/json"));
        assert!(allowed(&p, "GET", "/containers/x/json"));
        for path in [
            "/containers/x/logs",
            "/containers/x/archive",
            "/containers/x/export",
            "/containers/x/attach/ws",
            "/images/get",
            "/images/alpine/get",
        ] {
            assert!(!allowed(&p, "GET", path), "{path}");
        }
        assert!(!allowed(&p, "HEAD", "/containers/x/archive"));
        let p = policy(s.with_gate(Gate::Logs));
        assert!(allowed(&p, "GET", "/containers/x/logs"));
        assert!(!allowed(&p, "GET", "/containers/x/archive"));
    }

    #[test]
    fn post_does_not_open_exec_attach_or_archive_writes() {
        let s = Switches::default()
            .with_section(Section::Containers)
            .with_gate(Gate::Post);
        let p = policy(s);
        assert!(allowed(&p, "POST", "/containers/create"));
        assert!(allowed(&p, "DELETE", "/containers/x"));
        assert!(!allowed(&p, "POST", "/containers/x/exec"));
        assert!(!allowed(&p, "POST", "/containers/x/attach"));
        assert!(!allowed(&p, "PUT", "/containers/x/archive"));
        assert!(!allowed(&p, "PATCH", "/containers/x"));
        let p = policy(s.with_section(Section::Exec));
        assert!(allowed(&p, "POST", "/containers/x/exec"));
        assert!(allowed(&p, "POST", "/exec/y/start"));
    }

    #[test]
    fn lifecycle_gates_work_without_post() {
        let p = policy(Switches::default().with_gate(Gate::Start));
        assert!(allowed(&p, "POST", "/containers/x/start"));
        assert!(!allowed(&p, "POST", "/containers/x/stop"));
        let p = policy(Switches::default().with_gate(Gate::Restarts));
        assert!(allowed(&p, "POST", "/containers/x/stop"));
        assert!(allowed(&p, "POST", "/containers/x/restart"));
        assert!(allowed(&p, "POST", "/containers/x/kill"));
        assert!(!allowed(&p, "POST", "/containers/x/start"));
    }

    #[test]
    fn unlockkey_is_never_granted_by_sections() {
        let s = Switches::default()
            .with_section(Section::Swarm)
            .with_gate(Gate::Post);
        let Decision::Deny(d) = decide(&policy(s), "GET", "/swarm/unlockkey") else {
            panic!()
        };
        assert_eq!(d.reason, "never");
    }

    #[test]
    fn rules_add_grants_but_keep_inspection() {
        let rules = RuleSet::compile(
            RuleSet::parse_lines("GUARD_RULES", "POST /containers/create").expect("parse"),
        )
        .expect("compile");
        let p = Policy::new(Switches::default(), rules, BodyGrants::default());
        let Decision::Allow(a) = decide(&p, "POST", "/containers/create") else {
            panic!()
        };
        assert_eq!(a.by, "GUARD_RULES line 1");
        assert_eq!(a.inspect, Some(BodyKind::ContainerCreate));
    }
}
