//! Compact maps for the hot parts of an allocation's placement metrics
//! (and for a job summary's groups).
//!
//! A cluster holds one placement metric per allocation, a million of them
//! at C1M scale, and one summary per job, and most of their maps are empty
//! or tiny. `BTreeMap`
//! allocates a node for eleven entries as soon as it holds one, so these
//! types keep entries in sorted vectors instead, and serialize exactly as
//! a `BTreeMap` would (a JSON object in key order; `null` when empty under
//! [`crate::serde_util::nullable`]):
//!
//! * [`VecMap`]: a sorted vector behind an `Arc`, shared on clone and copied
//!   on write, 8 bytes inline and nothing on the heap when empty — one
//!   `NodesAvailable` map serves every placement of an evaluation;
//! * [`ScoreMap`]: per-scorer scores of one node, Nomad's scorer names
//!   stored as bits and the non-zero values inline, 24 bytes and no heap in
//!   the common case.

use std::borrow::Borrow;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Index;
use std::sync::Arc;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::serde_util::IsEmpty;

/// A small map kept as a vector sorted by key, shared on clone (`Arc`,
/// copy-on-write). Lookups are binary searches; inserts are O(n), which is
/// what maps of a handful of entries want.
pub struct VecMap<K, V>(Option<Arc<Vec<(K, V)>>>);

impl<K, V> VecMap<K, V> {
    /// An empty map (no allocation).
    pub const fn new() -> Self {
        VecMap(None)
    }

    fn entries(&self) -> &[(K, V)] {
        self.0.as_deref().map_or(&[], Vec::as_slice)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    /// True when the map holds nothing.
    pub fn is_empty(&self) -> bool {
        self.entries().is_empty()
    }

    /// Entries in key order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&K, &V)> + '_ {
        self.entries().iter().map(|(k, v)| (k, v))
    }

    /// Keys in order.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &K> + '_ {
        self.entries().iter().map(|(k, _)| k)
    }

    /// Values in key order.
    pub fn values(&self) -> impl ExactSizeIterator<Item = &V> + '_ {
        self.entries().iter().map(|(_, v)| v)
    }

    /// Whether two maps share their storage (clones of one another that
    /// neither has changed since).
    pub fn shares_storage(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl<K: Ord, V> VecMap<K, V> {
    fn position<Q>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.entries()
            .binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    /// The value under `key`.
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let at = self.position(key).ok()?;
        Some(&self.entries()[at].1)
    }

    /// Whether `key` is present.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.position(key).is_ok()
    }
}

impl<K: Ord + Clone, V: Clone> VecMap<K, V> {
    fn entries_mut(&mut self) -> &mut Vec<(K, V)> {
        Arc::make_mut(self.0.get_or_insert_with(Default::default))
    }

    /// The value under `key`, for changing (copies shared storage first).
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let at = self.position(key).ok()?;
        Some(&mut self.entries_mut()[at].1)
    }

    /// Sets `key` to `value`, returning the previous value.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.position(&key) {
            Ok(at) => Some(std::mem::replace(&mut self.entries_mut()[at].1, value)),
            Err(at) => {
                self.entries_mut().insert(at, (key, value));
                None
            }
        }
    }

    /// The value under `key`, inserting `make()` first when absent (the
    /// `entry(key).or_insert_with(make)` of `BTreeMap`).
    pub fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        let at = match self.position(&key) {
            Ok(at) => at,
            Err(at) => {
                self.entries_mut().insert(at, (key, make()));
                at
            }
        };
        &mut self.entries_mut()[at].1
    }
}

impl<K: Ord + Clone, V: Clone + Default> VecMap<K, V> {
    /// The value under `key`, inserting the default first when absent.
    pub fn get_or_default(&mut self, key: K) -> &mut V {
        self.get_or_insert_with(key, V::default)
    }
}

impl<K, V> Clone for VecMap<K, V> {
    fn clone(&self) -> Self {
        VecMap(self.0.clone())
    }
}

impl<K, V> Default for VecMap<K, V> {
    fn default() -> Self {
        VecMap(None)
    }
}

impl<K: PartialEq, V: PartialEq> PartialEq for VecMap<K, V> {
    fn eq(&self, other: &Self) -> bool {
        self.entries() == other.entries()
    }
}

impl<K: Eq, V: Eq> Eq for VecMap<K, V> {}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for VecMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K, V, Q> Index<&Q> for VecMap<K, V>
where
    K: Ord + Borrow<Q>,
    Q: Ord + ?Sized,
{
    type Output = V;

    /// The value under `key`; panics when absent, like `BTreeMap`'s index.
    fn index(&self, key: &Q) -> &V {
        self.get(key).expect("no entry found for key")
    }
}

impl<K: Ord, V> FromIterator<(K, V)> for VecMap<K, V> {
    /// Later duplicates win, as when inserting one by one.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut entries: Vec<(K, V)> = iter.into_iter().collect();
        if entries.is_empty() {
            return VecMap(None);
        }
        entries.reverse();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries.dedup_by(|later, earlier| later.0 == earlier.0);
        VecMap(Some(Arc::new(entries)))
    }
}

impl<K: Ord, V> From<std::collections::BTreeMap<K, V>> for VecMap<K, V> {
    fn from(map: std::collections::BTreeMap<K, V>) -> Self {
        if map.is_empty() {
            return VecMap(None);
        }
        VecMap(Some(Arc::new(map.into_iter().collect())))
    }
}

impl<'a, K, V> IntoIterator for &'a VecMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = std::iter::Map<std::slice::Iter<'a, (K, V)>, fn(&'a (K, V)) -> (&'a K, &'a V)>;

    fn into_iter(self) -> Self::IntoIter {
        fn pair<K, V>((k, v): &(K, V)) -> (&K, &V) {
            (k, v)
        }
        self.entries()
            .iter()
            .map(pair as fn(&'a (K, V)) -> (&'a K, &'a V))
    }
}

impl<K, V> IsEmpty for VecMap<K, V> {
    fn is_empty_container(&self) -> bool {
        self.is_empty()
    }
    /// Shrinks the vector when this map alone holds it.
    fn fit(&mut self) {
        if let Some(v) = self.0.as_mut().and_then(Arc::get_mut) {
            v.shrink_to_fit();
        }
    }
}

impl<K: Serialize, V: Serialize> Serialize for VecMap<K, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.len()))?;
        for (k, v) in self.iter() {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de, K, V> Deserialize<'de> for VecMap<K, V>
where
    K: Deserialize<'de> + Ord,
    V: Deserialize<'de>,
{
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V2<K, V>(PhantomData<(K, V)>);
        impl<'de, K, V> Visitor<'de> for V2<K, V>
        where
            K: Deserialize<'de> + Ord,
            V: Deserialize<'de>,
        {
            type Value = VecMap<K, V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::with_capacity(access.size_hint().unwrap_or(0).min(64));
                while let Some(entry) = access.next_entry::<K, V>()? {
                    entries.push(entry);
                }
                Ok(entries.into_iter().collect())
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(VecMap::new())
            }
        }
        d.deserialize_map(V2(PhantomData))
    }
}

/// Nomad's scorer names, in key order.
pub const SCORERS: [&str; 7] = [
    "allocation-spread",
    "binpack",
    "devices",
    "job-anti-affinity",
    "node-affinity",
    "node-reschedule-penalty",
    "preemption",
];

/// How many non-zero values a [`ScoreMap`] keeps inline.
const INLINE_VALUES: usize = 2;

/// One node's score per scorer (`ScoreMetaData[].Scores`).
///
/// Nomad's scorers are stored as presence bits; values other than `+0.0`
/// (most scorers score 0 on most nodes) sit inline, two at most, so a
/// typical row (`binpack` plus three zeros) takes 24 bytes and no heap.
/// Other names, or more non-zero values, move the map to a sorted vector
/// on the heap. Iterates and serializes in key order, like a `BTreeMap`.
#[derive(Clone)]
pub struct ScoreMap(Repr);

#[derive(Clone)]
enum Repr {
    /// `present` and `nonzero` are bit sets over [`SCORERS`]; `values` holds
    /// the non-zero values in scorer order.
    Packed {
        present: u8,
        nonzero: u8,
        values: [f64; INLINE_VALUES],
    },
    /// Sorted by name. Boxed so the map stays 24 bytes (a bare `Vec` would
    /// make every row 8 bytes larger for the rare case).
    #[allow(clippy::box_collection)]
    Spilled(Box<Vec<(String, f64)>>),
}

const ZERO: &f64 = &0.0;

fn is_zero(v: f64) -> bool {
    v.to_bits() == 0
}

fn known(name: &str) -> Option<usize> {
    SCORERS.binary_search(&name).ok()
}

impl ScoreMap {
    /// An empty map.
    pub const fn new() -> Self {
        ScoreMap(Repr::Packed {
            present: 0,
            nonzero: 0,
            values: [0.0; INLINE_VALUES],
        })
    }

    /// A map of Nomad's scorers only: bit `i` of `present` says that
    /// `SCORERS[i]` has a score, which is `values[i]`. The fast way to
    /// build a row (no name lookups).
    pub fn from_scorers(present: u8, values: &[f64; SCORERS.len()]) -> Self {
        let present = present & ((1u8 << SCORERS.len()) - 1);
        let mut nonzero = 0u8;
        let mut packed = [0.0; INLINE_VALUES];
        let mut n = 0;
        for (i, &v) in values.iter().enumerate() {
            if present & (1 << i) == 0 || is_zero(v) {
                continue;
            }
            if n == INLINE_VALUES {
                return (0..SCORERS.len())
                    .filter(|i| present & (1 << i) != 0)
                    .map(|i| (SCORERS[i], values[i]))
                    .collect();
            }
            nonzero |= 1 << i;
            packed[n] = v;
            n += 1;
        }
        ScoreMap(Repr::Packed {
            present,
            nonzero,
            values: packed,
        })
    }

    /// Number of scores.
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Packed { present, .. } => present.count_ones() as usize,
            Repr::Spilled(v) => v.len(),
        }
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The score of `scorer`.
    pub fn get(&self, scorer: &str) -> Option<&f64> {
        match &self.0 {
            Repr::Packed {
                present,
                nonzero,
                values,
            } => {
                let i = known(scorer)?;
                if present & (1 << i) == 0 {
                    return None;
                }
                if nonzero & (1 << i) == 0 {
                    return Some(ZERO);
                }
                let rank = (nonzero & ((1u8 << i) - 1)).count_ones() as usize;
                values.get(rank)
            }
            Repr::Spilled(v) => v
                .binary_search_by(|(k, _)| k.as_str().cmp(scorer))
                .ok()
                .map(|at| &v[at].1),
        }
    }

    /// Whether `scorer` has a score.
    pub fn contains_key(&self, scorer: &str) -> bool {
        self.get(scorer).is_some()
    }

    /// Sets the score of `scorer`, returning the previous one.
    pub fn insert(&mut self, scorer: &str, value: f64) -> Option<f64> {
        let previous = self.get(scorer).copied();
        if let (
            Repr::Packed {
                present,
                nonzero,
                values,
            },
            Some(i),
        ) = (&mut self.0, known(scorer))
        {
            let bit = 1u8 << i;
            let new_nonzero = if is_zero(value) {
                *nonzero & !bit
            } else {
                *nonzero | bit
            };
            if new_nonzero.count_ones() as usize <= INLINE_VALUES {
                let mut packed = [0.0; INLINE_VALUES];
                let mut n = 0;
                for j in 0..SCORERS.len() {
                    let b = 1u8 << j;
                    if new_nonzero & b == 0 {
                        continue;
                    }
                    packed[n] = if j == i {
                        value
                    } else {
                        let rank = (*nonzero & (b - 1)).count_ones() as usize;
                        values[rank]
                    };
                    n += 1;
                }
                *present |= bit;
                *nonzero = new_nonzero;
                *values = packed;
                return previous;
            }
        }
        let mut list = match std::mem::replace(&mut self.0, Repr::Spilled(Box::default())) {
            Repr::Spilled(list) => *list,
            packed => ScoreMap(packed)
                .iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        };
        match list.binary_search_by(|(k, _)| k.as_str().cmp(scorer)) {
            Ok(at) => list[at].1 = value,
            Err(at) => list.insert(at, (scorer.to_string(), value)),
        }
        self.0 = Repr::Spilled(Box::new(list));
        previous
    }

    /// Scores in scorer-name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, f64)> + '_ {
        let packed = match &self.0 {
            Repr::Packed { present, .. } => Some(*present),
            Repr::Spilled(_) => None,
        };
        let spilled = match &self.0 {
            Repr::Spilled(v) => v.as_slice(),
            Repr::Packed { .. } => &[],
        };
        (0..SCORERS.len())
            .filter(move |&i| packed.is_some_and(|p| p & (1 << i) != 0))
            .map(move |i| (SCORERS[i], self.get(SCORERS[i]).copied().unwrap_or(0.0)))
            .chain(spilled.iter().map(|(k, v)| (k.as_str(), *v)))
    }

    /// Scorer names in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> + '_ {
        self.iter().map(|(k, _)| k)
    }

    /// Scores in scorer-name order.
    pub fn values(&self) -> impl Iterator<Item = f64> + '_ {
        self.iter().map(|(_, v)| v)
    }
}

impl<'a> IntoIterator for &'a ScoreMap {
    type Item = (&'a str, f64);
    type IntoIter = Box<dyn Iterator<Item = (&'a str, f64)> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

impl Default for ScoreMap {
    fn default() -> Self {
        ScoreMap::new()
    }
}

impl PartialEq for ScoreMap {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl fmt::Debug for ScoreMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Index<&str> for ScoreMap {
    type Output = f64;

    /// The score of `scorer`; panics when absent, like `BTreeMap`'s index.
    fn index(&self, scorer: &str) -> &f64 {
        self.get(scorer).expect("no score for scorer")
    }
}

impl<'a> FromIterator<(&'a str, f64)> for ScoreMap {
    fn from_iter<I: IntoIterator<Item = (&'a str, f64)>>(iter: I) -> Self {
        let mut m = ScoreMap::new();
        for (k, v) in iter {
            m.insert(k, v);
        }
        m
    }
}

impl FromIterator<(String, f64)> for ScoreMap {
    fn from_iter<I: IntoIterator<Item = (String, f64)>>(iter: I) -> Self {
        let mut m = ScoreMap::new();
        for (k, v) in iter {
            m.insert(&k, v);
        }
        m
    }
}

impl From<std::collections::BTreeMap<String, f64>> for ScoreMap {
    fn from(map: std::collections::BTreeMap<String, f64>) -> Self {
        map.into_iter().collect()
    }
}

impl IsEmpty for ScoreMap {
    fn is_empty_container(&self) -> bool {
        self.is_empty()
    }
}

impl Serialize for ScoreMap {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.len()))?;
        for (k, v) in self.iter() {
            map.serialize_entry(k, &v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for ScoreMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let entries: VecMap<String, f64> = VecMap::deserialize(d)?;
        Ok(entries.iter().map(|(k, v)| (k.as_str(), *v)).collect())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn vec_map_behaves_like_a_btree_map() {
        let mut m: VecMap<String, i64> = VecMap::new();
        let mut b: BTreeMap<String, i64> = BTreeMap::new();
        for (k, v) in [("memory", 2), ("cpu", 1), ("disk", 3), ("cpu", 4)] {
            assert_eq!(m.insert(k.into(), v), b.insert(k.into(), v));
        }
        *m.get_or_default("ports".into()) += 5;
        *b.entry("ports".into()).or_default() += 5;
        assert_eq!(m.iter().collect::<Vec<_>>(), b.iter().collect::<Vec<_>>());
        assert_eq!(m["cpu"], 4);
        assert_eq!(m.get("gpu"), None);
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            serde_json::to_string(&b).unwrap()
        );
        let back: VecMap<String, i64> = serde_json::from_str(r#"{"b":2,"a":1}"#).unwrap();
        assert_eq!(back.keys().collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn vec_map_clones_share_until_written() {
        let a: VecMap<String, i64> = [("dc1".to_string(), 3)].into_iter().collect();
        let mut b = a.clone();
        assert!(a.shares_storage(&b));
        b.insert("dc2".into(), 1);
        assert!(!a.shares_storage(&b));
        assert_eq!(a.len(), 1);
        assert_eq!(b.len(), 2);
    }

    #[test]
    fn score_map_matches_btree_map_json_and_order() {
        let cases: Vec<Vec<(&str, f64)>> = vec![
            vec![],
            vec![("binpack", 0.5)],
            vec![
                ("binpack", 0.91),
                ("job-anti-affinity", 0.0),
                ("node-reschedule-penalty", 0.0),
                ("node-affinity", 0.0),
            ],
            vec![
                ("binpack", 0.3),
                ("job-anti-affinity", -0.25),
                ("node-affinity", 0.5),
            ],
            vec![
                ("binpack", 0.3),
                ("custom", 1.0),
                ("allocation-spread", -0.0),
            ],
            vec![("preemption", -1.0), ("binpack", 0.1), ("preemption", 0.0)],
        ];
        for case in cases {
            let m: ScoreMap = case.iter().copied().collect();
            let b: BTreeMap<String, f64> = case.iter().map(|(k, v)| (k.to_string(), *v)).collect();
            assert_eq!(
                serde_json::to_string(&m).unwrap(),
                serde_json::to_string(&b).unwrap(),
                "{case:?}"
            );
            assert_eq!(m.len(), b.len());
            for (k, v) in &b {
                assert_eq!(m.get(k).map(|x| x.to_bits()), Some(v.to_bits()), "{k}");
            }
            let back: ScoreMap = serde_json::from_str(&serde_json::to_string(&b).unwrap()).unwrap();
            assert_eq!(back, m);
        }
        assert_eq!(std::mem::size_of::<ScoreMap>(), 24);
        let mut values = [0.0; 7];
        values[1] = 0.5;
        values[3] = -0.2;
        values[6] = 0.1;
        let by_bits = ScoreMap::from_scorers(0b100_1011, &values);
        let by_name: ScoreMap = [
            ("allocation-spread", 0.0),
            ("binpack", 0.5),
            ("job-anti-affinity", -0.2),
            ("preemption", 0.1),
        ]
        .into_iter()
        .collect();
        assert_eq!(by_bits, by_name);
        assert_eq!(
            ScoreMap::from_scorers(0b10, &values).get("binpack"),
            Some(&0.5)
        );
        assert_eq!(std::mem::size_of::<VecMap<String, i64>>(), 8);
    }
}
