//! Cluster mode: one controller holds the Docker access (through socket-guard) and the file
//! provider, and data-plane routers that hold none get every provider's inputs from it over
//! mutual TLS (`ROUTER_CONTROLLER_LISTEN` on the controller, `ROUTER_CONTROLLER` on each data
//! plane, `ROUTER_CONTROLLER_TLS_{CA,CERT,KEY}` on both). The same publications can be
//! written into etcd and Redis in Traefik's KV layout ([`publish`], `ROUTER_PUBLISH`).

pub mod certs;
pub mod delta;
pub mod follow;
pub mod hub;
pub mod publish;
pub mod tls;
pub mod wire;
