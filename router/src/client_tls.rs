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
    // As Traefik's CreateTLSConfig: a key without its certificate is an error, not ignored.
    if tls.cert.is_empty() != tls.key.is_empty() {
        return Err("tls.cert and tls.key go together".into());
    }
    let cas: Vec<&str> = [tls.ca.as_str()]
        .into_iter()
        .filter(|c| !c.is_empty())
        .collect();
    let cert = (!tls.cert.is_empty()).then_some((tls.cert.as_str(), tls.key.as_str()));
    build(
        &cas,
        cert,
        tls.insecure_skip_verify,
        "tls.",
        &Limits::default(),
    )
}

/// The versions and TLS 1.2 suites a client configuration may use (default: all the router
/// has).
#[derive(Debug, Default, Clone, Copy)]
pub struct Limits<'a> {
    pub min_tls13: bool,
    pub max_tls12: bool,
    pub suites: Option<&'a [String]>,
    /// `peerCertSANs`: names the server's certificate must have (empty: the usual check).
    pub peer_sans: &'a [crate::dynamic::transport::PeerSan],
}

/// A client configuration: `cas` verify the server (none: Mozilla's roots), `cert` is a
/// client certificate and its key, `insecure` accepts any server certificate. Each is a file
/// path or PEM text; `what` prefixes the option names in errors (`tls.`, `rootCAs`).
pub fn build(
    cas: &[&str],
    cert: Option<(&str, &str)>,
    insecure: bool,
    what: &str,
    limits: &Limits<'_>,
) -> Result<rustls::ClientConfig, String> {
    let mut p = rustls::crypto::ring::default_provider();
    crate::tls_config::restrict(&mut p, limits.min_tls13, limits.max_tls12, limits.suites);
    if p.cipher_suites.is_empty() {
        return Err(format!(
            "{what}cipherSuites, minVersion and maxVersion leave no cipher suite"
        ));
    }
    let p = Arc::new(p);
    let builder = rustls::ClientConfig::builder_with_provider(p.clone())
        .with_protocol_versions(&crate::tls_config::versions(
            limits.min_tls13,
            limits.max_tls12,
        ))
        .map_err(|e| format!("TLS settings: {e}"))?;
    let builder = if !limits.peer_sans.is_empty() {
        let check = crate::peer_sans::PeerSans::new(
            roots(cas, what)?,
            insecure,
            limits.peer_sans.to_vec(),
            p,
        )?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(check))
    } else if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate::new()))
    } else {
        builder.with_root_certificates(roots(cas, what)?)
    };
    let Some((cert, key)) = cert else {
        return Ok(builder.with_no_client_auth());
    };
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(&pem(&format!("{what}cert"), cert)?)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{what}cert: {e}"))?;
    let key = PrivateKeyDer::from_pem_slice(&pem(&format!("{what}key"), key)?)
        .map_err(|e| format!("{what}key: {e}"))?;
    builder
        .with_client_auth_cert(certs, key)
        .map_err(|e| format!("{what}cert and {what}key: {e}"))
}

/// The CAs of `cas` (files or PEM), or Mozilla's roots when there are none.
fn roots(cas: &[&str], what: &str) -> Result<rustls::RootCertStore, String> {
    let mut roots = rustls::RootCertStore::empty();
    if cas.is_empty() {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    for ca in cas {
        let name = format!("{what}ca {ca:?}");
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem(&name, ca)?)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{name}: {e}"))?;
        if certs.is_empty() {
            return Err(format!("{name}: no PEM certificate"));
        }
        for c in certs {
            roots
                .add(c)
                .map_err(|e| format!("{name}: not a usable CA certificate: {e}"))?;
        }
    }
    Ok(roots)
}

/// `insecureSkipVerify`: any certificate is accepted; the handshake's signatures are still
/// checked (the peer holds the key of the certificate it showed).
#[derive(Debug)]
pub struct AnyCertificate(Arc<CryptoProvider>);

impl AnyCertificate {
    /// With the router's crypto provider's signature algorithms.
    pub fn new() -> AnyCertificate {
        AnyCertificate(provider())
    }

    /// With `provider`'s signature algorithms.
    pub fn with(provider: Arc<CryptoProvider>) -> AnyCertificate {
        AnyCertificate(provider)
    }
}

impl Default for AnyCertificate {
    fn default() -> Self {
        AnyCertificate::new()
    }
}

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
