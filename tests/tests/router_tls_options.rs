//! TLS options and the default TLS store from the file provider, end to end with real clients
//! (`openssl s_client` and `curl` as processes): the options a connection gets are chosen by
//! its SNI, as Traefik chooses them.
//!
//! Proves that: a router with `minVersion: VersionTLS13` refuses a TLS 1.2 handshake for its
//! host and takes a TLS 1.3 one; the file's `default` options (TLS 1.2 suites narrowed) refuse a
//! suite they do not list and take one they do; a name without a certificate of its own gets
//! the default store's `defaultCertificate`, not a self-signed one; `sniStrict` refuses a
//! handshake for a host it covers that has no certificate; `clientAuth` with `caFiles`
//! refuses a client without a certificate and serves one with a certificate from that CA; a
//! request whose `Host` needs other options than its SNI chose is answered 421 (and reaches
//! nothing); a router naming options that do not exist is disabled (404), with the error in
//! the table.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::process::Output;

use e2e::docker::require_docker;
use e2e::router::{router_guard, Router};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};

/// `openssl s_client` to `addr` with SNI `sni`: whether a cipher was negotiated, and the text.
fn s_client(addr: SocketAddr, sni: &str, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &addr.to_string(),
            "-servername",
            sni,
        ])
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run openssl (is it installed?)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let negotiated = text.contains("Cipher is ") && !text.contains("Cipher is (NONE)");
    (out.status.success() && negotiated, text)
}

/// `curl -k` over HTTPS to `addr` with SNI `sni` (and `Host` from the URL unless `host` says
/// otherwise): the output (`-i`), or the failure.
fn curl(addr: SocketAddr, sni: &str, host: Option<&str>, extra: &[&str]) -> Output {
    let url = format!("https://{sni}:{}/", addr.port());
    let resolve = format!("{sni}:{}:{}", addr.port(), addr.ip());
    let mut cmd = std::process::Command::new("curl");
    cmd.args(["-sk", "-i", "--max-time", "10", "--resolve", &resolve]);
    if let Some(h) = host {
        cmd.args(["-H", &format!("Host: {h}")]);
    }
    cmd.args(extra).arg(&url);
    cmd.output().expect("run curl (is it installed?)")
}

fn status(o: &Output) -> Option<u16> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .next()?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The subject alternative names of the leaf `s_client -showcerts` printed.
fn leaf_names(text: &str) -> String {
    let pem_start = text
        .find("-----BEGIN CERTIFICATE-----")
        .expect("a certificate");
    let pem_end = text
        .find("-----END CERTIFICATE-----")
        .expect("a certificate end")
        + 25;
    let pem = &text[pem_start..pem_end];
    let der = rustls::pki_types::pem::PemObject::from_pem_slice(pem.as_bytes())
        .map(|d: rustls::pki_types::CertificateDer<'static>| d)
        .unwrap();
    use x509_parser::prelude::*;
    let (_, cert) = X509Certificate::from_der(der.as_ref()).unwrap();
    let san = cert.subject_alternative_name().unwrap().unwrap();
    san.value
        .general_names
        .iter()
        .map(|n| format!("{n}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// A server certificate for `names`: (cert PEM, key PEM).
fn server_cert(names: &[&str]) -> (String, String) {
    let c =
        rcgen::generate_simple_self_signed(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
    (c.cert.pem(), c.signing_key.serialize_pem())
}

/// A CA and a client certificate it signs: (CA PEM, client cert PEM, client key PEM).
fn client_ca() -> (String, String, String) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "router test client CA");
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    let mut cp = CertificateParams::new(vec!["client.test".to_string()]).unwrap();
    cp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    cp.distinguished_name.push(DnType::CommonName, "client");
    let key = KeyPair::generate().unwrap();
    let client = cp.signed_by(&key, &ca).unwrap();
    (ca.pem(), client.pem(), key.serialize_pem())
}

const DYNAMIC: &str = r#"http:
  routers:
    plain:
      rule: Host(`plain.test`)
      service: noop@internal
      tls: {}
    modern:
      rule: Host(`modern.test`)
      service: noop@internal
      tls:
        options: modern
    strict:
      rule: Host(`nocert.test`)
      service: noop@internal
      tls:
        options: strict
    mtls:
      rule: Host(`mtls.test`)
      service: noop@internal
      tls:
        options: mtls
    missing:
      rule: Host(`missing.test`)
      service: noop@internal
      tls:
        options: nope
tls:
  options:
    default:
      minVersion: VersionTLS12
      cipherSuites:
        - TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
        - TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA
    modern:
      minVersion: VersionTLS13
    strict:
      sniStrict: true
    mtls:
      clientAuth:
        caFiles: [CA_FILE]
        clientAuthType: RequireAndVerifyClientCert
  stores:
    default:
      defaultCertificate:
        certFile: DEFAULT_CRT
        keyFile: DEFAULT_KEY
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_options_are_chosen_by_sni_and_enforced() {
    require_docker();
    let dir = tempfile::tempdir().unwrap();
    let (ca, client_crt, client_key) = client_ca();
    let ca_file = write(dir.path(), "ca.pem", &ca);
    let client_crt = write(dir.path(), "client.crt", &client_crt);
    let client_key = write(dir.path(), "client.key", &client_key);
    let (dc, dk) = server_cert(&["default.test"]);
    let dynamic = dir.path().join("dynamic");
    std::fs::create_dir(&dynamic).unwrap();
    let text = DYNAMIC
        .replace("CA_FILE", &ca_file)
        .replace("DEFAULT_CRT", &write(dir.path(), "default.crt", &dc))
        .replace("DEFAULT_KEY", &write(dir.path(), "default.key", &dk));
    write(&dynamic, "tls.yml", &text);
    let guard = router_guard().start().await;
    let router = Router::builder()
        .flags(&[
            "--entrypoints.https.address=127.0.0.1:0",
            &format!("--providers.file.directory={}", dynamic.display()),
        ])
        .start(&guard)
        .await;
    let addr = router.addr("https");
    router
        .wait_live("the file's routers", |l| {
            l.table.routes.iter().any(|r| r.name == "modern@file")
        })
        .await;

    // minVersion TLS 1.3 for modern.test only.
    let (ok, text) = s_client(addr, "modern.test", &["-tls1_2"]);
    assert!(!ok, "TLS 1.2 to modern.test was accepted:\n{text}");
    let (ok, text) = s_client(addr, "modern.test", &["-tls1_3"]);
    assert!(ok, "TLS 1.3 to modern.test failed:\n{text}");
    let r = curl(addr, "modern.test", None, &[]);
    assert_eq!(status(&r), Some(200), "{r:?}");

    // The default options: TLS 1.2 with a listed suite only.
    let (ok, text) = s_client(
        addr,
        "plain.test",
        &["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"],
    );
    assert!(ok, "a listed suite was refused:\n{text}");
    let (ok, text) = s_client(
        addr,
        "plain.test",
        &["-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384"],
    );
    assert!(
        !ok,
        "a suite the default options leave out was accepted:\n{text}"
    );

    // No certificate for plain.test: the default store's certificate, not a self-signed one.
    let (ok, text) = s_client(addr, "plain.test", &["-showcerts"]);
    assert!(ok, "{text}");
    assert_eq!(leaf_names(&text), "DNSName(default.test)", "{text}");

    // sniStrict: nocert.test has no certificate of its own, so no handshake at all.
    let (ok, text) = s_client(addr, "nocert.test", &[]);
    assert!(
        !ok,
        "a strict-SNI host without a certificate completed a handshake:\n{text}"
    );

    // clientAuth: refused without a certificate, served with one from the CA.
    let r = curl(addr, "mtls.test", None, &[]);
    assert_eq!(status(&r), None, "no client certificate, yet: {r:?}");
    let r = curl(
        addr,
        "mtls.test",
        None,
        &["--cert", &client_crt, "--key", &client_key],
    );
    assert_eq!(status(&r), Some(200), "{r:?}");

    // Domain fronting past stricter options: SNI plain.test (default options), Host of a
    // router that needs mtls or modern -> 421, not the router.
    for host in ["mtls.test", "modern.test"] {
        let r = curl(addr, "plain.test", Some(host), &[]);
        assert_eq!(status(&r), Some(421), "{r:?}");
    }

    // Options that do not exist disable their router.
    let r = curl(addr, "missing.test", None, &[]);
    assert_eq!(status(&r), Some(404), "{r:?}");
    let live = router.shared().live.load();
    let info = &live.table.api().routers["missing@file"];
    assert_eq!(info.status, "disabled");
    assert!(
        info.errors.iter().any(|e| e.contains("\"nope@file\"")),
        "{:?}",
        info.errors
    );
}

/// `passTLSClientCert` behind mutual TLS: the backend (Debian's nginx, echoing the headers)
/// gets the client's certificate (its DER in base64) and the chosen fields, query-escaped, as
/// Traefik sends them; on a router without client certificates nothing is set, and a client's
/// own `X-Forwarded-Tls-Client-Cert` never reaches the backend. `RequireAnyClientCert` and
/// `RequestClientCert` take a certificate no CA knows (and pass it on); the first refuses a
/// client without one, the second serves it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pass_tls_client_cert_sends_the_certificate_and_its_fields() {
    require_docker();
    let echo = e2e::make::free_port();
    let _nginx = e2e::nginx::Nginx::start(
        &format!(
            r#"
  server {{
    listen 127.0.0.1:{echo};
    location / {{ return 200 "cert=$http_x_forwarded_tls_client_cert\ninfo=$http_x_forwarded_tls_client_cert_info\n"; }}
  }}
"#
        ),
        &[echo],
    );
    let dir = tempfile::tempdir().unwrap();
    let (ca, client_pem, client_key) = client_ca();
    let ca_file = write(dir.path(), "ca.pem", &ca);
    let client_crt = write(dir.path(), "client.crt", &client_pem);
    let client_key = write(dir.path(), "client.key", &client_key);
    let dynamic = dir.path().join("dynamic");
    std::fs::create_dir(&dynamic).unwrap();
    write(
        &dynamic,
        "pass.yml",
        &format!(
            r#"http:
  routers:
    mtls:
      rule: Host(`mtls.test`)
      service: echo
      middlewares: [pass]
      tls:
        options: mtls
    open:
      rule: Host(`open.test`)
      service: echo
      middlewares: [pass]
      tls: {{}}
    anycert:
      rule: Host(`anycert.test`)
      service: echo
      middlewares: [pass]
      tls:
        options: anycert
    askcert:
      rule: Host(`askcert.test`)
      service: echo
      middlewares: [pass]
      tls:
        options: askcert
  middlewares:
    pass:
      passTLSClientCert:
        pem: true
        info:
          sans: true
          subject:
            commonName: true
          issuer:
            commonName: true
  services:
    echo:
      loadBalancer:
        servers: [{{url: "http://127.0.0.1:{echo}"}}]
tls:
  options:
    mtls:
      clientAuth:
        caFiles: [{ca_file}]
        clientAuthType: RequireAndVerifyClientCert
    anycert:
      clientAuth:
        clientAuthType: RequireAnyClientCert
    askcert:
      clientAuth:
        clientAuthType: RequestClientCert
"#
        ),
    );
    let guard = router_guard().start().await;
    let router = Router::builder()
        .flags(&[
            "--entrypoints.https.address=127.0.0.1:0",
            &format!("--providers.file.directory={}", dynamic.display()),
        ])
        .start(&guard)
        .await;
    let addr = router.addr("https");
    router
        .wait_routes(&["mtls@file", "open@file", "anycert@file", "askcert@file"])
        .await;
    let der = rustls::pki_types::pem::PemObject::from_pem_slice(client_pem.as_bytes())
        .map(|d: rustls::pki_types::CertificateDer<'static>| d)
        .unwrap();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    let r = curl(
        addr,
        "mtls.test",
        None,
        &["--cert", &client_crt, "--key", &client_key],
    );
    let text = String::from_utf8_lossy(&r.stdout).into_owned();
    assert_eq!(status(&r), Some(200), "{r:?}");
    assert!(text.contains(&format!("cert={b64}\n")), "{text}");
    assert!(
        text.contains(
            "info=Subject%3D%22CN%3Dclient%22%3BIssuer%3D%22CN%3Drouter+test+client+CA%22%3BSAN%3D%22client.test%22\n"
        ),
        "{text}"
    );
    // No client certificate: nothing, and a forged header is dropped before the middleware.
    let r = curl(
        addr,
        "open.test",
        None,
        &["-H", "X-Forwarded-Tls-Client-Cert: forged"],
    );
    let text = String::from_utf8_lossy(&r.stdout).into_owned();
    assert_eq!(status(&r), Some(200), "{r:?}");
    assert!(text.contains("cert=\ninfo=\n"), "{text}");

    // Unverified client certificates: a self-signed one (no CA knows it) is taken and passed
    // on; without one, RequireAnyClientCert refuses the handshake and RequestClientCert serves.
    let stranger = rcgen::generate_simple_self_signed(vec!["stranger.test".to_string()]).unwrap();
    let s_crt = write(dir.path(), "stranger.crt", &stranger.cert.pem());
    let s_key = write(
        dir.path(),
        "stranger.key",
        &stranger.signing_key.serialize_pem(),
    );
    let s_b64 = base64::engine::general_purpose::STANDARD.encode(stranger.cert.der().as_ref());
    for host in ["anycert.test", "askcert.test"] {
        let r = curl(addr, host, None, &["--cert", &s_crt, "--key", &s_key]);
        let text = String::from_utf8_lossy(&r.stdout).into_owned();
        assert_eq!(status(&r), Some(200), "{host}: {r:?}");
        assert!(text.contains(&format!("cert={s_b64}\n")), "{host}: {text}");
        assert!(
            text.contains("CN%3Drcgen+self+signed+cert"),
            "{host}: {text}"
        );
    }
    let r = curl(addr, "anycert.test", None, &[]);
    assert_eq!(status(&r), None, "no certificate, yet: {r:?}");
    let r = curl(addr, "askcert.test", None, &[]);
    assert_eq!(status(&r), Some(200), "{r:?}");
}
