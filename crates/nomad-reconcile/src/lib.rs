//! Nomad's reconcilers as pure functions.
//!
//! Owns: deciding, for one job, what must change so that what runs matches
//! what is wanted — allocations to place, stop, update in place or
//! destructively, migrate off draining nodes, mark lost, reschedule now or
//! later — for service and batch jobs (the cluster reconciler, with
//! deployments, canaries and rolling updates) and for system and sysbatch
//! jobs (the node reconciler: one per feasible node). Also owns reschedule
//! timing ([`reschedule`]).
//!
//! Must not depend on: the placement machinery (feasibility, ranking: that is
//! `nomad-scheduler`, which calls this crate), tokio, I/O, clocks or
//! randomness: "now" comes in with every call.
//!
//! Modules:
//!
//! * [`types`]: inputs and results of both reconcilers, the update oracle
//!   ([`UpdateDecision`]) and ID generator types;
//! * [`cluster`]: the cluster reconciler, [`reconcile`];
//! * [`node`]: the node reconciler, [`reconcile_nodes`];
//! * [`updates`]: which job changes are destructive ([`tasks_updated`]) and
//!   the node-independent part of the update decision ([`precheck_update`]);
//! * [`deployment`]: update-block reading, deployment creation and
//!   cancellation;
//! * [`migrate`]: which allocations on draining nodes to mark for migration,
//!   paced by `migrate.max_parallel`;
//! * [`names`]: allocation name indexes;
//! * [`allocs`]: per-allocation facts (health, reschedule times, disconnect
//!   bookkeeping);
//! * [`descriptions`]: Nomad's status description strings;
//! * [`ids`]: deterministic ID generation ([`seeded_ids`]);
//! * [`reschedule`]: reschedule delays and eligibility.

pub mod allocs;
pub mod cluster;
pub mod deployment;
pub mod descriptions;
pub mod ids;
pub mod migrate;
pub mod names;
pub mod node;
pub mod reschedule;
pub mod types;
pub mod updates;

pub use cluster::reconcile;
pub use ids::seeded_ids;
pub use node::reconcile_nodes;
pub use types::{
    ClusterInput, DeploymentStatusUpdate, DestructiveUpdate, IdFn, NodeDestructiveUpdate,
    NodeInput, NodePlacement, NodeReconcileResult, Placement, ReconcileResult, StopRequest,
    TaintedNodes, UpdateDecision, UpdateFn,
};
pub use updates::{precheck_update, tasks_updated, tasks_updated_reason};
