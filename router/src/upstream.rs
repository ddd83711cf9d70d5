//! Backend connections of HTTP/1.1 client connections, on the raw bytes.
//!
//! An HTTP/1.1 client connection carries one request at a time, so it never needs more than
//! one connection per backend at once. [`Kept`] holds those few connections with the client
//! connection (no pool lookup, lock or task per request); when the client connection ends they
//! go to an [`IdlePool`] that the next client connections take from, so clients that open a
//! connection per request share backend connections. A connection is only ever kept after a
//! complete exchange whose framing was followed to the end, so its next bytes are the next
//! answer. HTTP/2 client connections carry concurrent requests and use the shared pooled
//! client ([`crate::server::Shared::client`]).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::backend_tls::BackendTls;

/// Most backends one client connection keeps a connection to (round robin over a service's
/// replicas visits each in turn).
const MAX_KEPT: usize = 8;

/// Most idle connections kept per backend between client connections.
const IDLE_PER_BACKEND: usize = 256;

/// How long an idle connection is kept between client connections.
const IDLE_FOR: Duration = Duration::from_secs(60);

/// A kept connection unused for longer than this is checked before it carries a request:
/// the backend may have closed it meanwhile (keep-alive timeouts are often a few seconds).
const CHECK_AFTER: Duration = Duration::from_millis(500);

/// A backend connection's byte stream: plain TCP, or TLS to an `https://` server.
#[derive(Debug)]
pub enum BackendIo {
    /// `http://`.
    Plain(TcpStream),
    /// `https://`.
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl BackendIo {
    fn tcp(&self) -> &TcpStream {
        match self {
            BackendIo::Plain(s) => s,
            BackendIo::Tls(s) => s.get_ref().0,
        }
    }
}

impl AsyncRead for BackendIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            BackendIo::Plain(s) => Pin::new(s).poll_read(cx, buf),
            BackendIo::Tls(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for BackendIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            BackendIo::Plain(s) => Pin::new(s).poll_write(cx, buf),
            BackendIo::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            BackendIo::Plain(s) => Pin::new(s).poll_flush(cx),
            BackendIo::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            BackendIo::Plain(s) => Pin::new(s).poll_shutdown(cx),
            BackendIo::Tls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            BackendIo::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            BackendIo::Tls(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            BackendIo::Plain(s) => s.is_write_vectored(),
            BackendIo::Tls(s) => s.is_write_vectored(),
        }
    }
}

/// Which TLS a connection speaks: 0 for none, else [`BackendTls::id`]. Connections are only
/// reused for the same backend address and TLS.
///
/// A socket waits for readiness in the runtime of the thread that opened it (a serving
/// thread's, [`crate::workers`]): used from another thread, each of its events would cross
/// between the two. So the pool gives a thread its own connections first; a plain one of
/// another thread is moved to the taking thread's runtime ([`BackendConn::rehome`]), a TLS one
/// is left to its own thread.
type Key = (SocketAddr, usize);

/// The current thread ([`BackendConn::home`]).
fn this_thread() -> ThreadId {
    thread_local! {
        static ID: ThreadId = std::thread::current().id();
    }
    ID.with(|id| *id)
}

/// One connection to a backend and what it sent that was not consumed yet.
#[derive(Debug)]
pub struct BackendConn {
    /// The backend.
    pub addr: SocketAddr,
    /// Its TLS ([`Key`]).
    tls: usize,
    /// The thread whose runtime its socket is registered with ([`Key`]).
    home: ThreadId,
    /// The socket.
    pub io: BackendIo,
    /// Bytes read and not yet relayed.
    pub buf: BytesMut,
    /// When it last finished an exchange.
    pub idle_since: Instant,
}

impl BackendConn {
    /// Whether a parked connection may carry a request at `now`: parked for less than
    /// [`IDLE_FOR`], and either parked less than `unchecked` ago (taken as it is) or still
    /// open ([`BackendConn::looks_open`]).
    fn usable(&self, now: Instant, unchecked: Duration) -> bool {
        let idle_for = now.saturating_duration_since(self.idle_since);
        idle_for < IDLE_FOR && (idle_for < unchecked || self.looks_open())
    }

    /// Whether the backend has not closed the connection (nor sent anything unasked). Costs a
    /// non-blocking read.
    fn looks_open(&self) -> bool {
        // A peek on the socket (non-blocking): nothing to read. Under TLS too: a server that
        // closed sent an alert or a FIN.
        let mut probe = [std::mem::MaybeUninit::<u8>::uninit(); 1];
        matches!(socket2::SockRef::from(self.io.tcp()).peek(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
    }

    fn key(&self) -> Key {
        (self.addr, self.tls)
    }

    /// Moves a plain connection of another thread to this one: its socket is registered with
    /// this thread's runtime instead. `None` (the connection dropped) for a TLS one, or if
    /// that fails.
    fn rehome(mut self) -> Option<BackendConn> {
        let BackendIo::Plain(tcp) = self.io else {
            return None;
        };
        let socket = tcp.into_std().ok()?;
        self.io = BackendIo::Plain(TcpStream::from_std(socket).ok()?);
        self.home = this_thread();
        Some(self)
    }

    /// Frees the read buffer of a connection that waits in the pool (it holds no bytes: only
    /// a connection whose exchange ended on its framing is kept).
    fn release_buffer(&mut self) {
        if self.buf.is_empty() {
            self.buf = BytesMut::new();
        }
    }
}

/// Backend connections no client connection holds, by backend.
#[derive(Default)]
pub struct IdlePool {
    idle: Mutex<HashMap<Key, Vec<BackendConn>>>,
}

impl std::fmt::Debug for IdlePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdlePool").finish_non_exhaustive()
    }
}

impl IdlePool {
    /// The most recently parked connection to `key` that is still open.
    fn take(&self, key: Key) -> Option<BackendConn> {
        self.take_checked(key, Duration::ZERO)
    }

    /// [`IdlePool::take`], trusting without a check a connection parked less than
    /// `unchecked` ago.
    fn take_checked(&self, key: Key, unchecked: Duration) -> Option<BackendConn> {
        let here = this_thread();
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let list = idle.get_mut(&key)?;
        let now = Instant::now();
        // The most recently parked of this thread's, else of another's that can move here.
        while let Some(i) = list
            .iter()
            .rposition(|c| c.home == here)
            .or_else(|| list.iter().rposition(|c| c.tls == 0))
        {
            let c = list.remove(i);
            if !c.usable(now, unchecked) {
                continue;
            }
            match c.home == here {
                true => return Some(c),
                false => match c.rehome() {
                    Some(c) => return Some(c),
                    None => continue,
                },
            }
        }
        None
    }

    /// A parked plain (no TLS) connection to `addr`: one parked within [`CHECK_AFTER`] is
    /// taken as it is, as a client connection's kept ones are (the check is a system call
    /// on every `forwardAuth` request otherwise); an older one is checked open. The caller
    /// must send again on a new connection when it was closed before answering anything.
    pub fn take_plain(&self, addr: SocketAddr) -> Option<BackendConn> {
        self.take_checked((addr, 0), CHECK_AFTER)
    }

    /// Parks one connection whose exchange completed. On the request path (a `forwardAuth`
    /// check): no sweep of the other backends' connections, which [`IdlePool::put`] does when
    /// a client connection ends, and its buffer kept (the next check takes it at once).
    pub fn put_one(&self, mut conn: BackendConn) {
        // One clock read, not one per parked connection (this runs for every check).
        let now = Instant::now();
        conn.idle_since = now;
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let list = idle.entry(conn.key()).or_default();
        list.retain(|c| now.duration_since(c.idle_since) < IDLE_FOR);
        if list.len() < IDLE_PER_BACKEND {
            list.push(conn);
        }
    }

    /// Parks connections a client connection no longer needs.
    fn put(&self, conns: impl Iterator<Item = BackendConn>) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        // Every backend's expired connections go, not only this one's: a backend that is gone
        // (a removed container) must not keep its sockets.
        idle.retain(|_, list| {
            list.retain(|c| c.idle_since.elapsed() < IDLE_FOR);
            !list.is_empty()
        });
        for mut c in conns {
            c.release_buffer();
            let list = idle.entry(c.key()).or_default();
            if list.len() < IDLE_PER_BACKEND {
                list.push(c);
            }
        }
    }
}

/// Why a request to a backend failed.
#[derive(Debug)]
pub enum SendError {
    /// The backend could not be reached; nothing was sent.
    Connect {
        /// What happened.
        detail: String,
        /// The connect timeout expired.
        timed_out: bool,
    },
    /// The exchange failed after the connection was made: what happened, and whether the
    /// backend closed the connection before answering anything (an idempotent request may
    /// then be sent again).
    Request(String, bool),
}

/// The backend connections one client connection keeps.
pub struct Kept {
    conns: Vec<BackendConn>,
    pool: Arc<IdlePool>,
}

impl Drop for Kept {
    fn drop(&mut self) {
        self.pool.put(self.conns.drain(..));
    }
}

impl std::fmt::Debug for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kept")
            .field("conns", &self.conns.len())
            .finish_non_exhaustive()
    }
}

impl Kept {
    /// No connections yet; they go back to `pool` when the client connection ends.
    pub fn new(pool: Arc<IdlePool>) -> Kept {
        Kept {
            conns: Vec::new(),
            pool,
        }
    }

    /// A connection to `addr`: a kept one, else an idle one from the pool, else a new one.
    /// The flag says whether it carried an exchange before (a failure before any answer may
    /// then be a close the backend decided while it was idle).
    pub async fn get(
        &mut self,
        addr: SocketAddr,
        tls: Option<&BackendTls>,
        connect_timeout: Duration,
    ) -> Result<(BackendConn, bool), SendError> {
        if let Some(c) = self.take((addr, tls.map_or(0, |t| t.id))) {
            return Ok((c, true));
        }
        Ok((dial(addr, tls, connect_timeout).await?, false))
    }

    /// A kept connection to `key` (taken as it is when used within [`CHECK_AFTER`], else
    /// checked open), else an idle one from the pool.
    fn take(&mut self, key: Key) -> Option<BackendConn> {
        if let Some(i) = self.conns.iter().position(|c| c.key() == key) {
            let c = self.conns.swap_remove(i);
            if c.usable(Instant::now(), CHECK_AFTER) {
                return Some(c);
            }
        }
        self.pool.take(key)
    }

    /// Hands every kept connection to the pool (the client connection is idle: other client
    /// connections may use them meanwhile).
    pub fn release(&mut self) {
        self.pool.put(std::mem::take(&mut self.conns).into_iter());
    }

    /// Keeps a connection whose last exchange completed.
    pub fn put(&mut self, mut conn: BackendConn) {
        conn.idle_since = Instant::now();
        if self.conns.len() >= MAX_KEPT {
            let oldest = self.conns.remove(0);
            self.pool.put(std::iter::once(oldest));
        }
        self.conns.push(conn);
    }
}

/// Where the connection of an exchange the router makes itself (a `forwardAuth` check) comes
/// from and goes back to: the client connection's kept ones (HTTP/1.1: no lock, no check of
/// a connection used a moment ago), else the shared pool.
pub enum Conns<'a> {
    /// A client connection's.
    Kept(&'a mut Kept),
    /// The shared pool (HTTP/2 streams, tests).
    Pool(&'a IdlePool),
}

impl Conns<'_> {
    /// A kept or idle plain (no TLS) connection to `addr`. The caller must send again on a
    /// new connection when one taken unchecked was closed before answering anything.
    pub fn take_plain(&mut self, addr: SocketAddr) -> Option<BackendConn> {
        match self {
            Conns::Kept(k) => k.take((addr, 0)),
            Conns::Pool(p) => p.take_plain(addr),
        }
    }

    /// Keeps a connection whose exchange completed.
    pub fn put(&mut self, conn: BackendConn) {
        match self {
            Conns::Kept(k) => k.put(conn),
            Conns::Pool(p) => p.put_one(conn),
        }
    }
}

/// Opens a connection to a backend within `timeout` (the TLS handshake, for an `https://`
/// server, within it too).
pub async fn dial(
    addr: SocketAddr,
    tls: Option<&BackendTls>,
    timeout: Duration,
) -> Result<BackendConn, SendError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let tcp = connect(addr, timeout).await?;
    let Some(tls) = tls else {
        return Ok(BackendConn {
            addr,
            tls: 0,
            home: this_thread(),
            io: BackendIo::Plain(tcp),
            buf: BytesMut::new(),
            idle_since: Instant::now(),
        });
    };
    let (connector, name) = tls.connector();
    // Boxed: a handshake's state (1.2 KB) would otherwise be room in every future that may
    // dial, which a request's path moves into a new box for each request.
    let handshake = Box::pin(connector.connect(name, tcp));
    let io = match tokio::time::timeout_at(deadline, handshake).await {
        Err(_) => {
            return Err(SendError::Connect {
                detail: format!("TLS handshake with {addr}: timed out"),
                timed_out: true,
            })
        }
        // The server answered: it is up, but its certificate (or ours) is refused. A 502, and
        // no retry elsewhere: every server of the service is reached the same way.
        Ok(Err(e)) => {
            return Err(SendError::Request(
                format!("TLS handshake with {addr}: {e}"),
                false,
            ))
        }
        Ok(Ok(s)) => s,
    };
    Ok(BackendConn {
        addr,
        tls: tls.id,
        home: this_thread(),
        io: BackendIo::Tls(Box::new(io)),
        buf: BytesMut::new(),
        idle_since: Instant::now(),
    })
}

/// A TCP connection to `addr` within `timeout`.
pub async fn connect(addr: SocketAddr, timeout: Duration) -> Result<TcpStream, SendError> {
    let io = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Err(_) => {
            return Err(SendError::Connect {
                detail: format!("connect to {addr}: timed out"),
                timed_out: true,
            })
        }
        Ok(Err(e)) => {
            return Err(SendError::Connect {
                detail: format!("connect to {addr}: {e}"),
                timed_out: false,
            })
        }
        Ok(Ok(s)) => s,
    };
    let _ = io.set_nodelay(true);
    watch_peer(&io);
    Ok(io)
}

/// A backend's host that stops answering TCP (a Swarm node lost with its tasks, a pulled
/// cable) sends no reset: without a bound, a request waits on it for the kernel's
/// retransmission limit (about 15 minutes). Data left unacknowledged for this long ends the
/// connection (`TCP_USER_TIMEOUT`), so a request sent to a host gone silent fails in time to
/// be sent again elsewhere. It also bounds how long a backend may keep its receive window
/// shut on a streamed request body; ten seconds is far past any pause of a live reader.
pub const PEER_SILENT: Duration = Duration::from_secs(10);

/// While a request waits for its answer, nothing is unacknowledged: keepalive probes, after
/// this much quiet, every [`PROBE_EVERY`], [`PROBES`] times, find a host gone silent (a busy
/// backend's kernel answers them).
const PROBE_AFTER: Duration = Duration::from_secs(3);
const PROBE_EVERY: Duration = Duration::from_secs(1);
const PROBES: u32 = 3;

/// Sets [`PEER_SILENT`] and the keepalive probes on a backend connection (and a KV store's).
/// Best effort: a socket that refuses them behaves as before.
pub(crate) fn watch_peer(io: &TcpStream) {
    let sock = socket2::SockRef::from(io);
    let probes = socket2::TcpKeepalive::new()
        .with_time(PROBE_AFTER)
        .with_interval(PROBE_EVERY)
        .with_retries(PROBES);
    let _ = sock.set_tcp_keepalive(&probes);
    let _ = sock.set_tcp_user_timeout(Some(PEER_SILENT));
}

/// The address of a backend target: itself, or its name resolved (the first address), within
/// `timeout`.
pub async fn resolve(
    target: &crate::model::table::Target,
    timeout: Duration,
) -> Result<SocketAddr, String> {
    match target {
        crate::model::table::Target::Addr(a) => Ok(*a),
        crate::model::table::Target::Name(host, port) => {
            let found =
                tokio::time::timeout(timeout, tokio::net::lookup_host((host.as_str(), *port)))
                    .await
                    .map_err(|_| format!("resolve {host}: timed out"))?
                    .map_err(|e| format!("resolve {host}: {e}"))?;
            found
                .into_iter()
                .next()
                .ok_or_else(|| format!("resolve {host}: no address"))
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// A plain connection parked by another thread is moved to the taking thread's runtime:
    /// it still works once the other thread's runtime is gone (left registered there, it
    /// would fail).
    #[tokio::test(flavor = "current_thread")]
    async fn a_connection_parked_by_another_thread_moves_to_the_taking_one() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let pool = Arc::new(IdlePool::default());
        let parking = pool.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let conn = dial(addr, None, Duration::from_secs(2)).await.unwrap();
                parking.put_one(conn);
            });
            // The runtime the connection was registered with ends here.
        })
        .join()
        .unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        let mut conn = pool.take_plain(addr).expect("the parked connection");
        assert_eq!(conn.home, this_thread());
        conn.io.write_all(b"ping").await.unwrap();
        let mut got = [0u8; 4];
        server.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"ping");
        server.write_all(b"pong").await.unwrap();
        conn.io.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"pong");
    }
}
