//! The plan applier: the leader's side of optimistic concurrency.
//!
//! Schedulers plan against snapshots that may be stale. Like Nomad's plan
//! applier (`plan_apply.go`), [`Applier`] re-checks every node a plan
//! places on against the newest state — the store plus every result
//! committed but not yet applied — commits the nodes that still fit and
//! rejects the others, node by node (or the whole plan when it is
//! all-at-once). A partial commit returns a refresh index and a fresh
//! snapshot, so the scheduler re-plans what was rejected.
//!
//! Committed results are queued and applied to the store when the
//! evaluation's snapshot is released ([`Applier::finish`]), so applying
//! never copies what the snapshot shares; a partial commit applies the
//! queue at once, to hand back a snapshot that includes it.

use std::sync::Arc;

use nomad_scheduler::ports::{HostAddress, NodePortConfig, NodePorts, UsedPort};
use nomad_scheduler::resources::{alloc_usage, node_capacity, node_reserved};
use nomad_scheduler::{NodeUsage, Plan, PlanResult, Planner, PlannerError, Submission};
use nomad_types::consts::{node_eligibility, node_status};
use nomad_types::{Allocation, Evaluation, Node};

use crate::store::{merged_evict, merged_stop, ClientAck, Commit, NodeCommit, Store};
use crate::util::{FxHashMap, FxHashSet};

/// Why the applier refused one node of a plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// The evaluation whose plan it was.
    pub eval_id: String,
    /// The node.
    pub node_id: String,
    /// Nomad's reason (`cpu`, `memory`, `node is not eligible`, …).
    pub reason: String,
}

/// Counters of the plan applier.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlanStats {
    /// Plans submitted.
    pub plans: u64,
    /// Plans committed only in part (the scheduler refreshed and retried).
    pub partial_commits: u64,
    /// Nodes refused, with the reason.
    pub rejections: Vec<Rejection>,
    /// Allocations committed (new and updated).
    pub allocs_committed: u64,
}

/// What the plan applier knows about a node beyond the store: results
/// committed but not yet applied.
#[derive(Debug, Default)]
struct Pending {
    live: NodeUsage,
    /// The newest version of each allocation those results changed.
    changed: Vec<Arc<Allocation>>,
}

/// Evaluations the scheduler created, updated or re-blocked.
#[derive(Debug, Default)]
pub(crate) struct EvalUpdates {
    pub created: Vec<Evaluation>,
    pub updated: Vec<Evaluation>,
    pub reblocked: Vec<Evaluation>,
}

/// The plan applier (a [`Planner`] over [`Store`] snapshots).
pub(crate) struct Applier<'a> {
    store: &'a mut Store,
    ack: ClientAck,
    queue: Vec<Commit>,
    pending: FxHashMap<u32, Pending>,
    stats: PlanStats,
    evals: EvalUpdates,
    placed: Vec<Arc<Allocation>>,
}

/// What an applier did, handed back by [`Applier::finish`].
#[derive(Debug, Default)]
pub(crate) struct Applied {
    pub stats: PlanStats,
    pub evals: EvalUpdates,
}

impl<'a> Applier<'a> {
    /// An applier committing into `store`.
    pub(crate) fn new(store: &'a mut Store, ack: ClientAck) -> Self {
        Applier {
            store,
            ack,
            queue: Vec::new(),
            pending: FxHashMap::default(),
            stats: PlanStats::default(),
            evals: EvalUpdates::default(),
            placed: Vec::new(),
        }
    }

    /// Applies every committed result to the store. Call once the
    /// snapshots the scheduler used are dropped.
    pub(crate) fn finish(mut self) -> Applied {
        self.flush();
        Applied {
            stats: self.stats,
            evals: self.evals,
        }
    }

    fn flush(&mut self) {
        self.pending.clear();
        for commit in std::mem::take(&mut self.queue) {
            self.store.apply_commit(commit, self.ack);
        }
    }

    /// The store results are committed into (without those still queued).
    pub(crate) fn store(&self) -> &Store {
        self.store
    }

    /// New allocations committed so far (handed over: the applier forgets
    /// them, so applying can store them without copying).
    pub(crate) fn take_placed(&mut self) -> Vec<Arc<Allocation>> {
        std::mem::take(&mut self.placed)
    }

    /// The newest version of allocation `id` on node `slot`.
    fn newest(&self, slot: u32, id: &str) -> Option<&Arc<Allocation>> {
        if let Some(p) = self.pending.get(&slot) {
            if let Some(a) = p.changed.iter().rev().find(|a| a.id == id) {
                return Some(a);
            }
        }
        if self.store.slot_of_alloc(id) != Some(slot) {
            return None;
        }
        self.store.find_on(slot, id).map(|(_, a)| a)
    }

    fn live_usage(&self, slot: u32) -> NodeUsage {
        match self.pending.get(&slot) {
            Some(p) => p.live,
            None => self
                .store
                .node_allocs(slot)
                .map(|n| n.live)
                .unwrap_or_default(),
        }
    }

    /// Nomad's `evaluateNodePlan`: whether the plan's part on `node_id`
    /// (placing `placed`) fits the newest state; `Err` carries the reason.
    fn check_node(
        &self,
        plan: &Plan,
        node_id: &str,
        slot: Option<u32>,
        placed: &[Arc<Allocation>],
    ) -> Result<(), String> {
        if placed.is_empty() {
            return Ok(());
        }
        let set = self.store.node_set();
        let Some(slot) = slot else {
            return Err("node does not exist".to_string());
        };
        let node = &set.by_slot[slot as usize];
        if node.status == node_status::DISCONNECTED {
            return Err("node is disconnected and contains invalid updates".to_string());
        }
        if node.status != node_status::READY {
            return Err("node is not ready for placements".to_string());
        }
        let subset = placed.iter().all(|a| {
            self.newest(slot, &a.id)
                .is_some_and(|e| !e.terminal_status())
        });
        if subset {
            return Ok(());
        }
        if node.scheduling_eligibility == node_eligibility::INELIGIBLE {
            return Err("node is not eligible".to_string());
        }
        // Nomad's proposed set: the node's live allocations minus what the
        // plan stops, evicts or replaces (by ID), plus what it places.
        let removed = removed_ids(plan, node_id);
        let mut live = self.live_usage(slot);
        for id in &removed {
            if let Some(e) = self.newest(slot, id).filter(|e| !e.terminal_status()) {
                live.used.sub(alloc_usage(e));
                live.allocs = live.allocs.saturating_sub(1);
            }
        }
        for a in placed.iter() {
            if removed.is_empty() {
                // Only placements on this node: each replaces its previous
                // version, if any.
                if let Some(e) = self.newest(slot, &a.id).filter(|e| !e.terminal_status()) {
                    live.used.sub(alloc_usage(e));
                    live.allocs = live.allocs.saturating_sub(1);
                }
            }
            if !a.terminal_status() {
                live.used.add(alloc_usage(a));
                live.allocs += 1;
            }
        }
        let available = node_capacity(node).minus(node_reserved(node));
        if let Some(dimension) = available.first_short(live.used) {
            return Err(dimension.to_string());
        }
        if node.node_max_allocs > 0 && i64::from(live.allocs) > node.node_max_allocs {
            return Err("max allocation exceeded".to_string());
        }
        if placed.iter().any(|a| holds_exclusive(a)) {
            self.check_exclusive(slot, node, &removed, placed)?;
        }
        Ok(())
    }

    /// Ports, reserved cores and device instances: no two allocations of
    /// the proposed set may hold the same one.
    fn check_exclusive(
        &self,
        slot: u32,
        node: &Node,
        removed: &FxHashSet<&str>,
        placed: &[Arc<Allocation>],
    ) -> Result<(), String> {
        let mut proposed: Vec<&Allocation> = Vec::new();
        let mut seen: FxHashSet<&str> = FxHashSet::default();
        let changed = self.pending.get(&slot).map_or(&[][..], |p| &p.changed[..]);
        for a in changed.iter().rev() {
            if seen.insert(a.id.as_str()) && !removed.contains(a.id.as_str()) {
                proposed.push(a);
            }
        }
        if let Some(n) = self.store.node_allocs(slot) {
            for a in n.allocs.iter() {
                if !seen.contains(a.id.as_str()) && !removed.contains(a.id.as_str()) {
                    proposed.push(a);
                }
            }
        }
        proposed.extend(placed.iter().map(|a| &**a));
        proposed.retain(|a| !a.terminal_status());

        let config = port_config(node).map_err(|e| format!("reserved node port collision: {e}"))?;
        let mut ports = NodePorts::new(Arc::new(config));
        let mut cores: FxHashSet<u16> = FxHashSet::default();
        let mut devices: FxHashSet<String> = FxHashSet::default();
        for a in &proposed {
            let Some(ar) = &a.allocated_resources else {
                continue;
            };
            let mut used: Vec<UsedPort<'_>> = Vec::new();
            for p in &ar.shared.ports {
                used.push(UsedPort {
                    host_ip: &p.host_ip,
                    value: p.value,
                    ignore_collision: p.ignore_collision,
                });
            }
            if ar.shared.ports.is_empty() {
                let nets = ar
                    .shared
                    .networks
                    .iter()
                    .chain(ar.tasks.values().filter_map(|t| t.networks.first()));
                for n in nets {
                    for p in n.ports() {
                        used.push(UsedPort {
                            host_ip: &n.ip,
                            value: p.value,
                            ignore_collision: p.ignore_collision,
                        });
                    }
                }
            }
            ports
                .add_ports(&used)
                .map_err(|e| format!("reserved alloc port collision: {e}"))?;
            for t in ar.tasks.values() {
                for &c in &t.cpu.reserved_cores {
                    if !cores.insert(c) {
                        return Err("cores".to_string());
                    }
                }
                for d in &t.devices {
                    for id in &d.device_ids {
                        let key = format!("{}/{}/{}/{}", d.vendor, d.device_type, d.name, id);
                        if !devices.insert(key) {
                            return Err("device oversubscribed".to_string());
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Records a committed result: queued for the store, and reflected in
    /// the per-node view the next fit checks read.
    fn commit(&mut self, mut commit: Commit) {
        let mut changes: Vec<(u32, Arc<Allocation>, bool)> = Vec::new();
        let mut placed = 0;
        for node in &mut commit.nodes {
            let slot = node.slot;
            for a in &node.stops {
                if let Some(old) = self.newest(slot, &a.id) {
                    changes.push((slot, Arc::new(merged_stop(old, a, self.ack)), true));
                }
            }
            for a in &node.evictions {
                if let Some(old) = self.newest(slot, &a.id) {
                    changes.push((slot, Arc::new(merged_evict(old, a, self.ack)), true));
                }
            }
            placed += node.placed.len() as u64;
            node.new.clear();
            for a in &node.placed {
                let known = self.newest(slot, &a.id).is_some();
                if !known {
                    self.placed.push(a.clone());
                }
                // Tell the store which placements are new, so it need not look.
                node.new.push(!known);
                changes.push((slot, a.clone(), known));
            }
        }
        self.stats.allocs_committed += placed;
        for (slot, new, known) in changes {
            let mut live = self.live_usage(slot);
            if let Some(old) = known
                .then(|| self.newest(slot, &new.id))
                .flatten()
                .filter(|o| !o.terminal_status())
            {
                live.used.sub(alloc_usage(old));
                live.allocs = live.allocs.saturating_sub(1);
            }
            if !new.terminal_status() {
                live.used.add(alloc_usage(&new));
                live.allocs += 1;
            }
            let p = self.pending.entry(slot).or_default();
            p.live = live;
            p.changed.push(new);
        }
        self.queue.push(commit);
    }
}

/// IDs the plan stops, evicts or replaces on a node, when it does more
/// than place there (empty otherwise: the caller then handles placements,
/// whose IDs are distinct, one by one).
fn removed_ids<'p>(plan: &'p Plan, node_id: &str) -> FxHashSet<&'p str> {
    let mut out = FxHashSet::default();
    let stops = plan.node_update.get(node_id).filter(|l| !l.is_empty());
    let evictions = plan.node_preemptions.get(node_id).filter(|l| !l.is_empty());
    if stops.is_none() && evictions.is_none() {
        return out;
    }
    for list in [stops, evictions, plan.node_allocation.get(node_id)]
        .into_iter()
        .flatten()
    {
        out.extend(list.iter().map(|a| a.id.as_str()));
    }
    out
}

/// Whether an allocation holds ports, reserved cores or devices.
fn holds_exclusive(a: &Allocation) -> bool {
    let Some(ar) = &a.allocated_resources else {
        return false;
    };
    !ar.shared.ports.is_empty()
        || ar
            .shared
            .networks
            .iter()
            .any(|n| n.ports().next().is_some())
        || ar.tasks.values().any(|t| {
            !t.cpu.reserved_cores.is_empty()
                || !t.devices.is_empty()
                || t.networks.iter().any(|n| n.ports().next().is_some())
        })
}

/// A node's port configuration (reserved ports, host network addresses,
/// dynamic range), as the scheduler builds it.
fn port_config(node: &Node) -> Result<NodePortConfig, nomad_scheduler::ports::PortError> {
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

impl Planner<Store> for Applier<'_> {
    fn submit_plan(&mut self, plan: &Plan) -> Result<Submission<Store>, PlannerError> {
        self.stats.plans += 1;
        let mut result = PlanResult::default();
        let mut commit = Commit::default();
        let mut partial = false;
        // Every node the plan touches: where it places, then where it only
        // stops or evicts.
        let mut nodes: Vec<&String> = plan.node_allocation.keys().collect();
        let mut others: FxHashSet<&str> = FxHashSet::default();
        for n in plan.node_update.keys().chain(plan.node_preemptions.keys()) {
            if !plan.node_allocation.contains_key(n.as_str()) && others.insert(n.as_str()) {
                nodes.push(n);
            }
        }
        let empty: Vec<Arc<Allocation>> = Vec::new();
        for node_id in nodes {
            let slot = self.store.node_set().slot(node_id);
            let placed = plan.node_allocation.get(node_id).unwrap_or(&empty);
            if let Err(reason) = self.check_node(plan, node_id, slot, placed) {
                partial = true;
                self.stats.rejections.push(Rejection {
                    eval_id: plan.eval_id.clone(),
                    node_id: node_id.clone(),
                    reason,
                });
                result.rejected_nodes.push(node_id.clone());
                if plan.all_at_once {
                    result.node_update.clear();
                    result.node_allocation.clear();
                    result.node_preemptions.clear();
                    commit.nodes.clear();
                    break;
                }
                continue;
            }
            let stops = plan.node_update.get(node_id).filter(|l| !l.is_empty());
            let evictions = plan.node_preemptions.get(node_id).filter(|l| !l.is_empty());
            if let Some(l) = stops {
                result.node_update.insert(node_id.clone(), l.clone());
            }
            if !placed.is_empty() {
                result
                    .node_allocation
                    .insert(node_id.clone(), placed.clone());
            }
            if let Some(l) = evictions {
                result.node_preemptions.insert(node_id.clone(), l.clone());
            }
            if let Some(slot) = slot {
                commit.nodes.push(NodeCommit {
                    slot,
                    stops: stops.cloned().unwrap_or_default(),
                    evictions: evictions.cloned().unwrap_or_default(),
                    placed: placed.clone(),
                    new: Vec::new(),
                });
            }
        }
        result.rejected_nodes.sort();
        if !(partial && plan.all_at_once) {
            result.deployment = plan.deployment.clone();
            result.deployment_updates = plan.deployment_updates.clone();
            commit.deployment = plan.deployment.clone();
            commit.deployment_updates = plan.deployment_updates.clone();
        }
        result.alloc_index = self.store.index() + self.queue.len() as u64 + 1;
        self.commit(commit);
        if !partial {
            return Ok(Submission::new(result));
        }
        self.stats.partial_commits += 1;
        self.flush();
        result.refresh_index = self.store.index();
        Ok(Submission {
            result,
            refreshed_state: Some(self.store.clone()),
        })
    }

    fn update_eval(&mut self, eval: &Evaluation) -> Result<(), PlannerError> {
        self.evals.updated.push(eval.clone());
        Ok(())
    }

    fn create_eval(&mut self, eval: &Evaluation) -> Result<(), PlannerError> {
        self.evals.created.push(eval.clone());
        Ok(())
    }

    fn reblock_eval(&mut self, eval: &Evaluation) -> Result<(), PlannerError> {
        self.evals.reblocked.push(eval.clone());
        Ok(())
    }
}
