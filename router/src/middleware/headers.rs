//! `headers`: request headers set before forwarding, answer headers (and HSTS) set on the
//! way back.

use super::{Flow, Request};
use crate::proxy::{set_header, ProxyError};

/// Sets `request` now and leaves `response` and `sts` for the answer.
pub fn apply(
    request: &[(String, String)],
    response: &[(String, String)],
    sts: Option<&String>,
    r: &mut Request<'_, '_>,
) -> Result<Flow, ProxyError> {
    for (k, v) in request {
        set_header(r.headers, k, v);
    }
    r.fx.response_headers.extend(response.iter().cloned());
    if let Some(s) = sts {
        r.fx.sts = Some(s.clone());
    }
    Ok(Flow::Next)
}
