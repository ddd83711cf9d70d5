//! ACME (`ROUTER_ACME_*`): not available in this build yet; configuring it is refused at
//! start rather than silently serving self-signed certificates.

use std::sync::Arc;

use crate::config::AcmeConfig;
use crate::server::Shared;
use crate::tls::CertResolver;

/// Starts the ACME resolver.
pub async fn start(
    _shared: Arc<Shared>,
    _config: AcmeConfig,
    _resolver: Arc<CertResolver>,
) -> Result<(), String> {
    Err("ROUTER_ACME_EMAIL: ACME is not supported by this build yet; use ROUTER_CERTS_DIR".into())
}
