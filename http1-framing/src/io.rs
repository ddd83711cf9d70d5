//! Waiting for a request head on a client connection (feature `tokio`), as both proxies do.

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::watch;

use crate::{find_head_end_within, FramingError};

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
/// head is refused as soon as it is seen.
pub async fn read_head<S: AsyncRead + Unpin>(
    io: &mut S,
    buf: &mut BytesMut,
    max: usize,
    deadline: tokio::time::Instant,
    stop: &mut watch::Receiver<bool>,
) -> HeadRead {
    let mut scanned = 0;
    loop {
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
