//! The visible scope on Swarm services and tasks: a service is in scope when its own labels
//! (`Spec.Labels`, a stack file's `deploy.labels`) and name (`Spec.Name`) are, as a container
//! is by its labels and name; a task when its service is. Service events pass for services
//! known to be in scope when the stream opened (a service created later is seen by the next
//! list, as Traefik's Swarm provider sees services: by polling).

use std::collections::HashSet;

use serde_json::value::RawValue;
use serde_json::Value;

use super::{Scope, ScopeError};

impl Scope {
    /// Whether a service (a list item or an inspect) is in scope.
    pub fn admits_service(&self, service: &Value) -> bool {
        let spec = service.get("Spec");
        let labels = spec
            .and_then(|s| s.get("Labels"))
            .and_then(Value::as_object);
        let name = spec
            .and_then(|s| s.get("Name"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        self.admits(labels, &[name])
    }

    /// A service list with only the services in scope.
    pub fn filter_services(&self, body: &[u8]) -> Result<Vec<u8>, ScopeError> {
        self.filter_items(body, "service", |item| self.admits_service(item))
    }

    /// A task list with only the tasks of the services in `visible` (IDs).
    pub fn filter_tasks(body: &[u8], visible: &HashSet<String>) -> Result<Vec<u8>, ScopeError> {
        Scope::default().filter_items(body, "task", |task| {
            task.get("ServiceID")
                .and_then(Value::as_str)
                .is_some_and(|id| visible.contains(id))
        })
    }

    /// A JSON list with the items `keep` admits, kept items copied as the daemon wrote them.
    fn filter_items(
        &self,
        body: &[u8],
        what: &str,
        keep: impl Fn(&Value) -> bool,
    ) -> Result<Vec<u8>, ScopeError> {
        let bad = |e: serde_json::Error| ScopeError(format!("the {what} list is not JSON: {e}"));
        let items: Vec<&RawValue> = serde_json::from_slice(body).map_err(bad)?;
        let mut kept = Vec::with_capacity(items.len());
        for raw in &items {
            let item: Value = serde_json::from_str(raw.get()).map_err(bad)?;
            if keep(&item) {
                kept.push(raw.get());
            }
        }
        let mut out = Vec::with_capacity(body.len());
        out.push(b'[');
        out.extend_from_slice(kept.join(",").as_bytes());
        out.push(b']');
        if body.ends_with(b"\n") {
            out.push(b'\n');
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_and_tasks_follow_the_service_labels() {
        let scope = Scope::parse(Some("traefik.*"), None).unwrap();
        let services = br#"[{"ID":"s1","Spec":{"Name":"web","Labels":{"traefik.enable":"true"}}},{"ID":"s2","Spec":{"Name":"db","Labels":{}}}]"#;
        let out: Value = serde_json::from_slice(&scope.filter_services(services).unwrap()).unwrap();
        assert_eq!(out.as_array().unwrap().len(), 1);
        assert_eq!(out[0]["ID"], "s1");
        let visible: HashSet<String> = ["s1".to_owned()].into();
        let tasks = br#"[{"ID":"t1","ServiceID":"s1"},{"ID":"t2","ServiceID":"s2"},{"ID":"t3"}]"#;
        let out: Value =
            serde_json::from_slice(&Scope::filter_tasks(tasks, &visible).unwrap()).unwrap();
        assert_eq!(out.as_array().unwrap().len(), 1);
        assert!(scope.filter_services(b"{}").is_err());
    }
}
