//! An entry point's `transport.keepAliveMaxRequests`, `transport.keepAliveMaxTime` and
//! `transport.respondingTimeouts.writeTimeout`, as Traefik's: the answer that reaches a limit
//! says `Connection: close` and the connection ends; an answer not complete within the write
//! timeout ends with the connection closed. Real nginx behind the router, and a server that
//! takes its time (the fault).

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use e2e::nginx::Nginx;
use e2e::router::{routes_file, Router};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A server that answers each request 1.5 s after its head arrived.
async fn slow_server() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                tokio::time::sleep(Duration::from_millis(1500)).await;
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nslow\n")
                    .await;
            });
        }
    });
    port
}

/// Requests on one connection, one after the other: each answer's head, and whether the
/// router closed the connection after the last.
async fn on_one_connection(
    addr: std::net::SocketAddr,
    host: &str,
    n: usize,
    pause: Duration,
) -> (Vec<String>, bool) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut heads = Vec::new();
    for _ in 0..n {
        let req = format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
        if s.write_all(req.as_bytes()).await.is_err() {
            break;
        }
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        // nginx's body is `ok\n`: a whole answer ends with it.
        while !buf.ends_with(b"ok\n") {
            match tokio::time::timeout(Duration::from_secs(5), s.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
                Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let text = String::from_utf8_lossy(&buf).to_ascii_lowercase();
        let head = text.split("\r\n\r\n").next().unwrap_or("").to_owned();
        let last = head.contains("connection: close");
        heads.push(head);
        if last {
            break;
        }
        tokio::time::sleep(pause).await;
    }
    let closed = matches!(
        tokio::time::timeout(Duration::from_secs(2), s.read(&mut [0u8; 16])).await,
        Ok(Ok(0)) | Ok(Err(_))
    );
    (heads, closed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_limits_and_write_timeout() {
    let (_nginx, fast) = Nginx::answering("ok");
    let slow = slow_server().await;
    let dir = tempfile::tempdir().unwrap();
    let file = routes_file(
        dir.path(),
        &[
            ("fast", "fast.test", &format!("http://127.0.0.1:{fast}")),
            ("slow", "slow.test", &format!("http://127.0.0.1:{slow}")),
        ],
    );
    let router = Router::builder()
        .flags(&[
            &format!("--providers.file.filename={}", file.display()),
            "--entrypoints.counted.address=127.0.0.1:0",
            "--entrypoints.counted.transport.keepalivemaxrequests=3",
            "--entrypoints.aged.address=127.0.0.1:0",
            "--entrypoints.aged.transport.keepalivemaxtime=300ms",
            "--entrypoints.bounded.address=127.0.0.1:0",
            "--entrypoints.bounded.transport.respondingtimeouts.writetimeout=500ms",
        ])
        .start_without_docker()
        .await;
    router.wait_routes(&["fast@file", "slow@file"]).await;

    // The third answer says Connection: close, and the connection ends there.
    let (heads, closed) =
        on_one_connection(router.addr("counted"), "fast.test", 4, Duration::ZERO).await;
    assert_eq!(heads.len(), 3, "{heads:?}");
    assert!(
        heads[..2]
            .iter()
            .all(|h| h.starts_with("http/1.1 200") && !h.contains("connection: close")),
        "{heads:?}"
    );
    assert!(
        heads[2].starts_with("http/1.1 200") && heads[2].contains("connection: close"),
        "{heads:?}"
    );
    assert!(closed);

    // Past 300 ms, the next answer closes the connection.
    let (heads, closed) = on_one_connection(
        router.addr("aged"),
        "fast.test",
        3,
        Duration::from_millis(200),
    )
    .await;
    assert_eq!(heads.len(), 3, "{heads:?}");
    assert!(!heads[1].contains("connection: close"), "{heads:?}");
    assert!(heads[2].contains("connection: close"), "{heads:?}");
    assert!(closed);

    // writeTimeout: a fast answer comes; one that takes 1.5 s does not, the connection
    // closed at about 500 ms.
    let ex = e2e::http::exchange(
        router.addr("bounded"),
        b"GET / HTTP/1.1\r\nHost: fast.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(ex.statuses(), [200]);
    let started = Instant::now();
    let ex = e2e::http::exchange(
        router.addr("bounded"),
        b"GET / HTTP/1.1\r\nHost: slow.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(
        ex.statuses().is_empty(),
        "{}",
        String::from_utf8_lossy(&ex.raw)
    );
    assert!(
        started.elapsed() < Duration::from_millis(1400),
        "{:?}",
        started.elapsed()
    );
    // Without a write timeout the slow server's answer comes.
    let ex = e2e::http::exchange(
        router.web_addr(),
        b"GET / HTTP/1.1\r\nHost: slow.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(ex.statuses(), [200]);
}
