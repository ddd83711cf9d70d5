//! The connection-level loops both proxies share (feature `tokio`): waiting for a request
//! head ([`read_head`]), passing a request body upstream while listening for an early answer
//! ([`forward_body`]), and closing a connection whose client may still be sending
//! ([`linger`]).

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::watch;

use crate::{find_head_end, find_head_end_within, BodyFraming, BodyLeft, FramingError};

/// How much is asked of a socket per read.
const READ_SIZE: usize = 16 * 1024;

/// How waiting for a request head ended.
#[derive(Debug)]
pub enum HeadRead {
    /// A complete head of this many bytes starts `buf`.
    Complete(usize),
    /// The client closed (or the connection failed, or shutdown came while it was idle).
    Closed,
    /// The deadline passed.
    TimedOut,
    /// The bytes cannot be a head (a bare LF, or more than the limit).
    Refused(FramingError),
}

/// Reads into `buf` until it starts with a complete head of at most `max` bytes, `deadline`
/// passes, or (while nothing of a head has come) `stop` changes. A bare LF or an oversized
/// head is refused as soon as it is seen. Empty lines (CRLF) before the request line are
/// dropped, as RFC 9112 (2.2) asks of a server: some clients end a body with an extra CRLF.
/// They are never forwarded (both proxies write the heads they send), so skipping them lets
/// nothing through.
pub async fn read_head<S: AsyncRead + Unpin>(
    io: &mut S,
    buf: &mut BytesMut,
    max: usize,
    deadline: tokio::time::Instant,
    stop: &mut watch::Receiver<bool>,
) -> HeadRead {
    let mut scanned = 0;
    loop {
        while buf.starts_with(b"\r\n") {
            buf.advance(2);
        }
        if !buf.is_empty() {
            match find_head_end_within(buf, scanned, max) {
                Ok(Some(len)) => return HeadRead::Complete(len),
                Ok(None) => scanned = buf.len().saturating_sub(3),
                Err(e) => return HeadRead::Refused(e),
            }
        }
        let idle = buf.is_empty();
        buf.reserve(4096);
        tokio::select! {
            biased;
            read = io.read_buf(buf) => match read {
                Ok(0) | Err(_) => return HeadRead::Closed,
                Ok(_) => {}
            },
            () = tokio::time::sleep_until(deadline) => return HeadRead::TimedOut,
            _ = stop.changed(), if idle => return HeadRead::Closed,
        }
    }
}

/// How long a closing connection goes on reading (and dropping) what its client still sends
/// when it last sent nothing.
pub const LINGER_IDLE: Duration = Duration::from_secs(5);

/// The longest a closing connection goes on reading what its client still sends.
pub const LINGER_TOTAL: Duration = Duration::from_secs(30);

/// Ends a connection whose client may still be sending a request body nobody will read (it
/// was refused, or answered early): the answer is already written, the sending side is shut
/// down, and what arrives is read and dropped until the client closes, is quiet for
/// [`LINGER_IDLE`], [`LINGER_TOTAL`] passes, or `stop` changes.
///
/// Closing at once with unread bytes makes the kernel reset the connection, and a client
/// still writing its body then sees a broken pipe or a reset, and, on some systems, loses
/// the answer that was already on its way: the JSON message of a refusal, a backend's 413.
pub async fn linger<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    stop: &mut watch::Receiver<bool>,
) {
    let end = tokio::time::Instant::now() + LINGER_TOTAL;
    if !matches!(
        tokio::time::timeout(SHUTDOWN_WAIT, io.shutdown()).await,
        Ok(Ok(()))
    ) {
        return;
    }
    let mut scratch = vec![0u8; READ_SIZE];
    while !*stop.borrow() {
        tokio::select! {
            read = tokio::time::timeout(LINGER_IDLE, io.read(&mut scratch)) => match read {
                Ok(Ok(n)) if n > 0 => {}
                _ => return,
            },
            () = tokio::time::sleep_until(end) => return,
            _ = stop.changed() => return,
        }
    }
}

/// How long shutting down a connection's sending side may take (a TLS close_notify, a full
/// send buffer).
pub const SHUTDOWN_WAIT: Duration = Duration::from_secs(1);

/// How a request body passed upstream by [`forward_body`] ended.
#[derive(Debug)]
pub enum BodySent {
    /// All of it went upstream.
    Whole,
    /// The upstream answered, closed or failed before taking all of it: `up_buf` holds the
    /// start of its answer, if any (interim `1xx` answers skipped), and the rest of the body
    /// was not read from the client. The error, when writing to the upstream failed.
    Cut(Option<std::io::Error>),
}

/// Why a request body could not be passed on.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The client closed (or failed) before its body was complete.
    #[error("the client left before its body was complete")]
    ClientGone,
    /// The body's chunked framing is malformed.
    #[error("the request body: {0}")]
    Framing(FramingError),
    /// The body is longer than the limit [`forward_body_limited`] was given (what was
    /// passed on so far is an incomplete request: the caller closes the upstream connection).
    #[error("the request body is larger than {0} bytes")]
    TooLarge(u64),
    /// Nothing of the body moved, from the client or to the upstream, for the idle time
    /// [`forward_body_watched`] was given.
    #[error("the request body made no progress for {0:?}")]
    Stalled(Duration),
}

/// Passes a request body from `client` to `up` as it arrives, by its framing (the bytes
/// already read start `client_buf`; what follows the body stays there), while listening to
/// `up`. An upstream may answer before it has read a whole body: the daemon's 404 for a
/// container that does not exist, a backend's 413, each then closing its side. Writing on
/// would end in a broken pipe and a 502 in place of that answer; here the answer is heard,
/// and the caller relays it and closes the client connection (see [`linger`]).
pub async fn forward_body<C, U>(
    client: &mut C,
    client_buf: &mut BytesMut,
    up: &mut U,
    up_buf: &mut BytesMut,
    framing: BodyFraming,
) -> Result<BodySent, BodyError>
where
    C: AsyncRead + Unpin,
    U: AsyncRead + AsyncWrite + Unpin,
{
    forward_body_limited(client, client_buf, up, up_buf, framing, None).await
}

/// [`forward_body`], stopping with [`BodyError::TooLarge`] before more than `limit` bytes of
/// body are passed on (counted as they travel: a chunked body's chunk framing counts too).
pub async fn forward_body_limited<C, U>(
    client: &mut C,
    client_buf: &mut BytesMut,
    up: &mut U,
    up_buf: &mut BytesMut,
    framing: BodyFraming,
    limit: Option<u64>,
) -> Result<BodySent, BodyError>
where
    C: AsyncRead + Unpin,
    U: AsyncRead + AsyncWrite + Unpin,
{
    forward_body_watched(client, client_buf, up, up_buf, framing, limit, None).await
}

/// [`forward_body_limited`], stopping with [`BodyError::Stalled`] when, for `idle`, neither
/// the client sends a byte nor the upstream takes one (an upload takes as long as it
/// takes while it moves; a side that stops is not waited for forever).
pub async fn forward_body_watched<C, U>(
    client: &mut C,
    client_buf: &mut BytesMut,
    up: &mut U,
    up_buf: &mut BytesMut,
    framing: BodyFraming,
    limit: Option<u64>,
    idle: Option<Duration>,
) -> Result<BodySent, BodyError>
where
    C: AsyncRead + Unpin,
    U: AsyncRead + AsyncWrite + Unpin,
{
    let stalled = |idle: Duration| BodyError::Stalled(idle);
    let mut passed: u64 = 0;
    if matches!(
        framing,
        BodyFraming::None | BodyFraming::UntilClose | BodyFraming::Length(0)
    ) {
        return Ok(BodySent::Whole);
    }
    let mut left = BodyLeft::new(framing);
    // Checked bytes at the start of `client_buf`, not yet written upstream.
    let mut pending = 0;
    let mut done = false;
    loop {
        if pending > 0 {
            // Write what is checked, unless the upstream speaks first.
            let heard = within(
                idle,
                poll_fn(|cx| {
                    if let Poll::Ready(read) = poll_read_into(&mut *up, cx, up_buf) {
                        return Poll::Ready(Heard::Upstream(read));
                    }
                    Pin::new(&mut *up)
                        .poll_write(cx, &client_buf[..pending])
                        .map(Heard::Wrote)
                }),
            )
            .await
            .map_err(stalled)?;
            match heard {
                Heard::Wrote(Ok(0)) => {
                    return Ok(BodySent::Cut(Some(std::io::ErrorKind::WriteZero.into())))
                }
                Heard::Wrote(Ok(n)) => {
                    client_buf.advance(n);
                    pending -= n;
                }
                Heard::Wrote(Err(e)) => return Ok(BodySent::Cut(Some(e))),
                Heard::Upstream(read) => {
                    if let Some(cut) = answered(read, up_buf) {
                        return Ok(cut);
                    }
                }
            }
            continue;
        }
        if done {
            return Ok(BodySent::Whole);
        }
        if !client_buf.is_empty() {
            let (k, d) = left.take(client_buf, None).map_err(BodyError::Framing)?;
            passed += k as u64;
            if let Some(max) = limit.filter(|max| passed > *max) {
                return Err(BodyError::TooLarge(max));
            }
            (pending, done) = (k, d);
            continue;
        }
        client_buf.reserve(READ_SIZE);
        up_buf.reserve(1024);
        let next = async {
            tokio::select! {
                biased;
                read = up.read_buf(up_buf) => Came::Upstream(read),
                read = client.read_buf(client_buf) => Came::Client(read),
            }
        };
        match within(idle, next).await.map_err(stalled)? {
            Came::Upstream(read) => {
                if let Some(cut) = answered(read, up_buf) {
                    return Ok(cut);
                }
            }
            Came::Client(Ok(0) | Err(_)) => return Err(BodyError::ClientGone),
            Came::Client(Ok(_)) => {}
        }
    }
}

/// `fut`, within `idle` when there is one (`Err(idle)` past it).
async fn within<F: std::future::Future>(
    idle: Option<Duration>,
    fut: F,
) -> Result<F::Output, Duration> {
    match idle {
        None => Ok(fut.await),
        Some(d) => tokio::time::timeout(d, fut).await.map_err(|_| d),
    }
}

/// Reads a whole request body from `client` (the bytes already read start `client_buf`; what
/// follows the body stays there), de-framed: a chunked body's data without its chunk
/// framing and trailers. More than `limit` bytes of data is [`BodyError::TooLarge`], noticed
/// as soon as they arrive (a declared length over it before anything is read); a client that
/// sends nothing for `idle` is [`BodyError::Stalled`]. For the middlewares that must see a
/// body before it goes on (`forwardAuth.forwardBody`).
pub async fn read_body<C: AsyncRead + Unpin>(
    client: &mut C,
    client_buf: &mut BytesMut,
    framing: BodyFraming,
    limit: u64,
    idle: Duration,
) -> Result<Vec<u8>, BodyError> {
    read_body_or_keep(client, client_buf, framing, limit, idle, false)
        .await?
        .ok_or(BodyError::TooLarge(limit))
}

/// As [`read_body`], but a body with more than `limit` bytes of data is left as it came:
/// `Ok(None)`, with every byte read of it still at the start of `client_buf` (framing
/// included), so that it can be relayed whole after all. For a copy that is made only of
/// bodies up to a size (a `mirroring` service's `maxBodySize`) of a body that goes on
/// whatever its size. Holds the raw bytes until the body ends or passes the limit: about
/// twice `limit` at most.
pub async fn read_body_within<C: AsyncRead + Unpin>(
    client: &mut C,
    client_buf: &mut BytesMut,
    framing: BodyFraming,
    limit: u64,
    idle: Duration,
) -> Result<Option<Vec<u8>>, BodyError> {
    read_body_or_keep(client, client_buf, framing, limit, idle, true).await
}

/// The body's data, or `None` past `limit`; with `keep`, the bytes of the body are taken
/// from `client_buf` only once it is complete (and so stay there past the limit).
async fn read_body_or_keep<C: AsyncRead + Unpin>(
    client: &mut C,
    client_buf: &mut BytesMut,
    framing: BodyFraming,
    limit: u64,
    idle: Duration,
    keep: bool,
) -> Result<Option<Vec<u8>>, BodyError> {
    match framing {
        BodyFraming::None | BodyFraming::UntilClose | BodyFraming::Length(0) => {
            return Ok(Some(Vec::new()))
        }
        BodyFraming::Length(n) if n > limit => return Ok(None),
        _ => {}
    }
    let mut left = BodyLeft::new(framing);
    let mut data = Vec::new();
    // Bytes at the start of `client_buf` that belong to the body and are still there.
    let mut held = 0;
    loop {
        if client_buf.len() > held {
            let (used, done) = left
                .take(&client_buf[held..], Some(&mut data))
                .map_err(BodyError::Framing)?;
            held += used;
            if !keep {
                client_buf.advance(held);
                held = 0;
            }
            if data.len() as u64 > limit {
                return Ok(None);
            }
            if done {
                client_buf.advance(held);
                return Ok(Some(data));
            }
            if used > 0 {
                continue;
            }
        }
        client_buf.reserve(READ_SIZE);
        match tokio::time::timeout(idle, client.read_buf(client_buf)).await {
            Err(_) => return Err(BodyError::Stalled(idle)),
            Ok(Ok(0) | Err(_)) => return Err(BodyError::ClientGone),
            Ok(Ok(_)) => {}
        }
    }
}

/// What came first while writing upstream.
enum Heard {
    Wrote(std::io::Result<usize>),
    Upstream(std::io::Result<usize>),
}

/// What came first while waiting: the upstream's bytes or the client's.
enum Came {
    Upstream(std::io::Result<usize>),
    Client(std::io::Result<usize>),
}

/// What the upstream's speaking up while a body is passed on means: `None` when it sent only
/// interim (1xx) answers, which are dropped, and the body goes on.
fn answered(read: std::io::Result<usize>, up_buf: &mut BytesMut) -> Option<BodySent> {
    match read {
        Ok(0) => Some(BodySent::Cut(None)),
        Err(e) => Some(BodySent::Cut(Some(e))),
        Ok(_) => {
            while let Ok(Some(len)) = find_head_end(up_buf, 0) {
                if !is_interim(&up_buf[..len]) {
                    break;
                }
                up_buf.advance(len);
            }
            (!up_buf.is_empty()).then_some(BodySent::Cut(None))
        }
    }
}

/// Whether a complete response head is an interim answer (1xx, but not 101, which ends
/// HTTP on the connection).
fn is_interim(head: &[u8]) -> bool {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut resp = httparse::Response::new(&mut headers);
    matches!(resp.parse(head), Ok(httparse::Status::Complete(_)))
        && matches!(resp.code, Some(c) if (100..200).contains(&c) && c != 101)
}

/// Reads what `io` has now into `buf` (through a small buffer: used only for an upstream's
/// rare early answer, while the same socket is being written).
fn poll_read_into<U: AsyncRead + Unpin>(
    io: &mut U,
    cx: &mut Context<'_>,
    buf: &mut BytesMut,
) -> Poll<std::io::Result<usize>> {
    let mut tmp = [0u8; 4096];
    let mut rb = ReadBuf::new(&mut tmp);
    match Pin::new(io).poll_read(cx, &mut rb) {
        Poll::Ready(Ok(())) => {
            buf.extend_from_slice(rb.filled());
            Poll::Ready(Ok(rb.filled().len()))
        }
        Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
        Poll::Pending => Poll::Pending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{duplex, DuplexStream};

    /// Runs `read_body` on what a client sends (and then keeps its side open).
    async fn read_all(
        framing: BodyFraming,
        sends: &[u8],
        limit: u64,
    ) -> (Result<Vec<u8>, BodyError>, BytesMut) {
        let (mut client, mut far) = duplex(64);
        let sends = sends.to_vec();
        let writer = tokio::spawn(async move {
            let _ = far.write_all(&sends).await;
            std::future::pending::<()>().await;
        });
        let mut buf = BytesMut::new();
        let got = tokio::time::timeout(
            Duration::from_secs(5),
            read_body(
                &mut client,
                &mut buf,
                framing,
                limit,
                Duration::from_secs(2),
            ),
        )
        .await
        .expect("read_body hung");
        writer.abort();
        (got, buf)
    }

    #[tokio::test]
    async fn a_body_is_read_whole_and_de_framed_leaving_what_follows() {
        let (got, rest) = read_all(BodyFraming::Length(5), b"hello GET /", 100).await;
        assert_eq!(got.unwrap(), b"hello");
        assert_eq!(&rest[..], b" GET /");
        let chunked = b"3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nT: v\r\n\r\nNEXT";
        let (got, rest) = read_all(BodyFraming::Chunked, chunked, 100).await;
        assert_eq!(got.unwrap(), b"abcde");
        assert_eq!(&rest[..], b"NEXT");
        let (got, _) = read_all(BodyFraming::None, b"x", 0).await;
        assert!(got.unwrap().is_empty());
        // An empty body with a length: nothing to wait for (the next request stays).
        let (got, rest) = read_all(BodyFraming::Length(0), b"GET", 10).await;
        assert!(got.unwrap().is_empty());
        assert!(rest.is_empty(), "nothing read");
    }

    #[tokio::test]
    async fn a_body_over_the_limit_or_cut_short_or_malformed_is_an_error() {
        // A declared length over the limit: refused before reading.
        let (got, rest) = read_all(BodyFraming::Length(11), b"", 10).await;
        assert!(matches!(got, Err(BodyError::TooLarge(10))), "{got:?}");
        assert!(rest.is_empty());
        // A chunked body grows past it.
        let big = b"8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n";
        let (got, _) = read_all(BodyFraming::Chunked, big, 10).await;
        assert!(matches!(got, Err(BodyError::TooLarge(10))), "{got:?}");
        // Exactly the limit is fine.
        let (got, _) = read_all(BodyFraming::Length(10), b"0123456789", 10).await;
        assert_eq!(got.unwrap().len(), 10);
        let (got, _) = read_all(BodyFraming::Chunked, b"zz\r\n", 10).await;
        assert!(matches!(got, Err(BodyError::Framing(_))), "{got:?}");
        // The client closes mid-body.
        let (mut client, far) = duplex(64);
        drop(far);
        let mut buf = BytesMut::from(&b"abc"[..]);
        let got = read_body(
            &mut client,
            &mut buf,
            BodyFraming::Length(5),
            10,
            Duration::from_secs(2),
        )
        .await;
        assert!(matches!(got, Err(BodyError::ClientGone)), "{got:?}");
        // A client that stops mid-body (the connection open): stalled, not waited for.
        let (mut client, _far) = duplex(64);
        let mut buf = BytesMut::from(&b"abc"[..]);
        let idle = Duration::from_millis(50);
        let got = read_body(&mut client, &mut buf, BodyFraming::Length(5), 10, idle).await;
        assert!(matches!(got, Err(BodyError::Stalled(_))), "{got:?}");
    }

    /// Runs `read_body_within` on what a client sends in `pieces` (a pause between them),
    /// the connection then kept open; what it gave and what it left in the buffer.
    async fn within(
        framing: BodyFraming,
        pieces: &[&[u8]],
        limit: u64,
    ) -> (Result<Option<Vec<u8>>, BodyError>, BytesMut) {
        let (mut client, mut far) = duplex(8);
        let pieces: Vec<Vec<u8>> = pieces.iter().map(|p| p.to_vec()).collect();
        let writer = tokio::spawn(async move {
            for p in pieces {
                let _ = far.write_all(&p).await;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            std::future::pending::<()>().await;
        });
        let mut buf = BytesMut::new();
        let idle = Duration::from_millis(300);
        let got = read_body_within(&mut client, &mut buf, framing, limit, idle).await;
        writer.abort();
        (got, buf)
    }

    #[tokio::test]
    async fn a_body_within_the_limit_is_read_and_one_over_it_left_as_it_came() {
        let chunked: &[&[u8]] = &[
            b"3\r\nab",
            b"c\r\n2;x=y\r\n",
            b"de\r\n0\r\nT: v\r\n\r\n",
            b"NEXT",
        ];
        let (got, rest) = within(BodyFraming::Chunked, chunked, 5).await;
        assert_eq!(got.unwrap().unwrap(), b"abcde");
        // What follows the body stays (all of it, or what had arrived by then).
        assert!(b"NEXT".starts_with(&rest), "{rest:?}");
        // One byte over: nothing taken, every byte read still in the buffer, framing and all.
        let raw = chunked.concat();
        let (got, rest) = within(BodyFraming::Chunked, chunked, 4).await;
        assert_eq!(got.unwrap(), None);
        assert!(raw.starts_with(&rest) && rest.len() >= 7, "{rest:?}");
        // A declared length over the limit: nothing read at all.
        let (got, rest) = within(BodyFraming::Length(6), &[b"abcdef"], 5).await;
        assert_eq!(got.unwrap(), None);
        assert!(rest.is_empty(), "{rest:?}");
        let (got, rest) = within(BodyFraming::Length(5), &[b"ab", b"cdeX"], 5).await;
        assert_eq!(got.unwrap().unwrap(), b"abcde");
        assert!(b"X".starts_with(&rest), "{rest:?}");
        // Errors are errors still: broken framing, a stall.
        let (got, _) = within(BodyFraming::Chunked, &[b"zz\r\n"], 10).await;
        assert!(matches!(got, Err(BodyError::Framing(_))), "{got:?}");
        let (got, _) = within(BodyFraming::Chunked, &[b"3\r\nab"], 10).await;
        assert!(matches!(got, Err(BodyError::Stalled(_))), "{got:?}");
    }

    /// Runs `forward_body` from a client stream to an upstream stream, each a `cap`-byte
    /// pipe; the client's bytes are sent as they fit, the upstream's answer first.
    async fn forward(
        framing: BodyFraming,
        client_sends: &[u8],
        upstream_says: &[u8],
        cap: usize,
    ) -> (Result<BodySent, BodyError>, Vec<u8>, BytesMut, BytesMut) {
        let (mut client, mut client_far) = duplex(cap);
        let (mut up, mut up_far) = duplex(cap.max(upstream_says.len()));
        up_far.write_all(upstream_says).await.unwrap();
        // The upstream reads what comes unless it has answered (and then reads nothing).
        let answered = !upstream_says.is_empty();
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            if answered {
                std::future::pending::<()>().await;
            }
            up_far.read_to_end(&mut got).await.unwrap();
            got
        });
        let sends = client_sends.to_vec();
        let writer = tokio::spawn(async move {
            let _ = client_far.write_all(&sends).await;
            // Stays open, as a client waiting for its answer does.
            std::future::pending::<()>().await;
        });
        let (mut cbuf, mut ubuf) = (BytesMut::new(), BytesMut::new());
        let sent = forward_body(&mut client, &mut cbuf, &mut up, &mut ubuf, framing).await;
        writer.abort();
        drop(up);
        let got = if answered {
            reader.abort();
            Vec::new()
        } else {
            reader.await.unwrap()
        };
        (sent, got, cbuf, ubuf)
    }

    /// `forward_body` between two given streams; what it left of the upstream's bytes.
    async fn forward_from(
        client: &mut DuplexStream,
        up: &mut DuplexStream,
        framing: BodyFraming,
    ) -> (Result<BodySent, BodyError>, BytesMut) {
        let (mut cbuf, mut ubuf) = (BytesMut::new(), BytesMut::new());
        let sent = forward_body(client, &mut cbuf, up, &mut ubuf, framing).await;
        (sent, ubuf)
    }

    #[tokio::test]
    async fn a_body_by_length_goes_whole_and_what_follows_stays() {
        let (sent, got, rest, _) = forward(
            BodyFraming::Length(5),
            b"helloGET / HTTP/1.1\r\n",
            b"",
            1024,
        )
        .await;
        assert!(matches!(sent, Ok(BodySent::Whole)));
        assert_eq!(got, b"hello");
        assert_eq!(&rest[..], b"GET / HTTP/1.1\r\n");
    }

    #[tokio::test]
    async fn an_empty_body_needs_nothing_from_the_client() {
        let (sent, got, _, _) = forward(BodyFraming::Length(0), b"", b"", 64).await;
        assert!(matches!(sent, Ok(BodySent::Whole)));
        assert!(got.is_empty());
    }

    #[tokio::test]
    async fn a_chunked_body_goes_whole_with_its_framing() {
        let body = b"5\r\nhello\r\n0\r\n\r\n";
        let mut input = body.to_vec();
        input.extend_from_slice(b"NEXT");
        let (sent, got, rest, _) = forward(BodyFraming::Chunked, &input, b"", 4).await;
        assert!(matches!(sent, Ok(BodySent::Whole)));
        assert_eq!(got, body);
        // Read 4 bytes at a time: what came with the body's end stays.
        assert!(b"NEXT".starts_with(&rest), "{rest:?}");
    }

    #[tokio::test]
    async fn a_malformed_chunk_is_refused() {
        let (sent, _, _, _) = forward(BodyFraming::Chunked, b"zz\r\nhello\r\n", b"", 64).await;
        assert!(matches!(
            sent,
            Err(BodyError::Framing(FramingError::BadChunk))
        ));
    }

    #[tokio::test]
    async fn an_early_answer_cuts_the_body_while_it_is_written() {
        // The upstream reads nothing (a 64-byte pipe fills at once) and has answered.
        let answer = b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n";
        let (sent, got, _, ubuf) =
            forward(BodyFraming::Length(10_000), &[b'x'; 10_000], answer, 64).await;
        assert!(matches!(sent, Ok(BodySent::Cut(None))), "{sent:?}");
        assert!(got.is_empty());
        assert_eq!(&ubuf[..], answer);
    }

    #[tokio::test]
    async fn an_early_answer_is_heard_while_the_client_is_silent() {
        let answer = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        // The client sent 3 bytes of 1,000 and waits.
        let (sent, got, _, ubuf) = forward(BodyFraming::Length(1000), b"abc", answer, 1024).await;
        assert!(matches!(sent, Ok(BodySent::Cut(None))), "{sent:?}");
        assert!(got.is_empty());
        assert_eq!(&ubuf[..], answer);
    }

    #[tokio::test]
    async fn interim_answers_do_not_cut_the_body() {
        let (mut client, mut client_far) = duplex(1024);
        let (mut up, mut up_far) = duplex(1024);
        client_far.write_all(b"ab").await.unwrap();
        up_far
            .write_all(
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
            )
            .await
            .unwrap();
        let body = forward_from(&mut client, &mut up, BodyFraming::Length(4));
        let rest = async {
            tokio::task::yield_now().await;
            client_far.write_all(b"cd").await.unwrap();
        };
        let ((sent, ubuf), ()) = tokio::join!(body, rest);
        assert!(matches!(sent, Ok(BodySent::Whole)), "{sent:?}");
        assert!(ubuf.is_empty());
        drop(up);
        let mut got = Vec::new();
        up_far.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"abcd");
    }

    #[tokio::test]
    async fn an_upstream_that_closes_cuts_the_body() {
        let (mut client, mut client_far) = duplex(1024);
        let (mut up, up_far) = duplex(1024);
        drop(up_far);
        client_far.write_all(b"abc").await.unwrap();
        let (sent, ubuf) = forward_from(&mut client, &mut up, BodyFraming::Length(10)).await;
        assert!(matches!(sent, Ok(BodySent::Cut(_))), "{sent:?}");
        assert!(ubuf.is_empty());
    }

    #[tokio::test]
    async fn a_client_that_leaves_mid_body_is_gone() {
        let (mut client, mut client_far) = duplex(1024);
        let (mut up, _up_far) = duplex(1024);
        client_far.write_all(b"abc").await.unwrap();
        drop(client_far);
        let (sent, ubuf) = forward_from(&mut client, &mut up, BodyFraming::Length(10)).await;
        assert!(matches!(sent, Err(BodyError::ClientGone)), "{sent:?}");
        assert!(ubuf.is_empty());
    }

    async fn head_of(sent: &[u8]) -> (HeadRead, BytesMut) {
        let (mut server, mut client) = duplex(1024);
        client.write_all(sent).await.unwrap();
        let (_stop_tx, mut stop) = watch::channel(false);
        let mut buf = BytesMut::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let read = read_head(&mut server, &mut buf, 1024, deadline, &mut stop).await;
        (read, buf)
    }

    #[tokio::test]
    async fn empty_lines_before_a_request_line_are_dropped() {
        let (read, buf) = head_of(b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n").await;
        assert!(matches!(read, HeadRead::Complete(27)), "{read:?}");
        assert!(buf.starts_with(b"GET / HTTP/1.1\r\n"));
        // A bare LF is still refused, before a request line as anywhere else.
        let (read, _) = head_of(b"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n").await;
        assert!(
            matches!(read, HeadRead::Refused(FramingError::BareLf)),
            "{read:?}"
        );
    }

    #[tokio::test]
    async fn lingering_reads_what_the_client_still_sends_until_it_closes() {
        let (mut server, mut client) = duplex(16);
        let (_stop_tx, mut stop) = watch::channel(false);
        let linger = tokio::spawn(async move { linger(&mut server, &mut stop).await });
        // Far more than the pipe holds: the client can send it all only if it is read.
        for _ in 0..1000 {
            client.write_all(&[b'x'; 64]).await.unwrap();
        }
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty(), "the sending side was shut down");
        drop(client);
        linger.await.unwrap();
    }

    #[tokio::test]
    async fn lingering_ends_at_shutdown() {
        let (mut server, _client) = duplex(16);
        let (stop_tx, mut stop) = watch::channel(false);
        let linger = tokio::spawn(async move { linger(&mut server, &mut stop).await });
        tokio::task::yield_now().await;
        stop_tx.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), linger)
            .await
            .expect("linger ends when asked to stop")
            .unwrap();
    }
}
