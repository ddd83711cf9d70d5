//! One client connection: read a head, judge it, forward it, relay the answer, repeat.
//!
//! The guard speaks HTTP/1.1 on the raw bytes instead of through a general-purpose server and
//! client: a client connection is served by one task that owns its socket, its daemon
//! connection (dialled on first use and kept while the daemon keeps it) and two reusable
//! buffers. A request costs a parse, a decision, one write to the daemon and one to the
//! client for a short answer, with no channel or task between the two sides. The framing of
//! every message is followed exactly ([`crate::framing`]), so keep-alive and pipelining stay
//! in step and nothing the guard did not judge can ride along. An allowed metadata read may
//! instead take the answer of the identical read sent for its group ([`crate::coalesce`]).
//!
//! Answers go back in request order by construction: the next head is not even looked at
//! before the previous answer is complete. While the daemon works on a request, the client
//! side is still read (into the buffer, up to a bound) so a client that leaves is noticed and
//! its daemon connection closed, which is what ends a `/events` stream or a hung request.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::sync::watch;

use crate::audit::Audit;
use crate::coalesce::{Coalescer, Entry, Lead, SharedAnswer, SHARE_MAX};
use crate::error::GuardError;
use crate::framing::io::{
    forward_body, linger, read_head, BodyError, BodySent, HeadRead, SHUTDOWN_WAIT,
};
use crate::framing::{find_head_end, BodyFraming, BodyLeft, ChunkDecoder, MAX_HEAD};
use crate::policy_set::Identity;
use crate::proxy::{self, Judged, Refusal};
use crate::redaction::Rewrite;
use crate::response::write_json_error;
use crate::server::State;
use crate::wire::{self, HeadError, Outgoing, RequestHead, ResponseHead};
use policies::Policy;

mod redacted;

/// How long an inspected (or drained) body may take to arrive.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest body of a refused request that is read and dropped to keep the connection;
/// a larger one closes it.
const DRAIN_MAX: u64 = 1 << 20;

/// After a client half-closes (it may have closed altogether: nothing tells the two apart),
/// how long the daemon, told of it, may stay silent before the exchange ends as if the
/// client had left. The daemon answers a half-closed client's finite request at once and
/// ends its stream at once, so this bounds only what a hung daemon holds.
const HALF_CLOSED_WAIT: Duration = Duration::from_secs(5);

/// How much is asked of a socket per read.
const READ_SIZE: usize = 16 * 1024;

/// How much pipelined input is held while an answer is pending; a client that sends more
/// than this meanwhile has its connection closed.
const BACKLOG_MAX: usize = 2 * MAX_HEAD;

/// The daemon connection of a client connection.
#[derive(Debug)]
struct Daemon {
    io: UnixStream,
    buf: BytesMut,
}

/// Whether the connection goes on after an exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    KeepAlive,
    Close,
}

/// Why an exchange could not complete.
#[derive(Debug)]
enum Fail {
    /// The client went away: nothing more to say to it.
    ClientGone,
    /// An answer is due (the client is still there).
    Answer(GuardError),
}

/// Serves one client connection until it closes, errs, or shutdown is asked between requests.
pub async fn serve<S>(
    io: S,
    client: Arc<str>,
    identity: Identity,
    state: Arc<State>,
    stop: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let (policy_name, policy) = state.policy_for(&identity);
    let mut conn = Conn {
        identity,
        policy,
        policy_name,
        io,
        buf: BytesMut::new(),
        daemon: None,
        out: Vec::new(),
        body_unread: false,
        client_eof: false,
        state,
        client,
        stop,
    };
    while conn.next().await == Next::KeepAlive {}
    if conn.body_unread {
        linger(&mut conn.io, &mut conn.stop).await;
    } else {
        let _ = tokio::time::timeout(SHUTDOWN_WAIT, conn.io.shutdown()).await;
    }
}

struct Conn<S> {
    io: S,
    /// Client bytes not consumed yet.
    buf: BytesMut,
    daemon: Option<Daemon>,
    /// Heads and short answers are assembled here and written at once.
    out: Vec<u8>,
    /// The client may still be sending a body the guard did not read to its end (of a request
    /// refused, or answered by the daemon before it read it all): the connection closes after
    /// the answer, lingering so the client gets to read it.
    body_unread: bool,
    /// The client half-closed its side while an answer was pending ([`Conn::read_daemon`]).
    client_eof: bool,
    state: Arc<State>,
    client: Arc<str>,
    /// Who the client is, as its connection says ([`crate::policy_set`]).
    identity: Identity,
    /// The client's policy for the request being served, and its name: chosen again for
    /// every request, so a reload applies from the next one.
    policy: Arc<Policy>,
    policy_name: Arc<str>,
    stop: watch::Receiver<bool>,
}

impl<S> Conn<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    /// One exchange: a head, its answer.
    async fn next(&mut self) -> Next {
        // A half-closed client sends nothing more: its answer was the last.
        if *self.stop.borrow() || self.client_eof {
            return Next::Close;
        }
        let len = match self.read_head().await {
            HeadRead::Complete(len) => len,
            HeadRead::Closed => return Next::Close,
            HeadRead::TimedOut => {
                if !self.buf.is_empty() {
                    self.refuse_head(GuardError::HeadTimeout).await;
                }
                return Next::Close;
            }
            HeadRead::Refused(e) => {
                self.refuse_head(GuardError::Framing(e)).await;
                return Next::Close;
            }
        };
        let start = Instant::now();
        let parsed = wire::parse_request(&self.buf[..len]);
        self.buf.advance(len);
        match parsed {
            Ok(head) => self.exchange(head, start).await,
            Err(HeadError::Framing(e)) => {
                self.refuse_head(GuardError::Framing(e)).await;
                Next::Close
            }
            Err(e) => {
                self.refuse_head(GuardError::BadHead(e)).await;
                Next::Close
            }
        }
    }

    /// Waits for a complete head; refuses a bare LF or an oversized head as soon as seen.
    async fn read_head(&mut self) -> HeadRead {
        let deadline = tokio::time::Instant::now() + self.state.config.header_timeout;
        read_head(
            &mut self.io,
            &mut self.buf,
            MAX_HEAD,
            deadline,
            &mut self.stop,
        )
        .await
    }

    /// The refusal of a request over its client's `GUARD_MAX_REQUESTS_PER_CLIENT`, if it is.
    fn over_rate(&self, head: &RequestHead, start: Instant) -> Option<Refusal> {
        let max = self.state.config.max_requests_per_client?;
        let ip = self.client.parse::<std::net::SocketAddr>().ok()?.ip();
        if self.state.rate_caps.admit(ip, start) {
            return None;
        }
        let audit = proxy::audit_for(
            &self.state,
            self.client.clone(),
            self.policy_name.clone(),
            &head.method,
            &head.target,
            start,
        );
        Some(Refusal {
            audit,
            err: GuardError::RateLimited(max),
            path: head.target.clone(),
        })
    }

    /// A head that cannot be judged: 400 (or 408, 431) and the connection closes.
    async fn refuse_head(&mut self, err: GuardError) {
        // A client whose head is refused may be sending a body after it; one too slow to
        // send a head gets no more time.
        self.body_unread = !matches!(err, GuardError::HeadTimeout);
        let mut audit = proxy::audit_for(
            &self.state,
            self.client.clone(),
            self.policy_name.clone(),
            "-",
            "-",
            Instant::now(),
        );
        if let GuardError::Framing(e) = &err {
            audit.reason = format!("malformed request framing: {e}");
        }
        let mut refusal = Refusal {
            audit,
            err,
            path: "-".to_owned(),
        };
        let _ = self.answer(&mut refusal, false, true).await;
        refusal.audit.finish(0);
    }

    /// Writes the guard's own JSON answer for a refusal.
    /// Writes a refusal; the body bytes sent (none for HEAD), or `Err` when the client is gone.
    async fn answer(&mut self, refusal: &mut Refusal, head: bool, close: bool) -> Result<u64, ()> {
        if let GuardError::Framing(e) = &refusal.err {
            self.state.metrics.framing_errors.inc();
            tracing::warn!(target: "audit", client = %self.client, decision = "invalid", reason = %e, status = 400, "malformed request framing");
        }
        let message = proxy::refusal_message(refusal);
        self.out.clear();
        let body = write_json_error(&mut self.out, refusal.err.status(), &message, head, close);
        self.io.write_all(&self.out).await.map_err(|_| ())?;
        Ok(if head { 0 } else { body as u64 })
    }

    /// Answers a refusal and finishes its audit line; then keeps the connection only when
    /// `close` is false and the refused request's body, if `unread`, can be skipped.
    async fn refuse(
        &mut self,
        mut refusal: Refusal,
        head: &RequestHead,
        close: bool,
        unread: bool,
    ) -> Next {
        let body_left = unread && head.body != BodyFraming::None;
        let close = close
            || head.close
            || head.upgrade.is_some()
            || (body_left && head.expect_continue)
            || (body_left && matches!(head.body, BodyFraming::Length(n) if n > DRAIN_MAX));
        let sent = self
            .answer(&mut refusal, head.method == "HEAD", close)
            .await;
        refusal.audit.finish(sent.unwrap_or(0));
        if sent.is_err() || close {
            return Next::Close;
        }
        if body_left && !self.drain(head.body).await {
            return Next::Close;
        }
        Next::KeepAlive
    }

    /// An allowed request's whole body, inspected and stamped with the owner label: the
    /// bytes to forward.
    /// In learn and warn modes a body that needs grants is forwarded, and what it needed
    /// returned.
    fn judge_body(
        &self,
        allowed: &policies::Allowed,
        bytes: Vec<u8>,
    ) -> Result<(Vec<u8>, Option<String>), GuardError> {
        let policy = &self.policy;
        let mut learned = None;
        if let Some(kind) = allowed.inspect {
            if let Err(d) = policy.inspect_body(kind, &bytes) {
                if !(policy.learns() || policy.warns()) || d.needs().is_none() {
                    return Err(GuardError::BodyDenied(d));
                }
                let needs = policies::learn::body_needs(kind, &bytes, policy.body_grants())
                    .map_err(GuardError::BodyDenied)?;
                learned = Some(needs.join(" "));
            }
        }
        let bytes = match (allowed.stamp, policy.owner()) {
            (Some(how), Some(owner)) => owner.stamp(how, &bytes).map_err(|e| match e {
                policies::owner::StampError::Forbidden(why) => GuardError::NotOwned(why),
                policies::owner::StampError::Malformed(m) => GuardError::BadOwnedRequest(m),
            })?,
            _ => bytes,
        };
        Ok((bytes, learned))
    }

    /// One judged exchange.
    async fn exchange(&mut self, head: RequestHead, start: Instant) -> Next {
        self.body_unread = !matches!(head.body, BodyFraming::None | BodyFraming::Length(0));
        (self.policy_name, self.policy) = self.state.policy_for(&self.identity);
        if let Some(refusal) = self.over_rate(&head, start) {
            return self.refuse(refusal, &head, false, true).await;
        }
        let judged = match proxy::judge(
            &self.state,
            (&self.policy_name, &self.policy),
            &head,
            self.client.clone(),
            start,
        ) {
            Ok(j) => j,
            Err(refusal) => return self.refuse(*refusal, &head, false, true).await,
        };
        let Judged {
            mut audit,
            mut target,
            allowed,
        } = judged;

        // Phase 2b: the visible scope, when it is limited (see [`crate::visibility`]).
        let mut rewrite = Rewrite {
            redact: allowed.redact,
            scope: None,
        };
        let policy = self.policy.clone();
        if policy.scope().is_limited() {
            match crate::visibility::judge(&self.state, policy.scope(), &target, allowed.endpoint)
                .await
            {
                Ok((forward, scope)) => {
                    if let Some(t) = forward {
                        target = t;
                    }
                    rewrite.scope = scope;
                }
                Err(err) => {
                    return self
                        .refuse(refusal(audit, err, &target), &head, false, true)
                        .await
                }
            }
        }
        // Phase 2c: owned objects (see [`crate::ownership`]).
        if let Some(owner) = policy.owner() {
            match crate::ownership::judge(&self.state, owner, &target, allowed.endpoint).await {
                Ok((forward, owned)) => {
                    if let Some(t) = forward {
                        target = t;
                    }
                    rewrite.scope = rewrite.scope.or(owned);
                }
                Err(err) => {
                    return self
                        .refuse(refusal(audit, err, &target), &head, false, true)
                        .await
                }
            }
        }
        // Learn mode: the audit line names the container a path reaches, for `suggest`.
        if policy.learns() {
            if let policies::scope::Touch::Container(id) =
                policies::scope::touch(allowed.endpoint, target.path())
            {
                if let Ok(Some(name)) = crate::visibility::name_of(&self.state, &id).await {
                    audit.reason = format!("{}; container {name}", audit.reason);
                }
            }
        }
        let upgrade = allowed.upgrade && head.upgrade.is_some();

        // Phase 3: the body, by its real framing. `100 Continue` is sent only for a body that
        // is going to be read: not before a refusal that needs no body to decide.
        let max_body = self.state.config.max_body;
        let (outgoing, collected, streamed) =
            if allowed.inspect.is_some() || allowed.stamp.is_some() {
                if matches!(head.body, BodyFraming::Length(n) if n > max_body as u64) {
                    let err = GuardError::BodyTooLarge(max_body);
                    return self.refuse_body(audit, err, &target, &head).await;
                }
                if self.send_continue(&head).await.is_err() {
                    return self.client_left(audit, "before sending the body");
                }
                let bytes = match self.collect_body(head.body, max_body).await {
                    Ok(b) => b,
                    Err(Fail::ClientGone) => {
                        return self.client_left(audit, "before the body was complete")
                    }
                    Err(Fail::Answer(err)) => {
                        return self.refuse_body(audit, err, &target, &head).await
                    }
                };
                let judged = self.judge_body(&allowed, bytes);
                let bytes = match judged {
                    Ok((b, learned)) => {
                        if let Some(needs) = learned {
                            if self.policy.learns() {
                                audit.learned = true;
                                audit.reason = format!("{}; body needs {needs}", audit.reason);
                            } else {
                                audit.would_deny = true;
                                audit.reason = format!(
                                    "{}; {}body needs {needs}",
                                    audit.reason,
                                    policies::policy::WOULD_DENY
                                );
                            }
                        }
                        b
                    }
                    Err(err) => {
                        return self
                            .refuse(refusal(audit, err, &target), &head, false, false)
                            .await
                    }
                };
                (Outgoing::Length(bytes.len() as u64), Some(bytes), None)
            } else if allowed.empty_body {
                match head.body {
                    BodyFraming::None | BodyFraming::UntilClose => {}
                    // What the daemon ignores there (`{}` from Ansible) is read and dropped:
                    // nothing of it is forwarded.
                    BodyFraming::Length(n) if n <= policies::endpoint::IGNORED_BODY => {
                        match self.collect_body(head.body, n as usize).await {
                            Ok(_) => {}
                            Err(Fail::ClientGone) => {
                                return self.client_left(audit, "before the body was complete")
                            }
                            Err(Fail::Answer(err)) => {
                                return self.refuse_body(audit, err, &target, &head).await
                            }
                        }
                    }
                    BodyFraming::Length(_) => {
                        return self
                            .refuse_body(audit, GuardError::BodyNotEmpty, &target, &head)
                            .await
                    }
                    BodyFraming::Chunked => match self.collect_body(head.body, 0).await {
                        Ok(_) => {}
                        Err(Fail::ClientGone) => {
                            return self.client_left(audit, "before the body was complete")
                        }
                        Err(Fail::Answer(GuardError::BodyTooLarge(_))) => {
                            return self
                                .refuse_body(audit, GuardError::BodyNotEmpty, &target, &head)
                                .await
                        }
                        Err(Fail::Answer(err)) => {
                            return self.refuse_body(audit, err, &target, &head).await
                        }
                    },
                }
                (Outgoing::None, None, None)
            } else {
                if self.send_continue(&head).await.is_err() {
                    return self.client_left(audit, "before sending the body");
                }
                match head.body {
                    BodyFraming::None | BodyFraming::UntilClose => (Outgoing::None, None, None),
                    BodyFraming::Length(n) => (Outgoing::Length(n), None, Some(head.body)),
                    BodyFraming::Chunked => (Outgoing::Chunked, None, Some(head.body)),
                }
            };

        // Phase 4: rewrite.
        self.out.clear();
        wire::write_forward_head(
            &mut self.out,
            &head,
            &target.forward_uri(),
            outgoing,
            upgrade,
        );
        if let Some(bytes) = &collected {
            self.out.extend_from_slice(bytes);
        }

        // Phase 5: forward, or take the answer of the identical read sent for this request's
        // group (the forwarded head is the group's key: the daemon could not tell them apart).
        let mut lead = None;
        if let Some(coalescer) = &self.state.coalescer {
            let shareable = collected.is_none()
                && streamed.is_none()
                && !upgrade
                && allowed
                    .endpoint
                    .is_some_and(|e| policies::share::shareable(&head.method, e));
            if shareable {
                let coalescer = coalescer.clone();
                match self.wait_for_group(&coalescer).await {
                    Some(Entry::Lead(l)) => lead = Some(l),
                    Some(Entry::Answer(answer)) => {
                        if rewrite.any() {
                            let close = head.close || *self.stop.borrow();
                            return self
                                .send_shared_redacted(&answer, close, audit, &rewrite)
                                .await;
                        }
                        return self.send_shared(&answer, &head, audit).await;
                    }
                    Some(Entry::Alone) => {}
                    None => {
                        audit.decision = "allow";
                        return self.client_left(audit, "while its read waited for its group");
                    }
                }
            }
        }
        let head_request = head.method == "HEAD";
        let resp = match self.round_trip(streamed, head_request).await {
            Ok(r) => r,
            Err(Fail::ClientGone) => {
                // The request (or part of it) reached the daemon: it is logged as allowed,
                // with no status, and the daemon connection is dropped so that a stream or a
                // partial body ends there too.
                drop(lead);
                self.daemon = None;
                audit.decision = "allow";
                return self.client_left(audit, "before the daemon answered");
            }
            Err(Fail::Answer(err)) => {
                // The group goes alone before this client is written to: it must not wait
                // on how fast this client reads.
                drop(lead);
                self.daemon = None;
                if matches!(err, GuardError::Upstream(_)) {
                    self.state.metrics.upstream_errors.inc();
                }
                let close = streamed.is_some() || matches!(err, GuardError::Framing(_));
                return self
                    .refuse(refusal(audit, err, &target), &head, close, false)
                    .await;
            }
        };

        // Phase 6: answer, bridging an upgrade after the daemon's 101. A group that nobody
        // joined has nothing to share: the one gathering behind it may go now.
        let lead = lead.filter(Lead::has_followers);
        audit.decision = "allow";
        audit.status = resp.status;
        if resp.status == 101 {
            drop(lead);
            // After a body cut short, what the client still sends is not the tunnel's.
            if !upgrade || self.body_unread {
                self.daemon = None;
                self.state.metrics.upstream_errors.inc();
                return self
                    .refuse(
                        refusal(audit, GuardError::UnexpectedUpgrade, &target),
                        &head,
                        true,
                        false,
                    )
                    .await;
            }
            return self.tunnel(resp, audit).await;
        }
        let close = head.close
            || head.upgrade.is_some()
            || resp.body == BodyFraming::UntilClose
            || self.body_unread
            || *self.stop.borrow();
        if !rewrite.any() || head_request {
            self.relay(resp, close, audit, lead).await
        } else if rewrite.is_stream() {
            drop(lead);
            self.relay_redacted_stream(resp, head.http10, close, audit, rewrite)
                .await
        } else {
            self.relay_redacted(resp, close, audit, lead, rewrite).await
        }
    }

    /// Joins the group of the request in `self.out` (see [`crate::coalesce`]) and waits for
    /// what it says, watching the client meanwhile as [`Conn::read_daemon`] does: `None` when
    /// the client left (a lead held while waiting is dropped with it, and its group goes alone).
    async fn wait_for_group(&mut self, coalescer: &Coalescer) -> Option<Entry> {
        let enter = coalescer.enter(&self.out);
        tokio::pin!(enter);
        loop {
            if self.backlog_full() {
                return None;
            }
            self.buf.reserve(1024);
            tokio::select! {
                biased;
                entry = &mut enter => return Some(entry),
                read = self.io.read_buf(&mut self.buf) => match read {
                    // Half-closed: a shared read is a finite answer, which the daemon would
                    // give a half-closed client in full.
                    Ok(0) => {
                        self.client_eof = true;
                        return tokio::time::timeout(HALF_CLOSED_WAIT, enter).await.ok();
                    }
                    Err(_) => return None,
                    Ok(_) => {}
                },
            }
        }
    }

    /// Relays the answer a group's request got to another member of the group.
    async fn send_shared(
        &mut self,
        answer: &SharedAnswer,
        head: &RequestHead,
        mut audit: Audit,
    ) -> Next {
        let close = head.close || head.upgrade.is_some() || *self.stop.borrow();
        self.start_answer(&answer.head, close);
        self.out.extend_from_slice(&answer.body);
        audit.decision = "allow";
        audit.status = answer.status;
        audit.reason.push_str("; shared answer");
        self.state.metrics.shared_answers.inc();
        let sent = self.io.write_all(&self.out).await;
        audit.finish(answer.body.len() as u64);
        if sent.is_err() || close {
            Next::Close
        } else {
            Next::KeepAlive
        }
    }

    /// Puts an answer's head in `self.out`: the daemon's status line and headers as relayed,
    /// `Connection: close` when this connection ends after it, and the empty line.
    fn start_answer(&mut self, head: &[u8], close: bool) {
        self.out.clear();
        self.out.extend_from_slice(head);
        if close {
            self.out.extend_from_slice(b"Connection: close\r\n");
        }
        self.out.extend_from_slice(b"\r\n");
    }

    /// Answers a request refused while its body was being read; the body may be half read,
    /// so the connection closes.
    async fn refuse_body(
        &mut self,
        audit: Audit,
        err: GuardError,
        target: &policies::path::Target,
        head: &RequestHead,
    ) -> Next {
        self.refuse(refusal(audit, err, target), head, true, false)
            .await
    }

    /// Sends `100 Continue` when the client waits for it before sending its body.
    async fn send_continue(&mut self, head: &RequestHead) -> std::io::Result<()> {
        if head.expect_continue && head.body != BodyFraming::None {
            self.io.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
        }
        Ok(())
    }

    /// Finishes the audit line of a request whose client went away (closed, or half-closed:
    /// an HTTP/1.1 client that stops sending is taken as gone, as the daemon's own server
    /// does); the connection ends.
    fn client_left(&mut self, mut audit: Audit, when: &str) -> Next {
        audit.reason = format!("{}; the client left {when}", audit.reason);
        audit.finish(0);
        Next::Close
    }

    /// Reads more client bytes; `Err` when the client is gone.
    async fn read_client(&mut self) -> Result<(), Fail> {
        self.buf.reserve(READ_SIZE);
        match self.io.read_buf(&mut self.buf).await {
            Ok(0) | Err(_) => Err(Fail::ClientGone),
            Ok(_) => Ok(()),
        }
    }

    /// Reads a whole body of at most `max` bytes for inspection, within [`BODY_TIMEOUT`].
    async fn collect_body(&mut self, framing: BodyFraming, max: usize) -> Result<Vec<u8>, Fail> {
        let read = async {
            match framing {
                BodyFraming::None | BodyFraming::UntilClose => Ok(Vec::new()),
                BodyFraming::Length(n) => {
                    if n > max as u64 {
                        return Err(Fail::Answer(GuardError::BodyTooLarge(max)));
                    }
                    let n = n as usize;
                    while self.buf.len() < n {
                        self.read_client().await?;
                    }
                    Ok(self.buf.split_to(n).to_vec())
                }
                BodyFraming::Chunked => {
                    let mut dec = ChunkDecoder::default();
                    let mut data = Vec::new();
                    loop {
                        let used = dec
                            .decode(&self.buf, Some(&mut data))
                            .map_err(|e| Fail::Answer(GuardError::Framing(e)))?;
                        self.buf.advance(used);
                        if data.len() > max {
                            return Err(Fail::Answer(GuardError::BodyTooLarge(max)));
                        }
                        if dec.is_done() {
                            return Ok(data);
                        }
                        self.read_client().await?;
                    }
                }
            }
        };
        let read = tokio::time::timeout(BODY_TIMEOUT, read)
            .await
            .unwrap_or(Err(Fail::Answer(GuardError::BodyTimeout)));
        if read.is_ok() {
            self.body_unread = false;
        }
        read
    }

    /// Skips the body of a refused request (up to [`DRAIN_MAX`]); `false` when the connection
    /// cannot go on.
    async fn drain(&mut self, framing: BodyFraming) -> bool {
        let skip = async {
            match framing {
                BodyFraming::None | BodyFraming::UntilClose => Ok(()),
                BodyFraming::Length(n) => {
                    let mut left = n as usize;
                    loop {
                        let k = left.min(self.buf.len());
                        self.buf.advance(k);
                        left -= k;
                        if left == 0 {
                            return Ok(());
                        }
                        self.read_client().await?;
                    }
                }
                BodyFraming::Chunked => {
                    let mut dec = ChunkDecoder::default();
                    let mut seen = 0u64;
                    loop {
                        let used = dec.decode(&self.buf, None).map_err(|_| Fail::ClientGone)?;
                        self.buf.advance(used);
                        seen += used as u64;
                        if dec.is_done() {
                            return Ok(());
                        }
                        if seen > DRAIN_MAX {
                            return Err(Fail::ClientGone);
                        }
                        self.read_client().await?;
                    }
                }
            }
        };
        let skipped = matches!(tokio::time::timeout(BODY_TIMEOUT, skip).await, Ok(Ok(())));
        if skipped {
            self.body_unread = false;
        }
        skipped
    }

    /// Sends the assembled request (and a streamed body) and reads the response head. A
    /// kept daemon connection that turns out closed is redialled once when nothing of the
    /// request was streamed.
    async fn round_trip(
        &mut self,
        streamed: Option<BodyFraming>,
        head_request: bool,
    ) -> Result<ResponseHead, Fail> {
        for attempt in 0..2 {
            let reused = self.daemon.is_some();
            let mut daemon = match self.daemon.take() {
                Some(d) => d,
                None => Daemon {
                    io: crate::upstream::dial(&self.state.socket)
                        .await
                        .map_err(|e| Fail::Answer(GuardError::Upstream(e)))?,
                    buf: BytesMut::new(),
                },
            };
            let may_retry = reused && attempt == 0 && streamed.is_none();
            if let Err(e) = daemon.io.write_all(&self.out).await {
                if may_retry {
                    continue;
                }
                return Err(upstream_err("sending the request", &e));
            }
            let mut cut = None;
            if let Some(framing) = streamed {
                cut = self.stream_body(&mut daemon, framing).await?;
            }
            match self.read_response_head(&mut daemon, head_request).await {
                Ok(Some(resp)) => {
                    self.daemon = Some(daemon);
                    return Ok(resp);
                }
                Ok(None) if may_retry => continue,
                Ok(None) => {
                    return Err(match cut.flatten() {
                        Some(e) => upstream_err("sending the request body", &e),
                        None => Fail::Answer(GuardError::Upstream(
                            "the daemon closed the connection without answering".to_owned(),
                        )),
                    })
                }
                Err(e) => return Err(e),
            }
        }
        Err(Fail::Answer(GuardError::Upstream(
            "the daemon closed the connection without answering".to_owned(),
        )))
    }

    /// Passes a streamed request body on as it arrives, checking its framing, and listening
    /// to the daemon, which may answer before it has read it all (a 404 for a container that
    /// does not exist, before a `PUT .../archive` body): `Ok(Some(err))` when the body was cut
    /// there, with the error of the write that failed, if one did.
    async fn stream_body(
        &mut self,
        daemon: &mut Daemon,
        framing: BodyFraming,
    ) -> Result<Option<Option<std::io::Error>>, Fail> {
        let sent = forward_body(
            &mut self.io,
            &mut self.buf,
            &mut daemon.io,
            &mut daemon.buf,
            framing,
        )
        .await;
        match sent {
            Ok(BodySent::Whole) => {
                self.body_unread = false;
                Ok(None)
            }
            Ok(BodySent::Cut(err)) => Ok(Some(err)),
            Err(BodyError::ClientGone) => Err(Fail::ClientGone),
            Err(BodyError::Framing(e)) => Err(Fail::Answer(GuardError::Framing(e))),
            // Not given a limit here; were it, the body would be too large.
            Err(BodyError::TooLarge(max)) => Err(Fail::Answer(GuardError::BodyTooLarge(
                usize::try_from(max).unwrap_or(usize::MAX),
            ))),
            // Not given an idle time here; were it, the exchange would be abandoned.
            Err(BodyError::Stalled(_)) => Err(Fail::ClientGone),
        }
    }

    /// Reads the daemon's response head, skipping interim (1xx but 101) answers. `Ok(None)`
    /// when the daemon closed before sending anything.
    async fn read_response_head(
        &mut self,
        daemon: &mut Daemon,
        head_request: bool,
    ) -> Result<Option<ResponseHead>, Fail> {
        let mut scanned = 0;
        let mut got_any = false;
        loop {
            if !daemon.buf.is_empty() {
                got_any = true;
                match find_head_end(&daemon.buf, scanned) {
                    Ok(Some(len)) => {
                        let parsed = wire::parse_response(&daemon.buf[..len], head_request);
                        daemon.buf.advance(len);
                        scanned = 0;
                        let resp = parsed.map_err(|e| {
                            Fail::Answer(GuardError::Upstream(format!("the daemon's answer: {e}")))
                        })?;
                        if (100..200).contains(&resp.status) && resp.status != 101 {
                            continue;
                        }
                        return Ok(Some(resp));
                    }
                    Ok(None) => scanned = daemon.buf.len().saturating_sub(3),
                    Err(e) => {
                        return Err(Fail::Answer(GuardError::Upstream(format!(
                            "the daemon's answer: {e}"
                        ))))
                    }
                }
            }
            if self.read_daemon(daemon).await? == 0 {
                // Told of a half-close, the daemon may end the exchange without a word, as it
                // does for its own clients: nobody is waiting (and nothing is retried).
                if self.client_eof && !got_any {
                    return Err(Fail::ClientGone);
                }
                return if got_any {
                    Err(Fail::Answer(GuardError::Upstream(
                        "the daemon closed the connection mid-answer".to_owned(),
                    )))
                } else {
                    Ok(None)
                };
            }
        }
    }

    /// Whether the client pipelined [`BACKLOG_MAX`] while an answer is pending (logged). Reading
    /// on would hold more than the bound; not reading would no longer notice the client
    /// leaving. Neither is acceptable: the connection ends.
    fn backlog_full(&self) -> bool {
        if self.buf.len() < BACKLOG_MAX {
            return false;
        }
        tracing::warn!(client = %self.client, backlog = self.buf.len(), "client sent more than the pipelining backlog while an answer was pending; closing");
        true
    }

    /// Reads more from the daemon (0 at its end) while watching the client: a client that
    /// leaves ends the exchange.
    async fn read_daemon(&mut self, daemon: &mut Daemon) -> Result<usize, Fail> {
        daemon.buf.reserve(READ_SIZE);
        loop {
            if self.backlog_full() {
                return Err(Fail::ClientGone);
            }
            // After a body cut short the client is still sending it: the answer is relayed
            // without reading on (the connection lingers after it).
            if self.body_unread {
                return daemon
                    .io
                    .read_buf(&mut daemon.buf)
                    .await
                    .map_err(|e| upstream_err("reading the answer", &e));
            }
            // A half-closed client cannot be told from one that closed: the daemon, told of
            // the half-close, answers or ends a stream at once; silence means nobody waits.
            if self.client_eof {
                return match tokio::time::timeout(
                    HALF_CLOSED_WAIT,
                    daemon.io.read_buf(&mut daemon.buf),
                )
                .await
                {
                    Ok(read) => read.map_err(|e| upstream_err("reading the answer", &e)),
                    Err(_) => Err(Fail::ClientGone),
                };
            }
            self.buf.reserve(1024);
            tokio::select! {
                biased;
                read = daemon.io.read_buf(&mut daemon.buf) => {
                    return read.map_err(|e| upstream_err("reading the answer", &e));
                }
                read = self.io.read_buf(&mut self.buf), if !self.client_eof => match read {
                    // The client half-closed: the daemon is told the same way, and answers
                    // as it answers its own clients (a finite answer in full, a stream ends).
                    Ok(0) => {
                        self.client_eof = true;
                        let _ = daemon.io.shutdown().await;
                    }
                    Err(_) => return Err(Fail::ClientGone),
                    Ok(_) => {}
                },
            }
        }
    }

    /// Relays a response: its head (with `Connection: close` when the connection ends after
    /// it) and its body by its framing, as the daemon sends it. A group's lead first reads
    /// the daemon's whole answer and shares it ([`Conn::read_for_group`]).
    async fn relay(
        &mut self,
        resp: ResponseHead,
        close: bool,
        mut audit: Audit,
        lead: Option<Lead>,
    ) -> Next {
        let mut daemon = match self.daemon.take() {
            Some(d) => d,
            None => return Next::Close,
        };
        if let Some(lead) = lead {
            self.read_for_group(&mut daemon, &resp, lead).await;
        }
        self.start_answer(&resp.head, close);
        let mut body = BodyLeft::new(resp.body);
        let mut bytes = 0u64;
        let mut first = true;
        let complete = loop {
            let (take, done) = match body.take(&daemon.buf, None) {
                Ok(t) => t,
                Err(e) if first => {
                    // Nothing is written yet: the client gets a 502, not a cut connection.
                    self.state.metrics.upstream_errors.inc();
                    let path = audit.path.clone();
                    let err = GuardError::Upstream(format!("the daemon's answer: {e}"));
                    let mut refusal = Refusal { audit, err, path };
                    let _ = self.answer(&mut refusal, false, true).await;
                    refusal.audit.finish(0);
                    return Next::Close;
                }
                Err(_) => break false,
            };
            bytes += take as u64;
            if !done {
                // Counted before the client can see the first bytes of a stream.
                audit.open_stream();
            }
            let written = if first {
                self.out.extend_from_slice(&daemon.buf[..take]);
                first = false;
                self.io.write_all(&self.out).await
            } else {
                self.io.write_all(&daemon.buf[..take]).await
            };
            daemon.buf.advance(take);
            if written.is_err() {
                break false;
            }
            if done {
                break true;
            }
            match self.read_daemon(&mut daemon).await {
                Ok(0) if body.until_close() => break true,
                Ok(0) | Err(_) => break false,
                Ok(_) => {}
            }
        };
        audit.finish(bytes);
        // A daemon connection whose request body was cut short (the daemon answered first) is
        // not reused: the daemon drops the rest or closes.
        if complete
            && !resp.close
            && !body.until_close()
            && daemon.buf.is_empty()
            && !self.body_unread
        {
            self.daemon = Some(daemon);
        }
        if complete && !close {
            Next::KeepAlive
        } else {
            Next::Close
        }
    }

    /// Reads a group lead's whole answer into the daemon buffer before any of it is written,
    /// and shares it: the group must not wait on how fast this one client reads. An answer
    /// over [`SHARE_MAX`], one framed by the connection's end, or one that cannot be read
    /// whole is not shared (the lead is dropped: every member sends its own request), and is
    /// relayed from what was read as any answer is.
    async fn read_for_group(&mut self, daemon: &mut Daemon, resp: &ResponseHead, lead: Lead) {
        match resp.body {
            BodyFraming::UntilClose => return,
            BodyFraming::Length(n) if n > SHARE_MAX as u64 => return,
            _ => {}
        }
        let mut probe = BodyLeft::new(resp.body);
        let mut scanned = 0;
        loop {
            let Ok((take, done)) = probe.take(&daemon.buf[scanned..], None) else {
                return;
            };
            scanned += take;
            if done && scanned <= SHARE_MAX {
                lead.share(SharedAnswer {
                    status: resp.status,
                    head: resp.head.clone(),
                    framing: resp.body,
                    body: daemon.buf[..scanned].to_vec(),
                });
                return;
            }
            if done
                || scanned > SHARE_MAX
                || !matches!(self.read_daemon(daemon).await, Ok(n) if n > 0)
            {
                return;
            }
        }
    }

    /// After the daemon's 101: pass its head on, then bytes both ways until both sides end,
    /// each half-close passed on (the docker CLI closes its write side when stdin ends and
    /// still expects all output).
    async fn tunnel(&mut self, resp: ResponseHead, audit: Audit) -> Next {
        let Some(mut daemon) = self.daemon.take() else {
            return Next::Close;
        };
        let name = audit.endpoint;
        self.out.clear();
        self.out.extend_from_slice(&resp.head);
        self.out.extend_from_slice(b"\r\n");
        self.out.extend_from_slice(&daemon.buf);
        daemon.buf.clear();
        let sent = self.io.write_all(&self.out).await;
        audit.finish(0);
        if sent.is_err() {
            return Next::Close;
        }
        if !self.buf.is_empty() {
            if daemon.io.write_all(&self.buf).await.is_err() {
                return Next::Close;
            }
            self.buf.clear();
        }
        let metrics = self.state.metrics.clone();
        metrics.open_streams.inc();
        match tokio::io::copy_bidirectional(&mut self.io, &mut daemon.io).await {
            Ok((up, down)) => {
                tracing::info!(target: "audit", endpoint = name, client_bytes = up, daemon_bytes = down, "tunnel closed")
            }
            Err(e) => tracing::debug!(endpoint = name, error = %e, "tunnel ended with an error"),
        }
        metrics.open_streams.dec();
        Next::Close
    }
}

fn refusal(audit: Audit, err: GuardError, target: &policies::path::Target) -> Refusal {
    Refusal {
        audit,
        err,
        path: target.path().to_owned(),
    }
}

fn upstream_err(what: &str, e: &std::io::Error) -> Fail {
    Fail::Answer(GuardError::Upstream(format!("{what}: {e}")))
}
