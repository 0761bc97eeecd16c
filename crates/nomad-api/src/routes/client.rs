//! `/v1/client/stats` and `/v1/client/allocation/:id/{stats,restart,signal}`
//! (exec, a websocket, is in `exec.rs`; files and logs in `fs.rs`).
//!
//! These routes are answered by a client agent. [`ClientSide`] is what they
//! need of one: on an agent with a server, the [`ClusterApi`] (which
//! checks allocation IDs against the state and delegates to the client of
//! its process); on a client-only agent, its [`ClientFs`] directly.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use nomad_api_client::stats::{AllocResourceUsage, HostStats};
use nomad_api_client::{AllocRestartRequest, AllocSignalRequest};
use nomad_types::api::AllocFileInfo;

use super::{require_get, require_write};
use crate::cluster::{
    ByteStream, ClientFs, ClusterApi, ClusterError, ExecChannels, ExecStart, FrameStream,
    FsStreamRequest, LogsRequest,
};
use crate::query::{Reply, Req};

/// What the `/v1/client/*` routes need from the agent.
#[async_trait]
pub(crate) trait ClientSide: Send + Sync {
    /// The full ID of an allocation the request names (404 if unknown).
    fn resolve_alloc(&self, id: &str) -> Result<String, ClusterError>;
    /// How long a followed, framed stream stays silent before a `{}`.
    fn heartbeat(&self) -> Duration;
    async fn alloc_logs(&self, req: LogsRequest) -> Result<ByteStream, ClusterError>;
    async fn alloc_fs_list(
        &self,
        alloc_id: String,
        path: String,
    ) -> Result<Vec<AllocFileInfo>, ClusterError>;
    async fn alloc_fs_stat(
        &self,
        alloc_id: String,
        path: String,
    ) -> Result<AllocFileInfo, ClusterError>;
    async fn alloc_fs_cat(
        &self,
        alloc_id: String,
        path: String,
    ) -> Result<ByteStream, ClusterError>;
    async fn alloc_fs_stream(&self, req: FsStreamRequest) -> Result<FrameStream, ClusterError>;
    async fn host_stats(&self) -> Result<HostStats, ClusterError>;
    async fn alloc_stats(
        &self,
        alloc_id: String,
        task: Option<String>,
    ) -> Result<AllocResourceUsage, ClusterError>;
    async fn alloc_restart(
        &self,
        alloc_id: String,
        task: Option<String>,
    ) -> Result<(), ClusterError>;
    async fn alloc_signal(
        &self,
        alloc_id: String,
        task: Option<String>,
        signal: String,
    ) -> Result<(), ClusterError>;
    async fn alloc_exec(&self, req: ExecStart, io: ExecChannels) -> Result<i32, ClusterError>;
}

/// The methods of [`ClientSide`] that both adapters hand to their inner
/// `self.0` unchanged (the [`ClusterApi`] and [`ClientFs`] methods of the
/// same names); only `resolve_alloc` differs between them.
/// (`#[async_trait]` must see the methods, so the macro writes the whole
/// impl; each type has an inherent `resolve`.)
macro_rules! client_side_impl {
    ($ty:ty) => {
        #[async_trait]
        impl ClientSide for $ty {
            fn resolve_alloc(&self, id: &str) -> Result<String, ClusterError> {
                self.resolve(id)
            }
            fn heartbeat(&self) -> Duration {
                self.heartbeat_every()
            }
            async fn alloc_logs(&self, req: LogsRequest) -> Result<ByteStream, ClusterError> {
                self.0.alloc_logs(req).await
            }
            async fn alloc_fs_list(
                &self,
                alloc_id: String,
                path: String,
            ) -> Result<Vec<AllocFileInfo>, ClusterError> {
                self.0.alloc_fs_list(alloc_id, path).await
            }
            async fn alloc_fs_stat(
                &self,
                alloc_id: String,
                path: String,
            ) -> Result<AllocFileInfo, ClusterError> {
                self.0.alloc_fs_stat(alloc_id, path).await
            }
            async fn alloc_fs_cat(
                &self,
                alloc_id: String,
                path: String,
            ) -> Result<ByteStream, ClusterError> {
                self.0.alloc_fs_cat(alloc_id, path).await
            }
            async fn alloc_fs_stream(
                &self,
                req: FsStreamRequest,
            ) -> Result<FrameStream, ClusterError> {
                self.0.alloc_fs_stream(req).await
            }
            async fn host_stats(&self) -> Result<HostStats, ClusterError> {
                self.0.host_stats().await
            }
            async fn alloc_stats(
                &self,
                alloc_id: String,
                task: Option<String>,
            ) -> Result<AllocResourceUsage, ClusterError> {
                self.0.alloc_stats(alloc_id, task).await
            }
            async fn alloc_restart(
                &self,
                alloc_id: String,
                task: Option<String>,
            ) -> Result<(), ClusterError> {
                self.0.alloc_restart(alloc_id, task).await
            }
            async fn alloc_signal(
                &self,
                alloc_id: String,
                task: Option<String>,
                signal: String,
            ) -> Result<(), ClusterError> {
                self.0.alloc_signal(alloc_id, task, signal).await
            }
            async fn alloc_exec(
                &self,
                req: ExecStart,
                io: ExecChannels,
            ) -> Result<i32, ClusterError> {
                self.0.alloc_exec(req, io).await
            }
        }
    };
}

/// The client routes of an agent with a server.
pub(crate) struct ViaCluster<'a>(pub &'a dyn ClusterApi);

impl ViaCluster<'_> {
    /// The agent's event-stream heartbeat.
    fn heartbeat_every(&self) -> Duration {
        self.0.event_heartbeat()
    }

    /// An allocation the state knows.
    fn resolve(&self, id: &str) -> Result<String, ClusterError> {
        let snap = self.0.state()?.snapshot();
        if snap.alloc_by_id(id).is_some() {
            return Ok(id.to_string());
        }
        Err(ClusterError::NotFound(format!(
            "Unknown allocation \"{id}\""
        )))
    }
}
client_side_impl!(ViaCluster<'_>);

/// The client routes of a client-only agent: its client answers them.
pub(crate) struct Direct(pub Arc<dyn ClientFs>);

impl Direct {
    fn heartbeat_every(&self) -> Duration {
        crate::cluster::DEFAULT_EVENT_HEARTBEAT
    }

    /// Any ID: the client answers for its own allocations.
    fn resolve(&self, id: &str) -> Result<String, ClusterError> {
        Ok(id.to_string())
    }
}
client_side_impl!(Direct);

/// `GET /v1/client/stats`.
pub(crate) async fn stats(c: &dyn ClientSide, req: &Req) -> Result<Reply, ClusterError> {
    require_get(req)?;
    Reply::json(&c.host_stats().await?, req.pretty())
}

/// `/v1/client/allocation/:id/{stats,restart,signal}` (`rest` is
/// `:id/op`).
pub(crate) async fn allocation(c: &dyn ClientSide, req: &Req) -> Result<Reply, ClusterError> {
    let rest = req.rest.trim_end_matches('/');
    let Some((alloc, op)) = rest.rsplit_once('/') else {
        return Err(ClusterError::NotFound("404 page not found".into()));
    };
    if alloc.is_empty() {
        return Err(ClusterError::BadRequest("missing allocation ID".into()));
    }
    match op {
        "stats" => {
            require_get(req)?;
            let alloc_id = c.resolve_alloc(alloc)?;
            let task = req.param("task").map(str::to_string);
            Reply::json(&c.alloc_stats(alloc_id, task).await?, req.pretty())
        }
        "restart" => {
            require_write(req)?;
            let alloc_id = c.resolve_alloc(alloc)?;
            let body: AllocRestartRequest = if req.body.is_empty() {
                AllocRestartRequest::default()
            } else {
                req.json_body()?
            };
            let task = Some(body.task_name).filter(|t| !t.is_empty() && !body.all_tasks);
            c.alloc_restart(alloc_id, task).await?;
            Reply::json(&serde_json::json!({}), req.pretty())
        }
        "signal" => {
            require_write(req)?;
            let alloc_id = c.resolve_alloc(alloc)?;
            let body: AllocSignalRequest = if req.body.is_empty() {
                AllocSignalRequest::default()
            } else {
                req.json_body()?
            };
            let task = Some(body.task).filter(|t| !t.is_empty());
            c.alloc_signal(alloc_id, task, body.signal).await?;
            Reply::json(&serde_json::json!({}), req.pretty())
        }
        _ => Err(ClusterError::NotFound("404 page not found".into())),
    }
}
