//! The `ROUTER_*` variables (and `DOCKER_HOST`, `LOG_LEVEL`). Every variable is a constant; a
//! bad value or an unknown `ROUTER_*` name is an error naming the variable and the value.
//! Each value is kept as set or unset, so that [`super::Config`] can apply the defaults when
//! no Traefik static configuration is given, and refuse a setting made both ways when one is.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use super::{err, Balancer, ConfigError, Env, LogFormat};

/// Every variable the router reads.
pub const VARS: &[&str] = &[
    "DOCKER_HOST",
    "LOG_LEVEL",
    "ROUTER_CONFIG_FILE",
    "ROUTER_WEB_LISTEN",
    "ROUTER_ADMIN_LISTEN",
    "ROUTER_LABEL_PREFIX",
    "ROUTER_EXPOSED_BY_DEFAULT",
    "ROUTER_NETWORK",
    "ROUTER_HOST_IP",
    "ROUTER_DEFAULT_RULE",
    "ROUTER_LOG_FORMAT",
    "ROUTER_ACCESS_LOG",
    "ROUTER_CONNECT_TIMEOUT",
    "ROUTER_RESPONSE_TIMEOUT",
    "ROUTER_HEADER_TIMEOUT",
    "ROUTER_MAX_HEADER_BYTES",
    "ROUTER_MAX_CONNECTIONS",
    "ROUTER_MAX_CONNECTIONS_PER_IP",
    "ROUTER_BALANCER",
    "ROUTER_SWARM_MODE",
    "ROUTER_SWARM_REFRESH",
    "ROUTER_WEBSECURE_LISTEN",
    "ROUTER_CERTS_DIR",
    "ROUTER_TLS_CIPHERS",
    "ROUTER_REDIRECT_TO_HTTPS",
    "ROUTER_REDIRECT_PORT",
    "ROUTER_SECURITY_HEADERS",
    "ROUTER_COMPRESS",
    "ROUTER_ACME_EMAIL",
    "ROUTER_ACME_DIRECTORY",
    "ROUTER_ACME_STORAGE",
    "ROUTER_ACME_CA_FILE",
    "ROUTER_ACME_RENEW_BEFORE",
    "ROUTER_CONTROLLER_LISTEN",
    "ROUTER_CONTROLLER",
    "ROUTER_CONTROLLER_TLS_CA",
    "ROUTER_CONTROLLER_TLS_CERT",
    "ROUTER_CONTROLLER_TLS_KEY",
    "ROUTER_PUBLISH",
    "ROUTER_PUBLISH_TLS_CA",
    "ROUTER_PUBLISH_TLS_CERT",
    "ROUTER_PUBLISH_TLS_KEY",
];

/// The variables as set (`None`: not set, or empty).
#[derive(Debug, Clone, Default)]
pub struct Legacy {
    /// Each variable set, as written (trimmed): for errors that name its value.
    pub given: BTreeMap<String, String>,
    /// `DOCKER_HOST`, as `host:port`.
    pub docker_host: Option<String>,
    /// `LOG_LEVEL`, lower case.
    pub log_level: Option<String>,
    /// `ROUTER_CONFIG_FILE`.
    pub config_file: Option<PathBuf>,
    /// `ROUTER_WEB_LISTEN`.
    pub web_listen: Option<SocketAddr>,
    /// `ROUTER_WEBSECURE_LISTEN` (`Some(None)`: `off`).
    pub websecure_listen: Option<Option<SocketAddr>>,
    /// `ROUTER_ADMIN_LISTEN` (`Some(None)`: `off`).
    pub admin_listen: Option<Option<SocketAddr>>,
    /// `ROUTER_LABEL_PREFIX`.
    pub label_prefix: Option<String>,
    /// `ROUTER_EXPOSED_BY_DEFAULT`.
    pub exposed_by_default: Option<bool>,
    /// `ROUTER_NETWORK`.
    pub network: Option<String>,
    /// `ROUTER_HOST_IP`.
    pub host_ip: Option<IpAddr>,
    /// `ROUTER_DEFAULT_RULE`.
    pub default_rule: Option<String>,
    /// `ROUTER_LOG_FORMAT`.
    pub log_format: Option<LogFormat>,
    /// `ROUTER_ACCESS_LOG`.
    pub access_log: Option<bool>,
    /// `ROUTER_CONNECT_TIMEOUT`.
    pub connect_timeout: Option<Duration>,
    /// `ROUTER_RESPONSE_TIMEOUT`.
    pub response_timeout: Option<Duration>,
    /// `ROUTER_HEADER_TIMEOUT`.
    pub header_timeout: Option<Duration>,
    /// `ROUTER_MAX_HEADER_BYTES`.
    pub max_header_bytes: Option<usize>,
    /// `ROUTER_MAX_CONNECTIONS`.
    pub max_connections: Option<usize>,
    /// `ROUTER_MAX_CONNECTIONS_PER_IP`.
    pub max_connections_per_ip: Option<u32>,
    /// `ROUTER_BALANCER`.
    pub balancer: Option<Balancer>,
    /// `ROUTER_SWARM_MODE`.
    pub swarm_mode: Option<bool>,
    /// `ROUTER_SWARM_REFRESH`.
    pub swarm_refresh: Option<Duration>,
    /// `ROUTER_CERTS_DIR`.
    pub certs_dir: Option<PathBuf>,
    /// `ROUTER_TLS_CIPHERS`.
    pub tls_ciphers: Option<Vec<String>>,
    /// `ROUTER_REDIRECT_TO_HTTPS`.
    pub redirect_to_https: Option<bool>,
    /// `ROUTER_REDIRECT_PORT`.
    pub redirect_port: Option<u16>,
    /// `ROUTER_SECURITY_HEADERS`.
    pub security_headers: Option<bool>,
    /// `ROUTER_COMPRESS`.
    pub compress: Option<bool>,
    /// `ROUTER_ACME_EMAIL`.
    pub acme_email: Option<String>,
    /// `ROUTER_ACME_DIRECTORY`.
    pub acme_directory: Option<String>,
    /// `ROUTER_ACME_STORAGE`.
    pub acme_storage: Option<PathBuf>,
    /// `ROUTER_ACME_CA_FILE`.
    pub acme_ca_file: Option<PathBuf>,
    /// `ROUTER_ACME_RENEW_BEFORE`.
    pub acme_renew_before: Option<Duration>,
    /// `ROUTER_CONTROLLER_LISTEN` or `ROUTER_CONTROLLER`, with the channel's TLS files.
    pub controller: Option<super::ControllerRole>,
    /// `ROUTER_PUBLISH` (with `ROUTER_PUBLISH_TLS_*`): the stores written into.
    pub publish: Vec<crate::kv::KvProvider>,
}

/// Go-style boolean words accepted in variables: `1`/`0`, `true`/`false`, `yes`/`no`,
/// `on`/`off`, in any case.
fn boolean(k: &str, v: &str) -> Result<bool, ConfigError> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(err(k, v, "expected true or false")),
    }
}

/// A non-zero duration: Go's syntax (`500ms`, `1m30s`) or a bare number of seconds.
pub fn duration(k: &str, v: &str) -> Result<Duration, ConfigError> {
    crate::tree::parse_go_duration(v)
        .filter(|d| !d.is_zero())
        .ok_or_else(|| err(k, v, "expected a duration such as 5s or 500ms"))
}

/// `IP:PORT`, or `off` (`None`).
fn listen(k: &str, v: &str) -> Result<Option<SocketAddr>, ConfigError> {
    if v.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    v.parse()
        .map(Some)
        .map_err(|_| err(k, v, "expected IP:PORT, e.g. 0.0.0.0:8080"))
}

/// The `host:port` of `tcp://HOST:PORT` (or `http://`): the router never opens a unix socket.
pub fn docker_endpoint(k: &str, v: &str) -> Result<String, ConfigError> {
    match v.strip_prefix("tcp://").or_else(|| v.strip_prefix("http://")) {
        Some(hp)
            if hp
                .trim_end_matches('/')
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok()) =>
        {
            Ok(hp.trim_end_matches('/').to_owned())
        }
        _ => Err(err(
            k,
            v,
            "expected tcp://HOST:PORT of socket-guard (the router never talks to the Docker socket itself)",
        )),
    }
}

/// A variable's value, trimmed; empty counts as unset.
fn value(env: &impl Env, k: &str) -> Option<String> {
    env.get(k)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// A variable parsed by `f`, when it is set.
fn parse<T>(
    env: &impl Env,
    k: &str,
    f: impl Fn(&str, &str) -> Result<T, ConfigError>,
) -> Result<Option<T>, ConfigError> {
    value(env, k).map(|v| f(k, &v)).transpose()
}

/// Reads every variable; an unknown `ROUTER_*` name is an error.
pub fn read(env: &impl Env) -> Result<Legacy, ConfigError> {
    let mut names = env.names();
    names.sort();
    for n in names {
        if n.starts_with("ROUTER_") && !VARS.contains(&n.as_str()) {
            return Err(err(
                &n,
                &env.get(&n).unwrap_or_default(),
                "unknown variable (a typo?)",
            ));
        }
    }
    let get = |k: &str| value(env, k);
    let mut l = Legacy {
        docker_host: get("DOCKER_HOST")
            .map(|v| docker_endpoint("DOCKER_HOST", &v))
            .transpose()?,
        config_file: get("ROUTER_CONFIG_FILE").map(PathBuf::from),
        network: get("ROUTER_NETWORK"),
        certs_dir: get("ROUTER_CERTS_DIR").map(PathBuf::from),
        acme_directory: get("ROUTER_ACME_DIRECTORY"),
        acme_storage: get("ROUTER_ACME_STORAGE").map(PathBuf::from),
        acme_ca_file: get("ROUTER_ACME_CA_FILE").map(PathBuf::from),
        publish: super::publish::targets(
            get("ROUTER_PUBLISH").as_deref(),
            get("ROUTER_PUBLISH_TLS_CA").as_deref(),
            get("ROUTER_PUBLISH_TLS_CERT").as_deref(),
            get("ROUTER_PUBLISH_TLS_KEY").as_deref(),
        )?,
        ..Default::default()
    };
    l.given = env
        .names()
        .into_iter()
        .filter_map(|n| Some((value(env, &n)?, n)))
        .map(|(v, n)| (n, v))
        .collect();
    l.web_listen = match parse(env, "ROUTER_WEB_LISTEN", listen)? {
        Some(None) => {
            return Err(err(
                "ROUTER_WEB_LISTEN",
                "off",
                "the web entry point cannot be off",
            ))
        }
        other => other.flatten(),
    };
    l.websecure_listen = parse(env, "ROUTER_WEBSECURE_LISTEN", listen)?;
    l.admin_listen = parse(env, "ROUTER_ADMIN_LISTEN", listen)?;
    l.exposed_by_default = parse(env, "ROUTER_EXPOSED_BY_DEFAULT", boolean)?;
    l.access_log = parse(env, "ROUTER_ACCESS_LOG", boolean)?;
    l.swarm_mode = parse(env, "ROUTER_SWARM_MODE", boolean)?;
    l.redirect_to_https = parse(env, "ROUTER_REDIRECT_TO_HTTPS", boolean)?;
    l.security_headers = parse(env, "ROUTER_SECURITY_HEADERS", boolean)?;
    l.compress = parse(env, "ROUTER_COMPRESS", boolean)?;
    l.connect_timeout = parse(env, "ROUTER_CONNECT_TIMEOUT", duration)?;
    l.response_timeout = parse(env, "ROUTER_RESPONSE_TIMEOUT", duration)?;
    l.header_timeout = parse(env, "ROUTER_HEADER_TIMEOUT", duration)?;
    l.swarm_refresh = parse(env, "ROUTER_SWARM_REFRESH", duration)?;
    l.acme_renew_before = parse(env, "ROUTER_ACME_RENEW_BEFORE", duration)?;
    l.controller = controller_role(env)?;
    l.label_prefix = parse(env, "ROUTER_LABEL_PREFIX", |k, v| {
        if v.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_')
            && !v.ends_with('.')
        {
            Ok(v.to_owned())
        } else {
            Err(err(k, v, "expected a label prefix such as traefik"))
        }
    })?;
    l.host_ip = parse(env, "ROUTER_HOST_IP", |k, v| {
        v.parse().map_err(|_| err(k, v, "expected an IP address"))
    })?;
    l.default_rule = parse(env, "ROUTER_DEFAULT_RULE", |k, v| {
        super::check_default_rule(v).map_err(|e| err(k, v, e))?;
        Ok(v.to_owned())
    })?;
    l.log_level = parse(env, "LOG_LEVEL", |k, v| {
        let l = v.to_ascii_lowercase();
        if ["trace", "debug", "info", "warn", "error", "off"].contains(&l.as_str()) {
            Ok(l)
        } else {
            Err(err(k, v, "expected trace, debug, info, warn, error or off"))
        }
    })?;
    l.log_format = parse(env, "ROUTER_LOG_FORMAT", |k, v| match v {
        "json" => Ok(LogFormat::Json),
        "text" => Ok(LogFormat::Text),
        _ => Err(err(k, v, "expected json or text")),
    })?;
    l.balancer = parse(env, "ROUTER_BALANCER", |k, v| match v {
        "roundrobin" => Ok(Balancer::RoundRobin),
        "leastinflight" => Ok(Balancer::LeastInFlight),
        _ => Err(err(k, v, "expected roundrobin or leastinflight")),
    })?;
    l.max_header_bytes = parse(env, "ROUTER_MAX_HEADER_BYTES", |k, v| {
        match v.parse::<usize>() {
            Ok(n) if (8192..=1 << 20).contains(&n) => Ok(n),
            _ => Err(err(k, v, "expected a number of bytes from 8192 to 1048576")),
        }
    })?;
    l.max_connections = parse(env, "ROUTER_MAX_CONNECTIONS", |k, v| {
        match v.parse::<usize>() {
            Ok(n) if (1..=10_000_000).contains(&n) => Ok(n),
            _ => Err(err(
                k,
                v,
                "expected a number of connections from 1 to 10000000",
            )),
        }
    })?;
    l.max_connections_per_ip = parse(env, "ROUTER_MAX_CONNECTIONS_PER_IP", |k, v| {
        match v.parse::<u32>() {
            Ok(n) if (1..=10_000_000).contains(&n) => Ok(n),
            _ => Err(err(
                k,
                v,
                "expected a number of connections from 1 to 10000000",
            )),
        }
    })?;
    l.tls_ciphers = parse(env, "ROUTER_TLS_CIPHERS", |k, v| {
        let names: Vec<String> = v
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        crate::tls::provider(Some(&names)).map_err(|e| err(k, v, e))?;
        Ok(names)
    })?;
    l.redirect_port = parse(env, "ROUTER_REDIRECT_PORT", |k, v| {
        v.parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| err(k, v, "expected a port number"))
    })?;
    l.acme_email = parse(env, "ROUTER_ACME_EMAIL", |k, v| {
        if v.contains('@') {
            Ok(v.to_owned())
        } else {
            Err(err(k, v, "expected an email address"))
        }
    })?;
    if l.acme_email.is_none() {
        for (k, set) in [
            ("ROUTER_ACME_DIRECTORY", l.acme_directory.is_some()),
            ("ROUTER_ACME_STORAGE", l.acme_storage.is_some()),
            ("ROUTER_ACME_CA_FILE", l.acme_ca_file.is_some()),
            ("ROUTER_ACME_RENEW_BEFORE", l.acme_renew_before.is_some()),
        ] {
            if set {
                return Err(err(
                    k,
                    &get(k).unwrap_or_default(),
                    "ACME settings need ROUTER_ACME_EMAIL",
                ));
            }
        }
    }
    Ok(l)
}

/// `ROUTER_CONTROLLER_LISTEN` (a controller) or `ROUTER_CONTROLLER` (a data plane), each with
/// the three `ROUTER_CONTROLLER_TLS_*` files: the channel is mutual TLS, always.
fn controller_role(env: &impl Env) -> Result<Option<super::ControllerRole>, ConfigError> {
    let listen = parse(env, "ROUTER_CONTROLLER_LISTEN", |k, v| {
        v.parse::<SocketAddr>().map_err(|_| {
            err(
                k,
                v,
                "expected IP:PORT (the controller's listener for data planes)",
            )
        })
    })?;
    let follow = parse(env, "ROUTER_CONTROLLER", |k, v| match v.rsplit_once(':') {
        Some((host, port))
            if !host.is_empty()
                && !v.contains("://")
                && port.parse::<u16>().is_ok_and(|p| p != 0) =>
        {
            Ok(v.to_owned())
        }
        _ => Err(err(k, v, "expected HOST:PORT of the controller")),
    })?;
    let (role, key) = match (listen, follow) {
        (Some(_), Some(f)) => {
            return Err(err(
                "ROUTER_CONTROLLER",
                &f,
                "a router is a controller (ROUTER_CONTROLLER_LISTEN) or a data plane (ROUTER_CONTROLLER), not both",
            ))
        }
        (None, None) => {
            for k in ["ROUTER_CONTROLLER_TLS_CA", "ROUTER_CONTROLLER_TLS_CERT", "ROUTER_CONTROLLER_TLS_KEY"] {
                if let Some(v) = value(env, k) {
                    return Err(err(k, &v, "needs ROUTER_CONTROLLER_LISTEN or ROUTER_CONTROLLER"));
                }
            }
            return Ok(None);
        }
        (Some(a), None) => (Ok(a), "ROUTER_CONTROLLER_LISTEN"),
        (None, Some(f)) => (Err(f), "ROUTER_CONTROLLER"),
    };
    let file = |k: &str| {
        value(env, k).map(PathBuf::from).ok_or_else(|| {
            err(
                k,
                "",
                format!("needed with {key}: the controller and its data planes authenticate each other with mutual TLS"),
            )
        })
    };
    let tls = super::ControllerTls {
        ca: file("ROUTER_CONTROLLER_TLS_CA")?,
        cert: file("ROUTER_CONTROLLER_TLS_CERT")?,
        key: file("ROUTER_CONTROLLER_TLS_KEY")?,
    };
    Ok(Some(match role {
        Ok(listen) => super::ControllerRole::Serve { listen, tls },
        Err(address) => super::ControllerRole::Follow { address, tls },
    }))
}
