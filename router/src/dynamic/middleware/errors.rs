//! `errors`: when the answer's status is in one of the ranges, the client gets a page from
//! another service instead (with the original status, or a rewritten one), as Traefik's
//! custom error pages do.

use serde::Serialize;

use super::{fields, Middleware};
use crate::tree::{DecodeError, Node};

/// An `errors` middleware.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorPages {
    /// Status ranges caught (inclusive).
    pub status: Vec<(u16, u16)>,
    /// `statusRewrites`: a caught status in a range becomes this one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub status_rewrites: Vec<((u16, u16), u16)>,
    /// The service the page comes from (as written; resolved to a qualified name when routes
    /// are compiled).
    pub service: String,
    /// The page's path: `{status}`, `{originalStatus}` and `{url}` are replaced.
    pub query: String,
    /// `errorRequestHeaders`: only these request headers go to the page's service (all when
    /// unset).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_request_headers: Option<Vec<String>>,
}

impl ErrorPages {
    /// Whether `status` is caught.
    pub fn catches(&self, status: u16) -> bool {
        self.status
            .iter()
            .any(|(lo, hi)| (*lo..=*hi).contains(&status))
    }

    /// The status the page is served with.
    pub fn rewritten(&self, status: u16) -> u16 {
        self.status_rewrites
            .iter()
            .find(|((lo, hi), _)| (*lo..=*hi).contains(&status))
            .map_or(status, |(_, to)| *to)
    }

    /// The page's path and query for a caught `status` (rewritten to `code`) of `url`.
    pub fn path(&self, code: u16, status: u16, url: &str) -> String {
        if self.query.is_empty() {
            return "/".into();
        }
        let q = format!("/{}", self.query.trim_start_matches('/'));
        q.replace("{status}", &code.to_string())
            .replace("{originalStatus}", &status.to_string())
            .replace("{url}", &query_escape(url))
    }
}

/// Go's `url.QueryEscape`.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `404`, `500-599`, as Traefik's `HTTPCodeRanges` reads them: split on `-`, the first two
/// parts read as integers (a third, as in `500-599-600`, is left out, as Traefik does); any
/// integer is accepted, one over the largest status standing for it (no status reaches it).
fn range(text: &str) -> Option<(u16, u16)> {
    let code = |s: &str| {
        let v: i64 = s.trim().parse().ok()?;
        Some(u16::try_from(v.max(0)).unwrap_or(u16::MAX))
    };
    let mut parts = text.trim().split('-');
    let lo = code(parts.next()?)?;
    let hi = match parts.next() {
        Some(h) => code(h)?,
        None => lo,
    };
    Some((lo, hi))
}

/// A list of status ranges (`errors.status`, `retry.status`).
pub fn status_ranges(n: &Node) -> Result<Vec<(u16, u16)>, DecodeError> {
    n.strings()?
        .iter()
        .map(|s| range(s).ok_or_else(|| DecodeError::at(n, format!("invalid status range {s:?}"))))
        .collect()
}

/// Decodes `errors`.
pub fn decode(kind: &Node) -> Result<Middleware, DecodeError> {
    let mut f = fields(
        kind,
        &[
            "status",
            "statusRewrites",
            "service",
            "query",
            "errorRequestHeaders",
        ],
    )?;
    // No status: nothing is caught (Traefik builds the middleware all the same).
    let status = f
        .take("status")
        .map(status_ranges)
        .transpose()?
        .unwrap_or_default();
    let service = f
        .take("service")
        .map(Node::text)
        .transpose()?
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| DecodeError::at(kind, "errors needs a service"))?
        .to_owned();
    let mut status_rewrites = Vec::new();
    for r in f
        .take("statusRewrites")
        .map(Node::children)
        .unwrap_or_default()
    {
        let from = range(&r.name)
            .ok_or_else(|| DecodeError::at(r, format!("invalid status range {:?}", r.name)))?;
        let to = r.integer()?;
        let to = u16::try_from(to)
            .ok()
            .filter(|t| (100..=999).contains(t))
            .ok_or_else(|| DecodeError::at(r, format!("invalid status {to}")))?;
        status_rewrites.push((from, to));
    }
    let query = f
        .take("query")
        .map(Node::text)
        .transpose()?
        .unwrap_or("")
        .to_owned();
    let error_request_headers = f
        .take("errorRequestHeaders")
        .map(Node::strings)
        .transpose()?;
    Ok(Middleware::Errors(Box::new(ErrorPages {
        status,
        status_rewrites,
        service,
        query,
        error_request_headers,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_rewrites_and_the_page_path() {
        let n = Node::from_yaml(
            "errors:\n  status: ['404', '500-599']\n  statusRewrites:\n    '502-504': 500\n  service: pages\n  query: '{status}.html?from={originalStatus}&u={url}'\n",
            "m",
        )
        .unwrap();
        let Middleware::Errors(e) = super::super::decode(&n).unwrap().unwrap() else {
            panic!()
        };
        assert!(e.catches(404) && e.catches(503) && !e.catches(403));
        assert_eq!(e.rewritten(503), 500);
        assert_eq!(e.rewritten(404), 404);
        assert_eq!(
            e.path(500, 503, "http://a.test/x?y=1"),
            "/500.html?from=503&u=http%3A%2F%2Fa.test%2Fx%3Fy%3D1"
        );
        for bad in [
            "errors:\n  status: ['4xx']\n  service: s\n",
            "errors:\n  status: ['404']\n",
        ] {
            let n = Node::from_yaml(bad, "m").unwrap();
            assert!(super::super::decode(&n).is_err(), "{bad}");
        }
    }
}
