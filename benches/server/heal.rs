//! `heal`: 5,000 nodes carry 100,000 allocations of 100 service jobs; 10% of
//! the nodes are declared down at once; the time until every lost
//! allocation has a running replacement on a live node.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use nomad_server::testing::register;
use nomad_server::Server;
use nomad_types::consts::node_status;
use nomad_types::Node;

use crate::{arg, fleet, fleet_round, register_nodes, running};

async fn wait_all_running(
    server: &Server,
    down: &HashSet<String>,
    want: usize,
    limit: Duration,
) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        fleet_round(server, down).await;
        if running(server, down) >= want {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

pub(crate) async fn run() {
    let nodes = arg(1, 5000);
    let jobs = arg(2, 100);
    let count = arg(3, 1000);
    let total = jobs * count;
    let dir = tempfile::tempdir().expect("temp dir");
    let server = crate::server(dir.path()).await;
    println!(
        "heal: {nodes} nodes, {jobs} jobs x {count} = {total} allocations, {} scheduler workers",
        server.config().num_schedulers
    );

    let t = Instant::now();
    let fleet: Vec<Node> = fleet(nodes);
    register_nodes(&server, &fleet).await;
    println!("registered {nodes} nodes in {:.2?}", t.elapsed());

    let t = Instant::now();
    for j in 0..jobs {
        server
            .job_register(register(crate::job(&format!("job{j}"), count, 20, 32)))
            .await
            .expect("register job");
    }
    let none = HashSet::new();
    let placed = wait_all_running(&server, &none, total, Duration::from_secs(600))
        .await
        .unwrap_or_else(|| {
            panic!(
                "only {} of {total} running after 600 s",
                running(&server, &none)
            )
        });
    println!(
        "placed and running: {total} allocations in {:.2?} ({:.0} allocs/s from the first register)",
        t.elapsed(),
        total as f64 / t.elapsed().as_secs_f64()
    );
    let _ = placed;

    // Declare 10% of the nodes down, the ones with the most allocations
    // first being no better than any: take every tenth.
    let victims: Vec<&Node> = fleet.iter().step_by(10).collect();
    let down: HashSet<String> = victims.iter().map(|n| n.id.clone()).collect();
    let lost = {
        let snap = server.state().snapshot();
        snap.allocs()
            .filter(|a| !a.server_terminal_status() && down.contains(&a.node_id))
            .count()
    };
    let t = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for chunk in victims.chunks(victims.len().div_ceil(32).max(1)) {
        let s = server.clone();
        let chunk: Vec<(String, String)> = chunk
            .iter()
            .map(|n| (n.id.clone(), n.secret_id.clone()))
            .collect();
        set.spawn(async move {
            for (id, secret) in chunk {
                s.node_update_status(&id, &secret, node_status::DOWN)
                    .await
                    .expect("mark down");
            }
        });
    }
    while set.join_next().await.is_some() {}
    let declared = t.elapsed();
    println!(
        "declared {} nodes down in {declared:.2?}; {lost} allocations lost",
        victims.len()
    );
    let t = Instant::now();
    match wait_all_running(&server, &down, total, Duration::from_secs(300)).await {
        Some(d) => println!(
            "healed: all {total} allocations running on live nodes {:.2?} after the last node was declared down ({:.2?} after the first); {:.0} replacements/s",
            d,
            d + declared,
            lost as f64 / d.as_secs_f64()
        ),
        None => println!(
            "NOT healed after {:.2?}: {} of {total} running",
            t.elapsed(),
            running(&server, &down)
        ),
    }
    let st = server.broker().stats();
    println!("broker at the end: {st:?}");
    server.shutdown().await;
}
