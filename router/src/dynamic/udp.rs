//! The UDP part of the dynamic configuration (`udp.routers`, `udp.services`), in Traefik's
//! shape, and its decoding. A UDP router has no rule: it takes every datagram of its entry
//! points (one router per entry point).

use std::collections::BTreeMap;

use serde::Serialize;

use super::decode::{each, unknown, Decoded, Owner, Source};
use super::WeightedService;
use crate::tree::{DecodeError, Node};

/// UDP routers and services, by name.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Udp {
    /// Routers by name.
    pub routers: BTreeMap<String, UdpRouter>,
    /// Services by name.
    pub services: BTreeMap<String, UdpService>,
}

impl Udp {
    /// Whether nothing is defined.
    pub fn is_empty(&self) -> bool {
        self.routers.is_empty() && self.services.is_empty()
    }
}

/// A UDP router.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UdpRouter {
    /// Entry points; empty means every UDP entry point.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub entry_points: Vec<String>,
    /// The service (name as written).
    pub service: String,
    /// Where it is defined, for reports.
    #[serde(skip)]
    pub sources: Vec<String>,
}

/// A UDP service.
#[derive(Debug, Clone, PartialEq)]
pub enum UdpService {
    /// `loadBalancer.servers[].address` (`host:port` each).
    LoadBalancer(Vec<String>),
    /// `weighted.services`.
    Weighted(Vec<WeightedService>),
}

/// Traefik's shape: `{"loadBalancer": {"servers": [{"address": ...}]}}` or
/// `{"weighted": {"services": [...]}}`.
impl Serialize for UdpService {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let value = match self {
            UdpService::LoadBalancer(servers) => {
                let servers: Vec<_> = servers
                    .iter()
                    .map(|a| serde_json::json!({ "address": a }))
                    .collect();
                serde_json::json!({ "loadBalancer": { "servers": servers } })
            }
            UdpService::Weighted(w) => serde_json::json!({ "weighted": { "services": w } }),
        };
        value.serialize(ser)
    }
}

/// Decodes `udp` (its `routers` and `services`) into `out`.
pub fn decode_udp(node: &Node, source: Source, out: &mut Decoded) {
    let mut f = match node.fields() {
        Ok(f) => f,
        Err(e) => return out.note(e),
    };
    each(
        f.take("routers"),
        out,
        Owner::UdpRouter,
        router,
        |out, name, def| {
            out.config.udp.routers.insert(name, def);
        },
    );
    let services = |n: &Node| service(n, source);
    each(
        f.take("services"),
        out,
        Owner::UdpService,
        services,
        |out, name, (def, port)| {
            if let Some(p) = port {
                out.udp_label_ports.insert(name.clone(), p);
            }
            out.config.udp.services.insert(name, def);
        },
    );
    for n in f.rest() {
        out.note(DecodeError::at(n, "unknown key"));
    }
}

fn router(node: &Node) -> Result<UdpRouter, DecodeError> {
    let mut f = node.fields()?;
    let mut r = UdpRouter::default();
    if let Some(n) = f.take("entryPoints") {
        r.entry_points = n.strings()?;
    }
    if let Some(n) = f.take("service") {
        r.service = n.text()?.trim().to_owned();
    }
    unknown(&f)?;
    Ok(r)
}

/// A service, and for labels the port its `server.port` asks for.
fn service(node: &Node, source: Source) -> Result<(UdpService, Option<u16>), DecodeError> {
    let mut f = node.fields()?;
    if node.children().len() > 1 {
        return Err(DecodeError::at(node, "a service has exactly one type"));
    }
    if let Some(w) = f.take("weighted") {
        if source == Source::Labels {
            return Err(DecodeError::at(
                w,
                "weighted UDP services are defined in files, not labels",
            ));
        }
        return Ok((UdpService::Weighted(super::tcp::weighted(w)?), None));
    }
    let Some(lb) = f.take("loadBalancer") else {
        return Err(match f.rest().first() {
            Some(n) => DecodeError::at(n, format!("{} is not supported", n.name)),
            None => DecodeError::at(node, "a service needs a loadBalancer"),
        });
    };
    let mut f = lb.fields()?;
    let mut servers = Vec::new();
    let mut port = None;
    match source {
        Source::Labels => {
            if let Some(s) = f.take("server") {
                let mut g = s.fields()?;
                if let Some(p) = g.take("port") {
                    port = super::decode::label_port(p)?;
                }
                unknown(&g)?;
            }
        }
        Source::File => {
            if let Some(s) = f.take("servers") {
                for item in s.items()? {
                    let mut g = item.fields()?;
                    let a = g.take("address").ok_or_else(|| {
                        DecodeError::at(item, "a UDP server needs an address (host:port)")
                    })?;
                    let text = a.text()?.trim().to_owned();
                    if !super::tcp::valid_address(&text) {
                        return Err(DecodeError::at(
                            a,
                            format!("expected host:port, got {text:?}"),
                        ));
                    }
                    unknown(&g)?;
                    servers.push(text);
                }
            }
        }
    }
    unknown(&f)?;
    Ok((UdpService::LoadBalancer(servers), port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamic::decode::tests::labels;

    #[test]
    fn labels_and_errors() {
        let d = labels(&[
            ("traefik.udp.routers.dns.entrypoints", "dns"),
            ("traefik.udp.services.dns.loadbalancer.server.port", "53"),
            ("traefik.udp.routers.bad.rule", "HostSNI(`*`)"),
            ("traefik.udp.services.w.weighted.services[0].name", "dns"),
        ]);
        assert_eq!(d.config.udp.routers["dns"].entry_points, ["dns"]);
        assert_eq!(d.udp_label_ports["dns"], 53);
        let owners: Vec<&Owner> = d.errors.iter().map(|e| &e.owner).collect();
        assert_eq!(
            owners,
            [
                &Owner::UdpRouter("bad".into()),
                &Owner::UdpService("w".into())
            ]
        );
    }
}
