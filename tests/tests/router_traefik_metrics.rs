//! Traefik's Prometheus metrics (`metrics.prometheus`): the families a Grafana dashboard for
//! Traefik queries, under Traefik's names and labels, served by `prometheus@internal` and
//! accepted by Prometheus' own `promtool check metrics`. Real nginx behind the router.

#![allow(clippy::unwrap_used)]

use std::io::Write as _;
use std::process::{Command, Stdio};

use e2e::nginx::Nginx;
use e2e::router::{routes_file, Router};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traefik_families_count_what_was_served() {
    let (_nginx, port) = Nginx::answering("hello");
    let dir = tempfile::tempdir().unwrap();
    let file = routes_file(
        dir.path(),
        &[
            ("app", "app.test", &format!("http://127.0.0.1:{port}")),
            ("metrics", "metrics.test", "prometheus@internal"),
        ],
    );
    let router = Router::builder()
        .flags(&[
            &format!("--providers.file.filename={}", file.display()),
            "--metrics.prometheus=true",
            "--metrics.prometheus.manualrouting=true",
            "--metrics.prometheus.addrouterslabels=true",
            "--metrics.prometheus.buckets=0.05,0.5",
        ])
        .start_without_docker()
        .await;
    router.wait_routes(&["app@file", "metrics@file"]).await;
    for _ in 0..3 {
        let r = router.request("app.test", "/", &[]).await;
        assert_eq!(r.status, 200);
    }
    let r = router
        .request("app.test", "/events", &[("Accept", "text/event-stream")])
        .await;
    assert_eq!(r.status, 200);
    let r = router.request("nothing.test", "/", &[]).await;
    assert_eq!(r.status, 404);
    let r = router.request("metrics.test", "/metrics", &[]).await;
    assert_eq!(r.status, 200);
    let text = r.text();
    let ep = "web";
    for want in [
        format!("traefik_entrypoint_requests_total{{code=\"200\",method=\"GET\",protocol=\"http\",entrypoint=\"{ep}\"}} 3"),
        format!("traefik_entrypoint_requests_total{{code=\"200\",method=\"GET\",protocol=\"sse\",entrypoint=\"{ep}\"}} 1"),
        format!("traefik_entrypoint_requests_total{{code=\"404\",method=\"GET\",protocol=\"http\",entrypoint=\"{ep}\"}} 1"),
        "traefik_router_requests_total{code=\"200\",method=\"GET\",protocol=\"http\",router=\"app@file\",service=\"app@file\"} 3".to_owned(),
        "traefik_service_requests_total{code=\"200\",method=\"GET\",protocol=\"http\",service=\"app@file\"} 3".to_owned(),
        "traefik_service_responses_bytes_total{code=\"200\",method=\"GET\",protocol=\"http\",service=\"app@file\"} 18".to_owned(),
        "traefik_service_request_duration_seconds_bucket{le=\"+Inf\",code=\"200\",method=\"GET\",protocol=\"http\",service=\"app@file\"} 3".to_owned(),
        "traefik_service_request_duration_seconds_bucket{le=\"0.5\",".to_owned(),
        format!("traefik_service_server_up{{service=\"app@file\",url=\"http://127.0.0.1:{port}\"}} 1"),
        "traefik_config_reloads_total".to_owned(),
        "traefik_config_last_reload_success".to_owned(),
    ] {
        assert!(text.contains(&want), "{want}\n{text}");
    }
    // The metrics router's own requests are internal: not counted (metrics.addInternals).
    assert!(!text.contains("metrics@file"), "{text}");
    // Prometheus' own checker takes the exposition.
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool: install Debian's prometheus (scripts/prereqs.sh test)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
