//! Cluster mode on Swarm, as a user runs it: `make swarm-cluster-up` deploys
//! swarm.cluster.yaml on a single-node swarm made by the test (the data plane then runs on the
//! manager: there is no worker). whoami's replicas are served through the data plane, which has
//! no `DOCKER_HOST`, no network shared with the guard and only its own secrets; the controller
//! publishes no port; the controller's task replaced, the data plane keeps serving, and a
//! scale-up made after is picked up. `make swarm-cluster-down` leaves no service or network.
//! Across real nodes (the controller on the manager, a data plane per worker):
//! `tests/tests/swarm_cluster.rs`.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use e2e::docker::{real_docker_ok, require_docker};
use e2e::make::free_port;

const STACK: &str = "edgeclustermode";

fn make(target: &str, http: u16, https: u16, tls: &str) -> std::process::Output {
    e2e::make::make(
        target,
        http,
        https,
        &[
            ("STACK_NAME", STACK),
            ("ROUTER_SWARM_REFRESH", "2s"),
            ("CLUSTER_TLS_DIR", tls),
        ],
    )
}

/// Takes the stack down (and the swarm, if make created it) when dropped.
struct Down(u16, u16, String);

impl Drop for Down {
    fn drop(&mut self) {
        let _ = make("swarm-cluster-down", self.0, self.1, &self.2);
        e2e::make::wait_stack_networks_gone(STACK);
    }
}

fn get(https: u16, host: &str) -> (u16, String) {
    e2e::make::https_get(https, host)
}

fn hostnames(https: u16, n: usize) -> BTreeSet<String> {
    (0..n)
        .filter_map(|_| {
            let (status, body) = get(https, "whoami.localhost");
            (status == 200).then(|| body.lines().next().unwrap_or("").to_owned())
        })
        .collect()
}

fn wait_for(bound: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < bound {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

fn inspect(what: &str, format: &str) -> serde_json::Value {
    let out = real_docker_ok(&["inspect", "--format", format, what]);
    serde_json::from_str(out.trim()).unwrap_or(serde_json::Value::Null)
}

#[test]
fn make_swarm_cluster_up_runs_cluster_mode_on_swarm() {
    require_docker();
    let (http, https) = (free_port(), free_port());
    let tls = tempfile::tempdir().unwrap();
    let tls_dir = tls.path().display().to_string();
    let down = Down(http, https, tls_dir.clone());
    let up = make("swarm-cluster-up", http, https, &tls_dir);
    assert!(
        up.status.success(),
        "make swarm-cluster-up failed:\n{}\n{}",
        String::from_utf8_lossy(&up.stdout),
        String::from_utf8_lossy(&up.stderr)
    );
    assert!(
        wait_for(Duration::from_secs(120), || hostnames(https, 12).len() == 2),
        "the two replicas were never both served through the data plane: {:?}",
        hostnames(https, 12)
    );

    // The data plane: no Docker access, no network with the guard, only its own secrets.
    let plane = real_docker_ok(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=com.docker.swarm.service.name={STACK}_router"),
    ]);
    let plane = plane
        .lines()
        .next()
        .expect("a data plane container")
        .to_owned();
    let env = inspect(&plane, "{{json .Config.Env}}");
    let env: Vec<&str> = env
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(
        env.iter().all(|e| !e.starts_with("DOCKER_HOST=")),
        "{env:?}"
    );
    assert!(
        env.iter().any(|e| e.starts_with("ROUTER_CONTROLLER=")),
        "{env:?}"
    );
    let nets = inspect(&plane, "{{json .NetworkSettings.Networks}}");
    let nets: BTreeSet<String> = nets.as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        nets,
        BTreeSet::from([format!("{STACK}_control"), format!("{STACK}_web")])
    );
    let secrets = real_docker_ok(&[
        "service",
        "inspect",
        "--format",
        "{{range .Spec.TaskTemplate.ContainerSpec.Secrets}}{{.SecretName}} {{end}}",
        &format!("{STACK}_router"),
    ]);
    let secrets: BTreeSet<&str> = secrets.split_whitespace().collect();
    assert_eq!(
        secrets,
        BTreeSet::from([
            format!("{STACK}_cluster_ca").as_str(),
            format!("{STACK}_data_plane_cert").as_str(),
            format!("{STACK}_data_plane_key").as_str(),
        ])
    );
    // The controller publishes nothing.
    let ports = real_docker_ok(&[
        "service",
        "inspect",
        "--format",
        "{{json .Endpoint.Ports}}",
        &format!("{STACK}_controller"),
    ]);
    assert!(
        matches!(ports.trim(), "null" | "[]"),
        "the controller publishes {ports}"
    );

    // The controller's task replaced: the data plane serves throughout...
    let update = Command::new("docker")
        .args([
            "service",
            "update",
            "--detach",
            "--force",
            &format!("{STACK}_controller"),
        ])
        .output()
        .unwrap();
    assert!(update.status.success(), "{update:?}");
    let deadline = Instant::now() + Duration::from_secs(8);
    while Instant::now() < deadline {
        let (status, body) = get(https, "whoami.localhost");
        assert_eq!(status, 200, "while the controller is replaced: {body}");
        std::thread::sleep(Duration::from_millis(250));
    }
    // ...and a change made after reaches it from the new controller.
    real_docker_ok(&["service", "scale", "--detach", &format!("{STACK}_whoami=3")]);
    assert!(
        wait_for(Duration::from_secs(90), || hostnames(https, 18).len() == 3),
        "the third replica was never served: {:?}",
        hostnames(https, 18)
    );

    drop(down);
    let (services, networks) = e2e::make::stack_leftovers(STACK);
    assert!(services.is_empty(), "services left: {services}");
    assert!(networks.is_empty(), "networks left: {networks}");
}
