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

use crate::dynamic::middleware::CompressOptions;
use crate::proxy::ProxyBody;

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

impl Encoding {
    fn from_token(t: &str) -> Option<Encoding> {
        match t {
            "br" => Some(Encoding::Brotli),
            "zstd" => Some(Encoding::Zstd),
            "gzip" | "x-gzip" => Some(Encoding::Gzip),
            _ => None,
        }
    }
}

/// Picks the coding from `Accept-Encoding` with the router's defaults.
pub fn negotiate(accept: Option<&HeaderValue>) -> Option<Encoding> {
    negotiate_with(accept, &CompressOptions::default())
}

/// Picks the coding from `Accept-Encoding` as Traefik does: the highest q-value among the
/// codings `o` offers, `*` (any: `o.default_encoding`, else the first offered) and `identity`
/// (not encoded); on ties `*` first, then the codings in `o.encodings`' order (default: br,
/// zstd, gzip), `identity` last. `q=0`, or a q-value that is not a number, refuses an item.
/// No `Accept-Encoding`: `o.default_encoding`, if any.
/// Whether the request's own `Content-Type` keeps its answer from being compressed at all (no
/// coding chosen, no `Vary`): as Traefik's `compress`, when its media type is
/// `application/grpc` or one of `excludedContentTypes`.
pub fn request_excluded(content_type: Option<&HeaderValue>, o: &CompressOptions) -> bool {
    let media = |v: &str| {
        v.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    };
    let Some(asked) = content_type.and_then(|v| v.to_str().ok()).map(media) else {
        return false;
    };
    !asked.is_empty()
        && (asked == "application/grpc"
            || o.excluded_content_types.iter().any(|e| media(e) == asked))
}

pub fn negotiate_with(accept: Option<&HeaderValue>, o: &CompressOptions) -> Option<Encoding> {
    let Some(accept) = accept else {
        return o.default_encoding.as_deref().and_then(Encoding::from_token);
    };
    let accept = accept.to_str().ok()?;
    let offered = if o.encodings.is_empty() {
        3
    } else {
        o.encodings.len()
    };
    let rank = |e: Encoding| -> Option<usize> {
        if o.encodings.is_empty() {
            return Some(match e {
                Encoding::Brotli => 0,
                Encoding::Zstd => 1,
                Encoding::Gzip => 2,
            });
        }
        o.encodings
            .iter()
            .position(|t| Encoding::from_token(t) == Some(e))
    };
    // (coding: `None` for identity, q-value in thousandths, rank: `*` is -1, identity last).
    let mut best: Option<(Option<Encoding>, u64, i64)> = None;
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let token = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = match parts.find_map(|p| p.trim().strip_prefix("q=")) {
            Some(q) => q.trim().parse::<f64>().unwrap_or(0.0),
            None => 1.0,
        };
        if q.is_nan() || q <= 0.0 {
            continue;
        }
        let q = (q.min(1e6) * 1000.0) as u64;
        let (choice, r) = match token.as_str() {
            "*" => {
                let any = match &o.default_encoding {
                    Some(d) => Encoding::from_token(d),
                    None => match o.encodings.first() {
                        Some(t) => Encoding::from_token(t),
                        None => Some(Encoding::Brotli),
                    },
                };
                (any, -1)
            }
            "identity" => (None, offered as i64),
            t => {
                let Some(enc) = Encoding::from_token(t) else {
                    continue;
                };
                let Some(r) = rank(enc) else { continue };
                (Some(enc), r as i64)
            }
        };
        match best {
            Some((_, bq, br)) if bq > q || (bq == q && br <= r) => {}
            _ => best = Some((choice, q, r)),
        }
    }
    best.and_then(|(e, _, _)| e)
}

/// Whether a response is worth compressing and safe to, with the router's defaults.
pub fn compressible(status: StatusCode, headers: &HeaderMap) -> bool {
    compressible_with(status, headers, &CompressOptions::default())
}

/// Whether a response is worth compressing and safe to: a 200 not already encoded nor partial,
/// not shorter than `o.min_response_body_bytes` when its length is known, of a media type in
/// `o.included_content_types` (else of a compressible type not in `o.excluded_content_types`).
pub fn compressible_with(status: StatusCode, headers: &HeaderMap, o: &CompressOptions) -> bool {
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
        if len < o.min_response_body_bytes {
            return false;
        }
    }
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let mime = ct.split(';').next().unwrap_or("").trim();
    if !o.included_content_types.is_empty() {
        return o.included_content_types.iter().any(|t| t == mime);
    }
    if o.excluded_content_types.iter().any(|t| t == mime) || mime == "application/grpc" {
        return false;
    }
    default_compressible(mime)
}

/// The router's own list: text and the structured text types; never event streams, images
/// (but SVG), video or audio.
fn default_compressible(mime: &str) -> bool {
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

/// Compresses a response in place: body, `Content-Encoding`, no `Content-Length`.
pub fn apply(headers: &mut HeaderMap, body: ProxyBody, enc: Encoding) -> ProxyBody {
    prepare(headers, enc);
    let reader = StreamReader::new(body.into_data_stream().map_err(std::io::Error::other));
    frames(encoder(enc, reader))
}

/// The headers of an answer about to be compressed with `enc`: `Content-Encoding`, no
/// `Content-Length` or `Accept-Ranges`, a strong `ETag` made weak (its `Vary` was set with
/// the others: [`crate::proxy::finish_response`]).
pub fn prepare(headers: &mut HeaderMap, enc: Encoding) {
    headers.remove(header::CONTENT_LENGTH);
    headers.remove(header::ACCEPT_RANGES);
    headers.insert(
        header::CONTENT_ENCODING,
        HeaderValue::from_static(enc.token()),
    );
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

#[cfg(test)]
mod options_tests {
    use super::*;

    fn opts(encodings: &[&str], default: Option<&str>) -> CompressOptions {
        CompressOptions {
            encodings: encodings.iter().map(|e| e.to_string()).collect(),
            default_encoding: default.map(str::to_owned),
            ..Default::default()
        }
    }

    #[test]
    fn a_request_of_an_excluded_type_is_not_compressed() {
        // compress.go ServeHTTP: the request's media type in the exclusions (gRPC always):
        // straight to the next handler, no coding, no Vary.
        let o = CompressOptions {
            excluded_content_types: vec!["Application/JSON; charset=utf-8".into()],
            ..CompressOptions::default()
        };
        let v = |s: &'static str| HeaderValue::from_static(s);
        for (ct, excluded) in [
            (Some(v("application/json")), true),
            (Some(v("APPLICATION/JSON ; q=1")), true),
            (Some(v("application/grpc")), true),
            (Some(v("application/grpc+proto")), false),
            (Some(v("text/html")), false),
            (Some(v(";")), false),
            (None, false),
        ] {
            assert_eq!(request_excluded(ct.as_ref(), &o), excluded, "{ct:?}");
        }
        assert!(request_excluded(
            Some(&v("application/grpc")),
            &CompressOptions::default()
        ));
    }

    #[test]
    fn encodings_restrict_and_order_the_choice() {
        let ae = HeaderValue::from_static("br, gzip, zstd");
        assert_eq!(
            negotiate_with(Some(&ae), &opts(&[], None)),
            Some(Encoding::Brotli)
        );
        assert_eq!(
            negotiate_with(Some(&ae), &opts(&["zstd", "gzip"], None)),
            Some(Encoding::Zstd)
        );
        assert_eq!(
            negotiate_with(Some(&ae), &opts(&["gzip"], None)),
            Some(Encoding::Gzip)
        );
        let q = HeaderValue::from_static("gzip;q=1.0, zstd;q=0.5");
        assert_eq!(
            negotiate_with(Some(&q), &opts(&["zstd", "gzip"], None)),
            Some(Encoding::Gzip)
        );
        assert_eq!(negotiate_with(None, &opts(&[], None)), None);
        assert_eq!(
            negotiate_with(None, &opts(&["gzip"], Some("gzip"))),
            Some(Encoding::Gzip)
        );
    }

    #[test]
    fn types_and_sizes_follow_the_options() {
        let h = |ct: &str, len: u64| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
            h
        };
        let d = CompressOptions::default();
        assert!(compressible_with(
            StatusCode::OK,
            &h("text/plain", 2000),
            &d
        ));
        assert!(!compressible_with(
            StatusCode::OK,
            &h("text/plain", 100),
            &d
        ));
        assert!(!compressible_with(
            StatusCode::OK,
            &h("application/grpc", 2000),
            &d
        ));
        let small = CompressOptions {
            min_response_body_bytes: 10,
            ..Default::default()
        };
        assert!(compressible_with(
            StatusCode::OK,
            &h("text/plain", 100),
            &small
        ));
        let only = CompressOptions {
            included_content_types: vec!["image/png".into()],
            ..Default::default()
        };
        assert!(compressible_with(
            StatusCode::OK,
            &h("image/png", 2000),
            &only
        ));
        assert!(!compressible_with(
            StatusCode::OK,
            &h("text/plain", 2000),
            &only
        ));
        let not = CompressOptions {
            excluded_content_types: vec!["text/plain".into()],
            ..Default::default()
        };
        assert!(!compressible_with(
            StatusCode::OK,
            &h("text/plain; charset=utf-8", 2000),
            &not
        ));
        assert!(compressible_with(
            StatusCode::OK,
            &h("text/html", 2000),
            &not
        ));
    }
}
