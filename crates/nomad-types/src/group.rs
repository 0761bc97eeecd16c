//! Task groups (the unit of placement) and their group-level blocks.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::duration::Nanos;
use crate::policies::{
    Affinity, Constraint, DisconnectStrategy, MigrateStrategy, ReschedulePolicy, RestartPolicy,
    Spread, UpdateStrategy,
};
use crate::resources::NetworkResource;
use crate::serde_util::{free_form, nullable};
use crate::services::Service;
use crate::task::{Consul, Task};

/// Default ephemeral disk size in MB.
pub const DEFAULT_EPHEMERAL_DISK_MB: i64 = 300;

/// A set of tasks placed together on one node.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct TaskGroup {
    /// Group name, unique in the job.
    pub name: Option<String>,
    /// Number of allocations; defaults to 1.
    pub count: Option<i64>,
    /// Placement constraints.
    #[serde(with = "nullable")]
    pub constraints: Vec<Constraint>,
    /// Placement preferences.
    #[serde(with = "nullable")]
    pub affinities: Vec<Affinity>,
    /// Tasks.
    #[serde(with = "nullable")]
    pub tasks: Vec<Task>,
    /// Spread preferences.
    #[serde(with = "nullable")]
    pub spreads: Vec<Spread>,
    /// Volumes requested, by name.
    #[serde(with = "nullable")]
    pub volumes: BTreeMap<String, VolumeRequest>,
    /// Restart policy for the tasks.
    pub restart_policy: Option<RestartPolicy>,
    /// Disconnect behaviour.
    pub disconnect: Option<DisconnectStrategy>,
    /// Reschedule policy.
    pub reschedule_policy: Option<ReschedulePolicy>,
    /// Ephemeral disk.
    pub ephemeral_disk: Option<EphemeralDisk>,
    /// Update strategy (merged from the job's).
    pub update: Option<UpdateStrategy>,
    /// Migrate strategy (merged from the job's).
    pub migrate: Option<MigrateStrategy>,
    /// Group networks.
    #[serde(with = "nullable")]
    pub networks: Vec<NetworkResource>,
    /// Metadata.
    #[serde(with = "nullable")]
    pub meta: BTreeMap<String, String>,
    /// Group services.
    #[serde(with = "nullable")]
    pub services: Vec<Service>,
    /// Delay between deregistering services and stopping tasks.
    pub shutdown_delay: Option<Nanos>,
    /// Maximum run time (batch and sysbatch).
    pub max_run_duration: Option<Nanos>,
    /// Deprecated, see `Disconnect.StopOnClientAfter`.
    pub stop_after_client_disconnect: Option<Nanos>,
    /// Deprecated, see `Disconnect.LostAfter`.
    pub max_client_disconnect: Option<Nanos>,
    /// Autoscaler policy.
    pub scaling: Option<ScalingPolicy>,
    /// Consul settings.
    pub consul: Option<Consul>,
    /// Deprecated, see `Disconnect.Replace`.
    pub prevent_reschedule_on_lost: Option<bool>,
}

impl TaskGroup {
    /// Creates a group with a name and count.
    pub fn new(name: impl Into<String>, count: i64) -> Self {
        TaskGroup {
            name: Some(name.into()),
            count: Some(count),
            ..TaskGroup::default()
        }
    }

    /// The group name, or `""`.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }

    /// The count, or 0 when unset.
    pub fn count(&self) -> i64 {
        self.count.unwrap_or(0)
    }

    /// Finds a task by name.
    pub fn lookup_task(&self, name: &str) -> Option<&Task> {
        self.tasks.iter().find(|t| t.name == name)
    }

    /// Finds a task by name, mutably.
    pub fn lookup_task_mut(&mut self, name: &str) -> Option<&mut Task> {
        self.tasks.iter_mut().find(|t| t.name == name)
    }
}

/// Scratch disk shared by the tasks of an allocation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct EphemeralDisk {
    /// Prefer the same node on updates.
    pub sticky: Option<bool>,
    /// Migrate data between nodes.
    pub migrate: Option<bool>,
    /// Size in MB; defaults to 300.
    #[serde(rename = "SizeMB")]
    pub size_mb: Option<i64>,
}

impl EphemeralDisk {
    /// Nomad's default: 300 MB, not sticky, no migration.
    pub fn default_disk() -> Self {
        EphemeralDisk {
            sticky: Some(false),
            migrate: Some(false),
            size_mb: Some(DEFAULT_EPHEMERAL_DISK_MB),
        }
    }
}

/// A host or CSI volume requested by a group.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct VolumeRequest {
    /// Volume name in the group.
    pub name: String,
    /// `host` or `csi`.
    #[serde(rename = "Type")]
    pub volume_type: String,
    /// Source volume.
    pub source: String,
    /// Mount read-only.
    pub read_only: bool,
    /// Sticky volume claim.
    pub sticky: bool,
    /// Access mode.
    pub access_mode: String,
    /// Attachment mode.
    pub attachment_mode: String,
    /// CSI mount options.
    pub mount_options: Option<CsiMountOptions>,
    /// Append the allocation index to the source.
    pub per_alloc: bool,
}

/// CSI mount options.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct CsiMountOptions {
    /// File system type.
    #[serde(rename = "FSType")]
    pub fs_type: String,
    /// Mount flags.
    #[serde(with = "nullable")]
    pub mount_flags: Vec<String>,
}

/// Autoscaler policy attached to a group (or task).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ScalingPolicy {
    /// Minimum count.
    pub min: Option<i64>,
    /// Maximum count.
    pub max: Option<i64>,
    /// Opaque policy for the autoscaler.
    #[serde(with = "free_form")]
    pub policy: BTreeMap<String, Value>,
    /// Policy enabled.
    pub enabled: Option<bool>,
    /// Policy type; defaults to `horizontal`.
    #[serde(rename = "Type")]
    pub policy_type: String,
    /// Server-assigned ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Namespace.
    pub namespace: String,
    /// Target (namespace, job, group).
    #[serde(with = "nullable")]
    pub target: BTreeMap<String, String>,
    /// Raft create index.
    pub create_index: u64,
    /// Raft modify index.
    pub modify_index: u64,
}
