//! `buffering`: limits on request and response bodies. Traefik reads a whole body before
//! forwarding it; the router streams request bodies, so it checks a declared length before
//! anything is sent, and counts a chunked body as it passes, cutting it at the limit. An
//! answer is checked before its head is sent: a declared length over the limit, or a body
//! without one read (and held) up to the limit, answers 500 as Traefik does. With
//! `retryExpression`, a request whose answer (or failure) satisfies it is sent again.

use super::retry_expression::RetryExpression;
use super::{fields, Middleware};
use crate::tree::{DecodeError, Node};

/// Decodes `buffering`: `maxRequestBodyBytes` and `maxResponseBodyBytes` (0: no limit;
/// `disableResponseBuffer` streams answers, so their limit goes, as in Traefik); the memory
/// thresholds are accepted; `retryExpression` (not with `disableResponseBuffer`: oxy retries
/// only what it buffered).
pub fn decode(kind: &Node) -> Result<Middleware, DecodeError> {
    let mut f = fields(
        kind,
        &[
            "maxRequestBodyBytes",
            "maxResponseBodyBytes",
            "memRequestBodyBytes",
            "memResponseBodyBytes",
            "disableRequestBuffer",
            "disableResponseBuffer",
            "retryExpression",
        ],
    )?;
    // Accepted without effect, but oxy refuses a negative one ("mem bytes should be >= 0"),
    // and with it Traefik's middleware.
    for k in ["memRequestBodyBytes", "memResponseBodyBytes"] {
        if let Some(n) = f.take(k) {
            let v = n.integer()?;
            if v < 0 {
                return Err(DecodeError::at(n, format!("expected a size >= 0, got {v}")));
            }
        }
    }
    if let Some(n) = f.take("disableRequestBuffer") {
        n.boolean()?;
    }
    let stream_answers = f
        .take("disableResponseBuffer")
        .map(Node::boolean)
        .transpose()?
        .unwrap_or(false);
    let limit = |n: Option<&Node>| -> Result<Option<u64>, DecodeError> {
        match n {
            None => Ok(None),
            Some(n) => match n.integer()? {
                v if v < 0 => Err(DecodeError::at(n, format!("expected a size >= 0, got {v}"))),
                0 => Ok(None),
                v => Ok(Some(v as u64)),
            },
        }
    };
    let max = limit(f.take("maxRequestBodyBytes"))?;
    let max_response = limit(f.take("maxResponseBodyBytes"))?.filter(|_| !stream_answers);
    let retry_expression = match f.take("retryExpression") {
        Some(n) if !n.text()?.trim().is_empty() => {
            Some(RetryExpression::parse(n.text()?.trim()).map_err(|e| DecodeError::at(n, e))?)
        }
        _ => None,
    };
    Ok(Middleware::Buffering {
        max_request_body_bytes: max,
        max_response_body_bytes: max_response,
        retry_expression: retry_expression.filter(|_| !stream_answers),
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
                max_request_body_bytes: Some(2_000_000),
                max_response_body_bytes: None,
                retry_expression: None,
            }
        );
        let n = Node::from_yaml(
            "buffering:\n  maxResponseBodyBytes: 10\n  maxRequestBodyBytes: 0\n",
            "m",
        )
        .unwrap();
        assert_eq!(
            super::super::decode(&n).unwrap().unwrap(),
            Middleware::Buffering {
                max_request_body_bytes: None,
                max_response_body_bytes: Some(10),
                retry_expression: None,
            }
        );
        let n = Node::from_yaml(
            "buffering:\n  maxResponseBodyBytes: 10\n  disableResponseBuffer: true\n",
            "m",
        )
        .unwrap();
        assert_eq!(
            super::super::decode(&n).unwrap().unwrap(),
            Middleware::Buffering {
                max_request_body_bytes: None,
                max_response_body_bytes: None,
                retry_expression: None,
            }
        );
        let n = Node::from_yaml(
            "buffering:\n  retryExpression: IsNetworkError() && Attempts() < 2\n",
            "m",
        )
        .unwrap();
        let Some(Middleware::Buffering {
            retry_expression: Some(e),
            ..
        }) = super::super::decode(&n).unwrap()
        else {
            panic!()
        };
        assert_eq!(e.text(), "IsNetworkError() && Attempts() < 2");
        // oxy retries only what it buffered: not with disableResponseBuffer.
        let n = Node::from_yaml(
            "buffering:\n  retryExpression: IsNetworkError()\n  disableResponseBuffer: true\n",
            "m",
        )
        .unwrap();
        assert!(matches!(
            super::super::decode(&n).unwrap(),
            Some(Middleware::Buffering {
                retry_expression: None,
                ..
            })
        ));
        for bad in [
            "buffering:\n  maxResponseBodyBytes: -1\n",
            "buffering:\n  retryExpression: IsNetworkError() && 2\n",
            "buffering:\n  maxRequestBodyBytes: -1\n",
            "buffering:\n  memRequestBodyBytes: -1\n",
            "buffering:\n  memResponseBodyBytes: -1\n",
        ] {
            let n = Node::from_yaml(bad, "m").unwrap();
            assert!(super::super::decode(&n).is_err(), "{bad}");
        }
    }
}
