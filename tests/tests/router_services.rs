//! The file provider's `weighted` and `failover` services and server weights, end to end:
//! routers from a real container's labels (through socket-guard) use services defined in a
//! dynamic file whose servers are Debian's nginx. A `weighted` service splits requests by its
//! weights, interleaved; servers with weights do the same, and a container with
//! `server.weight=0` gets nothing; a `failover` service sends to its fallback while its main
//! service's health check fails, and to the main one while it passes, and with `errors` an
//! answer of the main service with a listed status goes to the fallback, body and all (a body
//! over `errors.maxRequestBodyBytes` is answered 413 and reaches neither); a `weighted` service
//! with `healthCheck: {}` skips a service whose servers are all unhealthy; a sticky `weighted`
//! service keeps a client on the service its cookie names; a `weighted` one naming a service
//! that does not exist disables its routers. `loadBalancer.strategy` `hrw`, `p2c` and
//! `leasttime` balance as Traefik's.
#![allow(clippy::unwrap_used)]

use e2e::docker::{require_docker, Cleanup};
use e2e::make::free_port;
use e2e::nginx::Nginx;
use e2e::router::{hostname_in, router_guard, run_whoami, unique, Labels, Router};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weighted_failover_and_server_weights() {
    require_docker();
    let [blue, green, sick, flaky, catcher, catcher_in] = [(); 6].map(|()| free_port());
    let nginx = Nginx::start(
        &format!(
            r#"
  log_format body '$request_method $request_uri $request_body';
  server {{ listen 127.0.0.1:{flaky}; access_log @DIR@/flaky.log body; location /health {{ access_log off; return 200; }} location /broken {{ return 503 "flaky broken\n"; }} location / {{ return 200 "flaky\n"; }} }}
  server {{ listen 127.0.0.1:{catcher}; access_log @DIR@/catcher.log body; location / {{ proxy_pass http://127.0.0.1:{catcher_in}; }} }}
  server {{ listen 127.0.0.1:{catcher_in}; access_log off; location / {{ return 200 "caught\n"; }} }}
  server {{ listen 127.0.0.1:{blue}; location /health {{ return 200; }} location / {{ return 200 "blue\n"; }} }}
  server {{ listen 127.0.0.1:{green}; location /health {{ return 200; }} location / {{ return 200 "green\n"; }} }}
  server {{ listen 127.0.0.1:{sick}; location /health {{ return 500; }} location / {{ return 200 "sick\n"; }} }}
"#
        ),
        &[blue, green, sick, flaky, catcher, catcher_in],
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dynamic.yml");
    let checked = |port: u16| {
        format!(
            "      loadBalancer:\n        servers: [{{url: \"http://127.0.0.1:{port}\"}}]\n        healthCheck: {{path: /health, interval: 200ms}}\n"
        )
    };
    std::fs::write(
        &file,
        format!(
            r#"http:
  services:
    blue:
{}    green:
{}    sick:
{}    flaky:
{}    catcher:
      loadBalancer:
        servers: [{{url: "http://127.0.0.1:{catcher}"}}]
    fo-errors:
      failover:
        service: flaky
        fallback: catcher
        errors:
          status: ["500-504"]
          maxRequestBodyBytes: 8
    canary:
      weighted:
        services:
          - name: blue
            weight: 3
          - name: green
            weight: 1
    pair:
      loadBalancer:
        servers:
          - url: "http://127.0.0.1:{blue}"
            weight: 2
          - url: "http://127.0.0.1:{green}"
            weight: 1
    fo:
      failover:
        service: sick
        fallback: green
    fo-ok:
      failover:
        service: blue
        fallback: green
    skipping:
      weighted:
        healthCheck: {{}}
        services:
          - name: sick
            weight: 5
          - name: blue
    dangling:
      weighted:
        services:
          - name: nowhere
    stuck:
      weighted:
        sticky:
          cookie: {{name: pick, httpOnly: true}}
        services:
          - name: blue
          - name: green
"#,
            checked(blue),
            checked(green),
            checked(sick),
            checked(flaky),
        ),
    )
    .unwrap();
    let c = Cleanup::new("rt-svc");
    let net = c.network("net");
    let guard = router_guard().start().await;
    let router = Router::builder().with_file(&file).start(&guard).await;
    let names = [
        "canary",
        "pair",
        "fo",
        "fo-ok",
        "skipping",
        "dangling",
        "stuck",
        "fo-errors",
    ];
    let hosts = names.map(unique);
    let mut labels = Labels::enabled();
    for (svc, host) in names.iter().zip(&hosts) {
        labels = labels
            .router(host, "rule", &format!("Host(`{host}.test`)"))
            .router(host, "service", &format!("{svc}@file"));
    }
    run_whoami(&c, "w", &net, &labels, &[]).await;
    let [canary, pair, fo, fo_ok, skipping, dangling, stuck, fo_errors] =
        hosts.map(|h| format!("{h}.test"));
    router.wait_status(&canary, "/", 200).await;
    let bodies = |host: String, n: usize| bodies(&router, host, n);
    // 3:1, interleaved: any 4 picks in a row hold one green.
    let seen = bodies(canary.clone(), 12).await;
    let greens = seen.iter().filter(|b| *b == "green").count();
    assert_eq!((seen.len() - greens, greens), (9, 3), "{seen:?}");
    assert!(
        seen.windows(5).all(|w| w.iter().any(|b| b == "green")),
        "{seen:?}"
    );
    // 2:1: any 3 picks in a row hold two blues.
    let seen = bodies(pair.clone(), 9).await;
    assert_eq!(seen.iter().filter(|b| *b == "blue").count(), 6, "{seen:?}");

    // Failover: sick's check fails, so its fallback answers; blue's passes, so blue does.
    let r = router.wait_body(&fo, "/", "green\n").await;
    assert_eq!(r.status, 200);
    assert!(bodies(fo.clone(), 5).await.iter().all(|b| b == "green"));
    assert!(bodies(fo_ok.clone(), 5).await.iter().all(|b| b == "blue"));
    // On errors: the main service's listed answer goes to the fallback, with the body.
    router.wait_body(&fo_errors, "/", "flaky\n").await;
    let r = router.request(&fo_errors, "/broken?x=1", &[]).await;
    assert_eq!((r.status, r.text().as_str()), (200, "caught\n"));
    let send = |framing: &str, body: &str| {
        let raw = format!("POST /broken HTTP/1.1\r\nHost: {fo_errors}\r\n{framing}\r\nConnection: close\r\n\r\n{body}");
        let addr = router.web_addr();
        async move { e2e::http::exchange(addr, raw.as_bytes()).await }
    };
    let ex = send("Content-Length: 3", "abc").await;
    assert_eq!(ex.statuses(), [200], "{}", ex.raw_text());
    let ex = send("Transfer-Encoding: chunked", "3\r\nxyz\r\n0\r\n\r\n").await;
    assert_eq!(ex.statuses(), [200], "{}", ex.raw_text());
    let caught = nginx.wait_log("catcher.log", |l| l.len() >= 3).await;
    assert_eq!(
        caught,
        ["GET /broken?x=1 -", "POST /broken abc", "POST /broken xyz"],
        "{caught:?}"
    );
    // Both went to the main service first.
    let flaky_seen = nginx
        .wait_log("flaky.log", |l| {
            l.iter().filter(|l| l.starts_with("POST /broken")).count() >= 2
        })
        .await;
    assert_eq!(
        flaky_seen
            .iter()
            .filter(|l| l.starts_with("POST /broken"))
            .count(),
        2
    );
    // Over maxRequestBodyBytes: 413, neither asked.
    let ex = send("Content-Length: 9", "123456789").await;
    assert_eq!(ex.statuses(), [413], "{}", ex.raw_text());
    assert_eq!(nginx.log_lines("flaky.log"), flaky_seen);
    assert_eq!(nginx.log_lines("catcher.log").len(), 3);

    // The weighted one with healthCheck skips sick once its check has failed.
    router.wait_body(&skipping, "/", "blue\n").await;
    assert!(bodies(skipping.clone(), 6)
        .await
        .iter()
        .all(|b| b == "blue"));
    // A weighted service naming nothing that exists: its router is disabled.
    let r = router.request(&dangling, "/", &[]).await;
    assert_eq!(r.status, 404, "{}", r.text());

    // Sticky weighted: the cookie names the service picked (Traefik's value: a hash of its
    // name as written), and a client that sends it back stays there; one naming nothing gets
    // a new one.
    let r = router.wait_status(&stuck, "/", 200).await;
    let set = r.header("set-cookie").unwrap().to_owned();
    let picked = r.text().trim().to_owned();
    let value = set
        .strip_prefix("pick=")
        .and_then(|v| v.split(';').next())
        .unwrap()
        .to_owned();
    let digest = {
        use sha2::Digest;
        sha2::Sha256::digest(picked.as_bytes())
    };
    let want: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    assert_eq!(value, want, "{set}");
    assert!(set.contains("HttpOnly"), "{set}");
    for _ in 0..6 {
        let r = router
            .request(&stuck, "/", &[("Cookie", &format!("pick={value}"))])
            .await;
        assert_eq!(r.text().trim(), picked);
        assert_eq!(r.header("set-cookie"), None);
    }
    let r = router
        .request(&stuck, "/", &[("Cookie", "pick=0123456789abcdef")])
        .await;
    assert!(r
        .header("set-cookie")
        .is_some_and(|c| c.starts_with("pick=")));

    // A container with server.weight=0 among two replicas of one service gets nothing.
    let rep = unique("rep");
    let base = Labels::enabled()
        .router(&rep, "rule", &format!("Host(`{rep}.test`)"))
        .router(&rep, "service", &rep)
        .service(&rep, "server.port", "8080");
    let heavy = run_whoami(&c, "r1", &net, &base, &[]).await;
    let _idle = run_whoami(
        &c,
        "r2",
        &net,
        &base.clone().service(&rep, "server.weight", "0"),
        &[],
    )
    .await;
    let host = format!("{rep}.test");
    router.wait_status(&host, "/", 200).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    for _ in 0..6 {
        let r = router.request(&host, "/", &[]).await;
        assert_eq!(hostname_in(&r.text()), Some(heavy.hostname.as_str()));
    }
}

/// `responseforwarding.flushinterval` is accepted and a server-sent event stream from a real
/// container passes as it comes: the first event reaches the client while the server has not
/// yet written the last (over HTTP/1.1, and over HTTP/2 from the client); a flush interval
/// that is not a duration disables the service.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_streams_pass_as_they_come() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    require_docker();
    let c = Cleanup::new("rt-sse");
    let net = c.network("net");
    let guard = router_guard().start().await;
    let router = Router::builder().both_entry_points().start(&guard).await;
    let [ok, bad] = ["ok", "bad"].map(unique);
    let labels = Labels::enabled()
        .router(&ok, "rule", &format!("Host(`{ok}.test`)"))
        .router(&ok, "service", &ok)
        .service(&ok, "server.port", "8080")
        .service(&ok, "responseforwarding.flushinterval", "100ms")
        .router(&bad, "rule", &format!("Host(`{bad}.test`)"))
        .router(&bad, "service", &bad)
        .service(&bad, "server.port", "8080")
        .service(&bad, "responseforwarding.flushinterval", "often");
    run_whoami(&c, "w", &net, &labels, &[]).await;
    let host = format!("{ok}.test");
    router.wait_status(&host, "/", 200).await;
    assert_eq!(
        router
            .request(&format!("{bad}.test"), "/", &[])
            .await
            .status,
        404
    );

    // Three events ten seconds apart: the first must arrive before the server writes the
    // second (a proxy that holds the answer back delivers it at the end, 20 s in).
    let tcp = tokio::net::TcpStream::connect(router.web_addr())
        .await
        .unwrap();
    let mut io = tokio::io::BufReader::new(tcp);
    io.get_mut()
        .write_all(
            format!("GET /events?count=3&interval=10000 HTTP/1.1\r\nHost: {host}\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut line = String::new();
    loop {
        line.clear();
        io.read_line(&mut line).await.unwrap();
        if line.starts_with("data: ") || line.is_empty() {
            break;
        }
    }
    assert_eq!(line, "data: 1\n");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(8),
        "the first event was held back ({:?})",
        started.elapsed()
    );

    // HTTP/2 from the client: curl prints the first event as it comes.
    let addr = router.websecure_addr();
    let mut child = tokio::process::Command::new("curl")
        .args(["-skN", "--http2", "--max-time", "30", "--resolve"])
        .arg(format!("{host}:{}:127.0.0.1", addr.port()))
        .arg(format!(
            "https://{host}:{}/events?count=3&interval=10000",
            addr.port()
        ))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = tokio::io::BufReader::new(child.stdout.take().unwrap());
    let started = std::time::Instant::now();
    line.clear();
    out.read_line(&mut line).await.unwrap();
    assert_eq!(line, "data: 1\n");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(8),
        "the first event was held back over HTTP/2 ({:?})",
        started.elapsed()
    );
    let _ = child.kill().await;
}

/// `mirroring`: the main service answers every request; the mirror gets copies of its
/// percentage of them (same method, path, query and host), after the answer, and what the
/// mirror answers never reaches the client; a request's body is copied too (the main service
/// gets it whole as well), not with `mirrorBody: false`; a request whose body is over
/// `maxBodySize` is not copied at all and reaches the main service intact, whether its length
/// was declared or not (chunked, HTTP/2 without `content-length`: read up to the limit, then
/// passed on as it came, with one `100 Continue` for a client that asked for it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirroring_copies_a_share_of_requests() {
    require_docker();
    let [main, shadow, main_in, shadow_in] = [(); 4].map(|()| free_port());
    // Each logs the body it read (nginx reads a body it passes on).
    let nginx = Nginx::start(
        &format!(
            r#"
  log_format seen '$request_method $host $request_uri $content_length $request_body';
  server {{ listen 127.0.0.1:{main}; access_log @DIR@/main.log seen; location / {{ proxy_pass http://127.0.0.1:{main_in}; proxy_set_header Host $host; }} }}
  server {{ listen 127.0.0.1:{main_in}; access_log off; location / {{ return 200 "main\n"; }} }}
  server {{ listen 127.0.0.1:{shadow}; access_log @DIR@/shadow.log seen; location / {{ proxy_pass http://127.0.0.1:{shadow_in}; }} }}
  server {{ listen 127.0.0.1:{shadow_in}; access_log off; location / {{ return 500 "shadow\n"; }} }}
"#
        ),
        &[main, shadow, main_in, shadow_in],
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dynamic.yml");
    std::fs::write(
        &file,
        format!(
            r#"http:
  services:
    main:
      loadBalancer:
        servers: [{{url: "http://127.0.0.1:{main}"}}]
    shadow:
      loadBalancer:
        servers: [{{url: "http://127.0.0.1:{shadow}"}}]
    half:
      mirroring:
        service: main
        mirrors: [{{name: shadow, percent: 50}}]
    nobody:
      mirroring:
        service: main
        mirrorBody: false
        mirrors: [{{name: shadow, percent: 100}}]
    small:
      mirroring:
        service: main
        maxBodySize: 4
        mirrors: [{{name: shadow, percent: 100}}]
"#
        ),
    )
    .unwrap();
    let c = Cleanup::new("rt-mirror");
    let net = c.network("net");
    let guard = router_guard().start().await;
    let router = Router::builder()
        .both_entry_points()
        .with_file(&file)
        .start(&guard)
        .await;
    let [half, nobody, small] = ["half", "nobody", "small"].map(unique);
    let labels = Labels::enabled()
        .router(&small, "rule", &format!("Host(`{small}.test`)"))
        .router(&small, "service", "small@file")
        .router(&half, "rule", &format!("Host(`{half}.test`)"))
        .router(&half, "service", "half@file")
        .router(&nobody, "rule", &format!("Host(`{nobody}.test`)"))
        .router(&nobody, "service", "nobody@file");
    run_whoami(&c, "w", &net, &labels, &[]).await;
    let (half_host, nobody_host) = (format!("{half}.test"), format!("{nobody}.test"));
    router.wait_status(&half_host, "/", 200).await;
    for i in 0..9 {
        let r = router.request(&half_host, &format!("/p{i}?q=1"), &[]).await;
        assert_eq!((r.status, r.text().as_str()), (200, "main\n"));
    }
    // 10 requests: 5 copies (the mirror's 500 never shows).
    let shadow_lines = |n: usize| {
        let nginx = &nginx;
        async move {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            loop {
                let lines = nginx.log_lines("shadow.log");
                if lines.len() >= n || std::time::Instant::now() > deadline {
                    return lines;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    };
    let lines = shadow_lines(5).await;
    assert_eq!(lines.len(), 5, "{lines:?}");
    // The first was wait_status's `GET /`; then every other one.
    assert_eq!(lines[0], format!("GET {half_host} / - -"));
    let want: Vec<String> = [1, 3, 5, 7]
        .iter()
        .map(|i| format!("GET {half_host} /p{i}?q=1 - -"))
        .collect();
    assert_eq!(lines[1..], want[..], "{lines:?}");
    let post = |host: &str, path: &str, framing: &str, body: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\n{framing}\r\nConnection: close\r\n\r\n{body}"
        )
    };
    // A body: copied with the request (every other one of the half), and the main service
    // gets it whole.
    for _ in 0..2 {
        let raw = post(&half_host, "/body", "Content-Length: 3", "abc");
        let ex = e2e::http::exchange(router.web_addr(), raw.as_bytes()).await;
        assert_eq!(ex.statuses(), [200]);
    }
    let lines = shadow_lines(6).await;
    assert_eq!(
        lines.last().unwrap(),
        &format!("POST {half_host} /body 3 abc"),
        "{lines:?}"
    );
    // mirrorBody=false: copied without it.
    router.wait_status(&nobody_host, "/", 200).await;
    let raw = post(&nobody_host, "/nobody", "Content-Length: 3", "abc");
    let ex = e2e::http::exchange(router.web_addr(), raw.as_bytes()).await;
    assert_eq!(ex.statuses(), [200]);
    let lines = shadow_lines(8).await;
    assert_eq!(
        lines.last().unwrap(),
        &format!("POST {nobody_host} /nobody - -"),
        "{lines:?}"
    );
    // Over maxBodySize: no copy; the main service gets the body intact. Of unknown length:
    // read up to the limit, copied within it.
    router.wait_status(&format!("{small}.test"), "/", 200).await;
    let small_host = format!("{small}.test");
    let shadow_before = shadow_lines(9).await.len();
    for raw in [
        post(&small_host, "/large", "Content-Length: 5", "12345"),
        post(
            &small_host,
            "/chunked-large",
            "Transfer-Encoding: chunked",
            "3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n",
        ),
        post(&small_host, "/fits", "Content-Length: 4", "1234"),
        post(
            &small_host,
            "/chunked",
            "Transfer-Encoding: chunked",
            "3\r\nxyz\r\n0\r\n\r\n",
        ),
    ] {
        let ex = e2e::http::exchange(router.web_addr(), raw.as_bytes()).await;
        assert_eq!(ex.statuses(), [200]);
    }
    // A chunked body that passes the limit in a later piece, from a client that waits for
    // `100 Continue`: one comes, and the whole body reaches the main service.
    let answer = chunked_in_pieces(
        router.web_addr(),
        &format!(
            "POST /pieces HTTP/1.1\r\nHost: {small_host}\r\nTransfer-Encoding: chunked\r\n\
             Expect: 100-continue\r\nConnection: close\r\n\r\n"
        ),
        &["3\r\nabc\r\n", "3\r\ndef\r\n", "1\r\ng\r\n0\r\n\r\n"],
    )
    .await;
    assert_eq!(answer.matches("100 Continue").count(), 1, "{answer}");
    assert!(
        answer.contains("HTTP/1.1 200 ") && answer.ends_with("main\n"),
        "{answer}"
    );
    // HTTP/2 without content-length: the same, over and within the limit.
    for (path, body) in [("/h2-large", "abcdefgh"), ("/h2", "xyz")] {
        assert_eq!(h2_upload(&router, &small_host, path, body), "200");
    }
    let lines = shadow_lines(shadow_before + 3).await;
    let mut copied = lines[shadow_before..].to_vec();
    copied.sort();
    let mut want = [
        format!("POST {small_host} /fits 4 1234"),
        format!("POST {small_host} /chunked 3 xyz"),
        format!("POST {small_host} /h2 3 xyz"),
    ];
    want.sort();
    assert_eq!(copied, want, "{lines:?}");
    let main_log = nginx
        .wait_log("main.log", |l| l.iter().any(|l| l.contains("/h2 ")))
        .await;
    for want in [
        format!("POST {half_host} /body 3 abc"),
        format!("POST {small_host} /large 5 12345"),
        // (nginx logs the length of a chunked body it has read.)
        format!("POST {small_host} /chunked-large 6 abcdef"),
        format!("POST {small_host} /fits 4 1234"),
        format!("POST {small_host} /chunked 3 xyz"),
        format!("POST {small_host} /pieces 7 abcdefg"),
        format!("POST {small_host} /h2-large 8 abcdefgh"),
        format!("POST {small_host} /h2 3 xyz"),
    ] {
        assert!(main_log.contains(&want), "{want:?} not in {main_log:?}");
    }
    assert_eq!(
        main_log
            .iter()
            .filter(|l| l.contains("/body 3 abc"))
            .count(),
        2
    );
    // Nothing over the limit was copied, even later.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let lines = nginx.log_lines("shadow.log");
    assert_eq!(lines.len(), shadow_before + 3, "{lines:?}");
}

/// Sends `head`, waits for the interim answer, then sends `pieces` a little apart; all that
/// came back, once the router closes.
/// The bodies of `n` requests for `/` on `host`, each answered 200.
async fn bodies(router: &Router, host: String, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        let r = router.request(&host, "/", &[]).await;
        assert_eq!(r.status, 200, "{host}: {}", r.text());
        out.push(r.text().trim().to_owned());
    }
    out
}

async fn chunked_in_pieces(addr: std::net::SocketAddr, head: &str, pieces: &[&str]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("no 100 Continue")
            .unwrap();
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    for p in pieces {
        s.write_all(p.as_bytes()).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let rest = e2e::http::read_all(&mut s, std::time::Duration::from_secs(10)).await;
    got.extend_from_slice(&rest.raw);
    String::from_utf8_lossy(&got).into_owned()
}

/// POSTs `body` over HTTP/2 to the router's TLS entry point with no `content-length` (curl
/// uploading from a pipe); the status curl saw.
fn h2_upload(router: &Router, host: &str, path: &str, body: &str) -> String {
    use std::io::Write;
    let addr = router.websecure_addr();
    let mut child = std::process::Command::new("curl")
        .args(["-sk", "--http2", "-o", "/dev/null", "-w", "%{http_code}"])
        .args(["--max-time", "10", "-X", "POST", "-T", "-", "--resolve"])
        .arg(format!("{host}:{}:127.0.0.1", addr.port()))
        .arg(format!("https://{host}:{}{path}", addr.port()))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A server URL's path is put in front of each request's path with `preservePath` (after the
/// router's middlewares, one slash between them, the query kept), over HTTP/1.1 and HTTP/2,
/// and ignored without it, as Traefik does; a path stripped whole goes as `/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_path_is_kept_with_preserve_path() {
    let port = free_port();
    let nginx = Nginx::start(
        &format!(
            "  server {{ listen 127.0.0.1:{port}; location / {{ return 200 \"$request_uri\\n\"; }} }}\n"
        ),
        &[port],
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dynamic.yml");
    std::fs::write(
        &file,
        format!(
            r#"http:
  routers:
    kept:
      rule: Host(`kept.test`)
      service: kept
    dropped:
      rule: Host(`dropped.test`)
      service: dropped
    stripped:
      rule: Host(`strip.test`) && PathPrefix(`/api`)
      service: slash
      middlewares: [strip]
    stripped-bare:
      rule: Host(`bare.test`) && PathPrefix(`/api`)
      service: dropped
      middlewares: [strip]
  middlewares:
    strip:
      stripPrefix:
        prefixes: [/api]
  services:
    kept:
      loadBalancer:
        servers:
          - url: http://127.0.0.1:{port}/base
            preservePath: true
    slash:
      loadBalancer:
        servers:
          - url: http://127.0.0.1:{port}/base/
            preservePath: true
    dropped:
      loadBalancer:
        servers:
          - url: http://127.0.0.1:{port}/base
"#
        ),
    )
    .unwrap();
    let router = Router::builder()
        .flags(&[&format!("--providers.file.filename={}", file.display())])
        .both_entry_points()
        .start_without_docker()
        .await;
    router.wait_status("kept.test", "/", 200).await;
    for (host, path, want) in [
        ("kept.test", "/x?y=1", "/base/x?y=1"),
        ("kept.test", "/", "/base/"),
        ("dropped.test", "/x?y=1", "/x?y=1"),
        ("strip.test", "/api/v", "/base/v"),
        // The whole path stripped: sent as `/` (behind the server's path with preservePath).
        ("strip.test", "/api", "/base/"),
        ("bare.test", "/api", "/"),
        ("bare.test", "/api?q=1", "/?q=1"),
    ] {
        let (status, body) = router.get(host, path).await;
        assert_eq!((status, body.trim()), (200, want), "{host}{path}");
    }
    // HTTP/2, over TLS on websecure (where every router answers).
    let addr = router.websecure_addr();
    let out = std::process::Command::new("curl")
        .args(["-sk", "--http2", "--max-time", "10", "--resolve"])
        .arg(format!("kept.test:{}:127.0.0.1", addr.port()))
        .arg(format!("https://kept.test:{}/h2?z=2", addr.port()))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "/base/h2?z=2");
    drop(nginx);
}

/// An HTTP/2 request's host is its `:authority`, whatever a `Host` header beside it says (Go's
/// HTTP/2 server makes it the request's Host): it is routed, and forwarded, by it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_request_is_routed_by_its_authority() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (a, b) = (free_port(), free_port());
    let nginx = Nginx::start(
        &format!(
            "  server {{ listen 127.0.0.1:{a}; location / {{ return 200 \"a $host\\n\"; }} }}\n  server {{ listen 127.0.0.1:{b}; location / {{ return 200 \"b $host\\n\"; }} }}\n"
        ),
        &[a, b],
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dynamic.yml");
    std::fs::write(
        &file,
        format!(
            "http:\n  routers:\n    a:\n      rule: Host(`a.test`)\n      service: a\n      tls: {{}}\n    b:\n      rule: Host(`b.test`)\n      service: b\n      tls: {{}}\n  services:\n    a:\n      loadBalancer:\n        servers: [{{url: \"http://127.0.0.1:{a}\"}}]\n    b:\n      loadBalancer:\n        servers: [{{url: \"http://127.0.0.1:{b}\"}}]\n"
        ),
    )
    .unwrap();
    let router = Router::builder()
        .flags(&[&format!("--providers.file.filename={}", file.display())])
        .websecure()
        .start_without_docker()
        .await;
    router.wait_routes(&["a@file", "b@file"]).await;
    // The preface, empty SETTINGS, and GET / with `:authority: a.test` then `host: b.test`
    // (HPACK: :method GET, :scheme https, :path /, :authority literal, host a new literal).
    let mut frames = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    frames.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
    let block = [
        &[0x82, 0x87, 0x84, 0x41, 6][..],
        b"a.test",
        &[0x00, 4][..],
        b"host",
        &[6][..],
        b"b.test",
    ]
    .concat();
    frames.extend_from_slice(&[0, 0, block.len() as u8, 1, 0x05, 0, 0, 0, 1]);
    frames.extend_from_slice(&block);
    let mut client = e2e::http::openssl_h2(router.websecure_addr(), "a.test");
    let mut stdin = client.stdin.take().unwrap();
    stdin.write_all(&frames).await.unwrap();
    let mut stdout = client.stdout.take().unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let body = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            let n = stdout.read(&mut buf).await.unwrap_or(0);
            assert!(n > 0, "the router closed the connection before answering");
            out.extend_from_slice(&buf[..n]);
            let mut at = 0;
            while at + 9 <= out.len() {
                let len = usize::from(out[at]) << 16
                    | usize::from(out[at + 1]) << 8
                    | usize::from(out[at + 2]);
                if at + 9 + len > out.len() {
                    break;
                }
                // The first DATA frame of stream 1.
                if out[at + 3] == 0 && out[at + 8] == 1 {
                    return String::from_utf8_lossy(&out[at + 9..at + 9 + len]).into_owned();
                }
                at += 9 + len;
            }
        }
    })
    .await
    .expect("no answer within 10 s");
    assert_eq!(body.trim(), "a a.test");
    drop(nginx);
}

/// `loadBalancer.strategy` from a file, end to end, with routers in the same file: `hrw`
/// keeps a client (here always 127.0.0.1) on one server; `p2c` reads no weights, so a server
/// of weight 0 answers too; `leasttime` takes both servers (equal scores go in turn); a
/// strategy that is not one of Traefik's names (`P2C`) disables the service and its router.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_balancer_strategies() {
    require_docker();
    let [blue, green] = [(); 2].map(|()| free_port());
    let nginx = Nginx::start(
        &format!(
            r#"
  server {{ listen 127.0.0.1:{blue}; location / {{ return 200 "blue\n"; }} }}
  server {{ listen 127.0.0.1:{green}; location / {{ return 200 "green\n"; }} }}
"#
        ),
        &[blue, green],
    );
    // (strategy, its router's and service's name): one each, the last a value in the wrong case.
    let names = [
        ("hrw", "hrw"),
        ("p2c", "p2c"),
        ("leasttime", "leasttime"),
        ("P2C", "badcase"),
    ]
    .map(|(s, tag)| (s, unique(&format!("strategy-{tag}"))));
    let mut yaml = String::from("http:\n  routers:\n");
    for (_, host) in &names {
        yaml += &format!("    {host}:\n      rule: Host(`{host}.test`)\n      service: {host}\n");
    }
    yaml += "  services:\n";
    for (strategy, host) in &names {
        // Weight 0 leaves blue out of every strategy but p2c: it has its share elsewhere.
        let weight = if *strategy == "p2c" { 0 } else { 1 };
        yaml += &format!(
            "    {host}:\n      loadBalancer:\n        strategy: {strategy}\n        servers:\n          - url: http://127.0.0.1:{blue}\n            weight: {weight}\n          - url: http://127.0.0.1:{green}\n"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dynamic.yml");
    std::fs::write(&file, &yaml).unwrap();
    let _c = Cleanup::new("rt-strategy");
    let guard = router_guard().start().await;
    let router = Router::builder().with_file(&file).start(&guard).await;
    let [hrw, p2c, least, bad] = names.map(|(_, h)| format!("{h}.test"));
    router.wait_status(&hrw, "/", 200).await;
    let bodies = |host: String, n: usize| bodies(&router, host, n);
    let seen = bodies(hrw, 8).await;
    assert!(seen.iter().all(|b| *b == seen[0]), "{seen:?}");
    // Each of 24 picks draws blue first half the time: both answer.
    let seen = bodies(p2c, 24).await;
    assert!(seen.iter().any(|b| b == "blue"), "{seen:?}");
    assert!(seen.iter().any(|b| b == "green"), "{seen:?}");
    let seen = bodies(least, 8).await;
    assert!(seen.iter().any(|b| b == "blue"), "{seen:?}");
    assert!(seen.iter().any(|b| b == "green"), "{seen:?}");
    let r = router.request(&bad, "/", &[]).await;
    assert_eq!(r.status, 404, "{}", r.text());
    drop(nginx);
}
