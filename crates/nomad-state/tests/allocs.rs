//! Allocations: plan results, client updates, summaries, deployments.

mod common;

use std::sync::Arc;

use common::*;
use nomad_state::command::*;
use nomad_state::{ApplyError, Command, Table};
use nomad_types::{
    AllocDeploymentStatus, Deployment, DeploymentState, GoTime, Nanos, TaskGroupSummary,
};

fn setup() -> (Cluster, Arc<nomad_types::Job>) {
    let mut c = Cluster::default();
    c.add_node("n1");
    c.add_node("n2");
    c.register(job("web", &[("g", 3)]));
    let j = c.snap().job_by_id("default", "web").unwrap();
    (c, j)
}

#[test]
fn plan_results_place_allocations_in_every_index() {
    let (mut c, j) = setup();
    let r = c.ok(Command::ApplyPlanResults(ApplyPlanResults {
        job: Some(Arc::clone(&j)),
        allocs_updated: vec![
            alloc("a1", "web", "g", "n1", "eval-web-3"),
            alloc("a2", "web", "g", "n2", "eval-web-3"),
            alloc("a3", "web", "g", "n1", "eval-web-3"),
        ],
        eval_id: "eval-web-3".into(),
        ..ApplyPlanResults::default()
    }));
    let s = c.snap();
    let ids =
        |v: &[Arc<nomad_types::Allocation>]| v.iter().map(|a| a.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(s.allocs_by_node("n1")), ["a1", "a3"]);
    assert_eq!(ids(s.allocs_by_node("n2")), ["a2"]);
    assert_eq!(ids(s.allocs_by_job("default", "web")), ["a1", "a2", "a3"]);
    assert_eq!(ids(s.allocs_by_eval("eval-web-3")), ["a1", "a2", "a3"]);
    let a1 = s.alloc_by_id("a1").unwrap();
    assert_eq!(
        (a1.create_index, a1.modify_index, a1.alloc_modify_index),
        (r.index, r.index, r.index)
    );
    // One job object shared by the stored version and every allocation.
    assert!(Arc::ptr_eq(a1.job.as_ref().unwrap(), &j));
    assert!(Arc::ptr_eq(
        s.alloc_by_id("a2").unwrap().job.as_ref().unwrap(),
        &j
    ));
    assert_eq!(s.eval_by_id("eval-web-3").unwrap().modify_index, r.index);
    assert_eq!(s.table_index(Table::Allocs), r.index);
    let summary = s.job_summary("default", "web").unwrap();
    assert_eq!(summary.summary["g"].starting, 3);
    s.check_indexes().unwrap();

    // ID-prefix lookups.
    let ids: Vec<&str> = s.allocs_by_id_prefix("a").map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["a1", "a2", "a3"]);
    assert_eq!(s.allocs_by_id_prefix("a2").count(), 1);
    assert_eq!(s.allocs_by_id_prefix("b").count(), 0);
    let evals: Vec<&str> = s
        .evals_by_id_prefix("eval-web")
        .map(|e| e.id.as_str())
        .collect();
    assert_eq!(evals, ["eval-web-3"]);
    assert_eq!(s.evals_by_job("default", "web").len(), 1);
}

#[test]
fn stopped_and_preempted_allocations_are_updated_in_place() {
    let (mut c, j) = setup();
    c.place(
        &j,
        vec![
            alloc("a1", "web", "g", "n1", "e"),
            alloc("a2", "web", "g", "n2", "e"),
        ],
    );
    c.client_status("a1", "running");
    let r = c.ok(Command::ApplyPlanResults(ApplyPlanResults {
        allocs_stopped: vec![AllocStop {
            id: "a1".into(),
            desired_description: "alloc not needed due to job update".into(),
            modify_time: 99,
            ..AllocStop::default()
        }],
        allocs_preempted: vec![AllocPreempted {
            id: "a2".into(),
            preempted_by_allocation: "big".into(),
            modify_time: 0,
        }],
        ..ApplyPlanResults::default()
    }));
    let s = c.snap();
    let a1 = s.alloc_by_id("a1").unwrap();
    assert_eq!(a1.desired_status, "stop");
    assert_eq!(a1.desired_description, "alloc not needed due to job update");
    assert_eq!(a1.client_status, "running", "the client's status is kept");
    assert_eq!(
        (a1.modify_time, a1.modify_index, a1.create_index),
        (99, r.index, a1.create_index)
    );
    assert!(a1.job.is_some());
    let a2 = s.alloc_by_id("a2").unwrap();
    assert_eq!(a2.desired_status, "evict");
    assert_eq!(a2.desired_description, "Preempted by alloc ID big");
    assert_eq!(s.allocs_by_node("n1").len(), 1, "still indexed");

    // Stopping an allocation that does not exist refuses the whole plan.
    let r = c.apply(Command::ApplyPlanResults(ApplyPlanResults {
        job: Some(Arc::clone(&j)),
        allocs_updated: vec![alloc("a9", "web", "g", "n1", "e")],
        allocs_stopped: vec![AllocStop {
            id: "ghost".into(),
            ..AllocStop::default()
        }],
        ..ApplyPlanResults::default()
    }));
    assert!(matches!(r.error, Some(ApplyError::NotFound { ref kind, .. }) if kind == "alloc"));
    assert!(c.snap().alloc_by_id("a9").is_none());
}

#[test]
fn summary_counts_follow_client_status() {
    let (mut c, j) = setup();
    c.place(
        &j,
        vec![
            alloc("a1", "web", "g", "n1", "e"),
            alloc("a2", "web", "g", "n2", "e"),
            alloc("a3", "web", "g", "n1", "e"),
        ],
    );
    let counts = |c: &Cluster| c.snap().job_summary("default", "web").unwrap().summary["g"].clone();
    assert_eq!(
        counts(&c),
        TaskGroupSummary {
            starting: 3,
            ..Default::default()
        }
    );
    c.client_status("a1", "running");
    c.client_status("a2", "running");
    assert_eq!(
        counts(&c),
        TaskGroupSummary {
            starting: 1,
            running: 2,
            ..Default::default()
        }
    );
    c.client_status("a1", "failed");
    c.client_status("a2", "complete");
    c.client_status("a3", "lost");
    assert_eq!(
        counts(&c),
        TaskGroupSummary {
            failed: 1,
            complete: 1,
            lost: 1,
            ..Default::default()
        }
    );
    c.client_status("a3", "unknown");
    assert_eq!(
        counts(&c),
        TaskGroupSummary {
            failed: 1,
            complete: 1,
            unknown: 1,
            ..Default::default()
        }
    );
    // Updates for missing allocations are skipped, not errors.
    let r = c.client_status("gone", "running");
    assert!(r.is_ok());
    // The client's node records when it last updated its allocations.
    assert_eq!(
        c.snap().node_by_id("n1").unwrap().last_alloc_update_index,
        c.next - 2
    );
}

#[test]
fn queued_allocations_come_from_evals() {
    let (mut c, j) = setup();
    let mut e = eval("eval-web-3", "web");
    e.queued_allocations.insert("g".into(), 2);
    c.ok(Command::EvalUpdate(EvalUpdate { evals: vec![e] }));
    assert_eq!(
        c.snap().job_summary("default", "web").unwrap().summary["g"].queued,
        2
    );
    c.place(&j, vec![alloc("a1", "web", "g", "n1", "e")]);
    let g = c.snap().job_summary("default", "web").unwrap().summary["g"].clone();
    assert_eq!(
        (g.queued, g.starting),
        (1, 1),
        "a placement takes one from the queue"
    );
}

#[test]
fn allocations_for_a_stopped_job_are_not_placed() {
    let (mut c, j) = setup();
    c.ok(Command::JobDeregister(JobDeregister {
        namespace: "default".into(),
        job_id: "web".into(),
        ..JobDeregister::default()
    }));
    c.place(&j, vec![alloc("late", "web", "g", "n1", "e")]);
    assert!(c.snap().alloc_by_id("late").is_none());
    // An allocation with no job at all is refused.
    let r = c.apply(Command::ApplyPlanResults(ApplyPlanResults {
        allocs_updated: vec![alloc("nojob", "web", "g", "n1", "e")],
        ..ApplyPlanResults::default()
    }));
    assert!(matches!(r.error, Some(ApplyError::Invalid(_))));
}

#[test]
fn replacements_link_to_the_allocation_they_replace() {
    let (mut c, j) = setup();
    c.place(&j, vec![alloc("old", "web", "g", "n1", "e")]);
    let mut new = alloc("new", "web", "g", "n2", "e2");
    new.previous_allocation = "old".into();
    c.place(&j, vec![new]);
    assert_eq!(c.snap().alloc_by_id("old").unwrap().next_allocation, "new");
}

#[test]
fn desired_transitions_merge() {
    let (mut c, j) = setup();
    c.place(&j, vec![alloc("a1", "web", "g", "n1", "e")]);
    let mut allocs = std::collections::BTreeMap::new();
    allocs.insert(
        "a1".to_string(),
        nomad_types::DesiredTransition {
            migrate: Some(true),
            ..Default::default()
        },
    );
    allocs.insert("missing".to_string(), Default::default());
    let r = c.ok(Command::AllocUpdateDesiredTransition(
        AllocUpdateDesiredTransition {
            allocs,
            evals: vec![eval("drain-eval", "web")],
        },
    ));
    let a = c.snap().alloc_by_id("a1").unwrap();
    assert_eq!(a.desired_transition.migrate, Some(true));
    assert_eq!(a.alloc_modify_index, r.index);
    assert!(c.snap().eval_by_id("drain-eval").is_some());
}

#[test]
fn deployments_count_placements_and_health() {
    let (mut c, j) = setup();
    let mut tgs = std::collections::BTreeMap::new();
    tgs.insert(
        "g".to_string(),
        DeploymentState {
            desired_total: 2,
            desired_canaries: 1,
            progress_deadline: Nanos(10_000_000_000),
            ..Default::default()
        },
    );
    let dep = Deployment {
        id: "dep1".into(),
        namespace: "default".into(),
        job_id: "web".into(),
        status: "running".into(),
        task_groups: tgs,
        ..Deployment::default()
    };
    let mut a1 = alloc("a1", "web", "g", "n1", "e");
    a1.deployment_id = "dep1".into();
    a1.modify_time = 1_000_000_000;
    a1.deployment_status = Some(AllocDeploymentStatus {
        canary: true,
        ..Default::default()
    });
    c.ok(Command::ApplyPlanResults(ApplyPlanResults {
        job: Some(j),
        allocs_updated: vec![a1],
        deployment: Some(dep),
        ..ApplyPlanResults::default()
    }));
    let s = c.snap();
    let d = s.deployment_by_id("dep1").unwrap();
    assert_eq!(d.task_groups["g"].placed_allocs, 1);
    assert_eq!(d.task_groups["g"].placed_canaries, ["a1"]);
    assert_eq!(
        d.task_groups["g"].require_progress_by,
        GoTime::from_unix_nanos(11_000_000_000)
    );
    assert_eq!(s.allocs_by_deployment("dep1").len(), 1);
    assert_eq!(
        s.latest_deployment_by_job("default", "web").unwrap().id,
        "dep1"
    );
    assert_eq!(
        s.job_by_id("default", "web").unwrap().status.as_deref(),
        Some("running")
    );

    // Promotion needs a healthy canary.
    let promote = Command::DeploymentPromotion(DeploymentPromotion {
        deployment_id: "dep1".into(),
        all: true,
        promoted_at: 2_000_000_000,
        ..Default::default()
    });
    let r = c.apply(promote.clone());
    assert!(
        matches!(r.error, Some(ApplyError::Conflict(ref m)) if m.contains("0/1 healthy")),
        "{r:?}"
    );

    c.ok(Command::DeploymentAllocHealth(DeploymentAllocHealth {
        deployment_id: "dep1".into(),
        healthy_allocation_ids: vec!["a1".into()],
        timestamp: 1_500_000_000,
        ..Default::default()
    }));
    let d = c.snap().deployment_by_id("dep1").unwrap();
    assert_eq!(d.task_groups["g"].healthy_allocs, 1);
    c.ok(promote);
    let s = c.snap();
    assert!(s.deployment_by_id("dep1").unwrap().task_groups["g"].promoted);
    assert!(
        !s.alloc_by_id("a1")
            .unwrap()
            .deployment_status
            .as_ref()
            .unwrap()
            .canary
    );

    // Success marks the job version stable; terminal deployments refuse updates.
    let upd = |status: &str| {
        Command::DeploymentStatusUpdate(DeploymentStatusUpdateRequest {
            deployment_update: DeploymentStatusUpdate {
                deployment_id: "dep1".into(),
                status: status.into(),
                status_description: "done".into(),
            },
            updated_at: 3,
            ..Default::default()
        })
    };
    c.ok(upd("successful"));
    let s = c.snap();
    assert_eq!(s.job_by_id("default", "web").unwrap().stable, Some(true));
    assert_eq!(s.job_versions("default", "web")[0].stable, Some(true));
    assert!(c.apply(upd("failed")).error.is_some());
}

#[test]
fn eval_delete_reaps_evals_and_allocs() {
    let (mut c, j) = setup();
    c.place(&j, vec![alloc("a1", "web", "g", "n1", "eval-web-3")]);
    let del = |user| {
        Command::EvalDelete(EvalDelete {
            evals: vec!["eval-web-3".into()],
            allocs: vec!["a1".into()],
            user_initiated: user,
        })
    };
    let r = c.apply(del(true));
    assert!(r.error.is_some(), "operators must pause the broker first");
    c.ok(del(false));
    let s = c.snap();
    assert!(s.eval_by_id("eval-web-3").is_none());
    assert!(s.alloc_by_id("a1").is_none());
    assert!(s.evals_by_job("default", "web").is_empty());
    assert_eq!(
        s.job_by_id("default", "web").unwrap().status.as_deref(),
        Some("dead")
    );
    s.check_indexes().unwrap();
}
