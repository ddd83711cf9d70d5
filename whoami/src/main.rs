//! whoami: a tiny demo backend, like traefik/whoami.
//!
//! - `GET /` (any path): hostname, the address the request arrived on, the client's address,
//!   the request line and headers, as text
//! - `GET /data?size=N[&type=text]`: N bytes (streamed, at most 1 GiB), as
//!   `application/octet-stream` or, with `type=text`, `text/plain`
//! - `GET /health`: `ok`
//! - `GET /ws`: a WebSocket that echoes every message
//!
//! Listens on `WHOAMI_LISTEN` (default `0.0.0.0:8080`); with `WHOAMI_TCP_LISTEN`, also a TCP
//! echo server there (a greeting line `whoami <hostname>`, then every byte sent back); with
//! `WHOAMI_UDP_LISTEN`, a UDP echo (each datagram answered `whoami <hostname> <datagram>`). On SIGTERM it stops accepting, lets
//! in-flight requests finish (up to 10 s) and exits, so a stopping replica drops no request.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{header, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::WebSocketStream;

type Body = BoxBody<Bytes, Infallible>;

const MAX_DATA: u64 = 1 << 30;
const CHUNK: usize = 64 * 1024;

fn main() {
    let listen = std::env::var("WHOAMI_LISTEN").unwrap_or_else(|_| "0.0.0.0:8080".into());
    let addr: SocketAddr = match listen.parse() {
        Ok(a) => a,
        Err(_) => {
            eprintln!("whoami: WHOAMI_LISTEN={listen:?}: expected HOST:PORT with an IP address");
            std::process::exit(64);
        }
    };
    if std::env::args().nth(1).as_deref() == Some("healthcheck") {
        std::process::exit(healthcheck(addr));
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("whoami: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    rt.block_on(serve(addr));
}

/// `whoami healthcheck`: GET /health on the local listener (for a scratch image).
fn healthcheck(addr: SocketAddr) -> i32 {
    use std::io::{Read, Write};
    let target = SocketAddr::new(
        if addr.ip().is_unspecified() {
            [127, 0, 0, 1].into()
        } else {
            addr.ip()
        },
        addr.port(),
    );
    let Ok(mut s) = std::net::TcpStream::connect_timeout(&target, Duration::from_secs(3)) else {
        return 1;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
    let _ = s.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    if buf.starts_with("HTTP/1.1 200") {
        0
    } else {
        1
    }
}

async fn serve(addr: SocketAddr) {
    let listener = match TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("whoami: cannot listen on {addr}: {e}");
            std::process::exit(64);
        }
    };
    eprintln!("whoami: listening on {addr}");
    let hostname = Arc::<str>::from(hostname());
    if let Ok(udp) = std::env::var("WHOAMI_UDP_LISTEN") {
        match udp.parse::<SocketAddr>() {
            Ok(a) => {
                tokio::spawn(udp_echo(a, hostname.clone()));
            }
            Err(_) => {
                eprintln!(
                    "whoami: WHOAMI_UDP_LISTEN={udp:?}: expected HOST:PORT with an IP address"
                );
                std::process::exit(64);
            }
        }
    }
    if let Ok(tcp) = std::env::var("WHOAMI_TCP_LISTEN") {
        match tcp.parse::<SocketAddr>() {
            Ok(a) => {
                tokio::spawn(tcp_echo(a, hostname.clone()));
            }
            Err(_) => {
                eprintln!(
                    "whoami: WHOAMI_TCP_LISTEN={tcp:?}: expected HOST:PORT with an IP address"
                );
                std::process::exit(64);
            }
        }
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    loop {
        let accepted = tokio::select! {
            res = listener.accept() => res,
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => break,
            _ = tokio::signal::ctrl_c() => break,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let local = stream.local_addr().ok();
        let hostname = hostname.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let hostname = hostname.clone();
                async move { Ok::<_, Infallible>(handle(req, &hostname, local, peer).await) }
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(30))
                .serve_connection(TokioIo::new(stream), svc)
                .with_upgrades();
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(10), conn).await;
                }
            }
        });
    }
    // Close the listening socket at once: a connection made now is refused (and retried
    // elsewhere by a proxy) instead of accepted by the kernel and reset later.
    drop(listener);
    eprintln!("whoami: stopping; finishing in-flight requests");
    let _ = stop_tx.send(true);
    drop(stop_rx);
    let _ = tokio::time::timeout(Duration::from_secs(10), stop_tx.closed()).await;
}

/// `WHOAMI_TCP_LISTEN`: a TCP echo server. Each connection is greeted first with
/// `whoami <hostname>\n` (a server-first protocol), then every byte received is sent back.
async fn tcp_echo(addr: SocketAddr, hostname: Arc<str>) {
    use tokio::io::AsyncWriteExt;
    let listener = match TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("whoami: cannot listen on {addr}: {e}");
            std::process::exit(64);
        }
    };
    eprintln!("whoami: TCP echo on {addr}");
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let hostname = hostname.clone();
        tokio::spawn(async move {
            let (mut rd, mut wr) = stream.into_split();
            if wr
                .write_all(format!("whoami {hostname}\n").as_bytes())
                .await
                .is_ok()
            {
                let _ = tokio::io::copy(&mut rd, &mut wr).await;
                let _ = wr.shutdown().await;
            }
        });
    }
}

/// `WHOAMI_UDP_LISTEN`: a UDP echo server. Each datagram is answered with
/// `whoami <hostname> <the datagram>`.
async fn udp_echo(addr: SocketAddr, hostname: Arc<str>) {
    let socket = match tokio::net::UdpSocket::bind(addr).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("whoami: cannot listen on {addr}/udp: {e}");
            std::process::exit(64);
        }
    };
    eprintln!("whoami: UDP echo on {addr}");
    let mut buf = vec![0u8; 65_535];
    loop {
        let Ok((n, from)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let mut answer = format!("whoami {hostname} ").into_bytes();
        answer.extend_from_slice(&buf[..n]);
        let _ = socket.send_to(&answer, from).await;
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

async fn handle(
    mut req: Request<Incoming>,
    hostname: &str,
    local: Option<SocketAddr>,
    peer: SocketAddr,
) -> Response<Body> {
    match req.uri().path() {
        "/health" => text(StatusCode::OK, "ok\n".into()),
        "/data" => data(req.uri().query()),
        "/events" => events(req.uri().query()),
        "/ws" if req.headers().contains_key(header::UPGRADE) => websocket(&mut req),
        _ => {
            let mut out = format!("Hostname: {hostname}\n");
            if let Some(l) = local {
                out.push_str(&format!("IP: {}\n", l.ip()));
            }
            out.push_str(&format!("RemoteAddr: {peer}\n"));
            out.push_str(&format!(
                "{} {} {:?}\n",
                req.method(),
                req.uri(),
                req.version()
            ));
            for (k, v) in req.headers() {
                out.push_str(&format!(
                    "{}: {}\n",
                    k,
                    String::from_utf8_lossy(v.as_bytes())
                ));
            }
            text(StatusCode::OK, out)
        }
    }
}

fn text(status: StatusCode, body: String) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(body)).boxed());
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn data(query: Option<&str>) -> Response<Body> {
    let size = query
        .unwrap_or("")
        .split('&')
        .find_map(|kv| kv.strip_prefix("size="))
        .and_then(|v| v.parse::<u64>().ok());
    let Some(size) = size.filter(|s| *s <= MAX_DATA) else {
        return text(
            StatusCode::BAD_REQUEST,
            "usage: /data?size=N (N <= 1073741824)\n".into(),
        );
    };
    let chunk = Bytes::from(vec![b'a'; CHUNK]);
    let chunks = futures_util::stream::unfold(size, move |left| {
        let chunk = chunk.clone();
        async move {
            if left == 0 {
                return None;
            }
            let n = left.min(CHUNK as u64) as usize;
            Some((
                Ok::<_, Infallible>(Frame::data(chunk.slice(..n))),
                left - n as u64,
            ))
        }
    });
    let mut r = Response::new(BodyExt::boxed(StreamBody::new(chunks)));
    r.headers_mut()
        .insert(header::CONTENT_LENGTH, header::HeaderValue::from(size));
    let text = query.unwrap_or("").split('&').any(|kv| kv == "type=text");
    let content_type = if text {
        "text/plain; charset=utf-8"
    } else {
        "application/octet-stream"
    };
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    r
}

/// `/events?count=N&interval=MS`: a server-sent event stream, `data: 1` to `data: N`, one
/// every `MS` milliseconds (the first at once): what a proxy must pass on as it comes.
fn events(query: Option<&str>) -> Response<Body> {
    let arg = |name: &str, default: u64| {
        query
            .unwrap_or("")
            .split('&')
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .map_or(Some(default), |v| v.parse::<u64>().ok())
    };
    let (Some(count), Some(interval)) = (arg("count", 3), arg("interval", 500)) else {
        return text(
            StatusCode::BAD_REQUEST,
            "usage: /events?count=N&interval=MS\n".into(),
        );
    };
    let (count, interval) = (count.min(1000), Duration::from_millis(interval.min(60_000)));
    let stream = futures_util::stream::unfold(1u64, move |i| async move {
        if i > count {
            return None;
        }
        if i > 1 {
            tokio::time::sleep(interval).await;
        }
        let event = Bytes::from(format!("data: {i}\n\n"));
        Some((Ok::<_, Infallible>(Frame::data(event)), i + 1))
    });
    let mut r = Response::new(BodyExt::boxed(StreamBody::new(stream)));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/event-stream"),
    );
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-cache"),
    );
    r
}

fn websocket(req: &mut Request<Incoming>) -> Response<Body> {
    let Some(key) = req.headers().get("sec-websocket-key").cloned() else {
        return text(
            StatusCode::BAD_REQUEST,
            "missing Sec-WebSocket-Key\n".into(),
        );
    };
    let on_upgrade = hyper::upgrade::on(req);
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let mut ws =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
        while let Some(Ok(msg)) = ws.next().await {
            if msg.is_close() {
                break;
            }
            if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
                break;
            }
        }
    });
    let mut r = Response::new(Full::new(Bytes::new()).boxed());
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(
        header::CONNECTION,
        header::HeaderValue::from_static("Upgrade"),
    );
    h.insert(
        header::UPGRADE,
        header::HeaderValue::from_static("websocket"),
    );
    if let Ok(v) = header::HeaderValue::from_str(&derive_accept_key(key.as_bytes())) {
        h.insert("sec-websocket-accept", v);
    }
    r
}
