//! The scheduler benchmark workloads, shared by the criterion bench and the
//! release-mode harness.

#![allow(dead_code)]

use nomad_sim::{ClientAck, JobTemplate, NodeGroup, SchedulerSettings, SimOptions, Simulator};

/// C1M's nodes: 4,000 MHz (4 cores) and 16 GiB, split evenly over `dc1`
/// and `dc2`; half of each datacenter has `meta.tier = gold`.
pub fn c1m_nodes(nodes: usize) -> Vec<NodeGroup> {
    let quarter = nodes / 4;
    let mut out = Vec::new();
    for (i, (dc, tier)) in [
        ("dc1", "gold"),
        ("dc1", "plain"),
        ("dc2", "gold"),
        ("dc2", "plain"),
    ]
    .into_iter()
    .enumerate()
    {
        let count = if i == 3 { nodes - 3 * quarter } else { quarter };
        out.push(
            NodeGroup::new(format!("{dc}-{tier}"), count)
                .datacenter(dc)
                .class(format!("class-{}", i % 2))
                .cpu(4000, 4)
                .memory(16 * 1024)
                .meta("tier", [tier]),
        );
    }
    out
}

/// One C1M job: a service group of `count` asking 10 MHz and 32 MB (a
/// million of them fill the cluster to 50% CPU and 39% memory); odd jobs
/// are constrained to the gold half of the nodes.
pub fn c1m_job(i: usize, count: i64) -> JobTemplate {
    let mut t = JobTemplate::new(format!("job-{i:04}"), count)
        .datacenters(["dc1", "dc2"])
        .resources(10, 32);
    if i % 2 == 1 {
        t = t.constraint("${meta.tier}", "=", "gold");
    }
    t
}

/// Options for benchmark runs: one worker, clients acknowledge at once,
/// placements counted but not listed.
pub fn options(seed: u64) -> SimOptions {
    SimOptions {
        seed,
        workers: 1,
        client_ack: ClientAck::Immediate,
        record_placements: false,
        ..SimOptions::default()
    }
}

/// An empty C1M-shaped cluster of `nodes` nodes.
pub fn cluster(nodes: usize, algorithm: &str, seed: u64) -> Simulator {
    let settings = SchedulerSettings {
        algorithm: algorithm.to_string(),
        ..SchedulerSettings::default()
    };
    let mut sim = Simulator::new(options(seed), &settings);
    for g in c1m_nodes(nodes) {
        sim.add_node_group(&g);
    }
    sim
}

/// `cluster` with one service job of `count` registered (its evaluation
/// queued).
pub fn one_service_job(nodes: usize, count: i64, algorithm: &str) -> Simulator {
    let mut sim = cluster(nodes, algorithm, 1);
    sim.add_jobs(&c1m_job(0, count)).expect("valid job");
    sim
}

/// `cluster` with one system job registered.
pub fn one_system_job(nodes: usize) -> Simulator {
    let mut sim = cluster(nodes, "binpack", 1);
    sim.add_jobs(
        &JobTemplate::new("sys", 1)
            .job_type("system")
            .datacenters(["dc1", "dc2"])
            .resources(10, 32),
    )
    .expect("valid job");
    sim
}
