//! `drain`: 100,000 allocations of 100 service jobs on 5,000 nodes; 100 nodes
//! are drained at once (each job's migrate block at Nomad's default
//! max_parallel 1); the time until every drained node is empty and every
//! allocation runs elsewhere. The simulated fleet reports replacements
//! running and healthy as soon as they are placed.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use nomad_server::testing::register;
use nomad_types::api::NodeUpdateDrainRequest;
use nomad_types::node::DrainSpec;

use crate::{arg, fleet, fleet_round, register_nodes, running};

pub(crate) async fn run() {
    let nodes = arg(1, 5000);
    let jobs = arg(2, 100);
    let count = arg(3, 1000);
    let drained = arg(4, 100);
    let total = jobs * count;
    let dir = tempfile::tempdir().expect("temp dir");
    let server = crate::server(dir.path()).await;
    println!("drain: {nodes} nodes, {jobs} jobs x {count} = {total} allocations; {drained} nodes drained at once");
    let fleet_nodes = fleet(nodes);
    register_nodes(&server, &fleet_nodes).await;
    // Spread the work so that the drained nodes hold some of every job.
    for j in 0..jobs {
        server
            .job_register(register(crate::job(&format!("job{j}"), count, 20, 32)))
            .await
            .expect("register job");
    }
    let none = HashSet::new();
    let t = Instant::now();
    while running(&server, &none) < total {
        fleet_round(&server, &none).await;
        assert!(
            t.elapsed() < Duration::from_secs(600),
            "initial placement timed out"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "placed and running: {total} allocations in {:.2?}",
        t.elapsed()
    );

    // Drain the nodes holding the most allocations.
    let snap = server.state().snapshot();
    let mut by_node: Vec<(usize, String)> = fleet_nodes
        .iter()
        .map(|n| (snap.allocs_by_node(&n.id).len(), n.id.clone()))
        .collect();
    by_node.sort_by_key(|b| std::cmp::Reverse(b.0));
    let targets: Vec<String> = by_node
        .iter()
        .take(drained)
        .map(|(_, id)| id.clone())
        .collect();
    let moving: usize = by_node.iter().take(drained).map(|(n, _)| n).sum();
    let set: HashSet<String> = targets.iter().cloned().collect();
    let t = Instant::now();
    for id in &targets {
        server
            .node_update_drain(NodeUpdateDrainRequest {
                node_id: id.clone(),
                drain_spec: Some(DrainSpec {
                    deadline: nomad_types::Nanos(3_600_000_000_000),
                    ignore_system_jobs: false,
                }),
                ..Default::default()
            })
            .await
            .expect("drain");
    }
    println!(
        "{drained} drains set in {:.2?}; {moving} allocations to move",
        t.elapsed()
    );
    let limit = Duration::from_secs(600);
    let mut report = Instant::now();
    let mut seen = 0;
    loop {
        fleet_round(&server, &set).await;
        let snap = server.state().snapshot();
        if snap.latest_index() == seen && t.elapsed() <= limit {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        seen = snap.latest_index();
        let left: usize = targets
            .iter()
            .map(|id| {
                snap.allocs_by_node(id)
                    .iter()
                    .filter(|a| !a.terminal_status())
                    .count()
            })
            .sum();
        if left == 0 && running(&server, &set) >= total {
            println!(
                "drained: {drained} nodes empty and all {total} allocations running elsewhere {:.2?} after the drains were set",
                t.elapsed()
            );
            break;
        }
        if report.elapsed() >= Duration::from_secs(5) {
            report = Instant::now();
            let moved = moving.saturating_sub(left);
            println!(
                "  {:>5.1} s: {moved} of {moving} moved ({:.0}/s)",
                t.elapsed().as_secs_f64(),
                moved as f64 / t.elapsed().as_secs_f64()
            );
        }
        if t.elapsed() > limit {
            println!("NOT drained after {limit:?}: {left} allocations left on the drained nodes");
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.shutdown().await;
}
