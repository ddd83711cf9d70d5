//! `api@internal`: Traefik's API paths in Traefik's JSON shapes, so that tools and scripts
//! that read Traefik's API work: `/api/version`, `/api/overview`, `/api/entrypoints[/{name}]`,
//! `/api/http/{routers,services,middlewares}[/{name}]` (with Traefik's `search`, `status`,
//! `serviceName`, `middlewareName`, `sortBy`, `direction`, `page` and `per_page` and the
//! `X-Next-Page` header), `/api/rawdata`, and `/api/tcp/{routers,services,middlewares}[/{name}]`
//! and `/api/udp/{routers,services}[/{name}]` (the same; `middlewareName` for TCP routers
//! alone). Pure: built from the table in service and the configuration.

use std::collections::BTreeMap;

use hyper::StatusCode;
use serde_json::{json, Map, Value};

use crate::config::{Config, EntryPoint};
use crate::model::table::{ElementInfo, RouteTable};

/// An answer: status, JSON body, and the next page when the list is paginated.
#[derive(Debug)]
pub struct ApiAnswer {
    /// The status.
    pub status: StatusCode,
    /// The body.
    pub body: Value,
    /// `X-Next-Page`.
    pub next_page: Option<usize>,
}

impl ApiAnswer {
    /// A 200 with `body`.
    pub fn ok(body: Value) -> ApiAnswer {
        ApiAnswer {
            status: StatusCode::OK,
            body,
            next_page: None,
        }
    }

    /// A path the API does not have: 404 with no JSON body (Traefik's is mux's plain
    /// `404 page not found`, which the caller writes).
    pub fn no_such_path() -> ApiAnswer {
        ApiAnswer {
            status: StatusCode::NOT_FOUND,
            body: Value::Null,
            next_page: None,
        }
    }

    /// An error, in Traefik's shape (`{"message": ...}`).
    pub fn error(status: StatusCode, message: String) -> ApiAnswer {
        ApiAnswer {
            status,
            body: json!({ "message": message }),
            next_page: None,
        }
    }
}

fn ok(body: Value) -> ApiAnswer {
    ApiAnswer::ok(body)
}

fn error(status: StatusCode, message: String) -> ApiAnswer {
    ApiAnswer::error(status, message)
}

/// When the router started (taken when its shared state is made): `/api/version`'s
/// `startDate`, as Traefik's.
pub static STARTED: std::sync::LazyLock<std::time::SystemTime> =
    std::sync::LazyLock::new(std::time::SystemTime::now);

/// `/api/version`: Traefik's fields (`Version`, `Codename`, `startDate` in RFC 3339, UTC, and
/// `api.disableDashboardAd` and `api.dashboardName` when set).
fn version(config: &Config) -> Value {
    let mut start = String::new();
    let _ = log_writer::write_timestamp(&mut start, *STARTED);
    let mut v =
        json!({ "Version": env!("CARGO_PKG_VERSION"), "Codename": "router", "startDate": start });
    if let Some(api) = &config.api {
        if api.disable_dashboard_ad {
            v["disableDashboardAd"] = json!(true);
        }
        if !api.dashboard_name.is_empty() {
            v["dashboardName"] = json!(api.dashboard_name);
        }
    }
    v
}

/// Answers `GET path?query` (`path` as received, `query` raw).
pub fn answer(path: &str, query: Option<&str>, table: &RouteTable, config: &Config) -> ApiAnswer {
    answer_with(path, query, table, config, &|_, _| false)
}

/// Whether a server of a service failed its health check: (service, server URL).
pub type Failed<'a> = &'a dyn Fn(&str, &str) -> bool;

/// [`answer`] with what the health checks found: a server that failed its check is `DOWN`
/// in its service's `serverStatus`, as Traefik's health checker marks it.
pub fn answer_with(
    path: &str,
    query: Option<&str>,
    table: &RouteTable,
    config: &Config,
    failed: Failed<'_>,
) -> ApiAnswer {
    let q = Query::parse(query);
    let tail = |prefix: &str| {
        path.strip_prefix(prefix).map(|id| {
            crate::model::rule::routing_path(id).map_or(id.to_owned(), |c| percent_decode(&c))
        })
    };
    match path {
        "/api/version" => ok(version(config)),
        "/api/overview" => ok(overview(table, config)),
        "/api/rawdata" => ok(rawdata(table, failed)),
        "/api/entrypoints" => list(entry_points(config), &q),
        "/api/http/routers" => list(sorted(routers(table, &q), &q), &q),
        "/api/http/services" => list(sorted(services(table, &q, failed), &q), &q),
        "/api/http/middlewares" => list(sorted(middlewares(table, &q), &q), &q),
        "/api/tcp/routers" => list(
            sorted(
                stream_routers(&table.api().tcp_routers, &q, tcp_router, true),
                &q,
            ),
            &q,
        ),
        "/api/tcp/services" => list(sorted(typed_list(&table.api().tcp_services, &q), &q), &q),
        "/api/tcp/middlewares" => {
            list(sorted(typed_list(&table.api().tcp_middlewares, &q), &q), &q)
        }
        "/api/udp/routers" => list(
            sorted(
                stream_routers(&table.api().udp_routers, &q, stream_router, false),
                &q,
            ),
            &q,
        ),
        "/api/udp/services" => list(sorted(typed_list(&table.api().udp_services, &q), &q), &q),
        _ => {
            if let Some(name) = tail("/api/entrypoints/") {
                return match config.entry_point(&name) {
                    Some(ep) => ok(entry_point(ep)),
                    None => error(
                        StatusCode::NOT_FOUND,
                        format!("entry point not found: {name}"),
                    ),
                };
            }
            if let Some(found) = stream_element(path, table) {
                return found;
            }
            for (prefix, kind) in [
                ("/api/http/routers/", "router"),
                ("/api/http/services/", "service"),
                ("/api/http/middlewares/", "middleware"),
            ] {
                if let Some(name) = tail(prefix) {
                    let found = match kind {
                        "router" => table.api().routers.get(&name).map(|i| router(&name, i)),
                        "service" => table
                            .api()
                            .services
                            .get(&name)
                            .map(|i| service(&name, i, table, failed)),
                        _ => table
                            .api()
                            .middlewares
                            .get(&name)
                            .map(|i| middleware(&name, i)),
                    };
                    return match found {
                        Some(v) => ok(v),
                        None => error(StatusCode::NOT_FOUND, format!("{kind} not found: {name}")),
                    };
                }
            }
            ApiAnswer::no_such_path()
        }
    }
}

/// `/api/{tcp,udp}/{routers,services,middlewares}/{name}`, when `path` is one of them.
fn stream_element(path: &str, table: &RouteTable) -> Option<ApiAnswer> {
    let (kind, name) = [
        "/api/tcp/routers/",
        "/api/tcp/services/",
        "/api/tcp/middlewares/",
        "/api/udp/routers/",
        "/api/udp/services/",
    ]
    .into_iter()
    .find_map(|p| path.strip_prefix(p).map(|n| (p, n)))?;
    let name =
        crate::model::rule::routing_path(name).map_or(name.to_owned(), |c| percent_decode(&c));
    let a = &table.api();
    let found = match kind {
        "/api/tcp/routers/" => a.tcp_routers.get(&name).map(|i| tcp_router(&name, i)),
        "/api/tcp/services/" => a.tcp_services.get(&name).map(|i| typed(&name, i)),
        "/api/tcp/middlewares/" => a.tcp_middlewares.get(&name).map(|i| typed(&name, i)),
        "/api/udp/routers/" => a.udp_routers.get(&name).map(|i| stream_router(&name, i)),
        _ => a.udp_services.get(&name).map(|i| typed(&name, i)),
    };
    let what = kind
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("element");
    Some(match found {
        Some(v) => ok(v),
        None => error(
            StatusCode::NOT_FOUND,
            format!("{} not found: {name}", what.trim_end_matches('s')),
        ),
    })
}

/// A TCP or UDP router, with Traefik's runtime fields.
fn stream_router<T: serde::Serialize>(name: &str, info: &ElementInfo<T>) -> Value {
    Value::Object(element(name, info, "using"))
}

/// A TCP router: with `priorityStr`, as Traefik's `tcpRouterRepresentation` has it (a UDP
/// router has no priority, and Traefik gives it none).
fn tcp_router(name: &str, info: &ElementInfo<crate::dynamic::tcp::TcpRouter>) -> Value {
    let mut m = element(name, info, "using");
    // As Traefik's runtime has it: an unset priority is the rule's default one (-1 for the
    // catch-all `HostSNI(`*`)`, else the rule's length).
    use crate::model::rule::{tcp, Syntax};
    let priority = info.def.as_ref().map_or(0, |r| match r.priority {
        0 => tcp::TcpRule::parse_with(&r.rule, r.rule_syntax.unwrap_or(Syntax::V3))
            .map_or(r.rule.len() as i64, |t| tcp::default_priority(&t, &r.rule)),
        p => p,
    });
    set_priority(&mut m, priority);
    qualify_middlewares(&mut m, name);
    Value::Object(m)
}

/// `priority` and `priorityStr`, as Traefik shows them (no `priority` when 0).
fn set_priority(m: &mut Map<String, Value>, priority: i64) {
    if priority != 0 {
        m.insert("priority".into(), json!(priority));
    }
    m.insert("priorityStr".into(), json!(priority.to_string()));
}

/// A router's `middlewares` named with their provider, as Traefik's runtime lists them (and
/// `middlewareName` filters them).
fn qualify_middlewares(m: &mut Map<String, Value>, router: &str) {
    let provider = provider_of(router);
    if let Some(l) = m.get_mut("middlewares").and_then(Value::as_array_mut) {
        for v in l {
            if let Some(n) = v.as_str() {
                *v = json!(crate::dynamic::resolve(n, provider));
            }
        }
    }
}

/// The TCP or UDP routers `q` keeps, each as `show` shows it. `middlewareName` is read for
/// TCP routers alone (a router whose `middlewares` hold that name as written), as Traefik's
/// `keepTCPRouter` does and its `keepUDPRouter` does not.
fn stream_routers<T: serde::Serialize>(
    items: &BTreeMap<String, ElementInfo<T>>,
    q: &Query,
    show: fn(&str, &ElementInfo<T>) -> Value,
    by_middleware: bool,
) -> Vec<Value> {
    items
        .iter()
        .map(|(name, i)| (name, show(name, i), i.status))
        .filter(|(name, v, status)| {
            let rule = v.get("rule").and_then(Value::as_str).unwrap_or("");
            let service = v.get("service").and_then(Value::as_str).unwrap_or("");
            let service_ok = q.service.is_empty()
                || q.service == service
                || q.service.split('@').next() == Some(service);
            let mw_ok = !by_middleware
                || q.middleware.is_empty()
                || v.get("middlewares")
                    .and_then(Value::as_array)
                    .is_some_and(|l| l.iter().any(|m| m.as_str() == Some(&q.middleware)));
            q.keep(status, &[rule, name]) && service_ok && mw_ok
        })
        .map(|(_, v, _)| v)
        .collect()
}

/// A service or middleware with its `type` (its one key, lower case), as Traefik lists them.
fn typed<T: serde::Serialize>(name: &str, info: &ElementInfo<T>) -> Value {
    let mut m = element(name, info, "usedBy");
    let kind = m
        .keys()
        .find(|k| !["name", "provider", "status", "error", "usedBy"].contains(&k.as_str()))
        .map(|k| k.to_ascii_lowercase());
    if let Some(k) = kind {
        m.insert("type".into(), json!(k));
    }
    Value::Object(m)
}

fn typed_list<T: serde::Serialize>(
    items: &BTreeMap<String, ElementInfo<T>>,
    q: &Query,
) -> Vec<Value> {
    items
        .iter()
        .filter(|(name, i)| q.keep(i.status, &[name]))
        .map(|(name, i)| typed(name, i))
        .collect()
}

fn percent_decode(s: &str) -> String {
    crate::model::rule::matcher::query_unescape(&s.replace('+', "%2B"))
        .unwrap_or_else(|| s.to_owned())
}

/// The query parameters Traefik's API reads.
#[derive(Debug, Default)]
struct Query {
    search: String,
    status: String,
    service: String,
    middleware: String,
    page: Option<String>,
    per_page: Option<String>,
    sort_by: String,
    direction: String,
}

impl Query {
    fn parse(raw: Option<&str>) -> Query {
        let mut q = Query::default();
        for pair in raw.unwrap_or("").split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = crate::model::rule::matcher::query_unescape(v).unwrap_or_default();
            match k {
                "search" => q.search = v,
                "status" => q.status = v,
                "serviceName" => q.service = v,
                "middlewareName" => q.middleware = v,
                "page" => q.page = Some(v),
                "per_page" => q.per_page = Some(v),
                "sortBy" => q.sort_by = v,
                "direction" => q.direction = v,
                _ => {}
            }
        }
        q
    }

    fn keep(&self, status: &str, searched: &[&str]) -> bool {
        (self.status.is_empty() || self.status.eq_ignore_ascii_case(status))
            && (self.search.is_empty()
                || searched
                    .iter()
                    .any(|v| v.to_lowercase().contains(&self.search.to_lowercase())))
    }
}

/// `items` in the order `sortBy` and `direction` ask for, as Traefik's `sortRouters`,
/// `sortServices` and `sortMiddlewares`: by `name` (unknown or absent `sortBy` too),
/// `provider`, `status`, `rule`, `service`, `type`, `priority`, `entryPoints` (their count) or
/// `servers` (the load balancer's count), equal values by name; ascending for `asc` or no
/// `direction`, descending for anything else. A field an element kind does not have is equal
/// for all of them, so sorting by it is sorting by name, as Traefik does for a field it does
/// not sort that kind by.
fn sorted(mut items: Vec<Value>, q: &Query) -> Vec<Value> {
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let count = |v: Option<&Value>| v.and_then(Value::as_array).map_or(0, Vec::len) as i64;
    let key = |v: &Value| -> (i64, String) {
        match q.sort_by.as_str() {
            f @ ("provider" | "status" | "rule" | "service" | "type") => (0, text(v, f)),
            "priority" => (
                v.get("priority").and_then(Value::as_i64).unwrap_or(0),
                String::new(),
            ),
            "entryPoints" => (count(v.get("entryPoints")), String::new()),
            "servers" => (count(v.pointer("/loadBalancer/servers")), String::new()),
            _ => (0, String::new()),
        }
    };
    let mut keyed: Vec<((i64, String), String, Value)> = items
        .drain(..)
        .map(|v| (key(&v), text(&v, "name"), v))
        .collect();
    keyed.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    if !(q.direction.is_empty() || q.direction == "asc") {
        keyed.reverse();
    }
    keyed.into_iter().map(|(_, _, v)| v).collect()
}

/// The entry points, by name (Traefik sorts them so, whatever `sortBy` says).
fn entry_points(config: &Config) -> Vec<Value> {
    let mut eps: Vec<&EntryPoint> = config.entry_points.iter().collect();
    eps.sort_by(|a, b| a.name.cmp(&b.name));
    eps.into_iter().map(entry_point).collect()
}

/// A page of `items` (Traefik's pagination: 100 per page by default). A `per_page` or `page`
/// that is not a whole number above 0 is a 400 naming it with the number read (0 when it is
/// not one), as Traefik's `getIntParam` answers, `per_page` first.
fn list(items: Vec<Value>, q: &Query) -> ApiAnswer {
    let int = |v: &Option<String>, key: &str, default: usize| match v.as_deref() {
        None | Some("") => Ok(default),
        Some(t) => {
            let n = t.parse::<i64>().unwrap_or(0);
            usize::try_from(n)
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("invalid request: {key}: {n}"))
        }
    };
    let (per_page, page) = match (int(&q.per_page, "per_page", 100), int(&q.page, "page", 1)) {
        (Ok(p), Ok(n)) => (p, n),
        (Err(e), _) | (_, Err(e)) => return error(StatusCode::BAD_REQUEST, e),
    };
    let start = (page - 1) * per_page;
    if start != 0 && start >= items.len() {
        return error(
            StatusCode::BAD_REQUEST,
            format!("invalid request: page: {page}, per_page: {per_page}"),
        );
    }
    let end = (start + per_page).min(items.len());
    let next = if page * per_page < items.len() {
        page + 1
    } else {
        1
    };
    ApiAnswer {
        status: StatusCode::OK,
        body: Value::Array(items[start..end].to_vec()),
        next_page: Some(next),
    }
}

fn provider_of(name: &str) -> &str {
    name.split_once('@').map_or("", |(_, p)| p)
}

/// An element's definition as a JSON object, with Traefik's runtime fields added.
fn element<T: serde::Serialize>(
    name: &str,
    info: &ElementInfo<T>,
    used_key: &str,
) -> Map<String, Value> {
    let mut m = match info.def.as_ref().map(serde_json::to_value) {
        Some(Ok(Value::Object(m))) => m,
        _ => Map::new(),
    };
    m.insert("name".into(), json!(name));
    m.insert("provider".into(), json!(provider_of(name)));
    m.insert("status".into(), json!(info.status));
    if !info.errors.is_empty() {
        m.insert("error".into(), json!(info.errors));
    }
    if !info.using.is_empty() {
        m.insert(used_key.into(), json!(info.using));
    }
    m
}

fn router(name: &str, info: &ElementInfo<crate::dynamic::Router>) -> Value {
    let mut m = element(name, info, "using");
    // As Traefik's runtime has it: an unset priority is the rule's length.
    let priority = info.def.as_ref().map_or(0, |r| match r.priority {
        0 => r.rule.len() as i64,
        p => p,
    });
    set_priority(&mut m, priority);
    qualify_middlewares(&mut m, name);
    if let Some(tls) = m.get_mut("tls").and_then(Value::as_object_mut) {
        tls.entry("options").or_insert(json!("default"));
    }
    Value::Object(m)
}

fn service(
    name: &str,
    info: &ElementInfo<crate::dynamic::Service>,
    table: &RouteTable,
    failed: Failed<'_>,
) -> Value {
    let mut m = element(name, info, "usedBy");
    let internal = info.def.as_ref().is_some_and(|s| s.internal.is_some());
    if internal {
        m.remove("loadBalancer");
    } else if let Some(def) = &info.def {
        // Its kind, lower case, as Traefik's `extractType` names it.
        let kind = match def {
            d if d.weighted.is_some() => "weighted",
            d if d.failover.is_some() => "failover",
            d if d.mirroring.is_some() => "mirroring",
            _ => "loadbalancer",
        };
        m.insert("type".into(), json!(kind));
        let status: BTreeMap<&str, &str> = table
            .services
            .get(name)
            .map(|s| {
                s.backends
                    .iter()
                    .filter(|b| !b.url.is_empty())
                    .map(|b| {
                        let up = b.status.is_ready() && !failed(name, &b.url);
                        (b.url.as_str(), if up { "UP" } else { "DOWN" })
                    })
                    .collect()
            })
            .unwrap_or_default();
        if !status.is_empty() {
            m.insert("serverStatus".into(), json!(status));
        }
    }
    Value::Object(m)
}

fn middleware(name: &str, info: &ElementInfo<crate::dynamic::Middleware>) -> Value {
    typed(name, info)
}

fn routers(table: &RouteTable, q: &Query) -> Vec<Value> {
    table
        .api()
        .routers
        .iter()
        .filter(|(name, i)| {
            let (rule, service, mws) = i.def.as_ref().map_or(("", "", &[][..]), |r| {
                (
                    r.rule.as_str(),
                    r.service.as_str(),
                    r.middlewares.as_slice(),
                )
            });
            let service_ok = q.service.is_empty()
                || if service.contains('@') {
                    q.service == service
                } else {
                    q.service.split('@').next() == Some(service)
                };
            // By the qualified name, as Traefik's runtime lists them.
            let provider = provider_of(name);
            let mw_ok = q.middleware.is_empty()
                || mws
                    .iter()
                    .any(|m| crate::dynamic::resolve(m, provider) == q.middleware);
            q.keep(i.status, &[rule, name]) && service_ok && mw_ok
        })
        .map(|(name, i)| router(name, i))
        .collect()
}

fn services(table: &RouteTable, q: &Query, failed: Failed<'_>) -> Vec<Value> {
    table
        .api()
        .services
        .iter()
        .filter(|(name, i)| q.keep(i.status, &[name]))
        .map(|(name, i)| service(name, i, table, failed))
        .collect()
}

fn middlewares(table: &RouteTable, q: &Query) -> Vec<Value> {
    table
        .api()
        .middlewares
        .iter()
        .filter(|(name, i)| q.keep(i.status, &[name]))
        .map(|(name, i)| middleware(name, i))
        .collect()
}

fn entry_point(ep: &EntryPoint) -> Value {
    let secs = crate::tree::go_duration_text;
    // As Traefik's JSON: `omitempty` drops a `false` and an empty list.
    let trust = |t: &crate::config::Trust| {
        let mut m = Map::new();
        if t.insecure {
            m.insert("insecure".into(), json!(true));
        }
        if !t.trusted_ips.is_empty() {
            let ips: Vec<String> = t.trusted_ips.iter().map(ToString::to_string).collect();
            m.insert("trustedIPs".into(), json!(ips));
        }
        Value::Object(m)
    };
    let mut http = Map::new();
    if let Some(r) = &ep.redirect {
        http.insert(
            "redirections".into(),
            json!({ "entryPoint": { "to": r.to, "scheme": r.scheme, "permanent": r.permanent, "priority": r.priority } }),
        );
    }
    if !ep.middlewares.is_empty() {
        http.insert("middlewares".into(), json!(ep.middlewares));
    }
    if let Some(t) = &ep.tls {
        http.insert("tls".into(), serde_json::to_value(t).unwrap_or(json!({})));
    }
    http.insert("maxHeaderBytes".into(), json!(ep.max_header_bytes));
    // As Traefik's JSON: `omitempty` drops a `false`.
    if ep.http.encode_query_semicolons {
        http.insert("encodeQuerySemicolons".into(), json!(true));
    }
    http.insert("sanitizePath".into(), json!(ep.http.sanitize_path));
    http.insert(
        "underscoreHeadersStrategy".into(),
        json!(ep.http.underscores.name()),
    );
    if let Some(e) = &ep.http.encoded_characters {
        let mut m = Map::new();
        for (k, on) in [
            ("allowEncodedSlash", e.slash),
            ("allowEncodedBackSlash", e.back_slash),
            ("allowEncodedNullCharacter", e.null_character),
            ("allowEncodedSemicolon", e.semicolon),
            ("allowEncodedPercent", e.percent),
            ("allowEncodedQuestionMark", e.question_mark),
            ("allowEncodedHash", e.hash),
        ] {
            if on {
                m.insert(k.into(), json!(true));
            }
        }
        http.insert("encodedCharacters".into(), Value::Object(m));
    }
    let address = match ep.udp {
        Some(_) => format!("{}/udp", ep.address),
        None => ep.address.to_string(),
    };
    let mut m = json!({
        "name": ep.name,
        "address": address,
        "transport": {
            "lifeCycle": { "graceTimeOut": secs(ep.grace_timeout) },
            "respondingTimeouts": { "readTimeout": secs(ep.header_timeout), "idleTimeout": secs(ep.idle_timeout) },
        },
        "forwardedHeaders": trust(&ep.forwarded),
        "http": http,
        "http2": {
            "maxConcurrentStreams": ep.max_concurrent_streams,
            "maxDecoderHeaderTableSize": ep.h2_decoder_table,
            "maxEncoderHeaderTableSize": ep.h2_encoder_table,
        },
    });
    if let Some(obj) = m.as_object_mut() {
        if let Some(p) = &ep.proxy_protocol {
            obj.insert("proxyProtocol".into(), trust(p));
        }
        // `asDefault` as the configuration sets it (omitted unless `true`, as Traefik's).
        if ep.as_default {
            obj.insert("asDefault".into(), json!(true));
        }
        if let Some(t) = ep.udp {
            obj.insert(
                "udp".into(),
                json!({ "timeout": crate::tree::go_duration_text(t) }),
            );
        }
    }
    m
}

fn count<T>(items: &BTreeMap<String, ElementInfo<T>>) -> Value {
    let of = |s: &str| items.values().filter(|i| i.status == s).count();
    json!({ "total": items.len(), "warnings": of("warning"), "errors": of("disabled") })
}

fn overview(table: &RouteTable, config: &Config) -> Value {
    let mut providers = Vec::new();
    for (on, name) in [
        (config.docker.is_some(), "Docker"),
        (config.swarm.is_some(), "Swarm"),
        (config.file.is_some(), "File"),
        (config.etcd.is_some(), "Etcd"),
        (config.redis.is_some(), "Redis"),
        (config.ecs.is_some(), "Ecs"),
    ] {
        if on {
            providers.push(name);
        }
    }
    json!({
        "http": {
            "routers": count(&table.api().routers),
            "services": count(&table.api().services),
            "middlewares": count(&table.api().middlewares),
        },
        "tcp": {
            "routers": count(&table.api().tcp_routers),
            "services": count(&table.api().tcp_services),
            "middlewares": count(&table.api().tcp_middlewares),
        },
        "udp": {
            "routers": count(&table.api().udp_routers),
            "services": count(&table.api().udp_services),
        },
        "features": {
            "tracing": "",
            "metrics": if config.prometheus.is_some() { "Prometheus" } else { "" },
            "accessLog": config.access_log,
        },
        "providers": providers,
    })
}

fn rawdata(table: &RouteTable, failed: Failed<'_>) -> Value {
    let mut routers = Map::new();
    for (n, i) in &table.api().routers {
        routers.insert(n.clone(), router(n, i));
    }
    let mut services = Map::new();
    for (n, i) in &table.api().services {
        services.insert(n.clone(), service(n, i, table, failed));
    }
    let mut middlewares = Map::new();
    for (n, i) in &table.api().middlewares {
        middlewares.insert(n.clone(), middleware(n, i));
    }
    let a = &table.api();
    json!({
        "routers": routers,
        "services": services,
        "middlewares": middlewares,
        "tcpRouters": by_name(&a.tcp_routers, tcp_router),
        "tcpServices": by_name(&a.tcp_services, typed),
        "tcpMiddlewares": by_name(&a.tcp_middlewares, typed),
        "udpRouters": by_name(&a.udp_routers, stream_router),
        "udpServices": by_name(&a.udp_services, typed),
    })
}

/// Every element as `f` shows it, by name.
fn by_name<T>(
    items: &BTreeMap<String, ElementInfo<T>>,
    f: fn(&str, &ElementInfo<T>) -> Value,
) -> Map<String, Value> {
    items.iter().map(|(n, i)| (n.clone(), f(n, i))).collect()
}

/// Traefik's API tables (pkg/api/*_test.go and their testdata), as data.
#[cfg(test)]
mod traefik_tables;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_has_traefiks_fields_and_the_start_date() {
        let table = crate::provider::file::compile_yaml("", &[]);
        let config = Config::from_env(&std::collections::HashMap::new()).unwrap();
        let v = answer("/api/version", None, &table, &config).body;
        assert_eq!(v["Codename"], "router");
        assert_eq!(v["Version"], env!("CARGO_PKG_VERSION"));
        // RFC 3339 in UTC, as Go's time.Time marshals (`2026-12-06T18:45:00.123456Z`): the
        // time the router started, not the time of the request.
        let date = v["startDate"].as_str().unwrap();
        let mut started = String::new();
        log_writer::write_timestamp(&mut started, *STARTED).unwrap();
        assert_eq!(date, started);
        assert!(date.len() == 27 && date.as_bytes()[10] == b'T', "{date}");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let again = answer("/api/version", None, &table, &config).body;
        assert_eq!(again["startDate"], v["startDate"]);
        // `api.disableDashboardAd` and `api.dashboardName`, left out unless set (omitempty).
        assert!(v.get("disableDashboardAd").is_none() && v.get("dashboardName").is_none());
        let args = crate::config::sources::parse_args(&[
            "--api.disabledashboardad=true".into(),
            "--api.dashboardname=Edge".into(),
        ])
        .unwrap();
        let config = Config::load(&std::collections::HashMap::new(), &args, false).unwrap();
        let v = answer("/api/version", None, &table, &config).body;
        assert_eq!(
            (&v["disableDashboardAd"], &v["dashboardName"]),
            (&json!(true), &json!("Edge"))
        );
    }

    #[test]
    fn tcp_and_udp_elements_in_traefiks_shapes() {
        let yaml = "tcp:\n  routers:\n    db:\n      rule: HostSNI(`db.test`)\n      service: pg\n      middlewares: [lan]\n      tls:\n        passthrough: true\n    broken:\n      rule: HostSNI(`*`)\n      service: missing\n  services:\n    pg:\n      loadBalancer:\n        servers: [{address: '10.0.0.1:5432'}]\n  middlewares:\n    lan:\n      ipAllowList:\n        sourceRange: [10.0.0.0/8]\nudp:\n  routers:\n    dns:\n      service: dns\n  services:\n    dns:\n      loadBalancer:\n        servers: [{address: '10.0.0.2:53'}]\n";
        let table = crate::provider::file::compile_yaml(yaml, &[]);
        let config = Config::from_env(&std::collections::HashMap::new()).unwrap();
        let get = |path: &str, q: Option<&str>| answer(path, q, &table, &config);

        let a = get("/api/tcp/routers", None);
        assert_eq!(a.status, StatusCode::OK);
        let list = a.body.as_array().unwrap();
        assert_eq!(list.len(), 2);
        let db = get("/api/tcp/routers/db@file", None).body;
        assert_eq!(db["status"], "enabled");
        assert_eq!(db["tls"]["passthrough"], true);
        assert_eq!(db["using"], json!(["https"]));
        assert_eq!(db["provider"], "file");
        let broken = get("/api/tcp/routers/broken@file", None).body;
        assert_eq!(broken["status"], "disabled");
        assert!(broken["error"][0]
            .as_str()
            .unwrap()
            .contains("missing@file"));
        let only = get("/api/tcp/routers", Some("status=disabled")).body;
        assert_eq!(only.as_array().unwrap().len(), 1);

        let pg = get("/api/tcp/services/pg@file", None).body;
        assert_eq!(pg["type"], "loadbalancer");
        assert_eq!(pg["loadBalancer"]["servers"][0]["address"], "10.0.0.1:5432");
        assert_eq!(pg["usedBy"], json!(["db@file"]));
        let lan = get("/api/tcp/middlewares/lan@file", None).body;
        assert_eq!(lan["type"], "ipallowlist");
        assert_eq!(lan["ipAllowList"]["sourceRange"], json!(["10.0.0.0/8"]));

        // No UDP entry point here: the router is there, with its warning.
        let dns = get("/api/udp/routers/dns@file", None).body;
        assert_eq!(dns["status"], "warning");
        let svc = get("/api/udp/services/dns@file", None).body;
        assert_eq!(svc["loadBalancer"]["servers"][0]["address"], "10.0.0.2:53");
        assert_eq!(
            get("/api/udp/services/nope@file", None).status,
            StatusCode::NOT_FOUND
        );

        let o = get("/api/overview", None).body;
        assert_eq!(
            o["tcp"]["routers"],
            json!({"total": 2, "warnings": 0, "errors": 1})
        );
        assert_eq!(o["udp"]["routers"]["warnings"], 1);
        let raw = get("/api/rawdata", None).body;
        assert!(raw["tcpServices"]["pg@file"].is_object());
        assert!(raw["udpRouters"]["dns@file"].is_object());
    }
}
