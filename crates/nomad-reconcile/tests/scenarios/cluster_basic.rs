//! Counts, names, scaling, in-place and destructive updates, removed
//! groups, stopped and purged jobs, batch semantics.

use std::sync::Arc;

use nomad_reconcile::descriptions::*;
use nomad_types::{Task, TaskGroup};

use crate::common::*;

#[test]
fn places_every_allocation_of_a_new_job() {
    let job = service(10);
    let r = Cluster::new(&job, vec![]).run();
    assert_eq!(
        place_names(&r),
        names("example", "web", &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    );
    assert!(r
        .place
        .iter()
        .all(|p| p.previous_alloc.is_none() && !p.canary && !p.reschedule));
    assert_eq!(r.place[0].task_group, "web");
    assert_eq!(annotation(&r).place, 10);
    assert!(r.stop.is_empty());
    // Version 0 of a service job with an update block gets a deployment.
    let d = r.deployment.expect("deployment");
    assert_eq!(d.status, "running");
    assert_eq!(d.status_description, DEPLOYMENT_RUNNING);
    assert_eq!(d.task_groups["web"].desired_total, 10);
    assert_eq!(d.job_version, 0);
}

#[test]
fn fills_missing_indexes_only() {
    let job = service(10);
    let a = Arc::new(job.clone());
    let existing = vec![
        alloc(&a, 0),
        alloc(&a, 2),
        alloc(&a, 4),
        alloc(&a, 6),
        alloc(&a, 8),
    ];
    let r = Cluster::new(&job, existing).run();
    assert_eq!(place_names(&r), names("example", "web", &[1, 3, 5, 7, 9]));
    let du = annotation(&r);
    assert_eq!((du.place, du.ignore, du.stop), (5, 5, 0));
    // Nothing changed in the spec and allocations of this version exist.
    assert!(r.deployment.is_none());
}

#[test]
fn scale_down_stops_highest_indexes() {
    let job = service(10);
    let a = Arc::new(job.clone());
    let r = Cluster::new(&job, allocs(&a, 20)).run();
    assert!(r.place.is_empty());
    assert_eq!(
        stop_names(&r),
        names("example", "web", &[10, 11, 12, 13, 14, 15, 16, 17, 18, 19])
    );
    assert!(r.stop.iter().all(|s| s.description == ALLOC_NOT_NEEDED));
    let du = annotation(&r);
    assert_eq!((du.stop, du.ignore), (10, 10));
}

#[test]
fn scale_to_zero_stops_everything() {
    let mut job = service(10);
    web(&mut job).count = Some(0);
    let a = Arc::new(job.clone());
    let r = Cluster::new(&job, allocs(&a, 20)).run();
    assert_eq!(r.stop.len(), 20);
    assert_eq!(annotation(&r).stop, 20);
    assert!(r.place.is_empty());
}

#[test]
fn scale_down_with_duplicate_names_stops_both() {
    let job = service(1);
    let a = Arc::new(job.clone());
    let mut dup = alloc(&a, 0);
    dup.id = "dup".into();
    let r = Cluster::new(&job, vec![alloc(&a, 0), dup, alloc(&a, 1)]).run();
    // One of the two [0]s and [1] go.
    assert_eq!(r.stop.len(), 2);
    assert!(stop_names(&r).contains(&"example.web[1]".to_string()));
    assert!(r.place.is_empty());
}

#[test]
fn in_place_update_of_every_allocation() {
    let v0 = service(10);
    let v1 = next_version(&v0, false);
    let a = Arc::new(v0);
    let r = Cluster::new(&v1, allocs(&a, 10)).run();
    assert_eq!(counts(&r), (0, 0, 10, 0));
    assert!(r
        .inplace_update
        .iter()
        .all(|u| u.job.as_ref().unwrap().version() == 1));
    assert_eq!(annotation(&r).in_place_update, 10);
    let d = r.deployment.expect("deployment for the new version");
    assert_eq!(d.job_version, 1);
    assert_eq!(d.task_groups["web"].desired_total, 10);
}

#[test]
fn in_place_update_with_scale_up_and_down() {
    let v0 = service(10);
    let a = Arc::new(v0.clone());
    let mut up = next_version(&v0, false);
    web(&mut up).count = Some(15);
    let r = Cluster::new(&up, allocs(&a, 10)).run();
    assert_eq!(counts(&r), (5, 0, 10, 0));
    assert_eq!(
        place_names(&r),
        names("example", "web", &[10, 11, 12, 13, 14])
    );

    let mut down = next_version(&v0, false);
    web(&mut down).count = Some(5);
    let r = Cluster::new(&down, allocs(&a, 10)).run();
    assert_eq!(counts(&r), (0, 5, 5, 0));
    assert_eq!(stop_names(&r), names("example", "web", &[5, 6, 7, 8, 9]));
}

#[test]
fn destructive_update_without_rolling_replaces_all() {
    let v0 = service_no_update(10);
    let v1 = next_version(&v0, true);
    let a = Arc::new(v0);
    let r = Cluster::new(&v1, allocs(&a, 10)).run();
    assert_eq!(counts(&r), (0, 0, 0, 10));
    let d = &r.destructive_update[0];
    assert_eq!(d.place_name, "example.web[0]");
    assert_eq!(d.place_task_group, "web");
    assert_eq!(d.stop_description, ALLOC_UPDATING);
    assert_eq!(annotation(&r).destructive_update, 10);
    // No update block, no deployment.
    assert!(r.deployment.is_none());
}

#[test]
fn destructive_update_is_bounded_by_max_parallel() {
    let mut v0 = service(10);
    set_update(&mut v0, |u| u.max_parallel = Some(3));
    let v1 = next_version(&v0, true);
    let a = Arc::new(v0);
    let r = Cluster::new(&v1, allocs(&a, 10)).run();
    assert_eq!(counts(&r), (0, 0, 0, 3));
    let got: Vec<&str> = r
        .destructive_update
        .iter()
        .map(|d| d.place_name.as_str())
        .collect();
    assert_eq!(got, ["example.web[0]", "example.web[1]", "example.web[2]"]);
    let du = annotation(&r);
    assert_eq!((du.destructive_update, du.ignore), (3, 7));
    let d = r.deployment.expect("deployment");
    assert_eq!(d.task_groups["web"].desired_total, 10);
}

#[test]
fn destructive_update_with_scale_up_and_down() {
    let v0 = service_no_update(10);
    let a = Arc::new(v0.clone());
    let mut up = next_version(&v0, true);
    web(&mut up).count = Some(15);
    let r = Cluster::new(&up, allocs(&a, 10)).run();
    assert_eq!(counts(&r), (5, 0, 0, 10));

    let mut down = next_version(&v0, true);
    web(&mut down).count = Some(5);
    let r = Cluster::new(&down, allocs(&a, 10)).run();
    assert_eq!(counts(&r), (0, 5, 0, 5));
    assert_eq!(stop_names(&r), names("example", "web", &[5, 6, 7, 8, 9]));
}

#[test]
fn removed_group_is_stopped_and_new_group_placed() {
    let old = service(3);
    let a = Arc::new(old.clone());
    let mut new = next_version(&old, false);
    web(&mut new).name = Some("api".into());
    let r = Cluster::new(&new, allocs(&a, 3)).run();
    assert_eq!(r.stop.len(), 3);
    assert!(r.stop.iter().all(|s| s.description == ALLOC_NOT_NEEDED));
    assert_eq!(r.desired_tg_updates["web"].stop, 3);
    assert_eq!(r.place.len(), 3);
    assert!(r.place.iter().all(|p| p.task_group == "api"));
    assert_eq!(r.desired_tg_updates["api"].place, 3);
}

#[test]
fn stopped_job_stops_live_allocations_only() {
    let mut job = service(4);
    let a = Arc::new(job.clone());
    job.stop = Some(true);
    let mut existing = allocs(&a, 3);
    existing.push(completed(alloc(&a, 3)));
    let r = Cluster::new(&job, existing).run();
    assert_eq!(r.stop.len(), 3);
    assert!(r.stop.iter().all(|s| s.description == ALLOC_NOT_NEEDED));
    assert_eq!(annotation(&r).stop, 3);
    assert!(r.place.is_empty() && r.deployment.is_none());
}

#[test]
fn purged_job_stops_everything_and_marks_lost_on_down_nodes() {
    let job = service(3);
    let a = Arc::new(job.clone());
    let mut c = Cluster::new(&job, allocs(&a, 3)).taint(node("n1", "down"));
    c.job = None;
    let r = c.run();
    assert_eq!(r.stop.len(), 3);
    let lost = r.stop.iter().find(|s| s.alloc.node_id == "n1").unwrap();
    assert_eq!(lost.client_status.as_deref(), Some("lost"));
    assert_eq!(lost.description, ALLOC_LOST);
}

#[test]
fn several_groups_are_reconciled_independently() {
    let mut job = service(2);
    let mut api = TaskGroup::new("api", 3);
    api.tasks.push(Task::new("api", "docker"));
    job.task_groups.push(api);
    job.canonicalize();
    let a = Arc::new(job.clone());
    let existing = vec![alloc(&a, 0), alloc_in(&a, "api", 0, "n9")];
    let r = Cluster::new(&job, existing).run();
    assert_eq!(r.desired_tg_updates["web"].place, 1);
    assert_eq!(r.desired_tg_updates["api"].place, 2);
    let mut got = place_names(&r);
    got.sort();
    assert_eq!(got, ["example.api[1]", "example.api[2]", "example.web[1]"]);
}

#[test]
fn completed_batch_allocations_are_not_replaced() {
    let job = batch(5);
    let a = Arc::new(job.clone());
    let existing: Vec<_> = (0..5).map(|i| completed(alloc(&a, i))).collect();
    let r = Cluster::new(&job, existing).run();
    assert_eq!(counts(&r), (0, 0, 0, 0));
    assert_eq!(annotation(&r).ignore, 5);
    assert!(r.deployment.is_none());
}

#[test]
fn batch_job_rerun_after_new_version() {
    let v0 = batch(5);
    let a = Arc::new(v0.clone());
    let v1 = next_version(&v0, true);
    let existing: Vec<_> = (0..5).map(|i| completed(alloc(&a, i))).collect();
    let r = Cluster::new(&v1, existing).run();
    assert_eq!(place_names(&r), names("example", "web", &[0, 1, 2, 3, 4]));
    assert_eq!(annotation(&r).ignore, 5);
}

#[test]
fn completed_service_allocation_is_replaced() {
    let job = service(3);
    let a = Arc::new(job.clone());
    let existing = vec![alloc(&a, 0), completed(alloc(&a, 1)), alloc(&a, 2)];
    let r = Cluster::new(&job, existing).run();
    assert_eq!(place_names(&r), ["example.web[1]"]);
    assert!(r.stop.is_empty());
}

#[test]
fn server_stopped_allocations_are_ignored() {
    let job = service(2);
    let a = Arc::new(job.clone());
    let mut stopped = alloc(&a, 1);
    stopped.desired_status = "stop".into();
    stopped.client_status = "complete".into();
    let r = Cluster::new(&job, vec![alloc(&a, 0), stopped]).run();
    assert_eq!(place_names(&r), ["example.web[1]"]);
    assert!(r.stop.is_empty());
}

#[test]
fn oracle_sees_each_running_allocation_once() {
    let v0 = service(4);
    let v1 = next_version(&v0, false);
    let a = Arc::new(v0);
    let c = Cluster::new(&v1, allocs(&a, 4));
    let mut seen = Vec::new();
    let r = c.run_with(&mut |al, job, tg| {
        seen.push((al.name.clone(), job.version(), tg.name().to_string()));
        fits_everywhere(al, job, tg)
    });
    assert_eq!(seen.len(), 4);
    assert!(seen.iter().all(|(_, v, g)| *v == 1 && g == "web"));
    assert_eq!(r.inplace_update.len(), 4);
}

#[test]
fn oracle_can_force_destructive_when_node_no_longer_fits() {
    let v0 = service_no_update(3);
    let v1 = next_version(&v0, false);
    let a = Arc::new(v0);
    let r = Cluster::new(&v1, allocs(&a, 3)).run_with(&mut |al, job, tg| {
        if al.node_id == "n1" {
            nomad_reconcile::UpdateDecision::Destructive
        } else {
            fits_everywhere(al, job, tg)
        }
    });
    assert_eq!(counts(&r), (0, 0, 2, 1));
    assert_eq!(r.destructive_update[0].stop_alloc.node_id, "n1");
}

#[test]
fn uncanonicalized_job_does_not_panic() {
    let mut job = nomad_types::Job::new("raw", "service");
    job.task_groups.push(TaskGroup {
        name: Some("web".into()),
        ..TaskGroup::default()
    });
    let r = Cluster::new(&job, vec![]).run();
    // Count unset means 1.
    assert_eq!(place_names(&r), ["raw.web[0]"]);
}

#[test]
fn batch_scale_down_counts_finished_allocations() {
    let v0 = batch(5);
    let a = Arc::new(v0.clone());
    let mut job = v0.clone();
    web(&mut job).count = Some(2);
    let existing = (0..5)
        .map(|i| {
            if i < 3 {
                completed(alloc(&a, i))
            } else {
                alloc(&a, i)
            }
        })
        .collect();
    let r = Cluster::new(&job, existing).run();
    // Finished work counts toward the count: the highest three go.
    assert_eq!(stop_names(&r), names("example", "web", &[2, 3, 4]));
    assert!(r.place.is_empty());
}
