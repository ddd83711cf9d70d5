//! Sticky sessions (`loadbalancer.sticky.cookie`) across two replicas of a labelled service,
//! end to end through socket-guard: the first answer sets Traefik's cookie (its name, its
//! SHA-256 value, the options), and every request that sends it back lands on the same
//! replica while requests without it are spread; a cookie naming no server is replaced.
#![allow(clippy::unwrap_used)]

use e2e::docker::{require_docker, Cleanup};
use e2e::router::{hostname_in, router_guard, run_whoami, unique, wait_serving, Labels, Router};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sticky_cookie_keeps_a_client_on_its_replica() {
    require_docker();
    let c = Cleanup::new("rt-sticky");
    let net = c.network("net");
    let guard = router_guard().start().await;
    let router = Router::builder().start(&guard).await;
    let app = unique("sticky");
    let host = format!("{app}.test");
    let labels = Labels::enabled()
        .router(&app, "rule", &format!("Host(`{host}`)"))
        .router(&app, "service", &app)
        .service(&app, "server.port", "8080")
        .service(&app, "sticky.cookie.name", "route")
        .service(&app, "sticky.cookie.httponly", "true")
        .service(&app, "sticky.cookie.samesite", "lax");
    let a = run_whoami(&c, "a", &net, &labels, &[]).await;
    let b = run_whoami(&c, "b", &net, &labels, &[]).await;
    wait_serving(&a, &net).await;
    wait_serving(&b, &net).await;
    router.wait_status(&host, "/", 200).await;
    // Both replicas in service: requests without the cookie reach both.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "only {seen:?} answered"
        );
        let r = router.request(&host, "/", &[]).await;
        if r.status == 200 {
            seen.insert(hostname_in(&r.text()).unwrap().to_owned());
        }
    }
    let first = router.request(&host, "/", &[]).await;
    let set = first.header("set-cookie").unwrap().to_owned();
    let value = set
        .strip_prefix("route=")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(value.len(), 16, "{set}");
    assert!(set.ends_with("; Path=/; HttpOnly; SameSite=Lax"), "{set}");
    let replica = hostname_in(&first.text()).unwrap().to_owned();
    for _ in 0..8 {
        let r = router
            .request(
                &host,
                "/",
                &[("Cookie", &format!("other=1; route={value}"))],
            )
            .await;
        assert_eq!(hostname_in(&r.text()), Some(replica.as_str()));
        assert_eq!(r.header("set-cookie"), None, "a valid cookie was set again");
    }
    // A value naming no server: a replica is chosen and the cookie replaced.
    let r = router
        .request(&host, "/", &[("Cookie", "route=0123456789abcdef")])
        .await;
    assert_eq!(r.status, 200);
    assert!(
        r.header("set-cookie")
            .is_some_and(|v| v.starts_with("route=")),
        "{:?}",
        r.headers
    );
}
