//! `passTLSClientCert`: the client certificate of a mutual-TLS connection, passed to the
//! backend in `X-Forwarded-Tls-Client-Cert` (`pem`) and selected fields of it in
//! `X-Forwarded-Tls-Client-Cert-Info` (`info`), as Traefik writes them.

use serde::Serialize;

use super::{fields, Middleware};
use crate::tree::{DecodeError, Node};

/// A `passTLSClientCert` middleware.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PassTlsClientCert {
    /// The certificates themselves.
    pub pem: bool,
    /// The fields to pass (none: no info header).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<CertInfo>,
}

/// `info`: which fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertInfo {
    pub not_after: bool,
    pub not_before: bool,
    pub sans: bool,
    pub serial_number: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<DnFields>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<DnFields>,
}

/// The parts of a distinguished name to pass (`organizationalUnit` only for the subject).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DnFields {
    pub country: bool,
    pub province: bool,
    pub locality: bool,
    pub organization: bool,
    pub organizational_unit: bool,
    pub common_name: bool,
    pub serial_number: bool,
    pub domain_component: bool,
}

/// Decodes `passTLSClientCert`.
pub fn decode(kind: &Node) -> Result<Middleware, DecodeError> {
    let mut f = fields(kind, &["pem", "info"])?;
    let pem = flag(f.take("pem"))?;
    let info = f.take("info").map(info).transpose()?;
    Ok(Middleware::PassTlsClientCert(Box::new(PassTlsClientCert {
        pem,
        info,
    })))
}

fn flag(n: Option<&Node>) -> Result<bool, DecodeError> {
    n.map(Node::boolean)
        .transpose()
        .map(Option::unwrap_or_default)
}

fn info(n: &Node) -> Result<CertInfo, DecodeError> {
    let mut f = fields(
        n,
        &[
            "notAfter",
            "notBefore",
            "sans",
            "serialNumber",
            "subject",
            "issuer",
        ],
    )?;
    Ok(CertInfo {
        not_after: flag(f.take("notAfter"))?,
        not_before: flag(f.take("notBefore"))?,
        sans: flag(f.take("sans"))?,
        serial_number: flag(f.take("serialNumber"))?,
        subject: f.take("subject").map(|n| dn(n, true)).transpose()?,
        issuer: f.take("issuer").map(|n| dn(n, false)).transpose()?,
    })
}

fn dn(n: &Node, subject: bool) -> Result<DnFields, DecodeError> {
    let mut known = vec![
        "country",
        "province",
        "locality",
        "organization",
        "commonName",
        "serialNumber",
        "domainComponent",
    ];
    if subject {
        known.push("organizationalUnit");
    }
    let mut f = fields(n, &known)?;
    Ok(DnFields {
        country: flag(f.take("country"))?,
        province: flag(f.take("province"))?,
        locality: flag(f.take("locality"))?,
        organization: flag(f.take("organization"))?,
        organizational_unit: flag(f.take("organizationalUnit"))?,
        common_name: flag(f.take("commonName"))?,
        serial_number: flag(f.take("serialNumber"))?,
        domain_component: flag(f.take("domainComponent"))?,
    })
}
