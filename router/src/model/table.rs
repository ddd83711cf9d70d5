//! The routing table: routes in priority order with an index by host, services with their
//! backends, and every problem found on the way ([`crate::model::compile`] builds it). Pure
//! and immutable: a new configuration builds a new table, swapped in whole.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::dynamic::{Issue, Middleware, Origin};
use crate::model::rule::{RequestView, Rule};

pub use crate::dynamic::ServerStatus as BackendStatus;

/// Services by qualified name: a persistent map, so that a table patched from another shares
/// every service it did not change (copying and freeing a map of 10,000 services was a tenth
/// of an event's CPU at 10,000 containers). Iterated in name order, as a `BTreeMap` is.
pub type Services = imbl::OrdMap<String, Arc<Service>>;

/// The routing table.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    /// Routes, highest priority first (shared with the table this one was patched from, or
    /// is patched into: [`crate::model::patch`]).
    pub routes: Vec<Arc<Route>>,
    /// Services by qualified name (shared likewise).
    pub services: Services,
    /// Every problem, by source.
    pub issues: Vec<Issue>,
    /// Every router, service and middleware with its status, as Traefik's API shows them
    /// (see [`RouteTable::api`]).
    pub api_view: super::lazy_api::LazyApi,
    /// TLS options by resolved name (`default` always there).
    pub tls_options: BTreeMap<String, crate::dynamic::TlsOptions>,
    /// Per entry point, the TLS options each SNI domain selects (see [`crate::model::tls`]).
    pub sni: BTreeMap<String, BTreeMap<String, String>>,
    /// The default store's generated certificate: its resolver and names.
    pub default_generated: Option<(String, Vec<String>)>,
    /// Each entry point's TCP routes.
    pub tcp: super::tcp::TcpTable,
    /// Each UDP entry point's route.
    pub udp: super::udp::UdpTable,
    /// Route indexes by exact host, by the name under a one-label wildcard host
    /// (`*.example.com` under `example.com`); routes that may match any host are in
    /// `any_host`. Each list is in route (priority) order.
    pub(crate) by_host: Lists,
    pub(crate) by_under: Lists,
    /// Routes by host regex: one set of every pattern, and each pattern's routes.
    pub(crate) by_regex: Option<HostRegexes>,
    /// Routes without a host that need a literal path, by that path.
    pub(crate) by_path: PathIndex,
    /// Routes of an exact host that need a literal path, by host then path: one host with
    /// thousands of `PathPrefix` routes is looked up, not scanned.
    pub(crate) by_host_path: imbl::HashMap<String, PathIndex>,
    pub(crate) any_host: Vec<u32>,
    /// Each route's id, by position. The index holds ids, not positions: a patch that adds a
    /// route moves every route after it, and renumbering every list of 10,000 was most of a
    /// patch; an id stays the route's while it is in the tables patched from this one.
    pub(crate) ids: Vec<u32>,
    /// Each id's position (`u32::MAX`: no route has it). The index's lists are in position
    /// order, which routes added or removed elsewhere do not change.
    pub(crate) pos: Vec<u32>,
    /// What a table compiled for service was made from, for the next one to be patched from
    /// it (see [`crate::model::patch`]); `None` for any other.
    pub(crate) made: Option<Arc<super::patch::Made>>,
    /// The names of the services with a health check, when the compile or a patch noted
    /// them (else every service is looked at): a few of 10,000, which the health checks'
    /// reconciliation after each swap visits instead of every service.
    pub(crate) checked: Option<imbl::OrdSet<String>>,
}

/// Lists of route ids by key, in route (position) order: persistent maps, so that a table
/// patched from another shares every list it did not change (copying maps of 10,000 at each
/// patch was a quarter of an event's CPU at 10,000 containers).
pub(crate) type Lists = imbl::HashMap<String, Vec<u32>>;

/// The path indexes an update of the index changed, whose prefix lengths are to be worked out
/// again.
#[derive(Default)]
struct Touched {
    /// The index of routes without a host.
    paths: bool,
    /// Those of these hosts.
    hosts: std::collections::BTreeSet<String>,
}

/// Routes by the literal path they need: by exact path, and by path prefix with the distinct
/// prefix lengths (a request's path is looked up at each). Lists are in route order.
#[derive(Debug, Clone, Default)]
pub struct PathIndex {
    exact: Lists,
    prefix: Lists,
    lens: Vec<usize>,
}

impl PathIndex {
    fn add(&mut self, key: crate::model::rule::PathKey, id: u32, pos: &[u32]) {
        use crate::model::rule::PathKey;
        let (map, p) = match key {
            PathKey::Exact(p) => (&mut self.exact, p),
            PathKey::Prefix(p) => (&mut self.prefix, p),
        };
        insert_sorted(map.entry(p).or_default(), id, pos);
    }

    fn remove(&mut self, key: &crate::model::rule::PathKey, id: u32) {
        use crate::model::rule::PathKey;
        let (map, p) = match key {
            PathKey::Exact(p) => (&mut self.exact, p),
            PathKey::Prefix(p) => (&mut self.prefix, p),
        };
        remove_id(map, p, id);
    }

    fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.prefix.is_empty()
    }

    /// Done adding: the distinct prefix lengths.
    fn finish(&mut self) {
        let mut lens: Vec<usize> = self.prefix.keys().map(String::len).collect();
        lens.sort_unstable();
        lens.dedup();
        self.lens = lens;
    }

    /// Adds the positions of the routes whose path `path` is, or starts with (one hash
    /// lookup per distinct prefix length), to `out` (unsorted).
    fn candidates(&self, path: &str, pos: &[u32], out: &mut Vec<usize>) {
        if let Some(list) = self.exact.get(path) {
            out.extend(positions(list, pos));
        }
        for &n in self.lens.iter().take_while(|&&n| n <= path.len()) {
            if let Some(list) = path.get(..n).and_then(|p| self.prefix.get(p)) {
                out.extend(positions(list, pos));
            }
        }
    }
}

/// The positions of a list's routes.
fn positions<'a>(list: &'a [u32], pos: &'a [u32]) -> impl Iterator<Item = usize> + 'a {
    list.iter().map(|&id| pos[id as usize] as usize)
}

/// Adds route `id` to a list in position order, once.
fn insert_sorted(list: &mut Vec<u32>, id: u32, pos: &[u32]) {
    let at = pos[id as usize];
    if let Err(i) = list.binary_search_by_key(&at, |&x| pos[x as usize]) {
        list.insert(i, id);
    }
}

/// Takes route `id` out of `key`'s list, and the list out of the map when it is left empty.
fn remove_id(map: &mut Lists, key: &str, id: u32) {
    let empty = match map.get_mut(key) {
        Some(list) => {
            list.retain(|&x| x != id);
            list.is_empty()
        }
        None => false,
    };
    if empty {
        map.remove(key);
    }
}

/// How large the combined host regexes may grow (beyond, their routes are scanned).
const HOST_REGEXES_LIMIT: usize = 64 << 20;

/// The host regexes of the table's routes, matched at once: one set of every pattern when the
/// index is built whole, and beside it, in a table patched from another, a few small sets of
/// the patterns its patches added since ([`recent_max`] in all at most). Combining thousands
/// of patterns again for one container's route was a third of an event's work at 10,000
/// routes; a removed route only leaves the lists of the set it was in.
///
/// The added sets are kept as a binary counter is: a patch's patterns make a set, which takes
/// in the newest sets while they are less than twice its size. Each pattern is thus combined
/// again a few times (log2 of the patterns added), not at every patch, and a lookup matches
/// the whole set and at most log2 of [`recent_max`] small ones.
#[derive(Debug, Clone)]
pub struct HostRegexes {
    base: RegexPart,
    /// Oldest first, each at least twice the size of the next.
    recent: Vec<RegexPart>,
}

/// One combined set, and each pattern's routes (ids, in route order; shared until a patch
/// removes a route of its patterns).
#[derive(Debug, Clone)]
struct RegexPart {
    set: Arc<regex::RegexSet>,
    routes: Arc<Vec<Vec<u32>>>,
}

impl RegexPart {
    /// Adds the positions of the routes whose pattern matches `host` to `out`.
    fn matches(&self, host: &str, pos: &[u32], out: &mut Vec<usize>) {
        // Most hosts match no pattern: asked first without the matches' set of every pattern
        // (allocated, and walked whole, at each request).
        if !self.set.is_match(host) {
            return;
        }
        for p in self.set.matches(host).iter() {
            out.extend(positions(&self.routes[p], pos));
        }
    }

    /// Takes route `id` out of pattern `pattern`'s list, when this set has the pattern.
    fn remove(&mut self, pattern: &str, id: u32) {
        if let Some(k) = self.set.patterns().iter().position(|p| p == pattern) {
            Arc::make_mut(&mut self.routes)[k].retain(|&x| x != id);
        }
    }
}

/// How many patterns patches may add beside a whole set of `base` patterns before the index
/// is built whole again: an eighth of them, and at least 64 (building the whole set again,
/// its cost spread over the patterns added meanwhile, is then a few patterns' worth each).
/// Storms of 200 containers of which a quarter route by host regex stay within it at 10,000
/// routes, where the whole set took most of such a storm's table.
fn recent_max(base: usize) -> usize {
    (base / 8).max(64)
}

/// The last combined set built, by its patterns and size limit: most reconfigurations change
/// no host regex, and combining thousands of them was a fifth of a rebuild at 10,000 routes.
/// Memoization only (the set is the one the patterns build).
type LastSet = Option<(Vec<String>, usize, Arc<regex::RegexSet>)>;
static LAST_SET: std::sync::Mutex<LastSet> = std::sync::Mutex::new(None);

/// The combined set of `patterns` (sorted), the last one when they are the same.
fn regex_set(patterns: Vec<String>, limit: usize) -> Result<Arc<regex::RegexSet>, regex::Error> {
    let last = |f: &mut dyn FnMut(&mut LastSet)| {
        f(&mut LAST_SET
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    };
    let mut found = None;
    last(&mut |l| {
        if let Some((p, n, set)) = l {
            if *p == patterns && *n == limit {
                found = Some(set.clone());
            }
        }
    });
    if let Some(set) = found {
        return Ok(set);
    }
    let set = Arc::new(
        regex::RegexSetBuilder::new(&patterns)
            .size_limit(limit)
            .build()?,
    );
    last(&mut |l| *l = Some((patterns.clone(), limit, set.clone())));
    Ok(set)
}

/// One route.
#[derive(Debug, Clone)]
pub struct Route {
    /// The router's qualified name (`whoami@docker`).
    pub name: String,
    /// The provider it comes from.
    pub provider: String,
    /// The parsed rule (shared with the rules remembered, [`crate::model::rule::cache`]).
    pub rule: Arc<Rule>,
    /// Priority (the router's, else the rule's length).
    pub priority: i64,
    /// Entry points it is served on.
    pub entrypoints: Vec<String>,
    /// Middlewares, in order, by qualified name.
    pub middlewares: Vec<(String, Middleware)>,
    /// The qualified service name.
    pub service: String,
    /// Whether it answers TLS connections (and only those).
    pub tls: bool,
    /// Cert resolver name.
    pub certresolver: Option<String>,
    /// `tls.domains`: the names the resolver orders certificates for instead of the rule's
    /// hosts, lower case, one certificate per entry (its `main` first, then its `sans`).
    pub domains: Vec<Vec<String>>,
    /// The resolved name of its TLS options (empty without TLS).
    pub tls_options: String,
    /// Its own `observability.accessLogs`, when it sets one (`None`: its entry point's
    /// decides, [`crate::proxy::logs_access`]).
    pub access_logs: Option<bool>,
    /// Where it is defined (containers, files).
    pub sources: Vec<String>,
    /// Its entry point's `http.encodedCharacters`: a request whose path holds a refused
    /// encoding is answered 400 (Traefik's router-level `denyEncodedPathCharacters`).
    pub encoded_characters: Option<crate::entry_http::EncodedCharacters>,
    /// For a router a provider made from its `defaultRule`: the `X-Traefik-Router` value its
    /// requests are sent with, and that a request arriving with it is refused for (400), as
    /// Traefik's `denyRouterRecursion` cuts a loop through the same router.
    pub recursion_mark: Option<Arc<str>>,
}

/// Traefik's `X-Traefik-Router` value for router `name`: its FNV-1 64-bit hash in lower-case
/// hexadecimal, as Go's `hash/fnv.New64` and `strconv.FormatUint(h, 16)` write it.
pub fn recursion_mark(name: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
        h ^= u64::from(b);
    }
    format!("{h:x}")
}

/// A service and its backends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Qualified name.
    pub name: String,
    /// How its `https://` servers are reached, and the timeouts.
    pub transport: crate::dynamic::ServersTransport,
    /// Send the client's `Host` (else the server URL's).
    pub pass_host_header: bool,
    /// Sticky sessions: the cookie's name and settings (never with `hrw`, which reads no
    /// cookie).
    pub sticky: Option<(String, crate::dynamic::sticky::StickyCookie)>,
    /// How a backend is picked.
    pub strategy: crate::dynamic::Strategy,
    /// Backends, in the provider's order (by container name for containers).
    pub backends: Vec<Backend>,
    /// Active health check.
    pub health: Option<crate::dynamic::HealthCheck>,
    /// A handler of the router itself (`api@internal`, ...), instead of backends.
    pub internal: Option<crate::dynamic::InternalService>,
    /// What it is made of: servers, or other services.
    pub kind: Kind,
}

/// A `weighted` service's sticky cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightedSticky {
    /// The cookie's name.
    pub name: String,
    /// Its settings.
    pub cookie: crate::dynamic::sticky::StickyCookie,
    /// The names of the children as written (what their cookie values are made from).
    pub written: Vec<String>,
}

/// What a service is made of.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Kind {
    /// Its backends.
    #[default]
    Servers,
    /// Other services (qualified names), picked by weight; with `health`, one without a
    /// usable backend is skipped.
    Weighted {
        children: Vec<(String, u32)>,
        health: bool,
        /// `sticky.cookie`: the cookie's name and settings, and the value naming each child
        /// (Traefik's hash of the name as written).
        sticky: Option<Box<WeightedSticky>>,
    },
    /// `main` answers; copies of a share of requests go to the mirrors (service, percent),
    /// with their body up to `max_body` bytes when `body` (-1: any size).
    Mirroring {
        main: String,
        mirrors: Vec<(String, u32)>,
        body: bool,
        max_body: i64,
        health: bool,
    },
    /// `main` while it has a usable backend, else `fallback` (with `health`, only while the
    /// fallback has one); with `errors`, an answer of `main` with one of its statuses goes to
    /// `fallback` too.
    Failover {
        main: String,
        fallback: String,
        health: bool,
        errors: Option<crate::dynamic::FailoverErrors>,
    },
}

/// Every router, service and middleware, enabled or not, by qualified name.
#[derive(Debug, Clone, Default)]
pub struct ApiView {
    /// Routers.
    pub routers: BTreeMap<String, ElementInfo<crate::dynamic::Router>>,
    /// Services.
    pub services: BTreeMap<String, ElementInfo<crate::dynamic::Service>>,
    /// Middlewares.
    pub middlewares: BTreeMap<String, ElementInfo<Middleware>>,
    /// TCP routers.
    pub tcp_routers: BTreeMap<String, ElementInfo<crate::dynamic::tcp::TcpRouter>>,
    /// TCP services.
    pub tcp_services: BTreeMap<String, ElementInfo<crate::dynamic::tcp::TcpService>>,
    /// TCP middlewares.
    pub tcp_middlewares: BTreeMap<String, ElementInfo<crate::dynamic::tcp::TcpMiddleware>>,
    /// UDP routers.
    pub udp_routers: BTreeMap<String, ElementInfo<crate::dynamic::udp::UdpRouter>>,
    /// UDP services.
    pub udp_services: BTreeMap<String, ElementInfo<crate::dynamic::udp::UdpService>>,
}

/// An element as Traefik's runtime configuration shows it.
#[derive(Debug, Clone)]
pub struct ElementInfo<T> {
    /// Its definition (none when it could not be read).
    pub def: Option<T>,
    /// `enabled`, `disabled` or `warning`.
    pub status: &'static str,
    /// What is wrong.
    pub errors: Vec<String>,
    /// Routers: the entry points it serves on; services and middlewares: the routers using it.
    pub using: Vec<String>,
}

impl<T> ElementInfo<T> {
    /// An element without problems.
    pub fn enabled(def: T) -> ElementInfo<T> {
        ElementInfo {
            def: Some(def),
            status: "enabled",
            errors: Vec::new(),
            using: Vec::new(),
        }
    }
}

/// One backend server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    /// Its URL (`http://10.0.0.2:8080`); empty when it has no address (a stopped container).
    pub url: String,
    /// Where to connect, when it has an address.
    pub target: Option<Target>,
    /// Whether the provider's state lets it take requests.
    pub status: BackendStatus,
    /// The container behind it, for container providers.
    pub origin: Option<Origin>,
    /// Its weight against the service's other backends (0: never picked).
    pub weight: u32,
    /// Its URL as the configuration wrote it: what its sticky cookie's value is made from
    /// (see [`crate::dynamic::Server::written`]).
    pub written: String,
    /// The server URL's path when `preservePath` is set (empty otherwise): put in front of
    /// each request's path.
    pub path: String,
}

/// Where a backend is reached.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// An address.
    Addr(SocketAddr),
    /// A host name, resolved when connecting (as Traefik does: names in files follow DNS).
    Name(String, u16),
}

impl Backend {
    /// The `host[:port]` of its URL as the configuration wrote it (a default port kept, as
    /// Go parses and writes it): the `Host` its requests get with `passHostHeader: false`.
    pub fn written_host(&self) -> &str {
        let url = if self.written.is_empty() {
            &self.url
        } else {
            &self.written
        };
        let authority = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
        authority.split(['/', '?', '#']).next().unwrap_or(authority)
    }

    /// The address, when the target is one (not a name).
    pub fn addr(&self) -> Option<SocketAddr> {
        match &self.target {
            Some(Target::Addr(a)) => Some(*a),
            _ => None,
        }
    }

    /// The container's name, when a container provider made it.
    pub fn container(&self) -> Option<&str> {
        self.origin.as_ref().map(|o| o.name.as_str())
    }

    /// The path a request for `path` is sent to this backend with: `path` itself, or behind
    /// the server URL's path with `preservePath` (one slash between them, as Traefik joins
    /// them: `/base` + `/x` and `/base/` + `/x` both give `/base/x`).
    /// A path a middleware left empty (`stripPrefix` of the whole path) goes as `/`, as Go's
    /// client writes it.
    pub fn target_path<'a>(&self, path: &'a str) -> std::borrow::Cow<'a, str> {
        if self.path.is_empty() {
            return if path.is_empty() {
                "/".into()
            } else {
                path.into()
            };
        }
        let base = self.path.as_str();
        match (base.ends_with('/'), path.starts_with('/')) {
            (true, true) => format!("{base}{}", &path[1..]).into(),
            (false, false) => format!("{base}/{path}").into(),
            _ => format!("{base}{path}").into(),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Addr(a) => write!(f, "{a}"),
            Target::Name(h, p) => write!(f, "{h}:{p}"),
        }
    }
}

impl BackendStatus {
    /// Whether new requests may go to it.
    pub fn is_ready(self) -> bool {
        self == BackendStatus::Ready
    }
}

impl fmt::Display for BackendStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BackendStatus::Ready => "ready",
            BackendStatus::Starting => "starting",
            BackendStatus::Unhealthy => "unhealthy",
            BackendStatus::Paused => "paused",
            BackendStatus::Stopping => "stopping",
            BackendStatus::Stopped => "stopped",
        })
    }
}

// === lookup ===

impl RouteTable {
    /// Every router, service and middleware with its status, as Traefik's API shows them:
    /// made the first time it is read for a table compiled for service
    /// ([`crate::model::compile::compile_for_service`]).
    pub fn api(&self) -> &ApiView {
        self.api_view.get()
    }

    /// Whether this table was patched from the one before it rather than compiled whole
    /// ([`crate::model::compile::next_for_service`]).
    pub fn is_patched(&self) -> bool {
        self.made.as_ref().is_some_and(|m| m.patched.is_some())
    }

    /// When this table was patched from `prev`: the services the patch removed, added or
    /// changed (by qualified name); the others are `prev`'s.
    pub fn patched_services_from(
        &self,
        prev: &RouteTable,
    ) -> Option<&std::collections::BTreeSet<String>> {
        let p = self.made.as_ref()?.patched.as_ref()?;
        (prev.made.as_ref()?.id == p.base).then_some(&p.services)
    }

    /// For a table compiled whole by [`crate::model::compile::next_for_service`]: why the
    /// table before it could not be patched (for the reload log).
    pub fn compiled_whole_because(&self) -> Option<&'static str> {
        self.made.as_ref()?.whole_because
    }

    /// The services with a health check, by name.
    pub fn health_checked(&self) -> Box<dyn Iterator<Item = (&String, &Arc<Service>)> + '_> {
        match &self.checked {
            Some(names) => Box::new(
                names
                    .iter()
                    .filter_map(|n| self.services.get_key_value(n.as_str())),
            ),
            None => Box::new(self.services.iter().filter(|(_, s)| s.health.is_some())),
        }
    }

    /// The names of `services` with a health check.
    pub(crate) fn checked_of(services: &Services) -> imbl::OrdSet<String> {
        services
            .iter()
            .filter(|(_, s)| s.health.is_some())
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// How many combined sets of host regexes a lookup matches: 1 for an index built whole,
    /// 2 with patterns patches added beside it (see [`HostRegexes`]); for tests.
    pub fn host_regex_sets(&self) -> usize {
        self.by_regex.as_ref().map_or(0, |r| 1 + r.recent.len())
    }

    /// Builds the host index over routes already in priority order.
    pub fn index(self) -> RouteTable {
        self.index_within(HOST_REGEXES_LIMIT)
    }

    /// [`Self::index`], the host regexes combined within `limit` bytes of compiled program
    /// (else scanned).
    fn index_within(mut self, limit: usize) -> RouteTable {
        self.by_host = Lists::default();
        self.by_under = Lists::default();
        self.by_path = PathIndex::default();
        self.by_host_path = imbl::HashMap::default();
        self.any_host.clear();
        let n = u32::try_from(self.routes.len()).expect("fewer than 2^32 routes");
        self.ids = (0..n).collect();
        self.pos = self.ids.clone();
        let mut regexes: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        let mut touched = Touched::default();
        for i in 0..self.routes.len() {
            self.index_route(i, &mut regexes, &mut touched);
        }
        self.finish(touched);
        self.by_regex = None;
        if !regexes.is_empty() {
            match regex_set(regexes.keys().cloned().collect(), limit) {
                Ok(set) => {
                    self.by_regex = Some(HostRegexes {
                        base: RegexPart {
                            set,
                            routes: Arc::new(regexes.into_values().collect()),
                        },
                        recent: Vec::new(),
                    })
                }
                // Too large to combine: those routes are scanned, as any-host ones.
                Err(_) => {
                    let mut all: Vec<u32> = regexes.into_values().flatten().collect();
                    all.append(&mut self.any_host);
                    // Built whole, ids are positions: sorted by id is in route order.
                    all.sort_unstable();
                    all.dedup();
                    self.any_host = all;
                }
            }
        }
        self
    }

    /// Adds the route at position `i` to the index (its host regexes to `regexes`, combined
    /// by the caller); the path indexes it changed are noted in `touched`, their prefix
    /// lengths left to [`PathIndex::finish`].
    fn index_route(
        &mut self,
        i: usize,
        regexes: &mut BTreeMap<String, Vec<u32>>,
        touched: &mut Touched,
    ) {
        use crate::model::rule::HostKey;
        let (id, pos) = (self.ids[i], &self.pos);
        let rule = &self.routes[i].rule;
        let paths = rule.path_keys();
        let Some(keys) = rule.host_keys() else {
            match paths {
                Some(paths) => {
                    for k in paths {
                        self.by_path.add(k, id, pos);
                    }
                    touched.paths = true;
                }
                None => insert_sorted(&mut self.any_host, id, pos),
            }
            return;
        };
        for k in keys {
            let (map, name) = match k {
                HostKey::Exact(h) => match &paths {
                    // The host's and the path's keys both hold: indexed by both.
                    Some(paths) => {
                        let index = self.by_host_path.entry(h.clone()).or_default();
                        for p in paths {
                            index.add(p.clone(), id, pos);
                        }
                        touched.hosts.insert(h);
                        continue;
                    }
                    None => (&mut self.by_host, h),
                },
                HostKey::Under(h) => (&mut self.by_under, h),
                HostKey::Regex(p) => {
                    insert_sorted(regexes.entry(p).or_default(), id, pos);
                    continue;
                }
            };
            insert_sorted(map.entry(name).or_default(), id, pos);
        }
    }

    /// Takes route `id` (whose rule is `rule`) out of the index: the lists
    /// [`Self::index_route`] put it in.
    fn unindex_route(&mut self, rule: &Rule, id: u32, touched: &mut Touched) {
        use crate::model::rule::HostKey;
        let paths = rule.path_keys();
        let Some(keys) = rule.host_keys() else {
            match paths {
                Some(paths) => {
                    for k in &paths {
                        self.by_path.remove(k, id);
                    }
                    touched.paths = true;
                }
                None => self.any_host.retain(|&x| x != id),
            }
            return;
        };
        for k in keys {
            match k {
                HostKey::Exact(h) => match &paths {
                    Some(paths) => {
                        let empty = match self.by_host_path.get_mut(&h) {
                            Some(index) => {
                                for p in paths {
                                    index.remove(p, id);
                                }
                                index.is_empty()
                            }
                            None => false,
                        };
                        if empty {
                            self.by_host_path.remove(&h);
                        } else {
                            touched.hosts.insert(h);
                        }
                    }
                    None => remove_id(&mut self.by_host, &h, id),
                },
                HostKey::Under(h) => remove_id(&mut self.by_under, &h, id),
                HostKey::Regex(p) => match &mut self.by_regex {
                    Some(r) => {
                        for part in std::iter::once(&mut r.base).chain(r.recent.iter_mut()) {
                            part.remove(&p, id);
                        }
                    }
                    // Too many to combine when indexed whole: scanned with the any-host ones.
                    None => self.any_host.retain(|&x| x != id),
                },
            }
        }
    }

    /// This table's index made from `prev`'s, whose routes moved here as `map` says (`prev`'s
    /// route `i` is this table's `map[i]`, `usize::MAX` when gone) beside the routes `added`
    /// (positions here): the routes kept keep their ids and `prev`'s lists (shared), the
    /// routes gone are taken out of theirs and the new ones put in, rather than every rule
    /// read again; the patterns of added host regexes combined beside the set of `prev`'s
    /// (see [`HostRegexes`]). Lookups give what [`Self::index`]'s would; it is what this
    /// falls back to when `prev` combined no host regex (none, or too many to combine) or
    /// the patterns added since its whole build grow beyond [`recent_max`].
    pub(crate) fn index_moved(
        mut self,
        prev: &RouteTable,
        map: &[usize],
        added: &[usize],
    ) -> RouteTable {
        if prev.ids.len() != prev.routes.len() || map.len() != prev.routes.len() {
            return self.index();
        }
        // Ids: the kept routes' own, the gone ones' given to the new routes, then fresh ones.
        let mut ids = vec![u32::MAX; self.routes.len()];
        let mut free = Vec::new();
        for (i, &to) in map.iter().enumerate() {
            match to {
                usize::MAX => free.push(prev.ids[i]),
                to => ids[to] = prev.ids[i],
            }
        }
        let Ok(mut next) = u32::try_from(prev.pos.len()) else {
            return self.index();
        };
        for &p in added {
            ids[p] = free.pop().unwrap_or_else(|| {
                next += 1;
                next - 1
            });
        }
        let mut pos = vec![u32::MAX; (next as usize).max(prev.pos.len())];
        for (p, &id) in ids.iter().enumerate() {
            pos[id as usize] = p as u32;
        }
        self.ids = ids;
        self.pos = pos;
        self.by_host = prev.by_host.clone();
        self.by_under = prev.by_under.clone();
        self.by_path = prev.by_path.clone();
        self.by_host_path = prev.by_host_path.clone();
        self.any_host = prev.any_host.clone();
        self.by_regex = prev.by_regex.clone();
        // Out first: an id freed here may be a new route's below.
        let mut touched = Touched::default();
        for (i, _) in map.iter().enumerate().filter(|(_, &to)| to == usize::MAX) {
            self.unindex_route(&prev.routes[i].rule, prev.ids[i], &mut touched);
        }
        let mut regexes = BTreeMap::new();
        for &i in added {
            self.index_route(i, &mut regexes, &mut touched);
        }
        if !regexes.is_empty() && !self.add_recent(regexes) {
            return self.index();
        }
        self.finish(touched);
        self
    }

    /// The prefix lengths of the path indexes `touched` worked out again.
    fn finish(&mut self, touched: Touched) {
        if touched.paths {
            self.by_path.finish();
        }
        for h in touched.hosts {
            if let Some(index) = self.by_host_path.get_mut(&h) {
                index.finish();
            }
        }
    }

    /// Combines the patterns `added` (with their routes) into a set beside the whole one (see
    /// [`HostRegexes`]); `false` when the index is to be built whole instead.
    fn add_recent(&mut self, added: BTreeMap<String, Vec<u32>>) -> bool {
        let Some(r) = &mut self.by_regex else {
            return false;
        };
        let mut patterns = added;
        while let Some(last) = r.recent.last() {
            let live = last.routes.iter().filter(|l| !l.is_empty()).count();
            if live >= 2 * patterns.len() {
                break;
            }
            let last = r.recent.pop().expect("a last set");
            for (p, list) in last.set.patterns().iter().zip(last.routes.iter()) {
                let to = patterns.entry(p.clone()).or_default();
                for &id in list {
                    insert_sorted(to, id, &self.pos);
                }
            }
        }
        patterns.retain(|_, list| !list.is_empty());
        let total: usize = r.recent.iter().map(|p| p.set.len()).sum::<usize>() + patterns.len();
        if total > recent_max(r.base.set.len()) {
            return false;
        }
        if patterns.is_empty() {
            return true;
        }
        let built = regex::RegexSetBuilder::new(patterns.keys())
            .size_limit(HOST_REGEXES_LIMIT)
            .build();
        match built {
            Ok(set) => {
                r.recent.push(RegexPart {
                    set: Arc::new(set),
                    routes: Arc::new(patterns.into_values().collect()),
                });
                true
            }
            Err(_) => false,
        }
    }

    /// The routes a request for `host` and `path` may match, in priority order: those of its
    /// exact name, of a wildcard one label above it, of a host regex it matches, of its path
    /// or a prefix of it (routes without a host), and those that may match anything. The cost
    /// does not grow with the number of routes of other hosts and paths.
    fn candidates<'t>(&'t self, full_host: &str, path: &str) -> impl Iterator<Item = usize> + 't {
        // Index keys carry no trailing dot; the rules themselves accept either form.
        let host = full_host.strip_suffix('.').unwrap_or(full_host);
        let exact = self.by_host.get(host).map_or(&[][..], Vec::as_slice);
        let under = host
            .split_once('.')
            .and_then(|(_, up)| self.by_under.get(up))
            .map_or(&[][..], Vec::as_slice);
        Merge {
            lists: [exact, under, &self.any_host[..]],
            pos: &self.pos,
            owned: [
                self.regex_candidates(full_host),
                self.path_candidates(host, path),
            ],
            at: [0; 5],
        }
    }

    /// The routes whose literal path the request's is, or starts with: those without a host,
    /// and those of its exact host. In order.
    fn path_candidates(&self, host: &str, path: &str) -> Vec<usize> {
        let mut out = Vec::new();
        self.by_path.candidates(path, &self.pos, &mut out);
        if let Some(index) = self.by_host_path.get(host) {
            index.candidates(path, &self.pos, &mut out);
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The routes whose host regex matches `host` (as the request gives it), in order.
    fn regex_candidates(&self, host: &str) -> Vec<usize> {
        let Some(r) = &self.by_regex else {
            return Vec::new();
        };
        let mut out = Vec::new();
        r.base.matches(host, &self.pos, &mut out);
        for recent in &r.recent {
            recent.matches(host, &self.pos, &mut out);
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The highest-priority route on `entrypoint` for a connection that is (or is not) TLS
    /// whose rule matches.
    pub fn lookup(&self, entrypoint: &str, tls: bool, req: &RequestView<'_>) -> Option<&Route> {
        self.candidates(req.host, req.path)
            .map(|i| &*self.routes[i])
            .find(|route| {
                route.tls == tls
                    && route.entrypoints.iter().any(|e| e == entrypoint)
                    && route.rule.matches(req)
            })
    }

    /// [`Self::lookup`] without the index: every route in priority order (what the index
    /// must always agree with; for tests).
    pub fn lookup_linear(
        &self,
        entrypoint: &str,
        tls: bool,
        req: &RequestView<'_>,
    ) -> Option<&Route> {
        self.routes.iter().map(|r| &**r).find(|route| {
            route.tls == tls
                && route.entrypoints.iter().any(|e| e == entrypoint)
                && route.rule.matches(req)
        })
    }

    /// A stable text form for logs, diffs and snapshot tests. Everything a request's handling
    /// depends on is in it, since a table whose description did not change is no reload (not
    /// logged or counted, health checks not reconciled): a middleware's settings edited in a
    /// file must show. [`diff`] finds the lines that changed without formatting the rest.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut middlewares = BTreeMap::new();
        for r in &self.routes {
            for (name, mw) in &r.middlewares {
                middlewares.insert(name.as_str(), mw);
            }
            out.extend(r.certificate_line());
        }
        for (name, mw) in middlewares {
            out.push(middleware_line(name, mw));
        }
        out.extend(self.default_certificate_line());
        out.extend(self.routes.iter().map(|r| r.line()));
        out.extend(self.tls_options_lines());
        for s in self.services.values() {
            s.describe(&mut out);
        }
        out.extend(self.tail_lines());
        out
    }

    /// The default store's generated certificate, described.
    pub(crate) fn default_certificate_line(&self) -> Option<String> {
        let (resolver, names) = self.default_generated.as_ref()?;
        Some(format!(
            "default certificate {resolver} {}",
            names.join(",")
        ))
    }

    /// The TLS options, described.
    pub(crate) fn tls_options_lines(&self) -> impl Iterator<Item = String> + '_ {
        self.tls_options
            .iter()
            .map(|(name, o)| format!("tls options {name} {o:?}"))
    }

    /// The TCP and UDP routes and the issues, described.
    pub(crate) fn tail_lines(&self) -> Vec<String> {
        let mut out = self.tcp.describe();
        out.extend(self.udp.describe());
        for i in &self.issues {
            out.push(format!(
                "{} {}: {}{}",
                i.level,
                i.source,
                i.key.as_ref().map_or(String::new(), |l| format!("{l}: ")),
                i.message
            ));
        }
        out
    }
}

/// A middleware a route uses, described by its settings.
pub(crate) fn middleware_line(name: &str, mw: &Middleware) -> String {
    let settings = serde_json::to_string(mw).unwrap_or_else(|e| format!("{e}"));
    format!("middleware {name} {settings}")
}

impl Route {
    /// The route, described (its middlewares by name: their settings have their own lines).
    pub(crate) fn line(&self) -> String {
        let mws: Vec<&str> = self.middlewares.iter().map(|(n, _)| n.as_str()).collect();
        format!(
            "route {} [{}] prio={} eps={} mws={} -> {}{}",
            self.name,
            self.rule,
            self.priority,
            self.entrypoints.join(","),
            mws.join(","),
            self.service,
            if self.tls {
                format!(" tls={}", self.tls_options)
            } else {
                String::new()
            }
        )
    }

    /// Its certificate and access log settings, described, when it has any.
    pub(crate) fn certificate_line(&self) -> Option<String> {
        if self.certresolver.is_none() && self.domains.is_empty() && self.access_logs.is_none() {
            return None;
        }
        Some(format!(
            "route {} resolver={} domains={} accesslogs={}",
            self.name,
            self.certresolver.as_deref().unwrap_or("-"),
            self.domains
                .iter()
                .map(|d| d.join(","))
                .collect::<Vec<_>>()
                .join(";"),
            self.access_logs.map_or("-".into(), |a| a.to_string())
        ))
    }

    /// Whether `other` is described as this route is (what [`Route::line`] and
    /// [`Route::certificate_line`] print, and its middlewares' settings), without
    /// formatting either: the rules compared by their shared parse first.
    pub(crate) fn described_as(&self, other: &Route) -> bool {
        self.name == other.name
            && self.priority == other.priority
            && self.tls == other.tls
            && self.service == other.service
            && self.entrypoints == other.entrypoints
            && self.middlewares == other.middlewares
            && self.tls_options == other.tls_options
            && self.certresolver == other.certresolver
            && self.domains == other.domains
            && self.access_logs == other.access_logs
            && (Arc::ptr_eq(&self.rule, &other.rule)
                || self.rule.to_string() == other.rule.to_string())
    }
}

impl Service {
    /// Its lines: the backends' addresses and states, and its settings when any is not the
    /// default.
    pub(crate) fn describe(&self, out: &mut Vec<String>) {
        let s = self;
        let backends: Vec<String> = s
            .backends
            .iter()
            .map(|b| {
                format!(
                    "{}={}({})",
                    b.container().unwrap_or("-"),
                    b.target.as_ref().map_or("-".into(), Target::to_string),
                    b.status
                )
            })
            .collect();
        out.push(format!("service {} {}", s.name, backends.join(" ")));
        if let Some(settings) = settings_of(s) {
            out.push(format!("service {} {settings}", s.name));
        }
        if s.health.is_some() || s.internal.is_some() {
            out.push(format!(
                "service {} health={} internal={:?}",
                s.name,
                s.health.as_ref().map_or_else(
                    || "-".into(),
                    |h| serde_json::to_string(h).unwrap_or_default()
                ),
                s.internal
            ));
        }
    }
}

/// A service's settings other than its backends' addresses, when any is not the default (most
/// services: none, and no line): how requests reach the backends. The transport can hold keys,
/// so it is described by a hash with the process's random keys.
fn settings_of(s: &Service) -> Option<String> {
    use std::hash::BuildHasher;
    static KEYS: std::sync::OnceLock<std::hash::RandomState> = std::sync::OnceLock::new();
    let mut parts = Vec::new();
    if !s.pass_host_header {
        parts.push("passhostheader=false".to_owned());
    }
    if let Some((name, cookie)) = &s.sticky {
        parts.push(format!("sticky={name}:{cookie:?}"));
    }
    if s.kind != Kind::Servers {
        parts.push(format!("kind={:?}", s.kind));
    }
    if s.transport != crate::dynamic::ServersTransport::default() {
        let hash = KEYS.get_or_init(Default::default).hash_one(&s.transport);
        parts.push(format!("transport=#{hash:016x}"));
    }
    for b in &s.backends {
        // Server URLs are `scheme://host:port` (decoded so: no credentials), their path apart
        // (kept only with `preservePath`); a plain `http://` one of weight 1 without a path
        // says nothing its address does not.
        if b.weight != 1 || !b.url.starts_with("http://") || !b.path.is_empty() {
            parts.push(format!("server={}{}*{}", b.url, b.path, b.weight));
        }
        // The sticky cookie's value is made from the URL as written.
        if s.sticky.is_some() && b.written != b.url {
            parts.push(format!("written={}", b.written));
        }
    }
    (!parts.is_empty()).then(|| parts.join(" "))
}

pub use super::changes::diff;

/// Lists of route ids in position order and lists of positions, merged into one ascending
/// sequence of positions (a route in several lists comes once per list it is in; the lookup
/// stops at the first match anyway).
struct Merge<'a> {
    lists: [&'a [u32]; 3],
    /// Each id's position.
    pos: &'a [u32],
    /// The host regexes' and the paths' candidates.
    owned: [Vec<usize>; 2],
    at: [usize; 5],
}

impl Iterator for Merge<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        let mut best: Option<(usize, usize)> = None;
        let mut consider = |k: usize, v: Option<usize>| {
            if let Some(v) = v {
                if best.is_none_or(|(_, b)| v < b) {
                    best = Some((k, v));
                }
            }
        };
        for (k, list) in self.lists.iter().enumerate() {
            consider(
                k,
                list.get(self.at[k])
                    .map(|&id| self.pos[id as usize] as usize),
            );
        }
        for (k, list) in self.owned.iter().enumerate() {
            consider(3 + k, list.get(self.at[3 + k]).copied());
        }
        let (k, v) = best?;
        self.at[k] += 1;
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use crate::model::rule::RequestView;

    #[test]
    fn a_diff_is_the_difference_of_the_two_descriptions() {
        let internal = crate::provider::internal::always();
        let yaml = |host: &str| {
            format!("http:\n  routers:\n    r:\n      rule: Host(`{host}`)\n      service: noop@internal\n")
        };
        let old = crate::provider::file::compile_yaml(&yaml("a.x"), &[&internal]);
        let new = crate::provider::file::compile_yaml(&yaml("b.x"), &[&internal]);
        let lines: std::collections::BTreeSet<String> = old.describe().into_iter().collect();
        let after: std::collections::BTreeSet<String> = new.describe().into_iter().collect();
        let (added, removed) = super::diff(&old, &new);
        assert_eq!(added, after.difference(&lines).cloned().collect::<Vec<_>>());
        assert_eq!(
            removed,
            lines.difference(&after).cloned().collect::<Vec<_>>()
        );
        assert!(!added.is_empty() && !removed.is_empty());
        assert!(added.iter().any(|l| l.contains("b.x")), "{added:?}");
        assert_eq!(super::diff(&new, &new), (vec![], vec![]));
    }

    #[test]
    fn a_preserved_server_path_goes_in_front_of_the_request_path_as_traefik_joins_them() {
        let backend = |path: &str| super::Backend {
            url: "http://10.0.0.1:80".into(),
            target: None,
            status: super::BackendStatus::Ready,
            origin: None,
            weight: 1,
            written: "http://10.0.0.1:80".into(),
            path: path.into(),
        };
        // Traefik's JoinURLPath (pkg/proxy/httputil): one slash between the two.
        for (base, path, want) in [
            ("", "/x", "/x"),
            ("/base", "/x", "/base/x"),
            ("/base/", "/x", "/base/x"),
            ("/base/", "/", "/base/"),
            ("/base", "/", "/base/"),
            ("/", "/x", "/x"),
            ("/a%2Fb", "/c%20d", "/a%2Fb/c%20d"),
            ("/base", "*", "/base/*"),
            // Left empty by stripPrefix: Go's client sends `/`; JoinURLPath gives `/base/`.
            ("", "", "/"),
            ("/base", "", "/base/"),
            ("/base/", "", "/base/"),
        ] {
            assert_eq!(backend(base).target_path(path), want, "{base} + {path}");
        }
    }

    #[test]
    fn every_service_setting_a_request_depends_on_changes_the_description_and_no_secret() {
        // A table whose description did not change is not swapped in: a service setting
        // missing from it would never reach the requests.
        let internal = crate::provider::internal::always();
        let base = "http:\n  routers:\n    r:\n      rule: Host(`a.x`)\n      service: s\n  services:\n    s:\n      loadBalancer:\n        servers:\n          - url: http://10.0.0.1:80\n";
        let old = crate::provider::file::compile_yaml(base, &[&internal]);
        for extra in [
            "        passHostHeader: false\n",
            "        sticky:\n          cookie:\n            name: c\n",
            "        serversTransport: t\n",
        ] {
            let mut yaml = base.to_owned();
            yaml.push_str(extra);
            if extra.contains("serversTransport") {
                yaml.push_str("  serversTransports:\n    t:\n      insecureSkipVerify: true\n");
            }
            let new = crate::provider::file::compile_yaml(&yaml, &[&internal]);
            assert!(new.issues.is_empty(), "{extra}: {:?}", new.issues);
            let (added, _) = super::diff(&old, &new);
            assert!(!added.is_empty(), "{extra}: no change described");
        }
        // A server's scheme, path or weight, with the same address.
        for server in ["https://10.0.0.1:80", "h2c://10.0.0.1:80"] {
            let new = crate::provider::file::compile_yaml(
                &base.replace("http://10.0.0.1:80", server),
                &[&internal],
            );
            let (added, _) = super::diff(&old, &new);
            assert!(!added.is_empty(), "{server}: no change described");
        }
        let weighted = crate::provider::file::compile_yaml(
            &base.replace(
                "url: http://10.0.0.1:80",
                "url: http://10.0.0.1:80\n            weight: 3",
            ),
            &[&internal],
        );
        assert!(!super::diff(&old, &weighted).0.is_empty(), "weight");
        // A preserved path; a path without preservePath is not used (a warning says so).
        let preserved = crate::provider::file::compile_yaml(
            &base.replace(
                "url: http://10.0.0.1:80",
                "url: http://10.0.0.1:80/base\n            preservePath: true",
            ),
            &[&internal],
        );
        assert!(preserved.issues.is_empty(), "{:?}", preserved.issues);
        assert!(!super::diff(&old, &preserved).0.is_empty(), "preservePath");
        let unused = crate::provider::file::compile_yaml(
            &base.replace("http://10.0.0.1:80", "http://10.0.0.1:80/base"),
            &[&internal],
        );
        assert_eq!(unused.services["s@file"].backends[0].path, "");
        assert!(
            unused.issues.iter().any(|i| i.level == "warning"
                && i.message.contains("\"/base\"")
                && i.message.contains("preservePath")),
            "{:?}",
            unused.issues
        );
        // Credentials in a URL are refused, and not written out in the error.
        let secret = crate::provider::file::compile_yaml(
            &base.replace("http://10.0.0.1:80", "http://user:s3cret@10.0.0.1:80"),
            &[&internal],
        );
        assert!(!secret.issues.is_empty());
        assert!(
            secret.issues.iter().all(|i| !i.message.contains("s3cret")),
            "{:?}",
            secret.issues
        );
        // Unchanged settings describe the same.
        assert_eq!(
            super::diff(
                &old,
                &crate::provider::file::compile_yaml(base, &[&internal])
            ),
            (vec![], vec![])
        );
    }

    #[test]
    fn host_regexes_too_large_to_combine_are_scanned_and_still_found() {
        let internal = crate::provider::internal::always();
        let yaml = "http:\n  routers:\n    re:\n      rule: HostRegexp(`^a\\.`)\n      priority: 10\n      service: noop@internal\n    exact:\n      rule: Host(`a.x`)\n      priority: 5\n      service: noop@internal\n    any:\n      rule: PathPrefix(`/`)\n      priority: 1\n      service: noop@internal\n";
        let combined = crate::provider::file::compile_yaml(yaml, &[&internal]);
        assert!(combined.by_regex.is_some());
        let scanned = combined.clone().index_within(1);
        assert!(
            scanned.by_regex.is_none(),
            "a 1-byte limit cannot hold the set"
        );
        let headers = http::HeaderMap::new();
        for (host, want) in [("a.x", "re@file"), ("a.y", "re@file"), ("b.x", "any@file")] {
            let view = RequestView {
                host,
                path: "/",
                query: None,
                method: "GET",
                headers: &headers,
                client_ip: std::net::IpAddr::from([127, 0, 0, 1]),
            };
            for t in [&combined, &scanned] {
                let got = t.lookup("https", false, &view).map(|r| r.name.as_str());
                assert_eq!(got, Some(want), "{host}");
            }
        }
    }

    #[test]
    fn one_hosts_many_path_routes_are_looked_up_not_scanned() {
        let internal = crate::provider::internal::always();
        let mut yaml = String::from("http:\n  routers:\n");
        for i in 0..1000 {
            yaml.push_str(&format!("    p{i}:\n      rule: Host(`a.x`) && PathPrefix(`/p{i}/`)\n      service: noop@internal\n"));
        }
        yaml.push_str("    root:\n      rule: Host(`a.x`)\n      service: noop@internal\n");
        let t = crate::provider::file::compile_yaml(&yaml, &[&internal]);
        let candidates: Vec<usize> = t.candidates("a.x", "/p500/x").collect();
        // The one path route, the host's route without a path, and nothing of the others.
        assert!(candidates.len() <= 4, "{}", candidates.len());
        let headers = http::HeaderMap::new();
        let view = RequestView {
            host: "a.x",
            path: "/p500/x",
            query: None,
            method: "GET",
            headers: &headers,
            client_ip: std::net::IpAddr::from([127, 0, 0, 1]),
        };
        let got = t.lookup("https", false, &view).map(|r| r.name.as_str());
        assert_eq!(got, Some("p500@file"));
        let view = RequestView {
            path: "/other",
            ..view
        };
        let got = t.lookup("https", false, &view).map(|r| r.name.as_str());
        assert_eq!(got, Some("root@file"));
    }
}
