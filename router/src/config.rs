//! Environment -> [`Config`]. Every variable is a constant; a bad value or an unknown
//! `ROUTER_*` name stops the program with a message naming the variable and the value
//! (exit 64), as socket-guard does.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::provider::container::render_template;

/// Where configuration comes from: the process environment, or a map in tests.
pub trait Env {
    /// One variable.
    fn get(&self, name: &str) -> Option<String>;
    /// All names that are set.
    fn names(&self) -> Vec<String>;
}

impl Env for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        HashMap::get(self, name).cloned()
    }
    fn names(&self) -> Vec<String> {
        self.keys().cloned().collect()
    }
}

/// Every variable the router reads.
pub const VARS: &[&str] = &[
    "DOCKER_HOST",
    "LOG_LEVEL",
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
];

/// The Traefik default rule.
pub const DEFAULT_RULE: &str = "Host(`{{ normalize .Name }}`)";

/// A configuration error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}={value:?}: {reason}")]
pub struct ConfigError {
    /// The variable.
    pub var: String,
    /// Its value.
    pub value: String,
    /// What is wrong.
    pub reason: String,
}

fn err(var: &str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        var: var.into(),
        value: value.into(),
        reason: reason.into(),
    }
}

/// How a service's backends are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Balancer {
    /// Round robin over ready backends.
    RoundRobin,
    /// The ready backend with the fewest requests in flight.
    LeastInFlight,
}

/// Log format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// JSON lines.
    Json,
    /// Text.
    Text,
}

/// The router's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// `host:port` of socket-guard, from `DOCKER_HOST=tcp://host:port`.
    pub docker_host: String,
    /// `ROUTER_WEB_LISTEN`.
    pub web_listen: SocketAddr,
    /// `ROUTER_ADMIN_LISTEN`.
    pub admin_listen: Option<SocketAddr>,
    /// `ROUTER_LABEL_PREFIX`.
    pub label_prefix: String,
    /// `ROUTER_EXPOSED_BY_DEFAULT`.
    pub exposed_by_default: bool,
    /// `ROUTER_NETWORK`.
    pub network: Option<String>,
    /// `ROUTER_HOST_IP`.
    pub host_ip: IpAddr,
    /// `ROUTER_DEFAULT_RULE`.
    pub default_rule: String,
    /// `LOG_LEVEL`.
    pub log_level: String,
    /// `ROUTER_LOG_FORMAT`.
    pub log_format: LogFormat,
    /// `ROUTER_ACCESS_LOG`.
    pub access_log: bool,
    /// `ROUTER_CONNECT_TIMEOUT`.
    pub connect_timeout: Duration,
    /// `ROUTER_RESPONSE_TIMEOUT`: time for a backend to send response headers.
    pub response_timeout: Duration,
    /// `ROUTER_HEADER_TIMEOUT`: time for a client to send a request head (and idle keep-alive).
    pub header_timeout: Duration,
    /// `ROUTER_MAX_HEADER_BYTES`.
    pub max_header_bytes: usize,
    /// `ROUTER_BALANCER`.
    pub balancer: Balancer,
    /// `ROUTER_SWARM_MODE`.
    pub swarm_mode: bool,
    /// `ROUTER_SWARM_REFRESH`.
    pub swarm_refresh: Duration,
    /// `ROUTER_WEBSECURE_LISTEN` (`None` when `off`).
    pub websecure_listen: Option<SocketAddr>,
    /// `ROUTER_CERTS_DIR`.
    pub certs_dir: Option<std::path::PathBuf>,
    /// `ROUTER_TLS_CIPHERS`: suite names to narrow the defaults to.
    pub tls_ciphers: Option<Vec<String>>,
    /// `ROUTER_REDIRECT_TO_HTTPS`.
    pub redirect_to_https: bool,
    /// `ROUTER_REDIRECT_PORT`: the public HTTPS port redirects point at.
    pub redirect_port: u16,
    /// `ROUTER_SECURITY_HEADERS`.
    pub security_headers: bool,
    /// `ROUTER_COMPRESS`.
    pub compress: bool,
    /// ACME settings, when `ROUTER_ACME_EMAIL` is set.
    pub acme: Option<AcmeConfig>,
}

/// The ACME resolver's settings.
#[derive(Debug, Clone)]
pub struct AcmeConfig {
    /// `ROUTER_ACME_EMAIL`.
    pub email: String,
    /// `ROUTER_ACME_DIRECTORY` (Let's Encrypt's by default).
    pub directory: String,
    /// `ROUTER_ACME_STORAGE` (written 0600).
    pub storage: std::path::PathBuf,
    /// `ROUTER_ACME_CA_FILE`: extra root for the ACME server's own HTTPS (a test CA).
    pub ca_file: Option<std::path::PathBuf>,
    /// `ROUTER_ACME_RENEW_BEFORE`: renew this long before expiry.
    pub renew_before: Duration,
}

/// Let's Encrypt's production directory.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

impl Config {
    /// Reads and checks the configuration.
    pub fn from_env(env: &impl Env) -> Result<Config, ConfigError> {
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
        let get = |k: &str| {
            env.get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let docker_raw = get("DOCKER_HOST").unwrap_or_else(|| "tcp://socket-guard:2375".into());
        let docker_host = match docker_raw.strip_prefix("tcp://").or_else(|| docker_raw.strip_prefix("http://")) {
            Some(hp) if hp.rsplit_once(':').is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok()) => hp.trim_end_matches('/').to_owned(),
            _ => {
                return Err(err(
                    "DOCKER_HOST",
                    &docker_raw,
                    "expected tcp://HOST:PORT of socket-guard (the router never talks to the Docker socket itself)",
                ))
            }
        };
        let addr = |k: &str, default: Option<&str>| -> Result<Option<SocketAddr>, ConfigError> {
            match get(k).or(default.map(str::to_owned)) {
                None => Ok(None),
                Some(v) if v.eq_ignore_ascii_case("off") => Ok(None),
                Some(v) => v
                    .parse()
                    .map(Some)
                    .map_err(|_| err(k, &v, "expected IP:PORT, e.g. 0.0.0.0:8080")),
            }
        };
        let web_listen = addr("ROUTER_WEB_LISTEN", Some("0.0.0.0:8080"))?.ok_or_else(|| {
            err(
                "ROUTER_WEB_LISTEN",
                "off",
                "the web entry point cannot be off",
            )
        })?;
        let admin_listen = addr("ROUTER_ADMIN_LISTEN", None)?;
        let label_prefix = get("ROUTER_LABEL_PREFIX").unwrap_or_else(|| "traefik".into());
        if !label_prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_')
            || label_prefix.ends_with('.')
        {
            return Err(err(
                "ROUTER_LABEL_PREFIX",
                &label_prefix,
                "expected a label prefix such as traefik",
            ));
        }
        let boolean = |k: &str, default: bool| -> Result<bool, ConfigError> {
            match get(k) {
                None => Ok(default),
                Some(v) => match v.to_ascii_lowercase().as_str() {
                    "1" | "true" | "yes" | "on" => Ok(true),
                    "0" | "false" | "no" | "off" => Ok(false),
                    _ => Err(err(k, &v, "expected true or false")),
                },
            }
        };
        let duration = |k: &str, default: Duration| -> Result<Duration, ConfigError> {
            match get(k) {
                None => Ok(default),
                Some(v) => crate::tree::parse_go_duration(&v)
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| err(k, &v, "expected a duration such as 5s or 500ms")),
            }
        };
        let host_ip_raw = get("ROUTER_HOST_IP").unwrap_or_else(|| "127.0.0.1".into());
        let host_ip = host_ip_raw
            .parse()
            .map_err(|_| err("ROUTER_HOST_IP", &host_ip_raw, "expected an IP address"))?;
        let default_rule = get("ROUTER_DEFAULT_RULE").unwrap_or_else(|| DEFAULT_RULE.into());
        let sample = render_template(&default_rule, "sample_project", "sample")
            .map_err(|e| err("ROUTER_DEFAULT_RULE", &default_rule, e))?;
        crate::model::rule::Rule::parse(&sample)
            .map_err(|e| err("ROUTER_DEFAULT_RULE", &default_rule, e.to_string()))?;
        let log_level = match get("LOG_LEVEL").map(|v| v.to_ascii_lowercase()) {
            None => "info".into(),
            Some(l) if ["trace", "debug", "info", "warn", "error", "off"].contains(&l.as_str()) => {
                l
            }
            Some(l) => {
                return Err(err(
                    "LOG_LEVEL",
                    &l,
                    "expected trace, debug, info, warn, error or off",
                ))
            }
        };
        let log_format = match get("ROUTER_LOG_FORMAT").as_deref() {
            None | Some("json") => LogFormat::Json,
            Some("text") => LogFormat::Text,
            Some(v) => return Err(err("ROUTER_LOG_FORMAT", v, "expected json or text")),
        };
        let balancer = match get("ROUTER_BALANCER").as_deref() {
            None | Some("roundrobin") => Balancer::RoundRobin,
            Some("leastinflight") => Balancer::LeastInFlight,
            Some(v) => {
                return Err(err(
                    "ROUTER_BALANCER",
                    v,
                    "expected roundrobin or leastinflight",
                ))
            }
        };
        let max_header_bytes = match get("ROUTER_MAX_HEADER_BYTES") {
            None => 64 * 1024,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (8192..=1 << 20).contains(&n) => n,
                _ => {
                    return Err(err(
                        "ROUTER_MAX_HEADER_BYTES",
                        &v,
                        "expected a number of bytes from 8192 to 1048576",
                    ))
                }
            },
        };
        let websecure_listen = addr("ROUTER_WEBSECURE_LISTEN", Some("0.0.0.0:8443"))?;
        let tls_ciphers = match get("ROUTER_TLS_CIPHERS") {
            None => None,
            Some(v) => {
                let names: Vec<String> = v
                    .split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect();
                crate::tls::provider(Some(&names)).map_err(|e| err("ROUTER_TLS_CIPHERS", &v, e))?;
                Some(names)
            }
        };
        let redirect_port = match get("ROUTER_REDIRECT_PORT") {
            None => 443,
            Some(v) => v
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| err("ROUTER_REDIRECT_PORT", &v, "expected a port number"))?,
        };
        let acme = match get("ROUTER_ACME_EMAIL") {
            None => {
                for k in [
                    "ROUTER_ACME_DIRECTORY",
                    "ROUTER_ACME_STORAGE",
                    "ROUTER_ACME_CA_FILE",
                    "ROUTER_ACME_RENEW_BEFORE",
                ] {
                    if let Some(v) = get(k) {
                        return Err(err(k, &v, "ACME settings need ROUTER_ACME_EMAIL"));
                    }
                }
                None
            }
            Some(email) if email.contains('@') => Some(AcmeConfig {
                email,
                directory: get("ROUTER_ACME_DIRECTORY").unwrap_or_else(|| LETS_ENCRYPT.into()),
                storage: get("ROUTER_ACME_STORAGE")
                    .unwrap_or_else(|| "/data/acme.json".into())
                    .into(),
                ca_file: get("ROUTER_ACME_CA_FILE").map(Into::into),
                renew_before: duration(
                    "ROUTER_ACME_RENEW_BEFORE",
                    Duration::from_secs(30 * 24 * 3600),
                )?,
            }),
            Some(email) => {
                return Err(err(
                    "ROUTER_ACME_EMAIL",
                    &email,
                    "expected an email address",
                ))
            }
        };
        if acme.is_some() && websecure_listen.is_none() {
            return Err(err(
                "ROUTER_WEBSECURE_LISTEN",
                "off",
                "ACME needs the websecure entry point",
            ));
        }
        Ok(Config {
            websecure_listen,
            certs_dir: get("ROUTER_CERTS_DIR").map(Into::into),
            tls_ciphers,
            redirect_to_https: boolean("ROUTER_REDIRECT_TO_HTTPS", websecure_listen.is_some())?,
            redirect_port,
            security_headers: boolean("ROUTER_SECURITY_HEADERS", true)?,
            compress: boolean("ROUTER_COMPRESS", false)?,
            acme,
            docker_host,
            web_listen,
            admin_listen,
            label_prefix,
            exposed_by_default: boolean("ROUTER_EXPOSED_BY_DEFAULT", false)?,
            network: get("ROUTER_NETWORK"),
            host_ip,
            default_rule,
            log_level,
            log_format,
            access_log: boolean("ROUTER_ACCESS_LOG", true)?,
            connect_timeout: duration("ROUTER_CONNECT_TIMEOUT", Duration::from_secs(5))?,
            response_timeout: duration("ROUTER_RESPONSE_TIMEOUT", Duration::from_secs(60))?,
            header_timeout: duration("ROUTER_HEADER_TIMEOUT", Duration::from_secs(30))?,
            max_header_bytes,
            balancer,
            swarm_mode: boolean("ROUTER_SWARM_MODE", false)?,
            swarm_refresh: duration("ROUTER_SWARM_REFRESH", Duration::from_secs(5))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_env(&env)
    }

    #[test]
    fn defaults() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.docker_host, "socket-guard:2375");
        assert_eq!(c.web_listen, "0.0.0.0:8080".parse().unwrap());
        assert_eq!(c.label_prefix, "traefik");
        assert!(!c.exposed_by_default);
        assert_eq!(c.default_rule, DEFAULT_RULE);
    }

    #[test]
    fn errors_name_the_variable() {
        for (k, v) in [
            ("DOCKER_HOST", "unix:///var/run/docker.sock"),
            ("DOCKER_HOST", "tcp://nohost"),
            ("ROUTER_WEB_LISTEN", "localhost:80"),
            ("ROUTER_EXPOSED_BY_DEFAULT", "maybe"),
            ("ROUTER_DEFAULT_RULE", "Host(`{{ .Labels }}`)"),
            ("ROUTER_DEFAULT_RULE", "Hots(`x`)"),
            ("ROUTER_HOST_IP", "host"),
            ("ROUTER_CONNECT_TIMEOUT", "0s"),
            ("ROUTER_BALANCER", "random"),
            ("ROUTER_NETWRK", "x"),
            ("ROUTER_TLS_CIPHERS", "TLS_RSA_WITH_RC4_128_SHA"),
            ("ROUTER_REDIRECT_PORT", "0"),
            ("ROUTER_ACME_EMAIL", "nobody"),
            ("ROUTER_ACME_DIRECTORY", "https://x"),
        ] {
            let e = cfg(&[(k, v)]).unwrap_err();
            assert_eq!((e.var.as_str(), e.value.as_str()), (k, v));
        }
    }
}
