//! A request body on its way to a backend through hyper's client (HTTP/2 clients, h2c and
//! HTTPS servers), watched: as Go's `ResponseHeaderTimeout`, the response timeout counts from
//! the moment the body has been sent whole ([`Upload::sent`]); while it is being sent, only a
//! pause that long counts (the body then fails, [`Upload::stalled`]), so a long upload that
//! keeps moving is not cut.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::Notify;
use tokio::time::Sleep;

use crate::proxy::{BoxError, ProxyBody};

/// What is known of a watched body's sending.
#[derive(Debug, Clone)]
pub struct Upload(Arc<State>);

#[derive(Debug, Default)]
struct State {
    done: AtomicBool,
    stalled: AtomicBool,
    notify: Notify,
}

impl Upload {
    /// Resolves once the body has been sent whole (at once for an empty one).
    pub async fn sent(&self) {
        loop {
            let notified = self.0.notify.notified();
            if self.0.done.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }

    /// Whether the body failed for pausing too long.
    pub fn stalled(&self) -> bool {
        self.0.stalled.load(Ordering::Acquire)
    }

    fn finish(&self) {
        self.0.done.store(true, Ordering::Release);
        self.0.notify.notify_waiters();
    }
}

/// `body`, watched for pauses of `pause`.
pub fn watch(body: ProxyBody, pause: Duration) -> (ProxyBody, Upload) {
    let upload = Upload(Arc::default());
    if body.is_end_stream() {
        upload.finish();
        return (body, upload);
    }
    let watched = Watched {
        body,
        pause,
        waiting: None,
        upload: upload.clone(),
    };
    (watched.boxed(), upload)
}

struct Watched {
    body: ProxyBody,
    pause: Duration,
    /// Armed while the next frame is awaited.
    waiting: Option<Pin<Box<Sleep>>>,
    upload: Upload,
}

impl Body for Watched {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.body).poll_frame(cx) {
            Poll::Ready(None) => {
                this.waiting = None;
                this.upload.finish();
                Poll::Ready(None)
            }
            Poll::Ready(Some(frame)) => {
                this.waiting = None;
                if this.body.is_end_stream() {
                    this.upload.finish();
                }
                Poll::Ready(Some(frame))
            }
            Poll::Pending => {
                let pause = this.pause;
                let timer = this
                    .waiting
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(pause)));
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.upload.0.stalled.store(true, Ordering::Release);
                        Poll::Ready(Some(Err(format!(
                            "the request body made no progress for {pause:?}"
                        )
                        .into())))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel_body() -> (http_body_util::channel::Sender<Bytes, BoxError>, ProxyBody) {
        let (tx, rx) = http_body_util::channel::Channel::<Bytes, BoxError>::new(4);
        (tx, rx.boxed())
    }

    #[tokio::test]
    async fn sent_once_the_body_ends_and_stalled_after_a_pause() {
        let ms = Duration::from_millis(1);
        // Empty: sent at once.
        let (_, up) = watch(crate::proxy::full(Bytes::new()), ms * 100);
        tokio::time::timeout(ms * 50, up.sent()).await.unwrap();

        // Two parts 150 ms apart under a 300 ms pause: read whole, then sent.
        let (mut tx, body) = channel_body();
        let (body, up) = watch(body, ms * 300);
        tokio::spawn(async move {
            tx.send_data(Bytes::from_static(b"a")).await.unwrap();
            tokio::time::sleep(ms * 150).await;
            tx.send_data(Bytes::from_static(b"b")).await.unwrap();
        });
        let got = body.collect().await.unwrap().to_bytes();
        assert_eq!(&got[..], b"ab");
        tokio::time::timeout(ms * 50, up.sent()).await.unwrap();
        assert!(!up.stalled());

        // A sender that stops: the body fails after the pause, and says why.
        let (mut tx, body) = channel_body();
        let (body, up) = watch(body, ms * 100);
        tx.send_data(Bytes::from_static(b"a")).await.unwrap();
        let e = body.collect().await.unwrap_err();
        assert!(e.to_string().contains("no progress"), "{e}");
        assert!(up.stalled());
        drop(tx);
    }
}
