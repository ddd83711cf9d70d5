//! Routing by Traefik labels, end to end: real whoami containers on per-test networks, the
//! router seeing them only through socket-guard (router preset), real HTTP in front.
//!
//! Proves that: a `Host` rule routes to its container (case and port of the Host header
//! ignored), clients that open a connection per request share backend connections, and an
//! unknown host gets a short plain 404; three replicas of one service share
//! requests round robin; `PathPrefix` with `stripprefix` forwards the stripped path with
//! `X-Forwarded-Prefix`, and `X-Forwarded-For/Proto/Host` and `X-Real-IP` are set; a container
//! without `traefik.enable` is not routed unless `ROUTER_EXPOSED_BY_DEFAULT=true`; a container
//! on two networks is reached on the one `traefik.docker.network` names. An entry point's
//! `http.*` options (sanitizePath, encodeQuerySemicolons, underscoreHeadersStrategy,
//! encodedCharacters) shape what the backend receives, and what they refuse reaches none.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use e2e::docker::{real_docker_async_ok, require_docker, Cleanup};
use e2e::router::{
    echoes_header, hostname_in, ip_on, router_guard, run_whoami, unique, usable_backends,
    wait_serving, Labels, Router,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_rule_routes_to_its_container_and_an_unknown_host_is_404() {
    require_docker();
    let c = Cleanup::new("rt-host");
    let net = c.network("net");
    let guard = router_guard().start().await;
    let router = Router::builder().start(&guard).await;
    let name = unique("host-a");
    let host = format!("{name}.test");
    let labels = Labels::enabled().router(&name, "rule", &format!("Host(`{host}`)"));
    let a = run_whoami(&c, "a", &net, &labels, &[]).await;

    let r = router.wait_status(&host, "/", 200).await;
    assert_eq!(
        hostname_in(&r.text()),
        Some(a.hostname.as_str()),
        "{}",
        r.text()
    );
    // The Host header's case and port do not matter.
    let (status, body) = router
        .get(&format!("{}:8080", host.to_uppercase()), "/")
        .await;
    assert_eq!(
        (status, hostname_in(&body)),
        (200, Some(a.hostname.as_str())),
        "{body}"
    );

    // A client that opens a connection per request does not cost a backend connection per
    // request: backend connections outlive the client connections that used them.
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..10 {
        let (status, body) = router.get(&host, "/").await;
        assert_eq!(status, 200, "{body}");
        let from = body
            .lines()
            .find_map(|l| l.strip_prefix("RemoteAddr: "))
            .unwrap_or_else(|| panic!("no RemoteAddr in {body}"))
            .to_owned();
        seen.insert(from);
    }
    assert!(
        seen.len() <= 3,
        "10 client connections used {} backend connections: {seen:?}",
        seen.len()
    );

    let unknown = router
        .request(&format!("{}.test", unique("nobody")), "/", &[])
        .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.text(), "404 page not found\n");
    assert_eq!(
        unknown.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_share_requests_round_robin() {
    require_docker();
    let c = Cleanup::new("rt-rr");
    let net = c.network("net");
    let guard = router_guard().start().await;
    let router = Router::builder().start(&guard).await;
    let (name, svc) = (unique("rr"), unique("rr-svc"));
    let host = format!("{name}.test");
    let labels = Labels::enabled()
        .router(&name, "rule", &format!("Host(`{host}`)"))
        .router(&name, "service", &svc)
        .service(&svc, "server.port", "8080");
    let mut replicas = Vec::new();
    for suffix in ["r1", "r2", "r3"] {
        replicas.push(run_whoami(&c, suffix, &net, &labels, &[]).await);
    }
    for w in &replicas {
        wait_serving(w, &net).await;
    }
    let shared = router.shared().clone();
    router
        .wait_live("three usable backends", |live| {
            usable_backends(&shared, live, &svc).len() == 3
        })
        .await;

    let mut seen: HashMap<String, usize> = HashMap::new();
    for _ in 0..30 {
        let (status, body) = router.get(&host, "/").await;
        assert_eq!(status, 200, "{body}");
        let h = hostname_in(&body).expect("whoami's first line").to_owned();
        *seen.entry(h).or_default() += 1;
    }
    println!("30 requests over 3 replicas: {seen:?}");
    for w in &replicas {
        let n = seen.get(&w.hostname).copied().unwrap_or(0);
        assert!(n >= 5, "{} got {n} of 30: {seen:?}", w.name);
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_prefix_with_stripprefix_forwards_the_stripped_path_and_forwarded_headers() {
    require_docker();
    let c = Cleanup::new("rt-prefix");
    let net = c.network("net");
    let guard = router_guard().start().await;
    let router = Router::builder().start(&guard).await;
    let (name, strip) = (unique("prefix"), unique("strip"));
    let host = format!("{name}.test");
    let labels = Labels::enabled()
        .router(
            &name,
            "rule",
            &format!("Host(`{host}`) && PathPrefix(`/api`)"),
        )
        .router(&name, "middlewares", &strip)
        .middleware(&strip, "stripprefix.prefixes", "/api");
    run_whoami(&c, "p", &net, &labels, &[]).await;

    let r = router.wait_status(&host, "/api/hello?x=1", 200).await;
    let body = r.text();
    assert!(
        body.lines().any(|l| l == "GET /hello?x=1 HTTP/1.1"),
        "whoami did not see the stripped path:\n{body}"
    );
    for (h, v) in [
        ("X-Forwarded-Prefix", "/api"),
        ("X-Forwarded-For", "127.0.0.1"),
        ("X-Real-IP", "127.0.0.1"),
        ("X-Forwarded-Proto", "http"),
        ("X-Forwarded-Host", host.as_str()),
        // Traefik's: the Host header's port, else 80 for plain HTTP (not the listener's port).
        ("X-Forwarded-Port", "80"),
    ] {
        assert!(echoes_header(&body, h, v), "no {h}: {v} in:\n{body}");
    }
    // Outside the prefix, the rule does not match.
    let (status, body) = router.get(&host, "/hello").await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_enable_a_container_is_routed_only_when_exposed_by_default() {
    require_docker();
    let c = Cleanup::new("rt-expose");
    let net = c.network("net");
    // A container without any traefik.* label is outside the router preset's scope: with
    // exposedByDefault, the preset's comment says to widen it (GUARD_VISIBLE_LABELS empty).
    let guard = router_guard().env("GUARD_VISIBLE_LABELS", "").start().await;
    let strict = Router::builder().start(&guard).await;
    let open = Router::builder()
        .env("ROUTER_EXPOSED_BY_DEFAULT", "true")
        .start(&guard)
        .await;
    // No label at all: the default rule is Host(`<container name>`).
    let plain = run_whoami(&c, "plain", &net, &Labels::none(), &[]).await;
    // A control container started after it: once the strict router routes it, it has listed
    // the plain one too, so the 404 below is a decision and not a delay.
    let control = unique("control");
    let control_host = format!("{control}.test");
    let labels = Labels::enabled().router(&control, "rule", &format!("Host(`{control_host}`)"));
    run_whoami(&c, "control", &net, &labels, &[]).await;
    strict.wait_status(&control_host, "/", 200).await;

    let (status, body) = strict.get(&plain.name, "/").await;
    assert_eq!(status, 404, "routed without traefik.enable: {body}");

    let r = open.wait_status(&plain.name, "/", 200).await;
    assert_eq!(
        hostname_in(&r.text()),
        Some(plain.hostname.as_str()),
        "{}",
        r.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_on_two_networks_is_reached_on_the_labelled_one() {
    require_docker();
    let c = Cleanup::new("rt-networks");
    let n1 = c.network("n1");
    let n2 = c.network("n2");
    let guard = router_guard().start().await;
    let router = Router::builder().admin().start(&guard).await;
    let (name, svc) = (unique("twonets"), unique("twonets-svc"));
    let host = format!("{name}.test");
    let labels = Labels::enabled()
        .label("traefik.docker.network", &n2)
        .router(&name, "rule", &format!("Host(`{host}`)"))
        .router(&name, "service", &svc)
        .service(&svc, "server.port", "8080");
    // Connected to both before it starts, as compose does: the router preset's scope passes
    // no network events, so a network connected to a running container is seen at its next
    // event or the periodic resync (see README, Swarm and networks).
    let w = c.name("w");
    let mut create = vec!["create", "--name", &w, "--network", &n1];
    let label_args: Vec<String> = labels.pairs().map(|(k, v)| format!("{k}={v}")).collect();
    for l in &label_args {
        create.extend(["-l", l.as_str()]);
    }
    create.push(e2e::router::WHOAMI_IMAGE);
    real_docker_async_ok(&create).await;
    real_docker_async_ok(&["network", "connect", &n2, &w]).await;
    real_docker_async_ok(&["start", &w]).await;
    let (ip1, ip2) = (ip_on(&w, &n1), ip_on(&w, &n2));
    assert_ne!(ip1, ip2);
    let want = format!("{ip2}:8080");

    wait_one_backend(&router, &svc, &want, "the backend on n2").await;
    let r = router.wait_status(&host, "/", 200).await;
    // whoami prints the address the request arrived on.
    assert!(
        r.text().lines().any(|l| l == format!("IP: {ip2}")),
        "not reached on n2 ({ip2}; n1 is {ip1}):\n{}",
        r.text()
    );
}

/// Traefik's entry point HTTP pipeline (`entryPoints.<name>.http.*`), each option on its own
/// entry point, with nginx echoing what it received (`$request_uri`, and the header `X_Only`,
/// which it reads with `underscores_in_headers on`):
/// - defaults (`web`, and `websecure` over HTTP/2): the path cleaned (`sanitizePath`), `;` in
///   the query a `&` for `Query` rules and for the backend, `X_Only` kept, a `#` in the path
///   a 400;
/// - `enc`: `encodeQuerySemicolons=true` (`;` sent as `%3B`, not a separator),
///   `sanitizePath=false` (the path as received), `underscoreHeadersStrategy=delete`;
/// - `strict`: `underscoreHeadersStrategy=reject` and `encodedCharacters.allowEncodedSlash=false`
///   (400 from the router that takes the request; a request no router takes stays a 404).
///
/// A refused request reaches no backend: nginx's log holds exactly the accepted ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entry_point_http_options_shape_what_the_backend_receives() {
    use e2e::http::exchange;
    use e2e::make::free_port;
    use e2e::nginx::Nginx;
    let (echo, q) = (free_port(), free_port());
    let nginx = Nginx::start(
        &format!(
            "  log_format uri '$request_uri';\n  server {{ listen 127.0.0.1:{echo}; underscores_in_headers on; access_log @DIR@/backend.log uri; location / {{ return 200 \"$request_uri|u=$http_x_only\\n\"; }} }}\n  server {{ listen 127.0.0.1:{q}; access_log @DIR@/backend.log uri; location / {{ return 200 \"q $request_uri\\n\"; }} }}\n"
        ),
        &[echo, q],
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dynamic.yml");
    std::fs::write(
        &file,
        format!(
            "http:\n  routers:\n    echo:\n      rule: Host(`pipe.test`)\n      service: echo\n    q:\n      rule: Host(`pipe.test`) && Query(`b`, `2`)\n      service: q\n    echo-tls:\n      rule: Host(`pipe.test`)\n      service: echo\n      tls: {{}}\n  services:\n    echo:\n      loadBalancer:\n        servers: [{{url: \"http://127.0.0.1:{echo}\"}}]\n    q:\n      loadBalancer:\n        servers: [{{url: \"http://127.0.0.1:{q}\"}}]\n"
        ),
    )
    .unwrap();
    let router = Router::builder()
        .flags(&[
            &format!("--providers.file.filename={}", file.display()),
            "--entrypoints.enc.address=127.0.0.1:0",
            "--entrypoints.enc.http.encodequerysemicolons=true",
            "--entrypoints.enc.http.sanitizepath=false",
            "--entrypoints.enc.http.underscoreheadersstrategy=delete",
            "--entrypoints.strict.address=127.0.0.1:0",
            "--entrypoints.strict.http.underscoreheadersstrategy=reject",
            "--entrypoints.strict.http.encodedcharacters.allowencodedslash=false",
        ])
        .both_entry_points()
        .start_without_docker()
        .await;
    // `strict` has a model (encodedCharacters): the routers on it are split off.
    router
        .wait_routes(&["echo@file", "strict-echo@file", "q@file", "strict-q@file"])
        .await;
    let get = |ep: &'static str, target: &'static str, extra: &'static str| {
        let addr = router.addr(ep);
        async move {
            let raw = format!(
                "GET {target} HTTP/1.1\r\nHost: pipe.test\r\n{extra}Connection: close\r\n\r\n"
            );
            let ex = exchange(addr, raw.as_bytes()).await;
            let r = ex.responses.into_iter().next().expect("an answer");
            (r.status, r.text().trim().to_owned())
        }
    };
    let u = "X_Only: u\r\n";
    let mut accepted = Vec::new();
    for (ep, target, extra, status, body) in [
        // Defaults: cleaned path, `;` a `&` (a separator for `Query` too), `X_Only` kept.
        (
            "web",
            "/a/./b/../c//d?x=1;y=2",
            u,
            200,
            "/a/c/d?x=1&y=2|u=u",
        ),
        ("web", "/?a=1;b=2", "", 200, "q /?a=1&b=2"),
        ("web", "/%7euser/%2f/x%41", "", 200, "/~user/%2F/xA|u="),
        ("web", "/a#b", "", 400, ""),
        ("web", "/a%zz", "", 400, ""),
        // encodeQuerySemicolons, sanitizePath=false, underscoreHeadersStrategy=delete.
        (
            "enc",
            "/a/./b/../c//d?x=1;y=2",
            u,
            200,
            "/a/./b/../c//d?x=1%3By=2|u=",
        ),
        ("enc", "/?a=1;b=2", "", 200, "/?a=1%3Bb=2|u="),
        // underscoreHeadersStrategy=reject, encodedCharacters.allowEncodedSlash=false.
        ("strict", "/ok", u, 400, ""),
        ("strict", "/ok", "", 200, "/ok|u="),
        ("strict", "/a%2Fb", "", 400, ""),
        ("strict", "/a%2fb", "", 400, ""),
        ("strict", "/a%5Cb", "", 200, "/a%5Cb|u="),
    ] {
        let (got, text) = get(ep, target, extra).await;
        assert_eq!(got, status, "{ep} {target} {extra:?}: {text}");
        if status == 200 {
            assert_eq!(text, body, "{ep} {target} {extra:?}");
            accepted.push(
                body.split('|')
                    .next()
                    .unwrap()
                    .trim_start_matches("q ")
                    .to_owned(),
            );
        }
    }
    // A request no router takes is a 404 before any router's check.
    let raw = "GET /a%2Fb HTTP/1.1\r\nHost: other.test\r\nConnection: close\r\n\r\n";
    let ex = exchange(router.addr("strict"), raw.as_bytes()).await;
    assert_eq!(ex.statuses(), [404], "{}", ex.raw_text());

    // HTTP/2 (websecure, defaults): the same clean-up and `;`.
    let addr = router.websecure_addr();
    let out = std::process::Command::new("curl")
        .args([
            "-sk",
            "--http2",
            "--path-as-is",
            "--max-time",
            "10",
            "--resolve",
        ])
        .arg(format!("pipe.test:{}:127.0.0.1", addr.port()))
        .args(["-H", "X_Only: h2"])
        .arg(format!(
            "https://pipe.test:{}/h2/./x/../y//?x=1;y=2",
            addr.port()
        ))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "/h2/y/?x=1&y=2|u=h2"
    );
    accepted.push("/h2/y/?x=1&y=2".into());

    // Exactly the accepted requests reached a backend, as they were forwarded.
    let seen = nginx.settled("backend.log").await;
    assert_eq!(seen, accepted);
}

/// Traefik's `denyRouterRecursion` on a router made from `defaultRule`: the backend is sent
/// `X-Traefik-Router` with the router's mark (the FNV-1 hash of its name), and a request that
/// comes back through the same router with it (a loop) is answered 400 and reaches nothing; a
/// router with its own rule has no mark.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_default_rule_router_refuses_a_request_looping_through_it() {
    require_docker();
    let c = Cleanup::new("rt-loop");
    let net = c.network("net");
    let guard = router_guard().start().await;
    let router = Router::builder()
        .env(
            "ROUTER_DEFAULT_RULE",
            "Host(`{{ index .Labels \"test.host\" }}`)",
        )
        .start(&guard)
        .await;
    let host = format!("{}.test", unique("loop"));
    let own = unique("own");
    let labels = Labels::enabled().label("test.host", &host);
    let w = run_whoami(&c, "w", &net, &labels, &[]).await;
    let own_labels = Labels::enabled().router(&own, "rule", &format!("Host(`{own}.test`)"));
    run_whoami(&c, "o", &net, &own_labels, &[]).await;

    let r = router.wait_status(&host, "/", 200).await;
    let body = r.text();
    let mark = body
        .lines()
        .find_map(|l| l.strip_prefix("x-traefik-router: "))
        .unwrap_or_else(|| panic!("no X-Traefik-Router reached the backend: {body}"))
        .to_owned();
    // Go's `strconv.FormatUint(h, 16)`, as Traefik writes it: no leading zeros, so one name
    // in sixteen has a mark of 15 digits or fewer.
    assert!(
        (1..=16).contains(&mark.len()) && !mark.starts_with('0'),
        "{mark}"
    );
    assert!(mark.bytes().all(|b| b.is_ascii_hexdigit()), "{mark}");
    let looped = router
        .request(&host, "/", &[("X-Traefik-Router", &mark)])
        .await;
    assert_eq!(looped.status, 400);
    assert!(looped.body.is_empty(), "{}", looped.text());
    assert!(!looped.text().contains(&w.hostname));
    // Another value passes (and is replaced by the mark).
    let r = router
        .request(&host, "/", &[("X-Traefik-Router", "0")])
        .await;
    assert_eq!(r.status, 200);
    assert!(
        echoes_header(&r.text(), "x-traefik-router", &mark),
        "{}",
        r.text()
    );
    // A router with its own rule: no mark.
    let r = router.wait_status(&format!("{own}.test"), "/", 200).await;
    assert!(
        !r.text().to_ascii_lowercase().contains("x-traefik-router"),
        "{}",
        r.text()
    );
}

/// `providers.docker.useBindPortIP`, as Traefik's: a container whose port is published on a
/// named host address is reached on that binding (the router's backend is
/// `127.0.0.1:<published port>`, not the container's network address), and still serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn use_bind_port_ip_reaches_the_published_binding() {
    require_docker();
    let c = Cleanup::new("rt-bind");
    let net = c.network("net");
    let guard = router_guard().start().await;
    let router = Router::builder()
        .flags(&[
            "--providers.docker=true",
            "--providers.docker.exposedbydefault=false",
            "--providers.docker.usebindportip=true",
        ])
        .admin()
        .start(&guard)
        .await;
    let svc = unique("bound");
    let host = format!("{svc}.test");
    let port = e2e::make::free_port();
    let labels = Labels::enabled()
        .router(&svc, "rule", &format!("Host(`{host}`)"))
        .router(&svc, "service", &svc)
        .label(
            &format!("traefik.http.services.{svc}.loadbalancer.server.port"),
            "8080",
        );
    let publish = format!("127.0.0.1:{port}:8080");
    let w = run_whoami(&c, "w", &net, &labels, &["-p", &publish]).await;
    wait_serving(&w, &net).await;
    let want = format!("127.0.0.1:{port}");
    wait_one_backend(&router, &svc, &want, "the backend on the published binding").await;
    let r = router.wait_status(&host, "/", 200).await;
    assert_eq!(hostname_in(&r.text()), Some(w.hostname.as_str()));
}

/// Waits until the admin API lists service `<svc>@docker` with one backend, at `address`.
async fn wait_one_backend(router: &Router, svc: &str, address: &str, what: &str) {
    router
        .wait_admin("/api/services", what, |v| {
            v["services"].as_array().is_some_and(|services| {
                services.iter().any(|s| {
                    s["name"] == format!("{svc}@docker").as_str()
                        && s["backends"]
                            .as_array()
                            .is_some_and(|b| b.len() == 1 && b[0]["address"] == address)
                })
            })
        })
        .await;
}
