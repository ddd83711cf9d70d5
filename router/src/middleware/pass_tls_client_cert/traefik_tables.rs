//! Traefik's tables for `passTLSClientCert` as data, run through [`super::apply`]'s parts:
//! the certificates are the Go test's own (`*.pem` beside this file).

use rustls::pki_types::CertificateDer;

use super::{describe, pem_header, query_escape};
use crate::dynamic::middleware::pass_tls_client_cert::{CertInfo, DnFields};

const MINIMAL: &str = include_str!("minimal.pem");
const MINIMAL_CHEESE: &str = include_str!("minimal_cheese.pem");
const COMPLETE_CHEESE: &str = include_str!("complete_cheese.pem");

fn der(pem: &str) -> CertificateDer<'static> {
    let (_, p) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap();
    CertificateDer::from(p.contents)
}

/// A PEM without its armour and line breaks (Traefik's `sanitize`).
fn clean(pem: &str) -> String {
    pem.replace("-----BEGIN CERTIFICATE-----", "")
        .replace("-----END CERTIFICATE-----", "")
        .replace('\n', "")
}

/// The info header as Traefik writes it: each certificate's fields, `,` between them,
/// query-escaped.
fn info_header(info: &CertInfo, pems: &[&str]) -> String {
    let text: Vec<String> = pems.iter().map(|p| describe(info, &der(p))).collect();
    query_escape(&text.join(","))
}

/// Go's `url.QueryUnescape` of what [`query_escape`] writes.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

// pass_tls_client_cert_test.go, TestPassTLSClientCert_PEM (the rows with a certificate; the
// Go rows "TLS with simple/complete certificate" both use minimalCheeseCrt, and the test
// compares with the certificates given).
#[test]
fn pem() {
    let rows: &[&[&str]] = &[
        &[MINIMAL_CHEESE],
        &[MINIMAL_CHEESE],
        &[MINIMAL, MINIMAL_CHEESE],
    ];
    for pems in rows {
        let certs: Vec<CertificateDer<'static>> = pems.iter().map(|p| der(p)).collect();
        let want: Vec<String> = pems.iter().map(|p| clean(p)).collect();
        assert_eq!(pem_header(&certs), want.join(","));
    }
}

// pass_tls_client_cert_test.go, Test_sanitize "With a minimal cert": the armour and line
// breaks go, the base64 stays.
#[test]
fn sanitize() {
    let certs = [der(MINIMAL_CHEESE)];
    assert!(pem_header(&certs)
        .starts_with("MIIEQDCCAygCFFRY0OBk/L5Se0IZRj3CMljawL2UMA0GCSqGSIb3DQEBCwUAMIIB"));
    assert!(!pem_header(&certs).contains('\n'));
}

const ALL_SUBJECT: DnFields = DnFields {
    country: true,
    province: true,
    locality: true,
    organization: true,
    organizational_unit: true,
    common_name: true,
    serial_number: true,
    domain_component: true,
};

/// Traefik's issuer options have no organizational unit.
const ALL_ISSUER: DnFields = DnFields {
    organizational_unit: false,
    ..ALL_SUBJECT
};

fn all_info() -> CertInfo {
    CertInfo {
        not_after: true,
        not_before: true,
        sans: true,
        serial_number: true,
        subject: Some(ALL_SUBJECT),
        issuer: Some(ALL_ISSUER),
    }
}

const MINIMAL_CHEESE_ALL: &str = concat!(
    r#"Subject="C=FR,ST=Some-State,O=Cheese";"#,
    r#"Issuer="DC=org,DC=cheese,C=FR,C=US,ST=Signing State,ST=Signing State 2,L=TOULOUSE,L=LYON,O=Cheese,O=Cheese 2,CN=Simple Signing CA 2";"#,
    r#"SerialNumber="481535886039632329873080491016862977516759989652";"#,
    r#"NB="1544094636";"#,
    r#"NA="1632568236""#,
);

const COMPLETE_CHEESE_ALL: &str = concat!(
    r#"Subject="DC=org,DC=cheese,C=FR,C=US,ST=Cheese org state,ST=Cheese com state,L=TOULOUSE,L=LYON,O=Cheese,O=Cheese 2,OU=Simple Signing Section,OU=Simple Signing Section 2,CN=*.cheese.com";"#,
    r#"Issuer="DC=org,DC=cheese,C=FR,C=US,ST=Signing State,ST=Signing State 2,L=TOULOUSE,L=LYON,O=Cheese,O=Cheese 2,CN=Simple Signing CA 2";"#,
    r#"SerialNumber="1";"#,
    r#"NB="1544094616";"#,
    r#"NA="1607166616";"#,
    r#"SAN="*.cheese.org,*.cheese.net,*.cheese.com,test@cheese.org,test@cheese.net,10.0.1.0,10.0.1.2""#,
);

// pass_tls_client_cert_test.go, TestPassTLSClientCert_certInfo (the rows with a
// certificate and options; without a certificate nothing is set, `apply` returns first).
#[test]
fn cert_info() {
    let some = CertInfo {
        not_after: true,
        sans: true,
        subject: Some(DnFields {
            organization: true,
            ..DnFields::default()
        }),
        issuer: Some(DnFields {
            country: true,
            ..DnFields::default()
        }),
        ..CertInfo::default()
    };
    // "requesting non-existent info": an OU the certificate does not have.
    let absent = CertInfo {
        subject: Some(DnFields {
            organization: true,
            organizational_unit: true,
            ..DnFields::default()
        }),
        ..some.clone()
    };
    let both = format!("{MINIMAL_CHEESE_ALL},{COMPLETE_CHEESE_ALL}");
    let rows: Vec<(&str, CertInfo, &[&str], &str)> = vec![
        (
            "TLS with simple certificate, with all info",
            all_info(),
            &[MINIMAL_CHEESE],
            MINIMAL_CHEESE_ALL,
        ),
        (
            "TLS with simple certificate, with some info",
            some,
            &[MINIMAL_CHEESE],
            r#"Subject="O=Cheese";Issuer="C=FR,C=US";NA="1632568236""#,
        ),
        (
            "TLS with simple certificate, requesting non-existent info",
            absent,
            &[MINIMAL_CHEESE],
            r#"Subject="O=Cheese";Issuer="C=FR,C=US";NA="1632568236""#,
        ),
        (
            "TLS with complete certificate, with all info",
            all_info(),
            &[COMPLETE_CHEESE],
            COMPLETE_CHEESE_ALL,
        ),
        (
            "TLS with 2 certificates, with all info",
            all_info(),
            &[MINIMAL_CHEESE, COMPLETE_CHEESE],
            &both,
        ),
    ];
    let mut wrong = Vec::new();
    for (desc, info, pems, want) in rows {
        let got = unescape(&info_header(&info, pems));
        if got != want {
            wrong.push(format!("{desc}:\n  ours    {got}\n  Traefik {want}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
