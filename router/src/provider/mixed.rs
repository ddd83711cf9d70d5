//! Hash maps keyed by numbers that need no SipHash: memo keys (SipHash outputs already) and
//! addresses. A multiply by the golden ratio spreads them over the high bits the table probes
//! with. Hashing 10,000 such keys twice at every Docker event was a tenth of a snapshot.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// The hasher: one multiply of the one `u64` (or `usize`) written.
#[derive(Default, Clone, Copy)]
pub(crate) struct Mix(u64);

impl Hasher for Mix {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not for keys of this kind; still a hash, if a slow one.
        for b in bytes {
            self.write_u64(u64::from(*b));
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
