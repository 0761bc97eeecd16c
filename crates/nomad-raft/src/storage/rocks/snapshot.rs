//! The snapshot of a [`RocksStorage`]: its metadata in the `snapshot`
//! column family, its data in `snapshot/<index>-<term>.image`, and the
//! staged files that background writers fill before they are installed.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use protobuf::Message as _;
use raft::eraftpb::{Snapshot, SnapshotMetadata};
use rocksdb::{WriteBatch, WriteOptions};

use super::{ekey, io_err, RocksStorage, K_SNAP, K_TRUNC, SNAP_DIR};
use crate::error::StorageError;
use crate::storage::write_file_synced;

impl RocksStorage {
    /// Writes the metadata of the snapshot into `b`, in its column family
    /// (its data is in the image file, written before).
    pub(super) fn put_snapshot_meta(
        &self,
        b: &mut WriteBatch,
        meta: &SnapshotMetadata,
    ) -> Result<(), StorageError> {
        let mut m = Snapshot::default();
        m.set_metadata(meta.clone());
        b.put_cf(self.snap_cf()?, K_SNAP, Self::encode("snapshot", &m)?);
        b.delete(K_SNAP);
        Ok(())
    }

    pub(super) fn image_dir(&self) -> PathBuf {
        self.path.join(SNAP_DIR)
    }

    pub(super) fn image_path(&self, index: u64, term: u64) -> PathBuf {
        self.image_dir().join(format!("{index}-{term}.image"))
    }

    /// Writes the image file of snapshot `(index, term)` with `write`:
    /// into a temporary file, synced, then renamed into place.
    pub(super) fn write_image(
        &self,
        index: u64,
        term: u64,
        write: &mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>,
    ) -> Result<(), StorageError> {
        let dir = self.image_dir();
        fs::create_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
        let path = self.image_path(index, term);
        let tmp = path.with_extension("image.tmp");
        write_file_synced(&tmp, write).map_err(|e| io_err(&tmp, e))?;
        self.rename_into_place(&tmp, &path)
    }

    /// Renames `from` to `to` (both in the image directory) and syncs the directory.
    fn rename_into_place(&self, from: &Path, to: &Path) -> Result<(), StorageError> {
        fs::rename(from, to).map_err(|e| io_err(to, e))?;
        let dir = self.image_dir();
        fs::File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_err(&dir, e))
    }

    /// Removes image files other than the current snapshot's and the staged
    /// ones (older images, and any left by a crash between a file and its
    /// metadata, or by a background write cut short).
    pub(super) fn remove_old_images(&self) {
        let m = self.snapshot.get_metadata();
        let keep = self.image_path(m.index, m.term);
        let Ok(rd) = fs::read_dir(self.image_dir()) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p != keep && !self.staged.contains(&p) {
                if let Err(err) = fs::remove_file(&p) {
                    tracing::warn!(path = %p.display(), error = %err, "removing an old snapshot image");
                }
            }
        }
    }

    /// Stores snapshot `meta` whose data `write` produces, compacting the
    /// log before `compact_to`.
    pub(super) fn store_snapshot(
        &mut self,
        meta: SnapshotMetadata,
        write: &mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>,
        compact_to: u64,
    ) -> Result<(), StorageError> {
        if meta.index < self.snapshot.get_metadata().index {
            return Ok(());
        }
        self.write_image(meta.index, meta.term, write)?;
        self.commit_snapshot(meta, compact_to)
    }

    /// Makes `meta`, whose image file is in place, the stored snapshot:
    /// its metadata and the log's compaction before `compact_to` in one
    /// synced write, then the same in memory.
    fn commit_snapshot(
        &mut self,
        meta: SnapshotMetadata,
        compact_to: u64,
    ) -> Result<(), StorageError> {
        let mut b = WriteBatch::default();
        self.put_snapshot_meta(&mut b, &meta)?;
        let compact_to = compact_to.min(self.last() + 1);
        let mut truncated = self.truncated;
        if compact_to > self.first() {
            let term = self
                .term_of(compact_to - 1)
                .map_err(|e| self.corrupt(format!("term of {}: {e}", compact_to - 1)))?;
            b.delete_range(ekey(self.first()), ekey(compact_to));
            truncated = (compact_to - 1, term);
            let mut t = [0u8; 16];
            t[..8].copy_from_slice(&truncated.0.to_be_bytes());
            t[8..].copy_from_slice(&truncated.1.to_be_bytes());
            b.put(K_TRUNC, t);
        }
        let mut wo = WriteOptions::default();
        wo.set_sync(true);
        self.db.write_opt(b, &wo).map_err(|e| self.rocks(e))?;
        let drop_n = (truncated.0 - self.truncated.0) as usize;
        self.terms.drain(..drop_n.min(self.terms.len()));
        self.cache.compact_to(truncated.0 + 1);
        self.truncated = truncated;
        let mut kept = Snapshot::default();
        kept.set_metadata(meta);
        self.snapshot = kept;
        self.remove_old_images();
        Ok(())
    }

    /// See [`LogStore::stage_snapshot_file`]: `snapshot/<index>-<term>.<n>.staged`,
    /// `n` unique to this store (a writer of an earlier run still going
    /// never shares its file).
    pub(super) fn stage_file(&mut self, index: u64, term: u64) -> Result<PathBuf, StorageError> {
        let dir = self.image_dir();
        fs::create_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        self.stage_seq += 1;
        let path = dir.join(format!(
            "{index}-{term}.{nanos:x}{:x}.staged",
            self.stage_seq
        ));
        self.staged.insert(path.clone());
        Ok(path)
    }

    /// See [`LogStore::install_snapshot_file`]: the staged file is renamed
    /// to the image's name, then committed as [`Self::store_snapshot`] does.
    pub(super) fn install_file(
        &mut self,
        meta: SnapshotMetadata,
        path: &Path,
        compact_to: u64,
    ) -> Result<bool, StorageError> {
        self.staged.remove(path);
        let m = self.snapshot.get_metadata();
        if meta.index <= m.index {
            tracing::debug!(
                index = meta.index,
                stored = m.index,
                "a newer snapshot is stored: discarding the staged one"
            );
            self.discard_file(path);
            return Ok(false);
        }
        let image = self.image_path(meta.index, meta.term);
        if let Err(e) = self.rename_into_place(path, &image) {
            self.discard_file(path);
            return Err(e);
        }
        self.commit_snapshot(meta, compact_to)?;
        Ok(true)
    }

    /// See [`LogStore::discard_snapshot_file`].
    pub(super) fn discard_file(&mut self, path: &Path) {
        self.staged.remove(path);
        if let Err(e) = fs::remove_file(path) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(path = %path.display(), error = %e, "removing a staged snapshot file");
            }
        }
    }

    /// The stored snapshot with its data, read from disk. Only its metadata
    /// stays in memory: the data is the whole state machine image (1.5 GB
    /// at C1M) and is needed only to restore at start and to catch up a
    /// follower.
    pub(super) fn load_snapshot(&self) -> Result<Snapshot, StorageError> {
        if self.snapshot.get_metadata().index == 0 {
            return Ok(self.snapshot.clone());
        }
        let Some(v) = self.stored_snapshot_bytes()? else {
            return Err(self.corrupt("the snapshot's metadata is known but its data is missing"));
        };
        let mut snap =
            Snapshot::parse_from_bytes(&v).map_err(|e| self.corrupt(format!("snapshot: {e}")))?;
        if snap.data.is_empty() {
            // The data is in its image file (older layouts stored it inline).
            let m = snap.get_metadata();
            let path = self.image_path(m.index, m.term);
            snap.data = fs::read(&path).map_err(|e| io_err(&path, e))?.into();
        }
        Ok(snap)
    }
}
