//! The `tls` part of a dynamic configuration, as Traefik reads it from files: certificates,
//! TLS options and stores; and a router's `tls.domains`.
//!
//! TLS options are checked here against what the router's TLS stack (rustls) can do, so that
//! a name Traefik knows but rustls does not offer (a CBC suite, the P-521 curve, TLS 1.0) is
//! reported and left out, never silently kept, and a set that leaves nothing usable is an
//! error of its own (the routers that use it are disabled). Names are matched exactly, as
//! Traefik's maps match them.

use serde::Serialize;

use super::decode::{Decoded, Owner};
use super::Certificate;
use crate::tree::{DecodeError, Node};

/// A key exchange group rustls (ring) offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Curve {
    /// `X25519`, `x25519`.
    X25519,
    /// `CurveP256`, `secp256r1`.
    P256,
    /// `CurveP384`, `secp384r1`.
    P384,
}

/// What a client must show (`clientAuth.clientAuthType`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
pub enum ClientAuth {
    /// `NoClientCert` (the default without `caFiles`).
    #[default]
    None,
    /// `VerifyClientCertIfGiven`: a certificate is optional, but must verify when sent.
    VerifyIfGiven,
    /// `RequireAndVerifyClientCert` (the default with `caFiles`).
    Require,
    /// `RequestClientCert`: asked for, optional, not verified.
    Request,
    /// `RequireAnyClientCert`: required, not verified.
    RequireAny,
}

/// One set of TLS options (`tls.options.<name>`), checked.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TlsOptions {
    /// `minVersion: VersionTLS13` (TLS 1.2 is the floor otherwise).
    pub min_tls13: bool,
    /// `maxVersion: VersionTLS12`.
    pub max_tls12: bool,
    /// `cipherSuites`: the TLS 1.2 suites kept, by rustls name; `None`: all. (TLS 1.3 suites
    /// are not configurable, as in Go.)
    pub cipher_suites: Option<Vec<String>>,
    /// `curvePreferences`, in order; `None`: rustls's default.
    pub curves: Option<Vec<Curve>>,
    /// `clientAuth.clientAuthType`.
    pub client_auth: ClientAuth,
    /// `clientAuth.caFiles`: paths or PEM, as written.
    pub ca_files: Vec<String>,
    /// `sniStrict`: no certificate unless one matches the client's SNI.
    pub sni_strict: bool,
    /// `alpnProtocols`.
    pub alpn_protocols: Vec<String>,
    /// `disableSessionTickets`.
    pub disable_session_tickets: bool,
}

impl Default for TlsOptions {
    /// Traefik's default options: TLS 1.2 and 1.3, every suite, ALPN `h2`, `http/1.1`,
    /// `acme-tls/1`.
    fn default() -> TlsOptions {
        TlsOptions {
            min_tls13: false,
            max_tls12: false,
            cipher_suites: None,
            curves: None,
            client_auth: ClientAuth::None,
            ca_files: Vec::new(),
            sni_strict: false,
            alpn_protocols: ["h2", "http/1.1", "acme-tls/1"].map(str::to_owned).to_vec(),
            disable_session_tickets: false,
        }
    }
}

/// A domain for a certificate resolver (`tls.domains[n]`, `defaultGeneratedCert.domain`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Domain {
    /// `main`.
    pub main: String,
    /// `sans`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sans: Vec<String>,
}

impl Domain {
    /// Every name: `main`, then the `sans`, lower case.
    pub fn names(&self) -> impl Iterator<Item = String> + '_ {
        std::iter::once(&self.main)
            .chain(&self.sans)
            .filter(|n| !n.is_empty())
            .map(|n| n.to_ascii_lowercase())
    }
}

/// The default TLS store (`tls.stores.default`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TlsStore {
    /// `defaultCertificate`: served when no other certificate matches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_certificate: Option<Certificate>,
    /// `defaultGeneratedCert`: the default certificate ordered from a resolver.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_generated_cert: Option<GeneratedCert>,
}

/// `defaultGeneratedCert`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GeneratedCert {
    /// The certificate resolver.
    pub resolver: String,
    /// The names.
    pub domain: Domain,
}

/// Go's TLS 1.2 suite names that rustls offers, with rustls's name.
const SUITES: &[(&str, &str)] = &[
    (
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    ),
    (
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    ),
    (
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    ),
];

/// Go's TLS 1.3 suite names: accepted, without effect (Go does not configure them either).
const TLS13_SUITES: &[&str] = &[
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
];

/// Names Traefik knows that rustls does not offer (no forward secrecy, CBC, RC4, 3DES), and
/// the fallback signal: reported and left out.
const UNOFFERED_SUITES: &[&str] = &[
    "TLS_RSA_WITH_RC4_128_SHA",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_FALLBACK_SCSV",
];

/// Traefik's curve names, with rustls's group (`None`: known, not offered).
const CURVES: &[(&str, Option<Curve>)] = &[
    ("secp256r1", Some(Curve::P256)),
    ("CurveP256", Some(Curve::P256)),
    ("secp384r1", Some(Curve::P384)),
    ("CurveP384", Some(Curve::P384)),
    ("x25519", Some(Curve::X25519)),
    ("X25519", Some(Curve::X25519)),
    ("secp521r1", None),
    ("CurveP521", None),
    ("x25519mlkem768", None),
    ("X25519MLKEM768", None),
    ("secp256r1mlkem768", None),
    ("SecP256r1MLKEM768", None),
    ("secp384r1mlkem1024", None),
    ("SecP384r1MLKEM1024", None),
];

/// Decodes `tls` (files only): certificates, options, stores.
pub fn decode_tls(tls: &Node, out: &mut Decoded) {
    let mut f = match tls.fields() {
        Ok(f) => f,
        Err(e) => return out.error(Owner::Unsupported, e),
    };
    if let Some(certs) = f.take("certificates") {
        match certs.items() {
            Ok(items) => {
                for item in items {
                    match certificate(item, true) {
                        Ok(c) => out.config.tls.certificates.push(c),
                        Err(e) => out.error(Owner::Unsupported, e),
                    }
                }
            }
            Err(e) => out.error(Owner::Unsupported, e),
        }
    }
    if let Some(opts) = f.take("options") {
        for o in opts.children() {
            let mut notes = Vec::new();
            match options(o, &mut notes) {
                Ok(v) => {
                    out.config.tls.options.insert(o.name.clone(), v);
                }
                Err(e) => out.error(Owner::TlsOptions(o.name.clone()), e),
            }
            for n in notes {
                out.note(n);
            }
        }
    }
    if let Some(stores) = f.take("stores") {
        for s in stores.children() {
            if s.name != "default" {
                out.error(
                    Owner::Unsupported,
                    DecodeError::at(s, "only the default TLS store is supported"),
                );
                continue;
            }
            let mut notes = Vec::new();
            match store(s, &mut notes) {
                Ok(v) => out.config.tls.store = Some(v),
                Err(e) => out.error(Owner::Unsupported, e),
            }
            for n in notes {
                out.note(n);
            }
        }
    }
    for n in f.rest() {
        out.error(Owner::Unsupported, DecodeError::at(n, "unknown key"));
    }
}

/// A certificate: `certFile` and `keyFile` (paths or PEM), and `stores` when `with_stores`.
fn certificate(item: &Node, with_stores: bool) -> Result<Certificate, DecodeError> {
    let mut f = item.fields()?;
    let cert = f
        .take("certFile")
        .ok_or_else(|| DecodeError::at(item, "a certificate needs certFile"))?;
    let key = f
        .take("keyFile")
        .ok_or_else(|| DecodeError::at(item, "a certificate needs keyFile"))?;
    if with_stores {
        if let Some(s) = f.take("stores") {
            let stores = s.strings()?;
            if stores.iter().any(|s| s != "default") {
                return Err(DecodeError::at(
                    s,
                    "only the default TLS store is supported",
                ));
            }
        }
    }
    no_more(&f)?;
    Ok(Certificate {
        cert_file: cert.text()?.to_owned(),
        key_file: key.text()?.to_owned(),
    })
}

fn no_more(f: &crate::tree::Fields<'_>) -> Result<(), DecodeError> {
    match f.rest().first() {
        Some(n) => Err(DecodeError::at(n, format!("{} is not supported", n.name))),
        None => Ok(()),
    }
}

/// The default store. A `defaultGeneratedCert` without its resolver or its domain is left
/// out, as Traefik leaves it (the store's `defaultCertificate` stays), and said in `notes`.
fn store(s: &Node, notes: &mut Vec<DecodeError>) -> Result<TlsStore, DecodeError> {
    let mut f = s.fields()?;
    let mut st = TlsStore::default();
    if let Some(c) = f.take("defaultCertificate") {
        st.default_certificate = Some(certificate(c, false)?);
    }
    if let Some(g) = f.take("defaultGeneratedCert") {
        let mut gf = g.fields()?;
        let resolver = match gf.take("resolver") {
            Some(r) => r.text()?.trim().to_owned(),
            None => String::new(),
        };
        let domain = gf.take("domain").map(domain).transpose()?;
        no_more(&gf)?;
        match (resolver.is_empty(), domain) {
            (false, Some(domain)) => {
                st.default_generated_cert = Some(GeneratedCert { resolver, domain });
            }
            _ => notes.push(DecodeError::at(
                g,
                "defaultGeneratedCert needs a resolver and a domain: without them it is not used (as in Traefik)",
            )),
        }
    }
    no_more(&f)?;
    Ok(st)
}

/// One domain: `main` and `sans`.
pub fn domain(n: &Node) -> Result<Domain, DecodeError> {
    let mut f = n.fields()?;
    let main = match f.take("main") {
        Some(m) => m.text()?.trim().to_owned(),
        None => String::new(),
    };
    let sans = match f.take("sans") {
        Some(s) => s.strings()?,
        None => Vec::new(),
    };
    no_more(&f)?;
    if main.is_empty() && sans.is_empty() {
        return Err(DecodeError::at(n, "a domain needs main or sans"));
    }
    Ok(Domain { main, sans })
}

/// A list of domains (`tls.domains`).
pub fn domains(n: &Node) -> Result<Vec<Domain>, DecodeError> {
    n.items()?.into_iter().map(domain).collect()
}

/// A `maxVersion`: whether it is TLS 1.2 (TLS 1.3 otherwise; TLS 1.0 and 1.1 are never
/// spoken, so they are an error).
pub(crate) fn max_is_tls12(v: &Node) -> Result<bool, DecodeError> {
    match version(v)? {
        13 => Ok(false),
        12 => Ok(true),
        _ => Err(DecodeError::at(
            v,
            "TLS 1.0 and 1.1 are not offered: the maximum must be VersionTLS12 or VersionTLS13",
        )),
    }
}

/// A TLS options' `minVersion` or `maxVersion`: a name Traefik's maps do not know is left out
/// as Traefik leaves it out (the version stays the default one: a minimum of TLS 1.2, no
/// maximum), with a warning naming it.
fn known_version(n: &Node, notes: &mut Vec<DecodeError>) -> Result<Option<u8>, DecodeError> {
    match version(n) {
        Ok(v) => Ok(Some(v)),
        Err(_) => {
            let text = n.text()?.trim();
            notes.push(DecodeError::at(
                n,
                format!("{text:?} is not a TLS version (VersionTLS10 to VersionTLS13): left out, as Traefik leaves it out"),
            ));
            Ok(None)
        }
    }
}

pub(crate) fn version(n: &Node) -> Result<u8, DecodeError> {
    match n.text()?.trim() {
        "VersionTLS10" => Ok(10),
        "VersionTLS11" => Ok(11),
        "VersionTLS12" => Ok(12),
        "VersionTLS13" => Ok(13),
        other => Err(DecodeError::at(
            n,
            format!(
                "expected VersionTLS10, VersionTLS11, VersionTLS12 or VersionTLS13, got {other:?}"
            ),
        )),
    }
}

/// One options set; `notes` gets what is known but left out.
pub fn options(n: &Node, notes: &mut Vec<DecodeError>) -> Result<TlsOptions, DecodeError> {
    let mut f = n.fields()?;
    let mut o = TlsOptions::default();
    if let Some(v) = f.take("minVersion") {
        match known_version(v, notes)? {
            Some(13) => o.min_tls13 = true,
            Some(12) | None => {}
            Some(old) => notes.push(DecodeError::at(
                v,
                format!(
                    "TLS 1.{} is never offered: the minimum is TLS 1.2",
                    old - 10
                ),
            )),
        }
    }
    if let Some(v) = f.take("maxVersion") {
        if known_version(v, notes)?.is_some() {
            o.max_tls12 = max_is_tls12(v)?;
        }
    }
    if o.min_tls13 && o.max_tls12 {
        return Err(DecodeError::at(n, "minVersion is above maxVersion"));
    }
    if let Some(c) = f.take("cipherSuites") {
        o.cipher_suites = Some(cipher_suites(c, notes)?);
        let no_tls12 = o.cipher_suites.as_ref().is_some_and(Vec::is_empty);
        if no_tls12 && o.max_tls12 {
            return Err(DecodeError::at(
                c,
                "no TLS 1.2 cipher suite is left that this router offers, and TLS 1.3 is off",
            ));
        }
        if no_tls12 && !o.min_tls13 {
            notes.push(DecodeError::at(
                c,
                "no TLS 1.2 cipher suite is left that this router offers: only TLS 1.3 is negotiated",
            ));
        }
    }
    if let Some(c) = f.take("curvePreferences") {
        o.curves = Some(curves(c, notes)?);
    }
    if let Some(c) = f.take("clientAuth") {
        client_auth(c, &mut o)?;
    }
    if let Some(s) = f.take("sniStrict") {
        o.sni_strict = s.boolean()?;
    }
    if let Some(a) = f.take("alpnProtocols") {
        o.alpn_protocols = a.strings()?;
    }
    if let Some(d) = f.take("disableSessionTickets") {
        o.disable_session_tickets = d.boolean()?;
    }
    if let Some(p) = f.take("preferServerCipherSuites") {
        p.boolean()?;
        notes.push(DecodeError::at(
            p,
            "deprecated in Traefik and without effect: the server's suite order is used",
        ));
    }
    no_more(&f)?;
    Ok(o)
}

pub(crate) fn cipher_suites(
    c: &Node,
    notes: &mut Vec<DecodeError>,
) -> Result<Vec<String>, DecodeError> {
    let mut kept = Vec::new();
    for name in c.strings()? {
        if let Some((_, rustls)) = SUITES.iter().find(|(go, _)| *go == name) {
            if !kept.iter().any(|k| k == rustls) {
                kept.push((*rustls).to_owned());
            }
        } else if TLS13_SUITES.contains(&name.as_str()) {
            // Go ignores the configuration for TLS 1.3 suites: all three are always offered.
        } else if UNOFFERED_SUITES.contains(&name.as_str()) {
            notes.push(DecodeError::at(
                c,
                format!("{name} is not offered (no forward secrecy or not an AEAD): left out"),
            ));
        } else {
            return Err(DecodeError::at(c, format!("invalid cipher suite {name:?}")));
        }
    }
    Ok(kept)
}

fn curves(c: &Node, notes: &mut Vec<DecodeError>) -> Result<Vec<Curve>, DecodeError> {
    let mut kept = Vec::new();
    for name in c.strings()? {
        match CURVES.iter().find(|(n, _)| *n == name) {
            Some((_, Some(curve))) => {
                if !kept.contains(curve) {
                    kept.push(*curve);
                }
            }
            Some((_, None)) => notes.push(DecodeError::at(
                c,
                format!(
                    "{name} is not offered by this router (X25519, P-256 and P-384 are): left out"
                ),
            )),
            None => return Err(DecodeError::at(c, format!("invalid curve {name:?}"))),
        }
    }
    if kept.is_empty() {
        return Err(DecodeError::at(
            c,
            "no curve is left that this router offers (X25519, CurveP256, CurveP384)",
        ));
    }
    Ok(kept)
}

fn client_auth(c: &Node, o: &mut TlsOptions) -> Result<(), DecodeError> {
    let mut f = c.fields()?;
    if let Some(files) = f.take("caFiles") {
        o.ca_files = files.strings()?;
    }
    let has_cas = !o.ca_files.is_empty();
    o.client_auth = if has_cas {
        ClientAuth::Require
    } else {
        ClientAuth::None
    };
    if let Some(t) = f.take("clientAuthType") {
        let kind = t.text()?.trim();
        o.client_auth = match kind {
            "" => o.client_auth,
            "NoClientCert" => ClientAuth::None,
            "VerifyClientCertIfGiven" | "RequireAndVerifyClientCert" if !has_cas => {
                return Err(DecodeError::at(
                    t,
                    format!("{kind} needs clientAuth.caFiles"),
                ))
            }
            "VerifyClientCertIfGiven" => ClientAuth::VerifyIfGiven,
            "RequireAndVerifyClientCert" => ClientAuth::Require,
            "RequestClientCert" => ClientAuth::Request,
            "RequireAnyClientCert" => ClientAuth::RequireAny,
            other => {
                return Err(DecodeError::at(
                    t,
                    format!("unknown client auth type {other:?}"),
                ))
            }
        };
    }
    no_more(&f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(yaml: &str) -> (Result<TlsOptions, DecodeError>, Vec<DecodeError>) {
        let root = Node::from_yaml(yaml, "").unwrap();
        let mut notes = Vec::new();
        (options(&root, &mut notes), notes)
    }

    #[test]
    fn an_incomplete_generated_default_is_left_out_and_the_store_kept() {
        // tlsmanager.go getDefaultCertificate: a defaultGeneratedCert without its resolver or
        // its domain is not used; the store's defaultCertificate stays.
        for generated in [
            "defaultGeneratedCert:\n  resolver: le\n",
            "defaultGeneratedCert:\n  domain:\n    main: d.test\n",
            "defaultGeneratedCert:\n  resolver: ''\n  domain:\n    main: d.test\n",
        ] {
            let root = Node::from_yaml(
                &format!("defaultCertificate:\n  certFile: /c.pem\n  keyFile: /k.pem\n{generated}"),
                "",
            )
            .unwrap();
            let mut notes = Vec::new();
            let st = store(&root, &mut notes).unwrap();
            assert!(st.default_certificate.is_some(), "{generated}");
            assert!(st.default_generated_cert.is_none(), "{generated}");
            assert_eq!(notes.len(), 1, "{generated}");
        }
        let root = Node::from_yaml(
            "defaultGeneratedCert:\n  resolver: le\n  domain:\n    main: d.test\n",
            "",
        )
        .unwrap();
        let mut notes = Vec::new();
        assert!(store(&root, &mut notes)
            .unwrap()
            .default_generated_cert
            .is_some());
        assert!(notes.is_empty());
    }

    #[test]
    fn a_typical_hardened_set_keeps_what_rustls_offers() {
        let (o, notes) = opts(
            "minVersion: VersionTLS12\nsniStrict: true\ncipherSuites:\n  - TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384\n  - TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305\n  - TLS_AES_128_GCM_SHA256\n  - TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA\n  - TLS_FALLBACK_SCSV\ncurvePreferences: [CurveP521, CurveP384]\n",
        );
        let o = o.unwrap();
        assert!(o.sni_strict);
        assert_eq!(
            o.cipher_suites.unwrap(),
            [
                "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
                "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"
            ]
        );
        assert_eq!(o.curves.unwrap(), [Curve::P384]);
        // The CBC suite, the fallback signal and P-521 are each named.
        assert_eq!(notes.len(), 3, "{notes:?}");
    }

    #[test]
    fn errors_are_named() {
        for (yaml, part) in [
            ("maxVersion: VersionTLS11\n", "maximum"),
            (
                "minVersion: VersionTLS13\nmaxVersion: VersionTLS12\n",
                "above",
            ),
            ("cipherSuites: [TLS_NOPE]\n", "invalid cipher suite"),
            ("curvePreferences: [CurveP521]\n", "no curve"),
            ("curvePreferences: [P-256]\n", "invalid curve"),
            (
                "clientAuth:\n  clientAuthType: RequireAndVerifyClientCert\n",
                "needs clientAuth.caFiles",
            ),
            (
                "clientAuth:\n  clientAuthType: RequireAnyCert\n",
                "unknown client auth type",
            ),
            (
                "maxVersion: VersionTLS12\ncipherSuites: [TLS_RSA_WITH_AES_128_CBC_SHA]\n",
                "TLS 1.3 is off",
            ),
            ("sniStrict: maybe\n", "expected true or false"),
            (
                "minversion: VersionTLS12\nbogus: 1\n",
                "bogus is not supported",
            ),
        ] {
            let (o, _) = opts(yaml);
            let e = o.unwrap_err().to_string();
            assert!(e.contains(part), "{yaml}: {e}");
        }
    }

    #[test]
    fn client_auth_defaults_as_traefik() {
        let (o, _) = opts("clientAuth:\n  caFiles: [/ca.pem]\n");
        assert_eq!(o.unwrap().client_auth, ClientAuth::Require);
        let (o, _) =
            opts("clientAuth:\n  caFiles: [/ca.pem]\n  clientAuthType: VerifyClientCertIfGiven\n");
        assert_eq!(o.unwrap().client_auth, ClientAuth::VerifyIfGiven);
        let (o, notes) = opts("minVersion: VersionTLS10\n");
        assert!(!o.unwrap().min_tls13);
        assert_eq!(notes.len(), 1);
    }
}
