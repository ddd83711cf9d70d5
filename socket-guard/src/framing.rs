//! Strict HTTP/1.1 request framing, checked on the raw bytes before hyper parses them.
//!
//! hyper is lenient where RFC 9112 allows it (bare LF line endings, for one). Leniency in front
//! of a root-equivalent socket is how smuggling starts, and the guard only ever talks to clients
//! that speak plain HTTP/1.1 (the docker CLI, bollard, docker-py, Traefik), so it refuses
//! anything ambiguous: bare LF, obsolete line folding, `Content-Length` together with
//! `Transfer-Encoding`, two `Content-Length`s, a length that is not plain digits, any transfer
//! coding but `chunked`, and malformed chunks. [`FramingCheck`] follows request boundaries (head,
//! fixed body, chunked body) across keep-alive and pipelined requests; after a request that asks
//! for an upgrade it stops, because what follows is either a tunnel (after the daemon's 101) or
//! nothing (the guard closes the connection when an upgrade is refused).
//!
//! [`Checked`] wraps a connection's read side and hands hyper only validated bytes: a request
//! head reaches hyper once it is complete and valid, body bytes as they come. When a head is
//! refused, hyper gets a synthetic `Connection: close` request in its place; the service knows
//! it by its position on the connection ([`ConnState`]) and answers it with the 400. So the
//! refusal is written in order, after the responses to every request before it, and the
//! connection closes. A violation inside a body (a bad chunk) fails the read instead: that
//! request is already in hyper's hands and the connection is dropped.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Longest request head accepted (hyper's own buffer limit is set to match).
pub const MAX_HEAD: usize = 64 * 1024;

/// Why a request's framing was refused.
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
    #[error("malformed chunk")]
    BadChunk,
    #[error("request head too large")]
    HeadTooLarge,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Head,
    Body(u64),
    ChunkSize,
    ChunkData(u64),
    ChunkDataEnd {
        cr: bool,
    },
    Trailers,
    /// Stop checking: the connection may become a tunnel.
    Passthrough,
}

/// The framing state machine. Feed it every byte the client sends, in order.
#[derive(Debug, Clone)]
pub struct FramingCheck {
    state: State,
    line: Vec<u8>,
    head: Vec<u8>,
    heads: u64,
}

impl Default for FramingCheck {
    fn default() -> Self {
        FramingCheck {
            state: State::Head,
            line: Vec::new(),
            head: Vec::new(),
            heads: 0,
        }
    }
}

/// A refused stream: the error, and whether it was in a request head (then the request has
/// not reached hyper and can be answered in order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Violation {
    /// What is wrong.
    pub error: FramingError,
    /// Whether it was found in a request head.
    pub in_head: bool,
}

// === impl FramingCheck ===

impl FramingCheck {
    /// How many request heads were complete and valid so far.
    pub fn heads(&self) -> u64 {
        self.heads
    }

    /// Checks the next bytes of the stream; appends to `out` the bytes that may go on (body
    /// bytes at once, a head only when it is complete and valid).
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<u8>) -> Result<(), Violation> {
        // Head errors leave the state at `Head` (it only moves on a valid head).
        self.feed_inner(bytes, out).map_err(|error| Violation {
            error,
            in_head: self.state == State::Head,
        })
    }

    fn feed_inner(&mut self, mut bytes: &[u8], out: &mut Vec<u8>) -> Result<(), FramingError> {
        while !bytes.is_empty() {
            match self.state {
                State::Passthrough => {
                    out.extend_from_slice(bytes);
                    return Ok(());
                }
                State::Head => {
                    // Scan the chunk for line ends instead of copying byte by byte: every LF
                    // must follow a CR, and the first CRLF CRLF ends the head.
                    let mut end = None;
                    for (i, _) in bytes.iter().enumerate().filter(|(_, b)| **b == b'\n') {
                        let before = |back: usize| -> Option<u8> {
                            if back <= i {
                                Some(bytes[i - back])
                            } else {
                                self.head.len().checked_sub(back - i).map(|j| self.head[j])
                            }
                        };
                        if before(1) != Some(b'\r') {
                            let taken = i + 1;
                            if self.head.len() + taken > MAX_HEAD {
                                return Err(FramingError::HeadTooLarge);
                            }
                            return Err(FramingError::BareLf);
                        }
                        if before(2) == Some(b'\n') && before(3) == Some(b'\r') {
                            end = Some(i);
                            break;
                        }
                    }
                    let take = end.map_or(bytes.len(), |i| i + 1);
                    if self.head.len() + take > MAX_HEAD {
                        return Err(FramingError::HeadTooLarge);
                    }
                    self.head.extend_from_slice(&bytes[..take]);
                    bytes = &bytes[take..];
                    if end.is_some() {
                        let next = parse_head(&self.head)?;
                        out.append(&mut self.head);
                        self.heads += 1;
                        self.state = next;
                    }
                }
                State::Body(remaining) => {
                    let take = remaining.min(bytes.len() as u64);
                    out.extend_from_slice(&bytes[..take as usize]);
                    bytes = &bytes[take as usize..];
                    self.state = match remaining - take {
                        0 => State::Head,
                        left => State::Body(left),
                    };
                }
                State::ChunkSize | State::Trailers => {
                    // Chunk-size and trailer lines, like heads, go on only once validated.
                    let b = bytes[0];
                    bytes = &bytes[1..];
                    if let Some(line) = self.take_line(b)? {
                        let next = if self.state == State::Trailers {
                            if line.is_empty() {
                                State::Head
                            } else if line.contains(&b':') && !matches!(line[0], b' ' | b'\t') {
                                State::Trailers
                            } else {
                                return Err(FramingError::BadChunk);
                            }
                        } else {
                            match chunk_size(&line)? {
                                0 => State::Trailers,
                                n => State::ChunkData(n),
                            }
                        };
                        out.extend_from_slice(&line);
                        out.extend_from_slice(b"\r\n");
                        self.state = next;
                    }
                }
                State::ChunkData(remaining) => {
                    let take = remaining.min(bytes.len() as u64);
                    out.extend_from_slice(&bytes[..take as usize]);
                    bytes = &bytes[take as usize..];
                    self.state = match remaining - take {
                        0 => State::ChunkDataEnd { cr: false },
                        left => State::ChunkData(left),
                    };
                }
                State::ChunkDataEnd { cr } => {
                    let b = bytes[0];
                    bytes = &bytes[1..];
                    out.push(b);
                    self.state = match (cr, b) {
                        (false, b'\r') => State::ChunkDataEnd { cr: true },
                        (true, b'\n') => State::ChunkSize,
                        _ => return Err(FramingError::BadChunk),
                    };
                }
            }
        }
        Ok(())
    }

    /// Accumulates a CRLF-terminated line; returns it (without CRLF) when complete.
    fn take_line(&mut self, b: u8) -> Result<Option<Vec<u8>>, FramingError> {
        if self.line.len() > 4096 {
            return Err(FramingError::BadChunk);
        }
        if b != b'\n' {
            self.line.push(b);
            return Ok(None);
        }
        if self.line.pop() != Some(b'\r') {
            return Err(FramingError::BareLf);
        }
        Ok(Some(std::mem::take(&mut self.line)))
    }
}

fn chunk_size(line: &[u8]) -> Result<u64, FramingError> {
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

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Parses a complete head (ending in CRLF CRLF) and returns the state for what follows it.
fn parse_head(head: &[u8]) -> Result<State, FramingError> {
    let text = &head[..head.len() - 4];
    let mut lines = text
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    // The request line is hyper's to judge; only headers decide framing.
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
            if value.is_empty() || value.len() > 18 || !value.iter().all(u8::is_ascii_digit) {
                return Err(FramingError::BadLength);
            }
            let s = std::str::from_utf8(value).map_err(|_| FramingError::BadLength)?;
            length = Some(s.parse().map_err(|_| FramingError::BadLength)?);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            if chunked || !value.eq_ignore_ascii_case(b"chunked") {
                return Err(FramingError::BadTransferEncoding);
            }
            chunked = true;
        } else if name.eq_ignore_ascii_case(b"upgrade") {
            upgrade = true;
        }
    }
    match (length, chunked) {
        (Some(_), true) => Err(FramingError::LengthAndChunked),
        _ if upgrade => Ok(State::Passthrough),
        (_, true) => Ok(State::ChunkSize),
        (Some(0) | None, false) => Ok(State::Head),
        (Some(n), false) => Ok(State::Body(n)),
    }
}

/// The request hyper gets in place of a refused one. Only its position on the connection
/// marks it (see [`ConnState`]), so a client sending the same bytes gains nothing.
const STAND_IN: &[u8] = b"GET /_ping HTTP/1.1\r\nHost: socket-guard\r\nConnection: close\r\n\r\n";

/// Per-connection state shared by [`Checked`] and the service.
#[derive(Debug, Default)]
pub struct ConnState {
    requests: std::sync::atomic::AtomicU64,
    refused: std::sync::OnceLock<(u64, FramingError)>,
}

impl ConnState {
    /// Called by the service for each request it receives: `Some(err)` when this request is
    /// the stand-in for a refused one, which must be answered 400 with the connection closed.
    pub fn next_request(&self) -> Option<FramingError> {
        let n = self
            .requests
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        match self.refused.get() {
            Some((at, err)) if *at == n => Some(*err),
            _ => None,
        }
    }
}

pin_project_lite::pin_project! {
    /// A connection whose incoming bytes go through a [`FramingCheck`].
    pub struct Checked<S> {
        #[pin]
        inner: S,
        check: FramingCheck,
        ready: Vec<u8>,
        done: Done,
        conn: std::sync::Arc<ConnState>,
        on_fail: Option<Box<dyn FnOnce(FramingError) + Send>>,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Done {
    No,
    /// A stand-in was queued: after it, nothing more is read. (Not an end of stream: hyper
    /// takes an EOF under a request in flight as an abort and would drop the answer. Its
    /// `Connection: close` makes hyper stop reading and close after answering.)
    StandIn,
    /// A body was refused: fail every read.
    Failed(FramingError),
}

impl<S> Checked<S> {
    /// Wraps a stream; `on_fail` is told about a refusal (for the log and metrics).
    pub fn new(
        inner: S,
        conn: std::sync::Arc<ConnState>,
        on_fail: impl FnOnce(FramingError) + Send + 'static,
    ) -> Self {
        Checked {
            inner,
            check: FramingCheck::default(),
            ready: Vec::new(),
            done: Done::No,
            conn,
            on_fail: Some(Box::new(on_fail)),
        }
    }
}

impl<S: AsyncRead + AsyncWrite> AsyncRead for Checked<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut this = self.project();
        loop {
            if !this.ready.is_empty() {
                let n = this.ready.len().min(buf.remaining());
                buf.put_slice(&this.ready[..n]);
                this.ready.drain(..n);
                return Poll::Ready(Ok(()));
            }
            match *this.done {
                Done::No => {}
                Done::StandIn => return Poll::Pending,
                Done::Failed(err) => {
                    return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, err)))
                }
            }
            let mut raw = [0u8; 16 * 1024];
            let mut rb = ReadBuf::new(&mut raw);
            match this.inner.as_mut().poll_read(cx, &mut rb) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) if rb.filled().is_empty() => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(())) => {}
            }
            if let Err(v) = this.check.feed(rb.filled(), this.ready) {
                if let Some(f) = this.on_fail.take() {
                    f(v.error);
                }
                if v.in_head {
                    let _ = this.conn.refused.set((this.check.heads() + 1, v.error));
                    this.ready.extend_from_slice(STAND_IN);
                    *this.done = Done::StandIn;
                } else {
                    *this.done = Done::Failed(v.error);
                }
            }
        }
    }
}

impl<S: AsyncWrite> AsyncWrite for Checked<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(bytes: &[u8]) -> Result<(), FramingError> {
        let mut out = Vec::new();
        let r = FramingCheck::default()
            .feed(bytes, &mut out)
            .map_err(|v| v.error);
        if r.is_ok() {
            assert_eq!(out, bytes, "everything valid is passed on");
        }
        r
    }

    fn check_split(bytes: &[u8]) -> Result<(), FramingError> {
        let mut c = FramingCheck::default();
        let mut out = Vec::new();
        for b in bytes {
            c.feed(std::slice::from_ref(b), &mut out)
                .map_err(|v| v.error)?;
        }
        assert_eq!(out, bytes);
        Ok(())
    }

    #[test]
    fn accepts_well_framed_pipelines() {
        let ok: &[&[u8]] = &[
            b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\nGET /version HTTP/1.1\r\nHost: x\r\n\r\n",
            b"POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\n\r\n",
            b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: 1\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
            b"POST /a HTTP/1.1\r\ntransfer-encoding: Chunked\r\n\r\n0\r\n\r\n",
        ];
        for req in ok {
            assert_eq!(check(req), Ok(()));
            assert_eq!(check_split(req), Ok(()));
        }
    }

    #[test]
    fn refuses_ambiguous_framing() {
        use FramingError::*;
        let cases: &[(&[u8], FramingError)] = &[
            (b"GET / HTTP/1.1\nHost: x\r\n\r\n", BareLf),
            (b"GET / HTTP/1.1\r\nHost: x\n\r\n", BareLf),
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
            (b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nabGET / HTTP/1.1\n\n", BareLf),
        ];
        for (req, want) in cases {
            assert_eq!(check(req), Err(*want), "{}", String::from_utf8_lossy(req));
            assert_eq!(
                check_split(req),
                Err(*want),
                "split: {}",
                String::from_utf8_lossy(req)
            );
        }
    }

    #[test]
    fn stops_after_an_upgrade_request() {
        let req = b"POST /exec/x/start HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 2\r\n\r\n{}\nraw\nbytes";
        assert_eq!(check(req), Ok(()));
    }

    #[test]
    fn heads_are_withheld_until_complete_and_valid() {
        let mut c = FramingCheck::default();
        let mut out = Vec::new();
        c.feed(b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\nHo", &mut out)
            .unwrap();
        assert_eq!(out, b"GET /a HTTP/1.1\r\n\r\n");
        assert_eq!(c.heads(), 1);
        let v = c.feed(b"st: x\n\r\n", &mut out).unwrap_err();
        assert_eq!(
            v,
            Violation {
                error: FramingError::BareLf,
                in_head: true
            }
        );
        assert_eq!(
            out, b"GET /a HTTP/1.1\r\n\r\n",
            "nothing of the refused head is passed on"
        );
        let mut c = FramingCheck::default();
        let v = c
            .feed(
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                &mut Vec::new(),
            )
            .unwrap_err();
        assert!(!v.in_head);
    }

    #[test]
    fn head_size_is_capped() {
        let mut req = b"GET / HTTP/1.1\r\n".to_vec();
        req.extend(std::iter::repeat_n(b'a', MAX_HEAD));
        assert_eq!(check(&req), Err(FramingError::HeadTooLarge));
    }
}
