//! `ipAllowList` (v2's `ipWhiteList`): only clients in the listed ranges pass.

use ipnet::IpNet;

use super::{Flow, Request};
use crate::proxy::ProxyError;

/// 403 unless the client's address is in one of `ranges`.
pub fn apply(ranges: &[IpNet], r: &mut Request<'_, '_>) -> Result<Flow, ProxyError> {
    let client = r.inbound.client_ip();
    if ranges.iter().any(|n| n.contains(&client)) {
        Ok(Flow::Next)
    } else {
        Err(ProxyError::Forbidden)
    }
}
