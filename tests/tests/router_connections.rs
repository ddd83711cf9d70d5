//! Client connections that cost little and cannot hold the router: `ROUTER_MAX_CONNECTIONS`
//! and `ROUTER_MAX_CONNECTIONS_PER_IP` close new connections over them at once (nothing
//! reaches the backend, the metrics count them, a freed slot is usable again); a kept-alive
//! client that goes idle hands its backend connection to the shared pool, where the next
//! client takes it, and is served again when it speaks. nginx is the backend, its access log
//! naming each request's backend connection.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use e2e::docker::require_docker;
use e2e::make::free_port;
use e2e::nginx::Nginx;
use e2e::router::{router_guard, Router};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// nginx answering `ok` on a free port, logging `<path> <its connection's serial number>`.
fn backend() -> (Nginx, u16) {
    let port = free_port();
    let nginx = Nginx::start(
        &format!(
            "  log_format conn '$request_uri $connection';\n  server {{ listen 127.0.0.1:{port}; access_log @DIR@/backend.log conn; keepalive_timeout 60s;\n    location / {{ return 200 \"ok\\n\"; }} }}\n"
        ),
        &[port],
    );
    (nginx, port)
}

/// The file provider's routes: `conn.test` to the backend.
fn routes(port: u16) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dynamic.yml");
    std::fs::write(
        &file,
        format!("http:\n  routers:\n    conn:\n      rule: Host(`conn.test`)\n      service: backend\n  services:\n    backend:\n      loadBalancer:\n        servers: [{{url: \"http://127.0.0.1:{port}\"}}]\n"),
    )
    .unwrap();
    (dir, file)
}

/// A connection to the router from `source` (another loopback address is another client).
async fn connect_from(source: [u8; 4], to: SocketAddr) -> TcpStream {
    let s = TcpSocket::new_v4().unwrap();
    s.bind(SocketAddr::from((source, 0))).unwrap();
    s.connect(to).await.unwrap()
}

/// Sends a keep-alive request for `path` and reads its answer: the status, or 0 when the
/// connection closed (or reset) without one.
async fn ask(s: &mut TcpStream, path: &str) -> u16 {
    let req = format!("GET {path} HTTP/1.1\r\nHost: conn.test\r\n\r\n");
    if s.write_all(req.as_bytes()).await.is_err() {
        return 0;
    }
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
            // The answer is short: its head and `ok\n`.
            if got.windows(4).any(|w| w == b"\r\n\r\n") && got.ends_with(b"ok\n") {
                return;
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer and no close within 5 s");
    std::str::from_utf8(&got)
        .ok()
        .and_then(|t| t.get(9..12))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// How many requests for `path` reached the backend.
fn reached(nginx: &Nginx, path: &str) -> usize {
    nginx
        .log_lines("backend.log")
        .iter()
        .filter(|l| l.split(' ').next() == Some(path))
        .count()
}

/// Polls `metric`'s line in the admin's /metrics until it reads `value` (5 s).
async fn wait_metric(router: &Router, metric: &str, value: &str) {
    let mut last = String::new();
    for _ in 0..50 {
        let m = router.admin_get("/metrics").await.text();
        last = m
            .lines()
            .find(|l| l.starts_with(metric))
            .unwrap_or_default()
            .to_owned();
        if last == format!("{metric} {value}") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{metric} is not {value}: {last:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_a_cap_are_closed_at_once_and_a_freed_slot_is_used_again() {
    require_docker();
    let (nginx, port) = backend();
    let (_dir, file) = routes(port);
    let guard = router_guard().start().await;
    let router = Router::builder()
        .admin()
        .with_file(&file)
        .env("ROUTER_MAX_CONNECTIONS", "4")
        .env("ROUTER_MAX_CONNECTIONS_PER_IP", "2")
        .start(&guard)
        .await;
    let web = router.web_addr();
    router.wait_status("conn.test", "/", 200).await;
    wait_metric(&router, "router_open_connections", "0").await;

    // Two clients from 127.0.0.1, kept open: the address's cap.
    let mut a1 = connect_from([127, 0, 0, 1], web).await;
    let mut a2 = connect_from([127, 0, 0, 1], web).await;
    assert_eq!(ask(&mut a1, "/a1").await, 200);
    assert_eq!(ask(&mut a2, "/a2").await, 200);
    let mut a3 = connect_from([127, 0, 0, 1], web).await;
    assert_eq!(
        ask(&mut a3, "/a3").await,
        0,
        "a third connection from one address"
    );
    // Two from 127.0.0.2: the total's cap.
    let mut b1 = connect_from([127, 0, 0, 2], web).await;
    let mut b2 = connect_from([127, 0, 0, 2], web).await;
    assert_eq!(ask(&mut b1, "/b1").await, 200);
    assert_eq!(ask(&mut b2, "/b2").await, 200);
    let mut c1 = connect_from([127, 0, 0, 3], web).await;
    assert_eq!(ask(&mut c1, "/c1").await, 0, "a fifth connection in all");
    // The refused requests had no effect.
    assert_eq!((reached(&nginx, "/a3"), reached(&nginx, "/c1")), (0, 0));
    wait_metric(&router, "router_open_connections", "4").await;
    wait_metric(
        &router,
        "router_refused_connections_total{cap=\"per_ip\"}",
        "1",
    )
    .await;
    wait_metric(
        &router,
        "router_refused_connections_total{cap=\"total\"}",
        "1",
    )
    .await;

    // The kept connections go on being served; a closed one frees its slot and its address's.
    assert_eq!(ask(&mut a1, "/a1").await, 200);
    drop(a2);
    wait_metric(&router, "router_open_connections", "3").await;
    let mut a4 = connect_from([127, 0, 0, 1], web).await;
    assert_eq!(ask(&mut a4, "/a4").await, 200);
    nginx
        .wait_log("backend.log", |l| l.iter().any(|l| l.starts_with("/a4 ")))
        .await;
    assert_eq!(reached(&nginx, "/a4"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_kept_alive_client_hands_its_backend_connection_to_the_next_client() {
    require_docker();
    let (nginx, port) = backend();
    let (_dir, file) = routes(port);
    let guard = router_guard().start().await;
    let router = Router::builder().with_file(&file).start(&guard).await;
    let web = router.web_addr();
    router.wait_status("conn.test", "/", 200).await;
    let mut first = TcpStream::connect(web).await.unwrap();
    assert_eq!(ask(&mut first, "/first").await, 200);
    // Idle past the parking delay, still open: its backend connection goes to the pool.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let mut second = TcpStream::connect(web).await.unwrap();
    assert_eq!(ask(&mut second, "/second").await, 200);
    // The first client, parked, is served when it speaks again.
    assert_eq!(ask(&mut first, "/first-again").await, 200);
    let lines = nginx
        .wait_log("backend.log", |l| {
            l.iter().any(|l| l.starts_with("/first-again "))
        })
        .await;
    let conn_of = |path: &str| {
        lines
            .iter()
            .find(|l| l.split(' ').next() == Some(path))
            .and_then(|l| l.split(' ').nth(1))
            .unwrap_or_else(|| panic!("no {path} in {lines:?}"))
            .to_owned()
    };
    assert_eq!(
        conn_of("/first"),
        conn_of("/second"),
        "the second client did not reuse the idle client's backend connection: {lines:?}"
    );
}

/// An HTTP/2 client that holds its stream's flow-control window at zero (SETTINGS
/// INITIAL_WINDOW_SIZE 0, never a WINDOW_UPDATE) after asking for a large answer: its
/// connection stays busy and writable, but the stream takes nothing. The router cuts the
/// stream after the entry point's idle timeout and closes the backend connection behind it,
/// which would otherwise stay open, with its kernel buffers, for as long as the client likes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_stream_held_at_a_zero_window_releases_its_backend_connection() {
    require_docker();
    // A backend that answers 64 MiB and notes when its connection is closed under it.
    let backend = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = backend.local_addr().unwrap().port();
    let (closed_tx, mut closed_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = backend.accept().await {
            let closed = closed_tx.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let size = 64usize << 20;
                let answer = format!("HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n");
                if s.write_all(answer.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = vec![b'x'; 64 * 1024];
                for _ in 0..size / chunk.len() {
                    if s.write_all(&chunk).await.is_err() {
                        let _ = closed.send(());
                        return;
                    }
                }
            });
        }
    });
    let (_dir, file) = routes(port);
    let guard = router_guard().start().await;
    let router = Router::builder()
        .websecure()
        .with_file(&file)
        .env("ROUTER_HEADER_TIMEOUT", "1s")
        .start(&guard)
        .await;
    let addr = router.websecure_addr();
    router.wait_routes(&["conn@file"]).await;
    // The preface, SETTINGS with INITIAL_WINDOW_SIZE (4) = 0, and GET https://conn.test/big
    // (HPACK: :method GET, :scheme https, :path literal /big, :authority literal).
    let mut frames = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    frames.extend_from_slice(&[0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0]);
    let block = [
        &[0x82, 0x87, 0x44, 4][..],
        b"/big",
        &[0x41, 9][..],
        b"conn.test",
    ]
    .concat();
    frames.extend_from_slice(&[0, 0, block.len() as u8, 1, 0x05, 0, 0, 0, 1]);
    frames.extend_from_slice(&block);
    let mut client = e2e::http::openssl_h2(addr, "conn.test");
    let mut stdin = client.stdin.take().unwrap();
    stdin.write_all(&frames).await.unwrap();
    // The answer's HEADERS come (the backend was reached); its body cannot.
    let mut stdout = client.stdout.take().unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let headers = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let n = stdout.read(&mut buf).await.unwrap_or(0);
            assert!(n > 0, "the router closed the connection before answering");
            out.extend_from_slice(&buf[..n]);
            let mut at = 0;
            while at + 9 <= out.len() {
                let len = usize::from(out[at]) << 16
                    | usize::from(out[at + 1]) << 8
                    | usize::from(out[at + 2]);
                if out[at + 3] == 1 {
                    return;
                }
                at += 9 + len;
            }
        }
    })
    .await;
    assert!(headers.is_ok(), "no HEADERS frame within 10 s");
    // The client stays connected and silent; the backend connection is closed under it.
    // (Cut after 1 s owed and 1 s ready; the connection's own end, its grace period after
    // going idle, would come 10 s later.)
    let released = tokio::time::timeout(Duration::from_secs(6), closed_rx.recv()).await;
    assert!(
        released.is_ok(),
        "the backend connection of a stream held at a zero window was still open after 6 s"
    );
    drop(stdin);
}
