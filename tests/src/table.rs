//! Tables of hostile raw requests: each row is exact bytes for one connection, the statuses
//! expected back, whether the guard must close the connection, and checks on the REAL daemon
//! that the row had no effect (no container of the row's name, no file content in the answer).
//!
//! All rows run concurrently (they are independent), then every effect is checked, and every
//! mismatch of every row is reported at once.

use std::net::SocketAddr;

use crate::docker::container_exists;
use crate::http::{exchange, Exchange};

/// A request built byte by byte.
#[derive(Debug, Clone)]
pub struct Req {
    head: String,
    body: Vec<u8>,
    length: bool,
}

impl Req {
    /// `METHOD target HTTP/1.1` with `Host: docker`.
    pub fn new(method: &str, target: &str) -> Req {
        Req {
            head: format!("{method} {target} HTTP/1.1\r\nHost: docker\r\n"),
            body: Vec::new(),
            length: false,
        }
    }

    /// Adds one header line (without CRLF).
    pub fn header(mut self, line: &str) -> Req {
        self.head.push_str(line);
        self.head.push_str("\r\n");
        self
    }

    /// `Connection: close`.
    pub fn close(self) -> Req {
        self.header("Connection: close")
    }

    /// A JSON body with `Content-Type` and a correct `Content-Length`.
    pub fn json(mut self, body: &str) -> Req {
        self.head.push_str("Content-Type: application/json\r\n");
        self.body = body.as_bytes().to_vec();
        self.length = true;
        self
    }

    /// Bytes after the head, framed by whatever headers were given (or by nothing).
    pub fn raw_body(mut self, body: &[u8]) -> Req {
        self.body = body.to_vec();
        self.length = false;
        self
    }

    /// The bytes on the wire.
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = self.head.clone().into_bytes();
        if self.length {
            out.extend_from_slice(format!("Content-Length: {}\r\n", self.body.len()).as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }
}

/// One row: what is sent, to which guard, and what must (not) happen.
#[derive(Debug, Clone)]
pub struct Row {
    /// What the row tries.
    pub label: String,
    /// Index of the guard in the table's guard list.
    pub guard: usize,
    /// The exact bytes sent on one connection.
    pub bytes: Vec<u8>,
    /// The statuses expected, in order.
    pub want: Vec<u16>,
    /// Whether the answers are to HEAD requests (no bodies to parse).
    pub head: bool,
    /// `Some(true)`: the guard must close the connection by itself.
    pub closed: Option<bool>,
    /// A substring of the first response's JSON `message`.
    pub says: Option<String>,
    /// Containers that must not exist afterwards.
    pub absent: Vec<String>,
    /// Containers that must exist afterwards (controls: the row would have seen an effect).
    pub present: Vec<String>,
    /// Text that must not appear anywhere in what came back.
    pub hides: Vec<String>,
    /// Text that must appear (controls for `hides`).
    pub shows: Vec<String>,
}

impl Row {
    /// A row sending `bytes` to guard number `guard`.
    pub fn new(label: &str, guard: usize, bytes: Vec<u8>) -> Row {
        Row {
            label: label.to_owned(),
            guard,
            bytes,
            want: Vec::new(),
            head: false,
            closed: None,
            says: None,
            absent: Vec::new(),
            present: Vec::new(),
            hides: Vec::new(),
            shows: Vec::new(),
        }
    }

    /// The statuses expected.
    pub fn want(mut self, statuses: &[u16]) -> Row {
        self.want = statuses.to_vec();
        self
    }

    /// The requests are HEAD requests.
    pub fn head(mut self) -> Row {
        self.head = true;
        self
    }

    /// The guard must close the connection itself.
    pub fn closes(mut self) -> Row {
        self.closed = Some(true);
        self
    }

    /// The first answer's message contains `text`.
    pub fn says(mut self, text: &str) -> Row {
        self.says = Some(text.to_owned());
        self
    }

    /// No container named `name` may exist afterwards.
    pub fn no_container(mut self, name: &str) -> Row {
        self.absent.push(name.to_owned());
        self
    }

    /// A container named `name` must exist afterwards.
    pub fn creates(mut self, name: &str) -> Row {
        self.present.push(name.to_owned());
        self
    }

    /// `text` must not come back (compared without case).
    pub fn hides(mut self, text: &str) -> Row {
        self.hides.push(text.to_owned());
        self
    }

    /// `text` must come back (compared without case).
    pub fn shows(mut self, text: &str) -> Row {
        self.shows.push(text.to_owned());
        self
    }
}

/// Runs every row concurrently against `guards`, checks answers and effects, and returns one
/// line per mismatch (empty when the table passes).
pub async fn run_table(rows: Vec<Row>, guards: &[SocketAddr]) -> Vec<String> {
    let mut tasks = tokio::task::JoinSet::new();
    for (i, row) in rows.iter().enumerate() {
        let addr = guards[row.guard];
        let bytes = row.bytes.clone();
        tasks.spawn(async move { (i, exchange(addr, &bytes).await) });
    }
    let mut results: Vec<Option<Exchange>> = vec![None; rows.len()];
    while let Some(done) = tasks.join_next().await {
        let (i, ex) = done.expect("a row's task panicked");
        results[i] = Some(ex);
    }
    let mut failures = Vec::new();
    for (row, ex) in rows.iter().zip(results) {
        let ex = ex.expect("every row ran");
        let mut fail = |what: String| {
            failures.push(format!("[{}] {what}\n    got: {:?}", row.label, short(&ex)))
        };
        let statuses = if row.head {
            head_statuses(&ex.raw)
        } else {
            ex.statuses()
        };
        if statuses != row.want {
            fail(format!("statuses {statuses:?}, want {:?}", row.want));
        }
        if let Some(want) = row.closed {
            if ex.closed != want {
                fail(format!("connection closed={}, want {want}", ex.closed));
            }
        }
        if let Some(text) = &row.says {
            let msg = ex
                .responses
                .first()
                .and_then(|r| r.message())
                .unwrap_or_default();
            if !msg.contains(text.as_str()) {
                fail(format!("message {msg:?} lacks {text:?}"));
            }
        }
        let raw = ex.raw_text();
        // Header names are case-insensitive, so the answer is searched without case.
        let folded = raw.to_ascii_lowercase();
        for text in &row.hides {
            if folded.contains(&text.to_ascii_lowercase()) {
                fail(format!("the answer contains {text:?}"));
            }
        }
        for text in &row.shows {
            if !folded.contains(&text.to_ascii_lowercase()) {
                fail(format!("the answer lacks {text:?} (the control failed)"));
            }
        }
        for name in &row.absent {
            if container_exists(name) {
                fail(format!("container {name} was created"));
            }
        }
        for name in &row.present {
            if !container_exists(name) {
                fail(format!(
                    "container {name} was not created (the control failed)"
                ));
            }
        }
    }
    failures
}

/// Statuses of responses to HEAD requests (heads only, whatever Content-Length says).
fn head_statuses(raw: &[u8]) -> Vec<u16> {
    String::from_utf8_lossy(raw)
        .split("\r\n\r\n")
        .filter_map(|head| head.strip_prefix("HTTP/1.1 "))
        .filter_map(|rest| rest.get(..3)?.parse().ok())
        .collect()
}

fn short(ex: &Exchange) -> String {
    let raw = ex.raw_text();
    let cut: String = raw.chars().take(400).collect();
    format!("closed={} {cut}", ex.closed)
}
