//! Caps on open client connections: one for the whole router (`ROUTER_MAX_CONNECTIONS`) and,
//! when set, one per client address (`ROUTER_MAX_CONNECTIONS_PER_IP`).
//!
//! Each client connection is a descriptor, and one being served may need a second for its
//! backend: without a cap, clients that merely hold connections open take every descriptor
//! and the router can then neither accept nor reach a backend. A connection over a cap is
//! closed as soon as it is accepted (before any byte is read: a plain page could not be
//! written to a connection that may start TLS), counted in
//! `router_refused_connections_total`, and logged at most once a second per cap.
//!
//! IPv6 clients are counted by their /64, the smallest block a client normally holds (one
//! host can pick any of its 2^64 addresses); an IPv4-mapped address counts as its IPv4.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

/// Descriptors kept out of the default cap, for backends, listeners, Docker and files.
const RESERVED_FDS: u64 = 1024;

/// The least default cap, however low the descriptor limit.
const MIN_DEFAULT: usize = 64;

/// The cap when none is set: the open-files limit less [`RESERVED_FDS`] (an idle kept-alive
/// client holds no backend connection, see [`crate::conn`]).
pub fn default_total(open_files: Option<u64>) -> usize {
    let limit = open_files.unwrap_or(1 << 20);
    (limit.saturating_sub(RESERVED_FDS) as usize).max(MIN_DEFAULT)
}

/// What a client address is counted by.
fn key(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => u128::from(u32::from(v4)),
            // The /64, with a bit no IPv4 key has.
            None => (u128::from(v6) & !((1u128 << 64) - 1)) | 1,
        },
    }
}

/// Which cap refused a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// `ROUTER_MAX_CONNECTIONS`.
    Total = 0,
    /// `ROUTER_MAX_CONNECTIONS_PER_IP`.
    PerAddress = 1,
}

impl Refused {
    /// Its label in `router_refused_connections_total`.
    fn label(self) -> CapLabel {
        CapLabel {
            cap: match self {
                Refused::Total => "total",
                Refused::PerAddress => "per_ip",
            },
        }
    }
}

/// The label of `router_refused_connections_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CapLabel {
    /// `total` or `per_ip`.
    pub cap: &'static str,
}

/// The caps and what is open against them.
#[derive(Debug)]
pub struct ConnLimits {
    total: usize,
    per_ip: Option<u32>,
    by_ip: Mutex<HashMap<u128, u32>>,
    /// `router_open_connections`: the count the total cap is checked against.
    pub open_gauge: Gauge,
    /// `router_refused_connections_total`.
    pub refused_counter: Family<CapLabel, Counter>,
    /// When each cap was last logged (at most once a second).
    logged: Mutex<[Option<Instant>; 2]>,
}

/// One open client connection, counted until dropped.
#[derive(Debug)]
pub struct Slot {
    limits: Arc<ConnLimits>,
    ip: Option<u128>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.limits.open_gauge.dec();
        if let Some(k) = self.ip {
            let mut by_ip = self.limits.lock();
            if let Some(n) = by_ip.get_mut(&k) {
                *n -= 1;
                if *n == 0 {
                    by_ip.remove(&k);
                }
            }
        }
    }
}

impl ConnLimits {
    /// At most `total` connections, and `per_ip` from one client address when set.
    pub fn new(total: usize, per_ip: Option<u32>) -> ConnLimits {
        ConnLimits {
            total,
            per_ip,
            by_ip: Mutex::default(),
            open_gauge: Gauge::default(),
            refused_counter: Family::default(),
            logged: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u128, u32>> {
        self.by_ip.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a new connection against the total cap, or refuses it (nothing is counted then).
    pub fn admit(self: &Arc<Self>) -> Result<Slot, Refused> {
        if usize::try_from(self.open_gauge.inc()).unwrap_or(0) >= self.total {
            self.open_gauge.dec();
            return Err(self.refuse(Refused::Total));
        }
        Ok(Slot {
            limits: self.clone(),
            ip: None,
        })
    }

    /// Counts an admitted connection against its client address's cap, once its address is
    /// known (after a PROXY protocol header); refused, it is counted nowhere once dropped.
    pub fn from_address(&self, slot: &mut Slot, ip: IpAddr) -> Result<(), Refused> {
        let Some(max) = self.per_ip else {
            return Ok(());
        };
        if slot.ip.is_some() {
            return Ok(());
        }
        let k = key(ip);
        let mut by_ip = self.lock();
        let n = by_ip.entry(k).or_insert(0);
        if *n >= max {
            drop(by_ip);
            return Err(self.refuse(Refused::PerAddress));
        }
        *n += 1;
        slot.ip = Some(k);
        Ok(())
    }

    fn refuse(&self, why: Refused) -> Refused {
        let i = why as usize;
        self.refused_counter.get_or_create(&why.label()).inc();
        let mut logged = self.logged.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        if logged[i].is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1)) {
            logged[i] = Some(now);
            match why {
                Refused::Total => tracing::warn!(
                    cap = self.total,
                    "ROUTER_MAX_CONNECTIONS reached: new client connections are closed at once"
                ),
                Refused::PerAddress => tracing::warn!(
                    cap = self.per_ip,
                    "ROUTER_MAX_CONNECTIONS_PER_IP reached by a client address: its new connections are closed at once"
                ),
            }
        }
        why
    }

    /// Client connections open now.
    pub fn open(&self) -> usize {
        usize::try_from(self.open_gauge.get()).unwrap_or(0)
    }

    /// Connections refused by the total cap and by the per-address cap so far.
    pub fn refused(&self) -> (u64, u64) {
        let n = |why: Refused| self.refused_counter.get_or_create(&why.label()).get();
        (n(Refused::Total), n(Refused::PerAddress))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    impl ConnLimits {
        /// Admits a connection from `ip` against both caps, as the accept loop and the
        /// connection's start do in turn.
        fn admit_from(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, Refused> {
            let mut slot = self.admit()?;
            self.from_address(&mut slot, ip)?;
            Ok(slot)
        }
    }

    #[test]
    fn the_total_cap_refuses_one_over_and_frees_on_drop() {
        let l = Arc::new(ConnLimits::new(2, None));
        let a = l.admit_from(ip("10.0.0.1")).unwrap();
        let _b = l.admit_from(ip("10.0.0.2")).unwrap();
        assert_eq!(l.admit_from(ip("10.0.0.3")).unwrap_err(), Refused::Total);
        assert_eq!(l.open(), 2);
        drop(a);
        assert!(l.admit_from(ip("10.0.0.3")).is_ok());
        assert_eq!(l.refused(), (1, 0));
    }

    #[test]
    fn the_per_address_cap_counts_each_address_and_gives_back_the_total() {
        let l = Arc::new(ConnLimits::new(10, Some(1)));
        let a = l.admit_from(ip("10.0.0.1")).unwrap();
        assert_eq!(
            l.admit_from(ip("10.0.0.1")).unwrap_err(),
            Refused::PerAddress
        );
        // The mapped form is the same client.
        assert_eq!(
            l.admit_from(ip("::ffff:10.0.0.1")).unwrap_err(),
            Refused::PerAddress
        );
        let _b = l.admit_from(ip("10.0.0.2")).unwrap();
        assert_eq!(l.open(), 2);
        drop(a);
        assert!(l.admit_from(ip("10.0.0.1")).is_ok());
        assert!(l.lock().len() <= 2);
        assert_eq!(l.refused(), (0, 2));
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let l = Arc::new(ConnLimits::new(10, Some(1)));
        let _a = l.admit_from(ip("2001:db8:1:2::1")).unwrap();
        assert_eq!(
            l.admit_from(ip("2001:db8:1:2:ffff::9")).unwrap_err(),
            Refused::PerAddress
        );
        assert!(l.admit_from(ip("2001:db8:1:3::1")).is_ok());
        // No IPv6 /64 shares a key with an IPv4 address.
        assert!(l.admit_from(ip("::")).is_ok());
        assert!(l.admit_from(ip("0.0.0.0")).is_ok());
    }

    #[test]
    fn the_default_leaves_descriptors_for_backends() {
        assert_eq!(default_total(Some(20_000)), 18_976);
        assert_eq!(default_total(Some(1024)), 64);
        assert_eq!(default_total(None), (1 << 20) - 1024);
    }
}
