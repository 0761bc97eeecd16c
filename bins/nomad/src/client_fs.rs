//! `/v1/client/*` answered by the client agent of this process: files and
//! logs here, stats and allocation actions in [`crate::client_ops`].

use async_trait::async_trait;
use futures_util::StreamExt;
use nomad_api::stats::{AllocResourceUsage, HostStats};
use nomad_api::{
    ByteStream, ClientFs, ClusterError, ExecChannels, ExecStart, FileFrame, FrameStream,
    FsStreamRequest, LogsRequest,
};
use nomad_client::allocdir::{self, AllocDir, FileInfo};
use nomad_client::follow::{self, StreamFrom};
use nomad_client::logs::{self, Origin};
use nomad_client::{Client, ClientError, ClientOps};

use crate::client_ops;
use nomad_types::api::AllocFileInfo;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often a followed log or file is polled for new data.
const FOLLOW_POLL: Duration = Duration::from_millis(250);
/// The most a plain (not followed) log read returns at once.
const READ_LIMIT: u64 = 64 * 1024 * 1024;

/// The client, shared with the agent, which takes it back at shutdown.
pub type SharedClient = Arc<Mutex<Option<Client>>>;

/// [`ClientFs`] over the in-process client agent.
pub struct LocalClientFs(pub SharedClient);

impl LocalClientFs {
    fn ops(&self) -> Result<ClientOps, ClusterError> {
        let guard = self
            .0
            .lock()
            .map_err(|_| ClusterError::Internal("client state poisoned".into()))?;
        match guard.as_ref() {
            Some(c) => Ok(c.ops()),
            None => Err(ClusterError::Internal(
                "the client agent is shutting down".into(),
            )),
        }
    }

    fn alloc_dir(&self, alloc_id: &str) -> Result<AllocDir, ClusterError> {
        let guard = self
            .0
            .lock()
            .map_err(|_| ClusterError::Internal("client state poisoned".into()))?;
        match guard.as_ref() {
            Some(c) => c.alloc_dir(alloc_id).map_err(to_cluster),
            None => Err(ClusterError::Internal(
                "the client agent is shutting down".into(),
            )),
        }
    }
}

pub(crate) fn to_cluster(e: ClientError) -> ClusterError {
    match &e {
        ClientError::Invalid(m) => ClusterError::BadRequest(m.clone()),
        ClientError::UnknownAlloc(id) => {
            ClusterError::NotFound(format!("unknown allocation ID \"{id}\""))
        }
        ClientError::PathEscapes(p) => ClusterError::BadRequest(format!(
            "path {} escapes the allocation directory",
            p.display()
        )),
        ClientError::NotFound(_) => ClusterError::NotFound(e.to_string()),
        other => ClusterError::Internal(other.to_string()),
    }
}

fn to_api(f: FileInfo) -> AllocFileInfo {
    AllocFileInfo {
        name: f.name,
        is_dir: f.is_dir,
        size: i64::try_from(f.size).unwrap_or(i64::MAX),
        file_mode: f.file_mode,
        mod_time: nomad_types::GoTime::from_unix_nanos(f.mod_time).to_string(),
        content_type: String::new(),
    }
}

fn once(data: Vec<u8>) -> ByteStream {
    Box::pin(futures_util::stream::once(async move { Ok(data) }))
}

#[async_trait]
impl ClientFs for LocalClientFs {
    async fn alloc_logs(&self, req: LogsRequest) -> Result<ByteStream, ClusterError> {
        let dir = self.alloc_dir(&req.alloc_id)?;
        let origin: Origin = req.origin.parse().map_err(to_cluster)?;
        let offset = u64::try_from(req.offset).unwrap_or(0);
        if req.follow {
            let rx = logs::follow_logs(dir, req.task, req.log_type, origin, offset, FOLLOW_POLL)
                .map_err(to_cluster)?;
            let stream = futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv()
                    .await
                    .map(|r| (r.map(|c| c.data).map_err(to_cluster), rx))
            });
            return Ok(stream.boxed());
        }
        let data = logs::read_logs(&dir, &req.task, &req.log_type, origin, offset, READ_LIMIT)
            .map_err(to_cluster)?;
        Ok(once(data))
    }

    async fn alloc_fs_list(
        &self,
        alloc_id: String,
        path: String,
    ) -> Result<Vec<AllocFileInfo>, ClusterError> {
        let dir = self.alloc_dir(&alloc_id)?;
        Ok(allocdir::list(&dir, &path)
            .map_err(to_cluster)?
            .into_iter()
            .map(to_api)
            .collect())
    }

    async fn alloc_fs_stat(
        &self,
        alloc_id: String,
        path: String,
    ) -> Result<AllocFileInfo, ClusterError> {
        let dir = self.alloc_dir(&alloc_id)?;
        allocdir::stat(&dir, &path).map(to_api).map_err(to_cluster)
    }

    async fn alloc_fs_cat(
        &self,
        alloc_id: String,
        path: String,
    ) -> Result<ByteStream, ClusterError> {
        let dir = self.alloc_dir(&alloc_id)?;
        Ok(once(allocdir::cat(&dir, &path).map_err(to_cluster)?))
    }

    async fn alloc_fs_stream(&self, req: FsStreamRequest) -> Result<FrameStream, ClusterError> {
        let dir = self.alloc_dir(&req.alloc_id)?;
        let from = StreamFrom {
            origin: req.origin.parse().map_err(to_cluster)?,
            offset: u64::try_from(req.offset).unwrap_or(0),
            follow: req.follow,
        };
        let rx = follow::stream_file(&dir, &req.path, from, FOLLOW_POLL).map_err(to_cluster)?;
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            let frame = rx.recv().await?.map_err(to_cluster).map(|f| FileFrame {
                offset: i64::try_from(f.offset).unwrap_or(i64::MAX),
                data: f.data,
                file_event: f.event.map(|e| e.as_str().to_string()).unwrap_or_default(),
            });
            Some((frame, rx))
        });
        Ok(stream.boxed())
    }

    fn node_id(&self) -> String {
        self.ops()
            .map(|o| o.node_id().to_string())
            .unwrap_or_default()
    }

    fn has_alloc(&self, alloc_id: &str) -> bool {
        self.0
            .lock()
            .ok()
            .and_then(|g| g.as_ref().map(|c| c.alloc(alloc_id).is_some()))
            .unwrap_or(false)
    }

    async fn host_stats(&self) -> Result<HostStats, ClusterError> {
        Ok(client_ops::host_stats(&self.ops()?))
    }

    async fn alloc_stats(
        &self,
        alloc_id: String,
        task: Option<String>,
    ) -> Result<AllocResourceUsage, ClusterError> {
        client_ops::alloc_stats(&self.ops()?, &alloc_id, task.as_deref()).await
    }

    async fn alloc_restart(
        &self,
        alloc_id: String,
        task: Option<String>,
    ) -> Result<(), ClusterError> {
        self.ops()?
            .restart(&alloc_id, task.as_deref())
            .map_err(to_cluster)
    }

    async fn alloc_signal(
        &self,
        alloc_id: String,
        task: Option<String>,
        signal: String,
    ) -> Result<(), ClusterError> {
        self.ops()?
            .signal(&alloc_id, task.as_deref(), &signal)
            .await
            .map_err(to_cluster)
    }

    async fn alloc_exec(&self, req: ExecStart, io: ExecChannels) -> Result<i32, ClusterError> {
        client_ops::exec(&self.ops()?, req, io).await
    }
}
