//! The file provider's `weighted` and `failover` services and server weights, end to end:
//! routers from a real container's labels (through socket-guard) use services defined in a
//! dynamic file whose servers are Debian's nginx. A `weighted` service splits requests by its
//! weights, interleaved; servers with weights do the same, and a container with
//! `server.weight=0` gets nothing; a `failover` service sends to its fallback while its main
//! service's health check fails, and to the main one while it passes; a `weighted` service
//! with `healthCheck: {}` skips a service whose servers are all unhealthy; a `weighted` one
//! naming a service that does not exist disables its routers.
#![allow(clippy::unwrap_used)]

use e2e::docker::{require_docker, Cleanup};
use e2e::make::free_port;
use e2e::nginx::Nginx;
use e2e::router::{hostname_in, router_guard, run_whoami, unique, Labels, Router};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weighted_failover_and_server_weights() {
    require_docker();
    let (blue, green, sick) = (free_port(), free_port(), free_port());
    let _nginx = Nginx::start(
        &format!(
            r#"
  server {{ listen 127.0.0.1:{blue}; location /health {{ return 200; }} location / {{ return 200 "blue\n"; }} }}
  server {{ listen 127.0.0.1:{green}; location /health {{ return 200; }} location / {{ return 200 "green\n"; }} }}
  server {{ listen 127.0.0.1:{sick}; location /health {{ return 500; }} location / {{ return 200 "sick\n"; }} }}
"#
        ),
        &[blue, green, sick],
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dynamic.yml");
    let checked = |port: u16| {
        format!(
            "      loadBalancer:\n        servers: [{{url: \"http://127.0.0.1:{port}\"}}]\n        healthCheck: {{path: /health, interval: 200ms}}\n"
        )
    };
    std::fs::write(
        &file,
        format!(
            r#"http:
  services:
    blue:
{}    green:
{}    sick:
{}    canary:
      weighted:
        services:
          - name: blue
            weight: 3
          - name: green
            weight: 1
    pair:
      loadBalancer:
        servers:
          - url: "http://127.0.0.1:{blue}"
            weight: 2
          - url: "http://127.0.0.1:{green}"
            weight: 1
    fo:
      failover:
        service: sick
        fallback: green
    fo-ok:
      failover:
        service: blue
        fallback: green
    skipping:
      weighted:
        healthCheck: {{}}
        services:
          - name: sick
            weight: 5
          - name: blue
    dangling:
      weighted:
        services:
          - name: nowhere
"#,
            checked(blue),
            checked(green),
            checked(sick),
        ),
    )
    .unwrap();
    let c = Cleanup::new("rt-svc");
    let net = c.network("net");
    let guard = router_guard().start().await;
    let router = Router::builder().with_file(&file).start(&guard).await;
    let names = ["canary", "pair", "fo", "fo-ok", "skipping", "dangling"];
    let hosts = names.map(unique);
    let mut labels = Labels::enabled();
    for (svc, host) in names.iter().zip(&hosts) {
        labels = labels
            .router(host, "rule", &format!("Host(`{host}.test`)"))
            .router(host, "service", &format!("{svc}@file"));
    }
    run_whoami(&c, "w", &net, &labels, &[]).await;
    let [canary, pair, fo, fo_ok, skipping, dangling] = hosts.map(|h| format!("{h}.test"));
    router.wait_status(&canary, "/", 200).await;
    let bodies = |host: String, n: usize| {
        let router = &router;
        async move {
            let mut out = Vec::new();
            for _ in 0..n {
                let r = router.request(&host, "/", &[]).await;
                assert_eq!(r.status, 200, "{host}: {}", r.text());
                out.push(r.text().trim().to_owned());
            }
            out
        }
    };
    // 3:1, interleaved (the first request, from wait_status, was one of them).
    let seen = bodies(canary.clone(), 11).await;
    let greens = seen.iter().filter(|b| *b == "green").count();
    assert_eq!((seen.len() - greens, greens), (8, 3), "{seen:?}");
    assert!(
        seen.windows(5).all(|w| w.iter().any(|b| b == "green")),
        "{seen:?}"
    );
    let seen = bodies(pair.clone(), 9).await;
    assert_eq!(seen.iter().filter(|b| *b == "blue").count(), 6, "{seen:?}");

    // Failover: sick's check fails, so its fallback answers; blue's passes, so blue does.
    let r = router.wait_body(&fo, "/", "green\n").await;
    assert_eq!(r.status, 200);
    assert!(bodies(fo.clone(), 5).await.iter().all(|b| b == "green"));
    assert!(bodies(fo_ok.clone(), 5).await.iter().all(|b| b == "blue"));
    // The weighted one with healthCheck skips sick once its check has failed.
    router.wait_body(&skipping, "/", "blue\n").await;
    assert!(bodies(skipping.clone(), 6)
        .await
        .iter()
        .all(|b| b == "blue"));
    // A weighted service naming nothing that exists: its router is disabled.
    let r = router.request(&dangling, "/", &[]).await;
    assert_eq!(r.status, 404, "{}", r.text());

    // A container with server.weight=0 among two replicas of one service gets nothing.
    let rep = unique("rep");
    let base = Labels::enabled()
        .router(&rep, "rule", &format!("Host(`{rep}.test`)"))
        .router(&rep, "service", &rep)
        .service(&rep, "server.port", "8080");
    let heavy = run_whoami(&c, "r1", &net, &base, &[]).await;
    let _idle = run_whoami(
        &c,
        "r2",
        &net,
        &base.clone().service(&rep, "server.weight", "0"),
        &[],
    )
    .await;
    let host = format!("{rep}.test");
    router.wait_status(&host, "/", 200).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    for _ in 0..6 {
        let r = router.request(&host, "/", &[]).await;
        assert_eq!(hostname_in(&r.text()), Some(heavy.hostname.as_str()));
    }
}
