//! Lexing: text and actions, and an action's words.

use super::value::*;

#[derive(Debug)]
pub(super) enum Tok {
    Text(String),
    /// An action's text (without delimiters and trim markers) and its line.
    Action(String, usize),
}

pub(super) fn line_at(text: &str, byte: usize) -> usize {
    text[..byte].matches('\n').count() + 1
}

/// Splits `text` into text and actions, applying trim markers and dropping comments.
pub(super) fn lex(text: &str) -> Result<Vec<Tok>, String> {
    let mut toks = Vec::new();
    let mut pos = 0;
    let mut trim_next = false;
    while let Some(found) = text[pos..].find("{{") {
        let start = pos + found;
        let line = line_at(text, start);
        let mut literal = &text[pos..start];
        if trim_next {
            literal = literal.trim_start();
        }
        let mut body_start = start + 2;
        let after = &text[body_start..];
        if after.starts_with('-') && after[1..].starts_with(char::is_whitespace) {
            literal = literal.trim_end();
            body_start += 1;
        }
        if !literal.is_empty() {
            toks.push(Tok::Text(literal.to_owned()));
        }
        let body_end = action_end(text, body_start)
            .ok_or_else(|| format!("line {line}: unclosed action {:?}", head(&text[start..])))?;
        let mut body = &text[body_start..body_end];
        trim_next = false;
        if let Some(b) = body.strip_suffix('-') {
            if b.ends_with(char::is_whitespace) {
                trim_next = true;
                body = b;
            }
        }
        pos = body_end + 2;
        let t = body.trim();
        if t.starts_with("/*") {
            if !t.ends_with("*/") || t.len() < 4 {
                return Err(format!("line {line}: unclosed comment"));
            }
            continue;
        }
        toks.push(Tok::Action(body.to_owned(), line));
    }
    let mut rest = &text[pos..];
    if trim_next {
        rest = rest.trim_start();
    }
    if !rest.is_empty() {
        toks.push(Tok::Text(rest.to_owned()));
    }
    Ok(toks)
}

/// Where the action starting at `from` ends (the byte of its `}}`): quotes are skipped, a
/// comment ends at `*/}}`.
pub(super) fn action_end(text: &str, from: usize) -> Option<usize> {
    let body = &text[from..];
    let lead = body.len() - body.trim_start().len();
    if body[lead..].starts_with("/*") {
        let close = body[lead + 2..].find("*/")? + lead + 4;
        let rest = &body[close..];
        let ws = rest.len() - rest.trim_start().len();
        let rest = &rest[ws..];
        let skip = if rest.starts_with("-}}") && ws > 0 {
            1
        } else if ws == 0 && rest.starts_with("}}") {
            0
        } else {
            return None;
        };
        return Some(from + close + ws + skip);
    }
    let bytes = body.as_bytes();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) => {
                if b == b'\\' && q != b'`' {
                    i += 1;
                } else if b == q {
                    quote = None;
                }
            }
            None => {
                if b == b'"' || b == b'`' || b == b'\'' {
                    quote = Some(b);
                } else if b == b'}' && bytes.get(i + 1) == Some(&b'}') {
                    return Some(from + i);
                }
            }
        }
        i += 1;
    }
    None
}

pub(super) fn head(s: &str) -> String {
    s.chars().take(40).collect()
}

/// A word of an action.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Word {
    Lit(Val),
    Ident(String),
    /// `$name` and the fields after it (`$x.a.b`).
    Var(String, Vec<String>),
    /// `.a.b` (empty: the dot itself).
    Field(Vec<String>),
    Pipe,
    Open,
    Close,
    Comma,
    Declare,
    Assign,
}

pub(super) fn words(action: &str) -> Result<Vec<Word>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = action.chars().collect();
    let mut i = 0;
    let ident_char = |c: char| c.is_alphanumeric() || c == '_';
    let fields = |i: &mut usize| -> Vec<String> {
        let mut f = Vec::new();
        while *i < chars.len() && chars[*i] == '.' {
            *i += 1;
            let s: String = chars[*i..].iter().take_while(|c| ident_char(**c)).collect();
            *i += s.chars().count();
            if s.is_empty() {
                break;
            }
            f.push(s);
        }
        f
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '|' => {
                out.push(Word::Pipe);
                i += 1;
            }
            '(' => {
                out.push(Word::Open);
                i += 1;
            }
            ')' => {
                out.push(Word::Close);
                i += 1;
            }
            ',' => {
                out.push(Word::Comma);
                i += 1;
            }
            ':' if chars.get(i + 1) == Some(&'=') => {
                out.push(Word::Declare);
                i += 2;
            }
            '=' => {
                out.push(Word::Assign);
                i += 1;
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        Some('"') => break,
                        Some('\\') => {
                            i += 1;
                            match chars.get(i) {
                                Some('n') => s.push('\n'),
                                Some('t') => s.push('\t'),
                                Some('r') => s.push('\r'),
                                Some('\\') => s.push('\\'),
                                Some('"') => s.push('"'),
                                Some('\'') => s.push('\''),
                                Some(e) => return Err(format!("unknown escape \\{e} in a string")),
                                None => return Err("unterminated string".into()),
                            }
                        }
                        Some(c) => s.push(*c),
                        None => return Err("unterminated string".into()),
                    }
                    i += 1;
                }
                i += 1;
                out.push(Word::Lit(Val::Str(s)));
            }
            '`' => {
                let s: String = chars[i + 1..].iter().take_while(|c| **c != '`').collect();
                i += s.chars().count() + 1;
                if chars.get(i) != Some(&'`') {
                    return Err("unterminated raw string".into());
                }
                i += 1;
                out.push(Word::Lit(Val::Str(s)));
            }
            '\'' => {
                let (ch, len) = match (chars.get(i + 1), chars.get(i + 2), chars.get(i + 3)) {
                    (Some('\\'), Some('n'), Some('\'')) => ('\n', 4),
                    (Some('\\'), Some(e), Some('\'')) => (*e, 4),
                    (Some(c), Some('\''), _) if *c != '\\' => (*c, 3),
                    _ => return Err("invalid character constant".into()),
                };
                out.push(Word::Lit(Val::Int(i64::from(u32::from(ch)))));
                i += len;
            }
            '$' => {
                i += 1;
                let s: String = chars[i..].iter().take_while(|c| ident_char(**c)).collect();
                i += s.chars().count();
                let f = fields(&mut i);
                out.push(Word::Var(format!("${s}"), f));
            }
            '.' if chars.get(i + 1).is_none_or(|c| !c.is_ascii_digit()) => {
                // `.` alone is the dot.
                let f = fields(&mut i);
                out.push(Word::Field(f));
            }
            c if c.is_ascii_digit()
                || ((c == '-' || c == '+' || c == '.') && i + 1 < chars.len()) =>
            {
                let s: String = chars[i..]
                    .iter()
                    .enumerate()
                    .take_while(|(k, c)| {
                        c.is_ascii_alphanumeric()
                            || **c == '.'
                            || **c == '_'
                            || (*k == 0 && (**c == '-' || **c == '+'))
                    })
                    .map(|(_, c)| *c)
                    .collect();
                i += s.chars().count();
                out.push(Word::Lit(number(&s)?));
            }
            c if ident_char(c) => {
                let s: String = chars[i..].iter().take_while(|c| ident_char(**c)).collect();
                i += s.chars().count();
                out.push(match s.as_str() {
                    "true" => Word::Lit(Val::Bool(true)),
                    "false" => Word::Lit(Val::Bool(false)),
                    "nil" => Word::Lit(Val::Nil),
                    _ => Word::Ident(s),
                });
            }
            c => return Err(format!("unexpected {c:?} in an action")),
        }
    }
    Ok(out)
}

/// A number literal as Go writes them: decimal, `0x`, `0o`, `0b`, `_` separators, floats.
pub(super) fn number(s: &str) -> Result<Val, String> {
    let bad = || format!("bad number syntax: {s:?}");
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let clean = digits.replace('_', "");
    let lower = clean.to_ascii_lowercase();
    let int = if let Some(h) = lower.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()
    } else if let Some(o) = lower.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()
    } else if let Some(b) = lower.strip_prefix("0b") {
        i64::from_str_radix(b, 2).ok()
    } else if lower.len() > 1 && lower.starts_with('0') && lower.bytes().all(|b| b.is_ascii_digit())
    {
        i64::from_str_radix(&lower[1..], 8).ok()
    } else {
        lower.parse::<i64>().ok()
    };
    if let Some(n) = int {
        return Ok(Val::Int(if neg { -n } else { n }));
    }
    let f: f64 = lower.parse().map_err(|_| bad())?;
    if !f.is_finite() || lower.contains("inf") || lower.contains("nan") {
        return Err(bad());
    }
    Ok(Val::Float(if neg { -f } else { f }))
}
