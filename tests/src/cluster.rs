//! A real three-node Swarm cluster on this machine ([`Cluster::up`]), built and removed by
//! `scripts/cluster.sh`: three dockerds in network, mount and UTS namespaces of their own,
//! joined over a bridge in a "switch" namespace. Node 1 is the manager, 2 and 3 are workers.
//! Dropping it removes everything (the host's daemon, links, namespaces and firewall are as
//! before: [`HostState`] checks it).

use std::path::PathBuf;
use std::process::{Command, Output};

use crate::docker::text;

/// The cluster's nodes (1 = the manager).
pub const NODES: usize = 3;

/// A running cluster, removed when dropped.
#[derive(Debug)]
pub struct Cluster {
    script: PathBuf,
    dir: PathBuf,
}

fn script() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scripts/cluster.sh"
    ))
}

/// Whether this process runs as root (`id -u` is 0).
fn runs_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| text(&o.stdout).trim() == "0")
}

impl Cluster {
    /// Brings the cluster up (idempotent) with `images` loaded on every node besides the
    /// stack's; panics, printing the nodes' logs, when it cannot.
    pub fn up(images: &[&str]) -> Cluster {
        assert!(
            runs_as_root(),
            "the cluster needs root (network namespaces, dockerd): run the tests as root"
        );
        for tool in ["ip", "nsenter", "unshare", "dockerd"] {
            assert!(
                Command::new("sh")
                    .args(["-c", &format!("command -v {tool}")])
                    .output()
                    .is_ok_and(|o| o.status.success()),
                "the cluster needs {tool}: run scripts/prereqs.sh test --install"
            );
        }
        let dir = PathBuf::from(
            std::env::var("CLUSTER_DIR").unwrap_or_else(|_| "/var/lib/sg-cluster".into()),
        );
        let mut all = vec!["socket-guard:local", "router:local", "whoami:local"];
        all.extend_from_slice(images);
        let out = Command::new(script())
            .arg("up")
            .env("CLUSTER_IMAGES", all.join(" "))
            .output()
            .expect("run scripts/cluster.sh");
        let cluster = Cluster {
            script: script(),
            dir,
        };
        assert!(
            out.status.success(),
            "scripts/cluster.sh up failed: {}{}\n{}",
            text(&out.stdout),
            text(&out.stderr),
            cluster.logs()
        );
        cluster
    }

    /// Worker `n` lost as a host is lost (`scripts/cluster.sh lose`): its daemon, containerd
    /// and tasks killed at once and its link cut, so that its addresses answer nothing.
    pub fn lose(&self, n: usize) {
        let out = Command::new(&self.script)
            .args(["lose", &n.to_string()])
            .env("CLUSTER_DIR", &self.dir)
            .output()
            .expect("run scripts/cluster.sh lose");
        assert!(
            out.status.success(),
            "scripts/cluster.sh lose {n}: {}",
            text(&out.stderr)
        );
    }

    /// The unix socket of node `n`'s daemon.
    pub fn socket(&self, n: usize) -> String {
        format!("unix://{}/n{n}/docker.sock", self.dir.display())
    }

    /// Node `n`'s address on the cluster's network.
    pub fn addr(n: usize) -> String {
        format!("192.168.213.{}", 10 + n)
    }

    /// Node `n`'s host name (as `docker node ls` shows it).
    pub fn hostname(n: usize) -> String {
        format!("sgc-node{n}")
    }

    /// The docker CLI on node `n`, with `env` added.
    pub fn docker_env(&self, n: usize, args: &[&str], env: &[(&str, &str)]) -> Output {
        Command::new("docker")
            .args(["-H", &self.socket(n)])
            .args(args)
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT")
            .envs(env.iter().copied())
            .output()
            .expect("run the docker CLI")
    }

    /// The docker CLI on node `n`; panics unless it succeeds; trimmed stdout.
    pub fn docker_ok(&self, n: usize, args: &[&str]) -> String {
        let out = self.docker_env(n, args, &[]);
        assert!(
            out.status.success(),
            "docker {args:?} on node {n}: {}",
            text(&out.stderr)
        );
        text(&out.stdout).trim().to_owned()
    }

    /// `GET https://host/` through node `n`'s published 443, from the switch namespace (as
    /// a client on the cluster's network): status and body (status 0 when nothing answered).
    pub fn https_get(n: usize, host: &str) -> (u16, String) {
        let out = Command::new("ip")
            .args(["netns", "exec", "sgc-sw", "curl", "-sk", "--max-time", "5"])
            .args(["--resolve", &format!("{host}:443:{}", Cluster::addr(n))])
            .args(["-w", "\n%{http_code}", &format!("https://{host}/")])
            .output()
            .expect("run curl in the switch namespace");
        let t = text(&out.stdout);
        let (body, code) = t.rsplit_once('\n').unwrap_or(("", &t));
        (code.trim().parse().unwrap_or(0), body.to_owned())
    }

    /// The end of each node's dockerd log, for a failure message.
    pub fn logs(&self) -> String {
        (1..=NODES)
            .map(|n| {
                let log = std::fs::read_to_string(self.dir.join(format!("n{n}/dockerd.log")))
                    .unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(15).collect();
                format!(
                    "--- node {n} dockerd.log (last lines)\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.logs());
        }
        let _ = Command::new(&self.script).arg("down").output();
    }
}

/// What the cluster must leave as it was on the host: the network namespaces, the cluster's
/// links and firewall rules (by its names and addresses), and the host daemon's swarm state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostState {
    netns: String,
    links: Vec<String>,
    iptables: Vec<String>,
    swarm: String,
}

impl HostState {
    /// The state now.
    pub fn now() -> HostState {
        let run = |cmd: &[&str]| {
            Command::new(cmd[0])
                .args(&cmd[1..])
                .output()
                .map(|o| text(&o.stdout))
                .unwrap_or_default()
        };
        // The cluster's own: its links are named `sgc*` and its rules name them or its
        // addresses. The host's daemon may add or drop its own links and rules meanwhile (a
        // container of an earlier test going away): they are not the cluster's doing.
        let links = run(&["ip", "-o", "link", "show"])
            .lines()
            .filter_map(|l| l.split(':').nth(1).map(|n| n.trim().to_owned()))
            .filter(|n| n.starts_with("sgc"))
            .collect();
        // Rules, not their packet counters.
        let iptables = run(&["iptables-save"])
            .lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with(':'))
            .filter(|l| l.contains("sgc") || l.contains("192.168.213.") || l.contains("172.31.2"))
            .map(str::to_owned)
            .collect();
        HostState {
            netns: run(&["ip", "netns", "list"]),
            links,
            iptables,
            swarm: run(&["docker", "info", "--format", "{{.Swarm.LocalNodeState}}"]),
        }
    }
}
