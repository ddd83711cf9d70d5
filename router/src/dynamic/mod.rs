//! The dynamic configuration: what every provider (Docker labels, Swarm, files, the internal
//! provider, later KV stores and ECS) produces, as plain data in Traefik's shape — routers,
//! services, middlewares and TLS — and nothing else. One pure function
//! ([`crate::model::compile`]) turns the providers' configurations into the routing table.
//!
//! Names inside a provider's configuration are unqualified; [`qualify`] and [`resolve`] give
//! Traefik's `name@provider` rules: an unqualified reference means "in my own provider".
//!
//! Layout: [`decode`] reads a configuration tree (labels, files) into this model, with
//! [`middleware`] for the middleware kinds; [`Snapshot`] is one provider's output with the
//! problems found in its sources.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use crate::model::rule::Syntax;

pub mod decode;
pub mod health;
pub mod middleware;
pub mod sticky;
pub mod tcp;
pub mod tls;
pub mod transport;
pub mod udp;

pub use health::HealthCheck;
pub use middleware::{
    ClientTls, Cors, ErrorPages, ForwardAuth, GoRegex, Headers, IpStrategy, Middleware, Retry,
    SetHeader, SourceCriterion,
};
pub use tls::{Domain, TlsOptions, TlsStore};
pub use transport::ServersTransport;

/// One provider's configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Configuration {
    /// HTTP routers, services and middlewares.
    pub http: Http,
    /// TCP routers, services and middlewares.
    #[serde(skip_serializing_if = "tcp::Tcp::is_empty")]
    pub tcp: tcp::Tcp,
    /// UDP routers and services.
    #[serde(skip_serializing_if = "udp::Udp::is_empty")]
    pub udp: udp::Udp,
    /// Certificates and TLS settings.
    pub tls: Tls,
}

/// Definitions by name: a persistent map, so that a provider's next snapshot shares every
/// definition (and every part of the map) it did not change.
pub type Defs<T> = imbl::OrdMap<String, Arc<T>>;

/// The HTTP part. Its definitions are shared (`Arc`s): a provider's next snapshot takes those
/// of the containers that did not change from its last, and comparing two snapshots skips
/// what they share.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Http {
    /// Routers by name.
    pub routers: Defs<Router>,
    /// Services by name.
    pub services: Defs<Service>,
    /// Middlewares by name.
    pub middlewares: Defs<Middleware>,
    /// Servers transports by name (files only).
    pub servers_transports: BTreeMap<String, ServersTransport>,
}

impl PartialEq for Http {
    fn eq(&self, other: &Http) -> bool {
        same_map(&self.routers, &other.routers)
            && same_map(&self.services, &other.services)
            && same_map(&self.middlewares, &other.middlewares)
            && self.servers_transports == other.servers_transports
    }
}

/// Whether two maps of shared definitions are equal: maps that share their structure, and one
/// definition shared by both, are not compared again.
pub fn same_map<T: PartialEq>(a: &Defs<T>, b: &Defs<T>) -> bool {
    a.ptr_eq(b)
        || a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|((ka, va), (kb, vb))| ka == kb && same(va, vb))
}

/// Whether two shared definitions are equal: the same one, or equal ones.
pub fn same<T: PartialEq>(a: &Arc<T>, b: &Arc<T>) -> bool {
    Arc::ptr_eq(a, b) || **a == **b
}

/// An HTTP router.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Router {
    /// Entry points; empty means the default ones.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub entry_points: Vec<String>,
    /// Middlewares, in order (names as written, maybe qualified).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub middlewares: Vec<String>,
    /// The service (name as written, maybe qualified).
    pub service: String,
    /// The rule, as written.
    pub rule: String,
    /// The rule's syntax, when set on the router.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "syntax_name"
    )]
    pub rule_syntax: Option<Syntax>,
    /// Priority; 0 means the rule's length.
    #[serde(skip_serializing_if = "is_zero")]
    pub priority: i64,
    /// TLS: the router answers TLS connections (only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<RouterTls>,
    /// Access log lines for this router's requests (`observability.accessLogs`).
    #[serde(skip)]
    pub access_logs: Option<bool>,
    /// The rule came from the provider's default rule template.
    #[serde(skip)]
    pub default_rule: bool,
    /// Where it is defined (containers, files), for reports.
    #[serde(skip)]
    pub sources: Vec<String>,
    /// The key its rule was written under (a label, a file key), for reports.
    #[serde(skip)]
    pub rule_key: Option<String>,
}

fn is_zero(p: &i64) -> bool {
    *p == 0
}

fn syntax_name<S: serde::Serializer>(s: &Option<Syntax>, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(s.map_or("", Syntax::name))
}

/// A router's TLS section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RouterTls {
    /// The certificate resolver (ACME) for its names.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cert_resolver: String,
    /// The TLS options, as written (empty: `default`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub options: String,
    /// `domains`: names the resolver orders certificates for, besides the rule's `Host`s.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<Domain>,
}

/// A service.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    /// Its load balancer (unused by a `weighted` or `failover` service).
    #[serde(skip_serializing_if = "LoadBalancer::is_unset")]
    pub load_balancer: LoadBalancer,
    /// `weighted`: other services, picked by weight.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weighted: Option<Weighted>,
    /// `failover`: a service, and another while it has no healthy server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failover: Option<Failover>,
    /// `mirroring`: a service, with copies of some requests sent to others.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirroring: Option<Mirroring>,
    /// A handler of the router itself (the internal provider's), instead of servers.
    #[serde(skip)]
    pub internal: Option<InternalService>,
}

/// A `weighted` service (Traefik's weighted round robin over services).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Weighted {
    /// The services (references as written) and their weights.
    pub services: Vec<WeightedService>,
    /// `healthCheck: {}`: a service without a healthy server is skipped (and this one is
    /// down when all are).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub health_check: bool,
    /// `sticky.cookie`: a client keeps to the service its cookie names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sticky: Option<sticky::StickyCookie>,
}

/// One service of a `weighted` one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WeightedService {
    /// The service, as written.
    pub name: String,
    /// Its weight (0: never picked).
    pub weight: u32,
}

/// A `mirroring` service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Mirroring {
    /// The service that answers.
    pub service: String,
    /// The services that get copies, and the percentage of requests each gets.
    pub mirrors: Vec<Mirror>,
    /// Copies carry the request's body (Traefik's default).
    pub mirror_body: bool,
    /// The largest body copied (-1: no limit); a larger one is not mirrored.
    pub max_body_size: i64,
    /// `healthCheck: {}`: this service is down when its main service is.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub health_check: bool,
}

/// One mirror.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mirror {
    /// The service, as written.
    pub name: String,
    /// The share of requests copied to it (0 to 100).
    pub percent: u32,
}

/// A `failover` service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Failover {
    /// The service used while it has a healthy server.
    pub service: String,
    /// The service used otherwise.
    pub fallback: String,
    /// `healthCheck: {}`: the fallback's health counts too (this one is down when both are).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub health_check: bool,
    /// `errors`: answers of the service with these statuses go to the fallback instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<FailoverErrors>,
}

/// `failover.errors`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FailoverErrors {
    /// The status ranges that send a request to the fallback.
    pub status: Vec<(u16, u16)>,
    /// The largest request body held to be sent again (a larger one is answered 413);
    /// `None`: Traefik's unlimited.
    pub max_request_body_bytes: Option<u64>,
}

impl FailoverErrors {
    /// Whether an answer of `status` sends the request to the fallback (in one of the
    /// ranges, bounds included, as Traefik's `HTTPCodeRanges.Contains`).
    pub fn lists(&self, status: u16) -> bool {
        self.status
            .iter()
            .any(|(lo, hi)| (*lo..=*hi).contains(&status))
    }
}

/// The internal provider's services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InternalService {
    /// `api@internal`: Traefik's API.
    Api,
    /// `dashboard@internal`.
    Dashboard,
    /// `ping@internal`.
    Ping,
    /// `prometheus@internal`: the metrics.
    Prometheus,
    /// `noop@internal`: answers nothing (behind a redirect).
    Noop,
    /// `acme-http@internal`: the ACME HTTP-01 challenges' answers.
    AcmeHttp,
}

/// A load balancer over servers.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancer {
    /// The servers.
    pub servers: Vec<Server>,
    /// Active health check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheck>,
    /// Forward the client's `Host` (default); `false`: the server URL's host.
    pub pass_host_header: bool,
    /// `serversTransport`: the transport's name as written (empty: the default one).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub servers_transport: String,
    /// `sticky.cookie`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sticky: Option<sticky::StickyCookie>,
    /// `strategy`: how a server is picked (shown when it is not the default `wrr`).
    #[serde(skip_serializing_if = "Strategy::is_wrr")]
    pub strategy: Strategy,
}

/// A load balancer's `strategy` (Traefik's `BalancerStrategy`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// `wrr` (the default): weighted round robin, or least in flight with
    /// `ROUTER_BALANCER=leastinflight`; a server of weight 0 is never picked.
    #[default]
    Wrr,
    /// `p2c`: of two servers drawn at random, the one with fewer requests in flight; weights
    /// are not read (a server of weight 0 is picked as any other, as Traefik's).
    P2c,
    /// `hrw`: the server with the highest score for the client's IP address (rendezvous
    /// hashing scaled by weight), so a client keeps its server; weight 0: never picked; no
    /// sticky cookie is read or set.
    Hrw,
    /// `leasttime`: the server with the lowest mean time to an answer's head over its last
    /// 100 answers, times one more than its requests in flight, over its weight; ties broken
    /// by weighted round robin; weight 0: never picked.
    LeastTime,
}

impl Strategy {
    /// Whether it is the default.
    pub fn is_wrr(&self) -> bool {
        *self == Strategy::Wrr
    }
}

fn is_one(w: &u32) -> bool {
    *w == 1
}

impl LoadBalancer {
    /// Whether nothing is set (the load balancer of a `weighted` or `failover` service).
    pub fn is_unset(&self) -> bool {
        *self == LoadBalancer::default()
    }
}

impl Default for LoadBalancer {
    fn default() -> Self {
        LoadBalancer {
            servers: Vec::new(),
            health_check: None,
            pass_host_header: true,
            servers_transport: String::new(),
            sticky: None,
            strategy: Strategy::Wrr,
        }
    }
}

/// One server of a load balancer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Server {
    /// `http://host:port`.
    pub url: String,
    /// Its share of requests against the others' (`weight`, 1 by default; 0: none).
    #[serde(skip_serializing_if = "is_one")]
    pub weight: u32,
    /// Whether the provider says it can take requests (a stopped container stays known).
    #[serde(skip)]
    pub status: ServerStatus,
    /// The container (or task) behind it, when a container provider made it.
    #[serde(skip)]
    pub origin: Option<Origin>,
    /// The URL's path as written (escaped; empty when it has none): used only with
    /// `preserve_path`, as in Traefik.
    #[serde(skip)]
    pub path: String,
    /// `preservePath`: the URL's path goes in front of each request's path.
    #[serde(rename = "preservePath", skip_serializing_if = "std::ops::Not::not")]
    pub preserve_path: bool,
    /// The URL as the configuration wrote it (`url` is rewritten with its port and without
    /// its path): Traefik's name for the server, which its sticky cookie's value hashes.
    #[serde(skip)]
    pub written: String,
}

/// The container behind a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Container (or task) id.
    pub id: String,
    /// Container name.
    pub name: String,
}

/// What the provider knows of a server's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ServerStatus {
    /// Running, healthy or without health check.
    #[default]
    Ready,
    /// Health check still starting.
    Starting,
    /// Health check failing.
    Unhealthy,
    /// Paused.
    Paused,
    /// Kill or stop seen.
    Stopping,
    /// Not running (no address).
    Stopped,
}

/// The TLS part.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Tls {
    /// Certificates (PEM file paths or inline PEM).
    pub certificates: Vec<Certificate>,
    /// TLS options by name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, TlsOptions>,
    /// The default store.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<TlsStore>,
}

/// A certificate and its key, each a file path or inline PEM (Traefik's `FileOrContent`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Certificate {
    /// The certificate chain.
    pub cert_file: String,
    /// The private key.
    #[serde(skip)]
    pub key_file: String,
}

/// A problem found while reading a provider's sources.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Issue {
    /// Where: a container's name, a file's path, `static`.
    pub source: String,
    /// `error` (something is disabled), `warning` (a guess was made), `unsupported`.
    pub level: &'static str,
    /// The key at fault (a label, a file key), if one is.
    pub key: Option<String>,
    /// What happened.
    pub message: String,
}

/// One provider's output: its configuration and what was wrong in its sources.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// The provider's name (`docker`, `swarm`, `file`, `internal`).
    pub provider: String,
    /// Its configuration, with broken elements left out.
    pub config: Configuration,
    /// The problems, each tied to its source.
    pub issues: Vec<Issue>,
    /// The elements left out because their definition is broken, with why (for the API's
    /// `disabled` status).
    pub broken: Vec<Broken>,
}

/// A router, service or middleware whose definition could not be read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Broken {
    /// `router`, `service`, `middleware`, `tlsOptions`, `tcpRouter`, `tcpService`,
    /// `tcpMiddleware`, `udpRouter` or `udpService`.
    pub kind: &'static str,
    /// Its name (unqualified).
    pub name: String,
    /// What is wrong with it.
    pub error: String,
}

/// `name@provider`.
pub fn qualify(name: &str, provider: &str) -> String {
    format!("{name}@{provider}")
}

/// The qualified name a reference written in `provider`'s configuration stands for: itself
/// when qualified (`auth@file`), else in the same provider.
pub fn resolve(reference: &str, provider: &str) -> String {
    if reference.contains('@') {
        reference.to_owned()
    } else {
        qualify(reference, provider)
    }
}
