//! Deployments: creation, cancellation, pause and failure, rolling limits
//! with health accounting, canaries and promotion, completion.

use std::sync::Arc;

use nomad_reconcile::descriptions::*;
use nomad_types::DeploymentState;

use crate::common::*;

#[test]
fn stopping_the_job_cancels_its_deployment() {
    let mut job = service(2);
    let a = Arc::new(job.clone());
    let d = running_deployment(&job, "d1", dstate(2));
    job.stop = Some(true);
    let r = Cluster::new(&job, allocs(&a, 2)).deployment(d).run();
    assert_eq!(r.deployment_updates.len(), 1);
    let u = &r.deployment_updates[0];
    assert_eq!(
        (u.deployment_id.as_str(), u.status.as_str()),
        ("d1", "cancelled")
    );
    assert_eq!(u.status_description, DEPLOYMENT_STOPPED_JOB);
    assert_eq!(r.stop.len(), 2);
}

#[test]
fn new_version_cancels_old_deployment_and_creates_one() {
    let v0 = service(3);
    let a = Arc::new(v0.clone());
    let v1 = next_version(&v0, true);
    let d = running_deployment(&v0, "d0", dstate(3));
    let r = Cluster::new(&v1, allocs(&a, 3)).deployment(d).run();
    assert_eq!(r.deployment_updates[0].status, "cancelled");
    assert_eq!(
        r.deployment_updates[0].status_description,
        DEPLOYMENT_NEWER_JOB
    );
    let created = r.deployment.expect("new deployment");
    assert_eq!(created.job_version, 1);
    assert_ne!(created.id, "d0");
    assert_eq!(r.destructive_update.len(), 1);
}

#[test]
fn terminal_old_deployment_is_not_cancelled_again() {
    let v0 = service(1);
    let a = Arc::new(v0.clone());
    let v1 = next_version(&v0, false);
    let d = deployment(&v0, "d0", "successful", dstate(1));
    let r = Cluster::new(&v1, allocs(&a, 1)).deployment(d).run();
    assert!(r.deployment_updates.is_empty());
    assert_eq!(r.inplace_update.len(), 1);
}

#[test]
fn recreated_job_with_same_version_gets_a_deployment() {
    let old = service(2);
    let a = Arc::new(old.clone());
    let mut recreated = next_version(&old, true);
    recreated.version = Some(0);
    recreated.create_index = Some(500);
    let d = running_deployment(&old, "d0", dstate(2));
    let r = Cluster::new(&recreated, allocs(&a, 2)).deployment(d).run();
    assert_eq!(
        r.deployment_updates[0].status_description,
        DEPLOYMENT_NEWER_JOB
    );
    let created = r.deployment.expect("deployment");
    assert_eq!(created.job_create_index, 500);
}

#[test]
fn no_deployment_when_nothing_changes() {
    let job = service(3);
    let a = Arc::new(job.clone());
    let r = Cluster::new(&job, allocs(&a, 3)).run();
    assert!(r.deployment.is_none());
    assert!(r.deployment_updates.is_empty());
    assert_eq!(annotation(&r).ignore, 3);
}

#[test]
fn paused_deployment_places_nothing_new() {
    let mut job = service(5);
    let a = Arc::new(job.clone());
    web(&mut job).count = Some(5);
    let d = deployment(&job, "d1", "paused", dstate(5));
    let r = Cluster::new(&job, allocs(&a, 2)).deployment(d).run();
    assert!(r.place.is_empty());
    assert!(r.deployment_updates.is_empty());
}

#[test]
fn failed_deployment_places_nothing_new_but_replaces_lost() {
    let job = service(3);
    let a = Arc::new(job.clone());
    let d = deployment(&job, "d1", "failed", dstate(3));
    let r = Cluster::new(&job, allocs(&a, 2))
        .deployment(d.clone())
        .run();
    assert!(r.place.is_empty());
    // A lost allocation is replaced even so.
    let r = Cluster::new(&job, allocs(&a, 3))
        .deployment(d)
        .taint(node("n2", "down"))
        .run();
    assert_eq!(place_names(&r), ["example.web[2]"]);
    assert!(r.place[0].lost);
}

#[test]
fn paused_deployment_holds_destructive_updates() {
    let v0 = service(4);
    let a = Arc::new(v0.clone());
    let v1 = next_version(&v0, true);
    let d = deployment(&v1, "d1", "paused", dstate(4));
    let r = Cluster::new(&v1, allocs(&a, 4)).deployment(d).run();
    assert!(r.destructive_update.is_empty());
    assert_eq!(annotation(&r).ignore, 4);
}

#[test]
fn rolling_update_counts_unhealthy_progress() {
    let mut v0 = service(6);
    set_update(&mut v0, |u| u.max_parallel = Some(2));
    let a0 = Arc::new(v0.clone());
    let v1 = next_version(&v0, true);
    let a1 = Arc::new(v1.clone());
    let d = running_deployment(&v1, "d1", dstate(6));
    let mut existing = vec![
        in_deployment(alloc(&a1, 0), "d1", Some(true), false),
        in_deployment(alloc(&a1, 1), "d1", None, false),
    ];
    existing.extend((2..6).map(|i| alloc(&a0, i)));
    let r = Cluster::new(&v1, existing.clone())
        .deployment(d.clone())
        .run();
    // One slot is still busy with [1], one is free.
    assert_eq!(r.destructive_update.len(), 1);
    assert_eq!(r.destructive_update[0].place_name, "example.web[2]");

    // An unhealthy allocation stops the rollout.
    existing[1] = in_deployment(alloc(&a1, 1), "d1", Some(false), false);
    let r = Cluster::new(&v1, existing).deployment(d).run();
    assert!(r.destructive_update.is_empty());
}

#[test]
fn completed_deployment_is_marked_successful() {
    let job = service(3);
    let a = Arc::new(job.clone());
    let mut s = dstate(3);
    s.healthy_allocs = 3;
    s.placed_allocs = 3;
    let d = running_deployment(&job, "d1", s);
    let existing = (0..3)
        .map(|i| in_deployment(alloc(&a, i), "d1", Some(true), false))
        .collect();
    let r = Cluster::new(&job, existing).deployment(d).run();
    assert_eq!(r.deployment_updates.len(), 1);
    let u = &r.deployment_updates[0];
    assert_eq!(u.status, "successful");
    assert_eq!(u.status_description, DEPLOYMENT_SUCCESSFUL);
}

#[test]
fn deployment_waiting_for_health_is_not_complete() {
    let job = service(3);
    let a = Arc::new(job.clone());
    let mut s = dstate(3);
    s.healthy_allocs = 2;
    let d = running_deployment(&job, "d1", s);
    let existing = (0..3)
        .map(|i| in_deployment(alloc(&a, i), "d1", (i < 2).then_some(true), false))
        .collect();
    let r = Cluster::new(&job, existing).deployment(d).run();
    assert!(r.deployment_updates.is_empty());
}

fn with_canaries(count: i64, canaries: i64) -> nomad_types::Job {
    let mut j = service(count);
    set_update(&mut j, |u| u.canary = Some(canaries));
    j
}

#[test]
fn destructive_change_places_canaries_first() {
    let v0 = with_canaries(5, 2);
    let a = Arc::new(v0.clone());
    let v1 = next_version(&v0, true);
    let r = Cluster::new(&v1, allocs(&a, 5)).run();
    assert_eq!(r.place.len(), 2);
    assert!(r.place.iter().all(|p| p.canary));
    assert_eq!(place_names(&r), names("example", "web", &[0, 1]));
    assert!(r.destructive_update.is_empty() && r.stop.is_empty());
    let du = annotation(&r);
    assert_eq!((du.canary, du.ignore), (2, 5));
    let d = r.deployment.expect("deployment");
    let s = &d.task_groups["web"];
    assert_eq!((s.desired_canaries, s.desired_total), (2, 5));
    assert_eq!(d.status_description, DEPLOYMENT_RUNNING_NEEDS_PROMOTION);
}

#[test]
fn auto_promote_deployment_says_so() {
    let mut v0 = with_canaries(3, 1);
    set_update(&mut v0, |u| u.auto_promote = Some(true));
    let a = Arc::new(v0.clone());
    let v1 = next_version(&v0, true);
    let r = Cluster::new(&v1, allocs(&a, 3)).run();
    let d = r.deployment.expect("deployment");
    assert_eq!(d.status_description, DEPLOYMENT_RUNNING_AUTO_PROMOTION);
    assert!(d.task_groups["web"].auto_promote);
}

#[test]
fn more_canaries_than_count_spill_past_the_count() {
    let v0 = with_canaries(2, 3);
    let a = Arc::new(v0.clone());
    let v1 = next_version(&v0, true);
    let r = Cluster::new(&v1, allocs(&a, 2)).run();
    // Truncated to the count, as Nomad does.
    assert_eq!(r.place.len(), 2);
    assert_eq!(annotation(&r).canary, 3);
}

fn canary_state(placed: &[&str], promoted: bool, healthy: i64) -> DeploymentState {
    DeploymentState {
        desired_canaries: placed.len() as i64,
        desired_total: 5,
        placed_canaries: placed.iter().map(|s| s.to_string()).collect(),
        promoted,
        healthy_allocs: healthy,
        ..DeploymentState::default()
    }
}

fn canary(job: &Arc<nomad_types::Job>, i: u64, healthy: Option<bool>) -> nomad_types::Allocation {
    let mut c = in_deployment(
        alloc_in(job, "web", i, &format!("c{i}")),
        "d1",
        healthy,
        true,
    );
    c.id = format!("canary-{i}");
    c
}

#[test]
fn placed_canaries_wait_for_promotion() {
    let v0 = with_canaries(5, 2);
    let a0 = Arc::new(v0.clone());
    let v1 = next_version(&v0, true);
    let a1 = Arc::new(v1.clone());
    let d = running_deployment(&v1, "d1", canary_state(&["canary-0", "canary-1"], false, 0));
    let mut existing = allocs(&a0, 5);
    existing.push(canary(&a1, 0, Some(true)));
    existing.push(canary(&a1, 1, None));
    let r = Cluster::new(&v1, existing).deployment(d).run();
    assert_eq!(counts(&r), (0, 0, 0, 0));
    assert!(r.deployment_updates.is_empty());
}

#[test]
fn promotion_stops_old_allocations_sharing_canary_names_and_rolls_on() {
    let v0 = with_canaries(5, 2);
    let a0 = Arc::new(v0.clone());
    let v1 = next_version(&v0, true);
    let a1 = Arc::new(v1.clone());
    let d = running_deployment(&v1, "d1", canary_state(&["canary-0", "canary-1"], true, 2));
    let mut existing = allocs(&a0, 5);
    existing.push(canary(&a1, 0, Some(true)));
    existing.push(canary(&a1, 1, Some(true)));
    let r = Cluster::new(&v1, existing).deployment(d).run();
    assert_eq!(stop_names(&r), names("example", "web", &[0, 1]));
    assert!(r.stop.iter().all(|s| !s.alloc.id.starts_with("canary")));
    assert_eq!(r.destructive_update.len(), 1);
    assert_eq!(r.destructive_update[0].place_name, "example.web[2]");
}

#[test]
fn canaries_of_an_older_deployment_are_stopped() {
    let v0 = with_canaries(3, 1);
    let a0 = Arc::new(v0.clone());
    let v1 = next_version(&v0, true);
    let a1 = Arc::new(v1.clone());
    let v2 = next_version(&v1, true);
    let old = running_deployment(&v1, "d1", canary_state(&["canary-0"], false, 0));
    let mut existing = allocs(&a0, 3);
    existing.push(canary(&a1, 0, None));
    let r = Cluster::new(&v2, existing).deployment(old).run();
    let stopped = r
        .stop
        .iter()
        .find(|s| s.alloc.id == "canary-0")
        .expect("canary stopped");
    assert_eq!(stopped.description, ALLOC_NOT_NEEDED);
    // New canary for v2.
    assert_eq!(r.place.iter().filter(|p| p.canary).count(), 1);
}

#[test]
fn failed_deployment_stops_its_unpromoted_canaries() {
    let v0 = with_canaries(3, 1);
    let a0 = Arc::new(v0.clone());
    let v1 = next_version(&v0, true);
    let a1 = Arc::new(v1.clone());
    let d = deployment(&v1, "d1", "failed", canary_state(&["canary-0"], false, 0));
    let mut existing = allocs(&a0, 3);
    existing.push(canary(&a1, 0, Some(false)));
    let r = Cluster::new(&v1, existing).deployment(d).run();
    assert_eq!(r.stop.len(), 1);
    assert_eq!(r.stop[0].alloc.id, "canary-0");
    assert!(r.place.is_empty() && r.destructive_update.is_empty());
}

#[test]
fn canary_on_a_draining_node_is_stopped() {
    let v0 = with_canaries(3, 1);
    let a0 = Arc::new(v0.clone());
    let v1 = next_version(&v0, true);
    let a1 = Arc::new(v1.clone());
    let d = running_deployment(&v1, "d1", canary_state(&["canary-0"], false, 0));
    let mut c = canary(&a1, 0, None);
    c.desired_transition.migrate = Some(true);
    let mut existing = allocs(&a0, 3);
    existing.push(c);
    let r = Cluster::new(&v1, existing)
        .deployment(d)
        .taint(draining("c0"))
        .run();
    let s = r.stop.iter().find(|s| s.alloc.id == "canary-0").unwrap();
    assert_eq!(s.description, ALLOC_MIGRATING);
    // The canary is replaced by a new one.
    assert_eq!(r.place.iter().filter(|p| p.canary).count(), 1);
}

#[test]
fn batch_jobs_get_no_deployment() {
    let v0 = batch(3);
    let a = Arc::new(v0.clone());
    let v1 = next_version(&v0, false);
    let r = Cluster::new(&v1, allocs(&a, 3)).run();
    assert!(r.deployment.is_none());
    assert_eq!(r.inplace_update.len(), 3);
}

#[test]
fn initializing_multiregion_deployment_is_sent_back_pending() {
    let job = service(2);
    let d = deployment(&job, "d1", "initializing", dstate(2));
    let r = Cluster::new(&job, vec![]).deployment(d).run();
    assert!(r.place.is_empty());
    let sent = r.deployment.expect("deployment sent in full");
    assert_eq!(sent.id, "d1");
    assert_eq!(r.deployment_updates[0].status, "pending");
    assert_eq!(
        r.deployment_updates[0].status_description,
        DEPLOYMENT_PENDING_FOR_PEER
    );
}

#[test]
fn rolling_upgrade_fills_missing_allocations_first() {
    let v0 = service(10);
    let a0 = Arc::new(v0.clone());
    let v1 = next_version(&v0, true);
    let r = Cluster::new(&v1, allocs(&a0, 7)).run();
    assert_eq!(place_names(&r), names("example", "web", &[7, 8, 9]));
    // The new placements use up max_parallel (1).
    assert!(r.destructive_update.is_empty());
    let d = r.deployment.expect("deployment");
    assert_eq!(d.task_groups["web"].desired_total, 10);
}

#[test]
fn created_deployment_copies_the_update_block() {
    let mut v0 = service(2);
    set_update(&mut v0, |u| {
        u.auto_revert = Some(true);
        u.progress_deadline = Some(nomad_types::Nanos::from_mins(7));
    });
    let a0 = Arc::new(v0.clone());
    let v1 = next_version(&v0, true);
    let r = Cluster::new(&v1, allocs(&a0, 2)).run();
    let d = r.deployment.expect("deployment");
    let s = &d.task_groups["web"];
    assert!(s.auto_revert && !s.auto_promote && !s.promoted);
    assert_eq!(s.progress_deadline, nomad_types::Nanos::from_mins(7));
    assert_eq!(s.desired_canaries, 0);
    assert_eq!(d.eval_priority, 50);
    assert_eq!(d.create_time, NOW);
    assert_eq!(
        (d.job_id.as_str(), d.job_version, d.job_spec_modify_index),
        ("example", 1, 20)
    );
}
