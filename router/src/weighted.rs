//! Weights: Traefik's weighted round robin (earliest deadline first: each pick takes the
//! candidate whose next deadline is nearest, then moves it `1/weight` further), for servers
//! with weights and for `weighted` services; and how a request's service is found under
//! `weighted` and `failover` services.

use std::sync::{Mutex, PoisonError};

use crate::live::{Live, LiveService, Registry};
use crate::model::table::Kind;
use crate::proxy::ProxyError;

/// The pick state of one service: earliest-deadline-first positions (servers with weights,
/// `weighted` services), and a `mirroring` service's counts.
#[derive(Debug, Default)]
pub struct Edf(Mutex<EdfState>);

#[derive(Debug, Default)]
struct EdfState {
    now: f64,
    deadlines: Vec<f64>,
    /// Requests seen by a `mirroring` service, and copies sent to each mirror.
    mirrored: (u64, Vec<u64>),
}

impl Edf {
    /// Picks among `weights` (index order) those `ok` accepts; weight 0 is never picked.
    pub fn pick(&self, weights: &[u32], ok: impl Fn(usize) -> bool) -> Option<usize> {
        let mut s = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if s.deadlines.len() != weights.len() {
            s.deadlines = weights.iter().map(|w| step(*w)).collect();
            s.now = 0.0;
        }
        let now = s.now;
        let (i, d) = (0..weights.len())
            .filter(|i| weights[*i] > 0 && ok(*i))
            // One that could not be picked for a while does not catch up in a burst.
            .map(|i| (i, s.deadlines[i].max(now)))
            .min_by(|a, b| a.1.total_cmp(&b.1))?;
        s.now = d;
        s.deadlines[i] = d + step(weights[i]);
        Some(i)
    }
}

impl Edf {
    /// The mirrors (indices into `percents`) that get a copy of this request: each while its
    /// copies stay under its percentage of the requests seen, as Traefik counts.
    pub fn mirrors(&self, percents: &[u32]) -> Vec<usize> {
        let mut s = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let (total, counts) = &mut s.mirrored;
        if counts.len() != percents.len() {
            *counts = vec![0; percents.len()];
        }
        *total += 1;
        let mut out = Vec::new();
        for (i, p) in percents.iter().enumerate() {
            if counts[i] * 100 < *total * u64::from(*p) {
                counts[i] += 1;
                out.push(i);
            }
        }
        out
    }
}

/// What the walk down `weighted`, `failover` and `mirroring` services reads from the request
/// and leaves for later.
#[derive(Debug, Default)]
pub struct Walk<'h> {
    /// The request's headers (for sticky cookies).
    pub headers: Option<&'h hyper::HeaderMap>,
    /// Copies for mirrors.
    pub copies: Vec<MirrorCopy>,
    /// `Set-Cookie` values for the answer (sticky `weighted` services).
    pub set_cookies: Vec<String>,
    /// A `failover` with `errors` on the way to its main service (the outermost).
    pub failover: Option<FailoverOnStatus>,
}

/// Where an answer of a failover's main service with one of its `errors` statuses goes.
#[derive(Debug, Clone)]
pub struct FailoverOnStatus {
    /// The fallback service (it may itself be a composite).
    pub fallback: String,
    pub errors: crate::dynamic::FailoverErrors,
}

impl Walk<'_> {
    /// The child a `weighted` service's sticky cookie names, when it can take the request
    /// (an older form of the value is replaced, as Traefik does).
    fn sticky_child(
        &mut self,
        st: &crate::model::table::WeightedSticky,
        usable: impl Fn(usize) -> bool,
    ) -> Option<usize> {
        let value = crate::proxy::cookie(self.headers?, &st.name)?;
        let i = (0..st.written.len())
            .find(|i| crate::dynamic::sticky::names_server(&value, &st.written[*i]))
            .filter(|i| usable(*i))?;
        if value != crate::dynamic::sticky::server_value(&st.written[i]) {
            self.set_cookies
                .push(st.cookie.set_cookie(&st.name, &st.written[i]));
        }
        Some(i)
    }
}

/// A copy of a request for a mirror.
#[derive(Debug, Clone)]
pub struct MirrorCopy {
    /// The mirror service (it may itself be a composite).
    pub service: String,
    /// Whether the copy carries the body, and up to what size (-1: any).
    pub body: bool,
    pub max_body: i64,
}

fn step(w: u32) -> f64 {
    if w == 0 {
        f64::INFINITY
    } else {
        1.0 / f64::from(w)
    }
}

/// How deep `weighted` and `failover` services may nest (the table refuses deeper ones).
const MAX_DEPTH: usize = 17;

impl Live {
    /// The service with servers that takes a request for `name`: `name` itself, or, under
    /// `weighted`, `failover` and `mirroring` services, the one their weights and health pick;
    /// with the copies `mirroring` services on the way want.
    pub fn leaf<'a>(
        &'a self,
        registry: &Registry,
        mut name: &'a str,
        walk: &mut Walk<'_>,
    ) -> Result<&'a str, ProxyError> {
        for _ in 0..MAX_DEPTH {
            let svc = self.table.services.get(name).ok_or(ProxyError::NoBackend)?;
            name = match &svc.kind {
                Kind::Servers => return Ok(name),
                Kind::Weighted {
                    children,
                    health,
                    sticky,
                } => {
                    let usable = |i: usize| {
                        children[i].1 > 0 && (!*health || self.up(registry, &children[i].0, 0))
                    };
                    if let Some(i) = sticky
                        .as_deref()
                        .and_then(|st| walk.sticky_child(st, usable))
                    {
                        &children[i].0
                    } else {
                        let live = self.services.get(name).ok_or(ProxyError::NoBackend)?;
                        let weights: Vec<u32> = children.iter().map(|(_, w)| *w).collect();
                        let i = live
                            .edf
                            .pick(&weights, usable)
                            .ok_or(ProxyError::NoBackend)?;
                        if let Some(st) = sticky {
                            walk.set_cookies
                                .push(st.cookie.set_cookie(&st.name, &st.written[i]));
                        }
                        &children[i].0
                    }
                }
                Kind::Mirroring {
                    main,
                    mirrors,
                    body,
                    max_body,
                    ..
                } => {
                    if let Some(live) = self.services.get(name) {
                        let percents: Vec<u32> = mirrors.iter().map(|(_, p)| *p).collect();
                        for i in live.edf.mirrors(&percents) {
                            walk.copies.push(MirrorCopy {
                                service: mirrors[i].0.clone(),
                                body: *body,
                                max_body: *max_body,
                            });
                        }
                    }
                    main
                }
                Kind::Failover {
                    main,
                    fallback,
                    health,
                    errors,
                } => {
                    if self.up(registry, main, 0) {
                        if let (Some(e), None) = (errors, &walk.failover) {
                            walk.failover = Some(FailoverOnStatus {
                                fallback: fallback.clone(),
                                errors: e.clone(),
                            });
                        }
                        main
                    } else if !*health || self.up(registry, fallback, 0) {
                        fallback
                    } else {
                        return Err(ProxyError::NoBackend);
                    }
                }
            };
        }
        Err(ProxyError::NoBackend)
    }

    /// Whether service `name` has a usable backend (under a composite: one its parent
    /// would pick).
    fn up(&self, registry: &Registry, name: &str, depth: usize) -> bool {
        if depth > MAX_DEPTH {
            return false;
        }
        let Some(svc) = self.table.services.get(name) else {
            return false;
        };
        match &svc.kind {
            Kind::Servers => {
                self.services
                    .get(name)
                    .is_some_and(|l: &std::sync::Arc<LiveService>| {
                        l.backends.iter().any(|b| registry.usable(b))
                    })
            }
            Kind::Weighted {
                children, health, ..
            } => {
                !*health
                    || children
                        .iter()
                        .any(|(c, w)| *w > 0 && self.up(registry, c, depth + 1))
            }
            Kind::Mirroring { main, .. } => self.up(registry, main, depth + 1),
            Kind::Failover {
                main,
                fallback,
                health,
                ..
            } => {
                self.up(registry, main, depth + 1)
                    || !*health
                    || self.up(registry, fallback, depth + 1)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_follow_weights_and_interleave() {
        let edf = Edf::default();
        let picks: Vec<usize> = (0..8)
            .map(|_| edf.pick(&[3, 1], |_| true).unwrap())
            .collect();
        assert_eq!(picks.iter().filter(|i| **i == 0).count(), 6, "{picks:?}");
        assert!(picks.windows(4).all(|w| w.contains(&1)), "{picks:?}");
    }

    #[test]
    fn zero_weights_and_refused_candidates_are_skipped() {
        let edf = Edf::default();
        for _ in 0..10 {
            assert_eq!(edf.pick(&[0, 2, 1], |i| i != 2), Some(1));
        }
        assert_eq!(edf.pick(&[0, 2, 1], |_| false), None);
        assert_eq!(edf.pick(&[0, 0], |_| true), None);
        // The one skipped for ten picks does not then take ten in a row.
        let picks: Vec<usize> = (0..6)
            .map(|_| edf.pick(&[0, 2, 1], |_| true).unwrap())
            .collect();
        assert_eq!(picks.iter().filter(|i| **i == 2).count(), 2, "{picks:?}");
    }
}

/// Traefik's `pkg/server/service/loadbalancer/wrr/wrr_test.go`, translated: the picks of
/// [`Edf::pick`] (a child's health is what `ok` accepts; weight 0 is Traefik's "not added").
/// `fenced` servers (`TestBalancerAllServersFenced`, `TestSticky_Fenced`) are set by
/// Traefik's Kubernetes providers only (`file:"-" label:"-"`), which the router does not have.
#[cfg(test)]
// The tables are tuples of plain data.
#[allow(clippy::type_complexity)]
mod traefik_tables {
    use super::*;

    /// `n` picks among `weights`, `down` never accepted; `None` where nothing could be picked
    /// (Traefik's 503 "no available server").
    fn picks(edf: &Edf, weights: &[u32], down: &[usize], n: usize) -> Vec<Option<usize>> {
        (0..n)
            .map(|_| edf.pick(weights, |i| !down.contains(&i)))
            .collect()
    }

    fn counts(p: &[Option<usize>], len: usize) -> Vec<usize> {
        (0..len)
            .map(|i| p.iter().filter(|x| **x == Some(i)).count())
            .collect()
    }

    #[test]
    fn counts_per_weight() {
        // (Traefik test, weights, children down, picks, picks per child).
        let table: &[(&str, &[u32], &[usize], usize, &[usize])] = &[
            ("TestBalancer", &[3, 1], &[], 4, &[3, 1]),
            ("TestBalancerOneServerZeroWeight", &[1, 0], &[], 3, &[3, 0]),
            ("TestBalancerOneServerDown", &[1, 1], &[1], 3, &[3, 0]),
            (
                "TestSticky (no cookie yet: the first pick)",
                &[1, 2],
                &[],
                1,
                &[0, 1],
            ),
        ];
        for (test, weights, down, n, want) in table {
            let edf = Edf::default();
            let p = picks(&edf, weights, down, *n);
            assert_eq!(counts(&p, weights.len()), *want, "{test}: {p:?}");
        }
    }

    #[test]
    fn nothing_to_pick_is_503() {
        // (Traefik test, weights, children down): every request "no available server".
        let table: &[(&str, &[u32], &[usize])] = &[
            ("TestBalancerNoService", &[], &[]),
            ("TestBalancerNoServiceUp", &[1, 1], &[0, 1]),
            ("TestBalancerAllServersZeroWeight", &[0, 0], &[]),
        ];
        for (test, weights, down) in table {
            let edf = Edf::default();
            assert_eq!(picks(&edf, weights, down, 3), [None; 3], "{test}");
        }
    }

    #[test]
    fn bias_sequence() {
        // TestBalancerBias: weights 11 (A) and 3 (B) spread evenly from the start.
        let edf = Edf::default();
        let seq: String = picks(&edf, &[11, 3], &[], 14)
            .iter()
            .map(|p| if *p == Some(0) { 'A' } else { 'B' })
            .collect();
        assert_eq!(seq, "AAABAAAABAAABA");
    }

    #[test]
    fn down_then_up() {
        // TestBalancerDownThenUp: second down for 3 picks, then up: the next 2 are one each.
        let edf = Edf::default();
        assert_eq!(counts(&picks(&edf, &[1, 1], &[1], 3), 2), [3, 0]);
        assert_eq!(counts(&picks(&edf, &[1, 1], &[], 2), 2), [1, 1]);
    }

    #[test]
    fn propagate() {
        // TestBalancerPropagate: top = [balancer1 (first, second), balancer2 (third,
        // fourth)], all weight 1 with health checks; 8 requests per step. (Step: children
        // down, requests per first/second/third/fourth.)
        let table: &[(&[usize], [usize; 4])] = &[
            (&[], [2, 2, 2, 2]),
            (&[3], [2, 2, 4, 0]),
            (&[2, 3], [4, 4, 0, 0]),
        ];
        let (top, b1, b2) = (Edf::default(), Edf::default(), Edf::default());
        for (down, want) in table {
            let up = |leaf: usize| !down.contains(&leaf);
            let mut got = [0; 4];
            for _ in 0..8 {
                let child = top
                    .pick(&[1, 1], |c| up(2 * c) || up(2 * c + 1))
                    .expect("a balancer is up");
                let edf = if child == 0 { &b1 } else { &b2 };
                let leaf = 2 * child + edf.pick(&[1, 1], |i| up(2 * child + i)).expect("up");
                got[leaf] += 1;
            }
            assert_eq!(got, *want, "down {down:?}");
        }
    }
}

/// Traefik's `pkg/server/service/loadbalancer/failover/failover_test.go` and
/// `mirror/mirror_test.go`, translated for the file provider's `failover` and `mirroring`
/// services: the service [`Live::leaf`] sends a request to as the main service's and the
/// fallback's servers pass or fail their health checks (Traefik's `SetHandlerStatus`), the
/// statuses that send it on to the fallback, the bodies held for that, and the copies
/// mirrors get. A failover with no usable service answers 503 `no available server` here,
/// Traefik's failover `Service Unavailable` (README).
#[cfg(test)]
// The tables are tuples of plain data.
#[allow(clippy::type_complexity)]
mod composite_tables {
    use std::sync::atomic::Ordering;

    use bytes::Bytes;

    use super::*;
    use crate::middleware::{Body, BodyFuture, BodyWithinFuture};

    /// A load balancer with one server and a health check.
    fn lb(name: &str, ip: u8) -> String {
        format!("    {name}:\n      loadBalancer:\n        healthCheck:\n          path: /health\n        servers:\n          - url: http://10.0.0.{ip}:80\n")
    }

    /// The file provider's `services` (YAML under `http.services`) in service.
    fn live(services: &str) -> (Registry, Live) {
        crate::live::in_service(&format!("http:\n  services:\n{services}"))
    }

    /// Traefik's `SetHandlerStatus`: the servers of `service` pass or fail their check.
    fn set_up(live: &Live, service: &str, up: bool) {
        for b in &live.services[&format!("{service}@file")].backends {
            b.state.check_failed.store(!up, Ordering::Relaxed);
        }
    }

    /// Where a request for `service` goes (the service with servers, unqualified), or the
    /// status it is answered with; and the walk.
    fn pick(reg: &Registry, live: &Live, service: &str) -> (Result<String, u16>, Walk<'static>) {
        let mut walk = Walk::default();
        let got = live
            .leaf(reg, &format!("{service}@file"), &mut walk)
            .map(|s| s.trim_end_matches("@file").to_owned())
            .map_err(|e| e.status().as_u16());
        (got, walk)
    }

    fn up(reg: &Registry, live: &Live, service: &str) -> bool {
        live.up(reg, &format!("{service}@file"), 0)
    }

    /// Steps: (handler up, fallback up, where a request goes, the failover's own status).
    type Steps<'a> = &'a [(bool, bool, Result<&'a str, u16>, bool)];

    fn run(services: &str, top: &str, steps: Steps<'_>, test: &str) {
        let (reg, live) = live(services);
        for (i, (handler, fallback, want, status)) in steps.iter().enumerate() {
            set_up(&live, "handler", *handler);
            set_up(&live, "fallback", *fallback);
            let (got, _) = pick(&reg, &live, top);
            assert_eq!(got.as_deref().map_err(|s| *s), *want, "{test}, step {i}");
            assert_eq!(up(&reg, &live, "failover"), *status, "{test}, step {i}");
        }
    }

    #[test]
    fn failover() {
        // TestFailover: healthCheck {}: the fallback's health counts too.
        let services = format!(
            "    failover:\n      failover:\n        service: handler\n        fallback: fallback\n        healthCheck: {{}}\n{}{}",
            lb("handler", 1),
            lb("fallback", 2)
        );
        run(
            &services,
            "failover",
            &[
                (true, true, Ok("handler"), true),
                (false, true, Ok("fallback"), true),
                (false, false, Err(503), false),
            ],
            "TestFailover",
        );
        // TestFailoverDownThenUp: no healthCheck (its status is not followed: always up).
        let services = format!(
            "    failover:\n      failover:\n        service: handler\n        fallback: fallback\n{}{}",
            lb("handler", 1),
            lb("fallback", 2)
        );
        run(
            &services,
            "failover",
            &[
                (true, true, Ok("handler"), true),
                (false, true, Ok("fallback"), true),
                (true, true, Ok("handler"), true),
            ],
            "TestFailoverDownThenUp",
        );
        // TestFailoverPropagate: a failover without healthCheck over one with it.
        let services = format!(
            "    top:\n      failover:\n        service: failover\n        fallback: topFailover\n    failover:\n      failover:\n        service: handler\n        fallback: fallback\n        healthCheck: {{}}\n{}{}{}",
            lb("handler", 1),
            lb("fallback", 2),
            lb("topFailover", 3)
        );
        run(
            &services,
            "top",
            &[
                (true, true, Ok("handler"), true),
                (false, true, Ok("fallback"), true),
                (false, false, Ok("topFailover"), false),
            ],
            "TestFailoverPropagate",
        );
    }

    /// A failover with `errors` (YAML under it, indented 8) over `handler` and `fallback`;
    /// `handler` with a health check or without.
    fn with_errors(errors: &str, handler_check: bool) -> String {
        let handler = if handler_check {
            lb("handler", 1)
        } else {
            "    handler:\n      loadBalancer:\n        servers:\n          - url: http://10.0.0.1:80\n".to_owned()
        };
        format!(
            "    failover:\n      failover:\n        service: handler\n        fallback: fallback\n        errors:\n{errors}{handler}{}",
            lb("fallback", 2)
        )
    }

    /// Where a request ends after `handler` answers `status`: the walk's failover decides.
    fn after_answer(reg: &Registry, live: &Live, status: u16) -> Result<String, u16> {
        let (got, walk) = pick(reg, live, "failover");
        match (got, walk.failover) {
            (Ok(s), Some(f)) if s == "handler" && f.errors.lists(status) => {
                let (fb, _) = pick(reg, live, f.fallback.trim_end_matches("@file"));
                fb
            }
            (got, _) => got,
        }
    }

    #[test]
    fn failover_status_code() {
        // (case, errors.status, the handler's answer, who answers).
        let table: &[(&str, &[&str], u16, &str)] = &[
            (
                "main handler returns 503, failover triggered",
                &["503"],
                503,
                "fallback",
            ),
            (
                "main handler returns 200, failover not triggered",
                &["503"],
                200,
                "handler",
            ),
            (
                "main handler returns 500, failover not triggered",
                &["503"],
                500,
                "handler",
            ),
            (
                "multiple status codes, 503 triggers failover",
                &["500", "502", "503", "504"],
                503,
                "fallback",
            ),
            (
                "multiple status codes, 502 triggers failover",
                &["500", "502", "503", "504"],
                502,
                "fallback",
            ),
            (
                "multiple status codes, 404 does not trigger failover",
                &["500", "502", "503", "504"],
                404,
                "handler",
            ),
            (
                "status code range 500-504, 503 triggers failover",
                &["500-504"],
                503,
                "fallback",
            ),
            (
                "status code range 500-504, 404 does not trigger failover",
                &["500-504"],
                404,
                "handler",
            ),
        ];
        for (case, status, answer, want) in table {
            let list: Vec<String> = status.iter().map(|s| format!("{s:?}")).collect();
            // Traefik's failover needs no health check on its service when errors are set.
            for check in [true, false] {
                let (reg, live) = live(&with_errors(
                    &format!("          status: [{}]\n", list.join(", ")),
                    check,
                ));
                assert_eq!(
                    after_answer(&reg, &live, *answer).as_deref(),
                    Ok(*want),
                    "{case} (handler health check: {check})"
                );
            }
        }
    }

    #[test]
    fn failover_status_code_with_health_check() {
        // TestFailoverStatusCodeWithHealthCheck: (handler up, its answer, who answers).
        let (reg, live) = live(
            &with_errors("          status: [\"503\"]\n", true).replacen(
                "        errors:\n",
                "        healthCheck: {}\n        errors:\n",
                1,
            ),
        );
        assert!(live.table.services.contains_key("failover@file"));
        for (i, (handler_up, answer, want)) in [
            (true, 503, "fallback"),
            (false, 200, "fallback"),
            (true, 200, "handler"),
        ]
        .iter()
        .enumerate()
        {
            set_up(&live, "handler", *handler_up);
            assert_eq!(
                after_answer(&reg, &live, *answer).as_deref(),
                Ok(*want),
                "step {i}"
            );
        }
    }

    #[test]
    fn failover_invalid_status_code_range() {
        // TestFailoverInvalidStatusCodeRange: the failover is not built, with an error.
        let (_, live) = live(&with_errors("          status: [\"invalid\"]\n", true));
        assert!(!live.table.services.contains_key("failover@file"));
        let issue = live
            .table
            .issues
            .iter()
            .find(|i| i.message.contains("invalid"))
            .unwrap_or_else(|| panic!("{:?}", live.table.issues));
        assert!(issue.message.contains("status"), "{issue:?}");
    }

    /// A body in memory, its length declared or not (chunked).
    struct Mem {
        data: Bytes,
        declared: bool,
    }

    impl Body for Mem {
        fn read_all(&mut self, limit: u64) -> BodyFuture<'_> {
            let r = if self.data.len() as u64 > limit {
                Err(http1_framing::io::BodyError::TooLarge(limit))
            } else {
                self.declared = true;
                Ok(self.data.clone())
            };
            Box::pin(async move { r })
        }
        fn declared(&self) -> Option<u64> {
            self.declared.then_some(self.data.len() as u64)
        }
        fn read_within(&mut self, limit: u64) -> BodyWithinFuture<'_> {
            let r = (self.data.len() as u64 <= limit).then(|| {
                self.declared = true;
                self.data.clone()
            });
            Box::pin(async move { Ok(r) })
        }
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
            .block_on(f)
    }

    #[test]
    fn failover_status_code_max_body_size() {
        // TestFailoverStatusCodeMaxBodySize and TestFailoverStatusCodeWithRequestBody:
        // (case, maxRequestBodyBytes, body, held for the fallback, or the answer).
        let table: &[(&str, i64, &str, Result<(), (u16, &str)>)] = &[
            ("request body within limit", 100, "small body", Ok(())),
            (
                "request body exceeds limit",
                5,
                "this body is too large",
                Err((413, "Request body too large")),
            ),
            (
                "zero body size limit",
                0,
                "any size body",
                Err((413, "Request body too large")),
            ),
            (
                "no body size limit",
                -1,
                "any size body should work",
                Ok(()),
            ),
            (
                "request body replayed to fallback handler",
                -1,
                "test request body",
                Ok(()),
            ),
        ];
        for (case, max, body, want) in table {
            let (_, live) = live(&with_errors(
                &format!("          status: [\"503\"]\n          maxRequestBodyBytes: {max}\n"),
                true,
            ));
            let (_, walk) = {
                let reg = Registry::default();
                let mut walk = Walk::default();
                let _ = live.leaf(&reg, "failover@file", &mut walk);
                ((), walk)
            };
            let errors = walk.failover.expect("errors on the way").errors;
            let mut mem = Mem {
                data: Bytes::from(body.as_bytes()),
                declared: true,
            };
            let got = block_on(crate::proxy::hold_for_failover(
                true,
                errors.max_request_body_bytes,
                &mut mem,
            ));
            match want {
                Ok(()) => {
                    assert_eq!(got.ok(), Some(true), "{case}");
                    let again = block_on(mem.read_all(u64::MAX)).expect("held");
                    assert_eq!(again, body.as_bytes(), "{case}");
                }
                Err((status, text)) => {
                    let e = got.expect_err(case);
                    assert_eq!(
                        (e.status().as_u16(), &*e.to_string()),
                        (*status, *text),
                        "{case}"
                    );
                }
            }
        }
    }

    /// A request through router `r` (`Host: a`, entry point `web`) to a failover with
    /// `errors: [503]` whose main service `handler` and fallback `fallback` each have a
    /// sticky cookie (`main`, `fb`; none for the fallback when `fallback_sticky` is false),
    /// the client sending `cookies`; the main service answers 503. The server picked on the
    /// fallback, and the `Set-Cookie` values of the answer.
    fn sticky_fallback(fallback_sticky: bool, cookies: &str) -> (String, Vec<String>) {
        let sticky =
            |name: &str| format!("        sticky:\n          cookie:\n            name: {name}\n");
        let fb_sticky = if fallback_sticky {
            sticky("fb")
        } else {
            String::new()
        };
        let yaml = format!(
            "http:\n  routers:\n    r:\n      rule: Host(`a`)\n      entryPoints: [web]\n      service: failover\n  services:\n    failover:\n      failover:\n        service: handler\n        fallback: fallback\n        errors:\n          status: [\"503\"]\n    handler:\n      loadBalancer:\n{}        servers:\n          - url: http://10.0.0.1:80\n    fallback:\n      loadBalancer:\n{fb_sticky}        servers:\n          - url: http://10.0.0.2:80\n          - url: http://10.0.0.3:80\n",
            sticky("main")
        );
        let snap = crate::provider::file::snapshot_of_yaml(&yaml);
        let config = crate::config::Config::from_env(&std::collections::HashMap::new())
            .expect("the default configuration");
        let shared = crate::state::Shared::new(config);
        let settings = crate::provider::file::one_entry_point("web");
        let table = crate::model::compile::compile([&snap], &settings);
        assert!(!table.routes.is_empty(), "{:?}", table.issues);
        shared
            .live
            .store(std::sync::Arc::new(shared.registry.attach(table)));
        let ep = shared.config.entry_points[0].clone();
        let mut headers = hyper::HeaderMap::new();
        headers.insert(hyper::header::HOST, "a".parse().expect("a host"));
        if !cookies.is_empty() {
            headers.insert(hyper::header::COOKIE, cookies.parse().expect("cookies"));
        }
        let method = hyper::Method::GET;
        let inbound = crate::proxy::Inbound {
            entrypoint: "web",
            scheme: "http",
            peer: "192.0.2.1:1234".parse().expect("an address"),
            trusted: true,
            ep: &ep,
            tls_options: "",
            client_certs: None,
            client: "192.0.2.1",
            host: "a",
            method: &method,
            path: "/",
            query: None,
            has_body: false,
        };
        let mut log = crate::proxy::Log::default();
        let mut body = Mem {
            data: Bytes::new(),
            declared: true,
        };
        block_on(async {
            let plan = match crate::proxy::plan(
                &shared,
                &inbound,
                &mut headers,
                &mut log,
                &mut body,
            )
            .await
            {
                Ok(crate::proxy::Planned::Forward(p)) => p,
                other => panic!("{other:?}"),
            };
            let (main, _) = plan.pick(&shared, None).await.expect("the main server");
            assert_eq!(main.def.url, "http://10.0.0.1:80");
            assert_eq!(plan.fail_over(503).ok(), Some(true));
            let (b, _) = plan.pick(&shared, None).await.expect("a fallback server");
            let mut h = hyper::HeaderMap::new();
            crate::proxy::finish_response(&shared, &plan, "http", &mut h);
            let set = h
                .get_all(hyper::header::SET_COOKIE)
                .iter()
                .map(|v| v.to_str().expect("text").to_owned())
                .collect();
            (b.def.url.clone(), set)
        })
    }

    #[test]
    fn a_fallback_reads_its_own_sticky_cookie() {
        use crate::dynamic::sticky::server_value;
        // Traefik's fallback is a balancer with its own sticky cookie: a client naming its
        // server stays there, and no cookie is set again.
        for server in ["http://10.0.0.2:80", "http://10.0.0.3:80"] {
            let (got, set) = sticky_fallback(true, &format!("fb={}", server_value(server)));
            assert_eq!((got.as_str(), set), (server, vec![]), "{server}");
        }
        // A new client gets the fallback's cookie, not the main service's, whose answer
        // (with its headers) is dropped.
        let (got, set) = sticky_fallback(true, "");
        assert_eq!(set, [format!("fb={}; Path=/", server_value(&got))]);
        let (_, set) = sticky_fallback(false, "");
        assert_eq!(set, Vec::<String>::new());
    }

    #[test]
    fn mirroring_percent() {
        // TestMirroringOn100, TestMirroringOn10: mirrors of 10% and 50%; (requests, copies
        // each mirror got).
        let services = format!(
            "    mirrored:\n      mirroring:\n        service: handler\n        mirrors:\n          - name: m1\n            percent: 10\n          - name: m2\n            percent: 50\n{}{}{}",
            lb("handler", 1),
            lb("m1", 2),
            lb("m2", 3)
        );
        for (requests, want) in [(100, [10, 50]), (10, [1, 5])] {
            let (reg, live) = live(&services);
            let mut got = [0; 2];
            for _ in 0..requests {
                let (leaf, walk) = pick(&reg, &live, "mirrored");
                assert_eq!(leaf.as_deref(), Ok("handler"));
                for c in walk.copies {
                    got[usize::from(c.service == "m2@file")] += 1;
                }
            }
            assert_eq!(got, want, "{requests} requests");
        }
    }

    #[test]
    fn invalid_percent() {
        // TestInvalidPercent: (percent, accepted).
        for (percent, ok) in [(-1, false), (101, false), (100, true), (0, true)] {
            let (_, live) = live(&format!(
                "    mirrored:\n      mirroring:\n        service: handler\n        mirrors:\n          - name: m1\n            percent: {percent}\n{}{}",
                lb("handler", 1),
                lb("m1", 2)
            ));
            assert_eq!(
                live.table.services.contains_key("mirrored@file"),
                ok,
                "{percent}: {:?}",
                live.table.issues
            );
            if !ok {
                assert!(
                    live.table
                        .issues
                        .iter()
                        .any(|i| i.message.contains(&percent.to_string())),
                    "{:?}",
                    live.table.issues
                );
            }
        }
    }

    #[test]
    fn mirroring_with_body() {
        // TestMirroringWithBody, TestMirroringWithIgnoredBody and TestCloneRequest's
        // NewReusableRequest: (case, mirrorBody, maxBodySize, body, its length declared,
        // the body the copies carry; None: no copies).
        let table: &[(&str, bool, i64, &str, bool, Option<&str>)] = &[
            (
                "TestMirroringWithBody",
                true,
                -1,
                "body",
                true,
                Some("body"),
            ),
            (
                "TestMirroringWithIgnoredBody",
                false,
                -1,
                "body",
                true,
                Some(""),
            ),
            (
                "http request body is not nil",
                true,
                -1,
                "¯\\_(ツ)_/¯",
                true,
                Some("¯\\_(ツ)_/¯"),
            ),
            ("failed case", true, 2, "1234567890", false, None),
            (
                "failed case, length declared",
                true,
                2,
                "1234567890",
                true,
                None,
            ),
            (
                "valid case with maxBodySize",
                true,
                20,
                "1234567890",
                false,
                Some("1234567890"),
            ),
            (
                "valid GET case with maxBodySize",
                true,
                20,
                "",
                true,
                Some(""),
            ),
            (
                "valid empty body with unknown content length",
                true,
                20,
                "",
                false,
                Some(""),
            ),
            (
                "valid body with unknown content length",
                true,
                20,
                "unknown length body",
                false,
                Some("unknown length body"),
            ),
        ];
        for (case, mirror_body, max, body, declared, want) in table {
            let (reg, live) = live(&format!(
                "    mirrored:\n      mirroring:\n        service: handler\n        mirrorBody: {mirror_body}\n        maxBodySize: {max}\n        mirrors:\n          - name: m1\n            percent: 100\n{}{}",
                lb("handler", 1),
                lb("m1", 2)
            ));
            let (_, walk) = pick(&reg, &live, "mirrored");
            assert_eq!(walk.copies.len(), 1, "{case}");
            assert_eq!(walk.copies[0].body, *mirror_body, "{case}");
            let mut mem = Mem {
                data: Bytes::from(body.as_bytes()),
                declared: *declared,
            };
            let copied = block_on(crate::mirror::body(true, &mut mem, &walk.copies))
                .unwrap_or_else(|e| panic!("{case}: {e}"));
            let sent = if *mirror_body {
                copied.map(|b| String::from_utf8_lossy(&b).into_owned())
            } else {
                // Sent without the body (Traefik's copies read the body main consumed).
                assert_eq!(copied, None, "{case}");
                Some(String::new())
            };
            assert_eq!(sent.as_deref(), *want, "{case}");
            // The main service gets the whole body all the same.
            assert_eq!(
                block_on(mem.read_all(u64::MAX)).expect("whole"),
                body.as_bytes(),
                "{case}"
            );
        }
    }
}
