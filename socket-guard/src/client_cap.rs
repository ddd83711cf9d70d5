//! Caps per client address, so that one client (a dashboard polling in a loop, a runaway
//! script) cannot take the guard, or the daemon behind it, from the others:
//! `GUARD_MAX_CONNECTIONS_PER_CLIENT`, TCP connections open at once (over it: one JSON 429 and
//! the connection closes), and `GUARD_MAX_REQUESTS_PER_CLIENT`, requests per second with a
//! burst of as many (over it: a JSON 429 for that request). Unix clients are not counted: they
//! share no address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

/// How many clients' buckets are kept before full ones are forgotten.
const BUCKETS_KEPT: usize = 65_536;

/// Requests per second per client address: a token bucket of `rate` tokens refilled at `rate`
/// a second.
#[derive(Debug, Default)]
pub struct RateCaps {
    rate: Option<f64>,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl RateCaps {
    /// `rate` requests a second per client (`None`: no cap).
    pub fn new(rate: Option<usize>) -> RateCaps {
        RateCaps {
            rate: rate.map(|r| r as f64),
            buckets: Mutex::default(),
        }
    }

    /// Whether a request of `ip` at `now` is within its rate (it is then counted).
    pub fn admit(&self, ip: IpAddr, now: Instant) -> bool {
        let Some(rate) = self.rate else {
            return true;
        };
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() >= BUCKETS_KEPT && !buckets.contains_key(&ip) {
            // Forget the clients whose buckets are full again: they lose nothing.
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.saturating_duration_since(*at).as_secs_f64() * rate < rate
            });
        }
        let (tokens, at) = buckets.entry(ip).or_insert((rate, now));
        *tokens = (*tokens + now.saturating_duration_since(*at).as_secs_f64() * rate).min(rate);
        *at = now;
        if *tokens < 1.0 {
            return false;
        }
        *tokens -= 1.0;
        true
    }
}

/// Open connections per client address.
#[derive(Debug, Default)]
pub struct ClientCaps {
    max: Option<usize>,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One counted connection; uncounted when dropped.
#[derive(Debug)]
pub struct Slot {
    caps: Arc<ClientCaps>,
    ip: IpAddr,
}

impl ClientCaps {
    /// Caps of `max` per client (`None`: no cap).
    pub fn new(max: Option<usize>) -> ClientCaps {
        ClientCaps {
            max,
            open: Mutex::default(),
        }
    }

    /// Counts a new connection of `ip`, or `Err` with the number it has open when that is
    /// the cap already.
    pub fn enter(self: &Arc<Self>, ip: IpAddr) -> Result<Option<Slot>, usize> {
        let Some(max) = self.max else {
            return Ok(None);
        };
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let n = open.entry(ip).or_insert(0);
        if *n >= max {
            return Err(*n);
        }
        *n += 1;
        Ok(Some(Slot {
            caps: self.clone(),
            ip,
        }))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self
            .caps
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_over_its_rate_is_refused_until_its_bucket_refills() {
        let caps = RateCaps::new(Some(4));
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let t0 = Instant::now();
        for _ in 0..4 {
            assert!(caps.admit(a, t0));
        }
        assert!(!caps.admit(a, t0), "a fifth request in the same instant");
        assert!(caps.admit(b, t0), "another client has its own bucket");
        assert!(!caps.admit(a, t0 + std::time::Duration::from_millis(100)));
        assert!(caps.admit(a, t0 + std::time::Duration::from_millis(300)));
        assert!(RateCaps::new(None).admit(a, t0));
    }

    #[test]
    fn a_client_over_its_cap_is_refused_until_one_of_its_connections_ends() {
        let caps = Arc::new(ClientCaps::new(Some(2)));
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let one = caps.enter(a);
        let two = caps.enter(a);
        assert!(matches!((&one, &two), (Ok(Some(_)), Ok(Some(_)))));
        assert_eq!(caps.enter(a).err(), Some(2));
        assert!(
            matches!(caps.enter(b), Ok(Some(_))),
            "another client is served"
        );
        drop(one);
        assert!(matches!(caps.enter(a), Ok(Some(_))));
        drop(two);
        let uncapped = Arc::new(ClientCaps::new(None));
        assert!(matches!(uncapped.enter(a), Ok(None)));
    }
}
