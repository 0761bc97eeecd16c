//! The Nomad server agent: the control plane over consensus and the state store.
//!
//! Owns:
//!
//! * [`Server::start`]: opens Raft ([`nomad_raft`], RocksDB under the data
//!   directory) with the [`nomad_state`] FSM as its state machine; a dev
//!   server uses a temporary directory and `bootstrap_expect = 1`;
//! * the leader-only subsystems, started on gaining leadership and stopped on
//!   losing it: the [`broker::EvalBroker`] (ready queues per scheduler type,
//!   one evaluation in flight per job, ack/nack with a nack timeout and a
//!   delivery limit, delayed evaluations), [`blocked::BlockedEvals`]
//!   (one blocked evaluation per job, unblocked by capacity changes on a
//!   computed node class it found eligible or never saw, or on any class
//!   when its constraints escaped classes), the plan queue with its single
//!   plan applier ([`plan_apply`]; a node whose plans keep being rejected is
//!   marked ineligible, [`bad_nodes`]), the heartbeat
//!   timers ([`heartbeat`]), garbage collection ([`gc`]: terminal
//!   evaluations and allocations, stopped or dead jobs, down nodes and
//!   terminal deployments older than Nomad's thresholds, each kind every
//!   5 minutes; `system gc` reaps everything eligible at once via
//!   [`Server::system_gc`]) and the deployment watcher (`deployments`:
//!   evaluates the job as allocations turn healthy so rolling updates go
//!   on batch by batch, fails deployments on unhealthy allocations or a
//!   missed `progress_deadline`, promotes canaries with `auto_promote`,
//!   rolls back to the latest stable version with `auto_revert`, leaves
//!   paused deployments alone, and cancels deployments of older job
//!   versions), the periodic dispatcher ([`periodic`]: launches a child
//!   `<parent>/periodic-<unix seconds>` of each active periodic job when
//!   its cron specs ([`cron`]: 5 to 7 fields, `@` macros, `L`/`W`/`#`, in
//!   the job's `time_zone`) come due, honours `prohibit_overlap`, and after
//!   a leadership change launches a missed run once from the recorded last
//!   launch) and the node drainer ([`drainer`]: marks allocations on
//!   draining nodes to migrate, paced by `migrate.max_parallel` against
//!   healthy replacements, system jobs last, everything left at the
//!   deadline, then ends the drain with `Node drain complete`);
//! * scheduler workers ([`worker`]) running `nomad_scheduler::process_eval`
//!   on blocking threads over state snapshots;
//! * the server's operations (`Job.Register`, `Job.Plan`, `Node.Register`,
//!   `Node.UpdateStatus`, `Node.GetClientAllocs`, …) as methods of
//!   [`Server`], returning the shared `nomad_types::api` response types;
//! * the operators' actions on deployments (`Deployment.Promote`,
//!   `Deployment.Fail`, `Deployment.Pause`) and on jobs (`Job.Revert`,
//!   `Job.Stable`, `Job.Scale`, `Job.ScaleStatus`; scaling events are kept
//!   in nomad-state's `scaling_event` table);
//! * `Periodic.Force` ([`Server::job_periodic_force`]), `Job.Dispatch` for
//!   parameterized jobs ([`Server::job_dispatch`]: meta and payload checks
//!   with Nomad's messages, the payload kept on the child, idempotency
//!   tokens) and `Node.UpdateDrain` ([`Server::node_update_drain`]);
//! * with the `cluster-api` feature, `nomad_api::ClusterApi` for [`Server`];
//! * the RPC port ([`rpc`]): client and server RPCs after the byte `0x01`,
//!   Raft after `0x02` (handed to the Raft transport), the same protocol on
//!   the serf port; follower-received heartbeats, registrations and client
//!   updates forwarded to the leader;
//! * server membership ([`members`]): `server join`, `retry_join`,
//!   `start_join`, the member table exchanged once a second,
//!   `bootstrap_expect`, and the leader adding alive servers as voters;
//! * operator snapshots (`Server::snapshot_save` / `snapshot_restore`, the
//!   restore applied through Raft);
//! * [`testing`]: simulated in-process clients for tests.
//!
//! Invariant: every change to cluster state is a Raft entry applied by the
//! nomad-state FSM; IDs and times are made here, before proposing, and travel
//! in the entry.
//!
//! Must not depend on: task drivers, the client agent, or HTTP framework
//! types in its API (the `/v1` layer reaches the server through the
//! `ClusterApi` trait).

#![forbid(unsafe_code)]

mod alloc_updates;
pub mod bad_nodes;
pub mod blocked;
pub mod broker;
mod config;
pub mod cron;
mod deployments;
mod dispatch;
pub mod drainer;
mod error;
mod fsm;
pub mod gc;
pub mod heartbeat;
mod job_actions;
mod jobs;
pub mod members;
mod nodes;
pub mod periodic;
pub mod plan_apply;
pub mod rpc;
mod server;
pub mod testing;
pub mod worker;

#[cfg(feature = "cluster-api")]
mod cluster_api;

pub use config::{GcConfig, ServerConfig};
pub use error::ServerError;
pub use nodes::{AllocWatch, ClientAllocUpdate};
pub use server::Server;

/// Unix nanoseconds now.
pub(crate) fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// A new UUIDv4 as Nomad writes it.
pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
