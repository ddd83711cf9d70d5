//! `clientAuthType: RequestClientCert` and `RequireAnyClientCert`: a client certificate is
//! asked for (optional, or required) but not verified against any CA, as Go does for these
//! types. The client still proves it holds the certificate's key (the handshake signature is
//! checked); what the certificate says is for the backend (`passTLSClientCert`) to judge.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use rustls_pki_types::{CertificateDer, UnixTime};

/// Accepts any client certificate whose key signs the handshake.
#[derive(Debug)]
pub struct AnyClientCert {
    /// The handshake signature checks (what any verifier does, whatever it trusts).
    signatures: crate::client_tls::AnyCertificate,
    mandatory: bool,
    /// The CAs named to the client as acceptable (from `caFiles`, when given).
    hints: Vec<DistinguishedName>,
}

impl AnyClientCert {
    /// Asks for a certificate; `mandatory`: a client without one is refused.
    pub fn new(
        provider: Arc<CryptoProvider>,
        mandatory: bool,
        hints: Vec<DistinguishedName>,
    ) -> AnyClientCert {
        AnyClientCert {
            signatures: crate::client_tls::AnyCertificate::with(provider),
            mandatory,
            hints,
        }
    }
}

impl ClientCertVerifier for AnyClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
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
