//! Create/update body inspection with the Docker daemon's JSON semantics.
//!
//! An allowed `POST /containers/create` still decides, through its body, whether the new
//! container is root on the host (privileged mode, host namespaces, a bind mount of `/`). So
//! the bodies of container create/update, exec create, service create/update and volume create
//! are read here, and each setting that reaches the host needs the operator's grant
//! ([`BodyGrants`], from `ALLOW_*` variables).
//!
//! The daemon decodes with Go's `encoding/json`: keys match struct fields case-insensitively
//! (Go also folds `K` U+212A, `ſ` U+017F and, since Go 1.21, `İ` U+0130 and `ı` U+0131 onto
//! ASCII letters), `\u` escapes are decoded, the last duplicate key wins, and data after the
//! first value is ignored. An inspector that reads a body differently can be fooled, so:
//! - keys are decoded by serde_json and folded like Go folds them; lookups use folded keys;
//! - two keys of one object that fold alike are refused, at any depth (which one Go keeps
//!   depends on the field or map type, so we do not guess);
//! - data after the first value, a top level that is not an object and nesting deeper than
//!   64 levels are refused;
//! - a field of an unexpected type is refused (fail closed); `null` means "not set", as in Go.
//!
//! Host paths are judged lexically: a symlink below an allowed prefix is the operator's
//! business. A network named by its ID rather than `host` is not recognised as the host network.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

/// Deepest nesting of arrays and objects accepted; Docker bodies use fewer than 10 levels.
const MAX_DEPTH: usize = 64;

// === Public types ===

/// What the operator allows in inspected bodies (`ALLOW_PRIVILEGED`, `ALLOW_HOST_NAMESPACES`,
/// `ALLOW_CAPABILITIES`, `ALLOW_DEVICES`, `ALLOW_BIND_MOUNTS`). The default allows nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BodyGrants {
    /// Privileged mode and everything that weakens confinement as much (seccomp, AppArmor,
    /// SELinux, unmasked /proc paths, plugins).
    pub privileged: bool,
    /// Host network, PID, IPC, UTS, user and cgroup namespaces, and another container's PIDs.
    pub host_namespaces: bool,
    /// Added or replaced capabilities.
    pub capabilities: bool,
    /// Host devices, device requests and device cgroup rules.
    pub devices: bool,
    /// Absolute, lexically clean host path prefixes ("/" allows all); see [`clean_bind_prefix`].
    pub bind_mounts: Vec<String>,
}

/// Which Docker API body is inspected; each has its own schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BodyKind {
    /// `POST /containers/create`: a container Config with `HostConfig`.
    ContainerCreate,
    /// `POST /containers/{id}/update`: Resources and RestartPolicy.
    ContainerUpdate,
    /// `POST /containers/{id}/exec`: an ExecConfig.
    ExecCreate,
    /// `POST /services/create`: a ServiceSpec.
    ServiceCreate,
    /// `POST /services/{id}/update`: a ServiceSpec.
    ServiceUpdate,
    /// `POST /volumes/create`: a VolumeCreateBody.
    VolumeCreate,
}

/// Why a body is refused. Every variant is a client error (403 for a missing grant, 400 for
/// the malformed ones); [`BodyDenial::needs`] says which setting would allow it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyDenial {
    /// Not JSON, not an object, a field of the wrong type, or nested too deep.
    #[error("malformed body: {0}")]
    Malformed(String),
    /// Two keys of one object that the daemon would read as the same field.
    #[error("the body repeats the key {0:?} (keys match case-insensitively)")]
    DuplicateKey(String),
    /// Data after the first JSON value, which the daemon would ignore.
    #[error("the body has data after its JSON object")]
    TrailingData,
    /// Privileged mode or an equivalent (the field path and value).
    #[error("the body asks for privileged mode ({0})")]
    Privileged(String),
    /// A host namespace or another container's PID namespace (the field path and value).
    #[error("the body asks for a host namespace ({0})")]
    HostNamespace(String),
    /// Added or replaced capabilities (the field path).
    #[error("the body asks for added capabilities ({0})")]
    Capabilities(String),
    /// Host devices (the field path).
    #[error("the body asks for host devices ({0})")]
    Devices(String),
    /// A host path outside the allowed prefixes (the path, without `.` or empty segments).
    #[error("the body asks to mount the host path {0:?}")]
    BindMount(String),
    /// `VolumesFrom` inherits every mount of another container, bind mounts included.
    #[error("the body asks for another container's volumes (HostConfig.VolumesFrom)")]
    VolumesFrom,
}

// === impl BodyDenial ===

impl BodyDenial {
    /// Whether the body could not be inspected at all (malformed, duplicate keys, trailing
    /// data): a client error (400), where the other denials are refusals (403).
    pub fn is_malformed(&self) -> bool {
        matches!(
            self,
            BodyDenial::Malformed(_) | BodyDenial::DuplicateKey(_) | BodyDenial::TrailingData
        )
    }

    /// The setting that would allow the body, e.g. `Some("ALLOW_PRIVILEGED=1")` or
    /// `Some("ALLOW_BIND_MOUNTS=/srv/data")` (the path asked); `None` for malformed bodies.
    pub fn needs(&self) -> Option<String> {
        let s = match self {
            BodyDenial::Malformed(_) | BodyDenial::DuplicateKey(_) | BodyDenial::TrailingData => {
                return None
            }
            BodyDenial::Privileged(_) => "ALLOW_PRIVILEGED=1",
            BodyDenial::HostNamespace(_) => "ALLOW_HOST_NAMESPACES=1",
            BodyDenial::Capabilities(_) => "ALLOW_CAPABILITIES=1",
            BodyDenial::Devices(_) => "ALLOW_DEVICES=1",
            BodyDenial::BindMount(path) => return Some(format!("ALLOW_BIND_MOUNTS={path}")),
            BodyDenial::VolumesFrom => "ALLOW_BIND_MOUNTS=/",
        };
        Some(s.to_owned())
    }
}

// === Entry points ===

/// Inspects one request body. `Ok(())` means nothing in it needs a grant the operator did not
/// give; an empty body is malformed for every kind.
pub fn inspect(kind: BodyKind, body: &[u8], grants: &BodyGrants) -> Result<(), BodyDenial> {
    let root = parse(body)?;
    let g = grants;
    match kind {
        BodyKind::ContainerCreate => {
            if let Some(hc) = obj_at(&root, "", "HostConfig")? {
                host_config(hc, "HostConfig", g)?;
            }
            // The daemon's ContainerConfigWrapper still embeds a deprecated HostConfig at the
            // top level and uses it when the `HostConfig` key is absent. No Config field shares
            // a name with the fields checked, so checking the top level too costs nothing.
            host_config(&root, "", g)?;
            // The daemon refuses to attach the host network this way; refuse it here too.
            if let Some(nc) = obj_at(&root, "", "NetworkingConfig")? {
                let eps = obj_at(nc, "NetworkingConfig", "EndpointsConfig")?;
                if eps.is_some_and(|eps| eps.0.contains_key("host")) {
                    let denial =
                        BodyDenial::HostNamespace("NetworkingConfig.EndpointsConfig.host".into());
                    need(g.host_namespaces, denial)?;
                }
            }
            Ok(())
        }
        BodyKind::ContainerUpdate => devices(&root, "", g),
        BodyKind::ExecCreate => {
            let privileged = bool_at(&root, "", "Privileged")?;
            need(
                !privileged || g.privileged,
                BodyDenial::Privileged("Privileged".into()),
            )
        }
        BodyKind::ServiceCreate | BodyKind::ServiceUpdate => service_spec(&root, g),
        BodyKind::VolumeCreate => {
            if is_local(str_at(&root, "", "Driver")?) {
                local_volume(obj_at(&root, "", "DriverOpts")?, "DriverOpts", g)
            } else {
                Ok(())
            }
        }
    }
}

/// Lexically checks a bind-mount prefix from config: must be absolute, no `.`/`..`/empty
/// segments; one trailing slash is trimmed (except for "/"). Returns the clean form or why not.
pub fn clean_bind_prefix(p: &str) -> Result<String, String> {
    let Some(rest) = p.strip_prefix('/') else {
        return Err(format!("{p:?} is not an absolute path"));
    };
    if rest.is_empty() {
        return Ok("/".to_owned());
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    for seg in rest.split('/') {
        match seg {
            "" => return Err(format!("{p:?} has an empty segment")),
            "." | ".." => return Err(format!("{p:?} has a {seg:?} segment")),
            _ if seg.chars().any(char::is_control) => {
                return Err(format!("{p:?} has a control character"))
            }
            _ => {}
        }
    }
    Ok(format!("/{rest}"))
}

// === Container and service schemas ===

/// A HostConfig (or the top level of a create body, see [`inspect`]); `at` is its field path.
fn host_config(hc: &Object, at: &str, g: &BodyGrants) -> Result<(), BodyDenial> {
    use BodyDenial::{Capabilities, HostNamespace, Privileged, VolumesFrom};
    if bool_at(hc, at, "Privileged")? {
        need(g.privileged, Privileged(path(at, "Privileged")))?;
    }
    // seccomp=unconfined, apparmor=unconfined, label=disable, systempaths=unconfined, ... all
    // lift confinement; only no-new-privileges tightens it.
    for opt in strs_at(hc, at, "SecurityOpt")? {
        if !is_no_new_privileges(opt) {
            need(
                g.privileged,
                Privileged(format!("{}={:?}", path(at, "SecurityOpt"), short(opt))),
            )?;
        }
    }
    // Any non-null list, even empty, replaces the default masked and read-only /proc paths.
    for name in ["MaskedPaths", "ReadonlyPaths"] {
        if hc.get(name).is_some() {
            need(g.privileged, Privileged(path(at, name)))?;
        }
    }
    for name in [
        "NetworkMode",
        "PidMode",
        "IpcMode",
        "UTSMode",
        "UsernsMode",
        "CgroupnsMode",
    ] {
        let Some(mode) = str_at(hc, at, name)? else {
            continue;
        };
        let head = mode
            .split(':')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        // Another container's PID namespace reaches its files through /proc/<pid>/root.
        if head == "host" || (name == "PidMode" && head == "container") {
            need(
                g.host_namespaces,
                HostNamespace(format!("{}={:?}", path(at, name), short(mode))),
            )?;
        }
    }
    if !arr_at(hc, at, "CapAdd")?.is_empty() {
        need(g.capabilities, Capabilities(path(at, "CapAdd")))?;
    }
    if hc.get("Capabilities").is_some() {
        need(g.capabilities, Capabilities(path(at, "Capabilities")))?;
    }
    devices(hc, at, g)?;
    let binds_at = path(at, "Binds");
    for spec in strs_at(hc, at, "Binds")? {
        bind(spec, &binds_at, g)?;
    }
    let mounts_at = path(at, "Mounts");
    for (i, m) in arr_at(hc, at, "Mounts")?.iter().enumerate() {
        mount(m, &format!("{mounts_at}[{i}]"), g)?;
    }
    if !arr_at(hc, at, "VolumesFrom")?.is_empty() {
        need(allows_all(g), VolumesFrom)?;
    }
    Ok(())
}

/// The device fields of a Resources object.
fn devices(o: &Object, at: &str, g: &BodyGrants) -> Result<(), BodyDenial> {
    for name in ["Devices", "DeviceRequests", "DeviceCgroupRules"] {
        if !arr_at(o, at, name)?.is_empty() {
            need(g.devices, BodyDenial::Devices(path(at, name)))?;
        }
    }
    Ok(())
}

/// A ServiceSpec: the task's container spec and the networks of the task and the service.
fn service_spec(spec: &Object, g: &BodyGrants) -> Result<(), BodyDenial> {
    use BodyDenial::{Capabilities, Privileged};
    networks(spec, "", g)?;
    let Some(task) = obj_at(spec, "", "TaskTemplate")? else {
        return Ok(());
    };
    let at = "TaskTemplate";
    networks(task, at, g)?;
    // A plugin task installs a plugin on every node, with whatever privileges it declares.
    if task.get("PluginSpec").is_some() {
        need(g.privileged, Privileged("TaskTemplate.PluginSpec".into()))?;
    }
    if str_at(task, at, "Runtime")?.is_some_and(|r| r.trim().eq_ignore_ascii_case("plugin")) {
        need(
            g.privileged,
            Privileged("TaskTemplate.Runtime=\"plugin\"".into()),
        )?;
    }
    let Some(cs) = obj_at(task, at, "ContainerSpec")? else {
        return Ok(());
    };
    let at = "TaskTemplate.ContainerSpec";
    for (i, m) in arr_at(cs, at, "Mounts")?.iter().enumerate() {
        mount(m, &format!("{at}.Mounts[{i}]"), g)?;
    }
    if !arr_at(cs, at, "CapabilityAdd")?.is_empty() {
        need(g.capabilities, Capabilities(path(at, "CapabilityAdd")))?;
    }
    let Some(p) = obj_at(cs, at, "Privileges")? else {
        return Ok(());
    };
    let at = "TaskTemplate.ContainerSpec.Privileges";
    for name in ["Seccomp", "AppArmor"] {
        let sub_at = path(at, name);
        let Some(sub) = obj_at(p, at, name)? else {
            continue;
        };
        let mode = str_at(sub, &sub_at, "Mode")?.unwrap_or_default().trim();
        if !(mode.is_empty() || mode.eq_ignore_ascii_case("default")) {
            need(
                g.privileged,
                Privileged(format!("{sub_at}.Mode={:?}", short(mode))),
            )?;
        }
    }
    if let Some(se) = obj_at(p, at, "SELinuxContext")? {
        let se_at = path(at, "SELinuxContext");
        if bool_at(se, &se_at, "Disable")? {
            need(g.privileged, Privileged(path(&se_at, "Disable")))?;
        }
        // A custom label such as type spc_t is as unconfined as disabling SELinux.
        for name in ["User", "Role", "Type", "Level"] {
            if str_at(se, &se_at, name)?.is_some_and(|s| !s.is_empty()) {
                need(g.privileged, Privileged(path(&se_at, name)))?;
            }
        }
    }
    Ok(())
}

/// `Networks[].Target == "host"` of a ServiceSpec or its TaskTemplate.
fn networks(o: &Object, at: &str, g: &BodyGrants) -> Result<(), BodyDenial> {
    let nets_at = path(at, "Networks");
    for (i, n) in arr_at(o, at, "Networks")?.iter().enumerate() {
        let n_at = format!("{nets_at}[{i}]");
        let target = str_at(as_obj(n, &n_at)?, &n_at, "Target")?.unwrap_or_default();
        if target.trim().eq_ignore_ascii_case("host") {
            need(
                g.host_namespaces,
                BodyDenial::HostNamespace(format!("{n_at}.Target=\"host\"")),
            )?;
        }
    }
    Ok(())
}

// === Mounts ===

/// One `HostConfig.Binds` entry: `dst` (an anonymous volume), or `src:dst[:opts]` where `src`
/// is a host path when it starts with `/` and a volume name otherwise.
fn bind(spec: &str, at: &str, g: &BodyGrants) -> Result<(), BodyDenial> {
    let parts: Vec<&str> = spec.split(':').collect();
    match parts.as_slice() {
        [_target] => Ok(()),
        [src, _target] | [src, _target, _] if src.starts_with('/') => host_path(src, g),
        [src, _target] | [src, _target, _] if is_volume_name(src) => Ok(()),
        _ => Err(BodyDenial::Malformed(format!(
            "{at} entry {:?} is not src:dst[:opts]",
            short(spec)
        ))),
    }
}

/// One `mount.Mount` object (container `HostConfig.Mounts[]` and service mounts).
fn mount(v: &Value, at: &str, g: &BodyGrants) -> Result<(), BodyDenial> {
    let m = as_obj(v, at)?;
    match str_at(m, at, "Type")?.unwrap_or_default() {
        "bind" => host_path(str_at(m, at, "Source")?.unwrap_or_default(), g),
        "volume" => {
            let vo_at = path(at, "VolumeOptions");
            let Some(vo) = obj_at(m, at, "VolumeOptions")? else {
                return Ok(());
            };
            let dc_at = path(&vo_at, "DriverConfig");
            let Some(dc) = obj_at(vo, &vo_at, "DriverConfig")? else {
                return Ok(());
            };
            if is_local(str_at(dc, &dc_at, "Name")?) {
                local_volume(obj_at(dc, &dc_at, "Options")?, &path(&dc_at, "Options"), g)
            } else {
                Ok(())
            }
        }
        "tmpfs" => Ok(()),
        other => Err(BodyDenial::Malformed(format!(
            "{}={:?} is not a mount type that is inspected",
            path(at, "Type"),
            short(other)
        ))),
    }
}

/// The options of a volume of the `local` driver, which mounts whatever they say.
fn local_volume(opts: Option<&Object>, at: &str, g: &BodyGrants) -> Result<(), BodyDenial> {
    let Some(opts) = opts else { return Ok(()) };
    let fstype = str_at(opts, at, "type")?
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let mut bind = false;
    for opt in str_at(opts, at, "o")?.unwrap_or_default().split(',') {
        let (key, value) = opt.split_once('=').unwrap_or((opt, ""));
        match key.trim().to_ascii_lowercase().as_str() {
            "bind" | "rbind" => bind = true,
            // overlay takes its directories from the host
            "lowerdir" | "upperdir" | "workdir" => {
                value.split(':').try_for_each(|dir| host_path(dir, g))?
            }
            _ => {}
        }
    }
    // A bind mounts `device` as a directory; a disk file system (ext4, xfs, ...) mounts it as a
    // block device, relative to the daemon's working directory when relative. Only memory,
    // overlay and network file systems take a `device` that is no host path.
    let not_host = matches!(
        fstype.as_str(),
        "tmpfs" | "ramfs" | "overlay" | "nfs" | "nfs4" | "cifs" | "smb3"
    );
    match str_at(opts, at, "device")? {
        Some(device) if bind || !not_host => host_path(device, g),
        _ => Ok(()),
    }
}

/// Whether a host path is below an allowed prefix, on a component boundary.
fn host_path(raw: &str, g: &BodyGrants) -> Result<(), BodyDenial> {
    if !raw.starts_with('/') {
        return Err(BodyDenial::Malformed(format!(
            "host path {:?} is not absolute",
            short(raw)
        )));
    }
    let parts: Vec<&str> = raw
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    if parts.contains(&"..") {
        return Err(BodyDenial::Malformed(format!(
            "host path {:?} has a \"..\" segment",
            short(raw)
        )));
    }
    let allowed = g.bind_mounts.iter().any(|p| {
        clean_bind_prefix(p).is_ok_and(|p| {
            parts.starts_with(&p.split('/').filter(|s| !s.is_empty()).collect::<Vec<_>>())
        })
    });
    need(
        allowed,
        BodyDenial::BindMount(format!("/{}", parts.join("/"))),
    )
}

fn allows_all(g: &BodyGrants) -> bool {
    g.bind_mounts
        .iter()
        .any(|p| clean_bind_prefix(p).is_ok_and(|p| p == "/"))
}

/// Driver `local` (the default) interprets its options as a mount(2) call.
fn is_local(driver: Option<&str>) -> bool {
    driver.is_none_or(|d| d.trim().is_empty() || d.trim().eq_ignore_ascii_case("local"))
}

/// The daemon's rule for named volumes: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
fn is_volume_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn is_no_new_privileges(opt: &str) -> bool {
    const BOOLS: [&str; 12] = [
        "1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False",
    ];
    match opt.strip_prefix("no-new-privileges") {
        Some("") => true,
        Some(rest) => rest
            .strip_prefix([':', '='])
            .is_some_and(|b| BOOLS.contains(&b)),
        None => false,
    }
}

fn need(granted: bool, denial: BodyDenial) -> Result<(), BodyDenial> {
    if granted {
        Ok(())
    } else {
        Err(denial)
    }
}

// === JSON tree with Go's key semantics ===

/// A JSON value; numbers are kept only as a type, since no check reads one.
#[derive(Debug)]
enum Value {
    Null,
    Bool(bool),
    Number,
    Str(String),
    Array(Vec<Value>),
    Object(Object),
}

/// An object keyed by folded keys; parsing guarantees no two keys folded alike.
#[derive(Debug, Default)]
struct Object(BTreeMap<String, Value>);

impl Object {
    /// The value of a field as Go matches it; `None` when absent or `null` (Go: not set).
    fn get(&self, name: &str) -> Option<&Value> {
        self.0
            .get(&fold(name))
            .filter(|v| !matches!(v, Value::Null))
    }
}

/// Folds a key the way Go's encoding/json does (`ToUpper(ToLower(r))` on simple mappings),
/// then lowercases. Every key Go matches to an ASCII field name folds to the same string here.
fn fold(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for c in key.chars() {
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
            continue;
        }
        // Only U+0130 has a longer lowercase ("i" + U+0307); Go's simple mapping is plain "i".
        let lower = c.to_lowercase().next().unwrap_or(c);
        out.extend(lower.to_uppercase().flat_map(char::to_lowercase));
    }
    out
}

enum Fault {
    Duplicate(String),
    TooDeep,
}

/// Parses a body into an object, refusing duplicates, depth, trailing data and non-objects.
fn parse(body: &[u8]) -> Result<Object, BodyDenial> {
    let fault = Cell::new(None);
    let mut de = serde_json::Deserializer::from_slice(body);
    let root = Node {
        depth: 0,
        fault: &fault,
    }
    .deserialize(&mut de)
    .map_err(|e| match fault.take() {
        Some(Fault::Duplicate(key)) => BodyDenial::DuplicateKey(short(&key)),
        Some(Fault::TooDeep) => {
            BodyDenial::Malformed(format!("nested deeper than {MAX_DEPTH} levels"))
        }
        None => BodyDenial::Malformed(e.to_string()),
    })?;
    de.end().map_err(|_| BodyDenial::TrailingData)?;
    match root {
        Value::Object(o) => Ok(o),
        _ => Err(BodyDenial::Malformed(
            "the body is not a JSON object".into(),
        )),
    }
}

/// Seed and visitor for one value at `depth`; faults serde cannot carry go to `fault`.
#[derive(Clone, Copy)]
struct Node<'f> {
    depth: usize,
    fault: &'f Cell<Option<Fault>>,
}

impl Node<'_> {
    fn child<E: de::Error>(self) -> Result<Self, E> {
        if self.depth >= MAX_DEPTH {
            self.fault.set(Some(Fault::TooDeep));
            return Err(E::custom("nested too deep"));
        }
        Ok(Node {
            depth: self.depth + 1,
            ..self
        })
    }
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Value, E> {
        Ok(Value::Number)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Value, E> {
        Ok(Value::Number)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Value, E> {
        Ok(Value::Number)
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::Str(s.to_owned()))
    }
    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::Str(s))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let child = self.child()?;
        let mut items = Vec::new();
        while let Some(v) = seq.next_element_seed(child)? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let child = self.child()?;
        let mut obj = BTreeMap::new();
        while let Some(key) = map.next_key::<String>()? {
            let folded = fold(&key);
            if obj.contains_key(&folded) {
                self.fault.set(Some(Fault::Duplicate(key)));
                return Err(de::Error::custom("duplicate key"));
            }
            let v = map.next_value_seed(child)?;
            obj.insert(folded, v);
        }
        Ok(Value::Object(Object(obj)))
    }
}

// === Typed access: wrong types are refused, null is "not set" ===

fn path(at: &str, name: &str) -> String {
    if at.is_empty() {
        name.to_owned()
    } else {
        format!("{at}.{name}")
    }
}

fn wrong(at: &str, name: &str, want: &str) -> BodyDenial {
    BodyDenial::Malformed(format!("{} must be {want}", path(at, name)))
}

fn as_obj<'a>(v: &'a Value, at: &str) -> Result<&'a Object, BodyDenial> {
    match v {
        Value::Object(o) => Ok(o),
        _ => Err(BodyDenial::Malformed(format!("{at} must be an object"))),
    }
}

fn bool_at(o: &Object, at: &str, name: &str) -> Result<bool, BodyDenial> {
    match o.get(name) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(wrong(at, name, "a boolean")),
    }
}

fn str_at<'a>(o: &'a Object, at: &str, name: &str) -> Result<Option<&'a str>, BodyDenial> {
    match o.get(name) {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s)),
        Some(_) => Err(wrong(at, name, "a string")),
    }
}

fn obj_at<'a>(o: &'a Object, at: &str, name: &str) -> Result<Option<&'a Object>, BodyDenial> {
    match o.get(name) {
        None => Ok(None),
        Some(Value::Object(v)) => Ok(Some(v)),
        Some(_) => Err(wrong(at, name, "an object")),
    }
}

fn arr_at<'a>(o: &'a Object, at: &str, name: &str) -> Result<&'a [Value], BodyDenial> {
    match o.get(name) {
        None => Ok(&[]),
        Some(Value::Array(v)) => Ok(v),
        Some(_) => Err(wrong(at, name, "an array")),
    }
}

fn strs_at<'a>(o: &'a Object, at: &str, name: &str) -> Result<Vec<&'a str>, BodyDenial> {
    arr_at(o, at, name)?
        .iter()
        .map(|v| match v {
            Value::Str(s) => Ok(s.as_str()),
            _ => Err(wrong(at, name, "an array of strings")),
        })
        .collect()
}

/// Client-supplied text in a message, cut to a readable length.
fn short(s: &str) -> String {
    const MAX: usize = 80;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use BodyDenial as D;
    use BodyKind as K;

    fn none() -> BodyGrants {
        BodyGrants::default()
    }

    fn all() -> BodyGrants {
        BodyGrants {
            privileged: true,
            host_namespaces: true,
            capabilities: true,
            devices: true,
            bind_mounts: vec!["/".into()],
        }
    }

    fn binds(prefixes: &[&str]) -> BodyGrants {
        BodyGrants {
            bind_mounts: prefixes.iter().map(|p| p.to_string()).collect(),
            ..none()
        }
    }

    fn create(body: &str, g: &BodyGrants) -> Result<(), BodyDenial> {
        inspect(K::ContainerCreate, body.as_bytes(), g)
    }

    /// A create body with `inner` as the HostConfig members.
    fn hc(inner: &str) -> String {
        format!(r#"{{"Image":"alpine","HostConfig":{{{inner}}}}}"#)
    }

    fn is_malformed(r: Result<(), BodyDenial>) -> bool {
        matches!(r, Err(D::Malformed(_)))
    }

    /// What `docker run --rm alpine true` (CLI 28) sends.
    const CLI_RUN: &str = r#"{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":true,"AttachStderr":true,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":["true"],"Image":"alpine","Volumes":{},"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{},"HostConfig":{"Binds":null,"ContainerIDFile":"","LogConfig":{"Type":"","Config":{}},"NetworkMode":"bridge","PortBindings":{},"RestartPolicy":{"Name":"no","MaximumRetryCount":0},"AutoRemove":true,"VolumeDriver":"","VolumesFrom":null,"ConsoleSize":[52,200],"CapAdd":null,"CapDrop":null,"CgroupnsMode":"","Dns":[],"DnsOptions":[],"DnsSearch":[],"ExtraHosts":null,"GroupAdd":null,"IpcMode":"","Cgroup":"","Links":null,"OomScoreAdj":0,"PidMode":"","Privileged":false,"PublishAllPorts":false,"ReadonlyRootfs":false,"SecurityOpt":null,"UTSMode":"","UsernsMode":"","ShmSize":0,"Isolation":"","CpuShares":0,"Memory":0,"NanoCpus":0,"CgroupParent":"","BlkioWeight":0,"BlkioWeightDevice":[],"BlkioDeviceReadBps":[],"BlkioDeviceWriteBps":[],"BlkioDeviceReadIOps":[],"BlkioDeviceWriteIOps":[],"CpuPeriod":0,"CpuQuota":0,"CpuRealtimePeriod":0,"CpuRealtimeRuntime":0,"CpusetCpus":"","CpusetMems":"","Devices":[],"DeviceCgroupRules":null,"DeviceRequests":null,"MemoryReservation":0,"MemorySwap":0,"MemorySwappiness":null,"OomKillDisable":null,"PidsLimit":null,"Ulimits":[],"CpuCount":0,"CpuPercent":0,"IOMaximumIOps":0,"IOMaximumBandwidth":0,"MaskedPaths":null,"ReadonlyPaths":null},"NetworkingConfig":{"EndpointsConfig":{"bridge":{"IPAMConfig":null,"Links":null,"Aliases":null,"MacAddress":"","DriverOpts":null,"NetworkID":"","EndpointID":"","Gateway":"","IPAddress":"","IPPrefixLen":0,"IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"DNSNames":null}}}}"#;

    // === parsing ===

    #[test]
    fn cli_run_body_is_allowed_without_grants() {
        assert_eq!(create(CLI_RUN, &none()), Ok(()));
        assert_eq!(create(r#"{"Image":"alpine"}"#, &none()), Ok(()));
    }

    #[test]
    fn empty_and_non_object_bodies_are_malformed() {
        for kind in [
            K::ContainerCreate,
            K::ContainerUpdate,
            K::ExecCreate,
            K::ServiceCreate,
            K::ServiceUpdate,
            K::VolumeCreate,
        ] {
            for body in [
                "",
                "  \n\t",
                "[]",
                "null",
                "\"x\"",
                "1",
                "{",
                "{\"a\":}",
                "\u{feff}{}",
            ] {
                assert!(
                    is_malformed(inspect(kind, body.as_bytes(), &all())),
                    "{kind:?} {body:?}"
                );
            }
            assert!(
                is_malformed(inspect(kind, b"{\"a\":\"\xff\"}", &all())),
                "invalid UTF-8"
            );
            assert_eq!(inspect(kind, b" {} \n", &none()), Ok(()));
        }
    }

    #[test]
    fn trailing_data_is_refused() {
        let body = r#"{}{"HostConfig":{"Privileged":true}}"#;
        assert_eq!(create(body, &all()), Err(D::TrailingData));
        assert_eq!(create("{} x", &none()), Err(D::TrailingData));
        assert_eq!(create("{}\r\n", &none()), Ok(()));
    }

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        let dup = |k: &str| Err(D::DuplicateKey(k.into()));
        assert_eq!(
            create(&hc(r#""Privileged":false,"privileged":true"#), &all()),
            dup("privileged")
        );
        assert_eq!(
            create(r#"{"HostConfig":{},"HostConfig":{}}"#, &all()),
            dup("HostConfig")
        );
        assert_eq!(
            create(r#"{"Labels":{"a":{"b":[{"x":1,"X":2}]}}}"#, &all()),
            dup("X")
        );
        // Kelvin sign, long s and the Turkish i's fold onto ASCII, as in Go.
        assert_eq!(
            create(&hc(r#""NetworkMode":"","Networ\u212AMode":"host""#), &all()),
            dup("Networ\u{212A}Mode")
        );
        assert_eq!(
            create(&hc(r#""SecurityOpt":[],"\u017FecurityOpt":[]"#), &all()),
            dup("\u{17F}ecurityOpt")
        );
        assert_eq!(
            create(&hc(r#""Privileged":false,"PR\u0130VILEGED":true"#), &all()),
            dup("PR\u{130}VILEGED")
        );
        assert_eq!(
            create(&hc(r#""Privileged":false,"pr\u0131vileged":true"#), &all()),
            dup("pr\u{131}vileged")
        );
    }

    #[test]
    fn keys_match_case_insensitively_and_after_unescaping() {
        let priv_ = |r: Result<(), BodyDenial>| matches!(r, Err(D::Privileged(_)));
        assert!(priv_(create(
            r#"{"hostconfig":{"privileged":true}}"#,
            &none()
        )));
        assert!(priv_(create(
            r#"{"HOSTCONFIG":{"\u0050rivileged":true}}"#,
            &none()
        )));
        assert!(priv_(create(&hc(r#""Pr\u0130vileged":true"#), &none())));
        assert!(priv_(create(&hc(r#""pr\u0131vileged":true"#), &none())));
        let caps = create(r#"{"hostConfig":{"cApAdD":["NET_ADMIN"]}}"#, &none());
        assert_eq!(caps, Err(D::Capabilities("HostConfig.CapAdd".into())));
        let caps = create(&hc(r#""Capabilitie\u017F":["CHOWN"]"#), &none());
        assert_eq!(caps, Err(D::Capabilities("HostConfig.Capabilities".into())));
        let net = create(&hc(r#""Networ\u212AMode":"host""#), &none());
        assert_eq!(
            net,
            Err(D::HostNamespace("HostConfig.NetworkMode=\"host\"".into()))
        );
    }

    #[test]
    fn nesting_is_limited() {
        let nest = |n: usize| format!(r#"{{"Labels":{}1{}}}"#, "[".repeat(n), "]".repeat(n));
        assert_eq!(create(&nest(MAX_DEPTH - 1), &none()), Ok(()));
        assert!(is_malformed(create(&nest(MAX_DEPTH), &none())));
        assert!(is_malformed(create(&nest(100_000), &none())));
    }

    #[test]
    fn wrong_types_are_malformed_and_null_is_unset() {
        for inner in [
            r#""Privileged":"yes""#,
            r#""Privileged":1"#,
            r#""Binds":"/:/h""#,
            r#""Binds":[1]"#,
            r#""Mounts":{}"#,
            r#""Mounts":[null]"#,
            r#""PidMode":["host"]"#,
            r#""CapAdd":"ALL""#,
            r#""SecurityOpt":"x""#,
        ] {
            assert!(is_malformed(create(&hc(inner), &none())), "{inner}");
        }
        assert!(is_malformed(create(r#"{"HostConfig":[]}"#, &none())));
        assert!(is_malformed(inspect(
            K::ExecCreate,
            br#"{"Privileged":"true"}"#,
            &none()
        )));
        let nulls = r#""Privileged":null,"Binds":null,"Mounts":null,"PidMode":null,"CapAdd":null,"Capabilities":null,"MaskedPaths":null"#;
        assert_eq!(create(&hc(nulls), &none()), Ok(()));
        assert_eq!(create(r#"{"HostConfig":null}"#, &none()), Ok(()));
    }

    // === privileged ===

    #[test]
    fn privileged_needs_the_grant() {
        let r = create(&hc(r#""Privileged":true"#), &none());
        assert_eq!(r, Err(D::Privileged("HostConfig.Privileged".into())));
        assert_eq!(
            r.unwrap_err().needs().as_deref(),
            Some("ALLOW_PRIVILEGED=1")
        );
        assert_eq!(
            create(
                &hc(r#""Privileged":true"#),
                &BodyGrants {
                    privileged: true,
                    ..none()
                }
            ),
            Ok(())
        );
        // The deprecated top-level HostConfig that the daemon still reads.
        assert_eq!(
            create(r#"{"Image":"a","Privileged":true}"#, &none()),
            Err(D::Privileged("Privileged".into()))
        );
    }

    #[test]
    fn security_opts_other_than_no_new_privileges_need_privileged() {
        let grant = BodyGrants {
            privileged: true,
            ..none()
        };
        for opt in [
            "seccomp=unconfined",
            "apparmor=unconfined",
            "label=disable",
            "disable",
            "label:type:spc_t",
            "systempaths=unconfined",
            "seccomp={\"defaultAction\":\"SCMP_ACT_ALLOW\"}",
            "no-new-privileges=maybe",
            "no-new-privilegesx",
            "",
        ] {
            let body = hc(&format!(
                r#""SecurityOpt":[{}]"#,
                serde_json::to_string(opt).unwrap()
            ));
            assert!(
                matches!(create(&body, &none()), Err(D::Privileged(_))),
                "{opt}"
            );
            assert_eq!(create(&body, &grant), Ok(()), "{opt}");
        }
        for opt in [
            "no-new-privileges",
            "no-new-privileges:true",
            "no-new-privileges=false",
            "no-new-privileges=1",
        ] {
            assert_eq!(
                create(&hc(&format!(r#""SecurityOpt":["{opt}"]"#)), &none()),
                Ok(()),
                "{opt}"
            );
        }
    }

    #[test]
    fn masked_and_readonly_paths_need_privileged() {
        for inner in [r#""MaskedPaths":[]"#, r#""ReadonlyPaths":["/proc/sys"]"#] {
            assert!(
                matches!(create(&hc(inner), &none()), Err(D::Privileged(_))),
                "{inner}"
            );
            assert_eq!(
                create(
                    &hc(inner),
                    &BodyGrants {
                        privileged: true,
                        ..none()
                    }
                ),
                Ok(())
            );
        }
    }

    #[test]
    fn exec_privileged_needs_the_grant() {
        let r = inspect(
            K::ExecCreate,
            br#"{"Cmd":["sh"],"privileged":true}"#,
            &none(),
        );
        assert_eq!(r, Err(D::Privileged("Privileged".into())));
        let ok = inspect(
            K::ExecCreate,
            br#"{"Cmd":["sh"],"Privileged":true}"#,
            &BodyGrants {
                privileged: true,
                ..none()
            },
        );
        assert_eq!(ok, Ok(()));
        assert_eq!(
            inspect(
                K::ExecCreate,
                br#"{"Cmd":["sh"],"Privileged":false,"User":"root"}"#,
                &none()
            ),
            Ok(())
        );
    }

    // === namespaces, capabilities, devices ===

    #[test]
    fn host_namespaces_need_the_grant() {
        let grant = BodyGrants {
            host_namespaces: true,
            ..none()
        };
        for field in [
            "NetworkMode",
            "PidMode",
            "IpcMode",
            "UTSMode",
            "UsernsMode",
            "CgroupnsMode",
        ] {
            let body = hc(&format!(r#""{field}":"host""#));
            let r = create(&body, &none());
            assert_eq!(
                r,
                Err(D::HostNamespace(format!("HostConfig.{field}=\"host\"")))
            );
            assert_eq!(
                r.unwrap_err().needs().as_deref(),
                Some("ALLOW_HOST_NAMESPACES=1")
            );
            assert_eq!(create(&body, &grant), Ok(()));
        }
        assert!(create(&hc(r#""PidMode":"container:socket-guard""#), &none()).is_err());
        assert!(create(&hc(r#""PidMode":"host:x""#), &none()).is_err());
        assert_eq!(create(&hc(r#""PidMode":"container:x""#), &grant), Ok(()));
        for ok in [
            r#""NetworkMode":"bridge""#,
            r#""NetworkMode":"container:x""#,
            r#""IpcMode":"private""#,
            r#""NetworkMode":"hostnet""#,
        ] {
            assert_eq!(create(&hc(ok), &none()), Ok(()), "{ok}");
        }
        let eps = r#"{"NetworkingConfig":{"EndpointsConfig":{"host":{}}}}"#;
        assert!(matches!(create(eps, &none()), Err(D::HostNamespace(_))));
        assert_eq!(create(eps, &grant), Ok(()));
    }

    #[test]
    fn capabilities_need_the_grant() {
        let grant = BodyGrants {
            capabilities: true,
            ..none()
        };
        for inner in [r#""CapAdd":["SYS_ADMIN"]"#, r#""Capabilities":[]"#] {
            let r = create(&hc(inner), &none());
            assert!(matches!(r, Err(D::Capabilities(_))), "{inner}");
            assert_eq!(
                r.unwrap_err().needs().as_deref(),
                Some("ALLOW_CAPABILITIES=1")
            );
            assert_eq!(create(&hc(inner), &grant), Ok(()));
        }
        assert_eq!(
            create(&hc(r#""CapAdd":[],"CapDrop":["ALL"]"#), &none()),
            Ok(())
        );
    }

    #[test]
    fn devices_need_the_grant() {
        let grant = BodyGrants {
            devices: true,
            ..none()
        };
        let dev =
            r#"{"PathOnHost":"/dev/sda","PathInContainer":"/dev/sda","CgroupPermissions":"rwm"}"#;
        for (field, value) in [
            ("Devices", dev),
            ("DeviceRequests", r#"{"Count":-1}"#),
            ("DeviceCgroupRules", r#""b 8:* rwm""#),
        ] {
            let inner = format!(r#""{field}":[{value}]"#);
            assert_eq!(
                create(&hc(&inner), &none()),
                Err(D::Devices(format!("HostConfig.{field}")))
            );
            assert_eq!(create(&hc(&inner), &grant), Ok(()));
            let update = format!("{{{inner}}}");
            let r = inspect(K::ContainerUpdate, update.as_bytes(), &none());
            assert_eq!(r, Err(D::Devices(field.into())));
            assert_eq!(r.unwrap_err().needs().as_deref(), Some("ALLOW_DEVICES=1"));
            assert_eq!(
                inspect(K::ContainerUpdate, update.as_bytes(), &grant),
                Ok(())
            );
        }
        assert_eq!(
            inspect(
                K::ContainerUpdate,
                br#"{"Memory":1024,"Devices":[]}"#,
                &none()
            ),
            Ok(())
        );
    }

    // === binds and mounts ===

    fn bind_body(spec: &str) -> String {
        hc(&format!(
            r#""Binds":[{}]"#,
            serde_json::to_string(spec).unwrap()
        ))
    }

    #[test]
    fn bind_prefixes_match_on_component_boundaries() {
        let g = binds(&["/srv/data"]);
        for ok in [
            "/srv/data:/d",
            "/srv/data/:/d:ro",
            "/srv/data/x/y:/d:rw,z",
            "//srv//data/./x:/d",
            "data:/d",
            "my_vol.1-x:/d:ro",
            "/anon",
        ] {
            assert_eq!(create(&bind_body(ok), &g), Ok(()), "{ok}");
        }
        for (bad, path) in [
            ("/srv/database:/d", "/srv/database"),
            ("/srv:/d", "/srv"),
            ("/:/host", "/"),
            ("//etc:/d", "/etc"),
        ] {
            let r = create(&bind_body(bad), &g);
            assert_eq!(r, Err(D::BindMount(path.into())), "{bad}");
            assert_eq!(
                r.unwrap_err().needs(),
                Some(format!("ALLOW_BIND_MOUNTS={path}"))
            );
        }
        assert_eq!(create(&bind_body("/:/host"), &binds(&["/"])), Ok(()));
        assert_eq!(
            create(&bind_body("/srv/data:/d"), &none()),
            Err(D::BindMount("/srv/data".into()))
        );
        // An unclean configured prefix never matches.
        assert!(create(&bind_body("/etc:/d"), &binds(&["/srv/../etc"])).is_err());
    }

    #[test]
    fn bind_sources_with_dot_dot_or_odd_names_are_malformed() {
        for bad in [
            "/srv/data/../etc:/d",
            "/srv/data/..:/d",
            "./x:/d",
            "~/x:/d",
            ":/d",
            "_x:/d",
            "x y:/d",
            "a:b:c:d",
            "/a:/b:ro:x",
        ] {
            assert!(is_malformed(create(&bind_body(bad), &all())), "{bad}");
        }
    }

    fn mount_body(mount: &str) -> String {
        hc(&format!(r#""Mounts":[{mount}]"#))
    }

    #[test]
    fn bind_mounts_check_their_source() {
        let g = binds(&["/srv/data"]);
        assert_eq!(
            create(
                &mount_body(r#"{"Type":"bind","Source":"/srv/data/a","Target":"/a"}"#),
                &g
            ),
            Ok(())
        );
        let r = create(
            &mount_body(r#"{"type":"bind","source":"/var/run","target":"/a"}"#),
            &g,
        );
        assert_eq!(r, Err(D::BindMount("/var/run".into())));
        assert!(is_malformed(create(
            &mount_body(r#"{"Type":"bind","Target":"/a"}"#),
            &all()
        )));
        assert!(is_malformed(create(
            &mount_body(r#"{"Type":"bind","Source":"/a/../b"}"#),
            &all()
        )));
        assert_eq!(
            create(&mount_body(r#"{"Type":"tmpfs","Target":"/t"}"#), &none()),
            Ok(())
        );
        for ty in [r#""npipe""#, r#""cluster""#, r#""Bind""#, r#""""#, "null"] {
            let m = format!(r#"{{"Type":{ty},"Source":"/srv/data","Target":"/a"}}"#);
            assert!(is_malformed(create(&mount_body(&m), &all())), "{ty}");
        }
    }

    #[test]
    fn local_volume_options_that_mount_host_paths_are_checked() {
        let vol = |driver: &str, opts: &str| {
            mount_body(&format!(
                r#"{{"Type":"volume","Source":"v","Target":"/v","VolumeOptions":{{"DriverConfig":{{{driver}"Options":{opts}}}}}}}"#
            ))
        };
        let g = binds(&["/srv/data"]);
        let bind_etc = r#"{"type":"none","o":"bind","device":"/etc"}"#;
        for driver in ["", r#""Name":"local","#, r#""Name":"","#, r#""Name":null,"#] {
            assert_eq!(
                create(&vol(driver, bind_etc), &g),
                Err(D::BindMount("/etc".into())),
                "{driver}"
            );
        }
        assert_eq!(
            create(&vol(r#""Name":"rexray","#, bind_etc), &none()),
            Ok(())
        );
        assert_eq!(
            create(
                &vol(
                    "",
                    r#"{"type":"none","o":"ro, rbind","device":"/srv/data/v"}"#
                ),
                &g
            ),
            Ok(())
        );
        assert!(is_malformed(create(
            &vol("", r#"{"o":"bind","device":"etc"}"#),
            &all()
        )));
        assert_eq!(
            create(&vol("", r#"{"type":"ext4","device":"/dev/sda1"}"#), &g),
            Err(D::BindMount("/dev/sda1".into()))
        );
        let overlay = r#"{"type":"overlay","device":"overlay","o":"lowerdir=/srv/data/l:/etc,upperdir=/srv/data/u"}"#;
        assert_eq!(
            create(&vol("", overlay), &g),
            Err(D::BindMount("/etc".into()))
        );
        for ok in [
            r#"{"type":"tmpfs","device":"tmpfs","o":"size=100m"}"#,
            r#"{"type":"nfs","o":"addr=10.0.0.1,rw","device":":/export"}"#,
            "{}",
            "null",
        ] {
            assert_eq!(create(&vol("", ok), &none()), Ok(()), "{ok}");
        }
        assert!(is_malformed(create(&vol("", r#"{"device":1}"#), &all())));
    }

    #[test]
    fn volumes_from_needs_every_bind() {
        let body = hc(r#""VolumesFrom":["other:ro"]"#);
        let r = create(&body, &binds(&["/srv"]));
        assert_eq!(r, Err(D::VolumesFrom));
        assert_eq!(
            r.unwrap_err().needs().as_deref(),
            Some("ALLOW_BIND_MOUNTS=/")
        );
        assert_eq!(create(&body, &binds(&["/srv", "/"])), Ok(()));
        assert_eq!(create(&hc(r#""VolumesFrom":[]"#), &none()), Ok(()));
    }

    #[test]
    fn volume_create_checks_local_bind_devices() {
        let g = binds(&["/srv/data"]);
        let vc = |body: &str, g: &BodyGrants| inspect(K::VolumeCreate, body.as_bytes(), g);
        assert_eq!(vc(r#"{"Name":"v"}"#, &none()), Ok(()));
        let bind = |driver: &str, dev: &str| {
            format!(
                r#"{{"Name":"v",{driver}"DriverOpts":{{"type":"none","o":"bind","device":"{dev}"}}}}"#
            )
        };
        assert_eq!(vc(&bind("", "/srv/data/v"), &g), Ok(()));
        assert_eq!(
            vc(&bind(r#""Driver":"local","#, "/"), &g),
            Err(D::BindMount("/".into()))
        );
        assert_eq!(
            vc(&bind(r#""driver":" Local ","#, "/root"), &g),
            Err(D::BindMount("/root".into()))
        );
        assert_eq!(
            vc(&bind(r#""Driver":"","#, "/root"), &g),
            Err(D::BindMount("/root".into()))
        );
        assert_eq!(vc(&bind(r#""Driver":"other","#, "/root"), &none()), Ok(()));
        assert_eq!(
            vc(r#"{"DriverOpts":{"O":"BIND","Device":"/root"}}"#, &g),
            Err(D::BindMount("/root".into()))
        );
        assert!(is_malformed(vc(r#"{"DriverOpts":"o=bind"}"#, &all())));
    }

    // === services ===

    fn svc(task: &str) -> String {
        format!(
            r#"{{"Name":"web","TaskTemplate":{task},"Mode":{{"Replicated":{{"Replicas":1}}}}}}"#
        )
    }

    #[test]
    fn plain_service_is_allowed() {
        let body = svc(
            r#"{"ContainerSpec":{"Image":"nginx","Mounts":[{"Type":"volume","Source":"d","Target":"/d"}],"Privileges":{"Seccomp":{"Mode":"default"},"AppArmor":{"Mode":"default"},"NoNewPrivileges":true}},"Networks":[{"Target":"web"}],"Runtime":"container"}"#,
        );
        for kind in [K::ServiceCreate, K::ServiceUpdate] {
            assert_eq!(inspect(kind, body.as_bytes(), &none()), Ok(()));
        }
    }

    #[test]
    fn service_denials() {
        let privileged = || BodyGrants {
            privileged: true,
            ..none()
        };
        let cases = [
            (
                r#"{"ContainerSpec":{"Mounts":[{"Type":"bind","Source":"/","Target":"/h"}]}}"#,
                "ALLOW_BIND_MOUNTS=/",
                binds(&["/"]),
            ),
            (
                r#"{"ContainerSpec":{"CapabilityAdd":["SYS_ADMIN"]}}"#,
                "ALLOW_CAPABILITIES=1",
                BodyGrants {
                    capabilities: true,
                    ..none()
                },
            ),
            (
                r#"{"ContainerSpec":{"Privileges":{"Seccomp":{"Mode":"unconfined"}}}}"#,
                "ALLOW_PRIVILEGED=1",
                privileged(),
            ),
            (
                r#"{"ContainerSpec":{"Privileges":{"Seccomp":{"Mode":"custom","Profile":"e30="}}}}"#,
                "ALLOW_PRIVILEGED=1",
                privileged(),
            ),
            (
                r#"{"ContainerSpec":{"Privileges":{"AppArmor":{"Mode":"disabled"}}}}"#,
                "ALLOW_PRIVILEGED=1",
                privileged(),
            ),
            (
                r#"{"ContainerSpec":{"Privileges":{"SELinuxContext":{"Disable":true}}}}"#,
                "ALLOW_PRIVILEGED=1",
                privileged(),
            ),
            (
                r#"{"ContainerSpec":{"Privileges":{"SELinuxContext":{"Type":"spc_t"}}}}"#,
                "ALLOW_PRIVILEGED=1",
                privileged(),
            ),
            (
                r#"{"PluginSpec":{"Name":"x","Remote":"evil/plugin"}}"#,
                "ALLOW_PRIVILEGED=1",
                privileged(),
            ),
            (
                r#"{"Runtime":"plugin"}"#,
                "ALLOW_PRIVILEGED=1",
                privileged(),
            ),
            (
                r#"{"Networks":[{"Target":"host"}]}"#,
                "ALLOW_HOST_NAMESPACES=1",
                BodyGrants {
                    host_namespaces: true,
                    ..none()
                },
            ),
        ];
        for (task, needs, grant) in &cases {
            let body = svc(task);
            for kind in [K::ServiceCreate, K::ServiceUpdate] {
                let r = inspect(kind, body.as_bytes(), &none());
                assert_eq!(r.unwrap_err().needs().as_deref(), Some(*needs), "{task}");
                assert_eq!(inspect(kind, body.as_bytes(), grant), Ok(()), "{task}");
            }
        }
        let top = br#"{"Name":"web","TaskTemplate":{},"Networks":[{"Target":"HOST"}]}"#;
        assert!(matches!(
            inspect(K::ServiceCreate, top, &none()),
            Err(D::HostNamespace(_))
        ));
        assert!(is_malformed(inspect(
            K::ServiceCreate,
            br#"{"TaskTemplate":{"Networks":["host"]}}"#,
            &all()
        )));
    }

    // === config and messages ===

    #[test]
    fn clean_bind_prefix_cases() {
        assert_eq!(clean_bind_prefix("/"), Ok("/".into()));
        assert_eq!(clean_bind_prefix("/srv/data"), Ok("/srv/data".into()));
        assert_eq!(clean_bind_prefix("/srv/data/"), Ok("/srv/data".into()));
        for bad in [
            "",
            "srv",
            "./srv",
            "//",
            "/srv//data",
            "/srv/./data",
            "/srv/..",
            "/srv/data//",
            "/a\nb",
        ] {
            assert!(clean_bind_prefix(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn messages_are_short_and_needs_is_none_for_malformed() {
        let denials = [
            D::Malformed("x".into()),
            D::DuplicateKey("k".into()),
            D::TrailingData,
            D::Privileged("HostConfig.Privileged".into()),
            D::HostNamespace("HostConfig.PidMode=\"host\"".into()),
            D::Capabilities("HostConfig.CapAdd".into()),
            D::Devices("HostConfig.Devices".into()),
            D::BindMount("/etc".into()),
            D::VolumesFrom,
        ];
        for d in &denials {
            let msg = d.to_string();
            assert!(!msg.ends_with('.') && msg.len() < 100, "{msg}");
            let malformed = matches!(d, D::Malformed(_) | D::DuplicateKey(_) | D::TrailingData);
            assert_eq!(d.needs().is_none(), malformed, "{d:?}");
        }
        assert_eq!(
            D::Privileged("HostConfig.Privileged".into()).to_string(),
            "the body asks for privileged mode (HostConfig.Privileged)"
        );
        let long = create(
            &hc(&format!(r#""PidMode":"host:{}""#, "x".repeat(1000))),
            &none(),
        );
        assert!(long.unwrap_err().to_string().len() < 200);
    }

    // === properties ===

    mod props {
        use super::*;
        use proptest::prelude::*;

        const WORDS: &[&str] = &[
            "HostConfig",
            "Privileged",
            "SecurityOpt",
            "MaskedPaths",
            "PidMode",
            "NetworkMode",
            "CapAdd",
            "Capabilities",
            "Devices",
            "Binds",
            "Mounts",
            "Type",
            "Source",
            "VolumeOptions",
            "DriverConfig",
            "Name",
            "Options",
            "o",
            "device",
            "type",
            "VolumesFrom",
            "TaskTemplate",
            "ContainerSpec",
            "Privileges",
            "Seccomp",
            "Mode",
            "Networks",
            "Target",
            "PluginSpec",
            "Runtime",
            "Driver",
            "DriverOpts",
            "bind",
            "volume",
            "host",
            "/",
            "/etc",
            "a:/b",
            "/x/../y",
        ];

        fn word() -> impl Strategy<Value = String> {
            prop_oneof![
                prop::sample::select(WORDS).prop_map(str::to_owned),
                "[a-z/.:]{0,6}"
            ]
        }

        fn json() -> impl Strategy<Value = serde_json::Value> {
            use serde_json::Value as J;
            let leaf = prop_oneof![
                Just(J::Null),
                any::<bool>().prop_map(J::Bool),
                any::<i32>().prop_map(J::from),
                word().prop_map(J::String),
            ];
            leaf.prop_recursive(6, 64, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(J::Array),
                    prop::collection::vec((word(), inner), 0..6)
                        .prop_map(|kv| J::Object(kv.into_iter().collect())),
                ]
            })
        }

        fn bit(seed: &mut u64) -> u64 {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            *seed & 3
        }

        /// Spells every key differently but alike for Go: ASCII case, and the non-ASCII letters
        /// Go folds onto k, s and i.
        fn respell(v: &serde_json::Value, seed: &mut u64) -> serde_json::Value {
            use serde_json::Value as J;
            match v {
                J::Array(a) => J::Array(a.iter().map(|x| respell(x, seed)).collect()),
                J::Object(o) => J::Object(
                    o.iter()
                        .map(|(k, x)| {
                            let k: String = k
                                .chars()
                                .map(|c| match (c, bit(seed)) {
                                    ('k', 0) => '\u{212A}',
                                    ('s', 0) => '\u{17F}',
                                    ('i', 0) => '\u{130}',
                                    ('i', 1) => '\u{131}',
                                    (c, 2) => c.to_ascii_uppercase(),
                                    (c, _) => c,
                                })
                                .collect();
                            (k, respell(x, seed))
                        })
                        .collect(),
                ),
                other => other.clone(),
            }
        }

        const KINDS: [BodyKind; 6] = [
            K::ContainerCreate,
            K::ContainerUpdate,
            K::ExecCreate,
            K::ServiceCreate,
            K::ServiceUpdate,
            K::VolumeCreate,
        ];

        proptest! {
            #[test]
            fn never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
                for kind in KINDS {
                    let _ = inspect(kind, &bytes, &none());
                }
            }

            #[test]
            fn never_panics_on_json_ish_text(s in r#"[{}\[\]",:0-9a-zA-Z/. \\u]{0,256}"#) {
                for kind in KINDS {
                    let _ = inspect(kind, s.as_bytes(), &all());
                }
            }

            #[test]
            fn full_grants_only_refuse_malformed_bodies(v in json(), kind in prop::sample::select(KINDS.to_vec())) {
                let body = serde_json::to_vec(&serde_json::json!({"HostConfig": v.clone(), "TaskTemplate": {"ContainerSpec": v.clone()}, "x": v})).unwrap();
                if let Err(d) = inspect(kind, &body, &all()) {
                    prop_assert!(d.needs().is_none(), "{d:?}");
                }
            }

            #[test]
            fn key_spelling_does_not_change_the_verdict(v in json(), seed in 1u64.., kind in prop::sample::select(KINDS.to_vec())) {
                let body = serde_json::json!({"HostConfig": v.clone(), "TaskTemplate": {"ContainerSpec": v.clone()}, "x": v});
                let respelled = respell(&body, &mut seed.clone());
                let a = inspect(kind, &serde_json::to_vec(&body).unwrap(), &binds(&["/etc"]));
                let b = inspect(kind, &serde_json::to_vec(&respelled).unwrap(), &binds(&["/etc"]));
                match (a, b) {
                    (Err(D::DuplicateKey(_)), Err(D::DuplicateKey(_))) => {}
                    (a, b) => prop_assert_eq!(a, b),
                }
            }
        }
    }
}
