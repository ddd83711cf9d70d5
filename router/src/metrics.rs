//! Prometheus metrics, served on the admin listener's `/metrics`.

use std::time::Duration;

use prometheus_client::encoding::{text::encode, EncodeLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Labels of the request metrics.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// Router name, or empty when no route matched.
    pub router: String,
    /// Status class (`2xx`, `5xx`, ...).
    pub code: &'static str,
}

/// All of the router's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RequestLabels, Histogram>,
    /// Routing tables swapped in.
    pub reloads: Counter,
    /// Routes in the current table.
    pub routes: Gauge,
    /// Failed discovery attempts (list or events).
    pub discovery_errors: Counter,
    /// Upgraded connections (WebSocket) open.
    pub open_tunnels: Gauge,
    /// Traefik's metrics, when a Traefik configuration's `metrics.prometheus` asks for them.
    pub traefik: Option<crate::metrics_traefik::TraefikMetrics>,
}

impl Default for Metrics {
    fn default() -> Self {
        // The root adds no prefix: the router's families are under `router_`, Traefik's
        // (`register_traefik`) under `traefik_`.
        let mut root = Registry::default();
        let registry = root.sub_registry_with_prefix("router");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests by router and status class",
            requests.clone(),
        );
        let durations = Family::<RequestLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        registry.register(
            "request_duration_seconds",
            "Time to response headers by router and status class",
            durations.clone(),
        );
        let reloads = Counter::default();
        registry.register(
            "table_reloads",
            "Routing tables swapped in",
            reloads.clone(),
        );
        let routes = Gauge::default();
        registry.register("routes", "Routes in the current table", routes.clone());
        let discovery_errors = Counter::default();
        registry.register(
            "discovery_errors",
            "Failed provider reads: container listings, event streams, Swarm and ECS reads",
            discovery_errors.clone(),
        );
        let open_tunnels = Gauge::default();
        registry.register(
            "open_tunnels",
            "Upgraded connections (WebSocket) open",
            open_tunnels.clone(),
        );
        Metrics {
            registry: root,
            requests,
            durations,
            reloads,
            routes,
            discovery_errors,
            open_tunnels,
            traefik: None,
        }
    }
}

impl Metrics {
    /// Counts one answered request.
    pub fn observe(&self, router: &str, status: u16, took: Duration) {
        let labels = RequestLabels {
            router: router.to_owned(),
            code: match status / 100 {
                1 => "1xx",
                2 => "2xx",
                3 => "3xx",
                4 => "4xx",
                _ => "5xx",
            },
        };
        self.requests.get_or_create(&labels).inc();
        self.durations
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }

    /// Registers the connection caps' metrics (`router_open_connections`,
    /// `router_refused_connections_total`).
    pub fn register_connections(&mut self, limits: &crate::conn_limit::ConnLimits) {
        let registry = self.registry.sub_registry_with_prefix("router");
        registry.register(
            "open_connections",
            "Client connections open",
            limits.open_gauge.clone(),
        );
        registry.register(
            "refused_connections",
            "Client connections closed at once by ROUTER_MAX_CONNECTIONS (cap=total) or ROUTER_MAX_CONNECTIONS_PER_IP (cap=per_ip)",
            limits.refused_counter.clone(),
        );
    }

    /// Registers Traefik's metric families (`metrics.prometheus`).
    pub fn register_traefik(&mut self, o: &crate::metrics_traefik::Options) {
        self.traefik = Some(crate::metrics_traefik::TraefikMetrics::register(
            &mut self.registry,
            o,
        ));
    }

    /// A new table went into service.
    pub fn reloaded(&self) {
        self.reloads.inc();
        if let Some(t) = &self.traefik {
            t.reloads.inc();
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            t.last_reload.set(now.as_secs_f64());
        }
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = encode(&mut out, &self.registry);
        out
    }
}
