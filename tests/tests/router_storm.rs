//! A storm of starts: 500 labelled containers started at once (eight `docker run` at a time,
//! as fast as this daemon starts them) through socket-guard's router preset are all routed,
//! and a steady client of another route, requesting all along, sees no error meanwhile: the
//! router follows the burst without dropping or stalling the traffic it already serves.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e::docker::{require_docker, Cleanup};
use e2e::router::{router_guard, run_whoami, unique, Labels, Router};
use futures_util::StreamExt;

/// How many containers start in the storm.
const STORM: usize = 500;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_containers_started_at_once_are_all_routed_and_other_traffic_sees_no_error() {
    require_docker();
    let c = Cleanup::new("rt-storm");
    let net = c.network("net");
    let guard = router_guard().start().await;
    let router = Arc::new(Router::builder().start(&guard).await);
    let app = unique("storm");
    let steady = format!("{app}-steady.test");
    let labels = Labels::enabled()
        .router("steady", "rule", &format!("Host(`{steady}`)"))
        .service("steady", "server.port", "8080");
    run_whoami(&c, "steady", &net, &labels, &[]).await;
    router.wait_status(&steady, "/", 200).await;

    // The steady client: a request every 10 ms until the storm is routed.
    let done = Arc::new(AtomicBool::new(false));
    let (asked, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let client = {
        let (router, steady, done) = (router.clone(), steady.clone(), done.clone());
        let (asked, failed) = (asked.clone(), failed.clone());
        tokio::spawn(async move {
            let mut statuses = Vec::new();
            while !done.load(Ordering::Relaxed) {
                let (status, _) = router.get(&steady, "/").await;
                asked.fetch_add(1, Ordering::Relaxed);
                if status != 200 {
                    failed.fetch_add(1, Ordering::Relaxed);
                    statuses.push(status);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            statuses
        })
    };

    let started = Instant::now();
    let hosts: Vec<String> = (0..STORM).map(|i| format!("{app}-{i}.test")).collect();
    let runs = futures_util::stream::iter(hosts.iter().enumerate().map(|(i, host)| {
        let labels = Labels::enabled()
            .router(&format!("s{i}"), "rule", &format!("Host(`{host}`)"))
            .service(&format!("s{i}"), "server.port", "8080");
        let (c, net) = (&c, &net);
        async move { run_whoami(c, &format!("s{i}"), net, &labels, &[]).await }
    }))
    .buffer_unordered(8)
    .collect::<Vec<_>>()
    .await;
    assert_eq!(runs.len(), STORM);
    let all_started = started.elapsed();

    // Every route of the storm is in the table, and answers.
    let storm_routes = |live: &router::live::Live| {
        live.table
            .routes
            .iter()
            .filter(|r| r.name.starts_with('s') && r.name.ends_with("@docker"))
            .filter(|r| r.name[1..r.name.len() - 7].parse::<usize>().is_ok())
            .count()
    };
    router
        .wait_live("every storm container routed", |live| {
            storm_routes(live) == STORM
        })
        .await;
    let routed = started.elapsed();
    for host in &hosts {
        router.wait_status(host, "/", 200).await;
    }
    done.store(true, Ordering::Relaxed);
    let statuses = client.await.unwrap();
    eprintln!(
        "{STORM} containers started in {all_started:?}, all routed {routed:?} after the first start; steady client: {} requests",
        asked.load(Ordering::Relaxed)
    );
    assert!(
        asked.load(Ordering::Relaxed) > 100,
        "the steady client barely ran"
    );
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "the steady route failed during the storm: {statuses:?}"
    );
}
