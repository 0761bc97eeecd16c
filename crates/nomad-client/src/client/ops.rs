//! What users ask of a client about its running allocations: resource
//! usage (`/v1/client/stats`, `/v1/client/allocation/:id/stats`), signals,
//! restarts and `alloc exec`.

use std::collections::BTreeMap;
use std::sync::Arc;

use nomad_driver::{Driver, ExecRequest, ExecStreams, ExitResult, TaskHandle, TaskResourceUsage};

use super::{Client, Entry, Inner};
use crate::error::ClientError;
use crate::hoststats::HostStats;
use crate::shared::{lock, AllocShared};

/// A running task: its allocation's shared state, its handle and driver.
struct RunningTask {
    shared: Arc<AllocShared>,
    handle: TaskHandle,
    driver: Arc<dyn Driver>,
}

/// A cheap, cloneable handle on a client for the HTTP API's requests
/// (it keeps the client's shared state alive, not its loops).
#[derive(Clone)]
pub struct ClientOps {
    inner: Arc<Inner>,
}

impl Client {
    /// A handle for user requests about the client's allocations.
    pub fn ops(&self) -> ClientOps {
        ClientOps {
            inner: self.inner.clone(),
        }
    }
}

impl ClientOps {
    /// The node's ID.
    pub fn node_id(&self) -> &str {
        &self.inner.identity.id
    }

    /// One sample of the host's resource usage.
    pub fn host_stats(&self) -> HostStats {
        self.inner
            .host_stats
            .collect(&self.inner.config.alloc_dir())
    }

    fn shared_of(&self, alloc_id: &str) -> Result<Arc<AllocShared>, ClientError> {
        match lock(&self.inner.allocs).get(alloc_id) {
            Some(Entry::Running(h)) => Ok(h.shared.clone()),
            Some(Entry::Terminal(_)) => Err(ClientError::Invalid(format!(
                "allocation {alloc_id:?} is not running"
            ))),
            _ => Err(ClientError::UnknownAlloc(alloc_id.to_string())),
        }
    }

    /// Names of the allocation's tasks, in the group's order.
    fn task_names(shared: &AllocShared) -> Vec<String> {
        let rec = shared.snapshot();
        match rec.alloc.task_group_spec() {
            Some(g) => g.tasks.iter().map(|t| t.name.clone()).collect(),
            None => rec.tasks.keys().cloned().collect(),
        }
    }

    fn running(&self, shared: &Arc<AllocShared>, task: &str) -> Option<RunningTask> {
        let handle = shared.task_record(task).handle?;
        let driver = self.inner.drivers.get(&handle.driver)?;
        Some(RunningTask {
            shared: shared.clone(),
            handle,
            driver,
        })
    }

    /// The running task `task` of `alloc_id`, or why there is none.
    fn running_task(&self, alloc_id: &str, task: &str) -> Result<RunningTask, ClientError> {
        let shared = self.shared_of(alloc_id)?;
        if !Self::task_names(&shared).iter().any(|t| t == task) {
            return Err(ClientError::Invalid(format!("unknown task name {task:?}")));
        }
        self.running(&shared, task)
            .ok_or_else(|| ClientError::Invalid(format!("task {task:?} is not running")))
    }

    /// The tasks an action applies to: `task`, or every running task.
    fn targets(&self, alloc_id: &str, task: Option<&str>) -> Result<Vec<RunningTask>, ClientError> {
        match task {
            Some(t) => Ok(vec![self.running_task(alloc_id, t)?]),
            None => {
                let shared = self.shared_of(alloc_id)?;
                Ok(Self::task_names(&shared)
                    .iter()
                    .filter_map(|t| self.running(&shared, t))
                    .collect())
            }
        }
    }

    /// Resource usage of the allocation's running tasks (or of `task`
    /// only), by task name. A task whose driver cannot measure it is left
    /// out.
    pub async fn alloc_stats(
        &self,
        alloc_id: &str,
        task: Option<&str>,
    ) -> Result<BTreeMap<String, TaskResourceUsage>, ClientError> {
        let mut out = BTreeMap::new();
        for t in self.targets(alloc_id, task)? {
            match t.driver.task_stats(&t.handle.config.id).await {
                Ok(u) => {
                    out.insert(t.handle.config.name.clone(), u);
                }
                Err(e) => {
                    tracing::debug!(alloc_id, task = %t.handle.config.name, error = %e, "task stats");
                }
            }
        }
        Ok(out)
    }

    /// Sends `signal` to `task`, or to every running task of the
    /// allocation, recording a "Signaling" event.
    pub async fn signal(
        &self,
        alloc_id: &str,
        task: Option<&str>,
        signal: &str,
    ) -> Result<(), ClientError> {
        let signal = if signal.is_empty() { "SIGKILL" } else { signal };
        for t in self.targets(alloc_id, task)? {
            let name = t.handle.config.name.clone();
            tracing::info!(alloc_id, task = %name, signal, "signaling task");
            t.shared.emit(
                &name,
                crate::events::signaling(signal, "User requested signal"),
                None,
                false,
            );
            t.driver.signal_task(&t.handle.config.id, signal).await?;
        }
        Ok(())
    }

    /// Restarts `task`, or every running task of the allocation, in
    /// place (not counted against the restart policy).
    pub fn restart(&self, alloc_id: &str, task: Option<&str>) -> Result<(), ClientError> {
        let targets = self.targets(alloc_id, task)?;
        for t in targets {
            crate::actions::request_restart(&t.shared, &t.handle.config.name);
        }
        Ok(())
    }

    /// Runs a command inside a running task (`nomad alloc exec`); returns
    /// when it exits.
    pub async fn exec(
        &self,
        alloc_id: &str,
        task: &str,
        request: ExecRequest,
        streams: ExecStreams,
    ) -> Result<ExitResult, ClientError> {
        let t = self.running_task(alloc_id, task)?;
        if !t.driver.capabilities().exec {
            return Err(ClientError::Invalid(format!(
                "driver {:?} does not support exec",
                t.handle.driver
            )));
        }
        tracing::info!(alloc_id, task, command = ?request.command, tty = request.tty, "exec in task");
        Ok(t.driver
            .exec_task(&t.handle.config.id, request, streams)
            .await?)
    }
}
