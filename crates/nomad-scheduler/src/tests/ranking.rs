//! Scoring shapes placement: bin packing and spread fit, job
//! anti-affinity, affinities, spread blocks, rescheduling penalties,
//! score metadata, determinism.

use nomad_types::alloc::{
    AllocatedCpuResources, AllocatedMemoryResources, AllocatedResources, AllocatedSharedResources,
    AllocatedTaskResources,
};
use nomad_types::{Affinity, SchedulerConfiguration, Spread, SpreadTarget};

use super::*;

/// An allocation of another job using `cpu` / `memory` on `node`.
fn filler(id: &str, node: &str, cpu: i64, memory: i64) -> Allocation {
    let mut tasks = std::collections::BTreeMap::new();
    tasks.insert(
        "t".to_string(),
        AllocatedTaskResources {
            cpu: AllocatedCpuResources {
                cpu_shares: cpu,
                ..AllocatedCpuResources::default()
            },
            memory: AllocatedMemoryResources {
                memory_mb: memory,
                ..AllocatedMemoryResources::default()
            },
            ..AllocatedTaskResources::default()
        },
    );
    Allocation {
        id: id.into(),
        namespace: "default".into(),
        job_id: "filler".into(),
        task_group: "t".into(),
        node_id: node.into(),
        name: "filler.t[0]".into(),
        desired_status: "run".into(),
        client_status: "running".into(),
        allocated_resources: Some(std::sync::Arc::new(AllocatedResources {
            tasks,
            shared: AllocatedSharedResources {
                disk_mb: 0,
                ..AllocatedSharedResources::default()
            },
            ..AllocatedResources::default()
        })),
        ..Allocation::default()
    }
}

#[test]
fn binpack_prefers_the_fuller_node() {
    let mut h = H::with_nodes(2);
    h.p.store.upsert_alloc(filler("f1", "node-01", 2000, 4096));
    h.run(service("web", 1));
    assert_eq!(h.nodes_of("web"), vec!["node-01"]);
}

#[test]
fn spread_algorithm_prefers_the_emptier_node() {
    let mut h = H::with_nodes(2);
    h.p.store.upsert_alloc(filler("f1", "node-01", 2000, 4096));
    h.p.store.set_scheduler_config(SchedulerConfiguration {
        scheduler_algorithm: "spread".into(),
        ..SchedulerConfiguration::default()
    });
    h.run(service("web", 1));
    assert_eq!(h.nodes_of("web"), vec!["node-00"]);
}

#[test]
fn job_anti_affinity_spreads_a_jobs_allocations() {
    let mut h = H::with_nodes(4);
    h.run(service("web", 4));
    let counts = per_node(&h.live("web"));
    assert_eq!(counts.len(), 4, "{counts:?}");
    let meta = h.live("web")[0].metrics.clone().unwrap();
    assert!(!meta.score_meta_data.is_empty() && meta.score_meta_data.len() <= 5);
    for m in &meta.score_meta_data {
        assert!(m.scores.contains_key("binpack"));
        assert!(m.scores.contains_key("job-anti-affinity"));
        assert!(m.scores.contains_key("node-reschedule-penalty"));
        assert!(m.scores.contains_key("node-affinity"));
    }
    let norms: Vec<f64> = meta.score_meta_data.iter().map(|m| m.norm_score).collect();
    assert!(norms.windows(2).all(|w| w[0] >= w[1]), "{norms:?}");
}

#[test]
fn affinity_attracts_and_anti_affinity_repels() {
    let mut h = H::new();
    for i in 0..10 {
        let mut n = node(&format!("n{i:02}"));
        n.meta
            .insert("rack".into(), if i % 2 == 0 { "r1" } else { "r2" }.into());
        h.add_node(n);
    }
    let mut j = service("web", 4);
    j.task_groups[0].affinities.push(Affinity {
        l_target: "${meta.rack}".into(),
        operand: "=".into(),
        r_target: "r1".into(),
        weight: Some(100),
    });
    h.run(j);
    for a in h.live("web") {
        assert_eq!(h.node(&a.node_id).meta["rack"], "r1");
    }
    let mut j = service("away", 4);
    j.task_groups[0].affinities.push(Affinity {
        l_target: "${meta.rack}".into(),
        operand: "=".into(),
        r_target: "r1".into(),
        weight: Some(-100),
    });
    h.run(j);
    for a in h.live("away") {
        assert_eq!(h.node(&a.node_id).meta["rack"], "r2");
    }
}

fn dc_nodes(h: &mut H, dc: &str, n: usize) {
    for i in 0..n {
        let mut node = node(&format!("{dc}-{i:02}"));
        node.datacenter = dc.into();
        h.add_node(node);
    }
}

fn count_by_dc(h: &H, job: &str) -> Vec<(String, usize)> {
    let mut m = std::collections::BTreeMap::<String, usize>::new();
    for a in h.live(job) {
        *m.entry(h.node(&a.node_id).datacenter.clone()).or_default() += 1;
    }
    m.into_iter().collect()
}

#[test]
fn spread_targets_shape_placement_in_proportion() {
    let mut h = H::new();
    dc_nodes(&mut h, "dc1", 10);
    dc_nodes(&mut h, "dc2", 10);
    let mut j = service("web", 10);
    j.datacenters = vec!["dc1".into(), "dc2".into()];
    j.task_groups[0].spreads.push(Spread {
        attribute: "${node.datacenter}".into(),
        weight: Some(100),
        spread_target: vec![
            SpreadTarget {
                value: "dc1".into(),
                percent: 70,
            },
            SpreadTarget {
                value: "dc2".into(),
                percent: 30,
            },
        ],
    });
    h.run(j);
    assert_eq!(
        count_by_dc(&h, "web"),
        vec![("dc1".to_string(), 7), ("dc2".to_string(), 3)]
    );
}

#[test]
fn even_spread_balances_values() {
    let mut h = H::new();
    dc_nodes(&mut h, "dc1", 4);
    dc_nodes(&mut h, "dc2", 4);
    dc_nodes(&mut h, "dc3", 4);
    let mut j = service("web", 9);
    j.datacenters = vec!["*".into()];
    j.spreads.push(Spread {
        attribute: "${node.datacenter}".into(),
        weight: Some(100),
        spread_target: vec![],
    });
    h.run(j);
    assert_eq!(
        count_by_dc(&h, "web"),
        vec![
            ("dc1".to_string(), 3),
            ("dc2".to_string(), 3),
            ("dc3".to_string(), 3)
        ]
    );
}

#[test]
fn rescheduled_allocation_avoids_the_node_it_failed_on() {
    let mut h = H::with_nodes(2);
    // No update block: no deployment holds the failed allocation back.
    let mut j = service("web", 1);
    j.update = None;
    j.task_groups[0].update = None;
    let job = h.register(j);
    h.eval(&job);
    let first = h.live("web")[0].clone();
    let mut failed = (*first).clone();
    failed.client_status = "failed".into();
    failed.modify_time = 1_600_000_000_000_000_000;
    h.p.store.upsert_alloc(failed);
    let out = h.eval(&job);
    assert_eq!(out.eval.status, "complete");
    let live = h.live("web");
    let replacement = live
        .iter()
        .find(|a| a.id != first.id)
        .expect("replacement placed");
    assert_ne!(replacement.node_id, first.node_id);
    assert_eq!(replacement.previous_allocation, first.id);
    let tracker = replacement.reschedule_tracker.as_ref().unwrap();
    assert_eq!(tracker.events.len(), 1);
    assert_eq!(tracker.events[0].prev_node_id, first.node_id);
    let meta = &replacement.metrics.as_ref().unwrap().score_meta_data;
    assert!(meta
        .iter()
        .any(|m| m.scores.get("node-reschedule-penalty") == Some(&-1.0)));
}

fn plan_fingerprint(h: &H) -> Vec<(String, String, String)> {
    let mut v: Vec<(String, String, String)> =
        h.p.plans
            .iter()
            .flat_map(|p| p.node_allocation.values().flatten())
            .map(|a| (a.id.clone(), a.name.clone(), a.node_id.clone()))
            .collect();
    v.sort();
    v
}

#[test]
fn same_seed_same_plan() {
    let build = |seed: u64| {
        let mut h = H::with_nodes(20);
        h.seed = seed;
        let mut j = service("web", 15);
        j.task_groups[0].networks = vec![nomad_types::NetworkResource {
            dynamic_ports: vec![nomad_types::resources::Port {
                label: "http".into(),
                host_network: "default".into(),
                ..Default::default()
            }],
            ..Default::default()
        }];
        h.run(j);
        let ports: Vec<i64> = {
            let mut v: Vec<(String, i64)> = h
                .live("web")
                .iter()
                .map(|a| {
                    (
                        a.id.clone(),
                        a.allocated_resources.as_ref().unwrap().shared.ports[0].value,
                    )
                })
                .collect();
            v.sort();
            v.into_iter().map(|(_, p)| p).collect()
        };
        (plan_fingerprint(&h), ports)
    };
    assert_eq!(build(7), build(7));
    assert_ne!(build(7).0, build(8).0);
}
