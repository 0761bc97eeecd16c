//! Scenario tests of the reconcilers, one module per area.

mod cluster_basic;
mod cluster_deploy;
mod cluster_resched;
mod cluster_tainted;
mod common;
mod node;
mod perf;
mod props;
