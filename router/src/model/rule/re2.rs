//! Go's regular expressions (RE2 syntax, `regexp.Compile`) on the Rust `regex` engine.
//!
//! Traefik compiles `HostRegexp`, `PathRegexp`, `HeaderRegexp` and `QueryRegexp` arguments
//! with Go's `regexp`. The Rust engine shares RE2's linear-time design and most of its
//! syntax; where the two read the same pattern differently, the pattern is rewritten here
//! so that it means what Go makes of it:
//!
//! - a `{` that does not start a repetition (`{n}`, `{n,}`, `{n,m}`) is a literal in Go and
//!   an error in Rust: `PathRegexp(`/{path:(css|js)}`)`; a lone `}` likewise;
//! - `\d`, `\w`, `\s`, `\b` and their negations are ASCII-only in Go, Unicode-aware in Rust;
//! - `\Q...\E` quotes literal text in Go only; `\<` and `\>` are literal `<` `>` in Go and
//!   word boundaries in Rust; octal escapes (`\012`) are Go's;
//! - `[` inside a class is a literal in Go and a nested class in Rust, as are Rust's class
//!   operators `&&`, `--`, `~~`.
//!
//! What Go refuses is refused here too, with a clear reason, where the Rust engine would
//! accept it: the flags `x`, `u` and `R`, `\Z`, repetition counts above 1000, and a single
//! digit escape (`\1`, a back-reference).

use regex::{Regex, RegexBuilder};

/// The largest compiled program accepted: labels are untrusted input.
const SIZE_LIMIT: usize = 1 << 20;
/// Go's largest repetition count.
const MAX_REPEAT: u32 = 1000;

/// Compiles a Go regular expression, unanchored as `regexp.Compile` is.
pub fn compile(pattern: &str) -> Result<Regex, String> {
    let translated = translate(pattern)?;
    RegexBuilder::new(&translated)
        .size_limit(SIZE_LIMIT)
        .build()
        .map_err(|e| format!("invalid regex {pattern:?}: {}", first_line(&e.to_string())))
}

fn first_line(s: &str) -> String {
    s.lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or(s)
        .trim()
        .trim_start_matches("error: ")
        .to_owned()
}

const DIGIT: &str = "0-9";
const WORD: &str = "0-9A-Za-z_";
const SPACE: &str = r"\t\n\f\r ";

/// Rewrites a Go pattern into the Rust engine's syntax with the same meaning.
pub fn translate(pattern: &str) -> Result<String, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut i = 0;
    let bad = |why: &str| Err(format!("invalid regex {pattern:?}: {why}"));
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                let Some(&c) = chars.get(i + 1) else {
                    return bad("trailing backslash");
                };
                i += 2;
                match c {
                    'Q' => {
                        let mut lit = String::new();
                        while i < chars.len() {
                            if chars[i] == '\\' && chars.get(i + 1) == Some(&'E') {
                                i += 2;
                                break;
                            }
                            lit.push(chars[i]);
                            i += 1;
                        }
                        out.push_str(&regex::escape(&lit));
                    }
                    'd' => out.push_str("[0-9]"),
                    'D' => out.push_str("[^0-9]"),
                    'w' => out.push_str("[0-9A-Za-z_]"),
                    'W' => out.push_str("[^0-9A-Za-z_]"),
                    's' => out.push_str(r"[\t\n\f\r ]"),
                    'S' => out.push_str(r"[^\t\n\f\r ]"),
                    'b' => out.push_str(r"(?-u:\b)"),
                    'B' => out.push_str(r"(?-u:\B)"),
                    '<' | '>' => out.push(c),
                    'Z' => return bad(r"\Z is not supported (use \z)"),
                    'C' => return bad(r"\C (any byte) is not supported"),
                    '0'..='7' => {
                        let (code, used) = octal(&chars, i - 1);
                        if used == 1 && c != '0' {
                            return bad("back-references are not supported");
                        }
                        out.push_str(&format!("\\x{{{code:x}}}"));
                        i = i - 1 + used;
                    }
                    '8' | '9' => return bad("back-references are not supported"),
                    c => {
                        out.push('\\');
                        out.push(c);
                        // \p{...}, \x{...}: copy the braces as they are.
                        if matches!(c, 'p' | 'P' | 'x') && chars.get(i) == Some(&'{') {
                            while i < chars.len() {
                                out.push(chars[i]);
                                i += 1;
                                if chars[i - 1] == '}' {
                                    break;
                                }
                            }
                        }
                    }
                }
            }
            '[' => {
                i = class(&chars, i, &mut out)
                    .map_err(|w| format!("invalid regex {pattern:?}: {w}"))?
            }
            '{' => match repetition(&chars, i) {
                Some((end, counts)) => {
                    if counts.iter().any(|n| *n > MAX_REPEAT) {
                        return bad("repetition count above 1000");
                    }
                    out.extend(&chars[i..end]);
                    i = end;
                }
                None => {
                    out.push_str(r"\{");
                    i += 1;
                }
            },
            '}' => {
                out.push_str(r"\}");
                i += 1;
            }
            '(' if chars.get(i + 1) == Some(&'?') => {
                // Flags: Go knows i, m, s and U (and named groups, which pass as they are).
                let mut j = i + 2;
                while let Some(&f) = chars.get(j) {
                    match f {
                        ':' | ')' => break,
                        'i' | 'm' | 's' | 'U' | '-' => j += 1,
                        'P' | '<' if j == i + 2 => break,
                        other => return bad(&format!("flag {other:?} is not supported")),
                    }
                }
                out.push('(');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// An octal escape at `chars[at]` (a digit): its value and how many digits it used (1 to 3).
fn octal(chars: &[char], at: usize) -> (u32, usize) {
    let mut value = 0;
    let mut used = 0;
    while used < 3 {
        match chars.get(at + used).and_then(|c| c.to_digit(8)) {
            Some(d) => {
                value = value * 8 + d;
                used += 1;
            }
            None => break,
        }
    }
    (value, used)
}

/// `{n}`, `{n,}` or `{n,m}` at `chars[at]`: where it ends and its counts.
fn repetition(chars: &[char], at: usize) -> Option<(usize, Vec<u32>)> {
    let mut j = at + 1;
    let mut counts = Vec::new();
    let mut digits = String::new();
    loop {
        match chars.get(j)? {
            d if d.is_ascii_digit() => digits.push(*d),
            ',' if counts.is_empty() && !digits.is_empty() => {
                counts.push(digits.parse().ok()?);
                digits.clear();
            }
            '}' => {
                if digits.is_empty() && counts.is_empty() {
                    return None;
                }
                if !digits.is_empty() {
                    counts.push(digits.parse().ok()?);
                }
                return Some((j + 1, counts));
            }
            _ => return None,
        }
        j += 1;
    }
}

/// A character class starting at `chars[at]` (`[`), written out in Rust's syntax; returns the
/// index after its closing `]`.
fn class(chars: &[char], at: usize, out: &mut String) -> Result<usize, String> {
    let mut i = at + 1;
    out.push('[');
    if chars.get(i) == Some(&'^') {
        out.push('^');
        i += 1;
    }
    // A `]` first is a literal in both.
    if chars.get(i) == Some(&']') {
        out.push_str(r"\]");
        i += 1;
    }
    while let Some(&c) = chars.get(i) {
        match c {
            ']' => {
                out.push(']');
                return Ok(i + 1);
            }
            '[' if chars.get(i + 1) == Some(&':') => {
                // A POSIX class, [:alpha:]: the same in both.
                let end = (i + 2..chars.len().saturating_sub(1))
                    .find(|&k| chars[k] == ':' && chars[k + 1] == ']')
                    .ok_or("unterminated POSIX class")?;
                out.extend(&chars[i..end + 2]);
                i = end + 2;
            }
            '[' | '&' | '~' => {
                out.push('\\');
                out.push(c);
                i += 1;
            }
            '-' if chars.get(i + 1) == Some(&'-') => {
                out.push_str(r"-\-");
                i += 2;
            }
            '\\' => {
                let Some(&e) = chars.get(i + 1) else {
                    return Err("trailing backslash".into());
                };
                i += 2;
                match e {
                    'd' => out.push_str(DIGIT),
                    'w' => out.push_str(WORD),
                    's' => out.push_str(SPACE),
                    'D' => out.push_str("[^0-9]"),
                    'W' => out.push_str("[^0-9A-Za-z_]"),
                    'S' => out.push_str(r"[^\t\n\f\r ]"),
                    '0'..='7' => {
                        let (code, used) = octal(chars, i - 1);
                        if used == 1 && e != '0' {
                            return Err("back-references are not supported".into());
                        }
                        out.push_str(&format!("\\x{{{code:x}}}"));
                        i = i - 1 + used;
                    }
                    e => {
                        out.push('\\');
                        out.push(e);
                        if matches!(e, 'p' | 'P' | 'x') && chars.get(i) == Some(&'{') {
                            while i < chars.len() {
                                out.push(chars[i]);
                                i += 1;
                                if chars[i - 1] == '}' {
                                    break;
                                }
                            }
                        }
                    }
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Err("missing closing ]".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, s: &str) -> bool {
        compile(pattern)
            .unwrap_or_else(|e| panic!("{pattern}: {e}"))
            .is_match(s)
    }

    #[test]
    fn literal_braces_as_go_reads_them() {
        assert!(m("/{path:(css|js)}", "/{path:css}"));
        assert!(!m("/{path:(css|js)}", "/css"));
        assert!(m("^a{2}$", "aa"));
        assert!(m("^a{2,}$", "aaa"));
        assert!(m("^a{1,2}$", "aa"));
        assert!(m("^a{,2}$", "a{,2}"));
        assert!(m("^x}$", "x}"));
        assert!(m("^{$", "{"));
        assert!(compile("a{1001}").is_err());
    }

    #[test]
    fn perl_classes_are_ascii() {
        assert!(m(r"^\d+$", "123"));
        assert!(!m(r"^\d+$", "١٢٣"));
        assert!(!m(r"^\w+$", "é"));
        assert!(m(r"^[\d\s]+$", "1 2"));
        assert!(m(r"^[^\D]$", "7"));
        assert!(m(r"\bfoo\b", "a foo b"));
    }

    #[test]
    fn go_only_syntax() {
        assert!(m(r"^\Qa.b\E$", "a.b"));
        assert!(!m(r"^\Qa.b\E$", "axb"));
        assert!(m(r"^\<a\>$", "<a>"));
        assert!(m(r"^\101$", "A"));
        assert!(m(r"^[\101-\103]+$", "ABC"));
        assert!(m(r"^[[]$", "["));
        assert!(m(r"^[a&&b]+$", "a&b"));
        assert!(m(r"^[[:alpha:]]+$", "abc"));
        assert!(m(r"^[]a]+$", "]a"));
        assert!(m(r"(?i)^ABC$", "abc"));
        assert!(m(r"^\p{Greek}+$", "αβ"));
        assert!(m(r"(?P<x>a)(?<y>b)", "ab"));
    }

    #[test]
    fn what_go_refuses_is_refused() {
        for bad in [
            r"(?x) a", r"\Z", r"(a)\1", r"a\8", r"[a", "(", r"a\", "(?u)a", r"\C",
        ] {
            assert!(compile(bad).is_err(), "{bad}");
        }
    }
}
