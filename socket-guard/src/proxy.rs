//! The judging phases of one request: canonicalise the target, decide, and, for a refusal,
//! say what the client is told. The connection loop ([`crate::conn`]) does the I/O around
//! them: reading and inspecting the body, rewriting, forwarding, relaying the answer.
//!
//! What is forwarded is exactly what was judged: the canonical target
//! ([`Target::forward_uri`]), the inspected bytes (not a re-read of the stream), and a
//! connection upgrade only for an endpoint that upgrades and only after the daemon answered 101.

use std::sync::Arc;
use std::time::Instant;

use policies::path::{canonicalize, Target};
use policies::{Allowed, Decision, Policy};

use crate::audit::Audit;
use crate::error::GuardError;
use crate::server::State;
use crate::wire::RequestHead;

/// An allowed request: its canonical target, what the policy still asks of the proxy, and
/// the audit record that is finished when the answer ends.
#[derive(Debug)]
pub struct Judged {
    /// The audit record, decision `allow` once the answer is relayed.
    pub audit: Audit,
    /// The canonical target.
    pub target: Target,
    /// What allowed it and what must still be done (body inspection, upgrade).
    pub allowed: Allowed,
}

/// A request answered by the guard itself.
#[derive(Debug)]
pub struct Refusal {
    /// The audit record.
    pub audit: Audit,
    /// Why.
    pub err: GuardError,
    /// The path the message names (canonical when there is one).
    pub path: String,
}

/// A fresh audit record for a request from `client`.
pub fn audit_for(
    state: &State,
    client: Arc<str>,
    policy: Arc<str>,
    method: &str,
    path: &str,
    start: Instant,
) -> Audit {
    Audit {
        client,
        method: method.to_owned(),
        path: path.to_owned(),
        endpoint: "-",
        decision: "invalid",
        reason: String::new(),
        section: "none",
        status: 0,
        start,
        stream: false,
        learned: false,
        would_deny: false,
        policy,
        metrics: state.metrics.clone(),
        decisions: state.decisions.clone(),
    }
}

/// Phases 1 and 2: canonicalise, decide.
pub fn judge(
    state: &State,
    (name, policy): (&Arc<str>, &Policy),
    head: &RequestHead,
    client: Arc<str>,
    start: Instant,
) -> Result<Judged, Box<Refusal>> {
    let mut audit = audit_for(
        state,
        client,
        name.clone(),
        &head.method,
        &head.target,
        start,
    );
    let target = match canonicalize(&head.target) {
        Ok(t) => t,
        Err(e) => {
            return Err(Box::new(Refusal {
                audit,
                err: GuardError::BadTarget(e),
                path: head.target.clone(),
            }))
        }
    };
    audit.path = target.to_string();
    match policy.decide(policies::Request {
        method: &head.method,
        target: &target,
    }) {
        Decision::Allow(allowed) => {
            audit.endpoint = allowed.name();
            audit.section = allowed.endpoint.map_or("none", |e| e.section.var());
            audit.reason.clone_from(&allowed.by);
            audit.learned = allowed.by == policies::policy::LEARNED;
            audit.would_deny = allowed.would_deny();
            Ok(Judged {
                audit,
                target,
                allowed,
            })
        }
        Decision::Deny(mut d) => {
            // A client of a named policy is told which: the fix goes in that section.
            if **name != *policies::policy_file::DEFAULT_NAME {
                d.message = format!("{} [policy {name}]", d.message);
            }
            audit.endpoint = d.endpoint.map_or("unknown", |e| e.name);
            audit.section = d.endpoint.map_or("none", |e| e.section.var());
            audit.reason.clone_from(&d.message);
            Err(Box::new(Refusal {
                audit,
                path: target.path().to_owned(),
                err: GuardError::Denied(d),
            }))
        }
    }
}

/// Fills in the audit record for an answer the guard gives itself and returns the message.
pub fn refusal_message(refusal: &mut Refusal) -> String {
    let audit = &mut refusal.audit;
    let err = &refusal.err;
    audit.decision = err.decision();
    audit.status = err.status().as_u16();
    // The reason is the refusal's cause: only a policy denial keeps the policy's own message
    // (set when it was judged); after an allowed judgement the reason held the grant.
    if audit.reason.is_empty() || !matches!(err, GuardError::Denied(_)) {
        audit.reason = err.to_string();
    }
    err.message(&audit.method, &refusal.path)
}
