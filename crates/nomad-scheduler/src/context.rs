//! The per-evaluation working state: the plan being built and everything
//! derived from it that placement decisions read.
//!
//! Nomad recomputes a node's "proposed allocations" (existing ones, minus
//! what the plan stops or evicts, plus what it places) every time it looks
//! at the node. Here every plan change goes through [`Ctx`], which keeps
//! the derived views current incrementally:
//!
//! * per node: resources used and allocation count (the state's totals plus
//!   a running delta), ports in use (built on first need, kept or
//!   invalidated as the plan changes);
//! * per node: how many allocations of this job, and of each group, run
//!   there (job anti-affinity, `distinct_hosts`);
//! * per attribute value: the property sets of `distinct_property` and
//!   `spread`.
//!
//! So a placement costs the same whether the plan holds one allocation or a
//! thousand, and whether a node runs none or two hundred.

use std::collections::BTreeMap;
use std::sync::Arc;

use nomad_types::alloc::VecMap;
use nomad_types::{AllocatedResources, Allocation, Evaluation, Job, Node, SchedulerConfiguration};

use crate::constraint::ConstraintCache;
use crate::feasible::{Eligibility, GroupSpec, JobSpec};
use crate::metrics::SelectMetrics;
use crate::nodes::{NodeRef, NodeTable, Ring};
use crate::plan::Plan;
use crate::ports::{HostAddress, NodePortConfig, NodePorts, UsedPort};
use crate::property::PropertySet;
use crate::resources::{alloc_usage, Res};
use crate::rng::Rng;
use crate::score::spread::SpreadScorer;
use crate::score::SchedulerAlgorithm;
use crate::select::{Candidate, Labels, SpreadSet};
use crate::state::{NodeUsage, State};
use crate::util::{FxHashMap, FxHashSet, IdSource, Interner};

/// The key under which allocations of groups the job no longer has are
/// counted.
const OTHER_GROUP: u32 = u32::MAX - 1;

/// What one allocation contributes to its node.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Contrib {
    res: Res,
    group: u32,
    same_job: bool,
}

/// How the plan has changed one allocation.
#[derive(Clone, Debug)]
struct Overlay {
    /// The node's slot (`None`: the node is not in the state).
    slot: Option<u32>,
    base: Option<Contrib>,
    stopped: u32,
    preempted: bool,
    placed: Option<Contrib>,
}

impl Overlay {
    fn effective(&self) -> Option<Contrib> {
        if self.placed.is_some() {
            self.placed
        } else if self.stopped > 0 || self.preempted {
            None
        } else {
            self.base
        }
    }
}

/// Counts of this job's allocations on one node.
#[derive(Clone, Debug, Default)]
pub(crate) struct JobOnNode {
    pub total: i64,
    by_group: Vec<(u32, i64)>,
}

impl JobOnNode {
    pub(crate) fn group(&self, group: u32) -> i64 {
        self.by_group
            .iter()
            .find(|(g, _)| *g == group)
            .map_or(0, |(_, n)| *n)
    }

    fn add(&mut self, group: u32, delta: i64) {
        self.total += delta;
        match self.by_group.iter_mut().find(|(g, _)| *g == group) {
            Some(e) => e.1 += delta,
            None => self.by_group.push((group, delta)),
        }
    }
}

/// Lazily built facts about one node.
#[derive(Debug, Default)]
pub(crate) struct SlotCache {
    base: Option<NodeUsage>,
    delta: Res,
    delta_count: i64,
    /// This job's allocations on the node, plan included.
    job: JobOnNode,
    /// What the node offers, read once.
    limits: Option<Limits>,
    pub class: Option<u32>,
    pub node_class: Option<u32>,
    pub ports: Option<Result<NodePorts, String>>,
}

/// What a node offers: capacity, what it keeps for itself, its
/// `node_max_allocs` (0: no limit).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Limits {
    pub capacity: Res,
    pub reserved: Res,
    pub max_allocs: i64,
}

/// What [`Ctx::begin_job_swap`] set aside.
pub(crate) struct JobSwap {
    spec: Option<JobSpec>,
    group: GroupSpec,
    verdicts: crate::feasible::SavedVerdicts,
    group_props: Option<Vec<(PropertySet, u64)>>,
    spreads: Option<Vec<SpreadSet>>,
    spread_scorer: SpreadScorer,
    job_props: Vec<(PropertySet, u64)>,
    shared: Option<Arc<AllocatedResources>>,
    job: Option<Arc<Job>>,
}

/// Which kind of scheduler drives the context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Service,
    Batch,
    System,
    SysBatch,
}

impl Kind {
    pub(crate) fn is_system(self) -> bool {
        matches!(self, Kind::System | Kind::SysBatch)
    }
}

/// The per-evaluation working state.
pub(crate) struct Ctx<'s, S: State + ?Sized> {
    pub state: &'s S,
    pub eval: &'s Evaluation,
    pub now: i64,
    pub kind: Kind,
    pub job: Option<Arc<Job>>,
    pub spec: Option<JobSpec>,
    pub groups: Vec<GroupSpec>,
    pub plan: Plan,
    pub table: NodeTable<'s>,
    pub ring: Ring,
    /// Ready nodes per datacenter: one map every placement metric of the
    /// evaluation shares.
    pub by_dc: VecMap<String, i64>,
    /// The job's node pool, shared by every placement metric.
    pub pool: Arc<str>,
    /// Per group: the resources every placement gets when they do not
    /// depend on the node (no network, devices or reserved cores), built
    /// once and shared.
    pub shared_resources: Vec<Option<Arc<AllocatedResources>>>,
    pub config: SchedulerConfiguration,
    pub algorithm: SchedulerAlgorithm,
    pub labels: Interner,
    pub classes: Interner,
    /// Interned computed class and node class by the address of the
    /// state's shared name ([`crate::NodeFacts`]).
    class_memo: FxHashMap<usize, u32>,
    node_class_memo: FxHashMap<usize, u32>,
    pub elig: Eligibility,
    pub slots: Vec<SlotCache>,
    overlay: FxHashMap<String, Overlay>,
    pub job_props: Vec<(PropertySet, u64)>,
    pub group_props: BTreeMap<String, Vec<(PropertySet, u64)>>,
    pub spread_sets: BTreeMap<String, Vec<SpreadSet>>,
    pub spread_scorer: SpreadScorer,
    pub metrics: SelectMetrics,
    /// Count maps of this evaluation's placement metrics, shared.
    pub map_memo: crate::metrics::MapMemo,
    pub cache: ConstraintCache,
    pub label_ids: Labels,
    pub limit: usize,
    pub cands: Vec<Candidate>,
    pub cand_len: usize,
    pub rng: Rng,
    pub ids: IdSource,
    /// IDs of allocations this plan creates.
    pub created: FxHashSet<String>,
}

impl<'s, S: State + ?Sized> Ctx<'s, S> {
    #[allow(clippy::too_many_arguments)]
    /// Sets up an evaluation of `job` (`None`: purged) with `ring` as the
    /// candidate nodes in visiting order.
    pub(crate) fn new(
        state: &'s S,
        eval: &'s Evaluation,
        job: Option<Arc<Job>>,
        kind: Kind,
        ring: Vec<NodeRef<'s>>,
        by_dc: BTreeMap<String, i64>,
        now: i64,
        seed: u64,
        ids: IdSource,
    ) -> Self {
        let config = state.scheduler_config().into_owned();
        let algorithm = config
            .effective_algorithm()
            .parse()
            .unwrap_or(SchedulerAlgorithm::Binpack);
        let mut labels = Interner::default();
        let runnable = job.as_ref().filter(|j| !j.is_stopped()).cloned();
        let spec = runnable.map(|j| JobSpec::new(j, &mut labels));
        let groups: Vec<GroupSpec> = match &spec {
            Some(s) => s
                .job
                .task_groups
                .iter()
                .map(|tg| GroupSpec::new(&s.job, tg, &mut labels))
                .collect(),
            None => Vec::new(),
        };
        let mut elig = Eligibility::default();
        if let Some(s) = &spec {
            elig.set_job(s, groups.iter().map(|g| g.escaped).collect());
        }
        let label_ids = Labels::new(&mut labels);
        let table = NodeTable::new(ring);
        let slots = (0..table.len()).map(|_| SlotCache::default()).collect();
        let pool: Arc<str> = Arc::from(job.as_deref().map_or("", crate::nodes::job_pool));
        let shared_resources = vec![None; groups.len()];
        let plan = Plan::new(eval, job.clone(), state.latest_index());
        let mut ctx = Ctx {
            state,
            eval,
            now,
            kind,
            job,
            spec,
            groups,
            plan,
            table,
            ring: Ring::default(),
            by_dc: by_dc.into(),
            pool,
            shared_resources,
            config,
            algorithm,
            labels,
            classes: Interner::default(),
            class_memo: FxHashMap::default(),
            node_class_memo: FxHashMap::default(),
            elig,
            slots,
            overlay: FxHashMap::default(),
            job_props: Vec::new(),
            group_props: BTreeMap::new(),
            spread_sets: BTreeMap::new(),
            spread_scorer: SpreadScorer::new(),
            metrics: SelectMetrics::default(),
            map_memo: crate::metrics::MapMemo::default(),
            cache: ConstraintCache::new(),
            label_ids,
            limit: 2,
            cands: Vec::new(),
            cand_len: 0,
            rng: Rng::new(seed ^ 0x5DEE_CE66_D1CE_4E5B),
            ids,
            created: FxHashSet::default(),
        };
        ctx.load_job_counts();
        ctx.reset_limit();
        ctx
    }

    /// Makes group `g` place for another version of the job (`job`, whose
    /// group of the same name is `tg`): its constraints, resources,
    /// property sets and feasibility verdicts, as Nomad does when it
    /// places a replacement with an older job. [`Ctx::end_job_swap`] puts
    /// everything back.
    pub(crate) fn begin_job_swap(
        &mut self,
        g: usize,
        job: Arc<Job>,
        tg: &nomad_types::TaskGroup,
    ) -> JobSwap {
        let spec = JobSpec::new(job.clone(), &mut self.labels);
        let group = GroupSpec::new(&job, tg, &mut self.labels);
        let name = group.name.clone();
        let escaped: Vec<bool> = self
            .groups
            .iter()
            .enumerate()
            .map(|(i, s)| if i == g { group.escaped } else { s.escaped })
            .collect();
        let verdicts = self.elig.set_aside(&spec, escaped);
        let props: Vec<_> = spec
            .distinct_properties
            .iter()
            .map(|d| {
                let set = PropertySet::new(&d.attribute, None, Vec::new(), d.allowed.clone().err());
                (set, *d.allowed.as_ref().unwrap_or(&0))
            })
            .collect();
        let job_props = props
            .into_iter()
            .map(|(set, allowed)| (self.fill_property_set(set), allowed))
            .collect();
        JobSwap {
            spec: self.spec.replace(spec),
            group: std::mem::replace(&mut self.groups[g], group),
            verdicts,
            group_props: self.group_props.remove(&name),
            spreads: self.spread_sets.remove(&name),
            spread_scorer: self.spread_scorer,
            job_props: std::mem::replace(&mut self.job_props, job_props),
            shared: self.shared_resources.get_mut(g).and_then(Option::take),
            job: self.job.replace(job),
        }
    }

    /// Undoes [`Ctx::begin_job_swap`] for group `g`.
    pub(crate) fn end_job_swap(&mut self, g: usize, swap: JobSwap) {
        let name = swap.group.name.clone();
        self.spec = swap.spec;
        self.groups[g] = swap.group;
        self.elig.restore(swap.verdicts);
        self.group_props.remove(&name);
        if let Some(p) = swap.group_props {
            self.group_props.insert(name.clone(), p);
        }
        self.spread_sets.remove(&name);
        if let Some(s) = swap.spreads {
            self.spread_sets.insert(name, s);
        }
        self.spread_scorer = swap.spread_scorer;
        self.job_props = swap.job_props;
        if let Some(slot) = self.shared_resources.get_mut(g) {
            *slot = swap.shared;
        }
        self.job = swap.job;
    }

    /// Makes room for `n` more placements in the plan's bookkeeping, so
    /// that a large evaluation does not rehash it over and over.
    pub(crate) fn reserve(&mut self, n: usize) {
        self.overlay.reserve(n);
        self.created.reserve(n);
    }

    /// The group index of a group name in the current job.
    pub(crate) fn group_key(&self, name: &str) -> u32 {
        self.groups
            .iter()
            .position(|g| g.name == name)
            .map_or(OTHER_GROUP, |i| i as u32)
    }

    fn job_id_matches(&self, alloc: &Allocation) -> bool {
        alloc.job_id == self.eval.job_id && alloc.namespace == self.eval.namespace
    }

    fn load_job_counts(&mut self) {
        let allocs = self
            .state
            .allocs_by_job(&self.eval.namespace, &self.eval.job_id);
        for alloc in allocs.iter() {
            if alloc.client_terminal_status() {
                continue;
            }
            let group = self.group_key(&alloc.task_group);
            // Nodes the state no longer has can never be candidates.
            if let Some(slot) = self.slot_for_node_id(&alloc.node_id) {
                self.slots[slot as usize].job.add(group, 1);
            }
        }
        if let Some(spec) = &self.spec {
            let props: Vec<_> = spec
                .distinct_properties
                .iter()
                .map(|d| {
                    let set =
                        PropertySet::new(&d.attribute, None, Vec::new(), d.allowed.clone().err());
                    (set, *d.allowed.as_ref().unwrap_or(&0))
                })
                .collect();
            self.job_props = props
                .into_iter()
                .map(|(set, allowed)| (self.fill_property_set(set), allowed))
                .collect();
        }
    }

    /// Counts the job's existing allocations and the plan's changes so
    /// far into a new property set.
    pub(crate) fn fill_property_set(&self, mut set: PropertySet) -> PropertySet {
        let allocs = self
            .state
            .allocs_by_job(&self.eval.namespace, &self.eval.job_id);
        let mut nodes: FxHashMap<&str, Option<Arc<Node>>> = FxHashMap::default();
        for alloc in allocs.iter() {
            let node = nodes
                .entry(alloc.node_id.as_str())
                .or_insert_with(|| self.state.node_by_id(&alloc.node_id));
            set.add_existing(alloc, node.as_deref());
        }
        for (node_id, list) in &self.plan.node_update {
            let node = self.state.node_by_id(node_id);
            for alloc in list {
                set.on_stop(alloc, node.as_deref(), true);
            }
        }
        for (node_id, list) in &self.plan.node_allocation {
            let node = self.state.node_by_id(node_id);
            for alloc in list {
                set.on_place(alloc, node.as_deref());
            }
        }
        set
    }

    /// This job's allocations on a node: (all groups, group `group`).
    pub(crate) fn job_on_node(&self, slot: u32, group: u32) -> (i64, i64) {
        self.slots
            .get(slot as usize)
            .map_or((0, 0), |c| (c.job.total, c.job.group(group)))
    }

    /// Resources used on a node and the number of allocations there.
    pub(crate) fn usage(&mut self, slot: u32) -> (Res, i64) {
        let cache = &mut self.slots[slot as usize];
        let base = match cache.base {
            Some(b) => b,
            None => {
                let b = match self.table.facts(slot) {
                    Some(f) => self.state.node_usage(&f.id),
                    None => self.state.node_usage(&self.table.node(slot).id),
                };
                cache.base = Some(b);
                b
            }
        };
        (
            base.used.plus(cache.delta),
            i64::from(base.allocs) + cache.delta_count,
        )
    }

    /// What a node offers (read from the node once per evaluation, so
    /// that checking a node again does not touch it).
    pub(crate) fn limits(&mut self, slot: u32) -> Limits {
        if let Some(l) = self.slots[slot as usize].limits {
            return l;
        }
        let l = match self.table.facts(slot) {
            Some(f) => Limits {
                capacity: f.capacity,
                reserved: f.reserved,
                max_allocs: f.max_allocs,
            },
            None => {
                let node = self.table.node(slot);
                Limits {
                    capacity: crate::resources::node_capacity(node),
                    reserved: crate::resources::node_reserved(node),
                    max_allocs: node.node_max_allocs,
                }
            }
        };
        self.slots[slot as usize].limits = Some(l);
        l
    }

    /// The interned computed class of a node.
    pub(crate) fn class_of(&mut self, slot: u32) -> u32 {
        if let Some(c) = self.slots[slot as usize].class {
            return c;
        }
        let id = match self.table.facts(slot) {
            Some(f) => {
                let key = crate::nodes::str_key(&f.computed_class);
                match self.class_memo.get(&key) {
                    Some(&id) => id,
                    None => {
                        let id = self.elig.class_id(&f.computed_class);
                        self.class_memo.insert(key, id);
                        id
                    }
                }
            }
            None => {
                let node = self.table.node(slot);
                if node.computed_class.is_empty() {
                    self.elig.class_id(&node.compute_class())
                } else {
                    self.elig.class_id(&node.computed_class)
                }
            }
        };
        self.slots[slot as usize].class = Some(id);
        id
    }

    /// The interned node class (for `ClassFiltered`), `u32::MAX` if none.
    pub(crate) fn node_class_of(&mut self, slot: u32) -> u32 {
        if let Some(c) = self.slots[slot as usize].node_class {
            return c;
        }
        let id = match self.table.facts(slot) {
            Some(f) if f.node_class.is_empty() => u32::MAX,
            Some(f) => {
                let key = crate::nodes::str_key(&f.node_class);
                match self.node_class_memo.get(&key) {
                    Some(&id) => id,
                    None => {
                        let id = self.classes.intern(&f.node_class);
                        self.node_class_memo.insert(key, id);
                        id
                    }
                }
            }
            None => {
                let node = self.table.node(slot);
                if node.node_class.is_empty() {
                    u32::MAX
                } else {
                    self.classes.intern(&node.node_class)
                }
            }
        };
        self.slots[slot as usize].node_class = Some(id);
        id
    }

    fn slot_for_node_id(&mut self, node_id: &str) -> Option<u32> {
        if let Some(slot) = self.table.slot(node_id) {
            return Some(slot);
        }
        let node = self.state.node_by_id(node_id)?;
        let slot = self.table.slot_or_insert(&node);
        while self.slots.len() < self.table.len() {
            self.slots.push(SlotCache::default());
        }
        Some(slot)
    }

    /// Adds a node outside the ring (for in-place checks) and returns its
    /// slot.
    pub(crate) fn slot_of_node(&mut self, node: &Arc<Node>) -> u32 {
        let slot = self.table.slot_or_insert(node);
        while self.slots.len() < self.table.len() {
            self.slots.push(SlotCache::default());
        }
        slot
    }

    fn contrib(&self, alloc: &Allocation) -> Contrib {
        Contrib {
            res: alloc_usage(alloc),
            group: self.group_key(&alloc.task_group),
            same_job: self.job_id_matches(alloc),
        }
    }

    /// Changes the plan's record of `alloc` with `change`, then applies the
    /// change of its effective contribution. `slot` is the node's slot when
    /// the caller knows it.
    fn change(
        &mut self,
        alloc: &Allocation,
        existing: Option<&Allocation>,
        slot: Option<u32>,
        added: Option<&Allocation>,
        change: impl FnOnce(&mut Overlay),
    ) {
        let (slot, before, after) = match self.overlay.get_mut(alloc.id.as_str()) {
            Some(entry) => {
                let before = entry.effective();
                change(entry);
                (entry.slot, before, entry.effective())
            }
            None => {
                let slot = match slot {
                    Some(s) => Some(s),
                    None => self.slot_for_node_id(&alloc.node_id),
                };
                let mut entry = Overlay {
                    slot,
                    base: existing
                        .filter(|e| !e.client_terminal_status())
                        .map(|e| self.contrib(e)),
                    stopped: 0,
                    preempted: false,
                    placed: None,
                };
                let before = entry.effective();
                change(&mut entry);
                let after = entry.effective();
                self.overlay.insert(alloc.id.clone(), entry);
                (slot, before, after)
            }
        };
        self.apply(slot, before, after, added);
    }

    /// Applies the change of an allocation's effective contribution on the
    /// node at `slot`.
    fn apply(
        &mut self,
        slot: Option<u32>,
        before: Option<Contrib>,
        after: Option<Contrib>,
        added: Option<&Allocation>,
    ) {
        if before == after {
            return;
        }
        if let Some(slot) = slot {
            let cache = &mut self.slots[slot as usize];
            if let Some(b) = before {
                cache.delta.sub(b.res);
                cache.delta_count -= 1;
            }
            if let Some(a) = after {
                cache.delta.add(a.res);
                cache.delta_count += 1;
            }
            match (&mut cache.ports, added) {
                (Some(Ok(ports)), Some(alloc)) if before.is_none() && after.is_some() => {
                    let _ = add_alloc_ports(ports, alloc);
                }
                (ports, _) => *ports = None,
            }
            for (c, sign) in [(before, -1i64), (after, 1i64)] {
                if let Some(c) = c.filter(|c| c.same_job) {
                    cache.job.add(c.group, sign);
                }
            }
        }
    }

    fn has_sets(&self) -> bool {
        !self.job_props.is_empty()
            || self.group_props.values().any(|s| !s.is_empty())
            || self.spread_sets.values().any(|s| !s.is_empty())
    }

    fn node_for_sets(&self, node_id: &str) -> Option<Arc<Node>> {
        if !self.has_sets() {
            return None;
        }
        match self.table.slot(node_id) {
            Some(slot) => Some(self.table.node(slot).clone()),
            None => self.state.node_by_id(node_id),
        }
    }

    fn for_each_set(&mut self, mut f: impl FnMut(&mut PropertySet)) {
        for (set, _) in &mut self.job_props {
            f(set);
        }
        for sets in self.group_props.values_mut() {
            for (set, _) in sets {
                f(set);
            }
        }
        for sets in self.spread_sets.values_mut() {
            for s in sets {
                f(&mut s.set);
            }
        }
    }

    /// Stops `alloc` (an allocation from the state).
    pub(crate) fn stop(
        &mut self,
        alloc: &Allocation,
        description: &str,
        client_status: Option<&str>,
        followup_eval_id: Option<&str>,
    ) {
        self.plan.append_stopped_alloc(
            alloc,
            description,
            client_status,
            followup_eval_id,
            self.now,
        );
        self.change(alloc, Some(alloc), None, None, |e| e.stopped += 1);
        let node = self.node_for_sets(&alloc.node_id);
        self.for_each_set(|set| set.on_stop(alloc, node.as_deref(), true));
    }

    /// Takes back the last stop of `alloc`, if it is the last stop on its
    /// node.
    pub(crate) fn pop_stop(&mut self, alloc: &Allocation) -> bool {
        if self.plan.pop_update(alloc).is_none() {
            return false;
        }
        if self.overlay.contains_key(alloc.id.as_str()) {
            self.change(alloc, None, None, None, |e| {
                e.stopped = e.stopped.saturating_sub(1)
            });
        }
        let node = self.node_for_sets(&alloc.node_id);
        self.for_each_set(|set| set.on_stop(alloc, node.as_deref(), false));
        true
    }

    /// Evicts `victim` in favour of the allocation `by`.
    pub(crate) fn preempt(&mut self, victim: &Allocation, by: &str) {
        self.plan.append_preempted_alloc(victim, by);
        self.change(victim, Some(victim), None, None, |e| e.preempted = true);
    }

    /// Places a new allocation, or a new version of `existing` (same ID).
    pub(crate) fn place(
        &mut self,
        alloc: Allocation,
        existing: Option<&Allocation>,
    ) -> Arc<Allocation> {
        self.place_on(alloc, existing, None)
    }

    /// [`Ctx::place`] on a node whose slot the caller knows.
    pub(crate) fn place_on(
        &mut self,
        alloc: Allocation,
        existing: Option<&Allocation>,
        slot: Option<u32>,
    ) -> Arc<Allocation> {
        let alloc = Arc::new(alloc);
        let contrib = (!alloc.client_terminal_status()).then(|| self.contrib(&alloc));
        self.change(&alloc, existing, slot, Some(&alloc), |e| e.placed = contrib);
        let node = self.node_for_sets(&alloc.node_id);
        self.for_each_set(|set| set.on_place(&alloc, node.as_deref()));
        self.plan.append_alloc(alloc.clone());
        alloc
    }

    /// Allocations on a node as the plan leaves them (not client-terminal,
    /// not stopped or evicted; in-place updates in their new version), with
    /// the resources each holds. For preemption.
    pub(crate) fn proposed_allocs(&self, slot: u32) -> Vec<(Arc<Allocation>, Res)> {
        let node_id = &self.table.node(slot).id;
        let mut out = Vec::new();
        for alloc in self.state.allocs_by_node(node_id).iter() {
            match self.overlay.get(alloc.id.as_str()) {
                Some(o) if o.placed.is_some() => continue,
                Some(o) if o.stopped > 0 || o.preempted => continue,
                _ => {}
            }
            if alloc.client_terminal_status() {
                continue;
            }
            out.push((alloc.clone(), alloc_usage(alloc)));
        }
        if let Some(list) = self.plan.node_allocation.get(node_id) {
            for alloc in list {
                if !alloc.client_terminal_status() {
                    out.push((alloc.clone(), alloc_usage(alloc)));
                }
            }
        }
        out
    }

    /// The ports in use on a node, built on first need; `Err` is the reason
    /// the node cannot take port asks (`network: port collision`, …).
    pub(crate) fn ports(&mut self, slot: u32) -> Result<&NodePorts, String> {
        if self.slots[slot as usize].ports.is_none() {
            let built = self.build_ports(slot);
            self.slots[slot as usize].ports = Some(built);
        }
        match &self.slots[slot as usize].ports {
            Some(Ok(p)) => Ok(p),
            Some(Err(e)) => Err(e.clone()),
            None => Err("network: invalid node".to_string()),
        }
    }

    fn build_ports(&self, slot: u32) -> Result<NodePorts, String> {
        let node = self.table.node(slot);
        let config = node_port_config(node).map_err(|_| "network: invalid node".to_string())?;
        let mut ports = NodePorts::new(Arc::new(config));
        let mut collided = false;
        for alloc in self.state.allocs_by_node(&node.id).iter() {
            match self.overlay.get(alloc.id.as_str()) {
                Some(o) if o.placed.is_some() || o.stopped > 0 || o.preempted => continue,
                _ => {}
            }
            if alloc.client_terminal_status() {
                continue;
            }
            collided |= add_alloc_ports(&mut ports, alloc).is_err();
        }
        if let Some(list) = self.plan.node_allocation.get(&node.id) {
            for alloc in list.iter().filter(|a| !a.client_terminal_status()) {
                collided |= add_alloc_ports(&mut ports, alloc).is_err();
            }
        }
        if collided {
            Err("network: port collision".to_string())
        } else {
            Ok(ports)
        }
    }
}

/// A node's port configuration: reserved ports, host network addresses
/// (legacy networks stand in as `default` when it reports none), dynamic
/// range.
pub(crate) fn node_port_config(node: &Node) -> Result<NodePortConfig, crate::ports::PortError> {
    let reserved = node
        .reserved_resources
        .as_ref()
        .map_or("", |r| r.networks.reserved_host_ports.as_str());
    let mut task_ips: Vec<&str> = Vec::new();
    let mut addresses: Vec<HostAddress<'_>> = Vec::new();
    let (mut min, mut max) = (None, None);
    if let Some(res) = &node.node_resources {
        for n in &res.networks {
            if !n.device.is_empty() && !n.ip.is_empty() {
                task_ips.push(&n.ip);
            }
        }
        if res.node_networks.is_empty() {
            for n in &res.networks {
                if !n.ip.is_empty() && (n.mode.is_empty() || n.mode == "host") {
                    addresses.push(HostAddress {
                        alias: "default",
                        address: &n.ip,
                        reserved_ports: "",
                    });
                }
            }
        } else {
            for n in &res.node_networks {
                for a in &n.addresses {
                    addresses.push(HostAddress {
                        alias: &a.alias,
                        address: &a.address,
                        reserved_ports: &a.reserved_ports,
                    });
                }
            }
        }
        min = u32::try_from(res.min_dynamic_port).ok();
        max = u32::try_from(res.max_dynamic_port).ok();
    }
    NodePortConfig::new(reserved, &task_ips, &addresses, min, max)
}

/// Records the ports an allocation holds.
pub(crate) fn add_alloc_ports(
    ports: &mut NodePorts,
    alloc: &Allocation,
) -> Result<(), crate::ports::PortError> {
    let Some(ar) = &alloc.allocated_resources else {
        return Ok(());
    };
    let mut list: Vec<UsedPort<'_>> = Vec::new();
    if !ar.shared.ports.is_empty() {
        for p in &ar.shared.ports {
            list.push(UsedPort {
                host_ip: &p.host_ip,
                value: p.value,
                ignore_collision: p.ignore_collision,
            });
        }
    } else {
        let nets = ar
            .shared
            .networks
            .iter()
            .chain(ar.tasks.values().filter_map(|t| t.networks.first()));
        for n in nets {
            for p in n.ports() {
                list.push(UsedPort {
                    host_ip: &n.ip,
                    value: p.value,
                    ignore_collision: p.ignore_collision,
                });
            }
        }
    }
    if list.is_empty() {
        return Ok(());
    }
    ports.add_ports(&list)
}
