//! Swarm mode (`ROUTER_SWARM_MODE=true`): services and their running tasks, seen through
//! socket-guard with the `router-swarm` preset (SERVICES TASKS NETWORKS, plus CONTAINERS for
//! the router's own networks).
//!
//! Each running task becomes one backend at its address on the chosen overlay network; a
//! service labelled `<prefix>.docker.lbswarm=true` becomes one backend at its virtual IP
//! instead. A service with no running task keeps its route known (it answers 503). Labels are
//! the service's (`deploy.labels` in a stack file). Tasks emit no events, so besides refreshing
//! on service events the view is polled every `ROUTER_SWARM_REFRESH`.
//!
//! bollard's task model drops `NetworksAttachments` (the task addresses), so the three lists
//! are read as raw JSON through the same socket-guard address.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bollard::query_parameters::EventsOptions;
use bollard::Docker;
use futures_util::StreamExt;
use http_body_util::BodyExt;
use serde_json::Value;

use crate::config::ContainerProvider;
use crate::discovery;
use crate::provider::container::{ContainerInfo, Health, RunState};
use crate::server::Shared;

/// How often services and tasks are read while a service is updating or rolling back, or a
/// task is on its way to running.
pub const UPDATING_REFRESH: Duration = Duration::from_millis(250);

/// How long a task on its way to running (pending, preparing, starting: a scale-up, a
/// replacement, a health check not passed yet) keeps the reads frequent. One that takes
/// longer (no node fits it, an image that never comes, a check that never passes) is left to
/// the usual refresh, so a stuck task does not keep the guard and the manager busy.
pub const CONVERGING_WATCH: Duration = Duration::from_secs(60);

/// Runs the Swarm provider forever (with `watch=false`: reads until one read succeeds).
pub async fn run(shared: Arc<Shared>, provider: ContainerProvider, docker: Docker) {
    // The TLS settings were checked at start (bollard's client is built from the same ones).
    let raw = match discovery::raw_client(discovery::endpoint(&provider), provider.tls.as_ref()) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "providers.swarm: cannot reach socket-guard");
            return;
        }
    };
    let wake = Arc::new(tokio::sync::Notify::new());
    tokio::spawn(follow_service_events(
        shared.clone(),
        docker.clone(),
        wake.clone(),
    ));
    let own_id = discovery::own_container_id();
    let mut arriving = Arriving::default();
    loop {
        let mut busy = false;
        match snapshot(&shared, &raw).await {
            Ok((view, updating, converging)) => {
                busy = arriving.busy(converging, std::time::Instant::now()) || updating;
                let own = own_networks(&docker, own_id.as_deref()).await;
                let p = provider.clone();
                crate::state::off_workers(&shared, move |shared| {
                    discovery::publish_view(shared, "swarm", &p, (Arc::new(view), None), own)
                })
                .await;
                if !provider.watch {
                    tracing::info!("providers.swarm.watch is false: services were read once");
                    return;
                }
            }
            Err(e) => {
                shared.metrics.discovery_errors.inc();
                tracing::warn!(error = %e, "cannot read services and tasks through socket-guard; keeping the last table");
            }
        }
        // While a service is updating, its tasks are replaced one by one without an event:
        // read them often, so a stopped task leaves and its successor arrives before the next
        // one stops. A task on its way to running (a scale-up) is routed as soon as it runs.
        let wait = if busy {
            UPDATING_REFRESH.min(provider.refresh)
        } else {
            provider.refresh
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = wake.notified() => tokio::time::sleep(discovery::DEBOUNCE).await,
        }
    }
}

/// Wakes the refresh loop on every service event; reconnects with backoff.
async fn follow_service_events(
    shared: Arc<Shared>,
    docker: Docker,
    wake: Arc<tokio::sync::Notify>,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let mut filters = HashMap::new();
        filters.insert("type".to_owned(), vec!["service".to_owned()]);
        let mut events = docker
            .events(Some(EventsOptions {
                since: None,
                until: None,
                filters: Some(filters),
            }))
            .boxed();
        while let Some(ev) = events.next().await {
            match ev {
                Ok(_) => {
                    backoff = Duration::from_millis(100);
                    wake.notify_one();
                }
                Err(e) => {
                    shared.metrics.discovery_errors.inc();
                    tracing::debug!(error = %e, "service events stream failed");
                    break;
                }
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
        wake.notify_one();
    }
}

async fn get_json(
    (client, base): &(discovery::RawClient, String),
    path: &str,
) -> Result<Value, String> {
    let uri: hyper::Uri = format!("{base}{path}")
        .parse()
        .map_err(|e| format!("{path}: {e}"))?;
    let req = hyper::Request::get(uri)
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .map_err(|e| e.to_string())?;
    let resp = tokio::time::timeout(Duration::from_secs(10), client.request(req))
        .await
        .map_err(|_| format!("{path}: timed out"))?
        .map_err(|e| format!("{path}: {e}"))?;
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("{path}: {e}"))?
        .to_bytes();
    if !status.is_success() {
        return Err(format!(
            "{path}: {status}: {}",
            String::from_utf8_lossy(&body)
        ));
    }
    serde_json::from_slice(&body).map_err(|e| format!("{path}: {e}"))
}

/// Reads services, running tasks and networks, and turns them into the model's view; says
/// whether a service is updating, and which tasks are on their way to running.
pub async fn snapshot(
    shared: &Shared,
    raw: &(discovery::RawClient, String),
) -> Result<(Vec<ContainerInfo>, bool, BTreeSet<String>), String> {
    let services = get_json(raw, "/v1.41/services").await?;
    let tasks = get_json(
        raw,
        "/v1.41/tasks?filters=%7B%22desired-state%22%3A%5B%22running%22%5D%7D",
    )
    .await?;
    let networks = get_json(raw, "/v1.41/networks").await?;
    Ok((
        view(&services, &tasks, &networks, &shared.config.label_prefix),
        updating(&services),
        converging(&tasks),
    ))
}

/// Pure: the tasks (of those told to run) that do not run yet: new, pending, assigned,
/// accepted, preparing, starting. A task with a health check stays `starting` until its
/// first check passes (Swarm's executor waits for it), so it is not routed before.
pub fn converging(tasks: &Value) -> BTreeSet<String> {
    tasks
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| {
            t["DesiredState"].as_str().is_none_or(|d| d == "running")
                && matches!(
                    t["Status"]["State"].as_str(),
                    Some(
                        "new"
                            | "allocated"
                            | "pending"
                            | "assigned"
                            | "accepted"
                            | "ready"
                            | "preparing"
                            | "starting"
                    )
                )
        })
        .filter_map(|t| t["ID"].as_str().map(str::to_owned))
        .collect()
}

/// The tasks on their way to running and when each was first seen so: the reads stay
/// frequent while one of them is younger than [`CONVERGING_WATCH`].
#[derive(Debug, Default)]
struct Arriving(HashMap<String, std::time::Instant>);

impl Arriving {
    /// Records this read's converging tasks (forgetting those that arrived or left) and says
    /// whether one is still worth watching closely.
    fn busy(&mut self, now_converging: BTreeSet<String>, now: std::time::Instant) -> bool {
        self.0.retain(|id, _| now_converging.contains(id));
        for id in now_converging {
            self.0.entry(id).or_insert(now);
        }
        self.0
            .values()
            .any(|since| now.duration_since(*since) < CONVERGING_WATCH)
    }
}

/// Whether a service is being updated or rolled back (`UpdateStatus.State`).
pub fn updating(services: &Value) -> bool {
    services.as_array().into_iter().flatten().any(|s| {
        matches!(
            s["UpdateStatus"]["State"].as_str(),
            Some("updating" | "rollback_started")
        )
    })
}

/// Pure: the API's JSON -> one [`ContainerInfo`] per running task (or per service on its
/// virtual IP with `lbswarm`).
pub fn view(services: &Value, tasks: &Value, networks: &Value, prefix: &str) -> Vec<ContainerInfo> {
    // As Traefik's listServices: the swarm-scoped networks, by id; an attachment or virtual IP
    // on a network not among them is not used.
    let net_names: HashMap<&str, &str> = networks
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| n["Scope"].as_str().is_none_or(|s| s == "swarm"))
        .filter_map(|n| Some((n["Id"].as_str()?, n["Name"].as_str()?)))
        .collect();
    let mut out = Vec::new();
    for svc in services.as_array().into_iter().flatten() {
        let (Some(id), Some(name)) = (svc["ID"].as_str(), svc["Spec"]["Name"].as_str()) else {
            continue;
        };
        let labels: BTreeMap<String, String> = svc["Spec"]["Labels"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
            .collect();
        let ports: BTreeSet<u16> = svc["Spec"]["EndpointSpec"]["Ports"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["TargetPort"].as_u64().and_then(|p| u16::try_from(p).ok()))
            .collect();
        let base = |task_id: String,
                    networks: BTreeMap<String, Option<IpAddr>>,
                    state: RunState| ContainerInfo {
            id: task_id,
            name: name.to_owned(),
            labels: labels.clone(),
            state,
            health: Health::None,
            networks,
            bindings: Default::default(),
            network_mode: String::new(),
            exposed_ports: ports.clone(),
        };
        let lbswarm = crate::provider::container::swarm_lbswarm(&labels, prefix);
        let running: Vec<&Value> = tasks
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| {
                t["ServiceID"].as_str() == Some(id)
                    && t["Status"]["State"].as_str() == Some("running")
            })
            .collect();
        if lbswarm {
            let vips: BTreeMap<String, Option<IpAddr>> = svc["Endpoint"]["VirtualIPs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| {
                    let net = net_names.get(v["NetworkID"].as_str()?)?;
                    Some(((*net).to_owned(), Some(parse_addr(v["Addr"].as_str()?)?)))
                })
                .filter(|(n, _)| n != "ingress")
                .collect();
            if vips.is_empty() {
                // No virtual IP on a known network (`dnsrr` has none): Traefik leaves such a
                // service out (despite its log's "fallback to Traefik load balancing").
                tracing::debug!(
                    service = name,
                    "lbswarm: the service has no virtual IP on a swarm network; not routed"
                );
                continue;
            }
            let state = if running.is_empty() {
                RunState::Stopped
            } else {
                RunState::Running
            };
            out.push(base(id.to_owned(), vips, state));
            continue;
        }
        if running.is_empty() {
            out.push(base(id.to_owned(), BTreeMap::new(), RunState::Stopped));
        }
        for t in running {
            let task_id = t["ID"].as_str().unwrap_or(id).to_owned();
            // A network's address: the first that parses (IPv4 before IPv6 on a dual-stack
            // network; Traefik takes the last it lists).
            let nets: BTreeMap<String, Option<IpAddr>> = t["NetworksAttachments"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| {
                    let net = net_names.get(a["Network"]["ID"].as_str()?)?;
                    let addr = a["Addresses"]
                        .as_array()?
                        .iter()
                        .filter_map(Value::as_str)
                        .find_map(parse_addr)?;
                    Some(((*net).to_owned(), Some(addr)))
                })
                .filter(|(n, _)| n != "ingress")
                .collect();
            if nets.is_empty() {
                // As Traefik's listTasks: a task with no address (host networking, or only
                // the ingress network) is no backend.
                continue;
            }
            out.push(base(task_id, nets, RunState::Running));
        }
    }
    out
}

/// `10.0.1.5/24` -> `10.0.1.5`.
fn parse_addr(cidr: &str) -> Option<IpAddr> {
    cidr.split('/').next()?.parse().ok()
}

/// The networks of the router's own container (to prefer a network it shares with tasks).
async fn own_networks(docker: &Docker, own_id: Option<&str>) -> BTreeSet<String> {
    let Some(own) = own_id else {
        return BTreeSet::new();
    };
    match discovery::list(docker).await {
        Ok(cs) => cs
            .into_iter()
            .find(|c| c.id.starts_with(own) || own.starts_with(&c.id))
            .map(|c| c.networks.into_keys().collect())
            .unwrap_or_default(),
        Err(_) => BTreeSet::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fixtures() -> (Value, Value, Value) {
        let services = json!([
            {"ID": "s1", "Spec": {"Name": "web_whoami", "Labels": {"traefik.enable": "true", "traefik.http.services.w.loadbalancer.server.port": "8080"}},
             "Endpoint": {"VirtualIPs": [{"NetworkID": "n1", "Addr": "10.0.1.2/24"}, {"NetworkID": "ing", "Addr": "10.0.0.5/24"}]}},
            {"ID": "s2", "Spec": {"Name": "web_vip", "Labels": {"traefik.docker.lbswarm": "true"}, "EndpointSpec": {"Ports": [{"TargetPort": 80}]}},
             "Endpoint": {"VirtualIPs": [{"NetworkID": "n1", "Addr": "10.0.1.9/24"}]}},
            {"ID": "s3", "Spec": {"Name": "web_down", "Labels": {}}}
        ]);
        let tasks = json!([
            {"ID": "t1", "ServiceID": "s1", "Status": {"State": "running"}, "NetworksAttachments": [
                {"Network": {"ID": "n1", "Spec": {"Name": "web_net"}}, "Addresses": ["10.0.1.4/24"]},
                {"Network": {"ID": "ing", "Spec": {"Name": "ingress"}}, "Addresses": ["10.0.0.7/24"]}]},
            {"ID": "t2", "ServiceID": "s1", "Status": {"State": "running"}, "NetworksAttachments": [
                {"Network": {"ID": "n1", "Spec": {"Name": "web_net"}}, "Addresses": ["10.0.1.5/24"]}]},
            {"ID": "t3", "ServiceID": "s1", "Status": {"State": "starting"}, "NetworksAttachments": []},
            {"ID": "t4", "ServiceID": "s2", "Status": {"State": "running"}, "NetworksAttachments": []}
        ]);
        let networks = json!([{"Id": "n1", "Name": "web_net"}, {"Id": "ing", "Name": "ingress"}]);
        (services, tasks, networks)
    }

    #[test]
    fn an_update_in_progress_is_seen() {
        let svc = |state: &str| serde_json::json!([{"UpdateStatus": {"State": state}}, {}]);
        assert!(updating(&svc("updating")));
        assert!(updating(&svc("rollback_started")));
        assert!(!updating(&svc("completed")));
        assert!(!updating(&svc("paused")));
        assert!(!updating(&serde_json::json!([{}])));
    }

    #[test]
    fn tasks_on_their_way_keep_the_reads_frequent_for_a_while() {
        let tasks = json!([
            {"ID": "run", "DesiredState": "running", "Status": {"State": "running"}},
            {"ID": "start", "DesiredState": "running", "Status": {"State": "starting"}},
            {"ID": "pend", "DesiredState": "running", "Status": {"State": "pending"}},
            {"ID": "gone", "DesiredState": "shutdown", "Status": {"State": "starting"}},
            {"ID": "failed", "DesiredState": "running", "Status": {"State": "failed"}}
        ]);
        let ids = converging(&tasks);
        assert_eq!(ids, ["pend", "start"].map(str::to_owned).into());
        let t0 = std::time::Instant::now();
        let mut a = Arriving::default();
        assert!(a.busy(ids.clone(), t0));
        assert!(a.busy(ids.clone(), t0 + CONVERGING_WATCH / 2));
        // Stuck past the watch: the usual refresh.
        assert!(!a.busy(ids, t0 + CONVERGING_WATCH));
        // A new one arrives: frequent again; once it runs, not.
        let late: BTreeSet<String> = ["pend", "new"].map(str::to_owned).into();
        assert!(a.busy(late, t0 + CONVERGING_WATCH));
        assert!(!a.busy(BTreeSet::new(), t0 + CONVERGING_WATCH));
    }

    #[test]
    fn running_tasks_become_backends() {
        let (s, t, n) = fixtures();
        let v = view(&s, &t, &n, "traefik");
        let whoami: Vec<&ContainerInfo> = v.iter().filter(|c| c.name == "web_whoami").collect();
        assert_eq!(whoami.len(), 2);
        assert_eq!(
            whoami[0].networks.get("web_net"),
            Some(&Some("10.0.1.4".parse().unwrap()))
        );
        assert!(!whoami[0].networks.contains_key("ingress"));
        assert_eq!(whoami[0].labels["traefik.enable"], "true");
    }

    #[test]
    fn lbswarm_uses_the_virtual_ip_and_idle_services_stay_known() {
        let (s, t, n) = fixtures();
        let v = view(&s, &t, &n, "traefik");
        let vip = v.iter().find(|c| c.name == "web_vip").unwrap();
        assert_eq!(
            vip.networks.get("web_net"),
            Some(&Some("10.0.1.9".parse().unwrap()))
        );
        assert_eq!(
            vip.exposed_ports.iter().copied().collect::<Vec<_>>(),
            vec![80]
        );
        let down = v.iter().find(|c| c.name == "web_down").unwrap();
        assert_eq!(down.state, RunState::Stopped);
    }
}
