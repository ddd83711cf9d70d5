//! Property tests of redaction ([`policies::redact`]):
//! - whatever JSON surrounds them, and whatever shape the secret-bearing fields take (strings,
//!   lists, objects, numbers), no byte sequence of a secret value is left in the output, and
//!   the output is JSON again (or the answer is refused: never passed on);
//! - the one-pass rewrite and the tree-based one agree (same JSON), whatever the formatting;
//! - redaction never panics on any input bytes;
//! - an event stream gives the same output however it is split into reads.

#![allow(clippy::unwrap_used)]

use policies::redact::{redact, redact_lines, redact_tree, Redact};
use proptest::prelude::*;
use serde_json::{json, Value};

/// Secrets: an alphabet no other generated text uses, so finding one in the output can only
/// mean it leaked.
fn secret() -> impl Strategy<Value = String> {
    "SECRET[A-Z0-9]{6,14}"
}

/// Arbitrary JSON made of lowercase text, numbers, bools and nulls.
fn filler() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(|n| json!(n)),
        "[a-z _=./-]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A secret in one of the shapes a secret-bearing field may take.
fn carried(secret: String) -> impl Strategy<Value = Value> {
    let s = secret.clone();
    let t = secret.clone();
    let u = secret.clone();
    prop_oneof![
        Just(Value::String(secret)),
        Just(json!(["sh", "-c", s])),
        Just(json!([format!("NAME={t}"), "PATH=/bin"])),
        Just(json!({ "nested": u })),
        Just(json!([[t.clone()]])),
    ]
}

fn set(doc: &mut Value, path: &[&str], v: Value) {
    let mut cur = doc;
    for (i, key) in path.iter().enumerate() {
        if !cur.is_object() {
            *cur = json!({});
        }
        let o = cur.as_object_mut().unwrap();
        if i + 1 == path.len() {
            o.insert((*key).to_owned(), v);
            return;
        }
        cur = o.entry((*key).to_owned()).or_insert_with(|| json!({}));
    }
}

/// The fields each kind redacts, as paths inside one object.
fn fields(kind: Redact) -> &'static [&'static [&'static str]] {
    match kind {
        Redact::ContainerList | Redact::SystemDf => &[&["Command"]],
        Redact::ContainerInspect => &[
            &["Path"],
            &["Args"],
            &["Config", "Cmd"],
            &["Config", "Entrypoint"],
            &["Config", "Env"],
            &["Config", "Healthcheck", "Test"],
        ],
        Redact::ExecInspect => &[
            &["ProcessConfig", "entrypoint"],
            &["ProcessConfig", "arguments"],
        ],
        Redact::Services => &[
            &["Spec", "TaskTemplate", "ContainerSpec", "Env"],
            &["Spec", "TaskTemplate", "ContainerSpec", "Args"],
            &["PreviousSpec", "TaskTemplate", "ContainerSpec", "Command"],
        ],
        Redact::Tasks => &[
            &["Spec", "ContainerSpec", "Env"],
            &["Spec", "ContainerSpec", "Command"],
        ],
        Redact::Configs => &[&["Spec", "Data"]],
        Redact::Top | Redact::Events => &[],
    }
}

/// A document of `kind` with secrets in its secret-bearing fields and filler around them.
fn document(kind: Redact, secrets: &[String], around: &Value, as_list: bool) -> Value {
    let mut item = match around {
        Value::Object(_) => around.clone(),
        _ => json!({}),
    };
    for (i, path) in fields(kind).iter().enumerate() {
        let s = &secrets[i % secrets.len()];
        let v = match i % 4 {
            0 => Value::String(s.clone()),
            1 => json!(["run", s]),
            2 => json!([format!("K={s}")]),
            _ => json!({ "x": s }),
        };
        set(&mut item, path, v);
    }
    match kind {
        Redact::SystemDf => json!({ "Containers": [item], "Images": [] }),
        Redact::ContainerList => json!([item]),
        _ if as_list && matches!(kind, Redact::Services | Redact::Tasks | Redact::Configs) => {
            json!([item, around])
        }
        _ => item,
    }
}

const KINDS: [Redact; 7] = [
    Redact::ContainerList,
    Redact::ContainerInspect,
    Redact::ExecInspect,
    Redact::Services,
    Redact::Tasks,
    Redact::Configs,
    Redact::SystemDf,
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn no_secret_survives_any_shape(
        k in 0..KINDS.len(),
        secrets in prop::collection::vec(secret(), 1..4),
        around in filler(),
        as_list in any::<bool>(),
        shape in secret().prop_flat_map(carried),
    ) {
        let kind = KINDS[k];
        let mut doc = document(kind, &secrets, &around, as_list);
        // One field more in an arbitrary shape.
        if let Some(path) = fields(kind).first() {
            match &mut doc {
                Value::Array(items) => set(&mut items[0], path, shape.clone()),
                Value::Object(o) if kind == Redact::SystemDf => {
                    let c = &mut o.get_mut("Containers").unwrap()[0];
                    set(c, path, shape.clone());
                }
                other => set(other, path, shape.clone()),
            }
        }
        let input = serde_json::to_vec(&doc).unwrap();
        // A refused answer is never passed on; an accepted one has nothing left.
        if let Ok(out) = redact(kind, &input) {
            let text = String::from_utf8(out.clone()).unwrap();
            prop_assert!(!text.contains("SECRET"), "{kind:?}: {text}");
            prop_assert!(serde_json::from_slice::<Value>(&out).is_ok());
        }
    }

    #[test]
    fn one_pass_and_tree_agree(
        k in 0..KINDS.len(),
        secrets in prop::collection::vec(secret(), 1..4),
        around in filler(),
        as_list in any::<bool>(),
        pretty in any::<bool>(),
    ) {
        let kind = KINDS[k];
        let doc = document(kind, &secrets, &around, as_list);
        let input = if pretty {
            serde_json::to_vec_pretty(&doc).unwrap()
        } else {
            serde_json::to_vec(&doc).unwrap()
        };
        let tree = redact_tree(kind, &input);
        let pass = redact(kind, &input);
        if let Ok(tree) = &tree {
            let pass = pass.as_ref().unwrap_or_else(|e| panic!("{kind:?}: {e}"));
            let a: Value = serde_json::from_slice(pass).unwrap();
            let b: Value = serde_json::from_slice(tree).unwrap();
            prop_assert_eq!(a, b);
        }
    }

    #[test]
    fn top_and_events_lose_their_commands(
        secrets in prop::collection::vec(secret(), 1..4),
        titles in prop::sample::select(vec![
            vec!["UID", "PID", "CMD"],
            vec!["USER", "PID", "%CPU", "COMMAND"],
            vec!["PID", "TIME"],
        ]),
    ) {
        let rows: Vec<Value> = secrets
            .iter()
            .map(|s| {
                let mut row: Vec<Value> = titles.iter().map(|_| json!("x")).collect();
                *row.last_mut().unwrap() = json!(format!("sh -c {s}"));
                Value::Array(row)
            })
            .collect();
        let doc = json!({ "Titles": titles, "Processes": rows });
        let out = redact(Redact::Top, &serde_json::to_vec(&doc).unwrap()).unwrap();
        prop_assert!(!String::from_utf8(out).unwrap().contains("SECRET"));
    }

    #[test]
    fn never_panics_on_any_bytes(k in 0..KINDS.len(), bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = redact(KINDS[k], &bytes);
        let mut out = Vec::new();
        let _ = redact_lines(Redact::Events, &bytes, &mut out);
    }

    #[test]
    fn events_are_the_same_however_split(
        secrets in prop::collection::vec(secret(), 1..5),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let mut stream = Vec::new();
        for (i, s) in secrets.iter().enumerate() {
            let action = if i % 2 == 0 { format!("exec_create: sh -c {s}") } else { "start".to_owned() };
            stream.extend_from_slice(
                serde_json::to_string(&json!({"status": action, "Action": action, "Type": "container"}))
                    .unwrap()
                    .as_bytes(),
            );
            stream.push(b'\n');
        }
        let mut whole = Vec::new();
        let used = redact_lines(Redact::Events, &stream, &mut whole).unwrap();
        prop_assert_eq!(used, stream.len());
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(stream.len() + 1)).collect();
        points.sort_unstable();
        let mut pending = Vec::new();
        let mut pieces = Vec::new();
        let mut last = 0;
        for p in points.into_iter().chain(std::iter::once(stream.len())) {
            pending.extend_from_slice(&stream[last..p]);
            last = p;
            let used = redact_lines(Redact::Events, &pending, &mut pieces).unwrap();
            pending.drain(..used);
        }
        prop_assert!(pending.is_empty());
        prop_assert_eq!(&pieces, &whole);
        prop_assert!(!String::from_utf8(whole).unwrap().contains("SECRET"));
    }
}

mod scope {
    use policies::scope::Scope;
    use proptest::prelude::*;
    use serde_json::{json, Value};

    fn container() -> impl Strategy<Value = Value> {
        (
            "[a-f0-9]{12}",
            "[a-z]{1,8}",
            prop::option::of(prop::sample::select(vec!["yes", "no", ""])),
            prop::option::of("[a-z]{1,4}"),
        )
            .prop_map(|(id, name, visible, team)| {
                let mut labels = serde_json::Map::new();
                if let Some(v) = visible {
                    labels.insert("visible".into(), json!(v));
                }
                if let Some(t) = team {
                    labels.insert("team".into(), json!(t));
                }
                json!({"Id": id, "Names": [format!("/{name}")], "Labels": labels})
            })
    }

    proptest! {
        #[test]
        fn lists_keep_exactly_the_containers_in_scope(
            items in prop::collection::vec(container(), 0..12),
            pattern in prop::sample::select(vec!["", "a*", "*b", "*"]),
        ) {
            let scope = Scope::parse(
                Some("visible=yes"),
                (!pattern.is_empty()).then_some(pattern),
            ).unwrap();
            let body = serde_json::to_vec(&items).unwrap();
            let out: Vec<Value> = serde_json::from_slice(&scope.filter_list(&body).unwrap()).unwrap();
            let want: Vec<&Value> = items
                .iter()
                .filter(|c| scope.admits_container(c.as_object().unwrap()))
                .collect();
            prop_assert_eq!(out.len(), want.len());
            for c in &out {
                prop_assert_eq!(&c["Labels"]["visible"], "yes");
            }
        }
    }
}

mod owner {
    use policies::owner::{Owner, Stamp, StampError, OWNER_LABEL};
    use proptest::prelude::*;
    use serde_json::Value;

    proptest! {
        /// A stamped create keeps every other field as sent and carries exactly this owner;
        /// one that cannot be stamped is refused, never forwarded unstamped.
        #[test]
        fn stamping_keeps_the_body_and_adds_only_the_owner(
            base in super::filler(),
            labels in prop::option::of(prop_oneof![
                Just(Value::Null),
                prop::collection::btree_map("[a-z.]{1,8}", "[a-z]{0,4}", 0..3)
                    .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k, Value::String(v))).collect())),
                super::filler(),
            ]),
            spec in prop::option::of(super::filler()),
            how in prop::sample::select(vec![Stamp::Container, Stamp::Labels, Stamp::Spec, Stamp::Service]),
        ) {
            let mut doc = base;
            if let Value::Object(o) = &mut doc {
                if let Some(l) = labels {
                    o.insert("Labels".into(), l);
                }
                if let Some(s) = spec {
                    o.insert("TaskTemplate".into(), serde_json::json!({ "ContainerSpec": s }));
                }
            }
            let owner = Owner::parse("team-a").unwrap();
            let body = serde_json::to_vec(&doc).unwrap();
            match owner.stamp(how, &body) {
                Ok(out) => {
                    let mut got: Value = serde_json::from_slice(&out).unwrap();
                    prop_assert_eq!(&got["Labels"][OWNER_LABEL], "team-a");
                    let labels = got["Labels"].as_object_mut().unwrap();
                    labels.remove(OWNER_LABEL);
                    let mut want = doc.clone();
                    if want["Labels"].is_null() {
                        want.as_object_mut().unwrap().remove("Labels");
                        if labels.is_empty() {
                            got.as_object_mut().unwrap().remove("Labels");
                        }
                    }
                    if how == Stamp::Service {
                        if let Some(spec) = got.pointer_mut("/TaskTemplate/ContainerSpec").and_then(Value::as_object_mut) {
                            let l = spec.get_mut("Labels").and_then(Value::as_object_mut).unwrap();
                            prop_assert_eq!(l.remove(OWNER_LABEL), Some(Value::from("team-a")));
                            if l.is_empty() && !want.pointer("/TaskTemplate/ContainerSpec/Labels").is_some_and(Value::is_object) {
                                spec.remove("Labels");
                            }
                        }
                    }
                    prop_assert_eq!(got, want);
                }
                Err(StampError::Malformed(_)) => {
                    let labels_ok = doc.get("Labels").is_none_or(|l| l.is_null() || l.is_object());
                    prop_assert!(!doc.is_object() || !labels_ok || how == Stamp::Service);
                }
                Err(StampError::Forbidden(_)) => prop_assert!(how == Stamp::Container),
            }
        }
    }
}
