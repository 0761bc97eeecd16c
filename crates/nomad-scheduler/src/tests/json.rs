//! The JSON clients see must not change when the in-memory representation
//! does. The fixture is what this scenario wrote before allocations shared
//! their resources and metrics used compact maps (Go-escaped, one object a
//! line: each allocation, its list stub, then the evaluations). If a
//! placement decision changes on purpose, regenerate it from this test's
//! output.

use nomad_types::json::to_string_go;
use nomad_types::{Affinity, Constraint, NetworkResource, Port, Spread};

use crate::testing::{eval_for, job, node, MemPlanner, MemState};
use crate::SchedulerOptions;

fn scenario() -> Vec<String> {
    let mut cluster = MemState::new();
    for i in 0..6 {
        let mut n = node(&format!("node-{i}"));
        n.datacenter = if i < 3 { "dc1".into() } else { "dc2".into() };
        n.node_class = if i % 2 == 0 { "a".into() } else { "b".into() };
        n.meta.insert("rack".into(), format!("r{}", i % 3));
        if i == 5 {
            if let Some(r) = n.node_resources.as_mut() {
                r.memory.memory_mb = 1024;
            }
        }
        cluster.upsert_node(n);
    }
    let mut web = job("web", "service", 5);
    web.datacenters = vec!["dc1".into(), "dc2".into()];
    web.spreads = vec![Spread {
        attribute: "${node.datacenter}".into(),
        weight: Some(50),
        spread_target: vec![],
    }];
    web.affinities = vec![Affinity {
        l_target: "${node.class}".into(),
        operand: "=".into(),
        r_target: "a".into(),
        weight: Some(50),
    }];
    web.task_groups[0].networks = vec![NetworkResource {
        dynamic_ports: vec![Port {
            label: "http".into(),
            ..Default::default()
        }],
        ..Default::default()
    }];
    web.canonicalize();
    let mut big = job("big", "service", 3);
    big.datacenters = vec!["dc1".into(), "dc2".into()];
    big.constraints = vec![Constraint::new("${meta.rack}", "!=", "r1")];
    if let Some(r) = big.task_groups[0].tasks[0].resources.as_mut() {
        r.memory_mb = Some(7000);
    }
    let mut sys = job("sys", "system", 1);
    sys.datacenters = vec!["dc1".into(), "dc2".into()];
    if let Some(r) = sys.task_groups[0].tasks[0].resources.as_mut() {
        r.memory_mb = Some(900);
    }
    let mut planner = MemPlanner::new(cluster);
    for (k, j) in [web, big, sys].into_iter().enumerate() {
        let j = planner.store.upsert_job(j);
        let eval = eval_for(&j, &format!("00000000-0000-4000-8000-00000000000{k}"));
        let options = SchedulerOptions {
            now: 1_700_000_000_000_000_000,
            seed: 7,
        };
        planner.process(&eval, &options).expect("process");
    }
    let mut allocs: Vec<_> = planner.store.allocs().cloned().collect();
    allocs.sort_by(|a, b| a.id.cmp(&b.id));
    let mut out = Vec::new();
    for a in &allocs {
        let mut a = (**a).clone();
        a.job = None;
        out.push(to_string_go(&a).expect("json"));
        out.push(to_string_go(&a.stub()).expect("json"));
    }
    for e in planner
        .updated_evals
        .iter()
        .chain(planner.created_evals.iter())
    {
        out.push(to_string_go(e).expect("json"));
    }
    out
}

#[test]
fn placement_json_is_unchanged_by_the_compact_representation() {
    let want: Vec<&str> = include_str!("fixtures/placements_before_compaction.jsonl")
        .lines()
        .collect();
    let got = scenario();
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "line {}", i + 1);
    }
    // The scenario covers what the compact types hold.
    let all = want.join("\n");
    for needle in [
        "\"allocation-spread\":",
        "\"node-affinity\":1.0",
        "\"DimensionExhausted\":{\"memory\":",
        "\"ConstraintFiltered\":{",
        "\"Ports\":[{\"Label\":\"http\"",
        "\"NodesAvailable\":{\"dc1\":3,\"dc2\":3}",
    ] {
        assert!(all.contains(needle), "fixture lacks {needle}");
    }
}
