//! Both programs' `/metrics`, checked by Prometheus' own `promtool check metrics` (Debian's
//! `prometheus` package), and the Grafana dashboard in `grafana/dashboard.json` checked against
//! what they really export: every metric its queries name is a family one of the programs
//! serves (with the sample suffix its type has), and every query parses as PromQL
//! (`promtool check rules` on the queries as recording rules).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::{Command, Stdio};

use e2e::docker::require_docker;
use e2e::guard::Guard;
use e2e::router::Router;

/// What Prometheus itself sends when it scrapes.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_pass_promtool_and_the_grafana_dashboard_names_only_what_they_export() {
    require_docker();
    let guard = Guard::builder().env("CONTAINERS", "1").start().await;
    let guard_admin = guard.serve_admin().await;
    let router = Router::builder()
        .flags(&["--providers.docker=true"])
        .admin()
        .start(&guard)
        .await;
    router.wait_synced().await;
    // Some samples in the labelled families: an allowed and a refused request at the guard,
    // an unrouted one at the router.
    for path in ["/containers/json", "/images/json"] {
        let raw = format!("GET {path} HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n");
        e2e::http::exchange(guard.addr(), raw.as_bytes()).await;
    }
    router.get("nothing.test", "/").await;

    let mut families = BTreeMap::new();
    for (program, admin) in [
        ("socket-guard", guard_admin),
        ("router", router.admin_addr()),
    ] {
        let plain = scrape(admin, None).await;
        assert!(
            plain.0.starts_with("text/plain; version=0.0.4"),
            "{program}: {}",
            plain.0
        );
        promtool(&["check", "metrics"], Some(&plain.1), program);
        let om = scrape(admin, Some(PROMETHEUS_ACCEPT)).await;
        assert!(
            om.0.starts_with("application/openmetrics-text"),
            "{program}: {}",
            om.0
        );
        assert!(om.1.ends_with("# EOF\n"), "{program}: {}", om.1);
        for line in om.1.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                families.insert(name.to_owned(), kind.to_owned());
            }
        }
    }

    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../grafana/dashboard.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut exprs = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for t in panel["targets"].as_array().into_iter().flatten() {
            exprs.push(t["expr"].as_str().unwrap().to_owned());
        }
    }
    for v in dashboard["templating"]["list"].as_array().unwrap() {
        if let Some(q) = v["query"]["query"].as_str() {
            exprs.push(q.to_owned());
        }
    }
    assert!(exprs.len() > 10, "{exprs:?}");
    let mut named = std::collections::BTreeSet::new();
    for e in &exprs {
        for name in metric_names(e) {
            let family = family_of(&name, &families)
                .unwrap_or_else(|| panic!("{name} (in {e}) is not exported: {families:?}"));
            named.insert(family);
        }
    }
    // Every family either program exports is on the dashboard.
    let unshown: Vec<_> = families.keys().filter(|f| !named.contains(*f)).collect();
    assert!(unshown.is_empty(), "not on the dashboard: {unshown:?}");

    // The queries parse: as recording rules (Grafana's variables given values).
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, e) in exprs
        .iter()
        .filter(|e| !e.starts_with("label_values"))
        .enumerate()
    {
        let e = e
            .replace("$__rate_interval", "5m")
            .replace("$router_job", ".*")
            .replace("$guard_job", ".*");
        rules.push_str(&format!(
            "      - record: dashboard:query{i}\n        expr: {}\n",
            serde_json::json!(e)
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.yml");
    std::fs::write(&file, rules).unwrap();
    promtool(
        &["check", "rules", file.to_str().unwrap()],
        None,
        "the dashboard's queries",
    );
}

/// Runs promtool, panicking with what it said unless it succeeds.
fn promtool(args: &[&str], stdin: Option<&str>, what: &str) {
    let mut child = Command::new("promtool")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("promtool ({e}): install Debian's prometheus (scripts/prereqs.sh test)")
        });
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool {args:?} on {what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The content type and body of `/metrics` asked with `accept`.
async fn scrape(admin: std::net::SocketAddr, accept: Option<&str>) -> (String, String) {
    let accept = accept.map_or(String::new(), |a| format!("Accept: {a}\r\n"));
    let raw = format!("GET /metrics HTTP/1.1\r\nHost: m\r\n{accept}Connection: close\r\n\r\n");
    let ex = e2e::http::exchange(admin, raw.as_bytes()).await;
    let r = &ex.responses[0];
    assert_eq!(r.status, 200);
    (
        r.header("content-type").unwrap_or_default().to_owned(),
        String::from_utf8_lossy(&r.body).into_owned(),
    )
}

/// The metric names in a query: words of the programs' prefixes.
fn metric_names(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        // Not inside another word, nor a Grafana variable (`$router_job`).
        let at_word = i == 0
            || !(bytes[i - 1].is_ascii_alphanumeric() || matches!(bytes[i - 1], b'_' | b'$'));
        let rest = &expr[i..];
        if at_word && (rest.starts_with("router_") || rest.starts_with("socket_guard_")) {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            out.push(rest[..end].to_owned());
            i += end;
        } else {
            i += 1;
        }
    }
    out
}

/// The family a sample name belongs to, given the families' types.
fn family_of(name: &str, families: &BTreeMap<String, String>) -> Option<String> {
    if families.get(name).is_some_and(|t| t == "gauge") {
        return Some(name.to_owned());
    }
    for (suffix, kind) in [
        ("_total", "counter"),
        ("_bucket", "histogram"),
        ("_sum", "histogram"),
        ("_count", "histogram"),
    ] {
        if let Some(f) = name.strip_suffix(suffix) {
            if families.get(f).is_some_and(|t| t == kind) {
                return Some(f.to_owned());
            }
        }
    }
    None
}
