//! Prometheus (Debian's) discovering containers through socket-guard with the monitoring
//! preset: its `docker_sd_configs` lists containers, then networks, on every refresh, and the
//! labelled container becomes a target. Without the network list (the preset as it was), the
//! discovery fails and nothing is found: the control shows the check can fail.
#![allow(clippy::unwrap_used)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use e2e::docker::{require_docker, Cleanup};
use e2e::guard::Guard;
use e2e::make::free_port;
use e2e::router::{run_whoami, unique, Labels};

const MONITORING: &str = include_str!("../../policies/presets/monitoring.env");

/// A Prometheus process, killed when dropped; its port; its directory (kept while it runs).
struct Prometheus(Child, u16, #[allow(dead_code)] tempfile::TempDir);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn prometheus(docker_host: &str, label: &str) -> Prometheus {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: docker\n    docker_sd_configs:\n      - host: {docker_host}\n        refresh_interval: 1s\n        filters:\n          - name: label\n            values: [\"{label}\"]\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("prometheus ({e}): install Debian's prometheus"));
    Prometheus(child, port, dir)
}

/// The containers Prometheus discovered (their `__meta_docker_container_name`).
async fn discovered(p: &Prometheus) -> Option<Vec<String>> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], p.1));
    // Not listening yet: nothing found so far.
    tokio::net::TcpStream::connect(addr).await.ok()?;
    let ex = e2e::http::exchange(
        addr,
        b"GET /api/v1/targets?state=any HTTP/1.1\r\nHost: p\r\nConnection: close\r\n\r\n",
    )
    .await;
    let r = ex.responses.first()?;
    let v: serde_json::Value = serde_json::from_slice(&r.body).ok()?;
    let data = &v["data"];
    Some(
        ["activeTargets", "droppedTargets"]
            .iter()
            .flat_map(|k| data[k].as_array().cloned().unwrap_or_default())
            .filter_map(|t| {
                t["discoveredLabels"]["__meta_docker_container_name"]
                    .as_str()
                    .map(str::to_owned)
            })
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_discovers_containers_through_the_monitoring_preset() {
    require_docker();
    let c = Cleanup::new("prom");
    let net = c.network("net");
    let mark = unique("prom");
    let w = run_whoami(&c, "w", &net, &Labels::none().label("e2e.prom", &mark), &[]).await;
    let label = format!("e2e.prom={mark}");

    let guard = Guard::builder().preset(MONITORING).start().await;
    let p = prometheus(&format!("tcp://{}", guard.addr()), &label);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let found = discovered(&p).await.unwrap_or_default();
        if found.iter().any(|n| n == &format!("/{}", w.name)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never discovered {} through the monitoring preset (found {found:?})",
            w.name
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let seen = guard
        .state()
        .decisions
        .to_json(&guard.state().config.policy);
    let asked = |endpoint: &str| {
        seen["recent"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["endpoint"] == endpoint && d["decision"] == "allow")
    };
    assert!(asked("container.list") && asked("network.list"), "{seen:#}");
    drop(p);

    // Control: the same preset without the network list finds nothing.
    let without: String = MONITORING
        .lines()
        .filter(|l| !l.starts_with("NETWORKS="))
        .collect::<Vec<_>>()
        .join("\n");
    let old = Guard::builder().preset(&without).start().await;
    let p = prometheus(&format!("tcp://{}", old.addr()), &label);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let seen = old.state().decisions.to_json(&old.state().config.policy);
        let refused = seen["recent"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["endpoint"] == "network.list" && d["decision"] == "deny");
        if refused {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never asked for networks: {seen:#}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Two more refreshes: still nothing discovered.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let found = discovered(&p).await.unwrap_or_default();
    assert!(
        !found.iter().any(|n| n == &format!("/{}", w.name)),
        "discovered without the network list: {found:?}"
    );
}
