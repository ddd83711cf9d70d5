//! Properties of the guard's HTTP/1.1 framing and head parsing, on arbitrary bytes: nothing
//! panics, and where a message ends does not depend on how its bytes were split into reads
//! (the connection loop sees whatever the socket hands it).
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use socket_guard::framing::{check_request_head, find_head_end, ChunkDecoder, FramingError};
use socket_guard::wire::{parse_request, parse_response};

/// Where the head ends when the bytes arrive in pieces of the given sizes, scanning as the
/// connection loop does (resuming 3 bytes before the end of what it had).
fn head_end_in_pieces(bytes: &[u8], pieces: &[usize]) -> Result<Option<usize>, FramingError> {
    let mut avail = 0;
    let mut scanned = 0;
    let mut sizes = pieces
        .iter()
        .copied()
        .chain(std::iter::repeat(bytes.len().max(1)));
    loop {
        avail = (avail + sizes.next().unwrap().max(1)).min(bytes.len());
        match find_head_end(&bytes[..avail], scanned)? {
            Some(end) => return Ok(Some(end)),
            None if avail == bytes.len() => return Ok(None),
            None => scanned = avail.saturating_sub(3),
        }
    }
}

/// Decodes a chunked body fed in pieces; the bytes used and the data, or the error.
fn decode_in_pieces(
    bytes: &[u8],
    pieces: &[usize],
) -> Result<(usize, bool, Vec<u8>), FramingError> {
    let mut dec = ChunkDecoder::default();
    let mut data = Vec::new();
    let mut pos = 0;
    let mut sizes = pieces
        .iter()
        .copied()
        .chain(std::iter::repeat(bytes.len().max(1)));
    while pos < bytes.len() && !dec.is_done() {
        let end = (pos + sizes.next().unwrap().max(1)).min(bytes.len());
        pos += dec.decode(&bytes[pos..end], Some(&mut data))?;
        if pos < end && !dec.is_done() {
            panic!("the decoder stopped inside its input without finishing");
        }
    }
    Ok((pos, dec.is_done(), data))
}

/// A valid chunked body for `data`, cut into chunks of the given sizes, with an optional
/// extension and trailer.
fn chunked(data: &[u8], sizes: &[usize], ext: bool, trailer: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = data;
    let mut sizes = sizes.iter().copied().chain(std::iter::repeat(7));
    while !rest.is_empty() {
        let n = sizes.next().unwrap().clamp(1, rest.len());
        out.extend_from_slice(format!("{n:x}").as_bytes());
        if ext {
            out.extend_from_slice(b";x=y");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&rest[..n]);
        out.extend_from_slice(b"\r\n");
        rest = &rest[n..];
    }
    out.extend_from_slice(b"0\r\n");
    if trailer {
        out.extend_from_slice(b"X-T: 1\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

fn interesting_bytes() -> impl Strategy<Value = Vec<u8>> {
    // Mostly the bytes that matter to framing, some of anything.
    let byte = prop_oneof![
        4 => prop::sample::select(b"\r\n:; \t0123456789abcdefxGET/HTTP1.".to_vec()),
        1 => any::<u8>(),
    ];
    prop::collection::vec(byte, 0..300)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn head_end_does_not_depend_on_the_reads(
        bytes in interesting_bytes(),
        pieces in prop::collection::vec(1usize..40, 0..20),
    ) {
        let whole = find_head_end(&bytes, 0);
        prop_assert_eq!(head_end_in_pieces(&bytes, &pieces), whole);
    }

    #[test]
    fn heads_never_panic(bytes in interesting_bytes(), http10 in any::<bool>()) {
        let _ = check_request_head(&bytes, http10);
        let _ = parse_request(&bytes);
        let _ = parse_response(&bytes, http10);
    }

    #[test]
    fn chunk_decoding_does_not_depend_on_the_reads(
        bytes in interesting_bytes(),
        pieces in prop::collection::vec(1usize..40, 0..20),
    ) {
        let whole = decode_in_pieces(&bytes, &[bytes.len().max(1)]);
        prop_assert_eq!(decode_in_pieces(&bytes, &pieces), whole);
    }

    #[test]
    fn valid_chunked_bodies_decode_to_their_data_and_end_where_they_end(
        data in prop::collection::vec(any::<u8>(), 0..500),
        sizes in prop::collection::vec(1usize..100, 0..10),
        ext in any::<bool>(),
        trailer in any::<bool>(),
        pieces in prop::collection::vec(1usize..64, 0..20),
        next in prop::collection::vec(any::<u8>(), 0..20),
    ) {
        let body = chunked(&data, &sizes, ext, trailer);
        let mut stream = body.clone();
        stream.extend_from_slice(&next);
        let (used, done, got) = decode_in_pieces(&stream, &pieces).unwrap();
        prop_assert!(done);
        prop_assert_eq!(used, body.len(), "the body ends where it ends; what follows is the next message");
        prop_assert_eq!(got, data);
    }
}
