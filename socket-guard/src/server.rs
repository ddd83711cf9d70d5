//! `run(listeners, config, shutdown)`: accept loops, one task per connection, graceful drain.
//!
//! Accept errors (out of file descriptors, a client that vanished) back off and never stop the
//! server. On shutdown the accept loops stop, open connections are asked to finish their
//! current request, and `run` returns when they are gone or the grace period is over.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;

use tokio_rustls::TlsAcceptor;

use crate::coalesce::Coalescer;
use crate::config::{Config, ListenAddr};
use crate::metrics::Metrics;
use crate::policy_set::{Identity, PolicySet};
use crate::upstream::{self, DockerClient};

/// How long open connections get to finish after shutdown is asked.
pub const GRACE: Duration = Duration::from_secs(10);

/// Shared by every connection.
#[derive(Debug)]
pub struct State {
    /// The configuration, policy included.
    pub config: Config,
    /// The pooled client to the daemon.
    pub client: DockerClient,
    /// Counters and gauges.
    pub metrics: Arc<Metrics>,
    /// The socket path, shared by the per-connection upstreams.
    pub socket: Arc<std::path::PathBuf>,
    /// Groups of identical reads in flight, when `GUARD_COALESCE` is on.
    pub coalescer: Option<Coalescer>,
    /// The last answers redacted ([`crate::redaction::Memo`]).
    pub memo: crate::redaction::Memo,
    /// Recent decisions, for the admin page.
    pub decisions: Arc<crate::decisions::Decisions>,
    /// Open TCP connections per client (`GUARD_MAX_CONNECTIONS_PER_CLIENT`).
    pub client_caps: Arc<crate::client_cap::ClientCaps>,
    /// Requests per second per client (`GUARD_MAX_REQUESTS_PER_CLIENT`).
    pub rate_caps: crate::client_cap::RateCaps,
    /// The policies in force: the configuration's at start, swapped on SIGHUP
    /// ([`crate::reload`]).
    policies: arc_swap::ArcSwap<PolicySet>,
}

impl State {
    /// The environment's policy in force now (the policy of clients no named one matches).
    pub fn policy(&self) -> Arc<policies::Policy> {
        self.policies.load().default_policy().clone()
    }

    /// Every policy in force now.
    pub fn policies(&self) -> arc_swap::Guard<Arc<PolicySet>> {
        self.policies.load()
    }

    /// The policy of client `id` now, and its name (a request reads it once, when it is
    /// judged).
    pub fn policy_for(&self, id: &Identity) -> (Arc<str>, Arc<policies::Policy>) {
        let set = self.policies.load();
        let (name, policy) = set.select(id);
        (name.clone(), policy.clone())
    }

    /// Puts `set` in force for the requests that come after.
    pub fn set_policies(&self, set: PolicySet) {
        self.policies.store(Arc::new(set));
    }

    /// Builds the shared state for a configuration.
    pub fn new(config: Config) -> Arc<State> {
        let client = upstream::client(config.socket_path.clone());
        Arc::new(State {
            socket: Arc::new(config.socket_path.clone()),
            coalescer: config.coalesce.then(Coalescer::default),
            client_caps: Arc::new(crate::client_cap::ClientCaps::new(
                config.max_connections_per_client,
            )),
            rate_caps: crate::client_cap::RateCaps::new(config.max_requests_per_client),
            policies: arc_swap::ArcSwap::from_pointee(PolicySet::new(
                config.policy.clone(),
                config.policies.clone(),
            )),
            config,
            client,
            metrics: Arc::new(Metrics::default()),
            memo: crate::redaction::Memo::default(),
            decisions: Arc::default(),
        })
    }
}

/// A bound listener.
pub enum Listener {
    /// TCP, checked against `GUARD_ALLOW_FROM`.
    Tcp(TcpListener),
    /// TCP with mutual TLS, checked against `GUARD_ALLOW_FROM` before the handshake.
    Tls(TcpListener, TlsAcceptor),
    /// A unix socket (file permissions decide who may connect).
    Unix(UnixListener),
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Listener::Tcp(l) => f.debug_tuple("Tcp").field(l).finish(),
            Listener::Tls(l, _) => f.debug_tuple("Tls").field(l).finish(),
            Listener::Unix(l) => f.debug_tuple("Unix").field(l).finish(),
        }
    }
}

/// Serves the guard on `listeners` (each with the address it was configured as, which
/// `MATCH_LISTEN` names) until `shutdown` completes, then drains.
pub async fn run(
    listeners: Vec<(ListenAddr, Listener)>,
    state: Arc<State>,
    shutdown: impl Future<Output = ()>,
) {
    let (stop_tx, stop_rx) = watch::channel(false);
    for (addr, listener) in listeners {
        tokio::spawn(accept_loop(
            Arc::new(addr),
            listener,
            state.clone(),
            stop_rx.clone(),
        ));
    }
    drop(stop_rx);
    shutdown.await;
    tracing::info!("shutting down: no new connections, draining open ones");
    let _ = stop_tx.send(true);
    if tokio::time::timeout(GRACE, stop_tx.closed()).await.is_err() {
        tracing::warn!("grace period over, closing the remaining connections");
    }
}

async fn accept_loop(
    addr: Arc<ListenAddr>,
    listener: Listener,
    state: Arc<State>,
    mut stop: watch::Receiver<bool>,
) {
    let mut backoff = Duration::from_millis(10);
    loop {
        let accepted = tokio::select! {
            _ = stop.changed() => return,
            res = accept(&listener) => res,
        };
        match accepted {
            Ok((Conn::Tcp(stream), Some(peer))) => {
                backoff = Duration::from_millis(10);
                let _ = stream.set_nodelay(true);
                if !state.config.client_allowed(peer.ip()) {
                    state.metrics.refused_clients.inc();
                    tokio::spawn(refuse_client(stream, peer));
                    continue;
                }
                let slot = match state.client_caps.enter(peer.ip()) {
                    Ok(slot) => slot,
                    Err(open) => {
                        state.metrics.capped_connections.inc();
                        tokio::spawn(cap_client(stream, peer, open));
                        continue;
                    }
                };
                let (state, stop) = (state.clone(), stop.clone());
                let mut id = Identity {
                    listener: addr.clone(),
                    peer: Some(peer.ip()),
                    cred: None,
                    cert_names: Vec::new(),
                    labels: None,
                };
                let tls = match &listener {
                    Listener::Tls(_, acceptor) => Some(acceptor.clone()),
                    _ => None,
                };
                tokio::spawn(async move {
                    let client: Arc<str> = Arc::from(peer.to_string());
                    // The daemon is asked for the client's labels only once a TLS client has
                    // shown its certificate: a refused handshake costs the daemon nothing.
                    match tls {
                        None => {
                            id.labels = labels_of(&state, peer).await;
                            serve_connection(stream, client, id, state, stop).await;
                        }
                        Some(acceptor) => {
                            if let Some(tls) = handshake(&acceptor, stream, peer, &state).await {
                                id.cert_names = crate::tls::client_names(tls.get_ref().1);
                                id.labels = labels_of(&state, peer).await;
                                serve_connection(tls, client, id, state, stop).await;
                            }
                        }
                    }
                    drop(slot);
                });
            }
            Ok((Conn::Tcp(_), None)) => {}
            Ok((Conn::Unix(stream), _)) => {
                backoff = Duration::from_millis(10);
                // The kernel's word on who connected: the uid and gid the policies file's
                // MATCH_UID and MATCH_GID are about.
                let cred = stream.peer_cred().ok().map(|c| (c.uid(), c.gid()));
                let client: Arc<str> = match cred {
                    Some((uid, gid)) => Arc::from(format!("unix:{uid}:{gid}")),
                    None => Arc::from("unix"),
                };
                let id = Identity {
                    listener: addr.clone(),
                    peer: None,
                    cred,
                    cert_names: Vec::new(),
                    labels: None,
                };
                tokio::spawn(serve_connection(
                    stream,
                    client,
                    id,
                    state.clone(),
                    stop.clone(),
                ));
            }
            Err(e) => {
                tracing::warn!(error = %e, backoff_ms = backoff.as_millis() as u64, "accept failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
    }
}

enum Conn {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
}

async fn accept(listener: &Listener) -> std::io::Result<(Conn, Option<SocketAddr>)> {
    match listener {
        Listener::Tcp(l) | Listener::Tls(l, _) => {
            l.accept().await.map(|(s, a)| (Conn::Tcp(s), Some(a)))
        }
        Listener::Unix(l) => l.accept().await.map(|(s, _)| (Conn::Unix(s), None)),
    }
}

/// A client outside `GUARD_ALLOW_FROM` gets one JSON 403 and the connection closes.
async fn refuse_client(stream: tokio::net::TcpStream, peer: SocketAddr) {
    tracing::warn!(target: "audit", client = %peer, decision = "deny", reason = "GUARD_ALLOW_FROM", "client refused");
    let message = format!(
        "socket-guard: client {} is not in GUARD_ALLOW_FROM",
        peer.ip()
    );
    close_with(stream, "403 Forbidden", &message).await;
}

/// A client at its connection cap gets one JSON 429 and the new connection closes.
async fn cap_client(stream: tokio::net::TcpStream, peer: SocketAddr, open: usize) {
    tracing::warn!(target: "audit", client = %peer, decision = "deny", reason = "GUARD_MAX_CONNECTIONS_PER_CLIENT", open, "client over its connection cap");
    let message = format!(
        "socket-guard: client {} has {open} connections open (GUARD_MAX_CONNECTIONS_PER_CLIENT={open}); close one or raise the cap",
        peer.ip()
    );
    close_with(stream, "429 Too Many Requests", &message).await;
}

/// Writes one Docker-style JSON error with `status` and closes (2 seconds at most).
async fn close_with(mut stream: tokio::net::TcpStream, status: &str, message: &str) {
    let body = serde_json::json!({ "message": message }).to_string();
    let resp = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        let _ = stream.write_all(resp.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

/// The labels of the container a TCP client connects from, when a policy matches on them.
async fn labels_of(
    state: &State,
    peer: SocketAddr,
) -> Option<Arc<std::collections::HashMap<String, String>>> {
    if !state.policies().needs_labels() {
        return None;
    }
    crate::client_labels::of(state, peer.ip()).await
}

/// The TLS handshake of a client of a `tls://` listener, within the head timeout; a client
/// without a certificate signed by `GUARD_TLS_CA` is refused by the handshake itself (TLS has
/// no place for a JSON answer), audited and counted.
async fn handshake(
    acceptor: &TlsAcceptor,
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    state: &State,
) -> Option<tokio_rustls::server::TlsStream<tokio::net::TcpStream>> {
    let why = match tokio::time::timeout(state.config.header_timeout, acceptor.accept(stream)).await
    {
        Ok(Ok(tls)) => return Some(tls),
        Ok(Err(e)) => e.to_string(),
        Err(_) => "the TLS handshake timed out".to_owned(),
    };
    state.metrics.tls_refused.inc();
    tracing::warn!(target: "audit", client = %peer, decision = "deny", reason = %why, "TLS client refused");
    None
}

async fn serve_connection<S>(
    stream: S,
    client: Arc<str>,
    id: Identity,
    state: Arc<State>,
    stop: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    crate::conn::serve(stream, client, id, state, stop).await;
}
