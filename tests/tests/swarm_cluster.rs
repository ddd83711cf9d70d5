//! swarm.cluster.yaml (cluster mode: the controller on the manager, a data plane per worker),
//! then swarm.yaml, across a real three-node cluster (`scripts/cluster.sh`: three dockerds in
//! namespaces of their own on this machine, 1 manager and 2 workers): the guard runs on the
//! manager only; a router runs on each worker (global) and reaches the guard over the internal
//! overlay; whoami's replicas, spread over both workers, are all served from every router, and
//! a scale-up is seen by every router; a steady HTTPS client sees no error while whoami is
//! scaled down, updated with `--force` in both orders, while the guard's task is replaced and
//! while a worker is lost with its tasks; from a worker, over the guard's overlay, the router
//! preset refuses service create, secrets and configs (and the create had no effect on the
//! cluster); a task is routed once its health check passes and not once it fails. Afterwards the host is as before: its namespaces, no link or firewall rule of
//! the cluster's left, its own daemon's swarm state.
//!
//! Not testable on this machine's kernel and so not relied on: service virtual IPs and the
//! ingress routing mesh (IPVS), encrypted overlays (ESP). The stack uses dnsrr and host-mode
//! ports.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use e2e::cluster::{Cluster, HostState};
use e2e::docker::{ensure_test_image, require_docker, text};
use e2e::make::repo;

const STACK: &str = "edge";
/// Long enough for a task to be scheduled, its image found and started on a loaded machine.
const BOUND: Duration = Duration::from_secs(90);

/// Waits until `check` holds (panics with `what` and the cluster's logs after [`BOUND`]).
fn wait(cluster: &Cluster, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + BOUND;
    while !check() {
        if Instant::now() > deadline {
            let ps = cluster.docker_env(
                1,
                &[
                    "stack",
                    "ps",
                    STACK,
                    "--no-trunc",
                    "--format",
                    "{{.Name}} {{.Node}} {{.CurrentState}} {{.Error}}",
                ],
                &[],
            );
            panic!("{what} within {BOUND:?}\n{}", text(&ps.stdout));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The nodes of `service`'s running tasks.
fn running_on(cluster: &Cluster, service: &str) -> Vec<String> {
    let out = cluster.docker_env(
        1,
        &[
            "service",
            "ps",
            service,
            "--filter",
            "desired-state=running",
            "--format",
            "{{.Node}} {{.CurrentState}}",
        ],
        &[],
    );
    text(&out.stdout)
        .lines()
        .filter(|l| l.contains(" Running "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

/// The whoami hostnames router `node` serves within 40 requests.
fn served_by(node: usize) -> BTreeSet<String> {
    (0..40)
        .filter_map(|_| {
            let (status, body) = Cluster::https_get(node, "whoami.localhost");
            (status == 200)
                .then(|| e2e::router::hostname_in(&body).map(str::to_owned))
                .flatten()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swarm_yaml_runs_across_three_nodes() {
    require_docker();
    let probe_image = ensure_test_image();
    let before = HostState::now();
    {
        let cluster = Cluster::up(&[probe_image]);
        let gid = std::fs::metadata("/var/run/docker.sock")
            .map(|m| std::os::unix::fs::MetadataExt::gid(&m).to_string())
            .unwrap_or_else(|_| "0".into());
        let compose = repo().join("swarm.yaml");
        // whoami on the workers only, so that the replicas cross nodes from every router.
        let dir = tempfile::tempdir().unwrap();
        let workers_only = dir.path().join("workers-only.yaml");
        std::fs::write(
            &workers_only,
            "version: \"3.8\"\nservices:\n  whoami:\n    deploy:\n      placement:\n        constraints: [\"node.role == worker\"]\n",
        )
        .unwrap();
        cluster_mode(&cluster, &gid, &workers_only);
        deploy(&cluster, &compose, &workers_only, STACK, &gid, &[]);
        let workers: BTreeSet<String> = [Cluster::hostname(2), Cluster::hostname(3)].into();
        wait(&cluster, "the guard running on the manager", || {
            running_on(&cluster, "edge_socket-guard") == vec![Cluster::hostname(1)]
        });
        wait(&cluster, "a router running on each worker", || {
            let nodes = running_on(&cluster, "edge_router");
            nodes.len() == 2 && nodes.into_iter().collect::<BTreeSet<_>>() == workers
        });
        wait(&cluster, "whoami's two replicas on the two workers", || {
            let nodes = running_on(&cluster, "edge_whoami");
            nodes.len() == 2 && nodes.into_iter().collect::<BTreeSet<_>>() == workers
        });
        // Every router serves both replicas (one on its own node, one across the overlay).
        for node in [2, 3] {
            wait(
                &cluster,
                &format!("the router on node {node} serving both replicas"),
                || served_by(node).len() == 2,
            );
        }
        // A scale-up is seen by every router.
        cluster.docker_ok(1, &["service", "scale", "--detach", "edge_whoami=4"]);
        for node in [2, 3] {
            wait(
                &cluster,
                &format!("the router on node {node} serving 4 replicas"),
                || served_by(node).len() == 4,
            );
        }
        no_error_through_change(&cluster);
        refused_from_a_worker(&cluster, probe_image);
        health_decides(&cluster, probe_image);
        swarm_over_mutual_tls(&cluster).await;
        let _ = cluster.docker_env(1, &["stack", "rm", STACK], &[]);
    }
    assert_eq!(
        HostState::now(),
        before,
        "the cluster left something on the host"
    );
}

/// `docker stack deploy` of `compose` with `overlay` as stack `stack` from the manager, with
/// the variables the stack files read (`extra` besides). No registry here: the images are the
/// nodes' own (loaded by the harness).
fn deploy(
    cluster: &Cluster,
    compose: &std::path::Path,
    overlay: &std::path::Path,
    stack: &str,
    gid: &str,
    extra: &[(&str, &str)],
) {
    let mut env = vec![
        ("DOCKER_GID", gid),
        ("STACK_NAME", stack),
        ("ROUTER_SWARM_REFRESH", "2s"),
        ("HTTP_PORT", "80"),
        ("HTTPS_PORT", "443"),
    ];
    env.extend_from_slice(extra);
    let out = cluster.docker_env(
        1,
        &[
            "stack",
            "deploy",
            "--resolve-image",
            "never",
            "-c",
            compose.to_str().unwrap(),
            "-c",
            overlay.to_str().unwrap(),
            stack,
        ],
        &env,
    );
    assert!(
        out.status.success(),
        "deploy {stack}: {}",
        text(&out.stderr)
    );
}

/// swarm.cluster.yaml across the nodes: the guard and the controller on the manager, a data
/// plane on each worker (global), both serving whoami's replicas on both workers; the data
/// planes hold no `DOCKER_HOST` and no network with the guard. Then the stack is removed, and
/// its host-mode ports freed, for swarm.yaml's.
fn cluster_mode(cluster: &Cluster, gid: &str, workers_only: &std::path::Path) {
    const CM: &str = "edgecm";
    let tls = tempfile::tempdir().unwrap();
    router::cluster::certs::write(tls.path(), &["controller".to_owned()]).unwrap();
    let tls_dir = tls.path().display().to_string();
    let compose = repo().join("swarm.cluster.yaml");
    deploy(
        cluster,
        &compose,
        workers_only,
        CM,
        gid,
        &[("CLUSTER_TLS_DIR", tls_dir.as_str())],
    );
    let workers: BTreeSet<String> = [Cluster::hostname(2), Cluster::hostname(3)].into();
    let manager = vec![Cluster::hostname(1)];
    wait(
        cluster,
        "the guard and the controller on the manager",
        || {
            running_on(cluster, &format!("{CM}_socket-guard")) == manager
                && running_on(cluster, &format!("{CM}_controller")) == manager
        },
    );
    wait(cluster, "a data plane on each worker", || {
        let nodes = running_on(cluster, &format!("{CM}_router"));
        nodes.len() == 2 && nodes.into_iter().collect::<BTreeSet<_>>() == workers
    });
    for node in [2, 3] {
        wait(
            cluster,
            &format!("the data plane on node {node} serving both replicas"),
            || served_by(node).len() == 2,
        );
        let id = cluster.docker_ok(
            node,
            &[
                "ps",
                "-q",
                "--filter",
                &format!("label=com.docker.swarm.service.name={CM}_router"),
            ],
        );
        let id = id
            .lines()
            .next()
            .expect("a data plane container")
            .to_owned();
        let seen = cluster.docker_ok(
            node,
            &[
                "inspect",
                "--format",
                "{{json .Config.Env}} {{json .NetworkSettings.Networks}}",
                &id,
            ],
        );
        assert!(!seen.contains("DOCKER_HOST"), "node {node}: {seen}");
        assert!(
            !seen.contains(&format!("{CM}_guard")),
            "node {node}: {seen}"
        );
    }
    let _ = cluster.docker_env(1, &["stack", "rm", CM], &[]);
    wait(cluster, "the cluster-mode stack's containers gone", || {
        [1, 2, 3].iter().all(|n| {
            cluster
                .docker_env(
                    *n,
                    &[
                        "ps",
                        "-aq",
                        "--filter",
                        &format!("label=com.docker.stack.namespace={CM}"),
                    ],
                    &[],
                )
                .stdout
                .is_empty()
        })
    });
}

/// A task whose container has a health check is routed once the check passes, and not after
/// it fails: Swarm keeps the task `starting` until its first passing check and then shuts an
/// unhealthy one down (its state `failed`), which is what the router reads through the guard.
fn health_decides(cluster: &Cluster, image: &str) {
    let node = Cluster::hostname(2);
    let constraint = format!("node.hostname=={node}");
    cluster.docker_ok(
        1,
        &[
            "service",
            "create",
            "--detach",
            "--no-resolve-image",
            "--name",
            "edge_health",
            "--network",
            "edge_web",
            "--constraint",
            &constraint,
            "--label",
            "traefik.enable=true",
            "--label",
            "traefik.http.routers.health.rule=Host(`health.localhost`)",
            "--label",
            "traefik.http.routers.health.tls=true",
            "--label",
            "traefik.http.services.health.loadbalancer.server.port=8080",
            "--health-cmd",
            "test -f /tmp/healthy",
            "--health-interval",
            "1s",
            "--health-timeout",
            "1s",
            "--health-retries",
            "1",
            // Failing checks do not count until the first passes (or a minute went by).
            "--health-start-period",
            "60s",
            image,
            "sh",
            "-c",
            "echo healthy-task > /tmp/index.html && exec httpd -f -p 8080 -h /tmp",
        ],
    );
    let states = || {
        cluster.docker_ok(
            1,
            &[
                "service",
                "ps",
                "edge_health",
                "--no-trunc",
                "--format",
                "{{.CurrentState}} {{.Error}}",
            ],
        )
    };
    wait(
        cluster,
        "edge_health's task starting (its check not passed)",
        || states().starts_with("Starting"),
    );
    wait(cluster, "edge_health's route known", || {
        Cluster::https_get(2, "health.localhost").0 == 503
    });
    // Over several reads of the router (it reads often while a task is on its way): known,
    // not routed.
    for _ in 0..8 {
        let (status, body) = Cluster::https_get(2, "health.localhost");
        assert_eq!(
            status, 503,
            "a task whose check has not passed was routed: {body}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let container = || {
        cluster.docker_ok(
            2,
            &[
                "ps",
                "-q",
                "--filter",
                "label=com.docker.swarm.service.name=edge_health",
            ],
        )
    };
    cluster.docker_ok(2, &["exec", &container(), "touch", "/tmp/healthy"]);
    wait(cluster, "edge_health routed once healthy", || {
        Cluster::https_get(2, "health.localhost")
            .1
            .contains("healthy-task")
    });
    cluster.docker_ok(2, &["exec", &container(), "rm", "/tmp/healthy"]);
    wait(
        cluster,
        "edge_health's unhealthy task failed by Swarm",
        || {
            states()
                .lines()
                .any(|l| l.starts_with("Failed") && l.contains("unhealthy"))
        },
    );
    wait(
        cluster,
        "edge_health not routed once its task failed",
        || Cluster::https_get(2, "health.localhost").0 == 503,
    );
    cluster.docker_ok(1, &["service", "rm", "edge_health"]);
}

/// From a task on worker 2, on the guard's overlay: the router preset's refusals, and the
/// refused create's absence.
fn refused_from_a_worker(cluster: &Cluster, image: &str) {
    let guard_ip = {
        let id = cluster.docker_ok(
            1,
            &[
                "service",
                "ps",
                "edge_socket-guard",
                "-q",
                "--filter",
                "desired-state=running",
            ],
        );
        let id = id.lines().next().unwrap().to_owned();
        let doc = cluster.docker_ok(1, &["inspect", &id]);
        let v: serde_json::Value = serde_json::from_str(&doc).unwrap();
        let attachments = v[0]["NetworksAttachments"].as_array().unwrap().clone();
        let on_guard = attachments
            .iter()
            .find(|a| a["Network"]["Spec"]["Name"] == "edge_guard")
            .unwrap_or_else(|| panic!("the guard's task is not on edge_guard: {v}"));
        on_guard["Addresses"][0]
            .as_str()
            .unwrap()
            .split('/')
            .next()
            .unwrap()
            .to_owned()
    };
    let create =
        r#"{"Name":"sgtest-evil","TaskTemplate":{"ContainerSpec":{"Image":"whoami:local"}}}"#;
    let request = |method: &str, path: &str, body: &str| {
        let mut r = format!("{method} {path} HTTP/1.0\\r\\nHost: d\\r\\n");
        if !body.is_empty() {
            r.push_str(&format!(
                "Content-Type: application/json\\r\\nContent-Length: {}\\r\\n",
                body.len()
            ));
        }
        // Single quotes: the JSON's double quotes are the shell's literal text. busybox nc
        // stops reading when its input ends: the input stays open until the answer is in.
        format!("(printf '{r}\\r\\n{body}'; sleep 3) | nc -w 10 {guard_ip} 2375 | head -1; ")
    };
    let script = format!(
        "{}{}{}{}sleep 600",
        request("POST", "/v1.41/services/create", create),
        request("GET", "/v1.41/secrets", ""),
        request("GET", "/v1.41/configs", ""),
        request("GET", "/v1.41/services", ""),
    );
    cluster.docker_ok(
        1,
        &[
            "service",
            "create",
            "--detach",
            "--no-resolve-image",
            "--name",
            "sgtest-probe",
            "--network",
            "edge_guard",
            "--restart-condition",
            "none",
            "--constraint",
            &format!("node.hostname=={}", Cluster::hostname(2)),
            image,
            "sh",
            "-c",
            &script,
        ],
    );
    let mut lines = Vec::new();
    wait(cluster, "the probe's four answers", || {
        let out = cluster.docker_env(1, &["service", "logs", "--raw", "sgtest-probe"], &[]);
        lines = text(&out.stdout)
            .lines()
            .map(|l| l.trim().to_owned())
            .filter(|l| l.starts_with("HTTP/"))
            .collect();
        lines.len() >= 4
    });
    let statuses: Vec<&str> = lines
        .iter()
        .map(|l| l.split_whitespace().nth(1).unwrap_or(""))
        .collect();
    assert_eq!(statuses, ["403", "403", "403", "200"], "{lines:?}");
    let services = cluster.docker_ok(1, &["service", "ls", "--format", "{{.Name}}"]);
    assert!(!services.contains("sgtest-evil"), "{services}");
    let _ = cluster.docker_env(1, &["service", "rm", "sgtest-probe"], &[]);
}

/// The Swarm provider through a guard's mutual-TLS listener: an in-process guard in front of
/// the manager's daemon (the router-swarm preset, `tls://` only) and an in-process router with
/// `providers.swarm.tls` read the cluster's services and whoami's two tasks (their overlay
/// addresses are not reachable from the host, so the table is checked, not a request).
async fn swarm_over_mutual_tls(cluster: &Cluster) {
    use e2e::guard::Guard;
    use e2e::router::Router;
    let dir = tempfile::tempdir().unwrap();
    let files = e2e::pki::pki().write(dir.path());
    let ca = files.ca;
    let ((crt, key), (ccrt, ckey)) = (files.server, files.client);
    let preset = std::fs::read_to_string(repo().join("policies/presets/router-swarm.env")).unwrap();
    let socket = cluster.socket(1);
    let guard = Guard::builder()
        .preset(&preset)
        .socket(socket.trim_start_matches("unix://"))
        .envs(&[
            ("GUARD_LISTEN", "tls://127.0.0.1:0"),
            ("GUARD_TLS_CERT", crt.as_str()),
            ("GUARD_TLS_KEY", key.as_str()),
            ("GUARD_TLS_CA", ca.as_str()),
        ])
        .start()
        .await;
    let endpoint = format!("--providers.swarm.endpoint=tcp://{}", guard.addr());
    let router = Router::builder()
        .flags(&[
            "--providers.swarm=true",
            &endpoint,
            &format!("--providers.swarm.tls.ca={ca}"),
            &format!("--providers.swarm.tls.cert={ccrt}"),
            &format!("--providers.swarm.tls.key={ckey}"),
        ])
        .start(&guard)
        .await;
    router.wait_synced().await;
    let shared = router.shared().clone();
    let backends = || {
        shared
            .live
            .load()
            .services
            .get("whoami@swarm")
            .map_or(0, |s| s.backends.len())
    };
    assert!(
        e2e::wait_until(Duration::from_secs(20), || backends() == 4).await,
        "whoami@swarm has {} backends through the TLS listener",
        backends()
    );
}

/// The last lines the router on node `n` logged (what a failed request's answer came from).
fn router_log(cluster: &Cluster, n: usize) -> String {
    let ids = cluster.docker_env(n, &["ps", "-aq", "--filter", "name=edge_router"], &[]);
    let mut out = String::new();
    for id in text(&ids.stdout).split_whitespace() {
        let logs = cluster.docker_env(n, &["logs", "--tail", "40", id], &[]);
        out.push_str(&text(&logs.stdout));
        out.push_str(&text(&logs.stderr));
    }
    out
}

/// A steady HTTPS client (20 requests a second, a new connection each, from the cluster's
/// network to the router on worker 2) while whoami is scaled from 4 to 2 replicas, then
/// updated with `--force` in the default (stop-first) order and in start-first order: every
/// request is answered 200.
fn no_error_through_change(cluster: &Cluster) {
    const CLIENT: &str = r#"
import ssl, sys, time, http.client
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
ok, errors, slowest, slow = 0, [], 0.0, 0
while True:
    try:
        open(sys.argv[2]).close(); break
    except OSError:
        pass
    t = time.time()
    try:
        c = http.client.HTTPSConnection(sys.argv[1], 443, context=ctx, timeout=30)
        c.request("GET", "/", headers={"Host": "whoami.localhost"})
        r = c.getresponse(); r.read(); c.close()
        if r.status == 200: ok += 1
        else: errors.append(f"{t:.1f} {r.status}")
    except Exception as e:
        errors.append(f"{t:.1f} {e}")
    took = time.time() - t; slowest = max(slowest, took)
    if took > 1: slow += 1
    time.sleep(max(0.0, 0.05 - took))
print(ok, len(errors), f"{slowest:.1f}", slow); print("\n".join(errors[:20]))
"#;
    let dir = tempfile::tempdir().unwrap();
    let stop = dir.path().join("stop");
    let client = std::process::Command::new("ip")
        .args(["netns", "exec", "sgc-sw", "python3", "-c", CLIENT])
        .arg(Cluster::addr(2))
        .arg(&stop)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let quick = [
        "--detach=false",
        "--no-resolve-image",
        "--update-monitor",
        "1s",
    ];
    cluster.docker_ok(1, &["service", "scale", "--detach=false", "edge_whoami=2"]);
    let mut update = vec!["service", "update", "--force"];
    update.extend(quick);
    update.push("edge_whoami");
    cluster.docker_ok(1, &update);
    let mut start_first = vec![
        "service",
        "update",
        "--force",
        "--update-order",
        "start-first",
    ];
    start_first.extend(quick);
    start_first.push("edge_whoami");
    cluster.docker_ok(1, &start_first);
    // The guard's task replaced: the routers keep their table while it is away, and follow
    // the cluster again once it is back (a scale-up seen).
    let mut guard_update = vec!["service", "update", "--force"];
    guard_update.extend(quick);
    guard_update.push("edge_socket-guard");
    cluster.docker_ok(1, &guard_update);
    cluster.docker_ok(1, &["service", "scale", "--detach", "edge_whoami=3"]);
    wait(
        cluster,
        "the router on node 2 serving 3 replicas after the guard's return",
        || served_by(2).len() == 3,
    );
    // Worker 3 lost with its tasks: its addresses go silent. Swarm notices (heartbeats) and
    // starts whoami's lost replica on worker 2; meanwhile what was sent there is sent again
    // elsewhere (a connection that was never answered, one whose host went silent).
    cluster.docker_ok(1, &["service", "scale", "--detach", "edge_whoami=4"]);
    wait(cluster, "whoami's 4 replicas on both workers", || {
        let nodes = running_on(cluster, "edge_whoami");
        nodes.len() == 4
            && nodes.contains(&Cluster::hostname(3))
            && nodes.contains(&Cluster::hostname(2))
    });
    let lost = Instant::now();
    cluster.lose(3);
    wait(
        cluster,
        "whoami's 4 replicas on worker 2 after worker 3's loss",
        || {
            let nodes = running_on(cluster, "edge_whoami");
            nodes.len() == 4 && nodes.iter().all(|n| *n == Cluster::hostname(2))
        },
    );
    eprintln!(
        "whoami was whole on worker 2 {:?} after worker 3's loss",
        lost.elapsed()
    );
    std::thread::sleep(Duration::from_secs(2));
    std::fs::write(&stop, "").unwrap();
    let out = client.wait_with_output().unwrap();
    let report = text(&out.stdout);
    let mut first = report.lines().next().unwrap_or("").split_whitespace();
    let ok: u64 = first.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    let errors: u64 = first
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(u64::MAX);
    assert_eq!(
        errors,
        0,
        "errors through the changes:\n{report}{}\n--- the router on worker 2 (last lines)\n{}",
        text(&out.stderr),
        router_log(cluster, 2)
    );
    assert!(
        ok > 100,
        "the client made {ok} requests:\n{report}{}",
        text(&out.stderr)
    );
    eprintln!(
        "steady client: {ok} answered 200, 0 errors; the slowest took {}s, {} took over 1s",
        first.next().unwrap_or("?"),
        first.next().unwrap_or("?")
    );
}
