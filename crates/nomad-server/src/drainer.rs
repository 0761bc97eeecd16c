//! Node drain (after Nomad's `nomad/drainer` and `Node.UpdateDrain`):
//! the operation that sets or cancels a drain, and the leader-only drainer
//! that moves allocations off draining nodes.
//!
//! Setting a drain marks the node ineligible (the FSM does). The drainer
//! then, on every change of nodes, allocations or jobs:
//!
//! * for each service group with allocations on a draining node, marks
//!   allocations `DesiredTransition.Migrate` (with a `node-drain`
//!   evaluation per job) so that at most `migrate.max_parallel` of the
//!   group's count are without a healthy allocation: the next batch goes
//!   only once replacements report deployment health
//!   ([`nomad_reconcile::migrate::allocs_to_migrate`]). Batch allocations
//!   are left to finish;
//! * when no allocation of a non-system job is left running on a node, it
//!   marks the node's system allocations (unless `ignore_system_jobs`) and
//!   ends the drain (`NodeBatchUpdateDrain` clearing the strategy, with
//!   the node event `Node drain complete`); the node stays ineligible;
//! * at the deadline (at once for a negative deadline: a force drain) it
//!   marks every allocation left (system ones unless ignored) and ends the
//!   drain with the event detail `deadline_reached=true`.
//!
//! The scheduler stops a marked allocation and places its replacement on
//! another node. Cancelling a drain clears the strategy; marks already
//! made stay, as in Nomad.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

use nomad_reconcile::migrate::allocs_to_migrate;
use nomad_state::command::{
    AllocUpdateDesiredTransition, DrainUpdate, NodeBatchUpdateDrain, NodeUpdateDrain,
};
use nomad_state::{Command, StateSnapshot, Table};
use nomad_types::api::{NodeDrainUpdateResponse, NodeUpdateDrainRequest};
use nomad_types::consts::{eval_trigger, job_type, node_eligibility, node_event_subsystem};
use nomad_types::node::NodeEvent;
use nomad_types::{Allocation, DesiredTransition, DrainStrategy, GoTime, Job, Node};

use crate::error::ServerError;
use crate::jobs::new_eval;
use crate::server::Server;

/// The node event of a drain that ended.
pub const NODE_DRAIN_EVENT_COMPLETE: &str = "Node drain complete";
/// The event detail set when the drain ended at its deadline.
pub const NODE_DRAIN_EVENT_DETAIL_DEADLINED: &str = "deadline_reached";
/// The node event of a new drain.
pub const NODE_DRAIN_EVENT_SET: &str = "Node drain strategy set";
/// The node event of a changed drain.
pub const NODE_DRAIN_EVENT_UPDATED: &str = "Node drain strategy updated";
/// The node event of a cancelled drain.
pub const NODE_DRAIN_EVENT_DISABLED: &str = "Node drain disabled";

/// When a drain's remaining allocations are stopped (Unix nanoseconds;
/// `i64::MIN` for a force drain), `None` without a deadline.
pub fn drain_deadline(d: &DrainStrategy) -> Option<i64> {
    let ns = d.deadline.as_nanos();
    if ns < 0 {
        return Some(i64::MIN);
    }
    if ns == 0 {
        return None;
    }
    if !d.force_deadline.is_zero() {
        if let Some(t) = d.force_deadline.to_unix_nanos() {
            return Some(t);
        }
    }
    let started = d.started_at.to_unix_nanos().unwrap_or(i64::MIN);
    Some(started.saturating_add(ns))
}

fn drain_event(message: &str, now: i64) -> NodeEvent {
    NodeEvent {
        message: message.to_string(),
        subsystem: node_event_subsystem::DRAIN.to_string(),
        timestamp: GoTime::from_unix_nanos(now),
        ..NodeEvent::default()
    }
}

fn job_of(snap: &StateSnapshot, a: &Allocation) -> Option<Arc<Job>> {
    snap.job_by_id(&a.namespace, &a.job_id)
        .or_else(|| a.job.clone())
}

fn is_system(snap: &StateSnapshot, a: &Allocation) -> bool {
    job_of(snap, a).is_some_and(|j| j.job_type() == job_type::SYSTEM)
}

/// What one pass of the drainer decided.
#[derive(Debug, Default)]
pub(crate) struct DrainPass {
    /// Allocations to mark for migration, by ID.
    pub marks: BTreeMap<String, Arc<Allocation>>,
    /// Drains to end: node ID → ended at the deadline.
    pub complete: BTreeMap<String, bool>,
    /// The earliest deadline still to come.
    pub next_deadline: Option<i64>,
    /// Some node is draining.
    pub draining: bool,
}

/// The allocations a drain stops at its end: not terminal, system ones
/// only when not ignored (Nomad's `RemainingAllocs`).
fn remaining(snap: &StateSnapshot, node: &Node, ignore_system: bool) -> Vec<Arc<Allocation>> {
    snap.allocs_by_node(&node.id)
        .iter()
        .filter(|a| !a.terminal_status())
        .filter(|a| !(ignore_system && is_system(snap, a)))
        .cloned()
        .collect()
}

/// Decides one pass over the draining nodes of `snap` at `now`.
pub(crate) fn plan(snap: &StateSnapshot, now: i64) -> DrainPass {
    let mut pass = DrainPass::default();
    let draining: Vec<&Arc<Node>> = snap
        .nodes()
        .iter()
        .filter(|n| n.drain_strategy.is_some())
        .collect();
    if draining.is_empty() {
        return pass;
    }
    pass.draining = true;
    let draining_ids: HashSet<String> = draining.iter().map(|n| n.id.clone()).collect();
    let mark = |pass: &mut DrainPass, a: &Arc<Allocation>| {
        if !a.desired_transition.should_migrate() {
            pass.marks.insert(a.id.clone(), a.clone());
        }
    };

    // Deadlines: everything left goes now.
    for n in &draining {
        let Some(strategy) = n.drain_strategy.as_ref() else {
            continue;
        };
        match drain_deadline(strategy) {
            Some(t) if t <= now => {
                for a in remaining(snap, n, strategy.ignore_system_jobs) {
                    mark(&mut pass, &a);
                }
                pass.complete.insert(n.id.clone(), true);
            }
            Some(t) => pass.next_deadline = Some(pass.next_deadline.map_or(t, |d| d.min(t))),
            None => {}
        }
    }

    // Service (and batch) jobs with allocations on draining nodes, paced
    // by their groups' migrate.max_parallel.
    let mut jobs: BTreeSet<(String, String)> = BTreeSet::new();
    for n in &draining {
        for a in snap.allocs_by_node(&n.id) {
            if !a.terminal_status() && !is_system(snap, a) {
                jobs.insert((a.namespace.clone(), a.job_id.clone()));
            }
        }
    }
    for (ns, id) in &jobs {
        let allocs = snap.allocs_by_job(ns, id);
        let Some(job) = snap
            .job_by_id(ns, id)
            .or_else(|| allocs.iter().find_map(|a| a.job.clone()))
        else {
            continue;
        };
        let batch = job.job_type() == job_type::BATCH;
        for tg in &job.task_groups {
            if tg.migrate.is_none() && !batch {
                continue;
            }
            let group: Vec<Arc<Allocation>> = allocs
                .iter()
                .filter(|a| a.task_group == tg.name())
                .cloned()
                .collect();
            for a in allocs_to_migrate(tg, batch, &group, &draining_ids).mark {
                mark(&mut pass, &a);
            }
        }
    }

    // Drains whose non-system allocations are all done on the client
    // (Nomad's `IsDone`): system allocations go last, then the drain ends.
    for n in &draining {
        if pass.complete.contains_key(&n.id) {
            continue;
        }
        let Some(strategy) = n.drain_strategy.as_ref() else {
            continue;
        };
        let done = snap
            .allocs_by_node(&n.id)
            .iter()
            .all(|a| a.client_terminal_status() || is_system(snap, a));
        if !done {
            continue;
        }
        for a in remaining(snap, n, strategy.ignore_system_jobs) {
            mark(&mut pass, &a);
        }
        pass.complete.insert(n.id.clone(), false);
    }
    pass
}

impl Server {
    /// `Node.UpdateDrain`: sets, changes or (with no spec) cancels a
    /// node's drain; the leader's drainer does the rest.
    pub async fn node_update_drain(
        &self,
        req: NodeUpdateDrainRequest,
    ) -> Result<NodeDrainUpdateResponse, ServerError> {
        if req.node_id.is_empty() {
            return Err(ServerError::BadRequest(
                "missing node ID for drain update".into(),
            ));
        }
        let snap = self.inner.reader.snapshot();
        let node = snap
            .node_by_id(&req.node_id)
            .ok_or_else(|| ServerError::NotFound(format!("node not found: {}", req.node_id)))?;
        let now = crate::now_nanos();
        let strategy = req.drain_spec.map(|s| {
            let started_at = node
                .drain_strategy
                .as_ref()
                .map(|d| d.started_at.clone())
                .unwrap_or_else(|| GoTime::from_unix_nanos(now));
            let force_deadline = if s.deadline.as_nanos() > 0 {
                GoTime::from_unix_nanos(now.saturating_add(s.deadline.as_nanos()))
            } else {
                GoTime::default()
            };
            DrainStrategy {
                deadline: s.deadline,
                ignore_system_jobs: s.ignore_system_jobs,
                force_deadline,
                started_at,
            }
        });
        let message = match (node.drain_strategy.is_some(), strategy.is_some()) {
            (false, true) => Some(NODE_DRAIN_EVENT_SET),
            (true, true) => Some(NODE_DRAIN_EVENT_UPDATED),
            (true, false) => Some(NODE_DRAIN_EVENT_DISABLED),
            (false, false) => None,
        };
        let draining = strategy.is_some();
        let becomes_eligible = !draining
            && req.mark_eligible
            && node.scheduling_eligibility != node_eligibility::ELIGIBLE;
        let r = self
            .propose(Command::NodeUpdateDrain(NodeUpdateDrain {
                node_id: req.node_id.clone(),
                drain_strategy: strategy,
                mark_eligible: req.mark_eligible,
                updated_at: now.div_euclid(1_000_000_000),
                node_event: message.map(|m| drain_event(m, now)),
                meta: req.meta,
                accessor_id: String::new(),
            }))
            .await?;
        if let Some(e) = r.error {
            return Err(ServerError::BadRequest(e.to_string()));
        }
        tracing::info!(node_id = %req.node_id, draining, mark_eligible = req.mark_eligible, index = r.index, "node drain updated");
        if becomes_eligible {
            self.create_node_evals(&req.node_id).await;
        }
        if req.mark_eligible {
            self.unblock_if_schedulable(&req.node_id, r.index);
        }
        Ok(NodeDrainUpdateResponse {
            node_modify_index: r.index,
            index: r.index,
            ..Default::default()
        })
    }

    /// Carries out a drain pass: marks, then ended drains.
    async fn apply_drain_pass(&self, pass: DrainPass) -> Result<(), ServerError> {
        let now = crate::now_nanos();
        if !pass.marks.is_empty() {
            let snap = self.inner.reader.snapshot();
            let mut jobs: BTreeMap<(String, String), Arc<Job>> = BTreeMap::new();
            let mut allocs = BTreeMap::new();
            for (id, a) in &pass.marks {
                allocs.insert(
                    id.clone(),
                    DesiredTransition {
                        migrate: Some(true),
                        ..DesiredTransition::default()
                    },
                );
                if let Some(j) = job_of(&snap, a) {
                    jobs.entry((a.namespace.clone(), a.job_id.clone()))
                        .or_insert(j);
                }
                tracing::debug!(alloc_id = %id, node_id = %a.node_id, job_id = %a.job_id, "marking allocation for migration");
            }
            let evals: Vec<_> = jobs
                .values()
                .map(|j| new_eval(j, eval_trigger::NODE_DRAIN, now))
                .collect();
            let eval_ids: Vec<String> = evals.iter().map(|e| e.id.clone()).collect();
            let r = self
                .propose(Command::AllocUpdateDesiredTransition(
                    AllocUpdateDesiredTransition { allocs, evals },
                ))
                .await?;
            if let Some(e) = r.error {
                return Err(ServerError::Internal(format!(
                    "marking allocations for migration: {e}"
                )));
            }
            tracing::info!(allocs = pass.marks.len(), eval_ids = ?eval_ids, index = r.index, "drain: allocations marked for migration");
        }
        if !pass.complete.is_empty() {
            let mut updates = BTreeMap::new();
            let mut node_events = BTreeMap::new();
            for (id, deadlined) in &pass.complete {
                updates.insert(
                    id.clone(),
                    DrainUpdate {
                        drain_strategy: None,
                        mark_eligible: false,
                    },
                );
                let mut ev = drain_event(NODE_DRAIN_EVENT_COMPLETE, now);
                if *deadlined {
                    ev.details.insert(
                        NODE_DRAIN_EVENT_DETAIL_DEADLINED.to_string(),
                        "true".to_string(),
                    );
                }
                node_events.insert(id.clone(), ev);
            }
            let r = self
                .propose(Command::NodeBatchUpdateDrain(NodeBatchUpdateDrain {
                    updates,
                    node_events,
                    updated_at: now.div_euclid(1_000_000_000),
                }))
                .await?;
            if let Some(e) = r.error {
                return Err(ServerError::Internal(format!("ending drains: {e}")));
            }
            for (id, deadlined) in &pass.complete {
                tracing::info!(node_id = %id, deadline_reached = *deadlined, index = r.index, "node drain complete");
            }
        }
        Ok(())
    }
}

/// The drainer: runs on the leader from leadership to its loss.
pub(crate) async fn run_drainer(server: Server) {
    let reader = server.inner.reader.clone();
    const TABLES: [Table; 3] = [Table::Nodes, Table::Allocs, Table::Jobs];
    loop {
        let snap = reader.snapshot();
        let index = TABLES
            .iter()
            .map(|t| snap.table_index(*t))
            .max()
            .unwrap_or(0);
        let now = crate::now_nanos();
        let pass = plan(&snap, now);
        let next_deadline = pass.next_deadline;
        // With no drain under way only a node change can start one.
        let watch: &[Table] = if pass.draining {
            &TABLES
        } else {
            &[Table::Nodes]
        };
        if !pass.marks.is_empty() || !pass.complete.is_empty() {
            if let Err(e) = server.apply_drain_pass(pass).await {
                tracing::warn!(error = %e, "drainer pass failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            tokio::time::sleep(DRAIN_PASS_COALESCE).await;
            continue;
        }
        let changed = reader.wait_past(watch, index);
        let woke_by_change = match next_deadline {
            Some(t) => {
                let d = Duration::from_nanos((t.saturating_sub(now)).max(0) as u64 + 1_000_000);
                tokio::select! {
                    _ = changed => true,
                    _ = tokio::time::sleep(d) => false,
                }
            }
            None => {
                changed.await;
                true
            }
        };
        if woke_by_change && pass.draining {
            tokio::time::sleep(DRAIN_PASS_COALESCE).await;
        }
    }
}

/// How long the drainer lets allocation changes accumulate before its next
/// pass while a drain is under way. A pass reads every allocation of every
/// job on a draining node, and while a drain runs allocations change many
/// times a second (each placement, each client update): one pass per window
/// instead of one per change.
const DRAIN_PASS_COALESCE: Duration = Duration::from_millis(200);
