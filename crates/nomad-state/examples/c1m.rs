//! C1M: a million allocations (1,000 jobs × 1,000) on 10,000 nodes, applied
//! through the FSM; reports time and memory. Run in release mode:
//!
//! ```text
//! cargo run --release -p nomad-state --example c1m [-- JOBS ALLOCS_PER_JOB NODES]
//! ```
//!
//! Measurements only: nothing here asserts a timing.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use nomad_state::command::*;
use nomad_state::{Command, Fsm, StateStore, Table};
use nomad_types::alloc::{
    AllocatedCpuResources, AllocatedMemoryResources, AllocatedSharedResources,
    AllocatedTaskResources,
};
use nomad_types::{
    AllocMetric, AllocatedResources, Allocation, Evaluation, Job, Nanos, Node, Resources, Task,
    TaskGroup,
};

fn uuid(kind: u32, n: u64) -> String {
    // Deterministic, UUID-shaped IDs (the FSM never makes IDs itself).
    let h = n.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (u64::from(kind) << 56);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        (h >> 32) as u32,
        (h >> 16) as u16,
        h as u16,
        kind as u16,
        n & 0xffff_ffff_ffff
    )
}

fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn job(i: usize, count: i64) -> Job {
    let mut j = Job::new(format!("job-{i:04}"), "service");
    j.datacenters = vec!["dc1".into()];
    j.task_groups = vec![TaskGroup {
        name: Some("web".into()),
        count: Some(count),
        tasks: vec![Task {
            name: "server".into(),
            driver: "docker".into(),
            resources: Some(Resources {
                cpu: Some(100),
                memory_mb: Some(64),
                ..Resources::default()
            }),
            ..Task::default()
        }],
        ..TaskGroup::default()
    }];
    j
}

fn alloc(id: String, job: &Job, idx: usize, node: &Node, eval_id: &str) -> Allocation {
    let mut tasks = BTreeMap::new();
    tasks.insert(
        "server".to_string(),
        AllocatedTaskResources {
            cpu: AllocatedCpuResources {
                cpu_shares: 100,
                ..Default::default()
            },
            memory: AllocatedMemoryResources {
                memory_mb: 64,
                ..Default::default()
            },
            ..Default::default()
        },
    );
    Allocation {
        id,
        namespace: "default".into(),
        eval_id: eval_id.to_string(),
        name: format!("{}.web[{idx}]", job.id()),
        node_id: node.id.clone(),
        node_name: node.name.clone(),
        job_id: job.id().to_string(),
        task_group: "web".into(),
        allocated_resources: Some(
            AllocatedResources {
                tasks,
                shared: AllocatedSharedResources {
                    disk_mb: 300,
                    ..Default::default()
                },
                ..Default::default()
            }
            .into(),
        ),
        metrics: Some(AllocMetric {
            nodes_evaluated: 100,
            nodes_in_pool: 10_000,
            allocation_time: Nanos(12_000),
            ..AllocMetric::default()
        }),
        desired_status: "run".into(),
        client_status: "pending".into(),
        create_time: 1_700_000_000_000_000_000,
        modify_time: 1_700_000_000_000_000_000,
        ..Allocation::default()
    }
}

/// Baseline: the same allocations held in a plain `Vec<Arc<Allocation>>`
/// (sharing their job), without any store, to tell the objects' own
/// footprint from the store's.
fn objects_only(jobs: usize, per_job: usize, node_count: usize) {
    let (rss0, _) = rss_kib();
    let nodes: Vec<Node> = (0..node_count)
        .map(|i| Node {
            id: uuid(1, i as u64),
            name: format!("client-{i:05}"),
            ..Node::default()
        })
        .collect();
    let mut all: Vec<Arc<Allocation>> = Vec::with_capacity(jobs * per_job);
    let mut n = 0u64;
    for i in 0..jobs {
        let j = Arc::new(job(i, per_job as i64));
        for k in 0..per_job {
            n += 1;
            let mut a = alloc(
                uuid(3, n),
                &j,
                k,
                &nodes[n as usize % node_count],
                &uuid(2, i as u64),
            );
            a.job = Some(Arc::clone(&j));
            all.push(Arc::new(a));
        }
    }
    let (rss, _) = rss_kib();
    println!(
        "objects only: {} allocations in a Vec: RSS {:.0} MiB, {:.0} B per allocation",
        all.len(),
        mib(rss),
        (rss - rss0) as f64 * 1024.0 / all.len().max(1) as f64
    );
}

fn main() {
    if std::env::args().any(|a| a == "--objects-only") {
        let args: Vec<usize> = std::env::args()
            .skip(1)
            .filter_map(|a| a.parse().ok())
            .collect();
        objects_only(
            args.first().copied().unwrap_or(1000),
            args.get(1).copied().unwrap_or(1000),
            args.get(2).copied().unwrap_or(10_000),
        );
        return;
    }
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let jobs = args.first().copied().unwrap_or(1000);
    let per_job = args.get(1).copied().unwrap_or(1000);
    let node_count = args.get(2).copied().unwrap_or(10_000);
    println!(
        "C1M: {jobs} jobs x {per_job} allocations = {} allocations on {node_count} nodes",
        jobs * per_job
    );
    println!(
        "sizes: Allocation {} B, Job {} B, Node {} B (inline, before heap fields)",
        std::mem::size_of::<Allocation>(),
        std::mem::size_of::<Job>(),
        std::mem::size_of::<Node>()
    );
    let (rss0, _) = rss_kib();

    let mut store = StateStore::default();
    let mut index = 0u64;
    let mut next = || {
        index += 1;
        index
    };

    let t = Instant::now();
    let mut nodes = Vec::with_capacity(node_count);
    for i in 0..node_count {
        let mut n = Node {
            id: uuid(1, i as u64),
            name: format!("client-{i:05}"),
            datacenter: "dc1".into(),
            status: "ready".into(),
            ..Node::default()
        };
        n.attributes.insert("kernel.name".into(), "linux".into());
        n.attributes
            .insert("unique.hostname".into(), format!("client-{i:05}"));
        let r = store.apply(
            next(),
            Command::NodeRegister(NodeRegister { node: n.clone() }),
        );
        assert!(r.is_ok());
        nodes.push(n);
    }
    println!("nodes: {node_count} registered in {:?}", t.elapsed());

    // Register every job with its evaluation, then one plan per job.
    let t = Instant::now();
    let mut apply_plans = std::time::Duration::ZERO;
    let mut build_plans = std::time::Duration::ZERO;
    let mut plan_bytes = 0usize;
    let mut sample_entry: Option<Vec<u8>> = None;
    let mut n_alloc = 0u64;
    for i in 0..jobs {
        let eval_id = uuid(2, i as u64);
        let j = job(i, per_job as i64);
        let r = store.apply(
            next(),
            Command::JobRegister(JobRegister {
                job: j,
                eval: Some(Evaluation {
                    id: eval_id.clone(),
                    namespace: "default".into(),
                    job_id: format!("job-{i:04}"),
                    status: "pending".into(),
                    ..Evaluation::default()
                }),
                submit_time: 1_700_000_000_000_000_000,
                ..JobRegister::default()
            }),
        );
        assert!(r.is_ok(), "{:?}", r.error);
        let tb = Instant::now();
        let stored = store
            .snapshot()
            .job_by_id("default", &format!("job-{i:04}"))
            .unwrap();
        let allocs: Vec<Allocation> = (0..per_job)
            .map(|k| {
                n_alloc += 1;
                let node = &nodes[(n_alloc as usize) % node_count];
                alloc(uuid(3, n_alloc), &stored, k, node, &eval_id)
            })
            .collect();
        let cmd = Command::ApplyPlanResults(ApplyPlanResults {
            job: Some(Arc::clone(&stored)),
            allocs_updated: allocs,
            eval_id: eval_id.clone(),
            updated_at: 1_700_000_000_000_000_000,
            ..ApplyPlanResults::default()
        });
        if i == 0 {
            let bytes = cmd.encode();
            plan_bytes = bytes.len();
            sample_entry = Some(bytes);
        }
        build_plans += tb.elapsed();
        let ta = Instant::now();
        let r = store.apply(next(), cmd);
        apply_plans += ta.elapsed();
        if (i + 1) % (jobs / 5).max(1) == 0 {
            println!(
                "  {} plans applied, {:?} so far (last plan {:?})",
                i + 1,
                apply_plans,
                ta.elapsed()
            );
        }
        assert!(r.is_ok(), "{:?}", r.error);
    }
    let total = t.elapsed();
    let (rss, hwm) = rss_kib();
    let snap = store.snapshot();
    println!(
        "placed: {} allocations in {:?} total; FSM apply of the {jobs} plans {:?} ({:.0} allocs/s), building the entries {:?}",
        snap.alloc_count(),
        total,
        apply_plans,
        snap.alloc_count() as f64 / apply_plans.as_secs_f64(),
        build_plans
    );
    println!(
        "memory: RSS {:.0} MiB (peak {:.0} MiB), {:.0} B per allocation over the empty process",
        mib(rss),
        mib(hwm),
        (rss - rss0) as f64 * 1024.0 / snap.alloc_count().max(1) as f64
    );

    // The log entry of one plan.
    if let Some(bytes) = &sample_entry {
        let t = Instant::now();
        let n = 20;
        for _ in 0..n {
            let _ = Command::decode(bytes).unwrap();
        }
        let dec = t.elapsed() / n;
        println!(
            "plan entry: {per_job} allocations = {} KiB ({} B/alloc), decode {:?} ({:.0} MB/s)",
            plan_bytes / 1024,
            plan_bytes / per_job.max(1),
            dec,
            plan_bytes as f64 / dec.as_secs_f64() / 1e6
        );
    }

    // Snapshots and scheduler reads.
    let reader = store.reader();
    let t = Instant::now();
    let snaps: Vec<_> = (0..10_000).map(|_| reader.snapshot()).collect();
    println!("snapshot: {:?} each (10,000 taken)", t.elapsed() / 10_000);
    drop(snaps);
    let t = Instant::now();
    let mut seen = 0usize;
    for n in snap.nodes() {
        seen += snap.allocs_by_node(&n.id).len();
    }
    println!(
        "allocs_by_node over every node: {seen} allocations in {:?}",
        t.elapsed()
    );

    // Clients report: every allocation of 100 jobs goes running, in
    // batches of 1,000 as clients' update batches would.
    let t = Instant::now();
    let mut updates = 0;
    for i in 0..jobs.min(100) {
        let ids: Vec<String> = snap
            .allocs_by_job("default", &format!("job-{i:04}"))
            .iter()
            .map(|a| a.id.clone())
            .collect();
        for chunk in ids.chunks(1000) {
            let cmd = Command::AllocClientUpdate(AllocClientUpdate {
                allocs: chunk
                    .iter()
                    .map(|id| ClientAllocUpdate {
                        id: id.clone(),
                        client_status: "running".into(),
                        modify_time: 1_700_000_001_000_000_000,
                        ..ClientAllocUpdate::default()
                    })
                    .collect(),
                evals: vec![],
            });
            updates += chunk.len();
            assert!(store.apply(next(), cmd).is_ok());
        }
    }
    let el = t.elapsed();
    println!(
        "client updates: {updates} in {el:?} ({:.0}/s); summary of job-0000: {:?}",
        updates as f64 / el.as_secs_f64(),
        store
            .snapshot()
            .job_summary("default", "job-0000")
            .map(|s| s.summary["web"].clone())
    );
    drop(snap);

    let t = Instant::now();
    let digest = store.digest();
    println!("digest: {} in {:?}", digest.combined(), t.elapsed());

    let t = Instant::now();
    let bytes = Fsm::snapshot(&store);
    let enc = t.elapsed();
    let t = Instant::now();
    let mut restored = StateStore::default();
    restored.restore(&bytes).unwrap();
    let dec = t.elapsed();
    assert_eq!(restored.digest(), digest);
    println!(
        "state snapshot: {:.0} MiB, encode {:?}, restore {:?} (digest equal); tables at index {}",
        bytes.len() as f64 / (1 << 20) as f64,
        enc,
        dec,
        restored.snapshot().table_index(Table::Allocs)
    );
    let (_, hwm) = rss_kib();
    println!(
        "peak RSS with both stores and the encoded snapshot: {:.0} MiB",
        mib(hwm)
    );
}
