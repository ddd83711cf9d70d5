//! Fuzzes the rule parser in both syntaxes: no panic on any input, and every rule that parses
//! prints to a form that parses back (in the same syntax) to the same printed form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use router::model::rule::{Rule, Syntax};

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    for syntax in [Syntax::V3, Syntax::V2] {
        if let Ok(rule) = Rule::parse_with(src, syntax) {
            let printed = rule.to_string();
            let again = Rule::parse_with(&printed, syntax).expect("a printed rule parses");
            assert_eq!(printed, again.to_string());
        }
    }
});
