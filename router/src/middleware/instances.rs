//! Which instance of a stateful middleware a request goes through ([`super::InUse`]), through
//! [`crate::proxy::plan`] on a compiled table: as Traefik's, one instance per router using
//! the middleware (shared by the router's entry points) and per place in its chain.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::FutureExt as _;

use super::{Body, BodyFuture, BodyWithinFuture};
use crate::model::compile::{CompileSettings, EntryPointModel};
use crate::proxy::{Inbound, Log, Planned};
use crate::server::Shared;

struct NoBody;

impl Body for NoBody {
    fn read_all(&mut self, _limit: u64) -> BodyFuture<'_> {
        Box::pin(async { Ok(Bytes::new()) })
    }
    fn declared(&self) -> Option<u64> {
        Some(0)
    }
    fn read_within(&mut self, _limit: u64) -> BodyWithinFuture<'_> {
        Box::pin(async { Ok(Some(Bytes::new())) })
    }
}

/// Routers `r1` (`Host(a)`) and `r2` (`Host(b)`) on `web`, `r3` (`Host(c)`) on `web` and
/// `websecure`, each using middleware `m`, and `r4` (`Host(d)`) using `m` twice, itself and
/// through chain `c`; `m` is defined by `m_yaml` (under `middlewares.m`). In service.
fn table(m_yaml: &str) -> Arc<Shared> {
    let yaml = format!(
        "http:\n  routers:\n    r1:\n      rule: Host(`a`)\n      entryPoints: [web]\n      service: s\n      middlewares: [m]\n    r2:\n      rule: Host(`b`)\n      entryPoints: [web]\n      service: s\n      middlewares: [m]\n    r3:\n      rule: Host(`c`)\n      entryPoints: [web, websecure]\n      service: s\n      middlewares: [m]\n    r4:\n      rule: Host(`d`)\n      entryPoints: [web]\n      service: s\n      middlewares: [m, c]\n  middlewares:\n    c:\n      chain:\n        middlewares: [m]\n    m:\n{m_yaml}  services:\n    s:\n      loadBalancer:\n        servers:\n          - url: http://10.0.0.1:80\n"
    );
    let snap = crate::provider::file::snapshot_of_yaml(&yaml);
    let config = crate::config::Config::from_env(&HashMap::new()).expect("the defaults");
    let shared = Shared::new(config);
    let ep = |name: &str| EntryPointModel {
        name: name.into(),
        default: true,
        ..Default::default()
    };
    let settings = CompileSettings {
        entry_points: vec![ep("web"), ep("websecure")],
        ..Default::default()
    };
    let table = crate::model::compile::compile([&snap], &settings);
    assert_eq!(table.routes.len(), 4, "{:?}", table.issues);
    shared.live.store(Arc::new(shared.registry.attach(table)));
    shared
}

/// A request from 192.0.2.1 for `host` on entry point `ep`: its status (200 when it would
/// be forwarded), and its plan, which holds what it counts until dropped.
fn request(
    shared: &Shared,
    ep: &'static str,
    host: &str,
) -> (u16, Option<Box<crate::proxy::Plan>>) {
    let (status, plan, _) = request_with(shared, ep, host, hyper::HeaderMap::new());
    (status, plan)
}

/// [`request`] with these headers, and its log (with the breakers it went through) and
/// its answer's headers.
fn request_with(
    shared: &Shared,
    ep: &'static str,
    host: &str,
    mut headers: hyper::HeaderMap,
) -> (
    u16,
    Option<Box<crate::proxy::Plan>>,
    (Log, hyper::HeaderMap),
) {
    let settings = shared.config.entry_points[0].clone();
    headers.insert(hyper::header::HOST, host.parse().expect("a host"));
    let inbound = Inbound {
        entrypoint: ep,
        scheme: "http",
        peer: "192.0.2.1:1234".parse().expect("an address"),
        trusted: false,
        ep: &settings,
        tls_options: "",
        client_certs: None,
        client: "192.0.2.1",
        host,
        method: &hyper::Method::GET,
        path: "/",
        query: None,
        has_body: false,
    };
    let mut log = Log::default();
    let planned = crate::proxy::plan(shared, &inbound, &mut headers, &mut log, &mut NoBody)
        .now_or_never()
        .expect("nothing waits");
    match planned {
        Ok(Planned::Forward(p)) => (200, Some(p), (log, hyper::HeaderMap::new())),
        Ok(Planned::Answer(a)) => (a.status.as_u16(), None, (log, a.headers)),
        Err(e) => (e.status().as_u16(), None, (log, hyper::HeaderMap::new())),
    }
}

/// What `m` does to, in turn: a request to `r1` (kept in flight), a second one to `r1`, one
/// to `r2`, one to `r3` on `web` (kept), one to `r3` on `websecure`, and one to `r4`.
fn statuses(m_yaml: &str) -> [u16; 6] {
    let shared = table(m_yaml);
    let (first, _held) = request(&shared, "web", "a");
    let (again, _) = request(&shared, "web", "a");
    let (other, _) = request(&shared, "web", "b");
    let (web, _held_too) = request(&shared, "web", "c");
    let (websecure, _) = request(&shared, "websecure", "c");
    let (twice, _) = request(&shared, "web", "d");
    [first, again, other, web, websecure, twice]
}

#[test]
fn in_flight_req_counts_apart_for_each_router_and_place() {
    // Amount 1 per client address: a second request to the router holding one is refused;
    // another router has its own count; a router's entry points share one (Traefik builds a
    // router's handler once and every entry point it is on uses it); a router listing the
    // middleware twice has two instances, each counting the request once.
    let got = statuses("      inFlightReq:\n        amount: 1\n        sourceCriterion:\n          ipStrategy: {}\n");
    assert_eq!(got, [200, 429, 200, 200, 429, 200]);
}

#[test]
fn in_flight_req_of_zero_or_below_refuses_all_as_traefiks_does() {
    // oxy's connection limiter, which Traefik uses: accepted, and every request is refused
    // with 429 `max connections reached: <amount>`.
    for amount in [0, -1] {
        let shared = table(&format!("      inFlightReq:\n        amount: {amount}\n"));
        let (status, plan, (_, headers)) =
            request_with(&shared, "web", "a", hyper::HeaderMap::new());
        assert_eq!((status, plan.is_none()), (429, true), "{amount}");
        assert_eq!(
            headers.get("content-type").and_then(|v| v.to_str().ok()),
            Some("text/plain; charset=utf-8")
        );
    }
}

#[test]
fn an_empty_chain_does_nothing() {
    // Traefik builds it as an empty list of handlers: the routers using it are served.
    let shared = table("      chain:\n        middlewares: []\n");
    assert_eq!(request(&shared, "web", "a").0, 200);
    assert_eq!(request(&shared, "web", "d").0, 200);
}

#[test]
fn answer_headers_of_earlier_headers_middlewares_reach_a_refusal() {
    // A chain of two `headers` and a `basicAuth`: the 401 gets both's answer headers, and of
    // the same header the earlier's (Traefik's outer response modifier sets it last).
    let shared = table("      chain:\n        middlewares: [h1, h2, auth]\n    h1:\n      headers:\n        customResponseHeaders: {X-A: outer}\n        accessControlAllowOriginList: ['*']\n        addVaryHeader: true\n    h2:\n      headers:\n        customResponseHeaders: {X-A: inner, X-B: inner}\n    auth:\n      basicAuth:\n        users: ['u:{SHA}UWuXg/ylF+7L0dBk2i0WUxCxl1k=']\n");
    let (status, _, (_, h)) = request_with(&shared, "web", "a", hyper::HeaderMap::new());
    let get = |k: &str| h.get(k).and_then(|v| v.to_str().ok());
    assert_eq!(status, 401);
    assert_eq!(
        (
            get("x-a"),
            get("x-b"),
            get("access-control-allow-origin"),
            get("vary")
        ),
        (Some("outer"), Some("inner"), Some("*"), Some("Origin"))
    );
    assert!(get("www-authenticate").is_some());
}

#[test]
fn rate_limit_buckets_apart_for_each_router_and_place() {
    // One request a minute per client address, in the same pattern.
    let got = statuses("      rateLimit:\n        average: 1\n        period: 1m\n");
    assert_eq!(got, [200, 429, 200, 200, 429, 200]);
}

#[test]
fn a_bucket_starts_anew_when_its_rate_changes() {
    let shared = table("      rateLimit:\n        average: 1\n        period: 1m\n");
    assert_eq!(request(&shared, "web", "a").0, 200);
    assert_eq!(request(&shared, "web", "a").0, 429);
    // The same configuration again: the bucket is kept.
    let again = table("      rateLimit:\n        average: 1\n        period: 1m\n");
    shared.live.store(again.live.load_full());
    assert_eq!(request(&shared, "web", "a").0, 429);
    // Another rate: a new, full bucket.
    let faster = table("      rateLimit:\n        average: 2\n        period: 1m\n");
    shared.live.store(faster.live.load_full());
    assert_eq!(request(&shared, "web", "a").0, 200);
}

/// The `opaque` of the digest challenge a request without credentials gets.
fn opaque(shared: &Shared, ep: &'static str, host: &str) -> String {
    let (status, _, (_, answer)) = request_with(shared, ep, host, hyper::HeaderMap::new());
    assert_eq!(status, 401, "{host}");
    let challenge = answer[hyper::header::WWW_AUTHENTICATE].to_str().unwrap();
    let (_, rest) = challenge.split_once("opaque=\"").expect("an opaque value");
    rest.split('"').next().unwrap_or_default().to_owned()
}

#[test]
fn digest_auth_has_its_nonces_apart_for_each_router() {
    // Each router's instance has its own opaque value (and nonces): a router's entry points
    // share one; a router listing the middleware twice asks first for the first's.
    let shared = table(
        "      digestAuth:\n        users: [\"test:traefik:a2688a2a4f2e3e8c0d1a4d1b5b1c1d1e\"]\n",
    );
    let r1 = opaque(&shared, "web", "a");
    assert_eq!(opaque(&shared, "web", "a"), r1);
    let r2 = opaque(&shared, "web", "b");
    assert_ne!(r2, r1);
    let r3 = opaque(&shared, "web", "c");
    assert_eq!(opaque(&shared, "websecure", "c"), r3);
    assert!(![r1, r2].contains(&r3));
}

#[test]
fn circuit_breakers_apart_for_each_place() {
    // The router and its chain both list the breaker: two instances, each recording the
    // request once (one shared instance would record it twice). Each router has its own,
    // shared by its entry points.
    let shared = table("      circuitBreaker:\n        expression: NetworkErrorRatio() > 0.5\n");
    let breakers = |ep, host| {
        let (status, _, (log, _)) = request_with(&shared, ep, host, hyper::HeaderMap::new());
        assert_eq!(status, 200, "{host}");
        log.breakers
    };
    let twice = breakers("web", "d");
    assert_eq!(twice.len(), 2);
    assert!(!twice[0].same(&twice[1]));
    assert!(breakers("web", "d")[1].same(&twice[1]));
    let r1 = breakers("web", "a");
    assert!(!r1[0].same(&breakers("web", "b")[0]));
    assert!(breakers("web", "c")[0].same(&breakers("websecure", "c")[0]));
}
