//! What a visibility scope ([`policies::scope`]) needs from the daemon: a container's labels
//! and name (to judge a request that names it), an exec's container, and the IDs of the
//! containers in scope (to filter a network's). Asked on the pooled client, beside the
//! client's own daemon connection.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use serde_json::Value;

use crate::body::{GuardBody, GuardBodyExt};
use crate::error::GuardError;
use crate::server::State;
use crate::upstream;
use policies::scope::Scope;

/// A message that lives as long as the program (the few distinct `filters` errors).
pub(crate) fn leak(s: String) -> &'static str {
    match s.as_str() {
        "filters is not valid percent-encoding" => "filters is not valid percent-encoding",
        "filters is not a JSON object" => "filters is not a JSON object",
        _ => "filters.label is neither a list nor a map",
    }
}

/// How long one lookup may take.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest lookup answer read (a container list of thousands of containers).
const LOOKUP_MAX: usize = 64 << 20;

pub(crate) fn upstream_err(e: impl std::fmt::Display) -> GuardError {
    GuardError::Upstream(format!("looking up the visible scope: {e}"))
}

/// `GET path` on the daemon: its status and body.
pub(crate) async fn get(state: &State, path: &str) -> Result<(u16, Vec<u8>), GuardError> {
    let uri = upstream::uri(path).map_err(upstream_err)?;
    let req = hyper::Request::get(uri)
        .body(GuardBody::empty())
        .map_err(upstream_err)?;
    let exchange = async {
        let resp = state
            .client
            .request(req)
            .await
            .map_err(|e| upstream_err(crate::error::describe_client_error(&e)))?;
        let status = resp.status().as_u16();
        let body = http_body_util::Limited::new(resp.into_body(), LOOKUP_MAX)
            .collect()
            .await
            .map_err(upstream_err)?
            .to_bytes();
        Ok::<_, GuardError>((status, body.to_vec()))
    };
    tokio::time::timeout(LOOKUP_TIMEOUT, exchange)
        .await
        .map_err(|_| upstream_err("the daemon did not answer in time"))?
}

/// Path segments as the daemon takes them: anything but unreserved characters escaped.
pub(crate) fn segment(id: &str) -> String {
    id.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `GET path` of one object (an inspect): its JSON, `None` when the daemon answers 404, an
/// error for any other answer.
pub(crate) async fn inspect(state: &State, path: &str) -> Result<Option<Value>, GuardError> {
    let (status, body) = get(state, path).await?;
    match status {
        200 => serde_json::from_slice(&body)
            .map(Some)
            .map_err(upstream_err),
        404 => Ok(None),
        other => Err(upstream_err(format!("{path} answered {other}"))),
    }
}

/// The full ID of the container `id` names (full or short ID, name with or without `/`)
/// when it is in scope; `None` when it does not exist or is not in scope (the client cannot
/// tell which).
pub async fn container(
    state: &State,
    scope: &Scope,
    id: &str,
) -> Result<Option<String>, GuardError> {
    let Some(doc) = inspect(state, &format!("/containers/{}/json", segment(id))).await? else {
        return Ok(None);
    };
    let c = doc
        .as_object()
        .ok_or_else(|| upstream_err("a container inspect that is not an object"))?;
    if !scope.admits_container(c) {
        return Ok(None);
    }
    Ok(c.get("Id").and_then(Value::as_str).map(str::to_owned))
}

/// The name (without its `/`) of the container `id` names, for learn mode's audit line;
/// `None` when it does not exist.
pub async fn name_of(state: &State, id: &str) -> Result<Option<String>, GuardError> {
    let doc = inspect(state, &format!("/containers/{}/json", segment(id))).await?;
    Ok(doc
        .as_ref()
        .and_then(|d| d.get("Name"))
        .and_then(Value::as_str)
        .map(|n| n.trim_start_matches('/').to_owned()))
}

/// Whether exec `id`'s container is in scope (`false` when the exec does not exist).
pub async fn exec(state: &State, scope: &Scope, id: &str) -> Result<bool, GuardError> {
    let Some(doc) = inspect(state, &format!("/exec/{}/json", segment(id))).await? else {
        return Ok(false);
    };
    let Some(cid) = doc.get("ContainerID").and_then(Value::as_str) else {
        return Ok(false);
    };
    Ok(container(state, scope, cid).await?.is_some())
}

/// The full IDs of every container in scope.
pub async fn visible_ids(state: &State, scope: &Scope) -> Result<HashSet<String>, GuardError> {
    let query = policies::scope::with_label_filters(Some("all=1"), &scope.label_filters())
        .map_err(|e| upstream_err(e.0))?;
    let (status, body) = get(state, &format!("/containers/json?{query}")).await?;
    if status != 200 {
        return Err(upstream_err(format!(
            "listing containers answered {status}"
        )));
    }
    let items: Vec<Value> = serde_json::from_slice(&body).map_err(upstream_err)?;
    Ok(items
        .iter()
        .filter_map(Value::as_object)
        .filter(|c| scope.admits_container(c))
        .filter_map(|c| c.get("Id").and_then(Value::as_str).map(str::to_owned))
        .collect())
}

/// `target` with its third segment (the object) replaced by the full ID it was checked by.
fn with_id(target: &policies::path::Target, full: &str) -> policies::path::Target {
    let mut segments: Vec<&str> = target.path().split('/').collect();
    if let Some(s) = segments.get_mut(2) {
        *s = full;
    }
    target.rewritten(segments.join("/"), target.query().map(str::to_owned))
}

/// The ID of service `id` (ID, prefix or name) when it is in scope.
async fn service(state: &State, scope: &Scope, id: &str) -> Result<Option<String>, GuardError> {
    let Some(doc) = inspect(state, &format!("/services/{}", segment(id))).await? else {
        return Ok(None);
    };
    if !scope.admits_service(&doc) {
        return Ok(None);
    }
    Ok(doc.get("ID").and_then(Value::as_str).map(str::to_owned))
}

/// Whether task `id`'s service is in scope (`false` when the task does not exist).
async fn task(state: &State, scope: &Scope, id: &str) -> Result<bool, GuardError> {
    let Some(doc) = inspect(state, &format!("/tasks/{}", segment(id))).await? else {
        return Ok(false);
    };
    match doc.get("ServiceID").and_then(Value::as_str) {
        Some(sid) => Ok(service(state, scope, sid).await?.is_some()),
        None => Ok(false),
    }
}

/// The IDs of the services in scope; none when the daemon lists none (not a swarm manager).
async fn visible_services(state: &State, scope: &Scope) -> Result<HashSet<String>, GuardError> {
    let query = policies::scope::with_label_filters(None, &scope.label_filters())
        .map_err(|e| upstream_err(e.0))?;
    let (status, body) = get(state, &format!("/services?{query}")).await?;
    if status != 200 {
        // Not a swarm manager (503), or no services to list: no service event passes.
        return Ok(HashSet::new());
    }
    let items: Vec<Value> = serde_json::from_slice(&body).map_err(upstream_err)?;
    Ok(items
        .iter()
        .filter(|s| scope.admits_service(s))
        .filter_map(|s| s.get("ID").and_then(Value::as_str).map(str::to_owned))
        .collect())
}

/// Judges an allowed request against the visible scope (when it is limited): the target to
/// forward instead (a name resolved to the full ID the check was made on, so the daemon acts
/// on exactly that container; the daemon's label filter added to a list or events), and how
/// the answer is to be filtered. A container or exec outside the scope is a 404 in the
/// daemon's words; a request the scope cannot check is refused.
pub async fn judge(
    state: &State,
    scope: &Scope,
    target: &policies::path::Target,
    endpoint: Option<&'static policies::endpoint::Endpoint>,
) -> Result<
    (
        Option<policies::path::Target>,
        Option<crate::redaction::ScopeAnswer>,
    ),
    GuardError,
> {
    use crate::redaction::ScopeAnswer;
    use policies::scope::{touch, with_label_filters, Touch};
    let filtered = || -> Result<policies::path::Target, GuardError> {
        let labels = scope.label_filters();
        if labels.is_empty() {
            return Ok(target.clone());
        }
        // A `filters` the client sent that is not JSON is refused as the daemon refuses it.
        let query = with_label_filters(target.query(), &labels)
            .map_err(|e| GuardError::OutOfScope(leak(e.0)))?;
        Ok(target.rewritten(target.path().to_owned(), Some(query)))
    };
    Ok(match touch(endpoint, target.path()) {
        Touch::Nothing => (None, None),
        Touch::Refused(why) => return Err(GuardError::OutOfScope(why)),
        Touch::ContainerList => (Some(filtered()?), Some(ScopeAnswer::List)),
        Touch::Events => (
            Some(filtered()?),
            Some(ScopeAnswer::Events(Arc::new(
                visible_services(state, scope).await?,
            ))),
        ),
        Touch::ServiceList => (Some(filtered()?), Some(ScopeAnswer::Services)),
        Touch::TaskList => (
            None,
            Some(ScopeAnswer::Tasks(Arc::new(
                visible_services(state, scope).await?,
            ))),
        ),
        Touch::Service(id) => match service(state, scope, &id).await? {
            Some(full) => (Some(with_id(target, &full)), None),
            None => return Err(GuardError::NotVisible(format!("service {id} not found"))),
        },
        Touch::Task(id) => {
            if !task(state, scope, &id).await? {
                return Err(GuardError::NotVisible(format!("task {id} not found")));
            }
            (None, None)
        }
        Touch::SystemDf => (None, Some(ScopeAnswer::SystemDf)),
        Touch::Network(_) => (
            None,
            Some(ScopeAnswer::Network(Arc::new(
                visible_ids(state, scope).await?,
            ))),
        ),
        Touch::Exec(id) => {
            if !exec(state, scope, &id).await? {
                return Err(GuardError::NotVisible(format!(
                    "No such exec instance: {id}"
                )));
            }
            (None, None)
        }
        Touch::Container(id) => match container(state, scope, &id).await? {
            Some(full) => (Some(with_id(target, &full)), None),
            None => return Err(GuardError::NotVisible(format!("No such container: {id}"))),
        },
    })
}
