//! The internal provider: what the static configuration itself defines, as Traefik's
//! internal provider does — `api@internal`, `dashboard@internal`, `ping@internal`,
//! `prometheus@internal`, `noop@internal` and `acme-http@internal` (with their routers on the
//! `traefik` entry point, or the HTTP challenge's, unless routed by hand; the dashboard's
//! behind `dashboard_redirect@internal` and `dashboard_stripprefix@internal`), and each entry
//! point redirection's router and `redirect-<router>` middleware. Pure: the same
//! configuration gives the same snapshot.

use crate::config::Config;
use crate::dynamic::{GoRegex, InternalService, Middleware, Router, Service, Snapshot};

/// The highest priority (the ACME challenge and ping routers), as Traefik's `math.MaxInt`.
const MAX: i64 = i64::MAX;

/// The regex of Traefik's `dashboard_redirect@internal` (Go syntax).
const DASHBOARD_REDIRECT: &str = r"^(http:\/\/(\[[\w:.]+\]|[\w\._-]+)(:\d+)?)\/$";

fn router(rule: &str, entry_point: &str, service: &str, priority: i64) -> Router {
    Router {
        rule: rule.into(),
        entry_points: vec![entry_point.into()],
        service: service.into(),
        priority,
        sources: vec!["static configuration".into()],
        ..Default::default()
    }
}

fn internal(kind: InternalService) -> std::sync::Arc<Service> {
    std::sync::Arc::new(Service {
        internal: Some(kind),
        ..Default::default()
    })
}

/// What the internal provider has whatever the configuration: `noop@internal`.
pub fn always() -> Snapshot {
    let mut snap = Snapshot {
        provider: "internal".into(),
        ..Default::default()
    };
    snap.config
        .http
        .services
        .insert("noop".into(), internal(InternalService::Noop));
    snap
}

/// The internal provider's snapshot for a configuration.
pub fn snapshot(c: &Config) -> Snapshot {
    let mut snap = always();
    let http = &mut snap.config.http;
    if let Some(api) = &c.api {
        http.services
            .insert("api".into(), internal(InternalService::Api));
        if api.dashboard {
            http.services
                .insert("dashboard".into(), internal(InternalService::Dashboard));
        }
        if api.insecure {
            http.routers.insert(
                "api".into(),
                router("PathPrefix(`/api`)", "traefik", "api@internal", MAX - 1).into(),
            );
            // Traefik's `debug` router: `/debug/` to the API, which has no such paths here
            // (Go's expvar and pprof), so its 404.
            if api.debug {
                http.routers.insert(
                    "debug".into(),
                    router("PathPrefix(`/debug`)", "traefik", "api@internal", MAX - 1).into(),
                );
            }
            if api.dashboard {
                let mut d = router("PathPrefix(`/`)", "traefik", "dashboard@internal", MAX - 2);
                d.middlewares = vec![
                    "dashboard_redirect@internal".into(),
                    "dashboard_stripprefix@internal".into(),
                ];
                http.routers.insert("dashboard".into(), d.into());
                // Traefik's: `/` on an `http://` URL of a plain host name or address (the only
                // paths the stripprefix below leaves alone, bar others no file has).
                if let Ok(regex) = GoRegex::new(DASHBOARD_REDIRECT) {
                    http.middlewares.insert(
                        "dashboard_redirect".into(),
                        Middleware::RedirectRegex {
                            regex,
                            replacement: "${1}/dashboard/".into(),
                            permanent: true,
                        }
                        .into(),
                    );
                }
                http.middlewares.insert(
                    "dashboard_stripprefix".into(),
                    Middleware::StripPrefix {
                        prefixes: vec!["/dashboard/".into(), "/dashboard".into()],
                    }
                    .into(),
                );
            }
        }
    }
    if let Some(p) = &c.ping {
        http.services
            .insert("ping".into(), internal(InternalService::Ping));
        if !p.manual_routing {
            http.routers.insert(
                "ping".into(),
                router("PathPrefix(`/ping`)", &p.entry_point, "ping@internal", MAX).into(),
            );
        }
    }
    if let Some(p) = &c.prometheus {
        http.services
            .insert("prometheus".into(), internal(InternalService::Prometheus));
        if !p.manual_routing {
            http.routers.insert(
                "prometheus".into(),
                router(
                    "PathPrefix(`/metrics`)",
                    &p.entry_point,
                    "prometheus@internal",
                    MAX,
                )
                .into(),
            );
        }
    }
    // As Traefik's: a router for the ACME HTTP-01 challenges on the resolvers' entry points,
    // above every other (the proxy answers a challenge under way before routing, on every
    // plain-HTTP entry point; this router answers the others there with a 404).
    // On an entry point with `allowACMEByPass`, Traefik's `acme-http-bypass` router instead:
    // the rule's own priority, below a user's router for the same paths.
    let (mut challenge_eps, mut bypass_eps): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
    for ep in c.acme_accounts().flat_map(|a| &a.http_challenge) {
        let bypass = c.entry_point(ep).is_some_and(|e| e.allow_acme_bypass);
        let list = if bypass {
            &mut bypass_eps
        } else {
            &mut challenge_eps
        };
        if !list.contains(ep) {
            list.push(ep.clone());
        }
    }
    for (name, eps, priority) in [
        ("acme-http", challenge_eps, MAX),
        ("acme-http-bypass", bypass_eps, 0),
    ] {
        if eps.is_empty() {
            continue;
        }
        let mut r = router(
            "PathPrefix(`/.well-known/acme-challenge/`)",
            "",
            "acme-http@internal",
            priority,
        );
        r.entry_points = eps;
        http.routers.insert(name.into(), r.into());
        http.services
            .insert("acme-http".into(), internal(InternalService::AcmeHttp));
    }
    for ep in &c.entry_points {
        let Some(r) = &ep.redirect else { continue };
        let name = crate::provider::container::normalize(&format!("{}-to-{}", ep.name, r.to));
        let mw = format!("redirect-{name}");
        // With `allowACMEByPass`, the challenges are not redirected (Traefik's rule).
        let rule = if ep.allow_acme_bypass {
            "HostRegexp(`^.+$`) && !PathPrefix(`/.well-known/acme-challenge/`)"
        } else {
            "HostRegexp(`^.+$`)"
        };
        let mut rt = router(rule, &ep.name, "noop@internal", r.priority);
        rt.middlewares = vec![mw.clone()];
        http.routers.insert(name, rt.into());
        http.middlewares.insert(
            mw,
            Middleware::RedirectScheme {
                scheme: r.scheme.clone(),
                port: Some(r.port),
                permanent: r.permanent,
            }
            .into(),
        );
    }
    snap
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::sources::parse_args;

    fn config(flags: &[&str]) -> Config {
        let args = parse_args(&flags.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        Config::load(&std::collections::HashMap::new(), &args, false).unwrap()
    }

    /// The dashboard router's middlewares on a request: the status it gets from them (200:
    /// passed on), the `Location`, and the path they leave.
    fn dashboard_middlewares(
        method: &hyper::Method,
        scheme: &'static str,
        path: &str,
    ) -> (u16, String, String) {
        use crate::middleware::{Body, BodyFuture, BodyWithinFuture, Effects, Flow, Request};
        use futures_util::FutureExt as _;
        struct NoBody;
        impl Body for NoBody {
            fn read_all(&mut self, _: u64) -> BodyFuture<'_> {
                Box::pin(async { Ok(bytes::Bytes::new()) })
            }
            fn declared(&self) -> Option<u64> {
                Some(0)
            }
            fn read_within(&mut self, _: u64) -> BodyWithinFuture<'_> {
                Box::pin(async { Ok(Some(bytes::Bytes::new())) })
            }
        }
        let c = config(&["--api.insecure=true", "--api.dashboard=true"]);
        let s = snapshot(&c);
        let table = crate::model::compile::compile([&s], &crate::state::compile_settings(&c));
        let route = table
            .routes
            .iter()
            .find(|r| r.name == "dashboard@internal")
            .unwrap();
        let shared = crate::server::Shared::new(c.clone());
        let ep = shared.config.entry_points[0].clone();
        let mut headers = hyper::HeaderMap::new();
        headers.insert(hyper::header::HOST, "localhost:8080".parse().unwrap());
        let inbound = crate::proxy::Inbound {
            entrypoint: "traefik",
            scheme,
            peer: "192.0.2.1:1234".parse().unwrap(),
            trusted: false,
            ep: &ep,
            tls_options: "",
            client_certs: None,
            client: "192.0.2.1",
            host: "localhost",
            method,
            path,
            query: None,
            has_body: false,
        };
        let mut fx = Effects::default();
        let mut log = crate::proxy::Log::default();
        let mut body = NoBody;
        let mut r = Request {
            shared: &shared,
            inbound: &inbound,
            headers: &mut headers,
            fx: &mut fx,
            log: &mut log,
            body: &mut body,
            kept: None,
        };
        for (i, (name, mw)) in route.middlewares.iter().enumerate() {
            let nth = crate::middleware::nth(&route.middlewares, i);
            let flow = crate::middleware::apply(name, nth, mw, &mut r)
                .now_or_never()
                .expect("the dashboard's middlewares do not wait");
            if let Ok(Flow::Answer(a)) = flow {
                let location = a.headers[hyper::header::LOCATION].to_str().unwrap();
                return (a.status.as_u16(), location.to_owned(), String::new());
            }
        }
        (200, String::new(), r.path().to_owned())
    }

    /// Traefik's `dashboard_redirect` (a `redirectRegex`, permanent: 301 for `GET`, 308
    /// otherwise; `http://` URLs only) and `dashboard_stripprefix`.
    #[test]
    fn the_dashboard_router_redirects_and_strips_as_traefiks() {
        use hyper::Method;
        let to = "http://localhost:8080/dashboard/".to_owned();
        assert_eq!(
            dashboard_middlewares(&Method::GET, "http", "/"),
            (301, to.clone(), String::new())
        );
        assert_eq!(
            dashboard_middlewares(&Method::POST, "http", "/"),
            (308, to, String::new())
        );
        assert_eq!(
            dashboard_middlewares(&Method::GET, "https", "/"),
            (200, String::new(), "/".into())
        );
        assert_eq!(
            dashboard_middlewares(&Method::GET, "http", "/dashboard/app.js"),
            (200, String::new(), "/app.js".into())
        );
    }

    #[test]
    fn what_traefik_defines_itself() {
        let c = config(&[
            "--api.insecure=true",
            "--ping=true",
            "--entrypoints.web.address=:80",
            "--entrypoints.websecure.address=:443",
            "--entrypoints.web.http.redirections.entrypoint.to=websecure",
        ]);
        let s = snapshot(&c);
        let routers: Vec<&str> = s.config.http.routers.keys().map(String::as_str).collect();
        assert_eq!(routers, ["api", "dashboard", "ping", "web-to-websecure"]);
        let services: Vec<&str> = s.config.http.services.keys().map(String::as_str).collect();
        assert_eq!(services, ["api", "dashboard", "noop", "ping"]);
        assert_eq!(
            *s.config.http.middlewares["redirect-web-to-websecure"],
            Middleware::RedirectScheme {
                scheme: "https".into(),
                port: Some(443),
                permanent: true
            }
        );
        let table = crate::model::compile::compile([&s], &crate::state::compile_settings(&c));
        assert!(table.issues.is_empty(), "{:?}", table.issues);
        let names: Vec<&str> = table.routes.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "ping@internal",
                "api@internal",
                "web-to-websecure@internal",
                "dashboard@internal"
            ]
        );
    }
}
