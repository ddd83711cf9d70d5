//! Faults around the guard: a Docker socket that appears late and goes away, clients that
//! vanish mid-stream, a thousand slow clients, and a daemon that hangs.
//!
//! Proves that: the socket is dialled per connection (a missing socket is a JSON 502, and the
//! guard recovers without a restart when it appears, disappears and comes back); a client that
//! disconnects from `/events` makes the guard close the upstream connection and the
//! open-streams gauge return to 0; 1,000 idle half-sent request heads do not keep another
//! client from being served, and are closed by `GUARD_HEADER_TIMEOUT`; a hanging daemon does
//! not stop the guard from answering what it decides itself, and hung requests release their
//! upstream connections when their clients leave; a malformed request pipelined behind one
//! that is still with the daemon is not answered in its place; a daemon that lies about its
//! framing (or answers more than it was asked) gets a 502 or a cut connection, never a second
//! answer passed off as the next request's.
//!
//! The fake daemons (`e2e::fake`) are used only for the faults a real dockerd cannot be made to
//! show on demand.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use e2e::fake::FakeDaemon;
use e2e::guard::Guard;
use e2e::http::{exchange, exchange_within, read_all};
use e2e::table::Req;
use e2e::wait_until;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BOUND: Duration = Duration::from_secs(10);

fn ping() -> Vec<u8> {
    Req::new("GET", "/_ping").close().bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_that_comes_and_goes_needs_no_restart() {
    e2e::docker::require_docker();
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("docker.sock");
    let guard = Guard::builder().socket(&link).start().await;

    let ex = exchange(guard.addr(), &ping()).await;
    assert_eq!(ex.statuses(), vec![502], "{}", ex.raw_text());
    let missing = &ex.responses[0];
    assert_eq!(missing.header("content-type"), Some("application/json"));
    let msg = missing.message().expect("a JSON message");
    assert!(
        msg.starts_with("socket-guard: GET /_ping: the Docker daemon is unreachable"),
        "{msg}"
    );

    // The socket appears: a symlink to the real daemon's socket, through a relay that can be
    // cut like a daemon that stops (which closes its connections, pooled ones included).
    let relay = FakeDaemon::relay_to_real(&dir.path().join("relay.sock"));
    std::os::unix::fs::symlink(relay.path(), &link).unwrap();
    let ex = exchange(guard.addr(), &ping()).await;
    assert_eq!(ex.statuses(), vec![200], "{}", ex.raw_text());
    assert_eq!(ex.responses[0].text(), "OK");

    std::fs::remove_file(&link).unwrap();
    drop(relay);
    let ex = exchange(guard.addr(), &ping()).await;
    assert_eq!(
        ex.statuses(),
        vec![502],
        "after the socket went away: {}",
        ex.raw_text()
    );

    let relay = FakeDaemon::relay_to_real(&dir.path().join("relay.sock"));
    std::os::unix::fs::symlink(relay.path(), &link).unwrap();
    // The first request after the daemon is back succeeds: no dead pooled connection is used.
    let ex = exchange(guard.addr(), &ping()).await;
    assert_eq!(
        ex.statuses(),
        vec![200],
        "after the socket came back: {}",
        ex.raw_text()
    );
    assert_eq!(guard.state().metrics.upstream_errors.get(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_leaving_a_stream_closes_the_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeDaemon::streaming(&dir.path().join("docker.sock"));
    let guard = Guard::builder().socket(fake.path()).start().await;
    let metrics = guard.state().metrics.clone();

    let mut client = TcpStream::connect(guard.addr()).await.unwrap();
    client
        .write_all(&Req::new("GET", "/events").bytes())
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("tick") {
        let n = tokio::time::timeout(BOUND, client.read(&mut buf))
            .await
            .expect("events arrive")
            .unwrap();
        assert!(
            n > 0,
            "the guard closed the stream: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    assert!(String::from_utf8_lossy(&seen).starts_with("HTTP/1.1 200 OK\r\n"));
    assert_eq!(metrics.open_streams.get(), 1);
    assert_eq!((fake.counts().requests(), fake.counts().closed()), (1, 0));

    drop(client);
    let counts = fake.counts().clone();
    assert!(
        wait_until(BOUND, || counts.closed() == 1).await,
        "the upstream connection was not closed within {BOUND:?} of the client leaving"
    );
    assert!(
        wait_until(BOUND, || metrics.open_streams.get() == 0).await,
        "open_streams stayed at {}",
        metrics.open_streams.get()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_do_not_block_others_and_time_out() {
    e2e::docker::require_docker();
    const SLOW: usize = 1000;
    // Both ends of every connection live in this process.
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let open_files: usize = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3)?.parse().ok())
        .unwrap_or(usize::MAX);
    assert!(
        open_files > 2 * SLOW + 200,
        "this test needs more than {} open files (ulimit -n is {open_files})",
        2 * SLOW + 200
    );
    let guard = Guard::builder()
        .env("GUARD_HEADER_TIMEOUT", "2")
        .start()
        .await;
    let addr = guard.addr();

    let mut opening = tokio::task::JoinSet::new();
    for _ in 0..SLOW {
        opening.spawn(async move {
            let mut s = TcpStream::connect(addr)
                .await
                .expect("open a slow connection");
            s.write_all(b"GET /_ping HTTP/1.1\r\nHost: docker\r\n")
                .await
                .expect("send half a head");
            (s, Instant::now())
        });
    }
    let mut slow = Vec::with_capacity(SLOW);
    while let Some(s) = opening.join_next().await {
        slow.push(s.unwrap());
    }

    let ex = exchange_within(addr, &ping(), BOUND).await;
    assert_eq!(
        ex.statuses(),
        vec![200],
        "with {SLOW} slow clients open: {}",
        ex.raw_text()
    );

    // Each is closed by the header timeout; none is ever answered as if its head were whole.
    let mut closing = tokio::task::JoinSet::new();
    for (mut s, sent) in slow {
        closing.spawn(async move {
            (
                read_all(&mut s, Duration::from_secs(20)).await,
                sent.elapsed(),
            )
        });
    }
    let mut still_open = 0;
    while let Some(done) = closing.join_next().await {
        let (ex, open_for) = done.unwrap();
        if !ex.closed {
            still_open += 1;
        }
        assert!(
            ex.statuses().iter().all(|s| *s == 408),
            "a slow client got {}",
            ex.raw_text()
        );
        // A lower bound only: closed by the 2 s header timeout, not by something earlier.
        assert!(
            open_for >= Duration::from_millis(1500),
            "a slow client was closed after {open_for:?}"
        );
    }
    assert_eq!(
        still_open, 0,
        "{still_open} of {SLOW} slow connections were still open after 20 s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_daemon_does_not_hang_the_guard() {
    const HUNG: usize = 20;
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeDaemon::hanging(&dir.path().join("docker.sock"));
    let guard = Guard::builder()
        .env("CONTAINERS", "1")
        .socket(fake.path())
        .start()
        .await;
    let addr = guard.addr();

    // Twenty different reads (identical ones would share one daemon request: see
    // guard_coalesce.rs for those).
    let mut hung = Vec::new();
    for i in 0..HUNG {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(&Req::new("GET", &format!("/containers/json?limit={i}")).bytes())
            .await
            .unwrap();
        hung.push(s);
    }
    let counts = fake.counts().clone();
    assert!(
        wait_until(BOUND, || counts.requests() == HUNG).await,
        "{} requests reached the fake",
        counts.requests()
    );

    // What the guard decides by itself is still answered.
    let create = Req::new("POST", "/containers/create")
        .close()
        .json("{}")
        .bytes();
    let ex = exchange_within(addr, &create, BOUND).await;
    assert_eq!(ex.statuses(), vec![403], "{}", ex.raw_text());
    let smuggle = b"POST /containers/create HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n";
    let ex = exchange_within(addr, smuggle, BOUND).await;
    assert_eq!(ex.statuses(), vec![400], "{}", ex.raw_text());

    // The hung requests hold one upstream connection each, released when their clients go,
    // and each leaves its audit line: the daemon got the request.
    drop(hung);
    assert!(
        wait_until(BOUND, || counts.closed() == HUNG).await,
        "{} of {HUNG} upstream connections closed",
        counts.closed()
    );
    let left = guard.requests_counted("allow", "CONTAINERS", 0);
    assert_eq!(left, HUNG as u64, "requests whose client left are counted");

    // A client that pipelines more than the backlog while its answer is pending is closed,
    // and so is its daemon connection.
    let mut greedy = TcpStream::connect(addr).await.unwrap();
    greedy
        .write_all(&Req::new("GET", "/containers/json").bytes())
        .await
        .unwrap();
    assert!(
        wait_until(BOUND, || counts.requests() == HUNG + 1).await,
        "the greedy request did not reach the fake"
    );
    let filler = Req::new("GET", "/_ping").bytes();
    let mut sent = 0;
    while sent < 256 * 1024 {
        if greedy.write_all(&filler).await.is_err() {
            break;
        }
        sent += filler.len();
    }
    let ex = read_all(&mut greedy, BOUND).await;
    assert!(ex.closed, "the greedy client was not closed");
    assert!(ex.responses.is_empty(), "{}", ex.raw_text());
    assert!(
        wait_until(BOUND, || counts.closed() == HUNG + 1).await,
        "the greedy client's daemon connection stayed open"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_pipelined_request_does_not_answer_for_the_one_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeDaemon::hanging(&dir.path().join("docker.sock"));
    let guard = Guard::builder()
        .env("CONTAINERS", "1")
        .socket(fake.path())
        .start()
        .await;
    let counts = fake.counts().clone();

    let mut client = TcpStream::connect(guard.addr()).await.unwrap();
    client
        .write_all(&Req::new("GET", "/containers/json").bytes())
        .await
        .unwrap();
    assert!(
        wait_until(BOUND, || counts.requests() == 1).await,
        "the first request was not forwarded"
    );
    // A second, malformed request arrives while the first is with the daemon.
    client
        .write_all(b"GET /containers/json HTTP/1.1\nHost: docker\n\n")
        .await
        .unwrap();

    // HTTP/1.1 answers in request order (RFC 9112 section 9.3.2): the client would read any
    // answer now as the daemon's answer to its first request, which the daemon never gave.
    let ex = read_all(&mut client, Duration::from_secs(3)).await;
    assert!(
        ex.raw.is_empty(),
        "an answer came back for a request the daemon has not answered: {}",
        ex.raw_text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_that_lies_about_framing_is_not_believed() {
    let dir = tempfile::tempdir().unwrap();
    let two = || {
        let mut b = Req::new("GET", "/_ping").bytes();
        b.extend(Req::new("GET", "/_ping").close().bytes());
        b
    };

    // Ambiguous answers: 502, and the connection to that daemon is dropped.
    for (i, answer) in [
        &b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\nOKxxx"[..],
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nOK\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nOK",
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n",
        b"NOT HTTP\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nOK\r\n0\r\n\r\n",
    ]
    .into_iter()
    .enumerate()
    {
        let fake = FakeDaemon::lying(&dir.path().join(format!("lie{i}.sock")), answer);
        let guard = Guard::builder().socket(fake.path()).start().await;
        let ex = exchange(guard.addr(), &ping()).await;
        assert_eq!(
            ex.statuses(),
            vec![502],
            "answer {:?}: {}",
            String::from_utf8_lossy(answer),
            ex.raw_text()
        );
        let msg = ex.responses[0].message().unwrap_or_default();
        assert!(msg.contains("socket-guard: GET /_ping"), "{msg}");
        assert_eq!(guard.state().metrics.upstream_errors.get(), 1);
    }

    // More than was asked: the extra "answer" is never passed off as the second request's;
    // the second request goes out on a new daemon connection and gets its own answer.
    let fake = FakeDaemon::lying(
        &dir.path().join("extra.sock"),
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOKHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nEVIL",
    );
    let guard = Guard::builder().socket(fake.path()).start().await;
    let ex = exchange(guard.addr(), &two()).await;
    assert_eq!(ex.statuses(), vec![200, 200], "{}", ex.raw_text());
    assert!(
        ex.responses.iter().all(|r| r.text() == "OK"),
        "{}",
        ex.raw_text()
    );
    assert!(!ex.raw_text().contains("EVIL"), "{}", ex.raw_text());
    assert_eq!(
        fake.counts().accepted(),
        2,
        "the tainted connection was reused"
    );

    // A body cut short: the client's connection is cut too, and nothing follows it.
    let fake = FakeDaemon::lying(
        &dir.path().join("short.sock"),
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort",
    );
    let guard = Guard::builder().socket(fake.path()).start().await;
    let counts = fake.counts().clone();
    let mut client = TcpStream::connect(guard.addr()).await.unwrap();
    client.write_all(&two()).await.unwrap();
    assert!(
        wait_until(BOUND, || counts.requests() >= 1).await,
        "the request did not reach the fake"
    );
    drop(fake);
    let ex = read_all(&mut client, BOUND).await;
    assert!(
        ex.closed,
        "the client connection stayed open after a cut body"
    );
    // Nothing of the pipelined request is answered: it was never sent on.
    assert!(ex.responses.is_empty(), "{}", ex.raw_text());
}
