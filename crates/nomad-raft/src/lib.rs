//! Consensus for Nomad servers.
//!
//! Owns: a TiKV raft-rs [`RawNode`](raft::RawNode) driven by a dedicated thread; the Raft log,
//! hard state and snapshot metadata in RocksDB ([`RocksStorage`]; the newest 32 MiB of
//! entries also in memory; the snapshot image streamed from the state machine into a file of
//! its own, never built in memory whole, by a background thread when the state machine can
//! capture its state); the TCP transport between servers ([`TcpTransport`], with its own listener or
//! fed by another one through a [`RaftAcceptor`]); log compaction with state-machine snapshots and snapshot transfer;
//! membership changes; ReadIndex reads; forwarding of follower proposals to the leader;
//! leader and last-contact information for API headers; cluster formation helpers
//! ([`BootstrapExpect`]); and a deterministic simulator ([`sim`]) for tests.
//!
//! Must not depend on: the scheduler, HTTP, or the state store. The state machine plugs in
//! through [`StateMachine`]; `nomad-state` implements it.
//!
//! ```text
//! RaftHandle ──commands──► node thread: Core { RawNode<S: LogStore>, F: StateMachine }
//!                               ▲ inbox            │ outbound messages
//!                               └── Transport ◄────┘   (TcpTransport or the simulator)
//! ```
//!
//! How it fits together:
//!
//! * **One loop per node** ([`RaftNode::start`]) on a blocking thread: it ticks the logical
//!   clock, drains up to `max_batch` queued commands and messages, then handles the Ready.
//!   Proposals queued in one round go to raft as a single multi-entry `MsgPropose`, so one
//!   disk sync and one append message per follower cover the whole batch.
//! * **Durability order** (raft-rs's documented Ready handling): the leader's messages go out
//!   first; a received snapshot's image file is written and synced, then its metadata +
//!   entries + hard state are written in one RocksDB write batch, synced
//!   whenever raft says so (`must_sync`), *before* any message that depends on them (votes,
//!   append acknowledgements); then committed entries are applied (consecutive normal entries
//!   as one run, [`StateMachine::apply_batch`], their proposers answered after it) and the
//!   `LightReady` is handled the same way.
//! * **Requests** carry a context (node id, incarnation, sequence) in their log entry; the node
//!   that proposed it answers when it applies that entry, so a write forwarded by a follower
//!   resolves at the follower with its own FSM's result. A leader that sees a different entry
//!   land at the index its proposal had fails it with [`RaftError::Dropped`]. A proposer may
//!   attach its in-memory form of the entry ([`RaftHandle::propose_decoded`]); the same
//!   context lets this node give it to [`StateMachine::apply_decoded`] instead of decoding.
//! * **Snapshots** carry the FSM image plus the peer address book. As in hashicorp/raft (and so
//!   Nomad), the node considers one every `snapshot_interval` (120 s, plus a random jitter of
//!   up to the interval) and takes it then if `snapshot_threshold` (8192) entries were applied
//!   since the last, compacting the log down to `trailing_logs` entries behind it; a follower
//!   that needs a snapshot the stored one cannot serve (e.g. a server that joined later) gets
//!   one at once. When the state machine offers a point-in-time writer
//!   ([`StateMachine::snapshot_writer`]; nomad-state's persistent maps clone in O(1)), the image
//!   is written on a thread of its own into a staged file in the data directory's `snapshot/`
//!   while the node goes on committing and applying; the node loop then renames it to
//!   `snapshot/<index>-<term>.image`, records its metadata and compacts the log, unless a newer
//!   snapshot was installed meanwhile. One is written at a time; a failed write is logged and
//!   retried at the next check. Without a writer the image is streamed on the node thread.
//!   On restart the FSM is restored from the latest snapshot and the log after it replayed.
//! * **Cluster formation** follows Nomad: [`RaftHandle::bootstrap`] with all expected voters
//!   (see [`BootstrapExpect`]); other servers start empty and receive a snapshot; later servers
//!   join through [`RaftHandle::add_voter`] on the leader.
//! * The deterministic simulator drives the very same `Core` as the real loop, over a network
//!   that drops, duplicates, delays, reorders and partitions, with a seeded RNG.
//!
//! Limits: snapshots travel as one frame (`TcpOptions::max_frame`, 256 MiB by default) and are
//! read into memory whole to be sent or installed; between snapshots the log grows by up to two
//! intervals' worth of entries (on disk; the newest 32 MiB also in memory), all replayed on
//! restart; the transport has no TLS yet.

mod config;
mod core;
mod error;
mod formation;
mod fsm;
mod logger;
mod node;
pub mod sim;
mod status;
mod storage;
mod transport;

pub use crate::config::Config;
pub use crate::error::{RaftError, Result, StorageError};
pub use crate::formation::BootstrapExpect;
pub use crate::fsm::{Committed, Decoded, KvCommand, KvStateMachine, SnapshotWriter, StateMachine};
pub use crate::node::{RaftHandle, RaftNode};
pub use crate::status::{RaftStatus, Role, SINGLE_SERVER_WARNING};
pub use crate::storage::{LogStore, MemStore, RocksStorage, FORMAT_VERSION, MARKER_FILE};
pub use crate::transport::{
    decode_frame, encode_frame, Frame, FrameError, Inbox, RaftAcceptor, TcpOptions, TcpTransport,
    Transport, WIRE_VERSION,
};

/// raft-rs message types, re-exported for transports.
pub use raft::eraftpb::{Message, MessageType};
