//! Nomad's placement logic as a pure, embeddable library.
//!
//! The scheduler is a function from (state snapshot, evaluation) to a plan.
//! This crate owns that function and everything it decides with:
//! constraint and affinity evaluation, resource-fit and spread scoring, port
//! assignment, reschedule timing, and how many candidate nodes a placement
//! looks at. Every rule follows HashiCorp Nomad's behaviour, constants
//! included, so that a job places the way it would under Nomad.
//!
//! What it must not depend on: no async runtime (tokio), no storage
//! (rocksdb), no consensus (raft), no I/O of any kind, no clock and no
//! entropy of its own. Time ("now") and a random seed come in with each call,
//! so the same inputs always give the same plan, and the crate can be
//! embedded in the server, in tests, in simulators and in benchmarks alike.
//!
//! Speed matters: the target is an order of magnitude above Nomad
//! (≥ 100,000 placements per second on one core), so the per-node paths
//! here avoid allocation: targets and constraint operands are parsed once
//! ([`constraint::CompiledConstraint`]), regexes and version constraints are
//! compiled once per evaluation ([`constraint::ConstraintCache`]), scores
//! accumulate in place ([`score::ScoreSheet`]), and per-node port state is
//! cheap to clone ([`ports::NodePorts`]).
//!
//! # Modules
//!
//! * [`constraint`]: every constraint operator on resolved values, with
//!   go-version and Go regexp semantics.
//! * [`target`]: `${attr.…}`, `${meta.…}`, `${node.…}` targets, parsed once
//!   and resolved through the [`target::NodeView`] trait.
//! * [`score`]: bin-packing and spread fit, anti-affinity and rescheduling
//!   penalties, affinities, spread blocks, and the final normalisation.
//! * [`ports`]: static and dynamic port bookkeeping per node.
//! * [`rng`]: the seeded generator and the per-evaluation node shuffle.
//! * [`limit`]: how many scored candidates a placement considers.
//!
//! The Job/Node/Allocation-facing API (feasibility stack, reconciler, plan
//! building) is still to come; it will sit on these foundations once the
//! shared data model in `nomad-types` settles. Until then this crate depends
//! on no other crate of the workspace.
//!
//! # Example
//!
//! ```
//! use nomad_scheduler::constraint::{CompiledConstraint, ConstraintCache};
//! use nomad_scheduler::score::{fit_score, CpuMem, SchedulerAlgorithm, ScoreSheet};
//! use nomad_scheduler::target::NodeView;
//!
//! struct Node;
//! impl NodeView for Node {
//!     fn id(&self) -> &str { "node-1" }
//!     fn name(&self) -> &str { "client-1" }
//!     fn datacenter(&self) -> &str { "dc1" }
//!     fn node_class(&self) -> &str { "" }
//!     fn node_pool(&self) -> &str { "default" }
//!     fn attribute(&self, key: &str) -> Option<&str> {
//!         (key == "kernel.name").then_some("linux")
//!     }
//!     fn meta(&self, _key: &str) -> Option<&str> { None }
//! }
//!
//! let constraint = CompiledConstraint::new("${attr.kernel.name}", "=", "linux");
//! assert!(constraint.matches(&Node, &mut ConstraintCache::new()));
//!
//! // Half of a 4000 MHz / 8192 MB node used: fitness 20 − 2·√10 = 13.675.
//! let total = CpuMem { cpu: 4000, memory_mb: 8192 };
//! let used = CpuMem { cpu: 2000, memory_mb: 4096 };
//! let mut sheet = ScoreSheet::new();
//! sheet.push(fit_score(SchedulerAlgorithm::Binpack, total, CpuMem::default(), used));
//! assert!((sheet.final_score() - 13.675 / 18.0).abs() < 1e-3);
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod constraint;
pub mod limit;
pub mod ports;
pub mod rng;
pub mod score;
pub mod target;
