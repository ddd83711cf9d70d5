//! socket-guard: a hardened allow-list proxy in front of the Docker socket.
//!
//! `main.rs` parses the configuration, sets up tracing, binds and calls [`server::run`];
//! tests bind `127.0.0.1:0` and call it in-process. The decisions themselves live in the pure
//! `policies` crate; this crate does the I/O around them.
//!
//! # Layout
//! - [`config`]: environment -> [`config::Config`]
//! - [`server`]: accept loops, connections, graceful shutdown
//! - [`framing`]: strict HTTP/1.1 framing check below hyper
//! - [`proxy`]: one request in phases: canonicalise, decide, inspect, rewrite, forward, answer
//! - [`upstream`]: the pooled unix-socket client to the daemon
//! - [`error`]: every failure and its status; [`response`]: JSON errors
//! - [`body`], [`audit`], [`metrics`]: streaming bodies with one audit line each, Prometheus
//! - [`admin`]: `/health` and `/metrics`; [`healthcheck`]: the HEALTHCHECK subcommand
//! - [`listen`]: binding TCP and unix listeners

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod admin;
pub mod audit;
pub mod body;
pub mod config;
pub mod error;
pub mod framing;
pub mod healthcheck;
pub mod listen;
pub mod metrics;
pub mod proxy;
pub mod response;
pub mod server;
pub mod upstream;
