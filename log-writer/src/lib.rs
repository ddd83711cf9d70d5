//! Log lines appended to a bounded buffer and written out in batches by a thread of their own.
//!
//! Both programs write a line per request at `info` (socket-guard's audit trail, the
//! router's access log). Writing each line to stderr costs a system call per request; a
//! channel to a writer thread (tracing-appender's non-blocking writer) still wakes that
//! thread for nearly every line, and it flushes whenever its queue runs dry, so the system
//! call stays. Here a line is a copy into a shared buffer under a mutex. The writer thread is
//! woken once when a batch begins, lets lines gather for [`LINGER`] (or until [`BATCH`] bytes
//! are waiting), and writes them with one call. Nothing is dropped: when [`LIMIT`] bytes are
//! waiting, a request's thread waits for the writer instead. Lines are written in the order
//! they were appended, whole (a line is appended in one piece, never split between batches),
//! and everything appended is written before [`Flush`] finishes dropping. The price: an
//! output that stops taking lines for good (a stderr nobody reads) stops the requests too,
//! once [`LIMIT`] bytes wait, as a blocking write per line would.
//!
//! The writer is a plain `io::Write` handle that `tracing_subscriber::fmt` takes through
//! `with_writer(move || handle.clone())`; [`JsonLines`] is the line format both programs use,
//! and [`install`] sets both up for a program.

mod json;

pub use json::{civil_from_days, write_timestamp, JsonLines};

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long the first line of a batch waits for others before the batch is written.
pub const LINGER: Duration = Duration::from_millis(20);

/// Bytes waiting that make the writer start at once instead of lingering.
pub const BATCH: usize = 64 * 1024;

/// Bytes waiting that make a new line wait for the writer. With the batch being written, the
/// memory held is at most about twice this.
pub const LIMIT: usize = 4 * 1024 * 1024;

#[derive(Debug, Default)]
struct Pending {
    bytes: Vec<u8>,
    closed: bool,
}

#[derive(Debug, Default)]
struct Shared {
    pending: Mutex<Pending>,
    /// The writer waits here for a batch to begin (or to grow to `BATCH`).
    work: Condvar,
    /// Lines wait here while `LIMIT` bytes are pending.
    room: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A thread that panicked while holding the lock left whole lines behind (appending
        // is one `extend_from_slice`): keep logging.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A handle that appends lines; cheap to clone, one per log event. A line stays whole when it
/// comes in one `write` call, as `tracing_subscriber::fmt` writes an event (`writeln!` would
/// make several). Lines appended after [`Flush`] was dropped are not written.
#[derive(Debug, Clone)]
pub struct LogWriter {
    shared: Arc<Shared>,
}

/// Writes out what is pending and stops the writer thread when dropped: hold it until the
/// program ends.
#[derive(Debug)]
pub struct Flush {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Starts a writer thread named `thread_name` that writes batches to `out`.
pub fn spawn<W: Write + Send + 'static>(
    thread_name: &str,
    out: W,
) -> io::Result<(LogWriter, Flush)> {
    let shared = Arc::new(Shared::default());
    let thread = {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name(thread_name.to_owned())
            .spawn(move || write_batches(&shared, out))?
    };
    Ok((
        LogWriter {
            shared: shared.clone(),
        },
        Flush {
            shared,
            thread: Some(thread),
        },
    ))
}

/// Sets up a program's logging: a writer thread named `thread_name` writing to stderr, the
/// global `tracing` subscriber filtered by `filter` (`LOG_LEVEL`) and writing [`JsonLines`]
/// (`json`) or tracing's text format through it. Hold the returned [`Flush`] until the
/// program ends.
pub fn install(thread_name: &str, filter: &str, json: bool) -> io::Result<Flush> {
    install_to(thread_name, filter, json, io::stderr())
}

/// [`install`], the lines written to `out` (a log file) instead of stderr.
pub fn install_to<W: Write + Send + 'static>(
    thread_name: &str,
    filter: &str,
    json: bool,
    out: W,
) -> io::Result<Flush> {
    let (writer, flush) = spawn(thread_name, out)?;
    let targets: tracing_subscriber::filter::Targets = own_level(filter).parse().map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("log filter {filter:?}: {e}"),
        )
    })?;
    // The filter alone decides: the builder's own ceiling is INFO unless raised, which
    // left `debug` and `trace` filters showing nothing below INFO.
    let builder = tracing_subscriber::fmt()
        .with_max_level(tracing_subscriber::filter::LevelFilter::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(io::IsTerminal::is_terminal(&io::stderr()));
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    if json {
        builder
            .event_format(JsonLines)
            .finish()
            .with(targets)
            .init();
    } else {
        builder.finish().with(targets).init();
    }
    Ok(flush)
}

/// The programs' own crates: a bare `debug` or `trace` level is theirs.
const OWN: &[&str] = &[
    "router",
    "socket_guard",
    "policies",
    "http1_framing",
    "exposition",
    "log_writer",
];

/// The filter for a level given alone (`log.level`, `LOG_LEVEL`): `debug` and `trace` for the
/// programs' own lines, their libraries' (hyper, h2, rustls, bollard: a line per frame or
/// record at `debug`) at `info`, as a Traefik log at `DEBUG` holds Traefik's own lines. A
/// filter with targets (`info,h2=debug`) is taken as written.
fn own_level(filter: &str) -> String {
    let level = filter.trim().to_ascii_lowercase();
    if level != "debug" && level != "trace" {
        return filter.to_owned();
    }
    let mut out = String::from("info");
    for c in OWN {
        out.push_str(&format!(",{c}={level}"));
    }
    out
}

/// The writer thread: wait for a batch, let it gather, take it whole, write it.
fn write_batches<W: Write>(shared: &Shared, mut out: W) {
    let mut batch = Vec::with_capacity(BATCH);
    // Whether the last write failed inside a line: the next batch starts on a new line.
    let mut cut = false;
    loop {
        let mut pending = shared.lock();
        while pending.bytes.is_empty() && !pending.closed {
            pending = shared
                .work
                .wait(pending)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if !pending.closed && pending.bytes.len() < BATCH {
            pending = shared
                .work
                .wait_timeout_while(pending, LINGER, |p| !p.closed && p.bytes.len() < BATCH)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        std::mem::swap(&mut pending.bytes, &mut batch);
        let closed = pending.closed;
        drop(pending);
        shared.room.notify_all();
        write_out(&mut out, &batch, &mut cut);
        batch.clear();
        // After a burst (a slow stderr), give the memory back instead of holding the peak.
        batch.shrink_to(BATCH);
        if closed && shared.lock().bytes.is_empty() {
            return;
        }
    }
}

/// Writes a batch whole. An output that would block (a non-blocking pipe that is full) is
/// waited for, an interrupted write retried: no line is lost to either. Any other error
/// (a full disk) loses the rest of this batch, there being nowhere to report it; a line cut
/// short is then ended, so the next batch's first line is not glued to it.
fn write_out<W: Write>(out: &mut W, batch: &[u8], cut: &mut bool) {
    if *cut {
        if write_fully(out, b"\n").is_err() {
            return;
        }
        *cut = false;
    }
    if let Err(written) = write_fully(out, batch) {
        *cut = written > 0 && batch[written - 1] != b'\n';
    }
    let _ = out.flush();
}

/// `write_all`, waiting out `WouldBlock`; `Err` holds how many bytes were written.
fn write_fully<W: Write>(out: &mut W, bytes: &[u8]) -> Result<(), usize> {
    let mut written = 0;
    while written < bytes.len() {
        match out.write(&bytes[written..]) {
            Ok(0) => return Err(written),
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(_) => return Err(written),
        }
    }
    Ok(())
}

impl Write for LogWriter {
    /// Appends `buf` whole; `tracing_subscriber::fmt` hands over a formatted line at once.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let shared = &*self.shared;
        let mut pending = shared.lock();
        while pending.bytes.len() >= LIMIT && !pending.closed {
            pending = shared
                .room
                .wait(pending)
                .unwrap_or_else(PoisonError::into_inner);
        }
        let before = pending.bytes.len();
        pending.bytes.extend_from_slice(buf);
        let after = pending.bytes.len();
        drop(pending);
        // Wake the writer when a batch begins or grows past BATCH, not for every line: a
        // wake is a system call.
        if before == 0 || (before < BATCH && after >= BATCH) {
            shared.work.notify_one();
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Flush {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.work.notify_one();
        self.shared.room.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// An output that records every `write_all` as one batch.
    #[derive(Clone, Default)]
    struct Batches(Arc<Mutex<Vec<Vec<u8>>>>);

    impl Write for Batches {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_from_many_threads_arrive_whole_in_order_and_batched() {
        let out = Batches::default();
        let (writer, flush) = spawn("test-log", out.clone()).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let mut w = writer.clone();
                std::thread::spawn(move || {
                    for i in 0..10_000 {
                        w.write_all(format!("thread {t} line {i:05}\n").as_bytes())
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        drop(flush);
        let batches = out.0.lock().unwrap();
        let all: Vec<u8> = batches.concat();
        let text = String::from_utf8(all).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 40_000, "every line written once");
        for t in 0..4 {
            let mine: Vec<&str> = lines
                .iter()
                .copied()
                .filter(|l| l.starts_with(&format!("thread {t} ")))
                .collect();
            let expected: Vec<String> = (0..10_000)
                .map(|i| format!("thread {t} line {i:05}"))
                .collect();
            assert_eq!(mine, expected, "thread {t}'s lines in order");
        }
        assert!(
            batches.iter().all(|b| b.ends_with(b"\n")),
            "a batch ends at a line's end"
        );
        assert!(
            batches.len() < 40_000 / 10,
            "{} writes for 40,000 lines",
            batches.len()
        );
    }

    #[test]
    fn an_output_that_blocks_or_fails_loses_no_line_it_can_take_and_glues_none() {
        /// Of every three calls, one would block, one is interrupted and one takes up to 7
        /// bytes; a batch holding "disk full" gets 5 bytes out, then fails for good.
        #[derive(Default)]
        struct State {
            written: Vec<u8>,
            calls: usize,
            failing: bool,
            failed: bool,
        }
        #[derive(Clone, Default)]
        struct Awkward(Arc<Mutex<State>>);
        impl Write for Awkward {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                let mut state = self.0.lock().unwrap();
                state.calls += 1;
                match state.calls % 3 {
                    0 => return Err(io::ErrorKind::WouldBlock.into()),
                    1 => return Err(io::ErrorKind::Interrupted.into()),
                    _ => {}
                }
                if state.failing {
                    state.failing = false;
                    state.failed = true;
                    return Err(io::Error::other("disk full"));
                }
                let n = if !state.failed && buf.windows(9).any(|w| w == b"disk full") {
                    state.failing = true;
                    5
                } else {
                    buf.len().min(7)
                };
                state.written.extend_from_slice(&buf[..n]);
                Ok(n)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let out = Awkward::default();
        let wait_for = |what: &str, done: &dyn Fn(&State) -> bool| {
            let deadline = Instant::now() + Duration::from_secs(10);
            while !done(&out.0.lock().unwrap()) {
                assert!(Instant::now() < deadline, "never happened: {what}");
                std::thread::sleep(Duration::from_millis(5));
            }
        };
        let (mut writer, flush) = spawn("test-log", out.clone()).unwrap();
        writer.write_all(b"first line\n").unwrap();
        wait_for("the first line written", &|s| {
            s.written.ends_with(b"first line\n")
        });
        writer.write_all(b"disk full here\n").unwrap();
        wait_for("the failed write", &|s| s.failed);
        writer.write_all(b"after the failure\n").unwrap();
        drop(flush);
        let written = String::from_utf8(out.0.lock().unwrap().written.clone()).unwrap();
        assert_eq!(written, "first line\ndisk \nafter the failure\n");
    }

    #[test]
    fn a_lone_line_is_written_after_the_linger_without_a_flush() {
        let out = Batches::default();
        let (mut writer, _flush) = spawn("test-log", out.clone()).unwrap();
        writer.write_all(b"one\n").unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while out.0.lock().unwrap().is_empty() {
            assert!(Instant::now() < deadline, "the line was never written");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(*out.0.lock().unwrap(), vec![b"one\n".to_vec()]);
    }

    #[test]
    fn a_full_buffer_makes_lines_wait_and_none_is_lost() {
        /// An output that is slow: every batch takes a while.
        #[derive(Clone, Default)]
        struct Slow(Arc<Mutex<usize>>);
        impl Write for Slow {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                std::thread::sleep(Duration::from_millis(30));
                *self.0.lock().unwrap() += buf.len();
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let out = Slow::default();
        let (mut writer, flush) = spawn("test-log", out.clone()).unwrap();
        let line = [b'x'; 1023];
        let mut total = 0;
        for _ in 0..(3 * LIMIT / 1024) {
            writer.write_all(&line).unwrap();
            writer.write_all(b"\n").unwrap();
            total += 1024;
            assert!(
                writer.shared.lock().bytes.len() <= LIMIT + 1024,
                "the buffer grew past its limit"
            );
        }
        drop(flush);
        assert_eq!(*out.0.lock().unwrap(), total);
    }
}
