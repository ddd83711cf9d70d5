//! The controller channel's mutual TLS: the controller presents its certificate and accepts
//! only data planes whose certificate the same CA signed; a data plane checks the controller's
//! certificate against that CA and presents its own. The files are PEM; every error names the
//! variable and the file.

use std::path::Path;
use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::ControllerTls;

fn named(var: &str, path: &Path, e: &dyn std::fmt::Display) -> String {
    format!("{var}={}: {e}", path.display())
}

fn chain(files: &ControllerTls) -> Result<Vec<CertificateDer<'static>>, String> {
    let var = "ROUTER_CONTROLLER_TLS_CERT";
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .map_err(|e| named(var, &files.cert, &e))?;
    if chain.is_empty() {
        return Err(named(var, &files.cert, &"no certificate in the file"));
    }
    Ok(chain)
}

fn key(files: &ControllerTls) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| named("ROUTER_CONTROLLER_TLS_KEY", &files.key, &e))
}

fn roots(files: &ControllerTls) -> Result<RootCertStore, String> {
    let var = "ROUTER_CONTROLLER_TLS_CA";
    let cas: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.ca)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .map_err(|e| named(var, &files.ca, &e))?;
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(cas);
    if added == 0 {
        return Err(named(
            var,
            &files.ca,
            &"no usable CA certificate in the file",
        ));
    }
    Ok(roots)
}

/// The controller's side: its certificate, and data planes' certificates required.
pub fn server(files: &ControllerTls) -> Result<Arc<ServerConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots(files)?), provider.clone())
            .build()
            .map_err(|e| named("ROUTER_CONTROLLER_TLS_CA", &files.ca, &e))?;
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain(files)?, key(files)?)
        .map_err(|e| named("ROUTER_CONTROLLER_TLS_KEY", &files.key, &e))?;
    Ok(Arc::new(config))
}

/// A data plane's side: the controller checked against the CA, its own certificate shown.
pub fn client(files: &ControllerTls) -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots(files)?)
        .with_client_auth_cert(chain(files)?, key(files)?)
        .map_err(|e| named("ROUTER_CONTROLLER_TLS_KEY", &files.key, &e))?;
    Ok(Arc::new(config))
}
