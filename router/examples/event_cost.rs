//! What one Docker event costs the router with N routed containers, step by step, as the
//! Docker provider does it: a container started (alternately one more, one fewer), the
//! provider's snapshot made from its last one (each container's memo key worked out when it
//! was listed), the table in service patched from it, its runtime state attached, and the
//! table replaced freed. Medians over the rounds; `ROUNDS` repeats more (to profile).
//!
//!     cargo run --release -p router --example event_cost -- 10000

/// The router's allocator, as in its binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::{Duration, Instant};

use router::model::compile::next_for_service;
use router::provider::container;

#[path = "shapes/mod.rs"]
mod shapes;

fn main() {
    let mut containers = shapes::containers_from_args();
    let n = containers.len();
    let settings = shapes::settings(None);
    let eps = shapes::entry_points();
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(41);
    let mut keys: Vec<u64> = containers.iter().map(container::memo_key).collect();
    let registry = router::live::Registry::default();
    let first = container::snapshot_shared(&containers, Some(&keys), &settings);
    let mut in_service = registry.attach(next_for_service(
        &router::model::table::RouteTable::default(),
        vec![first],
        &eps,
    ));
    let mut steps: [Vec<Duration>; 4] = Default::default();
    let mut patched = 0;
    for round in 0..rounds {
        // One container more (each shape in turn), then that one gone.
        if round % 2 == 0 {
            let c = shapes::container_at(n + round / 2);
            keys.push(container::memo_key(&c));
            containers.push(c);
        } else {
            containers.pop();
            keys.pop();
        }
        let t = Instant::now();
        let snap = container::snapshot_shared(&containers, Some(&keys), &settings);
        let snapshot = t.elapsed();
        let t = Instant::now();
        let table = next_for_service(&in_service.table, vec![snap], &eps);
        let made = t.elapsed();
        patched += usize::from(table.is_patched());
        let t = Instant::now();
        let live = registry.attach_after(&in_service, table);
        let attached = t.elapsed();
        let t = Instant::now();
        drop(std::mem::replace(&mut in_service, live));
        let freed = t.elapsed();
        for (list, d) in steps.iter_mut().zip([snapshot, made, attached, freed]) {
            list.push(d);
        }
    }
    let median = |l: &mut Vec<Duration>| {
        l.sort();
        l[l.len() / 2].as_secs_f64() * 1e3
    };
    let [s, m, a, f] = steps.each_mut().map(median);
    println!(
        "{n} containers, {rounds} events ({patched} tables patched), median ms: snapshot {s:.2}, table {m:.2}, runtime state {a:.2}, the replaced table freed {f:.2}; total {:.2}",
        s + m + a + f
    );
}
