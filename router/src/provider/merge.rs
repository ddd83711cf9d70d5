//! The containers' parts ([`super::fragments`]) merged into a container provider's snapshot,
//! as Traefik merges its containers' configurations: definitions of one name from several
//! containers merge when identical (a service adds their servers) and are dropped, with an
//! error on each container, when they differ; a container that does not run gives way to the
//! running ones (Traefik leaves it out; here it stays, its backend answering 503).
//!
//! Each name's merge depends on that name's definitions only, so the provider's next snapshot
//! is made from its last one ([`Merged`]): an event changes a container of thousands, and only
//! the names that container defines (and the names of any other container of its name, whose
//! not running makes its definitions give way) are merged again; every other definition is the
//! last snapshot's, shared. Merging all 10,000 containers' again (their definitions sorted by
//! name) was a third of an event's work. The result is the whole merge's (property tested,
//! `router/tests/model_props.rs`); whatever the update does not cover is merged whole: the
//! first snapshot, other settings, many containers changed at once, a changed container with
//! TCP or UDP definitions.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use super::container::{ContainerInfo, ContainerSettings, RunState};
use super::fragments::{Fragment, Part};
use super::mixed::MixMap;
use crate::dynamic::{Issue, Middleware, Router, Server, ServerStatus, Service, Snapshot};

/// A definition by name, from a container: (name, container, definition).
type Def<'a, T> = (&'a str, &'a str, &'a Arc<T>);

/// The kinds of definition merged by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Kind {
    Router,
    Service,
    Middleware,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Router, Kind::Service, Kind::Middleware];

    fn word(self) -> &'static str {
        match self {
            Kind::Router => "router",
            Kind::Service => "service",
            Kind::Middleware => "middleware",
        }
    }

    /// The names a part defines of this kind.
    fn names(self, part: &Part) -> Box<dyn Iterator<Item = &str> + '_> {
        match self {
            Kind::Router => Box::new(part.routers.iter().map(|(n, _)| n.as_str())),
            Kind::Service => Box::new(part.services.iter().map(|(n, _)| n.as_str())),
            Kind::Middleware => Box::new(part.middlewares.iter().map(|(n, _)| n.as_str())),
        }
    }
}

/// The conflicts found, by kind and name: the errors each gives its containers.
type Conflicts = BTreeMap<(Kind, String), Vec<Issue>>;

/// The error a conflict gives each container that defines the name.
fn conflict(kind: Kind, name: &str, containers: &[&str]) -> Vec<Issue> {
    containers
        .iter()
        .map(|c| Issue {
            source: (*c).to_owned(),
            level: "error",
            key: None,
            message: format!(
                "{} {name:?} is defined differently on several containers; disabled",
                kind.word()
            ),
        })
        .collect()
}

/// The definitions of `defs` from running containers: what Traefik merges (it leaves the
/// others out), for a name whose definitions differ.
fn running_only<'a, T>(defs: &[Def<'a, T>], stopped: &dyn Fn(&str) -> bool) -> Vec<Def<'a, T>> {
    defs.iter()
        .filter(|(_, c, _)| !stopped(c))
        .copied()
        .collect()
}

/// The containers of `defs`.
fn containers_of<'a, T>(defs: &[Def<'a, T>]) -> Vec<&'a str> {
    defs.iter().map(|(_, c, _)| *c).collect()
}

/// A router's definitions (in container order) merged, or the containers of a conflict.
fn router<'a>(
    defs: &[Def<'a, Router>],
    stopped: &dyn Fn(&str) -> bool,
) -> Result<Arc<Router>, Vec<&'a str>> {
    // Equal but for where they are defined.
    let same = |a: &Router, b: &Router| {
        Router {
            sources: Vec::new(),
            ..a.clone()
        } == Router {
            sources: Vec::new(),
            ..b.clone()
        }
    };
    let with_sources = |one: &Router, from: &[Def<'a, Router>]| {
        let mut r = one.clone();
        r.sources = from.iter().map(|(_, c, _)| (*c).to_owned()).collect();
        Arc::new(r)
    };
    let first = defs[0].2;
    if defs.len() == 1 {
        // Its sources are its container already.
        return Ok(first.clone());
    }
    if defs[1..].iter().all(|(_, _, r)| same(r, first)) {
        return Ok(with_sources(first, defs));
    }
    let live = running_only(defs, stopped);
    match live.split_first() {
        Some((one, rest))
            if rest.iter().all(|(_, _, r)| same(r, one.2)) && live.len() < defs.len() =>
        {
            Ok(with_sources(one.2, &live))
        }
        _ => Err(containers_of(defs)),
    }
}

/// A service's definitions merged, or the containers of a conflict.
fn service<'a>(
    defs: &[Def<'a, Service>],
    stopped: &dyn Fn(&str) -> bool,
) -> Result<Arc<Service>, Vec<&'a str>> {
    merge_services(defs)
        .or_else(|| {
            let live = running_only(defs, stopped);
            (!live.is_empty() && live.len() < defs.len())
                .then(|| merge_services(&live))
                .flatten()
        })
        .ok_or_else(|| containers_of(defs))
}

/// A middleware's definitions merged, or the containers of a conflict.
fn middleware<'a>(
    defs: &[Def<'a, Middleware>],
    stopped: &dyn Fn(&str) -> bool,
) -> Result<Arc<Middleware>, Vec<&'a str>> {
    if defs
        .iter()
        .all(|(_, _, m)| crate::dynamic::same(m, defs[0].2))
    {
        return Ok(defs[0].2.clone());
    }
    let live = running_only(defs, stopped);
    match live.first() {
        Some(one)
            if live.len() < defs.len()
                && live.iter().all(|(_, _, m)| crate::dynamic::same(m, one.2)) =>
        {
            Ok(one.2.clone())
        }
        _ => Err(containers_of(defs)),
    }
}

/// One service from the containers defining it: their servers together (one per URL) when
/// the rest is the same on each, else `None`.
fn merge_services(defs: &[Def<'_, Service>]) -> Option<Arc<Service>> {
    if defs.len() == 1 {
        return Some(defs[0].2.clone());
    }
    let mut merged = Service::clone(defs[0].2);
    for (_, _, s) in &defs[1..] {
        let mut a = merged.load_balancer.clone();
        let b = &s.load_balancer;
        a.servers = b.servers.clone();
        if a != *b {
            return None;
        }
        // As Traefik's `ServersLoadBalancer.Merge`: a URL once, the first container's (by
        // name). A container that is not running gives Traefik no server at all, so a ready
        // server takes the place of one that is not.
        for server in &b.servers {
            let servers = &mut merged.load_balancer.servers;
            match servers.iter_mut().find(|s| s.url == server.url) {
                None => servers.push(server.clone()),
                Some(kept) => {
                    if kept.status != ServerStatus::Ready && server.status == ServerStatus::Ready {
                        *kept = server.clone();
                    }
                }
            }
        }
    }
    merged.load_balancer.servers.sort_by(|a, b| {
        let key = |s: &Server| s.origin.as_ref().map(|o| (o.name.clone(), o.id.clone()));
        key(a).cmp(&key(b)).then_with(|| a.url.cmp(&b.url))
    });
    Some(Arc::new(merged))
}

/// Calls `f` with each name and its definitions, in name order, each name's in the order
/// they were added.
fn for_each_name<'a, T>(mut defs: Vec<Def<'a, T>>, mut f: impl FnMut(&'a str, &[Def<'a, T>])) {
    defs.sort_by(|a, b| a.0.cmp(b.0));
    let mut rest = &defs[..];
    while let Some(first) = rest.first() {
        let n = rest.iter().take_while(|d| d.0 == first.0).count();
        f(first.0, &rest[..n]);
        rest = &rest[n..];
    }
}

/// Every container's part merged at once (`sorted` by name then id, `parts` in the same
/// order): the snapshot, the conflicts it found, and the TCP and UDP merge's issues.
fn whole(
    sorted: &[&ContainerInfo],
    parts: &[Arc<Fragment>],
    s: &ContainerSettings,
) -> (Snapshot, Conflicts, Vec<Issue>) {
    let mut tcp = super::container_tcp::TcpMerger::default();
    // (name, container, definition), in container order: sorted by name (stably), each
    // name's run merged. Flat lists, not a map of lists: 20,000 routers made 20,000 map
    // entries and as many small lists.
    let mut routers: Vec<Def<'_, Router>> = Vec::new();
    let mut services: Vec<Def<'_, Service>> = Vec::new();
    let mut middlewares: Vec<Def<'_, Middleware>> = Vec::new();
    let mut stopped: HashSet<&str> = HashSet::new();
    let mut issues = Vec::new();
    let mut broken = Vec::new();
    for (c, part) in sorted.iter().zip(parts) {
        if let Some(config) = &part.config {
            let name = c.name.as_str();
            if c.state != RunState::Running {
                stopped.insert(name);
            }
            tcp.add(name, config.tcp.clone(), config.udp.clone());
            routers.extend(config.routers.iter().map(|(n, r)| (n.as_str(), name, r)));
            services.extend(config.services.iter().map(|(n, v)| (n.as_str(), name, v)));
            middlewares.extend(
                config
                    .middlewares
                    .iter()
                    .map(|(n, m)| (n.as_str(), name, m)),
            );
        }
        issues.extend(part.issues.iter().cloned());
        broken.extend(part.broken.iter().cloned());
    }
    let mut snap = Snapshot {
        provider: s.provider.clone(),
        ..Default::default()
    };
    let mut tcp_issues = Vec::new();
    tcp.finish(&mut snap, &mut tcp_issues);
    let is_stopped = |c: &str| stopped.contains(c);
    let mut conflicts = Conflicts::new();
    let mut found = |kind: Kind, name: &str, containers: Vec<&str>| {
        conflicts.insert((kind, name.to_owned()), conflict(kind, name, &containers));
    };
    let mut merged_routers = Vec::new();
    for_each_name(routers, |name, defs| match router(defs, &is_stopped) {
        Ok(r) => merged_routers.push((name.to_owned(), r)),
        Err(cs) => found(Kind::Router, name, cs),
    });
    let mut merged_services = Vec::new();
    for_each_name(services, |name, defs| match service(defs, &is_stopped) {
        Ok(v) => merged_services.push((name.to_owned(), v)),
        Err(cs) => found(Kind::Service, name, cs),
    });
    let mut merged_middlewares = Vec::new();
    for_each_name(middlewares, |name, defs| {
        match middleware(defs, &is_stopped) {
            Ok(m) => merged_middlewares.push((name.to_owned(), m)),
            Err(cs) => found(Kind::Middleware, name, cs),
        }
    });
    let http = &mut snap.config.http;
    http.routers = merged_routers.into_iter().collect();
    http.services = merged_services.into_iter().collect();
    http.middlewares = merged_middlewares.into_iter().collect();
    issues.extend(conflicts.values().flatten().cloned());
    issues.extend(tcp_issues.iter().cloned());
    finish_lists(&mut snap, issues, broken);
    (snap, conflicts, tcp_issues)
}

/// The snapshot's issues and broken elements, sorted, each once.
fn finish_lists(
    snap: &mut Snapshot,
    mut issues: Vec<Issue>,
    mut broken: Vec<crate::dynamic::Broken>,
) {
    issues.sort();
    issues.dedup();
    broken.sort();
    broken.dedup();
    snap.issues = issues;
    snap.broken = broken;
}

/// The snapshot of `sorted` containers (by name then id) from their `parts`, merged whole,
/// with nothing remembered (for tests: what [`snapshot`] must always give).
pub(super) fn merge_whole(
    sorted: &[&ContainerInfo],
    parts: &[Arc<Fragment>],
    s: &ContainerSettings,
) -> Snapshot {
    whole(sorted, parts, s).0
}

/// One container in a [`Merged`], by its part.
struct Entry {
    name: String,
    id: String,
    running: bool,
    part: Arc<Fragment>,
}

/// A container provider's last snapshot with what its next is made from.
pub(super) struct Merged {
    settings: ContainerSettings,
    /// The containers, by their part's address (a part the fragments' memo gave again is the
    /// same container, unchanged; the parts held here keep their addresses theirs).
    entries: MixMap<usize, Entry>,
    /// By kind and name, the containers defining it.
    defined: HashMap<(Kind, String), Vec<usize>>,
    /// By container name, its containers (Swarm tasks of one service share one).
    by_name: HashMap<String, Vec<usize>>,
    /// The containers whose part has issues or broken elements (few of thousands).
    noted: BTreeSet<usize>,
    conflicts: Conflicts,
    tcp_issues: Vec<Issue>,
    last: Arc<Snapshot>,
}

/// Every provider's [`Merged`], by provider name.
static MERGED: Mutex<Option<HashMap<String, Merged>>> = Mutex::new(None);

fn with_merged<T>(f: impl FnOnce(&mut HashMap<String, Merged>) -> T) -> T {
    f(MERGED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get_or_insert_with(HashMap::new))
}

fn address(part: &Arc<Fragment>) -> usize {
    Arc::as_ptr(part) as usize
}

/// The provider's snapshot of `containers` (in any order) from their `parts` (in the same
/// order): made from its last one where it can be, else merged whole.
pub(super) fn snapshot(
    containers: &[ContainerInfo],
    parts: &[Arc<Fragment>],
    s: &ContainerSettings,
) -> Arc<Snapshot> {
    // Taken out while in use: a snapshot of the same provider at the same time (tests) merges
    // whole, with the same result.
    let last = with_merged(|m| m.remove(&s.provider)).filter(|m| m.settings == *s);
    if let Some(mut merged) = last {
        if let Some(snap) = merged.update(containers, parts) {
            with_merged(|m| m.insert(s.provider.clone(), merged));
            return snap;
        }
    }
    let order = super::container::by_name(containers);
    let sorted: Vec<&ContainerInfo> = order.iter().map(|&i| &containers[i]).collect();
    let sorted_parts: Vec<Arc<Fragment>> = order.iter().map(|&i| parts[i].clone()).collect();
    let (snap, conflicts, tcp_issues) = whole(&sorted, &sorted_parts, s);
    let snap = Arc::new(snap);
    let merged = Merged::new(containers, parts, s, conflicts, tcp_issues, snap.clone());
    if let Some(merged) = merged {
        with_merged(|m| m.insert(s.provider.clone(), merged));
    }
    snap
}

impl Merged {
    /// The state after a whole merge; `None` when two containers share a part (the same
    /// container twice), which only a whole merge gets right.
    fn new(
        containers: &[ContainerInfo],
        parts: &[Arc<Fragment>],
        s: &ContainerSettings,
        conflicts: Conflicts,
        tcp_issues: Vec<Issue>,
        last: Arc<Snapshot>,
    ) -> Option<Merged> {
        let mut m = Merged {
            settings: s.clone(),
            entries: MixMap::with_capacity_and_hasher(containers.len(), Default::default()),
            defined: HashMap::new(),
            by_name: HashMap::new(),
            noted: BTreeSet::new(),
            conflicts,
            tcp_issues,
            last,
        };
        for (c, part) in containers.iter().zip(parts) {
            if !m.add(c, part) {
                return None;
            }
        }
        Some(m)
    }

    /// Adds a container; `false` when its part is another's.
    fn add(&mut self, c: &ContainerInfo, part: &Arc<Fragment>) -> bool {
        let at = address(part);
        if self.entries.contains_key(&at) {
            return false;
        }
        if let Some(config) = &part.config {
            for kind in Kind::ALL {
                for name in kind.names(config) {
                    self.defined
                        .entry((kind, name.to_owned()))
                        .or_default()
                        .push(at);
                }
            }
        }
        self.by_name.entry(c.name.clone()).or_default().push(at);
        if !part.issues.is_empty() || !part.broken.is_empty() {
            self.noted.insert(at);
        }
        self.entries.insert(
            at,
            Entry {
                name: c.name.clone(),
                id: c.id.clone(),
                running: c.state == RunState::Running,
                part: part.clone(),
            },
        );
        true
    }

    /// Removes a container, the names it defined to `affected`.
    fn remove(&mut self, at: usize, affected: &mut BTreeSet<(Kind, String)>) {
        let Some(e) = self.entries.remove(&at) else {
            return;
        };
        self.noted.remove(&at);
        if let Some(config) = &e.part.config {
            for kind in Kind::ALL {
                for name in kind.names(config) {
                    let key = (kind, name.to_owned());
                    if let Some(list) = self.defined.get_mut(&key) {
                        list.retain(|&p| p != at);
                        if list.is_empty() {
                            self.defined.remove(&key);
                        }
                    }
                    affected.insert(key);
                }
            }
        }
        if let Some(list) = self.by_name.get_mut(&e.name) {
            list.retain(|&p| p != at);
            if list.is_empty() {
                self.by_name.remove(&e.name);
            }
        }
    }

    /// The next snapshot, made from the last: `None` when it is to be merged whole (the
    /// state is then left as it was, and dropped).
    fn update(
        &mut self,
        containers: &[ContainerInfo],
        parts: &[Arc<Fragment>],
    ) -> Option<Arc<Snapshot>> {
        let now: MixMap<usize, usize> = parts
            .iter()
            .enumerate()
            .map(|(i, p)| (address(p), i))
            .collect();
        if now.len() != parts.len() {
            return None;
        }
        let gone: Vec<usize> = self
            .entries
            .keys()
            .filter(|at| !now.contains_key(at))
            .copied()
            .collect();
        let new: Vec<usize> = now
            .iter()
            .filter(|(at, _)| !self.entries.contains_key(at))
            .map(|(_, &i)| i)
            .collect();
        if gone.is_empty() && new.is_empty() {
            return Some(self.last.clone());
        }
        let limit = (self.entries.len() / 8).max(64);
        let tcp = |f: &Fragment| {
            f.config
                .as_ref()
                .is_some_and(|c| !c.tcp.is_empty() || !c.udp.is_empty())
        };
        if gone.len() + new.len() > limit
            || gone.iter().any(|at| tcp(&self.entries[at].part))
            || new.iter().any(|&i| tcp(&parts[i]))
        {
            return None;
        }
        let mut affected = BTreeSet::new();
        // The names the containers gone defined, and those of every container of a changed
        // one's name (the new ones among them): whether one of them does not run decides how
        // their definitions merge.
        let mut names: BTreeSet<String> = gone
            .iter()
            .map(|at| self.entries[at].name.clone())
            .collect();
        names.extend(new.iter().map(|&i| containers[i].name.clone()));
        for at in gone {
            self.remove(at, &mut affected);
        }
        for &i in &new {
            self.add(&containers[i], &parts[i]);
        }
        for name in &names {
            for at in self.by_name.get(name).into_iter().flatten() {
                if let Some(config) = &self.entries[at].part.config {
                    for kind in Kind::ALL {
                        affected.extend(kind.names(config).map(|n| (kind, n.to_owned())));
                    }
                }
            }
        }
        let mut snap = Snapshot {
            provider: self.last.provider.clone(),
            config: self.last.config.clone(),
            ..Default::default()
        };
        for (kind, name) in affected {
            self.merge_name(kind, name, &mut snap);
        }
        let mut issues: Vec<Issue> = Vec::new();
        let mut broken = Vec::new();
        for at in &self.noted {
            let part = &self.entries[at].part;
            issues.extend(part.issues.iter().cloned());
            broken.extend(part.broken.iter().cloned());
        }
        issues.extend(self.conflicts.values().flatten().cloned());
        issues.extend(self.tcp_issues.iter().cloned());
        finish_lists(&mut snap, issues, broken);
        self.last = Arc::new(snap);
        Some(self.last.clone())
    }

    /// Merges one name's definitions again into `snap`.
    fn merge_name(&mut self, kind: Kind, name: String, snap: &mut Snapshot) {
        let key = (kind, name);
        self.conflicts.remove(&key);
        let (kind, name) = &key;
        let mut from: Vec<&Entry> = self
            .defined
            .get(&key)
            .into_iter()
            .flatten()
            .map(|at| &self.entries[at])
            .collect();
        let http = &mut snap.config.http;
        if from.is_empty() {
            match kind {
                Kind::Router => http.routers.remove(name).map(drop),
                Kind::Service => http.services.remove(name).map(drop),
                Kind::Middleware => http.middlewares.remove(name).map(drop),
            };
            return;
        }
        from.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
        // As the whole merge: a container of this name is routed and does not run.
        let stopped = |c: &str| {
            self.by_name.get(c).is_some_and(|all| {
                all.iter().any(|at| {
                    let e = &self.entries[at];
                    !e.running && e.part.config.is_some()
                })
            })
        };
        let conflict_at = match kind {
            Kind::Router => {
                let defs = defs(&from, name, |p| &p.routers);
                put(&mut http.routers, name, router(&defs, &stopped))
            }
            Kind::Service => {
                let defs = defs(&from, name, |p| &p.services);
                put(&mut http.services, name, service(&defs, &stopped))
            }
            Kind::Middleware => {
                let defs = defs(&from, name, |p| &p.middlewares);
                put(&mut http.middlewares, name, middleware(&defs, &stopped))
            }
        };
        if let Some(containers) = conflict_at {
            let issues = conflict(
                *kind,
                name,
                &containers.iter().map(String::as_str).collect::<Vec<_>>(),
            );
            self.conflicts.insert(key, issues);
        }
    }
}

/// The definitions of `name` by the containers `from`, in their order.
fn defs<'a, T>(
    from: &[&'a Entry],
    name: &str,
    list: impl Fn(&'a Part) -> &'a [(String, Arc<T>)],
) -> Vec<Def<'a, T>> {
    from.iter()
        .filter_map(|e| {
            let part = e.part.config.as_ref()?;
            let (n, def) = list(part).iter().find(|(n, _)| n == name)?;
            Some((n.as_str(), e.name.as_str(), def))
        })
        .collect()
}

/// Puts a name's merge into `map`: the merged definition, or none (a conflict, whose
/// containers are returned).
fn put<T>(
    map: &mut crate::dynamic::Defs<T>,
    name: &str,
    merged: Result<Arc<T>, Vec<&str>>,
) -> Option<Vec<String>> {
    match merged {
        Ok(v) => {
            map.insert(name.to_owned(), v);
            None
        }
        Err(containers) => {
            map.remove(name);
            Some(containers.into_iter().map(str::to_owned).collect())
        }
    }
}
