//! `ROUTER_PUBLISH`: a router writes its configuration into Debian's etcd and Redis in
//! Traefik's KV layout, one transaction per publication, and routers that read those stores
//! (with no Docker access) serve what it discovered.
//!
//! Atomicity is checked from outside the router: while the file provider is rewritten many
//! times (each version renames every router's host and changes how many routers there are),
//! readers take whole snapshots in a tight loop — `etcdctl get --prefix` (one revision) and a
//! Redis Lua script (scripts run alone) — and every snapshot must be exactly one version:
//! one host version across all routers, as many routers as that version has, each router's
//! service present, and the generation key moving forward only.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use e2e::docker::{require_docker, Cleanup};
use e2e::kv::{Etcd, Redis};
use e2e::router::{router_guard, run_whoami, unique, wait_serving, Labels, Router};

/// How many routers version `v` of the file has.
fn routers_in(v: usize) -> usize {
    3 + v % 5
}

/// Version `v` of the dynamic file: routers `r0..` with hosts `v<v>-r<i>.pub.test`.
fn version(v: usize) -> String {
    let mut y = String::from("http:\n  routers:\n");
    for i in 0..routers_in(v) {
        y.push_str(&format!(
            "    r{i}:\n      rule: Host(`v{v}-r{i}.pub.test`)\n      service: s{i}\n"
        ));
    }
    y.push_str("  services:\n");
    for i in 0..routers_in(v) {
        y.push_str(&format!(
            "    s{i}:\n      loadBalancer:\n        servers: [{{url: \"http://127.0.0.1:9/{v}\"}}]\n"
        ));
    }
    y
}

/// Checks one snapshot of the store; returns its generation. Panics on a partial one.
fn check(snapshot: &BTreeMap<String, String>, store: &str) -> Option<u64> {
    let generation = snapshot.get("traefik/generation")?.parse::<u64>().unwrap();
    let mut versions = std::collections::BTreeSet::new();
    let mut routers = 0;
    for (k, v) in snapshot {
        let Some(rest) = k.strip_prefix("traefik/http/routers/") else {
            continue;
        };
        let (name, field) = rest.split_once('/').unwrap();
        if !name.starts_with('r') || name.contains("whoami") {
            continue;
        }
        match field {
            "rule" => {
                routers += 1;
                let version = v
                    .strip_prefix("Host(`v")
                    .and_then(|r| r.split_once('-'))
                    .map(|(n, _)| n.parse::<usize>().unwrap())
                    .unwrap_or_else(|| panic!("{store}: {k} = {v}"));
                versions.insert(version);
            }
            "service" => assert!(
                snapshot.contains_key(&format!(
                    "traefik/http/services/{v}/loadBalancer/servers/0/url"
                )),
                "{store}: generation {generation}: {k} names {v}, which is not there: {snapshot:#?}"
            ),
            _ => {}
        }
    }
    if versions.is_empty() {
        return Some(generation);
    }
    assert_eq!(
        versions.len(),
        1,
        "{store}: generation {generation} mixes versions {versions:?}: {snapshot:#?}"
    );
    let v = *versions.iter().next().unwrap();
    assert_eq!(
        routers,
        routers_in(v),
        "{store}: generation {generation} has {routers} routers of version {v}: {snapshot:#?}"
    );
    Some(generation)
}

fn etcd_snapshot(etcd: &Etcd) -> BTreeMap<String, String> {
    let out = etcd.ctl(&["get", "--prefix", "traefik/", "-w", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let b64 = |v: &serde_json::Value| {
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(v.as_str().unwrap_or_default())
                .unwrap(),
        )
        .unwrap()
    };
    v["kvs"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|kv| (b64(&kv["key"]), b64(&kv["value"])))
        .collect()
}

/// Every key under `traefik/` and its value, read by one Lua script (atomic in Redis).
fn redis_snapshot(redis: &Redis) -> BTreeMap<String, String> {
    let out = redis.cli(&[
        "--raw",
        "EVAL",
        "local out = {} for _, k in ipairs(redis.call('KEYS', 'traefik/*')) do out[#out+1] = k out[#out+1] = redis.call('GET', k) end return out",
        "0",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    lines
        .chunks(2)
        .filter(|c| c.len() == 2)
        .map(|c| (c[0].to_owned(), c[1].to_owned()))
        .collect()
}

/// Reads `read` in a tight loop until `stop`; checks each snapshot; returns how many reads
/// were made and the generations seen.
fn tight_loop(
    stop: Arc<AtomicBool>,
    store: &'static str,
    read: impl Fn() -> BTreeMap<String, String> + Send + 'static,
) -> std::thread::JoinHandle<(usize, Vec<u64>)> {
    std::thread::spawn(move || {
        let mut reads = 0;
        let mut seen: Vec<u64> = Vec::new();
        while !stop.load(Ordering::SeqCst) {
            let snap = read();
            reads += 1;
            if let Some(g) = check(&snap, store) {
                if let Some(last) = seen.last() {
                    assert!(
                        g >= *last,
                        "{store}: generation went back from {last} to {g}"
                    );
                }
                if seen.last() != Some(&g) {
                    seen.push(g);
                }
            }
        }
        (reads, seen)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_in_a_tight_loop_never_see_half_a_publication() {
    require_docker();
    let etcd = Arc::new(Etcd::start());
    let redis = Arc::new(Redis::start(&[]));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dynamic.yml");
    std::fs::write(&file, version(0)).unwrap();
    let guard = router_guard().start().await;
    let publisher = Router::builder()
        .with_file(&file)
        .env(
            "ROUTER_PUBLISH",
            &format!("etcd://{} redis://{}", etcd.endpoint(), redis.endpoint()),
        )
        .start(&guard)
        .await;
    publisher.wait_synced().await;

    let stop = Arc::new(AtomicBool::new(false));
    let e = etcd.clone();
    let etcd_reader = tight_loop(stop.clone(), "etcd", move || etcd_snapshot(&e));
    let r = redis.clone();
    let redis_reader = tight_loop(stop.clone(), "redis", move || redis_snapshot(&r));
    const VERSIONS: usize = 25;
    for v in 1..=VERSIONS {
        std::fs::write(&file, version(v)).unwrap();
        // The file provider checks every 250 ms: each version is published.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // The last version reaches both stores.
    let last = format!("Host(`v{VERSIONS}-r0.pub.test`)");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while etcd_snapshot(&etcd).get("traefik/http/routers/r0/rule") != Some(&last)
        || redis_snapshot(&redis).get("traefik/http/routers/r0/rule") != Some(&last)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "version {VERSIONS} not written"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::SeqCst);
    for (store, reader) in [("etcd", etcd_reader), ("redis", redis_reader)] {
        let (reads, generations) = reader.join().unwrap();
        // The readers saw the publications go by, not only the first and last.
        assert!(
            generations.len() >= VERSIONS / 3,
            "{store}: {reads} reads saw only generations {generations:?}"
        );
        eprintln!(
            "{store}: {reads} whole reads, {} generations",
            generations.len()
        );
    }
    // Keys outside the configuration are left alone; deleted routers are gone.
    assert!(etcd_snapshot(&etcd)
        .keys()
        .all(|k| k == "traefik/generation" || k.starts_with("traefik/http/")));
    let n = routers_in(VERSIONS);
    assert!(!redis_snapshot(&redis).contains_key(&format!("traefik/http/routers/r{n}/rule")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routers_reading_the_stores_serve_what_a_controller_discovered() {
    require_docker();
    let etcd = Etcd::start();
    let redis = Redis::start(&["--requirepass", "pubpw"]);
    let c = Cleanup::new("rt-kvpub");
    let net = c.network("net");
    let host = format!("{}.test", unique("kvpub"));
    let labels = Labels::enabled()
        .router("kvpub", "rule", &format!("Host(`{host}`)"))
        .router("kvpub", "middlewares", "mark")
        .middleware("mark", "headers.customresponseheaders.X-Published", "yes");
    let w = run_whoami(&c, "w", &net, &labels, &[]).await;
    wait_serving(&w, &net).await;

    let guard = router_guard().start().await;
    // The publisher is a cluster-mode controller, serving a data plane at the same time.
    let dir = tempfile::tempdir().unwrap();
    let pki = e2e::pki::pki().write(dir.path());
    let controller = Router::builder()
        .env("ROUTER_CONTROLLER_TLS_CA", &pki.ca)
        .env("ROUTER_CONTROLLER_TLS_CERT", &pki.server.0)
        .env("ROUTER_CONTROLLER_TLS_KEY", &pki.server.1)
        .controller_on(None)
        .env("ROUTER_NETWORK", &net)
        .env(
            "ROUTER_PUBLISH",
            &format!(
                "etcd://{} redis://:pubpw@{}?db=2",
                etcd.endpoint(),
                redis.endpoint()
            ),
        )
        .start(&guard)
        .await;
    let plane = Router::builder()
        .env("ROUTER_CONTROLLER_TLS_CA", &pki.ca)
        .env("ROUTER_CONTROLLER_TLS_CERT", &pki.client.0)
        .env("ROUTER_CONTROLLER_TLS_KEY", &pki.client.1)
        .env(
            "ROUTER_CONTROLLER",
            &format!("localhost:{}", controller.controller_addr().port()),
        )
        .start_data_plane()
        .await;
    plane.wait_status(&host, "/", 200).await;
    // Readers with no Docker access at all.
    let from_etcd = Router::builder()
        .flags(&[&format!("--providers.etcd.endpoints={}", etcd.endpoint())])
        .start_without_docker()
        .await;
    let from_redis = Router::builder()
        .flags(&[
            &format!("--providers.redis.endpoints={}", redis.endpoint()),
            "--providers.redis.password=pubpw",
            "--providers.redis.db=2",
        ])
        .start_without_docker()
        .await;
    for (store, reader) in [("etcd", &from_etcd), ("redis", &from_redis)] {
        let r = reader.wait_status(&host, "/", 200).await;
        assert!(
            r.text().contains(&format!("Hostname: {}", w.hostname)),
            "{store}: {r:?}"
        );
        assert_eq!(r.header("x-published"), Some("yes"), "{store}: {r:?}");
        assert!(reader.has_route(&format!("kvpub@{store}")));
    }
    // The container stopped: the readers follow what the publisher wrote.
    e2e::docker::real_docker_async_ok(&["stop", "-t", "1", &w.name]).await;
    for reader in [&from_etcd, &from_redis] {
        reader
            .wait_for(&host, "/", "not the stopped container", |r| r.status != 200)
            .await;
    }
}

/// `n` routers `big<i>` on hosts `v<v>-big<i>.pub.test`, each with its own service.
fn big_version(v: usize, n: usize) -> String {
    let mut y = String::from("http:\n  routers:\n");
    for i in 0..n {
        y.push_str(&format!(
            "    big{i}:\n      rule: Host(`v{v}-big{i}.pub.test`)\n      service: bigs{i}\n"
        ));
    }
    y.push_str("  services:\n");
    for i in 0..n {
        y.push_str(&format!(
            "    bigs{i}:\n      loadBalancer:\n        servers: [{{url: \"http://127.0.0.1:9/{v}\"}}]\n"
        ));
    }
    y
}

/// Routers whose service is missing from a snapshot.
fn dangling(snapshot: &BTreeMap<String, String>) -> Vec<String> {
    snapshot
        .iter()
        .filter(|(k, _)| k.starts_with("traefik/http/routers/") && k.ends_with("/service"))
        .filter(|(_, s)| {
            !snapshot.contains_key(&format!(
                "traefik/http/services/{s}/loadBalancer/servers/0/url"
            ))
        })
        .map(|(k, _)| k.clone())
        .collect()
}

/// etcd at its default `--max-txn-ops` (128) refuses a change of 181 operations as one
/// transaction (its real error, through its gateway): the publication is then written in
/// several, and the whole configuration arrives, deletions included. A reader in a tight loop
/// meanwhile must never see a router whose service is missing (services are written before the
/// routers that use them, routers deleted before their services; a read may also miss the
/// few milliseconds between those transactions, so the order itself is unit-tested in
/// `kv::write`). Two versions may be seen mixed there: README says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_too_big_for_one_etcd_transaction_keeps_references_whole() {
    require_docker();
    let etcd = Arc::new(Etcd::start());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dynamic.yml");
    std::fs::write(&file, big_version(0, 60)).unwrap();
    let guard = router_guard().start().await;
    let stop = Arc::new(AtomicBool::new(false));
    let (e, s) = (etcd.clone(), stop.clone());
    let reader = std::thread::spawn(move || {
        let mut reads = 0;
        while !s.load(Ordering::SeqCst) {
            let snap = etcd_snapshot(&e);
            let d = dangling(&snap);
            assert!(d.is_empty(), "routers without their service: {d:?}");
            reads += 1;
        }
        reads
    });
    let _publisher = Router::builder()
        .with_file(&file)
        .env("ROUTER_PUBLISH", &format!("etcd://{}", etcd.endpoint()))
        .start(&guard)
        .await;
    let routers = |snap: &BTreeMap<String, String>, v: usize| {
        snap.iter()
            .filter(|(k, r)| k.ends_with("/rule") && r.starts_with(&format!("Host(`v{v}-")))
            .count()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while routers(&etcd_snapshot(&etcd), 0) != 60 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the 60 routers never all arrived"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Every router renamed and half of them gone: deletions and puts over several
    // transactions again.
    std::fs::write(&file, big_version(1, 30)).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let snap = etcd_snapshot(&etcd);
        let total = snap.keys().filter(|k| k.ends_with("/rule")).count();
        if routers(&snap, 1) == 30 && total == 30 {
            assert!(
                !snap.keys().any(|k| k.contains("/bigs30/")),
                "a deleted service is left"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "version 1 never arrived whole"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::SeqCst);
    let reads = reader.join().unwrap();
    assert!(reads > 5, "only {reads} reads");
}
