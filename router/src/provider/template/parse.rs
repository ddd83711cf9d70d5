//! Parsing: pipelines and the tree of control structures.

use super::lex::*;
use super::value::*;
use super::*;

#[derive(Debug)]
pub(super) struct Pipe {
    /// Variables declared (`$x :=`) or assigned (`$x =`).
    pub(super) vars: Vec<String>,
    pub(super) assign: bool,
    pub(super) cmds: Vec<Vec<Arg>>,
    /// The action as written, for messages.
    pub(super) src: String,
}

#[derive(Debug)]
pub(super) enum Arg {
    Lit(Val),
    Var(String, Vec<String>),
    Field(Vec<String>),
    Func(String),
    Sub(Pipe),
}

#[derive(Debug)]
pub(super) enum Node {
    Text(String),
    Out(Pipe),
    If(Pipe, Vec<Node>, Vec<Node>),
    With(Pipe, Vec<Node>, Vec<Node>),
    Range(Pipe, Vec<Node>, Vec<Node>),
    Break,
    Continue,
}

/// How a list of nodes ended.
pub(super) enum End {
    Eof,
    Close(usize),
    /// `{{else}}`, or `{{else if ...}}` / `{{else with ...}}` with its keyword and pipeline.
    Else(usize, Option<(String, Pipe)>),
}

pub(super) struct Parser {
    pub(super) tokens: Vec<Tok>,
    pub(super) pos: usize,
    pub(super) depth: usize,
}

impl Parser {
    pub(super) fn list(&mut self) -> Result<(Vec<Node>, End), String> {
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
    pub(super) fn control(&mut self, keyword: &str, p: Pipe, line: usize) -> Result<Node, String> {
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
pub(super) fn pipe(ws: &[Word], src: &str) -> Result<Pipe, String> {
    nested(ws, src, 0)
}

pub(super) fn nested(ws: &[Word], src: &str, depth: usize) -> Result<Pipe, String> {
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
