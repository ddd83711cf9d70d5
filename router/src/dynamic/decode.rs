//! A configuration tree -> [`Configuration`], as Traefik decodes labels and dynamic files.
//!
//! Total and contained: every key lands in the model, or is an error of the router, service
//! or middleware it belongs to (which is then left out, so whatever uses it is disabled), or
//! of the source as a whole. Nothing is dropped silently.

use std::time::Duration;

use super::{
    middleware, Configuration, HealthCheck, LoadBalancer, Router, RouterTls, Server, Service,
};
use crate::model::rule::Syntax;
use crate::tree::{DecodeError, Node};

/// What an error disables.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Owner {
    /// A router.
    Router(String),
    /// A service.
    Service(String),
    /// A middleware.
    Middleware(String),
    /// A set of TLS options.
    TlsOptions(String),
    /// A TCP router.
    TcpRouter(String),
    /// A TCP service.
    TcpService(String),
    /// A TCP middleware.
    TcpMiddleware(String),
    /// A UDP router.
    UdpRouter(String),
    /// A UDP service.
    UdpService(String),
    /// Nothing in particular: the key is not supported and has no effect.
    Unsupported,
}

impl Owner {
    /// An error's level and what it does to its owner, for the issue that reports it.
    pub fn consequence(&self) -> (&'static str, String) {
        match self {
            Owner::Router(n) => ("error", format!("router {n:?} disabled")),
            Owner::Service(n) => ("error", format!("service {n:?} disabled")),
            Owner::Middleware(n) => ("error", format!("middleware {n:?} disabled")),
            Owner::TlsOptions(n) => (
                "error",
                format!("TLS options {n:?} disabled (and the routers that use them)"),
            ),
            Owner::TcpRouter(n) => ("error", format!("TCP router {n:?} disabled")),
            Owner::TcpService(n) => ("error", format!("TCP service {n:?} disabled")),
            Owner::TcpMiddleware(n) => ("error", format!("TCP middleware {n:?} disabled")),
            Owner::UdpRouter(n) => ("error", format!("UDP router {n:?} disabled")),
            Owner::UdpService(n) => ("error", format!("UDP service {n:?} disabled")),
            Owner::Unsupported => ("unsupported", "ignored".to_owned()),
        }
    }
}

/// An error and what it disables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementError {
    /// What it disables.
    pub owner: Owner,
    /// The key and what is wrong.
    pub error: DecodeError,
}

/// How labels differ from files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Container labels: a service's server is `loadBalancer.server.{port,scheme,url}`.
    Labels,
    /// Dynamic files: servers are `loadBalancer.servers[].url`; TLS certificates.
    File,
}

/// What a server of a label-defined service asks for (the provider fills in the address).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelServer {
    /// `server.port`.
    pub port: Option<u16>,
    /// `server.scheme`: `http` (default) or `https`.
    pub scheme: Option<String>,
    /// `server.url`: a fixed URL instead of the container's address.
    pub url: Option<String>,
    /// The path of `server.url` (escaped; empty without one).
    pub path: String,
    /// `server.preservePath`.
    pub preserve_path: bool,
    /// `server.url` as written (see [`Server::written`]).
    pub written: String,
    /// `server.weight`.
    pub weight: Option<u32>,
}

/// The decoded configuration, the label servers of its services, and the errors.
#[derive(Debug, Clone, Default)]
pub struct Decoded {
    /// The configuration, broken elements left out.
    pub config: Configuration,
    /// For labels: each service's `server.*` settings.
    pub label_servers: std::collections::BTreeMap<String, LabelServer>,
    /// For labels: each TCP service's `server.*` settings.
    pub tcp_label_servers: std::collections::BTreeMap<String, super::tcp::TcpLabelServer>,
    /// For labels: each UDP service's `server.port`.
    pub udp_label_ports: std::collections::BTreeMap<String, u16>,
    /// The errors, by owner.
    pub errors: Vec<ElementError>,
}

impl Decoded {
    pub(super) fn error(&mut self, owner: Owner, error: DecodeError) {
        self.errors.push(ElementError { owner, error });
    }

    /// Something known but left out, that leaves its element working.
    pub(super) fn note(&mut self, error: DecodeError) {
        self.error(Owner::Unsupported, error);
    }
}

/// Decodes each child of `parent` with `decode` and hands it to `keep`; a child that fails
/// is an error of `owner(its name)`, which leaves it out.
pub(super) fn each<T>(
    parent: Option<&Node>,
    out: &mut Decoded,
    owner: fn(String) -> Owner,
    decode: impl Fn(&Node) -> Result<T, DecodeError>,
    mut keep: impl FnMut(&mut Decoded, String, T),
) {
    for n in parent.map_or(&[][..], Node::children) {
        match decode(n) {
            Ok(def) => keep(out, n.name.clone(), def),
            Err(e) => out.error(owner(n.name.clone()), e),
        }
    }
}

/// The elements a decoding left out, with why.
pub fn broken(d: &Decoded) -> Vec<super::Broken> {
    d.errors
        .iter()
        .filter_map(|e| {
            let (kind, name) = match &e.owner {
                Owner::Router(n) => ("router", n),
                Owner::Service(n) => ("service", n),
                Owner::Middleware(n) => ("middleware", n),
                Owner::TlsOptions(n) => ("tlsOptions", n),
                Owner::TcpRouter(n) => ("tcpRouter", n),
                Owner::TcpService(n) => ("tcpService", n),
                Owner::TcpMiddleware(n) => ("tcpMiddleware", n),
                Owner::UdpRouter(n) => ("udpRouter", n),
                Owner::UdpService(n) => ("udpService", n),
                Owner::Unsupported => return None,
            };
            Some(super::Broken {
                kind,
                name: name.clone(),
                error: e.error.to_string(),
            })
        })
        .collect()
}

/// Decodes the dynamic configuration under `root` (its children `http`, `tls`, `tcp`, `udp`).
pub fn decode(root: &Node, source: Source) -> Decoded {
    let mut out = Decoded::default();
    let mut f = match root.fields() {
        Ok(f) => f,
        Err(e) => {
            out.error(Owner::Unsupported, e);
            return out;
        }
    };
    if let Some(http) = f.take("http") {
        decode_http(http, source, &mut out);
    }
    if let Some(tls) = f.take("tls") {
        match source {
            Source::File => super::tls::decode_tls(tls, &mut out),
            Source::Labels => out.error(
                Owner::Unsupported,
                DecodeError::at(tls, "TLS certificates and options are not read from labels"),
            ),
        }
    }
    if let Some(tcp) = f.take("tcp") {
        super::tcp::decode_tcp(tcp, source, &mut out);
    }
    if let Some(udp) = f.take("udp") {
        super::udp::decode_udp(udp, source, &mut out);
    }
    for n in f.rest() {
        out.error(Owner::Unsupported, DecodeError::at(n, "unknown key"));
    }
    out
}

fn decode_http(http: &Node, source: Source, out: &mut Decoded) {
    let mut f = match http.fields() {
        Ok(f) => f,
        Err(e) => return out.error(Owner::Unsupported, e),
    };
    each(
        f.take("routers"),
        out,
        Owner::Router,
        router,
        |out, name, def| {
            out.config.http.routers.insert(name, def.into());
        },
    );
    let services = |n: &Node| service(n, source);
    each(
        f.take("services"),
        out,
        Owner::Service,
        services,
        |out, name, (def, label)| {
            if let Some(l) = label {
                out.label_servers.insert(name.clone(), l);
            }
            out.config.http.services.insert(name, def.into());
        },
    );
    if let Some(middlewares) = f.take("middlewares") {
        for m in middlewares.children() {
            match middleware::decode(m) {
                Ok(Some(def)) => {
                    out.config
                        .http
                        .middlewares
                        .insert(m.name.clone(), def.into());
                }
                Ok(None) => {
                    let kind = m.children().first().map_or("", |k| k.name.as_str());
                    out.error(
                        Owner::Middleware(m.name.clone()),
                        DecodeError::at(
                            m,
                            format!("middleware type {kind:?} is not supported yet"),
                        ),
                    );
                }
                Err(e) => out.error(Owner::Middleware(m.name.clone()), e),
            }
        }
    }
    if let Some(ts) = f.take("serversTransports") {
        if source == Source::Labels {
            // As in Traefik: defined in files, named from labels.
            out.error(
                Owner::Unsupported,
                DecodeError::at(ts, "serversTransports are defined in files (or the static serversTransport), not labels"),
            );
        } else {
            for t in ts.children() {
                match super::transport::decode(t) {
                    Ok(def) => {
                        out.config
                            .http
                            .servers_transports
                            .insert(t.name.clone(), def);
                    }
                    Err(e) => out.error(Owner::Unsupported, e),
                }
            }
        }
    }
    for n in f.rest() {
        out.error(Owner::Unsupported, DecodeError::at(n, "unknown key"));
    }
}

pub(super) fn unknown(f: &crate::tree::Fields<'_>) -> Result<(), DecodeError> {
    match f.rest().first() {
        Some(n) => Err(DecodeError::at(n, format!("{} is not supported", n.name))),
        None => Ok(()),
    }
}

/// A router.
fn router(node: &Node) -> Result<Router, DecodeError> {
    let mut f = node.fields()?;
    let mut r = Router::default();
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
        r.rule_key = Some(n.key.clone());
    }
    if let Some(n) = f.take("ruleSyntax") {
        r.rule_syntax = rule_syntax(n)?;
    }
    if let Some(n) = f.take("priority") {
        r.priority = n.integer()?;
    }
    if let Some(n) = f.take("tls") {
        r.tls = router_tls(n)?;
    }
    if let Some(n) = f.take("observability") {
        let mut o = n.fields()?;
        if let Some(a) = o.take("accessLogs") {
            r.access_logs = Some(a.boolean()?);
        }
        for key in ["metrics", "tracing"] {
            if let Some(m) = o.take(key) {
                // Metrics are always counted; there is no tracing to turn off.
                m.boolean()?;
            }
        }
        unknown(&o)?;
    }
    unknown(&f)?;
    Ok(r)
}

/// A router's `ruleSyntax`: `v2`, `v3`, or `default`/empty (the static default).
pub(super) fn rule_syntax(n: &Node) -> Result<Option<Syntax>, DecodeError> {
    let v = n.text()?;
    Ok(match v.trim().to_ascii_lowercase().as_str() {
        "" | "default" => None,
        s => {
            Some(Syntax::from_name(s).ok_or_else(|| {
                DecodeError::at(n, format!("expected v2, v3 or default, got {v:?}"))
            })?)
        }
    })
}

fn router_tls(n: &Node) -> Result<Option<RouterTls>, DecodeError> {
    if !n.section_on()? {
        return Ok(None);
    }
    let mut f = n.fields()?;
    let mut tls = RouterTls::default();
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

fn service(node: &Node, source: Source) -> Result<(Service, Option<LabelServer>), DecodeError> {
    let mut f = node.fields()?;
    let kinds: Vec<&str> = node.children().iter().map(|n| n.name.as_str()).collect();
    if kinds.len() > 1 {
        return Err(DecodeError::at(
            node,
            format!("a service has exactly one type, found {}", kinds.join(", ")),
        ));
    }
    if let Some(w) = f.take("weighted") {
        return Ok((
            Service {
                weighted: Some(weighted(w)?),
                ..Service::default()
            },
            None,
        ));
    }
    if let Some(m) = f.take("mirroring") {
        return Ok((
            Service {
                mirroring: Some(mirroring(m)?),
                ..Service::default()
            },
            None,
        ));
    }
    if let Some(w) = f.take("failover") {
        return Ok((
            Service {
                failover: Some(failover(w)?),
                ..Service::default()
            },
            None,
        ));
    }
    let Some(lb) = f.take("loadBalancer") else {
        return Err(match f.rest().first() {
            Some(n) => DecodeError::at(n, format!("{} is not supported", n.name)),
            None => DecodeError::at(node, "a service needs a loadBalancer"),
        });
    };
    unknown(&f)?;
    let mut f = lb.fields()?;
    let mut out = LoadBalancer::default();
    let label_server;
    (label_server, out.servers) = servers(&mut f, source, server_label, server_file)?;
    if let Some(h) = f.take("healthCheck") {
        out.health_check = Some(health_check(h)?);
    }
    if let Some(p) = f.take("passHostHeader") {
        out.pass_host_header = p.boolean()?;
    }
    if let Some(t) = f.take("serversTransport") {
        out.servers_transport = t.text()?.trim().to_owned();
    }
    if let Some(s) = f.take("sticky") {
        out.sticky = super::sticky::decode(s)?;
    }
    if let Some(r) = f.take("responseForwarding") {
        response_forwarding(r)?;
    }
    if let Some(st) = f.take("strategy") {
        out.strategy = strategy(st)?;
    }
    unknown(&f)?;
    Ok((
        Service {
            load_balancer: out,
            ..Service::default()
        },
        label_server,
    ))
}

/// `responseForwarding.flushInterval`, checked: the router writes each piece of an answer
/// to the client as it comes from the server (what Traefik does with a negative interval), so
/// any interval is met.
fn response_forwarding(node: &Node) -> Result<(), DecodeError> {
    let mut f = node.fields()?;
    if let Some(n) = f.take("flushInterval") {
        let t = n.text()?.trim();
        // Go durations may be negative ("-1ms", "-1": flush at once).
        let positive = t.strip_prefix('-').unwrap_or(t);
        if crate::tree::parse_go_duration(positive).is_none() {
            return Err(DecodeError::at(
                n,
                format!("expected a duration such as 100ms, got {t:?}"),
            ));
        }
    }
    unknown(&f)
}

/// `loadBalancer.strategy`: `wrr` (Traefik's default, written or empty), `p2c`, `hrw` or
/// `leasttime`; any other value is Traefik's error too (its names are exact, lower case).
fn strategy(node: &Node) -> Result<super::Strategy, DecodeError> {
    use super::Strategy;
    match node.text()?.trim() {
        "" | "wrr" => Ok(Strategy::Wrr),
        "p2c" => Ok(Strategy::P2c),
        "hrw" => Ok(Strategy::Hrw),
        "leasttime" => Ok(Strategy::LeastTime),
        s => Err(DecodeError::at(
            node,
            format!("unsupported load-balancer strategy {s:?}"),
        )),
    }
}

/// `healthCheck: {}` of a `weighted` or `failover` service (it has no options).
fn composite_health(f: &mut crate::tree::Fields<'_>) -> Result<bool, DecodeError> {
    match f.take("healthCheck") {
        None => Ok(false),
        Some(h) => {
            let g = h.fields()?;
            unknown(&g)?;
            Ok(true)
        }
    }
}

fn weighted(node: &Node) -> Result<super::Weighted, DecodeError> {
    let mut f = node.fields()?;
    let health_check = composite_health(&mut f)?;
    let sticky = match f.take("sticky") {
        Some(s) => super::sticky::decode(s)?,
        None => None,
    };
    let list = f
        .take("services")
        .ok_or_else(|| DecodeError::at(node, "a weighted service needs services"))?;
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
            Some(w) => weight(w)?,
        };
        if let Some(st) = g.take("status").or_else(|| g.take("grpcStatus")) {
            return Err(DecodeError::at(
                st,
                format!("{} is not supported yet", st.name),
            ));
        }
        unknown(&g)?;
        if name.is_empty() {
            return Err(DecodeError::at(
                item,
                "a weighted service's service needs a name",
            ));
        }
        services.push(super::WeightedService { name, weight });
    }
    if services.is_empty() {
        return Err(DecodeError::at(list, "a weighted service needs services"));
    }
    Ok(super::Weighted {
        services,
        health_check,
        sticky,
    })
}

fn mirroring(node: &Node) -> Result<super::Mirroring, DecodeError> {
    let mut f = node.fields()?;
    let health_check = composite_health(&mut f)?;
    let service = f
        .take("service")
        .ok_or_else(|| DecodeError::at(node, "a mirroring service needs service"))?
        .text()?
        .trim()
        .to_owned();
    if service.is_empty() {
        return Err(DecodeError::at(node, "a mirroring service needs service"));
    }
    let mirror_body = f
        .take("mirrorBody")
        .map(Node::boolean)
        .transpose()?
        .unwrap_or(true);
    let max_body_size = f
        .take("maxBodySize")
        .map(Node::integer)
        .transpose()?
        .unwrap_or(-1);
    let mut mirrors = Vec::new();
    if let Some(list) = f.take("mirrors") {
        for item in list.items()? {
            let mut g = item.fields()?;
            let name = g
                .take("name")
                .ok_or_else(|| DecodeError::at(item, "a mirror needs a name"))?
                .text()?
                .trim()
                .to_owned();
            let percent = match g.take("percent") {
                None => 0,
                Some(p) => {
                    let v = p.integer()?;
                    u32::try_from(v).ok().filter(|v| *v <= 100).ok_or_else(|| {
                        DecodeError::at(p, format!("percent must be between 0 and 100, got {v}"))
                    })?
                }
            };
            unknown(&g)?;
            if name.is_empty() {
                return Err(DecodeError::at(item, "a mirror needs a name"));
            }
            mirrors.push(super::Mirror { name, percent });
        }
    }
    unknown(&f)?;
    Ok(super::Mirroring {
        service,
        mirrors,
        mirror_body,
        max_body_size,
        health_check,
    })
}

fn failover(node: &Node) -> Result<super::Failover, DecodeError> {
    let mut f = node.fields()?;
    let health_check = composite_health(&mut f)?;
    let mut name = |key: &str| -> Result<String, DecodeError> {
        let n = f
            .take(key)
            .ok_or_else(|| DecodeError::at(node, format!("a failover service needs {key}")))?;
        let t = n.text()?.trim().to_owned();
        if t.is_empty() {
            return Err(DecodeError::at(n, format!("{key} is empty")));
        }
        Ok(t)
    };
    let service = name("service")?;
    let fallback = name("fallback")?;
    let errors = f.take("errors").map(failover_errors).transpose()?;
    unknown(&f)?;
    Ok(super::Failover {
        service,
        fallback,
        health_check,
        errors,
    })
}

/// `failover.errors`: `status` ranges (none: no failover on answers) and
/// `maxRequestBodyBytes` (negative: Traefik's unlimited).
fn failover_errors(node: &Node) -> Result<super::FailoverErrors, DecodeError> {
    let mut f = node.fields()?;
    let status = f
        .take("status")
        .map(super::middleware::errors::status_ranges)
        .transpose()?
        .unwrap_or_default();
    let max_request_body_bytes = match f.take("maxRequestBodyBytes") {
        None => None,
        Some(n) => u64::try_from(n.integer()?).ok(),
    };
    unknown(&f)?;
    Ok(super::FailoverErrors {
        status,
        max_request_body_bytes,
    })
}

/// A server's or service's weight: Traefik ignores what is not positive (never picked).
pub(super) fn weight(w: &Node) -> Result<u32, DecodeError> {
    let v = w.integer()?;
    Ok(u32::try_from(v.max(0)).unwrap_or(u32::MAX))
}

/// A load balancer's servers (HTTP or TCP) as its source writes them: labels give one
/// `server` that the provider completes per container (`servers` is an error there), a file
/// lists `servers`.
pub fn servers<'a, L, S>(
    f: &mut crate::tree::Fields<'a>,
    source: Source,
    label: impl Fn(&'a Node) -> Result<L, DecodeError>,
    file: impl Fn(&'a Node) -> Result<S, DecodeError>,
) -> Result<(Option<L>, Vec<S>), DecodeError> {
    let mut from_label = None;
    let mut listed = Vec::new();
    match source {
        Source::Labels => {
            if let Some(s) = f.take("server") {
                from_label = Some(label(s)?);
            }
            if let Some(s) = f.take("servers") {
                return Err(DecodeError::at(
                    s,
                    "servers are set with server.port (labels)",
                ));
            }
        }
        Source::File => {
            if let Some(s) = f.take("servers") {
                for item in s.items()? {
                    listed.push(file(item)?);
                }
            }
        }
    }
    Ok((from_label, listed))
}

fn server_label(s: &Node) -> Result<LabelServer, DecodeError> {
    let mut f = s.fields()?;
    let mut out = LabelServer::default();
    if let Some(p) = f.take("port") {
        out.port = label_port(p)?;
    }
    if let Some(sc) = f.take("scheme") {
        match sc.text()?.trim().to_ascii_lowercase().as_str() {
            // As in Traefik: an empty scheme is http.
            "" => {}
            s @ ("http" | "https" | "h2c") => out.scheme = Some(s.into()),
            other => {
                return Err(DecodeError::at(
                    sc,
                    format!("scheme {other:?} is not supported (http, https or h2c)"),
                ))
            }
        }
    }
    if let Some(p) = f.take("preservePath") {
        out.preserve_path = p.boolean()?;
    }
    // As in Traefik: an empty url is unset (the container's address is used).
    if let Some(u) = f
        .take("url")
        .filter(|u| u.text().map_or(true, |t| !t.trim().is_empty()))
    {
        let (url, path) = server_url(u)?;
        out.url = Some(url);
        out.path = path;
        out.written = u.text()?.trim().to_owned();
        if out.port.is_some() || out.scheme.is_some() {
            return Err(DecodeError::at(
                u,
                "defining scheme or port is not allowed when url is defined",
            ));
        }
    }
    if let Some(w) = f.take("weight") {
        out.weight = Some(weight(w)?);
    }
    unknown(&f)?;
    Ok(out)
}

/// A label server's `port`: a port number, or nothing when empty (Traefik's empty port is
/// unset: the container's own port is used).
pub(super) fn label_port(p: &Node) -> Result<Option<u16>, DecodeError> {
    let t = p.text()?.trim();
    if t.is_empty() {
        return Ok(None);
    }
    t.parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .map(Some)
        .ok_or_else(|| DecodeError::at(p, format!("expected a port number, got {t:?}")))
}

fn server_file(item: &Node) -> Result<Server, DecodeError> {
    let mut f = item.fields()?;
    let u = f
        .take("url")
        .ok_or_else(|| DecodeError::at(item, "a server needs a url"))?;
    let (url, path) = server_url(u)?;
    let weight = f.take("weight").map(weight).transpose()?.unwrap_or(1);
    let preserve_path = f
        .take("preservePath")
        .map(Node::boolean)
        .transpose()?
        .unwrap_or(false);
    unknown(&f)?;
    Ok(Server {
        url,
        weight,
        status: super::ServerStatus::Ready,
        origin: None,
        path,
        preserve_path,
        written: u.text()?.trim().to_owned(),
    })
}

/// A server URL: `http://host[:port][/path]` or `https://...` (default ports 80 and 443),
/// written back with the port, and its path apart (escaped as written; used only with
/// `preservePath`, as in Traefik). A query, a fragment or credentials are refused: Traefik
/// would drop them, and a request never carries them.
fn server_url(n: &Node) -> Result<(String, String), DecodeError> {
    let raw = n.text()?.trim();
    let (scheme, rest) = match raw.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => ("http", rest),
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => ("https", rest),
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("h2c") => ("h2c", rest),
        Some((scheme, _)) => {
            return Err(DecodeError::at(
                n,
                format!("scheme {scheme:?} is not supported (http, https or h2c)"),
            ))
        }
        None => {
            return Err(DecodeError::at(
                n,
                format!("expected a URL such as http://host:port, got {raw:?}"),
            ))
        }
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if let Some((_, after)) = authority.rsplit_once('@') {
        // Not echoed: what comes before `@` is a password, and errors are logged.
        return Err(DecodeError::at(
            n,
            format!("credentials in a server URL are not supported, got {scheme}://…@{after}"),
        ));
    }
    if authority.is_empty() || authority.contains(['?', '#', '@', ' ']) {
        return Err(DecodeError::at(
            n,
            format!("expected http://host:port, got {raw:?}"),
        ));
    }
    if !is_url_path(path) {
        return Err(DecodeError::at(
            n,
            format!("expected a URL path without a query or fragment, got {path:?} in {raw:?}"),
        ));
    }
    let (host, port) = split_host_port(authority)
        .ok_or_else(|| DecodeError::at(n, format!("invalid host or port in {raw:?}")))?;
    let port = if scheme == "https" && !has_port(authority) {
        443
    } else {
        port
    };
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    };
    Ok((format!("{scheme}://{host}:{port}"), path.to_owned()))
}

/// Whether `path` is empty or a path a request target may carry: visible ASCII only, no
/// query or fragment, every `%` followed by two hex digits (Go's url.Parse refuses a bad
/// escape).
fn is_url_path(path: &str) -> bool {
    let b = path.as_bytes();
    path.is_empty()
        || (b[0] == b'/'
            && b.iter().enumerate().all(|(i, &c)| {
                c.is_ascii_graphic()
                    && c != b'?'
                    && c != b'#'
                    && (c != b'%'
                        || b.get(i + 1..i + 3)
                            .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)))
            }))
}

/// Whether `host:port` names a port.
fn has_port(authority: &str) -> bool {
    match authority.rsplit_once(']') {
        Some((_, after)) => after.starts_with(':'),
        None => authority.contains(':'),
    }
}

/// `host:port`, `[v6]:port`, or a bare host (port 80).
pub fn split_host_port(authority: &str) -> Option<(String, u16)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        h.parse::<std::net::Ipv6Addr>().ok()?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok().filter(|p| *p > 0)?,
            None if after.is_empty() => 80,
            None => return None,
        };
        return Some((h.to_owned(), port));
    }
    let (h, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().ok().filter(|p| *p > 0)?),
        None => (authority, 80),
    };
    let ok = !h.is_empty()
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    ok.then(|| (h.to_owned(), port))
}

fn health_check(h: &Node) -> Result<HealthCheck, DecodeError> {
    super::health::decode(h)
}

/// Traefik's default health check interval.
pub const DEFAULT_HEALTH_INTERVAL: Duration = super::health::DEFAULT_INTERVAL;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::dynamic::Middleware;
    use crate::tree::FlatStyle;

    /// Decodes `traefik.`-prefixed labels.
    pub(crate) fn labels(pairs: &[(&str, &str)]) -> Decoded {
        let entries = pairs
            .iter()
            .map(|(k, v)| {
                let rest = k.strip_prefix("traefik.").unwrap();
                (
                    k.to_string(),
                    rest.split('.').map(str::to_owned).collect(),
                    v.to_string(),
                )
            })
            .collect();
        let (root, errors) = Node::from_flat("traefik", FlatStyle::DOTTED, entries);
        assert!(errors.is_empty(), "{errors:?}");
        decode(&root, Source::Labels)
    }

    fn owners(d: &Decoded) -> Vec<Owner> {
        d.errors.iter().map(|e| e.owner.clone()).collect()
    }

    #[test]
    fn routers_services_middlewares() {
        let d = labels(&[
            ("traefik.http.routers.web.rule", "Host(`a.test`)"),
            ("traefik.http.routers.web.entrypoints", "web, websecure"),
            ("traefik.http.routers.web.middlewares", "strip@docker,auth"),
            ("traefik.http.routers.web.priority", "10"),
            ("traefik.http.routers.web.tls", "true"),
            ("traefik.http.services.app.loadBalancer.server.port", "8080"),
            (
                "traefik.http.services.app.loadbalancer.healthcheck.path",
                "/health",
            ),
            (
                "traefik.http.services.app.loadbalancer.healthcheck.interval",
                "2s",
            ),
            (
                "traefik.http.middlewares.strip.stripprefix.prefixes",
                "/api,/v1",
            ),
            (
                "traefik.http.middlewares.auth.basicauth.users",
                "u:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=",
            ),
            (
                "traefik.http.middlewares.hdr.headers.customRequestHeaders.X-Test",
                "1",
            ),
            ("traefik.nope.x", "x"),
        ]);
        let r = &d.config.http.routers["web"];
        assert_eq!(r.entry_points, ["web", "websecure"]);
        assert_eq!(r.middlewares, ["strip@docker", "auth"]);
        assert_eq!(r.priority, 10);
        assert!(r.tls.is_some());
        assert_eq!(d.label_servers["app"].port, Some(8080));
        assert_eq!(
            d.config.http.services["app"].load_balancer.health_check,
            Some(HealthCheck {
                interval: Duration::from_secs(2),
                unhealthy_interval: Duration::from_secs(2),
                ..HealthCheck::of("/health")
            })
        );
        assert_eq!(
            *d.config.http.middlewares["strip"],
            Middleware::StripPrefix {
                prefixes: vec!["/api".into(), "/v1".into()]
            }
        );
        assert_eq!(
            *d.config.http.middlewares["hdr"],
            Middleware::Headers(Box::new(crate::dynamic::Headers {
                request: vec![crate::dynamic::SetHeader::new("X-Test", "1").unwrap()],
                ..Default::default()
            }))
        );
        assert_eq!(owners(&d), [Owner::Unsupported], "{:?}", d.errors);
        assert_eq!(d.errors[0].error.key, "traefik.nope");
    }

    /// `loadBalancer.strategy` from labels and from a file (one decoding): `wrr`, `p2c`,
    /// `hrw`, `leasttime`; anything else (Traefik's names are exact) is an error naming the
    /// key and the value, which disables the service.
    #[test]
    fn load_balancer_strategies() {
        use crate::dynamic::Strategy;
        // (value, strategy, or the error's words).
        let table: &[(&str, Result<Strategy, &str>)] = &[
            ("wrr", Ok(Strategy::Wrr)),
            ("", Ok(Strategy::Wrr)),
            ("p2c", Ok(Strategy::P2c)),
            ("hrw", Ok(Strategy::Hrw)),
            ("leasttime", Ok(Strategy::LeastTime)),
            (
                "LeastTime",
                Err("unsupported load-balancer strategy \"LeastTime\""),
            ),
            ("P2C", Err("unsupported load-balancer strategy \"P2C\"")),
            (
                "random",
                Err("unsupported load-balancer strategy \"random\""),
            ),
        ];
        for (value, want) in table {
            let from_labels = labels(&[
                ("traefik.http.services.s.loadbalancer.server.port", "80"),
                ("traefik.http.services.s.loadbalancer.strategy", value),
            ]);
            let yaml = format!(
                "http:\n  services:\n    s:\n      loadBalancer:\n        strategy: \"{value}\"\n        servers:\n          - url: http://10.0.0.2\n"
            );
            let from_file = decode(&Node::from_yaml(&yaml, "").unwrap(), Source::File);
            for (source, d, key) in [
                (
                    "labels",
                    &from_labels,
                    "traefik.http.services.s.loadbalancer.strategy",
                ),
                ("file", &from_file, "strategy"),
            ] {
                let got = d.config.http.services.get("s");
                match want {
                    Ok(st) => {
                        let lb = &got.expect("the service").load_balancer;
                        assert_eq!(lb.strategy, *st, "{source} {value:?}: {:?}", d.errors);
                    }
                    Err(words) => {
                        assert!(got.is_none(), "{source} {value:?}");
                        assert_eq!(owners(d), [Owner::Service("s".into())], "{source}");
                        let e = &d.errors[0].error;
                        assert!(e.key.ends_with(key), "{source}: {e:?}");
                        assert!(e.message.contains(words), "{source}: {e:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn errors_belong_to_what_they_break() {
        let d = labels(&[
            ("traefik.http.routers.r.priority", "high"),
            ("traefik.http.routers.o.tls.domains[0].nope", "x"),
            ("traefik.http.services.s.loadbalancer.server.port", "99999"),
            (
                "traefik.http.middlewares.m.ipallowlist.sourcerange",
                "10.0.0.0/8, nope",
            ),
            ("traefik.http.middlewares.a.basicauth.users", "u:plaintext"),
            ("traefik.http.middlewares.x.ratelimit.average", "often"),
            ("traefik.http.middlewares.c.circuitbreaker.expression", "x"),
        ]);
        let o = owners(&d);
        for want in [
            Owner::Router("r".into()),
            Owner::Router("o".into()),
            Owner::Service("s".into()),
            Owner::Middleware("m".into()),
            Owner::Middleware("a".into()),
            Owner::Middleware("x".into()),
            Owner::Middleware("c".into()),
        ] {
            assert!(o.contains(&want), "{want:?} not in {o:?}");
        }
        assert!(d.config.http.routers.is_empty());
        let prio = d
            .errors
            .iter()
            .find(|e| e.owner == Owner::Router("r".into()))
            .unwrap();
        assert_eq!(prio.error.key, "traefik.http.routers.r.priority");
    }

    #[test]
    fn security_header_options() {
        let d = labels(&[
            ("traefik.http.middlewares.h.headers.stsSeconds", "63072000"),
            (
                "traefik.http.middlewares.h.headers.stsIncludeSubdomains",
                "true",
            ),
            ("traefik.http.middlewares.h.headers.frameDeny", "true"),
            (
                "traefik.http.middlewares.h.headers.contentSecurityPolicy",
                "default-src 'self'",
            ),
            (
                "traefik.http.middlewares.h.headers.customResponseHeaders.X-Frame-Options",
                "",
            ),
        ]);
        let Middleware::Headers(h) = &*d.config.http.middlewares["h"] else {
            panic!("{d:?}")
        };
        let response = &h.response;
        assert_eq!(
            h.sts.as_deref(),
            Some("max-age=63072000; includeSubDomains")
        );
        assert!(response
            .iter()
            .any(|h| h.name == "Content-Security-Policy" && h.value == "default-src 'self'"));
        let frame: Vec<_> = response
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case("x-frame-options"))
            .collect();
        assert_eq!(frame.last().map(|h| h.value.as_str()), Some(""));
    }

    #[test]
    fn files_have_servers_and_certificates() {
        let root = Node::from_yaml(
            "http:\n  services:\n    s:\n      loadBalancer:\n        servers:\n          - url: http://app:8080/\n          - url: http://10.0.0.2\n          - url: HTTPS://app.example\n          - url: https://[::1]:8443/\n        passHostHeader: false\n        serversTransport: tr@file\n    bad:\n      loadBalancer:\n        servers:\n          - url: ftp://x\ntls:\n  certificates:\n    - certFile: /c.pem\n      keyFile: /k.pem\n",
            "",
        )
        .unwrap();
        let d = decode(&root, Source::File);
        assert!(d.config.http.services.contains_key("s"), "{:?}", d.errors);
        let urls: Vec<&str> = d.config.http.services["s"]
            .load_balancer
            .servers
            .iter()
            .map(|s| s.url.as_str())
            .collect();
        assert_eq!(
            urls,
            [
                "http://app:8080",
                "http://10.0.0.2:80",
                "https://app.example:443",
                "https://[::1]:8443"
            ]
        );
        let lb = &d.config.http.services["s"].load_balancer;
        assert!(!lb.pass_host_header);
        assert_eq!(lb.servers_transport, "tr@file");
        assert_eq!(owners(&d), [Owner::Service("bad".into())]);
        assert_eq!(d.config.tls.certificates[0].cert_file, "/c.pem");
    }

    #[test]
    fn a_server_url_path_is_kept_apart_and_used_with_preserve_path() {
        let root = Node::from_yaml(
            "http:\n  services:\n    s:\n      loadBalancer:\n        servers:\n          - url: http://app:8080/base/%2Fx\n            preservePath: true\n          - url: http://app:8081/\n          - url: http://app:8082/ignored\n    query:\n      loadBalancer:\n        servers:\n          - url: http://app:8080/p?x=1\n    escape:\n      loadBalancer:\n        servers:\n          - url: http://app:8080/p%zz\n    flag:\n      loadBalancer:\n        servers:\n          - url: http://app:8080/p\n            preservePath: maybe\n",
            "",
        )
        .unwrap();
        let d = decode(&root, Source::File);
        let servers = &d.config.http.services["s"].load_balancer.servers;
        let got: Vec<(&str, &str, bool)> = servers
            .iter()
            .map(|s| (s.url.as_str(), s.path.as_str(), s.preserve_path))
            .collect();
        assert_eq!(
            got,
            [
                ("http://app:8080", "/base/%2Fx", true),
                ("http://app:8081", "/", false),
                ("http://app:8082", "/ignored", false),
            ]
        );
        // A query, a bad escape, a flag that is not a boolean: errors on their service.
        let mut bad: Vec<Owner> = owners(&d);
        bad.sort();
        assert_eq!(
            bad,
            [
                Owner::Service("escape".into()),
                Owner::Service("flag".into()),
                Owner::Service("query".into())
            ]
        );
        // The label form (Traefik's `server.url` and `server.preservepath`).
        let d = labels(&[
            (
                "traefik.http.services.l.loadbalancer.server.url",
                "http://10.0.0.9:81/api",
            ),
            (
                "traefik.http.services.l.loadbalancer.server.preservepath",
                "true",
            ),
        ]);
        let server = &d.label_servers["l"];
        assert_eq!(
            (
                server.url.as_deref(),
                server.path.as_str(),
                server.preserve_path
            ),
            (Some("http://10.0.0.9:81"), "/api", true)
        );
    }

    #[test]
    fn weighted_failover_and_weights() {
        let root = Node::from_yaml(
            r#"http:
  services:
    w:
      weighted:
        healthCheck: {}
        services: [{name: a, weight: 3}, {name: b@docker}, {name: c, weight: -2}]
    f:
      failover: {service: a, fallback: b}
    lb:
      loadBalancer:
        servers: [{url: "http://x", weight: 0}, {url: "http://y"}]
    no-services:
      weighted: {}
    sticky:
      weighted:
        services: [{name: a}]
        sticky: {cookie: {}}
    no-fallback:
      failover: {service: a}
    on-errors:
      failover: {service: a, fallback: b, errors: {status: ["500", "502-504"], maxRequestBodyBytes: 10}}
    bad-errors:
      failover: {service: a, fallback: b, errors: {status: ["5xx"]}}
    odd-errors:
      failover: {service: a, fallback: b, errors: {codes: ["500"]}}
    mirror:
      mirroring: {service: a, mirrors: [{name: b, percent: 101}]}
    mirrored:
      mirroring: {service: a, mirrorBody: false, mirrors: [{name: b, percent: 10}]}
    two:
      weighted: {services: [{name: a}]}
      loadBalancer: {servers: [{url: "http://x"}]}
"#,
            "",
        )
        .unwrap();
        let d = decode(&root, Source::File);
        let w = d.config.http.services["w"].weighted.as_ref().unwrap();
        let weights: Vec<(&str, u32)> = w
            .services
            .iter()
            .map(|s| (s.name.as_str(), s.weight))
            .collect();
        assert_eq!(weights, [("a", 3), ("b@docker", 1), ("c", 0)]);
        assert!(w.health_check);
        let f = d.config.http.services["f"].failover.as_ref().unwrap();
        assert_eq!((f.service.as_str(), f.fallback.as_str()), ("a", "b"));
        let m = d.config.http.services["mirrored"]
            .mirroring
            .as_ref()
            .unwrap();
        assert_eq!(
            (m.mirror_body, m.max_body_size, m.mirrors[0].percent),
            (false, -1, 10)
        );
        let st = d.config.http.services["sticky"].weighted.as_ref().unwrap();
        assert!(st.sticky.is_some());
        let lb = &d.config.http.services["lb"].load_balancer;
        assert_eq!(
            lb.servers.iter().map(|s| s.weight).collect::<Vec<_>>(),
            [0, 1]
        );
        let mut broken = owners(&d);
        broken.sort_by_key(|o| format!("{o:?}"));
        let e = d.config.http.services["on-errors"]
            .failover
            .as_ref()
            .unwrap()
            .errors
            .clone()
            .unwrap();
        assert_eq!(e.status, [(500, 500), (502, 504)]);
        assert_eq!(e.max_request_body_bytes, Some(10));
        let want: Vec<Owner> = [
            "bad-errors",
            "mirror",
            "no-fallback",
            "no-services",
            "odd-errors",
            "two",
        ]
        .iter()
        .map(|n| Owner::Service((*n).into()))
        .collect();
        assert_eq!(broken, want, "{:?}", d.errors);
        let d = labels(&[
            ("traefik.http.services.s.loadbalancer.server.port", "80"),
            ("traefik.http.services.s.loadbalancer.server.weight", "5"),
            (
                "traefik.http.services.s.loadbalancer.responseforwarding.flushinterval",
                "-1",
            ),
            ("traefik.http.services.t.loadbalancer.server.port", "80"),
            (
                "traefik.http.services.t.loadbalancer.responseforwarding.flushinterval",
                "soon",
            ),
        ]);
        assert_eq!(d.label_servers["s"].weight, Some(5));
        assert_eq!(owners(&d), [Owner::Service("t".into())], "{:?}", d.errors);
    }
}
