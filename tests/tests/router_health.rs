//! Active health checks with Traefik's options, from a real container's labels through
//! socket-guard: a check that expects another status (`status`) or asks a port nobody listens
//! on (`port`, `timeout`) takes the server out of rotation (503 `no available server`);
//! a check with `method`, `headers` and `interval` that passes keeps it in; the API's
//! `serverStatus` says which (`DOWN`, `UP`).
#![allow(clippy::unwrap_used)]

use e2e::docker::{require_docker, Cleanup};
use e2e::router::{hostname_in, router_guard, run_whoami, unique, Labels, Router};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_check_options_decide_rotation() {
    require_docker();
    let c = Cleanup::new("rt-health");
    let net = c.network("net");
    let guard = router_guard().start().await;
    let router = Router::builder().admin().start(&guard).await;
    let [good, status, port] = ["good", "status", "port"].map(unique);
    let mut labels = Labels::enabled();
    for s in [&good, &status, &port] {
        labels = labels
            .router(s, "rule", &format!("Host(`{s}.test`)"))
            .router(s, "service", s)
            .service(s, "server.port", "8080")
            .service(s, "healthcheck.path", "/health")
            .service(s, "healthcheck.interval", "200ms");
    }
    let labels = labels
        .service(&good, "healthcheck.method", "HEAD")
        .service(&good, "healthcheck.headers.X-Probe", "router")
        .service(&status, "healthcheck.status", "204")
        .service(&port, "healthcheck.port", "9")
        .service(&port, "healthcheck.timeout", "300ms");
    let w = run_whoami(&c, "w", &net, &labels, &[]).await;
    let r = router.wait_status(&format!("{good}.test"), "/", 200).await;
    assert_eq!(hostname_in(&r.text()), Some(w.hostname.as_str()));
    for s in [&status, &port] {
        let r = router.wait_status(&format!("{s}.test"), "/", 503).await;
        assert_eq!(r.text(), "no available server\n");
    }
    // Still in rotation after several intervals.
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let r = router.request(&format!("{good}.test"), "/", &[]).await;
    assert_eq!(r.status, 200);
    // The API's serverStatus says what the checks found, as Traefik's: DOWN for a server
    // that failed its check, UP for one that passes.
    for (s, want) in [(&good, "UP"), (&status, "DOWN"), (&port, "DOWN")] {
        let a = router
            .admin_get(&format!("/api/http/services/{s}@docker"))
            .await;
        let v: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
        let got: Vec<&str> = v["serverStatus"]
            .as_object()
            .map(|m| m.values().filter_map(serde_json::Value::as_str).collect())
            .unwrap_or_default();
        assert_eq!(got, [want], "{s}: {v}");
    }
}
