//! UDP entry points, as Traefik's UDP proxy serves them (`pkg/udp`): datagrams from one client
//! address are a session; a new session takes the entry point's router's next server and its
//! own socket to it, answers come back from the entry point's address, and a session without
//! a datagram either way for the entry point's `udp.timeout` (Traefik's 3 s default) is closed.
//!
//! Sessions count against the caps on open connections (`ROUTER_MAX_CONNECTIONS`, per
//! address too), so spoofed sources cannot take every socket; a datagram that cannot have a
//! session (no router, no server, over a cap) is dropped, as Traefik drops it.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;

use crate::config::{Address, EntryPoint};
use crate::state::Shared;

/// The largest datagram.
const MAX_DATAGRAM: usize = 65_535;

/// Binds a UDP entry point (`:port` on the IPv6 wildcard where the host has IPv6, else IPv4).
pub async fn bind(ep: &EntryPoint) -> std::io::Result<UdpSocket> {
    match &ep.address {
        Address::Socket(a) => UdpSocket::bind(a).await,
        Address::AnyHost(p) => match UdpSocket::bind(SocketAddr::from(([0u16; 8], *p))).await {
            Ok(s) => Ok(s),
            Err(_) => UdpSocket::bind(SocketAddr::from(([0, 0, 0, 0], *p))).await,
        },
        Address::Named(h, p) => UdpSocket::bind((h.as_str(), *p)).await,
    }
}

/// One client address's session.
struct Session {
    /// The socket to its server (connected).
    backend: Arc<UdpSocket>,
    /// Milliseconds since `epoch` of the last datagram either way.
    last: Arc<AtomicU64>,
    /// Set when the session has ended (timed out, or its server failed).
    done: Arc<AtomicBool>,
}

/// Serves a UDP entry point until `shutdown`.
pub async fn run(
    socket: UdpSocket,
    ep: Arc<EntryPoint>,
    shared: Arc<Shared>,
    shutdown: impl Future<Output = ()>,
) {
    let socket = Arc::new(socket);
    let timeout = ep.udp.unwrap_or(crate::config::UDP_TIMEOUT);
    let epoch = tokio::time::Instant::now();
    let mut sessions: HashMap<SocketAddr, Session> = HashMap::new();
    let mut sweep = tokio::time::interval(timeout);
    let mut buf = vec![0u8; MAX_DATAGRAM];
    tokio::pin!(shutdown);
    loop {
        let (n, from) = tokio::select! {
            () = &mut shutdown => break,
            _ = sweep.tick() => {
                sessions.retain(|_, s| !s.done.load(Ordering::Relaxed));
                continue;
            }
            r = socket.recv_from(&mut buf) => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::debug!(entrypoint = %ep.name, error = %e, "UDP receive failed");
                    continue;
                }
            },
        };
        let now = epoch.elapsed().as_millis() as u64;
        if let Some(s) = sessions
            .get(&from)
            .filter(|s| !s.done.load(Ordering::Relaxed))
        {
            s.last.store(now, Ordering::Relaxed);
            let _ = s.backend.send(&buf[..n]).await;
            continue;
        }
        sessions.remove(&from);
        let Some(s) = open(&shared, &ep, &socket, from, timeout, epoch).await else {
            continue;
        };
        s.last.store(now, Ordering::Relaxed);
        let _ = s.backend.send(&buf[..n]).await;
        sessions.insert(from, s);
    }
}

/// A new session for `client`: the route's next server, a socket connected to it, and the
/// task that carries its answers back until the session times out.
async fn open(
    shared: &Arc<Shared>,
    ep: &EntryPoint,
    socket: &Arc<UdpSocket>,
    client: SocketAddr,
    timeout: Duration,
    epoch: tokio::time::Instant,
) -> Option<Session> {
    let route = shared
        .live
        .load()
        .table
        .udp
        .entry_points
        .get(&ep.name)
        .cloned()?;
    let mut slot = shared.limits.admit().ok()?;
    shared
        .limits
        .from_address(&mut slot, crate::proxy::client_ip(client))
        .ok()?;
    let Some((server, _)) = route.service.pick() else {
        tracing::debug!(router = %route.name, "UDP service has no server: datagram dropped");
        return None;
    };
    let server = server.address.as_str();
    let target = tokio::net::lookup_host(server).await.ok()?.next()?;
    let local: SocketAddr = if target.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let backend = Arc::new(UdpSocket::bind(local).await.ok()?);
    if let Err(e) = backend.connect(target).await {
        tracing::warn!(router = %route.name, server, error = %e, "cannot reach UDP server");
        return None;
    }
    // Its first datagram is now: the task below may look before the caller stores it.
    let session = Session {
        backend: backend.clone(),
        last: Arc::new(AtomicU64::new(epoch.elapsed().as_millis() as u64)),
        done: Arc::new(AtomicBool::new(false)),
    };
    let (last, done, socket) = (session.last.clone(), session.done.clone(), socket.clone());
    tokio::spawn(async move {
        let _slot = slot;
        let mut buf = vec![0u8; MAX_DATAGRAM];
        loop {
            let idle_for = epoch
                .elapsed()
                .saturating_sub(Duration::from_millis(last.load(Ordering::Relaxed)));
            let Some(left) = timeout.checked_sub(idle_for).filter(|d| !d.is_zero()) else {
                break;
            };
            match tokio::time::timeout(left, backend.recv(&mut buf)).await {
                Ok(Ok(n)) => {
                    last.store(epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
                    let _ = socket.send_to(&buf[..n], client).await;
                }
                // An ICMP refusal from the server, say: the session ends.
                Ok(Err(_)) => break,
                // Checked again: the client may have sent meanwhile.
                Err(_) => {}
            }
        }
        done.store(true, Ordering::Relaxed);
    });
    Some(session)
}
