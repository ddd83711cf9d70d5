//! `buffering.maxRequestBodyBytes` end to end (labels through socket-guard, nginx as the
//! backend with its access log): a declared body over the limit answers 413 before anything
//! reaches the backend; one under it is forwarded; a chunked body is cut at the limit (413);
//! an HTTP/2 client's body over the limit gets 413 too. `maxResponseBodyBytes`: answers over
//! it get 500, declared or chunked, over HTTP/1.1 and HTTP/2.
#![allow(clippy::unwrap_used)]

use e2e::docker::{require_docker, Cleanup};
use e2e::make::free_port;
use e2e::nginx::Nginx;
use e2e::router::{router_guard, run_whoami, unique, Labels, Router};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_bodies_over_the_limit_get_413() {
    require_docker();
    let port = free_port();
    let nginx = Nginx::start(
        &format!(
            "  log_format req '$request_method $request_uri $http_content_length $http_transfer_encoding $server_protocol $status';\n  server {{ listen 127.0.0.1:{port}; access_log @DIR@/backend.log req; client_max_body_size 10m;\n    location / {{ return 200 \"got $content_length\\n\"; }} }}\n"
        ),
        &[port],
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dynamic.yml");
    std::fs::write(
        &file,
        format!("http:\n  services:\n    backend:\n      loadBalancer:\n        servers: [{{url: \"http://127.0.0.1:{port}\"}}]\n"),
    )
    .unwrap();
    let c = Cleanup::new("rt-buf");
    let net = c.network("net");
    let guard = router_guard().start().await;
    let router = Router::builder()
        .both_entry_points()
        .with_file(&file)
        .start(&guard)
        .await;
    let app = unique("buf");
    let host = format!("{app}.test");
    let labels = Labels::enabled()
        .router(&app, "rule", &format!("Host(`{host}`)"))
        .router(&app, "service", "backend@file")
        .router(&app, "middlewares", &app)
        .middleware(&app, "buffering.maxrequestbodybytes", "1000");
    run_whoami(&c, "w", &net, &labels, &[]).await;
    router.wait_status(&host, "/", 200).await;
    let web = router.web_addr();
    let post = |raw: String| async move {
        let ex = e2e::http::exchange(web, raw.as_bytes()).await;
        (ex.statuses().first().copied().unwrap_or(0), ex.raw_text())
    };
    // wait_status's request is logged (nginx writes the line once it has answered).
    let before = nginx.wait_log("backend.log", |l| !l.is_empty()).await.len();
    let big = "x".repeat(2000);
    let (status, text) = post(format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: 2000\r\nConnection: close\r\n\r\n{big}"
    ))
    .await;
    assert_eq!(status, 413, "{text}");
    assert!(text.ends_with("Request Entity Too Large\n"), "{text}");
    assert_eq!(
        nginx.log_lines("backend.log").len(),
        before,
        "a refused body reached the backend"
    );
    let small = "y".repeat(500);
    let (status, text) = post(format!("POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: 500\r\nConnection: close\r\n\r\n{small}")).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.ends_with("got 500\n"), "{text}");
    let chunk = format!("258\r\n{}\r\n", "z".repeat(600));
    let (status, text) = post(format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{chunk}{chunk}{chunk}0\r\n\r\n"
    ))
    .await;
    assert_eq!(status, 413, "{text}");

    // Over HTTP/2 the 413 comes before the body is read, so with a RST_STREAM(NO_ERROR) (RFC
    // 9113 8.1), which curl 7.88 sometimes reports as a failed transfer instead of the answer:
    // the router's own count of 4xx answers and the backend's log say what happened.
    let refused_4xx = || {
        let text = router.shared().metrics.render();
        // Both of the route's routers: `web`'s and its TLS copy on `websecure`.
        let route = format!("{app}@docker\"");
        text.lines()
            .filter(|l| l.starts_with("router_requests_total{") && l.contains(&route))
            .filter(|l| l.contains("code=\"4xx\""))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum::<u64>()
    };
    let addr = router.websecure_addr();
    let out = std::process::Command::new("curl")
        .args([
            "-sk",
            "--http2",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "10",
            "--data-binary",
            &big,
            "--resolve",
        ])
        .arg(format!("{host}:{}:127.0.0.1", addr.port()))
        .arg(format!("https://{host}:{}/h2", addr.port()))
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(status == "413" || status == "000", "{status}");
    // Three 413s in all on this route (each counted once its answer is written).
    for _ in 0..50 {
        if refused_4xx() >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        refused_4xx(),
        3,
        "the router did not answer 413 over HTTP/2"
    );
    // A request sent after it is logged, and the refused one is not (the chunked one before it
    // may be: its head and first chunk pass before the limit is reached, as documented).
    let (status, _) = post(format!(
        "POST /after HTTP/1.1\r\nHost: {host}\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx"
    ))
    .await;
    assert_eq!(status, 200);
    let lines = nginx
        .wait_log("backend.log", |l| l.iter().any(|l| l.contains(" /after ")))
        .await;
    assert!(
        !lines.iter().any(|l| l.contains(" /h2 ")),
        "a refused body reached the backend: {lines:?}"
    );
}

/// `buffering.maxResponseBodyBytes` against a real container (whoami): an answer whose
/// declared length is over the limit answers 500 `Internal Server Error` and none of its body
/// is sent; a chunked answer (server-sent events) over the limit answers 500 too, one under it
/// comes whole with its length; over HTTP/2 from the client alike (a HEAD answer passes: it
/// has no body); `disableResponseBuffer`
/// lifts the limit, as in Traefik.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_over_the_response_limit_get_500() {
    require_docker();
    let c = Cleanup::new("rt-bufresp");
    let net = c.network("net");
    let guard = router_guard().start().await;
    let router = Router::builder().both_entry_points().start(&guard).await;
    let [app, streamed] = ["app", "streamed"].map(unique);
    let labels = Labels::enabled()
        .router(&app, "rule", &format!("Host(`{app}.test`)"))
        .router(&app, "middlewares", &app)
        .middleware(&app, "buffering.maxresponsebodybytes", "100")
        .router(&streamed, "rule", &format!("Host(`{streamed}.test`)"))
        .router(&streamed, "middlewares", &streamed)
        .middleware(&streamed, "buffering.maxresponsebodybytes", "100")
        .middleware(&streamed, "buffering.disableresponsebuffer", "true");
    run_whoami(&c, "w", &net, &labels, &[]).await;
    let host = format!("{app}.test");
    let r = router.wait_status(&host, "/data?size=100", 200).await;
    assert_eq!(r.text().len(), 100);
    let r = router.request(&host, "/data?size=101", &[]).await;
    assert_eq!(
        (r.status, r.text().as_str()),
        (500, "Internal Server Error\n")
    );
    // Chunked: 3 events are 30 bytes; 12 are over 100.
    let r = router
        .request(&host, "/events?count=3&interval=0", &[])
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "data: 1\n\ndata: 2\n\ndata: 3\n\n");
    assert_eq!(r.header("content-length"), Some("27"));
    let r = router
        .request(&host, "/events?count=12&interval=0", &[])
        .await;
    assert_eq!(r.status, 500, "{}", r.text());
    // HTTP/2 from the client.
    let addr = router.websecure_addr();
    // (A HEAD answer's length is the GET's: it has no body over the limit.)
    for (path, method, want) in [
        ("/data?size=101", "GET", "500"),
        ("/events?count=12&interval=0", "GET", "500"),
        ("/data?size=10", "GET", "200"),
        ("/data?size=101", "HEAD", "200"),
    ] {
        let out = std::process::Command::new("curl")
            .args(["-sk", "--http2", "-o", "/dev/null", "-w", "%{http_code}"])
            .args(if method == "HEAD" { &["-I"][..] } else { &[] })
            .arg("--resolve")
            .arg(format!("{host}:{}:127.0.0.1", addr.port()))
            .arg(format!("https://{host}:{}{path}", addr.port()))
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            want,
            "{method} {path}"
        );
    }
    // disableResponseBuffer: no limit.
    let r = router
        .wait_status(&format!("{streamed}.test"), "/data?size=1000", 200)
        .await;
    assert_eq!(r.text().len(), 1000);
}

/// The response timeout counts from the moment the request has been sent whole, as Go's
/// `ResponseHeaderTimeout` does: an upload that takes longer than it, while it moves, is
/// answered by the backend, over HTTP/1.1 and HTTP/2; a backend that then says nothing is 504
/// one timeout later; a client that stops sending mid-body is not waited for forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_response_timeout_starts_once_the_request_is_sent() {
    require_docker();
    let (port, silent) = (free_port(), free_port());
    // nginx reads the whole body before answering (it proxies it to a second server).
    let inner = free_port();
    let nginx = Nginx::start(
        &format!(
            "  log_format body '$request_method $request_uri $request_body';\n  server {{ listen 127.0.0.1:{port}; access_log @DIR@/backend.log body;\n    location / {{ proxy_pass http://127.0.0.1:{inner}; }} }}\n  server {{ listen 127.0.0.1:{inner}; access_log off; location / {{ return 200 \"read it\\n\"; }} }}\n"
        ),
        &[port, inner],
    );
    // A backend that takes the request and never answers.
    let hold = tokio::net::TcpListener::bind(("127.0.0.1", silent))
        .await
        .unwrap();
    tokio::spawn(async move {
        let mut kept = Vec::new();
        while let Ok((s, _)) = hold.accept().await {
            kept.push(s);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dynamic.yml");
    std::fs::write(
        &file,
        format!(
            "http:\n  routers:\n    up:\n      rule: Host(`up.test`)\n      service: up\n    silent:\n      rule: Host(`silent.test`)\n      service: silent\n  services:\n    up:\n      loadBalancer:\n        servers: [{{url: \"http://127.0.0.1:{port}\"}}]\n    silent:\n      loadBalancer:\n        servers: [{{url: \"http://127.0.0.1:{silent}\"}}]\n"
        ),
    )
    .unwrap();
    let guard = router_guard().start().await;
    let router = Router::builder()
        .both_entry_points()
        .env("ROUTER_RESPONSE_TIMEOUT", "1s")
        .with_file(&file)
        .start(&guard)
        .await;
    router.wait_status("up.test", "/", 200).await;
    use tokio::io::AsyncWriteExt;
    // An upload of three parts 700 ms apart: 2.1 s in all, twice the response timeout.
    let slow_upload = |host: &'static str, parts: usize| {
        let addr = router.web_addr();
        async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            let head = format!(
                "POST /upload HTTP/1.1\r\nHost: {host}\r\nContent-Length: 9\r\nConnection: close\r\n\r\n"
            );
            s.write_all(head.as_bytes()).await.unwrap();
            for part in ["aaa", "bbb", "ccc"].iter().take(parts) {
                tokio::time::sleep(std::time::Duration::from_millis(700)).await;
                s.write_all(part.as_bytes()).await.unwrap();
            }
            let started = std::time::Instant::now();
            let ex = e2e::http::read_all(&mut s, std::time::Duration::from_secs(10)).await;
            (ex, started.elapsed())
        }
    };
    let (ex, _) = slow_upload("up.test", 3).await;
    assert_eq!(ex.statuses(), [200], "{}", ex.raw_text());
    let log = nginx
        .wait_log("backend.log", |l| {
            l.iter().any(|l| l == "POST /upload aaabbbccc")
        })
        .await;
    assert_eq!(log.last().unwrap(), "POST /upload aaabbbccc");
    // The same over HTTP/2: curl uploads 9,000 bytes at 3,000 a second.
    let upload = dir.path().join("upload.bin");
    std::fs::write(&upload, vec![b'x'; 9000]).unwrap();
    let addr = router.websecure_addr();
    let out = tokio::process::Command::new("curl")
        .args([
            "-sk",
            "--http2",
            "--limit-rate",
            "3000",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
        ])
        .arg("-T")
        .arg(&upload)
        .arg("--resolve")
        .arg(format!("up.test:{}:127.0.0.1", addr.port()))
        .arg(format!("https://up.test:{}/h2upload", addr.port()))
        .output()
        .await
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "200");
    let log = nginx
        .wait_log("backend.log", |l| {
            l.iter().any(|l| l.starts_with("PUT /h2upload "))
        })
        .await;
    let line = log
        .iter()
        .find(|l| l.starts_with("PUT /h2upload "))
        .unwrap();
    assert_eq!(
        line.len(),
        "PUT /h2upload ".len() + 9000,
        "the whole body arrived"
    );
    // Sent whole, then silence: 504 about one timeout after the last byte.
    let (ex, after) = slow_upload("silent.test", 3).await;
    assert_eq!(ex.statuses(), [504], "{}", ex.raw_text());
    assert!(after >= std::time::Duration::from_millis(800), "{after:?}");
    // The client stops after one part: the body stalls for a timeout, 504, closed.
    let (ex, _) = slow_upload("up.test", 1).await;
    assert_eq!(ex.statuses(), [504], "{}", ex.raw_text());
    assert!(ex.closed);
}
