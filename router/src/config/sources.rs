//! Where Traefik's static configuration comes from, as Traefik looks for it: a file
//! (`--configFile`, here also `ROUTER_CONFIG_FILE`, else `traefik.toml`, `.yaml` or `.yml` in
//! `/etc/traefik/`, `$XDG_CONFIG_HOME/`, `$HOME/.config/` and the working directory), else
//! command-line flags (`--entrypoints.web.address=:80`), else `TRAEFIK_*` variables. The three
//! are mutually exclusive in Traefik: the first found is used, and what the others set is
//! ignored (here, with a warning naming it).

use std::path::{Path, PathBuf};

use super::{err, ConfigError, Env};
use crate::tree::{FlatStyle, Node};

/// Which of the three a configuration came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKind {
    /// A file.
    File(PathBuf),
    /// Command-line flags.
    Flags,
    /// `TRAEFIK_*` environment variables.
    Env,
}

impl std::fmt::Display for SourceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceKind::File(p) => write!(f, "file {}", p.display()),
            SourceKind::Flags => f.write_str("command-line flags"),
            SourceKind::Env => f.write_str("TRAEFIK_* variables"),
        }
    }
}

/// A static configuration found: its source, its tree, and what was ignored.
#[derive(Debug, Clone)]
pub struct Found {
    /// Where it came from.
    pub kind: SourceKind,
    /// The tree (its children are `entryPoints`, `providers`, ...).
    pub root: Node,
    /// Warnings: settings given in a source that is not used.
    pub warnings: Vec<String>,
}

/// The root keys of Traefik's static configuration (for `TRAEFIK_*` variables, which Traefik
/// reads only under these).
pub const ROOTS: &[&str] = &[
    "global",
    "serverstransport",
    "tcpserverstransport",
    "entrypoints",
    "providers",
    "api",
    "metrics",
    "ping",
    "log",
    "accesslog",
    "tracing",
    "hostresolver",
    "certificatesresolvers",
    "experimental",
    "core",
    "spiffe",
    "ocsp",
];

/// Keys (their last segment, lower case) that are booleans or sections, so that a flag given
/// without `=value` means `true` and does not take the next argument as its value.
const FLAG_SWITCHES: &[&str] = &[
    "docker",
    "swarm",
    "file",
    "api",
    "dashboard",
    "insecure",
    "debug",
    "ping",
    "prometheus",
    "accesslog",
    "checknewversion",
    "sendanonymoususage",
    "exposedbydefault",
    "watch",
    "allowemptyservices",
    "asdefault",
    "permanent",
    "tls",
    "tlschallenge",
    "httpchallenge",
    "manualrouting",
    "addentrypointslabels",
    "addrouterslabels",
    "addserviceslabels",
    "insecureskipverify",
    "usebindportip",
    "disabledashboardad",
    "nocolor",
    "log",
    "debugloggeneratedtemplate",
    "reuseport",
    "allowacmebypass",
];

/// The command line, split: the flags (`--key=value`) and the other arguments, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Args {
    /// `(key as written, value)`; a repeated key keeps every value, comma-joined.
    pub flags: Vec<(String, String)>,
    /// Everything that is not a flag (a subcommand).
    pub positional: Vec<String>,
}

/// Splits the command line as Traefik's flag parser does: `--key=value`, `--key value`,
/// `--key` (a boolean or a section: `true`); one or two dashes.
pub fn parse_args(args: &[String]) -> Result<Args, ConfigError> {
    let mut out = Args::default();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        let Some(name) = a.strip_prefix("--").or_else(|| a.strip_prefix('-')) else {
            out.positional.push(a.clone());
            continue;
        };
        if name.is_empty() {
            out.positional.extend(args[i..].iter().cloned());
            break;
        }
        if name.starts_with('-') || name.starts_with('=') {
            return Err(err(a, "", "bad flag syntax"));
        }
        let (key, value) = match name.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => {
                let last = name.rsplit('.').next().unwrap_or(name).to_ascii_lowercase();
                let switch = FLAG_SWITCHES.contains(&last.as_str());
                match args.get(i) {
                    Some(next) if !switch && !next.starts_with('-') => {
                        i += 1;
                        (name.to_owned(), next.clone())
                    }
                    _ if switch || args.get(i).is_none_or(|n| n.starts_with('-')) => {
                        (name.to_owned(), "true".to_owned())
                    }
                    _ => return Err(err(a, "", "flag needs an argument")),
                }
            }
        };
        match out
            .flags
            .iter_mut()
            .find(|(k, _)| k.eq_ignore_ascii_case(&key))
        {
            Some((_, v)) => {
                v.push(',');
                v.push_str(&value);
            }
            None => out.flags.push((key, value)),
        }
    }
    Ok(out)
}

/// Finds the static configuration: a file, else flags, else `TRAEFIK_*` variables. `search`
/// says whether Traefik's default file locations are looked at (tests turn it off).
pub fn find(env: &impl Env, args: &Args, search: bool) -> Result<Option<Found>, ConfigError> {
    let config_file_flag = args
        .flags
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("configFile"))
        .map(|(_, v)| v.clone());
    let other_flags: Vec<&(String, String)> = args
        .flags
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("configFile"))
        .collect();
    let env_vars = traefik_env(env);
    let explicit = env
        .get("ROUTER_CONFIG_FILE")
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .map(|v| ("ROUTER_CONFIG_FILE", v))
        .or(config_file_flag.map(|v| ("--configFile", v)));
    if let Some((key, path)) = &explicit {
        if Path::new(path).is_file() {
            // Checked below with the others.
        } else {
            return Err(err(key, path, "no such file"));
        }
    }
    let file = match &explicit {
        Some((_, p)) => Some(PathBuf::from(p)),
        None if search => default_file(env),
        None => None,
    };
    if let Some(path) = file {
        let root = read_file(&path)?;
        let mut warnings = Vec::new();
        for (k, _) in &other_flags {
            warnings.push(format!("--{k} is ignored: the static configuration is read from {} (Traefik reads one source only)", path.display()));
        }
        for (k, _) in &env_vars {
            warnings.push(format!("{k} is ignored: the static configuration is read from {} (Traefik reads one source only)", path.display()));
        }
        return Ok(Some(Found {
            kind: SourceKind::File(path),
            root,
            warnings,
        }));
    }
    if !other_flags.is_empty() {
        let entries = other_flags
            .iter()
            .map(|(k, v)| {
                (
                    format!("--{k}"),
                    k.split('.').map(str::to_owned).collect(),
                    v.clone(),
                )
            })
            .collect();
        let (root, errors) = Node::from_flat("-", FlatStyle::DOTTED, entries);
        if let Some(e) = errors.first() {
            return Err(err(&e.key, "", &e.message));
        }
        let warnings = env_vars
            .iter()
            .map(|(k, _)| format!("{k} is ignored: the static configuration is read from command-line flags (Traefik reads one source only)"))
            .collect();
        return Ok(Some(Found {
            kind: SourceKind::Flags,
            root,
            warnings,
        }));
    }
    if !env_vars.is_empty() {
        let entries = env_vars
            .iter()
            .map(|(k, v)| {
                let rest = k["TRAEFIK_".len()..].to_ascii_lowercase();
                (
                    k.clone(),
                    rest.split('_').map(str::to_owned).collect(),
                    v.clone(),
                )
            })
            .collect();
        let (root, errors) = Node::from_flat("TRAEFIK", FlatStyle::ENV, entries);
        if let Some(e) = errors.first() {
            return Err(err(&e.key, "", &e.message));
        }
        return Ok(Some(Found {
            kind: SourceKind::Env,
            root,
            warnings: Vec::new(),
        }));
    }
    Ok(None)
}

/// `TRAEFIK_*` variables under one of Traefik's root keys (others are not Traefik's).
fn traefik_env(env: &impl Env) -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = env
        .names()
        .into_iter()
        .filter(|n| {
            n.to_ascii_uppercase()
                .strip_prefix("TRAEFIK_")
                .is_some_and(|rest| {
                    let root = rest.split('_').next().unwrap_or("").to_ascii_lowercase();
                    ROOTS.contains(&root.as_str())
                })
        })
        .filter_map(|n| env.get(&n).map(|v| (n, v)))
        .collect();
    vars.sort();
    vars
}

/// Traefik's default locations, in order.
fn default_file(env: &impl Env) -> Option<PathBuf> {
    let mut bases = vec![PathBuf::from("/etc/traefik/traefik")];
    if let Some(x) = env.get("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        bases.push(Path::new(&x).join("traefik"));
    }
    if let Some(h) = env.get("HOME").filter(|v| !v.is_empty()) {
        bases.push(Path::new(&h).join(".config/traefik"));
    }
    bases.push(PathBuf::from("./traefik"));
    bases
        .into_iter()
        .flat_map(|b| ["toml", "yaml", "yml"].map(|e| b.with_extension(e)))
        .find(|p| p.is_file())
}

/// Reads a static configuration file (TOML or YAML, by its extension).
pub fn read_file(path: &Path) -> Result<Node, ConfigError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| err("configuration file", &shown, format!("cannot read it: {e}")))?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "toml" => Node::from_toml(&text, ""),
        "yaml" | "yml" => Node::from_yaml(&text, ""),
        _ => Err("expected a .toml, .yaml or .yml file".into()),
    }
    .map_err(|e| err("configuration file", &shown, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn args(a: &[&str]) -> Args {
        parse_args(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn flags_as_traefik_parses_them() {
        let a = args(&[
            "--entrypoints.web.address=:80",
            "--providers.docker",
            "--api.insecure",
            "--entryPoints.websecure.address",
            ":443",
            "-log.level=DEBUG",
            "--providers.docker.constraints=Label(`a`,`b`)",
            "--entrypoints.websecure.http.middlewares=a@file",
            "--entrypoints.websecure.http.middlewares=b@file",
            "healthcheck",
        ]);
        let get = |k: &str| {
            a.flags
                .iter()
                .find(|(f, _)| f == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("entrypoints.web.address"), Some(":80"));
        assert_eq!(get("providers.docker"), Some("true"));
        assert_eq!(get("api.insecure"), Some("true"));
        assert_eq!(get("entryPoints.websecure.address"), Some(":443"));
        assert_eq!(get("log.level"), Some("DEBUG"));
        assert_eq!(
            get("entrypoints.websecure.http.middlewares"),
            Some("a@file,b@file")
        );
        assert_eq!(a.positional, ["healthcheck"]);
        assert!(parse_args(&["--=x".to_owned()]).is_err());
        assert!(parse_args(&[
            "--entrypoints.web.address".to_owned(),
            "x".to_owned(),
            "--a".to_owned()
        ])
        .is_ok());
    }

    #[test]
    fn one_source_wins_and_the_others_are_named() {
        let mut env: HashMap<String, String> = HashMap::new();
        env.insert("TRAEFIK_ENTRYPOINTS_WEB_ADDRESS".into(), ":81".into());
        env.insert("TRAEFIK_VERSION".into(), "not config".into());
        let found = find(&env, &args(&["--entrypoints.web.address=:80"]), false)
            .unwrap()
            .unwrap();
        assert_eq!(found.kind, SourceKind::Flags);
        assert_eq!(found.warnings.len(), 1, "{:?}", found.warnings);
        let found = find(&env, &Args::default(), false).unwrap().unwrap();
        assert_eq!(found.kind, SourceKind::Env);
        let ep = found.root.get("entrypoints").unwrap().get("web").unwrap();
        assert_eq!(ep.get("address").unwrap().text().unwrap(), ":81");
        assert_eq!(
            ep.get("address").unwrap().key,
            "TRAEFIK_ENTRYPOINTS_WEB_ADDRESS"
        );
        env.insert(
            "ROUTER_CONFIG_FILE".into(),
            "/nonexistent/traefik.yml".into(),
        );
        assert!(find(&env, &Args::default(), false).is_err());
    }
}
