//! Choosing allocation names (`<job>.<group>[<index>]`) for new placements
//! and for stops.
//!
//! Nomad keeps names dense: new allocations take the lowest free indexes
//! below the group's count, scale-downs stop the highest indexes first, and
//! canaries prefer the indexes of the allocations they will replace. The
//! index set is kept in a sorted set rather than a bitmap so that a
//! malformed huge index cannot blow up memory.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use nomad_types::Allocation;

use crate::allocs::{alloc_name, index_of};

/// Tracks which name indexes of one group are taken.
#[derive(Debug, Clone)]
pub struct AllocNameIndex {
    job_id: String,
    group: String,
    count: u64,
    used: BTreeSet<u64>,
    /// Extra holders of an already used index.
    duplicates: BTreeMap<u64, usize>,
}

impl AllocNameIndex {
    /// An index for a group of `count` seeded with the names of `allocs`.
    pub fn new<'a, I>(job_id: &str, group: &str, count: u64, allocs: I) -> Self
    where
        I: IntoIterator<Item = &'a Arc<Allocation>>,
    {
        let mut idx = AllocNameIndex {
            job_id: job_id.to_string(),
            group: group.to_string(),
            count,
            used: BTreeSet::new(),
            duplicates: BTreeMap::new(),
        };
        for a in allocs {
            let i = index_of(a);
            if !idx.used.insert(i) {
                *idx.duplicates.entry(i).or_default() += 1;
            }
        }
        idx
    }

    fn name(&self, index: u64) -> String {
        alloc_name(&self.job_id, &self.group, index)
    }

    /// Whether more than one tracked allocation holds `index`.
    pub fn is_duplicate(&self, index: u64) -> bool {
        self.duplicates.get(&index).is_some_and(|&n| n > 0)
    }

    /// Whether `index` is taken.
    pub fn is_used(&self, index: u64) -> bool {
        self.used.contains(&index)
    }

    /// Releases and returns the `n` highest used names.
    pub fn highest(&mut self, n: usize) -> HashSet<String> {
        let picked: Vec<u64> = self.used.iter().rev().take(n).copied().collect();
        let mut out = HashSet::with_capacity(picked.len());
        for i in picked {
            self.used.remove(&i);
            out.insert(self.name(i));
        }
        out
    }

    /// Releases one holder of `index`.
    pub fn unset_index(&mut self, index: u64) {
        match self.duplicates.get_mut(&index) {
            Some(n) => {
                *n -= 1;
                if *n == 0 {
                    self.duplicates.remove(&index);
                }
            }
            None => {
                self.used.remove(&index);
            }
        }
    }

    /// Free indexes below the count, lowest first.
    fn free_below_count(&self) -> impl Iterator<Item = u64> + '_ {
        (0..self.count).filter(|i| !self.used.contains(i))
    }

    /// Takes `n` names for new placements: free indexes below the count
    /// first, then (when the group is over-full) indexes from 0 upward again.
    pub fn next(&mut self, n: usize) -> Vec<String> {
        let mut out = Vec::with_capacity(n);
        let free: Vec<u64> = self.free_below_count().take(n).collect();
        for i in free {
            self.used.insert(i);
            out.push(self.name(i));
        }
        let mut i = 0u64;
        while out.len() < n {
            self.used.insert(i);
            out.push(self.name(i));
            i += 1;
        }
        out
    }

    /// Takes `n` names for canaries. Preference: indexes of allocations
    /// about to be replaced (`destructive`), then free indexes, both below
    /// the count and not already used by a canary; then indexes just past
    /// the count so that surplus canaries do not collide.
    pub fn next_canaries<'a>(
        &mut self,
        n: usize,
        existing_canaries: impl IntoIterator<Item = &'a Arc<Allocation>>,
        destructive: impl IntoIterator<Item = &'a Arc<Allocation>>,
    ) -> Vec<String> {
        let mut out = Vec::with_capacity(n);
        if n == 0 {
            return out;
        }
        let taken: HashSet<&str> = existing_canaries
            .into_iter()
            .map(|a| a.name.as_str())
            .collect();
        let replacing: BTreeSet<u64> = destructive
            .into_iter()
            .map(|a| index_of(a))
            .filter(|&i| i < self.count)
            .collect();
        for i in replacing {
            let name = self.name(i);
            if !taken.contains(name.as_str()) {
                self.used.insert(i);
                out.push(name);
                if out.len() == n {
                    return out;
                }
            }
        }
        let mut i = 0u64;
        while i < self.count {
            if !self.used.contains(&i) {
                let name = self.name(i);
                if !taken.contains(name.as_str()) {
                    self.used.insert(i);
                    out.push(name);
                    if out.len() == n {
                        return out;
                    }
                }
            }
            i += 1;
        }
        let remainder = (n - out.len()) as u64;
        for i in self.count..self.count.saturating_add(remainder) {
            out.push(self.name(i));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alloc(name: &str) -> Arc<Allocation> {
        Arc::new(Allocation {
            id: name.to_string(),
            name: name.to_string(),
            ..Allocation::default()
        })
    }

    #[test]
    fn next_fills_holes_then_overlaps() {
        let allocs = [alloc("j.g[0]"), alloc("j.g[2]")];
        let mut idx = AllocNameIndex::new("j", "g", 4, allocs.iter());
        assert_eq!(idx.next(3), vec!["j.g[1]", "j.g[3]", "j.g[0]"]);
    }

    #[test]
    fn highest_and_duplicates() {
        let allocs = [
            alloc("j.g[0]"),
            alloc("j.g[5]"),
            alloc("j.g[5]"),
            alloc("j.g[1]"),
        ];
        let mut idx = AllocNameIndex::new("j", "g", 2, allocs.iter());
        assert!(idx.is_duplicate(5));
        idx.unset_index(5);
        assert!(!idx.is_duplicate(5));
        assert!(idx.is_used(5));
        let h = idx.highest(2);
        assert!(h.contains("j.g[5]") && h.contains("j.g[1]"));
        assert_eq!(idx.next(1), vec!["j.g[1]"]);
    }

    #[test]
    fn canaries_prefer_replaced_indexes_then_spill_past_count() {
        let allocs = [alloc("j.g[0]"), alloc("j.g[1]"), alloc("j.g[2]")];
        let mut idx = AllocNameIndex::new("j", "g", 3, allocs.iter());
        let destructive = [allocs[1].clone()];
        let got = idx.next_canaries(3, [].iter(), destructive.iter());
        assert_eq!(got, vec!["j.g[1]", "j.g[3]", "j.g[4]"]);
    }

    #[test]
    fn huge_index_is_harmless() {
        let allocs = [alloc("j.g[18446744073709551615]")];
        let mut idx = AllocNameIndex::new("j", "g", 1, allocs.iter());
        assert_eq!(idx.next(1), vec!["j.g[0]"]);
        assert_eq!(idx.highest(5).len(), 2);
    }
}
