//! Request and response bodies of Nomad's `/v1` HTTP API that are not
//! cluster objects themselves: register/deregister/plan/validate requests
//! and responses, drain and eligibility updates, deployment actions, agent
//! and operator views, and the file-system types of `/v1/client/fs`.
//!
//! Field names are Nomad's (`command/agent/*_endpoint.go`, `api/*.go`).
//! Write responses embed Go's `QueryMeta`/`WriteMeta`, so `Index`,
//! `LastContact`, `KnownLeader` and `NextToken` appear flattened in them.
//! Lists are `null` when empty, as Go writes nil slices.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::diff::JobDiff;
use crate::job::Job;
use crate::node::DrainSpec;
use crate::serde_util::nullable;

/// `PUT /v1/jobs` and `PUT /v1/job/:id`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobRegisterRequest {
    /// The job.
    pub job: Option<Job>,
    /// Register only if the job's modify index is [`Self::job_modify_index`]
    /// (0: only if the job does not exist).
    pub enforce_index: bool,
    /// The expected modify index when enforcing.
    pub job_modify_index: u64,
    /// Override soft-mandatory Sentinel policies (accepted, unused).
    pub policy_override: bool,
    /// Keep the group counts of the running version.
    pub preserve_counts: bool,
    /// Keep the task resources of the running version.
    pub preserve_resources: bool,
    /// Priority of the evaluation (0: the job's).
    pub eval_priority: i64,
    /// The original job source (HCL and variables), kept as given.
    pub submission: Option<Value>,
    /// Target region.
    pub region: String,
    /// Target namespace.
    pub namespace: String,
}

/// Response of a job register (and of `PUT /v1/job/:id/evaluate`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobRegisterResponse {
    /// The evaluation created (empty for periodic and parameterized jobs).
    #[serde(rename = "EvalID")]
    pub eval_id: String,
    /// Raft index of the evaluation.
    pub eval_create_index: u64,
    /// The job's modify index after the register.
    pub job_modify_index: u64,
    /// Non-fatal problems with the job, one per line.
    pub warnings: String,
    /// Raft index of the write.
    pub index: u64,
    /// Milliseconds since the leader was last contacted (Go `time.Duration`).
    pub last_contact: i64,
    /// Whether a leader was known.
    pub known_leader: bool,
    /// Pagination token (unused here).
    pub next_token: String,
}

/// Options of `DELETE /v1/job/:id` (query parameters there).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobDeregisterRequest {
    /// Job ID.
    #[serde(rename = "JobID")]
    pub job_id: String,
    /// Namespace.
    pub namespace: String,
    /// Remove the job instead of stopping it.
    pub purge: bool,
    /// Stop a multiregion job in every region.
    pub global: bool,
    /// Priority of the evaluation (0: the job's).
    pub eval_priority: i64,
    /// Skip the shutdown delay of the job's tasks.
    pub no_shutdown_delay: bool,
}

/// Response of `DELETE /v1/job/:id`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobDeregisterResponse {
    /// The evaluation created.
    #[serde(rename = "EvalID")]
    pub eval_id: String,
    /// Raft index of the evaluation.
    pub eval_create_index: u64,
    /// The job's modify index after the change.
    pub job_modify_index: u64,
    /// Evaluation for volume claims (unused).
    #[serde(rename = "VolumeEvalID")]
    pub volume_eval_id: String,
    /// Its index.
    pub volume_eval_index: u64,
    /// Raft index of the write.
    pub index: u64,
    /// Milliseconds since the leader was last contacted.
    pub last_contact: i64,
    /// Whether a leader was known.
    pub known_leader: bool,
    /// Pagination token (unused here).
    pub next_token: String,
}

/// `PUT /v1/job/:id/plan`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobPlanRequest {
    /// The job to plan.
    pub job: Option<Job>,
    /// Include the diff against the running version.
    pub diff: bool,
    /// Override soft-mandatory policies (accepted, unused).
    pub policy_override: bool,
    /// Target region.
    pub region: String,
    /// Target namespace.
    pub namespace: String,
}

/// `POST /v1/validate/job`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobValidateRequest {
    /// The job to validate.
    pub job: Option<Job>,
}

/// Response of `POST /v1/validate/job`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobValidateResponse {
    /// Whether driver configurations were checked too.
    pub driver_config_validated: bool,
    /// Every problem found.
    #[serde(with = "nullable")]
    pub validation_errors: Vec<String>,
    /// All problems as one multi-error text (empty when valid).
    pub error: String,
    /// Non-fatal problems.
    pub warnings: String,
}

/// `POST /v1/jobs/parse`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobsParseRequest {
    /// The HCL2 source.
    #[serde(rename = "JobHCL")]
    pub job_hcl: String,
    /// Parse as HCL1 (refused: not supported).
    #[serde(rename = "HCLv1")]
    pub hclv1: bool,
    /// Variable values, as the text of a variables file.
    pub variables: String,
    /// Apply the server's defaults to the result.
    pub canonicalize: bool,
}

/// Options of `PUT /v1/job/:id/evaluate`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct EvalOptions {
    /// Reschedule failed allocations even past their policy.
    pub force_reschedule: bool,
}

/// `PUT /v1/job/:id/evaluate`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobEvaluateRequest {
    /// Job ID.
    #[serde(rename = "JobID")]
    pub job_id: String,
    /// Options.
    pub eval_options: EvalOptions,
    /// Namespace.
    pub namespace: String,
}

/// Response of `GET /v1/job/:id/versions`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobVersionsResponse {
    /// Versions, newest first.
    #[serde(with = "nullable")]
    pub versions: Vec<Job>,
    /// Diffs between consecutive versions (with `?diffs=true`).
    #[serde(with = "nullable")]
    pub diffs: Vec<JobDiff>,
    /// Raft index of the read.
    pub index: u64,
    /// Milliseconds since the leader was last contacted.
    pub last_contact: i64,
    /// Whether a leader was known.
    pub known_leader: bool,
    /// Pagination token.
    pub next_token: String,
}

/// `PUT /v1/allocation/:id/stop`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct AllocStopRequest {
    /// Allocation ID.
    #[serde(rename = "AllocID")]
    pub alloc_id: String,
    /// Skip the shutdown delay.
    pub no_shutdown_delay: bool,
    /// Namespace.
    pub namespace: String,
}

/// Response of `PUT /v1/allocation/:id/stop`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct AllocStopResponse {
    /// The evaluation created to replace the allocation.
    #[serde(rename = "EvalID")]
    pub eval_id: String,
    /// Raft index of the write.
    pub index: u64,
}

/// `PUT /v1/node/:id/drain`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NodeUpdateDrainRequest {
    /// Node ID.
    #[serde(rename = "NodeID")]
    pub node_id: String,
    /// The drain to set; `None` cancels a drain.
    pub drain_spec: Option<DrainSpec>,
    /// Make the node eligible again when cancelling.
    pub mark_eligible: bool,
    /// Operator metadata kept in the node's `LastDrain`.
    #[serde(with = "nullable")]
    pub meta: BTreeMap<String, String>,
}

/// Response of `PUT /v1/node/:id/drain`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NodeDrainUpdateResponse {
    /// The node's modify index after the update.
    pub node_modify_index: u64,
    /// Evaluations created.
    #[serde(rename = "EvalIDs", with = "nullable")]
    pub eval_ids: Vec<String>,
    /// Raft index of the evaluations.
    pub eval_create_index: u64,
    /// Raft index of the write.
    pub index: u64,
}

/// `PUT /v1/node/:id/eligibility`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NodeUpdateEligibilityRequest {
    /// Node ID.
    #[serde(rename = "NodeID")]
    pub node_id: String,
    /// `eligible` or `ineligible`.
    pub eligibility: String,
}

/// Response of `PUT /v1/node/:id/eligibility`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NodeEligibilityUpdateResponse {
    /// The node's modify index after the update.
    pub node_modify_index: u64,
    /// Evaluations created.
    #[serde(rename = "EvalIDs", with = "nullable")]
    pub eval_ids: Vec<String>,
    /// Raft index of the evaluations.
    pub eval_create_index: u64,
    /// Raft index of the write.
    pub index: u64,
}

/// Response of `PUT /v1/node/:id/evaluate` and `PUT /v1/node/:id/purge`
/// (Nomad's `NodeUpdateResponse`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NodeUpdateResponse {
    /// Heartbeat interval (0: not a heartbeat).
    #[serde(rename = "HeartbeatTTL")]
    pub heartbeat_ttl: i64,
    /// Evaluations created.
    #[serde(rename = "EvalIDs", with = "nullable")]
    pub eval_ids: Vec<String>,
    /// Raft index of the evaluations.
    pub eval_create_index: u64,
    /// The node's modify index after the write.
    pub node_modify_index: u64,
    /// Raft index of the write.
    pub index: u64,
}

/// `PUT /v1/deployment/allocation-health/:id`: marks allocations of the
/// deployment healthy or unhealthy by hand.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DeploymentAllocHealthRequest {
    /// Deployment ID.
    #[serde(rename = "DeploymentID")]
    pub deployment_id: String,
    /// Allocations to mark healthy.
    #[serde(rename = "HealthyAllocationIDs", with = "nullable")]
    pub healthy_allocation_ids: Vec<String>,
    /// Allocations to mark unhealthy.
    #[serde(rename = "UnhealthyAllocationIDs", with = "nullable")]
    pub unhealthy_allocation_ids: Vec<String>,
}

/// `PUT /v1/deployment/promote/:id`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DeploymentPromoteRequest {
    /// Deployment ID.
    #[serde(rename = "DeploymentID")]
    pub deployment_id: String,
    /// Promote every group.
    pub all: bool,
    /// Promote these groups.
    #[serde(with = "nullable")]
    pub groups: Vec<String>,
}

/// `PUT /v1/deployment/pause/:id` (and `fail`, with `pause` ignored).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DeploymentPauseRequest {
    /// Deployment ID.
    #[serde(rename = "DeploymentID")]
    pub deployment_id: String,
    /// Pause (true) or resume (false).
    pub pause: bool,
}

/// Response of the deployment actions.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DeploymentUpdateResponse {
    /// Evaluation created.
    #[serde(rename = "EvalID")]
    pub eval_id: String,
    /// Its index.
    pub eval_create_index: u64,
    /// The deployment's modify index after the update.
    pub deployment_modify_index: u64,
    /// The job version reverted to (auto-revert), if any.
    pub reverted_job_version: Option<u64>,
    /// Raft index of the write.
    pub index: u64,
}

/// One Serf member, as `GET /v1/agent/members` lists servers.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct AgentMember {
    /// `<node name>.<region>`.
    pub name: String,
    /// Gossip address.
    pub addr: String,
    /// Gossip (Serf) port, 4648 by default.
    pub port: u16,
    /// `region`, `dc`, `build`, `port` (RPC), `role`, `raft_vsn`, `bootstrap`, …
    pub tags: BTreeMap<String, String>,
    /// `alive`, `leaving`, `left` or `failed`.
    pub status: String,
    /// Serf protocol range and current version.
    pub protocol_min: u8,
    /// Max protocol.
    pub protocol_max: u8,
    /// Current protocol.
    pub protocol_cur: u8,
    /// Delegate protocol range and current version.
    pub delegate_min: u8,
    /// Max delegate protocol.
    pub delegate_max: u8,
    /// Current delegate protocol.
    pub delegate_cur: u8,
}

impl AgentMember {
    /// A Nomad server as Serf announces it: `addr:port` is its serf address,
    /// `rpc_port` goes in the `port` tag (what clients and the CLI match
    /// against the leader's address), with Nomad's protocol numbers and the
    /// fixed tags (`role`, `raft_vsn`, `vsn`, `mvn`). Callers add the rest
    /// (`id`, `expect`, `bootstrap`, …) to `tags`.
    #[allow(clippy::too_many_arguments)]
    pub fn nomad_server(
        name: impl Into<String>,
        addr: impl Into<String>,
        port: u16,
        rpc_port: u16,
        region: &str,
        datacenter: &str,
        build: &str,
        status: impl Into<String>,
    ) -> AgentMember {
        let mut tags = BTreeMap::new();
        for (k, v) in [
            ("role", "nomad"),
            ("region", region),
            ("dc", datacenter),
            ("build", build),
            ("raft_vsn", "3"),
            ("vsn", "1"),
            ("mvn", "1"),
        ] {
            tags.insert(k.to_string(), v.to_string());
        }
        tags.insert("port".to_string(), rpc_port.to_string());
        AgentMember {
            name: name.into(),
            addr: addr.into(),
            port,
            tags,
            status: status.into(),
            protocol_min: 1,
            protocol_max: 5,
            protocol_cur: 2,
            delegate_min: 2,
            delegate_max: 5,
            delegate_cur: 4,
        }
    }
}

/// `GET /v1/agent/members`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ServerMembers {
    /// Name of the answering server.
    pub server_name: String,
    /// Its region.
    pub server_region: String,
    /// Its datacenter.
    #[serde(rename = "ServerDC")]
    pub server_dc: String,
    /// Every known server.
    #[serde(with = "nullable")]
    pub members: Vec<AgentMember>,
}

/// `GET /v1/agent/self`. Nomad writes these three keys in lower case.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentSelf {
    /// The agent's effective configuration.
    pub config: Value,
    /// The agent's own Serf member (servers), or a synthetic one.
    pub member: AgentMember,
    /// Subsystem → key → value (`nomad`, `raft`, `serf`, `client`, `runtime`).
    pub stats: BTreeMap<String, BTreeMap<String, String>>,
}

/// One half of `GET /v1/agent/health`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentHealth {
    /// Healthy.
    pub ok: bool,
    /// Why (or `ok`).
    pub message: String,
}

/// `GET /v1/agent/health`; an absent role is left out.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentHealthResponse {
    /// Client health, when the agent runs a client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<AgentHealth>,
    /// Server health, when the agent runs a server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<AgentHealth>,
}

/// One server of `GET /v1/operator/raft/configuration`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct RaftServer {
    /// Raft server ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Node name.
    pub node: String,
    /// RPC address `host:port`.
    pub address: String,
    /// Whether it is the leader.
    pub leader: bool,
    /// Whether it votes.
    pub voter: bool,
    /// Raft protocol version, as text.
    pub raft_protocol: String,
}

/// `GET /v1/operator/raft/configuration`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct RaftConfiguration {
    /// The servers.
    #[serde(with = "nullable")]
    pub servers: Vec<RaftServer>,
    /// Raft index of the configuration.
    pub index: u64,
}

/// A file or directory of an allocation (`/v1/client/fs/ls`, `/stat`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct AllocFileInfo {
    /// Base name.
    pub name: String,
    /// Directory.
    pub is_dir: bool,
    /// Size in bytes.
    pub size: i64,
    /// Go `os.FileMode` string, e.g. `-rw-r--r--`.
    pub file_mode: String,
    /// Modification time (RFC 3339).
    pub mod_time: String,
    /// MIME type (files only).
    pub content_type: String,
}

/// One frame of a framed log or file stream (`/v1/client/fs/logs` or
/// `/stream` without `plain`). `Data` is base64, as Go encodes a `[]byte`;
/// every field is left out when empty, as Nomad's are, so a heartbeat is
/// `{}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct StreamFrame {
    /// Offset in the file after this frame's data.
    #[serde(skip_serializing_if = "crate::serde_util::is_zero_i64")]
    pub offset: i64,
    /// Base64 data.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub data: String,
    /// File name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub file: String,
    /// `file deleted` or `file truncated`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub file_event: String,
}

// ---- job actions: revert, stable, dispatch, periodic force, scale ----

/// `PUT /v1/job/:id/revert`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobRevertRequest {
    /// Job ID.
    #[serde(rename = "JobID")]
    pub job_id: String,
    /// The version to go back to.
    pub job_version: u64,
    /// Only revert when the current version is this one.
    pub enforce_prior_version: Option<u64>,
    /// Namespace.
    pub namespace: String,
}

/// `PUT /v1/job/:id/stable`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobStabilityRequest {
    /// Job ID.
    #[serde(rename = "JobID")]
    pub job_id: String,
    /// The version to mark.
    pub job_version: u64,
    /// Stable or not.
    pub stable: bool,
    /// Namespace.
    pub namespace: String,
}

/// Response of `PUT /v1/job/:id/stable`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobStabilityResponse {
    /// Raft index of the write.
    pub index: u64,
}

/// `PUT /v1/job/:id/dispatch`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobDispatchRequest {
    /// The parameterized job's ID.
    #[serde(rename = "JobID")]
    pub job_id: String,
    /// The payload, base64 on the wire (as Go encodes `[]byte`).
    pub payload: Option<String>,
    /// Meta for the child job.
    pub meta: BTreeMap<String, String>,
    /// Prefix template for the child's ID.
    pub id_prefix_template: String,
    /// Idempotency token (`?idempotency_token=` also sets it).
    pub idempotency_token: String,
    /// Namespace.
    pub namespace: String,
}

/// Response of `PUT /v1/job/:id/dispatch`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobDispatchResponse {
    /// The child job's ID.
    #[serde(rename = "DispatchedJobID")]
    pub dispatched_job_id: String,
    /// Its evaluation (empty for a child that needs none).
    #[serde(rename = "EvalID")]
    pub eval_id: String,
    /// Index of the evaluation.
    pub eval_create_index: u64,
    /// Index of the child job.
    pub job_create_index: u64,
    /// Raft index of the write.
    pub index: u64,
}

/// Response of `PUT /v1/job/:id/periodic/force`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct PeriodicForceResponse {
    /// The launched child's evaluation.
    #[serde(rename = "EvalID")]
    pub eval_id: String,
    /// Its index.
    pub eval_create_index: u64,
    /// Raft index of the write.
    pub index: u64,
}

/// `PUT /v1/job/:id/scale`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ScalingRequest {
    /// The new count (absent: only record an event).
    pub count: Option<i64>,
    /// `Job`, `Group` and `Namespace`.
    pub target: BTreeMap<String, String>,
    /// Why.
    pub message: String,
    /// Whether this records an error.
    pub error: bool,
    /// Extra data for the event.
    pub meta: Option<BTreeMap<String, Value>>,
    /// Override a soft policy failure.
    pub policy_override: bool,
    /// Only scale when the job's modify index is this one (0: always).
    pub job_modify_index: u64,
    /// Namespace.
    pub namespace: String,
}

/// One scaling event of a task group.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ScalingEvent {
    /// Unix nanoseconds.
    pub time: u64,
    /// The new count, if it changed.
    pub count: Option<i64>,
    /// The count before.
    pub previous_count: i64,
    /// Message.
    pub message: String,
    /// Whether this is an error event.
    pub error: bool,
    /// Extra data.
    pub meta: Option<BTreeMap<String, Value>>,
    /// Evaluation created by the change.
    #[serde(rename = "EvalID")]
    pub eval_id: Option<String>,
    /// Raft index of the event.
    pub create_index: u64,
}

/// Scale status of one task group.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct TaskGroupScaleStatus {
    /// Desired count.
    pub desired: i64,
    /// Placed allocations.
    pub placed: i64,
    /// Running allocations.
    pub running: i64,
    /// Healthy allocations.
    pub healthy: i64,
    /// Unhealthy allocations.
    pub unhealthy: i64,
    /// Scaling events, newest first.
    #[serde(with = "nullable")]
    pub events: Vec<ScalingEvent>,
}

/// Response of `GET /v1/job/:id/scale`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobScaleStatusResponse {
    /// Job ID.
    #[serde(rename = "JobID")]
    pub job_id: String,
    /// Namespace.
    pub namespace: String,
    /// The job's create index.
    pub job_create_index: u64,
    /// The job's modify index.
    pub job_modify_index: u64,
    /// Whether the job is stopped.
    pub job_stopped: bool,
    /// Per task group.
    pub task_groups: BTreeMap<String, TaskGroupScaleStatus>,
}

/// Body of `PUT /v1/search`: IDs that start with `Prefix`, in one context
/// (`jobs`, `evals`, `allocs`, `nodes`, `deployment`, …) or `all`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct SearchRequest {
    /// The start of the IDs (or names) to find.
    pub prefix: String,
    /// Where to look; `all` (or empty) for every context.
    pub context: String,
}

/// Answer of `PUT /v1/search`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct SearchResponse {
    /// Context → matching IDs (at most 20 each), in ID order.
    pub matches: BTreeMap<String, Vec<String>>,
    /// Context → whether more than the matches returned exist.
    pub truncations: BTreeMap<String, bool>,
    /// Highest Raft index of the tables searched.
    pub index: u64,
    /// Milliseconds since the leader was last contacted (Go `time.Duration`).
    pub last_contact: i64,
    /// Whether a leader was known.
    pub known_leader: bool,
    /// Pagination token (unused here).
    pub next_token: String,
}
