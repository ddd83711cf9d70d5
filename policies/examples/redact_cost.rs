//! How long one redaction of a file takes: `cargo run --release -p policies --example
//! redact_cost -- FILE KIND [RUNS]` (KIND: list, inspect, services, tasks, configs, df, events;
//! or scope-list and scope-events: the visible scope `traefik.*` filtering a list or events).
//! Prints the median time per run and the throughput; bench/redact.sh measures the whole guard.

use std::time::Instant;

use policies::redact::{redact, redact_lines, Redact};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(file), Some(kind)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: redact_cost FILE KIND [RUNS]");
        std::process::exit(64);
    };
    let runs: usize = args.get(3).and_then(|r| r.parse().ok()).unwrap_or(2000);
    let body = std::fs::read(file).unwrap_or_else(|e| {
        eprintln!("{file}: {e}");
        std::process::exit(66)
    });
    if let Some(what) = kind.strip_prefix("scope-") {
        scope_cost(&body, what, runs);
        return;
    }
    let kind = match kind.as_str() {
        "list" => Redact::ContainerList,
        "inspect" => Redact::ContainerInspect,
        "services" => Redact::Services,
        "tasks" => Redact::Tasks,
        "configs" => Redact::Configs,
        "df" => Redact::SystemDf,
        "events" => Redact::Events,
        other => {
            eprintln!("unknown kind {other}");
            std::process::exit(64)
        }
    };
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let n = if kind == Redact::Events {
            let mut out = Vec::new();
            redact_lines(kind, &body, &mut out).map(|_| out.len())
        } else {
            redact(kind, &body).map(|o| o.len())
        };
        times.push(start.elapsed());
        if let Err(e) = n {
            eprintln!("not redacted: {e}");
            std::process::exit(65);
        }
    }
    report(body.len(), "", times);
}

/// Prints the median of `times` and the throughput it gives on `len` bytes.
fn report(len: usize, note: &str, mut times: Vec<std::time::Duration>) {
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "{len} bytes{note}: median {:.1} µs, {:.2} GB/s",
        median.as_secs_f64() * 1e6,
        len as f64 / median.as_secs_f64() / 1e9
    );
}

/// The visible scope's check of a list or an events answer.
fn scope_cost(body: &[u8], what: &str, runs: usize) {
    let scope = policies::scope::Scope::parse(Some("traefik.*"), None).unwrap_or_default();
    let mut times = Vec::with_capacity(runs);
    let mut kept = 0;
    for _ in 0..runs {
        let start = Instant::now();
        kept = if what == "events" {
            body.split(|b| *b == b'\n')
                .filter(|l| !l.is_empty() && scope.admits_event(l))
                .count()
        } else {
            scope.filter_list(body).map(|o| o.len()).unwrap_or(0)
        };
        times.push(start.elapsed());
    }
    report(body.len(), &format!(" ({kept} kept)"), times);
}
