//! [`RocksStorage`]: the Raft log, hard state and latest snapshot in RocksDB.
//!
//! Layout (default column family):
//!
//! | key | value |
//! |---|---|
//! | `e/` + index (u64 big-endian) | `Entry` (protobuf) |
//! | `m/hs` | `HardState` (protobuf) |
//! | `m/trunc` | index and term (u64 BE each) of the last discarded entry |
//! | `m/meta` | the identity text also found in the [`MARKER_FILE`] |
//!
//! and, in the column family `snapshot`, `m/snap`: the latest `Snapshot`'s
//! metadata (protobuf, without data). Its data, the whole state image
//! (1.5 GB at a million allocations), is the file
//! `snapshot/<index>-<term>.image`, written (streamed, synced, renamed into
//! place) before the metadata that names it. A snapshot written in the
//! background goes to a staged file in the same directory
//! (`snapshot/<index>-<term>.<n>.staged`), renamed into place when the node
//! installs it; staged files a crash left behind are removed at open. Keeping the image out of
//! RocksDB keeps it out of memory (no encoded copy, no memtable copy) and out
//! of the log's key space, where a seek past the newest entry of a table
//! file landed on it and read and decompressed the whole blob for every log
//! read. Older directories kept the whole `Snapshot` (data included) under
//! `m/snap` in the default family; it is read from there until the next
//! snapshot replaces it.
//!
//! The newest entries (up to [`ENTRY_CACHE_BYTES`]) are also kept in memory:
//! entries are read back right after they are written (to apply them once
//! committed, and to send them to followers), and those reads never touch
//! the disk.
//!
//! The directory carries a plain-text marker file written before the database is created. Open
//! refuses a non-empty directory without it (nothing is touched), a marker of another node or
//! cluster, an unknown format version, and a database whose contents are inconsistent. It never
//! deletes or repairs anything.

use std::cell::Cell;
use std::collections::{BTreeSet, VecDeque};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use protobuf::Message as _;
use raft::eraftpb::{Entry, HardState, Snapshot, SnapshotMetadata};
use raft::{GetEntriesContext, RaftState, StorageError as RaftStorageError};
use rocksdb::{
    ColumnFamily, Direction, IteratorMode, Options, ReadOptions, WriteBatch, WriteOptions, DB,
};

use super::{snapshot_serves, LogStore};
use crate::error::StorageError;

mod snapshot;

/// Name of the marker file in a data directory.
pub const MARKER_FILE: &str = "NOMAD_RAFT";
/// On-disk format version written by this build.
pub const FORMAT_VERSION: u32 = 1;

const K_HS: &[u8] = b"m/hs";
const K_SNAP: &[u8] = b"m/snap";
const K_TRUNC: &[u8] = b"m/trunc";
const K_META: &[u8] = b"m/meta";
const ENTRY_PREFIX: &[u8] = b"e/";
/// The column family of the snapshot's metadata.
const SNAP_CF: &str = "snapshot";
/// The directory (in the data directory) of the snapshot's image file.
const SNAP_DIR: &str = "snapshot";
/// How many bytes of the newest entries stay in memory.
pub const ENTRY_CACHE_BYTES: usize = 32 << 20;

fn ekey(index: u64) -> [u8; 10] {
    let mut k = [0u8; 10];
    k[..2].copy_from_slice(ENTRY_PREFIX);
    k[2..].copy_from_slice(&index.to_be_bytes());
    k
}

#[derive(Debug, PartialEq, Eq)]
struct Identity {
    version: String,
    node_id: u64,
    cluster_id: String,
}

impl Identity {
    fn render(&self) -> String {
        format!(
            "nomad-raft data directory\nformat_version={}\nnode_id={}\ncluster_id={}\n",
            self.version, self.node_id, self.cluster_id
        )
    }

    fn parse(text: &str) -> Option<Identity> {
        let mut lines = text.lines();
        if lines.next()? != "nomad-raft data directory" {
            return None;
        }
        let mut version = None;
        let mut node_id = None;
        let mut cluster_id = None;
        for line in lines {
            let (k, v) = line.split_once('=')?;
            match k {
                "format_version" => version = Some(v.to_string()),
                "node_id" => node_id = v.parse().ok(),
                "cluster_id" => cluster_id = Some(v.to_string()),
                _ => {}
            }
        }
        Some(Identity {
            version: version?,
            node_id: node_id?,
            cluster_id: cluster_id?,
        })
    }
}

/// The RocksDB-backed log store; see the module docs.
pub struct RocksStorage {
    db: DB,
    path: PathBuf,
    hs: HardState,
    snapshot: Snapshot,
    truncated: (u64, u64),
    /// Terms of the entries in `[truncated.0 + 1, last]`.
    terms: VecDeque<u64>,
    snapshot_requested: Cell<bool>,
    /// The newest entries, contiguous, ending at `last()` when non-empty.
    cache: EntryCache,
    /// Files handed out for snapshots written on other threads, not yet
    /// installed or discarded.
    staged: BTreeSet<PathBuf>,
    stage_seq: u64,
}

/// The newest log entries in memory, bounded by [`ENTRY_CACHE_BYTES`].
#[derive(Default)]
struct EntryCache {
    entries: VecDeque<Entry>,
    bytes: usize,
}

fn entry_bytes(e: &Entry) -> usize {
    e.data.len() + e.context.len() + 32
}

impl EntryCache {
    fn first(&self) -> Option<u64> {
        self.entries.front().map(|e| e.index)
    }

    /// Appends `new` (contiguous), replacing any cached suffix it conflicts with.
    fn append(&mut self, new: &[Entry]) {
        let Some(first) = new.first() else {
            return;
        };
        match (self.first(), self.entries.back().map(|e| e.index)) {
            (Some(lo), Some(hi)) if first.index >= lo && first.index <= hi + 1 => {
                self.truncate_from(first.index)
            }
            _ => self.clear(),
        }
        for e in new {
            self.bytes += entry_bytes(e);
            self.entries.push_back(e.clone());
        }
        while self.bytes > ENTRY_CACHE_BYTES && self.entries.len() > 1 {
            self.pop_front();
        }
    }

    fn truncate_from(&mut self, index: u64) {
        while self.entries.back().is_some_and(|e| e.index >= index) {
            if let Some(e) = self.entries.pop_back() {
                self.bytes -= entry_bytes(&e);
            }
        }
    }

    fn pop_front(&mut self) {
        if let Some(e) = self.entries.pop_front() {
            self.bytes -= entry_bytes(&e);
        }
    }

    /// Drops entries below `index`.
    fn compact_to(&mut self, index: u64) {
        while self.first().is_some_and(|i| i < index) {
            self.pop_front();
        }
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }

    /// `[low, high)` within `max` bytes (at least one entry), when cached.
    fn slice(&self, low: u64, high: u64, max: u64) -> Option<Vec<Entry>> {
        let first = self.first()?;
        let last = self.entries.back()?.index;
        if low < first || high > last + 1 {
            return None;
        }
        let mut out = Vec::with_capacity((high - low) as usize);
        let mut size = 0u64;
        for e in self
            .entries
            .range((low - first) as usize..(high - first) as usize)
        {
            size += u64::from(e.compute_size());
            if !out.is_empty() && size > max {
                break;
            }
            out.push(e.clone());
        }
        Some(out)
    }
}

fn io_err(path: &Path, source: std::io::Error) -> StorageError {
    StorageError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl RocksStorage {
    /// Opens (or creates) the data directory of node `node_id` in cluster `cluster_id`.
    ///
    /// A missing or empty directory is initialised. Anything else must carry our marker for
    /// the same node and cluster; otherwise a [`StorageError`] explains why and nothing in the
    /// directory has been changed.
    pub fn open(dir: &Path, node_id: u64, cluster_id: &str) -> Result<RocksStorage, StorageError> {
        let me = Identity {
            version: FORMAT_VERSION.to_string(),
            node_id,
            cluster_id: cluster_id.to_string(),
        };
        let fresh = Self::check_dir(dir, &me)?;
        if fresh {
            fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
            write_marker(dir, &me)?;
        }
        let mut opts = Options::default();
        opts.create_if_missing(fresh);
        opts.set_keep_log_file_num(4);
        opts.set_max_log_file_size(8 << 20);
        // RocksDB's default (point-in-time recovery) stops replaying the
        // write-ahead log at the first bad record and opens anyway, which
        // would silently drop synced, acknowledged entries after it. Only an
        // incomplete last record (a write cut short) is tolerated; any other
        // corruption refuses to open.
        opts.set_wal_recovery_mode(rocksdb::DBRecoveryMode::TolerateCorruptedTailRecords);
        opts.set_paranoid_checks(true);
        opts.create_missing_column_families(true);
        // Column families take their own options (`DB::open_cf` would give
        // them RocksDB's defaults whatever `opts` says). Both are Snappy-
        // compressed: uncompressed, the log made C1M's data directory
        // 1,654 MiB instead of 376, for ~2% of a follower's CPU under a
        // registration load (not measurable in `api-harness register`).
        opts.set_compression_type(rocksdb::DBCompressionType::Snappy);
        let cfs = ["default", SNAP_CF].map(|name| (name, opts.clone()));
        let db = DB::open_cf_with_opts(&opts, dir, cfs).map_err(|source| StorageError::Rocks {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut st = RocksStorage {
            db,
            path: dir.to_path_buf(),
            hs: HardState::default(),
            snapshot: Snapshot::default(),
            truncated: (0, 0),
            terms: VecDeque::new(),
            snapshot_requested: Cell::new(false),
            cache: EntryCache::default(),
            staged: BTreeSet::new(),
            stage_seq: 0,
        };
        st.check_meta(&me)?;
        st.load()?;
        // Leftovers of a crash: a staged or half-written image.
        st.remove_old_images();
        Ok(st)
    }

    /// Returns true when the directory is new (missing, empty, or only our marker).
    fn check_dir(dir: &Path, me: &Identity) -> Result<bool, StorageError> {
        let meta = match fs::metadata(dir) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(true),
            Err(e) => return Err(io_err(dir, e)),
        };
        if !meta.is_dir() {
            return Err(StorageError::NotADataDir {
                path: dir.to_path_buf(),
                marker: MARKER_FILE,
                found: "a file, not a directory".to_string(),
            });
        }
        let mut names: Vec<String> = fs::read_dir(dir)
            .map_err(|e| io_err(dir, e))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        if names.is_empty() {
            return Ok(true);
        }
        if !names.iter().any(|n| n == MARKER_FILE) {
            let mut found: Vec<&str> = names.iter().take(5).map(String::as_str).collect();
            if names.len() > 5 {
                found.push("...");
            }
            return Err(StorageError::NotADataDir {
                path: dir.to_path_buf(),
                marker: MARKER_FILE,
                found: found.join(", "),
            });
        }
        let marker_path = dir.join(MARKER_FILE);
        let text = fs::read_to_string(&marker_path).map_err(|e| io_err(&marker_path, e))?;
        let found = Identity::parse(&text).ok_or_else(|| StorageError::Corrupt {
            path: dir.to_path_buf(),
            detail: format!("marker file {MARKER_FILE} is unreadable"),
        })?;
        if found.version != me.version {
            return Err(StorageError::UnsupportedVersion {
                path: dir.to_path_buf(),
                found: found.version,
                supported: FORMAT_VERSION,
            });
        }
        Self::check_identity(dir, &found, me)?;
        if !names.iter().any(|n| n == "CURRENT") {
            if names.len() == 1 {
                // Only our marker: creation was interrupted before the database existed.
                return Ok(true);
            }
            return Err(StorageError::Corrupt {
                path: dir.to_path_buf(),
                detail: "the RocksDB CURRENT file is missing".to_string(),
            });
        }
        Ok(false)
    }

    fn check_identity(dir: &Path, found: &Identity, me: &Identity) -> Result<(), StorageError> {
        let cluster_differs = !found.cluster_id.is_empty()
            && !me.cluster_id.is_empty()
            && found.cluster_id != me.cluster_id;
        if found.node_id != me.node_id || cluster_differs {
            return Err(StorageError::Foreign {
                path: dir.to_path_buf(),
                found: format!("node {} of cluster {:?}", found.node_id, found.cluster_id),
                expected: format!("node {} of cluster {:?}", me.node_id, me.cluster_id),
            });
        }
        Ok(())
    }

    fn corrupt(&self, detail: impl Into<String>) -> StorageError {
        StorageError::Corrupt {
            path: self.path.clone(),
            detail: detail.into(),
        }
    }

    fn rocks(&self, source: rocksdb::Error) -> StorageError {
        StorageError::Rocks {
            path: self.path.clone(),
            source,
        }
    }

    fn check_meta(&mut self, me: &Identity) -> Result<(), StorageError> {
        match self.db.get(K_META).map_err(|e| self.rocks(e))? {
            Some(v) => {
                let text = String::from_utf8_lossy(&v);
                let found = Identity::parse(&text)
                    .ok_or_else(|| self.corrupt("metadata key m/meta is unreadable"))?;
                if found.version != me.version {
                    return Err(StorageError::UnsupportedVersion {
                        path: self.path.clone(),
                        found: found.version,
                        supported: FORMAT_VERSION,
                    });
                }
                Self::check_identity(&self.path, &found, me)
            }
            None => {
                let has_data = self.db.get(K_HS).map_err(|e| self.rocks(e))?.is_some()
                    || self.stored_snapshot_bytes()?.is_some()
                    || self.first_entry_key()?.is_some();
                if has_data {
                    return Err(self.corrupt("metadata key m/meta is missing"));
                }
                let mut wo = WriteOptions::default();
                wo.set_sync(true);
                let mut b = WriteBatch::default();
                b.put(K_META, me.render().as_bytes());
                self.db.write_opt(b, &wo).map_err(|e| self.rocks(e))
            }
        }
    }

    fn first_entry_key(&self) -> Result<Option<u64>, StorageError> {
        let mut it = self
            .db
            .iterator(IteratorMode::From(ENTRY_PREFIX, Direction::Forward));
        match it.next() {
            Some(Ok((k, _))) if k.starts_with(ENTRY_PREFIX) && k.len() == 10 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&k[2..]);
                Ok(Some(u64::from_be_bytes(b)))
            }
            Some(Ok(_)) | None => Ok(None),
            Some(Err(e)) => Err(self.rocks(e)),
        }
    }

    fn snap_cf(&self) -> Result<&ColumnFamily, StorageError> {
        self.db
            .cf_handle(SNAP_CF)
            .ok_or_else(|| self.corrupt(format!("column family {SNAP_CF} is missing")))
    }

    /// The encoded snapshot: from its column family, or where older
    /// directories kept it.
    fn stored_snapshot_bytes(&self) -> Result<Option<Vec<u8>>, StorageError> {
        if let Some(v) = self
            .db
            .get_cf(self.snap_cf()?, K_SNAP)
            .map_err(|e| self.rocks(e))?
        {
            return Ok(Some(v));
        }
        self.db.get(K_SNAP).map_err(|e| self.rocks(e))
    }

    fn load(&mut self) -> Result<(), StorageError> {
        if let Some(v) = self.db.get(K_HS).map_err(|e| self.rocks(e))? {
            self.hs = HardState::parse_from_bytes(&v)
                .map_err(|e| self.corrupt(format!("hard state: {e}")))?;
        }
        if let Some(v) = self.stored_snapshot_bytes()? {
            self.snapshot = metadata_only(
                Snapshot::parse_from_bytes(&v)
                    .map_err(|e| self.corrupt(format!("snapshot: {e}")))?,
            );
        }
        if let Some(v) = self.db.get(K_TRUNC).map_err(|e| self.rocks(e))? {
            if v.len() != 16 {
                return Err(self.corrupt("truncated state has the wrong length"));
            }
            let mut a = [0u8; 8];
            let mut b = [0u8; 8];
            a.copy_from_slice(&v[..8]);
            b.copy_from_slice(&v[8..]);
            self.truncated = (u64::from_be_bytes(a), u64::from_be_bytes(b));
        }
        let snap_index = self.snapshot.get_metadata().index;
        if self.truncated.0 > snap_index {
            return Err(self.corrupt(format!(
                "log truncated at {} beyond the snapshot at {}",
                self.truncated.0, snap_index
            )));
        }
        let start = self.truncated.0 + 1;
        let it = self
            .db
            .iterator(IteratorMode::From(&ekey(start), Direction::Forward));
        for (expect, item) in (start..).zip(it) {
            let (k, v) = item.map_err(|e| self.rocks(e))?;
            if !k.starts_with(ENTRY_PREFIX) {
                break;
            }
            let e = Entry::parse_from_bytes(&v)
                .map_err(|err| self.corrupt(format!("entry {expect}: {err}")))?;
            if k.as_ref() != ekey(expect).as_slice() || e.index != expect {
                return Err(self.corrupt(format!(
                    "log has a gap or misplaced entry: expected index {expect}, found {}",
                    e.index
                )));
            }
            self.terms.push_back(e.term);
        }
        if let Some(k) = self.first_entry_key()? {
            if k <= self.truncated.0 {
                return Err(self.corrupt(format!(
                    "entry {k} survives below the truncation point {}",
                    self.truncated.0
                )));
            }
        }
        if self.hs.commit > self.last() {
            return Err(self.corrupt(format!(
                "hard state commit {} is beyond the last log index {}",
                self.hs.commit,
                self.last()
            )));
        }
        Ok(())
    }

    fn first(&self) -> u64 {
        self.truncated.0 + 1
    }

    fn last(&self) -> u64 {
        self.truncated.0 + self.terms.len() as u64
    }

    fn term_of(&self, idx: u64) -> raft::Result<u64> {
        if idx == self.truncated.0 {
            return Ok(self.truncated.1);
        }
        if idx < self.truncated.0 {
            return Err(raft::Error::Store(RaftStorageError::Compacted));
        }
        if idx > self.last() {
            return Err(raft::Error::Store(RaftStorageError::Unavailable));
        }
        Ok(self.terms[(idx - self.first()) as usize])
    }

    /// The data directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn encode<M: protobuf::Message>(what: &'static str, m: &M) -> Result<Vec<u8>, StorageError> {
        m.write_to_bytes().map_err(|e| StorageError::Encode {
            what,
            detail: e.to_string(),
        })
    }
}

fn write_marker(dir: &Path, me: &Identity) -> Result<(), StorageError> {
    let tmp = dir.join(format!("{MARKER_FILE}.tmp"));
    let path = dir.join(MARKER_FILE);
    let mut f = fs::File::create(&tmp).map_err(|e| io_err(&tmp, e))?;
    f.write_all(me.render().as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| io_err(&tmp, e))?;
    fs::rename(&tmp, &path).map_err(|e| io_err(&path, e))?;
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err(dir, e))
}

fn other(e: impl std::error::Error + Send + Sync + 'static) -> raft::Error {
    raft::Error::Store(RaftStorageError::Other(Box::new(e)))
}

impl raft::Storage for RocksStorage {
    fn initial_state(&self) -> raft::Result<RaftState> {
        Ok(RaftState::new(
            self.hs.clone(),
            self.snapshot.get_metadata().get_conf_state().clone(),
        ))
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        if low < self.first() {
            return Err(raft::Error::Store(RaftStorageError::Compacted));
        }
        if high > self.last() + 1 || low > high {
            return Err(raft::Error::Store(RaftStorageError::Unavailable));
        }
        let max = max_size.into().unwrap_or(u64::MAX);
        if let Some(out) = self.cache.slice(low, high, max) {
            return Ok(out);
        }
        let mut ro = ReadOptions::default();
        ro.set_iterate_upper_bound(ekey(high).to_vec());
        let it = self
            .db
            .iterator_opt(IteratorMode::From(&ekey(low), Direction::Forward), ro);
        let mut out = Vec::with_capacity((high - low).min(1024) as usize);
        let mut size = 0u64;
        let mut expect = low;
        for item in it {
            let (_, v) = item.map_err(other)?;
            let e = Entry::parse_from_bytes(&v).map_err(other)?;
            if e.index != expect {
                return Err(raft::Error::Store(RaftStorageError::Unavailable));
            }
            size += u64::from(e.compute_size());
            if !out.is_empty() && size > max {
                return Ok(out);
            }
            out.push(e);
            expect += 1;
        }
        if expect != high {
            return Err(raft::Error::Store(RaftStorageError::Unavailable));
        }
        Ok(out)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        self.term_of(idx)
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(self.first())
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(self.last())
    }

    fn snapshot(&self, request_index: u64, to: u64) -> raft::Result<Snapshot> {
        if snapshot_serves(&self.snapshot, request_index, to) {
            self.load_snapshot()
                .map_err(|e| raft::Error::Store(RaftStorageError::Other(Box::new(e))))
        } else {
            self.snapshot_requested.set(true);
            Err(raft::Error::Store(
                RaftStorageError::SnapshotTemporarilyUnavailable,
            ))
        }
    }
}

impl LogStore for RocksStorage {
    fn persist(
        &mut self,
        snapshot: Option<&Snapshot>,
        entries: &[Entry],
        hard_state: Option<&HardState>,
        sync: bool,
    ) -> Result<(), StorageError> {
        let mut b = WriteBatch::default();
        let mut truncated = self.truncated;
        let mut last = self.last();
        if let Some(snap) = snapshot {
            let m = snap.get_metadata();
            self.write_image(m.index, m.term, &mut |w| w.write_all(&snap.data))?;
            b.delete_range(ekey(0), ekey(u64::MAX));
            self.put_snapshot_meta(&mut b, m)?;
            truncated = (m.index, m.term);
            let mut t = [0u8; 16];
            t[..8].copy_from_slice(&m.index.to_be_bytes());
            t[8..].copy_from_slice(&m.term.to_be_bytes());
            b.put(K_TRUNC, t);
            last = m.index;
        }
        if let Some(first) = entries.first() {
            if first.index <= truncated.0 || first.index > last + 1 {
                return Err(self.corrupt(format!(
                    "append at {} outside [{}, {}]",
                    first.index,
                    truncated.0 + 1,
                    last + 1
                )));
            }
            if first.index <= last {
                b.delete_range(ekey(first.index), ekey(last + 1));
            }
            for e in entries {
                b.put(ekey(e.index), Self::encode("entry", e)?);
            }
        }
        if let Some(hs) = hard_state {
            b.put(K_HS, Self::encode("hard state", hs)?);
        }
        let mut wo = WriteOptions::default();
        wo.set_sync(sync);
        self.db.write_opt(b, &wo).map_err(|e| self.rocks(e))?;

        if let Some(snap) = snapshot {
            let mut kept = Snapshot::default();
            kept.set_metadata(snap.get_metadata().clone());
            self.snapshot = kept;
            self.truncated = truncated;
            self.terms.clear();
            self.cache.clear();
            self.remove_old_images();
        }
        if let Some(first) = entries.first() {
            let keep = (first.index - self.first()) as usize;
            self.terms.truncate(keep);
            self.terms.extend(entries.iter().map(|e| e.term));
            self.cache.append(entries);
        }
        if let Some(hs) = hard_state {
            self.hs = hs.clone();
        }
        Ok(())
    }

    fn save_snapshot(&mut self, snapshot: Snapshot, compact_to: u64) -> Result<(), StorageError> {
        let meta = snapshot.get_metadata().clone();
        self.store_snapshot(meta, &mut |w| w.write_all(&snapshot.data), compact_to)
    }

    fn save_snapshot_streamed(
        &mut self,
        meta: SnapshotMetadata,
        write: &mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>,
        compact_to: u64,
    ) -> Result<(), StorageError> {
        self.store_snapshot(meta, write, compact_to)
    }

    fn stage_snapshot_file(
        &mut self,
        index: u64,
        term: u64,
    ) -> Result<Option<PathBuf>, StorageError> {
        self.stage_file(index, term).map(Some)
    }

    fn install_snapshot_file(
        &mut self,
        meta: SnapshotMetadata,
        path: &Path,
        compact_to: u64,
    ) -> Result<bool, StorageError> {
        self.install_file(meta, path, compact_to)
    }

    fn discard_snapshot_file(&mut self, path: &Path) {
        self.discard_file(path);
    }

    fn stored_snapshot(&self) -> Snapshot {
        match self.load_snapshot() {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "reading the stored snapshot");
                self.snapshot.clone()
            }
        }
    }

    fn snapshot_index(&self) -> u64 {
        self.snapshot.get_metadata().index
    }

    fn hard_state(&self) -> HardState {
        self.hs.clone()
    }

    fn take_snapshot_request(&self) -> bool {
        self.snapshot_requested.replace(false)
    }
}

/// `snap` without its data (the metadata stays in memory).
fn metadata_only(mut snap: Snapshot) -> Snapshot {
    snap.data = Default::default();
    snap
}
