//! `GUARD_MAX_CONNECTIONS_PER_CLIENT`: a client with that many connections open gets a JSON 429
//! naming the variable on its next one (and the docker CLI prints it), while another client
//! address is served; once one of its connections ends, it is served again.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use e2e::docker::require_docker;
use e2e::guard::Guard;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// A kept-alive connection from `source` that got one answer to `GET /_ping`.
async fn pinged(guard: SocketAddr, source: [u8; 4]) -> (TcpStream, String) {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((source, 0))).unwrap();
    let mut s = socket.connect(guard).await.unwrap();
    s.write_all(b"GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    (s, String::from_utf8_lossy(&buf[..n]).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_over_its_connection_cap_is_refused_while_others_are_served() {
    require_docker();
    let guard = Guard::builder()
        .env("GUARD_MAX_CONNECTIONS_PER_CLIENT", "2")
        .start()
        .await;
    let (a1, r1) = pinged(guard.addr(), [127, 0, 0, 1]).await;
    let (_a2, r2) = pinged(guard.addr(), [127, 0, 0, 1]).await;
    assert!(
        r1.starts_with("HTTP/1.1 200") && r2.starts_with("HTTP/1.1 200"),
        "{r1}{r2}"
    );
    let (_, over) = pinged(guard.addr(), [127, 0, 0, 1]).await;
    assert!(over.starts_with("HTTP/1.1 429"), "{over}");
    assert!(
        over.contains("GUARD_MAX_CONNECTIONS_PER_CLIENT=2"),
        "{over}"
    );
    assert_eq!(guard.state().metrics.capped_connections.get(), 1);
    // Another client address is not counted with it.
    let (_b, other) = pinged(guard.addr(), [127, 0, 0, 2]).await;
    assert!(other.starts_with("HTTP/1.1 200"), "{other}");
    // The CLI prints the refusal as the daemon's error.
    let out = e2e::docker::docker(&["version"], &guard.docker_host()).await;
    assert!(!out.status.success());
    assert!(
        e2e::docker::text(&out.stderr).contains("GUARD_MAX_CONNECTIONS_PER_CLIENT"),
        "{}",
        e2e::docker::text(&out.stderr)
    );
    // One connection ends: the client is served again.
    drop(a1);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, again) = pinged(guard.addr(), [127, 0, 0, 1]).await;
        if again.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "never served again: {again}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
