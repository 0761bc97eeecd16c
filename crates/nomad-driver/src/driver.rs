//! The [`Driver`] trait and the types of `exec_task`.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{broadcast, mpsc};

use crate::error::DriverError;
use crate::status::{Capabilities, ExitResult, Fingerprint, TaskResourceUsage, TaskStatus};
use crate::task::{TaskConfig, TaskHandle};

/// A task driver: runs tasks of one kind (`raw_exec`, `exec`, `docker`…).
///
/// The client holds drivers as `Arc<dyn Driver>` and calls them from many
/// tasks at once, so every method takes `&self` and the driver keeps its own
/// table of tasks by [`TaskConfig::id`]. See the crate documentation for the
/// full contract.
#[async_trait]
pub trait Driver: Send + Sync + 'static {
    /// The driver's name as jobs write it (`"raw_exec"`).
    fn name(&self) -> &str;

    /// Optional features.
    fn capabilities(&self) -> Capabilities;

    /// The driver's health and attributes on this node. The client calls it
    /// at start and then every [`crate::FINGERPRINT_PERIOD`].
    async fn fingerprint(&self) -> Fingerprint;

    /// Starts a task and returns the handle the client persists. Returns
    /// once the task's process exists (for process drivers: after `execve`
    /// succeeded), so a bad command fails here, not in `wait_task`.
    async fn start_task(&self, config: TaskConfig) -> Result<TaskHandle, DriverError>;

    /// Re-attaches to a task started by an earlier instance of this driver
    /// (a restarted client). Idempotent: recovering a task the driver already
    /// knows is a no-op. A task that exited meanwhile is recovered as exited
    /// when the driver can still learn its exit result.
    async fn recover_task(&self, handle: &TaskHandle) -> Result<(), DriverError>;

    /// Waits for the task to exit. Any number of callers may wait; after the
    /// exit every call returns the same result at once. Dropping the future
    /// does not affect the task.
    async fn wait_task(&self, task_id: &str) -> Result<ExitResult, DriverError>;

    /// Stops the task: sends `signal` (empty: the driver's default), waits up
    /// to `timeout`, then kills it. Returns once the task has exited.
    /// Stopping an exited task is a no-op.
    async fn stop_task(
        &self,
        task_id: &str,
        timeout: Duration,
        signal: &str,
    ) -> Result<(), DriverError>;

    /// Forgets the task and frees what the driver holds for it (state files,
    /// cgroups, mounts). A running task is an error unless `force`, in which
    /// case it is killed first. After this, every call for the id returns
    /// [`DriverError::TaskNotFound`].
    async fn destroy_task(&self, task_id: &str, force: bool) -> Result<(), DriverError>;

    /// The task's current status.
    async fn inspect_task(&self, task_id: &str) -> Result<TaskStatus, DriverError>;

    /// One resource-usage sample. CPU percentages are measured since the
    /// previous call (the first call reports 0 %).
    async fn task_stats(&self, task_id: &str) -> Result<TaskResourceUsage, DriverError>;

    /// Sends a signal (by name) to the task.
    async fn signal_task(&self, task_id: &str, signal: &str) -> Result<(), DriverError>;

    /// Runs a command inside the task's environment (same user, env,
    /// filesystem view and limits) with streamed I/O, for `nomad alloc exec`
    /// and script checks. Returns when the command exits and its output was
    /// written. Dropping the future kills the command.
    async fn exec_task(
        &self,
        task_id: &str,
        request: ExecRequest,
        streams: ExecStreams,
    ) -> Result<ExitResult, DriverError>;

    /// Events the driver emits about its tasks outside the calls above (an
    /// image pull's progress, …), if it has any.
    fn task_events(&self) -> Option<broadcast::Receiver<DriverEvent>> {
        None
    }
}

/// A command to run with [`Driver::exec_task`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecRequest {
    /// Program and arguments; the program is looked up in the task's `PATH`.
    pub command: Vec<String>,
    /// Allocate a pseudo-terminal: stdout and stderr are then one stream,
    /// written to [`ExecStreams::stdout`].
    pub tty: bool,
}

impl ExecRequest {
    /// A command without a TTY.
    pub fn new<S: Into<String>>(command: impl IntoIterator<Item = S>) -> Self {
        ExecRequest {
            command: command.into_iter().map(Into::into).collect(),
            tty: false,
        }
    }
}

/// Terminal size for a TTY exec session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TerminalSize {
    /// Columns.
    pub cols: u16,
    /// Rows.
    pub rows: u16,
}

/// The caller's ends of an exec session.
pub struct ExecStreams {
    /// Input for the command; `None` gives it an empty stdin.
    pub stdin: Option<Box<dyn AsyncRead + Send + Unpin>>,
    /// Where the command's stdout (and with a TTY, its stderr) goes.
    pub stdout: Box<dyn AsyncWrite + Send + Unpin>,
    /// Where the command's stderr goes (unused with a TTY).
    pub stderr: Box<dyn AsyncWrite + Send + Unpin>,
    /// Terminal resizes, for TTY sessions.
    pub resize: Option<mpsc::Receiver<TerminalSize>>,
    /// Initial terminal size, for TTY sessions.
    pub initial_size: Option<TerminalSize>,
}

impl ExecStreams {
    /// Streams that capture stdout and stderr in memory; read them with
    /// [`CapturedOutput::take`] after the exec returns.
    pub fn capture(stdin: Option<Vec<u8>>) -> (Self, CapturedOutput, CapturedOutput) {
        let out = CapturedOutput::default();
        let err = CapturedOutput::default();
        let stdin: Option<Box<dyn AsyncRead + Send + Unpin>> = stdin.map(|bytes| {
            Box::new(std::io::Cursor::new(bytes)) as Box<dyn AsyncRead + Send + Unpin>
        });
        (
            ExecStreams {
                stdin,
                stdout: Box::new(out.clone()),
                stderr: Box::new(err.clone()),
                resize: None,
                initial_size: None,
            },
            out,
            err,
        )
    }
}

/// An in-memory sink for exec output (cheap to clone; clones share bytes).
#[derive(Debug, Clone, Default)]
pub struct CapturedOutput(Arc<Mutex<Vec<u8>>>);

impl CapturedOutput {
    /// The bytes written so far.
    pub fn take(&self) -> Vec<u8> {
        match self.0.lock() {
            Ok(mut g) => std::mem::take(&mut *g),
            Err(p) => std::mem::take(&mut *p.into_inner()),
        }
    }

    /// The bytes written so far, as lossy UTF-8.
    pub fn take_string(&self) -> String {
        String::from_utf8_lossy(&self.take()).into_owned()
    }
}

impl AsyncWrite for CapturedOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.0.lock() {
            Ok(mut g) => g.extend_from_slice(buf),
            Err(p) => p.into_inner().extend_from_slice(buf),
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Output of [`exec_capture`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// How the command exited.
    pub exit: ExitResult,
    /// Its stdout.
    pub stdout: Vec<u8>,
    /// Its stderr.
    pub stderr: Vec<u8>,
}

/// Runs a command in a task and collects its output, with a deadline (what
/// script checks need; Nomad's non-streaming `ExecTask`).
pub async fn exec_capture(
    driver: &dyn Driver,
    task_id: &str,
    command: Vec<String>,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
) -> Result<ExecOutput, DriverError> {
    let (streams, out, err) = ExecStreams::capture(stdin);
    let request = ExecRequest {
        command,
        tty: false,
    };
    let exit = tokio::time::timeout(timeout, driver.exec_task(task_id, request, streams))
        .await
        .map_err(|_| DriverError::Other(format!("exec timed out after {timeout:?}")))??;
    Ok(ExecOutput {
        exit,
        stdout: out.take(),
        stderr: err.take(),
    })
}

/// An event a driver emits on its own (Nomad's `drivers.TaskEvent`); the
/// client turns it into a "Driver" task event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverEvent {
    /// Task id.
    pub task_id: String,
    /// Task name.
    pub task_name: String,
    /// Allocation id.
    pub alloc_id: String,
    /// Unix nanoseconds.
    pub timestamp: i64,
    /// Message for humans.
    pub message: String,
    /// Extra key/values.
    pub annotations: std::collections::BTreeMap<String, String>,
}
