//! The pure decision core of socket-guard.
//!
//! Nothing here does I/O, spawns tasks or logs: every function takes borrowed data and returns
//! a value, so the whole core can be unit tested, property tested and fuzzed.
//!
//! # Layout
//! - [`path`]: raw request target -> canonical [`path::Target`] (or why it is not canonical)
//! - [`endpoint`]: method + canonical path -> the Docker API [`endpoint::Endpoint`] reached
//! - [`section`]: the env-var sections and gates and what each grants
//! - [`rule`]: explicit anchored regex rules
//! - [`body`]: create/update body inspection with the daemon's JSON semantics
//! - [`policy`]: [`Policy::decide`] -> [`Decision`]
//! - [`config`]: environment -> [`Policy`]
//! - [`share`]: which allowed reads may share one daemon answer
//! - [`redact`]: the secrets taken out of allowed answers
//! - [`scope`]: which containers a client may see and touch at all
//! - [`learn`]: learn mode, and the least policy suggested from an audit log
//! - [`owner`]: what a client creates is stamped, and it touches only what it created
//! - [`policy_file`]: several named policies in one file, each for the clients it matches
//! - [`preset`]: the presets, built in

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod body;
pub mod config;
pub mod endpoint;
pub mod learn;
pub mod owner;
pub mod path;
pub mod policy;
pub mod policy_file;
pub mod preset;
pub mod redact;
pub mod rule;
pub mod scope;
pub mod section;
pub mod share;

pub use policy::{Allowed, Decision, Denied, Policy, Request};
