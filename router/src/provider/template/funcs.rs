//! The functions: `text/template`'s own, sprig's pure ones, Traefik's `normalize` and `split`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::value::*;
use super::*;

/// `v.a.b`: keys of maps; anything else has no fields (the file's data is `false`).
pub(super) fn fields(v: &Val, names: &[String]) -> Result<Val, String> {
    let mut v = v.clone();
    for n in names {
        v = match v {
            Val::Map(mut m) => m.remove(n).unwrap_or(Val::Nil),
            Val::Nil => return Err(format!("nil pointer evaluating .{n}")),
            other => return Err(format!("can't evaluate field {n} in type {}", other.kind())),
        };
    }
    Ok(v)
}

pub(super) fn want(a: &[Val], n: usize) -> Result<(), String> {
    if a.len() != n {
        return Err(format!("wrong number of args: want {n} got {}", a.len()));
    }
    Ok(())
}

pub(super) fn at_least(a: &[Val], n: usize) -> Result<(), String> {
    if a.len() < n {
        return Err(format!(
            "wrong number of args: want at least {n} got {}",
            a.len()
        ));
    }
    Ok(())
}

pub(super) fn s(a: &[Val], i: usize) -> String {
    a.get(i).map(Val::string).unwrap_or_default()
}

/// Go's `eq` of two basic values.
pub(super) fn equal(x: &Val, y: &Val) -> Result<bool, String> {
    Ok(match (x, y) {
        (Val::Int(a), Val::Int(b)) => a == b,
        (Val::Float(a), Val::Float(b)) => a == b,
        (Val::Str(a), Val::Str(b)) => a == b,
        (Val::Bool(a), Val::Bool(b)) => a == b,
        (Val::Nil, Val::Nil) => true,
        (Val::Nil, _) | (_, Val::Nil) => false,
        (a, b) if a.kind() == b.kind() => {
            return Err(format!("can't compare values of type {}", a.kind()))
        }
        (a, b) => {
            return Err(format!(
                "incompatible types for comparison: {} and {}",
                a.kind(),
                b.kind()
            ))
        }
    })
}

pub(super) fn order(x: &Val, y: &Val) -> Result<std::cmp::Ordering, String> {
    match (x, y) {
        (Val::Int(a), Val::Int(b)) => Ok(a.cmp(b)),
        (Val::Str(a), Val::Str(b)) => Ok(a.cmp(b)),
        (Val::Float(a), Val::Float(b)) => {
            a.partial_cmp(b).ok_or_else(|| "can't order NaN".to_owned())
        }
        (a, b) if a.kind() == b.kind() => Err(format!("invalid type for comparison: {}", a.kind())),
        (a, b) => Err(format!(
            "incompatible types for comparison: {} and {}",
            a.kind(),
            b.kind()
        )),
    }
}

/// sprig's `empty`.
pub(super) fn empty(v: &Val) -> bool {
    !v.truth()
}

/// A list of integers from `start` towards `stop` by `step` (sprig's `untilStep`).
pub(super) fn steps(start: i64, stop: i64, step: i64) -> Result<Val, String> {
    let mut out = Vec::new();
    if step == 0 || (step > 0 && start >= stop) || (step < 0 && start <= stop) {
        return Ok(Val::List(out));
    }
    let mut i = start;
    while (step > 0 && i < stop) || (step < 0 && i > stop) {
        if out.len() >= MAX_STEPS {
            return Err(format!("more than {MAX_STEPS} items"));
        }
        out.push(Val::Int(i));
        i = match i.checked_add(step) {
            Some(n) => n,
            None => break,
        };
    }
    Ok(Val::List(out))
}

/// Go's `fmt.Sprint`: a space between two operands when neither is a string.
pub(super) fn sprint(a: &[Val]) -> String {
    let mut out = String::new();
    for (i, v) in a.iter().enumerate() {
        if i > 0 && !matches!(v, Val::Str(_)) && !matches!(a[i - 1], Val::Str(_)) {
            out.push(' ');
        }
        out.push_str(&v.text());
    }
    out
}

/// Go's `%q` of a string.
pub(super) fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `fmt.Sprintf` for the verbs templates use: `%s %v %d %q %t %f %x %X %o %b %c %%`,
/// with flags `-`, `0`, `+`, a width and a precision.
pub(super) fn sprintf(format: &str, a: &[Val]) -> String {
    let mut out = String::new();
    let mut args = a.iter();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut left = false;
        let mut zero = false;
        let mut plus = false;
        while let Some(&f) = chars.peek() {
            match f {
                '-' => left = true,
                '0' => zero = true,
                '+' => plus = true,
                ' ' | '#' => {}
                _ => break,
            }
            chars.next();
        }
        let mut width = String::new();
        while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            width.push(d);
            chars.next();
        }
        let mut prec: Option<usize> = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut p = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                p.push(d);
                chars.next();
            }
            prec = Some(p.parse().unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(v) = args.next() else {
            let _ = write!(out, "%!{verb}(MISSING)");
            continue;
        };
        let body = match (verb, v) {
            ('d', Val::Int(i)) => {
                if plus && *i >= 0 {
                    format!("+{i}")
                } else {
                    i.to_string()
                }
            }
            ('x', Val::Int(i)) => format!("{i:x}"),
            ('X', Val::Int(i)) => format!("{i:X}"),
            ('o', Val::Int(i)) => format!("{i:o}"),
            ('b', Val::Int(i)) => format!("{i:b}"),
            ('c', Val::Int(i)) => u32::try_from(*i)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{fffd}')
                .to_string(),
            ('x', Val::Str(s)) => s.bytes().map(|b| format!("{b:02x}")).collect(),
            ('f' | 'F', Val::Float(f)) => format!("{f:.*}", prec.unwrap_or(6)),
            ('f' | 'F', Val::Int(i)) => format!("%!f(int={i})"),
            ('e', Val::Float(f)) => format!("{f:.*e}", prec.unwrap_or(6)),
            ('g', Val::Float(f)) => go_float(*f),
            ('t', Val::Bool(b)) => b.to_string(),
            ('q', Val::Str(s)) => go_quote(s),
            ('s' | 'v', v) => {
                let t = v.text();
                match (verb, prec) {
                    ('s', Some(p)) => t.chars().take(p).collect(),
                    _ => t,
                }
            }
            (verb, v) => format!("%!{verb}({}={})", v.kind(), v.text()),
        };
        let w: usize = width.parse().unwrap_or(0);
        let len = body.chars().count();
        if len < w {
            let pad = w - len;
            if left {
                out.push_str(&body);
                out.extend(std::iter::repeat_n(' ', pad));
            } else if zero && matches!(v, Val::Int(_) | Val::Float(_)) {
                let (sign, digits) = match body.strip_prefix(['-', '+']) {
                    Some(d) => (&body[..1], d),
                    None => ("", body.as_str()),
                };
                out.push_str(sign);
                out.extend(std::iter::repeat_n('0', pad));
                out.push_str(digits);
            } else {
                out.extend(std::iter::repeat_n(' ', pad));
                out.push_str(&body);
            }
        } else {
            out.push_str(&body);
        }
    }
    let extra: Vec<&Val> = args.collect();
    if !extra.is_empty() {
        out.push_str("%!(EXTRA ");
        let parts: Vec<String> = extra
            .iter()
            .map(|v| format!("{}={}", v.kind(), v.text()))
            .collect();
        out.push_str(&parts.join(", "));
        out.push(')');
    }
    out
}

/// Go's `strings.Split`: an empty separator splits into characters.
pub(super) fn go_split(s: &str, sep: &str) -> Vec<Val> {
    if sep.is_empty() {
        return s.chars().map(|c| Val::Str(c.to_string())).collect();
    }
    s.split(sep).map(|p| Val::Str(p.to_owned())).collect()
}

/// Traefik's `normalize`: runs of characters other than letters and digits become one `-`.
pub(super) fn normalize(s: &str) -> String {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// Go's `os.Expand` with `env`: `$NAME` and `${NAME}`.
pub(super) fn expand(s: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(braced) = after.strip_prefix('{') {
            match braced.find('}') {
                Some(end) => {
                    out.push_str(&env(&braced[..end]).unwrap_or_default());
                    rest = &braced[end + 1..];
                }
                // Go drops a bad `${`.
                None => rest = braced,
            }
            continue;
        }
        let name_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        if name_len == 0 {
            // `$` followed by something else: Go keeps the `$` when nothing is taken.
            out.push('$');
            rest = after;
            continue;
        }
        out.push_str(&env(&after[..name_len]).unwrap_or_default());
        rest = &after[name_len..];
    }
    out.push_str(rest);
    out
}

pub(super) fn regex(pattern: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(pattern).map_err(|e| format!("{pattern:?}: {e}"))
}

/// A function call with its arguments evaluated (the piped value last).
pub(super) fn call(
    f: &str,
    a: Vec<Val>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Val, String> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    Ok(match f {
        "and" => {
            at_least(&a, 1)?;
            a.iter()
                .find(|v| !v.truth())
                .unwrap_or(&a[a.len() - 1])
                .clone()
        }
        "or" => {
            at_least(&a, 1)?;
            a.iter()
                .find(|v| v.truth())
                .unwrap_or(&a[a.len() - 1])
                .clone()
        }
        "not" => {
            want(&a, 1)?;
            Val::Bool(!a[0].truth())
        }
        "len" => {
            want(&a, 1)?;
            Val::Int(match &a[0] {
                Val::Str(s) => s.len(),
                Val::List(l) => l.len(),
                Val::Map(m) => m.len(),
                v => return Err(format!("len of type {}", v.kind())),
            } as i64)
        }
        "index" => {
            at_least(&a, 1)?;
            let mut v = a[0].clone();
            for k in &a[1..] {
                v = match (v, k) {
                    (Val::List(l), Val::Int(i)) => usize::try_from(*i)
                        .ok()
                        .and_then(|i| l.get(i).cloned())
                        .ok_or_else(|| format!("index out of range: {i}"))?,
                    (Val::Map(m), k) => m.get(&k.string()).cloned().unwrap_or(Val::Nil),
                    (Val::Str(s), Val::Int(i)) => usize::try_from(*i)
                        .ok()
                        .and_then(|i| s.as_bytes().get(i))
                        .map(|b| Val::Int(i64::from(*b)))
                        .ok_or_else(|| format!("index out of range: {i}"))?,
                    (Val::Nil, _) => return Err("index of untyped nil".into()),
                    (v, k) => return Err(format!("can't index {} with {}", v.kind(), k.kind())),
                };
            }
            v
        }
        "print" => Val::Str(sprint(&a)),
        "println" => {
            let parts: Vec<String> = a.iter().map(Val::text).collect();
            Val::Str(parts.join(" ") + "\n")
        }
        "printf" => {
            at_least(&a, 1)?;
            Val::Str(sprintf(&a[0].string(), &a[1..]))
        }
        "eq" => {
            at_least(&a, 2)?;
            let mut any = false;
            for b in &a[1..] {
                any |= equal(&a[0], b)?;
            }
            Val::Bool(any)
        }
        "ne" => {
            want(&a, 2)?;
            Val::Bool(!equal(&a[0], &a[1])?)
        }
        "lt" | "le" | "gt" | "ge" => {
            want(&a, 2)?;
            let o = order(&a[0], &a[1])?;
            Val::Bool(match f {
                "lt" => o.is_lt(),
                "le" => o.is_le(),
                "gt" => o.is_gt(),
                _ => o.is_ge(),
            })
        }
        "env" => {
            want(&a, 1)?;
            Val::Str(env(&s(&a, 0)).unwrap_or_default())
        }
        "expandenv" => {
            want(&a, 1)?;
            Val::Str(expand(&s(&a, 0), env))
        }
        "default" => {
            at_least(&a, 1)?;
            match a.get(1) {
                Some(given) if !empty(given) => given.clone(),
                _ => a[0].clone(),
            }
        }
        "empty" => {
            want(&a, 1)?;
            Val::Bool(empty(&a[0]))
        }
        "coalesce" => a.iter().find(|v| !empty(v)).cloned().unwrap_or(Val::Nil),
        "ternary" => {
            want(&a, 3)?;
            if a[2].truth() {
                a[0].clone()
            } else {
                a[1].clone()
            }
        }
        "quote" | "squote" => {
            let parts: Vec<String> = a
                .iter()
                .filter(|v| **v != Val::Nil)
                .map(|v| {
                    if f == "quote" {
                        go_quote(&v.string())
                    } else {
                        format!("'{}'", v.string())
                    }
                })
                .collect();
            Val::Str(parts.join(" "))
        }
        "lower" | "upper" | "title" | "trim" | "nospace" | "toString" | "normalize" | "b64enc"
        | "b64dec" | "sha256sum" => {
            want(&a, 1)?;
            let t = s(&a, 0);
            Val::Str(match f {
                "lower" => t.to_lowercase(),
                "upper" => t.to_uppercase(),
                "title" => {
                    let mut out = String::with_capacity(t.len());
                    let mut start = true;
                    for c in t.chars() {
                        if start && c.is_alphanumeric() {
                            out.extend(c.to_uppercase());
                        } else {
                            out.push(c);
                        }
                        start = !(c.is_alphanumeric() || c == '_');
                    }
                    out
                }
                "trim" => t.trim().to_owned(),
                "nospace" => t.chars().filter(|c| !c.is_whitespace()).collect(),
                "normalize" => normalize(&t),
                "b64enc" => b64.encode(t.as_bytes()),
                "b64dec" => match b64.decode(t.as_bytes()) {
                    Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                    // sprig returns the error's text.
                    Err(e) => e.to_string(),
                },
                "sha256sum" => {
                    use sha2::Digest;
                    sha2::Sha256::digest(t.as_bytes())
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect()
                }
                _ => t,
            })
        }
        "trimAll" | "trimPrefix" | "trimSuffix" | "contains" | "hasPrefix" | "hasSuffix" => {
            want(&a, 2)?;
            let (x, t) = (s(&a, 0), s(&a, 1));
            match f {
                "trimAll" => Val::Str(t.trim_matches(|c| x.contains(c)).to_owned()),
                "trimPrefix" => Val::Str(t.strip_prefix(x.as_str()).unwrap_or(&t).to_owned()),
                "trimSuffix" => Val::Str(t.strip_suffix(x.as_str()).unwrap_or(&t).to_owned()),
                "contains" => Val::Bool(t.contains(x.as_str())),
                "hasPrefix" => Val::Bool(t.starts_with(x.as_str())),
                _ => Val::Bool(t.ends_with(x.as_str())),
            }
        }
        "replace" => {
            want(&a, 3)?;
            let (old, new, t) = (s(&a, 0), s(&a, 1), s(&a, 2));
            Val::Str(if old.is_empty() {
                // Go inserts `new` around every character.
                let mut out = new.clone();
                for c in t.chars() {
                    out.push(c);
                    out.push_str(&new);
                }
                out
            } else {
                t.replace(&old, &new)
            })
        }
        "repeat" => {
            want(&a, 2)?;
            let n = usize::try_from(a[0].int()).map_err(|_| "negative count".to_owned())?;
            let t = s(&a, 1);
            if n.saturating_mul(t.len()) > MAX_OUTPUT {
                return Err("the result is too large".into());
            }
            Val::Str(t.repeat(n))
        }
        "substr" => {
            want(&a, 3)?;
            // sprig: a negative start is 0, an end out of range is the end; anything else
            // out of range is Go's slice panic, an error.
            let (start, end, t) = (a[0].int(), a[1].int(), s(&a, 2));
            let b = t.as_bytes();
            let len = b.len() as i64;
            let (from, to) = if start < 0 {
                (0, end)
            } else if end < 0 || end > len {
                (start, len)
            } else {
                (start, end)
            };
            if from < 0 || to < from || to > len {
                return Err(format!("slice bounds out of range [{from}:{to}]"));
            }
            Val::Str(String::from_utf8_lossy(&b[from as usize..to as usize]).into_owned())
        }
        "trunc" => {
            want(&a, 2)?;
            let (n, t) = (a[0].int(), s(&a, 1));
            let len = t.len() as i64;
            let b = t.as_bytes();
            Val::Str(if n < 0 && -n < len {
                String::from_utf8_lossy(&b[(len + n) as usize..]).into_owned()
            } else if n >= 0 && n < len {
                String::from_utf8_lossy(&b[..n as usize]).into_owned()
            } else {
                t
            })
        }
        "cat" => {
            let parts: Vec<String> = a
                .iter()
                .filter(|v| **v != Val::Nil)
                .map(Val::text)
                .collect();
            Val::Str(parts.join(" "))
        }
        "indent" | "nindent" => {
            want(&a, 2)?;
            let n = usize::try_from(a[0].int()).unwrap_or(0).min(1024);
            let pad = " ".repeat(n);
            let t = s(&a, 1);
            let body = format!("{pad}{}", t.replace('\n', &format!("\n{pad}")));
            Val::Str(if f == "nindent" {
                format!("\n{body}")
            } else {
                body
            })
        }
        // Traefik's `split` is Go's `strings.Split(s, sep)`, not sprig's.
        "split" => {
            want(&a, 2)?;
            Val::List(go_split(&s(&a, 0), &s(&a, 1)))
        }
        "splitList" => {
            want(&a, 2)?;
            Val::List(go_split(&s(&a, 1), &s(&a, 0)))
        }
        "join" => {
            want(&a, 2)?;
            let items: Vec<String> = match &a[1] {
                Val::List(l) => l.iter().map(Val::string).collect(),
                v => vec![v.string()],
            };
            Val::Str(items.join(&s(&a, 0)))
        }
        "regexMatch" => {
            want(&a, 2)?;
            Val::Bool(regex(&s(&a, 0))?.is_match(&s(&a, 1)))
        }
        "regexReplaceAll" | "regexReplaceAllLiteral" => {
            want(&a, 3)?;
            let re = regex(&s(&a, 0))?;
            let (t, repl) = (s(&a, 1), s(&a, 2));
            Val::Str(if f == "regexReplaceAll" {
                re.replace_all(&t, repl.as_str()).into_owned()
            } else {
                re.replace_all(&t, regex::NoExpand(&repl)).into_owned()
            })
        }
        "fail" => {
            want(&a, 1)?;
            return Err(s(&a, 0));
        }
        "required" => {
            want(&a, 2)?;
            match &a[1] {
                Val::Nil => return Err(s(&a, 0)),
                Val::Str(t) if t.is_empty() => return Err(s(&a, 0)),
                v => v.clone(),
            }
        }
        "atoi" => {
            want(&a, 1)?;
            Val::Int(s(&a, 0).parse().unwrap_or(0))
        }
        "int" | "int64" => {
            want(&a, 1)?;
            Val::Int(a[0].int())
        }
        "float64" => {
            want(&a, 1)?;
            Val::Float(match &a[0] {
                Val::Int(i) => *i as f64,
                Val::Float(f) => *f,
                Val::Bool(b) => f64::from(u8::from(*b)),
                Val::Str(t) => t.trim().parse().unwrap_or(0.0),
                _ => 0.0,
            })
        }
        "add" => Val::Int(a.iter().fold(0i64, |n, v| n.wrapping_add(v.int()))),
        "add1" => {
            want(&a, 1)?;
            Val::Int(a[0].int().wrapping_add(1))
        }
        "mul" => {
            at_least(&a, 1)?;
            Val::Int(a.iter().fold(1i64, |n, v| n.wrapping_mul(v.int())))
        }
        "sub" | "div" | "mod" => {
            want(&a, 2)?;
            let (x, y) = (a[0].int(), a[1].int());
            Val::Int(match f {
                "sub" => x.wrapping_sub(y),
                _ if y == 0 => return Err("integer divide by zero".into()),
                "div" => x.wrapping_div(y),
                _ => x.wrapping_rem(y),
            })
        }
        "max" | "min" => {
            at_least(&a, 1)?;
            let it = a.iter().map(Val::int);
            Val::Int(if f == "max" { it.max() } else { it.min() }.unwrap_or(0))
        }
        "until" => {
            want(&a, 1)?;
            let n = a[0].int();
            steps(0, n, if n < 0 { -1 } else { 1 })?
        }
        "untilStep" => {
            want(&a, 3)?;
            steps(a[0].int(), a[1].int(), a[2].int())?
        }
        // sprig's `seq`, as the shell's (`seq last`, `seq first last`, `seq first step
        // last`): a string of numbers separated by spaces, not a list.
        "seq" => {
            let ints: Vec<i64> = a.iter().map(Val::int).collect();
            let (first, step, last) = match ints.as_slice() {
                [] => return Ok(Val::Str(String::new())),
                [last] => (1, if *last < 1 { -1 } else { 1 }, *last),
                [first, last] => (*first, if last < first { -1 } else { 1 }, *last),
                [first, step, last] => {
                    if last < first && *step > 0 {
                        return Ok(Val::Str(String::new()));
                    }
                    (*first, *step, *last)
                }
                _ => return Err(format!("wrong number of args: want 0 to 3 got {}", a.len())),
            };
            let increment = if last < first { -1 } else { 1 };
            let Val::List(l) = steps(first, last.saturating_add(increment), step)? else {
                return Err("not a list".into());
            };
            let parts: Vec<String> = l.iter().map(Val::text).collect();
            Val::Str(parts.join(" "))
        }
        "list" => Val::List(a),
        "first" | "last" | "rest" | "initial" | "uniq" | "compact" => {
            want(&a, 1)?;
            let l = a[0].list(f)?;
            match f {
                "first" => l.first().cloned().unwrap_or(Val::Nil),
                "last" => l.last().cloned().unwrap_or(Val::Nil),
                "rest" => Val::List(l.get(1..).unwrap_or_default().to_vec()),
                "initial" => Val::List(l[..l.len().saturating_sub(1)].to_vec()),
                "uniq" => {
                    let mut out: Vec<Val> = Vec::new();
                    for v in l {
                        if !out.contains(&v) {
                            out.push(v);
                        }
                    }
                    Val::List(out)
                }
                _ => Val::List(l.into_iter().filter(|v| !empty(v)).collect()),
            }
        }
        "append" | "push" => {
            want(&a, 2)?;
            let mut l = a[0].list(f)?;
            l.push(a[1].clone());
            Val::List(l)
        }
        "prepend" => {
            want(&a, 2)?;
            let mut l = a[0].list(f)?;
            l.insert(0, a[1].clone());
            Val::List(l)
        }
        "has" => {
            want(&a, 2)?;
            Val::Bool(a[1].list(f)?.contains(&a[0]))
        }
        "without" => {
            at_least(&a, 1)?;
            let l = a[0].list(f)?;
            Val::List(l.into_iter().filter(|v| !a[1..].contains(v)).collect())
        }
        "dict" => {
            let mut m = BTreeMap::new();
            for pair in a.chunks(2) {
                m.insert(
                    pair[0].string(),
                    pair.get(1).cloned().unwrap_or(Val::Str(String::new())),
                );
            }
            Val::Map(m)
        }
        "get" | "hasKey" => {
            want(&a, 2)?;
            let Val::Map(m) = &a[0] else {
                return Err(format!("expected a dict, got {}", a[0].kind()));
            };
            let v = m.get(&s(&a, 1));
            if f == "get" {
                v.cloned().unwrap_or(Val::Str(String::new()))
            } else {
                Val::Bool(v.is_some())
            }
        }
        "set" => {
            want(&a, 3)?;
            let Val::Map(mut m) = a[0].clone() else {
                return Err(format!("expected a dict, got {}", a[0].kind()));
            };
            m.insert(s(&a, 1), a[2].clone());
            Val::Map(m)
        }
        "keys" | "values" => {
            let mut out = Vec::new();
            for d in &a {
                let Val::Map(m) = d else {
                    return Err(format!("expected a dict, got {}", d.kind()));
                };
                if f == "keys" {
                    out.extend(m.keys().map(|k| Val::Str(k.clone())));
                } else {
                    out.extend(m.values().cloned());
                }
            }
            Val::List(out)
        }
        other => return Err(format!("function {other:?} not defined")),
    })
}
