//! The router's admin API and its reporting of bad labels, against real containers.
//!
//! Proves that: `/ping` answers `OK`; `/api/routers` lists a route with its rule, service,
//! entry points and containers; `/api/services` lists its backend with the container's
//! address; `/metrics` counts the requests served (`router_requests_total` by router and
//! status class); and a container with a broken rule (an unclosed `Host(`) is not routed while
//! the others are, with an issue naming that container and the rule label.
#![allow(clippy::unwrap_used)]

use e2e::docker::{require_docker, Cleanup};
use e2e::router::{hostname_in, ip_on, router_guard, run_whoami, unique, Labels, Router};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_routers_services_and_metrics() {
    require_docker();
    let c = Cleanup::new("rt-admin");
    let net = c.network("net");
    let guard = router_guard().start().await;
    let router = Router::builder().admin().start(&guard).await;

    let ping = router.admin_get("/ping").await;
    assert_eq!((ping.status, ping.text().as_str()), (200, "OK\n"));

    let (name, svc) = (unique("admin"), unique("admin-svc"));
    let host = format!("{name}.test");
    let rule = format!("Host(`{host}`)");
    let labels = Labels::enabled()
        .router(&name, "rule", &rule)
        .router(&name, "service", &svc)
        .service(&svc, "server.port", "8080");
    let w = run_whoami(&c, "w", &net, &labels, &[]).await;
    let r = router.wait_status(&host, "/", 200).await;
    assert_eq!(hostname_in(&r.text()), Some(w.hostname.as_str()));

    let v = router.admin_json("/api/routers").await;
    let route = v["routers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == format!("{name}@docker").as_str())
        .unwrap_or_else(|| panic!("router {name} is not listed: {v:#}"));
    assert_eq!(route["rule"], rule.as_str(), "{route:#}");
    assert_eq!(
        route["service"],
        format!("{svc}@docker").as_str(),
        "{route:#}"
    );
    assert_eq!(route["sources"], serde_json::json!([w.name]), "{route:#}");
    assert!(
        route["entrypoints"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("web")),
        "{route:#}"
    );

    let v = router.admin_json("/api/services").await;
    let service = v["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == format!("{svc}@docker").as_str())
        .unwrap_or_else(|| panic!("service {svc} is not listed: {v:#}"));
    let backend = &service["backends"][0];
    assert_eq!(backend["container"], w.name.as_str(), "{service:#}");
    assert_eq!(
        backend["address"],
        format!("{}:8080", ip_on(&w.name, &net)).as_str(),
        "{service:#}"
    );
    assert_eq!(backend["docker_status"], "ready", "{service:#}");
    assert_eq!(backend["usable"], true, "{service:#}");

    let m = router.admin_get("/metrics").await;
    assert_eq!(m.status, 200);
    assert!(
        m.header("content-type")
            .is_some_and(|t| t.starts_with("text/plain; version=0.0.4")),
        "{:?}",
        m.headers
    );
    let text = m.text();
    let counted = format!("router_requests_total{{router=\"{name}@docker\",code=\"2xx\"}} ");
    assert!(
        text.lines().any(|l| l.starts_with(&counted)),
        "no {counted:?} in:\n{text}"
    );
    assert!(text.contains("router_routes "), "{text}");

    let missing = router.admin_get("/nothing-here").await;
    assert_eq!(missing.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_rule_on_one_container_leaves_the_others_routed_and_is_reported() {
    require_docker();
    let c = Cleanup::new("rt-badlabel");
    let net = c.network("net");
    let guard = router_guard().start().await;
    let router = Router::builder().admin().start(&guard).await;

    let bad_router = unique("bad");
    let bad_host = format!("{bad_router}.test");
    let bad = run_whoami(
        &c,
        "bad",
        &net,
        // Unclosed: `Host(\`...\`` without its `)`.
        &Labels::enabled().router(&bad_router, "rule", &format!("Host(`{bad_host}`")),
        &[],
    )
    .await;
    let good_router = unique("good");
    let good_host = format!("{good_router}.test");
    let good = run_whoami(
        &c,
        "good",
        &net,
        &Labels::enabled().router(&good_router, "rule", &format!("Host(`{good_host}`)")),
        &[],
    )
    .await;

    // The good one was started last: once it is routed, the bad one has been seen too.
    let r = router.wait_status(&good_host, "/", 200).await;
    assert_eq!(hostname_in(&r.text()), Some(good.hostname.as_str()));
    let (status, body) = router.get(&bad_host, "/").await;
    assert_eq!(status, 404, "{body}");

    let rule_label = format!("traefik.http.routers.{bad_router}.rule");
    for path in ["/api/routers", "/api/issues"] {
        let v = router.admin_json(path).await;
        let issues = v["issues"].as_array().unwrap();
        let issue = issues
            .iter()
            .find(|i| i["source"] == bad.name.as_str())
            .unwrap_or_else(|| panic!("no issue for {} in {path}: {v:#}", bad.name));
        assert_eq!(issue["level"], "error", "{issue:#}");
        assert_eq!(issue["key"], rule_label.as_str(), "{issue:#}");
        assert!(
            issue["message"]
                .as_str()
                .is_some_and(|m| m.contains("router disabled")),
            "{issue:#}"
        );
        assert!(
            !issues
                .iter()
                .any(|i| i["source"] == good.name.as_str() && i["level"] == "error"),
            "the good container has an error: {v:#}"
        );
    }
    let v = router.admin_json("/api/routers").await;
    let names: Vec<&str> = v["routers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(
        names.contains(&format!("{good_router}@docker").as_str()),
        "{names:?}"
    );
    assert!(!names.iter().any(|n| n.contains(&bad_router)), "{names:?}");
}
