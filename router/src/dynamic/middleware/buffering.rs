//! `buffering`: a limit on request bodies. Traefik reads a whole body before forwarding it;
//! the router streams bodies, so it checks a declared length before anything is sent, and
//! counts a chunked body as it passes, cutting it at the limit.

use super::{fields, Middleware};
use crate::tree::{DecodeError, Node};

/// Decodes `buffering`: `maxRequestBodyBytes` (0: no limit); the memory thresholds are
/// accepted (nothing is held in memory); the response limit and `retryExpression` are not
/// supported.
pub fn decode(kind: &Node) -> Result<Middleware, DecodeError> {
    let mut f = fields(
        kind,
        &[
            "maxRequestBodyBytes",
            "memRequestBodyBytes",
            "memResponseBodyBytes",
            "disableRequestBuffer",
            "disableResponseBuffer",
        ],
    )?;
    for k in ["memRequestBodyBytes", "memResponseBodyBytes"] {
        if let Some(n) = f.take(k) {
            n.integer()?;
        }
    }
    for k in ["disableRequestBuffer", "disableResponseBuffer"] {
        if let Some(n) = f.take(k) {
            n.boolean()?;
        }
    }
    let max = match f.take("maxRequestBodyBytes") {
        None => None,
        Some(n) => match n.integer()? {
            v if v < 0 => return Err(DecodeError::at(n, format!("expected a size >= 0, got {v}"))),
            0 => None,
            v => Some(v as u64),
        },
    };
    Ok(Middleware::Buffering {
        max_request_body_bytes: max,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_limit_is_read_and_what_cannot_hold_is_refused() {
        let n = Node::from_yaml(
            "buffering:\n  maxRequestBodyBytes: 2000000\n  memRequestBodyBytes: 1000\n",
            "m",
        )
        .unwrap();
        assert_eq!(
            super::super::decode(&n).unwrap().unwrap(),
            Middleware::Buffering {
                max_request_body_bytes: Some(2_000_000)
            }
        );
        for bad in [
            "buffering:\n  maxResponseBodyBytes: 10\n",
            "buffering:\n  retryExpression: IsNetworkError() && Attempts() < 2\n",
            "buffering:\n  maxRequestBodyBytes: -1\n",
        ] {
            let n = Node::from_yaml(bad, "m").unwrap();
            assert!(super::super::decode(&n).is_err(), "{bad}");
        }
    }
}
