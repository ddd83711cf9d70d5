//! Method + canonical path -> the Docker API endpoint it reaches, or `None` (unknown).
//!
//! The table mirrors the daemon's routes (moby `api/server/router/*`, API 1.24 to 1.47) in the
//! daemon's registration order, because its router takes the first match. Object ids are one
//! path segment here; the daemon's `{name:.*}` would also take several, but a multi-segment
//! id reaches nothing more dangerous than the single-segment form, so refusing it only fails
//! closed. Image, plugin and distribution names span segments (`library/alpine`), so those
//! routes take a `{name*}` of one or more segments, anchored by the literal segments after it.
//!
//! Nothing outside this table is ever granted by a section: an unknown endpoint is denied.

use crate::body::BodyKind;
use crate::section::{Gate, Section};

/// What kind of access an endpoint is, which decides what it takes to allow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Metadata read (GET/HEAD): the section alone.
    Read,
    /// A content read (logs, files, tarballs): the section and the gate.
    Content(Gate),
    /// A write (POST, PUT, DELETE): the section and `POST=1`.
    Write,
    /// A write that needs a content gate too (`PUT /containers/{id}/archive`).
    WriteContent(Gate),
    /// Attach (POST) or `attach/ws` (GET): it can write to stdin, so it needs `ALLOW_ATTACH`
    /// with `CONTAINERS=1`, and is never opened by `POST=1` alone.
    Attach,
    /// `POST /containers/{id}/exec`: `CONTAINERS=1`, `EXEC=1` and `POST=1`.
    ExecCreate,
    /// Exec start and resize: `EXEC=1` and `POST=1`.
    ExecRun,
    /// Start, stop, restart, kill: the listed gates, or the section with `POST=1`.
    Lifecycle(&'static [Gate]),
    /// Never granted by a section (`swarm/unlockkey` returns the key that decrypts the swarm).
    Never,
}

/// One endpoint of the Docker Engine API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    /// A stable name for logs, metrics and `socket-guard policy`, e.g. `container.logs`.
    pub name: &'static str,
    /// The HTTP method the daemon routes (HEAD is also accepted where GET is).
    pub method: &'static str,
    /// The route pattern, e.g. `/containers/{id}/logs`.
    pub pattern: &'static str,
    /// The section whose variable enables it.
    pub section: Section,
    /// What it takes to allow it.
    pub access: Access,
    /// Which body inspection an allowed request goes through, if any.
    pub body: Option<BodyKind>,
    /// Whether the daemon answers it by upgrading the connection (hijack or WebSocket).
    pub upgrade: bool,
    /// Whether the request must have an empty body (start: API < 1.24 applied a HostConfig
    /// body, so a body there is refused rather than trusted to be ignored), beside one of at
    /// most [`IGNORED_BODY`] bytes, which the daemon never reads: it is dropped, not forwarded.
    pub empty_body: bool,
}

/// The longest start body the daemon ignores whatever its API version ("a non-nil JSON object
/// is at least 7 characters": `{}` and `null` are taken as no body; Ansible sends `{}`).
pub const IGNORED_BODY: u64 = 7;

const fn ep(
    name: &'static str,
    method: &'static str,
    pattern: &'static str,
    section: Section,
    access: Access,
) -> Endpoint {
    Endpoint {
        name,
        method,
        pattern,
        section,
        access,
        body: None,
        upgrade: false,
        empty_body: false,
    }
}

const fn inspect(mut e: Endpoint, kind: BodyKind) -> Endpoint {
    e.body = Some(kind);
    e
}

const fn upgrade(mut e: Endpoint) -> Endpoint {
    e.upgrade = true;
    e
}

const fn empty(mut e: Endpoint) -> Endpoint {
    e.empty_body = true;
    e
}

use Access::*;
use Section as S;

const STOP_GATES: &[Gate] = &[Gate::Stop, Gate::Restarts];
const RESTART_GATES: &[Gate] = &[Gate::Restarts];
const START_GATES: &[Gate] = &[Gate::Start];
const PAUSE_GATES: &[Gate] = &[Gate::Pause];
const UNPAUSE_GATES: &[Gate] = &[Gate::Unpause];

/// The endpoint table, in the daemon's routing order.
pub static ENDPOINTS: &[Endpoint] = &[
    // system
    ep("ping", "GET", "/_ping", S::Ping, Read),
    ep("ping", "HEAD", "/_ping", S::Ping, Read),
    ep("version", "GET", "/version", S::Version, Read),
    ep("info", "GET", "/info", S::Info, Read),
    ep("events", "GET", "/events", S::Events, Read),
    ep("system.df", "GET", "/system/df", S::System, Read),
    ep("auth", "POST", "/auth", S::Auth, Write),
    // containers
    ep(
        "container.list",
        "GET",
        "/containers/json",
        S::Containers,
        Read,
    ),
    ep(
        "container.export",
        "GET",
        "/containers/{id}/export",
        S::Containers,
        Content(Gate::Export),
    ),
    ep(
        "container.changes",
        "GET",
        "/containers/{id}/changes",
        S::Containers,
        Read,
    ),
    ep(
        "container.inspect",
        "GET",
        "/containers/{id}/json",
        S::Containers,
        Read,
    ),
    ep(
        "container.top",
        "GET",
        "/containers/{id}/top",
        S::Containers,
        Read,
    ),
    ep(
        "container.logs",
        "GET",
        "/containers/{id}/logs",
        S::Containers,
        Content(Gate::Logs),
    ),
    ep(
        "container.stats",
        "GET",
        "/containers/{id}/stats",
        S::Containers,
        Read,
    ),
    upgrade(ep(
        "container.attach.ws",
        "GET",
        "/containers/{id}/attach/ws",
        S::Containers,
        Attach,
    )),
    ep("exec.inspect", "GET", "/exec/{id}/json", S::Exec, Read),
    ep(
        "container.archive.get",
        "GET",
        "/containers/{id}/archive",
        S::Containers,
        Content(Gate::Archive),
    ),
    ep(
        "container.archive.stat",
        "HEAD",
        "/containers/{id}/archive",
        S::Containers,
        Content(Gate::Archive),
    ),
    inspect(
        ep(
            "container.create",
            "POST",
            "/containers/create",
            S::Containers,
            Write,
        ),
        BodyKind::ContainerCreate,
    ),
    ep(
        "container.kill",
        "POST",
        "/containers/{id}/kill",
        S::Containers,
        Lifecycle(RESTART_GATES),
    ),
    ep(
        "container.pause",
        "POST",
        "/containers/{id}/pause",
        S::Containers,
        Lifecycle(PAUSE_GATES),
    ),
    ep(
        "container.unpause",
        "POST",
        "/containers/{id}/unpause",
        S::Containers,
        Lifecycle(UNPAUSE_GATES),
    ),
    ep(
        "container.restart",
        "POST",
        "/containers/{id}/restart",
        S::Containers,
        Lifecycle(RESTART_GATES),
    ),
    empty(ep(
        "container.start",
        "POST",
        "/containers/{id}/start",
        S::Containers,
        Lifecycle(START_GATES),
    )),
    ep(
        "container.stop",
        "POST",
        "/containers/{id}/stop",
        S::Containers,
        Lifecycle(STOP_GATES),
    ),
    ep(
        "container.wait",
        "POST",
        "/containers/{id}/wait",
        S::Containers,
        Write,
    ),
    ep(
        "container.resize",
        "POST",
        "/containers/{id}/resize",
        S::Containers,
        Write,
    ),
    upgrade(ep(
        "container.attach",
        "POST",
        "/containers/{id}/attach",
        S::Containers,
        Attach,
    )),
    inspect(
        ep(
            "exec.create",
            "POST",
            "/containers/{id}/exec",
            S::Containers,
            ExecCreate,
        ),
        BodyKind::ExecCreate,
    ),
    upgrade(ep(
        "exec.start",
        "POST",
        "/exec/{id}/start",
        S::Exec,
        ExecRun,
    )),
    ep("exec.resize", "POST", "/exec/{id}/resize", S::Exec, ExecRun),
    ep(
        "container.rename",
        "POST",
        "/containers/{id}/rename",
        S::Containers,
        Write,
    ),
    inspect(
        ep(
            "container.update",
            "POST",
            "/containers/{id}/update",
            S::Containers,
            Write,
        ),
        BodyKind::ContainerUpdate,
    ),
    ep(
        "container.prune",
        "POST",
        "/containers/prune",
        S::Containers,
        Write,
    ),
    ep(
        "container.archive.put",
        "PUT",
        "/containers/{id}/archive",
        S::Containers,
        WriteContent(Gate::Archive),
    ),
    ep(
        "container.delete",
        "DELETE",
        "/containers/{id}",
        S::Containers,
        Write,
    ),
    // images
    ep("image.list", "GET", "/images/json", S::Images, Read),
    ep("image.search", "GET", "/images/search", S::Images, Read),
    ep(
        "image.get",
        "GET",
        "/images/get",
        S::Images,
        Content(Gate::Export),
    ),
    ep(
        "image.get",
        "GET",
        "/images/{name*}/get",
        S::Images,
        Content(Gate::Export),
    ),
    ep(
        "image.history",
        "GET",
        "/images/{name*}/history",
        S::Images,
        Read,
    ),
    ep(
        "image.inspect",
        "GET",
        "/images/{name*}/json",
        S::Images,
        Read,
    ),
    ep("commit", "POST", "/commit", S::Commit, Write),
    ep("image.load", "POST", "/images/load", S::Images, Write),
    ep("image.create", "POST", "/images/create", S::Images, Write),
    ep(
        "image.push",
        "POST",
        "/images/{name*}/push",
        S::Images,
        Write,
    ),
    ep("image.tag", "POST", "/images/{name*}/tag", S::Images, Write),
    ep("image.prune", "POST", "/images/prune", S::Images, Write),
    ep(
        "image.delete",
        "DELETE",
        "/images/{name*}",
        S::Images,
        Write,
    ),
    // build, session, grpc, distribution
    ep("build", "POST", "/build", S::Build, Write),
    ep("build.prune", "POST", "/build/prune", S::Build, Write),
    ep("build.cancel", "POST", "/build/cancel", S::Build, Write),
    upgrade(ep("session", "POST", "/session", S::Session, Write)),
    upgrade(ep("grpc", "POST", "/grpc", S::Grpc, Write)),
    ep(
        "distribution.inspect",
        "GET",
        "/distribution/{name*}/json",
        S::Distribution,
        Read,
    ),
    // volumes
    ep("volume.list", "GET", "/volumes", S::Volumes, Read),
    ep("volume.inspect", "GET", "/volumes/{id}", S::Volumes, Read),
    inspect(
        ep(
            "volume.create",
            "POST",
            "/volumes/create",
            S::Volumes,
            Write,
        ),
        BodyKind::VolumeCreate,
    ),
    ep("volume.prune", "POST", "/volumes/prune", S::Volumes, Write),
    ep("volume.update", "PUT", "/volumes/{id}", S::Volumes, Write),
    ep(
        "volume.delete",
        "DELETE",
        "/volumes/{id}",
        S::Volumes,
        Write,
    ),
    // networks
    ep("network.list", "GET", "/networks", S::Networks, Read),
    ep("network.list", "GET", "/networks/", S::Networks, Read),
    ep(
        "network.inspect",
        "GET",
        "/networks/{id}",
        S::Networks,
        Read,
    ),
    ep(
        "network.create",
        "POST",
        "/networks/create",
        S::Networks,
        Write,
    ),
    ep(
        "network.connect",
        "POST",
        "/networks/{id}/connect",
        S::Networks,
        Write,
    ),
    ep(
        "network.disconnect",
        "POST",
        "/networks/{id}/disconnect",
        S::Networks,
        Write,
    ),
    ep(
        "network.prune",
        "POST",
        "/networks/prune",
        S::Networks,
        Write,
    ),
    ep(
        "network.delete",
        "DELETE",
        "/networks/{id}",
        S::Networks,
        Write,
    ),
    // plugins
    ep("plugin.list", "GET", "/plugins", S::Plugins, Read),
    ep(
        "plugin.privileges",
        "GET",
        "/plugins/privileges",
        S::Plugins,
        Read,
    ),
    ep(
        "plugin.inspect",
        "GET",
        "/plugins/{name*}/json",
        S::Plugins,
        Read,
    ),
    ep(
        "plugin.delete",
        "DELETE",
        "/plugins/{name*}",
        S::Plugins,
        Write,
    ),
    ep(
        "plugin.enable",
        "POST",
        "/plugins/{name*}/enable",
        S::Plugins,
        Write,
    ),
    ep(
        "plugin.disable",
        "POST",
        "/plugins/{name*}/disable",
        S::Plugins,
        Write,
    ),
    ep("plugin.pull", "POST", "/plugins/pull", S::Plugins, Write),
    ep(
        "plugin.push",
        "POST",
        "/plugins/{name*}/push",
        S::Plugins,
        Write,
    ),
    ep(
        "plugin.upgrade",
        "POST",
        "/plugins/{name*}/upgrade",
        S::Plugins,
        Write,
    ),
    ep(
        "plugin.set",
        "POST",
        "/plugins/{name*}/set",
        S::Plugins,
        Write,
    ),
    ep(
        "plugin.create",
        "POST",
        "/plugins/create",
        S::Plugins,
        Write,
    ),
    // swarm
    ep("swarm.inspect", "GET", "/swarm", S::Swarm, Read),
    ep(
        "swarm.unlockkey",
        "GET",
        "/swarm/unlockkey",
        S::Swarm,
        Never,
    ),
    ep("swarm.init", "POST", "/swarm/init", S::Swarm, Write),
    ep("swarm.join", "POST", "/swarm/join", S::Swarm, Write),
    ep("swarm.leave", "POST", "/swarm/leave", S::Swarm, Write),
    ep("swarm.update", "POST", "/swarm/update", S::Swarm, Write),
    ep("swarm.unlock", "POST", "/swarm/unlock", S::Swarm, Write),
    ep("service.list", "GET", "/services", S::Services, Read),
    ep(
        "service.inspect",
        "GET",
        "/services/{id}",
        S::Services,
        Read,
    ),
    ep(
        "service.logs",
        "GET",
        "/services/{id}/logs",
        S::Services,
        Content(Gate::Logs),
    ),
    inspect(
        ep(
            "service.create",
            "POST",
            "/services/create",
            S::Services,
            Write,
        ),
        BodyKind::ServiceCreate,
    ),
    inspect(
        ep(
            "service.update",
            "POST",
            "/services/{id}/update",
            S::Services,
            Write,
        ),
        BodyKind::ServiceUpdate,
    ),
    ep(
        "service.delete",
        "DELETE",
        "/services/{id}",
        S::Services,
        Write,
    ),
    ep("node.list", "GET", "/nodes", S::Nodes, Read),
    ep("node.inspect", "GET", "/nodes/{id}", S::Nodes, Read),
    ep("node.delete", "DELETE", "/nodes/{id}", S::Nodes, Write),
    ep("node.update", "POST", "/nodes/{id}/update", S::Nodes, Write),
    ep("task.list", "GET", "/tasks", S::Tasks, Read),
    ep("task.inspect", "GET", "/tasks/{id}", S::Tasks, Read),
    ep(
        "task.logs",
        "GET",
        "/tasks/{id}/logs",
        S::Tasks,
        Content(Gate::Logs),
    ),
    ep("secret.list", "GET", "/secrets", S::Secrets, Read),
    ep("secret.inspect", "GET", "/secrets/{id}", S::Secrets, Read),
    ep(
        "secret.create",
        "POST",
        "/secrets/create",
        S::Secrets,
        Write,
    ),
    ep(
        "secret.update",
        "POST",
        "/secrets/{id}/update",
        S::Secrets,
        Write,
    ),
    ep(
        "secret.delete",
        "DELETE",
        "/secrets/{id}",
        S::Secrets,
        Write,
    ),
    ep("config.list", "GET", "/configs", S::Configs, Read),
    ep("config.inspect", "GET", "/configs/{id}", S::Configs, Read),
    ep(
        "config.create",
        "POST",
        "/configs/create",
        S::Configs,
        Write,
    ),
    ep(
        "config.update",
        "POST",
        "/configs/{id}/update",
        S::Configs,
        Write,
    ),
    ep(
        "config.delete",
        "DELETE",
        "/configs/{id}",
        S::Configs,
        Write,
    ),
];

/// Finds the endpoint a request reaches: the first entry whose method and pattern match, with
/// HEAD matching a GET entry when no HEAD entry matched first.
pub fn lookup(method: &str, path: &str) -> Option<&'static Endpoint> {
    let segs: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
    let by_method = |m: &str| {
        ENDPOINTS
            .iter()
            .find(|e| e.method == m && pattern_matches(e.pattern, &segs))
    };
    match method {
        "HEAD" => by_method("HEAD").or_else(|| by_method("GET")),
        m => by_method(m),
    }
}

/// Matches pattern segments against path segments. `{id}` is one non-empty segment,
/// `{name*}` one or more; literals match exactly (routing is case-sensitive).
fn pattern_matches(pattern: &str, segs: &[&str]) -> bool {
    let pat: Vec<&str> = pattern[1..].split('/').collect();
    match pat.iter().position(|p| p.ends_with("*}")) {
        None => pat.len() == segs.len() && pat.iter().zip(segs).all(|(p, s)| seg_matches(p, s)),
        Some(star) => {
            let (before, after) = (&pat[..star], &pat[star + 1..]);
            segs.len() > before.len() + after.len()
                && before.iter().zip(segs).all(|(p, s)| seg_matches(p, s))
                && after
                    .iter()
                    .zip(&segs[segs.len() - after.len()..])
                    .all(|(p, s)| seg_matches(p, s))
                && segs[star..segs.len() - after.len()]
                    .iter()
                    .all(|s| !s.is_empty())
        }
    }
}

fn seg_matches(pattern: &str, seg: &str) -> bool {
    if pattern.starts_with('{') {
        !seg.is_empty()
    } else {
        pattern == seg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(method: &str, path: &str) -> Option<&'static str> {
        lookup(method, path).map(|e| e.name)
    }

    #[test]
    fn finds_common_endpoints() {
        assert_eq!(name("GET", "/_ping"), Some("ping"));
        assert_eq!(name("HEAD", "/_ping"), Some("ping"));
        assert_eq!(name("GET", "/containers/json"), Some("container.list"));
        assert_eq!(
            name("GET", "/containers/abc/json"),
            Some("container.inspect")
        );
        assert_eq!(name("GET", "/containers/abc/logs"), Some("container.logs"));
        assert_eq!(
            name("HEAD", "/containers/abc/archive"),
            Some("container.archive.stat")
        );
        assert_eq!(
            name("HEAD", "/containers/abc/json"),
            Some("container.inspect")
        );
        assert_eq!(name("POST", "/containers/create"), Some("container.create"));
        assert_eq!(name("DELETE", "/containers/abc"), Some("container.delete"));
        assert_eq!(name("GET", "/networks/"), Some("network.list"));
    }

    #[test]
    fn image_names_span_segments_like_the_daemon() {
        assert_eq!(
            name("GET", "/images/library/alpine/json"),
            Some("image.inspect")
        );
        assert_eq!(
            name("GET", "/images/localhost:5000/a/b:1/get"),
            Some("image.get")
        );
        assert_eq!(name("GET", "/images/foo/get/json"), Some("image.inspect"));
        assert_eq!(name("GET", "/images/get"), Some("image.get"));
        assert_eq!(name("GET", "/images/json"), Some("image.list"));
        assert_eq!(name("DELETE", "/images/a/b"), Some("image.delete"));
    }

    #[test]
    fn unknown_forms_are_none() {
        assert_eq!(name("get", "/_ping"), None);
        assert_eq!(name("PATCH", "/containers/abc/json"), None);
        assert_eq!(name("GET", "/containers/a/b/json"), None);
        assert_eq!(name("GET", "/Containers/json"), None);
        assert_eq!(name("GET", "/"), None);
        assert_eq!(name("GET", "/containers/abc/copy"), None);
        assert_eq!(name("OPTIONS", "/_ping"), None);
    }

    #[test]
    fn every_pattern_is_well_formed() {
        for e in ENDPOINTS {
            assert!(e.pattern.starts_with('/'), "{}", e.pattern);
            let stars = e.pattern.matches("*}").count();
            assert!(stars <= 1, "{}", e.pattern);
            assert!(e.method.bytes().all(|b| b.is_ascii_uppercase()));
        }
    }
}
