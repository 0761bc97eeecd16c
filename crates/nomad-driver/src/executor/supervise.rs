//! Watching a launched task: exit detection through the shim's pidfd, the
//! exit result from the shim's status file, waiting, signalling and the
//! stop escalation (signal, grace period, SIGKILL).

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::io;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::sync::watch;

use super::launch::{pidfd_open, read_status_file, reap};
use super::procfs::ProcRef;
use crate::error::DriverError;
use crate::status::{ExitResult, TaskState, TaskStatus};
use crate::task::TaskConfig;

/// How long a stop waits for a task to go away after SIGKILL.
pub const KILL_WAIT: Duration = Duration::from_secs(30);

/// Adjusts an exit result once the task exited (e.g. reads the cgroup's OOM
/// counter). Runs on the monitor task.
pub type ExitHook = Box<dyn FnOnce(&mut ExitResult) + Send>;

/// Waits until a pidfd becomes readable, i.e. the process exited.
pub async fn wait_pidfd(fd: OwnedFd) -> io::Result<()> {
    // SAFETY: the OwnedFd stays open and unchanged while the AsyncFd owns it.
    let afd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }?;
    let _ready = afd.readable().await?;
    Ok(())
}

#[derive(Debug, Clone)]
struct Exited {
    result: ExitResult,
    at: SystemTime,
}

/// One running (or exited) task of a process-based driver.
#[derive(Debug)]
pub struct Supervisor {
    /// The task's config.
    pub config: TaskConfig,
    /// The shim.
    pub shim: ProcRef,
    /// The task process (session and process-group leader).
    pub task: ProcRef,
    /// When the task started.
    pub started_at: SystemTime,
    /// The shim's status file.
    pub status_path: PathBuf,
    rx: watch::Receiver<Option<Exited>>,
    monitor: tokio::task::AbortHandle,
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        // A dropped driver (e.g. a client shutting down) stops watching; the
        // shim keeps running and records the exit for the next instance.
        self.monitor.abort();
    }
}

impl Supervisor {
    /// Watches a task just launched.
    pub fn start(
        config: TaskConfig,
        shim: ProcRef,
        task: ProcRef,
        shim_pidfd: OwnedFd,
        status_path: PathBuf,
        hook: Option<ExitHook>,
    ) -> Arc<Self> {
        Self::spawn(
            config,
            shim,
            task,
            Some(shim_pidfd),
            status_path,
            SystemTime::now(),
            hook,
        )
    }

    /// Re-attaches to a task launched by an earlier driver instance. Fails
    /// when the shim is gone and left no exit status.
    pub fn recover(
        config: TaskConfig,
        shim: ProcRef,
        task: ProcRef,
        status_path: PathBuf,
        started_at: SystemTime,
        hook: Option<ExitHook>,
    ) -> Result<Arc<Self>, DriverError> {
        let pidfd = if shim.exists() {
            match pidfd_open(shim.pid) {
                // Re-check after opening: the pidfd is for the right process
                // only if the pid was not recycled in between.
                Ok(fd) if shim.exists() => Some(fd),
                _ => None,
            }
        } else {
            None
        };
        if pidfd.is_none() && read_status_file(&status_path).is_none() {
            return Err(DriverError::RecoverFailed(format!(
                "executor (pid {}) is gone and recorded no exit status",
                shim.pid
            )));
        }
        Ok(Self::spawn(
            config,
            shim,
            task,
            pidfd,
            status_path,
            started_at,
            hook,
        ))
    }

    fn spawn(
        config: TaskConfig,
        shim: ProcRef,
        task: ProcRef,
        pidfd: Option<OwnedFd>,
        status_path: PathBuf,
        started_at: SystemTime,
        hook: Option<ExitHook>,
    ) -> Arc<Self> {
        let (tx, rx) = watch::channel(None);
        let path = status_path.clone();
        let alloc_id = config.alloc_id.clone();
        let task_name = config.name.clone();
        let monitor = tokio::spawn(async move {
            if let Some(fd) = pidfd {
                if let Err(e) = wait_pidfd(fd).await {
                    tracing::warn!(%alloc_id, task = %task_name, error = %e, "waiting on executor failed");
                }
            }
            reap(shim.pid);
            let mut result = match read_status_file(&path) {
                Some((exit_code, signal)) => ExitResult {
                    exit_code,
                    signal,
                    oom_killed: false,
                    err: None,
                },
                None => ExitResult::error(
                    "executor exited without recording the task's exit status",
                ),
            };
            if let Some(hook) = hook {
                hook(&mut result);
            }
            tracing::debug!(%alloc_id, task = %task_name, exit_code = result.exit_code,
                signal = result.signal, oom_killed = result.oom_killed, "task exited");
            let _ = tx.send(Some(Exited {
                result,
                at: SystemTime::now(),
            }));
        })
        .abort_handle();
        Arc::new(Supervisor {
            config,
            shim,
            task,
            started_at,
            status_path,
            rx,
            monitor,
        })
    }

    /// The exit result, once the task exited.
    pub fn exit_result(&self) -> Option<ExitResult> {
        self.rx.borrow().as_ref().map(|e| e.result.clone())
    }

    /// True until the exit was observed.
    pub fn is_running(&self) -> bool {
        self.rx.borrow().is_none()
    }

    /// Waits for the exit.
    pub async fn wait(&self) -> ExitResult {
        let mut rx = self.rx.clone();
        loop {
            if let Some(e) = rx.borrow_and_update().as_ref() {
                return e.result.clone();
            }
            if rx.changed().await.is_err() {
                return ExitResult::error("the driver stopped watching the task");
            }
        }
    }

    /// Sends `sig` to the task's process group (the task and the children
    /// that did not leave it). A no-op once the task exited.
    pub fn signal(&self, sig: i32) -> Result<(), DriverError> {
        if !self.is_running() || !self.task.is_alive() {
            return Ok(());
        }
        // SAFETY: kill with a verified live pid (pgid == pid after setsid).
        let rc = unsafe { libc::kill(-self.task.pid, sig) };
        if rc < 0 {
            // SAFETY: as above, the leader alone.
            if unsafe { libc::kill(self.task.pid, sig) } < 0 {
                let e = io::Error::last_os_error();
                if e.raw_os_error() != Some(libc::ESRCH) {
                    return Err(DriverError::io("signalling task", e));
                }
            }
        }
        Ok(())
    }

    /// Stops the task: `sig`, up to `timeout` for it to exit, then
    /// `kill_all` (which must SIGKILL everything of the task), then waits.
    /// A zero timeout skips straight to `kill_all`.
    pub async fn stop(
        &self,
        timeout: Duration,
        sig: i32,
        kill_all: &(dyn Fn() + Send + Sync),
    ) -> Result<(), DriverError> {
        if !self.is_running() {
            return Ok(());
        }
        let (alloc_id, task) = (&self.config.alloc_id, &self.config.name);
        if !timeout.is_zero() {
            self.signal(sig)?;
            if tokio::time::timeout(timeout, self.wait()).await.is_ok() {
                return Ok(());
            }
            tracing::info!(%alloc_id, %task, ?timeout, "task ignored its kill signal; sending SIGKILL");
        }
        kill_all();
        match tokio::time::timeout(KILL_WAIT, self.wait()).await {
            Ok(_) => Ok(()),
            Err(_) => Err(DriverError::Other(format!(
                "task (pid {}) did not exit {KILL_WAIT:?} after SIGKILL",
                self.task.pid
            ))),
        }
    }

    /// SIGKILLs the task's process group.
    pub fn kill_group(&self) {
        if self.task.is_alive() {
            // SAFETY: kill with a verified live pid.
            unsafe {
                libc::kill(-self.task.pid, libc::SIGKILL);
                libc::kill(self.task.pid, libc::SIGKILL);
            }
        }
    }

    /// The status for `inspect_task`, with `pid` among the attributes.
    pub fn status(&self) -> TaskStatus {
        let exited = self.rx.borrow().clone();
        let mut attrs = BTreeMap::new();
        attrs.insert("pid".to_string(), self.task.pid.to_string());
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

/// A driver's table of tasks by id.
#[derive(Debug)]
pub struct TaskStore<T> {
    inner: Mutex<StoreInner<T>>,
}

#[derive(Debug)]
struct StoreInner<T> {
    tasks: HashMap<String, Arc<T>>,
    starting: std::collections::HashSet<String>,
}

impl<T> Default for TaskStore<T> {
    fn default() -> Self {
        TaskStore {
            inner: Mutex::new(StoreInner {
                tasks: HashMap::new(),
                starting: Default::default(),
            }),
        }
    }
}

/// An id claimed by a start in progress; dropping it releases the id,
/// [`Reservation::commit`] turns it into a task.
#[must_use = "dropping a reservation releases the id"]
pub struct Reservation<'a, T> {
    store: &'a TaskStore<T>,
    id: String,
}

impl<T> Reservation<'_, T> {
    /// Registers the started task under the reserved id.
    pub fn commit(self, task: Arc<T>) {
        let mut g = self.store.lock();
        g.starting.remove(&self.id);
        g.tasks.insert(self.id.clone(), task);
    }
}

impl<T> Drop for Reservation<'_, T> {
    fn drop(&mut self) {
        self.store.lock().starting.remove(&self.id);
    }
}

impl<T> TaskStore<T> {
    fn lock(&self) -> std::sync::MutexGuard<'_, StoreInner<T>> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// The task, or [`DriverError::TaskNotFound`].
    pub fn get(&self, id: &str) -> Result<Arc<T>, DriverError> {
        self.lock()
            .tasks
            .get(id)
            .cloned()
            .ok_or_else(|| DriverError::TaskNotFound(id.to_string()))
    }

    /// True when the id is known (or being started).
    pub fn contains(&self, id: &str) -> bool {
        let g = self.lock();
        g.tasks.contains_key(id) || g.starting.contains(id)
    }

    /// Claims an id before starting a task, so that two concurrent starts of
    /// one id cannot both launch; fails with [`DriverError::AlreadyStarted`].
    pub fn reserve(&self, id: &str) -> Result<Reservation<'_, T>, DriverError> {
        let mut g = self.lock();
        if g.tasks.contains_key(id) || !g.starting.insert(id.to_string()) {
            return Err(DriverError::AlreadyStarted(id.to_string()));
        }
        Ok(Reservation {
            store: self,
            id: id.to_string(),
        })
    }

    /// Adds a task (recovery); fails if the id is taken.
    pub fn insert(&self, id: &str, task: Arc<T>) -> Result<(), DriverError> {
        let mut g = self.lock();
        if g.tasks.contains_key(id) || g.starting.contains(id) {
            return Err(DriverError::AlreadyStarted(id.to_string()));
        }
        g.tasks.insert(id.to_string(), task);
        Ok(())
    }

    /// Removes a task.
    pub fn remove(&self, id: &str) -> Option<Arc<T>> {
        self.lock().tasks.remove(id)
    }

    /// Number of tasks.
    pub fn len(&self) -> usize {
        self.lock().tasks.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.lock().tasks.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_block_duplicate_starts_until_released() {
        let store: TaskStore<u32> = TaskStore::default();
        let r = store.reserve("a").unwrap();
        assert!(store.contains("a"));
        assert!(matches!(
            store.reserve("a"),
            Err(DriverError::AlreadyStarted(_))
        ));
        assert!(store.get("a").is_err());
        drop(r);
        assert!(!store.contains("a"));
        store.reserve("a").unwrap().commit(Arc::new(7));
        assert_eq!(*store.get("a").unwrap(), 7);
        assert!(store.reserve("a").is_err());
        assert!(store.insert("a", Arc::new(8)).is_err());
        assert_eq!(store.len(), 1);
    }
}
