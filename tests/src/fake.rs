//! Fake upstream daemons on unix sockets in a temp dir, for fault injection only: what a real
//! dockerd cannot be made to do on demand (never end a stream, never answer, vanish, lie).
//!
//! Each serves connections from one accept task that owns them all (a `JoinSet`), so dropping
//! the fake closes every connection it holds, as a daemon that dies does.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::task::{JoinHandle, JoinSet};

/// Connection counts a fake keeps.
#[derive(Debug, Default)]
pub struct Counts {
    /// Connections accepted.
    pub accepted: AtomicUsize,
    /// Requests whose head was read completely.
    pub requests: AtomicUsize,
    /// Connections the peer (the guard) closed: a read saw EOF or a write failed.
    pub closed: AtomicUsize,
}

impl Counts {
    /// Accepted connections.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
    /// Complete request heads read.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
    /// Connections seen closed by the guard.
    pub fn closed(&self) -> usize {
        self.closed.load(Ordering::SeqCst)
    }
}

/// A fake daemon (or relay) serving a unix socket until dropped.
#[derive(Debug)]
pub struct FakeDaemon {
    path: PathBuf,
    counts: Arc<Counts>,
    task: JoinHandle<()>,
}

impl FakeDaemon {
    /// Answers any request with a chunked 200 that never ends: a chunk every 100 ms.
    pub fn streaming(path: &Path) -> FakeDaemon {
        serve(path, |mut conn, counts| async move {
            if read_head(&mut conn).await.is_none() {
                counts.closed.fetch_add(1, Ordering::SeqCst);
                return;
            }
            counts.requests.fetch_add(1, Ordering::SeqCst);
            let (mut rd, mut wr) = conn.into_split();
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
            let writer = async move {
                if wr.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                loop {
                    let event = "{\"status\":\"tick\"}\n";
                    let chunk = format!("{:x}\r\n{event}\r\n", event.len());
                    if wr.write_all(chunk.as_bytes()).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            };
            let reader = async move {
                let mut buf = [0u8; 1024];
                while let Ok(n) = rd.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                }
            };
            // Either side ending means the guard let go of the connection.
            tokio::select! {
                () = writer => {}
                () = reader => {}
            }
            counts.closed.fetch_add(1, Ordering::SeqCst);
        })
    }

    /// Reads requests and never answers.
    pub fn hanging(path: &Path) -> FakeDaemon {
        serve(path, |mut conn, counts| async move {
            if read_head(&mut conn).await.is_some() {
                counts.requests.fetch_add(1, Ordering::SeqCst);
                let mut buf = [0u8; 1024];
                while let Ok(n) = conn.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                }
            }
            counts.closed.fetch_add(1, Ordering::SeqCst);
        })
    }

    /// Answers every request head with the exact bytes `answer` (a daemon that lies about its
    /// framing, or says more than it was asked), then keeps the connection until the guard
    /// closes it.
    pub fn lying(path: &Path, answer: &'static [u8]) -> FakeDaemon {
        serve(path, move |mut conn, counts| async move {
            while read_head(&mut conn).await.is_some() {
                counts.requests.fetch_add(1, Ordering::SeqCst);
                if conn.write_all(answer).await.is_err() {
                    break;
                }
            }
            counts.closed.fetch_add(1, Ordering::SeqCst);
        })
    }

    /// Answers every request, on a kept connection, with a 200 and `body` (JSON) after
    /// `delay`: a daemon slow enough on a read that identical reads pile up behind it. Each
    /// complete request head is counted before the delay, and its number (1, 2, ...) is in
    /// the answer's `Request-Number` header, so a test can tell which request an answer is for.
    pub fn answering_after(path: &Path, delay: Duration, body: Arc<Vec<u8>>) -> FakeDaemon {
        numbered_after(path, delay, move |number| {
            let mut answer = format!(
                "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nRequest-Number: {number}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .into_bytes();
            answer.extend_from_slice(&body);
            vec![answer]
        })
    }

    /// As [`FakeDaemon::answering_after`], but the body is chunked: `body[..split]` in one
    /// chunk, then, 200 ms later (the reader has taken it all by then), the rest in a second
    /// chunk with the last-chunk marker, in one write.
    pub fn answering_chunked_after(
        path: &Path,
        delay: Duration,
        body: Arc<Vec<u8>>,
        split: usize,
    ) -> FakeDaemon {
        numbered_after(path, delay, move |number| {
            let (one, two) = body.split_at(split);
            let mut first = format!(
                "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nRequest-Number: {number}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n",
                one.len()
            )
            .into_bytes();
            first.extend_from_slice(one);
            first.extend_from_slice(b"\r\n");
            let mut last = format!("{:x}\r\n", two.len()).into_bytes();
            last.extend_from_slice(two);
            last.extend_from_slice(b"\r\n0\r\n\r\n");
            vec![first, last]
        })
    }

    /// Relays every connection to the real daemon's socket, byte for byte. Dropping the relay
    /// closes every relayed connection and removes the socket: the daemon "went away".
    pub fn relay_to_real(path: &Path) -> FakeDaemon {
        serve(path, |mut conn, counts| async move {
            if let Ok(mut real) = UnixStream::connect(crate::docker::DOCKER_SOCK).await {
                let _ = tokio::io::copy_bidirectional(&mut conn, &mut real).await;
            }
            counts.closed.fetch_add(1, Ordering::SeqCst);
        })
    }

    /// Relays every connection to the real daemon's socket, holding each piece of the
    /// daemon's answers for `delay` before passing it on: a daemon that is slow to answer
    /// what it has already read (its state is the real one, as of when the request arrived).
    pub fn relay_to_real_delayed(path: &Path, delay: Duration) -> FakeDaemon {
        serve(path, move |conn, counts| async move {
            if let Ok(real) = UnixStream::connect(crate::docker::DOCKER_SOCK).await {
                let (mut client_rd, mut client_wr) = conn.into_split();
                let (mut real_rd, mut real_wr) = real.into_split();
                let up = tokio::io::copy(&mut client_rd, &mut real_wr);
                let down = async {
                    let mut buf = vec![0u8; 64 * 1024];
                    while let Ok(n) = real_rd.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        tokio::time::sleep(delay).await;
                        if client_wr.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                };
                tokio::select! {
                    _ = up => {}
                    () = down => {}
                }
            }
            counts.closed.fetch_add(1, Ordering::SeqCst);
        })
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection counts.
    pub fn counts(&self) -> &Arc<Counts> {
        &self.counts
    }
}

impl Drop for FakeDaemon {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Answers every request on a kept connection after `delay` with the pieces `answer` gives
/// for its number (1, 2, ..., counted when its head is read), 200 ms apart.
fn numbered_after<A>(path: &Path, delay: Duration, answer: A) -> FakeDaemon
where
    A: Fn(usize) -> Vec<Vec<u8>> + Send + Sync + 'static,
{
    let answer = Arc::new(answer);
    serve(path, move |mut conn, counts| {
        let answer = answer.clone();
        async move {
            'conn: while read_head(&mut conn).await.is_some() {
                let number = counts.requests.fetch_add(1, Ordering::SeqCst) + 1;
                tokio::time::sleep(delay).await;
                for (i, piece) in answer(number).iter().enumerate() {
                    if i > 0 {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    if conn.write_all(piece).await.is_err() {
                        break 'conn;
                    }
                }
            }
            counts.closed.fetch_add(1, Ordering::SeqCst);
        }
    })
}

fn serve<F, Fut>(path: &Path, handler: F) -> FakeDaemon
where
    F: Fn(UnixStream, Arc<Counts>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let _ = std::fs::remove_file(path);
    let listener =
        UnixListener::bind(path).unwrap_or_else(|e| panic!("bind {}: {e}", path.display()));
    let counts = Arc::new(Counts::default());
    let task_counts = counts.clone();
    let task = tokio::spawn(async move {
        // Owned here: aborting this task drops (and so closes) every connection.
        let mut conns = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    task_counts.accepted.fetch_add(1, Ordering::SeqCst);
                    conns.spawn(handler(stream, task_counts.clone()));
                }
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        }
    });
    FakeDaemon {
        path: path.to_owned(),
        counts,
        task,
    }
}

/// Reads one request head (through CRLF CRLF); `None` on EOF first.
async fn read_head(conn: &mut UnixStream) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match conn.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
    }
    Some(head)
}
