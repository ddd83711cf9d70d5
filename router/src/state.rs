//! Publishing: every provider hands its [`Snapshot`] here; the providers' latest snapshots
//! are compiled into one routing table ([`crate::model::compile`]) and, when it differs from
//! the table in service, swapped in atomically with its runtime state (the difference is
//! logged). Requests never wait for this: they read whichever table is in service.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::config::Config;
use crate::dynamic::Snapshot;
use crate::live::{Live, Registry};
use crate::metrics::Metrics;
use crate::model::compile::{self, CompileSettings, EntryPointModel};
use crate::model::table;
use crate::proxy::ProxyBody;

/// The providers' latest snapshots, by provider name: shared with the table compiled from
/// them, which makes its API view from them when it is first read.
pub type Snapshots = std::sync::Mutex<BTreeMap<String, Arc<Snapshot>>>;

/// State shared by every connection and by discovery.
#[derive(Debug)]
pub struct Shared {
    /// Configuration.
    pub config: Config,
    /// The table in service.
    pub live: ArcSwap<Live>,
    /// Runtime state that outlives tables.
    pub registry: Registry,
    /// Pooled HTTP/1.1 client to backends.
    /// The client to `h2c://` servers (HTTP/2 without TLS), its connections multiplexed.
    pub h2c: crate::h2c::Pool,
    pub client: Client<HttpConnector, ProxyBody>,
    /// Backend connections between HTTP/1.1 client connections (see [`crate::upstream`]).
    pub idle: Arc<crate::upstream::IdlePool>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// The caps on open client connections.
    pub limits: Arc<crate::conn_limit::ConnLimits>,
    /// The providers' latest snapshots (see [`crate::state`]).
    pub snapshots: Snapshots,
    /// Set when shutdown has begun (`ping@internal` answers its terminating status).
    pub stopping: std::sync::atomic::AtomicBool,
    /// Set once every configured provider has published its first snapshot.
    pub synced: std::sync::atomic::AtomicBool,
    /// The certificate resolver every entry point's TLS uses (set at start).
    pub resolver: std::sync::Mutex<Option<Arc<crate::tls::CertResolver>>>,
    /// Pending ACME HTTP-01 challenges: token -> key authorization.
    pub acme_challenges: std::sync::Mutex<std::collections::HashMap<String, String>>,
    /// TLS to `https://` servers, by transport and name.
    pub backend_tls: crate::backend_tls::Cache,
    /// TCP `inFlightConn` counts.
    pub tcp_in_flight: crate::tcp_serve::InFlightConns,
    /// TCP services' health checks.
    pub tcp_health: Arc<crate::tcp_health::TcpHealth>,
    /// `inFlightReq` counts.
    pub in_flight: std::sync::Arc<crate::middleware::InFlightCounts>,
    /// `circuitBreaker` instances, by router and middleware.
    pub breakers: crate::middleware::Breakers,
    /// `digestAuth` nonces, by middleware.
    pub digest_nonces: crate::middleware::DigestNonces,
    /// `basicAuth.usersFile`s read for the table in service.
    pub users_files: crate::middleware::UsersFiles,
    /// Clients to `forwardAuth` servers.
    pub forward_auth: crate::middleware::ForwardAuthClients,
    /// Active health check tasks by (service, backend URL).
    pub health_tasks:
        std::sync::Mutex<std::collections::HashMap<(String, String), tokio::task::AbortHandle>>,
    /// A controller's providers' inputs, for its data planes (cluster mode).
    pub hub: Option<Arc<crate::cluster::hub::Hub>>,
    /// Where Traefik's access lines go (set at start when `accessLog` is on).
    pub access_sink: std::sync::OnceLock<crate::access_log::Sink>,
    /// Requests seen, for the access log's `RequestCount`.
    pub request_count: std::sync::atomic::AtomicU64,
}

impl Shared {
    /// Builds the shared state with an empty table.
    pub fn new(config: Config) -> Arc<Shared> {
        std::sync::LazyLock::force(&crate::api::STARTED);
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(config.connect_timeout));
        connector.set_keepalive(Some(Duration::from_secs(60)));
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(256)
            .build(connector);
        let total = config.max_connections.unwrap_or_else(|| {
            let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
            crate::conn_limit::default_total(limit)
        });
        let limits = crate::conn_limit::ConnLimits::new(total, config.max_connections_per_ip);
        let mut metrics = Metrics::default();
        metrics.register_connections(&limits);
        if let Some(p) = &config.prometheus {
            metrics.register_traefik(&p.traefik);
        }
        let hub = (matches!(
            config.controller,
            Some(crate::config::ControllerRole::Serve { .. })
        ) || !config.publish.is_empty())
        .then(|| crate::cluster::hub::Hub::new(expected_providers(&config)));
        Arc::new(Shared {
            hub,
            limits: Arc::new(limits),
            h2c: Default::default(),
            config,
            live: ArcSwap::from_pointee(Live::default()),
            registry: Registry::default(),
            client,
            idle: Arc::default(),
            metrics: Arc::new(metrics),
            snapshots: std::sync::Mutex::default(),
            synced: std::sync::atomic::AtomicBool::new(false),
            stopping: std::sync::atomic::AtomicBool::new(false),
            backend_tls: Default::default(),
            forward_auth: Default::default(),
            users_files: Default::default(),
            in_flight: Default::default(),
            tcp_in_flight: Default::default(),
            tcp_health: Default::default(),
            breakers: Default::default(),
            digest_nonces: Default::default(),
            health_tasks: std::sync::Mutex::default(),
            acme_challenges: std::sync::Mutex::default(),
            resolver: std::sync::Mutex::default(),
            access_sink: std::sync::OnceLock::new(),
            request_count: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// The certificate resolver the entry points use (none before the TLS setup).
    pub fn resolver(&self) -> Option<Arc<crate::tls::CertResolver>> {
        self.resolver
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The providers whose first snapshot makes the table complete (`synced`).
    pub fn expected_providers(&self) -> Vec<&'static str> {
        expected_providers(&self.config)
    }

    /// The key authorization for a pending HTTP-01 challenge token.
    pub fn acme_challenge(&self, token: &str) -> Option<String> {
        self.acme_challenges
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(token)
            .cloned()
    }
}

/// Runs a reconfiguration (a snapshot built, the table compiled, compared and swapped in) on
/// the blocking pool, off the workers that serve requests, and waits for it: with thousands of
/// routes it takes tens of milliseconds of CPU, which requests queued on that worker would
/// otherwise wait for.
pub async fn off_workers(shared: &Arc<Shared>, work: impl FnOnce(&Shared) + Send + 'static) {
    let s = shared.clone();
    if let Err(e) = tokio::task::spawn_blocking(move || work(&s)).await {
        tracing::error!(error = %e, "a reconfiguration failed; the table in service is kept");
    }
}

/// Takes a provider's new snapshot and swaps in the table built from it and the others'.
pub fn publish(shared: &Shared, snapshot: Snapshot) {
    publish_many(shared, vec![Arc::new(snapshot)]);
}

/// [`publish`] for several providers' snapshots at once: one compile, one swap.
pub fn publish_many(shared: &Shared, snapshots: Vec<Arc<Snapshot>>) {
    // The snapshots stay locked until the table made from them is in service: two providers
    // publishing at once swap their tables in the order they compiled them, so the table in
    // service is always the one made from the latest snapshots.
    let (live, current, all_in, _replaced) = {
        let mut snaps = shared
            .snapshots
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Snapshots equal to those the table was built from (an event that changed nothing
        // the providers read, a periodic resync) change nothing: no compile, no comparison.
        let same = snapshots.iter().all(|s| {
            snaps
                .get(&s.provider)
                .is_some_and(|in_service| Arc::ptr_eq(in_service, s) || **in_service == **s)
        });
        if same && shared.synced.load(Ordering::SeqCst) {
            return;
        }
        // The snapshots replaced are freed after the swap (at 10,000 containers, milliseconds
        // a new container's first request need not wait for), or later with the table that
        // was compiled from them (it makes its API view from them if asked).
        let mut replaced = Vec::new();
        for snapshot in snapshots {
            replaced.extend(snaps.insert(snapshot.provider.clone(), snapshot));
        }
        let all_in = shared
            .expected_providers()
            .iter()
            .all(|p| snaps.contains_key(*p));
        // Made from the table in service where only some routers and services of one
        // provider changed (a container started or stopped), else compiled whole.
        let in_service = shared.live.load_full();
        let started = std::time::Instant::now();
        let new = compile::next_for_service(
            &in_service.table,
            snaps.values().cloned().collect(),
            &compile_settings(&shared.config),
        );
        // The new table goes into service first and is compared with the one it replaced
        // after: at 10,000 routes the comparison formats tens of thousands of lines (tens of
        // milliseconds) that a new container's first request need not wait for. A table equal
        // to the one in service (a snapshot that changed nothing routed) is swapped in all the
        // same, its runtime state carried over as for any other; only a change is a reload.
        let made_us = started.elapsed().as_micros() as u64;
        match new.compiled_whole_because() {
            Some(why) => tracing::debug!(because = why, made_us, "the table compiled whole"),
            None => tracing::debug!(patched = new.is_patched(), made_us, "the table made"),
        }
        let live = Arc::new(shared.registry.attach_after(&in_service, new));
        drop(in_service);
        let current = shared.live.swap(live.clone());
        (live, current, all_in, replaced)
    };
    let first = all_in && !shared.synced.swap(true, Ordering::SeqCst);
    let (added, removed) = table::diff(&current.table, &live.table);
    if added.is_empty() && removed.is_empty() && !first {
        return;
    }
    for line in &removed {
        tracing::info!(change = "-", "{line}");
    }
    for line in &added {
        tracing::info!(change = "+", "{line}");
    }
    shared.metrics.routes.set(live.table.routes.len() as i64);
    shared.metrics.reloaded();
    // What is in service now (a later publish may have swapped in its table meanwhile).
    shared.tcp_health.reconcile(&shared.live.load().table);
    shared.users_files.clear();
    crate::health::reconcile(shared);
}

/// The providers whose first snapshot makes `c`'s table complete: a data plane's is the
/// controller's first message.
pub fn expected_providers(c: &Config) -> Vec<&'static str> {
    if c.follows().is_some() {
        return vec![crate::cluster::follow::PROVIDER];
    }
    let mut v = Vec::new();
    if c.docker.is_some() {
        v.push("docker");
    }
    if c.swarm.is_some() {
        v.push("swarm");
    }
    if c.file.is_some() {
        v.push("file");
    }
    for kv in [&c.etcd, &c.redis].into_iter().flatten() {
        v.push(kv.store.name());
    }
    if c.ecs.is_some() {
        v.push(crate::ecs::PROVIDER);
    }
    v
}

/// The entry points and rule syntax routers are compiled against.
pub fn compile_settings(c: &Config) -> CompileSettings {
    CompileSettings {
        entry_points: c
            .entry_points
            .iter()
            .map(|e| EntryPointModel {
                name: e.name.clone(),
                default: e.default,
                middlewares: e.middlewares.clone(),
                tls: e.tls.clone(),
                udp: e.udp.is_some(),
                encoded_characters: e.http.encoded_characters,
                always: e.model,
            })
            .collect(),
        default_rule_syntax: c.default_rule_syntax,
        default_transport: c.default_transport.clone(),
    }
}
