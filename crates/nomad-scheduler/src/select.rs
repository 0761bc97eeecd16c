//! Choosing a node for one allocation: Nomad's stack as one loop.
//!
//! For each candidate in visiting order: feasibility (class-cached checks,
//! then host volumes), `distinct_hosts`, `distinct_property`, bin packing
//! ([`crate::rank`]), then the scorers — job anti-affinity, rescheduling
//! penalty, node affinity, spread, preemption — and the mean of their
//! scores. A [`Limiter`] stops after enough scored candidates and the best
//! one wins. The system scheduler runs the same loop on one node with only
//! feasibility and bin packing.

use std::sync::Arc;

use nomad_types::{Allocation, Node};

use crate::context::Ctx;
use crate::feasible::{check_network, has_drivers, has_host_volumes, GroupSpec, Status};
use crate::limit::{affinity_spread_limit, candidate_limit, Limiter};
use crate::metrics::{ScoreRow, Scorer};
use crate::ports::AssignedPort;
use crate::property::PropertySet;
use crate::score::affinity::normalized_affinity_score;
use crate::score::spread::{
    even_spread_boost, SpreadDesired, SpreadTarget, SPREAD_MISSING_PENALTY,
};
use crate::score::{
    job_anti_affinity_penalty, net_priority, preemption_score, reschedule_penalty, ScoreSheet,
};
use crate::state::State;

/// Reason labels interned once per evaluation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Labels {
    pub class_ineligible: u32,
    pub missing_drivers: u32,
    pub missing_devices: u32,
    pub host_volumes: u32,
    pub distinct_hosts: u32,
    /// Exhausted dimensions: `cpu`, `memory`, `disk`, `max allocation
    /// exceeded`.
    pub dimensions: [u32; 4],
}

/// The dimensions of [`Labels::dimensions`].
const DIMENSIONS: [&str; 4] = ["cpu", "memory", "disk", "max allocation exceeded"];

impl Labels {
    pub(crate) fn new(i: &mut crate::util::Interner) -> Labels {
        Labels {
            class_ineligible: i.intern("computed class ineligible"),
            missing_drivers: i.intern("missing drivers"),
            missing_devices: i.intern("missing devices"),
            host_volumes: i.intern("missing compatible host volumes"),
            distinct_hosts: i.intern("distinct_hosts"),
            dimensions: DIMENSIONS.map(|d| i.intern(d)),
        }
    }

    /// The label of an exhausted dimension, if it is one of the usual ones.
    pub(crate) fn dimension(&self, reason: &str) -> Option<u32> {
        DIMENSIONS
            .iter()
            .position(|d| *d == reason)
            .map(|i| self.dimensions[i])
    }
}

/// A scored candidate and what the node would give the allocation.
#[derive(Clone, Debug, Default)]
pub(crate) struct Candidate {
    pub slot: u32,
    pub score: f64,
    pub ports: Vec<AssignedPort>,
    /// Reserved cores per task index.
    pub cores: Vec<(usize, Vec<u16>)>,
    /// Devices per task index.
    pub devices: Vec<(usize, nomad_types::alloc::AllocatedDeviceResource)>,
    pub preempted: Vec<Arc<Allocation>>,
}

impl Candidate {
    fn clear(&mut self, slot: u32) {
        self.slot = slot;
        self.score = 0.0;
        self.ports.clear();
        self.cores.clear();
        self.devices.clear();
        self.preempted.clear();
    }
}

/// What a selection should take into account.
#[derive(Clone, Debug, Default)]
pub(crate) struct SelectOptions<'a> {
    /// Nodes where the allocation being replaced failed.
    pub penalty_nodes: &'a [String],
    /// A node to try first (sticky or migrating ephemeral disk).
    pub preferred: Option<Arc<Node>>,
    /// Allow evicting lower-priority allocations.
    pub preempt: bool,
    /// The allocation's name (for per-allocation volumes).
    pub alloc_name: &'a str,
}

/// Where candidates come from.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Source {
    /// The evaluation's shuffled ring.
    Ring,
    /// A single node.
    Single(u32),
}

/// Spread state of a group: property set, desired counts, weight.
#[derive(Debug, Clone)]
pub(crate) struct SpreadSet {
    pub set: PropertySet,
    pub desired: SpreadDesired,
    pub weight: i8,
}

impl<S: State + ?Sized> Ctx<'_, S> {
    /// Sets the candidate limit for the ring (Nomad's `SetNodes`).
    pub(crate) fn reset_limit(&mut self) {
        self.limit = candidate_limit(
            self.kind == crate::context::Kind::Batch,
            self.table.ring_len,
        );
    }

    /// Prepares a group's property sets the first time it is placed.
    fn prepare_group(&mut self, g: usize) {
        let name = self.groups[g].name.clone();
        if !self.group_props.contains_key(&name) {
            let mut sets = Vec::new();
            for d in self.groups[g].distinct_properties.clone() {
                let set = PropertySet::new(
                    &d.attribute,
                    Some(&name),
                    Vec::new(),
                    d.allowed.clone().err(),
                );
                sets.push((self.fill_property_set(set), d.allowed.unwrap_or(0)));
            }
            self.group_props.insert(name.clone(), sets);
        }
        if !self.spread_sets.contains_key(&name) && !self.kind.is_system() {
            let group = &self.groups[g];
            let count = u32::try_from(group.count.max(0)).unwrap_or(u32::MAX);
            let job_spreads = self.spec.as_ref().map_or(0, |s| s.job.spreads.len());
            // Desired counts per attribute: the group's blocks, then the
            // job's, a later block replacing an earlier one.
            let ordered: Vec<_> = group.spreads[job_spreads..]
                .iter()
                .chain(group.spreads[..job_spreads].iter())
                .collect();
            let mut sets = Vec::new();
            for spec in &group.spreads {
                let winner = ordered
                    .iter()
                    .rev()
                    .find(|s| s.attribute == spec.attribute)
                    .copied()
                    .unwrap_or(spec);
                let targets: Vec<SpreadTarget<'_>> = winner
                    .targets
                    .iter()
                    .map(|(v, p)| SpreadTarget {
                        value: v,
                        percent: *p,
                    })
                    .collect();
                let values = spec.targets.iter().map(|(v, _)| v.clone()).collect();
                let set = PropertySet::new(&spec.attribute, Some(&name), values, None);
                sets.push(SpreadSet {
                    set: self.fill_property_set(set),
                    desired: SpreadDesired::new(&targets, count),
                    weight: winner.weight,
                });
            }
            self.spread_scorer
                .add_group_weights(ordered.iter().map(|s| s.weight));
            self.spread_sets.insert(name, sets);
        }
    }

    /// Finds the best node for group `g` (an index into the job's groups).
    pub(crate) fn select(
        &mut self,
        g: usize,
        opts: &SelectOptions<'_>,
        source: Source,
    ) -> Option<Candidate> {
        if let Some(preferred) = opts.preferred.clone() {
            let slot = self.slot_of_node(&preferred);
            let mut first = opts.clone();
            first.preferred = None;
            let found = self.select(g, &first, Source::Single(slot));
            self.ring.rewind();
            return found.or_else(|| self.select(g, &first, source));
        }
        self.metrics.reset();
        if self.kind.is_system() {
            self.elig.reset();
        }
        self.prepare_group(g);
        let groups = std::mem::take(&mut self.groups);
        let name = groups[g].name.clone();
        let group_props = self
            .group_props
            .get_mut(&name)
            .map(std::mem::take)
            .unwrap_or_default();
        let spreads = self
            .spread_sets
            .get_mut(&name)
            .map(std::mem::take)
            .unwrap_or_default();
        let job_props = std::mem::take(&mut self.job_props);

        let limit = match source {
            Source::Single(_) => 2,
            Source::Ring if self.kind.is_system() => usize::MAX,
            Source::Ring => {
                if groups[g].has_affinities_or_spreads() {
                    let configured =
                        usize::try_from(self.config.effective_node_limit()).unwrap_or(100);
                    let count = usize::try_from(groups[g].count.max(0)).unwrap_or(0);
                    self.limit = affinity_spread_limit(count, configured);
                }
                self.limit
            }
        };
        let mut limiter: Limiter<(u32, f64)> = Limiter::new(limit);
        let mut single_done = false;
        self.ring.reset();
        self.cand_len = 0;
        let mut best: Option<(u32, f64)> = None;
        let parts = Parts {
            group: &groups[g],
            group_key: g as u32,
            job_props: &job_props,
            group_props: &group_props,
            spreads: &spreads,
            ports: groups[g]
                .network
                .as_ref()
                .filter(|n| n.has_ports())
                .and_then(crate::rank::literal_port_requests),
        };
        while let Some((idx, score)) = limiter.next(
            || self.next_candidate(&parts, opts, source, &mut single_done),
            |c: &(u32, f64)| c.1,
        ) {
            if best.is_none_or(|(_, b)| score > b) {
                best = Some((idx, score));
            }
        }

        self.groups = groups;
        self.job_props = job_props;
        if let Some(slot) = self.group_props.get_mut(&name) {
            *slot = group_props;
        }
        if let Some(slot) = self.spread_sets.get_mut(&name) {
            *slot = spreads;
        }
        best.map(|(idx, _)| self.cands[idx as usize].clone())
    }

    fn next_candidate(
        &mut self,
        p: &Parts<'_>,
        opts: &SelectOptions<'_>,
        source: Source,
        single_done: &mut bool,
    ) -> Option<(u32, f64)> {
        loop {
            let slot = match source {
                Source::Single(slot) => {
                    if *single_done {
                        return None;
                    }
                    *single_done = true;
                    slot
                }
                Source::Ring => self.ring.next(self.table.ring_len)? as u32,
            };
            self.metrics.evaluated += 1;
            if !self.feasible(p, slot, opts.alloc_name) {
                continue;
            }
            if let Some(found) = self.rank(p, slot, opts) {
                return Some(found);
            }
        }
    }

    /// The `distinct_hosts` check (counted as a filter when it fails).
    fn distinct_hosts_ok(&mut self, p: &Parts<'_>, slot: u32) -> bool {
        if self.kind.is_system() {
            return true;
        }
        let job_distinct = self.spec.as_ref().is_some_and(|s| s.distinct_hosts);
        if job_distinct || p.group.distinct_hosts {
            let (total, same_group) = self.job_on_node(slot, p.group_key);
            if (job_distinct && total > 0) || same_group > 0 {
                self.filter_node(slot, self.label_ids.distinct_hosts);
                return false;
            }
        }
        true
    }

    /// Counts `slot` as filtered by `reason` (its node class looked up
    /// only now: most candidates are never filtered).
    fn filter_node(&mut self, slot: u32, reason: u32) {
        let nclass = self.node_class_of(slot);
        self.metrics.filter(nclass, reason);
    }

    fn feasible(&mut self, p: &Parts<'_>, slot: u32, alloc_name: &str) -> bool {
        let class = self.class_of(slot);
        let g = p.group;
        let labels = self.label_ids;

        // A class already known to be ineligible or eligible spares the
        // node itself from being read.
        let job_status = self.elig.job_status(class);
        if job_status == Status::Ineligible {
            self.filter_node(slot, labels.class_ineligible);
            return false;
        }
        // Read the node only when a check needs it: a node of a class
        // already known to be eligible passes without being touched.
        let group_status = self.elig.group_status(p.group_key, class);
        let needs_node = job_status != Status::Eligible
            || matches!(group_status, Status::Unknown | Status::Escaped)
            || !g.host_volumes.is_empty()
            || !p.job_props.is_empty()
            || !p.group_props.is_empty();
        let Some(node) = needs_node.then(|| self.table.node(slot).clone()) else {
            if group_status == Status::Ineligible {
                self.filter_node(slot, labels.class_ineligible);
                return false;
            }
            return self.distinct_hosts_ok(p, slot);
        };
        if job_status != Status::Eligible {
            if let Some(spec) = &self.spec {
                for c in &spec.constraints {
                    if !c.compiled.matches(&*node, &mut self.cache) {
                        self.filter_node(slot, c.label);
                        if job_status != Status::Escaped {
                            self.elig.set_job_status(class, false);
                        }
                        return false;
                    }
                }
            }
            if job_status == Status::Unknown {
                self.elig.set_job_status(class, true);
            }
        }

        match group_status {
            Status::Ineligible => {
                self.filter_node(slot, labels.class_ineligible);
                return false;
            }
            Status::Eligible => {}
            Status::Unknown | Status::Escaped => {
                let failed = if !has_drivers(&node, &g.drivers) {
                    Some(labels.missing_drivers)
                } else if let Some(c) = g
                    .constraints
                    .iter()
                    .find(|c| !c.compiled.matches(&*node, &mut self.cache))
                {
                    Some(c.label)
                } else if !crate::devices::has_devices(&node, &g.devices, &mut self.cache) {
                    Some(labels.missing_devices)
                } else {
                    match g.network.as_ref().map(|n| check_network(&node, n)) {
                        Some(Err(reason)) => Some(self.labels.intern(&reason)),
                        _ => None,
                    }
                };
                if let Some(reason) = failed {
                    self.filter_node(slot, reason);
                    if group_status != Status::Escaped {
                        self.elig.set_group_status(p.group_key, class, false);
                    }
                    return false;
                }
                if group_status == Status::Unknown {
                    self.elig.set_group_status(p.group_key, class, true);
                }
            }
        }

        if !g.host_volumes.is_empty() && !has_host_volumes(&node, &g.host_volumes, alloc_name) {
            self.filter_node(slot, labels.host_volumes);
            return false;
        }

        if !self.distinct_hosts_ok(p, slot) {
            return false;
        }

        for (set, allowed) in p.job_props.iter().chain(p.group_props.iter()) {
            if let Err(reason) = set.satisfies(&node, *allowed) {
                let id = self.labels.intern(&reason);
                self.filter_node(slot, id);
                return false;
            }
        }
        true
    }

    fn rank(&mut self, p: &Parts<'_>, slot: u32, opts: &SelectOptions<'_>) -> Option<(u32, f64)> {
        let idx = self.cand_len;
        if self.cands.len() <= idx {
            self.cands.push(Candidate::default());
        }
        let mut cand = std::mem::take(&mut self.cands[idx]);
        cand.clear(slot);
        let mut row = ScoreRow::new(slot);
        let mut sheet = ScoreSheet::new();
        let ranked = self.binpack(p, slot, opts.preempt, &mut cand, &mut row, &mut sheet);
        if ranked {
            self.score_candidate(p, slot, opts, &mut cand, &mut row, &mut sheet);
            self.cand_len += 1;
        }
        self.cands[idx] = cand;
        ranked.then_some((idx as u32, row.norm))
    }

    fn score_candidate(
        &mut self,
        p: &Parts<'_>,
        slot: u32,
        opts: &SelectOptions<'_>,
        cand: &mut Candidate,
        row: &mut ScoreRow,
        sheet: &mut ScoreSheet,
    ) {
        let g = p.group;
        if !self.kind.is_system() {
            // The node itself is read only by scorers that look at it.
            let needs_node =
                !opts.penalty_nodes.is_empty() || !g.affinities.is_empty() || !p.spreads.is_empty();
            let node = needs_node.then(|| self.table.node(slot).clone());
            let (_, collisions) = self.job_on_node(slot, p.group_key);
            let count = u32::try_from(g.count.max(0)).unwrap_or(u32::MAX);
            let collisions = u32::try_from(collisions.max(0)).unwrap_or(u32::MAX);
            let penalty = job_anti_affinity_penalty(collisions, count);
            sheet.push_opt(penalty);
            row.set(Scorer::JobAntiAffinity, penalty.unwrap_or(0.0));

            let penalised = node
                .as_ref()
                .is_some_and(|n| opts.penalty_nodes.iter().any(|id| *id == n.id));
            let penalty = reschedule_penalty(penalised);
            sheet.push_opt(penalty);
            row.set(Scorer::ReschedulePenalty, penalty.unwrap_or(0.0));

            let cache = &mut self.cache;
            let affinity = match node.as_deref() {
                Some(n) => normalized_affinity_score(
                    g.affinities
                        .iter()
                        .map(|a| (a.weight, a.compiled.matches(n, cache))),
                ),
                None => normalized_affinity_score(std::iter::empty()),
            };
            sheet.push_opt(affinity);
            row.set(Scorer::NodeAffinity, affinity.unwrap_or(0.0));

            if let Some(node) = node.as_ref().filter(|_| !p.spreads.is_empty()) {
                let total = self.spread_total(p.spreads, node);
                if total != 0.0 {
                    sheet.push(total);
                    row.set(Scorer::Spread, total);
                }
            }

            if !cand.preempted.is_empty() {
                let prios = cand
                    .preempted
                    .iter()
                    .map(|a| a.job.as_ref().map_or(0, |j| j.priority()) as i32);
                let score = preemption_score(net_priority(prios));
                sheet.push(score);
                row.set(Scorer::Preemption, score);
            }
        }
        row.norm = sheet.final_score();
        cand.score = row.norm;
        self.metrics.score(*row);
    }

    fn spread_total(&mut self, spreads: &[SpreadSet], node: &Node) -> f64 {
        let mut total = 0.0;
        for s in spreads {
            match s.set.used_count(node) {
                Err(_) => total += SPREAD_MISSING_PENALTY,
                Ok((value, used)) => {
                    if s.desired.is_even() {
                        total += even_spread_boost(Some(value), s.set.combined_use());
                    } else {
                        total += self
                            .spread_scorer
                            .target_boost(&s.desired, s.weight, value, used);
                    }
                }
            }
        }
        total
    }
}

/// The pieces of a group's state a selection reads, taken out of the
/// context for its duration.
pub(crate) struct Parts<'a> {
    pub group: &'a GroupSpec,
    pub group_key: u32,
    pub job_props: &'a [(PropertySet, u64)],
    pub group_props: &'a [(PropertySet, u64)],
    pub spreads: &'a [SpreadSet],
    pub ports: Option<crate::rank::PortRequests<'a>>,
}
