//! Dynamic configuration files are Go templates in Traefik (text/template with sprig's
//! functions): real files use them for secrets and domains from the environment,
//! `{{ env "DOMAIN" }}`. This renders the part of the language such files use — actions with
//! a string literal, `env "NAME"`, and pipelines through `default`, `quote`, `lower`, `upper`,
//! `trim` — with comments (`{{/* */}}`) and trim markers (`{{-`, `-}}`). Anything else is an
//! error naming the action, never passed through as text.

/// Renders `text` with the variables `env` gives.
pub fn render(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    if !text.contains("{{") {
        return Ok(text.to_owned());
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let mut literal = &rest[..start];
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("unclosed action at {:?}", head(&rest[start..])))?;
        let mut action = &after[..end];
        if let Some(a) = action.strip_prefix('-') {
            if a.starts_with(char::is_whitespace) {
                literal = literal.trim_end();
                action = a;
            }
        }
        let mut trim_after = false;
        if let Some(a) = action.strip_suffix('-') {
            if a.ends_with(char::is_whitespace) {
                trim_after = true;
                action = a;
            }
        }
        out.push_str(literal);
        out.push_str(&evaluate(action.trim(), env)?);
        rest = &after[end + 2..];
        if trim_after {
            rest = rest.trim_start();
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn head(s: &str) -> String {
    s.chars().take(40).collect()
}

/// One action: a comment, or a pipeline.
fn evaluate(action: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    if action.starts_with("/*") && action.ends_with("*/") {
        return Ok(String::new());
    }
    let mut value: Option<String> = None;
    for (i, stage) in split_pipeline(action)?.into_iter().enumerate() {
        let words = words(&stage)?;
        let arg = |n: usize| -> Result<String, String> {
            match words.get(n) {
                Some(Word::Str(s)) => Ok(s.clone()),
                _ => Err(format!(
                    "{{{{ {action} }}}}: expected a quoted string argument"
                )),
            }
        };
        value = Some(match (words.first(), i) {
            (Some(Word::Str(s)), 0) if words.len() == 1 => s.clone(),
            (Some(Word::Ident(f)), _) => {
                let piped = value.take();
                match (f.as_str(), words.len(), piped) {
                    ("env", 2, None) => env(&arg(1)?).unwrap_or_default(),
                    ("default", 2, Some(v)) => {
                        if v.is_empty() {
                            arg(1)?
                        } else {
                            v
                        }
                    }
                    ("default", 3, None) => {
                        let v = arg(2)?;
                        if v.is_empty() {
                            arg(1)?
                        } else {
                            v
                        }
                    }
                    ("quote", 1, Some(v)) => format!("{v:?}"),
                    ("lower", 1, Some(v)) => v.to_lowercase(),
                    ("upper", 1, Some(v)) => v.to_uppercase(),
                    ("trim", 1, Some(v)) => v.trim().to_owned(),
                    _ => return Err(format!("{{{{ {action} }}}}: {f:?} is not a supported template function here (env, default, quote, lower, upper, trim)")),
                }
            }
            _ => {
                return Err(format!(
                    "{{{{ {action} }}}}: not a supported template action"
                ))
            }
        });
    }
    value.ok_or_else(|| format!("{{{{ {action} }}}}: empty action"))
}

#[derive(Debug)]
enum Word {
    Ident(String),
    Str(String),
}

fn split_pipeline(action: &str) -> Result<Vec<String>, String> {
    let mut stages = vec![String::new()];
    let mut quoted = None;
    for c in action.chars() {
        match (quoted, c) {
            (None, '"' | '`') => quoted = Some(c),
            (Some(q), c) if c == q => quoted = None,
            (None, '|') => {
                stages.push(String::new());
                continue;
            }
            _ => {}
        }
        if let Some(last) = stages.last_mut() {
            last.push(c);
        }
    }
    if quoted.is_some() {
        return Err(format!("{{{{ {action} }}}}: unterminated string"));
    }
    Ok(stages)
}

fn words(stage: &str) -> Result<Vec<Word>, String> {
    let mut out = Vec::new();
    let mut chars = stage.trim().chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '"' => {
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some('n') => s.push('\n'),
                            Some('t') => s.push('\t'),
                            Some(e) => s.push(e),
                            None => return Err("unterminated string".into()),
                        },
                        Some(c) => s.push(c),
                        None => return Err("unterminated string".into()),
                    }
                }
                out.push(Word::Str(s));
            }
            '`' => {
                let s: String = chars.by_ref().take_while(|c| *c != '`').collect();
                out.push(Word::Str(s));
            }
            c => {
                let mut s = String::from(c);
                while let Some(&d) = chars.peek() {
                    if d.is_whitespace() {
                        break;
                    }
                    s.push(d);
                    chars.next();
                }
                out.push(Word::Ident(s));
            }
        }
    }
    Ok(out)
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
        assert!(r("{{ default \"d\" (env \"EMPTY\") }}").is_err());
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
            "{{ sha256sum \"x\" }}",
        ] {
            assert!(r(bad).is_err(), "{bad}");
        }
    }
}
