//! Errors of the state store.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Why a log entry changed nothing (or, for the few entries Nomad applies
/// in two steps, why its first step changed nothing; see
/// [`crate::ApplyResult::error`]).
///
/// Errors are values decided by the state alone, so every server applying
/// the same entry to the same state reports the same error.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
pub enum ApplyError {
    /// The entry's bytes are not a log entry this version understands.
    #[error("cannot decode log entry: {0}")]
    Decode(String),
    /// The entry names an object that does not exist.
    #[error("{kind} {id:?} not found")]
    NotFound {
        /// `job`, `node`, `alloc`, `eval`, `deployment`, …
        kind: String,
        /// The missing ID.
        id: String,
    },
    /// The entry conflicts with the current state (a check-index that no
    /// longer holds, a terminal deployment, undoing a promotion, …).
    #[error("{0}")]
    Conflict(String),
    /// The entry is malformed (an empty ID, an allocation without a job, …).
    #[error("{0}")]
    Invalid(String),
    /// The entry's index is not after the last applied index.
    #[error("log index {index} is not after the last applied index {applied}")]
    Stale {
        /// The entry's index.
        index: u64,
        /// The last index applied.
        applied: u64,
    },
}

impl ApplyError {
    pub(crate) fn not_found(kind: &str, id: impl Into<String>) -> Self {
        ApplyError::NotFound {
            kind: kind.to_string(),
            id: id.into(),
        }
    }
}

/// Why bytes could not be decoded (log entries, apply results).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// Not produced by this crate.
    #[error("not a nomad-state {what}: bad header")]
    BadHeader {
        /// What was expected.
        what: &'static str,
    },
    /// Produced by a newer version of this crate.
    #[error(
        "{what} format version {found} is not supported (this server reads up to {supported})"
    )]
    UnsupportedVersion {
        /// What was being decoded.
        what: &'static str,
        /// Version in the data.
        found: u8,
        /// Newest version understood.
        supported: u8,
    },
    /// The body does not parse.
    #[error("malformed {what}: {message}")]
    Malformed {
        /// What was being decoded.
        what: &'static str,
        /// Parser message.
        message: String,
    },
}

/// Why a state snapshot could not be restored. The store is unchanged.
#[derive(Debug, Error)]
pub enum RestoreError {
    /// The data is not a snapshot of this crate.
    #[error("not a nomad-state snapshot (bad magic)")]
    BadMagic,
    /// A snapshot written by a newer version.
    #[error(
        "snapshot format version {found} is not supported (this server reads up to {supported})"
    )]
    UnsupportedVersion {
        /// Version in the snapshot.
        found: u32,
        /// Newest version understood.
        supported: u32,
    },
    /// The body does not parse.
    #[error("malformed snapshot: {0}")]
    Malformed(String),
    /// Reading the snapshot failed.
    #[error("reading snapshot: {0}")]
    Io(#[from] std::io::Error),
}
