//! Debian's `pebble` ACME test server on loopback, for the router's ACME tests.
//!
//! Each [`Pebble`] is its own process with a config file written here: its HTTPS certificate
//! comes from a throwaway CA made with rcgen (the Debian package ships none; the CA's PEM is
//! [`Pebble::ca_file`], what `ROUTER_ACME_CA_FILE` names), and its validation authority asks
//! a tiny DNS responder in this process, which answers every `A` query with 127.0.0.1 and
//! every other query with no record, so any test host name validates against the router on
//! loopback (`httpPort` and `tlsPort` are the router's web and websecure ports). Validation is
//! real: `PEBBLE_VA_ALWAYS_VALID` is not set. `PEBBLE_VA_NOSLEEP=1`,
//! `PEBBLE_WFE_NONCEREJECT=0` and `PEBBLE_AUTHZREUSE=0` make it fast and deterministic.
//!
//! Nothing skips: without the binary, [`require_pebble`] panics with how to install it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// Where Debian installs pebble.
pub const PEBBLE: &str = "/usr/bin/pebble";

/// How long a test waits for pebble to listen or for a certificate to be issued.
pub const ACME_BOUND: Duration = Duration::from_secs(120);

/// Panics unless pebble is installed.
pub fn require_pebble() {
    assert!(
        Path::new(PEBBLE).is_file(),
        "{PEBBLE} is missing: the ACME tests need Debian's ACME test server (`apt-get install pebble`; .ci/run installs it)"
    );
}

/// A free loopback TCP address (bound then released: for a server that binds it itself).
pub fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local address")
}

/// Settings for [`Pebble::start`].
#[derive(Debug, Clone)]
pub struct PebbleBuilder {
    http_port: u16,
    tls_port: u16,
    validity: Option<u64>,
    dns_server: Option<SocketAddr>,
}

impl PebbleBuilder {
    /// The port HTTP-01 validation connects to (the router's web entry point).
    pub fn http_port(mut self, port: u16) -> Self {
        self.http_port = port;
        self
    }

    /// The port TLS-ALPN-01 validation connects to (the router's websecure entry point).
    pub fn tls_port(mut self, port: u16) -> Self {
        self.tls_port = port;
        self
    }

    /// The DNS server validation asks (a [`ChallTestSrv`], for DNS-01), instead of the
    /// in-process responder.
    pub fn dns_server(mut self, addr: SocketAddr) -> Self {
        self.dns_server = Some(addr);
        self
    }

    /// `certificateValidityPeriod`: lifetime of issued certificates, in seconds.
    pub fn validity_secs(mut self, secs: u64) -> Self {
        self.validity = Some(secs);
        self
    }

    /// Writes the config, starts the DNS responder and pebble, and waits until pebble listens.
    pub async fn start(self) -> Pebble {
        require_pebble();
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (ca_pem, cert_pem, key_pem) = test_pki();
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca_pem).expect("write ca.pem");
        std::fs::write(dir.path().join("cert.pem"), cert_pem).expect("write cert.pem");
        std::fs::write(dir.path().join("key.pem"), key_pem).expect("write key.pem");

        let dns = UdpSocket::bind("127.0.0.1:0").await.expect("bind DNS");
        let dns_addr = dns.local_addr().expect("local address");
        let dns_task = tokio::spawn(serve_dns(dns));

        // Ports picked free may be taken by another test before pebble binds them: pebble
        // then exits at once saying so, and is started again on other ports.
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (listen, management) = (free_addr(), free_addr());
            let mut pebble = serde_json::json!({
                "listenAddress": listen.to_string(),
                "managementListenAddress": management.to_string(),
                "certificate": dir.path().join("cert.pem"),
                "privateKey": dir.path().join("key.pem"),
                "httpPort": self.http_port,
                "tlsPort": self.tls_port,
                "ocspResponderURL": "",
                "externalAccountBindingRequired": false,
            });
            if let Some(v) = self.validity {
                pebble["certificateValidityPeriod"] = v.into();
            }
            let config = dir.path().join("pebble-config.json");
            std::fs::write(&config, serde_json::json!({ "pebble": pebble }).to_string())
                .expect("write the pebble config");
            let log = dir.path().join("pebble.log");
            let out = std::fs::File::create(&log).expect("create the pebble log");
            let err = out.try_clone().expect("clone the log file");
            let mut child = tokio::process::Command::new(PEBBLE)
                .arg("-config")
                .arg(&config)
                .arg("-dnsserver")
                .arg(self.dns_server.unwrap_or(dns_addr).to_string())
                .env("PEBBLE_VA_NOSLEEP", "1")
                .env("PEBBLE_WFE_NONCEREJECT", "0")
                .env("PEBBLE_AUTHZREUSE", "0")
                .stdin(Stdio::null())
                .stdout(Stdio::from(out))
                .stderr(Stdio::from(err))
                .kill_on_drop(true)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run {PEBBLE}: {e}"));
            let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
            let deadline = tokio::time::Instant::now() + ACME_BOUND;
            let exited = loop {
                if let Ok(Some(status)) = child.try_wait() {
                    break Some(status);
                }
                let up = TcpStream::connect(listen).await.is_ok()
                    && TcpStream::connect(management).await.is_ok();
                if up {
                    break None;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "pebble does not listen on {listen} after {ACME_BOUND:?}:\n{}",
                    read_log()
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            };
            match exited {
                None => {
                    return Pebble {
                        dir,
                        child,
                        ca_file,
                        listen,
                        management,
                        log,
                        dns_task,
                    }
                }
                Some(_) if attempt < 3 && read_log().contains("address already in use") => {}
                Some(status) => panic!("pebble exited ({status}):\n{}", read_log()),
            }
        }
    }
}

/// A running pebble, killed when dropped.
#[derive(Debug)]
pub struct Pebble {
    dir: tempfile::TempDir,
    child: tokio::process::Child,
    ca_file: PathBuf,
    listen: SocketAddr,
    management: SocketAddr,
    log: PathBuf,
    dns_task: tokio::task::JoinHandle<()>,
}

impl Pebble {
    /// Validation on `http_port` and `tls_port` (set them), default certificate lifetime.
    pub fn builder() -> PebbleBuilder {
        PebbleBuilder {
            http_port: 5002,
            tls_port: 5001,
            validity: None,
            dns_server: None,
        }
    }

    /// The ACME directory URL.
    pub fn directory(&self) -> String {
        format!("https://{}/dir", self.listen)
    }

    /// The CA of pebble's own HTTPS certificate (for `ROUTER_ACME_CA_FILE`).
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    /// A scratch directory that lives as long as pebble (for the router's storage).
    pub fn scratch(&self) -> &Path {
        self.dir.path()
    }

    /// Everything pebble printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// How many certificates pebble issued (its `Issued certificate serial` lines).
    pub fn issued(&self) -> usize {
        self.log().matches("Issued certificate serial").count()
    }

    /// The root that issued certificates chain to (`GET /roots/0` on the management API).
    pub async fn root(&self) -> CertificateDer<'static> {
        let pem = https_get(self.management, "/roots/0", &self.ca_file).await;
        use rustls::pki_types::pem::PemObject;
        CertificateDer::from_pem_slice(pem.as_bytes())
            .unwrap_or_else(|e| panic!("pebble's /roots/0 is not a PEM certificate ({e}): {pem}"))
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        self.dns_task.abort();
        let _ = self.child.start_kill();
    }
}

/// Where Debian installs pebble's challenge test server.
pub const CHALLTESTSRV: &str = "/usr/bin/pebble-challtestsrv";

/// Debian's `pebble-challtestsrv`: a real DNS server on loopback (UDP and TCP) whose records a
/// management API sets (`/set-txt`, `/clear-txt`); `A` queries get 127.0.0.1 and `AAAA`
/// none, so every test name resolves to the router. Its HTTP challenge servers are off.
#[derive(Debug)]
pub struct ChallTestSrv {
    child: tokio::process::Child,
    dns: SocketAddr,
    management: SocketAddr,
    _dir: tempfile::TempDir,
    log: PathBuf,
}

impl ChallTestSrv {
    /// Starts it and waits until both its DNS server and its API answer (on other ports
    /// when another test took the ones picked first).
    pub async fn start() -> ChallTestSrv {
        assert!(
            Path::new(CHALLTESTSRV).is_file(),
            "{CHALLTESTSRV} is missing: the DNS-01 test needs Debian's pebble package (`apt-get install pebble`)"
        );
        for _ in 0..2 {
            if let Ok(s) = ChallTestSrv::start_once().await {
                return s;
            }
        }
        ChallTestSrv::start_once()
            .await
            .unwrap_or_else(|log| panic!("{CHALLTESTSRV} exited:\n{log}"))
    }

    /// One try: `Err` with its log when it exited because a port was taken.
    async fn start_once() -> Result<ChallTestSrv, String> {
        let (dns, management) = (free_addr(), free_addr());
        let dir = tempfile::tempdir().expect("a temporary directory");
        let log = dir.path().join("challtestsrv.log");
        let out = std::fs::File::create(&log).expect("create the log");
        let err = out.try_clone().expect("clone the log file");
        let child = tokio::process::Command::new(CHALLTESTSRV)
            .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
            .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
            .arg("-dns01")
            .arg(dns.to_string())
            .arg("-management")
            .arg(management.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {CHALLTESTSRV}: {e}"));
        let mut s = ChallTestSrv {
            child,
            dns,
            management,
            _dir: dir,
            log,
        };
        let deadline = tokio::time::Instant::now() + ACME_BOUND;
        while TcpStream::connect(management).await.is_err()
            || TcpStream::connect(dns).await.is_err()
        {
            if let Ok(Some(status)) = s.child.try_wait() {
                let log = s.log();
                if log.contains("address already in use") {
                    return Err(log);
                }
                panic!("{CHALLTESTSRV} exited ({status}):\n{log}");
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{CHALLTESTSRV} does not listen:\n{}",
                s.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(s)
    }

    /// Its DNS server.
    pub fn dns(&self) -> SocketAddr {
        self.dns
    }

    /// Its management API (`http://<this>/set-txt`).
    pub fn management(&self) -> SocketAddr {
        self.management
    }

    /// What it printed (every DNS query it answered).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// A test CA and a `localhost`/`127.0.0.1` certificate it signed: (CA PEM, cert PEM, key PEM).
fn test_pki() -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().expect("CA key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "e2e pebble HTTPS test CA");
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let ca = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = rcgen::Issuer::new(ca_params, &ca_key);
    let key = rcgen::KeyPair::generate().expect("server key");
    let params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("server params");
    let cert = params.signed_by(&key, &issuer).expect("server certificate");
    (ca.pem(), cert.pem(), key.serialize_pem())
}

/// Answers DNS queries: `A` -> 127.0.0.1, anything else -> no record (NOERROR).
async fn serve_dns(socket: UdpSocket) {
    let mut buf = [0u8; 1500];
    loop {
        let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        if let Some(answer) = dns_answer(&buf[..n]) {
            let _ = socket.send_to(&answer, peer).await;
        }
    }
}

fn dns_answer(q: &[u8]) -> Option<Vec<u8>> {
    let mut i = 12;
    loop {
        let len = usize::from(*q.get(i)?);
        i += 1;
        if len == 0 {
            break;
        }
        if len & 0xc0 != 0 {
            return None;
        }
        i += len;
    }
    let qtype = u16::from_be_bytes([*q.get(i)?, *q.get(i + 1)?]);
    let end = i + 4;
    let question = q.get(12..end)?;
    let is_a = qtype == 1;
    let mut r = Vec::with_capacity(end + 16);
    r.extend_from_slice(&q[..2]); // id
    r.push(0x84 | (q[2] & 0x01)); // QR, AA, RD as asked
    r.push(0x00); // NOERROR
    r.extend_from_slice(&[0, 1, 0, u8::from(is_a), 0, 0, 0, 0]);
    r.extend_from_slice(question);
    if is_a {
        // Name (pointer to the question), A, IN, TTL 0, 4 bytes: 127.0.0.1.
        r.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 127, 0, 0, 1]);
    }
    Some(r)
}

/// `GET path` over HTTPS to `addr` (SNI `localhost`) trusting only `ca_file`: the body.
async fn https_get(addr: SocketAddr, path: &str, ca_file: &Path) -> String {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(ca_file).expect("read the test CA"))
        .expect("add the test CA");
    let tcp = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    let mut tls = tls_connect(tcp, roots, "localhost", &[])
        .await
        .unwrap_or_else(|e| panic!("TLS to {addr}: {e}"));
    tls.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .expect("send the request");
    let mut raw = Vec::new();
    let _ = tls.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("GET {path} on {addr}: no HTTP response: {text:?}"));
    assert!(
        head.starts_with("HTTP/1.1 200"),
        "GET {path} on {addr}: {head}"
    );
    body.to_owned()
}

/// A TLS client handshake with `roots` and SNI `name`, offering ALPN `alpn`.
pub async fn tls_connect(
    tcp: TcpStream,
    roots: rustls::RootCertStore,
    name: &str,
    alpn: &[&[u8]],
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let server_name = ServerName::try_from(name.to_owned()).map_err(std::io::Error::other)?;
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(server_name, tcp)
        .await
}
