//! The stack as a new user runs it: `make up` (images built FROM scratch, compose up) with the
//! published ports moved to free ones, HTTPS to whoami through the router, HTTP redirected,
//! both programs log JSON lines (an access line, an audit line), then `docker inspect` proves
//! the hardening compose.yaml promises: the router has no socket and runs non-root, read-only,
//! without capabilities, with no-new-privileges; socket-guard publishes nothing and sits only
//! on internal networks. `make down` leaves nothing behind.

#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::time::{Duration, Instant};

use e2e::docker::{real_docker, real_docker_ok, require_docker};
use e2e::make::free_port;
use serde_json::Value;

const PROJECT: &str = "edgetest";

fn make(target: &str, http: u16, https: u16) -> std::process::Output {
    e2e::make::make(target, http, https, &[("COMPOSE_PROJECT_NAME", PROJECT)])
}

/// Runs `make down` when dropped, so a failed assertion leaves no stack behind.
struct Down(u16, u16);

impl Drop for Down {
    fn drop(&mut self) {
        let _ = make("down", self.0, self.1);
    }
}

fn curl(args: &[&str]) -> (String, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "5"])
        .args(args)
        .output()
        .expect("curl is installed");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A container's log (its stderr), every line parsed as one JSON object.
fn json_lines(container: &str) -> Vec<Value> {
    let out = real_docker(&["logs", container]);
    assert!(out.status.success(), "docker logs {container}: {out:?}");
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .chain(String::from_utf8_lossy(&out.stdout).lines())
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{container}: a log line that is not JSON ({e}): {l}"))
        })
        .collect()
}

fn inspect(name: &str) -> Value {
    let text = real_docker_ok(&["inspect", name]);
    serde_json::from_str::<Value>(&text).unwrap()[0].clone()
}

fn project_objects(kind: &str) -> Vec<String> {
    let out = real_docker_ok(&[
        kind,
        "ls",
        "-q",
        "--filter",
        &format!("label=com.docker.compose.project={PROJECT}"),
    ]);
    out.lines()
        .map(str::to_owned)
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn make_up_serves_whoami_over_https_with_the_promised_hardening() {
    require_docker();
    let (http, https) = (free_port(), free_port());
    let _ = make("down", http, https);
    let down = Down(http, https);
    let up = make("up", http, https);
    assert!(
        up.status.success(),
        "make up failed:\n{}\n{}",
        String::from_utf8_lossy(&up.stdout),
        String::from_utf8_lossy(&up.stderr)
    );

    // HTTPS to whoami through the router (self-signed by default), within a generous bound.
    let url = format!("https://whoami.localhost:{https}/");
    let resolve = format!("whoami.localhost:{https}:127.0.0.1");
    let deadline = Instant::now() + Duration::from_secs(60);
    let body = loop {
        let (out, err) = curl(&["-k", "--resolve", &resolve, &url]);
        if out.starts_with("Hostname: ") {
            break out;
        }
        assert!(
            Instant::now() < deadline,
            "whoami never answered over HTTPS: {out}{err}"
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    assert!(body.contains("x-forwarded-proto: https"), "{body}");

    // `make up` says where the dashboard is; it is served there over HTTPS behind basic
    // authentication with the password it wrote, and refused without it.
    let said = String::from_utf8_lossy(&up.stdout);
    assert!(
        said.contains(&format!("https://dashboard.localhost:{https}/dashboard/")),
        "{said}"
    );
    let password = std::fs::read_to_string(e2e::make::repo().join(".dashboard/password"))
        .expect("make up wrote .dashboard/password");
    let dash = format!("dashboard.localhost:{https}:127.0.0.1");
    let status_of = |path: &str, user: Option<&str>| {
        let mut args = vec![
            "-k",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--resolve",
            &dash,
        ];
        let auth;
        if let Some(u) = user {
            auth = u.to_owned();
            args.extend(["-u", auth.as_str()]);
        }
        let url = format!("https://dashboard.localhost:{https}{path}");
        let (code, _) = curl(&[args.as_slice(), &[url.as_str()]].concat());
        code
    };
    let admin = format!("admin:{}", password.trim());
    let deadline = Instant::now() + Duration::from_secs(30);
    while status_of("/dashboard/", Some(&admin)) != "200" {
        assert!(
            Instant::now() < deadline,
            "the dashboard never answered 200"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(status_of("/api/overview", Some(&admin)), "200");
    assert_eq!(status_of("/dashboard/", None), "401");
    assert_eq!(status_of("/api/overview", Some("admin:wrong")), "401");

    // The demo stack compresses (ROUTER_COMPRESS=true): a large text body comes gzipped and
    // decompresses to exactly what whoami sent; a small one and a binary one come as they are.
    let encoding = |path: &str| {
        let (headers, _) = curl(&[
            "-k",
            "-D",
            "-",
            "-o",
            "/dev/null",
            "-H",
            "Accept-Encoding: gzip",
            "--resolve",
            &resolve,
            &format!("https://whoami.localhost:{https}{path}"),
        ]);
        let lower = headers.to_ascii_lowercase();
        assert!(
            lower.starts_with("http/2 200") || lower.starts_with("http/1.1 200"),
            "{headers}"
        );
        lower.lines().find_map(|l| {
            l.strip_prefix("content-encoding:")
                .map(|v| v.trim().to_owned())
        })
    };
    assert_eq!(
        encoding("/data?size=200000&type=text").as_deref(),
        Some("gzip")
    );
    assert_eq!(
        encoding("/data?size=100&type=text"),
        None,
        "small bodies stay as they are"
    );
    assert_eq!(
        encoding("/data?size=200000"),
        None,
        "octet streams stay as they are"
    );
    let (inflated, err) = curl(&[
        "-k",
        "--compressed",
        "--resolve",
        &resolve,
        &format!("https://whoami.localhost:{https}/data?size=200000&type=text"),
    ]);
    assert_eq!(inflated.len(), 200_000, "{err}");
    assert!(inflated.bytes().all(|b| b == b'a'));

    // HTTP is redirected to the same host and path on the published HTTPS port.
    let (headers, _) = curl(&[
        "-D",
        "-",
        "-o",
        "/dev/null",
        "--resolve",
        &format!("whoami.localhost:{http}:127.0.0.1"),
        &format!("http://whoami.localhost:{http}/a?b=1"),
    ]);
    assert!(headers.starts_with("HTTP/1.1 301"), "{headers}");
    assert!(
        headers
            .to_ascii_lowercase()
            .contains(&format!("location: https://whoami.localhost:{https}/a?b=1")),
        "{headers}"
    );

    // Both programs log one JSON object per line: the router Traefik's access line per
    // request on stdout (the redirect above among them), socket-guard an audit line per
    // request on stderr (the router's container listing among them). Lines are written in
    // batches: poll a while.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let router_log = json_lines(&format!("{PROJECT}_router_1"));
        let guard_log = json_lines(&format!("{PROJECT}_socket-guard_1"));
        let redirect_logged = router_log.iter().any(|l| {
            l["RequestMethod"] == "GET"
                && l["RequestHost"] == "whoami.localhost"
                && l["RequestPath"] == "/a?b=1"
                && l["DownstreamStatus"] == 301
                && l["entryPointName"] == "web"
                && l["level"] == "info"
        });
        let listing_audited = guard_log.iter().any(|l| {
            l["target"] == "audit"
                && l["endpoint"] == "container.list"
                && l["decision"] == "allow"
                && l["status"] == 200
        });
        if redirect_logged && listing_audited {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "redirect logged: {redirect_logged}, listing audited: {listing_audited}\n\
             router: {router_log:?}\nguard: {guard_log:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // The router: no socket, non-root, read-only, no capabilities, no new privileges.
    let router = inspect(&format!("{PROJECT}_router_1"));
    let mounts = router["Mounts"].as_array().unwrap();
    assert!(
        mounts
            .iter()
            .all(|m| !m["Source"].as_str().unwrap_or("").contains("docker.sock")),
        "{mounts:?}"
    );
    let hc = &router["HostConfig"];
    let user = router["Config"]["User"].as_str().unwrap();
    assert!(
        !user.is_empty() && !user.starts_with("0") && !user.starts_with("root"),
        "router user {user:?}"
    );
    assert_eq!(hc["ReadonlyRootfs"], Value::Bool(true));
    assert_eq!(hc["CapDrop"], serde_json::json!(["ALL"]));
    assert!(hc["CapAdd"].is_null() || hc["CapAdd"].as_array().is_some_and(Vec::is_empty));
    assert!(hc["SecurityOpt"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o.as_str().unwrap().starts_with("no-new-privileges")));
    assert_eq!(hc["Privileged"], Value::Bool(false));

    // socket-guard: publishes nothing, only on internal networks, non-root, hardened too.
    let guard = inspect(&format!("{PROJECT}_socket-guard_1"));
    let ports = &guard["HostConfig"]["PortBindings"];
    assert!(
        ports.is_null() || ports.as_object().is_some_and(|p| p.is_empty()),
        "{ports}"
    );
    let published = &guard["NetworkSettings"]["Ports"];
    assert!(
        published
            .as_object()
            .is_none_or(|p| p.values().all(Value::is_null)),
        "{published}"
    );
    let networks: Vec<String> = guard["NetworkSettings"]["Networks"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert!(!networks.is_empty());
    for n in &networks {
        let net = inspect(n);
        assert_eq!(
            net["Internal"],
            Value::Bool(true),
            "socket-guard is on non-internal network {n}"
        );
    }
    let ghc = &guard["HostConfig"];
    assert_eq!(guard["Config"]["User"].as_str().unwrap(), "65534:65534");
    assert_eq!(ghc["ReadonlyRootfs"], Value::Bool(true));
    assert_eq!(ghc["CapDrop"], serde_json::json!(["ALL"]));
    let sock = guard["Mounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["Destination"] == "/var/run/docker.sock")
        .unwrap()
        .clone();
    assert_eq!(
        sock["RW"],
        Value::Bool(false),
        "the socket is mounted read-only"
    );

    // make down leaves nothing behind (the same filters find the stack's containers and
    // networks while it is up; compose.yaml declares no volume).
    let containers = || {
        real_docker_ok(&[
            "ps",
            "-aq",
            "--filter",
            &format!("label=com.docker.compose.project={PROJECT}"),
        ])
    };
    assert!(
        !containers().trim().is_empty(),
        "the filter finds no container"
    );
    assert!(
        !project_objects("network").is_empty(),
        "the filter finds no network"
    );
    drop(down);
    let left = containers();
    assert!(left.trim().is_empty(), "containers left: {left}");
    assert!(project_objects("network").is_empty(), "networks left");
}
