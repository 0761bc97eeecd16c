//! `system`: 10 system jobs are registered on an empty cluster, then 5,000
//! nodes join at once; every join asks for an evaluation of every system
//! job (50,000 in all), which the broker collapses per job. Reports the time
//! until every node runs every system job and no evaluation is left.

use std::time::{Duration, Instant};

use nomad_server::testing::register;

use crate::{arg, fleet, peak_rss_mib, register_nodes};

pub(crate) async fn run() {
    let nodes = arg(1, 5000);
    let jobs = arg(2, 10);
    let dir = tempfile::tempdir().expect("temp dir");
    let server = crate::server(dir.path()).await;
    for j in 0..jobs {
        let mut job = nomad_scheduler::testing::job(&format!("sys-{j}"), "system", 1);
        for tg in &mut job.task_groups {
            for t in &mut tg.tasks {
                if let Some(r) = t.resources.as_mut() {
                    r.cpu = Some(10);
                    r.memory_mb = Some(16);
                }
            }
        }
        server
            .job_register(register(job))
            .await
            .expect("register system job");
    }
    println!("system: {jobs} system jobs, then {nodes} nodes join");
    let start = Instant::now();
    register_nodes(&server, &fleet(nodes)).await;
    let joined = start.elapsed();
    let want = nodes * jobs;
    let deadline = start + Duration::from_secs(300);
    loop {
        let placed = server.state().snapshot().allocs().count();
        let st = server.broker().stats();
        if placed >= want && st.ready == 0 && st.unacked == 0 && st.pending == 0 {
            break;
        }
        if Instant::now() > deadline {
            println!("NOT done after 300 s: {placed} of {want} placed, broker {st:?}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "{nodes} nodes joined in {joined:.2?}; all {want} system allocations placed and the broker empty {:.2?} after the first join ({:.2?} after the last); peak RSS {} MiB",
        start.elapsed(),
        start.elapsed().saturating_sub(joined),
        peak_rss_mib()
    );
    server.shutdown().await;
}
