//! An in-process socket-guard: the real `Config::from_env`, `listen::bind` and `server::run`,
//! bound to `127.0.0.1:0`, stopped when the [`Guard`] is dropped.
//!
//! [`GuardBuilder::start_killable`] runs it on a runtime of its own, so that dropping it ends
//! every connection at once, as killing the process would.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use socket_guard::config::Config;
use socket_guard::server::{self, Listener, State};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Builds a [`Guard`] from environment-style settings.
#[derive(Debug, Default, Clone)]
pub struct GuardBuilder {
    env: HashMap<String, String>,
}

impl GuardBuilder {
    /// Sets one variable, as the environment would (`CONTAINERS=1`).
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.insert(name.to_owned(), value.to_owned());
        self
    }

    /// Sets several variables.
    pub fn envs(mut self, pairs: &[(&str, &str)]) -> Self {
        for (k, v) in pairs {
            self.env.insert((*k).to_owned(), (*v).to_owned());
        }
        self
    }

    /// Sets the variables of a preset file (`policies/presets/*.env`: `NAME=value` lines,
    /// `#` comments).
    pub fn preset(mut self, text: &str) -> Self {
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (k, v) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("preset line {line:?} is not NAME=value"));
            self.env.insert(k.trim().to_owned(), v.trim().to_owned());
        }
        self
    }

    /// The Docker socket to guard (`SOCKET_PATH`); the real one by default.
    pub fn socket(self, path: impl AsRef<Path>) -> Self {
        let path = path
            .as_ref()
            .to_str()
            .expect("a UTF-8 socket path")
            .to_owned();
        self.env("SOCKET_PATH", &path)
    }

    /// Parses the configuration (panicking on an error, which is a test bug), binds
    /// `127.0.0.1:0` unless `GUARD_LISTEN` was set, and runs the server in a task.
    pub async fn start(self) -> Guard {
        self.launch()
    }

    /// [`GuardBuilder::start`] on a runtime of its own (one worker thread): dropping the
    /// guard shuts that runtime down, which closes every connection at once (open `/events`
    /// streams included), as killing the process would. A plain [`Guard`] drains open
    /// streams for up to socket-guard's grace period instead.
    pub async fn start_killable(self) -> Guard {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("killable-guard")
            .enable_all()
            .build()
            .expect("a runtime for the guard");
        let mut guard = {
            let _inside = runtime.enter();
            self.launch()
        };
        guard.runtime = Some(runtime);
        guard
    }

    /// Binds and spawns on the current runtime.
    fn launch(mut self) -> Guard {
        self.env
            .entry("GUARD_LISTEN".into())
            .or_insert_with(|| "127.0.0.1:0".into());
        let config = Config::from_env(&self.env, |p| {
            std::fs::read_to_string(p).map_err(|e| e.to_string())
        })
        .unwrap_or_else(|e| panic!("test configuration {:?} is invalid: {e}", self.env));
        let tls = config
            .tls
            .as_ref()
            .map(|files| socket_guard::tls::acceptor(files).expect("the TLS files"));
        let mut listeners = Vec::new();
        for listen in &config.listen {
            let l = socket_guard::listen::bind(listen, &config.socket_perms, tls.as_ref())
                .expect("bind the guard's listener");
            listeners.push((listen.clone(), l));
        }
        let addr = match &listeners[0].1 {
            Listener::Tcp(l) | Listener::Tls(l, _) => l.local_addr().expect("local address"),
            Listener::Unix(_) => panic!("the Guard fixture's first listener is TCP"),
        };
        let state = State::new(config);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server::run(listeners, state.clone(), async move {
            let _ = stopped.await;
        }));
        Guard {
            addr,
            state,
            stop: Some(stop),
            task,
            runtime: None,
        }
    }
}

/// A running in-process guard.
#[derive(Debug)]
pub struct Guard {
    addr: SocketAddr,
    state: Arc<State>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    /// Set by [`GuardBuilder::start_killable`].
    runtime: Option<tokio::runtime::Runtime>,
}

impl Guard {
    /// Serves the admin listener (`/health`, `/metrics`, `/decisions`, the decisions page) of
    /// this guard's state on `127.0.0.1:0`, as `GUARD_ADMIN_LISTEN` would: its address.
    pub async fn serve_admin(&self) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the guard's admin listener");
        let addr = listener.local_addr().expect("local address");
        tokio::spawn(socket_guard::admin::run_admin(
            Listener::Tcp(listener),
            self.state.clone(),
            std::future::pending(),
        ));
        addr
    }

    /// A builder with no settings (socket-guard's defaults: PING, VERSION, EVENTS).
    pub fn builder() -> GuardBuilder {
        GuardBuilder::default()
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `tcp://addr`, for DOCKER_HOST.
    pub fn docker_host(&self) -> String {
        format!("tcp://{}", self.addr)
    }

    /// The shared state: configuration and metrics.
    pub fn state(&self) -> &Arc<State> {
        &self.state
    }

    /// `socket_guard_requests_total` for one decision, section and status.
    pub fn requests_counted(
        &self,
        decision: &'static str,
        section: &'static str,
        status: u16,
    ) -> u64 {
        self.state
            .metrics
            .requests
            .get_or_create(&socket_guard::metrics::RequestLabels {
                decision,
                section,
                status,
            })
            .get()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // Do not wait for the grace period: the accept loops and connections see the
        // dropped watch channel and stop on their own.
        self.task.abort();
        // A killable guard: drop every task (and so every connection) now.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
