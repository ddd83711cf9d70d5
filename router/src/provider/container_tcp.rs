//! A container's TCP (and UDP) routers and services, as Traefik's Docker provider builds them
//! (`buildTCPServiceConfiguration`, `BuildTCPRouterConfiguration`): a container that defines
//! no TCP service gets one named after it; each label-defined service gets the container's
//! address and port (`loadbalancer.server.port`, else the container's port); a router
//! without a rule is dropped; one without a service takes the container's only one.
//!
//! A container that is not running and healthy gives its services no server, as in Traefik:
//! a stopping container takes no new connection while those it has go on (its drain).

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::container::{port_for, ContainerInfo, ContainerSettings, Report};
use crate::dynamic::decode::{Decoded, Owner};
use crate::dynamic::tcp::{TcpLoadBalancer, TcpRouter, TcpServer, TcpService};
use crate::dynamic::udp::{UdpRouter, UdpService};
use crate::dynamic::{Issue, ServerStatus, Snapshot};

/// Fills in the TCP part of a container's decoded labels.
pub(super) fn build(
    c: &ContainerInfo,
    ip: Option<IpAddr>,
    status: ServerStatus,
    d: &mut Decoded,
    s: &ContainerSettings,
    default_name: &str,
    report: &mut Report<'_>,
) {
    let broken_services = broken(d, |o| match o {
        Owner::TcpService(n) => Some(n),
        _ => None,
    });
    let tcp = &mut d.config.tcp;
    if tcp.services.is_empty() && broken_services.is_empty() {
        tcp.services.insert(
            default_name.to_owned(),
            TcpService::LoadBalancer(TcpLoadBalancer::default()),
        );
    }
    let names: Vec<String> = tcp.services.keys().cloned().collect();
    for name in names {
        let Some(TcpService::LoadBalancer(lb)) = tcp.services.get_mut(&name) else {
            continue;
        };
        let Some(ip) = ip.filter(|_| status == ServerStatus::Ready) else {
            continue;
        };
        let label = d.tcp_label_servers.get(&name).cloned().unwrap_or_default();
        let Some(port) = port_for(c, label.port, "tcp", &name, s, report) else {
            tcp.services.remove(&name);
            continue;
        };
        lb.servers.push(TcpServer {
            address: super::container::reach(c, ip, port, s).to_string(),
            tls: label.tls,
        });
    }
    let defined = tcp.services.len() + broken_services.len();
    let only = tcp
        .services
        .keys()
        .next()
        .or(broken_services.first())
        .cloned();
    tcp.routers.retain(|name, r| {
        if r.rule.is_empty() {
            report(
                "error",
                None,
                format!("TCP router {name:?} has no rule; router disabled"),
            );
            return false;
        }
        if r.service.is_empty() {
            match (&only, defined) {
                (Some(svc), 1) => r.service.clone_from(svc),
                _ => {
                    report("error", None, format!("TCP router {name:?} has no service and the container defines {defined} TCP services; router disabled"));
                    return false;
                }
            }
        }
        r.sources = vec![c.name.clone()];
        true
    });
}

/// The names of the services `which` picks among the decoding errors' owners.
fn broken(d: &Decoded, which: impl Fn(&Owner) -> Option<&String>) -> Vec<String> {
    d.errors
        .iter()
        .filter_map(|e| which(&e.owner).cloned())
        .collect()
}

/// Fills in the UDP part of a container's decoded labels, as Traefik's
/// `buildUDPServiceConfiguration` and `BuildUDPRouterConfiguration` do: a service named after
/// the container when it defines none, its address and port (`server.port`, else the
/// container's lowest), and a router without a service given the only one.
pub(super) fn build_udp(
    c: &ContainerInfo,
    ip: Option<IpAddr>,
    status: ServerStatus,
    d: &mut Decoded,
    s: &ContainerSettings,
    default_name: &str,
    report: &mut Report<'_>,
) {
    let broken = broken(d, |o| match o {
        Owner::UdpService(n) => Some(n),
        _ => None,
    });
    let udp = &mut d.config.udp;
    if udp.services.is_empty() && broken.is_empty() {
        udp.services.insert(
            default_name.to_owned(),
            UdpService::LoadBalancer(Vec::new()),
        );
    }
    let names: Vec<String> = udp.services.keys().cloned().collect();
    for name in names {
        let Some(UdpService::LoadBalancer(servers)) = udp.services.get_mut(&name) else {
            continue;
        };
        let Some(ip) = ip.filter(|_| status == ServerStatus::Ready) else {
            continue;
        };
        let label = d.udp_label_ports.get(&name).copied();
        let Some(port) = port_for(c, label, "udp", &name, s, report) else {
            udp.services.remove(&name);
            continue;
        };
        servers.push(super::container::reach(c, ip, port, s).to_string());
    }
    let defined = udp.services.len() + broken.len();
    let only = udp.services.keys().next().or(broken.first()).cloned();
    udp.routers.retain(|name, r| {
        if r.service.is_empty() {
            match (&only, defined) {
                (Some(svc), 1) => r.service.clone_from(svc),
                _ => {
                    report("error", None, format!("UDP router {name:?} has no service and the container defines {defined} UDP services; router disabled"));
                    return false;
                }
            }
        }
        r.sources = vec![c.name.clone()];
        true
    });
}

/// TCP and UDP definitions from several containers: identical ones merge (load balancers add their
/// servers), differing ones are dropped with an error on every container that defines them.
#[derive(Default)]
pub(super) struct TcpMerger {
    routers: BTreeMap<String, Vec<(String, TcpRouter)>>,
    services: BTreeMap<String, Vec<(String, TcpService)>>,
    middlewares: BTreeMap<String, Vec<(String, crate::dynamic::tcp::TcpMiddleware)>>,
    udp_routers: BTreeMap<String, Vec<(String, UdpRouter)>>,
    udp_services: BTreeMap<String, Vec<(String, UdpService)>>,
}

impl TcpMerger {
    pub(super) fn add(
        &mut self,
        container: &str,
        tcp: crate::dynamic::tcp::Tcp,
        udp: crate::dynamic::udp::Udp,
    ) {
        let c = || container.to_owned();
        for (n, r) in udp.routers {
            self.udp_routers.entry(n).or_default().push((c(), r));
        }
        for (n, s) in udp.services {
            self.udp_services.entry(n).or_default().push((c(), s));
        }
        for (n, r) in tcp.routers {
            self.routers.entry(n).or_default().push((c(), r));
        }
        for (n, s) in tcp.services {
            self.services.entry(n).or_default().push((c(), s));
        }
        for (n, m) in tcp.middlewares {
            self.middlewares.entry(n).or_default().push((c(), m));
        }
    }

    pub(super) fn finish(self, snap: &mut Snapshot, issues: &mut Vec<Issue>) {
        let conflict = |issues: &mut Vec<Issue>, kind: &str, name: &str, defs: Vec<&String>| {
            for c in defs {
                issues.push(Issue {
                    source: c.clone(),
                    level: "error",
                    key: None,
                    message: format!(
                        "{kind} {name:?} is defined differently on several containers; disabled"
                    ),
                });
            }
        };
        let udp = &mut snap.config.udp;
        for (name, defs) in self.udp_routers {
            let bare = |r: &UdpRouter| UdpRouter {
                sources: Vec::new(),
                ..r.clone()
            };
            if defs.iter().all(|(_, r)| bare(r) == bare(&defs[0].1)) {
                let mut r = defs[0].1.clone();
                r.sources = defs.iter().map(|(c, _)| c.clone()).collect();
                udp.routers.insert(name, r);
            } else {
                let who = defs.iter().map(|(c, _)| c).collect();
                conflict(issues, "UDP router", &name, who);
            }
        }
        for (name, defs) in self.udp_services {
            let mut merged = defs[0].1.clone();
            let mut same = true;
            for (_, s) in &defs[1..] {
                match (&mut merged, s) {
                    (UdpService::LoadBalancer(a), UdpService::LoadBalancer(b)) => {
                        for server in b {
                            if !a.contains(server) {
                                a.push(server.clone());
                            }
                        }
                    }
                    (a, b) => same &= *a == *b,
                }
            }
            if let UdpService::LoadBalancer(servers) = &mut merged {
                servers.sort();
            }
            if same {
                udp.services.insert(name, merged);
            } else {
                let who = defs.iter().map(|(c, _)| c).collect();
                conflict(issues, "UDP service", &name, who);
            }
        }
        let tcp = &mut snap.config.tcp;
        for (name, defs) in self.routers {
            let bare = |r: &TcpRouter| TcpRouter {
                sources: Vec::new(),
                ..r.clone()
            };
            if defs.iter().all(|(_, r)| bare(r) == bare(&defs[0].1)) {
                let mut r = defs[0].1.clone();
                r.sources = defs.iter().map(|(c, _)| c.clone()).collect();
                tcp.routers.insert(name, r);
            } else {
                conflict(
                    issues,
                    "router",
                    &name,
                    defs.iter().map(|(c, _)| c).collect(),
                );
            }
        }
        for (name, defs) in self.services {
            match merge_services(defs.iter().map(|(_, s)| s)) {
                Some(s) => {
                    tcp.services.insert(name, s);
                }
                None => conflict(
                    issues,
                    "service",
                    &name,
                    defs.iter().map(|(c, _)| c).collect(),
                ),
            }
        }
        for (name, defs) in self.middlewares {
            if defs.iter().all(|(_, m)| *m == defs[0].1) {
                tcp.middlewares.insert(name, defs[0].1.clone());
            } else {
                conflict(
                    issues,
                    "middleware",
                    &name,
                    defs.iter().map(|(c, _)| c).collect(),
                );
            }
        }
    }
}

/// Load balancers that differ only in their servers merge into one with all of them (one per
/// address; sorted, so that the order of containers does not matter); anything else must be
/// equal.
fn merge_services<'a>(mut defs: impl Iterator<Item = &'a TcpService>) -> Option<TcpService> {
    let mut merged = defs.next()?.clone();
    for s in defs {
        match (&mut merged, s) {
            (TcpService::LoadBalancer(a), TcpService::LoadBalancer(b)) => {
                let same = TcpLoadBalancer {
                    servers: Vec::new(),
                    ..a.clone()
                } == TcpLoadBalancer {
                    servers: Vec::new(),
                    ..b.clone()
                };
                if !same {
                    return None;
                }
                // As Traefik's `TCPServersLoadBalancer.Merge`: an address once, the first
                // container's (with its `tls`).
                for server in &b.servers {
                    if !a.servers.iter().any(|s| s.address == server.address) {
                        a.servers.push(server.clone());
                    }
                }
            }
            (a, b) if a == b => {}
            _ => return None,
        }
    }
    if let TcpService::LoadBalancer(lb) = &mut merged {
        lb.servers.sort_by(|a, b| a.address.cmp(&b.address));
    }
    Some(merged)
}
