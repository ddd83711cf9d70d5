//! Cluster mode with real containers: one controller discovers through socket-guard and
//! reads a dynamic configuration file; three data planes hold no Docker access and no file,
//! and get everything from the controller over mutual TLS. A labelled container started is
//! routed by all three; a file's router and its certificate (a path on the controller's
//! side) are served by all three; with the controller stopped they keep serving, and a
//! container started meanwhile is routed once it is back; a data plane whose certificate
//! another CA signed gets nothing.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use e2e::docker::{require_docker, Cleanup};
use e2e::router::{hostname_in, router_guard, run_whoami, unique, Labels, Router, RouterBuilder};

/// The controller channel's TLS files on a builder.
fn tls(b: RouterBuilder, ca: &str, (cert, key): &(String, String)) -> RouterBuilder {
    b.env("ROUTER_CONTROLLER_TLS_CA", ca)
        .env("ROUTER_CONTROLLER_TLS_CERT", cert)
        .env("ROUTER_CONTROLLER_TLS_KEY", key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_planes_serve_what_the_controller_sees() {
    require_docker();
    let c = Cleanup::new("cluster");
    let net = c.network("net");
    let dir = tempfile::tempdir().unwrap();
    let pki = e2e::pki::pki();
    let files = pki.write(dir.path());
    // A file provider on the controller: a router to a whoami by address, and a certificate
    // named by path (the data planes have no such file).
    let guard = router_guard().start().await;
    let a_name = unique("cl-a");
    let a_host = format!("{a_name}.test");
    let a = run_whoami(
        &c,
        "a",
        &net,
        &Labels::enabled().router(&a_name, "rule", &format!("Host(`{a_host}`)")),
        &[],
    )
    .await;
    let a_ip = e2e::router::ip_on(&a.name, &net);
    let dynamic = dir.path().join("dynamic.yaml");
    // Copies that are removed once the controller read them: the data planes can only have
    // the certificate from the controller's messages.
    let (crt, key) = (
        dir.path().join("filed.pem"),
        dir.path().join("filed-key.pem"),
    );
    std::fs::copy(&files.server.0, &crt).unwrap();
    std::fs::copy(&files.server.1, &key).unwrap();
    let (crt, key) = (crt.display().to_string(), key.display().to_string());
    std::fs::write(
        &dynamic,
        format!(
            "http:\n  routers:\n    filed:\n      rule: Host(`filed.test`)\n      service: filed\n  services:\n    filed:\n      loadBalancer:\n        servers:\n          - url: http://{a_ip}:8080\ntls:\n  certificates:\n    - certFile: {crt}\n      keyFile: {key}\n"
        ),
    )
    .unwrap();
    let file_flag = format!("--providers.file.filename={}", dynamic.display());
    let controller = tls(Router::builder(), &files.ca, &files.server)
        .controller_on(None)
        .flags(&["--providers.docker=true", &file_flag])
        .start(&guard)
        .await;
    controller.wait_synced().await;
    std::fs::remove_file(&crt).unwrap();
    std::fs::remove_file(&key).unwrap();
    let address = format!("localhost:{}", controller.controller_addr().port());
    let mut planes = Vec::new();
    for _ in 0..3 {
        let plane = tls(Router::builder(), &files.ca, &files.client)
            .env("ROUTER_CONTROLLER", &address)
            .both_entry_points()
            .start_data_plane()
            .await;
        planes.push(plane);
    }
    for p in &planes {
        p.wait_synced().await;
        let cfg = &p.shared().config;
        assert!(
            cfg.docker.is_none() && cfg.swarm.is_none() && cfg.file.is_none(),
            "a data plane has a provider of its own"
        );
        let r = p.wait_status(&a_host, "/", 200).await;
        assert_eq!(hostname_in(&r.text()), Some(a.hostname.as_str()));
        let r = p.wait_status("filed.test", "/", 200).await;
        assert_eq!(hostname_in(&r.text()), Some(a.hostname.as_str()));
    }
    // The file's certificate (a path on the controller) is served by the data planes: a
    // client that trusts only the test CA completes its handshake for `localhost`.
    for p in &planes {
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        for ca in rustls::pki_types::CertificateDer::pem_file_iter(&files.ca).unwrap() {
            roots.add(ca.unwrap()).unwrap();
        }
        let tcp = tokio::net::TcpStream::connect(p.websecure_addr())
            .await
            .unwrap();
        let hs = e2e::pebble::tls_connect(tcp, roots, "localhost", &[]).await;
        assert!(
            hs.is_ok(),
            "a data plane does not serve the file's certificate: {hs:?}"
        );
    }

    // A container started is routed by every data plane.
    let b_name = unique("cl-b");
    let b_host = format!("{b_name}.test");
    let started = Instant::now();
    let b = run_whoami(
        &c,
        "b",
        &net,
        &Labels::enabled().router(&b_name, "rule", &format!("Host(`{b_host}`)")),
        &[],
    )
    .await;
    for p in &planes {
        let r = p.wait_status(&b_host, "/", 200).await;
        assert_eq!(hostname_in(&r.text()), Some(b.hostname.as_str()));
    }
    eprintln!(
        "every data plane routed the new container {:?} after docker run started",
        started.elapsed()
    );

    // The controller stopped: the data planes keep serving the last configuration.
    let controller_addr = controller.controller_addr();
    drop(controller);
    tokio::time::sleep(Duration::from_secs(1)).await;
    for p in &planes {
        assert_eq!(
            p.get(&a_host, "/").await.0,
            200,
            "a data plane dropped a route"
        );
        assert_eq!(
            p.get(&b_host, "/").await.0,
            200,
            "a data plane dropped a route"
        );
    }
    // A container started while it is away is routed once it is back.
    let d_name = unique("cl-d");
    let d_host = format!("{d_name}.test");
    let d = run_whoami(
        &c,
        "d",
        &net,
        &Labels::enabled().router(&d_name, "rule", &format!("Host(`{d_host}`)")),
        &[],
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    for p in &planes {
        assert_eq!(
            p.get(&d_host, "/").await.0,
            404,
            "routed without a controller?"
        );
    }
    let controller = tls(Router::builder(), &files.ca, &files.server)
        .controller_on(Some(controller_addr))
        .flags(&["--providers.docker=true", &file_flag])
        .start(&guard)
        .await;
    for p in &planes {
        let r = p.wait_status(&d_host, "/", 200).await;
        assert_eq!(hostname_in(&r.text()), Some(d.hostname.as_str()));
    }

    // A data plane with another CA's certificate is refused: it never gets a table.
    let stranger = tls(Router::builder(), &files.ca, &files.rogue)
        .env("ROUTER_CONTROLLER", &address)
        .start_data_plane()
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !stranger
            .shared()
            .synced
            .load(std::sync::atomic::Ordering::SeqCst),
        "a data plane with another CA's certificate got the controller's table"
    );
    assert_eq!(stranger.get(&a_host, "/").await.0, 404);
    drop(controller);
}

/// ACME in cluster mode: the controller orders (once) for a route's host; pebble validates
/// HTTP-01 on a data plane (the CA reaches the second of three; the controller is not
/// reachable on that port at all), which answers from the controller's message; every data
/// plane then serves the certificate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controller_orders_once_and_every_data_plane_answers_and_serves() {
    acme_through_data_planes(true).await;
}

/// The same with TLS-ALPN-01: HTTP-01 reaches nothing (a closed port) and fails, so the
/// controller's retry uses TLS-ALPN-01, which the CA validates on the third data plane's
/// websecure (DNS-01 cannot pass: the test DNS has no TXT records).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_alpn_challenge_is_answered_by_a_data_plane() {
    acme_through_data_planes(false).await;
}

async fn acme_through_data_planes(http01: bool) {
    use e2e::pebble::{free_addr, require_pebble, tls_connect, Pebble, ACME_BOUND};
    require_docker();
    require_pebble();
    let c = Cleanup::new(if http01 {
        "cluster-acme"
    } else {
        "cluster-alpn"
    });
    let net = c.network("net");
    let dir = tempfile::tempdir().unwrap();
    let files = e2e::pki::pki().write(dir.path());
    // A label prefix of its own: no other test's routes (and their orders) in this table.
    let prefix = unique(if http01 { "clacme" } else { "clalpn" });
    let guard = e2e::router::router_guard_for_prefix(&prefix).start().await;
    let addrs: Vec<_> = (0..3).map(|_| (free_addr(), free_addr())).collect();
    let nothing = free_addr();
    let pebble = Pebble::builder()
        .http_port(if http01 {
            addrs[1].0.port()
        } else {
            nothing.port()
        })
        .tls_port(addrs[2].1.port())
        .start()
        .await;
    let root = pebble.root().await;
    let name = unique(if http01 { "cl-acme" } else { "cl-alpn" });
    let host = format!("{name}.test");
    let labels = e2e::router::acme_labels(&prefix, &name, &host);
    run_whoami(&c, "a", &net, &labels, &[]).await;
    let storage = pebble.scratch().join("acme.json");
    let _controller = tls(Router::builder(), &files.ca, &files.server)
        .controller_on(None)
        .websecure()
        .env("ROUTER_LABEL_PREFIX", &prefix)
        .env("ROUTER_ACME_EMAIL", "e2e@example.com")
        .env("ROUTER_ACME_DIRECTORY", &pebble.directory())
        .env("ROUTER_ACME_STORAGE", storage.to_str().unwrap())
        .env("ROUTER_ACME_CA_FILE", pebble.ca_file().to_str().unwrap())
        .start(&guard)
        .await;
    let address = format!("localhost:{}", _controller.controller_addr().port());
    let mut planes = Vec::new();
    for (web, websecure) in &addrs {
        let plane = tls(Router::builder(), &files.ca, &files.client)
            .env("ROUTER_CONTROLLER", &address)
            .env("ROUTER_REDIRECT_TO_HTTPS", "false")
            .listen_on(*web, *websecure)
            .start_data_plane()
            .await;
        planes.push(plane);
    }
    let served = |addr: std::net::SocketAddr| {
        let (root, host) = (root.clone(), host.clone());
        async move {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(root).unwrap();
            let tcp = tokio::net::TcpStream::connect(addr).await.ok()?;
            tls_connect(tcp, roots, &host, &[]).await.ok().map(|_| ())
        }
    };
    let deadline = Instant::now() + ACME_BOUND;
    for (i, (_, websecure)) in addrs.iter().enumerate() {
        while served(*websecure).await.is_none() {
            assert!(
                Instant::now() < deadline,
                "data plane {i} does not serve pebble's certificate for {host}:\n{}",
                pebble.log()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    assert_eq!(
        pebble.issued(),
        1,
        "one order for the cluster:\n{}",
        pebble.log()
    );
    let log = pebble.log();
    if http01 {
        assert!(
            log.contains(&format!(
                "Attempting to validate w/ HTTP: http://{host}:{}/",
                addrs[1].0.port()
            )),
            "pebble did not validate on the second data plane:\n{log}"
        );
    } else {
        let invalid = log
            .find("set INVALID by completed challenge")
            .unwrap_or_else(|| panic!("HTTP-01 did not fail first:\n{log}"));
        assert!(
            log[invalid..].contains("set VALID by completed challenge"),
            "no validation succeeded after it:\n{log}"
        );
    }
    // The data planes hold no pending answer once the order is done.
    for p in &planes {
        assert!(p.shared().acme_challenges.lock().unwrap().is_empty());
    }
}
