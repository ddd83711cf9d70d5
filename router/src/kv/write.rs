//! Writing a router's configuration into KV stores (`ROUTER_PUBLISH`), in Traefik's layout
//! ([`crate::cluster::publish`]), so that any KV consumer — a Traefik with `providers.etcd` or
//! `providers.redis`, a router — serves what this one discovered.
//!
//! Each publication is written as the difference from what the store holds (read once at
//! connection: keys a previous writer left are deleted), in one transaction with the
//! generation key (`<rootKey>/generation`, a number): etcd's `txn`, Redis's `MULTI`/`EXEC`.
//! A reader sees a whole configuration or the one before, never half of one. One exception is
//! said in the log: etcd refuses a transaction of more operations than its `--max-txn-ops`
//! (128 by default); such a change is written in several transactions, definitions before the
//! routers that use them (deletions the other way round), with the generation key last —
//! raise `--max-txn-ops` to keep big changes atomic.
//!
//! Only the configuration sections (`http`, `tcp`, `udp`, `tls`) and the generation key are
//! written; other keys under the root are left alone. A store that cannot be reached is
//! retried (1 s to 30 s) and gets the latest publication when it is back.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{etcd, redis, KvProvider, Store};
use crate::cluster::hub::Hub;
use crate::cluster::publish;

/// One transaction's deletions and puts.
type Change = (Vec<String>, Vec<(String, String)>);

/// How many operations an etcd transaction gets when the whole change was refused.
const ETCD_CHUNK: usize = 128;

enum Writer {
    Etcd(Box<etcd::Session>),
    Redis(redis::Conn),
}

impl Writer {
    async fn open(p: &KvProvider, tls: Option<&Arc<rustls::ClientConfig>>) -> Result<Self, String> {
        Ok(match p.store {
            Store::Etcd => Writer::Etcd(Box::new(etcd::Session::open(p, tls).await?)),
            Store::Redis => Writer::Redis(redis::Conn::open(p, tls).await?),
        })
    }

    async fn read(&mut self, p: &KvProvider) -> Result<Vec<(String, String)>, String> {
        match self {
            Writer::Etcd(s) => s.read().await,
            Writer::Redis(c) => c.read_root(p.root(), &p.generation_key()).await,
        }
    }

    /// Writes one change; says whether it was one transaction.
    async fn commit(&mut self, dels: &[String], puts: &[(String, String)]) -> Result<bool, String> {
        match self {
            Writer::Redis(c) => c.transaction(dels, puts).await.map(|()| true),
            Writer::Etcd(s) => match s.txn(dels, puts).await {
                Ok(()) => Ok(true),
                Err(e) if e.contains("too many operations") => {
                    for (d, p) in chunks(dels, puts, ETCD_CHUNK) {
                        s.txn(&d, &p).await?;
                    }
                    Ok(false)
                }
                Err(e) => Err(e),
            },
        }
    }
}

/// A change split into transactions of at most `n` operations: definitions first, routers
/// after them, then deletions of routers before the definitions they used; the generation
/// key (the last put) in the last transaction.
fn chunks(dels: &[String], puts: &[(String, String)], n: usize) -> Vec<Change> {
    let is_router = |k: &str| k.contains("/routers/");
    let (gen, puts) = puts
        .split_last()
        .map_or((None, puts), |(g, rest)| (Some(g), rest));
    let mut ordered_puts: Vec<&(String, String)> =
        puts.iter().filter(|(k, _)| !is_router(k)).collect();
    ordered_puts.extend(puts.iter().filter(|(k, _)| is_router(k)));
    let mut ordered_dels: Vec<&String> = dels.iter().filter(|k| is_router(k)).collect();
    ordered_dels.extend(dels.iter().filter(|k| !is_router(k)));
    let mut out: Vec<Change> = Vec::new();
    for c in ordered_puts.chunks(n.max(1)) {
        out.push((Vec::new(), c.iter().map(|p| (*p).clone()).collect()));
    }
    for c in ordered_dels.chunks(n.max(1)) {
        out.push((c.iter().map(|k| (*k).clone()).collect(), Vec::new()));
    }
    if let Some(g) = gen {
        match out.last_mut() {
            Some((d, p)) if d.len() + p.len() < n => p.push(g.clone()),
            _ => out.push((Vec::new(), vec![g.clone()])),
        }
    }
    out
}

/// What to delete and what to put to go from `current` to `next`.
pub fn diff(
    current: &BTreeMap<String, String>,
    next: &BTreeMap<String, String>,
) -> (Vec<String>, Vec<(String, String)>) {
    let dels = current
        .keys()
        .filter(|k| !next.contains_key(*k))
        .cloned()
        .collect();
    let puts = next
        .iter()
        .filter(|(k, v)| current.get(*k) != Some(v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    (dels, puts)
}

/// Writes every publication of `hub` into `target` (`tls` from
/// [`KvProvider::client_config`]), reconnecting after errors.
pub async fn run(hub: Arc<Hub>, target: KvProvider, tls: Option<Arc<rustls::ClientConfig>>) {
    let name = target.store.name();
    let mut lines = hub.subscribe();
    let mut delay = super::RETRY_FIRST;
    loop {
        match session(&target, tls.as_ref(), &mut lines, &mut delay).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(store = name, endpoints = ?target.endpoints, error = %e, retry_in = ?delay, "ROUTER_PUBLISH: cannot write into the store; the latest configuration is written when it is back")
            }
        }
        tokio::time::sleep(delay).await;
        delay = super::next_delay(delay);
    }
}

/// Whether a key is one a publication manages: the configuration sections.
fn managed(root: &str, key: &str) -> bool {
    key.strip_prefix(root)
        .and_then(|r| r.strip_prefix('/'))
        .and_then(|r| r.split('/').next())
        .is_some_and(|s| {
            crate::provider::kv::SECTIONS
                .iter()
                .any(|x| x.eq_ignore_ascii_case(s))
        })
}

async fn session(
    p: &KvProvider,
    tls: Option<&Arc<rustls::ClientConfig>>,
    lines: &mut tokio::sync::watch::Receiver<Arc<crate::cluster::hub::Published>>,
    delay: &mut Duration,
) -> Result<(), String> {
    let mut w = Writer::open(p, tls).await?;
    let gen_key = p.generation_key();
    let mut current: BTreeMap<String, String> = BTreeMap::new();
    let mut generation: u64 = 0;
    for (k, v) in w.read(p).await? {
        if k == gen_key {
            generation = v.trim().parse().unwrap_or(0);
        } else if managed(p.root(), &k) {
            current.insert(k, v);
        }
    }
    tracing::info!(
        store = p.store.name(),
        root = p.root(),
        keys = current.len(),
        generation,
        "ROUTER_PUBLISH: writing into the store"
    );
    *delay = super::RETRY_FIRST;
    let mut warned: Vec<String> = Vec::new();
    lines.mark_changed();
    loop {
        if lines.changed().await.is_err() {
            return Ok(());
        }
        let now = lines.borrow_and_update().clone();
        if now.line.is_empty() {
            continue;
        }
        let started = Instant::now();
        let publication = publish::publication(p.root(), &now.message);
        if publication.warnings != warned {
            for w in &publication.warnings {
                tracing::warn!(store = p.store.name(), "ROUTER_PUBLISH: {w}");
            }
            warned = publication.warnings.clone();
        }
        let (dels, mut puts) = diff(&current, &publication.pairs);
        if dels.is_empty() && puts.is_empty() {
            continue;
        }
        generation += 1;
        puts.push((gen_key.clone(), generation.to_string()));
        let atomic = w.commit(&dels, &puts).await?;
        if !atomic {
            tracing::warn!(store = p.store.name(), operations = dels.len() + puts.len(), "ROUTER_PUBLISH: etcd refused the change as one transaction (--max-txn-ops); it was written in several, definitions before the routers that use them");
        }
        tracing::info!(
            store = p.store.name(),
            generation,
            keys = publication.pairs.len(),
            deleted = dels.len(),
            written = puts.len() - 1,
            took = ?started.elapsed(),
            "ROUTER_PUBLISH: configuration written"
        );
        current = publication.pairs;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(p: &[(&str, &str)]) -> BTreeMap<String, String> {
        p.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_change_is_its_difference() {
        let (dels, puts) = diff(
            &map(&[("a", "1"), ("b", "2"), ("c", "3")]),
            &map(&[("a", "1"), ("b", "9"), ("d", "4")]),
        );
        assert_eq!(dels, ["c"]);
        assert_eq!(puts, [("b".into(), "9".into()), ("d".into(), "4".into())]);
    }

    #[test]
    fn split_changes_define_before_they_route_and_end_with_the_generation() {
        let puts: Vec<(String, String)> = [
            "t/http/routers/r/rule",
            "t/http/services/s/x",
            "t/http/routers/q/rule",
            "t/http/middlewares/m/x",
            "t/generation",
        ]
        .iter()
        .map(|k| ((*k).to_owned(), "v".to_owned()))
        .collect();
        let dels = vec![
            "t/http/services/old/x".to_owned(),
            "t/http/routers/old/rule".to_owned(),
        ];
        let c = chunks(&dels, &puts, 2);
        let order: Vec<String> = c
            .iter()
            .flat_map(|(d, p)| {
                p.iter()
                    .map(|(k, _)| format!("put {k}"))
                    .chain(d.iter().map(|k| format!("del {k}")))
            })
            .collect();
        assert_eq!(
            order,
            [
                "put t/http/services/s/x",
                "put t/http/middlewares/m/x",
                "put t/http/routers/r/rule",
                "put t/http/routers/q/rule",
                "del t/http/routers/old/rule",
                "del t/http/services/old/x",
                "put t/generation",
            ]
        );
        assert!(c.iter().all(|(d, p)| d.len() + p.len() <= 2));
    }

    #[test]
    fn only_configuration_sections_are_managed() {
        assert!(managed("traefik", "traefik/http/routers/r/rule"));
        assert!(managed("traefik", "traefik/TLS/certificates/0/certFile"));
        assert!(!managed("traefik", "traefik/generation"));
        assert!(!managed("traefik", "traefik/other/x"));
        assert!(!managed("traefik", "traefikx/http/r"));
    }
}
