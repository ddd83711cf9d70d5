//! Values: what pipelines compute, with Go's printing, truth and comparisons.

use std::collections::BTreeMap;

use super::lex::*;

/// A value, as Go's templates see them.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Val>),
    Map(BTreeMap<String, Val>),
}

impl Val {
    /// Go's truth: false, 0, nil and empty strings, lists and maps are false.
    pub(super) fn truth(&self) -> bool {
        match self {
            Val::Nil => false,
            Val::Bool(b) => *b,
            Val::Int(i) => *i != 0,
            Val::Float(f) => *f != 0.0,
            Val::Str(s) => !s.is_empty(),
            Val::List(l) => !l.is_empty(),
            Val::Map(m) => !m.is_empty(),
        }
    }

    pub(super) fn kind(&self) -> &'static str {
        match self {
            Val::Nil => "nil",
            Val::Bool(_) => "bool",
            Val::Int(_) => "int",
            Val::Float(_) => "float64",
            Val::Str(_) => "string",
            Val::List(_) => "list",
            Val::Map(_) => "map",
        }
    }

    /// The text Go's `fmt` writes for the value (`%v`).
    pub(super) fn text(&self) -> String {
        match self {
            Val::Nil => "<no value>".into(),
            Val::Bool(b) => b.to_string(),
            Val::Int(i) => i.to_string(),
            Val::Float(f) => go_float(*f),
            Val::Str(s) => s.clone(),
            Val::List(l) => {
                let items: Vec<String> = l.iter().map(Val::inner_text).collect();
                format!("[{}]", items.join(" "))
            }
            Val::Map(m) => {
                let items: Vec<String> = m
                    .iter()
                    .map(|(k, v)| format!("{k}:{}", v.inner_text()))
                    .collect();
                format!("map[{}]", items.join(" "))
            }
        }
    }

    /// Inside a list or map, nil is `<nil>`.
    pub(super) fn inner_text(&self) -> String {
        match self {
            Val::Nil => "<nil>".into(),
            v => v.text(),
        }
    }

    /// sprig's `toString` and the string a string function takes.
    pub(super) fn string(&self) -> String {
        match self {
            Val::Nil => String::new(),
            v => v.text(),
        }
    }

    /// sprig's integer conversion (cast.ToInt64): text is parsed, anything wrong is 0.
    pub(super) fn int(&self) -> i64 {
        match self {
            Val::Int(i) => *i,
            Val::Float(f) => *f as i64,
            Val::Bool(b) => i64::from(*b),
            Val::Str(s) => match number(s.trim()) {
                Ok(Val::Int(i)) => i,
                _ => 0,
            },
            _ => 0,
        }
    }

    pub(super) fn list(&self, what: &str) -> Result<Vec<Val>, String> {
        match self {
            Val::List(l) => Ok(l.clone()),
            Val::Nil => Ok(Vec::new()),
            v => Err(format!("{what}: expected a list, got {}", v.kind())),
        }
    }
}

/// Go's `%v` of a float64: the shortest digits, with an exponent below 1e-4 or from 1e6
/// (`1e+06`).
pub(super) fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let e = format!("{f:e}");
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if f != 0.0 && !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.abs())
    } else {
        format!("{f}")
    }
}
