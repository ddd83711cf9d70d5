//! One HTTP/1.1 exchange the router makes itself (a `forwardAuth` server's check), on the raw
//! path: a connection from the idle pool the backends use (or a new one), the request head
//! written at once, the answer's head and body read with the same framing code as backends'
//! answers. No task and no hyper client per request: this sits in front of every request of
//! the routes that use it. A connection that answered completely goes back to the pool.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use http1_framing::{find_head_end, BodyFraming, BodyLeft};
use hyper::{HeaderMap, Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::upstream::{dial, BackendConn, IdlePool};
use crate::wire::{self, Outgoing};

/// An answer: its status, headers, and body (`None`: larger than allowed).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Option<Bytes>,
}

/// The request [`ask`] sends.
pub struct Asking<'a> {
    pub method: &'a Method,
    pub path: &'a str,
    pub query: Option<&'a str>,
    /// Its headers (they carry the `Host`).
    pub headers: &'a HeaderMap,
    /// Its body, sent with its length.
    pub body: Option<&'a [u8]>,
}

/// Sends `req` to `addr`; reads at most `max_body` bytes of the answer's body. A kept
/// connection the server closed while it sat idle is replaced once by a new one.
pub async fn ask(
    pool: &Arc<IdlePool>,
    addr: SocketAddr,
    req: Asking<'_>,
    connect_timeout: Duration,
    max_body: u64,
) -> Result<Answer, String> {
    let mut out = Vec::with_capacity(512);
    wire::write_request_head(
        &mut out,
        req.method,
        req.path,
        req.query,
        req.headers,
        req.body
            .map_or(Outgoing::None, |b| Outgoing::Length(b.len() as u64)),
    );
    out.extend_from_slice(req.body.unwrap_or_default());
    let method = req.method;
    let head_only = *method == Method::HEAD;
    if let Some(conn) = pool.take_plain(addr) {
        match exchange(pool, conn, &out, head_only, max_body).await {
            Ok(a) => return Ok(a),
            Err((_, true)) => {} // closed before answering: once more, on a new connection
            Err((e, false)) => return Err(e),
        }
    }
    let conn = dial(addr, None, connect_timeout)
        .await
        .map_err(|e| format!("{e:?}"))?;
    exchange(pool, conn, &out, head_only, max_body)
        .await
        .map_err(|(e, _)| e)
}

/// One exchange on `conn`; the error says whether nothing at all came back.
async fn exchange(
    pool: &Arc<IdlePool>,
    mut conn: BackendConn,
    request: &[u8],
    head_only: bool,
    max_body: u64,
) -> Result<Answer, (String, bool)> {
    if let Err(e) = conn.io.write_all(request).await {
        return Err((format!("sending the request: {e}"), true));
    }
    let len = loop {
        match find_head_end(&conn.buf, 0) {
            Ok(Some(len)) => break len,
            Ok(None) => {}
            Err(e) => return Err((format!("the answer's head: {e}"), false)),
        }
        conn.buf.reserve(4096);
        match conn.io.read_buf(&mut conn.buf).await {
            Ok(0) => return Err(("closed before answering".into(), conn.buf.is_empty())),
            Err(e) => return Err((format!("reading the answer: {e}"), conn.buf.is_empty())),
            Ok(_) => {}
        }
    };
    let head = conn.buf.split_to(len);
    let resp = wire::parse_response(&head, head_only).map_err(|e| (e.to_string(), false))?;
    let mut left = BodyLeft::new(resp.body);
    let mut data = Vec::new();
    let mut complete = resp.body == BodyFraming::None;
    while !complete {
        if !conn.buf.is_empty() {
            let (used, done) = left
                .take(&conn.buf, Some(&mut data))
                .map_err(|e| (format!("the answer's body: {e}"), false))?;
            conn.buf.advance(used);
            complete = done;
            if data.len() as u64 > max_body {
                // Not read to its end: the connection is dropped.
                return Ok(Answer {
                    status: resp.status,
                    headers: resp.headers,
                    body: None,
                });
            }
            continue;
        }
        conn.buf.reserve(8192);
        match conn.io.read_buf(&mut conn.buf).await {
            Ok(0) if left.until_close() => break,
            Ok(0) => return Err(("closed mid-answer".into(), false)),
            Err(e) => return Err((format!("reading the answer: {e}"), false)),
            Ok(_) => {}
        }
    }
    if complete && !resp.close && conn.buf.is_empty() {
        conn.idle_since = Instant::now();
        pool.put_one(conn);
    }
    Ok(Answer {
        status: resp.status,
        headers: resp.headers,
        body: Some(Bytes::from(data)),
    })
}
