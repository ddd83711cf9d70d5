//! Redaction: the secrets a metadata read would hand a client that only needs metadata.
//!
//! A reverse proxy or a dashboard reads container lists, inspects and events; the daemon's
//! answers also carry every container's environment (database passwords, tokens), command
//! lines, the command of every `docker exec`, service specs and config contents. With
//! redaction on, those values are replaced before the answer leaves the guard, keeping the
//! daemon's JSON shapes so clients still parse them:
//!
//! - a command or argument string becomes [`MARKER`] (`Command`, `Path`, `Action`'s command);
//! - a string list keeps its length, each item [`MARKER`] (`Cmd`, `Entrypoint`, `Args`,
//!   `Healthcheck.Test`, a task's `Command` and `Args`);
//! - an environment list keeps each variable's name: `NAME=` + [`MARKER`] (an item without `=`
//!   is all [`MARKER`]);
//! - a `/top` process row has its command column replaced;
//! - a config's `Data` becomes `""` (valid, empty base64);
//! - an event's `exec_create: <command>` and `exec_start: <command>` keep their action name.
//!
//! Everything here works on one JSON document (or one event line) at a time and never panics:
//! a document that is not the expected JSON is refused ([`RedactError`]) rather than passed
//! on, since it could be anything.

use serde_json::{Map, Value};

mod scan;

use scan::Action::{Empty, Env, Exec, List, Str};
use scan::Seg::{Item, Key};
use scan::{Root, Rule};

/// What a redacted value reads as.
pub const MARKER: &str = "[redacted]";

/// The answers that carry secrets, by the endpoint that gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redact {
    /// `GET /containers/json`: each container's `Command`.
    ContainerList,
    /// `GET /containers/{id}/json`: `Path`, `Args`, `Config.Cmd`, `Config.Entrypoint`,
    /// `Config.Env`, `Config.Healthcheck.Test`.
    ContainerInspect,
    /// `GET /containers/{id}/top`: the command column.
    Top,
    /// `GET /exec/{id}/json`: `ProcessConfig.entrypoint` and `.arguments`.
    ExecInspect,
    /// `GET /events`, one event per line: the command in `exec_create:` and `exec_start:`.
    Events,
    /// `GET /services` and `/services/{id}`: the container spec's `Env`, `Args`, `Command`
    /// (in `Spec` and `PreviousSpec`).
    Services,
    /// `GET /tasks` and `/tasks/{id}`: the container spec's `Env`, `Args`, `Command`.
    Tasks,
    /// `GET /configs` and `/configs/{id}`: `Spec.Data`.
    Configs,
    /// `GET /system/df`: each container's `Command`.
    SystemDf,
}

impl Redact {
    /// What an endpoint's answer needs, by the endpoint's name.
    pub fn for_endpoint(name: &str) -> Option<Redact> {
        Some(match name {
            "container.list" => Redact::ContainerList,
            "container.inspect" => Redact::ContainerInspect,
            "container.top" => Redact::Top,
            "exec.inspect" => Redact::ExecInspect,
            "events" => Redact::Events,
            "service.list" | "service.inspect" => Redact::Services,
            "task.list" | "task.inspect" => Redact::Tasks,
            "config.list" | "config.inspect" => Redact::Configs,
            "system.df" => Redact::SystemDf,
            _ => return None,
        })
    }

    /// Whether the answer is a stream of JSON lines rewritten one by one.
    pub fn is_stream(self) -> bool {
        self == Redact::Events
    }

    /// A stable name, for logs.
    pub fn name(self) -> &'static str {
        match self {
            Redact::ContainerList => "container list",
            Redact::ContainerInspect => "container inspect",
            Redact::Top => "top",
            Redact::ExecInspect => "exec inspect",
            Redact::Events => "events",
            Redact::Services => "services",
            Redact::Tasks => "tasks",
            Redact::Configs => "configs",
            Redact::SystemDf => "system df",
        }
    }
}

/// An answer that cannot be redacted (and so is not passed on).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedactError {
    /// Not JSON.
    #[error("the daemon's answer is not JSON ({0})")]
    NotJson(String),
    /// JSON of another shape than the endpoint gives.
    #[error("the daemon's answer is not the expected {0}")]
    Shape(&'static str),
}

fn marker() -> Value {
    Value::String(MARKER.to_owned())
}

/// A value that should be a string: [`any`].
fn string(v: &mut Value) {
    any(v);
}

/// Each item of a list becomes the marker, keeping the list's length; anything else that holds
/// something (a single string, as some versions give `Cmd`, or an unexpected object or number)
/// becomes the marker too: whatever the shape, nothing of the value is left.
fn strings(v: &mut Value) {
    match v {
        Value::Array(items) => items.iter_mut().for_each(any),
        _ => any(v),
    }
}

/// Any value that holds something becomes the marker (null and `""` stay).
fn any(v: &mut Value) {
    match v {
        Value::Null => {}
        Value::String(s) if s.is_empty() => {}
        _ => *v = marker(),
    }
}

/// `NAME=value` keeps `NAME=`; anything else is [`strings`]'s.
fn env(v: &mut Value) {
    let Value::Array(items) = v else {
        return any(v);
    };
    for item in items {
        match item {
            Value::String(s) if s.is_empty() => {}
            Value::String(s) => {
                *s = match s.split_once('=') {
                    Some((name, _)) => format!("{name}={MARKER}"),
                    None => MARKER.to_owned(),
                };
            }
            other => any(other),
        }
    }
}

fn field<'a>(o: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Value> {
    o.get_mut(key)
}

fn object<'a>(v: &'a mut Value, key: &str) -> Option<&'a mut Map<String, Value>> {
    v.as_object_mut()?.get_mut(key)?.as_object_mut()
}

/// `Env`, `Args` and `Command` of a Swarm container spec.
fn container_spec(spec: &mut Map<String, Value>) {
    if let Some(v) = field(spec, "Env") {
        env(v);
    }
    for key in ["Args", "Command"] {
        if let Some(v) = field(spec, key) {
            strings(v);
        }
    }
}

fn container_inspect(c: &mut Value) -> Result<(), RedactError> {
    let o = c
        .as_object_mut()
        .ok_or(RedactError::Shape("container object"))?;
    if let Some(v) = field(o, "Path") {
        string(v);
    }
    if let Some(v) = field(o, "Args") {
        strings(v);
    }
    if let Some(cfg) = o.get_mut("Config").and_then(Value::as_object_mut) {
        for key in ["Cmd", "Entrypoint"] {
            if let Some(v) = field(cfg, key) {
                strings(v);
            }
        }
        if let Some(v) = field(cfg, "Env") {
            env(v);
        }
        if let Some(h) = cfg.get_mut("Healthcheck").and_then(Value::as_object_mut) {
            if let Some(v) = field(h, "Test") {
                strings(v);
            }
        }
    }
    Ok(())
}

fn each<F>(doc: &mut Value, what: &'static str, mut f: F) -> Result<(), RedactError>
where
    F: FnMut(&mut Map<String, Value>),
{
    let items = doc.as_array_mut().ok_or(RedactError::Shape(what))?;
    for item in items {
        f(item.as_object_mut().ok_or(RedactError::Shape(what))?);
    }
    Ok(())
}

/// A list of objects, or one object (the list and the inspect of one kind share a rule).
fn one_or_many<F>(doc: &mut Value, what: &'static str, mut f: F) -> Result<(), RedactError>
where
    F: FnMut(&mut Map<String, Value>),
{
    match doc {
        Value::Array(_) => each(doc, what, f),
        Value::Object(o) => {
            f(o);
            Ok(())
        }
        _ => Err(RedactError::Shape(what)),
    }
}

fn service(s: &mut Map<String, Value>) {
    for spec in ["Spec", "PreviousSpec"] {
        if let Some(cs) = s
            .get_mut(spec)
            .and_then(|v| object(v, "TaskTemplate"))
            .and_then(|t| t.get_mut("ContainerSpec"))
            .and_then(Value::as_object_mut)
        {
            container_spec(cs);
        }
    }
}

fn task(t: &mut Map<String, Value>) {
    if let Some(cs) = t.get_mut("Spec").and_then(|v| object(v, "ContainerSpec")) {
        container_spec(cs);
    }
}

fn config(c: &mut Map<String, Value>) {
    if let Some(d) = c
        .get_mut("Spec")
        .and_then(Value::as_object_mut)
        .and_then(|s| s.get_mut("Data"))
    {
        if d.is_string() {
            *d = Value::String(String::new());
        } else {
            any(d);
        }
    }
}

/// The titles `ps` gives the command column (`ps -ef`: `CMD`; `ps aux`: `COMMAND`; `-o
/// args`: `ARGS`).
const COMMAND_TITLES: &[&str] = &["CMD", "COMMAND", "ARGS"];

fn top(doc: &mut Value) -> Result<(), RedactError> {
    let o = doc
        .as_object_mut()
        .ok_or(RedactError::Shape("top object"))?;
    let titles: Vec<String> = o
        .get("Titles")
        .and_then(Value::as_array)
        .map(|t| {
            t.iter()
                .map(|x| x.as_str().unwrap_or_default().to_ascii_uppercase())
                .collect()
        })
        .unwrap_or_default();
    let mut columns: Vec<usize> = titles
        .iter()
        .enumerate()
        .filter(|(_, t)| COMMAND_TITLES.contains(&t.as_str()))
        .map(|(i, _)| i)
        .collect();
    // Whatever `ps` options were asked for, the command is its last column: without a known
    // title, that one goes (failing closed on a column that may hold a command).
    if columns.is_empty() && !titles.is_empty() {
        columns.push(titles.len() - 1);
    }
    if let Some(rows) = o.get_mut("Processes").and_then(Value::as_array_mut) {
        for row in rows {
            let cells = row
                .as_array_mut()
                .ok_or(RedactError::Shape("top process row"))?;
            if titles.is_empty() {
                cells.iter_mut().for_each(string);
                continue;
            }
            for &c in &columns {
                if let Some(cell) = cells.get_mut(c) {
                    string(cell);
                }
            }
        }
    }
    Ok(())
}

/// The actions whose text carries the command they ran.
const EXEC_ACTIONS: &[&str] = &["exec_create", "exec_start"];

fn exec_action(v: &mut Value) {
    if let Value::String(s) = v {
        if let Some((action, _)) = s.split_once(':') {
            if EXEC_ACTIONS.contains(&action.trim()) {
                *s = format!("{action}: {MARKER}");
            }
        }
    }
}

fn event(e: &mut Value) -> Result<(), RedactError> {
    let o = e
        .as_object_mut()
        .ok_or(RedactError::Shape("event object"))?;
    for key in ["status", "Action"] {
        if let Some(v) = field(o, key) {
            exec_action(v);
        }
    }
    Ok(())
}

/// Redacts one parsed document of `kind` in place.
pub fn redact_value(kind: Redact, doc: &mut Value) -> Result<(), RedactError> {
    match kind {
        Redact::ContainerList => each(doc, "container list", |c| {
            if let Some(v) = field(c, "Command") {
                string(v);
            }
        }),
        Redact::ContainerInspect => container_inspect(doc),
        Redact::Top => top(doc),
        Redact::ExecInspect => {
            if let Some(pc) = object(doc, "ProcessConfig") {
                for key in ["entrypoint", "arguments"] {
                    if let Some(v) = field(pc, key) {
                        strings(v);
                    }
                }
            }
            doc.as_object()
                .map(|_| ())
                .ok_or(RedactError::Shape("exec object"))
        }
        Redact::Events => event(doc),
        Redact::Services => one_or_many(doc, "service", service),
        Redact::Tasks => one_or_many(doc, "task", task),
        Redact::Configs => one_or_many(doc, "config", config),
        Redact::SystemDf => {
            if let Some(cs) = doc.get_mut("Containers").filter(|c| !c.is_null()) {
                each(cs, "system df containers", |c| {
                    if let Some(v) = field(c, "Command") {
                        string(v);
                    }
                })?;
            }
            doc.as_object()
                .map(|_| ())
                .ok_or(RedactError::Shape("system df object"))
        }
    }
}

/// The values each kind replaces, for the one-pass rewrite ([`scan`]).
macro_rules! rules {
    ($($path:expr => $action:expr),* $(,)?) => {
        &[$(Rule { path: $path, action: $action }),*]
    };
}

const CONTAINER_LIST: &[Rule] = rules![&[Item, Key("Command")] => Str];
const SYSTEM_DF: &[Rule] = rules![&[Key("Containers"), Item, Key("Command")] => Str];
const CONTAINER_INSPECT: &[Rule] = rules![
    &[Key("Path")] => Str,
    &[Key("Args")] => List,
    &[Key("Config"), Key("Cmd")] => List,
    &[Key("Config"), Key("Entrypoint")] => List,
    &[Key("Config"), Key("Env")] => Env,
    &[Key("Config"), Key("Healthcheck"), Key("Test")] => List,
];
const EXEC_INSPECT: &[Rule] = rules![
    &[Key("ProcessConfig"), Key("entrypoint")] => Str,
    &[Key("ProcessConfig"), Key("arguments")] => List,
];
const SERVICES: &[Rule] = rules![
    &[Key("Spec"), Key("TaskTemplate"), Key("ContainerSpec"), Key("Env")] => Env,
    &[Key("Spec"), Key("TaskTemplate"), Key("ContainerSpec"), Key("Args")] => List,
    &[Key("Spec"), Key("TaskTemplate"), Key("ContainerSpec"), Key("Command")] => List,
    &[Key("PreviousSpec"), Key("TaskTemplate"), Key("ContainerSpec"), Key("Env")] => Env,
    &[Key("PreviousSpec"), Key("TaskTemplate"), Key("ContainerSpec"), Key("Args")] => List,
    &[Key("PreviousSpec"), Key("TaskTemplate"), Key("ContainerSpec"), Key("Command")] => List,
    &[Item, Key("Spec"), Key("TaskTemplate"), Key("ContainerSpec"), Key("Env")] => Env,
    &[Item, Key("Spec"), Key("TaskTemplate"), Key("ContainerSpec"), Key("Args")] => List,
    &[Item, Key("Spec"), Key("TaskTemplate"), Key("ContainerSpec"), Key("Command")] => List,
    &[Item, Key("PreviousSpec"), Key("TaskTemplate"), Key("ContainerSpec"), Key("Env")] => Env,
    &[Item, Key("PreviousSpec"), Key("TaskTemplate"), Key("ContainerSpec"), Key("Args")] => List,
    &[Item, Key("PreviousSpec"), Key("TaskTemplate"), Key("ContainerSpec"), Key("Command")] => List,
];
const TASKS: &[Rule] = rules![
    &[Key("Spec"), Key("ContainerSpec"), Key("Env")] => Env,
    &[Key("Spec"), Key("ContainerSpec"), Key("Args")] => List,
    &[Key("Spec"), Key("ContainerSpec"), Key("Command")] => List,
    &[Item, Key("Spec"), Key("ContainerSpec"), Key("Env")] => Env,
    &[Item, Key("Spec"), Key("ContainerSpec"), Key("Args")] => List,
    &[Item, Key("Spec"), Key("ContainerSpec"), Key("Command")] => List,
];
const EVENTS: &[Rule] = rules![
    &[Key("status")] => Exec,
    &[Key("Action")] => Exec,
];
const CONFIGS: &[Rule] = rules![
    &[Key("Spec"), Key("Data")] => Empty,
    &[Item, Key("Spec"), Key("Data")] => Empty,
];

/// Redacts a whole JSON answer of `kind`. The result is the daemon's bytes with the secret
/// values replaced (its formatting, key order and trailing newline kept); `/top`, which needs
/// more than a path, goes through [`redact_value`].
pub fn redact(kind: Redact, body: &[u8]) -> Result<Vec<u8>, RedactError> {
    let (rules, root) = match kind {
        Redact::ContainerList => (CONTAINER_LIST, Root::Array),
        Redact::ContainerInspect => (CONTAINER_INSPECT, Root::Object),
        Redact::ExecInspect => (EXEC_INSPECT, Root::Object),
        Redact::SystemDf => (SYSTEM_DF, Root::Object),
        Redact::Services => (SERVICES, Root::Either),
        Redact::Tasks => (TASKS, Root::Either),
        Redact::Configs => (CONFIGS, Root::Either),
        Redact::Events => (EVENTS, Root::Object),
        Redact::Top => return redact_tree(kind, body),
    };
    scan::redact(body, rules, root)
}

/// Redacts a whole JSON answer of `kind` through a parsed tree ([`redact_value`]): the result
/// is JSON again, with a trailing newline when the daemon's had one.
pub fn redact_tree(kind: Redact, body: &[u8]) -> Result<Vec<u8>, RedactError> {
    let mut doc: Value =
        serde_json::from_slice(body).map_err(|e| RedactError::NotJson(e.to_string()))?;
    redact_value(kind, &mut doc)?;
    let mut out = serde_json::to_vec(&doc).map_err(|e| RedactError::NotJson(e.to_string()))?;
    if body.ends_with(b"\n") {
        out.push(b'\n');
    }
    Ok(out)
}

/// Rewrites the complete lines at the start of a stream of JSON lines (`/events`): what is
/// appended to `out`, and how many bytes of `input` were consumed (up to and including the last
/// newline; a partial line waits for more bytes).
///
/// Only exec actions carry a command, and the daemon writes their names as they are (Go's
/// encoder escapes no `_`): the lines holding `exec_` are rewritten, each on its own, and every
/// run of other lines is copied as it is, unparsed.
pub fn redact_lines(kind: Redact, input: &[u8], out: &mut Vec<u8>) -> Result<usize, RedactError> {
    let Some(last) = memchr::memrchr(b'\n', input) else {
        return Ok(0);
    };
    let block = &input[..=last];
    let mut copied = 0;
    for at in memchr::memmem::find_iter(block, b"exec_") {
        if at < copied {
            continue;
        }
        let start = memchr::memrchr(b'\n', &block[..at]).map_or(0, |i| i + 1);
        let end = memchr::memchr(b'\n', &block[at..]).map_or(block.len(), |i| at + i + 1);
        out.extend_from_slice(&block[copied..start]);
        out.extend_from_slice(&redact(kind, &block[start..end])?);
        copied = end;
    }
    out.extend_from_slice(&block[copied..]);
    Ok(block.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn red(kind: Redact, json: &str) -> Value {
        serde_json::from_slice(&redact(kind, json.as_bytes()).unwrap()).unwrap()
    }

    #[test]
    fn container_inspect_keeps_names_and_shapes() {
        let v = red(
            Redact::ContainerInspect,
            r#"{"Id":"abc","Path":"sh","Args":["-c","run --token s3cr3t"],"Config":{"Env":["DB_PASSWORD=s3cr3t","PATH=/bin","BARE"],"Cmd":["sh","-c","run --token s3cr3t"],"Entrypoint":null,"Healthcheck":{"Test":["CMD-SHELL","curl -H 'X: s3cr3t'"]},"Labels":{"a":"b"}}}"#,
        );
        assert_eq!(v["Id"], "abc");
        assert_eq!(v["Path"], MARKER);
        assert_eq!(v["Args"], serde_json::json!([MARKER, MARKER]));
        assert_eq!(
            v["Config"]["Env"],
            serde_json::json!(["DB_PASSWORD=[redacted]", "PATH=[redacted]", MARKER])
        );
        assert_eq!(v["Config"]["Cmd"][2], MARKER);
        assert!(v["Config"]["Entrypoint"].is_null());
        assert_eq!(v["Config"]["Healthcheck"]["Test"][1], MARKER);
        assert_eq!(v["Config"]["Labels"]["a"], "b");
        assert!(!v.to_string().contains("s3cr3t"));
    }

    #[test]
    fn lists_top_exec_services_tasks_configs_and_df() {
        let v = red(
            Redact::ContainerList,
            r#"[{"Id":"a","Command":"sh -c 's3cr3t'"},{"Id":"b","Command":""}]"#,
        );
        assert_eq!(
            (v[0]["Command"].as_str(), v[1]["Command"].as_str()),
            (Some(MARKER), Some(""))
        );
        let v = red(
            Redact::Top,
            r#"{"Titles":["UID","PID","CMD"],"Processes":[["root","1","sh -c s3cr3t"]]}"#,
        );
        assert_eq!(v["Processes"][0], serde_json::json!(["root", "1", MARKER]));
        let v = red(
            Redact::Top,
            r#"{"Titles":["PID","TIME"],"Processes":[["1","s3cr3t"]]}"#,
        );
        assert_eq!(
            v["Processes"][0][1], MARKER,
            "an unknown layout loses its last column"
        );
        let v = red(
            Redact::ExecInspect,
            r#"{"ID":"e","ProcessConfig":{"entrypoint":"sh","arguments":["-c","s3cr3t"]}}"#,
        );
        assert_eq!(v["ProcessConfig"]["arguments"][1], MARKER);
        let v = red(
            Redact::Services,
            r#"[{"ID":"s","Spec":{"TaskTemplate":{"ContainerSpec":{"Image":"x","Env":["K=s3cr3t"],"Args":["s3cr3t"],"Command":["run"]}}},"PreviousSpec":{"TaskTemplate":{"ContainerSpec":{"Env":["K=s3cr3t"]}}}}]"#,
        );
        assert!(!v.to_string().contains("s3cr3t"));
        assert_eq!(v[0]["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"], "x");
        let v = red(
            Redact::Tasks,
            r#"{"ID":"t","Spec":{"ContainerSpec":{"Env":["K=s3cr3t"]}}}"#,
        );
        assert_eq!(v["Spec"]["ContainerSpec"]["Env"][0], "K=[redacted]");
        let v = red(
            Redact::Configs,
            r#"[{"ID":"c","Spec":{"Name":"n","Data":"czNjcjN0"}}]"#,
        );
        assert_eq!(v[0]["Spec"]["Data"], "");
        let v = red(
            Redact::SystemDf,
            r#"{"Containers":[{"Command":"s3cr3t"}],"Images":[]}"#,
        );
        assert_eq!(v["Containers"][0]["Command"], MARKER);
    }

    #[test]
    fn events_keep_the_action_name_and_stream_line_by_line() {
        let stream = concat!(
            r#"{"status":"exec_create: sh -c echo s3cr3t","Action":"exec_create: sh -c echo s3cr3t","Type":"container"}"#,
            "\n",
            r#"{"Action":"start","Type":"container"}"#,
            "\n",
            r#"{"Action":"exec_start: sh"#
        );
        let mut out = Vec::new();
        let used = redact_lines(Redact::Events, stream.as_bytes(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("s3cr3t"));
        assert!(
            text.contains(r#""Action":"exec_create: [redacted]""#),
            "{text}"
        );
        assert!(text.contains(r#""Action":"start""#));
        assert_eq!(text.lines().count(), 2);
        assert_eq!(&stream[used..], r#"{"Action":"exec_start: sh"#);
    }

    #[test]
    fn the_one_pass_rewrite_keeps_the_rest_byte_for_byte() {
        let input = b"[ {\"Id\" : \"a\",  \"Comm\\u0061nd\": \"s3cr3t\", \"Labels\":{\"Command\":\"keep\"}} ]\n";
        let out = String::from_utf8(redact(Redact::ContainerList, input).unwrap()).unwrap();
        assert_eq!(
            out,
            "[ {\"Id\" : \"a\",  \"Comm\\u0061nd\": \"[redacted]\", \"Labels\":{\"Command\":\"keep\"}} ]\n"
        );
        for ok in ["0", "-1", "1.5", "2e10", "-0.5E-3", "1764700000000000000"] {
            let doc = format!("[{{\"Created\":{ok},\"Command\":\"x\"}}]");
            assert!(
                redact(Redact::ContainerList, doc.as_bytes()).is_ok(),
                "{ok}"
            );
        }
        for bad in [
            &b"[{\"Created\":01}]"[..],
            b"[{\"Created\":1.}]",
            b"[{\"Created\":-}]",
            b"[{\"Created\":1e}]",
            &b"[{\"Command\":\"a\\x\"}]"[..],
            b"[{\"Command\":\"a\"}] trailing",
            b"[{\"Command\":tru}]",
            b"[{\"Command\":\"a\"",
        ] {
            assert!(
                redact(Redact::ContainerList, bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let deep = format!("[{}{}]", "[".repeat(200), "]".repeat(200));
        assert!(redact(Redact::ContainerList, deep.as_bytes()).is_err());
    }

    #[test]
    fn what_is_not_the_expected_json_is_refused() {
        assert!(matches!(
            redact(Redact::ContainerList, b"not json"),
            Err(RedactError::NotJson(_))
        ));
        assert!(matches!(
            redact(Redact::ContainerList, b"{}"),
            Err(RedactError::Shape(_))
        ));
        assert!(matches!(
            redact(Redact::ContainerInspect, b"[]"),
            Err(RedactError::Shape(_))
        ));
        assert!(redact(Redact::Events, b"{\"Action\":1}\n").is_ok());
    }
}
