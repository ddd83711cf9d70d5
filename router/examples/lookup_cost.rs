//! The cost of finding a route among N routes of one host, each `Host(h) && PathPrefix(/pI/)`
//! (an API gateway's shape: one name, many paths), for the last and a middle path and for a
//! path no route has (falls to the host's route without a path). Prints nanoseconds per
//! lookup, in process (no network): `cargo run --release -p router --example lookup_cost`.

use router::dynamic::decode::{decode, Source};
use router::dynamic::Snapshot;
use router::model::compile::{compile, CompileSettings, EntryPointModel};
use router::model::rule::RequestView;
use router::tree::Node;

fn table(n: usize) -> router::model::table::RouteTable {
    let mut yaml = String::from("http:\n  routers:\n");
    for i in 0..n {
        yaml.push_str(&format!(
            "    p{i}:\n      rule: Host(`api.example.com`) && PathPrefix(`/p{i}/`)\n      service: noop@internal\n"
        ));
    }
    yaml.push_str("    root:\n      rule: Host(`api.example.com`)\n      service: noop@internal\n");
    let node = Node::from_yaml(&yaml, "").expect("valid YAML");
    let file = Snapshot {
        provider: "file".into(),
        config: decode(&node, Source::File).config,
        issues: Vec::new(),
        broken: Vec::new(),
    };
    let internal = router::provider::internal::always();
    let settings = CompileSettings {
        entry_points: vec![EntryPointModel {
            name: "web".into(),
            default: true,
            ..Default::default()
        }],
        ..Default::default()
    };
    compile([&file, &internal], &settings)
}

fn main() {
    let headers = http::HeaderMap::new();
    println!("| routes of one host | last path (ns) | middle path (ns) | no such path (ns) |");
    println!("| ---: | ---: | ---: | ---: |");
    for n in [10, 100, 1_000, 10_000] {
        let t = table(n);
        let mut cells = Vec::new();
        for path in [
            format!("/p{}/x", n - 1),
            format!("/p{}/x", n / 2),
            "/none".to_owned(),
        ] {
            let view = RequestView {
                host: "api.example.com",
                path: &path,
                query: None,
                method: "GET",
                headers: &headers,
                client_ip: std::net::IpAddr::from([127, 0, 0, 1]),
            };
            let rounds = 200_000;
            let start = std::time::Instant::now();
            for _ in 0..rounds {
                std::hint::black_box(t.lookup("web", false, std::hint::black_box(&view)));
            }
            cells.push(format!(
                "{:.0}",
                start.elapsed().as_nanos() as f64 / rounds as f64
            ));
        }
        println!("| {n} | {} |", cells.join(" | "));
    }
}
