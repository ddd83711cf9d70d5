//! Starting a router from its [`Config`]: bind every entry point (and the admin listener),
//! build the TLS acceptor (certificate directory, file certificates, ACME), start the
//! providers, and hand back what serves. `main` and the end-to-end tests start routers the
//! same way; tests may bind listeners themselves first ([`Listeners`]).

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::server::{self, Shared};

/// Listeners bound beforehand, by entry point name (`admin` for the admin listener).
#[derive(Debug, Default)]
pub struct Listeners(Mutex<HashMap<String, TcpListener>>);

impl Listeners {
    /// Adds a listener for entry point `name`.
    pub fn insert(&self, name: &str, l: TcpListener) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_owned(), l);
    }

    fn take(&self, name: &str) -> Option<TcpListener> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name)
    }
}

type Serving = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A started router.
pub struct Started {
    /// The shared state (the table in service, metrics, configuration).
    pub shared: Arc<Shared>,
    /// Each entry point's bound address, by name.
    pub addrs: BTreeMap<String, SocketAddr>,
    /// The admin listener's address.
    pub admin: Option<SocketAddr>,
    serving: Vec<Serving>,
    /// Providers, the admin listener, ACME, the certificate watcher.
    pub background: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Started {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Started")
            .field("addrs", &self.addrs)
            .field("admin", &self.admin)
            .finish_non_exhaustive()
    }
}

impl Started {
    /// Serves every entry point until each has shut down and drained.
    pub async fn serve(self) {
        futures_util::future::join_all(self.serving).await;
        // The access lines of the last requests written before the program ends.
        if let Some(sink) = self.shared.access_sink.get() {
            sink.close();
        }
    }

    /// Serves in a task of its own: every task, the background ones included.
    pub fn spawn(mut self) -> Vec<JoinHandle<()>> {
        let mut tasks = std::mem::take(&mut self.background);
        tasks.push(tokio::spawn(self.serve()));
        tasks
    }
}

/// Binds, sets up TLS and starts the providers. `shutdown` makes the future each listener
/// stops on. The error says which key or variable is at fault.
pub async fn start<F, S>(config: Config, pre: &Listeners, shutdown: S) -> Result<Started, String>
where
    S: Fn() -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let (before, after) = server::raise_open_files_limit();
    if before != after {
        tracing::info!(
            before = before.map_or("unlimited".into(), |n| n.to_string()),
            after = after.map_or("unlimited".into(), |n| n.to_string()),
            "open files limit raised to its hard limit"
        );
    }
    let mut bound = Vec::new();
    let mut datagrams = Vec::new();
    for ep in &config.entry_points {
        if ep.udp.is_some() {
            let socket = crate::udp_serve::bind(ep)
                .await
                .map_err(|e| format!("{}={}: cannot bind: {e}", ep.key, ep.address))?;
            datagrams.push((ep.clone(), socket));
            continue;
        }
        let listener = match pre.take(&ep.name) {
            Some(l) => l,
            None => server::bind(ep)
                .await
                .map_err(|e| format!("{}={}: cannot bind: {e}", ep.key, ep.address))?,
        };
        bound.push((ep.clone(), listener));
    }
    let admin_listener = match (pre.take("admin"), config.admin_listen) {
        (Some(l), _) => Some(l),
        (None, Some(a)) => Some(
            server::listen(a).map_err(|e| format!("ROUTER_ADMIN_LISTEN={a}: cannot bind: {e}"))?,
        ),
        (None, None) => None,
    };
    let shared = Shared::new(config);
    for note in &shared.config.notes {
        tracing::warn!("{note}");
    }
    if let Some(a) = &shared.config.traefik_access_log {
        let sink = crate::access_log::Sink::open(a).map_err(|e| {
            let path = a
                .file_path
                .as_ref()
                .map_or("-".into(), |p| p.display().to_string());
            format!("accessLog.filePath={path}: cannot open: {e}")
        })?;
        let _ = shared.access_sink.set(sink);
    }
    let mut background = Vec::new();
    let tls_server = tls(&shared, &mut background).await?;
    let mut addrs = BTreeMap::new();
    let mut serving: Vec<Serving> = Vec::new();
    for (ep, listener) in bound {
        let addr = listener
            .local_addr()
            .map_err(|e| format!("{}: {e}", ep.key))?;
        addrs.insert(ep.name.clone(), addr);
        serving.push(Box::pin(server::run(
            listener,
            Arc::new(ep),
            Some(tls_server.clone()),
            shared.clone(),
            shutdown(),
        )));
    }
    for (ep, socket) in datagrams {
        let addr = socket
            .local_addr()
            .map_err(|e| format!("{}: {e}", ep.key))?;
        addrs.insert(ep.name.clone(), addr);
        serving.push(Box::pin(crate::udp_serve::run(
            socket,
            Arc::new(ep),
            shared.clone(),
            shutdown(),
        )));
    }
    tracing::info!(source = %shared.config.source, entrypoints = ?addrs, "router starting");
    crate::state::publish(&shared, crate::provider::internal::snapshot(&shared.config));
    controller(&shared, pre, &mut background, shutdown()).await?;
    providers(&shared, &mut background)?;
    if shared.expected_providers().is_empty() {
        shared
            .synced
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }
    let admin = match admin_listener {
        Some(l) => {
            let a = l
                .local_addr()
                .map_err(|e| format!("ROUTER_ADMIN_LISTEN: {e}"))?;
            background.push(tokio::spawn(crate::admin::run(
                l,
                shared.clone(),
                shutdown(),
            )));
            Some(a)
        }
        None => None,
    };
    Ok(Started {
        shared,
        addrs,
        admin,
        serving,
        background,
    })
}

/// A controller's listener for data planes (`ROUTER_CONTROLLER_LISTEN`, or the `controller`
/// listener handed in).
async fn controller<F>(
    shared: &Arc<Shared>,
    pre: &Listeners,
    background: &mut Vec<JoinHandle<()>>,
    stop: F,
) -> Result<(), String>
where
    F: Future<Output = ()> + Send + 'static,
{
    let (Some(hub), Some(crate::config::ControllerRole::Serve { listen, tls })) =
        (&shared.hub, &shared.config.controller)
    else {
        return Ok(());
    };
    let tls = crate::cluster::tls::server(tls)?;
    let listener = match pre.take("controller") {
        Some(l) => l,
        None => tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("ROUTER_CONTROLLER_LISTEN={listen}: cannot bind: {e}"))?,
    };
    tracing::info!(listen = %listener.local_addr().map_err(|e| e.to_string())?, "controller: serving data planes");
    background.push(tokio::spawn(crate::cluster::hub::serve(
        listener,
        tls,
        hub.clone(),
        stop,
    )));
    Ok(())
}

/// The TLS configurations every entry point uses for connections that start with a
/// handshake: certificates from `ROUTER_CERTS_DIR` (watched), files and ACME, else the
/// default or self-signed ones; options chosen by SNI.
async fn tls(
    shared: &Arc<Shared>,
    background: &mut Vec<JoinHandle<()>>,
) -> Result<Arc<crate::tls_config::TlsServer>, String> {
    let provider = crate::tls::provider(shared.config.tls_ciphers.as_deref())
        .map_err(|e| format!("ROUTER_TLS_CIPHERS: {e}"))?;
    let resolver = crate::tls::CertResolver::new(provider.clone());
    if let Some(dir) = &shared.config.certs_dir {
        if !dir.is_dir() {
            return Err(format!(
                "ROUTER_CERTS_DIR={}: not a directory",
                dir.display()
            ));
        }
        background.push(tokio::spawn(crate::tls::watch_dir(
            dir.clone(),
            resolver.clone(),
        )));
    }
    for (group, acme) in shared.config.acme_accounts().enumerate() {
        background
            .push(crate::acme::start(shared.clone(), acme.clone(), resolver.clone(), group).await?);
    }
    *shared
        .resolver
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = Some(resolver.clone());
    let server = crate::tls_config::TlsServer::new(provider, resolver);
    // The default options must build: a narrowing that leaves nothing stops the router here.
    server
        .config(&crate::dynamic::TlsOptions::default())
        .map_err(|e| format!("ROUTER_TLS_CIPHERS: {e}"))?;
    Ok(Arc::new(server))
}

/// Starts the configured providers.
fn providers(shared: &Arc<Shared>, background: &mut Vec<JoinHandle<()>>) -> Result<(), String> {
    if let Some((address, files)) = shared.config.follows() {
        let tls = crate::cluster::tls::client(files)?;
        background.push(tokio::spawn(crate::cluster::follow::run(
            shared.clone(),
            address.to_owned(),
            tls,
        )));
    }
    if let Some(p) = &shared.config.docker {
        let docker = crate::discovery::connect(crate::discovery::endpoint(p), p.tls.as_ref())
            .map_err(|e| format!("providers.docker: {e}"))?;
        background.push(tokio::spawn(crate::discovery::run(
            shared.clone(),
            p.clone(),
            docker,
        )));
    }
    if let Some(p) = &shared.config.file {
        background.push(tokio::spawn(crate::provider::file::run(
            shared.clone(),
            p.clone(),
        )));
    }
    if let Some(hub) = &shared.hub {
        for target in &shared.config.publish {
            let tls = target
                .client_config()
                .map_err(|e| format!("ROUTER_PUBLISH_TLS_*: {e}"))?;
            background.push(tokio::spawn(crate::kv::write::run(
                hub.clone(),
                target.clone(),
                tls,
            )));
        }
    }
    for p in [&shared.config.etcd, &shared.config.redis]
        .into_iter()
        .flatten()
    {
        let tls = p
            .client_config()
            .map_err(|e| format!("providers.{}.tls: {e}", p.store.name()))?;
        background.push(tokio::spawn(crate::kv::run(shared.clone(), p.clone(), tls)));
    }
    if let Some(p) = &shared.config.ecs {
        background.push(tokio::spawn(crate::ecs::run(shared.clone(), p.clone())));
    }
    if let Some(p) = &shared.config.swarm {
        let docker = crate::discovery::connect(crate::discovery::endpoint(p), p.tls.as_ref())
            .map_err(|e| format!("providers.swarm: {e}"))?;
        background.push(tokio::spawn(crate::swarm::run(
            shared.clone(),
            p.clone(),
            docker,
        )));
    }
    Ok(())
}
