//! HTTP middlewares: the kinds the router runs, with their options, decoded from a
//! configuration tree (labels or files) as Traefik names them. A middleware has exactly one
//! kind; a kind the router does not run, or an option of one that it does not support, is an
//! error of that middleware, so every router that uses it is disabled (serving it without
//! the middleware could fail open).

use ipnet::IpNet;
use serde::Serialize;

use crate::tree::{DecodeError, Node};

pub mod buffering;
pub mod circuit_breaker;
pub mod digest_auth;
pub mod errors;
pub mod forward_auth;
pub mod headers;
pub mod ip;
pub mod pass_tls_client_cert;
pub mod retry;
pub mod retry_expression;
pub mod rewrite;
#[cfg(test)]
mod traefik_tables;

pub use circuit_breaker::CircuitBreaker;
pub use errors::ErrorPages;
pub use forward_auth::{ClientTls, ForwardAuth};
pub use headers::{Cors, Headers, SetHeader};
pub use ip::{IpStrategy, SourceCriterion};
pub use retry::Retry;
pub use rewrite::GoRegex;

/// A middleware.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Middleware {
    /// `stripPrefix.prefixes`.
    StripPrefix {
        /// Prefixes, the first that matches is removed.
        prefixes: Vec<String>,
    },
    /// `addPrefix.prefix`.
    AddPrefix {
        /// Added in front of the path.
        prefix: String,
    },
    /// `redirectScheme`.
    RedirectScheme {
        /// Target scheme.
        scheme: String,
        /// Target port, if not the scheme's default. Shown as Traefik shows it: text, left
        /// out when unset.
        #[serde(
            serialize_with = "port_as_text",
            skip_serializing_if = "Option::is_none"
        )]
        port: Option<u16>,
        /// 308 (true) or 307. Left out when `false`, as Traefik's `omitempty`.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        permanent: bool,
    },
    /// `headers`: custom headers, the security options, CORS.
    Headers(Box<Headers>),
    /// `basicAuth`.
    BasicAuth {
        /// `user:hash` entries.
        users: Vec<(String, String)>,
        /// `usersFile`: a file of more entries, read when the table that uses it comes into
        /// service (its entries first: a `users` entry of the same name wins, as in Traefik).
        #[serde(skip_serializing_if = "Option::is_none")]
        users_file: Option<String>,
        /// The realm named in `WWW-Authenticate`.
        realm: String,
        /// Remove `Authorization` before forwarding.
        remove_header: bool,
        /// A header to carry the authenticated user's name to the backend.
        header_field: Option<String>,
    },
    /// `ipAllowList` (also v2's `ipWhiteList`).
    IpAllowList {
        /// Allowed ranges.
        source_range: Vec<IpNet>,
        /// How the client's address is found (default: the connection's).
        ip_strategy: IpStrategy,
        /// The status of a refusal (default 403).
        reject_status_code: u16,
    },
    /// `rateLimit`.
    RateLimit {
        /// Requests allowed per `period` (0: no limit, as in Traefik).
        average: u64,
        /// The period `average` counts over (default 1s).
        #[serde(serialize_with = "crate::tree::ser_go_duration")]
        period: std::time::Duration,
        /// Burst size (at least 1).
        burst: u64,
        /// What one source is.
        source: SourceCriterion,
    },
    /// `compress`.
    Compress(Box<CompressOptions>),
    /// `inFlightReq`: at most `amount` requests of one source at once.
    InFlightReq {
        /// The most at once (0 or below: none).
        amount: i64,
        /// What one source is (default: the request's host, as in Traefik).
        source: SourceCriterion,
    },
    /// `chain.middlewares`: other middlewares, in order (names as written, resolved in the
    /// chain's provider). Expanded when routes are compiled; never reaches a route.
    Chain {
        /// The middlewares.
        middlewares: Vec<String>,
    },
    /// `replacePath.path`.
    ReplacePath {
        /// The new path (escaped, as sent).
        path: String,
    },
    /// `replacePathRegex`.
    ReplacePathRegex {
        /// Matched against the escaped path.
        regex: GoRegex,
        /// What the matches become.
        replacement: String,
    },
    /// `stripPrefixRegex.regex`.
    StripPrefixRegex {
        /// Tried in order against the decoded path.
        regex: Vec<GoRegex>,
    },
    /// `redirectRegex`.
    RedirectRegex {
        /// Matched against the request's URL (`scheme://host/path?query`).
        regex: GoRegex,
        /// The redirect's target.
        replacement: String,
        /// 301/308 rather than 302/307.
        permanent: bool,
    },
    /// `forwardAuth`.
    ForwardAuth(Box<ForwardAuth>),
    /// `errors`: custom error pages.
    Errors(Box<ErrorPages>),
    /// `retry`.
    Retry(Box<Retry>),
    /// `buffering`: a request body limit.
    Buffering {
        /// The largest request body (none: no limit).
        max_request_body_bytes: Option<u64>,
        /// The largest answer body (none: no limit).
        max_response_body_bytes: Option<u64>,
        /// `retryExpression`: when a request is sent again after an answer.
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_expression: Option<retry_expression::RetryExpression>,
    },
    /// `circuitBreaker`.
    CircuitBreaker(Box<CircuitBreaker>),
    /// `contentType`: answers without a `Content-Type` get the sniffed one (Go's).
    ContentType {
        /// `autoDetect` (deprecated): `false` makes the middleware do nothing.
        auto_detect: bool,
    },
    /// `digestAuth`.
    DigestAuth(Box<digest_auth::DigestAuth>),
    /// `encodedCharacters`: a request whose path (as the middlewares before it left it) holds
    /// an encoding this refuses is answered 400. Unlike the entry point's section, every
    /// `allowEncoded*` key is `false` unless set (Traefik's middleware has no defaults).
    EncodedCharacters(crate::entry_http::EncodedCharacters),
    /// `passTLSClientCert`.
    #[serde(rename = "passTLSClientCert")]
    PassTlsClientCert(Box<pass_tls_client_cert::PassTlsClientCert>),
}

/// A port as Traefik's configuration holds it (`redirectScheme.port` is a string there).
fn port_as_text<S: serde::Serializer>(port: &Option<u16>, ser: S) -> Result<S::Ok, S::Error> {
    match port {
        Some(p) => ser.collect_str(p),
        None => ser.serialize_none(),
    }
}

/// The kinds Traefik has that the router does not run (so that their labels are called
/// unsupported rather than unknown).
const NOT_YET: &[&str] = &["grpcweb", "plugin"];

/// Decodes one middleware definition (the node under `middlewares.<name>`).
/// `Ok(None)`: a kind Traefik has that the router does not run.
pub fn decode(node: &Node) -> Result<Option<Middleware>, DecodeError> {
    let kinds = node.children();
    let kind = match kinds {
        [one] => one,
        [] => return Err(DecodeError::at(node, "a middleware needs a type")),
        _ => {
            let names: Vec<&str> = kinds.iter().map(|k| k.name.as_str()).collect();
            return Err(DecodeError::at(
                node,
                format!(
                    "a middleware has exactly one type, found {}",
                    names.join(", ")
                ),
            ));
        }
    };
    let lower = kind.name.to_ascii_lowercase();
    let m = match lower.as_str() {
        "stripprefix" => strip_prefix(kind)?,
        "addprefix" => add_prefix(kind)?,
        "redirectscheme" => redirect_scheme(kind)?,
        "basicauth" => basic_auth(kind)?,
        "ipallowlist" | "ipwhitelist" => ip_allow_list(kind)?,
        "ratelimit" => rate_limit(kind)?,
        "inflightreq" => in_flight_req(kind)?,
        "compress" => compress(kind)?,
        "headers" => headers::decode(kind)?,
        "chain" => chain(kind)?,
        "replacepath" => rewrite::replace_path(kind)?,
        "replacepathregex" => rewrite::replace_path_regex(kind)?,
        "stripprefixregex" => rewrite::strip_prefix_regex(kind)?,
        "redirectregex" => rewrite::redirect_regex(kind)?,
        "forwardauth" => forward_auth::decode(kind)?,
        "errors" => errors::decode(kind)?,
        "retry" => retry::decode(kind)?,
        "buffering" => buffering::decode(kind)?,
        "circuitbreaker" => circuit_breaker::decode(kind)?,
        "passtlsclientcert" => pass_tls_client_cert::decode(kind)?,
        "digestauth" => digest_auth::decode(kind)?,
        "contenttype" => content_type(kind)?,
        "encodedcharacters" => encoded_characters(kind)?,
        other if NOT_YET.contains(&other) => return Ok(None),
        _ => {
            return Err(DecodeError::at(
                kind,
                format!("unknown middleware type {:?}", kind.name),
            ))
        }
    };
    Ok(Some(m))
}

/// The fields of `kind`, with every field `known` does not list reported as unsupported.
pub fn fields<'a>(kind: &'a Node, known: &[&str]) -> Result<crate::tree::Fields<'a>, DecodeError> {
    let f = kind.fields()?;
    for n in kind.children() {
        if !known.iter().any(|k| k.eq_ignore_ascii_case(&n.name)) {
            return Err(DecodeError::at(n, format!("{} is not supported", n.name)));
        }
    }
    Ok(f)
}

fn content_type(kind: &Node) -> Result<Middleware, DecodeError> {
    let mut f = fields(kind, &["autoDetect"])?;
    let auto_detect = f
        .take("autoDetect")
        .map(Node::boolean)
        .transpose()?
        .unwrap_or(true);
    Ok(Middleware::ContentType { auto_detect })
}

/// `encodedCharacters`: each `allowEncoded*` key `false` unless set (Go's zero values: the
/// middleware, unlike the entry point's `http.encodedCharacters`, has no `SetDefaults`).
fn encoded_characters(kind: &Node) -> Result<Middleware, DecodeError> {
    const KEYS: [&str; 7] = [
        "allowEncodedSlash",
        "allowEncodedBackSlash",
        "allowEncodedNullCharacter",
        "allowEncodedSemicolon",
        "allowEncodedPercent",
        "allowEncodedQuestionMark",
        "allowEncodedHash",
    ];
    let mut f = fields(kind, &KEYS)?;
    let mut allowed = [false; 7];
    for (key, allow) in KEYS.iter().zip(allowed.iter_mut()) {
        if let Some(n) = f.take(key) {
            *allow = n.boolean()?;
        }
    }
    let [slash, back_slash, null_character, semicolon, percent, question_mark, hash] = allowed;
    Ok(Middleware::EncodedCharacters(
        crate::entry_http::EncodedCharacters {
            slash,
            back_slash,
            null_character,
            semicolon,
            percent,
            question_mark,
            hash,
        },
    ))
}

fn strip_prefix(kind: &Node) -> Result<Middleware, DecodeError> {
    let mut f = fields(kind, &["prefixes", "forceSlash"])?;
    if let Some(n) = f.take("forceSlash") {
        // Deprecated in Traefik and without effect: a stripped path always starts with '/'.
        n.boolean()?;
    }
    let n = f
        .take("prefixes")
        .ok_or_else(|| DecodeError::at(kind, "stripprefix needs prefixes"))?;
    let prefixes = n.strings()?;
    if prefixes.is_empty() || prefixes.iter().any(|p| !p.starts_with('/')) {
        return Err(DecodeError::at(
            n,
            format!("expected prefixes starting with '/', got {prefixes:?}"),
        ));
    }
    Ok(Middleware::StripPrefix { prefixes })
}

fn add_prefix(kind: &Node) -> Result<Middleware, DecodeError> {
    let mut f = fields(kind, &["prefix"])?;
    let n = f
        .take("prefix")
        .ok_or_else(|| DecodeError::at(kind, "addprefix needs a prefix"))?;
    let prefix = n.text()?.to_owned();
    if !prefix.starts_with('/') {
        return Err(DecodeError::at(
            n,
            format!("expected a prefix starting with '/', got {prefix:?}"),
        ));
    }
    Ok(Middleware::AddPrefix { prefix })
}

/// Whether `s` can be a redirect's scheme: Traefik takes any non-empty scheme (`wss` too);
/// it has to make a valid URL (RFC 3986 3.1).
pub(crate) fn url_scheme(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

fn redirect_scheme(kind: &Node) -> Result<Middleware, DecodeError> {
    let mut f = fields(kind, &["scheme", "permanent", "port"])?;
    let n = f
        .take("scheme")
        .ok_or_else(|| DecodeError::at(kind, "redirectscheme needs a scheme"))?;
    let scheme = n.text()?.to_owned();
    if !url_scheme(&scheme) {
        return Err(DecodeError::at(
            n,
            format!("expected a URL scheme such as https, got {scheme:?}"),
        ));
    }
    let permanent = f
        .take("permanent")
        .map(Node::boolean)
        .transpose()?
        .unwrap_or(false);
    let port = match f.take("port") {
        None => None,
        Some(n) => {
            let t = n.text()?;
            Some(
                t.trim()
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| DecodeError::at(n, format!("expected a port, got {t:?}")))?,
            )
        }
    };
    Ok(Middleware::RedirectScheme {
        scheme,
        port,
        permanent,
    })
}

fn basic_auth(kind: &Node) -> Result<Middleware, DecodeError> {
    let mut f = fields(
        kind,
        &["users", "usersFile", "realm", "removeHeader", "headerField"],
    )?;
    let c = AuthCommon::take(&mut f, kind, "basicauth", user_entry)?;
    Ok(Middleware::BasicAuth {
        users: c.users,
        users_file: c.users_file,
        realm: c.realm,
        remove_header: c.remove_header,
        header_field: c.header_field,
    })
}

/// The options `basicAuth` and `digestAuth` share.
pub struct AuthCommon {
    /// Entries as `entry` read them.
    pub users: Vec<(String, String)>,
    pub users_file: Option<String>,
    pub realm: String,
    pub remove_header: bool,
    pub header_field: Option<String>,
}

impl AuthCommon {
    /// Takes the shared options from `f`; `users` entries are read with `entry`.
    pub fn take(
        f: &mut crate::tree::Fields<'_>,
        kind: &Node,
        what: &str,
        entry: fn(&str) -> Result<(String, String), String>,
    ) -> Result<AuthCommon, DecodeError> {
        let users_file = match f.take("usersFile") {
            Some(n) if !n.text()?.trim().is_empty() => Some(n.text()?.trim().to_owned()),
            _ => None,
        };
        let mut users = Vec::new();
        if let Some(n) = f.take("users") {
            for e in n.strings()? {
                users.push(entry(&e).map_err(|e| DecodeError::at(n, e))?);
            }
        }
        if users.is_empty() && users_file.is_none() {
            return Err(DecodeError::at(
                kind,
                format!("{what} needs users or usersFile"),
            ));
        }
        let realm = match f.take("realm") {
            Some(n) => {
                let r = n.text()?;
                if r.contains('"') || http::HeaderValue::from_str(r).is_err() {
                    return Err(DecodeError::at(n, format!("invalid realm {r:?}")));
                }
                r.to_owned()
            }
            None => "traefik".to_owned(),
        };
        let remove_header = f
            .take("removeHeader")
            .map(Node::boolean)
            .transpose()?
            .unwrap_or(false);
        let header_field = match f.take("headerField") {
            Some(n) => {
                let h = n.text()?;
                http::HeaderName::from_bytes(h.as_bytes())
                    .map_err(|_| DecodeError::at(n, format!("invalid header name {h:?}")))?;
                Some(h.to_owned())
            }
            None => None,
        };
        Ok(AuthCommon {
            users,
            users_file,
            realm,
            remove_header,
            header_field,
        })
    }
}

fn ip_allow_list(kind: &Node) -> Result<Middleware, DecodeError> {
    // Traefik's v2 `ipWhiteList` has no `rejectStatusCode`: always 403.
    let keys: &[&str] = if kind.name.eq_ignore_ascii_case("ipWhiteList") {
        &["sourceRange", "ipStrategy"]
    } else {
        &["sourceRange", "ipStrategy", "rejectStatusCode"]
    };
    let mut f = fields(kind, keys)?;
    let n = f
        .take("sourceRange")
        .ok_or_else(|| DecodeError::at(kind, "ipallowlist needs sourcerange"))?;
    let nets = ip::nets(n)?;
    if nets.is_empty() {
        return Err(DecodeError::at(n, "ipallowlist needs at least one range"));
    }
    let reject_status_code = match f.take("rejectStatusCode") {
        None => 403,
        Some(c) => match c.integer()? {
            0 => 403,
            v => u16::try_from(v)
                .ok()
                .filter(|v| {
                    http::StatusCode::from_u16(*v).is_ok_and(|s| s.canonical_reason().is_some())
                })
                .ok_or_else(|| DecodeError::at(c, format!("invalid HTTP status code {v}")))?,
        },
    };
    Ok(Middleware::IpAllowList {
        source_range: nets,
        ip_strategy: f
            .take("ipStrategy")
            .map(ip::ip_strategy)
            .transpose()?
            .unwrap_or_default(),
        reject_status_code,
    })
}

fn rate_limit(kind: &Node) -> Result<Middleware, DecodeError> {
    let mut f = fields(kind, &["average", "burst", "period", "sourceCriterion"])?;
    let period = match f.take("period") {
        None => std::time::Duration::from_secs(1),
        Some(n) => match n.duration()? {
            d if d.is_zero() => std::time::Duration::from_secs(1),
            d => d,
        },
    };
    // As Traefik takes them: an `average` of 0 or below is no limit, a `burst` below 1 is 1.
    let num = |n: Option<&Node>, least: i64| -> Result<u64, DecodeError> {
        let v = n.map(Node::integer).transpose()?.unwrap_or(least);
        Ok(u64::try_from(v.max(least)).unwrap_or(0))
    };
    let average = num(f.take("average"), 0)?;
    let burst = num(f.take("burst"), 1)?;
    let source = f
        .take("sourceCriterion")
        .map(|n| ip::source_criterion_or(n, SourceCriterion::default()))
        .transpose()?
        .unwrap_or_default();
    Ok(Middleware::RateLimit {
        average,
        period,
        burst,
        source,
    })
}

fn in_flight_req(kind: &Node) -> Result<Middleware, DecodeError> {
    let mut f = fields(kind, &["amount", "sourceCriterion"])?;
    // Any number, as Traefik takes it: 0 or below refuses every request, and an unset one is
    // 0 (Traefik gives it no default).
    let amount = f
        .take("amount")
        .map(Node::integer)
        .transpose()?
        .unwrap_or(0);
    // Traefik's default here is the host, not the address.
    let source = match f.take("sourceCriterion") {
        Some(n) => ip::source_criterion_or(n, SourceCriterion::RequestHost)?,
        None => SourceCriterion::RequestHost,
    };
    Ok(Middleware::InFlightReq { amount, source })
}

/// One `user:hash` entry (of `users`, or a line of `usersFile`) with a hash the router can
/// check.
pub fn user_entry(entry: &str) -> Result<(String, String), String> {
    let Some((user, hash)) = entry.split_once(':') else {
        return Err("expected user:hash entries".into());
    };
    if !crate::model::auth::is_supported_hash(hash) {
        return Err(format!(
            "user {user:?}: unsupported hash (use bcrypt $2y$, $apr1$ or {{SHA}})"
        ));
    }
    Ok((user.to_owned(), hash.to_owned()))
}

/// The entries of a users file's text, as Traefik reads it: lines trimmed, blank lines and
/// `#` comments skipped.
pub fn users_file_entries(text: &str) -> Result<Vec<(String, String)>, String> {
    file_entries(text, user_entry)
}

/// A users file's entries read with `entry`: lines trimmed, blank lines and `#` comments
/// skipped (Traefik's reading of `usersFile`s).
pub fn file_entries(
    text: &str,
    entry: fn(&str) -> Result<(String, String), String>,
) -> Result<Vec<(String, String)>, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(entry)
        .collect()
}

/// `chain`: its members. Without any it does nothing, as Traefik's (an empty list of
/// handlers), and is no error.
fn chain(kind: &Node) -> Result<Middleware, DecodeError> {
    let mut f = fields(kind, &["middlewares"])?;
    let middlewares = match f.take("middlewares") {
        Some(n) => n.strings()?,
        None => Vec::new(),
    };
    Ok(Middleware::Chain { middlewares })
}

/// `compress`'s options, as Traefik's (empty lists: the router's defaults).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CompressOptions {
    /// Media types never compressed (beside the router's own exclusions).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub excluded_content_types: Vec<String>,
    /// Only these media types are compressed (instead of the router's list).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub included_content_types: Vec<String>,
    /// Bodies of a known length below this are sent as they are (default 1024).
    pub min_response_body_bytes: u64,
    /// The codings offered, preferred in this order on equal `q` (default: br, zstd, gzip).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub encodings: Vec<String>,
    /// The coding used when the request has no `Accept-Encoding` (none: not compressed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_encoding: Option<String>,
}

impl Default for CompressOptions {
    fn default() -> Self {
        CompressOptions {
            excluded_content_types: Vec::new(),
            included_content_types: Vec::new(),
            min_response_body_bytes: 1024,
            encodings: Vec::new(),
            default_encoding: None,
        }
    }
}

fn compress(kind: &Node) -> Result<Middleware, DecodeError> {
    // `compress=true` (labels) or `compress: {...}` (files).
    if !kind.section_on()? {
        return Err(DecodeError::at(kind, "expected true"));
    }
    let mut f = fields(
        kind,
        &[
            "excludedContentTypes",
            "includedContentTypes",
            "minResponseBodyBytes",
            "encodings",
            "defaultEncoding",
        ],
    )?;
    let mut o = CompressOptions::default();
    let media = |n: &Node| -> Result<Vec<String>, DecodeError> {
        let list = n.strings()?;
        list.iter()
            .map(|t| {
                let m = t
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                if m.split_once('/')
                    .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty())
                {
                    Ok(m)
                } else {
                    Err(DecodeError::at(n, format!("invalid media type {t:?}")))
                }
            })
            .collect()
    };
    if let Some(n) = f.take("excludedContentTypes") {
        o.excluded_content_types = media(n)?;
    }
    if let Some(n) = f.take("includedContentTypes") {
        o.included_content_types = media(n)?;
    }
    if !o.excluded_content_types.is_empty() && !o.included_content_types.is_empty() {
        return Err(DecodeError::at(
            kind,
            "excludedContentTypes and includedContentTypes are mutually exclusive",
        ));
    }
    if let Some(n) = f.take("minResponseBodyBytes") {
        let v = n.integer()?;
        if v > 0 {
            o.min_response_body_bytes = v as u64;
        }
    }
    if let Some(n) = f.take("encodings") {
        o.encodings = n.strings()?;
        if o.encodings.is_empty() {
            return Err(DecodeError::at(
                n,
                "at least one encoding must be specified",
            ));
        }
        if let Some(bad) = o
            .encodings
            .iter()
            .find(|e| !matches!(e.as_str(), "gzip" | "br" | "zstd"))
        {
            return Err(DecodeError::at(
                n,
                format!("unsupported encoding {bad:?} (gzip, br, zstd)"),
            ));
        }
    }
    if let Some(n) = f.take("defaultEncoding") {
        let e = n.text()?.trim().to_owned();
        let offered = if o.encodings.is_empty() {
            matches!(e.as_str(), "gzip" | "br" | "zstd")
        } else {
            o.encodings.contains(&e)
        };
        if !e.is_empty() && !offered {
            return Err(DecodeError::at(
                n,
                format!("unsupported default encoding {e:?}"),
            ));
        }
        o.default_encoding = (!e.is_empty()).then_some(e);
    }
    Ok(Middleware::Compress(Box::new(o)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compress_options_as_traefik_checks_them() {
        let n = Node::from_yaml("compress:\n  encodings: [gzip, zstd]\n  defaultEncoding: gzip\n  minResponseBodyBytes: 10\n  excludedContentTypes: ['text/event-stream; charset=utf-8']\n", "m").unwrap();
        let Ok(Some(Middleware::Compress(o))) = decode(&n) else {
            panic!()
        };
        assert_eq!(o.excluded_content_types, ["text/event-stream"]);
        assert_eq!(
            (o.min_response_body_bytes, o.default_encoding.as_deref()),
            (10, Some("gzip"))
        );
        let n = Node::from_yaml("compress: true\n", "m").unwrap();
        assert_eq!(
            decode(&n).unwrap().unwrap(),
            Middleware::Compress(Default::default())
        );
        for bad in [
            "compress:\n  encodings: [deflate]\n",
            "compress:\n  encodings: [gzip]\n  defaultEncoding: br\n",
            "compress:\n  includedContentTypes: [text/html]\n  excludedContentTypes: [text/css]\n",
            "compress:\n  includedContentTypes: [html]\n",
        ] {
            let n = Node::from_yaml(bad, "m").unwrap();
            assert!(decode(&n).is_err(), "{bad}");
        }
    }

    #[test]
    fn redirect_scheme_shows_as_traefiks() {
        for (m, want) in [
            (
                Middleware::RedirectScheme {
                    scheme: "https".into(),
                    port: Some(443),
                    permanent: true,
                },
                serde_json::json!({"redirectScheme": {"scheme": "https", "port": "443", "permanent": true}}),
            ),
            (
                Middleware::RedirectScheme {
                    scheme: "https".into(),
                    port: None,
                    permanent: false,
                },
                serde_json::json!({"redirectScheme": {"scheme": "https"}}),
            ),
        ] {
            assert_eq!(serde_json::to_value(m).unwrap(), want);
        }
    }

    #[test]
    fn users_files_read_as_traefik_reads_them() {
        let e = users_file_entries(
            "# admins\n\n  a:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=  \nb:$apr1$x$y\n",
        )
        .unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].0, "a");
        assert!(users_file_entries("a:plaintext\n").is_err());
        assert!(users_file_entries("no-colon\n").is_err());
        let n = Node::from_yaml("basicAuth:\n  usersFile: /etc/htpasswd\n", "m").unwrap();
        assert!(matches!(
            decode(&n),
            Ok(Some(Middleware::BasicAuth {
                users_file: Some(_),
                ..
            }))
        ));
        let n = Node::from_yaml("basicAuth:\n  realm: x\n", "m").unwrap();
        assert!(decode(&n).is_err());
    }
}
