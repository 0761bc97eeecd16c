//! A cluster simulator for what-if capacity planning.
//!
//! Builds a cluster — groups of identical nodes with datacenters, classes,
//! pools, attributes and metadata — and jobs, from Rust ([`ClusterSpec`],
//! [`NodeGroup`], [`JobTemplate`]) or from a short text configuration
//! ([`parse_config`]), then runs Nomad's scheduler (`nomad-scheduler`)
//! against it exactly as a server would: evaluations are processed against
//! snapshots, plans go to a plan applier that re-checks every node against
//! the newest state and commits what fits, rejected nodes send the
//! scheduler back to re-plan from a fresh snapshot, and placements that do
//! not fit leave blocked evaluations with Nomad's metrics and a
//! one-sentence explanation. A [`Report`] says what was placed where, what
//! failed and why, what conflicted, and how full every node, datacenter and
//! class is.
//!
//! Forking a simulator is O(1), so "what if" questions are cheap:
//!
//! ```
//! use nomad_sim::{JobTemplate, NodeGroup, SimOptions, SchedulerSettings, Simulator};
//!
//! let mut sim = Simulator::new(SimOptions::default(), &SchedulerSettings::default());
//! sim.add_node_group(&NodeGroup::new("small", 10).memory(4096));
//! sim.add_jobs(&JobTemplate::new("web", 20).resources(500, 1024))?;
//! sim.run()?;
//!
//! // Will 200 more copies fit, and where would they go?
//! let mut trial = sim.fork();
//! trial.scale("default", "web", "web", 220)?;
//! let report = trial.run()?;
//! assert_eq!(report.placed, 20);        // memory runs out after 20 more
//! assert_eq!(report.unplaced(), 180);
//! assert!(report.failures[0].explanation().contains("memory"));
//! # Ok::<(), nomad_sim::SimError>(())
//! ```
//!
//! # Owns
//!
//! The simulated store ([`Store`]: incremental per-node usage, allocations
//! indexed by node, job and ID, `Arc`-shared snapshots), the plan applier
//! (Nomad's `evaluateNodePlan`: readiness, eligibility, CPU/memory/disk,
//! `max_allocs`, ports, reserved cores, device instances; per-node
//! rejection, all-at-once plans, refresh on partial commit), the
//! evaluation queue with blocked and delayed evaluations, simulated client
//! acknowledgements, the configuration format and the reports.
//!
//! # Must not depend on
//!
//! No async runtime (tokio), no I/O of any kind beyond the configuration
//! string it is handed, no clock and no entropy: time advances by a fixed
//! tick per evaluation and every choice derives from
//! [`SimOptions::seed`], so a run is reproducible. Scheduling rules belong
//! to `nomad-scheduler` and `nomad-reconcile`; this crate only drives them.
//!
//! # Modules
//!
//! * [`spec`]: node groups, job templates, scheduler settings, options;
//! * [`parse`]: the text configuration;
//! * [`store`]: the cluster state, a `nomad_scheduler::State`;
//! * `applier`: the plan applier (a `nomad_scheduler::Planner`);
//! * [`sim`]: the simulator;
//! * [`report`]: reports and utilisation.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod applier;
mod error;
pub mod parse;
pub mod report;
pub mod sim;
pub mod spec;
pub mod store;
mod util;

pub use applier::{PlanStats, Rejection};
pub use error::SimError;
pub use parse::parse_config;
pub use report::{EvalSummary, Failure, NodeUtil, Placement, Report, Totals, Utilisation};
pub use sim::Simulator;
pub use spec::{ClusterSpec, JobTemplate, NodeGroup, SchedulerSettings, SimOptions};
pub use store::{ClientAck, Store};

#[cfg(test)]
mod tests;
