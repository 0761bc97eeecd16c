//! Release-mode sanity check of placement speed: one count-1,000 service
//! job onto 5,000 nodes, processed a few times with fresh seeds.
//!
//! `cargo run --release -p nomad-scheduler --example place_bench`
//!
//! The full benchmarks (the simulator's store and plan applier, C1M, peak
//! memory) are `cargo run --release -p nomad-benches --bin scheduler-harness`.

use std::time::Instant;

use nomad_scheduler::testing::{eval_for, job, node, MemState};
use nomad_scheduler::{Plan, PlanResult, Planner, PlannerError, SchedulerOptions, Submission};
use nomad_types::Evaluation;

/// Accepts every plan without storing it, so only scheduling is timed.
struct NullPlanner;

impl<S> Planner<S> for NullPlanner {
    fn submit_plan(&mut self, plan: &Plan) -> Result<Submission<S>, PlannerError> {
        Ok(Submission::new(PlanResult::committed(plan, 1)))
    }
    fn update_eval(&mut self, _: &Evaluation) -> Result<(), PlannerError> {
        Ok(())
    }
    fn create_eval(&mut self, _: &Evaluation) -> Result<(), PlannerError> {
        Ok(())
    }
    fn reblock_eval(&mut self, _: &Evaluation) -> Result<(), PlannerError> {
        Ok(())
    }
}

fn main() {
    let nodes: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5000);
    let count: i64 = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let mut cluster = MemState::new();
    for i in 0..nodes {
        let mut n = node(&format!("node-{i:05}"));
        n.datacenter = format!("dc{}", i % 2 + 1);
        n.node_class = format!("class-{}", i % 4);
        cluster.upsert_node(n);
    }
    let mut spec = job("bench", "service", count);
    spec.datacenters = vec!["dc1".into(), "dc2".into()];
    if let Some(t) = spec.task_groups[0].tasks[0].resources.as_mut() {
        t.cpu = Some(20);
        t.memory_mb = Some(16);
    }
    let web = cluster.upsert_job(spec);
    let rounds: u64 = std::env::args()
        .nth(3)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let mut best = f64::MAX;
    for round in 0..rounds {
        let eval = eval_for(
            &web,
            &format!("9c3b1a8e-6f0a-4d5e-8a4b-0123456789{:02}", round % 100),
        );
        let start = Instant::now();
        let outcome = nomad_scheduler::process_eval(
            &cluster,
            &mut NullPlanner,
            &eval,
            &SchedulerOptions {
                now: 0,
                seed: round,
            },
        )
        .expect("process");
        let secs = start.elapsed().as_secs_f64();
        best = best.min(secs);
        if rounds > 10 {
            continue;
        }
        println!(
            "round {round}: {} placed in {:.2} ms → {:.0} placements/s (status {})",
            outcome.allocs_placed,
            secs * 1e3,
            outcome.allocs_placed as f64 / secs,
            outcome.eval.status
        );
    }
    println!("service: best {:.0} placements/s", count as f64 / best);

    // A system job: one allocation per node, every node checked.
    let mut sys = job("sys", "system", 1);
    sys.datacenters = vec!["dc1".into(), "dc2".into()];
    let sys = cluster.upsert_job(sys);
    let mut best = f64::MAX;
    let mut placed = 0;
    for round in 0..rounds.min(10) {
        let eval = eval_for(
            &sys,
            &format!("7c3b1a8e-6f0a-4d5e-8a4b-0123456789{round:02}"),
        );
        let start = Instant::now();
        let outcome = nomad_scheduler::process_eval(
            &cluster,
            &mut NullPlanner,
            &eval,
            &SchedulerOptions {
                now: 0,
                seed: round,
            },
        )
        .expect("process");
        best = best.min(start.elapsed().as_secs_f64());
        placed = outcome.allocs_placed;
    }
    println!(
        "system: {placed} placed, best {:.0} placements/s",
        placed as f64 / best
    );
}
