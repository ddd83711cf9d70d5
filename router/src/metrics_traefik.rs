//! Traefik's Prometheus metrics (`metrics.prometheus`), under Traefik's names and labels, so
//! the dashboards and alerts written for Traefik read the router: `traefik_entrypoint_*`
//! (`addEntryPointsLabels`, on by default), `traefik_router_*` (`addRoutersLabels`),
//! `traefik_service_*` (`addServicesLabels`, on by default): requests by `code`, `method`
//! and `protocol`, their durations with `buckets`, request and response bytes; service
//! retries and `traefik_service_server_up`; `traefik_config_reloads_total` and
//! `traefik_config_last_reload_success`. Registered beside the router's own metrics only
//! when a Traefik configuration enables them, so they cost nothing otherwise.

use std::borrow::Cow;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// `metrics.prometheus`'s choices, with Traefik's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// `addEntryPointsLabels` (default `true`).
    pub entry_points: bool,
    /// `addRoutersLabels` (default `false`).
    pub routers: bool,
    /// `addServicesLabels` (default `true`).
    pub services: bool,
    /// `buckets` (default 0.1, 0.3, 1.2, 5 seconds).
    pub buckets: Vec<f64>,
}

// The buckets are finite numbers (the configuration refuses others): equality is one.
impl Eq for Options {}

impl Default for Options {
    fn default() -> Self {
        Options {
            entry_points: true,
            routers: false,
            services: true,
            buckets: vec![0.1, 0.3, 1.2, 5.0],
        }
    }
}

/// Text that is usually a constant (an entry point's name, a standard method).
type Text = Cow<'static, str>;

/// The labels of the entry point families.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EntryPointLabels {
    code: u16,
    method: Text,
    protocol: &'static str,
    entrypoint: Text,
}

/// The labels of the router families.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouterLabels {
    code: u16,
    method: Text,
    protocol: &'static str,
    router: String,
    service: String,
}

/// The labels of the service families.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServiceLabels {
    code: u16,
    method: Text,
    protocol: &'static str,
    service: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServiceName {
    service: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServerLabels {
    service: String,
    url: String,
}

/// Makes each label set's histogram with the configured buckets.
#[derive(Debug, Clone)]
struct Buckets(std::sync::Arc<Vec<f64>>);

impl prometheus_client::metrics::family::MetricConstructor<Histogram> for Buckets {
    fn new_metric(&self) -> Histogram {
        Histogram::new(self.0.iter().copied())
    }
}

/// One level's four families: requests, durations, request and response bytes.
#[derive(Debug)]
struct Level<L: EncodeLabelSet + Clone + Eq + std::hash::Hash + Send + Sync + std::fmt::Debug> {
    requests: Family<L, Counter>,
    durations: Family<L, Histogram, Buckets>,
    request_bytes: Family<L, Counter>,
    response_bytes: Family<L, Counter>,
}

impl<L> Level<L>
where
    L: EncodeLabelSet + Clone + Eq + std::hash::Hash + Send + Sync + std::fmt::Debug + 'static,
{
    /// Registers `<prefix>_requests_total` and the others, as Traefik names them.
    fn register(registry: &mut Registry, prefix: &str, what: &str, buckets: &[f64]) -> Self {
        let level = Level {
            requests: Family::default(),
            durations: Family::new_with_constructor(Buckets(std::sync::Arc::new(buckets.to_vec()))),
            request_bytes: Family::default(),
            response_bytes: Family::default(),
        };
        registry.register(
            format!("{prefix}_requests"),
            format!("How many HTTP requests processed on {what}, partitioned by status code, protocol, and method."),
            level.requests.clone(),
        );
        registry.register(
            format!("{prefix}_request_duration_seconds"),
            format!("How long it took to process the request on {what}, partitioned by status code, protocol, and method."),
            level.durations.clone(),
        );
        registry.register(
            format!("{prefix}_requests_bytes"),
            format!("The total size of requests in bytes handled by {what}, partitioned by status code, protocol, and method."),
            level.request_bytes.clone(),
        );
        registry.register(
            format!("{prefix}_responses_bytes"),
            format!("The total size of responses in bytes handled by {what}, partitioned by status code, protocol, and method."),
            level.response_bytes.clone(),
        );
        level
    }

    fn observe(&self, labels: &L, took: Duration, received: u64, sent: u64) {
        self.requests.get_or_create(labels).inc();
        self.durations
            .get_or_create(labels)
            .observe(took.as_secs_f64());
        self.request_bytes.get_or_create(labels).inc_by(received);
        self.response_bytes.get_or_create(labels).inc_by(sent);
    }
}

/// Traefik's metric families, registered under `traefik_`.
#[derive(Debug)]
pub struct TraefikMetrics {
    entry_points: Option<Level<EntryPointLabels>>,
    routers: Option<Level<RouterLabels>>,
    services: Option<Level<ServiceLabels>>,
    retries: Family<ServiceName, Counter>,
    servers_up: Family<ServerLabels, Gauge>,
    /// `traefik_config_reloads_total`.
    pub reloads: Counter,
    /// `traefik_config_last_reload_success`: when the last table went into service (Unix
    /// seconds).
    pub last_reload: Gauge<f64, AtomicU64>,
}

/// One request, as the metrics count it.
#[derive(Debug)]
pub struct Request<'a> {
    /// The entry point.
    pub entry_point: &'static str,
    /// The method.
    pub method: &'a hyper::Method,
    /// `http`, `websocket` or `sse` (see [`protocol`]).
    pub protocol: &'static str,
    /// The router that took it (empty: none).
    pub router: &'a str,
    /// Its service (empty: none).
    pub service: &'a str,
    /// The status answered.
    pub status: u16,
    /// How long it took.
    pub took: Duration,
    /// The request body's declared length.
    pub received: u64,
    /// The answer's body bytes.
    pub sent: u64,
    /// Servers tried after the first.
    pub retries: u32,
}

/// Traefik's `protocol` label: `websocket` for a WebSocket upgrade (`Connection: upgrade`
/// and `Upgrade: websocket`), `sse` for a request that accepts `text/event-stream`, else
/// `http`; each header's comma-separated values compared without case.
pub fn protocol(headers: &hyper::HeaderMap) -> &'static str {
    let has = |name: hyper::header::HeaderName, want: &str| {
        headers.get_all(name).iter().any(|v| {
            v.to_str().is_ok_and(|v| {
                v.split(',')
                    .any(|part| part.trim().eq_ignore_ascii_case(want))
            })
        })
    };
    if has(hyper::header::CONNECTION, "upgrade") && has(hyper::header::UPGRADE, "websocket") {
        "websocket"
    } else if has(hyper::header::ACCEPT, "text/event-stream") {
        "sse"
    } else {
        "http"
    }
}

/// A method as a label: the standard ones without a copy.
fn method_text(m: &hyper::Method) -> Text {
    const STANDARD: [&str; 9] = [
        "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "CONNECT", "TRACE",
    ];
    match STANDARD.iter().find(|s| **s == m.as_str()) {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(m.as_str().to_owned()),
    }
}

impl TraefikMetrics {
    /// Registers the families `o` asks for in `registry` (which adds no prefix).
    pub fn register(registry: &mut Registry, o: &Options) -> TraefikMetrics {
        let r = registry.sub_registry_with_prefix("traefik");
        let entry_points = o
            .entry_points
            .then(|| Level::register(r, "entrypoint", "an entrypoint", &o.buckets));
        let routers = o
            .routers
            .then(|| Level::register(r, "router", "a router", &o.buckets));
        let services = o
            .services
            .then(|| Level::register(r, "service", "a service", &o.buckets));
        let retries = Family::<ServiceName, Counter>::default();
        let servers_up = Family::<ServerLabels, Gauge>::default();
        if o.services {
            r.register(
                "service_retries",
                "How many request retries happened on a service.",
                retries.clone(),
            );
            r.register(
                "service_server_up",
                "service server is up, described by gauge value of 0 or 1.",
                servers_up.clone(),
            );
        }
        let reloads = Counter::default();
        r.register("config_reloads", "Config reloads", reloads.clone());
        let last_reload = Gauge::<f64, AtomicU64>::default();
        r.register(
            "config_last_reload_success",
            "Last config reload success",
            last_reload.clone(),
        );
        TraefikMetrics {
            entry_points,
            routers,
            services,
            retries,
            servers_up,
            reloads,
            last_reload,
        }
    }

    /// Counts one request: on its entry point; on its router and service when one took it.
    pub fn observe(&self, q: &Request<'_>) {
        let method = method_text(q.method);
        let code = q.status;
        if let Some(l) = &self.entry_points {
            let labels = EntryPointLabels {
                code,
                method: method.clone(),
                protocol: q.protocol,
                entrypoint: Cow::Borrowed(q.entry_point),
            };
            l.observe(&labels, q.took, q.received, q.sent);
        }
        if q.router.is_empty() {
            return;
        }
        if let Some(l) = &self.routers {
            let labels = RouterLabels {
                code,
                method: method.clone(),
                protocol: q.protocol,
                router: q.router.to_owned(),
                service: q.service.to_owned(),
            };
            l.observe(&labels, q.took, q.received, q.sent);
        }
        if q.service.is_empty() {
            return;
        }
        if let Some(l) = &self.services {
            let labels = ServiceLabels {
                code,
                method,
                protocol: q.protocol,
                service: q.service.to_owned(),
            };
            l.observe(&labels, q.took, q.received, q.sent);
            if q.retries > 0 {
                self.retries
                    .get_or_create(&ServiceName {
                        service: q.service.to_owned(),
                    })
                    .inc_by(u64::from(q.retries));
            }
        }
    }

    /// Sets `traefik_service_server_up` to the servers in service now (1 up, 0 when its
    /// health check failed), forgetting servers no longer configured.
    pub fn servers_up<'a>(&self, servers: impl Iterator<Item = (&'a str, &'a str, bool)>) {
        if self.services.is_none() {
            return;
        }
        self.servers_up.clear();
        for (service, url, up) in servers {
            self.servers_up
                .get_or_create(&ServerLabels {
                    service: service.to_owned(),
                    url: url.to_owned(),
                })
                .set(i64::from(up));
        }
    }
}

/// Sets `traefik_service_server_up` from the services in service (a server is down while
/// its health check fails), before the metrics are read.
pub fn servers_up_from(shared: &crate::state::Shared, live: &crate::live::Live) {
    let Some(t) = &shared.metrics.traefik else {
        return;
    };
    t.servers_up(live.services.iter().flat_map(|(name, s)| {
        s.backends.iter().map(move |b| {
            let failed = b
                .state
                .check_failed
                .load(std::sync::atomic::Ordering::Relaxed);
            (name.as_str(), b.def.url.as_str(), !failed)
        })
    }));
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn render(r: &Registry) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, r).unwrap();
        out
    }

    /// Traefik's names, labels and defaults: entry point and service families on, router
    /// ones off; a 404 no router took counts on its entry point only; retries and servers.
    #[test]
    fn families_and_labels_are_traefiks() {
        let mut registry = Registry::default();
        let m = TraefikMetrics::register(&mut registry, &Options::default());
        let get = hyper::Method::GET;
        let q = Request {
            entry_point: "web",
            method: &get,
            protocol: "http",
            router: "app@docker",
            service: "app@docker",
            status: 200,
            took: Duration::from_millis(250),
            received: 3,
            sent: 10,
            retries: 1,
        };
        m.observe(&q);
        m.observe(&Request {
            router: "",
            service: "",
            status: 404,
            ..q
        });
        m.servers_up([("app@docker", "http://10.0.0.2:80", true)].into_iter());
        let text = render(&registry);
        for want in [
            "traefik_entrypoint_requests_total{code=\"200\",method=\"GET\",protocol=\"http\",entrypoint=\"web\"} 1",
            "traefik_entrypoint_requests_total{code=\"404\",method=\"GET\",protocol=\"http\",entrypoint=\"web\"} 1",
            "traefik_entrypoint_request_duration_seconds_bucket{le=\"0.3\",code=\"200\",method=\"GET\",protocol=\"http\",entrypoint=\"web\"} 1",
            "traefik_entrypoint_request_duration_seconds_bucket{le=\"0.1\",code=\"200\",method=\"GET\",protocol=\"http\",entrypoint=\"web\"} 0",
            "traefik_entrypoint_requests_bytes_total{code=\"200\",method=\"GET\",protocol=\"http\",entrypoint=\"web\"} 3",
            "traefik_entrypoint_responses_bytes_total{code=\"200\",method=\"GET\",protocol=\"http\",entrypoint=\"web\"} 10",
            "traefik_service_requests_total{code=\"200\",method=\"GET\",protocol=\"http\",service=\"app@docker\"} 1",
            "traefik_service_retries_total{service=\"app@docker\"} 1",
            "traefik_service_server_up{service=\"app@docker\",url=\"http://10.0.0.2:80\"} 1",
            "# TYPE traefik_config_reloads counter",
            "# TYPE traefik_config_last_reload_success gauge",
        ] {
            assert!(text.contains(want), "{want}\n{text}");
        }
        assert!(!text.contains("traefik_router_"), "{text}");
        assert!(!text.contains("service=\"\""), "{text}");
        // Routers on, entry points off.
        let mut registry = Registry::default();
        let o = Options {
            entry_points: false,
            routers: true,
            ..Options::default()
        };
        let m = TraefikMetrics::register(&mut registry, &o);
        m.observe(&q);
        let text = render(&registry);
        assert!(text.contains("traefik_router_requests_total{code=\"200\",method=\"GET\",protocol=\"http\",router=\"app@docker\",service=\"app@docker\"} 1"), "{text}");
        assert!(!text.contains("traefik_entrypoint_"), "{text}");
    }

    #[test]
    fn protocol_is_traefiks() {
        let headers = |pairs: &[(&str, &str)]| {
            let mut h = hyper::HeaderMap::new();
            for (k, v) in pairs {
                h.append(
                    hyper::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    v.parse().unwrap(),
                );
            }
            h
        };
        for (pairs, want) in [
            (
                &[
                    ("Connection", "keep-alive, Upgrade"),
                    ("Upgrade", "WebSocket"),
                ][..],
                "websocket",
            ),
            (&[("Upgrade", "websocket")][..], "http"),
            (&[("Accept", "text/html, text/event-stream")][..], "sse"),
            (&[("Accept", "text/event-stream;q=1")][..], "http"),
            (&[][..], "http"),
        ] {
            assert_eq!(protocol(&headers(pairs)), want, "{pairs:?}");
        }
    }
}
