//! Fuzzes the rule parser: no panic on any input, and every rule that parses prints to a
//! form that parses back to the same printed form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use router::model::rule::Rule;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    if let Ok(rule) = Rule::parse(src) {
        let printed = rule.to_string();
        let again = Rule::parse(&printed).expect("a printed rule parses");
        assert_eq!(printed, again.to_string());
    }
});
