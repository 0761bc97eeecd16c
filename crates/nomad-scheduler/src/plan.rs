//! Plans (what one evaluation wants to change) and plan results (what the
//! leader committed), in Nomad's shape.
//!
//! Maps are keyed by node ID and ordered, so a plan iterates the same way
//! every time. Allocations are shared (`Arc`) so a planner can store them
//! without copying.

use std::collections::BTreeMap;
use std::sync::Arc;

use nomad_reconcile::types::DeploymentStatusUpdate;
use nomad_types::alloc::AllocState;
use nomad_types::consts::alloc_desired_status;
use nomad_types::{Allocation, Deployment, Evaluation, GoTime, Job, PlanAnnotations};

/// Allocations per node.
pub type NodeAllocs = BTreeMap<String, Vec<Arc<Allocation>>>;

/// The changes one evaluation asks the leader to commit.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// The evaluation that produced the plan.
    pub eval_id: String,
    /// The evaluation's priority.
    pub priority: i64,
    /// Commit everything or nothing.
    pub all_at_once: bool,
    /// The job being scheduled (`None` once purged).
    pub job: Option<Arc<Job>>,
    /// Allocations to stop (desired status `stop`), per node.
    pub node_update: NodeAllocs,
    /// Allocations to create or update, per node.
    pub node_allocation: NodeAllocs,
    /// Allocations to evict for higher-priority work, per node.
    pub node_preemptions: NodeAllocs,
    /// What the plan does per group (filled when the evaluation asks for
    /// annotations: `nomad job plan`).
    pub annotations: Option<PlanAnnotations>,
    /// A deployment to create or update.
    pub deployment: Option<Deployment>,
    /// Status changes of existing deployments.
    pub deployment_updates: Vec<DeploymentStatusUpdate>,
    /// The snapshot index the plan was computed at.
    pub snapshot_index: u64,
}

impl Plan {
    /// An empty plan for `eval` and `job`.
    pub fn new(eval: &Evaluation, job: Option<Arc<Job>>, snapshot_index: u64) -> Plan {
        Plan {
            eval_id: eval.id.clone(),
            priority: eval.priority,
            all_at_once: job.as_ref().and_then(|j| j.all_at_once).unwrap_or(false),
            job,
            snapshot_index,
            ..Plan::default()
        }
    }

    /// True when committing the plan would change nothing.
    pub fn is_no_op(&self) -> bool {
        self.node_update.is_empty()
            && self.node_allocation.is_empty()
            && self.deployment.is_none()
            && self.deployment_updates.is_empty()
    }

    /// Number of allocations the plan creates or updates.
    pub fn allocation_count(&self) -> usize {
        self.node_allocation.values().map(Vec::len).sum()
    }

    /// Records `alloc` as stopping: a copy with desired status `stop`, the
    /// description, and optionally a new client status (with its state
    /// transition stamped `now`) and follow-up evaluation.
    pub fn append_stopped_alloc(
        &mut self,
        alloc: &Allocation,
        description: &str,
        client_status: Option<&str>,
        followup_eval_id: Option<&str>,
        now: i64,
    ) {
        let mut stopped = alloc.clone();
        stopped.job = None;
        stopped.resources = None;
        stopped.desired_status = alloc_desired_status::STOP.to_string();
        stopped.desired_description = description.to_string();
        if let Some(status) = client_status.filter(|s| !s.is_empty()) {
            stopped.client_status = status.to_string();
            stopped.alloc_states.push(AllocState {
                field: "ClientStatus".to_string(),
                value: status.to_string(),
                time: GoTime::from_unix_nanos(now),
            });
        }
        if let Some(id) = followup_eval_id.filter(|s| !s.is_empty()) {
            stopped.followup_eval_id = id.to_string();
        }
        self.node_update
            .entry(alloc.node_id.clone())
            .or_default()
            .push(Arc::new(stopped));
    }

    /// Removes the last stop recorded for `alloc` (if it is the last one on
    /// its node), returning it.
    pub fn pop_update(&mut self, alloc: &Allocation) -> Option<Arc<Allocation>> {
        let list = self.node_update.get_mut(&alloc.node_id)?;
        if list.last().is_some_and(|a| a.id == alloc.id) {
            let popped = list.pop();
            if list.is_empty() {
                self.node_update.remove(&alloc.node_id);
            }
            popped
        } else {
            None
        }
    }

    /// Records `alloc` as evicted by `preempting_alloc_id`: a slim copy,
    /// as Nomad keeps only what the plan applier needs.
    pub fn append_preempted_alloc(&mut self, alloc: &Allocation, preempting_alloc_id: &str) {
        let evicted = Allocation {
            id: alloc.id.clone(),
            job_id: alloc.job_id.clone(),
            namespace: alloc.namespace.clone(),
            node_id: alloc.node_id.clone(),
            task_group: alloc.task_group.clone(),
            desired_status: alloc_desired_status::EVICT.to_string(),
            desired_description: format!("Preempted by alloc ID {preempting_alloc_id}"),
            preempted_by_allocation: preempting_alloc_id.to_string(),
            allocated_resources: alloc.allocated_resources.clone(),
            task_resources: if alloc.allocated_resources.is_none() {
                alloc.task_resources.clone()
            } else {
                BTreeMap::new()
            },
            ..Allocation::default()
        };
        self.node_preemptions
            .entry(alloc.node_id.clone())
            .or_default()
            .push(Arc::new(evicted));
    }

    /// Records a new or updated allocation on its node.
    pub fn append_alloc(&mut self, alloc: Arc<Allocation>) {
        match self.node_allocation.get_mut(alloc.node_id.as_str()) {
            Some(list) => list.push(alloc),
            None => {
                self.node_allocation
                    .insert(alloc.node_id.clone(), vec![alloc]);
            }
        }
    }

    /// Whether the plan already stops `alloc_id` on `node_id`.
    pub fn stops(&self, node_id: &str, alloc_id: &str) -> bool {
        self.node_update
            .get(node_id)
            .is_some_and(|l| l.iter().any(|a| a.id == alloc_id))
    }

    /// Whether the plan already preempts `alloc_id` on `node_id`.
    pub fn preempts(&self, node_id: &str, alloc_id: &str) -> bool {
        self.node_preemptions
            .get(node_id)
            .is_some_and(|l| l.iter().any(|a| a.id == alloc_id))
    }

    /// The plan's version of an allocation on `node_id`, if it places or
    /// updates one with that ID.
    pub fn placed(&self, node_id: &str, alloc_id: &str) -> Option<&Arc<Allocation>> {
        self.node_allocation
            .get(node_id)
            .and_then(|l| l.iter().rev().find(|a| a.id == alloc_id))
    }
}

/// What the leader committed of a plan.
#[derive(Debug, Clone, Default)]
pub struct PlanResult {
    /// Stops committed, per node.
    pub node_update: NodeAllocs,
    /// Allocations committed, per node.
    pub node_allocation: NodeAllocs,
    /// Evictions committed, per node.
    pub node_preemptions: NodeAllocs,
    /// Deployment committed.
    pub deployment: Option<Deployment>,
    /// Deployment updates committed.
    pub deployment_updates: Vec<DeploymentStatusUpdate>,
    /// Nodes whose part of the plan was refused.
    pub rejected_nodes: Vec<String>,
    /// Nodes marked ineligible after repeated rejections.
    pub ineligible_nodes: Vec<String>,
    /// When non-zero, the scheduler's snapshot is older than this index and
    /// the plan was only partly committed: refresh and retry.
    pub refresh_index: u64,
    /// The index the allocations were committed at.
    pub alloc_index: u64,
}

impl PlanResult {
    /// Whether every allocation of `plan` was committed, with the numbers
    /// attempted and committed.
    pub fn full_commit(&self, plan: &Plan) -> (bool, usize, usize) {
        let mut expected = 0;
        let mut actual = 0;
        for (node, allocs) in &plan.node_allocation {
            expected += allocs.len();
            actual += self.node_allocation.get(node).map_or(0, Vec::len);
        }
        (expected == actual, expected, actual)
    }

    /// Whether anything at all was committed.
    pub fn progress_made(&self) -> bool {
        !self.node_update.is_empty()
            || !self.node_allocation.is_empty()
            || self.deployment.is_some()
            || !self.deployment_updates.is_empty()
    }

    /// The result a planner gives when it commits `plan` in full.
    pub fn committed(plan: &Plan, alloc_index: u64) -> PlanResult {
        PlanResult {
            node_update: plan.node_update.clone(),
            node_allocation: plan.node_allocation.clone(),
            node_preemptions: plan.node_preemptions.clone(),
            deployment: plan.deployment.clone(),
            deployment_updates: plan.deployment_updates.clone(),
            alloc_index,
            ..PlanResult::default()
        }
    }
}
