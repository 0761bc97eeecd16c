//! Evaluations (units of scheduler work) and plan annotations.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::alloc::{AllocMetric, AllocationListStub};
use crate::consts::eval_status;
use crate::diff::JobDiff;
use crate::duration::{GoTime, Nanos};
use crate::node::short;
use crate::serde_util::nullable;

/// An evaluation.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Evaluation {
    /// ID (UUID).
    #[serde(rename = "ID")]
    pub id: String,
    /// Namespace.
    pub namespace: String,
    /// Priority (the job's, or an override).
    pub priority: i64,
    /// Scheduler type (the job type, or `_core`).
    #[serde(rename = "Type")]
    pub eval_type: String,
    /// Trigger, see [`crate::consts::eval_trigger`].
    pub triggered_by: String,
    /// Job.
    #[serde(rename = "JobID")]
    pub job_id: String,
    /// Job modify index at creation.
    pub job_modify_index: u64,
    /// Node (node-triggered evaluations).
    #[serde(rename = "NodeID")]
    pub node_id: String,
    /// Node modify index at creation.
    pub node_modify_index: u64,
    /// Deployment.
    #[serde(rename = "DeploymentID")]
    pub deployment_id: String,
    /// `blocked`, `pending`, `complete`, `failed`, `canceled`.
    pub status: String,
    /// Status detail.
    pub status_description: String,
    /// Legacy delay.
    pub wait: Nanos,
    /// Do not process before this time.
    pub wait_until: GoTime,
    /// Follow-up evaluation.
    pub next_eval: String,
    /// Evaluation that created this one.
    pub previous_eval: String,
    /// Blocked evaluation created by this one.
    pub blocked_eval: String,
    /// Related evaluations (filled on request).
    #[serde(with = "nullable")]
    pub related_evals: Vec<EvaluationStub>,
    /// Placement failures per group.
    #[serde(rename = "FailedTGAllocs", with = "nullable")]
    pub failed_tg_allocs: BTreeMap<String, AllocMetric>,
    /// Plan annotations (plan-only evaluations).
    pub plan_annotations: Option<PlanAnnotations>,
    /// Eligibility per computed node class.
    #[serde(with = "nullable")]
    pub class_eligibility: BTreeMap<String, bool>,
    /// Quota reached (Enterprise).
    pub quota_limit_reached: String,
    /// Missing resources not tied to nodes.
    #[serde(with = "nullable")]
    pub missing_non_node_resources: Vec<String>,
    /// A constraint used a unique attribute.
    pub escaped_computed_class: bool,
    /// Annotate the plan (job plan).
    pub annotate_plan: bool,
    /// Unplaced allocations per group.
    #[serde(with = "nullable")]
    pub queued_allocations: BTreeMap<String, i64>,
    /// Internal leader token (never filled by this implementation).
    #[serde(rename = "LeaderACL")]
    pub leader_acl: String,
    /// State index the scheduler used.
    pub snapshot_index: u64,
    /// Raft create index.
    pub create_index: u64,
    /// Raft modify index.
    pub modify_index: u64,
    /// Creation time, Unix nanoseconds.
    pub create_time: i64,
    /// Modification time, Unix nanoseconds.
    pub modify_time: i64,
}

impl Evaluation {
    /// First 8 characters of the ID.
    pub fn short_id(&self) -> &str {
        short(&self.id)
    }

    /// `complete`, `failed` or `canceled`.
    pub fn terminal_status(&self) -> bool {
        matches!(
            self.status.as_str(),
            eval_status::COMPLETE | eval_status::FAILED | eval_status::CANCELLED
        )
    }

    /// `blocked`.
    pub fn is_blocked(&self) -> bool {
        self.status == eval_status::BLOCKED
    }

    /// The stub used in `RelatedEvals`.
    pub fn stub(&self) -> EvaluationStub {
        EvaluationStub {
            id: self.id.clone(),
            namespace: self.namespace.clone(),
            priority: self.priority,
            eval_type: self.eval_type.clone(),
            triggered_by: self.triggered_by.clone(),
            job_id: self.job_id.clone(),
            node_id: self.node_id.clone(),
            deployment_id: self.deployment_id.clone(),
            status: self.status.clone(),
            status_description: self.status_description.clone(),
            wait_until: self.wait_until.clone(),
            next_eval: self.next_eval.clone(),
            previous_eval: self.previous_eval.clone(),
            blocked_eval: self.blocked_eval.clone(),
            create_index: self.create_index,
            modify_index: self.modify_index,
            create_time: self.create_time,
            modify_time: self.modify_time,
        }
    }
}

/// Short form of an evaluation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct EvaluationStub {
    /// ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Namespace.
    pub namespace: String,
    /// Priority.
    pub priority: i64,
    /// Type.
    #[serde(rename = "Type")]
    pub eval_type: String,
    /// Trigger.
    pub triggered_by: String,
    /// Job.
    #[serde(rename = "JobID")]
    pub job_id: String,
    /// Node.
    #[serde(rename = "NodeID")]
    pub node_id: String,
    /// Deployment.
    #[serde(rename = "DeploymentID")]
    pub deployment_id: String,
    /// Status.
    pub status: String,
    /// Status detail.
    pub status_description: String,
    /// Wait until.
    pub wait_until: GoTime,
    /// Next evaluation.
    pub next_eval: String,
    /// Previous evaluation.
    pub previous_eval: String,
    /// Blocked evaluation.
    pub blocked_eval: String,
    /// Raft create index.
    pub create_index: u64,
    /// Raft modify index.
    pub modify_index: u64,
    /// Creation time.
    pub create_time: i64,
    /// Modification time.
    pub modify_time: i64,
}

/// What a plan would do, per group.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct PlanAnnotations {
    /// Counts per group.
    #[serde(rename = "DesiredTGUpdates", with = "nullable")]
    pub desired_tg_updates: BTreeMap<String, DesiredUpdates>,
    /// Allocations that would be preempted.
    #[serde(with = "nullable")]
    pub preempted_allocs: Vec<AllocationListStub>,
}

/// Planned changes for one group.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DesiredUpdates {
    /// Unchanged.
    pub ignore: u64,
    /// New placements.
    pub place: u64,
    /// Migrations.
    pub migrate: u64,
    /// Stops.
    pub stop: u64,
    /// In-place updates.
    pub in_place_update: u64,
    /// Destructive updates.
    pub destructive_update: u64,
    /// Canaries.
    pub canary: u64,
    /// Preemptions.
    pub preemptions: u64,
    /// Disconnects.
    pub disconnect: u64,
    /// Reconnects.
    pub reconnect: u64,
    /// Immediate reschedules.
    pub reschedule_now: u64,
    /// Delayed reschedules.
    pub reschedule_later: u64,
}

/// Response of `PUT /v1/job/:id/plan`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobPlanResponse {
    /// Current job modify index (for `-check-index`).
    pub job_modify_index: u64,
    /// Evaluations that would be created.
    #[serde(with = "nullable")]
    pub created_evals: Vec<Evaluation>,
    /// The job diff.
    pub diff: Option<JobDiff>,
    /// Scheduler annotations.
    pub annotations: Option<PlanAnnotations>,
    /// Placement failures per group.
    #[serde(rename = "FailedTGAllocs", with = "nullable")]
    pub failed_tg_allocs: BTreeMap<String, AllocMetric>,
    /// Next periodic launch.
    pub next_periodic_launch: GoTime,
    /// Warnings.
    pub warnings: String,
}
