//! The etcd provider's session, through etcd v3's JSON gateway (served by every etcd 3.4+ on
//! its client port): `/v3/auth/authenticate` for a token when a username is set,
//! `/v3/kv/range` for the whole prefix at one revision, `/v3/watch` (a stream) from the
//! revision read. Keys and values travel in base64.

use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use serde_json::{json, Value};

use super::{KvProvider, REQUEST_TIMEOUT, SETTLE};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// An etcd provider's session.
pub struct Session {
    p: KvProvider,
    tls: Option<Arc<rustls::ClientConfig>>,
    token: Option<String>,
    /// The revision of the last read.
    revision: i64,
    watch: Option<Watch>,
}

/// A watch stream and what arrived of its next message.
struct Watch {
    body: Incoming,
    buf: Vec<u8>,
    /// Keeps the connection's request side alive.
    _sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
}

/// The end of the range of keys that start with `prefix` (etcd's "prefix end").
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

impl Session {
    /// Connects (checking the endpoint answers) and authenticates when a username is set.
    pub async fn open(
        p: &KvProvider,
        tls: Option<&Arc<rustls::ClientConfig>>,
    ) -> Result<Session, String> {
        let mut s = Session {
            p: p.clone(),
            tls: tls.cloned(),
            token: None,
            revision: 0,
            watch: None,
        };
        if !p.username.is_empty() {
            let r = s
                .post(
                    "/v3/auth/authenticate",
                    json!({"name": p.username, "password": p.password}),
                )
                .await
                .map_err(|e| format!("authenticate as {}: {e}", p.username))?;
            s.token = r["token"].as_str().map(str::to_owned);
        } else {
            s.post("/v3/maintenance/status", json!({})).await?;
        }
        Ok(s)
    }

    fn range(&self) -> Value {
        let prefix = format!("{}/", self.p.root());
        json!({
            "key": B64.encode(prefix.as_bytes()),
            "range_end": B64.encode(prefix_end(prefix.as_bytes())),
        })
    }

    /// Every pair under the root, at one revision.
    pub async fn read(&mut self) -> Result<Vec<(String, String)>, String> {
        let r = self.post("/v3/kv/range", self.range()).await?;
        self.revision = number(&r["header"]["revision"]);
        let mut pairs = Vec::new();
        for kv in r["kvs"].as_array().map(Vec::as_slice).unwrap_or_default() {
            let text = |v: &Value| -> Result<String, String> {
                let b = B64
                    .decode(v.as_str().unwrap_or_default())
                    .map_err(|e| format!("a key or value etcd sent: {e}"))?;
                Ok(String::from_utf8_lossy(&b).into_owned())
            };
            pairs.push((text(&kv["key"])?, text(&kv["value"])?));
        }
        Ok(pairs)
    }

    /// Deletes `dels` and puts `puts` in one transaction (etcd refuses one of more operations
    /// than its `--max-txn-ops`, 128 by default: the error says so).
    pub async fn txn(&self, dels: &[String], puts: &[(String, String)]) -> Result<(), String> {
        let mut ops: Vec<Value> = dels
            .iter()
            .map(|k| json!({"request_delete_range": {"key": B64.encode(k)}}))
            .collect();
        ops.extend(
            puts.iter().map(
                |(k, v)| json!({"request_put": {"key": B64.encode(k), "value": B64.encode(v)}}),
            ),
        );
        let r = self.post("/v3/kv/txn", json!({"success": ops})).await?;
        if r["succeeded"].as_bool() == Some(false) {
            return Err("the transaction did not succeed".into());
        }
        Ok(())
    }

    /// Returns after the next change under the root (a burst gathered for [`SETTLE`]).
    pub async fn changed(&mut self) -> Result<(), String> {
        if self.watch.is_none() {
            let mut create = self.range();
            create["start_revision"] = json!(self.revision + 1);
            self.watch = Some(
                self.stream("/v3/watch", json!({"create_request": create}))
                    .await?,
            );
        }
        let w = self.watch.as_mut().expect("set above");
        loop {
            let m = w.next().await?;
            let r = &m["result"];
            if r["canceled"].as_bool() == Some(true) || number(&r["compact_revision"]) > 0 {
                // Compacted past our revision: read the whole configuration again.
                self.watch = None;
                return Ok(());
            }
            if r["events"].as_array().is_some_and(|e| !e.is_empty()) {
                break;
            }
        }
        while let Ok(m) = tokio::time::timeout(SETTLE, w.next()).await {
            m?;
        }
        Ok(())
    }

    async fn connect(
        &self,
    ) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>, String> {
        let (io, _) = super::dial(&self.p, self.tls.as_ref()).await?;
        let (sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io))
                .await
                .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }

    fn request(&self, path: &str, body: &Value) -> Result<hyper::Request<Full<Bytes>>, String> {
        let host = self
            .p
            .endpoints
            .first()
            .map(|e| super::authority(e).to_owned())
            .unwrap_or_default();
        let mut b = hyper::Request::post(path)
            .header(hyper::header::HOST, host)
            .header(hyper::header::CONTENT_TYPE, "application/json");
        if let Some(t) = &self.token {
            b = b.header(hyper::header::AUTHORIZATION, t);
        }
        b.body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| e.to_string())
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, String> {
        tokio::time::timeout(REQUEST_TIMEOUT, async {
            let mut sender = self.connect().await?;
            let res = sender
                .send_request(self.request(path, &body)?)
                .await
                .map_err(|e| e.to_string())?;
            let status = res.status();
            let bytes = res
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            let v: Value = serde_json::from_slice(&bytes).map_err(|_| {
                let text = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
                format!("{path}: {status}: {}", text.trim())
            })?;
            if !status.is_success() {
                return Err(format!("{path}: {status}: {}", error_text(&v)));
            }
            Ok(v)
        })
        .await
        .map_err(|_| format!("{path}: no answer within {REQUEST_TIMEOUT:?}"))?
    }

    async fn stream(&self, path: &str, body: Value) -> Result<Watch, String> {
        let mut sender = self.connect().await?;
        let res = tokio::time::timeout(
            REQUEST_TIMEOUT,
            sender.send_request(self.request(path, &body)?),
        )
        .await
        .map_err(|_| format!("{path}: no answer within {REQUEST_TIMEOUT:?}"))?
        .map_err(|e| e.to_string())?;
        if !res.status().is_success() {
            return Err(format!("{path}: {}", res.status()));
        }
        Ok(Watch {
            body: res.into_body(),
            buf: Vec::new(),
            _sender: sender,
        })
    }
}

impl Watch {
    /// The next message of the stream (the gateway writes one JSON object per line).
    async fn next(&mut self) -> Result<Value, String> {
        loop {
            if let Some(end) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=end).collect();
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let v: Value = serde_json::from_slice(&line)
                    .map_err(|e| format!("a watch message etcd sent: {e}"))?;
                if v.get("error").is_some() {
                    return Err(format!("watch: {}", error_text(&v)));
                }
                return Ok(v);
            }
            if self.buf.len() > super::resp::MAX_LEN {
                return Err("a watch message larger than 64 MiB".into());
            }
            match self.body.frame().await {
                Some(Ok(f)) => {
                    if let Ok(d) = f.into_data() {
                        self.buf.extend_from_slice(&d);
                    }
                }
                Some(Err(e)) => return Err(format!("watch: {e}")),
                None => return Err("watch: etcd ended the stream".into()),
            }
        }
    }
}

/// A number etcd's gateway sent (64-bit numbers come as strings).
fn number(v: &Value) -> i64 {
    match v {
        Value::String(s) => s.parse().unwrap_or(0),
        v => v.as_i64().unwrap_or(0),
    }
}

fn error_text(v: &Value) -> String {
    v["message"]
        .as_str()
        .or_else(|| v["error"].as_str())
        .or_else(|| v["error"]["message"].as_str())
        .unwrap_or("an error without a message")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_ends_as_etcd_computes_them() {
        assert_eq!(prefix_end(b"traefik/"), b"traefik0");
        assert_eq!(prefix_end(b"a\xff"), b"b");
        assert_eq!(prefix_end(b"\xff\xff"), vec![0]);
    }

    #[test]
    fn numbers_come_as_strings_or_numbers() {
        assert_eq!(number(&json!("42")), 42);
        assert_eq!(number(&json!(7)), 7);
        assert_eq!(number(&Value::Null), 0);
    }
}
