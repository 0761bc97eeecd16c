//! Deterministic randomness for one evaluation.
//!
//! The scheduler owns no entropy source: every random choice (the node
//! shuffle, dynamic port picks) draws from an [`Rng`] built from a seed the
//! caller passes in, so replaying an evaluation with the same seed and the
//! same snapshot gives the same plan.
//!
//! The generator is SplitMix64 (Steele, Lea and Flood, "Fast splittable
//! pseudorandom number generators", OOPSLA 2014): one 64-bit word of state,
//! a few arithmetic instructions per draw, and good statistical quality for
//! shuffles and sampling. It is not cryptographic and does not need to be.
//!
//! Nomad seeds Go's `math/rand` from the evaluation; this crate keeps the
//! same seed derivation ([`shuffle_seed`]) and the same Fisher-Yates walk
//! ([`shuffle`]), but the random stream itself is ours, so the exact node
//! order differs from Nomad's for the same evaluation ID.

/// Increment of the SplitMix64 state (the 64-bit golden ratio).
const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// A small, fast, seedable pseudo-random generator (SplitMix64).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator whose whole future output is fixed by `seed`.
    pub const fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 uniformly distributed bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN_GAMMA);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniformly distributed integer in `0..n`; `0` when `n` is `0`.
    ///
    /// Uses Lemire's multiply-and-reject method, so there is no modulo bias
    /// and almost never a second draw.
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        let mut product = u128::from(self.next_u64()) * u128::from(n);
        let mut low = product as u64;
        if low < n {
            // Values of `low` under this threshold would over-represent some
            // outputs; draw again for them.
            let threshold = n.wrapping_neg() % n;
            while low < threshold {
                product = u128::from(self.next_u64()) * u128::from(n);
                low = product as u64;
            }
        }
        (product >> 64) as u64
    }

    /// [`Rng::below`] for slice indexes.
    #[inline]
    pub fn below_usize(&mut self, n: usize) -> usize {
        // usize is at most 64 bits on every supported target, so both
        // conversions are lossless.
        self.below(n as u64) as usize
    }

    /// A uniformly distributed float in `[0, 1)` with 53 bits of precision.
    #[inline]
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A new generator whose stream does not overlap this one's in practice;
    /// useful to give each task group or each node its own stream while the
    /// evaluation stays reproducible.
    pub fn fork(&mut self) -> Rng {
        Rng::new(self.next_u64())
    }
}

/// Shuffles `items` in place with the Fisher-Yates walk Nomad uses: from the
/// last position down to the second, swap each item with one at a uniformly
/// chosen position at or before it.
pub fn shuffle<T>(rng: &mut Rng, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = rng.below_usize(i + 1);
        items.swap(i, j);
    }
}

/// The seed Nomad derives for an evaluation's node shuffle.
///
/// Nomad takes the last eight bytes of the evaluation ID (the random part of
/// a UUID) as a big-endian integer, XORs in a Raft index (the snapshot's
/// latest index, or the plan result's refresh index on a retry, so that a
/// retried plan sees a different order) and shifts the result right by two.
/// An ID shorter than eight bytes is zero-padded on the left; Nomad itself
/// would fail on such an ID.
pub fn shuffle_seed(eval_id: &str, index: u64) -> u64 {
    let bytes = eval_id.as_bytes();
    let tail = &bytes[bytes.len().saturating_sub(8)..];
    let mut word = [0u8; 8];
    word[8 - tail.len()..].copy_from_slice(tail);
    (u64::from_be_bytes(word) ^ index) >> 2
}

/// Shuffles the candidate nodes of an evaluation the way Nomad's generic
/// stack does before walking them: seeded by [`shuffle_seed`], then
/// [`shuffle`].
pub fn shuffle_nodes<T>(eval_id: &str, index: u64, nodes: &mut [T]) {
    let mut rng = Rng::new(shuffle_seed(eval_id, index));
    shuffle(&mut rng, nodes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_reference_values() {
        // Reference outputs of SplitMix64 seeded with 1234567 (from the
        // generator's published test vectors).
        let mut rng = Rng::new(1_234_567);
        let expected: [u64; 5] = [
            6_457_827_717_110_365_317,
            3_203_168_211_198_807_973,
            9_817_491_932_198_370_423,
            4_593_380_528_125_082_431,
            16_408_922_859_458_223_821,
        ];
        for want in expected {
            assert_eq!(rng.next_u64(), want);
        }
    }

    #[test]
    fn same_seed_same_stream() {
        let mut a = Rng::new(42);
        let mut b = Rng::new(42);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        let mut c = Rng::new(43);
        assert_ne!(Rng::new(42).next_u64(), c.next_u64());
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut rng = Rng::new(7);
        assert_eq!(rng.below(0), 0);
        assert_eq!(rng.below(1), 0);
        let mut seen = [0u32; 10];
        for _ in 0..10_000 {
            let v = rng.below(10) as usize;
            assert!(v < 10);
            seen[v] += 1;
        }
        // Each bucket expects 1000; allow a wide margin.
        assert!(seen.iter().all(|&n| (800..1200).contains(&n)), "{seen:?}");
        // Huge bounds work too.
        for _ in 0..1000 {
            assert!(rng.below(u64::MAX) < u64::MAX);
        }
    }

    #[test]
    fn next_f64_is_in_unit_interval() {
        let mut rng = Rng::new(99);
        for _ in 0..10_000 {
            let f = rng.next_f64();
            assert!((0.0..1.0).contains(&f));
        }
    }

    #[test]
    fn shuffle_is_a_permutation_and_deterministic() {
        let mut a: Vec<u32> = (0..100).collect();
        let mut b = a.clone();
        shuffle(&mut Rng::new(5), &mut a);
        shuffle(&mut Rng::new(5), &mut b);
        assert_eq!(a, b);
        assert_ne!(a, (0..100).collect::<Vec<_>>());
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());

        // Empty and single-element slices are fine.
        shuffle(&mut Rng::new(1), &mut [] as &mut [u8]);
        let mut one = [9];
        shuffle(&mut Rng::new(1), &mut one);
        assert_eq!(one, [9]);
    }

    #[test]
    fn shuffle_is_roughly_uniform() {
        // Every one of the 6 orders of 3 items should appear about equally.
        let mut rng = Rng::new(2024);
        let mut counts = std::collections::HashMap::new();
        for _ in 0..60_000 {
            let mut v = [0u8, 1, 2];
            shuffle(&mut rng, &mut v);
            *counts.entry(v).or_insert(0u32) += 1;
        }
        assert_eq!(counts.len(), 6);
        assert!(
            counts.values().all(|&n| (9_000..11_000).contains(&n)),
            "{counts:?}"
        );
    }

    #[test]
    fn shuffle_seed_uses_last_eight_bytes_and_index() {
        let id = "9c3b1a8e-6f0a-4d5e-8a4b-0123456789ab";
        let tail = u64::from_be_bytes(*b"456789ab");
        assert_eq!(shuffle_seed(id, 0), tail >> 2);
        assert_eq!(shuffle_seed(id, 0xff), (tail ^ 0xff) >> 2);
        // A different index gives a different seed (a retried plan reshuffles).
        assert_ne!(shuffle_seed(id, 10), shuffle_seed(id, 11 << 2));
        // Short IDs do not panic.
        assert_eq!(shuffle_seed("", 0), 0);
        assert_eq!(
            shuffle_seed("ab", 0),
            u64::from(u16::from_be_bytes(*b"ab")) >> 2
        );
    }

    #[test]
    fn shuffle_nodes_depends_on_eval_and_index() {
        let base: Vec<u32> = (0..50).collect();
        let run = |id: &str, idx: u64| {
            let mut v = base.clone();
            shuffle_nodes(id, idx, &mut v);
            v
        };
        let id = "9c3b1a8e-6f0a-4d5e-8a4b-0123456789ab";
        assert_eq!(run(id, 7), run(id, 7));
        assert_ne!(run(id, 7), run(id, 8 << 2));
        assert_ne!(
            run(id, 7),
            run("9c3b1a8e-6f0a-4d5e-8a4b-0123456789ac", 7 ^ 4)
        );
    }
}
