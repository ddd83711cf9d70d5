//! The pure model: labels -> definitions, rules -> matchers, containers -> routing table.
//! No I/O, no async: property tested and fuzzed.

pub mod auth;
pub mod labels;
pub mod rule;
pub mod table;
