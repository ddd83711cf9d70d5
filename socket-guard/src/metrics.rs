//! Prometheus metrics, served on the admin listener's `/metrics`.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::{text::encode, EncodeLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Labels of `socket_guard_requests_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `allow`, `learn`, `warn`, `deny`, `invalid` or `error`.
    pub decision: &'static str,
    /// The section variable of the endpoint reached (`CONTAINERS`), or `none`.
    pub section: &'static str,
    /// The HTTP status answered.
    pub status: u16,
}

/// Labels of `socket_guard_would_deny_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PolicyLabels {
    /// The policy's name (`default`: the environment's).
    pub policy: String,
}

/// All of socket-guard's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Requests by decision, section and status.
    pub requests: Family<RequestLabels, Counter>,
    /// Requests that were allowed but failed to reach the daemon.
    pub upstream_errors: Counter,
    /// Responses still streaming and tunnels still open.
    pub open_streams: Gauge<i64, std::sync::atomic::AtomicI64>,
    /// Connections closed for malformed framing.
    pub framing_errors: Counter<u64, AtomicU64>,
    /// Connections closed at once because their client had `GUARD_MAX_CONNECTIONS_PER_CLIENT`
    /// open.
    pub capped_connections: Counter,
    /// Connections refused by `GUARD_ALLOW_FROM`.
    pub refused_clients: Counter,
    /// Reads answered with the daemon's answer to an identical request sent for a group.
    pub shared_answers: Counter,
    /// Requests a policy in warn mode forwarded that it would refuse, by policy.
    pub would_deny: Family<PolicyLabels, Counter>,
    /// Clients of a `tls://` listener refused by the handshake (no or a bad certificate).
    pub tls_refused: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("socket_guard");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests by decision, section and status",
            requests.clone(),
        );
        let upstream_errors = Counter::default();
        registry.register(
            "upstream_errors",
            "Allowed requests that failed to reach the Docker daemon",
            upstream_errors.clone(),
        );
        let open_streams = Gauge::default();
        registry.register(
            "open_streams",
            "Responses still streaming and upgraded connections still open",
            open_streams.clone(),
        );
        let framing_errors = Counter::default();
        registry.register(
            "framing_errors",
            "Connections closed for malformed HTTP framing",
            framing_errors.clone(),
        );
        let refused_clients = Counter::default();
        registry.register(
            "refused_clients",
            "TCP connections refused by GUARD_ALLOW_FROM",
            refused_clients.clone(),
        );
        let capped_connections = Counter::default();
        registry.register(
            "capped_connections",
            "TCP connections closed at once because their client had GUARD_MAX_CONNECTIONS_PER_CLIENT open",
            capped_connections.clone(),
        );
        let shared_answers = Counter::default();
        registry.register(
            "shared_answers",
            "Allowed reads answered with the daemon's answer to an identical request of their group (GUARD_COALESCE)",
            shared_answers.clone(),
        );
        let would_deny = Family::<PolicyLabels, Counter>::default();
        registry.register(
            "would_deny",
            "Requests forwarded by a policy in warn mode (GUARD_MODE=warn) that enforce mode would refuse, by policy",
            would_deny.clone(),
        );
        let tls_refused = Counter::default();
        registry.register(
            "tls_refused",
            "Clients of a tls:// listener refused by the handshake (no client certificate, or one GUARD_TLS_CA did not sign)",
            tls_refused.clone(),
        );
        Metrics {
            registry,
            would_deny,
            tls_refused,
            shared_answers,
            requests,
            upstream_errors,
            open_streams,
            framing_errors,
            refused_clients,
            capped_connections,
        }
    }
}

impl Metrics {
    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}
