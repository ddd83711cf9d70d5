//! The body type of the hyper services the guard still runs: the admin listener and the
//! daemon health check. The proxy itself relays bytes (see [`crate::conn`]).

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};

/// A body sent to the daemon or to an admin client.
pub type GuardBody = BoxBody<Bytes, hyper::Error>;

/// Constructors for [`GuardBody`].
pub trait GuardBodyExt {
    /// No body.
    fn empty() -> GuardBody;
    /// A complete body.
    fn full(bytes: Bytes) -> GuardBody;
}

impl GuardBodyExt for GuardBody {
    fn empty() -> GuardBody {
        Empty::new().map_err(|never| match never {}).boxed()
    }
    fn full(bytes: Bytes) -> GuardBody {
        Full::new(bytes).map_err(|never| match never {}).boxed()
    }
}
