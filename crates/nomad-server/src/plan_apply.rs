//! Plan application: re-checking a plan against the newest state before it
//! is committed (Nomad's `nomad/plan_apply.go`).
//!
//! The single applier ([`plan_applier`]) takes plans from the plan queue one
//! at a time, checks each node's part against a snapshot that includes every
//! earlier plan's result (node still ready, eligible and not draining,
//! resources still fit, no port collides), and commits the parts that pass
//! in one `ApplyPlanResults` entry. A plan that places an allocation is
//! committed before the next plan is checked; one that places nothing (a
//! deployment, stops) commits while the applier goes on, since nothing it
//! writes can make a later plan overcommit a node. Parts that fail are left out (a partial
//! commit) and the result carries a refresh index; an `AllAtOnce` plan is
//! all or nothing. Rejections are counted per node
//! ([`crate::bad_nodes`]); a node that reaches the threshold is marked
//! ineligible in the same entry.

use std::collections::HashSet;

use nomad_scheduler::hash::FxHashSet;
use std::sync::Arc;

use nomad_scheduler::plan::{Plan, PlanResult};
use nomad_scheduler::resources::{alloc_usage, node_capacity, node_reserved};
use nomad_state::command::{AllocPreempted, AllocStop, ApplyPlanResults};
use nomad_state::Command;
use nomad_state::StateSnapshot;
use nomad_types::consts::{alloc_client_status, node_eligibility, node_status};
use nomad_types::Allocation;
use tokio::sync::mpsc;

use crate::bad_nodes::BadNodeTracker;
use crate::error::ServerError;
use crate::server::{PlanRequest, Server};

/// Why a node's part of a plan was refused, or `Ok`.
pub fn evaluate_node(snap: &StateSnapshot, plan: &Plan, node_id: &str) -> Result<(), String> {
    let new: &[Arc<Allocation>] = plan
        .node_allocation
        .get(node_id)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    if new.is_empty() {
        // Only stops and evictions: always fine.
        return Ok(());
    }
    let Some(node) = snap.node_by_id(node_id) else {
        return Err("node does not exist".into());
    };
    if node.status == node_status::DISCONNECTED {
        // The only change a disconnected node takes: its allocations
        // marked `unknown`.
        if new
            .iter()
            .all(|a| a.client_status == alloc_client_status::UNKNOWN)
        {
            return Ok(());
        }
        return Err("node is disconnected and contains invalid updates".into());
    }
    if node.status != node_status::READY {
        return Err("node is not ready for placements".into());
    }
    if node.scheduling_eligibility == node_eligibility::INELIGIBLE {
        return Err("node is not eligible".into());
    }
    if node.drain_strategy.is_some() {
        return Err("node is draining".into());
    }
    // FxHash: this set is probed once per allocation already on the node.
    let mut removed: FxHashSet<&str> = FxHashSet::default();
    for list in [
        plan.node_update.get(node_id),
        plan.node_preemptions.get(node_id),
    ]
    .into_iter()
    .flatten()
    {
        removed.extend(list.iter().map(|a| a.id.as_str()));
    }
    // A placement that updates an allocation already stored replaces it;
    // fresh placements (the common case) have new IDs and need no entry, so
    // a plain placement plan probes nothing per existing allocation.
    removed.extend(
        new.iter()
            .filter(|a| snap.alloc_by_id(&a.id).is_some())
            .map(|a| a.id.as_str()),
    );
    // Resources: the node's running total of non-terminal allocations
    // (kept by the store), less what the plan stops or replaces, plus
    // what it places. O(plan) instead of O(allocations on the node).
    let mut used = snap.node_live_usage(node_id);
    for id in &removed {
        if let Some(a) = snap.alloc_by_id(id) {
            if a.node_id == node_id && !a.terminal_status() {
                used.sub(alloc_usage(&a));
            }
        }
    }
    for a in new {
        used.add(alloc_usage(a));
    }
    let avail = node_capacity(&node).minus(node_reserved(&node));
    if let Some(dim) = avail.first_short(used) {
        return Err(format!("{dim} exhausted"));
    }
    // Ports: only a placement that holds some can collide.
    if new.iter().all(|a| alloc_ports(a).is_empty()) {
        return Ok(());
    }
    let existing = snap.allocs_by_node(node_id).iter().filter(|a| {
        !a.terminal_status() && (removed.is_empty() || !removed.contains(a.id.as_str()))
    });
    let mut ports: HashSet<(String, i64)> = HashSet::new();
    for a in existing.chain(new.iter()) {
        for (ip, port) in alloc_ports(a) {
            if !ports.insert((ip.clone(), port)) {
                return Err(format!("port collision: {ip}:{port}"));
            }
        }
    }
    Ok(())
}

/// Host ports an allocation holds (collision-checked ones only).
fn alloc_ports(a: &Allocation) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    let Some(ar) = &a.allocated_resources else {
        return out;
    };
    for p in &ar.shared.ports {
        if !p.ignore_collision && p.value > 0 {
            out.push((p.host_ip.clone(), p.value));
        }
    }
    if ar.shared.ports.is_empty() {
        for n in ar
            .shared
            .networks
            .iter()
            .chain(ar.tasks.values().flat_map(|t| t.networks.iter()))
        {
            for p in n.reserved_ports.iter().chain(n.dynamic_ports.iter()) {
                if p.value > 0 {
                    out.push((n.ip.clone(), p.value));
                }
            }
        }
    }
    out
}

/// The result of checking a plan: what may be committed.
pub fn evaluate_plan(snap: &StateSnapshot, plan: &Plan) -> PlanResult {
    let mut result = PlanResult {
        deployment: plan.deployment.clone(),
        deployment_updates: plan.deployment_updates.clone(),
        ..PlanResult::default()
    };
    let nodes: std::collections::BTreeSet<&String> = plan
        .node_update
        .keys()
        .chain(plan.node_allocation.keys())
        .chain(plan.node_preemptions.keys())
        .collect();
    let mut partial = false;
    for node_id in nodes {
        match evaluate_node(snap, plan, node_id) {
            Ok(()) => {
                for (src, dst) in [
                    (&plan.node_update, &mut result.node_update),
                    (&plan.node_allocation, &mut result.node_allocation),
                    (&plan.node_preemptions, &mut result.node_preemptions),
                ] {
                    if let Some(l) = src.get(node_id) {
                        dst.insert(node_id.clone(), l.clone());
                    }
                }
            }
            Err(reason) => {
                tracing::debug!(eval_id = %plan.eval_id, node_id = %node_id, %reason, "plan for node rejected");
                partial = true;
                result.rejected_nodes.push(node_id.clone());
                if plan.all_at_once {
                    return PlanResult {
                        rejected_nodes: result.rejected_nodes,
                        refresh_index: snap.latest_index(),
                        ..PlanResult::default()
                    };
                }
            }
        }
    }
    if partial {
        result.refresh_index = snap.latest_index();
        // A deployment is only created if its placements made it.
        if result.node_allocation.is_empty() {
            result.deployment = None;
            result.deployment_updates.clear();
        }
    }
    result
}

/// Records the rejections of a plan's nodes with the tracker and returns
/// the nodes to mark ineligible in its entry: those that reached the
/// tracker's threshold. Nodes already ineligible or gone are not counted.
pub fn bad_nodes(
    snap: &StateSnapshot,
    rejected: &[String],
    tracker: &mut BadNodeTracker,
) -> Vec<String> {
    let now = std::time::Instant::now();
    rejected
        .iter()
        .filter(|id| {
            snap.node_by_id(id)
                .is_some_and(|n| n.scheduling_eligibility != node_eligibility::INELIGIBLE)
        })
        .filter(|id| tracker.add(id, now))
        .cloned()
        .collect()
}

/// The log entry committing `result` of `plan`.
pub fn plan_entry(plan: &Plan, result: &PlanResult, now: i64) -> ApplyPlanResults {
    let mut allocs_updated = Vec::new();
    for list in result.node_allocation.values() {
        for a in list {
            let mut a = Allocation::clone(a);
            a.job = None;
            if a.create_time == 0 {
                a.create_time = now;
            }
            a.modify_time = now;
            allocs_updated.push(a);
        }
    }
    let allocs_stopped = result
        .node_update
        .values()
        .flatten()
        .map(|a| AllocStop {
            id: a.id.clone(),
            desired_description: a.desired_description.clone(),
            client_status: a.client_status.clone(),
            followup_eval_id: a.followup_eval_id.clone(),
            modify_time: now,
        })
        .collect();
    let allocs_preempted = result
        .node_preemptions
        .values()
        .flatten()
        .map(|a| AllocPreempted {
            id: a.id.clone(),
            preempted_by_allocation: a.preempted_by_allocation.clone(),
            modify_time: now,
        })
        .collect();
    ApplyPlanResults {
        job: plan.job.clone(),
        allocs_updated,
        allocs_stopped,
        allocs_preempted,
        deployment: result.deployment.clone(),
        deployment_updates: result
            .deployment_updates
            .iter()
            .map(|d| nomad_state::command::DeploymentStatusUpdate {
                deployment_id: d.deployment_id.clone(),
                status: d.status.clone(),
                status_description: d.status_description.clone(),
            })
            .collect(),
        eval_id: plan.eval_id.clone(),
        preemption_evals: Vec::new(),
        ineligible_nodes: Vec::new(),
        updated_at: now,
    }
}

pub(crate) async fn plan_applier(server: Server, mut rx: mpsc::Receiver<PlanRequest>) {
    let mut bad_nodes = BadNodeTracker::new(server.inner.config.plan_rejection);
    while let Some(req) = rx.recv().await {
        let stale = !req.token.is_empty()
            && server
                .inner
                .broker
                .outstanding(&req.plan.eval_id)
                .as_deref()
                != Some(&req.token);
        if stale {
            let _ = req.reply.send(Err(ServerError::BadRequest(format!(
                "plan for evaluation {} refused: the evaluation is no longer outstanding",
                req.plan.eval_id
            ))));
            continue;
        }
        match evaluate_one(&server, &req.plan, &mut bad_nodes) {
            Err(e) => {
                let _ = req.reply.send(Err(e));
            }
            Ok(Evaluated::Done(result)) => {
                let _ = req.reply.send(Ok(result));
            }
            // A plan that places nothing cannot take capacity another plan
            // is checked against (its stops only free some, which a later
            // plan checked without them sees as still taken): the next
            // plan is evaluated while it commits.
            Ok(Evaluated::Commit(entry, result))
                if req.plan.node_allocation.is_empty() && req.plan.node_preemptions.is_empty() =>
            {
                let server = server.clone();
                tokio::spawn(async move {
                    let res = commit_one(&server, &req.plan, entry, result).await;
                    let _ = req.reply.send(res);
                });
            }
            Ok(Evaluated::Commit(entry, result)) => {
                let res = commit_one(&server, &req.plan, entry, result).await;
                let _ = req.reply.send(res);
            }
        }
    }
}

/// A plan checked against the newest state.
enum Evaluated {
    /// Nothing to write: the result as it is.
    Done(PlanResult),
    /// The entry to commit and the result to complete once it is applied.
    Commit(Box<ApplyPlanResults>, PlanResult),
}

fn evaluate_one(
    server: &Server,
    plan: &Plan,
    tracker: &mut BadNodeTracker,
) -> Result<Evaluated, ServerError> {
    if !server.is_leader() {
        return Err(ServerError::NoLeader);
    }
    let snap = server.inner.reader.snapshot();
    let mut result = evaluate_plan(&snap, plan);
    let ineligible = bad_nodes(&snap, &result.rejected_nodes, tracker);
    for node_id in &ineligible {
        tracing::warn!(node_id = %node_id, eval_id = %plan.eval_id, "marking node ineligible: too many of its plans were rejected");
    }
    if !result.progress_made() && ineligible.is_empty() {
        result.refresh_index = result.refresh_index.max(snap.latest_index());
        return Ok(Evaluated::Done(result));
    }
    let mut entry = plan_entry(plan, &result, crate::now_nanos());
    entry.ineligible_nodes = ineligible;
    if !result.progress_made() {
        // Only nodes to mark: the evaluation has nothing new to wait for.
        entry.eval_id.clear();
    }
    Ok(Evaluated::Commit(Box::new(entry), result))
}

async fn commit_one(
    server: &Server,
    plan: &Plan,
    entry: Box<ApplyPlanResults>,
    mut result: PlanResult,
) -> Result<PlanResult, ServerError> {
    let progress = result.progress_made();
    let applied = server.propose(Command::ApplyPlanResults(*entry)).await?;
    if let Some(e) = applied.error {
        return Err(ServerError::Internal(format!(
            "applying plan for eval {}: {e}",
            plan.eval_id
        )));
    }
    result.alloc_index = applied.index;
    if result.refresh_index != 0 {
        result.refresh_index = applied.index;
    }
    tracing::debug!(eval_id = %plan.eval_id, index = applied.index, rejected = result.rejected_nodes.len(), "plan applied");
    if let Some(job) = &plan.job {
        server.job_deployments_changed(job.namespace(), job.id());
    }
    if !progress {
        result.refresh_index = applied.index;
        return Ok(result);
    }
    // Stops free capacity on their nodes.
    if !result.node_update.is_empty() || !result.node_preemptions.is_empty() {
        let nodes = result
            .node_update
            .keys()
            .chain(result.node_preemptions.keys())
            .map(String::as_str);
        server.unblock_nodes(nodes, applied.index);
    }
    Ok(result)
}
