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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dial_timeout: Option<Duration>,
    /// `forwardingTimeouts.responseHeaderTimeout` (0: none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_header_timeout: Option<Duration>,
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
        for bad in [
            "minVersion: VersionTLS12\n",
            "spiffe: {}\n",
            "certificates:\n  - certFile: /c\n",
        ] {
            let n = Node::from_yaml(bad, "t").unwrap();
            assert!(decode(&n).is_err(), "{bad}");
        }
    }
}
