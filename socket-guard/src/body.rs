//! Body types: what goes to the daemon, and the response body that writes the audit line.
//!
//! Responses are streamed, never buffered, and some never end (`/events`, `logs?follow`), so
//! the audit line for a request is written when its response body finishes or is dropped: it
//! then knows the real byte count and duration, and the open-streams gauge stays exact.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Body, Frame, SizeHint};

use crate::audit::Audit;

/// A body sent to the daemon or to the client.
pub type GuardBody = BoxBody<Bytes, hyper::Error>;

/// Constructors for [`GuardBody`].
pub trait GuardBodyExt {
    /// No body.
    fn empty() -> GuardBody;
    /// A complete, already inspected body.
    fn full(bytes: Bytes) -> GuardBody;
}

impl GuardBodyExt for GuardBody {
    fn empty() -> GuardBody {
        Empty::new().map_err(|never| match never {}).boxed()
    }
    fn full(bytes: Bytes) -> GuardBody {
        Full::new(bytes).map_err(|never| match never {}).boxed()
    }
}

pin_project_lite::pin_project! {
    /// A response body that counts bytes and writes the audit line when it ends or is dropped.
    pub struct Audited {
        #[pin]
        inner: GuardBody,
        audit: Option<Audit>,
        bytes: u64,
    }

    impl PinnedDrop for Audited {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(audit) = this.audit.take() {
                audit.finish(*this.bytes);
            }
        }
    }
}

impl Audited {
    /// Wraps a body; `audit` is finished exactly once.
    pub fn new(inner: GuardBody, audit: Audit) -> Self {
        Audited {
            inner,
            audit: Some(audit),
            bytes: 0,
        }
    }
}

impl Body for Audited {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.project();
        let res = this.inner.poll_frame(cx);
        match &res {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    *this.bytes += data.len() as u64;
                }
            }
            Poll::Ready(None) => {
                if let Some(audit) = this.audit.take() {
                    audit.finish(*this.bytes);
                }
            }
            Poll::Ready(Some(Err(_))) | Poll::Pending => {}
        }
        res
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
