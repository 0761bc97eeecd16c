//! Error types of the crate: [`RaftError`] for requests and the node, [`StorageError`] for the
//! on-disk log.

use std::path::PathBuf;

/// Why a request to the Raft node (or the node itself) failed.
#[derive(Debug, thiserror::Error)]
pub enum RaftError {
    /// This server is not the leader and the request must go to the leader. The server layer
    /// forwards the request to `address` when it is known.
    #[error("not the leader (leader: {})", fmt_leader(*.leader, .address))]
    NotLeader {
        /// The leader's id, when known.
        leader: Option<u64>,
        /// The leader's Raft address, when known.
        address: Option<String>,
    },
    /// No leader is known right now (an election is running or there is no quorum).
    #[error("no cluster leader")]
    NoLeader,
    /// The request did not complete in time. A write may still be committed later: its outcome
    /// is unknown.
    #[error("timed out after {0:?}; the outcome is unknown")]
    Timeout(std::time::Duration),
    /// Leadership changed while a forwarded request was in flight: it may or may not be
    /// applied. Retry only if the command is idempotent (or check first).
    #[error("leadership changed while the request was in flight; its outcome is unknown")]
    LeaderChanged,
    /// The proposal was lost because leadership changed before it was committed; it will
    /// never be applied.
    #[error("proposal dropped: leadership changed before it was committed")]
    Dropped,
    /// Only one membership change may be in flight at a time.
    #[error("a membership change is already in progress")]
    ConfChangeInProgress,
    /// The membership change was rejected (e.g. removing a node that is not a member).
    #[error("membership change rejected: {0}")]
    ConfChangeRejected(String),
    /// `bootstrap` was called on a node that already has Raft state.
    #[error("this node already has Raft state; it cannot be bootstrapped again")]
    AlreadyBootstrapped,
    /// The configuration is invalid.
    #[error("invalid raft configuration: {0}")]
    Config(String),
    /// The node is shut down (or stopped after a fatal error).
    #[error("raft node is shut down")]
    Shutdown,
    /// The log store failed. The node stops: continuing could break Raft's guarantees.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The state machine could not restore a snapshot.
    #[error("state machine restore failed: {0}")]
    Restore(String),
    /// raft-rs rejected an operation.
    #[error("raft: {0}")]
    Raft(String),
    /// The transport could not be set up.
    #[error("transport: {0}")]
    Transport(String),
}

fn fmt_leader(leader: Option<u64>, address: &Option<String>) -> String {
    match (leader, address) {
        (Some(id), Some(addr)) => format!("{id} at {addr}"),
        (Some(id), None) => format!("{id}"),
        _ => "unknown".to_string(),
    }
}

impl From<raft::Error> for RaftError {
    fn from(e: raft::Error) -> Self {
        match e {
            raft::Error::ProposalDropped => RaftError::Dropped,
            other => RaftError::Raft(other.to_string()),
        }
    }
}

/// Why the on-disk Raft log could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The directory holds files but is not a nomad-raft data directory. Nothing was changed.
    #[error(
        "{path}: not a nomad-raft data directory (no {marker} marker file; found {found}); \
         refusing to use it so that nothing in it is overwritten"
    )]
    NotADataDir {
        /// The directory.
        path: PathBuf,
        /// The name of the marker file that was expected.
        marker: &'static str,
        /// A few of the names found there.
        found: String,
    },
    /// The data directory belongs to another node or cluster.
    #[error("{path}: data directory belongs to {found}, but this server is {expected}")]
    Foreign {
        /// The directory.
        path: PathBuf,
        /// Who the marker says owns it.
        found: String,
        /// Who we are.
        expected: String,
    },
    /// The data directory was written by an unknown (newer) format version.
    #[error("{path}: data format version {found} is not supported (this build reads version {supported})")]
    UnsupportedVersion {
        /// The directory.
        path: PathBuf,
        /// The version found.
        found: String,
        /// The version this build supports.
        supported: u32,
    },
    /// The data is damaged. Nothing was repaired or removed.
    #[error("{path}: raft data is corrupt: {detail}")]
    Corrupt {
        /// The directory.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// RocksDB failed.
    #[error("{path}: rocksdb: {source}")]
    Rocks {
        /// The directory.
        path: PathBuf,
        /// The RocksDB error.
        source: rocksdb::Error,
    },
    /// A file-system operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A protobuf value could not be encoded.
    #[error("encoding {what}: {detail}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// The codec's message.
        detail: String,
    },
}

/// Result alias for requests.
pub type Result<T, E = RaftError> = std::result::Result<T, E>;
