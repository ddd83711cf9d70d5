//! Middlewares from container labels, end to end (one whoami container, one router per
//! middleware).
//!
//! Proves that: `basicauth` answers 401 with `WWW-Authenticate` without credentials or with a
//! wrong password, and forwards with the right one (`{SHA}` hash), from `users` and from a
//! `usersfile`; `ipallowlist` refuses a
//! client outside its ranges with 403 and forwards one inside them; `headers.customrequestheaders` reaches the backend;
//! `redirectscheme` answers GET with 302 (301 when permanent) and POST with 307 (308), with the
//! https `Location`, as Traefik does.
#![allow(clippy::unwrap_used)]

use e2e::docker::{require_docker, Cleanup};
use e2e::http::exchange;
use e2e::router::{echoes_header, hostname_in, router_guard, run_whoami, unique, Labels, Router};

/// `{SHA}` of "password", as `htpasswd -s` writes it.
const SHA_PASSWORD: &str = "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=";
/// `user:password` and `user:wrong`, base64.
const GOOD_CREDENTIALS: &str = "Basic dXNlcjpwYXNzd29yZA==";
const BAD_CREDENTIALS: &str = "Basic dXNlcjp3cm9uZw==";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basicauth_ipallowlist_headers_and_redirectscheme() {
    require_docker();
    let c = Cleanup::new("rt-mw");
    let net = c.network("net");
    let guard = router_guard().start().await;
    let router = Router::builder().start(&guard).await;

    let [auth, allow, allowed, hdr, redir, redirp, fileauth] = [
        "mw-auth",
        "mw-allow",
        "mw-allowed",
        "mw-hdr",
        "mw-redir",
        "mw-redirp",
        "mw-file",
    ]
    .map(unique);
    // basicauth.usersfile: Traefik's format (blank lines and # comments skipped).
    let users_dir = tempfile::tempdir().unwrap();
    let users_file = users_dir.path().join("htpasswd");
    std::fs::write(&users_file, format!("# users\n\n  user:{SHA_PASSWORD}  \n")).unwrap();
    let host = |r: &str| format!("{r}.test");
    let route = |l: Labels, r: &str| {
        l.router(r, "rule", &format!("Host(`{}`)", host(r)))
            .router(r, "middlewares", r)
    };
    let mut labels = Labels::enabled();
    for r in [&auth, &allow, &allowed, &hdr, &redir, &redirp, &fileauth] {
        labels = route(labels, r);
    }
    let labels = labels
        .middleware(&auth, "basicauth.users", &format!("user:{SHA_PASSWORD}"))
        .middleware(
            &fileauth,
            "basicauth.usersfile",
            &users_file.display().to_string(),
        )
        .middleware(&allow, "ipallowlist.sourcerange", "10.255.255.0/24")
        .middleware(
            &allowed,
            "ipallowlist.sourcerange",
            "10.255.255.0/24, 127.0.0.1/32",
        )
        .middleware(&hdr, "headers.customrequestheaders.X-Test", "1")
        .middleware(&redir, "redirectscheme.scheme", "https")
        .middleware(&redirp, "redirectscheme.scheme", "https")
        .middleware(&redirp, "redirectscheme.permanent", "true");
    let w = run_whoami(&c, "w", &net, &labels, &[]).await;

    // headers: the custom request header reaches whoami.
    let r = router.wait_status(&host(&hdr), "/", 200).await;
    let body = r.text();
    assert_eq!(hostname_in(&body), Some(w.hostname.as_str()), "{body}");
    assert!(echoes_header(&body, "X-Test", "1"), "{body}");

    // basicauth.
    for creds in [None, Some(BAD_CREDENTIALS)] {
        let headers: Vec<(&str, &str)> = creds.map(|v| ("Authorization", v)).into_iter().collect();
        let r = router.request(&host(&auth), "/", &headers).await;
        assert_eq!(r.status, 401, "{creds:?}: {}", r.text());
        assert_eq!(
            r.header("www-authenticate"),
            Some("Basic realm=\"traefik\""),
            "{:?}",
            r.headers
        );
        assert_eq!(r.text(), "401 Unauthorized\n");
    }
    let r = router
        .request(&host(&auth), "/", &[("Authorization", GOOD_CREDENTIALS)])
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(hostname_in(&r.text()), Some(w.hostname.as_str()));

    // basicauth.usersfile: the same answers, the entries read from the file.
    let r = router.wait_status(&host(&fileauth), "/", 401).await;
    assert_eq!(r.text(), "401 Unauthorized\n");
    let r = router
        .request(&host(&fileauth), "/", &[("Authorization", BAD_CREDENTIALS)])
        .await;
    assert_eq!(r.status, 401);
    let r = router
        .request(
            &host(&fileauth),
            "/",
            &[("Authorization", GOOD_CREDENTIALS)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());

    // ipallowlist: 127.0.0.1 is not in 10.255.255.0/24.
    let r = router.request(&host(&allow), "/", &[]).await;
    assert_eq!((r.status, r.text().as_str()), (403, "Forbidden"));
    // ... and is let through where a range holds it.
    let r = router.wait_status(&host(&allowed), "/", 200).await;
    assert_eq!(hostname_in(&r.text()), Some(w.hostname.as_str()));

    // redirectscheme, temporary and permanent, with Traefik's statuses: GET gets 302 or 301,
    // any other method 307 or 308 (it keeps its method and body).
    for (r, get, post) in [(&redir, 302, 307), (&redirp, 301, 308)] {
        let resp = router.request(&host(r), "/some/path?q=1", &[]).await;
        assert_eq!(resp.status, get, "{}", resp.text());
        let want = format!("https://{}/some/path?q=1", host(r));
        assert_eq!(resp.header("location"), Some(want.as_str()));
        let raw = format!(
            "POST /some/path?q=1 HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            host(r)
        );
        let ex = exchange(router.web_addr(), raw.as_bytes()).await;
        assert_eq!(ex.statuses(), [post], "{}", ex.raw_text());
        assert_eq!(ex.responses[0].header("location"), Some(want.as_str()));
    }
}
