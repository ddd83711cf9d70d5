//! The presets parse, and each allows what its comment says and nothing it says it doesn't.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use policies::config::policy_from_env;
use policies::path::canonicalize;
use policies::{Decision, Policy, Request};

fn load(text: &str) -> Policy {
    let env: HashMap<String, String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l.split_once('=').expect("KEY=VALUE");
            (k.to_owned(), v.to_owned())
        })
        .collect();
    policy_from_env(&env, |_| Err("no files in presets".into())).expect("preset is valid")
}

fn allows(p: &Policy, method: &str, path: &str) -> bool {
    let t = canonicalize(path).unwrap();
    matches!(p.decide(Request { method, target: &t }), Decision::Allow(_))
}

const CONTENT: &[(&str, &str)] = &[
    ("GET", "/v1.41/containers/x/logs"),
    ("GET", "/v1.41/containers/x/archive"),
    ("GET", "/v1.41/containers/x/export"),
    ("GET", "/v1.41/containers/x/attach/ws"),
    ("POST", "/v1.41/containers/x/attach"),
    ("POST", "/v1.41/containers/x/exec"),
    ("POST", "/v1.41/containers/create"),
    ("DELETE", "/v1.41/containers/x"),
    ("GET", "/v1.41/images/alpine/get"),
    ("GET", "/v1.41/swarm/unlockkey"),
    ("GET", "/v1.41/secrets"),
];

#[test]
fn router_preset() {
    let p = load(include_str!("../presets/router.env"));
    for (m, path) in [
        ("HEAD", "/_ping"),
        ("GET", "/v1.41/version"),
        ("GET", "/v1.41/events"),
        ("GET", "/v1.41/containers/json"),
        ("HEAD", "/containers/json"),
    ] {
        assert!(allows(&p, m, path), "{m} {path}");
    }
    // Least privilege: only what the router reads.
    for (m, path) in CONTENT.iter().chain(&[
        ("GET", "/v1.41/services"),
        ("GET", "/v1.41/info"),
        ("GET", "/v1.41/containers/x/json"),
        ("GET", "/v1.41/containers/x/top"),
        ("GET", "/v1.41/containers/x/stats"),
        ("GET", "/v1.41/containers/x/changes"),
        ("GET", "/v1.41/networks"),
        ("GET", "/v1.41/networks/x"),
        ("POST", "/v1.41/containers/json"),
    ]) {
        assert!(!allows(&p, m, path), "{m} {path}");
    }
    assert!(p.redacts());
    assert!(p.scope().is_limited());
    assert_eq!(p.scope().describe(), "labels traefik.*");
}

#[test]
fn router_swarm_preset() {
    let p = load(include_str!("../presets/router-swarm.env"));
    for path in [
        "/v1.41/services",
        "/v1.41/tasks",
        "/v1.41/networks",
        "/v1.41/containers/json",
        "/v1.41/events",
    ] {
        assert!(allows(&p, "GET", path), "{path}");
    }
    // Least privilege: the lists, no inspect.
    for (m, path) in CONTENT.iter().chain(&[
        ("GET", "/v1.41/services/x"),
        ("GET", "/v1.41/tasks/x"),
        ("GET", "/v1.41/networks/x"),
        ("GET", "/v1.41/containers/x/json"),
        ("POST", "/v1.41/services/create"),
        ("POST", "/v1.41/services/x/update"),
        ("GET", "/v1.41/services/x/logs"),
        ("GET", "/v1.41/tasks/x/logs"),
        ("GET", "/v1.41/nodes"),
        ("GET", "/v1.41/configs"),
    ]) {
        assert!(!allows(&p, m, path), "{m} {path}");
    }
    assert!(p.redacts());
    assert_eq!(p.scope().describe(), "labels traefik.*");
}

#[test]
fn read_only_presets_allow_no_content_or_writes() {
    for (name, text) in [
        ("dashboard", include_str!("../presets/dashboard.env")),
        ("monitoring", include_str!("../presets/monitoring.env")),
    ] {
        let p = load(text);
        assert!(allows(&p, "GET", "/v1.41/containers/json"), "{name}");
        assert!(allows(&p, "GET", "/v1.41/info"), "{name}");
        assert!(allows(&p, "GET", "/v1.41/containers/x/stats"), "{name}");
        for (m, path) in CONTENT {
            assert!(!allows(&p, m, path), "{name}: {m} {path}");
        }
    }
}

#[test]
fn monitoring_preset_reads_networks_and_image_metadata_only() {
    let p = load(include_str!("../presets/monitoring.env"));
    for (m, path) in [
        ("GET", "/v1.41/networks"),
        ("GET", "/v1.41/networks/abc"),
        ("GET", "/v1.41/images/nginx:1.25/json"),
        ("GET", "/v1.41/images/registry.example:5000/ns/app:1/json"),
        ("GET", "/v1.41/images/sha256:0123abcd/json"),
    ] {
        assert!(allows(&p, m, path), "{m} {path}");
    }
    for (m, path) in [
        ("GET", "/v1.41/images/json"),
        ("GET", "/v1.41/images/search"),
        ("GET", "/v1.41/images/nginx/history"),
        ("GET", "/v1.41/images/nginx/get"),
        ("HEAD", "/v1.41/images/nginx/json"),
        ("POST", "/v1.41/networks/create"),
        ("POST", "/v1.41/networks/abc/connect"),
        ("DELETE", "/v1.41/networks/abc"),
        ("DELETE", "/v1.41/images/nginx"),
    ] {
        assert!(!allows(&p, m, path), "{m} {path}");
    }
}

#[test]
fn deploy_preset_creates_and_removes_but_reads_no_content_and_never_execs() {
    let p = load(include_str!("../presets/deploy.env"));
    for (m, path) in [
        ("POST", "/v1.41/containers/create"),
        ("POST", "/v1.41/containers/x/start"),
        ("DELETE", "/v1.41/containers/x"),
        ("POST", "/v1.41/networks/create"),
        ("POST", "/v1.41/networks/x/connect"),
        ("POST", "/v1.41/volumes/create"),
        ("GET", "/v1.41/images/x/json"),
        ("GET", "/v1.41/info"),
    ] {
        assert!(allows(&p, m, path), "{m} {path}");
    }
    let writes_it_needs = [
        ("POST", "/v1.41/containers/create"),
        ("DELETE", "/v1.41/containers/x"),
    ];
    for (m, path) in CONTENT
        .iter()
        .filter(|e| !writes_it_needs.contains(e))
        .chain(&[
            ("POST", "/v1.41/exec/x/start"),
            ("POST", "/v1.41/containers/x/attach"),
            ("POST", "/v1.41/build"),
            ("GET", "/v1.41/secrets"),
            ("POST", "/v1.41/plugins/pull"),
            ("GET", "/v1.41/swarm/unlockkey"),
        ])
    {
        assert!(!allows(&p, m, path), "{m} {path}");
    }
}

#[test]
fn test_runner_preset_is_scoped_to_its_own_objects() {
    let p = load(include_str!("../presets/test-runner.env"));
    assert!(
        p.owner().is_some(),
        "the test-runner preset owns what it creates"
    );
    for (m, path) in [
        ("POST", "/v1.41/containers/create"),
        ("GET", "/v1.41/containers/x/logs"),
        ("POST", "/v1.41/containers/x/exec"),
        ("POST", "/v1.41/images/create"),
        ("GET", "/v1.41/networks"),
    ] {
        assert!(allows(&p, m, path), "{m} {path}");
    }
    for (m, path) in [
        ("GET", "/v1.41/containers/x/archive"),
        ("GET", "/v1.41/containers/x/export"),
        ("POST", "/v1.41/containers/x/attach"),
        ("POST", "/v1.41/build"),
        ("GET", "/v1.41/secrets"),
        ("GET", "/v1.41/swarm/unlockkey"),
    ] {
        assert!(!allows(&p, m, path), "{m} {path}");
    }
}

#[test]
fn updater_preset_restarts_but_cannot_create() {
    let p = load(include_str!("../presets/updater.env"));
    for action in ["start", "stop", "restart", "kill"] {
        assert!(
            allows(&p, "POST", &format!("/v1.41/containers/x/{action}")),
            "{action}"
        );
    }
    // docker-compose v1 inspects the project network before every command.
    assert!(allows(&p, "GET", "/v1.41/networks/edge_default"));
    for (m, path) in CONTENT.iter().chain(&[
        ("POST", "/v1.41/images/create"),
        ("POST", "/v1.41/containers/x/pause"),
        ("POST", "/v1.41/networks/create"),
        ("POST", "/v1.41/networks/x/disconnect"),
    ]) {
        assert!(!allows(&p, m, path), "{m} {path}");
    }
}
