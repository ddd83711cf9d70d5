//! Request and response heads on the wire: parsed with `httparse`, written back with only the
//! end-to-end headers.
//!
//! The guard forwards what it judged and nothing it did not: the canonical target, the
//! client's end-to-end headers, `Host: docker`, and framing headers it wrote itself for the
//! body it is about to send. Hop-by-hop headers (RFC 9110 7.6.1), including those a
//! `Connection` header names, never pass in either direction; `Upgrade` only for an allowed
//! upgrade. Everything here is pure and allocation-light: the connection loop reuses its
//! buffers.

use crate::framing::{self, BodyFraming, FramingError};

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
    let mut expect_continue = false;
    let mut headers = Vec::with_capacity(head.len());
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("upgrade") {
            upgrade = Some(h.value.to_vec());
        } else if h.name.eq_ignore_ascii_case("expect") {
            expect_continue |= h.value.eq_ignore_ascii_case(b"100-continue");
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

fn parse_error(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid line ending",
        httparse::Error::Status => "invalid status",
        httparse::Error::Token => "invalid method or target",
        httparse::Error::TooManyHeaders => "too many headers",
        httparse::Error::Version => "invalid HTTP version",
    }
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

/// Why a response head from the daemon cannot be passed on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    /// Not a valid HTTP/1.x response head.
    #[error("malformed response head: {0}")]
    Malformed(&'static str),
    /// Conflicting or invalid framing headers.
    #[error("ambiguous response framing")]
    Framing,
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
