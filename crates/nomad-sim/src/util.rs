//! Small helpers: string hashing over the scheduler's hasher and
//! UUID-shaped IDs drawn from a seeded generator.

use std::hash::Hasher;

use nomad_scheduler::rng::Rng;

pub(crate) use nomad_scheduler::hash::{FxHashMap, FxHashSet, FxHasher};

/// A 64-bit hash of a string with [`FxHasher`] plus a final mix, for the
/// allocation-ID index.
pub(crate) fn hash_str(s: &str) -> u64 {
    let mut h = FxHasher::default();
    h.write(s.as_bytes());
    mix(h.finish())
}

/// The SplitMix64 finaliser: spreads the bits of `x`.
pub(crate) fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A UUID-shaped (version 4 layout) ID from a seeded generator.
pub(crate) fn uuid(rng: &mut Rng) -> String {
    let hi = rng.next_u64();
    let lo = rng.next_u64();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0x0fff,
        ((lo >> 48) & 0x3fff) | 0x8000,
        lo & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_shaped_and_repeatable() {
        let a = uuid(&mut Rng::new(7));
        assert_eq!(a, uuid(&mut Rng::new(7)));
        assert_ne!(a, uuid(&mut Rng::new(8)));
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
    }
}
