//! Content reads through the guard in front of the real dockerd: container files (archive,
//! export), logs, image tarballs and `attach/ws`, which `CONTAINERS=1` and `IMAGES=1` alone must
//! not open, whatever the spelling of the path.
//!
//! A target container writes a secret into its `/etc/passwd` and its logs. Every refused row
//! checks that neither secret (nor an image tarball's `manifest.json`) came back; the same
//! request through a guard with the gate open (`ALLOW_ARCHIVE`, `ALLOW_EXPORT`, `ALLOW_LOGS`,
//! `ALLOW_ATTACH`) is a control that shows the secret, so the check can fail.
//!
//! Guards: `A` = `CONTAINERS=1 IMAGES=1`, `OPEN` = `A` plus `ALLOW_LOGS`, `ALLOW_ARCHIVE`,
//! `ALLOW_EXPORT`, `ALLOW_ATTACH`.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use e2e::docker::{
    ensure_test_image, real_api, real_docker_ok, require_docker, Cleanup, TEST_IMAGE,
};
use e2e::guard::Guard;
use e2e::table::{run_table, Req, Row};
use e2e::wait_until;

const A: usize = 0;
const OPEN: usize = 1;

const FILE_SECRET: &str = "sgtest-secret-in-etc-passwd";
const LOG_SECRET: &str = "sgtest-secret-in-the-logs";

/// Starts the container whose files and logs the content rows try to read.
fn start_target(c: &Cleanup) -> String {
    let script = format!("echo root:x:0:0:{FILE_SECRET}:/root:/bin/sh > /etc/passwd; echo {LOG_SECRET}; exec sleep 600");
    let name = c.name("target");
    real_docker_ok(&[
        "run",
        "-d",
        "--name",
        &name,
        ensure_test_image(),
        "sh",
        "-c",
        &script,
    ])
}

fn content_rows(id: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    let reads = [
        (
            "archive of /etc/passwd",
            format!("/containers/{id}/archive?path=/etc/passwd"),
            FILE_SECRET,
        ),
        ("export", format!("/containers/{id}/export"), FILE_SECRET),
        (
            "logs",
            format!("/containers/{id}/logs?stdout=1&stderr=1"),
            LOG_SECRET,
        ),
        (
            "image tarball",
            format!("/images/{TEST_IMAGE}/get"),
            "manifest.json",
        ),
        (
            "image tarball by query",
            format!("/images/get?names={TEST_IMAGE}"),
            "manifest.json",
        ),
    ];
    for (label, path, secret) in &reads {
        let req = Req::new("GET", path).close().bytes();
        rows.push(Row::new(label, A, req.clone()).want(&[403]).hides(secret));
        rows.push(
            Row::new(&format!("{label} (control, gate open)"), OPEN, req)
                .want(&[200])
                .shows(secret),
        );
    }
    let stat = Req::new(
        "HEAD",
        &format!("/containers/{id}/archive?path=/etc/passwd"),
    )
    .close()
    .bytes();
    rows.push(
        Row::new("archive stat", A, stat.clone())
            .head()
            .want(&[403])
            .hides("x-docker-container-path-stat"),
    );
    rows.push(
        Row::new("archive stat (control)", OPEN, stat)
            .head()
            .want(&[200])
            .shows("x-docker-container-path-stat"),
    );
    for (label, path) in [
        ("encoded logs", format!("/containers/{id}/%6Cogs?stdout=1")),
        (
            "absolute-form logs",
            format!("http://docker/containers/{id}/logs?stdout=1"),
        ),
        (
            "versioned logs",
            format!("/v1.41/containers/{id}/logs?stdout=1"),
        ),
    ] {
        rows.push(
            Row::new(label, A, Req::new("GET", &path).close().bytes())
                .want(&[403])
                .hides(LOG_SECRET),
        );
    }
    let ws = Req::new(
        "GET",
        &format!("/containers/{id}/attach/ws?stream=1&stdin=1&stdout=1&logs=1"),
    )
    .header("Connection: Upgrade")
    .header("Upgrade: websocket")
    .header("Sec-WebSocket-Version: 13")
    .header("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==");
    rows.push(
        Row::new("attach/ws WebSocket upgrade", A, ws.bytes())
            .want(&[403])
            .closes()
            .hides(LOG_SECRET),
    );
    // Control: with `ALLOW_ATTACH` the upgrade is bridged, and the daemon replays the logs
    // (`logs=1`) as a WebSocket frame it sends unmasked, so the secret is in the raw bytes.
    // The stream stays open: this row reads until the table's read bound.
    rows.push(
        Row::new(
            "attach/ws WebSocket upgrade (control, gate open)",
            OPEN,
            ws.bytes(),
        )
        .want(&[101])
        .shows(LOG_SECRET),
    );
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_reads_need_their_gate() {
    require_docker();
    ensure_test_image();
    let c = Cleanup::new("content");
    let id = start_target(&c);
    assert!(
        wait_until(Duration::from_secs(10), || {
            real_api("GET", &format!("/containers/{id}/logs?stdout=1"), None)
                .text()
                .contains(LOG_SECRET)
        })
        .await,
        "the target container did not write its secrets"
    );
    let a = Guard::builder()
        .envs(&[("CONTAINERS", "1"), ("IMAGES", "1")])
        .start()
        .await;
    let open = Guard::builder()
        .envs(&[
            ("CONTAINERS", "1"),
            ("IMAGES", "1"),
            ("ALLOW_LOGS", "1"),
            ("ALLOW_ARCHIVE", "1"),
            ("ALLOW_EXPORT", "1"),
            ("ALLOW_ATTACH", "1"),
        ])
        .start()
        .await;
    let rows = content_rows(&id);
    let count = rows.len();
    let failures = run_table(rows, &[a.addr(), open.addr()]).await;
    assert!(
        failures.is_empty(),
        "{} of {count} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
