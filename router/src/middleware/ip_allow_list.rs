//! `ipAllowList` (v2's `ipWhiteList`) and `rateLimit`: both find who the client is the same
//! way (an `ipStrategy`, or for `rateLimit` a header or the host).

use std::net::IpAddr;
use std::time::Duration;

use hyper::header::HeaderName;
use hyper::StatusCode;
use ipnet::IpNet;

use super::{Flow, Request};
use crate::dynamic::{IpStrategy, SourceCriterion};
use crate::proxy::{plain, ProxyError};

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The client's address under `strategy` ("" when it finds none).
fn client(strategy: &IpStrategy, r: &Request<'_, '_>) -> String {
    let xff = r.headers.get(X_FORWARDED_FOR).and_then(|v| v.to_str().ok());
    strategy.client(r.inbound.client_ip(), xff)
}

/// Who the request is from under `source` (`rateLimit`, `inFlightReq`).
pub(super) fn source_key(source: &SourceCriterion, r: &Request<'_, '_>) -> String {
    match source {
        SourceCriterion::IpStrategy(s) => client(s, r),
        SourceCriterion::RequestHeaderName(h) => r
            .headers
            .get(h.as_str())
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned(),
        SourceCriterion::RequestHost => r.inbound.host_header(r.headers),
    }
}

/// Refused (403, or `rejectStatusCode`) unless the client's address is in one of `ranges`.
pub fn apply(
    ranges: &[IpNet],
    strategy: &IpStrategy,
    reject: u16,
    r: &mut Request<'_, '_>,
) -> Result<Flow, ProxyError> {
    if allows(ranges, &client(strategy, r)) {
        return Ok(Flow::Next);
    }
    if reject == 403 {
        return Err(ProxyError::Forbidden);
    }
    let status = StatusCode::from_u16(reject).unwrap_or(StatusCode::FORBIDDEN);
    Ok(Flow::Answer(plain(
        status,
        status.canonical_reason().unwrap_or("Forbidden"),
    )))
}

/// Whether `client` (an address a strategy found: from `X-Forwarded-For` it may carry a port
/// or an IPv6 zone) is in one of `ranges`, as Traefik's `Checker.IsAuthorized` decides: a
/// port is dropped (`1.2.3.4:80`, `[::1]:80`), an IPv6 zone ignored (`fe80::1%eth0`), an
/// IPv4-mapped IPv6 address taken as IPv4; anything else that is not an address is refused.
fn allows(ranges: &[IpNet], client: &str) -> bool {
    let host = split_host_port(client).unwrap_or(client);
    let ip = match host.split_once('%') {
        Some((v6, zone)) if !zone.is_empty() => {
            v6.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6)
        }
        Some(_) => None,
        None => host.parse::<IpAddr>().ok(),
    };
    ip.map(|ip| ip.to_canonical())
        .is_some_and(|ip| ranges.iter().any(|n| n.contains(&ip)))
}

/// The host of `host:port` or `[host]:port` (Go's `net.SplitHostPort`); `None` without a
/// port or with more than one `:` outside brackets.
fn split_host_port(s: &str) -> Option<&str> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        after.strip_prefix(':')?;
        return Some(host);
    }
    let (host, _) = s.rsplit_once(':')?;
    (!host.contains(':')).then_some(host)
}

/// 429 when the source has used its requests: `average` per `period` (none: no limit), in
/// bursts of up to `burst`.
pub fn rate_limit(
    name: &str,
    average: u64,
    period: Duration,
    burst: u64,
    source: &SourceCriterion,
    r: &mut Request<'_, '_>,
) -> Result<Flow, ProxyError> {
    if average == 0 {
        return Ok(Flow::Next);
    }
    let key = source_key(source, r);
    let rate = average as f64 / period.as_secs_f64();
    if r.shared.registry.rate_limit(name, &key, rate, burst) {
        Ok(Flow::Next)
    } else {
        Err(ProxyError::RateLimited)
    }
}
