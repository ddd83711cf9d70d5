//! The controller's side: the latest inputs of each provider, published as one message to
//! every data plane connected over mutual TLS. A message goes out once every configured
//! provider has reported (a data plane never gets half the controller's view), then on every
//! change; each connection gets the latest message on connect and after each change (a slow
//! data plane skips to the newest one, never a queue of stale ones). After the first, a
//! connection is sent the difference from the message it was last sent
//! ([`super::delta`]) when that is less than half the whole message. An empty line every
//! [`HEARTBEAT`] tells a data plane the controller is still there. A data plane answers each
//! message it applied with `applied <generation>`: the controller's ACME client waits for
//! that before it tells the CA a challenge is ready ([`Hub::wait_applied`]).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::wire::{self, Acme, Input, Message};
use crate::tree::{Node, Value};

/// How often an idle connection gets an empty line.
pub const HEARTBEAT: Duration = Duration::from_secs(5);

/// How long a data plane has for its handshake.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// How long one message may take to be written before the data plane is dropped.
const WRITE: Duration = Duration::from_secs(60);

/// The last message, whole and as its line (empty until every expected provider reported).
#[derive(Debug, Clone)]
pub struct Published {
    /// The message.
    pub message: Arc<Message>,
    /// Its line (empty: nothing published yet).
    pub line: Arc<str>,
}

/// The inputs, and the last message published.
#[derive(Debug)]
pub struct Hub {
    expected: Vec<&'static str>,
    state: Mutex<Message>,
    line: watch::Sender<Arc<Published>>,
    /// The generation each connected data plane last applied, by connection.
    applied: Mutex<HashMap<u64, u64>>,
    acks: tokio::sync::Notify,
    next_conn: AtomicU64,
    /// The difference lines last computed, by (from, to) generation: the data planes that
    /// were sent the same message share one computation.
    deltas: Mutex<Vec<Computed>>,
}

/// A difference line and the (from, to) generations it is for.
type Computed = ((u64, u64), Arc<str>);

/// How many difference lines the hub keeps.
const DELTAS_KEPT: usize = 4;

impl Hub {
    /// A hub that publishes once `expected` providers have all reported.
    pub fn new(expected: Vec<&'static str>) -> Arc<Hub> {
        Arc::new(Hub {
            expected,
            state: Mutex::new(Message {
                generation: 0,
                providers: BTreeMap::new(),
                acme: Acme::default(),
            }),
            line: watch::channel(Arc::new(Published {
                message: Arc::new(Message {
                    generation: 0,
                    providers: BTreeMap::new(),
                    acme: Acme::default(),
                }),
                line: Arc::from(""),
            }))
            .0,
            applied: Mutex::default(),
            acks: tokio::sync::Notify::new(),
            next_conn: AtomicU64::new(0),
            deltas: Mutex::default(),
        })
    }

    /// Sends `m` when every expected provider is in.
    fn publish(&self, m: &mut Message) {
        if self.expected.iter().all(|p| m.providers.contains_key(*p)) {
            m.generation += 1;
            self.line.send_replace(Arc::new(Published {
                message: Arc::new(m.clone()),
                line: Arc::from(wire::encode(m)),
            }));
        }
    }

    /// Changes the ACME part; publishes when it changed. Returns the generation that carries
    /// it (0 while not every provider reported: nothing was sent).
    pub fn set_acme(&self, change: impl FnOnce(&mut Acme)) -> u64 {
        let mut m = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let before = m.acme.clone();
        change(&mut m.acme);
        if m.acme != before {
            self.publish(&mut m);
        }
        m.generation
    }

    /// Waits until every connected data plane applied `generation` (or `within` passed);
    /// says whether they all did.
    pub async fn wait_applied(&self, generation: u64, within: Duration) -> bool {
        let all = || {
            self.applied
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .values()
                .all(|g| *g >= generation)
        };
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.acks.notified();
            if all() {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return all();
            }
        }
    }

    fn ack(&self, conn: u64, generation: Option<u64>) {
        let mut a = self.applied.lock().unwrap_or_else(PoisonError::into_inner);
        match generation {
            Some(g) => {
                a.insert(conn, g);
            }
            None => {
                a.remove(&conn);
            }
        }
        drop(a);
        self.acks.notify_waiters();
    }

    /// Records provider `name`'s inputs; publishes when they changed and every expected
    /// provider is in.
    pub fn set(&self, name: &str, mut input: Input) {
        if let Input::Containers { view, .. } = &mut input {
            super::delta::sort_view(view);
        }
        let mut m = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if m.providers.get(name) == Some(&input) {
            return;
        }
        m.providers.insert(name.to_owned(), input);
        self.publish(&mut m);
    }

    /// The generation last published (0: none yet).
    pub fn generation(&self) -> u64 {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .generation
    }

    /// The last message published, and its changes (an empty line until every expected
    /// provider reported): what [`crate::kv::write`] writes into stores.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Published>> {
        self.line.subscribe()
    }

    /// How many data planes are connected.
    pub fn followers(&self) -> usize {
        self.line.receiver_count()
    }
}

/// A file provider tree with the files its TLS sections name replaced by their contents
/// ([`wire::names_a_file`]); a file that cannot be read stays a name (the data plane then
/// reports it as the controller would).
pub fn inline_files(mut root: Node) -> Node {
    fn walk(node: &mut Node, path: &mut Vec<String>) {
        path.push(node.name.clone());
        match &mut node.value {
            Value::Leaf(v) => {
                let keys: Vec<&str> = path.iter().map(String::as_str).collect();
                if !v.contains("-----BEGIN") && wire::names_a_file(&keys) {
                    if let Ok(text) = std::fs::read_to_string(Path::new(v.as_str())) {
                        *v = text;
                    }
                }
            }
            Value::Map(children) | Value::List(children) => {
                for c in children {
                    walk(c, path);
                }
            }
        }
        path.pop();
    }
    walk(&mut root, &mut Vec::new());
    root
}

/// Serves data planes on `listener` until `stop`.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    hub: Arc<Hub>,
    stop: impl std::future::Future<Output = ()>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    tokio::pin!(stop);
    // The connections end with the listener: dropping the set aborts them, so data planes
    // see the controller go and reconnect to the next one.
    let mut conns = tokio::task::JoinSet::new();
    loop {
        while conns.try_join_next().is_some() {}
        let (tcp, peer) = tokio::select! {
            () = &mut stop => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "controller: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let rx = hub.line.subscribe();
        let hub = hub.clone();
        conns.spawn(async move {
            let _ = tcp.set_nodelay(true);
            let io = match tokio::time::timeout(HANDSHAKE, acceptor.accept(tcp)).await {
                Ok(Ok(io)) => io,
                Ok(Err(e)) => {
                    tracing::warn!(peer = %peer, error = %e, "controller: data plane refused (TLS)");
                    return;
                }
                Err(_) => {
                    tracing::warn!(peer = %peer, "controller: data plane refused (no handshake within 10s)");
                    return;
                }
            };
            tracing::info!(peer = %peer, "controller: data plane connected");
            let conn = hub.next_conn.fetch_add(1, Ordering::Relaxed);
            hub.ack(conn, Some(0));
            let (rd, wr) = tokio::io::split(io);
            let acks = tokio::spawn(read_acks(rd, hub.clone(), conn));
            let _gone = Forget(hub.clone(), conn, acks);
            let why = feed(wr, rx, &hub).await;
            tracing::info!(peer = %peer, reason = %why, "controller: data plane gone");
        });
    }
}

/// A connection's end, however it ends (also when aborted): its acknowledgments are
/// forgotten and their reader stopped.
struct Forget(Arc<Hub>, u64, tokio::task::JoinHandle<()>);

impl Drop for Forget {
    fn drop(&mut self) {
        self.2.abort();
        self.0.ack(self.1, None);
    }
}

/// Reads a data plane's `applied <generation>` lines (nothing else is read from it).
async fn read_acks<R: tokio::io::AsyncRead + Unpin>(rd: R, hub: Arc<Hub>, conn: u64) {
    use tokio::io::AsyncReadExt;
    let mut r = tokio::io::BufReader::new(rd);
    let mut line = Vec::new();
    loop {
        line.clear();
        // A line is short; a longer one ends the reading (not the connection).
        match (&mut r).take(64).read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) if !line.ends_with(b"\n") => return,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line);
        if let Some(g) = text
            .strip_prefix("applied ")
            .and_then(|g| g.trim().parse().ok())
        {
            hub.ack(conn, Some(g));
        }
    }
}

impl Hub {
    /// The line to send a connection that was last sent `sent`: the difference when it is
    /// less than half the whole message, else the whole message.
    pub fn line_for(&self, sent: Option<&Message>, now: &Published) -> Arc<str> {
        let Some(sent) = sent.filter(|s| s.generation > 0 && !now.line.is_empty()) else {
            return now.line.clone();
        };
        let key = (sent.generation, now.message.generation);
        let cached = self
            .deltas
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, l)| l.clone());
        let d = cached.unwrap_or_else(|| {
            let d: Arc<str> = Arc::from(super::delta::encode(&super::delta::delta(
                sent,
                &now.message,
            )));
            let mut kept = self.deltas.lock().unwrap_or_else(PoisonError::into_inner);
            if kept.len() >= DELTAS_KEPT {
                kept.remove(0);
            }
            kept.push((key, d.clone()));
            d
        });
        if d.len() < now.line.len() / 2 {
            d
        } else {
            now.line.clone()
        }
    }
}

/// Writes the latest message, then each newer one (or its difference from the last one
/// sent), with heartbeats between; returns why it stopped.
async fn feed<W: AsyncWriteExt + Unpin>(
    mut io: W,
    mut rx: watch::Receiver<Arc<Published>>,
    hub: &Hub,
) -> String {
    let mut sent: Option<Arc<Message>> = None;
    loop {
        let now = rx.borrow_and_update().clone();
        let line = hub.line_for(sent.as_deref(), &now);
        if !now.line.is_empty() {
            sent = Some(now.message.clone());
        }
        let out: &[u8] = if line.is_empty() {
            b"\n"
        } else {
            line.as_bytes()
        };
        match tokio::time::timeout(WRITE, async {
            io.write_all(out).await?;
            io.flush().await
        })
        .await
        {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return e.to_string(),
            Err(_) => return "a message took over 60s to write".into(),
        }
        // Until the next change, heartbeats.
        loop {
            tokio::select! {
                changed = rx.changed() => {
                    if changed.is_err() {
                        return "the controller stopped".into();
                    }
                    break;
                }
                () = tokio::time::sleep(HEARTBEAT) => {
                    if let Err(e) = io.write_all(b"\n").await.and(io.flush().await) {
                        return e.to_string();
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(n: usize) -> Input {
        Input::Files {
            files: (0..n)
                .map(|i| wire::File {
                    path: format!("/f{i}.yaml"),
                    root: Node::from_yaml("http: {}\n", "").unwrap(),
                })
                .collect(),
        }
    }

    #[test]
    fn publishes_once_every_provider_is_in_and_only_changes() {
        let hub = Hub::new(vec!["docker", "file"]);
        let rx = hub.line.subscribe();
        hub.set("file", files(1));
        assert_eq!(
            (hub.generation(), rx.borrow().line.len()),
            (0, 0),
            "half a view"
        );
        let view = Input::Containers {
            settings: wire::Settings {
                prefix: "traefik".into(),
                exposed_by_default: false,
                default_network: None,
                own_networks: Default::default(),
                host_ip: [127, 0, 0, 1].into(),
                use_bind_port_ip: false,
                default_rule: String::new(),
                constraints: None,
            },
            view: Vec::new(),
        };
        hub.set("docker", view.clone());
        assert_eq!(hub.generation(), 1);
        let first = wire::decode(rx.borrow().line.as_bytes()).unwrap();
        assert_eq!(first.providers.len(), 2);
        hub.set("docker", view);
        assert_eq!(hub.generation(), 1, "the same inputs again: nothing sent");
        hub.set("file", files(2));
        assert_eq!(hub.generation(), 2);
        assert_eq!(hub.followers(), 1);
    }

    #[test]
    fn data_planes_sent_the_same_message_share_one_difference() {
        let hub = Hub::new(vec!["docker"]);
        let rx = hub.line.subscribe();
        let view = |changed: u8| Input::Containers {
            settings: crate::cluster::delta::tests::settings("traefik"),
            view: (0..40)
                .map(|i| {
                    crate::cluster::delta::tests::container(i, u8::from(i == 3) * changed, true)
                })
                .collect(),
        };
        hub.set("docker", view(0));
        let first = rx.borrow().message.clone();
        hub.set("docker", view(1));
        let now = rx.borrow().clone();
        let a = hub.line_for(Some(&first), &now);
        let b = hub.line_for(Some(&first), &now);
        assert!(Arc::ptr_eq(&a, &b), "computed twice");
        assert!(a.starts_with("{\"delta\""), "{a}");
        assert!(a.len() < now.line.len() / 2);
        // A connection that was sent nothing yet gets the whole message.
        assert!(Arc::ptr_eq(&hub.line_for(None, &now), &now.line));
    }

    #[tokio::test]
    async fn waits_for_every_connected_data_plane_to_apply() {
        let hub = Hub::new(vec![]);
        assert!(
            hub.wait_applied(5, Duration::from_millis(10)).await,
            "none connected"
        );
        hub.ack(1, Some(0));
        hub.ack(2, Some(3));
        assert!(!hub.wait_applied(3, Duration::from_millis(20)).await);
        let later = {
            let hub = hub.clone();
            tokio::spawn(async move { hub.wait_applied(3, Duration::from_secs(5)).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        hub.ack(1, Some(3));
        assert!(later.await.unwrap());
        // One that leaves is not waited for.
        hub.ack(2, None);
        hub.ack(1, Some(3));
        assert!(hub.wait_applied(3, Duration::from_millis(10)).await);
    }

    #[test]
    fn file_references_in_tls_sections_carry_their_contents() {
        let dir = tempfile::tempdir().unwrap();
        let pem = dir.path().join("c.pem");
        std::fs::write(
            &pem,
            "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let yaml = format!(
            "tls:\n  certificates:\n    - certFile: {p}\n      keyFile: /nowhere.pem\n  options:\n    o:\n      clientAuth:\n        caFiles:\n          - {p}\nhttp:\n  routers:\n    r:\n      rule: {p}\n",
            p = pem.display()
        );
        let out = inline_files(Node::from_yaml(&yaml, "").unwrap());
        let text = format!("{out:?}");
        assert_eq!(
            text.matches("BEGIN CERTIFICATE").count(),
            2,
            "certFile and caFiles: {text}"
        );
        assert!(
            text.contains("/nowhere.pem"),
            "an unreadable file stays a name"
        );
        assert!(
            text.contains(&format!("Leaf({:?})", pem.display().to_string())),
            "a rule is not a file"
        );
    }
}
