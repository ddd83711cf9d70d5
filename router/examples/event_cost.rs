//! What one Docker event costs the router with N routed containers, step by step, as the
//! Docker provider does it: a container started (alternately one more, one fewer), the
//! provider's snapshot made from its last one (each container's memo key worked out when it
//! was listed), the table in service patched from it, its runtime state attached, and the
//! table replaced freed. Medians over the rounds; `ROUNDS` repeats more (to profile). Then
//! a request's lookup in the table patched last and in the same table indexed whole.
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
    // What a request's lookup costs in the table patched last (its host regexes in two
    // sets when patches added some) and in the same table indexed whole (one set).
    let patched = &in_service.table;
    let whole = patched.clone().index();
    for (what, host) in [
        ("Host", "c4.example.com".to_owned()),
        ("HostRegexp", format!("c{}.x.example.com", n - 2)),
        ("no route", "nothing.example.org".to_owned()),
    ] {
        let ns = |t: &router::model::table::RouteTable| {
            let headers = http::HeaderMap::new();
            let view = router::model::rule::RequestView {
                host: &host,
                path: "/",
                query: None,
                method: "GET",
                headers: &headers,
                client_ip: [10, 0, 0, 1].into(),
            };
            let rounds = 100_000;
            let t0 = Instant::now();
            for _ in 0..rounds {
                std::hint::black_box(t.lookup("web", false, std::hint::black_box(&view)));
            }
            t0.elapsed().as_nanos() as f64 / rounds as f64
        };
        println!(
            "{n} containers, a {what} request's lookup: {:.0} ns in the table patched last ({} host regex sets), {:.0} ns indexed whole ({} set)",
            ns(patched),
            patched.host_regex_sets(),
            ns(&whole),
            whole.host_regex_sets()
        );
    }
}
