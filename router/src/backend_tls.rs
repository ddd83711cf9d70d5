//! TLS to `https://` servers, per servers transport and server name: the rustls client
//! configuration is built once (CA files read once) and shared by every connection, on the
//! HTTP/1.1 raw path ([`BackendTls::connector`]) and by HTTP/2 clients' pooled hyper client
//! ([`BackendTls::client`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rustls_pki_types::ServerName;

use crate::dynamic::ServersTransport;
use crate::proxy::ProxyBody;

/// The pooled client HTTP/2 clients' requests to `https://` servers take.
pub type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, ProxyBody>;

/// What connecting to one kind of `https://` server needs.
pub struct BackendTls {
    config: Arc<rustls::ClientConfig>,
    name: ServerName<'static>,
    /// Identifies it among kept connections (a connection is reused only for the same
    /// transport and name).
    pub id: usize,
    client: OnceLock<HttpsClient>,
    /// The configuration without ALPN.
    raw: OnceLock<Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for BackendTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackendTls")
            .field("name", &self.name)
            .field("id", &self.id)
            .finish()
    }
}

impl BackendTls {
    /// A TLS connector and the name to ask for.
    pub fn connector(&self) -> (tokio_rustls::TlsConnector, ServerName<'static>) {
        (
            tokio_rustls::TlsConnector::from(self.config.clone()),
            self.name.clone(),
        )
    }

    /// A TLS connector without ALPN (the TCP proxy's: the bytes are not HTTP's), and the
    /// name to ask for.
    pub fn raw_connector(&self) -> (tokio_rustls::TlsConnector, ServerName<'static>) {
        let config = self.raw.get_or_init(|| {
            let mut c = (*self.config).clone();
            c.alpn_protocols.clear();
            Arc::new(c)
        });
        (
            tokio_rustls::TlsConnector::from(config.clone()),
            self.name.clone(),
        )
    }

    /// The pooled hyper client (HTTP/1.1 over TLS, the name fixed).
    pub fn client(&self) -> &HttpsClient {
        self.client.get_or_init(|| {
            let mut http = HttpConnector::new();
            http.enforce_http(false);
            http.set_nodelay(true);
            // hyper-rustls sets ALPN itself (and refuses a configuration that has it).
            let mut config = (*self.config).clone();
            config.alpn_protocols.clear();
            let https = hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config(config)
                .https_only()
                .with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(
                    self.name.clone(),
                ))
                .enable_http1()
                .wrap_connector(http);
            Client::builder(TokioExecutor::new()).build(https)
        })
    }
}

/// Every [`BackendTls`] made, by transport and name.
#[derive(Debug, Default)]
pub struct Cache(Mutex<HashMap<(ServersTransport, String), Arc<BackendTls>>>);

impl Cache {
    /// The TLS for a server of `url` (`https://host:port`) through `transport`: the name
    /// asked for is the transport's `serverName`, else the URL's host (an address is
    /// verified as one).
    pub fn get(&self, transport: &ServersTransport, url: &str) -> Result<Arc<BackendTls>, String> {
        let name = if transport.server_name.is_empty() {
            host_of(url).to_owned()
        } else {
            transport.server_name.clone()
        };
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (transport.clone(), name);
        if let Some(t) = map.get(&key) {
            return Ok(t.clone());
        }
        let cas: Vec<&str> = transport.root_cas.iter().map(String::as_str).collect();
        let cert = transport
            .certificates
            .first()
            .map(|(c, k)| (c.as_str(), k.as_str()));
        let mut config = crate::client_tls::build(
            &cas,
            cert,
            transport.insecure_skip_verify,
            "serversTransport ",
            &crate::client_tls::Limits {
                min_tls13: transport.min_tls13,
                max_tls12: transport.max_tls12,
                suites: transport.cipher_suites.as_deref(),
                peer_sans: &transport.peer_cert_sans,
            },
        )?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let server_name = ServerName::try_from(key.1.clone())
            .map_err(|_| format!("{:?} is not a valid server name", key.1))?;
        let t = Arc::new(BackendTls {
            config: Arc::new(config),
            name: server_name,
            id: map.len() + 1,
            client: OnceLock::new(),
            raw: OnceLock::new(),
        });
        map.insert(key, t.clone());
        Ok(t)
    }
}

/// The host of `scheme://host:port` (an IPv6 address without its brackets).
pub fn host_of(url: &str) -> &str {
    let authority = url.split_once("://").map_or(url, |(_, a)| a);
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    authority.rsplit_once(':').map_or(authority, |(h, _)| h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_transport_else_the_url() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let c = Cache::default();
        let t = ServersTransport {
            insecure_skip_verify: true,
            ..Default::default()
        };
        assert_eq!(
            format!("{:?}", c.get(&t, "https://10.0.0.2:9443").unwrap().name),
            "IpAddress(V4(Ipv4Addr([10, 0, 0, 2])))"
        );
        let named = ServersTransport {
            server_name: "app.internal".into(),
            ..t.clone()
        };
        let a = c.get(&named, "https://10.0.0.2:9443").unwrap();
        assert!(format!("{:?}", a.name).contains("app.internal"));
        // The same transport and name: the same one.
        assert_eq!(c.get(&named, "https://10.0.0.3:1").unwrap().id, a.id);
        assert_eq!(host_of("https://[::1]:443"), "::1");
        assert!(c
            .get(
                &ServersTransport {
                    root_cas: vec!["/nonexistent.pem".into()],
                    ..Default::default()
                },
                "https://a:1"
            )
            .is_err());
    }
}
