//! The `headers` middleware's Traefik v3 options from container labels, end to end: CORS
//! (a preflight answered by the router and never forwarded, the allowed origin and `Vary` on
//! the answer), the security headers (`browserXssFilter`, `forceSTSHeader` on plain HTTP,
//! `sslProxyHeaders`), `allowedHosts` with `hostsProxyHeaders` (500 `Bad Host`, nothing
//! forwarded), and custom request headers: `X-Forwarded-Proto` set by the middleware reaches
//! the backend even from an untrusted client (whose own is removed first, as Traefik's entry
//! point does), and an empty `X-Forwarded-For` sends none.
#![allow(clippy::unwrap_used)]

use e2e::docker::{require_docker, Cleanup};
use e2e::router::{echoes_header, hostname_in, router_guard, run_whoami, unique, Labels, Router};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_security_headers_and_custom_request_headers() {
    require_docker();
    let c = Cleanup::new("rt-hdr");
    let net = c.network("net");
    let guard = router_guard().start().await;
    let router = Router::builder().start(&guard).await;
    let [cors, sec, hosts, req, zip] = ["cors", "sec", "hosts", "req", "zip"].map(unique);
    let host = |r: &str| format!("{r}.test");
    let mut labels = Labels::enabled();
    for r in [&cors, &sec, &hosts, &req, &zip] {
        labels = labels
            .router(r, "rule", &format!("Host(`{}`)", host(r)))
            .router(r, "middlewares", r);
    }
    let h = |_: &str, k: &str| format!("headers.{k}");
    let labels = labels
        .middleware(&cors, &h(&cors, "accesscontrolallowmethods"), "GET,PUT")
        .middleware(&cors, &h(&cors, "accesscontrolallowheaders"), "X-Custom")
        .middleware(
            &cors,
            &h(&cors, "accesscontrolalloworiginlist"),
            "https://app.example",
        )
        .middleware(&cors, &h(&cors, "accesscontrolmaxage"), "600")
        .middleware(&cors, &h(&cors, "addvaryheader"), "true")
        .middleware(&sec, &h(&sec, "browserxssfilter"), "true")
        .middleware(&sec, &h(&sec, "stsseconds"), "315360000")
        .middleware(&sec, &h(&sec, "forcestsheader"), "true")
        .middleware(&sec, &h(&sec, "sslredirect"), "true")
        .middleware(
            &hosts,
            &h(&hosts, "allowedhosts"),
            &format!("{},public.example", host(&hosts)),
        )
        .middleware(&hosts, &h(&hosts, "hostsproxyheaders"), "X-Original-Host")
        .middleware(
            &req,
            &h(&req, "customrequestheaders.X-Forwarded-Proto"),
            "https",
        )
        .middleware(&req, &h(&req, "customrequestheaders.X-Forwarded-For"), "")
        .middleware(&zip, "compress.encodings", "zstd,gzip")
        .middleware(&zip, "compress.defaultencoding", "gzip")
        .middleware(&zip, "compress.minresponsebodybytes", "10");
    let w = run_whoami(&c, "w", &net, &labels, &[]).await;

    // CORS: a preflight is answered by the router (whoami would echo the request).
    router.wait_status(&host(&cors), "/", 200).await;
    let r = e2e::http::exchange(
        router.web_addr(),
        format!(
            "OPTIONS /api HTTP/1.1\r\nHost: {}\r\nOrigin: https://app.example\r\nAccess-Control-Request-Method: PUT\r\nConnection: close\r\n\r\n",
            host(&cors)
        )
        .as_bytes(),
    )
    .await;
    let p = &r.responses[0];
    assert_eq!(p.status, 200, "{}", r.raw_text());
    assert_eq!(
        p.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(p.header("access-control-allow-methods"), Some("GET,PUT"));
    assert_eq!(p.header("access-control-allow-headers"), Some("X-Custom"));
    assert_eq!(p.header("access-control-max-age"), Some("600"));
    assert!(
        p.body.is_empty(),
        "the preflight reached the backend: {}",
        p.text()
    );
    // A simple request: forwarded, with the origin allowed and Vary: Origin.
    let r = router
        .request(&host(&cors), "/", &[("Origin", "https://app.example")])
        .await;
    assert_eq!(hostname_in(&r.text()), Some(w.hostname.as_str()));
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(r.header("vary"), Some("Origin"), "{:?}", r.headers);
    let r = router
        .request(&host(&cors), "/", &[("Origin", "https://evil.example")])
        .await;
    assert_eq!(
        r.header("access-control-allow-origin"),
        None,
        "{:?}",
        r.headers
    );

    // Security headers; forceSTSHeader puts HSTS on plain HTTP; sslRedirect has no effect
    // (Traefik v3 removed it).
    let r = router.wait_status(&host(&sec), "/", 200).await;
    assert_eq!(r.header("x-xss-protection"), Some("1; mode=block"));
    assert_eq!(
        r.header("strict-transport-security"),
        Some("max-age=315360000")
    );

    // allowedHosts: the Host, or the first hostsProxyHeaders header that is set.
    router.wait_status(&host(&hosts), "/", 200).await;
    let r = router
        .request(&host(&hosts), "/", &[("X-Original-Host", "evil.example")])
        .await;
    assert_eq!(r.status, 500);
    assert_eq!(r.text(), "Bad Host\n");
    let r = router
        .request(&host(&hosts), "/", &[("X-Original-Host", "PUBLIC.example")])
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(hostname_in(&r.text()), Some(w.hostname.as_str()));

    // Custom request headers win over the entry point's, and an untrusted client's forged
    // X-Forwarded-Proto does not reach the backend.
    let r = router.wait_status(&host(&req), "/", 200).await;
    let body = r.text();
    assert!(echoes_header(&body, "X-Forwarded-Proto", "https"), "{body}");
    assert!(
        !body.to_ascii_lowercase().contains("x-forwarded-for"),
        "{body}"
    );
    assert!(echoes_header(&body, "X-Real-Ip", "127.0.0.1"), "{body}");
    let r = router
        .request(
            &host(&cors),
            "/",
            &[
                ("X-Forwarded-Proto", "forged"),
                ("X-Forwarded-Host", "forged"),
            ],
        )
        .await;
    let body = r.text();
    assert!(echoes_header(&body, "X-Forwarded-Proto", "http"), "{body}");
    assert!(
        echoes_header(&body, "X-Forwarded-Host", &host(&cors)),
        "{body}"
    );

    // compress options: a small answer (below the default 1024 bytes) compressed with the
    // configured codings, the first preferred on a tie; no Accept-Encoding: defaultEncoding.
    let r = router.wait_status(&format!("{zip}.test"), "/", 200).await;
    assert_eq!(
        r.header("content-encoding"),
        Some("gzip"),
        "no Accept-Encoding: {:?}",
        r.headers
    );
    let r = router
        .request(
            &format!("{zip}.test"),
            "/",
            &[("Accept-Encoding", "br, gzip, zstd")],
        )
        .await;
    assert_eq!(
        r.header("content-encoding"),
        Some("zstd"),
        "{:?}",
        r.headers
    );
    let r = router
        .request(&format!("{zip}.test"), "/", &[("Accept-Encoding", "br")])
        .await;
    assert_eq!(
        r.header("content-encoding"),
        None,
        "br is not offered: {:?}",
        r.headers
    );
}

/// `contentType`: a backend answer without `Content-Type` (Debian's nginx with an empty
/// `default_type`) gets the type Go's sniffing gives its first bytes, over HTTP/1.1 and HTTP/2,
/// unless it has a `Content-Encoding`;
/// without the middleware none is added (Traefik v3's default); `autoDetect: false` does
/// nothing; an answer that has one keeps it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_type_is_sniffed_only_with_the_middleware() {
    require_docker();
    let port = e2e::make::free_port();
    let _nginx = e2e::nginx::Nginx::start(
        &format!(
            r#"
  server {{
    listen 127.0.0.1:{port};
    location /html {{ default_type ""; return 200 "<!DOCTYPE html><p>hi"; }}
    location /pdf {{ default_type ""; return 200 "%PDF-1.4 ..."; }}
    location /typed {{ default_type "application/json"; return 200 "<html>"; }}
    location /encoded {{ default_type ""; add_header Content-Encoding gzip; return 200 "<!DOCTYPE html>"; }}
  }}
"#
        ),
        &[port],
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dynamic.yml");
    std::fs::write(
        &file,
        format!(
            "http:\n  services:\n    raw:\n      loadBalancer:\n        servers: [{{url: \"http://127.0.0.1:{port}\"}}]\n  middlewares:\n    sniff:\n      contentType: {{}}\n    nosniff:\n      contentType:\n        autoDetect: false\n"
        ),
    )
    .unwrap();
    let c = Cleanup::new("rt-ctype");
    let net = c.network("net");
    let guard = router_guard().start().await;
    let router = Router::builder()
        .both_entry_points()
        .with_file(&file)
        .start(&guard)
        .await;
    let [with, without, off] = ["with", "without", "off"].map(unique);
    let labels = Labels::enabled()
        .router(&with, "rule", &format!("Host(`{with}.test`)"))
        .router(&with, "service", "raw@file")
        .router(&with, "middlewares", "sniff@file")
        .router(&without, "rule", &format!("Host(`{without}.test`)"))
        .router(&without, "service", "raw@file")
        .router(&off, "rule", &format!("Host(`{off}.test`)"))
        .router(&off, "service", "raw@file")
        .router(&off, "middlewares", "nosniff@file");
    run_whoami(&c, "w", &net, &labels, &[]).await;
    let with_host = format!("{with}.test");
    let r = router.wait_status(&with_host, "/html", 200).await;
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(r.text(), "<!DOCTYPE html><p>hi");
    let r = router.request(&with_host, "/pdf", &[]).await;
    assert_eq!(r.header("content-type"), Some("application/pdf"));
    let r = router.request(&with_host, "/typed", &[]).await;
    assert_eq!(r.header("content-type"), Some("application/json"));
    // An answer with a Content-Encoding is not sniffed (Go's server does not sniff one).
    let r = router.request(&with_host, "/encoded", &[]).await;
    assert_eq!(
        r.header("content-encoding"),
        Some("gzip"),
        "{:?}",
        r.headers
    );
    assert_eq!(r.header("content-type"), None, "{:?}", r.headers);
    for host in [format!("{without}.test"), format!("{off}.test")] {
        let r = router.wait_status(&host, "/html", 200).await;
        assert_eq!(r.header("content-type"), None, "{host}");
    }
    // HTTP/2 from the client.
    let addr = router.websecure_addr();
    let out = std::process::Command::new("curl")
        .args([
            "-sk",
            "--http2",
            "-o",
            "/dev/null",
            "-w",
            "%{content_type}|%{http_version}",
        ])
        .arg("--resolve")
        .arg(format!("{with_host}:{}:127.0.0.1", addr.port()))
        .arg(format!("https://{with_host}:{}/html", addr.port()))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "text/html; charset=utf-8|2"
    );
}

/// What Traefik's `headers` middlewares do to every answer, end to end: each wraps what comes
/// after it, so the router's own answers (a `basicAuth` 401, a 502 from a server that refuses
/// connections) get the CORS and custom headers of the `headers` middlewares before them,
/// and of two that set the same header the earlier (outer) one wins; an `errors` page gets
/// those before the `errors` middleware, and its `{url}` is the path as the middlewares
/// before it left it; `frameDeny` applies when `customFrameOptionsValue` is empty; `$NONCE`
/// in a content security policy is a new nonce on each answer; two `stripPrefix` give the
/// backend two `X-Forwarded-Prefix` lines; a chosen coding puts `Vary: Accept-Encoding` on an
/// answer too small to compress.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answer_headers_reach_every_answer_as_traefiks_do() {
    require_docker();
    let free_port = e2e::make::free_port;
    let (pages, fails, closed) = (free_port(), free_port(), free_port());
    let _nginx = e2e::nginx::Nginx::start(
        &format!(
            r#"
  server {{ listen 127.0.0.1:{pages}; location /page {{ return 200 "page u=$arg_u\n"; }} }}
  server {{ listen 127.0.0.1:{fails}; location / {{ return 500 "failed\n"; }} }}
"#
        ),
        &[pages, fails],
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dynamic.yml");
    std::fs::write(
        &file,
        format!(
            r#"http:
  routers:
    denied:
      rule: Host(`denied.test`)
      service: dead
      middlewares: [outer, inner, auth]
    gone:
      rule: Host(`gone.test`)
      service: dead
      middlewares: [outer]
    paged:
      rule: Host(`paged.test`)
      service: fails
      middlewares: [outer, api, pages, inner]
  middlewares:
    outer:
      headers:
        customResponseHeaders: {{X-A: outer}}
        accessControlAllowOriginList: ["*"]
    inner:
      headers:
        customResponseHeaders: {{X-A: inner, X-B: inner}}
        frameDeny: true
        customFrameOptionsValue: ""
        contentSecurityPolicy: "script-src $NONCE"
    auth:
      basicAuth:
        users: ["u:{{SHA}}UWuXg/ylF+7L0dBk2i0WUxCxl1k="]
    api:
      stripPrefix:
        prefixes: [/api]
    v1:
      stripPrefix:
        prefixes: [/v1]
    pages:
      errors:
        status: ["500-599"]
        service: pagesvc
        query: "/page?u={{url}}"
    zip:
      compress: {{}}
  services:
    dead:
      loadBalancer:
        servers: [{{url: "http://127.0.0.1:{closed}"}}]
    fails:
      loadBalancer:
        servers: [{{url: "http://127.0.0.1:{fails}"}}]
    pagesvc:
      loadBalancer:
        servers: [{{url: "http://127.0.0.1:{pages}"}}]
"#
        ),
    )
    .unwrap();
    let c = Cleanup::new("rt-hdr-all");
    let net = c.network("net");
    let guard = router_guard().start().await;
    let router = Router::builder().with_file(&file).start(&guard).await;
    let [both, pfx, zip] = ["both", "pfx", "zip"].map(unique);
    let labels = Labels::enabled()
        .router(&both, "rule", &format!("Host(`{both}.test`)"))
        .router(&both, "middlewares", "outer@file,inner@file")
        .router(&pfx, "rule", &format!("Host(`{pfx}.test`)"))
        .router(&pfx, "middlewares", "api@file,v1@file")
        .router(&zip, "rule", &format!("Host(`{zip}.test`)"))
        .router(&zip, "middlewares", "zip@file");
    let w = run_whoami(&c, "w", &net, &labels, &[]).await;

    // A basicAuth refusal after two headers middlewares: their headers, the outer's X-A.
    let r = router.wait_status("denied.test", "/", 401).await;
    assert_eq!(r.header("x-a"), Some("outer"), "{:?}", r.headers);
    assert_eq!(r.header("x-b"), Some("inner"), "{:?}", r.headers);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert!(r.header("www-authenticate").is_some(), "{:?}", r.headers);
    assert!(!r.text().contains(&w.hostname), "{}", r.text());
    // The router's own 502.
    let r = router.wait_status("gone.test", "/", 502).await;
    assert_eq!(r.header("x-a"), Some("outer"), "{:?}", r.headers);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    // An errors page: {url} after stripPrefix, the headers of the middlewares before it only.
    let r = router.wait_status("paged.test", "/api/x?q=1", 500).await;
    assert_eq!(
        r.text(),
        "page u=http%3A%2F%2Fpaged.test%2Fx%3Fq%3D1\n",
        "{:?}",
        r.headers
    );
    assert_eq!(r.header("x-a"), Some("outer"), "{:?}", r.headers);
    assert_eq!(r.header("x-b"), None, "{:?}", r.headers);

    // A backend's answer through both: the outer wins X-A; frameDeny with an empty custom
    // value; a nonce per answer.
    let r = router.wait_status(&format!("{both}.test"), "/", 200).await;
    assert_eq!(r.header("x-a"), Some("outer"), "{:?}", r.headers);
    assert_eq!(r.header("x-b"), Some("inner"));
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    let nonce = |r: &e2e::http::RawResponse| {
        let csp = r.header("content-security-policy").unwrap_or_default();
        let n = csp
            .strip_prefix("script-src 'nonce-")
            .and_then(|s| s.strip_suffix('\''))
            .unwrap_or_else(|| panic!("{csp:?}"))
            .to_owned();
        assert_eq!(n.len(), 22, "16 bytes, unpadded base64: {csp}");
        n
    };
    let again = router.request(&format!("{both}.test"), "/", &[]).await;
    assert_ne!(nonce(&r), nonce(&again));

    // Two stripPrefix: two X-Forwarded-Prefix lines, in order.
    let r = router
        .wait_status(&format!("{pfx}.test"), "/api/v1/x", 200)
        .await;
    let body = r.text();
    let prefixes: Vec<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("x-forwarded-prefix: "))
        .collect();
    assert_eq!(prefixes, ["/api", "/v1"], "{body}");
    assert!(body.contains("GET /x HTTP/1.1"), "{body}");

    // compress: gzip chosen, whoami's "ok" too small to compress, Vary all the same.
    router
        .wait_status(&format!("{zip}.test"), "/health", 200)
        .await;
    let r = router
        .request(
            &format!("{zip}.test"),
            "/health",
            &[("Accept-Encoding", "gzip")],
        )
        .await;
    assert_eq!(r.header("content-encoding"), None, "{:?}", r.headers);
    assert_eq!(r.header("vary"), Some("Accept-Encoding"), "{:?}", r.headers);
    assert_eq!(r.text(), "ok\n");
}
