//! TLS as a client of servers the configuration names (a `forwardAuth` server, later HTTPS
//! backends): Traefik's `ClientTLS` — CA, client certificate and key, each a file path or PEM
//! text, and `insecureSkipVerify`.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use crate::dynamic::ClientTls;

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// PEM text as given, or the file it names.
fn pem(what: &str, value: &str) -> Result<Vec<u8>, String> {
    if value.trim_start().starts_with("-----BEGIN") {
        Ok(value.as_bytes().to_vec())
    } else {
        std::fs::read(value).map_err(|e| format!("{what} {value:?}: {e}"))
    }
}

/// The client configuration for `tls` (none: Mozilla's roots, no client certificate).
pub fn config(tls: Option<&ClientTls>) -> Result<rustls::ClientConfig, String> {
    let default = ClientTls::default();
    let tls = tls.unwrap_or(&default);
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS settings: {e}"))?;
    let builder = if tls.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider())))
    } else {
        let mut roots = rustls::RootCertStore::empty();
        if tls.ca.is_empty() {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        } else {
            let certs: Vec<CertificateDer<'static>> =
                CertificateDer::pem_slice_iter(&pem("tls.ca", &tls.ca)?)
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("tls.ca: {e}"))?;
            if certs.is_empty() {
                return Err("tls.ca: no PEM certificate".into());
            }
            for c in certs {
                roots
                    .add(c)
                    .map_err(|e| format!("tls.ca: not a usable CA certificate: {e}"))?;
            }
        }
        builder.with_root_certificates(roots)
    };
    if tls.cert.is_empty() {
        return Ok(builder.with_no_client_auth());
    }
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(&pem("tls.cert", &tls.cert)?)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("tls.cert: {e}"))?;
    let key = PrivateKeyDer::from_pem_slice(&pem("tls.key", &tls.key)?)
        .map_err(|e| format!("tls.key: {e}"))?;
    builder
        .with_client_auth_cert(certs, key)
        .map_err(|e| format!("tls.cert and tls.key: {e}"))
}

/// `insecureSkipVerify`: any certificate is accepted; the handshake's signatures are still
/// checked (the peer holds the key of the certificate it showed).
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
