//! Idle HTTP/2 client connections are closed on a timer, as nginx and Go's server close theirs:
//! one that has not sent a request within the entry point's read timeout (it may never send
//! its preface), and one with no request in flight for its idle timeout (a client that only
//! answers PINGs). Without this, an attacker holds connections, and their memory, for free.
//! A stream counts as in flight from the moment hyper hands its request to the router until
//! its answer's body is done (an event stream or a download keeps its connection); an idle
//! connection that was used is closed gracefully (GOAWAY), one that never asked at once.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// What one HTTP/2 connection is doing.
#[derive(Debug)]
pub struct Activity {
    active: AtomicUsize,
    seen: AtomicBool,
    last: Mutex<Instant>,
}

/// A request in flight; the connection is busy while it lives (until its answer's body is
/// done or cut, see [`crate::h2_stall`]).
#[derive(Debug)]
pub struct Busy(Arc<Activity>);

impl Activity {
    /// A connection that has just started.
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity {
            active: AtomicUsize::new(0),
            seen: AtomicBool::new(false),
            last: Mutex::new(Instant::now()),
        })
    }

    /// A request starts.
    pub fn start(self: &Arc<Self>) -> Busy {
        self.seen.store(true, Ordering::Relaxed);
        self.active.fetch_add(1, Ordering::AcqRel);
        Busy(self.clone())
    }

    /// Whether a request has come.
    pub fn seen(&self) -> bool {
        self.seen.load(Ordering::Relaxed)
    }

    /// Resolves once the connection has had no request in flight for `first` (before its
    /// first request) or `idle` (after it).
    pub async fn idle(&self, first: Duration, idle: Duration) {
        loop {
            let limit = match self.seen.load(Ordering::Relaxed) {
                true => idle,
                false => first,
            };
            if self.active.load(Ordering::Acquire) > 0 {
                tokio::time::sleep(limit).await;
                continue;
            }
            let since = self
                .last
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .elapsed();
            match limit.checked_sub(since) {
                Some(left) if !left.is_zero() => tokio::time::sleep(left).await,
                _ => return,
            }
        }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        *self.0.last.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
        self.0.active.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[tokio::test]
    async fn idle_counts_from_the_last_request_and_never_while_one_is_in_flight() {
        let a = Activity::new();
        let start = Instant::now();
        a.idle(MS * 100, MS * 5000).await;
        let took = start.elapsed();
        assert!(
            took >= MS * 100 && took < MS * 2000,
            "before any request: {took:?}"
        );

        let a = Activity::new();
        let busy = a.start();
        let waiter = {
            let a = a.clone();
            tokio::spawn(async move {
                let t = Instant::now();
                a.idle(MS * 5000, MS * 200).await;
                t.elapsed()
            })
        };
        tokio::time::sleep(MS * 500).await;
        assert!(!waiter.is_finished(), "a request in flight keeps it");
        drop(busy);
        let waited = waiter.await.unwrap();
        assert!(waited >= MS * 700, "{waited:?}");
        assert!(waited < MS * 3000, "{waited:?}");
    }
}
