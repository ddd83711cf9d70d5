//! Client identity from the client's own container: the labels of the container whose network
//! endpoint has the address a TCP client connects from, asked of the daemon when the connection
//! opens (only when a policy has a `MATCH_LABEL` line). The address is the connection's, as the kernel
//! reports it; a client outside any container of this daemon (the host, another node, a
//! published port's NAT) has no labels and so matches no `MATCH_LABEL` policy.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use serde_json::Value;

use crate::server::State;

/// The labels of the container with address `ip`; `None` when there is none, or the daemon
/// cannot be asked (logged: the client then gets the policies that need no labels).
///
/// Found by its network endpoint, not the container list: a process can connect before the
/// daemon's list shows its container running with an address (the list is updated when the
/// start returns), while its endpoint, and so its address, exists before the process runs.
pub async fn of(state: &State, ip: IpAddr) -> Option<Arc<HashMap<String, String>>> {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    let networks = json(state, "/networks", ip).await?;
    let mut ids = Vec::new();
    for net in networks.as_array()?.iter().filter(|n| in_subnet(n, ip)) {
        let Some(id) = net["Id"].as_str() else {
            continue;
        };
        let doc = json(state, &format!("/networks/{id}"), ip).await?;
        ids.extend(endpoint_owner(&doc, ip));
    }
    ids.sort();
    ids.dedup();
    match ids.as_slice() {
        [id] => {
            let doc = json(state, &format!("/containers/{id}/json"), ip).await?;
            Some(Arc::new(labels(&doc["Config"])))
        }
        [] => None,
        _ => {
            // Two containers claiming one address: neither is believed.
            tracing::warn!(client = %ip, "several containers have the client's address; no labels are believed");
            None
        }
    }
}

/// A daemon answer as JSON, or `None` (logged).
async fn json(state: &State, path: &str, ip: IpAddr) -> Option<Value> {
    match crate::visibility::get(state, path).await {
        Ok((200, body)) => serde_json::from_slice(&body).ok(),
        Ok((status, _)) => {
            tracing::warn!(client = %ip, path, status, "looking up the client's container (MATCH_LABEL) failed");
            None
        }
        Err(e) => {
            tracing::warn!(client = %ip, path, error = %e, "cannot look up the client's container (MATCH_LABEL)");
            None
        }
    }
}

/// Whether one of network `n`'s subnets holds `ip`.
fn in_subnet(n: &Value, ip: IpAddr) -> bool {
    n["IPAM"]["Config"].as_array().is_some_and(|configs| {
        configs.iter().any(|c| {
            c["Subnet"]
                .as_str()
                .and_then(|s| s.parse::<ipnet::IpNet>().ok())
                .is_some_and(|net| net.contains(&ip))
        })
    })
}

/// The containers of network inspect `doc` whose endpoint has address `ip`.
fn endpoint_owner(doc: &Value, ip: IpAddr) -> Vec<String> {
    let Some(endpoints) = doc["Containers"].as_object() else {
        return Vec::new();
    };
    endpoints
        .iter()
        .filter(|(_, e)| {
            ["IPv4Address", "IPv6Address"].iter().any(|k| {
                e[*k]
                    .as_str()
                    .and_then(|a| a.split('/').next())
                    .and_then(|a| a.parse::<IpAddr>().ok())
                    .is_some_and(|a| a == ip)
            })
        })
        // Swarm's load-balancer endpoints (`lb-...`) are no container.
        .filter(|(id, _)| !id.starts_with("lb-"))
        .map(|(id, _)| id.clone())
        .collect()
}

/// `Labels` of a container's `Config` (string values only).
fn labels(config: &Value) -> HashMap<String, String> {
    config["Labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_with_the_address_names_its_container() {
        let ip: IpAddr = "172.20.0.5".parse().unwrap();
        let net = serde_json::json!({"IPAM": {"Config": [{"Subnet": "172.20.0.0/16"}]}});
        assert!(in_subnet(&net, ip));
        assert!(!in_subnet(&net, "10.0.0.1".parse().unwrap()));
        assert!(!in_subnet(&serde_json::json!({}), ip));
        let doc = serde_json::json!({"Containers": {
            "abc": {"IPv4Address": "172.20.0.5/16", "IPv6Address": ""},
            "def": {"IPv4Address": "172.20.0.6/16"},
            "lb-x": {"IPv4Address": "172.20.0.5/16"}
        }});
        assert_eq!(endpoint_owner(&doc, ip), vec!["abc".to_owned()]);
        assert!(endpoint_owner(&doc, "172.20.0.7".parse().unwrap()).is_empty());
        let config = serde_json::json!({"Labels": {"role": "router", "n": 1}});
        assert_eq!(
            labels(&config).get("role").map(String::as_str),
            Some("router")
        );
        assert!(!labels(&config).contains_key("n"));
    }
}
