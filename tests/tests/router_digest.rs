//! `digestAuth` end to end with curl's own Digest client: a router from a real container's
//! labels (through socket-guard) with `users` in htdigest form passes the right password (the
//! backend, Debian's nginx, sees the user in `headerField` and no `Authorization`), refuses a
//! wrong one and no credentials with 401 and a Digest challenge, and those refusals reach no
//! backend (nginx's access log stays the same); a `usersFile` in htdigest format works alike.
#![allow(clippy::unwrap_used)]

use e2e::docker::{require_docker, Cleanup};
use e2e::make::free_port;
use e2e::nginx::Nginx;
use e2e::router::{router_guard, run_whoami, unique, Labels, Router};

/// `curl --digest -u <creds>` to the router's web entry point: (status, body).
fn curl_digest(router: &Router, host: &str, creds: Option<&str>) -> (u16, String) {
    let addr = router.web_addr();
    let mut cmd = std::process::Command::new("curl");
    cmd.args(["-s", "--max-time", "10", "-w", "\n%{http_code}"]);
    if let Some(c) = creds {
        cmd.args(["--digest", "-u", c]);
    }
    cmd.arg("--resolve")
        .arg(format!("{host}:{}:127.0.0.1", addr.port()))
        .arg(format!("http://{host}:{}/private?x=1", addr.port()));
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.parse().unwrap(), body.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_auth_with_curl() {
    require_docker();
    let echo = free_port();
    let nginx = Nginx::start(
        &format!(
            r#"
  server {{
    listen 127.0.0.1:{echo};
    access_log @DIR@/echo.log;
    location / {{ return 200 "user=$http_x_webauth_user auth=$http_authorization\n"; }}
  }}
"#
        ),
        &[echo],
    );
    let dir = tempfile::tempdir().unwrap();
    // htdigest -c file traefik alice (password "wonderland").
    let users_file = dir.path().join("htdigest");
    std::fs::write(
        &users_file,
        "# users\nalice:traefik:cc6292a804b584bcbd1657ddd96d47dc\n\n",
    )
    .unwrap();
    let file = dir.path().join("dynamic.yml");
    std::fs::write(
        &file,
        format!(
            "http:\n  services:\n    echo:\n      loadBalancer:\n        servers: [{{url: \"http://127.0.0.1:{echo}\"}}]\n  middlewares:\n    fromfile:\n      digestAuth:\n        usersFile: {}\n",
            users_file.display()
        ),
    )
    .unwrap();
    let c = Cleanup::new("rt-digest");
    let net = c.network("net");
    let guard = router_guard().start().await;
    let router = Router::builder().with_file(&file).start(&guard).await;
    let [inline, filed] = ["inline", "filed"].map(unique);
    let labels = Labels::enabled()
        .router(&inline, "rule", &format!("Host(`{inline}.test`)"))
        .router(&inline, "service", "echo@file")
        .router(&inline, "middlewares", &inline)
        .middleware(
            &inline,
            "digestauth.users",
            "test:traefik:a2688e031edb4be6a3797f3882655c05",
        )
        .middleware(&inline, "digestauth.headerfield", "X-WebAuth-User")
        .middleware(&inline, "digestauth.removeheader", "true")
        .router(&filed, "rule", &format!("Host(`{filed}.test`)"))
        .router(&filed, "service", "echo@file")
        .router(&filed, "middlewares", "fromfile@file");
    run_whoami(&c, "w", &net, &labels, &[]).await;
    let (inline_host, filed_host) = (format!("{inline}.test"), format!("{filed}.test"));
    router.wait_status(&inline_host, "/", 401).await;
    let reached = nginx.log_lines("echo.log").len();

    let r = router.request(&inline_host, "/", &[]).await;
    assert_eq!(r.status, 401);
    let www = r.header("www-authenticate").unwrap();
    assert!(
        www.starts_with("Digest realm=\"traefik\", nonce=\"")
            && www.ends_with("algorithm=\"MD5\", qop=\"auth\""),
        "{www}"
    );
    assert_eq!(
        curl_digest(&router, &inline_host, Some("test:wrong")).0,
        401
    );
    assert_eq!(curl_digest(&router, &inline_host, None).0, 401);
    assert_eq!(
        nginx.log_lines("echo.log").len(),
        reached,
        "a refused request reached the backend"
    );
    let (status, body) = curl_digest(&router, &inline_host, Some("test:test"));
    assert_eq!((status, body.as_str()), (200, "user=test auth=\n"));
    let (status, body) = curl_digest(&router, &filed_host, Some("alice:wonderland"));
    assert_eq!(status, 200, "{body}");
    assert!(
        body.starts_with("user= auth=Digest username=\"alice\""),
        "{body}"
    );
    assert_eq!(
        curl_digest(&router, &filed_host, Some("alice:wrong")).0,
        401
    );
}
