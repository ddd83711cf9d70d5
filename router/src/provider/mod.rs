//! Providers: each turns a source of configuration into a [`crate::dynamic::Snapshot`]
//! (plain data) and never touches the routing table. The pure parts live here; the I/O that
//! feeds them (Docker events, Swarm polling, file watching) lives beside them.
//!
//! - [`container`]: containers or Swarm tasks and their labels (the Docker and Swarm
//!   providers)
//! - [`ecs`]: ECS tasks' containers and their task definitions' labels (the ECS provider)
//! - [`constraints`]: the providers' `constraints` expressions
//! - [`file`]: dynamic configuration files (read and watched), [`template`]: their Go
//!   templates
//! - [`internal`]: what the static configuration defines (`api@internal`, redirections)
//! - [`kv`]: the KV stores' layout (etcd, Redis), read as a file is

pub mod constraints;
pub mod container;
mod container_tcp;
#[cfg(test)]
mod corpus_labels;
pub mod ecs;
pub mod file;
mod fragments;
pub mod internal;
pub mod kv;
mod merge;
pub(crate) mod mixed;
pub mod template;
#[cfg(test)]
mod traefik_internal_tables;
#[cfg(test)]
mod traefik_merge_tables;
#[cfg(test)]
mod traefik_swarm_tables;
#[cfg(test)]
mod traefik_tables;
