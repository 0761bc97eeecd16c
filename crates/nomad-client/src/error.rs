//! Errors of the client agent.

use std::io;
use std::path::PathBuf;

use nomad_driver::DriverError;

use crate::server::ServerError;

/// Everything the client's library functions can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A file-system operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What the client was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The client configuration is invalid.
    #[error("invalid client config: {0}")]
    Config(String),
    /// The local state store could not be read or written.
    #[error("state store: {0}")]
    State(String),
    /// A driver call failed.
    #[error(transparent)]
    Driver(#[from] DriverError),
    /// A call to the servers failed.
    #[error(transparent)]
    Server(#[from] ServerError),
    /// A path given by a user leaves the directory it must stay in.
    #[error("path {0:?} escapes the allocation directory")]
    PathEscapes(PathBuf),
    /// A path given by a user does not exist.
    #[error("path {0:?} does not exist")]
    NotFound(PathBuf),
    /// No allocation with this id is known to the client.
    #[error("unknown allocation {0:?}")]
    UnknownAlloc(String),
    /// Bad input from a user or a job (bad template, bad origin…).
    #[error("{0}")]
    Invalid(String),
}

impl ClientError {
    /// Wraps an I/O error with what the client was doing.
    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        ClientError::Io {
            context: context.into(),
            source,
        }
    }
}

/// Adds context to I/O results, producing [`ClientError::Io`].
pub(crate) trait Context<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T, ClientError>;
}

impl<T> Context<T> for Result<T, io::Error> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T, ClientError> {
        self.map_err(|e| ClientError::io(context(), e))
    }
}
