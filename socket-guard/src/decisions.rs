//! The guard's recent decisions, for its admin page (`/decisions`, `/`): the last
//! [`KEPT`] requests (client, method, path, endpoint, decision, reason, status) and counts per
//! client and endpoint since start. Fed by every finished audit record, so the page shows
//! exactly what the audit log says. For a refused endpoint the page also says which variable
//! would allow it ([`fix`]), so that the fix for a refused client is next to its refusal.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use policies::Policy;
use serde_json::{json, Value};

/// How many recent decisions are kept.
pub const KEPT: usize = 500;
/// How many (client, endpoint, decision) counts are kept; past it, new ones are counted under
/// the client `other` (a client cycling through source ports or addresses cannot grow it).
pub const MAX_COUNTS: usize = 4096;

/// One decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// Unix time in milliseconds.
    pub at_ms: u64,
    /// `ip:port` or `unix`.
    pub client: Arc<str>,
    /// The method as sent.
    pub method: String,
    /// The canonical target, else the raw one.
    pub path: String,
    /// The endpoint's name, `unknown` or `-`.
    pub endpoint: &'static str,
    /// `allow`, `learn`, `deny`, `invalid` or `error`.
    pub decision: &'static str,
    /// What allowed it or why it was refused.
    pub reason: String,
    /// The status answered.
    pub status: u16,
}

/// Recent decisions and counts.
#[derive(Debug, Default)]
pub struct Decisions {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    recent: VecDeque<Seen>,
    counts: BTreeMap<(String, &'static str, &'static str), u64>,
}

impl Decisions {
    /// Records one decision.
    pub fn record(&self, seen: Seen) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let host = client_host(&seen.client).to_owned();
        let mut key = (host, seen.endpoint, seen.decision);
        if !inner.counts.contains_key(&key) && inner.counts.len() >= MAX_COUNTS {
            key.0 = "other".into();
        }
        *inner.counts.entry(key).or_insert(0) += 1;
        if inner.recent.len() == KEPT {
            inner.recent.pop_front();
        }
        inner.recent.push_back(seen);
    }

    /// The page's JSON: recent decisions (newest first), counts, and the policy in force.
    pub fn to_json(&self, policy: &Policy) -> Value {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let recent: Vec<Value> = inner
            .recent
            .iter()
            .rev()
            .map(|s| {
                json!({
                    "at": s.at_ms,
                    "client": &*s.client,
                    "method": s.method,
                    "path": s.path,
                    "endpoint": s.endpoint,
                    "decision": s.decision,
                    "reason": s.reason,
                    "status": s.status,
                    "allowWith": fix(policy, s),
                })
            })
            .collect();
        let counts: Vec<Value> = inner
            .counts
            .iter()
            .map(|((client, endpoint, decision), n)| {
                json!({ "client": client, "endpoint": endpoint, "decision": decision, "count": n })
            })
            .collect();
        json!({
            "recent": recent,
            "counts": counts,
            "policy": policy.render_allow_list(),
        })
    }
}

/// What would allow a refused request of a known endpoint: each alternative as the variables
/// to set (`CONTAINERS=1 POST=1`). Empty for an allowed request, an unknown endpoint, one that
/// is never forwarded, or a refusal that is not the endpoint's (a body, the visible scope).
pub fn fix(policy: &Policy, seen: &Seen) -> Vec<String> {
    if seen.decision != "deny" || seen.status != 403 {
        return Vec::new();
    }
    let Some(e) = policies::endpoint::ENDPOINTS
        .iter()
        .find(|e| e.name == seen.endpoint)
    else {
        return Vec::new();
    };
    match policy.grant(e) {
        Ok(_) => Vec::new(),
        Err(alternatives) => alternatives
            .iter()
            .map(|alt| {
                alt.iter()
                    .map(|n| format!("{}=1", n.var()))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect(),
    }
}

/// The client without its port: counts are per client, not per connection.
fn client_host(client: &str) -> &str {
    match client.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => client,
    }
}

/// Now, as Unix milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(client: &str, endpoint: &'static str, decision: &'static str, status: u16) -> Seen {
        Seen {
            at_ms: 1,
            client: Arc::from(client),
            method: "GET".into(),
            path: "/x".into(),
            endpoint,
            decision,
            reason: String::new(),
            status,
        }
    }

    #[test]
    fn recent_decisions_are_bounded_and_counted_per_client_host() {
        let d = Decisions::default();
        for i in 0..(KEPT + 10) {
            d.record(seen(
                &format!("10.0.0.1:{}", 1000 + i),
                "container.list",
                "allow",
                200,
            ));
        }
        let v = d.to_json(&Policy::default());
        assert_eq!(v["recent"].as_array().map(Vec::len), Some(KEPT));
        assert_eq!(v["counts"][0]["client"], "10.0.0.1");
        assert_eq!(v["counts"][0]["count"], KEPT as u64 + 10);
    }

    #[test]
    fn counts_past_the_cap_go_to_other() {
        let d = Decisions::default();
        for i in 0..(MAX_COUNTS + 5) {
            d.record(seen(&format!("client{i}"), "ping", "allow", 200));
        }
        let v = d.to_json(&Policy::default());
        let counts = v["counts"].as_array().cloned().unwrap_or_default();
        assert_eq!(counts.len(), MAX_COUNTS + 1);
        assert!(counts
            .iter()
            .any(|c| c["client"] == "other" && c["count"] == 5));
    }

    #[test]
    fn a_refused_endpoint_names_the_variables_that_allow_it() {
        let p = Policy::default();
        assert_eq!(
            fix(&p, &seen("c", "container.list", "deny", 403)),
            ["CONTAINERS=1"]
        );
        assert!(fix(&p, &seen("c", "container.create", "deny", 403))
            .iter()
            .any(|a| a.contains("CONTAINERS=1") && a.contains("POST=1")));
        assert!(fix(&p, &seen("c", "unknown", "deny", 403)).is_empty());
        assert!(fix(&p, &seen("c", "container.list", "allow", 200)).is_empty());
    }
}
