//! `h2c` servers end to end: Debian's nginx listening with `http2` and no TLS (HTTP/2 with
//! prior knowledge, as gRPC servers speak it) behind a router from a real container's labels
//! (`server.scheme=h2c`, through socket-guard) and a file service (`url: h2c://...`). An
//! HTTP/1.1 client's requests (with a body, chunked or not) and an HTTP/2 client's reach it over
//! HTTP/2 (`$server_protocol` is `HTTP/2.0`) with the client's `Host` as authority, and so do
//! its health checks; a server that is not there answers 502 (an `http` one too), and a
//! request that can be sent again goes to another server when one is not there.
#![allow(clippy::unwrap_used)]

use e2e::docker::{require_docker, Cleanup};
use e2e::make::free_port;
use e2e::nginx::Nginx;
use e2e::router::{router_guard, run_whoami, unique, Labels, Router};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_servers_get_http2_from_every_client() {
    require_docker();
    let (h2, sink, closed) = (free_port(), free_port(), free_port());
    let nginx = Nginx::start(
        &format!(
            r#"
  log_format proto '$server_protocol $host $request_method $request_uri [$request_body]';
  server {{
    listen 127.0.0.1:{h2} http2;
    access_log @DIR@/h2.log proto;
    # proxy_pass reads the body, so the log line has it.
    location /post {{
      client_body_buffer_size 1m;
      proxy_pass http://127.0.0.1:{sink};
    }}
    location / {{ return 200 "$server_protocol $host $request_method $request_uri\n"; }}
  }}
  server {{ listen 127.0.0.1:{sink}; location / {{ return 200 "ok\n"; }} }}
"#
        ),
        &[h2, sink],
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dynamic.yml");
    std::fs::write(
        &file,
        format!(
            "http:\n  services:\n    grpcish:\n      loadBalancer:\n        servers: [{{url: \"h2c://127.0.0.1:{h2}\"}}]\n        healthCheck: {{path: /hc, interval: 200ms}}\n    gone:\n      loadBalancer:\n        servers: [{{url: \"h2c://127.0.0.1:{closed}\"}}]\n    gonehttp:\n      loadBalancer:\n        servers: [{{url: \"http://127.0.0.1:{closed}\"}}]\n    mixed:\n      loadBalancer:\n        servers: [{{url: \"h2c://127.0.0.1:{closed}\"}}, {{url: \"h2c://127.0.0.1:{h2}\"}}]\n"
        ),
    )
    .unwrap();
    let c = Cleanup::new("rt-h2c");
    let net = c.network("net");
    let guard = router_guard().start().await;
    let router = Router::builder()
        .both_entry_points()
        .with_file(&file)
        .start(&guard)
        .await;
    let [viafile, gone, gonehttp, mixed] = ["viafile", "gone", "gonehttp", "mixed"].map(unique);
    let labels = Labels::enabled()
        .router(&gonehttp, "rule", &format!("Host(`{gonehttp}.test`)"))
        .router(&gonehttp, "service", "gonehttp@file")
        .router(&mixed, "rule", &format!("Host(`{mixed}.test`)"))
        .router(&mixed, "service", "mixed@file")
        .router(&viafile, "rule", &format!("Host(`{viafile}.test`)"))
        .router(&viafile, "service", "grpcish@file")
        .router(&gone, "rule", &format!("Host(`{gone}.test`)"))
        .router(&gone, "service", "gone@file");
    run_whoami(&c, "w", &net, &labels, &[]).await;
    let host = format!("{viafile}.test");
    let r = router.wait_status(&host, "/a?b=1", 200).await;
    assert_eq!(r.text(), format!("HTTP/2.0 {host} GET /a?b=1\n"));

    // HTTP/1.1 with bodies: a declared length and a chunked one, both reach it whole.
    let addr = router.web_addr();
    for (framing, body) in [
        ("Content-Length: 11\r\n", "hello world".to_owned()),
        (
            "Transfer-Encoding: chunked\r\n",
            "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n".to_owned(),
        ),
    ] {
        let raw = format!(
            "POST /post HTTP/1.1\r\nHost: {host}\r\n{framing}Connection: close\r\n\r\n{body}"
        );
        let ex = e2e::http::exchange(addr, raw.as_bytes()).await;
        assert_eq!(ex.statuses(), [200], "{framing}");
    }
    let lines = nginx
        .wait_log("h2.log", |l| {
            l.iter().filter(|l| l.contains(" POST /post ")).count() >= 2
        })
        .await;
    let posts: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains(" POST /post "))
        .collect();
    assert_eq!(posts.len(), 2, "{lines:?}");
    assert!(
        posts
            .iter()
            .all(|l| *l == &format!("HTTP/2.0 {host} POST /post [hello world]")),
        "{posts:?}"
    );

    // HTTP/2 from the client (TLS, ALPN h2).
    let tls = router.websecure_addr();
    let out = std::process::Command::new("curl")
        .args([
            "-sk",
            "--http2",
            "-w",
            "|%{http_version}",
            "--max-time",
            "10",
            "--resolve",
        ])
        .arg(format!("{host}:{}:127.0.0.1", tls.port()))
        .arg(format!("https://{host}:{}/over-h2", tls.port()))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("HTTP/2.0 {host} GET /over-h2\n|2")
    );

    // The health check went over HTTP/2 too.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !nginx
        .log_lines("h2.log")
        .iter()
        .any(|l| l == "HTTP/2.0 127.0.0.1 GET /hc [-]")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            nginx.log_lines("h2.log")
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // Nobody listening: 502 (as for an `http` server: the refused connection's answer, not
    // the 503 of a service left without a server to try again).
    for host in [&gone, &gonehttp] {
        let r = router.request(&format!("{host}.test"), "/", &[]).await;
        assert_eq!(r.status, 502, "{host}: {}", r.text());
    }
    // One of two servers not listening (round robin meets it within two requests): a request
    // that can be sent again goes to the other.
    for i in 0..4 {
        let r = router
            .request(&format!("{mixed}.test"), &format!("/m{i}"), &[])
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(r.text().starts_with("HTTP/2.0 "), "{}", r.text());
    }

    // From a container's labels: server.scheme=h2c is accepted (whoami speaks HTTP/1.1 only,
    // so its answer is the router's 502: the request went out as HTTP/2).
    let lbl = unique("lbl");
    let labels = Labels::enabled()
        .router(&lbl, "rule", &format!("Host(`{lbl}.test`)"))
        .router(&lbl, "service", &lbl)
        .service(&lbl, "server.port", "8080")
        .service(&lbl, "server.scheme", "h2c");
    run_whoami(&c, "h", &net, &labels, &[]).await;
    let r = router.wait_status(&format!("{lbl}.test"), "/", 502).await;
    assert_eq!(r.status, 502);
}

/// The gRPC server: Python's grpcio (from PyPI), no generated code: `/echo.Echo/Say` answers
/// the request's bytes upper-cased and its port, `/echo.Echo/Count` streams `1`..`n`,
/// `/echo.Echo/Fail` ends with NOT_FOUND and details (in trailers); the standard health
/// service answers SERVING (status 1) or, with `sick`, NOT_SERVING (2).
const GRPC_SERVER: &str = r#"
import sys, grpc
from concurrent import futures
port, sick = sys.argv[1], len(sys.argv) > 2
def say(req, ctx): return req.upper() + b"@" + port.encode()
def health(req, ctx): return b"\x08\x02" if sick else b"\x08\x01"
def count(req, ctx):
    for i in range(1, int(req) + 1): yield str(i).encode()
def fail(req, ctx): ctx.abort(grpc.StatusCode.NOT_FOUND, "nope: " + req.decode())
h = grpc.method_handlers_generic_handler("echo.Echo", {
    "Say": grpc.unary_unary_rpc_method_handler(say),
    "Count": grpc.unary_stream_rpc_method_handler(count),
    "Fail": grpc.unary_unary_rpc_method_handler(fail),
})
hh = grpc.method_handlers_generic_handler("grpc.health.v1.Health", {
    "Check": grpc.unary_unary_rpc_method_handler(health),
})
s = grpc.server(futures.ThreadPoolExecutor(4)); s.add_generic_rpc_handlers((h, hh))
s.add_insecure_port("127.0.0.1:" + sys.argv[1]); s.start(); print("ready", flush=True)
s.wait_for_termination()
"#;

/// The gRPC client: over TLS to the router (trusting `ca`), with `authority` as the name;
/// `say6` only says hello six times.
const GRPC_CLIENT: &str = r#"
import sys, grpc
target, authority, ca = sys.argv[1], sys.argv[2], open(sys.argv[3], "rb").read()
ch = grpc.secure_channel(target, grpc.ssl_channel_credentials(root_certificates=ca),
    options=[("grpc.ssl_target_name_override", authority), ("grpc.default_authority", authority)])
if sys.argv[4:] == ["say6"]:
    print(",".join(ch.unary_unary("/echo.Echo/Say")(b"hi", timeout=10).decode() for _ in range(6)))
    sys.exit(0)
print(ch.unary_unary("/echo.Echo/Say")(b"hello", timeout=10).decode())
print(",".join(m.decode() for m in ch.unary_stream("/echo.Echo/Count")(b"3", timeout=10)))
try:
    ch.unary_unary("/echo.Echo/Fail")(b"x", timeout=10)
except grpc.RpcError as e:
    print(e.code().name, e.details())
"#;

/// Starts the gRPC server on `port` (`sick`: its health service says NOT_SERVING).
async fn grpc_server(script: &std::path::Path, port: u16, sick: bool) -> tokio::process::Child {
    let mut cmd = tokio::process::Command::new("python3");
    cmd.arg(script).arg(port.to_string());
    if sick {
        cmd.arg("sick");
    }
    let mut server = cmd
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 with grpcio (scripts/prereqs.sh installs it)");
    let mut ready = String::new();
    tokio::io::AsyncBufReadExt::read_line(
        &mut tokio::io::BufReader::new(server.stdout.take().unwrap()),
        &mut ready,
    )
    .await
    .unwrap();
    assert_eq!(ready.trim(), "ready");
    server
}

/// A real gRPC exchange through the router: grpcio's client over TLS (HTTP/2) to the router,
/// grpcio's server behind it on `h2c://`: a unary call, a server stream, and an error status
/// that only travels in trailers all arrive; with `healthCheck.mode: grpc`, of two servers the
/// one whose health service says NOT_SERVING gets nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_through_the_router() {
    require_docker();
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let server_py = dir.path().join("server.py");
    let client_py = dir.path().join("client.py");
    std::fs::write(&server_py, GRPC_SERVER).unwrap();
    std::fs::write(&client_py, GRPC_CLIENT).unwrap();
    let _server = grpc_server(&server_py, port, false).await;
    let (good, sick) = (free_port(), free_port());
    let _good = grpc_server(&server_py, good, false).await;
    let _sick = grpc_server(&server_py, sick, true).await;

    // A CA and a certificate for the gRPC name, served from the file provider.
    let host = format!("{}.test", unique("grpc"));
    let pair = format!("{}.test", unique("pair"));
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "h2c test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
        .unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec![host.clone(), pair.clone()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let (ca_pem, crt, key_pem) = (
        dir.path().join("ca.pem"),
        dir.path().join("grpc.crt"),
        dir.path().join("grpc.key"),
    );
    std::fs::write(&ca_pem, ca.pem()).unwrap();
    std::fs::write(&crt, leaf.pem()).unwrap();
    std::fs::write(&key_pem, key.serialize_pem()).unwrap();
    let file = dir.path().join("dynamic.yml");
    std::fs::write(
        &file,
        format!(
            "http:\n  routers:\n    grpc:\n      rule: Host(`{host}`)\n      service: grpc\n      tls: {{}}\n    pair:\n      rule: Host(`{pair}`)\n      service: pair\n      tls: {{}}\n  services:\n    grpc:\n      loadBalancer:\n        servers: [{{url: \"h2c://127.0.0.1:{port}\"}}]\n    pair:\n      loadBalancer:\n        servers: [{{url: \"h2c://127.0.0.1:{good}\"}}, {{url: \"h2c://127.0.0.1:{sick}\"}}]\n        healthCheck: {{mode: grpc, interval: 200ms}}\ntls:\n  certificates:\n    - certFile: {}\n      keyFile: {}\n",
            crt.display(),
            key_pem.display()
        ),
    )
    .unwrap();
    let guard = router_guard().start().await;
    let router = Router::builder()
        .both_entry_points()
        .with_file(&file)
        .start(&guard)
        .await;
    // The file's routers are in service only once the first table is published (CI once
    // called before it and got the 404 of an empty table).
    router.wait_routes(&["grpc@file", "pair@file"]).await;
    let tls = router.websecure_addr();
    let out = tokio::process::Command::new("python3")
        .arg(&client_py)
        .arg(format!("127.0.0.1:{}", tls.port()))
        .arg(&host)
        .arg(&ca_pem)
        .output()
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("HELLO@{port}\n1,2,3\nNOT_FOUND nope: x\n"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // gRPC health checks: the server whose health service says NOT_SERVING leaves rotation.
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    let out = tokio::process::Command::new("python3")
        .arg(&client_py)
        .arg(format!("127.0.0.1:{}", tls.port()))
        .arg(&pair)
        .arg(&ca_pem)
        .arg("say6")
        .output()
        .await
        .unwrap();
    let want = vec![format!("HI@{good}"); 6].join(",");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        want,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
