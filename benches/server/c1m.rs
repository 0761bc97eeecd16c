//! `c1m`: Nomad's C1M on one box through the real server path. 1,000
//! service jobs × 1,000 allocations onto 5,000 nodes, submitted by 16
//! concurrent submitters: eval broker → workers → plan applier → Raft with
//! fsync → state store. Placements are counted when committed (the state
//! holds them), as Nomad's C1M counted them.

use std::time::{Duration, Instant};

use nomad_server::testing::register;
use nomad_types::consts::eval_status;

use crate::{arg, dir_bytes, fleet, peak_rss_mib, percentile, register_nodes};

const SUBMITTERS: usize = 16;

pub(crate) async fn run() {
    let jobs = arg(1, 1000);
    let count = arg(2, 1000);
    let nodes = arg(3, 5000);
    let total = jobs * count;
    let dir = tempfile::tempdir().expect("temp dir");
    let server = crate::server(dir.path()).await;
    println!(
        "c1m: {jobs} jobs x {count} = {total} allocations onto {nodes} nodes, {SUBMITTERS} submitters, {} scheduler workers",
        server.config().num_schedulers
    );
    let t = Instant::now();
    register_nodes(&server, &fleet(nodes)).await;
    println!("registered {nodes} nodes in {:.2?}", t.elapsed());

    let start = Instant::now();
    let mut submitters = tokio::task::JoinSet::new();
    for s in 0..SUBMITTERS {
        let server = server.clone();
        submitters.spawn(async move {
            let mut j = s;
            while j < jobs {
                server
                    .job_register(register(crate::job(&format!("c1m-{j:04}"), count, 10, 32)))
                    .await
                    .expect("register job");
                j += SUBMITTERS;
            }
        });
    }
    // Placements committed, once a second.
    let mut last = 0usize;
    let mut samples = Vec::new();
    let deadline = start + Duration::from_secs(900);
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let snap = server.state().snapshot();
        let placed = snap.allocs().count();
        samples.push(placed - last);
        println!(
            "  t={:>4.0}s placed {placed:>8} (+{:>6}/s)  broker {:?}",
            start.elapsed().as_secs_f64(),
            placed - last,
            server.broker().stats()
        );
        last = placed;
        if placed >= total || Instant::now() > deadline {
            break;
        }
    }
    while submitters.join_next().await.is_some() {}
    let elapsed = start.elapsed();
    let snap = server.state().snapshot();
    let placed = snap.allocs().count();
    let mut lat: Vec<f64> = snap
        .evals()
        .filter(|e| e.status == eval_status::COMPLETE && e.triggered_by == "job-register")
        .map(|e| (e.modify_time - e.create_time) as f64 / 1e6)
        .collect();
    lat.sort_by(|a, b| a.total_cmp(b));
    let steady: Vec<usize> = samples
        .iter()
        .copied()
        .skip(1)
        .take(samples.len().saturating_sub(2))
        .collect();
    let (lo, hi) = (
        steady.iter().min().copied().unwrap_or(0),
        steady.iter().max().copied().unwrap_or(0),
    );
    println!(
        "placed {placed} of {total} in {elapsed:.2?}: {:.0} placements/s overall; per-second rate between {lo} and {hi} after the first second",
        placed as f64 / elapsed.as_secs_f64()
    );
    println!(
        "eval latency (register → complete), {} evals: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        lat.len(),
        percentile(&lat, 50.0),
        percentile(&lat, 99.0),
        lat.last().copied().unwrap_or(0.0)
    );
    println!(
        "peak RSS {} MiB; Raft data dir {:.1} MiB; raft status {:?}",
        peak_rss_mib(),
        dir_bytes(dir.path()) as f64 / (1 << 20) as f64,
        (
            server.raft().status().last_index,
            server.raft().status().snapshot_index
        )
    );
    server.shutdown().await;
}
