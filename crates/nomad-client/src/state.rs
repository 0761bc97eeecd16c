//! The client's local state, so that a restarted agent keeps its node
//! identity and re-attaches to its running tasks.
//!
//! Layout under the state dir:
//!
//! ```text
//! node.json            node ID and SecretID
//! allocs/<id>.json     one AllocRecord per allocation
//! ```
//!
//! Why files and not an embedded database: each allocation is written as a
//! whole by the one runner that owns it, records are small (the alloc with
//! its job, a few task states and handles), there are at most a few
//! hundred, and they are only read in full at start-up. One JSON file per
//! allocation written atomically (temp file, `fsync`, `rename`, `fsync` of
//! the directory) gives crash safety without a dependency, keeps
//! allocations independent (a torn or corrupt file loses one allocation,
//! not the store) and can be inspected with `cat`. Writes that recovery
//! depends on (task handles, terminal states) are synced; event-only
//! updates skip the `fsync` but are still atomic against a crash of the
//! agent itself.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use nomad_driver::executor::ProcRef;
use nomad_driver::TaskHandle;
use nomad_types::{Allocation, TaskState};
use serde::{Deserialize, Serialize};

use crate::error::{ClientError, Context};

/// The node's persisted identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeIdentity {
    /// Node ID (UUID).
    pub id: String,
    /// Secret ID (UUID).
    pub secret_id: String,
}

/// What the client keeps about one task.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskRecord {
    /// The task state reported to the servers.
    pub state: TaskState,
    /// The driver handle of the current run, while it may be running.
    pub handle: Option<TaskHandle>,
    /// The process holding the task's log FIFOs open while no client
    /// reads them.
    pub log_keeper: Option<ProcRef>,
}

/// What the client keeps about one allocation.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AllocRecord {
    /// The allocation as the servers last sent it.
    pub alloc: Allocation,
    /// Client status computed from the tasks.
    pub client_status: String,
    /// Its description.
    pub client_description: String,
    /// Tasks by name.
    pub tasks: BTreeMap<String, TaskRecord>,
    /// Unix nanoseconds when the allocation became terminal on this client
    /// (0 while it runs); orders garbage collection.
    pub terminal_at: i64,
    /// Deployment health this client decided (see [`crate::health`]),
    /// sent with every update of the allocation.
    pub health: Option<crate::health::DecidedHealth>,
}

/// The on-disk store.
#[derive(Debug, Clone)]
pub struct StateStore {
    dir: PathBuf,
}

impl StateStore {
    /// Opens (creating) the store in `dir`.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, ClientError> {
        let dir = dir.into();
        fs::create_dir_all(dir.join("allocs"))
            .ctx(|| format!("creating state dir {}", dir.display()))?;
        Ok(StateStore { dir })
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The node identity, created and saved on first use.
    pub fn node_identity(&self) -> Result<NodeIdentity, ClientError> {
        let path = self.dir.join("node.json");
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| ClientError::State(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let id = NodeIdentity {
                    id: uuid::Uuid::new_v4().to_string(),
                    secret_id: uuid::Uuid::new_v4().to_string(),
                };
                write_json(&path, &id, true)?;
                Ok(id)
            }
            Err(e) => Err(ClientError::io(format!("reading {}", path.display()), e)),
        }
    }

    fn alloc_path(&self, id: &str) -> Result<PathBuf, ClientError> {
        if id.is_empty() || id.contains(['/', '\\']) || id.starts_with('.') {
            return Err(ClientError::State(format!("bad allocation id {id:?}")));
        }
        Ok(self.dir.join("allocs").join(format!("{id}.json")))
    }

    /// Saves an allocation record; `durable` waits for the disk.
    pub fn put_alloc(&self, rec: &AllocRecord, durable: bool) -> Result<(), ClientError> {
        self.write_alloc(&rec.alloc.id, &encode_record(rec)?, durable)
    }

    /// Saves a record encoded by [`encode_record`] for allocation `id`.
    pub fn write_alloc(&self, id: &str, bytes: &[u8], durable: bool) -> Result<(), ClientError> {
        write_atomic(&self.alloc_path(id)?, bytes, durable)
    }

    /// Makes the record of `id` as written last durable (`fsync` of the
    /// file and of its directory).
    pub fn sync_alloc(&self, id: &str) -> Result<(), ClientError> {
        let path = self.alloc_path(id)?;
        File::open(&path)
            .and_then(|f| f.sync_all())
            .ctx(|| format!("syncing {}", path.display()))?;
        if let Some(parent) = path.parent() {
            if let Ok(d) = File::open(parent) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }

    /// Removes an allocation record.
    pub fn delete_alloc(&self, id: &str) -> Result<(), ClientError> {
        match fs::remove_file(self.alloc_path(id)?) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(ClientError::io(format!("removing state of {id}"), e)),
        }
    }

    /// Every allocation record. A record that cannot be read is reported
    /// in the second list and skipped.
    pub fn load_allocs(&self) -> Result<(Vec<AllocRecord>, Vec<String>), ClientError> {
        let dir = self.dir.join("allocs");
        let mut recs = Vec::new();
        let mut bad = Vec::new();
        for entry in fs::read_dir(&dir).ctx(|| format!("reading {}", dir.display()))? {
            let entry = entry.ctx(|| format!("reading {}", dir.display()))?;
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            match fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice::<AllocRecord>(&b).map_err(|e| e.to_string()))
            {
                Ok(r) => recs.push(r),
                Err(e) => bad.push(format!("{}: {e}", path.display())),
            }
        }
        Ok((recs, bad))
    }
}

/// An allocation record as [`StateStore::write_alloc`] stores it.
pub fn encode_record(rec: &AllocRecord) -> Result<Vec<u8>, ClientError> {
    serde_json::to_vec(rec)
        .map_err(|e| ClientError::State(format!("encoding allocation {}: {e}", rec.alloc.id)))
}

/// Writes `value` as JSON to `path` atomically: a temp file in the same
/// directory, `fsync` when `durable`, `rename`, then `fsync` of the
/// directory when `durable`.
pub fn write_json<T: Serialize>(path: &Path, value: &T, durable: bool) -> Result<(), ClientError> {
    let bytes = serde_json::to_vec(value)
        .map_err(|e| ClientError::State(format!("encoding {}: {e}", path.display())))?;
    write_atomic(path, &bytes, durable)
}

/// Writes bytes to `path` atomically (see [`write_json`]).
pub fn write_atomic(path: &Path, bytes: &[u8], durable: bool) -> Result<(), ClientError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .ctx(|| format!("creating {}", tmp.display()))?;
        f.write_all(bytes)
            .ctx(|| format!("writing {}", tmp.display()))?;
        if durable {
            f.sync_all().ctx(|| format!("syncing {}", tmp.display()))?;
        }
    }
    fs::rename(&tmp, path).ctx(|| format!("renaming {} into place", tmp.display()))?;
    if durable {
        if let Some(parent) = path.parent() {
            if let Ok(d) = File::open(parent) {
                let _ = d.sync_all();
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_is_stable_and_records_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let s = StateStore::open(dir.path()).unwrap();
        let a = s.node_identity().unwrap();
        let b = StateStore::open(dir.path())
            .unwrap()
            .node_identity()
            .unwrap();
        assert_eq!(a, b);
        assert_eq!(a.id.len(), 36);
        assert_ne!(a.id, a.secret_id);

        let mut rec = AllocRecord::default();
        rec.alloc.id = "a1".into();
        rec.client_status = "running".into();
        s.put_alloc(&rec, true).unwrap();
        std::fs::write(dir.path().join("allocs/broken.json"), b"{nope").unwrap();
        let (recs, bad) = s.load_allocs().unwrap();
        assert_eq!(recs, vec![rec]);
        assert_eq!(bad.len(), 1);
        s.delete_alloc("a1").unwrap();
        assert!(s.put_alloc(&AllocRecord::default(), false).is_err());
        assert!(s.delete_alloc("../x").is_err());
    }
}
