//! Visibility: which containers a client may see and touch at all (`GUARD_VISIBLE_LABELS`,
//! `GUARD_VISIBLE_NAMES`). A container outside the scope is, for the client, a container that
//! does not exist: absent from lists and events, and `404 No such container` on every path
//! that names it.
//!
//! - Labels: `key` (the label is set), `key=value`, or `prefix*` (some label's key starts with
//!   `prefix`: `traefik.*`), all of them (as the daemon's own `label` filters combine).
//! - Names: patterns with `*` (any run of characters), one of them, matched against the
//!   container's name without its leading `/`.
//!
//! With both, a container must match both. This module decides; socket-guard asks the daemon
//! for what a decision needs (a container's labels and name).

use serde_json::value::RawValue;
use serde_json::{Map, Value};

mod swarm;
mod view;
use view::{ContainerView, EventView, Labels};

/// A label selector as written: `key` or `key=value`.
fn label_text((k, v): &(String, Option<String>)) -> String {
    match v {
        Some(v) => format!("{k}={v}"),
        None => k.clone(),
    }
}

/// A visibility scope. The default admits everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    labels: Vec<(String, Option<String>)>,
    names: Vec<String>,
    /// The services in scope when an events stream opened (their events pass).
    services: Option<std::sync::Arc<std::collections::HashSet<String>>>,
}

/// Why a scope setting is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ScopeError(pub String);

impl Scope {
    /// Parses the two settings (comma-separated; empty items are refused).
    pub fn parse(labels: Option<&str>, names: Option<&str>) -> Result<Scope, ScopeError> {
        let mut scope = Scope::default();
        if let Some(l) = labels {
            for item in l.split(',').map(str::trim) {
                let (key, value) = match item.split_once('=') {
                    Some((k, v)) => (k.trim(), Some(v.trim().to_owned())),
                    None => (item, None),
                };
                let bad_prefix = key.trim_end_matches('*').contains('*')
                    || (key.ends_with('*') && value.is_some());
                if key.is_empty() || key == "*" || key.contains(char::is_whitespace) || bad_prefix {
                    return Err(ScopeError(format!(
                        "expected comma-separated key, key=value or prefix* labels, got {item:?}"
                    )));
                }
                scope.labels.push((key.to_owned(), value));
            }
        }
        if let Some(n) = names {
            for item in n.split(',').map(str::trim) {
                let pattern = item.strip_prefix('/').unwrap_or(item);
                if pattern.is_empty() || pattern.contains(['/', ' ']) {
                    return Err(ScopeError(format!(
                        "expected comma-separated container name patterns (with *), got {item:?}"
                    )));
                }
                scope.names.push(pattern.to_owned());
            }
        }
        Ok(scope)
    }

    /// The same scope, for an events stream: service events pass for these services (IDs).
    pub fn with_services(
        mut self,
        ids: std::sync::Arc<std::collections::HashSet<String>>,
    ) -> Scope {
        self.services = Some(ids);
        self
    }

    /// The same scope, also requiring label `key` to be `value`.
    pub fn with_label(mut self, key: &str, value: &str) -> Scope {
        self.labels.push((key.to_owned(), Some(value.to_owned())));
        self
    }

    /// The scope in words, for `socket-guard policy`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.labels.is_empty() {
            let all: Vec<String> = self.labels.iter().map(label_text).collect();
            parts.push(format!("labels {}", all.join(" and ")));
        }
        if !self.names.is_empty() {
            parts.push(format!("names {}", self.names.join(" or ")));
        }
        parts.join("; ")
    }

    /// Whether the scope limits anything.
    pub fn is_limited(&self) -> bool {
        !self.labels.is_empty() || !self.names.is_empty()
    }

    /// The daemon's `label` filter values that narrow a list or an events stream to the scope's
    /// labels (names are checked on the way back only: the daemon's `name` filter is a regex).
    pub fn label_filters(&self) -> Vec<String> {
        self.labels
            .iter()
            .filter(|(k, _)| !k.ends_with('*'))
            .map(label_text)
            .collect()
    }

    /// Whether a container with these labels (a map of keys to string values) and names is in
    /// the scope.
    pub fn admits(&self, labels: Option<&Map<String, Value>>, names: &[&str]) -> bool {
        self.admits_by(
            |k| labels.and_then(|l| l.get(k)).and_then(Value::as_str),
            |p| labels.is_some_and(|l| l.keys().any(|key| key.starts_with(p))),
            names,
        )
    }

    /// [`Self::admits`] over borrowed labels.
    fn admits_view(&self, labels: Option<&Labels<'_>>, names: &[&str]) -> bool {
        self.admits_by(
            |k| labels.and_then(|l| l.get(k)),
            |p| labels.is_some_and(|l| l.keys().any(|key| key.starts_with(p))),
            names,
        )
    }

    /// The decision, given how to read a label and whether some label key has a prefix.
    fn admits_by<'v>(
        &self,
        get: impl Fn(&str) -> Option<&'v str>,
        has_prefix: impl Fn(&str) -> bool,
        names: &[&str],
    ) -> bool {
        let labels_ok = self.labels.iter().all(|(k, v)| {
            if let Some(prefix) = k.strip_suffix('*') {
                return has_prefix(prefix);
            }
            match (get(k), v) {
                (Some(_), None) => true,
                (Some(have), Some(want)) => have == want,
                (None, _) => false,
            }
        });
        let names_ok = self.names.is_empty()
            || names.iter().any(|n| {
                let n = n.strip_prefix('/').unwrap_or(n);
                // A legacy link alias (`/web/db`) is not the container's own name.
                !n.contains('/') && self.names.iter().any(|p| glob(p, n))
            });
        labels_ok && names_ok
    }

    /// Whether a container object of the daemon's (a list item, or an inspect) is in scope:
    /// labels at `Labels` or `Config.Labels`, names at `Names` or `Name`.
    pub fn admits_container(&self, c: &Map<String, Value>) -> bool {
        let labels = c
            .get("Labels")
            .or_else(|| c.get("Config").and_then(|cfg| cfg.get("Labels")))
            .and_then(Value::as_object);
        let mut names: Vec<&str> = c
            .get("Names")
            .and_then(Value::as_array)
            .map(|n| n.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if let Some(n) = c.get("Name").and_then(Value::as_str) {
            names.push(n);
        }
        self.admits(labels, &names)
    }

    /// A container list with only the containers in scope (fails on what is not a list of
    /// containers). Only labels and names are read from each item; the kept items are copied
    /// as the daemon wrote them, and a list with nothing to drop comes back as it was.
    pub fn filter_list(&self, body: &[u8]) -> Result<Vec<u8>, ScopeError> {
        let not_list =
            |e: serde_json::Error| ScopeError(format!("the container list is not JSON: {e}"));
        // The usual answer: the daemon's label filter kept only containers in scope, which one
        // pass over labels and names confirms, and the answer goes as it came.
        let views: Vec<ContainerView> = serde_json::from_slice(body).map_err(not_list)?;
        if views
            .iter()
            .all(|c| self.admits_view(c.labels(), &c.names()))
        {
            return Ok(body.to_vec());
        }
        drop(views);
        let items: Vec<&RawValue> = serde_json::from_slice(body).map_err(not_list)?;
        let mut kept = Vec::with_capacity(items.len());
        for raw in &items {
            let c: ContainerView = serde_json::from_str(raw.get()).map_err(not_list)?;
            if self.admits_view(c.labels(), &c.names()) {
                kept.push(raw.get());
            }
        }
        let mut out = Vec::with_capacity(body.len());
        out.push(b'[');
        for (i, item) in kept.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(item.as_bytes());
        }
        out.push(b']');
        if body.ends_with(b"\n") {
            out.push(b'\n');
        }
        Ok(out)
    }

    /// `system df` with only the containers in scope in its `Containers`.
    pub fn filter_df(&self, body: &[u8]) -> Result<Vec<u8>, ScopeError> {
        let mut doc: Value = serde_json::from_slice(body)
            .map_err(|e| ScopeError(format!("system df is not JSON: {e}")))?;
        if let Some(Value::Array(cs)) = doc.get_mut("Containers") {
            cs.retain(|c| c.as_object().is_some_and(|c| self.admits_container(c)));
        }
        let mut out = serde_json::to_vec(&doc).map_err(|e| ScopeError(e.to_string()))?;
        if body.ends_with(b"\n") {
            out.push(b'\n');
        }
        Ok(out)
    }

    /// Whether one event (a JSON line) is in scope: container events of containers in scope
    /// (their labels and name are in the event's attributes), service events of the services
    /// in scope when the stream opened ([`Scope::with_services`]); nothing else, since other
    /// events (networks, images, volumes, nodes) tell of objects the scope does not cover.
    pub fn admits_event(&self, line: &[u8]) -> bool {
        let Ok(e) = serde_json::from_slice::<EventView>(line) else {
            return false;
        };
        if e.is_service() {
            return e
                .actor_id()
                .is_some_and(|id| self.services.as_ref().is_some_and(|s| s.contains(id)));
        }
        if !e.is_container() {
            return false;
        }
        let attrs = e.attributes();
        let name = attrs.and_then(|a| a.get("name")).unwrap_or_default();
        self.admits_view(attrs, &[name])
    }

    /// A network (inspect) whose `Containers` keeps only those in `visible` (full IDs).
    pub fn filter_network(
        body: &[u8],
        visible: &std::collections::HashSet<String>,
    ) -> Result<Vec<u8>, ScopeError> {
        let mut doc: Value = serde_json::from_slice(body)
            .map_err(|e| ScopeError(format!("the network is not JSON: {e}")))?;
        let filter = |n: &mut Value| {
            if let Some(Value::Object(cs)) = n.get_mut("Containers") {
                cs.retain(|id, _| visible.contains(id));
            }
        };
        match &mut doc {
            Value::Array(items) => items.iter_mut().for_each(filter),
            other => filter(other),
        }
        let mut out = serde_json::to_vec(&doc).map_err(|e| ScopeError(e.to_string()))?;
        if body.ends_with(b"\n") {
            out.push(b'\n');
        }
        Ok(out)
    }
}

/// What an allowed request touches, as far as a limited scope is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Touch {
    /// Nothing the scope covers.
    Nothing,
    /// The container list: narrowed by the daemon's label filter, checked on the way back.
    ContainerList,
    /// One container, by the id, short id or name in the path's third segment.
    Container(String),
    /// One exec instance (its container decides).
    Exec(String),
    /// The events stream.
    Events,
    /// One network: its `Containers` shows only containers in scope.
    Network(String),
    /// `system df`: its containers are filtered.
    SystemDf,
    /// The service list: only services in scope.
    ServiceList,
    /// One service, by the id or name in the path.
    Service(String),
    /// The task list: only tasks of services in scope.
    TaskList,
    /// One task (its service decides).
    Task(String),
    /// Refused under a limited scope: it reaches containers the scope cannot check.
    Refused(&'static str),
}

/// What `endpoint` (`None`: a path an explicit rule opened) touches at `path` (canonical).
pub fn touch(endpoint: Option<&crate::endpoint::Endpoint>, path: &str) -> Touch {
    let Some(e) = endpoint else {
        return Touch::Refused(
            "a path outside the endpoint table cannot be checked against GUARD_VISIBLE_*",
        );
    };
    let third = || path.split('/').nth(2).unwrap_or_default().to_owned();
    match e.name {
        "container.list" => Touch::ContainerList,
        "container.prune" => Touch::Refused("pruning reaches every container, in scope or not"),
        "commit" => Touch::Refused(
            "commit names its container in the query, which is not checked against the scope",
        ),
        "network.connect" | "network.disconnect" => Touch::Refused(
            "connecting names the container in the body, which is not checked against the scope",
        ),
        "events" => Touch::Events,
        "system.df" => Touch::SystemDf,
        "network.inspect" => Touch::Network(third()),
        "service.list" => Touch::ServiceList,
        "task.list" => Touch::TaskList,
        _ if e.pattern.starts_with("/services/{id}") => Touch::Service(third()),
        _ if e.pattern.starts_with("/tasks/{id}") => Touch::Task(third()),
        // By the path, not the name: `exec.create` is `/containers/{id}/exec`.
        _ if e.pattern.starts_with("/containers/{id}") => Touch::Container(third()),
        _ if e.pattern.starts_with("/exec/{id}") => Touch::Exec(third()),
        _ => Touch::Nothing,
    }
}

/// `*` matches any run of characters, everything else itself.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, rest) = parts.split_first().unwrap_or((&"", &[]));
    let Some(mut left) = text.strip_prefix(first) else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        return left.is_empty();
    };
    for part in middle {
        match left.find(part) {
            Some(i) => left = &left[i + part.len()..],
            None => return false,
        }
    }
    left.ends_with(last)
}

/// Adds `labels` to the `label` filter of a query string's `filters` (the daemon ANDs label
/// filters, so a client's own can only narrow further). Other parameters are kept.
pub fn with_label_filters(query: Option<&str>, labels: &[String]) -> Result<String, ScopeError> {
    let mut params = query_params(query);
    let existing = params
        .iter()
        .position(|(k, _)| k == "filters")
        .map(|i| params.remove(i).1);
    let mut filters: Map<String, Value> = match existing {
        Some(v) => {
            let decoded = percent_decode(&v)
                .ok_or_else(|| ScopeError("filters is not valid percent-encoding".into()))?;
            match serde_json::from_str::<Value>(&decoded) {
                Ok(Value::Object(m)) => m,
                _ => return Err(ScopeError("filters is not a JSON object".into())),
            }
        }
        None => Map::new(),
    };
    let entry = filters
        .entry("label")
        .or_insert_with(|| Value::Array(Vec::new()));
    match entry {
        // The daemon's newer form: {"label": {"a=b": true}}.
        Value::Object(m) => {
            for l in labels {
                m.insert(l.clone(), Value::Bool(true));
            }
        }
        Value::Array(a) => a.extend(labels.iter().cloned().map(Value::String)),
        _ => {
            return Err(ScopeError(
                "filters.label is neither a list nor a map".into(),
            ))
        }
    }
    let json = Value::Object(filters).to_string();
    params.push(("filters".into(), percent_encode(&json)));
    Ok(join_query(&params))
}

/// A query string's parameters as written (not decoded), in order.
pub(crate) fn query_params(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// Parameters back into a query string.
pub(crate) fn join_query(params: &[(String, String)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

pub(crate) fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(labels: &str, names: &str) -> Scope {
        Scope::parse(
            (!labels.is_empty()).then_some(labels),
            (!names.is_empty()).then_some(names),
        )
        .unwrap()
    }

    fn labels(pairs: &[(&str, &str)]) -> Map<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
            .collect()
    }

    #[test]
    fn labels_and_names_decide() {
        let s = scope("traefik.enable=true,team", "web-*,db");
        let both = labels(&[("traefik.enable", "true"), ("team", "a")]);
        assert!(s.admits(Some(&both), &["/web-1"]));
        assert!(s.admits(Some(&both), &["/db"]));
        assert!(!s.admits(Some(&both), &["/dbx"]));
        assert!(!s.admits(Some(&both), &["/web-1/alias"]));
        assert!(!s.admits(Some(&labels(&[("team", "a")])), &["/web-1"]));
        let off = labels(&[("traefik.enable", "false"), ("team", "a")]);
        assert!(!s.admits(Some(&off), &["/db"]));
        assert!(Scope::default().admits(None, &[]));
        assert!(!Scope::default().is_limited());
        let prefix = scope("traefik.*", "");
        assert!(prefix.admits(
            Some(&labels(&[("traefik.http.routers.a.rule", "x")])),
            &["/a"]
        ));
        assert!(!prefix.admits(Some(&labels(&[("other", "x")])), &["/a"]));
        assert!(!prefix.admits(None, &["/a"]));
        assert!(prefix.label_filters().is_empty());
        for bad in ["a, ,b", "*", "a*b*", "traefik.*=x"] {
            assert!(Scope::parse(Some(bad), None).is_err(), "{bad}");
        }
        assert!(Scope::parse(None, Some("a/b")).is_err());
    }

    #[test]
    fn every_path_naming_a_container_or_an_exec_is_checked() {
        use crate::endpoint::ENDPOINTS;
        for e in ENDPOINTS {
            let path = e
                .pattern
                .replace("{id}", "x")
                .replace("{name*}", "n")
                .replace("{name}", "n");
            let t = touch(Some(e), &path);
            if e.pattern.starts_with("/containers/{id}") {
                assert_eq!(t, Touch::Container("x".into()), "{}", e.name);
            }
            if e.pattern.starts_with("/exec/{id}") {
                assert_eq!(t, Touch::Exec("x".into()), "{}", e.name);
            }
        }
        assert!(matches!(touch(None, "/custom"), Touch::Refused(_)));
    }

    #[test]
    fn globs() {
        for (p, t, want) in [
            ("web-*", "web-1", true),
            ("web-*", "web-", true),
            ("web-*", "xweb-1", false),
            ("*-db", "app-db", true),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXcYb", false),
            ("exact", "exact", true),
            ("exact", "exactly", false),
            ("*", "anything", true),
        ] {
            assert_eq!(glob(p, t), want, "{p} {t}");
        }
    }

    #[test]
    fn lists_events_and_networks_keep_what_is_in_scope() {
        let s = scope("traefik.enable=true", "");
        let list = br#"[{"Id":"a","Names":["/a"],"Labels":{"traefik.enable":"true"}},{"Id":"b","Names":["/b"],"Labels":{}}]"#;
        let kept: Value = serde_json::from_slice(&s.filter_list(list).unwrap()).unwrap();
        assert_eq!(kept.as_array().unwrap().len(), 1);
        assert_eq!(kept[0]["Id"], "a");
        assert!(s.admits_event(br#"{"Type":"container","Action":"start","Actor":{"ID":"a","Attributes":{"name":"a","traefik.enable":"true"}}}"#));
        assert!(!s.admits_event(br#"{"Type":"container","Action":"start","Actor":{"ID":"b","Attributes":{"name":"b"}}}"#));
        assert!(!s.admits_event(br#"{"Type":"network","Action":"connect","Actor":{"ID":"n","Attributes":{"container":"a"}}}"#));
        let visible = ["a".to_string()].into_iter().collect();
        let net = br#"{"Name":"n","Containers":{"a":{"Name":"a"},"b":{"Name":"b"}}}"#;
        let out: Value =
            serde_json::from_slice(&Scope::filter_network(net, &visible).unwrap()).unwrap();
        assert_eq!(out["Containers"].as_object().unwrap().len(), 1);
    }

    #[test]
    fn label_filters_are_added_to_the_clients() {
        let labels = vec!["traefik.enable=true".to_string()];
        let q = with_label_filters(Some("all=1"), &labels).unwrap();
        assert!(q.starts_with("all=1&filters="), "{q}");
        let f = percent_decode(q.split_once("filters=").unwrap().1).unwrap();
        assert_eq!(f, r#"{"label":["traefik.enable=true"]}"#);
        let q = with_label_filters(
            Some("filters=%7B%22label%22%3A%5B%22team%3Da%22%5D%2C%22status%22%3A%5B%22running%22%5D%7D"),
            &labels,
        )
        .unwrap();
        let f: Value =
            serde_json::from_str(&percent_decode(q.split_once("filters=").unwrap().1).unwrap())
                .unwrap();
        assert_eq!(
            f["label"],
            serde_json::json!(["team=a", "traefik.enable=true"])
        );
        assert_eq!(f["status"], serde_json::json!(["running"]));
        let q = with_label_filters(
            Some("filters=%7B%22label%22%3A%7B%22x%22%3Atrue%7D%7D"),
            &labels,
        )
        .unwrap();
        let f: Value =
            serde_json::from_str(&percent_decode(q.split_once("filters=").unwrap().1).unwrap())
                .unwrap();
        assert_eq!(f["label"]["traefik.enable=true"], true);
        assert!(with_label_filters(Some("filters=notjson"), &labels).is_err());
    }
}
