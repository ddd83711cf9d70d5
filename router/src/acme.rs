//! ACME (`ROUTER_ACME_*`): certificates from Let's Encrypt (or any RFC 8555 CA) for the hosts
//! of routes that name a cert resolver (`traefik.http.routers.<r>.tls.certresolver=<any>`), as
//! Traefik does. Without it every such host would get a self-signed certificate.
//!
//! [`start`] loads the storage file (account and certificates as PEM, kept 0600) and puts its
//! certificates in service before the first handshake, so a restart orders nothing. A task then
//! looks at the table in service every [`POLL`] (cheap: a set of names) and orders a
//! certificate for each wanted host that has none or whose expiry is within
//! `ROUTER_ACME_RENEW_BEFORE`. Challenges: HTTP-01 on the web entry point (the proxy answers
//! `/.well-known/acme-challenge/` from [`Shared::acme_challenges`]) and TLS-ALPN-01 on websecure
//! (see [`crate::tls::ACME_TLS_ALPN`]); a failed attempt is retried with the other one, so a
//! closed port 80 does not stop issuance; a resolver with `dnsChallenge` uses DNS-01 instead
//! (and so may order wildcard names: [`crate::acme_dns`]). Failures back off per host from 5 s
//! to 1 h. Each new
//! certificate has a fresh ECDSA P-256 key, is written to storage (temporary file, rename)
//! and swapped into the resolver without touching open connections.
//!
//! The ACME client trusts the Mozilla roots (webpki-roots: a scratch image has no CA bundle)
//! plus `ROUTER_ACME_CA_FILE`, for a test CA such as pebble's.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, BodyWrapper, ChallengeType, Identifier,
    NewAccount, NewOrder, Order, OrderStatus, RetryPolicy,
};
use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::acme_store::{Storage, StoredAccount, StoredCert};
use crate::config::AcmeConfig;
use crate::model::table::RouteTable;
use crate::server::Shared;
use crate::tls::{CertResolver, LoadedCert};

/// How often the wanted hosts and expiries are checked.
pub const POLL: Duration = Duration::from_secs(2);
/// The first retry delay after a failed order; it doubles up to [`MAX_BACKOFF`].
pub const MIN_BACKOFF: Duration = Duration::from_secs(5);
/// The longest retry delay, also the pause before renewing a certificate that was due as soon
/// as it was issued (`ROUTER_ACME_RENEW_BEFORE` longer than the CA's certificate lifetime).
pub const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// How long a controller waits for its data planes to have a challenge's answer.
const HANDED_OVER: Duration = Duration::from_secs(5);
/// An order that has not finished by then is abandoned (and retried).
const ORDER_TIMEOUT: Duration = Duration::from_secs(300);

type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, BodyWrapper<Bytes>>;

/// Loads the storage, serves its certificates and starts the ordering task. Fails, naming the
/// variable, when the storage cannot be read, parsed or written, or the CA file is unusable.
/// The task runs until the returned handle is aborted (or the process ends).
pub async fn start(
    shared: Arc<Shared>,
    config: AcmeConfig,
    resolver: Arc<CertResolver>,
    account: usize,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let http = http_client(config.ca_file.as_deref(), &config.ca_key)?;
    let path = &config.storage;
    let var = format!("{}={}", config.storage_key, path.display());
    let store = match read_storage(path, &config.names) {
        Ok(Some(s)) => {
            tighten_permissions(path);
            s
        }
        Ok(None) => {
            let s = Storage::parse(b"", &config.names)?;
            write_storage(path, &s).map_err(|e| format!("{var}: {e}"))?;
            s
        }
        Err(e) => return Err(format!("{var}: {e}")),
    };
    if let Some(a) = &store.account {
        let _: AccountCredentials = serde_json::from_value(a.credentials.clone())
            .map_err(|e| format!("{var}: the stored account is not valid: {e}"))?;
    }
    let mut certs = BTreeMap::new();
    for (host, c) in &store.certificates {
        let loaded = crate::tls::load_pem(c.cert.as_bytes(), c.key.as_bytes(), resolver.provider())
            .map_err(|e| format!("{var}: the stored certificate for {host}: {e}"))?;
        certs.insert(host.clone(), loaded);
    }
    resolver.set_acme_account(account, certs.values().cloned().collect());
    tracing::info!(storage = %path.display(), directory = %config.directory, certificates = certs.len(), "ACME resolver started");
    let manager = Manager {
        shared,
        account_index: account,
        config,
        resolver,
        http,
        store,
        certs,
        account: None,
        retries: HashMap::new(),
        warned: BTreeSet::new(),
    };
    Ok(tokio::spawn(manager.run()))
}

// === impl Manager ===

struct Manager {
    shared: Arc<Shared>,
    /// This account's place among the configuration's (see [`CertResolver::set_acme_account`]).
    account_index: usize,
    config: AcmeConfig,
    resolver: Arc<CertResolver>,
    http: HttpClient,
    store: Storage,
    certs: BTreeMap<String, LoadedCert>,
    account: Option<Account>,
    retries: HashMap<String, Backoff>,
    /// Wildcard names already warned about (no DNS-01).
    warned: BTreeSet<String>,
}

/// When a host may be tried again, and how many attempts failed in a row.
#[derive(Debug, Clone, Copy)]
struct Backoff {
    failures: u32,
    next: Instant,
}

impl Manager {
    async fn run(mut self) {
        self.share_certificates();
        loop {
            // First wait: lets the entry points start before a validator comes.
            tokio::time::sleep(POLL).await;
            let wildcards = self.config.dns.is_some();
            let table = self.shared.live.load();
            let wanted = wanted_orders(&table.table, &self.config.names, wildcards);
            if !wildcards {
                for w in wildcard_names(&table.table, &self.config.names) {
                    if self.warned.insert(w.clone()) {
                        tracing::warn!(name = w, "a wildcard certificate needs the DNS-01 challenge (certificatesResolvers.<r>.acme.dnsChallenge): none is ordered for it");
                    }
                }
            }
            drop(table);
            for group in wanted {
                // As Traefik: only the names no certificate in service covers are ordered.
                let names: Vec<String> = group.into_iter().filter(|h| self.due(h)).collect();
                if names.first().is_some_and(|main| !self.backing_off(main)) {
                    self.order(names).await;
                }
            }
        }
    }

    /// Whether the last order for main name `host` failed and its wait is not over.
    fn backing_off(&self, host: &str) -> bool {
        self.retries
            .get(host)
            .is_some_and(|b| Instant::now() < b.next)
    }

    /// Whether `host` needs a certificate: none in service covers it, or the one that does is
    /// due for renewal.
    fn due(&self, host: &str) -> bool {
        // A certificate ordered for another main name may cover this one (a Traefik
        // certificate with SANs).
        let own = self.certs.get(host).or_else(|| {
            self.certs
                .values()
                .find(|c| c.names.iter().any(|n| n == host))
        });
        if let Some(c) = own {
            return renewal_due(c.not_after, self.config.renew_before);
        }
        // As Traefik (getUncheckedDomains): a certificate of the file provider (or
        // ROUTER_CERTS_DIR) naming it, or a wildcard one, covers it, and so does an ACME
        // wildcard certificate (renewed as its own order).
        if self.resolver.configured_name(|n| match_domain(host, n)) {
            return false;
        }
        self.certs
            .values()
            .find(|c| c.names.iter().any(|n| match_domain(host, n)))
            .is_none_or(|c| renewal_due(c.not_after, self.config.renew_before))
    }

    /// Orders one certificate for `names` (the first its main name, the rest its SANs).
    async fn order(&mut self, names: Vec<String>) {
        let host = names[0].clone();
        let failures = self.retries.get(&host).map_or(0, |b| b.failures);
        // The web entry point answers HTTP-01 tokens whatever the redirect setting; a
        // dnsChallenge resolver always uses DNS-01.
        let kind = match self.config.dns {
            Some(_) => ChallengeType::Dns01,
            None => challenge_for(failures, true),
        };
        let renewal = self.certs.contains_key(&host);
        tracing::info!(
            host,
            sans = ?&names[1..],
            attempt = failures + 1,
            challenge = challenge_name(&kind),
            renewal,
            "ordering an ACME certificate"
        );
        // DNS-01 solves one name at a time and may wait for each: its time counts too.
        let budget = match &self.config.dns {
            Some(d) => {
                let per_name = d.sequence + d.delay + d.timeout + Duration::from_secs(120);
                ORDER_TIMEOUT + per_name * u32::try_from(names.len()).unwrap_or(u32::MAX)
            }
            None => ORDER_TIMEOUT,
        };
        let mut presented = Vec::new();
        let issued = tokio::time::timeout(budget, self.issue(&names, kind, &mut presented)).await;
        // Records left in place (the order failed or ran out of time) go in every case.
        if let Some(dns) = &self.config.dns {
            for r in &presented {
                if let Err(e) = dns.cleanup(r).await {
                    tracing::warn!(record = r.fqdn(), error = e, "DNS-01 cleanup failed");
                }
            }
        }
        let result = match issued {
            Ok(r) => r,
            Err(_) => Err(format!("no certificate within {budget:?}")),
        };
        match result {
            Ok(cert) => {
                let expires_unix = unix_secs(cert.not_after);
                if renewal_due(cert.not_after, self.config.renew_before) {
                    tracing::warn!(host, expires_unix, "the new certificate is already due for renewal (ROUTER_ACME_RENEW_BEFORE is longer than its lifetime): renewing it again in an hour");
                    self.retries.insert(
                        host.clone(),
                        Backoff {
                            failures: 0,
                            next: Instant::now() + MAX_BACKOFF,
                        },
                    );
                } else {
                    self.retries.remove(&host);
                }
                tracing::info!(host, expires_unix, "ACME certificate issued and in service");
                self.certs.insert(host, cert);
                self.resolver
                    .set_acme_account(self.account_index, self.certs.values().cloned().collect());
            }
            Err(error) => {
                let delay = backoff(failures);
                tracing::warn!(host, attempt = failures + 1, error, retry_in = ?delay, "ACME order failed");
                self.retries.insert(
                    host,
                    Backoff {
                        failures: failures.saturating_add(1),
                        next: Instant::now() + delay,
                    },
                );
            }
        }
    }

    /// One order for `names`: account, a challenge per name, finalize with a fresh key,
    /// store under the main name.
    /// (DNS-01 records still in place at the end are left in `presented` for the caller.)
    async fn issue(
        &mut self,
        names: &[String],
        kind: ChallengeType,
        presented: &mut Vec<crate::acme_dns::Record>,
    ) -> Result<LoadedCert, String> {
        let account = self.account().await?;
        let host = names[0].as_str();
        let ids: Vec<Identifier> = names.iter().map(|n| Identifier::Dns(n.clone())).collect();
        let mut order = match account.new_order(&NewOrder::new(&ids)).await {
            Ok(o) => o,
            Err(e) => {
                if e.to_string().contains("accountDoesNotExist") {
                    // The CA forgot the account (a test CA restarted): make a new one next time.
                    self.account = None;
                    self.store.account = None;
                }
                return Err(format!("new order: {e}"));
            }
        };
        let mut pending = Pending {
            shared: self.shared.clone(),
            resolver: self.resolver.clone(),
            tokens: Vec::new(),
            names: Vec::new(),
        };
        if let Some(dns) = &self.config.dns {
            crate::acme_dns::solve(&mut order, dns, presented).await?;
        }
        let mut authorizations = order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let mut authz = authz.map_err(|e| format!("authorization: {e}"))?;
            match authz.status {
                AuthorizationStatus::Pending => {}
                AuthorizationStatus::Valid => continue,
                other => return Err(format!("the authorization is {other:?}")),
            }
            let name = authz.identifier().to_string();
            let mut challenge = authz
                .challenge(kind.clone())
                .ok_or_else(|| format!("the CA offers no {} challenge", challenge_name(&kind)))?;
            let key_auth = challenge.key_authorization();
            if kind == ChallengeType::TlsAlpn01 {
                let (key, pem) =
                    alpn_certificate(&name, key_auth.digest().as_ref(), self.resolver.provider())?;
                self.resolver.set_alpn_challenge(&name, Some(key));
                if let Some(hub) = &self.shared.hub {
                    hub.set_acme(|a| {
                        a.alpn.insert(name.clone(), pem);
                    });
                }
                pending.names.push(name);
            } else {
                pending.add_token(challenge.token.clone(), key_auth.as_str().to_owned());
            }
            // A controller's data planes answer the CA too: they must have the answer first.
            if let Some(hub) = &self.shared.hub {
                if !hub.wait_applied(hub.generation(), HANDED_OVER).await {
                    tracing::warn!(host, "not every data plane applied the challenge within 5s; asking the CA to validate anyway");
                }
            }
            challenge
                .set_ready()
                .await
                .map_err(|e| format!("challenge: {e}"))?;
        }
        let retry = RetryPolicy::new()
            .initial_delay(Duration::from_millis(500))
            .timeout(Duration::from_secs(120));
        let status = order
            .poll_ready(&retry)
            .await
            .map_err(|e| format!("waiting for validation: {e}"))?;
        if status != OrderStatus::Ready {
            return Err(format!(
                "the order is {status:?}: {}",
                failure_reason(&mut order).await
            ));
        }
        drop(pending);
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|e| format!("key: {e}"))?;
        let mut params =
            rcgen::CertificateParams::new(names.to_vec()).map_err(|e| format!("CSR: {e}"))?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        let csr = params
            .serialize_request(&key)
            .map_err(|e| format!("CSR: {e}"))?;
        order
            .finalize_csr(csr.der())
            .await
            .map_err(|e| format!("finalize: {e}"))?;
        let chain = order
            .poll_certificate(&retry)
            .await
            .map_err(|e| format!("certificate: {e}"))?;
        let stored = StoredCert {
            cert: chain,
            key: key.serialize_pem(),
            sans: names[1..].to_vec(),
        };
        let loaded = crate::tls::load_pem(
            stored.cert.as_bytes(),
            stored.key.as_bytes(),
            self.resolver.provider(),
        )
        .map_err(|e| format!("the CA's certificate: {e}"))?;
        self.store.certificates.insert(host.to_owned(), stored);
        self.save();
        self.share_certificates();
        Ok(loaded)
    }

    /// A controller's certificates go to its data planes (cluster mode).
    fn share_certificates(&self) {
        if let Some(hub) = &self.shared.hub {
            let certs = self
                .store
                .certificates
                .iter()
                .map(|(h, c)| {
                    let pair = crate::cluster::wire::Pair {
                        cert: c.cert.clone(),
                        key: c.key.clone(),
                    };
                    (h.clone(), pair)
                })
                .collect();
            hub.set_acme(|a| a.certificates = certs);
        }
    }

    /// The account: cached, else restored from storage (same directory), else created.
    async fn account(&mut self) -> Result<Account, String> {
        if let Some(a) = &self.account {
            return Ok(a.clone());
        }
        let builder = Account::builder_with_http(Box::new(self.http.clone()));
        let directory = self.config.directory.clone();
        let account = match self
            .store
            .account
            .as_ref()
            .filter(|a| a.directory == directory)
        {
            Some(stored) => {
                let creds: AccountCredentials = serde_json::from_value(stored.credentials.clone())
                    .map_err(|e| format!("the stored account: {e}"))?;
                builder
                    .from_credentials(creds)
                    .await
                    .map_err(|e| format!("ACME directory {directory}: {e}"))?
            }
            None => {
                let contact = format!("mailto:{}", self.config.email);
                let contacts: &[&str] = if self.config.email.is_empty() {
                    &[]
                } else {
                    &[&contact]
                };
                let (account, creds) = builder
                    .create(
                        &NewAccount {
                            contact: contacts,
                            terms_of_service_agreed: true,
                            only_return_existing: false,
                        },
                        directory.clone(),
                        None,
                    )
                    .await
                    .map_err(|e| format!("creating an account at {directory}: {e}"))?;
                let credentials = serde_json::to_value(&creds)
                    .map_err(|e| format!("account credentials: {e}"))?;
                self.store.account = Some(StoredAccount {
                    directory,
                    credentials,
                });
                self.save();
                tracing::info!(account = account.id(), "ACME account registered");
                account
            }
        };
        self.account = Some(account.clone());
        Ok(account)
    }

    fn save(&self) {
        if let Err(e) = write_storage(&self.config.storage, &self.store) {
            tracing::error!(storage = %self.config.storage.display(), error = %e, "cannot write the ACME storage: certificates will be ordered again after a restart");
        }
    }
}

/// Challenge responses in service for one order, withdrawn when dropped (also on error or
/// timeout).
struct Pending {
    shared: Arc<Shared>,
    resolver: Arc<CertResolver>,
    tokens: Vec<String>,
    names: Vec<String>,
}

impl Pending {
    fn add_token(&mut self, token: String, key_authorization: String) {
        if let Some(hub) = &self.shared.hub {
            hub.set_acme(|a| {
                a.http01.insert(token.clone(), key_authorization.clone());
            });
        }
        self.shared
            .acme_challenges
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(token.clone(), key_authorization);
        self.tokens.push(token);
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        let mut map = self
            .shared
            .acme_challenges
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for t in &self.tokens {
            map.remove(t);
        }
        for n in &self.names {
            self.resolver.set_alpn_challenge(n, None);
        }
        if let Some(hub) = &self.shared.hub {
            hub.set_acme(|a| {
                for t in &self.tokens {
                    a.http01.remove(t);
                }
                for n in &self.names {
                    a.alpn.remove(n);
                }
            });
        }
    }
}

/// Why an order went invalid: the challenges' errors, as the CA put them.
async fn failure_reason(order: &mut Order) -> String {
    let mut reasons = Vec::new();
    if let Some(p) = &order.state().error {
        reasons.push(p.to_string());
    }
    let mut authorizations = order.authorizations();
    while let Some(Ok(mut authz)) = authorizations.next().await {
        if let Ok(state) = authz.refresh().await {
            for c in &state.challenges {
                if let Some(p) = &c.error {
                    reasons.push(format!("{}: {p}", challenge_name(&c.r#type)));
                }
            }
        }
    }
    if reasons.is_empty() {
        "the CA gave no reason".into()
    } else {
        reasons.join("; ")
    }
}

// === pure helpers ===

/// The certificates to have, each a list of names (the first its main name), as Traefik
/// orders them: one per `tls.domains` entry of routes (HTTP, and TCP routers that terminate
/// TLS) whose cert resolver is this one (`names`; any, when empty), else one per route for its
/// rule's literal hosts (`HostSNI` names for TCP), and one for
/// the default store's generated certificate; only names a public CA can validate (no
/// wildcards, IP addresses or single labels), lower case.
fn wanted_orders(table: &RouteTable, names: &[String], wildcards: bool) -> BTreeSet<Vec<String>> {
    wanted_groups(table, names)
        .map(|group| {
            let mut out: Vec<String> = Vec::new();
            for h in group.iter().map(|h| h.to_ascii_lowercase()) {
                let name = match (wildcards, h.strip_prefix("*.")) {
                    (true, Some(rest)) => acme_name(rest),
                    _ => acme_name(&h),
                };
                if name && !out.contains(&h) {
                    out.push(h);
                }
            }
            out
        })
        .filter(|g| !g.is_empty())
        .collect()
}

/// The wildcard names among the wanted ones (ordered only with DNS-01).
fn wildcard_names(table: &RouteTable, names: &[String]) -> BTreeSet<String> {
    wanted_groups(table, names)
        .flatten()
        .filter(|h| h.starts_with("*."))
        .map(|h| h.to_ascii_lowercase())
        .collect()
}

/// The groups of names routes and the default store want certificates for, as written.
fn wanted_groups<'t>(
    table: &'t RouteTable,
    names: &'t [String],
) -> impl Iterator<Item = Vec<String>> + 't {
    let ours = move |c: &String| names.is_empty() || names.iter().any(|n| n == c);
    let routed = table
        .routes
        .iter()
        .filter(move |r| r.certresolver.as_ref().is_some_and(ours))
        .flat_map(|r| {
            if r.domains.is_empty() {
                vec![r.rule.literal_hosts().unwrap_or_default()]
            } else {
                r.domains.clone()
            }
        });
    let tcp = table
        .tcp
        .entry_points
        .values()
        .flat_map(|e| e.tls.iter())
        .filter(move |r| r.certresolver.as_ref().is_some_and(ours))
        .flat_map(|r| r.cert_groups());
    let default = table
        .default_generated
        .iter()
        .filter(move |(resolver, _)| ours(resolver))
        .map(|(_, hosts)| hosts.clone());
    routed.chain(tcp).chain(default)
}

/// Whether a certificate for `cert` covers `domain`, as Traefik's `types.MatchDomain` says
/// when it decides what to order: the same name, or the name with its first labels, one or
/// more, each replaced by `*` (`*.example.com` and `*.*.com` cover `a.example.com`).
fn match_domain(domain: &str, cert: &str) -> bool {
    if domain == cert {
        return true;
    }
    // Label by label from the left: each `*` of the certificate's name stands for one of the
    // domain's labels, and what follows the stars is the rest of the domain (no allocation:
    // this runs for every uncovered name at every round).
    let (mut c, mut d) = (cert.trim_end_matches('.'), domain);
    loop {
        let Some(after) = c.strip_prefix('*') else {
            return false;
        };
        match d.split_once('.') {
            Some((_, d_rest)) => {
                let Some(c_rest) = after.strip_prefix('.') else {
                    return false;
                };
                if c_rest == d_rest {
                    return true;
                }
                (c, d) = (c_rest, d_rest);
            }
            None => return after.is_empty(),
        }
    }
}

fn acme_name(h: &str) -> bool {
    h.contains('.')
        && h.len() <= 253
        && h.parse::<std::net::IpAddr>().is_err()
        && h.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn renewal_due(not_after: SystemTime, renew_before: Duration) -> bool {
    SystemTime::now()
        .checked_add(renew_before)
        .is_none_or(|t| t >= not_after)
}

/// 5 s, 10 s, 20 s, ... up to 1 h.
fn backoff(failures: u32) -> Duration {
    MIN_BACKOFF
        .saturating_mul(2u32.saturating_pow(failures.min(20)))
        .min(MAX_BACKOFF)
}

/// HTTP-01 first, TLS-ALPN-01 after a failure, alternating, so a closed port 80 or 443 does not
/// stop issuance (every plain connection answers HTTP-01 challenges, every TLS one ALPN ones).
fn challenge_for(failures: u32, http01_served: bool) -> ChallengeType {
    if http01_served && failures % 2 == 0 {
        ChallengeType::Http01
    } else {
        ChallengeType::TlsAlpn01
    }
}

fn challenge_name(kind: &ChallengeType) -> &str {
    match kind {
        ChallengeType::Http01 => "http-01",
        ChallengeType::TlsAlpn01 => "tls-alpn-01",
        ChallengeType::Dns01 => "dns-01",
        ChallengeType::DeviceAttest01 => "device-attest-01",
        ChallengeType::Unknown(s) => s,
        _ => "unknown",
    }
}

/// The TLS-ALPN-01 certificate (RFC 8737, section 3): self-signed for `host`, with the
/// critical acmeIdentifier extension holding the key authorization's SHA-256 digest.
fn alpn_certificate(
    host: &str,
    digest: &[u8],
    provider: &CryptoProvider,
) -> Result<(Arc<CertifiedKey>, crate::cluster::wire::Pair), String> {
    let fail = |e: rcgen::Error| format!("TLS-ALPN-01 certificate: {e}");
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(fail)?;
    let mut params = rcgen::CertificateParams::new(vec![host.to_owned()]).map_err(fail)?;
    params.custom_extensions = vec![rcgen::CustomExtension::new_acme_identifier(digest)];
    let cert = params.self_signed(&key).map_err(fail)?;
    let der = PrivateKeyDer::try_from(key.serialize_der())
        .map_err(|e| format!("TLS-ALPN-01 key: {e}"))?;
    let signing = provider
        .key_provider
        .load_private_key(der)
        .map_err(|e| format!("TLS-ALPN-01 key: {e}"))?;
    let pem = crate::cluster::wire::Pair {
        cert: cert.pem(),
        key: key.serialize_pem(),
    };
    Ok((
        Arc::new(CertifiedKey::new(vec![cert.der().clone()], signing)),
        pem,
    ))
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

// === storage and HTTP client ===

/// `Ok(None)` when the file does not exist; an empty file is an empty storage.
fn read_storage(path: &Path, names: &[String]) -> Result<Option<Storage>, String> {
    match std::fs::read(path) {
        Ok(bytes) => Storage::parse(&bytes, names).map(Some).map_err(|e| {
            format!("not a valid ACME storage file ({e}); move it away to start afresh")
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read: {e}")),
    }
}

/// Storage files are written one at a time in this process: ACME accounts sharing a file
/// each rewrite it from what is there ([`Storage::to_json_over`]).
static WRITING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Writes a temporary file (0600) beside `path` and renames it over `path`.
fn write_storage(path: &Path, store: &Storage) -> Result<(), String> {
    let _one_at_a_time = WRITING.lock().unwrap_or_else(PoisonError::into_inner);
    let json = store.to_json_over(std::fs::read(path).ok().as_deref());
    let name = path
        .file_name()
        .ok_or_else(|| format!("{}: not a file name", path.display()))?;
    let mut tmp_name = name.to_os_string();
    tmp_name.push(".tmp");
    let tmp: PathBuf = path.with_file_name(tmp_name);
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| format!("cannot create {}: {e}", tmp.display()))?;
    f.write_all(&json)
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("cannot rename {}: {e}", tmp.display()))
}

/// The storage holds private keys: make an existing file 0600 if it is more open.
fn tighten_permissions(path: &Path) {
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(storage = %path.display(), mode = format!("{:o}", mode & 0o777), "the ACME storage holds private keys: setting its mode to 0600");
            if let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
                tracing::error!(storage = %path.display(), error = %e, "cannot set the mode of the ACME storage");
            }
        }
    }
}

/// HTTPS to the CA: Mozilla's roots plus every certificate in `ca_file`.
fn http_client(ca_file: Option<&Path>, key: &str) -> Result<HttpClient, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let var = format!("{key}={}", path.display());
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .and_then(|it| it.collect::<Result<_, _>>())
            .map_err(|e| format!("{var}: {e}"))?;
        if certs.is_empty() {
            return Err(format!("{var}: no PEM certificate in the file"));
        }
        for c in certs {
            roots
                .add(c)
                .map_err(|e| format!("{var}: not a usable CA certificate: {e}"))?;
        }
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("TLS settings: {e}"))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(https))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_covered_as_traefiks_match_domain_says() {
        // Traefik's TestMatchDomain (pkg/types/domain_test.go).
        for (cert, domain, want) in [
            ("traefik.wtf", "traefik.wtf", true),
            ("*.traefik.wtf", "traefik.wtf", false),
            ("*.traefik.wtf", "sub.traefik.wtf", true),
            ("*.traefik.wtf", "sub.sub.traefik.wtf", false),
            ("*.*.traefik.wtf", "sub.sub.traefik.wtf", true),
            ("sub.*.traefik.wtf", "sub.sub.traefik.wtf", false),
            ("*.sub.traefik.wtf", "sub.sub.traefik.wtf", true),
            ("sub.sub.traefik.wtf", "sub.sub.traefikiwtf", false),
            ("*", "sub.sub.traefik.wtf", false),
            ("?", "sub.sub.traefik.wtf", false),
            ("...................", "sub.sub.traefik.wtf", false),
            ("*.traefik.wtf", "*.*.traefik.wtf", false),
            // A certificate name's trailing dots do not count.
            ("*.traefik.wtf.", "sub.traefik.wtf", true),
        ] {
            assert_eq!(match_domain(domain, cert), want, "{cert} / {domain}");
        }
    }

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("router-acme-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn storage_is_written_0600_and_read_back() {
        let dir = temp("store");
        let path = dir.join("acme.json");
        assert!(read_storage(&path, &[]).unwrap().is_none());
        let mut s = Storage::new("default");
        s.certificates.insert(
            "a.test".into(),
            StoredCert {
                cert: "C".into(),
                key: "K".into(),
                sans: Vec::new(),
            },
        );
        write_storage(&path, &s).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let back = read_storage(&path, &[]).unwrap().unwrap();
        assert_eq!(back.certificates["a.test"].cert, "C");
        std::fs::write(&path, "  \n").unwrap();
        assert!(read_storage(&path, &[])
            .unwrap()
            .unwrap()
            .certificates
            .is_empty());
        std::fs::write(&path, "{not json").unwrap();
        assert!(read_storage(&path, &[])
            .unwrap_err()
            .contains("not a valid ACME storage"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn only_names_a_ca_can_validate_are_wanted() {
        for ok in ["a.example.com", "x-1.test"] {
            assert!(acme_name(ok), "{ok}");
        }
        for bad in [
            "localhost",
            "*.example.com",
            "10.0.0.1",
            "a..b",
            "-a.test",
            "a_b.test",
        ] {
            assert!(!acme_name(bad), "{bad}");
        }
    }

    #[test]
    fn one_certificate_per_domain_entry_rule_and_default_store() {
        let yaml = "http:\n  routers:\n    a:\n      rule: Host(`a.test`)\n      service: noop@internal\n      tls:\n        certResolver: le\n        domains:\n          - main: main.test\n            sans: [Alt.test, '*.wild.test']\n    b:\n      rule: Host(`b.test`) || Host(`c.test`)\n      service: noop@internal\n      tls:\n        certResolver: le\n    other:\n      rule: Host(`other.test`)\n      service: noop@internal\n      tls:\n        certResolver: elsewhere\ntls:\n  stores:\n    default:\n      defaultGeneratedCert:\n        resolver: le\n        domain:\n          main: default.test\n";
        let internal = crate::provider::internal::always();
        let table = crate::provider::file::compile_yaml(yaml, &[&internal]);
        let wanted: Vec<Vec<String>> = wanted_orders(&table, &["le".to_string()], false)
            .into_iter()
            .collect();
        assert_eq!(
            wanted,
            [
                vec!["b.test", "c.test"],
                vec!["default.test"],
                vec!["main.test", "alt.test"]
            ]
        );
        assert_eq!(
            wildcard_names(&table, &["le".to_string()]),
            BTreeSet::from(["*.wild.test".to_string()])
        );
        // With DNS-01, wildcard names are ordered too.
        let wanted = wanted_orders(&table, &["le".to_string()], true);
        assert!(wanted.contains(&vec![
            "main.test".to_string(),
            "alt.test".to_string(),
            "*.wild.test".to_string()
        ]));
    }

    #[test]
    fn tcp_routers_that_terminate_tls_want_their_host_sni_names() {
        let yaml = "tcp:\n  routers:\n    db:\n      rule: HostSNI(`db.test`) || HostSNI(`*.any.test`)\n      service: s\n      tls:\n        certResolver: le\n    named:\n      rule: HostSNI(`x.test`)\n      service: s\n      tls:\n        certResolver: le\n        domains:\n          - main: mq.test\n    pass:\n      rule: HostSNI(`pass.test`)\n      service: s\n      tls:\n        passthrough: true\n        certResolver: le\n  services:\n    s:\n      loadBalancer:\n        servers: [{address: '10.0.0.1:5432'}]\n";
        let table = crate::provider::file::compile_yaml(yaml, &[]);
        let wanted: Vec<Vec<String>> = wanted_orders(&table, &["le".to_string()], false)
            .into_iter()
            .collect();
        // A passthrough router's names are its server's to certify.
        assert_eq!(wanted, [vec!["db.test"], vec!["mq.test"]]);
    }

    #[test]
    fn backoff_doubles_from_5s_to_an_hour() {
        assert_eq!(backoff(0), Duration::from_secs(5));
        assert_eq!(backoff(1), Duration::from_secs(10));
        assert_eq!(backoff(3), Duration::from_secs(40));
        assert_eq!(backoff(50), MAX_BACKOFF);
    }

    #[test]
    fn challenges_alternate_when_http01_is_served() {
        assert_eq!(challenge_for(0, true), ChallengeType::Http01);
        assert_eq!(challenge_for(1, true), ChallengeType::TlsAlpn01);
        assert_eq!(challenge_for(2, true), ChallengeType::Http01);
        assert_eq!(challenge_for(0, false), ChallengeType::TlsAlpn01);
    }

    #[test]
    fn renewal_is_due_within_renew_before() {
        let in_a_day = SystemTime::now() + Duration::from_secs(86_400);
        assert!(!renewal_due(in_a_day, Duration::from_secs(3600)));
        assert!(renewal_due(in_a_day, Duration::from_secs(2 * 86_400)));
    }

    #[test]
    fn the_alpn_certificate_carries_the_critical_acme_identifier() {
        use x509_parser::prelude::*;
        let provider = crate::tls::provider(None).unwrap();
        let digest = [7u8; 32];
        let (key, pem) = alpn_certificate("a.test", &digest, &provider).unwrap();
        // As a data plane loads it from its controller's message.
        let loaded =
            crate::tls::certified_key(pem.cert.as_bytes(), pem.key.as_bytes(), &provider).unwrap();
        assert_eq!(loaded.cert, key.cert);
        let (_, cert) = X509Certificate::from_der(key.cert[0].as_ref()).unwrap();
        let ext = cert
            .extensions()
            .iter()
            .find(|e| e.oid.to_id_string() == "1.3.6.1.5.5.7.1.31")
            .expect("acmeIdentifier extension");
        assert!(ext.critical);
        // An OCTET STRING of 32 bytes.
        assert_eq!(&ext.value[..2], &[0x04, 0x20]);
        assert_eq!(&ext.value[2..], &digest);
    }

    #[test]
    fn a_corrupt_or_unreadable_storage_is_refused_with_the_variable() {
        let dir = temp("corrupt");
        let path = dir.join("acme.json");
        std::fs::write(
            &path,
            r#"{"certificates":{"a.test":{"cert":"x","key":"y"}}}"#,
        )
        .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let env: HashMap<String, String> = [
            ("DOCKER_HOST", "tcp://127.0.0.1:1"),
            ("ROUTER_ACME_EMAIL", "a@example.com"),
            ("ROUTER_ACME_STORAGE", path.to_str().unwrap()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let config = crate::config::Config::from_env(&env).unwrap();
        let acme = config.acme.clone().unwrap();
        let shared = Shared::new(config);
        let resolver = CertResolver::new(crate::tls::provider(None).unwrap());
        let err = rt
            .block_on(start(shared.clone(), acme.clone(), resolver.clone(), 0))
            .unwrap_err();
        assert!(
            err.contains("ROUTER_ACME_STORAGE=") && err.contains("a.test"),
            "{err}"
        );
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        let mut as_dir = acme.clone();
        as_dir.storage = dir.join("sub");
        let err = rt
            .block_on(start(shared.clone(), as_dir, resolver.clone(), 0))
            .unwrap_err();
        assert!(err.contains("ROUTER_ACME_STORAGE="), "{err}");
        // A missing file is created, empty, 0600.
        let mut fresh = acme;
        fresh.storage = dir.join("new.json");
        let task = rt
            .block_on(start(shared, fresh.clone(), resolver, 0))
            .unwrap();
        task.abort();
        let mode = std::fs::metadata(&fresh.storage)
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
