//! Traefik's access log (`accessLog` in a Traefik static configuration): its lines, in its
//! formats, written to `accessLog.filePath` (directories made), with its filters and fields.
//! Real nginx behind the router (no Docker).

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use e2e::make::free_port;
use e2e::nginx::Nginx;
use e2e::router::Router;

/// Lines of `path` once `done` holds for them (lines are written in batches).
async fn lines(path: &std::path::Path, done: impl Fn(&[String]) -> bool) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<String> = text.lines().map(str::to_owned).collect();
        if done(&lines) {
            return lines;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{}: {lines:?}",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn dynamic(dir: &std::path::Path, port: u16) -> std::path::PathBuf {
    let file = dir.join("dynamic.yml");
    std::fs::write(
        &file,
        format!(
            r#"http:
  routers:
    app:
      rule: Host(`app.test`)
      service: app
    auth:
      rule: Host(`auth.test`)
      service: app
      middlewares: [users]
  middlewares:
    users:
      basicAuth:
        users: ["test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/"]
  services:
    app:
      loadBalancer:
        servers: [{{url: "http://127.0.0.1:{port}"}}]
"#
        ),
    )
    .unwrap();
    file
}

/// `common` (Traefik's default format) to a file in a directory that does not exist yet:
/// one line per request with Traefik's fields in Traefik's order, a 404 no router took with
/// `"-"` for router and server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn common_lines_go_to_the_access_log_file() {
    let (_nginx, port) = Nginx::answering("hello");
    let dir = tempfile::tempdir().unwrap();
    let file = dynamic(dir.path(), port);
    let access = dir.path().join("logs/traefik/access.log");
    let router = Router::builder()
        .flags(&[
            &format!("--providers.file.filename={}", file.display()),
            &format!("--accesslog.filepath={}", access.display()),
        ])
        .start_without_docker()
        .await;
    router.wait_routes(&["app@file", "auth@file"]).await;
    let r = router
        .request("app.test", "/page?q=1", &[("User-Agent", "probe/1")])
        .await;
    assert_eq!((r.status, r.text().as_str()), (200, "hello\n"));
    let r = router.request("nothing.test", "/x", &[]).await;
    assert_eq!(r.status, 404);
    // test:test, through basicAuth: the line names the user.
    let r = router
        .request(
            "auth.test",
            "/in",
            &[("Authorization", "Basic dGVzdDp0ZXN0")],
        )
        .await;
    assert_eq!(r.status, 200);
    let got = lines(&access, |l| {
        ["/page?q=1", "/x ", "/in "]
            .iter()
            .all(|p| l.iter().any(|l| l.contains(p)))
    })
    .await;
    let authed = got.iter().find(|l| l.contains("/in ")).unwrap();
    assert!(authed.starts_with("127.0.0.1 - test ["), "{authed}");
    assert!(authed.contains("\"auth@file\""), "{authed}");
    let app = got.iter().find(|l| l.contains("/page?q=1")).unwrap();
    // `127.0.0.1 - - [07/Dec/2026:10:00:00 +0000] "GET /page?q=1 HTTP/1.1" 200 6 "-" "-" 3
    // "app@file" "http://127.0.0.1:<port>" 1ms`
    let (before, after) = app.split_once("] ").unwrap();
    let before: Vec<&str> = before.split(' ').collect();
    assert_eq!(&before[..3], ["127.0.0.1", "-", "-"], "{app}");
    assert!(before[3].starts_with('[') && before[4] == "+0000", "{app}");
    let rest = format!(
        "\"GET /page?q=1 HTTP/1.1\" 200 6 \"-\" \"-\" {{n}} \"app@file\" \"http://127.0.0.1:{port}\" "
    );
    let (head, tail) = rest.split_once("{n}").unwrap();
    assert!(after.starts_with(head), "{app}");
    let after = &after[head.len()..];
    let (count, after) = after.split_once(' ').unwrap();
    assert!(count.parse::<u64>().unwrap() >= 1, "{app}");
    assert!(after.starts_with(tail.trim_start()), "{app}");
    let ms = after[tail.trim_start().len()..].strip_suffix("ms").unwrap();
    assert!(ms.parse::<u64>().is_ok(), "{app}");
    let miss = got.iter().find(|l| l.contains("/x ")).unwrap();
    assert!(
        miss.contains("\"GET /x HTTP/1.1\" 404 19 \"-\" \"-\" ")
            && miss.contains(" \"-\" \"-\" ")
            && miss.ends_with("ms"),
        "{miss}"
    );
}

/// `json` with `filters` and `fields`: only the 4xx lines are written; a kept header is
/// logged, a redacted one as `REDACTED`, a dropped field and the query are not; the counts,
/// sizes, status and router are Traefik's fields.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_lines_with_filters_and_fields() {
    let port = free_port();
    let _nginx = Nginx::start(
        &format!(
            "  server {{ listen 127.0.0.1:{port}; location / {{ return 200 \"hello\\n\"; }} location /gone {{ return 410 \"gone\\n\"; }} }}\n"
        ),
        &[port],
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dynamic(dir.path(), port);
    let access = dir.path().join("access.json");
    let router = Router::builder()
        .flags(&[
            &format!("--providers.file.filename={}", file.display()),
            &format!("--accesslog.filepath={}", access.display()),
            "--accesslog.format=json",
            "--accesslog.filters.statuscodes=400-499",
            "--accesslog.fields.names.ClientPort=drop",
            "--accesslog.fields.headers.defaultmode=keep",
            "--accesslog.fields.headers.names.Authorization=redact",
            "--accesslog.fields.queryparameters.defaultmode=drop",
        ])
        .start_without_docker()
        .await;
    router.wait_routes(&["app@file"]).await;
    let r = router.request("app.test", "/ok", &[]).await;
    assert_eq!(r.status, 200);
    let r = router
        .request(
            "app.test",
            "/gone?secret=1",
            &[("Authorization", "Bearer abc"), ("X-Trace", "t1")],
        )
        .await;
    assert_eq!(r.status, 410);
    let got = lines(&access, |l| !l.is_empty()).await;
    // The 200 is filtered out: let the writer have had its chance.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let got = lines(&access, |l| l.len() >= got.len()).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let v: serde_json::Value = serde_json::from_str(&got[0]).unwrap();
    assert_eq!(v["DownstreamStatus"], 410, "{v}");
    assert_eq!(v["OriginStatus"], 410, "{v}");
    assert_eq!(v["DownstreamContentSize"], 5, "{v}");
    assert_eq!(v["RequestPath"], "/gone", "{v}");
    assert_eq!(v["RequestMethod"], "GET", "{v}");
    assert_eq!(v["RequestHost"], "app.test", "{v}");
    assert_eq!(v["RouterName"], "app@file", "{v}");
    assert_eq!(v["ServiceName"], "app@file", "{v}");
    assert_eq!(v["ServiceURL"], format!("http://127.0.0.1:{port}"), "{v}");
    assert_eq!(v["RetryAttempts"], 0, "{v}");
    assert_eq!(v["request_Authorization"], "REDACTED", "{v}");
    assert_eq!(v["request_X-Trace"], "t1", "{v}");
    assert_eq!(v.get("ClientPort"), None, "{v}");
    assert_eq!(
        (&v["level"], &v["msg"]),
        (&"info".into(), &"".into()),
        "{v}"
    );
    assert!(v["Duration"].as_u64().unwrap() >= v["OriginDuration"].as_u64().unwrap());
}
