//! What one reconfiguration costs with N routed containers, step by step: the provider's
//! snapshot from the containers (labels parsed), the compiled table, and the comparison with
//! the table in service (which decides whether it is swapped in), and the runtime state
//! attached to the table going into service. The Docker provider does all of them after each
//! burst of events that changes its snapshot, and only the first when the snapshot is the one
//! in service.
//!
//!     cargo run --release -p router --example rebuild_cost -- 10000

/// The router's allocator, as in its binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Instant;

use router::model::compile::{compile, compile_for_service, next_for_service};
use router::model::table;
use router::provider::container;

#[path = "shapes/mod.rs"]
mod shapes;

fn main() {
    let containers = shapes::containers_from_args();
    let n = containers.len();
    let settings = shapes::settings(None);
    let eps = shapes::entry_points();
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
    // In service the router rebuilds again and again: the same steps, repeated, with the
    // allocator warm.
    let mut steady = Vec::new();
    let mut previous = new;
    let registry = router::live::Registry::default();
    let mut attached = Vec::new();
    let mut patched = Vec::new();
    let mut in_service = registry.attach(previous.clone());
    // ROUNDS=<n> repeats more (to profile the steady state).
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    for round in 0..rounds {
        let which = if round % 2 == 0 {
            &containers
        } else {
            &changed
        };
        let t = Instant::now();
        let snap = std::sync::Arc::new(container::snapshot(which, &settings));
        let s1 = t.elapsed();
        // As the router compiles a table for service: its API view made when first read.
        let t = Instant::now();
        let next = compile_for_service(vec![snap.clone()], &eps);
        let s2 = t.elapsed();
        let t = Instant::now();
        let _ = table::diff(&previous, &next);
        let s3 = t.elapsed();
        // As the router makes it: the table in service patched.
        let t = Instant::now();
        let quick = next_for_service(&previous, vec![snap], &eps);
        let p2 = t.elapsed();
        // (The first table was compiled by `compile`, not for service: nothing to patch.)
        assert!(
            round == 0 || quick.is_patched(),
            "one container's priority changed: a patch"
        );
        let t = Instant::now();
        let _ = table::diff(&previous, &quick);
        let p3 = t.elapsed();
        let copy = quick.clone();
        let t = Instant::now();
        let live = registry.attach_after(&in_service, copy);
        let pa = t.elapsed();
        in_service = live;
        patched.push(format!(
            "{:.1}+{:.2}+{:.2}+{:.1}",
            s1.as_secs_f64() * 1e3,
            p2.as_secs_f64() * 1e3,
            p3.as_secs_f64() * 1e3,
            pa.as_secs_f64() * 1e3
        ));
        // Into service: each service's runtime state (balancer counters, backend health)
        // carried over to the new table.
        let copy = next.clone();
        let t = Instant::now();
        let live = registry.attach(copy);
        attached.push(format!("{:.1}", t.elapsed().as_secs_f64() * 1e3));
        drop(live);
        steady.push(format!(
            "{:.1}+{:.1}+{:.1}",
            s1.as_secs_f64() * 1e3,
            s2.as_secs_f64() * 1e3,
            s3.as_secs_f64() * 1e3
        ));
        // The next round's table is made from the patched one, as in service.
        drop(next);
        previous = quick;
    }
    println!(
        "{n} containers: a change, five rounds warm (snapshot + compile + diff, ms): {}",
        steady.join(", ")
    );
    println!(
        "{n} containers: the new table's runtime state attached (ms): {}",
        attached.join(", ")
    );
    println!(
        "{n} containers: a change, the table in service patched (snapshot + patch + diff + runtime state, ms): {}",
        patched.join(", ")
    );
    // An event that changes nothing the provider reads: the snapshot, compared with the one
    // in service, is equal, and nothing more is done.
    let mut same = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let again = container::snapshot(&containers, &settings);
        let s1 = t.elapsed();
        let t = Instant::now();
        let equal = again == snap;
        let s2 = t.elapsed();
        assert!(equal, "the same containers made another snapshot");
        same.push(format!(
            "{:.1}+{:.1}",
            s1.as_secs_f64() * 1e3,
            s2.as_secs_f64() * 1e3
        ));
    }
    println!(
        "{n} containers: no change, five rounds (snapshot + comparison, ms): {}",
        same.join(", ")
    );
    // Before that, the Docker provider compares a keyed hash of the containers listed with
    // that of those it published last: equal, nothing is built.
    use std::hash::BuildHasher;
    let keys = std::hash::RandomState::new();
    let own = std::collections::BTreeSet::<String>::new();
    let published = keys.hash_one((&containers[..], &own));
    let listed = containers.clone();
    let t = Instant::now();
    let equal = keys.hash_one((&listed[..], &own)) == published;
    let viewed = t.elapsed();
    assert!(equal);
    println!(
        "{n} containers: no change, the list's hash compared with the last one published: {:.2} ms",
        viewed.as_secs_f64() * 1e3
    );
    // A whole table described (what the comparison avoids formatting).
    let t = Instant::now();
    let lines = previous.describe();
    let described = t.elapsed();
    let bytes: usize = lines.iter().map(|l| l.len()).sum();
    println!(
        "{n} containers: a whole table described: {} lines, {:.1} MiB of text, {:.1} ms",
        lines.len(),
        bytes as f64 / (1 << 20) as f64,
        described.as_secs_f64() * 1e3
    );
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
