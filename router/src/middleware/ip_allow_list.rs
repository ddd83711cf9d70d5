//! `ipAllowList` (v2's `ipWhiteList`) and `rateLimit`: both find who the client is the same
//! way (an `ipStrategy`, or for `rateLimit` a header or the host).

use std::net::IpAddr;
use std::time::Duration;

use hyper::header::HeaderName;
use hyper::StatusCode;
use ipnet::IpNet;

use super::{Flow, Request};
use crate::dynamic::{IpStrategy, SourceCriterion};
use crate::proxy::{written, ProxyError};

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
    Ok(Flow::Answer(written(
        status,
        status.canonical_reason().unwrap_or(""),
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
    (middleware, nth): (&str, usize),
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
    let max_delay = max_delay(rate);
    let at = crate::live::BucketOf {
        router: &r.log.router,
        middleware,
        nth,
        source: &key,
    };
    match r.shared.registry.rate_limit(at, rate, burst, max_delay) {
        Ok(()) => Ok(Flow::Next),
        Err(wait) => Ok(Flow::Answer(too_many_requests(wait))),
    }
}

/// How long Traefik delays a request rather than refuse it, at `rate` per second: half the
/// time between two tokens (`time.Second / (time.Duration(rate) * 2)`, the rate truncated to a
/// whole number), 500ms below one per second.
pub fn max_delay(rate: f64) -> Duration {
    if rate < 1.0 {
        return Duration::from_millis(500);
    }
    // A whole number of at least 1 (saturating for an absurd rate).
    let whole = rate as u64;
    Duration::from_nanos(1_000_000_000 / whole.saturating_mul(2))
}

/// Traefik's 429 for a source over its rate: `Retry-After` (whole seconds, rounded up) and
/// `X-Retry-In` (Go's duration text) say when a token will be there, the body is the status
/// text.
fn too_many_requests(wait: Duration) -> crate::proxy::Answer {
    let mut headers = hyper::HeaderMap::new();
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    for (name, value) in [
        ("retry-after", secs.to_string()),
        ("x-retry-in", crate::tree::go_duration_text(wait)),
        ("content-type", "text/plain; charset=utf-8".to_owned()),
    ] {
        // Bytes: Go writes `µs` as UTF-8.
        if let Ok(v) = hyper::header::HeaderValue::from_bytes(value.as_bytes()) {
            headers.insert(hyper::header::HeaderName::from_static(name), v);
        }
    }
    crate::proxy::Answer {
        status: hyper::StatusCode::TOO_MANY_REQUESTS,
        headers,
        body: bytes::Bytes::from_static(b"Too Many Requests"),
    }
}

/// Traefik's `pkg/middlewares/ratelimiter/rate_limiter_test.go` (`TestNewRateLimiter`) and
/// `rate_limiter.go`'s `serveDelayError`, translated.
#[cfg(test)]
// The tables are tuples of plain data.
#[allow(clippy::type_complexity)]
mod traefik_tables {
    use super::*;
    use crate::dynamic::Middleware;

    fn decode(yaml: &str) -> Result<Middleware, String> {
        let node = crate::tree::Node::from_yaml(yaml, "m").map_err(|e| e.to_string())?;
        match crate::dynamic::middleware::decode(&node) {
            Ok(Some(m)) => Ok(m),
            Ok(None) => Err("not supported".into()),
            Err(e) => Err(e.to_string()),
        }
    }

    #[test]
    fn new_rate_limiter() {
        // (case, options, (average, period in ms, burst) or refused).
        let table: &[(&str, &str, Option<(u64, u128, u64)>)] = &[
            ("no ratelimit on Average == 0", "average: 0\nburst: 10\n", Some((0, 1_000, 10))),
            ("maxDelay computation", "average: 200\nburst: 10\n", Some((200, 1_000, 10))),
            ("maxDelay computation, low rate regime", "average: 2\nperiod: 10s\nburst: 10\n", Some((2, 10_000, 10))),
            // `burst := max(config.Burst, 1)`; a period of 0 is one second.
            ("burst below 1", "average: 5\nburst: 0\nperiod: 0s\n", Some((5, 1_000, 1))),
            ("negative value not valid for period", "average: 5\nperiod: -1s\n", None),
            (
                "SourceCriteria are mutually exclusive",
                "average: 200\nburst: 10\nsourceCriterion:\n  ipStrategy:\n    depth: 1\n  requestHeaderName: Foo\n",
                None,
            ),
        ];
        for (case, opts, want) in table {
            let indented: String = opts.lines().map(|l| format!("  {l}\n")).collect();
            let got = decode(&format!("rateLimit:\n{indented}"));
            match (got, want) {
                (
                    Ok(Middleware::RateLimit {
                        average,
                        period,
                        burst,
                        ..
                    }),
                    Some(w),
                ) => {
                    assert_eq!((average, period.as_millis(), burst), *w, "{case}");
                }
                (Err(_), None) => {}
                (other, _) => panic!("{case}: {other:?}"),
            }
        }
        // "default SourceMatcher is remote address ip strategy"; "SourceCriterion in config
        // is respected".
        let Ok(Middleware::RateLimit { source, .. }) = decode("rateLimit:\n  average: 200\n")
        else {
            panic!()
        };
        assert!(
            matches!(source, SourceCriterion::IpStrategy(_)),
            "{source:?}"
        );
        let Ok(Middleware::RateLimit { source, .. }) =
            decode("rateLimit:\n  average: 200\n  sourceCriterion:\n    requestHeaderName: Foo\n")
        else {
            panic!()
        };
        assert!(
            matches!(source, SourceCriterion::RequestHeaderName(_)),
            "{source:?}"
        );
    }

    #[test]
    fn max_delays() {
        // TestNewRateLimiter: "maxDelay computation" (200/s), "maxDelay computation, low
        // rate regime" (2 per 10s).
        assert_eq!(max_delay(200.0), Duration::from_micros(2_500));
        assert_eq!(max_delay(0.2), Duration::from_millis(500));
        assert_eq!(max_delay(1.5), Duration::from_millis(500));
        assert_eq!(max_delay(100.0), Duration::from_millis(5));
        assert_eq!(max_delay(f64::MAX), Duration::ZERO);
    }

    #[test]
    fn delay_error_answer() {
        // serveDelayError: 429, Retry-After the delay in seconds rounded up, X-Retry-In the
        // delay as Go writes it, the status text as the body. (Delay, Retry-After,
        // X-Retry-In.)
        let table: &[(Duration, &str, &str)] = &[
            (Duration::from_micros(2_500), "1", "2.5ms"),
            (Duration::from_millis(500), "1", "500ms"),
            (Duration::from_millis(1_500), "2", "1.5s"),
            (Duration::from_secs(60), "60", "1m0s"),
            (Duration::from_secs(7_200), "7200", "2h0m0s"),
            (Duration::from_nanos(1_234_567), "1", "1.234567ms"),
            (Duration::from_nanos(1_500), "1", "1.5µs"),
            (Duration::from_nanos(999), "1", "999ns"),
        ];
        for (wait, retry_after, retry_in) in table {
            let a = too_many_requests(*wait);
            assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
            let h = |k: &str| {
                a.headers
                    .get(k)
                    .map(|v| String::from_utf8_lossy(v.as_bytes()))
            };
            assert_eq!(h("retry-after").as_deref(), Some(*retry_after), "{wait:?}");
            assert_eq!(h("x-retry-in").as_deref(), Some(*retry_in), "{wait:?}");
            assert_eq!(&a.body[..], b"Too Many Requests");
        }
    }
}
