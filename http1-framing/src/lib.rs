//! Strict HTTP/1.1 message framing, judged on the raw bytes.
//!
//! Leniency in a proxy is how request smuggling starts: two parsers that disagree on where a
//! message ends let a second request ride inside the first. socket-guard (in front of a
//! root-equivalent socket) and the router (at the edge) therefore refuse anything ambiguous:
//! bare LF, obsolete line folding, `Content-Length` together with `Transfer-Encoding`, two
//! `Content-Length`s, a length that is not plain digits, any transfer coding but `chunked`,
//! chunked bodies from HTTP/1.0 clients, and malformed chunks.
//!
//! Three pure pieces, used by both proxies' connection loops for requests and (the first and
//! last) for the responses they relay: [`find_head_end`] finds where a head ends and refuses a
//! bare LF as soon as it arrives; [`check_request_head`] says how the body after a complete
//! head is framed; [`ChunkDecoder`] follows a chunked body to its end, validating it and, when
//! asked, keeping its data; [`BodyLeft`] tells a relay how much of what it read is body. No
//! I/O, no allocation beyond a chunk-size line; the `tokio` feature adds [`io`], the loops
//! both proxies use to wait for a request head, to pass a request body upstream while
//! listening for an early answer, and to close a connection whose client is still sending.

#![cfg_attr(test, allow(clippy::unwrap_used))]

#[cfg(feature = "tokio")]
pub mod io;

/// Longest message head accepted.
pub const MAX_HEAD: usize = 64 * 1024;

/// Longest chunk-size or trailer line accepted.
const MAX_LINE: usize = 4096;

/// Why a message's framing was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    #[error("bare LF line ending")]
    BareLf,
    #[error("obsolete header line folding")]
    ObsFold,
    #[error("malformed header line")]
    BadHeader,
    #[error("both Content-Length and Transfer-Encoding")]
    LengthAndChunked,
    #[error("more than one Content-Length")]
    DuplicateLength,
    #[error("Content-Length is not a plain non-negative number")]
    BadLength,
    #[error("a Transfer-Encoding other than chunked")]
    BadTransferEncoding,
    #[error("Transfer-Encoding in an HTTP/1.0 request")]
    ChunkedHttp10,
    #[error("malformed chunk")]
    BadChunk,
    #[error("message head too large")]
    HeadTooLarge,
}

/// How the body after a head is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body.
    None,
    /// Exactly this many bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Everything until the connection closes (responses only).
    UntilClose,
}

/// What a valid request head says about the bytes after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestFraming {
    /// The body.
    pub body: BodyFraming,
    /// Whether the request asks for an upgrade (what follows may become a tunnel).
    pub upgrade: bool,
}

/// Finds the end of the head at the start of `buf`: `Ok(Some(len))` with `len` counting the
/// final CRLF CRLF, `Ok(None)` when more bytes are needed. Scanning starts at `from` (bytes
/// before it were scanned already); every LF must follow a CR.
pub fn find_head_end(buf: &[u8], from: usize) -> Result<Option<usize>, FramingError> {
    find_head_end_within(buf, from, MAX_HEAD)
}

/// [`find_head_end`] with `max` instead of [`MAX_HEAD`] as the longest head accepted.
pub fn find_head_end_within(
    buf: &[u8],
    from: usize,
    max: usize,
) -> Result<Option<usize>, FramingError> {
    let mut i = from;
    while let Some(off) = buf[i..].iter().position(|&b| b == b'\n') {
        let at = i + off;
        if at == 0 || buf[at - 1] != b'\r' {
            return Err(if at >= max {
                FramingError::HeadTooLarge
            } else {
                FramingError::BareLf
            });
        }
        if at >= 3 && buf[at - 3..at - 1] == *b"\r\n" {
            return if at + 1 > max {
                Err(FramingError::HeadTooLarge)
            } else {
                Ok(Some(at + 1))
            };
        }
        i = at + 1;
    }
    if buf.len() >= max {
        return Err(FramingError::HeadTooLarge);
    }
    Ok(None)
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Judges the header lines of a complete request head (as [`find_head_end`] delimits it) and
/// says how its body is framed. The request line is left to the head parser.
pub fn check_request_head(head: &[u8], http10: bool) -> Result<RequestFraming, FramingError> {
    let text = head.strip_suffix(b"\r\n\r\n").unwrap_or(head);
    let mut lines = text
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    lines.next();
    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut upgrade = false;
    for line in lines {
        if matches!(line.first(), Some(b' ' | b'\t')) {
            return Err(FramingError::ObsFold);
        }
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(FramingError::BadHeader)?;
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
            return Err(FramingError::BadHeader);
        }
        let value = value.trim_ascii();
        if name.eq_ignore_ascii_case(b"content-length") {
            if length.is_some() {
                return Err(FramingError::DuplicateLength);
            }
            length = Some(parse_length(value).ok_or(FramingError::BadLength)?);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            if chunked || !value.eq_ignore_ascii_case(b"chunked") {
                return Err(FramingError::BadTransferEncoding);
            }
            chunked = true;
        } else if name.eq_ignore_ascii_case(b"upgrade") {
            upgrade = true;
        }
    }
    let body = match (length, chunked) {
        (Some(_), true) => return Err(FramingError::LengthAndChunked),
        (None, true) if http10 => return Err(FramingError::ChunkedHttp10),
        (None, true) => BodyFraming::Chunked,
        (Some(0) | None, false) => BodyFraming::None,
        (Some(n), false) => BodyFraming::Length(n),
    };
    Ok(RequestFraming { body, upgrade })
}

/// A `Content-Length` value: plain ASCII digits only, no sign, no list.
pub fn parse_length(value: &[u8]) -> Option<u64> {
    if value.is_empty() || value.len() > 18 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    Size,
    Data(u64),
    DataCr,
    DataLf,
    Trailers,
    Done,
}

/// Follows a chunked body. Feed it the bytes after the head, in order; it says how many
/// belong to the body and when the body is complete.
#[derive(Debug, Clone)]
pub struct ChunkDecoder {
    state: Chunk,
    line: Vec<u8>,
}

impl Default for ChunkDecoder {
    fn default() -> Self {
        ChunkDecoder {
            state: Chunk::Size,
            line: Vec::new(),
        }
    }
}

impl ChunkDecoder {
    /// Whether the last chunk and the trailers were seen.
    pub fn is_done(&self) -> bool {
        self.state == Chunk::Done
    }

    /// Consumes body bytes from the start of `input` and returns how many belong to the body
    /// (all of them unless the body ends inside `input`). The chunks' data is appended to
    /// `data` when given.
    pub fn decode(
        &mut self,
        input: &[u8],
        mut data: Option<&mut Vec<u8>>,
    ) -> Result<usize, FramingError> {
        let mut i = 0;
        while i < input.len() {
            match self.state {
                Chunk::Done => break,
                Chunk::Data(left) => {
                    let take = left.min((input.len() - i) as u64) as usize;
                    if let Some(d) = data.as_deref_mut() {
                        d.extend_from_slice(&input[i..i + take]);
                    }
                    i += take;
                    self.state = match left - take as u64 {
                        0 => Chunk::DataCr,
                        rest => Chunk::Data(rest),
                    };
                }
                Chunk::DataCr => {
                    if input[i] != b'\r' {
                        return Err(FramingError::BadChunk);
                    }
                    i += 1;
                    self.state = Chunk::DataLf;
                }
                Chunk::DataLf => {
                    if input[i] != b'\n' {
                        return Err(FramingError::BadChunk);
                    }
                    i += 1;
                    self.state = Chunk::Size;
                }
                Chunk::Size | Chunk::Trailers => {
                    let b = input[i];
                    i += 1;
                    if b != b'\n' {
                        if self.line.len() >= MAX_LINE {
                            return Err(FramingError::BadChunk);
                        }
                        self.line.push(b);
                        continue;
                    }
                    if self.line.pop() != Some(b'\r') {
                        return Err(FramingError::BareLf);
                    }
                    let line = std::mem::take(&mut self.line);
                    self.state = if self.state == Chunk::Trailers {
                        if line.is_empty() {
                            Chunk::Done
                        } else if line.contains(&b':')
                            && !matches!(line[0], b' ' | b'\t')
                            && !has_control(&line)
                        {
                            Chunk::Trailers
                        } else {
                            return Err(FramingError::BadChunk);
                        }
                    } else {
                        match chunk_size(&line)? {
                            0 => Chunk::Trailers,
                            n => Chunk::Data(n),
                        }
                    };
                    self.line = line;
                    self.line.clear();
                }
            }
        }
        Ok(i)
    }
}

/// What is left of a body, by its framing: what a proxy relaying a body needs to know of each
/// slice of bytes it reads (how many belong to the body, and whether the body is complete).
#[derive(Debug, Clone)]
pub enum BodyLeft {
    /// This many bytes.
    Length(u64),
    /// A chunked body, followed chunk by chunk.
    Chunked(ChunkDecoder),
    /// Everything until the connection closes.
    UntilClose,
}

impl BodyLeft {
    /// The whole body of a message framed so.
    pub fn new(framing: BodyFraming) -> BodyLeft {
        match framing {
            BodyFraming::None => BodyLeft::Length(0),
            BodyFraming::Length(n) => BodyLeft::Length(n),
            BodyFraming::Chunked => BodyLeft::Chunked(ChunkDecoder::default()),
            BodyFraming::UntilClose => BodyLeft::UntilClose,
        }
    }

    /// Whether the body ends only when the connection does.
    pub fn until_close(&self) -> bool {
        matches!(self, BodyLeft::UntilClose)
    }

    /// How many of `buf`'s bytes belong to the body, and whether the body is then complete.
    /// With `data`, the body's data (without a chunked body's framing) is appended to it.
    pub fn take(
        &mut self,
        buf: &[u8],
        data: Option<&mut Vec<u8>>,
    ) -> Result<(usize, bool), FramingError> {
        Ok(match self {
            BodyLeft::Length(left) => {
                let k = (*left).min(buf.len() as u64);
                *left -= k;
                if let Some(d) = data {
                    d.extend_from_slice(&buf[..k as usize]);
                }
                (k as usize, *left == 0)
            }
            BodyLeft::Chunked(dec) => {
                let k = dec.decode(buf, data)?;
                (k, dec.is_done())
            }
            BodyLeft::UntilClose => {
                if let Some(d) = data {
                    d.extend_from_slice(buf);
                }
                (buf.len(), false)
            }
        })
    }
}

/// Why a response head cannot be passed on (both proxies answer it with a 502).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    /// Not a valid HTTP/1.x response head.
    #[error("malformed response head: {0}")]
    Malformed(&'static str),
    /// Conflicting or invalid framing headers.
    #[error("ambiguous response framing")]
    Framing,
}

/// An `Expect` field that asks for something other than `100-continue`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Expect: {0} cannot be met (100-continue is the only expectation)")]
pub struct UnknownExpectation(pub String);

/// Whether a request's `Expect` values ask for `100-continue`, the one expectation HTTP defines
/// (RFC 9110 10.1.1). Any other cannot be met: a server may answer it 417, as Go's (the
/// daemon's, Traefik's) does, and both proxies do rather than forward the request without the
/// condition its client set. Empty values are ignored.
pub fn expect_continue<'a>(
    values: impl IntoIterator<Item = &'a [u8]>,
) -> Result<bool, UnknownExpectation> {
    let mut found = false;
    for value in values {
        for token in value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
            if token.eq_ignore_ascii_case(b"100-continue") {
                found = true;
            } else if !token.is_empty() {
                return Err(UnknownExpectation(
                    String::from_utf8_lossy(value).into_owned(),
                ));
            }
        }
    }
    Ok(found)
}

/// What `httparse` refused, in words for an error message.
pub fn parse_error(e: httparse::Error) -> &'static str {
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

/// Whether a chunk-size or trailer line holds a control character (a lone CR above all): the
/// next parser might end the line there and read the body differently.
fn has_control(line: &[u8]) -> bool {
    line.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f)
}

fn chunk_size(line: &[u8]) -> Result<u64, FramingError> {
    if has_control(line) {
        return Err(FramingError::BadChunk);
    }
    let size = match line.iter().position(|&b| b == b';') {
        Some(i) => &line[..i],
        None => line,
    };
    if size.is_empty() || size.len() > 15 || !size.iter().all(u8::is_ascii_hexdigit) {
        return Err(FramingError::BadChunk);
    }
    let s = std::str::from_utf8(size).map_err(|_| FramingError::BadChunk)?;
    u64::from_str_radix(s, 16).map_err(|_| FramingError::BadChunk)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_100_continue_is_an_expectation_that_can_be_met() {
        let none: [&[u8]; 0] = [];
        assert_eq!(expect_continue(none), Ok(false));
        assert_eq!(expect_continue([&b"100-continue"[..]]), Ok(true));
        assert_eq!(expect_continue([&b"100-Continue"[..]]), Ok(true));
        assert_eq!(expect_continue([&b" 100-continue , "[..]]), Ok(true));
        assert_eq!(expect_continue([&b""[..]]), Ok(false));
        assert_eq!(
            expect_continue([&b"100-continue"[..], &b"x-ray"[..]]),
            Err(UnknownExpectation("x-ray".into()))
        );
        assert_eq!(
            expect_continue([&b"100-continue, 200-ok"[..]]),
            Err(UnknownExpectation("100-continue, 200-ok".into()))
        );
    }

    /// Walks a client's byte stream the way the connection loop does: head, body, head, ...
    /// `step` bytes arrive at a time. Stops after a request that asks for an upgrade.
    fn check_stream(bytes: &[u8], step: usize) -> Result<usize, FramingError> {
        let mut requests = 0;
        let mut pos = 0;
        let mut avail = step.min(bytes.len());
        let grow = |avail: &mut usize| {
            *avail = (*avail + step).min(bytes.len());
        };
        while pos < bytes.len() {
            let mut scanned = 0;
            let end = loop {
                match find_head_end(&bytes[pos..avail], scanned)? {
                    Some(end) => break end,
                    None if avail == bytes.len() => return Ok(requests),
                    None => {
                        scanned = (avail - pos).saturating_sub(3);
                        grow(&mut avail);
                    }
                }
            };
            let framing = check_request_head(&bytes[pos..pos + end], false)?;
            requests += 1;
            pos += end;
            if framing.upgrade {
                return Ok(requests);
            }
            match framing.body {
                BodyFraming::None | BodyFraming::UntilClose => {}
                BodyFraming::Length(n) => pos += n as usize,
                BodyFraming::Chunked => {
                    let mut dec = ChunkDecoder::default();
                    while !dec.is_done() {
                        if pos == avail {
                            if avail == bytes.len() {
                                return Ok(requests);
                            }
                            grow(&mut avail);
                        }
                        pos += dec.decode(&bytes[pos..avail], None)?;
                    }
                }
            }
            avail = avail.max(pos.min(bytes.len()));
        }
        Ok(requests)
    }

    fn check(bytes: &[u8]) -> Result<usize, FramingError> {
        let whole = check_stream(bytes, bytes.len().max(1));
        for step in [1, 2, 7] {
            assert_eq!(
                check_stream(bytes, step),
                whole,
                "in steps of {step}: {}",
                String::from_utf8_lossy(bytes)
            );
        }
        whole
    }

    #[test]
    fn accepts_well_framed_pipelines() {
        let ok: &[(&[u8], usize)] = &[
            (b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\nGET /version HTTP/1.1\r\nHost: x\r\n\r\n", 2),
            (b"POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\n\r\n", 2),
            (b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: 1\r\n\r\nGET /b HTTP/1.1\r\n\r\n", 2),
            (b"POST /a HTTP/1.1\r\ntransfer-encoding: Chunked\r\n\r\n0\r\n\r\n", 1),
        ];
        for (req, n) in ok {
            assert_eq!(check(req), Ok(*n), "{}", String::from_utf8_lossy(req));
        }
    }

    #[test]
    fn refuses_ambiguous_framing() {
        use FramingError::*;
        let cases: &[(&[u8], FramingError)] = &[
            (b"GET / HTTP/1.1\nHost: x\r\n\r\n", BareLf),
            (b"GET / HTTP/1.1\r\nHost: x\n\r\n", BareLf),
            (b"\nGET / HTTP/1.1\r\n\r\n", BareLf),
            (b"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", ObsFold),
            (b"GET / HTTP/1.1\r\nA b\r\n\r\n", BadHeader),
            (b"GET / HTTP/1.1\r\nContent-Length : 1\r\n\r\n", BadHeader),
            (b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", LengthAndChunked),
            (b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", DuplicateLength),
            (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", BadLength),
            (b"POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\n", BadLength),
            (b"POST / HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\n", BadLength),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", BadTransferEncoding),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", BadTransferEncoding),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", BadChunk),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n", BadChunk),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\nab\r\n", BareLf),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n", BadChunk),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2;\rAB\r\n\r\n0\r\n\r\n", BadChunk),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2;x=\x01\r\nab\r\n0\r\n\r\n", BadChunk),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: a\rb\r\n\r\n", BadChunk),
            (b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nabGET / HTTP/1.1\n\n", BareLf),
        ];
        for (req, want) in cases {
            assert_eq!(check(req), Err(*want), "{}", String::from_utf8_lossy(req));
        }
    }

    #[test]
    fn http10_may_not_send_chunked() {
        let head = b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(
            check_request_head(head, true),
            Err(FramingError::ChunkedHttp10)
        );
        assert!(check_request_head(head, false).is_ok());
    }

    #[test]
    fn stops_after_an_upgrade_request() {
        let req = b"POST /exec/x/start HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 2\r\n\r\n{}\nraw\nbytes";
        assert_eq!(check(req), Ok(1));
        let end = find_head_end(req, 0).unwrap().unwrap();
        let framing = check_request_head(&req[..end], false).unwrap();
        assert_eq!(framing.body, BodyFraming::Length(2));
        assert!(framing.upgrade);
    }

    #[test]
    fn a_head_is_complete_only_at_crlf_crlf() {
        let req = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b";
        assert_eq!(find_head_end(req, 0), Ok(Some(28)));
        assert_eq!(find_head_end(&req[..27], 0), Ok(None));
        assert_eq!(find_head_end(&req[..27], 20), Ok(None));
    }

    #[test]
    fn chunk_data_is_kept_when_asked() {
        let body = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\nNEXT";
        for step in [1, 3, body.len()] {
            let mut dec = ChunkDecoder::default();
            let mut data = Vec::new();
            let mut pos = 0;
            while !dec.is_done() {
                let end = (pos + step).min(body.len());
                pos += dec.decode(&body[pos..end], Some(&mut data)).unwrap();
            }
            assert_eq!(data, b"hello world");
            assert_eq!(&body[pos..], b"NEXT", "the body ends where it ends");
        }
    }

    #[test]
    fn head_size_is_capped() {
        let mut req = b"GET / HTTP/1.1\r\n".to_vec();
        req.extend(std::iter::repeat_n(b'a', MAX_HEAD));
        assert_eq!(find_head_end(&req, 0), Err(FramingError::HeadTooLarge));
        req.extend_from_slice(b"\r\n\r\n");
        assert_eq!(find_head_end(&req, 0), Err(FramingError::HeadTooLarge));
    }

    #[test]
    fn lengths_are_plain_digits() {
        assert_eq!(parse_length(b"0"), Some(0));
        assert_eq!(parse_length(b"5569"), Some(5569));
        for bad in [
            &b""[..],
            b"-1",
            b"+1",
            b"1 2",
            b"0x10",
            b"1,1",
            b"9999999999999999999",
        ] {
            assert_eq!(parse_length(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }
}
