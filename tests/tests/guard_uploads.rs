//! Large request bodies the guard does not pass on to their end, against the real dockerd.
//!
//! Proves that: a client uploading a large body to an endpoint the guard refuses (a 16 MiB
//! build context with `BUILD=0`) can send all of it and then read the refusal's JSON message,
//! by length and chunked, instead of a broken pipe or a reset, and no image is built (the same
//! bytes build one through a guard that allows builds); the daemon's own early answer to an allowed
//! upload (its 404 for a container that does not exist, sent before it reads a
//! `PUT .../archive` body) reaches the client as the daemon sent it, not as a 502 about a
//! broken pipe, whether the client is still sending or has stalled half-way; the connection
//! then closes, the guard counts no upstream error, and serves the next client. And that the
//! docker CLI's own uploads and downloads stream through it: `docker cp` of 8 MiB into a
//! container and back out arrives byte for byte with `ALLOW_ARCHIVE=1` and is refused with
//! one clean line (nothing copied) without it; `docker build` of an 8 MiB context builds the
//! image with `BUILD=1 POST=1` and is refused cleanly (no image) with `BUILD=0`.
#![allow(clippy::unwrap_used)]

use e2e::docker::{docker, real_api, real_docker, real_docker_ok, require_docker, text, Cleanup};
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

/// A tar archive of `files` (ustar, regular files, mode 0644): a build context.
fn tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in files {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        for (at, field) in [
            (100, "0000644\0".to_owned()),
            (108, "0000000\0".to_owned()),
            (116, "0000000\0".to_owned()),
            (124, format!("{:011o}\0", data.len())),
            (136, "00000000000\0".to_owned()),
        ] {
            h[at..at + field.len()].copy_from_slice(field.as_bytes());
        }
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        // The checksum is taken with its own field as spaces.
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_upload_can_be_sent_whole_and_its_refusal_read() {
    require_docker();
    // A real build context, so that a build the guard let through would leave an image.
    let tag = format!("sgtest-uploads-refused-{}", std::process::id());
    let pad = vec![b'x'; BIG_UPLOAD];
    let context = tar(&[
        ("Dockerfile", b"FROM scratch\nCOPY pad /pad\n"),
        ("pad", &pad),
    ]);
    let head = format!(
        "POST /v1.41/build?t={tag} HTTP/1.1\r\nHost: docker\r\nContent-Type: application/x-tar\r\nConnection: close\r\n"
    );
    let guard = Guard::builder().start().await;
    for framing in [Framing::Length, Framing::Chunked] {
        let what = format!("a refused build, {framing:?}");
        let (ex, failed) = upload(guard.addr(), &head, framing, &context, None).await;
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
    let image = || real_api("GET", &format!("/images/{tag}/json"), None).status;
    assert_eq!(image(), 404, "a refused build left an image");
    // Control: the same bytes through a guard that allows builds build the image.
    let builder = Guard::builder()
        .envs(&[("BUILD", "1"), ("POST", "1")])
        .start()
        .await;
    let (ex, failed) = upload(builder.addr(), &head, Framing::Length, &context, None).await;
    let built = image();
    let _ = real_docker(&["rmi", "-f", &tag]);
    assert!(failed.is_none(), "the allowed build: {failed:?}");
    assert_eq!(ex.statuses(), vec![200], "{}", ex.raw_text());
    assert_eq!(
        built,
        200,
        "the allowed build left no image: {}",
        ex.raw_text()
    );
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
    let body = vec![0u8; BIG_UPLOAD];
    for (what, framing, stall) in EARLY_UPLOADS {
        let (ex, failed) = upload(guard.addr(), &head, framing, &body, stall).await;
        assert!(
            failed.is_none(),
            "{what}: sending the body failed: {failed:?}"
        );
        assert_answer(&ex, 404, &format!("No such container: {name}"), what);
    }
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
    let scratch = tempfile::tempdir().unwrap();
    let path = |file: &str| scratch.path().join(file).to_str().unwrap().to_owned();
    let data = blob();
    std::fs::write(path("blob"), &data).unwrap();
    let into = format!("{name}:/blob");

    // Without ALLOW_ARCHIVE: one clean line, nothing copied.
    let closed = Guard::builder()
        .envs(&[("CONTAINERS", "1"), ("POST", "1")])
        .start()
        .await;
    let out = docker(&["cp", &path("blob"), &into], &closed.docker_host()).await;
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
    let out = docker(&["cp", &path("blob"), &into], &open.docker_host()).await;
    assert!(out.status.success(), "docker cp in: {}", text(&out.stderr));
    let size = real_docker_ok(&["exec", &name, "wc", "-c", "/blob"]);
    assert!(size.starts_with(&format!("{} ", data.len())), "{size}");
    let out = docker(&["cp", &into, &path("back")], &open.docker_host()).await;
    assert!(out.status.success(), "docker cp out: {}", text(&out.stderr));
    assert!(
        std::fs::read(path("back")).unwrap() == data,
        "the copy came back changed"
    );
    assert_eq!(open.state().metrics.upstream_errors.get(), 0);

    // docker build streams its context: refused cleanly with BUILD=0, built with BUILD=1.
    std::fs::create_dir_all(path("ctx")).unwrap();
    std::fs::write(path("ctx/blob"), &data).unwrap();
    std::fs::write(path("ctx/Dockerfile"), "FROM scratch\nCOPY blob /blob\n").unwrap();
    let tag = format!("sgtest-uploads-{}:latest", std::process::id());
    let out = docker(
        &["build", "-q", "-t", &tag, &path("ctx")],
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
        &["build", "-q", "-t", &tag, &path("ctx")],
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
