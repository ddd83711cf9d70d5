//! Containers coming and going under a serving router (events through socket-guard).
//!
//! Proves that: a started container is routed fast (from `docker run` returning to the first
//! 200, printed; under 5 s); a replica being `docker stop`ped costs steady clients no 5xx at
//! all (not even from a pooled connection the replica closes as a request goes out), and once
//! the stop returns every answer comes from the remaining replica; when the only replica stops
//! the route answers 503 with a short plain body (not 404), whether its port comes from a label
//! or from the image's `EXPOSE`, and 200 again once it is started; a replica whose Docker
//! health check is starting or failing gets no request.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e::docker::{real_docker_async_ok, require_docker, Cleanup};
use e2e::router::{
    health_of, hostname_in, qualified, router_guard, run_whoami, unique, usable_backends,
    wait_serving, Labels, Router, BOUND,
};
use e2e::wait_until;
use router::model::table::BackendStatus;

/// The bound for what must be fast; the measured time is printed.
const FAST: Duration = Duration::from_secs(5);

/// Labels for replicas of one service behind `Host(<name>.test)`.
fn replica_labels(name: &str, svc: &str) -> Labels {
    Labels::enabled()
        .router(name, "rule", &format!("Host(`{name}.test`)"))
        .router(name, "service", svc)
        .service(svc, "server.port", "8080")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_started_container_is_routed_fast() {
    require_docker();
    let c = Cleanup::new("rt-start");
    let net = c.network("net");
    let guard = router_guard().start().await;
    let router = Router::builder().start(&guard).await;
    router.wait_synced().await;
    let name = unique("started");
    let host = format!("{name}.test");

    let w = run_whoami(
        &c,
        "w",
        &net,
        &Labels::enabled().router(&name, "rule", &format!("Host(`{host}`)")),
        &[],
    )
    .await;
    let started = Instant::now();
    let body = loop {
        let (status, body) = router.get(&host, "/").await;
        if status == 200 {
            break body;
        }
        assert!(
            started.elapsed() < BOUND,
            "not routed after {BOUND:?}: {status} {body:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let took = started.elapsed();
    println!("from `docker run` returning to the first 200: {took:?}");
    assert_eq!(hostname_in(&body), Some(w.hostname.as_str()), "{body}");
    assert!(took < FAST, "routed after {took:?} (bound {FAST:?})");
}

/// Steady clients during a stop.
const CLIENTS: usize = 4;

/// One answer seen by a steady client.
#[derive(Debug)]
struct Seen {
    sent: Instant,
    status: u16,
    hostname: Option<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_replica_is_unrouted_without_a_single_5xx() {
    require_docker();
    let c = Cleanup::new("rt-stop");
    let net = c.network("net");
    let guard = router_guard().start().await;
    let router = Arc::new(Router::builder().start(&guard).await);
    let (name, svc) = (unique("stop"), unique("stop-svc"));
    let host = format!("{name}.test");
    let labels = replica_labels(&name, &svc);
    let going = run_whoami(&c, "going", &net, &labels, &[]).await;
    let staying = run_whoami(&c, "staying", &net, &labels, &[]).await;
    wait_serving(&going, &net).await;
    wait_serving(&staying, &net).await;
    let shared = router.shared().clone();
    router
        .wait_live("two usable backends", |live| {
            usable_backends(&shared, live, &svc).len() == 2
        })
        .await;

    // Steady clients, each sending one request after the other until told to stop. Several,
    // so that the router keeps several pooled connections to the replica being stopped: one
    // it closes just as a request goes out must not surface as a 502.
    let done = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let (router, done, host) = (router.clone(), done.clone(), host.clone());
        clients.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            while !done.load(Ordering::SeqCst) {
                let sent = Instant::now();
                let (status, body) = router.get(&host, "/").await;
                seen.push(Seen {
                    sent,
                    status,
                    hostname: hostname_in(&body).map(str::to_owned),
                });
            }
            seen
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let stop_began = Instant::now();
    real_docker_async_ok(&["stop", &going.name]).await;
    let stopped = Instant::now();
    println!("docker stop took {:?}", stopped - stop_began);
    tokio::time::sleep(Duration::from_secs(2)).await;
    done.store(true, Ordering::SeqCst);
    let mut seen = Vec::new();
    for client in clients {
        seen.extend(client.await.unwrap());
    }

    let failed: Vec<&Seen> = seen.iter().filter(|s| s.status != 200).collect();
    let before = seen.iter().filter(|s| s.sent < stop_began).count();
    let after: Vec<&Seen> = seen.iter().filter(|s| s.sent >= stopped).collect();
    println!(
        "{} requests: {before} before the stop, {} after it returned, {} not 200",
        seen.len(),
        after.len(),
        failed.len()
    );
    assert!(
        failed.is_empty(),
        "answers other than 200 (the first of {}): {:?}",
        failed.len(),
        &failed[..failed.len().min(10)]
    );
    assert!(
        seen.iter()
            .any(|s| s.sent < stop_began && s.hostname.as_deref() == Some(&going.hostname)),
        "the stopped replica never answered before its stop"
    );
    assert!(after.len() >= 10, "too few requests after the stop");
    let wrong: Vec<&&Seen> = after
        .iter()
        .filter(|s| s.hostname.as_deref() != Some(&staying.hostname))
        .collect();
    assert!(
        wrong.is_empty(),
        "answers after the stop not from {}: {wrong:?}",
        staying.name
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_backend_left_is_503_and_a_restart_brings_200_back() {
    require_docker();
    let c = Cleanup::new("rt-503");
    let net = c.network("net");
    let guard = router_guard().start().await;
    let router = Router::builder().start(&guard).await;
    // One service with its port in a label, one with the port the image exposes (Docker
    // lists no ports for a container that is not running).
    let (labelled, svc) = (unique("only"), unique("only-svc"));
    let exposed = unique("exposed");
    let routes = [
        (
            format!("{labelled}.test"),
            run_whoami(&c, "labelled", &net, &replica_labels(&labelled, &svc), &[]).await,
        ),
        (
            format!("{exposed}.test"),
            run_whoami(
                &c,
                "exposed",
                &net,
                &Labels::enabled().router(&exposed, "rule", &format!("Host(`{exposed}.test`)")),
                &[],
            )
            .await,
        ),
    ];
    for (host, _) in &routes {
        router.wait_status(host, "/", 200).await;
    }

    // Stopped one after the other: once the table shows the last one stopped, it shows both.
    real_docker_async_ok(&["stop", &routes[1].1.name]).await;
    real_docker_async_ok(&["stop", &routes[0].1.name]).await;
    let shared = router.shared().clone();
    router
        .wait_live("the labelled backend stopped", |live| {
            live.table.services.get(&qualified(&svc)).is_some_and(|s| {
                s.backends.len() == 1
                    && s.backends[0].status == BackendStatus::Stopped
                    && s.backends[0].target.is_none()
            })
        })
        .await;
    assert!(usable_backends(&shared, &shared.live.load(), &svc).is_empty());
    for (host, w) in &routes {
        let r = router.request(host, "/", &[]).await;
        assert_eq!(
            r.status,
            503,
            "{} stopped: {}; the table:\n{}",
            w.name,
            r.text(),
            shared.live.load().table.describe().join("\n")
        );
        assert_eq!(r.text(), "no available server\n");
        assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    }

    for (host, w) in &routes {
        real_docker_async_ok(&["start", &w.name]).await;
        let r = router.wait_status(host, "/", 200).await;
        assert_eq!(hostname_in(&r.text()), Some(w.hostname.as_str()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_whose_health_check_is_starting_or_failing_gets_no_request() {
    require_docker();
    let c = Cleanup::new("rt-health");
    let net = c.network("net");
    let guard = router_guard().start().await;
    let router = Router::builder().start(&guard).await;
    let (name, svc) = (unique("health"), unique("health-svc"));
    let host = format!("{name}.test");
    let labels = replica_labels(&name, &svc);
    // The image has no shell and no such file: the check fails from its first run.
    let sick = run_whoami(
        &c,
        "sick",
        &net,
        &labels,
        &[
            "--health-cmd",
            "/whoami-does-not-exist",
            "--health-interval",
            "1s",
            "--health-retries",
            "1",
        ],
    )
    .await;
    // Its first check runs only after five minutes: "starting" for all of this test.
    let starting = run_whoami(
        &c,
        "starting",
        &net,
        &labels,
        &[
            "--health-cmd",
            "/whoami-does-not-exist",
            "--health-interval",
            "300s",
            "--health-start-period",
            "300s",
        ],
    )
    .await;
    let well = run_whoami(&c, "well", &net, &labels, &[]).await;
    wait_serving(&sick, &net).await;
    wait_serving(&starting, &net).await;
    wait_serving(&well, &net).await;

    let all_from_well = |phase: &'static str| {
        let (router, well, host) = (&router, &well, &host);
        async move {
            for _ in 0..20 {
                let (status, body) = router.get(host, "/").await;
                assert_eq!(
                    (status, hostname_in(&body)),
                    (200, Some(well.hostname.as_str())),
                    "{phase}: {body}"
                );
            }
        }
    };
    // Waits until the router's table shows `container` with `status` in the service.
    let seen_as = |what: &'static str, container: String, status: BackendStatus| {
        let (router, svc) = (&router, &svc);
        async move {
            router
                .wait_live(what, |live| {
                    live.table.services.get(&qualified(svc)).is_some_and(|s| {
                        s.backends.iter().any(|b| {
                            b.container() == Some(container.as_str()) && b.status == status
                        })
                    })
                })
                .await;
        }
    };
    router.wait_status(&host, "/", 200).await;
    // The router knows the starting replica (it is left out on purpose, not unseen).
    seen_as(
        "the starting replica seen as starting",
        starting.name.clone(),
        BackendStatus::Starting,
    )
    .await;
    all_from_well("while a health check is starting").await;
    assert_eq!(
        health_of(&starting.name).as_deref(),
        Some("starting"),
        "the phase above ran while the check was starting"
    );

    let sick_name = sick.name.clone();
    assert!(
        wait_until(BOUND, || health_of(&sick_name).as_deref()
            == Some("unhealthy"))
        .await,
        "{} did not turn unhealthy: {:?}",
        sick.name,
        health_of(&sick.name)
    );
    seen_as(
        "the failing replica marked unhealthy",
        sick.name.clone(),
        BackendStatus::Unhealthy,
    )
    .await;
    all_from_well("once unhealthy").await;
}
