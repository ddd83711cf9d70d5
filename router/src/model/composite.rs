//! `weighted` and `failover` services: their children resolved to qualified names, and the
//! table's composites checked as Traefik checks them when it builds their handlers — every
//! child exists, no service contains itself, and a child whose health the parent follows
//! reports one (a load balancer with a `healthCheck`, or a composite with `healthCheck: {}`).
//! A composite that fails is taken out of the table (and so is one that uses it).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::table::{Kind, Service};
use crate::dynamic;

/// The table kind of `svc` (qualified `name`), defined in `provider`.
pub fn kind(name: &str, svc: &dynamic::Service, provider: &str) -> Kind {
    if let Some(w) = &svc.weighted {
        return Kind::Weighted {
            children: w
                .services
                .iter()
                .map(|c| (dynamic::resolve(&c.name, provider), c.weight))
                .collect(),
            health: w.health_check,
            sticky: w.sticky.as_ref().map(|c| {
                Box::new(super::table::WeightedSticky {
                    name: dynamic::sticky::cookie_name(&c.name, name),
                    cookie: c.clone(),
                    written: w.services.iter().map(|s| s.name.clone()).collect(),
                })
            }),
        };
    }
    if let Some(m) = &svc.mirroring {
        return Kind::Mirroring {
            main: dynamic::resolve(&m.service, provider),
            mirrors: m
                .mirrors
                .iter()
                .map(|c| (dynamic::resolve(&c.name, provider), c.percent))
                .collect(),
            body: m.mirror_body,
            max_body: m.max_body_size,
            health: m.health_check,
        };
    }
    if let Some(f) = &svc.failover {
        return Kind::Failover {
            main: dynamic::resolve(&f.service, provider),
            fallback: dynamic::resolve(&f.fallback, provider),
            health: f.health_check,
            errors: f.errors.clone().filter(|e| !e.status.is_empty()),
        };
    }
    Kind::Servers
}

/// Nesting deeper than this is refused (a cycle, or a configuration no one means).
const MAX_DEPTH: usize = 16;

/// Removes the composites that cannot work, until none is left to remove: (name, why).
pub fn settle(services: &mut BTreeMap<String, Arc<Service>>) -> Vec<(String, String)> {
    let mut removed = Vec::new();
    loop {
        let broken: Vec<(String, String)> = services
            .iter()
            .filter_map(|(name, svc)| check(name, svc, services).err().map(|e| (name.clone(), e)))
            .collect();
        if broken.is_empty() {
            return removed;
        }
        for (name, _) in &broken {
            services.remove(name);
        }
        removed.extend(broken);
    }
}

fn check(name: &str, svc: &Service, all: &BTreeMap<String, Arc<Service>>) -> Result<(), String> {
    let child = |c: &str, health: bool| -> Result<(), String> {
        let Some(s) = all.get(c) else {
            return Err(format!(
                "uses service {c:?}, which does not exist or is broken"
            ));
        };
        if health && !reports_health(s) {
            return Err(format!(
                "follows the health of service {c:?}, which has no healthCheck"
            ));
        }
        Ok(())
    };
    match &svc.kind {
        Kind::Servers => return Ok(()),
        Kind::Weighted {
            children, health, ..
        } => {
            for (c, _) in children {
                child(c, *health)?;
            }
        }
        // As Traefik: with healthCheck, the mirroring service reports its main service's.
        Kind::Mirroring {
            main,
            mirrors,
            health,
            ..
        } => {
            child(main, *health)?;
            for (m, _) in mirrors {
                child(m, false)?;
            }
        }
        // As Traefik: the main service's health decides, so it must have one unless
        // `errors` lists statuses (then its answers decide too); the fallback's is followed
        // only with the failover's own healthCheck.
        Kind::Failover {
            main,
            fallback,
            health,
            errors,
        } => {
            child(main, errors.is_none())?;
            child(fallback, *health)?;
        }
    }
    if contains(name, svc, all, 0) {
        return Err(format!(
            "contains itself, or nests services deeper than {MAX_DEPTH}"
        ));
    }
    Ok(())
}

/// Whether a service tells its parents when it is down.
fn reports_health(s: &Service) -> bool {
    match &s.kind {
        Kind::Servers => s.health.is_some(),
        Kind::Weighted { health, .. }
        | Kind::Failover { health, .. }
        | Kind::Mirroring { health, .. } => *health,
    }
}

/// Whether `name` is among the services under `svc` (or they nest too deep).
fn contains(name: &str, svc: &Service, all: &BTreeMap<String, Arc<Service>>, depth: usize) -> bool {
    if depth > MAX_DEPTH {
        return true;
    }
    children(svc).iter().any(|c| {
        *c == name
            || all
                .get(*c)
                .is_some_and(|s| contains(name, s, all, depth + 1))
    })
}

/// The services a composite is made of.
pub fn children(svc: &Service) -> Vec<&str> {
    match &svc.kind {
        Kind::Servers => Vec::new(),
        Kind::Weighted { children, .. } => children.iter().map(|(c, _)| c.as_str()).collect(),
        Kind::Failover { main, fallback, .. } => vec![main, fallback],
        Kind::Mirroring { main, mirrors, .. } => std::iter::once(main.as_str())
            .chain(mirrors.iter().map(|(m, _)| m.as_str()))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lb(health: bool) -> Service {
        Service {
            name: String::new(),
            transport: Default::default(),
            pass_host_header: true,
            sticky: None,
            strategy: Default::default(),
            backends: Vec::new(),
            health: health.then(|| crate::dynamic::HealthCheck::of("/")),
            internal: None,
            kind: Kind::Servers,
        }
    }

    fn with(kind: Kind) -> Service {
        Service { kind, ..lb(false) }
    }

    fn weighted(children: &[&str], health: bool) -> Service {
        with(Kind::Weighted {
            children: children.iter().map(|c| ((*c).to_owned(), 1)).collect(),
            health,
            sticky: None,
        })
    }

    #[test]
    fn broken_composites_leave_and_take_their_users_along() {
        let all = BTreeMap::from([
            ("a".to_owned(), lb(false)),
            ("h".to_owned(), lb(true)),
            ("ok".to_owned(), weighted(&["a", "h"], false)),
            ("missing".to_owned(), weighted(&["a", "nope"], false)),
            ("uses-missing".to_owned(), weighted(&["missing"], false)),
            ("unhealthy".to_owned(), weighted(&["a", "h"], true)),
            ("healthy".to_owned(), weighted(&["h"], true)),
            ("loop1".to_owned(), weighted(&["loop2"], false)),
            ("loop2".to_owned(), weighted(&["loop1"], false)),
            (
                "fo".to_owned(),
                with(Kind::Failover {
                    main: "h".into(),
                    fallback: "a".into(),
                    health: false,
                    errors: None,
                }),
            ),
            (
                "fo-no-health".to_owned(),
                with(Kind::Failover {
                    main: "a".into(),
                    fallback: "h".into(),
                    health: false,
                    errors: None,
                }),
            ),
            (
                "mirror-ok".to_owned(),
                with(Kind::Mirroring {
                    main: "a".into(),
                    mirrors: vec![("h".into(), 10)],
                    body: true,
                    max_body: -1,
                    health: false,
                }),
            ),
            (
                "mirror-missing".to_owned(),
                with(Kind::Mirroring {
                    main: "a".into(),
                    mirrors: vec![("gone".into(), 10)],
                    body: true,
                    max_body: -1,
                    health: false,
                }),
            ),
            (
                "fo-nested".to_owned(),
                with(Kind::Failover {
                    main: "healthy".into(),
                    fallback: "ok".into(),
                    health: false,
                    errors: None,
                }),
            ),
        ]);
        let mut all: BTreeMap<String, Arc<Service>> =
            all.into_iter().map(|(n, s)| (n, Arc::new(s))).collect();
        let removed: Vec<String> = settle(&mut all).into_iter().map(|(n, _)| n).collect();
        let mut removed_sorted = removed.clone();
        removed_sorted.sort();
        assert_eq!(
            removed_sorted,
            [
                "fo-no-health",
                "loop1",
                "loop2",
                "mirror-missing",
                "missing",
                "unhealthy",
                "uses-missing"
            ]
        );
        assert!(["a", "h", "ok", "healthy", "fo", "fo-nested", "mirror-ok"]
            .iter()
            .all(|n| all.contains_key(*n)));
    }
}
