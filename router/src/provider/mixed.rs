//! Hash maps keyed by numbers that need no SipHash: memo keys (SipHash outputs already) and
//! addresses. A multiply by the golden ratio spreads them over the high bits the table probes
//! with. Hashing 10,000 such keys at every Docker event was a tenth of its work.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// The hasher: one multiply of the one `u64` (or `usize`) written.
#[derive(Default, Clone, Copy)]
pub(crate) struct Mix(u64);

impl Hasher for Mix {
    fn finish(&self) -> u64 {
        self.0
    }

    /// The trait's byte path, which keys of these maps do not take: eight bytes at a time,
    /// every byte counted. Not for keys others choose (it is not keyed).
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.write_u64(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 56));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// A map keyed by memo keys or addresses.
pub(crate) type MixMap<K, V> = HashMap<K, V, BuildHasherDefault<Mix>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_that_differ_anywhere_hash_apart() {
        let hash = |s: &str| {
            use std::hash::BuildHasher;
            BuildHasherDefault::<Mix>::default().hash_one(s)
        };
        let id = "6530000000000000000000000000000000000000000000000000000000000000";
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..id.len() {
            let mut other = id.as_bytes().to_vec();
            other[i] = b'f';
            seen.insert(hash(std::str::from_utf8(&other).unwrap()));
        }
        seen.insert(hash(id));
        seen.insert(hash(&id[..63]));
        assert_eq!(seen.len(), id.len() + 2);
    }

    #[test]
    fn addresses_spread_over_the_high_bits() {
        // Addresses 16 bytes apart differ in their top 7 bits (what hashbrown's groups compare).
        let top = |n: u64| {
            let mut h = Mix::default();
            h.write_u64(n);
            h.finish() >> 57
        };
        let tops: std::collections::BTreeSet<u64> =
            (0..256u64).map(|i| top(0x7f00_0000 + i * 16)).collect();
        assert!(tops.len() > 64, "{}", tops.len());
    }
}
