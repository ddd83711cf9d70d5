//! Owned objects (`GUARD_OWNER=<id>`): what a client creates is stamped with the label
//! `socket-guard.owner=<id>`, and it sees and touches only objects that carry it.
//!
//! Containers are covered by the visible scope ([`crate::scope`]), to which the owner label is
//! added as one more selector: lists, events, every container and exec path. This module covers
//! the rest:
//! - creates are stamped: containers, networks, volumes, services (and their tasks' containers),
//!   secrets, configs, and images built (`/build`'s `labels`);
//! - lists of networks, volumes, services, secrets and configs keep only owned objects;
//! - every path naming one of those, or an image to delete, tag or push, is checked against
//!   the object's labels, and one that is not owned is the daemon's own "not found";
//! - what reaches objects of every owner (prunes), or names a container in a body where the
//!   scope cannot check it (`container:` namespaces, `VolumesFrom`, `Links`), is refused.

use serde_json::{Map, Value};

use crate::endpoint::Endpoint;
use crate::scope::ScopeError;

/// The label every created object carries.
pub const OWNER_LABEL: &str = "socket-guard.owner";

/// A client's owner id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner(String);

/// The object kinds ownership covers beside containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A network.
    Network,
    /// A volume.
    Volume,
    /// A Swarm service.
    Service,
    /// An image (only deleting, tagging and pushing are checked).
    Image,
    /// A Swarm secret.
    Secret,
    /// A Swarm config.
    Config,
}

/// How a create body is stamped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stamp {
    /// A container: `Labels`, with the namespace and volume references refused.
    Container,
    /// `Labels` at the top (network, volume).
    Labels,
    /// A Swarm spec: `Labels` at the top (secret, config).
    Spec,
    /// A service spec: `Labels` and `TaskTemplate.ContainerSpec.Labels`.
    Service,
}

/// What an allowed request means for ownership (containers and execs aside).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerTouch {
    /// Nothing ownership covers, or what the scope checks.
    Nothing,
    /// A create whose body is stamped.
    Stamp(Stamp),
    /// `POST /build`: the `labels` query parameter stamped.
    Build,
    /// A list kept to owned objects.
    List(Kind),
    /// One object, by the id or name in the path.
    Object(Kind, String),
    /// Refused under ownership, with why.
    Refused(&'static str),
}

/// Why a stamp cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StampError {
    /// The body is not what the daemon takes.
    #[error("{0}")]
    Malformed(String),
    /// The body asks for what ownership forbids.
    #[error("{0}")]
    Forbidden(&'static str),
}

impl Kind {
    fn of(section: &str) -> Option<Kind> {
        Some(match section {
            "network" => Kind::Network,
            "volume" => Kind::Volume,
            "service" => Kind::Service,
            "image" => Kind::Image,
            "secret" => Kind::Secret,
            "config" => Kind::Config,
            _ => return None,
        })
    }

    /// The daemon path that inspects object `id` (already escaped as one segment, or an
    /// image name).
    pub fn inspect_path(self, id: &str) -> String {
        match self {
            Kind::Network => format!("/networks/{id}"),
            Kind::Volume => format!("/volumes/{id}"),
            Kind::Service => format!("/services/{id}"),
            Kind::Image => format!("/images/{id}/json"),
            Kind::Secret => format!("/secrets/{id}"),
            Kind::Config => format!("/configs/{id}"),
        }
    }

    /// The object's labels in its inspect or list item.
    pub fn labels(self, doc: &Value) -> Option<&Map<String, Value>> {
        let at = match self {
            Kind::Network | Kind::Volume => doc.get("Labels"),
            Kind::Image => doc.get("Config").and_then(|c| c.get("Labels")),
            Kind::Service | Kind::Secret | Kind::Config => {
                doc.get("Spec").and_then(|s| s.get("Labels"))
            }
        };
        at.and_then(Value::as_object)
    }

    /// The id to forward instead of the name the client used (`None` for images: a name
    /// there means a tag, which the ID does not).
    pub fn forward_id(self, doc: &Value) -> Option<&str> {
        let key = match self {
            Kind::Image => return None,
            Kind::Volume => "Name",
            _ => "ID",
        };
        doc.get(key)
            .or_else(|| doc.get("Id"))
            .and_then(Value::as_str)
    }

    /// The daemon's own message for an object that does not exist.
    pub fn not_found(self, id: &str) -> String {
        match self {
            Kind::Network => format!("network {id} not found"),
            Kind::Volume => format!("get {id}: no such volume"),
            Kind::Service => format!("service {id} not found"),
            Kind::Image => format!("No such image: {id}"),
            Kind::Secret => format!("secret {id} not found"),
            Kind::Config => format!("config {id} not found"),
        }
    }
}

impl Owner {
    /// Parses an owner id: 1 to 64 of `A-Z a-z 0-9 _ . -`, starting with a letter or digit.
    pub fn parse(value: &str) -> Result<Owner, String> {
        let ok = !value.is_empty()
            && value.len() <= 64
            && value.as_bytes()[0].is_ascii_alphanumeric()
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if ok {
            Ok(Owner(value.to_owned()))
        } else {
            Err("expected 1 to 64 of A-Z a-z 0-9 _ . -, starting with a letter or digit".into())
        }
    }

    /// The id.
    pub fn id(&self) -> &str {
        &self.0
    }

    /// The label selector (`socket-guard.owner=<id>`) for the daemon's `label` filter.
    pub fn selector(&self) -> String {
        format!("{OWNER_LABEL}={}", self.0)
    }

    /// Whether labels carry this owner.
    pub fn owns(&self, labels: Option<&Map<String, Value>>) -> bool {
        labels
            .and_then(|l| l.get(OWNER_LABEL))
            .and_then(Value::as_str)
            == Some(self.0.as_str())
    }

    /// Sets the owner label in `parent[key]` (created when absent or null); a different
    /// owner already there is refused.
    fn label(&self, parent: &mut Map<String, Value>, key: &str) -> Result<(), StampError> {
        let slot = parent.entry(key).or_insert(Value::Null);
        if slot.is_null() {
            *slot = Value::Object(Map::new());
        }
        let Value::Object(map) = slot else {
            return Err(StampError::Malformed(format!("{key} is not an object")));
        };
        match map.get(OWNER_LABEL) {
            Some(Value::String(v)) if v == &self.0 => {}
            Some(_) => {
                return Err(StampError::Forbidden(
                    "the socket-guard.owner label is set by socket-guard, not by the client",
                ))
            }
            None => {}
        }
        map.insert(OWNER_LABEL.to_owned(), Value::String(self.0.clone()));
        Ok(())
    }

    /// The create body with the owner label added.
    pub fn stamp(&self, how: Stamp, body: &[u8]) -> Result<Vec<u8>, StampError> {
        let mut doc: Value = serde_json::from_slice(body)
            .map_err(|e| StampError::Malformed(format!("the body is not JSON: {e}")))?;
        let Value::Object(top) = &mut doc else {
            return Err(StampError::Malformed(
                "the body is not a JSON object".into(),
            ));
        };
        if how == Stamp::Container {
            refuse_references(top)?;
        }
        self.label(top, "Labels")?;
        if how == Stamp::Service {
            if let Some(Value::Object(spec)) = top
                .get_mut("TaskTemplate")
                .and_then(|t| t.get_mut("ContainerSpec"))
            {
                self.label(spec, "Labels")?;
            }
        }
        serde_json::to_vec(&doc).map_err(|e| StampError::Malformed(e.to_string()))
    }

    /// `/build`'s query with the owner in its `labels` (a JSON object, percent-encoded).
    pub fn stamp_build_query(&self, query: Option<&str>) -> Result<String, StampError> {
        let mut params = crate::scope::query_params(query);
        let mut labels = Map::new();
        if let Some(i) = params.iter().position(|(k, _)| k == "labels") {
            let raw = params.remove(i).1;
            let text = crate::scope::percent_decode(&raw).ok_or_else(|| {
                StampError::Malformed("labels is not valid percent-encoding".into())
            })?;
            if !text.is_empty() {
                match serde_json::from_str::<Value>(&text) {
                    Ok(Value::Object(m)) => labels = m,
                    _ => return Err(StampError::Malformed("labels is not a JSON object".into())),
                }
            }
        }
        if params.iter().any(|(k, _)| k == "labels") {
            return Err(StampError::Malformed("labels is given twice".into()));
        }
        let mut holder = Map::new();
        holder.insert("labels".into(), Value::Object(labels));
        self.label(&mut holder, "labels")?;
        let json = holder.remove("labels").unwrap_or_default().to_string();
        params.push(("labels".into(), crate::scope::percent_encode(&json)));
        Ok(crate::scope::join_query(&params))
    }

    /// A list of `kind` (volumes: `{"Volumes": [...]}`) with only the owned objects.
    pub fn filter_list(&self, kind: Kind, body: &[u8]) -> Result<Vec<u8>, ScopeError> {
        let mut doc: Value = serde_json::from_slice(body)
            .map_err(|e| ScopeError(format!("the list is not JSON: {e}")))?;
        let items = match (&mut doc, kind) {
            (Value::Object(o), Kind::Volume) => o.get_mut("Volumes"),
            (v @ Value::Array(_), _) => Some(v),
            _ => return Err(ScopeError("the list is not a JSON list".into())),
        };
        if let Some(Value::Array(items)) = items {
            items.retain(|item| self.owns(kind.labels(item)));
        }
        let mut out = serde_json::to_vec(&doc).map_err(|e| ScopeError(e.to_string()))?;
        if body.ends_with(b"\n") {
            out.push(b'\n');
        }
        Ok(out)
    }
}

/// A container create that names another container where the scope cannot check it.
fn refuse_references(top: &Map<String, Value>) -> Result<(), StampError> {
    let host = top.get("HostConfig").and_then(Value::as_object);
    let field = |k: &str| host.and_then(|h| h.get(k));
    for key in [
        "NetworkMode",
        "PidMode",
        "IpcMode",
        "UsernsMode",
        "UTSMode",
        "CgroupnsMode",
    ] {
        if field(key)
            .and_then(Value::as_str)
            .is_some_and(|m| m.starts_with("container:"))
        {
            return Err(StampError::Forbidden(
                "under GUARD_OWNER a container cannot join another container's namespaces",
            ));
        }
    }
    for key in ["VolumesFrom", "Links"] {
        if field(key)
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
        {
            return Err(StampError::Forbidden(
                "under GUARD_OWNER a container cannot take volumes from or link to another",
            ));
        }
    }
    Ok(())
}

/// What `endpoint` (`None`: a path an explicit rule opened) at `path` (canonical) means for
/// ownership.
pub fn classify(endpoint: Option<&Endpoint>, path: &str) -> OwnerTouch {
    let Some(e) = endpoint else {
        return OwnerTouch::Nothing;
    };
    let (section, action) = e.name.split_once('.').unwrap_or((e.name, ""));
    match (section, action) {
        ("container", "create") => return OwnerTouch::Stamp(Stamp::Container),
        ("network" | "volume", "create") => return OwnerTouch::Stamp(Stamp::Labels),
        ("secret" | "config", "create") => return OwnerTouch::Stamp(Stamp::Spec),
        ("service", "create" | "update") => return OwnerTouch::Stamp(Stamp::Service),
        ("build", "") => return OwnerTouch::Build,
        (_, "prune") => return OwnerTouch::Refused("pruning reaches the objects of every owner"),
        _ => {}
    }
    let Some(kind) = Kind::of(section) else {
        return OwnerTouch::Nothing;
    };
    match (kind, action) {
        (Kind::Image, "delete" | "tag" | "push") => {}
        (Kind::Image, _) => return OwnerTouch::Nothing,
        (_, "list") => return OwnerTouch::List(kind),
        _ => {}
    }
    match object_name(e.pattern, path) {
        Some(id) => OwnerTouch::Object(kind, id),
        None => OwnerTouch::Nothing,
    }
}

/// The object named where `pattern` has its `{id}` or `{name*}`.
fn object_name(pattern: &str, path: &str) -> Option<String> {
    let (before, after) = pattern
        .split_once("{id}")
        .or_else(|| pattern.split_once("{name*}"))?;
    let id = path.strip_prefix(before)?.strip_suffix(after)?;
    (!id.is_empty()).then(|| id.to_owned())
}

/// `path` (which `pattern` matches) naming object `id` instead: the object checked is the
/// object the daemon acts on.
pub fn rename_object(pattern: &str, id: &str) -> Option<String> {
    let (before, after) = pattern
        .split_once("{id}")
        .or_else(|| pattern.split_once("{name*}"))?;
    Some(format!("{before}{id}{after}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::lookup;

    fn owner() -> Owner {
        Owner::parse("ci-1").unwrap()
    }

    fn touch(method: &str, path: &str) -> OwnerTouch {
        classify(lookup(method, path), path)
    }

    #[test]
    fn ids_are_checked() {
        for bad in ["", "-a", "a b", "a/b", "a=b", &"x".repeat(65)] {
            assert!(Owner::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(owner().selector(), "socket-guard.owner=ci-1");
    }

    #[test]
    fn creates_are_stamped_and_a_forged_owner_refused() {
        let o = owner();
        let out = o
            .stamp(Stamp::Container, br#"{"Image":"x","Labels":null}"#)
            .unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["Labels"][OWNER_LABEL], "ci-1");
        let out = o
            .stamp(
                Stamp::Service,
                br#"{"Labels":{"a":"b"},"TaskTemplate":{"ContainerSpec":{"Image":"x"}}}"#,
            )
            .unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["Labels"]["a"], "b");
        assert_eq!(
            v["TaskTemplate"]["ContainerSpec"]["Labels"][OWNER_LABEL],
            "ci-1"
        );
        assert!(matches!(
            o.stamp(
                Stamp::Labels,
                br#"{"Labels":{"socket-guard.owner":"other"}}"#
            ),
            Err(StampError::Forbidden(_))
        ));
        assert!(o
            .stamp(
                Stamp::Labels,
                br#"{"Labels":{"socket-guard.owner":"ci-1"}}"#
            )
            .is_ok());
        for bad in [&b"[]"[..], b"{", br#"{"Labels":[]}"#] {
            assert!(matches!(
                o.stamp(Stamp::Labels, bad),
                Err(StampError::Malformed(_))
            ));
        }
        for refused in [
            r#"{"HostConfig":{"NetworkMode":"container:web"}}"#,
            r#"{"HostConfig":{"PidMode":"container:web"}}"#,
            r#"{"HostConfig":{"VolumesFrom":["web"]}}"#,
            r#"{"HostConfig":{"Links":["web:db"]}}"#,
        ] {
            assert!(
                matches!(
                    o.stamp(Stamp::Container, refused.as_bytes()),
                    Err(StampError::Forbidden(_))
                ),
                "{refused}"
            );
        }
    }

    #[test]
    fn build_labels_are_stamped() {
        let o = owner();
        let q = o
            .stamp_build_query(Some("t=app&labels=%7B%22a%22%3A%22b%22%7D"))
            .unwrap();
        assert!(q.starts_with("t=app&labels="), "{q}");
        let raw = q.split_once("labels=").unwrap().1;
        let v: Value = serde_json::from_str(&crate::scope::percent_decode(raw).unwrap()).unwrap();
        assert_eq!(v["a"], "b");
        assert_eq!(v[OWNER_LABEL], "ci-1");
        assert!(o.stamp_build_query(None).unwrap().starts_with("labels="));
        assert!(o.stamp_build_query(Some("labels=%5B%5D")).is_err());
        assert!(o
            .stamp_build_query(Some("labels=%7B%7D&labels=%7B%7D"))
            .is_err());
    }

    #[test]
    fn requests_are_classified() {
        assert_eq!(
            touch("POST", "/containers/create"),
            OwnerTouch::Stamp(Stamp::Container)
        );
        assert_eq!(
            touch("POST", "/networks/create"),
            OwnerTouch::Stamp(Stamp::Labels)
        );
        assert_eq!(
            touch("POST", "/services/s/update"),
            OwnerTouch::Stamp(Stamp::Service)
        );
        assert_eq!(touch("POST", "/build"), OwnerTouch::Build);
        assert!(matches!(
            touch("POST", "/volumes/prune"),
            OwnerTouch::Refused(_)
        ));
        assert_eq!(touch("GET", "/networks"), OwnerTouch::List(Kind::Network));
        assert_eq!(touch("GET", "/volumes"), OwnerTouch::List(Kind::Volume));
        assert_eq!(
            touch("DELETE", "/networks/n1"),
            OwnerTouch::Object(Kind::Network, "n1".into())
        );
        assert_eq!(
            touch("GET", "/services/s/logs"),
            OwnerTouch::Object(Kind::Service, "s".into())
        );
        assert_eq!(
            touch("POST", "/images/library/app/tag"),
            OwnerTouch::Object(Kind::Image, "library/app".into())
        );
        assert_eq!(
            touch("DELETE", "/images/app:1"),
            OwnerTouch::Object(Kind::Image, "app:1".into())
        );
        assert_eq!(touch("GET", "/images/app/json"), OwnerTouch::Nothing);
        assert_eq!(touch("GET", "/containers/c/json"), OwnerTouch::Nothing);
        assert_eq!(touch("GET", "/nodes"), OwnerTouch::Nothing);
    }

    #[test]
    fn lists_keep_owned_objects() {
        let o = owner();
        let nets = br#"[{"Id":"a","Labels":{"socket-guard.owner":"ci-1"}},{"Id":"b","Labels":{}},{"Id":"c"}]"#;
        let v: Value =
            serde_json::from_slice(&o.filter_list(Kind::Network, nets).unwrap()).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 1);
        let vols =
            br#"{"Volumes":[{"Name":"a","Labels":{"socket-guard.owner":"ci-2"}}],"Warnings":null}"#;
        let v: Value = serde_json::from_slice(&o.filter_list(Kind::Volume, vols).unwrap()).unwrap();
        assert_eq!(v["Volumes"].as_array().unwrap().len(), 0);
        let svcs = br#"[{"ID":"a","Spec":{"Labels":{"socket-guard.owner":"ci-1"}}}]"#;
        let v: Value =
            serde_json::from_slice(&o.filter_list(Kind::Service, svcs).unwrap()).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 1);
        assert!(o.filter_list(Kind::Network, b"{}").is_err());
    }
}
