//! One configuration tree for every way Traefik is configured: container labels, command-line
//! flags and `TRAEFIK_*` variables (flat dotted keys), YAML and TOML files, KV stores. Each is
//! turned into a [`Node`] tree here, and one typed decoder per model (static, dynamic) reads
//! it, as Traefik's `paerser` does. Pure: no I/O.
//!
//! What the sources share, as in Traefik:
//! - Flat keys merge case-insensitively (`routers.Foo.rule` and `routers.foo.service` are one
//!   router, spelled as the first key in sorted order spells it); file keys stay as written.
//! - A list is a leaf of comma-separated values (`web,websecure`), a file sequence, indexed
//!   keys (`domains[0].main`) or, from environment variables, numbered keys
//!   (`DOMAINS_0_MAIN`).
//! - Struct fields match case-insensitively; every key a decoder does not know is reported,
//!   never ignored.

use std::fmt;

/// A node: its name (a key or `[i]`), the full key it was written as (for messages), and
/// its value.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Node {
    /// The last segment of its key, as written.
    pub name: String,
    /// The full key, as written in its source (`traefik.http.routers.r.rule`,
    /// `http.routers.r.rule`, `--entrypoints.web.address`).
    pub key: String,
    /// Its value.
    pub value: Value,
}

/// A node's value.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Value {
    /// A scalar, as text.
    Leaf(String),
    /// Named children.
    Map(Vec<Node>),
    /// Ordered children.
    List(Vec<Node>),
}

/// A key that cannot be decoded: the key as written and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DecodeError {
    /// The key (`traefik.http.routers.r.priority`).
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

impl DecodeError {
    /// An error about `node`.
    pub fn at(node: &Node, message: impl Into<String>) -> DecodeError {
        DecodeError {
            key: node.key.clone(),
            message: message.into(),
        }
    }
}

// === building ===

/// How the keys of intermediate nodes are written in messages (leaves keep the key as
/// written in their source).
#[derive(Debug, Clone, Copy)]
pub struct FlatStyle {
    /// The separator between segments (`.` for labels and flags, `_` for variables).
    pub separator: char,
    /// Whether segments are shown in upper case (environment variables).
    pub upper: bool,
}

impl FlatStyle {
    /// Labels and flags: `a.b.c`.
    pub const DOTTED: FlatStyle = FlatStyle {
        separator: '.',
        upper: false,
    };
    /// KV store keys: `traefik/http/routers/r/rule`.
    pub const SLASHED: FlatStyle = FlatStyle {
        separator: '/',
        upper: false,
    };
    /// Environment variables: `TRAEFIK_A_B_C`.
    pub const ENV: FlatStyle = FlatStyle {
        separator: '_',
        upper: true,
    };

    fn join(self, parent: &str, name: &str) -> String {
        let name = if self.upper {
            name.to_ascii_uppercase()
        } else {
            name.to_owned()
        };
        if parent.is_empty() {
            name
        } else if name.starts_with('[') {
            format!("{parent}{name}")
        } else if parent == "-" {
            format!("--{name}")
        } else {
            format!("{parent}{}{name}", self.separator)
        }
    }
}

impl Node {
    /// An empty map node.
    pub fn root(key: &str) -> Node {
        Node {
            name: String::new(),
            key: key.to_owned(),
            value: Value::Map(Vec::new()),
        }
    }

    /// Builds a tree from flat entries: `(key as written, its segments, value)`. Segments
    /// may carry an index (`domains[0]`). Entries are applied in sorted key order, maps merge
    /// case-insensitively; a key that is both a value and a parent of other keys is an error,
    /// unless the value is `true` or empty (the keys under it apply) or false (the section is
    /// off and the keys under it are ignored, as Traefik's `sticky=false` beside
    /// `sticky.cookie.name` is a service without sticky sessions).
    /// `root_key` names the root in messages (`traefik` for labels, `-` for flags).
    pub fn from_flat(
        root_key: &str,
        style: FlatStyle,
        mut entries: Vec<(String, Vec<String>, String)>,
    ) -> (Node, Vec<DecodeError>) {
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut root = Node::root(root_key);
        let mut errors = Vec::new();
        for (key, segments, value) in entries {
            match path_of(&segments) {
                Ok(path) if !path.is_empty() => {
                    if let Err(message) = insert(&mut root, &path, style, &key, value) {
                        errors.push(DecodeError { key, message });
                    }
                }
                Ok(_) => errors.push(DecodeError {
                    key,
                    message: "empty key".into(),
                }),
                Err(message) => errors.push(DecodeError { key, message }),
            }
        }
        (root, errors)
    }

    /// The node's children (none for a leaf).
    pub fn children(&self) -> &[Node] {
        match &self.value {
            Value::Leaf(_) => &[],
            Value::Map(c) | Value::List(c) => c,
        }
    }

    /// The child named `name`, case-insensitively.
    pub fn get(&self, name: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(c) => c.iter().find(|n| n.name.eq_ignore_ascii_case(name)),
            _ => None,
        }
    }

    /// The text of a leaf.
    pub fn text(&self) -> Result<&str, DecodeError> {
        match &self.value {
            Value::Leaf(s) => Ok(s),
            _ => Err(DecodeError::at(self, "expected a value, found a section")),
        }
    }

    /// The fields of a section. A leaf `true` or empty (`--providers.docker`,
    /// `traefik.http.middlewares.m.compress=true`) is an empty section.
    pub fn fields(&self) -> Result<Fields<'_>, DecodeError> {
        match &self.value {
            Value::Map(c) => Ok(Fields {
                node: self,
                used: vec![false; c.len()],
            }),
            Value::Leaf(s) if s.is_empty() || s.eq_ignore_ascii_case("true") => Ok(Fields {
                node: self,
                used: Vec::new(),
            }),
            _ => Err(DecodeError::at(self, "expected a section")),
        }
    }

    /// Whether a section that may be given as a boolean is on: a map is, a leaf is read as a
    /// boolean (`--providers.docker=false` turns it off).
    pub fn section_on(&self) -> Result<bool, DecodeError> {
        match &self.value {
            Value::Map(_) => Ok(true),
            Value::Leaf(s) if s.is_empty() => Ok(true),
            Value::Leaf(_) => self.boolean(),
            Value::List(_) => Err(DecodeError::at(self, "expected a section, found a list")),
        }
    }

    /// A boolean as Go's `strconv.ParseBool` reads it.
    pub fn boolean(&self) -> Result<bool, DecodeError> {
        let t = self.text()?;
        parse_bool(t)
            .ok_or_else(|| DecodeError::at(self, format!("expected true or false, got {t:?}")))
    }

    /// A whole number (base 10, as Go's `strconv.ParseInt`).
    pub fn integer(&self) -> Result<i64, DecodeError> {
        let t = self.text()?;
        t.trim()
            .parse::<i64>()
            .map_err(|_| DecodeError::at(self, format!("expected a whole number, got {t:?}")))
    }

    /// A duration as Traefik reads one: Go's syntax (`1m30s`, `500ms`, `1.5h`), or a bare
    /// number of seconds.
    pub fn duration(&self) -> Result<std::time::Duration, DecodeError> {
        let t = self.text()?;
        parse_go_duration(t.trim()).ok_or_else(|| {
            DecodeError::at(
                self,
                format!("expected a duration such as 10s or 1m30s, got {t:?}"),
            )
        })
    }

    /// A list of strings: a leaf split on commas (each trimmed, empty ones dropped), or a
    /// list or numbered map of leaves, each split so too: paerser joins a list's values with
    /// commas and splits the text again, so Traefik reads `entryPoints: ["web, websecure"]`
    /// (or the KV key `entryPoints/0 = web, websecure`) as two entry points.
    pub fn strings(&self) -> Result<Vec<String>, DecodeError> {
        let split = |s: &str| -> Vec<String> {
            s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        match &self.value {
            Value::Leaf(s) => Ok(split(s)),
            _ => {
                let mut out = Vec::new();
                for n in self.items()? {
                    out.extend(split(n.text()?));
                }
                Ok(out)
            }
        }
    }

    /// The items of a list: a list's children, or a map's whose names are all numbers
    /// (`DOMAINS_0_MAIN`), in numeric order.
    pub fn items(&self) -> Result<Vec<&Node>, DecodeError> {
        match &self.value {
            Value::List(c) => Ok(c.iter().collect()),
            Value::Map(c) => {
                let mut numbered = Vec::new();
                for n in c {
                    match n.name.parse::<usize>() {
                        Ok(i) => numbered.push((i, n)),
                        Err(_) => {
                            return Err(DecodeError::at(n, "expected a list (numbered items)"))
                        }
                    }
                }
                numbered.sort_by_key(|(i, _)| *i);
                Ok(numbered.into_iter().map(|(_, n)| n).collect())
            }
            Value::Leaf(s) if s.is_empty() => Ok(Vec::new()),
            Value::Leaf(_) => Err(DecodeError::at(self, "expected a list")),
        }
    }
}

/// A section's own value that only says it is on (`--providers.docker`).
fn is_on(v: &str) -> bool {
    v.is_empty() || v.eq_ignore_ascii_case("true")
}

/// A section's own value that turns it off (`sticky=false`): Go's false spellings.
fn is_off(v: &str) -> bool {
    parse_bool(v) == Some(false)
}

enum Segment {
    Name(String),
    Index(usize),
}

/// Segments (`domains[0]`) -> a path of names and indexes.
fn path_of(segments: &[String]) -> Result<Vec<Segment>, String> {
    let mut path = Vec::new();
    for s in segments {
        let (name, index) = match s.strip_suffix(']').and_then(|r| r.split_once('[')) {
            Some((name, i)) => (
                name,
                Some(
                    i.parse::<usize>()
                        .map_err(|_| format!("invalid index in {s:?}"))?,
                ),
            ),
            None if s.contains(['[', ']']) => return Err(format!("invalid index in {s:?}")),
            None => (s.as_str(), None),
        };
        if name.is_empty() {
            return Err("empty segment in the key".into());
        }
        path.push(Segment::Name(name.to_owned()));
        if let Some(i) = index {
            path.push(Segment::Index(i));
        }
    }
    Ok(path)
}

/// Puts `value` at `path` under `node`: maps merge case-insensitively, lists by index.
fn insert(
    node: &mut Node,
    path: &[Segment],
    style: FlatStyle,
    key: &str,
    value: String,
) -> Result<(), String> {
    let Some((first, rest)) = path.split_first() else {
        return match &node.value {
            Value::Map(c) if c.is_empty() => {
                node.value = Value::Leaf(value);
                node.key = key.to_owned();
                Ok(())
            }
            Value::Leaf(_) => Err(format!("{key} is given twice")),
            // `--providers.docker=true` next to `--providers.docker.endpoint=...`: the section
            // is on, which its keys already say.
            _ if is_on(&value) => Ok(()),
            // `sticky=false` after `Sticky.cookie.name=...` (sorted first): the section is off,
            // whatever is under it, as paerser reads a section that may be empty.
            _ if is_off(&value) => {
                node.value = Value::Leaf(value);
                node.key = key.to_owned();
                Ok(())
            }
            _ => Err(format!("{key} has a value and also keys under it")),
        };
    };
    // The converse: a section given as `true` first, then keys under it.
    if matches!(&node.value, Value::Leaf(v) if is_on(v)) {
        node.value = Value::Map(Vec::new());
    }
    // A section given as false first: it is off, and the keys under it are ignored.
    if matches!(&node.value, Value::Leaf(v) if is_off(v)) {
        return Ok(());
    }
    // An empty node becomes what the next segment needs.
    if node.children().is_empty() && !matches!(node.value, Value::Leaf(_)) {
        node.value = match first {
            Segment::Name(_) => Value::Map(Vec::new()),
            Segment::Index(_) => Value::List(Vec::new()),
        };
    }
    let parent_key = node.key.clone();
    let (children, name) = match (&mut node.value, first) {
        (Value::Leaf(_), _) => {
            return Err(format!("{parent_key} has a value and also keys under it"))
        }
        (Value::Map(c), Segment::Name(n)) => (c, n.clone()),
        (Value::List(c), Segment::Index(i)) => (c, format!("[{i}]")),
        (Value::Map(_), Segment::Index(_)) => {
            return Err(format!("{parent_key} is a section, not a list"))
        }
        (Value::List(_), Segment::Name(_)) => {
            return Err(format!("{parent_key} is a list, not a section"))
        }
    };
    let pos = match children
        .iter()
        .position(|c| c.name.eq_ignore_ascii_case(&name))
    {
        Some(p) => p,
        None => {
            children.push(Node {
                key: style.join(&parent_key, &name),
                name: name.clone(),
                value: Value::Map(Vec::new()),
            });
            if matches!(first, Segment::Index(_)) {
                children.sort_by_key(|n| {
                    n.name
                        .trim_matches(['[', ']'])
                        .parse::<usize>()
                        .unwrap_or(usize::MAX)
                });
            }
            children
                .iter()
                .position(|c| c.name == name)
                .unwrap_or(children.len() - 1)
        }
    };
    insert(&mut children[pos], rest, style, key, value)
}

// === files ===

impl Node {
    /// A YAML document (Go's yaml.v3 reading: YAML 1.2 scalars, so `yes` is text; anchors,
    /// aliases and `<<` merge keys resolved; null values dropped).
    pub fn from_yaml(text: &str, root_key: &str) -> Result<Node, String> {
        let mut v: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
        v.apply_merge().map_err(|e| e.to_string())?;
        match v {
            serde_yaml_ng::Value::Null => Ok(Node::root(root_key)),
            serde_yaml_ng::Value::Mapping(_) => {
                Ok(yaml_node(String::new(), root_key.to_owned(), v))
            }
            _ => Err("expected a mapping at the top of the document".into()),
        }
    }

    /// A TOML document.
    pub fn from_toml(text: &str, root_key: &str) -> Result<Node, String> {
        let t: toml::Table = text.parse().map_err(|e: toml::de::Error| e.to_string())?;
        Ok(toml_node(
            String::new(),
            root_key.to_owned(),
            toml::Value::Table(t),
        ))
    }
}

fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_owned()
    } else {
        format!("{parent}.{name}")
    }
}

fn float_text(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

fn yaml_node(name: String, key: String, v: serde_yaml_ng::Value) -> Node {
    use serde_yaml_ng::Value as Y;
    let value = match v {
        Y::Null => Value::Leaf(String::new()),
        Y::Bool(b) => Value::Leaf(b.to_string()),
        Y::Number(n) => Value::Leaf(match n.as_f64() {
            Some(f) if n.is_f64() => float_text(f),
            _ => n.to_string(),
        }),
        Y::String(s) => Value::Leaf(s),
        Y::Sequence(items) => Value::List(
            items
                .into_iter()
                .filter(|i| !i.is_null())
                .enumerate()
                .map(|(i, item)| yaml_node(format!("[{i}]"), format!("{key}[{i}]"), item))
                .collect(),
        ),
        Y::Mapping(m) => Value::Map(
            m.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| {
                    let name = match k {
                        Y::String(s) => s,
                        Y::Bool(b) => b.to_string(),
                        Y::Number(n) => n.to_string(),
                        other => format!("{other:?}"),
                    };
                    let child_key = join(&key, &name);
                    yaml_node(name, child_key, v)
                })
                .collect(),
        ),
        Y::Tagged(t) => return yaml_node(name, key, t.value),
    };
    Node { name, key, value }
}

fn toml_node(name: String, key: String, v: toml::Value) -> Node {
    let value = match v {
        toml::Value::String(s) => Value::Leaf(s),
        toml::Value::Integer(i) => Value::Leaf(i.to_string()),
        toml::Value::Float(f) => Value::Leaf(float_text(f)),
        toml::Value::Boolean(b) => Value::Leaf(b.to_string()),
        toml::Value::Datetime(d) => Value::Leaf(d.to_string()),
        toml::Value::Array(items) => Value::List(
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| toml_node(format!("[{i}]"), format!("{key}[{i}]"), item))
                .collect(),
        ),
        toml::Value::Table(t) => Value::Map(
            t.into_iter()
                .map(|(k, v)| {
                    let child_key = join(&key, &k);
                    toml_node(k, child_key, v)
                })
                .collect(),
        ),
    };
    Node { name, key, value }
}

// === reading sections ===

/// The fields of a section, each taken at most once; what is left is unknown.
#[derive(Debug)]
pub struct Fields<'a> {
    node: &'a Node,
    used: Vec<bool>,
}

impl<'a> Fields<'a> {
    /// The field `name` (case-insensitive), marked as read.
    pub fn take(&mut self, name: &str) -> Option<&'a Node> {
        let children = self.node.children();
        let i = children
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(name))?;
        if let Some(u) = self.used.get_mut(i) {
            *u = true;
        }
        children.get(i)
    }

    /// The fields not taken: keys the decoder does not know.
    pub fn rest(&self) -> Vec<&'a Node> {
        self.node
            .children()
            .iter()
            .zip(&self.used)
            .filter(|(_, u)| !**u)
            .map(|(n, _)| n)
            .collect()
    }

    /// The section itself.
    pub fn node(&self) -> &'a Node {
        self.node
    }
}

/// Go's `strconv.ParseBool`.
pub fn parse_bool(v: &str) -> Option<bool> {
    match v.trim() {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// Go's `time.Duration.String`, as Traefik's API writes a duration: `2.5ms`, `1.5s`, `1m0s`,
/// `2h0m0s`.
pub fn go_duration_text(d: std::time::Duration) -> String {
    /// `whole.rest` with `rest` on `digits` digits, trailing zeros dropped.
    fn decimal(whole: u128, rest: u128, digits: usize) -> String {
        if rest == 0 {
            return whole.to_string();
        }
        let r = format!("{rest:0digits$}");
        format!("{whole}.{}", r.trim_end_matches('0'))
    }
    let ns = d.as_nanos();
    match ns {
        0 => "0s".to_owned(),
        n if n < 1_000 => format!("{n}ns"),
        n if n < 1_000_000 => format!("{}µs", decimal(n / 1_000, n % 1_000, 3)),
        n if n < 1_000_000_000 => format!("{}ms", decimal(n / 1_000_000, n % 1_000_000, 6)),
        n => {
            let secs = n / 1_000_000_000;
            let s = decimal(secs % 60, n % 1_000_000_000, 9);
            let (h, m) = (secs / 3600, (secs % 3600) / 60);
            match (h, m) {
                (0, 0) => format!("{s}s"),
                (0, m) => format!("{m}m{s}s"),
                (h, m) => format!("{h}h{m}m{s}s"),
            }
        }
    }
}

/// Serializes a duration as [`go_duration_text`] (serde's `serialize_with`).
pub fn ser_go_duration<S: serde::Serializer>(
    d: &std::time::Duration,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_str(&go_duration_text(*d))
}

/// [`ser_go_duration`] for an optional duration (skipped when `None`).
pub fn ser_go_duration_opt<S: serde::Serializer>(
    d: &Option<std::time::Duration>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_str(&go_duration_text(*d)),
        None => s.serialize_none(),
    }
}

/// Traefik's durations: a bare integer is seconds, else Go's `time.ParseDuration` (units
/// `ns`, `us`, `µs`, `ms`, `s`, `m`, `h`, decimals and a sign allowed; negative durations
/// are refused here).
pub fn parse_go_duration(v: &str) -> Option<std::time::Duration> {
    if let Ok(secs) = v.parse::<i64>() {
        return u64::try_from(secs).ok().map(std::time::Duration::from_secs);
    }
    let mut rest = v.strip_prefix('+').unwrap_or(v);
    if rest == "0" {
        return Some(std::time::Duration::ZERO);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !c.is_ascii_digit() && c != '.')?;
        let (num, tail) = rest.split_at(num_end);
        if num.is_empty() || num == "." {
            return None;
        }
        let n: f64 = num.parse().ok()?;
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_end);
        let nanos = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += n * nanos;
        rest = next;
    }
    if !total.is_finite() || total > 9.2e18 {
        return None;
    }
    Some(std::time::Duration::from_nanos(total as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(pairs: &[(&str, &str)]) -> (Node, Vec<DecodeError>) {
        Node::from_flat(
            "",
            FlatStyle::DOTTED,
            pairs
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        k.split('.').map(str::to_owned).collect(),
                        v.to_string(),
                    )
                })
                .collect(),
        )
    }

    #[test]
    fn flat_keys_merge_case_insensitively_and_keep_the_first_spelling() {
        let (n, errors) = flat(&[
            ("http.routers.foo.service", "s"),
            ("http.Routers.Foo.rule", "Host(`a`)"),
        ]);
        assert!(errors.is_empty(), "{errors:?}");
        let routers = n.get("http").unwrap().get("routers").unwrap();
        assert_eq!(routers.children().len(), 1);
        assert_eq!(routers.children()[0].name, "Foo");
        assert_eq!(routers.children()[0].children().len(), 2);
    }

    #[test]
    fn indexed_and_numbered_lists() {
        let (n, errors) = flat(&[
            ("tls.domains[1].main", "b"),
            ("tls.domains[0].main", "a"),
            ("tls.domains[0].sans", "x,y"),
        ]);
        assert!(errors.is_empty(), "{errors:?}");
        let items = n
            .get("tls")
            .unwrap()
            .get("domains")
            .unwrap()
            .items()
            .unwrap();
        assert_eq!(items[0].get("main").unwrap().text().unwrap(), "a");
        assert_eq!(items[1].get("main").unwrap().text().unwrap(), "b");
        assert_eq!(items[0].get("sans").unwrap().strings().unwrap(), ["x", "y"]);
        assert_eq!(items[0].key, "tls.domains[0]");
        let (n, _) = flat(&[("d.1.main", "b"), ("d.0.main", "a")]);
        let items = n.get("d").unwrap().items().unwrap();
        assert_eq!(items[0].get("main").unwrap().text().unwrap(), "a");
    }

    #[test]
    fn a_section_set_to_false_ignores_the_keys_under_it() {
        for pairs in [
            &[("s.sticky", "false"), ("s.sticky.cookie.name", "x")][..],
            &[("s.Sticky.cookie.name", "x"), ("s.sticky", "0")][..],
        ] {
            let (n, errors) = flat(pairs);
            assert!(errors.is_empty(), "{errors:?}");
            let sticky = n.get("s").unwrap().get("sticky").unwrap();
            assert!(!sticky.section_on().unwrap(), "{pairs:?}");
        }
    }

    #[test]
    fn a_key_both_value_and_parent_is_an_error() {
        let (_, errors) = flat(&[("a.b", "1"), ("a.b.c", "2")]);
        assert_eq!(errors.len(), 1, "{errors:?}");
        let (_, errors) = flat(&[("a.b[x]", "1"), ("a..b", "1")]);
        assert_eq!(errors.len(), 2, "{errors:?}");
    }

    #[test]
    fn yaml_and_toml_read_as_go_reads_them() {
        let y = Node::from_yaml(
            "base: &b\n  x: yes\n  n: 8080\n  f: 1.5\n  e: ~\nm:\n  <<: *b\n  l: [a, b]\n",
            "",
        )
        .unwrap();
        let m = y.get("m").unwrap();
        assert_eq!(m.get("x").unwrap().text().unwrap(), "yes");
        assert!(
            m.get("x").unwrap().boolean().is_err(),
            "yes is not a Go boolean"
        );
        assert_eq!(m.get("n").unwrap().integer().unwrap(), 8080);
        assert!(m.get("e").is_none(), "null values are dropped");
        assert_eq!(m.get("l").unwrap().strings().unwrap(), ["a", "b"]);
        assert_eq!(m.get("l").unwrap().items().unwrap()[1].key, "m.l[1]");
        let t = Node::from_toml(
            "[http.routers.r]\nrule = \"Host(`a`)\"\npriority = 10\n",
            "",
        )
        .unwrap();
        let r = t
            .get("http")
            .unwrap()
            .get("routers")
            .unwrap()
            .get("r")
            .unwrap();
        assert_eq!(r.get("priority").unwrap().integer().unwrap(), 10);
        assert_eq!(r.get("rule").unwrap().key, "http.routers.r.rule");
        assert!(Node::from_yaml("- a\n", "").is_err());
        assert!(Node::from_toml("x = [", "").is_err());
    }

    #[test]
    fn fields_report_what_is_unknown() {
        let (n, _) = flat(&[("a.known", "1"), ("a.Other", "2")]);
        let mut f = n.get("a").unwrap().fields().unwrap();
        assert!(f.take("KNOWN").is_some());
        let rest: Vec<&str> = f.rest().iter().map(|n| n.key.as_str()).collect();
        assert_eq!(rest, ["a.Other"]);
    }

    #[test]
    fn durations_written_as_go_writes_them() {
        // time.Duration.String, as Traefik's API shows a duration.
        use std::time::Duration;
        for (d, want) in [
            (Duration::ZERO, "0s"),
            (Duration::from_nanos(2), "2ns"),
            (Duration::from_micros(1500), "1.5ms"),
            (Duration::from_millis(100), "100ms"),
            (Duration::from_secs(10), "10s"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_secs(60), "1m0s"),
            (Duration::from_secs(180), "3m0s"),
            (Duration::from_secs(3661), "1h1m1s"),
        ] {
            assert_eq!(go_duration_text(d), want, "{d:?}");
        }
    }

    #[test]
    fn go_durations() {
        use std::time::Duration;
        assert_eq!(parse_go_duration("10"), Some(Duration::from_secs(10)));
        assert_eq!(parse_go_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_go_duration("1.5h"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_go_duration("0"), Some(Duration::ZERO));
        for bad in ["", "5x", "-1s", "-3", "s", "1m30"] {
            assert_eq!(parse_go_duration(bad), None, "{bad}");
        }
    }
}
