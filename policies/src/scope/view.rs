//! Borrowed views of what the scope reads in the daemon's answers: a container's labels and
//! names, an event's type and attributes. Deserialising only these fields (the rest skipped,
//! strings borrowed unless escaped) is what makes checking a list or an event stream cheap
//! next to building a whole `Value` tree.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;

/// Labels as the daemon writes them (string to string), in its order: a handful per object,
/// so a scan beats hashing them.
#[derive(Debug, Default)]
pub struct Labels<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl<'a> Labels<'a> {
    /// The value of label `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_ref())
    }

    /// Its keys.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_ref())
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Labels<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Pairs<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for Pairs<'a> {
            type Value = Labels<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of labels")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<Labels<'a>, M::Error> {
                let mut out = Vec::with_capacity(m.size_hint().unwrap_or(8));
                while let Some((k, v)) = m.next_entry::<Borrowed<'a>, Borrowed<'a>>()? {
                    out.push((k.0, v.0));
                }
                Ok(Labels(out))
            }
        }
        d.deserialize_map(Pairs(std::marker::PhantomData))
    }
}

/// A string, borrowed from the input unless it had escapes.
struct Borrowed<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Borrowed<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct S<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for S<'a> {
            type Value = Borrowed<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Borrowed<'a>, E> {
                Ok(Borrowed(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Borrowed<'a>, E> {
                Ok(Borrowed(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(S(std::marker::PhantomData))
    }
}

/// A container list item, or an inspect: labels at `Labels` or `Config.Labels`, names at
/// `Names` or `Name`.
#[derive(Debug, Deserialize)]
pub struct ContainerView<'a> {
    #[serde(rename = "Labels", borrow, default)]
    labels: Option<Labels<'a>>,
    #[serde(rename = "Config", borrow, default)]
    config: Option<ConfigView<'a>>,
    #[serde(rename = "Names", borrow, default)]
    names: Option<Vec<Cow<'a, str>>>,
    #[serde(rename = "Name", borrow, default)]
    name: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
struct ConfigView<'a> {
    #[serde(rename = "Labels", borrow, default)]
    labels: Option<Labels<'a>>,
}

/// An event: its type and its actor's attributes (a container's labels and name).
#[derive(Debug, Deserialize)]
pub struct EventView<'a> {
    #[serde(rename = "Type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(rename = "Actor", borrow, default)]
    actor: Option<ActorView<'a>>,
}

#[derive(Debug, Deserialize)]
struct ActorView<'a> {
    #[serde(rename = "ID", borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(rename = "Attributes", borrow, default)]
    attributes: Option<Labels<'a>>,
}

impl<'a> ContainerView<'a> {
    /// Its labels, wherever the answer keeps them.
    pub fn labels(&self) -> Option<&Labels<'a>> {
        self.labels
            .as_ref()
            .or_else(|| self.config.as_ref().and_then(|c| c.labels.as_ref()))
    }

    /// Its names (a list item's `Names`, an inspect's `Name`).
    pub fn names(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.names.iter().flatten().map(|n| n.as_ref()).collect();
        out.extend(self.name.as_deref());
        out
    }
}

impl<'a> EventView<'a> {
    /// Whether it is a container event.
    pub fn is_container(&self) -> bool {
        self.kind.as_deref() == Some("container")
    }

    /// Whether it is a service event.
    pub fn is_service(&self) -> bool {
        self.kind.as_deref() == Some("service")
    }

    /// The ID of what it is about.
    pub fn actor_id(&self) -> Option<&str> {
        self.actor.as_ref().and_then(|a| a.id.as_deref())
    }

    /// Its attributes (labels and `name` of a container event).
    pub fn attributes(&self) -> Option<&Labels<'a>> {
        self.actor.as_ref().and_then(|a| a.attributes.as_ref())
    }
}
