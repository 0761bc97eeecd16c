//! A slice of C1M: `jobs` service jobs of count 1,000 onto 5,000 nodes,
//! committed one after another into the in-memory store, reporting
//! throughput and resident memory so the full run can be extrapolated.
//!
//! `cargo run --release -p nomad-scheduler --example c1m_lite -- 50`
//!
//! The full benchmarks (the simulator's store and plan applier, C1M, peak
//! memory) are `cargo run --release -p nomad-benches --bin scheduler-harness`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use nomad_scheduler::testing::{eval_for, job, node, MemPlanner, MemState};
use nomad_scheduler::SchedulerOptions;

/// Counts live heap bytes, to measure what each allocation costs.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator and only adds bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<f64>().ok())
        })
        .map_or(0.0, |pages| pages * 4096.0 / 1e6)
}

fn main() {
    let jobs: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let mut cluster = MemState::new();
    for i in 0..5000 {
        let mut n = node(&format!("node-{i:05}"));
        n.datacenter = format!("dc{}", i % 2 + 1);
        if let Some(r) = n.node_resources.as_mut() {
            r.cpu.cpu_shares = 40_000;
            r.memory.memory_mb = 64 * 1024;
        }
        cluster.upsert_node(n);
    }
    let mut planner = MemPlanner::new(cluster);
    let base = rss_mb();
    let base_heap = LIVE.load(Ordering::Relaxed);
    let start = Instant::now();
    let mut placed = 0;
    let mut in_process = 0.0;
    for k in 0..jobs {
        let mut spec = job(&format!("job-{k:04}"), "service", 1000);
        spec.datacenters = vec!["dc1".into(), "dc2".into()];
        if let Some(r) = spec.task_groups[0].tasks[0].resources.as_mut() {
            r.cpu = Some(20);
            r.memory_mb = Some(16);
        }
        let registered = planner.store.upsert_job(spec);
        let eval = eval_for(&registered, &format!("00000000-0000-4000-8000-{k:012}"));
        let snapshot = planner.store.clone();
        let t = Instant::now();
        let out = nomad_scheduler::process_eval(
            &snapshot,
            &mut planner,
            &eval,
            &SchedulerOptions {
                now: 0,
                seed: k as u64,
            },
        )
        .expect("process");
        in_process += t.elapsed().as_secs_f64();
        placed += out.allocs_placed;
        planner.plans.clear();
        planner.updated_evals.clear();
    }
    let secs = start.elapsed().as_secs_f64();
    if let Some(a) = planner.store.allocs().next() {
        let measure = |f: &dyn Fn() -> Box<dyn std::any::Any>| {
            let before = LIVE.load(Ordering::Relaxed);
            let kept = f();
            let used = LIVE.load(Ordering::Relaxed) - before;
            drop(kept);
            used
        };
        let whole = measure(&|| Box::new((**a).clone()));
        let metrics = measure(&|| Box::new(a.metrics.clone()));
        let resources = measure(&|| Box::new(a.allocated_resources.clone()));
        println!(
            "one allocation: {} B deep ({} B inline), of which metrics {metrics} B, allocated resources {resources} B",
            whole,
            std::mem::size_of::<nomad_types::Allocation>()
        );
    }
    let rss = rss_mb();
    let heap = LIVE.load(Ordering::Relaxed) - base_heap;
    println!(
        "live heap {:.0} MB: {:.2} KB per allocation (store indexes included)",
        heap as f64 / 1e6,
        heap as f64 / 1e3 / placed.max(1) as f64
    );
    println!(
        "{placed} placements in {secs:.2} s ({:.0}/s in process_eval, commits included; {:.0}/s overall); RSS {rss:.0} MB ({:.2} KB per allocation above the empty cluster)",
        placed as f64 / in_process,
        placed as f64 / secs,
        (rss - base) * 1000.0 / placed.max(1) as f64
    );
}
