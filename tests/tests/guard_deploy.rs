//! The `deploy` preset with the real docker-compose (v1, Debian's): `up -d`, `ps` and `down -v`
//! of a project with two services, a network and a volume go through; a project asking for a
//! privileged container or a host bind mount is refused without a container being created; and
//! `docker exec` into the project's container is refused.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use e2e::docker::{docker, require_docker, require_image, text};
use e2e::guard::Guard;
use e2e::router::unique;

const DEPLOY: &str = include_str!("../../policies/presets/deploy.env");

/// `docker compose` (v2) when the CLI has it, else `docker-compose` (v1), as the Makefile picks.
fn compose(
    dir: &std::path::Path,
    host: &str,
    project: &str,
    args: &[&str],
) -> std::process::Output {
    let v2 = Command::new("docker")
        .args(["compose", "version"])
        .output()
        .is_ok_and(|o| o.status.success());
    let mut cmd = if v2 {
        let mut c = Command::new("docker");
        c.arg("compose");
        c
    } else {
        Command::new("docker-compose")
    };
    cmd.current_dir(dir)
        .env("DOCKER_HOST", host)
        .args(["-p", project])
        .args(args)
        .output()
        .expect("docker compose or docker-compose runs")
}

/// The project's container of `service` (v1 names it `p_s_1`, v2 `p-s-1`), from the daemon.
fn container_of(project: &str, service: &str) -> Option<String> {
    let out = e2e::docker::real_docker_ok(&[
        "ps",
        "-a",
        "--filter",
        &format!("label=com.docker.compose.project={project}"),
        "--filter",
        &format!("label=com.docker.compose.service={service}"),
        "--format",
        "{{.Names}}",
    ]);
    out.lines().next().map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compose_up_ps_and_down_go_through_the_deploy_preset_and_nothing_more() {
    require_docker();
    require_image("whoami:local");
    let guard = Guard::builder().preset(DEPLOY).start().await;
    let host = format!("tcp://{}", guard.addr());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("docker-compose.yml"),
        "version: \"3.8\"\nservices:\n  web:\n    image: whoami:local\n    networks: [front]\n  worker:\n    image: whoami:local\n    volumes:\n      - data:/data\nnetworks:\n  front: {}\nvolumes:\n  data: {}\n",
    )
    .unwrap();
    let project = unique("deploy");
    let up = compose(dir.path(), &host, &project, &["up", "-d"]);
    let down = |p: &str| compose(dir.path(), &host, p, &["down", "-v"]);
    assert!(up.status.success(), "up: {}", text(&up.stderr));
    let web = container_of(&project, "web").expect("up created the web container");
    let ps = compose(dir.path(), &host, &project, &["ps"]);
    assert!(ps.status.success(), "ps: {}", text(&ps.stderr));
    assert!(text(&ps.stdout).contains(&web), "{}", text(&ps.stdout));
    let exec = docker(&["exec", &web, "/whoami", "--help"], &host).await;
    assert!(
        !exec.status.success(),
        "exec went through the deploy preset"
    );
    assert!(
        text(&exec.stderr).contains("EXEC=1"),
        "{}",
        text(&exec.stderr)
    );
    let gone = down(&project);
    assert!(gone.status.success(), "down: {}", text(&gone.stderr));
    assert!(container_of(&project, "web").is_none(), "down left {web}");

    // Projects asking for more than the preset: refused, nothing created.
    for (what, service) in [
        ("privileged", "    privileged: true\n"),
        ("a host bind mount", "    volumes:\n      - /:/host\n"),
    ] {
        let project = unique("deploybad");
        let bad = tempfile::tempdir().unwrap();
        std::fs::write(
            bad.path().join("docker-compose.yml"),
            format!("version: \"3.8\"\nservices:\n  app:\n    image: whoami:local\n{service}"),
        )
        .unwrap();
        let up = compose(bad.path(), &host, &project, &["up", "-d"]);
        assert!(!up.status.success(), "{what} went through");
        assert!(
            container_of(&project, "app").is_none(),
            "{what}: a container was created"
        );
        let _ = compose(bad.path(), &host, &project, &["down", "-v"]);
    }
}
