//! Durable Raft state: the log, the hard state and the latest snapshot.
//!
//! [`LogStore`] extends `raft::Storage` with the writes the node needs. Two implementations:
//! [`RocksStorage`] (RocksDB, synced write batches) and [`MemStore`] (memory, for the
//! deterministic simulator and tests).
//!
//! The conf state returned by `initial_state` is the one recorded in the latest snapshot; conf
//! changes after it are replayed from the log on restart, like the FSM's commands.

mod mem;
mod rocks;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use raft::eraftpb::{Entry, HardState, Snapshot, SnapshotMetadata};

pub use mem::MemStore;
pub use rocks::{RocksStorage, FORMAT_VERSION, MARKER_FILE};

use crate::error::StorageError;

/// A Raft log store the node can write to.
pub trait LogStore: raft::Storage + Send + 'static {
    /// Atomically persists the durable parts of a Ready: an installed snapshot (which replaces
    /// the whole log), new entries (replacing any conflicting suffix) and the hard state. With
    /// `sync` the write is on stable storage when this returns.
    fn persist(
        &mut self,
        snapshot: Option<&Snapshot>,
        entries: &[Entry],
        hard_state: Option<&HardState>,
        sync: bool,
    ) -> Result<(), StorageError>;

    /// Stores a snapshot taken locally at the applied index and discards log entries before
    /// `compact_to` (exclusive).
    fn save_snapshot(&mut self, snapshot: Snapshot, compact_to: u64) -> Result<(), StorageError>;

    /// Like [`LogStore::save_snapshot`], with the snapshot's data produced by `write`. A
    /// store that keeps snapshots in files streams the data there, so that the image of a
    /// large state is never held in memory whole; the default collects it first.
    fn save_snapshot_streamed(
        &mut self,
        meta: SnapshotMetadata,
        write: &mut dyn FnMut(&mut dyn std::io::Write) -> std::io::Result<()>,
        compact_to: u64,
    ) -> Result<(), StorageError> {
        let mut data = Vec::new();
        write(&mut data).map_err(|e| StorageError::Encode {
            what: "snapshot",
            detail: e.to_string(),
        })?;
        let mut snap = Snapshot {
            data: data.into(),
            ..Default::default()
        };
        snap.set_metadata(meta);
        self.save_snapshot(snap, compact_to)
    }

    /// A new temporary file (not yet created) in the store's snapshot directory for the
    /// data of snapshot `(index, term)`, to be written and synced by another thread, then
    /// given to [`LogStore::install_snapshot_file`] or [`LogStore::discard_snapshot_file`].
    /// The store leaves it alone until then. `None` (the default): the store does not keep
    /// snapshots in files, and the node saves them with
    /// [`LogStore::save_snapshot_streamed`] on its own thread.
    fn stage_snapshot_file(
        &mut self,
        _index: u64,
        _term: u64,
    ) -> Result<Option<PathBuf>, StorageError> {
        Ok(None)
    }

    /// Installs snapshot `meta` whose data (image header included) was written and synced
    /// into `path`, a file [`LogStore::stage_snapshot_file`] gave: like
    /// [`LogStore::save_snapshot`] (the data becomes the stored snapshot's, the log before
    /// `compact_to` is discarded). Returns false, discarding the file, when the store already
    /// holds a snapshot at or past `meta.index`. The default reads the file into memory.
    fn install_snapshot_file(
        &mut self,
        meta: SnapshotMetadata,
        path: &Path,
        compact_to: u64,
    ) -> Result<bool, StorageError> {
        if meta.index <= self.snapshot_index() {
            self.discard_snapshot_file(path);
            return Ok(false);
        }
        let data = std::fs::read(path).map_err(|source| StorageError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        self.discard_snapshot_file(path);
        let mut snap = Snapshot {
            data: data.into(),
            ..Default::default()
        };
        snap.set_metadata(meta);
        self.save_snapshot(snap, compact_to)?;
        Ok(true)
    }

    /// Removes a staged snapshot file that will not be installed (best effort).
    fn discard_snapshot_file(&mut self, path: &Path) {
        if let Err(e) = std::fs::remove_file(path) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(path = %path.display(), error = %e, "removing a snapshot file");
            }
        }
    }

    /// The latest stored snapshot (index 0 when there is none).
    fn stored_snapshot(&self) -> Snapshot;

    /// The index of the latest stored snapshot (0 when there is none).
    fn snapshot_index(&self) -> u64 {
        self.stored_snapshot().get_metadata().index
    }

    /// The persisted hard state.
    fn hard_state(&self) -> HardState;

    /// True (once) when raft asked for a snapshot that the store could not serve; the node
    /// then takes a fresh one.
    fn take_snapshot_request(&self) -> bool;
}

/// Whether `snap` can be sent to peer `to`, which needs at least `request_index`.
pub(crate) fn snapshot_serves(snap: &Snapshot, request_index: u64, to: u64) -> bool {
    let meta = snap.get_metadata();
    if meta.index == 0 || meta.index < request_index {
        return false;
    }
    let cs = meta.get_conf_state();
    cs.voters
        .iter()
        .chain(&cs.learners)
        .chain(&cs.voters_outgoing)
        .any(|id| *id == to)
}

const IMAGE_MAGIC: &[u8; 8] = b"NRSNAP1\0";

/// The bytes carried in a Raft snapshot: the peer address book and the FSM image.
pub(crate) fn encode_image(peers: &BTreeMap<u64, String>, fsm: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(fsm.len() + 64);
    // Writing into a Vec cannot fail.
    let _ = write_image_header(peers, &mut out);
    out.extend_from_slice(fsm);
    out
}

/// Writes what precedes the FSM image in snapshot bytes: the magic and the
/// peer address book.
pub(crate) fn write_image_header(
    peers: &BTreeMap<u64, String>,
    w: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    w.write_all(IMAGE_MAGIC)?;
    w.write_all(&(peers.len() as u32).to_be_bytes())?;
    for (id, addr) in peers {
        w.write_all(&id.to_be_bytes())?;
        w.write_all(&(addr.len() as u32).to_be_bytes())?;
        w.write_all(addr.as_bytes())?;
    }
    Ok(())
}

/// Creates (truncating) the file at `path`, fills it with `write` through a buffer and syncs
/// it. On error the file is removed.
pub(crate) fn write_file_synced(
    path: &Path,
    write: &mut dyn FnMut(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let written = std::fs::File::create(path).and_then(|file| {
        let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
        write(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()
    });
    if written.is_err() {
        let _ = std::fs::remove_file(path);
    }
    written
}

/// Splits snapshot bytes into the address book and the FSM image.
pub(crate) fn decode_image(data: &[u8]) -> Result<(BTreeMap<u64, String>, &[u8]), String> {
    let rest = data
        .strip_prefix(IMAGE_MAGIC.as_slice())
        .ok_or("snapshot image: bad magic")?;
    let (n, mut rest) = split_u32(rest).ok_or("snapshot image: truncated")?;
    let mut peers = BTreeMap::new();
    for _ in 0..n {
        if rest.len() < 8 {
            return Err("snapshot image: truncated peer".into());
        }
        let (id, tail) = rest.split_at(8);
        let mut b = [0u8; 8];
        b.copy_from_slice(id);
        let (len, tail) = split_u32(tail).ok_or("snapshot image: truncated peer")?;
        let len = len as usize;
        if tail.len() < len {
            return Err("snapshot image: truncated peer address".into());
        }
        let (addr, tail) = tail.split_at(len);
        let addr = std::str::from_utf8(addr).map_err(|_| "snapshot image: address not UTF-8")?;
        peers.insert(u64::from_be_bytes(b), addr.to_string());
        rest = tail;
    }
    Ok((peers, rest))
}

fn split_u32(b: &[u8]) -> Option<(u32, &[u8])> {
    if b.len() < 4 {
        return None;
    }
    let (n, rest) = b.split_at(4);
    Some((u32::from_be_bytes([n[0], n[1], n[2], n[3]]), rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_roundtrip() {
        let mut peers = BTreeMap::new();
        peers.insert(1, "127.0.0.1:1".to_string());
        peers.insert(7, "h:7".to_string());
        let img = encode_image(&peers, b"fsm-bytes");
        let (p, f) = decode_image(&img).unwrap();
        assert_eq!(p, peers);
        assert_eq!(f, b"fsm-bytes");
        for cut in 0..img.len() - 9 {
            assert!(decode_image(&img[..cut]).is_err(), "cut {cut}");
        }
    }
}
