//! `GUARD_MAX_REQUESTS_PER_CLIENT`: a client that sends more requests in a burst than its rate
//! gets a JSON 429 naming the variable for the ones over it (the connection goes on), another
//! client address is served meanwhile, and a second later the first is served again. The
//! refused requests never reach the daemon (the guard's own count of allowed answers).
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use e2e::docker::require_docker;
use e2e::guard::Guard;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

/// `n` pipelined `GET /_ping` from `source` on one connection: the statuses in order, and the
/// whole answer text.
async fn burst(guard: SocketAddr, source: [u8; 4], n: usize) -> (Vec<u16>, String) {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((source, 0))).unwrap();
    let mut s = socket.connect(guard).await.unwrap();
    let mut req = "GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n".repeat(n - 1);
    req.push_str("GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut all = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut all))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&all).into_owned();
    let statuses = text
        .match_indices("HTTP/1.1 ")
        .filter_map(|(i, _)| text[i + 9..i + 12].parse().ok())
        .collect();
    (statuses, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_over_its_request_rate_gets_429_while_others_are_served() {
    require_docker();
    let guard = Guard::builder()
        .env("GUARD_MAX_REQUESTS_PER_CLIENT", "5")
        .start()
        .await;
    let (statuses, text) = burst(guard.addr(), [127, 0, 0, 1], 10).await;
    assert_eq!(statuses.len(), 10, "{text}");
    assert_eq!(&statuses[..5], [200; 5], "{text}");
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    assert!(text.contains("GUARD_MAX_REQUESTS_PER_CLIENT=5"), "{text}");
    assert_eq!(guard.requests_counted("allow", "PING", 200), 5);
    let (other, _) = burst(guard.addr(), [127, 0, 0, 2], 3).await;
    assert_eq!(other, [200; 3]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (again, _) = burst(guard.addr(), [127, 0, 0, 1], 3).await;
    assert_eq!(again, [200; 3]);
}
