//! An HTTP/2 request's body on its way to the backend: streamed as it comes, or read whole by
//! a middleware, a retry or a mirror that asked ([`crate::middleware::Body`]) and then sent
//! from memory (again on a retry). A body read only in part (over a `mirroring` service's
//! `maxBodySize`) goes on as it came: the part read first, then the rest of the stream.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http1_framing::io::BodyError;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};

/// The client's body, as far as it has been read.
pub struct H2Body {
    /// What the client has still to send (none once read whole).
    incoming: Option<Incoming>,
    /// The whole body, once read.
    read: Option<Bytes>,
    /// Data read of a body that was over a limit: it goes first, then `incoming`.
    prefix: Option<Bytes>,
    /// How long the client may pause (the entry point's read timeout).
    idle: Duration,
}

impl H2Body {
    /// A body not read yet.
    pub fn new(incoming: Incoming, idle: Duration) -> H2Body {
        H2Body {
            incoming: Some(incoming),
            read: None,
            prefix: None,
            idle,
        }
    }

    /// Whether the body can be sent again (a retry on another backend): it is in memory,
    /// or empty.
    pub fn replayable(&self) -> bool {
        self.read.is_some()
            || (self.prefix.is_none() && self.incoming.as_ref().is_none_or(|b| b.is_end_stream()))
    }

    /// The body read whole, if it was; else the stream to send (its part read first).
    pub fn into_parts(self) -> (Option<Bytes>, Option<Prefixed>) {
        let rest = self.incoming.map(|rest| Prefixed {
            prefix: self.prefix,
            rest,
        });
        (self.read, rest)
    }

    /// The whole body if it has at most `limit` bytes of data; `None` past it, with what was
    /// read kept as the prefix and the rest of the stream kept after it.
    async fn gather(&mut self, limit: u64) -> Result<Option<Bytes>, BodyError> {
        if let Some(b) = &self.read {
            return Ok((b.len() as u64 <= limit).then(|| b.clone()));
        }
        let mut data = self.prefix.take().map(Vec::from).unwrap_or_default();
        let Some(mut incoming) = self.incoming.take() else {
            return Ok(Some(self.keep(data)));
        };
        if data.len() as u64 + incoming.size_hint().lower() > limit {
            self.put_back(data, incoming);
            return Ok(None);
        }
        loop {
            let frame = tokio::time::timeout(self.idle, incoming.frame())
                .await
                .map_err(|_| BodyError::Stalled(self.idle))?;
            match frame {
                None => return Ok(Some(self.keep(data))),
                Some(Err(_)) => return Err(BodyError::ClientGone),
                Some(Ok(f)) => {
                    if let Ok(d) = f.into_data() {
                        data.extend_from_slice(&d);
                        if data.len() as u64 > limit {
                            self.put_back(data, incoming);
                            return Ok(None);
                        }
                    }
                }
            }
        }
    }

    fn keep(&mut self, data: Vec<u8>) -> Bytes {
        let b = Bytes::from(data);
        self.read = Some(b.clone());
        b
    }

    fn put_back(&mut self, data: Vec<u8>, incoming: Incoming) {
        self.prefix = (!data.is_empty()).then(|| Bytes::from(data));
        self.incoming = Some(incoming);
    }
}

impl crate::middleware::Body for H2Body {
    fn read_all(&mut self, limit: u64) -> crate::middleware::BodyFuture<'_> {
        Box::pin(async move { self.gather(limit).await?.ok_or(BodyError::TooLarge(limit)) })
    }

    fn read_within(&mut self, limit: u64) -> crate::middleware::BodyWithinFuture<'_> {
        Box::pin(self.gather(limit))
    }

    fn declared(&self) -> Option<u64> {
        let prefix = self.prefix.as_ref().map_or(0, |p| p.len() as u64);
        match (&self.read, &self.incoming) {
            (Some(b), _) => Some(b.len() as u64),
            (None, Some(i)) => i.size_hint().exact().map(|n| n + prefix),
            (None, None) => Some(0),
        }
    }
}

/// A body streamed to the backend: the part read already, then the rest as the client sends it.
pub struct Prefixed {
    prefix: Option<Bytes>,
    rest: Incoming,
}

impl Body for Prefixed {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        if let Some(p) = this.prefix.take() {
            return Poll::Ready(Some(Ok(Frame::data(p))));
        }
        Pin::new(&mut this.rest).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.prefix.is_none() && self.rest.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let before = self.prefix.as_ref().map_or(0, |p| p.len() as u64);
        let rest = self.rest.size_hint();
        let mut hint = SizeHint::new();
        hint.set_lower(rest.lower() + before);
        if let Some(upper) = rest.upper() {
            hint.set_upper(upper + before);
        }
        hint
    }
}
