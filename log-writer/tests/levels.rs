//! The filter given to `install_to` decides alone which levels are written: `debug` shows
//! the programs' own debug lines (the subscriber's own ceiling once left only INFO and
//! above), not their libraries'.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};

/// A writer into memory that the test reads after the log is flushed.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_debug_filter_writes_debug_lines_and_not_trace_ones() {
    let out = Shared::default();
    let flush = log_writer::install_to("levels-test", "debug", true, out.clone()).unwrap();
    tracing::trace!(target: "router::state", "a trace line");
    tracing::debug!(target: "router::state", "a debug line");
    tracing::debug!(target: "socket_guard::proxy", "a guard's debug line");
    tracing::debug!(target: "h2::codec", "a library's debug line");
    tracing::info!(target: "h2::codec", "a library's info line");
    tracing::info!("an info line");
    drop(flush);
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("a debug line"), "{text}");
    assert!(text.contains("a guard's debug line"), "{text}");
    assert!(text.contains("a library's info line"), "{text}");
    assert!(!text.contains("a library's debug line"), "{text}");
    assert!(text.contains("an info line"), "{text}");
    assert!(!text.contains("a trace line"), "{text}");
}
