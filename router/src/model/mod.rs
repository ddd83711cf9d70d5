//! The pure model: rules -> matchers, providers' snapshots -> the routing table. No I/O,
//! no async: property tested and fuzzed.
//!
//! - [`rule`]: Traefik's rule language (both syntaxes)
//! - [`compile`]: snapshots -> [`table::RouteTable`], references resolved across providers
//! - [`table`]: the table and its lookup
//! - [`lazy_api`]: a table's API view, made when first read
//! - [`patch`]: the next table patched from the one in service where one provider's routers
//!   and services changed
//! - [`composite`]: `weighted` and `failover` services, checked
//! - [`auth`]: htpasswd hashes for `basicauth`
//! - [`redirect`]: the `redirectScheme` decision
//! - [`tls`]: TLS options across providers, chosen by SNI

pub mod auth;
mod changes;
pub mod compile;
pub mod composite;
pub mod lazy_api;
mod patch;
pub mod redirect;
pub mod rule;
pub mod table;
pub mod tcp;
pub mod tls;
#[cfg(test)]
mod traefik_tables;
pub mod udp;
