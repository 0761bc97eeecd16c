//! The scheduler's read interface over snapshots.
#![cfg(feature = "scheduler")]

mod common;

use std::borrow::Cow;
use std::collections::BTreeMap;

use common::*;
use nomad_scheduler::state::{NodeUsage, State};
use nomad_state::command::*;
use nomad_state::Command;
use nomad_types::alloc::{AllocatedCpuResources, AllocatedMemoryResources, AllocatedTaskResources};
use nomad_types::AllocatedResources;

fn sized(id: &str, node: &str, cpu: i64, mem: i64) -> nomad_types::Allocation {
    let mut a = alloc(id, "web", "g", node, "e");
    let mut tasks = BTreeMap::new();
    tasks.insert(
        "t".to_string(),
        AllocatedTaskResources {
            cpu: AllocatedCpuResources {
                cpu_shares: cpu,
                ..Default::default()
            },
            memory: AllocatedMemoryResources {
                memory_mb: mem,
                ..Default::default()
            },
            ..Default::default()
        },
    );
    a.allocated_resources = Some(
        AllocatedResources {
            tasks,
            ..Default::default()
        }
        .into(),
    );
    a
}

#[test]
fn lists_are_lent_sorted_and_usage_is_kept_running() {
    let mut c = Cluster::default();
    for n in ["n2", "n1", "n3"] {
        c.add_node(n);
    }
    c.register(job("web", &[("g", 4)]));
    let j = c.snap().job_by_id("default", "web").unwrap();
    c.place(
        &j,
        vec![
            sized("a1", "n1", 500, 256),
            sized("a2", "n1", 250, 128),
            sized("a3", "n2", 100, 64),
        ],
    );

    let snap = c.snap();
    let nodes = State::nodes(&snap);
    assert!(matches!(nodes, Cow::Borrowed(_)), "no copy");
    let ids: Vec<&str> = nodes.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids, ["n1", "n2", "n3"]);
    assert!(matches!(State::allocs_by_node(&snap, "n1"), Cow::Borrowed(s) if s.len() == 2));

    let check = |c: &Cluster| {
        let snap = c.snap();
        for n in ["n1", "n2", "n3"] {
            let expected = NodeUsage::of(snap.allocs_by_node(n).iter());
            assert_eq!(State::node_usage(&snap, n), expected, "node {n}");
        }
    };
    check(&c);
    assert_eq!(State::node_usage(&snap, "n1").allocs, 2);
    assert_eq!(State::node_usage(&snap, "n1").used.cpu, 750);

    // A finished allocation stops counting; a stopped-but-running one still counts.
    c.client_status("a1", "complete");
    c.ok(Command::ApplyPlanResults(ApplyPlanResults {
        allocs_stopped: vec![AllocStop {
            id: "a3".into(),
            ..Default::default()
        }],
        ..Default::default()
    }));
    check(&c);
    let snap = c.snap();
    assert_eq!(State::node_usage(&snap, "n1").used.cpu, 250);
    assert_eq!(State::node_usage(&snap, "n2").allocs, 1);

    // Survives a restore.
    let mut other = nomad_state::StateStore::default();
    nomad_state::Fsm::restore(&mut other, &nomad_state::Fsm::snapshot(&c.store)).unwrap();
    let restored = other.snapshot();
    assert_eq!(
        State::node_usage(&restored, "n1"),
        State::node_usage(&snap, "n1")
    );

    // Purging the job frees the nodes.
    c.ok(Command::JobDeregister(JobDeregister {
        namespace: "default".into(),
        job_id: "web".into(),
        purge: true,
        ..Default::default()
    }));
    check(&c);
    assert_eq!(State::node_usage(&c.snap(), "n1"), NodeUsage::default());
}

#[test]
fn config_jobs_and_deployments_read_through() {
    let mut c = Cluster::default();
    let snap = c.snap();
    assert!(
        matches!(State::scheduler_config(&snap), Cow::Owned(_)),
        "defaults before any write"
    );
    assert_eq!(
        State::scheduler_config(&snap).scheduler_algorithm,
        "binpack"
    );
    c.ok(Command::SchedulerConfig(SchedulerConfigUpdate {
        config: nomad_types::SchedulerConfiguration {
            scheduler_algorithm: "spread".into(),
            ..Default::default()
        },
        cas_index: Some(0),
    }));
    let r = c.apply(Command::SchedulerConfig(SchedulerConfigUpdate {
        cas_index: Some(0),
        ..Default::default()
    }));
    assert!(r.error.is_some(), "stale check-and-set refused");
    c.register(job("web", &[("g", 1)]));
    c.register(job("web", &[("g", 2)]));
    let snap = c.snap();
    assert_eq!(State::scheduler_config(&snap).scheduler_algorithm, "spread");
    assert_eq!(
        State::job_by_id(&snap, "default", "web").unwrap().version(),
        1
    );
    assert_eq!(
        State::job_by_id_and_version(&snap, "default", "web", 0)
            .unwrap()
            .task_groups[0]
            .count,
        Some(1)
    );
    assert_eq!(State::latest_index(&snap), c.next - 1);
    assert!(State::latest_deployment_by_job(&snap, "default", "web").is_none());
}
