//! The internal provider's services answered by the router itself: `api@internal` (Traefik's
//! API, [`crate::api`]), `dashboard@internal` (the dashboard, [`crate::dashboard`]), `ping@internal`,
//! `prometheus@internal` (the metrics) and `noop@internal`. They are reached through routers,
//! behind their middlewares, like any service (`basicauth` in front of `api@internal`).

use std::sync::atomic::Ordering;

use bytes::Bytes;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, StatusCode};

use crate::dynamic::InternalService;
use crate::live::Live;
use crate::proxy::{bare, plain, written, Answer, Inbound};
use crate::server::Shared;

/// The answer of internal service `kind` to a request, whose path the route's middlewares
/// left `path` (as Traefik's internal handlers see the request they are handed: behind a
/// `stripPrefix`, the stripped path).
pub fn answer(
    shared: &Shared,
    kind: InternalService,
    req: &Inbound<'_>,
    path: &str,
    accept: Option<&str>,
    live: &Live,
) -> Answer {
    // The API's and the dashboard's routes are `GET` ones in Traefik (gorilla/mux, `HEAD`
    // included); ping and Prometheus answer every method.
    let get = *req.method == Method::GET;
    match kind {
        InternalService::Noop => Answer {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: Bytes::new(),
        },
        // Traefik's `ChallengeHTTP`: the key authorization of a challenge under way (exactly
        // it: RFC 8555 8.3), else an empty 404, whatever the method.
        InternalService::AcmeHttp => {
            match path
                .strip_prefix("/.well-known/acme-challenge/")
                .and_then(|token| shared.acme_challenge(token.trim_end_matches('/')))
            {
                Some(key) => raw(StatusCode::OK, "application/octet-stream", Bytes::from(key)),
                None => Answer {
                    status: StatusCode::NOT_FOUND,
                    headers: HeaderMap::new(),
                    body: Bytes::new(),
                },
            }
        }
        // Traefik's ping handler: the status and its text, whatever the method.
        InternalService::Ping => {
            let stopping = shared.stopping.load(Ordering::Relaxed);
            let status = match (&shared.config.ping, stopping) {
                (Some(p), true) => StatusCode::from_u16(p.terminating_status)
                    .unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
                _ => StatusCode::OK,
            };
            written(status, status.canonical_reason().unwrap_or(""))
        }
        InternalService::Prometheus => {
            crate::metrics_traefik::servers_up_from(shared, live);
            let (body, kind) = exposition::negotiate(shared.metrics.render(), accept);
            raw(StatusCode::OK, kind, Bytes::from(body))
        }
        // gorilla/mux's answer to a method its route does not take: 405, no body.
        _ if !get => bare(StatusCode::METHOD_NOT_ALLOWED),
        InternalService::Api
            if path.starts_with("/dashboard")
                && shared.config.api.as_ref().is_some_and(|a| a.dashboard) =>
        {
            // As in Traefik, `api@internal` serves the dashboard too.
            crate::dashboard::answer(path).unwrap_or_else(not_found)
        }
        InternalService::Api => api(shared, path, req.query, live),
        // Under `/dashboard/` as the request named it: behind `dashboard_stripprefix` (the
        // dashboard router's) what is left of the path does not say whether the directory
        // was asked for with its slash, which decides where the page's relative links go.
        InternalService::Dashboard => crate::dashboard::answer(path)
            .or_else(|| crate::dashboard::answer(req.path))
            .unwrap_or_else(not_found),
    }
}

/// Makes the table's API view on the blocking pool if it is not made yet (see
/// [`crate::model::lazy_api`]): at thousands of routes that is a compile, tens of
/// milliseconds that this connection's serving thread, and every connection it serves,
/// would otherwise wait for.
pub async fn api_view_made(live: &std::sync::Arc<Live>) {
    if live.table.api_view.is_made() {
        return;
    }
    let live = live.clone();
    let _ = tokio::task::spawn_blocking(move || {
        live.table.api();
    })
    .await;
}

/// Traefik's API and this router's additions (`/api/x/`), for `api@internal` and the admin
/// listener.
pub fn api(shared: &Shared, path: &str, query: Option<&str>, live: &Live) -> Answer {
    let a = crate::api_extra::answer(path, query, shared, live).unwrap_or_else(|| {
        // A server whose health check failed is DOWN, as Traefik's checker marks it.
        let failed = |service: &str, url: &str| {
            live.services.get(service).is_some_and(|s| {
                s.backends.iter().any(|b| {
                    b.def.url == url
                        && b.state
                            .check_failed
                            .load(std::sync::atomic::Ordering::Relaxed)
                })
            })
        };
        crate::api::answer_with(path, query, &live.table, &shared.config, &failed)
    });
    if a.body.is_null() {
        // A path the API does not have: mux's `http.NotFound` page, as Traefik's.
        return not_found();
    }
    let mut out = raw(
        a.status,
        "application/json",
        Bytes::from(serde_json::to_vec(&a.body).unwrap_or_default()),
    );
    if let Some(n) = a.next_page {
        out.headers.insert("x-next-page", HeaderValue::from(n));
    }
    out
}

/// The 404 of paths no internal service has.
pub fn not_found() -> Answer {
    plain(StatusCode::NOT_FOUND, "404 page not found")
}

fn raw(status: StatusCode, content_type: &'static str, body: Bytes) -> Answer {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    Answer {
        status,
        headers,
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What internal service `kind` answers a `GET` for `original`, its path left `path` by
    /// the route's middlewares.
    fn get(kind: InternalService, original: &str, path: &str) -> Answer {
        let mut env = std::collections::HashMap::new();
        env.insert("TRAEFIK_API_INSECURE".to_owned(), "true".to_owned());
        env.insert("TRAEFIK_API_DASHBOARD".to_owned(), "true".to_owned());
        let shared = Shared::new(crate::config::Config::from_env(&env).unwrap());
        ask(&shared, kind, &Method::GET, original, path)
    }

    fn ask(
        shared: &Shared,
        kind: InternalService,
        method: &Method,
        original: &str,
        path: &str,
    ) -> Answer {
        let ep = shared.config.entry_points[0].clone();
        let inbound = Inbound {
            entrypoint: "traefik",
            scheme: "http",
            peer: "192.0.2.1:1234".parse().unwrap(),
            trusted: false,
            ep: &ep,
            tls_options: "",
            client_certs: None,
            client: "192.0.2.1",
            host: "localhost",
            method,
            path: original,
            query: None,
            has_body: false,
        };
        let live = shared.live.load_full();
        answer(shared, kind, &inbound, path, None, &live)
    }

    /// Traefik's `ChallengeHTTP`: a challenge under way is answered with its key
    /// authorization, anything else under the prefix with an empty 404, whatever the method.
    #[test]
    fn acme_http_answers_the_challenges_under_way() {
        let shared = Shared::new(
            crate::config::Config::from_env(&std::collections::HashMap::new()).unwrap(),
        );
        shared
            .acme_challenges
            .lock()
            .unwrap()
            .insert("tok".into(), "tok.key".into());
        let p = "/.well-known/acme-challenge/tok";
        let a = ask(&shared, InternalService::AcmeHttp, &Method::GET, p, p);
        assert_eq!((a.status, &a.body[..]), (StatusCode::OK, &b"tok.key"[..]));
        let p = "/.well-known/acme-challenge/other";
        let a = ask(&shared, InternalService::AcmeHttp, &Method::POST, p, p);
        assert_eq!((a.status, a.body.len()), (StatusCode::NOT_FOUND, 0));
    }

    /// Traefik hands its internal handlers the request as the middlewares left it: behind a
    /// `stripPrefix` (a user's `/traefik`, the dashboard router's `dashboard_stripprefix`),
    /// the stripped path.
    #[test]
    fn internal_services_see_the_path_the_middlewares_left() {
        use InternalService::{Api, Dashboard};
        let content_type = |a: &Answer| {
            a.headers
                .get(header::CONTENT_TYPE)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        let a = get(Api, "/traefik/api/version", "/api/version");
        assert_eq!(a.status, StatusCode::OK);
        assert!(String::from_utf8_lossy(&a.body).contains("Version"));
        assert_eq!(
            get(Api, "/traefik/api/version", "/traefik/api/version").status,
            StatusCode::NOT_FOUND
        );
        let a = get(Api, "/traefik/dashboard/", "/dashboard/");
        assert!(content_type(&a).starts_with("text/html"), "{a:?}");
        // The dashboard router: `/dashboard/` and `/dashboard` both stripped to nothing; the
        // directory without its slash is sent to it with the slash.
        let a = get(Dashboard, "/dashboard/", "");
        assert!(content_type(&a).starts_with("text/html"), "{a:?}");
        let a = get(Dashboard, "/dashboard", "");
        assert_eq!(a.status, StatusCode::MOVED_PERMANENTLY);
        assert_eq!(a.headers[header::LOCATION], "/dashboard/");
        let a = get(Dashboard, "/dashboard/app.js", "/app.js");
        assert!(content_type(&a).starts_with("text/javascript"), "{a:?}");
        // Stripped by a user's own prefix.
        let a = get(Dashboard, "/x/dashboard/app.js", "/dashboard/app.js");
        assert!(content_type(&a).starts_with("text/javascript"), "{a:?}");
        assert_eq!(
            get(Dashboard, "/other", "/other").status,
            StatusCode::NOT_FOUND
        );
    }

    /// The methods each internal service takes, and the pages of what it does not have, as
    /// Traefik's handlers answer them: its API and dashboard are gorilla/mux `GET` routes (a
    /// `HEAD` or `POST` is 405 with no body, an unknown path mux's plain 404); ping answers
    /// `OK` to every method, Prometheus its metrics.
    #[test]
    fn internal_services_answer_methods_and_unknown_paths_as_traefik() {
        use InternalService::{Api, Dashboard, Ping, Prometheus};
        let mut env = std::collections::HashMap::new();
        env.insert("TRAEFIK_API_INSECURE".to_owned(), "true".to_owned());
        env.insert("TRAEFIK_API_DASHBOARD".to_owned(), "true".to_owned());
        env.insert("TRAEFIK_PING".to_owned(), "true".to_owned());
        env.insert("TRAEFIK_METRICS_PROMETHEUS".to_owned(), "true".to_owned());
        let shared = Shared::new(crate::config::Config::from_env(&env).unwrap());
        let header = |a: &Answer, h: &str| {
            a.headers
                .get(h)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        for (kind, method, path, status, body) in [
            (Api, Method::HEAD, "/api/version", 405, ""),
            (Api, Method::POST, "/api/http/routers", 405, ""),
            (Dashboard, Method::HEAD, "/dashboard/", 405, ""),
            (Ping, Method::GET, "/ping", 200, "OK"),
            (Ping, Method::HEAD, "/ping", 200, "OK"),
            (Ping, Method::POST, "/ping", 200, "OK"),
            (
                Api,
                Method::GET,
                "/api/nothing",
                404,
                "404 page not found\n",
            ),
            (
                Api,
                Method::GET,
                "/api/http/routers/nope",
                404,
                "{\"message\":\"router not found: nope\"}",
            ),
        ] {
            let a = ask(&shared, kind, &method, path, path);
            let got = (
                a.status.as_u16(),
                String::from_utf8_lossy(&a.body).into_owned(),
            );
            assert_eq!(got, (status, body.to_owned()), "{method} {path}");
            if status == 404 && body.starts_with("404") {
                assert_eq!(header(&a, "content-type"), "text/plain; charset=utf-8");
                assert_eq!(header(&a, "x-content-type-options"), "nosniff");
            }
        }
        let a = ask(&shared, Prometheus, &Method::POST, "/metrics", "/metrics");
        assert_eq!(a.status, StatusCode::OK);
        assert!(String::from_utf8_lossy(&a.body).contains("# TYPE"), "{a:?}");
        shared.stopping.store(true, Ordering::Relaxed);
        let a = ask(&shared, Ping, &Method::GET, "/ping", "/ping");
        assert_eq!(
            (a.status, &a.body[..]),
            (StatusCode::SERVICE_UNAVAILABLE, &b"Service Unavailable"[..])
        );
    }
}
