//! TCP routers on an entry point, as Traefik's TCP router serves a connection
//! (`pkg/server/router/tcp/router.go`): [`choose`] decides whose a connection is from what
//! it shows before any byte is taken — the ClientHello's server name and ALPN, or nothing
//! for a plain connection — and [`relay`] carries a TCP route's connection to its backend.
//!
//! The order, as Traefik's: an entry point with only plain TCP routers (and no HTTPS router)
//! routes at once without waiting for the client to speak (server-first protocols such as
//! SMTP or MySQL). Otherwise the first bytes are peeked at (up to the entry point's header
//! timeout): a plain connection goes to the first matching plain TCP router, else to HTTP; a
//! TLS one goes to HTTPS when an HTTPS router names its server name, then to a matching TCP
//! TLS router, then to HTTPS when an HTTPS router has no domain, then to a TCP catch-all
//! (``HostSNI(`*`)``), then to HTTPS. ACME's `acme-tls/1` handshakes are the router's own.
//! A Postgres client asking for TLS (`SSLRequest`) is answered as a server would (`S`), and
//! the ClientHello that follows is routed among the TCP TLS routes; a passthrough server is
//! asked for TLS in turn.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::model::rule::tcp::{ConnView, ACME_TLS_ALPN};
use crate::model::tcp::{TcpEntry, TcpFilter, TcpMode, TcpRoute, TcpTarget};
use crate::state::Shared;

/// The longest ClientHello read to route a connection (a record is at most 16 KiB).
const HELLO_MAX: usize = 16 * 1024 + 5;
/// Postgres' `SSLRequest`: length 8, code 80877103.
const POSTGRES_REQUEST: &[u8; 8] = &[0, 0, 0, 8, 4, 210, 22, 47];
/// The server's yes to it.
const POSTGRES_REPLY: &[u8] = b"S";
/// Each direction's copy buffer.
const COPY_BUFFER: usize = 32 * 1024;
/// How long a TLS handshake terminated here may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Whose a connection is.
pub enum Choice {
    /// HTTP's (or HTTPS's): served as before.
    Http,
    /// A TCP route's.
    Tcp(Arc<TcpRoute>),
    /// A TCP TLS route's, for a Postgres client that asked for TLS (`SSLRequest`), which the
    /// router has accepted (`S`): a passthrough server is asked in turn.
    Postgres(Arc<TcpRoute>),
    /// Nobody's: the client closed or said nothing in time.
    Close,
}

/// What the client showed before any byte was taken.
struct Hello {
    /// A Postgres `SSLRequest` (what comes after it is not known yet).
    postgres: bool,
    tls: bool,
    sni: String,
    alpn: Vec<String>,
}

/// Decides whose a connection on `entrypoint` is.
pub async fn choose(
    shared: &Shared,
    entrypoint: &str,
    peer: SocketAddr,
    stream: &mut TcpStream,
    wait: Duration,
) -> Choice {
    let ip = crate::proxy::client_ip(peer);
    // The table in service at the connection's start decides it, even if another is swapped
    // in while its first bytes are awaited.
    let live = shared.live.load_full();
    let Some(entry) = live.table.tcp.entry(entrypoint) else {
        return Choice::Http;
    };
    if entry.tls.is_empty() && !entry.https {
        let view = ConnView {
            sni: "",
            client_ip: ip,
            alpn: &[],
        };
        if let Some(r) = first(&entry.plain, &view) {
            return Choice::Tcp(r.clone());
        }
    }
    let hello = match tokio::time::timeout(wait, peek_hello(stream)).await {
        Ok(Some(h)) => h,
        Ok(None) | Err(_) => return Choice::Close,
    };
    if hello.postgres {
        return match tokio::time::timeout(wait, postgres(stream, entry, ip)).await {
            Ok(Some(r)) => Choice::Postgres(r),
            Ok(None) | Err(_) => Choice::Close,
        };
    }
    let view = ConnView {
        sni: &hello.sni,
        client_ip: ip,
        alpn: &hello.alpn,
    };
    if !hello.tls {
        return match first(&entry.plain, &view) {
            Some(r) => Choice::Tcp(r.clone()),
            None => Choice::Http,
        };
    }
    if hello.alpn.iter().any(|p| p == ACME_TLS_ALPN) {
        return Choice::Http;
    }
    let https_named =
        entry.https && crate::model::tls::has_domain(&live.table.sni, entrypoint, &hello.sni);
    if https_named {
        return Choice::Http;
    }
    tls_choice(entry, &view)
}

/// A TLS connection no HTTPS router names: a TCP TLS route, unless only a catch-all matches
/// and an HTTPS router without domain is there.
fn tls_choice(entry: &TcpEntry, view: &ConnView<'_>) -> Choice {
    match first(&entry.tls, view) {
        Some(r) if !r.catch_all || !entry.https_catch_all => Choice::Tcp(r.clone()),
        _ => Choice::Http,
    }
}

/// Postgres' STARTTLS, as Traefik serves it: the `SSLRequest` is answered `S` and taken, then
/// the ClientHello that follows picks a TCP TLS route (a catch-all included); none: closed.
async fn postgres(
    stream: &mut TcpStream,
    entry: &TcpEntry,
    ip: std::net::IpAddr,
) -> Option<Arc<TcpRoute>> {
    use tokio::io::AsyncReadExt;
    stream.write_all(POSTGRES_REPLY).await.ok()?;
    let mut request = [0u8; 8];
    stream.read_exact(&mut request).await.ok()?;
    let hello = peek_hello(stream).await.filter(|h| h.tls)?;
    let view = ConnView {
        sni: &hello.sni,
        client_ip: ip,
        alpn: &hello.alpn,
    };
    first(&entry.tls, &view).cloned()
}

fn first<'a>(routes: &'a [Arc<TcpRoute>], view: &ConnView<'_>) -> Option<&'a Arc<TcpRoute>> {
    routes.iter().find(|r| r.rule.matches(view))
}

/// Peeks at the connection's first bytes: a TLS ClientHello (its server name and ALPN), or
/// plain bytes. `None` when the client closed first.
async fn peek_hello(stream: &TcpStream) -> Option<Hello> {
    // Most ClientHellos fit in 2 KiB; the buffer grows to a whole record only for one that
    // does not.
    let mut buf = vec![0u8; 2048];
    loop {
        let n = stream.peek(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        let m = n.min(POSTGRES_REQUEST.len());
        if buf[..m] == POSTGRES_REQUEST[..m] {
            if m == POSTGRES_REQUEST.len() {
                return Some(Hello {
                    postgres: true,
                    tls: false,
                    sni: String::new(),
                    alpn: Vec::new(),
                });
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        }
        if buf[0] != 0x16 {
            return Some(Hello {
                postgres: false,
                tls: false,
                sni: String::new(),
                alpn: Vec::new(),
            });
        }
        let mut acceptor = rustls::server::Acceptor::default();
        let mut rd = &buf[..n];
        while !rd.is_empty() {
            if acceptor.read_tls(&mut rd).is_err() {
                break;
            }
        }
        match acceptor.accept() {
            Ok(Some(accepted)) => {
                let hello = accepted.client_hello();
                return Some(Hello {
                    postgres: false,
                    tls: true,
                    sni: hello
                        .server_name()
                        .map(|s| s.trim_end_matches('.').to_ascii_lowercase())
                        .unwrap_or_default(),
                    alpn: hello
                        .alpn()
                        .map(|protos| {
                            protos
                                .map(|p| String::from_utf8_lossy(p).into_owned())
                                .collect()
                        })
                        .unwrap_or_default(),
                });
            }
            // A ClientHello that is not whole yet: wait for more of it.
            Ok(None) if n < buf.len() => tokio::time::sleep(Duration::from_millis(5)).await,
            Ok(None) if buf.len() < HELLO_MAX => buf.resize(HELLO_MAX, 0),
            // Not a ClientHello rustls can read: its handshake will fail where it goes.
            Ok(None) | Err(_) => {
                return Some(Hello {
                    postgres: false,
                    tls: true,
                    sni: String::new(),
                    alpn: Vec::new(),
                })
            }
        }
    }
}

// === relaying ===

/// Open connections per TCP `inFlightConn` middleware in use and client address. As
/// Traefik builds a router's middlewares for each router on each entry point, a middleware
/// counts apart for each (entry point, router) using it.
#[derive(Debug, Default)]
pub struct InFlightConns(Mutex<HashMap<(InUse, IpAddr), i64>>);

/// A middleware in use: (entry point, router, middleware).
type InUse = (String, String, String);

/// A connection counted by an `inFlightConn` middleware, until dropped.
struct Counted<'a> {
    counts: &'a InFlightConns,
    key: (InUse, IpAddr),
}

impl InFlightConns {
    fn enter(&self, at: InUse, ip: IpAddr, amount: i64) -> Option<Counted<'_>> {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (at, ip);
        let n = map.entry(key.clone()).or_insert(0);
        if *n >= amount {
            return None;
        }
        *n += 1;
        Some(Counted { counts: self, key })
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        let mut map = self.counts.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = map.get_mut(&self.key) {
            *n -= 1;
            if *n <= 0 {
                map.remove(&self.key);
            }
        }
    }
}

/// Carries a TCP route's connection: its middlewares, TLS as the route says, then the bytes
/// both ways to one of its service's servers.
pub async fn relay(
    shared: Arc<Shared>,
    entrypoint: &str,
    route: Arc<TcpRoute>,
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<Arc<crate::tls_config::TlsServer>>,
    postgres: bool,
) {
    let ip = crate::proxy::client_ip(peer);
    let mut counted = Vec::new();
    for (name, mw) in &route.middlewares {
        match mw {
            TcpFilter::AllowList(_) => {
                if !mw.allows(ip) {
                    tracing::debug!(client = %ip, router = %route.name, middleware = %name, "TCP connection refused by ipAllowList");
                    return;
                }
            }
            TcpFilter::InFlight(amount) => match shared.tcp_in_flight.enter(
                (entrypoint.to_owned(), route.name.clone(), name.clone()),
                ip,
                *amount,
            ) {
                Some(c) => counted.push(c),
                None => {
                    tracing::debug!(client = %ip, router = %route.name, middleware = %name, "TCP connection refused by inFlightConn");
                    return;
                }
            },
        }
    }
    let local = stream.local_addr().unwrap_or(peer);
    match &route.mode {
        TcpMode::Plain | TcpMode::Passthrough => {
            to_backend(&shared, &route, stream, peer, local, postgres).await;
        }
        TcpMode::Broken => {}
        TcpMode::Terminate(options) => {
            let Some(tls) = tls else { return };
            let config = {
                let live = shared.live.load();
                let Some(o) = live.table.tls_options.get(options) else {
                    return;
                };
                match tls.config(o) {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::error!(options = %options, error = %e, "TLS options cannot be used: TCP connection closed");
                        return;
                    }
                }
            };
            let accept = tokio_rustls::TlsAcceptor::from(config).accept(stream);
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, accept).await {
                Ok(Ok(s)) => to_backend(&shared, &route, s, peer, local, false).await,
                Ok(Err(e)) => tracing::debug!(client = %peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(client = %peer, "TLS handshake timed out"),
            }
        }
    }
    drop(counted);
}

/// Connects to the route's next server and relays.
async fn to_backend<C>(
    shared: &Shared,
    route: &TcpRoute,
    client: C,
    peer: SocketAddr,
    local: SocketAddr,
    postgres: bool,
) where
    C: Halves,
{
    let up = |service: &str, address: &str| shared.tcp_health.is_up(service, address);
    let Some((server, lb)) = route.service.pick_up(&up) else {
        tracing::debug!(router = %route.name, service = %route.service.name(), "TCP service has no server: connection closed");
        return;
    };
    let TcpTarget::Servers {
        proxy_protocol,
        termination_delay,
        tls,
        dial_timeout,
        ..
    } = lb
    else {
        return;
    };
    let address = server.address.as_str();
    let wait = dial_timeout.unwrap_or(shared.config.connect_timeout);
    let connect = tokio::time::timeout(wait, TcpStream::connect(address));
    let mut backend = match connect.await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::warn!(router = %route.name, server = address, error = %e, "cannot reach TCP server: connection closed");
            return;
        }
        Err(_) => {
            tracing::warn!(router = %route.name, server = address, "TCP server did not answer in time: connection closed");
            return;
        }
    };
    let _ = backend.set_nodelay(true);
    let header = match proxy_protocol {
        Some(1) => Some(crate::proxy_protocol::v1(peer, local).into_bytes()),
        Some(_) => Some(crate::proxy_protocol::v2(peer, local)),
        None => None,
    };
    if let Some(h) = header {
        if backend.write_all(&h).await.is_err() {
            return;
        }
    }
    if postgres && !postgres_starttls(&mut backend).await {
        tracing::warn!(router = %route.name, server = address, "the Postgres server refused TLS: connection closed");
        return;
    }
    if !server.tls {
        return copy_both(client, backend, *termination_delay).await;
    }
    // TLS to the server (after the PROXY header, which precedes it on the wire).
    let url = format!("tcp://{address}");
    let connector = match shared.backend_tls.get(tls, &url) {
        Ok(t) => t.raw_connector(),
        Err(e) => {
            tracing::warn!(router = %route.name, server = address, error = %e, "TLS to the TCP server cannot be set up: connection closed");
            return;
        }
    };
    let (connector, name) = connector;
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, connector.connect(name, backend)).await {
        Ok(Ok(tls_stream)) => copy_both(client, tls_stream, *termination_delay).await,
        Ok(Err(e)) => {
            tracing::warn!(router = %route.name, server = address, error = %e, "TLS handshake with the TCP server failed: connection closed");
        }
        Err(_) => {
            tracing::warn!(router = %route.name, server = address, "TLS handshake with the TCP server timed out: connection closed");
        }
    }
}

/// Asks a passthrough Postgres server for TLS, as the client asked the router: its `S` is
/// taken (the client has had the router's).
async fn postgres_starttls(backend: &mut TcpStream) -> bool {
    use tokio::io::AsyncReadExt;
    let mut reply = [0u8; 1];
    backend.write_all(POSTGRES_REQUEST).await.is_ok()
        && matches!(
            tokio::time::timeout(HANDSHAKE_TIMEOUT, backend.read_exact(&mut reply)).await,
            Ok(Ok(_))
        )
        && reply == *b"S"
}

/// A stream split into halves that copy on their own: a TCP stream's without a lock between
/// them (the relay's common case: plain and passthrough), any other's through tokio's split.
pub trait Halves {
    /// The reading half.
    type R: AsyncRead + Unpin;
    /// The writing half.
    type W: AsyncWrite + Unpin;
    /// Splits.
    fn halves(self) -> (Self::R, Self::W);
}

impl Halves for TcpStream {
    type R = tokio::net::tcp::OwnedReadHalf;
    type W = tokio::net::tcp::OwnedWriteHalf;
    fn halves(self) -> (Self::R, Self::W) {
        self.into_split()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Halves for tokio_rustls::server::TlsStream<S> {
    type R = tokio::io::ReadHalf<Self>;
    type W = tokio::io::WriteHalf<Self>;
    fn halves(self) -> (Self::R, Self::W) {
        tokio::io::split(self)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Halves for tokio_rustls::client::TlsStream<S> {
    type R = tokio::io::ReadHalf<Self>;
    type W = tokio::io::WriteHalf<Self>;
    fn halves(self) -> (Self::R, Self::W) {
        tokio::io::split(self)
    }
}

/// Copies both ways. When one side has finished sending, the other's writing half is shut
/// (half-close), and the other direction may go on for `delay` (Traefik's
/// `terminationDelay`; `None`: until it ends).
pub async fn copy_both<A: Halves, B: Halves>(a: A, b: B, delay: Option<Duration>) {
    let (ar, mut aw) = a.halves();
    let (br, mut bw) = b.halves();
    // Go's io.Copy buffer (Traefik's): a quarter of the system calls of tokio's 8 KiB on bulk
    // transfers, 64 KiB per connection.
    let mut ar = tokio::io::BufReader::with_capacity(COPY_BUFFER, ar);
    let mut br = tokio::io::BufReader::with_capacity(COPY_BUFFER, br);
    let up = async {
        let _ = tokio::io::copy_buf(&mut ar, &mut bw).await;
        let _ = bw.shutdown().await;
    };
    let down = async {
        let _ = tokio::io::copy_buf(&mut br, &mut aw).await;
        let _ = aw.shutdown().await;
    };
    tokio::pin!(up, down);
    let rest = tokio::select! {
        () = &mut up => futures_util::future::Either::Right(down),
        () = &mut down => futures_util::future::Either::Left(up),
    };
    match delay {
        Some(d) => {
            let _ = tokio::time::timeout(d, rest).await;
        }
        None => rest.await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ClientHello larger than the first peek (many ALPN protocols) is read whole, and the
    /// connection keeps every byte of it.
    #[tokio::test]
    async fn a_large_client_hello_is_read_without_being_taken() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let protos: Vec<Vec<u8>> = (0..200)
            .map(|i| format!("proto-{i:04}-padding").into_bytes())
            .collect();
        let n = protos.len();
        tokio::spawn(async move {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let mut config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth();
            config.alpn_protocols = protos;
            let tcp = TcpStream::connect(addr).await.unwrap();
            let name = rustls::pki_types::ServerName::try_from("db.example.com").unwrap();
            let _ = tokio_rustls::TlsConnector::from(Arc::new(config))
                .connect(name, tcp)
                .await;
        });
        let (stream, _) = l.accept().await.unwrap();
        let hello = peek_hello(&stream).await.unwrap();
        assert!(hello.tls && !hello.postgres);
        assert_eq!(hello.sni, "db.example.com");
        assert_eq!(hello.alpn.len(), n);
        let mut first = [0u8; 1];
        assert_eq!(stream.peek(&mut first).await.unwrap(), 1);
        assert_eq!(first[0], 0x16);
    }
}

/// Traefik's `pkg/middlewares/tcp/inflightconn/inflight_conn_test.go`,
/// `TestInFlightConn_ServeTCP`, translated: connections counted per client address by an
/// `inFlightConn` of `amount: 1` ([`InFlightConns::enter`]; `None` is Traefik's closed
/// connection).
#[cfg(test)]
mod traefik_tables {
    use super::*;

    /// `middleware` as used by `router` on entry point `ep`.
    fn at(middleware: &str, router: &str, ep: &str) -> InUse {
        (ep.to_owned(), router.to_owned(), middleware.to_owned())
    }

    #[test]
    fn in_flight_conn_serve_tcp() {
        let counts = InFlightConns::default();
        let foo = || at("foo@file", "r@file", "web");
        let (a, b): (IpAddr, IpAddr) = ("127.0.0.1".parse().unwrap(), "127.0.0.2".parse().unwrap());
        // The first connection succeeds and stays open.
        let first = counts.enter(foo(), a, 1);
        assert!(first.is_some());
        // The second from the same address is closed: the maximum is reached.
        assert!(counts.enter(foo(), a, 1).is_none());
        // One from another address succeeds.
        assert!(counts.enter(foo(), b, 1).is_some());
        // Once the first is closed, the next from its address succeeds.
        drop(first);
        assert!(counts.enter(foo(), a, 1).is_some());
        // Beyond Traefik's table: its amount 0 closes every connection (as Traefik's check
        // `connections >= amount` does).
        assert!(counts
            .enter(at("zero@file", "r@file", "web"), a, 0)
            .is_none());
    }

    #[test]
    fn each_router_and_entry_point_counts_apart() {
        // Traefik builds a router's middleware chain for each router on each entry point:
        // one `inFlightConn` of amount 1 used by two routers, or by one router on two entry
        // points, lets a client have one connection through each.
        let counts = InFlightConns::default();
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let first = counts.enter(at("m@file", "r1@file", "web"), a, 1);
        assert!(first.is_some());
        assert!(counts.enter(at("m@file", "r1@file", "web"), a, 1).is_none());
        assert!(counts.enter(at("m@file", "r2@file", "web"), a, 1).is_some());
        assert!(counts
            .enter(at("m@file", "r1@file", "websecure"), a, 1)
            .is_some());
    }
}
