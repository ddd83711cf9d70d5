//! router: a reverse proxy configured the way Traefik is, that sees Docker only through
//! socket-guard.
//!
//! # Layout
//! - [`config`]: Traefik's static configuration (file, flags, `TRAEFIK_*`) and `ROUTER_*`
//! - [`tree`]: the configuration tree labels, files, flags and variables all become
//! - [`dynamic`]: the dynamic configuration every provider produces (plain data)
//! - [`provider`]: the providers' pure parts (containers and labels, constraints);
//!   [`discovery`], [`swarm`]: the Docker and Swarm providers' I/O
//! - [`kv`]: the etcd and Redis providers' clients (their layout is [`provider::kv`])
//! - [`model`]: pure: rules, snapshots -> the routing table
//! - [`state`]: shared state; providers publish, the table is compiled and swapped
//! - [`startup`]: bind entry points, TLS, start providers; [`server`]: entry points
//!   (PROXY protocol, TLS sniffing, HTTP/2 through hyper)
//! - [`live`]: the table in service plus runtime state that survives swaps
//! - [`weighted`]: weighted picks, and the service under `weighted` and `failover` ones
//! - [`proxy`]: one request in phases (routing, middlewares, rewriting), for both protocols
//! - [`conn`]: an HTTP/1.1 client connection on the raw bytes; [`wire`]: its heads
//! - [`conn_limit`]: the caps on open client connections
//! - [`upstream`]: the backend connections an HTTP/1.1 client connection keeps
//! - [`health`]: active checks; [`admin`], [`metrics`]: the admin API and metrics

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub use startup::{start, Listeners, Started};

pub mod access_log;
pub mod acme;
pub mod acme_dns;
pub mod acme_store;
pub mod admin;
pub mod any_client_cert;
pub mod api;
pub mod api_extra;
pub mod ask;
pub mod backend_tls;
pub mod client_tls;
pub mod cluster;
pub mod compress;
pub mod config;
pub mod conn;
pub mod conn_limit;
pub mod container_cache;
pub mod dashboard;
pub mod discovery;
pub mod dynamic;
pub mod ecs;
pub mod entry_http;
pub mod error_text;
pub mod h2_body;
pub mod h2_idle;
pub mod h2_stall;
pub mod h2c;
pub mod health;
pub mod internal;
pub mod kv;
pub mod live;
pub mod metrics;
pub mod metrics_traefik;
pub mod middleware;
pub mod mirror;
pub mod model;
pub mod peer_sans;
pub mod provider;
pub mod proxy;
pub mod proxy_protocol;
pub mod send_watch;
pub mod server;
pub mod sniff;
pub mod startup;
pub mod state;
pub mod strategy;
pub mod swarm;
pub mod tcp_health;
pub mod tcp_serve;
pub mod tls;
pub mod tls_config;
pub mod tree;
pub mod udp_serve;
pub mod upload_watch;
pub mod upstream;
pub mod weighted;
pub mod wire;
pub mod workers;
