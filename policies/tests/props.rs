//! Property tests of the decision core's invariants:
//! - canonicalisation never panics and is a fixed point: what is forwarded judges the same;
//! - non-canonical spellings of any path are never allowed;
//! - versioned and unversioned paths get the same decision;
//! - an allowed request is canonical and matched by a section grant or an explicit rule;
//! - more switches never turn an allow into a deny; no switches deny everything.

#![allow(clippy::unwrap_used)]

use policies::endpoint::ENDPOINTS;
use policies::path::canonicalize;
use policies::rule::RuleSet;
use policies::section::{Gate, Section, Switches};
use policies::{body::BodyGrants, Decision, Policy, Request};
use proptest::prelude::*;

fn switches() -> impl Strategy<Value = Switches> {
    (any::<u32>(), any::<u16>()).prop_map(|(sections, gates)| {
        let mut s = Switches::NONE;
        for (i, sec) in Section::ALL.iter().enumerate() {
            s.set_section(*sec, sections & (1 << i) != 0);
        }
        for (i, g) in Gate::ALL.iter().enumerate() {
            s.set_gate(*g, gates & (1 << i) != 0);
        }
        s
    })
}

fn id() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9][a-zA-Z0-9_.-]{0,12}".prop_filter("not a dot segment", |s| s != "." && s != "..")
}

/// A concrete path for a random endpoint of the table.
fn endpoint_path() -> impl Strategy<Value = (String, String)> {
    (0..ENDPOINTS.len(), id(), id()).prop_map(|(i, a, b)| {
        let e = &ENDPOINTS[i];
        let path = e
            .pattern
            .replace("{id}", &a)
            .replace("{name*}", &format!("{a}/{b}"));
        (e.method.to_owned(), path)
    })
}

fn decide(p: &Policy, method: &str, raw: &str) -> Option<Decision> {
    let t = canonicalize(raw).ok()?;
    Some(p.decide(Request { method, target: &t }))
}

fn policy(s: Switches) -> Policy {
    Policy::new(s, RuleSet::default(), BodyGrants::default())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn canonicalize_never_panics(raw in "\\PC{0,64}") {
        let _ = canonicalize(&raw);
    }

    #[test]
    fn canonical_form_is_a_fixed_point(raw in "(/v1\\.4[0-9])?(/[a-zA-Z0-9%._~:@!$&'()*+,=;\\\\-]{0,8}){1,5}(\\?[a-z=&0-9]{0,8})?") {
        if let Ok(t) = canonicalize(&raw) {
            let again = canonicalize(&t.forward_uri()).unwrap();
            prop_assert_eq!(again, t);
        }
    }

    #[test]
    fn versioned_equals_unversioned(s in switches(), (method, path) in endpoint_path(), minor in 24u32..60) {
        let p = policy(s);
        let plain = decide(&p, &method, &path);
        let versioned = decide(&p, &method, &format!("/v1.{minor}{path}"));
        prop_assert!(plain.is_some());
        prop_assert_eq!(plain, versioned);
    }

    #[test]
    fn non_canonical_spellings_are_never_allowed(
        (method, path) in endpoint_path(),
        trick in prop::sample::select(vec!["/..", "/.", "/", "%2F", "%2f", "%252F", ";x", "\\", "%5C", "%00", "/%2e%2e", "/%2e", "/%2E."]),
        at in any::<prop::sample::Index>(),
    ) {
        // Everything on: only canonicalisation stands between the trick and an allow.
        let all = Switches::NONE;
        let mut all = all;
        for s in Section::ALL { all.set_section(s, true); }
        for g in Gate::ALL { all.set_gate(g, true); }
        let p = policy(all);
        let slashes: Vec<usize> = path.match_indices('/').map(|(i, _)| i).skip(1).collect();
        let cut = if slashes.is_empty() { path.len() } else { slashes[at.index(slashes.len())] };
        let tricked = format!("{}{}{}", &path[..cut], trick, &path[cut..]);
        // The daemon's one trailing-slash route is canonical by definition.
        prop_assume!(tricked != "/networks/");
        if let Some(Decision::Allow(a)) = decide(&p, &method, &tricked) {
            // Allowed only if the trick decoded to an equally canonical, different endpoint
            // path, which is impossible for these tricks.
            prop_assert!(false, "{} {} allowed as {:?}", method, tricked, a.endpoint.map(|e| e.name));
        }
    }

    #[test]
    fn allowed_means_granted(s in switches(), (method, path) in endpoint_path()) {
        let p = policy(s);
        if let Some(Decision::Allow(a)) = decide(&p, &method, &path) {
            let e = a.endpoint.unwrap();
            prop_assert!(p.grant(e).is_ok());
        }
    }

    #[test]
    fn more_switches_never_deny_more(s in switches(), extra in switches(), (method, path) in endpoint_path()) {
        let mut more = s;
        for sec in Section::ALL { if extra.section(sec) { more.set_section(sec, true); } }
        for g in Gate::ALL { if extra.gate(g) { more.set_gate(g, true); } }
        let before = matches!(decide(&policy(s), &method, &path), Some(Decision::Allow(_)));
        let after = matches!(decide(&policy(more), &method, &path), Some(Decision::Allow(_)));
        prop_assert!(!before || after);
    }

    #[test]
    fn nothing_on_denies_everything(method in "[A-Za-z]{1,8}", raw in "/[ -~]{0,40}") {
        let p = policy(Switches::NONE);
        prop_assert!(!matches!(decide(&p, &method, &raw), Some(Decision::Allow(_))));
    }
}
