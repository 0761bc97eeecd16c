//! Rescheduling failed allocations: now, later (follow-up evaluations,
//! batched), not at all; batch and service policies.

use std::sync::Arc;

use nomad_reconcile::descriptions::*;
use nomad_types::alloc::{RescheduleEvent, RescheduleTracker};
use nomad_types::{Nanos, ReschedulePolicy};

use crate::common::*;

#[test]
fn failed_service_allocation_is_rescheduled_now() {
    let job = service(3);
    let a = Arc::new(job.clone());
    let existing = vec![
        alloc(&a, 0),
        failed_at(alloc(&a, 1), NOW - MINUTE),
        alloc(&a, 2),
    ];
    let r = Cluster::new(&job, existing).run();
    assert_eq!(r.place.len(), 1);
    let p = &r.place[0];
    assert_eq!(p.name, "example.web[1]");
    assert!(p.reschedule && !p.lost);
    assert_eq!(p.previous_alloc.as_ref().unwrap().id, "web-1-v0-n1");
    assert_eq!(r.stop.len(), 1);
    assert_eq!(r.stop[0].description, ALLOC_RESCHEDULED);
    let du = annotation(&r);
    assert_eq!((du.place, du.stop, du.reschedule_now), (1, 1, 1));
}

#[test]
fn failed_service_allocation_is_rescheduled_later() {
    let job = service(3);
    let a = Arc::new(job.clone());
    // Default service policy: 30s delay, failed 5s ago → due in 25s.
    let existing = vec![
        alloc(&a, 0),
        failed_at(alloc(&a, 1), NOW - 5 * SECOND),
        alloc(&a, 2),
    ];
    let r = Cluster::new(&job, existing).run();
    assert!(r.place.is_empty() && r.stop.is_empty());
    let evals = &r.desired_followup_evals["web"];
    assert_eq!(evals.len(), 1);
    let e = &evals[0];
    assert_eq!(e.triggered_by, "alloc-reschedule");
    assert_eq!(e.status, "pending");
    assert_eq!(e.status_description, EVAL_RESCHEDULING_FOLLOWUP);
    assert_eq!(e.wait_until.to_unix_nanos(), Some(NOW + 25 * SECOND));
    assert_eq!(e.job_id, "example");
    assert_eq!(e.priority, 50);
    let updated = &r.attribute_updates["web-1-v0-n1"];
    assert_eq!(updated.followup_eval_id, e.id);
    assert_eq!(annotation(&r).reschedule_later, 1);
}

#[test]
fn delayed_reschedules_are_batched_in_five_second_windows() {
    let job = service(4);
    let a = Arc::new(job.clone());
    let existing = vec![
        failed_at(alloc(&a, 0), NOW - 10 * SECOND), // due +20s
        failed_at(alloc(&a, 1), NOW - 8 * SECOND),  // due +22s: same batch
        failed_at(alloc(&a, 2), NOW),               // due +30s: new batch
        alloc(&a, 3),
    ];
    let r = Cluster::new(&job, existing).run();
    let evals = &r.desired_followup_evals["web"];
    assert_eq!(evals.len(), 2);
    assert_eq!(evals[0].wait_until.to_unix_nanos(), Some(NOW + 20 * SECOND));
    assert_eq!(evals[1].wait_until.to_unix_nanos(), Some(NOW + 30 * SECOND));
    // As in Nomad, later batches are plain alloc-failure evaluations.
    assert_eq!(evals[1].triggered_by, "alloc-failure");
    let ids: Vec<&str> = ["web-0-v0-n0", "web-1-v0-n1", "web-2-v0-n2"]
        .iter()
        .map(|id| r.attribute_updates[*id].followup_eval_id.as_str())
        .collect();
    assert_eq!(ids[0], evals[0].id);
    assert_eq!(ids[1], evals[0].id);
    assert_eq!(ids[2], evals[1].id);
    assert_ne!(evals[0].id, evals[1].id);
}

#[test]
fn reschedule_within_the_one_second_window_happens_now() {
    let job = service(1);
    let a = Arc::new(job.clone());
    // Due 500ms from now.
    let existing = vec![failed_at(alloc(&a, 0), NOW - 30 * SECOND + SECOND / 2)];
    let r = Cluster::new(&job, existing).run();
    assert_eq!(r.place.len(), 1);
    assert!(r.place[0].reschedule);
}

#[test]
fn followup_evaluation_reschedules_its_allocation() {
    let job = service(1);
    let a = Arc::new(job.clone());
    let mut failed = failed_at(alloc(&a, 0), NOW - 5 * SECOND);
    failed.followup_eval_id = "eval".into();
    let r = Cluster::new(&job, vec![failed]).run();
    assert_eq!(r.place.len(), 1);
    assert!(r.place[0].reschedule);
    assert!(r.desired_followup_evals.is_empty());
}

#[test]
fn pending_followup_is_not_duplicated() {
    let job = service(1);
    let a = Arc::new(job.clone());
    let mut failed = failed_at(alloc(&a, 0), NOW - 5 * SECOND);
    failed.followup_eval_id = "another-eval".into();
    let r = Cluster::new(&job, vec![failed]).run();
    assert!(r.place.is_empty());
    assert!(r.desired_followup_evals.is_empty());
    assert!(r.attribute_updates.is_empty());
}

fn limited(attempts: i64, interval: Nanos) -> ReschedulePolicy {
    ReschedulePolicy {
        attempts: Some(attempts),
        interval: Some(interval),
        delay: Some(Nanos::from_secs(5)),
        delay_function: Some("constant".into()),
        max_delay: Some(Nanos::ZERO),
        unlimited: Some(false),
    }
}

#[test]
fn exhausted_attempts_leave_the_failure_alone() {
    let mut job = service(2);
    reschedule(&mut job, limited(1, Nanos::from_hours(1)));
    let a = Arc::new(job.clone());
    let mut failed = failed_at(alloc(&a, 1), NOW - MINUTE);
    failed.reschedule_tracker = Some(RescheduleTracker {
        events: vec![RescheduleEvent {
            reschedule_time: NOW - 10 * MINUTE,
            delay: Nanos::from_secs(5),
            ..RescheduleEvent::default()
        }],
        last_reschedule: String::new(),
    });
    let r = Cluster::new(&job, vec![alloc(&a, 0), failed]).run();
    assert!(r.place.is_empty() && r.stop.is_empty());
    assert!(r.desired_followup_evals.is_empty());
}

#[test]
fn force_reschedule_ignores_the_policy() {
    let mut job = service(1);
    reschedule(&mut job, limited(0, Nanos::from_hours(1)));
    let a = Arc::new(job.clone());
    let mut failed = failed_at(alloc(&a, 0), NOW - MINUTE);
    failed.desired_transition.force_reschedule = Some(true);
    let r = Cluster::new(&job, vec![failed]).run();
    assert_eq!(r.place.len(), 1);
    assert!(r.place[0].reschedule);
    assert_eq!(r.stop[0].description, ALLOC_RESCHEDULED);
}

#[test]
fn failed_batch_allocation_is_rescheduled() {
    let job = batch(2);
    let a = Arc::new(job.clone());
    // Default batch policy: 5s constant, one attempt a day.
    let existing = vec![
        completed(alloc(&a, 0)),
        failed_at(alloc(&a, 1), NOW - 10 * SECOND),
    ];
    let r = Cluster::new(&job, existing).run();
    assert_eq!(place_names(&r), ["example.web[1]"]);
    assert!(r.place[0].reschedule);
}

#[test]
fn batch_without_reschedule_policy_keeps_failure() {
    let mut job = batch(2);
    reschedule(&mut job, limited(0, Nanos::from_hours(24)));
    let a = Arc::new(job.clone());
    let existing = vec![
        completed(alloc(&a, 0)),
        failed_at(alloc(&a, 1), NOW - 10 * SECOND),
    ];
    let r = Cluster::new(&job, existing).run();
    assert!(r.place.is_empty());
}

#[test]
fn already_replaced_failures_are_skipped() {
    let job = service(1);
    let a = Arc::new(job.clone());
    let mut failed = failed_at(alloc(&a, 0), NOW - MINUTE);
    failed.next_allocation = "replacement".into();
    let mut replacement = alloc(&a, 0);
    replacement.id = "replacement".into();
    let r = Cluster::new(&job, vec![failed, replacement]).run();
    assert_eq!(counts(&r), (0, 0, 0, 0));
}

#[test]
fn failures_inside_an_active_deployment_wait() {
    let job = service(2);
    let a = Arc::new(job.clone());
    let d = running_deployment(&job, "d1", dstate(2));
    let failed = in_deployment(
        failed_at(alloc(&a, 1), NOW - MINUTE),
        "d1",
        Some(false),
        false,
    );
    let ok = in_deployment(alloc(&a, 0), "d1", Some(true), false);
    let r = Cluster::new(&job, vec![ok, failed]).deployment(d).run();
    assert!(r.place.is_empty());
}

#[test]
fn failures_of_a_failed_deployment_are_not_rescheduled() {
    let job = service(2);
    let a = Arc::new(job.clone());
    let d = deployment(&job, "d1", "failed", dstate(2));
    let failed = in_deployment(
        failed_at(alloc(&a, 1), NOW - MINUTE),
        "d1",
        Some(false),
        false,
    );
    let ok = in_deployment(alloc(&a, 0), "d1", Some(true), false);
    let r = Cluster::new(&job, vec![ok, failed]).deployment(d).run();
    assert!(r.place.is_empty());
}

#[test]
fn failures_after_a_successful_deployment_are_rescheduled() {
    let job = service(2);
    let a = Arc::new(job.clone());
    let d = deployment(&job, "d1", "successful", dstate(2));
    let failed = in_deployment(
        failed_at(alloc(&a, 1), NOW - MINUTE),
        "d1",
        Some(true),
        false,
    );
    let ok = in_deployment(alloc(&a, 0), "d1", Some(true), false);
    let r = Cluster::new(&job, vec![ok, failed]).deployment(d).run();
    assert_eq!(place_names(&r), ["example.web[1]"]);
}

#[test]
fn reschedule_marked_transition_inside_deployment_is_allowed() {
    let job = service(1);
    let a = Arc::new(job.clone());
    let d = running_deployment(&job, "d1", dstate(1));
    let mut failed = in_deployment(
        failed_at(alloc(&a, 0), NOW - MINUTE),
        "d1",
        Some(false),
        false,
    );
    failed.desired_transition.reschedule = Some(true);
    let r = Cluster::new(&job, vec![failed]).deployment(d).run();
    assert_eq!(r.place.len(), 1);
}

#[test]
fn exponential_delay_grows_with_previous_reschedules() {
    let job = service(1);
    let a = Arc::new(job.clone());
    let mut failed = failed_at(alloc(&a, 0), NOW - 10 * SECOND);
    failed.reschedule_tracker = Some(RescheduleTracker {
        events: vec![RescheduleEvent {
            reschedule_time: NOW - MINUTE,
            delay: Nanos::from_secs(30),
            ..RescheduleEvent::default()
        }],
        last_reschedule: String::new(),
    });
    let r = Cluster::new(&job, vec![failed]).run();
    // 60s after the failure.
    let e = &r.desired_followup_evals["web"][0];
    assert_eq!(e.wait_until.to_unix_nanos(), Some(NOW + 50 * SECOND));
}
