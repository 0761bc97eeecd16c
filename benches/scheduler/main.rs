//! Scheduler throughput under criterion: one count-1,000 service job onto
//! 5,000 nodes (binpack and spread), a system job onto 10,000 nodes, and
//! one more count-1,000 job onto a cluster already holding 100,000
//! allocations (a slice of C1M). Each iteration runs the evaluation on a
//! fresh fork of a prepared simulator: scheduler, plan applier and commit
//! (for the slice, also the copy-on-write of the forked store's indexes).
//!
//! `cargo bench -p nomad-benches --bench scheduler`
//!
//! Peak memory and the full C1M run are the harness's job
//! (`cargo run --release -p nomad-benches --bin scheduler-harness`).

#[path = "workloads.rs"]
mod workloads;

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use nomad_sim::Simulator;

/// Runs a fork's queued evaluation; the fork is handed back so criterion
/// drops it outside the measurement.
fn run(mut sim: Simulator) -> (Simulator, nomad_sim::Report) {
    let report = sim.run().expect("run");
    (sim, report)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("scheduler");
    g.sample_size(10).measurement_time(Duration::from_secs(10));

    g.throughput(Throughput::Elements(1000));
    for algorithm in ["binpack", "spread"] {
        let base = workloads::one_service_job(5000, 1000, algorithm);
        g.bench_function(format!("service_1000_on_5000_nodes_{algorithm}"), |b| {
            b.iter_batched(|| base.fork(), run, BatchSize::PerIteration)
        });
    }

    let mut busy = workloads::cluster(5000, "binpack", 1);
    for i in 0..100 {
        busy.add_jobs(&workloads::c1m_job(i, 1000))
            .expect("valid job");
    }
    busy.run().expect("run");
    busy.add_jobs(&workloads::c1m_job(101, 1000))
        .expect("valid job");
    g.bench_function("c1m_slice_1000_more_on_100k_allocs", |b| {
        b.iter_batched(|| busy.fork(), run, BatchSize::PerIteration)
    });

    g.throughput(Throughput::Elements(10_000));
    let sys = workloads::one_system_job(10_000);
    g.bench_function("system_on_10000_nodes", |b| {
        b.iter_batched(|| sys.fork(), run, BatchSize::PerIteration)
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
