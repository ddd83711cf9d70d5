//! The Redis provider's session: two connections, one for commands and one subscribed to the
//! root's keyspace notifications (`__keyspace@<db>__:<root>/*`), as Traefik's Redis store
//! does. Like Traefik it turns notifications on (`notify-keyspace-events KEA`) when the
//! server has them off; a server that refuses (`CONFIG` renamed or denied by an ACL) is read
//! again every [`POLL`] instead, and the log says so.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::resp::{self, Reply};
use super::{Io, KvProvider, REQUEST_TIMEOUT, SETTLE};

/// How often a server without keyspace notifications is read.
pub const POLL: Duration = Duration::from_secs(2);

/// How long the subscription may stay silent before it is checked with `PING` (and the
/// configuration read again).
pub const QUIET: Duration = Duration::from_secs(30);

/// How many times a read is retried when a publication moved the generation key under it.
const READ_TRIES: usize = 20;

/// `SCAN`'s batch and `MGET`'s chunk.
const BATCH: usize = 1000;

/// One connection speaking RESP.
pub struct Conn {
    io: Box<dyn Io>,
    buf: Vec<u8>,
}

impl Conn {
    /// Connects to `p`'s first endpoint that answers and logs in (`AUTH`, `SELECT`).
    pub async fn open(
        p: &KvProvider,
        tls: Option<&Arc<rustls::ClientConfig>>,
    ) -> Result<Conn, String> {
        let (io, endpoint) = super::dial(p, tls).await?;
        let mut c = Conn {
            io,
            buf: Vec::new(),
        };
        if !p.password.is_empty() {
            let mut auth = vec!["AUTH"];
            if !p.username.is_empty() {
                auth.push(&p.username);
            }
            auth.push(&p.password);
            c.call(&auth)
                .await
                .map_err(|e| format!("{endpoint}: AUTH: {e}"))?;
        }
        if p.db != 0 {
            c.call(&["SELECT", &p.db.to_string()])
                .await
                .map_err(|e| format!("{endpoint}: SELECT {}: {e}", p.db))?;
        }
        Ok(c)
    }

    /// Sends a command without waiting for its reply.
    pub async fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<(), String> {
        self.io
            .write_all(&resp::command(args))
            .await
            .map_err(|e| e.to_string())
    }

    /// The next reply.
    pub async fn reply(&mut self) -> Result<Reply, String> {
        loop {
            if let Some((r, used)) = resp::parse(&self.buf)? {
                self.buf.drain(..used);
                return Ok(r);
            }
            if self.buf.len() > resp::MAX_LEN {
                return Err("a reply larger than 64 MiB".into());
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = self.io.read(&mut chunk).await.map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("the server closed the connection".into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// A command and its reply; an error reply is an error.
    pub async fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Reply, String> {
        let r = tokio::time::timeout(REQUEST_TIMEOUT, async {
            self.send(args).await?;
            self.reply().await
        })
        .await
        .map_err(|_| format!("no reply within {REQUEST_TIMEOUT:?}"))??;
        match r {
            Reply::Error(e) => Err(e),
            r => Ok(r),
        }
    }

    /// Every pair under `root`, from one generation: read again while `generation` (the key
    /// a writer sets in the same transaction as its keys) moves under the read.
    pub async fn read_root(
        &mut self,
        root: &str,
        generation: &str,
    ) -> Result<Vec<(String, String)>, String> {
        for _ in 0..READ_TRIES {
            let before = self.call(&["GET", generation]).await?;
            let pairs = self.read_once(root).await?;
            let after = self.call(&["GET", generation]).await?;
            if before == after {
                return Ok(pairs);
            }
        }
        Err(format!(
            "{generation} moved during each of {READ_TRIES} reads"
        ))
    }

    async fn read_once(&mut self, root: &str) -> Result<Vec<(String, String)>, String> {
        let pattern = format!("{}/*", resp::glob_escape(root));
        let mut keys = Vec::new();
        let mut cursor = "0".to_owned();
        loop {
            let r = self
                .call(&[
                    "SCAN",
                    &cursor,
                    "MATCH",
                    &pattern,
                    "COUNT",
                    &BATCH.to_string(),
                ])
                .await?;
            let [next, found] = r.items() else {
                return Err(format!("an unexpected SCAN reply: {r:?}"));
            };
            keys.extend(found.items().iter().filter_map(Reply::text));
            cursor = next.text().unwrap_or_default();
            if cursor == "0" || cursor.is_empty() {
                break;
            }
        }
        keys.sort();
        keys.dedup();
        let mut pairs = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(BATCH) {
            let mut cmd = vec!["MGET"];
            cmd.extend(chunk.iter().map(String::as_str));
            let r = self.call(&cmd).await?;
            for (k, v) in chunk.iter().zip(r.items()) {
                // A key deleted between SCAN and MGET is nil: it is not there.
                if let Some(v) = v.text() {
                    pairs.push((k.clone(), v));
                }
            }
        }
        Ok(pairs)
    }

    /// Deletes `dels` and sets `puts` in one `MULTI`/`EXEC`: other clients see all of it or
    /// none of it.
    pub async fn transaction(
        &mut self,
        dels: &[String],
        puts: &[(String, String)],
    ) -> Result<(), String> {
        let mut commands: Vec<Vec<&str>> = vec![vec!["MULTI"]];
        for chunk in dels.chunks(BATCH) {
            let mut c = vec!["DEL"];
            c.extend(chunk.iter().map(String::as_str));
            commands.push(c);
        }
        for chunk in puts.chunks(BATCH) {
            let mut c = vec!["MSET"];
            for (k, v) in chunk {
                c.push(k);
                c.push(v);
            }
            commands.push(c);
        }
        commands.push(vec!["EXEC"]);
        let mut bytes = Vec::new();
        for c in &commands {
            bytes.extend(resp::command(c));
        }
        let replies = tokio::time::timeout(REQUEST_TIMEOUT, async {
            self.io.write_all(&bytes).await.map_err(|e| e.to_string())?;
            let mut replies = Vec::with_capacity(commands.len());
            for _ in &commands {
                replies.push(self.reply().await?);
            }
            Ok::<_, String>(replies)
        })
        .await
        .map_err(|_| format!("no reply within {REQUEST_TIMEOUT:?}"))??;
        if let Some(Reply::Error(e)) = replies.iter().find(|r| matches!(r, Reply::Error(_))) {
            return Err(format!("transaction refused: {e}"));
        }
        match replies.last() {
            Some(Reply::Array(Some(results))) => {
                match results.iter().find(|r| matches!(r, Reply::Error(_))) {
                    Some(Reply::Error(e)) => Err(format!("transaction failed: {e}")),
                    _ => Ok(()),
                }
            }
            other => Err(format!("transaction not executed: {other:?}")),
        }
    }
}

/// A Redis provider's session.
pub struct Session {
    conn: Conn,
    watch: Option<Conn>,
    root: String,
    generation: String,
}

impl Session {
    /// Connects, turns keyspace notifications on if needed, and subscribes to the root's.
    pub async fn open(
        p: &KvProvider,
        tls: Option<&Arc<rustls::ClientConfig>>,
    ) -> Result<Session, String> {
        let mut conn = Conn::open(p, tls).await?;
        let watch = match notifications(&mut conn).await {
            Ok(()) => {
                let mut w = Conn::open(p, tls).await?;
                let pattern = format!("__keyspace@{}__:{}/*", p.db, resp::glob_escape(p.root()));
                w.call(&["PSUBSCRIBE", &pattern]).await?;
                Some(w)
            }
            Err(e) => {
                tracing::warn!(provider = "redis", error = %e, every = ?POLL, "keyspace notifications are off and cannot be turned on: the configuration is read on a timer");
                None
            }
        };
        Ok(Session {
            conn,
            watch,
            root: p.root().to_owned(),
            generation: p.generation_key(),
        })
    }

    /// Every pair under the root, from one generation.
    pub async fn read(&mut self) -> Result<Vec<(String, String)>, String> {
        self.conn.read_root(&self.root, &self.generation).await
    }

    /// Returns after the next change (a burst gathered for [`SETTLE`]), or after [`QUIET`]
    /// of silence once a `PING` showed the subscription alive.
    pub async fn changed(&mut self) -> Result<(), String> {
        let Some(w) = &mut self.watch else {
            tokio::time::sleep(POLL).await;
            return Ok(());
        };
        match tokio::time::timeout(QUIET, w.reply()).await {
            Ok(r) => {
                r?;
                while let Ok(r) = tokio::time::timeout(SETTLE, w.reply()).await {
                    r?;
                }
            }
            Err(_) => {
                w.send(&["PING"]).await?;
                tokio::time::timeout(REQUEST_TIMEOUT, w.reply())
                    .await
                    .map_err(|_| "the subscription did not answer PING".to_owned())??;
            }
        }
        Ok(())
    }
}

/// Makes sure the server sends the keyspace notifications for writes and deletions, turning
/// them on as Traefik's store does when they are off.
async fn notifications(conn: &mut Conn) -> Result<(), String> {
    let r = conn
        .call(&["CONFIG", "GET", "notify-keyspace-events"])
        .await?;
    let flags = r.items().get(1).and_then(Reply::text).unwrap_or_default();
    if covers(&flags) {
        return Ok(());
    }
    conn.call(&["CONFIG", "SET", "notify-keyspace-events", "KEA"])
        .await
        .map(|_| ())
}

/// Whether notification flags include keyspace events for `SET`, `DEL` and expiry.
pub fn covers(flags: &str) -> bool {
    flags.contains('K')
        && (flags.contains('A') || ["g", "$", "x"].iter().all(|f| flags.contains(f)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notification_flags_are_read_as_redis_does() {
        assert!(covers("KEA"));
        assert!(covers("AK"));
        assert!(covers("Kg$x"));
        assert!(!covers(""));
        assert!(!covers("EA"));
        assert!(!covers("Kg$"));
    }
}
