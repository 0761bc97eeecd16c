//! The system scheduler: one allocation per eligible node.

use super::*;

#[test]
fn places_one_per_node_including_new_nodes() {
    let mut h = H::with_nodes(5);
    let j = h.register(job("sys", "system", 1));
    let out = h.eval(&j);
    assert_eq!(out.eval.status, "complete");
    assert_eq!(out.allocs_placed, 5);
    assert_eq!(per_node(&h.live("sys")).len(), 5);
    assert!(h.live("sys").iter().all(|a| a.name == "sys.web[0]"));

    h.add_node(node("node-new"));
    let mut eval = h.next_eval(&j);
    eval.triggered_by = "node-update".into();
    eval.node_id = "node-new".into();
    let out = h.process(&eval);
    assert_eq!(out.allocs_placed, 1);
    assert_eq!(h.live("sys").len(), 6);
    assert!(h.nodes_of("sys").contains(&"node-new".to_string()));
}

#[test]
fn infeasible_nodes_are_skipped_without_failing() {
    let mut h = H::with_nodes(3);
    let mut win = node("win");
    win.attributes
        .insert("kernel.name".into(), "windows".into());
    h.add_node(win);
    let mut j = job("sys", "system", 1);
    j.constraints
        .push(constraint("${attr.kernel.name}", "=", "linux"));
    let out = h.run(j);
    assert_eq!(out.eval.status, "complete");
    assert_eq!(h.live("sys").len(), 3);
    assert!(out.eval.failed_tg_allocs.is_empty());
    assert_eq!(out.eval.queued_allocations["web"], 0);
}

#[test]
fn infeasible_everywhere_reports_the_filter() {
    let mut h = H::with_nodes(2);
    let mut j = job("sys", "system", 1);
    j.constraints
        .push(constraint("${attr.kernel.name}", "=", "windows"));
    let out = h.run(j);
    let m = &out.eval.failed_tg_allocs["web"];
    assert_eq!(m.nodes_filtered, 2);
    assert_eq!(m.constraint_filtered["${attr.kernel.name} = windows"], 2);
    assert_eq!(
        m.explanation,
        "all 2 nodes were filtered by constraint ${attr.kernel.name} = windows; nodes have: linux (2)"
    );
}

#[test]
fn exhausted_node_gets_a_blocked_eval() {
    let mut h = H::with_nodes(2);
    let mut j = job("sys", "system", 1);
    resources(&mut j, 100, 6000);
    h.run(j.clone());
    // A second system job that no longer fits anywhere.
    let mut k = job("sys2", "system", 1);
    k.priority = Some(50);
    resources(&mut k, 100, 4000);
    let out = h.run(k);
    assert!(h.live("sys2").is_empty());
    let m = &out.eval.failed_tg_allocs["web"];
    assert_eq!(m.dimension_exhausted.get("memory"), Some(&1));
    assert_eq!(m.coalesced_failures, 1);
    let blocked: Vec<_> =
        h.p.created_evals
            .iter()
            .filter(|e| e.status == "blocked")
            .collect();
    assert_eq!(blocked.len(), 1);
    assert!(!blocked[0].node_id.is_empty());
    assert!(
        m.explanation.contains("2192 MB of memory free"),
        "{}",
        m.explanation
    );
}

#[test]
fn sysbatch_does_not_rerun_completed() {
    let mut h = H::with_nodes(2);
    let j = h.register(job("sb", "sysbatch", 1));
    h.eval(&j);
    assert_eq!(h.live("sb").len(), 2);
    for a in h.live("sb") {
        let mut done = (*a).clone();
        done.client_status = "complete".into();
        h.p.store.upsert_alloc(done);
    }
    let out = h.eval(&j);
    assert_eq!(out.plans_submitted, 0);
    assert!(h.live("sb").is_empty());
}

/// A system job whose group has `update` with `canary` percent.
fn canary_system(max_parallel: i64, canary: i64, memory_mb: i64) -> Job {
    let mut j = job("sys", "system", 1);
    let u = nomad_types::UpdateStrategy {
        max_parallel: Some(max_parallel),
        canary: Some(canary),
        ..nomad_types::UpdateStrategy::default_strategy()
    };
    j.update = Some(u.clone());
    j.task_groups[0].update = Some(u);
    resources(&mut j, 100, memory_mb);
    j
}

/// Every live allocation of `sys` running and healthy.
fn healthy(h: &mut H) {
    for a in h.live("sys") {
        let mut a = (*a).clone();
        a.client_status = "running".into();
        let canary = a.deployment_status.as_ref().is_some_and(|d| d.canary);
        a.deployment_status = Some(nomad_types::AllocDeploymentStatus {
            healthy: Some(true),
            canary,
            ..nomad_types::AllocDeploymentStatus::default()
        });
        h.p.store.upsert_alloc(a);
    }
}

fn by_memory(h: &H, memory_mb: i64) -> Vec<Arc<Allocation>> {
    h.live("sys")
        .into_iter()
        .filter(|a| {
            a.allocated_resources.as_ref().unwrap().tasks["web"]
                .memory
                .memory_mb
                == memory_mb
        })
        .collect()
}

#[test]
fn system_canaries_go_to_a_share_of_the_nodes_until_promoted() {
    let mut h = H::with_nodes(5);
    let v0 = h.register(canary_system(5, 50, 256));
    h.eval(&v0);
    // The first version goes everywhere: canaries are for updates.
    assert_eq!(by_memory(&h, 256).len(), 5);
    assert!(h
        .live("sys")
        .iter()
        .all(|a| a.deployment_status.as_ref().is_none_or(|d| !d.canary)));
    healthy(&mut h);

    let v1 = h.register(canary_system(5, 50, 300));
    let out = h.eval(&v1);
    assert_eq!(out.eval.status, "complete");
    let canaries = by_memory(&h, 300);
    assert_eq!(canaries.len(), 3, "50% of 5 nodes, rounded up");
    assert!(canaries
        .iter()
        .all(|a| a.deployment_status.as_ref().is_some_and(|d| d.canary)));
    assert_eq!(by_memory(&h, 256).len(), 2);
    let d =
        h.p.store
            .latest_deployment_by_job("default", "sys")
            .unwrap();
    assert_eq!(d.job_version, 1);
    let s = &d.task_groups["web"];
    assert_eq!(s.desired_canaries, 3);
    assert!(!s.promoted);
    let mut placed = s.placed_canaries.clone();
    placed.sort();
    let mut ids: Vec<String> = canaries.iter().map(|a| a.id.clone()).collect();
    ids.sort();
    assert_eq!(placed, ids);

    // Healthy canaries alone do not continue the rollout.
    healthy(&mut h);
    h.eval(&v1);
    assert_eq!(by_memory(&h, 256).len(), 2);
    assert_eq!(by_memory(&h, 300).len(), 3);

    // Promotion does.
    let mut promoted = (*h
        .p
        .store
        .latest_deployment_by_job("default", "sys")
        .unwrap())
    .clone();
    promoted.task_groups.get_mut("web").unwrap().promoted = true;
    h.p.store.upsert_deployment(promoted);
    h.eval(&v1);
    assert_eq!(by_memory(&h, 300).len(), 5);
    assert!(by_memory(&h, 256).is_empty());
}

#[test]
fn system_canaries_are_placed_at_most_max_parallel_at_a_time() {
    let mut h = H::with_nodes(5);
    let v0 = h.register(canary_system(1, 50, 256));
    h.eval(&v0);
    healthy(&mut h);
    let v1 = h.register(canary_system(1, 50, 300));
    h.eval(&v1);
    assert_eq!(by_memory(&h, 300).len(), 1);
    // Each healthy canary lets the next one go, up to the three wanted.
    for expected in [2, 3, 3] {
        healthy(&mut h);
        h.eval(&v1);
        assert_eq!(by_memory(&h, 300).len(), expected);
    }
    assert_eq!(by_memory(&h, 256).len(), 2);
}
