//! The key-value store providers, `providers.etcd` and `providers.redis`, as Traefik has
//! them: the configuration is the keys under `rootKey` (default `traefik`) in Traefik's layout
//! ([`crate::provider::kv`]), read whole at start and again on every change the store
//! reports (etcd's watch, Redis's keyspace notifications).
//!
//! Reads are whole configurations: etcd answers a prefix range at one revision; Redis is read
//! with `SCAN` and `MGET` between two reads of the generation key (`<rootKey>/generation`,
//! which a writer such as cluster mode's publication bumps in the same `MULTI`/`EXEC` as its
//! keys), and read again when it moved. A store that cannot be reached keeps the last good
//! configuration in service; the provider reconnects with a growing delay (1 s to 30 s) and
//! says so in the log.
//!
//! - [`etcd`]: etcd v3 through its JSON gateway (`/v3/kv/range`, `/v3/watch`)
//! - [`redis`]: Redis, [`resp`] its wire protocol
//! - [`write`]: `ROUTER_PUBLISH`, a router's configuration written into these stores

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

use crate::dynamic::ClientTls;
use crate::server::Shared;

pub mod etcd;
pub mod redis;
pub mod resp;
pub mod write;

/// Which store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    Etcd,
    Redis,
}

impl Store {
    /// The provider's name (`@etcd`, `@redis`).
    pub fn name(self) -> &'static str {
        match self {
            Store::Etcd => "etcd",
            Store::Redis => "redis",
        }
    }

    /// Traefik's default endpoint.
    pub fn default_endpoint(self) -> &'static str {
        match self {
            Store::Etcd => "127.0.0.1:2379",
            Store::Redis => "127.0.0.1:6379",
        }
    }
}

/// `providers.etcd` or `providers.redis`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvProvider {
    /// Which store.
    pub store: Store,
    /// `endpoints`: `host:port`, tried in order.
    pub endpoints: Vec<String>,
    /// `rootKey`.
    pub root_key: String,
    /// `username` (etcd users, Redis ACL users).
    pub username: String,
    /// `password`.
    pub password: String,
    /// `tls`.
    pub tls: Option<ClientTls>,
    /// `db` (Redis).
    pub db: i64,
}

impl KvProvider {
    /// Traefik's defaults for `store`.
    pub fn traefik_defaults(store: Store) -> KvProvider {
        KvProvider {
            store,
            endpoints: vec![store.default_endpoint().to_owned()],
            root_key: "traefik".into(),
            username: String::new(),
            password: String::new(),
            tls: None,
            db: 0,
        }
    }

    /// The root key without slashes around it.
    pub fn root(&self) -> &str {
        crate::provider::kv::normalize_root(&self.root_key)
    }

    /// The TLS client configuration for `tls` (none: plain TCP); built once, at start.
    pub fn client_config(&self) -> Result<Option<Arc<rustls::ClientConfig>>, String> {
        self.tls
            .as_ref()
            .map(|t| crate::client_tls::config(Some(t)).map(Arc::new))
            .transpose()
    }

    /// The generation key a writer bumps with every publication.
    pub fn generation_key(&self) -> String {
        format!("{}/generation", self.root())
    }
}

/// A connection to a store.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// How long a connection to a store may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// How long one request to a store may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects to the first endpoint of `p` that answers, over TLS when `tls` is given.
pub async fn dial(
    p: &KvProvider,
    tls: Option<&Arc<rustls::ClientConfig>>,
) -> Result<(Box<dyn Io>, String), String> {
    let mut errors = Vec::new();
    for endpoint in &p.endpoints {
        match dial_one(endpoint, tls).await {
            Ok(io) => return Ok((io, endpoint.clone())),
            Err(e) => errors.push(format!("{endpoint}: {e}")),
        }
    }
    Err(errors.join("; "))
}

/// `host:port` of an endpoint written with or without a scheme (`http://`, `redis://`).
pub fn authority(endpoint: &str) -> &str {
    let e = endpoint.split_once("://").map_or(endpoint, |(_, r)| r);
    e.trim_end_matches('/')
}

/// Whether `endpoint` names a store: `host:port` (a scheme before it is allowed), with a port.
pub fn is_endpoint(endpoint: &str) -> bool {
    let a = authority(endpoint);
    let has_port = a
        .rsplit_once(':')
        .is_some_and(|(_, port)| port.parse::<u16>().is_ok_and(|p| p > 0));
    has_port && crate::dynamic::decode::split_host_port(a).is_some()
}

async fn dial_one(
    endpoint: &str,
    tls: Option<&Arc<rustls::ClientConfig>>,
) -> Result<Box<dyn Io>, String> {
    let addr = authority(endpoint);
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(addr))
        .await
        .map_err(|_| format!("no connection within {CONNECT_TIMEOUT:?}"))?
        .map_err(|e| e.to_string())?;
    let _ = tcp.set_nodelay(true);
    // A store gone silent (a partition, a lost host) ends a watch within seconds instead of
    // leaving the provider waiting on a dead connection.
    crate::upstream::watch_peer(&tcp);
    let Some(tls) = tls else {
        return Ok(Box::new(tcp));
    };
    let host = crate::dynamic::decode::split_host_port(addr)
        .map(|(h, _)| h)
        .unwrap_or_else(|| addr.to_owned());
    let name = rustls::pki_types::ServerName::try_from(host.trim_matches(['[', ']']).to_owned())
        .map_err(|e| format!("{host}: {e}"))?;
    let s = tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio_rustls::TlsConnector::from(tls.clone()).connect(name, tcp),
    )
    .await
    .map_err(|_| format!("no TLS handshake within {CONNECT_TIMEOUT:?}"))?
    .map_err(|e| format!("TLS: {e}"))?;
    Ok(Box::new(s))
}

/// A session with a store: reads the configuration, and waits for it to change.
enum Session {
    Etcd(etcd::Session),
    Redis(redis::Session),
}

impl Session {
    async fn open(p: &KvProvider, tls: Option<&Arc<rustls::ClientConfig>>) -> Result<Self, String> {
        Ok(match p.store {
            Store::Etcd => Session::Etcd(etcd::Session::open(p, tls).await?),
            Store::Redis => Session::Redis(redis::Session::open(p, tls).await?),
        })
    }

    /// Every pair under the root, whole.
    async fn read(&mut self) -> Result<Vec<(String, String)>, String> {
        match self {
            Session::Etcd(s) => s.read().await,
            Session::Redis(s) => s.read().await,
        }
    }

    /// Returns when the store reports a change under the root (a burst is one change).
    async fn changed(&mut self) -> Result<(), String> {
        match self {
            Session::Etcd(s) => s.changed().await,
            Session::Redis(s) => s.changed().await,
        }
    }
}

/// How long a burst of changes is gathered before the store is read again (a publication
/// of a thousand keys reports a thousand changes).
pub const SETTLE: Duration = Duration::from_millis(50);

/// The first wait before reconnecting to a store; it doubles up to [`RETRY_MAX`].
pub const RETRY_FIRST: Duration = Duration::from_secs(1);

/// The longest wait before reconnecting to a store.
pub const RETRY_MAX: Duration = Duration::from_secs(30);

/// The wait after `delay`.
pub fn next_delay(delay: Duration) -> Duration {
    (delay * 2).min(RETRY_MAX)
}

/// Runs the provider (`tls` from [`KvProvider::client_config`]): reads, publishes, and
/// publishes again on every change, reconnecting after any error with the last good
/// configuration kept in service.
pub async fn run(shared: Arc<Shared>, p: KvProvider, tls: Option<Arc<rustls::ClientConfig>>) {
    let name = p.store.name();
    let mut last: Option<Vec<(String, String)>> = None;
    let mut delay = RETRY_FIRST;
    loop {
        match session(&shared, &p, tls.as_ref(), &mut last, &mut delay).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(provider = name, error = %e, retry_in = ?delay, "KV store unavailable; the last good configuration stays in service");
            }
        }
        tokio::time::sleep(delay).await;
        delay = next_delay(delay);
    }
}

async fn session(
    shared: &Arc<Shared>,
    p: &KvProvider,
    tls: Option<&Arc<rustls::ClientConfig>>,
    last: &mut Option<Vec<(String, String)>>,
    delay: &mut Duration,
) -> Result<(), String> {
    let mut s = Session::open(p, tls).await?;
    tracing::info!(
        provider = p.store.name(),
        root = p.root(),
        "KV store connected"
    );
    *delay = RETRY_FIRST;
    loop {
        let mut pairs = s.read().await?;
        pairs.sort();
        if last.as_ref() != Some(&pairs) {
            publish(shared, p, &pairs).await;
            *last = Some(pairs);
        }
        s.changed().await?;
    }
}

/// Publishes the configuration `pairs` hold (and hands it to data planes on a controller).
async fn publish(shared: &Arc<Shared>, p: &KvProvider, pairs: &[(String, String)]) {
    let name = p.store.name();
    let read = crate::provider::kv::tree(p.root(), pairs);
    let ignored = read.ignored.len();
    if let Some(hub) = &shared.hub {
        let files = vec![crate::cluster::wire::File {
            path: format!("{name} {}", p.root()),
            root: crate::cluster::hub::inline_files(read.root.clone()),
        }];
        hub.set(name, crate::cluster::wire::Input::Files { files });
    }
    let mut snap = crate::provider::kv::snapshot_of(name, p.root(), read);
    crate::provider::file::check_client_cas(&mut snap);
    crate::provider::file::load_certificates(shared, &mut snap);
    tracing::info!(
        provider = name,
        keys = pairs.len(),
        not_configuration = ignored,
        routers = snap.config.http.routers.len(),
        tcp_routers = snap.config.tcp.routers.len(),
        "KV configuration read"
    );
    crate::state::off_workers(shared, move |shared| crate::state::publish(shared, snap)).await;
}
