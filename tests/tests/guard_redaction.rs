//! Redaction in front of the real dockerd: what a client with a read-only preset can learn.
//!
//! A victim container has a secret in its environment, one in its command line and one in its
//! health check; an exec runs a command with a fourth secret. Through the router preset (and a
//! read-only guard that also opens exec inspect and `system df`), every read those policies
//! allow is made — list, inspect, top, exec inspect, system df, networks, events (a finished
//! range and a live stream), and the docker CLI's `ps` and `inspect` — and no secret comes back,
//! while names, labels and states still do. The same reads through a guard with
//! `GUARD_REDACT=off` are the control: each secret is there, so the check can fail.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use e2e::docker::{docker, ensure_test_image, real_api, real_docker_ok, require_docker, Cleanup};
use e2e::guard::Guard;
use e2e::http::{answer, RawResponse};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ROUTER_PRESET: &str = include_str!("../../policies/presets/router.env");

struct Secrets {
    env: String,
    cmd: String,
    health: String,
    exec: String,
}

impl Secrets {
    fn new() -> Secrets {
        let id = std::process::id();
        Secrets {
            env: format!("envsecret{id}x"),
            cmd: format!("cmdsecret{id}x"),
            health: format!("healthsecret{id}x"),
            exec: format!("execsecret{id}x"),
        }
    }

    fn all(&self) -> [&str; 4] {
        [&self.env, &self.cmd, &self.health, &self.exec]
    }

    /// The secrets `text` contains.
    fn found_in(&self, text: &str) -> Vec<String> {
        self.all()
            .into_iter()
            .filter(|s| text.contains(*s))
            .map(str::to_owned)
            .collect()
    }
}

async fn get(addr: SocketAddr, path: &str) -> RawResponse {
    answer(addr, "GET", path, None).await
}

/// Reads a live `/events` stream until `until` shows up in it (or 20 s pass), while `during`
/// runs; returns everything read.
async fn live_events(addr: SocketAddr, until: &str, during: impl FnOnce()) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /events?filters=%7B%22type%22%3A%5B%22container%22%5D%7D HTTP/1.1\r\nHost: docker\r\n\r\n")
        .await
        .unwrap();
    // The head first: the stream is open before the exec happens.
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(20);
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
            .await
            .expect("the events head within 10 s")
            .unwrap();
        assert!(n > 0, "the events stream closed before its head");
        got.extend_from_slice(&buf[..n]);
    }
    // The head can arrive before the daemon has subscribed the stream to new events: an
    // event in between is not sent (an exec_create went missing once from one of the three
    // streams). A moment for the subscription.
    tokio::time::sleep(Duration::from_millis(300)).await;
    during();
    while Instant::now() < deadline && !String::from_utf8_lossy(&got).contains(until) {
        match tokio::time::timeout(Duration::from_millis(500), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// Every read the tests make, as (what, path).
fn reads(id: &str, exec_id: &str, network: &str, since: u64, until: u64) -> Vec<(String, String)> {
    [
        ("list", "/containers/json?all=1".to_string()),
        ("versioned list", "/v1.41/containers/json".to_string()),
        ("inspect", format!("/containers/{id}/json")),
        ("top", format!("/containers/{id}/top")),
        ("top aux", format!("/containers/{id}/top?ps_args=aux")),
        ("exec inspect", format!("/exec/{exec_id}/json")),
        ("system df", "/system/df".to_string()),
        ("networks", "/networks".to_string()),
        ("network", format!("/networks/{network}")),
        (
            "events range",
            format!("/events?since={since}&until={until}"),
        ),
    ]
    .into_iter()
    .map(|(w, p)| (w.to_string(), p))
    .collect()
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_clients_never_see_the_secrets() {
    require_docker();
    let c = Cleanup::new("redact");
    let secrets = Secrets::new();
    let network = c.network("net");
    let name = c.name("victim");
    let since = now_secs() - 1;
    let health = format!("echo {} > /dev/null", secrets.health);
    let id = real_docker_ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        &network,
        "-l",
        "traefik.enable=true",
        "-e",
        &format!("DB_PASSWORD={}", secrets.env),
        "--health-cmd",
        &health,
        ensure_test_image(),
        "sh",
        "-c",
        &format!("sleep 600; echo {}", secrets.cmd),
    ]);

    // Guards: the router preset (the list and events only); a read-only guard that also opens
    // container and network inspect, top, exec inspect and system df; the control, the same
    // with redaction off.
    let router = Guard::builder().preset(ROUTER_PRESET).start().await;
    let wider = [
        ("CONTAINERS", "1"),
        ("NETWORKS", "1"),
        ("EXEC", "1"),
        ("SYSTEM", "1"),
    ];
    let reader = Guard::builder()
        .preset(ROUTER_PRESET)
        .envs(&wider)
        .start()
        .await;
    let open = Guard::builder()
        .preset(ROUTER_PRESET)
        .envs(&wider)
        .envs(&[("GUARD_REDACT", "off")])
        .start()
        .await;

    // The exec, while a live events stream is open through each guard.
    let exec_cmd = format!("echo {}", secrets.exec);
    let mut exec_id = String::new();
    let mut live = Vec::new();
    for g in [&router, &reader, &open] {
        let text = live_events(g.addr(), "exec_die", || {
            let created = real_api(
                "POST",
                &format!("/containers/{id}/exec"),
                Some(&serde_json::json!({"Cmd": ["sh", "-c", exec_cmd]}).to_string()),
            );
            let eid = serde_json::from_slice::<serde_json::Value>(&created.body).unwrap()["Id"]
                .as_str()
                .unwrap()
                .to_owned();
            real_api(
                "POST",
                &format!("/exec/{eid}/start"),
                Some(r#"{"Detach":true}"#),
            );
            exec_id = eid;
        })
        .await;
        live.push(text);
    }
    let until = now_secs() + 1;
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // The router preset and the reader: no secret anywhere, shapes intact.
    for (label, g, text) in [("router", &router, &live[0]), ("reader", &reader, &live[1])] {
        assert!(
            text.contains("exec_create: [redacted]"),
            "{label} live events:\n{text}"
        );
        assert_eq!(
            secrets.found_in(text),
            Vec::<String>::new(),
            "{label} live events:\n{text}"
        );
        for (what, path) in reads(&id, &exec_id, &network, since, until) {
            let r = get(g.addr(), &path).await;
            let body = r.text();
            if r.status == 403 {
                assert_eq!(label, "router", "{label} {what} refused: {body}");
                continue;
            }
            assert_eq!(r.status, 200, "{label} {what}: {body}");
            assert_eq!(
                secrets.found_in(&body),
                Vec::<String>::new(),
                "{label} {what} ({path}) leaked:\n{body}"
            );
            if !path.starts_with("/events") && !path.starts_with("/networks") {
                assert_eq!(
                    r.header("content-length").map(str::parse::<usize>),
                    Some(Ok(r.body.len())),
                    "{label} {what}: the length is the redacted body's"
                );
            }
            if !path.starts_with("/events") {
                serde_json::from_slice::<serde_json::Value>(&r.body)
                    .unwrap_or_else(|e| panic!("{label} {what}: not JSON ({e}): {body}"));
            }
        }
    }
    let inspect: serde_json::Value = serde_json::from_slice(
        &get(reader.addr(), &format!("/containers/{id}/json"))
            .await
            .body,
    )
    .unwrap();
    assert!(
        inspect["Config"]["Env"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "DB_PASSWORD=[redacted]"),
        "{inspect:#}"
    );
    assert_eq!(inspect["Config"]["Labels"]["traefik.enable"], "true");
    assert_eq!(inspect["State"]["Running"], true);
    let ranged = get(
        router.addr(),
        &format!("/events?since={since}&until={until}"),
    )
    .await;
    assert!(
        ranged.text().contains("exec_start: [redacted]"),
        "{}",
        ranged.text()
    );

    // The docker CLI reads the redacted answers as it reads the daemon's.
    let host = router.docker_host();
    let ps = docker(
        &["ps", "--no-trunc", "--filter", &format!("id={id}")],
        &host,
    )
    .await;
    let ps_out = e2e::docker::text(&ps.stdout);
    assert!(
        ps.status.success() && ps_out.contains("[redacted]"),
        "{ps:?}"
    );
    let cli = docker(&["inspect", &name], &reader.docker_host()).await;
    assert!(cli.status.success(), "{cli:?}");
    assert_eq!(
        secrets.found_in(&e2e::docker::text(&cli.stdout)),
        Vec::<String>::new()
    );

    // The control: with redaction off the same reads hand every secret over.
    let mut seen = secrets.found_in(&live[2]);
    for (_, path) in reads(&id, &exec_id, &network, since, until) {
        seen.extend(secrets.found_in(&get(open.addr(), &path).await.text()));
    }
    seen.sort();
    seen.dedup();
    let mut all: Vec<String> = secrets.all().iter().map(|s| s.to_string()).collect();
    all.sort();
    assert_eq!(seen, all, "the control guard must show every secret");
}
