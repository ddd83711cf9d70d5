//! Traefik's static configuration keys -> the router's model ([`Static`]). Every key the router
//! implements is read with Traefik's names, defaults and case rules (keys in any case, values
//! as Traefik parses them); every other key is an error naming it. Keys that exist in Traefik
//! and can have no effect here (`global.checkNewVersion`) are accepted, and say so at start.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

use super::{
    err, Api, ConfigError, ContainerProvider, FileProvider, Ping, Prometheus, Redirect, Trust,
};
use crate::dynamic::RouterTls;
use crate::model::rule::Syntax;
use crate::tree::{DecodeError, Fields, Node};

/// What a Traefik static configuration sets.
#[derive(Debug, Clone, Default)]
pub struct Static {
    /// Entry points by name.
    pub entry_points: BTreeMap<String, EntryPointStatic>,
    /// `providers.docker`.
    pub docker: Option<ContainerProvider>,
    /// `providers.swarm`.
    pub swarm: Option<ContainerProvider>,
    /// `providers.file`.
    pub file: Option<FileProvider>,
    /// `providers.etcd`.
    pub etcd: Option<crate::kv::KvProvider>,
    /// `providers.redis`.
    pub redis: Option<crate::kv::KvProvider>,
    /// `providers.ecs`.
    pub ecs: Option<crate::ecs::EcsProvider>,
    /// `certificatesResolvers.<name>.acme`.
    pub resolvers: BTreeMap<String, AcmeStatic>,
    /// `api`.
    pub api: Option<Api>,
    /// `ping`.
    pub ping: Option<Ping>,
    /// `metrics.prometheus`.
    pub prometheus: Option<Prometheus>,
    /// `log.level`, as an EnvFilter level.
    pub log_level: Option<String>,
    /// `log.format`.
    pub log_json: Option<bool>,
    /// `log.filePath`.
    pub log_file: Option<PathBuf>,
    /// `accessLog` (present: on).
    pub access_log: Option<bool>,
    /// `accessLog.addInternals`.
    pub access_log_internals: Option<bool>,
    /// `accessLog`'s format, file, filters and fields (when on).
    pub access_settings: Option<crate::access_log::Settings>,
    /// `metrics.addInternals`.
    pub metrics_internals: Option<bool>,
    /// `core.defaultRuleSyntax`.
    pub default_rule_syntax: Option<Syntax>,
    /// `serversTransport`.
    pub default_transport: Option<crate::dynamic::ServersTransport>,
    /// Accepted keys that have no effect here, for the start-up log.
    pub notes: Vec<String>,
}

/// An entry point as written.
#[derive(Debug, Clone, Default)]
pub struct EntryPointStatic {
    /// `address`, as written (`:80`, `0.0.0.0:443`, `[::]:8080`, `host:80`).
    pub address: String,
    /// `asDefault`.
    pub as_default: bool,
    /// `http.redirections.entryPoint`.
    pub redirect: Option<Redirect>,
    /// `http.middlewares`.
    pub middlewares: Vec<String>,
    /// `http.tls`.
    pub tls: Option<RouterTls>,
    /// `http.maxHeaderBytes`.
    pub max_header_bytes: Option<usize>,
    /// `http.encodeQuerySemicolons`, `http.sanitizePath`, `http.underscoreHeadersStrategy`,
    /// `http.encodedCharacters` (Traefik's defaults where unset).
    pub http: crate::entry_http::Settings,
    /// `forwardedHeaders`.
    pub forwarded: Trust,
    /// `proxyProtocol`.
    pub proxy_protocol: Option<Trust>,
    /// `transport.respondingTimeouts.readTimeout`.
    pub read_timeout: Option<Duration>,
    /// `transport.respondingTimeouts.idleTimeout`.
    pub idle_timeout: Option<Duration>,
    /// `transport.lifeCycle.graceTimeOut`.
    pub grace_timeout: Option<Duration>,
    /// `http2.maxConcurrentStreams`.
    pub max_concurrent_streams: Option<u32>,
    /// `observability.accessLogs`.
    pub access_logs: Option<bool>,
    /// An `observability` section is there.
    pub observability: bool,
    /// `udp.timeout`.
    pub udp_timeout: Option<Duration>,
    /// `transport.respondingTimeouts.writeTimeout`.
    pub write_timeout: Option<Duration>,
    /// `transport.keepAliveMaxRequests`.
    pub keep_alive_max_requests: Option<u64>,
    /// `transport.keepAliveMaxTime`.
    pub keep_alive_max_time: Option<Duration>,
    /// `reusePort`.
    pub reuse_port: bool,
    /// `allowACMEByPass`.
    pub allow_acme_bypass: bool,
    /// `http2.maxDecoderHeaderTableSize`.
    pub h2_decoder_table: Option<u32>,
    /// `http2.maxEncoderHeaderTableSize`.
    pub h2_encoder_table: Option<u32>,
    /// Accepted keys without effect here, for the start-up log.
    pub notes: Vec<String>,
}

/// An ACME resolver as written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AcmeStatic {
    /// `email`.
    pub email: Option<String>,
    /// `caServer`.
    pub ca_server: Option<String>,
    /// `storage`.
    pub storage: Option<PathBuf>,
    /// `caCertificates`.
    pub ca_certificates: Vec<PathBuf>,
    /// `certificatesDuration`, in hours.
    pub certificates_duration: Option<i64>,
    /// `httpChallenge.entryPoint`.
    pub http_challenge: Option<String>,
    /// `tlsChallenge`.
    pub tls_challenge: bool,
    /// `dnsChallenge`: its settings (the provider's own come from its variables).
    pub dns_challenge: Option<crate::acme_dns::DnsChallenge>,
}

fn bad(e: DecodeError) -> ConfigError {
    err(&e.key, "", &e.message)
}

fn value_err(n: &Node, message: &str) -> ConfigError {
    err(&n.key, n.text().unwrap_or(""), message)
}

/// Every key left in `f` is one the router does not implement. The error names a key as it
/// was given, with its value: a section's first leaf (`providers.rest.insecure=true`, not
/// `providers.rest`).
fn no_more(f: &Fields<'_>) -> Result<(), ConfigError> {
    fn first_leaf(n: &Node) -> &Node {
        n.children().first().map_or(n, first_leaf)
    }
    match f.rest().first().map(|n| first_leaf(n)) {
        Some(n) => Err(err(
            &n.key,
            n.text().unwrap_or(""),
            "unknown or not supported by this router: check its spelling (see README: static configuration)",
        )),
        None => Ok(()),
    }
}

/// A key accepted because it cannot matter here; `allowed` values only.
fn accept_bool(
    f: &mut Fields<'_>,
    key: &str,
    why: &str,
    notes: &mut Vec<String>,
) -> Result<(), ConfigError> {
    if let Some(n) = f.take(key) {
        n.boolean().map_err(bad)?;
        notes.push(format!("{}: accepted, {why}", n.key));
    }
    Ok(())
}

/// Decodes a Traefik static configuration tree. `from_file`: as Traefik reads a file, a
/// section at its top that is none of the static configuration's (`tls`, `http`, a v1
/// `[docker]`, a misspelt `serverTransport`) is left out, and said at start.
pub fn decode(root: &Node, from_file: bool) -> Result<Static, ConfigError> {
    let mut s = Static::default();
    let mut f = root.fields().map_err(bad)?;
    if from_file {
        for n in f.rest() {
            if !super::sources::ROOTS.contains(&n.name.to_ascii_lowercase().as_str()) {
                s.notes.push(format!(
                    "{}: not a section of Traefik's static configuration; left out, as Traefik leaves it out of a file (dynamic configuration, such as tls or http, belongs in a file provider's file)",
                    n.key
                ));
                f.take(&n.name);
            }
        }
    }
    if let Some(n) = f.take("global") {
        let mut g = n.fields().map_err(bad)?;
        accept_bool(
            &mut g,
            "checkNewVersion",
            "the router never checks for new versions",
            &mut s.notes,
        )?;
        accept_bool(
            &mut g,
            "sendAnonymousUsage",
            "the router never sends usage data",
            &mut s.notes,
        )?;
        no_more(&g)?;
    }
    if let Some(n) = f.take("entryPoints") {
        for ep in n.children() {
            let mut e = entry_point(ep)?;
            s.notes.append(&mut e.notes);
            s.entry_points.insert(ep.name.clone(), e);
        }
    }
    if let Some(n) = f.take("providers") {
        providers(n, &mut s)?;
    }
    if let Some(n) = f.take("certificatesResolvers") {
        for r in n.children() {
            let mut rf = r.fields().map_err(bad)?;
            let acme = rf
                .take("acme")
                .ok_or_else(|| err(&r.key, "", "only ACME certificate resolvers are supported"))?;
            no_more(&rf)?;
            s.resolvers
                .insert(r.name.clone(), acme_resolver(acme, &mut s.notes)?);
        }
    }
    if let Some(n) = f.take("api") {
        s.api = api(n, &mut s.notes)?;
    }
    if let Some(n) = f.take("ping") {
        s.ping = ping(n)?;
    }
    if let Some(n) = f.take("metrics") {
        let mut m = n.fields().map_err(bad)?;
        if let Some(a) = m.take("addInternals") {
            s.metrics_internals = Some(a.boolean().map_err(bad)?);
        }
        if let Some(p) = m.take("prometheus") {
            s.prometheus = prometheus(p)?;
        }
        no_more(&m)?;
    }
    if let Some(n) = f.take("log") {
        log(n, &mut s)?;
    }
    if let Some(n) = f.take("accessLog") {
        let (on, internals, settings) = access_log(n, &mut s.notes)?;
        s.access_log = Some(on);
        s.access_log_internals = internals;
        s.access_settings = on.then_some(settings);
    }
    if let Some(n) = f.take("core") {
        let mut c = n.fields().map_err(bad)?;
        if let Some(r) = c.take("defaultRuleSyntax") {
            let t = r.text().map_err(bad)?;
            s.default_rule_syntax =
                Some(Syntax::from_name(t).ok_or_else(|| value_err(r, "expected v2 or v3"))?);
        }
        no_more(&c)?;
    }
    if let Some(n) = f.take("tracing") {
        if n.section_on().map_err(bad)? {
            s.notes.push(format!(
                "{}: accepted; the router sends no traces (it has no OpenTelemetry exporter): requests are routed as without it",
                n.key
            ));
        }
    }
    if let Some(n) = f.take("experimental") {
        experimental(n, &mut s.notes)?;
    }
    if let Some(n) = f.take("serversTransport") {
        // The static keys are a subset of a file's serversTransports.<name>.
        let t = n.fields().map_err(bad)?;
        for k in t.rest() {
            let known = [
                "insecureSkipVerify",
                "rootCAs",
                "maxIdleConnsPerHost",
                "forwardingTimeouts",
            ];
            if !known.iter().any(|x| x.eq_ignore_ascii_case(&k.name)) {
                return Err(value_err(k, "not supported"));
            }
        }
        s.default_transport = Some(crate::dynamic::transport::decode(n).map_err(bad)?);
    }
    no_more(&f)?;
    Ok(s)
}

fn ips(n: &Node) -> Result<Vec<IpNet>, ConfigError> {
    n.strings()
        .map_err(bad)?
        .iter()
        .map(|i| {
            i.parse::<IpNet>()
                .or_else(|_| i.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| value_err(n, &format!("invalid address or CIDR {i:?}")))
        })
        .collect()
}

fn trust(n: &Node) -> Result<Trust, ConfigError> {
    let mut f = n.fields().map_err(bad)?;
    let mut t = Trust::default();
    if let Some(i) = f.take("insecure") {
        t.insecure = i.boolean().map_err(bad)?;
    }
    if let Some(i) = f.take("trustedIPs") {
        t.trusted_ips = ips(i)?;
    }
    no_more(&f)?;
    Ok(t)
}

fn entry_point(ep: &Node) -> Result<EntryPointStatic, ConfigError> {
    let mut f = ep.fields().map_err(bad)?;
    let mut out = EntryPointStatic::default();
    let a = f
        .take("address")
        .ok_or_else(|| err(&ep.key, "", "an entry point needs an address"))?;
    out.address = a.text().map_err(bad)?.trim().to_owned();
    if let Some(n) = f.take("asDefault") {
        out.as_default = n.boolean().map_err(bad)?;
    }
    if let Some(n) = f.take("reusePort") {
        out.reuse_port = n.boolean().map_err(bad)?;
    }
    if let Some(n) = f.take("allowACMEByPass") {
        out.allow_acme_bypass = n.boolean().map_err(bad)?;
    }
    if let Some(h3) = f.take("http3") {
        // Served over TCP only: no UDP listener, no `Alt-Svc`, so clients keep to HTTP/2
        // and HTTP/1.1 (said at start).
        let mut hf = h3.fields().map_err(bad)?;
        if let Some(p) = hf.take("advertisedPort") {
            p.integer().map_err(bad)?;
        }
        no_more(&hf)?;
        out.notes.push(format!(
            "{}: accepted; HTTP/3 is not served (no UDP listener, no Alt-Svc): clients use HTTP/2 and HTTP/1.1",
            h3.key
        ));
    }
    if let Some(http) = f.take("http") {
        let mut h = http.fields().map_err(bad)?;
        if let Some(r) = h.take("redirections") {
            let mut rf = r.fields().map_err(bad)?;
            if let Some(e) = rf.take("entryPoint") {
                out.redirect = Some(redirect(e)?);
            }
            no_more(&rf)?;
        }
        if let Some(m) = h.take("middlewares") {
            out.middlewares = m.strings().map_err(bad)?;
        }
        if let Some(t) = h.take("tls") {
            out.tls = entry_point_tls(t, &mut out.notes)?;
        }
        if let Some(m) = h.take("maxHeaderBytes") {
            let v = m.integer().map_err(bad)?;
            out.max_header_bytes = Some(
                usize::try_from(v)
                    .ok()
                    .filter(|n| (8192..=1 << 20).contains(n))
                    .ok_or_else(|| {
                        value_err(m, "expected a number of bytes from 8192 to 1048576")
                    })?,
            );
        }
        if let Some(u) = h.take("underscoreHeadersStrategy") {
            // Traefik compares exactly (`Keep` stops it too); empty is `keep`.
            out.http.underscores = crate::entry_http::Underscores::parse(u.text().map_err(bad)?)
                .ok_or_else(|| value_err(u, "expected keep, delete or reject"))?;
        }
        if let Some(n) = h.take("encodeQuerySemicolons") {
            out.http.encode_query_semicolons = n.boolean().map_err(bad)?;
        }
        if let Some(n) = h.take("sanitizePath") {
            out.http.sanitize_path = n.boolean().map_err(bad)?;
        }
        if let Some(n) = h.take("encodedCharacters") {
            out.http.encoded_characters = encoded_characters(n)?;
        }
        no_more(&h)?;
    }
    if let Some(n) = f.take("forwardedHeaders") {
        out.forwarded = trust(n)?;
    }
    if let Some(n) = f.take("proxyProtocol") {
        out.proxy_protocol = Some(trust(n)?);
    }
    if let Some(t) = f.take("transport") {
        let mut tf = t.fields().map_err(bad)?;
        if let Some(r) = tf.take("respondingTimeouts") {
            let mut rf = r.fields().map_err(bad)?;
            out.read_timeout = timeout(rf.take("readTimeout"))?;
            out.idle_timeout = timeout(rf.take("idleTimeout"))?;
            // 0 (Traefik's default) is none.
            if let Some(w) = rf.take("writeTimeout") {
                out.write_timeout = Some(w.duration().map_err(bad)?);
            }
            no_more(&rf)?;
        }
        if let Some(m) = tf.take("keepAliveMaxRequests") {
            // Traefik's `int`: 0 or less is no limit.
            out.keep_alive_max_requests = Some(m.integer().map_err(bad)?.max(0) as u64);
        }
        if let Some(m) = tf.take("keepAliveMaxTime") {
            out.keep_alive_max_time = Some(m.duration().map_err(bad)?);
        }
        if let Some(l) = tf.take("lifeCycle") {
            let mut lf = l.fields().map_err(bad)?;
            out.grace_timeout = timeout(lf.take("graceTimeOut"))?;
            if let Some(r) = lf.take("requestAcceptGraceTimeout") {
                if !r.duration().map_err(bad)?.is_zero() {
                    return Err(value_err(
                        r,
                        "requestAcceptGraceTimeout is not supported (only 0)",
                    ));
                }
            }
            no_more(&lf)?;
        }
        no_more(&tf)?;
    }
    if let Some(h2) = f.take("http2") {
        let mut hf = h2.fields().map_err(bad)?;
        if let Some(m) = hf.take("maxConcurrentStreams") {
            let v = m.integer().map_err(bad)?;
            out.max_concurrent_streams = Some(
                u32::try_from(v)
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| value_err(m, "expected a number above 0"))?,
            );
        }
        for (key, slot) in [
            ("maxDecoderHeaderTableSize", &mut out.h2_decoder_table),
            ("maxEncoderHeaderTableSize", &mut out.h2_encoder_table),
        ] {
            if let Some(m) = hf.take(key) {
                let v = m.integer().map_err(bad)?;
                *slot = Some(
                    u32::try_from(v)
                        .map_err(|_| value_err(m, "expected a number from 0 to 4294967295"))?,
                );
            }
        }
        if let Some(e) = out.h2_encoder_table.filter(|n| *n != 4096) {
            out.notes.push(format!(
                "{}.http2.maxEncoderHeaderTableSize={e}: accepted; the HTTP/2 encoder's table is the size each client allows",
                ep.key
            ));
        }
        no_more(&hf)?;
    }
    if let Some(u) = f.take("udp") {
        let mut uf = u.fields().map_err(bad)?;
        if let Some(t) = uf.take("timeout") {
            let d = t.duration().map_err(bad)?;
            if d.is_zero() {
                return Err(value_err(t, "expected a duration above 0, such as 3s"));
            }
            out.udp_timeout = Some(d);
        }
        no_more(&uf)?;
    }
    if let Some(o) = f.take("observability") {
        out.observability = true;
        let mut of = o.fields().map_err(bad)?;
        if let Some(a) = of.take("accessLogs") {
            out.access_logs = Some(a.boolean().map_err(bad)?);
        }
        for k in ["metrics", "tracing"] {
            if let Some(m) = of.take(k) {
                m.boolean().map_err(bad)?;
            }
        }
        no_more(&of)?;
    }
    no_more(&f)?;
    Ok(out)
}

fn timeout(n: Option<&Node>) -> Result<Option<Duration>, ConfigError> {
    match n {
        None => Ok(None),
        Some(n) => {
            let d = n.duration().map_err(bad)?;
            if d.is_zero() {
                return Err(value_err(
                    n,
                    "0 (no timeout) is not supported: give a duration",
                ));
            }
            Ok(Some(d))
        }
    }
}

fn redirect(e: &Node) -> Result<Redirect, ConfigError> {
    let mut f = e.fields().map_err(bad)?;
    let to = f.take("to").ok_or_else(|| {
        err(
            &e.key,
            "",
            "a redirection needs `to` (an entry point or :port)",
        )
    })?;
    let mut r = Redirect {
        to: to.text().map_err(bad)?.trim().to_owned(),
        port: 0,
        scheme: "https".into(),
        permanent: true,
        priority: i64::MAX - 1,
    };
    if r.to.is_empty() {
        return Err(value_err(
            to,
            "a redirection needs `to` (an entry point or :port)",
        ));
    }
    if let Some(s) = f.take("scheme") {
        r.scheme = s.text().map_err(bad)?.trim().to_owned();
        // The scheme of the redirectScheme middleware made of it: any URL scheme, as Traefik's.
        if !crate::dynamic::middleware::url_scheme(&r.scheme) {
            return Err(value_err(s, "expected a URL scheme such as https"));
        }
    }
    if let Some(p) = f.take("permanent") {
        r.permanent = p.boolean().map_err(bad)?;
    }
    if let Some(p) = f.take("priority") {
        r.priority = p.integer().map_err(bad)?;
    }
    no_more(&f)?;
    Ok(r)
}

/// `http.encodedCharacters`: each `allow*` key `true` unless set (Traefik's `SetDefaults` once
/// the section exists); `false` turns the section off.
fn encoded_characters(
    n: &Node,
) -> Result<Option<crate::entry_http::EncodedCharacters>, ConfigError> {
    if !n.section_on().map_err(bad)? {
        return Ok(None);
    }
    let mut f = n.fields().map_err(bad)?;
    let mut e = crate::entry_http::EncodedCharacters::default();
    for (key, slot) in [
        ("allowEncodedSlash", &mut e.slash),
        ("allowEncodedBackSlash", &mut e.back_slash),
        ("allowEncodedNullCharacter", &mut e.null_character),
        ("allowEncodedSemicolon", &mut e.semicolon),
        ("allowEncodedPercent", &mut e.percent),
        ("allowEncodedQuestionMark", &mut e.question_mark),
        ("allowEncodedHash", &mut e.hash),
    ] {
        if let Some(v) = f.take(key) {
            *slot = v.boolean().map_err(bad)?;
        }
    }
    no_more(&f)?;
    Ok(Some(e))
}

fn entry_point_tls(t: &Node, notes: &mut Vec<String>) -> Result<Option<RouterTls>, ConfigError> {
    if !t.section_on().map_err(bad)? {
        return Ok(None);
    }
    let mut f = t.fields().map_err(bad)?;
    let mut tls = RouterTls::default();
    if let Some(c) = f.take("certResolver") {
        tls.cert_resolver = c.text().map_err(bad)?.trim().to_owned();
    }
    if let Some(o) = f.take("options") {
        tls.options = o.text().map_err(bad)?.trim().to_owned();
    }
    if let Some(d) = f.take("domains") {
        let one_table = d.items().is_err()
            && !d.children().is_empty()
            && d.children().iter().all(|c| {
                ["main", "sans"]
                    .iter()
                    .any(|k| c.name.eq_ignore_ascii_case(k))
            });
        if one_table {
            // `[entryPoints.x.http.tls.domains]` (a table) where Traefik wants a list
            // (`[[...domains]]`): its reader makes empty domains of the table's keys, so
            // none is used.
            notes.push(format!(
                "{}: one table where Traefik wants a list of domains ([[...domains]] in TOML): left out, as Traefik leaves it out",
                d.key
            ));
        } else {
            tls.domains = crate::dynamic::tls::domains(d).map_err(bad)?;
        }
    }
    no_more(&f)?;
    Ok(Some(tls))
}

fn providers(n: &Node, s: &mut Static) -> Result<(), ConfigError> {
    let mut f = n.fields().map_err(bad)?;
    if let Some(d) = f.take("docker") {
        if d.section_on().map_err(bad)? {
            s.docker = Some(container_provider(d, false, &mut s.notes)?);
        }
    }
    if let Some(d) = f.take("swarm") {
        if d.section_on().map_err(bad)? {
            s.swarm = Some(container_provider(d, true, &mut s.notes)?);
        }
    }
    if let Some(d) = f.take("file") {
        s.file = Some(file_provider(d, &mut s.notes)?);
    }
    if let Some(d) = f.take("etcd") {
        if d.section_on().map_err(bad)? {
            s.etcd = Some(kv_provider(d, crate::kv::Store::Etcd)?);
        }
    }
    if let Some(d) = f.take("redis") {
        if d.section_on().map_err(bad)? {
            s.redis = Some(kv_provider(d, crate::kv::Store::Redis)?);
        }
    }
    if let Some(d) = f.take("ecs") {
        if d.section_on().map_err(bad)? {
            s.ecs = Some(ecs_provider(d)?);
        }
    }
    for store in ["consul", "consulCatalog", "zooKeeper", "nomad"] {
        if let Some(d) = f.take(store) {
            return Err(value_err(
                d,
                "this provider is not supported (etcd and Redis are, with the same KV layout as Consul and ZooKeeper)",
            ));
        }
    }
    if let Some(t) = f.take("providersThrottleDuration") {
        t.duration().map_err(bad)?;
        s.notes.push(format!(
            "{}: accepted; changes are applied as they come, bursts gathered for 50 ms",
            t.key
        ));
    }
    no_more(&f)?;
    Ok(())
}

fn container_provider(
    d: &Node,
    swarm: bool,
    notes: &mut Vec<String>,
) -> Result<ContainerProvider, ConfigError> {
    let mut f = d.fields().map_err(bad)?;
    let mut p = ContainerProvider::traefik_defaults(swarm);
    if let Some(e) = f.take("endpoint") {
        let v = e.text().map_err(bad)?.trim();
        if ["unix://", "ssh://", "npipe://"]
            .iter()
            .any(|s| v.to_ascii_lowercase().starts_with(s))
        {
            // The Docker daemon itself (its socket, or over SSH), as Traefik's own
            // configurations name it: the router never reaches it; socket-guard at
            // `DOCKER_HOST` takes its place (see merge).
            p.docker_socket = Some((e.key.clone(), v.to_owned()));
        } else {
            p.endpoint = Some(super::legacy::docker_endpoint(&e.key, v)?);
        }
    }
    if let Some(e) = f.take("exposedByDefault") {
        p.exposed_by_default = e.boolean().map_err(bad)?;
        p.exposed_by_default_set = true;
    }
    if let Some(n) = f.take("network") {
        p.network = Some(n.text().map_err(bad)?.trim().to_owned()).filter(|n| !n.is_empty());
    }
    if let Some(r) = f.take("defaultRule") {
        p.default_rule = default_rule(r)?;
    }
    if let Some(c) = f.take("constraints") {
        p.constraints = constraints(c)?;
    }
    if let Some(w) = f.take("watch") {
        p.watch = w.boolean().map_err(bad)?;
    }
    if let Some(a) = f.take("allowEmptyServices") {
        p.allow_empty_services = a.boolean().map_err(bad)?;
    }
    if let Some(t) = f.take("tls") {
        p.tls = Some(container_tls(t)?);
    }
    if let Some(u) = f.take("useBindPortIP") {
        p.use_bind_port_ip = u.boolean().map_err(bad)?;
    }
    if let Some(t) = f.take("httpClientTimeout") {
        // A negative one is 0 in Traefik's SetEffectiveConfiguration.
        signed_duration(t)?;
        notes.push(format!(
            "{}: accepted; requests to socket-guard time out after 10 s",
            t.key
        ));
    }
    if swarm {
        if let Some(r) = f.take("refreshSeconds") {
            match signed_duration(r)? {
                Some(d) if !d.is_zero() => p.refresh = d,
                // As Traefik's SetEffectiveConfiguration: 0 or less is the default, 15 s.
                _ => notes.push(format!(
                    "{}: {} is not above 0: the default 15s is used, as Traefik does",
                    r.key,
                    r.text().unwrap_or("")
                )),
            }
        }
    }
    no_more(&f)?;
    Ok(p)
}

/// A duration that may be negative, as Go's: `None` for a negative one.
fn signed_duration(n: &Node) -> Result<Option<Duration>, ConfigError> {
    let text = n.text().map_err(bad)?.trim();
    match text.strip_prefix('-') {
        Some(rest) => crate::tree::parse_go_duration(rest)
            .map(|_| None)
            .ok_or_else(|| value_err(n, "expected a duration such as 10s or 1m30s")),
        None => n.duration().map(Some).map_err(bad),
    }
}

/// A provider's `defaultRule`: a template the router can render, into a rule that parses.
fn default_rule(r: &Node) -> Result<String, ConfigError> {
    let rule = r.text().map_err(bad)?.to_owned();
    super::check_default_rule(&rule).map_err(|e| value_err(r, &e))?;
    Ok(rule)
}

/// A provider's `constraints` expression, parsed (empty: none). Only the empty text is no
/// constraint, as in Traefik's `MatchLabels`: one of spaces is an expression that does not
/// parse (Traefik then keeps no container, logging the error for each).
fn constraints(c: &Node) -> Result<Option<crate::provider::constraints::Constraints>, ConfigError> {
    let text = c.text().map_err(bad)?;
    if text.is_empty() {
        return Ok(None);
    }
    crate::provider::constraints::Constraints::parse(text)
        .map(Some)
        .map_err(|e| value_err(c, &e))
}

/// `providers.docker.tls` (and `swarm`): Traefik's `ClientTLS` — `ca`, `cert`, `key` (each a
/// file or PEM text) and `insecureSkipVerify`. The client configuration is built here, so a
/// file that cannot be read or a key that does not fit stops the router at start.
fn container_tls(t: &Node) -> Result<crate::dynamic::ClientTls, ConfigError> {
    let tls = crate::dynamic::middleware::forward_auth::client_tls(t).map_err(bad)?;
    crate::client_tls::config(Some(&tls)).map_err(|e| value_err(t, &e))?;
    Ok(tls)
}

/// `providers.etcd` and `providers.redis`: Traefik's `endpoints`, `rootKey`, `username`,
/// `password`, `tls` and (Redis) `db`. Redis's `sentinel` needs a Sentinel deployment this
/// router does not speak to: it is an error rather than a setting without effect.
fn kv_provider(d: &Node, store: crate::kv::Store) -> Result<crate::kv::KvProvider, ConfigError> {
    let mut f = d.fields().map_err(bad)?;
    let mut p = crate::kv::KvProvider::traefik_defaults(store);
    let text = |n: &Node| n.text().map(|t| t.trim().to_owned()).map_err(bad);
    if let Some(e) = f.take("endpoints") {
        p.endpoints = e.strings().map_err(bad)?;
        if p.endpoints.is_empty() {
            return Err(value_err(e, "expected at least one host:port"));
        }
        if let Some(ep) = p.endpoints.iter().find(|ep| !crate::kv::is_endpoint(ep)) {
            return Err(value_err(e, &format!("{ep:?}: expected host:port")));
        }
    }
    if let Some(r) = f.take("rootKey") {
        p.root_key = text(r)?;
        if crate::provider::kv::normalize_root(&p.root_key).is_empty() {
            return Err(value_err(r, "expected a key such as traefik"));
        }
    }
    if let Some(u) = f.take("username") {
        p.username = text(u)?;
    }
    if let Some(pw) = f.take("password") {
        p.password = pw.text().map_err(bad)?.to_owned();
    }
    if let Some(t) = f.take("tls") {
        p.tls = Some(container_tls(t)?);
    }
    if store == crate::kv::Store::Redis {
        if let Some(n) = f.take("db") {
            let db = n.integer().map_err(bad)?;
            if !(0..=i64::from(u16::MAX)).contains(&db) {
                return Err(value_err(n, "expected a database number from 0"));
            }
            p.db = db;
        }
        if let Some(s) = f.take("sentinel") {
            return Err(value_err(
                s,
                "Redis Sentinel is not supported: give the master's address in endpoints",
            ));
        }
    }
    no_more(&f)?;
    if !p.password.is_empty() && p.username.is_empty() && store == crate::kv::Store::Etcd {
        return Err(err(
            &format!("{}.password", d.key),
            "",
            "etcd authenticates a user: set username too",
        ));
    }
    Ok(p)
}

/// `providers.ecs`: Traefik's keys and defaults. `refreshSeconds` is a whole number of seconds
/// above 0, as in Traefik (whose ticker cannot take 0). Credentials given in part (one of
/// `accessKeyID` and `secretAccessKey`) and `ecsAnywhere` (which needs SSM, outside the IAM
/// policy this provider documents) stop the router rather than being ignored.
fn ecs_provider(d: &Node) -> Result<crate::ecs::EcsProvider, ConfigError> {
    let mut f = d.fields().map_err(bad)?;
    let mut p = crate::ecs::EcsProvider::traefik_defaults();
    let text = |n: &Node| n.text().map(|t| t.trim().to_owned()).map_err(bad);
    if let Some(c) = f.take("clusters") {
        p.clusters = c.strings().map_err(bad)?;
        p.clusters.retain(|c| !c.trim().is_empty());
    }
    if let Some(a) = f.take("autoDiscoverClusters") {
        p.auto_discover_clusters = a.boolean().map_err(bad)?;
    }
    if let Some(e) = f.take("exposedByDefault") {
        p.exposed_by_default = e.boolean().map_err(bad)?;
    }
    if let Some(h) = f.take("healthyTasksOnly") {
        p.healthy_tasks_only = h.boolean().map_err(bad)?;
    }
    if let Some(r) = f.take("defaultRule") {
        p.default_rule = default_rule(r)?;
    }
    if let Some(c) = f.take("constraints") {
        p.constraints = constraints(c)?;
    }
    if let Some(r) = f.take("refreshSeconds") {
        let secs = r.integer().map_err(bad)?;
        if secs <= 0 {
            return Err(value_err(r, "expected a number of seconds above 0"));
        }
        p.refresh = Duration::from_secs(secs.unsigned_abs());
    }
    if let Some(r) = f.take("region") {
        p.region = text(r)?;
    }
    if let Some(k) = f.take("accessKeyID") {
        p.access_key_id = text(k)?;
    }
    if let Some(k) = f.take("secretAccessKey") {
        p.secret_access_key = k.text().map_err(bad)?.to_owned();
    }
    if let Some(e) = f.take("endpoint") {
        p.endpoint = text(e)?;
        let ok = p
            .endpoint
            .parse::<http::Uri>()
            .is_ok_and(|u| matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some());
        if !ok {
            return Err(value_err(e, "expected an http:// or https:// URL"));
        }
    }
    if let Some(a) = f.take("ecsAnywhere") {
        if a.boolean().map_err(bad)? {
            return Err(value_err(
                a,
                "ECS Anywhere is not supported (its instances are read through SSM, outside the provider's IAM policy)",
            ));
        }
    }
    no_more(&f)?;
    if p.access_key_id.is_empty() != p.secret_access_key.is_empty() {
        let missing = if p.access_key_id.is_empty() {
            "accessKeyID"
        } else {
            "secretAccessKey"
        };
        return Err(err(
            &format!("{}.{missing}", d.key),
            "",
            "static credentials need both accessKeyID and secretAccessKey (leave both out for the AWS credential chain)",
        ));
    }
    Ok(p)
}

fn file_provider(d: &Node, notes: &mut Vec<String>) -> Result<FileProvider, ConfigError> {
    let mut f = d.fields().map_err(bad)?;
    let mut p = FileProvider {
        filename: None,
        directory: None,
        watch: true,
    };
    if let Some(n) = f.take("filename") {
        p.filename = Some(PathBuf::from(n.text().map_err(bad)?.trim()))
            .filter(|p| !p.as_os_str().is_empty());
    }
    if let Some(n) = f.take("directory") {
        p.directory = Some(PathBuf::from(n.text().map_err(bad)?.trim()))
            .filter(|p| !p.as_os_str().is_empty());
    }
    if let Some(n) = f.take("watch") {
        p.watch = n.boolean().map_err(bad)?;
    }
    if let Some(n) = f.take("debugLogGeneratedTemplate") {
        n.boolean().map_err(bad)?;
        notes.push(format!(
            "{}: accepted; rendered files are logged at debug level",
            n.key
        ));
    }
    no_more(&f)?;
    match (&p.filename, &p.directory) {
        (None, None) => Err(err(
            &d.key,
            "",
            "the file provider needs filename or directory",
        )),
        (Some(_), Some(_)) => Err(err(
            &d.key,
            "",
            "filename and directory are mutually exclusive",
        )),
        _ => Ok(p),
    }
}

fn acme_resolver(n: &Node, notes: &mut Vec<String>) -> Result<AcmeStatic, ConfigError> {
    let mut f = n.fields().map_err(bad)?;
    let mut a = AcmeStatic::default();
    let text = |n: &Node| n.text().map(|t| t.trim().to_owned()).map_err(bad);
    if let Some(e) = f.take("email") {
        a.email = Some(text(e)?);
    }
    if let Some(e) = f.take("caServer") {
        let (url, note) = safe_ca_server(&text(e)?);
        if let Some(note) = note {
            notes.push(format!("{}: {note}", e.key));
        }
        a.ca_server = Some(url);
    }
    if let Some(e) = f.take("storage") {
        let path = text(e)?;
        if path.is_empty() {
            // Traefik's ValidateConfiguration: "no storage location for the certificates".
            return Err(value_err(
                e,
                "no storage location for the certificates: give a file, such as acme.json",
            ));
        }
        a.storage = Some(PathBuf::from(path));
    }
    if let Some(e) = f.take("caCertificates") {
        a.ca_certificates = e
            .strings()
            .map_err(bad)?
            .into_iter()
            .map(PathBuf::from)
            .collect();
    }
    if let Some(e) = f.take("caSystemCertPool") {
        e.boolean().map_err(bad)?;
        notes.push(format!(
            "{}: accepted; the ACME client trusts the Mozilla roots and caCertificates",
            e.key
        ));
    }
    if let Some(e) = f.take("certificatesDuration") {
        let h = e.integer().map_err(bad)?;
        if h <= 0 {
            return Err(value_err(e, "expected a number of hours above 0"));
        }
        a.certificates_duration = Some(h);
    }
    if let Some(e) = f.take("keyType") {
        let k = text(e)?;
        if !["EC256", "EC384", "RSA2048", "RSA4096", "RSA8192"].contains(&k.as_str()) {
            return Err(value_err(
                e,
                "expected EC256, EC384, RSA2048, RSA4096 or RSA8192",
            ));
        }
        if k != "EC256" {
            notes.push(format!(
                "{}: {k} accepted; certificate keys are always ECDSA P-256 (EC256)",
                e.key
            ));
        }
    }
    if let Some(h) = f.take("httpChallenge") {
        let mut hf = h.fields().map_err(bad)?;
        let ep = hf
            .take("entryPoint")
            .ok_or_else(|| err(&h.key, "", "httpChallenge needs an entryPoint"))?;
        a.http_challenge = Some(text(ep)?);
        if let Some(d) = hf.take("delay") {
            d.duration().map_err(bad)?;
        }
        no_more(&hf)?;
    }
    if let Some(t) = f.take("tlsChallenge") {
        a.tls_challenge = t.section_on().map_err(bad)?;
        if let Ok(tf) = t.fields() {
            let mut tf = tf;
            if let Some(d) = tf.take("delay") {
                d.duration().map_err(bad)?;
            }
            no_more(&tf)?;
        }
    }
    if let Some(d) = f.take("dnsChallenge") {
        a.dns_challenge = Some(dns_challenge(d, notes)?);
    }
    no_more(&f)?;
    Ok(a)
}

/// Traefik's `getSafeACMECAServer`: an empty `caServer` is Let's Encrypt's production
/// directory, and Let's Encrypt's retired ACME v1 directories are replaced by their v2 ones
/// (with a note saying so).
fn safe_ca_server(url: &str) -> (String, Option<String>) {
    const STAGING_V1: &str = "https://acme-staging.api.letsencrypt.org";
    if url.is_empty() {
        return (super::LETS_ENCRYPT.to_owned(), None);
    }
    let v2 = if url.starts_with("https://acme-v01.api.letsencrypt.org") {
        url.replacen("v01", "v02", 1)
    } else if let Some(rest) = url.strip_prefix(STAGING_V1) {
        format!("https://acme-staging-v02.api.letsencrypt.org{rest}")
    } else {
        return (url.to_owned(), None);
    };
    let note = format!("{url:?} is an ACME v1 directory: {v2:?} is used instead, as Traefik does");
    (v2, Some(note))
}

/// `dnsChallenge`: the provider (lego's `exec`), the resolvers that check propagation, and
/// the propagation options (and their deprecated spellings).
fn dns_challenge(
    n: &Node,
    notes: &mut Vec<String>,
) -> Result<crate::acme_dns::DnsChallenge, ConfigError> {
    let mut f = n.fields().map_err(bad)?;
    let p = f
        .take("provider")
        .ok_or_else(|| err(&n.key, "", "dnsChallenge needs a provider"))?;
    let provider = p.text().map_err(bad)?.trim().to_owned();
    if provider != "exec" {
        return Err(value_err(
            p,
            "this DNS provider is not supported: `exec` is (lego's external program provider, EXEC_PATH)",
        ));
    }
    let mut d = crate::acme_dns::DnsChallenge::exec_defaults();
    if let Some(r) = f.take("resolvers") {
        for s in r.strings().map_err(bad)? {
            let addr = crate::acme_dns::parse_resolver(&s)
                .ok_or_else(|| err(&r.key, &s, "expected an IP address, with a port or not"))?;
            d.resolvers.push(addr);
        }
    }
    // The deprecated spellings are applied after `propagation`, as Traefik's
    // SetEffectiveConfiguration does: a delay above 0 replaces `delayBeforeChecks`, and `true`
    // turns the checks off whatever `disableChecks` says.
    let delay_before_check = f.take("delayBeforeCheck").map(Node::duration).transpose();
    let disable_propagation_check = f
        .take("disablePropagationCheck")
        .map(Node::boolean)
        .transpose();
    if let Some(p) = f.take("propagation") {
        p.section_on().map_err(bad)?;
        if let Ok(mut pf) = p.fields() {
            if let Some(x) = pf.take("delayBeforeChecks") {
                d.delay = x.duration().map_err(bad)?;
            }
            if let Some(x) = pf.take("disableChecks") {
                d.check = !x.boolean().map_err(bad)?;
            }
            if let Some(x) = pf.take("requireAllRNS") {
                d.all_resolvers = x.boolean().map_err(bad)?;
            }
            if let Some(x) = pf.take("disableANSChecks") {
                x.boolean().map_err(bad)?;
                notes.push(format!(
                    "{}: accepted; propagation is checked against the recursive resolvers, never the authoritative servers",
                    x.key
                ));
            }
            no_more(&pf)?;
        }
    }
    if let Some(delay) = delay_before_check.map_err(bad)?.filter(|d| !d.is_zero()) {
        d.delay = delay;
    }
    if disable_propagation_check.map_err(bad)? == Some(true) {
        d.check = false;
    }
    no_more(&f)?;
    Ok(d)
}

fn api(n: &Node, notes: &mut Vec<String>) -> Result<Option<Api>, ConfigError> {
    if !n.section_on().map_err(bad)? {
        return Ok(None);
    }
    let mut f = n.fields().map_err(bad)?;
    let mut a = Api {
        dashboard: true,
        insecure: false,
        debug: false,
        disable_dashboard_ad: false,
        dashboard_name: String::new(),
    };
    if let Some(d) = f.take("dashboard") {
        a.dashboard = d.boolean().map_err(bad)?;
    }
    if let Some(i) = f.take("insecure") {
        a.insecure = i.boolean().map_err(bad)?;
    }
    if let Some(b) = f.take("basePath") {
        let v = b.text().map_err(bad)?;
        if !valid_base_path(v) {
            return Err(value_err(
                b,
                "expected an absolute URL path: / then letters, digits and /_.:~- only",
            ));
        }
        if v != "/" {
            return Err(value_err(b, "only the base path / is supported"));
        }
    }
    if let Some(d) = f.take("debug") {
        // Traefik's `/debug/vars` and `/debug/pprof/` are Go's runtime's: none here.
        a.debug = d.boolean().map_err(bad)?;
        if a.debug {
            notes.push(format!(
                "{}: accepted; the API's /debug/ endpoints (Go's expvar and pprof) are not served",
                d.key
            ));
        }
    }
    if let Some(d) = f.take("disableDashboardAd") {
        a.disable_dashboard_ad = d.boolean().map_err(bad)?;
    }
    if let Some(d) = f.take("dashboardName") {
        a.dashboard_name = d.text().map_err(bad)?.to_owned();
    }
    no_more(&f)?;
    Ok(Some(a))
}

/// Traefik's `validBasePath` (`^/[a-zA-Z0-9/_.:~-]*$`): what `api.basePath` may be.
fn valid_base_path(v: &str) -> bool {
    v.strip_prefix('/').is_some_and(|rest| {
        rest.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"/_.:~-".contains(&c))
    })
}

fn ping(n: &Node) -> Result<Option<Ping>, ConfigError> {
    if !n.section_on().map_err(bad)? {
        return Ok(None);
    }
    let mut f = n.fields().map_err(bad)?;
    let mut p = Ping {
        entry_point: "traefik".into(),
        manual_routing: false,
        terminating_status: 503,
    };
    if let Some(e) = f.take("entryPoint") {
        p.entry_point = e.text().map_err(bad)?.trim().to_owned();
    }
    if let Some(m) = f.take("manualRouting") {
        p.manual_routing = m.boolean().map_err(bad)?;
    }
    if let Some(t) = f.take("terminatingStatusCode") {
        let v = t.integer().map_err(bad)?;
        // Traefik takes any number here (Go fails only when writing one below 100, while
        // stopping); 0 to 999 are taken, and one below 100 is answered 503.
        p.terminating_status = u16::try_from(v)
            .ok()
            .filter(|c| *c <= 999)
            .ok_or_else(|| value_err(t, "expected an HTTP status code"))?;
    }
    no_more(&f)?;
    Ok(Some(p))
}

fn prometheus(n: &Node) -> Result<Option<Prometheus>, ConfigError> {
    if !n.section_on().map_err(bad)? {
        return Ok(None);
    }
    let mut f = n.fields().map_err(bad)?;
    let mut p = Prometheus {
        entry_point: "traefik".into(),
        manual_routing: false,
        traefik: crate::metrics_traefik::Options::default(),
    };
    if let Some(e) = f.take("entryPoint") {
        p.entry_point = e.text().map_err(bad)?.trim().to_owned();
    }
    if let Some(m) = f.take("manualRouting") {
        p.manual_routing = m.boolean().map_err(bad)?;
    }
    for (k, on) in [
        ("addEntryPointsLabels", &mut p.traefik.entry_points),
        ("addRoutersLabels", &mut p.traefik.routers),
        ("addServicesLabels", &mut p.traefik.services),
    ] {
        if let Some(n) = f.take(k) {
            *on = n.boolean().map_err(bad)?;
        }
    }
    if let Some(b) = f.take("buckets") {
        let mut buckets = Vec::new();
        for v in b.strings().map_err(bad)? {
            buckets.push(
                v.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .ok_or_else(|| value_err(b, "expected numbers"))?,
            );
        }
        // Prometheus' client sorts them; a histogram needs at least one.
        buckets.sort_by(f64::total_cmp);
        buckets.dedup();
        if !buckets.is_empty() {
            p.traefik.buckets = buckets;
        }
    }
    no_more(&f)?;
    Ok(Some(p))
}

fn log(n: &Node, s: &mut Static) -> Result<(), ConfigError> {
    let mut f = n.fields().map_err(bad)?;
    if let Some(l) = f.take("level") {
        let v = l.text().map_err(bad)?.trim().to_ascii_lowercase();
        s.log_level = Some(
            match v.as_str() {
                "trace" => "trace",
                "debug" => "debug",
                "info" => "info",
                "warn" => "warn",
                "error" | "fatal" | "panic" => "error",
                _ => {
                    return Err(value_err(
                        l,
                        "expected TRACE, DEBUG, INFO, WARN, ERROR, FATAL or PANIC",
                    ))
                }
            }
            .to_owned(),
        );
    }
    if let Some(fm) = f.take("format") {
        s.log_json = Some(match fm.text().map_err(bad)?.trim() {
            "json" => true,
            "common" => false,
            _ => return Err(value_err(fm, "expected json or common")),
        });
    }
    accept_bool(
        &mut f,
        "noColor",
        "colours follow the terminal",
        &mut s.notes,
    )?;
    if let Some(p) = f.take("filePath") {
        let path = p.text().map_err(bad)?.trim();
        s.log_file = (!path.is_empty()).then(|| PathBuf::from(path));
    }
    // lumberjack's rotation in Traefik: not done here (the file is appended to; rotate it
    // from outside, as logrotate's `copytruncate` does).
    for key in ["maxSize", "maxAge", "maxBackups"] {
        if let Some(n) = f.take(key) {
            n.integer().map_err(bad)?;
            s.notes.push(format!(
                "{}: accepted; the log file is not rotated by the router",
                n.key
            ));
        }
    }
    accept_bool(
        &mut f,
        "compress",
        "the log file is not rotated by the router",
        &mut s.notes,
    )?;
    no_more(&f)?;
    Ok(())
}

/// `experimental`: Traefik's plugins (`plugins`, `localPlugins`) cannot be loaded here; they
/// are accepted and named at start, and a router whose middlewares include one of theirs is
/// disabled (never served without it). `abortOnPluginFailure=true` with plugins stops the
/// router, as Traefik stops when one fails to load.
fn experimental(n: &Node, notes: &mut Vec<String>) -> Result<(), ConfigError> {
    let mut f = n.fields().map_err(bad)?;
    let mut plugins = Vec::new();
    for k in ["plugins", "localPlugins"] {
        if let Some(p) = f.take(k) {
            for plugin in p.children() {
                notes.push(format!(
                    "{}: plugins are not loaded by this router: a router using one of its middlewares is disabled",
                    plugin.key
                ));
                plugins.push(plugin.key.clone());
            }
        }
    }
    if let Some(a) = f.take("abortOnPluginFailure") {
        if a.boolean().map_err(bad)? && !plugins.is_empty() {
            return Err(value_err(
                a,
                &format!(
                    "plugins cannot be loaded by this router ({}), and this asks to stop when one fails",
                    plugins.join(", ")
                ),
            ));
        }
    }
    no_more(&f)?;
    Ok(())
}

/// `accessLog`: whether it is on, its `addInternals` when set, and Traefik's settings of its
/// lines (format, file, filters, fields).
fn access_log(
    n: &Node,
    notes: &mut Vec<String>,
) -> Result<(bool, Option<bool>, crate::access_log::Settings), ConfigError> {
    use crate::access_log::{Format, Settings};
    let mut settings = Settings::default();
    if !n.section_on().map_err(bad)? {
        return Ok((false, None, settings));
    }
    let mut f = n.fields().map_err(bad)?;
    let internals = match f.take("addInternals") {
        Some(a) => Some(a.boolean().map_err(bad)?),
        None => None,
    };
    if let Some(fm) = f.take("format") {
        // Traefik's names, as its switch compares them (exactly); empty is the default.
        settings.format = match fm.text().map_err(bad)?.trim() {
            "" | "common" => Format::Common,
            "genericCLF" => Format::GenericClf,
            "json" => Format::Json,
            _ => return Err(value_err(fm, "expected common, genericCLF or json")),
        };
    }
    if let Some(b) = f.take("bufferingSize") {
        b.integer().map_err(bad)?;
        notes.push(format!(
            "{}: accepted; access lines are always written in batches",
            b.key
        ));
    }
    if let Some(p) = f.take("filePath") {
        let path = p.text().map_err(bad)?.trim();
        settings.file_path = (!path.is_empty()).then(|| PathBuf::from(path));
    }
    if let Some(fl) = f.take("filters") {
        settings.filters = Some(access_filters(fl)?);
    }
    if let Some(fd) = f.take("fields") {
        access_fields(fd, &mut settings.fields)?;
    }
    no_more(&f)?;
    Ok((true, internals, settings))
}

/// `accessLog.filters`.
fn access_filters(n: &Node) -> Result<crate::access_log::Filters, ConfigError> {
    let mut out = crate::access_log::Filters::default();
    if !n.section_on().map_err(bad)? {
        return Ok(out);
    }
    let mut f = n.fields().map_err(bad)?;
    if let Some(c) = f.take("statusCodes") {
        for code in c.strings().map_err(bad)? {
            // Traefik's `NewHTTPCodeRanges`: `200` or `300-302`, whole numbers (a range
            // Traefik cannot read disables its filter, with an error logged: here the key
            // is refused).
            let (lo, hi) = code.split_once('-').unwrap_or((&code, &code));
            match (lo.parse::<i64>(), hi.parse::<i64>()) {
                (Ok(lo), Ok(hi)) => out.status_codes.push((lo, hi)),
                _ => {
                    return Err(err(
                        &c.key,
                        &code,
                        "expected a status code or a range such as 300-302",
                    ))
                }
            }
        }
    }
    if let Some(r) = f.take("retryAttempts") {
        out.retry_attempts = r.boolean().map_err(bad)?;
    }
    if let Some(d) = f.take("minDuration") {
        out.min_duration = d.duration().map_err(bad)?;
    }
    no_more(&f)?;
    Ok(out)
}

/// `accessLog.fields`: `defaultMode`, `names`, `headers.{defaultMode,names}`,
/// `queryParameters.defaultMode`. Traefik takes a mode it does not know as the default one;
/// here it is an error naming the key.
fn access_fields(n: &Node, out: &mut crate::access_log::Fields) -> Result<(), ConfigError> {
    use crate::access_log::{canonical_header, HeaderMode};
    if !n.section_on().map_err(bad)? {
        return Ok(());
    }
    let keep = |m: &Node| -> Result<bool, ConfigError> {
        match m.text().map_err(bad)?.trim() {
            "keep" => Ok(true),
            "drop" => Ok(false),
            _ => Err(value_err(m, "expected keep or drop")),
        }
    };
    let mode = |m: &Node| -> Result<HeaderMode, ConfigError> {
        match m.text().map_err(bad)?.trim() {
            "keep" => Ok(HeaderMode::Keep),
            "drop" => Ok(HeaderMode::Drop),
            "redact" => Ok(HeaderMode::Redact),
            _ => Err(value_err(m, "expected keep, drop or redact")),
        }
    };
    let mut f = n.fields().map_err(bad)?;
    if let Some(d) = f.take("defaultMode") {
        out.default_keep = keep(d)?;
    }
    if let Some(names) = f.take("names") {
        for m in names.children() {
            out.names.insert(m.name.to_ascii_lowercase(), keep(m)?);
        }
    }
    if let Some(h) = f.take("headers") {
        let mut hf = h.fields().map_err(bad)?;
        if let Some(d) = hf.take("defaultMode") {
            out.headers_default = mode(d)?;
        }
        if let Some(names) = hf.take("names") {
            for m in names.children() {
                out.headers.insert(canonical_header(&m.name), mode(m)?);
            }
        }
        no_more(&hf)?;
    }
    if let Some(q) = f.take("queryParameters") {
        let mut qf = q.fields().map_err(bad)?;
        if let Some(d) = qf.take("defaultMode") {
            out.keep_query = keep(d)?;
        }
        no_more(&qf)?;
    }
    no_more(&f)?;
    Ok(())
}
