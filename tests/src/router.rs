//! An in-process router: the real `Config::from_env`, `discovery::connect`/`run`,
//! `server::run` and (optionally) `admin::run`, on listeners bound to `127.0.0.1:0`, seeing
//! Docker only through a [`Guard`] with the router preset. The router runs on the host, so it
//! reaches containers on their bridge IPs directly.
//!
//! Also: whoami containers (`whoami:local`, built by `make images`) started with labels on a
//! per-test network, and the waits the tests share. Every router, service, middleware and host
//! name a test puts in a label goes through [`unique`], because every router sees every
//! container on the daemon, other tests' included.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use router::config::Config;
use router::live::Live;
use router::server::Shared;
use router::Listeners;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::docker::{inspect_container, real_docker_async_ok, require_image, Cleanup};
use crate::guard::{Guard, GuardBuilder};
use crate::http::{exchange, RawResponse};

/// socket-guard's router preset: what a router needs and nothing else.
pub const ROUTER_PRESET: &str = include_str!("../../policies/presets/router.env");

/// The demo backend image (`make images`).
pub const WHOAMI_IMAGE: &str = "whoami:local";

/// The port whoami listens on in its container.
pub const WHOAMI_PORT: u16 = 8080;

/// How long a test waits for an effect that is asynchronous by nature (an event seen, a
/// table swapped, a health check failing). Generous: a wait is never a timing assertion.
pub const BOUND: Duration = Duration::from_secs(20);

/// A guard builder with [`ROUTER_PRESET`].
pub fn router_guard() -> GuardBuilder {
    Guard::builder().preset(ROUTER_PRESET)
}

/// A guard builder with [`ROUTER_PRESET`] for a router reading labels under `prefix`
/// (`ROUTER_LABEL_PREFIX`): the preset's scope follows the prefix, as its comment says to.
pub fn router_guard_for_prefix(prefix: &str) -> GuardBuilder {
    router_guard().env("GUARD_VISIBLE_LABELS", &format!("{prefix}.*"))
}

/// `<word>-<pid>`: a name for labels (routers, services, middlewares, hosts) that no other
/// test binary running at the same time uses.
pub fn unique(word: &str) -> String {
    format!("{word}-{}", std::process::id())
}

// === Router ===

/// Builds a [`Router`] from environment-style settings.
#[derive(Debug, Default, Clone)]
pub struct RouterBuilder {
    env: HashMap<String, String>,
    flags: Vec<String>,
    admin: bool,
    websecure: bool,
    web_addr: Option<SocketAddr>,
    websecure_addr: Option<SocketAddr>,
    controller: Option<Option<SocketAddr>>,
}

impl RouterBuilder {
    /// A controller (cluster mode): serves data planes on `addr` (else `127.0.0.1:0`), set as
    /// `ROUTER_CONTROLLER_LISTEN`; [`Router::controller_addr`] says where.
    pub fn controller_on(mut self, addr: Option<SocketAddr>) -> Self {
        self.controller = Some(addr);
        self
    }

    /// Sets one variable, as the environment would (`ROUTER_EXPOSED_BY_DEFAULT=true`).
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.insert(name.to_owned(), value.to_owned());
        self
    }

    /// Traefik static configuration flags, as `router` takes them on its command line
    /// (`--certificatesresolvers.le.acme.email=...`).
    pub fn flags(mut self, flags: &[&str]) -> Self {
        self.flags.extend(flags.iter().map(|f| f.to_string()));
        self
    }

    /// Discovers containers (through the guard) and reads Traefik's file provider `path`,
    /// set as Traefik's flags set them.
    pub fn with_file(self, path: impl AsRef<std::path::Path>) -> Self {
        let file = format!("--providers.file.filename={}", path.as_ref().display());
        self.flags(&["--providers.docker=true", &file])
    }

    /// Also serves the admin API on its own `127.0.0.1:0` listener.
    pub fn admin(mut self) -> Self {
        self.admin = true;
        self
    }

    /// Also serves websecure (TLS) on its own `127.0.0.1:0` listener, set up as `main` does:
    /// the certificate directory watcher and ACME when their variables are set.
    pub fn websecure(mut self) -> Self {
        self.websecure = true;
        self
    }

    /// [`Self::websecure`] without the redirection from web to websecure that
    /// `ROUTER_WEBSECURE_LISTEN` brings: both entry points serve the routes.
    pub fn both_entry_points(self) -> Self {
        self.websecure().env("ROUTER_REDIRECT_TO_HTTPS", "false")
    }

    /// Binds web and websecure on these addresses (a restarted router on the ports of the
    /// previous one; an ACME test server validates on fixed ports). Implies [`Self::websecure`].
    pub fn listen_on(mut self, web: SocketAddr, websecure: SocketAddr) -> Self {
        self.websecure = true;
        self.web_addr = Some(web);
        self.websecure_addr = Some(websecure);
        self
    }

    /// Binds the listeners, points `DOCKER_HOST` at `guard`, parses the configuration
    /// (panicking on an error, which is a test bug) and runs discovery and the servers in
    /// tasks. `E2E_LOG=<filter>` prints the router's logs.
    pub async fn start(self, guard: &Guard) -> Router {
        match self.try_start(guard).await {
            Ok(r) => r,
            Err(e) => panic!("the router did not start: {e}"),
        }
    }

    /// [`Self::start`], returning what `main` would refuse to start with (the TLS and ACME
    /// setup errors) instead of panicking on it.
    pub async fn try_start(self, guard: &Guard) -> Result<Router, String> {
        self.try_start_with(Some(guard)).await
    }

    /// A data plane (cluster mode): starts with no `DOCKER_HOST` (set `ROUTER_CONTROLLER` and
    /// its TLS files); panics on a configuration error.
    pub async fn start_data_plane(self) -> Router {
        match self.try_start_with(None).await {
            Ok(r) => r,
            Err(e) => panic!("the data plane did not start: {e}"),
        }
    }

    /// A router without Docker access (no `DOCKER_HOST`): its providers are the ones its
    /// flags name (a KV store); panics on a configuration error.
    pub async fn start_without_docker(self) -> Router {
        match self.try_start_with(None).await {
            Ok(r) => r,
            Err(e) => panic!("the router did not start: {e}"),
        }
    }

    async fn try_start_with(mut self, guard: Option<&Guard>) -> Result<Router, String> {
        init_logs();
        let listeners = Listeners::default();
        let web = bind(self.web_addr).await;
        self.env.insert(
            "ROUTER_WEB_LISTEN".into(),
            web.local_addr().expect("local address").to_string(),
        );
        listeners.insert("web", web);
        if let Some(guard) = guard {
            self.env.insert("DOCKER_HOST".into(), guard.docker_host());
        }
        let mut controller = None;
        if let Some(addr) = self.controller {
            let l = bind(addr).await;
            let a = l.local_addr().expect("local address");
            self.env
                .insert("ROUTER_CONTROLLER_LISTEN".into(), a.to_string());
            listeners.insert("controller", l);
            controller = Some(a);
        }
        if self.websecure {
            let l = bind(self.websecure_addr).await;
            self.env.insert(
                "ROUTER_WEBSECURE_LISTEN".into(),
                l.local_addr().expect("local address").to_string(),
            );
            listeners.insert("websecure", l);
        } else {
            self.env
                .entry("ROUTER_WEBSECURE_LISTEN".into())
                .or_insert_with(|| "off".into());
        }
        if self.admin {
            let l = TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind the router's admin listener");
            self.env.insert(
                "ROUTER_ADMIN_LISTEN".into(),
                l.local_addr().expect("local address").to_string(),
            );
            listeners.insert("admin", l);
        }
        let args = router::config::sources::parse_args(&self.flags)
            .unwrap_or_else(|e| panic!("test flags {:?} are invalid: {e}", self.flags));
        let config = Config::load(&self.env, &args, false).unwrap_or_else(|e| {
            panic!(
                "test configuration {:?} {:?} is invalid: {e}",
                self.env, self.flags
            )
        });
        let (stop, stopped) = watch::channel(false);
        let started = router::start(config, &listeners, move || {
            let mut rx = stopped.clone();
            async move {
                let _ = rx.changed().await;
            }
        })
        .await?;
        let addrs = started.addrs.clone();
        let admin = started.admin;
        let shared = started.shared.clone();
        let tasks = started.spawn();
        Ok(Router {
            controller,
            addrs,
            admin,
            shared,
            stop,
            tasks,
        })
    }
}

/// Binds `addr` (else `127.0.0.1:0`), retrying for [`BOUND`]: a router just dropped may not
/// have closed the same port yet.
async fn bind(addr: Option<SocketAddr>) -> TcpListener {
    let addr = addr.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
    let deadline = tokio::time::Instant::now() + BOUND;
    loop {
        match TcpListener::bind(addr).await {
            Ok(l) => return l,
            Err(e) if tokio::time::Instant::now() >= deadline => {
                panic!("bind a router listener on {addr}: {e}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

fn init_logs() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    if let Ok(filter) = std::env::var("E2E_LOG") {
        let Ok(targets) = filter.parse::<tracing_subscriber::filter::Targets>() else {
            panic!("E2E_LOG={filter:?}: not a filter (`info`, `router=debug,info`)");
        };
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .finish()
            .with(targets)
            .try_init();
    }
}

/// A running in-process router, stopped when dropped.
#[derive(Debug)]
pub struct Router {
    controller: Option<SocketAddr>,
    addrs: std::collections::BTreeMap<String, SocketAddr>,
    admin: Option<SocketAddr>,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Router {
    /// A builder with no settings (the router's defaults).
    pub fn builder() -> RouterBuilder {
        RouterBuilder::default()
    }

    /// A controller's listener for data planes.
    pub fn controller_addr(&self) -> SocketAddr {
        self.controller
            .expect("not a controller: use RouterBuilder::controller_on")
    }

    /// The web entry point's address.
    pub fn web_addr(&self) -> SocketAddr {
        self.addr("web")
    }

    /// The websecure entry point (panics unless the builder asked for it).
    pub fn websecure_addr(&self) -> SocketAddr {
        self.addr("websecure")
    }

    /// The address of entry point `name` (panics when there is none).
    pub fn addr(&self, name: &str) -> SocketAddr {
        *self
            .addrs
            .get(name)
            .unwrap_or_else(|| panic!("the router has no entry point {name:?}: {:?}", self.addrs))
    }

    /// The admin listener (panics unless the builder asked for it).
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin
            .expect("the router was started without RouterBuilder::admin")
    }

    /// The shared state: `shared().live.load()` is the table in service.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// One request on the web entry point with `Host: host` (and `Connection: close`) and
    /// extra header lines.
    pub async fn request(&self, host: &str, path: &str, headers: &[(&str, &str)]) -> RawResponse {
        let mut raw = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
        for (k, v) in headers {
            raw.push_str(&format!("{k}: {v}\r\n"));
        }
        raw.push_str("\r\n");
        let ex = exchange(self.web_addr(), raw.as_bytes()).await;
        match ex.responses.into_iter().next() {
            Some(r) => r,
            None => panic!(
                "no response from the router to GET {path} (Host: {host}): {:?}",
                String::from_utf8_lossy(&ex.raw)
            ),
        }
    }

    /// `GET path` with `Host: host`: (status, body).
    pub async fn get(&self, host: &str, path: &str) -> (u16, String) {
        let r = self.request(host, path, &[]).await;
        (r.status, r.text())
    }

    /// `GET path` on the admin listener.
    pub async fn admin_get(&self, path: &str) -> RawResponse {
        let ex = exchange(
            self.admin_addr(),
            format!("GET {path} HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await;
        ex.responses
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no response from the admin API to GET {path}"))
    }

    /// `GET path` on the admin listener, as JSON (panics unless 200 with JSON).
    pub async fn admin_json(&self, path: &str) -> serde_json::Value {
        let r = self.admin_get(path).await;
        assert_eq!(r.status, 200, "admin GET {path}: {}", r.text());
        serde_json::from_slice(&r.body)
            .unwrap_or_else(|e| panic!("admin GET {path}: not JSON ({e}): {}", r.text()))
    }

    /// Polls admin `GET path` (JSON) until `check` holds; returns that answer. Panics after
    /// [`BOUND`] with `what` and the last answer.
    pub async fn wait_admin(
        &self,
        path: &str,
        what: &str,
        check: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = tokio::time::Instant::now() + BOUND;
        loop {
            let v = self.admin_json(path).await;
            if check(&v) {
                return v;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("{what}: not seen in admin GET {path} within {BOUND:?}; last: {v:#}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Whether the table in service has a route named `name` (`name@provider`).
    pub fn has_route(&self, name: &str) -> bool {
        self.shared
            .live
            .load()
            .table
            .routes
            .iter()
            .any(|r| r.name == name)
    }

    /// Waits until the table in service has a route named each of `names`.
    pub async fn wait_routes(&self, names: &[&str]) {
        self.wait_live(&format!("routes {names:?}"), |l| {
            names
                .iter()
                .all(|n| l.table.routes.iter().any(|r| r.name == *n))
        })
        .await;
    }

    /// Waits until the first table from Docker is in service.
    pub async fn wait_synced(&self) {
        let shared = self.shared.clone();
        let ok = crate::wait_until(BOUND, || {
            shared.synced.load(std::sync::atomic::Ordering::SeqCst)
        })
        .await;
        assert!(ok, "the router did not list containers within {BOUND:?}");
    }

    /// Polls `check` on the table in service until it holds; panics after [`BOUND`] with
    /// `what` and the table.
    pub async fn wait_live(&self, what: &str, check: impl Fn(&Live) -> bool) {
        let shared = self.shared.clone();
        let ok = crate::wait_until(BOUND, || check(&shared.live.load())).await;
        assert!(
            ok,
            "{what}: not seen within {BOUND:?}; the table:\n{}",
            self.shared.live.load().table.describe().join("\n")
        );
    }

    /// Polls `GET path` (Host: `host`) every 50 ms until it answers `status`; returns that
    /// response. Panics after [`BOUND`] with the last answer and the table.
    pub async fn wait_status(&self, host: &str, path: &str, status: u16) -> RawResponse {
        self.wait_for(host, path, &format!("answer {status}"), |r| {
            r.status == status
        })
        .await
    }

    /// Polls `GET path` (Host: `host`) until it answers 200 with `body`.
    pub async fn wait_body(&self, host: &str, path: &str, body: &str) -> RawResponse {
        self.wait_for(host, path, &format!("answer 200 {body:?}"), |r| {
            r.status == 200 && r.text() == body
        })
        .await
    }

    /// Polls `GET path` (Host: `host`) every 50 ms until `done` accepts the answer; returns
    /// it. Panics after [`BOUND`] with the last answer and the table.
    pub async fn wait_for(
        &self,
        host: &str,
        path: &str,
        what: &str,
        done: impl Fn(&RawResponse) -> bool,
    ) -> RawResponse {
        let deadline = tokio::time::Instant::now() + BOUND;
        loop {
            let r = self.request(host, path, &[]).await;
            if done(&r) {
                return r;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "GET {path} (Host: {host}) did not {what} within {BOUND:?}; last: {} {:?}; the table:\n{}",
                    r.status,
                    r.text(),
                    self.shared.live.load().table.describe().join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// The qualified name of a service the tests' containers define (`name@docker`), unless it
/// is already qualified.
pub fn qualified(name: &str) -> String {
    if name.contains('@') {
        name.to_owned()
    } else {
        format!("{name}@docker")
    }
}

/// Names of the containers behind `service` (qualified with `@docker` when it is not) that
/// may take requests now (Docker says ready, an address is known, no passive or active mark).
pub fn usable_backends(shared: &Shared, live: &Live, service: &str) -> Vec<String> {
    live.services
        .get(&qualified(service))
        .map(|s| {
            s.backends
                .iter()
                .filter(|b| shared.registry.usable(b))
                .map(|b| b.def.container().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

// === whoami containers ===

/// A whoami container a test started.
#[derive(Debug, Clone)]
pub struct Whoami {
    /// Container name (`sgtest-...`).
    pub name: String,
    /// Full id.
    pub id: String,
    /// Its hostname: what whoami prints first (`Hostname: ...`).
    pub hostname: String,
}

/// Container labels, Traefik style, built up key by key.
#[derive(Debug, Clone, Default)]
pub struct Labels(Vec<(String, String)>);

impl Labels {
    /// The labels as `(key, value)` pairs, in order.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// No labels.
    pub fn none() -> Labels {
        Labels::default()
    }

    /// `traefik.enable=true`.
    pub fn enabled() -> Labels {
        Labels::none().label("traefik.enable", "true")
    }

    /// Any label.
    pub fn label(mut self, key: &str, value: &str) -> Labels {
        self.0.push((key.to_owned(), value.to_owned()));
        self
    }

    /// `traefik.http.routers.<router>.<field>=<value>`.
    pub fn router(self, router: &str, field: &str, value: &str) -> Labels {
        self.label(&format!("traefik.http.routers.{router}.{field}"), value)
    }

    /// `traefik.http.services.<service>.loadbalancer.<field>=<value>`.
    pub fn service(self, service: &str, field: &str, value: &str) -> Labels {
        self.label(
            &format!("traefik.http.services.{service}.loadbalancer.{field}"),
            value,
        )
    }

    /// `traefik.http.middlewares.<middleware>.<field>=<value>`.
    pub fn middleware(self, middleware: &str, field: &str, value: &str) -> Labels {
        self.label(
            &format!("traefik.http.middlewares.{middleware}.{field}"),
            value,
        )
    }
}

/// Labels (under `prefix`) for a router `name` on `Host(host)` with cert resolver `le`.
pub fn acme_labels(prefix: &str, name: &str, host: &str) -> Labels {
    Labels::none()
        .label(&format!("{prefix}.enable"), "true")
        .label(
            &format!("{prefix}.http.routers.{name}.rule"),
            &format!("Host(`{host}`)"),
        )
        .label(
            &format!("{prefix}.http.routers.{name}.tls.certresolver"),
            "le",
        )
}

/// A file provider's file in `dir` with, for each `(name, host, target)`, a router `name` on
/// ``Host(`<host>`)`` to `target`: a service of that name with `target` its one server (an
/// `http://` URL), or `target` itself when it names a service (`prometheus@internal`).
pub fn routes_file(dir: &std::path::Path, routes: &[(&str, &str, &str)]) -> std::path::PathBuf {
    let (mut routers, mut services) = (String::new(), String::new());
    for (name, host, target) in routes {
        let service = if target.contains("://") {
            services.push_str(&format!(
                "    {name}:\n      loadBalancer:\n        servers: [{{url: \"{target}\"}}]\n"
            ));
            (*name).to_owned()
        } else {
            (*target).to_owned()
        };
        routers.push_str(&format!(
            "    {name}:\n      rule: Host(`{host}`)\n      service: {service}\n"
        ));
    }
    let mut yaml = format!("http:\n  routers:\n{routers}");
    if !services.is_empty() {
        yaml.push_str(&format!("  services:\n{services}"));
    }
    let file = dir.join("dynamic.yml");
    std::fs::write(&file, yaml).expect("write the dynamic file");
    file
}

/// `docker run -d --name <sgtest-...> --network <network> -l k=v ... <args> whoami:local` on
/// the real socket (registered with `c` for removal).
pub async fn run_whoami(
    c: &Cleanup,
    suffix: &str,
    network: &str,
    labels: &Labels,
    args: &[&str],
) -> Whoami {
    require_image(WHOAMI_IMAGE);
    let name = c.name(suffix);
    let label_args: Vec<String> = labels.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut cmd: Vec<&str> = vec!["run", "-d", "--name", &name, "--network", network];
    for l in &label_args {
        cmd.extend(["-l", l.as_str()]);
    }
    cmd.extend_from_slice(args);
    cmd.push(WHOAMI_IMAGE);
    let id = real_docker_async_ok(&cmd).await;
    let hostname = inspect_container(&name)
        .and_then(|v| v["Config"]["Hostname"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("inspect {name}: no Config.Hostname"));
    Whoami { name, id, hostname }
}

/// The container's IPv4 address on `network`, from the real daemon.
pub fn ip_on(container: &str, network: &str) -> String {
    let v = inspect_container(container).unwrap_or_else(|| panic!("{container} is gone"));
    v["NetworkSettings"]["Networks"][network]["IPAddress"]
        .as_str()
        .filter(|ip| !ip.is_empty())
        .unwrap_or_else(|| panic!("{container} has no address on {network}"))
        .to_owned()
}

/// Waits until whoami accepts connections on its address on `network` (so that no test
/// request meets a process that is still starting).
pub async fn wait_serving(w: &Whoami, network: &str) {
    let addr: SocketAddr = format!("{}:{WHOAMI_PORT}", ip_on(&w.name, network))
        .parse()
        .expect("an IP address");
    let deadline = tokio::time::Instant::now() + BOUND;
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} does not accept connections on {addr} after {BOUND:?}",
            w.name
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The container's `State.Health.Status` (`starting`, `healthy`, `unhealthy`), if it has a
/// health check.
pub fn health_of(container: &str) -> Option<String> {
    inspect_container(container)?["State"]["Health"]["Status"]
        .as_str()
        .map(str::to_owned)
}

/// The hostname whoami printed on its first line (`Hostname: <h>`).
pub fn hostname_in(body: &str) -> Option<&str> {
    body.lines().next()?.strip_prefix("Hostname: ")
}

/// Whether whoami's echo shows header `name` with `value` (names compared case-insensitively).
pub fn echoes_header(body: &str, name: &str, value: &str) -> bool {
    body.lines().any(|l| {
        l.split_once(": ")
            .is_some_and(|(k, v)| k.eq_ignore_ascii_case(name) && v == value)
    })
}
