//! Execution: the tree run against its variables, within the limits.

use super::funcs::*;
use super::parse::*;
use super::value::*;
use super::*;

pub(super) enum Flow {
    Normal,
    Break,
    Continue,
}

pub(super) struct Exec<'a> {
    pub(super) env: &'a dyn Fn(&str) -> Option<String>,
    pub(super) vars: Vec<(String, Val)>,
    pub(super) out: String,
    pub(super) steps: usize,
    /// The data's maps are Go's `map[string]string` (a container's labels): a key they do
    /// not have reads as `""`, not as `<no value>`.
    pub(super) string_maps: bool,
}

impl Exec<'_> {
    pub(super) fn run(&mut self, nodes: &[Node], dot: &Val) -> Result<Flow, String> {
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

    pub(super) fn write(&mut self, t: &str) -> Result<(), String> {
        if self.out.len() + t.len() > MAX_OUTPUT {
            return Err(format!(
                "the rendered file is larger than {MAX_OUTPUT} bytes"
            ));
        }
        self.out.push_str(t);
        Ok(())
    }

    /// Declares (`:=`) or assigns (`=`) a variable.
    pub(super) fn set(&mut self, name: &str, v: Val, assign: bool) -> Result<(), String> {
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
    pub(super) fn pipe(&mut self, p: &Pipe, dot: &Val) -> Result<Val, String> {
        let v = self.value(p, dot)?;
        if let [name] = p.vars.as_slice() {
            self.set(name, v.clone(), p.assign)?;
        } else if p.vars.len() > 1 {
            return Err(format!("{{{{{}}}}}: too many declarations", p.src));
        }
        Ok(v)
    }

    /// A pipeline's value.
    pub(super) fn value(&mut self, p: &Pipe, dot: &Val) -> Result<Val, String> {
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

    pub(super) fn arg(&mut self, a: &Arg, dot: &Val) -> Result<Val, String> {
        match a {
            Arg::Lit(v) => Ok(v.clone()),
            Arg::Func(f) => self.call(f, Vec::new()).map_err(|e| format!("{f}: {e}")),
            Arg::Sub(p) => self.value(p, dot),
            Arg::Field(f) => {
                let v = fields(dot, f)?;
                // The data is a Go struct: a field it does not have is an error (`.Toto`);
                // its maps' missing keys are "" ([`Exec::string_maps`]).
                if self.string_maps && v == Val::Nil && f.len() == 1 && self.is_root(dot) {
                    return Err(format!("can't evaluate field {}", f[0]));
                }
                Ok(self.zero(v))
            }
            Arg::Var(n, f) => {
                let v = self
                    .vars
                    .iter()
                    .rev()
                    .find(|(name, _)| name == n)
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| format!("undefined variable: {n}"))?;
                fields(&v, f).map(|v| self.zero(v))
            }
        }
    }

    pub(super) fn call(&mut self, f: &str, a: Vec<Val>) -> Result<Val, String> {
        let v = call(f, a, self.env)?;
        Ok(if f == "index" { self.zero(v) } else { v })
    }

    /// Whether `v` is the template's data (`$`).
    fn is_root(&self, v: &Val) -> bool {
        self.vars.first().is_some_and(|(_, root)| root == v)
    }

    /// A missing map key's value: `<no value>` (nil), or `""` with [`Exec::string_maps`].
    fn zero(&self, v: Val) -> Val {
        match v {
            Val::Nil if self.string_maps => Val::Str(String::new()),
            v => v,
        }
    }
}
