//! rustls server configurations from TLS options ([`crate::dynamic::TlsOptions`]): one per
//! distinct set, built when a handshake first needs it and kept (so session resumption
//! survives table swaps), all sharing the certificate resolver.
//!
//! The base is the router's own: ring's AEAD suites (narrowed by `ROUTER_TLS_CIPHERS`), TLS
//! 1.2 and 1.3. Options narrow it further: versions, the TLS 1.2 suites (TLS 1.3 suites are
//! not configurable, as in Go), key exchange groups, ALPN, client certificates verified
//! against `caFiles`, strict SNI, session tickets.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use crate::dynamic::tls::{ClientAuth, Curve};
use crate::dynamic::TlsOptions;
use crate::tls::{CertResolver, LocalIpResolver, StrictResolver};

/// Distinct option sets kept at most; past it the cache starts over.
const MAX_CACHED: usize = 64;

/// Builds and keeps the server configurations.
#[derive(Debug)]
pub struct TlsServer {
    provider: Arc<CryptoProvider>,
    resolver: Arc<CertResolver>,
    cache: Mutex<HashMap<TlsOptions, Arc<ServerConfig>>>,
    /// The configurations for connections without SNI, by options and local address.
    no_sni: Mutex<HashMap<(TlsOptions, IpAddr), Arc<ServerConfig>>>,
}

/// Reads the certificates of `caFiles` (each a path or PEM text).
pub fn load_cas(files: &[String]) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for f in files {
        let pem = if f.contains("-----BEGIN") {
            f.as_bytes().to_vec()
        } else {
            std::fs::read(f).map_err(|e| format!("{f}: {e}"))?
        };
        let mut found = 0;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| format!("{}: {e}", short(f)))?;
            roots.add(cert).map_err(|e| format!("{}: {e}", short(f)))?;
            found += 1;
        }
        if found == 0 {
            return Err(format!("{}: no certificate in it", short(f)));
        }
    }
    Ok(roots)
}

fn short(f: &str) -> &str {
    if f.contains("-----BEGIN") {
        "inline PEM"
    } else {
        f
    }
}

impl TlsServer {
    /// A builder over the router's crypto provider and certificate resolver.
    pub fn new(provider: Arc<CryptoProvider>, resolver: Arc<CertResolver>) -> TlsServer {
        TlsServer {
            provider,
            resolver,
            cache: Mutex::default(),
            no_sni: Mutex::default(),
        }
    }

    /// The resolver.
    pub fn resolver(&self) -> &Arc<CertResolver> {
        &self.resolver
    }

    /// The configuration for `options`, built on first use.
    pub fn config(&self, options: &TlsOptions) -> Result<Arc<ServerConfig>, String> {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = cache.get(options) {
            return Ok(c.clone());
        }
        let built = Arc::new(self.build(options)?);
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(options.clone(), built.clone());
        Ok(built)
    }

    /// The configuration for `options` of a connection to local address `local` whose client
    /// sent no SNI: the certificate is looked up by that address, as Traefik does (see
    /// [`LocalIpResolver`]). It shares the configuration's session storage and tickets.
    pub fn config_without_sni(
        &self,
        options: &TlsOptions,
        local: IpAddr,
    ) -> Result<Arc<ServerConfig>, String> {
        let base = self.config(options)?;
        let local = local.to_canonical();
        let mut cache = self.no_sni.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (options.clone(), local);
        if let Some(c) = cache.get(&key) {
            return Ok(c.clone());
        }
        let mut c = (*base).clone();
        c.cert_resolver = Arc::new(LocalIpResolver {
            inner: self.resolver.clone(),
            ip: local.to_string(),
            strict: options.sni_strict,
        });
        let c = Arc::new(c);
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(key, c.clone());
        Ok(c)
    }

    fn build(&self, o: &TlsOptions) -> Result<ServerConfig, String> {
        let mut p = (*self.provider).clone();
        restrict(&mut p, o.min_tls13, o.max_tls12, o.cipher_suites.as_deref());
        if p.cipher_suites.is_empty() {
            return Err("no cipher suite is left (ROUTER_TLS_CIPHERS and the options' cipherSuites and versions exclude every one)".into());
        }
        if let Some(curves) = &o.curves {
            p.kx_groups = curves
                .iter()
                .map(|c| match c {
                    Curve::X25519 => rustls::crypto::ring::kx_group::X25519,
                    Curve::P256 => rustls::crypto::ring::kx_group::SECP256R1,
                    Curve::P384 => rustls::crypto::ring::kx_group::SECP384R1,
                })
                .collect();
        }
        let builder = ServerConfig::builder_with_provider(Arc::new(p))
            .with_protocol_versions(&versions(o.min_tls13, o.max_tls12))
            .map_err(|e| format!("TLS settings: {e}"))?;
        let builder = match o.client_auth {
            ClientAuth::None => builder.with_no_client_auth(),
            kind @ (ClientAuth::Request | ClientAuth::RequireAny) => {
                let hints = if o.ca_files.is_empty() {
                    Vec::new()
                } else {
                    load_cas(&o.ca_files)?.subjects()
                };
                builder.with_client_cert_verifier(Arc::new(
                    crate::any_client_cert::AnyClientCert::new(
                        self.provider.clone(),
                        kind == ClientAuth::RequireAny,
                        hints,
                    ),
                ))
            }
            kind => {
                let roots = Arc::new(load_cas(&o.ca_files)?);
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(roots, self.provider.clone());
                let verifier = match kind {
                    ClientAuth::VerifyIfGiven => verifier.allow_unauthenticated(),
                    _ => verifier,
                };
                let verifier = verifier
                    .build()
                    .map_err(|e| format!("client certificate verification: {e}"))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut cfg = if o.sni_strict {
            builder.with_cert_resolver(Arc::new(StrictResolver(self.resolver.clone())))
        } else {
            builder.with_cert_resolver(self.resolver.clone())
        };
        cfg.alpn_protocols = o
            .alpn_protocols
            .iter()
            .map(|a| a.as_bytes().to_vec())
            .collect();
        if o.disable_session_tickets {
            // No resumption at all, as Go's server with `SessionTicketsDisabled` (it keeps no
            // session IDs either): no TLS 1.3 tickets, and no cache for TLS 1.2 session IDs.
            cfg.send_tls13_tickets = 0;
            cfg.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        }
        Ok(cfg)
    }
}

/// Keeps `p`'s cipher suites of the versions allowed (`min_tls13`: only 1.3; `max_tls12`:
/// only 1.2) and, for TLS 1.2, of `suites` (rustls names) when given: what TLS options and
/// servers transports narrow alike.
pub fn restrict(
    p: &mut CryptoProvider,
    min_tls13: bool,
    max_tls12: bool,
    suites: Option<&[String]>,
) {
    p.cipher_suites.retain(|s| match s {
        rustls::SupportedCipherSuite::Tls13(_) => !max_tls12,
        rustls::SupportedCipherSuite::Tls12(_) => {
            !min_tls13
                && suites.is_none_or(|names| {
                    s.suite()
                        .as_str()
                        .is_some_and(|n| names.iter().any(|w| w == n))
                })
        }
    });
}

/// The protocol versions allowed.
pub fn versions(
    min_tls13: bool,
    max_tls12: bool,
) -> Vec<&'static rustls::SupportedProtocolVersion> {
    match (min_tls13, max_tls12) {
        (true, _) => vec![&rustls::version::TLS13],
        (false, true) => vec![&rustls::version::TLS12],
        (false, false) => vec![&rustls::version::TLS13, &rustls::version::TLS12],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> TlsServer {
        let p = crate::tls::provider(None).unwrap();
        TlsServer::new(p.clone(), CertResolver::new(p))
    }

    #[test]
    fn options_narrow_versions_suites_and_groups() {
        let s = server();
        let default = s.config(&TlsOptions::default()).unwrap();
        assert_eq!(default.alpn_protocols.len(), 3);
        assert!(Arc::ptr_eq(
            &default,
            &s.config(&TlsOptions::default()).unwrap()
        ));
        let strict = TlsOptions {
            min_tls13: true,
            curves: Some(vec![Curve::X25519]),
            disable_session_tickets: true,
            ..TlsOptions::default()
        };
        let c = s.config(&strict).unwrap();
        assert!(c
            .crypto_provider()
            .cipher_suites
            .iter()
            .all(|s| matches!(s, rustls::SupportedCipherSuite::Tls13(_))));
        assert_eq!(c.crypto_provider().kx_groups.len(), 1);
        assert_eq!(c.send_tls13_tickets, 0);
        // Nor TLS 1.2 session IDs (Go's server keeps none).
        assert!(!c.session_storage.can_cache());
        let tls12 = TlsOptions {
            max_tls12: true,
            cipher_suites: Some(vec!["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".into()]),
            ..TlsOptions::default()
        };
        let c = s.config(&tls12).unwrap();
        assert_eq!(c.crypto_provider().cipher_suites.len(), 1);
    }

    #[test]
    fn client_certificates_need_readable_cas() {
        let s = server();
        let missing = TlsOptions {
            client_auth: ClientAuth::Require,
            ca_files: vec!["/nonexistent/ca.pem".into()],
            ..TlsOptions::default()
        };
        assert!(s
            .config(&missing)
            .unwrap_err()
            .contains("/nonexistent/ca.pem"));
        let ca = rcgen::generate_simple_self_signed(vec!["ca.test".to_string()]).unwrap();
        let inline = TlsOptions {
            client_auth: ClientAuth::VerifyIfGiven,
            ca_files: vec![ca.cert.pem()],
            ..TlsOptions::default()
        };
        assert!(s.config(&inline).is_ok());
        assert!(load_cas(&["not pem".into()]).is_err());
    }
}
