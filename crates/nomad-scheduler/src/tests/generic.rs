//! The generic scheduler's evaluation lifecycle: blocked evaluations,
//! retries after partial commits, statuses, batch semantics.

use super::*;

#[test]
fn places_count_and_completes() {
    let mut h = H::with_nodes(3);
    let out = h.run(service("web", 5));
    assert_eq!(out.eval.status, "complete");
    assert_eq!(out.eval.status_description, "");
    assert_eq!(out.allocs_placed, 5);
    assert_eq!(out.plans_submitted, 1);
    assert_eq!(out.eval.queued_allocations["web"], 0);
    assert!(out.eval.failed_tg_allocs.is_empty());
    assert!(out.blocked_eval.is_none());
    let mut names: Vec<String> = h.live("web").iter().map(|a| a.name.clone()).collect();
    names.sort();
    assert_eq!(
        names,
        (0..5).map(|i| format!("web.web[{i}]")).collect::<Vec<_>>()
    );
    for a in h.live("web") {
        assert_eq!(a.desired_status, "run");
        assert_eq!(a.client_status, "pending");
        let m = a.metrics.as_ref().unwrap();
        assert_eq!(m.nodes_in_pool, 3);
        assert_eq!(m.nodes_available.get("dc1"), Some(&3));
        assert_eq!(&*m.node_pool, "default");
        let ar = a.allocated_resources.as_ref().unwrap();
        assert_eq!(ar.tasks["web"].cpu.cpu_shares, 500);
        assert_eq!(ar.tasks["web"].memory.memory_mb, 256);
        assert_eq!(ar.shared.disk_mb, 300);
    }
    // Nothing to do the second time.
    let job = h.p.store.job_by_id("default", "web").unwrap();
    let again = h.eval(&job);
    assert_eq!(again.eval.status, "complete");
    assert_eq!(again.plans_submitted, 0);
}

#[test]
fn no_capacity_creates_a_blocked_eval_with_metrics() {
    let mut h = H::with_nodes(2);
    let mut j = service("web", 10);
    resources(&mut j, 100, 2048);
    let out = h.run(j);
    assert_eq!(out.eval.status, "complete");
    assert_eq!(h.live("web").len(), 8);
    assert_eq!(out.eval.queued_allocations["web"], 2);
    let blocked = out.blocked_eval.clone().expect("blocked eval");
    assert_eq!(blocked.status, "blocked");
    assert_eq!(blocked.triggered_by, "queued-allocs");
    assert_eq!(
        blocked.status_description,
        "created to place remaining allocations"
    );
    assert_eq!(blocked.previous_eval, out.eval.id);
    assert_eq!(out.eval.blocked_eval, blocked.id);
    assert!(!blocked.escaped_computed_class);
    assert_eq!(
        blocked.class_eligibility.values().filter(|v| **v).count(),
        1
    );
    assert!(h.p.created_evals.iter().any(|e| e.id == blocked.id));

    let m = &out.eval.failed_tg_allocs["web"];
    assert_eq!(m.nodes_evaluated, 2);
    assert_eq!(m.nodes_exhausted, 2);
    assert_eq!(m.dimension_exhausted.get("memory"), Some(&2));
    assert_eq!(m.coalesced_failures, 1);
    assert_eq!(m.resources_exhausted["web"].memory_mb, Some(4096));
    assert_eq!(
        m.explanation,
        "no node in dc1 has 2048 MB of memory free; the closest, node-00, has 0 MB"
    );
    // The explanation is ours: present in JSON only when set.
    let json = serde_json::to_value(m).unwrap();
    assert!(json.get("Explanation").is_some());
    let empty = serde_json::to_value(nomad_types::AllocMetric::default()).unwrap();
    assert!(empty.get("Explanation").is_none());

    // Processing the blocked eval again without new capacity re-blocks it.
    let mut again = blocked.clone();
    again.status = "blocked".into();
    let out = h.process(&again);
    assert_eq!(out.eval.id, blocked.id);
    assert_eq!(h.p.reblocked_evals.len(), 1);
    // With a new node it completes.
    h.add_node(node("node-99"));
    let out = h.process(&again);
    assert_eq!(out.eval.status, "complete");
    assert_eq!(h.live("web").len(), 10);
}

#[test]
fn partial_commit_refreshes_and_retries() {
    let mut h = H::with_nodes(4);
    h.p.reject_next.insert("node-00".into());
    h.p.reject_next.insert("node-01".into());
    let out = h.run(service("web", 8));
    assert_eq!(out.eval.status, "complete");
    assert_eq!(out.plans_submitted, 2);
    assert_eq!(h.live("web").len(), 8);
    assert_eq!(out.allocs_placed, 8);
    assert_eq!(out.eval.queued_allocations["web"], 0);
}

#[test]
fn endless_conflicts_fail_after_the_attempt_limit() {
    let mut h = H::with_nodes(2);
    h.p.reject_always = true;
    // Without an update block no deployment is created, so no plan makes
    // progress.
    let mut j = service("web", 2);
    j.update = None;
    j.task_groups[0].update = None;
    let out = h.run(j);
    assert_eq!(out.eval.status, "failed");
    assert_eq!(out.eval.status_description, "maximum attempts reached (5)");
    assert_eq!(out.plans_submitted, 5);
    let blocked = out.blocked_eval.expect("blocked");
    assert_eq!(blocked.triggered_by, "max-plan-attempts");
    assert_eq!(
        blocked.status_description,
        "created due to placement conflicts"
    );

    let mut h = H::with_nodes(2);
    h.p.reject_always = true;
    let out = h.run(job("b", "batch", 2));
    assert_eq!(out.eval.status_description, "maximum attempts reached (2)");
}

#[test]
fn unknown_trigger_fails_the_eval() {
    let mut h = H::with_nodes(1);
    let job = h.register(service("web", 1));
    let mut eval = h.next_eval(&job);
    eval.triggered_by = "bogus".into();
    let out = h.process(&eval);
    assert_eq!(out.eval.status, "failed");
    assert_eq!(
        out.eval.status_description,
        "scheduler cannot handle 'bogus' evaluation reason"
    );
    assert!(h.live("web").is_empty());
}

#[test]
fn unknown_scheduler_is_an_error() {
    let mut h = H::with_nodes(1);
    let job = h.register(service("web", 1));
    let mut eval = h.next_eval(&job);
    eval.eval_type = "_core".into();
    let err =
        h.p.process(&eval, &SchedulerOptions::default())
            .unwrap_err();
    assert_eq!(err, crate::SchedulerError::UnknownScheduler("_core".into()));
}

#[test]
fn batch_does_not_replace_completed_allocations() {
    let mut h = H::with_nodes(2);
    let job = h.register(job("b", "batch", 2));
    h.eval(&job);
    assert_eq!(h.live("b").len(), 2);
    for a in h.live("b") {
        let mut done = (*a).clone();
        done.client_status = "complete".into();
        h.p.store.upsert_alloc(done);
    }
    let out = h.eval(&job);
    assert_eq!(out.eval.status, "complete");
    assert_eq!(out.plans_submitted, 0);
    assert!(h.live("b").is_empty());
}

#[test]
fn stopping_a_job_stops_its_allocations() {
    let mut h = H::with_nodes(2);
    let mut j = service("web", 3);
    h.run(j.clone());
    assert_eq!(h.live("web").len(), 3);
    j.stop = Some(true);
    let stopped = h.register(j);
    let mut eval = h.next_eval(&stopped);
    eval.triggered_by = "job-deregister".into();
    let out = h.process(&eval);
    assert_eq!(out.eval.status, "complete");
    assert!(h.live("web").is_empty());
    let plan = h.p.plans.last().unwrap();
    let stops: Vec<_> = plan.node_update.values().flatten().collect();
    assert_eq!(stops.len(), 3);
    assert!(stops.iter().all(|a| a.desired_status == "stop"));
}

#[test]
fn scaling_down_stops_the_highest_indexes() {
    let mut h = H::with_nodes(2);
    let mut j = service("web", 4);
    h.run(j.clone());
    j.task_groups[0].count = Some(2);
    h.run(j);
    let mut names: Vec<String> = h.live("web").iter().map(|a| a.name.clone()).collect();
    names.sort();
    assert_eq!(names, vec!["web.web[0]", "web.web[1]"]);
}

#[test]
fn in_place_update_keeps_nodes_and_ids() {
    let mut h = H::with_nodes(3);
    let mut j = service("web", 3);
    h.run(j.clone());
    let before: Vec<(String, String)> = {
        let mut v: Vec<_> = h
            .live("web")
            .iter()
            .map(|a| (a.id.clone(), a.node_id.clone()))
            .collect();
        v.sort();
        v
    };
    // A kill timeout change is not destructive.
    j.task_groups[0].tasks[0].kill_timeout = Some(nomad_types::Nanos(10_000_000_000));
    let out = h.run(j.clone());
    assert_eq!(out.eval.status, "complete");
    let after: Vec<(String, String)> = {
        let mut v: Vec<_> = h
            .live("web")
            .iter()
            .map(|a| (a.id.clone(), a.node_id.clone()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(before, after);
    assert!(h
        .live("web")
        .iter()
        .all(|a| a.job.as_ref().unwrap().version() == 1));
    // A resource change is destructive: new allocations replace the old
    // (all at once without an update block).
    j.update = None;
    j.task_groups[0].update = None;
    resources(&mut j, 600, 256);
    h.run(j);
    let live = h.live("web");
    assert_eq!(live.len(), 3, "{:?}", per_node(&live));
    assert!(live
        .iter()
        .all(|a| !before.iter().any(|(id, _)| *id == a.id)));
}

#[test]
fn purged_job_stops_everything() {
    let mut h = H::with_nodes(2);
    let j = h.register(service("web", 2));
    h.eval(&j);
    assert_eq!(h.live("web").len(), 2);
    let mut empty = MemState::new();
    std::mem::swap(&mut empty, &mut h.p.store);
    // Rebuild the store without the job but with its allocations.
    for n in empty.nodes().iter() {
        h.p.store.upsert_node((**n).clone());
    }
    for a in empty.allocs() {
        h.p.store.upsert_alloc((**a).clone());
    }
    let mut eval = h.next_eval(&j);
    eval.triggered_by = "job-deregister".into();
    let out = h.process(&eval);
    assert_eq!(out.eval.status, "complete");
    assert!(h.live("web").is_empty());
}

#[test]
fn delayed_reschedule_creates_a_follow_up_eval() {
    let mut h = H::with_nodes(2);
    let mut j = service("web", 1);
    j.update = None;
    j.task_groups[0].update = None;
    let job = h.register(j);
    h.eval(&job);
    let first = h.live("web")[0].clone();
    let mut failed = (*first).clone();
    failed.client_status = "failed".into();
    // Failed one second before "now": the default 30 s delay has not passed.
    failed.modify_time = 1_700_000_000_000_000_000 - 1_000_000_000;
    h.p.store.upsert_alloc(failed);
    let out = h.eval(&job);
    assert_eq!(out.eval.status, "complete");
    let followup =
        h.p.created_evals
            .iter()
            .find(|e| {
                e.triggered_by == "alloc-failure"
                    || e.triggered_by == "alloc-reschedule"
                    || !e.wait_until.is_zero()
            })
            .expect("follow-up eval");
    assert_eq!(followup.previous_eval, out.eval.id);
    assert_eq!(out.eval.next_eval, followup.id);
    assert!(out.blocked_eval.is_none());
    let updated = h.p.store.alloc_by_id(&first.id).unwrap();
    assert_eq!(updated.followup_eval_id, followup.id);
}
