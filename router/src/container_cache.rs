//! The Docker provider's containers as last listed, each with its memo key, found by id.
//!
//! An event names one container among thousands: finding it by comparing its id with every
//! cached one was a quarter of an event's CPU at 10,000 containers (one cache miss per
//! container, the cache being cold between events). Full ids are looked up here; a shorter
//! id (the daemon matches ids by prefix, and a test or an old client may give one) is still
//! matched against every container.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use crate::provider::container::{self, ContainerInfo};

/// How long a full container id is (64 hex digits).
const FULL_ID: usize = 64;

/// The containers, their memo keys (`keys[i]` is `list[i]`'s) and each one's position by id.
/// The list is shared with the reconfiguration it is published to and changed in place
/// between reconfigurations.
#[derive(Debug, Default)]
pub struct Cache {
    list: Arc<Vec<ContainerInfo>>,
    keys: Vec<u64>,
    at: HashMap<String, usize>,
}

impl Cache {
    /// A cache of a whole list.
    pub fn new(list: Vec<ContainerInfo>) -> Cache {
        let keys = list.iter().map(container::memo_key).collect();
        let at = list
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.clone(), i))
            .collect();
        Cache {
            list: Arc::new(list),
            keys,
            at,
        }
    }

    /// The containers, in the cache's order.
    pub fn list(&self) -> &Arc<Vec<ContainerInfo>> {
        &self.list
    }

    /// Each container's memo key ([`container::memo_key`]), in the list's order.
    pub fn keys(&self) -> &[u64] {
        &self.keys
    }

    /// The positions of the containers `id` names: its own when it is a full id, else every
    /// container whose id starts with it or that it starts with (a short id, as the daemon
    /// and the hostname give it).
    pub fn positions(&self, id: &str) -> Vec<usize> {
        if id.len() >= FULL_ID {
            return self.at.get(id).copied().into_iter().collect();
        }
        self.list
            .iter()
            .enumerate()
            .filter(|(_, c)| c.id.starts_with(id) || id.starts_with(c.id.as_str()))
            .map(|(i, _)| i)
            .collect()
    }

    /// The first container `id` names (see [`Self::positions`]).
    pub fn find(&self, id: &str) -> Option<&ContainerInfo> {
        self.positions(id).first().map(|&i| &self.list[i])
    }

    /// The containers of `ids` replaced by what a list of them `found`: a container listed
    /// again keeps its place, one the list no longer has is gone (the last one takes its
    /// place), a new one is added at the end; a found container whose id was not asked for
    /// is ignored. The daemon matches ids by prefix: a listed container whose id an asked id
    /// begins is one asked for.
    pub fn update(&mut self, ids: &BTreeSet<String>, found: Vec<ContainerInfo>) {
        let asked = |id: &str| {
            ids.contains(id)
                || ids
                    .iter()
                    .any(|i| i.len() < FULL_ID && id.starts_with(i.as_str()))
        };
        let mut gone: BTreeSet<usize> = ids.iter().flat_map(|id| self.positions(id)).collect();
        let list = Arc::make_mut(&mut self.list);
        for c in found.into_iter().filter(|c| asked(&c.id)) {
            let key = container::memo_key(&c);
            match self.at.get(&c.id) {
                Some(&i) => {
                    gone.remove(&i);
                    list[i] = c;
                    self.keys[i] = key;
                }
                None => {
                    self.at.insert(c.id.clone(), list.len());
                    list.push(c);
                    self.keys.push(key);
                }
            }
        }
        // Highest position first: a position still to remove is never the one moved.
        for i in gone.into_iter().rev() {
            let c = list.swap_remove(i);
            self.keys.swap_remove(i);
            self.at.remove(&c.id);
            if let Some(moved) = list.get(i) {
                self.at.insert(moved.id.clone(), i);
            }
        }
        debug_assert_eq!(
            list.len(),
            self.keys.len(),
            "keys out of step with the list"
        );
        debug_assert_eq!(
            list.len(),
            self.at.len(),
            "positions out of step with the list"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(id: &str, name: &str) -> ContainerInfo {
        ContainerInfo {
            id: id.to_owned(),
            name: name.to_owned(),
            labels: Default::default(),
            state: container::RunState::Running,
            health: container::Health::None,
            networks: Default::default(),
            bindings: Default::default(),
            network_mode: String::new(),
            exposed_ports: Default::default(),
        }
    }

    fn full(c: char) -> String {
        std::iter::repeat_n(c, FULL_ID).collect()
    }

    fn check(cache: &Cache) {
        let fresh = Cache::new(cache.list.to_vec());
        assert_eq!(cache.keys, fresh.keys, "the keys out of step");
        assert_eq!(cache.at, fresh.at, "the positions out of step");
    }

    fn names(cache: &Cache) -> Vec<(&str, &str)> {
        let mut got: Vec<(&str, &str)> = cache
            .list
            .iter()
            .map(|c| (c.id.as_str(), c.name.as_str()))
            .collect();
        got.sort();
        got
    }

    #[test]
    fn a_targeted_list_replaces_adds_and_removes_only_what_was_asked() {
        let mut cache = Cache::new(vec![
            info("aaa1", "a"),
            info("bbb2", "b"),
            info("ccc3", "c"),
        ]);
        let asked: BTreeSet<String> = ["bbb2", "ccc3", "ddd4"].map(str::to_owned).into();
        let mut b = info("bbb2", "b-renamed");
        b.state = container::RunState::Stopped;
        // ccc3 is gone (destroyed, or out of scope); ddd4 is new; a stray answer is ignored.
        cache.update(&asked, vec![b, info("ddd4", "d"), info("eee5", "e")]);
        check(&cache);
        assert_eq!(
            names(&cache),
            [("aaa1", "a"), ("bbb2", "b-renamed"), ("ddd4", "d")]
        );
    }

    #[test]
    fn full_ids_are_looked_up_and_a_container_listed_again_keeps_its_place() {
        let ids: Vec<String> = "abcdef".chars().map(full).collect();
        let mut cache = Cache::new(ids.iter().map(|id| info(id, "x")).collect());
        // b listed again, c and a gone, a short prefix of e asked (and e listed), g new.
        let asked: BTreeSet<String> = [&ids[0], &ids[1], &ids[2], &ids[4][..12]]
            .iter()
            .map(|s| s.to_string())
            .chain([full('7')])
            .collect();
        cache.update(
            &asked,
            vec![
                info(&ids[1], "b2"),
                info(&ids[4], "e2"),
                info(&full('7'), "g"),
                info(&full('8'), "stray"),
            ],
        );
        check(&cache);
        assert_eq!(cache.list[1].name, "b2", "b moved");
        let got: Vec<&str> = names(&cache).into_iter().map(|(_, n)| n).collect();
        assert_eq!(got, ["g", "b2", "x", "e2", "x"]);
        assert_eq!(cache.find(&ids[3]).map(|c| c.id.as_str()), Some(&*ids[3]));
        assert_eq!(
            cache.find(&ids[5][..12]).map(|c| c.id.as_str()),
            Some(&*ids[5])
        );
        assert!(cache.find(&ids[0]).is_none());
    }

    #[test]
    fn removing_the_last_containers_and_every_container_keeps_the_positions_in_step() {
        let ids: Vec<String> = "0123".chars().map(full).collect();
        let mut cache = Cache::new(ids.iter().map(|id| info(id, "x")).collect());
        cache.update(&[ids[3].clone(), ids[1].clone()].into(), Vec::new());
        check(&cache);
        assert_eq!(cache.list.len(), 2);
        cache.update(&ids.iter().cloned().collect(), Vec::new());
        check(&cache);
        assert!(cache.list.is_empty());
    }
}
