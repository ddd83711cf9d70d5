//! Each container's part of a container provider's snapshot, remembered by what it is made
//! from: an event changes one container of thousands, and reading every container's labels
//! again (label tree, decode, templates) was most of a snapshot (about 6 µs a container, 60 ms
//! at 10,000). Memoization only: a part is the one [`super::container`]'s reading of the
//! container gives, and [`super::merge`] merges the parts.
//!
//! A part is found by a SipHash, with this process's random keys, of the container as listed;
//! the provider's settings are compared in full (the memo is dropped when they change). A
//! container that shares another's network (`container:<id>`) takes its address from that
//! one, so it is read again every time. Each provider keeps the parts of its last snapshot and
//! no more, so the memo holds about one copy of the containers' configuration.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use super::container::{ContainerInfo, ContainerSettings};
use super::mixed::MixMap;
use crate::dynamic::tcp::Tcp;
use crate::dynamic::udp::Udp;
use crate::dynamic::{Broken, Configuration, Issue, Middleware, Router, Service};

/// What one container gives the snapshot.
#[derive(Debug, Default)]
pub(super) struct Fragment {
    /// Its configuration, `None` when it is not routed.
    pub config: Option<Part>,
    /// Its elements that could not be read.
    pub broken: Vec<Broken>,
    /// What was found wrong, on it.
    pub issues: Vec<Issue>,
}

/// One container's configuration, in lists: a map of one element takes a whole B-tree node
/// (room for eleven), kilobytes a container.
#[derive(Debug, Default)]
pub(super) struct Part {
    /// HTTP routers by name.
    pub routers: Box<[(String, Arc<Router>)]>,
    /// HTTP services by name.
    pub services: Box<[(String, Arc<Service>)]>,
    /// HTTP middlewares by name.
    pub middlewares: Box<[(String, Arc<Middleware>)]>,
    /// TCP routers, services and middlewares.
    pub tcp: Tcp,
    /// UDP routers and services.
    pub udp: Udp,
}

impl From<Configuration> for Part {
    fn from(c: Configuration) -> Part {
        Part {
            routers: c.http.routers.into_iter().collect(),
            services: c.http.services.into_iter().collect(),
            middlewares: c.http.middlewares.into_iter().collect(),
            tcp: c.tcp,
            udp: c.udp,
        }
    }
}

/// One provider's parts, with the settings they were read with and the last snapshot each
/// was in (parts no container has any more are forgotten).
struct Memo {
    settings: ContainerSettings,
    parts: MixMap<u64, (Arc<Fragment>, u64)>,
    round: u64,
}

/// Every provider's memo, by provider name.
static MEMOS: Mutex<Option<HashMap<String, Memo>>> = Mutex::new(None);

fn keys() -> &'static std::hash::RandomState {
    static KEYS: OnceLock<std::hash::RandomState> = OnceLock::new();
    KEYS.get_or_init(std::hash::RandomState::new)
}

/// The key container `c`'s part is remembered by (a keyed SipHash of it as listed).
pub(super) fn key(c: &ContainerInfo) -> u64 {
    keys().hash_one(c)
}

/// Each of `containers`' parts, in order: remembered ones where the container is unchanged,
/// else `read(container)`. The memo keeps these parts and forgets the others. `known`, when
/// given, holds each container's [`key`], worked out when it was listed (hashing 10,000
/// containers at every event was a fifth of an event's work).
pub(super) fn parts(
    containers: &[&ContainerInfo],
    known: Option<&[u64]>,
    s: &ContainerSettings,
    read: impl Fn(&ContainerInfo) -> Fragment,
) -> Vec<Arc<Fragment>> {
    let with = |f: &mut dyn FnMut(&mut HashMap<String, Memo>)| {
        f(MEMOS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert_with(HashMap::new))
    };
    // Taken out while reading: a snapshot of the same provider at the same time (tests) reads
    // everything itself, with the same result.
    let mut last = None;
    with(&mut |m| last = m.remove(&s.provider));
    let mut memo = last.filter(|m| m.settings == *s).unwrap_or_else(|| Memo {
        settings: s.clone(),
        parts: MixMap::default(),
        round: 0,
    });
    memo.round += 1;
    let round = memo.round;
    let out = containers
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if c.network_mode.starts_with("container:") {
                return Arc::new(read(c));
            }
            let key = match known.and_then(|k| k.get(i)) {
                Some(&k) => k,
                None => key(c),
            };
            match memo.parts.get_mut(&key) {
                Some((part, seen)) => {
                    *seen = round;
                    part.clone()
                }
                None => {
                    let part = Arc::new(read(c));
                    memo.parts.insert(key, (part.clone(), round));
                    part
                }
            }
        })
        .collect();
    // Outside the lock: the parts no container has any more are dropped.
    memo.parts.retain(|_, (_, seen)| *seen == round);
    let mut memo = Some(memo);
    with(&mut |m| {
        if let Some(memo) = memo.take() {
            m.insert(s.provider.clone(), memo);
        }
    });
    out
}
