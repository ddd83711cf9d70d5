//! Dynamic configuration files are Go templates in Traefik (`text/template` with sprig's
//! functions, plus `normalize` and a `split` of Go's `strings.Split`), rendered with `false`
//! as the data: real files use them for secrets and domains from the environment,
//! `{{ env "DOMAIN" }}`, and for repeated blocks, `{{ range $i, $e := until 20 }}`.
//!
//! This is an interpreter of that language: text and actions, comments (`{{/* */}}`), trim
//! markers (`{{-`, `-}}`), pipelines, parenthesised calls, variables (`$x := ...`, `$x = ...`,
//! `$`), `if`/`else if`/`else`, `range` (lists, maps in key order, integers; `else`; `break`,
//! `continue`), `with`, and the functions in [`FUNCTIONS`]: `text/template`'s own and sprig's
//! pure ones that configurations use. A function outside the list is an error at parse time,
//! as Go's "function not defined" is, even in a branch not taken; an error at run time (a
//! wrong argument, `fail`, `required`) is an error of the file. Neither is ever copied through
//! as text. A template may not loop more than [`MAX_STEPS`] times nor write more than
//! [`MAX_OUTPUT`] bytes (Go has no limit; a file that large is a mistake).

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The most loop iterations a file's template may run (and the longest list `until`,
/// `untilStep` and `seq` make).
pub const MAX_STEPS: usize = 1_000_000;

/// The deepest a template's control structures and parentheses may nest.
pub const MAX_DEPTH: usize = 32;

/// The most bytes a file's template may write.
pub const MAX_OUTPUT: usize = 64 << 20;

/// The functions a template may call: `text/template`'s and sprig's (pure ones), plus
/// Traefik's `normalize` and `split`.
#[rustfmt::skip]
pub const FUNCTIONS: &[&str] = &[
    // text/template
    "and", "or", "not", "len", "index", "print", "printf", "println",
    "eq", "ne", "lt", "le", "gt", "ge",
    // sprig: strings
    "env", "expandenv", "default", "empty", "coalesce", "ternary", "quote", "squote",
    "lower", "upper", "title", "trim", "trimAll", "trimPrefix", "trimSuffix", "replace",
    "repeat", "substr", "trunc", "contains", "hasPrefix", "hasSuffix", "cat", "nospace",
    "indent", "nindent", "split", "splitList", "join", "toString", "normalize", "b64enc",
    "b64dec", "sha256sum", "regexMatch", "regexReplaceAll", "regexReplaceAllLiteral",
    "fail", "required",
    // sprig: numbers
    "atoi", "int", "int64", "float64", "add", "add1", "sub", "mul", "div", "mod", "max",
    "min", "until", "untilStep", "seq",
    // sprig: lists and dicts
    "list", "first", "last", "rest", "initial", "append", "push", "prepend", "has", "uniq",
    "compact", "without", "dict", "get", "set", "hasKey", "keys", "values",
];

/// Renders `text` with the variables `env` gives.
pub fn render(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    if !text.contains("{{") {
        return Ok(text.to_owned());
    }
    let tokens = lex(text)?;
    let mut p = Parser {
        tokens,
        pos: 0,
        depth: 0,
    };
    let (nodes, end) = p.list()?;
    match end {
        End::Eof => {}
        End::Close(line) => return Err(format!("line {line}: unexpected {{{{end}}}}")),
        End::Else(line, _) => return Err(format!("line {line}: unexpected {{{{else}}}}")),
    }
    let mut x = Exec {
        env,
        vars: vec![("$".into(), Val::Bool(false))],
        out: String::new(),
        steps: 0,
    };
    x.run(&nodes, &Val::Bool(false))?;
    Ok(x.out)
}

// === lexing ===

#[derive(Debug)]
enum Tok {
    Text(String),
    /// An action's text (without delimiters and trim markers) and its line.
    Action(String, usize),
}

fn line_at(text: &str, byte: usize) -> usize {
    text[..byte].matches('\n').count() + 1
}

/// Splits `text` into text and actions, applying trim markers and dropping comments.
fn lex(text: &str) -> Result<Vec<Tok>, String> {
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
fn action_end(text: &str, from: usize) -> Option<usize> {
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

fn head(s: &str) -> String {
    s.chars().take(40).collect()
}

/// A word of an action.
#[derive(Debug, Clone, PartialEq)]
enum Word {
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

fn words(action: &str) -> Result<Vec<Word>, String> {
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
fn number(s: &str) -> Result<Val, String> {
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

// === parsing ===

#[derive(Debug)]
struct Pipe {
    /// Variables declared (`$x :=`) or assigned (`$x =`).
    vars: Vec<String>,
    assign: bool,
    cmds: Vec<Vec<Arg>>,
    /// The action as written, for messages.
    src: String,
}

#[derive(Debug)]
enum Arg {
    Lit(Val),
    Var(String, Vec<String>),
    Field(Vec<String>),
    Func(String),
    Sub(Pipe),
}

#[derive(Debug)]
enum Node {
    Text(String),
    Out(Pipe),
    If(Pipe, Vec<Node>, Vec<Node>),
    With(Pipe, Vec<Node>, Vec<Node>),
    Range(Pipe, Vec<Node>, Vec<Node>),
    Break,
    Continue,
}

/// How a list of nodes ended.
enum End {
    Eof,
    Close(usize),
    /// `{{else}}`, or `{{else if ...}}` / `{{else with ...}}` with its keyword and pipeline.
    Else(usize, Option<(String, Pipe)>),
}

struct Parser {
    tokens: Vec<Tok>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn list(&mut self) -> Result<(Vec<Node>, End), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err("control structures nested too deep".into());
        }
        let mut nodes = Vec::new();
        let end = loop {
            let Some(tok) = self.tokens.get(self.pos) else {
                break End::Eof;
            };
            self.pos += 1;
            let (action, line) = match tok {
                Tok::Text(t) => {
                    nodes.push(Node::Text(t.clone()));
                    continue;
                }
                Tok::Action(a, l) => (a.clone(), *l),
            };
            let ws = words(&action).map_err(|e| format!("line {line}: {{{{{action}}}}}: {e}"))?;
            let at = |e: String| format!("line {line}: {{{{{action}}}}}: {e}");
            let keyword = match ws.first() {
                Some(Word::Ident(k)) => k.as_str(),
                _ => "",
            };
            match keyword {
                "end" if ws.len() == 1 => break End::Close(line),
                "else" => {
                    if ws.len() == 1 {
                        break End::Else(line, None);
                    }
                    match ws.get(1) {
                        Some(Word::Ident(k)) if k == "if" || k == "with" => {
                            let p = pipe(&ws[2..], &action).map_err(at)?;
                            break End::Else(line, Some((k.clone(), p)));
                        }
                        _ => return Err(at("expected else, else if or else with".into())),
                    }
                }
                "if" | "with" | "range" => {
                    let p = pipe(&ws[1..], &action).map_err(at)?;
                    if p.cmds.is_empty() {
                        return Err(at(format!("missing value for {keyword}")));
                    }
                    let node = self.control(keyword, p, line)?;
                    nodes.push(node);
                }
                "break" | "continue" if ws.len() == 1 => nodes.push(if keyword == "break" {
                    Node::Break
                } else {
                    Node::Continue
                }),
                "define" | "template" | "block" | "end" | "break" | "continue" => {
                    return Err(at(format!(
                        "{keyword:?} is not supported in a dynamic file"
                    )))
                }
                _ => {
                    let p = pipe(&ws, &action).map_err(at)?;
                    if p.cmds.is_empty() {
                        return Err(at("missing value for command".into()));
                    }
                    nodes.push(Node::Out(p));
                }
            }
        };
        self.depth -= 1;
        Ok((nodes, end))
    }

    /// The rest of an `if`, `with` or `range` whose pipeline is `p`.
    fn control(&mut self, keyword: &str, p: Pipe, line: usize) -> Result<Node, String> {
        let (body, end) = self.list()?;
        let otherwise = match end {
            End::Eof => return Err(format!("line {line}: {{{{{keyword}}}}} has no {{{{end}}}}")),
            End::Close(_) => Vec::new(),
            End::Else(_, None) => match self.list()? {
                (nodes, End::Close(_)) => nodes,
                (_, End::Else(l, _)) => {
                    return Err(format!("line {l}: a second {{{{else}}}} in one {keyword}"))
                }
                (_, End::Eof) => {
                    return Err(format!("line {line}: {{{{{keyword}}}}} has no {{{{end}}}}"))
                }
            },
            // `{{else if x}}...{{end}}` is `{{else}}{{if x}}...{{end}}{{end}}`: one end.
            End::Else(l, Some((k, q))) => vec![self.control(&k, q, l)?],
        };
        Ok(match keyword {
            "if" => Node::If(p, body, otherwise),
            "with" => Node::With(p, body, otherwise),
            _ => Node::Range(p, body, otherwise),
        })
    }
}

/// A pipeline: declarations, then commands separated by `|`.
fn pipe(ws: &[Word], src: &str) -> Result<Pipe, String> {
    nested(ws, src, 0)
}

fn nested(ws: &[Word], src: &str, depth: usize) -> Result<Pipe, String> {
    if depth > MAX_DEPTH {
        return Err("parentheses nested too deep".into());
    }
    let mut vars = Vec::new();
    let mut assign = false;
    let mut rest = ws;
    // `$x :=`, `$i, $e :=`, `$x =`.
    let mut k = 0;
    let mut names = Vec::new();
    while let Some(Word::Var(n, f)) = rest.get(k) {
        if !f.is_empty() {
            break;
        }
        names.push(n.clone());
        match rest.get(k + 1) {
            Some(Word::Comma) => k += 2,
            Some(Word::Declare) | Some(Word::Assign) => {
                assign = rest[k + 1] == Word::Assign;
                vars = names;
                rest = &rest[k + 2..];
                break;
            }
            _ => break,
        }
    }
    if vars.len() > 2 {
        return Err("too many declarations".into());
    }
    let mut cmds = Vec::new();
    let mut i = 0;
    let mut cmd = Vec::new();
    while i < rest.len() {
        match &rest[i] {
            Word::Pipe => {
                if cmd.is_empty() {
                    return Err("missing command in the pipeline".into());
                }
                cmds.push(std::mem::take(&mut cmd));
            }
            Word::Open => {
                let mut open = 1;
                let mut j = i + 1;
                while j < rest.len() {
                    match rest[j] {
                        Word::Open => open += 1,
                        Word::Close => {
                            open -= 1;
                            if open == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    j += 1;
                }
                if open != 0 {
                    return Err("unclosed left paren".into());
                }
                let inner = nested(&rest[i + 1..j], src, depth + 1)?;
                if inner.cmds.is_empty() || !inner.vars.is_empty() {
                    return Err("missing or invalid value in parentheses".into());
                }
                cmd.push(Arg::Sub(inner));
                i = j;
            }
            Word::Close => return Err("unexpected right paren".into()),
            Word::Comma | Word::Declare | Word::Assign => {
                return Err("unexpected declaration".into())
            }
            Word::Lit(v) => cmd.push(Arg::Lit(v.clone())),
            Word::Var(n, f) => cmd.push(Arg::Var(n.clone(), f.clone())),
            Word::Field(f) => cmd.push(Arg::Field(f.clone())),
            Word::Ident(f) => {
                if !FUNCTIONS.contains(&f.as_str()) {
                    return Err(format!("function {f:?} not defined"));
                }
                cmd.push(Arg::Func(f.clone()));
            }
        }
        i += 1;
    }
    if !cmd.is_empty() {
        cmds.push(cmd);
    } else if !cmds.is_empty() {
        return Err("missing command in the pipeline".into());
    }
    for (n, c) in cmds.iter().enumerate() {
        if c.len() > 1 && !matches!(c[0], Arg::Func(_)) {
            return Err("can't give an argument to a non-function".into());
        }
        if n > 0 && !matches!(c[0], Arg::Func(_)) {
            return Err("a non-function cannot follow | in a pipeline".into());
        }
    }
    Ok(Pipe {
        vars,
        assign,
        cmds,
        src: src.trim().to_owned(),
    })
}

// === values ===

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
    fn truth(&self) -> bool {
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

    fn kind(&self) -> &'static str {
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
    fn text(&self) -> String {
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
    fn inner_text(&self) -> String {
        match self {
            Val::Nil => "<nil>".into(),
            v => v.text(),
        }
    }

    /// sprig's `toString` and the string a string function takes.
    fn string(&self) -> String {
        match self {
            Val::Nil => String::new(),
            v => v.text(),
        }
    }

    /// sprig's integer conversion (cast.ToInt64): text is parsed, anything wrong is 0.
    fn int(&self) -> i64 {
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

    fn list(&self, what: &str) -> Result<Vec<Val>, String> {
        match self {
            Val::List(l) => Ok(l.clone()),
            Val::Nil => Ok(Vec::new()),
            v => Err(format!("{what}: expected a list, got {}", v.kind())),
        }
    }
}

/// Go's `%v` of a float64: the shortest digits, with an exponent below 1e-4 or from 1e6
/// (`1e+06`).
fn go_float(f: f64) -> String {
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

// === execution ===

enum Flow {
    Normal,
    Break,
    Continue,
}

struct Exec<'a> {
    env: &'a dyn Fn(&str) -> Option<String>,
    vars: Vec<(String, Val)>,
    out: String,
    steps: usize,
}

impl Exec<'_> {
    fn run(&mut self, nodes: &[Node], dot: &Val) -> Result<Flow, String> {
        for n in nodes {
            match n {
                Node::Text(t) => self.write(t)?,
                Node::Out(p) => {
                    let v = self.pipe(p, dot)?;
                    if p.vars.is_empty() {
                        let t = v.text();
                        self.write(&t)?;
                    }
                }
                Node::Break => return Ok(Flow::Break),
                Node::Continue => return Ok(Flow::Continue),
                Node::If(p, then, otherwise) | Node::With(p, then, otherwise) => {
                    let mark = self.vars.len();
                    let v = self.pipe(p, dot)?;
                    let with = matches!(n, Node::With(..));
                    let flow = if v.truth() {
                        self.run(then, if with { &v } else { dot })?
                    } else {
                        self.run(otherwise, dot)?
                    };
                    self.vars.truncate(mark);
                    if !matches!(flow, Flow::Normal) {
                        return Ok(flow);
                    }
                }
                Node::Range(p, body, otherwise) => {
                    let mark = self.vars.len();
                    let v = self.value(p, dot)?;
                    let items: Vec<(Val, Val)> = match v {
                        Val::List(l) => l
                            .into_iter()
                            .enumerate()
                            .map(|(i, v)| (Val::Int(i as i64), v))
                            .collect(),
                        Val::Map(m) => m.into_iter().map(|(k, v)| (Val::Str(k), v)).collect(),
                        Val::Int(n) => {
                            if p.vars.len() > 1 {
                                return Err(format!(
                                    "{{{{{}}}}}: can't use two variables ranging over an integer",
                                    p.src
                                ));
                            }
                            if n > MAX_STEPS as i64 {
                                return Err(format!("{{{{{}}}}}: too many iterations", p.src));
                            }
                            (0..n.max(0)).map(|i| (Val::Int(i), Val::Int(i))).collect()
                        }
                        Val::Nil => Vec::new(),
                        other => {
                            return Err(format!(
                                "{{{{{}}}}}: range can't iterate over {}",
                                p.src,
                                other.text()
                            ))
                        }
                    };
                    if items.is_empty() {
                        let flow = self.run(otherwise, dot)?;
                        self.vars.truncate(mark);
                        if !matches!(flow, Flow::Normal) {
                            return Ok(flow);
                        }
                        continue;
                    }
                    for (k, v) in items {
                        self.vars.truncate(mark);
                        self.steps += 1;
                        if self.steps > MAX_STEPS {
                            return Err(format!("{{{{{}}}}}: too many iterations", p.src));
                        }
                        match p.vars.as_slice() {
                            [] => {}
                            [e] => self.set(e, v.clone(), p.assign)?,
                            [i, e, ..] => {
                                self.set(i, k, p.assign)?;
                                self.set(e, v.clone(), p.assign)?;
                            }
                        }
                        let flow = self.run(body, &v)?;
                        if matches!(flow, Flow::Break) {
                            break;
                        }
                    }
                    self.vars.truncate(mark);
                }
            }
        }
        Ok(Flow::Normal)
    }

    fn write(&mut self, t: &str) -> Result<(), String> {
        if self.out.len() + t.len() > MAX_OUTPUT {
            return Err(format!(
                "the rendered file is larger than {MAX_OUTPUT} bytes"
            ));
        }
        self.out.push_str(t);
        Ok(())
    }

    /// Declares (`:=`) or assigns (`=`) a variable.
    fn set(&mut self, name: &str, v: Val, assign: bool) -> Result<(), String> {
        if assign {
            match self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                Some(slot) => slot.1 = v,
                None => return Err(format!("undefined variable: {name}")),
            }
        } else {
            self.vars.push((name.to_owned(), v));
        }
        Ok(())
    }

    /// A pipeline's value, its variables set.
    fn pipe(&mut self, p: &Pipe, dot: &Val) -> Result<Val, String> {
        let v = self.value(p, dot)?;
        if let [name] = p.vars.as_slice() {
            self.set(name, v.clone(), p.assign)?;
        } else if p.vars.len() > 1 {
            return Err(format!("{{{{{}}}}}: too many declarations", p.src));
        }
        Ok(v)
    }

    /// A pipeline's value.
    fn value(&mut self, p: &Pipe, dot: &Val) -> Result<Val, String> {
        let mut piped: Option<Val> = None;
        for cmd in &p.cmds {
            let v = match &cmd[0] {
                // `and` and `or` stop at the first argument that decides, as Go's do.
                Arg::Func(f) if (f == "and" || f == "or") && piped.is_none() && cmd.len() > 1 => {
                    let mut last = Val::Nil;
                    for a in &cmd[1..] {
                        last = self.arg(a, dot)?;
                        if last.truth() == (f == "or") {
                            break;
                        }
                    }
                    last
                }
                Arg::Func(f) => {
                    let mut args = Vec::with_capacity(cmd.len());
                    for a in &cmd[1..] {
                        args.push(self.arg(a, dot)?);
                    }
                    if let Some(v) = piped.take() {
                        args.push(v);
                    }
                    self.call(f, args)
                        .map_err(|e| format!("{{{{{}}}}}: {f}: {e}", p.src))?
                }
                a => self.arg(a, dot)?,
            };
            piped = Some(v);
        }
        Ok(piped.unwrap_or(Val::Nil))
    }

    fn arg(&mut self, a: &Arg, dot: &Val) -> Result<Val, String> {
        match a {
            Arg::Lit(v) => Ok(v.clone()),
            Arg::Func(f) => self.call(f, Vec::new()).map_err(|e| format!("{f}: {e}")),
            Arg::Sub(p) => self.value(p, dot),
            Arg::Field(f) => fields(dot, f),
            Arg::Var(n, f) => {
                let v = self
                    .vars
                    .iter()
                    .rev()
                    .find(|(name, _)| name == n)
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| format!("undefined variable: {n}"))?;
                fields(&v, f)
            }
        }
    }

    fn call(&mut self, f: &str, a: Vec<Val>) -> Result<Val, String> {
        call(f, a, self.env)
    }
}

/// `v.a.b`: keys of maps; anything else has no fields (the file's data is `false`).
fn fields(v: &Val, names: &[String]) -> Result<Val, String> {
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

fn want(a: &[Val], n: usize) -> Result<(), String> {
    if a.len() != n {
        return Err(format!("wrong number of args: want {n} got {}", a.len()));
    }
    Ok(())
}

fn at_least(a: &[Val], n: usize) -> Result<(), String> {
    if a.len() < n {
        return Err(format!(
            "wrong number of args: want at least {n} got {}",
            a.len()
        ));
    }
    Ok(())
}

fn s(a: &[Val], i: usize) -> String {
    a.get(i).map(Val::string).unwrap_or_default()
}

/// Go's `eq` of two basic values.
fn equal(x: &Val, y: &Val) -> Result<bool, String> {
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

fn order(x: &Val, y: &Val) -> Result<std::cmp::Ordering, String> {
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
fn empty(v: &Val) -> bool {
    !v.truth()
}

/// A list of integers from `start` towards `stop` by `step` (sprig's `untilStep`).
fn steps(start: i64, stop: i64, step: i64) -> Result<Val, String> {
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
fn sprint(a: &[Val]) -> String {
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
fn go_quote(s: &str) -> String {
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
fn sprintf(format: &str, a: &[Val]) -> String {
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
fn go_split(s: &str, sep: &str) -> Vec<Val> {
    if sep.is_empty() {
        return s.chars().map(|c| Val::Str(c.to_string())).collect();
    }
    s.split(sep).map(|p| Val::Str(p.to_owned())).collect()
}

/// Traefik's `normalize`: runs of characters other than letters and digits become one `-`.
fn normalize(s: &str) -> String {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// Go's `os.Expand` with `env`: `$NAME` and `${NAME}`.
fn expand(s: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
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

fn regex(pattern: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(pattern).map_err(|e| format!("{pattern:?}: {e}"))
}

/// A function call with its arguments evaluated (the piped value last).
fn call(f: &str, a: Vec<Val>, env: &dyn Fn(&str) -> Option<String>) -> Result<Val, String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "DOMAIN" => Some("example.com".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn what_dynamic_files_use() {
        let r = |t: &str| render(t, &env);
        assert_eq!(r("rule: Host(`a`)").unwrap(), "rule: Host(`a`)");
        assert_eq!(
            r("Host(`{{ env \"DOMAIN\" }}`)").unwrap(),
            "Host(`example.com`)"
        );
        assert_eq!(
            r("{{ env \"NOPE\" | default \"x.test\" }}").unwrap(),
            "x.test"
        );
        assert_eq!(r("{{ default \"d\" (env \"EMPTY\") }}").unwrap(), "d");
        assert_eq!(
            r("{{ env \"DOMAIN\" | upper | quote }}").unwrap(),
            "\"EXAMPLE.COM\""
        );
        assert_eq!(r("a {{- /* c */ -}} b").unwrap(), "ab");
        assert_eq!(r("{{ \"lit\" }}").unwrap(), "lit");
        for bad in [
            "{{ range .X }}",
            "{{ .Name }}",
            "{{ env }}",
            "{{ env \"A",
            "{{ sha1sum \"x\" }}",
            "{{ }}",
            "{{ if true }}",
            "{{ end }}",
            "{{ template \"x\" }}",
        ] {
            assert!(r(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hostile_templates_end_with_an_error() {
        let r = |t: &str| render(t, &env);
        assert!(r("{{ range until 100000000 }}x{{ end }}").is_err());
        assert!(r("{{ range $i := until 1000 }}{{ range until 1000 }}{{ range until 1000 }}{{ end }}{{ end }}{{ end }}").is_err());
        assert!(r("{{ repeat 1000000000 \"xxxxxxxx\" }}").is_err());
        assert!(r(&"{{ if true }}".repeat(500)).is_err());
        assert!(r(&format!(
            "{{{{ {}1{} }}}}",
            "(".repeat(5000),
            ")".repeat(5000)
        ))
        .is_err());
        assert!(r("{{ div 1 0 }}").is_err());
        assert!(r("{{ index (list 1) 5 }}").is_err());
        assert!(r("{{ substr 5 2 \"abcdefgh\" }}").is_err());
        assert!(r("{{ trunc -99 \"ab\" }}").is_ok());
        assert!(r("{{ 'é' }}").is_ok());
        assert!(r("{{ 0x }}").is_err());
    }
}

/// The template language Traefik's file provider gives its files (file.go's
/// CreateConfiguration: text/template, sprig's TxtFuncMap, `normalize`, `split` as Go's
/// strings.Split, the data `false`), as (template, rendered) rows; sprig's semantics from its
/// documentation. The fixtures' own templates are in `file::traefik_tables`.
#[cfg(test)]
mod traefik_tables {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "DOMAIN" => Some("example.com".into()),
            "HOSTS" => Some("a.test,b.test".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn rendered() {
        let rows: &[(&str, &str)] = &[
            // template_file.toml, template_in_directory_file0*.toml: range over until.
            ("{{ range $i, $e := until 3 }}r{{ $e }} {{ end }}", "r0 r1 r2 "),
            ("{{ range until 2 }}[{{ . }}]{{ end }}", "[0][1]"),
            ("{{ range $e := list \"a\" \"b\" }}{{ $e }}{{ end }}", "ab"),
            ("{{ range $k, $v := dict \"b\" 2 \"a\" 1 }}{{ $k }}={{ $v }};{{ end }}", "a=1;b=2;"),
            ("{{ range list }}x{{ else }}none{{ end }}", "none"),
            ("{{ range $i, $e := until 5 }}{{ if eq $i 2 }}{{ break }}{{ end }}{{ $e }}{{ end }}", "01"),
            // split is Go's strings.Split(s, sep) in Traefik (not sprig's).
            ("{{ range split (env \"HOSTS\") \",\" }}Host(`{{ . }}`) {{ end }}", "Host(`a.test`) Host(`b.test`) "),
            ("{{ splitList \",\" \"a,,b\" | len }}", "3"),
            ("{{ join \"|\" (list \"a\" \"b\") }}", "a|b"),
            // env, default, and their pipelines.
            ("{{ env \"DOMAIN\" }}", "example.com"),
            ("{{ env \"NOPE\" }}", ""),
            ("{{ env \"EMPTY\" | default \"d\" }}", "d"),
            ("{{ default \"d\" (env \"DOMAIN\") }}", "example.com"),
            ("{{ expandenv \"x-$DOMAIN-${DOMAIN}\" }}", "x-example.com-example.com"),
            // strings
            ("{{ \"Ab\" | upper }}{{ \"Ab\" | lower }}", "ABab"),
            ("{{ trimPrefix \"www.\" \"www.a.test\" }}", "a.test"),
            ("{{ trimSuffix \".test\" \"a.test\" }}", "a"),
            ("{{ trimAll \"$\" \"$5.00$\" }}", "5.00"),
            ("{{ trim \"  a \" }}", "a"),
            ("{{ \"I Am\" | replace \" \" \"-\" }}", "I-Am"),
            ("{{ quote \"a\" }} {{ squote \"a\" }}", "\"a\" 'a'"),
            ("{{ title \"hello world\" }}", "Hello World"),
            ("{{ contains \"cat\" \"catch\" }} {{ hasPrefix \"ca\" \"cat\" }} {{ hasSuffix \"x\" \"cat\" }}", "true true false"),
            ("{{ repeat 3 \"ab\" }}", "ababab"),
            ("{{ substr 0 3 \"hello\" }} {{ trunc 2 \"hello\" }} {{ trunc -2 \"hello\" }}", "hel he lo"),
            ("{{ cat \"a\" 1 \"b\" }}", "a 1 b"),
            ("{{ nospace \"a b c\" }}", "abc"),
            ("{{ \"a\\nb\" | indent 2 }}", "  a\n  b"),
            ("{{ \"a\" | nindent 2 }}", "\n  a"),
            ("{{ normalize \"whoami_edge.1\" }}", "whoami-edge-1"),
            ("{{ b64enc \"user:pass\" }} {{ b64dec \"dXNlcjpwYXNz\" }}", "dXNlcjpwYXNz user:pass"),
            ("{{ sha256sum \"\" }}", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            ("{{ regexReplaceAll \"a(x*)b\" \"-ab-axxb-\" \"${1}W\" }}", "-W-xxW-"),
            ("{{ regexMatch \"^[a-z]+$\" \"abc\" }}", "true"),
            // numbers and lists
            ("{{ add 1 2 3 }} {{ sub 5 2 }} {{ mul 2 3 }} {{ div 7 2 }} {{ mod 7 2 }} {{ add1 1 }}", "6 3 6 3 1 2"),
            ("{{ max 1 5 3 }} {{ min 4 2 }} {{ atoi \"42\" }} {{ int \"7\" }}", "5 2 42 7"),
            ("{{ untilStep 0 10 3 }}", "[0 3 6 9]"),
            ("{{ seq 3 }}|{{ seq 2 4 }}|{{ seq 5 3 }}", "1 2 3|2 3 4|5 4 3"),
            ("{{ list 1 \"a\" }} {{ first (list 1 2) }} {{ last (list 1 2) }} {{ rest (list 1 2 3) }}", "[1 a] 1 2 [2 3]"),
            ("{{ has 2 (list 1 2) }} {{ uniq (list 1 1 2) }} {{ compact (list \"\" \"a\") }}", "true [1 2] [a]"),
            ("{{ $d := dict \"k\" \"v\" }}{{ get $d \"k\" }} {{ hasKey $d \"x\" }} {{ $d.k }} {{ keys $d }}", "v false v [k]"),
            ("{{ index (list \"a\" \"b\") 1 }} {{ index (dict \"k\" \"v\") \"k\" }}", "b v"),
            // text/template itself
            ("{{ if eq (env \"DOMAIN\") \"example.com\" }}y{{ else }}n{{ end }}", "y"),
            ("{{ if env \"NOPE\" }}a{{ else if env \"DOMAIN\" }}b{{ else }}c{{ end }}", "b"),
            ("{{ with env \"DOMAIN\" }}{{ . }}{{ else }}none{{ end }}", "example.com"),
            ("{{ $x := 1 }}{{ $x = add $x 1 }}{{ $x }}", "2"),
            ("{{ and 1 0 }} {{ or 0 \"\" 3 }} {{ not true }}", "0 3 false"),
            ("{{ printf \"%s:%d %q %05.1f %-3s|\" \"a\" 8 \"b\" 2.25 \"c\" }}", "a:8 \"b\" 002.2 c  |"),
            ("{{ print \"a\" 1 2 \"b\" }}", "a1 2b"),
            ("{{ len \"abc\" }} {{ len (list 1 2) }}", "3 2"),
            ("{{ lt 1 2 }} {{ ge \"b\" \"a\" }} {{ ne 1 2 }} {{ eq 1 2 3 1 }}", "true true true true"),
            ("{{ ternary \"y\" \"n\" true }} {{ coalesce \"\" \"x\" }} {{ empty \"\" }}", "y x true"),
            ("{{ . }} {{ $ }}", "false false"),
            ("{{ 1.5 }} {{ 1e6 }} {{ 0x10 }} {{ 'a' }}", "1.5 1e+06 16 97"),
            ("a  {{- 1 -}}  b {{/* comment */}}c", "a1b c"),
            ("{{ \"}}\" }}", "}}"),
        ];
        let mut failed = Vec::new();
        for (t, want) in rows {
            match render(t, &env) {
                Ok(got) if got == *want => {}
                other => failed.push(format!("{t}\n  want {want:?}\n  got  {other:?}")),
            }
        }
        assert!(failed.is_empty(), "{}", failed.join("\n"));
    }

    /// What Go refuses: parse errors (an undefined function, a missing end, an empty
    /// action, a field of the data `false`) and run errors (`fail`, `required`, a wrong
    /// argument) fail the file, with the action in the message.
    #[test]
    fn errors() {
        let rows: &[(&str, &str)] = &[
            ("{{ nope }}", "\"nope\" not defined"),
            ("{{ if false }}{{ nope }}{{ end }}", "\"nope\" not defined"),
            ("{{ range until 2 }}", "has no {{end}}"),
            ("{{ }}", "missing value"),
            ("{{ .Name }}", "can't evaluate field Name"),
            ("{{ fail \"no domain\" }}", "no domain"),
            (
                "{{ required \"DOMAIN is required\" (env \"NOPE\") }}",
                "DOMAIN is required",
            ),
            ("{{ $x }}", "undefined variable"),
            ("{{ eq 1 \"1\" }}", "incompatible types"),
            ("{{ range \"abc\" }}{{ end }}", "can't iterate"),
            ("{{ \"a\" \"b\" }}", "non-function"),
        ];
        for (t, want) in rows {
            match render(t, &env) {
                Err(e) => assert!(e.contains(want), "{t}: {e}"),
                Ok(o) => panic!("{t}: rendered {o:?}"),
            }
        }
    }
}
