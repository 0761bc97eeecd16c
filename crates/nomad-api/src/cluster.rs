//! The seam between the HTTP layer and the agent: [`ClusterApi`].
//!
//! Reads go to the agent's replica of the state store ([`ClusterApi::state`])
//! after a consistency barrier ([`ClusterApi::read_barrier`]); blocking
//! queries wait on the store's watches. Writes are methods that mirror
//! Nomad's RPCs (`Job.Register`, `Job.Plan`, `Node.UpdateDrain`, …) and
//! return Nomad's response bodies, or a [`ClusterError`] the HTTP layer maps
//! to Nomad's status codes.

use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::Stream;
use nomad_api_client::stats::{AllocResourceUsage, HostStats};
use nomad_api_client::TerminalSize;
use nomad_state::StateReader;
use nomad_types::api::{
    AgentHealthResponse, AgentSelf, AllocFileInfo, AllocStopRequest, AllocStopResponse,
    DeploymentAllocHealthRequest, DeploymentPauseRequest, DeploymentPromoteRequest,
    DeploymentUpdateResponse, JobDeregisterRequest, JobDeregisterResponse, JobEvaluateRequest,
    JobPlanRequest, JobRegisterRequest, JobRegisterResponse, NodeDrainUpdateResponse,
    NodeEligibilityUpdateResponse, NodeUpdateDrainRequest, NodeUpdateEligibilityRequest,
    NodeUpdateResponse, RaftConfiguration, ServerMembers,
};
use nomad_types::JobPlanResponse;
use std::sync::Arc;

/// Why a request failed, as the HTTP layer reports it: each variant has
/// Nomad's status code and its text is the plain-text response body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    /// 400: the request is malformed; the text names the field.
    #[error("{0}")]
    BadRequest(String),
    /// 403: the token may not do this.
    #[error("Permission denied")]
    PermissionDenied,
    /// 404: the object does not exist.
    #[error("{0}")]
    NotFound(String),
    /// 405: the route exists, the method does not.
    #[error("Invalid method")]
    InvalidMethod,
    /// 409: the request conflicts with the current state (a stale
    /// `-check-index`: `Enforcing job modify index 5: job exists with
    /// conflicting job modify index: 9`).
    #[error("{0}")]
    Conflict(String),
    /// 500: there is no leader to serve the request.
    #[error("No cluster leader")]
    NoLeader,
    /// 501: this agent does not offer the feature (no client role for
    /// `/v1/client/fs`, an endpoint not built yet).
    #[error("{0}")]
    NotImplemented(String),
    /// 500: a real fault.
    #[error("{0}")]
    Internal(String),
}

impl ClusterError {
    /// The HTTP status code Nomad answers with.
    pub fn status(&self) -> u16 {
        match self {
            ClusterError::BadRequest(_) => 400,
            ClusterError::PermissionDenied => 403,
            ClusterError::NotFound(_) => 404,
            ClusterError::InvalidMethod => 405,
            ClusterError::Conflict(_) => 409,
            ClusterError::NoLeader | ClusterError::Internal(_) => 500,
            ClusterError::NotImplemented(_) => 501,
        }
    }
}

/// What a read reports besides its data (Nomad's `QueryMeta`, less the index).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReadMeta {
    /// A leader is known.
    pub known_leader: bool,
    /// Milliseconds since this server last heard from the leader (0 on the
    /// leader itself).
    pub last_contact_ms: u64,
}

/// Where to read an allocation's log from (`/v1/client/fs/logs/:alloc`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogsRequest {
    /// Allocation ID (full).
    pub alloc_id: String,
    /// Task name.
    pub task: String,
    /// `stdout` or `stderr`.
    pub log_type: String,
    /// Keep the stream open and send new data as it is written.
    pub follow: bool,
    /// Byte offset relative to [`Self::origin`].
    pub offset: i64,
    /// `start` or `end`.
    pub origin: String,
}

/// Which file of an allocation to stream, from where
/// (`/v1/client/fs/stream/:alloc`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FsStreamRequest {
    /// Allocation ID (full).
    pub alloc_id: String,
    /// Path inside the allocation directory.
    pub path: String,
    /// Byte offset relative to [`Self::origin`].
    pub offset: i64,
    /// `start` or `end`.
    pub origin: String,
    /// Keep the stream open and send what is appended.
    pub follow: bool,
}

/// One piece of a streamed file: `data` ending at byte `offset`, or an
/// event (`file truncated`, `file deleted`) with no data.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileFrame {
    /// Offset in the file just after `data`.
    pub offset: i64,
    /// Bytes read.
    pub data: Vec<u8>,
    /// Nomad's `FileEvent` text, or empty.
    pub file_event: String,
}

/// A streamed file.
pub type FrameStream = Pin<Box<dyn Stream<Item = Result<FileFrame, ClusterError>> + Send>>;

/// The event stream's default heartbeat interval (Nomad's servers send
/// one every 30 s; this agent sends them more often, which clients ignore
/// alike and idle proxies prefer).
pub const DEFAULT_EVENT_HEARTBEAT: Duration = Duration::from_secs(10);

/// A stream of raw bytes (log or file contents).
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Vec<u8>, ClusterError>> + Send>>;

/// Everything the `/v1` API needs from the agent. Implemented by the server
/// (the real cluster) and by [`crate::testing::InMemoryCluster`].
///
/// Object-safe: the HTTP layer holds an `Arc<dyn ClusterApi>`.
#[async_trait]
pub trait ClusterApi: Send + Sync + 'static {
    // ---- identity ----

    /// The agent's region (`global` by default).
    fn region(&self) -> String;

    /// The agent's datacenter.
    fn datacenter(&self) -> String;

    // ---- reads ----

    /// The local replica of the state store: snapshots and watches.
    fn state(&self) -> Result<StateReader, ClusterError>;

    /// Waits until the local replica may serve a read: with `stale` at
    /// once (any server may answer); otherwise once it has applied every
    /// entry the leader had committed when the read began (Raft ReadIndex).
    async fn read_barrier(&self, stale: bool) -> Result<ReadMeta, ClusterError>;

    /// How long `GET /v1/event/stream`, and a followed framed log or file
    /// stream, stay silent before they send a `{}` heartbeat
    /// ([`DEFAULT_EVENT_HEARTBEAT`]). The events themselves come
    /// from [`ClusterApi::state`]'s buffer.
    fn event_heartbeat(&self) -> Duration {
        DEFAULT_EVENT_HEARTBEAT
    }

    // ---- jobs ----

    /// `Job.Register`: validate, then commit the job and its evaluation.
    /// With `enforce_index`, fail with [`ClusterError::Conflict`] and
    /// Nomad's `Enforcing job modify index …` text when the index is stale.
    async fn job_register(
        &self,
        req: JobRegisterRequest,
    ) -> Result<JobRegisterResponse, ClusterError>;

    /// `Job.Deregister`: stop (or purge) a job.
    async fn job_deregister(
        &self,
        req: JobDeregisterRequest,
    ) -> Result<JobDeregisterResponse, ClusterError>;

    /// `Job.Plan`: a scheduler dry-run of the job against the current state.
    async fn job_plan(&self, req: JobPlanRequest) -> Result<JobPlanResponse, ClusterError>;

    /// `Job.Evaluate`: force a new evaluation of a job.
    async fn job_evaluate(
        &self,
        req: JobEvaluateRequest,
    ) -> Result<JobRegisterResponse, ClusterError>;

    /// `Job.Revert`: register an older version again (as a new version).
    async fn job_revert(
        &self,
        req: nomad_types::api::JobRevertRequest,
    ) -> Result<JobRegisterResponse, ClusterError> {
        let _ = req;
        Err(ClusterError::NotImplemented("job revert".into()))
    }

    /// `Job.Stable`: mark a version (un)stable.
    async fn job_stable(
        &self,
        req: nomad_types::api::JobStabilityRequest,
    ) -> Result<nomad_types::api::JobStabilityResponse, ClusterError> {
        let _ = req;
        Err(ClusterError::NotImplemented("job stable".into()))
    }

    /// `Job.Dispatch`: a child of a parameterized job.
    async fn job_dispatch(
        &self,
        req: nomad_types::api::JobDispatchRequest,
    ) -> Result<nomad_types::api::JobDispatchResponse, ClusterError> {
        let _ = req;
        Err(ClusterError::NotImplemented("job dispatch".into()))
    }

    /// `Periodic.Force`: launch a periodic job's child now.
    async fn job_periodic_force(
        &self,
        namespace: String,
        job_id: String,
    ) -> Result<nomad_types::api::PeriodicForceResponse, ClusterError> {
        let _ = (namespace, job_id);
        Err(ClusterError::NotImplemented("periodic force".into()))
    }

    /// `Job.Scale`: change a group's count (and record a scaling event).
    async fn job_scale(
        &self,
        job_id: String,
        req: nomad_types::api::ScalingRequest,
    ) -> Result<JobRegisterResponse, ClusterError> {
        let _ = (job_id, req);
        Err(ClusterError::NotImplemented("job scale".into()))
    }

    /// `Job.ScaleStatus` (`GET /v1/job/:id/scale`).
    async fn job_scale_status(
        &self,
        namespace: String,
        job_id: String,
    ) -> Result<nomad_types::api::JobScaleStatusResponse, ClusterError> {
        let _ = (namespace, job_id);
        Err(ClusterError::NotImplemented("job scale status".into()))
    }

    // ---- allocations, nodes, deployments ----

    /// `Alloc.Stop`: stop an allocation and evaluate its job to replace it.
    async fn alloc_stop(&self, req: AllocStopRequest) -> Result<AllocStopResponse, ClusterError>;

    /// `Node.UpdateDrain`.
    async fn node_update_drain(
        &self,
        req: NodeUpdateDrainRequest,
    ) -> Result<NodeDrainUpdateResponse, ClusterError>;

    /// `Node.UpdateEligibility`.
    async fn node_update_eligibility(
        &self,
        req: NodeUpdateEligibilityRequest,
    ) -> Result<NodeEligibilityUpdateResponse, ClusterError>;

    /// `Node.Evaluate`: evaluations of the jobs on the node and the system
    /// jobs.
    async fn node_evaluate(&self, node_id: String) -> Result<NodeUpdateResponse, ClusterError>;

    /// `Node.Deregister`: removes the node, then evaluates its jobs.
    async fn node_purge(&self, node_id: String) -> Result<NodeUpdateResponse, ClusterError>;

    /// `Deployment.SetAllocHealth`.
    async fn deployment_alloc_health(
        &self,
        req: DeploymentAllocHealthRequest,
    ) -> Result<DeploymentUpdateResponse, ClusterError>;

    /// `Deployment.Promote`.
    async fn deployment_promote(
        &self,
        req: DeploymentPromoteRequest,
    ) -> Result<DeploymentUpdateResponse, ClusterError>;

    /// `Deployment.Fail`.
    async fn deployment_fail(
        &self,
        deployment_id: String,
    ) -> Result<DeploymentUpdateResponse, ClusterError>;

    /// `Deployment.Pause` (and resume).
    async fn deployment_pause(
        &self,
        req: DeploymentPauseRequest,
    ) -> Result<DeploymentUpdateResponse, ClusterError>;

    /// `System.GarbageCollect`.
    async fn system_gc(&self) -> Result<(), ClusterError>;

    // ---- agent and operator ----

    /// `GET /v1/agent/self`.
    async fn agent_self(&self) -> Result<AgentSelf, ClusterError>;

    /// `GET /v1/agent/members`: the servers of the region.
    async fn members(&self) -> Result<ServerMembers, ClusterError>;

    /// `GET /v1/agent/servers`: the RPC addresses a client knows.
    async fn agent_servers(&self) -> Result<Vec<String>, ClusterError>;

    /// `GET /v1/agent/health`.
    async fn agent_health(&self) -> Result<AgentHealthResponse, ClusterError>;

    /// `GET /v1/status/leader`: the leader's RPC address (empty if none).
    async fn leader(&self) -> Result<String, ClusterError>;

    /// `GET /v1/status/peers`: the RPC addresses of the Raft peers.
    async fn peers(&self) -> Result<Vec<String>, ClusterError>;

    /// `GET /v1/regions`.
    async fn regions(&self) -> Result<Vec<String>, ClusterError> {
        Ok(vec![self.region()])
    }

    /// `GET /v1/operator/raft/configuration`.
    async fn raft_configuration(&self) -> Result<RaftConfiguration, ClusterError>;

    /// `PUT /v1/agent/join?address=…`: this server contacts each address
    /// (`host:port`, the serf port 4648 when no port is given) and learns the
    /// cluster's servers. Returns how many addresses answered; an error only
    /// when none did.
    async fn agent_join(&self, addresses: Vec<String>) -> Result<usize, ClusterError> {
        let _ = addresses;
        Err(ClusterError::NotImplemented("joining servers".into()))
    }

    /// `PUT /v1/agent/force-leave?node=NAME`: marks a failed server as left
    /// and removes it from the Raft configuration.
    async fn agent_force_leave(&self, node: String) -> Result<(), ClusterError> {
        let _ = node;
        Err(ClusterError::NotImplemented("force-leave".into()))
    }

    /// `DELETE /v1/operator/raft/peer?id=…` or `?address=…`: removes a
    /// server from the Raft configuration (exactly one of the two is set).
    async fn raft_remove_peer(
        &self,
        id: Option<String>,
        address: Option<String>,
    ) -> Result<(), ClusterError> {
        let _ = (id, address);
        Err(ClusterError::NotImplemented("removing raft peers".into()))
    }

    /// `GET /v1/operator/snapshot`: a consistent image of the whole state
    /// (opaque, versioned bytes) and the Raft index it was taken at.
    async fn snapshot_save(&self) -> Result<(u64, Vec<u8>), ClusterError> {
        Err(ClusterError::NotImplemented("snapshot save".into()))
    }

    /// `PUT /v1/operator/snapshot`: replaces the whole state with an image
    /// from `snapshot_save`, through Raft. A malformed image is a
    /// `BadRequest` and changes nothing.
    async fn snapshot_restore(&self, image: Vec<u8>) -> Result<(), ClusterError> {
        let _ = image;
        Err(ClusterError::NotImplemented("snapshot restore".into()))
    }

    // ---- client file system (delegated to the client agent) ----

    /// The client agent running in the same process, if any: `/v1/client/fs`
    /// routes are answered by it. `None` (the default): the agent runs no
    /// client, and those routes answer 501.
    fn client_fs(&self) -> Option<Arc<dyn ClientFs>> {
        None
    }

    /// Stream an allocation's task log.
    async fn alloc_logs(&self, req: LogsRequest) -> Result<ByteStream, ClusterError> {
        match self.client_fs() {
            Some(fs) => fs.alloc_logs(req).await,
            None => Err(no_client()),
        }
    }

    /// List a directory of an allocation.
    async fn alloc_fs_list(
        &self,
        alloc_id: String,
        path: String,
    ) -> Result<Vec<AllocFileInfo>, ClusterError> {
        match self.client_fs() {
            Some(fs) => fs.alloc_fs_list(alloc_id, path).await,
            None => Err(no_client()),
        }
    }

    /// Stat a path of an allocation.
    async fn alloc_fs_stat(
        &self,
        alloc_id: String,
        path: String,
    ) -> Result<AllocFileInfo, ClusterError> {
        match self.client_fs() {
            Some(fs) => fs.alloc_fs_stat(alloc_id, path).await,
            None => Err(no_client()),
        }
    }

    /// Read a whole file of an allocation.
    async fn alloc_fs_cat(
        &self,
        alloc_id: String,
        path: String,
    ) -> Result<ByteStream, ClusterError> {
        match self.client_fs() {
            Some(fs) => fs.alloc_fs_cat(alloc_id, path).await,
            None => Err(no_client()),
        }
    }

    /// Stream a file of an allocation, following it if asked.
    async fn alloc_fs_stream(&self, req: FsStreamRequest) -> Result<FrameStream, ClusterError> {
        match self.client_fs() {
            Some(fs) => fs.alloc_fs_stream(req).await,
            None => Err(no_client()),
        }
    }

    /// `GET /v1/client/stats`: the local client's host.
    async fn host_stats(&self) -> Result<HostStats, ClusterError> {
        match self.client_fs() {
            Some(fs) => fs.host_stats().await,
            None => Err(no_client()),
        }
    }

    /// `GET /v1/client/allocation/:id/stats`.
    async fn alloc_stats(
        &self,
        alloc_id: String,
        task: Option<String>,
    ) -> Result<AllocResourceUsage, ClusterError> {
        match self.client_fs() {
            Some(fs) => fs.alloc_stats(alloc_id, task).await,
            None => Err(no_client()),
        }
    }

    /// `PUT /v1/client/allocation/:id/restart`.
    async fn alloc_restart(
        &self,
        alloc_id: String,
        task: Option<String>,
    ) -> Result<(), ClusterError> {
        match self.client_fs() {
            Some(fs) => fs.alloc_restart(alloc_id, task).await,
            None => Err(no_client()),
        }
    }

    /// `PUT /v1/client/allocation/:id/signal`.
    async fn alloc_signal(
        &self,
        alloc_id: String,
        task: Option<String>,
        signal: String,
    ) -> Result<(), ClusterError> {
        match self.client_fs() {
            Some(fs) => fs.alloc_signal(alloc_id, task, signal).await,
            None => Err(no_client()),
        }
    }

    /// `/v1/client/allocation/:id/exec`: runs a command in a task.
    async fn alloc_exec(&self, req: ExecStart, io: ExecChannels) -> Result<i32, ClusterError> {
        match self.client_fs() {
            Some(fs) => fs.alloc_exec(req, io).await,
            None => Err(no_client()),
        }
    }
}

/// A command to run in a task (`alloc exec`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecStart {
    /// Allocation ID (full).
    pub alloc_id: String,
    /// Task name.
    pub task: String,
    /// Program and arguments.
    pub command: Vec<String>,
    /// Allocate a pseudo-terminal.
    pub tty: bool,
}

/// Output of an exec'd command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecChunk {
    /// On stdout (with a TTY: all output).
    Stdout(Vec<u8>),
    /// On stderr.
    Stderr(Vec<u8>),
}

/// The HTTP side's ends of an exec session.
pub struct ExecChannels {
    /// Input; the sender dropping is end of input.
    pub stdin: tokio::sync::mpsc::Receiver<Vec<u8>>,
    /// Terminal resizes.
    pub resize: tokio::sync::mpsc::Receiver<TerminalSize>,
    /// Output, in order.
    pub output: tokio::sync::mpsc::Sender<ExecChunk>,
}

/// What a client agent answers for `/v1/client/fs/*`: its allocations' logs
/// and files. Implemented over the client agent by the binary that runs one.
#[async_trait]
pub trait ClientFs: Send + Sync + 'static {
    /// Stream an allocation's task log.
    async fn alloc_logs(&self, req: LogsRequest) -> Result<ByteStream, ClusterError>;
    /// List a directory of an allocation.
    async fn alloc_fs_list(
        &self,
        alloc_id: String,
        path: String,
    ) -> Result<Vec<AllocFileInfo>, ClusterError>;
    /// Stat a path of an allocation.
    async fn alloc_fs_stat(
        &self,
        alloc_id: String,
        path: String,
    ) -> Result<AllocFileInfo, ClusterError>;
    /// Read a whole file of an allocation.
    async fn alloc_fs_cat(
        &self,
        alloc_id: String,
        path: String,
    ) -> Result<ByteStream, ClusterError>;
    /// Stream a file of an allocation from a position; when following,
    /// what is appended, and `file truncated` / `file deleted` events.
    async fn alloc_fs_stream(&self, req: FsStreamRequest) -> Result<FrameStream, ClusterError> {
        let _ = req;
        Err(ClusterError::NotImplemented("file streaming".into()))
    }

    /// The client's node ID (empty when unknown): requests for
    /// allocations of other nodes are forwarded to them.
    fn node_id(&self) -> String {
        String::new()
    }

    /// Whether the client has (or had) this allocation; a client-only
    /// agent forwards requests for other allocations to its servers.
    fn has_alloc(&self, alloc_id: &str) -> bool {
        let _ = alloc_id;
        true
    }

    /// One sample of the host's resource usage.
    async fn host_stats(&self) -> Result<HostStats, ClusterError> {
        Err(ClusterError::NotImplemented("host stats".into()))
    }

    /// Resource usage of an allocation's tasks (or of one task).
    async fn alloc_stats(
        &self,
        alloc_id: String,
        task: Option<String>,
    ) -> Result<AllocResourceUsage, ClusterError> {
        let _ = (alloc_id, task);
        Err(ClusterError::NotImplemented("allocation stats".into()))
    }

    /// Restarts a task, or every running task, in place.
    async fn alloc_restart(
        &self,
        alloc_id: String,
        task: Option<String>,
    ) -> Result<(), ClusterError> {
        let _ = (alloc_id, task);
        Err(ClusterError::NotImplemented("allocation restart".into()))
    }

    /// Sends a signal to a task, or to every running task.
    async fn alloc_signal(
        &self,
        alloc_id: String,
        task: Option<String>,
        signal: String,
    ) -> Result<(), ClusterError> {
        let _ = (alloc_id, task, signal);
        Err(ClusterError::NotImplemented("allocation signal".into()))
    }

    /// Runs a command in a task, streaming its I/O through `io`; the exit
    /// code.
    async fn alloc_exec(&self, req: ExecStart, io: ExecChannels) -> Result<i32, ClusterError> {
        let _ = (req, io);
        Err(ClusterError::NotImplemented("allocation exec".into()))
    }
}

fn no_client() -> ClusterError {
    ClusterError::NotImplemented("this agent runs no client".into())
}
