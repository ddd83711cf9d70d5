//! Servers that speak HTTPS (`https://` URLs, `serversTransports` from a dynamic file, the
//! static default), end to end: routers from a real container's labels (through
//! socket-guard) using services of the file provider whose servers are Debian's nginx over
//! TLS: one with a certificate from the test's own CA (verified with `rootCAs` and
//! `serverName`), one self-signed (reached only with `insecureSkipVerify`: without it, 502 and
//! nothing reaches it), one that wants a client certificate (`certificates`); and
//! `passHostHeader=false`. Both client protocols: HTTP/1.1 on the raw path and HTTP/2 (curl
//! over TLS) through the pooled client.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use e2e::docker::{require_docker, Cleanup};
use e2e::make::free_port;
use e2e::nginx::Nginx;
use e2e::router::{router_guard, run_whoami, unique, Labels, Router};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// A CA, a server certificate for `backend.internal` it signs, and a client certificate it
/// signs: PEMs (ca, server cert, server key, client cert, client key).
fn pki() -> [String; 5] {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "router test backend CA");
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    let sp = CertificateParams::new(vec!["backend.internal".to_string()]).unwrap();
    let skey = KeyPair::generate().unwrap();
    let server = sp.signed_by(&skey, &ca).unwrap();
    let mut cp = CertificateParams::new(vec!["router.client".to_string()]).unwrap();
    cp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let ckey = KeyPair::generate().unwrap();
    let client = cp.signed_by(&ckey, &ca).unwrap();
    [
        ca.pem(),
        server.pem(),
        skey.serialize_pem(),
        client.pem(),
        ckey.serialize_pem(),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_servers_with_transports() {
    require_docker();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let [ca, crt, key, client_crt, client_key] = pki();
    let self_signed =
        rcgen::generate_simple_self_signed(vec!["self.internal".to_string()]).unwrap();
    let (ca, crt, key) = (
        write(d, "ca.pem", &ca),
        write(d, "srv.crt", &crt),
        write(d, "srv.key", &key),
    );
    let (client_crt, client_key) = (
        write(d, "cl.crt", &client_crt),
        write(d, "cl.key", &client_key),
    );
    let (ss_crt, ss_key) = (
        write(d, "ss.crt", &self_signed.cert.pem()),
        write(d, "ss.key", &self_signed.signing_key.serialize_pem()),
    );
    let (verified, selfsigned, mutual) = (free_port(), free_port(), free_port());
    let nginx = Nginx::start(
        &format!(
            r#"
  log_format seen '$server_port $ssl_protocol $http_host $request_uri';
  access_log @DIR@/access.log seen;
  server {{
    listen 127.0.0.1:{verified} ssl;
    ssl_certificate {crt};
    ssl_certificate_key {key};
    location / {{ return 200 "verified host=$http_host sni=$ssl_server_name uri=$request_uri\n"; }}
  }}
  server {{
    listen 127.0.0.1:{selfsigned} ssl;
    ssl_certificate {ss_crt};
    ssl_certificate_key {ss_key};
    location / {{ return 200 "self-signed host=$http_host\n"; }}
  }}
  server {{
    listen 127.0.0.1:{mutual} ssl;
    ssl_certificate {crt};
    ssl_certificate_key {key};
    ssl_client_certificate {ca};
    ssl_verify_client on;
    location / {{ return 200 "mutual client=$ssl_client_s_dn\n"; }}
  }}
"#
        ),
        &[verified, selfsigned, mutual],
    );
    let file = write(
        d,
        "dynamic.yml",
        &format!(
            r#"http:
  serversTransports:
    ca:
      serverName: backend.internal
      rootCAs: ["{ca}"]
    insecure:
      insecureSkipVerify: true
    sanok:
      insecureSkipVerify: true
      rootCAs: ["{ca}"]
      peerCertSANs: [{{type: DNSName, value: backend.internal}}]
    sanwrong:
      serverName: backend.internal
      rootCAs: ["{ca}"]
      peerCertSANs: [{{type: DNSName, value: other.internal}}]
    sanunknownca:
      insecureSkipVerify: true
      peerCertSANs: [{{type: DNSName, value: self.internal}}]
    mutual:
      serverName: backend.internal
      rootCAs: ["{ca}"]
      certificates:
        - certFile: "{client_crt}"
          keyFile: "{client_key}"
  services:
    verified:
      loadBalancer:
        serversTransport: ca
        passHostHeader: false
        servers: [{{url: "https://127.0.0.1:{verified}"}}]
    insecure:
      loadBalancer:
        serversTransport: insecure
        servers: [{{url: "https://127.0.0.1:{selfsigned}"}}]
    unverified:
      loadBalancer:
        servers: [{{url: "https://127.0.0.1:{selfsigned}"}}]
    mutual:
      loadBalancer:
        serversTransport: mutual
        servers: [{{url: "https://127.0.0.1:{mutual}"}}]
    nocert:
      loadBalancer:
        serversTransport: ca
        servers: [{{url: "https://127.0.0.1:{mutual}"}}]
    sanok:
      loadBalancer:
        serversTransport: sanok
        servers: [{{url: "https://127.0.0.1:{verified}"}}]
    sanwrong:
      loadBalancer:
        serversTransport: sanwrong
        servers: [{{url: "https://127.0.0.1:{verified}"}}]
    sanunknownca:
      loadBalancer:
        serversTransport: sanunknownca
        servers: [{{url: "https://127.0.0.1:{selfsigned}"}}]
"#
        ),
    );

    let c = Cleanup::new("rt-https");
    let net = c.network("net");
    let guard = router_guard().start().await;
    let router = Router::builder()
        .both_entry_points()
        .with_file(&file)
        .start(&guard)
        .await;
    let names = [
        "verified",
        "insecure",
        "unverified",
        "mutual",
        "nocert",
        "sanok",
        "sanwrong",
        "sanunknownca",
    ];
    let routers = names.map(unique);
    let mut labels = Labels::enabled();
    for (r, svc) in routers.iter().zip(names) {
        labels = labels
            .router(r, "rule", &format!("Host(`{r}.test`)"))
            .router(r, "service", &format!("{svc}@file"));
    }
    run_whoami(&c, "w", &net, &labels, &[]).await;
    let [verified_r, insecure_r, unverified_r, mutual_r, nocert_r, sanok_r, sanwrong_r, sanunknown_r] =
        routers.map(|r| format!("{r}.test"));

    // rootCAs and serverName: verified; passHostHeader=false sends the server's host.
    let r = router.wait_status(&verified_r, "/a?b=1", 200).await;
    assert_eq!(
        r.text(),
        format!("verified host=127.0.0.1:{verified} sni=backend.internal uri=/a?b=1\n")
    );
    // insecureSkipVerify reaches a self-signed server; the default transport (Mozilla's
    // roots) refuses it, and nothing reaches it.
    let r = router.wait_status(&insecure_r, "/", 200).await;
    assert_eq!(r.text(), format!("self-signed host={insecure_r}\n"));
    let before = nginx.settled("access.log").await.len();
    let r = router.request(&unverified_r, "/", &[]).await;
    assert_eq!(r.status, 502, "{}", r.text());
    assert_eq!(
        nginx.log_lines("access.log").len(),
        before,
        "an unverified server was sent the request"
    );
    // A client certificate for a server that wants one; without: nginx's own 400.
    let r = router.wait_status(&mutual_r, "/", 200).await;
    assert!(r.text().starts_with("mutual client=CN="), "{}", r.text());
    let r = router.request(&nocert_r, "/", &[]).await;
    assert_eq!(r.status, 400, "{}", r.text());

    // peerCertSANs: the chain verified against rootCAs and the listed name found, even with
    // insecureSkipVerify (asked for 127.0.0.1); a name the certificate lacks, or a chain no CA
    // of the transport signed, is refused (502) and nothing reaches the server.
    let r = router.wait_status(&sanok_r, "/san", 200).await;
    assert!(r.text().starts_with("verified host="), "{}", r.text());
    let before = nginx.settled("access.log").await.len();
    for host in [&sanwrong_r, &sanunknown_r] {
        let r = router.wait_status(host, "/", 502).await;
        assert_eq!(r.status, 502, "{host}");
    }
    assert_eq!(nginx.log_lines("access.log").len(), before);

    // HTTP/2 from the client: the pooled client's path, the same transports.
    let addr = router.websecure_addr();
    for (host, want) in [
        (&verified_r, "verified host="),
        (&insecure_r, "self-signed host="),
    ] {
        let out = std::process::Command::new("curl")
            .args(["-sk", "--http2", "--max-time", "10", "--resolve"])
            .arg(format!("{host}:{}:127.0.0.1", addr.port()))
            .arg(format!("https://{host}:{}/h2", addr.port()))
            .output()
            .unwrap();
        let body = String::from_utf8_lossy(&out.stdout);
        assert!(body.starts_with(want), "{host}: {body}");
    }
    let seen = nginx.log_lines("access.log");
    let h2: Vec<&String> = seen.iter().filter(|l| l.ends_with(" /h2")).collect();
    assert_eq!(h2.len(), 2, "{seen:#?}");
    assert!(h2.iter().all(|l| l.contains(" TLSv1.")), "{seen:#?}");
}

/// A servers transport's `minVersion`, `maxVersion` and `cipherSuites`: against nginx servers
/// (one that speaks only TLS 1.2, one that speaks 1.2 and 1.3), `maxVersion: VersionTLS12`
/// with one suite is what the server negotiates (its log shows the version and the suite);
/// `minVersion: VersionTLS13` cannot reach the 1.2-only server (502) and nothing reaches it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_versions_and_suites() {
    require_docker();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ss = rcgen::generate_simple_self_signed(vec!["self.internal".to_string()]).unwrap();
    let (crt, key) = (
        write(d, "ss.crt", &ss.cert.pem()),
        write(d, "ss.key", &ss.signing_key.serialize_pem()),
    );
    let (only12, both) = (free_port(), free_port());
    let nginx = Nginx::start(
        &format!(
            r#"
  log_format seen '$server_port $ssl_protocol $ssl_cipher $request_uri';
  access_log @DIR@/access.log seen;
  server {{
    listen 127.0.0.1:{only12} ssl;
    ssl_protocols TLSv1.2;
    ssl_certificate {crt};
    ssl_certificate_key {key};
    location / {{ return 200 "only12\n"; }}
  }}
  server {{
    listen 127.0.0.1:{both} ssl;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate {crt};
    ssl_certificate_key {key};
    location / {{ return 200 "both\n"; }}
  }}
"#
        ),
        &[only12, both],
    );
    let file = write(
        d,
        "dynamic.yml",
        &format!(
            r#"http:
  serversTransports:
    tls12:
      insecureSkipVerify: true
      maxVersion: VersionTLS12
      cipherSuites: [TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384]
    tls13:
      insecureSkipVerify: true
      minVersion: VersionTLS13
  services:
    pinned:
      loadBalancer:
        serversTransport: tls12
        servers: [{{url: "https://127.0.0.1:{both}"}}]
    modern:
      loadBalancer:
        serversTransport: tls13
        servers: [{{url: "https://127.0.0.1:{only12}"}}]
    modernok:
      loadBalancer:
        serversTransport: tls13
        servers: [{{url: "https://127.0.0.1:{both}"}}]
"#
        ),
    );
    let c = Cleanup::new("rt-tlsver");
    let net = c.network("net");
    let guard = router_guard().start().await;
    let router = Router::builder().with_file(&file).start(&guard).await;
    let names = ["pinned", "modern", "modernok"];
    let routers = names.map(unique);
    let mut labels = Labels::enabled();
    for (r, svc) in routers.iter().zip(names) {
        labels = labels
            .router(r, "rule", &format!("Host(`{r}.test`)"))
            .router(r, "service", &format!("{svc}@file"));
    }
    run_whoami(&c, "w", &net, &labels, &[]).await;
    let [pinned, modern, modernok] = routers.map(|r| format!("{r}.test"));
    let r = router.wait_status(&pinned, "/pinned", 200).await;
    assert_eq!(r.text(), "both\n");
    let r = router.wait_status(&modernok, "/modernok", 200).await;
    assert_eq!(r.text(), "both\n");
    // nginx logs a request after answering it: wait for both lines before counting.
    let before = nginx
        .wait_log("access.log", |l| {
            l.iter().any(|l| l.ends_with(" /pinned")) && l.iter().any(|l| l.ends_with(" /modernok"))
        })
        .await
        .len();
    let r = router.request(&modern, "/modern", &[]).await;
    assert_eq!(r.status, 502, "{}", r.text());
    let seen = nginx.log_lines("access.log");
    assert_eq!(seen.len(), before, "{seen:#?}");
    assert!(
        seen.contains(&format!(
            "{both} TLSv1.2 ECDHE-ECDSA-AES256-GCM-SHA384 /pinned"
        )),
        "{seen:#?}"
    );
    assert!(
        seen.iter()
            .any(|l| l.starts_with(&format!("{both} TLSv1.3 ")) && l.ends_with(" /modernok")),
        "{seen:#?}"
    );
}
