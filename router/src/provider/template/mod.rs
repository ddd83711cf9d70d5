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

mod exec;
mod funcs;
mod lex;
mod parse;
mod value;

use exec::Exec;
use lex::lex;
use parse::{End, Parser};
use value::Val;

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

/// Renders `text` with the variables `env` gives (a file's template: its data is `false`).
pub fn render(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    render_data(text, env, Val::Bool(false), false)
}

/// Checks that `text` is a template (every function known, every block closed) without
/// running it: what Traefik's `MakeDefaultRuleTemplate` checks of a `defaultRule`.
pub fn check(text: &str) -> Result<(), String> {
    parse(text).map(drop)
}

/// Renders a provider's `defaultRule` for one container, as Traefik does: the data has
/// `Name` (the service's name), `ContainerName` and `Labels`, and the functions are sprig's
/// and `normalize`, `env` reading the router's environment.
pub fn render_default_rule(
    text: &str,
    name: &str,
    container_name: &str,
    labels: &std::collections::BTreeMap<String, String>,
) -> Result<String, String> {
    let data = Val::Map(
        [
            ("Name".to_owned(), Val::Str(name.to_owned())),
            (
                "ContainerName".to_owned(),
                Val::Str(container_name.to_owned()),
            ),
            (
                "Labels".to_owned(),
                Val::Map(
                    labels
                        .iter()
                        .map(|(k, v)| (k.clone(), Val::Str(v.clone())))
                        .collect(),
                ),
            ),
        ]
        .into_iter()
        .collect(),
    );
    render_data(text, &|k| std::env::var(k).ok(), data, true)
}

fn parse(text: &str) -> Result<Vec<parse::Node>, String> {
    let tokens = lex(text)?;
    let mut p = Parser {
        tokens,
        pos: 0,
        depth: 0,
    };
    let (nodes, end) = p.list()?;
    match end {
        End::Eof => Ok(nodes),
        End::Close(line) => Err(format!("line {line}: unexpected {{{{end}}}}")),
        End::Else(line, _) => Err(format!("line {line}: unexpected {{{{else}}}}")),
    }
}

fn render_data(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
    data: Val,
    string_maps: bool,
) -> Result<String, String> {
    if !text.contains("{{") {
        return Ok(text.to_owned());
    }
    let nodes = parse(text)?;
    let mut x = Exec {
        env,
        vars: vec![("$".into(), data.clone())],
        out: String::new(),
        steps: 0,
        string_maps,
    };
    x.run(&nodes, &data)?;
    Ok(x.out)
}

#[cfg(test)]
mod tests;
