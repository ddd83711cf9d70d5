//! Which allowed requests may share one daemon answer.
//!
//! Pollers (dashboards, updaters, monitoring agents, several replicas of one tool) send the
//! same metadata read at the same moments; each copy costs the daemon a full walk of its
//! state under its locks. The guard can send one of a group of byte-identical reads and
//! give its answer to all of them (see socket-guard's `coalesce`). That is only sound for a
//! read whose answer depends on nothing but the request and the daemon's state, that ends on
//! its own, and that is small: the list below, named one by one so that an endpoint added to
//! the table is never shared by default.
//!
//! Not here, on purpose: `events` and `container.stats` (streams, and `stats?stream=0`
//! samples over time), logs, archives, exports and image tarballs (content, and large),
//! `attach/ws` (an upgrade), `image.search`, `distribution.inspect` and `plugin.privileges`
//! (the daemon asks a registry, with the client's credentials), `swarm.unlockkey` (never
//! granted), and a path outside the endpoint table that an explicit rule allows (no endpoint
//! is known for it; a listed endpoint that a rule allows is shared like one a section allows).

use crate::endpoint::{Access, Endpoint};

/// The endpoints whose identical reads may share an answer, by name.
pub const SHARED_READS: &[&str] = &[
    "ping",
    "version",
    "info",
    "system.df",
    "container.list",
    "container.inspect",
    "container.top",
    "container.changes",
    "exec.inspect",
    "image.list",
    "image.inspect",
    "image.history",
    "volume.list",
    "volume.inspect",
    "network.list",
    "network.inspect",
    "plugin.list",
    "plugin.inspect",
    "swarm.inspect",
    "service.list",
    "service.inspect",
    "node.list",
    "node.inspect",
    "task.list",
    "task.inspect",
    "secret.list",
    "secret.inspect",
    "config.list",
    "config.inspect",
];

/// Whether a request with this method for this endpoint may share an answer with identical
/// requests: a GET or HEAD of a listed metadata read, with no body to inspect and no upgrade.
pub fn shareable(method: &str, endpoint: &Endpoint) -> bool {
    matches!(method, "GET" | "HEAD")
        && endpoint.access == Access::Read
        && endpoint.body.is_none()
        && !endpoint.upgrade
        && SHARED_READS.contains(&endpoint.name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::{lookup, ENDPOINTS};

    fn by_path(method: &str, path: &str) -> bool {
        lookup(method, path).is_some_and(|e| shareable(method, e))
    }

    #[test]
    fn every_listed_name_is_a_metadata_read_in_the_table() {
        for name in SHARED_READS {
            let found: Vec<_> = ENDPOINTS.iter().filter(|e| e.name == *name).collect();
            assert!(!found.is_empty(), "{name} is not in the endpoint table");
            for e in found {
                assert_eq!(e.access, Access::Read, "{name}");
                assert!(matches!(e.method, "GET" | "HEAD"), "{name}");
                assert!(shareable(e.method, e), "{name}");
            }
        }
    }

    #[test]
    fn metadata_reads_are_shared() {
        assert!(by_path("GET", "/_ping"));
        assert!(by_path("HEAD", "/_ping"));
        assert!(by_path("GET", "/containers/json"));
        assert!(by_path("GET", "/containers/abc/json"));
        assert!(by_path("GET", "/images/library/alpine/json"));
        assert!(by_path("GET", "/networks"));
        assert!(by_path("GET", "/services/web"));
    }

    #[test]
    fn streams_content_registry_reads_and_writes_are_not() {
        for (method, path) in [
            ("GET", "/events"),
            ("GET", "/containers/abc/stats"),
            ("GET", "/containers/abc/logs"),
            ("GET", "/containers/abc/archive"),
            ("HEAD", "/containers/abc/archive"),
            ("GET", "/containers/abc/export"),
            ("GET", "/containers/abc/attach/ws"),
            ("GET", "/images/get"),
            ("GET", "/images/alpine/get"),
            ("GET", "/images/search"),
            ("GET", "/distribution/alpine/json"),
            ("GET", "/plugins/privileges"),
            ("GET", "/swarm/unlockkey"),
            ("GET", "/services/web/logs"),
            ("GET", "/tasks/t1/logs"),
            ("POST", "/containers/create"),
            ("POST", "/containers/abc/start"),
            ("DELETE", "/containers/abc"),
            ("POST", "/_ping"),
        ] {
            assert!(!by_path(method, path), "{method} {path} must not be shared");
        }
    }

    #[test]
    fn no_other_endpoint_is_shared() {
        for e in ENDPOINTS {
            if !SHARED_READS.contains(&e.name) {
                assert!(!shareable(e.method, e), "{}", e.name);
                assert!(!shareable("GET", e), "{}", e.name);
            }
        }
    }
}
