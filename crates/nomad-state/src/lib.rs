//! Nomad's state store and the deterministic state machine that writes it.
//!
//! This crate owns:
//!
//! * the tables of cluster state — jobs (with their recent versions), job
//!   summaries, nodes, allocations, evaluations, deployments, periodic
//!   launches, scaling events and the scheduler configuration — and the
//!   indexes schedulers and the API read them by (allocations by node,
//!   job, evaluation and deployment; evaluations and deployments by job;
//!   nodes by pool; ID prefixes), with a modify index per table and per
//!   object;
//! * [`StateSnapshot`]s: immutable views that cost O(1) to take and to
//!   clone, for scheduler workers and reads;
//! * watches ([`StateReader::wait_past`]) that wake a blocking query when a
//!   table it read passes an index;
//! * the log entries ([`Command`]) and the FSM that applies them
//!   ([`StateStore::apply`], and the [`Fsm`] trait the consensus layer
//!   drives), deterministically: no clock, random number or new ID inside
//!   apply — those travel in the entry;
//! * encoding and restoring the whole state in a versioned format
//!   ([`Fsm::snapshot`], [`Fsm::restore`]) and a [`StateDigest`] to
//!   compare servers;
//! * the event stream's source ([`events`]): each applied entry yields
//!   Nomad's events, one per job, evaluation, allocation, deployment or
//!   node it wrote, typed by the entry (`JobRegistered`, `PlanResult`,
//!   `NodeDrain`, …). They are kept in a bounded buffer beside the state
//!   (not in it: snapshots and digests ignore them; see
//!   [`StateStore::with_event_buffer`]) and read through
//!   [`StateReader::subscribe_events`], which never holds up apply;
//! * the scheduler's read interface, `nomad_scheduler::State`, implemented
//!   for [`StateSnapshot`].
//!
//! Invariant: every change to cluster state is a log entry applied by this
//! one FSM; nothing else writes the state store. The index an entry
//! reports ([`ApplyResult::index`], a job's `JobModifyIndex`, a table's
//! index) is the Raft index at which the change became true.
//!
//! This crate must not depend on the consensus layer (raft), the network or
//! an async runtime: its watches are plain `std` futures that any executor
//! can drive, or that [`WaitFor::blocking`] drives on the calling thread.
//!
//! # Why persistent maps
//!
//! Tables are `imbl` ordered maps and sets (a maintained fork of `im`):
//! B-trees whose nodes are shared through `Arc`, so cloning the root struct
//! of maps *is* taking a snapshot — O(1), no copy — and a later write
//! copies only the O(log n) nodes on its path. Objects are stored as
//! `Arc<T>` and indexes hold `Arc`s, never copies; allocations share their
//! job (one copy per job version, restored as such from snapshots).
//! Secondary indexes group members in sorted `Arc<[Arc<T>]>` slices that
//! a reader borrows as is (the scheduler's `allocs_by_node` costs nothing)
//! and a write rebuilds once per log entry, however many members changed.
//! Alternatives considered: copying on snapshot (O(n) per scheduler
//! worker), `RwLock`ed mutable maps (readers would see writes mid-eval),
//! and an MVCC radix tree like go-memdb (more code for the same effect).
//!
//! # Formats
//!
//! Log entries and snapshots are JSON behind a small versioned binary
//! header (see [`command`] and [`persist`]): the shared types serialize for
//! Nomad's API with self-describing conventions (`null` for empty lists,
//! opaque JSON values) that compact binary serde formats cannot read back,
//! and JSON keeps entries inspectable. Log entries leave out struct fields
//! that hold zero values, which the decoder's defaults restore exactly
//! (`compact_json`; snapshots write every field). A plan entry costs about
//! 1.5 KiB per allocation (its job travels once per plan, not per
//! allocation).
//!
//! # Cost
//!
//! `cargo run --release -p nomad-state --example c1m` applies a million
//! allocations (1,000 jobs × 1,000 on 10,000 nodes) and reports apply
//! rate, memory, snapshot, digest and encode/restore times. What the store
//! adds per allocation — its entry in the ID table, four group slots and
//! the node's running usage — is about 120 bytes; the rest is the
//! `Allocation` value itself (`--objects-only` measures that alone), so
//! shrinking that type is what moves the C1M footprint.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod command;
mod compact_json;
mod digest;
mod error;
pub mod events;
mod fsm;
mod index;
pub mod persist;
#[cfg(feature = "scheduler")]
mod sched;
mod snapshot;
mod store;
mod table;
mod tables;
mod watch;

pub use command::Command;
pub use digest::StateDigest;
pub use error::{ApplyError, DecodeError, RestoreError};
pub use events::{
    Event, EventBatch, EventFilter, EventPayload, EventStreamError, EventSubscription, EventTopic,
    EventType,
};
pub use fsm::{ApplyResult, StoreConfig};
pub use snapshot::StateSnapshot;
pub use store::{Fsm, LogEntry, StateReader, StateStore};
pub use table::{Table, TableIndexes, TableSet};
pub use tables::{job_key, JobKey, JobScalingEvents, PeriodicLaunch, JOB_TRACKED_SCALING_EVENTS};
pub use watch::{Notifier, WaitFor};

// Snapshots and readers cross threads; the store moves to the FSM's thread.
const _: () = {
    const fn shared<T: Send + Sync>() {}
    const fn sendable<T: Send>() {}
    shared::<StateSnapshot>();
    shared::<StateReader>();
    shared::<WaitFor>();
    sendable::<EventSubscription>();
    sendable::<StateStore>();
};

impl StateSnapshot {
    /// Checks every secondary index against the primary tables (for tests
    /// and debugging; O(n)).
    pub fn check_indexes(&self) -> Result<(), String> {
        digest::verify(&self.t)
    }
}
