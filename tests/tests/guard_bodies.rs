//! Hostile request bodies against the guard in front of the real dockerd.
//!
//! The daemon reads JSON like Go's encoding/json (case-insensitive keys, `\u` escapes, Go's
//! Unicode folding, last duplicate wins, trailing data ignored) and takes chunked bodies; the
//! guard must judge the body the daemon will act on, from its real framing, within a size cap.
//! Every row names a container and then checks on the REAL daemon that it was not created; a
//! control row proves the same request shape does create one when the body is clean. Bodies
//! the daemon could not decode either (not JSON, an array, a string for a bool) have no such
//! check, since the daemon would refuse them itself: their status and message are the check.
//! Also: a start with a body and an update adding a device are refused without the daemon
//! ever seeing them (they go through a relay that counts its connections, and it counts none;
//! a start without a body through the same relay is counted, and works), exec and volume
//! bodies are inspected, and `swarm/unlockkey` is refused (403) even with `SWARM=1`.
//!
//! Guards: `B` = `CONTAINERS=1 POST=1 ALLOW_START=1 GUARD_MAX_BODY=1024`, `X` = `B` plus
//! `EXEC=1`, `S` = `SWARM=1`, `V` = `VOLUMES=1 POST=1`, `R` = `B` in front of a relay to the
//! real daemon that counts the connections it gets.
#![allow(clippy::unwrap_used)]

use e2e::docker::{
    ensure_test_image, inspect_container, real_api, require_docker, Cleanup, TEST_IMAGE,
};
use e2e::fake::FakeDaemon;
use e2e::guard::Guard;
use e2e::http::exchange;
use e2e::table::{run_table, Req, Row};

const B: usize = 0;
const X: usize = 1;
const S: usize = 2;
const V: usize = 3;
const R: usize = 4;

/// A create body: the image plus `extra` fields (`,"HostConfig":{...}`).
fn body(extra: &str) -> String {
    format!(r#"{{"Image":"{TEST_IMAGE}","Cmd":["true"]{extra}}}"#)
}

fn create(name: &str) -> Req {
    Req::new("POST", &format!("/containers/create?name={name}")).close()
}

/// A chunked body made of `parts`.
fn chunked(parts: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts {
        out.extend(format!("{:x}\r\n{p}\r\n", p.len()).into_bytes());
    }
    out.extend(b"0\r\n\r\n");
    out
}

/// The create rows; `source` is an existing container of the test, for `VolumesFrom`.
fn create_rows(c: &Cleanup, source: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    let name = c.name("clean");
    rows.push(
        Row::new(
            "clean body (control)",
            B,
            create(&name).json(&body("")).bytes(),
        )
        .want(&[201])
        .creates(&name),
    );

    // (label, body, status, what the message says)
    let cases: Vec<(&str, String, u16, &str)> = vec![
        (
            "lowercase keys",
            body(r#","hostconfig":{"privileged":true}"#),
            403,
            "privileged mode",
        ),
        (
            "\\u escape in a key",
            body(r#","HostConfig":{"\u0050rivileged":true}"#),
            403,
            "privileged mode",
        ),
        (
            "Go's folding of U+017F (escaped)",
            body(r#","Ho\u017ftConfig":{"Privileged":true}"#),
            403,
            "privileged mode",
        ),
        (
            "Go's folding of U+017F (raw UTF-8)",
            body(",\"Ho\u{17f}tConfig\":{\"Privileged\":true}"),
            403,
            "privileged mode",
        ),
        (
            "Go's folding of U+212A (Kelvin sign)",
            body(",\"HostConfig\":{\"Mas\u{212a}edPaths\":[]}"),
            403,
            "privileged mode (HostConfig.MaskedPaths)",
        ),
        (
            "top-level Privileged (embedded HostConfig)",
            body(r#","Privileged":true"#),
            403,
            "(Privileged)",
        ),
        (
            "Binds of /",
            body(r#","HostConfig":{"Binds":["/:/host"]}"#),
            403,
            "host path \"/\"",
        ),
        (
            "Binds with a dot path",
            body(r#","HostConfig":{"Binds":["/./:/host:ro"]}"#),
            403,
            "host path \"/\"",
        ),
        (
            "Mounts bind of /",
            body(r#","HostConfig":{"Mounts":[{"Type":"bind","Source":"/","Target":"/h"}]}"#),
            403,
            "host path \"/\"",
        ),
        // An existing container: were the body forwarded, the daemon would create this one
        // (it refuses a `VolumesFrom` naming no container by itself).
        (
            "VolumesFrom",
            body(&format!(r#","HostConfig":{{"VolumesFrom":["{source}"]}}"#)),
            403,
            "VolumesFrom",
        ),
        (
            "host network",
            body(r#","HostConfig":{"NetworkMode":"host"}"#),
            403,
            "host namespace",
        ),
        (
            "local volume binding /",
            body(
                r#","HostConfig":{"Mounts":[{"Type":"volume","Target":"/h","VolumeOptions":{"DriverConfig":{"Name":"local","Options":{"type":"none","o":"bind","device":"/"}}}}]}"#,
            ),
            403,
            "host path \"/\"",
        ),
        // Malformed bodies are client errors (400), not missing grants (403).
        (
            "duplicate keys, last one privileged",
            body(r#","HostConfig":{"Privileged":false,"Privileged":true}"#),
            400,
            "repeats the key",
        ),
        (
            "duplicate keys differing in case",
            body(r#","HostConfig":{"Privileged":true},"hostConfig":{}"#),
            400,
            "repeats the key",
        ),
        (
            "trailing data",
            format!(
                "{}{}",
                body(""),
                body(r#","HostConfig":{"Privileged":true}"#)
            ),
            400,
            "data after",
        ),
    ];
    for (label, json, status, says) in cases {
        let name = c.name(&format!("b{}", rows.len()));
        rows.push(
            Row::new(label, B, create(&name).json(&json).bytes())
                .want(&[status])
                .says(says)
                .no_container(&name),
        );
    }
    // Bodies the daemon cannot decode either: it would refuse the create by itself, so "no
    // container" would prove nothing. The guard's own 400 and message are the check.
    let undecodable = [
        ("not JSON", "Image=busybox".to_owned()),
        ("a JSON array", format!("[{}]", body(""))),
        (
            "Privileged as a string",
            body(r#","HostConfig":{"Privileged":"true"}"#),
        ),
    ];
    for (label, json) in undecodable {
        let name = c.name(&format!("b{}", rows.len()));
        rows.push(
            Row::new(label, B, create(&name).json(&json).bytes())
                .want(&[400])
                .says("malformed body"),
        );
    }

    let name = c.name("chunked");
    let privileged = body(r#","HostConfig":{"Privileged":true}"#);
    let (head, tail) = privileged.split_at(privileged.find("Privileged").unwrap() + 4);
    let req = create(&name)
        .header("Content-Type: application/json")
        .header("Transfer-Encoding: chunked")
        .raw_body(&chunked(&[head, tail]));
    rows.push(
        Row::new("chunked body split inside a key", B, req.bytes())
            .want(&[403])
            .says("privileged mode")
            .no_container(&name),
    );

    // The body after `Content-Length: 0` is the next request, and not a valid one. The bytes
    // are a create body this guard allows (the control below creates with them), so a guard
    // that took them for the body would create the container.
    let name = c.name("cl0");
    let plain = body("");
    let req = Req::new("POST", &format!("/containers/create?name={name}"))
        .header("Content-Type: application/json")
        .header("Content-Length: 0")
        .raw_body(format!("{plain}\r\n\r\n").as_bytes());
    rows.push(
        Row::new("Content-Length: 0 then a body", B, req.bytes())
            .want(&[400, 400])
            .closes()
            .says("malformed body")
            .no_container(&name),
    );
    let name = c.name("cl0control");
    rows.push(
        Row::new(
            "control: the same body framed by its length",
            B,
            create(&name).json(&plain).bytes(),
        )
        .want(&[201])
        .creates(&name),
    );

    let big = body(&format!(
        r#","Labels":{{"pad":"{}"}},"HostConfig":{{"Privileged":true}}"#,
        "x".repeat(1500)
    ));
    let name = c.name("big");
    rows.push(
        Row::new(
            "body over GUARD_MAX_BODY",
            B,
            create(&name).json(&big).bytes(),
        )
        .want(&[413])
        .says("GUARD_MAX_BODY")
        .no_container(&name),
    );
    let name = c.name("bigchunked");
    let req = create(&name)
        .header("Content-Type: application/json")
        .header("Transfer-Encoding: chunked")
        .raw_body(&chunked(&[&big[..700], &big[700..]]));
    rows.push(
        Row::new("chunked body over GUARD_MAX_BODY", B, req.bytes())
            .want(&[413])
            .says("GUARD_MAX_BODY")
            .no_container(&name),
    );
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_bodies_are_refused_without_effect() {
    require_docker();
    ensure_test_image();
    let c = Cleanup::new("bodies");
    let (stopped, _) = c.created("stopped");
    let (running, _) = c.sleeper("running");
    let base = [
        ("CONTAINERS", "1"),
        ("POST", "1"),
        ("ALLOW_START", "1"),
        ("GUARD_MAX_BODY", "1024"),
    ];
    let b = Guard::builder().envs(&base).start().await;
    let x = Guard::builder().envs(&base).env("EXEC", "1").start().await;
    let s = Guard::builder().env("SWARM", "1").start().await;
    let v = Guard::builder()
        .envs(&[("VOLUMES", "1"), ("POST", "1")])
        .start()
        .await;
    // The refused starts and update cannot be judged by their effect on the daemon: it refuses
    // a start with a body by itself (API >= 1.24: a body over 7 bytes, or chunked) and its
    // update ignores `Devices`. So they go through `R`, whose relay counts what reaches it.
    let dir = tempfile::tempdir().unwrap();
    let relay = FakeDaemon::relay_to_real(&dir.path().join("relay.sock"));
    let r = Guard::builder()
        .envs(&base)
        .socket(relay.path())
        .start()
        .await;
    let (bad_volume, good_volume) = (c.volume("bind-root"), c.volume("plain"));

    let mut rows = create_rows(&c, &stopped);
    for (label, req) in [
        (
            "start with a JSON body",
            Req::new("POST", &format!("/containers/{stopped}/start"))
                .close()
                .json(r#"{"Binds":["/:/host"]}"#),
        ),
        (
            "start with a chunked body",
            Req::new("POST", &format!("/containers/{stopped}/start"))
                .close()
                .header("Content-Type: application/json")
                .header("Transfer-Encoding: chunked")
                .raw_body(&chunked(&[r#"{"Privileged":true}"#])),
        ),
    ] {
        rows.push(
            Row::new(label, R, req.bytes())
                .want(&[400])
                .says("takes no request body"),
        );
    }
    let exec = Req::new("POST", &format!("/containers/{running}/exec"))
        .close()
        .json(r#"{"Cmd":["true"],"Privileged":true}"#);
    rows.push(
        Row::new("privileged exec", X, exec.bytes())
            .want(&[403])
            .says("(needs ALLOW_PRIVILEGED=1)"),
    );
    let exec = Req::new("POST", &format!("/containers/{running}/exec"))
        .close()
        .json(r#"{"Cmd":["true"],"\u0070rivileged":true}"#);
    rows.push(
        Row::new("privileged exec, escaped lowercase key", X, exec.bytes())
            .want(&[403])
            .says("(needs ALLOW_PRIVILEGED=1)"),
    );
    let volume = Req::new("POST", "/volumes/create").close().json(&format!(
        r#"{{"Name":"{bad_volume}","DriverOpts":{{"type":"none","o":"bind","device":"/"}}}}"#
    ));
    rows.push(
        Row::new("local volume binding /", V, volume.bytes())
            .want(&[403])
            .says("host path \"/\""),
    );
    let volume = Req::new("POST", "/volumes/create")
        .close()
        .json(&format!(r#"{{"Name":"{good_volume}"}}"#));
    rows.push(Row::new("plain volume (control)", V, volume.bytes()).want(&[201]));
    let update = Req::new("POST", &format!("/containers/{running}/update"))
        .close()
        .json(r#"{"Devices":[{"PathOnHost":"/dev/mem","PathInContainer":"/dev/mem","CgroupPermissions":"rwm"}]}"#);
    rows.push(
        Row::new("update adding a device", R, update.bytes())
            .want(&[403])
            .says("(needs ALLOW_DEVICES=1)"),
    );
    // The 403 is the check: this node is no swarm manager (see the control below), so the
    // daemon has no key to show, whatever the guard did.
    let unlock = Req::new("GET", "/swarm/unlockkey").close();
    rows.push(
        Row::new("swarm unlock key", S, unlock.bytes())
            .want(&[403])
            .says("never granted"),
    );
    // Control: SWARM=1 does reach the daemon (not a swarm manager here, so its 503).
    rows.push(
        Row::new(
            "swarm inspect (control)",
            S,
            Req::new("GET", "/swarm").close().bytes(),
        )
        .want(&[503])
        .says("swarm"),
    );

    let count = rows.len();
    let failures = run_table(rows, &[b.addr(), x.addr(), s.addr(), v.addr(), r.addr()]).await;

    // Every row on `R` was refused: not one connection reached the daemon.
    assert_eq!(
        relay.counts().accepted(),
        0,
        "a refused start or update through R reached the daemon"
    );
    let state = inspect_container(&running).expect("the running container exists");
    assert_eq!(
        state["ExecIDs"],
        serde_json::Value::Null,
        "a refused exec was created"
    );
    assert_eq!(
        real_api("GET", &format!("/volumes/{bad_volume}"), None).status,
        404,
        "the refused volume exists"
    );
    assert_eq!(
        real_api("GET", &format!("/volumes/{good_volume}"), None).status,
        200,
        "the control volume is missing"
    );

    // Control: a start without a body through `R` is forwarded (the relay counts it) and
    // starts the container.
    let ex = exchange(
        r.addr(),
        &Req::new("POST", &format!("/containers/{stopped}/start"))
            .close()
            .bytes(),
    )
    .await;
    assert_eq!(ex.statuses(), vec![204], "{}", ex.raw_text());
    assert_eq!(
        relay.counts().accepted(),
        1,
        "the relay did not count the control start (the check above could not fail)"
    );
    let state = inspect_container(&stopped).unwrap();
    assert_eq!(state["State"]["Running"], true);

    assert!(
        failures.is_empty(),
        "{} of {count} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn real_daemon_reads_bodies_as_go_does() {
    // The premise of the rows above, checked on the real daemon: a lowercase, escaped key
    // does reach HostConfig (so a guard that matched keys exactly would be bypassed). The
    // container is created, not started.
    require_docker();
    ensure_test_image();
    let c = Cleanup::new("bodies-premise");
    let name = c.name("lower");
    let r = real_api(
        "POST",
        &format!("/containers/create?name={name}"),
        Some(&body(r#","hostconfig":{"\u0072eadonlyrootfs":true}"#)),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let state = inspect_container(&name).unwrap();
    assert_eq!(state["HostConfig"]["ReadonlyRootfs"], true);

    // Go folds U+017F (long s) onto `s` and U+212A (Kelvin sign) onto `k`.
    let name = c.name("fold");
    let folded = body(",\"Ho\u{17f}tConfig\":{\"ReadonlyRootf\u{17f}\":true,\"Mas\u{212a}edPaths\":[\"/sgtest\"]}");
    let r = real_api(
        "POST",
        &format!("/containers/create?name={name}"),
        Some(&folded),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let state = inspect_container(&name).unwrap();
    assert_eq!(state["HostConfig"]["ReadonlyRootfs"], true);
    assert_eq!(
        state["HostConfig"]["MaskedPaths"],
        serde_json::json!(["/sgtest"])
    );
}

/// Ansible's `community.docker` starts a container with the body `{}`: the daemon never reads
/// a start body of up to 7 bytes, so the guard reads and drops it and the container starts;
/// on a kept connection the next request is read right after it. An 8-byte body is still
/// refused, and that container stays stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_body_the_daemon_ignores_is_dropped_and_the_start_goes_through() {
    require_docker();
    ensure_test_image();
    let c = Cleanup::new("startbody");
    let g = Guard::builder()
        .envs(&[("CONTAINERS", "1"), ("POST", "1")])
        .start()
        .await;
    for (suffix, body) in [("braces", "{}"), ("null", "null"), ("seven", r#"{"a":1}"#)] {
        let (name, _) = c.created(suffix);
        let raw = format!(
            "POST /containers/{name}/start HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let ex = exchange(g.addr(), raw.as_bytes()).await;
        assert_eq!(ex.statuses(), vec![204, 200], "{body}: {}", ex.raw_text());
        let state = inspect_container(&name).unwrap();
        assert_eq!(state["State"]["Running"], true, "{body}");
    }
    let (name, _) = c.created("eight");
    let ex = exchange(
        g.addr(),
        &Req::new("POST", &format!("/containers/{name}/start"))
            .close()
            .json(r#"{"a":12}"#)
            .bytes(),
    )
    .await;
    assert_eq!(ex.statuses(), vec![400], "{}", ex.raw_text());
    assert!(ex.raw_text().contains("takes no request body"));
    let state = inspect_container(&name).unwrap();
    assert_eq!(state["State"]["Running"], false);
    // Its audit record names the cause, not the grant the endpoint had.
    let seen = g.state().decisions.to_json(&g.state().config.policy);
    let last = &seen["recent"][0];
    assert_eq!(last["decision"], "invalid", "{last}");
    assert!(
        last["reason"]
            .as_str()
            .unwrap_or("")
            .contains("takes no request body"),
        "{last}"
    );
}
