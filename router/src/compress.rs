//! Response compression (`compress` middleware, `ROUTER_COMPRESS`): gzip, br or zstd as the
//! client accepts, streamed (never buffered), for compressible types above a size threshold.
//! Never for event streams, already encoded bodies, partial content, images or video.

use async_compression::tokio::bufread::{BrotliEncoder, GzipEncoder, ZstdEncoder};
use bytes::Bytes;
use futures_util::TryStreamExt;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::StatusCode;
use std::pin::Pin;
use tokio::io::{AsyncBufRead, AsyncRead};
use tokio_util::io::{ReaderStream, StreamReader};

use crate::proxy::ProxyBody;

/// Bodies smaller than this (when their length is known) are sent as they are.
pub const MIN_SIZE: u64 = 1024;

/// A content coding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `br`.
    Brotli,
    /// `zstd`.
    Zstd,
    /// `gzip`.
    Gzip,
}

impl Encoding {
    fn token(self) -> &'static str {
        match self {
            Encoding::Brotli => "br",
            Encoding::Zstd => "zstd",
            Encoding::Gzip => "gzip",
        }
    }
}

/// Picks the coding from `Accept-Encoding`: the highest q-value, preferring br, zstd, gzip on
/// ties; `q=0` refuses a coding.
pub fn negotiate(accept: Option<&HeaderValue>) -> Option<Encoding> {
    let accept = accept?.to_str().ok()?;
    let mut best: Option<(Encoding, u32)> = None;
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let token = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let q = (q.clamp(0.0, 1.0) * 1000.0) as u32;
        let enc = match token.as_str() {
            "br" => Encoding::Brotli,
            "zstd" => Encoding::Zstd,
            "gzip" | "x-gzip" => Encoding::Gzip,
            _ => continue,
        };
        if q == 0 {
            continue;
        }
        let rank = |e: Encoding| match e {
            Encoding::Brotli => 3,
            Encoding::Zstd => 2,
            Encoding::Gzip => 1,
        };
        match best {
            Some((b, bq)) if bq > q || (bq == q && rank(b) >= rank(enc)) => {}
            _ => best = Some((enc, q)),
        }
    }
    best.map(|(e, _)| e)
}

/// Whether a response is worth compressing and safe to.
pub fn compressible(status: StatusCode, headers: &HeaderMap) -> bool {
    if status != StatusCode::OK
        || headers.contains_key(header::CONTENT_ENCODING)
        || headers.contains_key(header::CONTENT_RANGE)
    {
        return false;
    }
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if len < MIN_SIZE {
            return false;
        }
    }
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let mime = ct.split(';').next().unwrap_or("").trim();
    if mime == "text/event-stream"
        || mime.starts_with("image/") && mime != "image/svg+xml"
        || mime.starts_with("video/")
        || mime.starts_with("audio/")
    {
        return false;
    }
    mime.starts_with("text/")
        || matches!(
            mime,
            "application/json"
                | "application/javascript"
                | "application/xml"
                | "application/xhtml+xml"
                | "application/rss+xml"
                | "application/atom+xml"
                | "application/wasm"
                | "application/manifest+json"
                | "image/svg+xml"
                | "application/ld+json"
        )
        || mime.ends_with("+json")
        || mime.ends_with("+xml")
}

/// Compresses a response in place: body, `Content-Encoding`, `Vary`, no `Content-Length`.
pub fn apply(headers: &mut HeaderMap, body: ProxyBody, enc: Encoding) -> ProxyBody {
    prepare(headers, enc);
    let reader = StreamReader::new(body.into_data_stream().map_err(std::io::Error::other));
    frames(encoder(enc, reader))
}

/// The headers of an answer about to be compressed with `enc`: `Content-Encoding`, `Vary`,
/// no `Content-Length` or `Accept-Ranges`, a strong `ETag` made weak.
pub fn prepare(headers: &mut HeaderMap, enc: Encoding) {
    headers.remove(header::CONTENT_LENGTH);
    headers.remove(header::ACCEPT_RANGES);
    headers.insert(
        header::CONTENT_ENCODING,
        HeaderValue::from_static(enc.token()),
    );
    headers.append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if let Some(etag) = headers
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
    {
        // A strong validator no longer matches the encoded bytes.
        if !etag.starts_with("W/") {
            if let Ok(v) = HeaderValue::from_str(&format!("W/{etag}")) {
                headers.insert(header::ETAG, v);
            }
        }
    }
}

/// The encoded bytes of what `reader` yields.
pub fn encoder<'a, R>(enc: Encoding, reader: R) -> Pin<Box<dyn AsyncRead + Send + Sync + 'a>>
where
    R: AsyncBufRead + Send + Sync + 'a,
{
    match enc {
        Encoding::Gzip => Box::pin(GzipEncoder::new(reader)),
        // Quality 4 keeps br close to gzip's speed; 11 is far too slow for a proxy.
        Encoding::Brotli => Box::pin(BrotliEncoder::with_quality(
            reader,
            async_compression::Level::Precise(4),
        )),
        Encoding::Zstd => Box::pin(ZstdEncoder::new(reader)),
    }
}

fn frames<R: tokio::io::AsyncRead + Send + Sync + 'static>(r: R) -> ProxyBody {
    StreamBody::new(
        ReaderStream::new(r)
            .map_ok(|b: Bytes| Frame::data(b))
            .map_err(Into::into),
    )
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    header::HeaderName::from_static(k),
                    HeaderValue::from_static(v),
                )
            })
            .collect()
    }

    #[test]
    fn negotiation() {
        let v = |s: &'static str| negotiate(Some(&HeaderValue::from_static(s)));
        assert_eq!(v("gzip, deflate, br"), Some(Encoding::Brotli));
        assert_eq!(v("gzip;q=1, br;q=0.5"), Some(Encoding::Gzip));
        assert_eq!(v("zstd, gzip"), Some(Encoding::Zstd));
        assert_eq!(v("br;q=0, gzip"), Some(Encoding::Gzip));
        assert_eq!(v("identity"), None);
        assert_eq!(negotiate(None), None);
    }

    #[test]
    fn what_is_compressible() {
        assert!(compressible(
            StatusCode::OK,
            &h(&[
                ("content-type", "text/html; charset=utf-8"),
                ("content-length", "5000")
            ])
        ));
        assert!(compressible(
            StatusCode::OK,
            &h(&[("content-type", "application/json")])
        ));
        assert!(!compressible(
            StatusCode::OK,
            &h(&[("content-type", "text/plain"), ("content-length", "10")])
        ));
        assert!(!compressible(
            StatusCode::OK,
            &h(&[("content-type", "text/event-stream")])
        ));
        assert!(!compressible(
            StatusCode::OK,
            &h(&[("content-type", "image/png")])
        ));
        assert!(!compressible(
            StatusCode::OK,
            &h(&[("content-type", "video/mp4")])
        ));
        assert!(!compressible(
            StatusCode::OK,
            &h(&[("content-type", "text/html"), ("content-encoding", "gzip")])
        ));
        assert!(!compressible(
            StatusCode::PARTIAL_CONTENT,
            &h(&[("content-type", "text/html")])
        ));
        assert!(!compressible(
            StatusCode::OK,
            &h(&[("content-type", "application/octet-stream")])
        ));
    }
}
