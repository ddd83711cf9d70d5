//! The rule language's grammar: the subset of Go expressions that Traefik's rule parser
//! (vulcand/predicate over `go/parser.ParseExpr`) accepts. Calls with string arguments,
//! combined with `!`, `&&` (binds tighter) and `||`, and parentheses.
//!
//! Strings are Go string literals: raw (backquotes; carriage returns dropped) or interpreted
//! (double quotes, Go's escapes, no newline). As in Go, a newline after an identifier, a string
//! or `)` ends the expression (an automatic semicolon), so `Host(`a`)\n&& Path(`/`)` is an error
//! while `Host(`a`) &&\nPath(`/`)` is not; a trailing comma in a call is allowed.

use std::fmt;

/// Longest rule accepted, and deepest nesting: labels are untrusted input.
pub const MAX_RULE_LEN: usize = 4096;
const MAX_DEPTH: usize = 32;

/// A parsed expression, before its calls are bound to matchers.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `Name(args...)`, with the byte offset of the name.
    Call {
        /// The function name as written.
        name: String,
        /// String arguments.
        args: Vec<String>,
        /// Where the name starts.
        at: usize,
    },
    /// `!e`.
    Not(Box<Expr>),
    /// `a && b`.
    And(Box<Expr>, Box<Expr>),
    /// `a || b`.
    Or(Box<Expr>, Box<Expr>),
}

/// A syntax error: byte offset and reason.
pub type SyntaxError = (usize, String);

/// Parses a rule's text into an expression.
pub fn parse(input: &str) -> Result<Expr, SyntaxError> {
    if input.len() > MAX_RULE_LEN {
        return Err((0, format!("rule too long (more than {MAX_RULE_LEN} bytes)")));
    }
    let tokens = lex(input)?;
    let mut p = Parser {
        tokens,
        pos: 0,
        depth: 0,
        end: input.len(),
    };
    let expr = p.or()?;
    // One automatic semicolon may end the expression (a trailing newline).
    if p.peek() == Some(&Tok::Semi) {
        p.pos += 1;
    }
    match p.tokens.get(p.pos) {
        None => Ok(expr),
        Some((at, Tok::Semi)) => Err((
            *at,
            "unexpected newline (a rule continues on the next line only after && or ||)".into(),
        )),
        Some((at, t)) => Err((*at, format!("unexpected {t}"))),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    LParen,
    RParen,
    Comma,
    And,
    Or,
    Not,
    /// An automatic semicolon (a newline after an identifier, a string or `)`).
    Semi,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Ident(s) => write!(f, "{s:?}"),
            Tok::Str(s) => write!(f, "string {s:?}"),
            Tok::LParen => f.write_str("'('"),
            Tok::RParen => f.write_str("')'"),
            Tok::Comma => f.write_str("','"),
            Tok::And => f.write_str("'&&'"),
            Tok::Or => f.write_str("'||'"),
            Tok::Not => f.write_str("'!'"),
            Tok::Semi => f.write_str("newline"),
        }
    }
}

fn lex(input: &str) -> Result<Vec<(usize, Tok)>, SyntaxError> {
    let mut out: Vec<(usize, Tok)> = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\n' => {
                if matches!(
                    out.last(),
                    Some((_, Tok::Ident(_) | Tok::Str(_) | Tok::RParen))
                ) {
                    out.push((i, Tok::Semi));
                }
            }
            ' ' | '\t' | '\r' => {}
            '(' => out.push((i, Tok::LParen)),
            ')' => out.push((i, Tok::RParen)),
            ',' => out.push((i, Tok::Comma)),
            '!' => out.push((i, Tok::Not)),
            '&' | '|' => match chars.next() {
                Some((_, d)) if d == c => out.push((i, if c == '&' { Tok::And } else { Tok::Or })),
                _ => return Err((i, format!("expected '{c}{c}'"))),
            },
            '`' => {
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some((_, '`')) => break,
                        // Go drops carriage returns from raw strings.
                        Some((_, '\r')) => {}
                        Some((_, ch)) => s.push(ch),
                        None => return Err((i, "unterminated string".into())),
                    }
                }
                out.push((i, Tok::Str(s)));
            }
            '"' => {
                let s = interpreted(&mut chars).map_err(|r| (i, r))?;
                out.push((i, Tok::Str(s)));
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut s = String::from(c);
                while let Some((_, d)) = chars.peek() {
                    if d.is_alphanumeric() || *d == '_' {
                        s.push(*d);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push((i, Tok::Ident(s)));
            }
            other => return Err((i, format!("unexpected character {other:?}"))),
        }
    }
    Ok(out)
}

/// The rest of a Go interpreted string literal (after its opening quote), unescaped.
fn interpreted(
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
) -> Result<String, String> {
    let mut s = String::new();
    loop {
        let Some((_, c)) = chars.next() else {
            return Err("unterminated string".into());
        };
        match c {
            '"' => return Ok(s),
            '\n' => return Err("newline in string".into()),
            '\\' => {
                let Some((_, e)) = chars.next() else {
                    return Err("unterminated string".into());
                };
                match e {
                    'a' => s.push('\u{7}'),
                    'b' => s.push('\u{8}'),
                    'f' => s.push('\u{c}'),
                    'n' => s.push('\n'),
                    'r' => s.push('\r'),
                    't' => s.push('\t'),
                    'v' => s.push('\u{b}'),
                    '\\' => s.push('\\'),
                    '"' => s.push('"'),
                    'x' | 'u' | 'U' => {
                        let n = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let hex: String = (0..n)
                            .filter_map(|_| chars.next().map(|(_, h)| h))
                            .collect();
                        let v = u32::from_str_radix(&hex, 16)
                            .ok()
                            .filter(|_| hex.len() == n)
                            .ok_or_else(|| format!("invalid escape \\{e}{hex}"))?;
                        // \x is a byte in Go; only ASCII bytes make valid text here.
                        if e == 'x' && v > 0x7f {
                            return Err(format!("escape \\x{hex} is not valid UTF-8 text"));
                        }
                        s.push(
                            char::from_u32(v)
                                .ok_or_else(|| format!("invalid escape \\{e}{hex}"))?,
                        );
                    }
                    '0'..='7' => {
                        let mut v = e.to_digit(8).unwrap_or(0);
                        for _ in 0..2 {
                            match chars.next().and_then(|(_, d)| d.to_digit(8)) {
                                Some(d) => v = v * 8 + d,
                                None => return Err("invalid octal escape".into()),
                            }
                        }
                        if v > 0x7f {
                            return Err("octal escape is not valid UTF-8 text".into());
                        }
                        s.push(char::from_u32(v).unwrap_or('\0'));
                    }
                    other => return Err(format!("unknown escape sequence \\{other}")),
                }
            }
            c => s.push(c),
        }
    }
}

struct Parser {
    tokens: Vec<(usize, Tok)>,
    pos: usize,
    depth: usize,
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos).map(|(_, t)| t)
    }

    fn at(&self) -> usize {
        self.tokens.get(self.pos).map_or(self.end, |(i, _)| *i)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.tokens.get(self.pos).map(|(_, t)| t.clone());
        self.pos += 1;
        t
    }

    fn expect(&mut self, want: Tok) -> Result<(), SyntaxError> {
        let at = self.at();
        match self.next() {
            Some(t) if t == want => Ok(()),
            Some(t) => Err((at, format!("expected {want}, found {t}"))),
            None => Err((at, format!("expected {want}, found the end"))),
        }
    }

    fn or(&mut self) -> Result<Expr, SyntaxError> {
        let mut left = self.and()?;
        while self.peek() == Some(&Tok::Or) {
            self.next();
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, SyntaxError> {
        let mut left = self.unary()?;
        while self.peek() == Some(&Tok::And) {
            self.next();
            let right = self.unary()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err((self.at(), "rule nested too deeply".into()));
        }
        let at = self.at();
        let expr = match self.next() {
            Some(Tok::Not) => Expr::Not(Box::new(self.unary()?)),
            Some(Tok::LParen) => {
                let e = self.or()?;
                self.expect(Tok::RParen)?;
                e
            }
            Some(Tok::Ident(name)) => self.call(at, name)?,
            Some(t) => return Err((at, format!("expected a matcher, found {t}"))),
            None => return Err((at, "expected a matcher, found the end".into())),
        };
        self.depth -= 1;
        Ok(expr)
    }

    fn call(&mut self, at: usize, name: String) -> Result<Expr, SyntaxError> {
        self.expect(Tok::LParen)?;
        let mut args = Vec::new();
        while self.peek() != Some(&Tok::RParen) {
            let a = self.at();
            match self.next() {
                Some(Tok::Str(s)) => args.push(s),
                Some(t) => return Err((a, format!("expected a quoted argument, found {t}"))),
                None => return Err((a, "expected a quoted argument, found the end".into())),
            }
            match self.peek() {
                Some(Tok::Comma) => {
                    self.next();
                }
                _ => break,
            }
        }
        self.expect(Tok::RParen)?;
        Ok(Expr::Call { name, args, at })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, args: &[&str]) -> Expr {
        Expr::Call {
            name: name.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            at: 0,
        }
    }

    fn strip(e: Expr) -> Expr {
        match e {
            Expr::Call { name, args, .. } => Expr::Call { name, args, at: 0 },
            Expr::Not(a) => Expr::Not(Box::new(strip(*a))),
            Expr::And(a, b) => Expr::And(Box::new(strip(*a)), Box::new(strip(*b))),
            Expr::Or(a, b) => Expr::Or(Box::new(strip(*a)), Box::new(strip(*b))),
        }
    }

    #[test]
    fn go_string_literals() {
        let e = strip(parse(r#"H("a\"b\\c\x41\u00e9\101", `x\n`)"#).unwrap());
        assert_eq!(e, call("H", &["a\"b\\cAéA", "x\\n"]));
        assert_eq!(strip(parse("H(`a\r\nb`)").unwrap()), call("H", &["a\nb"]));
        for bad in [r#"H("\q")"#, "H(\"a\nb\")", r#"H("\x4")"#, r#"H("\xff")"#] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn newlines_as_go_reads_them() {
        assert!(parse("H(`a`) &&\nP(`/`)").is_ok());
        assert!(parse("H(`a`)\n&& P(`/`)").is_err());
        assert!(parse("H(`a`)\n").is_ok());
        assert!(parse("H(`a`,\n`b`,\n)").is_ok());
        assert!(parse("H(`a`\n)").is_err());
        assert_eq!(strip(parse("H(`a`,)").unwrap()), call("H", &["a"]));
    }

    #[test]
    fn precedence() {
        let e = strip(parse("A() || B() && !C()").unwrap());
        assert_eq!(
            e,
            Expr::Or(
                Box::new(call("A", &[])),
                Box::new(Expr::And(
                    Box::new(call("B", &[])),
                    Box::new(Expr::Not(Box::new(call("C", &[]))))
                ))
            )
        );
    }
}
