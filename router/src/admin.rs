//! The admin listener (`ROUTER_ADMIN_LISTEN`): `/ping`, `/api/routers`, `/api/services`,
//! `/api/issues`, `/metrics`, and the dashboard (`/dashboard/`) with the API it reads
//! (Traefik's, [`crate::api`], and this router's additions, [`crate::api_extra`]). Read-only
//! views of the table in service.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{header, Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::{json, Value};
use tokio::net::TcpListener;

use crate::proxy::{full, plain, ProxyBody};
use crate::server::Shared;

/// Serves the admin endpoints until `shutdown` completes.
pub async fn run(listener: TcpListener, shared: Arc<Shared>, shutdown: impl Future<Output = ()>) {
    let accept = async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            };
            let shared = shared.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let shared = shared.clone();
                    async move {
                        if req.uri().path().starts_with("/api/") {
                            crate::internal::api_view_made(&shared.live.load_full()).await;
                        }
                        Ok::<_, std::convert::Infallible>(admin(&shared, req))
                    }
                });
                let _ = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(std::time::Duration::from_secs(10))
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    };
    tokio::select! {
        () = accept => {}
        () = shutdown => {}
    }
}

fn json_response(v: Value) -> Response<ProxyBody> {
    let mut r = Response::new(full(Bytes::from(
        serde_json::to_vec_pretty(&v).unwrap_or_default(),
    )));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    r
}

fn admin(shared: &Shared, req: Request<hyper::body::Incoming>) -> Response<ProxyBody> {
    if req.method() != Method::GET {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed").into_response();
    }
    match req.uri().path() {
        "/ping" => plain(StatusCode::OK, "OK").into_response(),
        "/api/routers" => {
            json_response(json!({ "routers": routers(shared), "issues": issues(shared) }))
        }
        "/api/services" => {
            json_response(json!({ "services": services(shared), "issues": issues(shared) }))
        }
        "/api/issues" => json_response(json!({ "issues": issues(shared) })),
        "/metrics" => {
            crate::metrics_traefik::servers_up_from(shared, &shared.live.load());
            let accept = req
                .headers()
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok());
            let (body, kind) = exposition::negotiate(shared.metrics.render(), accept);
            let mut r = Response::new(full(Bytes::from(body)));
            r.headers_mut()
                .insert(header::CONTENT_TYPE, header::HeaderValue::from_static(kind));
            r
        }
        "/" => {
            let mut r = plain(StatusCode::FOUND, "Found").into_response();
            r.headers_mut().insert(
                header::LOCATION,
                header::HeaderValue::from_static("/dashboard/"),
            );
            r
        }
        p if p.starts_with("/dashboard") => crate::dashboard::answer(p)
            .unwrap_or_else(crate::internal::not_found)
            .into_response(),
        p if p.starts_with("/api/") => {
            crate::internal::api(shared, p, req.uri().query(), &shared.live.load()).into_response()
        }
        _ => plain(StatusCode::NOT_FOUND, "404 page not found").into_response(),
    }
}

fn routers(shared: &Shared) -> Value {
    let live = shared.live.load();
    Value::Array(
        live.table
            .routes
            .iter()
            .map(|r| {
                json!({
                    "name": r.name,
                    "rule": r.rule.to_string(),
                    "priority": r.priority,
                    "entrypoints": r.entrypoints,
                    "middlewares": r.middlewares.iter().map(|(n, _)| n).collect::<Vec<_>>(),
                    "service": r.service,
                    "tls": r.tls,
                    "sources": r.sources,
                })
            })
            .collect(),
    )
}

fn services(shared: &Shared) -> Value {
    let live = shared.live.load();
    Value::Array(
        live.services
            .iter()
            .map(|(name, svc)| {
                let backends: Vec<Value> = svc
                    .backends
                    .iter()
                    .map(|b| {
                        json!({
                            "url": b.def.url,
                            "container": b.def.container(),
                            "container_id": b.def.origin.as_ref().map(|o| &o.id),
                            "address": b.def.target.as_ref().map(ToString::to_string),
                            "docker_status": b.def.status.to_string(),
                            "health_check_failing": b.state.check_failed.load(Ordering::Relaxed),
                            "refusing_connections": shared.registry.is_cooling_down(b),
                            "in_flight": b.state.inflight.load(Ordering::Relaxed),
                            "usable": shared.registry.usable(b),
                        })
                    })
                    .collect();
                json!({ "name": name, "backends": backends })
            })
            .collect(),
    )
}

fn issues(shared: &Shared) -> Value {
    let live = shared.live.load();
    Value::Array(
        live.table
            .issues
            .iter()
            .map(|i| json!({ "source": i.source, "level": i.level, "key": i.key, "message": i.message }))
            .collect(),
    )
}
