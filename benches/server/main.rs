//! The whole server path at scale, in one process: a real server (Raft on
//! RocksDB with fsync, eval broker, scheduler workers, plan applier, state
//! store) with simulated nodes.
//!
//! `cargo run --release -p nomad-benches --bin server-harness -- MODE [ARGS]`
//!
//! * `c1m [JOBS] [COUNT] [NODES]`: 1,000 service jobs × 1,000 allocations on
//!   5,000 nodes, submitted by 16 concurrent submitters; placements/s over
//!   time, eval latency p50/p99, peak RSS, Raft log bytes.
//! * `system [NODES] [JOBS]`: 10 system jobs, then 5,000 nodes join; time
//!   until every node runs every system job and the broker is empty.
//! * `heal [NODES] [JOBS] [COUNT]`: 5,000 nodes carry 100,000 allocations;
//!   10% of the nodes are declared down; time until every lost allocation
//!   runs on a live node.
//! * `drain [NODES] [JOBS] [COUNT] [DRAINED]`: the same cluster; the 100
//!   fullest nodes are drained at once; time until they are empty.

mod c1m;
mod drain;
mod heal;
mod system;

/// The binaries' allocator, so that the figures are those of `nomad-server`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::HashSet;
use std::time::Duration;

use nomad_server::testing;
use nomad_server::{ClientAllocUpdate, Server, ServerConfig};
use nomad_types::consts::{alloc_client_status, node_status};
use nomad_types::Node;

/// Positional argument `n` after the mode, or `default`.
pub(crate) fn arg(n: usize, default: usize) -> usize {
    std::env::args()
        .nth(n + 1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

/// Peak resident set size of this process (VmHWM), MiB.
pub(crate) fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .unwrap_or(0)
        / 1024
}

/// Bytes under `dir`.
pub(crate) fn dir_bytes(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            match e.metadata() {
                Ok(m) if m.is_dir() => total += dir_bytes(&p),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

/// A server on disk in `dir` whose nodes are declared down by the harness,
/// never by missed heartbeats.
pub(crate) async fn server(dir: &std::path::Path) -> Server {
    let cfg = ServerConfig {
        node_name: "bench".into(),
        data_dir: Some(dir.to_path_buf()),
        min_heartbeat_ttl: Duration::from_secs(3600),
        failover_heartbeat_ttl: Duration::from_secs(3600),
        num_schedulers: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2),
        ..testing::test_config()
    };
    testing::start(cfg).await.expect("server")
}

/// A service job of `count` allocations asking `cpu` MHz and `memory_mb`
/// MB each (the scheduler workloads' shape: a million of 10 MHz / 32 MB
/// fill 5,000 nodes to 50% CPU and 39% memory).
pub(crate) fn job(id: &str, count: usize, cpu: i64, memory_mb: i64) -> nomad_types::Job {
    let mut j = testing::service_job(id, count as i64, cpu);
    for tg in &mut j.task_groups {
        for t in &mut tg.tasks {
            if let Some(r) = t.resources.as_mut() {
                r.memory_mb = Some(memory_mb);
            }
        }
    }
    j
}

/// `n` ready nodes of 4,000 MHz and 16 GiB.
pub(crate) fn fleet(n: usize) -> Vec<Node> {
    (0..n)
        .map(|i| {
            let mut node = testing::node(&format!("n{i}"), 4000, 16384);
            node.status = node_status::READY.into();
            node
        })
        .collect()
}

/// Registers `nodes` with 64 concurrent callers.
pub(crate) async fn register_nodes(server: &Server, nodes: &[Node]) {
    let mut set = tokio::task::JoinSet::new();
    for chunk in nodes.chunks(nodes.len().div_ceil(64).max(1)) {
        let s = server.clone();
        let chunk = chunk.to_vec();
        set.spawn(async move {
            for n in chunk {
                s.node_register(n).await.expect("register node");
            }
        });
    }
    while set.join_next().await.is_some() {}
}

/// Reports every pending allocation on a live node as running and healthy
/// (what the nodes' clients would do); returns how many.
pub(crate) async fn fleet_round(server: &Server, down: &HashSet<String>) -> usize {
    let snap = server.state().snapshot();
    // A real client reacts to its own allocations' changes; the simulated
    // fleet scans every allocation, so it skips states it has seen (the scan
    // would otherwise take much of the CPU the server is measured on).
    let index = snap.latest_index();
    if FLEET_SEEN.swap(index, std::sync::atomic::Ordering::Relaxed) == index {
        return 0;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0);
    let ups: Vec<ClientAllocUpdate> = snap
        .allocs()
        .filter(|a| {
            !a.server_terminal_status()
                && a.client_status == alloc_client_status::PENDING
                && !down.contains(&a.node_id)
        })
        .map(|a| ClientAllocUpdate {
            id: a.id.clone(),
            client_status: alloc_client_status::RUNNING.into(),
            client_description: "Tasks are running".into(),
            // Healthy at once, as a client would after min_healthy_time:
            // drains and deployments wait for it.
            deployment_status: Some(nomad_types::AllocDeploymentStatus {
                healthy: Some(true),
                timestamp: nomad_types::GoTime::from_unix_nanos(now),
                ..Default::default()
            }),
            modify_time: now,
            ..Default::default()
        })
        .collect();
    let n = ups.len();
    for chunk in ups.chunks(5000) {
        if let Err(e) = server.node_update_allocs(chunk.to_vec()).await {
            eprintln!("fleet update failed: {e}");
        }
    }
    n
}

/// The state index `fleet_round` last scanned.
static FLEET_SEEN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Running allocations on live nodes.
pub(crate) fn running(server: &Server, down: &HashSet<String>) -> usize {
    server
        .state()
        .snapshot()
        .allocs()
        .filter(|a| {
            !a.server_terminal_status()
                && a.client_status == alloc_client_status::RUNNING
                && !down.contains(&a.node_id)
        })
        .count()
}

/// p-th percentile (0..=100) of sorted `v`.
pub(crate) fn percentile(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let i = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
    v[i.min(v.len() - 1)]
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "c1m".into());
    match mode.as_str() {
        "c1m" => c1m::run().await,
        "system" => system::run().await,
        "heal" => heal::run().await,
        "drain" => drain::run().await,
        other => {
            eprintln!("unknown mode {other:?}: c1m, system, heal or drain");
            std::process::exit(2);
        }
    }
}
