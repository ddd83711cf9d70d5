//! Fuzzes the router's HTTP/1.1 heads: no panic on any input, and a head the router accepts
//! is written on so that it parses to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use router::wire::props::{request_round_trip, response_round_trip};

fuzz_target!(|data: &[u8]| {
    if let Err(e) = request_round_trip(data) {
        panic!("request: {e}");
    }
    if let Err(e) = response_round_trip(data) {
        panic!("response: {e}");
    }
});
