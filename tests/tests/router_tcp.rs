//! TCP routers, end to end: whoami containers with their TCP echo (`WHOAMI_TCP_LISTEN`: a
//! greeting line `whoami <hostname>`, then every byte back) seen through socket-guard, nginx
//! terminating TLS itself behind a passthrough router (file provider), real TLS clients
//! (rustls) and raw TCP in front.
//!
//! Proves that: on one TLS port, ``HostSNI`` picks between two TCP backends (TLS terminated
//! by the router) while an HTTPS router on the same port keeps its host; a passthrough router
//! relays the handshake untouched (the client sees the backend's own certificate);
//! ``HostSNI(`*`)`` on a plain entry point routes without waiting for the client to speak (a
//! server-first protocol gets its greeting); a service's `proxyProtocol` sends a PROXY v1 or
//! v2 header naming the client first; an entry point's `proxyProtocol.trustedIPs` lets a
//! trusted client's header decide `ClientIP` and an untrusted one's is not read;
//! `ipAllowList` and `inFlightConn` close what they refuse; a paused backend takes no new
//! connection while its open one is never cut; UDP datagrams from two clients go to two
//! servers, each client's session keeping to its own; TLS to a TCP server is verified as its
//! servers transport says (a wrong name closes); Postgres' STARTTLS (`SSLRequest`) is answered
//! and routed by the ClientHello that follows, to a passthrough server asked in turn or
//! terminated here (the server is a protocol stand-in in the test, not a real Postgres).
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use e2e::docker::{real_docker_async_ok, require_docker, Cleanup};
use e2e::nginx::Nginx;
use e2e::router::{router_guard, run_whoami, unique, wait_serving, Labels, Router, BOUND};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// The port of whoami's TCP echo in its container.
const ECHO_PORT: &str = "9000";
/// `docker run` arguments that turn whoami's TCP echo on.
const ECHO_ARGS: &[&str] = &["-e", "WHOAMI_TCP_LISTEN=0.0.0.0:9000"];

/// A TLS client that accepts any certificate, with SNI `sni`.
async fn tls_connect(
    addr: SocketAddr,
    sni: &str,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(router::client_tls::AnyCertificate::new()))
        .with_no_client_auth();
    let name = ServerName::try_from(sni.to_owned()).map_err(std::io::Error::other)?;
    let tcp = TcpStream::connect(addr).await?;
    tokio::time::timeout(
        Duration::from_secs(5),
        tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp),
    )
    .await
    .map_err(|_| std::io::Error::other("handshake timed out"))?
}

/// Reads one line (without its newline); `None` on EOF, error or after 5 s.
async fn line<S: AsyncRead + Unpin>(s: &mut S) -> Option<String> {
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match s.read(&mut b).await {
                Ok(1) if b[0] == b'\n' => return true,
                Ok(1) => out.push(b[0]),
                _ => return false,
            }
        }
    });
    matches!(read.await, Ok(true)).then(|| String::from_utf8_lossy(&out).into_owned())
}

/// The greeting's hostname, then an echo of one line checked.
async fn greeted_and_echoed<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S) -> Option<String> {
    let greeting = line(s).await?;
    let host = greeting.strip_prefix("whoami ")?.to_owned();
    s.write_all(b"ping\n").await.ok()?;
    (line(s).await? == "ping").then_some(host)
}

/// One more line echoed on an open connection.
async fn greeted_and_echoed_again<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S) -> bool {
    s.write_all(b"again\n").await.is_ok() && line(s).await.as_deref() == Some("again")
}

/// Connects over TLS with SNI `sni` until the backend greets and echoes; its hostname.
async fn wait_tls_echo(addr: SocketAddr, sni: &str) -> String {
    let deadline = tokio::time::Instant::now() + BOUND;
    loop {
        if let Ok(mut s) = tls_connect(addr, sni).await {
            if let Some(h) = greeted_and_echoed(&mut s).await {
                return h;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no TCP echo over TLS with SNI {sni} at {addr}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Connects in plain TCP until the backend greets and echoes; its hostname.
async fn wait_plain_echo(addr: SocketAddr) -> String {
    let deadline = tokio::time::Instant::now() + BOUND;
    loop {
        if let Ok(mut s) = TcpStream::connect(addr).await {
            if let Some(h) = greeted_and_echoed(&mut s).await {
                return h;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no TCP echo at {addr}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Connects in plain TCP until the backend greets (a backend sent a PROXY header echoes it
/// before anything else).
async fn wait_greeting(addr: SocketAddr) {
    let deadline = tokio::time::Instant::now() + BOUND;
    loop {
        if let Ok(mut s) = TcpStream::connect(addr).await {
            if line(&mut s).await.is_some_and(|l| l.starts_with("whoami ")) {
                return;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no greeting at {addr}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until whoami's TCP echo in `w` greets on its address on `network` (a container in
/// the table may still be starting its process).
async fn wait_echo_ready(w: &e2e::router::Whoami, network: &str) {
    let addr: SocketAddr = format!("{}:{ECHO_PORT}", e2e::router::ip_on(&w.name, network))
        .parse()
        .unwrap();
    wait_greeting(addr).await;
}

/// A router whose file provider reads `yaml` (written in `dir`), with entry points `eps` on
/// free local ports, and websecure beside web when `websecure`.
async fn router_with_file(
    dir: &std::path::Path,
    yaml: &str,
    eps: &[&str],
    websecure: bool,
) -> (e2e::guard::Guard, Router) {
    let file = dir.join("dynamic.yml");
    std::fs::write(&file, yaml).unwrap();
    let guard = router_guard().start().await;
    let flags: Vec<String> = eps
        .iter()
        .map(|ep| format!("--entrypoints.{ep}.address=127.0.0.1:0"))
        .collect();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let mut builder = Router::builder().with_file(&file).flags(&flags);
    if websecure {
        builder = builder.both_entry_points();
    }
    let router = builder.start(&guard).await;
    (guard, router)
}

/// Labels of a TCP router `name` with `rule` on `entrypoint` to whoami's echo.
fn tcp_labels(name: &str, rule: &str, entrypoint: &str) -> Labels {
    Labels::enabled()
        .label(&format!("traefik.tcp.routers.{name}.rule"), rule)
        .label(
            &format!("traefik.tcp.routers.{name}.entrypoints"),
            entrypoint,
        )
        .label(&format!("traefik.tcp.routers.{name}.service"), name)
        .label(
            &format!("traefik.tcp.services.{name}.loadbalancer.server.port"),
            ECHO_PORT,
        )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_sni_picks_tcp_backends_beside_an_https_router_on_one_port() {
    require_docker();
    let c = Cleanup::new("rt-tcp-sni");
    let net = c.network("net");
    let guard = router_guard().start().await;
    let router = Router::builder().both_entry_points().start(&guard).await;
    let [a, b, web] = ["tcp-a", "tcp-b", "tcp-web"].map(unique);
    let label_a = tcp_labels(&a, &format!("HostSNI(`{a}.test`)"), "websecure")
        .label(&format!("traefik.tcp.routers.{a}.tls"), "true");
    let label_b = tcp_labels(&b, &format!("HostSNI(`{b}.test`)"), "websecure")
        .label(&format!("traefik.tcp.routers.{b}.tls"), "true");
    let label_web = Labels::enabled()
        .router(&web, "rule", &format!("Host(`{web}.test`)"))
        .router(&web, "entrypoints", "websecure")
        .router(&web, "tls", "true");
    let wa = run_whoami(&c, "a", &net, &label_a, ECHO_ARGS).await;
    let wb = run_whoami(&c, "b", &net, &label_b, ECHO_ARGS).await;
    let ww = run_whoami(&c, "web", &net, &label_web, &[]).await;
    let addr = router.websecure_addr();

    assert_eq!(wait_tls_echo(addr, &format!("{a}.test")).await, wa.hostname);
    assert_eq!(wait_tls_echo(addr, &format!("{b}.test")).await, wb.hostname);
    // The HTTPS router on the same port keeps its host (once its route is in service).
    wait_serving(&ww, &net).await;
    let route = format!("{web}@docker");
    router
        .wait_live("the HTTPS route", |l| {
            l.table.routes.iter().any(|r| r.name == route)
        })
        .await;
    let mut s = tls_connect(addr, &format!("{web}.test")).await.unwrap();
    s.write_all(
        format!("GET / HTTP/1.1\r\nHost: {web}.test\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut body = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut body)).await;
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    assert!(
        body.contains(&format!("Hostname: {}", ww.hostname)),
        "{body}"
    );
    // A name no router has: HTTPS's, which has no route for it (404), not a TCP backend's.
    let mut s = tls_connect(addr, "nobody.test").await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: nobody.test\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut body = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut body)).await;
    assert!(body.starts_with("HTTP/1.1 404"), "{body}");
}

/// A certificate for `names` and its key, as PEM files in `dir`.
fn cert_files(dir: &std::path::Path, names: &[&str]) -> (CertificateDer<'static>, String, String) {
    let c =
        rcgen::generate_simple_self_signed(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
    let (crt, key) = (dir.join("backend.crt"), dir.join("backend.key"));
    std::fs::write(&crt, c.cert.pem()).unwrap();
    std::fs::write(&key, c.signing_key.serialize_pem()).unwrap();
    (
        CertificateDer::from(c.cert.der().to_vec()),
        crt.display().to_string(),
        key.display().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passthrough_relays_the_handshake_to_a_backend_that_terminates_tls() {
    require_docker();
    let dir = tempfile::tempdir().unwrap();
    let (der, crt, key) = cert_files(dir.path(), &["pt.test"]);
    let port = e2e::make::free_port();
    let nginx = Nginx::start(
        &format!("  server {{ listen 127.0.0.1:{port} ssl; ssl_certificate {crt}; ssl_certificate_key {key};\n    location / {{ return 200 \"nginx behind passthrough\\n\"; }} }}\n"),
        &[port],
    );
    let yaml = format!("tcp:\n  routers:\n    pt:\n      rule: HostSNI(`pt.test`)\n      entryPoints: [websecure]\n      service: nginx\n      tls:\n        passthrough: true\n  services:\n    nginx:\n      loadBalancer:\n        servers:\n          - address: 127.0.0.1:{port}\n");
    let (_guard, router) = router_with_file(dir.path(), &yaml, &[], true).await;
    let addr = router.websecure_addr();
    router
        .wait_live("the passthrough router", |l| {
            l.table.tcp.entry("websecure").is_some()
        })
        .await;
    let mut s = tls_connect(addr, "pt.test").await.unwrap();
    let served = s.get_ref().1.peer_certificates().unwrap()[0].clone();
    assert_eq!(
        served, der,
        "the client did not see the backend's certificate"
    );
    s.write_all(b"GET / HTTP/1.1\r\nHost: pt.test\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut body = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut body)).await;
    assert!(body.contains("nginx behind passthrough"), "{body}");
    drop(nginx);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catch_all_on_a_plain_entry_point_proxy_protocol_and_middlewares() {
    require_docker();
    let c = Cleanup::new("rt-tcp-plain");
    let net = c.network("net");
    let guard = router_guard().start().await;
    let router = Router::builder()
        .flags(&[
            "--providers.docker=true",
            "--entrypoints.raw.address=127.0.0.1:0",
            "--entrypoints.pp1.address=127.0.0.1:0",
            "--entrypoints.pp2.address=127.0.0.1:0",
            "--entrypoints.limited.address=127.0.0.1:0",
        ])
        .start(&guard)
        .await;
    let [raw, pp1, pp2, limited] = ["tcp-raw", "tcp-pp1", "tcp-pp2", "tcp-lim"].map(unique);
    let labels = tcp_labels(&raw, "HostSNI(`*`)", "raw");
    let w = run_whoami(&c, "raw", &net, &labels, ECHO_ARGS).await;
    for (name, version) in [(&pp1, "1"), (&pp2, "2")] {
        let ep = if version == "1" { "pp1" } else { "pp2" };
        let labels = tcp_labels(name, "HostSNI(`*`)", ep).label(
            &format!("traefik.tcp.services.{name}.loadbalancer.proxyprotocol.version"),
            version,
        );
        run_whoami(&c, ep, &net, &labels, ECHO_ARGS).await;
    }
    let labels = tcp_labels(&limited, "HostSNI(`*`)", "limited")
        .label(
            &format!("traefik.tcp.routers.{limited}.middlewares"),
            &format!("{limited}-one"),
        )
        .label(
            &format!("traefik.tcp.middlewares.{limited}-one.inflightconn.amount"),
            "1",
        );
    run_whoami(&c, "limited", &net, &labels, ECHO_ARGS).await;

    // Server first: the greeting comes without the client sending anything.
    let addr = router.addr("raw");
    assert_eq!(wait_plain_echo(addr).await, w.hostname);
    let mut s = TcpStream::connect(addr).await.unwrap();
    assert_eq!(line(&mut s).await, Some(format!("whoami {}", w.hostname)));

    // PROXY v1 then v2 to the backend: whoami echoes the header it got first.
    let addr = router.addr("pp1");
    wait_greeting(addr).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    let me = s.local_addr().unwrap();
    line(&mut s).await.unwrap();
    assert_eq!(
        line(&mut s).await,
        Some(format!(
            "PROXY TCP4 {} {} {} {}\r",
            me.ip(),
            addr.ip(),
            me.port(),
            addr.port()
        ))
    );
    let addr = router.addr("pp2");
    wait_greeting(addr).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    let me = s.local_addr().unwrap();
    line(&mut s).await.unwrap();
    let mut header = vec![0u8; 28];
    tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut header))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        router::proxy_protocol::parse(&header),
        router::proxy_protocol::Parsed::Header {
            len: 28,
            source: Some(me)
        }
    );

    // inFlightConn 1: a second connection from the same address is closed at once, and
    // served once the first is gone.
    let addr = router.addr("limited");
    wait_plain_echo(addr).await;
    // (The wait's own connection is counted until its relay has finished.)
    let deadline = tokio::time::Instant::now() + BOUND;
    let mut first = loop {
        let mut s = TcpStream::connect(addr).await.unwrap();
        if greeted_and_echoed(&mut s).await.is_some() {
            break s;
        }
        assert!(tokio::time::Instant::now() < deadline, "never served");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(greeted_and_echoed_again(&mut first).await);
    let mut second = TcpStream::connect(addr).await.unwrap();
    assert_eq!(
        line(&mut second).await,
        None,
        "a second connection was served"
    );
    drop(first);
    assert!(!wait_plain_echo(addr).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_proxy_protocol_decides_client_ip_only_from_trusted_senders() {
    require_docker();
    let c = Cleanup::new("rt-tcp-inpp");
    let net = c.network("net");
    let guard = router_guard().start().await;
    let router = Router::builder()
        .flags(&[
            "--providers.docker=true",
            "--entrypoints.trusting.address=127.0.0.1:0",
            "--entrypoints.trusting.proxyprotocol.trustedips=127.0.0.1",
            "--entrypoints.wary.address=127.0.0.1:0",
            "--entrypoints.wary.proxyprotocol.trustedips=10.9.9.9",
        ])
        .start(&guard)
        .await;
    let [vip, rest] = ["tcp-vip", "tcp-rest"].map(unique);
    let vip_labels = tcp_labels(&vip, "ClientIP(`203.0.113.0/24`)", "trusting,wary");
    let rest_labels = tcp_labels(&rest, "HostSNI(`*`)", "trusting,wary");
    let wv = run_whoami(&c, "vip", &net, &vip_labels, ECHO_ARGS).await;
    let wr = run_whoami(&c, "rest", &net, &rest_labels, ECHO_ARGS).await;
    let header = b"PROXY TCP4 203.0.113.9 127.0.0.1 40000 1\r\n";
    let via = |addr: SocketAddr| async move {
        let deadline = tokio::time::Instant::now() + BOUND;
        loop {
            if let Ok(mut s) = TcpStream::connect(addr).await {
                if s.write_all(header).await.is_ok() {
                    if let Some(h) = greeted_and_echoed(&mut s).await {
                        return h;
                    }
                }
            }
            assert!(tokio::time::Instant::now() < deadline, "nothing at {addr}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    // A client from a trusted address is read for a header first, so the waits send one.
    router
        .wait_live("both TCP routers", |l| {
            l.table
                .tcp
                .entry("trusting")
                .is_some_and(|e| e.plain.len() == 2)
        })
        .await;
    // Trusted: the header's client decides.
    assert_eq!(via(router.addr("trusting")).await, wv.hostname);
    // Not trusted: the header is not read as one, and the real client (127.0.0.1) decides.
    let wary = router.addr("wary");
    let mut s = TcpStream::connect(wary).await.unwrap();
    s.write_all(header).await.unwrap();
    assert_eq!(line(&mut s).await, Some(format!("whoami {}", wr.hostname)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_backend_takes_no_new_connection_and_keeps_its_open_one() {
    require_docker();
    let c = Cleanup::new("rt-tcp-drain");
    let net = c.network("net");
    let guard = router_guard().start().await;
    let router = Router::builder()
        .flags(&[
            "--providers.docker=true",
            "--entrypoints.drain.address=127.0.0.1:0",
        ])
        .start(&guard)
        .await;
    let name = unique("tcp-drain");
    let labels = tcp_labels(&name, "HostSNI(`*`)", "drain");
    let a = run_whoami(&c, "a", &net, &labels, ECHO_ARGS).await;
    let b = run_whoami(&c, "b", &net, &labels, ECHO_ARGS).await;
    wait_echo_ready(&a, &net).await;
    wait_echo_ready(&b, &net).await;
    let addr = router.addr("drain");
    router
        .wait_live("both backends", |l| {
            l.table.tcp.describe().iter().any(|d| {
                d.starts_with(&format!("tcp service {name}@docker"))
                    && d.matches(":9000").count() == 2
            })
        })
        .await;
    // A connection to each; keep the one to a.
    let mut open = None;
    for _ in 0..6 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let h = greeted_and_echoed(&mut s).await.unwrap();
        if h == a.hostname {
            open = Some(s);
        }
    }
    let mut open = open.expect("round robin reached a");
    real_docker_async_ok(&["pause", &a.name]).await;
    router
        .wait_live("a out of the service", |l| {
            l.table.tcp.describe().iter().any(|d| {
                d.starts_with(&format!("tcp service {name}@docker"))
                    && d.matches(":9000").count() == 1
            })
        })
        .await;
    for _ in 0..4 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        assert_eq!(greeted_and_echoed(&mut s).await, Some(b.hostname.clone()));
    }
    real_docker_async_ok(&["unpause", &a.name]).await;
    // The open connection was never cut: it echoes again.
    open.write_all(b"still here\n").await.unwrap();
    assert_eq!(line(&mut open).await.as_deref(), Some("still here"));
}

/// Sends `what` from `s` and waits up to 2 s for the answer.
async fn udp_ask(s: &tokio::net::UdpSocket, to: SocketAddr, what: &str) -> Option<String> {
    s.send_to(what.as_bytes(), to).await.ok()?;
    let mut buf = [0u8; 2048];
    let (n, _) = tokio::time::timeout(Duration::from_secs(2), s.recv_from(&mut buf))
        .await
        .ok()?
        .ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_sessions_from_two_clients_each_keep_to_their_server() {
    require_docker();
    let c = Cleanup::new("rt-udp");
    let net = c.network("net");
    let guard = router_guard().start().await;
    let router = Router::builder()
        .flags(&[
            "--providers.docker=true",
            "--entrypoints.dns.address=127.0.0.1:0/udp",
            "--entrypoints.dns.udp.timeout=1s",
        ])
        .start(&guard)
        .await;
    let name = unique("udp");
    let labels = Labels::enabled()
        .label(&format!("traefik.udp.routers.{name}.entrypoints"), "dns")
        .label(
            &format!("traefik.udp.services.{name}.loadbalancer.server.port"),
            "9001",
        );
    let args = ["-e", "WHOAMI_UDP_LISTEN=0.0.0.0:9001"];
    let a = run_whoami(&c, "a", &net, &labels, &args).await;
    let b = run_whoami(&c, "b", &net, &labels, &args).await;
    router
        .wait_live("both UDP servers", |l| {
            l.table
                .udp
                .describe()
                .iter()
                .any(|d| d.matches(":9001").count() == 2)
        })
        .await;
    // Both servers answer (directly) before the clients start, so that no session is lost
    // to a server still starting.
    let direct = tokio::net::UdpSocket::bind("0.0.0.0:0").await.unwrap();
    for w in [&a, &b] {
        let addr: SocketAddr = format!("{}:9001", e2e::router::ip_on(&w.name, &net))
            .parse()
            .unwrap();
        let deadline = tokio::time::Instant::now() + BOUND;
        while udp_ask(&direct, addr, "up?").await.is_none() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} is not answering",
                w.name
            );
        }
    }
    let to = router.addr("dns");
    // Longer than the session timeout since the entry point started: a new session must not
    // be taken for an idle one.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let one = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let two = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut answers = Vec::new();
    for (sock, what) in [(&one, "one"), (&two, "two")] {
        let answer = udp_ask(sock, to, what)
            .await
            .unwrap_or_else(|| panic!("no UDP answer to {what}"));
        let (host, echoed) = answer
            .strip_prefix("whoami ")
            .and_then(|r| r.split_once(' '))
            .unwrap_or_else(|| panic!("{answer}"));
        assert_eq!(echoed, what);
        answers.push(host.to_owned());
    }
    // Two sessions, two servers (round robin); each client keeps to its own.
    let mut hosts = answers.clone();
    hosts.sort();
    let mut want = vec![a.hostname.clone(), b.hostname.clone()];
    want.sort();
    assert_eq!(hosts, want);
    for _ in 0..3 {
        for (sock, what, host) in [
            (&one, "again-1", &answers[0]),
            (&two, "again-2", &answers[1]),
        ] {
            let got = udp_ask(sock, to, what).await.unwrap();
            assert_eq!(got, format!("whoami {host} {what}"));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_to_a_tcp_server_as_its_servers_transport_verifies_it() {
    require_docker();
    let dir = tempfile::tempdir().unwrap();
    let (_, crt, key) = cert_files(dir.path(), &["backend.test"]);
    let port = e2e::make::free_port();
    let nginx = Nginx::start(
        &format!("  server {{ listen 127.0.0.1:{port} ssl; ssl_certificate {crt}; ssl_certificate_key {key};\n    location / {{ return 200 \"nginx over TLS\\n\"; }} }}\n"),
        &[port],
    );
    let service = |name: &str, transport: &str| {
        format!("    {name}:\n      loadBalancer:\n        serversTransport: {transport}\n        servers:\n          - address: 127.0.0.1:{port}\n            tls: true\n")
    };
    let router_for = |name: &str| {
        format!("    {name}:\n      rule: HostSNI(`*`)\n      entryPoints: [{name}]\n      service: {name}\n")
    };
    let yaml = format!(
            "tcp:\n  routers:\n{}{}{}  services:\n{}{}{}  serversTransports:\n    verified:\n      tls:\n        serverName: backend.test\n        rootCAs: [{crt}]\n    wrongname:\n      tls:\n        serverName: other.test\n        rootCAs: [{crt}]\n    insecure:\n      dialTimeout: 2s\n      tls:\n        insecureSkipVerify: true\n",
            router_for("verified"),
            router_for("wrongname"),
            router_for("insecure"),
            service("verified", "verified"),
            service("wrongname", "wrongname"),
            service("insecure", "insecure"),
    );
    let eps = ["verified", "wrongname", "insecure"];
    let (_guard, router) = router_with_file(dir.path(), &yaml, &eps, false).await;
    router
        .wait_live("the three TCP routers", |l| {
            ["verified", "wrongname", "insecure"]
                .iter()
                .all(|ep| l.table.tcp.entry(ep).is_some())
        })
        .await;
    let ask = |ep: &str| {
        let addr = router.addr(ep);
        async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(b"GET / HTTP/1.1\r\nHost: backend.test\r\nConnection: close\r\n\r\n")
                .await
                .unwrap();
            let mut body = String::new();
            let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut body)).await;
            body
        }
    };
    // Plain bytes in, TLS to nginx: verified against the CA and the name.
    let body = ask("verified").await;
    assert!(body.contains("nginx over TLS"), "{body}");
    let body = ask("insecure").await;
    assert!(body.contains("nginx over TLS"), "{body}");
    // A certificate that does not name the server: closed, nothing relayed.
    let body = ask("wrongname").await;
    assert!(body.is_empty(), "{body}");
    drop(nginx);
}

/// Postgres' `SSLRequest`.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 4, 210, 22, 47];

/// A stand-in for a Postgres server's STARTTLS (no real Postgres here): on each connection it
/// expects `SSLRequest` (when `starttls`), answers `S`, takes a TLS handshake (when `tls`)
/// with a certificate for `name`, and answers a line with `pg <line>`. Returns its address
/// and certificate.
async fn postgres_stand_in(
    name: &str,
    starttls: bool,
    tls: bool,
) -> (SocketAddr, CertificateDer<'static>) {
    let c = rcgen::generate_simple_self_signed(vec![name.to_owned()]).unwrap();
    let der = CertificateDer::from(c.cert.der().to_vec());
    let key = rustls::pki_types::PrivateKeyDer::try_from(c.signing_key.serialize_der()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![der.clone()], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if starttls {
                    let mut req = [0u8; 8];
                    if s.read_exact(&mut req).await.is_err() || req != SSL_REQUEST {
                        return;
                    }
                    let _ = s.write_all(b"S").await;
                }
                if tls {
                    if let Ok(mut t) = acceptor.accept(s).await {
                        if let Some(l) = line(&mut t).await {
                            let _ = t.write_all(format!("pg {l}\n").as_bytes()).await;
                        }
                    }
                } else if let Some(l) = line(&mut s).await {
                    let _ = s.write_all(format!("pg {l}\n").as_bytes()).await;
                }
            });
        }
    });
    (addr, der)
}

/// A Postgres client's STARTTLS through `addr` with SNI `sni`: `SSLRequest`, `S`, a TLS
/// handshake, a line; the certificate it was shown and the answer.
async fn postgres_client(addr: SocketAddr, sni: &str) -> Option<(CertificateDer<'static>, String)> {
    let mut s = TcpStream::connect(addr).await.ok()?;
    s.write_all(&SSL_REQUEST).await.ok()?;
    let mut reply = [0u8; 1];
    tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut reply))
        .await
        .ok()?
        .ok()?;
    if reply != *b"S" {
        return None;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .ok()?
    .dangerous()
    .with_custom_certificate_verifier(Arc::new(router::client_tls::AnyCertificate::new()))
    .with_no_client_auth();
    let name = ServerName::try_from(sni.to_owned()).ok()?;
    let mut t = tokio::time::timeout(
        Duration::from_secs(5),
        tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, s),
    )
    .await
    .ok()?
    .ok()?;
    let cert = t
        .get_ref()
        .1
        .peer_certificates()?
        .first()?
        .clone()
        .into_owned();
    t.write_all(b"select 1\n").await.ok()?;
    Some((cert, line(&mut t).await?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_starttls_is_routed_by_its_server_name() {
    require_docker();
    let (pass_addr, pass_cert) = postgres_stand_in("pg.test", true, true).await;
    let (plain_addr, _) = postgres_stand_in("unused", false, false).await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!("tcp:\n  routers:\n    pass:\n      rule: HostSNI(`pg.test`)\n      entryPoints: [pg]\n      service: pass\n      tls:\n        passthrough: true\n    term:\n      rule: HostSNI(`pg2.test`)\n      entryPoints: [pg]\n      service: plain\n      tls: {{}}\n  services:\n    pass:\n      loadBalancer:\n        servers: [{{address: '{pass_addr}'}}]\n    plain:\n      loadBalancer:\n        servers: [{{address: '{plain_addr}'}}]\n");
    let (_guard, router) = router_with_file(dir.path(), &yaml, &["pg"], false).await;
    router
        .wait_live("both routers", |l| {
            l.table.tcp.entry("pg").is_some_and(|e| e.tls.len() == 2)
        })
        .await;
    let addr = router.addr("pg");
    // Passthrough: the server is asked for TLS in turn; the client sees its certificate.
    let (cert, answer) = postgres_client(addr, "pg.test").await.expect("passthrough");
    assert_eq!(cert, pass_cert);
    assert_eq!(answer, "pg select 1");
    // Terminated here: the server gets the plain protocol.
    let (cert, answer) = postgres_client(addr, "pg2.test").await.expect("terminated");
    assert_ne!(cert, pass_cert);
    assert_eq!(answer, "pg select 1");
    // No TCP TLS router for the name: closed after the `S`.
    assert!(postgres_client(addr, "other.test").await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_fails_its_health_check_takes_no_connection() {
    require_docker();
    let port = e2e::make::free_port();
    let dead = e2e::make::free_port();
    let nginx = Nginx::start(
        &format!(
            "  server {{ listen 127.0.0.1:{port}; location / {{ return 200 \"alive\\n\"; }} }}\n"
        ),
        &[port],
    );
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!("tcp:\n  routers:\n    hc:\n      rule: HostSNI(`*`)\n      entryPoints: [hc]\n      service: hc\n  services:\n    hc:\n      loadBalancer:\n        healthCheck:\n          interval: 200ms\n          timeout: 1s\n          send: \"GET / HTTP/1.0\\r\\n\\r\\n\"\n          expect: \"HTTP/1.1 200\"\n        servers:\n          - address: 127.0.0.1:{port}\n          - address: 127.0.0.1:{dead}\n");
    let (_guard, router) = router_with_file(dir.path(), &yaml, &["hc"], false).await;
    router
        .wait_live("the TCP router", |l| l.table.tcp.entry("hc").is_some())
        .await;
    let health = router.shared().tcp_health.clone();
    let dead_addr = format!("127.0.0.1:{dead}");
    let deadline = tokio::time::Instant::now() + BOUND;
    while health.is_up("hc@file", &dead_addr) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the dead server is never found down"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(health.is_up("hc@file", &format!("127.0.0.1:{port}")));
    // Every connection now goes to the live server (round robin would send half to the dead).
    let addr = router.addr("hc");
    for _ in 0..6 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
        let mut body = String::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut body)).await;
        assert!(body.contains("alive"), "{body:?}");
    }
    drop(nginx);
}
