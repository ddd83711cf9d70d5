//! Running the project's own `make` targets as a user would, with the published ports moved
//! to free ones (the stack and Swarm tests).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A TCP port free on loopback right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Runs `make <target>` at the repository root with `HTTP_PORT`/`HTTPS_PORT` and extra
/// variables, on the real Docker socket (no `DOCKER_HOST`).
pub fn make(target: &str, http: u16, https: u16, env: &[(&str, &str)]) -> Output {
    Command::new("make")
        .arg(target)
        .current_dir(repo())
        .env("HTTP_PORT", http.to_string())
        .env("HTTPS_PORT", https.to_string())
        .envs(env.iter().copied())
        .env_remove("DOCKER_HOST")
        .output()
        .expect("make runs")
}
