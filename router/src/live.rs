//! The table in service: a pure [`RouteTable`] plus the runtime state that must survive table
//! swaps (round-robin and weighted positions, requests in flight, passive and active health marks, rate
//! limit buckets). The state lives in a registry keyed by service and address; attaching a new
//! table looks its entries up (or creates them) and prunes what is gone.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::config::Balancer;
use crate::dynamic::Strategy;
use crate::model::table::{Backend, RouteTable};

/// How long a backend that refused a connection is skipped before it is tried again, at the
/// first refusal. Each further refusal in a row doubles it, up to [`PASSIVE_COOLDOWN_MAX`]; a
/// connection that succeeds starts over. A container is routed as soon as Docker says it runs,
/// which can be a few milliseconds before its process listens: that first refusal must not
/// cost seconds, while a backend that keeps refusing is soon left alone.
pub const PASSIVE_COOLDOWN: Duration = Duration::from_millis(100);
/// The longest passive cooldown.
pub const PASSIVE_COOLDOWN_MAX: Duration = Duration::from_secs(2);
/// How long a backend whose host went silent is skipped ([`Registry::mark_silent`]).
pub const SILENT_COOLDOWN: Duration = Duration::from_secs(10);

/// Services with runtime state by name: a persistent map, so that the state of a table
/// patched from another shares every service it did not change (a copy of 10,000 was most of
/// attaching such a table's state, and freeing the copy replaced as much again).
pub type LiveServices = imbl::HashMap<String, Arc<LiveService>>;

/// The table and its runtime state, swapped as one.
#[derive(Debug, Default)]
pub struct Live {
    /// The pure table.
    pub table: RouteTable,
    /// Services with runtime state, by name.
    pub services: LiveServices,
}

/// A service in service.
#[derive(Debug)]
pub struct LiveService {
    /// Its backends.
    pub backends: Vec<LiveBackend>,
    rr: Arc<AtomicUsize>,
    /// Weighted picks: among the backends when they have weights, among the services of a
    /// `weighted` service.
    pub edf: Arc<crate::weighted::Edf>,
    /// Whether its backends have weights other than 1.
    weighted: bool,
    /// Its `loadBalancer.strategy`.
    strategy: Strategy,
    /// `leasttime`'s tie-break deadlines (only with that strategy).
    deadlines: Option<Mutex<crate::strategy::Deadlines>>,
    /// The registry's seed for `p2c`'s draws (each draw mixes it with the `rr` counter).
    seed: u64,
}

/// A backend with its runtime state.
#[derive(Debug, Clone)]
pub struct LiveBackend {
    /// What the table says.
    pub def: Backend,
    /// What the proxy has seen.
    pub state: Arc<BackendState>,
}

/// Runtime marks on one backend.
#[derive(Debug, Default)]
pub struct BackendState {
    /// Milliseconds since the registry's epoch until which the backend is skipped.
    down_until: AtomicU64,
    /// Refused connections in a row.
    refusals: std::sync::atomic::AtomicU32,
    /// The active health check's last verdict (`true` = failing).
    pub check_failed: AtomicBool,
    /// Requests in flight.
    pub inflight: AtomicUsize,
    /// Requests sent to it (each attempt), since it appeared.
    pub requests: AtomicU64,
    /// Those that failed: no answer (refused, reset, timed out) or a 5xx.
    pub errors: AtomicU64,
    /// Its times to the answer's head, kept once a `leasttime` service has it (a backend of
    /// another strategy reads no clock for them).
    pub ttfb: std::sync::OnceLock<Box<crate::strategy::Ttfb>>,
    /// Samples of (`requests`, `errors`) taken when the dashboard's API reads them, so that it
    /// can show a recent error rate without a timer per backend (see [`BackendState::recent`]).
    samples: Mutex<std::collections::VecDeque<(Instant, u64, u64)>>,
}

/// How far back [`BackendState::recent`] looks.
pub const RECENT: Duration = Duration::from_secs(60);

impl BackendState {
    /// Requests and errors over about the last [`RECENT`] (from the oldest sample kept within
    /// it; within a minute of the first read, everything since the backend appeared), and the
    /// seconds since that sample.
    pub fn recent(&self, now: Instant) -> (u64, u64, f64) {
        let requests = self.requests.load(Ordering::Relaxed);
        let errors = self.errors.load(Ordering::Relaxed);
        let mut samples = self.samples.lock().unwrap_or_else(PoisonError::into_inner);
        if samples.is_empty() {
            // The first read: what came before counts as recent until a minute has passed.
            samples.push_back((now, 0, 0));
        }
        while samples.len() > 1 && samples.get(1).is_some_and(|s| now - s.0 >= RECENT) {
            samples.pop_front();
        }
        let out = match samples.front() {
            Some(&(at, r, e)) if now - at <= RECENT + RECENT => (
                requests.saturating_sub(r),
                errors.saturating_sub(e),
                (now - at).as_secs_f64(),
            ),
            _ => (requests, errors, 0.0),
        };
        if samples.back().is_none_or(|s| now - s.0 >= RECENT / 6) {
            samples.push_back((now, requests, errors));
        }
        out
    }
}

/// Runtime state across swaps.
#[derive(Debug)]
pub struct Registry {
    epoch: Instant,
    /// Seeds `p2c`'s draws (random per process, as Traefik seeds its source with the clock).
    seed: u64,
    /// Each service's state by name, kept across swaps for the services the new table still
    /// has (updated in place: a swap of 10,000 services allocates only for the new ones).
    kept: Mutex<Kept>,
    buckets: Mutex<Buckets>,
}

/// Rate limit buckets by middleware in use and source (std's hasher: sources are chosen by
/// clients).
type Buckets = hashbrown::HashMap<BucketKey, Bucket, std::collections::hash_map::RandomState>;

/// A rate limit bucket's key: the middleware in use ([`crate::middleware::InUse`]'s fields)
/// and the request's source.
#[derive(Debug, PartialEq, Eq, Hash)]
struct BucketKey {
    router: String,
    middleware: String,
    nth: usize,
    source: String,
}

/// A [`BucketKey`] borrowed from the request (the same fields in the same order: the same
/// hash), so a request finds its bucket without copying anything.
#[derive(Debug, Clone, Copy, Hash)]
pub struct BucketOf<'a> {
    /// The router (`InUse::router`).
    pub router: &'a str,
    /// The middleware (`InUse::middleware`).
    pub middleware: &'a str,
    /// Its place among the router's middlewares of that name (`InUse::nth`).
    pub nth: usize,
    /// The request's source (`sourceCriterion`).
    pub source: &'a str,
}

impl hashbrown::Equivalent<BucketKey> for BucketOf<'_> {
    fn equivalent(&self, k: &BucketKey) -> bool {
        self.nth == k.nth
            && self.router == k.router
            && self.middleware == k.middleware
            && self.source == k.source
    }
}

impl From<&BucketOf<'_>> for BucketKey {
    fn from(b: &BucketOf<'_>) -> BucketKey {
        BucketKey {
            router: b.router.to_owned(),
            middleware: b.middleware.to_owned(),
            nth: b.nth,
            source: b.source.to_owned(),
        }
    }
}

/// The runtime state of the services of the table in service, and the swap that last saw each.
#[derive(Debug, Default)]
struct Kept {
    swap: u64,
    services: HashMap<String, KeptService>,
}

/// A service's runtime state: its balancer's counters, and each backend's state by URL.
#[derive(Debug, Default)]
struct KeptService {
    seen: u64,
    rr: Arc<AtomicUsize>,
    edf: Arc<crate::weighted::Edf>,
    backends: HashMap<String, (u64, Arc<BackendState>)>,
}

/// A source's token bucket, with the rate and size it was made for.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
    rate: f64,
    burst: u64,
    /// When it is forgotten (a new one starts full), in whole seconds since the Unix epoch:
    /// its source's last request plus [`bucket_ttl`], as Traefik's map of buckets keeps them.
    expires: u64,
}

/// How long, in whole seconds, a source's bucket outlives its last request: Traefik's ttl, one
/// second plus the time a full bucket takes to give one token at a rate under 1 per second, or
/// one more second at higher rates.
fn bucket_ttl(rate: f64) -> u64 {
    match rate {
        r if r >= 1.0 => 2,
        // Truncated, as Go's `int(1 / rtl)`.
        r if r > 0.0 => 1 + (1.0 / r) as u64,
        _ => 1,
    }
}

/// Whole seconds since the Unix epoch (Traefik's map counts expiries in them).
fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Default for Registry {
    fn default() -> Self {
        use std::hash::{BuildHasher, Hasher};
        Registry {
            epoch: Instant::now(),
            seed: std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish(),
            kept: Mutex::default(),
            buckets: Mutex::default(),
        }
    }
}

// === impl Registry ===

impl Registry {
    /// Attaches runtime state to a new table and forgets state of what it no longer has.
    pub fn attach(&self, table: RouteTable) -> Live {
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        kept.swap += 1;
        let swap = kept.swap;
        let mut services = LiveServices::default();
        for (name, svc) in &table.services {
            services.insert(
                name.clone(),
                Arc::new(self.live(&mut kept, name, svc, swap)),
            );
        }
        // What the new table no longer has is forgotten: a service or backend that comes
        // back starts afresh.
        kept.services.retain(|_, k| {
            k.backends.retain(|_, (seen, _)| *seen == swap);
            k.seen == swap
        });
        Live { table, services }
    }

    /// [`Self::attach`] for a table that follows `prev`'s: when it was patched from it
    /// ([`crate::model::compile::next_for_service`]), only the services the patch changed are
    /// attached again, the others' state shared with `prev`'s (at 10,000 services, every
    /// service attached again was milliseconds at every container started). The same state
    /// either way.
    pub fn attach_after(&self, prev: &Live, table: RouteTable) -> Live {
        let Some(changed) = table.patched_services_from(&prev.table) else {
            return self.attach(table);
        };
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        kept.swap += 1;
        let swap = kept.swap;
        let mut services = prev.services.clone();
        for name in changed {
            services.remove(name);
            match table.services.get(name) {
                Some(svc) => {
                    let live = self.live(&mut kept, name, svc, swap);
                    services.insert(name.clone(), Arc::new(live));
                    if let Some(k) = kept.services.get_mut(name.as_str()) {
                        k.backends.retain(|_, (seen, _)| *seen == swap);
                    }
                }
                None => drop(kept.services.remove(name.as_str())),
            }
        }
        Live { table, services }
    }

    /// Service `name`'s runtime state for the table of swap number `swap`: its counters and
    /// its backends' state carried over from the ones kept, each marked as seen in it.
    fn live(
        &self,
        kept: &mut Kept,
        name: &str,
        svc: &crate::model::table::Service,
        swap: u64,
    ) -> LiveService {
        let k = match kept.services.get_mut(name) {
            Some(k) => k,
            None => kept.services.entry(name.to_owned()).or_default(),
        };
        k.seen = swap;
        let live_backends = svc
            .backends
            .iter()
            .map(|b| {
                let state = match &b.target {
                    Some(_) => {
                        let entry = match k.backends.get_mut(b.url.as_str()) {
                            Some(e) => e,
                            None => k.backends.entry(b.url.clone()).or_default(),
                        };
                        entry.0 = swap;
                        entry.1.clone()
                    }
                    None => Arc::default(),
                };
                LiveBackend {
                    def: b.clone(),
                    state,
                }
            })
            .collect::<Vec<_>>();
        let deadlines = (svc.strategy == Strategy::LeastTime).then(|| {
            for b in &live_backends {
                b.state.ttfb.get_or_init(Box::default);
            }
            Mutex::new(crate::strategy::Deadlines::new(&live_backends))
        });
        LiveService {
            backends: live_backends,
            rr: k.rr.clone(),
            edf: k.edf.clone(),
            weighted: svc.backends.iter().any(|b| b.weight != 1),
            strategy: svc.strategy,
            deadlines,
            seed: self.seed,
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Marks a backend as refusing connections: skipped for [`PASSIVE_COOLDOWN`], doubled for
    /// each refusal in a row up to [`PASSIVE_COOLDOWN_MAX`].
    pub fn mark_down(&self, state: &BackendState) {
        let row = state.refusals.fetch_add(1, Ordering::Relaxed).min(16);
        let cooldown = (PASSIVE_COOLDOWN.as_millis() as u64)
            .saturating_mul(1 << row)
            .min(PASSIVE_COOLDOWN_MAX.as_millis() as u64);
        state
            .down_until
            .store(self.now_ms() + cooldown, Ordering::Relaxed);
    }

    /// Marks a backend whose host went silent (a connect or an answer that timed out: a lost
    /// node) as skipped for [`SILENT_COOLDOWN`]: its next request would wait as long again.
    pub fn mark_silent(&self, state: &BackendState) {
        state.refusals.store(16, Ordering::Relaxed);
        state.down_until.store(
            self.now_ms() + SILENT_COOLDOWN.as_millis() as u64,
            Ordering::Relaxed,
        );
    }

    /// Notes that a backend took a connection: its next refusal starts a short cooldown again.
    pub fn mark_up(&self, state: &BackendState) {
        if state.refusals.load(Ordering::Relaxed) != 0 {
            state.refusals.store(0, Ordering::Relaxed);
        }
    }

    /// Whether a backend may take a new request now.
    pub fn usable(&self, b: &LiveBackend) -> bool {
        b.def.status.is_ready()
            && b.def.target.is_some()
            && !b.state.check_failed.load(Ordering::Relaxed)
            && b.state.down_until.load(Ordering::Relaxed) <= self.now_ms()
    }

    /// Whether a backend is in its passive cooldown.
    pub fn is_cooling_down(&self, b: &LiveBackend) -> bool {
        b.state.down_until.load(Ordering::Relaxed) > self.now_ms()
    }

    /// Picks a backend of a service for a request from `client`, skipping `exclude` (the URL
    /// of one already tried): by the service's strategy, and for `wrr` by `balancer`.
    pub fn pick<'a>(
        &self,
        svc: &'a LiveService,
        balancer: Balancer,
        exclude: Option<&str>,
        client: IpAddr,
    ) -> Option<&'a LiveBackend> {
        let ok = |b: &&LiveBackend| self.usable(b) && Some(b.def.url.as_str()) != exclude;
        match svc.strategy {
            Strategy::Wrr => {}
            Strategy::P2c => {
                let draw = svc.seed ^ svc.rr.fetch_add(1, Ordering::Relaxed) as u64;
                return crate::strategy::p2c(&svc.backends, draw, ok);
            }
            Strategy::Hrw => return crate::strategy::hrw(&svc.backends, client, ok),
            Strategy::LeastTime => {
                let deadlines = svc.deadlines.as_ref()?;
                return crate::strategy::least_time(&svc.backends, deadlines, ok);
            }
        }
        match balancer {
            Balancer::RoundRobin if svc.weighted => {
                let weights: Vec<u32> = svc.backends.iter().map(|b| b.def.weight).collect();
                let i = svc.edf.pick(&weights, |i| ok(&&svc.backends[i]))?;
                Some(&svc.backends[i])
            }
            Balancer::RoundRobin => {
                let n = svc.backends.len();
                if n == 0 {
                    return None;
                }
                let start = svc.rr.fetch_add(1, Ordering::Relaxed);
                (0..n)
                    .map(|i| &svc.backends[(start + i) % n])
                    .find(|b| ok(b))
            }
            Balancer::LeastInFlight => svc
                .backends
                .iter()
                .filter(|b| b.def.weight > 0 && ok(b))
                .min_by_key(|b| b.state.inflight.load(Ordering::Relaxed)),
        }
    }

    /// The usable backend a sticky cookie's `value` names (not `exclude`), by its URL as
    /// written; one of weight 0 is not in Traefik's `wrr` balancer, so no cookie names it
    /// there (its `p2c` balancer has every server).
    pub fn named<'a>(
        &self,
        svc: &'a LiveService,
        value: &str,
        exclude: Option<&str>,
    ) -> Option<&'a LiveBackend> {
        svc.backends.iter().find(|b| {
            (b.def.weight > 0 || svc.strategy == Strategy::P2c)
                && self.usable(b)
                && Some(b.def.url.as_str()) != exclude
                && crate::dynamic::sticky::names_server(value, &b.def.written)
        })
    }

    /// Token bucket per (middleware in use, source), refilled at `rate` per second up to
    /// `burst`: `Ok` if the request may pass, else how long until it could (Traefik's
    /// reservation delay, for its `Retry-After`). One Traefik would delay by at most
    /// `max_delay` passes at once (see [`Bucket::take`]). Each router using a middleware has
    /// its own buckets, as each has its own instance in Traefik
    /// ([`crate::middleware::InUse`]). A bucket is kept across tables while its rate and size
    /// are unchanged, and starts full when they change (Traefik starts every bucket anew at
    /// each configuration change) or when its source sent nothing for its ttl
    /// ([`bucket_ttl`]: Traefik then forgets it, and the next request finds a full one).
    pub fn rate_limit(
        &self,
        at: BucketOf<'_>,
        rate: f64,
        burst: u64,
        max_delay: Duration,
    ) -> Result<(), Duration> {
        let clock = (Instant::now(), unix_seconds());
        self.rate_limit_at(at, (rate, burst), max_delay, clock)
    }

    /// [`Registry::rate_limit`] at `now`, `seconds` since the Unix epoch.
    fn rate_limit_at(
        &self,
        at: BucketOf<'_>,
        (rate, burst): (f64, u64),
        max_delay: Duration,
        (now, seconds): (Instant, u64),
    ) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() > 100_000 {
            // Bound memory under a flood of sources: forget full buckets (a new one is the
            // same).
            buckets.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * b.rate
                    < b.burst as f64
            });
        }
        let fresh = Bucket {
            tokens: burst as f64,
            at: now,
            rate,
            burst,
            expires: 0,
        };
        let (_, bucket) = buckets
            .raw_entry_mut()
            .from_key(&at)
            .or_insert_with(|| (BucketKey::from(&at), fresh));
        if bucket.rate != rate || bucket.burst != burst || bucket.expires <= seconds {
            *bucket = fresh;
        }
        // Every request keeps its bucket, refused or not (Traefik sets it again before the
        // reservation).
        bucket.expires = seconds + bucket_ttl(rate);
        bucket.take(now, max_delay)
    }
}

impl Bucket {
    /// Takes a token at `now`, after refilling at its rate per second up to its size; else the
    /// time until one is there. As Go's `rate.Limiter` reservation that Traefik makes, a
    /// token due within `max_delay` is taken ahead (the bucket goes below zero, so the rate
    /// holds): Traefik serves that request after the wait, the router at once. Without it a
    /// client sending exactly at the rate would be refused by a rounding error.
    fn take(&mut self, now: Instant, max_delay: Duration) -> Result<(), Duration> {
        let (rate, burst) = (self.rate, self.burst);
        let refill = now.saturating_duration_since(self.at).as_secs_f64() * rate;
        self.tokens = (self.tokens + refill).min(burst as f64);
        self.at = self.at.max(now);
        // Finite and non-negative whatever the rate (a rate of 0 never reaches here:
        // `average` 0 is no limit).
        let wait = ((1.0 - self.tokens) / rate).max(0.0);
        let wait = Duration::try_from_secs_f64(wait).unwrap_or(Duration::MAX);
        if wait <= max_delay {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(wait)
        }
    }
}

/// One attempt on a backend: counted in flight until dropped, and counted as an error unless
/// the backend answered below 500 (or the attempt ended for a reason that is not the
/// backend's: [`InFlight::settled`]).
#[derive(Debug)]
pub struct InFlight {
    state: Arc<BackendState>,
    settled: bool,
    /// When it started, for a backend whose answer times are kept (`leasttime`).
    since: Option<Instant>,
}

impl InFlight {
    /// Counts one request on a backend.
    pub fn start(state: &Arc<BackendState>) -> InFlight {
        state.inflight.fetch_add(1, Ordering::Relaxed);
        state.requests.fetch_add(1, Ordering::Relaxed);
        InFlight {
            state: state.clone(),
            settled: false,
            since: state.ttfb.get().map(|_| Instant::now()),
        }
    }

    /// The backend answered with `status`: an error when it is 5xx.
    pub fn answered(&mut self, status: u16) {
        self.settled = true;
        if let (Some(t0), Some(times)) = (self.since.take(), self.state.ttfb.get()) {
            times.record(t0.elapsed());
        }
        if status >= 500 {
            self.state.errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The attempt ended without a verdict on the backend (the client left, or its request
    /// was refused).
    pub fn settled(&mut self) {
        self.settled = true;
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.state.inflight.fetch_sub(1, Ordering::Relaxed);
        if !self.settled {
            self.state.errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A file provider's `yaml` compiled and in service with a registry of its own (for tests).
#[cfg(test)]
pub(crate) fn in_service(yaml: &str) -> (Registry, Live) {
    let snap = crate::provider::file::snapshot_of_yaml(yaml);
    let table = crate::model::compile::compile([&snap], &Default::default());
    let reg = Registry::default();
    let live = reg.attach(table);
    (reg, live)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cooldown_ms(reg: &Registry, state: &BackendState) -> u64 {
        state.down_until.load(Ordering::Relaxed) - reg.now_ms()
    }

    #[test]
    fn a_swap_carries_the_state_of_what_stays_and_forgets_what_goes() {
        let yaml = |servers: &[&str], services: &[&str]| {
            let mut y = String::from("http:\n  services:\n");
            for svc in services {
                y += &format!("    {svc}:\n      loadBalancer:\n        servers:\n");
                for s in servers {
                    y += &format!("          - url: http://{s}:80\n");
                }
            }
            crate::provider::file::compile_yaml(&y, &[])
        };
        let reg = Registry::default();
        let first = reg.attach(yaml(&["10.0.0.1", "10.0.0.2"], &["a", "b"]));
        let state = |live: &Live, svc: &str, i: usize| live.services[svc].backends[i].state.clone();
        let counter = |live: &Live, svc: &str| live.services[svc].rr.clone();
        // The same table again: every state is the same one.
        let again = reg.attach(yaml(&["10.0.0.1", "10.0.0.2"], &["a", "b"]));
        assert!(Arc::ptr_eq(
            &state(&first, "a@file", 1),
            &state(&again, "a@file", 1)
        ));
        assert!(Arc::ptr_eq(
            &counter(&first, "b@file"),
            &counter(&again, "b@file")
        ));
        // A backend and a service gone, then back: they start afresh; the rest is kept.
        let fewer = reg.attach(yaml(&["10.0.0.1"], &["a"]));
        assert!(Arc::ptr_eq(
            &state(&first, "a@file", 0),
            &state(&fewer, "a@file", 0)
        ));
        let back = reg.attach(yaml(&["10.0.0.1", "10.0.0.2"], &["a", "b"]));
        assert!(Arc::ptr_eq(
            &state(&first, "a@file", 0),
            &state(&back, "a@file", 0)
        ));
        assert!(!Arc::ptr_eq(
            &state(&first, "a@file", 1),
            &state(&back, "a@file", 1)
        ));
        assert!(!Arc::ptr_eq(
            &counter(&first, "b@file"),
            &counter(&back, "b@file")
        ));
        assert!(!Arc::ptr_eq(
            &state(&first, "b@file", 0),
            &state(&back, "b@file", 0)
        ));
    }

    #[test]
    fn a_patched_table_shares_the_state_of_what_it_did_not_change() {
        // Tables for service one after another, each patched from the one before (only
        // services changed): the services not changed keep their state itself, a changed
        // one its counters and the backends it still has, a removed one is forgotten.
        let settings = crate::provider::file::one_entry_point("https");
        let snap = |b_servers: &[&str], with_c: bool| {
            let mut y = String::from("http:\n  services:\n");
            y += "    a:\n      loadBalancer:\n        servers:\n          - url: http://10.0.0.1:80\n";
            y += "    b:\n      loadBalancer:\n        servers:\n";
            for s in b_servers {
                y += &format!("          - url: http://{s}:80\n");
            }
            if with_c {
                y += "    c:\n      loadBalancer:\n        servers:\n          - url: http://10.0.0.9:80\n";
            }
            Arc::new(crate::provider::file::snapshot_of_yaml(&y))
        };
        let reg = Registry::default();
        let first = reg.attach(crate::model::compile::compile_for_service(
            vec![snap(&["10.0.0.2", "10.0.0.3"], true)],
            &settings,
        ));
        let next = |prev: &Live, s| {
            let t = crate::model::compile::next_for_service(&prev.table, vec![s], &settings);
            assert!(t.is_patched());
            reg.attach_after(prev, t)
        };
        let fewer = next(&first, snap(&["10.0.0.2"], false));
        assert!(Arc::ptr_eq(
            &first.services["a@file"],
            &fewer.services["a@file"]
        ));
        let b = |l: &Live, i: usize| l.services["b@file"].backends[i].state.clone();
        assert!(Arc::ptr_eq(&b(&first, 0), &b(&fewer, 0)));
        assert!(Arc::ptr_eq(
            &first.services["b@file"].rr,
            &fewer.services["b@file"].rr
        ));
        assert!(!fewer.services.contains_key("c@file"));
        assert_eq!(fewer.services.len(), fewer.table.services.len());
        // What went comes back afresh, as after a whole attach.
        let back = next(&fewer, snap(&["10.0.0.2", "10.0.0.3"], true));
        assert!(Arc::ptr_eq(&b(&first, 0), &b(&back, 0)));
        assert!(!Arc::ptr_eq(&b(&first, 1), &b(&back, 1)));
        assert!(!Arc::ptr_eq(
            &first.services["c@file"].rr,
            &back.services["c@file"].rr
        ));
        assert_eq!(back.services.len(), 3);
    }

    #[test]
    fn attempts_count_as_errors_unless_answered_below_500_or_settled() {
        let state = Arc::new(BackendState::default());
        InFlight::start(&state).answered(200);
        InFlight::start(&state).answered(502);
        InFlight::start(&state).settled();
        drop(InFlight::start(&state));
        assert_eq!(state.requests.load(Ordering::Relaxed), 4);
        assert_eq!(state.errors.load(Ordering::Relaxed), 2);
        assert_eq!(state.inflight.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn the_recent_rate_counts_from_the_oldest_sample_within_the_window() {
        let state = BackendState::default();
        let t0 = Instant::now();
        state.requests.store(10, Ordering::Relaxed);
        state.errors.store(1, Ordering::Relaxed);
        // Nothing sampled yet: everything since the backend appeared, for a minute.
        assert_eq!(state.recent(t0), (10, 1, 0.0));
        state.requests.store(30, Ordering::Relaxed);
        state.errors.store(6, Ordering::Relaxed);
        assert_eq!(state.recent(t0 + Duration::from_secs(20)), (30, 6, 20.0));
        state.requests.store(50, Ordering::Relaxed);
        // Past the window, the samples within it are what counts.
        let (r, e, secs) = state.recent(t0 + Duration::from_secs(90));
        assert_eq!((r, e, secs), (20, 0, 70.0));
    }

    #[test]
    fn refusals_in_a_row_double_the_cooldown_up_to_the_cap() {
        let reg = Registry::default();
        let state = BackendState::default();
        let mut seen = Vec::new();
        for _ in 0..7 {
            reg.mark_down(&state);
            seen.push(cooldown_ms(&reg, &state));
        }
        // Within a few ms of the exact values (the clock moves between the two reads).
        let want = [100, 200, 400, 800, 1600, 2000, 2000];
        for (got, want) in seen.iter().zip(want) {
            assert!(
                (want - 5..=want).contains(got),
                "cooldowns {seen:?}, want about {want:?}"
            );
        }
        reg.mark_up(&state);
        reg.mark_down(&state);
        assert!(cooldown_ms(&reg, &state) <= 100, "a success starts over");
    }
}

/// Traefik's `pkg/middlewares/ratelimiter/rate_limiter_test.go`, `TestInMemoryRateLimit`,
/// in virtual time: requests at `incomingLoad` per second for `loadDuration` (the first
/// `burst` of them at once), counted when [`Bucket::take`] lets them through. Traefik
/// delays a request by up to `maxDelay` where the router refuses it at once (README.md,
/// "`rateLimit` refuses at once instead of delaying"); the counts Traefik's test wants hold
/// all the same: `average / period * loadDuration + burst`, within 95% to 102%.
#[cfg(test)]
// The tables are tuples of plain data.
#[allow(clippy::type_complexity)]
mod traefik_tables {
    use super::*;

    #[test]
    fn in_memory_rate_limit() {
        // (case, average, period in ms (0: 1s), burst, load duration in s, load per s,
        // requests sent at once first).
        let table: &[(&str, u64, u64, u64, u64, u64, u64)] = &[
            ("Average is respected", 100, 0, 1, 2, 400, 0),
            ("burst allowed, no bursty traffic", 100, 0, 100, 2, 200, 0),
            (
                "burst allowed, initial burst, under capacity",
                100,
                0,
                100,
                2,
                200,
                50,
            ),
            (
                "burst allowed, initial burst, over capacity",
                100,
                0,
                100,
                2,
                200,
                150,
            ),
            (
                "burst over average, initial burst, over capacity",
                100,
                0,
                200,
                2,
                200,
                300,
            ),
            ("lower than 1/s", 5, 10_000, 0, 2, 100, 0),
            ("lower than 1/s, longer", 5, 10_000, 0, 60, 100, 0),
            ("lower than 1/s, longer, harsher", 1, 60_000, 0, 60, 100, 0),
            ("period below 1 second", 50, 500, 0, 2, 300, 0),
        ];
        for (case, average, period_ms, burst, secs, load, at_once) in table {
            // As the middleware is decoded: burst at least 1, period 0 is 1s.
            let burst = (*burst).max(1);
            let period = if *period_ms == 0 { 1_000 } else { *period_ms };
            let rate = *average as f64 * 1_000.0 / period as f64;
            let start = Instant::now();
            let mut b = Bucket {
                tokens: burst as f64,
                at: start,
                rate,
                burst,
                expires: 0,
            };
            let (mut passed, mut t) = (0u64, Duration::ZERO);
            let end = Duration::from_secs(*secs);
            let step = Duration::from_nanos(1_000_000_000 / load);
            let max_delay = crate::middleware::rate_limit_max_delay(rate);
            while t <= end {
                if b.take(start + t, max_delay).is_ok() {
                    passed += 1;
                }
                // Hammered as fast as possible (a microsecond apart) until `at_once` passed.
                t += if passed < *at_once {
                    Duration::from_micros(1)
                } else {
                    step
                };
            }
            let want = (rate * *secs as f64) as u64 + burst;
            assert!(
                passed >= want * 95 / 100 && passed <= want * 102 / 100,
                "{case}: {passed} passed, want {want}"
            );
        }
    }

    #[test]
    fn a_bucket_left_idle_for_its_ttl_starts_full_again() {
        // Traefik forgets a source's bucket `ttl` whole seconds after its last request (2 at
        // 1/s or more; 1 + 1/rate below), and the next request finds a full one.
        assert_eq!(
            [
                bucket_ttl(5.0),
                bucket_ttl(1.0),
                bucket_ttl(0.5),
                bucket_ttl(0.3)
            ],
            [2, 2, 3, 4]
        );
        let registry = Registry::default();
        let at = BucketOf {
            router: "r",
            middleware: "m",
            nth: 0,
            source: "10.0.0.1",
        };
        let (t0, s0) = (Instant::now(), 1_000_000);
        let max = Duration::ZERO;
        let take = |secs: u64| {
            let now = t0 + Duration::from_secs(secs);
            registry.rate_limit_at(at, (0.01, 3), max, (now, s0 + secs))
        };
        // A burst of 3 at 0.01/s (a token every 100 s; ttl 101 s): the fourth waits.
        for _ in 0..3 {
            assert_eq!(take(0), Ok(()));
        }
        assert!(take(0).is_err());
        // Within the ttl of the last request (refused ones count): half a token.
        assert!(take(50).is_err());
        // 100 s after the last request: one token came, no more.
        assert_eq!(take(150), Ok(()));
        assert!(take(150).is_err());
        // The ttl past since the last request: a full bucket again.
        for _ in 0..3 {
            assert_eq!(take(251), Ok(()));
        }
        assert!(take(251).is_err());
    }

    #[test]
    fn the_wait_is_until_the_next_token() {
        // What Traefik's `Retry-After` reports: a reservation's delay.
        let start = Instant::now();
        // 1 per minute, burst 1: Traefik's maxDelay is 500ms.
        let (rate, max) = (1.0 / 60.0, Duration::from_millis(500));
        let mut b = Bucket {
            tokens: 1.0,
            at: start,
            rate,
            burst: 1,
            expires: 0,
        };
        assert_eq!(b.take(start, max), Ok(()));
        let wait = b.take(start, max).unwrap_err();
        assert!((59_999..=60_000).contains(&wait.as_millis()), "{wait:?}");
        let wait = b.take(start + Duration::from_secs(45), max).unwrap_err();
        assert!((14_999..=15_000).contains(&wait.as_millis()), "{wait:?}");
        // Within maxDelay of the next token: taken ahead (Traefik delays it 400ms).
        let at = start + Duration::from_millis(59_600);
        assert_eq!(b.take(at, max), Ok(()));
        // The next one waits a whole minute more.
        let wait = b.take(at, max).unwrap_err();
        assert!((60_399..=60_400).contains(&wait.as_millis()), "{wait:?}");
    }
}

/// Traefik's `pkg/server/service/loadbalancer/sticky_test.go`, `TestSticky_StickyHandler`,
/// translated for a load balancer's servers: which server a request's sticky cookie sends it
/// to ([`Registry::named`]) and whether the answer rewrites the cookie (a value in an older
/// form). Traefik's handlers are named by their server URL as written (`http://first`, no
/// port), which the cookie's value hashes; its rows use the handler names, ours the URLs.
/// The rows after Traefik's are the balancer's side of `wrr.go` (a server of weight 0 is not
/// added, one whose health check fails is not in its status) and Go's `Request.Cookie`.
#[cfg(test)]
// The tables are tuples of plain data.
#[allow(clippy::type_complexity)]
mod sticky_tables {
    use super::*;
    use crate::dynamic::sticky::server_value;

    const FIRST: &str = "http://first";

    /// A file provider's service `svc` with `first` and `second` (weights as given), its
    /// cookie `test`, in service (Traefik's default balancer).
    fn balancer(weights: [u32; 2]) -> (Registry, Live) {
        crate::strategy::in_service::service("wrr", weights)
    }

    #[test]
    fn sticky_handler() {
        let fnv = |s: &str| {
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for b in s.bytes() {
                h = h.wrapping_mul(0x0000_0100_0000_01b3) ^ u64::from(b);
            }
            format!("{h:x}")
        };
        let sha_first = server_value(FIRST);
        // Known answers: SHA-256("http://first") and FNV-1 64 of it, once and twice.
        assert_eq!(sha_first, "326751a93a05114a");
        assert_eq!(fnv(FIRST), "e4890ff7bb142923");
        assert_eq!(fnv(&fnv(FIRST)), "ace17d371dc8c811");
        // (case, Cookie lines, weights of first and second, servers failing their check,
        // server picked by the cookie, cookie rewritten).
        let table: Vec<(&str, Vec<String>, [u32; 2], &[usize], Option<&str>, bool)> = vec![
            ("No previous cookie", vec![], [1, 1], &[], None, false),
            (
                "Wrong previous cookie",
                vec![format!("test={}", server_value("foo"))],
                [1, 1],
                &[],
                None,
                false,
            ),
            (
                "Sha256 previous cookie",
                vec![format!("test={sha_first}")],
                [1, 1],
                &[],
                Some(FIRST),
                false,
            ),
            (
                "Raw previous cookie",
                vec![format!("test={FIRST}")],
                [1, 1],
                &[],
                Some(FIRST),
                true,
            ),
            (
                "Fnv previous cookie",
                vec![format!("test={}", fnv(FIRST))],
                [1, 1],
                &[],
                Some(FIRST),
                true,
            ),
            // Traefik's row of this name hashes once (the row above again); twice here.
            (
                "Double fnv previous cookie",
                vec![format!("test={}", fnv(&fnv(FIRST)))],
                [1, 1],
                &[],
                Some(FIRST),
                true,
            ),
            // wrr.go `Add`: a server of weight 0 is not added, so no cookie names it.
            (
                "cookie naming a server of weight 0",
                vec![format!("test={sha_first}")],
                [0, 1],
                &[],
                None,
                false,
            ),
            // wrr.go `ServeHTTP`: the handler must be in `status` (its health check passing).
            (
                "cookie naming a server failing its health check",
                vec![format!("test={sha_first}")],
                [1, 1],
                &[0],
                None,
                false,
            ),
            (
                "cookie naming the other server failing its check",
                vec![format!("test={sha_first}")],
                [1, 1],
                &[1],
                Some(FIRST),
                false,
            ),
            // Go's `Request.Cookie`: quotes stripped, the name trimmed, invalid values
            // skipped, the first valid pair of the name wins, over several lines.
            (
                "quoted value",
                vec![format!("other=1; test=\"{sha_first}\"")],
                [1, 1],
                &[],
                Some(FIRST),
                false,
            ),
            (
                "spaces around the name",
                vec![format!("other=1;  test ={sha_first}")],
                [1, 1],
                &[],
                Some(FIRST),
                false,
            ),
            (
                "an invalid value skipped for a later one",
                vec![format!("test=a\\b; test={sha_first}")],
                [1, 1],
                &[],
                Some(FIRST),
                false,
            ),
            (
                "a value with a lone quote is invalid",
                vec![format!("test=\"{sha_first}")],
                [1, 1],
                &[],
                None,
                false,
            ),
            (
                "the first valid pair wins",
                vec![
                    format!("test={}", server_value("http://second")),
                    format!("test={sha_first}"),
                ],
                [1, 1],
                &[],
                Some("http://second"),
                false,
            ),
            (
                "another cookie's name",
                vec![format!("testing={sha_first}")],
                [1, 1],
                &[],
                None,
                false,
            ),
        ];
        for (case, lines, weights, down, want, rewrite) in table {
            let (reg, live) = balancer(weights);
            let svc = &live.services["svc@file"];
            for i in down {
                svc.backends[*i]
                    .state
                    .check_failed
                    .store(true, Ordering::Relaxed);
            }
            let mut headers = hyper::HeaderMap::new();
            for l in &lines {
                headers.append(hyper::header::COOKIE, l.parse().expect("a header value"));
            }
            let (name, _) = live.table.services["svc@file"]
                .sticky
                .as_ref()
                .expect("sticky");
            let value = crate::proxy::cookie(&headers, name);
            let got = value.as_deref().and_then(|v| reg.named(svc, v, None));
            assert_eq!(got.map(|b| b.def.written.as_str()), want, "{case}");
            // What `Plan::pick` compares to set the cookie again.
            let rewritten =
                got.is_some_and(|b| value.as_deref() != Some(&*server_value(&b.def.written)));
            assert_eq!(rewritten, rewrite, "{case}");
        }
    }
}
