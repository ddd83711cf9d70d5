//! HTTP/1.1 heads on the wire: client requests and backend responses parsed with `httparse`
//! under the strict framing rules of `http1-framing`, and the heads the router writes.
//!
//! A request head becomes a method, a target and a `HeaderMap` (what routing and the
//! middlewares in [`crate::proxy`] read); the router writes the framing of what it sends
//! itself, so a `Content-Length` or `Transfer-Encoding` it did not check never passes.

use bytes::Bytes;
pub use http1_framing::ResponseError;
use http1_framing::{
    self as framing, expect_continue, parse_error, BodyFraming, FramingError, UnknownExpectation,
};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, StatusCode};

/// Most header lines accepted in one head.
pub const MAX_HEADERS: usize = 100;

/// Why a request head was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    /// Ambiguous or malformed framing.
    #[error("{0}")]
    Framing(#[from] FramingError),
    /// Not a valid HTTP/1.x request.
    #[error("malformed request head: {0}")]
    Malformed(&'static str),
    /// An `Expect` other than `100-continue` (417).
    #[error(transparent)]
    Expectation(#[from] UnknownExpectation),
}

/// A client's request head.
#[derive(Debug)]
pub struct RequestHead {
    /// The method.
    pub method: Method,
    /// The origin-form target (path and query), also for an absolute-form request.
    pub target: String,
    /// Where the path ends in `target` (the query follows a `?`).
    path_end: usize,
    /// The host the request is for: `Host`, or the authority of an absolute-form target.
    pub host: String,
    /// HTTP/1.0 (else 1.1).
    pub http10: bool,
    /// How the body is framed.
    pub body: BodyFraming,
    /// The client wants the connection closed after this exchange.
    pub close: bool,
    /// The client asks for a protocol upgrade (`Upgrade` and `Connection: upgrade`).
    pub upgrade: bool,
    /// `Expect: 100-continue`.
    pub expect_continue: bool,
    /// Every header as received, framing headers aside.
    pub headers: HeaderMap,
}

impl RequestHead {
    /// The path, as received.
    pub fn path(&self) -> &str {
        &self.target[..self.path_end]
    }

    /// The query, as received.
    pub fn query(&self) -> Option<&str> {
        self.target.get(self.path_end + 1..)
    }
}

fn connection_has(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Parses a complete request head (as `http1_framing::find_head_end` delimits it). Header
/// values share `head`'s bytes (no copy per header).
pub fn parse_request(head: &Bytes) -> Result<RequestHead, HeadError> {
    // Framing first: an ambiguous head is named as such, whatever else is wrong with it.
    let line_end = head.iter().position(|&b| b == b'\r').unwrap_or(head.len());
    let framing = framing::check_request_head(head, head[..line_end].ends_with(b" HTTP/1.0"))?;
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut slots);
    match req.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(HeadError::Malformed("incomplete head")),
        Err(e) => return Err(HeadError::Malformed(parse_error(e))),
    }
    let (Some(method), Some(target), Some(version)) = (req.method, req.path, req.version) else {
        return Err(HeadError::Malformed("incomplete request line"));
    };
    let method = Method::from_bytes(method.as_bytes())
        .map_err(|_| HeadError::Malformed("invalid method"))?;
    let http10 = version == 0;
    // Room for what the router adds before forwarding (`X-Forwarded-*`, `X-Real-IP`, a
    // middleware's), so the map is not grown and rehashed header by header.
    let mut headers = HeaderMap::with_capacity(req.headers.len() + 8);
    let mut hosts = 0;
    for h in req.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| HeadError::Malformed("invalid header name"))?;
        if name == header::CONTENT_LENGTH || name == header::TRANSFER_ENCODING {
            // Judged by `check_request_head`; the router writes the framing it sends.
            continue;
        }
        if name == header::HOST {
            hosts += 1;
        }
        let value = HeaderValue::from_maybe_shared(head.slice_ref(h.value))
            .map_err(|_| HeadError::Malformed("invalid header value"))?;
        headers.append(name, value);
    }
    // RFC 9112 3.2: one Host, and one at all in HTTP/1.1.
    if hosts > 1 {
        return Err(HeadError::Malformed("more than one Host header"));
    }
    let host_header = headers.get(header::HOST).map(|v| {
        v.to_str()
            .map_err(|_| HeadError::Malformed("invalid Host header"))
    });
    let (target, authority) = split_target(target, &method)?;
    let host = match (authority, host_header) {
        (Some(a), _) => a,
        (None, Some(h)) => h?.to_owned(),
        (None, None) if http10 => String::new(),
        (None, None) => return Err(HeadError::Malformed("no Host header")),
    };
    if !host.is_empty() {
        // An absolute-form target's authority replaces `Host` (RFC 9112 3.2.2): the backend
        // must see the host the request was routed by.
        let value = HeaderValue::from_str(&host)
            .map_err(|_| HeadError::Malformed("invalid request target"))?;
        headers.insert(header::HOST, value);
    }
    // `Content-Length: 0` stays a length (some servers want one on POST), not "no body".
    let length_zero = framing.body == BodyFraming::None
        && req
            .headers
            .iter()
            .any(|h| h.name.eq_ignore_ascii_case("content-length"));
    let close =
        connection_has(&headers, "close") || (http10 && !connection_has(&headers, "keep-alive"));
    let upgrade = framing.upgrade && connection_has(&headers, "upgrade");
    let expect_continue = expect_continue(
        headers
            .get_all(header::EXPECT)
            .iter()
            .map(HeaderValue::as_bytes),
    )?;
    let path_end = target.find('?').unwrap_or(target.len());
    Ok(RequestHead {
        method,
        target,
        path_end,
        host,
        http10,
        body: if length_zero {
            BodyFraming::Length(0)
        } else {
            framing.body
        },
        close,
        upgrade,
        expect_continue,
        headers,
    })
}

/// The origin-form target, and the host of an absolute-form one (RFC 9112 3.2.2: it names
/// the host, whatever `Host` says). As Go's server reads it: the scheme in any case, user
/// information dropped, and an empty host (`http://@/`) leaves the `Host` header in charge.
fn split_target(target: &str, method: &Method) -> Result<(String, Option<String>), HeadError> {
    if target.starts_with('/') {
        return Ok((target.to_owned(), None));
    }
    if target == "*" && method == Method::OPTIONS {
        return Ok((target.to_owned(), None));
    }
    let scheme_end = target
        .find("://")
        .ok_or(HeadError::Malformed("unsupported request target"))?;
    if !matches!(
        target[..scheme_end].to_ascii_lowercase().as_str(),
        "http" | "https"
    ) {
        return Err(HeadError::Malformed("unsupported request target"));
    }
    let rest = &target[scheme_end + 3..];
    if rest.bytes().any(|b| b == b'#' || b <= b' ' || b >= 0x7f) {
        return Err(HeadError::Malformed("invalid request target"));
    }
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, pq) = rest.split_at(end);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host_ok = host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=:[]".contains(&b));
    if !host_ok || host.starts_with(':') {
        return Err(HeadError::Malformed("invalid request target"));
    }
    let pq = if pq.starts_with('/') {
        pq.to_owned()
    } else {
        format!("/{pq}")
    };
    Ok((pq, (!host.is_empty()).then(|| host.to_owned())))
}

/// How a body the router sends is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outgoing {
    /// No body (and no framing header).
    None,
    /// This many bytes.
    Length(u64),
    /// Chunked.
    Chunked,
}

impl Outgoing {
    /// The framing a request body is forwarded with.
    pub fn of(body: BodyFraming) -> Outgoing {
        match body {
            BodyFraming::None | BodyFraming::UntilClose => Outgoing::None,
            BodyFraming::Length(n) => Outgoing::Length(n),
            BodyFraming::Chunked => Outgoing::Chunked,
        }
    }
}

fn push_headers(out: &mut Vec<u8>, headers: &HeaderMap) {
    for (k, v) in headers {
        out.extend_from_slice(k.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

fn push_framing(out: &mut Vec<u8>, body: Outgoing) {
    match body {
        Outgoing::None => {}
        Outgoing::Length(n) => {
            out.extend_from_slice(b"content-length: ");
            out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        Outgoing::Chunked => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
    }
}

/// Writes a request head for a backend: HTTP/1.1, origin form, `headers` and the framing of
/// the body that follows. The framing is the router's alone: a `Content-Length` or
/// `Transfer-Encoding` among `headers` (one a middleware copied from an authentication
/// server's answer, say) is not written, as Go's transport ignores them.
pub fn write_request_head(
    out: &mut Vec<u8>,
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Outgoing,
) {
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(path.as_bytes());
    if let Some(q) = query {
        out.push(b'?');
        out.extend_from_slice(q.as_bytes());
    }
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (k, v) in headers {
        if k == http::header::CONTENT_LENGTH || k == http::header::TRANSFER_ENCODING {
            continue;
        }
        out.extend_from_slice(k.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    push_framing(out, body);
    out.extend_from_slice(b"\r\n");
}

/// Writes a response head for a client. `length` is passed on as `Content-Length` when the
/// framing says none (a `HEAD` answer, a 304); `close` adds `Connection: close`.
pub fn write_response_head(
    out: &mut Vec<u8>,
    status: StatusCode,
    headers: &HeaderMap,
    body: Outgoing,
    close: bool,
) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    push_headers(out, headers);
    push_framing(out, body);
    if close {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// A backend's response head.
#[derive(Debug)]
pub struct ResponseHead {
    /// The status.
    pub status: StatusCode,
    /// How the body is framed (given the request's method).
    pub body: BodyFraming,
    /// The backend closes the connection after this answer.
    pub close: bool,
    /// Its headers, framing ones removed (`Content-Length` is kept: it is what a `HEAD`
    /// answer or a 304 says about the representation, and the body's length otherwise).
    pub headers: HeaderMap,
}

/// Parses a complete response head. `head_request`: the request was `HEAD` (no body follows
/// whatever the headers say). Header values share `head`'s bytes.
pub fn parse_response(head: &Bytes, head_request: bool) -> Result<ResponseHead, ResponseError> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut slots);
    match resp.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(ResponseError::Malformed("incomplete head")),
        Err(e) => return Err(ResponseError::Malformed(parse_error(e))),
    }
    let (Some(code), Some(version)) = (resp.code, resp.version) else {
        return Err(ResponseError::Malformed("incomplete status line"));
    };
    let status =
        StatusCode::from_u16(code).map_err(|_| ResponseError::Malformed("invalid status"))?;
    let mut length = None;
    let mut coded = false;
    let mut chunked = false;
    // Room for the answer headers the router adds (security defaults, a middleware's).
    let mut headers = HeaderMap::with_capacity(resp.headers.len() + 4);
    for h in resp.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| ResponseError::Malformed("invalid header name"))?;
        if name == header::CONTENT_LENGTH {
            let n = framing::parse_length(h.value.trim_ascii()).ok_or(ResponseError::Framing)?;
            if length.is_some_and(|l| l != n) {
                return Err(ResponseError::Framing);
            }
            if length.is_some() {
                continue;
            }
            length = Some(n);
        } else if name == header::TRANSFER_ENCODING {
            if coded {
                return Err(ResponseError::Framing);
            }
            coded = true;
            // Only `chunked` alone is relayed; another transfer coding is not passed on.
            chunked = h.value.trim_ascii().eq_ignore_ascii_case(b"chunked");
            if !chunked {
                return Err(ResponseError::Framing);
            }
            continue;
        }
        let value = HeaderValue::from_maybe_shared(head.slice_ref(h.value))
            .map_err(|_| ResponseError::Malformed("invalid header value"))?;
        headers.append(name, value);
    }
    let close = connection_has(&headers, "close")
        || (version == 0 && !connection_has(&headers, "keep-alive"));
    let no_body = head_request || status.is_informational() || status == 204 || status == 304;
    let body = if no_body {
        BodyFraming::None
    } else if chunked {
        if length.is_some() {
            return Err(ResponseError::Framing);
        }
        BodyFraming::Chunked
    } else {
        match length {
            Some(0) => BodyFraming::None,
            Some(n) => BodyFraming::Length(n),
            None => BodyFraming::UntilClose,
        }
    };
    if chunked || (no_body && status.is_informational()) {
        headers.remove(header::CONTENT_LENGTH);
    }
    Ok(ResponseHead {
        status,
        body,
        close,
        headers,
    })
}

/// Properties of this module on arbitrary bytes, shared by the property tests and the fuzz
/// target: nothing panics, and whatever the router would write from a head it accepted
/// parses back to the same message (so what a backend or a client reads is what the router
/// judged).
#[doc(hidden)]
pub mod props {
    use super::*;

    /// Checks one request head candidate; `Err` names the broken property.
    pub fn request_round_trip(bytes: &[u8]) -> Result<(), String> {
        let Ok(Some(end)) = framing::find_head_end(bytes, 0) else {
            return Ok(());
        };
        let Ok(head) = parse_request(&Bytes::copy_from_slice(&bytes[..end])) else {
            return Ok(());
        };
        if head.headers.contains_key(header::CONTENT_LENGTH)
            || head.headers.contains_key(header::TRANSFER_ENCODING)
        {
            return Err("framing headers kept".into());
        }
        if !(head.target.starts_with('/') || head.target == "*") {
            return Err(format!("target {:?} is not in origin form", head.target));
        }
        if head.headers.len() + 1 >= MAX_HEADERS {
            // The written head may carry one more (`Host`) than this parser's limit for
            // clients; a backend's limit is its own.
            return Ok(());
        }
        // As the connection loop does for an HTTP/1.0 request without one.
        let mut headers = head.headers.clone();
        if !headers.contains_key(header::HOST) {
            headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:80"));
        }
        let mut out = Vec::new();
        let framing = Outgoing::of(head.body);
        write_request_head(
            &mut out,
            &head.method,
            head.path(),
            head.query(),
            &headers,
            framing,
        );
        let again_end = framing::find_head_end(&out, 0)
            .map_err(|e| format!("written head: {e}"))?
            .ok_or("written head incomplete")?;
        if again_end != out.len() {
            return Err("written head ends early".into());
        }
        let again = parse_request(&Bytes::from(out)).map_err(|e| format!("written head: {e}"))?;
        if again.method != head.method || again.target != head.target {
            return Err("request line changed".into());
        }
        if Outgoing::of(again.body) != framing {
            return Err("framing changed".into());
        }
        if again.headers != headers {
            return Err("headers changed".into());
        }
        Ok(())
    }

    /// Checks one response head candidate the same way.
    pub fn response_round_trip(bytes: &[u8]) -> Result<(), String> {
        let Ok(Some(end)) = framing::find_head_end(bytes, 0) else {
            return Ok(());
        };
        let Ok(resp) = parse_response(&Bytes::copy_from_slice(&bytes[..end]), false) else {
            return Ok(());
        };
        if resp.status == StatusCode::SWITCHING_PROTOCOLS || resp.body == BodyFraming::UntilClose {
            return Ok(());
        }
        let framing = match resp.body {
            BodyFraming::Chunked => Outgoing::Chunked,
            _ => Outgoing::None,
        };
        let mut out = Vec::new();
        write_response_head(&mut out, resp.status, &resp.headers, framing, false);
        let again =
            parse_response(&Bytes::from(out), false).map_err(|e| format!("written head: {e}"))?;
        if again.status != resp.status || again.body != resp.body {
            return Err(format!(
                "{:?} {:?} became {:?} {:?}",
                resp.status, resp.body, again.status, again.body
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(raw: &str) -> Result<RequestHead, HeadError> {
        parse_request(&Bytes::copy_from_slice(raw.as_bytes()))
    }

    #[test]
    fn the_framing_of_a_request_head_is_the_routers_alone() {
        let mut h = HeaderMap::new();
        h.insert(http::header::CONTENT_LENGTH, "0".parse().unwrap());
        h.insert(http::header::TRANSFER_ENCODING, "chunked".parse().unwrap());
        h.insert("x-a", "1".parse().unwrap());
        let mut out = Vec::new();
        write_request_head(&mut out, &Method::POST, "/", None, &h, Outgoing::Length(5));
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text, "POST / HTTP/1.1\r\nx-a: 1\r\ncontent-length: 5\r\n\r\n",
            "one framing header, the router's"
        );
    }

    #[test]
    fn a_request_head_gives_method_target_host_and_headers() {
        let r = req("GET /a/b?x=1 HTTP/1.1\r\nHost: Example.test:8080\r\nX-A: 1\r\nX-A: 2\r\n\r\n")
            .unwrap();
        assert_eq!(r.method, Method::GET);
        assert_eq!((r.path(), r.query()), ("/a/b", Some("x=1")));
        assert_eq!(r.host, "Example.test:8080");
        assert!(!r.close && !r.http10 && !r.upgrade && !r.expect_continue);
        assert_eq!(r.headers.get_all("x-a").iter().count(), 2);
        assert_eq!(r.body, BodyFraming::None);
    }

    #[test]
    fn framing_headers_are_judged_and_not_kept() {
        let r = req("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n").unwrap();
        assert_eq!(r.body, BodyFraming::Length(3));
        assert!(!r.headers.contains_key(header::CONTENT_LENGTH));
        let r = req("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap();
        assert_eq!(r.body, BodyFraming::Chunked);
        assert!(!r.headers.contains_key(header::TRANSFER_ENCODING));
        for bad in [
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +3\r\n\r\n",
        ] {
            assert!(matches!(req(bad), Err(HeadError::Framing(_))), "{bad:?}");
        }
    }

    #[test]
    fn host_is_required_once_in_http11() {
        assert_eq!(
            req("GET / HTTP/1.1\r\n\r\n").unwrap_err(),
            HeadError::Malformed("no Host header")
        );
        assert_eq!(
            req("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n").unwrap_err(),
            HeadError::Malformed("more than one Host header")
        );
        let r = req("GET / HTTP/1.0\r\n\r\n").unwrap();
        assert!(r.http10 && r.close && r.host.is_empty());
        let r = req("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").unwrap();
        assert!(!r.close);
    }

    #[test]
    fn an_absolute_target_names_the_host() {
        let r = req("GET http://App.test:81/p?q HTTP/1.1\r\nHost: other\r\n\r\n").unwrap();
        assert_eq!(r.host, "App.test:81");
        assert_eq!(r.target, "/p?q");
        let r = req("GET HTTP://user@a.test?x=1 HTTP/1.1\r\nHost: other\r\n\r\n").unwrap();
        assert_eq!((r.host.as_str(), r.target.as_str()), ("a.test", "/?x=1"));
        // An empty host leaves Host in charge, as in Go's server.
        let r = req("GET http://@/ HTTP/1.1\r\nHost: b.test\r\n\r\n").unwrap();
        assert_eq!((r.host.as_str(), r.target.as_str()), ("b.test", "/"));
        let r = req("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
        assert_eq!(r.path(), "*");
        for bad in [
            "GET * HTTP/1.1\r\nHost: h\r\n\r\n",
            "CONNECT h:443 HTTP/1.1\r\nHost: h\r\n\r\n",
            "GET ftp://h/ HTTP/1.1\r\nHost: h\r\n\r\n",
            "GET http://h/#f HTTP/1.1\r\nHost: h\r\n\r\n",
            "GET http://h\"x/ HTTP/1.1\r\nHost: h\r\n\r\n",
            "GET http:/h HTTP/1.1\r\nHost: h\r\n\r\n",
        ] {
            assert!(matches!(req(bad), Err(HeadError::Malformed(_))), "{bad:?}");
        }
    }

    #[test]
    fn upgrade_needs_both_headers() {
        let r = req("GET /ws HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n").unwrap();
        assert!(r.upgrade);
        let r = req("GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n").unwrap();
        assert!(!r.upgrade);
    }

    #[test]
    fn heads_are_written_with_the_framing_given() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("a.test"));
        let mut out = Vec::new();
        write_request_head(
            &mut out,
            &Method::POST,
            "/x",
            Some("y=1"),
            &h,
            Outgoing::Length(5),
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "POST /x?y=1 HTTP/1.1\r\nhost: a.test\r\ncontent-length: 5\r\n\r\n"
        );
        let mut out = Vec::new();
        write_response_head(&mut out, StatusCode::OK, &h, Outgoing::Chunked, true);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 200 OK\r\nhost: a.test\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
        );
    }

    #[test]
    fn response_framing_is_strict() {
        let ok =
            |raw: &str, head: bool| parse_response(&Bytes::copy_from_slice(raw.as_bytes()), head);
        let r = ok("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", false).unwrap();
        assert_eq!(r.body, BodyFraming::Length(5));
        assert_eq!(r.headers[header::CONTENT_LENGTH], "5");
        let r = ok("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true).unwrap();
        assert_eq!(r.body, BodyFraming::None);
        assert_eq!(
            r.headers[header::CONTENT_LENGTH],
            "5",
            "HEAD keeps the length"
        );
        let r = ok(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            false,
        )
        .unwrap();
        assert_eq!(r.body, BodyFraming::Chunked);
        let r = ok("HTTP/1.1 200 OK\r\n\r\n", false).unwrap();
        assert_eq!(r.body, BodyFraming::UntilClose);
        let r = ok("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", false).unwrap();
        assert!(r.close);
        let r = ok("HTTP/1.1 204 No Content\r\n\r\n", false).unwrap();
        assert_eq!(r.body, BodyFraming::None);
        for bad in [
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        ] {
            assert_eq!(
                ok(bad, false).unwrap_err(),
                ResponseError::Framing,
                "{bad:?}"
            );
        }
        assert!(matches!(
            ok("HTTP/1.1 2000 OK\r\n\r\n", false),
            Err(ResponseError::Malformed(_))
        ));
    }
}
