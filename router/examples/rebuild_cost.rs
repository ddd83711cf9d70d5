//! What one reconfiguration costs with N routed containers, step by step: the provider's
//! snapshot from the containers (labels parsed), the compiled table, and the comparison with
//! the table in service (which decides whether it is swapped in). The Docker provider does all
//! three after each burst of events.
//!
//!     cargo run --release -p router --example rebuild_cost -- 10000

use std::collections::{BTreeMap, BTreeSet};

/// The router's allocator, as in its binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Instant;

use router::model::compile::{compile, CompileSettings, EntryPointModel};
use router::model::table;
use router::provider::container::{self, ContainerInfo, ContainerSettings, Health, RunState};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let settings = ContainerSettings {
        provider: "docker".into(),
        prefix: "traefik".into(),
        exposed_by_default: false,
        default_network: None,
        own_networks: BTreeSet::new(),
        host_ip: [127, 0, 0, 1].into(),
        default_rule: "Host(`{{ normalize .Name }}`)".into(),
        constraints: None,
    };
    let ep = |name: &str, tls: bool| EntryPointModel {
        name: name.into(),
        default: true,
        tls: tls.then(Default::default),
        ..Default::default()
    };
    let eps = CompileSettings {
        entry_points: vec![ep("web", false), ep("websecure", true)],
        ..Default::default()
    };
    let containers: Vec<ContainerInfo> = (0..n).map(container_at).collect();
    let mut changed = containers.clone();
    changed[n / 2].labels.insert(
        format!("traefik.http.routers.c{}.priority", n / 2),
        "7".into(),
    );
    let t = Instant::now();
    let snap = container::snapshot(&containers, &settings);
    let snapshot = t.elapsed();
    let t = Instant::now();
    let old = compile([&snap], &eps);
    let compiled = t.elapsed();
    let copy = old.clone();
    let t = Instant::now();
    let _indexed = copy.index();
    let indexed = t.elapsed();
    let snap2 = container::snapshot(&changed, &settings);
    let t = Instant::now();
    let new = compile([&snap2], &eps);
    let recompiled = t.elapsed();
    let t = Instant::now();
    let (added, removed) = table::diff(&old, &new);
    let diffed = t.elapsed();
    println!(
        "{n} containers ({} routes): snapshot {:.1} ms, first compile {:.1} ms (of which the index {:.1} ms), compile after one change {:.1} ms, diff {:.1} ms ({} lines changed)",
        old.routes.len(),
        snapshot.as_secs_f64() * 1e3,
        compiled.as_secs_f64() * 1e3,
        indexed.as_secs_f64() * 1e3,
        recompiled.as_secs_f64() * 1e3,
        diffed.as_secs_f64() * 1e3,
        added.len() + removed.len()
    );
}

/// A container of the usual shape: a Host rule (one in four with a PathPrefix, one in four a
/// HostRegexp), its port, one in four with a middleware.
fn container_at(i: usize) -> ContainerInfo {
    let name = format!("c{i}");
    let rule = match i % 4 {
        0 => format!("Host(`c{i}.example.com`)"),
        1 => format!("Host(`c{i}.example.com`) && PathPrefix(`/api`)"),
        2 => format!("HostRegexp(`^c{i}\\.[a-z]+\\.example\\.com$`)"),
        _ => format!("PathPrefix(`/c{i}/`)"),
    };
    let mut labels = BTreeMap::new();
    labels.insert("traefik.enable".to_owned(), "true".to_owned());
    labels.insert(format!("traefik.http.routers.{name}.rule"), rule);
    labels.insert(
        format!("traefik.http.services.{name}.loadbalancer.server.port"),
        "8080".to_owned(),
    );
    labels.insert("com.docker.compose.project".to_owned(), "bench".to_owned());
    if i % 4 == 1 {
        labels.insert(
            format!("traefik.http.middlewares.{name}-h.headers.customrequestheaders.X-Bench"),
            "1".to_owned(),
        );
        labels.insert(
            format!("traefik.http.routers.{name}.middlewares"),
            format!("{name}-h"),
        );
    }
    let mut networks = BTreeMap::new();
    networks.insert(
        "bench".to_owned(),
        Some(std::net::IpAddr::from([
            10,
            (i >> 16) as u8,
            (i >> 8) as u8,
            i as u8,
        ])),
    );
    ContainerInfo {
        id: format!("{i:064x}"),
        name,
        labels,
        state: RunState::Running,
        health: Health::None,
        networks,
        network_mode: "bench".to_owned(),
        exposed_ports: [8080].into_iter().collect(),
    }
}
