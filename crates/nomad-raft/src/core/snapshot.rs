//! When and how a node takes its snapshots.
//!
//! *When*, as hashicorp/raft (and so Nomad) does: a snapshot is considered every
//! `snapshot_interval` plus a random jitter of up to that interval, and taken then if at least
//! `snapshot_threshold` entries were applied since the last one. A snapshot raft asks for, to
//! send to a follower the stored one cannot serve, is taken at once (at most once per heartbeat
//! interval).
//!
//! *How*: when the state machine gives a point-in-time [`SnapshotWriter`] and the store gives a
//! staged file (and the node loop gave a [`SnapshotSink`]), the metadata (index, term, conf
//! state, compaction point) and the address book are recorded at once and the image is written
//! into the staged file by a thread of its own, while the node goes on; the thread reports to
//! the node loop, which installs the file ([`LogStore::install_snapshot_file`]) unless a newer
//! snapshot was stored meanwhile. One is written at a time. A failed write is logged and
//! dropped; the next check tries again. Otherwise (the simulator, a state machine without a
//! writer) the snapshot is written on the node thread, as raft's Ready handling pauses.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use raft::eraftpb::SnapshotMetadata;

use super::{Core, Rng};
use crate::config::Config;
use crate::error::{RaftError, StorageError};
use crate::fsm::{SnapshotWriter, StateMachine};
use crate::storage::{write_file_synced, write_image_header, LogStore};

/// What a background snapshot writer reports to the node loop.
pub(crate) struct SnapshotWritten {
    index: u64,
    path: PathBuf,
    result: std::io::Result<()>,
    elapsed: Duration,
}

/// Hands a finished background write to the node loop, which gives it to
/// [`Core::snapshot_written`]. Called on the writer's thread.
pub(crate) type SnapshotSink = Arc<dyn Fn(SnapshotWritten) + Send + Sync>;

/// A snapshot being written on another thread.
struct InFlight {
    meta: SnapshotMetadata,
    compact_to: u64,
    path: PathBuf,
}

/// The snapshot part of a [`Core`]'s state.
pub(super) struct Snapshots {
    /// Tick of the next periodic check.
    next_check: u64,
    /// Draws the jitter (apart from the core's generator, which times elections).
    rng: Rng,
    sink: Option<SnapshotSink>,
    in_flight: Option<InFlight>,
    /// A background write that finished, to install at the next Ready handling.
    written: Option<SnapshotWritten>,
    /// When the last snapshot raft asked for was taken.
    last_request: Option<u64>,
    /// Snapshots taken (and installed) by this node.
    pub(super) taken: u64,
}

impl Snapshots {
    pub(super) fn new(cfg: &Config, seed: u64) -> Snapshots {
        let mut s = Snapshots {
            next_check: 0,
            rng: Rng::new(seed ^ 0x736e_6170_7368_6f74),
            sink: None,
            in_flight: None,
            written: None,
            last_request: None,
            taken: 0,
        };
        s.schedule(0, cfg);
        s
    }

    /// The next check: one interval plus a jitter of up to one interval from `now`.
    fn schedule(&mut self, now: u64, cfg: &Config) {
        let ticks = cfg.snapshot_interval_ticks();
        self.next_check = now + ticks + self.rng.below(ticks);
    }
}

impl<S: LogStore, F: StateMachine> Core<S, F> {
    /// Lets snapshots be written in the background: `sink` brings finished writes back to
    /// the node loop. Without one, every snapshot is written on the node thread.
    pub(crate) fn set_snapshot_sink(&mut self, sink: SnapshotSink) {
        self.snap.sink = Some(sink);
    }

    /// A background snapshot write finished; it is installed at the next `handle_ready`.
    pub(crate) fn snapshot_written(&mut self, w: SnapshotWritten) {
        self.snap.written = Some(w);
    }

    /// Whether a check is due or a written snapshot waits to be installed.
    pub(super) fn snapshot_has_work(&self) -> bool {
        self.snap.written.is_some() || self.now >= self.snap.next_check
    }

    /// Installs a finished background snapshot, then takes a snapshot when a periodic check
    /// finds enough entries applied since the last one, or when raft asked for one to send to
    /// a follower that the stored snapshot cannot serve.
    pub(super) fn maybe_snapshot(&mut self) -> Result<(), RaftError> {
        if let Some(w) = self.snap.written.take() {
            self.finish_background(w)?;
        }
        let requested = self.node.store().take_snapshot_request();
        let check = self.now >= self.snap.next_check;
        if check {
            self.snap.schedule(self.now, &self.cfg);
        }
        let snap_index = self.node.store().snapshot_index();
        if self.applied <= snap_index {
            return Ok(());
        }
        let due = check && self.applied - snap_index >= self.cfg.snapshot_threshold;
        let rate_ok = self
            .snap
            .last_request
            .is_none_or(|t| self.now >= t + self.cfg.heartbeat_ticks as u64);
        if !(due || (requested && rate_ok)) {
            return Ok(());
        }
        if self.snap.in_flight.is_some() {
            // One at a time. A follower waiting for a snapshot gets the one being written if
            // it serves; if not, raft asks again once it is installed.
            return Ok(());
        }
        if requested {
            self.snap.last_request = Some(self.now);
        }
        self.take_snapshot()
    }

    fn take_snapshot(&mut self) -> Result<(), RaftError> {
        let index = self.applied;
        let term = self
            .node
            .store()
            .term(index)
            .map_err(|e| StorageError::Corrupt {
                path: "<log>".into(),
                detail: format!("term of applied index {index}: {e}"),
            })?;
        let mut meta = SnapshotMetadata {
            index,
            term,
            ..Default::default()
        };
        meta.set_conf_state(self.node.raft.prs().conf().to_conf_state());
        let compact_to = index.saturating_sub(self.cfg.trailing_logs) + 1;
        if self.snap.sink.is_some() {
            if let Some(path) = self.node.mut_store().stage_snapshot_file(index, term)? {
                match self.fsm.snapshot_writer() {
                    Some(writer) => {
                        self.start_background(meta, compact_to, path, writer);
                        return Ok(());
                    }
                    None => self.node.mut_store().discard_snapshot_file(&path),
                }
            }
        }
        // On this thread, streamed: the image goes from the state machine to the store's
        // snapshot file without being built in memory.
        let started = Instant::now();
        let (peers, fsm) = (&self.peers, &self.fsm);
        let mut write = |w: &mut dyn std::io::Write| {
            write_image_header(peers, w)?;
            fsm.write_snapshot(w)
        };
        self.node
            .mut_store()
            .save_snapshot_streamed(meta, &mut write, compact_to)?;
        self.snap.taken += 1;
        tracing::info!(
            node = self.id,
            index,
            term,
            compact_to,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "took snapshot"
        );
        Ok(())
    }

    /// Writes the image of `meta` (the address book now, then `writer`'s state) into the
    /// staged file `path` on a thread of its own.
    fn start_background(
        &mut self,
        meta: SnapshotMetadata,
        compact_to: u64,
        path: PathBuf,
        writer: SnapshotWriter,
    ) {
        let Some(sink) = self.snap.sink.clone() else {
            self.node.mut_store().discard_snapshot_file(&path);
            return;
        };
        let (node, index) = (self.id, meta.index);
        let peers = self.peers.clone();
        let file = path.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("raft-snapshot-{node}"))
            .spawn(move || {
                let started = Instant::now();
                let mut writer = Some(writer);
                let result = write_file_synced(&file, &mut |w| {
                    write_image_header(&peers, w)?;
                    match writer.take() {
                        Some(write) => write(w),
                        None => Err(std::io::Error::other("snapshot writer called twice")),
                    }
                });
                sink(SnapshotWritten {
                    index,
                    path: file,
                    result,
                    elapsed: started.elapsed(),
                });
            });
        match spawned {
            Ok(_) => {
                tracing::debug!(node, index, term = meta.term, path = %path.display(), "writing a snapshot in the background");
                self.snap.in_flight = Some(InFlight {
                    meta,
                    compact_to,
                    path,
                });
            }
            Err(e) => {
                tracing::error!(node, index, error = %e, "cannot start a snapshot writer thread; the next check tries again");
                self.node.mut_store().discard_snapshot_file(&path);
            }
        }
    }

    /// Installs a snapshot written in the background, unless the write failed or the store
    /// moved past it meanwhile (a newer snapshot from the leader).
    fn finish_background(&mut self, w: SnapshotWritten) -> Result<(), RaftError> {
        let node = self.id;
        let index = w.index;
        let in_flight = self.snap.in_flight.take();
        let Some(f) = in_flight.filter(|f| f.path == w.path) else {
            tracing::warn!(node, index, "a snapshot write nobody waits for; discarded");
            self.node.mut_store().discard_snapshot_file(&w.path);
            return Ok(());
        };
        if let Err(e) = w.result {
            tracing::error!(node, index, path = %f.path.display(), error = %e, "writing a snapshot in the background failed; the next check tries again");
            self.node.mut_store().discard_snapshot_file(&f.path);
            return Ok(());
        }
        let store = self.node.store();
        let stored = store.snapshot_index();
        let same_log = store.term(index).is_ok_and(|t| t == f.meta.term);
        if index <= stored || !same_log {
            tracing::debug!(
                node,
                index,
                stored,
                "a newer snapshot was stored while this one was written; discarded"
            );
            self.node.mut_store().discard_snapshot_file(&f.path);
            return Ok(());
        }
        let term = f.meta.term;
        let compact_to = f.compact_to;
        if self
            .node
            .mut_store()
            .install_snapshot_file(f.meta, &f.path, compact_to)?
        {
            self.snap.taken += 1;
            tracing::info!(
                node,
                index,
                term,
                compact_to,
                elapsed_ms = w.elapsed.as_millis() as u64,
                "took snapshot (written in the background)"
            );
        }
        Ok(())
    }
}
