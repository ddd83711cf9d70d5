//! TLS termination: rustls with one crypto provider (ring), TLS 1.2 minimum, AEAD suites only,
//! ALPN `h2` and `http/1.1`, and certificates picked by SNI.
//!
//! Certificates come from, in order: `ROUTER_CERTS_DIR` (exact name, then wildcard), the ACME
//! store, and last a self-signed certificate made for the requested name (a development
//! default, logged as a warning). The directory is polled; a changed file is reloaded without
//! touching open connections, and a file that no longer parses keeps its last good
//! certificate. Lookups read an `ArcSwap` snapshot: no lock on the handshake path.
//!
//! A handshake that offers ALPN `acme-tls/1` is an ACME TLS-ALPN-01 validation (RFC 8737): it
//! gets the pending challenge certificate for its name, or no certificate at all (the
//! handshake fails), never a regular one.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// The ALPN protocol of ACME TLS-ALPN-01 validation (RFC 8737, section 6.2).
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// How often the certificate directory is checked for changes.
pub const RELOAD_INTERVAL: Duration = Duration::from_secs(2);

/// A certificate with the names it serves and when it expires.
#[derive(Debug, Clone)]
pub struct LoadedCert {
    /// The key and chain.
    pub key: Arc<CertifiedKey>,
    /// DNS names from the subject alternative names (lowercase; wildcards as `*.example.com`).
    pub names: Vec<String>,
    /// Expiry.
    pub not_after: SystemTime,
}

/// A provider's default store (`tls.stores.default`): its certificate and the name of its
/// generated one.
#[derive(Debug, Clone, Default)]
pub struct DefaultStore {
    pub certificate: Option<Arc<CertifiedKey>>,
    pub generated: Option<String>,
}

/// What one provider published ([`CertResolver::publish`]).
#[derive(Debug)]
struct Published {
    certs: Vec<LoadedCert>,
    store: Option<DefaultStore>,
}

/// Certificates by name: exact names and `*.domain` wildcards.
#[derive(Debug, Default, Clone)]
pub struct CertMap {
    by_name: HashMap<String, Ranked>,
    /// Traefik's order between an exact and a wildcard certificate; else the exact one.
    traefik_order: bool,
    /// Each certificate's names and expiry, for the dashboard.
    listing: Vec<(Vec<String>, SystemTime)>,
}

/// A certificate the router holds, as the dashboard shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSummary {
    /// Where it comes from: `files` (`ROUTER_CERTS_DIR`), `file` (the file provider's
    /// `tls.certificates`), `acme` or `default` (the default store's).
    pub store: &'static str,
    /// The names it serves.
    pub names: Vec<String>,
    /// When it expires.
    pub not_after: SystemTime,
}

/// A certificate as candidate for a name, with what orders it among the others.
#[derive(Debug, Clone)]
struct Ranked {
    key: Arc<CertifiedKey>,
    /// Its names, sorted and joined with `,`: Traefik's key for it in its store.
    id: String,
    not_after: SystemTime,
}

impl Ranked {
    /// Whether `self` is tried before `other`. Traefik tries a store's certificates in
    /// reverse order of their keys (the sorted names joined with `,`), so that among those
    /// naming the server name, the one for `app.example.test` alone comes before the one for
    /// `*.app.example.test,app.example.test` (certificate_store.go, GetBestCertificate). Of
    /// two with the same names, the one expiring last (Traefik keeps the first loaded; here,
    /// a renewed certificate beside the old one wins).
    fn before(&self, other: &Ranked) -> bool {
        (&self.id, self.not_after) > (&other.id, other.not_after)
    }
}

impl CertMap {
    /// Builds the map from certificates; for a name served by several, the one Traefik would
    /// try first (see [`Ranked::before`]).
    pub fn from_certs<'a>(certs: impl IntoIterator<Item = &'a LoadedCert>) -> CertMap {
        CertMap::build(certs, true)
    }

    /// Builds the map of `ROUTER_CERTS_DIR`'s certificates (no Traefik counterpart): for a
    /// name served by several, the one expiring last (a renewed certificate beside an old
    /// one, whatever other names either has).
    pub fn newest_first<'a>(certs: impl IntoIterator<Item = &'a LoadedCert>) -> CertMap {
        CertMap::build(certs, false)
    }

    fn build<'a>(certs: impl IntoIterator<Item = &'a LoadedCert>, traefik: bool) -> CertMap {
        let mut by_name: HashMap<String, Ranked> = HashMap::new();
        let mut listed = Vec::new();
        for c in certs {
            listed.push((c.names.clone(), c.not_after));
            let mut sorted = c.names.clone();
            sorted.sort();
            let ranked = Ranked {
                key: c.key.clone(),
                // Without Traefik's order, all alike: the expiry decides.
                id: if traefik {
                    sorted.join(",")
                } else {
                    String::new()
                },
                not_after: c.not_after,
            };
            for n in &c.names {
                // Traefik compares a wildcard name without its trailing dots (matchDomain).
                let trimmed = n.trim_end_matches('.');
                let wild = (trimmed != n && trimmed.starts_with('*')).then_some(trimmed);
                for name in std::iter::once(n.as_str()).chain(wild) {
                    match by_name.get(name) {
                        Some(r) if !ranked.before(r) => {}
                        _ => {
                            by_name.insert(name.to_owned(), ranked.clone());
                        }
                    }
                }
            }
        }
        CertMap {
            by_name,
            traefik_order: traefik,
            listing: listed,
        }
    }

    /// The certificate for the exact name or the wildcard one label up: whichever Traefik
    /// would try first, or (`ROUTER_CERTS_DIR`'s) the exact one.
    pub fn find(&self, name: &str) -> Option<Arc<CertifiedKey>> {
        self.ranked(name).map(|r| r.key.clone())
    }

    /// The certificate for `name` (lower case): one naming it, or naming it with its first
    /// label replaced by `*` (`*.example.com` for `a.example.com`, `*` for `localhost`), as
    /// Traefik's matchDomain.
    fn ranked(&self, name: &str) -> Option<&Ranked> {
        let wildcard = match name.split_once('.') {
            Some((_, parent)) => format!("*.{parent}"),
            None => "*".to_owned(),
        };
        let exact = self.by_name.get(name);
        let wild = self.by_name.get(&wildcard);
        match (exact, wild) {
            (Some(e), Some(w)) if self.traefik_order && w.before(e) => Some(w),
            (Some(e), _) => Some(e),
            (None, w) => w,
        }
    }

    /// Every name a certificate in the map was issued for (as written: `*.example.com`).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.listing
            .iter()
            .flat_map(|(n, _)| n.iter().map(String::as_str))
    }

    /// Number of names.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

/// The SNI resolver shared by every handshake.
#[derive(Debug)]
pub struct CertResolver {
    files: ArcSwap<CertMap>,
    /// The certificates of every provider that publishes some (file, KV stores, a
    /// controller's inputs), in one map as Traefik puts them in one store.
    dynamic: ArcSwap<CertMap>,
    /// What each provider published: its certificates and its default store, if it defines
    /// one; [`CertResolver::dynamic`] and the default are made from all of them.
    published: Mutex<BTreeMap<String, Published>>,
    acme: ArcSwap<CertMap>,
    /// Each ACME account's certificates (by its place in the configuration), which
    /// [`CertResolver::acme`] is made from when there are several.
    acme_accounts: Mutex<BTreeMap<usize, Vec<LoadedCert>>>,
    /// The default store's certificate (`defaultCertificate`).
    default: ArcSwap<Option<Arc<CertifiedKey>>>,
    /// The name whose certificate is the default one (`defaultGeneratedCert`).
    default_name: ArcSwap<Option<String>>,
    alpn_challenges: Mutex<HashMap<String, Arc<CertifiedKey>>>,
    self_signed: Mutex<HashMap<String, Arc<CertifiedKey>>>,
    provider: Arc<CryptoProvider>,
}

impl CertResolver {
    /// An empty resolver.
    pub fn new(provider: Arc<CryptoProvider>) -> Arc<CertResolver> {
        Arc::new(CertResolver {
            files: ArcSwap::from_pointee(CertMap::default()),
            dynamic: ArcSwap::from_pointee(CertMap::default()),
            published: Mutex::default(),
            acme: ArcSwap::from_pointee(CertMap::default()),
            acme_accounts: Mutex::default(),
            default: ArcSwap::from_pointee(None),
            default_name: ArcSwap::from_pointee(None),
            alpn_challenges: Mutex::default(),
            self_signed: Mutex::default(),
            provider,
        })
    }

    /// Swaps in the certificates from files.
    pub fn set_files(&self, map: CertMap) {
        self.files.store(Arc::new(map));
    }

    /// Swaps in the certificates of the file provider (`tls.certificates`).
    pub fn set_dynamic(&self, map: CertMap) {
        self.dynamic.store(Arc::new(map));
    }

    /// What `provider` publishes now: its `tls.certificates`, and its default store
    /// (`None`: it defines none). As Traefik's aggregator, every provider's certificates go in
    /// one map, and the default store is the one provider's that defines it: defined by
    /// several, there is none (Traefik logs an error and deletes it).
    pub fn publish(&self, provider: &str, certs: Vec<LoadedCert>, store: Option<DefaultStore>) {
        let mut all = self
            .published
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        all.insert(provider.to_owned(), Published { certs, store });
        self.dynamic.store(Arc::new(CertMap::from_certs(
            all.values().flat_map(|p| p.certs.iter()),
        )));
        let stores: Vec<(&String, &DefaultStore)> = all
            .iter()
            .filter_map(|(name, p)| p.store.as_ref().map(|s| (name, s)))
            .collect();
        let (key, generated) = match stores.as_slice() {
            [(_, one)] => (one.certificate.clone(), one.generated.clone()),
            [] => (None, None),
            several => {
                let names: Vec<&String> = several.iter().map(|(n, _)| *n).collect();
                tracing::error!(providers = ?names, "the default TLS store is defined by several providers: none is used, as in Traefik");
                (None, None)
            }
        };
        self.set_default(key, generated);
    }

    /// Sets the default store's certificate and the name of its generated one: what a name
    /// without a certificate of its own gets, instead of a self-signed one.
    pub fn set_default(&self, key: Option<Arc<CertifiedKey>>, generated: Option<String>) {
        self.default.store(Arc::new(key));
        self.default_name.store(Arc::new(generated));
    }

    /// The default certificate, if the default store has one.
    fn default_cert(&self) -> Option<Arc<CertifiedKey>> {
        if let Some(k) = self.default.load().as_ref() {
            return Some(k.clone());
        }
        let name = self.default_name.load();
        name.as_deref().and_then(|n| self.configured(n))
    }

    /// Swaps in the ACME certificates.
    pub fn set_acme(&self, map: CertMap) {
        self.acme.store(Arc::new(map));
    }

    /// Swaps in ACME account `account`'s certificates, beside the other accounts' (one map
    /// of them all, as Traefik serves every resolver's certificates from its store).
    pub fn set_acme_account(&self, account: usize, certs: Vec<LoadedCert>) {
        let mut all = self
            .acme_accounts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        all.insert(account, certs);
        self.set_acme(CertMap::from_certs(all.values().flatten()));
    }

    /// Sets (or with `None` removes) the TLS-ALPN-01 challenge certificate for `name`.
    pub fn set_alpn_challenge(&self, name: &str, key: Option<Arc<CertifiedKey>>) {
        let mut map = self
            .alpn_challenges
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match key {
            Some(k) => map.insert(name.to_ascii_lowercase(), k),
            None => map.remove(&name.to_ascii_lowercase()),
        };
    }

    /// Replaces every TLS-ALPN-01 challenge certificate (a data plane serving its
    /// controller's orders).
    pub fn replace_alpn_challenges(&self, keys: HashMap<String, Arc<CertifiedKey>>) {
        *self
            .alpn_challenges
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = keys
            .into_iter()
            .map(|(n, k)| (n.to_ascii_lowercase(), k))
            .collect();
    }

    /// Every certificate held, by store (the self-signed fallbacks made on demand excepted).
    pub fn summary(&self) -> Vec<CertSummary> {
        let mut out = Vec::new();
        for (store, map) in [
            ("files", self.files.load()),
            ("file", self.dynamic.load()),
            ("acme", self.acme.load()),
        ] {
            out.extend(map.listing.iter().map(|(names, not_after)| CertSummary {
                store,
                names: names.clone(),
                not_after: *not_after,
            }));
        }
        if let Some(key) = self.default.load().as_ref() {
            if let Some(Ok((names, not_after))) = key.cert.first().map(names_and_expiry) {
                out.push(CertSummary {
                    store: "default",
                    names,
                    not_after,
                });
            }
        }
        out
    }

    /// The crypto provider, for loading keys.
    pub fn provider(&self) -> &Arc<CryptoProvider> {
        &self.provider
    }

    /// Whether a certificate from `ROUTER_CERTS_DIR` or the file provider was issued for a
    /// name for which `matches` holds.
    pub fn configured_name(&self, mut matches: impl FnMut(&str) -> bool) -> bool {
        self.files.load().names().any(&mut matches) || self.dynamic.load().names().any(matches)
    }

    /// The certificate for a name from `ROUTER_CERTS_DIR`, the file provider or ACME, without
    /// the self-signed fallback.
    ///
    /// The file provider's and ACME's certificates are one store in Traefik (its default
    /// store), so between them the one Traefik would try first wins.
    pub fn configured(&self, name: &str) -> Option<Arc<CertifiedKey>> {
        if let Some(k) = self.files.load().find(name) {
            return Some(k);
        }
        let (dynamic, acme) = (self.dynamic.load(), self.acme.load());
        match (dynamic.ranked(name), acme.ranked(name)) {
            (Some(d), Some(a)) if a.before(d) => Some(a.key.clone()),
            (Some(d), _) => Some(d.key.clone()),
            (None, a) => a.map(|a| a.key.clone()),
        }
    }

    fn self_signed_for(&self, name: &str) -> Option<Arc<CertifiedKey>> {
        let mut cache = self
            .self_signed
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(k) = cache.get(name) {
            return Some(k.clone());
        }
        if cache.len() >= 1024 {
            // Bounded: a scan with random names must not grow memory forever.
            cache.clear();
        }
        match self_signed(name, &self.provider) {
            Ok(k) => {
                tracing::warn!(name, "no certificate for this name: serving a self-signed one (set ROUTER_CERTS_DIR or ACME)");
                cache.insert(name.to_owned(), k.clone());
                Some(k)
            }
            Err(e) => {
                tracing::error!(name, error = %e, "cannot make a self-signed certificate");
                None
            }
        }
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let name = hello
            .server_name()
            .unwrap_or("localhost")
            .to_ascii_lowercase();
        if is_alpn_challenge(&hello) {
            return self.alpn_challenge(&name);
        }
        self.configured(&name)
            .or_else(|| self.default_cert())
            .or_else(|| self.self_signed_for(&name))
    }
}

fn is_alpn_challenge(hello: &ClientHello<'_>) -> bool {
    hello
        .alpn()
        .is_some_and(|mut protocols| protocols.any(|p| p == ACME_TLS_ALPN))
}

impl CertResolver {
    fn alpn_challenge(&self, name: &str) -> Option<Arc<CertifiedKey>> {
        self.alpn_challenges
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
    }
}

/// The resolver of options with `sniStrict`: a certificate only for an SNI name one matches
/// (no default, no self-signed one, nothing without SNI), as Traefik's strict SNI.
#[derive(Debug)]
pub struct StrictResolver(pub Arc<CertResolver>);

impl ResolvesServerCert for StrictResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let name = hello.server_name()?.to_ascii_lowercase();
        if is_alpn_challenge(&hello) {
            return self.0.alpn_challenge(&name);
        }
        self.0.configured(&name)
    }
}

/// The subject common name of Traefik's generated default certificate (generate.DefaultDomain).
pub const DEFAULT_CERT_CN: &str = "TRAEFIK DEFAULT CERT";

/// The resolver of connections without SNI: as Traefik's GetBestCertificate, the name looked
/// up is the connection's local IP address (a certificate naming `10.0.0.1` is served to a
/// client that connected to 10.0.0.1 without SNI); then, unless `strict`, the default store's
/// certificate, then the self-signed one for `localhost`.
#[derive(Debug)]
pub struct LocalIpResolver {
    /// The resolver of every handshake.
    pub inner: Arc<CertResolver>,
    /// The local IP address, as Go writes it (IPv4-mapped IPv6 as IPv4).
    pub ip: String,
    /// `sniStrict`: nothing unless a certificate names the address.
    pub strict: bool,
}

impl ResolvesServerCert for LocalIpResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        if hello.server_name().is_some() {
            // Not a connection without SNI after all: as any other.
            return if self.strict {
                StrictResolver(self.inner.clone()).resolve(hello)
            } else {
                self.inner.resolve(hello)
            };
        }
        if is_alpn_challenge(&hello) {
            return self.inner.alpn_challenge(&self.ip);
        }
        let found = self.inner.configured(&self.ip);
        if found.is_some() || self.strict {
            return found;
        }
        self.inner
            .default_cert()
            .or_else(|| self.inner.self_signed_for("localhost"))
    }
}

/// Makes a self-signed certificate for one name. Its subject is Traefik's default
/// certificate's, `CN=TRAEFIK DEFAULT CERT`, which scripts and monitors look for to tell that
/// a name has no certificate of its own.
pub fn self_signed(name: &str, provider: &CryptoProvider) -> Result<Arc<CertifiedKey>, String> {
    let mut params =
        rcgen::CertificateParams::new(vec![name.to_owned()]).map_err(|e| e.to_string())?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, DEFAULT_CERT_CN);
    let signing_key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    let cert = params
        .self_signed(&signing_key)
        .map_err(|e| e.to_string())?;
    let der = CertificateDer::from(cert.der().to_vec());
    let key = PrivateKeyDer::try_from(signing_key.serialize_der()).map_err(|e| e.to_string())?;
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| e.to_string())?;
    Ok(Arc::new(CertifiedKey::new(vec![der], signing)))
}

/// A PEM certificate chain and key as a [`CertifiedKey`], unchecked: for a TLS-ALPN-01
/// certificate, whose critical acmeIdentifier extension webpki's parser (behind
/// [`CertifiedKey::keys_match`]) refuses, and which names one host only.
pub fn certified_key(
    cert_pem: &[u8],
    key_pem: &[u8],
    provider: &CryptoProvider,
) -> Result<Arc<CertifiedKey>, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("certificate: {e}"))?;
    if chain.is_empty() {
        return Err("certificate: none in the text".into());
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| format!("key: {e}"))?;
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| format!("key: {e}"))?;
    Ok(Arc::new(CertifiedKey::new(chain, signing)))
}

/// Parses a PEM certificate chain and key into a [`LoadedCert`].
pub fn load_pem(
    cert_pem: &[u8],
    key_pem: &[u8],
    provider: &CryptoProvider,
) -> Result<LoadedCert, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("certificate: {e}"))?;
    let leaf = chain
        .first()
        .ok_or("certificate: no certificate in the file")?;
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| format!("key: {e}"))?;
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| format!("key: {e}"))?;
    let (names, not_after) = names_and_expiry(leaf)?;
    let key = CertifiedKey::new(chain, signing);
    key.keys_match()
        .map_err(|e| format!("the key does not match the certificate: {e}"))?;
    Ok(LoadedCert {
        key: Arc::new(key),
        names,
        not_after,
    })
}

/// The names a certificate serves, lower case, and its expiry. As Traefik's
/// parseCertificate: the subject's common name (even beside DNS names), the DNS names, and the
/// IP addresses (as Go writes them: `10.0.0.1`, `::1`), looked up for clients without SNI.
pub fn names_and_expiry(der: &CertificateDer<'_>) -> Result<(Vec<String>, SystemTime), String> {
    use x509_parser::prelude::*;
    let (_, cert) =
        X509Certificate::from_der(der.as_ref()).map_err(|e| format!("certificate: {e}"))?;
    let mut names: Vec<String> = Vec::new();
    let mut add = |n: String| {
        if !n.is_empty() && !names.contains(&n) {
            names.push(n);
        }
    };
    if let Some(cn) = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|c| c.as_str().ok())
    {
        add(cn.to_ascii_lowercase());
    }
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                GeneralName::DNSName(d) => add(d.to_ascii_lowercase()),
                GeneralName::IPAddress(ip) => {
                    if let Some(ip) = ip_of(ip) {
                        add(ip.to_string());
                    }
                }
                _ => {}
            }
        }
    }
    let secs = cert.validity().not_after.timestamp().max(0) as u64;
    Ok((names, SystemTime::UNIX_EPOCH + Duration::from_secs(secs)))
}

/// An IP address SAN's octets as an address; an IPv4-mapped IPv6 one as IPv4, as Go prints it.
fn ip_of(octets: &[u8]) -> Option<std::net::IpAddr> {
    let ip = match octets.len() {
        4 => std::net::IpAddr::from(<[u8; 4]>::try_from(octets).ok()?),
        16 => std::net::IpAddr::from(<[u8; 16]>::try_from(octets).ok()?),
        _ => return None,
    };
    Some(ip.to_canonical())
}

/// The rustls provider: ring, with the AEAD suites it offers, optionally narrowed to `names`.
pub fn provider(cipher_names: Option<&[String]>) -> Result<Arc<CryptoProvider>, String> {
    let mut p = rustls::crypto::ring::default_provider();
    if let Some(names) = cipher_names {
        let mut suites = Vec::new();
        for n in names {
            let found = p
                .cipher_suites
                .iter()
                .find(|s| {
                    s.suite()
                        .as_str()
                        .is_some_and(|sn| sn.eq_ignore_ascii_case(n))
                })
                .ok_or_else(|| {
                    let known: Vec<&str> = p
                        .cipher_suites
                        .iter()
                        .filter_map(|s| s.suite().as_str())
                        .collect();
                    format!("unknown cipher suite {n:?} (known: {})", known.join(", "))
                })?;
            suites.push(*found);
        }
        p.cipher_suites = suites;
    }
    Ok(Arc::new(p))
}

/// Loads every `<name>.crt` (or `.pem`) with its `<name>.key` in `dir`. A pair that fails to
/// load keeps its entry from `previous` (the last good certificate) and is reported.
pub fn load_dir(
    dir: &Path,
    provider: &CryptoProvider,
    previous: &HashMap<PathBuf, LoadedCert>,
) -> (HashMap<PathBuf, LoadedCert>, Vec<String>) {
    let mut out = HashMap::new();
    let mut errors = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            errors.push(format!("{}: {e}", dir.display()));
            return (previous.clone(), errors);
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if ext != "crt" && ext != "pem" {
            continue;
        }
        let key_path = path.with_extension("key");
        let loaded = std::fs::read(&path)
            .map_err(|e| format!("{}: {e}", path.display()))
            .and_then(|c| {
                std::fs::read(&key_path)
                    .map(|k| (c, k))
                    .map_err(|e| format!("{}: {e}", key_path.display()))
            })
            .and_then(|(c, k)| {
                load_pem(&c, &k, provider).map_err(|e| format!("{}: {e}", path.display()))
            });
        match loaded {
            Ok(cert) => {
                out.insert(path, cert);
            }
            Err(e) => {
                errors.push(e);
                if let Some(old) = previous.get(&path) {
                    out.insert(path, old.clone());
                }
            }
        }
    }
    (out, errors)
}

/// A cheap fingerprint of a directory's files (name, size, mtime) to notice changes.
pub fn dir_fingerprint(dir: &Path) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| {
                    let m = e.metadata().ok()?;
                    Some((e.path(), m.len(), m.modified().ok()))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Watches `ROUTER_CERTS_DIR` and swaps certificates in as files change.
pub async fn watch_dir(dir: PathBuf, resolver: Arc<CertResolver>) {
    let mut current: HashMap<PathBuf, LoadedCert> = HashMap::new();
    let mut seen = None;
    loop {
        let fp = dir_fingerprint(&dir);
        if seen.as_ref() != Some(&fp) {
            let (loaded, errors) = load_dir(&dir, &resolver.provider, &current);
            for e in &errors {
                tracing::error!(error = %e, "certificate not loaded (keeping the last good one, if any)");
            }
            current = loaded;
            let map = CertMap::newest_first(current.values());
            tracing::info!(dir = %dir.display(), files = current.len(), names = map.len(), "certificates loaded");
            resolver.set_files(map);
            seen = Some(fp);
        }
        tokio::time::sleep(RELOAD_INTERVAL).await;
    }
}

#[cfg(test)]
#[path = "tls_traefik_tables.rs"]
mod traefik_tables;

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(names: &[&str]) -> (String, String) {
        let c = rcgen::generate_simple_self_signed(
            names.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
        .unwrap();
        (c.cert.pem(), c.signing_key.serialize_pem())
    }

    #[test]
    fn loads_names_and_picks_exact_then_wildcard() {
        let p = provider(None).unwrap();
        let (c1, k1) = pair(&["a.test"]);
        let (c2, k2) = pair(&["*.wild.test"]);
        let a = load_pem(c1.as_bytes(), k1.as_bytes(), &p).unwrap();
        let w = load_pem(c2.as_bytes(), k2.as_bytes(), &p).unwrap();
        // The subject's common name counts, as in Traefik (rcgen's default subject).
        assert_eq!(a.names, ["rcgen self signed cert", "a.test"]);
        let map = CertMap::from_certs([&a, &w]);
        assert!(Arc::ptr_eq(&map.find("a.test").unwrap(), &a.key));
        assert!(Arc::ptr_eq(&map.find("x.wild.test").unwrap(), &w.key));
        assert!(map.find("x.y.wild.test").is_none());
        assert!(map.find("b.test").is_none());
    }

    #[test]
    fn mismatched_or_broken_files_are_errors() {
        let p = provider(None).unwrap();
        let (c1, _) = pair(&["a.test"]);
        let (_, k2) = pair(&["b.test"]);
        assert!(load_pem(c1.as_bytes(), k2.as_bytes(), &p)
            .unwrap_err()
            .contains("does not match"));
        assert!(load_pem(b"garbage", k2.as_bytes(), &p).is_err());
    }

    #[test]
    fn a_broken_file_keeps_the_last_good_certificate() {
        let p = provider(None).unwrap();
        let dir = std::env::temp_dir().join(format!("router-tls-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (c, k) = pair(&["a.test"]);
        std::fs::write(dir.join("a.crt"), &c).unwrap();
        std::fs::write(dir.join("a.key"), &k).unwrap();
        let (first, errors) = load_dir(&dir, &p, &HashMap::new());
        assert!(errors.is_empty(), "{errors:?}");
        std::fs::write(dir.join("a.crt"), "broken").unwrap();
        let (second, errors) = load_dir(&dir, &p, &first);
        assert_eq!(errors.len(), 1);
        assert!(Arc::ptr_eq(
            &second[&dir.join("a.crt")].key,
            &first[&dir.join("a.crt")].key
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn cipher_names_narrow_the_suites() {
        let p = provider(Some(&["TLS13_AES_256_GCM_SHA384".to_string()])).unwrap();
        assert_eq!(p.cipher_suites.len(), 1);
        assert!(provider(Some(&["TLS_RSA_WITH_RC4_128_SHA".to_string()])).is_err());
    }
}
