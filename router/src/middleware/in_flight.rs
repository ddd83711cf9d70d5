//! `inFlightReq`: at most `amount` requests of one source (by default one host) in flight at
//! once; more answer 429. A request counts from the middleware until its answer is done (for
//! HTTP/2 clients: until the answer's head is sent).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::{Flow, InUse, Request};
use crate::dynamic::SourceCriterion;
use crate::proxy::ProxyError;

/// Requests in flight by (middleware in use, source): apart for each router using the
/// middleware, as Traefik's instances are (see [`InUse`]).
#[derive(Debug, Default)]
pub struct Counts(Mutex<HashMap<(InUse, String), u64>>);

/// One request counted; uncounted when dropped.
#[derive(Debug)]
pub struct Held {
    counts: Arc<Counts>,
    key: (InUse, String),
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut map = self.counts.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = map.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.key);
            }
        }
    }
}

/// Counts the request, or refuses it with 429 when its source has `amount` in flight through
/// this instance.
pub fn apply(
    at: InUse,
    amount: u64,
    source: &SourceCriterion,
    r: &mut Request<'_, '_>,
) -> Result<Flow, ProxyError> {
    let who = super::ip_allow_list::source_key(source, r);
    let counts = r.shared.in_flight.clone();
    let key = (at, who);
    {
        let mut map = counts.0.lock().unwrap_or_else(PoisonError::into_inner);
        let n = map.entry(key.clone()).or_insert(0);
        if *n >= amount {
            return Err(ProxyError::RateLimited);
        }
        *n += 1;
    }
    r.fx.held.push(Held { counts, key });
    Ok(Flow::Next)
}
