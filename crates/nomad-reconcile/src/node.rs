//! The node reconciler for system and sysbatch jobs: every group (`count`
//! copies, usually one) on every ready, eligible node of the job's
//! datacenters and pool.
//!
//! Per node and allocation name:
//! * no allocation → place one (sysbatch: unless one already finished on
//!   that node for this job version);
//! * an allocation of an older job spec → ask the update oracle (in place,
//!   destructive, or nothing), destructive ones within `update.max_parallel`
//!   (minus allocations of the current deployment not yet healthy);
//! * the group or name is gone, or the node left the job's eligible set →
//!   stop; marked for migration → stop (the node is draining); on a down or
//!   missing node → stop as lost; on a disconnected node → `unknown`; back
//!   from a disconnect → record the reconnect.
//!
//! A deployment is created for a new version of a group with an update
//! block and completed once every group is healthy (and promoted, with
//! canaries). `update.canary` is a percentage of the group's nodes (Nomad
//! 1.11's system canaries): a destructive change goes first to that share
//! of the nodes, rounded up, as canaries (still at most `max_parallel` at a
//! time), and the rest waits for the deployment's promotion.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use nomad_types::consts::{alloc_client_status as client, job_type, node_status};
use nomad_types::{Allocation, DesiredUpdates, Job, Node, TaskGroup};

use crate::allocs::{self, alloc_name, job_modify_index};
use crate::cluster::sets::stopped_but_running_on_down_nodes;
use crate::deployment::{
    self as dep, cancel_unneeded, group_update, max_parallel, update_is_empty,
};
use crate::descriptions::{ALLOC_LOST, ALLOC_NODE_TAINTED, ALLOC_NOT_NEEDED, ALLOC_UPDATING};
use crate::types::{
    IdFn, NodeDestructiveUpdate, NodeInput, NodePlacement, NodeReconcileResult, StopRequest,
    UpdateDecision, UpdateFn,
};

/// Per-group counts and pending updates.
#[derive(Default)]
struct GroupState {
    du: DesiredUpdates,
    /// Allocations of an older job spec, waiting for the oracle.
    updates: Vec<Arc<Allocation>>,
    /// Allocations left as they are.
    ignored: Vec<Arc<Allocation>>,
    placements: usize,
    /// Updates decided by the oracle (in place or destructive).
    pending_updates: usize,
}

fn stop_req(alloc: &Arc<Allocation>, status: Option<&str>, desc: &str) -> StopRequest {
    StopRequest {
        alloc: alloc.clone(),
        client_status: status.map(str::to_string),
        description: desc.to_string(),
        followup_eval_id: None,
    }
}

/// Reconciles a system or sysbatch job; see the module documentation.
///
/// `update_fn` decides how each allocation of an older job spec is updated;
/// `new_id` supplies the ID of a created deployment.
pub fn reconcile_nodes(
    input: &NodeInput<'_>,
    update_fn: &mut UpdateFn<'_>,
    new_id: &mut IdFn<'_>,
) -> NodeReconcileResult {
    let mut out = NodeReconcileResult::default();
    let live_job = input.job.as_deref().filter(|j| !j.is_stopped());
    let split = cancel_unneeded(input.job.as_deref(), input.deployment.as_ref());
    out.deployment_updates = split.updates;
    out.stop.extend(stopped_but_running_on_down_nodes(
        input.existing.iter(),
        input.tainted_nodes,
    ));

    // Live allocations per node, latest terminal one per (node, name).
    let mut by_node: BTreeMap<&str, Vec<&Arc<Allocation>>> = BTreeMap::new();
    let mut terminal: HashMap<(&str, &str), &Arc<Allocation>> = HashMap::new();
    for a in input.existing {
        if a.terminal_status() {
            let slot = terminal
                .entry((a.node_id.as_str(), a.name.as_str()))
                .or_insert(a);
            if (a.create_index, &a.id) > (slot.create_index, &slot.id) {
                *slot = a;
            }
        } else {
            by_node.entry(a.node_id.as_str()).or_default().push(a);
        }
    }
    let ready: HashMap<&str, &Arc<Node>> = input
        .ready_nodes
        .iter()
        .map(|n| (n.id.as_str(), n))
        .collect();
    for n in input.ready_nodes {
        by_node.entry(n.id.as_str()).or_default();
    }

    // Names every node should run.
    let mut required: BTreeMap<String, &TaskGroup> = BTreeMap::new();
    if let Some(job) = live_job {
        for tg in &job.task_groups {
            let count = tg.count.unwrap_or(1).max(0) as u64;
            for i in 0..count {
                required.insert(alloc_name(job.name(), tg.name(), i), tg);
            }
        }
    }

    let current = split.current.as_deref();
    let sysbatch = live_job.is_some_and(|j| j.job_type() == job_type::SYSBATCH);
    let mut groups: BTreeMap<String, GroupState> = BTreeMap::new();
    if let Some(job) = live_job {
        for tg in &job.task_groups {
            groups.entry(tg.name().to_string()).or_default();
        }
    }

    for (node_id, mut node_allocs) in by_node {
        node_allocs.sort_by(|a, b| allocs::by_name_order(a, b));
        let taint = input.tainted_nodes.get(node_id);
        let mut present: HashSet<&str> = HashSet::new();
        for alloc in node_allocs {
            present.insert(alloc.name.as_str());
            let group_name = alloc.task_group.as_str();
            let (Some(job), Some(_tg)) = (live_job, required.get(&alloc.name)) else {
                out.stop.push(stop_req(alloc, None, ALLOC_NOT_NEEDED));
                groups.entry(group_name.to_string()).or_default().du.stop += 1;
                continue;
            };
            let g = groups.entry(group_name.to_string()).or_default();
            let reconnect = matches!(
                alloc.client_status.as_str(),
                client::UNKNOWN | client::RUNNING
            ) && allocs::needs_to_reconnect(alloc);
            if allocs::wants_migrate(alloc) {
                out.stop.push(stop_req(alloc, None, ALLOC_NODE_TAINTED));
                g.du.migrate += 1;
                continue;
            }
            if reconnect && allocs::expired(alloc, input.now) {
                out.stop
                    .push(stop_req(alloc, Some(client::LOST), ALLOC_LOST));
                g.du.stop += 1;
                continue;
            }
            if alloc.client_status == client::UNKNOWN && allocs::desired_run(alloc) {
                g.du.ignore += 1;
                g.ignored.push(alloc.clone());
                continue;
            }
            match taint {
                None if reconnect => {
                    let updated = allocs::with_state_entry(alloc, &alloc.client_status, input.now);
                    out.reconnect_updates.insert(alloc.id.clone(), updated);
                    g.du.reconnect += 1;
                    continue;
                }
                Some(node) => {
                    let finished_sysbatch = alloc
                        .job
                        .as_ref()
                        .is_some_and(|j| j.job_type() == job_type::SYSBATCH)
                        && alloc.ran_successfully();
                    let node = node.as_deref();
                    if !finished_sysbatch
                        && node.is_some_and(|n| n.status == node_status::DISCONNECTED)
                        && alloc.client_status == client::RUNNING
                    {
                        let updated = allocs::mark_unknown(alloc, "", input.now);
                        out.disconnect_updates.insert(alloc.id.clone(), updated);
                        g.du.disconnect += 1;
                        continue;
                    }
                    if !finished_sysbatch && node.is_none_or(|n| n.status == node_status::DOWN) {
                        out.stop
                            .push(stop_req(alloc, Some(client::LOST), ALLOC_LOST));
                        g.du.stop += 1;
                    } else {
                        g.du.ignore += 1;
                        g.ignored.push(alloc.clone());
                    }
                    continue;
                }
                None => {}
            }
            let changed = job_modify_index(alloc) != job.job_modify_index.unwrap_or(0);
            if input.not_ready_nodes.contains(node_id) {
                if changed {
                    out.stop.push(stop_req(alloc, None, ALLOC_NOT_NEEDED));
                    g.du.stop += 1;
                } else {
                    g.du.ignore += 1;
                    g.ignored.push(alloc.clone());
                }
                continue;
            }
            if !ready.contains_key(node_id) {
                out.stop.push(stop_req(alloc, None, ALLOC_NOT_NEEDED));
                g.du.stop += 1;
                continue;
            }
            if changed {
                g.updates.push(alloc.clone());
            } else {
                g.du.ignore += 1;
                g.ignored.push(alloc.clone());
            }
        }

        let Some(job) = live_job else { continue };
        for (name, tg) in &required {
            if present.contains(name.as_str()) {
                continue;
            }
            let g = groups.entry(tg.name().to_string()).or_default();
            let previous = terminal.get(&(node_id, name.as_str())).copied();
            if sysbatch {
                if let Some(done) = previous {
                    if job_modify_index(done) != job.job_modify_index.unwrap_or(0) {
                        g.updates.push(done.clone());
                    } else {
                        g.du.ignore += 1;
                        g.ignored.push(done.clone());
                    }
                    continue;
                }
            }
            if taint.is_some() || !ready.contains_key(node_id) {
                continue;
            }
            out.place.push(NodePlacement {
                name: name.clone(),
                task_group: tg.name().to_string(),
                node_id: node_id.to_string(),
                previous_alloc: previous.cloned(),
                canary: false,
            });
            g.du.place += 1;
            g.placements += 1;
        }
    }

    if let Some(job) = live_job {
        let mut current = current.cloned();
        let created = create_deployment(input, job, &groups, &split.old, &mut current, new_id);
        apply_updates(
            job,
            &mut groups,
            current.as_mut(),
            created,
            update_fn,
            &mut out,
        );
        if let Some(d) = current {
            if created {
                out.deployment = Some(d);
            } else {
                let complete = groups.iter().all(|(name, g)| {
                    g.placements == 0
                        && g.pending_updates == 0
                        && g.du.migrate == 0
                        && d.task_groups.get(name).is_none_or(|s| {
                            s.healthy_allocs >= s.desired_total
                                && (s.desired_canaries <= 0 || s.promoted)
                        })
                });
                out.deployment_updates
                    .extend(dep::completion_updates(job, &d, complete));
            }
        }
    }
    for (name, g) in groups {
        out.desired_tg_updates.insert(name, g.du);
    }
    out
}

/// Creates a deployment when a group with an update block gets a new job
/// version (updates or first placements) and no deployment of this version
/// exists or existed. Returns whether one was created.
fn create_deployment(
    input: &NodeInput<'_>,
    job: &Job,
    groups: &BTreeMap<String, GroupState>,
    old: &Option<Arc<nomad_types::Deployment>>,
    current: &mut Option<nomad_types::Deployment>,
    new_id: &mut IdFn<'_>,
) -> bool {
    if current.is_some() || old.as_ref().is_some_and(|d| d.job_version == job.version()) {
        return false;
    }
    let mut created = None;
    for tg in &job.task_groups {
        let update = group_update(job, tg);
        let Some(g) = groups.get(tg.name()) else {
            continue;
        };
        if update_is_empty(update) || (g.updates.is_empty() && g.placements == 0) {
            continue;
        }
        let d = created
            .get_or_insert_with(|| dep::new_deployment(job, job.priority(), input.now, new_id()));
        let mut state = dep::initial_state(update);
        state.desired_total = (g.placements + g.updates.len() + g.ignored.len()) as i64;
        d.task_groups.insert(tg.name().to_string(), state);
    }
    let made = created.is_some();
    *current = created;
    made
}

/// Runs the oracle over pending updates and applies destructive ones within
/// each group's `max_parallel`. With `update.canary` (a percentage of the
/// group's nodes for system jobs, as in Nomad 1.11), a new version is
/// first rolled onto that share of the nodes as canaries — at most
/// `max_parallel` at a time — and the rest waits for the deployment's
/// promotion. `created`: the deployment was created by this reconcile
/// (its canary count is decided now).
fn apply_updates(
    job: &Job,
    groups: &mut BTreeMap<String, GroupState>,
    mut deployment: Option<&mut nomad_types::Deployment>,
    created: bool,
    update_fn: &mut UpdateFn<'_>,
    out: &mut NodeReconcileResult,
) {
    for (name, g) in groups.iter_mut() {
        let Some(tg) = job.lookup_task_group(name) else {
            continue;
        };
        let update = group_update(job, tg);
        let parallel = max_parallel(update);
        let mut limit: i64 = if parallel > 0 { parallel } else { i64::MAX };
        if let Some(d) = deployment.as_deref() {
            for a in g.ignored.iter().filter(|a| a.deployment_id == d.id) {
                if !allocs::is_unhealthy(a) && !allocs::is_healthy(a) {
                    limit -= 1;
                }
            }
        }
        let mut destructive = Vec::new();
        for alloc in std::mem::take(&mut g.updates) {
            match update_fn(&alloc, job, tg) {
                UpdateDecision::Ignore => g.du.ignore += 1,
                UpdateDecision::InPlace(updated) => {
                    g.du.in_place_update += 1;
                    out.inplace_update.push(*updated);
                }
                UpdateDecision::Destructive => destructive.push(alloc),
            }
        }
        let percent = dep::canary_count(update);
        let mut canarying = false;
        if let Some(d) = deployment.as_deref_mut() {
            let d_id = d.id.clone();
            if let Some(s) = d.task_groups.get_mut(name) {
                if created && percent > 0 && !destructive.is_empty() {
                    // Rounded up: 50% of 5 nodes is 3 canaries.
                    s.desired_canaries = (percent.min(100) * s.desired_total + 99) / 100;
                }
                if s.desired_canaries > 0 && !s.promoted {
                    canarying = true;
                    let placed = g
                        .ignored
                        .iter()
                        .filter(|a| a.deployment_id == d_id && allocs::is_canary(a))
                        .count() as i64;
                    limit = limit.min(s.desired_canaries - placed);
                }
            }
        }
        for alloc in &destructive {
            if limit <= 0 {
                g.du.ignore += 1;
                continue;
            }
            limit -= 1;
            if canarying {
                g.du.canary += 1;
            } else {
                g.du.destructive_update += 1;
            }
            out.destructive_update.push(NodeDestructiveUpdate {
                place: NodePlacement {
                    name: alloc.name.clone(),
                    task_group: name.clone(),
                    node_id: alloc.node_id.clone(),
                    previous_alloc: Some(alloc.clone()),
                    canary: canarying,
                },
                stop_alloc: alloc.clone(),
                stop_description: ALLOC_UPDATING.to_string(),
            });
        }
        // Updates still pending keep the deployment open.
        g.pending_updates = destructive.len() + g.du.in_place_update as usize;
    }
}
