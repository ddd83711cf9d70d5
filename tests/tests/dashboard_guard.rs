//! socket-guard's decisions page in a real browser (headless Chromium), on its real admin
//! listener, after the real docker CLI was allowed and refused through the guard: the page
//! loads with no console error and no request leaving the guard, shows the refusal with the
//! variable that would allow it, and that variable really does (a guard with it set lets the
//! same command through). Screenshots go to `target/artifacts/`.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use e2e::browser::Browser;
use e2e::docker::{docker, require_docker, text};
use e2e::guard::Guard;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guard_page_shows_a_refusal_and_the_variable_that_allows_it() {
    require_docker();
    let guard = Guard::builder().env("CONTAINERS", "1").start().await;
    let admin = guard.serve_admin().await;
    let host = guard.docker_host();
    let ps = docker(&["ps", "-q"], &host).await;
    assert!(ps.status.success(), "docker ps: {}", text(&ps.stderr));
    let images = docker(&["images", "-q"], &host).await;
    assert!(!images.status.success(), "docker images was allowed");

    let origin = format!("http://{admin}");
    let mut page = Browser::start(1280, 900).await;
    page.open(&format!("{origin}/")).await;
    page.wait_for(
        "the live mark",
        "document.querySelector('#live.on')",
        secs(10),
    )
    .await;
    let fix = page
        .wait_for(
            "the refused image list",
            "document.querySelector('tr.refused[data-endpoint=\"image.list\"] td:last-child code')?.textContent",
            secs(10),
        )
        .await;
    assert_eq!(fix, "IMAGES=1");
    let row = page
        .eval("document.querySelector('tr.refused[data-endpoint=\"image.list\"]').innerText")
        .await;
    let row = row.as_str().unwrap_or_default().to_owned();
    assert!(
        row.contains("GET /images/json") && row.contains("403"),
        "{row}"
    );
    page.screenshot("dashboard-guard-refused").await;

    // The allowed `docker ps` is in the list of all decisions and in the counts.
    page.eval("location.hash = '#recent'").await;
    page.wait_for(
        "the allowed container list",
        "document.body.innerText.includes('container.list')",
        secs(10),
    )
    .await;
    page.eval("location.hash = '#counts'").await;
    page.wait_for(
        "the client's counts",
        "document.body.innerText.includes('127.0.0.1')",
        secs(10),
    )
    .await;
    page.eval("location.hash = '#policy'").await;
    let policy = page
        .wait_for(
            "the policy in force",
            "document.getElementById('policy-text').textContent",
            secs(10),
        )
        .await;
    assert_eq!(
        policy.as_str().unwrap_or_default(),
        guard.state().config.policy.render_allow_list()
    );
    page.screenshot("dashboard-guard-policy").await;
    page.assert_clean(&origin);

    // The variable shown allows what was refused.
    let fixed = Guard::builder()
        .env("CONTAINERS", "1")
        .env("IMAGES", "1")
        .start()
        .await;
    let images = docker(&["images", "-q"], &fixed.docker_host()).await;
    assert!(
        images.status.success(),
        "IMAGES=1 did not allow docker images: {}",
        text(&images.stderr)
    );

    // The JSON behind the page says the same.
    let json = e2e::http::exchange(
        admin,
        b"GET /decisions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    let body = String::from_utf8_lossy(&json.responses[0].body).into_owned();
    let v: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    let refused = v["recent"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["endpoint"] == "image.list")
        .unwrap_or_else(|| panic!("no image.list in {v:#}"));
    assert_eq!(refused["decision"], "deny");
    assert_eq!(refused["allowWith"], serde_json::json!(["IMAGES=1"]));
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}
