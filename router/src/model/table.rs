//! Containers -> an immutable routing table. Pure: the same containers (in any order) and
//! the same settings give the same table.
//!
//! Semantics follow Traefik's Docker provider where they are documented, and fix what its
//! users complain about: a stopped container keeps its route known, so the route answers 503
//! instead of vanishing into a 404; one container's bad label only disables what it belongs to;
//! a container on several networks is reached on a network chosen by a fixed order.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::model::labels::{self, LabelError, LabelSet, MiddlewareDef, Owner, RouterDef};
use crate::model::rule::{RequestView, Rule};

/// What the router knows about one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerInfo {
    /// Full id.
    pub id: String,
    /// Container name without the leading `/`.
    pub name: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Running (and not paused).
    pub state: RunState,
    /// Docker's health status.
    pub health: Health,
    /// Networks by name, with the container's IPv4 address on each (none when stopped).
    pub networks: BTreeMap<String, Option<IpAddr>>,
    /// `HostConfig.NetworkMode` (`host`, `bridge`, a network name, `container:...`).
    pub network_mode: String,
    /// Exposed TCP ports.
    pub exposed_ports: BTreeSet<u16>,
}

/// A container's run state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RunState {
    /// Running.
    Running,
    /// Paused.
    Paused,
    /// A kill or stop was seen: it is going away; take no new requests.
    Stopping,
    /// Not running (created, exited, dead, restarting).
    Stopped,
}

/// Docker's health check status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Health {
    /// No health check.
    None,
    /// Health check running, not yet healthy.
    Starting,
    /// Healthy.
    Healthy,
    /// Unhealthy.
    Unhealthy,
}

/// Settings the table depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSettings {
    /// Label prefix (`traefik`).
    pub prefix: String,
    /// Route containers without `enable=true`.
    pub exposed_by_default: bool,
    /// `ROUTER_NETWORK`.
    pub default_network: Option<String>,
    /// The networks the router itself is on (found at runtime).
    pub own_networks: BTreeSet<String>,
    /// Address for containers in `network_mode: host`.
    pub host_ip: IpAddr,
    /// Default rule template (`Host(\`{{ normalize .Name }}\`)`).
    pub default_rule: String,
    /// Known entry point names.
    pub entrypoints: Vec<String>,
}

/// The routing table.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    /// Routes, highest priority first (ties by name).
    pub routes: Vec<Route>,
    /// Services by name.
    pub services: BTreeMap<String, Service>,
    /// Every label problem, by container.
    pub issues: Vec<Issue>,
    /// Route indexes by literal host; routes without a literal host are in `any_host`.
    by_host: HashMap<String, Vec<usize>>,
    any_host: Vec<usize>,
}

/// One route.
#[derive(Debug, Clone)]
pub struct Route {
    /// Router name.
    pub name: String,
    /// The parsed rule.
    pub rule: Rule,
    /// Priority (label, else the rule's length).
    pub priority: i64,
    /// Entry points it is served on.
    pub entrypoints: Vec<String>,
    /// Middlewares, in order.
    pub middlewares: Vec<(String, MiddlewareDef)>,
    /// Service name.
    pub service: String,
    /// `tls=true` or a cert resolver.
    pub tls: bool,
    /// Cert resolver name.
    pub certresolver: Option<String>,
    /// Containers that define it.
    pub containers: Vec<String>,
}

/// A service and its backends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Name.
    pub name: String,
    /// Backends, sorted by container name.
    pub backends: Vec<Backend>,
    /// Active health check path.
    pub health_path: Option<String>,
    /// Active health check interval.
    pub health_interval: Option<Duration>,
}

/// One backend server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    /// Container id.
    pub container_id: String,
    /// Container name.
    pub container: String,
    /// Address, when the container has one.
    pub addr: Option<SocketAddr>,
    /// Whether Docker's state lets it take requests.
    pub status: BackendStatus,
}

/// Why a backend can or cannot take requests, as Docker reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendStatus {
    /// Running, healthy or without health check.
    Ready,
    /// Health check still starting.
    Starting,
    /// Health check failing.
    Unhealthy,
    /// Paused.
    Paused,
    /// Kill or stop seen.
    Stopping,
    /// Not running.
    Stopped,
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

/// A problem found in a container's labels or setup.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Issue {
    /// Container name.
    pub container: String,
    /// `error` (something is disabled), `warning` (a guess was made), `unsupported`.
    pub level: &'static str,
    /// The label, if one is at fault.
    pub label: Option<String>,
    /// What happened.
    pub message: String,
}

// === building ===

/// Builds the table.
pub fn build(containers: &[ContainerInfo], s: &TableSettings) -> RouteTable {
    let mut sorted: Vec<&ContainerInfo> = containers.iter().collect();
    sorted.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));

    let mut issues = Vec::new();
    let mut routers: BTreeMap<String, Vec<(String, RouterDef, String)>> = BTreeMap::new();
    let mut services: BTreeMap<String, Service> = BTreeMap::new();
    let mut middlewares: BTreeMap<String, Vec<(String, MiddlewareDef)>> = BTreeMap::new();
    let mut broken_mw: BTreeSet<String> = BTreeSet::new();

    for c in sorted {
        let set = labels::parse(&s.prefix, &c.labels);
        let issue = |level: &'static str, label: Option<String>, message: String| Issue {
            container: c.name.clone(),
            level,
            label,
            message,
        };
        for key in &set.unsupported {
            issues.push(issue(
                "unsupported",
                Some(key.clone()),
                "label not supported; ignored".into(),
            ));
        }
        if set.errors.iter().any(|e| e.owner == Owner::Container) {
            for e in &set.errors {
                issues.push(issue(
                    "error",
                    Some(e.label.clone()),
                    format!("{}; container not routed", e.message),
                ));
            }
            continue;
        }
        if !set.enable.unwrap_or(s.exposed_by_default) {
            continue;
        }
        let broken = |owner: &Owner| set.errors.iter().any(|e| &e.owner == owner);
        for e in &set.errors {
            issues.push(issue(
                "error",
                Some(e.label.clone()),
                format!("{}; {} disabled", e.message, describe(&e.owner)),
            ));
        }
        for (name, def) in &set.middlewares {
            middlewares
                .entry(name.clone())
                .or_default()
                .push((c.name.clone(), def.clone()));
        }
        for e in &set.errors {
            if let Owner::Middleware(m) = &e.owner {
                broken_mw.insert(m.clone());
            }
        }

        // Address on the chosen network.
        let (ip, warning) = match pick_ip(c, &set, s) {
            Ok(found) => found,
            Err(msg) => {
                issues.push(issue(
                    "error",
                    set.network
                        .as_ref()
                        .map(|_| format!("{}.docker.network", s.prefix)),
                    format!("{msg}; container not routed"),
                ));
                continue;
            }
        };
        if let Some(w) = warning {
            issues.push(issue("warning", None, w));
        }
        let status = status_of(c);

        // Services.
        let default_name = normalize(&service_name(c));
        let mut defined: BTreeMap<String, labels::ServiceDef> = set.services.clone();
        if defined.is_empty() {
            defined.insert(default_name.clone(), labels::ServiceDef::default());
        }
        let mut ok_services = Vec::new();
        for (name, def) in &defined {
            if broken(&Owner::Service(name.clone())) {
                continue;
            }
            let port = match def.port {
                Some(p) => p,
                None if c.exposed_ports.len() == 1 => *c.exposed_ports.iter().next().unwrap_or(&0),
                // Docker lists no ports for a container that is not running, which has no
                // address either: the port is moot, and the backend stays known (stopped) so
                // that the route answers 503 instead of vanishing.
                None if ip.is_none() => 0,
                None => {
                    issues.push(issue(
                        "error",
                        None,
                        format!(
                            "service {name:?}: no port: set {}.http.services.{name}.loadbalancer.server.port (the container exposes {} ports)",
                            s.prefix,
                            c.exposed_ports.len()
                        ),
                    ));
                    continue;
                }
            };
            let svc = services.entry(name.clone()).or_insert_with(|| Service {
                name: name.clone(),
                backends: Vec::new(),
                health_path: def.health_path.clone(),
                health_interval: def.health_interval,
            });
            svc.backends.push(Backend {
                container_id: c.id.clone(),
                container: c.name.clone(),
                addr: ip.map(|ip| SocketAddr::new(ip, port)),
                status: if ip.is_some() {
                    status
                } else {
                    BackendStatus::Stopped
                },
            });
            ok_services.push(name.clone());
        }

        // Routers.
        let mut defined_routers = set.routers.clone();
        if defined_routers.is_empty() && !defined.is_empty() {
            defined_routers.insert(default_name.clone(), RouterDef::default());
        }
        for (name, mut def) in defined_routers {
            if broken(&Owner::Router(name.clone())) {
                continue;
            }
            if def.service.is_none() {
                if defined.len() == 1 {
                    def.service = defined.keys().next().cloned();
                } else {
                    issues.push(issue("error", None, format!("router {name:?} has no service and the container defines {} services; router disabled", defined.len())));
                    continue;
                }
            }
            let rule_text = match &def.rule {
                Some(r) => r.clone(),
                None => render_default_rule(&s.default_rule, c),
            };
            routers
                .entry(name)
                .or_default()
                .push((c.name.clone(), def, rule_text));
        }
        let _ = ok_services;
    }

    // Middlewares: identical definitions merge; conflicting ones are disabled.
    let mut mw_final: BTreeMap<String, MiddlewareDef> = BTreeMap::new();
    for (name, defs) in &middlewares {
        if broken_mw.contains(name) {
            continue;
        }
        if defs.iter().all(|(_, d)| d == &defs[0].1) {
            mw_final.insert(name.clone(), defs[0].1.clone());
        } else {
            for (container, _) in defs {
                issues.push(Issue {
                    container: container.clone(),
                    level: "error",
                    label: None,
                    message: format!("middleware {name:?} is defined differently on several containers; disabled"),
                });
            }
        }
    }

    // Routers: identical definitions merge; conflicting ones are disabled.
    let mut routes = Vec::new();
    for (name, defs) in routers {
        let (first_container, first, first_rule) = &defs[0];
        let conflict = defs.iter().any(|(_, d, r)| d != first || r != first_rule);
        let containers: Vec<String> = defs.iter().map(|(c, _, _)| c.clone()).collect();
        let report = |issues: &mut Vec<Issue>, msg: String| {
            for c in &containers {
                issues.push(Issue {
                    container: c.clone(),
                    level: "error",
                    label: None,
                    message: msg.clone(),
                });
            }
        };
        if conflict {
            report(
                &mut issues,
                format!("router {name:?} is defined differently on several containers; disabled"),
            );
            continue;
        }
        let rule = match Rule::parse_with(first_rule, first.rule_syntax.unwrap_or_default()) {
            Ok(r) => r,
            Err(e) => {
                issues.push(Issue {
                    container: first_container.clone(),
                    level: "error",
                    label: Some(format!("{}.http.routers.{name}.rule", s.prefix)),
                    message: format!("{e}; router disabled"),
                });
                continue;
            }
        };
        let service = first.service.clone().unwrap_or_default();
        if !services.contains_key(&service) {
            report(&mut issues, format!("router {name:?} uses service {service:?}, which has no usable definition; router disabled"));
            continue;
        }
        let mut mws = Vec::new();
        let mut missing = None;
        for m in &first.middlewares {
            match mw_final.get(m) {
                Some(def) => mws.push((m.clone(), def.clone())),
                None => {
                    missing = Some(m.clone());
                    break;
                }
            }
        }
        if let Some(m) = missing {
            report(&mut issues, format!("router {name:?} uses middleware {m:?}, which is missing or broken; router disabled (serving it without would fail open)"));
            continue;
        }
        // As in Traefik, `tls=true` (or a cert resolver) without entry points means HTTPS only.
        let tls = first.tls.unwrap_or(false) || first.certresolver.is_some();
        let entrypoints = first.entrypoints.clone().unwrap_or_else(|| {
            if tls && s.entrypoints.iter().any(|e| e == "websecure") {
                vec!["websecure".to_owned()]
            } else {
                s.entrypoints.clone()
            }
        });
        if let Some(bad) = entrypoints.iter().find(|e| !s.entrypoints.contains(e)) {
            report(
                &mut issues,
                format!(
                    "router {name:?} uses unknown entry point {bad:?} (known: {}); router disabled",
                    s.entrypoints.join(", ")
                ),
            );
            continue;
        }
        let priority = first.priority.unwrap_or(first_rule.len() as i64);
        routes.push(Route {
            name,
            rule,
            priority,
            entrypoints,
            middlewares: mws,
            service,
            tls,
            certresolver: first.certresolver.clone(),
            containers,
        });
    }
    routes.sort_by(|a, b| {
        b.priority
            .cmp(&a.priority)
            .then_with(|| a.name.cmp(&b.name))
    });
    for svc in services.values_mut() {
        svc.backends
            .sort_by(|a, b| (&a.container, &a.container_id).cmp(&(&b.container, &b.container_id)));
    }
    issues.sort();
    issues.dedup();

    let mut by_host: HashMap<String, Vec<usize>> = HashMap::new();
    let mut any_host = Vec::new();
    for (i, r) in routes.iter().enumerate() {
        match r.rule.literal_hosts() {
            Some(hosts) => {
                for h in hosts {
                    by_host.entry(h).or_default().push(i);
                }
            }
            None => any_host.push(i),
        }
    }
    RouteTable {
        routes,
        services,
        issues,
        by_host,
        any_host,
    }
}

fn describe(owner: &Owner) -> String {
    match owner {
        Owner::Router(n) => format!("router {n:?}"),
        Owner::Service(n) => format!("service {n:?}"),
        Owner::Middleware(n) => format!("middleware {n:?}"),
        Owner::Container => "container".into(),
    }
}

/// Traefik's default name for a container: `<service>_<project>` for compose, else its name.
pub fn service_name(c: &ContainerInfo) -> String {
    match (
        c.labels.get("com.docker.compose.service"),
        c.labels.get("com.docker.compose.project"),
    ) {
        (Some(svc), Some(project)) => format!("{svc}_{project}"),
        _ => c.name.clone(),
    }
}

/// Traefik's `normalize`: runs of characters that are not letters or digits become one `-`.
pub fn normalize(name: &str) -> String {
    name.split(|c: char| !c.is_alphanumeric())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// Renders the default rule template for a container. Supported: `{{ .Name }}`,
/// `{{ normalize .Name }}`, `{{ .ContainerName }}`, `{{ normalize .ContainerName }}`.
pub fn render_default_rule(template: &str, c: &ContainerInfo) -> String {
    render_template(template, &service_name(c), &c.name).unwrap_or_else(|e| e)
}

/// Renders a template; `Err` carries the first unsupported placeholder.
pub fn render_template(template: &str, name: &str, container_name: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("unclosed {{{{ in {template:?}"))?;
        let expr: Vec<&str> = after[..end].split_whitespace().collect();
        let value = match expr.as_slice() {
            [".Name"] => name.to_owned(),
            ["normalize", ".Name"] => normalize(name),
            [".ContainerName"] => container_name.to_owned(),
            ["normalize", ".ContainerName"] => normalize(container_name),
            _ => {
                return Err(format!(
                    "unsupported template expression {{{{{}}}}}",
                    &after[..end]
                ))
            }
        };
        out.push_str(&value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn status_of(c: &ContainerInfo) -> BackendStatus {
    match c.state {
        RunState::Stopped => BackendStatus::Stopped,
        RunState::Stopping => BackendStatus::Stopping,
        RunState::Paused => BackendStatus::Paused,
        RunState::Running => match c.health {
            Health::None | Health::Healthy => BackendStatus::Ready,
            Health::Starting => BackendStatus::Starting,
            Health::Unhealthy => BackendStatus::Unhealthy,
        },
    }
}

/// The container's IP on the chosen network: the label, else `ROUTER_NETWORK`, else a network
/// shared with the router, else the first by name (with a warning). `Ok((None, _))` when the
/// container has no address (stopped).
fn pick_ip(
    c: &ContainerInfo,
    set: &LabelSet,
    s: &TableSettings,
) -> Result<(Option<IpAddr>, Option<String>), String> {
    if c.network_mode == "host" {
        return Ok((Some(s.host_ip), None));
    }
    if c.state == RunState::Stopped && c.networks.values().all(Option::is_none) {
        return Ok((None, None));
    }
    if let Some(n) = &set.network {
        return match c.networks.get(n) {
            Some(ip) => Ok((*ip, None)),
            None => Err(format!(
                "docker.network {n:?} is not one of the container's networks ({})",
                c.networks.keys().cloned().collect::<Vec<_>>().join(", ")
            )),
        };
    }
    if let Some(n) = &s.default_network {
        if let Some(ip) = c.networks.get(n) {
            return Ok((*ip, None));
        }
    }
    if let Some((_, ip)) = c.networks.iter().find(|(n, _)| s.own_networks.contains(*n)) {
        return Ok((*ip, None));
    }
    match c.networks.iter().next() {
        None => Err("the container is on no network".into()),
        Some((n, ip)) if c.networks.len() == 1 => {
            let _ = n;
            Ok((*ip, None))
        }
        Some((n, ip)) => Ok((
            *ip,
            Some(format!("the container is on several networks and none is chosen ({}.docker.network, ROUTER_NETWORK or one shared with the router); using {n:?}", s.prefix)),
        )),
    }
}

// === lookup ===

impl RouteTable {
    /// The highest-priority route on `entrypoint` whose rule matches.
    pub fn lookup(&self, entrypoint: &str, req: &RequestView<'_>) -> Option<&Route> {
        // Index keys carry no trailing dot; the rules themselves accept either form.
        let key = req.host.strip_suffix('.').unwrap_or(req.host);
        let hosted = self.by_host.get(key).map_or(&[][..], Vec::as_slice);
        let (mut i, mut j) = (0, 0);
        loop {
            let next = match (hosted.get(i), self.any_host.get(j)) {
                (Some(&a), Some(&b)) if a < b => {
                    i += 1;
                    a
                }
                (Some(_), Some(&b)) => {
                    j += 1;
                    b
                }
                (Some(&a), None) => {
                    i += 1;
                    a
                }
                (None, Some(&b)) => {
                    j += 1;
                    b
                }
                (None, None) => return None,
            };
            let route = &self.routes[next];
            if route.entrypoints.iter().any(|e| e == entrypoint) && route.rule.matches(req) {
                return Some(route);
            }
        }
    }

    /// A stable text form for logs, diffs and snapshot tests.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        for r in &self.routes {
            let mws: Vec<&str> = r.middlewares.iter().map(|(n, _)| n.as_str()).collect();
            out.push(format!(
                "route {} [{}] prio={} eps={} mws={} -> {}{}",
                r.name,
                r.rule,
                r.priority,
                r.entrypoints.join(","),
                mws.join(","),
                r.service,
                if r.tls { " tls" } else { "" }
            ));
        }
        for s in self.services.values() {
            let backends: Vec<String> = s
                .backends
                .iter()
                .map(|b| {
                    format!(
                        "{}={}({})",
                        b.container,
                        b.addr.map_or("-".into(), |a| a.to_string()),
                        b.status
                    )
                })
                .collect();
            out.push(format!("service {} {}", s.name, backends.join(" ")));
        }
        for i in &self.issues {
            out.push(format!(
                "{} {}: {}{}",
                i.level,
                i.container,
                i.label.as_ref().map_or(String::new(), |l| format!("{l}: ")),
                i.message
            ));
        }
        out
    }
}

/// Lines added and removed between two tables' descriptions, for the reload log.
pub fn diff(old: &RouteTable, new: &RouteTable) -> (Vec<String>, Vec<String>) {
    let a: BTreeSet<String> = old.describe().into_iter().collect();
    let b: BTreeSet<String> = new.describe().into_iter().collect();
    (
        b.difference(&a).cloned().collect(),
        a.difference(&b).cloned().collect(),
    )
}

/// Label errors are also kept as [`LabelError`] for callers that need the owner.
pub type _LabelError = LabelError;

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> TableSettings {
        TableSettings {
            prefix: "traefik".into(),
            exposed_by_default: false,
            default_network: None,
            own_networks: BTreeSet::new(),
            host_ip: "127.0.0.1".parse().unwrap(),
            default_rule: "Host(`{{ normalize .Name }}`)".into(),
            entrypoints: vec!["web".into(), "websecure".into()],
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
            network_mode: "bridge".into(),
            exposed_ports: [8080].into_iter().collect(),
        }
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

    const ENABLED: (&str, &str) = ("traefik.enable", "true");

    #[test]
    fn default_router_and_service_from_the_name() {
        let t = build(
            &[container("my_app", &[ENABLED], &[("net", "172.18.0.2")])],
            &settings(),
        );
        assert_eq!(t.routes.len(), 1);
        assert_eq!(t.routes[0].rule.to_string(), "Host(`my-app`)");
        assert_eq!(
            t.services["my-app"].backends[0].addr,
            Some("172.18.0.2:8080".parse().unwrap())
        );
        let h = http::HeaderMap::new();
        assert_eq!(
            t.lookup("web", &view("my-app", "/", &h))
                .map(|r| r.name.as_str()),
            Some("my-app")
        );
        assert!(t.lookup("web", &view("other", "/", &h)).is_none());
    }

    #[test]
    fn exposed_by_default_off_skips_unlabelled() {
        let t = build(
            &[container("a", &[], &[("net", "172.18.0.2")])],
            &settings(),
        );
        assert!(t.routes.is_empty());
        let mut s = settings();
        s.exposed_by_default = true;
        assert_eq!(
            build(&[container("a", &[], &[("net", "172.18.0.2")])], &s)
                .routes
                .len(),
            1
        );
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
        let addrs: Vec<_> = t.services["s"]
            .backends
            .iter()
            .map(|b| b.addr.unwrap().to_string())
            .collect();
        assert_eq!(addrs, vec!["172.18.0.2:80", "172.18.0.3:80"]);
        assert!(t.issues.is_empty(), "{:?}", t.issues);
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
        let names: Vec<&str> = t.routes.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, vec!["c", "g"]);
        assert!(t.issues.iter().any(|i| i.container == "bad"
            && i.level == "error"
            && i.message.contains("router disabled")));
    }

    #[test]
    fn a_router_with_a_broken_middleware_is_not_served_without_it() {
        let c = container(
            "a",
            &[
                ENABLED,
                ("traefik.http.routers.r.rule", "Host(`a.test`)"),
                ("traefik.http.routers.r.middlewares", "auth"),
                (
                    "traefik.http.middlewares.auth.basicauth.users",
                    "admin:plaintext",
                ),
            ],
            &[("net", "172.18.0.2")],
        );
        let t = build(&[c], &settings());
        assert!(t.routes.is_empty());
        assert!(t.issues.iter().any(|i| i.message.contains("fail open")));
    }

    #[test]
    fn network_choice_order() {
        let nets = [("back", "10.1.0.2"), ("front", "10.2.0.2")];
        let mut s = settings();
        let t = build(&[container("a", &[ENABLED], &nets)], &s);
        assert_eq!(
            t.services["a"].backends[0].addr.unwrap().ip().to_string(),
            "10.1.0.2"
        );
        assert!(t.issues.iter().any(|i| i.level == "warning"));
        s.own_networks.insert("front".into());
        let t = build(&[container("a", &[ENABLED], &nets)], &s);
        assert_eq!(
            t.services["a"].backends[0].addr.unwrap().ip().to_string(),
            "10.2.0.2"
        );
        s.default_network = Some("back".into());
        let t = build(&[container("a", &[ENABLED], &nets)], &s);
        assert_eq!(
            t.services["a"].backends[0].addr.unwrap().ip().to_string(),
            "10.1.0.2"
        );
        let labelled = container("a", &[ENABLED, ("traefik.docker.network", "front")], &nets);
        let t = build(&[labelled], &s);
        assert_eq!(
            t.services["a"].backends[0].addr.unwrap().ip().to_string(),
            "10.2.0.2"
        );
        let wrong = container("a", &[ENABLED, ("traefik.docker.network", "nope")], &nets);
        assert!(build(&[wrong], &s).routes.is_empty());
    }

    #[test]
    fn stopped_containers_keep_their_route_known() {
        let mut c = container("a", &[ENABLED], &[]);
        c.state = RunState::Stopped;
        c.networks.insert("net".into(), None);
        // As Docker lists it: no ports while it is not running (no port label either).
        c.exposed_ports.clear();
        let t = build(&[c], &settings());
        assert_eq!(t.routes.len(), 1);
        assert_eq!(t.services["a"].backends[0].status, BackendStatus::Stopped);
        assert_eq!(t.services["a"].backends[0].addr, None);
        assert!(t.issues.is_empty(), "{:?}", t.issues);
    }

    #[test]
    fn status_from_state_and_health() {
        let mut c = container("a", &[ENABLED], &[("net", "172.18.0.2")]);
        for (state, health, want) in [
            (RunState::Running, Health::Healthy, BackendStatus::Ready),
            (RunState::Running, Health::Starting, BackendStatus::Starting),
            (
                RunState::Running,
                Health::Unhealthy,
                BackendStatus::Unhealthy,
            ),
            (RunState::Paused, Health::None, BackendStatus::Paused),
            (RunState::Stopping, Health::None, BackendStatus::Stopping),
        ] {
            c.state = state;
            c.health = health;
            assert_eq!(
                build(&[c.clone()], &settings()).services["a"].backends[0].status,
                want
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
            t.lookup("web", &view("h", "/api/v1", &h)).unwrap().name,
            "long"
        );
        assert_eq!(t.lookup("web", &view("h", "/x", &h)).unwrap().name, "short");
    }

    #[test]
    fn missing_port_is_reported_for_that_container() {
        let mut c = container("a", &[ENABLED], &[("net", "172.18.0.2")]);
        c.exposed_ports = [80, 443].into_iter().collect();
        let t = build(&[c], &settings());
        assert!(t.routes.is_empty());
        assert!(t.issues.iter().any(|i| i.message.contains("no port")));
    }

    #[test]
    fn host_network_mode_uses_host_ip() {
        let mut c = container("a", &[ENABLED], &[]);
        c.network_mode = "host".into();
        let t = build(&[c], &settings());
        assert_eq!(
            t.services["a"].backends[0].addr,
            Some("127.0.0.1:8080".parse().unwrap())
        );
    }

    #[test]
    fn templates() {
        assert_eq!(
            render_template("Host(`{{ normalize .Name }}.lan`)", "web_proj", "c").unwrap(),
            "Host(`web-proj.lan`)"
        );
        assert_eq!(
            render_template("Host(`{{ .ContainerName }}`)", "n", "c1").unwrap(),
            "Host(`c1`)"
        );
        assert!(render_template("Host(`{{ .Labels }}`)", "n", "c").is_err());
        assert_eq!(normalize("--a__b..c--"), "a-b-c");
    }
}
