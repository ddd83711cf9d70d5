//! The guard's HTTP/1.1 reading, on arbitrary client and daemon bytes: a stream is cut into
//! heads and bodies the way the connection loop does; nothing may panic, every head that is
//! found must fit where it was found, and a chunked body must never be said to end past the
//! bytes it was given.
#![no_main]

use libfuzzer_sys::fuzz_target;
use socket_guard::framing::{find_head_end, BodyFraming, ChunkDecoder};
use socket_guard::wire::{parse_request, parse_response};

fuzz_target!(|data: &[u8]| {
    // The first byte picks how the stream is read: its size of reads and which side it is.
    let (Some(&mode), rest) = (data.first(), data.get(1..).unwrap_or_default()) else {
        return;
    };
    let step = usize::from(mode & 0x3f) + 1;
    let daemon_side = mode & 0x40 != 0;
    let mut pos = 0;
    for _ in 0..64 {
        if pos >= rest.len() {
            return;
        }
        let stream = &rest[pos..];
        // Heads, read in pieces of `step` bytes as the loop does.
        let mut avail = 0;
        let mut scanned = 0;
        let end = loop {
            avail = (avail + step).min(stream.len());
            match find_head_end(&stream[..avail], scanned) {
                Ok(Some(end)) => break end,
                Ok(None) if avail == stream.len() => return,
                Ok(None) => scanned = avail.saturating_sub(3),
                Err(_) => return,
            }
        };
        assert!(end <= avail && stream[..end].ends_with(b"\r\n\r\n"));
        let body = if daemon_side {
            match parse_response(&stream[..end], mode & 0x80 != 0) {
                Ok(r) => r.body,
                Err(_) => return,
            }
        } else {
            match parse_request(&stream[..end]) {
                Ok(h) => h.body,
                Err(_) => return,
            }
        };
        pos += end;
        match body {
            BodyFraming::None => {}
            BodyFraming::UntilClose => return,
            BodyFraming::Length(n) => pos = pos.saturating_add(usize::try_from(n).unwrap_or(usize::MAX)),
            BodyFraming::Chunked => {
                let mut dec = ChunkDecoder::default();
                let mut kept = Vec::new();
                while !dec.is_done() && pos < rest.len() {
                    let to = (pos + step).min(rest.len());
                    match dec.decode(&rest[pos..to], Some(&mut kept)) {
                        Ok(used) => {
                            assert!(used <= to - pos);
                            pos += used;
                        }
                        Err(_) => return,
                    }
                }
                if !dec.is_done() {
                    return;
                }
            }
        }
    }
});
