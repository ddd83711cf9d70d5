//! Redaction in one pass over the bytes: the document is scanned (strictly: what is not JSON is
//! an error), everything is copied as it is except the values at the rules' paths, which are
//! replaced. No tree is built, so a 50-container list costs about a copy, not a parse and a
//! serialisation.

use super::{RedactError, MARKER};

/// What becomes of a value a rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Action {
    /// A string becomes the marker (anything else that holds something too).
    Str,
    /// A list keeps its length, each item the marker.
    List,
    /// An environment list keeps each `NAME=`.
    Env,
    /// A string becomes `""` (base64 data).
    Empty,
    /// An event's action: `exec_create: <command>` and `exec_start: <command>` keep their
    /// action name; anything else stays.
    Exec,
}

/// One step of a path: an object's key, or any item of a list.
#[derive(Debug, Clone, Copy)]
pub(super) enum Seg {
    Key(&'static str),
    Item,
}

/// A value to replace: where, and how.
#[derive(Debug, Clone, Copy)]
pub(super) struct Rule {
    pub path: &'static [Seg],
    pub action: Action,
}

/// What the document's root must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Root {
    Array,
    Object,
    Either,
}

/// A step of the path being scanned: a key as written (without quotes), or a list item.
#[derive(Debug, Clone, Copy)]
enum At<'a> {
    Key { raw: &'a [u8], escaped: bool },
    Item,
}

impl At<'_> {
    fn is(&self, seg: &Seg) -> bool {
        match (self, seg) {
            (At::Item, Seg::Item) => true,
            (
                At::Key {
                    raw,
                    escaped: false,
                },
                Seg::Key(k),
            ) => *raw == k.as_bytes(),
            (At::Key { raw, escaped: true }, Seg::Key(k)) => decode(raw).is_some_and(|d| d == *k),
            _ => false,
        }
    }
}

/// Decodes a JSON string's contents (between the quotes).
fn decode(raw: &[u8]) -> Option<String> {
    let mut quoted = Vec::with_capacity(raw.len() + 2);
    quoted.push(b'"');
    quoted.extend_from_slice(raw);
    quoted.push(b'"');
    serde_json::from_slice(&quoted).ok()
}

/// Deeper than any answer the daemon gives; a deeper document is refused.
const MAX_DEPTH: usize = 128;

struct Scan<'a> {
    input: &'a [u8],
    pos: usize,
    out: Vec<u8>,
    /// Input before this index is in `out` already.
    copied: usize,
    rules: &'static [Rule],
    path: Vec<At<'a>>,
}

fn bad(what: &'static str) -> RedactError {
    RedactError::NotJson(what.to_owned())
}

impl<'a> Scan<'a> {
    fn ws(&mut self) {
        while self
            .input
            .get(self.pos)
            .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn expect(&mut self, b: u8, what: &'static str) -> Result<(), RedactError> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(bad(what))
        }
    }

    /// A string starting at `pos` (its opening quote): its contents' span, and whether they
    /// hold an escape. The bytes between quotes and escapes are skipped with `memchr`, unread:
    /// only `"` and `\\` shape the document, so a raw control character (which the daemon
    /// never writes) cannot move what is redacted, and is passed as it came.
    fn string(&mut self) -> Result<(usize, usize, bool), RedactError> {
        self.expect(b'"', "expected a string")?;
        let start = self.pos;
        let mut escaped = false;
        loop {
            let rest = &self.input[self.pos..];
            let Some(i) = memchr::memchr2(b'"', b'\\', rest) else {
                return Err(bad("unterminated string"));
            };
            self.pos += i;
            if rest[i] == b'"' {
                let end = self.pos;
                self.pos += 1;
                return Ok((start, end, escaped));
            }
            escaped = true;
            self.pos += 1;
            match self.peek() {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.pos += 1,
                Some(b'u') => {
                    let hex = self.input.get(self.pos + 1..self.pos + 5);
                    if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                        return Err(bad("invalid \\u escape"));
                    }
                    self.pos += 5;
                }
                _ => return Err(bad("invalid escape")),
            }
        }
    }

    fn literal(&mut self) -> Result<(), RedactError> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.'))
        {
            self.pos += 1;
        }
        let word = &self.input[start..self.pos];
        if matches!(word, b"true" | b"false" | b"null") || number(word) {
            Ok(())
        } else {
            Err(bad("invalid literal"))
        }
    }

    fn matching(&self) -> Option<Action> {
        self.rules
            .iter()
            .find(|r| {
                r.path.len() == self.path.len()
                    && r.path.iter().zip(&self.path).all(|(s, a)| a.is(s))
            })
            .map(|r| r.action)
    }

    /// One value, copied or replaced.
    fn value(&mut self) -> Result<(), RedactError> {
        if self.path.len() > MAX_DEPTH {
            return Err(RedactError::Shape("document of a bounded depth"));
        }
        self.ws();
        if let Some(action) = self.matching() {
            return self.replace(action);
        }
        match self.peek() {
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => self.string().map(|_| ()),
            Some(_) => self.literal(),
            None => Err(bad("unexpected end")),
        }
    }

    fn object(&mut self) -> Result<(), RedactError> {
        self.expect(b'{', "expected an object")?;
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.ws();
            let (start, end, escaped) = self.string()?;
            self.ws();
            self.expect(b':', "expected ':'")?;
            self.path.push(At::Key {
                raw: &self.input[start..end],
                escaped,
            });
            let v = self.value();
            self.path.pop();
            v?;
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(bad("expected ',' or '}'")),
            }
        }
    }

    fn array(&mut self) -> Result<(), RedactError> {
        self.expect(b'[', "expected a list")?;
        self.ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.path.push(At::Item);
            let v = self.value();
            self.path.pop();
            v?;
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(bad("expected ',' or ']'")),
            }
        }
    }

    /// Skips one value (checking it), without copying or matching anything inside.
    fn skip(&mut self) -> Result<(), RedactError> {
        let rules = std::mem::take(&mut self.rules);
        let depth = self.path.len();
        // Inside a replaced value nothing matches: an empty rule set, a path that only
        // bounds the depth.
        let r = self.value();
        self.rules = rules;
        self.path.truncate(depth);
        r
    }

    /// The replacement of the value at `pos` for `action`, written in place of its bytes.
    fn replace(&mut self, action: Action) -> Result<(), RedactError> {
        let start = self.pos;
        let mut text = Vec::new();
        match (self.peek(), action) {
            (Some(b'['), Action::List | Action::Env) => {
                self.pos += 1;
                text.push(b'[');
                self.ws();
                if self.peek() == Some(b']') {
                    self.pos += 1;
                } else {
                    loop {
                        self.ws();
                        let item = self.pos;
                        self.skip()?;
                        let raw = &self.input[item..self.pos];
                        item_text(raw, action, &mut text);
                        self.ws();
                        match self.peek() {
                            Some(b',') => {
                                self.pos += 1;
                                text.push(b',');
                            }
                            Some(b']') => {
                                self.pos += 1;
                                break;
                            }
                            _ => return Err(bad("expected ',' or ']'")),
                        }
                    }
                }
                text.push(b']');
            }
            _ => {
                self.skip()?;
                let raw = &self.input[start..self.pos];
                whole_text(raw, action, &mut text);
            }
        }
        self.out.extend_from_slice(&self.input[self.copied..start]);
        self.out.extend_from_slice(&text);
        self.copied = self.pos;
        Ok(())
    }
}

/// A JSON number: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
fn number(w: &[u8]) -> bool {
    let digits = |w: &[u8]| w.iter().take_while(|b| b.is_ascii_digit()).count();
    let w = w.strip_prefix(b"-").unwrap_or(w);
    let int = digits(w);
    if int == 0 || (int > 1 && w[0] == b'0') {
        return false;
    }
    let mut rest = &w[int..];
    if let Some(r) = rest.strip_prefix(b".") {
        let frac = digits(r);
        if frac == 0 {
            return false;
        }
        rest = &r[frac..];
    }
    if let Some(r) = rest.strip_prefix(b"e").or_else(|| rest.strip_prefix(b"E")) {
        let r = r
            .strip_prefix(b"+")
            .or_else(|| r.strip_prefix(b"-"))
            .unwrap_or(r);
        let exp = digits(r);
        if exp == 0 {
            return false;
        }
        rest = &r[exp..];
    }
    rest.is_empty()
}

fn marker_json(out: &mut Vec<u8>) {
    out.push(b'"');
    out.extend_from_slice(MARKER.as_bytes());
    out.push(b'"');
}

/// A value that holds nothing: `null` or `""`.
fn empty(raw: &[u8]) -> bool {
    raw == b"null" || raw == b"\"\""
}

/// A whole matched value (not a list handled item by item).
fn whole_text(raw: &[u8], action: Action, out: &mut Vec<u8>) {
    if action == Action::Exec {
        return exec_text(raw, out);
    }
    if empty(raw) {
        out.extend_from_slice(raw);
    } else if action == Action::Empty && raw.first() == Some(&b'"') {
        out.extend_from_slice(b"\"\"");
    } else {
        marker_json(out);
    }
}

/// The actions whose text carries the command they ran.
const EXEC_ACTIONS: [&str; 2] = ["exec_create", "exec_start"];

/// An event's action: the command after an exec action's name goes.
fn exec_text(raw: &[u8], out: &mut Vec<u8>) {
    // The daemon's own spelling, escape-free: answered without decoding.
    for action in EXEC_ACTIONS {
        // Only the action name is kept, so only it must be escape-free.
        let plain = raw
            .strip_prefix(b"\"")
            .and_then(|r| r.strip_prefix(action.as_bytes()));
        if plain.is_some_and(|r| r.starts_with(b":")) {
            out.push(b'"');
            out.extend_from_slice(action.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(MARKER.as_bytes());
            out.push(b'"');
            return;
        }
    }
    let text = (raw.first() == Some(&b'"'))
        .then(|| decode(&raw[1..raw.len() - 1]))
        .flatten();
    let exec = text.as_deref().and_then(|t| {
        let (action, _) = t.split_once(':')?;
        EXEC_ACTIONS.contains(&action.trim()).then_some(action)
    });
    match exec {
        Some(action) => {
            let kept = format!("{action}: {MARKER}");
            out.extend_from_slice(
                serde_json::to_string(&kept)
                    .unwrap_or_else(|_| format!("\"{MARKER}\""))
                    .as_bytes(),
            );
        }
        None => out.extend_from_slice(raw),
    }
}

/// One item of a matched list.
fn item_text(raw: &[u8], action: Action, out: &mut Vec<u8>) {
    if empty(raw) {
        out.extend_from_slice(raw);
        return;
    }
    if action == Action::Env && raw.first() == Some(&b'"') {
        if let Some(s) = decode(&raw[1..raw.len() - 1]) {
            if let Some((name, _)) = s.split_once('=') {
                let kept = format!("{name}={MARKER}");
                out.extend_from_slice(
                    serde_json::to_string(&kept)
                        .unwrap_or_else(|_| format!("\"{MARKER}\""))
                        .as_bytes(),
                );
                return;
            }
        }
    }
    marker_json(out);
}

/// Redacts `input` by `rules`; its root must be `root`.
pub(super) fn redact(
    input: &[u8],
    rules: &'static [Rule],
    root: Root,
) -> Result<Vec<u8>, RedactError> {
    let mut s = Scan {
        input,
        pos: 0,
        out: Vec::with_capacity(input.len()),
        copied: 0,
        rules,
        path: Vec::with_capacity(8),
    };
    s.ws();
    let ok_root = match (s.peek(), root) {
        (Some(b'['), Root::Array | Root::Either) | (Some(b'{'), Root::Object | Root::Either) => {
            true
        }
        (Some(b'[' | b'{'), _) => false,
        (Some(_), _) => {
            // Not a container at all: checked as JSON first, for the right error.
            s.value()?;
            false
        }
        (None, _) => return Err(bad("empty answer")),
    };
    if !ok_root {
        return Err(RedactError::Shape(match root {
            Root::Array => "list",
            Root::Object => "object",
            Root::Either => "list or object",
        }));
    }
    s.value()?;
    s.ws();
    if s.pos != input.len() {
        return Err(bad("trailing characters"));
    }
    s.out.extend_from_slice(&input[s.copied..]);
    Ok(s.out)
}
