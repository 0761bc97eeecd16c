//! Errors returned by drivers.

use std::io;

/// Everything a driver call can fail with.
///
/// The client maps these onto task events: a [`DriverError::InvalidConfig`]
/// from `start_task` is a "Failed Validation", any other start error a
/// "Driver Failure", a `recover_task` error a "Failed Restoring Task".
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// No task with this id is known to the driver (Nomad: `ErrTaskNotFound`).
    #[error("task not found for given id: {0}")]
    TaskNotFound(String),
    /// `start_task` was called twice with the same id.
    #[error("task with ID {0:?} already started")]
    AlreadyStarted(String),
    /// `destroy_task` without `force` on a running task.
    #[error("cannot destroy running task")]
    TaskRunning,
    /// The task's driver `config` (or the plugin config) is invalid.
    #[error("invalid config: {0}")]
    InvalidConfig(String),
    /// A signal name that is not a known signal.
    #[error("unknown signal {0:?}")]
    InvalidSignal(String),
    /// The driver is not usable on this node (disabled, not root, no cgroups…).
    #[error("driver {driver} is not available: {reason}")]
    Unavailable {
        /// Driver name.
        driver: String,
        /// Why, as the fingerprint's health description says.
        reason: String,
    },
    /// The driver does not implement this operation.
    #[error("{0} is not supported by this driver")]
    NotSupported(&'static str),
    /// Starting the task failed after validation.
    #[error("failed to start task: {0}")]
    StartFailed(String),
    /// A handle could not be decoded or does not belong to this driver.
    #[error("invalid task handle: {0}")]
    InvalidHandle(String),
    /// Re-attaching to a task from its handle failed.
    #[error("failed to recover task: {0}")]
    RecoverFailed(String),
    /// An operating-system call failed.
    #[error("{context}: {source}")]
    Io {
        /// What the driver was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Anything else, with a message for humans.
    #[error("{0}")]
    Other(String),
}

impl DriverError {
    /// Wraps an I/O error with what the driver was doing.
    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        DriverError::Io {
            context: context.into(),
            source,
        }
    }

    /// True for [`DriverError::TaskNotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, DriverError::TaskNotFound(_))
    }
}

/// Adds context to I/O results, producing [`DriverError::Io`].
pub trait IoContext<T> {
    /// Maps the error to [`DriverError::Io`] with `context`.
    fn context(self, context: impl FnOnce() -> String) -> Result<T, DriverError>;
}

impl<T> IoContext<T> for Result<T, io::Error> {
    fn context(self, context: impl FnOnce() -> String) -> Result<T, DriverError> {
        self.map_err(|e| DriverError::io(context(), e))
    }
}
