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
    let snap = crate::provider::file::snapshot(&[crate::provider::file::Parsed {
        path: "/dynamic.yml".into(),
        root: crate::tree::Node::from_yaml(&yaml, "").unwrap_or_else(|e| panic!("{e}")),
    }]);
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
    let settings = shared.config.entry_points[0].clone();
    let mut headers = hyper::HeaderMap::new();
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
        Ok(Planned::Forward(p)) => (200, Some(p)),
        Ok(Planned::Answer(a)) => (a.status.as_u16(), None),
        Err(e) => (e.status().as_u16(), None),
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
