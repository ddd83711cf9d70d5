//! Cluster mode's message with N routed containers: its size, the controller's cost to encode
//! it, and a data plane's cost to apply it (decode, the provider's snapshot, the compiled
//! table). The controller sends the whole message on every change.
//!
//!     cargo run --release -p router --example cluster_message -- 1000

use std::time::Instant;

/// The router's allocator, as in its binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use router::cluster::wire::{self, Input};
use router::model::compile::compile;

#[path = "shapes/mod.rs"]
mod shapes;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let rounds = 20;
    let eps = shapes::entry_points();
    let message = shapes::message((0..n).map(shapes::container_at).collect());
    let (mut encode, mut decode, mut apply) = (Vec::new(), Vec::new(), Vec::new());
    let mut size = 0;
    let mut routes = 0;
    for _ in 0..rounds {
        let t = Instant::now();
        let line = wire::encode(&message);
        encode.push(t.elapsed().as_secs_f64() * 1e3);
        size = line.len();
        let t = Instant::now();
        let back = wire::decode(line.as_bytes()).expect("decodes");
        decode.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let snap = wire::snapshot("docker", &back.providers["docker"]).expect("a snapshot");
        let table = compile([&snap], &eps);
        apply.push(t.elapsed().as_secs_f64() * 1e3);
        routes = table.routes.len();
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    // One container replaced (a new address): the difference a connected data plane gets.
    let mut next = message.clone();
    next.generation = 2;
    if let Some(Input::Containers { view, .. }) = next.providers.get_mut("docker") {
        router::cluster::delta::sort_view(view);
        for ip in view[n / 2].networks.values_mut() {
            *ip = Some([10, 9, 9, 9].into());
        }
    }
    let mut sorted = message.clone();
    if let Some(Input::Containers { view, .. }) = sorted.providers.get_mut("docker") {
        router::cluster::delta::sort_view(view);
    }
    let (mut diff, mut patch) = (Vec::new(), Vec::new());
    let mut delta_size = 0;
    for _ in 0..rounds {
        let t = Instant::now();
        let d = router::cluster::delta::encode(&router::cluster::delta::delta(&sorted, &next));
        diff.push(t.elapsed().as_secs_f64() * 1e3);
        delta_size = d.len();
        let t = Instant::now();
        let router::cluster::delta::Line::Delta { delta } =
            router::cluster::delta::decode(d.as_bytes()).expect("decodes")
        else {
            panic!("not a delta");
        };
        router::cluster::delta::apply(&sorted, &delta).expect("applies");
        patch.push(t.elapsed().as_secs_f64() * 1e3);
    }
    println!(
        "one container changed: a difference of {delta_size} bytes, computed in {:.2} ms per data plane, read and applied in {:.2} ms (medians of {rounds})",
        median(&mut diff),
        median(&mut patch),
    );
    println!(
        "{n} containers ({routes} routes): message {:.0} KiB ({:.0} bytes per container); controller encode {:.1} ms; data plane decode {:.1} ms, snapshot + compile {:.1} ms (medians of {rounds})",
        size as f64 / 1024.0,
        size as f64 / n as f64,
        median(&mut encode),
        median(&mut decode),
        median(&mut apply),
    );
}
