//! The mutual-TLS listeners (`tls://` in `GUARD_LISTEN`): a client must present a certificate
//! signed by `GUARD_TLS_CA`, as the daemon's own `--tlsverify` asks, so a router on another
//! node reaches the guard over an authenticated channel where the overlay is not encrypted.
//! The certificate's names identify the client to the policies file (`MATCH_CERT`).

use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::config::TlsFiles;

/// The acceptor for `files`; an error names the variable and the file.
pub fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, String> {
    let named = |var: &str, path: &std::path::Path, e: &dyn std::fmt::Display| {
        format!("{var}={}: {e}", path.display())
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .map_err(|e| named("GUARD_TLS_CERT", &files.cert, &e))?;
    if chain.is_empty() {
        return Err(named(
            "GUARD_TLS_CERT",
            &files.cert,
            &"no certificate in the file",
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| named("GUARD_TLS_KEY", &files.key, &e))?;
    let mut roots = RootCertStore::empty();
    let cas: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.ca)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .map_err(|e| named("GUARD_TLS_CA", &files.ca, &e))?;
    let (added, _) = roots.add_parsable_certificates(cas);
    if added == 0 {
        return Err(named(
            "GUARD_TLS_CA",
            &files.ca,
            &"no usable CA certificate in the file",
        ));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| named("GUARD_TLS_CA", &files.ca, &e))?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| named("GUARD_TLS_KEY", &files.key, &e))?;
    // The guard speaks HTTP/1.1 only; a Go client offering h2 settles on it.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The DNS names and the common name of the client's verified certificate.
pub fn client_names(conn: &ServerConnection) -> Vec<String> {
    use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
    let Some(leaf) = conn.peer_certificates().and_then(|c| c.first()) else {
        return Vec::new();
    };
    let Ok((_, cert)) = X509Certificate::from_der(leaf.as_ref()) else {
        return Vec::new();
    };
    let mut names: Vec<String> = cert
        .subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok().map(str::to_owned))
        .collect();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            if let GeneralName::DNSName(d) = n {
                names.push((*d).to_owned());
            }
        }
    }
    names
}
