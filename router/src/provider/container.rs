//! Containers (or Swarm tasks) and their labels -> one provider [`Snapshot`], as Traefik's
//! Docker and Swarm providers build their dynamic configuration. Pure: the same containers,
//! in any order, with the same settings give the same snapshot.
//!
//! Per container, as in Traefik: `<prefix>.enable` (else `exposedByDefault`), the
//! provider's own labels (`docker.network`, `docker.lbswarm`, `swarm.*`), then the dynamic
//! configuration under the prefix; a container that defines no HTTP service gets one named
//! after it, and one that defines no router gets one with the default rule; a router without
//! a service takes the container's only one. A container with only TCP or UDP labels gets no
//! HTTP router (its TCP routers and services: [`super::container_tcp`]). Definitions of the
//! same name on several containers merge when identical (services add their servers), and
//! are dropped, with an error on each, when they differ ([`super::merge`]).
//!
//! Where the router differs on purpose, it says so in the snapshot's issues: a stopped
//! container keeps its routes known (they answer 503 instead of vanishing into 404s); one
//! container's bad label disables only what it belongs to.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use super::fragments::Fragment;
use crate::dynamic::decode::{self, Decoded, Owner, Source};
use crate::dynamic::{Broken, Issue, Origin, Router, Server, ServerStatus, Service, Snapshot};
use crate::tree::{DecodeError, FlatStyle, Node};

/// What the router knows about one container (or Swarm task).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ContainerInfo {
    /// Full id.
    pub id: String,
    /// Container name without the leading `/` (the service's name for a Swarm task).
    pub name: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Running (and not paused).
    pub state: RunState,
    /// Docker's health status.
    pub health: Health,
    /// Networks by name, with the container's address on each (IPv4, else its global IPv6;
    /// none when stopped).
    pub networks: BTreeMap<String, Option<IpAddr>>,
    /// Published ports: each container port's first binding on the host (its address as
    /// Docker lists it, `0.0.0.0` for every address; and its host port), for
    /// `useBindPortIP`.
    #[serde(default)]
    pub bindings: BTreeMap<u16, (String, u16)>,
    /// `HostConfig.NetworkMode` (`host`, `bridge`, a network name, `container:<id>`).
    pub network_mode: String,
    /// Exposed TCP ports.
    pub exposed_ports: BTreeSet<u16>,
}

/// A container's run state.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, PartialOrd, Ord,
)]
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
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, PartialOrd, Ord,
)]
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

/// The provider settings the snapshot depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSettings {
    /// `docker` or `swarm`.
    pub provider: String,
    /// Label prefix (`traefik`).
    pub prefix: String,
    /// Route containers without `enable=true`.
    pub exposed_by_default: bool,
    /// `providers.docker.network` (`ROUTER_NETWORK`).
    pub default_network: Option<String>,
    /// The networks the router itself is on (found at runtime).
    pub own_networks: BTreeSet<String>,
    /// Address for containers in `network_mode: host`.
    pub host_ip: IpAddr,
    /// `useBindPortIP`: servers on their published host address and port, when the binding
    /// names an address.
    pub use_bind_port_ip: bool,
    /// Default rule template (`Host(\`{{ normalize .Name }}\`)`).
    pub default_rule: String,
    /// `providers.docker.constraints`, parsed.
    pub constraints: Option<super::constraints::Constraints>,
}

impl ContainerSettings {
    /// Traefik's defaults for `provider`: prefix `traefik`, every container exposed, the
    /// default rule, no network, no constraints, host-mode containers on 127.0.0.1.
    pub fn traefik_defaults(provider: &str) -> ContainerSettings {
        ContainerSettings {
            provider: provider.to_owned(),
            prefix: "traefik".into(),
            exposed_by_default: true,
            default_network: None,
            own_networks: BTreeSet::new(),
            host_ip: [127, 0, 0, 1].into(),
            use_bind_port_ip: false,
            default_rule: crate::config::DEFAULT_RULE.into(),
            constraints: None,
        }
    }
}

/// Builds the provider's snapshot.
/// Each container's part is remembered ([`super::fragments`]): an unchanged container is not
/// read again.
pub fn snapshot(containers: &[ContainerInfo], s: &ContainerSettings) -> Snapshot {
    snapshot_keyed(containers, None, s)
}

/// The key a container's part of a snapshot is remembered by: for [`snapshot_with_keys`].
pub fn memo_key(c: &ContainerInfo) -> u64 {
    super::fragments::key(c)
}

/// [`snapshot`] with each container's [`memo_key`] already worked out (`keys[i]` is
/// `containers[i]`'s): the Docker provider works it out when it lists a container, not for
/// every container at every event. Keys of another length are not used.
pub fn snapshot_with_keys(
    containers: &[ContainerInfo],
    keys: &[u64],
    s: &ContainerSettings,
) -> Snapshot {
    snapshot_keyed(containers, Some(keys), s)
}

/// [`snapshot_with_keys`], shared: the snapshot is also the provider's last one, which its
/// next is made from ([`super::merge`]); the Docker provider publishes it as it is.
pub fn snapshot_shared(
    containers: &[ContainerInfo],
    keys: Option<&[u64]>,
    s: &ContainerSettings,
) -> std::sync::Arc<Snapshot> {
    let keys = keys.filter(|k| k.len() == containers.len());
    debug_assert!(
        keys.is_none_or(|keys| containers.iter().zip(keys).all(|(c, k)| memo_key(c) == *k)),
        "a container's key is not its own"
    );
    let refs: Vec<&ContainerInfo> = containers.iter().collect();
    let parts = super::fragments::parts(&refs, keys, s, |c| read(c, containers, s));
    super::merge::snapshot(containers, &parts, s)
}

fn snapshot_keyed(
    containers: &[ContainerInfo],
    keys: Option<&[u64]>,
    s: &ContainerSettings,
) -> Snapshot {
    Arc::unwrap_or_clone(snapshot_shared(containers, keys, s))
}

/// [`snapshot`] with every container read again: what the remembered parts must add up to
/// (for tests).
pub fn snapshot_read_again(containers: &[ContainerInfo], s: &ContainerSettings) -> Snapshot {
    let sorted: Vec<&ContainerInfo> = by_name(containers)
        .into_iter()
        .map(|i| &containers[i])
        .collect();
    let parts: Vec<_> = sorted
        .iter()
        .map(|c| std::sync::Arc::new(read(c, containers, s)))
        .collect();
    super::merge::merge_whole(&sorted, &parts, s)
}

/// The containers' positions in the order their parts are merged.
pub(super) fn by_name(containers: &[ContainerInfo]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..containers.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&containers[a], &containers[b]);
        (&a.name, &a.id).cmp(&(&b.name, &b.id))
    });
    order
}

/// One container's part of the snapshot: its configuration, what could not be read, and what
/// was found wrong.
fn read(c: &ContainerInfo, all: &[ContainerInfo], s: &ContainerSettings) -> Fragment {
    let mut part = Fragment::default();
    // ECS tasks of one service share a name: each is reported under its own id.
    let source = if s.provider == super::ecs::PROVIDER {
        &c.id
    } else {
        &c.name
    };
    let mut issues = Vec::new();
    part.config = container(c, all, s, &mut part.broken, &mut |level, key, message| {
        issues.push(Issue {
            source: source.clone(),
            level,
            key,
            message,
        })
    })
    .map(Into::into);
    part.issues = issues;
    part
}

pub(super) type Report<'a> = dyn FnMut(&'static str, Option<String>, String) + 'a;

/// One container's configuration, or `None` when it is not routed (with the reason reported).
fn container(
    c: &ContainerInfo,
    all: &[ContainerInfo],
    s: &ContainerSettings,
    left_out: &mut Vec<Broken>,
    report: &mut Report<'_>,
) -> Option<crate::dynamic::Configuration> {
    let (root, tree_errors) = label_tree(&c.labels, &s.prefix);
    let own = match own_labels(&root, s) {
        Ok(o) => o,
        Err(e) => {
            report(
                "error",
                Some(e.key),
                format!("{}; container not routed", e.message),
            );
            return None;
        }
    };
    if !own.enable.unwrap_or(s.exposed_by_default) {
        return None;
    }
    if let Some(constraints) = &s.constraints {
        if !constraints.matches(&c.labels) {
            return None;
        }
    }
    if !tree_errors.is_empty() {
        for e in tree_errors {
            report(
                "error",
                Some(e.key),
                format!("{}; container not routed", e.message),
            );
        }
        return None;
    }
    let dynamic_root = without_own(&root, &s.provider);
    let mut decoded = decode::decode(&dynamic_root, Source::Labels);
    let broken: BTreeSet<Owner> = decoded.errors.iter().map(|e| e.owner.clone()).collect();
    left_out.extend(decode::broken(&decoded));
    for e in &decoded.errors {
        let (level, what) = e.owner.consequence();
        report(
            level,
            Some(e.error.key.clone()),
            format!("{}; {what}", e.error.message),
        );
    }
    let (ip, warning) = match address(c, all, &own, s) {
        Ok(found) => found,
        Err(msg) => {
            report(
                "error",
                own.network
                    .as_ref()
                    .map(|_| format!("{}.docker.network", s.prefix)),
                format!("{msg}; container not routed"),
            );
            return None;
        }
    };
    if let Some(w) = warning {
        report("warning", None, w);
    }
    let default_name = normalize(&service_name(c));
    let status = status_of(c);
    let tcp = asks_for(&dynamic_root, "tcp", &["routers", "services"]);
    if tcp {
        super::container_tcp::build(c, ip, status, &mut decoded, s, &default_name, report);
    }
    let udp = asks_for(&dynamic_root, "udp", &["routers", "services"]);
    if udp {
        super::container_tcp::build_udp(c, ip, status, &mut decoded, s, &default_name, report);
    }
    let http = asks_for(
        &dynamic_root,
        "http",
        &["routers", "middlewares", "services"],
    );
    if (tcp || udp) && !http {
        // As in Traefik: no HTTP router or service for a container that asks only for TCP
        // or UDP.
        return Some(decoded.config);
    }
    let config = &mut decoded.config;
    if config.http.services.is_empty()
        && !decoded
            .errors
            .iter()
            .any(|e| matches!(e.owner, Owner::Service(_)))
    {
        config
            .http
            .services
            .insert(default_name.clone(), Service::default().into());
    }
    let names: Vec<String> = config.http.services.keys().cloned().collect();
    for name in names {
        let label = decoded
            .label_servers
            .get(&name)
            .cloned()
            .unwrap_or_default();
        match server(c, ip, &label, status, s, &name, report) {
            Some(server) => {
                if let Some(svc) = config.http.services.get_mut(&name) {
                    Arc::make_mut(svc).load_balancer.servers.push(server);
                }
            }
            None => {
                config.http.services.remove(&name);
            }
        }
    }
    // Routers: a default one when none is defined, default rules, services by inference.
    let defined_services = config.http.services.len()
        + broken
            .iter()
            .filter(|o| matches!(o, Owner::Service(_)))
            .count();
    if config.http.routers.is_empty() && !broken.iter().any(|o| matches!(o, Owner::Router(_))) {
        if defined_services > 1 {
            report("warning", None, format!("no router is created: the container defines {defined_services} services (name one in a router's service label)"));
        } else {
            config
                .http
                .routers
                .insert(default_name.clone(), Router::default().into());
        }
    }
    let mut routers: BTreeMap<String, Arc<Router>> = std::mem::take(&mut config.http.routers)
        .into_iter()
        .collect();
    for (name, r) in &mut routers {
        let r = Arc::make_mut(r);
        if r.rule.is_empty() {
            // `.Name` is the normalized name, as Traefik's getServiceName gives it.
            match render_template_with(&s.default_rule, &default_name, &c.name, &c.labels) {
                Ok(rule) if !rule.is_empty() => {
                    r.rule = rule;
                    r.default_rule = true;
                }
                Ok(_) => {
                    report(
                        "error",
                        None,
                        format!("router {name:?}: the default rule is empty; router disabled"),
                    );
                    r.service = String::new();
                    continue;
                }
                Err(e) => {
                    report(
                        "error",
                        None,
                        format!("router {name:?}: {e}; router disabled"),
                    );
                    r.service = String::new();
                    continue;
                }
            }
        }
        if r.service.is_empty() {
            if defined_services == 1 {
                r.service = config
                    .http
                    .services
                    .keys()
                    .next()
                    .cloned()
                    .or_else(|| {
                        broken.iter().find_map(|o| match o {
                            Owner::Service(n) => Some(n.clone()),
                            _ => None,
                        })
                    })
                    .unwrap_or_default();
            } else {
                report("error", None, format!("router {name:?} has no service and the container defines {defined_services} services; router disabled"));
            }
        }
        r.sources = vec![c.name.clone()];
    }
    config.http.routers = routers
        .into_iter()
        .filter(|(_, r)| !r.service.is_empty() && !r.rule.is_empty())
        .collect();
    Some(std::mem::take(config))
}

/// The labels under `prefix` as a tree (its root is the prefix itself).
pub(crate) fn label_tree(
    labels: &BTreeMap<String, String>,
    prefix: &str,
) -> (Node, Vec<DecodeError>) {
    let dotted = format!("{prefix}.");
    let entries = labels
        .iter()
        .filter_map(|(k, v)| {
            let rest = k.strip_prefix(&dotted)?;
            Some((
                k.clone(),
                rest.split('.').map(str::to_owned).collect(),
                v.clone(),
            ))
        })
        .collect();
    Node::from_flat(prefix, FlatStyle::DOTTED, entries)
}

/// The provider's own labels: `enable`, `docker.*`, `swarm.*`.
#[derive(Debug, Default)]
struct OwnLabels {
    enable: Option<bool>,
    network: Option<String>,
    lbswarm: bool,
}

fn own_labels(root: &Node, s: &ContainerSettings) -> Result<OwnLabels, DecodeError> {
    let mut own = OwnLabels::default();
    if let Some(n) = root.get("enable") {
        own.enable = Some(n.boolean()?);
    }
    let docker = root.get("docker");
    let swarm = root.get("swarm");
    let sections: Vec<&Node> = match s.provider.as_str() {
        "swarm" => {
            if docker.is_some() && swarm.is_some() {
                return Err(DecodeError::at(
                    root,
                    "both docker.* and swarm.* labels are defined",
                ));
            }
            docker.into_iter().chain(swarm).collect()
        }
        // Traefik's ECS provider reads `enable` only: any `ecs.*` label is an error there.
        super::ecs::PROVIDER => {
            if let Some(ecs) = root.get("ecs") {
                let first = ecs.children().first().unwrap_or(ecs);
                return Err(DecodeError::at(
                    first,
                    format!("{} is not supported", first.name),
                ));
            }
            Vec::new()
        }
        _ => docker.into_iter().collect(),
    };
    for section in sections {
        let mut f = section.fields()?;
        if let Some(n) = f.take("network") {
            own.network = Some(n.text()?.trim().to_owned());
        }
        if let Some(n) = f.take("lbswarm") {
            own.lbswarm = n.boolean()?;
        }
        // Traefik's `swarm.*` section has `network` and `lbswarm` only: `allowNonRunning`
        // there fails its decoding, and the service is not routed.
        if !section.name.eq_ignore_ascii_case("swarm") {
            if let Some(n) = f.take("allowNonRunning") {
                // Non-running containers always keep their routes known here.
                n.boolean()?;
            }
        }
        if let Some(n) = f.rest().first() {
            return Err(DecodeError::at(n, format!("{} is not supported", n.name)));
        }
    }
    Ok(own)
}

/// Whether a Swarm service asks to be reached on its virtual IP: `<prefix>.swarm.lbswarm`, or
/// the deprecated `<prefix>.docker.lbswarm`, read as the provider reads its own labels (keys in
/// any case, as Traefik's label decoding takes them; Go's booleans). Labels that do not decode
/// say no: the service is not routed anyway (the snapshot reports why).
pub fn swarm_lbswarm(labels: &BTreeMap<String, String>, prefix: &str) -> bool {
    let (root, _) = label_tree(labels, prefix);
    let s = ContainerSettings {
        prefix: prefix.to_owned(),
        ..ContainerSettings::traefik_defaults("swarm")
    };
    own_labels(&root, &s).is_ok_and(|own| own.lbswarm)
}

/// The tree without the provider's own keys (`swarm.*` is the Swarm provider's only).
fn without_own(root: &Node, provider: &str) -> Node {
    let mut out = root.clone();
    if let crate::tree::Value::Map(children) = &mut out.value {
        children.retain(|c| {
            let n = c.name.to_ascii_lowercase();
            n != "enable" && n != "docker" && !(n == "swarm" && provider == "swarm")
        });
    }
    out
}

/// Whether the labels define any of `kinds` under `protocol` (`tcp.routers`, ...). As Traefik's
/// Docker provider: a container gets TCP (or UDP) services only with TCP (UDP) routers or
/// services, and no HTTP router or service when it also has no HTTP router, middleware or
/// service; middlewares alone (`tcp.middlewares`) ask for no TCP service.
fn asks_for(root: &Node, protocol: &str, kinds: &[&str]) -> bool {
    root.get(protocol)
        .is_some_and(|p| kinds.iter().any(|k| p.get(k).is_some()))
}

/// The server a service gets from this container.
fn server(
    c: &ContainerInfo,
    ip: Option<IpAddr>,
    label: &decode::LabelServer,
    status: ServerStatus,
    s: &ContainerSettings,
    service: &str,
    report: &mut Report<'_>,
) -> Option<Server> {
    let origin = Some(Origin {
        id: c.id.clone(),
        name: c.name.clone(),
    });
    if let Some(url) = &label.url {
        return Some(Server {
            url: url.clone(),
            weight: label.weight.unwrap_or(1),
            status,
            origin,
            path: label.path.clone(),
            preserve_path: label.preserve_path,
            written: label.written.clone(),
        });
    }
    let Some(ip) = ip else {
        // Not running: no address. The route stays known and answers 503.
        return Some(Server {
            url: String::new(),
            weight: label.weight.unwrap_or(1),
            status: ServerStatus::Stopped,
            origin,
            path: String::new(),
            preserve_path: label.preserve_path,
            written: String::new(),
        });
    };
    let port = port_for(c, label.port, "http", service, s, report)?;
    // As Traefik writes it: `scheme://host:port`.
    let url = format!(
        "{}://{}",
        label.scheme.as_deref().unwrap_or("http"),
        reach(c, ip, port, s)
    );
    Some(Server {
        weight: label.weight.unwrap_or(1),
        written: url.clone(),
        url,
        status,
        origin,
        path: String::new(),
        preserve_path: label.preserve_path,
    })
}

/// Where a container's `port` is reached, as Traefik's `getIPPort`: with `useBindPortIP`, the
/// port's published binding when it names an address (not `0.0.0.0`, `::` or none), else the
/// container's address and the port.
pub(super) fn reach(c: &ContainerInfo, ip: IpAddr, port: u16, s: &ContainerSettings) -> SocketAddr {
    if s.use_bind_port_ip {
        let bound = c
            .bindings
            .get(&port)
            .and_then(|(host, public)| Some((host.parse::<IpAddr>().ok()?, *public)))
            .filter(|(host, _)| !host.is_unspecified());
        if let Some((host, public)) = bound {
            return SocketAddr::new(host, public);
        }
    }
    SocketAddr::new(ip, port)
}

/// The port a `kind` (`http`, `tcp`, `udp`) service of the container is reached on: its
/// `server.port` label, else the lowest port the container exposes (with a warning when it
/// exposes several); `None`, reported, when it exposes none (the service is disabled).
pub(super) fn port_for(
    c: &ContainerInfo,
    label: Option<u16>,
    kind: &str,
    service: &str,
    s: &ContainerSettings,
    report: &mut Report<'_>,
) -> Option<u16> {
    if let Some(p) = label {
        return Some(p);
    }
    let what = match kind {
        "tcp" => "TCP service",
        "udp" => "UDP service",
        _ => "service",
    };
    let key = format!(
        "{}.{kind}.services.{service}.loadbalancer.server.port",
        s.prefix
    );
    match c.exposed_ports.iter().next() {
        Some(&lowest) => {
            if c.exposed_ports.len() > 1 {
                report("warning", None, format!("{what} {service:?}: the container exposes {} ports and none is chosen ({key}); using the lowest, {lowest}", c.exposed_ports.len()));
            }
            Some(lowest)
        }
        None => {
            report("error", None, format!("{what} {service:?}: no port: set {key} (the container exposes none); service disabled"));
            None
        }
    }
}

fn status_of(c: &ContainerInfo) -> ServerStatus {
    match c.state {
        RunState::Stopped => ServerStatus::Stopped,
        RunState::Stopping => ServerStatus::Stopping,
        RunState::Paused => ServerStatus::Paused,
        RunState::Running => match c.health {
            Health::None | Health::Healthy => ServerStatus::Ready,
            Health::Starting => ServerStatus::Starting,
            Health::Unhealthy => ServerStatus::Unhealthy,
        },
    }
}

/// The container's address: on the network its label (else the provider's `network`) names,
/// else on a network shared with the router, else on the first by name (with a warning).
/// `network_mode: host` uses the host's address; `container:<id>` (compose's `service:`)
/// the other container's. `Ok((None, _))` when it has no address (stopped).
fn address(
    c: &ContainerInfo,
    all: &[ContainerInfo],
    own: &OwnLabels,
    s: &ContainerSettings,
) -> Result<(Option<IpAddr>, Option<String>), String> {
    if c.network_mode == "host" {
        return Ok((Some(s.host_ip), None));
    }
    if let Some(other) = c.network_mode.strip_prefix("container:") {
        let target = all
            .iter()
            .find(|o| {
                o.id == other || (other.len() >= 12 && o.id.starts_with(other)) || o.name == other
            })
            .ok_or_else(|| {
                format!("network_mode container:{other} names a container that does not exist")
            })?;
        if target.network_mode.starts_with("container:") {
            return Err(format!("network_mode container:{other} names a container that shares another's network in turn"));
        }
        let (target_root, _) = label_tree(&target.labels, &s.prefix);
        let mut target_own = own_labels(&target_root, s).unwrap_or_default();
        if target_own.network.is_none() {
            target_own.network.clone_from(&own.network);
        }
        return address(target, all, &target_own, s)
            .map(|(ip, w)| (ip, w.map(|w| format!("(through {}) {w}", target.name))));
    }
    if c.state == RunState::Stopped && c.networks.values().all(Option::is_none) {
        return Ok((None, None));
    }
    let mut warning = None;
    let wanted = own.network.as_ref().or(s.default_network.as_ref());
    if let Some(n) = wanted {
        if let Some(ip) = c.networks.get(n) {
            return Ok((*ip, None));
        }
        warning = Some(format!(
            "network {n:?} is not one of the container's networks ({}); maybe the compose project's prefix is missing",
            c.networks.keys().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    if let Some((_, ip)) = c.networks.iter().find(|(n, _)| s.own_networks.contains(*n)) {
        return Ok((
            *ip,
            warning.map(|w| format!("{w}; using one shared with the router")),
        ));
    }
    match c.networks.iter().next() {
        None => Err("the container is on no network".into()),
        Some((_, ip)) if c.networks.len() == 1 && warning.is_none() => Ok((*ip, None)),
        Some((n, ip)) => Ok((
            *ip,
            Some(match warning {
                Some(w) => format!("{w}; using {n:?}"),
                None => format!("the container is on several networks and none is chosen ({}.docker.network, the provider's network or one shared with the router); using {n:?}", s.prefix),
            }),
        )),
    }
}

// === names and templates ===

/// Traefik's default name for a container: `<service>_<project>` for compose, else its name.
pub fn service_name(c: &ContainerInfo) -> String {
    match (
        c.labels
            .get("com.docker.compose.service")
            .filter(|v| !v.is_empty()),
        c.labels
            .get("com.docker.compose.project")
            .filter(|v| !v.is_empty()),
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

/// Renders the default rule template for a container with `labels`, as Traefik's Go
/// template (sprig's functions and `normalize`; `.Name`, `.ContainerName`, `.Labels`).
pub fn render_template_with(
    template: &str,
    name: &str,
    container_name: &str,
    labels: &BTreeMap<String, String>,
) -> Result<String, String> {
    super::template::render_default_rule(template, name, container_name, labels)
}

// === merging containers ===

/// Decoding errors of a container, for tests and fuzzing: the labels' own decode.
pub fn decode_labels(labels: &BTreeMap<String, String>, prefix: &str) -> Decoded {
    let (root, _) = label_tree(labels, prefix);
    decode::decode(&without_own(&root, "docker"), Source::Labels)
}
