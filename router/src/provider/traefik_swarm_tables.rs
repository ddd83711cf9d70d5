//! Traefik's own test tables for its Swarm provider, translated into cases here: services,
//! tasks and networks as the Docker API gives them -> what [`crate::swarm::view`] makes of
//! them (one backend per running task, or per service on its virtual IP with `lbswarm`), and
//! the routers and services the provider's snapshot then holds.
//!
//! Sources (Traefik's repository):
//! - `pkg/provider/docker/pswarm_test.go`: `TestListTasks`, `TestSwarmProvider_listServices`,
//!   `TestSwarmProvider_parseService_task`;
//! - `pkg/provider/docker/config_test.go`: `TestDynConfBuilder_getIPAddress_swarm`, and the
//!   TCP and UDP rows of `TestDynConfBuilder_build` played by Swarm tasks (their Docker
//!   versions are in `traefik_tables.rs`);
//! - `pkg/provider/docker/shared_test.go`: `Test_getPort_swarm`;
//! - `pkg/provider/docker/pswarm.go` (`parseTasks`, `listTasks`), `shared_labels.go`
//!   (`extractSwarmLabels`) and `config.go` (`build`, `keepContainer` with `swarm=true`), read
//!   for what no table covers: the provider's own labels, task addresses, constraints,
//!   `exposedByDefault`, default names.
//!
//! Traefik names a task `<service>.<slot>` (`<service>.<task id>` for a global service) and
//! the tables check those names; here a task's [`ContainerInfo`] carries the service's name
//! and its own id, so the cases check ids. The name is only seen by a default rule using
//! `{{ .ContainerName }}` (README, "Swarm mode"). Where the router differs on purpose, the
//! case states the router's result and names the README passage that says so.

use serde_json::{json, Value};

use super::container::{snapshot, ContainerInfo, ContainerSettings};
use crate::dynamic::tcp::TcpService;
use crate::dynamic::udp::UdpService;
use crate::dynamic::{ServerStatus, Snapshot};

/// A service as the API lists it (`GET /services`): `ID`, `Spec.Name`, `Spec.Labels`,
/// `Spec.EndpointSpec`, `Endpoint.VirtualIPs`.
#[derive(Clone)]
struct Svc(Value);

/// Traefik's `swarmService`: id `serviceID`, name `defaultServiceName`, no endpoint spec.
fn svc(name: &str) -> Svc {
    Svc(json!({"ID": format!("{name}-id"), "Spec": {"Name": name}}))
}

impl Svc {
    fn labels(mut self, pairs: &[(&str, &str)]) -> Svc {
        for (k, v) in pairs {
            self.0["Spec"]["Labels"][*k] = json!(v);
        }
        self
    }
    /// `withEndpointSpec(modeVIP)`, `withEndpointSpec(modeDNSRR)`.
    fn mode(mut self, mode: &str) -> Svc {
        self.0["Spec"]["EndpointSpec"]["Mode"] = json!(mode);
        self
    }
    /// `withEndpoint(virtualIP(network id, addr), ...)`.
    fn vips(mut self, vips: &[(&str, &str)]) -> Svc {
        let list: Vec<Value> = vips
            .iter()
            .map(|(n, a)| json!({"NetworkID": n, "Addr": a}))
            .collect();
        self.0["Endpoint"]["VirtualIPs"] = json!(list);
        self
    }
    /// Published ports (`EndpointSpec.Ports[].TargetPort`).
    fn published(mut self, ports: &[u16]) -> Svc {
        let list: Vec<Value> = ports.iter().map(|p| json!({"TargetPort": p})).collect();
        self.0["Spec"]["EndpointSpec"]["Ports"] = json!(list);
        self
    }
}

/// A task as the API lists it (`GET /tasks`).
#[derive(Clone)]
struct Task(Value);

/// Traefik's `swarmTask(id)`: of service `service`, no state, no network.
fn task(id: &str, service: &Svc) -> Task {
    Task(json!({"ID": id, "ServiceID": service.0["ID"], "Status": {}}))
}

impl Task {
    fn slot(mut self, slot: u64) -> Task {
        self.0["Slot"] = json!(slot);
        self
    }
    /// `taskStatus(taskState(...))`.
    fn state(mut self, state: &str) -> Task {
        self.0["Status"]["State"] = json!(state);
        self
    }
    fn running(self) -> Task {
        self.state("running")
    }
    /// `taskNetworkAttachment(id, name, driver, addresses)`.
    fn attach(mut self, net_id: &str, name: &str, addrs: &[&str]) -> Task {
        let a = json!({"Network": {"ID": net_id, "Spec": {"Name": name}}, "Addresses": addrs});
        match self.0["NetworksAttachments"].as_array_mut() {
            Some(list) => list.push(a),
            None => self.0["NetworksAttachments"] = json!([a]),
        }
        self
    }
    fn node(mut self, node: &str) -> Task {
        self.0["NodeID"] = json!(node);
        self
    }
}

/// Networks as `GET /networks` lists them.
fn networks(nets: &[(&str, &str)]) -> Value {
    json!(nets
        .iter()
        .map(|(id, name)| json!({"Id": id, "Name": name, "Scope": "swarm"}))
        .collect::<Vec<_>>())
}

fn read(services: &[Svc], tasks: &[Task], nets: &Value) -> Vec<ContainerInfo> {
    let s = json!(services.iter().map(|s| s.0.clone()).collect::<Vec<_>>());
    let t = json!(tasks.iter().map(|t| t.0.clone()).collect::<Vec<_>>());
    crate::swarm::view(&s, &t, nets, "traefik")
}

/// What the view holds, one line per backend: `<id>: <name> <network>=<address>,... <state>`
/// (`-` for a network without an address), in the view's order.
fn backends(v: &[ContainerInfo]) -> Vec<String> {
    v.iter()
        .map(|c| {
            let nets: Vec<String> = c
                .networks
                .iter()
                .map(|(n, ip)| match ip {
                    Some(ip) => format!("{n}={ip}"),
                    None => format!("{n}=-"),
                })
                .collect();
            format!("{}: {} {} {:?}", c.id, c.name, nets.join(","), c.state)
        })
        .collect()
}

/// The snapshot, one line per element, as `traefik_tables.rs` writes it: `http router <name>:
/// <rule> -> <service>`, `http service <name>: <urls>` (a server not ready followed by
/// `!<status>`), `tcp router`, `tcp service <name>: <addresses>`, `udp router`, `udp service`.
fn routes(s: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    for (n, r) in &s.config.http.routers {
        out.push(format!("http router {n}: {} -> {}", r.rule, r.service));
    }
    for (n, svc) in &s.config.http.services {
        let urls: Vec<String> = svc
            .load_balancer
            .servers
            .iter()
            .map(|s| match s.status {
                ServerStatus::Ready => s.url.clone(),
                st => format!("{}!{st:?}", s.url),
            })
            .collect();
        out.push(format!("http service {n}: {}", urls.join(",")));
    }
    for (n, r) in &s.config.tcp.routers {
        let mut l = format!("tcp router {n}: {} -> {}", r.rule, r.service);
        if let Some(t) = &r.tls {
            l += if t.passthrough {
                " tls passthrough"
            } else {
                " tls"
            };
        }
        out.push(l);
    }
    for (n, svc) in &s.config.tcp.services {
        let addrs: Vec<String> = match svc {
            TcpService::LoadBalancer(lb) => lb.servers.iter().map(|s| s.address.clone()).collect(),
            TcpService::Weighted(_) => vec!["weighted".into()],
        };
        out.push(format!("tcp service {n}: {}", addrs.join(",")));
    }
    for (n, r) in &s.config.udp.routers {
        out.push(format!("udp router {n}: -> {}", r.service));
    }
    for (n, svc) in &s.config.udp.services {
        let addrs: Vec<String> = match svc {
            UdpService::LoadBalancer(a) => a.clone(),
            UdpService::Weighted(_) => vec!["weighted".into()],
        };
        out.push(format!("udp service {n}: {}", addrs.join(",")));
    }
    out
}

/// The Swarm provider's settings as Traefik's `SwarmProvider.SetDefaults` gives them.
fn swarm_settings() -> ContainerSettings {
    ContainerSettings {
        default_rule: "Host(`{{ normalize .Name }}`)".into(),
        ..ContainerSettings::traefik_defaults("swarm")
    }
}

/// One translated case of the view.
struct ViewCase {
    from: &'static str,
    services: Vec<Svc>,
    tasks: Vec<Task>,
    networks: Value,
    want: Vec<&'static str>,
}

fn run_views(cases: Vec<ViewCase>) {
    let mut failed = Vec::new();
    for case in &cases {
        let got = backends(&read(&case.services, &case.tasks, &case.networks));
        if got != case.want {
            failed.push(format!(
                "{}\n  want {:#?}\n  got  {:#?}",
                case.from, case.want, got
            ));
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} cases differ:\n{}",
        failed.len(),
        cases.len(),
        failed.join("\n")
    );
}

/// One translated case of the snapshot.
struct RouteCase {
    from: &'static str,
    services: Vec<Svc>,
    tasks: Vec<Task>,
    networks: Value,
    settings: ContainerSettings,
    want: Vec<&'static str>,
    /// Whether an issue of level `error` is reported.
    error: bool,
}

fn route(
    from: &'static str,
    services: Vec<Svc>,
    tasks: Vec<Task>,
    networks: Value,
    want: &[&'static str],
    error: bool,
) -> RouteCase {
    RouteCase {
        from,
        services,
        tasks,
        networks,
        settings: swarm_settings(),
        want: want.to_vec(),
        error,
    }
}

fn run_routes(cases: Vec<RouteCase>) {
    let mut failed = Vec::new();
    for case in &cases {
        let containers = read(&case.services, &case.tasks, &case.networks);
        let snap = snapshot(&containers, &case.settings);
        let got = routes(&snap);
        let error = snap.issues.iter().any(|i| i.level == "error");
        if got != case.want || error != case.error {
            failed.push(format!(
                "{}\n  want {:#?} (error: {})\n  got  {:#?} (error: {error})\n  issues {:#?}",
                case.from, case.want, case.error, got, snap.issues
            ));
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} cases differ:\n{}",
        failed.len(),
        cases.len(),
        failed.join("\n")
    );
}

// === pswarm_test.go: TestListTasks ===

#[test]
fn list_tasks() {
    let s = svc("container");
    let t = |id: &str, slot, ip: &str| task(id, &s).slot(slot).attach("1", "network1", &[ip]);
    run_views(vec![ViewCase {
        from: "ListTasks: only running tasks (container.1, container.4, container.6)",
        services: vec![s.clone()],
        tasks: vec![
            t("id1", 1, "127.0.0.1").running(),
            t("id2", 2, "127.0.0.2").state("pending"),
            t("id3", 3, "127.0.0.3"),
            t("id4", 4, "127.0.0.4").running(),
            t("id5", 5, "127.0.0.5").state("failed"),
            t("id6", 6, "127.0.0.6/24").running(),
        ],
        // Traefik names the network by the network list's name (`foo`), not the attachment's.
        networks: networks(&[("1", "foo")]),
        want: vec![
            "id1: container foo=127.0.0.1 Running",
            "id4: container foo=127.0.0.4 Running",
            "id6: container foo=127.0.0.6 Running",
        ],
    }]);
}

// === pswarm_test.go: TestSwarmProvider_listServices ===

/// The network of the listServices cases.
const NET_ID: &str = "yk6l57rfwizjzxxzftn4amaot";

#[test]
fn list_services() {
    let lb = [
        ("traefik.swarm.network", "barnet"),
        ("traefik.swarm.LBSwarm", "true"),
    ];
    let service1 = || {
        svc("service1")
            .mode("vip")
            .vips(&[(NET_ID, "10.11.12.13/24"), ("2", "10.11.12.99/24")])
    };
    let service2 = || svc("service2").mode("dnsrr");
    let known = || networks(&[(NET_ID, "network_name")]);
    let on_net = |id: &str, s: &Svc| {
        task(id, s)
            .attach(NET_ID, "network_name", &["127.0.0.1"])
            .running()
    };
    let (plain1, plain2) = (
        service1().labels(&[("traefik.swarm.network", "barnet")]),
        service2().labels(&[("traefik.swarm.network", "barnet")]),
    );
    run_views(vec![
        ViewCase {
            from: "listServices: Should return no service due to no networks defined",
            services: vec![service1().labels(&lb), service2().labels(&lb)],
            tasks: vec![],
            networks: networks(&[]),
            want: vec![],
        },
        // Traefik keeps service1 on its virtual IP whatever its tasks; here a service without
        // a running task is stopped: its route stays and answers 503 (README, "Swarm mode": a
        // service with no running task keeps its route). service2 (`dnsrr`: no virtual IP)
        // is left out, as in Traefik (whose log says it falls back to its own balancing).
        ViewCase {
            from: "listServices: Should return only service1",
            services: vec![service1().labels(&lb), service2().labels(&lb)],
            tasks: vec![],
            networks: known(),
            want: vec!["service1-id: service1 network_name=10.11.12.13 Stopped"],
        },
        // Traefik's fake client gives every service both tasks; here each has its own two.
        ViewCase {
            from: "listServices: Should return service1 and service2 (tasks, vip and dnsrr)",
            services: vec![plain1.clone(), plain2.clone()],
            tasks: vec![
                on_net("id1", &plain1),
                on_net("id2", &plain1),
                on_net("id3", &plain2),
                on_net("id4", &plain2),
            ],
            networks: known(),
            want: vec![
                "id1: service1 network_name=127.0.0.1 Running",
                "id2: service1 network_name=127.0.0.1 Running",
                "id3: service2 network_name=127.0.0.1 Running",
                "id4: service2 network_name=127.0.0.1 Running",
            ],
        },
    ]);
}

// === pswarm_test.go: TestSwarmProvider_parseService_task ===

#[test]
fn parse_service_task() {
    let s = svc("container");
    let vip = svc("container").mode("vip").vips(&[("1", "")]);
    run_views(vec![
        // Traefik names the tasks container.1, .2, .3 (replicated) and container.id1, ...
        // (global); here every task carries the service's name and its own id.
        ViewCase {
            from: "parseService_task: replicated tasks by slot",
            services: vec![s.clone()],
            tasks: (1..=3)
                .map(|i| {
                    task(&format!("id{i}"), &s)
                        .slot(i)
                        .attach("1", "foo", &[&format!("10.0.0.{i}")])
                        .running()
                })
                .collect(),
            networks: networks(&[("1", "foo")]),
            want: vec![
                "id1: container foo=10.0.0.1 Running",
                "id2: container foo=10.0.0.2 Running",
                "id3: container foo=10.0.0.3 Running",
            ],
        },
        // A virtual IP without an address is no network of the service; the task's own
        // attachment gives its address (Traefik's expected data names 10.11.12.13, which its
        // test does not compare).
        ViewCase {
            from: "parseService_task: global service, vip without address, task on a macvlan",
            services: vec![vip.clone()],
            tasks: vec![task("id1", &vip)
                .attach("1", "vlan", &["127.0.0.1"])
                .running()],
            networks: networks(&[("1", "vlan")]),
            want: vec!["id1: container vlan=127.0.0.1 Running"],
        },
        // Traefik reads the task's node address (NodeIP), used only for a container in host
        // network mode, which a Swarm task never is to it; the router does not read nodes.
        ViewCase {
            from: "parseService_task: task on a node",
            services: vec![s.clone()],
            tasks: vec![task("id1", &s)
                .slot(1)
                .node("id1")
                .attach("1", "vlan", &["10.0.0.9"])
                .running()],
            networks: networks(&[("1", "vlan")]),
            want: vec!["id1: container vlan=10.0.0.9 Running"],
        },
    ]);
}

// === The task's addresses (pswarm.go parseTasks), which no table covers ===

#[test]
fn task_addresses() {
    let s = svc("web");
    run_views(vec![
        // parseTasks keeps a network only when it is in the network list (by id).
        ViewCase {
            from: "parseTasks: an attachment to a network not listed is not the task's",
            services: vec![s.clone()],
            tasks: vec![task("t1", &s)
                .attach("1", "front", &["10.0.1.4/24"])
                .attach("9", "other", &["10.0.9.4/24"])
                .running()],
            networks: networks(&[("1", "front")]),
            want: vec!["t1: web front=10.0.1.4 Running"],
        },
        // A running task with no address on a listed network is left out (listTasks keeps
        // tasks with at least one network).
        ViewCase {
            from: "listTasks: a task without an address is left out",
            services: vec![s.clone()],
            tasks: vec![
                task("t1", &s).attach("1", "front", &[]).running(),
                task("t2", &s).attach("1", "front", &["10.0.1.5"]).running(),
            ],
            networks: networks(&[("1", "front")]),
            want: vec!["t2: web front=10.0.1.5 Running"],
        },
        // Traefik keeps the ingress network as any other (and picks a network at random when
        // none is named); here it is never used (README, "Swarm mode": the ingress network
        // is never used).
        ViewCase {
            from: "parseTasks: ingress attachment",
            services: vec![s.clone()],
            tasks: vec![task("t1", &s)
                .attach("ing", "ingress", &["10.0.0.7/24"])
                .attach("1", "front", &["10.0.1.4/24"])
                .running()],
            networks: networks(&[("ing", "ingress"), ("1", "front")]),
            want: vec!["t1: web front=10.0.1.4 Running"],
        },
    ]);
}

// === config_test.go: TestDynConfBuilder_getIPAddress_swarm; shared_test.go:
// Test_getPort_swarm ===

#[test]
fn swarm_addresses_and_ports() {
    // Traefik's getIPAddress cases read the service's own data, which it routes to only
    // with lbswarm: the cases add it, and a port and a running task.
    let lb = |s: Svc, more: &[(&str, &str)]| {
        s.labels(&[
            ("traefik.swarm.lbswarm", "true"),
            ("traefik.http.services.svc.loadbalancer.server.port", "80"),
        ])
        .labels(more)
    };
    let dnsrr = lb(svc("svc").mode("dnsrr"), &[]);
    let one = lb(svc("svc").mode("vip").vips(&[("1", "10.11.12.13/24")]), &[]);
    let two = lb(
        svc("svc")
            .mode("vip")
            .vips(&[("1", "10.11.12.13/24"), ("2", "10.11.12.99/24")]),
        &[("traefik.swarm.network", "barnet")],
    );
    let port = svc("svc")
        .mode("dnsrr")
        .labels(&[("traefik.http.services.svc.loadbalancer.server.port", "8080")]);
    let up = |s: &Svc| task("t1", s).attach("1", "foo", &["10.0.0.2"]).running();
    run_routes(vec![
        route(
            "getIPAddress_swarm: dnsrr (no address: not routed)",
            vec![dnsrr.clone()],
            vec![up(&dnsrr)],
            networks(&[("1", "foo")]),
            &[],
            false,
        ),
        route(
            "getIPAddress_swarm: one virtual IP",
            vec![one.clone()],
            vec![up(&one)],
            networks(&[("1", "foo")]),
            &[
                "http router svc: Host(`svc`) -> svc",
                "http service svc: http://10.11.12.13:80",
            ],
            false,
        ),
        route(
            "getIPAddress_swarm: two virtual IPs, network label",
            vec![two.clone()],
            vec![up(&two)],
            networks(&[("1", "foonet"), ("2", "barnet")]),
            &[
                "http router svc: Host(`svc`) -> svc",
                "http service svc: http://10.11.12.99:80",
            ],
            false,
        ),
        route(
            "getPort_swarm: dnsrr, server port label",
            vec![port.clone()],
            vec![up(&port)],
            networks(&[("1", "foo")]),
            &[
                "http router svc: Host(`svc`) -> svc",
                "http service svc: http://10.0.0.2:8080",
            ],
            false,
        ),
    ]);
}

// === shared_labels.go extractSwarmLabels: the provider's own labels ===

#[test]
fn swarm_labels() {
    let nets = || networks(&[("1", "front"), ("2", "back")]);
    let port = ("traefik.http.services.web.loadbalancer.server.port", "80");
    let web = |labels: &[(&str, &str)]| {
        svc("web")
            .mode("vip")
            .vips(&[("1", "10.0.1.2/24"), ("2", "10.0.2.2/24")])
            .labels(&[port])
            .labels(labels)
    };
    let up = |s: &Svc| {
        task("t1", s)
            .attach("1", "front", &["10.0.1.4"])
            .attach("2", "back", &["10.0.2.4"])
            .running()
    };
    let case = |from, labels: &[(&str, &str)], want: &[&'static str], error| {
        let s = web(labels);
        route(from, vec![s.clone()], vec![up(&s)], nets(), want, error)
    };
    let on =
        |url: &'static str| -> [&'static str; 2] { ["http router web: Host(`web`) -> web", url] };
    run_routes(vec![
        case(
            "extractSwarmLabels: traefik.swarm.network",
            &[("traefik.swarm.network", "back")],
            &on("http service web: http://10.0.2.4:80"),
            false,
        ),
        case(
            "extractSwarmLabels: traefik.docker.network (deprecated, still read)",
            &[("traefik.docker.network", "back")],
            &on("http service web: http://10.0.2.4:80"),
            false,
        ),
        case(
            "extractSwarmLabels: traefik.swarm.lbswarm",
            &[
                ("traefik.swarm.network", "back"),
                ("traefik.swarm.lbswarm", "true"),
            ],
            &on("http service web: http://10.0.2.2:80"),
            false,
        ),
        // Labels are decoded without regard to case.
        case(
            "extractSwarmLabels: traefik.swarm.LBSwarm (any case)",
            &[
                ("traefik.swarm.Network", "back"),
                ("traefik.swarm.LBSwarm", "true"),
            ],
            &on("http service web: http://10.0.2.2:80"),
            false,
        ),
        case(
            "extractSwarmLabels: traefik.docker.LBSwarm (deprecated, any case)",
            &[
                ("traefik.docker.network", "back"),
                ("traefik.Docker.lbSwarm", "true"),
            ],
            &on("http service web: http://10.0.2.2:80"),
            false,
        ),
        case(
            "extractSwarmLabels: both Docker and Swarm labels are defined (not routed)",
            &[
                ("traefik.docker.network", "back"),
                ("traefik.swarm.lbswarm", "true"),
            ],
            &[],
            true,
        ),
        // specificConfiguration (traefik.swarm.*) has no allowNonRunning: decoding fails.
        case(
            "extractSwarmLabels: traefik.swarm.allowNonRunning is unknown (not routed)",
            &[
                ("traefik.swarm.allownonrunning", "true"),
                ("traefik.swarm.network", "front"),
            ],
            &[],
            true,
        ),
        // dockerSpecificConfiguration has it: read, and of no use to Swarm.
        case(
            "extractSwarmLabels: traefik.docker.allowNonRunning (accepted)",
            &[
                ("traefik.docker.allownonrunning", "true"),
                ("traefik.docker.network", "front"),
            ],
            &on("http service web: http://10.0.1.4:80"),
            false,
        ),
        case(
            "extractSwarmLabels: a bad lbswarm value (not routed)",
            &[("traefik.swarm.lbswarm", "yes")],
            &[],
            true,
        ),
        case(
            "extractSwarmLabels: traefik.enable=false",
            &[("traefik.enable", "false")],
            &[],
            false,
        ),
    ]);
}

// === config_test.go TestDynConfBuilder_build, TCP and UDP rows, played by a Swarm service
// `Test` with one running task at 10.0.0.2 (Traefik's tasks have no ports: a service without
// a port label has none) ===

#[test]
fn build_tcp_and_udp_swarm() {
    let nets = || networks(&[("1", "net")]);
    let up = |s: &Svc, id: &str, ip: &str| task(id, s).attach("1", "net", &[ip]).running();
    let case = |from, labels: &[(&str, &str)], want: &[&'static str], error| {
        let s = svc("Test").mode("vip").labels(labels);
        route(
            from,
            vec![s.clone()],
            vec![up(&s, "t1", "10.0.0.2")],
            nets(),
            want,
            error,
        )
    };
    let hostsni = ("traefik.tcp.routers.foo.rule", "HostSNI(`foo.bar`)");
    let tcp_port = ("traefik.tcp.services.foo.loadbalancer.server.port", "8080");
    let udp_port = ("traefik.udp.services.foo.loadbalancer.server.port", "8080");
    let udp_ep = ("traefik.udp.routers.foo.entrypoints", "mydns");
    let two_tasks = {
        let s = svc("Test").mode("vip").labels(&[
            udp_ep,
            udp_port,
            (
                "traefik.http.services.Service1.loadbalancer.passhostheader",
                "true",
            ),
            (
                "traefik.http.services.Service1.loadbalancer.server.port",
                "80",
            ),
        ]);
        route(
            "build: udp with label and port and http service (two tasks)",
            vec![s.clone()],
            vec![up(&s, "t1", "10.0.0.2"), up(&s, "t2", "10.0.0.3")],
            nets(),
            &[
                "http router Test: Host(`Test`) -> Service1",
                "http service Service1: http://10.0.0.2:80,http://10.0.0.3:80",
                "udp router foo: -> foo",
                "udp service foo: 10.0.0.2:8080,10.0.0.3:8080",
            ],
            false,
        )
    };
    run_routes(vec![
        case(
            "build: invalid TCP service definition",
            &[("traefik.tcp.services.test", "")],
            &[],
            true,
        ),
        case(
            "build: invalid UDP service definition",
            &[("traefik.udp.services.test", "")],
            &[],
            true,
        ),
        case(
            "build: tcp with label and port",
            &[
                hostsni,
                ("traefik.tcp.routers.foo.tls.options", "foo"),
                tcp_port,
            ],
            &[
                "tcp router foo: HostSNI(`foo.bar`) -> foo tls",
                "tcp service foo: 10.0.0.2:8080",
            ],
            false,
        ),
        case(
            "build: tcp with label, TLS passthrough and port",
            &[
                hostsni,
                ("traefik.tcp.routers.foo.tls.passthrough", "true"),
                tcp_port,
            ],
            &[
                "tcp router foo: HostSNI(`foo.bar`) -> foo tls passthrough",
                "tcp service foo: 10.0.0.2:8080",
            ],
            false,
        ),
        // The default TCP service is named after the Swarm service.
        case(
            "build: tcp with label and the default service's port",
            &[
                hostsni,
                ("traefik.tcp.routers.foo.tls", "true"),
                ("traefik.tcp.services.Test.loadbalancer.server.port", "5432"),
            ],
            &[
                "tcp router foo: HostSNI(`foo.bar`) -> Test tls",
                "tcp service Test: 10.0.0.2:5432",
            ],
            false,
        ),
        // No port: Traefik reports "port is missing" and drops the service's whole
        // configuration. Here the TCP service goes, with an error, and so does the router
        // that uses it.
        case(
            "build: tcp with label (no port: nothing)",
            &[hostsni, ("traefik.tcp.routers.foo.tls", "true")],
            &[],
            true,
        ),
        case(
            "build: udp with label and port",
            &[udp_ep, udp_port],
            &["udp router foo: -> foo", "udp service foo: 10.0.0.2:8080"],
            false,
        ),
        case(
            "build: udp with label for tcp service (a service alone, no router)",
            &[udp_port],
            &["udp service foo: 10.0.0.2:8080"],
            false,
        ),
        case(
            "build: tcp with label for tcp service, with termination delay",
            &[
                tcp_port,
                (
                    "traefik.tcp.services.foo.loadbalancer.terminationdelay",
                    "200",
                ),
            ],
            &["tcp service foo: 10.0.0.2:8080"],
            false,
        ),
        case(
            "build: tcp with label without rule (router dropped)",
            &[("traefik.tcp.routers.foo.tls", "true"), tcp_port],
            &["tcp service foo: 10.0.0.2:8080"],
            true,
        ),
        // A published port is the default here (README, "Swarm mode": the exposed port is
        // the service's published target port); Traefik's tasks have no port.
        {
            let s = svc("Test")
                .mode("vip")
                .published(&[5432])
                .labels(&[hostsni, ("traefik.tcp.routers.foo.tls", "true")]);
            route(
                "build: tcp with label, service publishing a port (Traefik: no port, nothing)",
                vec![s.clone()],
                vec![up(&s, "t1", "10.0.0.2")],
                nets(),
                &[
                    "tcp router foo: HostSNI(`foo.bar`) -> Test tls",
                    "tcp service Test: 10.0.0.2:5432",
                ],
                false,
            )
        },
        two_tasks,
    ]);
}

// === pswarm.go and config.go (DynConfBuilder.build with swarm=true): what no table covers ===

#[test]
fn swarm_services() {
    let nets = || networks(&[("1", "net")]);
    let port = ("traefik.http.services.web.loadbalancer.server.port", "80");
    let up = |s: &Svc, id: &str, ip: &str| task(id, s).attach("1", "net", &[ip]).running();
    let one = |from, s: Svc, want: &[&'static str], error| {
        route(
            from,
            vec![s.clone()],
            vec![up(&s, "t1", "10.0.0.2")],
            nets(),
            want,
            error,
        )
    };
    let web = |labels: &[(&str, &str)]| svc("web").mode("vip").labels(&[port]).labels(labels);
    let routed = [
        "http router web: Host(`web`) -> web",
        "http service web: http://10.0.0.2:80",
    ];
    let stack = svc("edge_whoami").mode("vip").labels(&[(
        "traefik.http.services.edge-whoami.loadbalancer.server.port",
        "80",
    )]);
    let idle = web(&[]);
    let dual = web(&[]);
    let udp_and_http = svc("Test").mode("vip").labels(&[
        ("traefik.udp.routers.foo.entrypoints", "mydns"),
        ("traefik.udp.services.foo.loadbalancer.server.port", "8080"),
        (
            "traefik.http.services.Service1.loadbalancer.passhostheader",
            "true",
        ),
    ]);
    run_routes(vec![
        // getServiceName: the service's name, normalized.
        one(
            "build: a stack's service (edge_whoami)",
            stack,
            &[
                "http router edge-whoami: Host(`edge-whoami`) -> edge-whoami",
                "http service edge-whoami: http://10.0.0.2:80",
            ],
            false,
        ),
        // Traefik's tasks of one service all give the same router and service: one service
        // with a server per task.
        {
            let s = web(&[]);
            route(
                "build: two tasks, one service",
                vec![s.clone()],
                vec![up(&s, "t1", "10.0.0.2"), up(&s, "t2", "10.0.0.3")],
                nets(),
                &[
                    "http router web: Host(`web`) -> web",
                    "http service web: http://10.0.0.2:80,http://10.0.0.3:80",
                ],
                false,
            )
        },
        // keepContainer: constraints match the service's labels.
        with(
            one(
                "keepContainer: matching constraints",
                web(&[("traefik.tags", "foo")]),
                &routed,
                false,
            ),
            |s| s.constraints = Some(constraints(r#"Label("traefik.tags", "foo")"#)),
        ),
        with(
            one(
                "keepContainer: non matching constraints",
                web(&[("traefik.tags", "foo")]),
                &[],
                false,
            ),
            |s| s.constraints = Some(constraints(r#"Label("traefik.tags", "bar")"#)),
        ),
        with(
            one(
                "keepContainer: exposedByDefault=false, traefik.enable=true",
                web(&[("traefik.enable", "true")]),
                &routed,
                false,
            ),
            |s| s.exposed_by_default = false,
        ),
        with(
            one(
                "keepContainer: exposedByDefault=false, no traefik.enable",
                web(&[]),
                &[],
                false,
            ),
            |s| s.exposed_by_default = false,
        ),
        // Traefik: nothing (no task, no backend). Here the route stays known and answers
        // 503 (README, "Swarm mode": a service with no running task keeps its route).
        route(
            "listTasks: a service with no running task",
            vec![idle.clone()],
            vec![task("t1", &idle)
                .attach("1", "net", &["10.0.0.2"])
                .state("shutdown")],
            nets(),
            &[
                "http router web: Host(`web`) -> web",
                "http service web: !Stopped",
            ],
            false,
        ),
        // Traefik renders `.ContainerName` as the task's name (web.1), so each task has its
        // own rule and the tasks' routers conflict; here it is the service's name (README,
        // "Swarm mode").
        with(
            one(
                "DefaultRule: {{ .ContainerName }} of a task",
                web(&[]),
                &[
                    "http router web: Host(`web.example`) -> web",
                    "http service web: http://10.0.0.2:80",
                ],
                false,
            ),
            |s| s.default_rule = "Host(`{{ .ContainerName }}.example`)".into(),
        ),
        // A dual-stack network's addresses: Traefik takes the last listed (here the IPv6
        // one); the router the first (README, "Swarm mode").
        route(
            "parseTasks: a dual-stack network",
            vec![dual.clone()],
            vec![task("t1", &dual)
                .attach("1", "net", &["10.0.0.2/24", "fd00::2/64"])
                .running()],
            nets(),
            &routed,
            false,
        ),
        // Traefik: the HTTP service has no port, and the whole service is dropped, UDP with
        // it. Here only the HTTP service and its router go (README, "Labels": a label problem
        // disables only what it belongs to).
        one(
            "build: udp with label and port and http service without port",
            udp_and_http,
            &["udp router foo: -> foo", "udp service foo: 10.0.0.2:8080"],
            true,
        ),
    ]);
}

fn with(mut c: RouteCase, f: impl FnOnce(&mut ContainerSettings)) -> RouteCase {
    f(&mut c.settings);
    c
}

fn constraints(expr: &str) -> super::constraints::Constraints {
    super::constraints::Constraints::parse(expr).unwrap()
}
