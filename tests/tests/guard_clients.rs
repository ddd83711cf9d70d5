//! Real client libraries through the guard: bollard 0.21 (Rust, unversioned paths, a new TCP
//! connection per call) and docker-py 7 (Python, versioned paths, `tests/python/sdk_check.py`).
//!
//! Proves that both ping and list containers through a `CONTAINERS=1` guard, and that a denied
//! create reaches each as a 403 error carrying socket-guard's JSON message (so the library
//! shows the reason), while no container is created.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::process::Command;

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{CreateContainerOptionsBuilder, ListContainersOptionsBuilder};
use bollard::Docker;
use e2e::docker::{container_exists, ensure_test_image, require_docker, text, Cleanup};
use e2e::guard::Guard;

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
