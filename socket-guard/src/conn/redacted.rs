//! Relaying an answer whose secrets are taken out ([`crate::redaction`]): a whole answer is
//! read, redacted and sent with its new length; a stream is rewritten line by line. An answer
//! that cannot be redacted is never passed on: before anything is written the client gets a
//! 502, after (a stream) its connection is cut.

use bytes::Buf;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::{Conn, Next, Refusal};
use crate::audit::Audit;
use crate::coalesce::{Lead, SharedAnswer};
use crate::error::GuardError;
use crate::framing::BodyLeft;
use crate::redaction::{self, Lines, Rewrite, ScopeAnswer, REDACT_MAX};
use crate::wire::ResponseHead;

/// Says in the audit line how the answer was rewritten.
fn note(audit: &mut Audit, rewrite: &Rewrite) {
    if rewrite.scope.is_some() {
        audit.reason.push_str("; scoped");
    }
    if rewrite.redact.is_some() {
        audit.reason.push_str("; redacted");
    }
}

impl<S> Conn<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    /// Answers with a 502 and closes: the daemon's answer could not be rewritten.
    async fn unredactable(&mut self, audit: Audit, why: String) -> Next {
        self.state.metrics.upstream_errors.inc();
        tracing::warn!(client = %self.client, path = %audit.path, error = %why, "answer not passed on: it cannot be redacted");
        let path = audit.path.clone();
        let err = GuardError::Upstream(format!("the daemon's answer cannot be redacted: {why}"));
        let mut refusal = Refusal { audit, err, path };
        let _ = self.answer(&mut refusal, false, true).await;
        refusal.audit.finish(0);
        Next::Close
    }

    /// A whole answer: read to its end (sharing it with the group first, as the daemon sent
    /// it), redacted, sent with its length.
    pub(super) async fn relay_redacted(
        &mut self,
        resp: ResponseHead,
        close: bool,
        audit: Audit,
        lead: Option<Lead>,
        rewrite: Rewrite,
    ) -> Next {
        let Some(mut daemon) = self.daemon.take() else {
            return Next::Close;
        };
        if let Some(lead) = lead {
            self.read_for_group(&mut daemon, &resp, lead).await;
        }
        let mut left = BodyLeft::new(resp.body);
        let mut data = Vec::new();
        let complete = loop {
            let (take, done) = match left.take(&daemon.buf, Some(&mut data)) {
                Ok(t) => t,
                Err(e) => return self.unredactable(audit, e.to_string()).await,
            };
            daemon.buf.advance(take);
            if done {
                break true;
            }
            if data.len() > REDACT_MAX {
                return self
                    .unredactable(audit, format!("larger than {REDACT_MAX} bytes"))
                    .await;
            }
            match self.read_daemon(&mut daemon).await {
                Ok(0) if left.until_close() => break false,
                Ok(0) => return self.unredactable(audit, "cut short".into()).await,
                Ok(_) => {}
                Err(_) => {
                    return self.client_left(audit, "before the answer to redact was complete")
                }
            }
        };
        if complete && !resp.close && daemon.buf.is_empty() && !self.body_unread {
            self.daemon = Some(daemon);
        }
        self.send_redacted(&resp.head, resp.status, data, close, audit, &rewrite)
            .await
    }

    /// A group's shared answer (kept as the daemon framed it), redacted for this client.
    pub(super) async fn send_shared_redacted(
        &mut self,
        answer: &SharedAnswer,
        close: bool,
        mut audit: Audit,
        rewrite: &Rewrite,
    ) -> Next {
        let data = match redaction::decode_whole(answer.framing, &answer.body) {
            Ok(d) => d,
            Err(e) => return self.unredactable(audit, e.to_string()).await,
        };
        audit.reason.push_str("; shared answer");
        self.state.metrics.shared_answers.inc();
        self.send_redacted(&answer.head, answer.status, data, close, audit, rewrite)
            .await
    }

    async fn send_redacted(
        &mut self,
        head: &[u8],
        status: u16,
        data: Vec<u8>,
        close: bool,
        mut audit: Audit,
        rewrite: &Rewrite,
    ) -> Next {
        let policy = self.policy.clone();
        let scope = policy.scope();
        let body = match self.state.memo.rewrite(rewrite, scope, status, data) {
            Ok(b) => b,
            Err(e) => return self.unredactable(audit, e).await,
        };
        audit.decision = "allow";
        audit.status = status;
        note(&mut audit, rewrite);
        let head = redaction::head_with_length(head, body.len());
        self.start_answer(&head, close);
        self.out.extend_from_slice(&body);
        let sent = self.io.write_all(&self.out).await;
        audit.finish(body.len() as u64);
        if sent.is_err() || close {
            Next::Close
        } else {
            Next::KeepAlive
        }
    }

    /// A stream of JSON lines: each batch of complete lines the daemon sends goes on at once,
    /// redacted, as one chunk (to an HTTP/1.0 client, as it is, until the connection closes).
    pub(super) async fn relay_redacted_stream(
        &mut self,
        resp: ResponseHead,
        http10: bool,
        close: bool,
        mut audit: Audit,
        rewrite: Rewrite,
    ) -> Next {
        let Some(mut daemon) = self.daemon.take() else {
            return Next::Close;
        };
        let chunked = !http10;
        let head = redaction::head_for_stream(&resp.head, chunked);
        // Without chunks the connection's end is the body's.
        self.start_answer(&head, !chunked);
        note(&mut audit, &rewrite);
        audit.open_stream();
        if self.io.write_all(&self.out).await.is_err() {
            audit.finish(0);
            return Next::Close;
        }
        let mut left = BodyLeft::new(resp.body);
        let scope = match &rewrite.scope {
            Some(ScopeAnswer::Events(services)) => Some(
                self.state
                    .config
                    .policy
                    .scope()
                    .clone()
                    .with_services(services.clone()),
            ),
            _ => None,
        };
        let mut lines = Lines::new(rewrite.redact, scope);
        let frame = redaction::Frame { chunked };
        // A chunked answer is decoded into `data`; any other is read where it lies.
        let decode = resp.body == crate::framing::BodyFraming::Chunked;
        let mut bytes = 0u64;
        let mut data = Vec::new();
        let mut out = Vec::new();
        let complete = loop {
            data.clear();
            out.clear();
            let (take, done) = match left.take(&daemon.buf, decode.then_some(&mut data)) {
                Ok(t) => t,
                Err(_) => break false,
            };
            let body: &[u8] = if decode { &data } else { &daemon.buf[..take] };
            let mark = frame.begin(&mut out);
            let fed = lines.feed(body, &mut out).and_then(|()| {
                if done {
                    lines.finish(&mut out)
                } else {
                    Ok(())
                }
            });
            daemon.buf.advance(take);
            if fed.is_err() {
                break false;
            }
            bytes += frame.end(&mut out, mark, done) as u64;
            if !out.is_empty() && self.io.write_all(&out).await.is_err() {
                break false;
            }
            if done {
                break true;
            }
            match self.read_daemon(&mut daemon).await {
                Ok(0) if left.until_close() => {
                    out.clear();
                    let mark = frame.begin(&mut out);
                    let ended = lines.finish(&mut out).is_ok();
                    bytes += frame.end(&mut out, mark, true) as u64;
                    break ended && self.io.write_all(&out).await.is_ok();
                }
                Ok(0) | Err(_) => break false,
                Ok(_) => {}
            }
        };
        audit.finish(bytes);
        if complete && chunked && !resp.close && !left.until_close() && daemon.buf.is_empty() {
            self.daemon = Some(daemon);
        }
        if complete && chunked && !resp.close && !close {
            Next::KeepAlive
        } else {
            Next::Close
        }
    }
}
