//! Identical reads that arrive together share one daemon answer (`GUARD_COALESCE`).
//!
//! Pollers send the same metadata read at the same moments, and every copy makes the daemon
//! walk its state under its locks again. For a read [`policies::share`] lists, the guard sends
//! one request of a group whose forwarded heads are byte for byte the same, and gives its
//! answer to the whole group, the way a database commits a group of transactions at once.
//!
//! Never an old answer: a request only joins a group whose request has **not** been sent
//! yet, so every answer a client gets was produced by a daemon request sent after its own
//! request arrived; a client that created a container and then lists them sees it. Per key,
//! one request is at the daemon (`sent`) and one group waits for it (`gathering`); when the
//! sent one ends, the group's first member sends the group's request. A member waits at most
//! [`WAIT_MAX`] for the request ahead of it, so a read the daemon is slow on never holds the
//! next one for longer than that.
//!
//! Nothing is kept after an answer: this is not a cache. When the leader cannot give an
//! answer to share (its daemon request failed, its client left before the answer was whole,
//! the answer is over [`SHARE_MAX`]), every member sends its own request, as without
//! coalescing. A leader that nobody joined ([`Lead::has_followers`]) shares nothing: it
//! relays as without coalescing and lets the group behind it go once the daemon answers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;

/// The largest answer body shared; a larger one is sent to its own client only.
pub const SHARE_MAX: usize = 1 << 20;

/// How long a group waits for the identical request ahead of it before sending its own.
pub const WAIT_MAX: Duration = Duration::from_secs(1);

/// A daemon answer given to every member of a group.
#[derive(Debug)]
pub struct SharedAnswer {
    /// The status.
    pub status: u16,
    /// The status line and headers as relayed, without the final empty line.
    pub head: Vec<u8>,
    /// How the body is framed.
    pub framing: crate::framing::BodyFraming,
    /// The body as the daemon framed it (its `Content-Length` or chunks are in `head`).
    pub body: Vec<u8>,
}

/// What happened to a group's request.
#[derive(Debug, Clone, Default)]
enum Outcome {
    #[default]
    Pending,
    Answer(Arc<SharedAnswer>),
    /// No answer to share: each member sends its own request.
    Alone,
}

/// What a request does after [`Coalescer::enter`].
#[derive(Debug)]
pub enum Entry {
    /// Send the request, and share its answer by [`Lead::share`].
    Lead(Lead),
    /// The group's answer: relay it, send nothing.
    Answer(Arc<SharedAnswer>),
    /// Send the request alone; nothing to share.
    Alone,
}

#[derive(Debug, Clone)]
struct Batch {
    id: u64,
    outcome: watch::Receiver<Outcome>,
    /// Requests that joined it (only a gathering group is joined).
    followers: usize,
}

#[derive(Debug, Default)]
struct Slot {
    /// The group whose request is at the daemon.
    sent: Option<Batch>,
    /// The group that arrived since, sent when `sent` ends.
    gathering: Option<Batch>,
}

#[derive(Debug, Default)]
struct Inner {
    slots: Mutex<HashMap<Box<[u8]>, Slot>>,
    next_id: AtomicU64,
}

impl Inner {
    fn slots(&self) -> MutexGuard<'_, HashMap<Box<[u8]>, Slot>> {
        // A panic while the lock was held left a map that is still whole (every change is
        // one assignment); poisoning is no reason to stop coalescing.
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The groups in flight, by forwarded head.
#[derive(Debug, Clone, Default)]
pub struct Coalescer {
    inner: Arc<Inner>,
}

/// The member of a group that sends its request. Dropped without [`Lead::share`], it tells
/// the group to go alone.
#[derive(Debug)]
pub struct Lead {
    inner: Arc<Inner>,
    key: Box<[u8]>,
    id: u64,
    outcome: watch::Sender<Outcome>,
    result: Outcome,
    /// How many joined its group: final once the lead is handed out, since only a group not
    /// yet sent can be joined.
    followers: usize,
}

enum Role {
    Lead(Lead),
    /// Lead the gathering group once the sent one ends.
    Next(Lead, watch::Receiver<Outcome>),
    Follow(watch::Receiver<Outcome>),
}

impl Coalescer {
    /// Joins or starts the group for `key` (the forwarded request head). May wait: for the
    /// group's answer, or, for the first member of a gathering group, for the request ahead.
    pub async fn enter(&self, key: &[u8]) -> Entry {
        let role = {
            let mut slots = self.inner.slots();
            let slot = match slots.get_mut(key) {
                Some(s) => s,
                None => slots.entry(key.into()).or_default(),
            };
            if let Some(gathering) = &mut slot.gathering {
                gathering.followers += 1;
                Role::Follow(gathering.outcome.clone())
            } else {
                let (lead, batch) = self.new_lead(key);
                match &slot.sent {
                    Some(sent) => {
                        let ahead = sent.outcome.clone();
                        slot.gathering = Some(batch);
                        Role::Next(lead, ahead)
                    }
                    None => {
                        slot.sent = Some(batch);
                        Role::Lead(lead)
                    }
                }
            }
        };
        match role {
            Role::Lead(lead) => Entry::Lead(lead),
            Role::Next(mut lead, mut ahead) => {
                let _ = tokio::time::timeout(WAIT_MAX, ahead.wait_for(is_done)).await;
                lead.promote();
                Entry::Lead(lead)
            }
            Role::Follow(mut outcome) => match outcome.wait_for(is_done).await.as_deref() {
                Ok(Outcome::Answer(answer)) => Entry::Answer(answer.clone()),
                _ => Entry::Alone,
            },
        }
    }

    fn new_lead(&self, key: &[u8]) -> (Lead, Batch) {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = watch::channel(Outcome::Pending);
        let lead = Lead {
            inner: self.inner.clone(),
            key: key.into(),
            id,
            outcome: tx,
            result: Outcome::Alone,
            followers: 0,
        };
        let batch = Batch {
            id,
            outcome: rx,
            followers: 0,
        };
        (lead, batch)
    }

    /// How many groups have been started: each one's request was, or will be, sent to the
    /// daemon. A request that joins a group does not count. Tests wait on it to know that a
    /// request has taken its place before sending the next.
    pub fn groups_started(&self) -> u64 {
        self.inner.next_id.load(Ordering::Relaxed)
    }

    /// How many keys have a group in flight.
    #[cfg(test)]
    fn in_flight(&self) -> usize {
        self.inner.slots().len()
    }
}

fn is_done(o: &Outcome) -> bool {
    !matches!(o, Outcome::Pending)
}

impl Lead {
    /// Gives the group the daemon's whole answer.
    pub fn share(mut self, answer: SharedAnswer) {
        self.result = Outcome::Answer(Arc::new(answer));
    }

    /// Whether any request joined the group. Without one there is nobody to share with: the
    /// answer is relayed as any is, and the lead dropped as soon as the daemon answered, so
    /// that the group gathering behind it goes.
    pub fn has_followers(&self) -> bool {
        self.followers > 0
    }

    /// The gathering group becomes the sent one: later arrivals gather behind it.
    fn promote(&mut self) {
        let mut slots = self.inner.slots();
        let Some(slot) = slots.get_mut(&self.key) else {
            return;
        };
        if slot.gathering.as_ref().is_some_and(|b| b.id == self.id) {
            self.followers = slot.gathering.as_ref().map_or(0, |b| b.followers);
            slot.sent = slot.gathering.take();
        }
    }
}

impl Drop for Lead {
    fn drop(&mut self) {
        {
            let mut slots = self.inner.slots();
            if let Some(slot) = slots.get_mut(&self.key) {
                if slot.sent.as_ref().is_some_and(|b| b.id == self.id) {
                    slot.sent = None;
                }
                if slot.gathering.as_ref().is_some_and(|b| b.id == self.id) {
                    slot.gathering = None;
                }
                if slot.sent.is_none() && slot.gathering.is_none() {
                    slots.remove(&self.key);
                }
            }
        }
        self.outcome.send_replace(std::mem::take(&mut self.result));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(body: &str) -> SharedAnswer {
        SharedAnswer {
            status: 200,
            head: b"HTTP/1.1 200 OK\r\n".to_vec(),
            framing: crate::framing::BodyFraming::Length(body.len() as u64),
            body: body.as_bytes().to_vec(),
        }
    }

    fn lead(e: Entry) -> Lead {
        match e {
            Entry::Lead(l) => l,
            other => panic!("expected to lead, got {other:?}"),
        }
    }

    /// `lead` (the lead is dropped: its group goes alone), `alone`, or `answer:BODY`.
    fn describe(e: Entry) -> String {
        match e {
            Entry::Lead(_) => "lead".into(),
            Entry::Alone => "alone".into(),
            Entry::Answer(a) => format!("answer:{}", String::from_utf8_lossy(&a.body)),
        }
    }

    /// A request expected to lead (its group waits for the one ahead first, if any).
    fn leader(c: &Coalescer, key: &'static [u8]) -> tokio::task::JoinHandle<Lead> {
        let c = c.clone();
        tokio::spawn(async move { lead(c.enter(key).await) })
    }

    fn member(c: &Coalescer, key: &'static [u8]) -> tokio::task::JoinHandle<String> {
        let c = c.clone();
        tokio::spawn(async move { describe(c.enter(key).await) })
    }

    /// Lets every spawned task run until it waits.
    async fn settle() {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn alone_a_request_leads_and_leaves_nothing_behind() {
        let c = Coalescer::default();
        let l = lead(c.enter(b"GET /_ping").await);
        assert_eq!(c.in_flight(), 1);
        l.share(answer("OK"));
        assert_eq!(c.in_flight(), 0);
        // Nothing is kept: the next identical request leads again.
        let l = lead(c.enter(b"GET /_ping").await);
        drop(l);
        assert_eq!(c.in_flight(), 0);
    }

    #[tokio::test]
    async fn a_group_gets_the_answer_of_its_own_request_never_the_one_before() {
        let c = Coalescer::default();
        let first = lead(c.enter(b"K").await);
        // Arrives while the first request is at the daemon: leads the next group.
        let (go, wait) = tokio::sync::oneshot::channel();
        let next = tokio::spawn({
            let c = c.clone();
            async move {
                let l = lead(c.enter(b"K").await);
                let _ = wait.await;
                l.share(answer("new"));
            }
        });
        settle().await;
        let members: Vec<_> = (0..5).map(|_| member(&c, b"K")).collect();
        settle().await;
        first.share(answer("old"));
        settle().await;
        go.send(()).unwrap();
        next.await.unwrap();
        for m in members {
            assert_eq!(m.await.unwrap(), "answer:new");
        }
        assert_eq!(c.in_flight(), 0);
    }

    #[tokio::test]
    async fn a_lead_knows_whether_anyone_joined_its_group() {
        let c = Coalescer::default();
        // Sent at once: nobody can join a group already sent.
        let first = lead(c.enter(b"K").await);
        assert!(!first.has_followers());
        let joined = leader(&c, b"K");
        settle().await;
        let members: Vec<_> = (0..3).map(|_| member(&c, b"K")).collect();
        settle().await;
        drop(first);
        let joined = joined.await.unwrap();
        assert!(joined.has_followers());
        // Nobody arrives behind it: the next group's lead has nobody to share with.
        let alone = leader(&c, b"K");
        settle().await;
        joined.share(answer("x"));
        for m in members {
            assert_eq!(m.await.unwrap(), "answer:x");
        }
        let alone = alone.await.unwrap();
        assert!(!alone.has_followers());
        drop(alone);
        assert_eq!(c.in_flight(), 0);
    }

    #[tokio::test]
    async fn different_keys_never_share() {
        let c = Coalescer::default();
        let a = lead(c.enter(b"GET /_ping UA=a").await);
        let b = member(&c, b"GET /_ping UA=b");
        assert_eq!(b.await.unwrap(), "lead");
        assert_eq!(c.in_flight(), 1);
        drop(a);
        assert_eq!(c.in_flight(), 0);
    }

    #[tokio::test]
    async fn a_lead_that_gives_up_sends_its_group_alone() {
        let c = Coalescer::default();
        let first = lead(c.enter(b"K").await);
        let next = leader(&c, b"K");
        settle().await;
        let m = member(&c, b"K");
        settle().await;
        drop(first);
        drop(next.await.unwrap());
        assert_eq!(m.await.unwrap(), "alone");
        assert_eq!(c.in_flight(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_request_ahead_holds_the_next_group_at_most_wait_max() {
        let c = Coalescer::default();
        let stuck = lead(c.enter(b"K").await);
        let started = tokio::time::Instant::now();
        let next = lead(c.enter(b"K").await);
        assert!(started.elapsed() >= WAIT_MAX);
        // `next` was promoted: a request arriving now waits for it, not for the stuck one,
        // and leads the group after it.
        let after = leader(&c, b"K");
        settle().await;
        assert!(!after.is_finished());
        next.share(answer("x"));
        let after = after.await.unwrap();
        // The stuck request ending late clears nothing of the groups after it.
        drop(stuck);
        assert_eq!(c.in_flight(), 1);
        drop(after);
        assert_eq!(c.in_flight(), 0);
    }
}
