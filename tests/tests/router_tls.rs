//! The router's edge features, end to end: TLS on websecure (versions, suites, certificates by
//! SNI from `ROUTER_CERTS_DIR`, live reload), the plain-HTTP redirect, security headers,
//! compression and HTTP/2 by ALPN. Real clients: rustls (with a verifier that accepts any
//! certificate and reports what was served), `openssl s_client` as a process, raw HTTP/1.1,
//! hyper's HTTP/2 client.
//!
//! Proves that: TLS 1.2 and 1.3 handshakes succeed, TLS 1.1 and an RSA-key-exchange CBC suite
//! are refused, and `ROUTER_TLS_CIPHERS` narrowed to one TLS 1.2 suite refuses a client
//! offering only another; SNI picks the exact certificate, then the wildcard, then a
//! self-signed one for the name; a replaced certificate is served within 10 s without a
//! restart and a broken one keeps the last good certificate in service; plain HTTP answers GET with 301
//! to `https://<host>:<ROUTER_REDIRECT_PORT><path?query>`; HTTPS answers carry nosniff,
//! SAMEORIGIN, Referrer-Policy and HSTS without `Server`, plain HTTP has no HSTS, an empty
//! `customresponseheaders.X-Frame-Options` removes it and `stsSeconds` changes HSTS;
//! `ROUTER_COMPRESS` gzips a large text body (which decompresses to the original) and leaves
//! small, binary, unrequested and `text/event-stream` bodies alone; ALPN offers `h2` and a
//! request over it reaches whoami.
#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use e2e::docker::{require_docker, Cleanup};
use e2e::http::{read_all, RawResponse, READ_BOUND};
use e2e::pebble::free_addr;
use e2e::router::{
    hostname_in, router_guard, run_whoami, unique, wait_serving, Labels, Router, BOUND,
};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::SupportedProtocolVersion;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

// === TLS client ===

/// A TLS handshake with SNI `sni`, limited to `versions`, offering `alpn`.
async fn handshake(
    addr: SocketAddr,
    sni: &str,
    versions: &[&'static SupportedProtocolVersion],
    alpn: &[&[u8]],
) -> std::io::Result<TlsStream<TcpStream>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(std::io::Error::other)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(router::client_tls::AnyCertificate::new()))
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let name = ServerName::try_from(sni.to_owned()).map_err(std::io::Error::other)?;
    let tcp = TcpStream::connect(addr).await?;
    tokio::time::timeout(
        READ_BOUND,
        tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp),
    )
    .await
    .map_err(|_| std::io::Error::other("handshake timed out"))?
}

const BOTH: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];

/// The leaf certificate websecure serves for SNI `sni`.
async fn served_cert(addr: SocketAddr, sni: &str) -> CertificateDer<'static> {
    let tls = handshake(addr, sni, BOTH, &[b"http/1.1"])
        .await
        .unwrap_or_else(|e| panic!("handshake with SNI {sni}: {e}"));
    tls.get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .unwrap_or_else(|| panic!("no certificate for SNI {sni}"))
        .clone()
        .into_owned()
}

/// The DNS names in a certificate's SAN, and whether it is self-signed (issuer = subject).
fn names_of(der: &CertificateDer<'_>) -> (Vec<String>, bool) {
    use x509_parser::prelude::*;
    let (_, cert) = X509Certificate::from_der(der.as_ref()).unwrap();
    let names = cert
        .subject_alternative_name()
        .unwrap()
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    GeneralName::DNSName(d) => Some(d.to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    (names, cert.issuer() == cert.subject())
}

/// `GET path` over HTTPS (HTTP/1.1, `Connection: close`) with SNI and `Host` = `host`.
async fn https_request(
    addr: SocketAddr,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> RawResponse {
    let mut tls = handshake(addr, host, BOTH, &[b"http/1.1"])
        .await
        .unwrap_or_else(|e| panic!("handshake with SNI {host}: {e}"));
    let mut raw = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers {
        raw.push_str(&format!("{k}: {v}\r\n"));
    }
    raw.push_str("\r\n");
    tls.write_all(raw.as_bytes()).await.unwrap();
    let ex = read_all(&mut tls, READ_BOUND).await;
    let raw = ex.raw_text();
    ex.responses
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no HTTPS response to GET {path} (Host: {host}): {raw:?}"))
}
/// Polls [`https_request`] until it answers `status`.
async fn wait_https_status(addr: SocketAddr, host: &str, path: &str, status: u16) -> RawResponse {
    let deadline = tokio::time::Instant::now() + BOUND;
    loop {
        let r = https_request(addr, host, path, &[]).await;
        if r.status == status {
            return r;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "HTTPS GET {path} (Host: {host}) did not answer {status} within {BOUND:?}; last: {} {:?}",
            r.status,
            r.text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `openssl s_client` against `addr` with SNI `sni` and extra arguments: whether the handshake
/// succeeded (exit status 0 and a negotiated cipher), and everything it printed.
async fn s_client(addr: SocketAddr, sni: &str, args: &[&str]) -> (bool, String) {
    let connect = addr.to_string();
    let mut cmd = tokio::process::Command::new("openssl");
    cmd.args(["s_client", "-connect", &connect, "-servername", sni])
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(READ_BOUND, cmd.output())
        .await
        .expect("openssl s_client did not finish")
        .expect("run openssl (is it installed?)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let negotiated = text.contains("Cipher is ") && !text.contains("Cipher is (NONE)");
    (out.status.success() && negotiated, text)
}

/// Waits until websecure completes a handshake (the accept task has started).
async fn wait_websecure(addr: SocketAddr) {
    let deadline = tokio::time::Instant::now() + BOUND;
    while handshake(addr, "localhost", BOTH, &[]).await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "websecure on {addr} does not complete a handshake within {BOUND:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// === Certificates ===

/// A self-signed ECDSA certificate for `names`: (DER, certificate PEM, key PEM).
fn make_cert(names: &[&str]) -> (CertificateDer<'static>, String, String) {
    let c =
        rcgen::generate_simple_self_signed(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
    (
        CertificateDer::from(c.cert.der().to_vec()),
        c.cert.pem(),
        c.signing_key.serialize_pem(),
    )
}

/// Writes `<stem>.crt` and `<stem>.key` (key first, each through a rename, so the watcher
/// never reads half a file).
fn install(dir: &Path, stem: &str, cert_pem: &str, key_pem: &str) {
    for (ext, text) in [("key", key_pem), ("crt", cert_pem)] {
        let tmp = dir.join(format!(".{stem}.{ext}.tmp"));
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, dir.join(format!("{stem}.{ext}"))).unwrap();
    }
}

// === Certificates from several providers ===

/// As Traefik's one store: the file provider's `tls.certificates` and default certificate keep
/// serving when a KV provider (etcd here) publishes a configuration of its own without any.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_providers_certificates_stay_when_another_provider_publishes() {
    require_docker();
    let dir = tempfile::tempdir().unwrap();
    let (a_der, a_pem, a_key) = make_cert(&["a.both.test"]);
    let (d_der, d_pem, d_key) = make_cert(&["default.both.test"]);
    install(dir.path(), "a", &a_pem, &a_key);
    install(dir.path(), "d", &d_pem, &d_key);
    let p = |f: &str| dir.path().join(f).display().to_string();
    let file = dir.path().join("dynamic.yml");
    std::fs::write(
        &file,
        format!(
            "tls:\n  certificates:\n    - certFile: {}\n      keyFile: {}\n  stores:\n    default:\n      defaultCertificate:\n        certFile: {}\n        keyFile: {}\n",
            p("a.crt"),
            p("a.key"),
            p("d.crt"),
            p("d.key")
        ),
    )
    .unwrap();
    let etcd = e2e::kv::Etcd::start();
    etcd.put("edge/http/routers/site/rule", "Host(`kv.both.test`)");
    etcd.put("edge/http/routers/site/service", "noop@internal");
    let guard = router_guard().start().await;
    let router = Router::builder()
        .websecure()
        .with_file(&file)
        .flags(&[
            &format!("--providers.etcd.endpoints={}", etcd.endpoint()),
            "--providers.etcd.rootKey=edge",
        ])
        .start(&guard)
        .await;
    let addr = router.websecure_addr();
    wait_websecure(addr).await;
    let deadline = tokio::time::Instant::now() + BOUND;
    while served_cert(addr, "a.both.test").await != a_der || !router.has_route("site@etcd") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not served within {BOUND:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // etcd publishes again (a changed rule), after the file: its configuration has no
    // certificate and no store, and the file's stay in service.
    etcd.put("edge/http/routers/site/rule", "Host(`kv2.both.test`)");
    let deadline = tokio::time::Instant::now() + BOUND;
    loop {
        let r = router.request("kv2.both.test", "/", &[]).await;
        if r.status != 404 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "etcd's change not in service"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(served_cert(addr, "a.both.test").await, a_der);
    assert_eq!(
        served_cert(addr, "nothing.both.test").await,
        d_der,
        "the default store"
    );
    drop(etcd);
}

// === 1. versions and suites ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_versions_and_cipher_suites() {
    require_docker();
    let guard = router_guard().start().await;
    let router = Router::builder().websecure().start(&guard).await;
    let addr = router.websecure_addr();
    wait_websecure(addr).await;

    for (version, expected) in [
        (&rustls::version::TLS12, rustls::ProtocolVersion::TLSv1_2),
        (&rustls::version::TLS13, rustls::ProtocolVersion::TLSv1_3),
    ] {
        let tls = handshake(addr, "a.test", &[version], &[b"http/1.1"])
            .await
            .unwrap_or_else(|e| panic!("a {expected:?} handshake failed: {e}"));
        assert_eq!(tls.get_ref().1.protocol_version(), Some(expected));
    }

    // A control: openssl itself can do TLS 1.2 with an ECDSA AEAD suite against the router.
    let (ok, out) = s_client(
        addr,
        "a.test",
        &["-tls1_2", "-cipher", "ECDHE-ECDSA-CHACHA20-POLY1305"],
    )
    .await;
    assert!(ok, "openssl TLS 1.2 ECDHE-ECDSA-CHACHA20-POLY1305: {out}");
    assert!(out.contains("ECDHE-ECDSA-CHACHA20-POLY1305"), "{out}");

    // TLS 1.1 (security level 0 so that openssl itself does not refuse to offer it).
    let (ok, out) = s_client(
        addr,
        "a.test",
        &["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"],
    )
    .await;
    assert!(!ok, "a TLS 1.1 handshake succeeded: {out}");
    assert!(
        out.contains("alert"),
        "refused by openssl, not by the router: {out}"
    );
    // An RSA key exchange CBC suite.
    let (ok, out) = s_client(addr, "a.test", &["-tls1_2", "-cipher", "AES128-SHA"]).await;
    assert!(!ok, "AES128-SHA was accepted: {out}");
    assert!(
        out.contains("alert"),
        "refused by openssl, not by the router: {out}"
    );
    drop(router);

    // Narrowed to one TLS 1.2 suite (and one TLS 1.3 suite).
    let router = Router::builder()
        .websecure()
        .env(
            "ROUTER_TLS_CIPHERS",
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS13_AES_128_GCM_SHA256",
        )
        .start(&guard)
        .await;
    let addr = router.websecure_addr();
    wait_websecure(addr).await;
    let (ok, out) = s_client(
        addr,
        "a.test",
        &["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"],
    )
    .await;
    assert!(ok, "the allowed suite was refused: {out}");
    let (ok, out) = s_client(
        addr,
        "a.test",
        &["-tls1_2", "-cipher", "ECDHE-ECDSA-CHACHA20-POLY1305"],
    )
    .await;
    assert!(
        !ok,
        "a suite outside ROUTER_TLS_CIPHERS was accepted: {out}"
    );
    assert!(
        out.contains("alert"),
        "refused by openssl, not by the router: {out}"
    );
    let (ok, out) = s_client(
        addr,
        "a.test",
        &["-tls1_3", "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"],
    )
    .await;
    assert!(
        !ok,
        "a TLS 1.3 suite outside ROUTER_TLS_CIPHERS was accepted: {out}"
    );
    assert!(
        out.contains("alert"),
        "refused by openssl, not by the router: {out}"
    );
    let (ok, out) = s_client(
        addr,
        "a.test",
        &["-tls1_3", "-ciphersuites", "TLS_AES_128_GCM_SHA256"],
    )
    .await;
    assert!(ok, "the allowed TLS 1.3 suite was refused: {out}");
}

// === 2. SNI ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sni_picks_exact_then_wildcard_then_self_signed() {
    require_docker();
    let dir = tempfile::tempdir().unwrap();
    let (a_der, a_pem, a_key) = make_cert(&["a.test"]);
    let (w_der, w_pem, w_key) = make_cert(&["*.wild.test"]);
    install(dir.path(), "a", &a_pem, &a_key);
    install(dir.path(), "wild", &w_pem, &w_key);
    let guard = router_guard().start().await;
    let router = Router::builder()
        .websecure()
        .env("ROUTER_CERTS_DIR", dir.path().to_str().unwrap())
        .start(&guard)
        .await;
    let addr = router.websecure_addr();
    wait_websecure(addr).await;

    // The first directory scan runs when the watcher starts: wait for it.
    let deadline = tokio::time::Instant::now() + BOUND;
    while served_cert(addr, "a.test").await != a_der {
        assert!(
            tokio::time::Instant::now() < deadline,
            "a.test's certificate is not served within {BOUND:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(served_cert(addr, "A.Test").await, a_der, "SNI case");
    assert_eq!(served_cert(addr, "x.wild.test").await, w_der);
    assert_eq!(served_cert(addr, "y.wild.test").await, w_der);

    // Neither the exact name nor one label under the wildcard: self-signed for the name.
    for sni in ["other.test", "x.y.wild.test"] {
        let der = served_cert(addr, sni).await;
        assert_ne!(der, a_der);
        assert_ne!(der, w_der);
        assert_eq!(names_of(&der), (vec![sni.to_owned()], true), "{sni}");
    }
    assert_eq!(names_of(&a_der).0, vec!["a.test".to_owned()]);
}

// === 3. reload ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_certificate_is_served_and_a_broken_one_keeps_the_last_good() {
    require_docker();
    let dir = tempfile::tempdir().unwrap();
    let (old_der, old_pem, old_key) = make_cert(&["a.test"]);
    install(dir.path(), "a", &old_pem, &old_key);
    let guard = router_guard().start().await;
    let router = Router::builder()
        .websecure()
        .env("ROUTER_CERTS_DIR", dir.path().to_str().unwrap())
        .start(&guard)
        .await;
    let addr = router.websecure_addr();
    wait_websecure(addr).await;
    let ok = wait_cert(addr, &old_der, BOUND).await;
    assert!(ok, "the first certificate is not served within {BOUND:?}");

    let (new_der, new_pem, new_key) = make_cert(&["a.test"]);
    install(dir.path(), "a", &new_pem, &new_key);
    let bound = Duration::from_secs(10);
    assert!(
        wait_cert(addr, &new_der, bound).await,
        "the replaced certificate is not served within {bound:?}"
    );

    std::fs::write(
        dir.path().join("a.crt"),
        "-----BEGIN CERTIFICATE-----\ngarbage\n",
    )
    .unwrap();
    // Three reload intervals and more: every handshake still gets the last good certificate.
    let until =
        tokio::time::Instant::now() + router::tls::RELOAD_INTERVAL * 3 + Duration::from_secs(1);
    let mut checks = 0;
    while tokio::time::Instant::now() < until {
        assert_eq!(
            served_cert(addr, "a.test").await,
            new_der,
            "after the certificate file broke (check {checks})"
        );
        checks += 1;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(checks >= 10, "{checks}");
}

/// Polls until SNI a.test is served `der`; whether it was within `bound`.
async fn wait_cert(addr: SocketAddr, der: &CertificateDer<'_>, bound: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + bound;
    loop {
        if served_cert(addr, "a.test").await == *der {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// === 4. redirect ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_redirects_to_the_https_port() {
    require_docker();
    let guard = router_guard().start().await;
    let (web, websecure) = (free_addr(), free_addr());
    let router = Router::builder()
        .listen_on(web, websecure)
        .env("ROUTER_REDIRECT_PORT", &websecure.port().to_string())
        .start(&guard)
        .await;
    // Traefik's permanent redirection answers GET with 301.
    let r = router.wait_status("a.test", "/x?y=1", 301).await;
    assert_eq!(
        r.header("location"),
        Some(format!("https://a.test:{}/x?y=1", websecure.port()).as_str())
    );
    // The Host header's port is replaced by the redirect port.
    let r = router.request("a.test:8080", "/", &[]).await;
    assert_eq!(r.status, 301);
    assert_eq!(
        r.header("location"),
        Some(format!("https://a.test:{}/", websecure.port()).as_str())
    );
}

// === 5. security headers ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_headers_over_https_and_http() {
    require_docker();
    let c = Cleanup::new("rt-sec");
    let net = c.network("net");
    let guard = router_guard().start().await;
    let router = Router::builder()
        .websecure()
        .env("ROUTER_REDIRECT_TO_HTTPS", "false")
        .start(&guard)
        .await;
    let [plain, noframe, sts] = ["sec-plain", "sec-noframe", "sec-sts"].map(unique);
    let host = |r: &str| format!("{r}.test");
    let mut labels = Labels::enabled();
    for r in [&plain, &noframe, &sts] {
        labels = labels.router(r, "rule", &format!("Host(`{}`)", host(r)));
    }
    let labels = labels
        .router(&noframe, "middlewares", &noframe)
        .router(&sts, "middlewares", &sts)
        .middleware(
            &noframe,
            "headers.customresponseheaders.X-Frame-Options",
            "",
        )
        .middleware(&sts, "headers.stsSeconds", "63072000");
    let w = run_whoami(&c, "w", &net, &labels, &[]).await;
    wait_serving(&w, &net).await;
    let addr = router.websecure_addr();

    let r = wait_https_status(addr, &host(&plain), "/", 200).await;
    assert_eq!(hostname_in(&r.text()), Some(w.hostname.as_str()));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("x-frame-options"), Some("SAMEORIGIN"));
    assert_eq!(
        r.header("referrer-policy"),
        Some("strict-origin-when-cross-origin")
    );
    assert_eq!(
        r.header("strict-transport-security"),
        Some("max-age=31536000")
    );
    assert_eq!(r.header("server"), None, "{:?}", r.headers);
    assert_eq!(r.header("x-powered-by"), None);

    let r = router.wait_status(&host(&plain), "/", 200).await;
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("x-frame-options"), Some("SAMEORIGIN"));
    assert_eq!(
        r.header("strict-transport-security"),
        None,
        "{:?}",
        r.headers
    );
    assert_eq!(r.header("server"), None);

    let r = wait_https_status(addr, &host(&noframe), "/", 200).await;
    assert_eq!(r.header("x-frame-options"), None, "{:?}", r.headers);
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));

    let r = wait_https_status(addr, &host(&sts), "/", 200).await;
    assert_eq!(
        r.header("strict-transport-security"),
        Some("max-age=63072000"),
        "{:?}",
        r.headers
    );
    let r = router.wait_status(&host(&sts), "/", 200).await;
    assert_eq!(
        r.header("strict-transport-security"),
        None,
        "{:?}",
        r.headers
    );
}

// === 6. compression ===

fn gunzip(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// An HTTP/1.1 backend on 127.0.0.1 (one request per connection): `/data?size=N` answers N
/// bytes `a` as `application/octet-stream`, or `text/plain` with `&type=text`; `/sse` answers
/// 5 KiB of `text/event-stream`. (whoami's `/data` only ever answers octet-stream.)
async fn data_backend() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head);
                let target = head.split(' ').nth(1).unwrap_or("/");
                let (ct, body) = if target == "/sse" {
                    (
                        "text/event-stream",
                        format!("data: {}\n\n", "a".repeat(72)).repeat(64),
                    )
                } else {
                    let size: usize = target
                        .split("size=")
                        .nth(1)
                        .and_then(|v| v.split('&').next())
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    let ct = if target.contains("type=text") {
                        "text/plain"
                    } else {
                        "application/octet-stream"
                    };
                    (ct, "a".repeat(size))
                };
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.write_all(body.as_bytes()).await;
                let _ = s.shutdown().await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compression_for_large_text_only() {
    require_docker();
    let c = Cleanup::new("rt-gzip");
    let guard = router_guard().start().await;
    let router = Router::builder()
        .env("ROUTER_COMPRESS", "true")
        .start(&guard)
        .await;
    // The backend runs in this process on the host; a container in network_mode host carries
    // the labels, its service port being the backend's (the router uses ROUTER_HOST_IP,
    // 127.0.0.1 by default, for such containers).
    let backend = data_backend().await;
    let name = unique("gzip");
    let host = format!("{name}.test");
    let labels = Labels::enabled()
        .router(&name, "rule", &format!("Host(`{host}`)"))
        .router(&name, "service", &name)
        .service(&name, "server.port", &backend.port().to_string());
    // whoami itself listens on a port of its own choosing, unused.
    run_whoami(
        &c,
        "host",
        "host",
        &labels,
        &["-e", "WHOAMI_LISTEN=127.0.0.1:0"],
    )
    .await;
    let r = router
        .wait_status(&host, "/data?size=10&type=text", 200)
        .await;
    assert_eq!(r.header("content-type"), Some("text/plain"));

    let gzip = [("Accept-Encoding", "gzip")];
    let r = router
        .request(&host, "/data?size=100000&type=text", &gzip)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-encoding"),
        Some("gzip"),
        "{:?}",
        r.headers
    );
    assert!(r.body.len() < 100_000, "{}", r.body.len());
    let plain = gunzip(&r.body);
    assert_eq!(plain.len(), 100_000);
    assert!(plain.iter().all(|b| *b == b'a'));

    for (path, headers, what) in [
        ("/data?size=100&type=text", &gzip[..], "a small text body"),
        ("/data?size=100000", &gzip[..], "an octet-stream body"),
        ("/data?size=100000&type=text", &[][..], "no Accept-Encoding"),
        (
            "/data?size=100000&type=text",
            &[("Accept-Encoding", "gzip;q=0")][..],
            "gzip refused",
        ),
    ] {
        let r = router.request(&host, path, headers).await;
        assert_eq!(r.status, 200, "{what}");
        assert_eq!(
            r.header("content-encoding"),
            None,
            "{what}: {:?}",
            r.headers
        );
        let size: usize = path
            .split("size=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(r.body.len(), size, "{what}");
    }

    let r = router.request(&host, "/sse", &gzip).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    assert_eq!(r.header("content-encoding"), None, "{:?}", r.headers);
    assert_eq!(r.body.len(), 80 * 64);
    assert!(r.text().starts_with("data: aaa"), "{}", r.text());
}

// === 7. h2 ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alpn_negotiates_h2_and_a_request_over_it_reaches_whoami() {
    require_docker();
    let c = Cleanup::new("rt-h2");
    let net = c.network("net");
    let guard = router_guard().start().await;
    let router = Router::builder().websecure().start(&guard).await;
    let name = unique("h2");
    let host = format!("{name}.test");
    let labels = Labels::enabled().router(&name, "rule", &format!("Host(`{host}`)"));
    let w = run_whoami(&c, "w", &net, &labels, &[]).await;
    wait_serving(&w, &net).await;
    let addr = router.websecure_addr();
    wait_https_status(addr, &host, "/", 200).await;

    let tls = handshake(addr, &host, BOTH, &[b"h2", b"http/1.1"])
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut send, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tls),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    for _ in 0..3 {
        let req = hyper::Request::get(format!("https://{host}/h2-path"))
            .body(http_body_util::Empty::<hyper::body::Bytes>::new())
            .unwrap();
        let resp = tokio::time::timeout(READ_BOUND, send.send_request(req))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.version(), hyper::Version::HTTP_2);
        let body = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .unwrap()
            .to_bytes();
        let text = String::from_utf8_lossy(&body);
        assert_eq!(hostname_in(&text), Some(w.hostname.as_str()), "{text}");
        assert!(text.contains("GET /h2-path"), "{text}");
    }

    // A client offering only http/1.1 gets it.
    let tls = handshake(addr, &host, BOTH, &[b"http/1.1"]).await.unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
}
