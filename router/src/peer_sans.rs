//! A servers transport's `peerCertSANs`, as Traefik checks them: the server's chain must
//! verify against the transport's CAs (Mozilla's roots without any) whatever name was asked
//! for, and its certificate must name one of the listed DNS names (wildcards as usual) or URIs
//! (compared without case). Without `insecureSkipVerify` the usual check (the server name
//! included) comes first.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_cert_signed_by_trust_anchor, verify_server_name};
use rustls::crypto::CryptoProvider;
use rustls::server::ParsedCertificate;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use crate::dynamic::transport::PeerSan;

/// Verifies the chain and one of the listed names.
#[derive(Debug)]
pub struct PeerSans {
    roots: Arc<RootCertStore>,
    /// The usual verification, unless `insecureSkipVerify`.
    usual: Option<Arc<dyn ServerCertVerifier>>,
    sans: Vec<PeerSan>,
    provider: Arc<CryptoProvider>,
    signatures: crate::client_tls::AnyCertificate,
}

impl PeerSans {
    /// The checker; `insecure` leaves out the usual verification (not the chain's).
    pub fn new(
        roots: RootCertStore,
        insecure: bool,
        sans: Vec<PeerSan>,
        provider: Arc<CryptoProvider>,
    ) -> Result<PeerSans, String> {
        let roots = Arc::new(roots);
        let usual: Option<Arc<dyn ServerCertVerifier>> = if insecure {
            None
        } else {
            Some(
                rustls::client::WebPkiServerVerifier::builder_with_provider(
                    roots.clone(),
                    provider.clone(),
                )
                .build()
                .map_err(|e| format!("server certificate verification: {e}"))?,
            )
        };
        Ok(PeerSans {
            roots,
            usual,
            sans,
            signatures: crate::client_tls::AnyCertificate::with(provider.clone()),
            provider,
        })
    }

    fn names_one(&self, cert: &ParsedCertificate<'_>, der: &CertificateDer<'_>) -> bool {
        let uris = || -> Vec<String> {
            use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
            let Ok((_, c)) = X509Certificate::from_der(der.as_ref()) else {
                return Vec::new();
            };
            let Ok(Some(ext)) = c.subject_alternative_name() else {
                return Vec::new();
            };
            ext.value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    GeneralName::URI(u) => Some((*u).to_owned()),
                    _ => None,
                })
                .collect()
        };
        self.sans.iter().any(|san| {
            if san.uri {
                uris().iter().any(|u| u.eq_ignore_ascii_case(&san.value))
            } else {
                ServerName::try_from(san.value.as_str())
                    .is_ok_and(|n| verify_server_name(cert, &n).is_ok())
            }
        })
    }
}

impl ServerCertVerifier for PeerSans {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(usual) = &self.usual {
            usual.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)?;
        }
        let cert = ParsedCertificate::try_from(end_entity)?;
        verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.roots,
            intermediates,
            now,
            self.provider.signature_verification_algorithms.all,
        )?;
        if self.names_one(&cert, end_entity) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "no matching SAN in peer certificate".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.signatures.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.signatures.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.signatures.supported_verify_schemes()
    }
}
