//! Providers' snapshots -> the routing table. Pure: the same snapshots, in any order, give
//! the same table; nothing here panics on any input.
//!
//! As Traefik's aggregator and router manager do: every element is named `name@provider`;
//! an unqualified reference (`service=whoami`, `middlewares=auth`) means "in the router's own
//! provider", a qualified one (`auth@file`) crosses providers. A router without entry points
//! takes the default ones; an entry point's model (its `http.middlewares` and `http.tls`; one
//! is made for an entry point with `observability`, or with `core.defaultRuleSyntax` set) is
//! applied to each router on it (a router on several entry points with models is split into
//! `<entrypoint>-<name>` copies). A router whose rule, service or middleware is missing or
//! broken is disabled, with an error on the sources that define it; one that names an entry
//! point that does not exist keeps the others, with a warning.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::dynamic::{self, Issue, Middleware, RouterTls, Snapshot};
use crate::model::lazy_api::LazyApi;
use crate::model::rule::Syntax;
use crate::model::table::{ApiView, Backend, ElementInfo, Route, RouteTable, Service, Target};
use crate::model::tls::{self, OptionSets};

/// The highest priority a router outside the internal provider may have (Traefik's).
pub const MAX_USER_PRIORITY: i64 = i64::MAX - 1000;

/// What the table depends on besides the snapshots: the static configuration's part.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CompileSettings {
    /// Every entry point, in name order.
    pub entry_points: Vec<EntryPointModel>,
    /// `core.defaultRuleSyntax`.
    pub default_rule_syntax: Syntax,
    /// The static `serversTransport`: for services that name none.
    pub default_transport: dynamic::ServersTransport,
}

/// An entry point as routers see it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EntryPointModel {
    /// Its name.
    pub name: String,
    /// Routers without entry points are put on it.
    pub default: bool,
    /// `http.middlewares`: put in front of each router's own.
    pub middlewares: Vec<String>,
    /// `http.tls`: the TLS of routers that have none.
    pub tls: Option<RouterTls>,
    /// A UDP entry point: only UDP routers may be on it.
    pub udp: bool,
    /// `http.encodedCharacters`: checked by each router on it.
    pub encoded_characters: Option<crate::entry_http::EncodedCharacters>,
    /// It has a model whatever the above (its `observability` section, or
    /// `core.defaultRuleSyntax` set: see [`crate::config::EntryPoint::model`]).
    pub always: bool,
}

impl EntryPointModel {
    /// Whether Traefik's internal provider makes a model of it (`entryPointModels`).
    fn has_model(&self) -> bool {
        self.always
            || !self.middlewares.is_empty()
            || self.tls.is_some()
            || self.encoded_characters.is_some()
    }
}

/// Providers in Traefik's precedence order: on equal priority, a route of an earlier one wins.
const PRECEDENCE: &[&str] = &[
    "swarm", "docker", "file", "redis", "etcd", "ecs", "internal",
];

pub(crate) fn precedence(provider: &str) -> usize {
    PRECEDENCE
        .iter()
        .position(|p| *p == provider)
        .unwrap_or(PRECEDENCE.len())
}

/// Builds the table from every provider's snapshot, with its API view.
pub fn compile<'a>(
    snapshots: impl IntoIterator<Item = &'a Snapshot>,
    s: &CompileSettings,
) -> RouteTable {
    crate::model::rule::cache::RULES.next_generation();
    let (mut table, api, _) = build(snapshots.into_iter().collect(), s, true);
    table.api_view = LazyApi::made(api);
    table.index()
}

/// [`compile`] for the table going into service: the same table, but its API view is made
/// the first time it is read (from the snapshots, which the table keeps shared), not now:
/// most tables are never asked about, and the view was about a third of a compile.
pub fn compile_for_service(mut snapshots: Vec<Arc<Snapshot>>, s: &CompileSettings) -> RouteTable {
    crate::model::rule::cache::RULES.next_generation();
    snapshots.sort_by(|a, b| a.provider.cmp(&b.provider));
    let (mut table, _, own_issues) = build(snapshots.iter().map(|a| &**a).collect(), s, false);
    table.api_view = view_when_read(snapshots.clone(), s.clone());
    let composite = table
        .services
        .values()
        .any(|svc| svc.kind != super::table::Kind::Servers);
    table.made = Some(Arc::new(super::patch::Made::whole(
        snapshots,
        s.clone(),
        own_issues,
        composite,
    )));
    table.index()
}

/// The next table for service after `prev`, made from these snapshots: `prev` patched where
/// only some HTTP routers and services of one provider changed ([`super::patch`]), else
/// compiled whole. The same table either way.
pub fn next_for_service(
    prev: &RouteTable,
    mut snapshots: Vec<Arc<Snapshot>>,
    s: &CompileSettings,
) -> RouteTable {
    snapshots.sort_by(|a, b| a.provider.cmp(&b.provider));
    match super::patch::patch(prev, &snapshots, s) {
        Ok(table) => table,
        Err(why) => {
            let mut table = compile_for_service(snapshots, s);
            if let Some(made) = table.made.as_mut().and_then(Arc::get_mut) {
                made.whole_because = Some(why);
            }
            table
        }
    }
}

/// An API view made from `snapshots` the first time it is read.
pub(crate) fn view_when_read(snapshots: Vec<Arc<Snapshot>>, settings: CompileSettings) -> LazyApi {
    LazyApi::later(Arc::new(move || {
        build(snapshots.iter().map(|a| &**a).collect(), &settings, true).1
    }))
}

/// The table (not indexed yet), with `with_api` its API view (else an empty one), and
/// whether the compile reported issues beyond the snapshots' own.
fn build(
    mut snaps: Vec<&Snapshot>,
    s: &CompileSettings,
    with_api: bool,
) -> (RouteTable, ApiView, bool) {
    snaps.sort_by(|a, b| a.provider.cmp(&b.provider));
    let mut issues: Vec<Issue> = snaps
        .iter()
        .flat_map(|s| s.issues.iter().cloned())
        .collect();
    let given = issues.len();

    let options = tls::collect(&snaps, &mut issues);
    let mut api = ApiView::default();
    let tcp = super::tcp::compile(&snaps, s, &options, &mut issues, &mut api);
    let udp = super::udp::compile(&snaps, s, &mut issues, &mut api);
    let mut middlewares: BTreeMap<String, &Middleware> = BTreeMap::new();
    let mut services = BTreeMap::new();
    let transports: BTreeMap<String, &dynamic::ServersTransport> = snaps
        .iter()
        .flat_map(|snap| {
            snap.config
                .http
                .servers_transports
                .iter()
                .map(|(n, t)| (dynamic::qualify(n, &snap.provider), t))
        })
        .collect();
    for snap in &snaps {
        for (name, m) in &snap.config.http.middlewares {
            let q = dynamic::qualify(name, &snap.provider);
            if with_api {
                api.middlewares
                    .insert(q.clone(), ElementInfo::enabled(Middleware::clone(m)));
            }
            middlewares.insert(q, m);
        }
        for (name, svc) in &snap.config.http.services {
            let q = dynamic::qualify(name, &snap.provider);
            let mut info = ElementInfo {
                def: with_api.then(|| dynamic::Service::clone(svc)),
                status: "enabled",
                errors: Vec::new(),
                using: Vec::new(),
            };
            match transport(svc, &snap.provider, &transports, s) {
                Ok(t) => {
                    unused_paths(&q, svc, &mut issues);
                    services.insert(q.clone(), Arc::new(service(&q, &snap.provider, svc, t)));
                }
                Err(e) => service_disabled(&mut info, &mut issues, &q, &e),
            }
            if with_api {
                api.services.insert(q, info);
            }
        }
        if !with_api {
            continue;
        }
        for b in &snap.broken {
            let q = dynamic::qualify(&b.name, &snap.provider);
            let disabled = |errors: &mut Vec<String>| errors.push(b.error.clone());
            match b.kind {
                "router" => {
                    disabled(&mut api.routers.entry(q).or_insert_with(disabled_info).errors)
                }
                "service" => {
                    disabled(&mut api.services.entry(q).or_insert_with(disabled_info).errors)
                }
                // Broken TLS options are collected above, and disable the routers using them;
                // broken TCP elements are reported with the TCP routes.
                "tlsOptions" | "tcpRouter" | "tcpService" | "tcpMiddleware" | "udpRouter"
                | "udpService" => {}
                _ => disabled(
                    &mut api
                        .middlewares
                        .entry(q)
                        .or_insert_with(disabled_info)
                        .errors,
                ),
            }
        }
    }

    for (q, e) in super::composite::settle(&mut services) {
        let mut scratch = disabled_info();
        let info = match with_api {
            true => api.services.entry(q.clone()).or_insert_with(disabled_info),
            false => &mut scratch,
        };
        service_disabled(info, &mut issues, &q, &e);
    }
    let services: super::table::Services = services.into();

    // Sized at once: 20,000 routes moved again at each doubling otherwise.
    let mut routes = Vec::with_capacity(snaps.iter().map(|s| s.config.http.routers.len()).sum());
    for snap in &snaps {
        for (name, router) in &snap.config.http.routers {
            for (route_name, r, encoded) in apply_models(name, router, s) {
                let known = Known {
                    services: &services,
                    middlewares: &middlewares,
                    options: &options,
                };
                match route(&route_name, &r, snap, s, &known) {
                    Ok((mut route, warnings)) => {
                        route.encoded_characters = encoded;
                        for w in &warnings {
                            report(&mut issues, &r.sources, None, "warning", w.clone());
                        }
                        if with_api {
                            api_enabled(&mut api, &route, warnings, r.into_owned(), &snap.provider);
                        }
                        routes.push(route);
                    }
                    Err((key, e)) => {
                        report(
                            &mut issues,
                            &r.sources,
                            key,
                            "error",
                            format!("{e}; router disabled"),
                        );
                        if with_api {
                            let q = dynamic::qualify(&route_name, &snap.provider);
                            // Its entry points that exist: Traefik notes them before it
                            // builds the router, so a disabled one keeps its `using`.
                            let using = r
                                .entry_points
                                .iter()
                                .filter(|ep| {
                                    s.entry_points.iter().any(|e| &&e.name == ep && !e.udp)
                                })
                                .cloned()
                                .collect();
                            api_disabled(&mut api, q, (e, using), r.into_owned(), &snap.provider);
                        }
                    }
                }
            }
        }
    }
    // Sorted by name, as Traefik's `PopulateUsedBy` leaves them (routers come here provider
    // by provider).
    for using in api
        .services
        .values_mut()
        .map(|i| &mut i.using)
        .chain(api.middlewares.values_mut().map(|i| &mut i.using))
    {
        using.sort();
        using.dedup();
    }
    let (sni, tls_warnings) = tls::settle(&mut routes);
    for (i, w) in tls_warnings {
        let Some(r) = routes.get(i) else { continue };
        if let Some(info) = api.routers.get_mut(&r.name) {
            info.status = "warning";
            info.errors.push(w.clone());
        }
        report(&mut issues, &r.sources, None, "warning", w);
    }
    let mut tcp = tcp;
    tcp.note_https(&routes);
    let default_generated = default_generated(&snaps);
    let routes = by_priority(routes).into_iter().map(Arc::new).collect();
    let own_issues = issues.len() > given;
    issues.sort();
    issues.dedup();
    let table = RouteTable {
        routes,
        checked: Some(RouteTable::checked_of(&services)),
        services,
        issues,
        tls_options: options.options,
        sni,
        default_generated,
        tcp,
        udp,
        ..Default::default()
    };
    (table, api, own_issues)
}

/// Routes in the order they are tried: highest priority first, then by provider precedence,
/// then by name. Sorted by keys made once per route (a provider's precedence is looked up
/// by its name: once per route rather than at each of the sort's 300,000 comparisons at
/// 20,000 routes), with the route's position last (the keys are then unique and the order
/// as a stable sort's).
pub(super) fn by_priority(routes: Vec<Route>) -> Vec<Route> {
    let mut keys: Vec<(std::cmp::Reverse<i64>, usize, &str, usize)> = routes
        .iter()
        .enumerate()
        .map(|(i, r)| {
            (
                std::cmp::Reverse(r.priority),
                precedence(&r.provider),
                r.name.as_str(),
                i,
            )
        })
        .collect();
    keys.sort_unstable();
    let order: Vec<usize> = keys.into_iter().map(|k| k.3).collect();
    let mut slots: Vec<Option<Route>> = routes.into_iter().map(Some).collect();
    let mut sorted = Vec::with_capacity(slots.len());
    sorted.extend(
        order
            .into_iter()
            .filter_map(|i| slots.get_mut(i).and_then(Option::take)),
    );
    sorted
}

/// The default store's generated certificate (`defaultGeneratedCert`), from the first
/// provider that defines one (wildcard names are ordered only by a resolver with DNS-01).
fn default_generated(snaps: &[&Snapshot]) -> Option<(String, Vec<String>)> {
    let g = snaps
        .iter()
        .filter_map(|s| s.config.tls.store.as_ref()?.default_generated_cert.as_ref())
        .next()?;
    Some((g.resolver.clone(), g.domain.names().collect()))
}

/// What routers may refer to.
pub(super) struct Known<'a> {
    pub(super) services: &'a super::table::Services,
    pub(super) middlewares: &'a BTreeMap<String, &'a Middleware>,
    pub(super) options: &'a OptionSets,
}

fn disabled_info<T>() -> ElementInfo<T> {
    ElementInfo {
        def: None,
        status: "disabled",
        errors: Vec::new(),
        using: Vec::new(),
    }
}

/// A router served: its entry in the API view (its definition moved in: 20,000 routers),
/// and it among the users of its service and middlewares (its chains as well as what they
/// expand to).
fn api_enabled(
    api: &mut ApiView,
    route: &Route,
    warnings: Vec<String>,
    def: dynamic::Router,
    provider: &str,
) {
    let q = &route.name;
    if let Some(svc) = api.services.get_mut(&route.service) {
        svc.using.push(q.clone());
    }
    let used: BTreeSet<String> = route
        .middlewares
        .iter()
        .map(|(m, _)| m.clone())
        .chain(
            def.middlewares
                .iter()
                .map(|m| dynamic::resolve(m, provider)),
        )
        .collect();
    for m in &used {
        if let Some(mw) = api.middlewares.get_mut(m) {
            mw.using.push(q.clone());
        }
    }
    let info = ElementInfo {
        def: Some(def),
        status: if warnings.is_empty() {
            "enabled"
        } else {
            "warning"
        },
        errors: warnings,
        using: route.entrypoints.clone(),
    };
    api.routers.insert(q.clone(), info);
}

/// A router disabled for `e`: its entry in the API view, and, as Traefik's
/// `PopulateUsedBy` has it, still among the users of the service and middlewares it names.
fn api_disabled(
    api: &mut ApiView,
    q: String,
    (e, using): (String, Vec<String>),
    def: dynamic::Router,
    provider: &str,
) {
    let service = dynamic::resolve(&def.service, provider);
    if let Some(svc) = api.services.get_mut(&service) {
        svc.using.push(q.clone());
    }
    for m in &def.middlewares {
        let m = dynamic::resolve(m, provider);
        if let Some(mw) = api.middlewares.get_mut(&m) {
            mw.using.push(q.clone());
        }
    }
    let info = ElementInfo {
        def: Some(def),
        status: "disabled",
        errors: vec![e],
        using,
    };
    api.routers.insert(q, info);
}

/// Marks service `q` disabled for `e`, in the API and the issues.
/// A server URL's path is not used without `preservePath` (as in Traefik, which says
/// nothing): said once per service, as a warning.
pub(super) fn unused_paths(q: &str, svc: &dynamic::Service, issues: &mut Vec<Issue>) {
    if let Some(s) = svc
        .load_balancer
        .servers
        .iter()
        .find(|s| !s.preserve_path && s.path.len() > 1)
    {
        report(
            issues,
            &[],
            None,
            "warning",
            format!(
                "service {q:?}: the path {:?} of server {} is not used without preservePath",
                s.path, s.url
            ),
        );
    }
}

fn service_disabled<T>(info: &mut ElementInfo<T>, issues: &mut Vec<Issue>, q: &str, e: &str) {
    info.status = "disabled";
    info.errors.push(e.to_owned());
    report(
        issues,
        &[],
        None,
        "error",
        format!("service {q:?} {e}; service disabled"),
    );
}

pub(crate) fn report(
    issues: &mut Vec<Issue>,
    sources: &[String],
    key: Option<String>,
    level: &'static str,
    message: String,
) {
    let sources = if sources.is_empty() {
        vec![String::new()]
    } else {
        sources.to_vec()
    };
    for source in sources {
        issues.push(Issue {
            source,
            level,
            key: key.clone(),
            message: message.clone(),
        });
    }
}

/// The router as it is on each entry point: the default entry points when it names none,
/// then each entry point's model applied (Traefik's `applyModel`), with the model's
/// `http.encodedCharacters` (Traefik's `DeniedEncodedPathCharacters`).
#[allow(clippy::type_complexity)]
pub(super) fn apply_models<'r>(
    name: &str,
    router: &'r dynamic::Router,
    s: &CompileSettings,
) -> Vec<(
    String,
    Cow<'r, dynamic::Router>,
    Option<crate::entry_http::EncodedCharacters>,
)> {
    let eps: Cow<'_, [String]> = if router.entry_points.is_empty() {
        s.entry_points
            .iter()
            .filter(|e| e.default)
            .map(|e| e.name.clone())
            .collect()
    } else {
        Cow::Borrowed(&router.entry_points)
    };
    let mut plain = Vec::new();
    let mut out = Vec::new();
    for ep in eps.iter() {
        match s
            .entry_points
            .iter()
            .find(|e| &e.name == ep && e.has_model())
        {
            Some(model) => {
                let mut copy = router.clone();
                copy.entry_points = vec![ep.clone()];
                if copy.tls.is_none() {
                    copy.tls.clone_from(&model.tls);
                }
                let mut mws = model.middlewares.clone();
                mws.extend(copy.middlewares);
                copy.middlewares = mws;
                let copy_name = if eps.len() > 1 {
                    format!("{ep}-{name}")
                } else {
                    name.to_owned()
                };
                out.push((copy_name, Cow::Owned(copy), model.encoded_characters));
            }
            None => plain.push(ep.clone()),
        }
    }
    if !plain.is_empty() || eps.is_empty() {
        // The router itself when its entry points are the ones it named (no copy: 20,000
        // routers).
        let plain = if plain == router.entry_points {
            Cow::Borrowed(router)
        } else {
            let mut copy = router.clone();
            copy.entry_points = plain;
            Cow::Owned(copy)
        };
        out.push((name.to_owned(), plain, None));
    }
    out
}

pub(super) fn route(
    name: &str,
    r: &dynamic::Router,
    snap: &Snapshot,
    s: &CompileSettings,
    known: &Known<'_>,
) -> Result<(Route, Vec<String>), (Option<String>, String)> {
    let (services, middlewares) = (known.services, known.middlewares);
    let provider = &snap.provider;
    let qualified = dynamic::qualify(name, provider);
    let mut warnings = Vec::new();
    let mut entrypoints = Vec::new();
    for ep in &r.entry_points {
        if s.entry_points.iter().any(|e| &e.name == ep && !e.udp) {
            entrypoints.push(ep.clone());
        } else {
            let known: Vec<&str> = s.entry_points.iter().map(|e| e.name.as_str()).collect();
            warnings.push(format!(
                "router {qualified:?}: entry point {ep:?} does not exist (known: {})",
                known.join(", ")
            ));
        }
    }
    if entrypoints.is_empty() {
        return Err((
            None,
            format!("router {qualified:?} has no valid entry point"),
        ));
    }
    // `core.defaultRuleSyntax` is not for a rule a provider made from its `defaultRule`:
    // Traefik's aggregator leaves those unset, which reads them as v3.
    let syntax = match (r.rule_syntax, r.default_rule) {
        (Some(x), _) => x,
        (None, true) => Syntax::V3,
        (None, false) => s.default_rule_syntax,
    };
    let rule = crate::model::rule::cache::RULES
        .parse(&r.rule, syntax)
        .map_err(|e| (r.rule_key.clone(), format!("router {qualified:?}: {e}")))?;
    let priority = if r.priority == 0 {
        r.rule.len() as i64
    } else {
        r.priority
    };
    if priority > MAX_USER_PRIORITY && provider != "internal" {
        return Err((None, format!(
            "router {qualified:?}: priority {priority} exceeds the highest one a router may have ({MAX_USER_PRIORITY})"
        )));
    }
    let service = dynamic::resolve(&r.service, provider);
    if !services.contains_key(&service) {
        return Err((
            None,
            format!(
                "router {qualified:?} uses service {service:?}, which does not exist or is broken"
            ),
        ));
    }
    let mut seen = BTreeSet::new();
    for m in &r.middlewares {
        let q = dynamic::resolve(m, provider);
        if !seen.insert(q.clone()) {
            warnings.push(format!("router {qualified:?} uses middleware {q:?} twice"));
        }
    }
    let mut mws = Vec::new();
    expand(
        &r.middlewares,
        provider,
        middlewares,
        services,
        &mut Vec::new(),
        &mut mws,
    )
    .map_err(|e| (None, format!("router {qualified:?} {e}")))?;
    let certresolver = r
        .tls
        .as_ref()
        .map(|t| t.cert_resolver.clone())
        .filter(|c| !c.is_empty());
    let tls_options = match &r.tls {
        Some(t) => {
            let name = tls::reference(&t.options, provider);
            tls::check(known.options, &name)
                .map_err(|e| (None, format!("router {qualified:?} {e}")))?;
            name
        }
        None => String::new(),
    };
    let mut domains = Vec::new();
    for d in r.tls.iter().flat_map(|t| &t.domains) {
        let mut names = Vec::new();
        // Wildcard names are ordered only by a resolver with DNS-01 (see crate::acme).
        for n in d.names() {
            if !names.contains(&n) {
                names.push(n);
            }
        }
        if !names.is_empty() {
            domains.push(names);
        }
    }
    let recursion_mark = r
        .default_rule
        .then(|| super::table::recursion_mark(&qualified).into());
    Ok((
        Route {
            name: qualified,
            provider: provider.clone(),
            rule,
            priority,
            entrypoints,
            middlewares: mws,
            service,
            tls: r.tls.is_some(),
            certresolver,
            domains,
            tls_options,
            access_logs: r.access_logs,
            sources: r.sources.clone(),
            encoded_characters: None,
            recursion_mark,
        },
        warnings,
    ))
}

/// A router's middlewares in the order they run, each `chain` replaced by its members (a
/// chain's references resolve in the chain's own provider, as Traefik's do). A missing or
/// broken middleware anywhere, or a chain that includes itself, is an error: serving the
/// router without it could fail open.
fn expand(
    list: &[String],
    provider: &str,
    known: &BTreeMap<String, &Middleware>,
    services: &super::table::Services,
    chains: &mut Vec<String>,
    out: &mut Vec<(String, Middleware)>,
) -> Result<(), String> {
    for m in list {
        let q = dynamic::resolve(m, provider);
        let inside = match chains.last() {
            Some(c) => format!(" (in chain {c:?})"),
            None => String::new(),
        };
        let Some(def) = known.get(&q) else {
            return Err(format!("uses middleware {q:?}{inside}, which does not exist or is broken (serving the router without it could fail open)"));
        };
        if chains.contains(&q) {
            // The way round, as Traefik's "recursion detected in ..." gives it.
            let path: Vec<&str> = chains.iter().map(String::as_str).collect();
            return Err(format!(
                "uses middleware chain {q:?}, which includes itself{inside}: {} -> {q}",
                path.join(" -> ")
            ));
        }
        match def {
            Middleware::Chain { middlewares } => {
                let own = q.rsplit_once('@').map_or(provider, |(_, p)| p).to_owned();
                chains.push(q);
                expand(middlewares, &own, known, services, chains, out)?;
                chains.pop();
            }
            Middleware::Errors(e) => {
                // Its service resolves in the middleware's own provider, as Traefik's does.
                let own = q.rsplit_once('@').map_or(provider, |(_, p)| p);
                let service = dynamic::resolve(&e.service, own);
                if !services.contains_key(&service) {
                    return Err(format!("uses middleware {q:?}{inside}, whose error page service {service:?} does not exist or is broken"));
                }
                let mut e = e.clone();
                e.service = service;
                out.push((q, Middleware::Errors(e)));
            }
            _ => out.push((q, (*def).clone())),
        }
    }
    Ok(())
}

/// The servers transport a service uses: the one it names (resolved in its provider), else
/// the static default, which is also `default@internal` (Traefik's internal provider defines
/// it from the static `serversTransport`).
fn transport(
    svc: &dynamic::Service,
    provider: &str,
    known: &BTreeMap<String, &dynamic::ServersTransport>,
    s: &CompileSettings,
) -> Result<dynamic::ServersTransport, String> {
    let name = &svc.load_balancer.servers_transport;
    if name.is_empty() {
        return Ok(s.default_transport.clone());
    }
    let q = dynamic::resolve(name, provider);
    if q == DEFAULT_TRANSPORT {
        return Ok(s.default_transport.clone());
    }
    known
        .get(&q)
        .map(|t| (*t).clone())
        .ok_or_else(|| format!("uses serversTransport {q:?}, which does not exist or is broken"))
}

/// The static servers transport's name, as Traefik's internal provider defines it.
pub const DEFAULT_TRANSPORT: &str = "default@internal";

pub(super) fn service(
    name: &str,
    provider: &str,
    svc: &dynamic::Service,
    transport: dynamic::ServersTransport,
) -> Service {
    let lb = &svc.load_balancer;
    Service {
        name: name.to_owned(),
        transport,
        pass_host_header: lb.pass_host_header,
        // Traefik's hrw balancer is made without the sticky settings (service.go).
        sticky: lb
            .sticky
            .as_ref()
            .filter(|_| lb.strategy != dynamic::Strategy::Hrw)
            .map(|c| (dynamic::sticky::cookie_name(&c.name, name), c.clone())),
        strategy: lb.strategy,
        backends: lb
            .servers
            .iter()
            .map(|s| Backend {
                url: s.url.clone(),
                target: target(&s.url),
                status: if s.url.is_empty() {
                    dynamic::ServerStatus::Stopped
                } else {
                    s.status
                },
                origin: s.origin.clone(),
                weight: s.weight,
                written: if s.written.is_empty() {
                    s.url.clone()
                } else {
                    s.written.clone()
                },
                path: if s.preserve_path {
                    s.path.clone()
                } else {
                    String::new()
                },
            })
            .collect(),
        health: lb.health_check.clone(),
        internal: svc.internal,
        kind: super::composite::kind(name, svc, provider),
    }
}

/// Where `http://host:port` (or `https://`) is: an address, or a name resolved when
/// connecting.
pub fn target(url: &str) -> Option<Target> {
    let authority = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .or_else(|| url.strip_prefix("h2c://"))?;
    if let Ok(a) = authority.parse::<std::net::SocketAddr>() {
        return Some(Target::Addr(a));
    }
    let (host, port) = crate::dynamic::decode::split_host_port(authority)?;
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => Some(Target::Addr(std::net::SocketAddr::new(ip, port))),
        Err(_) => Some(Target::Name(host, port)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamic::{Configuration, Router};
    use crate::model::rule::RequestView;
    use crate::provider::container::{self, ContainerInfo, ContainerSettings, Health, RunState};

    #[test]
    fn default_at_internal_is_the_static_servers_transport() {
        // Traefik's internal provider defines `default` from the static serversTransport.
        let snap = crate::provider::file::snapshot_of_yaml(
            "http:\n  services:\n    s:\n      loadBalancer:\n        serversTransport: default@internal\n        servers: [{url: 'https://10.0.0.1'}]\n    t:\n      loadBalancer:\n        serversTransport: nope@internal\n        servers: [{url: 'https://10.0.0.1'}]\ntcp:\n  services:\n    u:\n      loadBalancer:\n        serversTransport: default@internal\n        servers: [{address: '10.0.0.1:5432'}]\n  routers:\n    u:\n      rule: HostSNI(`*`)\n      service: u\n",
        );
        let mut s = eps();
        s.default_transport.insecure_skip_verify = true;
        let table = compile([&snap], &s);
        let svc = table.services.get("s@file").expect("served");
        assert!(svc.transport.insecure_skip_verify);
        assert!(!table.services.contains_key("t@file"));
        let issues: Vec<&str> = table.issues.iter().map(|i| i.message.as_str()).collect();
        assert!(
            issues.iter().any(|m| m.contains("nope@internal")),
            "{issues:?}"
        );
        assert!(
            !issues.iter().any(|m| m.contains("default@internal")),
            "{issues:?}"
        );
    }

    fn settings() -> ContainerSettings {
        ContainerSettings {
            provider: "docker".into(),
            prefix: "traefik".into(),
            exposed_by_default: false,
            default_network: None,
            own_networks: BTreeSet::new(),
            host_ip: "127.0.0.1".parse().unwrap(),
            use_bind_port_ip: false,
            default_rule: "Host(`{{ normalize .Name }}`)".into(),
            constraints: None,
        }
    }

    fn eps() -> CompileSettings {
        CompileSettings {
            entry_points: vec![
                EntryPointModel {
                    name: "web".into(),
                    default: true,
                    ..Default::default()
                },
                EntryPointModel {
                    name: "websecure".into(),
                    default: true,
                    ..Default::default()
                },
            ],
            ..Default::default()
        }
    }

    fn container(name: &str, labels: &[(&str, &str)], nets: &[(&str, &str)]) -> ContainerInfo {
        ContainerInfo {
            id: format!("{name}-id"),
            name: name.into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            state: RunState::Running,
            health: Health::None,
            networks: nets
                .iter()
                .map(|(n, ip)| (n.to_string(), Some(ip.parse().unwrap())))
                .collect(),
            bindings: Default::default(),
            network_mode: "bridge".into(),
            exposed_ports: [8080].into_iter().collect(),
        }
    }

    fn build(cs: &[ContainerInfo], s: &ContainerSettings) -> RouteTable {
        compile([&container::snapshot(cs, s)], &eps())
    }

    fn view<'a>(host: &'a str, path: &'a str, h: &'a http::HeaderMap) -> RequestView<'a> {
        RequestView {
            host,
            path,
            query: None,
            method: "GET",
            headers: h,
            client_ip: "10.0.0.1".parse().unwrap(),
        }
    }

    fn names(t: &RouteTable) -> Vec<&str> {
        t.routes.iter().map(|r| r.name.as_str()).collect()
    }

    const ENABLED: (&str, &str) = ("traefik.enable", "true");

    #[test]
    fn a_default_rule_router_carries_traefiks_recursion_mark() {
        // deny_router_recursion_test.go TestServeHTTP: "myRouter" hashes to 995d26092d19a224
        // (FNV-1, 64 bits, lower-case hex).
        assert_eq!(
            super::super::table::recursion_mark("myRouter"),
            "995d26092d19a224"
        );
        // Only a router made from `defaultRule` has one, of its qualified name.
        let mut own = container("own", &[ENABLED], &[("net", "172.18.0.3")]);
        own.labels.insert(
            "traefik.http.routers.own.rule".into(),
            "Host(`own.test`)".into(),
        );
        let t = build(
            &[container("app", &[ENABLED], &[("net", "172.18.0.2")]), own],
            &settings(),
        );
        let mark = |n: &str| {
            t.routes
                .iter()
                .find(|r| r.name == n)
                .and_then(|r| r.recursion_mark.as_deref().map(str::to_owned))
        };
        assert_eq!(
            mark("app@docker"),
            Some(super::super::table::recursion_mark("app@docker"))
        );
        assert_eq!(mark("own@docker"), None);
    }

    #[test]
    fn a_default_rule_is_read_as_v3_whatever_the_default_syntax() {
        // aggregator.go: a router made from `defaultRule` gets no rule syntax from the
        // models, so `core.defaultRuleSyntax: v2` does not apply to it; a router's own rule
        // does take it.
        let mut s = settings();
        s.default_rule = "Host(`{{ normalize .Name }}`) && PathRegexp(`^/api`)".into();
        let c = container("app", &[ENABLED], &[("net", "172.18.0.2")]);
        let mut own = container("own", &[ENABLED], &[("net", "172.18.0.3")]);
        own.labels.insert(
            "traefik.http.routers.own.rule".into(),
            "PathRegexp(`^/x`)".into(),
        );
        let mut e = eps();
        e.default_rule_syntax = Syntax::V2;
        let t = compile([&container::snapshot(&[c, own], &s)], &e);
        assert_eq!(names(&t), ["app@docker"], "{:?}", t.issues);
        assert!(
            t.issues.iter().any(|i| i.message.contains("own@docker")),
            "{:?}",
            t.issues
        );
    }

    #[test]
    fn a_stopped_container_gives_way_to_a_running_one() {
        // docker config.go keepContainer: Traefik merges running containers only, so an
        // exited `app-v1` and a running `app-v2` defining router `app` (each with its own
        // default service) are no conflict: `app` goes to `app-v2`.
        let rule = ("traefik.http.routers.app.rule", "Host(`app.example.com`)");
        let mut v1 = container("app-v1", &[ENABLED, rule], &[("net", "172.18.0.2")]);
        v1.state = RunState::Stopped;
        let v2 = container("app-v2", &[ENABLED, rule], &[("net", "172.18.0.3")]);
        let t = build(&[v1.clone(), v2.clone()], &settings());
        let app = t.routes.iter().find(|r| r.name == "app@docker");
        assert_eq!(
            app.map(|r| r.service.as_str()),
            Some("app-v2@docker"),
            "{:?}",
            t.issues
        );
        assert!(
            !t.issues.iter().any(|i| i.level == "error"),
            "{:?}",
            t.issues
        );
        // Two running ones that differ are still a conflict.
        v1.state = RunState::Running;
        let t = build(&[v1, v2], &settings());
        assert!(t.routes.iter().all(|r| r.name != "app@docker"));
        assert!(t
            .issues
            .iter()
            .any(|i| i.message.contains("defined differently")));
    }

    #[test]
    fn default_router_and_service_from_the_name() {
        let t = build(
            &[container("my_app", &[ENABLED], &[("net", "172.18.0.2")])],
            &settings(),
        );
        assert_eq!(names(&t), ["my-app@docker"]);
        assert_eq!(t.routes[0].rule.to_string(), "Host(`my-app`)");
        assert_eq!(t.routes[0].service, "my-app@docker");
        assert_eq!(
            t.services["my-app@docker"].backends[0].addr(),
            Some("172.18.0.2:8080".parse().unwrap())
        );
        let h = http::HeaderMap::new();
        assert_eq!(
            t.lookup("web", false, &view("my-app", "/", &h))
                .map(|r| r.name.as_str()),
            Some("my-app@docker")
        );
        assert!(t.lookup("web", false, &view("other", "/", &h)).is_none());
        assert!(
            t.lookup("web", true, &view("my-app", "/", &h)).is_none(),
            "not a TLS route"
        );
    }

    #[test]
    fn exposed_by_default_off_skips_unlabelled() {
        let c = container("a", &[], &[("net", "172.18.0.2")]);
        assert!(build(std::slice::from_ref(&c), &settings())
            .routes
            .is_empty());
        let mut s = settings();
        s.exposed_by_default = true;
        assert_eq!(build(&[c], &s).routes.len(), 1);
        let off = container(
            "a",
            &[("traefik.enable", "false")],
            &[("net", "172.18.0.2")],
        );
        assert!(build(&[off], &s).routes.is_empty());
    }

    #[test]
    fn replicas_merge_into_one_service() {
        let labels = [
            ENABLED,
            ("traefik.http.routers.r.rule", "Host(`x.test`)"),
            ("traefik.http.routers.r.service", "s"),
            ("traefik.http.services.s.loadbalancer.server.port", "80"),
        ];
        let t = build(
            &[
                container("b", &labels, &[("net", "172.18.0.3")]),
                container("a", &labels, &[("net", "172.18.0.2")]),
            ],
            &settings(),
        );
        assert_eq!(t.routes.len(), 1);
        assert_eq!(t.routes[0].sources, ["a", "b"]);
        let addrs: Vec<String> = t.services["s@docker"]
            .backends
            .iter()
            .map(|b| b.addr().unwrap().to_string())
            .collect();
        assert_eq!(addrs, ["172.18.0.2:80", "172.18.0.3:80"]);
        assert!(t.issues.is_empty(), "{:?}", t.issues);
    }

    #[test]
    fn different_definitions_of_one_name_are_dropped_with_an_error_on_each() {
        let a = container(
            "a",
            &[ENABLED, ("traefik.http.routers.r.rule", "Host(`a`)")],
            &[("n", "10.0.0.2")],
        );
        let b = container(
            "b",
            &[ENABLED, ("traefik.http.routers.r.rule", "Host(`b`)")],
            &[("n", "10.0.0.3")],
        );
        let t = build(&[a, b], &settings());
        assert!(!names(&t).contains(&"r@docker"));
        for c in ["a", "b"] {
            assert!(t
                .issues
                .iter()
                .any(|i| i.source == c && i.message.contains("defined differently")));
        }
    }

    #[test]
    fn a_bad_label_disables_only_what_it_belongs_to() {
        let bad = container(
            "bad",
            &[
                ENABLED,
                ("traefik.http.routers.b.rule", "Host(`b.test`"),
                ("traefik.http.routers.c.rule", "Host(`c.test`)"),
            ],
            &[("net", "172.18.0.4")],
        );
        let good = container(
            "good",
            &[ENABLED, ("traefik.http.routers.g.rule", "Host(`g.test`)")],
            &[("net", "172.18.0.5")],
        );
        let t = build(&[bad, good], &settings());
        assert_eq!(names(&t), ["c@docker", "g@docker"]);
        assert!(t.issues.iter().any(|i| i.source == "bad"
            && i.level == "error"
            && i.message.contains("router disabled")));
    }

    #[test]
    fn a_router_with_a_broken_or_missing_middleware_is_not_served_without_it() {
        for mw in [
            (
                "traefik.http.middlewares.auth.basicauth.users",
                "admin:plaintext",
            ),
            ("traefik.other", "x"),
        ] {
            let c = container(
                "a",
                &[
                    ENABLED,
                    ("traefik.http.routers.r.rule", "Host(`a.test`)"),
                    ("traefik.http.routers.r.middlewares", "auth"),
                    mw,
                ],
                &[("net", "172.18.0.2")],
            );
            let t = build(&[c], &settings());
            assert!(t.routes.is_empty(), "{mw:?}");
            assert!(
                t.issues.iter().any(|i| i.message.contains("fail open")),
                "{:?}",
                t.issues
            );
        }
    }

    #[test]
    fn network_choice_order_and_fallback() {
        let nets = [("back", "10.1.0.2"), ("front", "10.2.0.2")];
        let ip = |t: &RouteTable| {
            t.services["a@docker"].backends[0]
                .addr()
                .unwrap()
                .ip()
                .to_string()
        };
        let mut s = settings();
        let t = build(&[container("a", &[ENABLED], &nets)], &s);
        assert_eq!(ip(&t), "10.1.0.2");
        assert!(t.issues.iter().any(|i| i.level == "warning"));
        s.own_networks.insert("front".into());
        assert_eq!(
            ip(&build(&[container("a", &[ENABLED], &nets)], &s)),
            "10.2.0.2"
        );
        s.default_network = Some("back".into());
        assert_eq!(
            ip(&build(&[container("a", &[ENABLED], &nets)], &s)),
            "10.1.0.2"
        );
        let labelled = container("a", &[ENABLED, ("traefik.docker.network", "front")], &nets);
        assert_eq!(ip(&build(&[labelled], &s)), "10.2.0.2");
        // A network the container is not on: a warning, and the fallback (as Traefik).
        let wrong = container("a", &[ENABLED, ("traefik.docker.network", "nope")], &nets);
        let t = build(&[wrong], &s);
        assert_eq!(ip(&t), "10.2.0.2");
        assert!(
            t.issues
                .iter()
                .any(|i| i.level == "warning" && i.message.contains("\"nope\"")),
            "{:?}",
            t.issues
        );
    }

    #[test]
    fn network_mode_of_another_container_and_ipv6_only() {
        let main = container("main", &[], &[("net", "10.3.0.2")]);
        let mut side = container("side", &[ENABLED], &[]);
        side.network_mode = "container:main-id".into();
        let t = build(&[main.clone(), side], &settings());
        assert_eq!(
            t.services["side@docker"].backends[0].addr(),
            Some("10.3.0.2:8080".parse().unwrap())
        );
        let mut v6 = container("v6", &[ENABLED], &[]);
        v6.networks
            .insert("net6".into(), Some("fd00::2".parse().unwrap()));
        let t = build(&[v6], &settings());
        let b = &t.services["v6@docker"].backends[0];
        assert_eq!(b.url, "http://[fd00::2]:8080");
        assert_eq!(b.status, crate::dynamic::ServerStatus::Ready);
    }

    #[test]
    fn stopped_containers_keep_their_route_known() {
        let mut c = container("a", &[ENABLED], &[]);
        c.state = RunState::Stopped;
        c.networks.insert("net".into(), None);
        c.exposed_ports.clear();
        let t = build(&[c], &settings());
        assert_eq!(t.routes.len(), 1);
        assert_eq!(
            t.services["a@docker"].backends[0].status,
            crate::dynamic::ServerStatus::Stopped
        );
        assert_eq!(t.services["a@docker"].backends[0].target, None);
        assert!(t.issues.is_empty(), "{:?}", t.issues);
    }

    /// `useBindPortIP`, as Traefik's `getIPPort`: a port published on a named address is
    /// reached there (HTTP and TCP servers alike); one published on every address (`0.0.0.0`)
    /// or not published falls back on the container's address; without the setting, the
    /// container's address.
    #[test]
    fn use_bind_port_ip_reaches_a_published_address() {
        let mut c = container("a", &[ENABLED], &[("net", "172.18.0.2")]);
        c.bindings.insert(8080, ("192.0.2.10".into(), 18080));
        let mut tcp = container(
            "b",
            &[ENABLED, ("traefik.tcp.routers.t.rule", "HostSNI(`*`)")],
            &[("net", "172.18.0.3")],
        );
        tcp.bindings.insert(8080, ("192.0.2.10".into(), 28080));
        let bound = ContainerSettings {
            use_bind_port_ip: true,
            ..settings()
        };
        let t = build(&[c.clone()], &bound);
        assert_eq!(
            t.services["a@docker"].backends[0].url,
            "http://192.0.2.10:18080"
        );
        let snap = container::snapshot(&[tcp], &bound);
        let Some(crate::dynamic::tcp::TcpService::LoadBalancer(lb)) =
            snap.config.tcp.services.get("b")
        else {
            panic!("{:?}", snap.config.tcp)
        };
        assert_eq!(lb.servers[0].address, "192.0.2.10:28080");
        let t = build(&[c.clone()], &settings());
        assert_eq!(
            t.services["a@docker"].backends[0].url,
            "http://172.18.0.2:8080"
        );
        c.bindings.insert(8080, ("0.0.0.0".into(), 18080));
        let t = build(&[c.clone()], &bound);
        assert_eq!(
            t.services["a@docker"].backends[0].url,
            "http://172.18.0.2:8080"
        );
        c.bindings.clear();
        let t = build(&[c], &bound);
        assert_eq!(
            t.services["a@docker"].backends[0].url,
            "http://172.18.0.2:8080"
        );
    }

    #[test]
    fn several_ports_take_the_lowest_with_a_warning() {
        let mut c = container("a", &[ENABLED], &[("net", "172.18.0.2")]);
        c.exposed_ports = [8443, 80, 9000].into_iter().collect();
        let t = build(&[c.clone()], &settings());
        assert_eq!(
            t.services["a@docker"].backends[0].addr(),
            Some("172.18.0.2:80".parse().unwrap())
        );
        assert!(t
            .issues
            .iter()
            .any(|i| i.level == "warning" && i.message.contains("lowest")));
        c.exposed_ports.clear();
        let t = build(&[c], &settings());
        assert!(t.routes.is_empty());
        assert!(t.issues.iter().any(|i| i.message.contains("no port")));
    }

    #[test]
    fn tcp_only_containers_get_no_http_router() {
        let c = container(
            "db",
            &[ENABLED, ("traefik.tcp.routers.db.rule", "HostSNI(`*`)")],
            &[("n", "10.0.0.9")],
        );
        let t = build(&[c], &settings());
        assert!(t.routes.is_empty());
        assert!(t.issues.is_empty(), "{:?}", t.issues);
        // Its TCP router, on the default entry points, to the container's port.
        let web = &t.tcp.entry_points["web"];
        assert_eq!(web.plain.len(), 1);
        let r = &web.plain[0];
        assert_eq!((r.name.as_str(), r.priority), ("db@docker", -1));
        assert_eq!(
            r.service.pick().map(|(s, _)| s.address.clone()),
            Some("10.0.0.9:8080".into())
        );
    }

    #[test]
    fn tcp_routers_as_traefik_checks_them() {
        let c = container(
            "db",
            &[
                ENABLED,
                ("traefik.tcp.routers.sni.rule", "HostSNI(`db.example.com`)"),
                ("traefik.tcp.routers.sni.service", "db"),
                ("traefik.tcp.routers.sni.tls.passthrough", "true"),
                (
                    "traefik.tcp.routers.notls.rule",
                    "HostSNI(`db.example.com`)",
                ),
                ("traefik.tcp.routers.notls.service", "db"),
                ("traefik.tcp.routers.nosvc.rule", "HostSNI(`*`)"),
                ("traefik.tcp.routers.nosvc.service", "missing"),
                ("traefik.tcp.routers.norule.service", "db"),
                ("traefik.tcp.services.db.loadbalancer.server.port", "5432"),
                (
                    "traefik.tcp.services.other.loadbalancer.server.port",
                    "5433",
                ),
            ],
            &[("n", "10.0.0.9")],
        );
        let t = build(&[c], &settings());
        let web = &t.tcp.entry_points["web"];
        let names: Vec<&str> = web.tls.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["sni@docker"]);
        assert!(web.plain.is_empty());
        assert_eq!(web.tls[0].mode, crate::model::tcp::TcpMode::Passthrough);
        for (router, why) in [
            ("notls", "no TLS on the router"),
            ("nosvc", "does not exist"),
            ("norule", "has no rule"),
        ] {
            assert!(
                t.issues
                    .iter()
                    .any(|i| i.message.contains(router) && i.message.contains(why)),
                "{router}: {:?}",
                t.issues
            );
        }
    }

    #[test]
    fn priority_is_rule_length_unless_set() {
        let c = container(
            "a",
            &[
                ENABLED,
                ("traefik.http.routers.short.rule", "PathPrefix(`/`)"),
                ("traefik.http.routers.long.rule", "PathPrefix(`/api`)"),
                ("traefik.http.routers.forced.rule", "Path(`/x`)"),
                ("traefik.http.routers.forced.priority", "1"),
            ],
            &[("net", "172.18.0.2")],
        );
        let t = build(&[c], &settings());
        let h = http::HeaderMap::new();
        assert_eq!(
            t.lookup("web", false, &view("h", "/api/v1", &h))
                .unwrap()
                .name,
            "long@docker"
        );
        assert_eq!(
            t.lookup("web", false, &view("h", "/x", &h)).unwrap().name,
            "short@docker"
        );
    }

    #[test]
    fn host_network_mode_uses_host_ip() {
        let mut c = container("a", &[ENABLED], &[]);
        c.network_mode = "host".into();
        let t = build(&[c], &settings());
        assert_eq!(
            t.services["a@docker"].backends[0].addr(),
            Some("127.0.0.1:8080".parse().unwrap())
        );
    }

    #[test]
    fn constraints_filter_containers() {
        let mut s = settings();
        s.exposed_by_default = true;
        s.constraints =
            Some(crate::provider::constraints::Constraints::parse("Label(`team`, `a`)").unwrap());
        let t = build(
            &[
                container("x", &[("team", "a")], &[("n", "10.0.0.2")]),
                container("y", &[("team", "b")], &[("n", "10.0.0.3")]),
            ],
            &s,
        );
        assert_eq!(names(&t), ["x@docker"]);
    }

    fn file_snapshot(config: Configuration) -> Snapshot {
        Snapshot {
            provider: "file".into(),
            config,
            issues: Vec::new(),
            broken: Vec::new(),
        }
    }

    #[test]
    fn references_cross_providers_only_when_qualified() {
        let node = crate::tree::Node::from_yaml(
            "http:\n  middlewares:\n    auth:\n      basicAuth:\n        users: ['u:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=']\n  services:\n    svc:\n      loadBalancer:\n        servers:\n          - url: http://app:80\n",
            "",
        )
        .unwrap();
        let file = file_snapshot(
            crate::dynamic::decode::decode(&node, crate::dynamic::decode::Source::File).config,
        );
        let labels = [
            ENABLED,
            ("traefik.http.routers.q.rule", "Host(`q`)"),
            ("traefik.http.routers.q.middlewares", "auth@file"),
            ("traefik.http.routers.q.service", "svc@file"),
            ("traefik.http.routers.u.rule", "Host(`u`)"),
            ("traefik.http.routers.u.middlewares", "auth"),
        ];
        let docker = container::snapshot(
            &[container("c", &labels, &[("n", "10.0.0.2")])],
            &settings(),
        );
        for order in [vec![&file, &docker], vec![&docker, &file]] {
            let t = compile(order, &eps());
            assert_eq!(names(&t), ["q@docker"], "{:?}", t.issues);
            assert_eq!(t.routes[0].service, "svc@file");
            assert_eq!(t.routes[0].middlewares[0].0, "auth@file");
            assert_eq!(
                t.services["svc@file"].backends[0].target,
                Some(Target::Name("app".into(), 80))
            );
            assert!(t
                .issues
                .iter()
                .any(|i| i.source == "c" && i.message.contains("auth@docker")));
        }
    }

    #[test]
    fn entry_point_models_and_unknown_entry_points() {
        let mut s = eps();
        s.entry_points[1].tls = Some(Default::default());
        s.entry_points[1].middlewares = vec!["hdr".into()];
        let mut config = Configuration::default();
        config.http.middlewares.insert(
            "hdr".into(),
            Middleware::Compress(Default::default()).into(),
        );
        config.http.services.insert("s".into(), Default::default());
        let router = |eps: &[&str]| Router {
            rule: "Host(`a`)".into(),
            service: "s".into(),
            entry_points: eps.iter().map(|e| e.to_string()).collect(),
            ..Default::default()
        };
        config
            .http
            .routers
            .insert("both".into(), router(&[]).into());
        config
            .http
            .routers
            .insert("odd".into(), router(&["web", "nope"]).into());
        let t = compile([&file_snapshot(config)], &s);
        assert_eq!(names(&t), ["both@file", "odd@file", "websecure-both@file"]);
        let secure = t
            .routes
            .iter()
            .find(|r| r.name == "websecure-both@file")
            .unwrap();
        assert!(secure.tls);
        assert_eq!(secure.middlewares[0].0, "hdr@file");
        assert!(t
            .issues
            .iter()
            .any(|i| i.level == "warning" && i.message.contains("\"nope\"")));
    }

    #[test]
    fn chains_expand_in_their_own_provider_and_may_not_include_themselves() {
        let node = crate::tree::Node::from_yaml(
            r#"http:
  middlewares:
    sso:
      chain:
        middlewares: [strip, inner]
    inner:
      chain:
        middlewares: [hdr, "add@docker"]
    strip:
      stripPrefix:
        prefixes: [/a]
    hdr:
      headers:
        customRequestHeaders: {X-A: "1"}
    loop:
      chain:
        middlewares: [hdr, loop2]
    loop2:
      chain:
        middlewares: [loop]
    gap:
      chain:
        middlewares: [hdr, missing]
    nopages:
      errors:
        status: ["500"]
        service: nope
"#,
            "",
        )
        .unwrap();
        let decoded = crate::dynamic::decode::decode(&node, crate::dynamic::decode::Source::File);
        assert!(decoded.errors.is_empty(), "{:?}", decoded.errors);
        let file = file_snapshot(decoded.config);
        let labels = [
            ENABLED,
            ("traefik.http.routers.ok.rule", "Host(`ok`)"),
            ("traefik.http.routers.ok.middlewares", "sso@file"),
            ("traefik.http.middlewares.add.addprefix.prefix", "/p"),
            // An unqualified `hdr` here is the container's own, which does not exist.
            ("traefik.http.routers.loop.rule", "Host(`loop`)"),
            ("traefik.http.routers.loop.middlewares", "loop@file"),
            ("traefik.http.routers.gap.rule", "Host(`gap`)"),
            ("traefik.http.routers.gap.middlewares", "gap@file"),
            ("traefik.http.routers.np.rule", "Host(`np`)"),
            ("traefik.http.routers.np.middlewares", "nopages@file"),
        ];
        let docker = container::snapshot(
            &[container("c", &labels, &[("n", "10.0.0.2")])],
            &settings(),
        );
        let t = compile([&file, &docker], &eps());
        assert_eq!(names(&t), ["ok@docker"], "{:?}", t.issues);
        let order: Vec<&str> = t.routes[0]
            .middlewares
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(order, ["strip@file", "hdr@file", "add@docker"]);
        let said = |what: &str| {
            t.issues
                .iter()
                .any(|i| i.level == "error" && i.message.contains(what))
        };
        assert!(
            said("\"loop@file\", which includes itself"),
            "{:?}",
            t.issues
        );
        assert!(
            said("\"missing@file\" (in chain \"gap@file\")"),
            "{:?}",
            t.issues
        );
        // An errors middleware's service resolves in its own provider (nope@file: missing).
        assert!(said("error page service \"nope@file\""), "{:?}", t.issues);
        // The dashboard's view counts the chains as used too.
        assert_eq!(t.api().middlewares["sso@file"].using, ["ok@docker"]);
    }
}
