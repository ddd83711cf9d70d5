//! `forwardAuth` inside a `chain` from a dynamic file, and the regex rewrites from labels, end
//! to end: routers from a real container's labels (seen through socket-guard) that use
//! `sso@file`, a chain of forwardAuth and headers; Debian's nginx as the authentication
//! server (answering as Authelia-style servers do: 200 with the user's headers and a cookie,
//! 401 with a reason, 302 to a login page) and as a backend whose access log shows what
//! reached it.
//!
//! Proves that: a refusal is the client's answer (status, body, the server's headers, a
//! relative `Location` made absolute against the server's URL) and reaches no backend; an
//! authentication server that cannot be reached is a 500 that reaches no backend; a granted
//! request reaches the backend with the server's `X-Auth-User` replacing the client's forged
//! one, the chain's next middleware (headers) applied, and the server's `sso_session` cookie
//! replacing the backend's; the server is sent the request's headers and Traefik's
//! `X-Forwarded-Method/-Proto/-Host/-Uri/-For`, never a client's forged `X-Forwarded-Uri`;
//! `redirectregex` (301/308), `replacepathregex` (`X-Replaced-Path`) and `stripprefixregex`
//! (`X-Forwarded-Prefix`) rewrite as Traefik's do, and a rewrite into `..` is refused with 400.
#![allow(clippy::unwrap_used)]

use e2e::docker::{require_docker, Cleanup};
use e2e::make::free_port;
use e2e::nginx::Nginx;
use e2e::router::{echoes_header, hostname_in, router_guard, run_whoami, unique, Labels, Router};

fn nginx_block(auth: u16, backend: u16) -> String {
    format!(
        r#"
  log_format seen '$request_method $request_uri|m=$http_x_forwarded_method|p=$http_x_forwarded_proto|h=$http_x_forwarded_host|u=$http_x_forwarded_uri|f=$http_x_forwarded_for|a=$http_authorization|user=$http_x_auth_user';
  server {{
    listen 127.0.0.1:{auth};
    absolute_redirect off;
    access_log @DIR@/auth.log seen;
    location = /verify {{
      if ($http_authorization = "Bearer good") {{
        add_header X-Auth-User alice always;
        add_header Set-Cookie "sso_session=fromauth; Path=/" always;
        add_header Set-Cookie "other=fromauth; Path=/" always;
        return 200 "ok\n";
      }}
      if ($http_authorization = "Bearer login") {{
        return 302 /login?rd=$http_x_forwarded_host;
      }}
      add_header X-Auth-Reason "no valid token" always;
      return 401 "denied by the auth server\n";
    }}
  }}
  server {{
    listen 127.0.0.1:{backend};
    access_log @DIR@/backend.log seen;
    location / {{
      add_header Set-Cookie "sso_session=frombackend; Path=/" always;
      add_header Set-Cookie "app=1; Path=/" always;
      return 200 "backend user=$http_x_auth_user uri=$request_uri\n";
    }}
  }}
"#
    )
}

fn dynamic(auth: u16, closed: u16, backend: u16) -> String {
    format!(
        r#"http:
  middlewares:
    sso:
      chain:
        middlewares: [auth, secure]
    auth:
      forwardAuth:
        address: "http://127.0.0.1:{auth}/verify"
        trustForwardHeader: true
        authResponseHeaders: [X-Auth-User]
        addAuthCookiesToResponse: [sso_session]
    secure:
      headers:
        customResponseHeaders:
          X-Chain: secure
    down:
      forwardAuth:
        address: "http://127.0.0.1:{closed}/verify"
  services:
    backend:
      loadBalancer:
        servers:
          - url: "http://127.0.0.1:{backend}"
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwardauth_in_a_chain_and_regex_rewrites() {
    require_docker();
    let (auth, backend, closed) = (free_port(), free_port(), free_port());
    let nginx = Nginx::start(&nginx_block(auth, backend), &[auth, backend]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dynamic.yml");
    std::fs::write(&file, dynamic(auth, closed, backend)).unwrap();

    let c = Cleanup::new("rt-fa");
    let net = c.network("net");
    let guard = router_guard().start().await;
    let router = Router::builder().with_file(&file).start(&guard).await;
    let [fa, down, rx, rp, sp] = ["fa", "fadown", "rx", "rp", "sp"].map(unique);
    let host = |r: &str| format!("{r}.test");
    let labels = Labels::enabled()
        .router(&fa, "rule", &format!("Host(`{}`)", host(&fa)))
        .router(&fa, "middlewares", "sso@file")
        .router(&fa, "service", "backend@file")
        .router(&down, "rule", &format!("Host(`{}`)", host(&down)))
        .router(&down, "middlewares", "down@file")
        .router(&down, "service", "backend@file")
        .router(&rx, "rule", &format!("Host(`{}`)", host(&rx)))
        .router(&rx, "middlewares", &rx)
        .middleware(
            &rx,
            "redirectregex.regex",
            &format!("^http://{}/.well-known/(card|cal)dav", host(&rx)),
        )
        .middleware(
            &rx,
            "redirectregex.replacement",
            &format!("http://{}/remote.php/dav/", host(&rx)),
        )
        .middleware(&rx, "redirectregex.permanent", "true")
        .router(&rp, "rule", &format!("Host(`{}`)", host(&rp)))
        .router(&rp, "middlewares", &rp)
        .middleware(&rp, "replacepathregex.regex", "^/api/v1/(.*)")
        .middleware(&rp, "replacepathregex.replacement", "/v2/$1")
        .router(&sp, "rule", &format!("Host(`{}`)", host(&sp)))
        .router(&sp, "middlewares", &sp)
        .middleware(&sp, "stripprefixregex.regex", "/user/[a-z]+");
    let w = run_whoami(&c, "w", &net, &labels, &[]).await;

    // --- forwardAuth in a chain ---
    router.wait_status(&host(&fa), "/", 401).await;
    let backend_seen = || nginx.log_lines("backend.log").len();
    let before = backend_seen();
    assert_eq!(before, 0, "{:?}", nginx.log_lines("backend.log"));

    // Refused: the server's status, body and headers; nothing reaches the backend.
    let r = router.request(&host(&fa), "/private?x=1", &[]).await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(r.text(), "denied by the auth server\n");
    assert_eq!(
        r.header("x-auth-reason"),
        Some("no valid token"),
        "{:?}",
        r.headers
    );
    // A login redirect: the relative Location made absolute against the server's URL.
    let r = router
        .request(&host(&fa), "/", &[("Authorization", "Bearer login")])
        .await;
    assert_eq!(r.status, 302, "{}", r.text());
    assert_eq!(
        r.header("location"),
        Some(format!("http://127.0.0.1:{auth}/login?rd={}", host(&fa)).as_str()),
        "{:?}",
        r.headers
    );
    assert_eq!(backend_seen(), 0, "a refused request reached the backend");

    // The server down: 500 with no body (as Traefik's), no backend.
    let r = router.wait_status(&host(&down), "/", 500).await;
    assert_eq!(r.text(), "");
    assert_eq!(
        backend_seen(),
        0,
        "a request whose check failed reached the backend"
    );

    // Granted: the server's user replaces the forged one, the chain's headers apply, the
    // server's sso_session cookie replaces the backend's; other cookies stay as they were.
    let r = router
        .request(
            &host(&fa),
            "/app/page?q=1",
            &[
                ("Authorization", "Bearer good"),
                ("X-Auth-User", "mallory"),
                ("X-Forwarded-Uri", "/forged"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "backend user=alice uri=/app/page?q=1\n");
    assert_eq!(r.header("x-chain"), Some("secure"), "{:?}", r.headers);
    let cookies: Vec<&str> = r
        .headers
        .iter()
        .filter(|(k, _)| k == "set-cookie")
        .map(|(_, v)| v.as_str())
        .collect();
    assert!(
        cookies.contains(&"sso_session=fromauth; Path=/"),
        "{cookies:?}"
    );
    assert!(cookies.contains(&"app=1; Path=/"), "{cookies:?}");
    assert!(
        !cookies
            .iter()
            .any(|c| c.contains("frombackend") || c.starts_with("other=")),
        "{cookies:?}"
    );
    let seen = nginx.wait_log("backend.log", |l| !l.is_empty()).await;
    assert_eq!(seen.len(), 1, "{seen:?}");

    // What the server was asked: GET /verify with the request's headers and Traefik's
    // X-Forwarded-*, the real URI rather than the forged one.
    let asked = nginx.settled("auth.log").await;
    let last = asked.last().unwrap();
    assert_eq!(
        last,
        &format!(
            "GET /verify|m=GET|p=http|h={}|u=/app/page?q=1|f=127.0.0.1|a=Bearer good|user=mallory",
            host(&fa)
        ),
        "{asked:#?}"
    );

    // --- the regex rewrites, on whoami ---
    let r = router
        .wait_status(&host(&rx), "/.well-known/carddav", 301)
        .await;
    assert_eq!(
        r.header("location"),
        Some(format!("http://{}/remote.php/dav/", host(&rx)).as_str()),
        "{:?}",
        r.headers
    );
    let raw = format!(
        "POST /.well-known/caldav HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        host(&rx)
    );
    let ex = e2e::http::exchange(router.web_addr(), raw.as_bytes()).await;
    assert_eq!(ex.statuses(), [308], "{}", ex.raw_text());
    // Not matching: forwarded (the first request to the whoami container: it may still be
    // starting to listen when the suite loads the machine).
    let r = router.wait_status(&host(&rx), "/index.php", 200).await;
    assert_eq!(hostname_in(&r.text()), Some(w.hostname.as_str()));

    let r = router
        .wait_status(&host(&rp), "/api/v1/users?id=7", 200)
        .await;
    let body = r.text();
    assert!(body.contains("GET /v2/users?id=7 HTTP/1.1"), "{body}");
    assert!(
        echoes_header(&body, "X-Replaced-Path", "/api/v1/users"),
        "{body}"
    );
    // The entry point cleans the path first (Traefik's default `sanitizePath`): `/etc`,
    // which the regex does not match.
    let r = router.request(&host(&rp), "/api/v1/../../etc", &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("GET /etc HTTP/1.1"), "{}", r.text());

    let r = router
        .wait_status(&host(&sp), "/user/bob/profile", 200)
        .await;
    let body = r.text();
    assert!(body.contains("GET /profile HTTP/1.1"), "{body}");
    assert!(
        echoes_header(&body, "X-Forwarded-Prefix", "/user/bob"),
        "{body}"
    );
    // `//` is one `/` by then (sanitizePath).
    let r = router.request(&host(&sp), "/user/bob//x", &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("GET /x HTTP/1.1"), "{}", r.text());
    let r = router.request(&host(&sp), "/other/user/bob", &[]).await;
    assert!(
        r.text().contains("GET /other/user/bob HTTP/1.1"),
        "{}",
        r.text()
    );
}

/// `forwardBody`: the authentication server is asked with the request's body (nginx reads it
/// and logs it), and the backend then gets the same body, whether it came with a length or
/// chunked, over HTTP/1.1 (with `Expect: 100-continue` too) and HTTP/2. A body over
/// `maxBodySize` is answered 401 and reaches neither server; a refusal with a body reaches
/// no backend.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwardauth_forwards_the_body() {
    require_docker();
    let [auth, auth_in, backend, backend_in] = [(); 4].map(|()| free_port());
    let nginx = Nginx::start(
        &format!(
            r#"
  log_format body '$request_method $request_uri $content_length $request_body';
  server {{
    listen 127.0.0.1:{auth};
    access_log @DIR@/auth.log body;
    location / {{ proxy_pass http://127.0.0.1:{auth_in}; }}
  }}
  server {{
    listen 127.0.0.1:{auth_in};
    access_log off;
    location / {{
      if ($http_authorization = "Bearer good") {{ return 200 "ok\n"; }}
      return 401 "denied\n";
    }}
  }}
  server {{
    listen 127.0.0.1:{backend};
    access_log @DIR@/backend.log body;
    location / {{ proxy_pass http://127.0.0.1:{backend_in}; }}
  }}
  server {{ listen 127.0.0.1:{backend_in}; access_log off; location / {{ return 200 "backend\n"; }} }}
"#
        ),
        &[auth, auth_in, backend, backend_in],
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dynamic.yml");
    std::fs::write(
        &file,
        format!(
            r#"http:
  routers:
    plain:
      rule: Host(`fb.test`)
      entryPoints: [web]
      middlewares: [withbody]
      service: backend
    secure:
      rule: Host(`fb.test`)
      entryPoints: [websecure]
      tls: {{}}
      middlewares: [withbody]
      service: backend
  middlewares:
    withbody:
      forwardAuth:
        address: "http://127.0.0.1:{auth}/verify"
        forwardBody: true
        maxBodySize: 8
  services:
    backend:
      loadBalancer:
        servers: [{{url: "http://127.0.0.1:{backend}"}}]
"#
        ),
    )
    .unwrap();
    let guard = router_guard().start().await;
    let router = Router::builder()
        .both_entry_points()
        .env("ROUTER_HEADER_TIMEOUT", "2s")
        .with_file(&file)
        .start(&guard)
        .await;
    router.wait_status("fb.test", "/", 401).await;
    let post = |path: &str, auth: &str, framing: &str, body: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nHost: fb.test\r\nAuthorization: Bearer {auth}\r\n{framing}\r\nConnection: close\r\n\r\n{body}"
        )
    };
    let send = |raw: String| {
        let addr = router.web_addr();
        async move { e2e::http::exchange(addr, raw.as_bytes()).await }
    };
    let lines = |name: &str| nginx.log_lines(name);
    // nginx writes a request's log line once it has answered: a moment after the client
    // may have its answer.
    let last_is = |name: &'static str, want: &'static str| {
        let nginx = &nginx;
        async move {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            loop {
                let got = nginx.log_lines(name);
                if got.last().map(String::as_str) == Some(want) {
                    return;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "{name}: {got:?}, not {want:?} last"
                );
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
    };

    // A body with a length: the auth server and then the backend get it.
    let ex = send(post("/a", "good", "Content-Length: 7", "token=1")).await;
    assert_eq!(ex.statuses(), [200], "{}", ex.raw_text());
    last_is("auth.log", "GET /verify 7 token=1").await;
    last_is("backend.log", "POST /a 7 token=1").await;
    // Chunked: de-chunked for both (sent with its length).
    let chunked = "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
    let ex = send(post("/b", "good", "Transfer-Encoding: chunked", chunked)).await;
    assert_eq!(ex.statuses(), [200], "{}", ex.raw_text());
    last_is("auth.log", "GET /verify 5 abcde").await;
    last_is("backend.log", "POST /b 5 abcde").await;
    // Expect: 100-continue: the client is told to go on before the body is read.
    let ex = send(post(
        "/c",
        "good",
        "Content-Length: 3\r\nExpect: 100-continue",
        "xyz",
    ))
    .await;
    assert_eq!(ex.statuses(), [100, 200], "{}", ex.raw_text());
    last_is("backend.log", "POST /c 3 xyz").await;
    // An empty body with a length: nothing to wait for.
    let ex = send(post("/empty", "good", "Content-Length: 0", "")).await;
    assert_eq!(ex.statuses(), [200], "{}", ex.raw_text());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !lines("backend.log")
        .last()
        .is_some_and(|l| l.starts_with("POST /empty "))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "backend.log: {:?}",
            lines("backend.log")
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (asked, reached) = (lines("auth.log").len(), lines("backend.log").len());
    // A body that stops coming (the connection left open): 408 after the entry point's read
    // timeout, neither server asked.
    let started = std::time::Instant::now();
    let ex = send(post("/stall", "good", "Content-Length: 8", "abc")).await;
    assert_eq!(ex.statuses(), [408], "{}", ex.raw_text());
    assert!(ex.closed, "the connection closes after a 408");
    assert!(started.elapsed() >= std::time::Duration::from_secs(2));
    assert_eq!(
        (lines("auth.log").len(), lines("backend.log").len()),
        (asked, reached)
    );

    // Refused by the server: it saw the body, the backend saw nothing.
    let ex = send(post("/d", "bad", "Content-Length: 4", "evil")).await;
    assert_eq!(ex.statuses(), [401], "{}", ex.raw_text());
    last_is("auth.log", "GET /verify 4 evil").await;
    // Over maxBodySize (declared, or chunked as it grows): 401, neither server asked.
    let ex = send(post("/e", "good", "Content-Length: 9", "123456789")).await;
    assert_eq!(ex.statuses(), [401], "{}", ex.raw_text());
    let big = "5\r\n12345\r\n5\r\n67890\r\n0\r\n\r\n";
    let ex = send(post("/f", "good", "Transfer-Encoding: chunked", big)).await;
    assert_eq!(ex.statuses(), [401], "{}", ex.raw_text());
    assert_eq!(lines("auth.log").len(), asked + 1);
    assert_eq!(
        lines("backend.log").len(),
        reached,
        "{:?}",
        lines("backend.log")
    );

    // HTTP/2: the same.
    let addr = router.websecure_addr();
    // `upload` sends the body from stdin, without a length (counted as it arrives).
    let curl = |body: &str, upload: bool| {
        use std::io::Write;
        let mut cmd = std::process::Command::new("curl");
        cmd.args(["-sk", "--http2", "-o", "/dev/null", "-w", "%{http_code}"])
            .args(["--max-time", "10", "-H", "Authorization: Bearer good"]);
        match upload {
            true => cmd.args(["-X", "POST", "-T", "-"]),
            false => cmd.args(["--data-binary", body]),
        };
        let mut child = cmd
            .arg("--resolve")
            .arg(format!("fb.test:{}:127.0.0.1", addr.port()))
            .arg(format!("https://fb.test:{}/h2", addr.port()))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        if upload {
            stdin.write_all(body.as_bytes()).unwrap();
        }
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(curl("h2body", false), "200");
    last_is("auth.log", "GET /verify 6 h2body").await;
    last_is("backend.log", "POST /h2 6 h2body").await;
    assert_eq!(curl("h2-up", true), "200");
    last_is("auth.log", "GET /verify 5 h2-up").await;
    last_is("backend.log", "POST /h2 5 h2-up").await;
    // Too large: refused before the request is complete, so the 401 comes with a
    // RST_STREAM(NO_ERROR) (RFC 9113 8.1), which curl 7.88 sometimes reports as a failed
    // transfer instead of the answer; either way, neither server is asked.
    let (asked, reached) = (lines("auth.log").len(), lines("backend.log").len());
    let status = curl("h2-too-large", true);
    assert!(status == "401" || status == "000", "{status}");
    assert_eq!(
        (lines("auth.log").len(), lines("backend.log").len()),
        (asked, reached)
    );
    last_is("backend.log", "POST /h2 5 h2-up").await;
}
