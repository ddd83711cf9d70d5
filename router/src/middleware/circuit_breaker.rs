//! `circuitBreaker`, as Traefik's (vulcand/oxy's) runs: closed, it lets every request through
//! and records what comes back from after it (status and latency), checking its condition at
//! most once per `checkPeriod`; when the condition holds it opens: every request gets the
//! fallback answer (`responseCode`, its reason as the body) for `fallbackDuration`, and its
//! counts are reset. Then it recovers for `recoveryDuration`, letting a share of requests
//! through that grows linearly to one half; the condition holding again opens it again, and at
//! the end of the recovery it closes.
//!
//! Each router has its own instance of a middleware, and each place in its chain (as in
//! Traefik: see [`super::InUse`]); an instance lives as long as its configuration is
//! unchanged (Traefik makes new ones at every configuration change).
//! Counts cover the last 10 seconds in 1-second slots; latencies the last minute in 10-second
//! slots, with two significant digits (Traefik's HDR histogram's precision).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use hyper::StatusCode;

use super::{Flow, Request};
use crate::dynamic::middleware::circuit_breaker::Metrics;
use crate::dynamic::middleware::CircuitBreaker;
use crate::proxy::{Answer, ProxyError};

/// The breakers by router, then middleware, then place among the router's middlewares of
/// that name (looked up without allocating; see [`super::InUse`]).
#[derive(Debug, Default)]
pub struct Breakers(Mutex<HashMap<String, ByName>>);

/// A router's breakers: by middleware, then place.
type ByName = HashMap<String, Vec<Arc<Breaker>>>;

impl Breakers {
    /// The instance of middleware `name` at place `nth` on `router`, a new one when its
    /// configuration changed.
    fn get(&self, router: &str, name: &str, nth: usize, cfg: &CircuitBreaker) -> Arc<Breaker> {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(b) = map
            .get(router)
            .and_then(|m| m.get(name))
            .and_then(|places| places.get(nth))
            .filter(|b| b.cfg == *cfg)
        {
            return b.clone();
        }
        let now = Instant::now();
        let b = Arc::new(Breaker::new(cfg.clone(), now));
        let places = map
            .entry(router.to_owned())
            .or_default()
            .entry(name.to_owned())
            .or_default();
        while places.len() <= nth {
            places.push(Arc::new(Breaker::new(cfg.clone(), now)));
        }
        places[nth] = b.clone();
        b
    }
}

/// One breaker.
#[derive(Debug)]
pub struct Breaker {
    cfg: CircuitBreaker,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    mode: Mode,
    /// The condition is not checked again before this.
    next_check: Instant,
    window: Window,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Closed,
    Open { until: Instant },
    Recovering(Recovery),
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Recovery {
    start: Instant,
    until: Instant,
    allowed: u64,
    denied: u64,
}

impl Recovery {
    /// Lets a request through while the share let through stays under the target, which
    /// grows from 0 to 1/2 over the recovery.
    fn allow(&mut self, duration: Duration, now: Instant) -> bool {
        let target = 0.5 * now.duration_since(self.start).as_secs_f64() / duration.as_secs_f64();
        let share = (self.allowed + 1) as f64 / (self.allowed + 1 + self.denied) as f64;
        if share < target {
            self.allowed += 1;
            true
        } else {
            self.denied += 1;
            false
        }
    }
}

impl Breaker {
    /// A closed breaker.
    pub fn new(cfg: CircuitBreaker, now: Instant) -> Breaker {
        Breaker {
            cfg,
            state: Mutex::new(State {
                mode: Mode::Closed,
                next_check: now,
                window: Window::new(now),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a request goes through (else it gets the fallback answer).
    pub fn admit(&self, now: Instant) -> bool {
        let mut s = self.lock();
        if let Mode::Open { until } = s.mode {
            if now < until {
                return false;
            }
            s.mode = Mode::Recovering(Recovery {
                start: now,
                until: now + self.cfg.recovery_duration,
                allowed: 0,
                denied: 0,
            });
        }
        match &mut s.mode {
            Mode::Closed => true,
            Mode::Recovering(r) if now > r.until => {
                s.mode = Mode::Closed;
                true
            }
            Mode::Recovering(r) => r.allow(self.cfg.recovery_duration, now),
            Mode::Open { .. } => false,
        }
    }

    /// Records an answer that went through, and checks the condition when it is time to.
    pub fn record(&self, status: u16, latency: Duration, now: Instant) {
        let mut s = self.lock();
        s.window.record(status, latency, now);
        if now < s.next_check {
            return;
        }
        s.next_check = now + self.cfg.check_period;
        if matches!(s.mode, Mode::Open { .. }) {
            return;
        }
        let view = View {
            window: &s.window,
            now,
        };
        if self.cfg.condition.holds(&view) {
            tracing::warn!(expression = %self.cfg.expression, "circuit breaker open");
            s.mode = Mode::Open {
                until: now + self.cfg.fallback_duration,
            };
            s.window = Window::new(now);
        }
    }

    /// The fallback answer: the status and its reason.
    fn fallback(&self) -> Answer {
        let status =
            StatusCode::from_u16(self.cfg.response_code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        Answer {
            status,
            headers,
            body: Bytes::from_static(go_status_text(status).as_bytes()),
        }
    }
}

/// Go's `http.StatusText`, the fallback answer's body in Traefik: the reason phrase, with
/// Go's older wording where it differs from hyper's, and nothing for a status Go does not
/// name.
fn go_status_text(status: StatusCode) -> &'static str {
    match status.as_u16() {
        413 => "Request Entity Too Large",
        414 => "Request URI Too Long",
        416 => "Requested Range Not Satisfiable",
        103 => "Early Hints",
        425 => "Too Early",
        _ => status.canonical_reason().unwrap_or(""),
    }
}

/// A request let through, to be recorded when its answer is known.
#[derive(Debug)]
pub struct Watch {
    breaker: Arc<Breaker>,
    start: Instant,
}

impl Watch {
    /// Whether two requests went through the same breaker.
    #[cfg(test)]
    pub fn same(&self, other: &Watch) -> bool {
        Arc::ptr_eq(&self.breaker, &other.breaker)
    }

    /// Records the answer's status.
    pub fn done(&self, status: u16) {
        let now = Instant::now();
        self.breaker
            .record(status, now.duration_since(self.start), now);
    }
}

/// Runs breaker `name`, at place `nth` of that name in the request's router's chain.
pub fn apply(
    name: &str,
    nth: usize,
    cfg: &CircuitBreaker,
    r: &mut Request<'_, '_>,
) -> Result<Flow, ProxyError> {
    let breaker = r.shared.breakers.get(&r.log.router, name, nth, cfg);
    let now = Instant::now();
    if !breaker.admit(now) {
        return Ok(Flow::Answer(breaker.fallback()));
    }
    r.log.breakers.push(Watch {
        breaker,
        start: now,
    });
    Ok(Flow::Next)
}

/// Counts by 1-second slot over 10 seconds, latencies by 10-second slot over a minute.
#[derive(Debug)]
struct Window {
    epoch: Instant,
    counts: [Counts; 10],
    latencies: [(u64, BTreeMap<u32, u64>); 6],
}

#[derive(Debug, Default, Clone)]
struct Counts {
    /// The second (since `epoch`) the slot is for.
    second: u64,
    total: u64,
    statuses: Vec<(u16, u64)>,
}

impl Window {
    fn new(epoch: Instant) -> Window {
        Window {
            epoch,
            counts: Default::default(),
            latencies: Default::default(),
        }
    }

    /// Seconds since the epoch, from 1 (so that no slot starts current).
    fn second(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.epoch).as_secs() + 1
    }

    fn record(&mut self, status: u16, latency: Duration, now: Instant) {
        let sec = self.second(now);
        let c = &mut self.counts[(sec % 10) as usize];
        if c.second != sec {
            *c = Counts {
                second: sec,
                ..Counts::default()
            };
        }
        c.total += 1;
        match c.statuses.iter_mut().find(|(s, _)| *s == status) {
            Some((_, n)) => *n += 1,
            None => c.statuses.push((status, 1)),
        }
        let period = sec / 10 + 1;
        let l = &mut self.latencies[(period % 6) as usize];
        if l.0 != period {
            *l = (period, BTreeMap::new());
        }
        // Traefik's histogram stops at an hour; the cap keeps bucket tops in range.
        let micros = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .min(1 << 40);
        *l.1.entry(bucket(micros)).or_insert(0) += 1;
    }

    /// The count slots of the last 10 seconds.
    fn recent(&self, now: Instant) -> impl Iterator<Item = &Counts> {
        let sec = self.second(now);
        self.counts
            .iter()
            .filter(move |c| c.second != 0 && c.second + 10 > sec)
    }
}

/// Two significant digits, as an HDR histogram with 2 significant figures: values under 256
/// exactly, then 128 steps per power of two. Keys sort as the values do.
fn bucket(v: u64) -> u32 {
    if v < 256 {
        return v as u32;
    }
    let shift = 63 - v.leading_zeros() - 7;
    (shift << 8) | (v >> shift) as u32
}

/// The highest value of a bucket.
fn bucket_top(key: u32) -> u64 {
    let (shift, mantissa) = (key >> 8, u64::from(key & 0xff));
    ((mantissa + 1) << shift) - 1
}

/// The window's metrics at one instant.
struct View<'w> {
    window: &'w Window,
    now: Instant,
}

impl Metrics for View<'_> {
    fn network_error_ratio(&self) -> f64 {
        let (mut net, mut total) = (0u64, 0u64);
        for c in self.window.recent(self.now) {
            total += c.total;
            net += c
                .statuses
                .iter()
                .filter(|(s, _)| matches!(s, 502 | 504))
                .map(|(_, n)| n)
                .sum::<u64>();
        }
        if total == 0 {
            0.0
        } else {
            net as f64 / total as f64
        }
    }

    fn response_code_ratio(&self, [a0, a1, b0, b1]: [i64; 4]) -> f64 {
        let (mut a, mut b) = (0u64, 0u64);
        for c in self.window.recent(self.now) {
            for (s, n) in &c.statuses {
                let s = i64::from(*s);
                if (a0..a1).contains(&s) {
                    a += n;
                }
                if (b0..b1).contains(&s) {
                    b += n;
                }
            }
        }
        if b == 0 {
            0.0
        } else {
            a as f64 / b as f64
        }
    }

    fn latency_at_quantile_ms(&self, q: f64) -> i64 {
        let period = self.window.second(self.now) / 10 + 1;
        let mut merged: BTreeMap<u32, u64> = BTreeMap::new();
        for (p, h) in &self.window.latencies {
            if *p != 0 && p + 6 > period {
                for (k, n) in h {
                    *merged.entry(*k).or_insert(0) += n;
                }
            }
        }
        let total: u64 = merged.values().sum();
        if total == 0 {
            return 0;
        }
        let wanted = ((q.min(100.0) / 100.0 * total as f64 + 0.5) as u64).max(1);
        let mut seen = 0;
        for (k, n) in &merged {
            seen += n;
            if seen >= wanted {
                return i64::try_from(bucket_top(*k) / 1000).unwrap_or(i64::MAX);
            }
        }
        0
    }

    fn total(&self) -> i64 {
        let t: u64 = self.window.recent(self.now).map(|c| c.total).sum();
        i64::try_from(t).unwrap_or(i64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamic::middleware::circuit_breaker::parse;

    fn breaker(expr: &str) -> (Breaker, Instant) {
        let now = Instant::now();
        let cfg = CircuitBreaker {
            expression: expr.into(),
            condition: parse(expr).unwrap(),
            check_period: Duration::from_millis(100),
            fallback_duration: Duration::from_secs(10),
            recovery_duration: Duration::from_secs(10),
            response_code: 503,
        };
        (Breaker::new(cfg, now), now)
    }

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn opens_on_the_condition_then_recovers_and_closes() {
        let (b, t0) = breaker("NetworkErrorRatio() > 0.5");
        assert!(b.admit(t0));
        b.record(200, MS, t0);
        b.record(502, MS, t0 + 10 * MS); // before the next check: not checked
        b.record(504, MS, t0 + 20 * MS);
        assert!(b.admit(t0 + 30 * MS), "not checked within checkPeriod");
        b.record(502, MS, t0 + 150 * MS); // 3 of 4 are network errors
        assert!(!b.admit(t0 + 200 * MS));
        assert!(!b.admit(t0 + Duration::from_millis(10_100)));
        // Recovering: at first nothing, then a growing share (at most half).
        let r0 = t0 + Duration::from_millis(10_200);
        assert!(!b.admit(r0));
        let let_through = (1..=100)
            .filter(|i| b.admit(r0 + Duration::from_millis(i * 90)))
            .count();
        assert!((10..=50).contains(&let_through), "{let_through}");
        assert!(
            b.admit(r0 + Duration::from_secs(11)),
            "closed after the recovery"
        );
        assert!(b.admit(r0 + Duration::from_secs(11)));
    }

    #[test]
    fn a_failure_while_recovering_opens_it_again() {
        let (b, t0) = breaker("ResponseCodeRatio(500, 600, 0, 600) > 0.5");
        b.record(500, MS, t0);
        assert!(!b.admit(t0 + MS));
        let r0 = t0 + Duration::from_secs(10) + MS;
        assert!(!b.admit(r0));
        b.record(503, MS, r0 + Duration::from_secs(5));
        assert!(!b.admit(r0 + Duration::from_secs(6)), "open again");
        assert!(!b.admit(r0 + Duration::from_secs(14)));
    }

    #[test]
    fn counts_cover_ten_seconds() {
        let (b, t0) = breaker("RequestThreshold() >= 3");
        b.record(200, MS, t0);
        b.record(200, MS, t0 + Duration::from_secs(5));
        b.record(200, MS, t0 + Duration::from_secs(11)); // the first has left the window
        assert!(b.admit(t0 + Duration::from_secs(11)));
        b.record(200, MS, t0 + Duration::from_millis(11_500));
        assert!(!b.admit(t0 + Duration::from_millis(11_600)));
    }

    #[test]
    fn latency_quantiles() {
        let (b, t0) = breaker("LatencyAtQuantileMS(50.0) > 100");
        for i in 0..9 {
            b.record(
                200,
                Duration::from_millis(20),
                t0 + i * Duration::from_secs(1),
            );
        }
        assert!(b.admit(t0 + Duration::from_secs(9)));
        for i in 0..10 {
            b.record(
                200,
                Duration::from_millis(300),
                t0 + Duration::from_secs(9) + i * 200 * MS,
            );
        }
        assert!(
            !b.admit(t0 + Duration::from_secs(12)),
            "the median is now 300 ms"
        );
        let w = b.lock();
        assert_eq!(
            w.window.counts.iter().map(|c| c.total).sum::<u64>(),
            0,
            "reset"
        );
    }

    #[test]
    fn buckets_keep_two_significant_digits() {
        let mut last = 0;
        for v in [
            0u64,
            1,
            255,
            256,
            257,
            1000,
            99_999,
            100_000,
            3_600_000_000,
            u64::MAX / 2,
        ] {
            let k = bucket(v);
            assert!(k >= last);
            last = k;
            let top = bucket_top(k);
            assert!(
                top >= v && (top - v) as f64 <= (v as f64 / 100.0).max(1.0),
                "{v} {top}"
            );
        }
    }
}

/// vulcand/oxy's cbreaker tests (oxy v2.2.0, which Traefik's circuitBreaker runs), on the
/// breaker's own clock: instants stand for oxy's frozen clock (`testutils.FreezeTime`,
/// `clock.Advance`), and oxy's swapped metrics (`cb.metrics = statsNetErrors(0.6)`) are
/// answers recorded in the window without a check.
#[cfg(test)]
mod traefik_tables {
    use super::*;
    use crate::dynamic::middleware::circuit_breaker::parse;

    const MS: Duration = Duration::from_millis(1);
    const S: Duration = Duration::from_secs(1);

    fn breaker(expr: &str, check_period: Duration) -> Breaker {
        Breaker::new(
            CircuitBreaker {
                expression: expr.into(),
                condition: parse(expr).unwrap(),
                check_period,
                fallback_duration: 10 * S,
                recovery_duration: 10 * S,
                response_code: 503,
            },
            Instant::now(),
        )
    }

    /// Answers as oxy's helpers record them: (status, latency, count).
    fn fill(w: &mut Window, answers: &[(u16, Duration, u32)], now: Instant) {
        for (status, latency, n) in answers {
            for _ in 0..*n {
                w.record(*status, *latency, now);
            }
        }
    }

    /// statsNetErrors(0.6): 60 answers of 504 and 40 of 200.
    const NET_ERRORS: &[(u16, Duration, u32)] =
        &[(504, Duration::ZERO, 60), (200, Duration::ZERO, 40)];

    /// cbreaker/predicates_test.go, Test_parseExpression_tripped: the expression over the
    /// metrics recorded by statsNetErrors(0.6), statsLatencyAtQuantile(50, 51ms) and
    /// statsResponseCodes (5 200s with 6, or 4, 500s).
    #[test]
    fn parse_expression_tripped() {
        let latency: &[(u16, Duration, u32)] = &[(200, 51 * MS, 1)];
        let codes6: &[(u16, Duration, u32)] = &[(200, Duration::ZERO, 5), (500, Duration::ZERO, 6)];
        let codes4: &[(u16, Duration, u32)] = &[(200, Duration::ZERO, 5), (500, Duration::ZERO, 4)];
        for (expression, answers, tripped) in [
            ("NetworkErrorRatio() > 0.5", NET_ERRORS, true),
            ("NetworkErrorRatio() < 0.5", NET_ERRORS, false),
            ("LatencyAtQuantileMS(50.0) > 50", latency, true),
            ("LatencyAtQuantileMS(50.0) < 50", latency, false),
            ("ResponseCodeRatio(500, 600, 0, 600) > 0.5", codes6, true),
            ("ResponseCodeRatio(500, 600, 0, 600) > 0.5", codes4, false),
            // Quantile not defined.
            ("LatencyAtQuantileMS(40.0) > 50", NET_ERRORS, false),
            // memmetrics' ResponseCodeRatio: [from, to) over [dividedByFrom, dividedByTo),
            // 0 when nothing is in the latter; NetworkErrorRatio: 502 and 504 over all.
            ("ResponseCodeRatio(500, 501, 0, 600) > 0.5", codes6, true),
            ("ResponseCodeRatio(499, 500, 0, 600) > 0.0", codes6, false),
            ("ResponseCodeRatio(500, 600, 600, 700) > 0.0", codes6, false),
            ("ResponseCodeRatio(500, 600, 200, 201) == 1.2", codes6, true),
            ("NetworkErrorRatio() == 0.6", NET_ERRORS, true),
            ("RequestThreshold() == 100", NET_ERRORS, true),
        ] {
            let now = Instant::now();
            let mut w = Window::new(now);
            fill(&mut w, answers, now);
            let c = parse(expression).unwrap();
            assert_eq!(c.holds(&View { window: &w, now }), tripped, "{expression}");
        }
    }

    /// cbreaker_test.go, TestCircuitBreaker_standbyCycle and TestCircuitBreaker_fullCycle.
    #[test]
    fn full_cycle() {
        let b = breaker("NetworkErrorRatio() > 0.5", 100 * MS);
        let t0 = Instant::now();
        assert!(b.admit(t0));
        b.record(200, Duration::ZERO, t0);
        fill(&mut b.lock().window, NET_ERRORS, t0);
        // clock.Advance(defaultCheckPeriod + 1ms): the next answer is checked, 60 of 101.
        let t1 = t0 + 101 * MS;
        assert!(b.admit(t1));
        b.record(200, Duration::ZERO, t1);
        assert!(matches!(b.lock().mode, Mode::Open { .. }), "tripped");
        // Some time has passed, but we are still in tripped state.
        let t2 = t1 + 9 * S;
        assert!(!b.admit(t2));
        assert!(matches!(b.lock().mode, Mode::Open { .. }));
        // Recovering by now: nothing is let through at its start.
        let t3 = t2 + S + MS;
        assert!(!b.admit(t3));
        assert!(matches!(b.lock().mode, Mode::Recovering(_)));
        // 5 seconds after, some requests pass (a quarter, the frozen clock's target).
        let t4 = t3 + 5 * S;
        let allowed = (0..100)
            .filter(|_| {
                let ok = b.admit(t4);
                if ok {
                    b.record(200, Duration::ZERO, t4);
                }
                ok
            })
            .count();
        assert_ne!(allowed, 0);
        assert!((20..=30).contains(&allowed), "{allowed}");
        // After some time, all is good and the breaker is in standby again.
        let t5 = t4 + 5 * S + MS;
        assert!(b.admit(t5));
        assert_eq!(b.lock().mode, Mode::Closed);
        assert_eq!(b.fallback().status, StatusCode::SERVICE_UNAVAILABLE);
    }

    /// cbreaker_test.go, TestCircuitBreaker_triggerDuringRecovery (checkPeriod 1µs).
    #[test]
    fn trigger_during_recovery() {
        let b = breaker("NetworkErrorRatio() > 0.5", Duration::from_micros(1));
        let t0 = Instant::now();
        fill(&mut b.lock().window, NET_ERRORS, t0);
        assert!(b.admit(t0));
        b.record(200, Duration::ZERO, t0);
        assert!(matches!(b.lock().mode, Mode::Open { .. }));
        let t1 = t0 + 10 * S + MS;
        assert!(!b.admit(t1));
        assert!(matches!(b.lock().mode, Mode::Recovering(_)));
        // The error condition matches again during recovery: back to tripped.
        let t2 = t1 + 5 * S;
        fill(&mut b.lock().window, NET_ERRORS, t2);
        let mut allowed = 0;
        for i in 0..100u32 {
            let now = t2 + i * Duration::from_micros(2);
            if b.admit(now) {
                allowed += 1;
                b.record(200, Duration::ZERO, now);
            }
        }
        assert_ne!(allowed, 0);
        assert!(matches!(b.lock().mode, Mode::Open { .. }));
    }

    /// cbreaker_test.go, TestCircuitBreaker_requestThreshold: every answer is a 504.
    #[test]
    fn request_threshold() {
        let b = breaker(
            "NetworkErrorRatio() > 0.5 && RequestThreshold() >= 20",
            100 * MS,
        );
        let t0 = Instant::now();
        b.record(504, Duration::ZERO, t0); // the first answer is checked at once
        fill(&mut b.lock().window, &[(504, Duration::ZERO, 17)], t0);
        let t1 = t0 + 101 * MS;
        assert!(b.admit(t1));
        b.record(504, Duration::ZERO, t1); // 19 answers
        assert_eq!(b.lock().mode, Mode::Closed);
        let t2 = t1 + 101 * MS;
        assert!(b.admit(t2));
        b.record(504, Duration::ZERO, t2); // 20 answers
        assert!(matches!(b.lock().mode, Mode::Open { .. }));
        assert!(!b.admit(t2));
        assert_eq!(b.fallback().status, StatusCode::SERVICE_UNAVAILABLE);
    }

    /// cbreaker/ratio_test.go, Test_ratioController_rampUp: one request a millisecond over
    /// the 10s recovery; the share let through stays within 0.05 of the target.
    #[test]
    fn ratio_controller_ramp_up() {
        let duration = 10 * S;
        let start = Instant::now();
        let mut r = Recovery {
            start,
            until: start + duration,
            allowed: 0,
            denied: 0,
        };
        for i in 0..10_000u32 {
            let now = start + i * MS;
            r.allow(duration, now);
            let ratio = r.allowed as f64 / (r.allowed + r.denied) as f64;
            let target = 0.5 * now.duration_since(start).as_secs_f64() / duration.as_secs_f64();
            assert!((target - ratio).abs() < 0.05, "{i}: {ratio} {target}");
        }
    }

    /// circuit_breaker.go's fallback: `responseCode` with `http.StatusText` of it as the
    /// body.
    #[test]
    fn fallback_answer() {
        for (code, body) in [
            (503, "Service Unavailable"),
            (418, "I'm a teapot"),
            (429, "Too Many Requests"),
            (502, "Bad Gateway"),
            (200, "OK"),
            (413, "Request Entity Too Large"),
            (414, "Request URI Too Long"),
            (416, "Requested Range Not Satisfiable"),
            (425, "Too Early"),
            (599, ""),
        ] {
            let mut b = breaker("NetworkErrorRatio() > 0.5", 100 * MS);
            b.cfg.response_code = code;
            let a = b.fallback();
            assert_eq!(
                (a.status.as_u16(), &a.body[..]),
                (code, body.as_bytes()),
                "{code}"
            );
        }
    }
}
