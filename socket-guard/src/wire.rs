//! Request and response heads on the wire: parsed with `httparse`, written back with only the
//! end-to-end headers.
//!
//! The guard forwards what it judged and nothing it did not: the canonical target, the
//! client's end-to-end headers, `Host: docker`, and framing headers it wrote itself for the
//! body it is about to send. Hop-by-hop headers (RFC 9110 7.6.1), including those a
//! `Connection` header names, never pass in either direction; `Upgrade` only for an allowed
//! upgrade. Everything here is pure and allocation-light: the connection loop reuses its
//! buffers.

pub use crate::framing::ResponseError;
use crate::framing::{
    self, expect_continue, parse_error, BodyFraming, FramingError, UnknownExpectation,
};

/// Most header lines accepted in one head.
pub const MAX_HEADERS: usize = 100;

/// Why a request head was refused before it was judged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    /// Ambiguous or malformed framing (see [`crate::framing`]).
    #[error("{0}")]
    Framing(#[from] FramingError),
    /// Not an HTTP/1.x request line or header block.
    #[error("malformed request head: {0}")]
    Malformed(&'static str),
    /// More than [`MAX_HEADERS`] header lines.
    #[error("more than {MAX_HEADERS} header lines")]
    TooManyHeaders,
    /// An `Expect` other than `100-continue` (417).
    #[error(transparent)]
    Expectation(#[from] UnknownExpectation),
}

/// A request head, as far as the guard needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The method, case as sent.
    pub method: String,
    /// The request target as sent.
    pub target: String,
    /// HTTP/1.0 (else 1.1).
    pub http10: bool,
    /// How the body is framed.
    pub body: BodyFraming,
    /// The client wants the connection closed after this exchange.
    pub close: bool,
    /// The `Upgrade` header's value, when the client asks for one.
    pub upgrade: Option<Vec<u8>>,
    /// `Expect: 100-continue`.
    pub expect_continue: bool,
    /// The end-to-end header lines, each `Name: value\r\n`, as they would be forwarded.
    pub headers: Vec<u8>,
}

/// Headers never forwarded as they are: hop-by-hop ones, and those the guard writes itself.
fn is_dropped(name: &str) -> bool {
    const DROPPED: [&str; 12] = [
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "host",
        "expect",
    ];
    DROPPED.iter().any(|d| name.eq_ignore_ascii_case(d))
}

/// The names a `Connection` header lists (beside `close`, `keep-alive` and `upgrade`, which
/// have their own meaning).
fn connection_tokens<'a>(
    headers: &'a [httparse::Header<'a>],
) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("connection"))
        .filter_map(|h| std::str::from_utf8(h.value).ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

fn listed(tokens: &[&str], name: &str) -> bool {
    tokens.iter().any(|t| t.eq_ignore_ascii_case(name))
}

/// Parses a complete request head (as [`framing::find_head_end`] delimits it).
pub fn parse_request(head: &[u8]) -> Result<RequestHead, HeadError> {
    // Framing first: an ambiguous head is named as such, whatever else is wrong with it.
    let line_end = head.iter().position(|&b| b == b'\r').unwrap_or(head.len());
    let framing = framing::check_request_head(head, head[..line_end].ends_with(b" HTTP/1.0"))?;
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut slots);
    match req.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(HeadError::Malformed("incomplete head")),
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooManyHeaders),
        Err(e) => return Err(HeadError::Malformed(parse_error(e))),
    }
    let (Some(method), Some(target), Some(version)) = (req.method, req.path, req.version) else {
        return Err(HeadError::Malformed("incomplete request line"));
    };
    let http10 = version == 0;
    let tokens: Vec<&str> = connection_tokens(req.headers).collect();
    let close = listed(&tokens, "close") || (http10 && !listed(&tokens, "keep-alive"));
    let mut upgrade = None;
    let expect_continue = expect_continue(
        req.headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case("expect"))
            .map(|h| h.value),
    )?;
    let mut headers = Vec::with_capacity(head.len());
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("upgrade") {
            upgrade = Some(h.value.to_vec());
        }
        if is_dropped(h.name) || listed(&tokens, h.name) {
            continue;
        }
        push_header(&mut headers, h.name.as_bytes(), h.value);
    }
    Ok(RequestHead {
        method: method.to_owned(),
        target: target.to_owned(),
        http10,
        body: framing.body,
        close,
        upgrade: upgrade.filter(|_| framing.upgrade),
        expect_continue,
        headers,
    })
}

fn push_header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// How the forwarded request's body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outgoing {
    /// No body.
    None,
    /// This many bytes (an inspected body, or a streamed fixed-length one).
    Length(u64),
    /// A chunked body passed on as it comes.
    Chunked,
}

/// Writes the head forwarded to the daemon: the canonical target, the client's end-to-end
/// headers, `Host: docker`, the body's framing, and the upgrade when one is allowed.
pub fn write_forward_head(
    out: &mut Vec<u8>,
    head: &RequestHead,
    uri: &str,
    body: Outgoing,
    upgrade: bool,
) {
    out.extend_from_slice(head.method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(uri.as_bytes());
    out.extend_from_slice(if head.http10 {
        b" HTTP/1.0\r\nHost: docker\r\n"
    } else {
        b" HTTP/1.1\r\nHost: docker\r\n"
    });
    out.extend_from_slice(&head.headers);
    match body {
        Outgoing::None => {}
        Outgoing::Length(n) => {
            out.extend_from_slice(b"Content-Length: ");
            out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        Outgoing::Chunked => out.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
    }
    if let (true, Some(proto)) = (upgrade, &head.upgrade) {
        push_header(out, b"Upgrade", proto);
        out.extend_from_slice(b"Connection: Upgrade\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// A response head from the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// The status code.
    pub status: u16,
    /// How the body is framed (given the request's method).
    pub body: BodyFraming,
    /// The daemon will close the connection after this response.
    pub close: bool,
    /// The status line and the headers to pass on, each line CRLF-terminated, without the
    /// final empty line (so the connection loop can add `Connection: close`).
    pub head: Vec<u8>,
}

/// Parses a complete response head. `head_request`: the request was `HEAD` (no body follows
/// whatever the headers say). On a 101, `Connection` and `Upgrade` are kept.
pub fn parse_response(head: &[u8], head_request: bool) -> Result<ResponseHead, ResponseError> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut slots);
    match resp.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(ResponseError::Malformed("incomplete head")),
        Err(e) => return Err(ResponseError::Malformed(parse_error(e))),
    }
    let (Some(status), Some(version)) = (resp.code, resp.version) else {
        return Err(ResponseError::Malformed("incomplete status line"));
    };
    let tokens: Vec<&str> = connection_tokens(resp.headers).collect();
    let upgraded = status == 101;
    let mut length = None;
    let mut chunked = false;
    let mut coded = false;
    let mut out = Vec::with_capacity(head.len());
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(itoa::Buffer::new().format(status).as_bytes());
    out.push(b' ');
    out.extend_from_slice(resp.reason.unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    for h in resp.headers.iter() {
        let name = h.name;
        if name.eq_ignore_ascii_case("content-length") {
            let n = framing::parse_length(h.value.trim_ascii()).ok_or(ResponseError::Framing)?;
            if length.is_some_and(|l| l != n) {
                return Err(ResponseError::Framing);
            }
            if length.is_some() {
                continue;
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            // Passed on as it is: the body is relayed with its chunks.
            coded = true;
            chunked = h
                .value
                .rsplit(|&b| b == b',')
                .next()
                .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if upgraded
            && (name.eq_ignore_ascii_case("connection") || name.eq_ignore_ascii_case("upgrade"))
        {
            // A 101 names its protocol; the tunnel needs both.
        } else if is_dropped(name) || listed(&tokens, name) {
            continue;
        }
        push_header(&mut out, name.as_bytes(), h.value);
    }
    let no_body = head_request || (100..200).contains(&status) || status == 204 || status == 304;
    let body = if no_body {
        BodyFraming::None
    } else if coded {
        if length.is_some() {
            return Err(ResponseError::Framing);
        }
        if chunked {
            BodyFraming::Chunked
        } else {
            BodyFraming::UntilClose
        }
    } else {
        match length {
            Some(0) => BodyFraming::None,
            Some(n) => BodyFraming::Length(n),
            None => BodyFraming::UntilClose,
        }
    };
    let close = listed(&tokens, "close") || (version == 0 && !listed(&tokens, "keep-alive"));
    Ok(ResponseHead {
        status,
        body,
        close,
        head: out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(req: &[u8], uri: &str, body: Outgoing, upgrade: bool) -> (RequestHead, String) {
        let head = parse_request(req).unwrap();
        let mut out = Vec::new();
        write_forward_head(&mut out, &head, uri, body, upgrade);
        (head, String::from_utf8(out).unwrap())
    }

    #[test]
    fn only_end_to_end_headers_are_forwarded() {
        let req = b"GET /v1.41/containers/json?all=1 HTTP/1.1\r\nHost: evil\r\nUser-Agent: t\r\nConnection: keep-alive, X-Secret\r\nX-Secret: 1\r\nKeep-Alive: 5\r\nTE: trailers\r\nProxy-Authorization: x\r\nX-Registry-Auth: abc\r\n\r\n";
        let (head, out) = forwarded(req, "/v1.41/containers/json?all=1", Outgoing::None, false);
        assert_eq!(head.method, "GET");
        assert_eq!(head.target, "/v1.41/containers/json?all=1");
        assert!(!head.close && !head.http10 && head.upgrade.is_none());
        assert_eq!(
            out,
            "GET /v1.41/containers/json?all=1 HTTP/1.1\r\nHost: docker\r\nUser-Agent: t\r\nX-Registry-Auth: abc\r\n\r\n"
        );
    }

    #[test]
    fn an_expectation_other_than_100_continue_is_refused() {
        let req = b"POST /containers/create HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\nExpect: x-then-run\r\n\r\n";
        assert!(matches!(
            parse_request(req),
            Err(HeadError::Expectation(UnknownExpectation(v))) if v == "x-then-run"
        ));
    }

    #[test]
    fn the_guard_writes_the_framing_of_what_it_sends() {
        let req = b"POST /containers/create HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n";
        let (head, out) = forwarded(req, "/containers/create", Outgoing::Length(2), false);
        assert!(head.expect_continue);
        assert_eq!(head.body, BodyFraming::Length(2));
        assert_eq!(
            out,
            "POST /containers/create HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n"
        );
        let req = b"POST /images/load HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        let (head, out) = forwarded(req, "/images/load", Outgoing::Chunked, false);
        assert_eq!(head.body, BodyFraming::Chunked);
        assert!(
            out.ends_with("Host: docker\r\nTransfer-Encoding: chunked\r\n\r\n"),
            "{out}"
        );
    }

    #[test]
    fn an_upgrade_goes_on_only_when_allowed() {
        let req = b"POST /exec/x/start HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 2\r\n\r\n";
        let (head, allowed) = forwarded(req, "/exec/x/start", Outgoing::Length(2), true);
        assert_eq!(head.upgrade.as_deref(), Some(&b"tcp"[..]));
        assert!(
            allowed.contains("Upgrade: tcp\r\nConnection: Upgrade\r\n"),
            "{allowed}"
        );
        let (_, refused) = forwarded(req, "/exec/x/start", Outgoing::Length(2), false);
        assert!(
            !refused.to_ascii_lowercase().contains("upgrade"),
            "{refused}"
        );
    }

    #[test]
    fn connection_persistence_follows_the_version() {
        let h = parse_request(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        assert!(h.http10 && h.close);
        let h = parse_request(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").unwrap();
        assert!(h.http10 && !h.close);
        let h = parse_request(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n").unwrap();
        assert!(!h.http10 && h.close);
        let (_, out) = forwarded(b"GET / HTTP/1.0\r\n\r\n", "/", Outgoing::None, false);
        assert!(out.starts_with("GET / HTTP/1.0\r\n"), "{out}");
    }

    #[test]
    fn malformed_heads_are_named() {
        assert_eq!(
            parse_request(b"GET /a b HTTP/1.1\r\n\r\n"),
            Err(HeadError::Malformed("invalid HTTP version"))
        );
        assert!(matches!(
            parse_request(b"GET /\x01 HTTP/1.1\r\n\r\n"),
            Err(HeadError::Malformed(_))
        ));
        assert_eq!(
            parse_request(b"PRI * HTTP/2.0\r\n\r\n"),
            Err(HeadError::Malformed("invalid HTTP version"))
        );
        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(parse_request(&many), Err(HeadError::TooManyHeaders));
        assert_eq!(
            parse_request(
                b"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
            ),
            Err(HeadError::Framing(FramingError::LengthAndChunked))
        );
        assert_eq!(
            parse_request(b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Err(HeadError::Framing(FramingError::ChunkedHttp10))
        );
    }

    #[test]
    fn response_framing() {
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nKeep-Alive: 5\r\nX-A: 1\r\n\r\n",
            false,
        )
        .unwrap();
        assert_eq!(
            (r.status, r.body, r.close),
            (200, BodyFraming::Length(2), false)
        );
        assert_eq!(
            String::from_utf8(r.head).unwrap(),
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: 1\r\n"
        );
        let r = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", true).unwrap();
        assert_eq!(r.body, BodyFraming::None, "no body after HEAD");
        for status in ["204 No Content", "304 Not Modified"] {
            let raw = format!("HTTP/1.1 {status}\r\nContent-Length: 9\r\n\r\n");
            assert_eq!(
                parse_response(raw.as_bytes(), false).unwrap().body,
                BodyFraming::None
            );
        }
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            false,
        )
        .unwrap();
        assert_eq!(r.body, BodyFraming::Chunked);
        assert!(String::from_utf8(r.head)
            .unwrap()
            .contains("Transfer-Encoding: chunked\r\n"));
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n",
            false,
        )
        .unwrap();
        assert_eq!(r.body, BodyFraming::UntilClose);
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            false,
        )
        .unwrap();
        assert!(r.close);
        assert!(!String::from_utf8(r.head).unwrap().contains("Connection"));
        let r = parse_response(b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", false).unwrap();
        assert!(r.close, "HTTP/1.0 without keep-alive closes");
        let r = parse_response(
            b"HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n",
            false,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(r.head).unwrap(),
            "HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
        );
        for lie in [
            &b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\n",
        ] {
            assert_eq!(
                parse_response(lie, false),
                Err(ResponseError::Framing),
                "{}",
                String::from_utf8_lossy(lie)
            );
        }
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n",
            false,
        )
        .unwrap();
        assert_eq!(
            r.body,
            BodyFraming::Length(2),
            "a repeated equal length is one length"
        );
        assert_eq!(
            String::from_utf8(r.head)
                .unwrap()
                .matches("Content-Length")
                .count(),
            1
        );
    }
}
