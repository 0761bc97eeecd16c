//! The Nomad client agent.
//!
//! This crate owns everything a Nomad client does on its node:
//!
//! * **Node identity and fingerprints** ([`fingerprint`], [`drivers`]): a
//!   node ID and SecretID persisted in the data dir, CPU, memory, storage,
//!   kernel/OS, host name, network address and driver fingerprints turned
//!   into `Node.Attributes`, `NodeResources` and `Node.Drivers`.
//! * **Talking to the servers** through the [`ServerApi`] trait
//!   ([`server`]): registration, heartbeats at half the TTL the servers
//!   return (re-registering when they forgot the node), a blocking watch of
//!   the node's allocations, fetching the changed ones, and client status
//!   updates batched (one batch in flight, at least 5 ms apart).
//!   [`testing::FakeServer`] implements it in memory; the RPC
//!   implementation lives with the server.
//! * **Running allocations** ([`client::Client`], `allocrunner`,
//!   `taskrunner`): one allocation runner per allocation and one task
//!   runner per task, lifecycle order (prestart, sidecars, main, poststart,
//!   poststop), restart policies ([`restarts`]), Nomad's task events and
//!   states ([`events`]), client status as Nomad computes it, stopping what
//!   the servers stopped, garbage collection of terminal allocations.
//! * **Task setup** ([`allocdir`], [`taskenv`], [`template`], [`artifact`],
//!   [`logs`]): the allocation directory, the `NOMAD_*` environment and
//!   `${…}` interpolation, templates, artifacts, log collection with
//!   rotation.
//! * **Data for the HTTP API**: `alloc logs` ([`logs::read_logs`],
//!   [`logs::follow_logs`]) and `alloc fs` ([`allocdir::list`],
//!   [`allocdir::stat`], [`allocdir::cat`], [`allocdir::read_at`],
//!   [`follow::stream_file`]); host
//!   usage ([`hoststats`]) and, through [`ClientOps`], task usage, signals,
//!   in-place restarts and `alloc exec`.
//! * **Local state** ([`state`]): allocations, task states and driver
//!   handles in the data dir, so that a restarted agent re-attaches to its
//!   running tasks instead of restarting them.
//!
//! It depends on `nomad-types`, the `nomad-driver` contract and the
//! built-in drivers (`raw_exec`, `exec`), which it creates from their
//! plugin configs; other drivers are passed in as `Arc<dyn Driver>`.
//! It must not depend on the server crates, the state store, raft, the
//! scheduler or an HTTP framework.

mod actions;
pub mod allocdir;
mod allocrunner;
pub mod artifact;
pub mod client;
pub mod config;
pub mod drivers;
mod error;
pub mod events;
pub mod fingerprint;
pub mod follow;
pub mod health;
pub mod hoststats;
pub mod logs;
pub mod payload;
pub mod restarts;
pub mod server;
mod shared;
pub mod state;
pub mod taskenv;
mod taskrunner;
pub mod template;
pub mod testing;

pub use allocdir::{AllocDir, FileInfo};
pub use client::{Client, ClientOps};
pub use config::{ClientConfig, GcConfig, ReservedConfig};
pub use error::ClientError;
pub use hoststats::{HostCpu, HostDisk, HostMemory, HostStats};
pub use logs::{LogChunk, Origin};
pub use server::{
    AllocUpdate, AllocWatch, HeartbeatResponse, RegisterResponse, ServerApi, ServerError,
};
