//! A client that half-closes right after sending (busybox `nc`, `printf ... | nc`, scripts
//! that shut their write side) is answered as the daemon answers it: the half-close is passed
//! on, a finite answer comes back whole and an event stream ends at once. Compared side by
//! side with the same bytes sent to the real socket.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use e2e::docker::require_docker;
use e2e::guard::Guard;
use e2e::http::{parse_responses, RawResponse};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Sends `raw`, shuts the write side, reads to the end (10 s at most): the responses, and
/// whether the other side closed.
async fn half_closed<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    raw: &[u8],
) -> (Vec<RawResponse>, bool) {
    s.write_all(raw).await.unwrap();
    s.shutdown().await.unwrap();
    let mut out = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .is_ok();
    (parse_responses(&out, closed).0, closed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_closed_client_is_answered_as_the_daemon_answers_it() {
    require_docker();
    let guard = Guard::builder()
        .envs(&[("CONTAINERS", "1"), ("GUARD_COALESCE", "off")])
        .start()
        .await;
    for path in [
        "/v1.41/containers/json?all=1",
        "/_ping",
        "/version",
        "/events",
    ] {
        let raw = format!("GET {path} HTTP/1.1\r\nHost: docker\r\n\r\n");
        let direct = half_closed(
            tokio::net::UnixStream::connect("/var/run/docker.sock")
                .await
                .unwrap(),
            raw.as_bytes(),
        )
        .await;
        let through = half_closed(
            tokio::net::TcpStream::connect(guard.addr()).await.unwrap(),
            raw.as_bytes(),
        )
        .await;
        assert!(direct.1 && through.1, "{path}: a side did not close");
        let statuses = |r: &[RawResponse]| r.iter().map(|r| r.status).collect::<Vec<_>>();
        assert_eq!(statuses(&through.0), statuses(&direct.0), "{path}");
        assert_eq!(statuses(&through.0), vec![200], "{path}");
        if path.starts_with("/v1.41/containers") {
            let ids = |r: &RawResponse| {
                let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
                let mut ids: Vec<String> = v
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c["Id"].as_str().unwrap().to_owned())
                    .collect();
                ids.sort();
                ids
            };
            assert_eq!(ids(&through.0[0]), ids(&direct.0[0]));
        }
    }
    // Each ended as an allowed, answered request (the stream ended by the daemon, not cut).
    assert_eq!(guard.state().metrics.open_streams.get(), 0);
    assert_eq!(guard.state().metrics.upstream_errors.get(), 0);
}
