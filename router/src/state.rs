//! Publishing: every provider hands its [`Snapshot`] here; the providers' latest snapshots
//! are compiled into one routing table ([`crate::model::compile`]) and, when it differs from
//! the table in service, swapped in atomically with its runtime state (the difference is
//! logged). Requests never wait for this: they read whichever table is in service.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};

use crate::dynamic::Snapshot;
use crate::model::compile::{self, CompileSettings, EntryPointModel};
use crate::model::table;
use crate::server::Shared;

/// The providers' latest snapshots, by provider name.
pub type Snapshots = std::sync::Mutex<BTreeMap<String, Snapshot>>;

/// Takes a provider's new snapshot and swaps in the table built from it and the others'.
pub fn publish(shared: &Shared, snapshot: Snapshot) {
    let new = {
        let mut snaps = shared
            .snapshots
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        snaps.insert(snapshot.provider.clone(), snapshot);
        compile::compile(snaps.values(), &compile_settings(&shared.config))
    };
    let current = shared.live.load();
    let (added, removed) = table::diff(&current.table, &new);
    let first = !shared.synced.swap(true, Ordering::SeqCst);
    if added.is_empty() && removed.is_empty() && !first {
        return;
    }
    for line in &removed {
        tracing::info!(change = "-", "{line}");
    }
    for line in &added {
        tracing::info!(change = "+", "{line}");
    }
    shared.metrics.routes.set(new.routes.len() as i64);
    shared.metrics.reloads.inc();
    let live = shared.registry.attach(new);
    shared.live.store(Arc::new(live));
    crate::health::reconcile(shared);
}

/// The entry points and rule syntax routers are compiled against.
pub fn compile_settings(c: &crate::config::Config) -> CompileSettings {
    let mut entry_points = vec![EntryPointModel {
        name: "web".into(),
        default: true,
        ..Default::default()
    }];
    if c.websecure_listen.is_some() {
        // Every router on websecure answers over TLS, as it always did.
        entry_points.push(EntryPointModel {
            name: "websecure".into(),
            default: true,
            tls: Some(Default::default()),
            ..Default::default()
        });
    }
    CompileSettings {
        entry_points,
        ..Default::default()
    }
}
