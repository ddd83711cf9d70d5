//! Owned objects (`GUARD_OWNER`) in front of the real dockerd: a client touches only what it
//! created.
//!
//! Through a guard that grants containers, exec, networks, volumes and writes with
//! `GUARD_OWNER=<a>`, the docker CLI runs, execs into, lists and removes its own container, and
//! creates, lists and removes its own network and volume (each stamped with
//! `socket-guard.owner=<a>`, checked on the daemon). A container, network and volume made on
//! the daemon directly, and a container made through a guard of another owner, are absent from
//! its lists and answer the daemon's own 404 to inspect, stop, exec, kill and remove, by ID,
//! short ID and name; each is checked on the daemon to be untouched. A forged owner label, a
//! create that joins another container's namespace, and prunes are refused, with nothing
//! created or removed.
#![allow(clippy::unwrap_used)]

use e2e::docker::{
    docker, ensure_test_image, inspect_container, real_api, real_docker, real_docker_ok,
    require_docker, text, Cleanup,
};
use e2e::guard::Guard;
use e2e::http::answer;

const OWNER_LABEL: &str = "socket-guard.owner";

/// A guard for owner `id` that could otherwise do nearly anything to containers, networks and
/// volumes.
async fn owner_guard(id: &str) -> Guard {
    Guard::builder()
        .envs(&[
            ("CONTAINERS", "1"),
            ("EXEC", "1"),
            ("NETWORKS", "1"),
            ("VOLUMES", "1"),
            ("IMAGES", "1"),
            ("POST", "1"),
            ("GUARD_OWNER", id),
        ])
        .start()
        .await
}

fn running(name: &str) -> bool {
    inspect_container(name).is_some_and(|v| v["State"]["Running"] == true)
}

fn owner_of(kind: &str, name: &str) -> serde_json::Value {
    let out = real_docker_ok(&[kind, "inspect", name]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let item = &v[0];
    let labels = if kind == "container" {
        &item["Config"]["Labels"]
    } else {
        &item["Labels"]
    };
    labels[OWNER_LABEL].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_touches_only_what_it_created() {
    require_docker();
    let c = Cleanup::new("owner");
    let me = format!("ci-{}", std::process::id());
    let guard = owner_guard(&me).await;
    let host = guard.docker_host();
    let image = ensure_test_image();

    // Its own container: run, exec, listed, stamped.
    let mine = c.name("mine");
    let run = docker(
        &["run", "-d", "--name", &mine, image, "sleep", "600"],
        &host,
    )
    .await;
    assert!(run.status.success(), "{run:?}");
    assert_eq!(owner_of("container", &mine), me.as_str());
    let exec = docker(&["exec", &mine, "echo", "from-exec"], &host).await;
    assert!(
        exec.status.success() && text(&exec.stdout).contains("from-exec"),
        "{exec:?}"
    );

    // Others' containers: one made on the daemon, one through a guard of another owner.
    let (theirs, theirs_id) = c.sleeper("theirs");
    let other = owner_guard(&format!("{me}-other")).await;
    let others = c.name("others");
    let run = docker(
        &["run", "-d", "--name", &others, image, "sleep", "600"],
        &other.docker_host(),
    )
    .await;
    assert!(run.status.success(), "{run:?}");

    let ps = docker(&["ps", "-a", "--format", "{{.Names}}"], &host).await;
    assert!(ps.status.success(), "{ps:?}");
    assert_eq!(text(&ps.stdout).trim(), mine, "ps shows only its own");
    // A client's own filters cannot widen the list.
    let list = answer(
        guard.addr(),
        "GET",
        &format!(
            "/containers/json?all=1&filters=%7B%22label%22%3A%5B%22{OWNER_LABEL}%3D{me}-other%22%5D%7D"
        ),
        None,
    )
    .await;
    assert_eq!(list.status, 200, "{}", list.text());
    assert_eq!(list.text().trim(), "[]");

    for name in [
        theirs.as_str(),
        &theirs_id,
        &theirs_id[..12],
        others.as_str(),
    ] {
        for args in [
            vec!["container", "inspect", name],
            vec!["stop", "-t", "0", name],
            vec!["kill", name],
            vec!["exec", name, "true"],
            vec!["rm", "-f", name],
        ] {
            let out = docker(&args, &host).await;
            let err = text(&out.stderr);
            // `rm -f` exits 0 on a container that does not exist, as it does on the daemon.
            let failed = out.status.success() == (args[0] == "rm");
            assert!(
                failed && err.contains("No such container"),
                "{args:?}: {out:?}"
            );
        }
    }
    assert!(
        running(&theirs) && running(&others),
        "untouched on the daemon"
    );

    // Refused, and nothing made: a forged owner, another's namespace, prunes.
    let forged = c.name("forged");
    for (body, what) in [
        (
            format!(r#"{{"Image":"{image}","Labels":{{"{OWNER_LABEL}":"{me}-other"}}}}"#),
            "socket-guard.owner label is set by socket-guard",
        ),
        (
            format!(r#"{{"Image":"{image}","HostConfig":{{"NetworkMode":"container:{theirs}"}}}}"#),
            "another container's namespaces",
        ),
        (
            format!(r#"{{"Image":"{image}","HostConfig":{{"VolumesFrom":["{theirs}"]}}}}"#),
            "VolumesFrom",
        ),
        (
            format!(r#"{{"Image":"{image}","HostConfig":{{"Links":["{theirs}:db"]}}}}"#),
            "link to another",
        ),
    ] {
        let r = answer(
            guard.addr(),
            "POST",
            &format!("/containers/create?name={forged}"),
            Some(&body),
        )
        .await;
        assert_eq!(r.status, 403, "{}", r.text());
        assert!(r.text().contains(what), "{}", r.text());
        assert!(inspect_container(&forged).is_none(), "nothing was created");
    }
    for path in [
        "/containers/prune",
        "/networks/prune",
        "/volumes/prune",
        "/images/prune",
    ] {
        let r = answer(guard.addr(), "POST", path, None).await;
        assert_eq!(r.status, 403, "{path}: {}", r.text());
    }
    assert!(inspect_container(&theirs).is_some());

    // Networks and volumes: its own made, listed and removed; others' absent and untouched.
    let my_net = c.network_name("mynet");
    let my_vol = c.volume("myvol");
    let their_net = c.network("theirnet");
    let their_vol = c.volume("theirvol");
    real_docker_ok(&["volume", "create", &their_vol]);
    for args in [
        vec!["network", "create", &my_net],
        vec!["volume", "create", &my_vol],
    ] {
        let out = docker(&args, &host).await;
        assert!(out.status.success(), "{args:?}: {out:?}");
    }
    assert_eq!(owner_of("network", &my_net), me.as_str());
    assert_eq!(owner_of("volume", &my_vol), me.as_str());
    let nets = docker(&["network", "ls", "--format", "{{.Name}}"], &host).await;
    assert_eq!(text(&nets.stdout).trim(), my_net, "{nets:?}");
    let vols = docker(&["volume", "ls", "--format", "{{.Name}}"], &host).await;
    assert_eq!(text(&vols.stdout).trim(), my_vol, "{vols:?}");
    for (args, words) in [
        (vec!["network", "inspect", their_net.as_str()], "not found"),
        (vec!["network", "rm", their_net.as_str()], "not found"),
        (
            vec!["volume", "inspect", their_vol.as_str()],
            "no such volume",
        ),
        (vec!["volume", "rm", their_vol.as_str()], "no such volume"),
    ] {
        let out = docker(&args, &host).await;
        assert!(
            !out.status.success() && text(&out.stderr).contains(words),
            "{args:?}: {out:?}"
        );
    }
    assert!(real_docker(&["network", "inspect", &their_net])
        .status
        .success());
    assert!(real_docker(&["volume", "inspect", &their_vol])
        .status
        .success());
    for args in [
        vec!["network", "rm", my_net.as_str()],
        vec!["volume", "rm", my_vol.as_str()],
        vec!["rm", "-f", mine.as_str()],
    ] {
        let out = docker(&args, &host).await;
        assert!(out.status.success(), "{args:?}: {out:?}");
    }
    assert!(inspect_container(&mine).is_none());
    assert!(!real_docker(&["network", "inspect", &my_net])
        .status
        .success());

    // The daemon's own view: the other owner's container is still there and still its own.
    let v = real_api("GET", &format!("/containers/{others}/json"), None);
    let v: serde_json::Value = serde_json::from_slice(&v.body).unwrap();
    assert_eq!(
        v["Config"]["Labels"][OWNER_LABEL],
        format!("{me}-other").as_str()
    );
}
