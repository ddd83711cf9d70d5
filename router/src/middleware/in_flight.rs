//! `inFlightReq`: at most `amount` requests of one source (by default one host) in flight at
//! once; more answer 429. A request counts from the middleware until its answer is done (for
//! HTTP/2 clients: until the answer's head is sent).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::{Flow, InUse, Request};
use crate::dynamic::SourceCriterion;
use crate::proxy::{Answer, ProxyError};

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
/// this instance (every request, when `amount` is 0 or below).
pub fn apply(
    at: InUse,
    amount: i64,
    source: &SourceCriterion,
    r: &mut Request<'_, '_>,
) -> Result<Flow, ProxyError> {
    let who = super::ip_allow_list::source_key(source, r);
    let counts = r.shared.in_flight.clone();
    let key = (at, who);
    {
        let mut map = counts.0.lock().unwrap_or_else(PoisonError::into_inner);
        let n = map.entry(key.clone()).or_insert(0);
        if u64::try_from(amount).is_ok_and(|most| *n >= most) || amount <= 0 {
            if *n == 0 {
                map.remove(&key);
            }
            return Ok(Flow::Answer(refusal(amount)));
        }
        *n += 1;
    }
    r.fx.held.push(Held { counts, key });
    Ok(Flow::Next)
}

/// The refusal, as Traefik's (oxy's connection limiter) writes it: 429 with
/// `max connections reached: <amount>`.
fn refusal(amount: i64) -> Answer {
    let mut headers = hyper::HeaderMap::new();
    headers.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Answer {
        status: hyper::StatusCode::TOO_MANY_REQUESTS,
        headers,
        body: bytes::Bytes::from(format!("max connections reached: {amount}")),
    }
}
