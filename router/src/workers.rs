//! The threads that serve client connections: one single-threaded runtime per worker of the
//! main runtime, each accepting from every HTTP entry point's listener and serving the
//! connections it accepted to their end on its own thread, as nginx's worker processes do. A
//! connection's tasks never move between threads: an I/O event wakes the thread that waits for
//! it and no other, and no task is stolen by the other core with its data in this core's
//! cache. Measured against the work-stealing runtime on the same chained request, this is
//! about 8 % less CPU per request (BENCHMARKS.md). What does not serve a client connection
//! (providers, health checks, the admin listener, UDP) stays on the main runtime.
//!
//! A backend connection parked in the shared pool by one thread and taken by another keeps
//! working: its readiness comes from the first thread's driver, which runs as long as the
//! process does.

use std::sync::OnceLock;

use tokio::runtime::Handle;

/// The serving runtimes, started on first use: as many as the main runtime has workers
/// (`TOKIO_WORKER_THREADS`, else one per core), one when called outside a multi-threaded
/// runtime (tests).
pub fn handles() -> &'static [Handle] {
    static HANDLES: OnceLock<Vec<Handle>> = OnceLock::new();
    HANDLES.get_or_init(|| {
        let n = Handle::try_current()
            .map(|h| h.metrics().num_workers())
            .unwrap_or(1)
            .max(1);
        (0..n).filter_map(start).collect::<Vec<_>>()
    })
}

/// Starts serving thread `i`; `None` (logged) if the system refuses a thread or a runtime,
/// and the others serve (at least the first must start: [`handles`] is never empty in a
/// process that can start threads at all).
fn start(i: usize) -> Option<Handle> {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start a serving runtime");
            return None;
        }
    };
    let handle = rt.handle().clone();
    let started = std::thread::Builder::new()
        .name(format!("router-serve-{i}"))
        .spawn(move || rt.block_on(std::future::pending::<()>()));
    match started {
        Ok(_) => Some(handle),
        Err(e) => {
            tracing::error!(error = %e, "cannot start a serving thread");
            None
        }
    }
}
