//! Deployments (rollouts of a job version).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::consts::deployment_status;
use crate::duration::{GoTime, Nanos};
use crate::node::short;
use crate::serde_util::nullable;

/// A deployment.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Deployment {
    /// ID (UUID).
    #[serde(rename = "ID")]
    pub id: String,
    /// Namespace.
    pub namespace: String,
    /// Job.
    #[serde(rename = "JobID")]
    pub job_id: String,
    /// Job version deployed.
    pub job_version: u64,
    /// Job modify index.
    pub job_modify_index: u64,
    /// Job spec modify index.
    pub job_spec_modify_index: u64,
    /// Job create index.
    pub job_create_index: u64,
    /// Part of a multiregion rollout.
    pub is_multiregion: bool,
    /// State per group.
    #[serde(with = "nullable")]
    pub task_groups: BTreeMap<String, DeploymentState>,
    /// Status, see [`crate::consts::deployment_status`].
    pub status: String,
    /// Status detail.
    pub status_description: String,
    /// Priority of evaluations it creates.
    pub eval_priority: i64,
    /// Raft create index.
    pub create_index: u64,
    /// Raft modify index.
    pub modify_index: u64,
    /// Creation time, Unix nanoseconds.
    pub create_time: i64,
    /// Modification time, Unix nanoseconds.
    pub modify_time: i64,
}

impl Deployment {
    /// First 8 characters of the ID.
    pub fn short_id(&self) -> &str {
        short(&self.id)
    }

    /// Still in progress (running, paused, pending, blocked, unblocking, initializing).
    pub fn active(&self) -> bool {
        matches!(
            self.status.as_str(),
            deployment_status::RUNNING
                | deployment_status::PAUSED
                | deployment_status::BLOCKED
                | deployment_status::UNBLOCKING
                | deployment_status::INITIALIZING
                | deployment_status::PENDING
        )
    }

    /// Some group has canaries waiting for promotion.
    pub fn requires_promotion(&self) -> bool {
        self.status == deployment_status::RUNNING
            && self
                .task_groups
                .values()
                .any(|s| s.desired_canaries > 0 && !s.promoted)
    }
}

/// Rollout state of one group.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DeploymentState {
    /// Revert on failure.
    pub auto_revert: bool,
    /// Promote canaries automatically.
    pub auto_promote: bool,
    /// Progress deadline.
    pub progress_deadline: Nanos,
    /// Deadline for the next healthy allocation.
    pub require_progress_by: GoTime,
    /// Canaries promoted.
    pub promoted: bool,
    /// Canary allocation IDs.
    #[serde(with = "nullable")]
    pub placed_canaries: Vec<String>,
    /// Canaries wanted.
    pub desired_canaries: i64,
    /// Allocations wanted.
    pub desired_total: i64,
    /// Allocations placed.
    pub placed_allocs: i64,
    /// Healthy allocations.
    pub healthy_allocs: i64,
    /// Unhealthy allocations.
    pub unhealthy_allocs: i64,
}
