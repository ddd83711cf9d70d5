//! The admin listener (`GUARD_ADMIN_LISTEN`): `/health`, `/metrics`, `/decisions` (recent
//! decisions as JSON) and the page that shows them (`/dashboard/`).
//!
//! Kept apart from the proxy listener so that monitoring never needs a hole in the policy and
//! the policy never has to know about monitoring.

use std::future::Future;
use std::sync::Arc;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::watch;

use crate::body::GuardBody;
use crate::response::{json_error, json_ok, text};
use crate::server::{Listener, State};

/// Serves the admin endpoints until `shutdown` completes.
pub async fn run_admin(listener: Listener, state: Arc<State>, shutdown: impl Future<Output = ()>) {
    let (stop_tx, stop_rx) = watch::channel(());
    let accept = async move {
        loop {
            let accepted = match &listener {
                // The configuration refuses a `tls://` admin listener.
                Listener::Tcp(l) | Listener::Tls(l, _) => l
                    .accept()
                    .await
                    .map(|(s, _)| Box::new(TokioIo::new(s)) as Box<dyn Io>),
                Listener::Unix(l) => l
                    .accept()
                    .await
                    .map(|(s, _)| Box::new(TokioIo::new(s)) as Box<dyn Io>),
            };
            let io = match accepted {
                Ok(io) => io,
                Err(e) => {
                    tracing::warn!(error = %e, "admin accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            };
            let state = state.clone();
            let _stop = stop_rx.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let state = state.clone();
                    async move { Ok::<_, std::convert::Infallible>(admin(&state, req).await) }
                });
                let _ = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(std::time::Duration::from_secs(10))
                    .serve_connection(io, svc)
                    .await;
                drop(_stop);
            });
        }
    };
    tokio::select! {
        () = accept => {}
        () = shutdown => {}
    }
    drop(stop_tx);
}

trait Io: hyper::rt::Read + hyper::rt::Write + Unpin + Send {}
impl<T: hyper::rt::Read + hyper::rt::Write + Unpin + Send> Io for T {}

async fn admin(state: &State, req: Request<hyper::body::Incoming>) -> Response<GuardBody> {
    let head = req.method() == Method::HEAD;
    if req.method() != Method::GET && !head {
        return json_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "only GET and HEAD",
            head,
            false,
        );
    }
    match req.uri().path() {
        "/health" => match crate::upstream::ping(&state.client).await {
            Ok(()) => json_ok(serde_json::json!({ "status": "ok" })),
            Err(e) => json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!(
                    "socket-guard: the Docker daemon at {} is not answering: {e}",
                    state.config.socket_path.display()
                ),
                head,
                false,
            ),
        },
        "/metrics" => {
            let accept = req
                .headers()
                .get(hyper::header::ACCEPT)
                .and_then(|v| v.to_str().ok());
            let (body, kind) = exposition::negotiate(state.metrics.render(), accept);
            text(StatusCode::OK, kind, body)
        }
        "/decisions" => json_ok(state.decisions.to_json(&state.policy())),
        p => crate::dashboard::answer(p).unwrap_or_else(|| {
            json_error(
                StatusCode::NOT_FOUND,
                "socket-guard admin: /health, /metrics, /decisions or /dashboard/",
                head,
                false,
            )
        }),
    }
}
