//! The writable store owned by the FSM, the read handle everyone else
//! holds, and the trait the consensus layer drives.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex, RwLock};

use crate::command::Command;
use crate::digest::StateDigest;
use crate::error::{ApplyError, RestoreError};
use crate::events::buffer::EventRing;
use crate::events::{
    events_from_writes, Event, EventSubscription, EventType, DEFAULT_EVENT_BUFFER_SIZE,
};
use crate::fsm::{ApplyResult, StoreConfig, Txn};
use crate::persist;
use crate::snapshot::StateSnapshot;
use crate::table::{Table, TableSet};
use crate::tables::Tables;
use crate::watch::{Notifier, WaitFor};

/// What the consensus layer needs from a state machine.
///
/// Apply must be deterministic: the same entries applied in the same order
/// to the same starting state give the same state (compare
/// [`StateStore::digest`]s) and the same results, on every server.
pub trait Fsm: Send {
    /// Applies the committed entry at `index` and returns the encoded
    /// [`ApplyResult`]. Never panics: bytes that are not an entry, or an
    /// entry the state refuses, give a result carrying the error, and the
    /// state is unchanged except for its applied index.
    fn apply(&mut self, index: u64, data: &[u8]) -> Vec<u8>;

    /// The whole state, encoded (see [`StateStore::write_snapshot`]).
    fn snapshot(&self) -> Vec<u8>;

    /// Replaces the whole state with a decoded snapshot. On error the
    /// state is unchanged.
    fn restore(&mut self, data: &[u8]) -> Result<(), RestoreError>;

    /// Raft index of the last entry applied (or restored).
    fn applied_index(&self) -> u64;
}

/// One committed log entry for [`StateStore::apply_batch`].
pub struct LogEntry<'a> {
    /// Its Raft index.
    pub index: u64,
    /// Its bytes ([`Command::encode`]).
    pub data: &'a [u8],
    /// The command `data` encodes, when the caller has it (then `data` is
    /// not decoded).
    pub decoded: Option<Command>,
}

/// What applied entries changed and have not been published yet.
#[derive(Default)]
struct Unpublished {
    /// Something was applied (if only an index).
    any: bool,
    changed: TableSet,
    /// Each entry's events, with its index.
    events: Vec<(u64, Vec<Event>)>,
}

impl Unpublished {
    /// Only the applied index moved.
    fn index_only() -> Self {
        Unpublished {
            any: true,
            ..Unpublished::default()
        }
    }

    fn all_tables() -> Self {
        Unpublished {
            any: true,
            changed: Table::ALL.into_iter().collect(),
            events: Vec::new(),
        }
    }

    fn add(&mut self, index: u64, r: &ApplyResult, events: Vec<Event>) {
        self.any = true;
        for t in &r.changed {
            self.changed.insert(*t);
        }
        if !events.is_empty() {
            self.events.push((index, events));
        }
    }
}

struct Shared {
    current: RwLock<StateSnapshot>,
    notifier: Arc<Notifier>,
    /// Recent events (not part of the state; see [`crate::events`]).
    events: Arc<Mutex<EventRing>>,
}

/// The current state, owned by the FSM: the one writer of cluster state.
///
/// Every applied entry is published at once as a new [`StateSnapshot`] to
/// [`StateReader`]s, and the tables it changed wake the blocking queries
/// waiting on them. The events it produced (see [`crate::events`]) are
/// appended to a bounded buffer first, for
/// [`StateReader::subscribe_events`].
pub struct StateStore {
    tables: Tables,
    config: StoreConfig,
    /// Events kept (0: none are made).
    event_limit: usize,
    shared: Arc<Shared>,
}

impl Default for StateStore {
    fn default() -> Self {
        StateStore::new(StoreConfig::default())
    }
}

impl std::fmt::Debug for StateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateStore")
            .field("applied_index", &self.tables.applied_index)
            .field("config", &self.config)
            .field("event_limit", &self.event_limit)
            .finish()
    }
}

impl StateStore {
    /// An empty store, keeping the last [`DEFAULT_EVENT_BUFFER_SIZE`]
    /// events.
    pub fn new(config: StoreConfig) -> Self {
        let tables = Tables::default();
        let shared = Arc::new(Shared {
            current: RwLock::new(StateSnapshot::new(tables.clone())),
            notifier: Arc::new(Notifier::default()),
            events: Arc::new(Mutex::new(EventRing::new(DEFAULT_EVENT_BUFFER_SIZE))),
        });
        StateStore {
            tables,
            config,
            event_limit: DEFAULT_EVENT_BUFFER_SIZE,
            shared,
        }
    }

    /// Keeps the last `max_events` events for subscribers (the batch of the
    /// newest entry is kept whole, however large); 0 makes no events at
    /// all. A local setting: servers may differ, the state does not.
    pub fn with_event_buffer(mut self, max_events: usize) -> Self {
        self.set_event_buffer(max_events);
        self
    }

    /// See [`StateStore::with_event_buffer`].
    pub fn set_event_buffer(&mut self, max_events: usize) {
        self.event_limit = max_events;
        self.shared
            .events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .set_max_events(max_events);
    }

    /// The number of events kept (0: events are off).
    pub fn event_buffer(&self) -> usize {
        self.event_limit
    }

    /// The FSM settings.
    pub fn config(&self) -> StoreConfig {
        self.config
    }

    /// A handle for readers (schedulers, RPC, HTTP): snapshots and watches.
    pub fn reader(&self) -> StateReader {
        StateReader {
            shared: Arc::clone(&self.shared),
        }
    }

    /// The current state (O(1)).
    pub fn snapshot(&self) -> StateSnapshot {
        StateSnapshot::new(self.tables.clone())
    }

    /// Raft index of the last entry applied.
    pub fn applied_index(&self) -> u64 {
        self.tables.applied_index
    }

    /// Applies one decoded entry.
    pub fn apply(&mut self, index: u64, cmd: Command) -> ApplyResult {
        let mut out = self.apply_batch(vec![LogEntry {
            index,
            data: &[],
            decoded: Some(cmd),
        }]);
        out.pop().unwrap_or_else(|| ApplyResult {
            index,
            ..ApplyResult::default()
        })
    }

    /// Applies consecutive committed entries, in order, and publishes the
    /// state once, at the end: the same state, results and events as
    /// applying them one at a time, but a B-tree node copied on write by
    /// one entry is not copied again by the next (each published snapshot
    /// shares, and so freezes, every node).
    ///
    /// An entry that fails leaves no trace but its applied index: the
    /// state goes back to where the run started and the entries before the
    /// failed one are applied again, from their bytes (`data` must encode
    /// `decoded` wherever both are given, and an entry given only in
    /// decoded form must come first).
    pub fn apply_batch(&mut self, mut entries: Vec<LogEntry<'_>>) -> Vec<ApplyResult> {
        let mut out = Vec::with_capacity(entries.len());
        let mut pending = Unpublished::default();
        // The state the current run started from, and the run's first entry.
        let mut base = self.tables.clone();
        let mut since = 0;
        for i in 0..entries.len() {
            let index = entries[i].index;
            let applied = self.tables.applied_index;
            if index <= applied {
                out.push(ApplyResult::failed(
                    index,
                    ApplyError::Stale { index, applied },
                ));
                continue;
            }
            let cmd = match entries[i].decoded.take() {
                Some(cmd) => cmd,
                None => match Command::decode(entries[i].data) {
                    Ok(cmd) => cmd,
                    Err(e) => {
                        self.tables.applied_index = index;
                        pending.any = true;
                        out.push(ApplyResult::failed(
                            index,
                            ApplyError::Decode(e.to_string()),
                        ));
                        continue;
                    }
                },
            };
            if let Command::Restore(r) = &cmd {
                self.publish(std::mem::take(&mut pending));
                out.push(self.apply_restore(index, r));
                base = self.tables.clone();
                since = i + 1;
                continue;
            }
            match self.apply_unpublished(index, cmd) {
                Ok((result, events)) => {
                    pending.add(index, &result, events);
                    out.push(result);
                }
                Err(e) => {
                    self.tables = base;
                    for earlier in &entries[since..i] {
                        self.replay(earlier);
                    }
                    self.tables.applied_index = index;
                    pending.any = true;
                    out.push(ApplyResult::failed(index, e));
                    base = self.tables.clone();
                    since = i + 1;
                }
            }
        }
        self.publish(pending);
        out
    }

    /// Applies one entry to the tables without publishing: its result and
    /// events, or its error (the tables then hold its partial writes).
    fn apply_unpublished(
        &mut self,
        index: u64,
        cmd: Command,
    ) -> Result<(ApplyResult, Vec<Event>), ApplyError> {
        let event_type = if self.event_limit > 0 {
            EventType::of(&cmd)
        } else {
            None
        };
        let mut txn = Txn::new(&mut self.tables, index, self.config);
        txn.record = event_type.is_some();
        txn.apply(cmd)?;
        let written = std::mem::take(&mut txn.written);
        let result = txn.commit();
        let events = event_type
            .map(|t| events_from_writes(t, &written))
            .unwrap_or_default();
        Ok((result, events))
    }

    /// Applies again, from its bytes, an entry of the current run that was
    /// applied before (its results and events were kept then). Apply is
    /// deterministic, so it does what it did the first time.
    fn replay(&mut self, e: &LogEntry<'_>) {
        if e.index <= self.tables.applied_index {
            return;
        }
        match Command::decode(e.data) {
            Ok(cmd) => {
                let again = self.apply_unpublished(e.index, cmd);
                debug_assert!(again.is_ok(), "entry {} failed when applied again", e.index);
            }
            Err(_) => self.tables.applied_index = e.index,
        }
    }

    /// `Command::Restore`: the image replaces every table; every table's
    /// index becomes `index`, so blocking queries wake and indexes never go
    /// backwards. A bad image changes nothing but the applied index.
    fn apply_restore(&mut self, index: u64, r: &crate::command::StateRestore) -> ApplyResult {
        use base64::Engine as _;
        let restored = base64::engine::general_purpose::STANDARD
            .decode(r.image.as_bytes())
            .map_err(|e| ApplyError::Decode(format!("snapshot image: {e}")))
            .and_then(|bytes| {
                persist::read(bytes.as_slice())
                    .map_err(|e| ApplyError::Decode(format!("snapshot image: {e}")))
            });
        match restored {
            Ok(mut tables) => {
                tables.applied_index = index;
                for t in Table::ALL {
                    tables.indexes.set(t, index);
                }
                self.tables = tables;
                self.reset_events();
                self.publish(Unpublished::all_tables());
                ApplyResult {
                    index,
                    ..ApplyResult::default()
                }
            }
            Err(e) => {
                self.tables.applied_index = index;
                self.publish(Unpublished::index_only());
                ApplyResult::failed(index, e)
            }
        }
    }

    /// Decodes and applies one entry.
    pub fn apply_bytes(&mut self, index: u64, data: &[u8]) -> ApplyResult {
        let mut out = self.apply_batch(vec![LogEntry {
            index,
            data,
            decoded: None,
        }]);
        out.pop().unwrap_or_else(|| ApplyResult {
            index,
            ..ApplyResult::default()
        })
    }

    /// Publishes the state: the entries' events first, then the snapshot,
    /// then the indexes that wake waiters (so a woken subscriber finds the
    /// events and a woken query the state). Nothing to publish: nothing
    /// happens.
    fn publish(&self, p: Unpublished) {
        if !p.any {
            return;
        }
        {
            let mut ring = self.shared.events.lock().unwrap_or_else(|e| e.into_inner());
            for (index, events) in p.events {
                ring.append(index, events);
            }
            ring.append(self.tables.applied_index, Vec::new());
        }
        let changed = p.changed;
        let snap = StateSnapshot::new(self.tables.clone());
        {
            let mut cur = self
                .shared
                .current
                .write()
                .unwrap_or_else(|e| e.into_inner());
            *cur = snap;
        }
        self.shared
            .notifier
            .publish(self.tables.indexes, self.tables.applied_index, changed);
    }

    /// Writes the whole state (see [`persist`](crate::persist) for the
    /// format) without copying it first.
    pub fn write_snapshot<W: Write>(&self, w: W) -> std::io::Result<()> {
        persist::write(&self.tables, w)
    }

    /// Replaces the whole state with a snapshot read from `r`.
    pub fn restore_from<R: Read>(&mut self, r: R) -> Result<(), RestoreError> {
        let tables = persist::read(r)?;
        self.tables = tables;
        self.reset_events();
        self.publish(Unpublished::all_tables());
        Ok(())
    }

    /// The state was replaced: the buffered events describe a state that
    /// is gone, and every subscription ends.
    fn reset_events(&self) {
        self.shared
            .events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .reset(self.tables.applied_index);
    }

    /// A digest of every table, for comparing servers.
    pub fn digest(&self) -> StateDigest {
        crate::digest::digest(&self.tables)
    }
}

impl Fsm for StateStore {
    fn apply(&mut self, index: u64, data: &[u8]) -> Vec<u8> {
        self.apply_bytes(index, data).encode()
    }

    fn snapshot(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Writing into a Vec cannot fail.
        let _ = self.write_snapshot(&mut out);
        out
    }

    fn restore(&mut self, data: &[u8]) -> Result<(), RestoreError> {
        self.restore_from(data)
    }

    fn applied_index(&self) -> u64 {
        self.tables.applied_index
    }
}

/// A cheap, cloneable, thread-safe handle on the published state.
#[derive(Clone)]
pub struct StateReader {
    shared: Arc<Shared>,
}

impl StateReader {
    /// The latest published state (O(1)).
    pub fn snapshot(&self) -> StateSnapshot {
        self.shared
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A future resolving once one of `tables` has an index greater than
    /// `index`, with that index. Take the snapshot first, then wait past the
    /// index it reported: a write landing in between is not missed.
    pub fn wait_past(&self, tables: &[Table], index: u64) -> WaitFor {
        WaitFor::tables_past(Arc::clone(&self.shared.notifier), tables, index)
    }

    /// A future resolving once the applied index reaches `index` (Nomad's
    /// `SnapshotMinIndex`).
    pub fn wait_applied(&self, index: u64) -> WaitFor {
        WaitFor::applied(Arc::clone(&self.shared.notifier), index)
    }

    /// The published indexes and registered waiters.
    pub fn notifier(&self) -> &Notifier {
        &self.shared.notifier
    }

    /// Reads the event buffer from the entry at index `from` on (0: from
    /// the oldest event held); see [`EventSubscription`].
    pub fn subscribe_events(&self, from: u64) -> EventSubscription {
        EventSubscription::new(
            Arc::clone(&self.shared.events),
            Arc::clone(&self.shared.notifier),
            from,
        )
    }
}

impl StateSnapshot {
    /// Encodes this snapshot (the same bytes [`Fsm::snapshot`] gives at
    /// this index); lets a caller capture the state in O(1) on the apply
    /// thread and encode it elsewhere.
    pub fn write_to<W: Write>(&self, w: W) -> std::io::Result<()> {
        persist::write(&self.t, w)
    }

    /// A digest of every table.
    pub fn digest(&self) -> StateDigest {
        crate::digest::digest(&self.t)
    }
}
