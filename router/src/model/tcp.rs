//! The providers' TCP routers and services -> each entry point's TCP routes, as Traefik's
//! TCP router manager builds its muxers (`pkg/server/router/tcp/manager.go`). Pure.
//!
//! Per entry point two lists, highest priority first (then provider precedence, then name):
//! `plain` (routers without TLS: Traefik's `muxerTCP`) and `tls` (passthrough and
//! terminating routers: `muxerTCPTLS`). A router is disabled, with an error on its sources,
//! when its rule is empty or broken, its service or a middleware is missing, its priority is
//! too high, or its rule names a host (`HostSNI`, other than `*`) without TLS on the router
//! (a plain connection has no server name). A terminating router whose TLS options are
//! broken stays in the list, closing its connections, as in Traefik.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::dynamic::tcp::{
    TcpLoadBalancer, TcpMiddleware, TcpRouter, TcpServer, TcpServersTransport, TcpService,
};
use crate::dynamic::udp::UdpService;
use crate::dynamic::{self, Issue, Snapshot};
use crate::model::compile::{report, CompileSettings, MAX_USER_PRIORITY};
use crate::model::rule::tcp::{default_priority, TcpRule};
use crate::model::table::{ApiView, ElementInfo};
use crate::model::tls::{self, OptionSets};

/// Traefik's `terminationDelay` default.
pub const TERMINATION_DELAY: Duration = Duration::from_millis(100);

/// Every entry point's TCP routes.
#[derive(Debug, Clone, Default)]
pub struct TcpTable {
    /// By entry point name.
    pub entry_points: BTreeMap<String, TcpEntry>,
}

/// One entry point's TCP routes.
#[derive(Debug, Clone, Default)]
pub struct TcpEntry {
    /// Routers without TLS.
    pub plain: Vec<Arc<TcpRoute>>,
    /// Routers with TLS (passthrough or terminated here).
    pub tls: Vec<Arc<TcpRoute>>,
    /// HTTP routers with TLS are on the entry point too (a connection must be peeked at to
    /// tell whose it is).
    pub https: bool,
    /// One of them has no domain: it takes TLS connections before a TCP catch-all.
    pub https_catch_all: bool,
}

/// A TCP route.
#[derive(Debug)]
pub struct TcpRoute {
    /// `name@provider`.
    pub name: String,
    /// Its provider.
    pub provider: String,
    /// The rule as written.
    pub rule_text: String,
    /// The rule, parsed.
    pub rule: TcpRule,
    /// ``HostSNI(`*`)`` exactly: yields to any other match.
    pub catch_all: bool,
    /// Its priority.
    pub priority: i64,
    /// What is done with the connection's bytes.
    pub mode: TcpMode,
    /// Middlewares in order, by qualified name.
    pub middlewares: Vec<(String, TcpFilter)>,
    /// Where the connection goes.
    pub service: Arc<TcpTarget>,
    /// A terminating route's `tls.certResolver`: ACME orders its names.
    pub certresolver: Option<String>,
    /// Its `tls.domains` (each a main name and its SANs); empty: its `HostSNI` names.
    pub domains: Vec<Vec<String>>,
}

impl TcpRoute {
    /// The groups of names its cert resolver orders certificates for.
    pub fn cert_groups(&self) -> Vec<Vec<String>> {
        if self.domains.is_empty() {
            vec![self.rule.literal_names()]
        } else {
            self.domains.clone()
        }
    }
}

/// A TCP middleware, compiled: what a connection is checked against before it is relayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcpFilter {
    /// `ipAllowList`: the client's address must be in one of these.
    AllowList(Vec<ipnet::IpNet>),
    /// `inFlightConn`: at most this many open connections per client address.
    InFlight(i64),
}

impl TcpFilter {
    /// Whether an `ipAllowList` lets a client at `ip` in (other filters do).
    pub fn allows(&self, ip: std::net::IpAddr) -> bool {
        match self {
            TcpFilter::AllowList(nets) => nets.iter().any(|n| n.contains(&ip)),
            TcpFilter::InFlight(_) => true,
        }
    }

    fn compile(m: &TcpMiddleware) -> Result<TcpFilter, String> {
        Ok(match m {
            TcpMiddleware::IpAllowList(ranges) => {
                TcpFilter::AllowList(crate::model::rule::matcher::client_ips(ranges)?)
            }
            TcpMiddleware::InFlightConn(n) => TcpFilter::InFlight(*n),
        })
    }
}

/// What a route does with TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcpMode {
    /// No TLS: bytes relayed as they come.
    Plain,
    /// TLS relayed without decrypting (the backend terminates it).
    Passthrough,
    /// TLS terminated here with these options, the plaintext relayed.
    Terminate(String),
    /// TLS with options that cannot be used: the connection is closed.
    Broken,
}

/// A TCP (or UDP) service, compiled.
#[derive(Debug)]
pub enum TcpTarget {
    /// Servers taken in turn.
    Servers {
        /// Qualified name.
        name: String,
        /// Each `host:port`, and whether it is reached over TLS.
        servers: Vec<TcpServer>,
        /// How servers with TLS are verified (its servers transport's `tls`; none: the
        /// default, Mozilla's roots and the address's host as the name).
        tls: Arc<crate::dynamic::ServersTransport>,
        /// Its servers transport's `dialTimeout` (none: the router's connect timeout).
        dial_timeout: Option<Duration>,
        /// PROXY protocol version to send first.
        proxy_protocol: Option<u8>,
        /// How long the other direction may go on after one side closed (`None`: no limit).
        termination_delay: Option<Duration>,
        /// Its `healthCheck`.
        health: Option<crate::dynamic::tcp::TcpHealthCheck>,
        /// The next server's turn.
        next: AtomicUsize,
    },
    /// Services picked by weight.
    Weighted {
        /// Qualified name.
        name: String,
        /// The services and their weights (weight 0 never picked).
        parts: Vec<(Arc<TcpTarget>, u32)>,
        /// Where the weighted round robin is (see [`wrr_turn`]).
        turn: std::sync::Mutex<WrrTurn>,
    },
}

impl TcpTarget {
    /// Its qualified name.
    pub fn name(&self) -> &str {
        match self {
            TcpTarget::Servers { name, .. } | TcpTarget::Weighted { name, .. } => name,
        }
    }

    /// The next server for a connection, with the load balancer it belongs to: round robin
    /// over servers, weighted round robin over services. `None` when there is none.
    pub fn pick(&self) -> Option<(&TcpServer, &TcpTarget)> {
        self.pick_up(&|_, _| true)
    }

    /// [`Self::pick`] among the servers `up(service, address)` says are up.
    pub fn pick_up(&self, up: &dyn Fn(&str, &str) -> bool) -> Option<(&TcpServer, &TcpTarget)> {
        match self {
            TcpTarget::Servers {
                name,
                servers,
                next,
                ..
            } => {
                if servers.is_empty() {
                    return None;
                }
                let start = next.fetch_add(1, Ordering::Relaxed);
                (0..servers.len())
                    .map(|k| &servers[(start + k) % servers.len()])
                    .find(|s| up(name, &s.address))
                    .map(|s| (s, self))
            }
            TcpTarget::Weighted { parts, turn, .. } => {
                let weights: Vec<u32> = parts.iter().map(|(_, w)| *w).collect();
                // A service without a server up is passed over (its own checks apply).
                let i = wrr_turn(turn, &weights, |i| parts[i].0.has_up(up))?;
                parts[i].0.pick_up(up)
            }
        }
    }

    /// Whether a connection could be given a server `up` says is up.
    fn has_up(&self, up: &dyn Fn(&str, &str) -> bool) -> bool {
        match self {
            TcpTarget::Servers { name, servers, .. } => {
                servers.iter().any(|s| up(name, &s.address))
            }
            TcpTarget::Weighted { parts, .. } => parts.iter().any(|(t, w)| *w > 0 && t.has_up(up)),
        }
    }

    /// Its servers and settings, for the reload log.
    pub fn describe(&self) -> String {
        match self {
            TcpTarget::Servers {
                servers,
                tls,
                proxy_protocol,
                termination_delay,
                ..
            } => format!(
                "servers={} proxy={proxy_protocol:?} delay={termination_delay:?} tls={tls:?}",
                servers
                    .iter()
                    .map(|s| if s.tls {
                        format!("tls://{}", s.address)
                    } else {
                        s.address.clone()
                    })
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            TcpTarget::Weighted { parts, .. } => parts
                .iter()
                .map(|(t, w)| format!("{}*{w}", t.name()))
                .collect::<Vec<_>>()
                .join(","),
        }
    }
}

/// Where a weighted round robin is: the last part picked and the weight a part needs to be
/// picked in this round.
#[derive(Debug, Default)]
pub struct WrrTurn {
    last: Option<usize>,
    bar: u32,
}

/// The next of `weights` (by index) that `ok` accepts, as Traefik's TCP and UDP weighted
/// round robin takes turns: the parts in order, round after round, each round's bar lowered
/// by the weights' greatest common divisor from the largest weight down to it, a part taken
/// when its weight reaches the bar (weights 3 and 1 give `A A A B`, 5 and 2
/// `A A A A B A B`). Weight 0 is never taken; `None` when no part of weight above 0 is
/// accepted. Rounds in which no accepted part can reach the bar are skipped at once (they
/// would pick nothing).
pub fn wrr_turn(
    turn: &std::sync::Mutex<WrrTurn>,
    weights: &[u32],
    ok: impl Fn(usize) -> bool,
) -> Option<usize> {
    let top = (0..weights.len())
        .filter(|i| weights[*i] > 0 && ok(*i))
        .map(|i| weights[i])
        .max()?;
    let max = weights.iter().copied().max().unwrap_or(0);
    let gcd = weights.iter().fold(0, |a, b| gcd(a, *b));
    let mut t = turn
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // Within two rounds a part of weight `top` is taken (unless `ok` changed its mind).
    for _ in 0..=3 * weights.len() {
        let i = t.last.map_or(0, |l| (l + 1) % weights.len());
        t.last = Some(i);
        if i == 0 {
            t.bar = if t.bar > gcd { t.bar - gcd } else { max };
            // Weights, bar and top are multiples of gcd: no accepted part above top.
            t.bar = t.bar.min(top);
        }
        if t.bar > 0 && weights[i] >= t.bar && ok(i) {
            return Some(i);
        }
    }
    None
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

impl TcpTable {
    /// Whether entry point `ep` has TCP routes.
    pub fn entry(&self, ep: &str) -> Option<&TcpEntry> {
        self.entry_points
            .get(ep)
            .filter(|e| !e.plain.is_empty() || !e.tls.is_empty())
    }

    /// Marks the entry points that also have HTTPS routers (`routes`, settled).
    pub fn note_https(&mut self, routes: &[super::table::Route]) {
        for r in routes.iter().filter(|r| r.tls) {
            let catch_all = tls::domains(r).is_empty();
            for ep in &r.entrypoints {
                if let Some(e) = self.entry_points.get_mut(ep) {
                    e.https = true;
                    e.https_catch_all |= catch_all;
                }
            }
        }
    }

    /// Every server with a health check: (service, address, check), once each.
    pub fn health_checked(
        &self,
    ) -> std::collections::BTreeSet<(String, String, crate::dynamic::tcp::TcpHealthCheck)> {
        fn walk(
            t: &TcpTarget,
            out: &mut std::collections::BTreeSet<(
                String,
                String,
                crate::dynamic::tcp::TcpHealthCheck,
            )>,
        ) {
            match t {
                TcpTarget::Servers {
                    name,
                    servers,
                    health: Some(h),
                    ..
                } => {
                    for s in servers {
                        out.insert((name.clone(), s.address.clone(), h.clone()));
                    }
                }
                TcpTarget::Servers { .. } => {}
                TcpTarget::Weighted { parts, .. } => {
                    for (p, _) in parts {
                        walk(p, out);
                    }
                }
            }
        }
        let mut out = std::collections::BTreeSet::new();
        for e in self.entry_points.values() {
            for r in e.plain.iter().chain(&e.tls) {
                walk(&r.service, &mut out);
            }
        }
        out
    }

    /// Lines that describe the table, for the reload log and the comparison of tables.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut services = BTreeMap::new();
        for (ep, e) in &self.entry_points {
            for r in e.plain.iter().chain(&e.tls) {
                let mws: Vec<&str> = r.middlewares.iter().map(|(n, _)| n.as_str()).collect();
                out.push(format!(
                    "tcp route {} on {ep} [{}] prio={} mode={:?} mws={} -> {}",
                    r.name,
                    r.rule_text,
                    r.priority,
                    r.mode,
                    mws.join(","),
                    r.service.name()
                ));
                services.insert(r.service.name().to_owned(), r.service.describe());
            }
        }
        for (name, d) in services {
            out.push(format!("tcp service {name} {d}"));
        }
        out
    }
}

/// Builds every entry point's TCP routes from the snapshots (sorted by provider).
pub fn compile(
    snaps: &[&Snapshot],
    s: &CompileSettings,
    options: &OptionSets,
    issues: &mut Vec<Issue>,
    api: &mut ApiView,
) -> TcpTable {
    for snap in snaps {
        let tcp = &snap.config.tcp;
        for (n, d) in &tcp.services {
            let q = dynamic::qualify(n, &snap.provider);
            api.tcp_services.insert(q, ElementInfo::enabled(d.clone()));
        }
        for (n, d) in &tcp.middlewares {
            let q = dynamic::qualify(n, &snap.provider);
            api.tcp_middlewares
                .insert(q, ElementInfo::enabled(d.clone()));
        }
        for b in snap.broken.iter().filter(|b| b.kind.starts_with("tcp")) {
            let q = dynamic::qualify(&b.name, &snap.provider);
            let message = format!("{} {q:?}: {}", b.kind, b.error);
            report(issues, &[], None, "error", message);
            match b.kind {
                "tcpRouter" => disable(&mut api.tcp_routers, &q, &b.error),
                "tcpService" => disable(&mut api.tcp_services, &q, &b.error),
                _ => disable(&mut api.tcp_middlewares, &q, &b.error),
            }
        }
    }
    let mut services = Services::new(snaps, false);
    let mut table = TcpTable::default();
    for snap in snaps {
        for (name, r) in &snap.config.tcp.routers {
            let q = dynamic::qualify(name, &snap.provider);
            let mut info = ElementInfo::enabled(r.clone());
            let built = match route(&q, r, (snap, snaps), s, options, &mut services) {
                Ok(b) => b,
                Err(e) => {
                    disable(&mut api.tcp_routers, &q, &e);
                    if let Some(i) = api.tcp_routers.get_mut(&q) {
                        i.def = Some(r.clone());
                    }
                    let message = format!("{e}; TCP router disabled");
                    report(issues, &r.sources, None, "error", message);
                    continue;
                }
            };
            info.using.clone_from(&built.entry_points);
            if let Some(svc) = api.tcp_services.get_mut(built.route.service.name()) {
                svc.using.push(q.clone());
            }
            for (m, _) in &built.route.middlewares {
                if let Some(mw) = api.tcp_middlewares.get_mut(m) {
                    mw.using.push(q.clone());
                }
            }
            for w in built.warnings {
                info.status = "warning";
                info.errors.push(w.clone());
                report(issues, &r.sources, None, "warning", w);
            }
            api.tcp_routers.insert(q.clone(), info);
            let route = Arc::new(built.route);
            for ep in built.entry_points {
                let entry = table.entry_points.entry(ep).or_default();
                match route.mode {
                    TcpMode::Plain => entry.plain.push(route.clone()),
                    _ => entry.tls.push(route.clone()),
                }
            }
        }
    }
    let names: Vec<String> = api.tcp_services.keys().cloned().collect();
    for q in names {
        if let (Err(e), Some(i)) = (services.get(&q), api.tcp_services.get_mut(&q)) {
            i.status = "disabled";
            i.errors.push(e);
        }
    }
    issues.extend(services.take_errors());
    for entry in table.entry_points.values_mut() {
        entry.plain.sort_by(order);
        entry.tls.sort_by(order);
    }
    table
}

/// Marks element `q` disabled for `error` (creating it when its definition could not be read).
pub(super) fn disable<T>(map: &mut BTreeMap<String, ElementInfo<T>>, q: &str, error: &str) {
    let info = map.entry(q.to_owned()).or_insert_with(|| ElementInfo {
        def: None,
        status: "disabled",
        errors: Vec::new(),
        using: Vec::new(),
    });
    info.status = "disabled";
    info.errors.push(error.to_owned());
}

fn order(a: &Arc<TcpRoute>, b: &Arc<TcpRoute>) -> std::cmp::Ordering {
    let precedence = super::compile::precedence;
    b.priority
        .cmp(&a.priority)
        .then_with(|| precedence(&a.provider).cmp(&precedence(&b.provider)))
        .then_with(|| a.name.cmp(&b.name))
}

/// A router compiled: its route, the entry points it is on, what is wrong but not fatal.
struct Built {
    route: TcpRoute,
    entry_points: Vec<String>,
    warnings: Vec<String>,
}

fn route(
    q: &str,
    r: &TcpRouter,
    (snap, snaps): (&Snapshot, &[&Snapshot]),
    s: &CompileSettings,
    options: &OptionSets,
    services: &mut Services<'_>,
) -> Result<Built, String> {
    let provider = &snap.provider;
    let mut warnings = Vec::new();
    let wanted: Vec<String> = if r.entry_points.is_empty() {
        let defaults = s.entry_points.iter().filter(|e| e.default);
        defaults.map(|e| e.name.clone()).collect()
    } else {
        r.entry_points.clone()
    };
    let mut entry_points = Vec::new();
    for ep in wanted {
        if s.entry_points.iter().any(|e| e.name == ep && !e.udp) {
            entry_points.push(ep);
        } else {
            let known: Vec<&str> = s.entry_points.iter().map(|e| e.name.as_str()).collect();
            warnings.push(format!(
                "TCP router {q:?}: entry point {ep:?} does not exist (known: {})",
                known.join(", ")
            ));
        }
    }
    if entry_points.is_empty() {
        return Err(format!("TCP router {q:?} has no valid entry point"));
    }
    if r.service.is_empty() {
        return Err(format!(
            "TCP router {q:?}: the service is missing on the router"
        ));
    }
    if r.rule.is_empty() {
        return Err(format!("TCP router {q:?} has no rule"));
    }
    let syntax = r.rule_syntax.unwrap_or(s.default_rule_syntax);
    let rule = TcpRule::parse_with(&r.rule, syntax)
        .map_err(|e| format!("TCP router {q:?}: invalid rule: {e}"))?;
    let snis = rule.host_snis();
    if r.tls.is_none() && snis.first().is_some_and(|h| h != "*") {
        return Err(format!(
            "TCP router {q:?}: invalid rule {:?}: it has a HostSNI matcher but no TLS on the router (a connection without TLS has no server name)",
            r.rule
        ));
    }
    let priority = match r.priority {
        0 => default_priority(&rule, &r.rule),
        p => p,
    };
    if priority > MAX_USER_PRIORITY && provider != "internal" {
        return Err(format!(
            "TCP router {q:?}: priority {priority} exceeds the highest one a router may have ({MAX_USER_PRIORITY})"
        ));
    }
    let service = services
        .get(&dynamic::resolve(&r.service, provider))
        .map_err(|e| format!("TCP router {q:?}: {e}"))?;
    let mut middlewares = Vec::new();
    for m in &r.middlewares {
        let mq = dynamic::resolve(m, provider);
        let def = middleware(snaps, &mq).ok_or_else(|| {
            format!(
                "TCP router {q:?} uses TCP middleware {mq:?}, which does not exist or is broken"
            )
        })?;
        let filter = TcpFilter::compile(&def).map_err(|e| format!("TCP router {q:?}: {e}"))?;
        middlewares.push((mq, filter));
    }
    let mode = match &r.tls {
        None => TcpMode::Plain,
        Some(t) if t.passthrough => TcpMode::Passthrough,
        Some(t) => {
            let name = tls::reference(&t.options, provider);
            match tls::check(options, &name) {
                Ok(()) => TcpMode::Terminate(name),
                Err(e) => {
                    warnings.push(format!("TCP router {q:?} {e}: its connections are closed"));
                    TcpMode::Broken
                }
            }
        }
    };
    let terminated = matches!(mode, TcpMode::Terminate(_));
    let tls = r.tls.as_ref().filter(|_| terminated);
    let certresolver = tls
        .map(|t| t.cert_resolver.clone())
        .filter(|c| !c.is_empty());
    let domains = tls
        .iter()
        .flat_map(|t| &t.domains)
        .map(|d| d.names().collect::<Vec<_>>())
        .filter(|n| !n.is_empty())
        .collect();
    Ok(Built {
        route: TcpRoute {
            certresolver,
            domains,
            name: q.to_owned(),
            provider: provider.clone(),
            rule_text: r.rule.clone(),
            catch_all: rule.is_catch_all(),
            rule,
            priority,
            mode,
            middlewares,
            service,
        },
        entry_points,
        warnings,
    })
}

/// A TCP middleware by qualified name.
fn middleware(snaps: &[&Snapshot], q: &str) -> Option<TcpMiddleware> {
    let (name, provider) = q.rsplit_once('@')?;
    let snap = snaps.iter().find(|s| s.provider == provider)?;
    snap.config.tcp.middlewares.get(name).cloned()
}

/// The TCP (or UDP) services, compiled once each on first use.
pub(super) struct Services<'a> {
    udp: bool,
    snaps: &'a [&'a Snapshot],
    built: BTreeMap<String, Result<Arc<TcpTarget>, String>>,
    errors: Vec<Issue>,
}

impl<'a> Services<'a> {
    /// Over the snapshots' TCP services, or their UDP services.
    pub(super) fn new(snaps: &'a [&'a Snapshot], udp: bool) -> Self {
        Services {
            udp,
            snaps,
            built: BTreeMap::new(),
            errors: Vec::new(),
        }
    }

    fn kind(&self) -> &'static str {
        if self.udp {
            "UDP"
        } else {
            "TCP"
        }
    }

    /// The errors met, once each.
    pub(super) fn take_errors(&mut self) -> Vec<Issue> {
        std::mem::take(&mut self.errors)
    }

    /// Service `q` (qualified), or why it cannot be used.
    pub(super) fn get(&mut self, q: &str) -> Result<Arc<TcpTarget>, String> {
        let mut visiting = BTreeSet::new();
        self.build(q, &mut visiting)
    }

    fn build(
        &mut self,
        q: &str,
        visiting: &mut BTreeSet<String>,
    ) -> Result<Arc<TcpTarget>, String> {
        if let Some(done) = self.built.get(q) {
            return done.clone();
        }
        if !visiting.insert(q.to_owned()) {
            return Err(format!("{} service {q:?} includes itself", self.kind()));
        }
        let result = self.compile(q, visiting);
        visiting.remove(q);
        if let Err(e) = &result {
            if !e.contains("does not exist") {
                let message = format!("{e}; {} service disabled", self.kind());
                report(&mut self.errors, &[], None, "error", message);
            }
        }
        self.built.insert(q.to_owned(), result.clone());
        result
    }

    /// Service `q`'s definition, a UDP one in the TCP shape (no PROXY header, no delay).
    fn definition(&self, q: &str) -> Option<TcpService> {
        let (name, provider) = q.rsplit_once('@')?;
        let snap = self.snaps.iter().find(|s| s.provider == provider)?;
        if !self.udp {
            return snap.config.tcp.services.get(name).cloned();
        }
        Some(match snap.config.udp.services.get(name)? {
            UdpService::LoadBalancer(servers) => TcpService::LoadBalancer(TcpLoadBalancer {
                servers: servers
                    .iter()
                    .map(|a| TcpServer {
                        address: a.clone(),
                        tls: false,
                    })
                    .collect(),
                proxy_protocol: None,
                termination_delay: Some(-1),
                servers_transport: String::new(),
                health_check: None,
            }),
            UdpService::Weighted(w) => TcpService::Weighted(w.clone()),
        })
    }

    /// The TCP servers transport a load balancer names (written in `provider`), if any.
    fn transport(&self, name: &str, provider: &str) -> Result<Option<TcpServersTransport>, String> {
        if name.is_empty() {
            return Ok(None);
        }
        let q = dynamic::resolve(name, provider);
        // The static one (Traefik's internal provider's `default`): the router's defaults.
        if q == super::compile::DEFAULT_TRANSPORT {
            return Ok(None);
        }
        let found = q.rsplit_once('@').and_then(|(n, p)| {
            let snap = self.snaps.iter().find(|s| s.provider == p)?;
            snap.config.tcp.servers_transports.get(n).cloned()
        });
        match found {
            Some(t) => Ok(Some(t)),
            None => Err(format!(
                "servers transport {q:?} does not exist or is broken"
            )),
        }
    }

    fn compile(
        &mut self,
        q: &str,
        visiting: &mut BTreeSet<String>,
    ) -> Result<Arc<TcpTarget>, String> {
        let kind = self.kind();
        let def = self
            .definition(q)
            .ok_or_else(|| format!("{kind} service {q:?} does not exist or is broken"))?;
        let provider = q.rsplit_once('@').map_or("", |(_, p)| p);
        Ok(Arc::new(match def {
            TcpService::LoadBalancer(lb) => {
                let transport = self.transport(&lb.servers_transport, provider)?;
                // As Traefik: a named transport's delay and PROXY protocol replace the load
                // balancer's (deprecated) ones.
                let (delay, proxy) = match &transport {
                    Some(t) => (t.termination_delay, t.proxy_protocol),
                    None => (lb.termination_delay, lb.proxy_protocol),
                };
                let transport = transport.unwrap_or_default();
                TcpTarget::Servers {
                    name: q.to_owned(),
                    servers: lb.servers.clone(),
                    tls: Arc::new(transport.tls.unwrap_or_default()),
                    dial_timeout: transport.dial_timeout,
                    proxy_protocol: proxy,
                    health: lb.health_check.clone(),
                    termination_delay: match delay {
                        None => Some(TERMINATION_DELAY),
                        Some(ms) => u64::try_from(ms).ok().map(Duration::from_millis),
                    },
                    next: AtomicUsize::new(0),
                }
            }
            TcpService::Weighted(list) => {
                let mut parts = Vec::new();
                for w in list {
                    let sub = dynamic::resolve(&w.name, provider);
                    let t = self
                        .build(&sub, visiting)
                        .map_err(|e| format!("{kind} service {q:?}: {e}"))?;
                    parts.push((t, w.weight));
                }
                TcpTarget::Weighted {
                    name: q.to_owned(),
                    parts,
                    turn: Default::default(),
                }
            }
        }))
    }
}

/// Traefik's `pkg/tcp/wrr_load_balancer_test.go` and the TCP `ipWhiteList` (and
/// `ipAllowList`) middleware's `ip_whitelist_test.go`, translated: which service of a
/// `weighted` TCP service takes each connection ([`TcpTarget::pick_up`]; `None` is Traefik's
/// closed connection), and which clients a decoded, compiled allow list lets in. Traefik's
/// handlers `h1`, `first`... are services of one server each here, "down" their server
/// failing its check.
#[cfg(test)]
// The tables are tuples of plain data.
#[allow(clippy::type_complexity)]
mod traefik_tables {
    use super::*;

    fn servers(name: &str, addresses: &[&str]) -> Arc<TcpTarget> {
        Arc::new(TcpTarget::Servers {
            name: name.to_owned(),
            servers: addresses
                .iter()
                .map(|a| crate::dynamic::tcp::TcpServer {
                    address: (*a).to_owned(),
                    tls: false,
                })
                .collect(),
            tls: Arc::default(),
            dial_timeout: None,
            proxy_protocol: None,
            termination_delay: None,
            health: None,
            next: AtomicUsize::new(0),
        })
    }

    fn weighted(parts: Vec<(Arc<TcpTarget>, u32)>) -> TcpTarget {
        TcpTarget::Weighted {
            name: "top".into(),
            parts,
            turn: Default::default(),
        }
    }

    /// `n` connections: the server each goes to (`-` when closed), `down` servers failing.
    fn picks(t: &TcpTarget, n: usize, down: &[&str]) -> Vec<String> {
        let up = |_: &str, a: &str| !down.contains(&a);
        (0..n)
            .map(|_| {
                t.pick_up(&up)
                    .map_or("-".into(), |(s, _)| s.address.clone())
            })
            .collect()
    }

    fn counts(p: &[String]) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for s in p {
            *m.entry(s.clone()).or_insert(0) += 1;
        }
        m
    }

    /// A weighted service over one-server services named as their server.
    fn over(weights: &[(&str, u32)]) -> TcpTarget {
        weighted(
            weights
                .iter()
                .map(|(s, w)| (servers(s, &[s]), *w))
                .collect(),
        )
    }

    #[test]
    fn load_balancing() {
        // TestWRRLoadBalancer_LoadBalancing: (case, weights, connections, per server;
        // `-`: closed).
        let table: &[(&str, &[(&str, u32)], usize, &[(&str, usize)])] = &[
            (
                "RoundRobin",
                &[("h1", 1), ("h2", 1)],
                4,
                &[("h1", 2), ("h2", 2)],
            ),
            (
                "WeighedRoundRobin",
                &[("h1", 3), ("h2", 1)],
                4,
                &[("h1", 3), ("h2", 1)],
            ),
            (
                "WeighedRoundRobin with more call",
                &[("h1", 3), ("h2", 1)],
                16,
                &[("h1", 12), ("h2", 4)],
            ),
            (
                "WeighedRoundRobin with one 0 weight server",
                &[("h1", 3), ("h2", 0)],
                16,
                &[("h1", 16)],
            ),
            (
                "WeighedRoundRobin with all servers with 0 weight",
                &[("h1", 0), ("h2", 0), ("h3", 0)],
                10,
                &[("-", 10)],
            ),
        ];
        for (case, weights, n, want) in table {
            let got = counts(&picks(&over(weights), *n, &[]));
            let want: BTreeMap<String, usize> =
                want.iter().map(|(s, c)| ((*s).to_owned(), *c)).collect();
            assert_eq!(got, want, "{case}");
        }
    }

    #[test]
    fn order_of_turns() {
        // Traefik's turns (its nextServer, by the weights' gcd from the largest weight
        // down), which the counts above leave open: (weights of A, B, C; down; turns).
        let table: &[(&[u32], &[&str], &str)] = &[
            (&[1, 1], &[], "ABABAB"),
            (&[3, 1], &[], "AAABAAAB"),
            (&[2, 2], &[], "ABABABAB"),
            (&[5, 2], &[], "AAAABABAAAABAB"),
            (&[11, 3], &[], "AAAAAAAAABABAB"),
            (&[1, 3, 2], &[], "BBCABCBBCABC"),
            (&[1, 3, 2], &["B"], "CACCACCACCAC"),
            (&[3, 1], &["A"], "BBBB"),
        ];
        for (weights, down, want) in table {
            let names = ["A", "B", "C"];
            let t = over(
                &weights
                    .iter()
                    .enumerate()
                    .map(|(i, w)| (names[i], *w))
                    .collect::<Vec<_>>(),
            );
            let got: String = picks(&t, want.len(), down).concat();
            assert_eq!(got, *want, "{weights:?} down {down:?}");
        }
    }

    #[test]
    fn down_servers() {
        let first_second = || over(&[("first", 1), ("second", 1)]);
        // TestWRRLoadBalancer_NoServiceUp: the connection is closed.
        assert_eq!(picks(&first_second(), 1, &["first", "second"]), ["-"]);
        // TestWRRLoadBalancer_OneServerDown.
        assert_eq!(picks(&first_second(), 3, &["second"]), ["first"; 3]);
        // TestWRRLoadBalancer_DownThenUp.
        let t = first_second();
        assert_eq!(picks(&t, 3, &["second"]), ["first"; 3]);
        let after = counts(&picks(&t, 2, &[]));
        assert_eq!((after["first"], after["second"]), (1, 1));
    }

    #[test]
    fn propagate() {
        // TestWRRLoadBalancer_Propagate: top over balancer1 (first, second) and balancer2
        // (third, fourth), all weight 1; 8 connections per step: (down, per server).
        let top = weighted(vec![
            (servers("balancer1", &["first", "second"]), 1),
            (servers("balancer2", &["third", "fourth"]), 1),
        ]);
        let table: &[(&[&str], [usize; 4])] = &[
            (&[], [2, 2, 2, 2]),
            (&["fourth"], [2, 2, 4, 0]),
            (&["fourth", "third"], [4, 4, 0, 0]),
        ];
        for (down, want) in table {
            let c = counts(&picks(&top, 8, down));
            let got =
                ["first", "second", "third", "fourth"].map(|s| c.get(s).copied().unwrap_or(0));
            assert_eq!(got, *want, "down {down:?}");
        }
    }

    /// The TCP middleware `yaml` (under `tcp.middlewares.m`) decoded and compiled, or the
    /// error.
    fn filter(yaml: &str) -> Result<TcpFilter, String> {
        let doc = format!("tcp:\n  middlewares:\n    m:\n{yaml}");
        let snap = crate::provider::file::snapshot_of_yaml(&doc);
        match snap.config.tcp.middlewares.get("m") {
            Some(m) => TcpFilter::compile(m),
            None => Err(format!("{:?}", snap.issues)),
        }
    }

    #[test]
    fn new_ip_white_lister() {
        // TestNewIPWhiteLister (pkg/middlewares/tcp/ipwhitelist, and ipallowlist's):
        // (case, middleware, error naming these).
        let table: &[(&str, &str, Result<(), &[&str]>)] = &[
            (
                "Empty config",
                "      ipWhiteList: {}\n",
                Err(&["ipWhiteList", "sourceRange"]),
            ),
            (
                "invalid IP",
                "      ipWhiteList:\n        sourceRange: [foo]\n",
                Err(&["foo"]),
            ),
            (
                "valid IP",
                "      ipWhiteList:\n        sourceRange: [10.10.10.10]\n",
                Ok(()),
            ),
            (
                "Empty config",
                "      ipAllowList: {}\n",
                Err(&["ipAllowList", "sourceRange"]),
            ),
            (
                "valid IP",
                "      ipAllowList:\n        sourceRange: [10.10.10.10]\n",
                Ok(()),
            ),
        ];
        for (case, yaml, want) in table {
            match (filter(yaml), want) {
                (Ok(_), Ok(())) => {}
                (Err(e), Err(words)) => {
                    assert!(words.iter().all(|w| e.contains(w)), "{case}: {e}")
                }
                (got, _) => panic!("{case} {yaml}: {got:?}"),
            }
        }
    }

    #[test]
    fn ip_white_lister_serve_tcp() {
        // TestIPWhiteLister_ServeHTTP (TCP): (case, client, let in).
        let table: &[(&str, &str, bool)] = &[
            ("authorized with remote address", "20.20.20.20", true),
            ("non authorized with remote address", "20.20.20.21", false),
        ];
        for kind in ["ipWhiteList", "ipAllowList"] {
            let f = filter(&format!(
                "      {kind}:\n        sourceRange: [20.20.20.20]\n"
            ))
            .expect("valid");
            for (case, client, want) in table {
                let ip = client.parse().expect("an address");
                assert_eq!(f.allows(ip), *want, "{kind}: {case}");
            }
        }
    }
}
