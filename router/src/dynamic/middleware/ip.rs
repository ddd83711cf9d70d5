//! Which client a request is from, as Traefik's `ipStrategy` and `sourceCriterion` say: the
//! connection's address, the address `depth` places from the right of `X-Forwarded-For`, or
//! the rightmost one not in `excludedIPs` (optionally reduced to its IPv6 subnet); for
//! `rateLimit`, a request header or the host instead.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::Serialize;

use super::fields;
use crate::tree::{DecodeError, Node};

/// An `ipStrategy`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IpStrategy {
    /// Take `X-Forwarded-For`'s address this many places from the right (0: not used).
    pub depth: usize,
    /// Else take its rightmost address not in these.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub excluded_ips: Vec<IpNet>,
    /// Reduce an IPv6 address to this prefix length.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv6_subnet: Option<u8>,
}

/// A `sourceCriterion` (rate limiting): what counts as one source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SourceCriterion {
    /// An address chosen by an `ipStrategy` (the default: the connection's).
    IpStrategy(IpStrategy),
    /// The value of this request header.
    RequestHeaderName(String),
    /// The request's host.
    RequestHost,
}

impl Default for SourceCriterion {
    fn default() -> Self {
        SourceCriterion::IpStrategy(IpStrategy::default())
    }
}

impl IpStrategy {
    /// The client's address as text ("" when the strategy finds none, as Traefik's), given
    /// the connection's address and the request's `X-Forwarded-For` (as the entry point left
    /// it: an untrusted client's is gone).
    pub fn client(&self, remote: IpAddr, xff: Option<&str>) -> String {
        let parts = || -> Vec<&str> { xff.unwrap_or("").split(',').collect() };
        let ip = if self.depth > 0 {
            let parts = parts();
            if parts.len() < self.depth {
                return String::new();
            }
            parts[parts.len() - self.depth].trim().to_owned()
        } else if !self.excluded_ips.is_empty() {
            // A pool strategy: no subnet reduction, as in Traefik.
            return parts()
                .iter()
                .rev()
                .map(|p| p.trim())
                .filter(|p| !p.is_empty())
                .find(|p| {
                    !p.parse::<IpAddr>()
                        .is_ok_and(|a| self.excluded_ips.iter().any(|n| n.contains(&a)))
                })
                .unwrap_or("")
                .to_owned();
        } else {
            remote.to_string()
        };
        match (self.ipv6_subnet, ip.parse::<IpAddr>()) {
            (Some(bits), Ok(IpAddr::V6(v6))) => ipnet::Ipv6Net::new(v6, bits)
                .map(|n| n.trunc().addr().to_string())
                .unwrap_or(ip),
            _ => ip,
        }
    }
}

/// Decodes an `ipStrategy` section.
pub fn ip_strategy(n: &Node) -> Result<IpStrategy, DecodeError> {
    let mut f = fields(n, &["depth", "excludedIPs", "ipv6Subnet"])?;
    let mut s = IpStrategy::default();
    if let Some(d) = f.take("depth") {
        let v = d.integer()?;
        s.depth = usize::try_from(v)
            .map_err(|_| DecodeError::at(d, format!("expected a depth >= 0, got {v}")))?;
    }
    if let Some(x) = f.take("excludedIPs") {
        s.excluded_ips = nets(x)?;
    }
    if let Some(b) = f.take("ipv6Subnet") {
        let v = b.integer()?;
        s.ipv6_subnet = Some(
            u8::try_from(v)
                .ok()
                .filter(|v| (1..=128).contains(v))
                .ok_or_else(|| {
                    DecodeError::at(
                        b,
                        format!("expected an IPv6 prefix length from 1 to 128, got {v}"),
                    )
                })?,
        );
    }
    Ok(s)
}

/// Decodes a `sourceCriterion` section (its three ways exclude each other, as in Traefik);
/// `default` when it sets none.
pub fn source_criterion_or(
    n: &Node,
    default: SourceCriterion,
) -> Result<SourceCriterion, DecodeError> {
    let mut f = fields(n, &["ipStrategy", "requestHeaderName", "requestHost"])?;
    let ip = f.take("ipStrategy").map(ip_strategy).transpose()?;
    let header = match f.take("requestHeaderName") {
        Some(h) if !h.text()?.is_empty() => {
            let name = h.text()?;
            http::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| DecodeError::at(h, format!("invalid header name {name:?}")))?;
            Some(name.to_owned())
        }
        _ => None,
    };
    let host = f
        .take("requestHost")
        .map(Node::boolean)
        .transpose()?
        .unwrap_or(false);
    match (ip, header, host) {
        (Some(s), None, false) => Ok(SourceCriterion::IpStrategy(s)),
        (None, Some(h), false) => Ok(SourceCriterion::RequestHeaderName(h)),
        (None, None, true) => Ok(SourceCriterion::RequestHost),
        (None, None, false) => Ok(default),
        _ => Err(DecodeError::at(
            n,
            "ipStrategy, requestHeaderName and requestHost are mutually exclusive",
        )),
    }
}

/// CIDRs or addresses.
pub fn nets(n: &Node) -> Result<Vec<IpNet>, DecodeError> {
    n.strings()?
        .iter()
        .map(|item| {
            item.parse::<IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| DecodeError::at(n, format!("invalid CIDR {item:?}")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn strategies_pick_as_traefiks_do() {
        let remote = ip("10.0.0.9");
        let xff = Some("1.1.1.1, 2.2.2.2, 3.3.3.3");
        assert_eq!(IpStrategy::default().client(remote, xff), "10.0.0.9");
        let depth = |d| IpStrategy {
            depth: d,
            ..Default::default()
        };
        assert_eq!(depth(1).client(remote, xff), "3.3.3.3");
        assert_eq!(depth(3).client(remote, xff), "1.1.1.1");
        assert_eq!(depth(4).client(remote, xff), "");
        assert_eq!(depth(1).client(remote, None), "");
        let pool = IpStrategy {
            excluded_ips: vec!["3.3.3.0/24".parse().unwrap(), "2.2.2.2/32".parse().unwrap()],
            ..Default::default()
        };
        assert_eq!(pool.client(remote, xff), "1.1.1.1");
        assert_eq!(pool.client(remote, Some("3.3.3.3")), "");
        let v6 = IpStrategy {
            depth: 1,
            ipv6_subnet: Some(64),
            ..Default::default()
        };
        assert_eq!(
            v6.client(remote, Some("2001:db8:1:2:3:4:5:6")),
            "2001:db8:1:2::"
        );
    }
}

#[cfg(test)]
mod decode_tests {
    use super::super::{decode, Middleware};
    use crate::tree::Node;

    fn one(yaml: &str) -> Result<Middleware, String> {
        let node = Node::from_yaml(yaml, "m").unwrap();
        decode(&node).map(|m| m.unwrap()).map_err(|e| e.to_string())
    }

    #[test]
    fn rate_limit_and_allow_list_options() {
        let m = one("rateLimit:\n  average: 100\n  period: 1m\n  burst: 50\n  sourceCriterion:\n    ipStrategy:\n      depth: 2\n").unwrap();
        let Middleware::RateLimit {
            average,
            period,
            burst,
            source,
        } = m
        else {
            panic!()
        };
        assert_eq!((average, period.as_secs(), burst), (100, 60, 50));
        assert!(matches!(source, super::SourceCriterion::IpStrategy(s) if s.depth == 2));
        // average 0: no limit, as in Traefik (not an error).
        assert!(one("rateLimit:\n  average: 0\n").is_ok());
        let e = one("rateLimit:\n  average: 1\n  sourceCriterion:\n    requestHost: true\n    requestHeaderName: X\n").unwrap_err();
        assert!(e.contains("mutually exclusive"), "{e}");
        let m = one("ipAllowList:\n  sourceRange: [10.0.0.0/8]\n  rejectStatusCode: 404\n  ipStrategy:\n    excludedIPs: [10.1.0.0/16]\n").unwrap();
        assert!(
            matches!(
                m,
                Middleware::IpAllowList {
                    reject_status_code: 404,
                    ..
                }
            ),
            "{m:?}"
        );
        assert!(
            one("ipAllowList:\n  sourceRange: [10.0.0.0/8]\n  rejectStatusCode: 999\n").is_err()
        );
        assert!(one(
            "ipAllowList:\n  sourceRange: [10.0.0.0/8]\n  ipStrategy:\n    ipv6Subnet: 129\n"
        )
        .is_err());
    }
}

#[cfg(test)]
mod in_flight_tests {
    use super::super::{decode, Middleware};
    use super::SourceCriterion;
    use crate::tree::Node;

    #[test]
    fn in_flight_req_counts_per_host_by_default() {
        let n = Node::from_yaml("inFlightReq:\n  amount: 10\n", "m").unwrap();
        let m = decode(&n).unwrap().unwrap();
        assert_eq!(
            m,
            Middleware::InFlightReq {
                amount: 10,
                source: SourceCriterion::RequestHost
            }
        );
        let n = Node::from_yaml(
            "inFlightReq:\n  amount: 1\n  sourceCriterion:\n    ipStrategy:\n      depth: 1\n",
            "m",
        )
        .unwrap();
        assert!(matches!(
            decode(&n),
            Ok(Some(Middleware::InFlightReq {
                source: SourceCriterion::IpStrategy(_),
                ..
            }))
        ));
        // As Traefik: accepted, and every request refused.
        let n = Node::from_yaml("inFlightReq:\n  amount: 0\n", "m").unwrap();
        assert!(matches!(
            decode(&n),
            Ok(Some(Middleware::InFlightReq { amount: 0, .. }))
        ));
        let n = Node::from_yaml("inFlightReq:\n  amount: x\n", "m").unwrap();
        assert!(decode(&n).is_err());
        // Unset: 0, as Traefik's InFlightReq has no default.
        let n = Node::from_yaml(
            "inFlightReq:\n  sourceCriterion:\n    requestHost: true\n",
            "m",
        )
        .unwrap();
        assert!(matches!(
            decode(&n),
            Ok(Some(Middleware::InFlightReq { amount: 0, .. }))
        ));
    }
}
