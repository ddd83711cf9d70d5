//! The router's HTTP/1.1 on the wire, end to end: exact bytes from a client, a recording
//! backend behind it (in this process, routed through a labelled container in the host's
//! network namespace, discovered through socket-guard like any other).
//!
//! Proves that: ambiguous or malformed requests (smuggling shapes, bare LF, folding, no or two
//! `Host`, an oversized head, a malformed chunk) are refused with a plain 4xx and never reach
//! the backend, while well-framed ones reach it exactly (bodies by length and chunked,
//! pipelined requests answered in order, `Expect: 100-continue`, HTTP/1.0, absolute-form
//! targets); hop-by-hop headers never pass in either direction; a backend that lies about its
//! framing, upgrades unasked, sends garbage or nothing gets a 502, one that hangs a 504, one
//! that cuts its body short has the client connection cut too, and a kept backend connection
//! the backend closed while idle is replaced without the client noticing; a backend's early
//! answer to a large upload (a 413 before it read the body) reaches the client whether it is
//! still sending or has stalled, and an upload the router answers itself (no route) can be
//! sent whole and its answer read.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use e2e::docker::{require_docker, Cleanup};
use e2e::http::{exchange, exchange_within, read_all, upload, Framing, BIG_UPLOAD, EARLY_UPLOADS};
use e2e::router::{router_guard, run_whoami, unique, Labels, Router};
use e2e::wait_until;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How long a backend connection's end is waited for (the backend itself gives up on a
/// connection that carries nothing more after 10 s).
const BOUND: Duration = Duration::from_secs(20);

/// A request as the backend received it.
#[derive(Debug, Clone)]
struct Seen {
    conn: usize,
    head: String,
    body: Vec<u8>,
    /// False for what a connection carried after its last whole request, up to its end: then
    /// `head` is empty and `body` has every byte that arrived, head included.
    complete: bool,
}

impl Seen {
    fn target(&self) -> &str {
        self.head.split(' ').nth(1).unwrap_or("")
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.head.split("\r\n").skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then_some(v.trim())
        })
    }
}

type Log = Arc<Mutex<Vec<Seen>>>;

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A backend connection, and the bytes of the request being read as they arrived.
struct Wire {
    s: TcpStream,
    raw: Vec<u8>,
}

/// Reads more into `buf`; false at the end of the connection.
async fn fill(w: &mut Wire, buf: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 8192];
    match w.s.read(&mut chunk).await {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            w.raw.extend_from_slice(&chunk[..n]);
            true
        }
    }
}

/// Reads one request (head and body, by length or chunked) off `buf`/`s`.
async fn read_request(s: &mut Wire, buf: &mut Vec<u8>) -> Option<(String, Vec<u8>)> {
    let end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i + 4;
        }
        if !fill(s, buf).await {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    buf.drain(..end);
    // `/early` is answered before its body is read.
    if head
        .split(' ')
        .nth(1)
        .is_some_and(|t| t.starts_with("/early"))
    {
        return Some((head, Vec::new()));
    }
    let lower = head.to_ascii_lowercase();
    let mut body = Vec::new();
    if let Some(len) = lower
        .split("\r\n")
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
    {
        while buf.len() < len {
            if !fill(s, buf).await {
                return None;
            }
        }
        body = buf.drain(..len).collect();
    } else if lower.contains("transfer-encoding: chunked") {
        loop {
            let line_end = loop {
                if let Some(i) = find(buf, b"\r\n") {
                    break i;
                }
                if !fill(s, buf).await {
                    return None;
                }
            };
            let size = usize::from_str_radix(
                String::from_utf8_lossy(&buf[..line_end])
                    .split(';')
                    .next()?
                    .trim(),
                16,
            )
            .ok()?;
            buf.drain(..line_end + 2);
            if size == 0 {
                // Trailer lines, up to an empty one.
                loop {
                    while find(buf, b"\r\n").is_none() {
                        if !fill(s, buf).await {
                            return None;
                        }
                    }
                    let e = find(buf, b"\r\n")?;
                    buf.drain(..e + 2);
                    if e == 0 {
                        break;
                    }
                }
                break;
            }
            while buf.len() < size + 2 {
                if !fill(s, buf).await {
                    return None;
                }
            }
            body.extend(buf.drain(..size));
            buf.drain(..2);
        }
    }
    Some((head, body))
}

/// The recording backend: answers by path (see the match below), keeps connections alive.
async fn backend(log: Log) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut conns = 0;
        loop {
            let Ok((s, _)) = listener.accept().await else {
                return;
            };
            conns += 1;
            let (conn, log) = (conns, log.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut w = Wire { s, raw: Vec::new() };
                loop {
                    let Some((head, body)) = read_request(&mut w, &mut buf).await else {
                        // Whatever came after the last whole request (a request whose body
                        // never completed, or that is not one), recorded at the connection's
                        // end (bounded).
                        let _ = tokio::time::timeout(Duration::from_secs(10), async {
                            while fill(&mut w, &mut buf).await {}
                        })
                        .await;
                        if !w.raw.is_empty() {
                            log.lock().unwrap().push(Seen {
                                conn,
                                head: String::new(),
                                body: std::mem::take(&mut w.raw),
                                complete: false,
                            });
                        }
                        return;
                    };
                    // What is left in `buf` was sent after this request.
                    w.raw = buf.clone();
                    let s = &mut w.s;
                    let seen = Seen {
                        conn,
                        head,
                        body,
                        complete: true,
                    };
                    let target = seen.target().to_owned();
                    log.lock().unwrap().push(seen.clone());
                    let path = target.split('?').next().unwrap_or("").to_owned();
                    let answer: Vec<u8> = match path.as_str() {
                        "/chunked" => b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n".to_vec(),
                        "/length-named-hop-by-hop" => b"HTTP/1.1 200 OK\r\nConnection: Content-Length\r\nContent-Length: 5\r\n\r\nhello".to_vec(),
                        "/no-content" => b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n".to_vec(),
                        "/hop" => b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: X-Internal\r\nX-Internal: secret\r\nKeep-Alive: timeout=5\r\nProxy-Authenticate: Basic\r\n\r\nok".to_vec(),
                        "/lie-lengths" => b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!".to_vec(),
                        "/lie-length-and-chunked" => b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_vec(),
                        "/lie-upgrade" => b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nraw".to_vec(),
                        "/garbage" => b"SSH-2.0-OpenSSH\r\n\r\n".to_vec(),
                        "/cut" => {
                            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789").await;
                            return;
                        }
                        "/nothing" => return,
                        "/early" => {
                            // Answers without reading the body and closes as Go's server
                            // does: its sending side first, the socket half a second later.
                            let _ = s.write_all(b"HTTP/1.1 413 Payload Too Large\r\nContent-Type: text/plain\r\nContent-Length: 9\r\nConnection: close\r\n\r\ntoo large").await;
                            let _ = s.shutdown().await;
                            tokio::time::sleep(Duration::from_millis(500)).await;
                            return;
                        }
                        "/hang" => {
                            tokio::time::sleep(Duration::from_secs(30)).await;
                            return;
                        }
                        "/idle-close" => {
                            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbye\n").await;
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            return;
                        }
                        _ => {
                            let text = format!(
                                "{} {} body={}\n",
                                seen.head.split(' ').next().unwrap_or(""),
                                target,
                                String::from_utf8_lossy(&seen.body)
                            );
                            format!(
                                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{text}",
                                text.len()
                            )
                            .into_bytes()
                        }
                    };
                    if s.write_all(&answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// A router with a route `Host(host)` to a recording backend, and a route `PathPrefix(/any-NAME)`
/// (`host` is `NAME.test`) to it that any host reaches.
async fn setup(c: &Cleanup, prefix: &str) -> (Router, String, Log, e2e::guard::Guard) {
    let log: Log = Arc::default();
    let addr = backend(log.clone()).await;
    let guard = router_guard().start().await;
    let router = Router::builder()
        .env("ROUTER_MAX_HEADER_BYTES", "8192")
        .env("ROUTER_RESPONSE_TIMEOUT", "1s")
        .start(&guard)
        .await;
    let name = unique(prefix);
    let host = format!("{name}.test");
    let labels = Labels::enabled()
        .router(&name, "rule", &format!("Host(`{host}`)"))
        .router(&name, "service", &name)
        .router(
            &format!("{name}-any"),
            "rule",
            &format!("PathPrefix(`/any-{name}`)"),
        )
        .router(&format!("{name}-any"), "service", &name)
        .service(&name, "server.port", &addr.port().to_string());
    run_whoami(
        c,
        "host",
        "host",
        &labels,
        &["-e", "WHOAMI_LISTEN=127.0.0.1:0"],
    )
    .await;
    router.wait_status(&host, "/ready", 200).await;
    log.lock().unwrap().clear();
    (router, host, log, guard)
}

/// The whole requests the backend got.
fn seen(log: &Log) -> Vec<Seen> {
    log.lock()
        .unwrap()
        .iter()
        .filter(|s| s.complete)
        .cloned()
        .collect()
}

/// What connections carried after their last whole request.
fn partial(log: &Log) -> Vec<Seen> {
    log.lock()
        .unwrap()
        .iter()
        .filter(|s| !s.complete)
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_never_reach_the_backend_and_well_framed_ones_reach_it_exactly() {
    require_docker();
    let c = Cleanup::new("rt-wire");
    let (router, host, log, _guard) = setup(&c, "wire").await;
    let addr = router.web_addr();

    // Control: the route that any host reaches does reach the backend.
    let any = format!("/any-{}", host.trim_end_matches(".test"));
    let ex = exchange(
        addr,
        format!("GET {any} HTTP/1.1\r\nHost: elsewhere.test\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .await;
    assert_eq!(ex.statuses(), vec![200], "{}", ex.raw_text());
    assert_eq!(seen(&log).len(), 1, "the control reached the backend");
    log.lock().unwrap().clear();

    // Refused before anything is forwarded: status, a plain page, the connection closed,
    // and nothing at the backend.
    let long = "a".repeat(9000);
    let refused: Vec<(&str, String, u16)> = vec![
        ("Content-Length with Transfer-Encoding", format!("POST /x HTTP/1.1\r\nHost: {host}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: {host}\r\n\r\n"), 400),
        ("two lengths", format!("POST /x HTTP/1.1\r\nHost: {host}\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde"), 400),
        ("a signed length", format!("POST /x HTTP/1.1\r\nHost: {host}\r\nContent-Length: +4\r\n\r\nabcd"), 400),
        ("a transfer coding but chunked", format!("POST /x HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"), 400),
        ("Transfer-Encoding twice", format!("POST /x HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), 400),
        ("a bare LF", format!("GET /x HTTP/1.1\nHost: {host}\r\n\r\n"), 400),
        ("obsolete line folding", format!("GET /x HTTP/1.1\r\nHost: {host}\r\nX-A: 1\r\n 2\r\n\r\n"), 400),
        ("a space before the colon", format!("GET /x HTTP/1.1\r\nHost: {host}\r\nContent-Length : 0\r\n\r\n"), 400),
        // A path that any host reaches (the control below shows it): refused only for the
        // missing Host.
        ("no Host", format!("GET {any} HTTP/1.1\r\nX-A: 1\r\n\r\n"), 400),
        ("two Hosts", format!("GET /x HTTP/1.1\r\nHost: {host}\r\nHost: other.test\r\n\r\n"), 400),
        ("a CONNECT target", format!("CONNECT {host}:443 HTTP/1.1\r\nHost: {host}\r\n\r\n"), 400),
        ("an expectation other than 100-continue", format!("POST /x HTTP/1.1\r\nHost: {host}\r\nContent-Length: 4\r\nExpect: x-then-run\r\n\r\nabcd"), 417),
        ("an HTTP/1.0 chunked body", format!("POST /x HTTP/1.0\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), 400),
        ("a head larger than ROUTER_MAX_HEADER_BYTES", format!("GET /x HTTP/1.1\r\nHost: {host}\r\nX-Long: {long}\r\n\r\n"), 431),
    ];
    for (what, bytes, status) in &refused {
        let ex = exchange(addr, bytes.as_bytes()).await;
        assert_eq!(ex.statuses(), vec![*status], "{what}: {}", ex.raw_text());
        assert!(ex.closed, "{what}: the connection stays open");
        let r = &ex.responses[0];
        assert_eq!(
            r.header("content-type"),
            Some("text/plain; charset=utf-8"),
            "{what}"
        );
        assert!(
            seen(&log).is_empty(),
            "{what} reached the backend: {:?}",
            seen(&log)
        );
    }

    // A malformed chunk: the head went on, the body never completes at the backend, and no
    // byte after the bad chunk size reaches it; the client gets a 400 and its connection
    // closes. Control first: a chunk that parses, then the client leaves; the backend's record
    // of the unfinished request shows that body bytes the router passed on are seen.
    let unfinished = |req: String| async move {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(req.as_bytes()).await.unwrap();
        s
    };
    let s = unfinished(format!(
        "POST /x HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nmarker\r\n"
    ))
    .await;
    // The router passes a chunk on as it is decoded; a generous second for it to do so.
    tokio::time::sleep(Duration::from_secs(1)).await;
    drop(s);
    let carried = {
        let log = log.clone();
        move || !partial(&log).is_empty()
    };
    assert!(
        wait_until(BOUND, carried.clone()).await,
        "the control's head never reached the backend"
    );
    assert!(
        partial(&log)
            .iter()
            .any(|p| find(&p.body, b"marker").is_some()),
        "the control's chunk did not reach the backend: {:?}",
        partial(&log)
    );
    log.lock().unwrap().clear();

    let ex = exchange(
        addr,
        format!("POST /x HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nmarker\r\n0\r\n\r\n").as_bytes(),
    )
    .await;
    assert_eq!(ex.statuses(), vec![400], "{}", ex.raw_text());
    assert!(ex.closed);
    assert!(seen(&log).is_empty(), "{:?}", seen(&log));
    // The backend connection that carried the head ends, and what it carried is the head only.
    assert!(
        wait_until(BOUND, carried).await,
        "the head never reached the backend"
    );
    for p in partial(&log) {
        assert!(p.body.starts_with(b"POST /x HTTP/1.1\r\n"), "{:?}", p);
        assert!(
            find(&p.body, b"zz").is_none() && find(&p.body, b"marker").is_none(),
            "bytes after a bad chunk size reached the backend: {:?}",
            String::from_utf8_lossy(&p.body)
        );
    }
    log.lock().unwrap().clear();

    // A head that stops coming: 408 after the header timeout is not waited for here; a
    // client that leaves mid-head reaches nothing.
    let ex = exchange_within(
        addr,
        format!("GET /x HTTP/1.1\r\nHost: {host}\r\n").as_bytes(),
        Duration::from_millis(300),
    )
    .await;
    assert!(ex.responses.is_empty(), "{}", ex.raw_text());
    assert!(seen(&log).is_empty());

    // Well-framed: pipelined requests (by length, chunked, none) answered in order on one
    // connection, each reaching the backend exactly once with its body; the extra CRLF after
    // the first body (RFC 9112 2.2) is skipped, not forwarded.
    let pipeline = format!(
        "POST /one HTTP/1.1\r\nHost: {host}\r\nContent-Length: 5\r\n\r\nhello\r\n\
         POST /two HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n\
         GET /three?q=1 HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    );
    let ex = exchange(addr, pipeline.as_bytes()).await;
    assert_eq!(ex.statuses(), vec![200, 200, 200], "{}", ex.raw_text());
    let bodies: Vec<String> = ex.responses.iter().map(|r| r.text()).collect();
    assert_eq!(
        bodies,
        vec![
            "POST /one body=hello\n",
            "POST /two body=abcde\n",
            "GET /three?q=1 body=\n"
        ]
    );
    assert!(ex.closed, "Connection: close is honoured");
    let got = seen(&log);
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got[1].head.starts_with("POST /two HTTP/1.1\r\n"), "{got:?}");
    assert_eq!(got[1].header("transfer-encoding"), Some("chunked"));
    assert_eq!(got[1].header("x-trailer"), None, "trailers are not headers");
    log.lock().unwrap().clear();

    // `Expect: 100-continue`: the router says continue, then the body goes on.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("PUT /expect HTTP/1.1\r\nHost: {host}\r\nContent-Length: 4\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut first = vec![0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut first))
        .await
        .expect("100 Continue in time")
        .unwrap();
    assert!(
        first[..n].starts_with(b"HTTP/1.1 100 Continue\r\n\r\n"),
        "{}",
        String::from_utf8_lossy(&first[..n])
    );
    s.write_all(b"data").await.unwrap();
    let ex = read_all(&mut s, Duration::from_secs(5)).await;
    assert_eq!(ex.statuses(), vec![200]);
    assert_eq!(ex.responses[0].text(), "PUT /expect body=data\n");
    assert_eq!(
        seen(&log)[0].header("expect"),
        None,
        "the router answered it"
    );
    log.lock().unwrap().clear();

    // HTTP/1.0: a chunked answer is de-chunked for it, and its connection closes.
    let ex = exchange(
        addr,
        format!("GET /chunked HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes(),
    )
    .await;
    assert_eq!(ex.statuses(), vec![200], "{}", ex.raw_text());
    assert_eq!(ex.responses[0].text(), "hello world");
    assert_eq!(ex.responses[0].header("transfer-encoding"), None);
    assert!(ex.closed);
    // HTTP/1.1 gets it chunked, as sent.
    let ex = exchange(
        addr,
        format!("GET /chunked HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await;
    assert_eq!(ex.responses[0].header("transfer-encoding"), Some("chunked"));
    assert_eq!(ex.responses[0].text(), "hello world");

    // An absolute-form target names the host (RFC 9112 3.2.2), whatever Host says; the
    // backend gets the origin form.
    log.lock().unwrap().clear();
    let ex = exchange(addr, format!("GET http://{host}/abs?x=1 HTTP/1.1\r\nHost: elsewhere.test\r\nConnection: close\r\n\r\n").as_bytes()).await;
    assert_eq!(ex.statuses(), vec![200], "{}", ex.raw_text());
    assert_eq!(seen(&log)[0].target(), "/abs?x=1");
    assert_eq!(
        seen(&log)[0].header("host"),
        Some(host.as_str()),
        "the backend sees the host the request was routed by"
    );

    // `Content-Length: 0` is forwarded as a length, not dropped.
    log.lock().unwrap().clear();
    let ex = exchange(addr, format!("POST /empty HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").as_bytes()).await;
    assert_eq!(ex.statuses(), vec![200], "{}", ex.raw_text());
    assert_eq!(seen(&log)[0].header("content-length"), Some("0"));

    // Hop-by-hop headers never pass: the client's to the backend, the backend's to the client.
    log.lock().unwrap().clear();
    let ex = exchange(
        addr,
        format!("GET /hop HTTP/1.1\r\nHost: {host}\r\nConnection: close, X-Secret\r\nX-Secret: 1\r\nKeep-Alive: 5\r\nTE: deflate\r\nProxy-Authorization: Basic eDp5\r\nX-Forwarded-For: 203.0.113.9\r\nX-End-To-End: yes\r\n\r\n").as_bytes(),
    )
    .await;
    assert_eq!(ex.statuses(), vec![200], "{}", ex.raw_text());
    let r = &ex.responses[0];
    for h in ["x-internal", "keep-alive", "proxy-authenticate"] {
        assert_eq!(
            r.header(h),
            None,
            "{h} passed to the client: {:?}",
            r.headers
        );
    }
    let got = &seen(&log)[0];
    for h in ["x-secret", "keep-alive", "te", "proxy-authorization"] {
        assert_eq!(
            got.header(h),
            None,
            "{h} passed to the backend: {}",
            got.head
        );
    }
    assert_eq!(got.header("x-end-to-end"), Some("yes"));
    // Except `TE: trailers`, which goes on alone, as Go's reverse proxy (Traefik's) sends it:
    // gRPC servers require it.
    log.lock().unwrap().clear();
    let ex = exchange(
        addr,
        format!("GET /te HTTP/1.1\r\nHost: {host}\r\nTE: deflate, trailers;q=1\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await;
    assert_eq!(ex.statuses(), vec![200], "{}", ex.raw_text());
    assert_eq!(seen(&log)[0].header("te"), Some("trailers"));
    // The client is not a trusted proxy (no forwardedHeaders.trustedIPs): its own
    // X-Forwarded-For is dropped, as Traefik drops it, and the backend sees the client only.
    assert_eq!(got.header("x-forwarded-for"), Some("127.0.0.1"));
    assert_eq!(got.header("host"), Some(host.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_that_lies_hangs_or_closes_is_contained() {
    require_docker();
    let c = Cleanup::new("rt-wire-faults");
    let (router, host, log, _guard) = setup(&c, "wire-faults").await;
    let addr = router.web_addr();
    let get = |path: &str| format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n");

    // Framing the router cannot trust, an upgrade nobody asked for, not HTTP at all, no
    // answer: a 502 on a connection that stays usable; the next request on it is served.
    for path in [
        "/lie-lengths",
        "/lie-length-and-chunked",
        "/lie-upgrade",
        "/garbage",
        "/nothing",
    ] {
        let bytes = format!(
            "{}GET /after HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n",
            get(path)
        );
        let ex = exchange_within(addr, bytes.as_bytes(), Duration::from_secs(3)).await;
        assert_eq!(ex.statuses(), vec![502, 200], "{path}: {}", ex.raw_text());
        assert_eq!(ex.responses[0].text(), "Bad Gateway", "{path}");
        assert_eq!(ex.responses[1].text(), "GET /after body=\n", "{path}");
    }

    // The client's framing is the router's own: a backend that names `Content-Length` in
    // `Connection` still gets its body delimited, and the next answer is not swallowed; a 204
    // carries no length.
    let bytes = format!(
        "{}{}GET /after HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n",
        get("/length-named-hop-by-hop"),
        get("/no-content")
    );
    let ex = exchange(addr, bytes.as_bytes()).await;
    assert_eq!(ex.statuses(), vec![200, 204, 200], "{}", ex.raw_text());
    assert_eq!(ex.responses[0].header("content-length"), Some("5"));
    assert_eq!(ex.responses[0].text(), "hello");
    assert_eq!(ex.responses[1].header("content-length"), None);
    assert_eq!(ex.responses[2].text(), "GET /after body=\n");

    // A backend that does not answer in ROUTER_RESPONSE_TIMEOUT: 504.
    let ex = exchange_within(addr, get("/hang").as_bytes(), Duration::from_secs(5)).await;
    assert_eq!(ex.statuses(), vec![504], "{}", ex.raw_text());

    // A body cut short: what came is relayed and the client connection is cut, so the client
    // sees an incomplete answer instead of a complete wrong one.
    let ex = exchange_within(
        addr,
        format!("{}{}", get("/cut"), get("/after")).as_bytes(),
        Duration::from_secs(5),
    )
    .await;
    assert!(ex.closed, "{}", ex.raw_text());
    assert!(ex.responses.is_empty(), "{}", ex.raw_text());
    assert!(
        ex.raw_text().starts_with("HTTP/1.1 200 OK\r\n"),
        "{}",
        ex.raw_text()
    );
    assert!(ex.raw_text().ends_with("0123456789"), "{}", ex.raw_text());

    // A kept backend connection the backend closed while idle: the next request on the same
    // client connection is sent on a new one, and the client never sees the difference.
    log.lock().unwrap().clear();
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(get("/idle-close").as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let mut got = Vec::new();
    while !got.ends_with(b"bye\n") {
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    s.write_all(
        format!("GET /again HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let ex = read_all(&mut s, Duration::from_secs(5)).await;
    assert_eq!(ex.statuses(), vec![200], "{}", ex.raw_text());
    assert_eq!(ex.responses[0].text(), "GET /again body=\n");
    let seen = seen(&log);
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_ne!(seen[0].conn, seen[1].conn, "a new backend connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backends_early_answer_to_an_upload_reaches_the_client() {
    require_docker();
    let c = Cleanup::new("rt-early");
    let (router, host, log, _guard) = setup(&c, "early").await;
    let head = format!("POST /early HTTP/1.1\r\nHost: {host}\r\n");
    let body = vec![b'x'; BIG_UPLOAD];
    for (what, framing, stall) in EARLY_UPLOADS {
        let (ex, failed) = upload(router.web_addr(), &head, framing, &body, stall).await;
        assert!(
            failed.is_none(),
            "{what}: sending the body failed: {failed:?}"
        );
        assert_eq!(ex.statuses(), vec![413], "{what}: {}", ex.raw_text());
        assert!(ex.closed, "{what}: the connection stays open");
        let r = &ex.responses[0];
        assert_eq!(r.text(), "too large", "{what}");
        assert_eq!(r.header("connection"), Some("close"), "{what}");
    }
    let heads: Vec<String> = seen(&log).iter().map(|s| s.target().to_owned()).collect();
    assert_eq!(
        heads,
        vec!["/early"; 4],
        "each upload reached the backend once"
    );
    // The router's own answer to an upload (no route for the host).
    let (ex, failed) = upload(
        router.web_addr(),
        "POST /early HTTP/1.1\r\nHost: no-route.test\r\n",
        Framing::Length,
        &body,
        None,
    )
    .await;
    assert!(failed.is_none(), "sending the body failed: {failed:?}");
    assert_eq!(ex.statuses(), vec![404], "{}", ex.raw_text());
    assert!(ex.closed);
    assert_eq!(
        seen(&log).len(),
        4,
        "the unrouted upload reached no backend"
    );
    // The router goes on serving, on a fresh backend connection.
    let ex = exchange(
        router.web_addr(),
        format!("GET /after HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await;
    assert_eq!(ex.statuses(), vec![200], "{}", ex.raw_text());
}

/// An HTTP/2 client connection that sends no request is closed on the entry point's timers,
/// as nginx closes its own: one that never sends its preface after the TLS handshake (ALPN
/// `h2`) or only its preface and SETTINGS, within the read timeout, at once; one that was
/// answered and then asks nothing more (it may answer PINGs), within the idle timeout, with a
/// GOAWAY first. `openssl s_client` is the client: its process ends when the
/// router closes the connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_http2_connections_are_closed_on_a_timer() {
    require_docker();
    let guard = router_guard().start().await;
    let router = Router::builder()
        .websecure()
        .env("ROUTER_HEADER_TIMEOUT", "1s")
        .start(&guard)
        .await;
    let addr = router.websecure_addr();
    // How long the router keeps a connection that sends `input` (then nothing, the client's
    // side left open), up to 15 s.
    let held_for = |input: Vec<u8>| async move {
        let mut child = e2e::http::openssl_h2(addr, "idle.test");
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(&input).await.unwrap();
        let started = std::time::Instant::now();
        let mut out = Vec::new();
        let mut stdout = child.stdout.take().unwrap();
        let read =
            tokio::time::timeout(Duration::from_secs(15), stdout.read_to_end(&mut out)).await;
        drop(stdin);
        (read.is_ok(), started.elapsed(), out)
    };
    // No preface at all.
    let (closed, after, _) = held_for(Vec::new()).await;
    assert!(closed, "a connection without a preface was held 15 s");
    assert!(after < Duration::from_secs(8), "{after:?}");
    // A preface and an empty SETTINGS frame, then nothing: closed on the same timer.
    let mut preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    preface.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
    let (closed, after, _) = held_for(preface.clone()).await;
    assert!(
        closed,
        "an HTTP/2 connection that asks nothing was held 15 s"
    );
    assert!(after < Duration::from_secs(8), "{after:?}");
    // One request (GET https://idle.test/, HPACK from the static table), answered; then
    // nothing: after the idle timeout, a GOAWAY (frame type 7) and the close.
    let mut asked = preface;
    let block = [&[0x82, 0x87, 0x84, 0x41, 9][..], b"idle.test"].concat();
    asked.extend_from_slice(&[0, 0, block.len() as u8, 1, 0x05, 0, 0, 0, 1]);
    asked.extend_from_slice(&block);
    // (openssl does not answer the PING of hyper's graceful close, so the connection ends
    // with the entry point's 10 s grace period.)
    let (closed, after, out) = held_for(asked).await;
    assert!(closed, "an idle HTTP/2 connection was held 15 s");
    assert!(after >= Duration::from_millis(900), "{after:?}");
    let mut frames = Vec::new();
    let mut at = 0;
    while at + 9 <= out.len() {
        let len =
            usize::from(out[at]) << 16 | usize::from(out[at + 1]) << 8 | usize::from(out[at + 2]);
        frames.push(out[at + 3]);
        at += 9 + len;
    }
    let answer = frames.iter().position(|f| *f == 1);
    let goaway = frames.iter().position(|f| *f == 7);
    assert!(
        matches!((answer, goaway), (Some(a), Some(g)) if a < g),
        "the answer's HEADERS, then a GOAWAY: frames {frames:?}"
    );
}

/// A client that asks for a large answer and then reads nothing is cut after the entry
/// point's idle timeout without progress (it would otherwise hold its connection, the backend
/// connection and kernel buffers for as long as it likes); a client reading normally gets the
/// whole answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_reads_nothing_is_cut() {
    require_docker();
    let c = Cleanup::new("rt-slowread");
    let net = c.network("net");
    let guard = router_guard().start().await;
    let router = Router::builder()
        .env("ROUTER_HEADER_TIMEOUT", "1s")
        .start(&guard)
        .await;
    let app = unique("slowread");
    let host = format!("{app}.test");
    let labels = Labels::enabled()
        .router(&app, "rule", &format!("Host(`{host}`)"))
        .service(&app, "server.port", "8080");
    run_whoami(&c, "w", &net, &labels, &[]).await;
    let size: usize = 64 << 20;
    router.wait_status(&host, "/data?size=10", 200).await;
    let ask = format!("GET /data?size={size} HTTP/1.1\r\nHost: {host}\r\n\r\n");
    // Reads nothing for 4 s, then everything that is left.
    let mut s = TcpStream::connect(router.web_addr()).await.unwrap();
    s.write_all(ask.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mut got = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got += n,
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the stalled connection was not closed");
    assert!(
        got < size,
        "the whole answer arrived ({got} bytes): nothing was cut"
    );
    // A client that reads as it comes gets all of it.
    let mut s = TcpStream::connect(router.web_addr()).await.unwrap();
    s.write_all(
        format!("GET /data?size={size} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    let mut whole = 0usize;
    loop {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => whole += n,
        }
    }
    assert!(whole > size, "{whole} bytes");
}
