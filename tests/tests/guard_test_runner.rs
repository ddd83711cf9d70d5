//! The `test-runner` preset with the real testcontainers (Python, from PyPI): a test starts
//! whoami in a throwaway container, reaches it on its mapped port and removes it, all through
//! socket-guard; the container it made carries the owner label; a container made on the daemon
//! directly is invisible to it (404) and survives its attempt to remove it; a privileged
//! container is refused.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use e2e::docker::{container_exists, ensure_test_image, require_docker, require_image, Cleanup};
use e2e::guard::Guard;

const PRESET: &str = include_str!("../../policies/presets/test-runner.env");

const SCRIPT: &str = r#"
import sys, urllib.request
import docker
from testcontainers.core.container import DockerContainer
with DockerContainer("whoami:local").with_exposed_ports(8080) as c:
    url = f"http://{c.get_container_host_ip()}:{c.get_exposed_port(8080)}/"
    body = urllib.request.urlopen(url, timeout=10).read().decode()
    labels = c.get_wrapped_container().labels
    print("served" if body.startswith("Hostname") else "bad body", labels.get("socket-guard.owner"), c.get_wrapped_container().name)
client = docker.from_env()
try:
    client.containers.get(sys.argv[1]).remove(force=True)
    print("removed the other")
except docker.errors.NotFound:
    print("the other is not found")
try:
    client.containers.create("whoami:local", privileged=True)
    print("privileged created")
except docker.errors.APIError as e:
    print("privileged refused", e.status_code)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn testcontainers_runs_its_own_containers_and_touches_nothing_else() {
    require_docker();
    require_image("whoami:local");
    ensure_test_image();
    let c = Cleanup::new("testrunner");
    let (other, _) = c.sleeper("other");
    let guard = Guard::builder().preset(PRESET).start().await;
    let out = Command::new("python3")
        .args(["-c", SCRIPT, &other])
        .env("DOCKER_HOST", format!("tcp://{}", guard.addr()))
        .env("TESTCONTAINERS_RYUK_DISABLED", "true")
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    let first: Vec<&str> = lines[0].split(' ').collect();
    assert_eq!(&first[..2], ["served", "test-runner"], "{stdout}");
    assert!(
        !container_exists(first[2]),
        "testcontainers left {}",
        first[2]
    );
    assert_eq!(lines[1], "the other is not found", "{stdout}");
    assert!(container_exists(&other), "the other container was removed");
    assert_eq!(lines[2], "privileged refused 403", "{stdout}");
}
