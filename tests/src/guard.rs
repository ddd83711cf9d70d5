//! An in-process socket-guard: the real `Config::from_env`, `listen::bind` and `server::run`,
//! bound to `127.0.0.1:0`, stopped when the [`Guard`] is dropped.

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
    pub async fn start(mut self) -> Guard {
        self.env
            .entry("GUARD_LISTEN".into())
            .or_insert_with(|| "127.0.0.1:0".into());
        let config = Config::from_env(&self.env, |p| {
            std::fs::read_to_string(p).map_err(|e| e.to_string())
        })
        .unwrap_or_else(|e| panic!("test configuration {:?} is invalid: {e}", self.env));
        let listener =
            socket_guard::listen::bind(&config.listen[0]).expect("bind the guard's listener");
        let addr = match &listener {
            Listener::Tcp(l) => l.local_addr().expect("local address"),
            Listener::Unix(_) => panic!("the Guard fixture listens on TCP"),
        };
        let state = State::new(config);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server::run(vec![listener], state.clone(), async move {
            let _ = stopped.await;
        }));
        Guard {
            addr,
            state,
            stop: Some(stop),
            task,
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
}

impl Guard {
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
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // Do not wait for the grace period: the accept loops and connections see the
        // dropped watch channel and stop on their own.
        self.task.abort();
    }
}
