//! A load balancer's `strategy` besides `wrr` (which is [`crate::live::Registry::pick`]'s
//! round robin): Traefik's `p2c`, `hrw` and `leasttime`
//! (`pkg/server/service/loadbalancer/{p2c,hrw,leasttime}`). Each picks among the backends a
//! predicate lets through (usable, not the one just tried), with no allocation; only
//! `leasttime` takes a lock (on a tie of scores, and to record an answer's time).

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::PoisonError;
use std::time::Duration;

use crate::live::LiveBackend;

// === p2c ===

/// `p2c` (Traefik's `p2c.Balancer.nextServer`): among the backends `ok` lets through,
/// weights not read (one of weight 0 is picked as any other, as Traefik's `p2c` adds every
/// server), two distinct ones drawn from `draw` (any 64 bits: they are mixed here), and of
/// them the one with fewer requests in flight.
pub fn p2c(
    backends: &[LiveBackend],
    draw: u64,
    ok: impl Fn(&&LiveBackend) -> bool,
) -> Option<&LiveBackend> {
    let n = backends.iter().filter(&ok).count();
    let r = splitmix64(draw);
    p2c_drawn(backends, below(r as u32, n), below((r >> 32) as u32, n), ok)
}

/// [`p2c`] with its two draws in `0..n` given (`n` the backends `ok` lets through; Go's
/// `Intn(n)` twice): a second draw equal to the first is moved to the next candidate
/// (wrapping); the second is taken only when it has strictly fewer requests in flight. With
/// one candidate, it; with none, none.
fn p2c_drawn(
    backends: &[LiveBackend],
    first: usize,
    second: usize,
    ok: impl Fn(&&LiveBackend) -> bool,
) -> Option<&LiveBackend> {
    let n = backends.iter().filter(&ok).count();
    if n < 2 {
        return backends.iter().find(ok);
    }
    let second = if second == first {
        (second + 1) % n
    } else {
        second
    };
    let nth = |k: usize| backends.iter().filter(&ok).nth(k);
    let inflight = |b: &LiveBackend| b.state.inflight.load(Ordering::Relaxed);
    match (nth(first), nth(second)) {
        (Some(a), Some(b)) if inflight(b) < inflight(a) => Some(b),
        (Some(a), _) => Some(a),
        // One stopped being usable since the count: any that is.
        (None, b) => b.or_else(|| backends.iter().find(&ok)),
    }
}

/// `x` in `0..n` from 32 random bits (multiply and shift).
fn below(x: u32, n: usize) -> usize {
    ((u64::from(x) * n as u64) >> 32) as usize
}

/// SplitMix64's output function: well-mixed bits from a counter.
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

// === hrw ===

/// `hrw` (Traefik's `hrw.Balancer.nextServer`): of the backends of weight above 0 that `ok`
/// lets through, the one with the highest [`hrw_score`] for the client's IP address as text
/// (Traefik's `RemoteAddrStrategy`: the connection's address, never `X-Forwarded-For`), so
/// a client keeps its server while the set of servers stays.
pub fn hrw(
    backends: &[LiveBackend],
    client: IpAddr,
    ok: impl Fn(&&LiveBackend) -> bool,
) -> Option<&LiveBackend> {
    let mut text = IpText::new();
    // Always fits: an address is at most 45 bytes.
    let _ = std::fmt::Write::write_fmt(&mut text, format_args!("{client}"));
    let key = text.as_bytes();
    let mut best = None;
    let mut high = 0.0;
    for b in backends.iter().filter(|b| b.def.weight > 0 && ok(b)) {
        let s = hrw_score(key, &b.def.written, b.def.weight);
        if s > high {
            best = Some(b);
            high = s;
        }
    }
    best
}

/// Traefik's `getNodeScore`: FNV-1a 64 of the client's key followed by the server's name (its
/// URL as written) as a fraction `u` of 2^64, then `1 / -ln(u) * weight`.
fn hrw_score(key: &[u8], name: &str, weight: u32) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &c in key.iter().chain(name.as_bytes()) {
        h = (h ^ u64::from(c)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    let u = h as f64 / 18_446_744_073_709_551_616.0;
    1.0 / -u.ln() * f64::from(weight)
}

/// An IP address as text, on the stack.
struct IpText {
    buf: [u8; 48],
    len: usize,
}

impl IpText {
    fn new() -> IpText {
        IpText {
            buf: [0; 48],
            len: 0,
        }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl std::fmt::Write for IpText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

// === leasttime ===

/// How many answer times a server keeps (Traefik's `sampleSize`).
pub const SAMPLES: usize = 100;

/// A server's last [`SAMPLES`] times to an answer's head, in whole milliseconds as Traefik
/// counts them (`Duration.Milliseconds`), and their mean, readable without the lock.
#[derive(Debug)]
pub struct Ttfb {
    ring: std::sync::Mutex<Ring>,
    /// The mean's bits (0.0 before any answer).
    mean: AtomicU64,
}

#[derive(Debug)]
struct Ring {
    times: [f64; SAMPLES],
    next: usize,
    sum: f64,
    count: usize,
}

impl Default for Ttfb {
    fn default() -> Self {
        Ttfb {
            ring: std::sync::Mutex::new(Ring {
                times: [0.0; SAMPLES],
                next: 0,
                sum: 0.0,
                count: 0,
            }),
            mean: AtomicU64::new(0f64.to_bits()),
        }
    }
}

impl Ttfb {
    /// Adds one answer's time, in place of the oldest once there are [`SAMPLES`].
    pub fn record(&self, elapsed: Duration) {
        let ms = elapsed.as_millis() as f64;
        let mut r = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        if r.count < SAMPLES {
            r.count += 1;
        } else {
            r.sum -= r.times[r.next];
        }
        let i = r.next;
        r.times[i] = ms;
        r.sum += ms;
        r.next = (i + 1) % SAMPLES;
        let mean = r.sum / r.count as f64;
        self.mean.store(mean.to_bits(), Ordering::Relaxed);
    }

    /// The mean of the times kept (0 with none: a new server is tried first).
    pub fn mean(&self) -> f64 {
        f64::from_bits(self.mean.load(Ordering::Relaxed))
    }
}

/// `leasttime`'s tie-break: Traefik's earliest-deadline-first among servers of equal score,
/// a deadline per backend (by index). Made anew with each table, as Traefik makes its
/// balancer anew with each configuration.
#[derive(Debug)]
pub struct Deadlines {
    of: Vec<f64>,
}

impl Deadlines {
    /// As Traefik's `Add`, in order: each server of weight above 0 starts at the latest
    /// deadline plus `1 / weight`.
    pub fn new(backends: &[LiveBackend]) -> Deadlines {
        let mut latest = 0.0;
        let of = backends
            .iter()
            .map(|b| {
                if b.def.weight > 0 {
                    latest += 1.0 / f64::from(b.def.weight);
                }
                latest
            })
            .collect();
        Deadlines { of }
    }
}

/// `leasttime` (Traefik's `leasttime.Balancer.nextServer`): of the backends of weight above 0
/// that `ok` lets through, the one with the lowest `mean time * (1 + in flight) / weight`;
/// among several equally low, the one with the earliest deadline, which then moves on by
/// `1 / weight` (weighted round robin among them). The lock is taken only on a tie.
pub fn least_time<'a>(
    backends: &'a [LiveBackend],
    deadlines: &std::sync::Mutex<Deadlines>,
    ok: impl Fn(&&LiveBackend) -> bool,
) -> Option<&'a LiveBackend> {
    let score = |b: &LiveBackend| {
        let mean = b.state.ttfb.get().map_or(0.0, |t| t.mean());
        let inflight = b.state.inflight.load(Ordering::Relaxed) as f64;
        mean * (1.0 + inflight) / f64::from(b.def.weight)
    };
    let eligible = |b: &&LiveBackend| b.def.weight > 0 && ok(b);
    let (mut low, mut best, mut ties) = (f64::MAX, None, 0);
    for b in backends.iter().filter(eligible) {
        let s = score(b);
        if s < low {
            (low, best, ties) = (s, Some(b), 1);
        } else if s == low {
            ties += 1;
        }
    }
    if ties < 2 {
        return best;
    }
    let mut d = deadlines.lock().unwrap_or_else(PoisonError::into_inner);
    let mut pick: Option<(usize, f64)> = None;
    for (i, b) in backends.iter().enumerate() {
        let at = d.of.get(i).copied().unwrap_or(f64::MAX);
        if eligible(&b) && score(b) == low && pick.is_none_or(|(_, p)| at < p) {
            pick = Some((i, at));
        }
    }
    // The scores moved since (an answer came): the lowest seen.
    let Some((i, at)) = pick else { return best };
    let next = at + 1.0 / f64::from(backends[i].def.weight);
    if let Some(slot) = d.of.get_mut(i) {
        *slot = next;
    }
    Some(&backends[i])
}

/// Traefik's `p2c_test.go` and `hrw_test.go`, translated. Where Traefik's test draws random
/// numbers, the rule is tested with the draws given (p2c) or the property its table checks
/// is tested over addresses from a fixed seed (hrw's shares within 10 of 100).
#[cfg(test)]
// The tables are tuples of plain data.
#[allow(clippy::type_complexity)]
mod traefik_tables {
    use super::*;
    use crate::model::table::{Backend, BackendStatus};
    use std::sync::Arc;

    /// Backends `first`, `second`, ... (URLs `http://first`, ...) with these weights and
    /// requests in flight.
    fn backends(weights: &[u32], inflight: &[usize]) -> Vec<LiveBackend> {
        const NAMES: [&str; 4] = ["first", "second", "third", "fourth"];
        weights
            .iter()
            .zip(inflight)
            .enumerate()
            .map(|(i, (&weight, &n))| {
                let url = format!("http://{}", NAMES[i]);
                let b = LiveBackend {
                    def: Backend {
                        url: url.clone(),
                        target: crate::model::compile::target(&format!("http://10.0.0.{i}:80")),
                        status: BackendStatus::Ready,
                        origin: None,
                        weight,
                        written: url,
                        path: String::new(),
                    },
                    state: Arc::default(),
                };
                b.state.inflight.store(n, Ordering::Relaxed);
                b
            })
            .collect()
    }

    fn name(b: Option<&LiveBackend>) -> Option<&str> {
        b.map(|b| b.def.written.trim_start_matches("http://"))
    }

    /// Addresses from a fixed seed (Traefik's `genIPAddress` over its seeded source).
    fn addresses(seed: u64, n: usize) -> Vec<IpAddr> {
        (0..n as u64)
            .map(|i| IpAddr::from((splitmix64(seed ^ i) as u32).to_be_bytes()))
            .collect()
    }

    /// `TestP2C`: the draws are Traefik's mocked `Intn` answers.
    #[test]
    fn p2c_picks_the_lower_of_the_two_drawn() {
        // (case, requests in flight per server, the two draws, server picked).
        let table: &[(&str, &[usize], (usize, usize), &str)] = &[
            ("one healthy handler", &[0], (0, 0), "first"),
            ("two handlers zero in flight", &[0, 0], (1, 0), "second"),
            ("chooses lower of two", &[0, 1], (1, 0), "first"),
            ("chooses lower of three", &[10, 90, 40], (1, 1), "third"),
            // The rule's other sides: the first drawn wins a tie; a repeated draw wraps.
            ("a tie goes to the first drawn", &[3, 3, 3], (2, 0), "third"),
            ("a repeated last draw wraps", &[0, 9, 1], (2, 2), "first"),
        ];
        for (case, inflight, (a, b), want) in table {
            let bs = backends(&vec![1; inflight.len()], inflight);
            let got = p2c_drawn(&bs, *a, *b, |_| true);
            assert_eq!(name(got), Some(*want), "{case}");
        }
    }

    /// `TestBalancerPropagate` and `TestBalancerAllServersFenced` (p2c), as the balancer sees
    /// them: only the servers it may use are drawn; none usable, no server (503). Weights are
    /// not read: a server of weight 0 is drawn as any other.
    #[test]
    fn p2c_draws_only_usable_servers() {
        // (case, weights, servers down, server(s) it may pick).
        let table: &[(&str, &[u32], &[usize], &[&str])] = &[
            ("both up", &[1, 1], &[], &["first", "second"]),
            ("second down", &[1, 1], &[1], &["first"]),
            ("both down", &[1, 1], &[0, 1], &[]),
            ("second up again", &[1, 1], &[0], &["second"]),
            ("weight 0 is drawn too", &[0, 0], &[], &["first", "second"]),
        ];
        for (case, weights, down, want) in table {
            let bs = backends(weights, &vec![0; weights.len()]);
            let ok = |b: &&LiveBackend| !down.iter().any(|&i| std::ptr::eq(*b, &bs[i]));
            let mut seen = std::collections::BTreeSet::new();
            for draw in 0..64 {
                if let Some(n) = name(p2c(&bs, draw, ok)) {
                    seen.insert(n.to_owned());
                }
            }
            let seen: Vec<&str> = seen.iter().map(String::as_str).collect();
            assert_eq!(seen, *want, "{case}");
        }
    }

    /// What the random draws give: two distinct servers, each about equally often, so with
    /// no requests in flight the picks spread evenly; the busiest of three is never picked
    /// (it loses to whichever other is drawn with it).
    #[test]
    fn p2c_draws_spread_and_avoid_the_busiest() {
        let bs = backends(&[1, 1, 1], &[0, 0, 0]);
        let mut count = [0usize; 3];
        for draw in 0..3000 {
            let b = p2c(&bs, draw, |_| true).expect("a server");
            count[bs.iter().position(|x| std::ptr::eq(x, b)).unwrap()] += 1;
        }
        // Each about a third (the first drawn wins every tie).
        assert!(
            count.iter().all(|&c| (900..=1100).contains(&c)),
            "{count:?}"
        );
        let bs = backends(&[1, 1, 1], &[2, 9, 0]);
        let mut count = [0usize; 3];
        for draw in 0..3000 {
            let b = p2c(&bs, draw, |_| true).expect("a server");
            count[bs.iter().position(|x| std::ptr::eq(x, b)).unwrap()] += 1;
        }
        assert_eq!(count[1], 0, "{count:?}");
        // The idlest wins each draw it is in: about two in three.
        assert!((1800..=2200).contains(&count[2]), "{count:?}");
    }

    /// Known answers of Traefik's `getNodeScore` (computed apart from this code): which of
    /// `first`, `second` and `third` (weight 1) an address goes to, as with Traefik.
    #[test]
    fn hrw_sends_an_address_where_traefik_does() {
        let table: &[(&str, &str)] = &[
            ("1.2.3.4", "first"),
            ("10.0.0.1", "second"),
            ("192.168.1.20", "first"),
            ("172.16.5.9", "second"),
            ("2001:db8::1", "second"),
            ("::1", "second"),
            ("8.8.8.8", "first"),
            ("127.0.0.1", "second"),
        ];
        let bs = backends(&[1, 1, 1], &[0, 0, 0]);
        for (ip, want) in table {
            let got = hrw(&bs, ip.parse().unwrap(), |_| true);
            assert_eq!(name(got), Some(*want), "{ip}");
        }
        let score = hrw_score(b"1.2.3.4", "http://first", 1);
        assert!((score - 2.059303).abs() < 1e-6, "{score}");
    }

    /// `hrw_test.go`: `TestBalancer`, `TestBalancerNoService`,
    /// `TestBalancerOneServerZeroWeight`, `TestBalancerNoServiceUp`,
    /// `TestBalancerOneServerDown`, `TestBalancerDownThenUp`,
    /// `TestBalancerAllServersZeroWeight`, `TestSticky` (one address, always one server).
    /// Left out: `TestBalancerPropagate` (an `hrw` of `hrw` services: the
    /// `highestRandomWeight` service is not read here) and `TestSticky_nginxUpstreamHashBy`
    /// (set only by Traefik's ingress-nginx provider; its "no key" row is `TestSticky`).
    #[test]
    fn hrw_shares_by_weight_and_keeps_a_client() {
        // (case, weights, servers down, clients (0: one unknown address, else that many
        // addresses from the seed), picks per server wanted within 10 (`None`: no server)).
        let table: &[(&str, &[u32], &[usize], usize, Option<&[usize]>)] = &[
            ("TestBalancer", &[4, 1], &[], 100, Some(&[80, 20])),
            ("TestBalancerNoService", &[], &[], 0, None),
            (
                "TestBalancerOneServerZeroWeight",
                &[1, 0],
                &[],
                3,
                Some(&[3, 0]),
            ),
            ("TestBalancerNoServiceUp", &[1, 1], &[0, 1], 1, None),
            ("TestBalancerOneServerDown", &[1, 1], &[1], 3, Some(&[3, 0])),
            (
                "TestBalancerDownThenUp: down",
                &[1, 1],
                &[1],
                3,
                Some(&[3, 0]),
            ),
            (
                "TestBalancerDownThenUp: up",
                &[1, 1],
                &[],
                100,
                Some(&[50, 50]),
            ),
            ("TestBalancerAllServersZeroWeight", &[0, 0], &[], 1, None),
        ];
        for (case, weights, down, clients, want) in table {
            let bs = backends(weights, &vec![0; weights.len()]);
            let ok = |b: &&LiveBackend| !down.iter().any(|&i| std::ptr::eq(*b, &bs[i]));
            let mut count = vec![0usize; weights.len()];
            let mut none = false;
            for ip in addresses(12345, (*clients).max(1)) {
                match hrw(&bs, ip, ok) {
                    Some(b) => count[bs.iter().position(|x| std::ptr::eq(x, b)).unwrap()] += 1,
                    None => none = true,
                }
            }
            match want {
                None => assert!(none && count.iter().all(|&c| c == 0), "{case}: {count:?}"),
                Some(want) => {
                    assert!(!none, "{case}");
                    for (got, want) in count.iter().zip(*want) {
                        let exact = *want == 0 || *clients < 10;
                        let slack = if exact { 0 } else { 10 };
                        assert!(got.abs_diff(*want) <= slack, "{case}: {count:?}");
                    }
                }
            }
        }
        // TestSticky: weights 1 and 2, one client, ten requests: one server every time.
        let bs = backends(&[1, 2], &[0, 0]);
        for ip in addresses(12345, 20) {
            let first = hrw(&bs, ip, |_| true).map(|b| b as *const LiveBackend);
            for _ in 0..10 {
                assert_eq!(hrw(&bs, ip, |_| true).map(|b| b as *const _), first, "{ip}");
            }
        }
    }
}

/// The strategies in service: a file provider's service compiled and attached, picked through
/// [`crate::live::Registry`] as a request is, with Traefik's `p2c_test.go` `TestSticky` and
/// `TestSticky_Fallback`, and what `service.go` gives each balancer (`hrw` gets no sticky
/// settings; health checks mark servers down for every strategy).
#[cfg(test)]
// The tables are tuples of plain data.
#[allow(clippy::type_complexity)]
pub(crate) mod in_service {
    use crate::config::Balancer;
    use crate::dynamic::sticky::server_value;
    use crate::live::{Live, Registry};
    use std::sync::atomic::Ordering;

    /// Service `svc@file` with `strategy`, cookie `test`, servers `http://first` and
    /// `http://second` of these weights.
    pub(crate) fn service(strategy: &str, weights: [u32; 2]) -> (Registry, Live) {
        let yaml = format!(
            "http:\n  services:\n    svc:\n      loadBalancer:\n        strategy: {strategy}\n        sticky:\n          cookie:\n            name: test\n        servers:\n          - url: http://first\n            weight: {}\n          - url: http://second\n            weight: {}\n",
            weights[0], weights[1]
        );
        crate::live::in_service(&yaml)
    }

    /// `svc@file` of `live` with the servers at `down` failing their check.
    fn failing<'a>(live: &'a Live, down: &[usize]) -> &'a crate::live::LiveService {
        let svc = &live.services["svc@file"];
        for &i in down {
            svc.backends[i]
                .state
                .check_failed
                .store(true, Ordering::Relaxed);
        }
        svc
    }

    /// Which server a cookie naming `named` sends to ([`Registry::named`]): `p2c` has every
    /// server, weight 0 too; `wrr` has no server of weight 0; neither one failing its check.
    #[test]
    fn a_sticky_cookie_per_strategy() {
        // (case, strategy, weights, servers failing their check, cookie value, server).
        let table: &[(&str, &str, [u32; 2], &[usize], String, Option<&str>)] = &[
            (
                "TestSticky_Fallback: p2c, a raw value",
                "p2c",
                [1, 1],
                &[],
                "http://second".into(),
                Some("http://second"),
            ),
            (
                "p2c: a server of weight 0",
                "p2c",
                [0, 1],
                &[],
                server_value("http://first"),
                Some("http://first"),
            ),
            (
                "leasttime: a server of weight 0",
                "leasttime",
                [0, 1],
                &[],
                server_value("http://first"),
                None,
            ),
            (
                "leasttime: a raw value",
                "leasttime",
                [1, 1],
                &[],
                "http://second".into(),
                Some("http://second"),
            ),
            (
                "wrr: a server of weight 0",
                "wrr",
                [0, 1],
                &[],
                server_value("http://first"),
                None,
            ),
            (
                "p2c: a server failing its check",
                "p2c",
                [1, 1],
                &[0],
                server_value("http://first"),
                None,
            ),
        ];
        for (case, strategy, weights, down, value, want) in table {
            let (reg, live) = service(strategy, *weights);
            let svc = failing(&live, down);
            let got = reg.named(svc, value, None);
            assert_eq!(got.map(|b| b.def.written.as_str()), *want, "{case}");
        }
    }

    /// `TestSticky` (p2c): the server picked first is the one its cookie then names, on
    /// every later request. `hrw` reads no cookie: its service has none.
    #[test]
    fn p2c_keeps_a_client_by_its_cookie_and_hrw_has_none() {
        let (reg, live) = service("p2c", [1, 1]);
        let svc = &live.services["svc@file"];
        assert!(live.table.services["svc@file"].sticky.is_some());
        let client = "192.0.2.1".parse().unwrap();
        let first = reg
            .pick(svc, Balancer::RoundRobin, None, client)
            .expect("a server");
        let cookie = server_value(&first.def.written);
        for _ in 0..3 {
            let b = reg.named(svc, &cookie, None).expect("the cookie's server");
            assert_eq!(b.def.written, first.def.written);
        }
        let (_, live) = service("hrw", [1, 1]);
        assert!(live.table.services["svc@file"].sticky.is_none());
        // The definition is shown as written, with its strategy.
        let def = live.table.api().services["svc@file"]
            .def
            .as_ref()
            .expect("defined");
        let json = serde_json::to_value(&def.load_balancer).unwrap();
        assert_eq!(json["strategy"], "hrw", "{json}");
        assert_eq!(json["sticky"]["name"], "test", "{json}");
    }

    /// Health checks and weights through [`Registry::pick`]: a server failing its check is
    /// never picked, none usable is no server (503); `hrw` gives a client one server.
    #[test]
    fn picks_per_strategy_skip_servers_down() {
        // (strategy, weights, servers failing their check, servers it may pick).
        let table: &[(&str, [u32; 2], &[usize], &[&str])] = &[
            ("p2c", [1, 1], &[0], &["http://second"]),
            ("p2c", [1, 1], &[0, 1], &[]),
            ("p2c", [0, 0], &[], &["http://first", "http://second"]),
            ("hrw", [1, 1], &[1], &["http://first"]),
            ("hrw", [1, 1], &[0, 1], &[]),
            ("hrw", [0, 1], &[], &["http://second"]),
            ("hrw", [0, 0], &[], &[]),
            ("wrr", [0, 1], &[], &["http://second"]),
            ("leasttime", [1, 1], &[0], &["http://second"]),
            ("leasttime", [1, 1], &[0, 1], &[]),
            ("leasttime", [0, 1], &[], &["http://second"]),
            ("leasttime", [1, 1], &[], &["http://first", "http://second"]),
        ];
        for (strategy, weights, down, want) in table {
            let (reg, live) = service(strategy, *weights);
            let svc = failing(&live, down);
            let mut seen = std::collections::BTreeSet::new();
            for i in 0..64u32 {
                let client = std::net::IpAddr::from(i.wrapping_mul(2_654_435_761).to_be_bytes());
                if let Some(b) = reg.pick(svc, Balancer::RoundRobin, None, client) {
                    seen.insert(b.def.written.clone());
                }
            }
            let seen: Vec<&str> = seen.iter().map(String::as_str).collect();
            assert_eq!(seen, *want, "{strategy} {weights:?} down {down:?}");
        }
        // One client, one server, whatever the other requests.
        let (reg, live) = service("hrw", [1, 1]);
        let svc = &live.services["svc@file"];
        let client = "198.51.100.7".parse().unwrap();
        let pick = || {
            reg.pick(svc, Balancer::RoundRobin, None, client)
                .map(|b| b.def.written.clone())
        };
        let first = pick();
        assert!((0..10).all(|_| pick() == first));
    }

    /// A `leasttime` service's servers keep the time to each answer's head, as the proxy
    /// counts an attempt ([`crate::live::InFlight`]); another strategy's read no clock.
    #[test]
    fn leasttime_keeps_answer_times() {
        let (_, live) = service("leasttime", [1, 1]);
        let state = &live.services["svc@file"].backends[0].state;
        let mut attempt = crate::live::InFlight::start(state);
        std::thread::sleep(std::time::Duration::from_millis(3));
        attempt.answered(200);
        drop(attempt);
        let mean = state.ttfb.get().expect("kept").mean();
        assert!((3.0..1000.0).contains(&mean), "{mean}");
        for strategy in ["wrr", "p2c", "hrw"] {
            let (_, live) = service(strategy, [1, 1]);
            let state = &live.services["svc@file"].backends[0].state;
            crate::live::InFlight::start(state).answered(200);
            assert!(state.ttfb.get().is_none(), "{strategy}");
        }
    }
}

/// Traefik's `leasttime_test.go`, translated. Its servers sleep and Traefik's clock measures
/// them; here each server has a fixed time to its answer's head, recorded as the proxy
/// records it after each pick ([`Ttfb::record`]), so the runs are exact. Left out: the
/// fenced rows (Kubernetes' terminating endpoints, not a label or file setting),
/// `TestBalancerPropagate` and `TestBalancerRegisterStatusUpdaterWithoutHealthCheck` (a
/// parent service's health: [`crate::weighted`]), the concurrency rows (atomics and a mutex
/// here, as there) and `TestTTFBMeasurement` (the proxy's side).
#[cfg(test)]
// The tables are tuples of plain data.
#[allow(clippy::type_complexity)]
mod leasttime_tables {
    use super::*;
    use crate::model::table::{Backend, BackendStatus};
    use std::sync::{Arc, Mutex};

    /// Servers `0`, `1`, ... with these weights, their answer times kept.
    fn servers(weights: &[u32]) -> (Vec<LiveBackend>, Mutex<Deadlines>) {
        let bs: Vec<LiveBackend> = weights
            .iter()
            .enumerate()
            .map(|(i, &weight)| {
                let b = LiveBackend {
                    def: Backend {
                        url: format!("http://10.0.0.{i}:80"),
                        target: None,
                        status: BackendStatus::Ready,
                        origin: None,
                        weight,
                        written: format!("http://10.0.0.{i}:80"),
                        path: String::new(),
                    },
                    state: Arc::default(),
                };
                b.state.ttfb.get_or_init(Box::default);
                b
            })
            .collect();
        let d = Mutex::new(Deadlines::new(&bs));
        (bs, d)
    }

    fn times(b: &LiveBackend) -> &Ttfb {
        b.state.ttfb.get().expect("kept")
    }

    /// Fills a server's ring with `ms` (Traefik's tests set its buffer directly).
    fn fill(b: &LiveBackend, ms: u64) {
        for _ in 0..SAMPLES {
            times(b).record(Duration::from_millis(ms));
        }
    }

    fn index(bs: &[LiveBackend], b: &LiveBackend) -> usize {
        bs.iter()
            .position(|x| std::ptr::eq(x, b))
            .expect("one of them")
    }

    /// `n` requests, one after the other: each server answers in its `answer_ms`, recorded.
    fn run(bs: &[LiveBackend], d: &Mutex<Deadlines>, answer_ms: &[u64], n: usize) -> Vec<usize> {
        let mut count = vec![0; bs.len()];
        for _ in 0..n {
            let b = least_time(bs, d, |_| true).expect("a server");
            let i = index(bs, b);
            count[i] += 1;
            times(b).record(Duration::from_millis(answer_ms[i]));
        }
        count
    }

    /// `TestRingBufferBasic`, `TestRingBufferWraparound`, `TestRingBufferLarge`,
    /// `TestZeroSamplesReturnsZero`.
    #[test]
    fn the_mean_of_the_last_hundred() {
        // (case, times recorded in ms, mean wanted).
        let tens = vec![10; 100];
        let wrap: Vec<u64> = tens.iter().copied().chain([20]).collect();
        let wrap_more: Vec<u64> = wrap.iter().copied().chain([30; 10]).collect();
        let large: Vec<u64> = (1..=150).collect();
        let table: &[(&str, &[u64], f64)] = &[
            ("no samples", &[], 0.0),
            ("one sample", &[10], 10.0),
            ("three samples", &[10, 20, 30], 20.0),
            ("a full buffer", &tens, 10.0),
            ("one more replaces the oldest", &wrap, 10.1),
            ("ten more", &wrap_more, 12.1),
            ("150 samples keep the last 100", &large, 100.5),
        ];
        for (case, ms, want) in table {
            let t = Ttfb::default();
            for m in *ms {
                t.record(Duration::from_millis(*m));
            }
            assert!((t.mean() - want).abs() < 1e-9, "{case}: {}", t.mean());
        }
        // Whole milliseconds, as Go's `Duration.Milliseconds`.
        let t = Ttfb::default();
        t.record(Duration::from_micros(1_999));
        assert_eq!(t.mean(), 1.0);
    }

    /// The score and its tie-break with given means and requests in flight:
    /// `TestScoreCalculationWithInflight`, `TestTrafficShiftsWhenPerformanceDegrades`,
    /// `TestMultipleServersWithSameScore`, `TestWRRTieBreakingWeightedDistribution`, and the
    /// balancer rows `TestBalancerNoService`, `TestBalancerAllServersZeroWeight`,
    /// `TestBalancerOneServerZeroWeight`, `TestBalancerNoServiceUp`,
    /// `TestBalancerOneServerDown`.
    #[test]
    fn the_lowest_score_then_weighted_round_robin() {
        // (case, weights, mean ms per server, in flight per server, servers down, picks,
        // whether a pick adds one in flight to its server, picks per server wanted (within 1),
        // or no server).
        let table: &[(
            &str,
            &[u32],
            &[u64],
            &[usize],
            &[usize],
            usize,
            bool,
            Option<&[usize]>,
        )] = &[
            (
                "TestScoreCalculationWithInflight",
                &[1, 1],
                &[10, 10],
                &[5, 0],
                &[],
                5,
                true,
                Some(&[0, 5]),
            ),
            (
                "TestTrafficShiftsWhenPerformanceDegrades: equal",
                &[1, 1],
                &[5, 5],
                &[0, 0],
                &[],
                50,
                false,
                Some(&[25, 25]),
            ),
            (
                "TestTrafficShiftsWhenPerformanceDegrades: degraded",
                &[1, 1],
                &[50, 5],
                &[0, 0],
                &[],
                60,
                false,
                Some(&[0, 60]),
            ),
            (
                "TestMultipleServersWithSameScore",
                &[1, 1, 1],
                &[5, 5, 5],
                &[0, 0, 0],
                &[],
                90,
                false,
                Some(&[30, 30, 30]),
            ),
            (
                "TestWRRTieBreakingWeightedDistribution",
                &[3, 1],
                &[15, 5],
                &[0, 0],
                &[],
                80,
                false,
                Some(&[60, 20]),
            ),
            ("TestBalancerNoService", &[], &[], &[], &[], 1, false, None),
            (
                "TestBalancerAllServersZeroWeight",
                &[0, 0],
                &[5, 5],
                &[0, 0],
                &[],
                1,
                false,
                None,
            ),
            (
                "TestBalancerOneServerZeroWeight",
                &[1, 0],
                &[5, 1],
                &[0, 0],
                &[],
                3,
                false,
                Some(&[3, 0]),
            ),
            (
                "TestBalancerNoServiceUp",
                &[1, 1],
                &[5, 5],
                &[0, 0],
                &[0, 1],
                1,
                false,
                None,
            ),
            (
                "TestBalancerOneServerDown",
                &[1, 1],
                &[5, 1],
                &[0, 0],
                &[1],
                3,
                false,
                Some(&[3, 0]),
            ),
        ];
        for (case, weights, mean, inflight, down, picks, adds, want) in table {
            let (bs, d) = servers(weights);
            for (i, b) in bs.iter().enumerate() {
                fill(b, mean[i]);
                b.state.inflight.store(inflight[i], Ordering::Relaxed);
            }
            let ok = |b: &&LiveBackend| !down.contains(&index(&bs, b));
            let mut count = vec![0usize; bs.len()];
            let mut none = false;
            for _ in 0..*picks {
                match least_time(&bs, &d, ok) {
                    Some(b) => {
                        count[index(&bs, b)] += 1;
                        if *adds {
                            b.state.inflight.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    None => none = true,
                }
            }
            match want {
                None => assert!(none, "{case}: {count:?}"),
                Some(want) => {
                    assert!(!none, "{case}");
                    for (got, want) in count.iter().zip(*want) {
                        assert!(got.abs_diff(*want) <= 1, "{case}: {count:?}");
                    }
                }
            }
        }
    }

    /// The balancer runs, each server answering in its time: `TestBalancer`,
    /// `TestScoreCalculationWithWeights`, `TestFastServerGetsMoreTraffic`,
    /// `TestScoreCalculationColdStart` (a server added later starts at 0 ms and is tried
    /// first), `TestBalancerOneServerDownThenUp`.
    #[test]
    fn faster_servers_get_more() {
        // TestBalancer: equal times, both get some of 10.
        let (bs, d) = servers(&[1, 1]);
        let c = run(&bs, &d, &[5, 5], 10);
        assert!(c[0] > 0 && c[1] > 0 && c[0] + c[1] == 10, "{c:?}");
        // TestScoreCalculationWithWeights: after two to warm up, weight 3 takes all 10.
        let (bs, d) = servers(&[3, 1]);
        run(&bs, &d, &[50, 50], 2);
        assert_eq!(run(&bs, &d, &[50, 50], 10), [10, 0]);
        // TestFastServerGetsMoreTraffic: 20 ms and 100 ms, more than 48 of 50 to the fast.
        let (bs, d) = servers(&[1, 1]);
        let c = run(&bs, &d, &[20, 100], 50);
        assert!(c[0] > 48, "{c:?}");
        // TestScoreCalculationColdStart: a warm server at 50 ms, then a cold one (10 ms).
        let (warm, _) = servers(&[1]);
        let (d1, _) = (Mutex::new(Deadlines::new(&warm)), ());
        run(&warm, &d1, &[50], 10);
        let (cold, _) = servers(&[1, 1]);
        let bs = vec![warm[0].clone(), cold[1].clone()];
        let d = Mutex::new(Deadlines::new(&bs));
        let first = run(&bs, &d, &[50, 10], 20);
        assert!(first[1] > 10, "{first:?}");
        let then = run(&bs, &d, &[50, 10], 20);
        assert!(then[1] > then[0], "{then:?}");
        // TestBalancerOneServerDownThenUp: down, all to the other; up again, it is tried.
        let (bs, d) = servers(&[1, 1]);
        let second_down = |b: &&LiveBackend| !std::ptr::eq(*b, &bs[1]);
        for _ in 0..3 {
            let b = least_time(&bs, &d, second_down).expect("a server");
            assert!(std::ptr::eq(b, &bs[0]));
            times(b).record(Duration::from_millis(5));
        }
        let c = run(&bs, &d, &[5, 5], 2);
        assert!(c[1] > 0, "{c:?}");
    }
}
