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
            Kind::Servers => self
                .services
                .get(name)
                .is_some_and(|l: &LiveService| l.backends.iter().any(|b| registry.usable(b))),
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
