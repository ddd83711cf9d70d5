//! socket-guard: a hardened allow-list proxy in front of the Docker socket.
//!
//! `main.rs` parses the configuration, sets up tracing, binds and calls [`server::run`];
//! tests bind `127.0.0.1:0` and call it in-process. The decisions themselves live in the pure
//! `policies` crate; this crate does the I/O around them.
//!
//! # Layout
//! - [`config`]: environment -> [`config::Config`]
//! - [`server`]: accept loops, connections, graceful shutdown
//! - [`conn`]: one client connection: read a head, judge, inspect, rewrite, forward, relay
//! - [`framing`]: strict HTTP/1.1 framing (heads, lengths, chunks), the `http1-framing` crate
//! - [`wire`]: request and response heads, parsed and written back end-to-end only
//! - [`proxy`]: the judging phases: canonicalise, decide, and what a refusal says
//! - [`coalesce`]: identical concurrent reads sharing one daemon answer
//! - [`redaction`]: answers rewritten without their secrets (what goes: `policies::redact`)
//! - [`visibility`]: the daemon lookups a visibility scope needs (`policies::scope`)
//! - [`upstream`]: dialling the socket; the pooled client for health checks
//! - [`error`]: every failure and its status; [`response`]: JSON errors
//! - [`audit`], [`metrics`]: one audit line per request, Prometheus; [`body`]: admin bodies
//! - [`admin`]: `/health` and `/metrics`; [`healthcheck`]: the HEALTHCHECK subcommand
//! - [`listen`]: binding TCP, mutual-TLS and unix listeners; [`tls`]: the TLS side
//! - [`policy_set`]: several policies, each for the clients it matches

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod admin;
pub mod audit;
pub mod body;
pub mod client_cap;
pub mod client_labels;
pub mod coalesce;
pub mod config;
pub mod conn;
pub mod dashboard;
pub mod decisions;
pub mod error;
pub mod healthcheck;
pub mod listen;
pub mod metrics;
pub mod ownership;
pub mod policy_set;
pub mod proxy;
pub mod redaction;
pub mod reload;
pub mod response;
pub mod server;
pub mod tls;
pub mod upstream;
pub mod visibility;
pub mod wire;

/// Strict HTTP/1.1 framing, shared with the router: see the `http1-framing` crate.
pub use http1_framing as framing;
