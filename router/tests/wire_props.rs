//! Properties of the router's HTTP/1.1 heads on arbitrary bytes: nothing panics, and a head
//! the router accepts is written on (to a backend, or back to a client) so that it parses to
//! the same request line, headers and framing.

use proptest::prelude::*;
use router::wire::props::{request_round_trip, response_round_trip};

/// Bytes that look like heads more often than chance would make them.
fn heady() -> impl Strategy<Value = Vec<u8>> {
    let pieces = prop::collection::vec(
        prop_oneof![
            Just(b"GET / HTTP/1.1\r\n".to_vec()),
            Just(b"POST /a?b=c HTTP/1.0\r\n".to_vec()),
            Just(b"GET http://h.test:81/x HTTP/1.1\r\n".to_vec()),
            Just(b"HTTP/1.1 200 OK\r\n".to_vec()),
            Just(b"HTTP/1.0 204 No Content\r\n".to_vec()),
            Just(b"Host: h.test\r\n".to_vec()),
            Just(b"Content-Length: 5\r\n".to_vec()),
            Just(b"Content-Length: 6\r\n".to_vec()),
            Just(b"Transfer-Encoding: chunked\r\n".to_vec()),
            Just(b"Connection: close, upgrade\r\n".to_vec()),
            Just(b"Upgrade: websocket\r\n".to_vec()),
            Just(b"X-A: \x01\xff\r\n".to_vec()),
            Just(b"\r\n".to_vec()),
            Just(b"\n".to_vec()),
            Just(b" ".to_vec()),
            prop::collection::vec(any::<u8>(), 0..12),
        ],
        0..12,
    );
    pieces.prop_map(|p| {
        let mut v = p.concat();
        v.extend_from_slice(b"\r\n\r\n");
        v
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn accepted_requests_are_forwarded_as_they_were_judged(bytes in heady()) {
        prop_assert_eq!(request_round_trip(&bytes), Ok(()));
    }

    #[test]
    fn accepted_responses_are_relayed_as_they_were_judged(bytes in heady()) {
        prop_assert_eq!(response_round_trip(&bytes), Ok(()));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = request_round_trip(&bytes);
        let _ = response_round_trip(&bytes);
    }
}
