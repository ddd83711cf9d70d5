//! `buffering.retryExpression`: when a request is sent again after an answer, as Traefik's
//! buffering middleware (`vulcand/oxy`'s buffer) decides it. The expression is Go syntax read
//! by `vulcand/predicate` with four functions: `IsNetworkError()` (the last try answered 502
//! or 504: the server could not be reached), `Attempts()` (tries so far, from 1),
//! `ResponseCode()` (the last try's status) and `RequestMethod()` (`"POST"`); integers compare
//! with `==`, `!=`, `<`, `<=`, `>`, `>=`, the method with `==` and `!=`, conditions join with
//! `&&` and `||`. What the library refuses is refused here: `!`, a literal on the left, a
//! string compared with `<`, a float, an unknown function.

use std::sync::Arc;

use super::circuit_breaker::{lex, precedence, Op, Tok};

/// A parsed `retryExpression`, shared by the routes that use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryExpression(Arc<(String, Cond)>);

impl serde::Serialize for RetryExpression {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0 .0)
    }
}

/// One try's outcome, what the expression looks at.
#[derive(Debug, Clone, Copy)]
pub struct Try<'a> {
    pub method: &'a str,
    /// Tries so far (the first is 1).
    pub attempt: u32,
    /// Its status (502 when the server could not be reached).
    pub code: u16,
}

/// The most tries the expression can ask for (oxy's `DefaultMaxRetryAttempts`).
pub const MAX_ATTEMPTS: u32 = 10;

impl RetryExpression {
    /// Parses `text`.
    pub fn parse(text: &str) -> Result<RetryExpression, String> {
        let mut p = Parser {
            tokens: lex(text)?,
            at: 0,
        };
        let e = p.binary(0)?;
        if let Some(t) = p.tokens.get(p.at) {
            return Err(format!("unexpected {t} after the expression"));
        }
        match e {
            V::Cond(c) => Ok(RetryExpression(Arc::new((text.to_owned(), c)))),
            other => Err(format!("expected a predicate, got {}", other.kind())),
        }
    }

    /// The expression as written.
    pub fn text(&self) -> &str {
        &self.0 .0
    }

    /// Whether the request goes again after `t`.
    pub fn retries(&self, t: Try<'_>) -> bool {
        t.attempt <= MAX_ATTEMPTS && self.0 .1.holds(t)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Cond {
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    NetworkError,
    Int(IntFn, Op, i64),
    /// `RequestMethod()` equal (`true`) or not to the text.
    Method(bool, String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IntFn {
    Attempts,
    ResponseCode,
}

impl Cond {
    fn holds(&self, t: Try<'_>) -> bool {
        match self {
            Cond::And(a, b) => a.holds(t) && b.holds(t),
            Cond::Or(a, b) => a.holds(t) || b.holds(t),
            Cond::NetworkError => matches!(t.code, 502 | 504),
            Cond::Int(f, op, v) => {
                let x = match f {
                    IntFn::Attempts => i64::from(t.attempt),
                    IntFn::ResponseCode => i64::from(t.code),
                };
                op.apply(Some(x.cmp(v)))
            }
            Cond::Method(eq, m) => (t.method == m) == *eq,
        }
    }
}

/// A value while parsing.
#[derive(Debug)]
enum V {
    Cond(Cond),
    IntFn(IntFn),
    MethodFn,
    Int(i64),
    Str(String),
}

impl V {
    fn kind(&self) -> &'static str {
        match self {
            V::Cond(_) => "a predicate",
            V::IntFn(_) | V::MethodFn => "a function's value",
            V::Int(_) => "a number",
            V::Str(_) => "a string",
        }
    }
}

struct Parser {
    tokens: Vec<Tok>,
    at: usize,
}

impl Parser {
    fn next(&mut self) -> Result<Tok, String> {
        let t = self
            .tokens
            .get(self.at)
            .cloned()
            .ok_or("the expression ends too early")?;
        self.at += 1;
        Ok(t)
    }

    fn binary(&mut self, min: u8) -> Result<V, String> {
        let mut left = self.unary()?;
        while let Some(Tok::Punct(p)) = self.tokens.get(self.at) {
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

    fn unary(&mut self) -> Result<V, String> {
        match self.next()? {
            Tok::Punct("(") => {
                let e = self.binary(0)?;
                match self.next()? {
                    Tok::Punct(")") => Ok(e),
                    t => Err(format!("expected \")\", got {t}")),
                }
            }
            Tok::Punct(p) => Err(format!("unsupported operator: {p}")),
            Tok::Int(i) => Ok(V::Int(i)),
            Tok::Float(x) => Err(format!("unsupported literal {x}: an integer is expected")),
            Tok::Str(Some(s)) => Ok(V::Str(s)),
            Tok::Str(None) => Err("unsupported literal: a character".into()),
            Tok::Ident(name) => {
                if self.next()? != Tok::Punct("(") {
                    return Err(format!("{name} is not defined"));
                }
                if self.next()? != Tok::Punct(")") {
                    return Err(format!("{name} takes no arguments"));
                }
                match name.as_str() {
                    "IsNetworkError" => Ok(V::Cond(Cond::NetworkError)),
                    "Attempts" => Ok(V::IntFn(IntFn::Attempts)),
                    "ResponseCode" => Ok(V::IntFn(IntFn::ResponseCode)),
                    "RequestMethod" => Ok(V::MethodFn),
                    _ => Err(format!("unsupported function: {name}")),
                }
            }
        }
    }
}

fn join(p: &str, left: V, right: V) -> Result<V, String> {
    let cond = |v: V| match v {
        V::Cond(c) => Ok(Box::new(c)),
        other => Err(format!("{p} joins predicates, got {}", other.kind())),
    };
    let op = match p {
        "&&" => return Ok(V::Cond(Cond::And(cond(left)?, cond(right)?))),
        "||" => return Ok(V::Cond(Cond::Or(cond(left)?, cond(right)?))),
        other => Op::comparison(other).ok_or_else(|| format!("unsupported operator: {other}"))?,
    };
    match (left, right) {
        (V::IntFn(f), V::Int(v)) => Ok(V::Cond(Cond::Int(f, op, v))),
        (V::MethodFn, V::Str(s)) if matches!(op, Op::Eq | Op::Ne) => {
            Ok(V::Cond(Cond::Method(op == Op::Eq, s)))
        }
        (V::MethodFn, V::Str(_)) => Err(format!("{p} does not compare strings")),
        (V::IntFn(_), other) => Err(format!("expected an integer, got {}", other.kind())),
        (V::MethodFn, other) => Err(format!("expected a string, got {}", other.kind())),
        (other, _) => Err(format!(
            "{p} compares a function's value (on its left), got {}",
            other.kind()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(method: &str, attempt: u32, code: u16) -> Try<'_> {
        Try {
            method,
            attempt,
            code,
        }
    }

    #[test]
    fn oxys_examples_and_every_function() {
        let e = RetryExpression::parse("IsNetworkError() && Attempts() <= 2").unwrap();
        assert!(e.retries(t("GET", 1, 502)) && e.retries(t("GET", 2, 504)));
        assert!(!e.retries(t("GET", 3, 502)) && !e.retries(t("GET", 1, 500)));
        let e = RetryExpression::parse(
            "(ResponseCode() == 503 || IsNetworkError()) && RequestMethod() != `POST` && Attempts() < 3",
        )
        .unwrap();
        assert!(e.retries(t("GET", 1, 503)) && e.retries(t("PUT", 2, 502)));
        assert!(!e.retries(t("POST", 1, 503)) && !e.retries(t("GET", 3, 503)));
        let e = RetryExpression::parse(r#"RequestMethod() == "GET""#).unwrap();
        assert!(e.retries(t("GET", 10, 200)));
        assert!(!e.retries(t("GET", 11, 200)), "at most oxy's 10");
        assert_eq!(e.text(), r#"RequestMethod() == "GET""#);
        let e = RetryExpression::parse(
            "ResponseCode() >= 500 || ResponseCode() > 99 && ResponseCode() < 101",
        )
        .unwrap();
        assert!(e.retries(t("GET", 1, 500)) && e.retries(t("GET", 1, 100)));
        assert!(!e.retries(t("GET", 1, 404)));
    }

    #[test]
    fn what_the_library_refuses_is_refused() {
        for bad in [
            "",
            "!IsNetworkError()",
            "2 > Attempts()",
            "Attempts()",
            "Attempts() < 2.0",
            "Attempts() < \"2\"",
            "RequestMethod() < \"GET\"",
            "RequestMethod() == 'G'",
            "RequestMethod() == GET",
            "Attempts(1) < 2",
            "Retries() < 2",
            "IsNetworkError() && 2",
            "Attempts() + 1 < 2",
            "(IsNetworkError()",
            "IsNetworkError() IsNetworkError()",
            "\"unclosed",
        ] {
            assert!(RetryExpression::parse(bad).is_err(), "{bad:?}");
        }
    }
}
