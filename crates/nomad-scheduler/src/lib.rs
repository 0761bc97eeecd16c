//! Nomad's scheduler as a pure, embeddable library.
//!
//! The scheduler is a function from (state snapshot, evaluation) to a plan:
//! [`process_eval`] reads a [`State`], decides where the evaluation's job
//! should run, and hands the result to a [`Planner`] (commit plans, record
//! the evaluation's status, create blocked and follow-up evaluations). Every
//! rule follows HashiCorp Nomad — feasibility checks and their reasons,
//! bin packing and spread scoring, anti-affinity, affinities, spreads,
//! `distinct_hosts` and `distinct_property`, preemption, candidate limits,
//! plan retries, blocked evaluations, metric names — so a job places the
//! way it would under Nomad.
//!
//! # Owns
//!
//! The service/batch ("generic") and system/sysbatch schedulers, the
//! feasibility and ranking stack, preemption, the [`State`] and [`Planner`]
//! interfaces, the [`Plan`] shape, placement metrics, and one thing Nomad
//! does not have: a one-sentence explanation of each failed placement
//! (`AllocMetric.Explanation`).
//!
//! # Must not depend on
//!
//! No async runtime (tokio), no storage, no consensus, no I/O of any kind,
//! no clock and no entropy of its own: "now" and a seed come in with each
//! call ([`SchedulerOptions`]), so the same inputs give the same plan. What
//! to place, stop or update is decided by the reconcilers of
//! `nomad-reconcile`, which this crate calls; it does not depend on the
//! server, the state store or the client.
//!
//! # Speed
//!
//! Designed for ≥ 100,000 placements per second on one core: nodes and
//! allocations are shared (`Arc`), feasibility is cached per computed node
//! class per evaluation, each node's usage is the store's running total plus
//! a delta the plan maintains incrementally ([`State::node_usage`]),
//! metrics are counted by interned ID, and the per-candidate path does not
//! allocate. What each placement leaves behind is small and shared where
//! Nomad's values are equal: the placements of a group whose resources do
//! not depend on the node share one `AllocatedResources`, placement metrics
//! share the evaluation's per-datacenter counts and pool name and name their
//! score rows with the store's own node-ID strings
//! ([`State::shared_node_id`]). A store that keeps its schedulable nodes
//! ([`State::schedulable_nodes`]) spares every evaluation a pass over the
//! cluster. Figures: `docs/benchmarks.md` (Scheduler).
//!
//! # Modules
//!
//! * [`state`], [`planner`], [`plan`]: the interfaces and the plan shape;
//! * [`testing`]: an in-memory [`State`] and [`Planner`] and builders;
//! * [`constraint`], [`target`]: constraint operators and targets;
//! * [`score`], [`limit`], [`preempt`]: scoring formulas, candidate limits,
//!   preemption distances;
//! * [`ports`]: static and dynamic port bookkeeping;
//! * [`resources`]: lifecycle-aware resource arithmetic;
//! * [`metrics`]: placement metrics;
//! * [`rng`]: the seeded generator and node shuffle.
//!
//! Internal: `context` (the per-evaluation plan and its derived views),
//! `nodes`, `feasible`, `property`, `devices`, `select`, `rank`,
//! `placement`, `explain`, `generic`, `system`, `process`.
//!
//! # Example
//!
//! An embedder places work with a dozen lines:
//!
//! ```
//! use nomad_scheduler::testing::{eval_for, job, node, MemPlanner, MemState};
//! use nomad_scheduler::SchedulerOptions;
//!
//! let mut cluster = MemState::new();
//! for i in 0..3 {
//!     cluster.upsert_node(node(&format!("node-{i}")));
//! }
//! let web = cluster.upsert_job(job("web", "service", 3));
//! let mut planner = MemPlanner::new(cluster);
//! let eval = eval_for(&web, "9c3b1a8e-6f0a-4d5e-8a4b-0123456789ab");
//! let outcome = planner.process(&eval, &SchedulerOptions { now: 0, seed: 42 })?;
//! assert_eq!(outcome.eval.status, "complete");
//! assert_eq!(outcome.allocs_placed, 3);
//! # Ok::<(), nomad_scheduler::SchedulerError>(())
//! ```
//!
//! A server implements [`State`] over its store snapshot and [`Planner`]
//! over its plan queue instead of the in-memory ones.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod constraint;
mod context;
mod devices;
mod explain;
mod feasible;
mod generic;
pub mod limit;
pub mod metrics;
mod nodes;
mod placement;
pub mod plan;
pub mod planner;
pub mod ports;
pub mod preempt;
mod process;
mod property;
mod rank;
pub mod resources;
pub mod rng;
pub mod score;
mod select;
pub mod state;
mod system;
pub mod target;
pub mod testing;
mod util;

/// The scheduler's fast deterministic hasher, for embedders (the simulator)
/// that keep maps on the same hot paths.
pub mod hash {
    pub use crate::util::{FxHashMap, FxHashSet, FxHasher};
}

pub use generic::{MAX_BATCH_SCHEDULE_ATTEMPTS, MAX_SERVICE_SCHEDULE_ATTEMPTS};
pub use plan::{Plan, PlanResult};
pub use planner::{Planner, PlannerError, Submission};
pub use process::{
    process_eval, EvalOutcome, SchedulerError, SchedulerOptions,
    DESC_BLOCKED_EVAL_FAILED_PLACEMENTS, DESC_BLOCKED_EVAL_MAX_PLAN,
};
pub use state::{NodeFacts, NodeUsage, State};
pub use system::{MAX_SYSBATCH_SCHEDULE_ATTEMPTS, MAX_SYSTEM_SCHEDULE_ATTEMPTS};

#[cfg(test)]
mod tests;
