//! `forwardAuth`: every request is first asked of an authentication server (Authelia,
//! Authentik, oauth2-proxy, tinyauth); a 2xx lets it through with headers copied from that
//! answer, anything else is the client's answer. Decoded with Traefik's option names and
//! defaults.

use serde::Serialize;

use super::rewrite::GoRegex;
use super::{fields, Middleware};
use crate::tree::{DecodeError, Node};

/// A `forwardAuth` middleware.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ForwardAuth {
    /// The authentication server's URL (`http://` or `https://`), asked as is.
    pub address: String,
    /// How to reach it over HTTPS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<ClientTls>,
    /// `trustForwardHeader`: unset keeps Traefik's older behaviour (the client's
    /// `X-Forwarded-For` replaced, the other `X-Forwarded-*` the router set passed on); `false`
    /// sends only the router's own; `true` keeps the client's when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trust_forward_header: Option<bool>,
    /// Headers copied from a 2xx answer onto the forwarded request (replacing the client's).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub auth_response_headers: Vec<String>,
    /// Headers matching it are removed from the request and copied from a 2xx answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_response_headers_regex: Option<GoRegex>,
    /// The request headers sent to the server (all when empty).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub auth_request_headers: Vec<String>,
    /// Cookies of a 2xx answer set on the client's answer too.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub add_auth_cookies_to_response: Vec<String>,
    /// A header of the server's answer naming the user (for the access log).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header_field: Option<String>,
    /// The largest answer body read from the server; `None`: Traefik's unlimited, which the
    /// router caps at [`DEFAULT_MAX_RESPONSE_BODY`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_response_body_size: Option<u64>,
    /// `forwardBody`: the request's body goes to the server too (read whole first, then
    /// sent on to the backend).
    pub forward_body: bool,
    /// `maxBodySize`: the largest body read for it (a larger one is answered 401); `None`:
    /// Traefik's unlimited, which the router caps at [`DEFAULT_MAX_BODY`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_body_size: Option<u64>,
    /// Pass a relative `Location` of a refusal unchanged (else it is made absolute against
    /// the server's URL).
    pub preserve_location_header: bool,
    /// Ask with the request's method rather than `GET`.
    pub preserve_request_method: bool,
    /// Where a 401 of the server redirects (302) instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_signin_url: Option<String>,
}

/// The largest authentication answer read when `maxResponseBodySize` is not set (Traefik
/// reads without limit; a login page is a few kilobytes).
pub const DEFAULT_MAX_RESPONSE_BODY: u64 = 4 << 20;

/// The largest request body read for `forwardBody` when `maxBodySize` is not set (Traefik
/// reads without limit and warns that it should be set; the body is held in memory).
pub const DEFAULT_MAX_BODY: u64 = 16 << 20;

/// `tls` of a forwardAuth (or of anything Traefik calls a `ClientTLS`): CA, client
/// certificate and key, each a file path or PEM text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientTls {
    /// CAs that verify the server (else the system's web roots).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ca: String,
    /// A client certificate.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cert: String,
    /// Its key.
    #[serde(skip)]
    pub key: String,
    /// Accept any server certificate.
    pub insecure_skip_verify: bool,
}

/// Decodes `forwardAuth`.
pub fn decode(kind: &Node) -> Result<Middleware, DecodeError> {
    let mut f = fields(
        kind,
        &[
            "address",
            "tls",
            "trustForwardHeader",
            "authResponseHeaders",
            "authResponseHeadersRegex",
            "authRequestHeaders",
            "addAuthCookiesToResponse",
            "headerField",
            "maxResponseBodySize",
            "forwardBody",
            "maxBodySize",
            "preserveLocationHeader",
            "preserveRequestMethod",
            "authSigninURL",
        ],
    )?;
    let n = f
        .take("address")
        .ok_or_else(|| DecodeError::at(kind, "forwardauth needs an address"))?;
    let address = http_url(n)?;
    let boolean = |n: Option<&Node>| n.map(Node::boolean).transpose();
    let forward_body = boolean(f.take("forwardBody"))?.unwrap_or(false);
    // Negative is Traefik's unlimited.
    let max_body_size = match f.take("maxBodySize") {
        None => None,
        Some(n) => u64::try_from(n.integer()?).ok(),
    };
    let max_response_body_size = match f.take("maxResponseBodySize") {
        None => None,
        Some(n) => u64::try_from(n.integer()?).ok(),
    };
    let auth_response_headers_regex = match f.take("authResponseHeadersRegex") {
        Some(n) if !n.text()?.is_empty() => {
            Some(GoRegex::new(n.text()?).map_err(|e| DecodeError::at(n, e))?)
        }
        _ => None,
    };
    let auth_signin_url = match f.take("authSigninURL") {
        Some(n) if !n.text()?.is_empty() => Some(location(n)?),
        _ => None,
    };
    Ok(Middleware::ForwardAuth(Box::new(ForwardAuth {
        address,
        tls: f.take("tls").map(client_tls).transpose()?,
        trust_forward_header: boolean(f.take("trustForwardHeader"))?,
        auth_response_headers: header_names(f.take("authResponseHeaders"))?,
        auth_response_headers_regex,
        auth_request_headers: header_names(f.take("authRequestHeaders"))?,
        add_auth_cookies_to_response: f
            .take("addAuthCookiesToResponse")
            .map(Node::strings)
            .transpose()?
            .unwrap_or_default(),
        header_field: header_names(f.take("headerField"))?.into_iter().next(),
        max_response_body_size,
        forward_body,
        max_body_size,
        preserve_location_header: boolean(f.take("preserveLocationHeader"))?.unwrap_or(false),
        preserve_request_method: boolean(f.take("preserveRequestMethod"))?.unwrap_or(false),
        auth_signin_url,
    })))
}

/// An absolute `http://` or `https://` URL with a host.
fn http_url(n: &Node) -> Result<String, DecodeError> {
    let t = n.text()?.trim();
    let uri: http::Uri = t.parse().map_err(|_| {
        DecodeError::at(n, format!("expected an http:// or https:// URL, got {t:?}"))
    })?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(h)) if !h.is_empty() => Ok(t.to_owned()),
        _ => Err(DecodeError::at(
            n,
            format!("expected an http:// or https:// URL, got {t:?}"),
        )),
    }
}

/// A URL fit for a `Location` header.
fn location(n: &Node) -> Result<String, DecodeError> {
    let t = n.text()?.trim();
    if http::HeaderValue::from_str(t).is_err() || t.parse::<http::Uri>().is_err() {
        return Err(DecodeError::at(n, format!("invalid URL {t:?}")));
    }
    Ok(t.to_owned())
}

fn header_names(n: Option<&Node>) -> Result<Vec<String>, DecodeError> {
    let Some(n) = n else { return Ok(Vec::new()) };
    let names = n.strings()?;
    for h in &names {
        if http::HeaderName::from_bytes(h.as_bytes()).is_err() {
            return Err(DecodeError::at(n, format!("invalid header name {h:?}")));
        }
    }
    Ok(names)
}

/// Decodes a `ClientTLS` (`ca`, `cert`, `key`, `insecureSkipVerify`; v2's `caOptional`
/// accepted): a forwardAuth's `tls`, and the Docker and Swarm providers' (`providers.*.tls`).
pub fn client_tls(n: &Node) -> Result<ClientTls, DecodeError> {
    let mut f = fields(
        n,
        &["ca", "cert", "key", "insecureSkipVerify", "caOptional"],
    )?;
    if let Some(c) = f.take("caOptional") {
        c.boolean()?; // Deprecated in Traefik and without effect on a client.
    }
    let text = |x: Option<&Node>| -> Result<String, DecodeError> {
        Ok(x.map(Node::text)
            .transpose()?
            .unwrap_or_default()
            .to_owned())
    };
    let tls = ClientTls {
        ca: text(f.take("ca"))?,
        cert: text(f.take("cert"))?,
        key: text(f.take("key"))?,
        insecure_skip_verify: f
            .take("insecureSkipVerify")
            .map(Node::boolean)
            .transpose()?
            .unwrap_or(false),
    };
    if tls.cert.is_empty() != tls.key.is_empty() {
        return Err(DecodeError::at(n, "tls.cert and tls.key go together"));
    }
    Ok(tls)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(yaml: &str) -> Result<Option<Middleware>, DecodeError> {
        let node = Node::from_yaml(yaml, "m").unwrap();
        super::super::decode(&node)
    }

    #[test]
    fn every_option_is_read_with_traefiks_names_in_any_case() {
        let m = one(
            "forwardAuth:\n  address: https://auth.example:9091/api/verify?rd=https://login\n  trustForwardHeader: true\n  authResponseHeaders: [Remote-User, Remote-Groups]\n  authResponseHeadersRegex: ^X-Auth-\n  AUTHREQUESTHEADERS: Cookie,Authorization\n  addAuthCookiesToResponse: [session]\n  headerField: X-User\n  maxResponseBodySize: 1024\n  maxBodySize: 10\n  forwardBody: true\n  preserveLocationHeader: true\n  preserveRequestMethod: true\n  authSigninURL: https://login.example/\n  tls:\n    ca: /ca.pem\n    insecureSkipVerify: true\n",
        )
        .unwrap()
        .unwrap();
        let Middleware::ForwardAuth(fa) = m else {
            panic!("{m:?}")
        };
        assert_eq!(
            fa.address,
            "https://auth.example:9091/api/verify?rd=https://login"
        );
        assert_eq!(fa.trust_forward_header, Some(true));
        assert_eq!(fa.auth_response_headers, ["Remote-User", "Remote-Groups"]);
        assert_eq!(
            fa.auth_response_headers_regex.as_ref().unwrap().pattern(),
            "^X-Auth-"
        );
        assert_eq!(fa.auth_request_headers, ["Cookie", "Authorization"]);
        assert_eq!(fa.add_auth_cookies_to_response, ["session"]);
        assert_eq!(fa.max_response_body_size, Some(1024));
        assert!(fa.forward_body);
        assert_eq!(fa.max_body_size, Some(10));
        assert!(fa.preserve_location_header && fa.preserve_request_method);
        assert_eq!(
            fa.auth_signin_url.as_deref(),
            Some("https://login.example/")
        );
        let tls = fa.tls.unwrap();
        assert_eq!(tls.ca, "/ca.pem");
        assert!(tls.insecure_skip_verify);
    }

    #[test]
    fn defaults_are_traefiks() {
        let Some(Middleware::ForwardAuth(fa)) =
            one("forwardauth:\n  address: http://auth\n").unwrap()
        else {
            panic!()
        };
        assert_eq!(fa.trust_forward_header, None);
        assert_eq!(fa.max_response_body_size, None);
        assert!(fa.tls.is_none() && !fa.preserve_request_method && !fa.forward_body);
        assert_eq!(fa.max_body_size, None);
        // A negative size is Traefik's "unlimited".
        let Some(Middleware::ForwardAuth(fa)) =
            one("forwardauth:\n  address: http://auth\n  maxResponseBodySize: -1\n").unwrap()
        else {
            panic!()
        };
        assert_eq!(fa.max_response_body_size, None);
    }

    #[test]
    fn what_cannot_work_is_an_error_naming_the_key() {
        for (yaml, says) in [
            (
                "forwardAuth:\n  trustForwardHeader: true\n",
                "needs an address",
            ),
            (
                "forwardAuth:\n  address: auth:9091/verify\n",
                "http:// or https://",
            ),
            (
                "forwardAuth:\n  address: ftp://auth/\n",
                "http:// or https://",
            ),
            (
                "forwardAuth:\n  address: http://a\n  forwardBody: maybe\n",
                "maybe",
            ),
            (
                "forwardAuth:\n  address: http://a\n  maxBodySize: lots\n",
                "lots",
            ),
            (
                "forwardAuth:\n  address: http://a\n  authResponseHeadersRegex: '('\n",
                "regex",
            ),
            (
                "forwardAuth:\n  address: http://a\n  authResponseHeaders: ['bad header']\n",
                "invalid header name",
            ),
            (
                "forwardAuth:\n  address: http://a\n  tls:\n    cert: /c.pem\n",
                "go together",
            ),
            (
                "forwardAuth:\n  address: http://a\n  nope: 1\n",
                "nope is not supported",
            ),
        ] {
            let e = one(yaml).unwrap_err();
            assert!(e.to_string().contains(says), "{yaml}: {e}");
        }
    }
}
