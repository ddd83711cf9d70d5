//! `circuitBreaker`: its options and its expression, read as Traefik reads them (the
//! `vulcand/predicate` grammar over Go expression syntax): comparisons of one metric —
//! `NetworkErrorRatio()`, `ResponseCodeRatio(from, to, dividedByFrom, dividedByTo)`,
//! `LatencyAtQuantileMS(quantile)`, `RequestThreshold()` — on the left with a number of the
//! metric's type on the right, joined with `&&` and `||` and grouped with parentheses.
//! What Traefik refuses is refused here too: a float where an integer is expected (and the
//! reverse), `!`, arithmetic, a literal on the left, an unknown function.

use std::time::Duration;

use serde::Serialize;

use super::{fields, Middleware};
use crate::tree::{DecodeError, Node};

/// A `circuitBreaker` middleware.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CircuitBreaker {
    /// The expression as written.
    pub expression: String,
    /// Its parsed form.
    #[serde(skip)]
    pub condition: Cond,
    /// How often the condition is checked while closed.
    #[serde(serialize_with = "crate::tree::ser_go_duration")]
    pub check_period: Duration,
    /// How long the breaker stays open.
    #[serde(serialize_with = "crate::tree::ser_go_duration")]
    pub fallback_duration: Duration,
    /// How long it lets traffic back in before it closes.
    #[serde(serialize_with = "crate::tree::ser_go_duration")]
    pub recovery_duration: Duration,
    /// The status answered while open.
    pub response_code: u16,
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    /// Every one holds.
    And(Box<Cond>, Box<Cond>),
    /// One holds.
    Or(Box<Cond>, Box<Cond>),
    /// A metric compared with a number.
    Cmp(Metric, Op, Num),
}

/// What a condition measures (over the last 10 seconds; latencies over the last minute).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Metric {
    /// Answers 502 or 504, over all answers (a float).
    NetworkErrorRatio,
    /// Answers with a status in `[from, to)` over those in `[dividedByFrom, dividedByTo)`
    /// (a float; 0 when none is in the latter).
    ResponseCodeRatio([i64; 4]),
    /// The latency at this quantile (a percentage), in whole milliseconds (an integer).
    LatencyAtQuantileMs(F64),
    /// The number of answers (an integer).
    RequestThreshold,
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A number as written: Go's integer and float literals are different types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Num {
    Int(i64),
    Float(F64),
}

/// An `f64` compared bit for bit (so that configurations compare).
#[derive(Debug, Clone, Copy)]
pub struct F64(pub f64);

impl PartialEq for F64 {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

impl Eq for F64 {}

/// The values of the metrics at one check.
pub trait Metrics {
    /// `NetworkErrorRatio()`.
    fn network_error_ratio(&self) -> f64;
    /// `ResponseCodeRatio(..)`.
    fn response_code_ratio(&self, range: [i64; 4]) -> f64;
    /// `LatencyAtQuantileMS(q)`, in whole milliseconds.
    fn latency_at_quantile_ms(&self, q: f64) -> i64;
    /// `RequestThreshold()`.
    fn total(&self) -> i64;
}

impl Cond {
    /// Whether the condition holds for `m`.
    pub fn holds(&self, m: &dyn Metrics) -> bool {
        match self {
            Cond::And(a, b) => a.holds(m) && b.holds(m),
            Cond::Or(a, b) => a.holds(m) || b.holds(m),
            Cond::Cmp(metric, op, Num::Float(F64(v))) => {
                let x = match metric {
                    Metric::NetworkErrorRatio => m.network_error_ratio(),
                    Metric::ResponseCodeRatio(r) => m.response_code_ratio(*r),
                    _ => return false, // refused when parsed
                };
                op.apply(x.partial_cmp(v))
            }
            Cond::Cmp(metric, op, Num::Int(v)) => {
                let x = match metric {
                    Metric::LatencyAtQuantileMs(F64(q)) => m.latency_at_quantile_ms(*q),
                    Metric::RequestThreshold => m.total(),
                    _ => return false, // refused when parsed
                };
                op.apply(Some(x.cmp(v)))
            }
        }
    }
}

impl Op {
    /// The comparison Go's operator `p` is (`None`: `p` is not one).
    pub(super) fn comparison(p: &str) -> Option<Op> {
        Some(match p {
            "==" => Op::Eq,
            "!=" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            _ => return None,
        })
    }

    /// Whether an ordering (`None`: not comparable) satisfies the comparison.
    pub fn apply(self, o: Option<std::cmp::Ordering>) -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        match (self, o) {
            (Op::Ne, None) => true,
            (_, None) => false,
            (Op::Eq, Some(o)) => o == Equal,
            (Op::Ne, Some(o)) => o != Equal,
            (Op::Lt, Some(o)) => o == Less,
            (Op::Le, Some(o)) => o != Greater,
            (Op::Gt, Some(o)) => o == Greater,
            (Op::Ge, Some(o)) => o != Less,
        }
    }
}

/// Decodes `circuitBreaker`.
pub fn decode(kind: &Node) -> Result<Middleware, DecodeError> {
    let mut f = fields(
        kind,
        &[
            "expression",
            "checkPeriod",
            "fallbackDuration",
            "recoveryDuration",
            "responseCode",
        ],
    )?;
    let expression = match f.take("expression") {
        Some(n) => n.text()?.to_owned(),
        None => String::new(),
    };
    let condition = parse(&expression).map_err(|e| {
        DecodeError::at(
            f.node(),
            format!("circuitBreaker expression {expression:?}: {e}"),
        )
    })?;
    // As Traefik: a duration that is not positive (negative ones included) leaves the
    // default.
    let duration = |n: Option<&Node>, default: Duration| {
        Ok::<_, DecodeError>(
            n.map(super::retry::signed_duration)
                .transpose()?
                .filter(|d| !d.is_zero())
                .unwrap_or(default),
        )
    };
    let check_period = duration(f.take("checkPeriod"), Duration::from_millis(100))?;
    let fallback_duration = duration(f.take("fallbackDuration"), Duration::from_secs(10))?;
    let recovery_duration = duration(f.take("recoveryDuration"), Duration::from_secs(10))?;
    let response_code = match f.take("responseCode") {
        None => 503,
        Some(n) => {
            let v = n.integer()?;
            u16::try_from(v)
                .ok()
                .filter(|c| (100..=999).contains(c))
                .ok_or_else(|| {
                    DecodeError::at(n, format!("expected a status from 100 to 999, got {v}"))
                })?
        }
    };
    Ok(Middleware::CircuitBreaker(Box::new(CircuitBreaker {
        expression,
        condition,
        check_period,
        fallback_duration,
        recovery_duration,
        response_code,
    })))
}

/// Parses an expression.
pub fn parse(text: &str) -> Result<Cond, String> {
    let tokens = lex(text)?;
    let mut p = Parser { tokens, at: 0 };
    let e = p.binary(0)?;
    if let Some(t) = p.tokens.get(p.at) {
        return Err(format!("unexpected {t} after the expression"));
    }
    match e {
        Expr::Cond(c) => Ok(c),
        other => Err(format!("expected a condition, got {}", other.kind())),
    }
}

/// A token of Go's expression syntax, as `vulcand/predicate` reads it (shared with
/// `buffering.retryExpression`).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    Ident(String),
    Int(i64),
    Float(f64),
    /// A string literal's text (`"..."` with Go's escapes, or `` `...` `` raw); `None`: a
    /// character literal (`'x'`), which the grammar has no use for.
    Str(Option<String>),
    Punct(&'static str),
}

impl std::fmt::Display for Tok {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tok::Ident(s) => write!(f, "{s}"),
            Tok::Int(i) => write!(f, "{i}"),
            Tok::Float(x) => write!(f, "{x}"),
            Tok::Str(_) => write!(f, "a string"),
            Tok::Punct(LINE_END) => write!(f, "a line break (where Go ends the expression)"),
            Tok::Punct(p) => write!(f, "{p:?}"),
        }
    }
}

/// Go's operators, longest first (those the grammar has no use for are refused when met).
const PUNCT: &[&str] = &[
    "&&", "||", "==", "!=", "<=", ">=", "<<", ">>", "&^", "(", ")", ",", "<", ">", "!", "+", "-",
    "*", "/", "%", "&", "|", "^",
];

/// The tokens of `text`. A line break after an identifier, a literal or `)` is Go's automatic
/// semicolon, [`LINE_END`]: `go/parser`'s `ParseExpr` allows one at the end only, so one
/// anywhere else is refused (a line may end after `&&` or `(`).
pub(super) fn lex(text: &str) -> Result<Vec<Tok>, String> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'\n' {
            i += 1;
            if matches!(
                out.last(),
                Some(Tok::Ident(_) | Tok::Int(_) | Tok::Float(_) | Tok::Str(_) | Tok::Punct(")"))
            ) {
                out.push(Tok::Punct(LINE_END));
            }
        } else if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let s = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(Tok::Ident(text[s..i].to_owned()));
        } else if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            let s = i;
            while i < b.len()
                && (b[i].is_ascii_alphanumeric()
                    || b[i] == b'.'
                    || b[i] == b'_'
                    || ((b[i] == b'+' || b[i] == b'-') && matches!(b[i - 1], b'e' | b'E')))
            {
                i += 1;
            }
            out.push(number(&text[s..i])?);
        } else if c == b'"' || c == b'`' || c == b'\'' {
            let (lit, len) = quoted(&text[i..])?;
            i += len;
            out.push(Tok::Str(lit));
        } else if let Some(p) = PUNCT.iter().find(|p| text[i..].starts_with(**p)) {
            i += p.len();
            out.push(Tok::Punct(p));
        } else {
            let ch = text[i..].chars().next().unwrap_or('?');
            return Err(format!("unexpected character {ch:?}"));
        }
    }
    if out.last() == Some(&Tok::Punct(LINE_END)) {
        out.pop();
    }
    Ok(out)
}

/// Go's automatic semicolon at a line break (see [`lex`]).
pub(super) const LINE_END: &str = ";";

/// A quoted literal at the start of `t`: its text (none for a character literal) and its
/// length in `t`. Go's simple escapes are read in a `"..."` string.
fn quoted(t: &str) -> Result<(Option<String>, usize), String> {
    let q = t.chars().next().ok_or("a quoted literal is not closed")?;
    let mut out = String::new();
    let mut chars = t.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            _ if c == q => return Ok(((q != '\'').then_some(out), i + 1)),
            '\\' if q == '"' => {
                let (_, e) = chars.next().ok_or("a quoted literal is not closed")?;
                out.push(match e {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    '\\' | '"' => e,
                    other => return Err(format!("unsupported escape \\{other}")),
                });
            }
            '\n' if q != '`' => return Err("a quoted literal is not closed".into()),
            _ => out.push(c),
        }
    }
    Err("a quoted literal is not closed".into())
}

/// A number as `strconv` reads the literal: an integer in base 10 (`Atoi`), or a float.
fn number(s: &str) -> Result<Tok, String> {
    let is_float = s.contains(['.', 'e', 'E']) && !s.starts_with("0x") && !s.starts_with("0X");
    if is_float {
        s.parse::<f64>()
            .map(Tok::Float)
            .map_err(|_| format!("failed to parse argument: {s}"))
    } else {
        s.parse::<i64>()
            .map(Tok::Int)
            .map_err(|_| format!("failed to parse argument: {s}"))
    }
}

/// A value while parsing: a condition, a metric, or a number.
#[derive(Debug)]
enum Expr {
    Cond(Cond),
    Metric(Metric),
    Num(Num),
}

impl Expr {
    fn kind(&self) -> &'static str {
        match self {
            Expr::Cond(_) => "a condition",
            Expr::Metric(_) => "a metric",
            Expr::Num(_) => "a number",
        }
    }
}

struct Parser {
    tokens: Vec<Tok>,
    at: usize,
}

/// Go's binary precedence (1 `||`, 2 `&&`, 3 comparisons, 4 and 5 arithmetic).
pub(super) fn precedence(p: &str) -> Option<u8> {
    Some(match p {
        "||" => 1,
        "&&" => 2,
        "==" | "!=" | "<" | "<=" | ">" | ">=" => 3,
        "+" | "-" | "|" | "^" => 4,
        "*" | "/" | "%" | "<<" | ">>" | "&" | "&^" => 5,
        _ => return None,
    })
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Result<Tok, String> {
        let t = self
            .tokens
            .get(self.at)
            .cloned()
            .ok_or("the expression ends too early")?;
        self.at += 1;
        Ok(t)
    }

    fn expect(&mut self, p: &str) -> Result<(), String> {
        match self.next()? {
            Tok::Punct(q) if q == p => Ok(()),
            t => Err(format!("expected {p:?}, got {t}")),
        }
    }

    /// Binary expressions of precedence above `min`, left to right.
    fn binary(&mut self, min: u8) -> Result<Expr, String> {
        let mut left = self.unary()?;
        while let Some(Tok::Punct(p)) = self.peek() {
            let p = *p;
            let Some(prec) = precedence(p).filter(|q| *q > min) else {
                break;
            };
            self.at += 1;
            let right = self.binary(prec)?;
            left = join(p, left, right)?;
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        match self.next()? {
            Tok::Punct("(") => {
                let e = self.binary(0)?;
                self.expect(")")?;
                Ok(e)
            }
            Tok::Punct(p) => Err(format!("{p} is not supported")),
            Tok::Int(i) => Ok(Expr::Num(Num::Int(i))),
            Tok::Float(x) => Ok(Expr::Num(Num::Float(F64(x)))),
            Tok::Str(_) => Err("a string is not supported here".into()),
            Tok::Ident(name) => {
                if self.peek() != Some(&Tok::Punct("(")) {
                    return Err(format!("{name} is not defined"));
                }
                self.at += 1;
                let mut args = Vec::new();
                if self.peek() == Some(&Tok::Punct(")")) {
                    self.at += 1;
                } else {
                    loop {
                        args.push(match self.next()? {
                            Tok::Int(i) => Num::Int(i),
                            Tok::Float(x) => Num::Float(F64(x)),
                            t => return Err(format!("unsupported function argument {t}")),
                        });
                        match self.next()? {
                            Tok::Punct(",") => {}
                            Tok::Punct(")") => break,
                            t => return Err(format!("expected \",\" or \")\", got {t}")),
                        }
                    }
                }
                call(&name, &args).map(Expr::Metric)
            }
        }
    }
}

/// A metric function applied to its arguments, with Go's types checked.
fn call(name: &str, args: &[Num]) -> Result<Metric, String> {
    let wrong = || format!("{name}: wrong arguments {args:?}");
    match name {
        "NetworkErrorRatio" if args.is_empty() => Ok(Metric::NetworkErrorRatio),
        "RequestThreshold" if args.is_empty() => Ok(Metric::RequestThreshold),
        "LatencyAtQuantileMS" => match args {
            [Num::Float(q)] => Ok(Metric::LatencyAtQuantileMs(*q)),
            _ => Err(format!("{}: the quantile is a float such as 50.0", wrong())),
        },
        "ResponseCodeRatio" => match args {
            [Num::Int(a), Num::Int(b), Num::Int(c), Num::Int(d)] => {
                Ok(Metric::ResponseCodeRatio([*a, *b, *c, *d]))
            }
            _ => Err(format!("{}: four integers are expected", wrong())),
        },
        "NetworkErrorRatio" | "RequestThreshold" => Err(wrong()),
        _ => Err(format!("unsupported function: {name}")),
    }
}

fn join(p: &str, left: Expr, right: Expr) -> Result<Expr, String> {
    let cond = |e: Expr| match e {
        Expr::Cond(c) => Ok(Box::new(c)),
        other => Err(format!("{p} joins conditions, got {}", other.kind())),
    };
    let op = match p {
        "&&" => return Ok(Expr::Cond(Cond::And(cond(left)?, cond(right)?))),
        "||" => return Ok(Expr::Cond(Cond::Or(cond(left)?, cond(right)?))),
        other => Op::comparison(other).ok_or_else(|| format!("{other} is not supported"))?,
    };
    let Expr::Metric(m) = left else {
        return Err(format!(
            "{p} compares a metric (on its left) with a number, got {} on its left",
            left.kind()
        ));
    };
    let Expr::Num(n) = right else {
        return Err(format!(
            "{p} compares a metric with a number (on its right), got {}",
            right.kind()
        ));
    };
    let float_metric = matches!(m, Metric::NetworkErrorRatio | Metric::ResponseCodeRatio(_));
    match (float_metric, n) {
        (true, Num::Float(_)) | (false, Num::Int(_)) => Ok(Expr::Cond(Cond::Cmp(m, op, n))),
        (true, Num::Int(i)) => Err(format!("expected a float such as 0.5, got {i}")),
        (false, Num::Float(F64(x))) => Err(format!("expected an integer, got {x}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct M {
        net: f64,
        codes: f64,
        lat: i64,
        total: i64,
    }

    impl Metrics for M {
        fn network_error_ratio(&self) -> f64 {
            self.net
        }
        fn response_code_ratio(&self, _: [i64; 4]) -> f64 {
            self.codes
        }
        fn latency_at_quantile_ms(&self, _: f64) -> i64 {
            self.lat
        }
        fn total(&self) -> i64 {
            self.total
        }
    }

    const M0: M = M {
        net: 0.4,
        codes: 0.2,
        lat: 150,
        total: 10,
    };

    #[test]
    fn traefik_examples_parse_and_hold() {
        for (e, holds) in [
            ("NetworkErrorRatio() > 0.30", true),
            ("NetworkErrorRatio() > 0.5", false),
            ("ResponseCodeRatio(500, 600, 0, 600) > 0.25", false),
            ("LatencyAtQuantileMS(50.0) > 100", true),
            (
                "ResponseCodeRatio(500, 600, 0, 600) > 0.30 || NetworkErrorRatio() > 0.10",
                true,
            ),
            (
                "ResponseCodeRatio(500, 600, 0, 600) > 0.10 && RequestThreshold() >= 20",
                false,
            ),
            (
                "(RequestThreshold() == 10) && (LatencyAtQuantileMS(99.9) <= 150)",
                true,
            ),
            ("RequestThreshold() != 10 || NetworkErrorRatio() < .5", true),
            ("NetworkErrorRatio() >= 4e-1", true),
        ] {
            let c = parse(e).unwrap_or_else(|err| panic!("{e}: {err}"));
            assert_eq!(c.holds(&M0), holds, "{e}");
        }
    }

    #[test]
    fn and_binds_tighter_than_or() {
        // false && false || true: true only when && groups first.
        let c =
            parse("RequestThreshold() > 100 && RequestThreshold() > 100 || RequestThreshold() > 1")
                .unwrap();
        assert!(c.holds(&M0));
        let c =
            parse("RequestThreshold() > 1 || RequestThreshold() > 1 && RequestThreshold() > 100")
                .unwrap();
        assert!(c.holds(&M0));
    }

    #[test]
    fn what_traefik_refuses() {
        for e in [
            "",
            "NetworkErrorRatio()",
            "NetworkErrorRatio() > 1",
            "LatencyAtQuantileMS(50) > 100",
            "LatencyAtQuantileMS(50.0) > 100.0",
            "RequestThreshold() > 2.5",
            "0.5 < NetworkErrorRatio()",
            "!(NetworkErrorRatio() > 0.5)",
            "NetworkErrorRatio() > -0.5",
            "NetworkErrorRatio() + 1.0 > 0.5",
            "ResponseCodeRatio(500, 600) > 0.5",
            "ResponseCodeRatio(500.0, 600, 0, 600) > 0.5",
            "NetworkErrorRatio(1) > 0.5",
            "Unknown() > 1",
            "Foo > 1",
            "NetworkErrorRatio() > \"x\"",
            "NetworkErrorRatio() > 0.5 &&",
            "(NetworkErrorRatio() > 0.5",
            "NetworkErrorRatio() > 0.5)",
            "NetworkErrorRatio() > 0.5 && 1",
            "RequestThreshold() > 0x10",
            "NetworkErrorRatio() > 0.5 > 0.1",
            "NetworkErrorRatio() > 0.5 ; x",
        ] {
            assert!(parse(e).is_err(), "{e:?} parsed");
        }
    }

    #[test]
    fn options_and_defaults() {
        let n = Node::from_yaml(
            "circuitBreaker:\n  expression: NetworkErrorRatio() > 0.5\n",
            "m",
        )
        .unwrap();
        let Some(Middleware::CircuitBreaker(c)) = super::super::decode(&n).unwrap() else {
            panic!()
        };
        assert_eq!(c.check_period, Duration::from_millis(100));
        assert_eq!(c.fallback_duration, Duration::from_secs(10));
        assert_eq!(c.recovery_duration, Duration::from_secs(10));
        assert_eq!(c.response_code, 503);
        let n = Node::from_yaml(
            "circuitBreaker:\n  expression: RequestThreshold() > 3\n  checkPeriod: 1s\n  fallbackDuration: 2s\n  recoveryDuration: 0s\n  responseCode: 418\n",
            "m",
        )
        .unwrap();
        let Some(Middleware::CircuitBreaker(c)) = super::super::decode(&n).unwrap() else {
            panic!()
        };
        assert_eq!(
            (
                c.check_period,
                c.fallback_duration,
                c.recovery_duration,
                c.response_code
            ),
            (
                Duration::from_secs(1),
                Duration::from_secs(2),
                Duration::from_secs(10),
                418
            )
        );
        for bad in [
            "circuitBreaker:\n  checkPeriod: 1s\n",
            "circuitBreaker:\n  expression: RequestThreshold() > 3\n  responseCode: 0\n",
            "circuitBreaker:\n  expression: RequestThreshold() > 3\n  responseCode: 1000\n",
            "circuitBreaker:\n  expression: RequestThreshold() > 3\n  other: 1\n",
        ] {
            let n = Node::from_yaml(bad, "m").unwrap();
            assert!(super::super::decode(&n).is_err(), "{bad}");
        }
    }
}
