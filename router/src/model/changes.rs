//! What changed between two tables, as the lines of their descriptions
//! ([`RouteTable::describe`]) added and removed, for the reload log: found by comparing the
//! tables item by item (routes, middlewares, services) and formatting only the items that
//! differ. Formatting a whole table of 20,000 routes takes tens of milliseconds, at every
//! change; comparing it takes a few.

use std::collections::{BTreeMap, BTreeSet};

use super::table::{middleware_line, Route, RouteTable};
use crate::dynamic::Middleware;

/// Lines added and removed between two tables' descriptions: exactly the set differences of
/// `new.describe()` and `old.describe()` (each item's lines name it, so items of different
/// names never share a line).
pub fn diff(old: &RouteTable, new: &RouteTable) -> (Vec<String>, Vec<String>) {
    if let Some(p) = new.made.as_ref().and_then(|m| m.patched.as_ref()) {
        if old.made.as_ref().is_some_and(|m| m.id == p.base) {
            return patched(old, new, p);
        }
    }
    let mut was = BTreeSet::new();
    let mut is = BTreeSet::new();
    routes(old, new, &mut was, &mut is);
    join(
        &used_middlewares(old),
        &used_middlewares(new),
        |a, b| a == b,
        |name, mw, out| {
            out.insert(middleware_line(name, mw));
        },
        &mut was,
        &mut is,
    );
    join(
        &old.services,
        &new.services,
        |a: &std::sync::Arc<super::table::Service>, b| a == b,
        |_, s, out| {
            let mut lines = Vec::new();
            s.describe(&mut lines);
            out.extend(lines);
        },
        &mut was,
        &mut is,
    );
    for (table, out) in [(old, &mut was), (new, &mut is)] {
        out.extend(table.default_certificate_line());
        out.extend(table.tls_options_lines());
        out.extend(table.tail_lines());
    }
    (
        is.difference(&was).cloned().collect(),
        was.difference(&is).cloned().collect(),
    )
}

/// [`diff`] for a table patched from `old` ([`super::patch`]): only what the patch changed
/// can differ (its routes and services, and the middlewares those routes use); the rest is
/// shared, or made from parts of the snapshots it did not change.
fn patched(
    old: &RouteTable,
    new: &RouteTable,
    p: &super::patch::Patched,
) -> (Vec<String>, Vec<String>) {
    let mut was = BTreeSet::new();
    let mut is = BTreeSet::new();
    let named = |t: &RouteTable, at: &[usize], out: &mut BTreeSet<String>| {
        let mut used = BTreeMap::new();
        for r in at.iter().map(|&i| &t.routes[i]) {
            out.extend(r.certificate_line());
            out.insert(r.line());
            for (name, mw) in &r.middlewares {
                used.insert(name.clone(), mw.clone());
            }
        }
        used
    };
    let (was_mws, is_mws) = (
        named(old, &p.removed_at, &mut was),
        named(new, &p.added_at, &mut is),
    );
    // A middleware's line is in a description while some route uses it, with its settings
    // in that table (a middleware the patch changed is used by changed routes only: the
    // others' copies are the same in both).
    for name in was_mws.keys().chain(is_mws.keys()) {
        let uses = |t: &RouteTable| {
            t.routes
                .iter()
                .any(|r| r.middlewares.iter().any(|(n, _)| n == name))
        };
        let (a, b) = (was_mws.get(name), is_mws.get(name));
        if let (true, Some(mw)) = (uses(old), a.or(b)) {
            was.insert(middleware_line(name, mw));
        }
        if let (true, Some(mw)) = (uses(new), b.or(a)) {
            is.insert(middleware_line(name, mw));
        }
    }
    for q in &p.services {
        let (a, b) = (old.services.get(q), new.services.get(q));
        if a != b {
            for (s, out) in [(a, &mut was), (b, &mut is)] {
                let mut lines = Vec::new();
                if let Some(s) = s {
                    s.describe(&mut lines);
                }
                out.extend(lines);
            }
        }
    }
    (
        is.difference(&was).cloned().collect(),
        was.difference(&is).cloned().collect(),
    )
}

/// The lines of the routes that differ, by name (routes of one name compared in table order).
fn routes(
    old: &RouteTable,
    new: &RouteTable,
    was: &mut BTreeSet<String>,
    is: &mut BTreeSet<String>,
) {
    // Routes of one name stay in table order: they are references into one slice.
    fn by_name(t: &RouteTable) -> Vec<&Route> {
        let mut v: Vec<&Route> = t.routes.iter().map(|r| &**r).collect();
        v.sort_unstable_by(|a, b| {
            a.name
                .cmp(&b.name)
                .then_with(|| std::ptr::from_ref(*a).cmp(&std::ptr::from_ref(*b)))
        });
        v
    }
    let (a, b) = (by_name(old), by_name(new));
    let (mut i, mut j) = (0, 0);
    let lines = |rs: &[&Route], out: &mut BTreeSet<String>| {
        for r in rs {
            out.extend(r.certificate_line());
            out.insert(r.line());
        }
    };
    while i < a.len() || j < b.len() {
        let name = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => x.name.as_str().min(y.name.as_str()),
            (Some(x), None) => x.name.as_str(),
            (None, Some(y)) => y.name.as_str(),
            (None, None) => break,
        };
        let run = |v: &[&Route], at: usize| v[at..].iter().take_while(|r| r.name == name).count();
        let (n, m) = (run(&a, i), run(&b, j));
        let (ra, rb) = (&a[i..i + n], &b[j..j + m]);
        if n != m || ra.iter().zip(rb).any(|(x, y)| !x.described_as(y)) {
            lines(ra, was);
            lines(rb, is);
        }
        i += n;
        j += m;
    }
}

/// The middlewares a table's routes use, by name (the last route's settings for a name, as
/// [`RouteTable::describe`] takes them).
fn used_middlewares(t: &RouteTable) -> BTreeMap<&str, &Middleware> {
    let mut m = BTreeMap::new();
    for r in &t.routes {
        for (name, mw) in &r.middlewares {
            m.insert(name.as_str(), mw);
        }
    }
    m
}

/// Two maps joined by key (each given as its entries in key order): the lines of the items
/// that differ, or are on one side only.
fn join<'m, K: Ord + AsRef<str> + 'm, V: 'm>(
    old: impl IntoIterator<Item = (&'m K, &'m V)>,
    new: impl IntoIterator<Item = (&'m K, &'m V)>,
    same: impl Fn(&V, &V) -> bool,
    lines: impl Fn(&str, &V, &mut BTreeSet<String>),
    was: &mut BTreeSet<String>,
    is: &mut BTreeSet<String>,
) {
    let mut a = old.into_iter().peekable();
    let mut b = new.into_iter().peekable();
    loop {
        match (a.peek(), b.peek()) {
            (Some((ka, va)), Some((kb, vb))) => match ka.cmp(kb) {
                std::cmp::Ordering::Less => {
                    lines(ka.as_ref(), va, was);
                    a.next();
                }
                std::cmp::Ordering::Greater => {
                    lines(kb.as_ref(), vb, is);
                    b.next();
                }
                std::cmp::Ordering::Equal => {
                    if !same(va, vb) {
                        lines(ka.as_ref(), va, was);
                        lines(kb.as_ref(), vb, is);
                    }
                    a.next();
                    b.next();
                }
            },
            (Some((ka, va)), None) => {
                lines(ka.as_ref(), va, was);
                a.next();
            }
            (None, Some((kb, vb))) => {
                lines(kb.as_ref(), vb, is);
                b.next();
            }
            (None, None) => return,
        }
    }
}
