//! Traefik's access log, for a Traefik static configuration's `accessLog`: its fields (the
//! `CoreLogData` names, `request_<Header>`), its formats (`common`, Traefik's CLF with the
//! request count, router, service URL and duration; `genericCLF`; `json`, logrus' JSON: the
//! fields sorted by name with `level`, `msg` and `time`), `filters` and `fields`, written to
//! `filePath` or to stdout, as Traefik writes them. Tools that read Traefik's access log
//! (fail2ban, CrowdSec, GoAccess) read these lines.
//!
//! The router's own JSON access line (`ROUTER_ACCESS_LOG`) is the `access` log target,
//! written with the other logs; this module is only for Traefik's.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `accessLog.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// `common` (the default): Traefik's CLF.
    #[default]
    Common,
    /// `genericCLF`: the CLF without Traefik's four last fields.
    GenericClf,
    /// `json`.
    Json,
}

/// What `fields.headers` does with a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderMode {
    /// Logged, its lines joined with `,`.
    Keep,
    /// Not logged.
    Drop,
    /// Logged as `REDACTED`.
    Redact,
}

/// `accessLog.filters`: a line is kept when any filter set holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filters {
    /// `statusCodes`: `200`, `300-302` (both ends included).
    pub status_codes: Vec<(i64, i64)>,
    /// `retryAttempts`: requests that were retried.
    pub retry_attempts: bool,
    /// `minDuration`: requests that took longer.
    pub min_duration: Duration,
}

/// `accessLog.fields`, with Traefik's defaults (every field kept, headers dropped, the query
/// kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields {
    /// `defaultMode`: `keep` (true) or `drop`.
    pub default_keep: bool,
    /// `names`: a field's own mode, by its name in lower case (Traefik's lookup ignores case).
    pub names: HashMap<String, bool>,
    /// `headers.defaultMode`.
    pub headers_default: HeaderMode,
    /// `headers.names`, by canonical header name (`User-Agent`).
    pub headers: HashMap<String, HeaderMode>,
    /// `queryParameters.defaultMode`: whether `RequestPath` keeps the query.
    pub keep_query: bool,
}

impl Default for Fields {
    fn default() -> Self {
        Fields {
            default_keep: true,
            names: HashMap::new(),
            headers_default: HeaderMode::Drop,
            headers: HashMap::new(),
            keep_query: true,
        }
    }
}

impl Fields {
    /// Whether field `name` is logged.
    pub fn keep(&self, name: &str) -> bool {
        self.names
            .get(&name.to_ascii_lowercase())
            .copied()
            .unwrap_or(self.default_keep)
    }

    /// What is done with header `name` (canonical).
    pub fn header(&self, name: &str) -> HeaderMode {
        self.headers
            .get(name)
            .copied()
            .unwrap_or(self.headers_default)
    }
}

/// The settings of Traefik's `accessLog`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Settings {
    /// `format`.
    pub format: Format,
    /// `filePath` (unset: stdout).
    pub file_path: Option<PathBuf>,
    /// `filters` (unset: every line).
    pub filters: Option<Filters>,
    /// `fields`.
    pub fields: Fields,
}

impl Settings {
    /// Whether a request with this status, retries and duration gets a line (Traefik's
    /// `keepAccessLog`: no filters, or empty ones, keep everything).
    pub fn keeps(&self, status: u16, retries: u32, took: Duration) -> bool {
        let Some(f) = &self.filters else { return true };
        if f.status_codes.is_empty() && !f.retry_attempts && f.min_duration.is_zero() {
            return true;
        }
        let status = i64::from(status);
        f.status_codes
            .iter()
            .any(|&(lo, hi)| status >= lo && status <= hi)
            || (f.retry_attempts && retries > 0)
            || (!f.min_duration.is_zero() && took > f.min_duration)
    }
}

/// One field's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// Text.
    Str(String),
    /// A number.
    Int(i64),
    /// A Go `time.Duration`: nanoseconds in JSON.
    Dur(Duration),
    /// A time (UTC).
    Time(SystemTime),
}

/// What the access log keeps of a request when it comes (the rest of the request is
/// moved on to the backend).
#[derive(Debug, Clone)]
pub struct Asked {
    /// When the request came.
    pub start: SystemTime,
    /// A trusted client's `X-Forwarded-For` (its first line), which Traefik logs as the
    /// client.
    pub forwarded_for: Option<String>,
    /// The `Host` header (HTTP/2's `:authority`) as sent.
    pub host: String,
    /// The method.
    pub method: String,
    /// The path and query as sent.
    pub path: String,
    /// The length of `?query` at the end of `path` (dropped with
    /// `queryParameters.defaultMode=drop`).
    pub query_len: usize,
    /// `HTTP/1.1`, `HTTP/1.0`, `HTTP/2.0`.
    pub protocol: &'static str,
    /// The request's declared length (0 without one).
    pub request_size: u64,
    /// The request's headers but `Host` (canonical names), each one's lines joined by `,`.
    pub headers: Vec<(String, String)>,
}

impl Asked {
    /// Takes what the log needs from a request as it came: `target` is its path and query,
    /// `trusted` whether its `X-Forwarded-*` are kept.
    pub fn new(
        method: &str,
        target: &str,
        protocol: &'static str,
        host: &str,
        headers: &hyper::HeaderMap,
        trusted: bool,
        request_size: u64,
    ) -> Asked {
        let mut joined: Vec<(String, String)> = Vec::new();
        for (name, value) in headers {
            if name == hyper::header::HOST {
                continue;
            }
            let value = String::from_utf8_lossy(value.as_bytes());
            match joined
                .iter_mut()
                .find(|(n, _)| n.eq_ignore_ascii_case(name.as_str()))
            {
                Some((_, v)) => {
                    v.push(',');
                    v.push_str(&value);
                }
                None => joined.push((canonical_header(name.as_str()), value.into_owned())),
            }
        }
        let forwarded_for = headers
            .get("x-forwarded-for")
            .filter(|_| trusted)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        Asked {
            start: SystemTime::now(),
            forwarded_for,
            host: host.to_owned(),
            method: method.to_owned(),
            path: target.to_owned(),
            query_len: target.find('?').map_or(0, |i| target.len() - i),
            protocol,
            request_size,
            headers: joined,
        }
    }
}

/// One request as the access log sees it, once answered.
#[derive(Debug, Clone)]
pub struct Seen<'a> {
    /// The request as it came.
    pub asked: &'a Asked,
    /// How long it took.
    pub duration: Duration,
    /// How long its service took (none: the router answered itself).
    pub origin: Option<Duration>,
    /// The TCP peer.
    pub peer: std::net::SocketAddr,
    /// `http` or `https`.
    pub scheme: &'static str,
    /// The status sent.
    pub status: u16,
    /// The answer's length.
    pub size: u64,
    /// The router (qualified).
    pub router: &'a str,
    /// Its service.
    pub service: &'a str,
    /// The server's URL as configured.
    pub service_url: &'a str,
    /// The entry point.
    pub entry_point: &'a str,
    /// Tries after the first.
    pub retries: u32,
    /// The user an authentication middleware let through.
    pub user: Option<&'a str>,
    /// The request's number since the start.
    pub count: u64,
}

/// Go's `textproto.CanonicalMIMEHeaderKey`: `user-agent` is `User-Agent`; a name with a
/// space or a character outside a token is left as it is.
pub fn canonical_header(name: &str) -> String {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if !name.chars().all(token) {
        return name.to_owned();
    }
    let mut upper = true;
    name.chars()
        .map(|c| {
            let out = if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            upper = c == '-';
            out
        })
        .collect()
}

/// `host:port` split as Go's `net.SplitHostPort`, else the whole text and `-` (Traefik's
/// `silentSplitHostPort`).
fn split_host_port(v: &str) -> (String, String) {
    let split = if let Some(rest) = v.strip_prefix('[') {
        rest.split_once("]:")
    } else {
        match v.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => Some((h, p)),
            _ => None,
        }
    };
    match split {
        Some((h, p)) => (h.to_owned(), p.to_owned()),
        None => (v.to_owned(), "-".to_owned()),
    }
}

/// The fields Traefik's logger has for `seen`, before `fields` drops any.
fn all_fields(seen: &Seen, s: &Settings) -> BTreeMap<String, Val> {
    let mut m = BTreeMap::new();
    let mut put = |k: &str, v: Val| {
        m.insert(k.to_owned(), v);
    };
    let text = |v: &str| Val::Str(v.to_owned());
    let asked = seen.asked;
    put("StartUTC", Val::Time(asked.start));
    put("StartLocal", Val::Time(asked.start));
    put("Duration", Val::Dur(seen.duration));
    let origin = seen.origin.unwrap_or_default();
    put("OriginDuration", Val::Dur(origin));
    put("Overhead", Val::Dur(seen.duration.saturating_sub(origin)));
    let (origin_status, origin_size) = match seen.origin {
        Some(_) => (i64::from(seen.status), seen.size as i64),
        None => (0, 0),
    };
    put("OriginStatus", Val::Int(origin_status));
    put("OriginContentSize", Val::Int(origin_size));
    put("DownstreamStatus", Val::Int(i64::from(seen.status)));
    put("DownstreamContentSize", Val::Int(seen.size as i64));
    put("RequestContentSize", Val::Int(asked.request_size as i64));
    put("RequestCount", Val::Int(seen.count as i64));
    put("RetryAttempts", Val::Int(i64::from(seen.retries)));
    let peer = seen.peer.to_string();
    let (client_host, client_port) = split_host_port(&peer);
    put("ClientAddr", Val::Str(peer.clone()));
    put(
        "ClientHost",
        Val::Str(asked.forwarded_for.clone().unwrap_or(client_host)),
    );
    put("ClientPort", Val::Str(client_port));
    put("ClientUsername", text(seen.user.unwrap_or("-")));
    if !asked.host.is_empty() {
        let (h, p) = split_host_port(&asked.host);
        put("RequestAddr", text(&asked.host));
        put("RequestHost", Val::Str(h));
        put("RequestPort", Val::Str(p));
    }
    let path = match s.fields.keep_query {
        true => &asked.path[..],
        false => &asked.path[..asked.path.len() - asked.query_len],
    };
    put("RequestMethod", text(&asked.method));
    put("RequestPath", text(path.strip_suffix('?').unwrap_or(path)));
    put("RequestProtocol", text(asked.protocol));
    put("RequestScheme", text(seen.scheme));
    if !seen.router.is_empty() {
        put("RouterName", text(seen.router));
    }
    if !seen.service.is_empty() {
        put("ServiceName", text(seen.service));
    }
    if !seen.service_url.is_empty() {
        put("ServiceURL", text(seen.service_url));
        // The URL's host and port (Go's `url.Host`).
        let authority = seen
            .service_url
            .split_once("://")
            .map_or(seen.service_url, |(_, r)| r);
        put(
            "ServiceAddr",
            text(authority.split('/').next().unwrap_or(authority)),
        );
    }
    put("entryPointName", text(seen.entry_point));
    m.retain(|k, _| s.fields.keep(k));
    for (name, value) in &asked.headers {
        match s.fields.header(name) {
            HeaderMode::Keep => put_header(&mut m, name, value),
            HeaderMode::Redact => put_header(&mut m, name, "REDACTED"),
            HeaderMode::Drop => {}
        }
    }
    m
}

fn put_header(m: &mut BTreeMap<String, Val>, name: &str, value: &str) {
    m.insert(format!("request_{name}"), Val::Str(value.to_owned()));
}

/// The line Traefik writes for `seen` (with its newline), or none when the filters drop it.
pub fn line(seen: &Seen, s: &Settings) -> Option<String> {
    if !s.keeps(seen.status, seen.retries, seen.duration) {
        return None;
    }
    let fields = all_fields(seen, s);
    Some(match s.format {
        Format::Common => clf(&fields, true),
        Format::GenericClf => clf(&fields, false),
        Format::Json => json(&fields, SystemTime::now()),
    })
}

/// Traefik's `CommonLogFormatter` (`traefik`: with its four last fields) or
/// `GenericCLFLogFormatter`.
fn clf(f: &BTreeMap<String, Val>, traefik: bool) -> String {
    // Traefik's `toLog(fields, key, default, quoted)`: numbers as they are, text quoted
    // where asked, `default` for a field missing or empty.
    let field = |k: &str, dash: &str, quoted: bool| -> String {
        match f.get(k) {
            None => dash.to_owned(),
            Some(Val::Str(s)) if s.is_empty() => dash.to_owned(),
            Some(Val::Str(s)) if quoted => format!("\"{}\"", s.replace('"', "\\\"")),
            Some(Val::Str(s)) => s.clone(),
            Some(Val::Int(i)) => i.to_string(),
            Some(Val::Dur(d)) => crate::tree::go_duration_text(*d),
            Some(Val::Time(t)) => rfc3339(*t),
        }
    };
    let at = match (f.get("StartUTC"), f.get("StartLocal")) {
        (Some(Val::Time(t)), _) | (None, Some(Val::Time(t))) => clf_time(*t),
        _ => "-".to_owned(),
    };
    let mut out = format!(
        "{} - {} [{at}] \"{} {} {}\" {} {} {} {}",
        field("ClientHost", "-", false),
        field("ClientUsername", "-", false),
        field("RequestMethod", "-", false),
        field("RequestPath", "-", false),
        field("RequestProtocol", "-", false),
        field("DownstreamStatus", "-", true),
        field("DownstreamContentSize", "-", true),
        field("request_Referer", "\"-\"", true),
        field("request_User-Agent", "\"-\"", true),
    );
    if traefik {
        let ms = match f.get("Duration") {
            Some(Val::Dur(d)) => d.as_millis(),
            _ => 0,
        };
        let _ = write!(
            out,
            " {} {} {} {ms}ms",
            field("RequestCount", "-", true),
            field("RouterName", "\"-\"", true),
            field("ServiceURL", "\"-\"", true)
        );
    }
    out.push('\n');
    out
}

/// logrus' `JSONFormatter`: the fields sorted by name, then `level`, `msg`, `time` among
/// them, strings escaped as Go's `encoding/json` (HTML characters too).
fn json(f: &BTreeMap<String, Val>, now: SystemTime) -> String {
    let mut all: BTreeMap<&str, String> = f
        .iter()
        .map(|(k, v)| {
            let v = match v {
                Val::Str(s) => go_json_string(s),
                Val::Int(i) => i.to_string(),
                Val::Dur(d) => d.as_nanos().to_string(),
                Val::Time(t) => go_json_string(&rfc3339_nano(*t)),
            };
            (k.as_str(), v)
        })
        .collect();
    all.insert("level", go_json_string("info"));
    all.insert("msg", go_json_string(""));
    all.insert("time", go_json_string(&rfc3339(now)));
    let mut out = String::from("{");
    for (i, (k, v)) in all.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{}:{v}", go_json_string(k));
    }
    out.push_str("}\n");
    out
}

/// A JSON string as Go's encoder writes it, HTML escaping on.
fn go_json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Seconds since the epoch and the date and time of day, in UTC.
fn parts(t: SystemTime) -> (Duration, (u64, u64, u64), u64) {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    (
        since,
        log_writer::civil_from_days(secs / 86_400),
        secs % 86_400,
    )
}

/// Go's `time.RFC3339` in UTC (`2006-01-02T15:04:05Z`).
fn rfc3339(t: SystemTime) -> String {
    let (_, (y, mo, d), s) = parts(t);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Go's `time.RFC3339Nano` in UTC: the fraction without its trailing zeros.
fn rfc3339_nano(t: SystemTime) -> String {
    let (since, _, _) = parts(t);
    let base = rfc3339(t);
    let nanos = since.subsec_nanos();
    if nanos == 0 {
        return base;
    }
    let fraction = format!("{nanos:09}");
    format!(
        "{}.{}Z",
        base.trim_end_matches('Z'),
        fraction.trim_end_matches('0')
    )
}

/// Traefik's CLF time (`02/Jan/2006:15:04:05 -0700`), in UTC.
fn clf_time(t: SystemTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (_, (y, mo, d), s) = parts(t);
    let month = MONTHS
        .get((mo as usize).saturating_sub(1))
        .copied()
        .unwrap_or("Jan");
    format!(
        "{d:02}/{month}/{y:04}:{:02}:{:02}:{:02} +0000",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// A log file as Traefik opens one: its directories made, created if needed, appended to.
pub fn open_append(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

/// Where the lines go: `filePath` (created with its directories, appended to) or stdout,
/// through a writer thread of their own ([`log_writer`]).
pub struct Sink {
    writer: log_writer::LogWriter,
    flush: std::sync::Mutex<Option<log_writer::Flush>>,
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sink")
    }
}

impl Sink {
    /// Opens `filePath` (its directories made, as Traefik's `openAccessLogFile`) or takes
    /// stdout.
    pub fn open(s: &Settings) -> std::io::Result<Sink> {
        let (writer, flush) = match &s.file_path {
            Some(path) => log_writer::spawn("router-access", open_append(path)?)?,
            None => log_writer::spawn("router-access", std::io::stdout())?,
        };
        Ok(Sink {
            writer,
            flush: std::sync::Mutex::new(Some(flush)),
        })
    }

    /// Appends one line.
    pub fn write(&self, line: &str) {
        use std::io::Write;
        let _ = self.writer.clone().write_all(line.as_bytes());
    }

    /// Writes out what is pending and stops the writer (at the end of serving).
    pub fn close(&self) {
        let flush = self
            .flush
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        drop(flush);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn asked() -> Asked {
        Asked {
            // 2023-10-10T13:55:36.5Z
            start: UNIX_EPOCH + Duration::from_millis(1_696_946_136_500),
            forwarded_for: None,
            host: "app.example:8080".into(),
            method: "GET".into(),
            path: "/a?b=1".into(),
            query_len: 4,
            protocol: "HTTP/1.1",
            request_size: 0,
            headers: vec![
                ("User-Agent".into(), "curl/8.5.0".into()),
                ("Referer".into(), "https://x/\"q\"".into()),
                ("Authorization".into(), "Basic YTpi".into()),
            ],
        }
    }

    fn seen(asked: &Asked) -> Seen<'_> {
        Seen {
            asked,
            duration: Duration::from_micros(5_400),
            origin: Some(Duration::from_micros(4_000)),
            peer: "192.0.2.7:53334".parse().unwrap(),
            scheme: "http",
            status: 200,
            size: 1234,
            router: "app@docker",
            service: "app@docker",
            service_url: "http://172.18.0.3:80",
            entry_point: "web",
            retries: 0,
            user: None,
            count: 42,
        }
    }

    /// Traefik's `common` line: referer and user agent are `"-"` with the headers dropped
    /// (Traefik's default), the duration in whole milliseconds.
    #[test]
    fn common_lines_are_traefiks() {
        let a = asked();
        let s = Settings::default();
        assert_eq!(
            line(&seen(&a), &s).unwrap(),
            "192.0.2.7 - - [10/Oct/2023:13:55:36 +0000] \"GET /a?b=1 HTTP/1.1\" 200 1234 \"-\" \"-\" 42 \"app@docker\" \"http://172.18.0.3:80\" 5ms\n"
        );
        let mut s = Settings {
            format: Format::GenericClf,
            ..Settings::default()
        };
        s.fields.headers_default = HeaderMode::Keep;
        s.fields.keep_query = false;
        assert_eq!(
            line(&seen(&a), &s).unwrap(),
            "192.0.2.7 - - [10/Oct/2023:13:55:36 +0000] \"GET /a HTTP/1.1\" 200 1234 \"https://x/\\\"q\\\"\" \"curl/8.5.0\"\n"
        );
        // A field dropped is `-` (`"-"` where quoted); a trusted X-Forwarded-For is the
        // client; the router's own answer has no service.
        let mut s = Settings::default();
        s.fields.names.insert("routername".into(), false);
        let mut b = asked();
        b.forwarded_for = Some("203.0.113.9, 10.0.0.1".into());
        let mut v = seen(&b);
        v.service_url = "";
        v.user = Some("alice");
        assert_eq!(
            line(&v, &s).unwrap(),
            "203.0.113.9, 10.0.0.1 - alice [10/Oct/2023:13:55:36 +0000] \"GET /a?b=1 HTTP/1.1\" 200 1234 \"-\" \"-\" 42 \"-\" \"-\" 5ms\n"
        );
    }

    /// logrus' JSON: every field sorted by name, durations in nanoseconds, times in
    /// RFC 3339 with nanoseconds, headers kept, dropped or redacted by name.
    #[test]
    fn json_lines_are_logrus() {
        let mut s = Settings {
            format: Format::Json,
            ..Settings::default()
        };
        s.fields
            .headers
            .insert("User-Agent".into(), HeaderMode::Keep);
        s.fields
            .headers
            .insert("Authorization".into(), HeaderMode::Redact);
        s.fields.names.insert("startlocal".into(), false);
        let a = asked();
        let l = line(&seen(&a), &s).unwrap();
        let v: serde_json::Value = serde_json::from_str(&l).unwrap();
        assert_eq!(v["Duration"], 5_400_000);
        assert_eq!(v["OriginDuration"], 4_000_000);
        assert_eq!(v["Overhead"], 1_400_000);
        assert_eq!(v["StartUTC"], "2023-10-10T13:55:36.5Z");
        assert_eq!(v.get("StartLocal"), None);
        assert_eq!(v["DownstreamStatus"], 200);
        assert_eq!(v["OriginStatus"], 200);
        assert_eq!(v["RequestHost"], "app.example");
        assert_eq!(v["RequestPort"], "8080");
        assert_eq!(v["ClientPort"], "53334");
        assert_eq!(v["entryPointName"], "web");
        assert_eq!(v["ServiceAddr"], "172.18.0.3:80");
        assert_eq!(v["request_User-Agent"], "curl/8.5.0");
        assert_eq!(v["request_Authorization"], "REDACTED");
        assert_eq!(v.get("request_Referer"), None);
        assert_eq!((&v["level"], &v["msg"]), (&"info".into(), &"".into()));
        let keys: Vec<&str> = l[1..]
            .split(",\"")
            .map(|p| p.trim_start_matches('"').split('"').next().unwrap())
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert_eq!(
            go_json_string("<a&b>\u{1}"),
            "\"\\u003ca\\u0026b\\u003e\\u0001\""
        );
    }

    /// `filters`: any one that holds keeps the line; empty filters keep every line.
    #[test]
    fn filters_keep_lines_as_traefik() {
        let mut s = Settings {
            filters: Some(Filters::default()),
            ..Settings::default()
        };
        assert!(s.keeps(200, 0, Duration::ZERO));
        s.filters = Some(Filters {
            status_codes: vec![(200, 200), (300, 302)],
            retry_attempts: true,
            min_duration: Duration::from_millis(10),
        });
        for (status, retries, ms, kept) in [
            (200, 0, 0, true),
            (301, 0, 0, true),
            (404, 0, 0, false),
            (404, 1, 0, true),
            (404, 0, 10, false),
            (404, 0, 11, true),
        ] {
            assert_eq!(
                s.keeps(status, retries, Duration::from_millis(ms)),
                kept,
                "{status} {retries} {ms}"
            );
        }
    }

    /// A log file's directories are made, and the file appended to, not truncated.
    #[test]
    fn log_files_are_appended_to_in_directories_made() {
        use std::io::Write;
        let dir = std::env::temp_dir().join(format!("router-open-append-{}", std::process::id()));
        let path = dir.join("a/b/access.log");
        open_append(&path).unwrap().write_all(b"one\n").unwrap();
        open_append(&path).unwrap().write_all(b"two\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\ntwo\n");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn header_names_are_canonical_as_gos() {
        for (raw, want) in [
            ("user-agent", "User-Agent"),
            ("x-FORWARDED-for", "X-Forwarded-For"),
            ("referer", "Referer"),
            ("bad name", "bad name"),
        ] {
            assert_eq!(canonical_header(raw), want);
        }
        assert_eq!(split_host_port("[::1]:80"), ("::1".into(), "80".into()));
        assert_eq!(split_host_port("host"), ("host".into(), "-".into()));
    }
}
