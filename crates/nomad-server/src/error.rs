//! Errors of the server's operations.

use thiserror::Error;

/// Why a server operation failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ServerError {
    /// The request is malformed or invalid (validation errors, unknown fields).
    #[error("{0}")]
    BadRequest(String),
    /// The object does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state (a stale check-index).
    #[error("{0}")]
    Conflict(String),
    /// The node is not registered (the client registers again).
    #[error("node {0} is not registered")]
    NodeUnknown(String),
    /// The node's secret does not match.
    #[error("permission denied")]
    PermissionDenied,
    /// There is no leader, or this server is not it.
    #[error("No cluster leader")]
    NoLeader,
    /// The server is shutting down.
    #[error("server is shutting down")]
    Shutdown,
    /// Consensus failed (timeout, leadership change, storage).
    #[error("raft: {0}")]
    Raft(String),
    /// Anything else.
    #[error("{0}")]
    Internal(String),
}

impl From<nomad_raft::RaftError> for ServerError {
    fn from(e: nomad_raft::RaftError) -> Self {
        match e {
            nomad_raft::RaftError::NoLeader | nomad_raft::RaftError::NotLeader { .. } => {
                ServerError::NoLeader
            }
            other => ServerError::Raft(other.to_string()),
        }
    }
}
