//! The router's dashboard in a real browser (headless Chromium), served the way Traefik users
//! open theirs (`--api.dashboard=true --api.insecure=true`: the `traefik` entry point), with
//! real containers discovered through socket-guard: it loads with no console error and no
//! request leaving the router, lists the routers and backends that exist, shows a broken
//! label's error under its container, follows a container that starts, and its URL tester
//! names the router the table gives. Screenshots go to `target/artifacts/`.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use e2e::browser::Browser;
use e2e::docker::{require_docker, Cleanup};
use e2e::router::{router_guard, run_whoami, unique, Labels, Router};

/// The page's text, as a JavaScript expression.
const TEXT: &str = "document.body.innerText";

fn shows(needle: &str) -> String {
    format!("{TEXT}.includes({})", serde_json::json!(needle))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_the_table_and_follows_it() {
    require_docker();
    let c = Cleanup::new("rt-dash");
    let net = c.network("net");
    let guard = router_guard().start().await;
    let ep = unique("dashweb");
    // A certificate from the file provider, for the certificates' tab.
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["dash-cert.test".to_string()]).unwrap();
    let (crt, key) = (dir.path().join("c.crt"), dir.path().join("c.key"));
    std::fs::write(&crt, cert.cert.pem()).unwrap();
    std::fs::write(&key, cert.signing_key.serialize_pem()).unwrap();
    let dynamic = dir.path().join("dynamic.yml");
    std::fs::write(
        &dynamic,
        format!(
            "tls:\n  certificates:\n    - certFile: {}\n      keyFile: {}\n",
            crt.display(),
            key.display()
        ),
    )
    .unwrap();
    let router = Router::builder()
        .with_file(&dynamic)
        .flags(&[
            "--api.dashboard=true",
            "--api.insecure=true",
            "--entrypoints.traefik.address=127.0.0.1:0",
            &format!("--entrypoints.{ep}.address=127.0.0.1:0"),
        ])
        .start(&guard)
        .await;
    let [app, broken, late] = ["app", "broken", "late"].map(unique);
    let good = Labels::enabled()
        .router(&app, "rule", &format!("Host(`{app}.test`)"))
        .router(&app, "entrypoints", &ep);
    let w = run_whoami(&c, "app", &net, &good, &[]).await;
    let bad = Labels::enabled()
        .router(&broken, "rule", &format!("Host(`{broken}.test`"))
        .router(&broken, "entrypoints", &ep);
    let b = run_whoami(&c, "broken", &net, &bad, &[]).await;
    // A backend that refuses: its requests count as errors.
    let refusing = unique("refusing");
    let refusing_labels = Labels::enabled()
        .router(&refusing, "rule", &format!("Host(`{refusing}.test`)"))
        .router(&refusing, "entrypoints", &ep)
        .service(&refusing, "server.port", "9");
    let r = run_whoami(&c, "refusing", &net, &refusing_labels, &[]).await;
    let origin = format!("http://{}", router.addr("traefik"));
    // Requests through the app's router, so that its backend has counts to show.
    let (status, _) = wait_ok(&router, &ep, &format!("{app}.test")).await;
    assert_eq!(status, 200);
    let deadline = Instant::now() + secs(20);
    let refused = loop {
        let st = router_status(&router, &ep, &format!("{refusing}.test")).await;
        if st != 404 || Instant::now() > deadline {
            break st;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(refused == 502 || refused == 503, "{refused}");

    let mut page = Browser::start(1280, 900).await;
    page.open(&format!("{origin}/dashboard/")).await;
    page.wait_for(
        "the live mark",
        "document.querySelector('#live.on')",
        secs(10),
    )
    .await;
    page.wait_for("the overview", &shows("Entry points"), secs(10))
        .await;
    page.screenshot("dashboard-router-overview").await;

    // Routers: the app's, enabled; the broken one is not a router at all (its rule does
    // not parse), and its container's issue is listed under the container's name.
    page.eval("location.hash = '#routers'").await;
    let app_router = format!("{app}@docker");
    page.wait_for("the app's router", &shows(&app_router), secs(10))
        .await;
    let row = page
        .eval(&format!(
            "document.querySelector('tr[data-router=\"{app_router}\"]').innerText"
        ))
        .await;
    let row = row.as_str().unwrap_or_default().to_owned();
    assert!(row.contains("enabled") && row.contains(&w.name), "{row}");
    page.screenshot("dashboard-router-routers").await;

    page.eval("location.hash = '#services'").await;
    page.wait_for("the app's backend", &shows(&w.name), secs(10))
        .await;
    let text = page.text().await;
    assert!(text.contains(" up") || text.contains("up\t"), "{text}");
    // Its request before the page opened is counted; the refusing backend's are errors.
    let line = |name: &str| {
        text.lines()
            .skip_while(|l| !l.contains(name))
            .take(6)
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert!(line(&w.name).contains("0% errors of "), "{text}");
    assert!(line(&r.name).contains("100% errors of "), "{text}");
    page.screenshot("dashboard-router-services").await;

    // The file provider's certificate, its names, where it comes from and its days left.
    page.eval("location.hash = '#certificates'").await;
    page.wait_for("the file's certificate", &shows("dash-cert.test"), secs(10))
        .await;
    let text = page.text().await;
    assert!(text.contains("file") && text.contains(" days"), "{text}");

    page.eval("location.hash = '#issues'").await;
    page.wait_for("the broken label's container", &shows(&b.name), secs(10))
        .await;
    let text = page.text().await;
    assert!(
        text.contains(&format!("traefik.http.routers.{broken}.rule")),
        "{text}"
    );
    page.screenshot("dashboard-router-issues").await;

    // A container starts: once the router's table has its router, the page shows it within
    // a second (it checks the table's generation four times a second).
    page.eval("location.hash = '#routers'").await;
    let late_labels = Labels::enabled()
        .router(&late, "rule", &format!("Host(`{late}.test`)"))
        .router(&late, "entrypoints", &ep);
    run_whoami(&c, "late", &net, &late_labels, &[]).await;
    let late_router = format!("{late}@docker");
    router
        .wait_live("the late container's router", |l| {
            l.table.routes.iter().any(|r| r.name == late_router)
        })
        .await;
    let routed = Instant::now();
    page.wait_for("the late router", &shows(&late_router), secs(1))
        .await;
    eprintln!(
        "the page showed the new router {:?} after the table had it",
        routed.elapsed()
    );

    // Search narrows the list.
    search(&mut page, &late).await;
    let rows = page
        .eval("document.querySelectorAll('#routers tr[data-router]').length")
        .await;
    assert_eq!(rows, 1, "search kept {rows} rows");
    search(&mut page, "").await;

    // Which router takes a URL: asked of the router itself.
    page.eval("location.hash = '#tester'").await;
    page.eval(&format!(
        "document.getElementById('match-url').value = 'http://{app}.test/some/path';
         document.getElementById('match-ep').value = {};
         document.getElementById('match-form').requestSubmit()",
        serde_json::json!(ep)
    ))
    .await;
    let named = page
        .wait_for(
            "the tester's answer",
            "document.querySelector('#match-result tr[data-match]')?.dataset.match",
            secs(10),
        )
        .await;
    assert_eq!(named, serde_json::json!(app_router));
    page.screenshot("dashboard-router-tester").await;
    page.assert_clean(&origin);

    // On a phone, in the dark.
    let mut phone = Browser::start(390, 844).await;
    phone.dark(true).await;
    phone.open(&format!("{origin}/dashboard/#services")).await;
    phone
        .wait_for("the phone's list", &shows(&w.name), secs(10))
        .await;
    let bg = phone
        .eval("getComputedStyle(document.body).backgroundColor")
        .await;
    assert_eq!(bg, "rgb(17, 19, 23)", "dark mode");
    let wide = phone
        .eval("document.documentElement.scrollWidth <= window.innerWidth")
        .await;
    assert_eq!(wide, true, "the page is wider than the phone");
    phone.screenshot("dashboard-router-phone-dark").await;
    phone.assert_clean(&origin);
}

/// Types `text` into the search box.
async fn search(page: &mut Browser, text: &str) {
    page.eval(&format!(
        "{{ const s = document.getElementById('search'); s.value = {}; s.dispatchEvent(new Event('input')); }}",
        serde_json::json!(text)
    ))
    .await;
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// One request for `host` on entry point `ep`: its status.
async fn router_status(router: &Router, ep: &str, host: &str) -> u16 {
    let raw = format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    let ex = e2e::http::exchange(router.addr(ep), raw.as_bytes()).await;
    ex.statuses().first().copied().unwrap_or(0)
}

/// Asks `host` on entry point `ep` until it answers 200 (the container is routed).
async fn wait_ok(router: &Router, ep: &str, host: &str) -> (u16, String) {
    let deadline = Instant::now() + secs(20);
    loop {
        let raw = format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        let ex = e2e::http::exchange(router.addr(ep), raw.as_bytes()).await;
        let status = ex.statuses().first().copied().unwrap_or(0);
        if status == 200 || Instant::now() > deadline {
            return (status, String::new());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
