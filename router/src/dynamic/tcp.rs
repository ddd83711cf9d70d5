//! The TCP part of the dynamic configuration (`tcp.routers`, `tcp.services`,
//! `tcp.middlewares`), in Traefik's shape, and its decoding from labels and files.
//!
//! Labels give a service one server (`loadBalancer.server.port`, `.tls`), whose address the
//! provider fills in; files list `loadBalancer.servers[].address`. `weighted` services are
//! files only, as in Traefik.

use std::collections::BTreeMap;

use serde::Serialize;

use super::decode::{self, each, unknown, Decoded, Owner, Source};
use super::{Domain, WeightedService};
use crate::model::rule::Syntax;
use crate::tree::{DecodeError, Node};

/// TCP routers, services and middlewares, by name.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Tcp {
    /// Routers by name.
    pub routers: BTreeMap<String, TcpRouter>,
    /// Services by name.
    pub services: BTreeMap<String, TcpService>,
    /// Middlewares by name.
    pub middlewares: BTreeMap<String, TcpMiddleware>,
    /// Servers transports by name (files only).
    pub servers_transports: BTreeMap<String, TcpServersTransport>,
}

impl Tcp {
    /// Whether nothing is defined.
    pub fn is_empty(&self) -> bool {
        self.routers.is_empty()
            && self.services.is_empty()
            && self.middlewares.is_empty()
            && self.servers_transports.is_empty()
    }
}

/// `tcp.serversTransports.<name>`: how servers are reached.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TcpServersTransport {
    /// `dialTimeout` (none: the router's connect timeout).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::tree::ser_go_duration_opt"
    )]
    pub dial_timeout: Option<std::time::Duration>,
    /// `terminationDelay` in ms (negative: no limit); replaces the load balancer's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub termination_delay: Option<i64>,
    /// `proxyProtocol.version`; replaces the load balancer's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_protocol: Option<u8>,
    /// `tls`: how servers with `tls: true` are verified (the HTTP transport's TLS fields).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<super::ServersTransport>,
}

/// A TCP router.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TcpRouter {
    /// Entry points; empty means the default ones.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub entry_points: Vec<String>,
    /// Middlewares, in order (names as written).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub middlewares: Vec<String>,
    /// The service (name as written).
    pub service: String,
    /// The rule, as written.
    pub rule: String,
    /// The rule's syntax, when set on the router.
    #[serde(skip)]
    pub rule_syntax: Option<Syntax>,
    /// Priority; 0 means the rule's length (-1 for ``HostSNI(`*`)``).
    #[serde(skip_serializing_if = "is_zero")]
    pub priority: i64,
    /// TLS: terminated here, or passed through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TcpRouterTls>,
    /// Where it is defined, for reports.
    #[serde(skip)]
    pub sources: Vec<String>,
}

fn is_zero(p: &i64) -> bool {
    *p == 0
}

/// A TCP router's TLS section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TcpRouterTls {
    /// Relay the TLS connection as it is (routed by the ClientHello's server name).
    pub passthrough: bool,
    /// The certificate resolver (ACME) for its `HostSNI` names.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cert_resolver: String,
    /// The TLS options, as written (empty: `default`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub options: String,
    /// Names the resolver orders certificates for, besides the rule's.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<Domain>,
}

/// A TCP service: a load balancer over servers, or a weighted choice of services.
#[derive(Debug, Clone, PartialEq)]
pub enum TcpService {
    /// `loadBalancer`.
    LoadBalancer(TcpLoadBalancer),
    /// `weighted.services`.
    Weighted(Vec<WeightedService>),
}

/// A TCP load balancer.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TcpLoadBalancer {
    /// The servers, taken in turn.
    pub servers: Vec<TcpServer>,
    /// `proxyProtocol.version`: a PROXY protocol header (1 or 2) sent to the server first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_protocol: Option<u8>,
    /// `terminationDelay` (ms): how long the other direction may go on once one side has
    /// closed (Traefik's default 100; negative: unlimited).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub termination_delay: Option<i64>,
    /// `serversTransport`: a `tcp.serversTransports` name (empty: the default one).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub servers_transport: String,
    /// `healthCheck`: servers that fail it take no new connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check: Option<TcpHealthCheck>,
}

/// A TCP service's `healthCheck`, as Traefik's: a connection to each server (to `port` when
/// set), `send` written, `expect` read back, every `interval` (`unhealthyInterval` while it
/// is down), each within `timeout`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TcpHealthCheck {
    /// Another port than the server's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Bytes written after connecting.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub send: String,
    /// Bytes the server must answer first.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub expect: String,
    /// Between checks of a healthy server (Traefik's 30 s).
    #[serde(serialize_with = "crate::tree::ser_go_duration")]
    pub interval: std::time::Duration,
    /// Between checks of a server that is down (default: `interval`).
    #[serde(serialize_with = "crate::tree::ser_go_duration")]
    pub unhealthy_interval: std::time::Duration,
    /// For one check (Traefik's 5 s).
    #[serde(serialize_with = "crate::tree::ser_go_duration")]
    pub timeout: std::time::Duration,
}

/// Traefik's `maxPayloadSize` for `send` and `expect`.
const MAX_PAYLOAD: usize = 65_535;

fn health_check(n: &Node) -> Result<Option<TcpHealthCheck>, DecodeError> {
    if !n.section_on()? {
        return Ok(None);
    }
    let mut f = n.fields()?;
    let positive = |node: Option<&Node>, default: std::time::Duration| match node {
        None => Ok(default),
        Some(d) => {
            let v = d.duration()?;
            if v.is_zero() {
                Err(DecodeError::at(
                    d,
                    "expected a duration above 0, such as 10s",
                ))
            } else {
                Ok(v)
            }
        }
    };
    let interval = positive(f.take("interval"), std::time::Duration::from_secs(30))?;
    let unhealthy_interval = positive(f.take("unhealthyInterval"), interval)?;
    let timeout = positive(f.take("timeout"), std::time::Duration::from_secs(5))?;
    let port = match f.take("port") {
        None => None,
        Some(p) => {
            let t = p.text()?;
            Some(
                t.trim()
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| {
                        DecodeError::at(p, format!("expected a port number, got {t:?}"))
                    })?,
            )
        }
    };
    let mut payload = |key: &str| -> Result<String, DecodeError> {
        match f.take(key) {
            None => Ok(String::new()),
            Some(v) => {
                let t = v.text()?.to_owned();
                if t.len() > MAX_PAYLOAD {
                    return Err(DecodeError::at(
                        v,
                        format!("{key} is longer than {MAX_PAYLOAD} bytes"),
                    ));
                }
                Ok(t)
            }
        }
    };
    let send = payload("send")?;
    let expect = payload("expect")?;
    unknown(&f)?;
    Ok(Some(TcpHealthCheck {
        port,
        send,
        expect,
        interval,
        unhealthy_interval,
        timeout,
    }))
}

/// A TCP server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TcpServer {
    /// `host:port`.
    pub address: String,
    /// Connect with TLS (verified as the servers transport's `tls` says).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls: bool,
}

/// A TCP middleware.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcpMiddleware {
    /// `ipAllowList.sourceRange` (and the deprecated `ipWhiteList`): addresses or CIDRs.
    IpAllowList(Vec<String>),
    /// `inFlightConn.amount`: open connections per client address.
    InFlightConn(i64),
}

/// Traefik's shape: `{"loadBalancer": {...}}` or `{"weighted": {"services": [...]}}`.
impl Serialize for TcpService {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let value = match self {
            TcpService::LoadBalancer(lb) => serde_json::json!({ "loadBalancer": lb }),
            TcpService::Weighted(w) => serde_json::json!({ "weighted": { "services": w } }),
        };
        value.serialize(ser)
    }
}

/// Traefik's shape: `{"ipAllowList": {"sourceRange": [...]}}`, `{"inFlightConn": {"amount": n}}`.
impl Serialize for TcpMiddleware {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let value = match self {
            TcpMiddleware::IpAllowList(r) => {
                serde_json::json!({ "ipAllowList": { "sourceRange": r } })
            }
            TcpMiddleware::InFlightConn(n) => {
                serde_json::json!({ "inFlightConn": { "amount": n } })
            }
        };
        value.serialize(ser)
    }
}

/// What a TCP service's `server` label asks for (the provider fills in the address).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TcpLabelServer {
    /// `server.port`.
    pub port: Option<u16>,
    /// `server.tls`.
    pub tls: bool,
}

/// Decodes `tcp` (its `routers`, `services`, `middlewares`) into `out`.
pub fn decode_tcp(node: &Node, source: Source, out: &mut Decoded) {
    let mut f = match node.fields() {
        Ok(f) => f,
        Err(e) => return out.note(e),
    };
    each(
        f.take("routers"),
        out,
        Owner::TcpRouter,
        router,
        |out, name, def| {
            out.config.tcp.routers.insert(name, def);
        },
    );
    let services = |n: &Node| service(n, source);
    each(
        f.take("services"),
        out,
        Owner::TcpService,
        services,
        |out, name, (def, label)| {
            if let Some(l) = label {
                out.tcp_label_servers.insert(name.clone(), l);
            }
            out.config.tcp.services.insert(name, def);
        },
    );
    let middlewares = f.take("middlewares");
    each(
        middlewares,
        out,
        Owner::TcpMiddleware,
        middleware,
        |out, name, def| {
            out.config.tcp.middlewares.insert(name, def);
        },
    );
    if let Some(ts) = f.take("serversTransports") {
        if source == Source::Labels {
            out.note(DecodeError::at(
                ts,
                "serversTransports are defined in files, not labels",
            ));
        } else {
            for t in ts.children() {
                match servers_transport(t) {
                    Ok(def) => {
                        out.config
                            .tcp
                            .servers_transports
                            .insert(t.name.clone(), def);
                    }
                    Err(e) => out.note(e),
                }
            }
        }
    }
    for n in f.rest() {
        out.note(DecodeError::at(n, "unknown key"));
    }
}

/// One `tcp.serversTransports.<name>`.
fn servers_transport(node: &Node) -> Result<TcpServersTransport, DecodeError> {
    let mut f = node.fields()?;
    let mut t = TcpServersTransport::default();
    if let Some(n) = f.take("dialTimeout") {
        t.dial_timeout = Some(n.duration()?).filter(|d| !d.is_zero());
    }
    if let Some(n) = f.take("dialKeepAlive") {
        // TCP keep-alive probes: the router's backend sockets use the system's.
        n.text()?;
    }
    if let Some(n) = f.take("terminationDelay") {
        let text = n.text()?.trim();
        t.termination_delay = Some(match text.strip_prefix('-') {
            Some(_) => -1,
            None => n.duration()?.as_millis().min(i64::MAX as u128) as i64,
        });
    }
    if let Some(p) = f.take("proxyProtocol") {
        t.proxy_protocol = proxy_protocol(p)?;
    }
    if let Some(tls) = f.take("tls") {
        let allowed = [
            "serverName",
            "insecureSkipVerify",
            "rootCAs",
            "certificates",
            "peerCertURI",
            "peerCertSANs",
        ];
        if let Some(bad) = tls
            .children()
            .iter()
            .find(|c| !allowed.iter().any(|a| a.eq_ignore_ascii_case(&c.name)))
        {
            let what = if bad.name.eq_ignore_ascii_case("spiffe") {
                "spiffe is not supported".to_owned()
            } else {
                format!("{} is not a TCP servers transport TLS key", bad.name)
            };
            return Err(DecodeError::at(bad, what));
        }
        t.tls = Some(super::transport::decode(tls)?);
    }
    unknown(&f)?;
    Ok(t)
}

/// `proxyProtocol` (empty or `true`: version 2) and its `version`.
fn proxy_protocol(p: &Node) -> Result<Option<u8>, DecodeError> {
    if !p.section_on()? {
        return Ok(None);
    }
    let mut g = p.fields()?;
    let mut version = 2;
    if let Some(v) = g.take("version") {
        version = match v.integer()? {
            1 => 1,
            2 => 2,
            other => {
                return Err(DecodeError::at(
                    v,
                    format!("PROXY protocol version {other} does not exist (1 or 2)"),
                ))
            }
        };
    }
    unknown(&g)?;
    Ok(Some(version))
}

fn router(node: &Node) -> Result<TcpRouter, DecodeError> {
    let mut f = node.fields()?;
    let mut r = TcpRouter::default();
    if let Some(n) = f.take("entryPoints") {
        r.entry_points = n.strings()?;
    }
    if let Some(n) = f.take("middlewares") {
        r.middlewares = n.strings()?;
    }
    if let Some(n) = f.take("service") {
        r.service = n.text()?.trim().to_owned();
    }
    if let Some(n) = f.take("rule") {
        r.rule = n.text()?.to_owned();
    }
    if let Some(n) = f.take("ruleSyntax") {
        r.rule_syntax = decode::rule_syntax(n)?;
    }
    if let Some(n) = f.take("priority") {
        r.priority = n.integer()?;
    }
    if let Some(n) = f.take("tls") {
        r.tls = router_tls(n)?;
    }
    unknown(&f)?;
    Ok(r)
}

fn router_tls(n: &Node) -> Result<Option<TcpRouterTls>, DecodeError> {
    if !n.section_on()? {
        return Ok(None);
    }
    let mut f = n.fields()?;
    let mut tls = TcpRouterTls::default();
    if let Some(p) = f.take("passthrough") {
        tls.passthrough = p.boolean()?;
    }
    if let Some(c) = f.take("certResolver") {
        tls.cert_resolver = c.text()?.trim().to_owned();
    }
    if let Some(o) = f.take("options") {
        tls.options = o.text()?.trim().to_owned();
    }
    if let Some(d) = f.take("domains") {
        tls.domains = super::tls::domains(d)?;
    }
    unknown(&f)?;
    Ok(Some(tls))
}

fn service(
    node: &Node,
    source: Source,
) -> Result<(TcpService, Option<TcpLabelServer>), DecodeError> {
    let mut f = node.fields()?;
    if node.children().len() > 1 {
        let kinds: Vec<&str> = node.children().iter().map(|n| n.name.as_str()).collect();
        return Err(DecodeError::at(
            node,
            format!("a service has exactly one type, found {}", kinds.join(", ")),
        ));
    }
    if let Some(w) = f.take("weighted") {
        if source == Source::Labels {
            return Err(DecodeError::at(
                w,
                "weighted TCP services are defined in files, not labels",
            ));
        }
        return Ok((TcpService::Weighted(weighted(w)?), None));
    }
    let Some(lb) = f.take("loadBalancer") else {
        return Err(match f.rest().first() {
            Some(n) => DecodeError::at(n, format!("{} is not supported", n.name)),
            None => DecodeError::at(node, "a service needs a loadBalancer"),
        });
    };
    let mut f = lb.fields()?;
    let mut out = TcpLoadBalancer::default();
    let label;
    (label, out.servers) = decode::servers(&mut f, source, label_server, file_server)?;
    if let Some(p) = f.take("proxyProtocol") {
        out.proxy_protocol = proxy_protocol(p)?;
    }
    if let Some(t) = f.take("terminationDelay") {
        out.termination_delay = Some(t.integer()?);
    }
    if let Some(n) = f.take("serversTransport") {
        out.servers_transport = n.text()?.trim().to_owned();
    }
    if let Some(n) = f.take("healthCheck") {
        out.health_check = health_check(n)?;
    }
    unknown(&f)?;
    Ok((TcpService::LoadBalancer(out), label))
}

fn label_server(s: &Node) -> Result<TcpLabelServer, DecodeError> {
    let mut f = s.fields()?;
    let mut out = TcpLabelServer::default();
    if let Some(p) = f.take("port") {
        out.port = decode::label_port(p)?;
    }
    if let Some(t) = f.take("tls") {
        out.tls = t.boolean()?;
    }
    unknown(&f)?;
    Ok(out)
}

fn file_server(item: &Node) -> Result<TcpServer, DecodeError> {
    let mut f = item.fields()?;
    let address = f
        .take("address")
        .ok_or_else(|| DecodeError::at(item, "a TCP server needs an address (host:port)"))?;
    let text = address.text()?.trim().to_owned();
    if !valid_address(&text) {
        return Err(DecodeError::at(
            address,
            format!("expected host:port, got {text:?}"),
        ));
    }
    let tls = match f.take("tls") {
        Some(t) => t.boolean()?,
        None => false,
    };
    unknown(&f)?;
    Ok(TcpServer { address: text, tls })
}

/// `host:port` or `[v6]:port`, with a port.
pub fn valid_address(a: &str) -> bool {
    let Some((host, port)) = a.rsplit_once(':') else {
        return false;
    };
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    !host.is_empty() && !host.contains(char::is_whitespace) && port.parse::<u16>().is_ok()
}

pub(super) fn weighted(node: &Node) -> Result<Vec<WeightedService>, DecodeError> {
    let mut f = node.fields()?;
    let list = f
        .take("services")
        .ok_or_else(|| DecodeError::at(node, "a weighted service needs services"))?;
    if let Some(h) = f.take("healthCheck") {
        return Err(DecodeError::at(
            h,
            "healthCheck on a weighted TCP service is not supported yet",
        ));
    }
    unknown(&f)?;
    let mut services = Vec::new();
    for item in list.items()? {
        let mut g = item.fields()?;
        let name = g
            .take("name")
            .ok_or_else(|| DecodeError::at(item, "a weighted service's service needs a name"))?
            .text()?
            .trim()
            .to_owned();
        let weight = match g.take("weight") {
            None => 1,
            Some(w) => decode::weight(w)?,
        };
        unknown(&g)?;
        if name.is_empty() {
            return Err(DecodeError::at(
                item,
                "a weighted service's service needs a name",
            ));
        }
        services.push(WeightedService { name, weight });
    }
    if services.is_empty() {
        return Err(DecodeError::at(list, "a weighted service needs services"));
    }
    Ok(services)
}

fn middleware(node: &Node) -> Result<TcpMiddleware, DecodeError> {
    let kinds = node.children();
    if kinds.len() != 1 {
        return Err(DecodeError::at(node, "a middleware has exactly one type"));
    }
    let kind = &kinds[0];
    let mut f = kind.fields()?;
    let out = match kind.name.to_ascii_lowercase().as_str() {
        "ipallowlist" | "ipwhitelist" => {
            // As Traefik's: no range is an error ("sourceRange is empty"), not a middleware
            // that closes every connection.
            let ranges = match f.take("sourceRange") {
                Some(r) => r.strings()?,
                None => Vec::new(),
            };
            if ranges.is_empty() {
                return Err(DecodeError::at(
                    kind,
                    format!(
                        "{} needs at least one address or CIDR in sourceRange",
                        kind.name
                    ),
                ));
            }
            for r in &ranges {
                crate::model::rule::matcher::client_ips(std::slice::from_ref(r))
                    .map_err(|e| DecodeError::at(kind, e))?;
            }
            TcpMiddleware::IpAllowList(ranges)
        }
        "inflightconn" => {
            let amount = match f.take("amount") {
                Some(a) => a.integer()?,
                None => 0,
            };
            TcpMiddleware::InFlightConn(amount)
        }
        other => {
            return Err(DecodeError::at(
                kind,
                format!("TCP middleware type {other:?} does not exist (ipAllowList, inFlightConn)"),
            ))
        }
    };
    unknown(&f)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::dynamic::decode::tests::labels;

    #[test]
    fn labels_decode_into_routers_services_and_middlewares() {
        let d = labels(&[
            ("traefik.tcp.routers.db.rule", "HostSNI(`db.example.com`)"),
            ("traefik.tcp.routers.db.entrypoints", "websecure,pg"),
            ("traefik.tcp.routers.db.tls.passthrough", "true"),
            ("traefik.tcp.routers.db.middlewares", "lan"),
            ("traefik.tcp.services.db.loadbalancer.server.port", "5432"),
            (
                "traefik.tcp.services.db.loadbalancer.proxyprotocol.version",
                "1",
            ),
            (
                "traefik.tcp.services.db.loadbalancer.healthcheck.interval",
                "10s",
            ),
            (
                "traefik.tcp.services.db.loadbalancer.healthcheck.send",
                "PING",
            ),
            (
                "traefik.tcp.services.db.loadbalancer.healthcheck.expect",
                "PONG",
            ),
            (
                "traefik.tcp.middlewares.lan.ipallowlist.sourcerange",
                "10.0.0.0/8, 192.168.1.7",
            ),
        ]);
        assert!(d.errors.is_empty(), "{:?}", d.errors);
        let r = &d.config.tcp.routers["db"];
        assert_eq!(r.entry_points, ["websecure", "pg"]);
        assert!(r.tls.as_ref().unwrap().passthrough);
        assert_eq!(d.tcp_label_servers["db"].port, Some(5432));
        let TcpService::LoadBalancer(lb) = &d.config.tcp.services["db"] else {
            panic!()
        };
        assert_eq!(lb.proxy_protocol, Some(1));
        let hc = lb.health_check.as_ref().unwrap();
        assert_eq!(
            (hc.interval, hc.unhealthy_interval, hc.timeout),
            (
                std::time::Duration::from_secs(10),
                std::time::Duration::from_secs(10),
                std::time::Duration::from_secs(5)
            )
        );
        assert_eq!(
            (hc.send.as_str(), hc.expect.as_str(), hc.port),
            ("PING", "PONG", None)
        );
        assert_eq!(
            d.config.tcp.middlewares["lan"],
            TcpMiddleware::IpAllowList(vec!["10.0.0.0/8".into(), "192.168.1.7".into()])
        );
    }

    #[test]
    fn tls_true_and_an_empty_proxy_protocol_take_their_defaults() {
        let d = labels(&[
            ("traefik.tcp.routers.a.tls", "true"),
            ("traefik.tcp.services.a.loadbalancer.proxyprotocol", "true"),
        ]);
        assert!(d.errors.is_empty(), "{:?}", d.errors);
        assert_eq!(d.config.tcp.routers["a"].tls, Some(TcpRouterTls::default()));
        let TcpService::LoadBalancer(lb) = &d.config.tcp.services["a"] else {
            panic!()
        };
        assert_eq!(lb.proxy_protocol, Some(2));
    }

    #[test]
    fn errors_disable_their_element_only() {
        let d = labels(&[
            ("traefik.tcp.routers.a.rule", "HostSNI(`*`)"),
            ("traefik.tcp.routers.b.priority", "high"),
            ("traefik.tcp.services.s.loadbalancer.server.port", "0"),
            (
                "traefik.tcp.services.t.loadbalancer.proxyprotocol.version",
                "3",
            ),
            (
                "traefik.tcp.services.u.loadbalancer.healthcheck.interval",
                "0s",
            ),
            ("traefik.tcp.middlewares.m.ratelimit.average", "1"),
        ]);
        assert!(d.config.tcp.routers.contains_key("a"));
        let owners: Vec<&Owner> = d.errors.iter().map(|e| &e.owner).collect();
        assert_eq!(
            owners,
            [
                &Owner::TcpRouter("b".into()),
                &Owner::TcpService("s".into()),
                &Owner::TcpService("t".into()),
                &Owner::TcpService("u".into()),
                &Owner::TcpMiddleware("m".into()),
            ]
        );
    }

    #[test]
    fn files_define_servers_transports_that_load_balancers_name() {
        let yaml = "tcp:\n  services:\n    s:\n      loadBalancer:\n        serversTransport: t\n        servers:\n          - address: db:5432\n            tls: true\n  serversTransports:\n    t:\n      dialTimeout: 2s\n      terminationDelay: 50ms\n      proxyProtocol: {version: 1}\n      tls:\n        serverName: db.test\n        insecureSkipVerify: true\n    bad:\n      tls:\n        spiffe: {ids: [x]}\n";
        let root = Node::from_yaml(yaml, "").unwrap();
        let d = decode::decode(&root, Source::File);
        let TcpService::LoadBalancer(lb) = &d.config.tcp.services["s"] else {
            panic!()
        };
        assert_eq!(lb.servers_transport, "t");
        assert!(lb.servers[0].tls);
        let t = &d.config.tcp.servers_transports["t"];
        assert_eq!(t.dial_timeout, Some(std::time::Duration::from_secs(2)));
        assert_eq!((t.termination_delay, t.proxy_protocol), (Some(50), Some(1)));
        let tls = t.tls.as_ref().unwrap();
        assert_eq!(tls.server_name, "db.test");
        assert!(tls.insecure_skip_verify);
        // SPIFFE is refused, by key.
        assert!(!d.config.tcp.servers_transports.contains_key("bad"));
        assert!(
            d.errors.iter().any(|e| e.error.key.contains("spiffe")),
            "{:?}",
            d.errors
        );
    }

    #[test]
    fn addresses() {
        assert!(valid_address("10.0.0.1:5432"));
        assert!(valid_address("db:5432"));
        assert!(valid_address("[::1]:80"));
        assert!(!valid_address("db"));
        assert!(!valid_address(":80"));
        assert!(!valid_address("db:http"));
    }
}
