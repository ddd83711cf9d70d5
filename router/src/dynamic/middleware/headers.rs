//! `headers`: custom request and answer headers, the security headers Traefik sets through
//! `unrolled/secure` (HSTS, frame options, XSS filter, CSP, allowed hosts, ...) and CORS with
//! its preflight answers, with Traefik v3's option names and rules.

use serde::Serialize;

use super::rewrite::GoRegex;
use super::{fields, Middleware};
use crate::tree::{DecodeError, Node};

/// A `headers` middleware.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Headers {
    /// Request headers to set (an empty value removes the header; `Host` sets the host the
    /// backend is sent; an empty `X-Forwarded-For` sends none at all).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub request: Vec<SetHeader>,
    /// Answer headers to set: the security options' first, then the custom ones (which win;
    /// an empty value removes one).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub response: Vec<SetHeader>,
    /// `Strict-Transport-Security`'s value (from `stsSeconds` > 0 and friends).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sts: Option<String>,
    /// `forceSTSHeader`: HSTS on plain HTTP answers too.
    pub force_sts: bool,
    /// `sslProxyHeaders`: request headers whose value means "the client used HTTPS".
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ssl_proxy_headers: Vec<(String, String)>,
    /// `allowedHosts`: any other host answers 500 `Bad Host`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_hosts: Vec<String>,
    /// `hostsProxyHeaders`: headers that carry the host `allowedHosts` checks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hosts_proxy_headers: Vec<String>,
    /// `isDevelopment`: no `allowedHosts` check and no HSTS.
    pub is_development: bool,
    /// CORS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cors: Option<Cors>,
    /// `contentSecurityPolicy` and `contentSecurityPolicyReportOnly` values that say
    /// `$NONCE`: each answer gets them with `$NONCE` replaced by `'nonce-<random>'` (one nonce
    /// per answer, 16 random bytes in unpadded base64), as Traefik's secure headers do. They
    /// are set before [`Headers::response`] (so a custom header of the same name wins).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nonce_policies: Vec<SetHeader>,
}

/// A header a `headers` middleware sets, as configured (an empty value removes it), with its
/// name and value parsed once when read: the request path sets it without parsing or copying
/// text again. Compared and shown as its configured text.
#[derive(Clone)]
pub struct SetHeader {
    /// The name as configured.
    pub name: String,
    /// The value as configured (empty: the header is removed).
    pub value: String,
    header: http::HeaderName,
    set: Option<http::HeaderValue>,
}

impl SetHeader {
    /// Header `name` set to `value`; an invalid name or value is named in the error.
    pub fn new(name: &str, value: &str) -> Result<SetHeader, String> {
        let header = http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("invalid header name {name:?}"))?;
        let set = match value.is_empty() {
            true => None,
            false => Some(
                http::HeaderValue::from_str(value)
                    .map_err(|_| "invalid header value".to_owned())?,
            ),
        };
        Ok(SetHeader {
            name: name.to_owned(),
            value: value.to_owned(),
            header,
            set,
        })
    }

    /// The parsed header: its name, and its value (`None`: removed).
    pub fn parsed(&self) -> (http::HeaderName, Option<http::HeaderValue>) {
        (self.header.clone(), self.set.clone())
    }

    /// Sets it on `h` (or removes it).
    pub fn apply(&self, h: &mut http::HeaderMap) {
        match &self.set {
            Some(v) => {
                h.insert(self.header.clone(), v.clone());
            }
            None => {
                h.remove(&self.header);
            }
        }
    }
}

impl std::fmt::Debug for SetHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // As the `(name, value)` pair it was.
        f.debug_tuple("")
            .field(&self.name)
            .field(&self.value)
            .finish()
    }
}

impl PartialEq for SetHeader {
    fn eq(&self, other: &SetHeader) -> bool {
        self.name == other.name && self.value == other.value
    }
}

impl Eq for SetHeader {}

impl PartialEq<(String, String)> for SetHeader {
    fn eq(&self, (name, value): &(String, String)) -> bool {
        self.name == *name && self.value == *value
    }
}

impl Serialize for SetHeader {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (&self.name, &self.value).serialize(s)
    }
}

/// The `accessControl*` options and `addVaryHeader`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cors {
    /// `accessControlAllowCredentials`.
    pub allow_credentials: bool,
    /// `accessControlAllowHeaders`.
    pub allow_headers: Vec<String>,
    /// `accessControlAllowMethods`.
    pub allow_methods: Vec<String>,
    /// `accessControlAllowOriginList` (`*` allowed).
    pub allow_origin_list: Vec<String>,
    /// `accessControlAllowOriginListRegex`.
    pub allow_origin_regex: Vec<GoRegex>,
    /// `accessControlExposeHeaders`.
    pub expose_headers: Vec<String>,
    /// `accessControlMaxAge` (seconds).
    pub max_age: Option<i64>,
    /// `addVaryHeader`: `Vary: Origin` on answers.
    pub add_vary: bool,
}

const OPTIONS: &[&str] = &[
    "customRequestHeaders",
    "customResponseHeaders",
    "accessControlAllowCredentials",
    "accessControlAllowHeaders",
    "accessControlAllowMethods",
    "accessControlAllowOriginList",
    "accessControlAllowOriginListRegex",
    "accessControlExposeHeaders",
    "accessControlMaxAge",
    "addVaryHeader",
    "allowedHosts",
    "hostsProxyHeaders",
    "sslProxyHeaders",
    "stsSeconds",
    "stsIncludeSubdomains",
    "stsPreload",
    "forceSTSHeader",
    "frameDeny",
    "customFrameOptionsValue",
    "contentTypeNosniff",
    "browserXssFilter",
    "customBrowserXSSValue",
    "contentSecurityPolicy",
    "contentSecurityPolicyReportOnly",
    "publicKey",
    "referrerPolicy",
    "permissionsPolicy",
    "isDevelopment",
    // Removed in Traefik v3 (read there, without effect): read as Traefik reads them.
    "featurePolicy",
    "sslRedirect",
    "sslTemporaryRedirect",
    "sslHost",
    "sslForceHost",
];

/// Decodes `headers`.
pub fn decode(kind: &Node) -> Result<Middleware, DecodeError> {
    let mut f = fields(kind, OPTIONS)?;
    // Whether an option is set to something that does something: Traefik refuses a `headers`
    // middleware without one (its `Has*Defined`: options set to `false` or `""` count as none).
    let mut defined = false;
    let mut flag = |n: Option<&Node>| -> Result<bool, DecodeError> {
        let on = n.map(Node::boolean).transpose()?.unwrap_or(false);
        defined |= on;
        Ok(on)
    };
    let frame_deny = flag(f.take("frameDeny"))?;
    let nosniff = flag(f.take("contentTypeNosniff"))?;
    let xss_filter = flag(f.take("browserXssFilter"))?;
    let include_subdomains = flag(f.take("stsIncludeSubdomains"))?;
    let preload = flag(f.take("stsPreload"))?;
    let force_sts = flag(f.take("forceSTSHeader"))?;
    let is_development = flag(f.take("isDevelopment"))?;
    let allow_credentials = flag(f.take("accessControlAllowCredentials"))?;
    let add_vary = flag(f.take("addVaryHeader"))?;
    // Read as Traefik v3 reads them (booleans, text), with no effect but on `defined`.
    for k in ["sslRedirect", "sslTemporaryRedirect", "sslForceHost"] {
        flag(f.take(k))?;
    }
    let mut texts = |keys: &[&str]| -> Result<Vec<Option<String>>, DecodeError> {
        let mut out = Vec::new();
        for k in keys {
            // An empty value is no value: `frameDeny` and `browserXssFilter` then apply.
            let v = value(f.take(k))?.filter(|v| !v.is_empty());
            defined |= v.is_some();
            out.push(v);
        }
        Ok(out)
    };
    let mut t = texts(&[
        "customFrameOptionsValue",
        "customBrowserXSSValue",
        "contentSecurityPolicy",
        "contentSecurityPolicyReportOnly",
        "publicKey",
        "referrerPolicy",
        "permissionsPolicy",
        "sslHost",
        "featurePolicy",
    ])?
    .into_iter();
    let mut next = || t.next().flatten();
    let (frame, xss) = (next(), next());
    let mut response = Vec::new();
    let mut push = |name: &str, v: Option<String>| {
        // The value was checked when read (`value`).
        if let Some(h) = v.and_then(|v| SetHeader::new(name, &v).ok()) {
            response.push(h);
        }
    };
    push(
        "X-Frame-Options",
        frame.or(frame_deny.then(|| "DENY".to_owned())),
    );
    push(
        "X-Content-Type-Options",
        nosniff.then(|| "nosniff".to_owned()),
    );
    push(
        "X-XSS-Protection",
        xss.or(xss_filter.then(|| "1; mode=block".to_owned())),
    );
    let mut nonce_policies = Vec::new();
    for h in [
        "Content-Security-Policy",
        "Content-Security-Policy-Report-Only",
    ] {
        match next() {
            Some(v) if v.contains(NONCE) => {
                nonce_policies.extend(SetHeader::new(h, &v).ok());
            }
            v => push(h, v),
        }
    }
    for h in ["Public-Key-Pins", "Referrer-Policy", "Permissions-Policy"] {
        push(h, next());
    }
    let request = settings(f.take("customRequestHeaders"))?;
    let custom_response = settings(f.take("customResponseHeaders"))?;
    defined |= !request.is_empty() || !custom_response.is_empty();
    response.extend(custom_response);
    let sts = match f.take("stsSeconds") {
        None => None,
        Some(n) => {
            // Set, even to 0, it counts as defined; a negative number is written as it is
            // (`max-age=-1`), as Traefik's secure headers write it.
            defined = true;
            match n.integer()? {
                0 => None,
                secs => {
                    let mut s = format!("max-age={secs}");
                    if include_subdomains {
                        s.push_str("; includeSubDomains");
                    }
                    if preload {
                        s.push_str("; preload");
                    }
                    Some(s)
                }
            }
        }
    };
    let mut allow_origin_regex = Vec::new();
    if let Some(n) = f.take("accessControlAllowOriginListRegex") {
        for p in n.strings()? {
            allow_origin_regex.push(GoRegex::new(&p).map_err(|e| DecodeError::at(n, e))?);
        }
    }
    let mut list = |n: Option<&Node>| -> Result<Vec<String>, DecodeError> {
        let l = n.map(Node::strings).transpose()?.unwrap_or_default();
        defined |= !l.is_empty();
        Ok(l)
    };
    let cors = Cors {
        allow_credentials,
        allow_headers: list(f.take("accessControlAllowHeaders"))?,
        allow_methods: list(f.take("accessControlAllowMethods"))?,
        allow_origin_list: list(f.take("accessControlAllowOriginList"))?,
        allow_origin_regex,
        expose_headers: list(f.take("accessControlExposeHeaders"))?,
        max_age: f
            .take("accessControlMaxAge")
            .map(Node::integer)
            .transpose()?,
        add_vary,
    };
    let allowed_hosts = list(f.take("allowedHosts"))?;
    let hosts_proxy_headers = list(f.take("hostsProxyHeaders"))?;
    let ssl_proxy_headers = pairs(f.take("sslProxyHeaders"))?;
    defined |= !cors.allow_origin_regex.is_empty()
        || cors.max_age.is_some()
        || !ssl_proxy_headers.is_empty();
    if !defined {
        return Err(DecodeError::at(
            kind,
            "headers configuration not valid: no option is set to a value that does something",
        ));
    }
    let headers = Headers {
        request,
        response,
        sts,
        force_sts,
        ssl_proxy_headers,
        allowed_hosts,
        hosts_proxy_headers,
        is_development,
        cors: (cors != Cors::default()).then_some(cors),
        nonce_policies,
    };
    Ok(Middleware::Headers(Box::new(headers)))
}

/// What `contentSecurityPolicy` values say where each answer's nonce goes.
pub const NONCE: &str = "$NONCE";

/// A map of headers to set (`customRequestHeaders.<Name>`).
fn settings(n: Option<&Node>) -> Result<Vec<SetHeader>, DecodeError> {
    let mut out = Vec::new();
    for h in n.map(Node::children).unwrap_or_default() {
        out.push(SetHeader::new(&h.name, h.text()?).map_err(|e| DecodeError::at(h, e))?);
    }
    Ok(out)
}

/// A map of header names to values (`sslProxyHeaders.<Name>`).
fn pairs(n: Option<&Node>) -> Result<Vec<(String, String)>, DecodeError> {
    Ok(settings(n)?
        .into_iter()
        .map(|s| (s.name, s.value))
        .collect())
}

/// A header value option.
fn value(n: Option<&Node>) -> Result<Option<String>, DecodeError> {
    let Some(n) = n else { return Ok(None) };
    let v = n.text()?;
    if http::HeaderValue::from_str(v).is_err() {
        return Err(DecodeError::at(n, "invalid header value"));
    }
    Ok(Some(v.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(yaml: &str) -> Result<Headers, DecodeError> {
        let node = Node::from_yaml(yaml, "m").unwrap();
        match super::super::decode(&node)? {
            Some(Middleware::Headers(h)) => Ok(*h),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn security_options_become_headers_custom_ones_last() {
        let h = one("headers:\n  browserXssFilter: true\n  frameDeny: true\n  customFrameOptionsValue: SAMEORIGIN\n  contentSecurityPolicyReportOnly: default-src 'self'\n  stsSeconds: 0\n  stsPreload: true\n  forceSTSHeader: true\n  customResponseHeaders:\n    X-XSS-Protection: ''\n").unwrap();
        assert_eq!(
            h.response,
            [
                ("X-Frame-Options".to_owned(), "SAMEORIGIN".to_owned()),
                ("X-XSS-Protection".to_owned(), "1; mode=block".to_owned()),
                (
                    "Content-Security-Policy-Report-Only".to_owned(),
                    "default-src 'self'".to_owned()
                ),
                ("X-XSS-Protection".to_owned(), String::new()),
            ]
        );
        // stsSeconds 0 is "no HSTS", as in unrolled/secure.
        assert_eq!(h.sts, None);
        assert!(h.force_sts);
        assert!(h.cors.is_none());
    }

    #[test]
    fn cors_and_hosts_options_are_read() {
        let h = one("headers:\n  accessControlAllowMethods: GET,OPTIONS,PUT\n  accessControlAllowHeaders: ['*']\n  accessControlAllowOriginList: https://a.example\n  accessControlAllowOriginListRegex: ['^https://(.*)\\.b\\.example$']\n  accessControlMaxAge: 100\n  addVaryHeader: true\n  allowedHosts: [a.example]\n  hostsProxyHeaders: [X-Forwarded-Host]\n  sslProxyHeaders:\n    X-Forwarded-Proto: https\n  sslRedirect: true\n  featurePolicy: camera 'none'\n").unwrap();
        let c = h.cors.unwrap();
        assert_eq!(c.allow_methods, ["GET", "OPTIONS", "PUT"]);
        assert_eq!(c.allow_origin_regex.len(), 1);
        assert_eq!(c.max_age, Some(100));
        assert!(c.add_vary);
        assert_eq!(h.allowed_hosts, ["a.example"]);
        assert_eq!(
            h.ssl_proxy_headers,
            [("X-Forwarded-Proto".to_owned(), "https".to_owned())]
        );
        // Removed in Traefik v3: read, no effect.
        assert!(h.response.is_empty());
    }

    #[test]
    fn bad_values_are_errors() {
        for yaml in [
            "headers:\n  accessControlAllowOriginListRegex: ['(']\n",
            "headers:\n  stsSeconds: x\n",
            "headers:\n  customRequestHeaders:\n    'bad name': x\n",
            "headers:\n  frameDeny: maybe\n",
            "headers:\n  sslRedirect: maybe\n",
            "headers:\n  nope: 1\n",
            "headers: {}\n",
        ] {
            assert!(one(yaml).is_err(), "{yaml}");
        }
    }

    /// Traefik's `Has*Defined`: a middleware whose options are all `false`, `""` or empty
    /// lists sets nothing, and is refused ("headers configuration not valid"); any one that
    /// does something (`stsSeconds` or `accessControlMaxAge` set, even to 0) is enough.
    #[test]
    fn options_that_do_nothing_are_no_configuration() {
        for yaml in [
            "headers:\n  frameDeny: false\n",
            "headers:\n  customFrameOptionsValue: ''\n  browserXssFilter: false\n",
            "headers:\n  accessControlAllowMethods: []\n  isDevelopment: false\n",
            "headers:\n  sslRedirect: false\n  sslHost: ''\n",
        ] {
            let e = one(yaml).unwrap_err();
            assert!(
                e.to_string().contains("headers configuration not valid"),
                "{yaml}: {e}"
            );
        }
        for yaml in [
            "headers:\n  stsSeconds: 0\n",
            "headers:\n  accessControlMaxAge: 0\n",
            "headers:\n  isDevelopment: true\n",
            "headers:\n  customResponseHeaders:\n    X-A: ''\n",
            "headers:\n  sslRedirect: true\n",
            "headers:\n  featurePolicy: camera 'none'\n",
            "headers:\n  sslProxyHeaders:\n    X-Forwarded-Proto: https\n",
        ] {
            assert!(one(yaml).is_ok(), "{yaml}");
        }
    }

    /// As unrolled/secure: an empty custom value is none (`frameDeny` and `browserXssFilter`
    /// then apply); a negative `stsSeconds` is written as it is; `$NONCE` in a content
    /// security policy is a nonce made for each answer.
    #[test]
    fn secure_options_as_traefik_writes_them() {
        let h = one("headers:\n  frameDeny: true\n  customFrameOptionsValue: ''\n  browserXssFilter: true\n  customBrowserXSSValue: ''\n  stsSeconds: -1\n  stsIncludeSubdomains: true\n  contentSecurityPolicy: script-src $NONCE 'self'\n  contentSecurityPolicyReportOnly: default-src 'self'\n").unwrap();
        let set: Vec<(&str, &str)> = h
            .response
            .iter()
            .map(|s| (s.name.as_str(), s.value.as_str()))
            .collect();
        assert_eq!(
            set,
            [
                ("X-Frame-Options", "DENY"),
                ("X-XSS-Protection", "1; mode=block"),
                ("Content-Security-Policy-Report-Only", "default-src 'self'"),
            ]
        );
        assert_eq!(h.sts.as_deref(), Some("max-age=-1; includeSubDomains"));
        let nonce: Vec<(&str, &str)> = h
            .nonce_policies
            .iter()
            .map(|s| (s.name.as_str(), s.value.as_str()))
            .collect();
        assert_eq!(
            nonce,
            [("Content-Security-Policy", "script-src $NONCE 'self'")]
        );
    }
}
