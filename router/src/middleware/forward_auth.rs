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
use crate::upstream::Conns;

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
    let fail = |why: String| ProxyError::AuthFailed(format!("forwardauth {name:?}: {why}"));
    let method = if fa.preserve_request_method {
        r.inbound.method.clone()
    } else {
        Method::GET
    };
    let body = match fa.forward_body && r.inbound.has_body {
        true => Some(Box::pin(read_body(name, fa, r)).await?),
        false => None,
    };
    let headers = auth_request_headers(fa, r);
    let max = fa
        .max_response_body_size
        .unwrap_or(DEFAULT_MAX_RESPONSE_BODY);
    let shared = r.shared;
    let kept = r.kept.as_deref_mut();
    let exchange = async {
        match plain_target(fa) {
            // Plain HTTP (the usual Authelia-style setup): the raw path, no hyper client.
            Some(target) => {
                let mut conns = match kept {
                    Some(k) => Conns::Kept(k),
                    None => Conns::Pool(&shared.idle),
                };
                ask_raw(shared, &mut conns, target, &method, headers, body, max).await
            }
            None => Box::pin(ask_hyper(shared, fa, method, headers, body, max)).await,
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
    // `headerField`: the server's header naming the user, for the access log's
    // `ClientUsername` (whatever the server's answer, as Traefik's).
    if let Some(user) = fa
        .header_field
        .as_deref()
        .and_then(|h| parts.headers.get(h))
        .and_then(|v| v.to_str().ok())
    {
        r.log.user = Some(user.to_owned());
    }
    if !parts.status.is_success() {
        let asked = (r.path(), r.inbound.method);
        return refusal(fa, parts, body, asked)
            .map(Flow::Answer)
            .map_err(fail);
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
    conns: &mut Conns<'_>,
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
        conns,
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
    let mut h = crate::proxy::entry_point_headers(inbound, r.headers);
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
    crate::proxy::remove_all(h, &HOP);
}

/// The client's answer when the server did not answer 2xx: its status, headers and body, a
/// relative `Location` made absolute against the server's URL (unless
/// `preserveLocationHeader`); a 401 redirects to `authSigninURL` when one is set, as Go's
/// `http.Redirect` that Traefik calls answers (`asked`: the request's path and method).
fn refusal(
    fa: &ForwardAuth,
    parts: http::response::Parts,
    body: Bytes,
    asked: (&str, &Method),
) -> Result<Answer, String> {
    if let (Some(url), StatusCode::UNAUTHORIZED) = (&fa.auth_signin_url, parts.status) {
        return go_redirect(url, asked);
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

/// `loc` resolved against `base` as Go's `url.URL.Parse` resolves a reference (RFC 3986 5.2:
/// dot segments removed, an empty path keeps the base's path and, without a query of its
/// own, its query), which `Response.Location` that Traefik calls does.
fn absolute(base: &str, loc: &str) -> String {
    let (b, r) = (UrlParts::of(base), UrlParts::of(loc));
    let (scheme, authority, path, query) = match (r.scheme, r.authority) {
        (Some(_), _) => (r.scheme, r.authority, resolve_path(r.path, ""), r.query),
        (None, Some(_)) => (b.scheme, r.authority, resolve_path(r.path, ""), r.query),
        (None, None) => {
            let query = match (r.path.is_empty(), r.query) {
                (true, None) => b.query,
                (_, q) => q,
            };
            (b.scheme, b.authority, resolve_path(b.path, r.path), query)
        }
    };
    let fragment = match (
        r.path.is_empty() && r.query.is_none() && r.scheme.is_none(),
        r.fragment,
    ) {
        (true, None) => b.fragment,
        (_, f) => f,
    };
    let mut out = String::new();
    if let Some(s) = scheme {
        out.push_str(s);
        out.push(':');
    }
    if let Some(a) = authority {
        out.push_str("//");
        out.push_str(a);
    }
    out.push_str(&path);
    for (mark, part) in [('?', query), ('#', fragment)] {
        if let Some(p) = part {
            out.push(mark);
            out.push_str(p);
        }
    }
    out
}

/// A URL reference's parts, split as Go's `url.Parse` splits them.
struct UrlParts<'a> {
    scheme: Option<&'a str>,
    authority: Option<&'a str>,
    path: &'a str,
    query: Option<&'a str>,
    fragment: Option<&'a str>,
}

impl<'a> UrlParts<'a> {
    fn of(s: &'a str) -> UrlParts<'a> {
        let (s, fragment) = match s.split_once('#') {
            Some((s, f)) => (s, Some(f)),
            None => (s, None),
        };
        let (s, query) = match s.split_once('?') {
            Some((s, q)) => (s, Some(q)),
            None => (s, None),
        };
        let scheme = s.split_once(':').map(|(x, _)| x).filter(|x| {
            x.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
                && x.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        });
        let rest = scheme.map_or(s, |x| &s[x.len() + 1..]);
        let (authority, path) = match rest.strip_prefix("//") {
            Some(net) => match net.find('/') {
                Some(i) => (Some(&net[..i]), &net[i..]),
                None => (Some(net), ""),
            },
            None => (None, rest),
        };
        UrlParts {
            scheme,
            authority,
            path,
            query,
            fragment,
        }
    }
}

/// Go's `resolvePath`: `reference` against `base`'s directory (or `base` itself when empty),
/// with `.` and `..` segments removed; a trailing `.` or `..` leaves a trailing `/`.
fn resolve_path(base: &str, reference: &str) -> String {
    let full = if reference.is_empty() {
        base.to_owned()
    } else if !reference.starts_with('/') {
        let dir = base.rfind('/').map_or("", |i| &base[..=i]);
        format!("{dir}{reference}")
    } else {
        reference.to_owned()
    };
    if full.is_empty() {
        return full;
    }
    let mut out: Vec<&str> = Vec::new();
    let mut last = "";
    for (i, elem) in full.split('/').enumerate() {
        last = elem;
        match elem {
            "." => {}
            ".." => {
                out.pop();
            }
            // The empty segment before a leading `/`.
            "" if i == 0 => {}
            e => out.push(e),
        }
    }
    let mut path = format!("/{}", out.join("/"));
    if (last == "." || last == "..") && !path.ends_with('/') {
        path.push('/');
    }
    path
}

/// Go's `http.Redirect(w, r, url, 302)`, as Traefik answers with `authSigninURL`: a URL
/// without scheme and host is made absolute against the request's path and cleaned (a
/// trailing `/` kept); a `GET` gets the HTML body Go writes, a `GET` or `HEAD` its
/// `Content-Type`, other methods neither.
fn go_redirect(url: &str, (path, method): (&str, &Method)) -> Result<Answer, String> {
    let parts = UrlParts::of(url);
    let mut location = url.to_owned();
    if parts.scheme.is_none() && parts.authority.is_none() {
        if !url.starts_with('/') {
            let dir = path.rfind('/').map_or("/", |i| &path[..=i]);
            location = format!("{dir}{url}");
        }
        let (p, query) = match location.find('?') {
            Some(i) => location.split_at(i),
            None => (location.as_str(), ""),
        };
        // Rooted: the request's directory, or a URL that starts with `/`.
        let mut cleaned = crate::entry_http::go_clean(p);
        if p.ends_with('/') && !cleaned.ends_with('/') {
            cleaned.push('/');
        }
        location = format!("{cleaned}{query}");
    }
    let mut headers = HeaderMap::new();
    let v = HeaderValue::from_str(&location).map_err(|e| format!("authSigninURL: {e}"))?;
    headers.insert(header::LOCATION, v);
    if *method == Method::GET || *method == Method::HEAD {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
    }
    let body = match *method == Method::GET {
        true => format!("<a href=\"{}\">Found</a>.\n\n", html_escape(&location)),
        false => String::new(),
    };
    Ok(Answer {
        status: StatusCode::FOUND,
        headers,
        body: Bytes::from(body),
    })
}

/// Go's `htmlEscape` in `http.Redirect`'s body.
fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
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

    /// Traefik's `TestRemover` (auth/connectionheader_test.go): the headers named by
    /// `Connection` go, and so does `Connection`, before the request goes to the
    /// authentication server. Traefik's `RemoveConnectionHeaders` keeps `Connection: Upgrade`
    /// and `Upgrade` for an upgrade, but its `writeHeader` removes both next with the other
    /// hop-by-hop headers, so the server sees neither: the rows give what the server sees.
    #[test]
    fn connection_named_headers_are_removed() {
        type Headers<'a> = &'a [(&'a str, &'a str)];
        let rows: &[(&str, Headers, Headers)] = &[
            (
                "simple remove",
                &[("Foo", "bar"), ("Connection", "foo")],
                &[],
            ),
            (
                "remove and Upgrade",
                &[
                    ("Upgrade", "test"),
                    ("Foo", "bar"),
                    ("Connection", "Upgrade,foo"),
                ],
                &[],
            ),
            (
                "no remove",
                &[("Foo", "bar"), ("Connection", "fii")],
                &[("foo", "bar")],
            ),
            // Beyond the table: names in any case, spaces around them, several lines.
            (
                "case and spaces",
                &[
                    ("Foo", "bar"),
                    ("Baz", "1"),
                    ("Keep", "2"),
                    ("Connection", " FOO , "),
                    ("Connection", "baz"),
                ],
                &[("keep", "2")],
            ),
        ];
        for (desc, given, want) in rows {
            let mut h = HeaderMap::new();
            for (k, v) in *given {
                h.append(
                    HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    HeaderValue::from_static(v),
                );
            }
            strip_connection_headers(&mut h);
            let mut got: Vec<(&str, &str)> = h
                .iter()
                .map(|(k, v)| (k.as_str(), v.to_str().unwrap()))
                .collect();
            got.sort_unstable();
            assert_eq!(got, *want, "{desc}");
        }
    }

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
        // As Go's url.URL.Parse (RFC 3986 5.2 and 5.4): dot segments, an empty path, a
        // query or a fragment alone.
        let base = "http://auth/a/b/verify";
        for (loc, want) in [
            ("?rd=x", "http://auth/a/b/verify?rd=x"),
            ("../login", "http://auth/a/login"),
            ("./x/./y/../z", "http://auth/a/b/x/z"),
            (".", "http://auth/a/b/"),
            ("..", "http://auth/a/"),
            ("../../../../x", "http://auth/x"),
            ("https://sso/a/../b?c#d", "https://sso/b?c#d"),
            ("//other/x/../y", "http://other/y"),
            ("#f", "http://auth/a/b/verify#f"),
            ("", "http://auth/a/b/verify"),
            ("https://sso", "https://sso"),
        ] {
            assert_eq!(absolute(base, loc), want, "{loc}");
        }
        assert_eq!(absolute("http://auth/v?q=1", ""), "http://auth/v?q=1");
        assert_eq!(absolute("http://auth/v?q=1", "#f"), "http://auth/v?q=1#f");
        assert_eq!(absolute("http://auth/v?q=1", "w?r=2"), "http://auth/w?r=2");
    }

    #[test]
    fn a_signin_url_is_answered_as_gos_redirect() {
        // net/http's Redirect: relative to the request's path, cleaned, the query kept; the
        // HTML body for GET only.
        for (url, path, want) in [
            ("login", "/app/page", "/app/login"),
            ("../login?rd=1", "/app/sub/page", "/app/login?rd=1"),
            ("/x/./y/", "/app", "/x/y/"),
            (
                "https://sso.example/a/../b",
                "/app",
                "https://sso.example/a/../b",
            ),
        ] {
            let a = go_redirect(url, (path, &Method::GET)).unwrap();
            assert_eq!(a.status, StatusCode::FOUND);
            assert_eq!(a.headers.get("location").unwrap(), want, "{url}");
            assert_eq!(
                a.body,
                format!("<a href=\"{want}\">Found</a>.\n\n").as_bytes(),
                "{url}"
            );
            assert_eq!(
                a.headers.get("content-type").unwrap(),
                "text/html; charset=utf-8"
            );
        }
        let a = go_redirect("l?a=1&b=2", ("/", &Method::GET)).unwrap();
        assert_eq!(&a.body[..], b"<a href=\"/l?a=1&amp;b=2\">Found</a>.\n\n");
        let a = go_redirect("login", ("/p", &Method::HEAD)).unwrap();
        assert!(a.body.is_empty() && a.headers.contains_key("content-type"));
        let a = go_redirect("login", ("/p", &Method::POST)).unwrap();
        assert!(a.body.is_empty() && !a.headers.contains_key("content-type"));
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

/// Traefik's `pkg/middlewares/auth/forward_test.go`, translated: the headers the server is
/// sent (`TestForwardAuth_writeHeader`, `TestForwardAuth_oldWriteHeader`), what a refusal
/// gives the client (`TestForwardAuthFailResponseHeaders`, `TestForwardAuthRedirect`,
/// `TestForwardAuthPreserveLocationHeader`, `TestForwardAuthAuthSigninURL`) and what a 2xx
/// copies onto the request (`TestForwardAuthSuccess`).
#[cfg(test)]
// The tables are tuples of plain data.
#[allow(clippy::type_complexity)]
mod traefik_tables {
    use super::*;
    use crate::dynamic::Middleware;
    use crate::proxy::{Inbound, Log};

    fn forward_auth(yaml: &str) -> ForwardAuth {
        let node = crate::tree::Node::from_yaml(yaml, "m").unwrap();
        match crate::dynamic::middleware::decode(&node) {
            Ok(Some(Middleware::ForwardAuth(fa))) => *fa,
            other => panic!("{yaml}: {other:?}"),
        }
    }

    struct NoBody;

    impl super::super::Body for NoBody {
        fn read_all(&mut self, _: u64) -> super::super::BodyFuture<'_> {
            Box::pin(async { Ok(Bytes::new()) })
        }
        fn declared(&self) -> Option<u64> {
            Some(0)
        }
        fn read_within(&mut self, _: u64) -> super::super::BodyWithinFuture<'_> {
            Box::pin(async { Ok(Some(Bytes::new())) })
        }
    }

    /// The headers sent for `GET http://foo.bar/path?q=1` with `headers` (Traefik's test
    /// request), from 192.0.2.1, lower-cased names.
    fn sent(yaml: &str, headers: &[(&str, &str)]) -> Vec<(String, String)> {
        let fa = forward_auth(yaml);
        let config = crate::config::Config::from_env(&HashMap::new()).unwrap();
        let shared = crate::server::Shared::new(config);
        let ep = shared.config.entry_points[0].clone();
        let peer: std::net::SocketAddr = "192.0.2.1:1234".parse().unwrap();
        let client = crate::proxy::client_text(peer);
        let host = crate::proxy::request_host("foo.bar");
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("foo.bar"));
        for (k, v) in headers {
            h.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        let inbound = Inbound {
            entrypoint: "web",
            scheme: "http",
            peer,
            trusted: true,
            ep: &ep,
            tls_options: "",
            client_certs: None,
            client: &client,
            host: &host,
            method: &Method::GET,
            path: "/path",
            query: Some("q=1"),
            has_body: false,
        };
        let (mut fx, mut log, mut body) =
            (super::super::Effects::default(), Log::default(), NoBody);
        let r = Request {
            shared: &shared,
            inbound: &inbound,
            headers: &mut h,
            fx: &mut fx,
            log: &mut log,
            body: &mut body,
            kept: None,
        };
        let mut out: Vec<(String, String)> = auth_request_headers(&fa, &r)
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
            .collect();
        out.sort();
        out
    }

    /// Headers Traefik's test request cannot have: it has no `RemoteAddr` (no
    /// `X-Forwarded-For`) and no entry point before it (`X-Real-Ip`, `X-Forwarded-Server`;
    /// with `trustForwardHeader` unset, `X-Forwarded-Port`, which the entry point sets).
    fn entry_point_only(name: &str, old: bool) -> bool {
        matches!(name, "x-forwarded-for" | "x-real-ip" | "x-forwarded-server")
            || (old && name == "x-forwarded-port")
    }

    /// (Traefik case, trustForwardHeader, authRequestHeaders, request headers, expected
    /// headers, no other header expected.)
    type Case<'a> = (
        &'a str,
        Option<bool>,
        &'a [&'a str],
        &'a [(&'a str, &'a str)],
        &'a [(&'a str, &'a str)],
        bool,
    );

    const XF: [(&str, &str); 5] = [
        ("X-Forwarded-Proto", "http"),
        ("X-Forwarded-Host", "foo.bar"),
        ("X-Forwarded-Uri", "/path?q=1"),
        ("X-Forwarded-Method", "GET"),
        ("X-Forwarded-Port", "80"),
    ];

    // Go's client sends no `User-Agent` when it is set empty, which Traefik does for a
    // request without one (`"User-Agent": ""` in Traefik's expectations): the router sends
    // none either. With `trustForwardHeader` unset Go's client would send its own
    // (`Go-http-client/1.1`); the router sends none.
    const HOP: [(&str, &str); 9] = [
        ("Connection", "Connection"),
        ("Keep-Alive", "KeepAlive"),
        ("Proxy-Authenticate", "ProxyAuthenticate"),
        ("Proxy-Authorization", "ProxyAuthorization"),
        ("Te", "Te"),
        ("Trailer", "Trailers"),
        ("Transfer-Encoding", "TransferEncoding"),
        ("Upgrade", "Upgrade"),
        ("X-CustomHeader", "CustomHeader"),
    ];
    const HOP_KEPT: [(&str, &str); 3] = [
        ("X-CustomHeader", "CustomHeader"),
        ("Proxy-Authenticate", "ProxyAuthenticate"),
        ("Proxy-Authorization", "ProxyAuthorization"),
    ];

    fn check(table: &[Case<'_>]) {
        for (case, trust, allowed, headers, want, exact) in table {
            let mut yaml = "forwardAuth:\n  address: http://auth\n".to_owned();
            if let Some(t) = trust {
                yaml.push_str(&format!("  trustForwardHeader: {t}\n"));
            }
            if !allowed.is_empty() {
                yaml.push_str(&format!("  authRequestHeaders: [{}]\n", allowed.join(", ")));
            }
            let got = sent(&yaml, headers);
            for (k, v) in *want {
                let k = k.to_ascii_lowercase();
                let found = got.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
                assert_eq!(found, Some(*v), "{case}: {k} in {got:?}");
            }
            if *exact {
                let extra: Vec<&(String, String)> = got
                    .iter()
                    .filter(|(n, _)| !want.iter().any(|(k, _)| k.eq_ignore_ascii_case(n)))
                    .filter(|(n, _)| !entry_point_only(n, trust.is_none()))
                    .collect();
                assert!(extra.is_empty(), "{case}: unexpected {extra:?}");
            }
        }
    }

    #[test]
    fn write_header() {
        let accept = ("Accept", "application/json");
        let xfh = ("X-Forwarded-Host", "fii.bir");
        let custom = ("X-CustomHeader", "CustomHeader");
        let ct = ("Content-Type", "multipart/form-data; boundary=---123456");
        let t = Some(true);
        let f = Some(false);
        let table: &[Case] = &[
            ("trust forward header", t, &[], &[accept, xfh], &[accept, xfh], false),
            ("not trust forward header", f, &[], &[accept, xfh], &[accept, ("X-Forwarded-Host", "foo.bar")], false),
            (
                "trust forward header with forwarded URI",
                t,
                &[],
                &[accept, xfh, ("X-Forwarded-Uri", "/forward?q=1")],
                &[accept, xfh, ("X-Forwarded-Uri", "/forward?q=1")],
                false,
            ),
            (
                "not trust forward header with forward requested URI",
                f,
                &[],
                &[accept, xfh, ("X-Forwarded-Uri", "/forward?q=1")],
                &[accept, ("X-Forwarded-Host", "foo.bar"), ("X-Forwarded-Uri", "/path?q=1")],
                false,
            ),
            (
                "trust forward header with forwarded request Method",
                t,
                &[],
                &[("X-Forwarded-Method", "OPTIONS")],
                &[("X-Forwarded-Method", "OPTIONS")],
                false,
            ),
            (
                "not trust forward header with forward request Method",
                f,
                &[],
                &[("X-Forwarded-Method", "OPTIONS")],
                &[("X-Forwarded-Method", "GET")],
                false,
            ),
            (
                "remove hop-by-hop headers",
                f,
                &[],
                &HOP,
                &[HOP_KEPT[0], HOP_KEPT[1], HOP_KEPT[2], XF[0], XF[1], XF[2], XF[3], XF[4]],
                true,
            ),
            ("filter forward request headers", f, &["X-CustomHeader"], &[custom, ct], &[custom, XF[0], XF[1], XF[2], XF[3], XF[4]], true),
            (
                "filter forward request headers doesn't add new headers",
                f,
                &["X-CustomHeader", "X-Non-Exists-Header"],
                &[custom, ct],
                &[custom, XF[0], XF[1], XF[2], XF[3], XF[4]],
                true,
            ),
            (
                "set empty User-Agent header if header is allowed but missing",
                f,
                &["X-CustomHeader", "Accept", "User-Agent"],
                &[custom, accept],
                &[custom, accept, XF[0], XF[1], XF[2], XF[3], XF[4]],
                true,
            ),
            (
                "ignore User-Agent header if header is not allowed and missing",
                f,
                &["X-CustomHeader", "Accept"],
                &[custom, accept],
                &[custom, accept, XF[0], XF[1], XF[2], XF[3], XF[4]],
                true,
            ),
            ("set empty User-Agent header if header is missing", f, &[], &[custom, accept], &[custom, accept, XF[0], XF[1], XF[2], XF[3], XF[4]], true),
            (
                "authRequestHeaders and XForwarded are kept if trusted",
                t,
                &["X-CustomHeader"],
                &[custom, ("X-Forwarded-Uri", "/path?q=2")],
                &[custom, XF[0], XF[1], ("X-Forwarded-Uri", "/path?q=2"), XF[3], XF[4]],
                true,
            ),
            (
                "X-Forwarded and X_forwarded headers are removed when not trusted",
                f,
                &[],
                &[custom, ("X_forwarded_for", "127.0.0.1"), ("X-Forwarded-Proto", "xxx")],
                &[custom, XF[0], XF[1], XF[2], XF[3], XF[4]],
                true,
            ),
            (
                "X-Forwarded-Proto is not used to calculate X-Forwarded-Port if trustForwardHeader=false",
                f,
                &[],
                &[custom, ("X-Forwarded-Proto", "https")],
                &XF,
                false,
            ),
        ];
        check(table);
    }

    #[test]
    fn old_write_header() {
        let accept = ("Accept", "application/json");
        let xfh = ("X-Forwarded-Host", "fii.bir");
        let custom = ("X-CustomHeader", "CustomHeader");
        let ct = ("Content-Type", "multipart/form-data; boundary=---123456");
        let table: &[Case] = &[
            (
                "not trust forward header",
                None,
                &[],
                &[accept, xfh],
                &[accept, ("X-Forwarded-Host", "foo.bar")],
                false,
            ),
            (
                "not trust forward header with forward requested URI",
                None,
                &[],
                &[accept, xfh, ("X-Forwarded-Uri", "/forward?q=1")],
                &[
                    accept,
                    ("X-Forwarded-Host", "foo.bar"),
                    ("X-Forwarded-Uri", "/path?q=1"),
                ],
                false,
            ),
            (
                "not trust forward header with forward request Method",
                None,
                &[],
                &[("X-Forwarded-Method", "OPTIONS")],
                &[("X-Forwarded-Method", "GET")],
                false,
            ),
            (
                "remove hop-by-hop headers",
                None,
                &[],
                &HOP,
                &[
                    HOP_KEPT[0],
                    HOP_KEPT[1],
                    HOP_KEPT[2],
                    XF[0],
                    XF[1],
                    XF[2],
                    XF[3],
                ],
                true,
            ),
            (
                "filter forward request headers",
                None,
                &["X-CustomHeader"],
                &[custom, ct],
                &[custom, XF[0], XF[1], XF[2], XF[3]],
                true,
            ),
            (
                "filter forward request headers doesn't add new headers",
                None,
                &["X-CustomHeader", "X-Non-Exists-Header"],
                &[custom, ct],
                &[custom, XF[0], XF[1], XF[2], XF[3]],
                true,
            ),
            (
                "X-Forwarded-Prefix is kept for non-breaking behavior",
                None,
                &[],
                &[custom, ("X-Forwarded-Prefix", "foo.bar")],
                &[
                    custom,
                    XF[0],
                    XF[1],
                    XF[2],
                    XF[3],
                    ("X-Forwarded-Prefix", "foo.bar"),
                ],
                true,
            ),
        ];
        check(table);
    }

    fn answer(status: u16, headers: &[(&str, &str)]) -> http::response::Parts {
        let mut b = hyper::Response::builder().status(status);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn refusals() {
        // (Traefik test, options, server's status and headers, client's status, headers
        // expected, headers not expected.)
        let table: &[(
            &str,
            &str,
            u16,
            &[(&str, &str)],
            u16,
            &[(&str, &str)],
            &[&str],
        )] = &[
            (
                "TestForwardAuthFailResponseHeaders",
                "",
                403,
                &[
                    ("Set-Cookie", "example=testing; Path=http://test.com/"),
                    ("X-Foo", "bar"),
                ],
                403,
                &[
                    ("set-cookie", "example=testing; Path=http://test.com/"),
                    ("x-foo", "bar"),
                ],
                &[],
            ),
            ("TestForwardAuthFail", "", 403, &[], 403, &[], &[]),
            (
                "TestForwardAuthRedirect",
                "",
                302,
                &[("Location", "http://example.com/redirect-test")],
                302,
                &[("location", "http://example.com/redirect-test")],
                &[],
            ),
            (
                "TestForwardAuthRedirect (relative Location: Go's Response.Location resolves it)",
                "",
                302,
                &[("Location", "/login")],
                302,
                &[("location", "http://auth:9091/login")],
                &[],
            ),
            (
                "TestForwardAuthPreserveLocationHeader",
                "  preserveLocationHeader: true\n",
                302,
                &[("Location", "/redirect-test")],
                302,
                &[("location", "/redirect-test")],
                &[],
            ),
            (
                "hop-by-hop headers are not passed back (hopHeaders)",
                "",
                401,
                &[
                    ("Connection", "close"),
                    ("Keep-Alive", "timeout=5"),
                    ("Upgrade", "h2c"),
                    ("Www-Authenticate", "Basic"),
                ],
                401,
                &[("www-authenticate", "Basic")],
                &["connection", "keep-alive", "upgrade"],
            ),
            (
                "TestForwardAuthAuthSigninURL: redirects to signin URL on 401",
                "  authSigninURL: http://signin.example.com/login\n",
                401,
                &[],
                302,
                &[("location", "http://signin.example.com/login")],
                &[],
            ),
            (
                "TestForwardAuthAuthSigninURL: no redirect on other error statuses",
                "  authSigninURL: http://signin.example.com/login\n",
                403,
                &[],
                403,
                &[],
                &["location"],
            ),
            (
                "TestForwardAuthAuthSigninURL: no redirect on 401 without signin URL",
                "",
                401,
                &[],
                401,
                &[],
                &["location"],
            ),
        ];
        for (case, opts, status, from, want_status, want, absent) in table {
            let fa = forward_auth(&format!(
                "forwardAuth:\n  address: http://auth:9091/api/verify\n{opts}"
            ));
            let a = refusal(
                &fa,
                answer(*status, from),
                Bytes::from_static(b"Forbidden\n"),
                ("/", &Method::GET),
            )
            .unwrap_or_else(|e| panic!("{case}: {e}"));
            assert_eq!(a.status.as_u16(), *want_status, "{case}");
            for (k, v) in *want {
                assert_eq!(
                    a.headers.get(*k).and_then(|v| v.to_str().ok()),
                    Some(*v),
                    "{case}: {k}"
                );
            }
            for k in *absent {
                assert!(!a.headers.contains_key(*k), "{case}: {k}");
            }
        }
    }

    #[test]
    fn granted_headers() {
        // TestForwardAuthSuccess: authResponseHeaders X-Auth-User and X-Auth-Group (the
        // server's values replace the client's; a header the server does not send is
        // removed), authResponseHeadersRegex ^Foo (Foo-*: removed from the request, copied
        // from the answer; X-Auth-Secret is not copied).
        let fa = forward_auth(
            "forwardAuth:\n  address: http://auth\n  authResponseHeaders: [X-Auth-User, X-Auth-Group]\n  authResponseHeadersRegex: ^Foo\n",
        );
        let mut from = HeaderMap::new();
        for (k, v) in [
            ("x-auth-user", "user@example.com"),
            ("x-auth-secret", "secret"),
            ("x-auth-group", "group1"),
            ("x-auth-group", "group2"),
            ("foo-bar", "auth-value"),
        ] {
            from.append(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        let mut to = HeaderMap::new();
        for (k, v) in [
            ("x-auth-user", "client-spoof"),
            ("x-auth-group", "client-group"),
            ("foo-baz", "client-value"),
            ("x-other", "kept"),
        ] {
            to.append(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        copy_granted_headers(&fa, &from, &mut to);
        let all =
            |k: &str| -> Vec<&str> { to.get_all(k).iter().map(|v| v.to_str().unwrap()).collect() };
        assert_eq!(all("x-auth-user"), ["user@example.com"]);
        assert_eq!(all("x-auth-group"), ["group1", "group2"]);
        assert!(all("x-auth-secret").is_empty());
        assert_eq!(all("foo-bar"), ["auth-value"]);
        assert!(all("foo-baz").is_empty());
        assert_eq!(all("x-other"), ["kept"]);
    }
}
