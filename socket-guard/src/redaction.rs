//! The framing side of redaction ([`policies::redact`] decides what goes): a redacted answer
//! is a different length than the daemon's, so its head is rewritten with the new framing.
//!
//! - A whole answer (a list, an inspect) is read to its end, decoded, redacted, and sent with
//!   a `Content-Length`.
//! - A stream (`/events`) is rewritten line by line as it arrives, each batch of complete lines
//!   sent as one chunk (or, to an HTTP/1.0 client, as it is, the connection's end ending it):
//!   nothing waits for more than the line it is part of.

use std::collections::HashSet;
use std::sync::Arc;

use policies::redact::{self, Redact, RedactError};
use policies::scope::Scope;

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

/// What the visible scope does to an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeAnswer {
    /// A container list: only the containers in scope.
    List,
    /// `system df`: only the containers in scope.
    SystemDf,
    /// A network: only the containers in scope (by full ID) in its `Containers`.
    Network(Arc<HashSet<String>>),
    /// The events stream: only the container events of containers in scope, and the service
    /// events of these services (IDs, in scope when the stream opened).
    Events(Arc<HashSet<String>>),
    /// A service list: only the services in scope.
    Services,
    /// A task list: only the tasks of these services (IDs).
    Tasks(Arc<HashSet<String>>),
    /// A list of networks, volumes, services, secrets or configs: only the owner's.
    Owned(policies::owner::Owner, policies::owner::Kind),
}

/// How an allowed answer is rewritten before the client gets it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rewrite {
    /// Secrets taken out.
    pub redact: Option<Redact>,
    /// Objects outside the visible scope taken out.
    pub scope: Option<ScopeAnswer>,
}

impl Rewrite {
    /// Whether anything is rewritten.
    pub fn any(&self) -> bool {
        self.redact.is_some() || self.scope.is_some()
    }

    /// Whether the answer is a stream of JSON lines, rewritten line by line.
    pub fn is_stream(&self) -> bool {
        self.redact.is_some_and(Redact::is_stream)
            || matches!(self.scope, Some(ScopeAnswer::Events(_)))
    }

    /// A whole answer rewritten: the scope's filter, then redaction. Only the daemon's
    /// success (200) is rewritten; its errors (`{"message": ...}`) pass as they are.
    pub fn whole(&self, scope: &Scope, status: u16, body: &[u8]) -> Result<Vec<u8>, String> {
        if status != 200 {
            return Ok(body.to_vec());
        }
        let filtered = match &self.scope {
            Some(ScopeAnswer::List) => Some(scope.filter_list(body).map_err(|e| e.0)?),
            Some(ScopeAnswer::SystemDf) => Some(scope.filter_df(body).map_err(|e| e.0)?),
            Some(ScopeAnswer::Network(ids)) => {
                Some(Scope::filter_network(body, ids).map_err(|e| e.0)?)
            }
            Some(ScopeAnswer::Owned(owner, kind)) => {
                Some(owner.filter_list(*kind, body).map_err(|e| e.0)?)
            }
            Some(ScopeAnswer::Services) => Some(scope.filter_services(body).map_err(|e| e.0)?),
            Some(ScopeAnswer::Tasks(ids)) => Some(Scope::filter_tasks(body, ids).map_err(|e| e.0)?),
            Some(ScopeAnswer::Events(_)) | None => None,
        };
        let body = filtered.as_deref().unwrap_or(body);
        match self.redact {
            Some(kind) => redact::redact(kind, body).map_err(|e| e.to_string()),
            None => Ok(body.to_vec()),
        }
    }

    /// Whether the same daemon answer always gives the same rewrite (a network's depends on
    /// which containers are in scope now).
    fn memoisable(&self) -> bool {
        !matches!(
            self.scope,
            Some(ScopeAnswer::Network(_) | ScopeAnswer::Tasks(_))
        )
    }
}

/// How many redacted answers are remembered, and the largest one.
const MEMO_ENTRIES: usize = 8;
const MEMO_MAX: usize = 1 << 20;

/// The last answers redacted, with what they became: a client polling a list that has not
/// changed (a router after each event burst, a dashboard every few seconds) gets the same
/// daemon answer again, and a byte comparison costs a fraction of a rewrite. Entries are
/// matched on the whole answer's bytes, never on a hash.
#[derive(Debug, Default)]
pub struct Memo {
    entries: std::sync::Mutex<std::collections::VecDeque<Remembered>>,
}

#[derive(Debug)]
struct Remembered {
    rewrite: Rewrite,
    raw: Arc<[u8]>,
    out: Arc<[u8]>,
}

impl Memo {
    /// A whole answer rewritten ([`Rewrite::whole`]), remembered or made now.
    pub fn rewrite(
        &self,
        rewrite: &Rewrite,
        scope: &Scope,
        status: u16,
        body: Vec<u8>,
    ) -> Result<Arc<[u8]>, String> {
        if status != 200 || body.len() > MEMO_MAX || !rewrite.memoisable() {
            return rewrite.whole(scope, status, &body).map(Into::into);
        }
        {
            let mut entries = self
                .entries
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(i) = entries
                .iter()
                .position(|e| e.rewrite == *rewrite && *e.raw == body[..])
            {
                let hit = entries.remove(i).expect("the position found");
                let out = hit.out.clone();
                entries.push_front(hit);
                return Ok(out);
            }
        }
        let out: Arc<[u8]> = rewrite.whole(scope, status, &body)?.into();
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        entries.push_front(Remembered {
            rewrite: rewrite.clone(),
            raw: body.into(),
            out: out.clone(),
        });
        entries.truncate(MEMO_ENTRIES);
        Ok(out)
    }
}

/// How a rewritten stream is framed to the client: chunks, or (to an HTTP/1.0 client) the
/// bytes as they are, the connection's end ending them. A chunk's data is written straight
/// after a size placeholder that is filled in once the data is there (a chunk size may have
/// leading zeros), so the data is not copied again.
#[derive(Debug, Clone, Copy)]
pub struct Frame {
    /// Chunked framing.
    pub chunked: bool,
}

/// Eight hex digits: room for any chunk this writes.
const SIZE_DIGITS: usize = 8;

impl Frame {
    /// Starts a piece of data at the end of `out`; returns where it starts.
    pub fn begin(self, out: &mut Vec<u8>) -> usize {
        let mark = out.len();
        if self.chunked {
            out.extend_from_slice(b"00000000\r\n");
        }
        mark
    }

    /// Ends the piece begun at `mark` (and the body, when `last`); returns the data's length.
    pub fn end(self, out: &mut Vec<u8>, mark: usize, last: bool) -> usize {
        if !self.chunked {
            return out.len() - mark;
        }
        let len = out.len() - mark - SIZE_DIGITS - 2;
        if len == 0 {
            out.truncate(mark);
        } else {
            let hex = format!("{len:08x}");
            out[mark..mark + SIZE_DIGITS]
                .copy_from_slice(&hex.as_bytes()[hex.len() - SIZE_DIGITS..]);
            out.extend_from_slice(b"\r\n");
        }
        if last {
            out.extend_from_slice(LAST_CHUNK);
        }
        len
    }
}

/// The last chunk.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// Rewrites a stream of JSON lines as its bytes arrive: drops the lines outside the visible
/// scope (when there is one), redacts the others (when asked).
#[derive(Debug)]
pub struct Lines {
    redact: Option<Redact>,
    scope: Option<Scope>,
    pending: Vec<u8>,
}

impl Lines {
    /// A rewriter.
    pub fn new(redact: Option<Redact>, scope: Option<Scope>) -> Lines {
        Lines {
            redact,
            scope,
            pending: Vec::new(),
        }
    }

    /// The complete lines at the start of `input`, rewritten into `out`; how many bytes were
    /// used.
    fn lines(&self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, RedactError> {
        let Some(scope) = &self.scope else {
            return match self.redact {
                Some(kind) => redact::redact_lines(kind, input, out),
                None => {
                    let used = memchr::memrchr(b'\n', input).map_or(0, |i| i + 1);
                    out.extend_from_slice(&input[..used]);
                    Ok(used)
                }
            };
        };
        let mut used = 0;
        while let Some(nl) = memchr::memchr(b'\n', &input[used..]) {
            let line = &input[used..used + nl + 1];
            used += nl + 1;
            if line.iter().all(u8::is_ascii_whitespace) || !scope.admits_event(line) {
                continue;
            }
            match self.redact {
                Some(kind) => {
                    redact::redact_lines(kind, line, out)?;
                }
                None => out.extend_from_slice(line),
            }
        }
        Ok(used)
    }

    /// Takes decoded body bytes; appends the redacted complete lines to `out`. A line longer
    /// than [`REDACT_MAX`] is refused.
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), RedactError> {
        if self.pending.is_empty() {
            // The usual case: no partial line waiting, the new bytes are read where they are.
            let used = self.lines(data, out)?;
            self.pending.extend_from_slice(&data[used..]);
        } else {
            self.pending.extend_from_slice(data);
            let pending = std::mem::take(&mut self.pending);
            let used = self.lines(&pending, out);
            self.pending = pending;
            self.pending.drain(..used?);
        }
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
        let pending = std::mem::take(&mut self.pending);
        self.lines(&pending, out)?;
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
    fn frames_are_chunks_with_their_sizes() {
        let frame = Frame { chunked: true };
        let mut out = b"head".to_vec();
        let mark = frame.begin(&mut out);
        out.extend_from_slice(b"hello");
        assert_eq!(frame.end(&mut out, mark, false), 5);
        let mark = frame.begin(&mut out);
        assert_eq!(frame.end(&mut out, mark, true), 0);
        assert_eq!(out, b"head00000005\r\nhello\r\n0\r\n\r\n");
        let decoded = decode_whole(BodyFraming::Chunked, &out[4..]).unwrap();
        assert_eq!(decoded, b"hello");
    }

    fn redacting(kind: Redact) -> Rewrite {
        Rewrite {
            redact: Some(kind),
            scope: None,
        }
    }

    #[test]
    fn the_memo_gives_the_same_answer_for_the_same_bytes_only() {
        let memo = Memo::default();
        let all = Scope::default();
        let list = redacting(Redact::ContainerList);
        let a = br#"[{"Command":"s3cr3t a"}]"#.to_vec();
        let b = br#"[{"Command":"s3cr3t b"}]"#.to_vec();
        let first = memo.rewrite(&list, &all, 200, a.clone()).unwrap();
        let again = memo.rewrite(&list, &all, 200, a.clone()).unwrap();
        assert!(std::sync::Arc::ptr_eq(&first, &again));
        let other = memo.rewrite(&list, &all, 200, b).unwrap();
        assert!(!std::sync::Arc::ptr_eq(&first, &other));
        assert!(!String::from_utf8_lossy(&other).contains("s3cr3t"));
        // The same bytes under another rewrite are not that rewrite's answer.
        let inspect = redacting(Redact::ContainerInspect);
        assert!(memo.rewrite(&inspect, &all, 200, a).is_err());
        let error = memo
            .rewrite(&list, &all, 500, b"{\"message\":\"x\"}".to_vec())
            .unwrap();
        assert_eq!(&*error, b"{\"message\":\"x\"}");
    }

    #[test]
    fn a_scoped_list_is_filtered_then_redacted() {
        let scope = Scope::parse(Some("keep=1"), None).unwrap();
        let rewrite = Rewrite {
            redact: Some(Redact::ContainerList),
            scope: Some(ScopeAnswer::List),
        };
        let body =
            br#"[{"Id":"a","Labels":{"keep":"1"},"Command":"s3cr3t"},{"Id":"b","Labels":{}}]"#;
        let out = rewrite.whole(&scope, 200, body).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains(r#""Id":"a""#) && !text.contains(r#""Id":"b""#),
            "{text}"
        );
        assert!(!text.contains("s3cr3t"), "{text}");
    }

    #[test]
    fn scoped_events_keep_the_containers_in_scope_only() {
        let scope = Scope::parse(Some("keep=1"), None).unwrap();
        let mut lines = Lines::new(Some(Redact::Events), Some(scope));
        let mut out = Vec::new();
        lines
            .feed(
                b"{\"Type\":\"container\",\"Action\":\"exec_start: s3cr3t\",\"Actor\":{\"ID\":\"a\",\"Attributes\":{\"keep\":\"1\",\"name\":\"a\"}}}\n{\"Type\":\"container\",\"Action\":\"start\",\"Actor\":{\"ID\":\"b\",\"Attributes\":{\"name\":\"b\"}}}\n{\"Type\":\"network\",\"Action\":\"connect\"}\n",
                &mut out,
            )
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains("exec_start: [redacted]"), "{text}");
    }

    #[test]
    fn scoped_lines_split_anywhere_keep_the_same_events() {
        let stream = b"{\"Type\":\"container\",\"Action\":\"start\",\"Actor\":{\"ID\":\"a\",\"Attributes\":{\"keep\":\"1\",\"name\":\"a\"}}}\n{\"Type\":\"container\",\"Action\":\"start\",\"Actor\":{\"ID\":\"b\",\"Attributes\":{\"name\":\"b\"}}}\n{\"Type\":\"service\",\"Action\":\"update\",\"Actor\":{\"ID\":\"s1\",\"Attributes\":{\"name\":\"web\"}}}\n{\"Type\":\"service\",\"Action\":\"update\",\"Actor\":{\"ID\":\"s2\",\"Attributes\":{\"name\":\"db\"}}}";
        let services: HashSet<String> = ["s1".to_owned()].into();
        let scope = Scope::parse(Some("keep=1"), None)
            .unwrap()
            .with_services(Arc::new(services));
        for split in 0..stream.len() {
            let mut lines = Lines::new(None, Some(scope.clone()));
            let mut out = Vec::new();
            lines.feed(&stream[..split], &mut out).unwrap();
            lines.feed(&stream[split..], &mut out).unwrap();
            lines.finish(&mut out).unwrap();
            let text = String::from_utf8(out).unwrap();
            assert_eq!(text.lines().count(), 2, "{split}: {text}");
            assert!(
                text.contains(r#""ID":"a""#) && text.contains(r#""ID":"s1""#),
                "{split}: {text}"
            );
        }
    }

    #[test]
    fn lines_split_anywhere_come_out_whole_and_redacted() {
        let stream = b"{\"Action\":\"exec_start: sh -c s3cr3t\"}\n{\"Action\":\"start\"}\n{\"Action\":\"exec_create: s3cr3t\"}";
        for split in 0..stream.len() {
            let mut lines = Lines::new(Some(Redact::Events), None);
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
