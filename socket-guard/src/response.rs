//! Responses socket-guard writes itself: Docker-style JSON errors.
//!
//! `Content-Type: application/json` with `{"message": "..."}` is the only error form the
//! docker CLI prints cleanly (`Error response from daemon: <message>`). HEAD answers carry no
//! body, as HTTP requires.

use bytes::Bytes;
use hyper::header::{HeaderValue, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Response, StatusCode};

use crate::body::{GuardBody, GuardBodyExt};

/// A JSON error response. `close` adds `Connection: close` (after a refused upgrade).
pub fn json_error(
    status: StatusCode,
    message: &str,
    head: bool,
    close: bool,
) -> Response<GuardBody> {
    let body = serde_json::json!({ "message": message }).to_string();
    let len = body.len();
    let mut resp = Response::new(if head {
        GuardBody::empty()
    } else {
        GuardBody::full(Bytes::from(body))
    });
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(CONTENT_LENGTH, HeaderValue::from(len));
    if close {
        h.insert(CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

/// Writes a JSON error response into `out` for the connection loop; returns the body's length.
/// `close` adds `Connection: close`.
pub fn write_json_error(
    out: &mut Vec<u8>,
    status: StatusCode,
    message: &str,
    head: bool,
    close: bool,
) -> usize {
    let body = serde_json::json!({ "message": message }).to_string();
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\nContent-Type: application/json\r\nContent-Length: ");
    out.extend_from_slice(itoa::Buffer::new().format(body.len()).as_bytes());
    if close {
        out.extend_from_slice(b"\r\nConnection: close");
    }
    out.extend_from_slice(b"\r\n\r\n");
    if !head {
        out.extend_from_slice(body.as_bytes());
    }
    body.len()
}

/// A small plain JSON success body for the admin listener.
pub fn json_ok(value: serde_json::Value) -> Response<GuardBody> {
    let mut resp = Response::new(GuardBody::full(Bytes::from(value.to_string())));
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// A plain text response (metrics).
pub fn text(status: StatusCode, content_type: &'static str, body: String) -> Response<GuardBody> {
    let mut resp = Response::new(GuardBody::full(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}
