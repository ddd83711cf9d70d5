//! What changed between two of the controller's messages, so that a data plane that has the
//! first gets only the difference: the containers added, changed or gone of each container
//! provider (by id), the other providers' inputs replaced whole when they changed, the ACME
//! part when it changed. A data plane applies a delta only to the generation it was computed
//! from ([`apply`] refuses another), and a connection starts with a whole message, so a
//! missed line can never leave a data plane with a view the controller never had. Pure.
//!
//! On the wire a delta is the line `{"delta": {...}}`; any other line is a whole [`Message`].

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::wire::{Acme, Input, Message};
use crate::provider::container::ContainerInfo;

/// The difference from generation `base` to generation `generation`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    /// The generation it applies to.
    pub base: u64,
    /// The generation it makes.
    pub generation: u64,
    /// Providers whose inputs are replaced whole (new ones, files, changed settings).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub replace: BTreeMap<String, Input>,
    /// Container providers whose view changed (same settings).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub views: BTreeMap<String, ViewChange>,
    /// Providers gone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
    /// The ACME part, when it changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acme: Option<Acme>,
}

/// A container view's change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ViewChange {
    /// Containers added or changed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upsert: Vec<ContainerInfo>,
    /// Ids of containers gone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<String>,
}

/// One line from the controller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Line {
    /// A difference from the previous message.
    Delta { delta: Delta },
    /// A whole message.
    Full(Message),
}

/// The line of a delta.
pub fn encode(d: &Delta) -> String {
    let mut line =
        serde_json::to_string(&Line::Delta { delta: d.clone() }).unwrap_or_else(|_| "{}".into());
    line.push('\n');
    line
}

/// A line from the controller: a whole message or a delta.
pub fn decode(line: &[u8]) -> Result<Line, String> {
    serde_json::from_slice(line).map_err(|e| format!("a message the controller sent: {e}"))
}

/// Containers by id, in id order (how the hub keeps views, so that a delta applied gives
/// the same message).
pub fn sort_view(view: &mut [ContainerInfo]) {
    view.sort_by(|a, b| a.id.cmp(&b.id));
}

/// What takes `from` to `to`.
pub fn delta(from: &Message, to: &Message) -> Delta {
    let mut d = Delta {
        base: from.generation,
        generation: to.generation,
        replace: BTreeMap::new(),
        views: BTreeMap::new(),
        removed: from
            .providers
            .keys()
            .filter(|p| !to.providers.contains_key(*p))
            .cloned()
            .collect(),
        acme: (from.acme != to.acme).then(|| to.acme.clone()),
    };
    for (name, input) in &to.providers {
        let before = from.providers.get(name);
        if before == Some(input) {
            continue;
        }
        match (before, input) {
            (
                Some(Input::Containers {
                    settings: s0,
                    view: v0,
                }),
                Input::Containers { settings, view },
            ) if s0 == settings => {
                let old: HashMap<&str, &ContainerInfo> =
                    v0.iter().map(|c| (c.id.as_str(), c)).collect();
                let new_ids: BTreeSet<&str> = view.iter().map(|c| c.id.as_str()).collect();
                d.views.insert(
                    name.clone(),
                    ViewChange {
                        upsert: view
                            .iter()
                            .filter(|c| old.get(c.id.as_str()) != Some(c))
                            .cloned()
                            .collect(),
                        remove: v0
                            .iter()
                            .filter(|c| !new_ids.contains(c.id.as_str()))
                            .map(|c| c.id.clone())
                            .collect(),
                    },
                );
            }
            _ => {
                d.replace.insert(name.clone(), input.clone());
            }
        }
    }
    d
}

/// `base` with `d` applied; an error when `d` was not computed from `base`'s generation or
/// names a view `base` does not have.
pub fn apply(base: &Message, d: &Delta) -> Result<Message, String> {
    if d.base != base.generation {
        return Err(format!(
            "a change from generation {} to a data plane at {}",
            d.base, base.generation
        ));
    }
    let mut m = base.clone();
    m.generation = d.generation;
    for gone in &d.removed {
        m.providers.remove(gone);
    }
    for (name, input) in &d.replace {
        m.providers.insert(name.clone(), input.clone());
    }
    for (name, change) in &d.views {
        let Some(Input::Containers { view, .. }) = m.providers.get_mut(name) else {
            return Err(format!(
                "a change to {name}'s containers, which it does not have"
            ));
        };
        let remove: BTreeSet<&str> = change.remove.iter().map(String::as_str).collect();
        let upsert: BTreeSet<&str> = change.upsert.iter().map(|c| c.id.as_str()).collect();
        view.retain(|c| !remove.contains(c.id.as_str()) && !upsert.contains(c.id.as_str()));
        view.extend(change.upsert.iter().cloned());
        sort_view(view);
    }
    if let Some(acme) = &d.acme {
        m.acme = acme.clone();
    }
    Ok(m)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::cluster::wire::{File, Pair, Settings};
    use crate::provider::container::{Health, RunState};
    use proptest::prelude::*;

    pub(crate) fn container(id: u8, label: u8, running: bool) -> ContainerInfo {
        ContainerInfo {
            id: format!("id{id:02}"),
            name: format!("c{id}"),
            labels: [("traefik.x".to_owned(), label.to_string())].into(),
            state: if running {
                RunState::Running
            } else {
                RunState::Stopped
            },
            health: Health::None,
            networks: BTreeMap::new(),
            bindings: Default::default(),
            network_mode: "bridge".into(),
            exposed_ports: BTreeSet::new(),
        }
    }

    pub(crate) fn settings(prefix: &str) -> Settings {
        Settings {
            prefix: prefix.into(),
            exposed_by_default: false,
            default_network: None,
            own_networks: BTreeSet::new(),
            host_ip: [127, 0, 0, 1].into(),
            use_bind_port_ip: false,
            default_rule: String::new(),
            constraints: None,
        }
    }

    /// A message: a view of containers (ids unique), maybe files, maybe a certificate.
    fn message() -> impl Strategy<Value = Message> {
        (
            1..50u64,
            proptest::collection::btree_map(0..20u8, (0..3u8, any::<bool>()), 0..12),
            any::<bool>(),
            0..2u8,
            0..3u8,
        )
            .prop_map(|(generation, cs, prefix, files, cert)| {
                let mut view: Vec<ContainerInfo> = cs
                    .into_iter()
                    .map(|(id, (label, running))| container(id, label, running))
                    .collect();
                sort_view(&mut view);
                let mut providers = BTreeMap::new();
                providers.insert(
                    "docker".to_owned(),
                    Input::Containers {
                        settings: settings(if prefix { "traefik" } else { "edge" }),
                        view,
                    },
                );
                if files > 0 {
                    providers.insert(
                        "file".to_owned(),
                        Input::Files {
                            files: vec![File {
                                path: format!("/f{files}.yaml"),
                                root: crate::tree::Node::root(""),
                            }],
                        },
                    );
                }
                let mut acme = Acme::default();
                if cert > 0 {
                    acme.certificates.insert(
                        format!("h{cert}.test"),
                        Pair {
                            cert: "C".into(),
                            key: "K".into(),
                        },
                    );
                }
                Message {
                    generation,
                    providers,
                    acme,
                }
            })
    }

    proptest! {
        #[test]
        fn a_delta_applied_gives_the_message_it_was_made_for(from in message(), mut to in message()) {
            to.generation = from.generation + 1;
            let d = delta(&from, &to);
            let line = encode(&d);
            let Line::Delta { delta: back } = decode(line.as_bytes()).unwrap() else {
                panic!("a delta read back as a whole message");
            };
            prop_assert_eq!(&back, &d);
            prop_assert_eq!(apply(&from, &back).unwrap(), to);
        }

        #[test]
        fn a_delta_is_refused_by_another_generation(from in message(), to in message()) {
            let d = delta(&from, &to);
            let mut other = from.clone();
            other.generation += 1;
            prop_assert!(apply(&other, &d).is_err());
        }
    }

    #[test]
    fn one_container_changed_is_one_container_sent() {
        let view = |changed: u8| {
            (0..100)
                .map(|i| container(i, if i == 7 { changed } else { 0 }, true))
                .collect::<Vec<_>>()
        };
        let m = |g: u64, changed: u8| Message {
            generation: g,
            providers: [(
                "docker".to_owned(),
                Input::Containers {
                    settings: settings("traefik"),
                    view: view(changed),
                },
            )]
            .into(),
            acme: Acme::default(),
        };
        let d = delta(&m(1, 0), &m(2, 1));
        assert!(d.replace.is_empty() && d.removed.is_empty() && d.acme.is_none());
        assert_eq!(d.views["docker"].upsert.len(), 1);
        assert!(d.views["docker"].remove.is_empty());
        let whole = super::super::wire::encode(&m(2, 1)).len();
        assert!(
            encode(&d).len() * 20 < whole,
            "{} vs {whole}",
            encode(&d).len()
        );
    }

    #[test]
    fn whole_messages_still_read_as_whole_messages() {
        let m = Message {
            generation: 3,
            providers: BTreeMap::new(),
            acme: Acme::default(),
        };
        let line = super::super::wire::encode(&m);
        assert_eq!(decode(line.as_bytes()).unwrap(), Line::Full(m));
    }
}
