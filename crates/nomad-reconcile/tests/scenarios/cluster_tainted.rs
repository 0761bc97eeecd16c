//! Lost nodes, draining nodes (migrations), disconnected and reconnecting
//! clients.

use std::sync::Arc;

use nomad_reconcile::descriptions::*;
use nomad_types::{AllocMetric, NodeScoreMeta};

use crate::common::*;

#[test]
fn allocation_on_a_down_node_is_lost_and_replaced() {
    let job = service(3);
    let a = Arc::new(job.clone());
    let r = Cluster::new(&job, allocs(&a, 3))
        .taint(node("n1", "down"))
        .run();
    assert_eq!(r.stop.len(), 1);
    let s = &r.stop[0];
    assert_eq!(s.alloc.id, "web-1-v0-n1");
    assert_eq!(s.client_status.as_deref(), Some("lost"));
    assert_eq!(s.description, ALLOC_LOST);
    assert_eq!(r.place.len(), 1);
    let p = &r.place[0];
    assert_eq!(p.name, "example.web[1]");
    assert!(p.lost && !p.reschedule);
    assert_eq!(p.previous_alloc.as_ref().unwrap().id, "web-1-v0-n1");
    let du = annotation(&r);
    assert_eq!((du.place, du.stop, du.ignore), (1, 1, 2));
}

#[test]
fn allocation_on_a_vanished_node_is_lost() {
    let job = service(2);
    let a = Arc::new(job.clone());
    let r = Cluster::new(&job, allocs(&a, 2)).gone("n0").run();
    assert_eq!(stop_names(&r), ["example.web[0]"]);
    assert_eq!(r.stop[0].client_status.as_deref(), Some("lost"));
    assert_eq!(place_names(&r), ["example.web[0]"]);
}

#[test]
fn lost_allocations_beyond_a_smaller_count_are_not_replaced() {
    let v0 = service(4);
    let a = Arc::new(v0.clone());
    let mut job = next_version(&v0, false);
    web(&mut job).count = Some(2);
    let r = Cluster::new(&job, allocs(&a, 4))
        .taint(node("n0", "down"))
        .taint(node("n1", "down"))
        .run();
    // [0] and [1] lost; [2] and [3] keep the count.
    assert_eq!(r.place.len(), 0);
    assert_eq!(
        r.stop.iter().filter(|s| s.client_status.is_some()).count(),
        2
    );
}

#[test]
fn lost_with_scale_up_places_replacement_and_new() {
    let v0 = service_no_update(2);
    let a = Arc::new(v0.clone());
    let mut job = v0.clone();
    web(&mut job).count = Some(4);
    let r = Cluster::new(&job, allocs(&a, 2))
        .taint(node("n0", "down"))
        .run();
    assert_eq!(place_names(&r), names("example", "web", &[0, 2, 3]));
    assert_eq!(r.place.iter().filter(|p| p.lost).count(), 1);
}

#[test]
fn already_stopped_allocation_on_a_down_node_is_marked_lost() {
    let job = service(1);
    let a = Arc::new(job.clone());
    let mut stale = alloc_in(&a, "web", 0, "dead");
    stale.id = "stale".into();
    stale.desired_status = "stop".into();
    let r = Cluster::new(&job, vec![alloc(&a, 0), stale])
        .taint(node("dead", "down"))
        .run();
    assert_eq!(r.stop.len(), 1);
    assert_eq!(r.stop[0].alloc.id, "stale");
    assert_eq!(r.stop[0].client_status.as_deref(), Some("lost"));
    assert!(r.place.is_empty());
}

#[test]
fn migrating_allocation_is_stopped_and_replaced() {
    let job = service(3);
    let a = Arc::new(job.clone());
    let mut existing = allocs(&a, 3);
    existing[1].desired_transition.migrate = Some(true);
    let r = Cluster::new(&job, existing).taint(draining("n1")).run();
    assert_eq!(r.stop.len(), 1);
    assert_eq!(r.stop[0].description, ALLOC_MIGRATING);
    assert_eq!(r.place.len(), 1);
    assert_eq!(r.place[0].name, "example.web[1]");
    assert_eq!(
        r.place[0].previous_alloc.as_ref().unwrap().id,
        "web-1-v0-n1"
    );
    let du = annotation(&r);
    assert_eq!((du.migrate, du.ignore), (1, 2));
}

#[test]
fn draining_node_without_migrate_mark_is_left_alone() {
    let job = service(2);
    let a = Arc::new(job.clone());
    let r = Cluster::new(&job, allocs(&a, 2))
        .taint(draining("n1"))
        .run();
    assert_eq!(counts(&r), (0, 0, 0, 0));
}

#[test]
fn scale_down_prefers_stopping_migrating_allocations() {
    let v0 = service(3);
    let a = Arc::new(v0.clone());
    let mut job = v0.clone();
    web(&mut job).count = Some(2);
    let mut existing = allocs(&a, 3);
    existing[0].desired_transition.migrate = Some(true);
    let r = Cluster::new(&job, existing).taint(draining("n0")).run();
    assert_eq!(r.stop.len(), 1);
    assert_eq!(r.stop[0].alloc.id, "web-0-v0-n0");
    assert_eq!(r.stop[0].description, ALLOC_NOT_NEEDED);
    assert!(r.place.is_empty());
    assert_eq!(annotation(&r).migrate, 0);
}

#[test]
fn drain_with_scale_up_migrates_and_places() {
    let v0 = service_no_update(2);
    let a = Arc::new(v0.clone());
    let mut job = v0.clone();
    web(&mut job).count = Some(3);
    let mut existing = allocs(&a, 2);
    existing[0].desired_transition.migrate = Some(true);
    let r = Cluster::new(&job, existing).taint(draining("n0")).run();
    assert_eq!(place_names(&r), names("example", "web", &[0, 2]));
    assert_eq!(annotation(&r).migrate, 1);
}

#[test]
fn drained_batch_allocation_without_placement_keeps_its_slot() {
    let job = batch(2);
    let a = Arc::new(job.clone());
    let mut existing = allocs(&a, 2);
    existing[0].desired_transition.migrate = Some(true);
    existing[0].desired_transition.migrate_disable_placement = Some(true);
    let r = Cluster::new(&job, existing.clone())
        .taint(draining("n0"))
        .run();
    assert_eq!(r.stop.len(), 1);
    assert_eq!(r.stop[0].description, ALLOC_MIGRATING);
    assert!(r.place.is_empty());

    // Once stopped by the server it still counts: no replacement.
    existing[0].desired_status = "stop".into();
    existing[0].client_status = "complete".into();
    let r = Cluster::new(&job, existing).taint(draining("n0")).run();
    assert!(r.place.is_empty());
}

#[test]
fn disconnected_node_without_disconnect_block_loses_allocations() {
    let job = service(2);
    let a = Arc::new(job.clone());
    let r = Cluster::new(&job, allocs(&a, 2))
        .taint(node("n1", "disconnected"))
        .run();
    assert_eq!(r.stop.len(), 1);
    assert_eq!(r.stop[0].client_status.as_deref(), Some("lost"));
    assert_eq!(place_names(&r), ["example.web[1]"]);
    assert!(r.disconnect_updates.is_empty());
}

#[test]
fn disconnected_allocation_becomes_unknown_with_timeout_followup() {
    // The older `max_client_disconnect` (no `disconnect` block): the
    // replacement follows the reschedule policy.
    let mut job = service(2);
    for g in &mut job.task_groups {
        g.max_client_disconnect = Some(nomad_types::Nanos(5 * MINUTE));
    }
    let a = Arc::new(job.clone());
    let r = Cluster::new(&job, allocs(&a, 2))
        .taint(node("n1", "disconnected"))
        .run();
    let u = &r.disconnect_updates["web-1-v0-n1"];
    assert_eq!(u.client_status, "unknown");
    assert_eq!(u.client_description, ALLOC_UNKNOWN);
    assert_eq!(u.alloc_states.last().unwrap().value, "unknown");
    let evals = &r.desired_followup_evals["web"];
    let timeout = evals
        .iter()
        .find(|e| e.triggered_by == "max-disconnect-timeout")
        .expect("timeout eval");
    assert_eq!(timeout.wait_until.to_unix_nanos(), Some(NOW + 5 * MINUTE));
    assert_eq!(timeout.status_description, EVAL_DISCONNECT_TIMEOUT_FOLLOWUP);
    // Replacement waits for the reschedule delay (30s by default).
    let later = evals
        .iter()
        .find(|e| e.triggered_by == "alloc-reschedule")
        .expect("reschedule eval");
    assert_eq!(later.wait_until.to_unix_nanos(), Some(NOW + 30 * SECOND));
    assert_eq!(u.followup_eval_id, later.id);
    assert!(r.place.is_empty() && r.stop.is_empty());
    let du = annotation(&r);
    assert_eq!((du.disconnect, du.reschedule_later), (1, 1));
}

#[test]
fn disconnected_allocation_with_replace_set_is_replaced_at_once() {
    let mut job = service(2);
    disconnect(&mut job, 5 * MINUTE, true, "best_score");
    let a = Arc::new(job.clone());
    let r = Cluster::new(&job, allocs(&a, 2))
        .taint(node("n1", "disconnected"))
        .run();
    assert_eq!(r.disconnect_updates["web-1-v0-n1"].client_status, "unknown");
    // No wait for the reschedule delay: `replace = true` replaces now.
    assert_eq!(place_names(&r), ["example.web[1]"]);
    assert!(r.place[0].reschedule);
    assert!(r.stop.is_empty());
    assert!(r.desired_followup_evals["web"]
        .iter()
        .all(|e| e.triggered_by == "max-disconnect-timeout"));
}

#[test]
fn disconnected_allocation_replaced_when_due() {
    let mut job = service(2);
    disconnect(&mut job, 5 * MINUTE, true, "best_score");
    for g in &mut job.task_groups {
        g.reschedule_policy.as_mut().unwrap().delay = Some(nomad_types::Nanos(0));
    }
    let a = Arc::new(job.clone());
    let r = Cluster::new(&job, allocs(&a, 2))
        .taint(node("n1", "disconnected"))
        .run();
    assert_eq!(place_names(&r), ["example.web[1]"]);
    let p = &r.place[0];
    assert!(p.reschedule);
    // The previous allocation is the unknown copy.
    assert_eq!(p.previous_alloc.as_ref().unwrap().client_status, "unknown");
    // A disconnected allocation is not stopped, only replaced.
    assert!(r.stop.is_empty());
    assert_eq!(annotation(&r).disconnect, 1);
}

#[test]
fn disconnected_allocation_not_replaced_when_replace_is_false() {
    let mut job = service(2);
    disconnect(&mut job, 5 * MINUTE, false, "best_score");
    let a = Arc::new(job.clone());
    let r = Cluster::new(&job, allocs(&a, 2))
        .taint(node("n1", "disconnected"))
        .run();
    assert_eq!(r.disconnect_updates.len(), 1);
    assert!(r.place.is_empty());
    assert!(r.desired_followup_evals["web"]
        .iter()
        .all(|e| e.triggered_by == "max-disconnect-timeout"));
}

#[test]
fn unknown_allocation_past_lost_after_is_lost() {
    let mut job = service(2);
    disconnect(&mut job, 5 * MINUTE, true, "best_score");
    let a = Arc::new(job.clone());
    let mut gone = with_state(alloc(&a, 1), "unknown", NOW - 10 * MINUTE);
    gone.client_status = "unknown".into();
    let r = Cluster::new(&job, vec![alloc(&a, 0), gone])
        .taint(node("n1", "disconnected"))
        .run();
    assert_eq!(r.stop.len(), 1);
    assert_eq!(r.stop[0].client_status.as_deref(), Some("lost"));
    assert_eq!(place_names(&r), ["example.web[1]"]);
    assert!(r.place[0].lost);
}

#[test]
fn unknown_allocation_within_lost_after_stays() {
    let mut job = service(2);
    disconnect(&mut job, 5 * MINUTE, true, "best_score");
    let a = Arc::new(job.clone());
    let mut waiting = with_state(alloc(&a, 1), "unknown", NOW - MINUTE);
    waiting.client_status = "unknown".into();
    waiting.followup_eval_id = "timeout-eval".into();
    let r = Cluster::new(&job, vec![alloc(&a, 0), waiting])
        .taint(node("n1", "disconnected"))
        .run();
    assert_eq!(counts(&r), (0, 0, 0, 0));
}

/// The original `web[1]` on n1 (back from a disconnect, running again) and
/// its replacement on n9.
fn reconnect_case(strategy: &str) -> (nomad_types::Job, Vec<nomad_types::Allocation>) {
    let mut job = service(2);
    disconnect(&mut job, 5 * MINUTE, true, strategy);
    let a = Arc::new(job.clone());
    let mut original = with_state(alloc(&a, 1), "unknown", NOW - 2 * MINUTE);
    original.next_allocation = "replacement".into();
    let mut replacement = alloc_in(&a, "web", 1, "n9");
    replacement.id = "replacement".into();
    replacement.previous_allocation = original.id.clone();
    (job, vec![alloc(&a, 0), original, replacement])
}

#[test]
fn reconnect_keep_original_stops_replacement() {
    let (job, existing) = reconnect_case("keep_original");
    let r = Cluster::new(&job, existing).run();
    assert_eq!(r.stop.len(), 1);
    assert_eq!(r.stop[0].alloc.id, "replacement");
    assert_eq!(r.stop[0].description, ALLOC_RECONNECTED);
    let u = &r.reconnect_updates["web-1-v0-n1"];
    assert_eq!(u.alloc_states.last().unwrap().value, "running");
    let du = annotation(&r);
    assert_eq!((du.reconnect, du.stop), (1, 1));
    assert!(r.place.is_empty());
}

#[test]
fn reconnect_keep_replacement_stops_original() {
    let (job, existing) = reconnect_case("keep_replacement");
    let r = Cluster::new(&job, existing).run();
    assert_eq!(r.stop.len(), 1);
    assert_eq!(r.stop[0].alloc.id, "web-1-v0-n1");
    assert_eq!(r.stop[0].description, ALLOC_NOT_NEEDED);
    assert!(r.reconnect_updates.is_empty());
    assert!(r.place.is_empty());
}

#[test]
fn reconnect_best_score_prefers_higher_scoring_running_replacement() {
    let (job, mut existing) = reconnect_case("best_score");
    let score = |s: f64| {
        Some(AllocMetric {
            score_meta_data: vec![NodeScoreMeta {
                norm_score: s,
                ..NodeScoreMeta::default()
            }],
            ..AllocMetric::default()
        })
    };
    existing[1].metrics = score(0.2);
    existing[2].metrics = score(0.9);
    let r = Cluster::new(&job, existing.clone()).run();
    assert_eq!(r.stop[0].alloc.id, "web-1-v0-n1");
    // Equal or worse scores keep the original.
    existing[2].metrics = score(0.1);
    let r = Cluster::new(&job, existing).run();
    assert_eq!(r.stop[0].alloc.id, "replacement");
}

#[test]
fn reconnect_longest_running_keeps_the_older_start() {
    use nomad_types::alloc::TaskState;
    use nomad_types::GoTime;
    let (job, mut existing) = reconnect_case("longest_running");
    let started = |at: i64| TaskState {
        state: "running".into(),
        started_at: GoTime::from_unix_nanos(at),
        ..TaskState::default()
    };
    existing[1]
        .task_states
        .insert("server".into(), started(NOW - 60 * MINUTE));
    existing[2]
        .task_states
        .insert("server".into(), started(NOW - MINUTE));
    let r = Cluster::new(&job, existing.clone()).run();
    assert_eq!(r.stop[0].alloc.id, "replacement");
    existing[1]
        .task_states
        .insert("server".into(), started(NOW));
    let r = Cluster::new(&job, existing).run();
    assert_eq!(r.stop[0].alloc.id, "web-1-v0-n1");
}

#[test]
fn reconnect_of_failed_allocation_stops_it_as_failed() {
    let (job, mut existing) = reconnect_case("keep_original");
    existing[1].client_status = "failed".into();
    let r = Cluster::new(&job, existing).run();
    let s = r.stop.iter().find(|s| s.alloc.id == "web-1-v0-n1").unwrap();
    assert_eq!(s.client_status.as_deref(), Some("failed"));
    assert_eq!(s.description, ALLOC_RESCHEDULED);
    assert!(r.reconnect_updates.is_empty());
}

#[test]
fn newer_replacement_wins_any_strategy() {
    let (job, mut existing) = reconnect_case("keep_original");
    let v1 = next_version(&job, true);
    let a1 = Arc::new(v1.clone());
    let mut repl = alloc_in(&a1, "web", 1, "n9");
    repl.id = "replacement".into();
    existing[2] = repl;
    let r = Cluster::new(&v1, existing).run();
    let s = r.stop.iter().find(|s| s.alloc.id == "web-1-v0-n1").unwrap();
    assert_eq!(s.description, ALLOC_NOT_NEEDED);
}

#[test]
fn stop_on_client_after_delays_replacement_of_lost_allocations() {
    let mut job = service(2);
    for g in &mut job.task_groups {
        g.disconnect = Some(nomad_types::DisconnectStrategy {
            stop_on_client_after: Some(nomad_types::Nanos(MINUTE)),
            ..Default::default()
        });
    }
    let a = Arc::new(job.clone());
    let r = Cluster::new(&job, allocs(&a, 2))
        .taint(node("n1", "down"))
        .run();
    assert!(r.place.is_empty());
    let e = &r.desired_followup_evals["web"][0];
    assert_eq!(e.triggered_by, "alloc-failure");
    // One minute plus the 5s kill timeout.
    assert_eq!(
        e.wait_until.to_unix_nanos(),
        Some(NOW + MINUTE + 5 * SECOND)
    );
    assert_eq!(r.stop.len(), 1);
    assert_eq!(r.stop[0].client_status.as_deref(), Some("lost"));
    assert_eq!(r.stop[0].followup_eval_id.as_deref(), Some(e.id.as_str()));
}

#[test]
fn tainted_nodes_during_a_rolling_upgrade() {
    let mut v0 = service(10);
    set_update(&mut v0, |u| u.max_parallel = Some(2));
    let a0 = Arc::new(v0.clone());
    let v1 = next_version(&v0, true);
    let mut existing = allocs(&a0, 10);
    existing[9].desired_transition.migrate = Some(true);
    let d = running_deployment(&v1, "d1", dstate(10));
    let r = Cluster::new(&v1, existing)
        .deployment(d)
        .taint(node("n0", "down"))
        .taint(node("n1", "down"))
        .taint(draining("n9"))
        .run();
    // Two lost replacements use up max_parallel; the migration still happens.
    assert_eq!(place_names(&r), names("example", "web", &[0, 1, 9]));
    assert!(r.destructive_update.is_empty());
    assert_eq!(r.stop.len(), 3);
    let du = annotation(&r);
    assert_eq!((du.place, du.migrate, du.stop), (2, 1, 2));
}
