//! Real client libraries through the guard: bollard 0.21 (Rust, unversioned paths, a new TCP
//! connection per call), docker-py 7 (Python, versioned paths, `tests/python/sdk_check.py`)
//! and the official Go SDK (Debian's github.com/docker/docker/client 20.10, what Traefik,
//! Portainer and Watchtower use; `tests/go/traefik_calls`, built by `e2e::go`).
//!
//! Proves that bollard and docker-py ping and list containers through a `CONTAINERS=1` guard,
//! and that a denied create reaches each as a 403 error carrying socket-guard's JSON message
//! (so the library shows the reason), while no container is created; and that the Go SDK,
//! making Traefik's Docker and Swarm providers' calls, works through the router preset and
//! gets its refusals the same way.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::process::Command;

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{CreateContainerOptionsBuilder, ListContainersOptionsBuilder};
use bollard::Docker;
use e2e::docker::{
    container_exists, ensure_test_image, inspect_container, real_docker_async_ok, real_docker_ok,
    require_docker, text, Cleanup,
};
use e2e::guard::Guard;
use e2e::router::router_guard;

const DENIED: &str =
    "socket-guard: POST /containers/create is not allowed (needs CONTAINERS=1 and POST=1)";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bollard_pings_lists_and_sees_a_403_with_the_message() {
    require_docker();
    let image = ensure_test_image();
    let c = Cleanup::new("bollard");
    let (name, id) = c.created("listed");
    let guard = Guard::builder().env("CONTAINERS", "1").start().await;
    let client =
        Docker::connect_with_http(&guard.docker_host(), 30, bollard::API_DEFAULT_VERSION).unwrap();

    assert_eq!(client.ping().await.unwrap(), "OK");

    let filters = HashMap::from([("name", vec![format!("^{name}$")])]);
    let listed = client
        .list_containers(Some(
            ListContainersOptionsBuilder::new()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .unwrap();
    let ids: Vec<_> = listed.iter().filter_map(|s| s.id.clone()).collect();
    assert_eq!(ids, vec![id]);

    let denied = c.name("denied");
    let err = client
        .create_container(
            Some(CreateContainerOptionsBuilder::new().name(&denied).build()),
            ContainerCreateBody {
                image: Some(image.to_owned()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    match err {
        bollard::errors::Error::DockerResponseServerError {
            status_code,
            message,
        } => {
            assert_eq!((status_code, message.as_str()), (403, DENIED));
        }
        other => panic!("expected a 403 server error, got {other:?}"),
    }
    assert!(!container_exists(&denied));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_py_sdk_passes_its_checks() {
    require_docker();
    let image = ensure_test_image();
    let probe = Command::new("python3")
        .args(["-c", "import docker"])
        .output();
    match probe {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "the Python Docker SDK is missing; install it with `pip install docker` ({})",
            text(&out.stderr).trim()
        ),
        Err(e) => {
            panic!("python3 is needed for the docker-py test (then `pip install docker`): {e}")
        }
    }
    let c = Cleanup::new("docker-py");
    let (listed, _) = c.created("listed");
    let denied = c.name("denied");
    let guard = Guard::builder().env("CONTAINERS", "1").start().await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/sdk_check.py");
    let run = tokio::process::Command::new("python3")
        .arg(script)
        .args([
            "--image",
            image,
            "--listed",
            &listed,
            "--denied-name",
            &denied,
        ])
        .env("DOCKER_HOST", guard.docker_host())
        .env_remove("DOCKER_TLS_VERIFY")
        .env_remove("DOCKER_CERT_PATH")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(std::time::Duration::from_secs(60), run)
        .await
        .expect("sdk_check.py finished within 60 s")
        .unwrap();
    assert!(
        out.status.success(),
        "sdk_check.py failed ({}):\n{}{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(text(&out.stdout).trim(), "sdk_check: all checks passed");
    assert!(!container_exists(&denied));
}

/// What the Go SDK shows for a refusal: its prefix, then socket-guard's JSON message.
fn go_refusal(message: &str) -> serde_json::Value {
    serde_json::json!({
        "status": 403,
        "error": format!("Error response from daemon: socket-guard: {message}"),
    })
}

/// Runs `tests/go/traefik_calls` against `guard` with `args`; when `start` names a container,
/// starts it (on the real socket) once the program's events stream is open through the
/// guard. Returns the program's JSON summary (its last line of output).
async fn traefik_calls(
    exe: &std::path::Path,
    guard: &Guard,
    args: &[&str],
    start: Option<&str>,
) -> serde_json::Value {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

    let mut child = tokio::process::Command::new(exe)
        .args(args)
        .env("DOCKER_HOST", guard.docker_host())
        .env_remove("DOCKER_API_VERSION")
        .env_remove("DOCKER_TLS_VERIFY")
        .env_remove("DOCKER_CERT_PATH")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", exe.display()));
    let mut stderr = child.stderr.take().unwrap();
    let errors = tokio::spawn(async move {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s).await;
        s
    });
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let bound = std::time::Duration::from_secs(60);
    let mut lines = Vec::new();
    let run = async {
        while let Some(line) = stdout.next_line().await.unwrap() {
            if line == "events-open" {
                if let Some(name) = start {
                    // The SDK sends the request from a goroutine: wait until the guard is
                    // streaming the daemon's answer, so the daemon has subscribed.
                    let metrics = guard.state().metrics.clone();
                    assert!(
                        e2e::wait_until(bound, || metrics.open_streams.get() >= 1).await,
                        "the Go SDK's events stream never opened through the guard"
                    );
                    real_docker_async_ok(&["start", name]).await;
                }
            }
            lines.push(line);
        }
        child.wait().await.unwrap()
    };
    let status = tokio::time::timeout(bound, run)
        .await
        .expect("traefik_calls finished within 60 s");
    let errors = errors.await.unwrap();
    assert!(
        status.success(),
        "traefik_calls failed ({status}):\n{}\n{errors}",
        lines.join("\n")
    );
    let last = lines.last().map_or("", String::as_str);
    serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("traefik_calls' summary is not JSON ({e}):\n{last}\n{errors}"))
}

/// The official Go SDK (github.com/docker/docker/client, Debian's 20.10), as Traefik, Portainer
/// and Watchtower talk to Docker, through a guard with the router preset: the calls of
/// Traefik's Docker and Swarm providers (tests/go/traefik_calls/main.go: ServerVersion with API
/// version negotiation and Traefik's User-Agent, ContainerList, ContainerInspect per container,
/// Events filtered on type=container, and a client pinned to API 1.24 as Traefik before
/// 2.11.31 and 3.6.1; ServiceList, NetworkList(scope=swarm), TaskList and NodeInspect), then
/// what the preset refuses (create, exec, stop, secrets, configs, info) with no effect.
///
/// The program is built once (`e2e::go`, cached under `target/go`; a few seconds).
///
/// The preset reads no inspect (README's presets): Traefik's ContainerInspect gets the 403,
/// and with README's `CONTAINERS=1` and `NETWORKS=1` for a Traefik image it gets each
/// labelled container with its labels (environment redacted), and a 404 for one outside the
/// scope. The Swarm calls pass a router-swarm guard to the daemon (here no swarm manager, or
/// a swarm another test made), except NodeInspect (Traefik 2.11.29 and 3.5.1 on, per task's
/// node), which no preset opens: through router-swarm Traefik skips every task.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_sdk_makes_traefiks_calls_through_the_router_preset() {
    require_docker();
    let image = ensure_test_image();
    let exe = e2e::go::program("traefik_calls");
    let c = Cleanup::new("go-sdk");
    let router = c.name("routed");
    let rule = format!("traefik.http.routers.{router}.rule=Host(`{router}.test`)");
    let labelled = c.name("labelled");
    let labelled_id = real_docker_ok(&[
        "run",
        "-d",
        "--name",
        &labelled,
        "-l",
        "traefik.enable=true",
        "-l",
        &rule,
        "-e",
        "SGTEST_TOKEN=go-sdk-secret",
        image,
        "sleep",
        "600",
    ]);
    let late = c.name("late");
    let late_id = real_docker_ok(&[
        "create",
        "--name",
        &late,
        "-l",
        "traefik.enable=true",
        image,
        "sleep",
        "600",
    ]);
    let (plain, _) = c.sleeper("plain");
    let denied = c.name("denied");
    let labels = serde_json::json!({
        "traefik.enable": "true",
        format!("traefik.http.routers.{router}.rule"): format!("Host(`{router}.test`)"),
    });
    let refusals = |target: &str| {
        serde_json::json!({
            "create": go_refusal(
                "POST /containers/create is not allowed (needs CONTAINERS=1 and POST=1)"
            ),
            "exec": go_refusal(&format!(
                "POST /containers/{target}/exec is not allowed (needs CONTAINERS=1, EXEC=1 and POST=1)"
            )),
            "stop": go_refusal(&format!(
                "POST /containers/{target}/stop is not allowed (needs ALLOW_STOP=1, or \
                 ALLOW_RESTARTS=1, or CONTAINERS=1 and POST=1)"
            )),
            "secrets": go_refusal("GET /secrets is not allowed (needs SECRETS=1)"),
            "configs": go_refusal("GET /configs is not allowed (needs CONFIGS=1)"),
            "info": go_refusal("GET /info is not allowed (needs INFO=1)"),
        })
    };

    // The router preset, as the router runs it.
    let guard = router_guard().start().await;
    let s = traefik_calls(
        &exe,
        &guard,
        &[
            "-await-start",
            &late,
            "-create-name",
            &denied,
            "-target",
            &labelled,
        ],
        Some(&late),
    )
    .await;
    // Negotiated: the SDK's ping, then versioned calls at the daemon's version.
    assert_eq!(s["version"]["status"], 200, "{s}");
    assert_eq!(s["client_version"], s["server_api"], "{s}");
    let seen = guard
        .state()
        .decisions
        .to_json(&guard.state().config.policy);
    let recent = seen["recent"].as_array().unwrap();
    let first = &recent[recent.len() - 1];
    assert_eq!(
        (&first["method"], &first["path"], &first["status"]),
        (&"HEAD".into(), &"/_ping".into(), &200.into()),
        "{first}"
    );
    // Listed: the labelled containers (the one not started yet too, as All=true), not the
    // one without a traefik.* label.
    assert_eq!(s["list"]["status"], 200, "{s}");
    let listed: HashMap<&str, &serde_json::Value> = s["listed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["id"].as_str().unwrap(), l))
        .collect();
    assert_eq!(listed[labelled_id.as_str()]["labels"], labels, "{s}");
    assert_eq!(listed[labelled_id.as_str()]["state"], "running", "{s}");
    assert_eq!(listed[late_id.as_str()]["state"], "created", "{s}");
    let names = s["listed"].to_string();
    assert!(!names.contains(&plain), "{names}");
    // Inspect is not in the preset: Traefik's inspect of each listed container is refused.
    for (id, answer) in s["inspect"].as_object().unwrap() {
        assert_eq!(
            answer,
            &go_refusal(&format!(
                "GET /containers/{id}/json is not allowed (needs CONTAINERS=1)"
            )),
        );
    }
    assert!(s["inspect"].get(&labelled_id).is_some(), "{s}");
    // The start of a labelled container, during the run, through the guard's events stream;
    // the unlabelled one's events are not in it.
    let events = &s["events"];
    assert_eq!(events["result"]["status"], 200, "{events}");
    assert_eq!(events["event"]["type"], "container", "{events}");
    assert_eq!(events["event"]["action"], "start", "{events}");
    assert_eq!(events["event"]["id"], late_id.as_str(), "{events}");
    assert_eq!(events["event"]["attributes"]["name"], late.as_str());
    assert_eq!(events["event"]["attributes"]["traefik.enable"], "true");
    assert!(!events.to_string().contains(&plain), "{events}");
    assert!(
        events["listed_after"]
            .as_array()
            .unwrap()
            .contains(&late.as_str().into()),
        "{events}"
    );
    // Traefik before 2.11.31 and 3.6.1: API 1.24 paths.
    let legacy = &s["legacy"];
    assert_eq!(legacy["client_version"], "1.24", "{legacy}");
    assert_eq!(legacy["version"]["status"], 200, "{legacy}");
    assert_eq!(legacy["list"]["status"], 200, "{legacy}");
    assert!(legacy["listed"]
        .as_array()
        .unwrap()
        .contains(&labelled.as_str().into()));
    // The Swarm provider's calls are not the router preset's.
    assert_eq!(
        s["swarm"],
        serde_json::json!({
            "services": go_refusal("GET /services is not allowed (needs SERVICES=1)"),
            "service_count": 0,
            "networks": go_refusal("GET /networks is not allowed (needs NETWORKS=1)"),
            "tasks": go_refusal("GET /tasks is not allowed (needs TASKS=1)"),
            "node": go_refusal("GET /nodes/traefik-calls-no-node is not allowed (needs NODES=1)"),
        })
    );
    // Refused, with no effect.
    assert_eq!(s["denied"], refusals(&labelled));
    assert!(!container_exists(&denied));
    let state = inspect_container(&labelled).unwrap();
    assert_eq!(
        state["State"]["Running"], true,
        "the refused stop stopped it"
    );
    assert_eq!(
        state["ExecIDs"],
        serde_json::Value::Null,
        "the refused exec ran"
    );
    drop(guard);

    // README's addition for a Traefik image: inspect of the labelled containers, with their
    // labels and their environment redacted; one outside the scope answers 404, as missing.
    let guard = router_guard()
        .envs(&[("CONTAINERS", "1"), ("NETWORKS", "1")])
        .start()
        .await;
    let s = traefik_calls(
        &exe,
        &guard,
        &[
            "-peer",
            &plain,
            "-create-name",
            &denied,
            "-target",
            &labelled,
        ],
        None,
    )
    .await;
    let inspected = &s["inspect"][&labelled_id];
    assert_eq!(inspected["status"], 200, "{s}");
    assert_eq!(inspected["name"], labelled.as_str());
    assert_eq!(inspected["state"], "running");
    assert_eq!(inspected["labels"], labels);
    assert_eq!(inspected["networks"], serde_json::json!(["bridge"]));
    let env = inspected["env"].as_array().unwrap();
    assert!(env.contains(&"SGTEST_TOKEN=[redacted]".into()), "{env:?}");
    assert!(!s.to_string().contains("go-sdk-secret"), "{s}");
    assert_eq!(s["inspect"][&late_id]["status"], 200, "{s}");
    assert_eq!(s["peer"]["status"], 404, "{s}");
    assert_eq!(s["swarm"]["networks"]["status"], 200, "{s}");
    assert_eq!(s["denied"], refusals(&labelled));
    assert!(!container_exists(&denied));
    drop(guard);

    // The router-swarm preset: the Swarm provider's lists reach the daemon (a 503 when it is
    // no swarm manager); Traefik's NodeInspect of each task's node is refused.
    let preset = include_str!("../../policies/presets/router-swarm.env");
    let guard = Guard::builder().preset(preset).start().await;
    let s = traefik_calls(
        &exe,
        &guard,
        &["-create-name", &denied, "-target", &labelled],
        None,
    )
    .await;
    let swarm = &s["swarm"];
    for call in ["services", "tasks"] {
        let answer = &swarm[call];
        match answer["status"].as_u64() {
            Some(200) => {}
            Some(503) => assert!(
                answer["error"]
                    .as_str()
                    .unwrap()
                    .contains("This node is not a swarm manager"),
                "{answer}"
            ),
            _ => panic!("{call}: {answer}"),
        }
    }
    assert_eq!(swarm["networks"]["status"], 200, "{swarm}");
    assert_eq!(swarm["node"]["status"], 403, "{swarm}");
    assert!(
        swarm["node"]["error"]
            .as_str()
            .unwrap()
            .ends_with("is not allowed (needs NODES=1)"),
        "{swarm}"
    );
    assert_eq!(s["denied"], refusals(&labelled));
    assert!(!container_exists(&denied));
}
