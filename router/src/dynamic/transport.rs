//! `serversTransports`: how the router talks to a service's servers over HTTPS (the CAs that
//! verify them, the name they are asked for, a client certificate) and how long it waits for
//! them. Defined in files (`http.serversTransports.<name>`), named by a service's
//! `loadBalancer.serversTransport`; the static `serversTransport` section is the default.

use std::time::Duration;

use serde::Serialize;

use super::middleware::fields;
use crate::tree::{DecodeError, Node};

/// A servers transport.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServersTransport {
    /// The name asked for with SNI and verified (default: the server URL's host).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub server_name: String,
    /// Accept any certificate.
    pub insecure_skip_verify: bool,
    /// CAs that verify the servers (files or PEM); none: Mozilla's roots.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub root_cas: Vec<String>,
    /// Client certificates (cert, key; files or PEM), for servers that want mutual TLS.
    #[serde(skip)]
    pub certificates: Vec<(String, String)>,
    /// `forwardingTimeouts.dialTimeout` (Traefik's default 30s).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::tree::ser_go_duration_opt"
    )]
    pub dial_timeout: Option<Duration>,
    /// `forwardingTimeouts.responseHeaderTimeout` (0: none).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::tree::ser_go_duration_opt"
    )]
    pub response_header_timeout: Option<Duration>,
    /// `minVersion: VersionTLS13`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub min_tls13: bool,
    /// `maxVersion: VersionTLS12`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub max_tls12: bool,
    /// `cipherSuites`: the TLS 1.2 suites offered (rustls names).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cipher_suites: Option<Vec<String>>,
    /// `peerCertSANs` (and `peerCertURI`): the server's certificate must name one of these.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub peer_cert_sans: Vec<PeerSan>,
}

/// A name a server's certificate must have.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct PeerSan {
    /// A URI name (else a DNS name, wildcards in the certificate matching as usual).
    pub uri: bool,
    pub value: String,
}

/// Options read and accepted without changing anything: they tune Go's connection pool and
/// HTTP/2 client, which the router (HTTP/1.1 to servers, its own pool) does not have.
const NO_EFFECT: &[&str] = &["maxIdleConnsPerHost", "disableHTTP2"];
const NO_EFFECT_TIMEOUTS: &[&str] = &["idleConnTimeout", "readIdleTimeout", "pingTimeout"];

/// Decodes one `serversTransports.<name>` (or the static `serversTransport`, where only
/// some keys exist: the caller checks which).
pub fn decode(node: &Node) -> Result<ServersTransport, DecodeError> {
    let mut f = fields(
        node,
        &[
            "serverName",
            "insecureSkipVerify",
            "rootCAs",
            "certificates",
            "forwardingTimeouts",
            "maxIdleConnsPerHost",
            "disableHTTP2",
            "minVersion",
            "maxVersion",
            "cipherSuites",
            "peerCertSANs",
            "peerCertURI",
        ],
    )?;
    for k in NO_EFFECT {
        if let Some(n) = f.take(k) {
            n.text()?;
        }
    }
    let mut t = ServersTransport {
        server_name: f
            .take("serverName")
            .map(Node::text)
            .transpose()?
            .unwrap_or("")
            .to_owned(),
        insecure_skip_verify: f
            .take("insecureSkipVerify")
            .map(Node::boolean)
            .transpose()?
            .unwrap_or(false),
        root_cas: f
            .take("rootCAs")
            .map(Node::strings)
            .transpose()?
            .unwrap_or_default(),
        ..Default::default()
    };
    if let Some(n) = f.take("certificates") {
        for item in n.items()? {
            let mut c = fields(item, &["certFile", "keyFile"])?;
            let cert = c
                .take("certFile")
                .map(Node::text)
                .transpose()?
                .unwrap_or("");
            let key = c.take("keyFile").map(Node::text).transpose()?.unwrap_or("");
            if cert.is_empty() || key.is_empty() {
                return Err(DecodeError::at(
                    item,
                    "a certificate needs certFile and keyFile",
                ));
            }
            t.certificates.push((cert.to_owned(), key.to_owned()));
        }
    }
    tls_limits(&mut f, &mut t)?;
    peer_sans(&mut f, &mut t)?;
    if let Some(n) = f.take("forwardingTimeouts") {
        let mut ft = fields(
            n,
            &[
                "dialTimeout",
                "responseHeaderTimeout",
                "idleConnTimeout",
                "readIdleTimeout",
                "pingTimeout",
            ],
        )?;
        for k in NO_EFFECT_TIMEOUTS {
            if let Some(n) = ft.take(k) {
                n.duration()?;
            }
        }
        let nonzero = |d: std::time::Duration| (!d.is_zero()).then_some(d);
        t.dial_timeout = ft
            .take("dialTimeout")
            .map(Node::duration)
            .transpose()?
            .and_then(nonzero);
        t.response_header_timeout = ft
            .take("responseHeaderTimeout")
            .map(Node::duration)
            .transpose()?
            .and_then(nonzero);
    }
    Ok(t)
}

/// `peerCertSANs` (`[{type: DNSName|URI, value}]`) and the deprecated `peerCertURI`.
fn peer_sans(f: &mut crate::tree::Fields<'_>, t: &mut ServersTransport) -> Result<(), DecodeError> {
    if let Some(list) = f.take("peerCertSANs") {
        for item in list.items()? {
            let mut g = fields(item, &["type", "value"])?;
            let kind = g
                .take("type")
                .ok_or_else(|| DecodeError::at(item, "a SAN needs a type"))?;
            // Traefik's constants, as written (another value would never match there).
            let uri = match kind.text()?.trim() {
                "DNSName" => false,
                "URI" => true,
                other => {
                    return Err(DecodeError::at(
                        kind,
                        format!("expected DNSName or URI, got {other:?}"),
                    ))
                }
            };
            let value = g
                .take("value")
                .ok_or_else(|| DecodeError::at(item, "a SAN needs a value"))?
                .text()?
                .trim()
                .to_owned();
            if value.is_empty() {
                return Err(DecodeError::at(item, "a SAN needs a value"));
            }
            t.peer_cert_sans.push(PeerSan { uri, value });
        }
    }
    if let Some(u) = f.take("peerCertURI") {
        let value = u.text()?.trim().to_owned();
        if !value.is_empty() {
            t.peer_cert_sans.push(PeerSan { uri: true, value });
        }
    }
    Ok(())
}

/// `minVersion`, `maxVersion` and `cipherSuites`, as the TLS options read them. The router
/// never speaks TLS 1.0 or 1.1: a minimum below 1.2 is 1.2, a maximum below it an error, and a
/// suite it never offers (CBC, RSA key exchange) is an error here (a backend that needs one
/// cannot be reached).
fn tls_limits(
    f: &mut crate::tree::Fields<'_>,
    t: &mut ServersTransport,
) -> Result<(), DecodeError> {
    if let Some(v) = f.take("minVersion") {
        t.min_tls13 = super::tls::version(v)? == 13;
    }
    if let Some(v) = f.take("maxVersion") {
        t.max_tls12 = super::tls::max_is_tls12(v)?;
    }
    if t.min_tls13 && t.max_tls12 {
        return Err(DecodeError::at(f.node(), "minVersion is above maxVersion"));
    }
    if let Some(c) = f.take("cipherSuites") {
        let mut left_out = Vec::new();
        let suites = super::tls::cipher_suites(c, &mut left_out)?;
        if let Some(e) = left_out.into_iter().next() {
            return Err(e);
        }
        if suites.is_empty() && t.max_tls12 {
            return Err(DecodeError::at(
                c,
                "no TLS 1.2 cipher suite is listed, and TLS 1.3 is off",
            ));
        }
        t.cipher_suites = Some(suites);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traefiks_keys_are_read_and_the_unsupported_refused() {
        let n = Node::from_yaml(
            "serverName: app.internal\ninsecureSkipVerify: true\nrootCAs: [/ca.pem]\ncertificates:\n  - certFile: /c.pem\n    keyFile: /k.pem\nforwardingTimeouts:\n  dialTimeout: 5s\n  responseHeaderTimeout: 0s\n  idleConnTimeout: 1m\nmaxIdleConnsPerHost: 7\ndisableHTTP2: true\n",
            "t",
        )
        .unwrap();
        let t = decode(&n).unwrap();
        assert_eq!(t.server_name, "app.internal");
        assert!(t.insecure_skip_verify);
        assert_eq!(t.root_cas, ["/ca.pem"]);
        assert_eq!(t.certificates, [("/c.pem".to_owned(), "/k.pem".to_owned())]);
        assert_eq!(t.dial_timeout, Some(Duration::from_secs(5)));
        assert_eq!(t.response_header_timeout, None);
        let n = Node::from_yaml(
            "minVersion: VersionTLS10\nmaxVersion: VersionTLS12\ncipherSuites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256]\n",
            "t",
        )
        .unwrap();
        let t = decode(&n).unwrap();
        assert!(!t.min_tls13 && t.max_tls12);
        let n = Node::from_yaml(
            "peerCertSANs: [{type: DNSName, value: a.internal}]\npeerCertURI: spiffe://x/y\n",
            "t",
        )
        .unwrap();
        assert_eq!(
            decode(&n).unwrap().peer_cert_sans,
            [
                PeerSan {
                    uri: false,
                    value: "a.internal".into()
                },
                PeerSan {
                    uri: true,
                    value: "spiffe://x/y".into()
                }
            ]
        );
        assert_eq!(
            t.cipher_suites.as_deref(),
            Some(&["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".to_owned()][..])
        );
        for bad in [
            "maxVersion: VersionTLS11\n",
            "minVersion: VersionTLS13\nmaxVersion: VersionTLS12\n",
            "cipherSuites: [TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA]\n",
            "cipherSuites: [TLS_NOPE]\n",
            "maxVersion: VersionTLS12\ncipherSuites: [TLS_AES_128_GCM_SHA256]\n",
            "peerCertSANs: [a]\n",
            "peerCertSANs: [{type: IP, value: 10.0.0.1}]\n",
            "peerCertSANs: [{type: URI}]\n",
            "spiffe: {}\n",
            "certificates:\n  - certFile: /c\n",
        ] {
            let n = Node::from_yaml(bad, "t").unwrap();
            assert!(decode(&n).is_err(), "{bad}");
        }
    }
}
