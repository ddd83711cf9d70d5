//! socket-guard killed and restarted under a serving router.
//!
//! Proves that: while the guard is down the router keeps serving its last good table (an
//! existing route still answers 200) and counts the failed discovery attempts; a container
//! started meanwhile is not routed (the router is blind, not guessing); once a guard is back
//! on the same address the router resyncs on its own and routes that container.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use e2e::docker::{require_docker, Cleanup};
use e2e::router::{hostname_in, router_guard, run_whoami, unique, Labels, Router, BOUND};
use e2e::wait_until;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_table_serves_while_the_guard_is_down_and_a_new_guard_resyncs() {
    require_docker();
    let c = Cleanup::new("rt-guard");
    let net = c.network("net");
    let guard = router_guard().start_killable().await;
    let addr = guard.addr();
    let router = Router::builder().start(&guard).await;
    let (before, after) = (unique("before"), unique("after"));
    let (before_host, after_host) = (format!("{before}.test"), format!("{after}.test"));
    let old = run_whoami(
        &c,
        "before",
        &net,
        &Labels::enabled().router(&before, "rule", &format!("Host(`{before_host}`)")),
        &[],
    )
    .await;
    router.wait_status(&before_host, "/", 200).await;

    // Kill the guard: every connection to it (the router's /events stream too) ends now.
    let errors = router.shared().metrics.discovery_errors.get();
    drop(guard);
    let metrics = router.shared().metrics.clone();
    assert!(
        wait_until(BOUND, || metrics.discovery_errors.get() > errors).await,
        "the router did not notice the guard going away"
    );
    for _ in 0..10 {
        let (status, body) = router.get(&before_host, "/").await;
        assert_eq!(
            (status, hostname_in(&body)),
            (200, Some(old.hostname.as_str())),
            "with the guard down: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let new = run_whoami(
        &c,
        "after",
        &net,
        &Labels::enabled().router(&after, "rule", &format!("Host(`{after_host}`)")),
        &[],
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, body) = router.get(&after_host, "/").await;
    assert_eq!(status, 404, "routed while the guard was down? {body}");
    let (status, _) = router.get(&before_host, "/").await;
    assert_eq!(status, 200);

    // A guard again, on the same address.
    let guard = router_guard()
        .env("GUARD_LISTEN", &addr.to_string())
        .start()
        .await;
    assert_eq!(guard.addr(), addr);
    let back = Instant::now();
    let r = router.wait_status(&after_host, "/", 200).await;
    println!("routed {:?} after the guard came back", back.elapsed());
    assert_eq!(hostname_in(&r.text()), Some(new.hostname.as_str()));
    let (status, body) = router.get(&before_host, "/").await;
    assert_eq!(
        (status, hostname_in(&body)),
        (200, Some(old.hostname.as_str()))
    );
}
