//! `loadBalancer.healthCheck`: an active check of each server, with Traefik's option set and
//! defaults (every 30 s, 5 s to answer, `GET`, any status below 400).

use std::time::Duration;

use serde::Serialize;

use crate::tree::{DecodeError, Node};

/// Traefik's default health check interval.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
/// Traefik's default health check timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// An active health check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheck {
    /// The path (and query) requested.
    pub path: String,
    /// How often, while the server is healthy.
    #[serde(serialize_with = "crate::tree::ser_go_duration")]
    pub interval: Duration,
    /// How often while it is not (default: `interval`).
    #[serde(serialize_with = "crate::tree::ser_go_duration")]
    pub unhealthy_interval: Duration,
    /// How long an answer may take.
    #[serde(serialize_with = "crate::tree::ser_go_duration")]
    pub timeout: Duration,
    /// `http` or `https` instead of the server's own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    /// Another port than the server's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// The method (default `GET`).
    pub method: String,
    /// The one status that means healthy (default: any from 200 to 399).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The `Host` sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Headers sent.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
    /// Redirects are followed (Traefik's default); off: a 3xx is the answer judged.
    pub follow_redirects: bool,
    /// `mode: grpc`: the gRPC Health Checking Protocol (`grpc.health.v1.Health/Check`,
    /// healthy when `SERVING`) instead of an HTTP request.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub grpc: bool,
}

impl HealthCheck {
    /// A check of `path` with every other option at Traefik's default.
    pub fn of(path: &str) -> HealthCheck {
        HealthCheck {
            path: path.to_owned(),
            interval: DEFAULT_INTERVAL,
            unhealthy_interval: DEFAULT_INTERVAL,
            timeout: DEFAULT_TIMEOUT,
            scheme: None,
            port: None,
            method: "GET".into(),
            status: None,
            hostname: None,
            headers: Vec::new(),
            follow_redirects: true,
            grpc: false,
        }
    }

    /// Whether an answer of `status` is healthy.
    pub fn healthy(&self, status: u16) -> bool {
        match self.status {
            Some(s) => s == status,
            None => (200..400).contains(&status),
        }
    }
}

fn at_least_100ms(n: &Node) -> Result<Duration, DecodeError> {
    let d = n.duration()?;
    if d < Duration::from_millis(100) {
        return Err(DecodeError::at(n, "expected at least 100ms"));
    }
    Ok(d)
}

/// Decodes `healthCheck`.
pub fn decode(h: &Node) -> Result<HealthCheck, DecodeError> {
    let mut f = super::middleware::fields(
        h,
        &[
            "path",
            "interval",
            "unhealthyInterval",
            "timeout",
            "scheme",
            "port",
            "method",
            "status",
            "hostname",
            "headers",
            "followRedirects",
            "mode",
        ],
    )?;
    let grpc = match f.take("mode") {
        None => false,
        Some(m) => match m.text()?.to_ascii_lowercase().as_str() {
            "http" | "" => false,
            "grpc" => true,
            other => {
                return Err(DecodeError::at(
                    m,
                    format!("mode {other:?} is not supported (http or grpc)"),
                ))
            }
        },
    };
    // A gRPC check asks the health service, whatever the path.
    let (path, p) = match f.take("path") {
        Some(p) => (p.text()?.to_owned(), p),
        None if grpc => ("/".to_owned(), h),
        None => return Err(DecodeError::at(h, "a health check needs a path")),
    };
    if !path.starts_with('/') {
        return Err(DecodeError::at(
            p,
            format!("expected a path starting with '/', got {path:?}"),
        ));
    }
    let mut c = HealthCheck::of(&path);
    c.grpc = grpc;
    if let Some(i) = f.take("interval") {
        c.interval = at_least_100ms(i)?;
    }
    c.unhealthy_interval = match f.take("unhealthyInterval") {
        Some(i) => at_least_100ms(i)?,
        None => c.interval,
    };
    if let Some(t) = f.take("timeout") {
        c.timeout = at_least_100ms(t)?;
    }
    if let Some(s) = f.take("scheme") {
        let v = s.text()?.to_ascii_lowercase();
        if !matches!(v.as_str(), "http" | "https" | "h2c") {
            return Err(DecodeError::at(
                s,
                format!("expected http, https or h2c, got {v:?}"),
            ));
        }
        c.scheme = Some(v);
    }
    if let Some(p) = f.take("port") {
        let v = p.integer()?;
        // 0 is Traefik's "the server's own port".
        c.port = match v {
            0 => None,
            v => Some(
                u16::try_from(v)
                    .ok()
                    .ok_or_else(|| DecodeError::at(p, format!("expected a port, got {v}")))?,
            ),
        };
    }
    if let Some(m) = f.take("method") {
        let v = m.text()?.trim().to_ascii_uppercase();
        if v.is_empty() || http::Method::from_bytes(v.as_bytes()).is_err() {
            return Err(DecodeError::at(m, format!("invalid method {v:?}")));
        }
        c.method = v;
    }
    if let Some(s) = f.take("status") {
        let v = s.integer()?;
        c.status = match v {
            0 => None,
            v => Some(
                u16::try_from(v)
                    .ok()
                    .filter(|v| (100..=999).contains(v))
                    .ok_or_else(|| DecodeError::at(s, format!("invalid status {v}")))?,
            ),
        };
    }
    if let Some(n) = f.take("hostname") {
        let v = n.text()?.trim();
        if !v.is_empty() {
            c.hostname = Some(v.to_owned());
        }
    }
    for n in f.take("headers").map(Node::children).unwrap_or_default() {
        let v = n.text()?;
        if http::HeaderName::from_bytes(n.name.as_bytes()).is_err()
            || http::HeaderValue::from_str(v).is_err()
        {
            return Err(DecodeError::at(n, "invalid header"));
        }
        c.headers.push((n.name.clone(), v.to_owned()));
    }
    if let Some(r) = f.take("followRedirects") {
        c.follow_redirects = r.boolean()?;
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traefiks_options_and_defaults() {
        let n = Node::from_yaml("path: /ready?full=1\ninterval: 10s\ntimeout: 3s\nscheme: HTTPS\nport: 9000\nmethod: head\nstatus: 204\nhostname: app.internal\nheaders:\n  X-Probe: router\nfollowRedirects: false\n", "h").unwrap();
        let c = decode(&n).unwrap();
        assert_eq!(
            (
                c.interval.as_secs(),
                c.unhealthy_interval.as_secs(),
                c.timeout.as_secs()
            ),
            (10, 10, 3)
        );
        assert_eq!(
            (c.scheme.as_deref(), c.port, c.method.as_str()),
            (Some("https"), Some(9000), "HEAD")
        );
        assert!(c.healthy(204) && !c.healthy(200));
        assert_eq!(c.headers, [("X-Probe".to_owned(), "router".to_owned())]);
        assert!(!c.follow_redirects);
        let d = HealthCheck::of("/");
        assert!(d.healthy(200) && d.healthy(302) && !d.healthy(404) && d.follow_redirects);
        for bad in [
            "path: x\n",
            "path: /\nmode: tcp\n",
            "path: /\nscheme: ftp\n",
            "path: /\nport: 70000\n",
            "path: /\ninterval: 1ms\n",
        ] {
            let n = Node::from_yaml(bad, "h").unwrap();
            assert!(decode(&n).is_err(), "{bad}");
        }
    }
}

/// Traefik's `pkg/healthcheck/healthcheck_test.go`, translated: the options as decoded, and
/// which answers count as healthy.
#[cfg(test)]
// The tables are tuples of plain data.
#[allow(clippy::type_complexity)]
mod traefik_tables {
    use super::*;

    fn check(yaml: &str) -> Result<HealthCheck, String> {
        let n = Node::from_yaml(yaml, "h").map_err(|e| e.to_string())?;
        decode(&n).map_err(|e| e.to_string())
    }

    #[test]
    fn durations() {
        // TestNewServiceHealthChecker_durations: (case, options, interval, timeout in ms).
        let table: &[(&str, &str, Option<(u64, u64)>)] = &[
            ("default values", "", Some((30_000, 5_000))),
            (
                "custom durations",
                "interval: 10s\ntimeout: 5s\n",
                Some((10_000, 5_000)),
            ),
            (
                "interval shorter than timeout",
                "interval: 1s\ntimeout: 5s\n",
                Some((1_000, 5_000)),
            ),
            // Traefik logs an error and uses the defaults (30s, 5s); the router refuses a
            // duration below 100ms (README.md, `healthcheck.interval`: "a duration of at least
            // `100ms`"), which disables the service.
            ("out of range values", "interval: -1s\ntimeout: -1s\n", None),
        ];
        for (case, opts, want) in table {
            let got = check(&format!("path: /\n{opts}"))
                .ok()
                .map(|c| (c.interval.as_millis() as u64, c.timeout.as_millis() as u64));
            assert_eq!(got, *want, "{case}");
        }
        // TestServiceHealthChecker_Launch / TestDifferentIntervals: unhealthyInterval set,
        // or the interval when not.
        let c = check("path: /\ninterval: 500ms\nunhealthyInterval: 100ms\n").unwrap();
        assert_eq!(
            (c.interval.as_millis(), c.unhealthy_interval.as_millis()),
            (500, 100)
        );
        let c = check("path: /\ninterval: 500ms\n").unwrap();
        assert_eq!(c.unhealthy_interval.as_millis(), 500);
    }

    #[test]
    fn new_request_options() {
        // TestServiceHealthChecker_newRequest: (case, options, accepted, method).
        let table: &[(&str, &str, bool, &str)] = &[
            ("no port override", "path: /test\nport: 0\n", true, "GET"),
            ("port override", "path: /test\nport: 8080\n", true, "GET"),
            (
                "scheme override",
                "path: /test\nscheme: http\n",
                true,
                "GET",
            ),
            (
                "path is an absolute URL",
                "path: http://backend2/health?powpow=do\n",
                false,
                "",
            ),
            ("path with param", "path: /health?powpow=do\n", true, "GET"),
            (
                "path with params",
                "path: /health?powpow=do&do=powpow\n",
                true,
                "GET",
            ),
            ("path with invalid path", "path: ':'\n", false, ""),
            (
                "override hostname",
                "path: /\nhostname: myhost\n",
                true,
                "GET",
            ),
            (
                "custom header",
                "path: /\nheaders:\n  Custom-Header: foo\n",
                true,
                "GET",
            ),
            ("custom method", "path: /\nmethod: HEAD\n", true, "HEAD"),
        ];
        for (case, yaml, ok, method) in table {
            match check(yaml) {
                Ok(c) => {
                    assert!(*ok, "{case}: accepted");
                    assert_eq!(c.method, *method, "{case}");
                }
                Err(e) => assert!(!*ok, "{case}: {e}"),
            }
        }
        let c = check("path: /health?powpow=do&do=powpow\nport: 8080\nhostname: myhost\nheaders:\n  Custom-Header: foo\n").unwrap();
        assert_eq!(c.path, "/health?powpow=do&do=powpow");
        assert_eq!(c.port, Some(8080));
        assert_eq!(c.hostname.as_deref(), Some("myhost"));
        assert_eq!(c.headers, [("Custom-Header".to_owned(), "foo".to_owned())]);
        // followRedirects defaults to true (SetDefaults); mode grpc needs no path.
        assert!(check("path: /\n").unwrap().follow_redirects);
        assert!(
            !check("path: /\nfollowRedirects: false\n")
                .unwrap()
                .follow_redirects
        );
        assert!(check("mode: grpc\n").unwrap().grpc);
    }

    #[test]
    fn healthy_statuses() {
        // TestServiceHealthChecker_Launch: (case, `status` option, server's answer, up).
        let table: &[(&str, Option<u16>, u16, bool)] = &[
            ("healthy server staying healthy", None, 200, true),
            ("with custom code status check", Some(404), 404, true),
            ("StatusNoContent", None, 204, true),
            (
                "StatusPermanentRedirect (not followed: no Location)",
                None,
                308,
                true,
            ),
            ("healthy server becoming sick", None, 503, false),
            (
                "becoming sick, with custom code status check",
                Some(503),
                200,
                false,
            ),
            // checkHealthHTTP's range: [200, 400).
            ("1xx", None, 101, false),
            ("399", None, 399, true),
            ("400", None, 400, false),
        ];
        for (case, status, answer, up) in table {
            let mut c = HealthCheck::of("/path");
            c.status = *status;
            assert_eq!(c.healthy(*answer), *up, "{case}");
        }
    }
}
