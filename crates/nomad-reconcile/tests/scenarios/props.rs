//! Properties over random inputs: no panics, determinism, and no
//! over-placement.

use std::sync::Arc;

use nomad_types::consts::node_status;
use nomad_types::Allocation;
use proptest::prelude::*;

use crate::common::*;

#[derive(Debug, Clone)]
struct AllocSpec {
    index: u64,
    version: u64,
    client: usize,
    desired: usize,
    node: usize,
    migrate: bool,
    healthy: Option<bool>,
    canary: bool,
    unknown_since: Option<i64>,
}

fn alloc_spec() -> impl Strategy<Value = AllocSpec> {
    (
        0u64..12,
        0u64..3,
        0usize..6,
        0usize..3,
        0usize..6,
        any::<bool>(),
        proptest::option::of(any::<bool>()),
        any::<bool>(),
        proptest::option::of(0i64..600),
    )
        .prop_map(
            |(index, version, client, desired, node, migrate, healthy, canary, unknown_since)| {
                AllocSpec {
                    index,
                    version,
                    client,
                    desired,
                    node,
                    migrate,
                    healthy,
                    canary,
                    unknown_since,
                }
            },
        )
}

#[derive(Debug, Clone)]
struct Scenario {
    kind: usize,
    count: i64,
    version: u64,
    canaries: i64,
    max_parallel: i64,
    disconnect: bool,
    allocs: Vec<AllocSpec>,
    taints: Vec<(usize, usize)>,
    deployment: Option<(usize, bool, i64)>,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        0usize..2,
        0i64..8,
        0u64..3,
        0i64..3,
        0i64..3,
        any::<bool>(),
        proptest::collection::vec(alloc_spec(), 0..16),
        proptest::collection::vec((0usize..6, 0usize..4), 0..4),
        proptest::option::of((0usize..4, any::<bool>(), 0i64..5)),
    )
        .prop_map(
            |(
                kind,
                count,
                version,
                canaries,
                max_parallel,
                disconnect,
                allocs,
                taints,
                deployment,
            )| {
                Scenario {
                    kind,
                    count,
                    version,
                    canaries,
                    max_parallel,
                    disconnect,
                    allocs,
                    taints,
                    deployment,
                }
            },
        )
}

const CLIENT: [&str; 6] = [
    "running", "pending", "failed", "complete", "lost", "unknown",
];
const DESIRED: [&str; 3] = ["run", "stop", "evict"];

fn versions(s: &Scenario) -> Vec<nomad_types::Job> {
    let mut base = if s.kind == 0 {
        service(s.count)
    } else {
        batch(s.count)
    };
    set_update(&mut base, |u| {
        u.canary = Some(s.canaries);
        u.max_parallel = Some(s.max_parallel);
    });
    if s.disconnect {
        disconnect(&mut base, 5 * MINUTE, true, "best_score");
    }
    let mut out = vec![base];
    for v in 1..=2 {
        let prev = out[v - 1].clone();
        out.push(next_version(&prev, v % 2 == 1));
    }
    out
}

fn build(s: &Scenario) -> Cluster {
    let jobs: Vec<Arc<nomad_types::Job>> = versions(s).into_iter().map(Arc::new).collect();
    let job = jobs[s.version as usize].clone();
    let existing: Vec<Allocation> = s
        .allocs
        .iter()
        .enumerate()
        .map(|(n, spec)| {
            let v = spec.version.min(s.version) as usize;
            let mut a = alloc_in(&jobs[v], "web", spec.index, &format!("n{}", spec.node));
            a.id = format!("a{n}");
            a.client_status = CLIENT[spec.client].into();
            a.desired_status = DESIRED[spec.desired].into();
            if a.client_status == "failed" {
                a = failed_at(a, NOW - (n as i64) * 7 * SECOND);
            }
            a.desired_transition.migrate = Some(spec.migrate);
            if let Some(since) = spec.unknown_since {
                a = with_state(a, "unknown", NOW - since * SECOND);
            }
            if spec.healthy.is_some() || spec.canary {
                a = in_deployment(a, "d1", spec.healthy, spec.canary);
            }
            a
        })
        .collect();
    let mut c = Cluster::new(&job, existing);
    for (n, kind) in &s.taints {
        let id = format!("n{n}");
        c = match kind {
            0 => c.taint(node(&id, node_status::DOWN)),
            1 => c.taint(draining(&id)),
            2 => c.taint(node(&id, node_status::DISCONNECTED)),
            _ => c.gone(&id),
        };
    }
    if let Some((status, promoted, healthy)) = s.deployment {
        let statuses = ["running", "paused", "failed", "successful"];
        let mut st = dstate(s.count);
        st.promoted = promoted;
        st.healthy_allocs = healthy;
        st.desired_canaries = s.canaries;
        st.placed_canaries = s
            .allocs
            .iter()
            .enumerate()
            .filter(|(_, a)| a.canary)
            .map(|(n, _)| format!("a{n}"))
            .collect();
        c = c.deployment(deployment(&job, "d1", statuses[status], st));
    }
    c
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn reconcile_is_deterministic_and_bounded(s in scenario()) {
        let c = build(&s);
        let first = c.run();
        let second = c.run();
        prop_assert_eq!(&first, &second);
        // The order allocations come in does not matter either.
        let mut reversed = build(&s);
        reversed.existing.reverse();
        prop_assert_eq!(&first, &reversed.run());
        // Placements never exceed the group's count.
        let placed = first.place.iter().filter(|p| p.task_group == "web").count() as i64;
        prop_assert!(placed <= s.count.max(0));
        // Nothing is both stopped and updated in place.
        for u in &first.inplace_update {
            prop_assert!(!first.stop.iter().any(|st| st.alloc.id == u.id));
        }
        // Destructive updates always name their group.
        for d in &first.destructive_update {
            prop_assert_eq!(d.place_task_group.as_str(), "web");
        }
    }

    #[test]
    fn healthy_current_allocations_converge_to_count(
        count in 0i64..12,
        indexes in proptest::collection::vec(0u64..15, 0..20),
    ) {
        let job = service(count);
        let a = Arc::new(job.clone());
        let existing: Vec<Allocation> = indexes
            .iter()
            .enumerate()
            .map(|(n, i)| {
                let mut al = alloc(&a, *i);
                al.id = format!("a{n}");
                al
            })
            .collect();
        let total = existing.len() as i64;
        let r = Cluster::new(&job, existing).run();
        prop_assert!(r.place.len() as i64 <= count);
        prop_assert!(r.destructive_update.is_empty() && r.inplace_update.is_empty());
        let after = total - r.stop.len() as i64 + r.place.len() as i64;
        prop_assert_eq!(after, count);
        // Names stay unique after the change.
        let stopped: std::collections::HashSet<&str> =
            r.stop.iter().map(|s| s.alloc.id.as_str()).collect();
        let mut names: Vec<String> = indexes
            .iter()
            .enumerate()
            .filter(|(n, _)| !stopped.contains(format!("a{n}").as_str()))
            .map(|(_, i)| format!("example.web[{i}]"))
            .collect();
        names.extend(r.place.iter().map(|p| p.name.clone()));
        let unique: std::collections::HashSet<&String> = names.iter().collect();
        let dup_input = {
            let set: std::collections::HashSet<&u64> = indexes.iter().collect();
            set.len() != indexes.len()
        };
        if !dup_input {
            prop_assert_eq!(unique.len(), names.len());
        }
    }

    #[test]
    fn node_reconcile_is_deterministic(
        version in 0u64..2,
        alloc_nodes in proptest::collection::vec((0usize..6, 0u64..2, 0usize..6), 0..10),
        ready in proptest::collection::vec(0usize..6, 0..6),
        taints in proptest::collection::vec((0usize..6, 0usize..3), 0..3),
    ) {
        let v0 = job_of("system", 1);
        let v1 = next_version(&v0, true);
        let jobs = [Arc::new(v0), Arc::new(v1)];
        let existing: Vec<Allocation> = alloc_nodes
            .iter()
            .enumerate()
            .map(|(n, (node, v, client))| {
                let mut a = alloc_in(&jobs[(*v).min(version) as usize], "web", 0, &format!("n{node}"));
                a.id = format!("a{n}");
                a.client_status = CLIENT[*client].into();
                a
            })
            .collect();
        let ready_ids: Vec<String> = ready.iter().map(|n| format!("n{n}")).collect();
        let ready_refs: Vec<&str> = ready_ids.iter().map(String::as_str).collect();
        let mut c = Nodes::new(&jobs[version as usize], &ready_refs, existing);
        for (n, kind) in taints {
            let id = format!("n{n}");
            let status = [node_status::DOWN, node_status::DISCONNECTED, node_status::READY][kind];
            c = c.taint(node(&id, status));
        }
        let a = c.run();
        let b = c.run();
        prop_assert_eq!(&a, &b);
        c.existing.reverse();
        c.ready.reverse();
        prop_assert_eq!(&a, &c.run());
        // At most one placement per node and name.
        let mut seen = std::collections::HashSet::new();
        for p in &a.place {
            prop_assert!(seen.insert((p.node_id.clone(), p.name.clone())));
        }
    }
}
