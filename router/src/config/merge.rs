//! Merging: the `ROUTER_*` variables alone (with their defaults), or a Traefik static
//! configuration with the `ROUTER_*` variables that are set, where setting one thing both
//! ways is an error.

use std::collections::BTreeMap;
use std::time::Duration;

use super::legacy::Legacy;
use super::sources::Found;
use super::traefik::{AcmeStatic, Static};
use super::{
    err, AcmeConfig, Address, Balancer, Config, ConfigError, ContainerProvider, EntryPoint,
    LogFormat, Redirect, Trust, DEFAULT_RULE, LETS_ENCRYPT,
};
use crate::dynamic::RouterTls;

/// The default `DOCKER_HOST`: socket-guard in the same compose project.
const DEFAULT_DOCKER: &str = "socket-guard:2375";
/// The router's head size limit unless set: smaller than Traefik's 1 MiB on purpose.
const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Traefik's HTTP/2 streams per connection.
const MAX_STREAMS: u32 = 250;
/// How long open connections get on shutdown (Traefik's `graceTimeOut`).
const GRACE: Duration = Duration::from_secs(10);

/// Everything both kinds of configuration share, from the variables.
fn base(l: &Legacy, source: String) -> Config {
    Config {
        source,
        notes: Vec::new(),
        log_level: "info".into(),
        log_format: l.log_format.unwrap_or(LogFormat::Json),
        log_file: None,
        access_log: true,
        // The router's own defaults: every request logged and counted.
        access_log_internals: true,
        traefik_access_log: None,
        metrics_internals: true,
        admin_listen: l.admin_listen.flatten(),
        label_prefix: l.label_prefix.clone().unwrap_or_else(|| "traefik".into()),
        host_ip: l.host_ip.unwrap_or_else(|| [127, 0, 0, 1].into()),
        connect_timeout: l.connect_timeout.unwrap_or(Duration::from_secs(5)),
        response_timeout: l.response_timeout.unwrap_or(Duration::from_secs(60)),
        max_connections: l.max_connections,
        max_connections_per_ip: l.max_connections_per_ip,
        balancer: l.balancer.unwrap_or(Balancer::RoundRobin),
        certs_dir: l.certs_dir.clone(),
        tls_ciphers: l.tls_ciphers.clone(),
        security_headers: l.security_headers.unwrap_or(true),
        compress: l.compress.unwrap_or(false),
        entry_points: Vec::new(),
        docker: None,
        swarm: None,
        file: None,
        etcd: None,
        redis: None,
        ecs: None,
        acme: None,
        acme_more: Vec::new(),
        api: None,
        ping: None,
        prometheus: None,
        default_rule_syntax: Default::default(),
        default_transport: Default::default(),
        controller: l.controller.clone(),
        publish: l.publish.clone(),
    }
}

/// A data plane holds no Docker access and reads no files: every provider setting belongs to
/// the controller.
fn data_plane_checks(l: &Legacy, c: &Config) -> Result<(), ConfigError> {
    if c.follows().is_none() {
        return Ok(());
    }
    let why = "a data plane (ROUTER_CONTROLLER) holds no Docker access and takes its configuration from the controller only; set it on the controller";
    let set: [(&str, Option<String>); 8] = [
        ("DOCKER_HOST", l.docker_host.clone()),
        ("ROUTER_LABEL_PREFIX", l.label_prefix.clone()),
        ("ROUTER_HOST_IP", l.host_ip.map(|ip| ip.to_string())),
        ("ROUTER_SWARM_MODE", l.swarm_mode.map(|b| b.to_string())),
        ("ROUTER_NETWORK", l.network.clone()),
        (
            "ROUTER_EXPOSED_BY_DEFAULT",
            l.exposed_by_default.map(|b| b.to_string()),
        ),
        ("ROUTER_DEFAULT_RULE", l.default_rule.clone()),
        (
            "ROUTER_SWARM_REFRESH",
            l.swarm_refresh.map(|d| format!("{d:?}")),
        ),
    ];
    if let Some((var, Some(v))) = set.into_iter().find(|(_, v)| v.is_some()) {
        return Err(err(var, &v, why));
    }
    if !c.publish.is_empty() {
        return Err(err("ROUTER_PUBLISH", "", why));
    }
    for (key, on) in [
        ("providers.docker", c.docker.is_some()),
        ("providers.swarm", c.swarm.is_some()),
        ("providers.file", c.file.is_some()),
        ("providers.etcd", c.etcd.is_some()),
        ("providers.redis", c.redis.is_some()),
        ("providers.ecs", c.ecs.is_some()),
    ] {
        if on {
            return Err(err(key, "", why));
        }
    }
    Ok(())
}

fn entry_point(
    name: &str,
    key: &str,
    address: Address,
    l: &Legacy,
    header_timeout: Duration,
    idle: Duration,
) -> EntryPoint {
    EntryPoint {
        name: name.to_owned(),
        key: key.to_owned(),
        address,
        default: true,
        as_default: false,
        redirect: None,
        middlewares: Vec::new(),
        tls: None,
        forwarded: Trust::default(),
        proxy_protocol: None,
        header_timeout,
        idle_timeout: idle,
        grace_timeout: GRACE,
        write_timeout: Duration::ZERO,
        keep_alive_max_requests: 0,
        keep_alive_max_time: Duration::ZERO,
        reuse_port: false,
        allow_acme_bypass: false,
        h2_decoder_table: 4096,
        h2_encoder_table: 4096,
        max_header_bytes: l.max_header_bytes.unwrap_or(MAX_HEADER_BYTES),
        max_concurrent_streams: MAX_STREAMS,
        http: Default::default(),
        access_logs: true,
        model: false,
        udp: None,
    }
}

/// `web` (and `websecure`) as the variables define them.
fn legacy_entry_points(l: &Legacy, only_set: bool) -> Vec<EntryPoint> {
    let t = l.header_timeout.unwrap_or(Duration::from_secs(30));
    let mut eps = Vec::new();
    let web = l
        .web_listen
        .or((!only_set).then(|| ([0, 0, 0, 0], 8080).into()));
    let websecure = match l.websecure_listen {
        Some(ws) => ws,
        None if only_set => None,
        None => Some(([0, 0, 0, 0], 8443).into()),
    };
    if let Some(w) = web {
        let mut ep = entry_point("web", "ROUTER_WEB_LISTEN", Address::Socket(w), l, t, t);
        let redirect = l.redirect_to_https.unwrap_or(websecure.is_some());
        if redirect && websecure.is_some() {
            let port = l.redirect_port.unwrap_or(443);
            ep.redirect = Some(Redirect {
                to: format!(":{port}"),
                port,
                scheme: "https".into(),
                permanent: true,
                priority: i64::MAX - 1,
            });
        }
        eps.push(ep);
    }
    if let Some(ws) = websecure {
        let mut ep = entry_point(
            "websecure",
            "ROUTER_WEBSECURE_LISTEN",
            Address::Socket(ws),
            l,
            t,
            t,
        );
        // Every router on websecure answers over TLS, as it always did.
        ep.tls = Some(RouterTls::default());
        eps.push(ep);
    }
    eps
}

fn legacy_acme(l: &Legacy, names: Vec<String>) -> Option<AcmeConfig> {
    let email = l.acme_email.clone()?;
    Some(AcmeConfig {
        names,
        email,
        directory: l
            .acme_directory
            .clone()
            .unwrap_or_else(|| LETS_ENCRYPT.into()),
        storage: l
            .acme_storage
            .clone()
            .unwrap_or_else(|| "/data/acme.json".into()),
        storage_key: "ROUTER_ACME_STORAGE".into(),
        ca_file: l.acme_ca_file.clone(),
        ca_key: "ROUTER_ACME_CA_FILE".into(),
        renew_before: l
            .acme_renew_before
            .unwrap_or(Duration::from_secs(30 * 24 * 3600)),
        dns: None,
        http_challenge: Vec::new(),
    })
}

/// The configuration from the `ROUTER_*` variables alone.
pub fn legacy_only(l: Legacy) -> Result<Config, ConfigError> {
    let mut c = base(&l, "ROUTER_* variables".into());
    c.log_level = l.log_level.clone().unwrap_or_else(|| "info".into());
    c.access_log = l.access_log.unwrap_or(true);
    c.entry_points = legacy_entry_points(&l, false);
    data_plane_checks(&l, &c)?;
    let provider = ContainerProvider {
        docker_socket: None,
        use_bind_port_ip: false,
        endpoint: Some(
            l.docker_host
                .clone()
                .unwrap_or_else(|| DEFAULT_DOCKER.into()),
        ),
        exposed_by_default: l.exposed_by_default.unwrap_or(false),
        exposed_by_default_set: true,
        network: l.network.clone(),
        default_rule: l
            .default_rule
            .clone()
            .unwrap_or_else(|| DEFAULT_RULE.into()),
        constraints: None,
        watch: true,
        refresh: l.swarm_refresh.unwrap_or(Duration::from_secs(5)),
        allow_empty_services: false,
        tls: None,
    };
    if c.follows().is_some() {
        // A data plane: its providers are the controller's.
    } else if l.swarm_mode == Some(true) {
        c.swarm = Some(provider);
    } else {
        if let Some(r) = l.swarm_refresh {
            return Err(err(
                "ROUTER_SWARM_REFRESH",
                &format!("{r:?}"),
                "needs ROUTER_SWARM_MODE=true",
            ));
        }
        c.docker = Some(provider);
    }
    c.acme = legacy_acme(&l, Vec::new());
    if c.follows().is_some() && c.acme.is_some() {
        return Err(err(
            "ROUTER_ACME_EMAIL",
            l.acme_email.as_deref().unwrap_or(""),
            "a data plane (ROUTER_CONTROLLER) orders no certificate: the controller orders them for the cluster and sends them; set it on the controller",
        ));
    }
    if c.acme.is_some() && c.entry_point("websecure").is_none() {
        return Err(err(
            "ROUTER_WEBSECURE_LISTEN",
            "off",
            "ACME needs the websecure entry point",
        ));
    }
    Ok(c)
}

/// A variable set alongside the Traefik key that sets the same thing (named with its value).
fn both_ways(l: &Legacy, var: &str, key: &str) -> ConfigError {
    err(
        var,
        l.given.get(var).map_or("", String::as_str),
        format!("{key} is set in the Traefik static configuration too; set it one way"),
    )
}

/// The configuration from a Traefik static configuration and the variables that are set.
pub fn with_traefik(l: Legacy, s: Static, found: &Found) -> Result<Config, ConfigError> {
    let mut c = base(&l, found.kind.to_string());
    c.notes.extend(found.warnings.iter().cloned());
    c.notes.extend(s.notes.iter().cloned());
    log_settings(&l, &s, &mut c)?;
    c.default_rule_syntax = s.default_rule_syntax.unwrap_or_default();
    c.default_transport = s.default_transport.clone().unwrap_or_default();
    c.entry_points = entry_points(&l, &s)?;
    providers(&l, &s, &mut c)?;
    data_plane_checks(&l, &c)?;
    let mut accounts = acme(&l, &s, &c)?.into_iter();
    c.acme = accounts.next();
    c.acme_more = accounts.collect();
    if let Some(more) = c.acme_more.first().filter(|_| c.publishes()) {
        return Err(err(
            &format!("certificatesResolvers.{}", more.names.first().map_or("", String::as_str)),
            "",
            "a cluster's controller orders with one ACME account: its resolvers must share email, caServer, storage and dnsChallenge",
        ));
    }
    if c.follows().is_some() && c.acme.is_some() {
        return Err(err(
            "certificatesResolvers",
            "",
            "a data plane (ROUTER_CONTROLLER) orders no certificate: the controller orders them for the cluster and sends them; set it on the controller",
        ));
    }
    c.api = s.api.clone();
    c.ping = s.ping.clone();
    c.prometheus = s.prometheus.clone();
    // With manualRouting the entry point is not used (and not made), as in Traefik.
    for (what, ep) in [
        (
            "ping.entryPoint",
            c.ping
                .as_ref()
                .filter(|p| !p.manual_routing)
                .map(|p| &p.entry_point),
        ),
        (
            "metrics.prometheus.entryPoint",
            c.prometheus
                .as_ref()
                .filter(|p| !p.manual_routing)
                .map(|p| &p.entry_point),
        ),
    ] {
        if let Some(ep) = ep {
            if c.entry_point(ep).is_none() {
                return Err(err(what, ep, "no such entry point"));
            }
        }
    }
    Ok(c)
}

fn log_settings(l: &Legacy, s: &Static, c: &mut Config) -> Result<(), ConfigError> {
    if l.log_level.is_some() && s.log_level.is_some() {
        return Err(both_ways(l, "LOG_LEVEL", "log.level"));
    }
    if l.log_format.is_some() && s.log_json.is_some() {
        return Err(both_ways(l, "ROUTER_LOG_FORMAT", "log.format"));
    }
    if l.access_log.is_some() && s.access_log.is_some() {
        return Err(both_ways(l, "ROUTER_ACCESS_LOG", "accessLog"));
    }
    // Traefik's defaults: errors only, no access log.
    let level = l
        .log_level
        .clone()
        .or(s.log_level.clone())
        .unwrap_or_else(|| "error".into());
    c.access_log = l.access_log.or(s.access_log).unwrap_or(false);
    c.traefik_access_log = s.access_settings.clone();
    c.log_file = s.log_file.clone();
    // Traefik's defaults: internal routers neither logged nor counted.
    c.access_log_internals = s.access_log_internals.unwrap_or(false);
    c.metrics_internals = s.metrics_internals.unwrap_or(false);
    c.log_level = if c.access_log
        && c.traefik_access_log.is_none()
        && !["trace", "debug", "info"].contains(&level.as_str())
    {
        format!("{level},access=info")
    } else {
        level
    };
    if let Some(json) = s.log_json {
        c.log_format = if json {
            LogFormat::Json
        } else {
            LogFormat::Text
        };
    }
    Ok(())
}

fn entry_points(l: &Legacy, s: &Static) -> Result<Vec<EntryPoint>, ConfigError> {
    if l.header_timeout.is_some() && s.entry_points.values().any(|e| e.read_timeout.is_some()) {
        return Err(both_ways(
            l,
            "ROUTER_HEADER_TIMEOUT",
            "entryPoints.<name>.transport.respondingTimeouts.readTimeout",
        ));
    }
    if l.max_header_bytes.is_some()
        && s.entry_points
            .values()
            .any(|e| e.max_header_bytes.is_some())
    {
        return Err(both_ways(
            l,
            "ROUTER_MAX_HEADER_BYTES",
            "entryPoints.<name>.http.maxHeaderBytes",
        ));
    }
    if (l.redirect_to_https.is_some() || l.redirect_port.is_some())
        && s.entry_points.contains_key("web")
    {
        let var = if l.redirect_to_https.is_some() {
            "ROUTER_REDIRECT_TO_HTTPS"
        } else {
            "ROUTER_REDIRECT_PORT"
        };
        return Err(both_ways(l, var, "entryPoints.web"));
    }
    let mut statics: BTreeMap<String, super::traefik::EntryPointStatic> = s.entry_points.clone();
    let legacy = legacy_entry_points(l, true);
    for ep in &legacy {
        if statics.contains_key(&ep.name) {
            let var = if ep.name == "web" {
                "ROUTER_WEB_LISTEN"
            } else {
                "ROUTER_WEBSECURE_LISTEN"
            };
            return Err(both_ways(l, var, &format!("entryPoints.{}", ep.name)));
        }
    }
    // Traefik's own: `http` on :80 when none is defined; `traefik` on :8080 for what is
    // served there.
    if statics.is_empty() && legacy.is_empty() {
        statics.insert(
            "http".into(),
            super::traefik::EntryPointStatic {
                address: ":80".into(),
                ..Default::default()
            },
        );
    }
    let wants_traefik = s.api.as_ref().is_some_and(|a| a.insecure)
        || s.ping
            .as_ref()
            .is_some_and(|p| !p.manual_routing && p.entry_point == "traefik")
        || s.prometheus
            .as_ref()
            .is_some_and(|p| !p.manual_routing && p.entry_point == "traefik");
    if wants_traefik && !statics.contains_key("traefik") {
        statics.insert(
            "traefik".into(),
            super::traefik::EntryPointStatic {
                address: ":8080".into(),
                ..Default::default()
            },
        );
    }
    let any_default = statics.values().any(|e| e.as_default);
    let mut out = legacy;
    for (name, e) in &statics {
        let (address, udp) = Address::parse_entry(&e.address)
            .map_err(|why| err(&format!("entryPoints.{name}.address"), &e.address, why))?;
        let read = l
            .header_timeout
            .or(e.read_timeout)
            .unwrap_or(Duration::from_secs(60));
        let idle = e.idle_timeout.unwrap_or(Duration::from_secs(180));
        let key = format!("entryPoints.{name}.address");
        let mut ep = entry_point(name, &key, address, l, read, idle);
        // As Traefik's default entry points: never a UDP one.
        ep.default = !udp
            && if any_default {
                e.as_default
            } else {
                name != "traefik"
            };
        ep.as_default = e.as_default;
        ep.udp = udp.then(|| e.udp_timeout.unwrap_or(super::UDP_TIMEOUT));
        ep.redirect = e.redirect.clone();
        ep.middlewares = e.middlewares.clone();
        ep.tls = e.tls.clone();
        ep.forwarded = e.forwarded.clone();
        ep.proxy_protocol = e.proxy_protocol.clone();
        ep.grace_timeout = e.grace_timeout.unwrap_or(GRACE);
        ep.write_timeout = e.write_timeout.unwrap_or_default();
        ep.keep_alive_max_requests = e.keep_alive_max_requests.unwrap_or(0);
        ep.keep_alive_max_time = e.keep_alive_max_time.unwrap_or_default();
        ep.reuse_port = e.reuse_port;
        ep.allow_acme_bypass = e.allow_acme_bypass;
        ep.h2_decoder_table = e.h2_decoder_table.unwrap_or(4096);
        ep.h2_encoder_table = e.h2_encoder_table.unwrap_or(4096);
        if let Some(m) = e.max_header_bytes {
            ep.max_header_bytes = m;
        }
        if let Some(m) = e.max_concurrent_streams {
            ep.max_concurrent_streams = m;
        }
        ep.access_logs = e.access_logs.unwrap_or(true);
        ep.model = e.observability || s.default_rule_syntax.is_some();
        ep.http = e.http.clone();
        out.push(ep);
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    // Redirections name a port: the target entry point's, or `:port`.
    let ports: BTreeMap<String, u16> = out
        .iter()
        .map(|e| (e.name.clone(), e.address.port()))
        .collect();
    for ep in &mut out {
        if let Some(r) = &mut ep.redirect {
            if r.port != 0 {
                continue;
            }
            r.port = match r.to.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| {
                    err(
                        &format!("entryPoints.{}.http.redirections.entryPoint.to", ep.name),
                        &r.to,
                        "invalid port",
                    )
                })?,
                None => *ports.get(&r.to).ok_or_else(|| {
                    err(
                        &format!("entryPoints.{}.http.redirections.entryPoint.to", ep.name),
                        &r.to,
                        "no such entry point",
                    )
                })?,
            };
        }
    }
    Ok(out)
}

fn providers(l: &Legacy, s: &Static, c: &mut Config) -> Result<(), ConfigError> {
    let endpoint = |p: &ContainerProvider| {
        p.endpoint
            .clone()
            .or(l.docker_host.clone())
            .unwrap_or_else(|| DEFAULT_DOCKER.into())
    };
    c.docker = s.docker.clone();
    c.swarm = s.swarm.clone();
    if l.swarm_mode == Some(true) {
        if s.docker.is_some() || s.swarm.is_some() {
            return Err(both_ways(
                l,
                "ROUTER_SWARM_MODE",
                "providers.docker or providers.swarm",
            ));
        }
        let mut p = ContainerProvider::traefik_defaults(true);
        p.refresh = Duration::from_secs(5);
        c.swarm = Some(p);
    }
    if let Some(r) = l.swarm_refresh {
        match &mut c.swarm {
            Some(p) if s.swarm.is_some() => {
                let _ = p;
                return Err(both_ways(
                    l,
                    "ROUTER_SWARM_REFRESH",
                    "providers.swarm.refreshSeconds",
                ));
            }
            Some(p) => p.refresh = r,
            None => {
                return Err(err(
                    "ROUTER_SWARM_REFRESH",
                    &format!("{r:?}"),
                    "no Swarm provider is configured",
                ))
            }
        }
    }
    let any = c.docker.is_some() || c.swarm.is_some();
    for (var, set, key) in [
        (
            "ROUTER_EXPOSED_BY_DEFAULT",
            l.exposed_by_default.is_some(),
            "exposedByDefault",
        ),
        ("ROUTER_NETWORK", l.network.is_some(), "network"),
        (
            "ROUTER_DEFAULT_RULE",
            l.default_rule.is_some(),
            "defaultRule",
        ),
    ] {
        if set && !any {
            return Err(err(
                var,
                "",
                "no Docker or Swarm provider is configured for it to apply to",
            ));
        }
        let _ = key;
    }
    for (name, p, given) in [
        ("docker", &mut c.docker, s.docker.as_ref()),
        ("swarm", &mut c.swarm, s.swarm.as_ref()),
    ] {
        let Some(p) = p else { continue };
        if let Some((key, socket)) = p.docker_socket.clone() {
            let Some(guard) = l.docker_host.clone() else {
                return Err(err(
                    &key,
                    &socket,
                    "the router never talks to the Docker daemon itself: set DOCKER_HOST to socket-guard's tcp://HOST:PORT (this endpoint then stays as it is), or name socket-guard here",
                ));
            };
            c.notes.push(format!(
                "{key}={socket}: the router never talks to the Docker daemon itself; socket-guard at DOCKER_HOST=tcp://{guard} takes its place"
            ));
            p.endpoint = Some(guard);
        }
        p.endpoint = Some(endpoint(p));
        if let Some(v) = l.exposed_by_default {
            if given.is_some_and(|g| g.exposed_by_default_set) {
                return Err(both_ways(
                    l,
                    "ROUTER_EXPOSED_BY_DEFAULT",
                    &format!("providers.{name}.exposedByDefault"),
                ));
            }
            p.exposed_by_default = v;
            p.exposed_by_default_set = true;
        }
        if let Some(v) = &l.network {
            if given.is_some_and(|g| g.network.is_some()) {
                return Err(both_ways(
                    l,
                    "ROUTER_NETWORK",
                    &format!("providers.{name}.network"),
                ));
            }
            p.network = Some(v.clone());
        }
        if let Some(v) = &l.default_rule {
            if given.is_some_and(|g| g.default_rule != DEFAULT_RULE) {
                return Err(both_ways(
                    l,
                    "ROUTER_DEFAULT_RULE",
                    &format!("providers.{name}.defaultRule"),
                ));
            }
            p.default_rule = v.clone();
        }
        if !p.exposed_by_default_set {
            c.notes.push(format!("providers.{name}.exposedByDefault is true (Traefik's default): every container is routed unless labelled traefik.enable=false; set it to false to route only containers labelled traefik.enable=true"));
        }
    }
    c.file = s.file.clone();
    c.etcd = s.etcd.clone();
    c.redis = s.redis.clone();
    c.ecs = s.ecs.clone();
    Ok(())
}

/// The ACME accounts: resolvers that share email, CA, storage and `dnsChallenge` are one
/// account (one [`AcmeConfig`] with several names); others each have their own, in the order
/// of their first name (a production and a staging resolver, an HTTP-01 and a DNS-01 one).
fn acme(l: &Legacy, s: &Static, c: &Config) -> Result<Vec<AcmeConfig>, ConfigError> {
    if s.resolvers.is_empty() {
        return Ok(legacy_acme(l, Vec::new()).into_iter().collect());
    }
    if l.acme_email.is_some() {
        return Err(both_ways(l, "ROUTER_ACME_EMAIL", "certificatesResolvers"));
    }
    let mut accounts: Vec<AcmeConfig> = Vec::new();
    for (name, r) in &s.resolvers {
        let other = resolver(name, r, l, c)?;
        let same = |a: &&mut AcmeConfig| {
            (&other.email, &other.directory, &other.storage, &other.dns)
                == (&a.email, &a.directory, &a.storage, &a.dns)
        };
        match accounts.iter_mut().find(|a| same(a)) {
            Some(a) => {
                a.names.push(name.clone());
                for ep in other.http_challenge {
                    if !a.http_challenge.contains(&ep) {
                        a.http_challenge.push(ep);
                    }
                }
            }
            None => accounts.push(other),
        }
    }
    Ok(accounts)
}

fn resolver(name: &str, r: &AcmeStatic, l: &Legacy, c: &Config) -> Result<AcmeConfig, ConfigError> {
    let key = |k: &str| format!("certificatesResolvers.{name}.acme.{k}");
    if let Some(ep) = &r.http_challenge {
        if c.entry_point(ep).is_none() {
            return Err(err(
                &key("httpChallenge.entryPoint"),
                ep,
                "no such entry point",
            ));
        }
    }
    if r.ca_certificates.len() > 1 {
        return Err(err(&key("caCertificates"), "", "one CA file is supported"));
    }
    let hours = r.certificates_duration.unwrap_or(90 * 24);
    let _ = l;
    Ok(AcmeConfig {
        names: vec![name.to_owned()],
        email: r.email.clone().unwrap_or_default(),
        directory: r.ca_server.clone().unwrap_or_else(|| LETS_ENCRYPT.into()),
        storage: r.storage.clone().unwrap_or_else(|| "acme.json".into()),
        storage_key: key("storage"),
        ca_file: r.ca_certificates.first().cloned(),
        ca_key: key("caCertificates"),
        // As Traefik: renew when a third of the certificates' lifetime is left.
        renew_before: Duration::from_secs(u64::try_from(hours).unwrap_or(0) * 3600 / 3),
        dns: r.dns_challenge.clone(),
        http_challenge: r.http_challenge.iter().cloned().collect(),
    })
}
