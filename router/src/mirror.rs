//! `mirroring` services' copies: once the main answer is done, each mirror picked for the
//! request gets the same request (method, path after the middlewares, headers as forwarded)
//! from a task of its own; its answer is read and dropped, and nothing it does reaches the
//! client. A body is copied as Traefik does (`mirrorBody`, default true, up to `maxBodySize`,
//! with no copies at all of a request whose body is larger): it is read before the main
//! request goes, and sent to each mirror from memory. A body declared larger is not read
//! ahead; one of unknown length (chunked, or HTTP/2 without `content-length`) is read up to
//! the limit, and past it goes to the main service as it came (the part read first), with
//! no copies.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::header::{self, HeaderMap};
use hyper::{Method, Request};

use crate::proxy::{Inbound, Log, Plan, ProxyError};
use crate::server::Shared;
use crate::weighted::MirrorCopy;

/// Copies to send.
#[derive(Debug)]
pub struct Job {
    copies: Vec<MirrorCopy>,
    method: Method,
    /// The path, as forwarded (each mirror's server may put its own in front).
    path: String,
    /// The query, as forwarded.
    query: Option<String>,
    headers: HeaderMap,
    /// The client's address (an `hrw` mirror picks its server by it, as for the request).
    client: std::net::IpAddr,
    /// The request's body, for the copies that carry it.
    body: Bytes,
}

/// The largest body copied when `maxBodySize` is not set (Traefik's is unlimited; copies are
/// held in memory until the mirrors have them).
pub const DEFAULT_MAX_BODY: u64 = 16 << 20;

fn limit(c: &MirrorCopy) -> u64 {
    u64::try_from(c.max_body).unwrap_or(DEFAULT_MAX_BODY)
}

/// The body of a request (`has_body`: it has one) for the copies that carry it, read whole
/// now (it then goes to the main service from memory as well): `None` when no copy wants
/// it, or it is over the copies' `maxBodySize` (those copies are then not sent; the body
/// goes on all the same).
pub async fn body(
    has_body: bool,
    body: &mut dyn crate::middleware::Body,
    copies: &[MirrorCopy],
) -> Result<Option<Bytes>, ProxyError> {
    if !has_body {
        return Ok(None);
    }
    let Some(max) = copies.iter().filter(|c| c.body).map(limit).max() else {
        return Ok(None);
    };
    if body.declared().is_some_and(|len| len > max) {
        return Ok(None);
    }
    body.read_within(max)
        .await
        .map_err(crate::proxy::held_body_error)
}

impl Job {
    /// The copies of `req` for `copies` (`copied`: its body, read by [`body`]), or none when
    /// its body cannot be copied.
    pub fn new(
        req: &Inbound<'_>,
        plan: &Plan,
        headers: &HeaderMap,
        copies: Vec<MirrorCopy>,
        copied: Option<Bytes>,
    ) -> Option<Box<Job>> {
        let copies: Vec<MirrorCopy> = copies
            .into_iter()
            .filter(|c| {
                !req.has_body
                    || !c.body
                    || copied.as_ref().is_some_and(|b| b.len() as u64 <= limit(c))
            })
            .collect();
        if copies.is_empty() {
            tracing::debug!("no mirroring: the request's body cannot be copied");
            return None;
        }
        let path = plan.fx.path.as_deref().unwrap_or(req.path).to_owned();
        let query = req.query.map(str::to_owned);
        let mut h = crate::proxy::forward_headers(req, plan, headers.clone(), false, || None);
        for name in [
            header::CONTENT_LENGTH,
            header::TRANSFER_ENCODING,
            header::EXPECT,
        ] {
            h.remove(name);
        }
        if h.get(header::HOST).is_none() {
            if let Ok(v) = header::HeaderValue::from_str(&req.authority()) {
                h.insert(header::HOST, v);
            }
        }
        Some(Box::new(Job {
            copies,
            method: req.method.clone(),
            path,
            query,
            headers: h,
            client: req.client_ip(),
            body: copied.unwrap_or_default(),
        }))
    }
}

/// Sends the request's copies, if it has any, in a task of their own.
pub fn dispatch(shared: &Arc<Shared>, log: &mut Log) {
    let Some(job) = log.mirror.take() else {
        return;
    };
    let shared = shared.clone();
    tokio::spawn(async move {
        for copy in &job.copies {
            if let Err(e) = send(&shared, &job, copy).await {
                tracing::debug!(mirror = %copy.service, error = %e, "mirrored request failed");
            }
        }
    });
}

/// One copy, to a server of the mirror's service.
async fn send(shared: &Shared, job: &Job, copy: &MirrorCopy) -> Result<(), String> {
    let live = shared.live.load_full();
    // A mirror that mirrors in turn: its own copies are not sent (one level, as the copy's
    // answer goes nowhere).
    let mut nested = crate::weighted::Walk::default();
    let leaf = live
        .leaf(&shared.registry, &copy.service, &mut nested)
        .map_err(|e| e.to_string())?;
    let (svc, def) = live
        .services
        .get(leaf)
        .zip(live.table.services.get(leaf))
        .ok_or("the mirror has no servers")?;
    let backend = shared
        .registry
        .pick(svc, shared.config.balancer, None, job.client)
        .ok_or("no available server")?;
    let target = backend.def.target.as_ref().ok_or("no address")?;
    let timeout = def
        .transport
        .dial_timeout
        .unwrap_or(shared.config.connect_timeout);
    let addr = crate::upstream::resolve(target, timeout).await?;
    let url = &backend.def.url;
    let path = backend.def.target_path(&job.path);
    let target = match &job.query {
        Some(q) => format!("{path}?{q}"),
        None => path.into_owned(),
    };
    let body = match copy.body {
        true => job.body.clone(),
        false => Bytes::new(),
    };
    let mut req = Request::new(crate::proxy::full(body));
    *req.method_mut() = job.method.clone();
    *req.headers_mut() = job.headers.clone();
    if let Some(v) = copy_host(def, &backend.def) {
        req.headers_mut().insert(header::HOST, v);
    }
    let response_timeout = def
        .transport
        .response_header_timeout
        .unwrap_or(shared.config.response_timeout);
    let exchange = async {
        let resp = if url.starts_with("h2c://") {
            *req.uri_mut() = target.parse().map_err(|e| format!("{e}"))?;
            shared
                .h2c
                .send(addr, timeout, req)
                .await
                .map_err(|e| format!("{e:?}"))?
        } else if url.starts_with("https://") {
            *req.uri_mut() = format!("https://{addr}{target}")
                .parse()
                .map_err(|e| format!("{e}"))?;
            let tls = shared
                .backend_tls
                .get(&def.transport, url)
                .map_err(|e| e.to_string())?;
            tls.client().request(req).await.map_err(|e| e.to_string())?
        } else {
            *req.uri_mut() = format!("http://{addr}{target}")
                .parse()
                .map_err(|e| format!("{e}"))?;
            shared
                .client
                .request(req)
                .await
                .map_err(|e| e.to_string())?
        };
        // Read and dropped: the connection can be used again.
        let _ = resp.into_body().collect().await;
        Ok::<_, String>(())
    };
    tokio::time::timeout(response_timeout, exchange)
        .await
        .map_err(|_| "timed out".to_owned())?
}

/// The `Host` a copy to server `url` of `def` is sent with instead of the request's: with
/// `passHostHeader: false`, the one the service's own requests get (the URL's host and port
/// as written).
fn copy_host(
    def: &crate::model::table::Service,
    backend: &crate::model::table::Backend,
) -> Option<header::HeaderValue> {
    if def.pass_host_header {
        return None;
    }
    header::HeaderValue::from_str(backend.written_host()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_without_the_clients_host_gets_the_one_the_service_sends() {
        let yaml = "http:\n  services:\n    m:\n      loadBalancer:\n        passHostHeader: false\n        servers:\n          - url: http://10.0.0.1\n          - url: https://10.0.0.1:443/base\n          - url: http://10.0.0.1:8080\n          - url: http://10.0.0.1:80\n    p:\n      loadBalancer:\n        servers:\n          - url: http://10.0.0.2\n";
        let snap = crate::provider::file::snapshot(&[crate::provider::file::Parsed {
            path: "/dynamic.yml".into(),
            root: crate::tree::Node::from_yaml(yaml, "").unwrap_or_else(|e| panic!("{e}")),
        }]);
        let table = crate::model::compile::compile([&snap], &Default::default());
        let (m, p) = (&table.services["m@file"], &table.services["p@file"]);
        // (service, server, Host): the URL's host and port as written (a default port too,
        // as Traefik sends it), as for the main request.
        for (def, b, want) in [
            (m, &m.backends[0], Some("10.0.0.1")),
            (m, &m.backends[1], Some("10.0.0.1:443")),
            (m, &m.backends[2], Some("10.0.0.1:8080")),
            (m, &m.backends[3], Some("10.0.0.1:80")),
            (p, &p.backends[0], None),
        ] {
            let got = copy_host(def, b);
            assert_eq!(
                got.as_ref().and_then(|v| v.to_str().ok()),
                want,
                "{}",
                b.written
            );
        }
    }
}
