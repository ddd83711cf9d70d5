//! HTTP/2 answers whose client takes nothing are cut: a client can hold a stream's flow-control
//! window at zero (never sending WINDOW_UPDATE) and so keep the backend connection behind it,
//! and the kernel's buffers on both sides, for as long as it likes, while its connection as a
//! whole stays busy and writable (its other frames flow). [`crate::send_watch`] cannot see
//! this: nothing waits on the socket.
//!
//! hyper polls an answer's body only when the stream has window, so a stalled stream is one
//! whose body handed hyper a frame and has not been asked for the next since. Each connection
//! checks its streams on a tick ([`Streams::watch`]): a stream that owes a poll for a second is
//! peeked at (its backend body polled with a no-op waker, the frame kept for hyper) to tell a
//! stalled client from a backend that has nothing to send yet (an event stream may be quiet for
//! minutes); one with a frame ready that hyper has not taken for the entry point's idle timeout
//! is cut: its backend body is dropped (closing that backend connection), the stream stops
//! counting as busy (so the connection can go idle and be closed), and hyper, if it ever polls
//! again, gets an error and resets the stream.

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::Instant;

use crate::h2_idle::Busy;
use crate::proxy::{BoxError, ProxyBody};

/// How long a stream may owe hyper's next poll before its backend body is peeked at.
const PEEK_AFTER: Duration = Duration::from_secs(1);

/// The streams of one HTTP/2 connection, and how long a ready frame may wait for the client.
#[derive(Debug)]
pub struct Streams {
    list: Mutex<Vec<Weak<Stream>>>,
    /// Wakes the watch when a stream is added (it sleeps while there is none).
    added: tokio::sync::Notify,
    limit: Duration,
}

#[derive(Debug)]
struct Stream {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The backend's body, until it ends or the stream is cut.
    body: Option<ProxyBody>,
    /// The stream is in flight for the connection's idle timer until it ends or is cut.
    busy: Option<Busy>,
    /// What the watch peeked at (a frame, or the body's error), for hyper's next poll.
    stash: Option<Result<Frame<Bytes>, BoxError>>,
    /// Since when hyper owes the next poll (it took a frame and has not asked again).
    owed_since: Option<Instant>,
    /// Since when a frame has been ready and not taken.
    ready_since: Option<Instant>,
    cut: bool,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("owed_since", &self.owed_since)
            .field("ready_since", &self.ready_since)
            .field("cut", &self.cut)
            .finish_non_exhaustive()
    }
}

impl Stream {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Streams {
    /// A connection's streams; a ready frame not taken for `limit` cuts its stream.
    pub fn new(limit: Duration) -> Arc<Streams> {
        Arc::new(Streams {
            list: Mutex::default(),
            added: tokio::sync::Notify::new(),
            limit,
        })
    }

    /// `answer` with its body watched (and `busy` held until it ends or is cut).
    pub fn watch_answer(
        &self,
        answer: hyper::Response<ProxyBody>,
        busy: Busy,
    ) -> hyper::Response<ProxyBody> {
        use http_body_util::BodyExt;
        answer.map(|body| {
            if body.is_end_stream() {
                // Nothing to send after the headers: nothing to stall on.
                drop(busy);
                return body;
            }
            let stream = Arc::new(Stream {
                state: Mutex::new(State {
                    body: Some(body),
                    busy: Some(busy),
                    // hyper owes the first poll once the headers are out (a client whose
                    // window is zero from the start never gets one).
                    owed_since: Some(Instant::now()),
                    ..State::default()
                }),
            });
            self.list
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(Arc::downgrade(&stream));
            self.added.notify_one();
            Watched(stream).boxed()
        })
    }

    /// Checks the streams on a tick while there are any, forever (a branch of the
    /// connection's `select!`); an idle connection's watch sleeps without a timer.
    pub async fn watch(&self) {
        let every = (self.limit / 4).clamp(Duration::from_millis(100), PEEK_AFTER);
        loop {
            if !self.check(Instant::now()) {
                self.added.notified().await;
            }
            tokio::time::sleep(every).await;
        }
    }

    /// Peeks at streams that owe a poll, cuts those whose ready frame waited too long, and
    /// forgets ended ones; says whether any stream is left.
    fn check(&self, now: Instant) -> bool {
        let streams: Vec<Arc<Stream>> = {
            let mut list = self.list.lock().unwrap_or_else(PoisonError::into_inner);
            list.retain(|w| w.strong_count() > 0);
            list.iter().filter_map(Weak::upgrade).collect()
        };
        let any = !streams.is_empty();
        for stream in streams {
            let mut st = stream.lock();
            if st.cut || st.body.is_none() {
                continue;
            }
            if st.stash.is_none()
                && st
                    .owed_since
                    .is_some_and(|t| now.duration_since(t) >= PEEK_AFTER)
            {
                peek(&mut st, now);
            }
            if st
                .ready_since
                .is_some_and(|t| now.duration_since(t) >= self.limit)
            {
                tracing::debug!(
                    waited_s = self.limit.as_secs_f64(),
                    "an HTTP/2 client took nothing of its answer: stream cut, backend connection closed"
                );
                st.cut = true;
                st.body = None;
                st.stash = None;
                st.busy = None;
            }
        }
        any
    }
}

/// Polls a stream's backend body while hyper is not asking (its last frame is not taken yet,
/// so no waker of hyper's is registered with the body), keeping what comes for hyper.
fn peek(st: &mut State, now: Instant) {
    let Some(body) = st.body.as_mut() else {
        return;
    };
    let mut cx = Context::from_waker(Waker::noop());
    match Pin::new(body).poll_frame(&mut cx) {
        Poll::Ready(Some(frame)) => {
            // A frame, or an error, kept for hyper; a frame that waits counts as a stall.
            if frame.is_ok() {
                st.ready_since = Some(now);
            }
            st.stash = Some(frame);
        }
        // The end: the body is not polled again; hyper learns of it when it asks.
        Poll::Ready(None) => st.body = None,
        Poll::Pending => {}
    }
}

/// The body hyper sends: the backend's, through its stream's state.
struct Watched(Arc<Stream>);

impl Body for Watched {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let mut st = self.0.lock();
        st.owed_since = None;
        if let Some(frame) = st.stash.take() {
            st.ready_since = None;
            st.owed_since = Some(Instant::now());
            return Poll::Ready(Some(frame));
        }
        if st.cut {
            return Poll::Ready(Some(Err(
                "the client took nothing of its answer for the idle timeout".into(),
            )));
        }
        let Some(body) = st.body.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = Pin::new(body).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(_))) => st.owed_since = Some(Instant::now()),
            Poll::Ready(None) => {
                st.body = None;
                st.busy = None;
            }
            Poll::Ready(Some(Err(_))) | Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        let st = self.0.lock();
        !st.cut && st.stash.is_none() && st.body.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        let st = self.0.lock();
        match (&st.body, &st.stash) {
            (Some(b), None) if !st.cut => b.size_hint(),
            _ => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, StreamBody};

    /// A body of `n` frames of 1 KiB, and an activity whose busy count shows the stream.
    fn answer(n: usize) -> (hyper::Response<ProxyBody>, Arc<crate::h2_idle::Activity>) {
        let frames = (0..n).map(|_| Ok::<_, BoxError>(Frame::data(Bytes::from(vec![b'x'; 1024]))));
        let body = StreamBody::new(futures_util::stream::iter(frames)).boxed();
        let activity = crate::h2_idle::Activity::new();
        (hyper::Response::new(body), activity)
    }

    #[tokio::test(start_paused = true)]
    async fn a_ready_frame_not_taken_for_the_limit_cuts_the_stream() {
        let streams = Streams::new(Duration::from_secs(5));
        let (resp, activity) = answer(10);
        let busy = activity.start();
        let mut body = streams.watch_answer(resp, busy).into_body();
        // hyper takes one frame, then the client's window is closed: no more polls.
        let first = body.frame().await.unwrap().unwrap();
        assert_eq!(first.data_ref().map(Bytes::len), Some(1024));
        let t0 = Instant::now();
        streams.check(t0 + Duration::from_secs(2));
        assert!(!is_cut(&streams), "peeked, not cut");
        streams.check(t0 + Duration::from_secs(6));
        assert!(!is_cut(&streams), "the frame has been ready 4 s");
        streams.check(t0 + Duration::from_secs(8));
        assert!(is_cut(&streams));
        // The stashed frame was dropped; hyper's next poll is an error.
        assert!(body.frame().await.unwrap().is_err());
        drop(body);
        assert_eq!(streams.list.lock().unwrap().len(), 1);
        streams.check(t0 + Duration::from_secs(9));
        assert!(
            streams.list.lock().unwrap().is_empty(),
            "ended streams are forgotten"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_end_or_an_error_found_by_a_peek_is_what_hyper_gets_next() {
        let streams = Streams::new(Duration::from_secs(5));
        let (resp, activity) = answer(1);
        let mut body = streams.watch_answer(resp, activity.start()).into_body();
        assert!(body.frame().await.unwrap().is_ok());
        streams.check(Instant::now() + Duration::from_secs(2));
        assert!(body.is_end_stream(), "the peek found the end");
        assert!(body.frame().await.is_none());

        let failing = futures_util::stream::iter([
            Ok(Frame::data(Bytes::from_static(b"x"))),
            Err::<Frame<Bytes>, BoxError>("backend reset".into()),
        ]);
        let resp = hyper::Response::new(StreamBody::new(failing).boxed());
        let mut body = streams.watch_answer(resp, activity.start()).into_body();
        assert!(body.frame().await.unwrap().is_ok());
        streams.check(Instant::now() + Duration::from_secs(2));
        assert!(body.frame().await.unwrap().is_err(), "the peeked error");
        assert!(!is_cut(&streams), "an error is not a stall");
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_never_polled_is_cut_too() {
        // A client whose window is zero from the start: hyper sends the headers and never
        // asks for the body.
        let streams = Streams::new(Duration::from_secs(5));
        let (resp, activity) = answer(10);
        let _body = streams.watch_answer(resp, activity.start()).into_body();
        let t0 = Instant::now();
        streams.check(t0 + Duration::from_secs(1));
        streams.check(t0 + Duration::from_secs(7));
        assert!(is_cut(&streams));
    }

    #[tokio::test(start_paused = true)]
    async fn a_reader_that_keeps_taking_and_a_quiet_backend_are_not_cut() {
        let streams = Streams::new(Duration::from_secs(5));
        let (resp, activity) = answer(50);
        let mut body = streams.watch_answer(resp, activity.start()).into_body();
        let t0 = Instant::now();
        let mut frames = 0;
        for s in 0..50u64 {
            // A frame a second, slower than the peek but within the limit.
            tokio::time::advance(Duration::from_secs(1)).await;
            streams.check(t0 + Duration::from_secs(s + 1));
            if let Some(Ok(f)) = body.frame().await {
                frames += usize::from(f.is_data());
            }
        }
        assert_eq!(frames, 50, "every frame arrived, the peeked ones included");
        assert!(!is_cut(&streams));

        // A backend that sends nothing: hyper waits on the body, it owes no poll.
        let never = futures_util::stream::pending::<Result<Frame<Bytes>, BoxError>>();
        let quiet = hyper::Response::new(StreamBody::new(never).boxed());
        let streams = Streams::new(Duration::from_secs(5));
        let mut body = streams.watch_answer(quiet, activity.start()).into_body();
        let waiting = tokio::time::timeout(Duration::from_millis(10), body.frame()).await;
        assert!(waiting.is_err());
        streams.check(t0 + Duration::from_secs(600));
        assert!(!is_cut(&streams), "a quiet backend is not a stalled client");
    }

    fn is_cut(streams: &Streams) -> bool {
        streams
            .list
            .lock()
            .unwrap()
            .iter()
            .filter_map(Weak::upgrade)
            .any(|s| s.lock().cut)
    }
}
