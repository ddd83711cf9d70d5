//! Redis's wire protocol (RESP2, what every Redis from 2.0 to 7 speaks by default): commands
//! are arrays of bulk strings, replies one of five types. Pure: bytes in, values out, so it
//! is property tested without a server.

/// A reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`.
    Simple(String),
    /// `-ERR ...`: the server refused the command.
    Error(String),
    /// `:42`.
    Int(i64),
    /// `$5 hello`, or `$-1` (none).
    Bulk(Option<Vec<u8>>),
    /// `*2 ...`, or `*-1` (none).
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// A bulk or simple string as text (`None` for a missing value or another type).
    pub fn text(&self) -> Option<String> {
        match self {
            Reply::Bulk(Some(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            Reply::Simple(s) => Some(s.clone()),
            _ => None,
        }
    }

    /// The items of an array (none for another type).
    pub fn items(&self) -> &[Reply] {
        match self {
            Reply::Array(Some(v)) => v,
            _ => &[],
        }
    }
}

/// The most a bulk string or an array may declare: a reply bigger than this is a broken or
/// hostile server, not a configuration.
pub const MAX_LEN: usize = 64 << 20;

/// A command's bytes.
pub fn command<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        let a = a.as_ref();
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// One reply at the start of `buf`: `Ok(Some((reply, bytes used)))`, `Ok(None)` when more bytes
/// are needed, `Err` when the bytes are not RESP.
pub fn parse(buf: &[u8]) -> Result<Option<(Reply, usize)>, String> {
    parse_at(buf, 0, 0)
}

fn parse_at(buf: &[u8], at: usize, depth: usize) -> Result<Option<(Reply, usize)>, String> {
    if depth > 16 {
        return Err("a reply nested too deeply".into());
    }
    let Some(end) = line_end(buf, at) else {
        return Ok(None);
    };
    let Some(&kind) = buf.get(at) else {
        return Ok(None);
    };
    // A line with no type byte (CRLF where the reply starts).
    if end == at {
        return Err("an empty reply line".into());
    }
    let line = std::str::from_utf8(&buf[at + 1..end])
        .map_err(|_| "a reply line that is not UTF-8".to_owned())?;
    let next = end + 2;
    match kind {
        b'+' => Ok(Some((Reply::Simple(line.to_owned()), next))),
        b'-' => Ok(Some((Reply::Error(line.to_owned()), next))),
        b':' => Ok(Some((Reply::Int(number(line)?), next))),
        b'$' => {
            let n = number(line)?;
            if n < 0 {
                return Ok(Some((Reply::Bulk(None), next)));
            }
            let n = length(n)?;
            if buf.len() < next + n + 2 {
                return Ok(None);
            }
            if &buf[next + n..next + n + 2] != b"\r\n" {
                return Err("a bulk string not ended by CRLF".into());
            }
            Ok(Some((
                Reply::Bulk(Some(buf[next..next + n].to_vec())),
                next + n + 2,
            )))
        }
        b'*' => {
            let n = number(line)?;
            if n < 0 {
                return Ok(Some((Reply::Array(None), next)));
            }
            let n = length(n)?;
            let mut items = Vec::with_capacity(n.min(1024));
            let mut pos = next;
            for _ in 0..n {
                match parse_at(buf, pos, depth + 1)? {
                    Some((r, p)) => {
                        items.push(r);
                        pos = p;
                    }
                    None => return Ok(None),
                }
            }
            Ok(Some((Reply::Array(Some(items)), pos)))
        }
        other => Err(format!("an unknown reply type {:?}", other as char)),
    }
}

fn line_end(buf: &[u8], from: usize) -> Option<usize> {
    buf.get(from..)?
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|p| from + p)
}

fn number(line: &str) -> Result<i64, String> {
    line.parse()
        .map_err(|_| format!("{line:?} is not a number"))
}

fn length(n: i64) -> Result<usize, String> {
    usize::try_from(n)
        .ok()
        .filter(|n| *n <= MAX_LEN)
        .ok_or_else(|| format!("a reply of {n} items or bytes"))
}

/// Escapes the glob characters of `s` for `SCAN MATCH` and `PSUBSCRIBE` patterns.
pub fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn encode(r: &Reply) -> Vec<u8> {
        match r {
            Reply::Simple(s) => format!("+{s}\r\n").into_bytes(),
            Reply::Error(s) => format!("-{s}\r\n").into_bytes(),
            Reply::Int(i) => format!(":{i}\r\n").into_bytes(),
            Reply::Bulk(None) => b"$-1\r\n".to_vec(),
            Reply::Bulk(Some(b)) => {
                let mut v = format!("${}\r\n", b.len()).into_bytes();
                v.extend_from_slice(b);
                v.extend_from_slice(b"\r\n");
                v
            }
            Reply::Array(None) => b"*-1\r\n".to_vec(),
            Reply::Array(Some(items)) => {
                let mut v = format!("*{}\r\n", items.len()).into_bytes();
                for i in items {
                    v.extend(encode(i));
                }
                v
            }
        }
    }

    fn reply() -> impl Strategy<Value = Reply> {
        let leaf = prop_oneof![
            "[a-zA-Z0-9 ]{0,12}".prop_map(Reply::Simple),
            "[a-zA-Z0-9 ]{0,12}".prop_map(Reply::Error),
            any::<i64>().prop_map(Reply::Int),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40))
                .prop_map(Reply::Bulk),
        ];
        leaf.prop_recursive(3, 24, 6, |inner| {
            proptest::option::of(proptest::collection::vec(inner, 0..6)).prop_map(Reply::Array)
        })
    }

    proptest! {
        #[test]
        fn replies_parse_whole_and_not_before(r in reply()) {
            let bytes = encode(&r);
            for cut in 0..bytes.len() {
                prop_assert_eq!(parse(&bytes[..cut]).unwrap(), None);
            }
            let mut more = bytes.clone();
            more.extend_from_slice(b"+next\r\n");
            prop_assert_eq!(parse(&more).unwrap(), Some((r, bytes.len())));
        }

        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = parse(&b);
        }
    }

    /// A reply line with no type byte (a bare CRLF, found by the property above) is an
    /// error, at the top and inside an array, not a panic.
    #[test]
    fn an_empty_reply_line_is_an_error() {
        assert!(parse(b"\r\n").is_err());
        assert!(parse(b"*1\r\n\r\n").is_err());
    }

    #[test]
    fn commands_are_arrays_of_bulk_strings() {
        assert_eq!(
            command(&["SET", "a/b", ""]),
            b"*3\r\n$3\r\nSET\r\n$3\r\na/b\r\n$0\r\n\r\n"
        );
    }

    #[test]
    fn hostile_lengths_are_errors_not_allocations() {
        assert!(parse(b"$99999999999\r\n").is_err());
        assert!(parse(b"*99999999999\r\n").is_err());
        assert!(parse(b"?x\r\n").is_err());
    }

    #[test]
    fn glob_characters_are_escaped() {
        assert_eq!(glob_escape("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
    }
}
