//! Traefik's own test tables for TLS, translated into data and run against our TLS code:
//! `pkg/tls/{cipher,certificate,certificate_store,tlsmanager}_test.go`, the name maps of
//! `pkg/tls/{cipher,certificate}.go`, `pkg/tls/generate`, `pkg/types/{domain,tls}_test.go`
//! and the `tls.options` references of `pkg/server/aggregator.go` (Traefik v3, commit
//! fd5a576). Each row is a fact of Traefik's; where a difference is ours on purpose (README),
//! the row holds our answer and says so.
//!
//! Rows that cannot happen here are left out, with the reason where they would be.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection};
use rustls_pki_types::{CertificateDer, ServerName};

use crate::dynamic::tls::{options, ClientAuth, Curve, Domain};
use crate::dynamic::TlsOptions;
use crate::tls::{load_pem, provider, CertMap, CertResolver, LoadedCert};
use crate::tls_config::TlsServer;
use crate::tree::{DecodeError, Node};

fn decode(yaml: &str) -> (Result<TlsOptions, String>, Vec<String>) {
    let root = Node::from_yaml(yaml, "").expect("yaml");
    let mut notes: Vec<DecodeError> = Vec::new();
    let o = options(&root, &mut notes).map_err(|e| e.to_string());
    (o, notes.iter().map(ToString::to_string).collect())
}

// === pkg/tls/cipher.go, cipher_test.go (TestCiphersMapsSync) ===

/// What a Go suite name of Traefik's `CipherSuites` map becomes here.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Suite {
    /// A TLS 1.2 suite rustls offers, by its rustls name.
    Offered(&'static str),
    /// A TLS 1.3 suite: accepted, not configurable (Go's `CipherSuites` ignores them too).
    Tls13,
    /// Known to Traefik, never offered by rustls (RC4, 3DES, CBC, RSA key exchange, the
    /// fallback signal): left out with a warning (README, TLS options, "Keys").
    NotOffered,
}

/// Every key of Traefik's `CipherSuites` map (28), and whether it is one of the two legacy
/// aliases TestCiphersMapsSync skips (`..._CHACHA20_POLY1305` for `..._SHA256`).
const GO_SUITES: &[(&str, Suite, bool)] = &[
    ("TLS_RSA_WITH_RC4_128_SHA", Suite::NotOffered, false),
    ("TLS_RSA_WITH_3DES_EDE_CBC_SHA", Suite::NotOffered, false),
    ("TLS_RSA_WITH_AES_128_CBC_SHA", Suite::NotOffered, false),
    ("TLS_RSA_WITH_AES_256_CBC_SHA", Suite::NotOffered, false),
    ("TLS_RSA_WITH_AES_128_CBC_SHA256", Suite::NotOffered, false),
    ("TLS_RSA_WITH_AES_128_GCM_SHA256", Suite::NotOffered, false),
    ("TLS_RSA_WITH_AES_256_GCM_SHA384", Suite::NotOffered, false),
    ("TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", Suite::NotOffered, false),
    (
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
        Suite::NotOffered,
        false,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
        Suite::NotOffered,
        false,
    ),
    ("TLS_ECDHE_RSA_WITH_RC4_128_SHA", Suite::NotOffered, false),
    (
        "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
        Suite::NotOffered,
        false,
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        Suite::NotOffered,
        false,
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        Suite::NotOffered,
        false,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
        Suite::NotOffered,
        false,
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
        Suite::NotOffered,
        false,
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        Suite::Offered("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
        false,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        Suite::Offered("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"),
        false,
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        Suite::Offered("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
        false,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        Suite::Offered("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"),
        false,
    ),
    (
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
        Suite::Offered("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
        true,
    ),
    (
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        Suite::Offered("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
        false,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
        Suite::Offered("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"),
        true,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        Suite::Offered("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"),
        false,
    ),
    ("TLS_AES_128_GCM_SHA256", Suite::Tls13, false),
    ("TLS_AES_256_GCM_SHA384", Suite::Tls13, false),
    ("TLS_CHACHA20_POLY1305_SHA256", Suite::Tls13, false),
    ("TLS_FALLBACK_SCSV", Suite::NotOffered, false),
];

#[test]
fn every_suite_name_traefik_knows() {
    assert_eq!(GO_SUITES.len(), 28);
    for &(name, want, _) in GO_SUITES {
        let (o, notes) = decode(&format!("cipherSuites: [{name}]\n"));
        let kept = o.unwrap_or_else(|e| panic!("{name}: {e}")).cipher_suites;
        match want {
            Suite::Offered(rustls) => {
                assert_eq!(kept.as_deref(), Some(&[rustls.to_owned()][..]), "{name}");
            }
            Suite::Tls13 | Suite::NotOffered => {
                assert_eq!(kept.as_deref(), Some(&[][..]), "{name}");
                let left_out = notes.iter().any(|n| n.contains(name));
                assert_eq!(left_out, want == Suite::NotOffered, "{name}: {notes:?}");
            }
        }
    }
}

#[test]
fn suite_names_are_in_sync_both_ways() {
    // CipherSuitesReversed: each canonical (non-alias) Go name of an offered suite is the
    // name rustls gives it, so what we report is the name Traefik reports.
    for &(name, want, alias) in GO_SUITES {
        if let (Suite::Offered(rustls), false) = (want, alias) {
            assert_eq!(name, rustls);
        }
    }
    // And each TLS 1.2 suite rustls offers is reachable from a Go name.
    for s in &provider(None).expect("provider").cipher_suites {
        if let rustls::SupportedCipherSuite::Tls12(_) = s {
            let n = s.suite().as_str().expect("named");
            assert!(
                GO_SUITES.iter().any(|(_, w, _)| *w == Suite::Offered(n)),
                "{n}"
            );
        }
    }
}

#[test]
fn suite_names_are_matched_exactly() {
    // Traefik's map is keyed by the exact Go name: another case, or rustls's TLS 1.3
    // spelling, is `invalid CipherSuite`. (An empty name, `cipherSuites: [""]`, is one too
    // in Traefik; ours reads lists as label values are read, where empty items are dropped.)
    for name in [
        "tls_ecdhe_rsa_with_aes_128_gcm_sha256",
        "TLS13_AES_128_GCM_SHA256",
        "TLS_NOPE",
    ] {
        let (o, _) = decode(&format!("cipherSuites: [\"{name}\"]\n"));
        let e = o.expect_err(name);
        assert!(e.contains("cipherSuites") && e.contains(name), "{e}");
    }
}

// === pkg/tls/certificate.go: CurveIDs, MinVersion, MaxVersion ===

/// Every key of Traefik's `CurveIDs` map (14): the group rustls (ring) offers, or `None`
/// (left out with a warning: P-521 and the ML-KEM hybrids, README "Keys").
const GO_CURVES: &[(&str, Option<Curve>)] = &[
    ("secp256r1", Some(Curve::P256)),
    ("CurveP256", Some(Curve::P256)),
    ("secp384r1", Some(Curve::P384)),
    ("CurveP384", Some(Curve::P384)),
    ("secp521r1", None),
    ("CurveP521", None),
    ("x25519", Some(Curve::X25519)),
    ("X25519", Some(Curve::X25519)),
    ("x25519mlkem768", None),
    ("X25519MLKEM768", None),
    ("secp256r1mlkem768", None),
    ("SecP256r1MLKEM768", None),
    ("secp384r1mlkem1024", None),
    ("SecP384r1MLKEM1024", None),
];

#[test]
fn every_curve_name_traefik_knows() {
    for &(name, want) in GO_CURVES {
        // With X25519 after it, so that a curve left out does not leave the list empty.
        let (o, notes) = decode(&format!("curvePreferences: [{name}, X25519]\n"));
        let curves = o.unwrap_or_else(|e| panic!("{name}: {e}")).curves;
        match want {
            Some(c) if c == Curve::X25519 => assert_eq!(curves, Some(vec![c]), "{name}"),
            Some(c) => assert_eq!(curves, Some(vec![c, Curve::X25519]), "{name}"),
            None => {
                assert_eq!(curves, Some(vec![Curve::X25519]), "{name}");
                assert!(notes.iter().any(|n| n.contains(name)), "{name}: {notes:?}");
            }
        }
    }
    // TestManager_Get "invalid": `CurvePreferences: ["42"]` is an error.
    for name in ["42", "p256", "P-256", "curvep256"] {
        let (o, _) = decode(&format!("curvePreferences: [\"{name}\"]\n"));
        let e = o.expect_err(name);
        assert!(e.contains("curvePreferences") && e.contains(name), "{e}");
    }
}

#[test]
fn version_names() {
    // (value, Traefik's minVersion, ours); Traefik's MinVersion/MaxVersion maps know
    // VersionTLS10..13 and ignore any other value.
    // Ours: TLS 1.0 and 1.1 are never spoken (README "Keys": as a minimum they mean TLS 1.2
    // with a warning, as a maximum they are an error); an unknown name is left out as
    // Traefik leaves it out, with a warning (README "Keys").
    for (value, min_ok, min13, max) in [
        ("VersionTLS10", true, false, Err("maximum")),
        ("VersionTLS11", true, false, Err("maximum")),
        ("VersionTLS12", true, false, Ok(true)),
        ("VersionTLS13", true, true, Ok(false)),
        ("VersionTLS14", true, false, Ok(false)),
        ("versiontls12", true, false, Ok(false)),
        ("VersionTLS1", true, false, Ok(false)),
    ] {
        let (o, _) = decode(&format!("minVersion: {value}\n"));
        match o {
            Ok(o) => {
                assert!(min_ok, "{value}");
                assert_eq!(o.min_tls13, min13, "{value}");
            }
            Err(e) => {
                assert!(!min_ok, "{value}: {e}");
                assert!(e.contains("minVersion") && e.contains(value), "{e}");
            }
        }
        let (o, _) = decode(&format!("maxVersion: {value}\n"));
        match (o, max) {
            (Ok(o), Ok(tls12)) => assert_eq!(o.max_tls12, tls12, "{value}"),
            (Err(e), Err(part)) => {
                assert!(e.contains(part) && e.contains("maxVersion"), "{value}: {e}")
            }
            (o, want) => panic!("{value}: {o:?}, wanted {want:?}"),
        }
    }
    // The name left out is said.
    let (o, notes) = decode("minVersion: VersionTLS1\n");
    assert!(o.is_ok(), "{o:?}");
    assert!(
        notes
            .iter()
            .any(|n| n.contains("VersionTLS1") && n.contains("left out")),
        "{notes:?}"
    );
    // minVersion above maxVersion: Traefik builds the configuration and every handshake
    // fails; ours is an error (README "Keys").
    let (o, _) = decode("minVersion: VersionTLS13\nmaxVersion: VersionTLS12\n");
    assert!(o.unwrap_err().contains("above"));
}

// === pkg/tls/tlsmanager_test.go ===

fn server() -> TlsServer {
    let p = provider(None).expect("provider");
    TlsServer::new(p.clone(), CertResolver::new(p))
}

/// A CA certificate in PEM, as Traefik's `localhostCert` (a CA for 127.0.0.1, ::1,
/// example.com).
fn ca_pem() -> String {
    let mut params = rcgen::CertificateParams::new(vec![
        "127.0.0.1".to_string(),
        "::1".to_string(),
        "example.com".to_string(),
    ])
    .expect("params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = rcgen::KeyPair::generate().expect("key");
    params.self_signed(&key).expect("cert").pem()
}

#[test]
fn manager_get() {
    // TestManager_Get: options by name; an unknown name is an error; an invalid curve is.
    let (foo, _) = decode("minVersion: VersionTLS12\n");
    assert!(!foo.expect("foo").min_tls13);
    // "bar": MinVersion VersionTLS11 gives Go's TLS 1.1; ours is TLS 1.2 with a warning
    // (README "Keys": TLS 1.0 and 1.1 are never offered).
    let (bar, notes) = decode("minVersion: VersionTLS11\n");
    assert!(!bar.expect("bar").min_tls13);
    assert_eq!(notes.len(), 1, "{notes:?}");
    let (invalid, _) = decode("curvePreferences: [\"42\"]\n");
    assert!(invalid.is_err());
    // "unknown": options nobody defined are an error for the router that names them.
    let sets = crate::model::tls::OptionSets::default();
    assert!(crate::model::tls::check(&sets, "unknown@file")
        .unwrap_err()
        .contains("do not exist"));
    // "Get a tls config from unexisting 'default' name": Traefik's manager alone has no
    // default once given options without one; its aggregator (pkg/server/aggregator.go)
    // always adds DefaultTLSOptions first, which is what `collect` does.
    let sets = crate::model::tls::collect(&[], &mut Vec::new());
    assert_eq!(sets.options["default"], TlsOptions::default());
}

#[test]
fn manager_get_default_values() {
    // TestManager_Get_DefaultValues.
    let d = TlsOptions::default();
    assert!(!d.min_tls13, "minimum TLS 1.2");
    assert!(!d.max_tls12, "TLS 1.3 on");
    assert_eq!(d.alpn_protocols, ["h2", "http/1.1", "acme-tls/1"]);
    assert!(!d.disable_session_tickets);
    assert_eq!(d.client_auth, ClientAuth::None);
    assert!(!d.sni_strict);
    // Go's default suites are its 13 secure ones, four of them CBC; ours are every AEAD suite
    // rustls offers, 3 for TLS 1.3 and 6 for TLS 1.2 (README, TLS: "AEAD cipher suites only").
    assert_eq!(d.cipher_suites, None);
    let c = server().config(&d).expect("default config");
    assert_eq!(c.crypto_provider().cipher_suites.len(), 9);
    assert_eq!(
        c.alpn_protocols,
        [b"h2".to_vec(), b"http/1.1".to_vec(), b"acme-tls/1".to_vec()]
    );
    assert!(c.send_tls13_tickets > 0);
}

/// TestClientAuth: (case, options, Traefik's client auth type or error).
#[test]
fn client_auth() {
    let ca = ca_pem();
    let ca_yaml = ca.replace('\n', "\\n");
    let with_ca =
        |t: &str| format!("clientAuth:\n  caFiles: [\"{ca_yaml}\"]\n  clientAuthType: {t}\n");
    let cases: Vec<(&str, String, Result<ClientAuth, &str>)> = vec![
        ("eca", "clientAuth: {}\n".into(), Ok(ClientAuth::None)),
        (
            "ecat",
            "clientAuth:\n  clientAuthType: \"\"\n".into(),
            Ok(ClientAuth::None),
        ),
        (
            "ncc",
            "clientAuth:\n  clientAuthType: NoClientCert\n".into(),
            Ok(ClientAuth::None),
        ),
        (
            "rcc",
            "clientAuth:\n  clientAuthType: RequestClientCert\n".into(),
            Ok(ClientAuth::Request),
        ),
        (
            "racc",
            "clientAuth:\n  clientAuthType: RequireAnyClientCert\n".into(),
            Ok(ClientAuth::RequireAny),
        ),
        (
            "vccig",
            with_ca("VerifyClientCertIfGiven"),
            Ok(ClientAuth::VerifyIfGiven),
        ),
        (
            "vccigwca",
            "clientAuth:\n  clientAuthType: VerifyClientCertIfGiven\n".into(),
            Err("CAFiles is required"),
        ),
        (
            "ravcc",
            "clientAuth:\n  clientAuthType: RequireAndVerifyClientCert\n".into(),
            Err("CAFiles is required"),
        ),
        (
            "ravccwca",
            with_ca("RequireAndVerifyClientCert"),
            Ok(ClientAuth::Require),
        ),
        (
            "ravccwbca",
            "clientAuth:\n  caFiles: [\"Bad content\"]\n  clientAuthType: RequireAndVerifyClientCert\n"
                .into(),
            Err("invalid certificate(s) content"),
        ),
        (
            "ucat",
            "clientAuth:\n  clientAuthType: Unknown\n".into(),
            Err("unknown client auth type"),
        ),
        // Not in the table, from buildTLSConfig: caFiles alone mean RequireAndVerifyClientCert.
        (
            "ca alone",
            format!("clientAuth:\n  caFiles: [\"{ca_yaml}\"]\n"),
            Ok(ClientAuth::Require),
        ),
    ];
    let s = server();
    for (case, yaml, want) in cases {
        // Traefik's errors come from building the configuration; ours from decoding the
        // options, or (a CA that cannot be read) from building the configuration.
        let (o, _) = decode(&yaml);
        let got = o.and_then(|o| {
            s.config(&o)?;
            Ok(o.client_auth)
        });
        match (got, want) {
            (Ok(g), Ok(w)) => assert_eq!(g, w, "{case}"),
            (Err(_), Err(_)) => {}
            (g, w) => panic!("{case}: {g:?}, Traefik: {w:?}"),
        }
    }
    // "ravccwca": the CA's subject is the one offered to clients.
    let roots = crate::tls_config::load_cas(&[ca]).expect("ca");
    assert_eq!(roots.subjects().len(), 1);
}

// === pkg/tls/certificate_store_test.go ===

fn cert_with(names: &[&str], cn: Option<&str>, days: u64) -> LoadedCert {
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .expect("params");
    params.distinguished_name = rcgen::DistinguishedName::new();
    if let Some(cn) = cn {
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
    }
    let now = SystemTime::now();
    params.not_before = (now - Duration::from_secs(3600)).into();
    params.not_after = (now + Duration::from_secs(days * 86400)).into();
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("cert");
    load_pem(
        cert.pem().as_bytes(),
        key.serialize_pem().as_bytes(),
        &provider(None).expect("provider"),
    )
    .expect("load")
}

fn cert(names: &[&str]) -> LoadedCert {
    cert_with(names, None, 90)
}

/// A handshake in memory with `config`; the names of the certificate served, or `None` when
/// the handshake fails. Without `sni` the client sends no server name.
fn served(config: Arc<ServerConfig>, sni: Option<&str>) -> Option<Vec<String>> {
    let p = provider(None).expect("provider");
    let mut client = ClientConfig::builder_with_provider(p)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(crate::client_tls::AnyCertificate::new()))
        .with_no_client_auth();
    let name = match sni {
        Some(n) => ServerName::try_from(n.to_owned()).expect("name"),
        None => {
            client.enable_sni = false;
            ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into())
        }
    };
    let mut c = ClientConnection::new(Arc::new(client), name).expect("client");
    let mut s = ServerConnection::new(config).expect("server");
    for _ in 0..10 {
        let mut buf = Vec::new();
        while c.wants_write() {
            c.write_tls(&mut buf).ok()?;
        }
        s.read_tls(&mut &buf[..]).ok()?;
        let failed = s.process_new_packets().is_err();
        let mut back = Vec::new();
        while s.wants_write() {
            s.write_tls(&mut back).ok()?;
        }
        if failed {
            return None;
        }
        c.read_tls(&mut &back[..]).ok()?;
        c.process_new_packets().ok()?;
        if !c.is_handshaking() && !s.is_handshaking() {
            let leaf: &CertificateDer<'_> = c.peer_certificates()?.first()?;
            return crate::tls::names_and_expiry(leaf).ok().map(|(n, _)| n);
        }
    }
    None
}

fn resolver_with(certs: &[&LoadedCert]) -> TlsServer {
    let s = server();
    s.resolver()
        .set_dynamic(CertMap::from_certs(certs.iter().copied()));
    s
}

#[test]
fn best_certificate() {
    // TestGetBestCertificate: (case, SNI, the store's certificate, the one served or none).
    // "none" is Traefik's GetBestCertificate answer, before the default certificate; with
    // sniStrict nothing else is served, which is what is asserted.
    let strict = TlsOptions {
        sni_strict: true,
        ..TlsOptions::default()
    };
    for (case, sni, store, want) in [
        ("Empty Store, returns no certs", "snitest.com", None, None),
        (
            "Best Match with no corresponding",
            "snitest.com",
            Some("snitest.org"),
            None,
        ),
        (
            "Best Match",
            "snitest.com",
            Some("snitest.com"),
            Some("snitest.com"),
        ),
        (
            "Best Match with dynamic wildcard",
            "www.snitest.com",
            Some("*.snitest.com"),
            Some("*.snitest.com"),
        ),
        (
            "Best Match with dynamic wildcard only, case-insensitive",
            "bar.www.snitest.com",
            Some("*.WWW.SNITEST.COM"),
            Some("*.www.snitest.com"),
        ),
        // Not in the table, from GetBestCertificate: the server name is lowercased.
        (
            "upper-case SNI",
            "BAR.WWW.SNITEST.COM",
            Some("*.www.snitest.com"),
            Some("*.www.snitest.com"),
        ),
    ] {
        let c = store.map(|n| cert(&[n]));
        let s = resolver_with(&c.iter().collect::<Vec<_>>());
        let got = served(s.config(&strict).expect("config"), Some(sni));
        assert_eq!(got, want.map(|n: &str| vec![n.to_owned()]), "{case}");
    }
    // SNI with trailing spaces (Traefik trims them): rustls refuses such a name in the
    // ClientHello before any lookup, so the row cannot happen here.
}

#[test]
fn best_certificate_shared_san() {
    // TestGetBestCertificate_SharedSAN: two certificates share the name asked for; Traefik
    // tries them in reverse order of their sorted, comma-joined names, so the one for
    // `app.example.test` alone wins over `*.app.example.test,app.example.test`, every time.
    // (Ours took the one expiring last.)
    let exact = cert_with(&["app.example.test"], None, 30);
    let both = cert_with(&["*.app.example.test", "app.example.test"], None, 90);
    for order in [[&exact, &both], [&both, &exact]] {
        let map = CertMap::from_certs(order);
        let got = map.find("app.example.test").expect("found");
        assert!(Arc::ptr_eq(&got, &exact.key));
        // The wildcard still serves the names only it has.
        let got = map.find("x.app.example.test").expect("found");
        assert!(Arc::ptr_eq(&got, &both.key));
    }
    // Between the file provider's certificates and ACME's (one store in Traefik) alike.
    let s = server();
    s.resolver().set_dynamic(CertMap::from_certs([&both]));
    s.resolver().set_acme(CertMap::from_certs([&exact]));
    let got = s.resolver().configured("app.example.test").expect("found");
    assert!(Arc::ptr_eq(&got, &exact.key));
    // `ROUTER_CERTS_DIR` (no Traefik counterpart): the one expiring last (README,
    // Certificates).
    let map = CertMap::newest_first([&exact, &both]);
    let got = map.find("app.example.test").expect("found");
    assert!(Arc::ptr_eq(&got, &both.key));
    // ... but an exact name before a wildcard one, whatever their expiry.
    let wild = cert_with(&["*.example.test"], None, 90);
    let a = cert_with(&["a.example.test"], None, 30);
    let got = CertMap::newest_first([&wild, &a]).find("a.example.test");
    assert!(Arc::ptr_eq(&got.expect("found"), &a.key));
}

#[test]
fn certificate_names() {
    // parseCertificate (certificate_store.go): a certificate serves its subject's common name
    // (lowercased), its DNS names and its IP addresses.
    // (Ours served the common name only without DNS names, and no IP address.)
    let c = cert_with(
        &["san.test", "10.0.0.1", "::ffff:10.0.0.2"],
        Some("CN.test"),
        90,
    );
    assert_eq!(c.names, ["cn.test", "san.test", "10.0.0.1", "10.0.0.2"]);
    // The same name twice counts once.
    let c = cert_with(&["a.test"], Some("a.test"), 90);
    assert_eq!(c.names, ["a.test"]);
}

#[test]
fn no_sni() {
    // GetBestCertificate: without SNI, the connection's local IP is looked up (a certificate
    // for 127.0.0.1 is served to a client that connected to 127.0.0.1).
    // (Ours looked up `localhost`.)
    let ip = cert(&["127.0.0.1"]);
    let v6 = cert(&["::1"]);
    let s = resolver_with(&[&ip, &v6]);
    let strict = TlsOptions {
        sni_strict: true,
        ..TlsOptions::default()
    };
    let local = |a: &str| a.parse::<std::net::IpAddr>().expect("ip");
    for (options, addr, want) in [
        (&strict, "127.0.0.1", Some("127.0.0.1")),
        // An IPv4-mapped address is the IPv4 one, as Go prints it.
        (&strict, "::ffff:127.0.0.1", Some("127.0.0.1")),
        (&strict, "::1", Some("::1")),
        // sniStrict: nothing for an address no certificate names.
        (&strict, "10.0.0.9", None),
    ] {
        let c = s.config_without_sni(options, local(addr)).expect("config");
        assert_eq!(served(c, None), want.map(|n| vec![n.to_owned()]), "{addr}");
    }
    // Without sniStrict, an address no certificate names gets the fallback (ours: the
    // self-signed one, for `localhost`).
    let c = s
        .config_without_sni(&TlsOptions::default(), local("10.0.0.9"))
        .expect("config");
    let names = served(c, None).expect("served");
    assert_eq!(names.last().map(String::as_str), Some("localhost"));
    // A client that sends SNI on such a configuration is served as any other.
    let c = s
        .config_without_sni(&strict, local("127.0.0.1"))
        .expect("config");
    assert_eq!(served(c, Some("other.test")), None);
}

// === pkg/types/domain_test.go ===

#[test]
fn domain_to_str_array() {
    // TestDomain_ToStrArray: main first, then the SANs.
    for (main, sans, want) in [
        (
            "foo.com",
            &["bar.foo.com", "bir.foo.com"][..],
            &["foo.com", "bar.foo.com", "bir.foo.com"][..],
        ),
        ("foo.com", &[], &["foo.com"]),
        (
            "",
            &["bar.foo.com", "bir.foo.com"],
            &["bar.foo.com", "bir.foo.com"],
        ),
    ] {
        let d = Domain {
            main: main.into(),
            sans: sans.iter().map(|s| s.to_string()).collect(),
        };
        assert_eq!(d.names().collect::<Vec<_>>(), want);
    }
    // TestDomain_Set (a list to main and SANs) has no counterpart: domains are only read
    // from `main` and `sans` keys.
}

#[test]
fn match_domain() {
    // TestMatchDomain is types.MatchDomain, what Traefik's ACME provider uses to skip names
    // a certificate it has already covers (ours: acme.rs, not these tables). The SNI lookup
    // (certificate_store.go matchDomain) replaces only the first label with `*`: the rows
    // are run against it, the one where the two differ ("double wildcard") saying so.
    for (case, cert_domain, domain, want) in [
        ("exact match", "traefik.wtf", "traefik.wtf", true),
        (
            "wildcard and root domain",
            "*.traefik.wtf",
            "traefik.wtf",
            false,
        ),
        (
            "wildcard and sub domain",
            "*.traefik.wtf",
            "sub.traefik.wtf",
            true,
        ),
        (
            "wildcard and sub sub domain",
            "*.traefik.wtf",
            "sub.sub.traefik.wtf",
            false,
        ),
        // MatchDomain: true; the store's matchDomain: false.
        (
            "double wildcard and sub sub domain",
            "*.*.traefik.wtf",
            "sub.sub.traefik.wtf",
            false,
        ),
        (
            "sub sub domain and invalid wildcard",
            "sub.*.traefik.wtf",
            "sub.sub.traefik.wtf",
            false,
        ),
        (
            "sub sub domain and valid wildcard",
            "*.sub.traefik.wtf",
            "sub.sub.traefik.wtf",
            true,
        ),
        (
            "dot replaced by a char",
            "sub.sub.traefik.wtf",
            "sub.sub.traefikiwtf",
            false,
        ),
        ("*", "*", "sub.sub.traefik.wtf", false),
        ("?", "?", "sub.sub.traefik.wtf", false),
        (
            "...................",
            "...................",
            "sub.sub.traefik.wtf",
            false,
        ),
        ("wildcard and *", "*.traefik.wtf", "*.*.traefik.wtf", false),
    ] {
        let names = vec![cert_domain.to_owned()];
        let c = LoadedCert {
            names,
            ..cert(&["placeholder.test"])
        };
        let map = CertMap::from_certs([&c]);
        assert_eq!(map.find(domain).is_some(), want, "{case}");
    }
}

// === pkg/tls/certificate_test.go (Test_VerifyPeerCertificate) ===

#[test]
fn verify_peer_certificate() {
    use crate::dynamic::transport::PeerSan;
    use rustls::client::danger::ServerCertVerifier;

    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).expect("ca");
    let leaf = |dns: &[&str], uris: &[&str]| -> CertificateDer<'static> {
        let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        for d in dns {
            p.subject_alt_names
                .push(rcgen::SanType::DnsName((*d).try_into().expect("dns")));
        }
        for u in uris {
            p.subject_alt_names
                .push(rcgen::SanType::URI((*u).try_into().expect("uri")));
        }
        let k = rcgen::KeyPair::generate().expect("key");
        p.signed_by(&k, &ca).expect("leaf").der().clone()
    };
    let uri = |v: &str| PeerSan {
        uri: true,
        value: v.into(),
    };
    let dns = |v: &str| PeerSan {
        uri: false,
        value: v.into(),
    };
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der().clone()).expect("root");
    // "returns error when no certificates are provided": rustls refuses an empty certificate
    // message itself; the verifier is never called without a leaf.
    for (case, sans, cert, ok) in [
        (
            "no URIs",
            vec![uri("spiffe://foo.com")],
            leaf(&[], &[]),
            false,
        ),
        (
            "no URI matches",
            vec![uri("spiffe://foo.com")],
            leaf(&[], &["spiffe://other.org"]),
            false,
        ),
        (
            "URI matches",
            vec![uri("spiffe://foo.com")],
            leaf(&[], &["spiffe://foo.com"]),
            true,
        ),
        (
            "one of the URIs matches",
            vec![uri("spiffe://foo.com")],
            leaf(&[], &["spiffe://example.org", "spiffe://foo.com"]),
            true,
        ),
        ("no DNS names", vec![dns("foo.com")], leaf(&[], &[]), false),
        (
            "no DNS name matches",
            vec![dns("foo.com")],
            leaf(&["other.com"], &[]),
            false,
        ),
        (
            "DNS name matches",
            vec![dns("foo.com")],
            leaf(&["foo.com"], &[]),
            true,
        ),
        (
            "DNS name matches a wildcard",
            vec![dns("bar.foo.com")],
            leaf(&["*.foo.com"], &[]),
            true,
        ),
        (
            "one of the DNS names matches",
            vec![dns("foo.com")],
            leaf(&["example.com", "foo.com"], &[]),
            true,
        ),
        (
            "DNS name matches case-insensitively",
            vec![dns("FOO.COM")],
            leaf(&["foo.com"], &[]),
            true,
        ),
        (
            "URI matches in mixed sans",
            vec![uri("spiffe://foo.com"), dns("foo.com")],
            leaf(&[], &["spiffe://foo.com"]),
            true,
        ),
        (
            "DNS name matches in mixed sans",
            vec![uri("spiffe://foo.com"), dns("foo.com")],
            leaf(&["foo.com"], &[]),
            true,
        ),
        (
            "neither matches in mixed sans",
            vec![uri("spiffe://foo.com"), dns("foo.com")],
            leaf(&["other.com"], &["spiffe://other.org"]),
            false,
        ),
    ] {
        // insecureSkipVerify: only the chain and the listed names are checked, as
        // VerifyPeerCertificate does.
        let v = crate::peer_sans::PeerSans::new(
            roots.clone(),
            true,
            sans,
            provider(None).expect("provider"),
        )
        .expect("verifier");
        let got = v.verify_server_cert(
            &cert,
            &[],
            &ServerName::try_from("ignored.test").expect("name"),
            &[],
            rustls_pki_types::UnixTime::now(),
        );
        assert_eq!(got.is_ok(), ok, "{case}: {got:?}");
    }
    // A chain another CA signed fails, whatever the names.
    let other = rcgen::generate_simple_self_signed(vec!["foo.com".to_string()]).expect("cert");
    let v = crate::peer_sans::PeerSans::new(
        roots,
        true,
        vec![dns("foo.com")],
        provider(None).expect("provider"),
    )
    .expect("verifier");
    assert!(v
        .verify_server_cert(
            other.cert.der(),
            &[],
            &ServerName::try_from("foo.com").expect("name"),
            &[],
            rustls_pki_types::UnixTime::now(),
        )
        .is_err());
}

// === pkg/types/tls_test.go (TestClientTLS_CreateTLSConfig) ===

#[test]
fn client_tls_create_config() {
    use crate::dynamic::ClientTls;

    let pair = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("cert");
    let (cert, key) = (pair.cert.pem(), pair.signing_key.serialize_pem());
    let dir = std::env::temp_dir().join(format!("router-tls-tables-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let cert_file = dir.join("cert.pem").display().to_string();
    let key_file = dir.join("key.pem").display().to_string();
    std::fs::write(&cert_file, &cert).expect("write");
    std::fs::write(&key_file, &key).expect("write");
    let missing = dir.join("cert2.pem").display().to_string();
    let missing_key = dir.join("key2.pem").display().to_string();
    let tls = |ca: &str, c: &str, k: &str, insecure: bool| ClientTls {
        ca: ca.into(),
        cert: c.into(),
        key: k.into(),
        insecure_skip_verify: insecure,
    };
    for (case, t, ok) in [
        ("Configure CA", tls(&cert, "", "", false), true),
        (
            "the client keyPair from strings",
            tls("", &cert, &key, false),
            true,
        ),
        (
            "the client keyPair from files",
            tls("", &cert_file, &key_file, false),
            true,
        ),
        ("InsecureSkipVerify", tls("", "", "", true), true),
        ("only the client cert", tls("", &cert, "", false), false),
        // (Ours took a key without a certificate as no certificate.)
        ("only the client key", tls("", "", &key, false), false),
        // Traefik reads both as PEM, else both as files: one of each is an error. Ours reads
        // each as what it is (README, providers.docker `tls`: "one a file and the other PEM
        // is accepted").
        (
            "only the client cert is a file",
            tls("", &cert_file, &key, false),
            true,
        ),
        (
            "only the client key is a file",
            tls("", &cert, &key_file, false),
            true,
        ),
        (
            "the client cert does not exist",
            tls("", &missing, &key_file, false),
            false,
        ),
        (
            "the client key does not exist",
            tls("", &cert_file, &missing_key, false),
            false,
        ),
        // Not in the table, from CreateTLSConfig: a CA that is no PEM is an error.
        (
            "a CA that is no certificate",
            tls("not a CA", "", "", false),
            false,
        ),
    ] {
        let got = crate::client_tls::config(Some(&t));
        assert_eq!(got.is_ok(), ok, "{case}: {:?}", got.err());
    }
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

// === pkg/tls/generate (DefaultCertificate) ===

#[test]
fn default_certificate() {
    // Traefik's generated default certificate: subject CN `TRAEFIK DEFAULT CERT`, one DNS name
    // `<32 hex>.<32 hex>.traefik.default`. Ours is made per name asked for (README, support
    // matrix: "names without any certificate get a self-signed one per name"), so it names
    // that name.
    // (Ours had rcgen's subject, `CN=rcgen self signed cert`.)
    let p = provider(None).expect("provider");
    let k = crate::tls::self_signed("a.test", &p).expect("self-signed");
    let (names, _) = crate::tls::names_and_expiry(&k.cert[0]).expect("names");
    assert_eq!(names.last().map(String::as_str), Some("a.test"));
    use x509_parser::prelude::FromDer;
    let (_, x) =
        x509_parser::certificate::X509Certificate::from_der(k.cert[0].as_ref()).expect("parse");
    let cn = x
        .subject()
        .iter_common_name()
        .next()
        .map(|c| c.as_str().unwrap_or(""));
    assert_eq!(cn, Some("TRAEFIK DEFAULT CERT"));
}

// === tls.options references (pkg/server/aggregator.go, pkg/server/router/router.go) ===

#[test]
fn options_references() {
    use crate::model::tls::{defined_name, reference};
    // A router's `tls.options`: empty or `default` is the default set; a name without
    // `@` is qualified with the router's provider (GetQualifiedName); a name with `@` is
    // kept as written.
    for (written, provider, traefik) in [
        ("", "docker", "default"),
        ("default", "docker", "default"),
        ("modern", "docker", "modern@docker"),
        ("modern@file", "docker", "modern@file"),
        ("modern", "file", "modern@file"),
        // `default@file` is kept, and no options have that name (the aggregator stores
        // `default` unqualified), so the router is in error. (Ours took it for `default`.)
        ("default@file", "docker", "default@file"),
    ] {
        assert_eq!(reference(written, provider), traefik, "{written}");
    }
    let sets = crate::model::tls::collect(&[], &mut Vec::new());
    let e = crate::model::tls::check(&sets, &reference("default@file", "docker")).unwrap_err();
    assert!(e.contains("\"default@file\", which do not exist"), "{e}");
    // Options defined by a provider are qualified with it, but `default`.
    for (name, provider, traefik) in [
        ("default", "file", "default"),
        ("modern", "file", "modern@file"),
        ("modern", "redis", "modern@redis"),
    ] {
        assert_eq!(defined_name(name, provider), traefik);
    }
}

// === pkg/server/aggregator_test.go (Test_resolveHTTPTLSOptions) ===

/// Compiles `routers` (YAML under `http.routers`, TLS options `optsA`, `optsB`, `optsX`,
/// `optsY` defined) with entry points `ep-a` and `ep-b`; each route's name, entry points and
/// options, and the SNI map.
fn resolved(
    routers: &str,
) -> (
    Vec<(String, Vec<String>, String)>,
    crate::model::tls::SniMap,
) {
    let yaml = format!(
        "http:\n  routers:\n{routers}  services:\n    s:\n      loadBalancer:\n        servers:\n          - url: http://127.0.0.1:1\ntls:\n  options:\n    optsA: {{}}\n    optsB: {{}}\n    optsX: {{}}\n    optsY: {{}}\n"
    );
    let file = crate::provider::file::snapshot_of_yaml(&yaml);
    let ep = |name: &str| crate::model::compile::EntryPointModel {
        name: name.into(),
        ..Default::default()
    };
    let settings = crate::model::compile::CompileSettings {
        entry_points: vec![ep("ep-a"), ep("ep-b")],
        ..Default::default()
    };
    let table = crate::model::compile::compile(vec![&file], &settings);
    let mut routes: Vec<_> = table
        .routes
        .iter()
        .map(|r| (r.name.clone(), r.entrypoints.clone(), r.tls_options.clone()))
        .collect();
    routes.sort();
    (routes, table.sni)
}

fn router(name: &str, eps: &str, rule: &str, options: Option<&str>) -> String {
    let tls = match options {
        Some(o) => format!("      tls:\n        options: {o}\n"),
        None => "      tls: {}\n".into(),
    };
    format!(
        "    {name}:\n      entryPoints: [{eps}]\n      rule: \"{rule}\"\n      service: s\n{tls}"
    )
}

#[test]
fn resolve_http_tls_options() {
    let host = "Host(`example.com`)";
    let row = |n: &str, eps: &[&str], o: &str| {
        (
            n.to_owned(),
            eps.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
            o.to_owned(),
        )
    };
    // "same host, different options, different entryPoints: no conflict".
    let (routes, sni) = resolved(&format!(
        "{}{}",
        router("router-a", "ep-a", host, Some("optsA")),
        router("router-b", "ep-b", host, Some("optsB"))
    ));
    assert_eq!(
        routes,
        [
            row("router-a@file", &["ep-a"], "optsA@file"),
            row("router-b@file", &["ep-b"], "optsB@file")
        ]
    );
    assert_eq!(
        crate::model::tls::select(&sni, "ep-a", Some("example.com")),
        "optsA@file"
    );
    assert_eq!(
        crate::model::tls::select(&sni, "ep-b", Some("example.com")),
        "optsB@file"
    );
    // "same host, different options, same entryPoint: conflict falls back to default".
    // Traefik renames both `ep-a-conflicted-<name>`; ours keep their names (README, TLS
    // options, "Which set a connection gets").
    let (routes, _) = resolved(&format!(
        "{}{}",
        router("router-a", "ep-a", host, Some("optsA")),
        router("router-b", "ep-a", host, Some("optsB"))
    ));
    assert_eq!(
        routes,
        [
            row("router-a@file", &["ep-a"], "default"),
            row("router-b@file", &["ep-a"], "default")
        ]
    );
    // "same host, same options, same entryPoint: keeps the configured options".
    let (routes, _) = resolved(&format!(
        "{}{}",
        router("router-a", "ep-a", host, Some("optsA")),
        router(
            "router-b",
            "ep-a",
            "Host(`example.com`) && PathPrefix(`/foo`)",
            Some("optsA")
        )
    ));
    assert_eq!(
        routes,
        [
            row("router-a@file", &["ep-a"], "optsA@file"),
            row("router-b@file", &["ep-a"], "optsA@file")
        ]
    );
    // "router spanning two entryPoints, conflict on one only: router is duplicated": Traefik
    // keeps `shared` with optsX on ep-b, and adds `ep-a-conflicted-shared` with the default
    // options on ep-a.
    // MISMATCH (not fixed; README, TLS options, "Which set a connection gets": "unlike
    // Traefik, on every entry point they are on"): ours gives `shared` the default options
    // on both entry points.
    let (routes, sni) = resolved(&format!(
        "{}{}",
        router("shared", "ep-a, ep-b", host, Some("optsX")),
        router("other", "ep-a", host, Some("optsY"))
    ));
    assert_eq!(
        routes,
        [
            row("other@file", &["ep-a"], "default"),
            row("shared@file", &["ep-a", "ep-b"], "default")
        ],
        "ours"
    );
    assert_eq!(
        crate::model::tls::select(&sni, "ep-b", Some("example.com")),
        "default",
        "ours"
    );
    // "no domain in rule, non-default options: forced to default" (and renamed in Traefik).
    let (routes, _) = resolved(&router(
        "router-a",
        "ep-a",
        "PathPrefix(`/foo`)",
        Some("optsA"),
    ));
    assert_eq!(routes, [row("router-a@file", &["ep-a"], "default")]);
    // "no domain in rule, implicit default options" and "explicit default options": kept.
    for o in [None, Some("default")] {
        let (routes, _) = resolved(&router("router-a", "ep-a", "PathPrefix(`/foo`)", o));
        assert_eq!(routes, [row("router-a@file", &["ep-a"], "default")]);
    }
}

#[test]
fn every_providers_certificates_share_one_store() {
    // aggregator.go: every provider's `tls.certificates` go into one list; the default store
    // is the one provider's that defines it, and none when several do (an error logged).
    let a = cert_with(&["a.test"], None, 30);
    let b = cert_with(&["b.test"], None, 30);
    let d1 = cert_with(&["default-one.test"], None, 30);
    let d2 = cert_with(&["default-two.test"], None, 30);
    let store = |c: &LoadedCert| {
        Some(crate::tls::DefaultStore {
            certificate: Some(c.key.clone()),
            generated: None,
        })
    };
    let s = server();
    let r = s.resolver();
    r.publish("file", vec![a.clone()], store(&d1));
    // A KV store publishing routers only: the file's certificate and default stay.
    r.publish("etcd", Vec::new(), None);
    assert!(Arc::ptr_eq(&r.configured("a.test").expect("a"), &a.key));
    assert!(Arc::ptr_eq(&r.default_cert().expect("default"), &d1.key));
    // Its own certificate joins them.
    r.publish("etcd", vec![b.clone()], None);
    assert!(r.configured("a.test").is_some() && r.configured("b.test").is_some());
    // A second default store: none at all.
    r.publish("etcd", vec![b.clone()], store(&d2));
    assert!(r.default_cert().is_none());
    // The file's again when the other is gone; its certificates with it.
    r.publish("etcd", Vec::new(), None);
    assert!(Arc::ptr_eq(&r.default_cert().expect("default"), &d1.key));
    assert!(r.configured("b.test").is_none());
}
