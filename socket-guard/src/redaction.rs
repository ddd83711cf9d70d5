//! The framing side of redaction ([`policies::redact`] decides what goes): a redacted answer
//! is a different length than the daemon's, so its head is rewritten with the new framing.
//!
//! - A whole answer (a list, an inspect) is read to its end, decoded, redacted, and sent with
//!   a `Content-Length`.
//! - A stream (`/events`) is rewritten line by line as it arrives, each batch of complete lines
//!   sent as one chunk (or, to an HTTP/1.0 client, as it is, the connection's end ending it):
//!   nothing waits for more than the line it is part of.

use policies::redact::{self, Redact, RedactError};

use crate::framing::{BodyFraming, BodyLeft, FramingError};

/// The largest answer read whole to be redacted (a container list of thousands of containers
/// is a few MiB); a larger one is refused rather than passed on unredacted.
pub const REDACT_MAX: usize = 64 << 20;

/// The daemon's head without its framing headers (`Content-Length`, `Transfer-Encoding`).
fn without_framing(head: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(head.len() + 32);
    for (i, line) in head.split_inclusive(|&b| b == b'\n').enumerate() {
        let name = line.split(|&b| b == b':').next().unwrap_or_default();
        let framing = i > 0
            && (name.eq_ignore_ascii_case(b"content-length")
                || name.eq_ignore_ascii_case(b"transfer-encoding"));
        if !framing {
            out.extend_from_slice(line);
        }
    }
    out
}

/// The daemon's head, framed by `len` bytes.
pub fn head_with_length(head: &[u8], len: usize) -> Vec<u8> {
    let mut out = without_framing(head);
    out.extend_from_slice(b"Content-Length: ");
    out.extend_from_slice(itoa::Buffer::new().format(len).as_bytes());
    out.extend_from_slice(b"\r\n");
    out
}

/// The daemon's head, framed by chunks (`chunked`) or by the connection's end.
pub fn head_for_stream(head: &[u8], chunked: bool) -> Vec<u8> {
    let mut out = without_framing(head);
    if chunked {
        out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
    }
    out
}

/// A complete framed body (as a shared answer keeps it), decoded.
pub fn decode_whole(framing: BodyFraming, raw: &[u8]) -> Result<Vec<u8>, FramingError> {
    let mut data = Vec::with_capacity(raw.len());
    let mut left = BodyLeft::new(framing);
    left.take(raw, Some(&mut data))?;
    Ok(data)
}

/// What a whole answer becomes: redacted when it is the daemon's success (its errors are
/// `{"message": ...}`, passed as they are).
pub fn redact_whole(kind: Redact, status: u16, body: Vec<u8>) -> Result<Vec<u8>, RedactError> {
    if status == 200 {
        redact::redact(kind, &body)
    } else {
        Ok(body)
    }
}

/// Appends `data` to `out` as one chunk (nothing for empty data: an empty chunk would end
/// the body).
pub fn push_chunk(out: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// The last chunk.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// Rewrites a stream of JSON lines as its bytes arrive.
#[derive(Debug)]
pub struct Lines {
    kind: Redact,
    pending: Vec<u8>,
}

impl Lines {
    /// A rewriter for `kind`.
    pub fn new(kind: Redact) -> Lines {
        Lines {
            kind,
            pending: Vec::new(),
        }
    }

    /// Takes decoded body bytes; appends the redacted complete lines to `out`. A line longer
    /// than [`REDACT_MAX`] is refused.
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), RedactError> {
        self.pending.extend_from_slice(data);
        let used = redact::redact_lines(self.kind, &self.pending, out)?;
        self.pending.drain(..used);
        if self.pending.len() > REDACT_MAX {
            return Err(RedactError::Shape("event line of a bounded size"));
        }
        Ok(())
    }

    /// At the stream's end: a last line without its newline, redacted.
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), RedactError> {
        if self.pending.iter().all(u8::is_ascii_whitespace) {
            out.append(&mut self.pending);
            return Ok(());
        }
        self.pending.push(b'\n');
        let used = redact::redact_lines(self.kind, &self.pending, out)?;
        self.pending.drain(..used);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_lose_their_framing_and_get_ours() {
        let head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 99\r\nApi-Version: 1.41\r\n";
        assert_eq!(
            head_with_length(head, 12),
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nApi-Version: 1.41\r\nContent-Length: 12\r\n".to_vec()
        );
        let head =
            b"HTTP/1.1 200 OK\r\nTRANSFER-ENCODING: chunked\r\nDocker-Experimental: false\r\n";
        assert_eq!(
            head_for_stream(head, true),
            b"HTTP/1.1 200 OK\r\nDocker-Experimental: false\r\nTransfer-Encoding: chunked\r\n"
                .to_vec()
        );
    }

    #[test]
    fn a_chunked_shared_answer_decodes() {
        let raw = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
        assert_eq!(
            decode_whole(BodyFraming::Chunked, raw).unwrap(),
            b"hello world"
        );
        assert_eq!(
            decode_whole(BodyFraming::Length(3), b"abc").unwrap(),
            b"abc"
        );
    }

    #[test]
    fn lines_split_anywhere_come_out_whole_and_redacted() {
        let stream = b"{\"Action\":\"exec_start: sh -c s3cr3t\"}\n{\"Action\":\"start\"}\n{\"Action\":\"exec_create: s3cr3t\"}";
        for split in 0..stream.len() {
            let mut lines = Lines::new(Redact::Events);
            let mut out = Vec::new();
            lines.feed(&stream[..split], &mut out).unwrap();
            lines.feed(&stream[split..], &mut out).unwrap();
            lines.finish(&mut out).unwrap();
            let text = String::from_utf8(out).unwrap();
            assert!(!text.contains("s3cr3t"), "{split}: {text}");
            assert_eq!(text.lines().count(), 3, "{split}: {text}");
        }
    }
}
