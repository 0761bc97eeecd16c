//! Inputs and outputs of the reconcilers.
//!
//! Both reconcilers are pure: everything they look at comes in through
//! [`ClusterInput`] / [`NodeInput`] (including "now"), and everything they
//! decide comes out in [`ReconcileResult`] / [`NodeReconcileResult`]. Two
//! callbacks reach back into the caller:
//!
//! * an [`UpdateFn`] decides, for each allocation the reconciler keeps,
//!   whether it can keep running unchanged (always the case when it already
//!   runs the current job spec), be updated in place (the caller checks the
//!   node still fits) or must be replaced; [`crate::precheck_update`] does
//!   the node-independent part;
//! * an [`IdFn`] hands out fresh IDs (deployments, follow-up evaluations);
//!   [`crate::seeded_ids`] gives a deterministic one.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use nomad_types::{Allocation, Deployment, DesiredUpdates, Evaluation, Job, Node, TaskGroup};

/// What to do with an allocation whose job version differs from the job
/// being reconciled.
#[derive(Debug, Clone, PartialEq)]
pub enum UpdateDecision {
    /// Nothing relevant changed: keep it as it is.
    Ignore,
    /// Replace it with a new allocation.
    Destructive,
    /// Update it where it runs; the box holds the updated allocation (new
    /// job, resources, metrics) as the caller prepared it.
    InPlace(Box<Allocation>),
}

/// The update oracle: `(existing allocation, new job, new group)`.
pub type UpdateFn<'a> = dyn FnMut(&Allocation, &Job, &TaskGroup) -> UpdateDecision + 'a;

/// Hands out a fresh, unique ID each call.
pub type IdFn<'a> = dyn FnMut() -> String + 'a;

/// Tainted nodes: node ID to the node, or `None` when the node is gone.
pub type TaintedNodes = HashMap<String, Option<Arc<Node>>>;

/// Everything the cluster reconciler (service and batch jobs) looks at.
#[derive(Debug, Clone)]
pub struct ClusterInput<'a> {
    /// The job as it should be; `None` (purged) or stopped means stop all.
    pub job: Option<Arc<Job>>,
    /// The job's ID (kept apart because the job may be gone).
    pub job_id: String,
    /// The job's namespace (follow-up evaluations take the job's).
    pub namespace: String,
    /// The evaluation being processed (follow-up evaluations record it as
    /// their previous evaluation).
    pub eval_id: String,
    /// Its priority (copied onto follow-up evaluations and a created
    /// deployment).
    pub eval_priority: i64,
    /// Its trigger. Informational: a delayed-reschedule follow-up is
    /// recognised by allocations whose `FollowupEvalID` is `eval_id`.
    pub eval_trigger: String,
    /// Batch job (run to completion) rather than service.
    pub batch: bool,
    /// Every allocation of the job: any version, any status.
    pub existing: &'a [Arc<Allocation>],
    /// Nodes of existing allocations that are down, draining, disconnected,
    /// ineligible or gone.
    pub tainted_nodes: &'a TaintedNodes,
    /// The job's latest deployment.
    pub deployment: Option<Arc<Deployment>>,
    /// Current time, Unix nanoseconds.
    pub now: i64,
}

/// A new allocation the scheduler must find a node for.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    /// `<job>.<group>[<index>]`.
    pub name: String,
    /// Group name.
    pub task_group: String,
    /// The name index.
    pub index: u64,
    /// The allocation this one replaces (reschedule, migration, lost,
    /// disconnect); the scheduler penalises its node for reschedules and
    /// links the two.
    pub previous_alloc: Option<Arc<Allocation>>,
    /// A reschedule of a failed allocation.
    pub reschedule: bool,
    /// A canary of a new job version.
    pub canary: bool,
    /// Replaces an allocation lost with its node.
    pub lost: bool,
    /// Replaces a canary that failed after promotion: the new allocation is
    /// not a canary even though the previous one was.
    pub downgrade_non_canary: bool,
    /// For disconnect replacements: the job version the replacement must
    /// at least run (0 = any).
    pub min_job_version: u64,
}

/// Replace an allocation of an old job version by a new one.
#[derive(Debug, Clone, PartialEq)]
pub struct DestructiveUpdate {
    /// Name of the replacement (the same name as the stopped allocation).
    pub place_name: String,
    /// Group name.
    pub place_task_group: String,
    /// The allocation to stop.
    pub stop_alloc: Arc<Allocation>,
    /// Why it stops.
    pub stop_description: String,
}

/// An allocation to stop.
#[derive(Debug, Clone, PartialEq)]
pub struct StopRequest {
    /// The allocation.
    pub alloc: Arc<Allocation>,
    /// A client status to set at the same time (e.g. `lost`).
    pub client_status: Option<String>,
    /// Desired description, one of [`crate::descriptions`].
    pub description: String,
    /// Follow-up evaluation to record on the allocation.
    pub followup_eval_id: Option<String>,
}

/// A deployment status change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentStatusUpdate {
    /// The deployment.
    pub deployment_id: String,
    /// New status.
    pub status: String,
    /// New status description.
    pub status_description: String,
}

/// What the cluster reconciler decided. Lists are in a deterministic order
/// (groups by name, allocations by name index, then ID).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReconcileResult {
    /// A deployment to create (or the current one, updated).
    pub deployment: Option<Deployment>,
    /// Status changes of existing deployments.
    pub deployment_updates: Vec<DeploymentStatusUpdate>,
    /// New allocations to place.
    pub place: Vec<Placement>,
    /// Allocations to stop and replace.
    pub destructive_update: Vec<DestructiveUpdate>,
    /// Allocations updated in place (as returned by the update oracle).
    pub inplace_update: Vec<Allocation>,
    /// Allocations to stop, with Nomad's descriptions: not needed any more
    /// (scale-down, removed group, stopped job), lost with their node
    /// (client status `lost`, possibly with a follow-up evaluation), being
    /// migrated, failed and being replaced, replaced by a reconnected
    /// original. Also already-stopped allocations still running on down
    /// nodes, to mark them lost (Nomad's `updateNonTerminalAllocsToLost`;
    /// not counted in the annotations).
    pub stop: Vec<StopRequest>,
    /// Allocations whose non-spec attributes change (follow-up evaluation
    /// IDs of delayed reschedules), by allocation ID.
    pub attribute_updates: BTreeMap<String, Allocation>,
    /// Allocations on disconnected nodes that become `unknown`, by ID.
    pub disconnect_updates: BTreeMap<String, Allocation>,
    /// `unknown` allocations whose node came back and that are kept, by ID.
    pub reconnect_updates: BTreeMap<String, Allocation>,
    /// Plan annotations per group.
    pub desired_tg_updates: BTreeMap<String, DesiredUpdates>,
    /// Follow-up evaluations per group (delayed reschedules, disconnect
    /// timeouts).
    pub desired_followup_evals: BTreeMap<String, Vec<Evaluation>>,
}

/// Everything the node reconciler (system and sysbatch jobs) looks at.
#[derive(Debug, Clone)]
pub struct NodeInput<'a> {
    /// The job as it should be; `None` (purged) or stopped means stop all.
    pub job: Option<Arc<Job>>,
    /// The job's ID.
    pub job_id: String,
    /// The job's namespace.
    pub namespace: String,
    /// The evaluation being processed.
    pub eval_id: String,
    /// Its priority.
    pub eval_priority: i64,
    /// Ready, eligible nodes in the job's datacenters and node pool (not
    /// draining).
    pub ready_nodes: &'a [Arc<Node>],
    /// IDs of known nodes that are not ready for placements (not `ready`,
    /// draining or ineligible). Allocations on them are left alone unless
    /// the job changed; allocations on nodes in neither list are stopped.
    pub not_ready_nodes: &'a HashSet<String>,
    /// Nodes of existing allocations that are down, draining, disconnected,
    /// ineligible or gone.
    pub tainted_nodes: &'a TaintedNodes,
    /// Every allocation of the job, terminal ones included.
    pub existing: &'a [Arc<Allocation>],
    /// The job's latest deployment, if any.
    pub deployment: Option<Arc<Deployment>>,
    /// Current time, Unix nanoseconds.
    pub now: i64,
}

/// A system or sysbatch placement: group `task_group` on `node_id`.
#[derive(Debug, Clone, PartialEq)]
pub struct NodePlacement {
    /// `<job>.<group>[0]`.
    pub name: String,
    /// Group name.
    pub task_group: String,
    /// The node.
    pub node_id: String,
    /// The allocation this one replaces on that node, if any.
    pub previous_alloc: Option<Arc<Allocation>>,
    /// A canary of a new job version (system jobs with `update.canary`:
    /// the new version on that percentage of the nodes until promoted).
    pub canary: bool,
}

/// A system or sysbatch destructive update (stop and place on the same node).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeDestructiveUpdate {
    /// The replacement.
    pub place: NodePlacement,
    /// The allocation to stop.
    pub stop_alloc: Arc<Allocation>,
    /// Why it stops.
    pub stop_description: String,
}

/// What the node reconciler decided. Lists are ordered by node ID, then
/// allocation name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeReconcileResult {
    /// New allocations: a group on a node that lacks it. The scheduler
    /// still checks each node's feasibility.
    pub place: Vec<NodePlacement>,
    /// Allocations replaced on their node by the new job version, within
    /// `update.max_parallel`.
    pub destructive_update: Vec<NodeDestructiveUpdate>,
    /// Allocations updated in place (as returned by the update oracle).
    pub inplace_update: Vec<Allocation>,
    /// Allocations to stop: not needed any more ("alloc not needed due to
    /// job update"), on draining nodes ("alloc not needed as node is
    /// tainted"), or lost with their node (client status `lost`). Also
    /// already-stopped allocations still running on down nodes, to mark
    /// them lost (not counted in the annotations).
    pub stop: Vec<StopRequest>,
    /// Allocations on disconnected nodes that become `unknown`, by ID.
    pub disconnect_updates: BTreeMap<String, Allocation>,
    /// `unknown` allocations whose node came back, by ID (the scheduler
    /// stores them to record the reconnect).
    pub reconnect_updates: BTreeMap<String, Allocation>,
    /// Plan annotations per group.
    pub desired_tg_updates: BTreeMap<String, DesiredUpdates>,
    /// A deployment to create for a new job version of a group with an
    /// update block. Its `DesiredTotal` counts candidate nodes before
    /// feasibility; the scheduler lowers it for nodes that cannot run the
    /// group.
    pub deployment: Option<Deployment>,
    /// Status changes of existing deployments (cancelled, successful).
    pub deployment_updates: Vec<DeploymentStatusUpdate>,
}
