//! Scenario tests: whole evaluations against the in-memory state and
//! planner, one module per area.

use std::sync::Arc;

use nomad_types::{Allocation, Constraint, Evaluation, Job, Node};

use crate::testing::{eval_for, job, node, MemPlanner, MemState};
use crate::{EvalOutcome, SchedulerOptions, State};

mod explain;
mod feasibility;
mod generic;
mod json;
mod preemption;
mod ranking;
mod system;
mod versions;

/// A cluster and a planner committing into it.
pub(crate) struct H {
    pub p: MemPlanner,
    seq: u64,
    pub seed: u64,
}

impl H {
    pub(crate) fn new() -> H {
        H {
            p: MemPlanner::new(MemState::new()),
            seq: 0,
            seed: 1,
        }
    }

    /// `count` standard nodes `node-00`, `node-01`, …
    pub(crate) fn with_nodes(count: usize) -> H {
        let mut h = H::new();
        for i in 0..count {
            h.add_node(node(&format!("node-{i:02}")));
        }
        h
    }

    pub(crate) fn add_node(&mut self, n: Node) {
        self.p.store.upsert_node(n);
    }

    pub(crate) fn register(&mut self, job: Job) -> Arc<Job> {
        self.p.store.upsert_job(job)
    }

    pub(crate) fn next_eval(&mut self, job: &Job) -> Evaluation {
        self.seq += 1;
        eval_for(job, &format!("00000000-0000-4000-8000-{:012}", self.seq))
    }

    /// Registers `job` and processes an evaluation for it.
    pub(crate) fn run(&mut self, job: Job) -> EvalOutcome {
        let job = self.register(job);
        self.eval(&job)
    }

    /// Processes a fresh evaluation for `job`.
    pub(crate) fn eval(&mut self, job: &Job) -> EvalOutcome {
        let eval = self.next_eval(job);
        self.process(&eval)
    }

    pub(crate) fn process(&mut self, eval: &Evaluation) -> EvalOutcome {
        let options = SchedulerOptions {
            now: 1_700_000_000_000_000_000,
            seed: self.seed,
        };
        self.p.process(eval, &options).expect("process")
    }

    /// Live allocations of a job.
    pub(crate) fn live(&self, job_id: &str) -> Vec<Arc<Allocation>> {
        self.p.store.live_allocs("default", job_id)
    }

    /// Node IDs of a job's live allocations, sorted.
    pub(crate) fn nodes_of(&self, job_id: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .live(job_id)
            .iter()
            .map(|a| a.node_id.clone())
            .collect();
        v.sort();
        v
    }

    pub(crate) fn node(&self, id: &str) -> Arc<Node> {
        self.p.store.node_by_id(id).expect("node")
    }
}

/// A service job `id` of `count` with extra group constraints.
pub(crate) fn service(id: &str, count: i64) -> Job {
    job(id, "service", count)
}

pub(crate) fn constraint(l: &str, op: &str, r: &str) -> Constraint {
    Constraint::new(l, op, r)
}

/// Sets the single task's CPU and memory.
pub(crate) fn resources(job: &mut Job, cpu: i64, memory_mb: i64) {
    for tg in &mut job.task_groups {
        for t in &mut tg.tasks {
            if let Some(r) = t.resources.as_mut() {
                r.cpu = Some(cpu);
                r.memory_mb = Some(memory_mb);
            }
        }
    }
}

/// How many allocations each node got, sorted by node ID.
pub(crate) fn per_node(allocs: &[Arc<Allocation>]) -> Vec<(String, usize)> {
    let mut m = std::collections::BTreeMap::<String, usize>::new();
    for a in allocs {
        *m.entry(a.node_id.clone()).or_default() += 1;
    }
    m.into_iter().collect()
}
