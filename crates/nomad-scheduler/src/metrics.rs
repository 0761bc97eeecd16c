//! Placement metrics, collected without allocating on the hot path and
//! turned into Nomad's [`AllocMetric`] once per placement.
//!
//! Reasons, dimensions and node classes are counted by interned ID; the
//! five best-scoring nodes are kept in a small array with their per-scorer
//! values. Scorer names and reason strings are Nomad's.

use nomad_types::alloc::{ScoreMap, VecMap, SCORERS};
use nomad_types::{AllocMetric, NodeScoreMeta};

use crate::nodes::NodeTable;
use crate::util::Interner;

/// How many top-scoring nodes a metric keeps (Nomad's
/// `MaxRetainedNodeScores`).
pub const MAX_RETAINED_NODE_SCORES: usize = 5;

/// The scorers whose values appear in `ScoreMetaData`, in Nomad's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub(crate) enum Scorer {
    Binpack = 0,
    Devices,
    JobAntiAffinity,
    ReschedulePenalty,
    NodeAffinity,
    Spread,
    Preemption,
}

#[cfg(test)]
const SCORER_NAMES: [&str; 7] = [
    "binpack",
    "devices",
    "job-anti-affinity",
    "node-reschedule-penalty",
    "node-affinity",
    "allocation-spread",
    "preemption",
];

/// Where each of [`SCORER_NAMES`] sits in Nomad's alphabetical
/// [`SCORERS`].
const SCORER_SLOT: [usize; 7] = [1, 2, 3, 5, 4, 0, 6];

/// A score row as Nomad's per-scorer map.
fn score_map(row: &ScoreRow) -> ScoreMap {
    let mut present = 0u8;
    let mut values = [0.0; SCORERS.len()];
    for (i, &slot) in SCORER_SLOT.iter().enumerate() {
        if row.present & (1 << i) != 0 {
            present |= 1 << slot;
            values[slot] = row.values[i];
        }
    }
    ScoreMap::from_scorers(present, &values)
}

/// Per-scorer values of one node.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct ScoreRow {
    pub slot: u32,
    pub values: [f64; 7],
    pub present: u8,
    pub norm: f64,
}

impl ScoreRow {
    pub(crate) fn new(slot: u32) -> Self {
        ScoreRow {
            slot,
            ..ScoreRow::default()
        }
    }

    #[inline]
    pub(crate) fn set(&mut self, scorer: Scorer, value: f64) {
        let i = scorer as usize;
        self.values[i] = value;
        self.present |= 1 << i;
    }
}

/// The largest free amount of a dimension seen on an exhausted node.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Closest {
    pub slot: u32,
    pub free: i64,
    pub seen: bool,
}

/// Metrics of one selection.
#[derive(Clone, Debug, Default)]
pub(crate) struct SelectMetrics {
    pub evaluated: u32,
    pub filtered: u32,
    pub exhausted: u32,
    class_filtered: Vec<(u32, u32)>,
    constraint_filtered: Vec<(u32, u32)>,
    class_exhausted: Vec<(u32, u32)>,
    dimension_exhausted: Vec<(u32, u32)>,
    top: Vec<ScoreRow>,
    /// Best free cpu, memory, disk among exhausted nodes (for
    /// explanations).
    pub closest: [Closest; 3],
}

fn bump(list: &mut Vec<(u32, u32)>, id: u32) {
    match list.iter_mut().find(|(k, _)| *k == id) {
        Some(entry) => entry.1 += 1,
        None => list.push((id, 1)),
    }
}

impl SelectMetrics {
    /// Clears for a new selection, keeping capacity.
    pub(crate) fn reset(&mut self) {
        self.evaluated = 0;
        self.filtered = 0;
        self.exhausted = 0;
        self.class_filtered.clear();
        self.constraint_filtered.clear();
        self.class_exhausted.clear();
        self.dimension_exhausted.clear();
        self.top.clear();
        self.closest = [Closest::default(); 3];
    }

    /// A node was filtered by `reason` (`u32::MAX`: no reason recorded);
    /// `class` is its interned node class (`u32::MAX` when empty).
    #[inline]
    pub(crate) fn filter(&mut self, class: u32, reason: u32) {
        self.filtered += 1;
        if class != u32::MAX {
            bump(&mut self.class_filtered, class);
        }
        if reason != u32::MAX {
            bump(&mut self.constraint_filtered, reason);
        }
    }

    /// A node lacked `dimension` (an interned label).
    #[inline]
    pub(crate) fn exhaust(&mut self, class: u32, dimension: u32) {
        self.exhausted += 1;
        if class != u32::MAX {
            bump(&mut self.class_exhausted, class);
        }
        if dimension != u32::MAX {
            bump(&mut self.dimension_exhausted, dimension);
        }
    }

    /// Notes how much of dimension `dim` (0 cpu, 1 memory, 2 disk) an
    /// exhausted node had free.
    pub(crate) fn note_free(&mut self, dim: usize, slot: u32, free: i64) {
        if let Some(c) = self.closest.get_mut(dim) {
            if !c.seen || free > c.free {
                *c = Closest {
                    slot,
                    free,
                    seen: true,
                };
            }
        }
    }

    /// Offers a scored node to the top-five list.
    #[inline]
    pub(crate) fn score(&mut self, row: ScoreRow) {
        if self.top.len() == MAX_RETAINED_NODE_SCORES
            && self.top.last().is_some_and(|last| last.norm >= row.norm)
        {
            return;
        }
        let at = self
            .top
            .iter()
            .position(|r| r.norm < row.norm)
            .unwrap_or(self.top.len());
        self.top.insert(at, row);
        self.top.truncate(MAX_RETAINED_NODE_SCORES);
    }

    /// The dimensions counted so far, by interned label.
    #[cfg(test)]
    pub(crate) fn dimensions(&self) -> &[(u32, u32)] {
        &self.dimension_exhausted
    }

    /// The filter reasons counted so far, by interned label.
    #[cfg(test)]
    pub(crate) fn reasons(&self) -> &[(u32, u32)] {
        &self.constraint_filtered
    }

    /// Nomad's metric for this selection. Count maps equal to one built
    /// earlier in the evaluation are shared with it (`memo`): placements of
    /// one evaluation often filter and exhaust the same classes the same
    /// number of times.
    pub(crate) fn to_alloc_metric<S: crate::State + ?Sized>(
        &self,
        labels: &Interner,
        classes: &Interner,
        table: &mut NodeTable<'_>,
        state: &S,
        memo: &mut MapMemo,
    ) -> AllocMetric {
        AllocMetric {
            nodes_evaluated: i64::from(self.evaluated),
            nodes_filtered: i64::from(self.filtered),
            class_filtered: memo.named(&self.class_filtered, classes, false),
            constraint_filtered: memo.named(&self.constraint_filtered, labels, true),
            nodes_exhausted: i64::from(self.exhausted),
            class_exhausted: memo.named(&self.class_exhausted, classes, false),
            dimension_exhausted: memo.named(&self.dimension_exhausted, labels, true),
            score_meta_data: self
                .top
                .iter()
                .map(|row| NodeScoreMeta {
                    node_id: table.id_ref(row.slot, state),
                    scores: score_map(row),
                    norm_score: row.norm,
                })
                .collect(),
            ..AllocMetric::default()
        }
    }
}

/// A memo key: whether the names come from the label interner (`true`)
/// or the class interner, and the (interned name, count) list.
type MemoKey = (bool, Vec<(u32, u32)>);

/// The count maps of placement metrics built so far in an evaluation, by
/// their (interned name, count) lists.
#[derive(Debug, Default)]
pub(crate) struct MapMemo {
    maps: crate::util::FxHashMap<MemoKey, VecMap<String, i64>>,
}

/// Stop remembering new maps past this many (an evaluation whose counts
/// never repeat should not grow a large memo).
const MAX_MEMO_MAPS: usize = 4096;

impl MapMemo {
    fn named(
        &mut self,
        list: &[(u32, u32)],
        names: &Interner,
        labels: bool,
    ) -> VecMap<String, i64> {
        if list.is_empty() {
            return VecMap::default();
        }
        let key = (labels, list.to_vec());
        if let Some(m) = self.maps.get(&key) {
            return m.clone();
        }
        let m: VecMap<String, i64> = list
            .iter()
            .map(|(id, n)| (names.name(*id).to_string(), i64::from(*n)))
            .collect();
        if self.maps.len() < MAX_MEMO_MAPS {
            self.maps.insert(key, m.clone());
        }
        m
    }
}

/// Adds the requested CPU and memory of a failed group to the metric's
/// per-task `ResourcesExhausted`, as Nomad's `ExhaustResources` does.
pub(crate) fn exhaust_resources(metric: &mut AllocMetric, tg: &nomad_types::TaskGroup) {
    if metric.dimension_exhausted.is_empty() {
        return;
    }
    let memory = metric
        .dimension_exhausted
        .get("memory")
        .copied()
        .unwrap_or(0)
        > 0;
    let cpu = metric.dimension_exhausted.get("cpu").copied().unwrap_or(0) > 0;
    for task in &tg.tasks {
        let entry = metric.resources_exhausted.get_or_default(task.name.clone());
        let ask = task.resources.as_ref();
        if memory {
            let add = ask.and_then(|r| r.memory_mb).unwrap_or(0);
            entry.memory_mb = Some(entry.memory_mb.unwrap_or(0).saturating_add(add));
        }
        if cpu {
            let add = ask.and_then(|r| r.cpu).unwrap_or(0);
            entry.cpu = Some(entry.cpu.unwrap_or(0).saturating_add(add));
        }
    }
}

/// Folds the filtering counts of `curr` into `acc` (Nomad's
/// `mergeNodeFiltered`, used by the system scheduler).
pub(crate) fn merge_filtered(acc: &mut AllocMetric, curr: &AllocMetric) {
    acc.nodes_evaluated += curr.nodes_evaluated;
    acc.nodes_filtered += curr.nodes_filtered;
    for (k, v) in &curr.class_filtered {
        *acc.class_filtered.get_or_default(k.clone()) += v;
    }
    for (k, v) in &curr.constraint_filtered {
        *acc.constraint_filtered.get_or_default(k.clone()) += v;
    }
    acc.allocation_time = nomad_types::Nanos(acc.allocation_time.0 + curr.allocation_time.0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_five_best_in_order() {
        let mut m = SelectMetrics::default();
        for (slot, norm) in [
            (0, 0.1),
            (1, 0.5),
            (2, 0.3),
            (3, 0.9),
            (4, 0.2),
            (5, 0.4),
            (6, 0.05),
        ] {
            let mut row = ScoreRow::new(slot);
            row.norm = norm;
            m.score(row);
        }
        let order: Vec<u32> = m.top.iter().map(|r| r.slot).collect();
        assert_eq!(order, vec![3, 1, 5, 2, 4]);
    }

    #[test]
    fn scorer_slots_name_the_same_scorers() {
        for (i, &slot) in SCORER_SLOT.iter().enumerate() {
            assert_eq!(SCORER_NAMES[i], SCORERS[slot]);
        }
    }

    #[test]
    fn counts_by_id() {
        let mut m = SelectMetrics::default();
        m.filter(0, 7);
        m.filter(u32::MAX, 7);
        m.exhaust(1, 2);
        assert_eq!(m.filtered, 2);
        assert_eq!(m.reasons(), &[(7, 2)]);
        assert_eq!(m.dimensions(), &[(2, 1)]);
    }
}
