//! Fuzzes the canonicaliser and the decision: no panic, canonical forms are fixed points, and
//! an allowed request was canonical and reached a granted endpoint or an explicit rule.
#![no_main]

use libfuzzer_sys::fuzz_target;
use policies::path::canonicalize;
use policies::section::{Gate, Section, Switches};
use policies::{body::BodyGrants, rule::RuleSet, Decision, Policy, Request};

fuzz_target!(|data: &[u8]| {
    let Some((&switch_byte, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let (method, raw) = text.split_once(' ').unwrap_or(("GET", text));
    let Ok(target) = canonicalize(raw) else { return };
    assert_eq!(canonicalize(&target.forward_uri()).as_ref(), Ok(&target));
    let mut s = Switches::NONE;
    for (i, sec) in Section::ALL.iter().enumerate() {
        s.set_section(*sec, (switch_byte as usize + i) % 3 == 0);
    }
    for (i, g) in Gate::ALL.iter().enumerate() {
        s.set_gate(*g, switch_byte & (1 << i) != 0);
    }
    let policy = Policy::new(s, RuleSet::default(), BodyGrants::default());
    if let Decision::Allow(a) = policy.decide(Request { method, target: &target }) {
        let e = a.endpoint.expect("without rules only table endpoints are allowed");
        assert!(policy.grant(e).is_ok());
    }
});
