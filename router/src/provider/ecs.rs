//! ECS tasks' containers and their task definitions' `dockerLabels` -> one provider
//! [`Snapshot`], as Traefik's ECS provider builds its dynamic configuration. Pure: the I/O that
//! reads the tasks is [`crate::ecs`].
//!
//! Per container of a running task, as in Traefik: its name is the task's group with its first
//! `:` made a `-`, then `-` and the container's name (`service:web` and `app` make
//! `service-web-app`), so the tasks of one service share it and their servers merge into one
//! service. Its address is the EC2 instance's private IP (bridge and host network modes, with
//! the host ports ECS bound) or the task's ENI (awsvpc, Fargate). A `server.port` label naming
//! a container port is the host port ECS bound for it; any other value is used as given;
//! without one, the lowest host port. The labels are then read as the Docker provider reads a
//! container's ([`super::container`]): `enable` (else `exposedByDefault`), `constraints`, the
//! dynamic configuration, a default service and router.
//!
//! Where it differs from Traefik on purpose: an unhealthy task keeps its routes known (they
//! answer 503 rather than vanishing into 404s while ECS replaces it); `traefik.docker.*` labels,
//! which Traefik's ECS provider skips without a word, are reported.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use super::container::{self, ContainerInfo, ContainerSettings, Health, RunState};
use crate::dynamic::{Issue, Snapshot};

/// The provider's name (`@ecs`).
pub const PROVIDER: &str = "ecs";

/// One container of a task ECS runs, as read from the ECS and EC2 APIs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EcsContainer {
    /// The task's ARN.
    pub task_arn: String,
    /// The task's group (`service:<name>`, `family:<name>`).
    pub group: String,
    /// The container's name in the task definition.
    pub container: String,
    /// The container definition's `dockerLabels`.
    pub labels: BTreeMap<String, String>,
    /// The instance's private IP (EC2) or the task's ENI's (awsvpc); `None` when neither is
    /// known yet.
    pub ip: Option<IpAddr>,
    /// `running` when the EC2 instance (or, for awsvpc, the task) runs.
    pub state: String,
    /// The task's health status is `UNHEALTHY`.
    pub unhealthy: bool,
    /// Ports: ECS's network bindings (EC2), or the definition's port mappings (awsvpc).
    pub ports: Vec<PortMapping>,
}

/// A container port and the host port it is reached on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PortMapping {
    /// `containerPort`.
    pub container: i64,
    /// `hostPort`.
    pub host: i64,
}

impl EcsContainer {
    /// Traefik's name for it: the group with its first `:` made `-`, `-`, the container's.
    pub fn name(&self) -> String {
        format!("{}-{}", self.group.replacen(':', "-", 1), self.container)
    }

    /// Traefik's id for it: the last 12 characters of the task's ARN.
    pub fn task_id(&self) -> &str {
        let at = self
            .task_arn
            .char_indices()
            .rev()
            .nth(11)
            .map_or(0, |(i, _)| i);
        &self.task_arn[at..]
    }

    /// The name issues about this task are reported under: its name and task id.
    pub fn source(&self) -> String {
        format!("{}-{}", container::normalize(&self.name()), self.task_id())
    }
}

/// The running tasks' containers as the label reader takes them (and as a cluster-mode
/// controller hands them to its data planes).
pub fn view(containers: &[EcsContainer], prefix: &str) -> Vec<ContainerInfo> {
    containers
        .iter()
        .filter(|c| c.state == "running" && c.ip.is_some())
        .map(|c| info(c, prefix))
        .collect()
}

/// Builds the provider's snapshot from the running tasks' containers.
pub fn snapshot(containers: &[EcsContainer], s: &ContainerSettings) -> Snapshot {
    let mut snap = container::snapshot(&view(containers, &s.prefix), s);
    for c in containers {
        let docker = format!("{}.docker.", s.prefix);
        if let Some(key) = c
            .labels
            .keys()
            .find(|k| k.to_ascii_lowercase().starts_with(&docker))
        {
            snap.issues.push(Issue {
                source: c.source(),
                level: "warning",
                key: Some(key.clone()),
                message: "docker.* labels have no effect on the ECS provider".into(),
            });
        }
    }
    snap.issues.sort();
    snap.issues.dedup();
    snap
}

/// The container as the label reader takes it: one network, the host ports exposed, and a
/// `server.port` that names a container port turned into the host port bound for it.
fn info(c: &EcsContainer, prefix: &str) -> ContainerInfo {
    let bound: BTreeMap<i64, u16> = c
        .ports
        .iter()
        .filter_map(|p| Some((p.container, u16::try_from(p.host).ok()?)))
        .collect();
    let labels = c
        .labels
        .iter()
        .map(|(k, v)| {
            let host = is_server_port(k, prefix)
                .then(|| v.trim().parse::<i64>().ok())
                .flatten()
                .and_then(|p| bound.get(&p));
            (k.clone(), host.map_or_else(|| v.clone(), u16::to_string))
        })
        .collect();
    ContainerInfo {
        id: c.source(),
        name: c.name(),
        labels,
        state: RunState::Running,
        health: if c.unhealthy {
            Health::Unhealthy
        } else {
            Health::None
        },
        networks: BTreeMap::from([("ecs".to_owned(), c.ip)]),
        bindings: Default::default(),
        network_mode: String::new(),
        exposed_ports: c
            .ports
            .iter()
            .filter_map(|p| u16::try_from(p.host).ok())
            .filter(|p| *p != 0)
            .collect::<BTreeSet<u16>>(),
    }
}

/// `<prefix>.{http,tcp,udp}.services.<name>.loadbalancer.server.port`, in any case.
fn is_server_port(key: &str, prefix: &str) -> bool {
    let Some(rest) = key
        .get(..prefix.len() + 1)
        .filter(|p| p.eq_ignore_ascii_case(&format!("{prefix}.")))
        .map(|_| &key[prefix.len() + 1..])
    else {
        return false;
    };
    let parts: Vec<&str> = rest.split('.').collect();
    let is = |i: usize, w: &str| parts.get(i).is_some_and(|p| p.eq_ignore_ascii_case(w));
    parts.len() == 6
        && ["http", "tcp", "udp"].iter().any(|k| is(0, k))
        && is(1, "services")
        && is(3, "loadbalancer")
        && is(4, "server")
        && is(5, "port")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamic::ServerStatus;

    fn settings() -> ContainerSettings {
        ContainerSettings::traefik_defaults(PROVIDER)
    }

    fn task(arn: &str, ip: &str, ports: &[(i64, i64)], labels: &[(&str, &str)]) -> EcsContainer {
        EcsContainer {
            task_arn: format!("arn:aws:ecs:us-east-1:123456789012:task/web/{arn}"),
            group: "service:whoami".into(),
            container: "web".into(),
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ip: Some(ip.parse().unwrap()),
            state: "running".into(),
            unhealthy: false,
            ports: ports
                .iter()
                .map(|&(container, host)| PortMapping { container, host })
                .collect(),
        }
    }

    fn urls(snap: &Snapshot, service: &str) -> Vec<String> {
        snap.config.http.services[service]
            .load_balancer
            .servers
            .iter()
            .map(|s| s.url.clone())
            .collect()
    }

    #[test]
    fn tasks_of_one_service_share_a_name_a_default_rule_and_a_service() {
        let a = task("0123456789abcdef", "10.0.0.1", &[(80, 32768)], &[]);
        let b = task("fedcba9876543210", "10.0.0.2", &[(80, 32769)], &[]);
        let snap = snapshot(&[a.clone(), b], &settings());
        assert_eq!(a.name(), "service-whoami-web");
        assert_eq!(a.task_id(), "456789abcdef");
        let r = &snap.config.http.routers["service-whoami-web"];
        assert_eq!(r.rule, "Host(`service-whoami-web`)");
        assert_eq!(r.service, "service-whoami-web");
        let mut got = urls(&snap, "service-whoami-web");
        got.sort();
        assert_eq!(got, ["http://10.0.0.1:32768", "http://10.0.0.2:32769"]);
    }

    #[test]
    fn a_server_port_naming_a_container_port_is_its_host_port() {
        let label = "traefik.http.services.app.loadBalancer.server.port";
        let mapped = task(
            "aaaaaaaaaaaa",
            "10.0.0.1",
            &[(80, 8081), (443, 8443)],
            &[(label, "443")],
        );
        let snap = snapshot(&[mapped], &settings());
        assert_eq!(urls(&snap, "app"), ["http://10.0.0.1:8443"]);
        // Not a container port: used as given.
        let given = task(
            "bbbbbbbbbbbb",
            "10.0.0.1",
            &[(80, 8081)],
            &[(label, "9000")],
        );
        assert_eq!(
            urls(&snapshot(&[given], &settings()), "app"),
            ["http://10.0.0.1:9000"]
        );
        // No label: the lowest host port (with a warning: there are several).
        let lowest = task("cccccccccccc", "10.0.0.1", &[(443, 8443), (80, 8081)], &[]);
        let snap = snapshot(&[lowest], &settings());
        assert_eq!(urls(&snap, "service-whoami-web"), ["http://10.0.0.1:8081"]);
        assert!(snap.issues.iter().any(|i| i.level == "warning"));
    }

    #[test]
    fn what_is_not_running_or_has_no_address_is_left_out() {
        let mut stopped = task("aaaaaaaaaaaa", "10.0.0.1", &[(80, 80)], &[]);
        stopped.state = "stopped".into();
        let mut no_ip = task("bbbbbbbbbbbb", "10.0.0.2", &[(80, 80)], &[]);
        no_ip.ip = None;
        let snap = snapshot(&[stopped, no_ip], &settings());
        assert!(snap.config.http.routers.is_empty());
    }

    #[test]
    fn an_unhealthy_task_keeps_its_route_without_traffic() {
        let mut sick = task("aaaaaaaaaaaa", "10.0.0.1", &[(80, 80)], &[]);
        sick.unhealthy = true;
        let snap = snapshot(&[sick], &settings());
        let servers = &snap.config.http.services["service-whoami-web"]
            .load_balancer
            .servers;
        assert_eq!(servers[0].status, ServerStatus::Unhealthy);
    }

    #[test]
    fn label_errors_are_reported_per_task() {
        let bad = task(
            "aaaaaaaaaaaa",
            "10.0.0.1",
            &[(80, 80)],
            &[("traefik.http.routers.x.priority", "high")],
        );
        let own = task(
            "bbbbbbbbbbbb",
            "10.0.0.2",
            &[(80, 80)],
            &[("traefik.ecs.x", "1")],
        );
        let docker = task(
            "cccccccccccc",
            "10.0.0.3",
            &[(80, 80)],
            &[("traefik.docker.network", "n")],
        );
        let snap = snapshot(&[bad, own, docker], &settings());
        let sources: BTreeSet<(&str, &str)> = snap
            .issues
            .iter()
            .map(|i| (i.source.as_str(), i.level))
            .collect();
        assert!(
            sources.contains(&("service-whoami-web-aaaaaaaaaaaa", "error")),
            "{:?}",
            snap.issues
        );
        assert!(
            sources.contains(&("service-whoami-web-bbbbbbbbbbbb", "error")),
            "{:?}",
            snap.issues
        );
        assert!(
            sources.contains(&("service-whoami-web-cccccccccccc", "warning")),
            "{:?}",
            snap.issues
        );
    }

    #[test]
    fn enable_and_constraints_as_for_containers() {
        let mut s = settings();
        s.exposed_by_default = false;
        s.constraints =
            Some(crate::provider::constraints::Constraints::parse("Label(`team`, `a`)").unwrap());
        let on = task(
            "aaaaaaaaaaaa",
            "10.0.0.1",
            &[(80, 80)],
            &[("traefik.enable", "true"), ("team", "a")],
        );
        let mut other = task(
            "bbbbbbbbbbbb",
            "10.0.0.2",
            &[(80, 80)],
            &[("traefik.enable", "true"), ("team", "b")],
        );
        other.group = "service:other".into();
        let mut off = task("cccccccccccc", "10.0.0.3", &[(80, 80)], &[("team", "a")]);
        off.group = "service:off".into();
        let snap = snapshot(&[on, other, off], &s);
        let names: Vec<&String> = snap.config.http.routers.keys().collect();
        assert_eq!(names, ["service-whoami-web"]);
    }
}
