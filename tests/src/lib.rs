//! Fixtures for the end-to-end tests of socket-guard and the router: a real dockerd, the real
//! docker CLI, real clients (bollard, docker-py, a WebSocket client), hostile raw HTTP, fake
//! daemons for fault injection, and whoami backends in real containers.
//!
//! Nothing here skips: a test that needs the daemon calls [`docker::require_docker`], which
//! panics with how to start one. Every container a test creates is named `sgtest-<test>-<pid>...`
//! and registered with a [`docker::Cleanup`], which removes it through the real socket even
//! when the test fails.
//!
//! # Layout
//! - [`docker`]: the real daemon (raw API over its socket), the CLI, the test image, cleanup
//! - [`go`]: Go programs (`tests/go/`) built against Debian's Go packages (the Docker SDK)
//! - [`guard`]: [`guard::Guard`], an in-process socket-guard bound to `127.0.0.1:0`
//! - [`router`]: [`router::Router`], an in-process router that sees Docker only through a
//!   [`guard::Guard`] with the router preset; whoami containers with labels
//! - [`pebble`]: Debian's pebble ACME test server on loopback, validating against the router
//! - [`nginx`]: Debian's nginx on loopback, a real server beside the router (auth, backends)
//! - [`kv`]: Debian's etcd and Redis on loopback, written with `etcdctl` and `redis-cli`
//! - [`make`]: the project's `make` targets run as a user would (stack, Swarm)
//! - [`http`]: raw HTTP/1.1 over TCP: exact bytes out, every response parsed back
//! - [`fake`]: fake upstream daemons (a never-ending stream, a daemon that never answers, a
//!   relay to the real socket that can be cut)
//! - [`table`]: tables of hostile raw requests with their expected answers and (absent) effects
#![allow(clippy::unwrap_used)]

pub mod aws;
pub mod browser;
pub mod cluster;
pub mod docker;
pub mod fake;
pub mod go;
pub mod guard;
pub mod http;
pub mod kv;
pub mod make;
pub mod nginx;
pub mod pebble;
pub mod pki;
pub mod router;
pub mod table;

use std::time::Duration;

/// Polls `check` every 50 ms until it returns `true` or `bound` passes; returns whether it
/// did. For generous waits on effects that are asynchronous by nature (a socket closing).
pub async fn wait_until(bound: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + bound;
    loop {
        if check() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
