//! The router's configuration: Traefik's static configuration (a file, flags or `TRAEFIK_*`
//! variables, [`sources`], [`traefik`]) and the router's own `ROUTER_*` variables
//! ([`legacy`]), merged into one [`Config`].
//!
//! Without a Traefik static configuration, the `ROUTER_*` variables and their defaults define
//! everything (entry points `web` and `websecure`, the Docker provider through socket-guard).
//! With one, it defines the entry points, providers, certificate resolvers, API, ping, metrics
//! and logs as Traefik would, and a `ROUTER_*` variable adds what Traefik has no key for;
//! setting one thing both ways is an error. Every error names the key or variable and the
//! value, and stops the program (exit 64).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

use crate::dynamic::RouterTls;
use crate::model::rule::Syntax;
use crate::provider::constraints::Constraints;

pub mod legacy;
mod merge;
pub mod publish;
pub mod sources;
pub mod traefik;

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

/// The Traefik default rule.
pub const DEFAULT_RULE: &str = "Host(`{{ normalize .Name }}`)";

/// Let's Encrypt's production directory.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// A configuration error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}={value:?}: {reason}")]
pub struct ConfigError {
    /// The variable, flag or key.
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
    /// Where the static configuration came from, for the start-up log.
    pub source: String,
    /// Accepted settings without effect and ignored sources, for the start-up log.
    pub notes: Vec<String>,
    /// The log filter (`info`, `error,access=info`, ...).
    pub log_level: String,
    /// `ROUTER_LOG_FORMAT` / `log.format`.
    pub log_format: LogFormat,
    /// `log.filePath`: the logs go there (appended to) instead of stderr.
    pub log_file: Option<std::path::PathBuf>,
    /// Access lines on (`ROUTER_ACCESS_LOG`, `accessLog`).
    pub access_log: bool,
    /// Access lines for requests to internal routers too (`accessLog.addInternals`).
    pub access_log_internals: bool,
    /// Traefik's access log (a Traefik configuration's `accessLog`): its lines in Traefik's
    /// formats, to its file or stdout, instead of the router's own access lines.
    pub traefik_access_log: Option<crate::access_log::Settings>,
    /// Requests to internal routers counted in the router metrics too
    /// (`metrics.addInternals`).
    pub metrics_internals: bool,
    /// `ROUTER_ADMIN_LISTEN`.
    pub admin_listen: Option<SocketAddr>,
    /// `ROUTER_LABEL_PREFIX`.
    pub label_prefix: String,
    /// `ROUTER_HOST_IP`.
    pub host_ip: IpAddr,
    /// `ROUTER_CONNECT_TIMEOUT`.
    pub connect_timeout: Duration,
    /// `ROUTER_RESPONSE_TIMEOUT`: time for a backend to send response headers.
    pub response_timeout: Duration,
    /// `ROUTER_MAX_CONNECTIONS`: open client connections at most (`None`: from the
    /// open-files limit, see [`crate::conn_limit::default_total`]).
    pub max_connections: Option<usize>,
    /// `ROUTER_MAX_CONNECTIONS_PER_IP`: open client connections from one address at most.
    pub max_connections_per_ip: Option<u32>,
    /// `ROUTER_BALANCER`.
    pub balancer: Balancer,
    /// `ROUTER_CERTS_DIR`.
    pub certs_dir: Option<PathBuf>,
    /// `ROUTER_TLS_CIPHERS`: suite names to narrow the defaults to.
    pub tls_ciphers: Option<Vec<String>>,
    /// `ROUTER_SECURITY_HEADERS`.
    pub security_headers: bool,
    /// `ROUTER_COMPRESS`.
    pub compress: bool,
    /// The entry points, by name.
    pub entry_points: Vec<EntryPoint>,
    /// The Docker provider.
    pub docker: Option<ContainerProvider>,
    /// The Swarm provider.
    pub swarm: Option<ContainerProvider>,
    /// The file provider.
    pub file: Option<FileProvider>,
    /// The etcd provider.
    pub etcd: Option<crate::kv::KvProvider>,
    /// The Redis provider.
    pub redis: Option<crate::kv::KvProvider>,
    /// The ECS provider.
    pub ecs: Option<crate::ecs::EcsProvider>,
    /// The ACME certificate resolver (its first account).
    pub acme: Option<AcmeConfig>,
    /// Resolvers of other ACME accounts (another CA, email, storage or `dnsChallenge`), each
    /// ordering for the routers that name it.
    pub acme_more: Vec<AcmeConfig>,
    /// `api` (`api@internal`).
    pub api: Option<Api>,
    /// `ping` (`ping@internal`).
    pub ping: Option<Ping>,
    /// `metrics.prometheus` (`prometheus@internal`).
    pub prometheus: Option<Prometheus>,
    /// `core.defaultRuleSyntax`.
    pub default_rule_syntax: Syntax,
    /// The static `serversTransport`: how services that name no transport reach `https://`
    /// servers.
    pub default_transport: crate::dynamic::ServersTransport,
    /// Cluster mode: this router is a controller or a data plane (`ROUTER_CONTROLLER_*`).
    pub controller: Option<ControllerRole>,
    /// `ROUTER_PUBLISH`: KV stores this router writes its configuration into.
    pub publish: Vec<crate::kv::KvProvider>,
}

/// A router's part in cluster mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControllerRole {
    /// A controller: serves its providers' inputs to data planes on `listen`.
    Serve {
        listen: SocketAddr,
        tls: ControllerTls,
    },
    /// A data plane: its configuration comes from the controller at `address` only.
    Follow { address: String, tls: ControllerTls },
}

/// The controller channel's PEM files: the cluster's CA, this router's certificate and key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControllerTls {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Config {
    /// The controller a data plane follows, if this router is one.
    pub fn follows(&self) -> Option<(&str, &ControllerTls)> {
        match &self.controller {
            Some(ControllerRole::Follow { address, tls }) => Some((address, tls)),
            _ => None,
        }
    }

    /// Whether this router serves a cluster's data planes (a controller) or publishes to a
    /// KV store: its state goes out through one hub.
    pub fn publishes(&self) -> bool {
        matches!(self.controller, Some(ControllerRole::Serve { .. })) || !self.publish.is_empty()
    }

    /// Every ACME account (the first one, then the others).
    pub fn acme_accounts(&self) -> impl Iterator<Item = &AcmeConfig> {
        self.acme.iter().chain(&self.acme_more)
    }
}

/// An entry point: a listener, answering plain HTTP and TLS alike (the first byte tells).
#[derive(Debug, Clone, PartialEq)]
pub struct EntryPoint {
    /// Its name.
    pub name: String,
    /// The key or variable its address was given with, for messages.
    pub key: String,
    /// Where it listens.
    pub address: Address,
    /// Routers without entry points are put on it (`asDefault`; when no entry point has it,
    /// on every one but `traefik`).
    pub default: bool,
    /// `asDefault` as the configuration set it (what the API shows).
    pub as_default: bool,
    /// `http.redirections.entryPoint`.
    pub redirect: Option<Redirect>,
    /// `http.middlewares`: put in front of each router's own.
    pub middlewares: Vec<String>,
    /// `http.tls`: the TLS of routers that have none.
    pub tls: Option<RouterTls>,
    /// `forwardedHeaders`: whose `X-Forwarded-*` headers are kept.
    pub forwarded: Trust,
    /// `proxyProtocol`: whose PROXY protocol header is read.
    pub proxy_protocol: Option<Trust>,
    /// Time for a client to send a request head (`readTimeout`, `ROUTER_HEADER_TIMEOUT`).
    pub header_timeout: Duration,
    /// How long an idle keep-alive connection is kept (`idleTimeout`).
    pub idle_timeout: Duration,
    /// How long open connections get to finish on shutdown (`graceTimeOut`).
    pub grace_timeout: Duration,
    /// Time from a request's head to the end of its answer (`writeTimeout`; zero: none).
    pub write_timeout: Duration,
    /// Requests a connection may carry before its answer closes it
    /// (`keepAliveMaxRequests`; 0: no limit).
    pub keep_alive_max_requests: u64,
    /// Age past which a connection's next answer closes it (`keepAliveMaxTime`; zero: no
    /// limit).
    pub keep_alive_max_time: Duration,
    /// `SO_REUSEPORT` on the listener (`reusePort`).
    pub reuse_port: bool,
    /// `allowACMEByPass`: ACME HTTP-01 challenges are routed like any request (a router of
    /// the user's may take them), not answered before routing.
    pub allow_acme_bypass: bool,
    /// The HPACK table for decoding clients' headers (`http2.maxDecoderHeaderTableSize`,
    /// 4096).
    pub h2_decoder_table: u32,
    /// `http2.maxEncoderHeaderTableSize` as set (4096), shown by the API.
    pub h2_encoder_table: u32,
    /// Largest request head (`http.maxHeaderBytes`, `ROUTER_MAX_HEADER_BYTES`).
    pub max_header_bytes: usize,
    /// HTTP/2 streams per connection (`http2.maxConcurrentStreams`).
    pub max_concurrent_streams: u32,
    /// What is done to each request before routing: `http.encodeQuerySemicolons`,
    /// `http.sanitizePath`, `http.underscoreHeadersStrategy`, `http.encodedCharacters`.
    pub http: crate::entry_http::Settings,
    /// Access lines for its requests (`observability.accessLogs`).
    pub access_logs: bool,
    /// Traefik makes a model of it whatever its `http` settings (`internal.go`
    /// `entryPointModels`): it has an `observability` section, or `core.defaultRuleSyntax`
    /// is set. A router on several entry points is then split into `<entrypoint>-<name>`
    /// copies, as for `http.middlewares`.
    pub model: bool,
    /// A UDP entry point (`/udp` in its address), with its session timeout (`udp.timeout`).
    pub udp: Option<Duration>,
}

/// Traefik's `entryPoints.<name>.udp.timeout` default: a UDP session without a datagram
/// for this long is closed.
pub const UDP_TIMEOUT: Duration = Duration::from_secs(3);

/// Where an entry point listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// An address and port.
    Socket(SocketAddr),
    /// `:port`: every address (IPv6 and IPv4 where the host has IPv6, else IPv4).
    AnyHost(u16),
    /// `name:port`, resolved when binding.
    Named(String, u16),
}

impl Address {
    /// Parses a TCP entry point address (`:80`, `0.0.0.0:443`, `[::]:8080`, `host:80`, with
    /// `/tcp` allowed).
    pub fn parse(v: &str) -> Result<Address, String> {
        match Address::parse_entry(v)? {
            (a, false) => Ok(a),
            (_, true) => Err("a UDP address is not allowed here".into()),
        }
    }

    /// Parses a Traefik entry point address, `/tcp` (the default) or `/udp` after it: the
    /// address, and whether it is UDP.
    pub fn parse_entry(v: &str) -> Result<(Address, bool), String> {
        let (addr, proto) = v.split_once('/').unwrap_or((v, "tcp"));
        let udp = match proto.to_ascii_lowercase().as_str() {
            "tcp" => false,
            "udp" => true,
            _ => return Err(format!("invalid protocol {proto:?} (tcp or udp)")),
        };
        Address::parse_host_port(addr).map(|a| (a, udp))
    }

    fn parse_host_port(addr: &str) -> Result<Address, String> {
        if let Some(p) = addr.strip_prefix(':') {
            return p
                .parse()
                .map(Address::AnyHost)
                .map_err(|_| format!("invalid port {p:?}"));
        }
        if let Ok(s) = addr.parse::<SocketAddr>() {
            return Ok(Address::Socket(s));
        }
        match addr.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() && !h.contains(':') => Ok(Address::Named(
                h.to_owned(),
                p.parse().map_err(|_| format!("invalid port {p:?}"))?,
            )),
            _ => Err("expected [host]:port, e.g. :80 or 0.0.0.0:80".into()),
        }
    }

    /// The port.
    pub fn port(&self) -> u16 {
        match self {
            Address::Socket(s) => s.port(),
            Address::AnyHost(p) | Address::Named(_, p) => *p,
        }
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Address::Socket(s) => write!(f, "{s}"),
            Address::AnyHost(p) => write!(f, ":{p}"),
            Address::Named(h, p) => write!(f, "{h}:{p}"),
        }
    }
}

/// Whose headers (or PROXY protocol) an entry point trusts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trust {
    /// Everyone's.
    pub insecure: bool,
    /// These clients'.
    pub trusted_ips: Vec<IpNet>,
}

impl Trust {
    /// Whether a client at `ip` is trusted.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.insecure || self.trusted_ips.iter().any(|n| n.contains(&ip))
    }
}

/// `http.redirections.entryPoint`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// The target entry point, or `:port`.
    pub to: String,
    /// The port redirects name (the target entry point's, or the one given).
    pub port: u16,
    /// The URL scheme redirects go to (`https` by default).
    pub scheme: String,
    /// 308 (default) or 307.
    pub permanent: bool,
    /// The generated router's priority.
    pub priority: i64,
}

/// The Docker or Swarm provider.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerProvider {
    /// socket-guard's `host:port` (`endpoint`, else `DOCKER_HOST`).
    pub endpoint: Option<String>,
    /// `useBindPortIP`.
    pub use_bind_port_ip: bool,
    /// A `unix://` `endpoint` as given (key, value): the Docker socket a Traefik
    /// configuration names, which socket-guard at `DOCKER_HOST` replaces.
    pub docker_socket: Option<(String, String)>,
    /// `exposedByDefault`.
    pub exposed_by_default: bool,
    /// Whether `exposedByDefault` was given (for the start-up note on Traefik's default).
    pub exposed_by_default_set: bool,
    /// `network`.
    pub network: Option<String>,
    /// `defaultRule`.
    pub default_rule: String,
    /// `constraints`.
    pub constraints: Option<Constraints>,
    /// `watch`: follow events (Docker) or refresh (Swarm); else read once.
    pub watch: bool,
    /// `refreshSeconds` (Swarm).
    pub refresh: Duration,
    /// `allowEmptyServices`.
    pub allow_empty_services: bool,
    /// `tls`: socket-guard over mutual TLS (its `tls://` listener), Traefik's `ClientTLS`.
    pub tls: Option<crate::dynamic::ClientTls>,
}

impl ContainerProvider {
    /// Traefik's defaults.
    pub fn traefik_defaults(swarm: bool) -> ContainerProvider {
        ContainerProvider {
            docker_socket: None,
            use_bind_port_ip: false,
            endpoint: None,
            exposed_by_default: true,
            exposed_by_default_set: false,
            network: None,
            default_rule: DEFAULT_RULE.to_owned(),
            constraints: None,
            watch: true,
            refresh: Duration::from_secs(if swarm { 15 } else { 0 }),
            allow_empty_services: false,
            tls: None,
        }
    }
}

/// The file provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProvider {
    /// `filename`.
    pub filename: Option<PathBuf>,
    /// `directory`.
    pub directory: Option<PathBuf>,
    /// `watch`.
    pub watch: bool,
}

/// The ACME resolver's settings.
#[derive(Debug, Clone)]
pub struct AcmeConfig {
    /// The resolver's names (`certificatesResolvers.<name>`); empty: any name routers give
    /// (`ROUTER_ACME_EMAIL`).
    pub names: Vec<String>,
    /// The account's contact address.
    pub email: String,
    /// The directory (Let's Encrypt's by default).
    pub directory: String,
    /// The storage file (written 0600), in Traefik's `acme.json` format.
    pub storage: PathBuf,
    /// The key or variable `storage` was given with, for messages.
    pub storage_key: String,
    /// Extra roots for the ACME server's own HTTPS (a test CA).
    pub ca_file: Option<PathBuf>,
    /// The key or variable `ca_file` was given with, for messages.
    pub ca_key: String,
    /// Renew this long before expiry.
    pub renew_before: Duration,
    /// `dnsChallenge`: DNS-01 for every order (and so wildcard names).
    pub dns: Option<crate::acme_dns::DnsChallenge>,
    /// The resolvers' `httpChallenge.entryPoint`s, each once: the internal provider's
    /// `acme-http` router is on them, as Traefik's.
    pub http_challenge: Vec<String>,
}

/// `api`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Api {
    /// `dashboard`.
    pub dashboard: bool,
    /// `insecure`: served on the `traefik` entry point.
    pub insecure: bool,
    /// `debug`: Traefik's `debug` router (to `/debug/`, not served here).
    pub debug: bool,
    /// `disableDashboardAd`: shown in `/api/version`, as Traefik's.
    pub disable_dashboard_ad: bool,
    /// `dashboardName`: shown in `/api/version`, as Traefik's (empty: left out).
    pub dashboard_name: String,
}

/// `ping`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ping {
    /// `entryPoint`.
    pub entry_point: String,
    /// `manualRouting`: no router is made for it.
    pub manual_routing: bool,
    /// `terminatingStatusCode`: the answer while shutting down.
    pub terminating_status: u16,
}

/// `metrics.prometheus`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prometheus {
    /// `entryPoint`.
    pub entry_point: String,
    /// `manualRouting`.
    pub manual_routing: bool,
    /// `addEntryPointsLabels`, `addRoutersLabels`, `addServicesLabels`, `buckets`: Traefik's
    /// metric families.
    pub traefik: crate::metrics_traefik::Options,
}

/// Checks a default rule template as Traefik's `MakeDefaultRuleTemplate` does: it parses as
/// a template (functions known, blocks closed). What it renders to is checked for each
/// container, where a rule that does not parse disables that container's router only.
fn check_default_rule(template: &str) -> Result<(), String> {
    crate::provider::template::check(template)
}

/// lego's `exec` provider's variables: `EXEC_PATH` (required), `EXEC_MODE` (`RAW` or unset),
/// and the propagation timeout, polling and sequence intervals in seconds.
fn exec_provider(env: &impl Env, d: &mut crate::acme_dns::DnsChallenge) -> Result<(), ConfigError> {
    let path = env
        .get("EXEC_PATH")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            err(
                "EXEC_PATH",
                "",
                "dnsChallenge.provider=exec needs the program to run",
            )
        })?;
    d.program = PathBuf::from(path);
    match env.get("EXEC_MODE").unwrap_or_default().as_str() {
        "" => d.raw = false,
        "RAW" => d.raw = true,
        other => return Err(err("EXEC_MODE", other, "expected RAW or nothing")),
    }
    let seconds = |name: &str, into: &mut Duration| -> Result<(), ConfigError> {
        if let Some(v) = env.get(name).filter(|v| !v.is_empty()) {
            let n: u64 = v
                .trim()
                .parse()
                .map_err(|_| err(name, &v, "expected a whole number of seconds"))?;
            *into = Duration::from_secs(n);
        }
        Ok(())
    };
    seconds("EXEC_PROPAGATION_TIMEOUT", &mut d.timeout)?;
    seconds("EXEC_POLLING_INTERVAL", &mut d.interval)?;
    seconds("EXEC_SEQUENCE_INTERVAL", &mut d.sequence)?;
    Ok(())
}

impl Config {
    /// Reads the configuration from the environment only (no flags, no file search): what
    /// tests use.
    pub fn from_env(env: &impl Env) -> Result<Config, ConfigError> {
        Config::load(env, &sources::Args::default(), false)
    }

    /// Reads the configuration: a Traefik static configuration (a file, else `args`' flags,
    /// else `TRAEFIK_*` variables; Traefik's default file locations when `search`) and the
    /// `ROUTER_*` variables.
    pub fn load(env: &impl Env, args: &sources::Args, search: bool) -> Result<Config, ConfigError> {
        let legacy = legacy::read(env)?;
        match sources::find(env, args, search)? {
            None => merge::legacy_only(legacy),
            Some(found) => {
                let from_file = matches!(found.kind, sources::SourceKind::File(_));
                let decoded = traefik::decode(&found.root, from_file)?;
                let mut c = merge::with_traefik(legacy, decoded, &found)?;
                for a in c.acme.iter_mut().chain(c.acme_more.iter_mut()) {
                    if let Some(d) = a.dns.as_mut() {
                        exec_provider(env, d)?;
                    }
                }
                Ok(c)
            }
        }
    }

    /// The entry point named `name`.
    pub fn entry_point(&self, name: &str) -> Option<&EntryPoint> {
        self.entry_points.iter().find(|e| e.name == name)
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod keys;

#[cfg(test)]
mod traefik_tables;
