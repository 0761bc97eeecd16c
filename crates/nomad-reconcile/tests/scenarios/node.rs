//! The node reconciler: system and sysbatch jobs.

use std::sync::Arc;

use nomad_reconcile::descriptions::*;
use nomad_types::Allocation;

use crate::common::*;

fn system() -> nomad_types::Job {
    job_of("system", 1)
}

fn sysbatch() -> nomad_types::Job {
    job_of("sysbatch", 1)
}

/// The group's allocation on node `node`.
fn on(job: &Arc<nomad_types::Job>, node: &str) -> Allocation {
    let mut a = alloc_in(job, "web", 0, node);
    a.id = format!("{node}-v{}", job.version());
    a
}

fn placed_nodes(r: &nomad_reconcile::NodeReconcileResult) -> Vec<String> {
    let mut v: Vec<String> = r.place.iter().map(|p| p.node_id.clone()).collect();
    v.sort();
    v
}

#[test]
fn places_on_every_ready_node() {
    let job = system();
    let r = Nodes::new(&job, &["n1", "n2", "n3"], vec![]).run();
    assert_eq!(placed_nodes(&r), ["n1", "n2", "n3"]);
    assert!(r
        .place
        .iter()
        .all(|p| p.name == "example.web[0]" && p.task_group == "web"));
    assert_eq!(r.desired_tg_updates["web"].place, 3);
    // A new system job with an update block gets a deployment.
    let d = r.deployment.expect("deployment");
    assert_eq!(d.task_groups["web"].desired_total, 3);
}

#[test]
fn new_node_gets_an_allocation() {
    let job = system();
    let a = Arc::new(job.clone());
    let r = Nodes::new(&job, &["n1", "n2", "n3"], vec![on(&a, "n1"), on(&a, "n2")]).run();
    assert_eq!(placed_nodes(&r), ["n3"]);
    assert_eq!(r.desired_tg_updates["web"].ignore, 2);
    assert!(r.stop.is_empty());
}

#[test]
fn allocation_on_a_down_node_is_lost() {
    let job = system();
    let a = Arc::new(job.clone());
    let r = Nodes::new(&job, &["n1"], vec![on(&a, "n1"), on(&a, "n2")])
        .taint(node("n2", "down"))
        .run();
    assert_eq!(r.stop.len(), 1);
    assert_eq!(r.stop[0].alloc.node_id, "n2");
    assert_eq!(r.stop[0].client_status.as_deref(), Some("lost"));
    assert_eq!(r.stop[0].description, ALLOC_LOST);
    assert!(r.place.is_empty());
}

#[test]
fn migrating_allocation_on_draining_node_is_stopped() {
    let job = system();
    let a = Arc::new(job.clone());
    let mut m = on(&a, "n2");
    m.desired_transition.migrate = Some(true);
    let r = Nodes::new(&job, &["n1"], vec![on(&a, "n1"), m])
        .taint(draining("n2"))
        .run();
    assert_eq!(r.stop.len(), 1);
    assert_eq!(r.stop[0].description, ALLOC_NODE_TAINTED);
    assert_eq!(r.desired_tg_updates["web"].migrate, 1);
    assert!(r.place.is_empty());
}

#[test]
fn draining_node_without_migrate_mark_is_ignored() {
    let job = system();
    let a = Arc::new(job.clone());
    let r = Nodes::new(&job, &["n1"], vec![on(&a, "n1"), on(&a, "n2")])
        .taint(draining("n2"))
        .run();
    assert!(r.stop.is_empty() && r.place.is_empty());
    assert_eq!(r.desired_tg_updates["web"].ignore, 2);
}

#[test]
fn node_leaving_the_eligible_set_loses_its_allocation() {
    let job = system();
    let a = Arc::new(job.clone());
    let r = Nodes::new(&job, &["n1"], vec![on(&a, "n1"), on(&a, "elsewhere")]).run();
    assert_eq!(r.stop.len(), 1);
    assert_eq!(r.stop[0].alloc.node_id, "elsewhere");
    assert_eq!(r.stop[0].description, ALLOC_NOT_NEEDED);
}

#[test]
fn not_ready_node_keeps_allocation_until_the_job_changes() {
    let job = system();
    let a = Arc::new(job.clone());
    let mut c = Nodes::new(&job, &["n1"], vec![on(&a, "n1"), on(&a, "n2")]);
    c.not_ready.insert("n2".into());
    let r = c.run();
    assert!(r.stop.is_empty());
    let v1 = next_version(&job, false);
    c.job = Some(Arc::new(v1));
    let r = c.run();
    assert_eq!(r.stop.len(), 1);
    assert_eq!(r.stop[0].alloc.node_id, "n2");
}

#[test]
fn in_place_update_on_every_node() {
    let v0 = system();
    let a = Arc::new(v0.clone());
    let v1 = next_version(&v0, false);
    let r = Nodes::new(
        &v1,
        &["n1", "n2", "n3"],
        vec![on(&a, "n1"), on(&a, "n2"), on(&a, "n3")],
    )
    .run();
    assert_eq!(r.inplace_update.len(), 3);
    assert!(r.destructive_update.is_empty());
    assert_eq!(r.desired_tg_updates["web"].in_place_update, 3);
    assert!(r.deployment.is_some());
}

#[test]
fn destructive_update_rolls_max_parallel_nodes_at_a_time() {
    let v0 = system();
    let a = Arc::new(v0.clone());
    let v1 = next_version(&v0, true);
    let existing = vec![on(&a, "n1"), on(&a, "n2"), on(&a, "n3")];
    let r = Nodes::new(&v1, &["n1", "n2", "n3"], existing).run();
    assert_eq!(r.destructive_update.len(), 1);
    let d = &r.destructive_update[0];
    assert_eq!(d.place.node_id, "n1");
    assert_eq!(d.stop_alloc.node_id, "n1");
    assert_eq!(d.stop_description, ALLOC_UPDATING);
    let du = &r.desired_tg_updates["web"];
    assert_eq!((du.destructive_update, du.ignore), (1, 2));
}

#[test]
fn destructive_update_without_limit_replaces_all() {
    let mut v0 = system();
    set_update(&mut v0, |u| u.max_parallel = Some(0));
    v0.update.as_mut().unwrap().max_parallel = Some(0);
    let a = Arc::new(v0.clone());
    let v1 = next_version(&v0, true);
    let existing = vec![on(&a, "n1"), on(&a, "n2"), on(&a, "n3")];
    let r = Nodes::new(&v1, &["n1", "n2", "n3"], existing).run();
    assert_eq!(r.destructive_update.len(), 3);
    assert!(r.deployment.is_none());
}

#[test]
fn rollout_waits_for_unhealthy_progress() {
    let v0 = system();
    let a0 = Arc::new(v0.clone());
    let v1 = next_version(&v0, true);
    let a1 = Arc::new(v1.clone());
    let existing = vec![
        in_deployment(on(&a1, "n1"), "d1", None, false),
        on(&a0, "n2"),
        on(&a0, "n3"),
    ];
    let mut c = Nodes::new(&v1, &["n1", "n2", "n3"], existing);
    c.deployment = Some(Arc::new(running_deployment(&v1, "d1", dstate(3))));
    let r = c.run();
    assert!(r.destructive_update.is_empty());
    assert!(r.deployment_updates.is_empty());
}

#[test]
fn completed_system_deployment_is_marked_successful() {
    let job = system();
    let a = Arc::new(job.clone());
    let existing = vec![
        in_deployment(on(&a, "n1"), "d1", Some(true), false),
        in_deployment(on(&a, "n2"), "d1", Some(true), false),
    ];
    let mut s = dstate(2);
    s.healthy_allocs = 2;
    let mut c = Nodes::new(&job, &["n1", "n2"], existing);
    c.deployment = Some(Arc::new(running_deployment(&job, "d1", s)));
    let r = c.run();
    assert_eq!(r.deployment_updates.len(), 1);
    assert_eq!(r.deployment_updates[0].status, "successful");
}

#[test]
fn stopped_system_job_stops_everything() {
    let mut job = system();
    let a = Arc::new(job.clone());
    job.stop = Some(true);
    let mut c = Nodes::new(&job, &["n1", "n2"], vec![on(&a, "n1"), on(&a, "n2")]);
    c.deployment = Some(Arc::new(running_deployment(&job, "d1", dstate(2))));
    let r = c.run();
    assert_eq!(r.stop.len(), 2);
    assert!(r.place.is_empty());
    assert_eq!(
        r.deployment_updates[0].status_description,
        DEPLOYMENT_STOPPED_JOB
    );
}

#[test]
fn disconnected_node_marks_allocation_unknown() {
    let job = system();
    let a = Arc::new(job.clone());
    let r = Nodes::new(&job, &["n1"], vec![on(&a, "n1"), on(&a, "n2")])
        .taint(node("n2", "disconnected"))
        .run();
    let u = &r.disconnect_updates["n2-v0"];
    assert_eq!(u.client_status, "unknown");
    assert_eq!(r.desired_tg_updates["web"].disconnect, 1);
    assert!(r.stop.is_empty() && r.place.is_empty());
}

#[test]
fn reconnected_node_records_the_reconnect() {
    let job = system();
    let a = Arc::new(job.clone());
    let back = with_state(on(&a, "n2"), "unknown", NOW - MINUTE);
    let r = Nodes::new(&job, &["n1", "n2"], vec![on(&a, "n1"), back]).run();
    let u = &r.reconnect_updates["n2-v0"];
    assert_eq!(u.alloc_states.last().unwrap().value, "running");
    assert_eq!(r.desired_tg_updates["web"].reconnect, 1);
    assert!(r.place.is_empty());
}

#[test]
fn failed_system_allocation_is_replaced_on_its_node() {
    let job = system();
    let a = Arc::new(job.clone());
    let failed = failed_at(on(&a, "n1"), NOW - MINUTE);
    let r = Nodes::new(&job, &["n1"], vec![failed]).run();
    assert_eq!(placed_nodes(&r), ["n1"]);
    assert_eq!(r.place[0].previous_alloc.as_ref().unwrap().id, "n1-v0");
}

#[test]
fn sysbatch_runs_once_per_node_and_version() {
    let job = sysbatch();
    let a = Arc::new(job.clone());
    let done = completed(on(&a, "n1"));
    let r = Nodes::new(&job, &["n1", "n2"], vec![done.clone()]).run();
    // n1 finished; only the new node n2 gets one.
    assert_eq!(placed_nodes(&r), ["n2"]);
    assert_eq!(r.desired_tg_updates["web"].ignore, 1);

    // A destructive new version runs again on n1.
    let v1 = next_version(&job, true);
    let r = Nodes::new(&v1, &["n1"], vec![done]).run();
    assert_eq!(r.destructive_update.len(), 1);
    assert_eq!(r.destructive_update[0].place.node_id, "n1");
}

#[test]
fn sysbatch_gets_no_deployment() {
    let job = sysbatch();
    let r = Nodes::new(&job, &["n1"], vec![]).run();
    assert_eq!(r.place.len(), 1);
    assert!(r.deployment.is_none());
}

#[test]
fn removed_group_allocations_are_stopped() {
    let job = system();
    let a = Arc::new(job.clone());
    let mut v1 = next_version(&job, false);
    web(&mut v1).name = Some("api".into());
    let r = Nodes::new(&v1, &["n1"], vec![on(&a, "n1")]).run();
    assert_eq!(r.stop.len(), 1);
    assert_eq!(r.stop[0].description, ALLOC_NOT_NEEDED);
    assert_eq!(r.place.len(), 1);
    assert_eq!(r.place[0].task_group, "api");
}
