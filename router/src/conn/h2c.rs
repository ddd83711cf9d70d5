//! An HTTP/1.1 client's request to an `h2c://` server: the request goes out over HTTP/2 (its
//! body streamed from the client connection as it comes, without its HTTP/1.1 framing) and
//! the answer comes back as HTTP/1.1 (chunked unless the server gave a length; trailers are
//! not passed on). The caller retries as on the HTTP/1.1 path: a request that can be sent
//! again goes elsewhere when the connection was refused, and the `retry` middleware,
//! `retryExpression` and a failover's `errors` apply to its answers.

use bytes::{Buf, Bytes};
use http_body_util::BodyExt;
use hyper::{header, Method, Request, StatusCode};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{Conn, Fail, Sent, READ_SIZE};
use http1_framing::{BodyFraming, BodyLeft};

use crate::proxy::{self, Inbound, Plan, ProxyBody, ProxyError};
use crate::server::Shared;
use crate::upstream::SendError;
use crate::wire::{self, Outgoing, RequestHead};

/// How the client's body ended up.
enum Pumped {
    Whole,
    TooLarge,
    ClientGone,
    Framing(String),
    /// The server stopped reading it (it answered first).
    Dropped,
}

/// What an h2c server made of the request.
pub(super) enum H2cAnswer {
    /// Its answer's head (the body still to come).
    Answered(hyper::Response<hyper::body::Incoming>),
    /// No connection to it: nothing was sent.
    Unreached { detail: String, timed_out: bool },
}

impl<S> Conn<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    /// Sends the request to `backend`, an h2c server at `addr` (its body streamed from the client as
    /// it comes, unless held) and reads its answer's head.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn exchange_h2c(
        &mut self,
        shared: &Shared,
        req: &Inbound<'_>,
        head: &RequestHead,
        headers: hyper::HeaderMap,
        plan: &Plan,
        backend: &crate::live::LiveBackend,
        addr: std::net::SocketAddr,
        reach: &proxy::Reach,
    ) -> Result<H2cAnswer, Fail> {
        if head.upgrade {
            return Err(ProxyError::BadGateway(
                "upgrades to an h2c server are not supported".into(),
            )
            .into());
        }
        let path = backend
            .def
            .target_path(plan.fx.path.as_deref().unwrap_or(req.path));
        let target = match req.query {
            Some(q) => format!("{path}?{q}"),
            None => path.into_owned(),
        };
        let has_body = !matches!(head.body, BodyFraming::None | BodyFraming::Length(0));
        let (tx, body): (_, ProxyBody) = if let Some(b) = &self.buffered {
            // Read whole by a middleware: sent from memory.
            if plan
                .fx
                .max_request_body
                .is_some_and(|max| b.len() as u64 > max)
            {
                return Err(ProxyError::PayloadTooLarge.into());
            }
            (None, proxy::full(b.clone()))
        } else if has_body {
            let (tx, rx) = http_body_util::channel::Channel::<Bytes, proxy::BoxError>::new(4);
            (Some(tx), rx.boxed())
        } else {
            (
                None,
                http_body_util::Empty::new().map_err(|n| match n {}).boxed(),
            )
        };
        let mut out = Request::new(body);
        *out.method_mut() = req.method.clone();
        *out.uri_mut() = target
            .parse()
            .map_err(|e| ProxyError::BadRequest(format!("request target: {e}")))?;
        *out.headers_mut() = headers;
        if head.expect_continue && self.body_unread && !head.http10 && !self.continued {
            self.io
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await
                .map_err(|_| Fail::ClientGone)?;
        }
        let limit = plan.fx.max_request_body;
        let send = tokio::time::timeout(
            reach.response_timeout,
            shared.h2c.send(addr, reach.connect_timeout, out),
        );
        let (pumped, answer) = match tx {
            Some(tx) => tokio::join!(self.pump(tx, head.body, limit), send),
            None => (Pumped::Whole, send.await),
        };
        match pumped {
            Pumped::Whole => self.body_unread = false,
            Pumped::TooLarge => return Err(ProxyError::PayloadTooLarge.into()),
            Pumped::ClientGone => return Err(Fail::ClientGone),
            Pumped::Framing(e) => return Err(ProxyError::BadRequest(e).into()),
            Pumped::Dropped => {}
        }
        match answer {
            Err(_) => Err(ProxyError::GatewayTimeout.into()),
            Ok(Err(SendError::Connect { detail, timed_out })) => {
                Ok(H2cAnswer::Unreached { detail, timed_out })
            }
            Ok(Err(SendError::Request(detail, _))) => Err(ProxyError::BadGateway(detail).into()),
            Ok(Ok(r)) => Ok(H2cAnswer::Answered(r)),
        }
    }

    /// Relays an h2c server's answer (unless an `errors` middleware catches it).
    pub(super) async fn relay_h2c(
        &mut self,
        shared: &Shared,
        req: &Inbound<'_>,
        head: &RequestHead,
        plan: &Plan,
        resp: hyper::Response<hyper::body::Incoming>,
    ) -> Result<Sent, Fail> {
        let status = resp.status();
        if plan.catches(status.as_u16()) {
            return Ok(Sent::Caught(status.as_u16()));
        }
        let close = head.close || head.http10 || self.body_unread || *self.stop.borrow();
        let next = self.relay_h2(shared, req, head, plan, resp, close).await?;
        Ok(Sent::Relayed(status.as_u16(), next))
    }

    /// The client's body, de-framed, into `tx`.
    async fn pump(
        &mut self,
        mut tx: http_body_util::channel::Sender<Bytes, proxy::BoxError>,
        framing: BodyFraming,
        limit: Option<u64>,
    ) -> Pumped {
        let mut left = BodyLeft::new(framing);
        let mut passed: u64 = 0;
        loop {
            if !self.buf.is_empty() {
                let mut data = Vec::new();
                let (used, done) = match left.take(&self.buf, Some(&mut data)) {
                    Ok(t) => t,
                    Err(e) => {
                        tx.abort("the request body's framing".into());
                        return Pumped::Framing(e.to_string());
                    }
                };
                self.buf.advance(used);
                passed += data.len() as u64;
                if limit.is_some_and(|max| passed > max) {
                    tx.abort("the request body is too large".into());
                    return Pumped::TooLarge;
                }
                if !data.is_empty() && tx.send_data(Bytes::from(data)).await.is_err() {
                    return Pumped::Dropped;
                }
                if done {
                    return Pumped::Whole;
                }
                continue;
            }
            self.buf.reserve(READ_SIZE);
            match self.io.read_buf(&mut self.buf).await {
                Ok(0) | Err(_) => {
                    tx.abort("the client left mid-body".into());
                    return Pumped::ClientGone;
                }
                Ok(_) => {}
            }
        }
    }

    /// Writes an HTTP/2 answer to the HTTP/1.1 client.
    async fn relay_h2(
        &mut self,
        shared: &Shared,
        req: &Inbound<'_>,
        head: &RequestHead,
        plan: &Plan,
        resp: hyper::Response<hyper::body::Incoming>,
        close: bool,
    ) -> Result<super::Next, Fail> {
        let (mut parts, body) = resp.into_parts();
        let status = parts.status;
        proxy::finish_response(shared, plan, req.scheme, &mut parts.headers);
        let mut body: ProxyBody = body.map_err(|e| Box::new(e) as proxy::BoxError).boxed();
        if let Some(max) = plan.fx.max_response_body {
            body = proxy::within(&parts.headers, body, max).await?;
        }
        if plan.fx.sniff && head.method != Method::HEAD {
            body = proxy::sniff_body(&mut parts.headers, body).await;
        }
        let mut compressed = false;
        if let Some(enc) =
            proxy::compression(plan, req.method, status, &parts.headers).filter(|_| !head.http10)
        {
            body = crate::compress::apply(&mut parts.headers, body, enc);
            compressed = true;
        }
        let length = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            .filter(|_| !compressed);
        let bodiless = head.method == Method::HEAD
            || status == StatusCode::NOT_MODIFIED
            || status == StatusCode::NO_CONTENT
            || status.is_informational();
        let (framing, close) = match (bodiless, length) {
            (true, _) => (Outgoing::None, close),
            (false, Some(n)) => (Outgoing::Length(n), close),
            (false, None) if head.http10 => (Outgoing::None, true),
            (false, None) => (Outgoing::Chunked, close),
        };
        // A `HEAD` answer and a 304 keep the length they describe; otherwise the framing
        // written is the body's own.
        if !(head.method == Method::HEAD || status == StatusCode::NOT_MODIFIED) {
            parts.headers.remove(header::CONTENT_LENGTH);
        }
        parts.headers.remove(header::TRANSFER_ENCODING);
        self.out.clear();
        wire::write_response_head(&mut self.out, status, &parts.headers, framing, close);
        self.io
            .write_all(&self.out)
            .await
            .map_err(|_| Fail::ClientGone)?;
        let mut complete = true;
        if !bodiless {
            let chunked = matches!(framing, Outgoing::Chunked);
            loop {
                match body.frame().await {
                    None => break,
                    Some(Err(e)) => {
                        tracing::debug!(error = %e, "h2c answer cut short");
                        complete = false;
                        break;
                    }
                    Some(Ok(frame)) => {
                        let Ok(data) = frame.into_data() else {
                            continue; // trailers: not passed on
                        };
                        if data.is_empty() {
                            continue;
                        }
                        self.out.clear();
                        if chunked {
                            self.out
                                .extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
                        }
                        self.out.extend_from_slice(&data);
                        if chunked {
                            self.out.extend_from_slice(b"\r\n");
                        }
                        self.io
                            .write_all(&self.out)
                            .await
                            .map_err(|_| Fail::ClientGone)?;
                    }
                }
            }
            if chunked && complete {
                self.io
                    .write_all(b"0\r\n\r\n")
                    .await
                    .map_err(|_| Fail::ClientGone)?;
            }
        }
        Ok(if close || !complete {
            super::Next::Close
        } else {
            super::Next::KeepAlive
        })
    }
}
