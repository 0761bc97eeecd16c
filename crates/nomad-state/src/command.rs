//! Log entries: every change to cluster state, as the consensus layer
//! carries it.
//!
//! Each entry holds everything its application needs: times, IDs and
//! random choices are made by the server that proposes the entry and travel
//! in it, so applying an entry is a pure function of (state, index, entry).
//!
//! # Wire format
//!
//! `[b'N', b'L', version]` followed by the entry as JSON (`{"Type": …,
//! "Body": {…}}`, fields PascalCase like Nomad's API), with struct fields
//! that hold zero values (`null`, `false`, `0`, `""`) left out and filled
//! back in by the decoder's defaults (`compact_json`): a job registration
//! is ~1.9 KiB instead of ~3.4 KiB. Entries written with every field decode
//! the same, so older logs need no migration. JSON because the
//! shared types serialize for Nomad's API with self-describing tricks
//! (`null` for empty lists, opaque JSON values) that compact binary serde
//! formats reject; measured on plan entries it costs about 1.5 KiB per
//! allocation and decodes at a few hundred MB/s (`examples/c1m.rs`
//! measures it). Plans carry their job once
//! ([`ApplyPlanResults::job`]) rather than inside every allocation, as
//! Nomad's plan applier does. A decoder refuses versions newer than
//! [`LOG_FORMAT_VERSION`] with a clear error rather than guessing.

use std::collections::BTreeMap;
use std::sync::Arc;

use nomad_types::alloc::AllocNetworkStatus;
use nomad_types::node::NodeEvent;
use nomad_types::{
    AllocDeploymentStatus, Allocation, Deployment, DesiredTransition, DrainStrategy, Evaluation,
    Job, Node, SchedulerConfiguration, TaskState,
};
use serde::{Deserialize, Serialize};

use crate::error::DecodeError;

/// Version of the log entry encoding written by [`Command::encode`].
pub const LOG_FORMAT_VERSION: u8 = 1;
const LOG_MAGIC: [u8; 2] = *b"NL";

/// A log entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "Type", content = "Body")]
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Changes nothing; a barrier (a new leader's first entry).
    Noop,
    /// Register or update a job, with its first evaluation.
    JobRegister(JobRegister),
    /// Stop (or purge) a job.
    JobDeregister(JobDeregister),
    /// Stop or purge several jobs at once.
    JobBatchDeregister(JobBatchDeregister),
    /// Create or update evaluations.
    EvalUpdate(EvalUpdate),
    /// Delete (reap) evaluations and allocations.
    EvalDelete(EvalDelete),
    /// The result of a plan: placements, stops, preemptions, deployments.
    ApplyPlanResults(ApplyPlanResults),
    /// Client-reported allocation status.
    AllocClientUpdate(AllocClientUpdate),
    /// Server-side transitions (migrate, reschedule) for allocations.
    AllocUpdateDesiredTransition(AllocUpdateDesiredTransition),
    /// Register or update a node.
    NodeRegister(NodeRegister),
    /// Remove nodes.
    NodeDeregister(NodeDeregister),
    /// Change a node's status (heartbeat missed, node ready, …).
    NodeUpdateStatus(NodeUpdateStatus),
    /// Start, update or cancel a node's drain.
    NodeUpdateDrain(NodeUpdateDrain),
    /// Drain changes from the drainer (drains completed), several nodes.
    NodeBatchUpdateDrain(NodeBatchUpdateDrain),
    /// Mark a node (in)eligible for placements.
    NodeUpdateEligibility(NodeUpdateEligibility),
    /// Append node events.
    NodeEvents(NodeEvents),
    /// Set a deployment's status.
    DeploymentStatusUpdate(DeploymentStatusUpdateRequest),
    /// Promote a deployment's canaries.
    DeploymentPromotion(DeploymentPromotion),
    /// Set the health of a deployment's allocations.
    DeploymentAllocHealth(DeploymentAllocHealth),
    /// Delete deployments.
    DeploymentDelete(DeploymentDelete),
    /// Replace the scheduler configuration.
    SchedulerConfig(SchedulerConfigUpdate),
    /// Record a periodic job's launch.
    PeriodicLaunch(PeriodicLaunchUpdate),
    /// Mark a job version (un)stable.
    JobStability(JobStability),
    /// Replace the whole state with an operator's snapshot image
    /// (`nomad operator snapshot restore`).
    Restore(StateRestore),
    /// Record a scaling event of a task group, with the job's new count
    /// (`nomad job scale`).
    ScalingEventRegister(ScalingEventRegister),
}

/// The body of [`Command::Restore`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct StateRestore {
    /// The image written by [`StateSnapshot::write_to`](crate::StateSnapshot::write_to),
    /// base64 (standard alphabet).
    pub image: String,
}

impl Command {
    /// The entry's type name (`JobRegister`, …).
    pub fn type_name(&self) -> &'static str {
        match self {
            Command::Noop => "Noop",
            Command::JobRegister(_) => "JobRegister",
            Command::JobDeregister(_) => "JobDeregister",
            Command::JobBatchDeregister(_) => "JobBatchDeregister",
            Command::EvalUpdate(_) => "EvalUpdate",
            Command::EvalDelete(_) => "EvalDelete",
            Command::ApplyPlanResults(_) => "ApplyPlanResults",
            Command::AllocClientUpdate(_) => "AllocClientUpdate",
            Command::AllocUpdateDesiredTransition(_) => "AllocUpdateDesiredTransition",
            Command::NodeRegister(_) => "NodeRegister",
            Command::NodeDeregister(_) => "NodeDeregister",
            Command::NodeUpdateStatus(_) => "NodeUpdateStatus",
            Command::NodeUpdateDrain(_) => "NodeUpdateDrain",
            Command::NodeBatchUpdateDrain(_) => "NodeBatchUpdateDrain",
            Command::NodeUpdateEligibility(_) => "NodeUpdateEligibility",
            Command::NodeEvents(_) => "NodeEvents",
            Command::DeploymentStatusUpdate(_) => "DeploymentStatusUpdate",
            Command::DeploymentPromotion(_) => "DeploymentPromotion",
            Command::DeploymentAllocHealth(_) => "DeploymentAllocHealth",
            Command::DeploymentDelete(_) => "DeploymentDelete",
            Command::SchedulerConfig(_) => "SchedulerConfig",
            Command::PeriodicLaunch(_) => "PeriodicLaunch",
            Command::JobStability(_) => "JobStability",
            Command::Restore(_) => "Restore",
            Command::ScalingEventRegister(_) => "ScalingEventRegister",
        }
    }

    /// Encodes the entry for the log. Serializing plain data into a `Vec`
    /// cannot fail (every map key in these types is a string); should it,
    /// the entry becomes a `Noop`. A proposer that applies its own command
    /// in memory must use [`Command::try_encode`] instead.
    pub fn encode(&self) -> Vec<u8> {
        self.try_encode().unwrap_or_else(|| {
            let mut out = Vec::with_capacity(32);
            out.extend_from_slice(&LOG_MAGIC);
            out.push(LOG_FORMAT_VERSION);
            out.extend_from_slice(br#"{"Type":"Noop"}"#);
            out
        })
    }

    /// Encodes the entry for the log; `None` if it cannot be serialized.
    pub fn try_encode(&self) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(&LOG_MAGIC);
        out.push(LOG_FORMAT_VERSION);
        crate::compact_json::to_writer(&mut out, self).ok()?;
        Some(out)
    }

    /// Decodes an entry written by [`Command::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Command, DecodeError> {
        const WHAT: &str = "log entry";
        let body = check_header(bytes, LOG_MAGIC, LOG_FORMAT_VERSION, WHAT)?;
        let malformed = |message: String| DecodeError::Malformed {
            what: WHAT,
            message,
        };
        // Checked as UTF-8 once, whole: reading from a `&str`, serde_json
        // does not check each string again (that was ~15% of a decode).
        let text = std::str::from_utf8(body).map_err(|e| malformed(e.to_string()))?;
        serde_json::from_str(text).map_err(|e| malformed(e.to_string()))
    }
}

pub(crate) fn check_header<'a>(
    bytes: &'a [u8],
    magic: [u8; 2],
    supported: u8,
    what: &'static str,
) -> Result<&'a [u8], DecodeError> {
    match bytes {
        [a, b, v, body @ ..] if [*a, *b] == magic => {
            if *v == 0 || *v > supported {
                Err(DecodeError::UnsupportedVersion {
                    what,
                    found: *v,
                    supported,
                })
            } else {
                Ok(body)
            }
        }
        _ => Err(DecodeError::BadHeader { what }),
    }
}

/// Register or update a job.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobRegister {
    /// The job as submitted (validated by the server; canonicalized on
    /// apply unless `canonical`).
    pub job: Job,
    /// The evaluation to create (none for periodic and parameterized jobs).
    pub eval: Option<Evaluation>,
    /// A deployment to create with the job (multiregion).
    pub deployment: Option<Deployment>,
    /// Submission time, Unix nanoseconds; becomes the job's `SubmitTime`.
    pub submit_time: i64,
    /// `-check-index`: the job's current `JobModifyIndex` must equal this
    /// (0: the job must not exist).
    pub enforce_index: Option<u64>,
    /// Keep the group counts of the running job.
    pub preserve_counts: bool,
    /// The proposer canonicalized `job` (the API's register path does), so
    /// applying the entry does not do it again (canonicalizing is
    /// idempotent: the state is the same either way). False in entries
    /// written before this field existed and from other proposers: those
    /// are canonicalized on apply.
    pub canonical: bool,
}

/// Stop or purge a job.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobDeregister {
    /// Namespace.
    pub namespace: String,
    /// Job ID.
    #[serde(rename = "JobID")]
    pub job_id: String,
    /// Remove the job and everything of it instead of stopping it.
    pub purge: bool,
    /// The evaluation to create; applied even when the job is missing.
    pub eval: Option<Evaluation>,
    /// Unix nanoseconds; becomes the stopped job's `SubmitTime` (0 keeps it).
    pub submit_time: i64,
    /// Mark every allocation of the job to skip its shutdown delay.
    pub no_shutdown_delay: bool,
}

/// One job of a [`JobBatchDeregister`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobDeregisterOptions {
    /// Namespace.
    pub namespace: String,
    /// Job ID.
    #[serde(rename = "JobID")]
    pub job_id: String,
    /// Purge instead of stop.
    pub purge: bool,
}

/// Stop or purge several jobs (the garbage collector's entry).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobBatchDeregister {
    /// The jobs.
    pub jobs: Vec<JobDeregisterOptions>,
    /// Evaluations to create afterwards.
    pub evals: Vec<Evaluation>,
    /// Unix nanoseconds, for stopped jobs.
    pub submit_time: i64,
}

/// Create or update evaluations.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct EvalUpdate {
    /// The evaluations, whole.
    pub evals: Vec<Evaluation>,
}

/// Delete evaluations and allocations (garbage collection, or an operator
/// with the broker paused).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct EvalDelete {
    /// Evaluation IDs.
    pub evals: Vec<String>,
    /// Allocation IDs.
    pub allocs: Vec<String>,
    /// Asked for by an operator: refused unless the eval broker is paused.
    pub user_initiated: bool,
}

/// An allocation the plan stops.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct AllocStop {
    /// Allocation ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Why (`alloc not needed due to job update`, …).
    pub desired_description: String,
    /// A client status to set (`lost`, …); empty keeps the client's.
    pub client_status: String,
    /// Follow-up evaluation (delayed reschedule).
    #[serde(rename = "FollowupEvalID")]
    pub followup_eval_id: String,
    /// Unix nanoseconds; 0 keeps the allocation's.
    pub modify_time: i64,
}

/// An allocation the plan preempts.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct AllocPreempted {
    /// Allocation ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// The allocation that preempted it.
    pub preempted_by_allocation: String,
    /// Unix nanoseconds; 0 keeps the allocation's.
    pub modify_time: i64,
}

/// A deployment status change.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DeploymentStatusUpdate {
    /// Deployment ID.
    #[serde(rename = "DeploymentID")]
    pub deployment_id: String,
    /// New status.
    pub status: String,
    /// New description.
    pub status_description: String,
}

/// The result of a plan, as committed by the plan applier.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ApplyPlanResults {
    /// The job the plan was made for; attached to every updated allocation
    /// that has none (so the entry carries it once).
    pub job: Option<Arc<Job>>,
    /// New and updated allocations, whole.
    pub allocs_updated: Vec<Allocation>,
    /// Allocations stopped.
    pub allocs_stopped: Vec<AllocStop>,
    /// Allocations preempted.
    pub allocs_preempted: Vec<AllocPreempted>,
    /// A deployment created or updated by the plan.
    pub deployment: Option<Deployment>,
    /// Status changes of other deployments.
    pub deployment_updates: Vec<DeploymentStatusUpdate>,
    /// The evaluation that made the plan.
    #[serde(rename = "EvalID")]
    pub eval_id: String,
    /// Evaluations for the jobs whose allocations were preempted.
    pub preemption_evals: Vec<Evaluation>,
    /// Nodes to mark ineligible (too many rejected plans).
    pub ineligible_nodes: Vec<String>,
    /// Unix nanoseconds.
    pub updated_at: i64,
}

/// A client's report on one allocation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ClientAllocUpdate {
    /// Allocation ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Client status.
    pub client_status: String,
    /// Client status detail.
    pub client_description: String,
    /// Task states.
    pub task_states: BTreeMap<String, TaskState>,
    /// Deployment health as the client sees it.
    pub deployment_status: Option<AllocDeploymentStatus>,
    /// Network status.
    pub network_status: Option<AllocNetworkStatus>,
    /// Unix nanoseconds.
    pub modify_time: i64,
}

/// Client-reported allocation updates, batched.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct AllocClientUpdate {
    /// The updates.
    pub allocs: Vec<ClientAllocUpdate>,
    /// Evaluations to create (failed allocations to reschedule).
    pub evals: Vec<Evaluation>,
}

/// Desired transitions for allocations.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct AllocUpdateDesiredTransition {
    /// Allocation ID → transition to merge.
    pub allocs: BTreeMap<String, DesiredTransition>,
    /// Evaluations to create.
    pub evals: Vec<Evaluation>,
}

/// Register a node.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NodeRegister {
    /// The node as fingerprinted.
    pub node: Node,
}

/// Remove nodes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NodeDeregister {
    /// Node IDs.
    #[serde(rename = "NodeIDs")]
    pub node_ids: Vec<String>,
}

/// Change a node's status.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NodeUpdateStatus {
    /// Node ID.
    #[serde(rename = "NodeID")]
    pub node_id: String,
    /// New status.
    pub status: String,
    /// Unix seconds.
    pub updated_at: i64,
    /// Event to record.
    pub node_event: Option<NodeEvent>,
}

/// Start, change or cancel a drain.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NodeUpdateDrain {
    /// Node ID.
    #[serde(rename = "NodeID")]
    pub node_id: String,
    /// The drain; `None` cancels it.
    pub drain_strategy: Option<DrainStrategy>,
    /// Make the node eligible again when cancelling.
    pub mark_eligible: bool,
    /// Unix seconds.
    pub updated_at: i64,
    /// Event to record.
    pub node_event: Option<NodeEvent>,
    /// Operator metadata for `LastDrain`.
    pub meta: BTreeMap<String, String>,
    /// Token accessor that asked.
    #[serde(rename = "UpdatedBy")]
    pub accessor_id: String,
}

/// One node of a [`NodeBatchUpdateDrain`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DrainUpdate {
    /// The drain; `None` ends it (completed).
    pub drain_strategy: Option<DrainStrategy>,
    /// Make the node eligible.
    pub mark_eligible: bool,
}

/// Drains ended by the drainer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NodeBatchUpdateDrain {
    /// Node ID → update.
    pub updates: BTreeMap<String, DrainUpdate>,
    /// Node ID → event.
    pub node_events: BTreeMap<String, NodeEvent>,
    /// Unix seconds.
    pub updated_at: i64,
}

/// Mark a node (in)eligible.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NodeUpdateEligibility {
    /// Node ID.
    #[serde(rename = "NodeID")]
    pub node_id: String,
    /// `eligible` or `ineligible`.
    pub eligibility: String,
    /// Unix seconds.
    pub updated_at: i64,
    /// Event to record.
    pub node_event: Option<NodeEvent>,
}

/// Append node events.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NodeEvents {
    /// Node ID → events.
    pub node_events: BTreeMap<String, Vec<NodeEvent>>,
}

/// Set a deployment's status (deployment watcher, `deployment pause/fail`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DeploymentStatusUpdateRequest {
    /// The change.
    pub deployment_update: DeploymentStatusUpdate,
    /// Unix nanoseconds.
    pub updated_at: i64,
    /// A job to register with it (auto-revert).
    pub job: Option<Job>,
    /// An evaluation to create.
    pub eval: Option<Evaluation>,
}

/// Promote canaries.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DeploymentPromotion {
    /// Deployment ID.
    #[serde(rename = "DeploymentID")]
    pub deployment_id: String,
    /// Every group.
    pub all: bool,
    /// These groups (when not `all`).
    pub groups: Vec<String>,
    /// Unix nanoseconds.
    pub promoted_at: i64,
    /// An evaluation to create.
    pub eval: Option<Evaluation>,
}

/// Set allocation health within a deployment.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DeploymentAllocHealth {
    /// Deployment ID.
    #[serde(rename = "DeploymentID")]
    pub deployment_id: String,
    /// Healthy allocations.
    #[serde(rename = "HealthyAllocationIDs")]
    pub healthy_allocation_ids: Vec<String>,
    /// Unhealthy allocations.
    #[serde(rename = "UnhealthyAllocationIDs")]
    pub unhealthy_allocation_ids: Vec<String>,
    /// Unix nanoseconds.
    pub timestamp: i64,
    /// A status change of the deployment.
    pub deployment_update: Option<DeploymentStatusUpdate>,
    /// A job to register (auto-revert).
    pub job: Option<Job>,
    /// An evaluation to create.
    pub eval: Option<Evaluation>,
}

/// Delete deployments.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DeploymentDelete {
    /// Deployment IDs.
    pub deployments: Vec<String>,
}

/// Replace the scheduler configuration.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct SchedulerConfigUpdate {
    /// The configuration.
    pub config: SchedulerConfiguration,
    /// Check-and-set: apply only if the current configuration's modify
    /// index equals this (0: none written yet).
    pub cas_index: Option<u64>,
}

/// Record a periodic launch.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct PeriodicLaunchUpdate {
    /// Namespace.
    pub namespace: String,
    /// The periodic (parent) job.
    #[serde(rename = "JobID")]
    pub job_id: String,
    /// Launch time, Unix nanoseconds.
    pub launch: i64,
}

/// Mark a job version (un)stable.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobStability {
    /// Namespace.
    pub namespace: String,
    /// Job ID.
    #[serde(rename = "JobID")]
    pub job_id: String,
    /// Version.
    pub job_version: u64,
    /// Stable.
    pub stable: bool,
}

/// Record a scaling event (Nomad's `ScalingEventRegisterRequestType`),
/// and with a count, register the job with the group's new count and its
/// evaluation in the same entry.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ScalingEventRegister {
    /// Namespace.
    pub namespace: String,
    /// Job ID.
    #[serde(rename = "JobID")]
    pub job_id: String,
    /// The task group scaled.
    pub task_group: String,
    /// The event; its `CreateIndex` becomes the entry's index.
    pub event: nomad_types::api::ScalingEvent,
    /// The job with the new count (and its evaluation), applied first; the
    /// entry fails as a whole when it does (check-index conflict).
    pub job_register: Option<JobRegister>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_header_checks() {
        let c = Command::JobDeregister(JobDeregister {
            namespace: "default".into(),
            job_id: "web".into(),
            purge: true,
            ..JobDeregister::default()
        });
        let bytes = c.encode();
        assert_eq!(&bytes[..3], b"NL\x01");
        assert_eq!(Command::decode(&bytes).unwrap(), c);
        assert_eq!(
            Command::decode(&Command::Noop.encode()).unwrap(),
            Command::Noop
        );
        let mut newer = bytes.clone();
        newer[2] = 9;
        let err = Command::decode(&newer).unwrap_err().to_string();
        assert!(err.contains("version 9 is not supported"), "{err}");
        assert!(matches!(
            Command::decode(b"{}"),
            Err(DecodeError::BadHeader { .. })
        ));
        let err = Command::decode(b"NL\x01{\"Type\":\"Bogus\"}").unwrap_err();
        assert!(matches!(err, DecodeError::Malformed { .. }));
        // Bytes that are not UTF-8 inside a string are refused, not read.
        let err = Command::decode(b"NL\x01{\"Type\":\"Noop\",\"X\":\"\xff\"}").unwrap_err();
        assert!(
            matches!(&err, DecodeError::Malformed { message, .. } if message.contains("utf-8")),
            "{err}"
        );
    }
}
