//! Property tests of the pure model: no panic on any label, rule or file; rules print and
//! parse back to the same rule; the same containers in any order give the same table; the
//! providers' snapshots in any order give the same table, references resolved the same.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use proptest::prelude::*;
use router::dynamic::decode::{decode, Source};
use router::dynamic::Snapshot;
use router::model::compile::{compile, compile_for_service, CompileSettings, EntryPointModel};
use router::model::rule::{Rule, Syntax};
use router::model::table::RouteTable;
use router::provider::container::{self, ContainerInfo, ContainerSettings, Health, RunState};
use router::tree::Node;

fn settings() -> ContainerSettings {
    ContainerSettings {
        provider: "docker".into(),
        prefix: "traefik".into(),
        exposed_by_default: true,
        default_network: None,
        own_networks: BTreeSet::new(),
        host_ip: "127.0.0.1".parse().unwrap(),
        use_bind_port_ip: false,
        default_rule: "Host(`{{ normalize .Name }}`)".into(),
        constraints: None,
    }
}

fn entry_points() -> CompileSettings {
    let ep = |name: &str, tls: bool| EntryPointModel {
        name: name.into(),
        default: true,
        tls: tls.then(Default::default),
        ..Default::default()
    };
    CompileSettings {
        entry_points: vec![ep("web", false), ep("websecure", true)],
        ..Default::default()
    }
}

fn build(cs: &[ContainerInfo], s: &ContainerSettings) -> RouteTable {
    compile([&container::snapshot(cs, s)], &entry_points())
}

/// A small dynamic file: services and middlewares the labels may reference as `@file`.
fn file_snapshot(yaml: &str) -> Snapshot {
    let node = Node::from_yaml(yaml, "").unwrap();
    Snapshot {
        provider: "file".into(),
        config: decode(&node, Source::File).config,
        issues: Vec::new(),
        broken: Vec::new(),
    }
}

fn label_key() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "traefik.enable",
        "traefik.http.routers.r.rule",
        "traefik.http.routers.r.service",
        "traefik.http.routers.r.middlewares",
        "traefik.http.routers.q.middlewares",
        "traefik.http.routers.q.service",
        "traefik.http.routers.r.priority",
        "traefik.http.routers.r.entrypoints",
        "traefik.http.routers.q.rule",
        "traefik.http.services.s.loadbalancer.server.port",
        "traefik.http.services.s.loadbalancer.healthcheck.path",
        "traefik.http.middlewares.m.stripprefix.prefixes",
        "traefik.http.middlewares.m.headers.customrequestheaders.X-A",
        "traefik.http.middlewares.m.ratelimit.average",
        "traefik.http.middlewares.n.basicauth.users",
        "traefik.docker.network",
        "traefik.tcp.routers.t.rule",
    ])
    .prop_map(str::to_owned)
}

fn label_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,24}",
        Just("Host(`a.test`) && PathPrefix(`/x`)".to_owned()),
        Just("8080".to_owned()),
        Just("s".to_owned()),
        Just("m".to_owned()),
        Just("m@file".to_owned()),
        Just("f@file".to_owned()),
        Just("auth@file,m".to_owned()),
        Just("true".to_owned()),
        Just("/api".to_owned()),
    ]
}

fn container() -> impl Strategy<Value = ContainerInfo> {
    (
        "[a-z]{1,6}",
        prop::collection::btree_map(label_key(), label_value(), 0..8),
        0u8..4,
        any::<bool>(),
    )
        .prop_map(|(name, labels, ip, running)| ContainerInfo {
            id: format!("{name}-id"),
            name,
            labels,
            state: if running {
                RunState::Running
            } else {
                RunState::Stopped
            },
            health: Health::None,
            networks: [(
                "net".to_owned(),
                Some(format!("172.18.0.{}", ip + 2).parse().unwrap()),
            )]
            .into_iter()
            .collect(),
            bindings: Default::default(),
            network_mode: "bridge".into(),
            exposed_ports: [8080].into_iter().collect(),
        })
}

/// Edit `what` of a random sequence: 0 replaces container `i` (modulo their number) with `c`,
/// 1 removes it; `c` is given back for any other edit (or when there is none to edit).
fn edit(
    cs: &mut Vec<ContainerInfo>,
    i: usize,
    c: ContainerInfo,
    what: u8,
) -> Option<ContainerInfo> {
    match what {
        0 if !cs.is_empty() => {
            let n = cs.len();
            cs[i % n] = c;
            None
        }
        1 if !cs.is_empty() => {
            let n = cs.len();
            cs.remove(i % n);
            None
        }
        _ => Some(c),
    }
}

/// A container that is routed (most of the time): its own router with a rule, priority,
/// middlewares (the file's, or one of its own with settings that change) and port picked
/// from a few, so that successive tables differ in one part of one route at a time.
fn routed_container() -> impl Strategy<Value = ContainerInfo> {
    (
        container(),
        prop::sample::select(vec!["a", "b", "c", "d"]),
        prop::option::of(prop::sample::select(vec![
            "m@file",
            "auth@file",
            "auth@file,m@file",
            "own",
            // Twice (a warning); a chain with a member that does not exist (disabled).
            "m@file,m@file",
            "both@file",
        ])),
        prop::option::of(0u8..3),
        prop::option::of(prop::sample::select(vec![
            "Host(`x.test`)",
            "PathPrefix(`/p`)",
            "Host(`x.test`) && PathPrefix(`/p`)",
        ])),
        prop::sample::select(vec!["80", "8080"]),
        prop::sample::select(vec!["/a", "/b"]),
        prop::option::of(prop::sample::select(vec![
            "web",
            "websecure",
            "web,websecure",
            // One that does not exist (a warning).
            "web,nope",
        ])),
    )
        .prop_map(|(mut c, name, mws, priority, rule, port, prefix, eps)| {
            c.name = name.to_owned();
            c.id = format!("{name}-id");
            let mut l = BTreeMap::new();
            let key = |k: &str| format!("traefik.http.{k}");
            l.insert(key("services.s.loadbalancer.server.port"), port.to_owned());
            l.insert(
                key("middlewares.own.stripprefix.prefixes"),
                prefix.to_owned(),
            );
            if let Some(m) = mws {
                l.insert(key(&format!("routers.{name}.middlewares")), m.to_owned());
            }
            if let Some(p) = priority {
                l.insert(key(&format!("routers.{name}.priority")), p.to_string());
            }
            if let Some(r) = rule {
                l.insert(key(&format!("routers.{name}.rule")), r.to_owned());
            }
            if let Some(e) = eps {
                l.insert(key(&format!("routers.{name}.entrypoints")), e.to_owned());
            }
            c.labels = l;
            c
        })
}

/// A container of the common kind: its own router (a rule from a few, some with a host
/// regex, a priority, entry points, TLS or not, the file's middlewares, one of its own or
/// none) and its own service, or the default ones; names from a few, so that edits replace,
/// add and remove.
fn plain_container() -> impl Strategy<Value = ContainerInfo> {
    (
        container(),
        prop::sample::select(vec!["a", "b", "c", "d", "e", "f"]),
        prop::option::of(prop::sample::select(vec![
            "Host(`x.test`)",
            "Host(`y.test`)",
            "PathPrefix(`/p`)",
            "Host(`x.test`) && PathPrefix(`/p`)",
            "HostRegexp(`^[a-z]+\\.test$`)",
            "HostRegexp(`^[a-c]$`)",
            "Host(`x.test`) || Host(`z.test`)",
        ])),
        prop::option::of(0u8..3),
        prop::option::of(prop::sample::select(vec!["m@file", "auth@file,m@file"])),
        prop::option::of(prop::sample::select(vec![
            "web",
            "websecure",
            "web,websecure",
        ])),
        prop::option::of(prop::sample::select(vec!["true", "false"])),
        (
            any::<bool>(),
            prop::sample::select(vec!["80", "8080"]),
            // A middleware of its own (a name others share, sometimes), used or not.
            prop::option::of((
                prop::sample::select(vec!["own", "shared"]),
                prop::sample::select(vec!["/a", "/b"]),
                any::<bool>(),
            )),
        ),
    )
        .prop_map(
            |(mut c, name, rule, priority, mws, eps, tls, (own, port, mw))| {
                c.name = name.to_owned();
                c.id = format!("{name}-id");
                let mut l = BTreeMap::new();
                let key = |k: &str| format!("traefik.http.{k}");
                if own {
                    l.insert(
                        key(&format!("services.{name}s.loadbalancer.server.port")),
                        port.to_owned(),
                    );
                    // Health checked on one port of the two: services with a check come
                    // and go as containers change.
                    if port == "8080" {
                        l.insert(
                            key(&format!("services.{name}s.loadbalancer.healthcheck.path")),
                            "/health".to_owned(),
                        );
                    }
                }
                if let Some(r) = rule {
                    l.insert(key(&format!("routers.{name}.rule")), r.to_owned());
                }
                if let Some(p) = priority {
                    l.insert(key(&format!("routers.{name}.priority")), p.to_string());
                }
                let mut used: Vec<String> = mws.map(str::to_owned).into_iter().collect();
                if let Some((which, prefix, use_it)) = mw {
                    let m = match which {
                        "own" => format!("{name}m"),
                        _ => which.to_owned(),
                    };
                    l.insert(
                        key(&format!("middlewares.{m}.addprefix.prefix")),
                        prefix.to_owned(),
                    );
                    if use_it {
                        used.push(m);
                    }
                }
                if !used.is_empty() {
                    l.insert(key(&format!("routers.{name}.middlewares")), used.join(","));
                }
                if let Some(e) = eps {
                    l.insert(key(&format!("routers.{name}.entrypoints")), e.to_owned());
                }
                if let Some(t) = tls {
                    l.insert(key(&format!("routers.{name}.tls")), t.to_owned());
                }
                c.labels = l;
                c
            },
        )
}

/// The table for service after `prev` from these containers beside `file`, patched or not,
/// checked against the whole compile: the same description, issues, TLS options by SNI and
/// answers to requests, and the comparison with `prev` finds what the descriptions differ by.
/// A running container `name` (id `<name>-id`) on network `net` at `ip`, exposing 8080.
fn running(name: String, labels: BTreeMap<String, String>, ip: &str) -> ContainerInfo {
    ContainerInfo {
        id: format!("{name}-id"),
        name,
        labels,
        state: RunState::Running,
        health: Health::None,
        networks: [("net".to_owned(), Some(ip.parse().unwrap()))]
            .into_iter()
            .collect(),
        bindings: Default::default(),
        network_mode: "bridge".into(),
        exposed_ports: [8080].into_iter().collect(),
    }
}

/// A GET of `path` on `host` from 10.0.0.1.
fn get<'a>(
    host: &'a str,
    path: &'a str,
    headers: &'a http::HeaderMap,
) -> router::model::rule::RequestView<'a> {
    router::model::rule::RequestView {
        host,
        path,
        query: None,
        method: "GET",
        headers,
        client_ip: [10, 0, 0, 1].into(),
    }
}

fn next_checked(
    prev: &RouteTable,
    cs: &[ContainerInfo],
    file: &Arc<Snapshot>,
) -> Result<RouteTable, TestCaseError> {
    let mut seen = BTreeSet::new();
    let cs: Vec<ContainerInfo> = cs
        .iter()
        .filter(|c| seen.insert(c.name.clone()))
        .cloned()
        .collect();
    let docker = container::snapshot(&cs, &settings());
    let whole = compile([&docker, &**file], &entry_points());
    let next = router::model::compile::next_for_service(
        prev,
        vec![Arc::new(docker), file.clone()],
        &entry_points(),
    );
    prop_assert_eq!(
        next.describe(),
        whole.describe(),
        "patched: {}",
        next.is_patched()
    );
    prop_assert_eq!(&next.issues, &whole.issues);
    prop_assert_eq!(&next.sni, &whole.sni);
    // The services with a health check, as a patch keeps them (the health checks run for
    // those only).
    let checked =
        |t: &RouteTable| -> Vec<String> { t.health_checked().map(|(n, _)| n.clone()).collect() };
    let every = |t: &RouteTable| -> Vec<String> {
        t.services
            .iter()
            .filter(|(_, s)| s.health.is_some())
            .map(|(n, _)| n.clone())
            .collect()
    };
    prop_assert_eq!(checked(&next), every(&whole));
    prop_assert_eq!(checked(&whole), every(&whole));
    let headers = http::HeaderMap::new();
    for host in [
        "x.test",
        "y.test",
        "z.test",
        "a",
        "b",
        "c",
        "d",
        "e",
        "f",
        "other.test",
    ] {
        for path in ["/", "/p", "/p/q", "/x"] {
            let view = get(host, path, &headers);
            for ep in ["web", "websecure"] {
                for tls in [false, true] {
                    let a = next.lookup(ep, tls, &view).map(|r| r.name.as_str());
                    let b = whole.lookup_linear(ep, tls, &view).map(|r| r.name.as_str());
                    prop_assert_eq!(a, b, "{} {} {} {}", host, path, ep, tls);
                }
            }
        }
    }
    let a: BTreeSet<String> = prev.describe().into_iter().collect();
    let b: BTreeSet<String> = whole.describe().into_iter().collect();
    let (added, removed) = router::model::table::diff(prev, &next);
    prop_assert_eq!(added, b.difference(&a).cloned().collect::<Vec<_>>());
    prop_assert_eq!(removed, a.difference(&b).cloned().collect::<Vec<_>>());
    Ok(next)
}

#[test]
fn a_container_started_stopped_or_relabelled_among_many_is_a_patch() {
    // The common events patch the table in service; a change a route not changed depends
    // on (a middleware it uses) compiles it whole. Each table is checked against the whole
    // compile.
    let file = Arc::new(file_snapshot(
        "http:\n  middlewares:\n    m:\n      addPrefix:\n        prefix: /x\n",
    ));
    let one = |i: usize, extra: &[(&str, &str)]| {
        let mut labels: BTreeMap<String, String> = [
            (
                format!("traefik.http.routers.c{i}.rule"),
                format!("Host(`c{i}.test`)"),
            ),
            (format!("traefik.http.routers.c{i}.tls"), "true".to_owned()),
        ]
        .into_iter()
        .collect();
        labels.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        running(
            format!("c{i}"),
            labels,
            &format!("172.18.{}.{}", i / 200, i % 200 + 2),
        )
    };
    let mut cs: Vec<ContainerInfo> = (0..50).map(|i| one(i, &[])).collect();
    let first = next_checked(&RouteTable::default(), &cs, &file).unwrap();
    assert!(!first.is_patched());
    cs.push(one(50, &[]));
    let started = next_checked(&first, &cs, &file).unwrap();
    assert!(started.is_patched(), "a start");
    cs.remove(10);
    let stopped = next_checked(&started, &cs, &file).unwrap();
    assert!(stopped.is_patched(), "a stop");
    cs[3] = one(
        3,
        &[
            ("traefik.http.routers.c3.priority", "99"),
            ("traefik.http.routers.c3.middlewares", "m@file"),
        ],
    );
    let relabelled = next_checked(&stopped, &cs, &file).unwrap();
    assert!(relabelled.is_patched(), "a relabel");
    assert_eq!(relabelled.routes[0].name, "c3@docker");
    let own_mw = |prefix: &'static str| {
        [
            ("traefik.http.middlewares.own.addprefix.prefix", prefix),
            ("traefik.http.routers.c4.middlewares", "own"),
        ]
    };
    cs[4] = one(4, &own_mw("/y"));
    let own = next_checked(&relabelled, &cs, &file).unwrap();
    assert!(own.is_patched(), "a middleware of its own");
    cs[5] = one(5, &[("traefik.http.routers.c5.middlewares", "own@docker")]);
    let shared = next_checked(&own, &cs, &file).unwrap();
    assert!(shared.is_patched(), "a router using another's middleware");
    // Its settings changed while a router not changed uses it: compiled whole.
    cs[4] = one(4, &own_mw("/z"));
    let whole = next_checked(&shared, &cs, &file).unwrap();
    assert!(
        !whole.is_patched(),
        "a middleware changed under a router not changed"
    );
    assert_eq!(
        whole.compiled_whole_because(),
        Some("a middleware changed or removed is used by a route not changed")
    );
}

#[test]
fn host_regexes_added_by_patches_are_matched_beside_the_whole_set() {
    // Containers with a host regex each, started one after another (beyond the patterns a
    // patch combines beside the whole set: the index is then built whole again), some
    // relabelled and stopped: every table is a patch, and each container's host finds its
    // route as the scan of the whole compile's routes does.
    let file = Arc::new(file_snapshot("http:\n  routers: {}\n"));
    let one = |i: usize, rule: String| {
        let labels = [(format!("traefik.http.routers.r{i}.rule"), rule)];
        running(
            format!("r{i}"),
            labels.into_iter().collect(),
            &format!("172.19.0.{}", i + 2),
        )
    };
    let regex = |i: usize| format!("HostRegexp(`^r{i}\\.(test|example)$`)");
    let check = |table: &RouteTable, cs: &[ContainerInfo]| {
        let whole = compile(
            [&container::snapshot(cs, &settings()), &*file],
            &entry_points(),
        );
        let headers = http::HeaderMap::new();
        for i in 0..100 {
            for host in [
                format!("r{i}.test"),
                format!("r{i}.example"),
                format!("r{i}.other"),
            ] {
                let view = get(&host, "/", &headers);
                let a = table.lookup("web", false, &view).map(|r| r.name.clone());
                let b = whole
                    .lookup_linear("web", false, &view)
                    .map(|r| r.name.clone());
                assert_eq!(a, b, "{host}");
            }
        }
    };
    let mut cs: Vec<ContainerInfo> = (0..10).map(|i| one(i, regex(i))).collect();
    let mut served = next_checked(&RouteTable::default(), &cs, &file).unwrap();
    check(&served, &cs);
    assert_eq!(served.host_regex_sets(), 1);
    let mut sets = Vec::new();
    for i in 10..90 {
        cs.push(one(i, regex(i)));
        served = next_checked(&served, &cs, &file).unwrap();
        assert!(served.is_patched(), "container {i} started");
        check(&served, &cs);
        sets.push(served.host_regex_sets());
    }
    // Beside the whole set until the patterns added are too many, then whole again, and
    // beside that one.
    let whole_again = sets
        .iter()
        .position(|&n| n == 1)
        .expect("never built whole again");
    assert!(whole_again > 10, "{sets:?}");
    // Sets of the patterns added, as a binary counter of them: 1 + the ones in their count.
    for (k, &n) in sets[..whole_again].iter().enumerate() {
        assert_eq!(n, 1 + (k + 1).count_ones() as usize, "{sets:?}");
    }
    assert_eq!(sets.get(whole_again + 1), Some(&2), "{sets:?}");
    // Relabelled to another pattern, to a plain host, stopped.
    cs[3] = one(3, regex(95));
    cs[40] = one(40, "Host(`r40.test`)".to_owned());
    cs.remove(12);
    cs.remove(50);
    served = next_checked(&served, &cs, &file).unwrap();
    assert!(served.is_patched(), "relabelled and stopped");
    check(&served, &cs);
    for _ in 0..3 {
        cs.pop();
        served = next_checked(&served, &cs, &file).unwrap();
        assert!(served.is_patched(), "stopped");
        check(&served, &cs);
    }
}

fn rule_source() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        "[a-z.]{1,10}".prop_map(|h| format!("Host(`{h}`)")),
        "/[a-z/]{0,8}".prop_map(|p| format!("PathPrefix(`{p}`)")),
        "/[a-z]{0,8}".prop_map(|p| format!("Path(`{p}`)")),
        Just("Method(`GET`)".to_owned()),
        ("[a-z]{1,5}", "[a-z]{1,5}").prop_map(|(k, v)| format!("Header(`X-{k}`, `{v}`)")),
        ("[a-z]{1,5}", "[a-z]{1,5}").prop_map(|(k, v)| format!("Query(`{k}`, `{v}`)")),
        "[a-z]{1,5}".prop_map(|k| format!("Query(`{k}`)")),
        "[a-z]{1,5}".prop_map(|h| format!("Host(`*.{h}.test`)")),
        "[ -~]{1,6}".prop_map(|s| format!(
            "Header(`X-Q`, \"{}\")",
            s.replace('\\', "\\\\").replace('"', "\\\"")
        )),
        Just("ClientIP(`10.0.0.0/8`)".to_owned()),
        Just("HostRegexp(`^.+\\.test$`)".to_owned()),
    ];
    leaf.prop_recursive(4, 16, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} && {b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} || {b})")),
            inner.prop_map(|a| format!("!({a})")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn rules_never_panic(src in "\\PC{0,80}") {
        let _ = Rule::parse(&src);
        let _ = Rule::parse_with(&src, Syntax::V2);
    }

    #[test]
    fn whatever_parses_prints_to_something_that_parses_the_same(src in "[A-Za-z(`)\"!&|,/.*{}:\\[\\] \n]{0,40}") {
        for syntax in [Syntax::V3, Syntax::V2] {
            if let Ok(rule) = Rule::parse_with(&src, syntax) {
                let printed = rule.to_string();
                let again = Rule::parse_with(&printed, syntax);
                prop_assert!(again.is_ok(), "{src:?} printed as {printed:?}: {again:?}");
                prop_assert_eq!(printed, again.unwrap().to_string());
            }
        }
    }

    #[test]
    fn labels_never_panic(labels in prop::collection::btree_map("traefik\\.[a-zA-Z.\\[\\]0-9]{0,40}", "\\PC{0,30}", 0..10)) {
        let l: BTreeMap<String, String> = labels;
        let _ = container::decode_labels(&l, "traefik");
    }

    #[test]
    fn files_never_panic(text in "[a-zA-Z:{}\\[\\], \\n-]{0,120}") {
        if let Ok(node) = Node::from_yaml(&text, "") {
            let _ = decode(&node, Source::File);
        }
    }

    #[test]
    fn providers_in_any_order_give_the_same_table(cs in prop::collection::vec(container(), 0..5)) {
        let mut seen = BTreeSet::new();
        let cs: Vec<ContainerInfo> = cs.into_iter().filter(|c| seen.insert(c.name.clone())).collect();
        let docker = container::snapshot(&cs, &settings());
        let file = file_snapshot("http:\n  middlewares:\n    auth:\n      compress: {}\n    m:\n      addPrefix:\n        prefix: /x\n  services:\n    f:\n      loadBalancer:\n        servers:\n          - url: http://10.9.0.1:80\n");
        let a = compile([&docker, &file], &entry_points()).describe();
        let b = compile([&file, &docker], &entry_points()).describe();
        prop_assert_eq!(a, b);
    }

    #[test]
    fn a_table_for_service_is_the_table_and_makes_the_same_api_view_when_read(
        cs in prop::collection::vec(prop_oneof![container(), routed_container()], 0..6),
    ) {
        // The table compiled for service (its API view made when first read, from the
        // snapshots it keeps) routes as the whole compile's table does, reports the same
        // issues, and its view, once made, is the whole compile's view.
        let mut seen = BTreeSet::new();
        let cs: Vec<ContainerInfo> = cs.into_iter().filter(|c| seen.insert(c.name.clone())).collect();
        let docker = container::snapshot(&cs, &settings());
        let file = file_snapshot("http:\n  middlewares:\n    auth:\n      compress: {}\n    both:\n      chain:\n        middlewares: [auth, m, missing]\n    m:\n      addPrefix:\n        prefix: /x\n  services:\n    f:\n      loadBalancer:\n        servers:\n          - url: http://10.9.0.1:80\n");
        let whole = compile([&docker, &file], &entry_points());
        let served = compile_for_service(vec![Arc::new(file), Arc::new(docker)], &entry_points());
        prop_assert_eq!(served.describe(), whole.describe());
        prop_assert_eq!(&served.issues, &whole.issues);
        prop_assert!(!served.api_view.is_made(), "made before it was read");
        prop_assert_eq!(format!("{:?}", served.api()), format!("{:?}", whole.api()));
    }

    #[test]
    fn a_snapshot_made_from_the_last_is_the_whole_merge(
        first in prop::collection::vec(prop_oneof![plain_container(), routed_container()], 0..6),
        edits in prop::collection::vec(
            (0usize..8, prop_oneof![plain_container(), routed_container(), container()], 0u8..4, 0u8..3, any::<bool>()),
            1..10,
        ),
    ) {
        // A provider's views one after another, containers changed, added, removed, stopped
        // and started, some sharing a name (as a Swarm service's tasks do): each snapshot,
        // made from the provider's last one where only some containers changed, is the one
        // merged whole from every container read again.
        let mut s = settings();
        s.provider = "docker-merge-test".into();
        let mut cs = first;
        for (i, mut c, what, task, running) in edits {
            if task > 0 {
                c.id = format!("{}-task{task}", c.name);
            }
            if !running {
                c.state = RunState::Stopped;
            }
            if let Some(c) = edit(&mut cs, i, c, what) {
                cs.push(c);
            }
            let mut seen = BTreeSet::new();
            cs.retain(|c| seen.insert(c.id.clone()));
            let made = container::snapshot(&cs, &s);
            let again = container::snapshot_read_again(&cs, &s);
            prop_assert_eq!(&made, &again);
        }
    }

    #[test]
    fn remembered_parts_make_the_snapshot_a_fresh_read_makes(
        first in prop::collection::vec(container(), 0..6),
        edits in prop::collection::vec((0usize..8, container(), 0u8..5), 1..8),
    ) {
        // A provider's views one after another (containers changed, added, removed, the
        // settings changed): each snapshot, made from the parts remembered from the one
        // before, is the one every container read again makes.
        let mut s = settings();
        s.provider = "docker-memo-test".into();
        let mut cs = first;
        for (i, c, what) in edits {
            if let Some(c) = edit(&mut cs, i, c, what) {
                match what {
                    2 => s.exposed_by_default = !s.exposed_by_default,
                    // One that shares another's network: it takes that one's address.
                    3 if !cs.is_empty() => {
                        let mut c = c;
                        c.network_mode = format!("container:{}", cs[i % cs.len()].name);
                        cs.push(c);
                    }
                    _ => cs.push(c),
                }
            }
            let mut seen = BTreeSet::new();
            cs.retain(|c| seen.insert(c.name.clone()));
            let remembered = container::snapshot(&cs, &s);
            let again = container::snapshot_read_again(&cs, &s);
            prop_assert_eq!(&remembered, &again);
            // With the keys worked out beforehand, as the Docker provider does.
            let keys: Vec<u64> = cs.iter().map(container::memo_key).collect();
            prop_assert_eq!(&container::snapshot_with_keys(&cs, &keys, &s), &again);
        }
    }

    #[test]
    fn a_diff_is_what_the_two_descriptions_differ_by(
        first in prop::collection::vec(prop_oneof![container(), routed_container()], 0..6),
        edits in prop::collection::vec((0usize..8, prop_oneof![container(), routed_container(), routed_container()], 0u8..4), 1..6),
    ) {
        // Tables one after another as containers change, are added and removed, beside a file
        // whose middlewares and services they use: the item-by-item comparison finds exactly
        // the lines the whole descriptions differ by.
        let file = file_snapshot("http:\n  middlewares:\n    auth:\n      compress: {}\n    m:\n      addPrefix:\n        prefix: /x\n  services:\n    f:\n      loadBalancer:\n        servers:\n          - url: http://10.9.0.1:80\n");
        let table = |cs: &[ContainerInfo]| {
            let mut seen = BTreeSet::new();
            let cs: Vec<ContainerInfo> = cs.iter().filter(|c| seen.insert(c.name.clone())).cloned().collect();
            compile([&container::snapshot(&cs, &settings()), &file], &entry_points())
        };
        let mut cs = first;
        let mut old = table(&cs);
        for (i, c, what) in edits {
            if let Some(c) = edit(&mut cs, i, c, what) {
                cs.push(c);
            }
            let new = table(&cs);
            let a: BTreeSet<String> = old.describe().into_iter().collect();
            let b: BTreeSet<String> = new.describe().into_iter().collect();
            let (added, removed) = router::model::table::diff(&old, &new);
            prop_assert_eq!(added, b.difference(&a).cloned().collect::<Vec<_>>());
            prop_assert_eq!(removed, a.difference(&b).cloned().collect::<Vec<_>>());
            old = new;
        }
    }

    #[test]
    fn a_table_patched_from_the_one_in_service_is_the_whole_compiles(
        first in prop::collection::vec(prop_oneof![plain_container(), plain_container(), routed_container()], 0..6),
        edits in prop::collection::vec((0usize..8, prop_oneof![plain_container(), plain_container(), container()], 0u8..4), 1..8),
    ) {
        // Tables one after another as containers change, are added and removed, beside a
        // file whose middlewares and service they use: each table made from the one before
        // (patched where only routers and services changed) is the one the whole compile
        // makes, and the comparison with the one before finds exactly what changed.
        let file = Arc::new(file_snapshot("http:\n  middlewares:\n    auth:\n      compress: {}\n    m:\n      addPrefix:\n        prefix: /x\n  services:\n    f:\n      loadBalancer:\n        servers:\n          - url: http://10.9.0.1:80\n"));
        let mut cs = first;
        let mut served = next_checked(&RouteTable::default(), &cs, &file)?;
        for (i, c, what) in edits {
            if let Some(c) = edit(&mut cs, i, c, what) {
                cs.push(c);
            }
            served = next_checked(&served, &cs, &file)?;
        }
    }

    #[test]
    fn print_parse_round_trip(src in rule_source()) {
        let rule = Rule::parse(&src).unwrap();
        let printed = rule.to_string();
        let again = Rule::parse(&printed).unwrap();
        prop_assert_eq!(printed, again.to_string());
    }

    #[test]
    fn table_is_independent_of_container_order(mut cs in prop::collection::vec(container(), 0..6), seed in any::<u64>()) {
        // Names are unique per host, as Docker guarantees.
        let mut seen = BTreeSet::new();
        cs.retain(|c| seen.insert(c.name.clone()));
        let a = build(&cs, &settings()).describe();
        let mut shuffled = cs.clone();
        let n = shuffled.len();
        if n > 1 {
            shuffled.rotate_left((seed as usize) % n);
            shuffled.reverse();
        }
        let b = build(&shuffled, &settings()).describe();
        prop_assert_eq!(a, b);
    }
}

/// A rule over a small world of hosts, so that routes and requests meet often.
fn indexed_rule() -> impl Strategy<Value = String> {
    let host = prop::sample::select(vec!["a.x", "b.x", "b.a.x", "x", "c.b.a.x", "A.X", "a.x."]);
    let leaf = prop_oneof![
        host.clone().prop_map(|h| format!("Host(`{h}`)")),
        prop::sample::select(vec!["x", "a.x", "b.a.x", "X"]).prop_map(|h| format!("Host(`*.{h}`)")),
        Just("Host(`*`)".to_owned()),
        prop::sample::select(vec!["/", "/a", "/b", "/a/", "/ab", "/a/b"])
            .prop_map(|p| format!("PathPrefix(`{p}`)")),
        prop::sample::select(vec!["/", "/a", "/a/b", "/ab"]).prop_map(|p| format!("Path(`{p}`)")),
        prop::sample::select(vec!["^b\\.", "^a\\.x$", "x\\.?$", "^[a-c]\\.", "(?i)A\\.X"])
            .prop_map(|r| format!("HostRegexp(`{r}`)")),
        Just("Method(`POST`)".to_owned()),
    ];
    leaf.prop_recursive(2, 6, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} && {b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} || {b})")),
            inner.prop_map(|a| format!("!({a})")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// The indexed lookup (by exact host, by the name under a wildcard, by host regex, by path
    /// and path prefix for routes without a host, then the routes that may match anything)
    /// always picks what the scan of every route by priority picks.
    #[test]
    fn the_index_picks_what_the_priority_scan_picks(
        rules in prop::collection::vec((indexed_rule(), prop::option::of(1u32..40)), 1..12)
    ) {
        let mut yaml = String::from("http:\n  routers:\n");
        for (i, (rule, priority)) in rules.iter().enumerate() {
            yaml.push_str(&format!(
                "    r{i}:\n      rule: \"{}\"\n      service: noop@internal\n",
                rule.replace('\\', "\\\\").replace('"', "\\\"")
            ));
            if let Some(p) = priority {
                yaml.push_str(&format!("      priority: {p}\n"));
            }
        }
        let internal = router::provider::internal::always();
        let table = compile([&file_snapshot(&yaml), &internal], &entry_points());
        // Every generated rule is valid: the table has them all (on both entry points).
        prop_assert_eq!(table.routes.len(), 2 * rules.len(), "{}", yaml);
        let headers = http::HeaderMap::new();
        for host in ["a.x", "b.x", "b.a.x", "x", "c.b.a.x", "a.x.", "z.a.x", "", "q"] {
            for (path, method) in [("/", "GET"), ("/a/b", "POST"), ("/b", "GET"), ("/a", "GET"), ("/ab/c", "GET"), ("/a/bc", "POST"), ("", "GET")] {
                let view = router::model::rule::RequestView {
                    host,
                    path,
                    query: None,
                    method,
                    headers: &headers,
                    client_ip: std::net::IpAddr::from([127, 0, 0, 1]),
                };
                for (ep, tls) in [("web", false), ("websecure", true), ("web", true)] {
                    let indexed = table.lookup(ep, tls, &view).map(|r| r.name.clone());
                    let scanned = table.lookup_linear(ep, tls, &view).map(|r| r.name.clone());
                    prop_assert_eq!(indexed, scanned, "{} {} {} on {}", host, method, path, ep);
                }
            }
        }
    }
}
