//! Large request bodies the guard does not pass on to their end, against the real dockerd.
//!
//! Proves that: a client uploading a large body to an endpoint the guard refuses (a build
//! with `BUILD=0`) can send all of it and then read the refusal's JSON message, by length and
//! chunked, instead of a broken pipe or a reset; the daemon's own early answer to an allowed
//! upload (its 404 for a container that does not exist, sent before it reads a
//! `PUT .../archive` body) reaches the client as the daemon sent it, not as a 502 about a
//! broken pipe, whether the client is still sending or has stalled half-way; the connection
//! then closes, the guard counts no upstream error, and serves the next client.
#![allow(clippy::unwrap_used)]

use e2e::docker::{container_exists, require_docker};
use e2e::guard::Guard;
use e2e::http::{upload, Exchange, Framing, BIG_UPLOAD, EARLY_UPLOADS};
use e2e::router::unique;

fn assert_answer(ex: &Exchange, status: u16, message: &str, what: &str) {
    assert!(
        ex.closed,
        "{what}: the connection stays open: {}",
        ex.raw_text()
    );
    assert_eq!(ex.statuses(), vec![status], "{what}: {}", ex.raw_text());
    let r = &ex.responses[0];
    assert_eq!(
        r.header("content-type"),
        Some("application/json"),
        "{what}: {}",
        ex.raw_text()
    );
    let got = r.message().unwrap_or_default();
    assert!(
        got.contains(message),
        "{what}: message {got:?}, wanted {message:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_upload_can_be_sent_whole_and_its_refusal_read() {
    require_docker();
    let guard = Guard::builder().start().await;
    for framing in [Framing::Length, Framing::Chunked] {
        let what = format!("a refused build, {framing:?}");
        let (ex, failed) = upload(
            guard.addr(),
            "POST /v1.41/build?t=guard-uploads HTTP/1.1\r\nHost: docker\r\nContent-Type: application/x-tar\r\n",
            framing,
            BIG_UPLOAD,
            None,
        )
        .await;
        assert!(
            failed.is_none(),
            "{what}: sending the body failed: {failed:?}"
        );
        assert_answer(
            &ex,
            403,
            "socket-guard: POST /build is not allowed (needs BUILD=1 and POST=1)",
            &what,
        );
    }
    // The refusal had no effect: the daemon has no image of that name.
    let listed = e2e::docker::real_api("GET", "/images/guard-uploads/json", None);
    assert_eq!(listed.status, 404, "{}", listed.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemons_early_answer_to_an_upload_reaches_the_client() {
    require_docker();
    let guard = Guard::builder()
        .envs(&[("CONTAINERS", "1"), ("POST", "1"), ("ALLOW_ARCHIVE", "1")])
        .start()
        .await;
    let name = unique("no-such-container");
    let head = format!(
        "PUT /v1.41/containers/{name}/archive?path=/ HTTP/1.1\r\nHost: docker\r\nContent-Type: application/x-tar\r\n"
    );
    for (what, framing, stall) in EARLY_UPLOADS {
        let (ex, failed) = upload(guard.addr(), &head, framing, BIG_UPLOAD, stall).await;
        assert!(
            failed.is_none(),
            "{what}: sending the body failed: {failed:?}"
        );
        assert_answer(&ex, 404, &format!("No such container: {name}"), what);
    }
    assert!(!container_exists(&name));
    assert_eq!(
        guard.state().metrics.upstream_errors.get(),
        0,
        "an early answer is not an upstream error"
    );
    // The guard goes on serving.
    let ping = e2e::http::exchange(
        guard.addr(),
        b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(ping.statuses(), vec![200], "{}", ping.raw_text());
}
