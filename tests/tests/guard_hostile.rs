//! Hostile raw requests against the guard in front of the real dockerd: request targets,
//! methods, upgrades, framing, pipelining, and clients outside `GUARD_ALLOW_FROM`.
//!
//! Every row sends exact bytes on one TCP connection, checks the statuses (and, where the
//! guard must end the connection itself, that it did), and then checks the REAL daemon for the
//! absence of an effect: no container of the row's name, no exec started. Control rows through
//! a more permissive guard prove that the check can see the effect it looks for (the same
//! bytes do create a container there).
//!
//! Guards: `A` = `CONTAINERS=1 IMAGES=1` (no POST), `B` = `CONTAINERS=1 POST=1` (so a
//! smuggled create WOULD succeed), `X` = `B` plus `EXEC=1`.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use e2e::docker::{ensure_test_image, real_api, real_docker, require_docker, Cleanup, TEST_IMAGE};
use e2e::guard::Guard;
use e2e::table::{run_table, Req, Row};
use e2e::wait_until;

const A: usize = 0;
const B: usize = 1;
const X: usize = 2;

const DENIED: &str =
    "socket-guard: POST /containers/create is not allowed (needs CONTAINERS=1 and POST=1)";

fn create_body() -> String {
    format!(r#"{{"Image":"{TEST_IMAGE}","Cmd":["true"]}}"#)
}

/// `POST {path}?name={name}` with a valid create body and `Connection: close`.
fn create(path: &str, name: &str) -> Req {
    Req::new("POST", &format!("{path}?name={name}"))
        .close()
        .json(&create_body())
}

struct Names<'a> {
    cleanup: &'a Cleanup,
    n: usize,
}

impl Names<'_> {
    fn next(&mut self) -> String {
        self.n += 1;
        self.cleanup.name(&format!("h{}", self.n))
    }
}

fn target_rows(names: &mut Names<'_>) -> Vec<Row> {
    let mut rows = Vec::new();
    // Forms the daemon would route differently from their spelling: refused as 400, by a guard
    // that allows the create, so that one the guard let through could create a container.
    let not_canonical = [
        ("encoded slash", "/containers%2Fcreate"),
        ("encoded slash, lowercase hex", "/containers%2fcreate"),
        (
            "encoded dot segments",
            "/containers/%2e%2e/containers/create",
        ),
        ("dot-dot segment", "/images/../containers/create"),
        ("dot segment", "/containers/./create"),
        ("leading //", "//containers/create"),
        ("inner //", "/containers//create"),
        ("trailing slash", "/containers/create/"),
        ("backslash", "/containers\\create"),
        ("encoded backslash", "/containers%5Ccreate"),
        ("; parameter", "/containers/create;x=1"),
        ("encoded ;", "/containers/create%3Bx=1"),
        ("double encoding", "/containers%252Fcreate"),
        ("encoded NUL", "/containers/create%00"),
        ("encoded LF", "/containers/create%0A"),
        ("version older than 1.24", "/v1.23/containers/create"),
        ("malformed version", "/v1.41..1/containers/create"),
    ];
    for (label, path) in not_canonical {
        let name = names.next();
        rows.push(
            Row::new(label, B, create(path, &name).bytes())
                .want(&[400])
                .no_container(&name),
        );
    }
    // Bytes hyper itself refuses in a request line.
    for (label, line) in [
        (
            "raw NUL in the target",
            "POST /containers/create\0?name={n} HTTP/1.1",
        ),
        (
            "raw control char in the target",
            "POST /containers/create\x01?name={n} HTTP/1.1",
        ),
        (
            "space in the target",
            "POST /containers/create x?name={n} HTTP/1.1",
        ),
    ] {
        let name = names.next();
        let body = create_body();
        let raw = format!(
            "{}\r\nHost: docker\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            line.replace("{n}", &name),
            body.len()
        );
        rows.push(
            Row::new(label, B, raw.into_bytes())
                .want(&[400])
                .no_container(&name),
        );
    }
    // Spellings of the create endpoint: judged as what they are, so refused where POST=0 and,
    // as controls, creating the container where the create is allowed.
    for (label, path) in [
        ("versioned", "/v1.41/containers/create"),
        ("three-part version", "/v1.41.0/containers/create"),
        (
            "too-new version (denied before the daemon sees it)",
            "/v99.99/containers/create",
        ),
        ("percent-encoded letter", "/containers/%63reate"),
        ("absolute form", "http://x/containers/create"),
        (
            "absolute form, uppercase scheme and a port",
            "HTTP://x:2375/v1.41/containers/create",
        ),
    ] {
        let name = names.next();
        rows.push(
            Row::new(label, A, create(path, &name).bytes())
                .want(&[403])
                .says(DENIED)
                .no_container(&name),
        );
        if !path.contains("v99.99") {
            let name = names.next();
            rows.push(
                Row::new(
                    &format!("{label} (allowed)"),
                    B,
                    create(path, &name).bytes(),
                )
                .want(&[201])
                .creates(&name),
            );
        }
    }
    let name = names.next();
    let lower = Req::new("post", &format!("/containers/create?name={name}"))
        .close()
        .json(&create_body());
    rows.push(
        Row::new("lowercase method", A, lower.bytes())
            .want(&[403])
            .says("not a Docker API endpoint")
            .no_container(&name),
    );
    for method in ["PATCH", "OPTIONS", "TRACE", "CONNECT"] {
        let name = names.next();
        let req = Req::new(method, &format!("/containers/create?name={name}"))
            .close()
            .json(&create_body());
        rows.push(
            Row::new(method, A, req.bytes())
                .want(&[403])
                .says("is never forwarded")
                .no_container(&name),
        );
    }
    let connect = Req::new("CONNECT", "docker:2375").close();
    rows.push(Row::new("CONNECT in authority form", A, connect.bytes()).want(&[400]));
    // Controls: the allowed spellings reach the daemon.
    for path in [
        "/containers/json".to_owned(),
        "/v1.41/containers/json".to_owned(),
        "/v1.41.0/containers/json".to_owned(),
        format!("/images/{TEST_IMAGE}/json"),
    ] {
        rows.push(Row::new(&path, A, Req::new("GET", &path).close().bytes()).want(&[200]));
    }
    // Traefik probes `HEAD /_ping` and reads `Api-Version`.
    let head = Req::new("HEAD", "/_ping").close().bytes();
    rows.push(
        Row::new("HEAD /_ping", A, head)
            .head()
            .want(&[200])
            .shows("api-version: 1.41"),
    );
    let too_new = Req::new("GET", "/v99.99/containers/json").close();
    rows.push(
        Row::new("too-new version is the daemon's 400", A, too_new.bytes())
            .want(&[400])
            .says("is too new"),
    );
    rows
}

fn upgrade_and_framing_rows(names: &mut Names<'_>, exec_id: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut start = Req::new("POST", &format!("/exec/{exec_id}/start"))
        .header("Connection: Upgrade")
        .header("Upgrade: tcp")
        .json(r#"{"Detach":false,"Tty":false}"#)
        .bytes();
    start.extend_from_slice(b"touch /tmp/sgtest-pwned\n");
    rows.push(
        Row::new("Upgrade: tcp on a denied exec start", A, start)
            .want(&[403])
            .closes(),
    );

    // An upgrade the endpoint does not do: answered, then the connection ends; what followed
    // (a create that guard B would allow) is never read as a request.
    let name = names.next();
    let mut bytes = Req::new("GET", "/containers/json")
        .header("Connection: Upgrade")
        .header("Upgrade: tcp")
        .bytes();
    bytes.extend(create("/containers/create", &name).bytes());
    rows.push(
        Row::new("Upgrade on a non-upgrading endpoint", B, bytes)
            .want(&[200])
            .closes()
            .no_container(&name),
    );

    // Framing: each refused with 400 and the connection closed; a request smuggled behind
    // the ambiguous one (a create guard B would allow) never runs.
    let body = create_body();
    let ambiguous: [(&str, Vec<&str>, String); 10] = [
        (
            "CL + TE",
            vec!["Content-Length: 5", "Transfer-Encoding: chunked"],
            "0\r\n\r\n".into(),
        ),
        (
            "TE + CL",
            vec!["Transfer-Encoding: chunked", "Content-Length: 5"],
            "0\r\n\r\n".into(),
        ),
        (
            "two Content-Lengths",
            vec!["Content-Length: 0", "Content-Length: 0"],
            String::new(),
        ),
        (
            "two different Content-Lengths",
            vec!["Content-Length: 0", "Content-Length: 5"],
            "0\r\n\r\n".into(),
        ),
        (
            "negative Content-Length",
            vec!["Content-Length: -5"],
            "0\r\n\r\n".into(),
        ),
        (
            "Content-Length with a sign",
            vec!["Content-Length: +0"],
            String::new(),
        ),
        (
            "Transfer-Encoding other than chunked",
            vec!["Transfer-Encoding: xchunked"],
            "0\r\n\r\n".into(),
        ),
        (
            "obsolete line folding",
            vec!["Content-Length: 0", "X-Folded: a", " b"],
            String::new(),
        ),
        (
            "malformed chunk size",
            vec!["Transfer-Encoding: chunked"],
            "zz\r\n\r\n".into(),
        ),
        (
            "a lone CR in a chunk extension",
            vec!["Transfer-Encoding: chunked"],
            "2;\rAB\r\n\r\n0\r\n\r\n".into(),
        ),
    ];
    for (label, headers, framed) in ambiguous {
        let (first, smuggled) = (names.next(), names.next());
        let mut req = Req::new("POST", &format!("/containers/create?name={first}"))
            .header("Content-Type: application/json");
        for h in headers {
            req = req.header(h);
        }
        let mut bytes = req.raw_body(framed.as_bytes()).bytes();
        bytes.extend(create("/containers/create", &smuggled).bytes());
        rows.push(
            Row::new(label, B, bytes)
                .want(&[400])
                .closes()
                .says("socket-guard: malformed request framing")
                .no_container(&smuggled),
        );
    }
    let name = names.next();
    let http10 = Req::new("POST", &format!("/containers/create?name={name}"))
        .header("Content-Type: application/json")
        .header("Transfer-Encoding: chunked")
        .raw_body(format!("{:x}\r\n{body}\r\n0\r\n\r\n", body.len()).as_bytes())
        .bytes();
    let http10 = String::from_utf8(http10)
        .unwrap()
        .replacen("HTTP/1.1", "HTTP/1.0", 1);
    rows.push(
        Row::new("HTTP/1.0 with Transfer-Encoding", B, http10.into_bytes())
            .want(&[400])
            .closes()
            .no_container(&name),
    );
    let name = names.next();
    let bare_lf = format!(
        "POST /containers/create?name={name} HTTP/1.1\nHost: docker\nContent-Type: application/json\nContent-Length: {}\n\n{body}",
        body.len()
    );
    rows.push(
        Row::new("bare LF", B, bare_lf.into_bytes())
            .want(&[400])
            .closes()
            .says("bare LF")
            .no_container(&name),
    );

    // An allowed upgrade the daemon refuses (no such exec): its answer, then the end.
    let name = names.next();
    let mut bytes = Req::new("POST", "/exec/sgtest-no-such-exec/start")
        .header("Connection: Upgrade")
        .header("Upgrade: tcp")
        .json(r#"{"Detach":false,"Tty":false}"#)
        .bytes();
    bytes.extend(create("/containers/create", &name).bytes());
    rows.push(
        Row::new("Upgrade answered without 101", X, bytes)
            .want(&[404])
            .closes()
            .no_container(&name),
    );

    // A refused request whose (unread) body is itself a request that guard B would allow.
    let name = names.next();
    let inner = create("/containers/create", &name).bytes();
    let mut bytes = Req::new("POST", "/containers/json/attach?stream=1")
        .header(&format!("Content-Length: {}", inner.len()))
        .raw_body(&inner)
        .bytes();
    bytes.extend(Req::new("GET", "/_ping").close().bytes());
    rows.push(
        Row::new("refused request carrying a request as its body", B, bytes)
            .want(&[403, 200])
            .no_container(&name),
    );

    // Expect: 100-continue is answered by the guard, and only for an allowed request.
    let name = names.next();
    let expect = Req::new("POST", &format!("/containers/create?name={name}"))
        .header("Expect: 100-continue")
        .close()
        .json(&create_body());
    rows.push(
        Row::new("Expect: 100-continue, allowed", B, expect.bytes())
            .want(&[100, 201])
            .creates(&name),
    );
    let name = names.next();
    let expect = Req::new("POST", &format!("/containers/create?name={name}"))
        .header("Expect: 100-continue")
        .json(&create_body());
    let mut bytes = expect.bytes();
    bytes.extend(create("/containers/create", &names.next()).bytes());
    rows.push(
        Row::new("Expect: 100-continue, denied", A, bytes)
            .want(&[403])
            .closes()
            .no_container(&name),
    );

    // No `100 Continue` for a body that is refused by its length alone.
    let name = names.next();
    let too_big = Req::new("POST", &format!("/containers/create?name={name}"))
        .header("Content-Type: application/json")
        .header("Expect: 100-continue")
        .header("Content-Length: 2000000")
        .bytes();
    rows.push(
        Row::new("Expect: 100-continue, body over GUARD_MAX_BODY", B, too_big)
            .want(&[413])
            .closes()
            .no_container(&name),
    );

    // HTTP/1.0: closes after the answer unless it asks for keep-alive.
    let ping10 = |keep: bool| {
        let req = if keep {
            Req::new("GET", "/_ping").header("Connection: keep-alive")
        } else {
            Req::new("GET", "/_ping")
        };
        String::from_utf8(req.bytes())
            .unwrap()
            .replacen("HTTP/1.1", "HTTP/1.0", 1)
            .into_bytes()
    };
    let name = names.next();
    let mut bytes = ping10(false);
    bytes.extend(create("/containers/create", &name).bytes());
    rows.push(
        Row::new("HTTP/1.0 closes after its answer", B, bytes)
            .want(&[200])
            .closes()
            .no_container(&name),
    );
    let mut bytes = ping10(true);
    bytes.extend(Req::new("GET", "/_ping").close().bytes());
    rows.push(Row::new("HTTP/1.0 with keep-alive stays open", A, bytes).want(&[200, 200]));

    // Pipelining: each request judged on its own.
    let name = names.next();
    let mut bytes = Req::new("GET", "/containers/json").bytes();
    bytes.extend(create("/containers/create", &name).bytes());
    rows.push(
        Row::new("pipelined GET then denied create", A, bytes)
            .want(&[200, 403])
            .no_container(&name),
    );
    let name = names.next();
    let mut bytes = Req::new("GET", "/_ping").bytes();
    bytes.extend(create("/containers/create", &name).bytes());
    rows.push(
        Row::new("pipelined GET then create (control)", B, bytes)
            .want(&[200, 201])
            .creates(&name),
    );
    // An expectation other than 100-continue cannot be met: 417, on a guard that would allow
    // the create, and nothing is created.
    let name = names.next();
    rows.push(
        Row::new(
            "Expect: other than 100-continue",
            B,
            create("/containers/create", &name)
                .header("Expect: 100-continue, x-then-run")
                .bytes(),
        )
        .want(&[417])
        .closes()
        .no_container(&name),
    );
    // Empty lines before a request line are skipped (RFC 9112 2.2), and what follows them is
    // judged like any request.
    let mut bytes = b"\r\n\r\n".to_vec();
    bytes.extend(Req::new("GET", "/_ping").close().bytes());
    rows.push(Row::new("empty lines before the request line", A, bytes).want(&[200]));
    let name = names.next();
    let mut bytes = Req::new("GET", "/containers/json").bytes();
    bytes.extend(b"\r\n");
    bytes.extend(create("/containers/create", &name).bytes());
    rows.push(
        Row::new("an empty line, then a denied create, pipelined", A, bytes)
            .want(&[200, 403])
            .no_container(&name),
    );
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_are_refused_without_effect() {
    require_docker();
    ensure_test_image();
    let c = Cleanup::new("hostile");
    let (_, id) = c.sleeper("target");
    let exec = real_api(
        "POST",
        &format!("/containers/{id}/exec"),
        Some(r#"{"Cmd":["touch","/tmp/sgtest-pwned"]}"#),
    );
    assert_eq!(
        exec.status,
        201,
        "exec create on the real socket: {}",
        exec.text()
    );
    let exec_id = serde_json::from_slice::<serde_json::Value>(&exec.body).unwrap()["Id"]
        .as_str()
        .unwrap()
        .to_owned();

    let a = Guard::builder()
        .envs(&[("CONTAINERS", "1"), ("IMAGES", "1")])
        .start()
        .await;
    let b = Guard::builder()
        .envs(&[("CONTAINERS", "1"), ("POST", "1")])
        .start()
        .await;
    let x = Guard::builder()
        .envs(&[("CONTAINERS", "1"), ("POST", "1"), ("EXEC", "1")])
        .start()
        .await;

    let mut names = Names { cleanup: &c, n: 0 };
    let mut rows = target_rows(&mut names);
    rows.extend(upgrade_and_framing_rows(&mut names, &exec_id));
    let count = rows.len();
    let failures = run_table(rows, &[a.addr(), b.addr(), x.addr()]).await;

    // The refused exec start never ran.
    let inspect: serde_json::Value =
        serde_json::from_slice(&real_api("GET", &format!("/exec/{exec_id}/json"), None).body)
            .unwrap();
    assert_eq!(
        (inspect["Running"].as_bool(), inspect["Pid"].as_u64()),
        (Some(false), Some(0)),
        "{inspect}"
    );
    let pwned = || {
        real_docker(&["exec", &id, "test", "-e", "/tmp/sgtest-pwned"])
            .status
            .code()
    };
    assert_eq!(pwned(), Some(1));
    // Control: started on the real socket, the same exec leaves the marker checked above.
    let started = real_api(
        "POST",
        &format!("/exec/{exec_id}/start"),
        Some(r#"{"Detach":true}"#),
    );
    assert_eq!(started.status, 200, "{}", started.text());
    assert!(
        wait_until(Duration::from_secs(10), || pwned() == Some(0)).await,
        "the exec's marker never appeared: the check above could not see an exec that ran"
    );

    assert!(
        failures.is_empty(),
        "{} of {count} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_outside_allow_from_are_refused() {
    require_docker();
    ensure_test_image();
    let c = Cleanup::new("allow-from");
    let name = c.name("refused");
    let guard = Guard::builder()
        .envs(&[
            ("CONTAINERS", "1"),
            ("POST", "1"),
            ("GUARD_ALLOW_FROM", "10.0.0.0/8"),
        ])
        .start()
        .await;
    let ex = e2e::http::exchange(guard.addr(), &create("/containers/create", &name).bytes()).await;
    assert_eq!(ex.statuses(), vec![403], "{}", ex.raw_text());
    assert!(ex.closed);
    assert_eq!(
        ex.responses[0].message().as_deref(),
        Some("socket-guard: client 127.0.0.1 is not in GUARD_ALLOW_FROM")
    );
    assert_eq!(guard.state().metrics.refused_clients.get(), 1);
    assert!(!e2e::docker::container_exists(&name));

    let allowed = Guard::builder()
        .envs(&[
            ("CONTAINERS", "1"),
            ("GUARD_ALLOW_FROM", "10.0.0.0/8, 127.0.0.1"),
        ])
        .start()
        .await;
    let ex = e2e::http::exchange(
        allowed.addr(),
        &Req::new("GET", "/containers/json").close().bytes(),
    )
    .await;
    assert_eq!(ex.statuses(), vec![200], "{}", ex.raw_text());
}
