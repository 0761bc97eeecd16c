//! Deterministic IDs for the objects the reconcilers create (deployments,
//! follow-up evaluations), for callers that do not bring their own
//! generator and for tests.

/// SplitMix64 finaliser: a cheap, well-mixed 64-bit hash step.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a over the seed, the starting point of the stream.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xCBF2_9CE4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
    })
}

/// A generator of UUID-shaped IDs (version 4 layout) derived from `seed`
/// and a counter: the same seed always yields the same sequence, different
/// seeds (such as evaluation IDs) yield unrelated ones.
pub fn seeded_ids(seed: &str) -> impl FnMut() -> String {
    let base = fnv(seed.as_bytes());
    let mut n: u64 = 0;
    move || {
        n = n.wrapping_add(1);
        let hi = mix(base ^ mix(n));
        let lo = mix(hi ^ base.rotate_left(17) ^ n);
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            hi >> 32,
            (hi >> 16) & 0xffff,
            hi & 0x0fff,
            ((lo >> 48) & 0x3fff) | 0x8000,
            lo & 0xffff_ffff_ffff
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_distinct() {
        let mut a = seeded_ids("eval-1");
        let mut b = seeded_ids("eval-1");
        let mut c = seeded_ids("eval-2");
        let first = a();
        assert_eq!(first, b());
        assert_ne!(first, c());
        assert_ne!(first, a());
        assert_eq!(first.len(), 36);
        assert_eq!(&first[14..15], "4");
        let mut seen = std::collections::HashSet::new();
        let mut g = seeded_ids("x");
        for _ in 0..10_000 {
            assert!(seen.insert(g()));
        }
    }
}
