//! Traefik's test tables for merging one provider's configurations, translated into cases
//! here. Traefik's Docker (and Swarm, ECS, Consul, Nomad) provider builds one configuration
//! per container and merges them: a name defined once is kept, identical definitions are one,
//! a service's servers are put together (once per URL or address) when the rest of its load
//! balancer is the same, and anything else of the same name is removed, with an error. Here a
//! Traefik "configuration" is a container and its labels, and the merged configuration is the
//! provider's snapshot. A directory of files is merged too, but keeping the first definition
//! of a name (Traefik's `ResourceStrategySkipDuplicates`): the TLS rows are read that way.
//!
//! Sources (Traefik's repository): `pkg/provider/merge_test.go` — `TestMerge` and the
//! `TestMergeCollectionSet_*` tests (generic maps of resources: here routers, services and
//! middlewares of HTTP, TCP and UDP) — with `pkg/provider/merge.go` and the `Merge` methods of
//! `pkg/config/dynamic` (`Service`, `ServersLoadBalancer`, `TCPService`, `UDPService`), which
//! `TestMerge` covers for HTTP only: the TCP and UDP cases follow the same methods.
//!
//! Where the router differs on purpose, the case states the router's result and names the
//! README passage that says so.

use std::path::PathBuf;

use super::container::{snapshot, ContainerInfo, ContainerSettings, Health, RunState};
use super::file::{self, Parsed};
use crate::dynamic::tcp::TcpService;
use crate::dynamic::udp::UdpService;
use crate::dynamic::{ServerStatus, Snapshot};
use crate::tree::Node;

/// A container of a Traefik "configuration": named after it, at `ip`, port 80, running.
fn c(name: &str, ip: &str, labels: &[(&str, &str)]) -> ContainerInfo {
    ContainerInfo {
        id: format!("{name}-id"),
        name: name.into(),
        labels: labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        state: RunState::Running,
        health: Health::None,
        networks: [("bridge".to_owned(), Some(ip.parse().unwrap()))].into(),
        bindings: Default::default(),
        network_mode: "bridge".into(),
        exposed_ports: [80].into(),
    }
}

/// Traefik's rows name their configurations `provider1` and `provider2`.
fn two(a: &[(&str, &str)], b: &[(&str, &str)]) -> Vec<ContainerInfo> {
    vec![c("provider1", "10.0.0.1", a), c("provider2", "10.0.0.2", b)]
}

/// One translated row.
struct Case {
    /// `<Traefik test>: <its row's desc>`.
    from: &'static str,
    containers: Vec<ContainerInfo>,
    /// The snapshot, as [`view`] writes it.
    want: &'static [&'static str],
    /// The containers an error is reported on (a conflict names each that defines it).
    errors: &'static [&'static str],
}

/// One line per element: `http router <name>: <rule> -> <service>`, `http service <name>:
/// <server urls>` (` w=<n>` for a weight other than 1, ` !<status>` for a server not ready),
/// `http middleware <name>`, and the same for TCP (`tcp service`: addresses,
/// `+tls` on a TLS server) and UDP.
fn view(s: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    let http = &s.config.http;
    for (n, r) in &http.routers {
        out.push(format!("http router {n}: {} -> {}", r.rule, r.service));
    }
    for (n, svc) in &http.services {
        let urls: Vec<String> = svc
            .load_balancer
            .servers
            .iter()
            .map(|s| {
                let mut l = s.url.clone();
                if s.weight != 1 {
                    l += &format!(" w={}", s.weight);
                }
                if s.status != ServerStatus::Ready {
                    l += &format!(" !{:?}", s.status);
                }
                l
            })
            .collect();
        out.push(format!("http service {n}: {}", urls.join(",")));
    }
    for n in http.middlewares.keys() {
        out.push(format!("http middleware {n}"));
    }
    let tcp = &s.config.tcp;
    for (n, r) in &tcp.routers {
        out.push(format!("tcp router {n}: {} -> {}", r.rule, r.service));
    }
    for (n, svc) in &tcp.services {
        let addrs: Vec<String> = match svc {
            TcpService::LoadBalancer(lb) => lb
                .servers
                .iter()
                .map(|s| format!("{}{}", s.address, if s.tls { "+tls" } else { "" }))
                .collect(),
            TcpService::Weighted(_) => vec!["weighted".into()],
        };
        out.push(format!("tcp service {n}: {}", addrs.join(",")));
    }
    for n in tcp.middlewares.keys() {
        out.push(format!("tcp middleware {n}"));
    }
    let udp = &s.config.udp;
    for (n, r) in &udp.routers {
        out.push(format!("udp router {n}: -> {}", r.service));
    }
    for (n, svc) in &udp.services {
        let addrs = match svc {
            UdpService::LoadBalancer(a) => a.join(","),
            UdpService::Weighted(_) => "weighted".into(),
        };
        out.push(format!("udp service {n}: {addrs}"));
    }
    out
}

/// Traefik's rows merge configurations without routers; here, as in Traefik's Docker
/// provider, a container without router labels gets one named after the container (not after
/// its services) with the default rule, which is the same on each container here (not the
/// container's name), so that rows about services are not about routers too.
fn settings() -> ContainerSettings {
    ContainerSettings {
        default_rule: "Host(`example.com`)".into(),
        ..ContainerSettings::traefik_defaults("docker")
    }
}

fn run(cases: Vec<Case>) {
    let mut failed = Vec::new();
    for case in &cases {
        let snap = snapshot(&case.containers, &settings());
        let got = view(&snap);
        let mut errors: Vec<&str> = snap
            .issues
            .iter()
            .filter(|i| i.level == "error")
            .map(|i| i.source.as_str())
            .collect();
        errors.dedup();
        if got != case.want || errors != case.errors {
            failed.push(format!(
                "{}\n  want {:#?} (errors on {:?})\n  got  {got:#?} (errors on {errors:?})\n  issues {:#?}",
                case.from, case.want, case.errors, snap.issues
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

const R1: &str = "traefik.http.routers.router1.rule";
const R1_SVC: &str = "traefik.http.routers.router1.service";
const R2: &str = "traefik.http.routers.router2.rule";
const R2_SVC: &str = "traefik.http.routers.router2.service";
const URL: &str = "traefik.http.services.service1.loadbalancer.server.url";
const WEIGHT: &str = "traefik.http.services.service1.loadbalancer.server.weight";
const PHH: &str = "traefik.http.services.service1.loadbalancer.passhostheader";
const HC_PATH: &str = "traefik.http.services.service1.loadbalancer.healthcheck.path";

// === TestMerge (HTTP rows, and the nil and empty ones) ===

#[test]
fn merge_http() {
    run(vec![
        Case {
            from: "TestMerge: HTTP routers: multiple providers different routers",
            containers: two(
                &[(R1, "Host(`example1.com`)"), (R1_SVC, "noop@internal")],
                &[(R2, "Host(`example2.com`)"), (R2_SVC, "noop@internal")],
            ),
            want: &[
                "http router router1: Host(`example1.com`) -> noop@internal",
                "http router router2: Host(`example2.com`) -> noop@internal",
                "http service provider1: http://10.0.0.1:80",
                "http service provider2: http://10.0.0.2:80",
            ],
            errors: &[],
        },
        Case {
            from: "TestMerge: HTTP routers: conflict multiple providers same router different config",
            containers: two(
                &[(R1, "Host(`example1.com`)"), (R1_SVC, "noop@internal")],
                &[(R1, "Host(`example2.com`)"), (R1_SVC, "noop@internal")],
            ),
            want: &[
                "http service provider1: http://10.0.0.1:80",
                "http service provider2: http://10.0.0.2:80",
            ],
            errors: &["provider1", "provider2"],
        },
        Case {
            from: "TestMerge: HTTP services: multiple providers same service servers merged",
            containers: two(&[(URL, "http://server1:80")], &[(URL, "http://server2:80")]),
            want: &[
                "http router provider1: Host(`example.com`) -> service1",
                "http router provider2: Host(`example.com`) -> service1",
                "http service service1: http://server1:80,http://server2:80",
            ],
            errors: &[],
        },
        Case {
            from: "TestMerge: HTTP services: multiple providers same service duplicate servers deduplicated",
            containers: two(&[(URL, "http://server1:80")], &[(URL, "http://server1:80")]),
            want: &[
                "http router provider1: Host(`example.com`) -> service1",
                "http router provider2: Host(`example.com`) -> service1",
                "http service service1: http://server1:80",
            ],
            errors: &[],
        },
        // Servers are told apart by URL alone (`ServersLoadBalancer.Merge`): the first
        // configuration's server is kept with its weight.
        Case {
            from: "ServersLoadBalancer.Merge: same URL with another weight kept once, the first",
            containers: two(
                &[(URL, "http://server1:80"), (WEIGHT, "3")],
                &[(URL, "http://server1:80"), (WEIGHT, "1")],
            ),
            want: &[
                "http router provider1: Host(`example.com`) -> service1",
                "http router provider2: Host(`example.com`) -> service1",
                "http service service1: http://server1:80 w=3",
            ],
            errors: &[],
        },
        // A stopped container gives Traefik no server: the running one's is the URL's server
        // (here a stopped container's server stays known, not ready:
        // README, "Backends and balancing": "it stays a backend, stopped").
        Case {
            from: "ServersLoadBalancer.Merge: same URL, the first container stopped",
            containers: {
                let mut cs = two(
                    &[(URL, "http://server1:80"), (WEIGHT, "3")],
                    &[(URL, "http://server1:80"), (WEIGHT, "2")],
                );
                cs[0].state = RunState::Stopped;
                cs
            },
            want: &[
                "http router provider1: Host(`example.com`) -> service1",
                "http router provider2: Host(`example.com`) -> service1",
                "http service service1: http://server1:80 w=2",
            ],
            errors: &[],
        },
        // `Service.Merge` compares the whole load balancer but its servers: a health check
        // given differently is a conflict, and the service is removed.
        Case {
            from: "ServersLoadBalancer.Merge: same service, different health check (removed)",
            containers: two(
                &[(URL, "http://server1:80"), (HC_PATH, "/a")],
                &[(URL, "http://server2:80"), (HC_PATH, "/b")],
            ),
            want: &[
                "http router provider1: Host(`example.com`) -> service1",
                "http router provider2: Host(`example.com`) -> service1",
            ],
            errors: &["provider1", "provider2"],
        },
        Case {
            from: "TestMerge: nil configuration from one provider",
            containers: two(
                &[(R1, "Host(`example.com`)"), (R1_SVC, "noop@internal")],
                &[("traefik.enable", "false")],
            ),
            want: &[
                "http router router1: Host(`example.com`) -> noop@internal",
                "http service provider1: http://10.0.0.1:80",
            ],
            errors: &[],
        },
        Case {
            from: "TestMerge: empty configurations",
            containers: vec![],
            want: &[],
            errors: &[],
        },
    ]);
}

// === TestMergeCollectionSet_*: maps of resources, with and without a Merge method ===

#[test]
fn merge_collection_sets() {
    let mw = "traefik.http.middlewares.res1.inflightreq.amount";
    run(vec![
        Case {
            from: "TestMergeCollectionSet_BasicMapMerge: a name of each kept",
            containers: two(
                &[("traefik.http.middlewares.existing.inflightreq.amount", "1")],
                &[("traefik.http.middlewares.new.inflightreq.amount", "2")],
            ),
            want: &[
                "http router provider1: Host(`example.com`) -> provider1",
                "http router provider2: Host(`example.com`) -> provider2",
                "http service provider1: http://10.0.0.1:80",
                "http service provider2: http://10.0.0.2:80",
                "http middleware existing",
                "http middleware new",
            ],
            errors: &[],
        },
        // Traefik's embedded struct stands for a configuration's several maps: each is merged.
        Case {
            from: "TestMergeCollectionSet_EmbeddedStruct: every map merged",
            containers: two(
                &[
                    ("traefik.http.middlewares.item1.inflightreq.amount", "1"),
                    ("traefik.tcp.middlewares.embedded1.inflightconn.amount", "1"),
                ],
                &[
                    ("traefik.http.middlewares.item2.inflightreq.amount", "2"),
                    ("traefik.tcp.middlewares.embedded2.inflightconn.amount", "2"),
                ],
            ),
            want: &[
                "http router provider1: Host(`example.com`) -> provider1",
                "http router provider2: Host(`example.com`) -> provider2",
                "http service provider1: http://10.0.0.1:80",
                "http service provider2: http://10.0.0.2:80",
                "http middleware item1",
                "http middleware item2",
                "tcp middleware embedded1",
                "tcp middleware embedded2",
            ],
            errors: &[],
        },
        Case {
            from: "TestMergeCollectionSet_MergeableInterface: same config, servers appended",
            containers: two(
                &[(URL, "http://server1:80"), (PHH, "false")],
                &[(URL, "http://server2:80"), (PHH, "false")],
            ),
            want: &[
                "http router provider1: Host(`example.com`) -> service1",
                "http router provider2: Host(`example.com`) -> service1",
                "http service service1: http://server1:80,http://server2:80",
            ],
            errors: &[],
        },
        Case {
            from: "TestMergeCollectionSet_MergeableConflict: other config, removed",
            containers: two(
                &[(URL, "http://server1:80"), (PHH, "true")],
                &[(URL, "http://server2:80"), (PHH, "false")],
            ),
            want: &[
                "http router provider1: Host(`example.com`) -> service1",
                "http router provider2: Host(`example.com`) -> service1",
            ],
            errors: &["provider1", "provider2"],
        },
        Case {
            from: "TestMergeCollectionSet_DeepEqualFallback: identical, one kept",
            containers: two(&[(mw, "5")], &[(mw, "5")]),
            want: &[
                "http router provider1: Host(`example.com`) -> provider1",
                "http router provider2: Host(`example.com`) -> provider2",
                "http service provider1: http://10.0.0.1:80",
                "http service provider2: http://10.0.0.2:80",
                "http middleware res1",
            ],
            errors: &[],
        },
        Case {
            from: "TestMergeCollectionSet_DeepEqualConflict: different, removed",
            containers: two(&[(mw, "5")], &[(mw, "6")]),
            want: &[
                "http router provider1: Host(`example.com`) -> provider1",
                "http router provider2: Host(`example.com`) -> provider2",
                "http service provider1: http://10.0.0.1:80",
                "http service provider2: http://10.0.0.2:80",
            ],
            errors: &["provider1", "provider2"],
        },
    ]);
}

// === The same merge for TCP and UDP (TCPService.Merge, UDPService.Merge) ===

#[test]
fn merge_tcp_and_udp() {
    let tr = "traefik.tcp.routers.router1.rule";
    let tr_svc = "traefik.tcp.routers.router1.service";
    let tport = "traefik.tcp.services.service1.loadbalancer.server.port";
    let ttls = "traefik.tcp.services.service1.loadbalancer.server.tls";
    let tpp = "traefik.tcp.services.service1.loadbalancer.proxyprotocol.version";
    let ur_ep = "traefik.udp.routers.router1.entrypoints";
    let ur_svc = "traefik.udp.routers.router1.service";
    let uport = "traefik.udp.services.service1.loadbalancer.server.port";
    let tcp = |a: &[(&'static str, &'static str)], b: &[(&'static str, &'static str)]| {
        let mut a = a.to_vec();
        let mut b = b.to_vec();
        for l in [&mut a, &mut b] {
            l.push((tr, "HostSNI(`*`)"));
            l.push((tr_svc, "service1"));
        }
        two(&a, &b)
    };
    // Two containers at one address (as with `network_mode: container:<id>`).
    let same_ip = |a: &[(&str, &str)], b: &[(&str, &str)]| {
        vec![c("provider1", "10.0.0.1", a), c("provider2", "10.0.0.1", b)]
    };
    run(vec![
        Case {
            from: "TCP routers: multiple providers different routers",
            containers: two(
                &[
                    (tr, "HostSNI(`a`)"),
                    (tr_svc, "s@file"),
                    ("traefik.tcp.routers.router1.tls", "true"),
                ],
                &[
                    ("traefik.tcp.routers.router2.rule", "HostSNI(`b`)"),
                    ("traefik.tcp.routers.router2.service", "s@file"),
                    ("traefik.tcp.routers.router2.tls", "true"),
                ],
            ),
            want: &[
                "tcp router router1: HostSNI(`a`) -> s@file",
                "tcp router router2: HostSNI(`b`) -> s@file",
                "tcp service provider1: 10.0.0.1:80",
                "tcp service provider2: 10.0.0.2:80",
            ],
            errors: &[],
        },
        Case {
            from: "TCP routers: conflict multiple providers same router different config",
            containers: two(
                &[
                    (tr, "HostSNI(`a`)"),
                    (tr_svc, "s@file"),
                    ("traefik.tcp.routers.router1.tls", "true"),
                ],
                &[
                    (tr, "HostSNI(`b`)"),
                    (tr_svc, "s@file"),
                    ("traefik.tcp.routers.router1.tls", "true"),
                ],
            ),
            want: &[
                "tcp service provider1: 10.0.0.1:80",
                "tcp service provider2: 10.0.0.2:80",
            ],
            errors: &["provider1", "provider2"],
        },
        Case {
            from: "TCP services: multiple providers same service servers merged",
            containers: tcp(&[(tport, "8080")], &[(tport, "8080")]),
            want: &[
                "tcp router router1: HostSNI(`*`) -> service1",
                "tcp service service1: 10.0.0.1:8080,10.0.0.2:8080",
            ],
            errors: &[],
        },
        Case {
            from: "TCP services: multiple providers same service duplicate servers deduplicated",
            containers: same_ip(
                &[(tr, "HostSNI(`*`)"), (tr_svc, "service1"), (tport, "8080")],
                &[(tr, "HostSNI(`*`)"), (tr_svc, "service1"), (tport, "8080")],
            ),
            want: &[
                "tcp router router1: HostSNI(`*`) -> service1",
                "tcp service service1: 10.0.0.1:8080",
            ],
            errors: &[],
        },
        // `TCPServersLoadBalancer.Merge` tells servers apart by address alone: the first
        // configuration's server is kept, with its `tls`.
        Case {
            from: "TCPServersLoadBalancer.Merge: same address with tls on one kept once, the first",
            containers: same_ip(
                &[
                    (tr, "HostSNI(`*`)"),
                    (tr_svc, "service1"),
                    (tport, "8080"),
                    (ttls, "true"),
                ],
                &[(tr, "HostSNI(`*`)"), (tr_svc, "service1"), (tport, "8080")],
            ),
            want: &[
                "tcp router router1: HostSNI(`*`) -> service1",
                "tcp service service1: 10.0.0.1:8080+tls",
            ],
            errors: &[],
        },
        Case {
            from: "TCP services: same service different config (removed)",
            containers: tcp(
                &[(tport, "8080"), (tpp, "1")],
                &[(tport, "8080"), (tpp, "2")],
            ),
            want: &["tcp router router1: HostSNI(`*`) -> service1"],
            errors: &["provider1", "provider2"],
        },
        Case {
            from: "TCP middlewares: identical kept once, different removed",
            containers: two(
                &[
                    ("traefik.tcp.middlewares.same.inflightconn.amount", "1"),
                    ("traefik.tcp.middlewares.other.inflightconn.amount", "1"),
                ],
                &[
                    ("traefik.tcp.middlewares.same.inflightconn.amount", "1"),
                    ("traefik.tcp.middlewares.other.inflightconn.amount", "2"),
                ],
            ),
            want: &[
                "http router provider1: Host(`example.com`) -> provider1",
                "http router provider2: Host(`example.com`) -> provider2",
                "http service provider1: http://10.0.0.1:80",
                "http service provider2: http://10.0.0.2:80",
                "tcp middleware same",
            ],
            errors: &["provider1", "provider2"],
        },
        Case {
            from: "UDP services: multiple providers same service servers merged",
            containers: two(
                &[(ur_ep, "dns"), (ur_svc, "service1"), (uport, "53")],
                &[(ur_ep, "dns"), (ur_svc, "service1"), (uport, "53")],
            ),
            want: &[
                "udp router router1: -> service1",
                "udp service service1: 10.0.0.1:53,10.0.0.2:53",
            ],
            errors: &[],
        },
        Case {
            from: "UDP services: multiple providers same service duplicate servers deduplicated",
            containers: same_ip(
                &[(ur_ep, "dns"), (ur_svc, "service1"), (uport, "53")],
                &[(ur_ep, "dns"), (ur_svc, "service1"), (uport, "53")],
            ),
            want: &[
                "udp router router1: -> service1",
                "udp service service1: 10.0.0.1:53",
            ],
            errors: &[],
        },
        Case {
            from: "UDP routers: conflict multiple providers same router different config",
            containers: two(
                &[(ur_ep, "dns"), (ur_svc, "service1"), (uport, "53")],
                &[(ur_ep, "other"), (ur_svc, "service1"), (uport, "53")],
            ),
            want: &["udp service service1: 10.0.0.1:53,10.0.0.2:53"],
            errors: &["provider1", "provider2"],
        },
    ]);
}

// === TestMerge (TLS rows): certificates of a directory's files ===

/// A file of the file provider's directory.
fn parsed(path: &str, yaml: &str) -> Parsed {
    Parsed {
        path: PathBuf::from(path),
        root: Node::from_yaml(yaml, "").unwrap(),
    }
}

fn certificate(cert: &str, key: &str, stores: &str) -> String {
    format!("tls:\n  certificates:\n    - certFile: {cert}\n      keyFile: {key}\n      stores: {stores}\n")
}

/// Traefik merges certificates only in its merge of several configurations: the container
/// providers carry none (`tls` is not read from labels; README, "Not supported":
/// `traefik.tls.*`), so the rows of `ResourceStrategyMerge` stand here for what a directory
/// of files does, which is Traefik's `ResourceStrategySkipDuplicates`: a certificate given
/// again is kept once, the first. Stores other than `default` are not supported here (README,
/// file provider: "`stores` only `default`"): the rows' `store1`, `store2` are `default`, and
/// one row shows a certificate for `store1` left out, reported as unsupported.
#[test]
fn merge_certificates_of_files() {
    struct Row {
        from: &'static str,
        files: Vec<Parsed>,
        /// The certificates kept, `cert:key` each.
        want: &'static [&'static str],
        /// Warnings (a definition skipped) and errors, as `level: source`.
        issues: &'static [&'static str],
    }
    let rows = vec![
        Row {
            from: "TestMerge: TLS certificates: different certificates both kept",
            files: vec![
                parsed("a.yml", &certificate("cert1.pem", "key1.pem", "[default]")),
                parsed("b.yml", &certificate("cert2.pem", "key2.pem", "[default]")),
            ],
            want: &["cert1.pem:key1.pem", "cert2.pem:key2.pem"],
            issues: &[],
        },
        Row {
            from: "TestMerge: TLS certificates: same certificate stores merged with ResourceStrategyMerge (stores: default only)",
            files: vec![
                parsed("a.yml", &certificate("cert.pem", "key.pem", "[default]")),
                parsed("b.yml", &certificate("cert.pem", "key.pem", "[default]")),
            ],
            want: &["cert.pem:key.pem"],
            issues: &["warning: b.yml"],
        },
        Row {
            from: "TestMerge: TLS certificates: same certificate overlapping stores deduplicated (stores: default only)",
            files: vec![
                parsed("a.yml", &certificate("cert.pem", "key.pem", "[default]")),
                parsed("b.yml", &certificate("cert.pem", "key.pem", "[]")),
            ],
            want: &["cert.pem:key.pem"],
            issues: &["warning: b.yml"],
        },
        Row {
            from: "TestMerge: TLS certificates: same certificate stores not merged with ResourceStrategySkipDuplicates",
            files: vec![
                parsed("a.yml", &certificate("cert.pem", "key.pem", "[default]")),
                parsed("b.yml", &certificate("cert.pem", "key.pem", "[default]")),
            ],
            want: &["cert.pem:key.pem"],
            issues: &["warning: b.yml"],
        },
        Row {
            from: "TestMerge: TLS certificates: store1 (not default: not supported here)",
            files: vec![parsed("a.yml", &certificate("cert.pem", "key.pem", "[store1]"))],
            want: &[],
            issues: &["unsupported: a.yml"],
        },
    ];
    let mut failed = Vec::new();
    for row in &rows {
        let snap = file::snapshot(&row.files);
        let got: Vec<String> = snap
            .config
            .tls
            .certificates
            .iter()
            .map(|c| format!("{}:{}", c.cert_file, c.key_file))
            .collect();
        let issues: Vec<String> = snap
            .issues
            .iter()
            .map(|i| format!("{}: {}", i.level, i.source))
            .collect();
        if got != row.want || issues != row.issues {
            failed.push(format!(
                "{}\n  want {:?} {:?}\n  got  {got:?} {issues:?}\n  {:#?}",
                row.from, row.want, row.issues, snap.issues
            ));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
