//! `ipAllowList` (v2's `ipWhiteList`) and `rateLimit`: both find who the client is the same
//! way (an `ipStrategy`, or for `rateLimit` a header or the host).

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
    let ip = client(strategy, r).parse::<std::net::IpAddr>().ok();
    if ip.is_some_and(|ip| ranges.iter().any(|n| n.contains(&ip))) {
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
