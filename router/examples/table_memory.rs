//! Where a table's memory goes: live heap bytes per route after each step, and what each part
//! of the compiled table holds (dropped one at a time).
//!
//!     cargo run --release -p router --example table_memory -- 10000

use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};
#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;
use router::model::compile::compile;
use router::provider::container;

#[path = "shapes/mod.rs"]
mod shapes;

fn live() -> isize {
    let s = GLOBAL.stats();
    s.bytes_allocated as isize - s.bytes_deallocated as isize + s.bytes_reallocated
}

fn main() {
    let containers = shapes::containers_from_args();
    let n = containers.len();
    let settings = shapes::settings(None);
    let eps = shapes::entry_points();
    let base = live();
    let snap = container::snapshot(&containers, &settings);
    let after_snap = live();
    let mut table = compile([&snap], &eps);
    let after_table = live();
    let routes = table.routes.len().max(1) as f64;
    let per = |b: isize| b as f64 / routes;
    println!(
        "{n} containers, {} routes: snapshot {:.0} B/route, table {:.0} B/route",
        table.routes.len(),
        per(after_snap - base),
        per(after_table - after_snap)
    );
    let mut part = |name: &str, f: &mut dyn FnMut(&mut router::model::table::RouteTable)| {
        let before = live();
        f(&mut table);
        println!("  {name}: {:.0} B/route", per(before - live()));
    };
    part("api view", &mut |t| t.api_view = Default::default());
    part("issues", &mut |t| t.issues = Default::default());
    part("services", &mut |t| t.services = Default::default());
    part("sni", &mut |t| t.sni = Default::default());
    part("route middlewares", &mut |t| {
        // The table's own routes (nothing shares them here).
        for r in t.routes.iter_mut().filter_map(std::sync::Arc::get_mut) {
            r.middlewares = Vec::new();
        }
    });
    part("route names/sources/entrypoints", &mut |t| {
        for r in t.routes.iter_mut().filter_map(std::sync::Arc::get_mut) {
            r.name = String::new();
            r.sources = Vec::new();
            r.entrypoints = Vec::new();
            r.provider = String::new();
            r.service = String::new();
        }
    });
    part("routes (rules and the rest)", &mut |t| {
        t.routes = Vec::new()
    });
    part("indexes and the rest", &mut |t| *t = Default::default());
    drop(snap);
    println!(
        "  left when table and snapshot are gone (the parsed rules and the containers' parts remembered): {:.0} B/route",
        per(live() - base)
    );
    rule_cost();
}

/// What one parsed rule of each shape holds.
fn rule_cost() {
    use router::model::rule::{Rule, Syntax};
    for (name, f) in [
        (
            "host",
            (|i: usize| format!("Host(`c{i}.example.com`)")) as fn(usize) -> String,
        ),
        ("hostpath", |i| {
            format!("Host(`c{i}.example.com`) && PathPrefix(`/api`)")
        }),
        ("regex", |i| {
            format!("HostRegexp(`^c{i}\\.[a-z]+\\.example\\.com$`)")
        }),
        ("path", |i| format!("PathPrefix(`/c{i}/`)")),
    ] {
        let before = live();
        let v: Vec<_> = (0..1000)
            .map(|i| Rule::parse_with(&f(i), Syntax::default()))
            .collect();
        println!(
            "rule {name}: {} B each, size_of {}",
            (live() - before) / 1000,
            std::mem::size_of::<Rule>()
        );
        drop(v);
    }
}
