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
    /// `tls://HOST:PORT`: TLS with a client certificate signed by `GUARD_TLS_CA` (mutual TLS).
    Tls(SocketAddr),
}

impl std::fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ListenAddr::Tcp(a) => write!(f, "{a}"),
            ListenAddr::Unix(p) => write!(f, "unix://{}", p.display()),
            ListenAddr::Tls(a) => write!(f, "tls://{a}"),
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
    /// The decision core: the environment's policy, for the clients no named one matches.
    pub policy: Policy,
    /// The named policies of `GUARD_POLICIES_FILE`, in the file's order.
    pub policies: Vec<crate::policy_set::Named>,
    /// The certificate, key and client CA of the `tls://` listeners (`GUARD_TLS_*`).
    pub tls: Option<TlsFiles>,
    /// The Docker socket (`SOCKET_PATH`).
    pub socket_path: PathBuf,
    /// Where to listen (`GUARD_LISTEN`).
    pub listen: Vec<ListenAddr>,
    /// The mode and group of unix sockets (`GUARD_SOCKET_MODE`, `GUARD_SOCKET_GROUP`).
    pub socket_perms: SocketPerms,
    /// Open TCP connections per client address at most (`GUARD_MAX_CONNECTIONS_PER_CLIENT`;
    /// none: no cap).
    pub max_connections_per_client: Option<usize>,
    /// Requests per second per client address at most (`GUARD_MAX_REQUESTS_PER_CLIENT`;
    /// none: no cap).
    pub max_requests_per_client: Option<usize>,
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

/// The files of the mutual-TLS listeners: PEM, as the daemon's `--tlscert`, `--tlskey` and
/// `--tlscacert` take them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The guard's certificate chain (`GUARD_TLS_CERT`).
    pub cert: PathBuf,
    /// Its private key (`GUARD_TLS_KEY`).
    pub key: PathBuf,
    /// The CA client certificates must be signed by (`GUARD_TLS_CA`).
    pub ca: PathBuf,
}

const TLS_VARS: [&str; 3] = ["GUARD_TLS_CERT", "GUARD_TLS_KEY", "GUARD_TLS_CA"];

/// `GUARD_TLS_CERT`, `GUARD_TLS_KEY` and `GUARD_TLS_CA`: all three beside a `tls://`
/// listener, none without one.
fn tls_files(env: &impl Env, listen: &[ListenAddr]) -> Result<Option<TlsFiles>, ConfigError> {
    let tls_listener = listen.iter().find(|a| matches!(a, ListenAddr::Tls(_)));
    let [cert, key, ca] = TLS_VARS.map(|v| env.get(v).filter(|p| !p.trim().is_empty()));
    let Some(listener) = tls_listener else {
        if let Some((var, value)) = TLS_VARS
            .iter()
            .zip([&cert, &key, &ca])
            .find_map(|(v, p)| p.as_ref().map(|p| (*v, p)))
        {
            return Err(ConfigError::new(
                var,
                value,
                "no tls:// listener in GUARD_LISTEN would use it",
            ));
        }
        return Ok(None);
    };
    let path = |var: &str, value: Option<String>| -> Result<PathBuf, ConfigError> {
        let value = value.ok_or_else(|| {
            ConfigError::new(
                var,
                "",
                format!("GUARD_LISTEN has {listener}: set GUARD_TLS_CERT, GUARD_TLS_KEY and GUARD_TLS_CA (PEM files)"),
            )
        })?;
        let p = PathBuf::from(value.trim());
        if !p.is_absolute() {
            return Err(ConfigError::new(var, &value, "expected an absolute path"));
        }
        Ok(p)
    };
    Ok(Some(TlsFiles {
        cert: path(TLS_VARS[0], cert)?,
        key: path(TLS_VARS[1], key)?,
        ca: path(TLS_VARS[2], ca)?,
    }))
}

/// Who may connect to a unix listener: its file's mode and group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketPerms {
    /// Permission bits (`0660` unless set): read and write for whom may connect.
    pub mode: u32,
    /// The group given the socket file (numeric; unset: the guard's own group).
    pub group: Option<u32>,
}

impl Default for SocketPerms {
    fn default() -> Self {
        SocketPerms {
            mode: 0o660,
            group: None,
        }
    }
}

/// `GUARD_SOCKET_MODE` (octal permission bits, no execute, setuid or sticky bits) and
/// `GUARD_SOCKET_GROUP` (a numeric group id: the image has no group database).
fn socket_perms(env: &impl Env) -> Result<SocketPerms, ConfigError> {
    let mut p = SocketPerms::default();
    if let Some(v) = env.get("GUARD_SOCKET_MODE") {
        let digits = v.trim();
        p.mode = u32::from_str_radix(digits.strip_prefix("0o").unwrap_or(digits), 8)
            .ok()
            .filter(|m| !digits.is_empty() && m & !0o666 == 0)
            .ok_or_else(|| {
                ConfigError::new(
                    "GUARD_SOCKET_MODE",
                    &v,
                    "expected octal permission bits without execute or special bits, such as 0660",
                )
            })?;
    }
    if let Some(v) = env.get("GUARD_SOCKET_GROUP") {
        p.group = Some(v.trim().parse().map_err(|_| {
            ConfigError::new(
                "GUARD_SOCKET_GROUP",
                &v,
                "expected a numeric group id (the image has no group names)",
            )
        })?);
    }
    Ok(p)
}

/// `DISABLE_IPV6` (LinuxServer's proxy): its listeners are IPv4 already unless `GUARD_LISTEN`
/// names an IPv6 address, which together with `DISABLE_IPV6=1` is a contradiction, refused.
fn no_ipv6_if_disabled(env: &impl Env, listen: &[ListenAddr]) -> Result<(), ConfigError> {
    let Some(v) = env.get("DISABLE_IPV6") else {
        return Ok(());
    };
    if !policies::config::parse_bool("DISABLE_IPV6", &v)? {
        return Ok(());
    }
    match listen
        .iter()
        .find(|a| matches!(a, ListenAddr::Tcp(sa) | ListenAddr::Tls(sa) if sa.is_ipv6()))
    {
        Some(a) => Err(ConfigError::new(
            "DISABLE_IPV6",
            &v,
            format!("GUARD_LISTEN names the IPv6 address {a}: remove one or the other"),
        )),
        None => Ok(()),
    }
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
        let policy = policy_from_env(env, &read_file)?;
        let listen_raw = env
            .get("GUARD_LISTEN")
            .unwrap_or_else(|| DEFAULT_LISTEN.into());
        let listen = parse_listen_list("GUARD_LISTEN", &listen_raw)?;
        no_ipv6_if_disabled(env, &listen)?;
        let allow_from = match env.get("GUARD_ALLOW_FROM") {
            None => Vec::new(),
            Some(v) => parse_cidrs("GUARD_ALLOW_FROM", &v)?,
        };
        let admin_listen = match env.get("GUARD_ADMIN_LISTEN") {
            None => None,
            Some(v) if v.trim().is_empty() || v.trim().eq_ignore_ascii_case("off") => None,
            Some(v) => match parse_listen("GUARD_ADMIN_LISTEN", &v, v.trim())? {
                ListenAddr::Tls(_) => {
                    return Err(ConfigError::new(
                        "GUARD_ADMIN_LISTEN",
                        &v,
                        "the admin listener speaks plain HTTP (keep it on a private address)",
                    ))
                }
                other => Some(other),
            },
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
        let policies = crate::policy_set::from_file(env, &read_file, &listen)?;
        Ok(Config {
            policy,
            policies,
            tls: tls_files(env, &listen)?,
            socket_path,
            listen,
            socket_perms: socket_perms(env)?,
            max_requests_per_client: cap(env, "GUARD_MAX_REQUESTS_PER_CLIENT")?,
            max_connections_per_client: cap(env, "GUARD_MAX_CONNECTIONS_PER_CLIENT")?,
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

/// An optional cap: unset is none, else a whole number from 1 to 1,000,000.
fn cap(env: &impl Env, var: &str) -> Result<Option<usize>, ConfigError> {
    match env.get(var) {
        None => Ok(None),
        Some(_) => number(env, var, 0, 1..=1_000_000).map(Some),
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

/// `LOG_LEVEL`: ours, or the syslog levels the HAProxy-based proxies take (Tecnativa's and
/// LinuxServer's: `notice`, `warning`, `err`, `crit`, `alert`, `emerg`), mapped to the nearest.
fn parse_log_level(v: &str) -> Result<String, ConfigError> {
    let level = v.trim().to_ascii_lowercase();
    let ours = match level.as_str() {
        "trace" | "debug" | "info" | "warn" | "error" | "off" => level.as_str(),
        "notice" => "info",
        "warning" => "warn",
        "err" | "crit" | "alert" | "emerg" => "error",
        _ => {
            return Err(ConfigError::new(
                "LOG_LEVEL",
                v,
                "expected trace, debug, info, warn, error or off (or notice, warning, err, crit, alert, emerg)",
            ))
        }
    };
    Ok(ours.to_owned())
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
    if let Some(addr) = item.strip_prefix("tls://") {
        return addr
            .parse::<SocketAddr>()
            .map(ListenAddr::Tls)
            .map_err(|_| {
                ConfigError::new(
                    var,
                    value,
                    format!("{item:?}: expected tls://HOST:PORT with an IP address"),
                )
            });
    }
    item.parse::<SocketAddr>().map(ListenAddr::Tcp).map_err(|_| {
        ConfigError::new(
            var,
            value,
            format!("{item:?}: expected HOST:PORT with an IP address ([::1]:2375 for IPv6) or unix:///path"),
        )
    })
}

pub(crate) fn parse_cidrs(var: &str, value: &str) -> Result<Vec<IpNet>, ConfigError> {
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
pub(crate) mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A configuration from these variables alone (no file can be read), for tests.
    pub(crate) fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_env(&env, |_| Err("no file".into()))
    }

    /// A configuration from these variables, every file read having the text `file`.
    pub(crate) fn cfg_with_file(pairs: &[(&str, &str)], file: &str) -> Result<Config, ConfigError> {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_env(&env, |_| Ok(file.to_owned()))
    }

    #[test]
    fn unix_socket_mode_and_group_are_read_or_refused_naming_the_variable() {
        assert_eq!(
            cfg(&[]).expect("valid").socket_perms,
            SocketPerms::default()
        );
        let c = cfg(&[
            ("GUARD_SOCKET_MODE", "0600"),
            ("GUARD_SOCKET_GROUP", "4242"),
        ])
        .expect("valid");
        assert_eq!(
            c.socket_perms,
            SocketPerms {
                mode: 0o600,
                group: Some(4242)
            }
        );
        assert_eq!(
            cfg(&[("GUARD_SOCKET_MODE", "666")])
                .expect("valid")
                .socket_perms
                .mode,
            0o666
        );
        for (var, bad) in [
            ("GUARD_SOCKET_MODE", "0777"),
            ("GUARD_SOCKET_MODE", "4660"),
            ("GUARD_SOCKET_MODE", "rw"),
            ("GUARD_SOCKET_MODE", ""),
            ("GUARD_SOCKET_MODE", "0690"),
            ("GUARD_SOCKET_GROUP", "docker"),
            ("GUARD_SOCKET_GROUP", "-1"),
        ] {
            let e = cfg(&[(var, bad)]).expect_err(bad);
            assert_eq!((e.var.as_str(), e.value.as_str()), (var, bad));
        }
    }

    #[test]
    fn the_haproxy_proxies_log_levels_map_to_the_nearest() {
        for (given, ours) in [
            ("notice", "info"),
            ("WARNING", "warn"),
            ("err", "error"),
            ("crit", "error"),
            ("alert", "error"),
            ("emerg", "error"),
            ("debug", "debug"),
        ] {
            assert_eq!(cfg(&[("LOG_LEVEL", given)]).expect(given).log_level, ours);
        }
    }

    #[test]
    fn disable_ipv6_is_read_and_contradicting_an_ipv6_listener_is_refused() {
        assert!(cfg(&[("DISABLE_IPV6", "1")]).is_ok());
        assert!(cfg(&[("DISABLE_IPV6", "0"), ("GUARD_LISTEN", "[::1]:2375")]).is_ok());
        let e = cfg(&[
            ("DISABLE_IPV6", "1"),
            ("GUARD_LISTEN", "0.0.0.0:2375,[::]:2375"),
        ])
        .expect_err("contradiction");
        assert_eq!((e.var.as_str(), e.value.as_str()), ("DISABLE_IPV6", "1"));
        let e = cfg(&[("DISABLE_IPV6", "perhaps")]).expect_err("not a boolean");
        assert_eq!(e.var, "DISABLE_IPV6");
    }

    #[test]
    fn tls_listeners_need_all_three_files_and_the_files_need_a_listener() {
        let c = cfg(&[
            ("GUARD_LISTEN", "0.0.0.0:2375,tls://0.0.0.0:2376"),
            ("GUARD_TLS_CERT", "/c.pem"),
            ("GUARD_TLS_KEY", "/k.pem"),
            ("GUARD_TLS_CA", "/ca.pem"),
        ])
        .expect("valid");
        assert_eq!(
            c.listen[1],
            ListenAddr::Tls("0.0.0.0:2376".parse().expect("addr"))
        );
        assert_eq!(c.tls.expect("files").ca, PathBuf::from("/ca.pem"));
        let e = cfg(&[
            ("GUARD_LISTEN", "tls://0.0.0.0:2376"),
            ("GUARD_TLS_CERT", "/c"),
        ])
        .expect_err("no key");
        assert_eq!(e.var, "GUARD_TLS_KEY");
        let e = cfg(&[("GUARD_TLS_CA", "/ca.pem")]).expect_err("no listener");
        assert_eq!(
            (e.var.as_str(), e.value.as_str()),
            ("GUARD_TLS_CA", "/ca.pem")
        );
        let e = cfg(&[
            ("GUARD_LISTEN", "tls://0.0.0.0:2376"),
            ("GUARD_TLS_CERT", "c.pem"),
            ("GUARD_TLS_KEY", "/k"),
            ("GUARD_TLS_CA", "/ca"),
        ])
        .expect_err("relative");
        assert_eq!(e.var, "GUARD_TLS_CERT");
        for bad in ["tls://host:2376", "tls://"] {
            assert_eq!(
                cfg(&[("GUARD_LISTEN", bad)]).expect_err(bad).var,
                "GUARD_LISTEN"
            );
        }
        let e = cfg(&[("GUARD_ADMIN_LISTEN", "tls://127.0.0.1:9")]).expect_err("admin");
        assert_eq!(e.var, "GUARD_ADMIN_LISTEN");
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
