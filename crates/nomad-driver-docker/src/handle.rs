//! One container of a task: watching it exit (wait, then inspect for the
//! exit code and `OOMKilled`), signals, the stop escalation, and status.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bollard::query_parameters::{
    InspectContainerOptions, KillContainerOptions, WaitContainerOptions,
};
use bollard::Docker;
use futures_util::StreamExt;
use nomad_driver::{signal, DriverError, ExitResult, TaskConfig, TaskState, TaskStatus};
use nomad_types::GoTime;
use tokio::sync::watch;

use crate::error;
use crate::logs::{self, LogJob};
use crate::stats::StatsTracker;

/// How long a stop waits for the container to go away after SIGKILL.
pub(crate) const KILL_WAIT: Duration = Duration::from_secs(30);
/// Deadline of quick API calls (inspect, kill).
pub(crate) const API_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
struct Exited {
    result: ExitResult,
    at: SystemTime,
}

/// A running (or exited) container of a task.
pub(crate) struct DockerTask {
    pub config: TaskConfig,
    pub container_id: String,
    pub image_id: String,
    pub started_at: SystemTime,
    pub pid: i64,
    pub stats: StatsTracker,
    docker: Docker,
    /// Signals the driver delivered, to tell `exit 137` from a SIGKILL.
    signals: Arc<Mutex<Vec<i32>>>,
    rx: watch::Receiver<Option<Exited>>,
    monitor: tokio::task::AbortHandle,
    logs: Option<tokio::task::AbortHandle>,
}

impl Drop for DockerTask {
    fn drop(&mut self) {
        // A dropped driver (a client shutting down) stops watching; the
        // container keeps running for the next driver instance to recover.
        self.monitor.abort();
        if let Some(l) = &self.logs {
            l.abort();
        }
    }
}

/// Unix nanoseconds of a Docker timestamp; `None` for Go's zero time.
pub(crate) fn parse_time(s: Option<&str>) -> Option<SystemTime> {
    let ns = GoTime(s?.to_string()).to_unix_nanos()?;
    let ns = u64::try_from(ns).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_nanos(ns))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// What the client needs to build a task's container handle.
pub(crate) struct Attach {
    pub config: TaskConfig,
    pub container_id: String,
    pub image_id: String,
    pub started_at: SystemTime,
    pub pid: i64,
    pub logs: Option<LogJob>,
}

impl DockerTask {
    /// Starts watching a container (and copying its logs).
    pub(crate) fn attach(docker: Docker, a: Attach) -> Arc<Self> {
        let (tx, rx) = watch::channel(None);
        let signals = Arc::new(Mutex::new(Vec::new()));
        let log_task = a
            .logs
            .map(|job| tokio::spawn(logs::copy_logs(docker.clone(), job)));
        let log_abort = log_task.as_ref().map(|h| h.abort_handle());
        let monitor = tokio::spawn(monitor(
            docker.clone(),
            a.container_id.clone(),
            a.config.clone(),
            signals.clone(),
            log_task,
            tx,
        ))
        .abort_handle();
        Arc::new(DockerTask {
            config: a.config,
            container_id: a.container_id,
            image_id: a.image_id,
            started_at: a.started_at,
            pid: a.pid,
            stats: StatsTracker::default(),
            docker,
            signals,
            rx,
            monitor,
            logs: log_abort,
        })
    }

    /// True until the exit was observed.
    pub(crate) fn is_running(&self) -> bool {
        self.rx.borrow().is_none()
    }

    /// Waits for the exit.
    pub(crate) async fn wait(&self) -> ExitResult {
        let mut rx = self.rx.clone();
        loop {
            if let Some(e) = rx.borrow_and_update().as_ref() {
                return e.result.clone();
            }
            if rx.changed().await.is_err() {
                return ExitResult::error("the driver stopped watching the container");
            }
        }
    }

    /// Sends `sig` to the container's main process. A no-op once exited.
    pub(crate) async fn signal(&self, sig: i32) -> Result<(), DriverError> {
        if !self.is_running() {
            return Ok(());
        }
        let name =
            signal::signal_name(sig).ok_or_else(|| DriverError::InvalidSignal(sig.to_string()))?;
        lock(&self.signals).push(sig);
        let opts = KillContainerOptions {
            signal: name.to_string(),
        };
        match tokio::time::timeout(
            API_TIMEOUT,
            self.docker.kill_container(&self.container_id, Some(opts)),
        )
        .await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) if error::is_not_running(&e) || error::is_not_found(&e) => Ok(()),
            Ok(Err(e)) => Err(DriverError::Other(format!(
                "Failed to signal container {}: {}",
                self.container_id,
                error::message(&e)
            ))),
            Err(_) => Err(DriverError::Other(format!(
                "signalling container {}: no answer from docker within {API_TIMEOUT:?}",
                self.container_id
            ))),
        }
    }

    /// Docker's stop with our signal: `sig`, up to `timeout` for the exit,
    /// then SIGKILL. A zero timeout kills at once. Returns once exited.
    pub(crate) async fn stop(&self, timeout: Duration, sig: i32) -> Result<(), DriverError> {
        if !self.is_running() {
            return Ok(());
        }
        let (alloc_id, task) = (&self.config.alloc_id, &self.config.name);
        if !timeout.is_zero() && sig != libc::SIGKILL {
            self.signal(sig).await?;
            if tokio::time::timeout(timeout, self.wait()).await.is_ok() {
                return Ok(());
            }
            tracing::info!(%alloc_id, %task, ?timeout, container_id = %self.container_id,
                "container ignored its kill signal; sending SIGKILL");
        }
        self.signal(libc::SIGKILL).await?;
        match tokio::time::timeout(KILL_WAIT, self.wait()).await {
            Ok(_) => Ok(()),
            Err(_) => Err(DriverError::Other(format!(
                "container {} did not exit {KILL_WAIT:?} after SIGKILL",
                self.container_id
            ))),
        }
    }

    /// The status for `inspect_task`.
    pub(crate) fn status(&self) -> TaskStatus {
        let exited = self.rx.borrow().clone();
        let mut attrs = BTreeMap::new();
        attrs.insert("container_id".to_string(), self.container_id.clone());
        attrs.insert("image_id".to_string(), self.image_id.clone());
        if exited.is_none() && self.pid > 0 {
            attrs.insert("pid".to_string(), self.pid.to_string());
        }
        TaskStatus {
            id: self.config.id.clone(),
            name: self.config.name.clone(),
            state: if exited.is_some() {
                TaskState::Exited
            } else {
                TaskState::Running
            },
            started_at: self.started_at,
            completed_at: exited.as_ref().map(|e| e.at),
            exit_result: exited.map(|e| e.result),
            driver_attributes: attrs,
        }
    }
}

/// Waits for the container to stop, then reads how it ended.
async fn monitor(
    docker: Docker,
    id: String,
    cfg: TaskConfig,
    signals: Arc<Mutex<Vec<i32>>>,
    log_task: Option<tokio::task::JoinHandle<()>>,
    tx: watch::Sender<Option<Exited>>,
) {
    let (alloc_id, task) = (cfg.alloc_id.as_str(), cfg.name.as_str());
    loop {
        let opts = WaitContainerOptions {
            condition: "not-running".into(),
        };
        let mut wait = docker.wait_container(&id, Some(opts));
        match wait.next().await {
            Some(Ok(_)) | Some(Err(bollard::errors::Error::DockerContainerWaitError { .. })) => {
                break
            }
            Some(Err(e)) if error::is_not_found(&e) => {
                let _ = tx.send(Some(Exited {
                    result: ExitResult::error(format!("container {id} disappeared")),
                    at: SystemTime::now(),
                }));
                return;
            }
            other => {
                tracing::warn!(%alloc_id, %task, container_id = %id, result = ?other.map(|r| r.map(|_| ())),
                    "waiting for container failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }

    let mut inspected = None;
    for attempt in 0..5 {
        match tokio::time::timeout(
            API_TIMEOUT,
            docker.inspect_container(&id, None::<InspectContainerOptions>),
        )
        .await
        {
            Ok(Ok(info)) => {
                inspected = Some(info);
                break;
            }
            Ok(Err(e)) if error::is_not_found(&e) => break,
            other => {
                tracing::warn!(%alloc_id, %task, container_id = %id, attempt,
                    error = ?other.map(|r| r.map(|_| ())), "inspecting exited container failed");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
    if let Some(h) = log_task {
        if tokio::time::timeout(logs::DRAIN_TIMEOUT, h).await.is_err() {
            tracing::warn!(%alloc_id, %task, container_id = %id, "log copy did not finish after the exit");
        }
    }
    let exited = match inspected.and_then(|i| i.state) {
        None => Exited {
            result: ExitResult::error(format!("failed to inspect container {id} after it exited")),
            at: SystemTime::now(),
        },
        Some(state) => {
            let code = i32::try_from(state.exit_code.unwrap_or(-1)).unwrap_or(-1);
            let oom = state.oom_killed.unwrap_or(false);
            let sent = lock(&signals).clone();
            let signal = if code > 128 && (sent.contains(&(code - 128)) || (oom && code == 137)) {
                code - 128
            } else {
                0
            };
            if oom {
                tracing::error!(%alloc_id, %task, container_id = %id, "OOM Killed");
            }
            Exited {
                result: ExitResult {
                    exit_code: code,
                    signal,
                    oom_killed: oom,
                    err: oom.then(|| "OOM Killed".to_string()),
                },
                at: parse_time(state.finished_at.as_deref()).unwrap_or_else(SystemTime::now),
            }
        }
    };
    tracing::debug!(%alloc_id, %task, container_id = %id, exit_code = exited.result.exit_code,
        signal = exited.result.signal, oom_killed = exited.result.oom_killed, "container exited");
    let _ = tx.send(Some(exited));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_times() {
        assert!(parse_time(Some("0001-01-01T00:00:00Z")).is_none());
        assert!(parse_time(None).is_none());
        let t = parse_time(Some("2024-01-02T03:04:05.123456789Z")).unwrap();
        assert_eq!(nomad_driver::unix_nanos(t), 1_704_164_645_123_456_789);
    }
}
