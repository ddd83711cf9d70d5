//! Several policies in one guard (`GUARD_POLICIES_FILE`), warn mode (`GUARD_MODE=warn`) and
//! the mutual-TLS listener (`tls://` in `GUARD_LISTEN`), against the real daemon with the real
//! docker CLI and curl: each client gets its own policy and nothing more, a refusal names the
//! policy, warn mode forwards and counts what enforce mode refuses (and no more), and a TLS
//! client without a certificate the guard's CA signed is refused by the handshake.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use e2e::docker::{docker, real_api, require_docker, text};
use e2e::guard::Guard;
use e2e::http::answer;
use e2e::pki::pki;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// curl over the unix socket as `uid` (root, or another user through setpriv).
fn curl_unix(sock: &Path, uid: u32, method: &str, path: &str) -> Output {
    let mut cmd = if uid == 0 {
        Command::new("curl")
    } else {
        let mut c = Command::new("setpriv");
        c.args([
            &format!("--reuid={uid}"),
            &format!("--regid={uid}"),
            "--clear-groups",
            "curl",
        ]);
        c
    };
    cmd.args([
        "-sS",
        "--max-time",
        "10",
        "-w",
        "\n%{http_code}",
        "-X",
        method,
    ])
    .arg("--unix-socket")
    .arg(sock)
    .arg(format!("http://d{path}"))
    .output()
    .unwrap()
}

/// The status and body of a curl run by [`curl_unix`].
fn status_and_body(out: &Output) -> (u16, String) {
    let t = text(&out.stdout);
    let (body, code) = t.rsplit_once('\n').unwrap_or(("", &t));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_get_two_policies_from_one_guard() {
    require_docker();
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let sock = dir.path().join("guard.sock");
    let file = write(
        dir.path(),
        "policies.conf",
        &format!(
            "# the router reads containers over TCP\n[tcp-reader]\nMATCH_LISTEN=127.0.0.1:0\nMATCH_FROM=127.0.0.0/8\nCONTAINERS=1\n\n\
             # root on the unix socket may read images, nothing else\n[root-on-unix]\nMATCH_LISTEN=unix://{}\nMATCH_UID=0\nIMAGES=1\n",
            sock.display()
        ),
    );
    let listen = format!("127.0.0.1:0,unix://{}", sock.display());
    let guard = Guard::builder()
        .envs(&[
            ("GUARD_LISTEN", listen.as_str()),
            ("GUARD_SOCKET_MODE", "0666"),
            ("GUARD_POLICIES_FILE", file.as_str()),
        ])
        .start()
        .await;

    // The TCP client: containers yes, images no, and the refusal names its policy.
    let ps = docker(&["ps", "-a"], &guard.docker_host()).await;
    assert!(ps.status.success(), "ps: {}", text(&ps.stderr));
    let images = docker(&["images"], &guard.docker_host()).await;
    assert!(!images.status.success(), "the TCP client listed images");
    let err = text(&images.stderr);
    assert!(
        err.contains("IMAGES=1") && err.contains("[policy tcp-reader]"),
        "{err}"
    );
    // Nor can it write: a refused create leaves nothing behind.
    let name = e2e::router::unique("policies");
    let create = docker(
        &["create", "--name", &name, "busybox"],
        &guard.docker_host(),
    )
    .await;
    assert!(
        !create.status.success(),
        "the TCP client created a container"
    );
    assert_eq!(
        real_api("GET", &format!("/containers/{name}/json"), None).status,
        404,
        "the refused create took effect"
    );

    // Root on the unix socket: images yes, containers no.
    let (status, _) = status_and_body(&curl_unix(&sock, 0, "GET", "/images/json"));
    assert_eq!(status, 200);
    let (status, body) = status_and_body(&curl_unix(&sock, 0, "GET", "/containers/json"));
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("[policy root-on-unix]"), "{body}");

    // Another user on the same socket matches neither: the environment's policy (ping,
    // version, events), and the refusal names no policy.
    let (status, body) = status_and_body(&curl_unix(&sock, 65534, "GET", "/_ping"));
    assert_eq!((status, body.as_str()), (200, "OK"));
    for path in ["/images/json", "/containers/json"] {
        let (status, body) = status_and_body(&curl_unix(&sock, 65534, "GET", path));
        assert_eq!(status, 403, "uid 65534 {path}: {body}");
        assert!(!body.contains("[policy"), "{body}");
    }

    // `socket-guard policy` prints each, in the order they are tried.
    let rendered = guard.state().policies().render();
    let order: Vec<usize> = [
        "#### policy tcp-reader",
        "#### policy root-on-unix",
        "#### policy default",
    ]
    .iter()
    .map(|h| {
        rendered
            .find(h)
            .unwrap_or_else(|| panic!("{h} missing:\n{rendered}"))
    })
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{rendered}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warn_mode_forwards_and_counts_what_enforce_would_refuse() {
    require_docker();
    let enforce = Guard::builder().env("CONTAINERS", "1").start().await;
    let refused = docker(&["images", "-q"], &enforce.docker_host()).await;
    assert!(!refused.status.success(), "enforce mode listed images");

    let warn = Guard::builder()
        .envs(&[("CONTAINERS", "1"), ("POST", "1"), ("GUARD_MODE", "warn")])
        .start()
        .await;
    let listed = docker(&["images", "-q"], &warn.docker_host()).await;
    assert!(listed.status.success(), "warn: {}", text(&listed.stderr));
    assert!(warn.requests_counted("warn", "IMAGES", 200) >= 1);
    let would_deny = |g: &Guard| {
        g.state()
            .metrics
            .would_deny
            .get_or_create(&socket_guard::metrics::PolicyLabels {
                policy: "default".into(),
            })
            .get()
    };
    let counted = would_deny(&warn);
    assert!(counted >= 1);

    // A body that needs a grant (a bind mount) is forwarded too, and counted.
    let name = e2e::router::unique("warn");
    let body = serde_json::json!({
        "Image": e2e::docker::ensure_test_image(),
        "HostConfig": { "Binds": ["/tmp:/host-tmp:ro"] },
    })
    .to_string();
    let created = answer(
        warn.addr(),
        "POST",
        &format!("/containers/create?name={name}"),
        Some(&body),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text());
    assert!(would_deny(&warn) > counted);
    let _ = real_api("DELETE", &format!("/containers/{name}?force=1"), None);

    // What no mode forwards stays refused: a method never forwarded, the swarm unlock key.
    for (method, path) in [("TRACE", "/containers/json"), ("GET", "/swarm/unlockkey")] {
        let r = answer(warn.addr(), method, path, None).await;
        assert_eq!(r.status, 403, "{method} {path}: {}", r.text());
    }
}

/// The docker CLI with TLS: `cert` is the client's (certificate and key files), or none.
async fn docker_tls(args: &[&str], host: &str, ca: &str, cert: Option<(&str, &str)>) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = tokio::process::Command::new("docker");
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("DOCKER_CERT_PATH", home.path())
        .env("DOCKER_CLI_HINTS", "false")
        .args(["-H", host, "--tlsverify", "--tlscacert", ca]);
    if let Some((crt, key)) = cert {
        cmd.args(["--tlscert", crt, "--tlskey", key]);
    }
    let run = cmd.args(args).kill_on_drop(true).output();
    tokio::time::timeout(std::time::Duration::from_secs(60), run)
        .await
        .expect("the docker CLI hung")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_admits_certified_clients_only_and_names_them() {
    require_docker();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let files = pki().write(d);
    let ca = files.ca;
    let ((crt, key), (ccrt, ckey), (rcrt, rkey)) = (files.server, files.client, files.rogue);
    let file = write(
        d,
        "policies.conf",
        "[router]\nMATCH_LISTEN=tls://127.0.0.1:0\nMATCH_CERT=router.example\nPRESET=router\n",
    );
    let guard = Guard::builder()
        .envs(&[
            ("GUARD_LISTEN", "tls://127.0.0.1:0"),
            ("GUARD_TLS_CERT", crt.as_str()),
            ("GUARD_TLS_KEY", key.as_str()),
            ("GUARD_TLS_CA", ca.as_str()),
            ("GUARD_POLICIES_FILE", file.as_str()),
        ])
        .start()
        .await;
    let host = guard.docker_host();

    // The certified router: its policy (the router preset) and nothing more.
    let version = docker_tls(&["version"], &host, &ca, Some((&ccrt, &ckey))).await;
    assert!(
        version.status.success(),
        "version: {}",
        text(&version.stderr)
    );
    let ps = docker_tls(&["ps"], &host, &ca, Some((&ccrt, &ckey))).await;
    assert!(ps.status.success(), "ps: {}", text(&ps.stderr));
    let images = docker_tls(&["images"], &host, &ca, Some((&ccrt, &ckey))).await;
    assert!(!images.status.success(), "the router preset listed images");
    assert!(
        text(&images.stderr).contains("[policy router]"),
        "{}",
        text(&images.stderr)
    );

    // No certificate, or one from another CA: the handshake refuses it; nothing is answered.
    let before = guard.state().metrics.tls_refused.get();
    for cert in [None, Some((rcrt.as_str(), rkey.as_str()))] {
        let out = docker_tls(&["ps"], &host, &ca, cert).await;
        assert!(!out.status.success(), "{cert:?} was served");
        assert!(
            !text(&out.stdout).contains("CONTAINER ID"),
            "{cert:?}: {}",
            text(&out.stdout)
        );
    }
    assert!(
        e2e::wait_until(std::time::Duration::from_secs(5), || {
            guard.state().metrics.tls_refused.get() >= before + 2
        })
        .await,
        "refused handshakes not counted"
    );
    // Plain HTTP to the TLS port gets no HTTP answer at all.
    let plain = e2e::http::exchange(guard.addr(), &e2e::http::request("GET", "/_ping", None)).await;
    assert!(plain.responses.is_empty(), "{}", plain.raw_text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_discovers_containers_through_the_mutual_tls_listener() {
    use e2e::docker::Cleanup;
    use e2e::router::{run_whoami, unique, Labels, Router};
    require_docker();
    let c = Cleanup::new("pol-tls");
    let net = c.network("net");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let files = pki().write(d);
    let ca = files.ca;
    let ((crt, key), (ccrt, ckey)) = (files.server, files.client);
    let file = write(
        d,
        "policies.conf",
        "[router]\nMATCH_CERT=router.example\nPRESET=router\n",
    );
    // Everyone else gets nothing, not even a ping.
    let guard = Guard::builder()
        .envs(&[
            ("GUARD_LISTEN", "tls://127.0.0.1:0"),
            ("GUARD_TLS_CERT", crt.as_str()),
            ("GUARD_TLS_KEY", key.as_str()),
            ("GUARD_TLS_CA", ca.as_str()),
            ("GUARD_POLICIES_FILE", file.as_str()),
            ("PING", "0"),
            ("VERSION", "0"),
            ("EVENTS", "0"),
        ])
        .start()
        .await;
    let endpoint = format!("--providers.docker.endpoint=tcp://{}", guard.addr());
    let tls_ca = format!("--providers.docker.tls.ca={ca}");
    let router = Router::builder()
        .flags(&[
            "--providers.docker=true",
            &endpoint,
            &tls_ca,
            &format!("--providers.docker.tls.cert={ccrt}"),
            &format!("--providers.docker.tls.key={ckey}"),
        ])
        .start(&guard)
        .await;
    router.wait_synced().await;
    let name = unique("mtls");
    let host = format!("{name}.test");
    let labels = Labels::enabled().router(&name, "rule", &format!("Host(`{host}`)"));
    let w = run_whoami(&c, "a", &net, &labels, &[]).await;
    let r = router.wait_status(&host, "/", 200).await;
    assert!(r.text().contains(&w.hostname), "{}", r.text());

    // A router with the CA but no client certificate never gets a list.
    let refused_before = guard.state().metrics.tls_refused.get();
    let anonymous = Router::builder()
        .flags(&["--providers.docker=true", &endpoint, &tls_ca])
        .start(&guard)
        .await;
    let shared = anonymous.shared().clone();
    assert!(
        e2e::wait_until(std::time::Duration::from_secs(10), || {
            shared.metrics.discovery_errors.get() >= 1
        })
        .await,
        "no discovery error without a client certificate"
    );
    assert!(!shared.synced.load(std::sync::atomic::Ordering::SeqCst));
    assert!(guard.state().metrics.tls_refused.get() > refused_before);
    let (status, _) = anonymous.get(&host, "/").await;
    assert_ne!(status, 200, "routed without discovery");
}

/// `GET path` over busybox nc from a new container on `net` labelled `labels` (busybox's
/// wget needs a resolver the scratch image lacks): the answer's status line and body.
async fn get_from_container(
    c: &e2e::docker::Cleanup,
    suffix: &str,
    net: &str,
    labels: &[&str],
    addr: std::net::SocketAddr,
    path: &str,
) -> (String, String) {
    let name = c.name(suffix);
    let mut args = vec!["run", "--rm", "--name", &name, "--network", net];
    for l in labels {
        args.extend(["-l", l]);
    }
    // busybox nc stops reading when its input ends: the input stays open until the answer.
    let script = format!(
        "(printf 'GET {path} HTTP/1.0\\r\\nHost: d\\r\\n\\r\\n'; sleep 2) | nc -w 10 {} {}",
        addr.ip(),
        addr.port()
    );
    let image = e2e::docker::ensure_test_image();
    args.extend([image, "sh", "-c", &script]);
    let out = docker(&args, "unix:///var/run/docker.sock").await;
    assert!(out.status.success(), "nc: {}", text(&out.stderr));
    let answer = text(&out.stdout);
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    (
        head.lines().next().unwrap_or_default().to_owned(),
        body.to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_container_is_known_by_its_labels() {
    require_docker();
    let c = e2e::docker::Cleanup::new("pol-label");
    let net = c.network("net");
    let info = real_api("GET", &format!("/networks/{net}"), None);
    let doc: serde_json::Value = serde_json::from_slice(&info.body).unwrap();
    let gateway = doc["IPAM"]["Config"][0]["Gateway"]
        .as_str()
        .unwrap_or_else(|| panic!("no gateway on {net}: {doc}"))
        .to_owned();
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "policies.conf",
        "[monitor]\nMATCH_LABEL=com.example.role=monitor\nCONTAINERS=1\n",
    );
    // The guard listens on the network's gateway, so the client's address is its container's.
    let listen = format!("{gateway}:0");
    let guard = Guard::builder()
        .envs(&[
            ("GUARD_LISTEN", listen.as_str()),
            ("GUARD_POLICIES_FILE", file.as_str()),
        ])
        .start()
        .await;
    let path = "/containers/json";
    let (status, body) = get_from_container(
        &c,
        "mon",
        &net,
        &["com.example.role=monitor"],
        guard.addr(),
        path,
    )
    .await;
    assert!(
        status.contains(" 200 "),
        "the labelled container: {status} {body}"
    );
    assert!(body.trim_start().starts_with('['), "{body}");
    for (suffix, labels) in [
        ("other", &["com.example.role=other"][..]),
        ("none", &[][..]),
    ] {
        let (status, body) = get_from_container(&c, suffix, &net, labels, guard.addr(), path).await;
        assert!(status.contains(" 403 "), "{labels:?}: {status} {body}");
        assert!(body.contains("CONTAINERS=1"), "{body}");
    }
    // A client on the host (no container has its address) gets the environment's policy.
    let host = answer(guard.addr(), "GET", path, None).await;
    assert_eq!(host.status, 403, "{}", host.text());
}
