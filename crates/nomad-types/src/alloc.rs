//! Allocations (a task group placed on a node) as Nomad's HTTP API returns
//! them, with their task states and placement metrics.
//!
//! A cluster holds a million of these, so the parts that are large and
//! often identical are shared rather than copied — like the pointers of
//! Nomad's Go structs, but without changing the JSON: the job, the legacy
//! `Resources`, and `AllocatedResources` (identical for every placement of
//! a group without ports, devices or reserved cores) are `Arc`s; the maps
//! of [`AllocMetric`] are compact sorted vectors ([`VecMap`], [`ScoreMap`])
//! that serialize as JSON objects, and score rows name their node with a
//! shared string.

mod maps;

pub use maps::{ScoreMap, VecMap, SCORERS};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::consts::{alloc_client_status, alloc_desired_status, task_state};
use crate::duration::{GoTime, Nanos};
use crate::job::Job;
use crate::node::short;
use crate::resources::{DnsConfig, NetworkResource, Resources};
use crate::serde_util::nullable;
use crate::task::TaskLifecycle;
use std::sync::Arc;

/// An allocation.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Allocation {
    /// Allocation ID (UUID).
    #[serde(rename = "ID")]
    pub id: String,
    /// Namespace.
    pub namespace: String,
    /// Evaluation that placed it.
    #[serde(rename = "EvalID")]
    pub eval_id: String,
    /// `<job>.<group>[<index>]`.
    pub name: String,
    /// Node ID.
    #[serde(rename = "NodeID")]
    pub node_id: String,
    /// Node name.
    pub node_name: String,
    /// Job ID.
    #[serde(rename = "JobID")]
    pub job_id: String,
    /// The job as it was when this allocation was placed. Shared: a million
    /// allocations of one job version hold one copy.
    pub job: Option<Arc<Job>>,
    /// Group name.
    pub task_group: String,
    /// Legacy total resources.
    pub resources: Option<Arc<Resources>>,
    /// Legacy shared resources.
    pub shared_resources: Option<Arc<Resources>>,
    /// Legacy per-task resources.
    #[serde(with = "nullable")]
    pub task_resources: BTreeMap<String, Resources>,
    /// Resources assigned by the scheduler; shared by the placements of a
    /// group that received identical ones.
    pub allocated_resources: Option<Arc<AllocatedResources>>,
    /// Placement metrics.
    pub metrics: Option<AllocMetric>,
    /// `run`, `stop` or `evict`.
    pub desired_status: String,
    /// Why the desired status was set.
    pub desired_description: String,
    /// Pending server-side transitions.
    pub desired_transition: DesiredTransition,
    /// `pending`, `running`, `complete`, `failed`, `lost`, `unknown`.
    pub client_status: String,
    /// Client status detail.
    pub client_description: String,
    /// Task states, by task name.
    #[serde(with = "nullable")]
    pub task_states: BTreeMap<String, TaskState>,
    /// Client status history.
    #[serde(with = "nullable")]
    pub alloc_states: Vec<AllocState>,
    /// Allocation this one replaces.
    pub previous_allocation: String,
    /// Allocation replacing this one.
    pub next_allocation: String,
    /// Deployment.
    #[serde(rename = "DeploymentID")]
    pub deployment_id: String,
    /// Deployment health.
    pub deployment_status: Option<AllocDeploymentStatus>,
    /// Reschedule history.
    pub reschedule_tracker: Option<RescheduleTracker>,
    /// Network status from the client.
    pub network_status: Option<AllocNetworkStatus>,
    /// Follow-up evaluation for a delayed reschedule.
    #[serde(rename = "FollowupEvalID")]
    pub followup_eval_id: String,
    /// Allocations this one preempted.
    #[serde(with = "nullable")]
    pub preempted_allocations: Vec<String>,
    /// Allocation that preempted this one.
    pub preempted_by_allocation: String,
    /// Key that signed the workload identities.
    #[serde(rename = "SigningKeyID")]
    pub signing_key_id: String,
    /// Raft create index.
    pub create_index: u64,
    /// Raft modify index.
    pub modify_index: u64,
    /// Index of the last server-side change.
    pub alloc_modify_index: u64,
    /// Creation time, Unix nanoseconds.
    pub create_time: i64,
    /// Modification time, Unix nanoseconds.
    pub modify_time: i64,
}

impl Allocation {
    /// First 8 characters of the ID.
    pub fn short_id(&self) -> &str {
        short(&self.id)
    }

    /// Desired status is `stop` or `evict`.
    pub fn server_terminal_status(&self) -> bool {
        matches!(
            self.desired_status.as_str(),
            alloc_desired_status::STOP | alloc_desired_status::EVICT
        )
    }

    /// Client status is `complete`, `failed` or `lost`.
    pub fn client_terminal_status(&self) -> bool {
        matches!(
            self.client_status.as_str(),
            alloc_client_status::COMPLETE | alloc_client_status::FAILED | alloc_client_status::LOST
        )
    }

    /// Terminal on either side.
    pub fn terminal_status(&self) -> bool {
        self.server_terminal_status() || self.client_terminal_status()
    }

    /// Every task finished without failing.
    pub fn ran_successfully(&self) -> bool {
        !self.task_states.is_empty() && self.task_states.values().all(TaskState::successful)
    }

    /// The index in `<job>.<group>[<index>]`, or 0 when it cannot be read.
    pub fn index(&self) -> u64 {
        let prefix = self.job_id.len() + self.task_group.len() + 2;
        if self.name.len() <= 3 || self.name.len() <= prefix {
            return 0;
        }
        self.name
            .get(prefix..self.name.len() - 1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    /// The job's group this allocation runs, if the job snapshot is present.
    pub fn task_group_spec(&self) -> Option<&crate::group::TaskGroup> {
        self.job.as_ref()?.lookup_task_group(&self.task_group)
    }

    /// The list stub `GET /v1/allocations` returns for this allocation.
    pub fn stub(&self) -> AllocationListStub {
        let job = self.job.as_ref();
        AllocationListStub {
            id: self.id.clone(),
            eval_id: self.eval_id.clone(),
            name: self.name.clone(),
            namespace: self.namespace.clone(),
            node_id: self.node_id.clone(),
            node_name: self.node_name.clone(),
            job_id: self.job_id.clone(),
            job_type: job.map(|j| j.job_type().to_string()).unwrap_or_default(),
            job_version: job.map(|j| j.version()).unwrap_or(0),
            task_group: self.task_group.clone(),
            allocated_resources: self.allocated_resources.clone(),
            desired_status: self.desired_status.clone(),
            desired_description: self.desired_description.clone(),
            client_status: self.client_status.clone(),
            client_description: self.client_description.clone(),
            desired_transition: self.desired_transition.clone(),
            task_states: self.task_states.clone(),
            deployment_status: self.deployment_status.clone(),
            followup_eval_id: self.followup_eval_id.clone(),
            next_allocation: self.next_allocation.clone(),
            reschedule_tracker: self.reschedule_tracker.clone(),
            preempted_allocations: self.preempted_allocations.clone(),
            preempted_by_allocation: self.preempted_by_allocation.clone(),
            create_index: self.create_index,
            modify_index: self.modify_index,
            create_time: self.create_time,
            modify_time: self.modify_time,
        }
    }
}

/// One entry of `GET /v1/allocations` or `GET /v1/job/:id/allocations`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct AllocationListStub {
    /// ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Evaluation.
    #[serde(rename = "EvalID")]
    pub eval_id: String,
    /// Name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Node.
    #[serde(rename = "NodeID")]
    pub node_id: String,
    /// Node name.
    pub node_name: String,
    /// Job.
    #[serde(rename = "JobID")]
    pub job_id: String,
    /// Job type.
    pub job_type: String,
    /// Job version.
    pub job_version: u64,
    /// Group.
    pub task_group: String,
    /// Assigned resources (omitted when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allocated_resources: Option<Arc<AllocatedResources>>,
    /// Desired status.
    pub desired_status: String,
    /// Desired status detail.
    pub desired_description: String,
    /// Client status.
    pub client_status: String,
    /// Client status detail.
    pub client_description: String,
    /// Pending transitions.
    pub desired_transition: DesiredTransition,
    /// Task states.
    #[serde(with = "nullable")]
    pub task_states: BTreeMap<String, TaskState>,
    /// Deployment health.
    pub deployment_status: Option<AllocDeploymentStatus>,
    /// Follow-up evaluation.
    #[serde(rename = "FollowupEvalID")]
    pub followup_eval_id: String,
    /// Replacement.
    pub next_allocation: String,
    /// Reschedule history.
    pub reschedule_tracker: Option<RescheduleTracker>,
    /// Preempted allocations.
    #[serde(with = "nullable")]
    pub preempted_allocations: Vec<String>,
    /// Preempting allocation.
    pub preempted_by_allocation: String,
    /// Raft create index.
    pub create_index: u64,
    /// Raft modify index.
    pub modify_index: u64,
    /// Creation time, Unix nanoseconds.
    pub create_time: i64,
    /// Modification time, Unix nanoseconds.
    pub modify_time: i64,
}

impl AllocationListStub {
    /// First 8 characters of the ID.
    pub fn short_id(&self) -> &str {
        short(&self.id)
    }
}

/// Why and how a placement was chosen (or failed).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct AllocMetric {
    /// Nodes evaluated.
    pub nodes_evaluated: i64,
    /// Nodes filtered by constraints.
    pub nodes_filtered: i64,
    /// Nodes in the node pool.
    pub nodes_in_pool: i64,
    /// Node pool (shared by the placements of an evaluation).
    pub node_pool: Arc<str>,
    /// Ready nodes per datacenter (one map shared by the placements of an
    /// evaluation).
    #[serde(with = "nullable")]
    pub nodes_available: VecMap<String, i64>,
    /// Filtered nodes per class.
    #[serde(with = "nullable")]
    pub class_filtered: VecMap<String, i64>,
    /// Filtered nodes per constraint.
    #[serde(with = "nullable")]
    pub constraint_filtered: VecMap<String, i64>,
    /// Nodes without enough resources.
    pub nodes_exhausted: i64,
    /// Exhausted nodes per class.
    #[serde(with = "nullable")]
    pub class_exhausted: VecMap<String, i64>,
    /// Exhausted nodes per dimension (`memory`, `cpu`, …).
    #[serde(with = "nullable")]
    pub dimension_exhausted: VecMap<String, i64>,
    /// Quotas exhausted (Enterprise).
    #[serde(with = "nullable")]
    pub quota_exhausted: Vec<String>,
    /// Resources missing per task.
    #[serde(with = "nullable")]
    pub resources_exhausted: VecMap<String, Resources>,
    /// Legacy scores.
    #[serde(with = "nullable")]
    pub scores: VecMap<String, f64>,
    /// Scores of the top nodes.
    #[serde(with = "nullable")]
    pub score_meta_data: Vec<NodeScoreMeta>,
    /// Time spent placing.
    pub allocation_time: Nanos,
    /// Similar failures folded into this one.
    pub coalesced_failures: i64,
    /// Not in Nomad: a short sentence naming the smallest change that would
    /// let a failed placement fit (written by this implementation's
    /// scheduler, omitted when empty so Nomad's clients never see it).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub explanation: String,
}

impl AllocMetric {
    /// Counts a node filtered by a constraint (and its class).
    pub fn filter_node(&mut self, class: &str, constraint: &str) {
        self.nodes_filtered += 1;
        if !class.is_empty() {
            *self.class_filtered.get_or_default(class.to_string()) += 1;
        }
        if !constraint.is_empty() {
            *self
                .constraint_filtered
                .get_or_default(constraint.to_string()) += 1;
        }
    }

    /// Counts a node without enough of `dimension`.
    pub fn exhausted_node(&mut self, class: &str, dimension: &str) {
        self.nodes_exhausted += 1;
        if !class.is_empty() {
            *self.class_exhausted.get_or_default(class.to_string()) += 1;
        }
        if !dimension.is_empty() {
            *self
                .dimension_exhausted
                .get_or_default(dimension.to_string()) += 1;
        }
    }
}

/// Scores of one node.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NodeScoreMeta {
    /// Node (a string shared with the node's other score rows).
    #[serde(rename = "NodeID")]
    pub node_id: Arc<str>,
    /// Score per scorer (`binpack`, `job-anti-affinity`, …).
    #[serde(with = "nullable")]
    pub scores: ScoreMap,
    /// Normalized final score.
    pub norm_score: f64,
}

/// Deployment health of an allocation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct AllocDeploymentStatus {
    /// Healthy, unhealthy, or not yet known (`null`).
    pub healthy: Option<bool>,
    /// When health was set.
    pub timestamp: GoTime,
    /// Canary allocation.
    pub canary: bool,
    /// Raft index.
    pub modify_index: u64,
}

/// Reschedule history of an allocation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct RescheduleTracker {
    /// Past reschedules.
    #[serde(with = "nullable")]
    pub events: Vec<RescheduleEvent>,
    /// Annotation of the last decision.
    pub last_reschedule: String,
}

/// One reschedule.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct RescheduleEvent {
    /// When, Unix nanoseconds.
    pub reschedule_time: i64,
    /// Previous allocation.
    #[serde(rename = "PrevAllocID")]
    pub prev_alloc_id: String,
    /// Previous node.
    #[serde(rename = "PrevNodeID")]
    pub prev_node_id: String,
    /// Delay applied.
    pub delay: Nanos,
}

/// Server-side transitions requested for an allocation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DesiredTransition {
    /// Migrate off a draining node.
    pub migrate: Option<bool>,
    /// Reschedule.
    pub reschedule: Option<bool>,
    /// Reschedule ignoring the policy.
    pub force_reschedule: Option<bool>,
    /// Skip the shutdown delay.
    pub no_shutdown_delay: Option<bool>,
    /// Migrate without placing a replacement.
    pub migrate_disable_placement: Option<bool>,
}

impl DesiredTransition {
    /// True when migration is requested.
    pub fn should_migrate(&self) -> bool {
        self.migrate.unwrap_or(false)
    }
    /// True when a forced reschedule is requested.
    pub fn should_force_reschedule(&self) -> bool {
        self.force_reschedule.unwrap_or(false)
    }
}

/// Resources the scheduler assigned.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct AllocatedResources {
    /// Per task.
    #[serde(with = "nullable")]
    pub tasks: BTreeMap<String, AllocatedTaskResources>,
    /// Lifecycle of each task.
    #[serde(with = "nullable")]
    pub task_lifecycles: BTreeMap<String, Option<TaskLifecycle>>,
    /// Shared by all tasks.
    pub shared: AllocatedSharedResources,
}

/// Resources assigned to one task.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct AllocatedTaskResources {
    /// CPU.
    pub cpu: AllocatedCpuResources,
    /// Memory.
    pub memory: AllocatedMemoryResources,
    /// Task networks.
    #[serde(with = "nullable")]
    pub networks: Vec<NetworkResource>,
    /// Devices.
    #[serde(with = "nullable")]
    pub devices: Vec<AllocatedDeviceResource>,
}

/// Resources shared by the tasks of an allocation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct AllocatedSharedResources {
    /// Group networks.
    #[serde(with = "nullable")]
    pub networks: Vec<NetworkResource>,
    /// Ephemeral disk.
    #[serde(rename = "DiskMB")]
    pub disk_mb: i64,
    /// Port mappings.
    #[serde(with = "nullable")]
    pub ports: Vec<AllocatedPortMapping>,
}

/// Assigned CPU.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct AllocatedCpuResources {
    /// MHz.
    pub cpu_shares: i64,
    /// Reserved cores.
    #[serde(with = "nullable")]
    pub reserved_cores: Vec<u16>,
}

/// Assigned memory.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct AllocatedMemoryResources {
    /// MB.
    #[serde(rename = "MemoryMB")]
    pub memory_mb: i64,
    /// Limit in MB.
    #[serde(rename = "MemoryMaxMB")]
    pub memory_max_mb: i64,
}

/// A port assigned to an allocation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct AllocatedPortMapping {
    /// Label.
    pub label: String,
    /// Host port.
    pub value: i64,
    /// Mapped port.
    pub to: i64,
    /// Host IP.
    #[serde(rename = "HostIP")]
    pub host_ip: String,
    /// Collision allowed.
    pub ignore_collision: bool,
}

/// Devices assigned to a task.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct AllocatedDeviceResource {
    /// Vendor.
    pub vendor: String,
    /// Type.
    #[serde(rename = "Type")]
    pub device_type: String,
    /// Name.
    pub name: String,
    /// Instance IDs.
    #[serde(rename = "DeviceIDs", with = "nullable")]
    pub device_ids: Vec<String>,
}

/// Network status reported by the client.
///
/// Its fields live behind one box, so an allocation without a network
/// status (every allocation the scheduler writes) spends a pointer on it, as
/// Nomad's `*AllocNetworkStatus` does, rather than 144 bytes. Read and write
/// them as if they were direct fields (`status.address`): the type
/// dereferences to [`AllocNetworkStatusFields`]. The JSON is the fields'.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AllocNetworkStatus(Box<AllocNetworkStatusFields>);

impl AllocNetworkStatus {
    /// A status with these fields.
    pub fn new(fields: AllocNetworkStatusFields) -> Self {
        AllocNetworkStatus(Box::new(fields))
    }

    /// The fields, unboxed.
    pub fn into_fields(self) -> AllocNetworkStatusFields {
        *self.0
    }
}

impl From<AllocNetworkStatusFields> for AllocNetworkStatus {
    fn from(fields: AllocNetworkStatusFields) -> Self {
        AllocNetworkStatus::new(fields)
    }
}

impl std::ops::Deref for AllocNetworkStatus {
    type Target = AllocNetworkStatusFields;
    fn deref(&self) -> &AllocNetworkStatusFields {
        &self.0
    }
}

impl std::ops::DerefMut for AllocNetworkStatus {
    fn deref_mut(&mut self) -> &mut AllocNetworkStatusFields {
        &mut self.0
    }
}

/// The fields of an [`AllocNetworkStatus`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct AllocNetworkStatusFields {
    /// Interface.
    pub interface_name: String,
    /// IPv4 address.
    pub address: String,
    /// IPv6 address.
    #[serde(rename = "AddressIPv6")]
    pub address_ipv6: String,
    /// DNS.
    #[serde(rename = "DNS")]
    pub dns: Option<DnsConfig>,
}

/// A recorded client status change.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct AllocState {
    /// Field changed.
    pub field: String,
    /// New value.
    pub value: String,
    /// When.
    pub time: GoTime,
}

/// State of one task of an allocation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct TaskState {
    /// `pending`, `running` or `dead`.
    pub state: String,
    /// Failed.
    pub failed: bool,
    /// Restart count.
    pub restarts: u64,
    /// Last restart.
    pub last_restart: GoTime,
    /// Start time.
    pub started_at: GoTime,
    /// Finish time.
    pub finished_at: GoTime,
    /// Events, oldest first.
    #[serde(with = "nullable")]
    pub events: Vec<TaskEvent>,
    /// Enterprise schedule state.
    pub paused: String,
}

impl TaskState {
    /// Dead without failing.
    pub fn successful(&self) -> bool {
        self.state == task_state::DEAD && !self.failed
    }
}

/// An event in a task's life.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct TaskEvent {
    /// Event type, see [`crate::consts::task_event`].
    #[serde(rename = "Type")]
    pub event_type: String,
    /// Unix nanoseconds.
    pub time: i64,
    /// Message.
    pub message: String,
    /// Message for humans.
    pub display_message: String,
    /// Details.
    #[serde(with = "nullable")]
    pub details: BTreeMap<String, String>,
    /// The event fails the task.
    pub fails_task: bool,
    /// Restart reason.
    pub restart_reason: String,
    /// Setup error.
    pub setup_error: String,
    /// Driver error.
    pub driver_error: String,
    /// Exit code.
    pub exit_code: i64,
    /// Signal.
    pub signal: i64,
    /// Kill timeout.
    pub kill_timeout: Nanos,
    /// Kill error.
    pub kill_error: String,
    /// Kill reason.
    pub kill_reason: String,
    /// Delay before restarting, nanoseconds.
    pub start_delay: i64,
    /// Artifact download error.
    pub download_error: String,
    /// Validation error.
    pub validation_error: String,
    /// Disk limit.
    pub disk_limit: i64,
    /// Failed sibling task.
    pub failed_sibling: String,
    /// Vault error.
    pub vault_error: String,
    /// Signal reason.
    pub task_signal_reason: String,
    /// Signal sent.
    pub task_signal: String,
    /// Driver message.
    pub driver_message: String,
    /// Source of a generic event.
    pub generic_source: String,
}

impl TaskEvent {
    /// A new event of `event_type` at `time` (Unix nanoseconds).
    pub fn new(event_type: impl Into<String>, time: i64) -> Self {
        TaskEvent {
            event_type: event_type.into(),
            time,
            ..TaskEvent::default()
        }
    }

    /// Sets the display message.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.display_message = message.into();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxed_network_status_reads_and_writes_like_its_fields() {
        let text = r#"{"InterfaceName":"eth0","Address":"10.0.0.9","AddressIPv6":"","DNS":{"Servers":["1.1.1.1"],"Searches":null,"Options":null}}"#;
        let status: AllocNetworkStatus = serde_json::from_str(text).unwrap();
        assert_eq!(status.address, "10.0.0.9");
        assert_eq!(serde_json::to_string(&status).unwrap(), text);
        let lenient: AllocNetworkStatus =
            crate::json::from_str(r#"{"interfacename":"eth1","address":"10.0.0.1"}"#).unwrap();
        assert_eq!(lenient.interface_name, "eth1");
        let mut alloc = Allocation::default();
        assert_eq!(
            serde_json::to_value(&alloc).unwrap()["NetworkStatus"],
            serde_json::Value::Null
        );
        alloc.network_status = Some(status);
        if let Some(s) = alloc.network_status.as_mut() {
            s.address_ipv6 = "::1".into();
        }
        assert_eq!(alloc.network_status.as_ref().unwrap().address_ipv6, "::1");
    }

    #[test]
    fn an_allocation_stays_small() {
        // Shared and boxed parts keep the struct itself under 1 KB; a
        // million allocations are held at C1M scale.
        assert!(
            std::mem::size_of::<Allocation>() <= 900,
            "{}",
            std::mem::size_of::<Allocation>()
        );
        assert!(std::mem::size_of::<AllocMetric>() <= 200);
        assert_eq!(std::mem::size_of::<NodeScoreMeta>(), 48);
    }
}
