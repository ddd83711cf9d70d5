//! The KV providers (`providers.etcd`, `providers.redis`) against Debian's etcd and Redis,
//! keys written with `etcdctl` and `redis-cli` in Traefik's layout: routed, changes followed
//! (a rule, a server, a middleware), deletions followed, the last configuration kept while the
//! store is down and changes made after it returns picked up; etcd over mutual TLS with a user
//! (auth enabled; the client certificate has no common name, which etcd's JSON gateway
//! requires with users: see README); Redis with a password and a database, its keyspace notifications turned on
//! as Traefik's store does, and read on a timer when an ACL forbids `CONFIG`. nginx servers
//! are the backends.
#![allow(clippy::unwrap_used)]

use e2e::docker::require_docker;
use e2e::kv::{Etcd, Redis};
use e2e::make::free_port;
use e2e::nginx::Nginx;
use e2e::router::{router_guard, Router};

/// Two nginx servers answering `a` and `b`.
fn backends() -> (Nginx, u16, u16) {
    let (a, b) = (free_port(), free_port());
    let nginx = Nginx::start(
        &format!(
            "  server {{ listen 127.0.0.1:{a}; location / {{ return 200 \"a\\n\"; }} }}\n  server {{ listen 127.0.0.1:{b}; location / {{ return 200 \"b\\n\"; }} }}\n"
        ),
        &[a, b],
    );
    (nginx, a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_keys_written_with_etcdctl_are_routed_and_followed() {
    require_docker();
    let (_nginx, a, b) = backends();
    let mut etcd = Etcd::start();
    let guard = router_guard().start().await;
    // Keys first, under a root key written with slashes around it.
    etcd.put("edge/http/routers/site/rule", "Host(`a.kv.test`)");
    etcd.put("edge/http/routers/site/service", "site");
    etcd.put("edge/http/routers/site/middlewares/0", "mark");
    etcd.put(
        "edge/http/services/site/loadBalancer/servers/0/url",
        &format!("http://127.0.0.1:{a}"),
    );
    etcd.put(
        "edge/http/middlewares/mark/headers/customResponseHeaders/X-From-Kv",
        "etcd",
    );
    // Not configuration: left out.
    etcd.put("edge/generation", "1");
    let router = Router::builder()
        .flags(&[
            &format!("--providers.etcd.endpoints={}", etcd.endpoint()),
            "--providers.etcd.rootKey=/edge/",
        ])
        .start(&guard)
        .await;
    let r = router.wait_body("a.kv.test", "/", "a\n").await;
    assert_eq!(r.header("x-from-kv"), Some("etcd"), "{r:?}");
    assert!(router.has_route("site@etcd"));

    // A server changed.
    etcd.put(
        "edge/http/services/site/loadBalancer/servers/0/url",
        &format!("http://127.0.0.1:{b}"),
    );
    router.wait_body("a.kv.test", "/", "b\n").await;
    // The rule changed: the old name is gone.
    etcd.put("edge/http/routers/site/rule", "Host(`c.kv.test`)");
    router.wait_body("c.kv.test", "/", "b\n").await;
    router.wait_status("a.kv.test", "/", 404).await;

    // The store down: the last configuration keeps serving.
    etcd.stop();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let (status, body) = router.get("c.kv.test", "/").await;
    assert_eq!((status, body.as_str()), (200, "b\n"));
    // Back, with a change made after: picked up by the reconnected provider.
    etcd.resume();
    etcd.put("edge/http/routers/site/rule", "Host(`d.kv.test`)");
    router.wait_body("d.kv.test", "/", "b\n").await;

    // Everything deleted: nothing routed.
    etcd.del_prefix("edge/http/");
    router.wait_status("d.kv.test", "/", 404).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_over_mutual_tls_with_a_user() {
    require_docker();
    let (_nginx, a, _) = backends();
    let dir = tempfile::tempdir().unwrap();
    let pki = e2e::pki::pki().write(dir.path());
    let mut etcd = Etcd::start_with(Some([
        pki.server.0.clone().into(),
        pki.server.1.clone().into(),
        pki.ca.clone().into(),
    ]));
    etcd.ctl(&["user", "add", "root:rootpw"]);
    etcd.ctl(&["user", "add", "edge:edgepw"]);
    etcd.ctl(&["role", "add", "edge-read"]);
    etcd.ctl(&[
        "role",
        "grant-permission",
        "edge-read",
        "--prefix=true",
        "read",
        "traefik/",
    ]);
    etcd.ctl(&["user", "grant-role", "edge", "edge-read"]);
    etcd.ctl(&["auth", "enable"]);
    etcd.ctl_args = vec!["--user=root:rootpw".into()];
    etcd.put("traefik/http/routers/tls/rule", "Host(`tls.kv.test`)");
    etcd.put("traefik/http/routers/tls/service", "tls");
    etcd.put(
        "traefik/http/services/tls/loadBalancer/servers/0/url",
        &format!("http://127.0.0.1:{a}"),
    );
    let guard = router_guard().start().await;
    // The user `edge`, over mutual TLS, with `password`.
    let flags = |password: &str| {
        vec![
            format!("--providers.etcd.endpoints={}", etcd.endpoint()),
            "--providers.etcd.username=edge".to_owned(),
            format!("--providers.etcd.password={password}"),
            format!("--providers.etcd.tls.ca={}", pki.ca),
            format!("--providers.etcd.tls.cert={}", pki.anonymous.0),
            format!("--providers.etcd.tls.key={}", pki.anonymous.1),
        ]
    };
    let right = flags("edgepw");
    let router = Router::builder()
        .flags(&right.iter().map(String::as_str).collect::<Vec<_>>())
        .start(&guard)
        .await;
    router.wait_body("tls.kv.test", "/", "a\n").await;
    etcd.put("traefik/http/routers/tls/rule", "Host(`tls2.kv.test`)");
    router.wait_body("tls2.kv.test", "/", "a\n").await;

    // A wrong password reads nothing: its router has no route from the store.
    let wrong = flags("wrong");
    let wrong = Router::builder()
        .flags(&wrong.iter().map(String::as_str).collect::<Vec<_>>())
        .start(&guard)
        .await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(wrong.get("tls2.kv.test", "/").await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_with_a_password_and_a_database_turns_notifications_on_and_follows() {
    require_docker();
    let (_nginx, a, b) = backends();
    let mut redis = Redis::start(&["--requirepass", "redispw"]);
    redis.cli_args = vec!["-a".into(), "redispw".into(), "-n".into(), "3".into()];
    assert_eq!(
        redis
            .cli(&["CONFIG", "GET", "notify-keyspace-events"])
            .lines()
            .nth(1),
        Some(""),
        "notifications start off"
    );
    redis.set("traefik/http/routers/r/rule", "Host(`r.kv.test`)");
    redis.set("traefik/http/routers/r/service", "r");
    redis.set(
        "traefik/http/services/r/loadBalancer/servers/0/url",
        &format!("http://127.0.0.1:{a}"),
    );
    // The same keys in database 0 are not this router's.
    redis.cli(&[
        "-n",
        "0",
        "SET",
        "traefik/http/routers/other/rule",
        "Host(`other.kv.test`)",
    ]);
    let guard = router_guard().start().await;
    let router = Router::builder()
        .flags(&[
            &format!("--providers.redis.endpoints={}", redis.endpoint()),
            "--providers.redis.password=redispw",
            "--providers.redis.db=3",
        ])
        .start(&guard)
        .await;
    router.wait_body("r.kv.test", "/", "a\n").await;
    let flags = redis.cli(&["CONFIG", "GET", "notify-keyspace-events"]);
    let flags = flags.lines().nth(1).unwrap_or_default();
    assert!(flags.contains('K') && flags.contains('A'), "{flags:?}");
    assert!(!router.has_route("other@redis"));

    // A change in one transaction, as a publisher writes one.
    let script = format!(
        "MULTI\nSET traefik/http/routers/r/rule \"Host(`s.kv.test`)\"\nSET traefik/http/services/r/loadBalancer/servers/0/url http://127.0.0.1:{b}\nINCR traefik/generation\nEXEC\n"
    );
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "printf '%s' '{}' | redis-cli -p {} --no-auth-warning -a redispw -n 3",
            script.replace('\'', "'\\''"),
            redis.port
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    router.wait_body("s.kv.test", "/", "b\n").await;
    router.wait_status("r.kv.test", "/", 404).await;
    redis.cli(&["DEL", "traefik/http/routers/r/rule"]);
    router.wait_status("s.kv.test", "/", 404).await;

    // Restarted empty (no persistence): the provider reconnects and routes the keys written
    // then, as Traefik does (an empty store is an empty configuration).
    redis.stop();
    redis.resume();
    redis.cli_args = vec!["-a".into(), "redispw".into(), "-n".into(), "3".into()];
    redis.set("traefik/http/routers/back/rule", "Host(`back.kv.test`)");
    redis.set("traefik/http/routers/back/service", "back");
    redis.set(
        "traefik/http/services/back/loadBalancer/servers/0/url",
        &format!("http://127.0.0.1:{a}"),
    );
    router.wait_body("back.kv.test", "/", "a\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_without_config_rights_is_read_on_a_timer() {
    require_docker();
    let (_nginx, a, b) = backends();
    let redis = Redis::start(&[]);
    redis.cli(&[
        "ACL",
        "SETUSER",
        "edge",
        "on",
        ">edgepw",
        "~traefik/*",
        "+@read",
        "+@connection",
        "+@pubsub",
    ]);
    redis.set("traefik/http/routers/t/rule", "Host(`t.kv.test`)");
    redis.set("traefik/http/routers/t/service", "t");
    redis.set(
        "traefik/http/services/t/loadBalancer/servers/0/url",
        &format!("http://127.0.0.1:{a}"),
    );
    let guard = router_guard().start().await;
    let router = Router::builder()
        .flags(&[
            &format!("--providers.redis.endpoints={}", redis.endpoint()),
            "--providers.redis.username=edge",
            "--providers.redis.password=edgepw",
        ])
        .start(&guard)
        .await;
    router.wait_body("t.kv.test", "/", "a\n").await;
    // The server's notifications were left off (the user may not change them)...
    let flags = redis.cli(&["CONFIG", "GET", "notify-keyspace-events"]);
    assert_eq!(flags.lines().nth(1), Some(""), "{flags}");
    // ...and a change is still seen.
    redis.set(
        "traefik/http/services/t/loadBalancer/servers/0/url",
        &format!("http://127.0.0.1:{b}"),
    );
    router.wait_body("t.kv.test", "/", "b\n").await;
}
