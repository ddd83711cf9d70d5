//! `forwardAuth`: the request is first asked of an authentication server. Its 2xx lets the
//! request through (with the headers it names copied onto it, and maybe cookies for the
//! answer); anything else is the client's answer, status, headers and body. What the server
//! is sent follows Traefik: the request's headers as the entry point left them, less the
//! hop-by-hop ones, with `X-Forwarded-For/-Method/-Proto/-Host/-Uri` (and `-Port` when
//! `trustForwardHeader` is set) describing the request; its body only with `forwardBody`
//! (read whole first, at most `maxBodySize`, then sent on to the backend as well).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::{Flow, Request};
use crate::dynamic::middleware::forward_auth::{DEFAULT_MAX_BODY, DEFAULT_MAX_RESPONSE_BODY};
use crate::dynamic::{ClientTls, ForwardAuth};
use crate::proxy::{Answer, ProxyError};

/// Traefik's client timeout for the authentication request.
const TIMEOUT: Duration = Duration::from_secs(30);

type AuthClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Clients to authentication servers, one per TLS setting (connections are pooled), and the
/// addresses of plain-HTTP ones.
#[derive(Default)]
pub struct Clients(
    Mutex<HashMap<Option<ClientTls>, AuthClient>>,
    Mutex<HashMap<String, (std::net::SocketAddr, std::time::Instant)>>,
);

/// How long a resolved server name is used before it is resolved again (a container's
/// address may change when it is recreated).
const RESOLVED_FOR: Duration = Duration::from_secs(5);

impl std::fmt::Debug for Clients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clients")
    }
}

impl Clients {
    /// The address of `authority` (`host:port`, port 80 by default), resolved at most every
    /// few seconds.
    async fn resolve(&self, authority: &str) -> Result<std::net::SocketAddr, String> {
        if let Some((addr, at)) = self
            .1
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(authority)
        {
            if at.elapsed() < RESOLVED_FOR {
                return Ok(*addr);
            }
        }
        let target = crate::model::compile::target(&format!("http://{authority}"))
            .ok_or_else(|| format!("invalid server address {authority:?}"))?;
        let addr = crate::upstream::resolve(&target, Duration::from_secs(10)).await?;
        self.1
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(authority.to_owned(), (addr, std::time::Instant::now()));
        Ok(addr)
    }

    fn get(&self, tls: Option<&ClientTls>) -> Result<AuthClient, String> {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        // A handful of settings: found by comparison, the key not copied per request.
        if let Some((_, c)) = map.iter().find(|(k, _)| k.as_ref() == tls) {
            return Ok(c.clone());
        }
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(Duration::from_secs(10)));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(crate::client_tls::config(tls)?)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new()).build(https);
        map.insert(tls.cloned(), client.clone());
        Ok(client)
    }
}

/// Hop-by-hop headers never sent to the server nor copied from its refusal (as Traefik's
/// list: `Proxy-Authorization` does go to the server).
const HOP: [HeaderName; 6] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_METHOD: HeaderName = HeaderName::from_static("x-forwarded-method");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_FORWARDED_URI: HeaderName = HeaderName::from_static("x-forwarded-uri");

/// Asks the server about the request; see the module's doc.
pub async fn apply(
    name: &str,
    fa: &ForwardAuth,
    r: &mut Request<'_, '_>,
) -> Result<Flow, ProxyError> {
    let fail = |why: String| ProxyError::Internal(format!("forwardauth {name:?}: {why}"));
    let method = if fa.preserve_request_method {
        r.inbound.method.clone()
    } else {
        Method::GET
    };
    let body = match fa.forward_body && r.inbound.has_body {
        true => Some(read_body(name, fa, r).await?),
        false => None,
    };
    let headers = auth_request_headers(fa, r);
    let max = fa
        .max_response_body_size
        .unwrap_or(DEFAULT_MAX_RESPONSE_BODY);
    let exchange = async {
        match plain_target(fa) {
            // Plain HTTP (the usual Authelia-style setup): the raw path, no hyper client.
            Some(target) => ask_raw(r.shared, target, &method, headers, body, max).await,
            None => ask_hyper(r.shared, fa, method, headers, body, max).await,
        }
    };
    let (parts, body) = match tokio::time::timeout(TIMEOUT, exchange).await {
        Err(_) => {
            return Err(fail(format!(
                "{} did not answer in {TIMEOUT:?}",
                fa.address
            )))
        }
        Ok(Err(e)) => return Err(fail(e)),
        Ok(Ok(x)) => x,
    };
    let Some(body) = body else {
        tracing::debug!(
            middleware = name,
            "the authentication server's answer is larger than maxResponseBodySize"
        );
        return Err(ProxyError::AuthRefused);
    };
    if !parts.status.is_success() {
        return refusal(fa, parts, body).map(Flow::Answer).map_err(fail);
    }
    copy_granted_headers(fa, &parts.headers, r.headers);
    if !fa.add_auth_cookies_to_response.is_empty() {
        let cookies: Vec<HeaderValue> = parts
            .headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter(|v| {
                cookie_name(v)
                    .is_some_and(|n| fa.add_auth_cookies_to_response.iter().any(|c| c == n))
            })
            .cloned()
            .collect();
        if parts.headers.contains_key(header::SET_COOKIE) {
            r.fx.cookie_names
                .extend(fa.add_auth_cookies_to_response.iter().cloned());
            r.fx.cookies.extend(cookies);
        }
    }
    Ok(Flow::Next)
}

/// The request's body for the server (`forwardBody`): one over `maxBodySize` is refused
/// 401, as Traefik does.
async fn read_body(
    name: &str,
    fa: &ForwardAuth,
    r: &mut Request<'_, '_>,
) -> Result<Bytes, ProxyError> {
    let limit = fa.max_body_size.unwrap_or(DEFAULT_MAX_BODY);
    r.body.read_all(limit).await.map_err(|e| match e {
        http1_framing::io::BodyError::TooLarge(_) => {
            tracing::debug!(
                middleware = name,
                limit,
                "the request body is larger than maxBodySize"
            );
            ProxyError::AuthRefused
        }
        other => crate::proxy::held_body_error(other),
    })
}

/// `http://authority/path?query` of a plain-HTTP server (no TLS settings), split.
struct PlainTarget<'a> {
    authority: &'a str,
    path: &'a str,
    query: Option<&'a str>,
}

fn plain_target(fa: &ForwardAuth) -> Option<PlainTarget<'_>> {
    if fa.tls.is_some() {
        return None;
    }
    let rest = fa.address.strip_prefix("http://")?;
    let (authority, path_query) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, "/"),
    };
    let path_query = path_query.split('#').next().unwrap_or("/");
    let (path, query) = match path_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_query, None),
    };
    (!authority.is_empty() && !authority.contains('@')).then_some(PlainTarget {
        authority,
        path,
        query,
    })
}

/// The server's answer: its head, and its body (`None`: over `max` bytes).
type Asked = (http::response::Parts, Option<Bytes>);

/// Over the raw path (a pooled connection, the request written at once).
async fn ask_raw(
    shared: &crate::server::Shared,
    target: PlainTarget<'_>,
    method: &Method,
    mut headers: HeaderMap,
    body: Option<Bytes>,
    max: u64,
) -> Result<Asked, String> {
    let addr = shared.forward_auth.resolve(target.authority).await?;
    let host = HeaderValue::from_str(target.authority).map_err(|e| e.to_string())?;
    headers.insert(header::HOST, host);
    let a = crate::ask::ask(
        &shared.idle,
        addr,
        crate::ask::Asking {
            method,
            path: target.path,
            query: target.query,
            headers: &headers,
            body: body.as_deref(),
        },
        Duration::from_secs(10),
        max,
    )
    .await
    .map_err(|e| format!("calling http://{}: {e}", target.authority))?;
    let (mut parts, ()) = hyper::Response::new(()).into_parts();
    parts.status = a.status;
    parts.headers = a.headers;
    Ok((parts, a.body))
}

/// Through a hyper client (HTTPS, or TLS settings).
async fn ask_hyper(
    shared: &crate::server::Shared,
    fa: &ForwardAuth,
    method: Method,
    headers: HeaderMap,
    body: Option<Bytes>,
    max: u64,
) -> Result<Asked, String> {
    let client = shared.forward_auth.get(fa.tls.as_ref())?;
    let mut ask = hyper::Request::new(Full::new(body.unwrap_or_default()));
    *ask.method_mut() = method;
    *ask.uri_mut() = fa.address.parse().map_err(|e| format!("{e}"))?;
    *ask.headers_mut() = headers;
    let resp = client
        .request(ask)
        .await
        .map_err(|e| format!("calling {}: {e}", fa.address))?;
    let (parts, body) = resp.into_parts();
    let limit = usize::try_from(max).unwrap_or(usize::MAX);
    let body = Limited::new(body, limit)
        .collect()
        .await
        .ok()
        .map(|b| b.to_bytes());
    Ok((parts, body))
}

/// The headers the server is sent.
fn auth_request_headers(fa: &ForwardAuth, r: &Request<'_, '_>) -> HeaderMap {
    let inbound = r.inbound;
    // As Traefik's entry point leaves them: an untrusted client's X-Forwarded-* replaced by
    // the router's own.
    let mut h =
        crate::proxy::entry_point_headers(inbound, r.headers, r.fx.forwarded_prefix.as_deref());
    strip_connection_headers(&mut h);
    h.remove(header::HOST);
    h.remove(header::CONTENT_LENGTH);
    h.remove(header::EXPECT);
    let trust = fa.trust_forward_header;
    if trust == Some(false) {
        let managed: Vec<HeaderName> = h
            .keys()
            .filter(|k| crate::proxy::managed(k))
            .cloned()
            .collect();
        for k in managed {
            h.remove(k);
        }
    }
    if !fa.auth_request_headers.is_empty() {
        let mut allowed: Vec<String> = fa
            .auth_request_headers
            .iter()
            .map(|n| n.to_ascii_lowercase())
            .collect();
        if trust == Some(true) {
            allowed.extend(
                h.keys()
                    .filter(|k| crate::proxy::managed(k))
                    .map(|k| k.as_str().to_owned()),
            );
        }
        let keep: HeaderMap = h
            .iter()
            .filter(|(k, _)| allowed.iter().any(|a| a == k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        h = keep;
    }
    let client = HeaderValue::from_str(inbound.client).ok();
    let host = HeaderValue::from_str(&inbound.host_header(r.headers)).ok();
    let uri = match inbound.query {
        Some(q) => format!("{}?{q}", r.path()),
        None => r.path().to_owned(),
    };
    let proto = HeaderValue::from_static(if inbound.scheme == "https" {
        "https"
    } else {
        "http"
    });
    let method = HeaderValue::from_str(inbound.method.as_str()).ok();
    let uri = HeaderValue::from_str(&uri).ok();
    match trust {
        // Traefik's older behaviour: these are always the router's.
        None => {
            put(&mut h, X_FORWARDED_FOR, client, true);
            put(&mut h, X_FORWARDED_PROTO, Some(proto), true);
            put(&mut h, X_FORWARDED_METHOD, method, true);
            put(&mut h, X_FORWARDED_HOST, host, true);
            put(&mut h, X_FORWARDED_URI, uri, true);
        }
        Some(trusted) => {
            // Trusted: the entry point's list (the client's, then its address) stays.
            put(&mut h, X_FORWARDED_FOR, client, !trusted);
            put(&mut h, X_FORWARDED_METHOD, method, false);
            put(&mut h, X_FORWARDED_PROTO, Some(proto), false);
            let port = crate::proxy::forwarded_port(host.as_ref(), h.get(X_FORWARDED_PROTO));
            put(&mut h, X_FORWARDED_PORT, Some(port), false);
            put(&mut h, X_FORWARDED_HOST, host, false);
            put(&mut h, X_FORWARDED_URI, uri, false);
        }
    }
    h
}

/// Sets `k` to `v` when `always` or when the request has none.
fn put(h: &mut HeaderMap, k: HeaderName, v: Option<HeaderValue>, always: bool) {
    if let Some(v) = v {
        if always || !h.contains_key(&k) {
            h.insert(k, v);
        }
    }
}

/// Removes the headers a `Connection` header names and the hop-by-hop ones.
fn strip_connection_headers(h: &mut HeaderMap) {
    crate::proxy::remove_connection_named(h);
    for n in &HOP {
        h.remove(n);
    }
}

/// The client's answer when the server did not answer 2xx: its status, headers and body, a
/// relative `Location` made absolute against the server's URL (unless
/// `preserveLocationHeader`); a 401 redirects to `authSigninURL` when one is set.
fn refusal(fa: &ForwardAuth, parts: http::response::Parts, body: Bytes) -> Result<Answer, String> {
    if let (Some(url), StatusCode::UNAUTHORIZED) = (&fa.auth_signin_url, parts.status) {
        let mut a = crate::proxy::plain(StatusCode::FOUND, "Found");
        let v = HeaderValue::from_str(url).map_err(|e| format!("authSigninURL: {e}"))?;
        a.headers.insert(header::LOCATION, v);
        return Ok(a);
    }
    let mut headers = parts.headers;
    strip_connection_headers(&mut headers);
    headers.remove(header::CONTENT_LENGTH);
    if !fa.preserve_location_header {
        if let Some(loc) = headers.get(header::LOCATION).and_then(|v| v.to_str().ok()) {
            let abs = absolute(&fa.address, loc);
            let v = HeaderValue::from_str(&abs).map_err(|e| format!("Location {abs:?}: {e}"))?;
            headers.insert(header::LOCATION, v);
        }
    }
    Ok(Answer {
        status: parts.status,
        headers,
        body,
    })
}

/// `loc` resolved against `base` (RFC 3986 5.2, for the forms servers send: absolute,
/// `//host/...`, `/path`, `path`).
fn absolute(base: &str, loc: &str) -> String {
    if loc.contains("://")
        && loc.split("://").next().is_some_and(|s| {
            s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        })
    {
        return loc.to_owned();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("http", base));
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) => rest.split_at(i),
        None => (rest, "/"),
    };
    if let Some(net) = loc.strip_prefix("//") {
        return format!("{scheme}://{net}");
    }
    if loc.starts_with('/') {
        return format!("{scheme}://{authority}{loc}");
    }
    let path = path.split(['?', '#']).next().unwrap_or("/");
    let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    let dir = if dir.is_empty() { "/" } else { dir };
    format!("{scheme}://{authority}{dir}{loc}")
}

/// A 2xx: `authResponseHeaders` replace the request's of those names; headers matching
/// `authResponseHeadersRegex` (by their canonical name, as Go writes them) are removed from
/// the request and copied from the answer.
fn copy_granted_headers(fa: &ForwardAuth, from: &HeaderMap, to: &mut HeaderMap) {
    for name in &fa.auth_response_headers {
        let Ok(k) = HeaderName::from_bytes(name.as_bytes()) else {
            continue;
        };
        to.remove(&k);
        for v in from.get_all(&k) {
            to.append(k.clone(), v.clone());
        }
    }
    let Some(re) = &fa.auth_response_headers_regex else {
        return;
    };
    let matching = |k: &HeaderName| re.re().is_match(&canonical(k.as_str()));
    let drop: Vec<HeaderName> = to.keys().filter(|k| matching(k)).cloned().collect();
    for k in drop {
        to.remove(k);
    }
    for (k, v) in from {
        if matching(k) {
            to.append(k.clone(), v.clone());
        }
    }
}

/// Go's `http.CanonicalHeaderKey`: `x-auth-user` -> `X-Auth-User`.
pub fn canonical(name: &str) -> String {
    let mut up = true;
    name.chars()
        .map(|c| {
            let out = if up {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            up = c == '-';
            out
        })
        .collect()
}

/// The name of the cookie a `Set-Cookie` value sets.
pub fn cookie_name(v: &HeaderValue) -> Option<&str> {
    let s = v.to_str().ok()?;
    let (name, _) = s.split_once('=')?;
    Some(name.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_resolve_against_the_server() {
        let base = "http://auth:9091/api/verify?rd=1";
        assert_eq!(
            absolute(base, "https://sso.example/login"),
            "https://sso.example/login"
        );
        assert_eq!(absolute(base, "/login"), "http://auth:9091/login");
        assert_eq!(absolute(base, "//other/x"), "http://other/x");
        assert_eq!(absolute(base, "login"), "http://auth:9091/api/login");
        assert_eq!(absolute("http://auth", "login"), "http://auth/login");
    }

    #[test]
    fn header_names_canonicalise_as_go() {
        assert_eq!(canonical("x-auth-user"), "X-Auth-User");
        assert_eq!(canonical("remote-email"), "Remote-Email");
        assert_eq!(canonical("x-forwarded-for"), "X-Forwarded-For");
    }

    #[test]
    fn cookies_are_named() {
        let v = HeaderValue::from_static("sid=abc; Path=/; HttpOnly");
        assert_eq!(cookie_name(&v), Some("sid"));
    }
}
