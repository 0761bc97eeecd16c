//! An in-memory [`LogStore`] for the simulator and tests. Clones share the same data, so a
//! simulated crash can drop a node and restart it on the "disk" it left behind.

use std::sync::{Arc, Mutex, MutexGuard};

use raft::eraftpb::{Entry, HardState, Snapshot};
use raft::{GetEntriesContext, RaftState, StorageError as RaftStorageError};

use super::{snapshot_serves, LogStore};
use crate::error::StorageError;

#[derive(Default)]
struct Inner {
    hs: HardState,
    snapshot: Snapshot,
    /// Entries from `truncated.0 + 1` on.
    entries: Vec<Entry>,
    /// Index and term of the last discarded entry.
    truncated: (u64, u64),
    snapshot_requested: bool,
    syncs: u64,
}

impl Inner {
    fn first_index(&self) -> u64 {
        self.truncated.0 + 1
    }
    fn last_index(&self) -> u64 {
        self.truncated.0 + self.entries.len() as u64
    }
    fn term(&self, idx: u64) -> raft::Result<u64> {
        if idx == self.truncated.0 {
            return Ok(self.truncated.1);
        }
        if idx < self.truncated.0 {
            return Err(raft::Error::Store(RaftStorageError::Compacted));
        }
        if idx > self.last_index() {
            return Err(raft::Error::Store(RaftStorageError::Unavailable));
        }
        Ok(self.entries[(idx - self.first_index()) as usize].term)
    }
}

/// In-memory log store; see the module docs.
#[derive(Clone, Default)]
pub struct MemStore {
    inner: Arc<Mutex<Inner>>,
}

impl MemStore {
    /// An empty (uninitialised) store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A poisoned lock only means a panic elsewhere in a test; the data is still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Number of synced writes so far (for tests).
    pub fn syncs(&self) -> u64 {
        self.lock().syncs
    }

    /// All entries currently in the log (for consistency checks).
    pub fn entries_all(&self) -> Vec<Entry> {
        self.lock().entries.clone()
    }
}

impl raft::Storage for MemStore {
    fn initial_state(&self) -> raft::Result<RaftState> {
        let g = self.lock();
        Ok(RaftState::new(
            g.hs.clone(),
            g.snapshot.get_metadata().get_conf_state().clone(),
        ))
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        let g = self.lock();
        if low < g.first_index() {
            return Err(raft::Error::Store(RaftStorageError::Compacted));
        }
        if high > g.last_index() + 1 || low > high {
            return Err(raft::Error::Store(RaftStorageError::Unavailable));
        }
        let lo = (low - g.first_index()) as usize;
        let hi = (high - g.first_index()) as usize;
        let mut out = g.entries[lo..hi].to_vec();
        raft::util::limit_size(&mut out, max_size.into());
        Ok(out)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        self.lock().term(idx)
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(self.lock().first_index())
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(self.lock().last_index())
    }

    fn snapshot(&self, request_index: u64, to: u64) -> raft::Result<Snapshot> {
        let mut g = self.lock();
        if snapshot_serves(&g.snapshot, request_index, to) {
            Ok(g.snapshot.clone())
        } else {
            g.snapshot_requested = true;
            Err(raft::Error::Store(
                RaftStorageError::SnapshotTemporarilyUnavailable,
            ))
        }
    }
}

impl LogStore for MemStore {
    fn persist(
        &mut self,
        snapshot: Option<&Snapshot>,
        entries: &[Entry],
        hard_state: Option<&HardState>,
        sync: bool,
    ) -> Result<(), StorageError> {
        let mut g = self.lock();
        if let Some(snap) = snapshot {
            let m = snap.get_metadata();
            g.truncated = (m.index, m.term);
            g.entries.clear();
            g.snapshot = snap.clone();
        }
        if let Some(first) = entries.first() {
            if first.index < g.first_index() || first.index > g.last_index() + 1 {
                return Err(StorageError::Corrupt {
                    path: "<memory>".into(),
                    detail: format!(
                        "append at {} outside [{}, {}]",
                        first.index,
                        g.first_index(),
                        g.last_index() + 1
                    ),
                });
            }
            let keep = (first.index - g.first_index()) as usize;
            g.entries.truncate(keep);
            g.entries.extend_from_slice(entries);
        }
        if let Some(hs) = hard_state {
            g.hs = hs.clone();
        }
        if sync {
            g.syncs += 1;
        }
        Ok(())
    }

    fn save_snapshot(&mut self, snapshot: Snapshot, compact_to: u64) -> Result<(), StorageError> {
        let mut g = self.lock();
        if snapshot.get_metadata().index < g.snapshot.get_metadata().index {
            return Ok(());
        }
        g.snapshot = snapshot;
        let compact_to = compact_to.min(g.last_index() + 1);
        if compact_to > g.first_index() {
            let term = g.term(compact_to - 1).unwrap_or(0);
            let n = (compact_to - g.first_index()) as usize;
            g.entries.drain(..n);
            g.truncated = (compact_to - 1, term);
        }
        Ok(())
    }

    fn stored_snapshot(&self) -> Snapshot {
        self.lock().snapshot.clone()
    }

    fn snapshot_index(&self) -> u64 {
        self.lock().snapshot.get_metadata().index
    }

    fn hard_state(&self) -> HardState {
        self.lock().hs.clone()
    }

    fn take_snapshot_request(&self) -> bool {
        std::mem::take(&mut self.lock().snapshot_requested)
    }
}
