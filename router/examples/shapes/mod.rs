//! The containers the examples measure with.

use std::collections::{BTreeMap, BTreeSet};

use router::model::compile::{CompileSettings, EntryPointModel};
use router::provider::container::{ContainerInfo, ContainerSettings, Health, RunState};

/// The Docker provider's settings the examples read containers with.
pub fn settings(network: Option<&str>) -> ContainerSettings {
    ContainerSettings {
        provider: "docker".into(),
        prefix: "traefik".into(),
        exposed_by_default: false,
        default_network: network.map(str::to_owned),
        own_networks: BTreeSet::new(),
        host_ip: [127, 0, 0, 1].into(),
        use_bind_port_ip: false,
        default_rule: "Host(`{{ normalize .Name }}`)".into(),
        constraints: None,
    }
}

/// `web` and `websecure`, both default entry points.
pub fn entry_points() -> CompileSettings {
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

/// The number of containers the example was asked for (its first argument, else 1,000), and
/// that many containers of the usual shape.
#[allow(dead_code)] // Not every example measures containers.
pub fn containers_from_args() -> Vec<ContainerInfo> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    (0..n).map(container_at).collect()
}

/// A container of the usual shape: a Host rule (one in four with a PathPrefix, one in four a
/// HostRegexp), its port, one in four with a middleware.
pub fn container_at(i: usize) -> ContainerInfo {
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
        bindings: Default::default(),
        network_mode: "bench".to_owned(),
        exposed_ports: [8080].into_iter().collect(),
    }
}

/// A controller's message with `view` as the Docker provider's containers.
#[allow(dead_code)] // Not every example sends messages.
pub fn message(view: Vec<ContainerInfo>) -> router::cluster::wire::Message {
    use router::cluster::wire::{Acme, Input, Message};
    Message {
        generation: 1,
        providers: [(
            "docker".to_owned(),
            Input::Containers {
                settings: (&settings(Some("bench"))).into(),
                view,
            },
        )]
        .into(),
        acme: Acme::default(),
    }
}
