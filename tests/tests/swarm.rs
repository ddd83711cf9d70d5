//! Swarm mode on a single-node swarm created by the test (and left afterwards, unless the node
//! was already in one): `make swarm-up` deploys swarm.yaml; whoami's 2 replicas are both
//! served through the router; scaling to 3 is picked up; a removed service stops being routed;
//! socket-guard with the router-swarm preset lists only whoami's service and its tasks (the
//! guard's and the router's carry no traefik.* label: a guard that may inspect services answers
//! 404 for the router's), and refuses service create/update and secrets, with no effect on the swarm (the refused update, sent again on
//! the real socket, does apply).

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use e2e::docker::{real_api, real_docker, real_docker_ok, require_docker};
use e2e::guard::Guard;
use e2e::make::{free_port, repo};
use e2e::table::Req;

const STACK: &str = "edgeswarmtest";
const REFRESH_SECS: u64 = 2;
const REFRESH: &str = "2s";

fn make(target: &str, http: u16, https: u16) -> std::process::Output {
    e2e::make::make(
        target,
        http,
        https,
        &[("STACK_NAME", STACK), ("ROUTER_SWARM_REFRESH", REFRESH)],
    )
}

/// Takes the stack down (and the swarm, if `make swarm-up` created it) when dropped.
struct Down(u16, u16);

impl Drop for Down {
    fn drop(&mut self) {
        let _ = make("swarm-down", self.0, self.1);
        e2e::make::wait_stack_networks_gone(STACK);
    }
}

/// One HTTPS request through the router's host-mode port: (status, body).
fn get(https: u16, host: &str) -> (u16, String) {
    e2e::make::https_get(https, host)
}

fn hostnames(https: u16, host: &str, n: usize) -> BTreeSet<String> {
    (0..n)
        .filter_map(|_| {
            let (status, body) = get(https, host);
            (status == 200).then(|| body.lines().next().unwrap_or("").to_owned())
        })
        .collect()
}

fn wait_for(bound: Duration, mut check: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < bound {
        if check() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    None
}

fn running_tasks(service: &str) -> usize {
    let out = real_docker(&[
        "service",
        "ps",
        service,
        "--filter",
        "desired-state=running",
        "--format",
        "{{.CurrentState}}",
    ]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("Running"))
        .count()
}

#[test]
fn swarm_services_are_routed_and_the_guard_keeps_them_read_only() {
    require_docker();
    let (http, https) = (free_port(), free_port());
    let down = Down(http, https);
    let up = make("swarm-up", http, https);
    assert!(
        up.status.success(),
        "make swarm-up failed:\n{}\n{}",
        String::from_utf8_lossy(&up.stdout),
        String::from_utf8_lossy(&up.stderr)
    );
    let whoami = format!("{STACK}_whoami");

    // Both replicas are served.
    let both = wait_for(Duration::from_secs(120), || {
        hostnames(https, "whoami.localhost", 12).len() == 2
    });
    assert!(
        both.is_some(),
        "the two replicas were never both served: {:?}",
        hostnames(https, "whoami.localhost", 12)
    );

    // Scaling to 3 is picked up by the next refresh (tasks emit no events).
    real_docker_ok(&["service", "scale", "-d", &format!("{whoami}=3")]);
    assert!(
        wait_for(Duration::from_secs(60), || running_tasks(&whoami) == 3).is_some(),
        "the third task never ran"
    );
    let took = wait_for(Duration::from_secs(30), || {
        hostnames(https, "whoami.localhost", 15).len() == 3
    });
    println!("third replica routed {took:?} after its task was running (refresh {REFRESH_SECS}s)");
    assert!(took.is_some(), "the third replica was never routed");

    // A service added, routed, removed, unrouted.
    let extra = format!("{STACK}_extra");
    real_docker_ok(&[
        "service",
        "create",
        "-d",
        "--name",
        &extra,
        "--network",
        &format!("{STACK}_web"),
        "--label",
        "traefik.enable=true",
        "--label",
        "traefik.http.routers.extra.rule=Host(`extra.localhost`)",
        "--label",
        "traefik.http.routers.extra.tls=true",
        "--label",
        "traefik.http.services.extra.loadbalancer.server.port=8080",
        "whoami:local",
    ]);
    assert!(
        wait_for(Duration::from_secs(60), || get(https, "extra.localhost").0
            == 200)
        .is_some(),
        "the new service was never routed"
    );
    real_docker_ok(&["service", "rm", &extra]);
    assert!(
        wait_for(Duration::from_secs(30), || get(https, "extra.localhost").0
            == 404)
        .is_some(),
        "the removed service is still routed: {:?}",
        get(https, "extra.localhost")
    );

    // socket-guard with the router-swarm preset, against the swarm manager. The refused update
    // is a real one (the current version, a label added), which the daemon would apply.
    let id = real_docker_ok(&["service", "inspect", "--format", "{{.ID}}", &whoami])
        .trim()
        .to_owned();
    let current: serde_json::Value =
        serde_json::from_slice(&real_api("GET", &format!("/services/{id}"), None).body).unwrap();
    let version = current["Version"]["Index"].as_u64().unwrap();
    let mut spec = current["Spec"].clone();
    spec["Labels"]["sgtest.refused-update"] = "1".into();
    let update = spec.to_string();
    let update_path = format!("/services/{id}/update?version={version}");
    let labelled = || {
        let now: serde_json::Value =
            serde_json::from_slice(&real_api("GET", &format!("/services/{id}"), None).body)
                .unwrap();
        now["Spec"]["Labels"]["sgtest.refused-update"].is_string()
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let preset = std::fs::read_to_string(repo().join("policies/presets/router-swarm.env")).unwrap();
        let guard = Guard::builder().preset(&preset).start().await;
        let client = Req::new("GET", "/v1.41/services").close().bytes();
        let ex = e2e::http::exchange_within(guard.addr(), &client, Duration::from_secs(10)).await;
        assert_eq!(ex.statuses(), vec![200], "{}", ex.raw_text());
        // Scoped to traefik.*: whoami's service (deploy.labels) only, not the guard's or the
        // router's; tasks only of it.
        let listed: Vec<serde_json::Value> = serde_json::from_slice(&ex.responses[0].body).unwrap();
        let names: BTreeSet<&str> = listed.iter().filter_map(|s| s["Spec"]["Name"].as_str()).collect();
        assert_eq!(names, BTreeSet::from([whoami.as_str()]), "{}", ex.raw_text());
        let ex = e2e::http::exchange_within(guard.addr(), &Req::new("GET", "/v1.41/tasks").close().bytes(), Duration::from_secs(10)).await;
        assert_eq!(ex.statuses(), vec![200], "{}", ex.raw_text());
        let tasks: Vec<serde_json::Value> = serde_json::from_slice(&ex.responses[0].body).unwrap();
        assert!(!tasks.is_empty() && tasks.iter().all(|t| t["ServiceID"] == id.as_str()), "{}", ex.raw_text());
        // A guard that may inspect services, same scope: the router's service does not exist.
        let wider = Guard::builder().preset(&preset).envs(&[("SERVICES", "1")]).start().await;
        let hidden = format!("/v1.41/services/{STACK}_router");
        let ex = e2e::http::exchange_within(wider.addr(), &Req::new("GET", &hidden).close().bytes(), Duration::from_secs(10)).await;
        assert_eq!(ex.statuses(), vec![404], "{}", ex.raw_text());
        assert!(ex.raw_text().contains(&format!("service {STACK}_router not found")), "{}", ex.raw_text());
        let ex = e2e::http::exchange_within(wider.addr(), &Req::new("GET", &format!("/v1.41/services/{whoami}")).close().bytes(), Duration::from_secs(10)).await;
        assert_eq!(ex.statuses(), vec![200], "{}", ex.raw_text());
        let spec = format!(r#"{{"Name":"{STACK}_evil","TaskTemplate":{{"ContainerSpec":{{"Image":"whoami:local"}}}}}}"#);
        let ex = e2e::http::exchange_within(guard.addr(), &Req::new("POST", "/v1.41/services/create").close().json(&spec).bytes(), Duration::from_secs(10)).await;
        assert_eq!(ex.statuses(), vec![403], "{}", ex.raw_text());
        let ex = e2e::http::exchange_within(guard.addr(), &Req::new("POST", &format!("/v1.41{update_path}")).close().json(&update).bytes(), Duration::from_secs(10)).await;
        assert_eq!(ex.statuses(), vec![403], "{}", ex.raw_text());
        for path in ["/v1.41/secrets", "/v1.41/configs", "/v1.41/nodes", "/v1.41/swarm/unlockkey"] {
            let ex = e2e::http::exchange_within(guard.addr(), &Req::new("GET", path).close().bytes(), Duration::from_secs(10)).await;
            assert_eq!(ex.statuses(), vec![403], "{path}: {}", ex.raw_text());
        }
    });
    assert_eq!(
        real_api("GET", &format!("/services/{STACK}_evil"), None).status,
        404,
        "a refused service exists"
    );
    assert!(!labelled(), "a refused update changed the service");
    // Control: the same update on the real socket applies.
    let applied = real_api("POST", &update_path, Some(&update));
    assert_eq!(applied.status, 200, "{}", applied.text());
    assert!(
        labelled(),
        "the update the guard refused does not show when applied"
    );

    drop(down);
    // Either the swarm the test made is gone, or (in a swarm it found) the stack is.
    let (services, networks) = e2e::make::stack_leftovers(STACK);
    assert!(services.is_empty(), "services left: {services}");
    assert!(networks.is_empty(), "networks left: {networks}");
}
