//! `retry`: a request whose server could not be reached, or answered with a listed status,
//! is sent again (to another server when there is one), up to `attempts` in all, with
//! Traefik's exponential waits between tries.

use std::time::Duration;

use serde::Serialize;

use super::errors::status_ranges;
use super::{fields, Middleware};
use crate::tree::{DecodeError, Node};

/// A `retry` middleware.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Retry {
    /// Tries in all (the first included).
    pub attempts: u32,
    /// The first wait; later ones grow toward twice it, at most 60s (0: no wait).
    #[serde(serialize_with = "crate::tree::ser_go_duration")]
    pub initial_interval: Duration,
    /// The time all tries may take (0: no limit).
    #[serde(serialize_with = "crate::tree::ser_go_duration")]
    pub timeout: Duration,
    /// Answers with these statuses are tried again (idempotent requests without a body only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub status: Vec<(u16, u16)>,
    /// Not on a server that could not be reached.
    pub disable_retry_on_network_error: bool,
    /// `POST`, `PATCH` and `LOCK` too (on a status).
    pub retry_non_idempotent_method: bool,
    /// The largest request body held to be sent again on a status (a larger one is not
    /// retried on a status). Traefik's default, 2 MiB; negative (unlimited) is capped at
    /// [`MAX_HELD_BODY`].
    pub max_request_body_bytes: u64,
}

/// cenkalti/backoff's default `MaxInterval`, which Traefik keeps: the longest wait but the
/// first.
const MAX_INTERVAL: Duration = Duration::from_secs(60);

/// Traefik's default `maxRequestBodyBytes`.
pub const DEFAULT_MAX_REQUEST_BODY: u64 = 2 << 20;

/// The largest body held for a retry when `maxRequestBodyBytes` is negative (Traefik's
/// unlimited): bodies are held in memory.
pub const MAX_HELD_BODY: u64 = 16 << 20;

impl Retry {
    /// The wait before try `n` (2, 3, ...): Traefik's exponential series (cenkalti/backoff's
    /// `ExponentialBackOff`, without its random spread): the initial interval, then each wait
    /// the last times 2^(1/(attempts-1)) (truncated to the nanosecond as Go does), so twice
    /// the initial interval would come after the last try; once a wait reaches its
    /// `MaxInterval` (60s) divided by that factor, the next ones are 60s.
    pub fn wait_before(&self, n: u32) -> Duration {
        if self.initial_interval.is_zero() || self.attempts < 2 || n < 2 {
            return Duration::ZERO;
        }
        let factor = 2f64.powf(1.0 / f64::from(self.attempts - 1));
        let max = MAX_INTERVAL.as_nanos() as f64;
        let mut wait = self.initial_interval.as_nanos() as f64;
        for _ in 2..n.min(self.attempts) {
            wait = if wait >= max / factor {
                max
            } else {
                (wait * factor).trunc()
            };
        }
        Duration::from_nanos(wait as u64)
    }

    /// Whether some answer status makes a request of `method` go again (then its body, up to
    /// `maxRequestBodyBytes`, is held to be sent again).
    pub fn retries_on_status(&self, method: &str) -> bool {
        let idempotent = !matches!(method, "POST" | "PATCH" | "LOCK");
        (idempotent || self.retry_non_idempotent_method) && !self.status.is_empty()
    }

    /// Whether an answer of `status` to `method` is tried again.
    pub fn retries_status(&self, status: u16, method: &str) -> bool {
        self.retries_on_status(method)
            && self
                .status
                .iter()
                .any(|(lo, hi)| (*lo..=*hi).contains(&status))
    }
}

/// A duration as Traefik's `ptypes.Duration` reads it, where a negative one (`-1s`) is
/// valid: it is zero here, which is what the options that take one make of it (Traefik's
/// `initialInterval <= 0`, `timeout > 0`, a breaker's duration `> 0`).
pub(super) fn signed_duration(n: &Node) -> Result<Duration, DecodeError> {
    match n.text()?.trim().strip_prefix('-') {
        Some(rest) if !rest.starts_with('+') && crate::tree::parse_go_duration(rest).is_some() => {
            Ok(Duration::ZERO)
        }
        _ => n.duration(),
    }
}

/// Decodes `retry`.
pub fn decode(kind: &Node) -> Result<Middleware, DecodeError> {
    let mut f = fields(
        kind,
        &[
            "attempts",
            "initialInterval",
            "timeout",
            "status",
            "disableRetryOnNetworkError",
            "retryNonIdempotentMethod",
            "maxRequestBodyBytes",
        ],
    )?;
    let n = f
        .take("attempts")
        .ok_or_else(|| DecodeError::at(kind, "retry needs attempts"))?;
    let v = n.integer()?;
    let attempts = u32::try_from(v).ok().filter(|a| *a > 0).ok_or_else(|| {
        DecodeError::at(n, format!("incorrect (or empty) value for attempts ({v})"))
    })?;
    let duration = |n: Option<&Node>| {
        Ok::<_, DecodeError>(n.map(signed_duration).transpose()?.unwrap_or_default())
    };
    let max_request_body_bytes = match f.take("maxRequestBodyBytes") {
        None => DEFAULT_MAX_REQUEST_BODY,
        Some(m) => u64::try_from(m.integer()?).unwrap_or(MAX_HELD_BODY),
    };
    let r = Retry {
        attempts,
        initial_interval: duration(f.take("initialInterval"))?,
        timeout: duration(f.take("timeout"))?,
        status: f
            .take("status")
            .map(status_ranges)
            .transpose()?
            .unwrap_or_default(),
        disable_retry_on_network_error: f
            .take("disableRetryOnNetworkError")
            .map(Node::boolean)
            .transpose()?
            .unwrap_or(false),
        retry_non_idempotent_method: f
            .take("retryNonIdempotentMethod")
            .map(Node::boolean)
            .transpose()?
            .unwrap_or(false),
        max_request_body_bytes,
    };
    if r.status.is_empty() && r.disable_retry_on_network_error {
        return Err(DecodeError::at(
            kind,
            "retry needs status codes or retries on network errors",
        ));
    }
    Ok(Middleware::Retry(Box::new(r)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_waits_and_statuses() {
        let n = Node::from_yaml(
            "retry:\n  attempts: 3\n  initialInterval: 100ms\n  status: ['500-599']\n",
            "m",
        )
        .unwrap();
        let Middleware::Retry(r) = super::super::decode(&n).unwrap().unwrap() else {
            panic!()
        };
        assert_eq!(r.wait_before(1), Duration::ZERO);
        assert_eq!(r.wait_before(2), Duration::from_millis(100));
        assert_eq!(r.wait_before(3).as_millis(), 141);
        assert!(
            r.retries_status(503, "GET")
                && !r.retries_status(503, "POST")
                && !r.retries_status(404, "GET")
        );
        assert_eq!(r.max_request_body_bytes, DEFAULT_MAX_REQUEST_BODY);
        for (yaml, want) in [
            ("maxRequestBodyBytes: 10", 10),
            ("maxRequestBodyBytes: -1", MAX_HELD_BODY),
        ] {
            let n = Node::from_yaml(&format!("retry:\n  attempts: 2\n  {yaml}\n"), "m").unwrap();
            let Middleware::Retry(r) = super::super::decode(&n).unwrap().unwrap() else {
                panic!()
            };
            assert_eq!(r.max_request_body_bytes, want);
        }
        for bad in [
            "retry:\n  attempts: 2\n  maxRequestBodyBytes: big\n",
            "retry:\n  attempts: 0\n",
            "retry:\n  initialInterval: 1s\n",
            "retry:\n  attempts: 2\n  disableRetryOnNetworkError: true\n",
        ] {
            let n = Node::from_yaml(bad, "m").unwrap();
            assert!(super::super::decode(&n).is_err(), "{bad}");
        }
    }
}
