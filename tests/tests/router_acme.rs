//! The router's ACME resolver against Debian's pebble (a real ACME server doing real HTTP-01
//! and TLS-ALPN-01 validation against the router on loopback; see [`e2e::pebble`]).
//!
//! Proves that: a route with `tls.certresolver` gets a certificate from pebble through HTTP-01
//! on the web entry point, served on websecure for its SNI name and chaining to pebble's root
//! (fetched from pebble's management API), and HTTPS to the route reaches its container; the
//! storage file is 0600 and holds it; a new router on the same storage serves the same
//! certificate at once and orders nothing; with `ROUTER_ACME_RENEW_BEFORE` longer than the
//! certificate's lifetime a running router renews it (new serial in service, no restart);
//! when HTTP-01 cannot succeed (pebble validates on a closed port) the retry uses TLS-ALPN-01
//! on websecure and succeeds; a corrupt storage file stops the router from starting, naming
//! `ROUTER_ACME_STORAGE`.
//!
//! Each test labels its container with its own `ROUTER_LABEL_PREFIX`, so no router orders
//! certificates for another test's hosts.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use e2e::docker::{require_docker, Cleanup};
use e2e::pebble::{free_addr, require_pebble, tls_connect, ChallTestSrv, Pebble, ACME_BOUND};
use e2e::router::{
    acme_labels, router_guard, router_guard_for_prefix, run_whoami, unique, Labels, Router,
    RouterBuilder,
};
use rustls::pki_types::CertificateDer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What websecure served for one name.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Served {
    serial: String,
    issuer: String,
    /// The leaf's DNS names.
    names: Vec<String>,
    status_line: String,
}

/// A TLS handshake with SNI `host` trusting only `root`, then `GET /`: the leaf's serial and
/// issuer and the response's status line. An error when the handshake fails (the router still
/// serves a self-signed certificate, say).
async fn served(
    websecure: SocketAddr,
    host: &str,
    root: &CertificateDer<'static>,
) -> Result<Served, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root.clone()).map_err(|e| e.to_string())?;
    let tcp = tokio::net::TcpStream::connect(websecure)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let mut tls = tls_connect(tcp, roots, host, &[b"http/1.1"])
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let leaf = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .ok_or("no certificate")?
        .clone();
    let (_, cert) =
        x509_parser::parse_x509_certificate(leaf.as_ref()).map_err(|e| e.to_string())?;
    let serial = cert.raw_serial_as_string();
    let issuer = cert.issuer().to_string();
    let names = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    x509_parser::extensions::GeneralName::DNSName(d) => Some((*d).to_owned()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    tls.write_all(
        format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .map_err(|e| format!("write: {e}"))?;
    let mut raw = Vec::new();
    let _ = tls.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw);
    Ok(Served {
        serial,
        issuer,
        names,
        status_line: text.lines().next().unwrap_or("").to_owned(),
    })
}

/// Polls [`served`] until `check` holds; panics after [`ACME_BOUND`] with the last answer and
/// pebble's log.
async fn wait_served(
    websecure: SocketAddr,
    host: &str,
    root: &CertificateDer<'static>,
    pebble: &Pebble,
    what: &str,
    check: impl Fn(&Served) -> bool,
) -> Served {
    let deadline = tokio::time::Instant::now() + ACME_BOUND;
    loop {
        let last = served(websecure, host, root).await;
        if let Ok(s) = &last {
            if check(s) {
                return s.clone();
            }
        }
        if tokio::time::Instant::now() >= deadline {
            panic!(
                "{what}: not seen for {host} on {websecure} within {ACME_BOUND:?}; last: {last:?}\npebble's log:\n{}",
                pebble.log()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A router with its own label prefix and ACME settings pointing at `pebble`.
fn acme_router(prefix: &str, pebble: &Pebble, storage: &Path, renew_before: &str) -> RouterBuilder {
    Router::builder()
        .env("ROUTER_LABEL_PREFIX", prefix)
        .env("ROUTER_ACME_EMAIL", "e2e@example.com")
        .env("ROUTER_ACME_DIRECTORY", &pebble.directory())
        .env("ROUTER_ACME_STORAGE", storage.to_str().unwrap())
        .env("ROUTER_ACME_CA_FILE", pebble.ca_file().to_str().unwrap())
        .env("ROUTER_ACME_RENEW_BEFORE", renew_before)
}

/// The flags of certificate resolver `name`: an account with `email` at `pebble` (its CA
/// trusted), `storage` its file, and `extra` keys under `acme.` (`("httpchallenge.entrypoint",
/// "web")`).
fn resolver_flags(
    name: &str,
    email: &str,
    pebble: &Pebble,
    storage: &Path,
    extra: &[(&str, &str)],
) -> Vec<String> {
    let flag = |k: &str, v: &str| format!("--certificatesresolvers.{name}.acme.{k}={v}");
    let mut flags = vec![
        flag("email", email),
        flag("caserver", &pebble.directory()),
        flag("storage", &storage.display().to_string()),
        flag("cacertificates", &pebble.ca_file().display().to_string()),
    ];
    flags.extend(extra.iter().map(|(k, v)| flag(k, v)));
    flags
}

/// Whether the storage (Traefik's acme.json format; `ROUTER_ACME_*` writes resolver
/// `default`) holds a certificate whose main domain is `host`.
fn storage_holds_a_certificate(storage: &Path, host: &str) -> bool {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(storage).unwrap()).unwrap();
    v["default"]["Certificates"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| {
            c["domain"]["main"] == host && c["certificate"].as_str().is_some_and(|b| !b.is_empty())
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http01_issues_keeps_the_certificate_across_restarts_and_renews_it() {
    require_docker();
    require_pebble();
    let c = Cleanup::new("acme-http");
    let net = c.network("net");
    let prefix = unique("acmehttp");
    let guard = router_guard_for_prefix(&prefix).start().await;
    let (web, websecure) = (free_addr(), free_addr());
    // Certificates live one hour: a renewal window of a minute leaves them alone, one of two
    // hours renews at once.
    let pebble = Pebble::builder()
        .http_port(web.port())
        .tls_port(websecure.port())
        .validity_secs(3600)
        .start()
        .await;
    let root = pebble.root().await;
    let storage = pebble.scratch().join("acme.json");
    let name = unique("acme-http");
    let host = format!("{name}.test");
    run_whoami(&c, "a", &net, &acme_labels(&prefix, &name, &host), &[]).await;

    // Issued through HTTP-01 and served for the name.
    let first_router = acme_router(&prefix, &pebble, &storage, "1m")
        .listen_on(web, websecure)
        .start(&guard)
        .await;
    let first = wait_served(
        websecure,
        &host,
        &root,
        &pebble,
        "a certificate from pebble",
        |_| true,
    )
    .await;
    assert!(first.issuer.contains("Pebble Intermediate"), "{first:?}");
    assert!(
        first.status_line.starts_with("HTTP/1.1 200"),
        "HTTPS to the route: {first:?}"
    );
    assert_eq!(pebble.issued(), 1, "{}", pebble.log());
    let log = pebble.log();
    assert!(
        log.contains(&format!(
            "Attempting to validate w/ HTTP: http://{host}:{}/",
            web.port()
        )),
        "pebble did not validate HTTP-01 on the web entry point:\n{log}"
    );
    let mode = std::fs::metadata(&storage).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the storage file's mode");
    assert!(
        storage_holds_a_certificate(&storage, &host),
        "the storage holds no certificate for {host}"
    );
    drop(first_router);

    // A new router on the same storage serves it at once and orders nothing.
    let second_router = acme_router(&prefix, &pebble, &storage, "1m")
        .listen_on(web, websecure)
        .start(&guard)
        .await;
    let again = served(websecure, &host, &root)
        .await
        .expect("the stored certificate, at once");
    assert_eq!(again.serial, first.serial);
    // Several checks of the table pass (it polls every 2 s), still no order.
    second_router.wait_synced().await;
    tokio::time::sleep(router::acme::POLL * 4).await;
    assert_eq!(
        served(websecure, &host, &root).await.unwrap().serial,
        first.serial
    );
    assert_eq!(
        pebble.issued(),
        1,
        "a restart ordered again:\n{}",
        pebble.log()
    );
    drop(second_router);

    // Renewal window longer than the lifetime: the stored certificate first, then a new one,
    // without a restart.
    let third_router = acme_router(&prefix, &pebble, &storage, "2h")
        .listen_on(web, websecure)
        .start(&guard)
        .await;
    let renewed = wait_served(
        websecure,
        &host,
        &root,
        &pebble,
        "a renewed certificate",
        |s| s.serial != first.serial,
    )
    .await;
    assert!(
        renewed.issuer.contains("Pebble Intermediate"),
        "{renewed:?}"
    );
    assert_eq!(pebble.issued(), 2, "{}", pebble.log());
    drop(third_router);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_alpn01_on_websecure_takes_over_when_http01_fails() {
    require_docker();
    require_pebble();
    let c = Cleanup::new("acme-alpn");
    let net = c.network("net");
    let prefix = unique("acmealpn");
    let guard = router_guard_for_prefix(&prefix).start().await;
    let (web, websecure) = (free_addr(), free_addr());
    // HTTP-01 validation goes to a port nobody listens on.
    let closed = free_addr();
    let pebble = Pebble::builder()
        .http_port(closed.port())
        .tls_port(websecure.port())
        .start()
        .await;
    let root = pebble.root().await;
    let storage = pebble.scratch().join("acme.json");
    let name = unique("acme-alpn");
    let host = format!("{name}.test");
    run_whoami(&c, "a", &net, &acme_labels(&prefix, &name, &host), &[]).await;
    let _router = acme_router(&prefix, &pebble, &storage, "720h")
        .listen_on(web, websecure)
        .start(&guard)
        .await;
    let cert = wait_served(
        websecure,
        &host,
        &root,
        &pebble,
        "a certificate through TLS-ALPN-01",
        |_| true,
    )
    .await;
    assert!(cert.issuer.contains("Pebble Intermediate"), "{cert:?}");
    // An HTTP-01 validation failed first; the validation that succeeded made no HTTP request,
    // and DNS-01 cannot pass (the DNS responder has no TXT records): it was TLS-ALPN-01.
    let log = pebble.log();
    let invalid = log
        .find("set INVALID by completed challenge")
        .unwrap_or_else(|| panic!("no validation failed first:\n{log}"));
    assert!(
        log[..invalid].contains("Attempting to validate w/ HTTP"),
        "{log}"
    );
    let valid = log
        .find("set VALID by completed challenge")
        .unwrap_or_else(|| panic!("no validation succeeded:\n{log}"));
    let task = log[..valid].rfind("Pulled a task").unwrap();
    assert!(
        task > invalid && !log[task..valid].contains("Attempting to validate w/ HTTP"),
        "the successful validation was HTTP-01:\n{log}"
    );
    assert_eq!(pebble.issued(), 1, "{log}");
}

/// `tls.domains[0].main` and `.sans` on a router: one certificate from pebble names them
/// all (as Traefik orders it), served for each name; the storage keeps it under its main name
/// with its SANs, in Traefik's format.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_domains_get_one_certificate_with_their_sans() {
    require_docker();
    require_pebble();
    let c = Cleanup::new("acme-san");
    let net = c.network("net");
    let prefix = unique("acmesan");
    let guard = router_guard_for_prefix(&prefix).start().await;
    let (web, websecure) = (free_addr(), free_addr());
    let pebble = Pebble::builder()
        .http_port(web.port())
        .tls_port(websecure.port())
        .start()
        .await;
    let root = pebble.root().await;
    let storage = pebble.scratch().join("acme.json");
    let name = unique("acme-san");
    let (main, alt, other) = (
        format!("{name}.test"),
        format!("www.{name}.test"),
        format!("api.{name}.test"),
    );
    let router_key = |k: &str| format!("{prefix}.http.routers.{name}.{k}");
    let labels = Labels::none()
        .label(&format!("{prefix}.enable"), "true")
        .label(&router_key("tls.certresolver"), "le")
        .label(
            &router_key("rule"),
            &format!("Host(`{main}`) || Host(`{alt}`) || Host(`{other}`)"),
        )
        .label(&router_key("tls.domains[0].main"), &main)
        .label(
            &router_key("tls.domains[0].sans"),
            &format!("{alt},{other}"),
        );
    run_whoami(&c, "a", &net, &labels, &[]).await;
    let _router = acme_router(&prefix, &pebble, &storage, "720h")
        .listen_on(web, websecure)
        .start(&guard)
        .await;
    let first = wait_served(
        websecure,
        &main,
        &root,
        &pebble,
        "a SAN certificate from pebble",
        |_| true,
    )
    .await;
    let mut names = first.names.clone();
    names.sort();
    let mut want = vec![main.clone(), alt.clone(), other.clone()];
    want.sort();
    assert_eq!(names, want, "{first:?}");
    for host in [&alt, &other] {
        let s = served(websecure, host, &root).await.unwrap();
        assert_eq!(s.serial, first.serial, "{host}");
        assert!(s.status_line.starts_with("HTTP/1.1 200"), "{s:?}");
    }
    assert_eq!(pebble.issued(), 1, "{}", pebble.log());
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&storage).unwrap()).unwrap();
    let stored = &v["default"]["Certificates"][0]["domain"];
    assert_eq!(stored["main"], main.as_str(), "{v}");
    assert_eq!(stored["sans"], serde_json::json!([alt, other]), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_storage_file_stops_the_router_naming_the_variable() {
    let guard = router_guard().start().await;
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("acme.json");
    std::fs::write(&storage, "{\"certificates\": [").unwrap();
    let err = Router::builder()
        .websecure()
        .env("ROUTER_ACME_EMAIL", "e2e@example.com")
        .env("ROUTER_ACME_STORAGE", storage.to_str().unwrap())
        .try_start(&guard)
        .await
        .expect_err("the router started with a corrupt ACME storage");
    assert!(err.contains("ROUTER_ACME_STORAGE="), "{err}");
    assert!(err.contains("not a valid ACME storage file"), "{err}");
}

/// An `acme.json` as Traefik writes it: resolver `le` with an (RSA) account and one
/// certificate for `host`, signed by `ca`.
fn traefik_acme_json(host: &str, ca: &rcgen::CertifiedIssuer<'_, rcgen::KeyPair>) -> String {
    use base64::Engine as _;
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec![host.to_owned()]).unwrap();
    params.not_after = rcgen::date_time_ymd(2099, 1, 1);
    let leaf = params.signed_by(&key, ca).unwrap();
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    serde_json::json!({
        "le": {
            "Account": {
                "Email": "traefik@example.com",
                "Registration": { "body": { "status": "valid" }, "uri": "https://ca.example/acct/1" },
                "PrivateKey": "MIIJKAIBAAKCAgEA",
                "KeyType": "4096"
            },
            "Certificates": [{
                "domain": { "main": host },
                "certificate": b64(&(leaf.pem() + &ca.pem())),
                "key": b64(&key.serialize_pem()),
                "Store": "default"
            }]
        }
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_traefik_acme_json_carries_over_without_a_new_order() {
    require_docker();
    require_pebble();
    let c = Cleanup::new("acme-carry");
    let net = c.network("net");
    let prefix = unique("acmecarry");
    let guard = router_guard_for_prefix(&prefix).start().await;
    let (web, websecure) = (free_addr(), free_addr());
    let pebble = Pebble::builder()
        .http_port(web.port())
        .tls_port(websecure.port())
        .start()
        .await;
    let pebble_root = pebble.root().await;
    let (kept, fresh) = (
        format!("{}.test", unique("kept")),
        format!("{}.test", unique("fresh")),
    );
    // Traefik's certificate came from some CA; what matters is that its chain is served.
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let ca_root = CertificateDer::from(ca.der().to_vec());
    let storage = pebble.scratch().join("acme.json");
    std::fs::write(&storage, traefik_acme_json(&kept, &ca)).unwrap();
    for (suffix, host) in [("kept", &kept), ("fresh", &fresh)] {
        let name = host.trim_end_matches(".test");
        run_whoami(&c, suffix, &net, &acme_labels(&prefix, name, host), &[]).await;
    }
    let mut flags = vec![
        "--providers.docker=true".to_owned(),
        "--providers.docker.exposedbydefault=false".to_owned(),
    ];
    flags.extend(resolver_flags(
        "le",
        "e2e@example.com",
        &pebble,
        &storage,
        &[],
    ));
    let _router = Router::builder()
        .env("ROUTER_LABEL_PREFIX", &prefix)
        .flags(&flags.iter().map(String::as_str).collect::<Vec<_>>())
        .listen_on(web, websecure)
        .start(&guard)
        .await;

    // The name whose certificate Traefik stored is served that certificate at once...
    let from_traefik = served(websecure, &kept, &ca_root)
        .await
        .expect("the certificate from Traefik's acme.json, at once");
    // ...while the other is ordered (the control: ordering works in this setup).
    wait_served(
        websecure,
        &fresh,
        &pebble_root,
        &pebble,
        "a certificate for the other name",
        |_| true,
    )
    .await;
    tokio::time::sleep(router::acme::POLL * 3).await;
    assert_eq!(
        pebble.issued(),
        1,
        "the stored certificate was ordered again:\n{}",
        pebble.log()
    );
    let later = served(websecure, &kept, &ca_root).await.unwrap();
    assert_eq!(later.serial, from_traefik.serial);
    assert!(later.status_line.starts_with("HTTP/1.1 200"), "{later:?}");

    // The file is still Traefik's: its account kept, both certificates in its format.
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&storage).unwrap()).unwrap();
    assert_eq!(v["le"]["Account"]["Email"], "traefik@example.com", "{v:#}");
    let mains: Vec<&str> = v["le"]["Certificates"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["domain"]["main"].as_str())
        .collect();
    assert!(
        mains.contains(&kept.as_str()) && mains.contains(&fresh.as_str()),
        "{mains:?}"
    );
}

/// DNS-01 through lego's `exec` provider, against Debian's pebble validating over a real DNS
/// server (pebble-challtestsrv): a router's `tls.domains` with a wildcard SAN gets one
/// certificate naming `dnswild.test` and `*.dnswild.test`, served for any name under it. The
/// program (`EXEC_PATH`, a shell script driving the DNS server's API with curl) is run as lego
/// runs it, `present` then `cleanup` with the record's FQDN and value, one challenge at a
/// time; the router saw each record on the DNS server before telling pebble, and no record
/// is left afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns01_issues_a_wildcard_certificate_through_the_exec_provider() {
    require_docker();
    require_pebble();
    let chall = ChallTestSrv::start().await;
    let (web, websecure) = (free_addr(), free_addr());
    let pebble = Pebble::builder()
        .http_port(web.port())
        .tls_port(websecure.port())
        .dns_server(chall.dns())
        .start()
        .await;
    let root = pebble.root().await;
    let dir = pebble.scratch();
    let calls = dir.join("calls.log");
    let script = dir.join("dns-update.sh");
    std::fs::write(
        &script,
        format!(
            r#"#!/bin/sh
set -e
echo "$@" >> {calls}
case "$1" in
  present) curl -sf -X POST -d "{{\"host\":\"$2\",\"value\":\"$3\"}}" http://{api}/set-txt ;;
  cleanup) curl -sf -X POST -d "{{\"host\":\"$2\"}}" http://{api}/clear-txt ;;
  *) exit 2 ;;
esac
"#,
            calls = calls.display(),
            api = chall.management(),
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let file = dir.join("dynamic.yml");
    std::fs::write(
        &file,
        "http:\n  routers:\n    wild:\n      rule: Host(`a.dnswild.test`)\n      service: noop@internal\n      tls:\n        certResolver: le\n        domains:\n          - main: dnswild.test\n            sans: ['*.dnswild.test']\n",
    )
    .unwrap();
    let mut flags = vec![format!("--providers.file.filename={}", file.display())];
    flags.extend(resolver_flags(
        "le",
        "e2e@example.com",
        &pebble,
        &dir.join("acme.json"),
        &[
            ("dnschallenge.provider", "exec"),
            ("dnschallenge.resolvers", &chall.dns().to_string()),
        ],
    ));
    let guard = router_guard().start().await;
    let _router = Router::builder()
        .flags(&flags.iter().map(String::as_str).collect::<Vec<_>>())
        .env("EXEC_PATH", script.to_str().unwrap())
        .env("EXEC_SEQUENCE_INTERVAL", "1")
        .env("EXEC_POLLING_INTERVAL", "1")
        .listen_on(web, websecure)
        .start(&guard)
        .await;

    let got = wait_served(
        websecure,
        "a.dnswild.test",
        &root,
        &pebble,
        "a wildcard certificate through DNS-01",
        |_| true,
    )
    .await;
    let mut names = got.names.clone();
    names.sort();
    assert_eq!(names, ["*.dnswild.test", "dnswild.test"], "{got:?}");
    // Any name under the wildcard, and the apex, are served the same certificate.
    for host in ["other.dnswild.test", "dnswild.test"] {
        let s = served(websecure, host, &root).await.unwrap();
        assert_eq!(s.serial, got.serial, "{host}");
    }
    assert_eq!(pebble.issued(), 1, "{}", pebble.log());
    // lego's calls: present then cleanup, one challenge after the other.
    let lines: Vec<String> = std::fs::read_to_string(&calls)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let verbs: Vec<&str> = lines.iter().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(
        verbs,
        ["present", "cleanup", "present", "cleanup"],
        "{lines:?}"
    );
    for l in &lines {
        let parts: Vec<&str> = l.split(' ').collect();
        assert_eq!(parts.len(), 3, "{l}");
        assert_eq!(parts[1], "_acme-challenge.dnswild.test.", "{l}");
        assert_eq!(parts[2].len(), 43, "a base64url SHA-256: {l}");
    }
    assert_ne!(lines[0], lines[2], "two challenges, two values");
    // Nothing is left on the DNS server; the router asked it before pebble did.
    let left = router::acme_dns::txt(chall.dns(), "_acme-challenge.dnswild.test.")
        .await
        .unwrap();
    assert!(left.is_empty(), "{left:?}");
    let queries = chall.log();
    assert!(
        queries.contains("_acme-challenge.dnswild.test"),
        "no TXT query reached the DNS server:\n{queries}"
    );
    // A router added for a name the wildcard covers gets no certificate of its own, as in
    // Traefik (its ACME provider orders only names no certificate covers): the wildcard is
    // served for it, and nothing more is issued over a few of the resolver's rounds.
    let yaml = std::fs::read_to_string(&file).unwrap()
        + "    covered:\n      rule: Host(`b.dnswild.test`)\n      service: noop@internal\n      tls:\n        certResolver: le\n";
    let tmp = dir.join("dynamic.yml.tmp");
    std::fs::write(&tmp, yaml).unwrap();
    std::fs::rename(&tmp, &file).unwrap();
    tokio::time::sleep(Duration::from_secs(3 * router::acme::POLL.as_secs() + 1)).await;
    let s = served(websecure, "b.dnswild.test", &root).await.unwrap();
    assert_eq!(s.serial, got.serial);
    assert_eq!(pebble.issued(), 1, "{}", pebble.log());
}

/// Two resolvers of two ACME accounts (another email: a production and a staging one, an
/// HTTP-01 and a DNS-01 one, in real configurations), sharing one storage file as Traefik's
/// resolvers do: each orders for the routers that name it, and the file ends with both
/// resolvers' entries, each holding its certificate (neither write lost the other's).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_acme_accounts_share_a_storage_file() {
    require_docker();
    require_pebble();
    let c = Cleanup::new("acme-two");
    let net = c.network("net");
    let prefix = unique("acmetwo");
    let guard = router_guard_for_prefix(&prefix).start().await;
    let (web, websecure) = (free_addr(), free_addr());
    let pebble = Pebble::builder()
        .http_port(web.port())
        .tls_port(websecure.port())
        .start()
        .await;
    let pebble_root = pebble.root().await;
    let (first, second) = (
        format!("{}.test", unique("first")),
        format!("{}.test", unique("second")),
    );
    run_whoami(
        &c,
        "first",
        &net,
        &acme_labels(&prefix, "first", &first),
        &[],
    )
    .await;
    let labels = e2e::router::Labels::none()
        .label(&format!("{prefix}.enable"), "true")
        .label(
            &format!("{prefix}.http.routers.second.rule"),
            &format!("Host(`{second}`)"),
        )
        .label(
            &format!("{prefix}.http.routers.second.tls.certresolver"),
            "staging",
        );
    run_whoami(&c, "second", &net, &labels, &[]).await;
    let storage = pebble.scratch().join("acme.json");
    let mut flags = vec![
        "--providers.docker=true".to_owned(),
        "--providers.docker.exposedbydefault=false".to_owned(),
    ];
    for (name, email) in [
        ("le", "prod@example.com"),
        ("staging", "staging@example.com"),
    ] {
        flags.extend(resolver_flags(name, email, &pebble, &storage, &[]));
    }
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let _router = Router::builder()
        .env("ROUTER_LABEL_PREFIX", &prefix)
        .flags(&flags)
        .listen_on(web, websecure)
        .start(&guard)
        .await;
    for host in [&first, &second] {
        wait_served(
            websecure,
            host,
            &pebble_root,
            &pebble,
            "a certificate from its resolver's account",
            |_| true,
        )
        .await;
    }
    let holds = |v: &serde_json::Value, resolver: &str, host: &str| {
        v[resolver]["Certificates"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["domain"]["main"] == host)
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&storage).unwrap()).unwrap();
        if holds(&v, "le", &first) && holds(&v, "staging", &second) {
            assert!(
                !holds(&v, "le", &second) && !holds(&v, "staging", &first),
                "{v:#}"
            );
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{v:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(pebble.issued(), 2, "{}", pebble.log());
}

/// An entry point with `allowACMEByPass`: its ACME HTTP-01 challenges are routed like any
/// request (Traefik's `acme-http-bypass` router, at its rule's own priority), so pebble's
/// validation is answered through routing and the certificate issued, while a user's router
/// with a longer rule for the challenge paths takes its own requests (without the bypass,
/// the challenge router above every other would answer them 404).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_acme_bypass_routes_the_challenges() {
    require_docker();
    require_pebble();
    let c = Cleanup::new("acme-bypass");
    let net = c.network("net");
    let prefix = unique("acmebypass");
    let guard = router_guard_for_prefix(&prefix).start().await;
    let (web, websecure, acme_ep, dead) = (free_addr(), free_addr(), free_addr(), free_addr());
    // TLS-ALPN-01 goes to a port nothing listens on: only HTTP-01 through routing can pass.
    let pebble = Pebble::builder()
        .http_port(acme_ep.port())
        .tls_port(dead.port())
        .start()
        .await;
    let root = pebble.root().await;
    let storage = pebble.scratch().join("acme.json");
    let name = unique("bypass");
    let host = format!("{name}.test");
    let user_host = format!("{}.test", unique("user"));
    let labels = acme_labels(&prefix, &name, &host)
        .label(
            &format!("{prefix}.http.routers.{name}-wk.rule"),
            &format!("Host(`{user_host}`) && PathPrefix(`/.well-known/acme-challenge/`)"),
        )
        .label(
            &format!("{prefix}.http.routers.{name}-wk.entrypoints"),
            "acme",
        )
        .label(&format!("{prefix}.http.routers.{name}-wk.service"), &name)
        .label(&format!("{prefix}.http.routers.{name}.service"), &name)
        .label(
            &format!("{prefix}.http.services.{name}.loadbalancer.server.port"),
            "8080",
        );
    let w = run_whoami(&c, "a", &net, &labels, &[]).await;
    let mut flags = vec![
        "--providers.docker=true".to_owned(),
        "--providers.docker.exposedbydefault=false".to_owned(),
        format!("--entrypoints.acme.address={acme_ep}"),
        "--entrypoints.acme.allowacmebypass=true".to_owned(),
    ];
    flags.extend(resolver_flags(
        "le",
        "e2e@example.com",
        &pebble,
        &storage,
        &[("httpchallenge.entrypoint", "acme")],
    ));
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let _router = Router::builder()
        .env("ROUTER_LABEL_PREFIX", &prefix)
        .flags(&flags)
        .listen_on(web, websecure)
        .start(&guard)
        .await;
    wait_served(
        websecure,
        &host,
        &root,
        &pebble,
        "a certificate through the bypass",
        |_| true,
    )
    .await;
    assert!(
        pebble.log().contains("Attempting to validate w/ HTTP"),
        "{}",
        pebble.log()
    );
    // The user's router takes its challenge paths on that entry point.
    let raw = format!(
        "GET /.well-known/acme-challenge/mine HTTP/1.1\r\nHost: {user_host}\r\nConnection: close\r\n\r\n"
    );
    let ex = e2e::http::exchange(acme_ep, raw.as_bytes()).await;
    assert_eq!(ex.statuses(), [200], "{}", String::from_utf8_lossy(&ex.raw));
    assert!(
        String::from_utf8_lossy(&ex.raw).contains(&w.hostname),
        "{}",
        String::from_utf8_lossy(&ex.raw)
    );
}
