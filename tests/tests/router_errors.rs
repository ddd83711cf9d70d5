//! `errors` (custom error pages) end to end: routers from a real container's labels (through
//! socket-guard) use `pages@file`, whose service is Debian's nginx serving `/{status}.html`.
//! A backend's 400 is replaced by the page with its status (over HTTP/1.1 and HTTP/2); the
//! router's own 502 for a server that refuses connections becomes the `500` page through
//! `statusRewrites`; a later middleware's 401 in the same chain is caught too; a status outside
//! the ranges passes untouched; the pages' service is asked with the request's host and the
//! page's path, as Traefik asks it.
#![allow(clippy::unwrap_used)]

use e2e::docker::{require_docker, Cleanup};
use e2e::make::free_port;
use e2e::nginx::Nginx;
use e2e::router::{router_guard, run_whoami, unique, Labels, Router};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_pages_replace_caught_statuses() {
    require_docker();
    let (pages, closed) = (free_port(), free_port());
    let nginx = Nginx::start(
        &format!(
            r#"
  log_format seen '$http_host $request_uri';
  server {{
    listen 127.0.0.1:{pages};
    access_log @DIR@/pages.log seen;
    location ~ ^/(\d+)\.html$ {{
      default_type text/html;
      return 200 "<p>page $1</p>\n";
    }}
  }}
"#
        ),
        &[pages],
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dynamic.yml");
    std::fs::write(
        &file,
        format!(
            r#"http:
  middlewares:
    pages:
      errors:
        status: ["400-499", "502-504"]
        statusRewrites:
          "502-504": 500
        service: pages
        query: "/{{status}}.html"
    guarded:
      chain:
        middlewares: [pages, auth]
    auth:
      basicAuth:
        users: ["u:{{SHA}}W6ph5Mm5Pz8GgiULbPgzG37mj9g="]
  services:
    pages:
      loadBalancer:
        servers: [{{url: "http://127.0.0.1:{pages}"}}]
    dead:
      loadBalancer:
        servers: [{{url: "http://127.0.0.1:{closed}"}}]
"#
        ),
    )
    .unwrap();
    let c = Cleanup::new("rt-err");
    let net = c.network("net");
    let guard = router_guard().start().await;
    let router = Router::builder()
        .both_entry_points()
        .with_file(&file)
        .start(&guard)
        .await;
    let [app, dead, guarded] = ["app", "dead", "guarded"].map(unique);
    let labels = Labels::enabled()
        .router(&app, "rule", &format!("Host(`{app}.test`)"))
        .router(&app, "middlewares", "pages@file")
        .router(&dead, "rule", &format!("Host(`{dead}.test`)"))
        .router(&dead, "middlewares", "pages@file")
        .router(&dead, "service", "dead@file")
        .router(&guarded, "rule", &format!("Host(`{guarded}.test`)"))
        .router(&guarded, "middlewares", "guarded@file");
    run_whoami(&c, "w", &net, &labels, &[]).await;
    let (app_host, dead_host, guarded_host) = (
        format!("{app}.test"),
        format!("{dead}.test"),
        format!("{guarded}.test"),
    );

    // Not caught: whoami's own 200.
    let r = router.wait_status(&app_host, "/", 200).await;
    assert!(r.text().starts_with("Hostname: "), "{}", r.text());
    // whoami's 400 for a bad /data query: the page, with the status.
    let r = router.request(&app_host, "/data?size=x", &[]).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.text(), "<p>page 400</p>\n");
    assert_eq!(r.header("content-type"), Some("text/html"));
    let asked = nginx.settled("pages.log").await;
    assert_eq!(
        asked.last().unwrap(),
        &format!("{app_host} /400.html"),
        "{asked:?}"
    );
    // The router's own 502 (connection refused), rewritten to the 500 page.
    let r = router.request(&dead_host, "/", &[]).await;
    assert_eq!(r.status, 500, "{}", r.text());
    assert_eq!(r.text(), "<p>page 500</p>\n");
    // A later middleware of the chain: basicauth's 401 becomes the page.
    let r = router.wait_status(&guarded_host, "/", 401).await;
    assert_eq!(r.text(), "<p>page 401</p>\n");
    let r = router
        .request(
            &guarded_host,
            "/",
            &[("Authorization", "Basic dTpwYXNzd29yZA==")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());

    // HTTP/2 from the client: the same page.
    let addr = router.websecure_addr();
    let out = std::process::Command::new("curl")
        .args([
            "-sk",
            "--http2",
            "-o",
            "-",
            "-w",
            "|%{http_code}|%{http_version}",
            "--max-time",
            "10",
            "--resolve",
        ])
        .arg(format!("{app_host}:{}:127.0.0.1", addr.port()))
        .arg(format!("https://{app_host}:{}/data?size=x", addr.port()))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "<p>page 400</p>\n|400|2"
    );
}

/// `retry` with `status`: of two servers, one answers 503 to everything; a `GET` through a
/// router with `retry` (2 attempts, 500-599) always ends at the good one, while the same
/// service without it answers 503 about every other request; a `POST` is not tried again
/// (not idempotent) unless `retryNonIdempotentMethod`; a request's body is held and sent
/// again whole (a `PUT`, and a `POST` with that option), but not one over
/// `maxRequestBodyBytes`; `buffering.retryExpression` sends a request (and its body) again
/// while the expression holds for the answer; a server that refuses connections is tried
/// past.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_tries_again_on_a_listed_status() {
    require_docker();
    let [bad, good, good_in, closed] = [(); 4].map(|()| free_port());
    // The good server logs the bodies it reads (nginx reads a body it passes on).
    let nginx = Nginx::start(
        &format!(
            r#"
  log_format body '$request_method $request_body';
  server {{ listen 127.0.0.1:{bad}; access_log @DIR@/bad.log; location / {{ return 503 "bad\n"; }} }}
  server {{ listen 127.0.0.1:{good}; access_log @DIR@/good.log body; location / {{ proxy_pass http://127.0.0.1:{good_in}; }} }}
  server {{ listen 127.0.0.1:{good_in}; access_log off; location / {{ return 200 "good\n"; }} }}
"#
        ),
        &[bad, good, good_in],
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dynamic.yml");
    std::fs::write(
        &file,
        format!(
            r#"http:
  middlewares:
    again:
      retry:
        attempts: 2
        initialInterval: 10ms
        status: ["500-599"]
    evenpost:
      retry:
        attempts: 2
        status: ["503"]
        retryNonIdempotentMethod: true
        maxRequestBodyBytes: 8
    buffered:
      buffering:
        retryExpression: "ResponseCode() == 503 && Attempts() < 2"
  services:
    pair:
      loadBalancer:
        servers: [{{url: "http://127.0.0.1:{bad}"}}, {{url: "http://127.0.0.1:{good}"}}]
    refusing:
      loadBalancer:
        servers: [{{url: "http://127.0.0.1:{closed}"}}, {{url: "http://127.0.0.1:{good}"}}]
"#
        ),
    )
    .unwrap();
    let c = Cleanup::new("rt-retry");
    let net = c.network("net");
    let guard = router_guard().start().await;
    let router = Router::builder().with_file(&file).start(&guard).await;
    let [with, without, refusing, posts, buffered] =
        ["with", "without", "refusing", "posts", "buffered"].map(unique);
    let labels = Labels::enabled()
        .router(&buffered, "rule", &format!("Host(`{buffered}.test`)"))
        .router(&buffered, "middlewares", "buffered@file")
        .router(&buffered, "service", "pair@file")
        .router(&posts, "rule", &format!("Host(`{posts}.test`)"))
        .router(&posts, "middlewares", "evenpost@file")
        .router(&posts, "service", "pair@file")
        .router(&with, "rule", &format!("Host(`{with}.test`)"))
        .router(&with, "middlewares", "again@file")
        .router(&with, "service", "pair@file")
        .router(&without, "rule", &format!("Host(`{without}.test`)"))
        .router(&without, "service", "pair@file")
        .router(&refusing, "rule", &format!("Host(`{refusing}.test`)"))
        .router(&refusing, "middlewares", "again@file")
        .router(&refusing, "service", "refusing@file");
    run_whoami(&c, "w", &net, &labels, &[]).await;
    let (with_host, without_host) = (format!("{with}.test"), format!("{without}.test"));
    router.wait_status(&with_host, "/", 200).await;
    for _ in 0..6 {
        let r = router.request(&with_host, "/", &[]).await;
        assert_eq!((r.status, r.text().as_str()), (200, "good\n"));
    }
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(router.request(&without_host, "/", &[]).await.status);
    }
    assert!(
        statuses.contains(&503) && statuses.contains(&200),
        "{statuses:?}"
    );
    assert!(!nginx
        .wait_log("bad.log", |l| !l.is_empty())
        .await
        .is_empty());
    // POST: not idempotent, not tried again on a status.
    let mut post = Vec::new();
    for _ in 0..4 {
        let raw = format!("POST / HTTP/1.1\r\nHost: {with_host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        let ex = e2e::http::exchange(router.web_addr(), raw.as_bytes()).await;
        post.extend(ex.statuses());
    }
    assert!(post.contains(&503), "{post:?}");
    // Bodies: held and sent again whole.
    let send = |host: String, method: &'static str, body: &'static str| {
        let addr = router.web_addr();
        async move {
            let raw = format!(
                "{method} / HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            e2e::http::exchange(addr, raw.as_bytes()).await.statuses()
        }
    };
    let posts_host = format!("{posts}.test");
    router.wait_status(&posts_host, "/", 200).await;
    for _ in 0..4 {
        assert_eq!(send(with_host.clone(), "PUT", "put-body").await, [200]);
        assert_eq!(send(posts_host.clone(), "POST", "postbody").await, [200]);
    }
    let count = |lines: &[String], want: &str| lines.iter().filter(|l| *l == want).count();
    let good_log = nginx
        .wait_log("good.log", |l| {
            count(l, "PUT put-body") >= 4 && count(l, "POST postbody") >= 4
        })
        .await;
    assert_eq!(
        good_log.iter().filter(|l| *l == "PUT put-body").count(),
        4,
        "{good_log:?}"
    );
    assert_eq!(
        good_log.iter().filter(|l| *l == "POST postbody").count(),
        4,
        "{good_log:?}"
    );
    // Over maxRequestBodyBytes: streamed, not tried again.
    let mut large = Vec::new();
    for _ in 0..4 {
        large.extend(send(posts_host.clone(), "POST", "123456789").await);
    }
    assert!(large.contains(&503) && large.contains(&200), "{large:?}");
    // buffering.retryExpression: a 503 is tried once more, body and all, whatever the method.
    let buffered_host = format!("{buffered}.test");
    router.wait_status(&buffered_host, "/", 200).await;
    for _ in 0..4 {
        assert_eq!(send(buffered_host.clone(), "POST", "buffered").await, [200]);
        let r = router.request(&buffered_host, "/", &[]).await;
        assert_eq!((r.status, r.text().as_str()), (200, "good\n"));
    }
    let good_log = nginx
        .wait_log("good.log", |l| count(l, "POST buffered") >= 4)
        .await;
    assert_eq!(
        good_log.iter().filter(|l| *l == "POST buffered").count(),
        4,
        "{good_log:?}"
    );
    // A server that refuses connections: the other one answers.
    for _ in 0..4 {
        let r = router.request(&format!("{refusing}.test"), "/", &[]).await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
}

/// `circuitBreaker`: a router whose backend fails half its answers opens its breaker once the
/// expression holds (the fallback answers 503, and nothing more reaches the backend, whatever
/// the path); another router using the same middleware has its own breaker, still closed; after
/// `fallbackDuration` a share of requests gets through while it recovers, and after
/// `recoveryDuration` all do. A breaker from labels with `NetworkErrorRatio()` opens on a 502
/// and answers its `responseCode`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn circuit_breaker_opens_recovers_and_closes() {
    require_docker();
    let flaky = free_port();
    let nginx = Nginx::start(
        &format!(
            r#"
  server {{
    listen 127.0.0.1:{flaky};
    access_log @DIR@/flaky.log;
    location /fail {{ return 500 "fail\n"; }}
    location /gateway {{ return 502 "gateway\n"; }}
    location / {{ return 200 "ok\n"; }}
  }}
"#
        ),
        &[flaky],
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dynamic.yml");
    std::fs::write(
        &file,
        format!(
            r#"http:
  middlewares:
    cb:
      circuitBreaker:
        expression: "ResponseCodeRatio(500, 600, 0, 600) > 0.5 && RequestThreshold() >= 4"
        checkPeriod: 1ms
        fallbackDuration: 2s
        recoveryDuration: 2s
  services:
    flaky:
      loadBalancer:
        servers: [{{url: "http://127.0.0.1:{flaky}"}}]
"#
        ),
    )
    .unwrap();
    let c = Cleanup::new("rt-cb");
    let net = c.network("net");
    let guard = router_guard().start().await;
    let router = Router::builder().with_file(&file).start(&guard).await;
    let [one, two, net_errors] = ["one", "two", "neterr"].map(unique);
    let labels = Labels::enabled()
        .router(&one, "rule", &format!("Host(`{one}.test`)"))
        .router(&one, "middlewares", "cb@file")
        .router(&one, "service", "flaky@file")
        .router(&two, "rule", &format!("Host(`{two}.test`)"))
        .router(&two, "middlewares", "cb@file")
        .router(&two, "service", "flaky@file")
        .router(&net_errors, "rule", &format!("Host(`{net_errors}.test`)"))
        .router(&net_errors, "middlewares", &net_errors)
        .router(&net_errors, "service", "flaky@file")
        .middleware(
            &net_errors,
            "circuitbreaker.expression",
            "NetworkErrorRatio() > 0.5",
        )
        .middleware(&net_errors, "circuitbreaker.responsecode", "418");
    run_whoami(&c, "w", &net, &labels, &[]).await;
    let (one_host, two_host) = (format!("{one}.test"), format!("{two}.test"));
    router.wait_status(&one_host, "/", 200).await;
    router.wait_status(&two_host, "/", 200).await;

    // Failures after the one success: with three (4 requests, 3 of them 5xx) the expression
    // holds, and the next request finds the breaker open.
    let mut failed = 0;
    loop {
        let r = router.request(&one_host, "/fail", &[]).await;
        match (r.status, r.text().as_str()) {
            (500, "fail\n") => failed += 1,
            (503, "Service Unavailable") => break,
            other => panic!("{other:?}"),
        }
        assert!(failed <= 4, "still closed after {failed} failures");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(failed >= 3, "open after {failed} failures");
    let reached = nginx.settled("flaky.log").await.len();
    for path in ["/", "/fail", "/other"] {
        let r = router.request(&one_host, path, &[]).await;
        assert_eq!(
            (r.status, r.text().as_str()),
            (503, "Service Unavailable"),
            "{path}"
        );
    }
    assert_eq!(
        nginx.log_lines("flaky.log").len(),
        reached,
        "an open breaker let a request reach the backend"
    );
    // The other router's instance of the same middleware is still closed.
    let r = router.request(&two_host, "/", &[]).await;
    assert_eq!((r.status, r.text().as_str()), (200, "ok\n"));

    // After fallbackDuration: recovering, a share gets through; then all.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (mut passed, mut refused) = (0, 0);
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_millis(1900) {
        match router.request(&one_host, "/", &[]).await.status {
            200 => passed += 1,
            503 => refused += 1,
            s => panic!("status {s} while recovering"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        passed > 0 && refused > 0,
        "{passed} passed, {refused} refused"
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    for _ in 0..10 {
        let r = router.request(&one_host, "/", &[]).await;
        assert_eq!(r.status, 200, "closed again: {}", r.text());
    }

    // NetworkErrorRatio from labels (Traefik counts 502 and 504 answers as network errors):
    // a 502, then the breaker's 418.
    let host = format!("{net_errors}.test");
    let r = router.wait_status(&host, "/gateway", 502).await;
    assert_eq!(r.text(), "gateway\n");
    let r = router.request(&host, "/", &[]).await;
    assert_eq!((r.status, r.text().as_str()), (418, "I'm a teapot"));
}

/// `retry` sends a request again only when it reached no backend, as Traefik's does: a
/// server that refuses connections is tried again (the next server answers), a request with a
/// body too, but a POST the server received and then closed on without answering is not sent
/// a second time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_never_sends_again_what_a_server_received() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use tokio::io::AsyncReadExt;
    // A server that reads a request head and closes without answering, counting them.
    let closer = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closer_addr = closer.local_addr().unwrap();
    let received = Arc::new(AtomicUsize::new(0));
    let count = received.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = closer.accept().await {
            let count = count.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                count.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    let (good, refusing) = (free_port(), free_port());
    let nginx = Nginx::start(
        &format!(
            "  server {{ listen 127.0.0.1:{good}; location / {{ return 200 \"good\\n\"; }} }}\n"
        ),
        &[good],
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dynamic.yml");
    std::fs::write(
        &file,
        format!(
            r#"http:
  routers:
    closes:
      rule: Host(`closes.test`)
      service: closes
      middlewares: [again]
    refused:
      rule: Host(`refused.test`)
      service: refused
      middlewares: [again]
  middlewares:
    again:
      retry:
        attempts: 3
  services:
    closes:
      loadBalancer:
        servers: [{{url: "http://{closer_addr}"}}]
    refused:
      loadBalancer:
        servers: [{{url: "http://127.0.0.1:{refusing}"}}, {{url: "http://127.0.0.1:{good}"}}]
"#
        ),
    )
    .unwrap();
    let router = Router::builder()
        .flags(&[&format!("--providers.file.filename={}", file.display())])
        .start_without_docker()
        .await;
    router.wait_routes(&["closes@file", "refused@file"]).await;
    // A POST with a body, first: the server that refuses connections read nothing of it, so
    // it goes to the next server whole (the first server tried is the first listed).
    for _ in 0..2 {
        let post = e2e::http::exchange(
            router.web_addr(),
            b"POST /submit HTTP/1.1\r\nHost: refused.test\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
        )
        .await;
        assert_eq!(
            post.statuses(),
            [200],
            "{}",
            String::from_utf8_lossy(&post.raw)
        );
    }
    for _ in 0..4 {
        let r = router.request("refused.test", "/", &[]).await;
        assert_eq!((r.status, r.text().trim()), (200, "good"));
    }
    // A POST without a body (so it could be sent again as it is).
    let post = e2e::http::exchange(
        router.web_addr(),
        b"POST /submit HTTP/1.1\r\nHost: closes.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(
        post.statuses(),
        [502],
        "{}",
        String::from_utf8_lossy(&post.raw)
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        received.load(Ordering::SeqCst),
        1,
        "the POST was sent again"
    );
    drop(nginx);
}
