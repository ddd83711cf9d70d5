//! The server's configuration: listeners, socket, client allow-list, admin, logging, limits.
//!
//! Read through [`policies::config::Env`] like the policy, so tests pass a map. Every error
//! names the variable and the value; `main` prints it and exits with 64 (EX_USAGE).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use policies::config::{policy_from_env, ConfigError, Env};
use policies::Policy;

/// Where to listen: a TCP address or a unix socket path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddr {
    /// `HOST:PORT`, IPv6 as `[::]:2375`.
    Tcp(SocketAddr),
    /// `unix:///path/to.sock`.
    Unix(PathBuf),
}

impl std::fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ListenAddr::Tcp(a) => write!(f, "{a}"),
            ListenAddr::Unix(p) => write!(f, "unix://{}", p.display()),
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line (the default: audit lines are meant for machines).
    Json,
    /// Human-readable text.
    Text,
}

/// Everything `run` needs besides the listeners.
#[derive(Debug, Clone)]
pub struct Config {
    /// The decision core.
    pub policy: Policy,
    /// The Docker socket (`SOCKET_PATH`).
    pub socket_path: PathBuf,
    /// Where to listen (`GUARD_LISTEN`).
    pub listen: Vec<ListenAddr>,
    /// TCP clients allowed to connect (`GUARD_ALLOW_FROM`); empty = all.
    pub allow_from: Vec<IpNet>,
    /// Admin listener for `/health` and `/metrics` (`GUARD_ADMIN_LISTEN`).
    pub admin_listen: Option<ListenAddr>,
    /// `GUARD_LOG_FORMAT`.
    pub log_format: LogFormat,
    /// `LOG_LEVEL` as an env-filter directive.
    pub log_level: String,
    /// Largest inspected body (`GUARD_MAX_BODY`, bytes).
    pub max_body: usize,
    /// Time allowed for a request head to arrive, counted from when the connection opens or
    /// its previous response ends (`GUARD_HEADER_TIMEOUT`, seconds). It bounds both slow heads
    /// (slowloris) and idle keep-alive connections.
    pub header_timeout: Duration,
    /// Identical concurrent metadata reads share one daemon answer (`GUARD_COALESCE`, on by
    /// default; see [`crate::coalesce`]).
    pub coalesce: bool,
}

/// Default listen address outside a container (the image sets `0.0.0.0:2375`).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:2375";
/// Default Docker socket.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

impl Config {
    /// Reads the whole configuration. `read_file` is used for `GUARD_RULES_FILE`.
    pub fn from_env(
        env: &impl Env,
        read_file: impl Fn(&str) -> Result<String, String>,
    ) -> Result<Config, ConfigError> {
        let policy = policy_from_env(env, read_file)?;
        let listen_raw = env
            .get("GUARD_LISTEN")
            .unwrap_or_else(|| DEFAULT_LISTEN.into());
        let listen = parse_listen_list("GUARD_LISTEN", &listen_raw)?;
        let allow_from = match env.get("GUARD_ALLOW_FROM") {
            None => Vec::new(),
            Some(v) => parse_cidrs("GUARD_ALLOW_FROM", &v)?,
        };
        let admin_listen = match env.get("GUARD_ADMIN_LISTEN") {
            None => None,
            Some(v) if v.trim().is_empty() || v.trim().eq_ignore_ascii_case("off") => None,
            Some(v) => Some(parse_listen("GUARD_ADMIN_LISTEN", &v, v.trim())?),
        };
        let log_format = match env.get("GUARD_LOG_FORMAT").as_deref().map(str::trim) {
            None | Some("json") => LogFormat::Json,
            Some("text") => LogFormat::Text,
            Some(other) => {
                return Err(ConfigError::new(
                    "GUARD_LOG_FORMAT",
                    other,
                    "expected json or text",
                ))
            }
        };
        let log_level = match env.get("LOG_LEVEL") {
            None => "info".to_owned(),
            Some(v) => parse_log_level(&v)?,
        };
        let socket_path = PathBuf::from(
            env.get("SOCKET_PATH")
                .unwrap_or_else(|| DEFAULT_SOCKET.into()),
        );
        if !socket_path.is_absolute() {
            return Err(ConfigError::new(
                "SOCKET_PATH",
                &socket_path.display().to_string(),
                "expected an absolute path",
            ));
        }
        Ok(Config {
            policy,
            socket_path,
            listen,
            allow_from,
            admin_listen,
            log_format,
            log_level,
            max_body: number(env, "GUARD_MAX_BODY", 1 << 20, 1..=(64 << 20))?,
            header_timeout: Duration::from_secs(
                number(env, "GUARD_HEADER_TIMEOUT", 10, 1..=3600)? as u64
            ),
            coalesce: match env.get("GUARD_COALESCE") {
                None => true,
                Some(v) => policies::config::parse_bool("GUARD_COALESCE", &v)?,
            },
        })
    }

    /// Whether a TCP peer may connect.
    pub fn client_allowed(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.allow_from.is_empty() || self.allow_from.iter().any(|net| net.contains(&ip))
    }
}

fn number(
    env: &impl Env,
    var: &str,
    default: usize,
    range: std::ops::RangeInclusive<usize>,
) -> Result<usize, ConfigError> {
    let Some(v) = env.get(var) else {
        return Ok(default);
    };
    match v.trim().parse::<usize>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(ConfigError::new(
            var,
            &v,
            format!(
                "expected a whole number from {} to {}",
                range.start(),
                range.end()
            ),
        )),
    }
}

fn parse_log_level(v: &str) -> Result<String, ConfigError> {
    let level = v.trim().to_ascii_lowercase();
    match level.as_str() {
        "trace" | "debug" | "info" | "warn" | "error" | "off" => Ok(level),
        _ => Err(ConfigError::new(
            "LOG_LEVEL",
            v,
            "expected trace, debug, info, warn, error or off",
        )),
    }
}

/// Parses a comma list of listen addresses.
pub fn parse_listen_list(var: &str, value: &str) -> Result<Vec<ListenAddr>, ConfigError> {
    let out: Vec<ListenAddr> = value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| parse_listen(var, value, item))
        .collect::<Result<_, _>>()?;
    if out.is_empty() {
        return Err(ConfigError::new(
            var,
            value,
            "expected at least one HOST:PORT or unix:///path",
        ));
    }
    Ok(out)
}

fn parse_listen(var: &str, value: &str, item: &str) -> Result<ListenAddr, ConfigError> {
    if let Some(path) = item.strip_prefix("unix://") {
        if !path.starts_with('/') {
            return Err(ConfigError::new(
                var,
                value,
                format!("{item:?}: expected unix:///absolute/path"),
            ));
        }
        return Ok(ListenAddr::Unix(PathBuf::from(path)));
    }
    item.parse::<SocketAddr>().map(ListenAddr::Tcp).map_err(|_| {
        ConfigError::new(
            var,
            value,
            format!("{item:?}: expected HOST:PORT with an IP address ([::1]:2375 for IPv6) or unix:///path"),
        )
    })
}

fn parse_cidrs(var: &str, value: &str) -> Result<Vec<IpNet>, ConfigError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| {
            item.parse::<IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    ConfigError::new(
                        var,
                        value,
                        format!("{item:?}: expected a CIDR like 172.16.0.0/12"),
                    )
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_env(&env, |_| Err("no file".into()))
    }

    #[test]
    fn defaults() {
        let c = cfg(&[]).expect("defaults are valid");
        assert_eq!(
            c.listen,
            vec![ListenAddr::Tcp("127.0.0.1:2375".parse().expect("addr"))]
        );
        assert_eq!(c.socket_path, PathBuf::from("/var/run/docker.sock"));
        assert!(c.admin_listen.is_none());
        assert_eq!(c.log_format, LogFormat::Json);
        assert!(c.client_allowed("8.8.8.8".parse().expect("ip")));
        assert!(c.coalesce);
        for off in ["0", "false", "OFF", "no"] {
            assert!(!cfg(&[("GUARD_COALESCE", off)]).expect("valid").coalesce);
        }
    }

    #[test]
    fn listen_lists_with_ipv6_and_unix() {
        let c =
            cfg(&[("GUARD_LISTEN", "0.0.0.0:2375, [::]:2375,unix:///run/g.sock")]).expect("valid");
        assert_eq!(c.listen.len(), 3);
        assert_eq!(c.listen[2], ListenAddr::Unix("/run/g.sock".into()));
        for bad in ["localhost:2375", "2375", "unix://rel.sock", ""] {
            let e = cfg(&[("GUARD_LISTEN", bad)]).unwrap_err();
            assert_eq!((e.var.as_str(), e.value.as_str()), ("GUARD_LISTEN", bad));
        }
    }

    #[test]
    fn allow_from_cidrs() {
        let c = cfg(&[("GUARD_ALLOW_FROM", "172.16.0.0/12,127.0.0.1,::1")]).expect("valid");
        assert!(c.client_allowed("172.20.0.3".parse().expect("ip")));
        assert!(c.client_allowed("::ffff:127.0.0.1".parse().expect("ip")));
        assert!(!c.client_allowed("10.0.0.1".parse().expect("ip")));
        assert_eq!(
            cfg(&[("GUARD_ALLOW_FROM", "10.0.0.0/33")]).unwrap_err().var,
            "GUARD_ALLOW_FROM"
        );
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (var, val) in [
            ("GUARD_LOG_FORMAT", "xml"),
            ("LOG_LEVEL", "loud"),
            ("GUARD_MAX_BODY", "-1"),
            ("GUARD_HEADER_TIMEOUT", "0"),
            ("SOCKET_PATH", "docker.sock"),
            ("GUARD_ADMIN_LISTEN", "nope"),
            ("GUARD_LISTN", "x"),
            ("GUARD_COALESCE", "sometimes"),
        ] {
            let e = cfg(&[(var, val)]).unwrap_err();
            assert_eq!((e.var.as_str(), e.value.as_str()), (var, val));
        }
    }
}
