//! Large request bodies the guard does not pass on to their end, against the real dockerd.
//!
//! Proves that: a client uploading a large body to an endpoint the guard refuses (a build
//! with `BUILD=0`) can send all of it and then read the refusal's JSON message, by length and
//! chunked, instead of a broken pipe or a reset; the daemon's own early answer to an allowed
//! upload (its 404 for a container that does not exist, sent before it reads a
//! `PUT .../archive` body) reaches the client as the daemon sent it, not as a 502 about a
//! broken pipe, whether the client is still sending or has stalled half-way; the connection
//! then closes, the guard counts no upstream error, and serves the next client. And that the
//! docker CLI's own uploads and downloads stream through it: `docker cp` of 8 MiB into a
//! container and back out arrives byte for byte with `ALLOW_ARCHIVE=1` and is refused with
//! one clean line (nothing copied) without it; `docker build` of an 8 MiB context builds the
//! image with `BUILD=1 POST=1` and is refused cleanly (no image) with `BUILD=0`.
#![allow(clippy::unwrap_used)]

use e2e::docker::{
    container_exists, docker, real_api, real_docker, real_docker_ok, require_docker, text, Cleanup,
};
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

/// A scratch directory for the CLI's files, removed when dropped.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("sgtest-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self, file: &str) -> String {
        self.0.join(file).to_str().unwrap().to_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// 8 MiB that no run of zeros or repeats could fake.
fn blob() -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..8 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_cp_and_build_stream_through_the_guard() {
    require_docker();
    let c = Cleanup::new("uploads");
    let (name, _) = c.sleeper("cp");
    let dir = Scratch::new("uploads");
    let data = blob();
    std::fs::write(dir.path("blob"), &data).unwrap();
    let into = format!("{name}:/blob");

    // Without ALLOW_ARCHIVE: one clean line, nothing copied.
    let closed = Guard::builder()
        .envs(&[("CONTAINERS", "1"), ("POST", "1")])
        .start()
        .await;
    let out = docker(&["cp", &dir.path("blob"), &into], &closed.docker_host()).await;
    assert!(
        !out.status.success(),
        "docker cp passed without ALLOW_ARCHIVE"
    );
    let refused = format!(
        "Error response from daemon: socket-guard: PUT /containers/{name}/archive is not allowed (needs CONTAINERS=1, POST=1 and ALLOW_ARCHIVE=1)"
    );
    assert!(
        text(&out.stderr).lines().any(|l| l == refused),
        "{}",
        text(&out.stderr)
    );
    let there = real_docker(&["exec", &name, "test", "-e", "/blob"]);
    assert!(!there.status.success(), "the refused copy arrived");

    // With it: in, and back out, byte for byte.
    let open = Guard::builder()
        .envs(&[("CONTAINERS", "1"), ("POST", "1"), ("ALLOW_ARCHIVE", "1")])
        .start()
        .await;
    let out = docker(&["cp", &dir.path("blob"), &into], &open.docker_host()).await;
    assert!(out.status.success(), "docker cp in: {}", text(&out.stderr));
    let size = real_docker_ok(&["exec", &name, "wc", "-c", "/blob"]);
    assert!(size.starts_with(&format!("{} ", data.len())), "{size}");
    let out = docker(&["cp", &into, &dir.path("back")], &open.docker_host()).await;
    assert!(out.status.success(), "docker cp out: {}", text(&out.stderr));
    assert!(
        std::fs::read(dir.path("back")).unwrap() == data,
        "the copy came back changed"
    );
    assert_eq!(open.state().metrics.upstream_errors.get(), 0);

    // docker build streams its context: refused cleanly with BUILD=0, built with BUILD=1.
    std::fs::create_dir_all(dir.path("ctx")).unwrap();
    std::fs::write(dir.path("ctx/blob"), &data).unwrap();
    std::fs::write(
        dir.path("ctx/Dockerfile"),
        "FROM scratch\nCOPY blob /blob\n",
    )
    .unwrap();
    let tag = format!("sgtest-uploads-{}:latest", std::process::id());
    let out = docker(
        &["build", "-q", "-t", &tag, &dir.path("ctx")],
        &closed.docker_host(),
    )
    .await;
    assert!(!out.status.success(), "docker build passed with BUILD=0");
    let refused =
        "Error response from daemon: socket-guard: POST /build is not allowed (needs BUILD=1 and POST=1)";
    assert!(
        text(&out.stderr).lines().any(|l| l == refused),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        real_api("GET", &format!("/images/{tag}/json"), None).status,
        404
    );
    let builder = Guard::builder()
        .envs(&[("BUILD", "1"), ("POST", "1")])
        .start()
        .await;
    let out = docker(
        &["build", "-q", "-t", &tag, &dir.path("ctx")],
        &builder.docker_host(),
    )
    .await;
    let built = real_api("GET", &format!("/images/{tag}/json"), None);
    let _ = real_docker(&["rmi", "-f", &tag]);
    assert!(out.status.success(), "docker build: {}", text(&out.stderr));
    assert_eq!(built.status, 200, "{}", built.text());
    let image: serde_json::Value = serde_json::from_str(&built.text()).unwrap();
    assert_eq!(image["Size"].as_u64(), Some(data.len() as u64), "{image}");
}
