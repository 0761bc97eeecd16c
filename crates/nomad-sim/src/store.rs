//! The simulator's cluster store: nodes, jobs, allocations and deployments,
//! laid out so that a consistent snapshot is a handful of `Arc` clones.
//!
//! * Nodes live in a [`NodeSet`] (stable slots, interned IDs, the ID order
//!   the scheduler's determinism needs, per-pool and per-datacenter lists),
//!   replaced as a whole when nodes change.
//! * Each node's allocations are an `Arc`'d list with two running totals:
//!   what [`State::node_usage`] reports (allocations not terminal on the
//!   client) and what the plan applier's fit check counts (allocations not
//!   terminal on either side, as Nomad's `AllocsByNodeTerminal(false)`).
//! * Jobs hold their versions, their allocations and their latest
//!   deployment.
//! * An index maps allocation IDs to node slots (an allocation never
//!   changes node), so a lookup by ID reads one node's list.
//!
//! Cloning a [`Store`] is the snapshot: O(1), sharing everything. Writers
//! go through `Arc::make_mut`, so a write copies only what a live snapshot
//! still shares (the simulator applies plans after the evaluation's
//! snapshot is released, so in the common case nothing is copied).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use nomad_scheduler::resources::alloc_usage;
use nomad_scheduler::{NodeFacts, NodeUsage, PlanResult, State};
use nomad_types::consts::{alloc_client_status, alloc_desired_status};
use nomad_types::{Allocation, Deployment, Job, Node, SchedulerConfiguration};

use crate::util::{hash_str, FxHashMap};

/// Nodes and their lookup tables.
#[derive(Debug, Default, Clone)]
pub(crate) struct NodeSet {
    /// Nodes by slot. A node keeps its slot for life.
    pub by_slot: Vec<Arc<Node>>,
    /// Interned node IDs by slot.
    pub ids: Vec<Arc<str>>,
    slot_of: FxHashMap<Arc<str>, u32>,
    /// Slot by the address of the node's own ID string: the scheduler asks
    /// with the IDs of the nodes it got from the store, which this finds
    /// without hashing them.
    by_ptr: FxHashMap<usize, u32>,
    sorted: Vec<Arc<Node>>,
    by_pool: BTreeMap<String, Vec<Arc<Node>>>,
    /// Nodes that take placements: all of them, and per pool.
    schedulable: Vec<Arc<Node>>,
    schedulable_by_pool: BTreeMap<String, Vec<Arc<Node>>>,
    /// The scheduler's compact view of the same lists, same order.
    schedulable_facts: Vec<NodeFacts>,
    schedulable_facts_by_pool: BTreeMap<String, Vec<NodeFacts>>,
    by_dc: BTreeMap<String, Vec<Arc<Node>>>,
}

impl NodeSet {
    pub(crate) fn slot(&self, id: &str) -> Option<u32> {
        if let Some(&slot) = self.by_ptr.get(&(id.as_ptr() as usize)) {
            // The interned ID (what `NodeFacts` carry) is checked without
            // reading the node.
            let interned = &self.ids[slot as usize];
            if interned.as_ptr() == id.as_ptr() && interned.len() == id.len() {
                return Some(slot);
            }
            let own = &self.by_slot[slot as usize].id;
            if own.as_ptr() == id.as_ptr() && own.len() == id.len() {
                return Some(slot);
            }
        }
        self.slot_of.get(id).copied()
    }

    fn upsert(&mut self, nodes: Vec<Node>, index: u64) -> Vec<u32> {
        let mut slots = Vec::with_capacity(nodes.len());
        for mut node in nodes {
            if node.computed_class.is_empty() {
                node.computed_class = node.compute_class();
            }
            let slot = self.slot(&node.id);
            if node.create_index == 0 {
                node.create_index = slot.map_or(index, |s| self.by_slot[s as usize].create_index);
            }
            node.modify_index = index;
            let node = Arc::new(node);
            match slot {
                Some(s) => {
                    self.by_slot[s as usize] = node;
                    slots.push(s);
                }
                None => {
                    let s = self.by_slot.len() as u32;
                    let id: Arc<str> = Arc::from(node.id.as_str());
                    self.ids.push(id.clone());
                    self.slot_of.insert(id, s);
                    self.by_slot.push(node);
                    slots.push(s);
                }
            }
        }
        self.by_ptr = self
            .by_slot
            .iter()
            .enumerate()
            .map(|(s, n)| (n.id.as_ptr() as usize, s as u32))
            .chain(
                self.ids
                    .iter()
                    .enumerate()
                    .map(|(s, id)| (id.as_ptr() as usize, s as u32)),
            )
            .collect();
        self.sorted = self.by_slot.clone();
        self.sorted.sort_by(|a, b| a.id.cmp(&b.id));
        self.by_pool.clear();
        self.by_dc.clear();
        self.schedulable.clear();
        self.schedulable_by_pool.clear();
        self.schedulable_facts.clear();
        self.schedulable_facts_by_pool.clear();
        let mut names: FxHashMap<String, Arc<str>> = FxHashMap::default();
        let mut share = |s: &str| -> Arc<str> {
            if let Some(a) = names.get(s) {
                return a.clone();
            }
            let a: Arc<str> = Arc::from(s);
            names.insert(s.to_string(), a.clone());
            a
        };
        for n in &self.sorted {
            if n.is_schedulable() {
                self.schedulable.push(n.clone());
                self.schedulable_by_pool
                    .entry(n.node_pool.clone())
                    .or_default()
                    .push(n.clone());
                let id = match self.slot_of.get(n.id.as_str()) {
                    Some(&s) => self.ids[s as usize].clone(),
                    None => Arc::from(n.id.as_str()),
                };
                let facts = NodeFacts::of(n, id, &mut share);
                self.schedulable_facts.push(facts.clone());
                self.schedulable_facts_by_pool
                    .entry(n.node_pool.clone())
                    .or_default()
                    .push(facts);
            }
            self.by_pool
                .entry(n.node_pool.clone())
                .or_default()
                .push(n.clone());
            self.by_dc
                .entry(n.datacenter.clone())
                .or_default()
                .push(n.clone());
        }
        slots
    }
}

/// One node's allocations and running totals.
#[derive(Debug, Clone, Default)]
pub(crate) struct NodeAllocs {
    pub allocs: Arc<Vec<Arc<Allocation>>>,
    /// Allocations not terminal on the client (the scheduler's view).
    pub usage: NodeUsage,
    /// Allocations not terminal on either side (the applier's fit check).
    pub live: NodeUsage,
}

/// A job's versions, allocations and latest deployment.
#[derive(Debug, Clone, Default)]
pub(crate) struct JobEntry {
    pub versions: Vec<Arc<Job>>,
    pub allocs: Vec<Arc<Allocation>>,
    pub latest_deployment: Option<Arc<Deployment>>,
}

/// Allocation ID → node slot (an allocation never changes node): lookups by
/// ID end in one node's list. Keyed by a 32-bit hash to stay at ~9 bytes an
/// allocation; the rare IDs whose hash is already taken by an allocation on
/// another node are kept by full ID. A hash match is confirmed in the
/// node's list, so a false match costs a scan, never a wrong answer.
#[derive(Debug, Default, Clone)]
pub(crate) struct IdIndex {
    by_hash: FxHashMap<u32, u32>,
    exact: FxHashMap<String, u32>,
}

fn short_hash(id: &str) -> u32 {
    let h = hash_str(id);
    (h >> 32) as u32 ^ h as u32
}

impl IdIndex {
    fn insert(&mut self, id: &str, slot: u32) {
        match self.by_hash.entry(short_hash(id)) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(slot);
            }
            std::collections::hash_map::Entry::Occupied(e) if *e.get() == slot => {}
            std::collections::hash_map::Entry::Occupied(_) => {
                self.exact.insert(id.to_string(), slot);
            }
        }
    }

    fn slot(&self, id: &str) -> Option<u32> {
        if !self.exact.is_empty() {
            if let Some(&s) = self.exact.get(id) {
                return Some(s);
            }
        }
        self.by_hash.get(&short_hash(id)).copied()
    }
}

/// Adds (`sign` 1) or removes (`sign` -1) an allocation's share of a node's
/// totals.
fn account(n: &mut NodeAllocs, alloc: &Allocation, sign: i64) {
    let client_terminal = alloc.client_terminal_status();
    let terminal = client_terminal || alloc.server_terminal_status();
    if client_terminal && terminal {
        return;
    }
    let res = alloc_usage(alloc);
    for (total, counted) in [(&mut n.usage, !client_terminal), (&mut n.live, !terminal)] {
        if !counted {
            continue;
        }
        if sign > 0 {
            total.used.add(res);
            total.allocs += 1;
        } else {
            total.used.sub(res);
            total.allocs = total.allocs.saturating_sub(1);
        }
    }
}

/// One node's part of a committed plan.
#[derive(Debug, Default)]
pub(crate) struct NodeCommit {
    pub slot: u32,
    pub stops: Vec<Arc<Allocation>>,
    pub evictions: Vec<Arc<Allocation>>,
    pub placed: Vec<Arc<Allocation>>,
    /// Per placement, whether it is new (no earlier version anywhere), when
    /// the committer already knows; empty: look it up.
    pub new: Vec<bool>,
}

/// A committed plan result, keyed by node slot.
#[derive(Debug, Default)]
pub(crate) struct Commit {
    pub nodes: Vec<NodeCommit>,
    pub deployment: Option<Deployment>,
    pub deployment_updates: Vec<nomad_reconcile::DeploymentStatusUpdate>,
}

/// How the simulated clients answer the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAck {
    /// Clients never report: new allocations stay `pending`, stopped ones
    /// keep running (and keep their resources) until something else
    /// changes them.
    None,
    /// Clients act at once: new allocations become `running`, stopped and
    /// evicted ones `complete` (their resources free up immediately).
    Immediate,
}

/// The simulated cluster's state. `clone()` is a consistent snapshot in
/// O(1); implements the scheduler's [`State`].
#[derive(Debug, Clone)]
pub struct Store {
    index: u64,
    nodes: Arc<NodeSet>,
    per_node: Arc<Vec<NodeAllocs>>,
    jobs: Arc<FxHashMap<String, FxHashMap<String, Arc<JobEntry>>>>,
    deployments: Arc<FxHashMap<String, Arc<Deployment>>>,
    ids: Arc<IdIndex>,
    config: Arc<SchedulerConfiguration>,
    alloc_count: usize,
}

impl Default for Store {
    fn default() -> Self {
        Store::new(SchedulerConfiguration::default())
    }
}

impl Store {
    /// An empty cluster with this scheduler configuration.
    pub fn new(config: SchedulerConfiguration) -> Self {
        Store {
            index: 1,
            nodes: Arc::default(),
            per_node: Arc::default(),
            jobs: Arc::default(),
            deployments: Arc::default(),
            ids: Arc::default(),
            config: Arc::new(config),
            alloc_count: 0,
        }
    }

    fn bump(&mut self) -> u64 {
        self.index += 1;
        self.index
    }

    /// Adds or replaces nodes (matched by ID).
    pub fn upsert_nodes(&mut self, nodes: Vec<Node>) {
        let index = self.bump();
        Arc::make_mut(&mut self.nodes).upsert(nodes, index);
        let count = self.nodes.by_slot.len();
        let per_node = Arc::make_mut(&mut self.per_node);
        per_node.resize_with(count, NodeAllocs::default);
    }

    /// Registers `job` as its job's next version (0 the first time) and
    /// returns the stored copy.
    pub fn upsert_job(&mut self, mut job: Job) -> Arc<Job> {
        let index = self.bump();
        let ns = job.namespace().to_string();
        let id = job.id().to_string();
        let jobs = Arc::make_mut(&mut self.jobs);
        let entry = Arc::make_mut(jobs.entry(ns).or_default().entry(id).or_default());
        let previous = entry.versions.last();
        job.version = Some(previous.map_or(0, |j| j.version() + 1));
        job.create_index = Some(previous.and_then(|j| j.create_index).unwrap_or(index));
        job.modify_index = Some(index);
        job.job_modify_index = Some(index);
        let job = Arc::new(job);
        entry.versions.push(job.clone());
        job
    }

    /// Replaces the scheduler configuration.
    pub fn set_scheduler_config(&mut self, config: SchedulerConfiguration) {
        self.bump();
        self.config = Arc::new(config);
    }

    /// The Raft-like index of the last change.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.nodes.by_slot.len()
    }

    /// Number of allocations ever placed (every version counted once).
    pub fn alloc_count(&self) -> usize {
        self.alloc_count
    }

    /// Nodes in slot order (the order they were added).
    pub fn nodes_in_slot_order(&self) -> &[Arc<Node>] {
        &self.nodes.by_slot
    }

    /// Every job's current version, ordered by namespace and ID.
    pub fn jobs(&self) -> Vec<Arc<Job>> {
        let mut out: Vec<Arc<Job>> = self
            .jobs
            .values()
            .flat_map(|m| m.values())
            .filter_map(|e| e.versions.last().cloned())
            .collect();
        out.sort_by(|a, b| (a.namespace(), a.id()).cmp(&(b.namespace(), b.id())));
        out
    }

    pub(crate) fn node_set(&self) -> &NodeSet {
        &self.nodes
    }

    pub(crate) fn node_allocs(&self, slot: u32) -> Option<&NodeAllocs> {
        self.per_node.get(slot as usize)
    }

    fn job_entry(&self, namespace: &str, id: &str) -> Option<&Arc<JobEntry>> {
        self.jobs.get(namespace)?.get(id)
    }

    /// The version of allocation `id` on node `slot` in this snapshot, with
    /// its position in the node's list.
    pub(crate) fn find_on(&self, slot: u32, id: &str) -> Option<(usize, &Arc<Allocation>)> {
        let list = &self.per_node.get(slot as usize)?.allocs;
        list.iter().enumerate().find(|(_, a)| a.id == id)
    }

    /// The node slot allocation `id` was placed on, if it was ever placed.
    pub(crate) fn slot_of_alloc(&self, id: &str) -> Option<u32> {
        self.ids.slot(id)
    }

    /// Applies a committed plan result as the leader's state store would:
    /// stops and evictions update existing allocations, placements are
    /// stored (new) or replace their previous version (in place), and the
    /// indexes and running totals follow. A placement nobody else holds is
    /// stored as is (its indexes stamped in place); a shared one is copied.
    /// Returns the index it was applied at. Entries that name unknown nodes
    /// or allocations are skipped.
    pub fn apply(&mut self, result: PlanResult, ack: ClientAck) -> u64 {
        let mut commit = Commit {
            deployment: result.deployment,
            deployment_updates: result.deployment_updates,
            ..Commit::default()
        };
        let mut by_node: BTreeMap<String, NodeCommit> = BTreeMap::new();
        let parts = [
            (result.node_update, 0),
            (result.node_preemptions, 1),
            (result.node_allocation, 2),
        ];
        for (map, kind) in parts {
            for (node_id, list) in map {
                let Some(slot) = self.nodes.slot(&node_id) else {
                    continue;
                };
                let entry = by_node.entry(node_id).or_insert_with(|| NodeCommit {
                    slot,
                    ..NodeCommit::default()
                });
                match kind {
                    0 => entry.stops = list,
                    1 => entry.evictions = list,
                    _ => entry.placed = list,
                }
            }
        }
        commit.nodes = by_node.into_values().collect();
        self.apply_commit(commit, ack)
    }

    /// Applies a commit (a plan result keyed by node slot).
    pub(crate) fn apply_commit(&mut self, commit: Commit, ack: ClientAck) -> u64 {
        let index = self.bump();
        for node in &commit.nodes {
            for alloc in &node.stops {
                self.apply_change(node.slot, alloc, index, |e| merged_stop(e, alloc, ack));
            }
            for slim in &node.evictions {
                self.apply_change(node.slot, slim, index, |e| merged_evict(e, slim, ack));
            }
        }
        let mut ids = std::mem::take(&mut self.ids);
        for node in commit.nodes {
            let slot = node.slot;
            for (i, mut alloc) in node.placed.into_iter().enumerate() {
                let known = match node.new.get(i) {
                    Some(&new) => !new && ids.slot(&alloc.id) == Some(slot),
                    None => ids.slot(&alloc.id) == Some(slot),
                };
                let old = if known {
                    self.find_on(slot, &alloc.id)
                } else {
                    None
                };
                let old_pos = old.map(|(p, _)| p);
                let create_index = old.map_or(index, |(_, o)| o.create_index);
                let old_job = old.and_then(|(_, o)| o.job.clone());
                let new = Arc::make_mut(&mut alloc);
                new.create_index = create_index;
                new.modify_index = index;
                new.alloc_modify_index = index;
                if new.job.is_none() {
                    new.job = old_job;
                }
                if ack == ClientAck::Immediate
                    && new.client_status == alloc_client_status::PENDING
                    && !new.server_terminal_status()
                {
                    new.client_status = alloc_client_status::RUNNING.to_string();
                }
                if old_pos.is_none() {
                    Arc::make_mut(&mut ids).insert(&new.id, slot);
                }
                self.put(slot, alloc, old_pos);
            }
        }
        self.ids = ids;
        if let Some(mut d) = commit.deployment {
            let existing = self.deployments.get(&d.id);
            d.create_index = existing.map_or(index, |e| e.create_index);
            d.modify_index = index;
            self.put_deployment(Arc::new(d));
        }
        for u in &commit.deployment_updates {
            if let Some(d) = self.deployments.get(&u.deployment_id) {
                let mut d = (**d).clone();
                d.status = u.status.clone();
                d.status_description = u.status_description.clone();
                d.modify_index = index;
                self.put_deployment(Arc::new(d));
            }
        }
        index
    }

    fn put_deployment(&mut self, d: Arc<Deployment>) {
        let jobs = Arc::make_mut(&mut self.jobs);
        if let Some(entry) = jobs
            .get_mut(d.namespace.as_str())
            .and_then(|m| m.get_mut(d.job_id.as_str()))
        {
            let entry = Arc::make_mut(entry);
            let newer = entry
                .latest_deployment
                .as_ref()
                .is_none_or(|l| l.id == d.id || l.create_index <= d.create_index);
            if newer {
                entry.latest_deployment = Some(d.clone());
            }
        }
        Arc::make_mut(&mut self.deployments).insert(d.id.clone(), d);
    }

    /// Replaces an existing allocation on `slot` by `change(existing)`.
    fn apply_change(
        &mut self,
        slot: u32,
        alloc: &Allocation,
        index: u64,
        change: impl FnOnce(&Allocation) -> Allocation,
    ) {
        let Some((pos, existing)) = self.find_on(slot, &alloc.id) else {
            return;
        };
        let mut new = change(existing);
        new.modify_index = index;
        new.alloc_modify_index = index;
        self.put(slot, Arc::new(new), Some(pos));
    }

    /// Stores `new` on `slot`, replacing the entry at `old_pos`.
    fn put(&mut self, slot: u32, new: Arc<Allocation>, old_pos: Option<usize>) {
        let per_node = Arc::make_mut(&mut self.per_node);
        let Some(node) = per_node.get_mut(slot as usize) else {
            return;
        };
        let list = Arc::make_mut(&mut node.allocs);
        match old_pos.filter(|&p| p < list.len()) {
            Some(p) => {
                let old = std::mem::replace(&mut list[p], new.clone());
                account(node, &old, -1);
            }
            None => {
                list.push(new.clone());
                self.alloc_count += 1;
            }
        }
        account(node, &new, 1);
        let jobs = Arc::make_mut(&mut self.jobs);
        if !jobs.contains_key(new.namespace.as_str()) {
            jobs.insert(new.namespace.clone(), FxHashMap::default());
        }
        let Some(by_id) = jobs.get_mut(new.namespace.as_str()) else {
            return;
        };
        if !by_id.contains_key(new.job_id.as_str()) {
            by_id.insert(new.job_id.clone(), Arc::default());
        }
        let Some(entry) = by_id.get_mut(new.job_id.as_str()) else {
            return;
        };
        let entry = Arc::make_mut(entry);
        match old_pos.and_then(|_| entry.allocs.iter().rposition(|a| a.id == new.id)) {
            Some(p) => entry.allocs[p] = new,
            None => entry.allocs.push(new),
        }
    }
}

/// The stored version of `existing` after the plan stopped it (`stopped`
/// is the plan's copy): Nomad's normalised stop carries the desired
/// status and description, the client status and its transitions, and the
/// follow-up evaluation.
pub(crate) fn merged_stop(
    existing: &Allocation,
    stopped: &Allocation,
    ack: ClientAck,
) -> Allocation {
    let mut new = existing.clone();
    new.desired_status = alloc_desired_status::STOP.to_string();
    new.desired_description = stopped.desired_description.clone();
    if !stopped.client_status.is_empty() {
        new.client_status = stopped.client_status.clone();
    }
    if stopped.alloc_states.len() > new.alloc_states.len() {
        new.alloc_states = stopped.alloc_states.clone();
    }
    if !stopped.followup_eval_id.is_empty() {
        new.followup_eval_id = stopped.followup_eval_id.clone();
    }
    if let Some(t) = &stopped.reschedule_tracker {
        new.reschedule_tracker = Some(t.clone());
    }
    new.modify_time = stopped.modify_time.max(existing.modify_time);
    ack_stop(&mut new, ack);
    new
}

/// The stored version of `existing` after a plan evicted it.
pub(crate) fn merged_evict(existing: &Allocation, slim: &Allocation, ack: ClientAck) -> Allocation {
    let mut new = existing.clone();
    new.desired_status = alloc_desired_status::EVICT.to_string();
    new.desired_description = slim.desired_description.clone();
    new.preempted_by_allocation = slim.preempted_by_allocation.clone();
    ack_stop(&mut new, ack);
    new
}

fn ack_stop(alloc: &mut Allocation, ack: ClientAck) {
    if ack == ClientAck::Immediate && !alloc.client_terminal_status() {
        alloc.client_status = alloc_client_status::COMPLETE.to_string();
    }
}

impl State for Store {
    fn nodes(&self) -> Cow<'_, [Arc<Node>]> {
        Cow::Borrowed(&self.nodes.sorted)
    }

    fn nodes_by_pool(&self, pool: &str) -> Cow<'_, [Arc<Node>]> {
        Cow::Borrowed(self.nodes.by_pool.get(pool).map_or(&[], Vec::as_slice))
    }

    fn nodes_by_datacenter(&self, datacenter: &str) -> Cow<'_, [Arc<Node>]> {
        Cow::Borrowed(self.nodes.by_dc.get(datacenter).map_or(&[], Vec::as_slice))
    }

    fn schedulable_nodes(&self, pool: &str) -> Option<Cow<'_, [Arc<Node>]>> {
        let list = if pool == nomad_types::consts::job_defaults::NODE_POOL_ALL {
            self.nodes.schedulable.as_slice()
        } else {
            self.nodes
                .schedulable_by_pool
                .get(pool)
                .map_or(&[][..], Vec::as_slice)
        };
        Some(Cow::Borrowed(list))
    }

    fn schedulable_node_facts(&self, pool: &str) -> Option<Cow<'_, [NodeFacts]>> {
        let list = if pool == nomad_types::consts::job_defaults::NODE_POOL_ALL {
            self.nodes.schedulable_facts.as_slice()
        } else {
            self.nodes
                .schedulable_facts_by_pool
                .get(pool)
                .map_or(&[][..], Vec::as_slice)
        };
        Some(Cow::Borrowed(list))
    }

    fn node_by_id(&self, id: &str) -> Option<Arc<Node>> {
        let slot = self.nodes.slot(id)?;
        self.nodes.by_slot.get(slot as usize).cloned()
    }

    /// The store's interned ID: the score rows of a million allocations
    /// share one string per node.
    fn shared_node_id(&self, node: &Node) -> Arc<str> {
        match self.nodes.slot(&node.id) {
            Some(slot) => self.nodes.ids[slot as usize].clone(),
            None => Arc::from(node.id.as_str()),
        }
    }

    fn allocs_by_node(&self, node_id: &str) -> Cow<'_, [Arc<Allocation>]> {
        match self.nodes.slot(node_id).and_then(|s| self.node_allocs(s)) {
            Some(n) => Cow::Borrowed(n.allocs.as_slice()),
            None => Cow::Borrowed(&[]),
        }
    }

    fn node_usage(&self, node_id: &str) -> NodeUsage {
        self.nodes
            .slot(node_id)
            .and_then(|s| self.node_allocs(s))
            .map(|n| n.usage)
            .unwrap_or_default()
    }

    fn allocs_by_job(&self, namespace: &str, job_id: &str) -> Cow<'_, [Arc<Allocation>]> {
        match self.job_entry(namespace, job_id) {
            Some(e) => Cow::Borrowed(e.allocs.as_slice()),
            None => Cow::Borrowed(&[]),
        }
    }

    fn alloc_by_id(&self, id: &str) -> Option<Arc<Allocation>> {
        let slot = self.slot_of_alloc(id)?;
        self.find_on(slot, id).map(|(_, a)| a.clone())
    }

    fn job_by_id(&self, namespace: &str, id: &str) -> Option<Arc<Job>> {
        self.job_entry(namespace, id)?.versions.last().cloned()
    }

    fn job_by_id_and_version(&self, namespace: &str, id: &str, version: u64) -> Option<Arc<Job>> {
        self.job_entry(namespace, id)?
            .versions
            .iter()
            .rev()
            .find(|j| j.version() == version)
            .cloned()
    }

    fn latest_deployment_by_job(&self, namespace: &str, job_id: &str) -> Option<Arc<Deployment>> {
        self.job_entry(namespace, job_id)?.latest_deployment.clone()
    }

    fn deployment_by_id(&self, id: &str) -> Option<Arc<Deployment>> {
        self.deployments.get(id).cloned()
    }

    fn deployments_by_job(&self, namespace: &str, job_id: &str) -> Vec<Arc<Deployment>> {
        let mut out: Vec<Arc<Deployment>> = self
            .deployments
            .values()
            .filter(|d| d.namespace == namespace && d.job_id == job_id)
            .cloned()
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    fn scheduler_config(&self) -> Cow<'_, SchedulerConfiguration> {
        Cow::Borrowed(&self.config)
    }

    fn latest_index(&self) -> u64 {
        self.index
    }
}
