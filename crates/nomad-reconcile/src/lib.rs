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

pub mod reschedule;
