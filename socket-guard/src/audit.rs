//! One structured audit line per request: client, method, path, decision, rule or reason,
//! status, bytes, duration. Written when the answer ends (see [`crate::conn`]), so a stream's line has its real
//! byte count and duration.

use std::sync::Arc;
use std::time::Instant;

use crate::metrics::{Metrics, RequestLabels};

/// What is known about a request when its answer is decided; finished when the answer ends.
#[derive(Debug)]
pub struct Audit {
    /// The client: `ip:port` or `unix`.
    pub client: Arc<str>,
    /// The method as sent.
    pub method: String,
    /// The canonical target when there is one, else the raw one.
    pub path: String,
    /// The endpoint name (`container.list`), `unknown`, or `-` when the target was invalid.
    pub endpoint: &'static str,
    /// `allow`, `learn` (allowed by learn mode only), `warn` (forwarded by warn mode only),
    /// `deny`, `invalid` or `error`.
    pub decision: &'static str,
    /// What allowed it, or why it was refused.
    pub reason: String,
    /// The section variable of the endpoint, or `none`.
    pub section: &'static str,
    /// The status answered.
    pub status: u16,
    /// When the request arrived.
    pub start: Instant,
    /// Whether this answer counts in the open-streams gauge until finished.
    pub stream: bool,
    /// Allowed only by learn mode (`GUARD_LEARN`): an allowed answer is audited `learn`.
    pub learned: bool,
    /// Forwarded only by warn mode (`GUARD_MODE=warn`): an allowed answer is audited `warn`
    /// and counted in `socket_guard_would_deny_total`.
    pub would_deny: bool,
    /// The name of the client's policy (`default`: the environment's).
    pub policy: Arc<str>,
    /// Where the counters live.
    pub metrics: Arc<Metrics>,
    /// Where the admin page's recent decisions live.
    pub decisions: Arc<crate::decisions::Decisions>,
}

impl Audit {
    /// Marks the answer as streaming: it counts as open until [`Audit::finish`].
    pub fn open_stream(&mut self) {
        if !self.stream {
            self.stream = true;
            self.metrics.open_streams.inc();
        }
    }

    /// Writes the audit line and counts the request.
    pub fn finish(mut self, bytes: u64) {
        if self.learned && self.decision == "allow" {
            self.decision = "learn";
        }
        if self.would_deny && self.decision == "allow" {
            self.decision = "warn";
            self.metrics
                .would_deny
                .get_or_create(&crate::metrics::PolicyLabels {
                    policy: self.policy.to_string(),
                })
                .inc();
        }
        if self.stream {
            self.metrics.open_streams.dec();
        }
        self.metrics
            .requests
            .get_or_create(&RequestLabels {
                decision: self.decision,
                section: self.section,
                status: self.status,
            })
            .inc();
        let duration_ms = self.start.elapsed().as_secs_f64() * 1000.0;
        tracing::info!(
            target: "audit",
            client = %self.client,
            policy = %self.policy,
            method = %self.method,
            path = %self.path,
            endpoint = self.endpoint,
            decision = self.decision,
            reason = %self.reason,
            status = self.status,
            bytes,
            duration_ms = (duration_ms * 1000.0).round() / 1000.0,
        );
        // The record is finished: its text moves to the admin page's list, uncopied.
        self.decisions.record(crate::decisions::Seen {
            at_ms: crate::decisions::now_ms(),
            client: self.client,
            method: self.method,
            path: self.path,
            endpoint: self.endpoint,
            decision: self.decision,
            reason: self.reason,
            status: self.status,
        });
    }
}
