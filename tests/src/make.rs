//! Running the project's own `make` targets as a user would, with the published ports moved
//! to free ones (the stack and Swarm tests).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A TCP port free on loopback right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Runs `make <target>` at the repository root with `HTTP_PORT`/`HTTPS_PORT` and extra
/// variables, on the real Docker socket (no `DOCKER_HOST`).
///
/// Without the variables cargo sets for a test binary (`CARGO_MANIFEST_DIR`, `CARGO_PKG_*`,
/// ...): the build `make` runs would see them, and a dependency's build script that tracks one
/// (ring tracks `CARGO_MANIFEST_DIR`) would make cargo rebuild the release binaries and
/// everything above it, minutes of the test run each time.
pub fn make(target: &str, http: u16, https: u16, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new("make");
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        if set_for_tests(&k) {
            cmd.env_remove(&*k);
        }
    }
    cmd.arg(target)
        .current_dir(repo())
        .env("HTTP_PORT", http.to_string())
        .env("HTTPS_PORT", https.to_string())
        .envs(env.iter().copied())
        .env_remove("DOCKER_HOST")
        .output()
        .expect("make runs")
}

/// Whether cargo sets variable `k` for the test binary it runs (and not the user for cargo).
fn set_for_tests(k: &str) -> bool {
    k == "CARGO"
        || k == "OUT_DIR"
        || [
            "CARGO_PKG_",
            "CARGO_MANIFEST_",
            "CARGO_CRATE_",
            "CARGO_BIN_",
            "CARGO_PRIMARY_",
        ]
        .iter()
        .any(|p| k.starts_with(p))
        || k == "CARGO_TARGET_TMPDIR"
}

/// One HTTPS request to `host` through a published port on loopback (`curl -k`, 5 s):
/// `(status, body)`, status 0 when nothing answered.
pub fn https_get(port: u16, host: &str) -> (u16, String) {
    let out = Command::new("curl")
        .args([
            "-sk",
            "--max-time",
            "5",
            "-w",
            "\n%{http_code}",
            "--resolve",
            &format!("{host}:{port}:127.0.0.1"),
            &format!("https://{host}:{port}/"),
        ])
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

/// Waits (up to 10 s) until the networks of Swarm stack `stack` are gone: they go away
/// asynchronously after `docker stack rm`.
pub fn wait_stack_networks_gone(stack: &str) {
    for _ in 0..40 {
        let out = crate::docker::real_docker_ok(&[
            "network",
            "ls",
            "-q",
            "--filter",
            &format!("label=com.docker.stack.namespace={stack}"),
        ]);
        if out.trim().is_empty() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
}

/// What Swarm stack `stack` left after `make swarm-down`: its services (when this node is
/// still in a swarm; the swarm the test made is gone otherwise) and its networks, as
/// `(services, networks)`, each empty when nothing is left.
pub fn stack_leftovers(stack: &str) -> (String, String) {
    let label = format!("label=com.docker.stack.namespace={stack}");
    let state = crate::docker::real_docker_ok(&["info", "--format", "{{.Swarm.LocalNodeState}}"]);
    let services = if state.trim() == "active" {
        crate::docker::real_docker_ok(&["service", "ls", "-q", "--filter", &label])
    } else {
        String::new()
    };
    let networks = crate::docker::real_docker_ok(&["network", "ls", "-q", "--filter", &label]);
    (services.trim().to_owned(), networks.trim().to_owned())
}
