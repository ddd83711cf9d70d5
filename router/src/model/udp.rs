//! The providers' UDP routers and services -> each UDP entry point's route, as Traefik's UDP
//! router manager builds them (`pkg/server/router/udp`). Pure.
//!
//! A UDP router has no rule: it takes every datagram of its entry points (every UDP entry
//! point when it names none). With several on one entry point, Traefik uses one and warns:
//! the one whose qualified name sorts last, as here.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::dynamic::{self, Issue, Snapshot};
use crate::model::compile::{report, CompileSettings};
use crate::model::table::{ApiView, ElementInfo};
use crate::model::tcp::{disable, Services, TcpTarget};

/// Every UDP entry point's route.
#[derive(Debug, Clone, Default)]
pub struct UdpTable {
    /// By entry point name.
    pub entry_points: BTreeMap<String, Arc<UdpRoute>>,
}

/// A UDP route.
#[derive(Debug)]
pub struct UdpRoute {
    /// `name@provider`.
    pub name: String,
    /// Where datagrams go (a new client address takes the next server).
    pub service: Arc<TcpTarget>,
}

impl UdpTable {
    /// Lines that describe the table, for the reload log and the comparison of tables.
    pub fn describe(&self) -> Vec<String> {
        self.entry_points
            .iter()
            .map(|(ep, r)| format!("udp route {} on {ep} -> {}", r.name, r.service.describe()))
            .collect()
    }
}

/// A router that wants an entry point, with its sources (for warnings).
type Candidate = (Arc<UdpRoute>, Vec<String>);

/// Builds every UDP entry point's route from the snapshots (sorted by provider).
pub fn compile(
    snaps: &[&Snapshot],
    s: &CompileSettings,
    issues: &mut Vec<Issue>,
    api: &mut ApiView,
) -> UdpTable {
    for snap in snaps {
        for (n, d) in &snap.config.udp.services {
            let q = dynamic::qualify(n, &snap.provider);
            api.udp_services.insert(q, ElementInfo::enabled(d.clone()));
        }
        for b in snap.broken.iter().filter(|b| b.kind.starts_with("udp")) {
            let q = dynamic::qualify(&b.name, &snap.provider);
            let message = format!("{} {q:?}: {}", b.kind, b.error);
            report(issues, &[], None, "error", message);
            match b.kind {
                "udpRouter" => disable(&mut api.udp_routers, &q, &b.error),
                _ => disable(&mut api.udp_services, &q, &b.error),
            }
        }
    }
    let udp_eps: Vec<&str> = s
        .entry_points
        .iter()
        .filter(|e| e.udp)
        .map(|e| e.name.as_str())
        .collect();
    let mut services = Services::new(snaps, true);
    let mut by_ep: BTreeMap<String, Vec<Candidate>> = BTreeMap::new();
    for snap in snaps {
        for (name, r) in &snap.config.udp.routers {
            let q = dynamic::qualify(name, &snap.provider);
            let service = if r.service.is_empty() {
                Err("the service is missing on the udp router".to_owned())
            } else {
                services.get(&dynamic::resolve(&r.service, &snap.provider))
            };
            let service = match service {
                Ok(t) => t,
                Err(e) => {
                    let m = format!("UDP router {q:?}: {e}");
                    disable(&mut api.udp_routers, &q, &m);
                    let message = format!("{m}; router disabled");
                    report(issues, &r.sources, None, "error", message);
                    continue;
                }
            };
            if let Some(svc) = api.udp_services.get_mut(service.name()) {
                svc.using.push(q.clone());
            }
            let mut info = ElementInfo::enabled(r.clone());
            let route = Arc::new(UdpRoute {
                name: q.clone(),
                service,
            });
            let wanted: Vec<&str> = if r.entry_points.is_empty() {
                udp_eps.clone()
            } else {
                r.entry_points.iter().map(String::as_str).collect()
            };
            if wanted.is_empty() {
                let m = format!("UDP router {q:?}: there is no UDP entry point to serve it on");
                info.status = "warning";
                info.errors.push(m.clone());
                report(issues, &r.sources, None, "warning", m);
            }
            for ep in wanted {
                if udp_eps.contains(&ep) {
                    info.using.push(ep.to_owned());
                    let candidate = (route.clone(), r.sources.clone());
                    by_ep.entry(ep.to_owned()).or_default().push(candidate);
                } else {
                    let m = format!(
                        "UDP router {q:?}: {ep:?} is not a UDP entry point (known: {})",
                        udp_eps.join(", ")
                    );
                    info.status = "warning";
                    info.errors.push(m.clone());
                    report(issues, &r.sources, None, "warning", m);
                }
            }
            api.udp_routers.insert(q, info);
        }
    }
    let names: Vec<String> = api.udp_services.keys().cloned().collect();
    for q in names {
        if let (Err(e), Some(i)) = (services.get(&q), api.udp_services.get_mut(&q)) {
            i.status = "disabled";
            i.errors.push(e);
        }
    }
    issues.extend(services.take_errors());
    let mut table = UdpTable::default();
    for (ep, mut routes) in by_ep {
        routes.sort_by(|a, b| b.0.name.cmp(&a.0.name));
        for (r, sources) in routes.iter().skip(1) {
            let m = format!(
                "UDP router {:?}: entry point {ep:?} has more than one UDP router; {:?} takes it",
                r.name, routes[0].0.name
            );
            if let Some(i) = api.udp_routers.get_mut(&r.name) {
                i.status = "warning";
                i.errors.push(m.clone());
            }
            report(issues, sources, None, "warning", m);
        }
        table.entry_points.insert(ep, routes.swap_remove(0).0);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamic::udp::{UdpRouter, UdpService};
    use crate::model::compile::EntryPointModel;

    fn settings() -> CompileSettings {
        let ep = |name: &str, udp: bool| EntryPointModel {
            name: name.into(),
            default: !udp,
            udp,
            ..Default::default()
        };
        CompileSettings {
            entry_points: vec![ep("dns", true), ep("game", true), ep("web", false)],
            ..Default::default()
        }
    }

    fn snap(routers: &[(&str, &[&str], &str)]) -> Snapshot {
        let mut s = Snapshot {
            provider: "file".into(),
            ..Default::default()
        };
        s.config.udp.services.insert(
            "svc".into(),
            UdpService::LoadBalancer(vec!["10.0.0.1:53".into()]),
        );
        for (name, eps, service) in routers {
            s.config.udp.routers.insert(
                (*name).into(),
                UdpRouter {
                    entry_points: eps.iter().map(|e| (*e).to_owned()).collect(),
                    service: (*service).into(),
                    sources: vec!["f.yml".into()],
                },
            );
        }
        s
    }

    #[test]
    fn one_router_per_udp_entry_point_as_traefik_picks_it() {
        let s = snap(&[
            ("a", &["dns"], "svc"),
            ("b", &["dns"], "svc"),
            ("all", &[], "svc"),
            ("http", &["web"], "svc"),
            ("none", &["dns"], "missing"),
        ]);
        let mut issues = Vec::new();
        let mut api = ApiView::default();
        let t = compile(&[&s], &settings(), &mut issues, &mut api);
        assert_eq!(api.udp_routers["a@file"].status, "warning");
        assert_eq!(api.udp_routers["b@file"].using, ["dns"]);
        assert_eq!(api.udp_routers["none@file"].status, "disabled");
        assert_eq!(api.udp_services["svc@file"].using.len(), 4);
        // Without entry points: every UDP one; several on one: the last name takes it.
        assert_eq!(t.entry_points["dns"].name, "b@file");
        assert_eq!(t.entry_points["game"].name, "all@file");
        assert_eq!(t.entry_points.len(), 2);
        let text: Vec<&str> = issues.iter().map(|i| i.message.as_str()).collect();
        assert!(
            text.iter()
                .any(|m| m.contains("\"web\" is not a UDP entry point")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|m| m.contains("\"none@file\"") && m.contains("does not exist")),
            "{text:?}"
        );
        assert!(
            text.iter().any(|m| m.contains("more than one UDP router")),
            "{text:?}"
        );
    }
}
