//! Label-scoped visibility (`GUARD_VISIBLE_LABELS`, `GUARD_VISIBLE_NAMES`) in front of the
//! real dockerd: a container outside the scope does not exist for the client.
//!
//! Proves that, through a guard that could otherwise read, exec into and stop any container:
//! an unlabelled container is absent from the container list (whatever filters the client
//! adds), from `system df`, from a network's containers and from events, and every path that
//! names it — by full ID, short ID, name and `/name` — answers the daemon's own 404 (`No such
//! container: ...`), a stop through it has no effect (checked on the daemon), and its exec is a
//! 404 too; a labelled container is listed, inspected, stopped and exec'd as usual, and the
//! docker CLI's `ps` and `inspect` see the same; a name pattern narrows further; a prune, which
//! would reach every container, is refused. And the router routes a labelled container
//! through a guard scoped to `traefik.enable=true`.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use e2e::docker::{
    docker, ensure_test_image, inspect_container, real_api, real_docker_ok, require_docker, text,
    Cleanup,
};
use e2e::guard::Guard;
use e2e::http::{answer, RawResponse};
use e2e::router::{router_guard, run_whoami, unique, Labels, Router};

const LABEL: &str = "sgtest.visible";

fn ids_in(list: &RawResponse) -> Vec<String> {
    serde_json::from_slice::<serde_json::Value>(&list.body)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["Id"].as_str().unwrap().to_owned())
        .collect()
}

fn running(name: &str) -> bool {
    inspect_container(name).is_some_and(|v| v["State"]["Running"] == true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containers_outside_the_scope_do_not_exist_for_the_client() {
    require_docker();
    let c = Cleanup::new("visible");
    let net = c.network("net");
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 1;
    let start = |suffix: &str, labelled: bool| {
        let name = c.name(suffix);
        let mut args = vec!["run", "-d", "--name", &name, "--network", &net];
        let label = format!("{LABEL}=yes");
        if labelled {
            args.extend(["-l", &label]);
        }
        args.extend([ensure_test_image(), "sleep", "600"]);
        let id = real_docker_ok(&args);
        (name, id)
    };
    let (seen_name, seen) = start("seen", true);
    let (hidden_name, hidden) = start("hidden", false);
    let guard = Guard::builder()
        .envs(&[
            ("CONTAINERS", "1"),
            ("NETWORKS", "1"),
            ("SYSTEM", "1"),
            ("EXEC", "1"),
            ("POST", "1"),
            ("GUARD_VISIBLE_LABELS", &format!("{LABEL}=yes")),
        ])
        .start()
        .await;
    let addr = guard.addr();

    // Lists: the client's own filters only narrow further.
    for path in [
        "/containers/json?all=1".to_string(),
        "/v1.41/containers/json".to_string(),
        format!(
            "/containers/json?all=1&filters={}",
            "%7B%22name%22%3A%5B%22sgtest-visible%22%5D%7D"
        ),
    ] {
        let r = answer(addr, "GET", &path, None).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        let ids = ids_in(&r);
        assert!(ids.contains(&seen), "{path}: {ids:?}");
        assert!(!ids.contains(&hidden), "{path}: {ids:?}");
    }
    let df = answer(addr, "GET", "/system/df", None).await.text();
    assert!(df.contains(&seen) && !df.contains(&hidden), "{df}");
    let network = answer(addr, "GET", &format!("/networks/{net}"), None)
        .await
        .text();
    assert!(
        network.contains(&seen) && !network.contains(&hidden),
        "{network}"
    );

    // Every spelling of the hidden container is a 404 in the daemon's words, with no effect.
    let short = &hidden[..12];
    let slash_name = format!("/{hidden_name}");
    for spelling in [
        hidden.as_str(),
        short,
        hidden_name.as_str(),
        slash_name.as_str(),
    ] {
        let id = spelling.trim_start_matches('/');
        for (method, path, body) in [
            ("GET", format!("/containers/{id}/json"), None),
            ("GET", format!("/containers/{id}/top"), None),
            ("GET", format!("/containers/{id}/changes"), None),
            ("GET", format!("/containers/{id}/stats?stream=0"), None),
            ("POST", format!("/containers/{id}/stop?t=0"), None),
            (
                "POST",
                format!("/containers/{id}/exec"),
                Some(r#"{"Cmd":["true"]}"#),
            ),
        ] {
            let r = answer(addr, method, &path, body).await;
            assert_eq!(r.status, 404, "{method} {path}: {}", r.text());
            assert_eq!(
                r.message().as_deref(),
                Some(format!("No such container: {id}").as_str()),
                "{method} {path}"
            );
        }
    }
    assert!(
        running(&hidden_name),
        "a refused stop stopped the hidden container"
    );

    // Its exec, made on the daemon directly, is a 404 too; the seen one's is not.
    let exec_of = |id: &str| {
        let r = real_api(
            "POST",
            &format!("/containers/{id}/exec"),
            Some(r#"{"Cmd":["true"]}"#),
        );
        serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["Id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let hidden_exec = exec_of(&hidden);
    let r = answer(addr, "GET", &format!("/exec/{hidden_exec}/json"), None).await;
    assert_eq!(r.status, 404, "{}", r.text());
    let r = answer(addr, "GET", &format!("/exec/{}/json", exec_of(&seen)), None).await;
    assert_eq!(r.status, 200, "{}", r.text());

    // The seen container: inspected by name, exec'd, stopped.
    let r = answer(addr, "GET", &format!("/containers/{seen_name}/json"), None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = answer(
        addr,
        "POST",
        &format!("/containers/{seen_name}/exec"),
        Some(r#"{"Cmd":["true"]}"#),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());

    // Events: the hidden container's pause and unpause are not there, the seen one's are.
    for id in [&seen, &hidden] {
        real_docker_ok(&["pause", id]);
        real_docker_ok(&["unpause", id]);
    }
    let until = since + 600;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let events = answer(
        addr,
        "GET",
        &format!("/events?since={since}&until={}", now.min(until)),
        None,
    )
    .await
    .text();
    assert!(
        events.contains(&seen) && events.contains("\"pause\""),
        "{events}"
    );
    assert!(!events.contains(&hidden), "{events}");

    // The docker CLI sees the same.
    let host = guard.docker_host();
    let ps = docker(&["ps", "-a", "--no-trunc", "--format", "{{.ID}}"], &host).await;
    let listed = text(&ps.stdout);
    assert!(
        listed.contains(&seen) && !listed.contains(&hidden),
        "{ps:?}"
    );
    let cli = docker(&["inspect", "--type", "container", &hidden_name], &host).await;
    assert!(!cli.status.success(), "{cli:?}");
    assert!(text(&cli.stderr).contains("No such"), "{cli:?}");

    // A prune would reach every container: refused.
    let r = answer(addr, "POST", "/containers/prune", None).await;
    assert_eq!(r.status, 403, "{}", r.text());

    // The stop of the seen one works (last: it changes the state the rest relied on).
    let r = answer(addr, "POST", &format!("/containers/{seen}/stop?t=0"), None).await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(!running(&seen_name));

    // A name pattern narrows further: the seen container does not match `nothing-*`.
    let named = Guard::builder()
        .envs(&[
            ("CONTAINERS", "1"),
            ("GUARD_VISIBLE_LABELS", &format!("{LABEL}=yes")),
            ("GUARD_VISIBLE_NAMES", "nothing-*"),
        ])
        .start()
        .await;
    let r = answer(named.addr(), "GET", "/containers/json?all=1", None).await;
    assert!(ids_in(&r).is_empty(), "{}", r.text());
    let r = answer(
        named.addr(),
        "GET",
        &format!("/containers/{seen}/json"),
        None,
    )
    .await;
    assert_eq!(r.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_routes_through_a_guard_scoped_to_its_label() {
    require_docker();
    let c = Cleanup::new("visible-router");
    let net = c.network("net");
    let guard = router_guard()
        .env("GUARD_VISIBLE_LABELS", "traefik.enable=true")
        .start()
        .await;
    let router = Router::builder().start(&guard).await;
    let name = unique("scoped");
    let host = format!("{name}.test");
    let labels = Labels::enabled().router(&name, "rule", &format!("Host(`{host}`)"));
    run_whoami(&c, "w", &net, &labels, &[]).await;
    let r = router.wait_status(&host, "/", 200).await;
    assert!(r.text().contains("Hostname:"), "{}", r.text());
}
