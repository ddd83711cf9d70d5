//! A controller's configuration in Traefik's KV layout, for any KV consumer (a Traefik with
//! `providers.etcd` or `providers.redis`, another router): the keys one publication writes.
//! Pure: a [`Message`] in, pairs out ([`crate::kv::write`] writes them, one transaction each).
//!
//! What is written, per provider of the message (the KV providers' own inputs are not: a
//! controller reading a store would write its own keys back):
//! - the file provider's trees as written, certificates and keys inlined as PEM (a consumer
//!   has none of the controller's files);
//! - for the Docker and Swarm providers, each router, service and middleware the provider
//!   built, from the labels that define it (the first container's, in name order), with what
//!   the provider computed written over them: a router's rule, service, entry points,
//!   middlewares and priority (a default rule is written out), a load balancer's servers (the
//!   running containers' addresses: `loadBalancer.server.*` labels become `servers`);
//! - the controller's ACME certificates, after the files' ones, in `tls/certificates`.
//!
//! Names are written unqualified (a consumer qualifies them with its own provider name), and
//! references to the providers written (`auth@file`, `api@docker`) lose their suffix; other
//! references (`api@internal`) stay. A name two providers define is written once, from the
//! first provider in name order (`docker`, `file`, `swarm`); the others are reported.

use std::collections::{BTreeMap, BTreeSet};

use super::wire::{self, Input, Message};
use crate::provider::container::ContainerInfo;
use crate::tree::{Node, Value};

/// The providers whose inputs are never written (they are read from a store).
pub const NOT_WRITTEN: [&str; 2] = ["etcd", "redis"];

/// The keys of one publication, and what could not be written.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Publication {
    /// Key -> value, keys under the root.
    pub pairs: BTreeMap<String, String>,
    /// Names defined twice, and other things left out.
    pub warnings: Vec<String>,
}

/// The pairs `m` makes under `root`.
pub fn publication(root: &str, m: &Message) -> Publication {
    let written: BTreeSet<String> = m
        .providers
        .keys()
        .filter(|p| !NOT_WRITTEN.contains(&p.as_str()))
        .cloned()
        .collect();
    let mut b = Builder {
        root: root.trim_matches('/').to_owned(),
        written: written.clone(),
        owners: BTreeMap::new(),
        certificates: 0,
        out: Publication::default(),
    };
    for name in &written {
        match &m.providers[name] {
            Input::Files { files } => {
                for f in files {
                    b.add_tree(name, &f.root);
                }
            }
            input @ Input::Containers { settings, view } => {
                b.add_containers(name, input, &settings.prefix, view);
            }
        }
    }
    for pair in m.acme.certificates.values() {
        b.certificate(&pair.cert, &pair.key);
    }
    b.out
}

struct Builder {
    root: String,
    written: BTreeSet<String>,
    /// (section, kind, lowercased name) -> the provider that wrote it.
    owners: BTreeMap<(String, String, String), String>,
    certificates: usize,
    out: Publication,
}

impl Builder {
    /// A file tree: each named element of `http`, `tcp`, `udp` and `tls`, and its certificates.
    fn add_tree(&mut self, provider: &str, root: &Node) {
        for section in root.children() {
            let s = section.name.to_ascii_lowercase();
            if !crate::provider::kv::SECTIONS.contains(&s.as_str()) {
                continue;
            }
            for kind in section.children() {
                if s == "tls" && kind.name.eq_ignore_ascii_case("certificates") {
                    for c in kind.children() {
                        let text = |k: &str| c.get(k).and_then(|n| n.text().ok()).unwrap_or("");
                        let (cert, key) = (text("certFile").to_owned(), text("keyFile").to_owned());
                        self.certificate(&cert, &key);
                    }
                    continue;
                }
                for element in kind.children() {
                    self.element(provider, &s, &kind.name, &element.name, element);
                }
            }
        }
    }

    /// One named element, unless another provider wrote the name first.
    fn element(&mut self, provider: &str, section: &str, kind: &str, name: &str, node: &Node) {
        let owner = (
            section.to_owned(),
            kind.to_ascii_lowercase(),
            name.to_ascii_lowercase(),
        );
        if let Some(first) = self.owners.get(&owner) {
            if first != provider {
                self.out.warnings.push(format!(
                    "{section}.{kind}.{name}: defined by {first} and {provider}; {provider}'s is not written"
                ));
            }
            return;
        }
        self.owners.insert(owner, provider.to_owned());
        let path = format!("{}/{section}/{kind}/{name}", self.root);
        flatten(node, &path, &self.written, &mut self.out.pairs);
    }

    fn certificate(&mut self, cert: &str, key: &str) {
        let path = format!("{}/tls/certificates/{}", self.root, self.certificates);
        self.out
            .pairs
            .insert(format!("{path}/certFile"), cert.to_owned());
        self.out
            .pairs
            .insert(format!("{path}/keyFile"), key.to_owned());
        self.certificates += 1;
    }

    /// A container provider: what it built, over the labels that define it.
    fn add_containers(
        &mut self,
        provider: &str,
        input: &Input,
        prefix: &str,
        view: &[ContainerInfo],
    ) {
        let snap = match wire::snapshot(provider, input) {
            Ok(s) => s,
            Err(e) => {
                self.out.warnings.push(format!("{provider}: {e}"));
                return;
            }
        };
        let labels = Labels::of(view, prefix);
        self.http_built(provider, &snap.config.http, &labels);
        self.tcp_built(provider, &snap.config.tcp, &labels);
        self.udp_built(provider, &snap.config.udp, &labels);
    }

    fn http_built(&mut self, provider: &str, c: &crate::dynamic::Http, labels: &Labels) {
        for (name, r) in &c.routers {
            let mut n = labels.get("http", "routers", name);
            set(&mut n, "rule", leaf(&r.rule));
            set(&mut n, "service", leaf(&r.service));
            set_list(&mut n, "entryPoints", &r.entry_points);
            set_list(&mut n, "middlewares", &r.middlewares);
            if r.priority != 0 {
                set(&mut n, "priority", leaf(&r.priority.to_string()));
            }
            self.element(provider, "http", "routers", name, &n);
        }
        for (name, s) in &c.services {
            let mut n = labels.get("http", "services", name);
            if !s.load_balancer.is_unset() {
                // Running containers only: a consumer routes to what can answer.
                let servers = s
                    .load_balancer
                    .servers
                    .iter()
                    .filter(|sv| sv.status == crate::dynamic::ServerStatus::Ready)
                    .map(|sv| {
                        let weight = (sv.weight != 1).then(|| sv.weight.to_string());
                        server(&[("url", Some(sv.url.clone())), ("weight", weight)])
                    })
                    .collect();
                let lb = servers_of(&mut n, servers);
                if lb.children().is_empty() {
                    let pass = s.load_balancer.pass_host_header.to_string();
                    set(lb, "passHostHeader", leaf(&pass));
                }
            }
            self.element(provider, "http", "services", name, &n);
        }
        for name in c.middlewares.keys() {
            let n = labels.get("http", "middlewares", name);
            self.element(provider, "http", "middlewares", name, &n);
        }
    }

    fn tcp_built(&mut self, provider: &str, c: &crate::dynamic::tcp::Tcp, labels: &Labels) {
        for (name, r) in &c.routers {
            let mut n = labels.get("tcp", "routers", name);
            set(&mut n, "rule", leaf(&r.rule));
            set(&mut n, "service", leaf(&r.service));
            set_list(&mut n, "entryPoints", &r.entry_points);
            self.element(provider, "tcp", "routers", name, &n);
        }
        for (name, s) in &c.services {
            let mut n = labels.get("tcp", "services", name);
            if let crate::dynamic::tcp::TcpService::LoadBalancer(lb) = s {
                let servers = lb
                    .servers
                    .iter()
                    .map(|sv| {
                        let tls = sv.tls.then(|| "true".to_owned());
                        server(&[("address", Some(sv.address.clone())), ("tls", tls)])
                    })
                    .collect();
                servers_of(&mut n, servers);
            }
            self.element(provider, "tcp", "services", name, &n);
        }
        for name in c.middlewares.keys() {
            let n = labels.get("tcp", "middlewares", name);
            self.element(provider, "tcp", "middlewares", name, &n);
        }
    }

    fn udp_built(&mut self, provider: &str, c: &crate::dynamic::udp::Udp, labels: &Labels) {
        for (name, r) in &c.routers {
            let mut n = labels.get("udp", "routers", name);
            set(&mut n, "service", leaf(&r.service));
            set_list(&mut n, "entryPoints", &r.entry_points);
            self.element(provider, "udp", "routers", name, &n);
        }
        for (name, s) in &c.services {
            let mut n = labels.get("udp", "services", name);
            if let crate::dynamic::udp::UdpService::LoadBalancer(addrs) = s {
                let servers = addrs
                    .iter()
                    .map(|a| server(&[("address", Some(a.clone()))]))
                    .collect();
                servers_of(&mut n, servers);
            }
            self.element(provider, "udp", "services", name, &n);
        }
    }
}

/// Each element's labels: the first container's (in name order) that defines it, by
/// (section, kind, name), lower case.
struct Labels(BTreeMap<(String, String, String), Node>);

impl Labels {
    fn of(view: &[ContainerInfo], prefix: &str) -> Labels {
        let mut view: Vec<&ContainerInfo> = view.iter().collect();
        view.sort_by(|a, b| a.name.cmp(&b.name));
        let mut defined = BTreeMap::new();
        for c in view {
            let tree = crate::provider::container::label_tree(&c.labels, prefix).0;
            for section in tree.children() {
                for kind in section.children() {
                    for element in kind.children() {
                        let key = (
                            section.name.to_ascii_lowercase(),
                            kind.name.to_ascii_lowercase(),
                            element.name.to_ascii_lowercase(),
                        );
                        defined.entry(key).or_insert_with(|| element.clone());
                    }
                }
            }
        }
        Labels(defined)
    }

    /// The element's labels (an empty section when none define it).
    fn get(&self, section: &str, kind: &str, name: &str) -> Node {
        self.0
            .get(&(
                section.to_owned(),
                kind.to_ascii_lowercase(),
                name.to_ascii_lowercase(),
            ))
            .cloned()
            .unwrap_or_else(|| Node::root(name))
    }
}

/// A server's section: the fields that have a value.
fn server(fields: &[(&str, Option<String>)]) -> Node {
    let mut m = Node::root("");
    for (k, v) in fields {
        if let Some(v) = v {
            set(&mut m, k, leaf(v));
        }
    }
    m
}

/// Writes `servers` as the service's `loadBalancer.servers` in place of the labels'
/// `loadBalancer.server` (none: no key); returns the load balancer's section.
fn servers_of(service: &mut Node, servers: Vec<Node>) -> &mut Node {
    let lb = child(service, "loadBalancer");
    remove(lb, "server");
    if !servers.is_empty() {
        set(lb, "servers", list(servers));
    }
    lb
}

fn leaf(v: &str) -> Value {
    Value::Leaf(v.to_owned())
}

fn list(items: Vec<Node>) -> Value {
    Value::List(items)
}

/// The children of a map node (a leaf `true`, an empty section, becomes an empty map).
fn children(n: &mut Node) -> &mut Vec<Node> {
    if !matches!(n.value, Value::Map(_)) {
        n.value = Value::Map(Vec::new());
    }
    match &mut n.value {
        Value::Map(c) => c,
        _ => unreachable!("made a map above"),
    }
}

fn remove(n: &mut Node, name: &str) {
    children(n).retain(|c| !c.name.eq_ignore_ascii_case(name));
}

/// Sets `name` (replacing it in any case) to `value`.
fn set(n: &mut Node, name: &str, value: Value) {
    remove(n, name);
    children(n).push(Node {
        name: name.to_owned(),
        key: String::new(),
        value,
    });
}

/// Sets a list of names, unless it is empty (then the labels' value, if any, stays).
fn set_list(n: &mut Node, name: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    let nodes = items
        .iter()
        .map(|i| Node {
            name: String::new(),
            key: String::new(),
            value: leaf(i),
        })
        .collect();
    set(n, name, list(nodes));
}

/// The child `name` (any case), made when missing.
fn child<'a>(n: &'a mut Node, name: &str) -> &'a mut Node {
    let c = children(n);
    let i = match c.iter().position(|x| x.name.eq_ignore_ascii_case(name)) {
        Some(i) => i,
        None => {
            let mut made = Node::root(name);
            made.name = name.to_owned();
            c.push(made);
            c.len() - 1
        }
    };
    &mut c[i]
}

/// Writes `node`'s leaves under `path`: a map's children by name, a list's by index; an empty
/// section is `true` (as a label says it).
fn flatten(
    node: &Node,
    path: &str,
    written: &BTreeSet<String>,
    out: &mut BTreeMap<String, String>,
) {
    match &node.value {
        Value::Leaf(v) => {
            out.insert(path.to_owned(), unqualify(v, written));
        }
        Value::Map(c) if c.is_empty() => {
            out.insert(path.to_owned(), "true".to_owned());
        }
        Value::Map(c) => {
            for ch in c {
                flatten(ch, &format!("{path}/{}", ch.name), written, out);
            }
        }
        Value::List(c) => {
            for (i, ch) in c.iter().enumerate() {
                flatten(ch, &format!("{path}/{i}"), written, out);
            }
        }
    }
}

/// A value with references to the written providers unqualified: `auth@file` -> `auth`, in
/// each item of a comma-separated list.
fn unqualify(v: &str, written: &BTreeSet<String>) -> String {
    if !v.contains('@') {
        return v.to_owned();
    }
    v.split(',')
        .map(|part| match part.trim().rsplit_once('@') {
            Some((name, p))
                if written.contains(p)
                    && !name.is_empty()
                    && !name.contains(char::is_whitespace) =>
            {
                part.replacen(&format!("@{p}"), "", 1)
            }
            _ => part.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::wire::{Acme, File, Pair, Settings};
    use crate::provider::container::{Health, RunState};

    fn container(name: &str, ip: &str, labels: &[(&str, &str)]) -> ContainerInfo {
        ContainerInfo {
            id: format!("{name}-id"),
            name: name.to_owned(),
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            state: RunState::Running,
            health: Health::None,
            networks: [("net".to_owned(), Some(ip.parse().unwrap()))].into(),
            bindings: Default::default(),
            network_mode: "net".into(),
            exposed_ports: [80].into(),
        }
    }

    fn settings() -> Settings {
        Settings {
            prefix: "traefik".into(),
            exposed_by_default: false,
            default_network: Some("net".into()),
            own_networks: BTreeSet::new(),
            host_ip: "127.0.0.1".parse().unwrap(),
            use_bind_port_ip: false,
            default_rule: "Host(`{{ normalize .Name }}.test`)".into(),
            constraints: None,
        }
    }

    fn message(providers: Vec<(&str, Input)>) -> Message {
        Message {
            generation: 1,
            providers: providers
                .into_iter()
                .map(|(n, i)| (n.to_owned(), i))
                .collect(),
            acme: Acme::default(),
        }
    }

    #[test]
    fn containers_are_written_with_what_the_provider_computed() {
        let view = vec![
            container(
                "web",
                "10.0.0.2",
                &[
                    ("traefik.enable", "true"),
                    ("traefik.http.routers.web.middlewares", "auth@file,strip"),
                    ("traefik.http.services.web.loadbalancer.server.port", "8080"),
                    (
                        "traefik.http.middlewares.strip.stripprefix.prefixes",
                        "/a,/b",
                    ),
                ],
            ),
            container("plain", "10.0.0.3", &[("traefik.enable", "true")]),
        ];
        let file = Node::from_yaml(
            "http:\n  middlewares:\n    auth:\n      basicAuth:\n        users: [\"u:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=\"]\n",
            "",
        )
        .unwrap();
        let m = message(vec![
            (
                "docker",
                Input::Containers {
                    settings: settings(),
                    view,
                },
            ),
            (
                "file",
                Input::Files {
                    files: vec![File {
                        path: "/d.yml".into(),
                        root: file,
                    }],
                },
            ),
        ]);
        let p = publication("/traefik/", &m).pairs;
        let get = |k: &str| p.get(k).map(String::as_str);
        assert_eq!(
            get("traefik/http/routers/web/rule"),
            Some("Host(`web.test`)")
        );
        assert_eq!(get("traefik/http/routers/web/service"), Some("web"));
        assert_eq!(get("traefik/http/routers/web/middlewares/0"), Some("auth"));
        assert_eq!(get("traefik/http/routers/web/middlewares/1"), Some("strip"));
        assert_eq!(
            get("traefik/http/services/web/loadbalancer/servers/0/url"),
            Some("http://10.0.0.2:8080")
        );
        assert!(!p.keys().any(|k| k.contains("/server/")), "{p:#?}");
        assert_eq!(
            get("traefik/http/middlewares/strip/stripprefix/prefixes"),
            Some("/a,/b")
        );
        assert_eq!(
            get("traefik/http/routers/plain/rule"),
            Some("Host(`plain.test`)")
        );
        assert_eq!(
            get("traefik/http/middlewares/auth/basicAuth/users/0"),
            Some("u:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=")
        );

        // What was written reads back as the same routes.
        let pairs: Vec<(String, String)> = p.into_iter().collect();
        let snap = crate::provider::kv::snapshot("etcd", "traefik", &pairs);
        assert!(snap.issues.is_empty(), "{:?}", snap.issues);
        let r = &snap.config.http.routers["web"];
        assert_eq!(r.middlewares, ["auth", "strip"]);
        assert_eq!(
            snap.config.http.services["web"].load_balancer.servers[0].url,
            "http://10.0.0.2:8080"
        );
    }

    #[test]
    fn a_service_without_a_running_container_is_still_written() {
        let mut c = container("down", "10.0.0.9", &[("traefik.enable", "true")]);
        c.state = RunState::Stopped;
        c.networks = [("net".to_owned(), None)].into();
        let m = message(vec![(
            "docker",
            Input::Containers {
                settings: settings(),
                view: vec![c],
            },
        )]);
        let p = publication("traefik", &m).pairs;
        assert_eq!(
            p.get("traefik/http/routers/down/service")
                .map(String::as_str),
            Some("down")
        );
        assert!(
            p.keys()
                .any(|k| k.starts_with("traefik/http/services/down/")),
            "{p:#?}"
        );
        assert!(!p.keys().any(|k| k.contains("/servers/")), "{p:#?}");
        // Read back: the router and its service, with no server (503, not 404).
        let pairs: Vec<(String, String)> = p.into_iter().collect();
        let snap = crate::provider::kv::snapshot("etcd", "traefik", &pairs);
        assert!(snap.issues.is_empty(), "{:?}", snap.issues);
        assert!(snap.config.http.services["down"]
            .load_balancer
            .servers
            .is_empty());
        assert!(snap.config.http.routers.contains_key("down"));
    }

    #[test]
    fn a_name_two_providers_define_is_written_once_and_reported() {
        let tree = |rule: &str| Input::Files {
            files: vec![File {
                path: "/x.yml".into(),
                root: Node::from_yaml(
                    &format!(
                        "http:\n  routers:\n    same:\n      rule: {rule}\n      service: s\n"
                    ),
                    "",
                )
                .unwrap(),
            }],
        };
        let m = message(vec![
            ("file", tree("Path(`/a`)")),
            ("zfile", tree("Path(`/b`)")),
            ("etcd", tree("Path(`/c`)")),
        ]);
        let p = publication("traefik", &m);
        assert_eq!(
            p.pairs
                .get("traefik/http/routers/same/rule")
                .map(String::as_str),
            Some("Path(`/a`)")
        );
        assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
        assert!(p.warnings[0].contains("zfile"), "{:?}", p.warnings);
    }

    #[test]
    fn certificates_from_files_and_acme_are_written_as_pem() {
        let root = Node::from_yaml(
            "tls:\n  certificates:\n    - certFile: \"-----BEGIN CERTIFICATE-----\\nA\"\n      keyFile: \"-----BEGIN PRIVATE KEY-----\\nB\"\n  options:\n    modern:\n      minVersion: VersionTLS13\n",
            "",
        )
        .unwrap();
        let mut m = message(vec![(
            "file",
            Input::Files {
                files: vec![File {
                    path: "/t.yml".into(),
                    root,
                }],
            },
        )]);
        m.acme.certificates.insert(
            "a.test".into(),
            Pair {
                cert: "CERT".into(),
                key: "KEY".into(),
            },
        );
        let p = publication("traefik", &m).pairs;
        assert!(p["traefik/tls/certificates/0/certFile"].contains("CERTIFICATE"));
        assert_eq!(p["traefik/tls/certificates/1/certFile"], "CERT");
        assert_eq!(p["traefik/tls/certificates/1/keyFile"], "KEY");
        assert_eq!(p["traefik/tls/options/modern/minVersion"], "VersionTLS13");
    }

    #[test]
    fn only_references_to_written_providers_are_unqualified() {
        let w: BTreeSet<String> = ["docker".to_owned(), "file".to_owned()].into();
        assert_eq!(unqualify("a@file, b@internal,c", &w), "a, b@internal,c");
        assert_eq!(unqualify("me@example.org", &w), "me@example.org");
        assert_eq!(unqualify("x@docker", &w), "x");
    }
}
