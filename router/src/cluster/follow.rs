//! A data plane's side: its only provider. It connects to the controller over mutual TLS,
//! applies each message (every provider's inputs, through the same functions the controller
//! runs), and keeps serving the last one applied while the controller is away, reconnecting
//! with backoff. A message that cannot be read is not applied (the last good one stays). A
//! line may carry only what changed since the previous one ([`super::delta`]): it is applied
//! to the message this connection last got, and one that does not fit it ends the connection
//! (the next starts with a whole message).
//! After each message it publishes the `controller` provider's (empty) snapshot, so the
//! table counts as complete only once the controller's view is in.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::wire::{self, Input, Message};
use crate::dynamic::{Issue, Snapshot};
use crate::server::Shared;

/// The provider name a data plane's marker snapshot carries.
pub const PROVIDER: &str = "controller";

/// A controller silent for this long (no message, no heartbeat) is taken for gone.
const SILENT: Duration = Duration::from_secs(3 * super::hub::HEARTBEAT.as_secs());

/// Follows the controller at `address` forever.
pub async fn run(shared: Arc<Shared>, address: String, tls: Arc<rustls::ClientConfig>) {
    let mut known = BTreeSet::new();
    let mut backoff = Duration::from_millis(100);
    loop {
        match session(&shared, &address, &tls, &mut known).await {
            Ok(applied) => {
                if applied {
                    backoff = Duration::from_millis(100);
                }
                tracing::warn!(controller = %address, "controller closed the connection; serving the last configuration");
            }
            Err(e) => {
                shared.metrics.discovery_errors.inc();
                tracing::warn!(controller = %address, error = %e, "controller unreachable; serving the last configuration");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// One connection: reads messages until it ends; says whether one was applied.
async fn session(
    shared: &Arc<Shared>,
    address: &str,
    tls: &Arc<rustls::ClientConfig>,
    known: &mut BTreeSet<String>,
) -> Result<bool, String> {
    let tcp = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(address))
        .await
        .map_err(|_| format!("connect to {address}: timed out"))?
        .map_err(|e| format!("connect to {address}: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let host = address
        .rsplit_once(':')
        .map_or(address, |(h, _)| h)
        .trim_start_matches('[')
        .trim_end_matches(']');
    let name = rustls_pki_types::ServerName::try_from(host.to_owned())
        .map_err(|e| format!("{host}: {e}"))?;
    let io = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_rustls::TlsConnector::from(tls.clone()).connect(name, tcp),
    )
    .await
    .map_err(|_| format!("TLS handshake with {address}: timed out"))?
    .map_err(|e| format!("TLS handshake with {address}: {e}"))?;
    tracing::info!(controller = %address, "connected to the controller");
    let (rd, mut wr) = tokio::io::split(io);
    let mut reader = BufReader::new(rd).take(wire::MAX_MESSAGE as u64 + 1);
    let mut line = Vec::new();
    let mut applied = false;
    let mut current: Option<Arc<Message>> = None;
    loop {
        line.clear();
        reader.set_limit(wire::MAX_MESSAGE as u64 + 1);
        let n = tokio::time::timeout(SILENT, reader.read_until(b'\n', &mut line))
            .await
            .map_err(|_| format!("the controller was silent for {SILENT:?}"))?
            .map_err(|e| e.to_string())?;
        if n == 0 {
            return Ok(applied);
        }
        if line.len() > wire::MAX_MESSAGE {
            return Err(format!("a message over {} bytes", wire::MAX_MESSAGE));
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let (m, whole) = match super::delta::decode(&line)? {
            super::delta::Line::Full(m) => (m, true),
            super::delta::Line::Delta { delta } => {
                let base = current
                    .as_ref()
                    .ok_or("a change before any whole message")?;
                (super::delta::apply(base, &delta)?, false)
            }
        };
        let m = Arc::new(m);
        current = Some(m.clone());
        let gen = m.generation;
        let before = std::mem::take(known);
        *known = m.providers.keys().cloned().collect();
        crate::state::off_workers(shared, move |shared| apply(shared, &m, &before)).await;
        tracing::debug!(
            generation = gen,
            bytes = line.len(),
            whole,
            "controller configuration applied"
        );
        applied = true;
        // The controller waits for this before it tells a CA that a challenge is ready.
        wr.write_all(format!("applied {gen}\n").as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        wr.flush().await.map_err(|e| e.to_string())?;
    }
}

/// Publishes every provider of `m` (and an empty snapshot for each of `before` it no longer
/// has), then the marker.
fn apply(shared: &Shared, m: &Message, before: &BTreeSet<String>) {
    let mut snaps = Vec::new();
    for (name, input) in &m.providers {
        let snap = match wire::snapshot(name, input) {
            Ok(mut s) => {
                if matches!(input, Input::Files { .. }) {
                    crate::provider::file::check_client_cas(&mut s);
                    crate::provider::file::load_certificates(shared, &mut s);
                }
                s
            }
            Err(e) => Snapshot {
                provider: name.clone(),
                issues: vec![Issue {
                    source: "controller".into(),
                    level: "error",
                    key: None,
                    message: e,
                }],
                ..Default::default()
            },
        };
        snaps.push(snap);
    }
    for gone in before.iter().filter(|n| !m.providers.contains_key(*n)) {
        // Its certificates and default store go with it.
        if let Some(r) = shared.resolver() {
            r.publish(gone, Vec::new(), None);
        }
        snaps.push(Snapshot {
            provider: gone.clone(),
            ..Default::default()
        });
    }
    snaps.push(Snapshot {
        provider: PROVIDER.into(),
        issues: apply_acme(shared, &m.acme),
        ..Default::default()
    });
    crate::state::publish_many(shared, snaps.into_iter().map(std::sync::Arc::new).collect());
}

/// Serves the controller's ACME certificates and challenge answers; what cannot be loaded is
/// reported (the rest is served).
fn apply_acme(shared: &Shared, acme: &wire::Acme) -> Vec<Issue> {
    let mut issues = Vec::new();
    *shared
        .acme_challenges
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) =
        acme.http01.clone().into_iter().collect();
    let Some(resolver) = shared.resolver() else {
        return issues;
    };
    let mut issue = |what: String| {
        issues.push(Issue {
            source: "controller".into(),
            level: "error",
            key: None,
            message: what,
        })
    };
    let load = |p: &wire::Pair| {
        crate::tls::load_pem(p.cert.as_bytes(), p.key.as_bytes(), resolver.provider())
    };
    let mut certs = Vec::new();
    for (host, pair) in &acme.certificates {
        match load(pair) {
            Ok(c) => certs.push(c),
            Err(e) => issue(format!("the controller's ACME certificate for {host}: {e}")),
        }
    }
    resolver.set_acme(crate::tls::CertMap::from_certs(certs.iter()));
    let mut alpn = std::collections::HashMap::new();
    for (host, pair) in &acme.alpn {
        match crate::tls::certified_key(
            pair.cert.as_bytes(),
            pair.key.as_bytes(),
            resolver.provider(),
        ) {
            Ok(key) => {
                alpn.insert(host.clone(), key);
            }
            Err(e) => issue(format!(
                "the controller's TLS-ALPN-01 certificate for {host}: {e}"
            )),
        }
    }
    resolver.replace_alpn_challenges(alpn);
    issues
}
