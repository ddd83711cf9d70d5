//! One HTTP/1.1 exchange the router makes itself (a `forwardAuth` server's check), on the raw
//! path: a connection the client connection keeps, as it keeps its backends' (else one from
//! the idle pool the backends use, or a new one), the request head written at once, the
//! answer's head and body read with the same framing code as backends' answers. No task and
//! no hyper client per request: this sits in front of every request of the routes that use
//! it. A connection that answered completely is kept for the next check.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Buf, Bytes};
use http1_framing::{find_head_end, BodyFraming, BodyLeft};
use hyper::{HeaderMap, Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::upstream::{dial, BackendConn, Conns};
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
    conns: &mut Conns<'_>,
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
    if let Some(conn) = conns.take_plain(addr) {
        match exchange(conns, conn, &out, head_only, max_body).await {
            Ok(a) => return Ok(a),
            Err((_, true)) => {} // closed before answering: once more, on a new connection
            Err((e, false)) => return Err(e),
        }
    }
    let conn = dial(addr, None, connect_timeout)
        .await
        .map_err(|e| format!("{e:?}"))?;
    exchange(conns, conn, &out, head_only, max_body)
        .await
        .map_err(|(e, _)| e)
}

/// One exchange on `conn`; the error says whether nothing at all came back.
async fn exchange(
    conns: &mut Conns<'_>,
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
    let head = conn.buf.split_to(len).freeze();
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
        conns.put(conn);
    }
    Ok(Answer {
        status: resp.status,
        headers: resp.headers,
        body: Some(Bytes::from(data)),
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::net::TcpListener;

    use super::*;
    use std::sync::Arc;

    use crate::upstream::IdlePool;

    /// A server that answers one request on each connection and closes it right after,
    /// without saying so (as one whose keep-alive timeout is shorter than the pause between
    /// two checks). Its connections go back to the pool; the next check takes one unchecked
    /// (parked a moment ago) and must go again on a new connection.
    #[tokio::test]
    async fn a_parked_connection_the_server_closed_is_replaced() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let mut head = Vec::new();
                while matches!(find_head_end(&head, 0), Ok(None)) {
                    let mut chunk = [0u8; 512];
                    match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&chunk[..n]),
                    }
                }
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    .await;
            }
        });
        let pool = Arc::new(IdlePool::default());
        let mut kept = crate::upstream::Kept::new(pool.clone());
        let headers = HeaderMap::new();
        // From the shared pool (HTTP/2), then from a client connection's kept ones.
        for n in 1..=6 {
            let mut conns = match n <= 3 {
                true => Conns::Pool(&pool),
                false => Conns::Kept(&mut kept),
            };
            let asking = Asking {
                method: &Method::GET,
                path: "/verify",
                query: None,
                headers: &headers,
                body: None,
            };
            let a = ask(&mut conns, addr, asking, Duration::from_secs(2), 1024)
                .await
                .unwrap_or_else(|e| panic!("check {n}: {e}"));
            assert_eq!(a.status, StatusCode::OK);
            assert_eq!(a.body.as_deref(), Some(&b"ok"[..]));
            // The server's close reaches the parked connection.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 6);
    }
}
