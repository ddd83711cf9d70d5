//! A table's API view (Traefik's runtime configuration: every router, service and middleware
//! with its status, errors and users), made when it is first asked for rather than with the
//! table.
//!
//! Why: the view is a copy of every definition in ordered maps, with the users of each
//! service and middleware listed; at 10,000 containers it was about a third of what a
//! reconfiguration cost, and 1.8 KB a route kept for as long as the table served — for a
//! view only the API and the dashboard read. A table compiled for service keeps what makes
//! its view (the snapshots it was compiled from, shared) and makes the view once, the first
//! time it is read; a table nobody asks about never makes it.

use std::fmt;
use std::sync::{Arc, OnceLock};

use super::table::ApiView;

/// Makes a table's view: the compile of the table's own snapshots, with the view kept.
pub type MakeView = Arc<dyn Fn() -> ApiView + Send + Sync>;

/// The view, made or to make.
#[derive(Clone, Default)]
pub struct LazyApi {
    view: OnceLock<ApiView>,
    make: Option<MakeView>,
}

impl LazyApi {
    /// A view made already (a table compiled with its view).
    pub fn made(view: ApiView) -> LazyApi {
        LazyApi {
            view: OnceLock::from(view),
            make: None,
        }
    }

    /// A view `make` makes when it is first read.
    pub fn later(make: MakeView) -> LazyApi {
        LazyApi {
            view: OnceLock::new(),
            make: Some(make),
        }
    }

    /// The view (made now if it was not: the compile of every snapshot, tens of
    /// milliseconds at thousands of routes; see [`LazyApi::is_made`]).
    pub fn get(&self) -> &ApiView {
        self.view
            .get_or_init(|| self.make.as_ref().map(|m| m()).unwrap_or_default())
    }

    /// Whether reading the view is quick (it was made already).
    pub fn is_made(&self) -> bool {
        self.view.get().is_some()
    }
}

impl fmt::Debug for LazyApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.view.get() {
            Some(v) => v.fmt(f),
            None => f.write_str("LazyApi(not made yet)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn made_once_when_first_read_and_shared_by_readers() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let lazy = LazyApi::later(Arc::new(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            let mut v = ApiView::default();
            v.middlewares.insert(
                "m@file".into(),
                crate::model::table::ElementInfo::enabled(crate::dynamic::Middleware::Chain {
                    middlewares: Vec::new(),
                }),
            );
            v
        }));
        assert!(!lazy.is_made());
        assert_eq!(
            calls.load(Ordering::SeqCst),
            0,
            "not made before it is read"
        );
        assert!(lazy.get().middlewares.contains_key("m@file"));
        assert!(lazy.get().middlewares.contains_key("m@file"));
        assert!(lazy.is_made());
        assert_eq!(calls.load(Ordering::SeqCst), 1, "made once");
    }

    #[test]
    fn a_default_view_is_empty() {
        assert!(LazyApi::default().get().routers.is_empty());
    }
}
