//! Entry points: [`bind`] a listener per entry point once, then [`run`] it: every connection
//! is read as Traefik's entry points read it — an optional PROXY protocol header from a
//! trusted address, then TLS when the first byte is a TLS handshake (HTTP/2 or HTTP/1.1 as
//! ALPN chose), else plain HTTP/1.1 — unless a TCP router takes the connection
//! ([`crate::tcp_serve`]). A new routing table is swapped in under the listeners
//! (see [`crate::state`]), never re-bound.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::config::{Address, EntryPoint};
use crate::proxy::{self, ProxyBody};
use crate::proxy_protocol::{self, Parsed};
use crate::tls_config::TlsServer;

pub use crate::state::Shared;

/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The first byte of a TLS handshake record.
const TLS_HANDSHAKE: u8 = 0x16;

/// Binds an entry point. `:port` means every address: IPv6 and IPv4 on the IPv6 wildcard where
/// the host has IPv6 (as Go does), else the IPv4 wildcard.
pub async fn bind(ep: &EntryPoint) -> std::io::Result<TcpListener> {
    let listen = |a| listen_with(a, ep.reuse_port);
    match &ep.address {
        Address::Socket(a) => listen(*a),
        Address::AnyHost(p) => match listen(SocketAddr::from(([0u16; 8], *p))) {
            Ok(l) => Ok(l),
            Err(_) => listen(SocketAddr::from(([0, 0, 0, 0], *p))),
        },
        Address::Named(h, p) => {
            let mut last = std::io::Error::other(format!("{h} has no address"));
            for a in tokio::net::lookup_host((h.as_str(), *p)).await? {
                match listen(a) {
                    Ok(l) => return Ok(l),
                    Err(e) => last = e,
                }
            }
            Err(last)
        }
    }
}

/// A listener on `addr` whose accept queue is the system's largest (`somaxconn`), as Go's
/// (and so Traefik's): a burst of connections waits there rather than being refused (the
/// standard library's 128 lost a tenth of a 10,000-connection burst).
pub fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    listen_with(addr, false)
}

/// [`listen`], with `SO_REUSEPORT` when `reuse_port` (an entry point's `reusePort`: several
/// processes may listen on the port, the kernel spreading connections among them).
pub fn listen_with(addr: SocketAddr, reuse_port: bool) -> std::io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    if reuse_port {
        socket.set_reuseport(true)?;
    }
    socket.bind(addr)?;
    socket.listen(backlog())
}

/// `net.core.somaxconn` (4096 when it cannot be read; the kernel caps what is asked anyway).
pub fn backlog() -> u32 {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(4096)
        .min(i32::MAX as u32)
}

/// Raises the open-files limit to its hard limit, as Go's runtime does at start (each client
/// connection and each backend connection is a descriptor). Returns the limits before and
/// after.
pub fn raise_open_files_limit() -> (Option<u64>, Option<u64>) {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    let before = limit.current;
    if limit.current < limit.maximum {
        limit.current = limit.maximum;
        if setrlimit(Resource::Nofile, limit).is_err() {
            return (before, before);
        }
    }
    (before, getrlimit(Resource::Nofile).current)
}

/// Serves an entry point until `shutdown` completes, then lets open connections finish for
/// its grace period. `tls` makes the configurations of connections that start a handshake.
/// Each serving thread ([`crate::workers`]) accepts from the listener and serves what it
/// accepted.
pub async fn run(
    listener: TcpListener,
    ep: Arc<EntryPoint>,
    tls: Option<Arc<TlsServer>>,
    shared: Arc<Shared>,
    shutdown: impl Future<Output = ()>,
) {
    let (stop_tx, stop_rx) = watch::channel(false);
    let grace = ep.grace_timeout;
    let accepting = Accepting {
        name: Box::leak(ep.name.clone().into_boxed_str()),
        ep,
        tls,
        shared: shared.clone(),
        stop: stop_rx,
    };
    let loops = Loops(spread(listener, accepting));
    shutdown.await;
    drop(loops);
    shared
        .stopping
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(grace, stop_tx.closed()).await;
}

/// An entry point's accept loops, stopped when dropped: at shutdown, and also when [`run`]
/// itself is dropped before its end (they run on the serving threads, not in its future, and
/// would otherwise keep the listener open).
struct Loops(Vec<tokio::task::JoinHandle<()>>);

impl Drop for Loops {
    fn drop(&mut self) {
        for l in &self.0 {
            l.abort();
        }
    }
}

/// What an accept loop needs: the entry point and the connections' shared state.
#[derive(Clone)]
struct Accepting {
    name: &'static str,
    ep: Arc<EntryPoint>,
    tls: Option<Arc<TlsServer>>,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
}

/// Starts one accept loop on `listener` per serving thread (each registers its own copy of
/// the listening socket with its runtime); on the current runtime if there is none.
fn spread(listener: TcpListener, accepting: Accepting) -> Vec<tokio::task::JoinHandle<()>> {
    let workers = crate::workers::handles();
    if workers.is_empty() {
        return vec![tokio::spawn(accept(listener, accepting))];
    }
    let name = accepting.name;
    let std = match listener.into_std() {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(entrypoint = name, error = %e, "cannot hand the listener to the serving threads");
            return Vec::new();
        }
    };
    let mut loops = Vec::with_capacity(workers.len());
    for worker in workers {
        let copy = match std.try_clone() {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(entrypoint = name, error = %e, "cannot share the listener with a serving thread");
                continue;
            }
        };
        let accepting = accepting.clone();
        loops.push(worker.spawn(async move {
            match TcpListener::from_std(copy) {
                Ok(l) => accept(l, accepting).await,
                Err(e) => {
                    tracing::error!(entrypoint = name, error = %e, "a serving thread cannot listen");
                }
            }
        }));
    }
    loops
}

/// Accepts connections for ever, each served on this thread (over the caps on open
/// connections: closed at once).
async fn accept(listener: TcpListener, a: Accepting) {
    let mut backoff = Duration::from_millis(10);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => {
                backoff = Duration::from_millis(10);
                x
            }
            Err(e) => {
                tracing::warn!(entrypoint = a.name, error = %e, "accept failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        // Over the cap: closed at once (dropped), before anything is read.
        let Ok(slot) = a.shared.limits.admit() else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let conn = Conn {
            slot,
            peer,
            entrypoint: a.name,
            ep: a.ep.clone(),
            shared: a.shared.clone(),
            stop: a.stop.clone(),
            tls_options: String::new(),
            client_certs: None,
        };
        tokio::spawn(conn.serve(stream, a.tls.clone()));
    }
}

struct Conn {
    /// Counted against the caps on open connections while the connection lives.
    slot: crate::conn_limit::Slot,
    peer: SocketAddr,
    entrypoint: &'static str,
    ep: Arc<EntryPoint>,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
    /// The TLS options the connection's handshake used (empty for plain HTTP).
    tls_options: String,
    /// The certificates a mutual-TLS client presented (leaf first).
    client_certs: Option<Arc<[rustls::pki_types::CertificateDer<'static>]>>,
}

impl Conn {
    /// Reads the PROXY header if the entry point takes one, then serves TLS or plain HTTP.
    async fn serve(mut self, mut stream: TcpStream, tls: Option<Arc<TlsServer>>) {
        if let Some(trust) = self.ep.proxy_protocol.clone() {
            match read_proxy_header(&mut stream, self.ep.header_timeout).await {
                Ok(Some(source)) if trust.trusts(proxy::client_ip(self.peer)) => self.peer = source,
                Ok(_) => {}
                Err(why) => {
                    tracing::debug!(client = %self.peer, entrypoint = self.entrypoint, error = why, "PROXY protocol header refused");
                    return;
                }
            }
        }
        // The per-address cap counts the client a trusted PROXY header names.
        if self
            .shared
            .limits
            .from_address(&mut self.slot, proxy::client_ip(self.peer))
            .is_err()
        {
            return;
        }
        use crate::tcp_serve::Choice;
        // Boxed, as the relay and the TLS handshake below: a connection's task is as large as
        // the largest state of this future, for as long as the connection lives, and an idle
        // HTTP/1.1 connection is in the smallest (measured: 8.8 KB per task with these states
        // inline, most of an idle keep-alive connection's memory).
        let choice = Box::pin(crate::tcp_serve::choose(
            &self.shared,
            self.entrypoint,
            self.peer,
            &mut stream,
            self.ep.header_timeout,
        ))
        .await;
        let (route, postgres) = match choice {
            Choice::Http => (None, false),
            Choice::Close => return,
            Choice::Tcp(route) => (Some(route), false),
            Choice::Postgres(route) => (Some(route), true),
        };
        if let Some(route) = route {
            let shared = self.shared.clone();
            let relay = Box::pin(crate::tcp_serve::relay(
                shared,
                self.entrypoint,
                route,
                stream,
                self.peer,
                tls,
                postgres,
            ));
            // Shutdown waits for it for the grace period, as for HTTP connections.
            let mut stop = self.stop.clone();
            tokio::select! {
                () = relay => {}
                () = async {
                    let _ = stop.wait_for(|s| *s).await;
                    tokio::time::sleep(self.ep.grace_timeout).await;
                } => {}
            }
            return;
        }
        let mut first = [0u8; 1];
        let peeked = tokio::time::timeout(self.ep.header_timeout, stream.peek(&mut first)).await;
        let is_tls = matches!(peeked, Ok(Ok(1))) && first[0] == TLS_HANDSHAKE;
        match (is_tls, tls) {
            // Boxed: a plain connection's task does not carry the room of a handshake's state.
            (true, Some(acceptor)) => Box::pin(self.serve_tls(stream, acceptor)).await,
            _ => self.serve_http1(stream, "http").await,
        }
    }

    /// Reads the ClientHello, picks the TLS options its SNI selects on this entry point (see
    /// [`crate::model::tls`]), and completes the handshake with their configuration.
    async fn handshake(
        &self,
        stream: TcpStream,
        tls: &TlsServer,
    ) -> Result<(tokio_rustls::server::TlsStream<TcpStream>, String), String> {
        // Without SNI the certificate is looked up by this address, as Traefik does.
        let local = stream.local_addr().ok().map(|a| a.ip());
        let acceptor =
            tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), stream);
        let start = acceptor.await.map_err(|e| e.to_string())?;
        let sni = start
            .client_hello()
            .server_name()
            .map(str::to_ascii_lowercase);
        let live = self.shared.live.load();
        let name = crate::model::tls::select(&live.table.sni, self.entrypoint, sni.as_deref());
        let options = live
            .table
            .tls_options
            .get(name)
            .ok_or_else(|| format!("TLS options {name:?} are not in service"))?;
        let config = match (&sni, local) {
            (None, Some(local)) => tls.config_without_sni(options, local),
            _ => tls.config(options),
        }
        .map_err(|e| {
            tracing::error!(options = name, error = %e, "TLS options cannot be used: handshake refused");
            e
        })?;
        let name = name.to_owned();
        drop(live);
        let stream = start.into_stream(config).await.map_err(|e| e.to_string())?;
        Ok((stream, name))
    }

    async fn serve_tls(mut self, stream: TcpStream, tls: Arc<TlsServer>) {
        let peer = self.peer;
        // Boxed: the handshake's state is freed once it is done, not held by the connection.
        let handshake = Box::pin(self.handshake(stream, &tls));
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
            Ok(Ok((tls_stream, options))) => {
                self.tls_options = options;
                self.client_certs = tls_stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .filter(|c| !c.is_empty())
                    .map(|c| c.iter().map(|d| d.clone().into_owned()).collect());
                // HTTP/2 over TLS is chosen by ALPN (RFC 9113 3.2): without it the connection
                // is HTTP/1.1, served without the protocol sniffing of the auto builder.
                if tls_stream.get_ref().1.alpn_protocol() == Some(b"h2") {
                    Box::pin(self.serve_h2(tls_stream)).await
                } else {
                    self.serve_http1(tls_stream, "https").await
                }
            }
            Ok(Err(e)) => tracing::debug!(client = %peer, error = e, "TLS handshake failed"),
            Err(_) => tracing::debug!(client = %peer, "TLS handshake timed out"),
        }
    }

    fn endpoint(&self, scheme: &'static str) -> crate::conn::Endpoint {
        crate::conn::Endpoint {
            entrypoint: self.entrypoint,
            scheme,
            peer: self.peer,
            trusted: self.ep.forwarded.trusts(proxy::client_ip(self.peer)),
            ep: self.ep.clone(),
            tls_options: Arc::from(self.tls_options.as_str()),
            client_certs: self.client_certs.clone(),
        }
    }

    /// Serves an HTTP/1.1 client connection on the raw bytes ([`crate::conn`]).
    async fn serve_http1<S>(self, stream: S, scheme: &'static str)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let at = self.endpoint(scheme);
        crate::conn::serve(stream, at, self.shared, self.stop).await;
    }

    /// The service for an HTTP/2 client connection: each request through [`proxy::handle`].
    /// (Its type is spelled out so that the futures' `Send` bounds are checked here, with
    /// concrete lifetimes.)
    fn h2_service(
        &self,
        activity: Arc<crate::h2_idle::Activity>,
        streams: Arc<crate::h2_stall::Streams>,
    ) -> impl hyper::service::Service<
        hyper::Request<hyper::body::Incoming>,
        Response = hyper::Response<ProxyBody>,
        Error = std::convert::Infallible,
        Future = impl Future<Output = Result<hyper::Response<ProxyBody>, std::convert::Infallible>>
                     + Send,
    > + Clone
           + Send
           + 'static {
        let shared = self.shared.clone();
        let at = Arc::new(self.endpoint("https"));
        service_fn(move |req| {
            let shared = shared.clone();
            let at = at.clone();
            let busy = activity.start();
            let streams = streams.clone();
            async move {
                let answer = proxy::handle(shared, &at, req).await;
                // Busy until its answer's body is done (an event stream, a download) or cut
                // for a client that takes nothing of it.
                Ok::<_, std::convert::Infallible>(streams.watch_answer(answer, busy))
            }
        })
    }

    /// Serves an HTTP/2 client connection through hyper, with the shared pooled client.
    async fn serve_h2<S>(mut self, stream: S)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let activity = crate::h2_idle::Activity::new();
        let streams = crate::h2_stall::Streams::new(self.ep.idle_timeout);
        let conn = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .max_header_list_size(self.ep.max_header_bytes as u32)
            .max_concurrent_streams(self.ep.max_concurrent_streams)
            .header_table_size(self.ep.h2_decoder_table)
            .keep_alive_interval(Some(Duration::from_secs(30)))
            .serve_connection(
                TokioIo::new(crate::send_watch::SendWatch::new(
                    stream,
                    self.ep.idle_timeout,
                )),
                self.h2_service(activity.clone(), streams.clone()),
            );
        tokio::pin!(conn);
        let grace = self.ep.grace_timeout;
        let (first, idle) = (self.ep.header_timeout, self.ep.idle_timeout);
        let went_idle = tokio::select! {
            () = drive(conn.as_mut(), &mut self.stop, grace, |c| c.graceful_shutdown()) => false,
            () = activity.idle(first, idle) => true,
            () = streams.watch() => false,
        };
        if went_idle && activity.seen() {
            // GOAWAY: what is still streaming finishes; nothing new starts.
            tracing::debug!(client = %self.peer, "closing an idle HTTP/2 connection");
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(grace, conn).await;
        } else if went_idle {
            // Never a request (maybe not even its preface): closed at once.
            tracing::debug!(client = %self.peer, "closing an HTTP/2 connection that asked nothing");
        }
    }
}

/// Reads a PROXY protocol header when the connection starts with one (peeked at, then
/// exactly its length consumed): `Ok(Some(client))` when it names one, `Ok(None)` when there
/// is none or it names none (`LOCAL`, `UNKNOWN`).
async fn read_proxy_header(
    stream: &mut TcpStream,
    timeout: Duration,
) -> Result<Option<SocketAddr>, &'static str> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut buf = vec![0u8; 536];
    loop {
        let n = tokio::time::timeout_at(deadline, stream.peek(&mut buf))
            .await
            .map_err(|_| "timed out")?
            .map_err(|_| "connection error")?;
        if n == 0 {
            return Err("closed");
        }
        match proxy_protocol::parse(&buf[..n]) {
            Parsed::Absent => return Ok(None),
            Parsed::Invalid(why) => return Err(why),
            Parsed::Header { len, source } => {
                let mut header = vec![0u8; len];
                stream
                    .read_exact(&mut header)
                    .await
                    .map_err(|_| "connection error")?;
                return Ok(source);
            }
            Parsed::Incomplete if n == buf.len() => return Err("header too long"),
            Parsed::Incomplete => {
                // Wait for more bytes to arrive before peeking again.
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
}

/// Drives a client connection until it ends; on shutdown asks it to finish the requests it has
/// (`graceful`, the connection type's own method) and gives it `grace` to do so.
async fn drive<C: Future>(
    mut conn: std::pin::Pin<&mut C>,
    stop: &mut watch::Receiver<bool>,
    grace: Duration,
    graceful: impl FnOnce(std::pin::Pin<&mut C>),
) {
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = stop.changed() => {
            graceful(conn.as_mut());
            let _ = tokio::time::timeout(grace, conn).await;
        }
    }
}

#[cfg(test)]
mod tests {
    /// `reusePort`: a second listener on the same port binds only with `SO_REUSEPORT` on
    /// both.
    #[tokio::test]
    async fn reuse_port_lets_two_listeners_share_a_port() {
        let first = super::listen_with("127.0.0.1:0".parse().unwrap(), true).unwrap();
        let addr = first.local_addr().unwrap();
        assert!(super::listen_with(addr, true).is_ok());
        let plain = super::listen("127.0.0.1:0".parse().unwrap()).unwrap();
        assert!(super::listen_with(plain.local_addr().unwrap(), true).is_err());
    }

    /// The accept queue `ss` reports for a listener (its Send-Q column).
    fn queue_of(port: u16) -> u32 {
        let out = std::process::Command::new("ss")
            .args(["-Hltn", &format!("sport = :{port}")])
            .output()
            .expect("ss (iproute2) runs");
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text
            .lines()
            .next()
            .unwrap_or_else(|| panic!("no listener on {port}: {text}"));
        line.split_whitespace()
            .nth(2)
            .and_then(|q| q.parse().ok())
            .unwrap_or_else(|| panic!("{line}"))
    }

    #[tokio::test]
    async fn listeners_queue_as_many_connections_as_the_system_allows() {
        let l = super::listen("127.0.0.1:0".parse().unwrap()).unwrap();
        let port = l.local_addr().unwrap().port();
        assert_eq!(queue_of(port), super::backlog());
        assert!(super::backlog() > 128, "somaxconn is {}", super::backlog());
        // The standard library's, for contrast: the test can tell them apart.
        let std = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        assert_eq!(queue_of(std.local_addr().unwrap().port()), 128);
    }

    #[test]
    fn the_open_files_limit_is_raised_to_the_hard_limit() {
        use rustix::process::{getrlimit, setrlimit, Resource};
        let mut l = getrlimit(Resource::Nofile);
        let hard = l.maximum;
        if let (Some(h), Some(_)) = (hard, l.current) {
            l.current = Some(h.min(1024));
            setrlimit(Resource::Nofile, l).unwrap();
        }
        let (_, after) = super::raise_open_files_limit();
        assert_eq!(after, hard);
    }
}
