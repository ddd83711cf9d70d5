//! router: a Traefik-label reverse proxy that sees Docker only through socket-guard.
//!
//! # Layout
//! - [`model`]: pure: labels, rules, the routing table (built from containers, never mutated)
//! - [`discovery`]: bollard through socket-guard: list, follow events, rebuild, swap
//! - [`swarm`]: Swarm mode: services and running tasks through socket-guard, polled and on events
//! - [`live`]: the table in service plus runtime state that survives swaps
//! - [`proxy`]: one request in phases (routing, middlewares, rewriting), for both protocols
//! - [`conn`]: an HTTP/1.1 client connection on the raw bytes; [`wire`]: its heads
//! - [`upstream`]: the backend connections an HTTP/1.1 client connection keeps
//! - [`server`]: entry points (HTTP/2 through hyper); [`health`]: active checks
//! - [`admin`], [`metrics`]: the admin API and Prometheus metrics
//! - [`config`]: environment -> configuration

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod acme;
pub mod admin;
pub mod compress;
pub mod config;
pub mod conn;
pub mod discovery;
pub mod dynamic;
pub mod health;
pub mod live;
pub mod metrics;
pub mod model;
pub mod provider;
pub mod proxy;
pub mod server;
pub mod state;
pub mod swarm;
pub mod tls;
pub mod tree;
pub mod upstream;
pub mod wire;
