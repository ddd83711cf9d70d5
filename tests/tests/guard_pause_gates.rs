//! `ALLOW_PAUSE` and `ALLOW_UNPAUSE` (Tecnativa's proxy since 0.5, LinuxServer's): the real
//! docker CLI pauses through a guard that allows pausing alone and cannot unpause there (the
//! container stays paused: checked on the real daemon), then unpauses through one that allows
//! unpausing alone. Neither opens any other write.
#![allow(clippy::unwrap_used)]

use e2e::docker::{docker, ensure_test_image, inspect_container, require_docker, text, Cleanup};
use e2e::guard::Guard;

fn paused(name: &str) -> bool {
    inspect_container(name).unwrap()["State"]["Paused"] == true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_and_unpause_have_gates_of_their_own() {
    require_docker();
    ensure_test_image();
    let c = Cleanup::new("pausegates");
    let (name, _) = c.sleeper("s");
    let pause = Guard::builder().env("ALLOW_PAUSE", "1").start().await;
    let out = docker(&["pause", &name], &pause.docker_host()).await;
    assert!(out.status.success(), "pause: {}", text(&out.stderr));
    assert!(paused(&name));
    let out = docker(&["unpause", &name], &pause.docker_host()).await;
    assert!(!out.status.success(), "ALLOW_PAUSE unpaused");
    assert!(
        text(&out.stderr).contains("ALLOW_UNPAUSE=1"),
        "{}",
        text(&out.stderr)
    );
    assert!(paused(&name), "the refused unpause took effect");
    for other in [
        &["stop", name.as_str()][..],
        &["restart", name.as_str()],
        &["rm", "-f", name.as_str()],
    ] {
        let out = docker(other, &pause.docker_host()).await;
        assert!(!out.status.success(), "ALLOW_PAUSE allowed {other:?}");
    }

    let unpause = Guard::builder().env("ALLOW_UNPAUSE", "1").start().await;
    let out = docker(&["unpause", &name], &unpause.docker_host()).await;
    assert!(out.status.success(), "unpause: {}", text(&out.stderr));
    assert!(!paused(&name));
    // And pausing again there is refused: the container keeps running.
    let out = docker(&["pause", &name], &unpause.docker_host()).await;
    assert!(!out.status.success(), "ALLOW_UNPAUSE paused");
    assert!(
        text(&out.stderr).contains("ALLOW_PAUSE=1"),
        "{}",
        text(&out.stderr)
    );
    assert!(!paused(&name), "the refused pause took effect");
}
