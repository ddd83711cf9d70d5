//! `ROUTER_PUBLISH` with N routed containers: the publication's keys and bytes, the cost to
//! build them, and the time to write them into real stores — all of them (a first
//! publication) and one container's change (the usual one) — with a consumer's whole read
//! and compile after it. The stores' endpoints come from the environment (bench/kv.sh starts
//! them); without them only the building is measured.
//!
//!     ETCD=127.0.0.1:2379 REDIS=127.0.0.1:6379 \
//!       cargo run --release -p router --example kv_publish -- 1000

use std::collections::BTreeMap;
use std::time::Instant;

/// The router's allocator, as in its binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use router::cluster::publish::publication;
use router::cluster::wire::Message;
use router::kv::{KvProvider, Store};
use router::model::compile::compile;

#[path = "shapes/mod.rs"]
mod shapes;

fn message(n: usize, changed: Option<usize>) -> Message {
    let view = (0..n)
        .map(|i| {
            let mut c = shapes::container_at(i);
            if Some(i) == changed {
                // One container replaced: a new address.
                for ip in c.networks.values_mut() {
                    *ip = Some([10, 9, 9, 9].into());
                }
            }
            c
        })
        .collect();
    shapes::message(view)
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let rounds = 10;
    let base = message(n, None);
    let mut build = Vec::new();
    let mut p = publication("traefik", &base);
    for _ in 0..rounds {
        let t = Instant::now();
        p = publication("traefik", &base);
        build.push(ms(t));
    }
    let bytes: usize = p.pairs.iter().map(|(k, v)| k.len() + v.len()).sum();
    println!(
        "{n} containers: {} keys, {:.0} KiB of keys and values; built in {:.1} ms (median of {rounds})",
        p.pairs.len(),
        bytes as f64 / 1024.0,
        median(build)
    );
    let changed = publication("traefik", &message(n, Some(n / 2)));
    let (dels, puts) = router::kv::write::diff(&p.pairs, &changed.pairs);
    println!(
        "one container's new address: {} keys deleted, {} written",
        dels.len(),
        puts.len()
    );
    for (var, store) in [("ETCD", Store::Etcd), ("REDIS", Store::Redis)] {
        let Ok(endpoint) = std::env::var(var) else {
            continue;
        };
        let mut target = KvProvider::traefik_defaults(store);
        target.endpoints = vec![endpoint];
        write_and_read(&target, &p.pairs, &changed.pairs, rounds).await;
    }
}

/// Writes `all` (after clearing), then alternates `all` and `changed` as one-change
/// transactions; reads the whole root back and compiles it as a consumer does.
async fn write_and_read(
    target: &KvProvider,
    all: &BTreeMap<String, String>,
    changed: &BTreeMap<String, String>,
    rounds: usize,
) {
    let name = target.store.name();
    let eps = shapes::entry_points();
    let pairs = |m: &BTreeMap<String, String>| -> Vec<(String, String)> {
        m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    };
    let (mut first, mut change, mut read) = (Vec::new(), Vec::new(), Vec::new());
    let mut routes = 0;
    for _ in 0..rounds {
        let every: Vec<String> = all.keys().cloned().collect();
        commit(target, &every, &[]).await;
        let t = Instant::now();
        commit(target, &[], &pairs(all)).await;
        first.push(ms(t));
        for (from, to) in [(all, changed), (changed, all)] {
            let (d, p) = router::kv::write::diff(from, to);
            let t = Instant::now();
            commit(target, &d, &p).await;
            change.push(ms(t));
        }
        let t = Instant::now();
        let got = read_all(target).await;
        let snap = router::provider::kv::snapshot(name, "traefik", &got);
        routes = compile([&snap], &eps).routes.len();
        read.push(ms(t));
    }
    println!(
        "{name}: first publication {:.0} ms, one container's change {:.1} ms, a consumer's read and compile {:.0} ms ({routes} routes) (medians of {rounds})",
        median(first),
        median(change),
        median(read)
    );
}

async fn commit(target: &KvProvider, dels: &[String], puts: &[(String, String)]) {
    match target.store {
        Store::Etcd => {
            let s = router::kv::etcd::Session::open(target, None)
                .await
                .expect("etcd answers");
            s.txn(dels, puts).await.expect("the transaction");
        }
        Store::Redis => {
            let mut c = router::kv::redis::Conn::open(target, None)
                .await
                .expect("redis answers");
            c.transaction(dels, puts).await.expect("the transaction");
        }
    }
}

async fn read_all(target: &KvProvider) -> Vec<(String, String)> {
    match target.store {
        Store::Etcd => {
            let mut s = router::kv::etcd::Session::open(target, None)
                .await
                .expect("etcd answers");
            s.read().await.expect("a read")
        }
        Store::Redis => {
            let mut c = router::kv::redis::Conn::open(target, None)
                .await
                .expect("redis answers");
            c.read_root(target.root(), &target.generation_key())
                .await
                .expect("a read")
        }
    }
}
