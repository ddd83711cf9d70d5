//! One HTTP/1.1 client connection, on the raw bytes: read a head, route it, forward it on a
//! kept backend connection, relay the answer by its framing, repeat.
//!
//! A general-purpose server and client cost more CPU per request than the proxying itself
//! (a body channel, a dispatcher task and buffered writes on each side), so an HTTP/1.1
//! client connection is served by one task that owns its socket, the backend connections it
//! keeps ([`crate::upstream::Kept`]) and two reusable buffers. A proxied request costs a parse,
//! the routing decision, one write to the backend and, for a short answer, one write to the
//! client. Every message's framing is followed exactly (`http1-framing`), so keep-alive and
//! pipelining stay in step on both sides and nothing ambiguous is forwarded. Routing, the
//! middlewares and the header rewriting are [`crate::proxy`]'s, shared with HTTP/2.
//!
//! Answers go back in request order by construction: the next head is not looked at before
//! the previous answer is complete. While a backend works, the client side is still read (up
//! to a bound), so a client that leaves is noticed and the backend connection dropped.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};
use http1_framing::io::{
    forward_body_watched, linger, read_body, read_body_within, read_head, BodyError, BodySent,
    HeadRead, SHUTDOWN_WAIT,
};
use http1_framing::{BodyFraming, BodyLeft, FramingError, MAX_HEAD};
use hyper::header;
use hyper::{Method, StatusCode};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::watch;

use crate::live::InFlight;
use crate::proxy::{self, Answer, Inbound, Log, Plan, Planned, ProxyError};
use crate::server::Shared;
use crate::upstream::{BackendConn, Kept, SendError};
use crate::wire::{self, HeadError, Outgoing, RequestHead, ResponseHead};

mod h2c;
use h2c::H2cAnswer;

/// How much is asked of a socket per read.
const READ_SIZE: usize = 16 * 1024;

/// How long a kept-alive client connection may wait for its next request before it is
/// parked ([`Conn::park`]): long enough that a client sending requests back to back never
/// pays for it, short enough that idle clients hold no backend connection and no buffer.
const PARK_AFTER: std::time::Duration = std::time::Duration::from_millis(200);

/// How much pipelined input is held while an answer is pending; a client that sends more
/// than this meanwhile has its connection closed.
const BACKLOG_MAX: usize = 2 * MAX_HEAD;

/// Where a client connection is served.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The entry point's name.
    pub entrypoint: &'static str,
    /// `http`, or `https` for a TLS connection.
    pub scheme: &'static str,
    /// The client (the one a trusted PROXY protocol header names).
    pub peer: SocketAddr,
    /// Whether the client's `X-Forwarded-*` headers are kept (`forwardedHeaders`).
    pub trusted: bool,
    /// The entry point's settings.
    pub ep: Arc<crate::config::EntryPoint>,
    /// The TLS options the handshake used (empty for plain HTTP).
    pub tls_options: Arc<str>,
    /// The certificates a mutual-TLS client presented (leaf first).
    pub client_certs: Option<Arc<[rustls::pki_types::CertificateDer<'static>]>>,
}

/// Whether the connection goes on after an exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    KeepAlive,
    Close,
}

/// Most tries of a request whose backends' hosts went silent (connects or answers that timed
/// out): a lost node takes all its tasks at once.
pub(crate) const SILENT_TRIES: u32 = 3;

/// Why an exchange could not complete.
#[derive(Debug)]
enum Fail {
    /// The client went away: nothing more to say to it.
    ClientGone,
    /// The router answers this (the client is still there).
    Answer(ProxyError),
}

/// One try of a request at a backend.
struct Try {
    /// Tries so far, this one included.
    attempts: u32,
    /// When the first began.
    started: Instant,
}

impl Try {
    /// The backend could not be connected to (`detail`; nothing of the request was sent):
    /// marks it, and says whether the request goes again (elsewhere), `Ok` with the answer
    /// it would have had (should no server be left), else `Err` with that answer: as the
    /// `retry` middleware says, else to another backend while one is usable (up to 3 tries),
    /// and once more when the connection was refused (`first`: none was tried before). Any
    /// request may go again here, one with a body too: nothing of it was read or sent (as
    /// Traefik's `retry` retries while the proxy did not reach a server).
    async fn unreached(
        &self,
        shared: &Shared,
        plan: &proxy::Plan,
        backend: &crate::live::LiveBackend,
        first: bool,
        timed_out: bool,
        detail: String,
    ) -> Result<ProxyError, ProxyError> {
        let answer = match timed_out {
            true => {
                shared.registry.mark_silent(&backend.state);
                ProxyError::GatewayTimeout
            }
            false => {
                shared.registry.mark_down(&backend.state);
                ProxyError::BadGateway(detail)
            }
        };
        // While another server is usable, up to 3 tries: the tasks of a node that went away
        // all fail at once (timing out, or unreachable once its overlay peers are gone). A
        // refused connection is also tried again once when no other server is usable.
        let elsewhere =
            self.attempts < SILENT_TRIES && plan.another_usable(shared, &backend.def.url);
        let again = elsewhere || (!timed_out && first);
        let retry = plan
            .try_again(true, self.attempts, self.started, None)
            .await;
        match retry || again {
            true => Ok(answer),
            false => Err(answer),
        }
    }
}

/// What [`Conn::send`] did with the backend's answer.
enum Sent {
    /// Relayed: its status, and whether the connection goes on.
    Relayed(u16, Next),
    /// Not relayed: an `errors` middleware replaces an answer of this status.
    Caught(u16),
}

impl From<ProxyError> for Fail {
    fn from(e: ProxyError) -> Fail {
        Fail::Answer(e)
    }
}

/// How an attempt on one backend connection failed.
enum Attempt {
    ClientGone,
    /// The client's body was malformed.
    Client(String),
    /// The client's body passed `buffering.maxRequestBodyBytes` (the backend has an
    /// incomplete request: its connection is dropped).
    TooLarge,
    /// What happened, and whether the backend closed before answering anything.
    Backend(String, bool),
    /// The backend's host went silent before answering: what was sent stayed unacknowledged,
    /// or keepalive probes went unanswered ([`crate::upstream::PEER_SILENT`]).
    Silent(String),
    /// No answer within the response timeout once the request was sent, or the request's
    /// body stopped moving for that long.
    TimedOut,
}

/// Serves one HTTP/1.1 client connection until it closes, errs, or shutdown is asked
/// between requests.
pub async fn serve<S>(io: S, at: Endpoint, shared: Arc<Shared>, stop: watch::Receiver<bool>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    // A client that takes nothing of its answer for the idle timeout is cut.
    let io = crate::send_watch::SendWatch::new(io, at.ep.idle_timeout);
    let mut conn = Conn {
        io,
        buf: BytesMut::new(),
        out: Vec::new(),
        kept: Kept::new(shared.idle.clone()),
        body_unread: false,
        continued: false,
        body_sent: 0,
        head_sent: false,
        buffered: None,
        served: 0,
        opened: Instant::now(),
        tunneled: Arc::default(),
        client: proxy::client_text(at.peer).into(),
        shared,
        at,
        stop,
    };
    while conn.next().await == Next::KeepAlive {}
    if conn.body_unread {
        linger(&mut conn.io, &mut conn.stop).await;
    } else {
        let _ = tokio::time::timeout(SHUTDOWN_WAIT, conn.io.shutdown()).await;
    }
}

/// The client's request body for a middleware that asks for it whole
/// ([`crate::middleware::Body`]): read from the connection once, then kept for the backend.
struct ClientBody<'c, S> {
    io: &'c mut S,
    buf: &'c mut BytesMut,
    head: &'c RequestHead,
    unread: &'c mut bool,
    /// `100 Continue` was sent for this request.
    continued: &'c mut bool,
    read: &'c mut Option<Bytes>,
    /// How long the client may pause (the entry point's read timeout).
    idle: std::time::Duration,
}

impl<S> ClientBody<'_, S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    /// `100 Continue` to a client that waits for it before sending its body (once: the
    /// backend's leg does not ask again).
    async fn send_continue(&mut self) -> Result<(), BodyError> {
        if !self.head.expect_continue || self.head.http10 || *self.continued {
            return Ok(());
        }
        *self.continued = true;
        self.io
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .await
            .map_err(|_| BodyError::ClientGone)
    }

    /// The body, read whole: kept for the backend (and later askers).
    fn keep(&mut self, b: Bytes) -> Bytes {
        *self.unread = false;
        *self.read = Some(b.clone());
        b
    }
}

impl<S> crate::middleware::Body for ClientBody<'_, S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    fn read_all(&mut self, limit: u64) -> crate::middleware::BodyFuture<'_> {
        Box::pin(async move {
            if let Some(b) = self.read.as_ref() {
                return crate::middleware::again(b, limit);
            }
            if self.head.upgrade || !*self.unread {
                return Ok(Bytes::new());
            }
            // Within the limit by its declared length: the client may send it.
            if matches!(self.head.body, BodyFraming::Length(n) if n > limit) {
                return Err(BodyError::TooLarge(limit));
            }
            self.send_continue().await?;
            let b =
                Bytes::from(read_body(self.io, self.buf, self.head.body, limit, self.idle).await?);
            Ok(self.keep(b))
        })
    }

    fn read_within(&mut self, limit: u64) -> crate::middleware::BodyWithinFuture<'_> {
        Box::pin(async move {
            if let Some(b) = self.read.as_ref() {
                return Ok((b.len() as u64 <= limit).then(|| b.clone()));
            }
            if self.head.upgrade || !*self.unread {
                return Ok(Some(Bytes::new()));
            }
            if matches!(self.head.body, BodyFraming::Length(n) if n > limit) {
                return Ok(None);
            }
            self.send_continue().await?;
            let read =
                read_body_within(self.io, self.buf, self.head.body, limit, self.idle).await?;
            // Over the limit, what was read of it is still in `buf`, to be relayed as it came.
            Ok(read.map(|b| self.keep(Bytes::from(b))))
        })
    }

    fn declared(&self) -> Option<u64> {
        match (self.read.as_ref(), self.head.body) {
            (Some(b), _) => Some(b.len() as u64),
            (None, BodyFraming::Length(n)) => Some(n),
            (None, BodyFraming::None) => Some(0),
            (None, _) => None,
        }
    }
}

struct Conn<S> {
    io: S,
    /// Client bytes not consumed yet.
    buf: BytesMut,
    /// Heads and short answers are assembled here and written at once.
    out: Vec<u8>,
    /// Requests read so far on this connection.
    served: u32,
    /// When the connection was accepted (`keepAliveMaxTime`).
    opened: Instant,
    /// The current exchange became a tunnel (an upgrade): `writeTimeout` no longer applies,
    /// as Go clears a hijacked connection's deadlines.
    tunneled: Arc<std::sync::atomic::AtomicBool>,
    kept: Kept,
    /// The current request's body has not been read to its end.
    body_unread: bool,
    /// `100 Continue` was sent for the current request.
    continued: bool,
    /// Bytes of the current answer's body written to the client (the access log's
    /// `DownstreamContentSize`).
    body_sent: u64,
    /// The last try's request head went out whole: a network error after it is not tried
    /// again by `retry` (as Traefik's, which retries only what reached no backend).
    head_sent: bool,
    /// The current request's body, when a middleware read it whole (it is sent from here).
    buffered: Option<Bytes>,
    /// The client's IP address as forwarded.
    client: Arc<str>,
    shared: Arc<Shared>,
    at: Endpoint,
    stop: watch::Receiver<bool>,
}

impl<S> Conn<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    /// One exchange: a head, its answer.
    async fn next(&mut self) -> Next {
        if *self.stop.borrow() {
            return Next::Close;
        }
        let len = match self.read_head().await {
            HeadRead::Complete(len) => len,
            HeadRead::Closed => return Next::Close,
            HeadRead::TimedOut => {
                if !self.buf.is_empty() {
                    self.refuse_head(ProxyError::HeadTimeout).await;
                }
                return Next::Close;
            }
            HeadRead::Refused(FramingError::HeadTooLarge) => {
                self.refuse_head(ProxyError::HeadTooLarge).await;
                return Next::Close;
            }
            HeadRead::Refused(e) => {
                self.refuse_head(ProxyError::BadRequest(e.to_string()))
                    .await;
                return Next::Close;
            }
        };
        let start = Instant::now();
        let parsed = wire::parse_request(&self.buf.split_to(len).freeze());
        match parsed {
            // Boxed: the exchange's state (the largest part of a connection's) is held only
            // while a request is served, not while the connection waits for the next one.
            // Each request moves it into a new box: what a request rarely needs (a new
            // connection's TLS handshake, a forwardAuth check, h2c, a tunnel, compression,
            // error pages) is boxed where it is awaited, so that this copy stays small (3.8
            // KB, from 6.1: `RUSTC_BOOTSTRAP=1 cargo rustc --release -p router --lib --
            // -Zprint-type-sizes`).
            Ok(mut head) => {
                // `keepAliveMaxRequests`, `keepAliveMaxTime`: this answer closes the
                // connection (`Connection: close`), as Traefik's keep-alive middleware.
                let ep = &self.at.ep;
                if (ep.keep_alive_max_requests > 0
                    && u64::from(self.served) >= ep.keep_alive_max_requests)
                    || (!ep.keep_alive_max_time.is_zero()
                        && self.opened.elapsed() > ep.keep_alive_max_time)
                {
                    head.close = true;
                }
                let write_timeout = ep.write_timeout;
                if write_timeout.is_zero() {
                    return Box::pin(self.exchange(head, start)).await;
                }
                self.within_write_timeout(head, start, write_timeout).await
            }
            Err(HeadError::Expectation(e)) => {
                self.refuse_head(ProxyError::ExpectationFailed(e.to_string()))
                    .await;
                Next::Close
            }
            Err(e) => {
                self.refuse_head(ProxyError::BadRequest(e.to_string()))
                    .await;
                Next::Close
            }
        }
    }

    /// An exchange under `writeTimeout`, as Go's server sets a write deadline once a request's
    /// head is read: an answer not complete by then ends with the connection closed (a tunnel
    /// after an upgrade is not cut).
    async fn within_write_timeout(
        &mut self,
        head: RequestHead,
        start: Instant,
        limit: std::time::Duration,
    ) -> Next {
        use std::sync::atomic::Ordering;
        let tunneled = self.tunneled.clone();
        tunneled.store(false, Ordering::Relaxed);
        let deadline = tokio::time::sleep(limit);
        tokio::pin!(deadline);
        let exchange = Box::pin(self.exchange(head, start));
        tokio::pin!(exchange);
        let mut armed = true;
        loop {
            tokio::select! {
                next = &mut exchange => return next,
                () = &mut deadline, if armed => {
                    if !tunneled.load(Ordering::Relaxed) {
                        tracing::debug!("answer not complete within writeTimeout: connection closed");
                        return Next::Close;
                    }
                    armed = false;
                }
            }
        }
    }

    /// Waits for a complete head (within the entry point's header timeout for the first
    /// request, its idle timeout for the next ones on a kept-alive connection); refuses a bare
    /// LF or an oversized head as soon as seen.
    ///
    /// A kept-alive connection that stays idle for [`PARK_AFTER`] is parked: its backend
    /// connections go to the shared pool and its buffers are freed until the client speaks.
    async fn read_head(&mut self) -> HeadRead {
        let wait = if self.served == 0 {
            self.at.ep.header_timeout
        } else {
            self.at.ep.idle_timeout
        };
        self.served += 1;
        let now = tokio::time::Instant::now();
        let deadline = now + wait;
        let max = self.at.ep.max_header_bytes;
        if self.served > 1 && self.buf.is_empty() && wait > PARK_AFTER {
            let park = now + PARK_AFTER;
            match read_head(&mut self.io, &mut self.buf, max, park, &mut self.stop).await {
                HeadRead::TimedOut if self.buf.is_empty() => {
                    if let Some(closed) = self.park(deadline).await {
                        return closed;
                    }
                }
                HeadRead::TimedOut => {}
                done => return done,
            }
        }
        read_head(&mut self.io, &mut self.buf, max, deadline, &mut self.stop).await
    }

    /// Parks an idle kept-alive connection until its client's next bytes arrive (they are then
    /// in the buffer), or returns how the wait ended without any.
    async fn park(&mut self, deadline: tokio::time::Instant) -> Option<HeadRead> {
        self.kept.release();
        self.buf = BytesMut::new();
        self.out = Vec::new();
        let mut first = [0u8; 512];
        tokio::select! {
            biased;
            read = self.io.read(&mut first) => match read {
                Ok(0) | Err(_) => Some(HeadRead::Closed),
                Ok(n) => {
                    self.buf.extend_from_slice(&first[..n]);
                    None
                }
            },
            () = tokio::time::sleep_until(deadline) => Some(HeadRead::TimedOut),
            _ = self.stop.changed() => Some(HeadRead::Closed),
        }
    }

    /// A head that cannot be served: its status page, and the connection closes.
    async fn refuse_head(&mut self, err: ProxyError) {
        // A client whose head is refused may be sending a body after it; one too slow to
        // send a head gets no more time.
        self.body_unread = !matches!(err, ProxyError::HeadTimeout);
        tracing::debug!(client = %self.at.peer, error = %err, detail = ?err, "refused request head");
        let answer = proxy::plain(err.status(), &err.to_string());
        let _ = self.write_answer(&answer, false, true).await;
    }

    /// Writes one of the router's own answers.
    async fn write_answer(&mut self, a: &Answer, head: bool, close: bool) -> std::io::Result<()> {
        self.out.clear();
        if !head {
            self.body_sent = a.body.len() as u64;
        }
        wire::write_response_head(
            &mut self.out,
            a.status,
            &a.headers,
            Outgoing::Length(a.body.len() as u64),
            close,
        );
        if !head {
            self.out.extend_from_slice(&a.body);
        }
        self.io.write_all(&self.out).await
    }

    /// One request: plan, forward, answer, record.
    async fn exchange(&mut self, mut head: RequestHead, start: Instant) -> Next {
        let host = proxy::request_host(&head.host);
        // What Traefik's access log keeps of the request, before it moves on.
        let received = match head.body {
            BodyFraming::Length(n) => n,
            _ => 0,
        };
        let asked = self.shared.config.traefik_access_log.as_ref().map(|_| {
            let protocol = if head.http10 { "HTTP/1.0" } else { "HTTP/1.1" };
            Box::new(crate::access_log::Asked::new(
                head.method.as_str(),
                &head.target,
                protocol,
                &head.host,
                &head.headers,
                self.at.trusted,
                received,
            ))
        });
        let mut headers = std::mem::take(&mut head.headers);
        let client = self.client.clone();
        let ep = self.at.ep.clone();
        let tls_options = self.at.tls_options.clone();
        let client_certs = self.at.client_certs.clone();
        // The entry point's pipeline (`http.underscoreHeadersStrategy`, the path's checks and
        // clean-up, the query's `;`): what routing, the middlewares and the backend see.
        let prepared =
            crate::entry_http::prepare(&ep.http, head.path(), head.query(), &mut headers);
        let req = Inbound {
            entrypoint: self.at.entrypoint,
            scheme: self.at.scheme,
            peer: self.at.peer,
            trusted: self.at.trusted,
            tls_options: &tls_options,
            client_certs: client_certs.as_deref(),
            ep: &ep,
            client: &client,
            host: &host,
            method: &head.method,
            path: prepared.as_ref().map_or(head.path(), |p| &p.path),
            query: match &prepared {
                Ok(p) => p.query.as_deref(),
                Err(_) => head.query(),
            },
            has_body: head.body != BodyFraming::None,
        };
        self.body_unread = head.body != BodyFraming::None;
        self.continued = false;
        self.buffered = None;
        self.body_sent = 0;
        let mut log = Log {
            asked,
            received,
            ..Log::default()
        };
        if self.shared.metrics.traefik.is_some() {
            log.protocol = crate::metrics_traefik::protocol(&headers);
        }
        let shared = self.shared.clone();
        let outcome = match &prepared {
            Ok(_) => {
                self.forward(&shared, &req, &head, &mut headers, &mut log)
                    .await
            }
            Err(why) => Err(Fail::Answer(ProxyError::BadRequest(why.reason().into()))),
        };
        let (status, next) = match outcome {
            Ok(done) => done,
            Err(Fail::ClientGone) => {
                tracing::debug!(client = %self.at.peer, router = %log.router, "client left before the answer was complete");
                return Next::Close;
            }
            Err(Fail::Answer(e)) => {
                let answer = e.answer(&log);
                // A body left unread (or half read) cannot be skipped reliably: close.
                let close = head.close || head.http10 || head.upgrade || self.body_unread;
                let sent = self
                    .write_answer(&answer, head.method == Method::HEAD, close)
                    .await;
                let next = if sent.is_ok() && !close {
                    Next::KeepAlive
                } else {
                    Next::Close
                };
                self.body_sent = answer.body.len() as u64;
                (answer.status.as_u16(), next)
            }
        };
        log.sent = self.body_sent;
        proxy::record(&shared, &req, &log, status, start);
        crate::mirror::dispatch(&shared, &mut log);
        if *self.stop.borrow() {
            return Next::Close;
        }
        next
    }

    /// Routes and forwards a request, with a retry when that is safe, and relays the answer.
    /// `Ok`: the status sent and whether the connection goes on.
    async fn forward(
        &mut self,
        shared: &Shared,
        req: &Inbound<'_>,
        head: &RequestHead,
        headers: &mut hyper::HeaderMap,
        log: &mut Log,
    ) -> Result<(u16, Next), Fail> {
        let mut body = ClientBody {
            io: &mut self.io,
            buf: &mut self.buf,
            head,
            unread: &mut self.body_unread,
            continued: &mut self.continued,
            read: &mut self.buffered,
            idle: self.at.ep.header_timeout,
        };
        let kept = Some(&mut self.kept);
        let plan = match proxy::plan_kept(shared, req, headers, log, &mut body, kept).await? {
            Planned::Forward(p) => p,
            Planned::Answer(a) => return self.answer(&a, head).await,
        };
        // The request's headers, for an `errors` page's request (only kept when there may be one).
        let asked = (!plan.fx.error_pages.is_empty()).then(|| headers.clone());
        let outcome = self.send(shared, req, head, headers, log, &plan).await;
        let status = match &outcome {
            Ok(Sent::Relayed(status, next)) => return Ok((*status, *next)),
            Ok(Sent::Caught(status)) => *status,
            Err(Fail::Answer(e)) => e.status().as_u16(),
            Err(Fail::ClientGone) => return Err(Fail::ClientGone),
        };
        let page = match &asked {
            Some(h) if plan.catches(status) => plan.error_page(shared, req, h, status).await,
            _ => None,
        };
        match (page, outcome) {
            (Some(a), _) => self.answer(&a, head).await,
            // The backend's answer was caught but no page came: a plain one with its status.
            (None, Ok(_)) => {
                let code = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
                let a = proxy::plain(code, code.canonical_reason().unwrap_or("Error"));
                self.answer(&proxy::decorated(&plan.fx, a), head).await
            }
            // The router's own 502 or 504, with the route's answer headers (CORS's too).
            (None, Err(Fail::Answer(e))) => {
                let a = proxy::decorated(&plan.fx, e.answer(log));
                self.answer(&a, head).await
            }
            (None, Err(e)) => Err(e),
        }
    }

    /// Writes one of the router's own answers; the connection goes on unless something says
    /// it cannot.
    async fn answer(&mut self, a: &Answer, head: &RequestHead) -> Result<(u16, Next), Fail> {
        let close = head.close || head.http10 || head.upgrade || self.body_unread;
        self.write_answer(a, head.method == Method::HEAD, close)
            .await
            .map_err(|_| Fail::ClientGone)?;
        let next = if close { Next::Close } else { Next::KeepAlive };
        Ok((a.status.as_u16(), next))
    }

    /// [`Self::forward`] after the middlewares: a backend, the exchange (retried when that is
    /// safe), the answer relayed. An answer an `errors` middleware catches is not relayed:
    /// [`Fail::Caught`].
    async fn send(
        &mut self,
        shared: &Shared,
        req: &Inbound<'_>,
        head: &RequestHead,
        headers: &mut hyper::HeaderMap,
        log: &mut Log,
        plan: &proxy::Plan,
    ) -> Result<Sent, Fail> {
        // The body a middleware read, sent from here with its length.
        let framing = match &self.buffered {
            Some(b) => BodyFraming::Length(b.len() as u64),
            None => head.body,
        };
        // A declared length over `buffering`'s limit: refused before anything is sent.
        if let (Some(max), BodyFraming::Length(n)) = (plan.fx.max_request_body, framing) {
            if n > max {
                return Err(ProxyError::PayloadTooLarge.into());
            }
        }
        let mut forwarded =
            proxy::forward_headers(req, plan, std::mem::take(headers), head.upgrade, || None);
        forwarded.remove(header::EXPECT);
        // An HTTP/1.0 request may come without a host; backends expect one.
        let needs_host = !forwarded.contains_key(header::HOST);
        let path = plan.fx.path.as_deref().unwrap_or(req.path);
        let head_request = head.method == Method::HEAD;
        // Nothing of the request is lost when it has no body (or it is held): it can be sent
        // again.
        let retryable =
            (head.body == BodyFraming::None || self.buffered.is_some()) && !head.upgrade;
        let mut tried: Option<String> = None;
        let mut attempts = 0;
        // What a try that failed would answer, should no server be left for the next one.
        let mut cause = None;
        let started = Instant::now();
        let (conn, resp) = loop {
            attempts += 1;
            let try_ = Try { attempts, started };
            let (backend, addr) = plan
                .pick_again(shared, tried.as_deref(), &mut cause)
                .await?;
            log.backend = Some(addr);
            log.tried(&shared.config, &backend.def.url, started);
            let mut inflight = InFlight::start(&backend.state);
            let reach = plan.reach(shared, backend)?;
            if backend.def.url.starts_with("h2c://") {
                let mut h = forwarded.clone();
                if let Some(host) = &reach.host {
                    h.insert(header::HOST, host.clone());
                } else if needs_host {
                    if let Ok(v) = hyper::header::HeaderValue::from_str(&addr.to_string()) {
                        h.insert(header::HOST, v);
                    }
                }
                let resp = match Box::pin(
                    self.exchange_h2c(shared, req, head, h, plan, backend, addr, &reach),
                )
                .await?
                {
                    H2cAnswer::Answered(resp) => resp,
                    H2cAnswer::Unreached { detail, timed_out } => {
                        let first = tried.is_none();
                        cause = Some(
                            try_.unreached(shared, plan, backend, first, timed_out, detail)
                                .await?,
                        );
                        tried = Some(backend.def.url.clone());
                        continue;
                    }
                };
                let status = resp.status().as_u16();
                inflight.answered(status);
                shared.registry.mark_up(&backend.state);
                if plan.fail_over(status)? {
                    tried = None;
                    continue;
                }
                if plan
                    .try_again(
                        retryable,
                        attempts,
                        started,
                        Some((status, req.method.as_str())),
                    )
                    .await
                {
                    tried = Some(backend.def.url.clone());
                    continue;
                }
                return Box::pin(self.relay_h2c(shared, req, head, plan, resp)).await;
            }
            let (mut conn, reused) = match self
                .kept
                .get(addr, reach.tls.as_deref(), reach.connect_timeout)
                .await
            {
                Ok(c) => c,
                Err(SendError::Connect { detail, timed_out }) => {
                    let first = tried.is_none();
                    cause = Some(
                        try_.unreached(shared, plan, backend, first, timed_out, detail)
                            .await?,
                    );
                    tried = Some(backend.def.url.clone());
                    continue;
                }
                Err(SendError::Request(detail, _)) => {
                    return Err(ProxyError::BadGateway(detail).into())
                }
            };
            if let Some(h) = &reach.host {
                forwarded.insert(header::HOST, h.clone());
            } else if needs_host {
                if let Ok(v) = hyper::header::HeaderValue::from_str(&addr.to_string()) {
                    forwarded.insert(header::HOST, v);
                }
            }
            self.out.clear();
            wire::write_request_head(
                &mut self.out,
                req.method,
                &backend.def.target_path(path),
                req.query,
                &forwarded,
                Outgoing::of(framing),
            );
            if head.expect_continue && self.body_unread && !head.http10 && !self.continued {
                self.io
                    .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                    .await
                    .map_err(|_| Fail::ClientGone)?;
            }
            let attempt = self
                .round_trip(
                    &mut conn,
                    framing,
                    head_request,
                    plan.fx.max_request_body,
                    reach.response_timeout,
                )
                .await;
            match attempt {
                Err(Attempt::TimedOut) => return Err(ProxyError::GatewayTimeout.into()),
                Ok(resp) => {
                    inflight.answered(resp.status.as_u16());
                    shared.registry.mark_up(&backend.state);
                    // A failover's `errors`: the fallback is asked instead (this answer's
                    // body is not read: the connection is dropped).
                    if plan.fail_over(resp.status.as_u16())? {
                        drop(conn);
                        tried = None;
                        continue;
                    }
                    let status = Some((resp.status.as_u16(), req.method.as_str()));
                    let upgrade = resp.status == StatusCode::SWITCHING_PROTOCOLS;
                    if plan
                        .try_again(retryable && !upgrade, attempts, started, status)
                        .await
                    {
                        // Its body is not read: the connection is dropped, not kept.
                        drop(conn);
                        tried = Some(backend.def.url.clone());
                        continue;
                    }
                    break (conn, resp);
                }
                Err(Attempt::ClientGone) => {
                    inflight.settled();
                    return Err(Fail::ClientGone);
                }
                Err(Attempt::TooLarge) => {
                    inflight.settled();
                    return Err(ProxyError::PayloadTooLarge.into());
                }
                Err(Attempt::Client(detail)) => {
                    inflight.settled();
                    return Err(ProxyError::BadRequest(detail).into());
                }
                Err(Attempt::Silent(detail)) => {
                    shared.registry.mark_silent(&backend.state);
                    if !self.head_sent && plan.try_again(retryable, attempts, started, None).await {
                        cause = Some(ProxyError::GatewayTimeout);
                        tried = Some(backend.def.url.clone());
                        continue;
                    }
                    // Its host is gone (a lost node): an idempotent request without a body
                    // goes to another backend, as after a connect that timed out.
                    if retryable
                        && head.method.is_idempotent()
                        && attempts < SILENT_TRIES
                        && plan.another_usable(shared, &backend.def.url)
                    {
                        tracing::warn!(backend = %addr, error = %detail, "backend host silent; retrying elsewhere");
                        cause = Some(ProxyError::GatewayTimeout);
                        tried = Some(backend.def.url.clone());
                        continue;
                    }
                    tracing::warn!(backend = %addr, error = %detail, "backend host silent");
                    return Err(ProxyError::GatewayTimeout.into());
                }
                Err(Attempt::Backend(detail, closed)) => {
                    if !self.head_sent && plan.try_again(retryable, attempts, started, None).await {
                        cause = Some(ProxyError::BadGateway(detail));
                        tried = Some(backend.def.url.clone());
                        continue;
                    }
                    // A kept connection the backend closed while it sat idle, or a backend
                    // that closed without a word: an idempotent request without a body goes
                    // again (RFC 9110 9.2.2), once elsewhere or on a fresh connection.
                    if closed && retryable && head.method.is_idempotent() && attempts < 3 {
                        tracing::debug!(backend = %addr, error = %detail, "closed before answering; retrying");
                        if !reused {
                            if tried.is_some() {
                                return Err(ProxyError::BadGateway(detail).into());
                            }
                            tried = Some(backend.def.url.clone());
                        }
                        cause = Some(ProxyError::BadGateway(detail));
                        continue;
                    }
                    return Err(ProxyError::BadGateway(detail).into());
                }
            }
        };
        if plan.catches(resp.status.as_u16()) && resp.status != StatusCode::SWITCHING_PROTOCOLS {
            // Its body is not read: the backend connection is dropped, not kept.
            drop(conn);
            return Ok(Sent::Caught(resp.status.as_u16()));
        }
        if resp.status == StatusCode::SWITCHING_PROTOCOLS {
            // After a body cut short, what the client still sends is not the tunnel's.
            if !head.upgrade || self.body_unread {
                return Err(ProxyError::BadGateway(
                    "the backend upgraded a request that did not ask to".into(),
                )
                .into());
            }
            return Ok(Sent::Relayed(101, Box::pin(self.tunnel(conn, &resp)).await));
        }
        let close = head.close
            || head.http10
            || head.upgrade
            || resp.body == BodyFraming::UntilClose
            || self.body_unread
            || *self.stop.borrow();
        let status = resp.status.as_u16();
        let next = self
            .relay(shared, req, head, plan, conn, resp, close)
            .await?;
        Ok(Sent::Relayed(status, next))
    }

    /// Sends the assembled head (and a streamed body) on `conn` and reads the answer's head.
    /// A backend may answer before it has read the whole body (a 413 for an upload too
    /// large): its answer is relayed, the rest of the body is not read (`body_unread` stays
    /// set) and both connections close after it. As Go's `ResponseHeaderTimeout`, `wait`
    /// counts from the moment the request has been sent whole; while it is being sent, it
    /// bounds only a pause (an upload takes as long as it takes while it moves).
    async fn round_trip(
        &mut self,
        conn: &mut BackendConn,
        body: BodyFraming,
        head_request: bool,
        limit: Option<u64>,
        wait: std::time::Duration,
    ) -> Result<ResponseHead, Attempt> {
        let mut sent = 0;
        self.head_sent = false;
        while sent < self.out.len() {
            match tokio::time::timeout(wait, conn.io.write(&self.out[sent..])).await {
                Err(_) => return Err(Attempt::TimedOut),
                Ok(Ok(0)) => {
                    return Err(Attempt::Backend("sending the request: closed".into(), true))
                }
                Ok(Ok(n)) => sent += n,
                Ok(Err(e)) if host_gone(&e) => {
                    return Err(Attempt::Silent(format!("sending the request: {e}")))
                }
                Ok(Err(e)) => {
                    return Err(Attempt::Backend(format!("sending the request: {e}"), true))
                }
            }
        }
        self.head_sent = true;
        let mut cut = None;
        if let Some(held) = self.buffered.clone() {
            // A body held in memory goes out the same way, listening for an early answer.
            let mut from: &[u8] = &held;
            let sent = forward_body_watched(
                &mut from,
                &mut BytesMut::new(),
                &mut conn.io,
                &mut conn.buf,
                body,
                None,
                Some(wait),
            )
            .await;
            match sent {
                Ok(BodySent::Whole) => {}
                Ok(BodySent::Cut(err)) => cut = err,
                Err(BodyError::Stalled(_)) => return Err(Attempt::TimedOut),
                Err(e) => {
                    return Err(Attempt::Backend(
                        format!("sending the request body: {e}"),
                        false,
                    ))
                }
            }
        } else if self.body_unread {
            let sent = forward_body_watched(
                &mut self.io,
                &mut self.buf,
                &mut conn.io,
                &mut conn.buf,
                body,
                limit,
                Some(wait),
            )
            .await;
            match sent {
                Ok(BodySent::Whole) => self.body_unread = false,
                Ok(BodySent::Cut(err)) => cut = err,
                Err(BodyError::ClientGone) => return Err(Attempt::ClientGone),
                Err(e @ BodyError::Framing(_)) => return Err(Attempt::Client(e.to_string())),
                Err(BodyError::TooLarge(_)) => return Err(Attempt::TooLarge),
                Err(BodyError::Stalled(_)) => return Err(Attempt::TimedOut),
            }
        }
        let answer = tokio::time::timeout(wait, self.read_response_head(conn, head_request))
            .await
            .unwrap_or(Err(Attempt::TimedOut));
        match (answer, cut) {
            // A backend that failed to take the body and said nothing: the write's error.
            (Err(Attempt::Backend(_, true)), Some(e)) => Err(Attempt::Backend(
                format!("sending the request body: {e}"),
                false,
            )),
            (answer, _) => answer,
        }
    }

    /// Reads the backend's response head, skipping interim (1xx but 101) answers.
    async fn read_response_head(
        &mut self,
        conn: &mut BackendConn,
        head_request: bool,
    ) -> Result<ResponseHead, Attempt> {
        let mut scanned = 0;
        let mut got_any = false;
        loop {
            if !conn.buf.is_empty() {
                got_any = true;
                match http1_framing::find_head_end(&conn.buf, scanned) {
                    Ok(Some(len)) => {
                        let head = conn.buf.split_to(len).freeze();
                        let parsed = wire::parse_response(&head, head_request);
                        scanned = 0;
                        let resp = parsed.map_err(|e| {
                            Attempt::Backend(format!("the backend's answer: {e}"), false)
                        })?;
                        if resp.status.is_informational()
                            && resp.status != StatusCode::SWITCHING_PROTOCOLS
                        {
                            continue;
                        }
                        return Ok(resp);
                    }
                    Ok(None) => scanned = conn.buf.len().saturating_sub(3),
                    Err(e) => {
                        return Err(Attempt::Backend(
                            format!("the backend's answer: {e}"),
                            false,
                        ))
                    }
                }
            }
            match self.read_backend(conn).await {
                Ok(0) => {
                    return Err(Attempt::Backend(
                        if got_any {
                            "the backend closed the connection mid-answer"
                        } else {
                            "the backend closed the connection without answering"
                        }
                        .to_owned(),
                        !got_any,
                    ))
                }
                Ok(_) => {}
                Err(Fail::ClientGone) => return Err(Attempt::ClientGone),
                Err(Fail::Answer(ProxyError::GatewayTimeout)) if !got_any => {
                    return Err(Attempt::Silent(format!(
                        "the backend's host went silent ({}s without an acknowledgment)",
                        crate::upstream::PEER_SILENT.as_secs()
                    )))
                }
                Err(Fail::Answer(e)) => {
                    let closed = !got_any;
                    return Err(Attempt::Backend(e.to_string(), closed));
                }
            }
        }
    }

    /// `buffering.maxResponseBodyBytes`, checked before the answer's head is sent: a declared
    /// length over `max` answers 500; a body without one is read whole (up to `max`, else 500)
    /// and goes on with its length.
    async fn within(
        &mut self,
        conn: &mut BackendConn,
        body: BodyFraming,
        max: u64,
    ) -> Result<BodyFraming, Fail> {
        let too_large = || {
            Fail::Answer(ProxyError::Internal(
                "the answer is over buffering.maxResponseBodyBytes".into(),
            ))
        };
        match body {
            BodyFraming::Length(n) if n > max => return Err(too_large()),
            BodyFraming::None | BodyFraming::Length(_) => return Ok(body),
            BodyFraming::Chunked | BodyFraming::UntilClose => {}
        }
        let mut left = BodyLeft::new(body);
        let mut data = Vec::new();
        loop {
            if !conn.buf.is_empty() {
                let (used, done) = left.take(&conn.buf, Some(&mut data)).map_err(|e| {
                    Fail::Answer(ProxyError::BadGateway(format!("the answer's framing: {e}")))
                })?;
                conn.buf.advance(used);
                if data.len() as u64 > max {
                    return Err(too_large());
                }
                if done {
                    break;
                }
            }
            if self.read_backend(conn).await? == 0 {
                if left.until_close() {
                    break;
                }
                return Err(Fail::Answer(ProxyError::BadGateway(
                    "the backend closed the connection mid-answer".into(),
                )));
            }
        }
        conn.buf = BytesMut::from(&data[..]);
        Ok(BodyFraming::Length(data.len() as u64))
    }

    /// `contentType`: the answer's first bytes (read now if none came with the head), without
    /// their framing, give its `Content-Type` (none when the body is empty, as Go).
    async fn sniff(
        &mut self,
        conn: &mut BackendConn,
        body: BodyFraming,
        headers: &mut hyper::HeaderMap,
    ) -> Result<(), Fail> {
        let mut data = Vec::new();
        for _ in 0..4 {
            data.clear();
            let mut probe = BodyLeft::new(body);
            let _ = probe.take(&conn.buf, Some(&mut data));
            if !data.is_empty() || matches!(body, BodyFraming::Length(0)) {
                break;
            }
            if self.read_backend(conn).await? == 0 {
                break;
            }
        }
        if !data.is_empty() {
            if let Ok(v) = hyper::header::HeaderValue::from_str(crate::sniff::detect(&data)) {
                headers.insert(header::CONTENT_TYPE, v);
            }
        }
        Ok(())
    }

    /// Reads more from the backend (0 at its end) while watching the client: a client that
    /// leaves ends the exchange.
    async fn read_backend(&mut self, conn: &mut BackendConn) -> Result<usize, Fail> {
        conn.buf.reserve(READ_SIZE);
        loop {
            if self.buf.len() >= BACKLOG_MAX {
                tracing::warn!(client = %self.at.peer, backlog = self.buf.len(), "client sent more than the pipelining backlog while an answer was pending; closing");
                return Err(Fail::ClientGone);
            }
            // While a request body is still to come, its bytes are the backend's business;
            // the client is only watched between messages.
            if self.body_unread {
                return conn.io.read_buf(&mut conn.buf).await.map_err(answer_error);
            }
            self.buf.reserve(1024);
            tokio::select! {
                biased;
                read = conn.io.read_buf(&mut conn.buf) => return read.map_err(answer_error),
                read = self.io.read_buf(&mut self.buf) => match read {
                    Ok(0) | Err(_) => return Err(Fail::ClientGone),
                    Ok(_) => {}
                },
            }
        }
    }

    /// Relays an answer: its head as the router finishes it, and its body by its framing,
    /// compressed when the plan and the answer allow it.
    #[allow(clippy::too_many_arguments)]
    async fn relay(
        &mut self,
        shared: &Shared,
        req: &Inbound<'_>,
        head: &RequestHead,
        plan: &Plan,
        mut conn: BackendConn,
        resp: ResponseHead,
        close: bool,
    ) -> Result<Next, Fail> {
        let ResponseHead {
            status,
            body,
            close: backend_closes,
            mut headers,
        } = resp;
        let body = match plan.fx.max_response_body {
            Some(max) if body != BodyFraming::None => self.within(&mut conn, body, max).await?,
            _ => body,
        };
        // The backend's length, checked by `parse_response`; what the client is told about
        // framing is written below from the body's real framing, never taken from a header map
        // that `Connection` names or a route's `headers.*` labels may have changed.
        let backend_length = headers.get(header::CONTENT_LENGTH).cloned();
        proxy::finish_response(shared, plan, req.scheme, &mut headers);
        // As Go's server sniffs: not an answer with a Content-Encoding (its bytes are not the
        // content's).
        if plan.fx.sniff
            && body != BodyFraming::None
            && !headers.contains_key(header::CONTENT_TYPE)
            && !headers.contains_key(header::CONTENT_ENCODING)
        {
            self.sniff(&mut conn, body, &mut headers).await?;
        }
        // Decided while the length is still there (it counts for the size threshold).
        let enc = proxy::compression(plan, req.method, status, &headers).filter(|_| !head.http10);
        headers.remove(header::CONTENT_LENGTH);
        headers.remove(header::TRANSFER_ENCODING);
        self.out.clear();
        if let Some(enc) = enc.filter(|_| body != BodyFraming::None) {
            crate::compress::prepare(&mut headers, enc);
            wire::write_response_head(&mut self.out, status, &headers, Outgoing::Chunked, close);
            let complete = Box::pin(self.relay_compressed(&mut conn, body, enc)).await?;
            return Ok(self.after_body(conn, complete, backend_closes, body, close));
        }
        // A chunked body goes on chunked (de-chunked for an HTTP/1.0 client, whose connection
        // then closes); a `HEAD` answer and a 304 keep the length they describe; a 204 and a
        // 1xx have none.
        let dechunk = head.http10 && body == BodyFraming::Chunked;
        let framing = match body {
            BodyFraming::Length(n) => Outgoing::Length(n),
            BodyFraming::Chunked if !dechunk => Outgoing::Chunked,
            BodyFraming::Chunked | BodyFraming::UntilClose => Outgoing::None,
            BodyFraming::None => {
                if head.method == Method::HEAD || status == StatusCode::NOT_MODIFIED {
                    if let Some(v) = backend_length {
                        headers.insert(header::CONTENT_LENGTH, v);
                    }
                    Outgoing::None
                } else if status == StatusCode::NO_CONTENT || status.is_informational() {
                    Outgoing::None
                } else {
                    Outgoing::Length(0)
                }
            }
        };
        wire::write_response_head(&mut self.out, status, &headers, framing, close);
        let mut left = BodyLeft::new(body);
        let mut first = true;
        let mut data = Vec::new();
        let complete = loop {
            let (take, done) = match left.take(&conn.buf, dechunk.then_some(&mut data)) {
                Ok(t) => t,
                Err(e) if first => {
                    // Nothing is written yet: the client gets a 502, not a cut connection.
                    return Err(ProxyError::BadGateway(format!("the backend's answer: {e}")).into());
                }
                Err(_) => break false,
            };
            let bytes: &[u8] = if dechunk { &data } else { &conn.buf[..take] };
            self.body_sent += bytes.len() as u64;
            let written = if first {
                self.out.extend_from_slice(bytes);
                first = false;
                self.io.write_all(&self.out).await
            } else {
                self.io.write_all(bytes).await
            };
            conn.buf.advance(take);
            data.clear();
            if written.is_err() {
                return Err(Fail::ClientGone);
            }
            if done {
                break true;
            }
            match self.read_backend(&mut conn).await {
                Ok(0) if left.until_close() => break true,
                Ok(0) | Err(Fail::Answer(_)) => break false,
                Err(Fail::ClientGone) => return Err(Fail::ClientGone),
                Ok(_) => {}
            }
        };
        Ok(self.after_body(conn, complete, backend_closes, body, close))
    }

    /// Keeps the backend connection when its answer completed cleanly; says whether the
    /// client connection goes on.
    fn after_body(
        &mut self,
        conn: BackendConn,
        complete: bool,
        backend_closes: bool,
        body: BodyFraming,
        close: bool,
    ) -> Next {
        // A backend connection whose request body was cut short (the backend answered first)
        // is not kept: the backend drops the rest or closes.
        if complete
            && !backend_closes
            && body != BodyFraming::UntilClose
            && conn.buf.is_empty()
            && !self.body_unread
        {
            self.kept.put(conn);
        }
        if complete && !close {
            Next::KeepAlive
        } else {
            Next::Close
        }
    }

    /// Streams a compressed body, chunked; the head is in `self.out`. `Ok(true)` when the
    /// backend's body ended where its framing said.
    async fn relay_compressed(
        &mut self,
        conn: &mut BackendConn,
        body: BodyFraming,
        enc: crate::compress::Encoding,
    ) -> Result<bool, Fail> {
        let mut complete = false;
        let reader = BodyReader {
            conn,
            left: BodyLeft::new(body),
            data: Vec::new(),
            complete: &mut complete,
        };
        let mut encoded = crate::compress::encoder(enc, tokio::io::BufReader::new(reader));
        let mut chunk = vec![0u8; READ_SIZE];
        let mut failed = false;
        loop {
            let n = match encoded.read(&mut chunk).await {
                Ok(n) => n,
                Err(e) => {
                    tracing::debug!(error = %e, "compressed answer cut short");
                    failed = true;
                    0
                }
            };
            if n == 0 && failed {
                // Without the last chunk the client sees the answer is incomplete.
                let _ = self.io.write_all(&self.out).await;
                break;
            }
            self.body_sent += n as u64;
            if n == 0 {
                self.out.extend_from_slice(b"0\r\n\r\n");
            } else {
                self.out.extend_from_slice(format!("{n:x}\r\n").as_bytes());
                self.out.extend_from_slice(&chunk[..n]);
                self.out.extend_from_slice(b"\r\n");
            }
            self.io
                .write_all(&self.out)
                .await
                .map_err(|_| Fail::ClientGone)?;
            self.out.clear();
            if n == 0 {
                break;
            }
        }
        drop(encoded);
        Ok(complete && !failed)
    }

    /// After the backend's 101: its head as it is, then bytes both ways until both sides end.
    async fn tunnel(&mut self, mut conn: BackendConn, resp: &ResponseHead) -> Next {
        self.tunneled
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.out.clear();
        wire::write_response_head(
            &mut self.out,
            resp.status,
            &resp.headers,
            Outgoing::None,
            false,
        );
        self.out.extend_from_slice(&conn.buf);
        conn.buf.clear();
        if self.io.write_all(&self.out).await.is_err() {
            return Next::Close;
        }
        if !self.buf.is_empty() {
            if conn.io.write_all(&self.buf).await.is_err() {
                return Next::Close;
            }
            self.buf.clear();
        }
        let metrics = self.shared.metrics.clone();
        metrics.open_tunnels.inc();
        if let Err(e) = tokio::io::copy_bidirectional(&mut self.io, &mut conn.io).await {
            tracing::debug!(backend = %conn.addr, error = %e, "tunnel ended with an error");
        }
        metrics.open_tunnels.dec();
        Next::Close
    }
}

/// A backend's answer body as a byte stream (what a compressor reads): its framing removed,
/// ending where the framing says. An early end of the connection is an error, so that a cut
/// answer is never passed off as complete.
struct BodyReader<'a> {
    conn: &'a mut BackendConn,
    left: BodyLeft,
    data: Vec<u8>,
    complete: &'a mut bool,
}

impl AsyncRead for BodyReader<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.data.is_empty() {
                let k = this.data.len().min(out.remaining());
                out.put_slice(&this.data[..k]);
                this.data.drain(..k);
                return Poll::Ready(Ok(()));
            }
            if *this.complete {
                return Poll::Ready(Ok(()));
            }
            if !this.conn.buf.is_empty() {
                let (used, done) = this
                    .left
                    .take(&this.conn.buf, Some(&mut this.data))
                    .map_err(std::io::Error::other)?;
                this.conn.buf.advance(used);
                *this.complete = done;
                continue;
            }
            if let BodyLeft::Length(0) = this.left {
                *this.complete = true;
                continue;
            }
            this.conn.buf.reserve(READ_SIZE);
            match tokio_util::io::poll_read_buf(Pin::new(&mut this.conn.io), cx, &mut this.conn.buf)
            {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(0)) if this.left.until_close() => *this.complete = true,
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the backend closed the connection mid-answer",
                    )))
                }
                Poll::Ready(Ok(_)) => {}
            }
        }
    }
}

/// Whether a backend connection's error says its host went away: the user timeout expired
/// (`ETIMEDOUT`), or expired after the route to the host was lost (the kernel then reports the
/// unreachable host it noted on the way: `EHOSTUNREACH`, `ENETUNREACH`).
fn host_gone(e: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        e.kind(),
        ErrorKind::TimedOut | ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable
    )
}

/// A failed read of a backend's answer: a host gone silent ([`Attempt::Silent`]) is a
/// gateway timeout, anything else a bad gateway.
fn answer_error(e: std::io::Error) -> Fail {
    if host_gone(&e) {
        return Fail::Answer(ProxyError::GatewayTimeout);
    }
    Fail::Answer(ProxyError::BadGateway(format!("reading the answer: {e}")))
}
