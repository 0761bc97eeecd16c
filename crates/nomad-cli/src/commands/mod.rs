//! One module per command family.

pub mod alloc;
pub mod alloc_actions;
pub mod alloc_fs;
pub mod alloc_stats;
pub mod common;
pub mod deployment;
pub mod eval;
pub mod job;
pub mod job_actions;
pub mod job_history;
pub mod jobops;
pub mod monitor;
pub mod node;
pub mod node_drain;
pub mod node_stats;
pub mod operator;
pub mod plan;
pub mod raft;
pub mod servers;
pub mod snapshot;
pub mod status;
pub mod tail;
pub mod version;
