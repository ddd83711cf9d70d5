//! What a controller sends its data planes: each provider's *inputs* (the containers or tasks
//! it saw with the settings it read them with, the parsed dynamic configuration files), not
//! its compiled output. A data plane runs the same pure functions on them
//! ([`snapshot`]) as the controller does, so what it serves is what the controller would
//! serve, with nothing lost in a translation. One message is one JSON line and always
//! carries every provider: a data plane that applies it has the controller's whole view.
//! Pure: no I/O.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::dynamic::Snapshot;
use crate::provider::constraints::Constraints;
use crate::provider::container::{self, ContainerInfo, ContainerSettings};
use crate::provider::file::{self, Parsed};
use crate::tree::Node;

/// The longest message a data plane reads (a controller with 10,000 containers sends a few
/// MiB).
pub const MAX_MESSAGE: usize = 256 << 20;

/// One publication: the controller's generation and every provider's inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Counts the controller's publications since it started.
    pub generation: u64,
    /// By provider name (`docker`, `swarm`, `file`).
    pub providers: BTreeMap<String, Input>,
    /// The controller's ACME certificates and pending challenges.
    #[serde(default)]
    pub acme: Acme,
}

/// What a controller's ACME resolver holds that data planes serve: its certificates, and the
/// answers to the challenges of its orders in progress (HTTP-01 tokens, TLS-ALPN-01
/// certificates), so that the CA may reach any data plane.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acme {
    /// By host.
    #[serde(default)]
    pub certificates: BTreeMap<String, Pair>,
    /// Key authorizations by HTTP-01 token.
    #[serde(default)]
    pub http01: BTreeMap<String, String>,
    /// TLS-ALPN-01 certificates by host.
    #[serde(default)]
    pub alpn: BTreeMap<String, Pair>,
}

/// A certificate chain and its key, PEM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pair {
    pub cert: String,
    pub key: String,
}

/// One provider's inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Input {
    /// The Docker or Swarm provider: what it saw and how it reads it.
    Containers {
        settings: Settings,
        view: Vec<ContainerInfo>,
    },
    /// The file provider: each file's parsed tree (file references in TLS sections carry
    /// their contents: a data plane has none of the controller's files).
    Files { files: Vec<File> },
}

/// [`ContainerSettings`] on the wire (constraints as written).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub prefix: String,
    pub exposed_by_default: bool,
    pub default_network: Option<String>,
    pub own_networks: BTreeSet<String>,
    pub host_ip: IpAddr,
    #[serde(default)]
    pub use_bind_port_ip: bool,
    pub default_rule: String,
    pub constraints: Option<String>,
}

impl From<&ContainerSettings> for Settings {
    fn from(s: &ContainerSettings) -> Settings {
        Settings {
            prefix: s.prefix.clone(),
            exposed_by_default: s.exposed_by_default,
            default_network: s.default_network.clone(),
            own_networks: s.own_networks.clone(),
            host_ip: s.host_ip,
            use_bind_port_ip: s.use_bind_port_ip,
            default_rule: s.default_rule.clone(),
            constraints: s.constraints.as_ref().map(|c| c.source().to_owned()),
        }
    }
}

/// One dynamic configuration file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct File {
    /// Its path on the controller (for reports).
    pub path: String,
    /// Its tree.
    pub root: Node,
}

/// The message as one line (no newline inside: JSON escapes them).
pub fn encode(m: &Message) -> String {
    let mut line = serde_json::to_string(m).unwrap_or_else(|_| "{}".into());
    line.push('\n');
    line
}

/// A line back into a message.
pub fn decode(line: &[u8]) -> Result<Message, String> {
    serde_json::from_slice(line).map_err(|e| format!("a message the controller sent: {e}"))
}

/// Provider `name`'s snapshot from its inputs, as the controller built its own. The file
/// provider's certificates are loaded by the caller (that is I/O).
pub fn snapshot(name: &str, input: &Input) -> Result<Snapshot, String> {
    match input {
        Input::Containers { settings, view } => {
            let constraints = settings
                .constraints
                .as_deref()
                .map(Constraints::parse)
                .transpose()
                .map_err(|e| format!("{name}: constraints: {e}"))?;
            let s = ContainerSettings {
                provider: name.to_owned(),
                prefix: settings.prefix.clone(),
                exposed_by_default: settings.exposed_by_default,
                default_network: settings.default_network.clone(),
                own_networks: settings.own_networks.clone(),
                host_ip: settings.host_ip,
                use_bind_port_ip: settings.use_bind_port_ip,
                default_rule: settings.default_rule.clone(),
                constraints,
            };
            Ok(container::snapshot(view, &s))
        }
        Input::Files { files } => {
            let parsed: Vec<Parsed> = files
                .iter()
                .map(|f| Parsed {
                    path: f.path.clone().into(),
                    root: f.root.clone(),
                })
                .collect();
            let mut snap = file::snapshot(&parsed);
            snap.provider = name.to_owned();
            Ok(snap)
        }
    }
}

/// The keys of a dynamic configuration file whose values name files (certificates, keys,
/// CAs): the controller sends their contents.
pub fn names_a_file(key_path: &[&str]) -> bool {
    let Some(last) = key_path.last() else {
        return false;
    };
    let in_tls = key_path.iter().any(|k| k.eq_ignore_ascii_case("tls"));
    let transport = key_path
        .iter()
        .any(|k| k.eq_ignore_ascii_case("serversTransports"));
    let last = last.to_ascii_lowercase();
    let under = |name: &str| {
        key_path
            .iter()
            .rev()
            .skip(1)
            .any(|k| k.eq_ignore_ascii_case(name))
    };
    match last.as_str() {
        "certfile" | "keyfile" => in_tls || transport,
        "ca" | "cert" | "key" => in_tls && !under("options") && !under("stores"),
        _ => {
            // A list item: `[0]` under `rootCAs` or `caFiles`.
            last.starts_with('[') && (under("rootCAs") || under("caFiles"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::container::{Health, RunState};

    fn settings() -> ContainerSettings {
        ContainerSettings {
            provider: "docker".into(),
            prefix: "traefik".into(),
            exposed_by_default: false,
            default_network: Some("web".into()),
            own_networks: ["web".to_owned()].into(),
            host_ip: [127, 0, 0, 1].into(),
            use_bind_port_ip: false,
            default_rule: crate::config::DEFAULT_RULE.into(),
            constraints: Some(Constraints::parse("Label(`team`, `a`)").unwrap()),
        }
    }

    fn container(name: &str, team: &str, health: Health) -> ContainerInfo {
        ContainerInfo {
            id: format!("{name}-id"),
            name: name.into(),
            labels: [
                ("traefik.enable", "true"),
                ("team", team),
                ("traefik.http.routers.r.rule", "Host(`a.test`)"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
            state: RunState::Running,
            health,
            networks: [("web".to_owned(), Some([10, 0, 0, 2].into()))].into(),
            bindings: Default::default(),
            network_mode: "web".into(),
            exposed_ports: [8080].into(),
        }
    }

    #[test]
    fn a_data_plane_builds_what_the_controller_built() {
        let view = vec![
            container("a", "a", Health::Healthy),
            container("b", "b", Health::None),
            container("c", "a", Health::Starting),
        ];
        let s = settings();
        let m = Message {
            generation: 7,
            acme: Acme::default(),
            providers: [(
                "docker".to_owned(),
                Input::Containers {
                    settings: (&s).into(),
                    view: view.clone(),
                },
            )]
            .into(),
        };
        let line = encode(&m);
        assert_eq!(line.matches('\n').count(), 1, "one line");
        let back = decode(line.as_bytes()).unwrap();
        assert_eq!(back, m);
        let there = snapshot("docker", &back.providers["docker"]).unwrap();
        assert_eq!(there, container::snapshot(&view, &s));
        assert!(decode(b"{\"generation\": 1}").is_err());
    }

    #[test]
    fn files_travel_as_trees() {
        let yaml = "http:\n  routers:\n    r:\n      rule: Host(`x.test`)\n      service: s\n  services:\n    s:\n      loadBalancer:\n        servers:\n          - url: http://10.0.0.1:80\n";
        let root = Node::from_yaml(yaml, "").unwrap();
        let parsed = Parsed {
            path: "/etc/dyn.yaml".into(),
            root: root.clone(),
        };
        let input = Input::Files {
            files: vec![File {
                path: "/etc/dyn.yaml".into(),
                root,
            }],
        };
        let back = decode(
            encode(&Message {
                generation: 1,
                providers: [("file".to_owned(), input)].into(),
                acme: Acme::default(),
            })
            .as_bytes(),
        )
        .unwrap();
        let there = snapshot("file", &back.providers["file"]).unwrap();
        assert_eq!(there, file::snapshot(&[parsed]));
    }

    #[test]
    fn the_keys_that_name_files() {
        for (path, yes) in [
            (&["", "tls", "certificates", "[0]", "certFile"][..], true),
            (
                &[
                    "",
                    "tls",
                    "stores",
                    "default",
                    "defaultCertificate",
                    "keyFile",
                ],
                true,
            ),
            (
                &["", "tls", "options", "o", "clientAuth", "caFiles", "[1]"],
                true,
            ),
            (
                &["", "http", "serversTransports", "t", "rootCAs", "[0]"],
                true,
            ),
            (
                &[
                    "",
                    "http",
                    "serversTransports",
                    "t",
                    "certificates",
                    "[0]",
                    "certFile",
                ],
                true,
            ),
            (
                &["", "http", "middlewares", "m", "forwardAuth", "tls", "ca"],
                true,
            ),
            (
                &["", "http", "middlewares", "m", "forwardAuth", "tls", "key"],
                true,
            ),
            (&["", "http", "routers", "r", "tls", "certResolver"], false),
            (
                &[
                    "",
                    "http",
                    "middlewares",
                    "m",
                    "headers",
                    "customRequestHeaders",
                    "key",
                ],
                false,
            ),
            (&["", "http", "routers", "r", "rule"], false),
            (&["", "tls", "options", "o", "minVersion"], false),
        ] {
            assert_eq!(names_a_file(path), yes, "{path:?}");
        }
    }
}
