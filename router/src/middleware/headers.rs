//! `headers`: CORS preflights answered here; custom request headers set; the security
//! options' checks (`allowedHosts`) made and their answer headers, the custom ones and CORS's
//! left for the answer — in the order Traefik applies them, so a custom header wins.

use bytes::Bytes;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, StatusCode};

use super::{Flow, Request};
use crate::dynamic::middleware::headers::NONCE;
use crate::dynamic::{Cors, Headers, SetHeader};
use crate::proxy::{plain, Answer, ProxyError};

/// Runs `headers` on the request.
pub fn apply(h: &Headers, r: &mut Request<'_, '_>) -> Result<Flow, ProxyError> {
    if let Some(cors) = &h.cors {
        if let Some(a) = preflight(cors, r) {
            return Ok(Flow::Answer(a));
        }
    }
    for set in &h.request {
        if set.value.is_empty() {
            let name = set.parsed().0;
            if name == "x-forwarded-for" {
                r.fx.drop_xff = true;
            } else if crate::proxy::set_by_entry_point(&name) {
                r.fx.deleted.push(name);
            }
        }
        set.apply(r.headers);
    }
    if !h.is_development && !h.allowed_hosts.is_empty() && !allowed(h, r.headers, r.inbound) {
        return Ok(Flow::Answer(plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Bad Host",
        )));
    }
    // This middleware's answer headers, in the order it sets them (the secure options', then
    // the custom ones, then CORS's), go before those of the middlewares before it: theirs are
    // set after, and win, as in Traefik.
    let mut mine = Vec::with_capacity(h.response.len() + 4);
    if let Some(sts) = &h.sts {
        let ssl = r.inbound.scheme == "https"
            || h.ssl_proxy_headers.iter().any(|(k, v)| {
                r.headers
                    .get(k.as_str())
                    .is_some_and(|got| got.as_bytes() == v.as_bytes())
            });
        if (ssl || h.force_sts) && !h.is_development {
            answer_header(&mut mine, header::STRICT_TRANSPORT_SECURITY, sts);
        }
    }
    if !h.nonce_policies.is_empty() {
        let nonce = format!("'nonce-{}'", super::random_text::<16>(false));
        for p in &h.nonce_policies {
            answer_header(&mut mine, p.parsed().0, &p.value.replace(NONCE, &nonce));
        }
    }
    mine.extend(h.response.iter().map(SetHeader::parsed));
    if let Some(cors) = &h.cors {
        let origin = header_text(r.headers, header::ORIGIN);
        if let Some(m) = match_origin(cors, origin) {
            answer_header(&mut mine, header::ACCESS_CONTROL_ALLOW_ORIGIN, &m);
        }
        if cors.allow_credentials {
            answer_header(&mut mine, header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true");
        }
        if let Some(v) = expose(cors) {
            answer_header(&mut mine, header::ACCESS_CONTROL_EXPOSE_HEADERS, &v);
        }
        r.fx.vary_origin |= cors.add_vary;
    }
    if r.fx.response_headers.is_empty() {
        r.fx.response_headers = mine;
    } else {
        r.fx.response_headers.splice(0..0, mine);
    }
    Ok(Flow::Next)
}

type AnswerHeaders = Vec<(header::HeaderName, Option<HeaderValue>)>;

/// Sets `name` to `v` on the answer (an empty value removes it; an invalid one is skipped).
fn answer_header(out: &mut AnswerHeaders, name: header::HeaderName, v: &str) {
    let set = match v.is_empty() {
        true => None,
        false => match HeaderValue::from_str(v) {
            Ok(v) => Some(v),
            Err(_) => return,
        },
    };
    out.push((name, set));
}

fn header_text(h: &HeaderMap, name: header::HeaderName) -> &str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// `allowedHosts`: the `Host` header (or the first `hostsProxyHeaders` one that is set) is
/// one of them, compared without case.
fn allowed(h: &Headers, headers: &HeaderMap, inbound: &crate::proxy::Inbound<'_>) -> bool {
    let proxied = h
        .hosts_proxy_headers
        .iter()
        .filter_map(|n| headers.get(n.as_str()).and_then(|v| v.to_str().ok()))
        .find(|v| !v.is_empty());
    let host = proxied.map_or_else(|| inbound.host_header(headers), str::to_owned);
    h.allowed_hosts
        .iter()
        .any(|a| a.eq_ignore_ascii_case(&host))
}

/// An `OPTIONS` request with `Origin` and `Access-Control-Request-Method`: answered here,
/// 200 with the CORS headers and nothing else.
fn preflight(cors: &Cors, r: &Request<'_, '_>) -> Option<Answer> {
    let method = header_text(r.headers, header::ACCESS_CONTROL_REQUEST_METHOD);
    let origin = header_text(r.headers, header::ORIGIN);
    if *r.inbound.method != Method::OPTIONS || method.is_empty() || origin.is_empty() {
        return None;
    }
    let mut h = HeaderMap::new();
    let mut set = |k: header::HeaderName, v: &str| {
        if let Ok(v) = HeaderValue::from_str(v) {
            h.insert(k, v);
        }
    };
    if cors.allow_credentials {
        set(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true");
    }
    let wildcard = |l: &[String]| cors.allow_credentials && l.iter().any(|x| x == "*");
    let asked_headers = header_text(r.headers, header::ACCESS_CONTROL_REQUEST_HEADERS);
    if wildcard(&cors.allow_headers) {
        if !asked_headers.is_empty() {
            set(header::ACCESS_CONTROL_ALLOW_HEADERS, asked_headers);
        }
    } else if !cors.allow_headers.is_empty() {
        set(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            &cors.allow_headers.join(","),
        );
    }
    if wildcard(&cors.allow_methods) {
        set(header::ACCESS_CONTROL_ALLOW_METHODS, method);
    } else if !cors.allow_methods.is_empty() {
        set(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            &cors.allow_methods.join(","),
        );
    }
    if let Some(m) = match_origin(cors, origin) {
        set(header::ACCESS_CONTROL_ALLOW_ORIGIN, &m);
    }
    if let Some(age) = cors.max_age {
        set(header::ACCESS_CONTROL_MAX_AGE, &age.to_string());
    }
    if let Some(v) = expose(cors) {
        set(header::ACCESS_CONTROL_EXPOSE_HEADERS, &v);
    }
    Some(Answer {
        status: StatusCode::OK,
        headers: h,
        body: Bytes::new(),
    })
}

/// The `Access-Control-Allow-Origin` for `origin`: a listed origin itself, `*` (the origin
/// itself when credentials are allowed: browsers refuse `*` with them), or an origin a
/// regex matches.
fn match_origin(cors: &Cors, origin: &str) -> Option<String> {
    for item in &cors.allow_origin_list {
        if item == origin {
            return Some(item.clone());
        }
        if item == "*" {
            return Some(if cors.allow_credentials {
                origin.to_owned()
            } else {
                "*".into()
            });
        }
    }
    cors.allow_origin_regex
        .iter()
        .any(|re| re.re().is_match(origin))
        .then(|| origin.to_owned())
}

/// `Access-Control-Expose-Headers`, unless it would be `*` with credentials.
fn expose(cors: &Cors) -> Option<String> {
    let l = &cors.expose_headers;
    let star_with_credentials = cors.allow_credentials && l.iter().any(|x| x == "*");
    (!l.is_empty() && !star_with_credentials).then(|| l.join(","))
}
