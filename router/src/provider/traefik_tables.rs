//! Traefik's own test tables for its Docker provider, translated into cases here: containers
//! (name, labels, ports, networks, state) and provider settings -> the routers, services,
//! middlewares (HTTP, TCP, UDP) the snapshot holds, and whether an error is reported.
//!
//! Sources (Traefik's repository):
//! - `pkg/provider/docker/config_test.go`: `TestDynConfBuilder_DefaultRule`,
//!   `TestDynConfBuilder_build`, `TestDynConfBuilder_build_allowNonRunning`,
//!   `TestDynConfBuilder_getIPAddress_docker`;
//! - `pkg/provider/docker/shared_test.go`: `Test_getPort_docker`;
//! - `pkg/config/label/label_test.go`: `TestDecodeConfiguration`, and the label-to-node
//!   cases it relies on in `traefik/paerser` (`parser/labels_decode_test.go`,
//!   `parser/nodes_metadata.go`).
//!
//! Where the router differs on purpose, the case states the router's result and names the
//! README passage that says so. Cases of `useBindPortIP` are left out: it is an error here
//! (README, `providers.docker`).

use std::collections::BTreeMap;

use super::constraints::Constraints;
use super::container::{
    decode_labels, label_tree, snapshot, ContainerInfo, ContainerSettings, Health, RunState,
};
use crate::dynamic::tcp::TcpService;
use crate::dynamic::udp::UdpService;
use crate::dynamic::{ServerStatus, Snapshot};

/// The default rule of `TestDynConfBuilder_build`.
const WTF: &str = "Host(`{{ normalize .Name }}.traefik.wtf`)";
/// Traefik's `DefaultTemplateRule`.
const DEFAULT_TEMPLATE: &str = "Host(`{{ normalize .Name }}`)";

/// A container as Traefik's tables build one: `Test`-like name, on `bridge` at 127.0.0.1,
/// port 80, running, no health check.
#[derive(Clone)]
struct C(ContainerInfo);

fn c(name: &str) -> C {
    C(ContainerInfo {
        id: format!("{name}-id"),
        name: name.into(),
        labels: BTreeMap::new(),
        state: RunState::Running,
        health: Health::None,
        networks: [("bridge".to_owned(), Some([127, 0, 0, 1].into()))].into(),
        bindings: Default::default(),
        network_mode: "bridge".into(),
        exposed_ports: [80].into(),
    })
}

impl C {
    fn id(mut self, id: &str) -> C {
        self.0.id = id.into();
        self
    }
    fn labels(mut self, pairs: &[(&str, &str)]) -> C {
        for (k, v) in pairs {
            self.0.labels.insert((*k).into(), (*v).into());
        }
        self
    }
    fn ip(mut self, ip: &str) -> C {
        self.0.networks = [("bridge".to_owned(), Some(ip.parse().unwrap()))].into();
        self
    }
    fn nets(mut self, nets: &[(&str, &str)]) -> C {
        self.0.networks = nets
            .iter()
            .map(|(n, ip)| ((*n).to_owned(), Some(ip.parse().unwrap())))
            .collect();
        self
    }
    fn ports(mut self, ports: &[u16]) -> C {
        self.0.exposed_ports = ports.iter().copied().collect();
        self
    }
    fn health(mut self, h: Health) -> C {
        self.0.health = h;
        self
    }
    fn state(mut self, s: RunState) -> C {
        self.0.state = s;
        self
    }
    fn mode(mut self, m: &str) -> C {
        self.0.network_mode = m.into();
        self
    }
}

/// One translated case.
struct Case {
    /// `<Traefik test>: <its case's desc>`.
    from: &'static str,
    containers: Vec<C>,
    settings: ContainerSettings,
    /// The snapshot, as [`view`] writes it.
    want: Vec<&'static str>,
    /// Whether an issue of level `error` is reported.
    error: bool,
}

fn settings(rule: &str) -> ContainerSettings {
    ContainerSettings {
        default_rule: rule.into(),
        ..ContainerSettings::traefik_defaults("docker")
    }
}

fn case(from: &'static str, containers: Vec<C>, want: &[&'static str], error: bool) -> Case {
    Case {
        from,
        containers,
        settings: settings(WTF),
        want: want.to_vec(),
        error,
    }
}

fn with(mut c: Case, f: impl FnOnce(&mut ContainerSettings)) -> Case {
    f(&mut c.settings);
    c
}

fn list(items: &[String]) -> String {
    items.join(",")
}

/// The snapshot, one line per element: `http router <name>: <rule> -> <service>` (then
/// `mw=`, `eps=`, `tls` when set), `http service <name>: <urls>` (a server not ready is
/// followed by `!<status>`), `http middleware <name>`, and the same for `tcp` and `udp`.
fn view(s: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    let http = &s.config.http;
    for (n, r) in &http.routers {
        let mut l = format!("http router {n}: {} -> {}", r.rule, r.service);
        if !r.middlewares.is_empty() {
            l += &format!(" mw={}", list(&r.middlewares));
        }
        if !r.entry_points.is_empty() {
            l += &format!(" eps={}", list(&r.entry_points));
        }
        if r.tls.is_some() {
            l += " tls";
        }
        out.push(l);
    }
    for (n, svc) in &http.services {
        let urls: Vec<String> = svc
            .load_balancer
            .servers
            .iter()
            .map(|s| match s.status {
                ServerStatus::Ready => s.url.clone(),
                st => format!("{}!{st:?}", s.url),
            })
            .collect();
        out.push(format!("http service {n}: {}", list(&urls)));
    }
    for n in http.middlewares.keys() {
        out.push(format!("http middleware {n}"));
    }
    let tcp = &s.config.tcp;
    for (n, r) in &tcp.routers {
        let mut l = format!("tcp router {n}: {} -> {}", r.rule, r.service);
        if !r.middlewares.is_empty() {
            l += &format!(" mw={}", list(&r.middlewares));
        }
        if let Some(t) = &r.tls {
            l += " tls";
            if !t.options.is_empty() {
                l += &format!(" options={}", t.options);
            }
        }
        out.push(l);
    }
    for (n, svc) in &tcp.services {
        let addrs: Vec<String> = match svc {
            TcpService::LoadBalancer(lb) => lb.servers.iter().map(|s| s.address.clone()).collect(),
            TcpService::Weighted(_) => vec!["weighted".into()],
        };
        out.push(format!("tcp service {n}: {}", list(&addrs)));
    }
    for n in tcp.middlewares.keys() {
        out.push(format!("tcp middleware {n}"));
    }
    let udp = &s.config.udp;
    for (n, r) in &udp.routers {
        let mut l = format!("udp router {n}: -> {}", r.service);
        if !r.entry_points.is_empty() {
            l += &format!(" eps={}", list(&r.entry_points));
        }
        out.push(l);
    }
    for (n, svc) in &udp.services {
        let addrs: Vec<String> = match svc {
            UdpService::LoadBalancer(a) => a.clone(),
            UdpService::Weighted(_) => vec!["weighted".into()],
        };
        out.push(format!("udp service {n}: {}", list(&addrs)));
    }
    out
}

fn run(cases: Vec<Case>) {
    let mut failed = Vec::new();
    for case in &cases {
        let containers: Vec<ContainerInfo> = case.containers.iter().map(|c| c.0.clone()).collect();
        let snap = snapshot(&containers, &case.settings);
        let got = view(&snap);
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

const DEFAULT_ONE: [&str; 2] = [
    "http router Test: Host(`Test.traefik.wtf`) -> Test",
    "http service Test: http://127.0.0.1:80",
];

// === TestDynConfBuilder_DefaultRule ===

#[test]
fn default_rule() {
    let t = |from, rule: &str, labels: &[(&str, &str)], want: &[&'static str], error| {
        with(
            case(from, vec![c("Test").labels(labels)], want, error),
            |s| s.default_rule = rule.into(),
        )
    };
    run(vec![
        t(
            "DefaultRule: default rule with no variable",
            "Host(`foo.bar`)",
            &[],
            &[
                "http router Test: Host(`foo.bar`) -> Test",
                "http service Test: http://127.0.0.1:80",
            ],
            false,
        ),
        t(
            "DefaultRule: default rule with service name",
            "Host(`{{ .Name }}.foo.bar`)",
            &[],
            &[
                "http router Test: Host(`Test.foo.bar`) -> Test",
                "http service Test: http://127.0.0.1:80",
            ],
            false,
        ),
        t(
            "DefaultRule: default rule with label",
            r#"Host("{{ .Name }}.{{ index .Labels "traefik.domain" }}")"#,
            &[("traefik.domain", "foo.bar")],
            &[
                "http router Test: Host(\"Test.foo.bar\") -> Test",
                "http service Test: http://127.0.0.1:80",
            ],
            false,
        ),
        // Go's `index` of a missing key: the empty string.
        t(
            "DefaultRule: default rule with a label the container does not have",
            r#"Host("{{ .Name }}.{{ index .Labels "traefik.domain" }}")"#,
            &[],
            &[
                "http router Test: Host(\"Test.\") -> Test",
                "http service Test: http://127.0.0.1:80",
            ],
            false,
        ),
        // Traefik's `.Name` is the normalized service name (getServiceName: `my-app`).
        with(
            case(
                "DefaultRule: .Name of a name that normalize changes",
                vec![c("my_app")],
                &[
                    "http router my-app: Host(`my-app.foo.bar`) -> my-app",
                    "http service my-app: http://127.0.0.1:80",
                ],
                false,
            ),
            |s| s.default_rule = "Host(`{{ .Name }}.foo.bar`)".into(),
        ),
        t(
            "DefaultRule: invalid rule (the router is dropped, the service stays)",
            r#"Host("{{ .Toto }}")"#,
            &[],
            &["http service Test: http://127.0.0.1:80"],
            true,
        ),
        t(
            "DefaultRule: undefined rule",
            "",
            &[],
            &["http service Test: http://127.0.0.1:80"],
            true,
        ),
        t(
            "DefaultRule: default template rule",
            DEFAULT_TEMPLATE,
            &[],
            &[
                "http router Test: Host(`Test`) -> Test",
                "http service Test: http://127.0.0.1:80",
            ],
            false,
        ),
    ]);
}

// === TestDynConfBuilder_build: routers, services, defaults ===

const PHH: &str = "loadbalancer.passhostheader";

fn svc_label(service: &str, key: &str) -> String {
    format!("traefik.http.services.{service}.{key}")
}

#[test]
fn build_routers_and_services() {
    let s1 = svc_label("Service1", PHH);
    let s2 = svc_label("Service2", PHH);
    run(vec![
        case("build: one container no label", vec![c("Test")], &DEFAULT_ONE, false),
        case(
            "build: two containers no label",
            vec![c("Test"), c("Test2").ip("127.0.0.2")],
            &[
                "http router Test: Host(`Test.traefik.wtf`) -> Test",
                "http router Test2: Host(`Test2.traefik.wtf`) -> Test2",
                "http service Test: http://127.0.0.1:80",
                "http service Test2: http://127.0.0.2:80",
            ],
            false,
        ),
        case(
            "build: two containers with same service name no label (servers merged)",
            vec![c("Test").id("1"), c("Test").id("2").ip("127.0.0.2")],
            &[
                "http router Test: Host(`Test.traefik.wtf`) -> Test",
                "http service Test: http://127.0.0.1:80,http://127.0.0.2:80",
            ],
            false,
        ),
        case(
            "build: one container with label (not on server)",
            vec![c("Test").labels(&[(&s1, "true")])],
            &[
                "http router Test: Host(`Test.traefik.wtf`) -> Service1",
                "http service Service1: http://127.0.0.1:80",
            ],
            false,
        ),
        case(
            "build: one container with labels",
            vec![c("Test").labels(&[
                (&s1, "true"),
                ("traefik.http.routers.Router1.rule", "Host(`foo.com`)"),
                ("traefik.http.routers.Router1.service", "Service1"),
            ])],
            &[
                "http router Router1: Host(`foo.com`) -> Service1",
                "http service Service1: http://127.0.0.1:80",
            ],
            false,
        ),
        case(
            "build: one container with rule label",
            vec![c("Test").labels(&[("traefik.http.routers.Router1.rule", "Host(`foo.com`)")])],
            &[
                "http router Router1: Host(`foo.com`) -> Test",
                "http service Test: http://127.0.0.1:80",
            ],
            false,
        ),
        case(
            "build: one container with rule label and one service",
            vec![c("Test").labels(&[
                ("traefik.http.routers.Router1.rule", "Host(`foo.com`)"),
                (&s1, "true"),
            ])],
            &[
                "http router Router1: Host(`foo.com`) -> Service1",
                "http service Service1: http://127.0.0.1:80",
            ],
            false,
        ),
        case(
            "build: one container with rule label and two services (the router cannot pick one)",
            vec![c("Test").labels(&[
                ("traefik.http.routers.Router1.rule", "Host(`foo.com`)"),
                (&s1, "true"),
                (&s2, "true"),
            ])],
            &[
                "http service Service1: http://127.0.0.1:80",
                "http service Service2: http://127.0.0.1:80",
            ],
            true,
        ),
        case(
            "build: one router, one specified but undefined service -> specified one is assigned, but automatic is created instead",
            vec![c("Test").labels(&[
                ("traefik.http.routers.Router1.rule", "Host(`foo.com`)"),
                ("traefik.http.routers.Router1.service", "Service1"),
            ])],
            &[
                "http router Router1: Host(`foo.com`) -> Service1",
                "http service Test: http://127.0.0.1:80",
            ],
            false,
        ),
        case(
            "build: one container with bad label (ignored)",
            vec![c("Test").labels(&[("traefik.wrong.label", "42")])],
            &DEFAULT_ONE,
            false,
        ),
        case(
            "build: one container with traefik.enable false",
            vec![c("Test").labels(&[("traefik.enable", "false")])],
            &[],
            false,
        ),
        case(
            "build: Middlewares used in router",
            vec![c("Test").labels(&[
                (
                    "traefik.http.middlewares.Middleware1.basicauth.users",
                    "test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/,test2:$apr1$d9hr9HBB$4HxwgUir3HP4EsggP/QNo0",
                ),
                ("traefik.http.routers.Test.middlewares", "Middleware1"),
            ])],
            &[
                "http router Test: Host(`Test.traefik.wtf`) -> Test mw=Middleware1",
                "http service Test: http://127.0.0.1:80",
                "http middleware Middleware1",
            ],
            false,
        ),
        case(
            "build: one container with InFlightReq in label (default value)",
            vec![c("Test").labels(&[(
                "traefik.http.middlewares.Middleware1.inflightreq.amount",
                "42",
            )])],
            &[
                "http router Test: Host(`Test.traefik.wtf`) -> Test",
                "http service Test: http://127.0.0.1:80",
                "http middleware Middleware1",
            ],
            false,
        ),
    ]);
}

// === TestDynConfBuilder_build: several containers merged, conflicts ===

#[test]
fn build_merging_and_conflicts() {
    let s1 = svc_label("Service1", PHH);
    let mw = "traefik.http.middlewares.Middleware1.inflightreq.amount";
    let r1 = "traefik.http.routers.Router1.rule";
    let two = |a: &[(&str, &str)], b: &[(&str, &str)]| {
        vec![
            c("Test").id("1").labels(a),
            c("Test").id("2").ip("127.0.0.2").labels(b),
        ]
    };
    let three = |a: &[(&str, &str)], b: &[(&str, &str)], x: &[(&str, &str)]| {
        vec![
            c("Test").id("1").labels(a),
            c("Test").id("2").ip("127.0.0.2").labels(b),
            c("Test").id("3").ip("127.0.0.3").labels(x),
        ]
    };
    let merged2 = "http service Test: http://127.0.0.1:80,http://127.0.0.2:80";
    let merged3 = "http service Test: http://127.0.0.1:80,http://127.0.0.2:80,http://127.0.0.3:80";
    let default_router = "http router Test: Host(`Test.traefik.wtf`) -> Test";
    run(vec![
        case(
            "build: two containers with same service name and different passhostheader (service dropped)",
            two(&[(&s1, "true")], &[(&s1, "false")]),
            &["http router Test: Host(`Test.traefik.wtf`) -> Service1"],
            true,
        ),
        case(
            "build: three containers with same service name and different passhostheader",
            three(&[(&s1, "false")], &[(&s1, "true")], &[(&s1, "true")]),
            &["http router Test: Host(`Test.traefik.wtf`) -> Service1"],
            true,
        ),
        case(
            "build: two containers with same service name and same LB methods",
            two(&[(&s1, "true")], &[(&s1, "true")]),
            &[
                "http router Test: Host(`Test.traefik.wtf`) -> Service1",
                "http service Service1: http://127.0.0.1:80,http://127.0.0.2:80",
            ],
            false,
        ),
        case(
            "build: two containers with two identical middlewares",
            two(&[(mw, "42")], &[(mw, "42")]),
            &[default_router, merged2, "http middleware Middleware1"],
            false,
        ),
        case(
            "build: two containers with two different middlewares with same name (dropped)",
            two(&[(mw, "42")], &[(mw, "41")]),
            &[default_router, merged2],
            true,
        ),
        case(
            "build: three containers with different middlewares with same name",
            three(&[(mw, "42")], &[(mw, "41")], &[(mw, "40")]),
            &[default_router, merged3],
            true,
        ),
        case(
            "build: two containers with two different routers with same name (dropped)",
            two(&[(r1, "Host(`foo.com`)")], &[(r1, "Host(`bar.com`)")]),
            &[merged2],
            true,
        ),
        case(
            "build: three containers with different routers with same name",
            three(
                &[(r1, "Host(`foo.com`)")],
                &[(r1, "Host(`bar.com`)")],
                &[(r1, "Host(`foobar.com`)")],
            ),
            &[merged3],
            true,
        ),
        case(
            "build: two containers with two identical routers",
            two(&[(r1, "Host(`foo.com`)")], &[(r1, "Host(`foo.com`)")]),
            &["http router Router1: Host(`foo.com`) -> Test", merged2],
            false,
        ),
        // Traefik's second container has the service name Test2 and the container name Test;
        // here a container's default service is named after the container: Test2.
        case(
            "build: two containers with two identical router rules and different service names",
            vec![
                c("Test").labels(&[(r1, "Host(`foo.com`)")]),
                c("Test2").ip("127.0.0.2").labels(&[(r1, "Host(`foo.com`)")]),
            ],
            &[
                "http service Test: http://127.0.0.1:80",
                "http service Test2: http://127.0.0.2:80",
            ],
            true,
        ),
        case(
            "build: udp with label and port and http service (two containers)",
            two(
                &[
                    ("traefik.udp.routers.foo.entrypoints", "mydns"),
                    ("traefik.udp.services.foo.loadbalancer.server.port", "8080"),
                    (&s1, "true"),
                ],
                &[
                    ("traefik.udp.routers.foo.entrypoints", "mydns"),
                    ("traefik.udp.services.foo.loadbalancer.server.port", "8080"),
                    (&s1, "true"),
                ],
            ),
            &[
                "http router Test: Host(`Test.traefik.wtf`) -> Service1",
                "http service Service1: http://127.0.0.1:80,http://127.0.0.2:80",
                "udp router foo: -> foo eps=mydns",
                "udp service foo: 127.0.0.1:8080,127.0.0.2:8080",
            ],
            false,
        ),
    ]);
}

// === TestDynConfBuilder_build: servers (port, scheme, url) ===

#[test]
fn build_servers() {
    let l = |k: &str| svc_label("Service1", &format!("LoadBalancer.server.{k}"));
    let (port, scheme, url) = (l("port"), l("scheme"), l("url"));
    run(vec![
        case(
            "build: one container with label port (and scheme h2c)",
            vec![c("Test").labels(&[(&scheme, "h2c"), (&port, "8080")])],
            &[
                "http router Test: Host(`Test.traefik.wtf`) -> Service1",
                "http service Service1: h2c://127.0.0.1:8080",
            ],
            false,
        ),
        case(
            "build: one container with label port on two services (an empty port is the container's)",
            vec![c("Test").labels(&[
                (&port, ""),
                ("traefik.http.services.Service2.LoadBalancer.server.port", "8080"),
            ])],
            &[
                "http service Service1: http://127.0.0.1:80",
                "http service Service2: http://127.0.0.1:8080",
            ],
            false,
        ),
        // Traefik's addServer: an empty url or scheme is unset too, and so is an empty TCP or
        // UDP port (addServerTCP, addServerUDP).
        case(
            "build: empty url and scheme labels (unset)",
            vec![c("Test").labels(&[(&url, ""), (&scheme, "")])],
            &[
                "http router Test: Host(`Test.traefik.wtf`) -> Service1",
                "http service Service1: http://127.0.0.1:80",
            ],
            false,
        ),
        case(
            "build: empty TCP and UDP port labels (unset)",
            vec![c("Test").labels(&[
                ("traefik.tcp.services.t.loadbalancer.server.port", ""),
                ("traefik.udp.services.u.loadbalancer.server.port", ""),
            ])],
            &["tcp service t: 127.0.0.1:80", "udp service u: 127.0.0.1:80"],
            false,
        ),
        case(
            "build: one container with label url",
            vec![c("Test").ports(&[4567]).labels(&[(&url, "http://1.2.3.4:5678")])],
            &[
                "http router Test: Host(`Test.traefik.wtf`) -> Service1",
                "http service Service1: http://1.2.3.4:5678",
            ],
            false,
        ),
        // Traefik drops the whole container (an error of the container); here only the
        // service is, and the routers that use it are disabled when the table is built
        // (README, "Rule and label errors": a bad port disables its service).
        case(
            "build: one container with label url and port (Traefik: nothing at all)",
            vec![c("Test")
                .ports(&[4567])
                .labels(&[(&url, "http://1.2.3.4:5678"), (&port, "1234")])],
            &["http router Test: Host(`Test.traefik.wtf`) -> Service1"],
            true,
        ),
        case(
            "build: one container with label url and scheme (Traefik: nothing at all)",
            vec![c("Test")
                .ports(&[4567])
                .labels(&[(&url, "http://1.2.3.4:5678"), (&scheme, "https")])],
            &["http router Test: Host(`Test.traefik.wtf`) -> Service1"],
            true,
        ),
        case(
            "build: one container with label url and preserve path",
            vec![c("Test")
                .ports(&[4567])
                .labels(&[(&url, "http://1.2.3.4:5678"), (&l("preservepath"), "true")])],
            &[
                "http router Test: Host(`Test.traefik.wtf`) -> Service1",
                "http service Service1: http://1.2.3.4:5678",
            ],
            false,
        ),
        case(
            "build: one container without port",
            vec![c("Test").ports(&[])],
            &[],
            true,
        ),
        // Traefik drops the whole container, middleware included; here only the service that
        // has no port is (README, "Rule and label errors").
        case(
            "build: one container without port with middleware (Traefik: nothing at all)",
            vec![c("Test").ports(&[]).labels(&[(
                "traefik.http.middlewares.Middleware1.inflightreq.amount",
                "42",
            )])],
            &["http middleware Middleware1"],
            true,
        ),
        // Traefik: an error of the container, nothing at all. Here the service is disabled
        // and the container's default router, which uses it, stays (disabled when the table
        // is built; README, "Rule and label errors").
        case(
            "build: invalid HTTP service definition (Traefik: nothing at all)",
            vec![c("Test").labels(&[("traefik.http.services.test", "")])],
            &["http router Test: Host(`Test.traefik.wtf`) -> test"],
            true,
        ),
        case(
            "build: invalid TCP service definition",
            vec![c("Test").labels(&[("traefik.tcp.services.test", "")])],
            &[],
            true,
        ),
        case(
            "build: invalid UDP service definition",
            vec![c("Test").labels(&[("traefik.udp.services.test", "")])],
            &[],
            true,
        ),
        // README, "Not supported": `traefik.tls.*` is reported as unsupported (not an error);
        // the rest of the container applies, with its lowest port.
        case(
            "build: one container with default generated certificate labels (tls.stores ignored)",
            vec![c("Test").ports(&[79, 80]).labels(&[
                ("traefik.tls.stores.default.defaultgeneratedcert.resolver", "foobar"),
                ("traefik.tls.stores.default.defaultgeneratedcert.domain.main", "foobar"),
                (
                    "traefik.tls.stores.default.defaultgeneratedcert.domain.sans",
                    "foobar, fiibar",
                ),
            ])],
            &[
                "http router Test: Host(`Test.traefik.wtf`) -> Test",
                "http service Test: http://127.0.0.1:79",
            ],
            false,
        ),
    ]);
}

// === TestDynConfBuilder_build: TCP and UDP ===

#[test]
fn build_tcp_and_udp() {
    run(vec![
        case(
            "build: Middlewares used in TCP router",
            // Traefik's table has `foobar, fiibar` as ranges, which it does not check when
            // decoding; real ranges here, where they are checked.
            vec![c("Test").labels(&[
                ("traefik.tcp.routers.Test.rule", "HostSNI(`foo.bar`)"),
                (
                    "traefik.tcp.middlewares.Middleware1.ipallowlist.sourcerange",
                    "10.0.0.0/8, 192.168.1.7",
                ),
                ("traefik.tcp.routers.Test.middlewares", "Middleware1"),
            ])],
            &[
                "tcp router Test: HostSNI(`foo.bar`) -> Test mw=Middleware1",
                "tcp service Test: 127.0.0.1:80",
                "tcp middleware Middleware1",
            ],
            false,
        ),
        case(
            "build: tcp with label",
            vec![c("Test").labels(&[
                ("traefik.tcp.routers.foo.rule", "HostSNI(`foo.bar`)"),
                ("traefik.tcp.routers.foo.tls", "true"),
            ])],
            &[
                "tcp router foo: HostSNI(`foo.bar`) -> Test tls",
                "tcp service Test: 127.0.0.1:80",
            ],
            false,
        ),
        case(
            "build: udp with label",
            vec![c("Test").labels(&[("traefik.udp.routers.foo.entrypoints", "mydns")])],
            &[
                "udp router foo: -> Test eps=mydns",
                "udp service Test: 127.0.0.1:80",
            ],
            false,
        ),
        case(
            "build: tcp with label without rule (router dropped)",
            vec![c("Test").labels(&[("traefik.tcp.routers.foo.tls", "true")])],
            &["tcp service Test: 127.0.0.1:80"],
            true,
        ),
        case(
            "build: tcp with label and port",
            vec![c("Test").labels(&[
                ("traefik.tcp.routers.foo.rule", "HostSNI(`foo.bar`)"),
                ("traefik.tcp.routers.foo.tls.options", "foo"),
                ("traefik.tcp.services.foo.loadbalancer.server.port", "8080"),
            ])],
            &[
                "tcp router foo: HostSNI(`foo.bar`) -> foo tls options=foo",
                "tcp service foo: 127.0.0.1:8080",
            ],
            false,
        ),
        case(
            "build: udp with label and port",
            vec![c("Test").labels(&[
                ("traefik.udp.routers.foo.entrypoints", "mydns"),
                ("traefik.udp.services.foo.loadbalancer.server.port", "8080"),
            ])],
            &[
                "udp router foo: -> foo eps=mydns",
                "udp service foo: 127.0.0.1:8080",
            ],
            false,
        ),
        case(
            "build: udp with label for tcp service (a service alone, no router)",
            vec![c("Test").labels(&[("traefik.udp.services.foo.loadbalancer.server.port", "8080")])],
            &["udp service foo: 127.0.0.1:8080"],
            false,
        ),
        case(
            "build: tcp with label for tcp service, with termination delay",
            vec![c("Test").labels(&[("traefik.tcp.services.foo.loadbalancer.server.port", "8080")])],
            &["tcp service foo: 127.0.0.1:8080"],
            false,
        ),
    ]);
}

// === TestDynConfBuilder_build: health, constraints; _build_allowNonRunning ===

#[test]
fn build_health_state_and_constraints() {
    let tags = [("traefik.tags", "foo")];
    run(vec![
        // Traefik leaves an unhealthy container out (with allowEmptyServices: its router and
        // a service without servers). Here its routes stay known and its server is not
        // usable (README, "Backends and balancing": unhealthy backends get no request; a
        // known route answers 503, not 404).
        case(
            "build: one unhealthy HTTP container (allowEmptyServices: router, empty service)",
            vec![c("Test").health(Health::Unhealthy)],
            &[
                "http router Test: Host(`Test.traefik.wtf`) -> Test",
                "http service Test: http://127.0.0.1:80!Unhealthy",
            ],
            false,
        ),
        // As Traefik's allowEmptyServices (README, "TCP routers": an unhealthy container
        // gives its service no server).
        case(
            "build: one unhealthy TCP container (allowEmptyServices)",
            vec![c("Test")
                .health(Health::Unhealthy)
                .labels(&[("traefik.tcp.routers.foo.rule", "HostSNI(`foo.bar`)")])],
            &["tcp router foo: HostSNI(`foo.bar`) -> Test", "tcp service Test: "],
            false,
        ),
        case(
            "build: one unhealthy UDP container (allowEmptyServices)",
            vec![c("Test")
                .health(Health::Unhealthy)
                .labels(&[("traefik.udp.routers.foo", "true")])],
            &["udp router foo: -> Test", "udp service Test: "],
            false,
        ),
        with(
            case(
                "build: one container with non matching constraints",
                vec![c("Test").labels(&tags)],
                &[],
                false,
            ),
            |s| s.constraints = Some(Constraints::parse(r#"Label("traefik.tags", "bar")"#).unwrap()),
        ),
        with(
            case(
                "build: one container with matching constraints",
                vec![c("Test").labels(&tags)],
                &DEFAULT_ONE,
                false,
            ),
            |s| s.constraints = Some(Constraints::parse(r#"Label("traefik.tags", "foo")"#).unwrap()),
        ),
        // allowNonRunning: a router and a service whose server is not usable. Here every
        // stopped container keeps its routes (README, "Status pages": a known route whose
        // containers are stopped answers 503), whatever `allowNonRunning` says.
        with(
            case(
                "build_allowNonRunning: exited container with allowNonRunning=true",
                vec![c("Test")
                    .state(RunState::Stopped)
                    .labels(&[("traefik.docker.allownonrunning", "true")])],
                &[
                    "http router Test: Host(`Test`) -> Test",
                    "http service Test: http://127.0.0.1:80!Stopped",
                ],
                false,
            ),
            |s| s.default_rule = DEFAULT_TEMPLATE.into(),
        ),
        with(
            case(
                "build_allowNonRunning: exited container with allowNonRunning=false (Traefik: nothing)",
                vec![c("Test").state(RunState::Stopped)],
                &[
                    "http router Test: Host(`Test`) -> Test",
                    "http service Test: http://127.0.0.1:80!Stopped",
                ],
                false,
            ),
            |s| s.default_rule = DEFAULT_TEMPLATE.into(),
        ),
        with(
            case(
                "build_allowNonRunning: running container with allowNonRunning=true",
                vec![c("Test").labels(&[("traefik.docker.allownonrunning", "true")])],
                &[
                    "http router Test: Host(`Test`) -> Test",
                    "http service Test: http://127.0.0.1:80",
                ],
                false,
            ),
            |s| s.default_rule = DEFAULT_TEMPLATE.into(),
        ),
        case(
            "build_allowNonRunning: exited container with TCP configuration",
            vec![c("Test")
                .state(RunState::Stopped)
                .labels(&[("traefik.tcp.routers.Test.rule", "HostSNI(`test.localhost`)")])],
            &[
                "tcp router Test: HostSNI(`test.localhost`) -> Test",
                "tcp service Test: ",
            ],
            false,
        ),
        case(
            "build_allowNonRunning: exited container with UDP configuration",
            vec![c("Test")
                .state(RunState::Stopped)
                .labels(&[("traefik.udp.routers.Test.entrypoints", "udp")])],
            &["udp router Test: -> Test eps=udp", "udp service Test: "],
            false,
        ),
    ]);
}

// === TestDynConfBuilder_getIPAddress_docker, Test_getPort_docker ===

#[test]
fn addresses_and_ports() {
    // getIPAddress: the provider's network is `webnet`.
    let net = |from, c: C, url: &'static str| {
        with(
            case(
                from,
                vec![c],
                &["http router fake: Host(`fake.traefik.wtf`) -> fake", url],
                false,
            ),
            |s| s.default_network = Some("webnet".into()),
        )
    };
    let fake = || c("fake");
    let l = |n: &str| fake().labels(&[("traefik.docker.network", n)]);
    let port = |from, c: C, want: &'static [&'static str]| case(from, vec![c], want, false);
    run(vec![
        net(
            "getIPAddress: one network, no network label",
            fake().nets(&[("testnet", "10.11.12.13")]),
            "http service fake: http://10.11.12.13:80",
        ),
        net(
            "getIPAddress: one network, network label",
            l("testnet").nets(&[("testnet", "10.11.12.13")]),
            "http service fake: http://10.11.12.13:80",
        ),
        net(
            "getIPAddress: one ipv6 network, network label",
            l("testnet").nets(&[("testnet", "fd00:1:2:3:4::")]),
            "http service fake: http://[fd00:1:2:3:4::]:80",
        ),
        net(
            "getIPAddress: two networks, network label",
            l("testnet2").nets(&[("testnet", "10.11.12.13"), ("testnet2", "10.11.12.14")]),
            "http service fake: http://10.11.12.14:80",
        ),
        net(
            "getIPAddress: two networks, no network label, mode host",
            fake()
                .mode("host")
                .nets(&[("testnet", "10.11.12.13"), ("testnet2", "10.11.12.14")]),
            "http service fake: http://127.0.0.1:80",
        ),
        // Traefik: the provider's network (10.11.12.14) before host mode. Here host mode comes
        // first (README, "Backends and balancing", network choice 1).
        net(
            "getIPAddress: two networks, no network label, mode host, use provider network",
            fake()
                .mode("host")
                .nets(&[("testnet", "10.11.12.13"), ("webnet", "10.11.12.14")]),
            "http service fake: http://127.0.0.1:80",
        ),
        net(
            "getIPAddress: two networks, network label",
            l("testnet").nets(&[("testnet", "10.11.12.13"), ("webnet", "10.11.12.14")]),
            "http service fake: http://10.11.12.13:80",
        ),
        net(
            "getIPAddress: no network, no network label, mode host",
            fake().mode("host").nets(&[]),
            "http service fake: http://127.0.0.1:80",
        ),
        case(
            "getPort: no binding, no server port label (no port: nothing)",
            vec![fake().ports(&[])],
            &[],
            true,
        ),
        port(
            "getPort: binding, no server port label",
            fake(),
            &[
                "http router fake: Host(`fake.traefik.wtf`) -> fake",
                "http service fake: http://127.0.0.1:80",
            ],
        ),
        port(
            "getPort: binding, multiple ports, no server port label (the lowest)",
            fake().ports(&[443, 80]),
            &[
                "http router fake: Host(`fake.traefik.wtf`) -> fake",
                "http service fake: http://127.0.0.1:80",
            ],
        ),
        port(
            "getPort: no binding, server port label",
            fake().ports(&[]).labels(&[(
                "traefik.http.services.fake.loadbalancer.server.port",
                "8080",
            )]),
            &[
                "http router fake: Host(`fake.traefik.wtf`) -> fake",
                "http service fake: http://127.0.0.1:8080",
            ],
        ),
        port(
            "getPort: binding, multiple ports, server port label",
            fake().ports(&[8080, 80]).labels(&[(
                "traefik.http.services.fake.loadbalancer.server.port",
                "8080",
            )]),
            &[
                "http router fake: Host(`fake.traefik.wtf`) -> fake",
                "http service fake: http://127.0.0.1:8080",
            ],
        ),
    ]);
}

// === label decoding: TestDecodeConfiguration (pkg/config/label) and paerser's
// labels_decode_test.go ===

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn label_tree_keys() {
    // paerser: "several entries, level 2, case-insensitive": one node, named as the first
    // key in sorted order names it.
    let (root, errors) = label_tree(
        &labels(&[("traefik.foo.aaa", "bar"), ("traefik.Foo.bbb", "bur")]),
        "traefik",
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(root.children().len(), 1);
    assert_eq!(root.children()[0].name, "Foo");
    assert_eq!(root.children()[0].children().len(), 2);
    // "several entries, slice syntax": foo[0].aaa ... foo[1].bbb is a list of two.
    let (root, errors) = label_tree(
        &labels(&[
            ("traefik.foo[0].aaa", "bar0"),
            ("traefik.foo[0].bbb", "bur0"),
            ("traefik.foo[1].aaa", "bar1"),
            ("traefik.foo[1].bbb", "bur1"),
        ]),
        "traefik",
    );
    assert!(errors.is_empty(), "{errors:?}");
    let items = root.get("foo").unwrap().items().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[1].get("bbb").unwrap().text().unwrap(), "bur1");
    // "level 1 empty value": a key with an empty value is a node.
    let (root, errors) = label_tree(&labels(&[("traefik.foo", "")]), "traefik");
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(root.get("foo").unwrap().text().unwrap(), "");
    // Errors: "invalid label, ending by a dot", "several entries, invalid slice syntax".
    for bad in [
        &[("traefik.http.", "bar")][..],
        &[
            ("traefik.foo.[0].aaa", "bar0"),
            ("traefik.foo.[1].aaa", "bar1"),
        ][..],
    ] {
        let (_, errors) = label_tree(&labels(bad), "traefik");
        assert!(!errors.is_empty(), "{bad:?}");
    }
}

#[test]
fn decode_configuration() {
    // TestDecodeConfiguration's labels, a router, service and middleware of each kind. Its
    // values that the router checks and Traefik does not at this stage (`foobar` as a URL, a
    // scheme, an IP range, a status) are replaced by valid ones.
    let d = decode_labels(
        &labels(&[
            ("traefik.http.routers.Router0.entrypoints", "foobar, fiibar"),
            ("traefik.http.routers.Router0.middlewares", "foobar, fiibar"),
            ("traefik.http.routers.Router0.priority", "42"),
            ("traefik.http.routers.Router0.rule", "foobar"),
            ("traefik.http.routers.Router0.tls", "true"),
            ("traefik.http.routers.Router0.service", "foobar"),
            ("traefik.http.routers.Router1.entrypoints", "foobar, fiibar"),
            ("traefik.http.routers.Router1.rule", "foobar"),
            // Keys of one element merge whatever their case.
            (
                "traefik.http.middlewares.Middleware4.circuitbreaker.expression",
                "NetworkErrorRatio() > 0.5",
            ),
            (
                "traefik.HTTP.Middlewares.Middleware4.circuitbreaker.checkperiod",
                "1s",
            ),
            (
                "traefik.HTTP.Middlewares.Middleware4.circuitbreaker.responsecode",
                "403",
            ),
            (
                "traefik.http.middlewares.Middleware8.headers.customrequestheaders.name0",
                "foobar",
            ),
            (
                "traefik.http.middlewares.Middleware8.headers.customrequestheaders.name1",
                "foobar",
            ),
            // Prefixes start with `/` here (README, `stripprefix.prefixes`).
            (
                "traefik.http.middlewares.Middleware17.stripprefix.prefixes",
                "/foobar, /fiibar",
            ),
            (
                "traefik.http.services.Service0.loadbalancer.healthcheck.headers.name0",
                "foobar",
            ),
            (
                "traefik.http.services.Service0.loadbalancer.healthcheck.interval",
                "1s",
            ),
            (
                "traefik.http.services.Service0.loadbalancer.healthcheck.path",
                "/foobar",
            ),
            (
                "traefik.http.services.Service0.loadbalancer.passhostheader",
                "true",
            ),
            (
                "traefik.http.services.Service0.loadbalancer.responseforwarding.flushinterval",
                "1s",
            ),
            (
                "traefik.http.services.Service0.loadbalancer.server.port",
                "8080",
            ),
            (
                "traefik.http.services.Service0.loadbalancer.sticky.cookie.name",
                "foobar",
            ),
            (
                "traefik.http.services.Service0.loadbalancer.sticky.cookie.secure",
                "true",
            ),
            (
                "traefik.http.services.Service0.loadbalancer.sticky.cookie.path",
                "/foobar",
            ),
            (
                "traefik.http.services.Service0.loadbalancer.sticky.cookie.domain",
                "foo.com",
            ),
            (
                "traefik.http.services.Service0.loadbalancer.serversTransport",
                "foobar",
            ),
            (
                "traefik.http.services.Service1.loadbalancer.server.port",
                "8080",
            ),
            ("traefik.tcp.routers.Router0.rule", "foobar"),
            ("traefik.tcp.routers.Router0.priority", "42"),
            ("traefik.tcp.routers.Router0.entrypoints", "foobar, fiibar"),
            ("traefik.tcp.routers.Router0.service", "foobar"),
            ("traefik.tcp.routers.Router0.tls.passthrough", "false"),
            ("traefik.tcp.routers.Router0.tls.options", "foo"),
            (
                "traefik.tcp.services.Service0.loadbalancer.server.Port",
                "42",
            ),
            (
                "traefik.tcp.services.Service0.loadbalancer.TerminationDelay",
                "42",
            ),
            (
                "traefik.tcp.services.Service0.loadbalancer.proxyProtocol.version",
                "2",
            ),
            (
                "traefik.tcp.services.Service1.loadbalancer.server.Port",
                "42",
            ),
            (
                "traefik.tcp.services.Service1.loadbalancer.proxyProtocol",
                "true",
            ),
            (
                "traefik.tcp.middlewares.Middleware2.inflightconn.amount",
                "42",
            ),
            ("traefik.udp.routers.Router0.entrypoints", "foobar, fiibar"),
            ("traefik.udp.routers.Router0.service", "foobar"),
            (
                "traefik.udp.services.Service0.loadbalancer.server.Port",
                "42",
            ),
        ]),
        "traefik",
    );
    let errors: Vec<String> = d.errors.iter().map(|e| e.error.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let http = &d.config.http;
    let r0 = &http.routers["Router0"];
    assert_eq!(r0.entry_points, ["foobar", "fiibar"]);
    assert_eq!(r0.middlewares, ["foobar", "fiibar"]);
    assert_eq!(
        (r0.priority, r0.rule.as_str(), r0.service.as_str()),
        (42, "foobar", "foobar")
    );
    assert!(r0.tls.is_some());
    assert!(http.routers["Router1"].tls.is_none());
    assert_eq!(
        http.middlewares.keys().collect::<Vec<_>>(),
        ["Middleware17", "Middleware4", "Middleware8"]
    );
    let s0 = &http.services["Service0"].load_balancer;
    assert!(s0.pass_host_header);
    assert_eq!(s0.servers_transport, "foobar");
    let sticky = s0.sticky.as_ref().unwrap();
    assert_eq!(
        (
            sticky.name.as_str(),
            sticky.secure,
            sticky.path.as_str(),
            sticky.domain.as_str()
        ),
        ("foobar", true, "/foobar", "foo.com")
    );
    let hc = s0.health_check.as_ref().unwrap();
    assert_eq!(hc.interval, std::time::Duration::from_secs(1));
    assert_eq!(d.label_servers["Service0"].port, Some(8080));
    assert!(http.services["Service1"].load_balancer.sticky.is_none());
    let tcp = &d.config.tcp;
    let t0 = &tcp.routers["Router0"];
    assert_eq!(t0.entry_points, ["foobar", "fiibar"]);
    assert_eq!(t0.priority, 42);
    let tls = t0.tls.as_ref().unwrap();
    assert_eq!((tls.passthrough, tls.options.as_str()), (false, "foo"));
    let TcpService::LoadBalancer(lb0) = &tcp.services["Service0"] else {
        panic!("{:?}", tcp.services)
    };
    assert_eq!(
        (lb0.termination_delay, lb0.proxy_protocol),
        (Some(42), Some(2))
    );
    let TcpService::LoadBalancer(lb1) = &tcp.services["Service1"] else {
        panic!("{:?}", tcp.services)
    };
    // `proxyProtocol=true`: Traefik's default version, 2.
    assert_eq!(lb1.proxy_protocol, Some(2));
    assert_eq!(d.tcp_label_servers["Service0"].port, Some(42));
    assert!(tcp.middlewares.contains_key("Middleware2"));
    let udp = &d.config.udp;
    assert_eq!(udp.routers["Router0"].entry_points, ["foobar", "fiibar"]);
    assert_eq!(d.udp_label_ports["Service0"], 42);
}

/// `TestDecodeConfiguration`'s Service1: `sticky=false` beside `sticky.cookie.name=fui` is a
/// service without sticky sessions (paerser: a section that may be empty, given a value other
/// than `true`, is off whatever is under it).
#[test]
fn a_section_set_to_false() {
    let sticky = "traefik.http.services.Service1.loadbalancer.sticky";
    let name = "traefik.http.services.Service1.loadbalancer.sticky.cookie.name";
    let off = [
        "http router Test: Host(`Test.traefik.wtf`) -> Service1",
        "http service Service1: http://127.0.0.1:80",
    ];
    let snap = |labels: &[(&str, &str)]| snapshot(&[c("Test").labels(labels).0], &settings(WTF));
    run(vec![
        case(
            "label: sticky=false and sticky.cookie.name (sticky off)",
            vec![c("Test").labels(&[(sticky, "false"), (name, "fui")])],
            &off,
            false,
        ),
        case(
            "label: Sticky.cookie.name then sticky=false (sorted first; sticky off)",
            vec![c("Test").labels(&[
                (sticky, "false"),
                (
                    "traefik.http.services.Service1.loadbalancer.Sticky.cookie.name",
                    "fui",
                ),
            ])],
            &off,
            false,
        ),
        case(
            "label: sticky=false alone (sticky off)",
            vec![c("Test").labels(&[(sticky, "false")])],
            &off,
            false,
        ),
        // RouterTLSConfig may be empty too: `tls=false` turns TLS off, its keys ignored.
        case(
            "label: tls=false and tls.certresolver (TLS off)",
            vec![c("Test").labels(&[
                ("traefik.http.routers.r.rule", "Host(`a`)"),
                ("traefik.http.routers.r.tls", "false"),
                ("traefik.http.routers.r.tls.certresolver", "le"),
            ])],
            &[
                "http router r: Host(`a`) -> Test",
                "http service Test: http://127.0.0.1:80",
            ],
            false,
        ),
    ]);
    for labels in [
        &[(sticky, "false"), (name, "fui")][..],
        &[(sticky, "false")][..],
    ] {
        let s = snap(labels);
        assert!(
            s.config.http.services["Service1"]
                .load_balancer
                .sticky
                .is_none(),
            "{labels:?}"
        );
    }
    // A value other than a boolean beside keys stays an error of the container.
    assert!(snap(&[(sticky, "maybe"), (name, "fui")])
        .config
        .http
        .services
        .is_empty());
}
