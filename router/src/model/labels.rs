//! Container labels (Traefik v2/v3 syntax under a prefix) -> typed definitions.
//!
//! Pure and total: every label either lands in a definition, becomes an error attached to the
//! router, service or middleware it belongs to, or is reported as unsupported. Nothing is
//! dropped silently, and an error only disables what it belongs to (a router whose middleware
//! is broken is disabled too: serving it without, say, its basic auth would fail open).
//! Keywords are case-insensitive (`loadBalancer` = `loadbalancer`); names keep their case.

use std::collections::BTreeMap;
use std::time::Duration;

use ipnet::IpNet;

/// Everything one container's labels define.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSet {
    /// `<prefix>.enable`.
    pub enable: Option<bool>,
    /// `<prefix>.docker.network`.
    pub network: Option<String>,
    /// `<prefix>.docker.lbswarm` (Swarm: balance over the service's virtual IP).
    pub lbswarm: Option<bool>,
    /// Routers by name.
    pub routers: BTreeMap<String, RouterDef>,
    /// Services by name.
    pub services: BTreeMap<String, ServiceDef>,
    /// Middlewares by name.
    pub middlewares: BTreeMap<String, MiddlewareDef>,
    /// Problems: (what they belong to, message).
    pub errors: Vec<LabelError>,
    /// Label keys under the prefix that the router does not support.
    pub unsupported: Vec<String>,
}

/// What a label error disables.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Owner {
    /// A router.
    Router(String),
    /// A service.
    Service(String),
    /// A middleware.
    Middleware(String),
    /// The container as a whole (e.g. `enable` is not a boolean).
    Container,
}

/// One label problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelError {
    /// What it disables.
    pub owner: Owner,
    /// The label key.
    pub label: String,
    /// What is wrong.
    pub message: String,
}

/// `http.routers.<name>.*`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouterDef {
    /// The rule, unparsed (parsed when the table is built).
    pub rule: Option<String>,
    /// `ruleSyntax`: the syntax the rule is written in (`None`: the default).
    pub rule_syntax: Option<crate::model::rule::Syntax>,
    /// Entry points (`web`, `websecure`); `None` = all.
    pub entrypoints: Option<Vec<String>>,
    /// Middleware names, in order.
    pub middlewares: Vec<String>,
    /// Explicit priority.
    pub priority: Option<i64>,
    /// Service name.
    pub service: Option<String>,
    /// `tls=true`.
    pub tls: Option<bool>,
    /// `tls.certresolver`.
    pub certresolver: Option<String>,
}

/// `http.services.<name>.loadbalancer.*`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceDef {
    /// `server.port`.
    pub port: Option<u16>,
    /// `server.scheme` (`http`).
    pub scheme: Option<String>,
    /// `healthcheck.path`.
    pub health_path: Option<String>,
    /// `healthcheck.interval`.
    pub health_interval: Option<Duration>,
}

/// A middleware definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MiddlewareDef {
    /// `stripprefix.prefixes`.
    StripPrefix(Vec<String>),
    /// `addprefix.prefix`.
    AddPrefix(String),
    /// `redirectscheme.scheme`, `.permanent`, `.port`.
    RedirectScheme {
        /// Target scheme.
        scheme: String,
        /// 308 (true) or 307.
        permanent: bool,
        /// Target port, if not the scheme's default.
        port: Option<u16>,
    },
    /// `headers.customrequestheaders.<H>` / `headers.customresponseheaders.<H>`; an empty
    /// value removes the header.
    Headers {
        /// Request headers to set.
        request: Vec<(String, String)>,
        /// Response headers to set (from custom headers and the security options).
        response: Vec<(String, String)>,
        /// `Strict-Transport-Security` value for HTTPS answers (`stsseconds` and friends).
        sts: Option<String>,
    },
    /// `basicauth.users`: `user:hash` entries.
    BasicAuth(Vec<(String, String)>),
    /// `ipallowlist.sourcerange` (also v2's `ipwhitelist`).
    IpAllowList(Vec<IpNet>),
    /// `ratelimit.average` (requests per second) and `.burst`.
    RateLimit {
        /// Sustained rate per second.
        average: u64,
        /// Burst size.
        burst: u64,
    },
    /// `compress=true`.
    Compress,
}

/// Parses the labels under `prefix` (e.g. `traefik`).
pub fn parse(prefix: &str, labels: &BTreeMap<String, String>) -> LabelSet {
    let mut set = LabelSet::default();
    let mut mw_parts: BTreeMap<String, BTreeMap<String, (String, String)>> = BTreeMap::new();
    let dotted = format!("{prefix}.");
    for (key, value) in labels {
        let Some(rest) = key.strip_prefix(&dotted) else {
            continue;
        };
        let parts: Vec<&str> = rest.split('.').collect();
        let lower: Vec<String> = parts.iter().map(|p| p.to_ascii_lowercase()).collect();
        let kw: Vec<&str> = lower.iter().map(String::as_str).collect();
        match kw.as_slice() {
            ["enable"] => match parse_bool(value) {
                Some(b) => set.enable = Some(b),
                None => set.error(
                    Owner::Container,
                    key,
                    format!("expected true or false, got {value:?}"),
                ),
            },
            ["docker", "network"] => set.network = Some(value.trim().to_owned()),
            ["docker", "lbswarm"] => match parse_bool(value) {
                Some(b) => set.lbswarm = Some(b),
                None => set.error(
                    Owner::Container,
                    key,
                    format!("expected true or false, got {value:?}"),
                ),
            },
            ["http", "routers", _, field @ ..] => {
                let name = parts[2].to_owned();
                router_label(&mut set, key, name, field, value);
            }
            ["http", "services", _, "loadbalancer", field @ ..] => {
                let name = parts[2].to_owned();
                service_label(&mut set, key, name, field, value);
            }
            ["http", "middlewares", _, kind, field @ ..] => {
                let entry = mw_parts.entry(parts[2].to_owned()).or_default();
                let field_key = if field.is_empty() {
                    (*kind).to_owned()
                } else {
                    format!("{kind}.{}", field.join("."))
                };
                // Header names keep their case for the custom header maps.
                let original_tail = parts[4..].join(".");
                entry.insert(
                    field_key,
                    (key.clone(), format!("{original_tail}\u{0}{value}")),
                );
            }
            _ => set.unsupported.push(key.clone()),
        }
    }
    for (name, fields) in mw_parts {
        match middleware(&fields) {
            Ok(Some(def)) => {
                set.middlewares.insert(name, def);
            }
            Ok(None) => {
                for (label, _) in fields.values() {
                    set.unsupported.push(label.clone());
                }
            }
            Err((label, message)) => set.error(Owner::Middleware(name), &label, message),
        }
    }
    set
}

impl LabelSet {
    fn error(&mut self, owner: Owner, label: &str, message: String) {
        self.errors.push(LabelError {
            owner,
            label: label.to_owned(),
            message,
        });
    }
}

/// Lenient booleans as Traefik accepts them (Go's strconv.ParseBool).
pub fn parse_bool(v: &str) -> Option<bool> {
    match v.trim() {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn router_label(set: &mut LabelSet, key: &str, name: String, field: &[&str], value: &str) {
    let owner = Owner::Router(name.clone());
    let r = set.routers.entry(name).or_default();
    match field {
        ["rule"] => r.rule = Some(value.to_owned()),
        ["rulesyntax"] => match value.trim().to_ascii_lowercase().as_str() {
            "default" => r.rule_syntax = None,
            v => match crate::model::rule::Syntax::from_name(v) {
                Some(s) => r.rule_syntax = Some(s),
                None => set.error(
                    owner,
                    key,
                    format!("expected v2, v3 or default, got {value:?}"),
                ),
            },
        },
        ["entrypoints"] => r.entrypoints = Some(list(value)),
        ["middlewares"] => {
            let mut names = Vec::new();
            for m in list(value) {
                match m.split_once('@') {
                    None => names.push(m),
                    Some((n, "docker" | "swarm")) => names.push(n.to_owned()),
                    Some((_, provider)) => {
                        set.error(owner.clone(), key, format!("middleware {m:?} is from provider {provider:?}; only this container's labels (@docker) are supported"));
                        return;
                    }
                }
            }
            r.middlewares = names;
        }
        ["priority"] => match value.trim().parse::<i64>() {
            Ok(p) => r.priority = Some(p),
            Err(_) => set.error(owner, key, format!("expected an integer, got {value:?}")),
        },
        ["service"] => {
            r.service = Some(
                value
                    .trim()
                    .trim_end_matches("@docker")
                    .trim_end_matches("@swarm")
                    .to_owned(),
            )
        }
        ["tls"] => match parse_bool(value) {
            Some(b) => r.tls = Some(b),
            None => set.error(owner, key, format!("expected true or false, got {value:?}")),
        },
        ["tls", "certresolver"] => r.certresolver = Some(value.trim().to_owned()),
        _ => set.unsupported.push(key.to_owned()),
    }
}

fn service_label(set: &mut LabelSet, key: &str, name: String, field: &[&str], value: &str) {
    let owner = Owner::Service(name.clone());
    let s = set.services.entry(name).or_default();
    match field {
        ["server", "port"] => match value.trim().parse::<u16>() {
            Ok(p) if p > 0 => s.port = Some(p),
            _ => set.error(owner, key, format!("expected a port number, got {value:?}")),
        },
        ["server", "scheme"] => match value.trim() {
            "http" => s.scheme = Some("http".into()),
            other => set.error(
                owner,
                key,
                format!("scheme {other:?} is not supported (http only)"),
            ),
        },
        ["healthcheck", "path"] => {
            if value.starts_with('/') {
                s.health_path = Some(value.to_owned());
            } else {
                set.error(
                    owner,
                    key,
                    format!("expected a path starting with '/', got {value:?}"),
                );
            }
        }
        ["healthcheck", "interval"] => match parse_duration(value) {
            Some(d) if d >= Duration::from_millis(100) => s.health_interval = Some(d),
            _ => set.error(
                owner,
                key,
                format!("expected a duration such as 10s or 500ms (at least 100ms), got {value:?}"),
            ),
        },
        _ => set.unsupported.push(key.to_owned()),
    }
}

/// Parses Go-style durations: `10s`, `500ms`, `1m30s`, `2h`; a bare number is seconds.
pub fn parse_duration(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = v;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit() && c != '.')?;
        let (num, tail) = rest.split_at(digits);
        let n: f64 = num.parse().ok()?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_len);
        let secs = match unit {
            "ms" => n / 1000.0,
            "s" => n,
            "m" => n * 60.0,
            "h" => n * 3600.0,
            _ => return None,
        };
        total += Duration::try_from_secs_f64(secs).ok()?;
        rest = next;
    }
    Some(total)
}

/// Builds one middleware from its fields (`kind.field` -> (label, "tail\0value")).
/// `Ok(None)`: a middleware kind the router does not support.
fn middleware(
    fields: &BTreeMap<String, (String, String)>,
) -> Result<Option<MiddlewareDef>, (String, String)> {
    let kinds: std::collections::BTreeSet<&str> = fields
        .keys()
        .map(|k| k.split('.').next().unwrap_or(""))
        .collect();
    if kinds.len() != 1 {
        let label = fields
            .values()
            .next()
            .map(|(l, _)| l.clone())
            .unwrap_or_default();
        return Err((
            label,
            format!(
                "a middleware has exactly one type, found {}",
                kinds.into_iter().collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    let value = |k: &str| {
        fields.get(k).map(|(l, v)| {
            (
                l.clone(),
                v.split_once('\u{0}').map_or("", |(_, v)| v).to_owned(),
            )
        })
    };
    let first_label = fields
        .values()
        .next()
        .map(|(l, _)| l.clone())
        .unwrap_or_default();
    let bad = |label: String, msg: String| Err((label, msg));
    let kind = kinds.into_iter().next().unwrap_or("");
    let known: &[&str] = match kind {
        "stripprefix" => &["stripprefix.prefixes", "stripprefix.forceslash"],
        "addprefix" => &["addprefix.prefix"],
        "redirectscheme" => &[
            "redirectscheme.scheme",
            "redirectscheme.permanent",
            "redirectscheme.port",
        ],
        "basicauth" => &["basicauth.users", "basicauth.realm"],
        "ipallowlist" | "ipwhitelist" => &["ipallowlist.sourcerange", "ipwhitelist.sourcerange"],
        "ratelimit" => &["ratelimit.average", "ratelimit.burst", "ratelimit.period"],
        "compress" => &["compress"],
        "headers" => &[
            "headers.stsseconds",
            "headers.stsincludesubdomains",
            "headers.stspreload",
            "headers.framedeny",
            "headers.customframeoptionsvalue",
            "headers.contenttypenosniff",
            "headers.referrerpolicy",
            "headers.contentsecuritypolicy",
            "headers.permissionspolicy",
        ],
        _ => return Ok(None),
    };
    for (k, (label, _)) in fields {
        let header_field = kind == "headers"
            && (k.starts_with("headers.customrequestheaders.")
                || k.starts_with("headers.customresponseheaders."));
        if !known.contains(&k.as_str()) && !header_field {
            return bad(label.clone(), format!("{k} is not supported"));
        }
    }
    let def = match kind {
        "stripprefix" => {
            let (label, v) = value("stripprefix.prefixes")
                .ok_or((first_label, "stripprefix needs prefixes".to_owned()))?;
            let prefixes = list(&v);
            if prefixes.is_empty() || prefixes.iter().any(|p| !p.starts_with('/')) {
                return bad(
                    label,
                    format!("expected prefixes starting with '/', got {v:?}"),
                );
            }
            MiddlewareDef::StripPrefix(prefixes)
        }
        "addprefix" => {
            let (label, v) = value("addprefix.prefix")
                .ok_or((first_label, "addprefix needs a prefix".to_owned()))?;
            if !v.starts_with('/') {
                return bad(
                    label,
                    format!("expected a prefix starting with '/', got {v:?}"),
                );
            }
            MiddlewareDef::AddPrefix(v)
        }
        "redirectscheme" => {
            let (label, scheme) = value("redirectscheme.scheme")
                .ok_or((first_label, "redirectscheme needs a scheme".to_owned()))?;
            if scheme != "https" && scheme != "http" {
                return bad(label, format!("expected http or https, got {scheme:?}"));
            }
            let permanent = match value("redirectscheme.permanent") {
                None => false,
                Some((l, v)) => {
                    parse_bool(&v).ok_or((l, format!("expected true or false, got {v:?}")))?
                }
            };
            let port = match value("redirectscheme.port") {
                None => None,
                Some((l, v)) => Some(
                    v.trim()
                        .parse::<u16>()
                        .map_err(|_| (l, format!("expected a port, got {v:?}")))?,
                ),
            };
            MiddlewareDef::RedirectScheme {
                scheme,
                permanent,
                port,
            }
        }
        "basicauth" => {
            let (label, v) = value("basicauth.users")
                .ok_or((first_label, "basicauth needs users".to_owned()))?;
            let mut users = Vec::new();
            for entry in list(&v) {
                let Some((user, hash)) = entry.split_once(':') else {
                    return bad(label, "expected user:hash entries".into());
                };
                if !crate::model::auth::is_supported_hash(hash) {
                    return bad(
                        label,
                        format!(
                            "user {user:?}: unsupported hash (use bcrypt $2y$, $apr1$ or {{SHA}})"
                        ),
                    );
                }
                users.push((user.to_owned(), hash.to_owned()));
            }
            if users.is_empty() {
                return bad(label, "basicauth needs at least one user".into());
            }
            MiddlewareDef::BasicAuth(users)
        }
        "ipallowlist" | "ipwhitelist" => {
            let (label, v) = value(&format!("{kind}.sourcerange"))
                .ok_or((first_label, "ipallowlist needs sourcerange".to_owned()))?;
            let mut nets = Vec::new();
            for item in list(&v) {
                let net = item
                    .parse::<IpNet>()
                    .or_else(|_| item.parse::<std::net::IpAddr>().map(IpNet::from))
                    .map_err(|_| (label.clone(), format!("invalid CIDR {item:?}")))?;
                nets.push(net);
            }
            if nets.is_empty() {
                return bad(label, "ipallowlist needs at least one range".into());
            }
            MiddlewareDef::IpAllowList(nets)
        }
        "ratelimit" => {
            let num = |k: &str| -> Result<Option<u64>, (String, String)> {
                match value(k) {
                    None => Ok(None),
                    Some((l, v)) => v
                        .trim()
                        .parse::<u64>()
                        .map(Some)
                        .map_err(|_| (l, format!("expected a whole number, got {v:?}"))),
                }
            };
            if let Some((l, p)) = value("ratelimit.period") {
                if parse_duration(&p) != Some(Duration::from_secs(1)) {
                    return bad(l, format!("only a period of 1s is supported, got {p:?}"));
                }
            }
            let average = num("ratelimit.average")?.unwrap_or(0);
            if average == 0 {
                return bad(first_label, "ratelimit needs average > 0".into());
            }
            let burst = num("ratelimit.burst")?.unwrap_or(1).max(1);
            MiddlewareDef::RateLimit { average, burst }
        }
        "compress" => {
            let (label, v) =
                value("compress").ok_or((first_label, "compress needs a value".to_owned()))?;
            match parse_bool(&v) {
                Some(true) => MiddlewareDef::Compress,
                _ => return bad(label, format!("expected true, got {v:?}")),
            }
        }
        _ => {
            let mut request = Vec::new();
            let mut response = Vec::new();
            for (k, (label, tail_value)) in fields {
                let (tail, v) = tail_value.split_once('\u{0}').unwrap_or(("", ""));
                let custom = k.starts_with("headers.customrequestheaders.")
                    || k.starts_with("headers.customresponseheaders.");
                if !custom {
                    continue;
                }
                let header = tail.split_once('.').map_or("", |(_, h)| h);
                if http::HeaderName::from_bytes(header.as_bytes()).is_err() {
                    return bad(label.clone(), format!("invalid header name {header:?}"));
                }
                if http::HeaderValue::from_str(v).is_err() {
                    return bad(label.clone(), "invalid header value".into());
                }
                if k.starts_with("headers.customrequestheaders.") {
                    request.push((header.to_owned(), v.to_owned()));
                } else {
                    response.push((header.to_owned(), v.to_owned()));
                }
            }
            let flag = |k: &str| -> Result<Option<bool>, (String, String)> {
                match value(k) {
                    None => Ok(None),
                    Some((l, v)) => parse_bool(&v)
                        .map(Some)
                        .ok_or((l, format!("expected true or false, got {v:?}"))),
                }
            };
            let text = |k: &str| -> Result<Option<String>, (String, String)> {
                match value(k) {
                    None => Ok(None),
                    Some((l, v)) if http::HeaderValue::from_str(&v).is_err() => {
                        Err((l, "invalid header value".into()))
                    }
                    Some((_, v)) => Ok(Some(v)),
                }
            };
            // Security options become response headers; custom ones given later win.
            let mut security = Vec::new();
            if flag("headers.framedeny")? == Some(true) {
                security.push(("X-Frame-Options".to_owned(), "DENY".to_owned()));
            }
            if let Some(v) = text("headers.customframeoptionsvalue")? {
                security.push(("X-Frame-Options".to_owned(), v));
            }
            match flag("headers.contenttypenosniff")? {
                Some(true) => {
                    security.push(("X-Content-Type-Options".to_owned(), "nosniff".to_owned()))
                }
                Some(false) => security.push(("X-Content-Type-Options".to_owned(), String::new())),
                None => {}
            }
            for (k, h) in [
                ("headers.referrerpolicy", "Referrer-Policy"),
                ("headers.contentsecuritypolicy", "Content-Security-Policy"),
                ("headers.permissionspolicy", "Permissions-Policy"),
            ] {
                if let Some(v) = text(k)? {
                    security.push((h.to_owned(), v));
                }
            }
            security.extend(response);
            let sts = match value("headers.stsseconds") {
                None => None,
                Some((l, v)) => {
                    let secs: u64 = v
                        .trim()
                        .parse()
                        .map_err(|_| (l, format!("expected a number of seconds, got {v:?}")))?;
                    let mut s = format!("max-age={secs}");
                    if flag("headers.stsincludesubdomains")? == Some(true) {
                        s.push_str("; includeSubDomains");
                    }
                    if flag("headers.stspreload")? == Some(true) {
                        s.push_str("; preload");
                    }
                    Some(s)
                }
            };
            MiddlewareDef::Headers {
                request,
                response: security,
                sts,
            }
        }
    };
    Ok(Some(def))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn routers_services_middlewares() {
        let set = parse(
            "traefik",
            &labels(&[
                ("traefik.enable", "true"),
                ("traefik.http.routers.web.rule", "Host(`a.test`)"),
                ("traefik.http.routers.web.entrypoints", "web, websecure"),
                ("traefik.http.routers.web.middlewares", "strip@docker,auth"),
                ("traefik.http.routers.web.priority", "10"),
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
                ("traefik.tcp.routers.x.rule", "HostSNI(`*`)"),
                ("other.label", "x"),
            ]),
        );
        assert_eq!(set.enable, Some(true));
        let r = &set.routers["web"];
        assert_eq!(r.entrypoints, Some(vec!["web".into(), "websecure".into()]));
        assert_eq!(r.middlewares, vec!["strip".to_string(), "auth".to_string()]);
        assert_eq!(set.services["app"].port, Some(8080));
        assert_eq!(
            set.services["app"].health_interval,
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            set.middlewares["strip"],
            MiddlewareDef::StripPrefix(vec!["/api".into(), "/v1".into()])
        );
        assert_eq!(
            set.middlewares["hdr"],
            MiddlewareDef::Headers {
                request: vec![("X-Test".into(), "1".into())],
                response: vec![],
                sts: None,
            }
        );
        assert_eq!(
            set.unsupported,
            vec!["traefik.tcp.routers.x.rule".to_string()]
        );
        assert!(set.errors.is_empty(), "{:?}", set.errors);
    }

    #[test]
    fn errors_belong_to_what_they_break() {
        let set = parse(
            "traefik",
            &labels(&[
                ("traefik.enable", "yes please"),
                ("traefik.http.routers.r.priority", "high"),
                ("traefik.http.services.s.loadbalancer.server.port", "99999"),
                (
                    "traefik.http.middlewares.m.ipallowlist.sourcerange",
                    "10.0.0.0/8, nope",
                ),
                ("traefik.http.middlewares.a.basicauth.users", "u:plaintext"),
                ("traefik.http.middlewares.x.ratelimit.average", "0"),
            ]),
        );
        let owners: Vec<&Owner> = set.errors.iter().map(|e| &e.owner).collect();
        assert!(owners.contains(&&Owner::Container));
        assert!(owners.contains(&&Owner::Router("r".into())));
        assert!(owners.contains(&&Owner::Service("s".into())));
        assert!(owners.contains(&&Owner::Middleware("m".into())));
        assert!(owners.contains(&&Owner::Middleware("a".into())));
        assert!(owners.contains(&&Owner::Middleware("x".into())));
    }

    #[test]
    fn security_header_options() {
        let set = parse(
            "traefik",
            &labels(&[
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
            ]),
        );
        let MiddlewareDef::Headers { response, sts, .. } = &set.middlewares["h"] else {
            panic!("{set:?}")
        };
        assert_eq!(sts.as_deref(), Some("max-age=63072000; includeSubDomains"));
        assert!(response.contains(&(
            "Content-Security-Policy".into(),
            "default-src 'self'".into()
        )));
        // The custom (empty = remove) value comes after the option, so it wins.
        let frame: Vec<_> = response
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("x-frame-options"))
            .collect();
        assert_eq!(frame.last().map(|(_, v)| v.as_str()), Some(""));
    }

    #[test]
    fn unsupported_middlewares_are_reported() {
        let set = parse(
            "traefik",
            &labels(&[("traefik.http.middlewares.c.circuitbreaker.expression", "x")]),
        );
        assert_eq!(
            set.unsupported,
            vec!["traefik.http.middlewares.c.circuitbreaker.expression".to_string()]
        );
        assert!(set.middlewares.is_empty());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("5"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("5x"), None);
        assert_eq!(parse_duration(""), None);
    }
}
