//! The next table made from the one in service instead of compiled whole, when one provider's
//! new snapshot differs from the one that table was made from only in some HTTP routers,
//! load-balancer services and middlewares: nearly every Docker event (a container started,
//! stopped or relabelled). Only those routers are compiled; the other routes and services are
//! shared with the table in service (`Arc`s), the route list is spliced and the index's lists
//! moved. At 10,000 containers a whole compile is tens of milliseconds of CPU for every such
//! event.
//!
//! A patch is made only where it gives exactly the table the whole compile gives (property
//! tested against it, `router/tests/model_props.rs`); anything else is compiled whole:
//! another part of the snapshot changed (TLS, TCP, UDP, transports, issues), the table in
//! service had issues of the compile's own, a patched router or service reports one, TLS
//! options other than the default, a composite service, a servers transport, a TCP router
//! on a patched HTTPS route's entry point, a chain changed, a service or middleware changed
//! or removed that a route not patched uses. Pure.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::compile::{self, CompileSettings, Known};
use super::table::{Kind, Route, RouteTable, Service};
use super::tls;
use crate::dynamic::{self, Middleware, Snapshot};

/// What a table for service was made from, for the next one to be patched from it.
pub struct Made {
    /// This table's number (a table patched from it names it).
    pub(crate) id: u64,
    /// Every provider's snapshot, by provider name.
    pub(crate) snapshots: Vec<Arc<Snapshot>>,
    /// The settings compiled against.
    pub(crate) settings: CompileSettings,
    /// The compile reported issues beyond the snapshots' own (then nothing is patched: which
    /// routes they concern is not known).
    pub(crate) own_issues: bool,
    /// Some service of the table is composite (weighted, mirroring, failover): then nothing
    /// is patched. Worked out once for a table compiled whole (a patch adds plain load
    /// balancers only), not over every service at each patch.
    pub(crate) composite: bool,
    /// For a patched table: what changed from the table it was made from.
    pub(crate) patched: Option<Patched>,
    /// How many patches since the last whole compile.
    depth: u32,
    /// For a table compiled whole after another: why it was not patched.
    pub(crate) whole_because: Option<&'static str>,
}

/// Patches in a row before a whole compile: the rules remembered
/// ([`crate::model::rule::cache`]) are forgotten only by a whole compile, so a long run of
/// patches would keep the rules of every route removed meanwhile.
const MAX_DEPTH: u32 = 256;

/// What a patch changed.
pub(crate) struct Patched {
    /// The table patched ([`Made::id`]).
    pub(crate) base: u64,
    /// The positions of the routes removed in the table patched (in order).
    pub(crate) removed_at: Vec<usize>,
    /// The positions of the routes added in this table (in order). Route names are unique in
    /// a table and a new route's name is not a kept one's: these are exactly the routes of
    /// the names the patch removed or added, found without reading every route's name.
    pub(crate) added_at: Vec<usize>,
    /// The services removed, added or changed, by qualified name.
    pub(crate) services: BTreeSet<String>,
}

impl std::fmt::Debug for Made {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Made#{}", self.id)
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl Made {
    /// A table compiled whole.
    pub(crate) fn whole(
        snapshots: Vec<Arc<Snapshot>>,
        settings: CompileSettings,
        own_issues: bool,
        composite: bool,
    ) -> Made {
        Made {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            snapshots,
            settings,
            own_issues,
            composite,
            patched: None,
            depth: 0,
            whole_because: None,
        }
    }
}

/// `prev` patched into the table `snapshots` (sorted by provider) make, or why it must be
/// compiled whole.
pub(crate) fn patch(
    prev: &RouteTable,
    snapshots: &[Arc<Snapshot>],
    s: &CompileSettings,
) -> Result<RouteTable, &'static str> {
    let made = prev
        .made
        .as_deref()
        .ok_or("the table in service was not compiled for service")?;
    if made.own_issues {
        return Err("the table in service has issues of its own");
    }
    if made.depth >= MAX_DEPTH {
        return Err("patched too many times in a row");
    }
    if made.settings != *s || made.snapshots.len() != snapshots.len() {
        return Err("the settings or the providers changed");
    }
    let (old, new) = one_changed(&made.snapshots, snapshots)?;
    let middlewares_changed: Vec<String> =
        changed(&old.config.http.middlewares, &new.config.http.middlewares)
            .into_iter()
            .map(|name| {
                // A chain's members are what its users hold, not its name: which routes use
                // it is not known from them.
                let chain = |c: &Snapshot| {
                    matches!(
                        c.config.http.middlewares.get(name).map(|m| &**m),
                        Some(Middleware::Chain { .. })
                    )
                };
                if chain(old) || chain(new) {
                    return Err("a changed middleware is a chain");
                }
                Ok(dynamic::qualify(name, &new.provider))
            })
            .collect::<Result<_, _>>()?;
    let services = changed(&old.config.http.services, &new.config.http.services);
    let routers = changed(&old.config.http.routers, &new.config.http.routers);
    let provider = &new.provider;

    // Services: every one of the table's a plain load balancer (no composite to settle).
    if made.composite {
        return Err("a composite service");
    }
    let mut table_services = prev.services.clone();
    let mut checked = prev
        .checked
        .clone()
        .unwrap_or_else(|| RouteTable::checked_of(&prev.services));
    let mut services_changed = BTreeSet::new();
    for name in services {
        let q = dynamic::qualify(name, provider);
        table_services.remove(&q);
        checked.remove(&q);
        if let Some(svc) = new.config.http.services.get(name) {
            let svc = plain_service(&q, provider, svc, s)
                .ok_or("a changed service is not a plain load balancer on the static transport")?;
            if svc.health.is_some() {
                checked.insert(q.clone());
            }
            table_services.insert(q.clone(), Arc::new(svc));
        }
        services_changed.insert(q);
    }

    // Routes: those of the changed routers, compiled against the new services.
    let middlewares: BTreeMap<String, &Middleware> = snapshots
        .iter()
        .flat_map(|snap| {
            snap.config
                .http
                .middlewares
                .iter()
                .map(|(n, m)| (dynamic::qualify(n, &snap.provider), &**m))
        })
        .collect();
    let snaps: Vec<&Snapshot> = snapshots.iter().map(|a| &**a).collect();
    let options = tls::collect(&snaps, &mut Vec::new());
    let known = Known {
        services: &table_services,
        middlewares: &middlewares,
        options: &options,
    };
    let mut gone = BTreeSet::new();
    let mut added = Vec::new();
    for name in routers {
        if let Some(r) = old.config.http.routers.get(name) {
            for (route_name, _, _) in compile::apply_models(name, r, s) {
                gone.insert(dynamic::qualify(&route_name, provider));
            }
        }
        if let Some(r) = new.config.http.routers.get(name) {
            for (route_name, r, encoded) in compile::apply_models(name, r, s) {
                let (mut route, warnings) = compile::route(&route_name, &r, new, s, &known)
                    .map_err(|_| "a changed router is disabled")?;
                if !warnings.is_empty() {
                    return Err("a changed router has warnings");
                }
                route.encoded_characters = encoded;
                added.push(route);
            }
        }
    }
    // The routes removed, and nothing kept that clashes with the new ones or lost a service.
    let removed: Vec<bool> = prev.routes.iter().map(|r| gone.contains(&r.name)).collect();
    let kept = || {
        prev.routes
            .iter()
            .zip(&removed)
            .filter(|(_, gone)| !**gone)
            .map(|(r, _)| &**r)
    };
    let fresh: Vec<&str> = added
        .iter()
        .map(|r| r.name.as_str())
        .filter(|n| !gone.contains(*n))
        .collect();
    let lost: Vec<&String> = services_changed
        .iter()
        .filter(|q| !table_services.contains_key(*q))
        .collect();
    let uses = |r: &Route, q: &str| {
        r.service == q
            || r.middlewares.iter().any(|(_, m)| match m {
                Middleware::Errors(e) => e.service == q,
                _ => false,
            })
    };
    if (!fresh.is_empty() || !lost.is_empty())
        && kept().any(|r| fresh.contains(&r.name.as_str()) || lost.iter().any(|q| uses(r, q)))
    {
        return Err("a new route's name is taken, or a service removed is still used");
    }
    // A middleware changed or removed must not be one a route kept holds (its copy would
    // be stale, or the route disabled).
    if !middlewares_changed.is_empty()
        && kept().any(|r| {
            r.middlewares
                .iter()
                .any(|(n, _)| middlewares_changed.contains(n))
        })
    {
        return Err("a middleware changed or removed is used by a route not changed");
    }
    let old_routes: Vec<&Route> = removed_routes(prev, &removed);
    let sni = sni(prev, &old_routes, &added, kept).ok_or(
        "a changed HTTPS route has TLS options other than the default, or a TCP router beside it",
    )?;

    // The list spliced in priority order, and where each route of `prev` went.
    let added = compile::by_priority(added);
    let mut routes = Vec::with_capacity(prev.routes.len() + added.len());
    let mut map = vec![usize::MAX; prev.routes.len()];
    let mut at_added = Vec::with_capacity(added.len());
    let mut next = added.into_iter().peekable();
    for (i, r) in prev.routes.iter().enumerate() {
        if removed[i] {
            continue;
        }
        while let Some(a) = next.next_if(|a| order(a) < order(r)) {
            at_added.push(routes.len());
            routes.push(Arc::new(a));
        }
        map[i] = routes.len();
        routes.push(r.clone());
    }
    for a in next {
        at_added.push(routes.len());
        routes.push(Arc::new(a));
    }

    let table = RouteTable {
        routes,
        services: table_services,
        checked: Some(checked),
        issues: prev.issues.clone(),
        api_view: compile::view_when_read(snapshots.to_vec(), s.clone()),
        tls_options: options.options,
        sni,
        default_generated: prev.default_generated.clone(),
        tcp: prev.tcp.clone(),
        udp: prev.udp.clone(),
        made: Some(Arc::new(Made {
            patched: Some(Patched {
                base: made.id,
                removed_at: (0..removed.len()).filter(|&i| removed[i]).collect(),
                added_at: at_added.clone(),
                services: services_changed,
            }),
            depth: made.depth + 1,
            ..Made::whole(snapshots.to_vec(), s.clone(), false, false)
        })),
        ..Default::default()
    };
    Ok(table.index_moved(prev, &map, &at_added))
}

/// A route's place in the table, as the whole compile sorts them (names are unique).
fn order(r: &Route) -> (std::cmp::Reverse<i64>, usize, &str) {
    (
        std::cmp::Reverse(r.priority),
        compile::precedence(&r.provider),
        &r.name,
    )
}

/// The routes of `prev` that are `removed`.
fn removed_routes<'a>(prev: &'a RouteTable, removed: &[bool]) -> Vec<&'a Route> {
    prev.routes
        .iter()
        .zip(removed)
        .filter(|(_, gone)| **gone)
        .map(|(r, _)| &**r)
        .collect()
}

/// The one snapshot that changed, before and after, when it changed only in its HTTP
/// routers, services and middlewares.
fn one_changed<'a>(
    was: &'a [Arc<Snapshot>],
    is: &'a [Arc<Snapshot>],
) -> Result<(&'a Snapshot, &'a Snapshot), &'static str> {
    let mut changed = None;
    for (o, n) in was.iter().zip(is) {
        if o.provider != n.provider {
            return Err("the settings or the providers changed");
        }
        if Arc::ptr_eq(o, n) {
            continue;
        }
        if changed.is_some() {
            return Err("several providers changed");
        }
        changed = Some((&**o, &**n));
    }
    let (o, n) = changed.ok_or("no provider changed")?;
    let (a, b) = (&o.config, &n.config);
    let same = o.issues == n.issues
        && o.broken == n.broken
        && a.http.servers_transports == b.http.servers_transports
        && a.tcp == b.tcp
        && a.udp == b.udp
        && a.tls == b.tls;
    if !same {
        return Err("the snapshot changed beyond its HTTP routers, services and middlewares");
    }
    Ok((o, n))
}

/// The names whose values differ between two maps (on one side only, or unequal): the parts
/// of the maps they share are not visited.
fn changed<'a, V: PartialEq>(a: &'a dynamic::Defs<V>, b: &'a dynamic::Defs<V>) -> Vec<&'a str> {
    use imbl::ordmap::DiffItem;
    a.diff(b)
        .map(|d| match d {
            DiffItem::Add(k, _) | DiffItem::Remove(k, _) => k.as_str(),
            DiffItem::Update { new: (k, _), .. } => k.as_str(),
        })
        .collect()
}

/// [`changed`] walking both maps whole (kept to check it against).
#[cfg(test)]
fn changed_walked<'a, V: PartialEq>(
    a: &'a dynamic::Defs<V>,
    b: &'a dynamic::Defs<V>,
) -> Vec<&'a str> {
    let mut out = Vec::new();
    let (mut x, mut y) = (a.iter().peekable(), b.iter().peekable());
    loop {
        match (x.peek(), y.peek()) {
            (Some((ka, va)), Some((kb, vb))) => match ka.cmp(kb) {
                std::cmp::Ordering::Less => {
                    out.push(ka.as_str());
                    x.next();
                }
                std::cmp::Ordering::Greater => {
                    out.push(kb.as_str());
                    y.next();
                }
                std::cmp::Ordering::Equal => {
                    if !dynamic::same(va, vb) {
                        out.push(ka.as_str());
                    }
                    x.next();
                    y.next();
                }
            },
            (Some((k, _)), None) => {
                out.push(k.as_str());
                x.next();
            }
            (None, Some((k, _))) => {
                out.push(k.as_str());
                y.next();
            }
            (None, None) => return out,
        }
    }
}

/// A changed service as the compile makes it, when it is a plain load balancer on the
/// static transport with nothing to report.
fn plain_service(
    q: &str,
    provider: &str,
    svc: &dynamic::Service,
    s: &CompileSettings,
) -> Option<Service> {
    if !svc.load_balancer.servers_transport.is_empty() {
        return None;
    }
    let mut issues = Vec::new();
    compile::unused_paths(q, svc, &mut issues);
    let built = compile::service(q, provider, svc, s.default_transport.clone());
    (issues.is_empty() && built.kind == Kind::Servers).then_some(built)
}

/// The SNI map with the routes `old` replaced by `new`, when every one of them with TLS uses
/// the default options (no conflict to settle) and no TCP router shares its entry point.
fn sni<'a, I: Iterator<Item = &'a Route>>(
    prev: &RouteTable,
    old: &[&Route],
    new: &[Route],
    kept: impl Fn() -> I,
) -> Option<tls::SniMap> {
    let changed = old.iter().copied().chain(new.iter());
    let tls_routes: Vec<&Route> = changed.filter(|r| r.tls).collect();
    if tls_routes.is_empty() {
        return Some(prev.sni.clone());
    }
    if tls_routes.iter().any(|r| {
        r.tls_options != tls::DEFAULT
            || r.entrypoints
                .iter()
                .any(|ep| prev.tcp.entry_points.contains_key(ep))
    }) {
        return None;
    }
    let mut sni = prev.sni.clone();
    let added: BTreeSet<(&str, String)> = new
        .iter()
        .filter(|r| r.tls)
        .flat_map(|r| {
            let doms = tls::domains(r);
            r.entrypoints
                .iter()
                .flat_map(move |ep| doms.clone().into_iter().map(move |d| (ep.as_str(), d)))
        })
        .collect();
    // What the old routes named and the new ones do not: still named by another route?
    for r in old.iter().filter(|r| r.tls) {
        let doms = tls::domains(r);
        for ep in &r.entrypoints {
            if !kept().any(|k| k.tls && k.entrypoints.contains(ep))
                && !new.iter().any(|n| n.tls && n.entrypoints.contains(ep))
            {
                sni.remove(ep);
                continue;
            }
            for d in &doms {
                if added.contains(&(ep.as_str(), d.clone())) {
                    continue;
                }
                let still = kept()
                    .any(|k| k.tls && k.entrypoints.contains(ep) && tls::domains(k).contains(d));
                if !still {
                    if let Some(m) = sni.get_mut(ep) {
                        m.remove(d);
                    }
                }
            }
        }
    }
    for r in new.iter().filter(|r| r.tls) {
        for ep in &r.entrypoints {
            let map = sni.entry(ep.clone()).or_default();
            for d in tls::domains(r) {
                match map.get(&d) {
                    Some(o) if o != tls::DEFAULT => return None,
                    Some(_) => {}
                    None => {
                        map.insert(d, tls::DEFAULT.to_owned());
                    }
                }
            }
        }
    }
    Some(sni)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn the_names_changed_are_those_a_walk_of_both_maps_finds(
            base in prop::collection::btree_map(0u16..600, 0u8..4, 0..400),
            edits in prop::collection::vec((0u16..600, prop::option::of(0u8..4)), 0..40),
        ) {
            // Maps of several levels sharing their structure, edited: values set again to
            // what they were (another Arc, equal) are not changes; the rest are.
            let a: dynamic::Defs<u8> = base
                .into_iter()
                .map(|(k, v)| (format!("k{k:03}"), Arc::new(v)))
                .collect();
            let mut b = a.clone();
            for (k, v) in edits {
                match v {
                    Some(v) => b.insert(format!("k{k:03}"), Arc::new(v)),
                    None => b.remove(&format!("k{k:03}")),
                };
            }
            prop_assert_eq!(changed(&a, &b), changed_walked(&a, &b));
            prop_assert!(changed(&a, &a).is_empty());
        }
    }
}
