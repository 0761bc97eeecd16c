//! The simulator's errors. Bad input never panics: it ends up here.

use thiserror::Error;

use nomad_scheduler::SchedulerError;

/// Why the simulator could not do what it was asked.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SimError {
    /// The cluster configuration text is malformed.
    #[error("config line {line}: {message}")]
    Config {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A job failed Nomad's validation.
    #[error("job {job:?} is invalid: {reason}")]
    InvalidJob {
        /// The job ID.
        job: String,
        /// The validation errors.
        reason: String,
    },
    /// No such job.
    #[error("no job {namespace}/{job}")]
    UnknownJob {
        /// Namespace.
        namespace: String,
        /// Job ID.
        job: String,
    },
    /// No such task group in the job.
    #[error("job {job:?} has no group {group:?}")]
    UnknownGroup {
        /// Job ID.
        job: String,
        /// Group name.
        group: String,
    },
    /// The scheduler refused an evaluation.
    #[error("scheduler: {0}")]
    Scheduler(#[from] SchedulerError),
}
