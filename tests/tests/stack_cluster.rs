//! Cluster mode as a user runs it: `make cluster-up` (compose.cluster.yaml: socket-guard, a
//! controller, two data-plane routers, whoami; the certificates made by `router
//! cluster-certs`). whoami is served over HTTPS by both data planes; `docker inspect` shows
//! that the data planes have no `DOCKER_HOST` and share no network with the guard, and a
//! container on their networks cannot reach the guard; the controller publishes nothing. With
//! the controller stopped both keep serving, and a container started meanwhile is routed by
//! both once it is back. `make cluster-down` leaves nothing behind.
#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::time::{Duration, Instant};

use e2e::docker::{ensure_test_image, real_docker, real_docker_ok, require_docker};
use e2e::make::free_port;
use serde_json::Value;

const PROJECT: &str = "edgecluster";

struct Ports {
    http: u16,
    https: u16,
    http2: u16,
    https2: u16,
    tls: String,
}

fn make(target: &str, p: &Ports) -> std::process::Output {
    e2e::make::make(
        target,
        p.http,
        p.https,
        &[
            ("COMPOSE_PROJECT_NAME", PROJECT),
            ("HTTP_PORT_2", &p.http2.to_string()),
            ("HTTPS_PORT_2", &p.https2.to_string()),
            ("CLUSTER_TLS_DIR", &p.tls),
        ],
    )
}

/// Runs `make cluster-down` when dropped.
struct Down<'a>(&'a Ports);

impl Drop for Down<'_> {
    fn drop(&mut self) {
        let _ = make("cluster-down", self.0);
    }
}

fn inspect(name: &str) -> Value {
    let text = real_docker_ok(&["inspect", name]);
    serde_json::from_str::<Value>(&text).unwrap()[0].clone()
}

/// `GET https://HOST:PORT/` through 127.0.0.1: the body, or "" when nothing answered.
fn https(host: &str, port: u16) -> String {
    let out = Command::new("curl")
        .args(["-sk", "--max-time", "5", "--resolve"])
        .arg(format!("{host}:{port}:127.0.0.1"))
        .arg(format!("https://{host}:{port}/"))
        .output()
        .expect("curl is installed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn wait_served(host: &str, port: u16, what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let body = https(host, port);
        if body.starts_with("Hostname: ") {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not served on :{port}: {body}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn networks(c: &Value) -> Vec<String> {
    c["NetworkSettings"]["Networks"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn make_cluster_up_serves_through_data_planes_that_hold_no_docker_access() {
    require_docker();
    let probe = ensure_test_image();
    let dir = tempfile::tempdir().unwrap();
    let p = Ports {
        http: free_port(),
        https: free_port(),
        http2: free_port(),
        https2: free_port(),
        tls: dir.path().join("tls").display().to_string(),
    };
    let _ = make("cluster-down", &p);
    let down = Down(&p);
    let up = make("cluster-up", &p);
    assert!(
        up.status.success(),
        "make cluster-up failed:\n{}\n{}",
        String::from_utf8_lossy(&up.stdout),
        String::from_utf8_lossy(&up.stderr)
    );
    for port in [p.https, p.https2] {
        wait_served("whoami.localhost", port, "whoami");
    }
    // The CA key is the operator's: no container mounts it.
    let guard = inspect(&format!("{PROJECT}_socket-guard_1"));
    let controller = inspect(&format!("{PROJECT}_controller_1"));
    let guard_nets = networks(&guard);
    for name in ["router-1", "router-2"] {
        let c = inspect(&format!("{PROJECT}_{name}_1"));
        let env: Vec<&str> = c["Config"]["Env"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(
            !env.iter().any(|e| e.starts_with("DOCKER_HOST=")),
            "{name} has a DOCKER_HOST: {env:?}"
        );
        let nets = networks(&c);
        assert!(
            !nets.iter().any(|n| guard_nets.contains(n)),
            "{name} shares a network with the guard: {nets:?} / {guard_nets:?}"
        );
        let mounts = c["Mounts"].to_string();
        assert!(
            !mounts.contains("ca-key.pem") && !mounts.contains("docker.sock"),
            "{mounts}"
        );
    }
    assert!(!controller["Mounts"].to_string().contains("ca-key.pem"));
    assert_eq!(
        controller["NetworkSettings"]["Ports"]
            .as_object()
            .map_or(0, |m| m.values().filter(|v| !v.is_null()).count()),
        0,
        "the controller publishes a port"
    );
    // From a container on the data planes' networks, the guard cannot be reached: neither
    // its name nor its address.
    let guard_ip = guard["NetworkSettings"]["Networks"]
        .as_object()
        .and_then(|m| m.values().next())
        .and_then(|n| n["IPAddress"].as_str())
        .unwrap()
        .to_owned();
    let net = format!("{PROJECT}_web");
    let tried = real_docker(&[
        "run", "--rm", "--network", &net, probe, "sh", "-c",
        &format!("nc -w 2 socket-guard 2375 </dev/null && echo name; nc -w 2 {guard_ip} 2375 </dev/null && echo address; echo done"),
    ]);
    let said = String::from_utf8_lossy(&tried.stdout);
    assert!(
        said.contains("done") && !said.contains("name") && !said.contains("address"),
        "the guard was reached from the data planes' network: {said}"
    );

    // The controller stopped: both keep serving; a container started meanwhile is routed by
    // both once it is back.
    real_docker_ok(&["stop", &format!("{PROJECT}_controller_1")]);
    for port in [p.https, p.https2] {
        assert!(https("whoami.localhost", port).starts_with("Hostname: "));
    }
    let late = format!("{PROJECT}-late");
    let _ = real_docker(&["rm", "-f", &late]);
    real_docker_ok(&[
        "run",
        "-d",
        "--name",
        &late,
        "--network",
        &net,
        "-l",
        "traefik.enable=true",
        "-l",
        "traefik.http.routers.late.rule=Host(`late.localhost`)",
        "-l",
        "traefik.http.routers.late.tls=true",
        "whoami:local",
    ]);
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        !https("late.localhost", p.https).starts_with("Hostname: "),
        "routed without a controller"
    );
    real_docker_ok(&["start", &format!("{PROJECT}_controller_1")]);
    for port in [p.https, p.https2] {
        wait_served(
            "late.localhost",
            port,
            "the container started while the controller was away",
        );
    }
    let _ = real_docker(&["rm", "-f", &late]);
    drop(down);
    let left = real_docker_ok(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=com.docker.compose.project={PROJECT}"),
    ]);
    assert!(
        left.trim().is_empty(),
        "make cluster-down left containers: {left}"
    );
}
