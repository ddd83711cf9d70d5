//! The real docker CLI (28) through an in-process guard in front of the real dockerd (20.10).
//!
//! Proves that: a router-like policy (`CONTAINERS=1`) serves `docker version`, `ps`, `inspect`
//! and `events` with the daemon's real answers; a denied `docker create`/`run` prints one clean
//! `Error response from daemon: socket-guard: ...` line and creates nothing; `docker exec`
//! (with and without stdin, through the hijacked connection) works with `EXEC=1` and is refused
//! cleanly without it; and body inspection refuses what the CLI's flags put in a create body
//! (`--privileged`, `-v /:/host`, `--cap-add`, `--pid host`, `--device`, `--security-opt`) with
//! a message naming the `ALLOW_*` setting, while the same `docker create` passes once that
//! setting is given; `docker run` (attach) and `docker logs -f` work once their gates are open.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use e2e::docker::{
    container_exists, docker, docker_with_stdin, ensure_test_image, inspect_container, lines,
    real_docker, real_docker_ok, require_docker, text, Cleanup,
};
use e2e::guard::Guard;
use e2e::wait_until;

const DENIED_CREATE: &str =
    "Error response from daemon: socket-guard: POST /containers/create is not allowed (needs CONTAINERS=1 and POST=1)";

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_policy_serves_reads_and_refuses_create_cleanly() {
    require_docker();
    let image = ensure_test_image();
    let c = Cleanup::new("cli-router");
    let since = (unix_now() - 2).to_string();
    let (name, id) = c.created("target");
    let guard = Guard::builder().env("CONTAINERS", "1").start().await;
    let host = guard.docker_host();

    let want = real_docker_ok(&[
        "version",
        "--format",
        "{{.Server.Version}} {{.Server.APIVersion}}",
    ]);
    let out = docker(
        &[
            "version",
            "--format",
            "{{.Server.Version}} {{.Server.APIVersion}}",
        ],
        &host,
    )
    .await;
    assert!(
        out.status.success(),
        "docker version: {}",
        text(&out.stderr)
    );
    assert_eq!(text(&out.stdout).trim(), want);

    let out = docker(
        &[
            "ps",
            "-a",
            "--filter",
            &format!("name=^{name}$"),
            "--format",
            "{{.ID}} {{.Names}}",
        ],
        &host,
    )
    .await;
    assert!(out.status.success(), "docker ps: {}", text(&out.stderr));
    assert_eq!(lines(&out.stdout), vec![format!("{} {name}", &id[..12])]);

    let out = docker(
        &[
            "inspect",
            "--format",
            "{{.Id}} {{.Name}} {{.State.Status}}",
            &name,
        ],
        &host,
    )
    .await;
    assert!(
        out.status.success(),
        "docker inspect: {}",
        text(&out.stderr)
    );
    assert_eq!(text(&out.stdout).trim(), format!("{id} /{name} created"));

    // The daemon keeps the stream open until `until` (whole seconds), so it ends shortly.
    let until = (unix_now() + 2).to_string();
    let out = docker(
        &[
            "events",
            "--since",
            &since,
            "--until",
            &until,
            "--filter",
            &format!("container={name}"),
            "--format",
            "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}",
        ],
        &host,
    )
    .await;
    assert!(out.status.success(), "docker events: {}", text(&out.stderr));
    assert_eq!(lines(&out.stdout), vec![format!("container create {name}")]);

    // `docker create` prints exactly the guard's message, nothing else.
    let denied = c.name("denied");
    let out = docker(&["create", "--name", &denied, image, "true"], &host).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(lines(&out.stderr), vec![DENIED_CREATE.to_owned()]);
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    assert!(!container_exists(&denied));

    // `docker run` prefixes it with `docker: ` and adds its usage hint; the message is intact.
    let out = docker(&["run", "--rm", "--name", &denied, image, "true"], &host).await;
    assert_eq!(out.status.code(), Some(125));
    let err = lines(&out.stderr);
    assert_eq!(
        err.first(),
        Some(&format!("docker: {DENIED_CREATE}")),
        "{err:?}"
    );
    assert_eq!(text(&out.stderr).matches(DENIED_CREATE).count(), 1);
    assert!(!container_exists(&denied));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_works_with_exec_and_is_refused_without() {
    require_docker();
    let c = Cleanup::new("cli-exec");
    let (name, _) = c.sleeper("box");
    let guard = Guard::builder()
        .envs(&[("CONTAINERS", "1"), ("POST", "1"), ("EXEC", "1")])
        .start()
        .await;
    let host = guard.docker_host();

    // Without -i the CLI half-closes its side at once; the output must still arrive.
    let out = docker(&["exec", &name, "echo", "hi"], &host).await;
    assert!(out.status.success(), "docker exec: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hi\n");

    let out = docker_with_stdin(&["exec", "-i", &name, "cat"], &host, Some(b"input\n")).await;
    assert!(
        out.status.success(),
        "docker exec -i: {}",
        text(&out.stderr)
    );
    assert_eq!(text(&out.stdout), "input\n");

    let out = docker(&["exec", &name, "sh", "-c", "exit 3"], &host).await;
    assert_eq!(
        out.status.code(),
        Some(3),
        "the exit code comes back through exec inspect"
    );

    let metrics = guard.state().metrics.clone();
    assert!(
        wait_until(Duration::from_secs(10), || metrics.open_streams.get() == 0).await,
        "tunnels still open after the execs ended: {}",
        metrics.open_streams.get()
    );

    let refusing = Guard::builder()
        .envs(&[("CONTAINERS", "1"), ("POST", "1")])
        .start()
        .await;
    let out = docker(
        &["exec", &name, "touch", "/tmp/sgtest-denied-marker"],
        &refusing.docker_host(),
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        lines(&out.stderr),
        vec![format!(
            "Error response from daemon: socket-guard: POST /containers/{name}/exec is not allowed (needs CONTAINERS=1, EXEC=1 and POST=1)"
        )]
    );
    let marker = real_docker(&["exec", &name, "test", "-e", "/tmp/sgtest-denied-marker"]);
    assert_eq!(
        marker.status.code(),
        Some(1),
        "the refused exec ran: {}",
        text(&marker.stderr)
    );
    // Control: the same exec on the real socket leaves the marker the check looks for.
    real_docker_ok(&["exec", &name, "touch", "/tmp/sgtest-denied-marker"]);
    real_docker_ok(&["exec", &name, "test", "-e", "/tmp/sgtest-denied-marker"]);
}

/// A `docker create` flag, the refusal it gets, the setting that allows it, and a string the
/// created container's HostConfig then shows.
struct BodyCase {
    flags: &'static [&'static str],
    refusal: &'static str,
    grant: (&'static str, &'static str),
    shows: &'static str,
}

const BODY_CASES: &[BodyCase] = &[
    BodyCase {
        flags: &["--privileged"],
        refusal: "the body asks for privileged mode (HostConfig.Privileged) (needs ALLOW_PRIVILEGED=1)",
        grant: ("ALLOW_PRIVILEGED", "1"),
        shows: "\"Privileged\":true",
    },
    BodyCase {
        flags: &["-v", "/:/host"],
        refusal: "the body asks to mount the host path \"/\" (needs ALLOW_BIND_MOUNTS=/)",
        grant: ("ALLOW_BIND_MOUNTS", "/"),
        shows: "\"/:/host\"",
    },
    BodyCase {
        flags: &["--cap-add", "SYS_ADMIN"],
        refusal: "the body asks for added capabilities (HostConfig.CapAdd) (needs ALLOW_CAPABILITIES=1)",
        grant: ("ALLOW_CAPABILITIES", "1"),
        shows: "SYS_ADMIN",
    },
    BodyCase {
        flags: &["--pid", "host"],
        refusal: "the body asks for a host namespace (HostConfig.PidMode=\"host\") (needs ALLOW_HOST_NAMESPACES=1)",
        grant: ("ALLOW_HOST_NAMESPACES", "1"),
        shows: "\"PidMode\":\"host\"",
    },
    BodyCase {
        flags: &["--device", "/dev/null"],
        refusal: "the body asks for host devices (HostConfig.Devices) (needs ALLOW_DEVICES=1)",
        grant: ("ALLOW_DEVICES", "1"),
        shows: "\"PathOnHost\":\"/dev/null\"",
    },
    BodyCase {
        flags: &["--security-opt", "seccomp=unconfined"],
        refusal: "the body asks for privileged mode (HostConfig.SecurityOpt=\"seccomp=unconfined\") (needs ALLOW_PRIVILEGED=1)",
        grant: ("ALLOW_PRIVILEGED", "1"),
        shows: "seccomp=unconfined",
    },
];

fn refusal_line(reason: &str) -> String {
    format!("Error response from daemon: socket-guard: POST /containers/create is not allowed: {reason}")
}

async fn create(host: &str, name: &str, flags: &[&str]) -> std::process::Output {
    let mut args = vec!["create", "--name", name];
    args.extend_from_slice(flags);
    args.extend([ensure_test_image(), "true"]);
    docker(&args, host).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_flags_need_their_allow_setting() {
    require_docker();
    ensure_test_image();
    let c = Cleanup::new("cli-body");
    let base = [("CONTAINERS", "1"), ("POST", "1")];
    let strict = Guard::builder().envs(&base).start().await;
    for (i, case) in BODY_CASES.iter().enumerate() {
        let name = c.name(&format!("refused{i}"));
        let out = create(&strict.docker_host(), &name, case.flags).await;
        assert_eq!(
            out.status.code(),
            Some(1),
            "{:?} was not refused: {}",
            case.flags,
            text(&out.stdout)
        );
        assert_eq!(
            lines(&out.stderr),
            vec![refusal_line(case.refusal)],
            "{:?}",
            case.flags
        );
        assert!(
            !container_exists(&name),
            "{:?} created a container",
            case.flags
        );

        let granted = Guard::builder()
            .envs(&base)
            .env(case.grant.0, case.grant.1)
            .start()
            .await;
        let name = c.name(&format!("granted{i}"));
        let out = create(&granted.docker_host(), &name, case.flags).await;
        assert!(
            out.status.success(),
            "{:?} with {:?}: {}",
            case.flags,
            case.grant,
            text(&out.stderr)
        );
        let hc = inspect_container(&name).expect("created")["HostConfig"].to_string();
        assert!(
            hc.contains(case.shows),
            "{:?}: HostConfig lacks {}: {hc}",
            case.flags,
            case.shows
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bind_mounts_are_limited_to_the_allowed_prefix() {
    require_docker();
    ensure_test_image();
    let c = Cleanup::new("cli-binds");
    let guard = Guard::builder()
        .envs(&[
            ("CONTAINERS", "1"),
            ("POST", "1"),
            ("ALLOW_BIND_MOUNTS", "/tmp"),
        ])
        .start()
        .await;
    let host = guard.docker_host();

    let name = c.name("tmp");
    let out = create(&host, &name, &["-v", "/tmp/x:/x"]).await;
    assert!(out.status.success(), "-v /tmp/x:/x: {}", text(&out.stderr));
    assert!(container_exists(&name));

    let refused = [
        (
            "/etc:/x",
            "the body asks to mount the host path \"/etc\" (needs ALLOW_BIND_MOUNTS=/etc)",
        ),
        (
            "/tmpx:/x",
            "the body asks to mount the host path \"/tmpx\" (needs ALLOW_BIND_MOUNTS=/tmpx)",
        ),
        (
            "/tmp/../etc:/x",
            "malformed body: host path \"/tmp/../etc\" has a \"..\" segment",
        ),
    ];
    for (i, (spec, reason)) in refused.iter().enumerate() {
        let name = c.name(&format!("refused{i}"));
        let out = create(&host, &name, &["-v", spec]).await;
        assert_eq!(out.status.code(), Some(1), "-v {spec} was not refused");
        assert_eq!(lines(&out.stderr), vec![refusal_line(reason)], "-v {spec}");
        assert!(!container_exists(&name), "-v {spec} created a container");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_and_logs_follow_work_with_their_gates() {
    require_docker();
    let image = ensure_test_image();
    let c = Cleanup::new("cli-run");
    let guard = Guard::builder()
        .envs(&[
            ("CONTAINERS", "1"),
            ("POST", "1"),
            ("ALLOW_ATTACH", "1"),
            ("ALLOW_LOGS", "1"),
        ])
        .start()
        .await;
    let host = guard.docker_host();

    // `docker run` is create, attach (a hijacked connection), start and wait.
    let name = c.name("echo");
    let out = docker(
        &["run", "--rm", "--name", &name, image, "echo", "hello"],
        &host,
    )
    .await;
    assert!(out.status.success(), "docker run: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hello\n");
    let name = c.name("cat");
    let out = docker_with_stdin(
        &["run", "-i", "--rm", "--name", &name, image, "cat"],
        &host,
        Some(b"input\n"),
    )
    .await;
    assert!(out.status.success(), "docker run -i: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "input\n");
    let out = docker(&["run", "--rm", image, "sh", "-c", "exit 7"], &host).await;
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));

    // `docker logs -f` follows until the container exits.
    let name = c.name("logs");
    real_docker_ok(&[
        "run",
        "-d",
        "--name",
        &name,
        image,
        "sh",
        "-c",
        "echo one; sleep 1; echo two",
    ]);
    let out = docker(&["logs", "-f", &name], &host).await;
    assert!(
        out.status.success(),
        "docker logs -f: {}",
        text(&out.stderr)
    );
    assert_eq!(text(&out.stdout), "one\ntwo\n");

    let metrics = guard.state().metrics.clone();
    assert!(
        wait_until(Duration::from_secs(10), || metrics.open_streams.get() == 0).await,
        "streams still open: {}",
        metrics.open_streams.get()
    );
}
