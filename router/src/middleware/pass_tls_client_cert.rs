//! `passTLSClientCert`: the mutual-TLS client's certificates to the backend, as Traefik
//! writes them: `X-Forwarded-Tls-Client-Cert` holds each certificate's DER in base64 (a PEM
//! without its armour and line breaks), `,` between certificates; `X-Forwarded-Tls-Client-Cert-Info`
//! holds the chosen fields (`Subject="C=..,CN=.."`, `Issuer=".."`, `SerialNumber=".."`,
//! `NB=".."`, `NA=".."`, `SAN=".."`, `;` between fields, `,` between certificates),
//! query-escaped as Go's `url.QueryEscape` does. Without a client certificate nothing is set
//! (an untrusted client's own copies of these headers are already gone).

use base64::Engine;
use hyper::header::{HeaderName, HeaderValue};
use rustls::pki_types::CertificateDer;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate, X509Name};

use super::{Flow, Request};
use crate::dynamic::middleware::pass_tls_client_cert::{CertInfo, DnFields, PassTlsClientCert};
use crate::proxy::ProxyError;

const CERT: HeaderName = HeaderName::from_static("x-forwarded-tls-client-cert");
const INFO: HeaderName = HeaderName::from_static("x-forwarded-tls-client-cert-info");

/// Sets the headers from the connection's client certificates.
pub fn apply(cfg: &PassTlsClientCert, r: &mut Request<'_, '_>) -> Result<Flow, ProxyError> {
    let Some(certs) = r.inbound.client_certs.filter(|c| !c.is_empty()) else {
        return Ok(Flow::Next);
    };
    if cfg.pem {
        if let Ok(v) = HeaderValue::from_str(&pem_header(certs)) {
            r.headers.insert(CERT, v);
        }
    }
    if let Some(info) = &cfg.info {
        let text: Vec<String> = certs.iter().map(|c| describe(info, c)).collect();
        if let Ok(v) = HeaderValue::from_str(&query_escape(&text.join(","))) {
            r.headers.insert(INFO, v);
        }
    }
    Ok(Flow::Next)
}

/// `X-Forwarded-Tls-Client-Cert`: each certificate's DER in base64 (its PEM without armour
/// and line breaks, as Traefik's `sanitize` leaves it), `,` between certificates.
fn pem_header(certs: &[CertificateDer<'_>]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let text: Vec<String> = certs.iter().map(|c| b64.encode(c.as_ref())).collect();
    text.join(",")
}

/// One certificate's chosen fields (empty when it does not parse: it passed the handshake's
/// verification, so that does not happen).
fn describe(info: &CertInfo, der: &CertificateDer<'_>) -> String {
    let Ok((_, cert)) = X509Certificate::from_der(der.as_ref()) else {
        return String::new();
    };
    let mut values = Vec::new();
    if let Some(d) = &info.subject {
        push_dn(&mut values, "Subject", cert.subject(), d, true);
    }
    if let Some(d) = &info.issuer {
        push_dn(&mut values, "Issuer", cert.issuer(), d, false);
    }
    if info.serial_number {
        values.push(format!("SerialNumber=\"{}\"", cert.serial));
    }
    if info.not_before {
        values.push(format!(
            "NB=\"{}\"",
            cert.validity().not_before.timestamp().max(0)
        ));
    }
    if info.not_after {
        values.push(format!(
            "NA=\"{}\"",
            cert.validity().not_after.timestamp().max(0)
        ));
    }
    if info.sans {
        let sans = sans(&cert);
        if !sans.is_empty() {
            values.push(format!("SAN=\"{}\"", sans.join(",")));
        }
    }
    values.join(";")
}

/// `Subject="..."`: the chosen parts in Go's order (DC as they come, then C, ST, L, O, OU,
/// SN, CN; of several CN or SN, the last), when there is any.
fn push_dn(out: &mut Vec<String>, label: &str, name: &X509Name<'_>, d: &DnFields, subject: bool) {
    let values = |oid: &str| -> Vec<String> {
        name.iter_attributes()
            .filter(|a| a.attr_type().to_id_string() == oid)
            .filter_map(|a| a.as_str().ok().map(str::to_owned))
            .filter(|v| !v.is_empty())
            .collect()
    };
    let mut parts = Vec::new();
    let mut all = |on: bool, oid: &str, prefix: &str| {
        if on {
            parts.extend(values(oid).into_iter().map(|v| format!("{prefix}={v}")));
        }
    };
    all(d.domain_component, "0.9.2342.19200300.100.1.25", "DC");
    all(d.country, "2.5.4.6", "C");
    all(d.province, "2.5.4.8", "ST");
    all(d.locality, "2.5.4.7", "L");
    all(d.organization, "2.5.4.10", "O");
    all(subject && d.organizational_unit, "2.5.4.11", "OU");
    let mut last = |on: bool, oid: &str, prefix: &str| {
        if let Some(v) = values(oid).pop().filter(|_| on) {
            parts.push(format!("{prefix}={v}"));
        }
    };
    last(d.serial_number, "2.5.4.5", "SN");
    last(d.common_name, "2.5.4.3", "CN");
    if !parts.is_empty() {
        out.push(format!("{label}=\"{}\"", parts.join(",")));
    }
}

/// DNS names, then e-mail addresses, then IP addresses, then URIs (Go's order).
fn sans(cert: &X509Certificate<'_>) -> Vec<String> {
    let Ok(Some(ext)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    let names = &ext.value.general_names;
    let mut out: Vec<String> = Vec::new();
    for pick in 0..4 {
        for n in names {
            match (pick, n) {
                (0, GeneralName::DNSName(d)) | (1, GeneralName::RFC822Name(d)) => {
                    out.push((*d).to_owned());
                }
                (2, GeneralName::IPAddress(b)) => {
                    if let Some(ip) = ip(b) {
                        out.push(ip.to_string());
                    }
                }
                (3, GeneralName::URI(u)) => out.push((*u).to_owned()),
                _ => {}
            }
        }
    }
    out
}

fn ip(b: &[u8]) -> Option<std::net::IpAddr> {
    match b.len() {
        4 => Some(std::net::IpAddr::from(<[u8; 4]>::try_from(b).ok()?)),
        16 => {
            let v6 = std::net::Ipv6Addr::from(<[u8; 16]>::try_from(b).ok()?);
            // Go prints an IPv4-mapped address as IPv4.
            Some(
                v6.to_ipv4_mapped()
                    .map_or(std::net::IpAddr::V6(v6), std::net::IpAddr::V4),
            )
        }
        _ => None,
    }
}

/// Go's `url.QueryEscape`: letters, digits and `-_.~` kept, space as `+`, the rest `%XX`.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char);
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod traefik_tables;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_as_go_does() {
        assert_eq!(
            query_escape(r#"Subject="C=FR,CN=a b";NB="1""#),
            "Subject%3D%22C%3DFR%2CCN%3Da+b%22%3BNB%3D%221%22"
        );
        assert_eq!(query_escape("a-b_c.d~é"), "a-b_c.d~%C3%A9");
    }

    #[test]
    fn fields_in_traefiks_order() {
        let mut params =
            rcgen::CertificateParams::new(vec!["a.test".into(), "b.test".into()]).unwrap();
        params
            .subject_alt_names
            .push(rcgen::SanType::IpAddress("10.0.0.1".parse().unwrap()));
        params
            .subject_alt_names
            .push(rcgen::SanType::Rfc822Name("me@a.test".try_into().unwrap()));
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CommonName, "client");
        dn.push(rcgen::DnType::OrganizationName, "Org");
        dn.push(rcgen::DnType::CountryName, "FR");
        dn.push(rcgen::DnType::OrganizationalUnitName, "Unit");
        params.distinguished_name = dn;
        params.serial_number = Some(rcgen::SerialNumber::from(vec![0x01, 0x00]));
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let info = CertInfo {
            sans: true,
            serial_number: true,
            subject: Some(DnFields {
                country: true,
                organization: true,
                organizational_unit: true,
                common_name: true,
                ..Default::default()
            }),
            issuer: Some(DnFields {
                common_name: true,
                organizational_unit: true, // the issuer has no OU field in Traefik
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            describe(&info, cert.der()),
            r#"Subject="C=FR,O=Org,OU=Unit,CN=client";Issuer="CN=client";SerialNumber="256";SAN="a.test,b.test,me@a.test,10.0.0.1""#
        );
    }
}
