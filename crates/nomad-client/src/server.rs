//! The client's view of the servers: the [`ServerApi`] trait the RPC layer
//! implements (and [`crate::testing::FakeServer`] fakes), and its messages.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use nomad_types::{AllocDeploymentStatus, Allocation, Node, TaskState};
use serde::{Deserialize, Serialize};

/// Errors from the servers, as the client needs to tell them apart.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServerError {
    /// The servers do not know this node (never registered, or garbage
    /// collected): the client registers again.
    #[error("node {0} is not registered")]
    NodeUnknown(String),
    /// The node's secret does not match (Nomad: permission denied).
    #[error("permission denied")]
    PermissionDenied,
    /// No server could be reached, or there is no leader: retry later.
    #[error("no servers available: {0}")]
    Unavailable(String),
    /// Anything else, with a message for humans.
    #[error("{0}")]
    Other(String),
}

/// What `Node.Register` answers.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RegisterResponse {
    /// Heartbeat before this elapses or the node is marked down.
    pub heartbeat_ttl: Duration,
    /// Raft index of the registration.
    pub index: u64,
}

/// What `Node.UpdateStatus` (a heartbeat) answers.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HeartbeatResponse {
    /// The next deadline.
    pub heartbeat_ttl: Duration,
    /// Raft index.
    pub index: u64,
}

/// What `Node.GetClientAllocs` answers: every allocation placed on the node
/// with its `AllocModifyIndex`, as of `index`. The client fetches those
/// whose index moved and forgets those no longer listed (garbage collected
/// by the servers).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AllocWatch {
    /// Allocation id → `AllocModifyIndex`.
    pub allocs: BTreeMap<String, u64>,
    /// Index of the answer; the next watch passes it as `min_index`.
    pub index: u64,
}

/// One client-side update of an allocation (`Node.UpdateAlloc`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AllocUpdate {
    /// Allocation id.
    pub id: String,
    /// `pending`, `running`, `complete`, `failed`.
    pub client_status: String,
    /// Detail, e.g. `"Tasks are running"`.
    pub client_description: String,
    /// Task states by task name.
    pub task_states: BTreeMap<String, TaskState>,
    /// Deployment health, when the client set it.
    pub deployment_status: Option<AllocDeploymentStatus>,
    /// Unix nanoseconds of the client's change.
    pub modify_time: i64,
}

/// The servers as the client uses them. The RPC client implements it
/// against real servers; [`crate::testing::FakeServer`] in memory.
///
/// Every method may fail with [`ServerError::Unavailable`]; the client
/// retries with backoff. `heartbeat` and `watch_allocs` answer
/// [`ServerError::NodeUnknown`] for a node the servers do not know, and the
/// client registers again.
#[async_trait]
pub trait ServerApi: Send + Sync + 'static {
    /// Registers (or re-registers) the node; `node.status` is
    /// `initializing` on first registration.
    async fn register(&self, node: &Node) -> Result<RegisterResponse, ServerError>;

    /// Heartbeat: the node is alive with `status` (`ready`).
    async fn heartbeat(
        &self,
        node_id: &str,
        secret_id: &str,
        status: &str,
    ) -> Result<HeartbeatResponse, ServerError>;

    /// Blocking query for the node's allocations: returns as soon as the
    /// servers' index for them is above `min_index`, or after `wait` with the
    /// current answer.
    async fn watch_allocs(
        &self,
        node_id: &str,
        secret_id: &str,
        min_index: u64,
        wait: Duration,
    ) -> Result<AllocWatch, ServerError>;

    /// The full allocations (with their job) for `ids`; unknown ids are
    /// left out.
    async fn get_allocs(
        &self,
        node_secret_id: &str,
        ids: &[String],
    ) -> Result<Vec<Allocation>, ServerError>;

    /// Client-side status updates, batched.
    async fn update_allocs(
        &self,
        node_secret_id: &str,
        updates: Vec<AllocUpdate>,
    ) -> Result<u64, ServerError>;
}
