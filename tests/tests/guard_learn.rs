//! Learn mode (`GUARD_LEARN`) and `socket-guard suggest` with the real image, the real docker
//! CLI and the real dockerd.
//!
//! socket-guard:local refuses to start in learn mode without `GUARD_LEARN_UNSAFE=1` (exit 64,
//! naming the variable). Started with both and no grant at all, it forwards the docker CLI's
//! `ps`, `logs` and `exec` and audits them as `learn`; `socket-guard suggest` reads its log
//! and prints a policy; a guard with exactly that policy lets the same three commands through
//! and refuses `docker run` (nothing created), a stop (the container still runs), another
//! container's logs, and `/events`.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use e2e::docker::{
    docker, docker_with_stdin, ensure_test_image, inspect_container, real_docker, real_docker_ok,
    require_image, text, Cleanup,
};
use e2e::guard::Guard;

const IMAGE: &str = "socket-guard:local";
const REAL: &str = "unix:///var/run/docker.sock";

/// The docker socket's group, for the guard container's `--group-add`.
fn socket_gid() -> String {
    std::fs::metadata("/var/run/docker.sock")
        .unwrap()
        .gid()
        .to_string()
}

/// Runs socket-guard:local on the real socket in learn mode; returns its `tcp://` address.
fn learning_guard(c: &Cleanup) -> (String, String) {
    let name = c.name("learner");
    let gid = socket_gid();
    real_docker_ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "-v",
        "/var/run/docker.sock:/var/run/docker.sock",
        "--group-add",
        &gid,
        "-e",
        "GUARD_LEARN=1",
        "-e",
        "GUARD_LEARN_UNSAFE=1",
        "-p",
        "127.0.0.1::2375",
        IMAGE,
    ]);
    let port = real_docker_ok(&["port", &name, "2375/tcp"]);
    let addr = port.lines().next().unwrap().trim().to_owned();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(
            Instant::now() < deadline,
            "the learning guard does not listen"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (name, format!("tcp://{addr}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_learned_from_the_cli_allows_exactly_what_it_did() {
    require_image(IMAGE);
    let c = Cleanup::new("learn");
    let image = ensure_test_image();

    // Learn mode needs its confirmation.
    let refused = real_docker(&["run", "--rm", "-e", "GUARD_LEARN=1", IMAGE]);
    assert_eq!(refused.status.code(), Some(64), "{refused:?}");
    assert!(
        text(&refused.stderr).contains("GUARD_LEARN_UNSAFE=1"),
        "{}",
        text(&refused.stderr)
    );

    let app = c.name("app");
    real_docker_ok(&[
        "run",
        "-d",
        "--name",
        &app,
        image,
        "sh",
        "-c",
        "echo app-log-line; sleep 600",
    ]);
    let (other, _) = c.sleeper("other");
    let (learner, host) = learning_guard(&c);

    // What the client does: ps, logs, exec.
    let session = |host: String| {
        let app = app.clone();
        async move {
            let ps = docker(&["ps", "--format", "{{.Names}}"], &host).await;
            let logs = docker(&["logs", &app], &host).await;
            let exec = docker(&["exec", &app, "echo", "exec-ran"], &host).await;
            (ps, logs, exec)
        }
    };
    let (ps, logs, exec) = session(host.clone()).await;
    assert!(
        ps.status.success() && text(&ps.stdout).contains(&app),
        "{ps:?}"
    );
    assert!(text(&logs.stdout).contains("app-log-line"), "{logs:?}");
    assert!(text(&exec.stdout).contains("exec-ran"), "{exec:?}");

    // The guard's audit log, through `suggest` in the same image.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = real_docker(&["logs", &learner]);
    let audit = text(&log.stderr);
    assert!(audit.contains(r#""decision":"learn""#), "{audit}");
    assert!(audit.contains("LEARN MODE"), "the start warns: {audit}");
    let out = docker_with_stdin(
        &["run", "--rm", "-i", IMAGE, "suggest"],
        REAL,
        Some(audit.as_bytes()),
    )
    .await;
    assert!(out.status.success(), "{out:?}");
    let suggested = text(&out.stdout);
    for line in [
        "CONTAINERS=1",
        "ALLOW_LOGS=1",
        "POST=0",
        "EVENTS=0",
        &format!("GUARD_VISIBLE_NAMES={app}"),
    ] {
        assert!(
            suggested.lines().any(|l| l == line),
            "{line} missing:\n{suggested}"
        );
    }

    // The suggested policy: the same session passes ...
    let guard = Guard::builder().preset(&suggested).start().await;
    let host = guard.docker_host();
    let (ps, logs, exec) = session(host.clone()).await;
    assert!(
        ps.status.success() && text(&ps.stdout).contains(&app),
        "{ps:?}\n{suggested}"
    );
    assert!(!text(&ps.stdout).contains(&other), "{ps:?}");
    assert!(
        text(&logs.stdout).contains("app-log-line"),
        "{logs:?}\n{suggested}"
    );
    assert!(
        text(&exec.stdout).contains("exec-ran"),
        "{exec:?}\n{suggested}"
    );

    // ... and nothing else: run, stop, another's logs, events.
    let ran = c.name("ran");
    let run = docker(&["run", "-d", "--name", &ran, image, "true"], &host).await;
    assert!(
        !run.status.success() && text(&run.stderr).contains("not allowed"),
        "{run:?}"
    );
    assert!(inspect_container(&ran).is_none(), "nothing was created");
    let stop = docker(&["stop", "-t", "0", &app], &host).await;
    assert!(!stop.status.success(), "{stop:?}");
    assert!(
        inspect_container(&app).is_some_and(|v| v["State"]["Running"] == true),
        "still running"
    );
    let theirs = docker(&["logs", &other], &host).await;
    assert!(
        !theirs.status.success() && text(&theirs.stderr).contains("No such container"),
        "{theirs:?}"
    );
    let events = docker(&["events", "--since", "1s", "--until", "0s"], &host).await;
    assert!(!events.status.success(), "{events:?}");
}
