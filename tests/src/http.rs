//! Raw HTTP/1.1: send exact bytes, read until the server closes (or a bound passes), and parse
//! every response that came back. Hostile requests must reach the guard byte for byte, which
//! no HTTP client library allows. Raw HTTP/2 frames go through `openssl s_client` ([`openssl_h2`]).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long [`exchange`] waits for the server to close the connection.
pub const READ_BOUND: Duration = Duration::from_secs(10);

/// One parsed response.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// The status code.
    pub status: u16,
    /// Header names (lowercased) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first value of a header (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as (lossy) text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The `message` of a Docker-style JSON error body, if the body is one.
    pub fn message(&self) -> Option<String> {
        let v: serde_json::Value = serde_json::from_slice(&self.body).ok()?;
        v.get("message")?.as_str().map(str::to_owned)
    }
}

/// What came back on one connection.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// Every complete response, in order.
    pub responses: Vec<RawResponse>,
    /// Whether the server closed the connection within the bound (`false`: it was still open).
    pub closed: bool,
    /// Bytes after the last complete response (a truncated response, or a tunnel's data).
    pub trailing: Vec<u8>,
    /// Everything read, for failure messages.
    pub raw: Vec<u8>,
}

impl Exchange {
    /// The statuses, in order.
    pub fn statuses(&self) -> Vec<u16> {
        self.responses.iter().map(|r| r.status).collect()
    }

    /// Everything read, as lossy text (for failure messages and "does not contain" checks).
    pub fn raw_text(&self) -> String {
        String::from_utf8_lossy(&self.raw).into_owned()
    }
}

/// Connects, writes `bytes` exactly, then reads until the server closes or `bound` passes.
/// The write side is never half-closed: whether the server closes is part of what is tested.
pub async fn exchange_within(addr: SocketAddr, bytes: &[u8], bound: Duration) -> Exchange {
    let mut stream = TcpStream::connect(addr)
        .await
        .expect("connect to the guard");
    // A server that refuses early may reset the connection while we still write; what it
    // answered before that is still read below.
    let _ = stream.write_all(bytes).await;
    read_all(&mut stream, bound).await
}

/// [`exchange_within`] with [`READ_BOUND`].
pub async fn exchange(addr: SocketAddr, bytes: &[u8]) -> Exchange {
    exchange_within(addr, bytes, READ_BOUND).await
}

/// Reads from `stream` until EOF (closed) or `bound` passes (still open).
pub async fn read_all<S: tokio::io::AsyncRead + Unpin>(
    stream: &mut S,
    bound: Duration,
) -> Exchange {
    let deadline = tokio::time::Instant::now() + bound;
    let mut raw = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let closed = loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => break false,
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            Ok(Ok(n)) => raw.extend_from_slice(&buf[..n]),
        }
    };
    let (responses, used) = parse_responses(&raw, closed);
    Exchange {
        responses,
        closed,
        trailing: raw[used..].to_vec(),
        raw,
    }
}

/// A simple request: `method target`, `Host`, `Connection: close`, and a JSON body when given.
pub fn request(method: &str, target: &str, body: Option<&str>) -> Vec<u8> {
    let mut out = format!("{method} {target} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n");
    if let Some(b) = body {
        out.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    out.push_str("\r\n");
    if let Some(b) = body {
        out.push_str(b);
    }
    out.into_bytes()
}

/// Sends one [`request`] and returns its answer (panics when there is none within 30 s).
pub async fn answer(
    addr: SocketAddr,
    method: &str,
    target: &str,
    body: Option<&str>,
) -> RawResponse {
    let ex = exchange_within(
        addr,
        &request(method, target, body),
        Duration::from_secs(30),
    )
    .await;
    ex.responses
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no answer to {method} {target}"))
}

/// Parses consecutive responses; returns them and how many bytes they used. A body without
/// framing runs to EOF when `eof` is set. Parsing stops at the first incomplete response.
pub fn parse_responses(raw: &[u8], eof: bool) -> (Vec<RawResponse>, usize) {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some((resp, used)) = parse_one(&raw[at..], eof) {
        out.push(resp);
        at += used;
        if out.last().is_some_and(|r| r.status == 101) {
            break;
        }
    }
    (out, at)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn parse_one(raw: &[u8], eof: bool) -> Option<(RawResponse, usize)> {
    let head_end = find(raw, b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..head_end]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut resp = RawResponse {
        status,
        headers,
        body: Vec::new(),
    };
    let body_start = head_end + 4;
    let rest = &raw[body_start..];
    if status == 101 || status == 204 || status == 304 || (100..200).contains(&status) {
        return Some((resp, body_start));
    }
    let chunked = resp
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    if chunked {
        let mut pos = 0;
        loop {
            let line_end = find(&rest[pos..], b"\r\n")?;
            let size_text = std::str::from_utf8(&rest[pos..pos + line_end]).ok()?;
            let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
            pos += line_end + 2;
            if size == 0 {
                // Trailers end with an empty line.
                let end = find(&rest[pos..], b"\r\n")?;
                pos += end + 2;
                return Some((resp, body_start + pos));
            }
            if rest.len() < pos + size + 2 {
                return None;
            }
            resp.body.extend_from_slice(&rest[pos..pos + size]);
            pos += size + 2;
        }
    }
    if let Some(len) = resp.header("content-length") {
        let len: usize = len.parse().ok()?;
        if rest.len() < len {
            return None;
        }
        resp.body = rest[..len].to_vec();
        return Some((resp, body_start + len));
    }
    if eof {
        resp.body = rest.to_vec();
        return Some((resp, raw.len()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pipelined_and_chunked_responses() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOKHTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n1\r\nd\r\n0\r\n\r\nHTTP/1.1 4";
        let (r, used) = parse_responses(raw, false);
        assert_eq!(
            r.iter().map(|r| r.status).collect::<Vec<_>>(),
            vec![200, 403]
        );
        assert_eq!(r[1].body, b"abcd");
        assert_eq!(&raw[used..], b"HTTP/1.1 4");
    }
}

/// How long [`upload`] waits for the answer and the end of the connection.
pub const UPLOAD_BOUND: Duration = Duration::from_secs(20);

/// The size of an upload sent to be refused or answered early: more than either proxy reads
/// and drops to keep a connection, and than the socket buffers on either side.
pub const BIG_UPLOAD: usize = 16 << 20;

/// The ways an upload answered early is sent: whole, or stalled after 1 MiB (the client
/// waits, and the answer must not wait for the rest), by length and chunked.
pub const EARLY_UPLOADS: [(&str, Framing, Option<usize>); 4] = [
    ("sent whole, by length", Framing::Length, None),
    ("sent whole, chunked", Framing::Chunked, None),
    (
        "stalled after 1 MiB, by length",
        Framing::Length,
        Some(1 << 20),
    ),
    (
        "stalled after 1 MiB, chunked",
        Framing::Chunked,
        Some(1 << 20),
    ),
];

/// How the body is framed on the wire.
#[derive(Debug, Clone, Copy)]
pub enum Framing {
    Length,
    Chunked,
}

/// Sends `head` (without its framing header and final CRLF) and `body`, all of
/// them unless `stall_after` says where to stop sending (the connection stays open); then
/// reads until EOF or [`UPLOAD_BOUND`]. Returns the answer and the first write error, if any: an
/// upload that a proxy refuses, or that its upstream answers early, must still be sent whole
/// and its answer read.
pub async fn upload(
    addr: SocketAddr,
    head: &str,
    framing: Framing,
    body: &[u8],
    stall_after: Option<usize>,
) -> (Exchange, Option<std::io::Error>) {
    let size = body.len();
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let framing_line = match framing {
        Framing::Length => format!("Content-Length: {size}\r\n"),
        Framing::Chunked => "Transfer-Encoding: chunked\r\n".to_owned(),
    };
    let mut failed = s
        .write_all(format!("{head}{framing_line}\r\n").as_bytes())
        .await
        .err();
    let mut sent = 0;
    while failed.is_none() && sent < size && stall_after.is_none_or(|n| sent < n) {
        let piece = &body[sent..size.min(sent + 64 * 1024)];
        let n = piece.len();
        let r = match framing {
            Framing::Length => s.write_all(piece).await,
            Framing::Chunked => {
                let mut chunk = format!("{n:x}\r\n").into_bytes();
                chunk.extend_from_slice(piece);
                chunk.extend_from_slice(b"\r\n");
                s.write_all(&chunk).await
            }
        };
        failed = r.err();
        sent += n;
    }
    if failed.is_none() && sent == size {
        if let Framing::Chunked = framing {
            failed = s.write_all(b"0\r\n\r\n").await.err();
        }
    }
    (read_all(&mut s, UPLOAD_BOUND).await, failed)
}

/// `openssl s_client` connected to `addr` over TLS with ALPN `h2` and `sni`, its stdin and
/// stdout piped (raw HTTP/2 frames in and out, no library in between), killed when dropped.
pub fn openssl_h2(addr: SocketAddr, sni: &str) -> tokio::process::Child {
    tokio::process::Command::new("openssl")
        .args(["s_client", "-quiet", "-alpn", "h2", "-servername", sni])
        .arg("-connect")
        .arg(addr.to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("openssl s_client runs")
}
