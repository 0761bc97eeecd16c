//! The event stream's source: which events each entry produces, the
//! bounded buffer, resuming from an index, and that events change neither
//! the state nor its snapshots.

mod common;

use std::time::Duration;

use common::*;
use nomad_state::command::*;
use nomad_state::{
    Command, EventFilter, EventPayload, EventStreamError, EventType, StateStore, StoreConfig,
};
use nomad_types::DrainStrategy;

/// `(topic, type, key)` of each event of the entry at `index`.
fn events_at(c: &Cluster, index: u64) -> Vec<(String, String, String)> {
    let mut sub = c.store.reader().subscribe_events(index);
    let batches = sub.next_batches(1).expect("buffer readable");
    match batches.first() {
        Some(b) if b.index == index => b
            .events
            .iter()
            .map(|e| {
                (
                    e.topic().as_str().to_string(),
                    e.event_type.as_str().to_string(),
                    e.key().to_string(),
                )
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn ev(topic: &str, ty: &str, key: &str) -> (String, String, String) {
    (topic.into(), ty.into(), key.into())
}

#[test]
fn jobs_evals_and_plans() {
    let mut c = Cluster::default();
    c.add_node("n1");
    assert_eq!(events_at(&c, 1), vec![ev("Node", "NodeRegistration", "n1")]);

    let r = c.register(job("web", &[("g", 1)]));
    assert_eq!(
        events_at(&c, r.index),
        vec![
            ev("Job", "JobRegistered", "web"),
            ev("Evaluation", "JobRegistered", "eval-web-2"),
        ]
    );

    let web = c.snap().job_by_id("default", "web").unwrap();
    let mut a = alloc("a1", "web", "g", "n1", "eval-web-2");
    a.deployment_id = "d1".into();
    let r = c.place(&web, vec![a]);
    assert_eq!(
        events_at(&c, r.index),
        vec![
            ev("Allocation", "PlanResult", "a1"),
            // Its first live allocation makes the job running.
            ev("Job", "PlanResult", "web"),
        ]
    );
    let mut sub = c.store.reader().subscribe_events(r.index);
    let line = sub.next_batches(1).unwrap()[0].to_wire(&EventFilter::all("default"));
    let wire = &line.unwrap().events[0];
    assert_eq!(wire.filter_keys, vec!["web".to_string(), "d1".to_string()]);
    assert!(
        wire.payload.allocation.as_ref().unwrap().job.is_none(),
        "allocations are sent without their job"
    );

    let r = c.client_status("a1", "running");
    assert_eq!(
        events_at(&c, r.index),
        vec![
            ev("Allocation", "AllocationUpdated", "a1"),
            // The node's LastAllocUpdateIndex was written, as in Nomad.
            ev("Node", "AllocationUpdated", "n1"),
        ]
    );

    let r = c.complete_eval("eval-web-2");
    assert_eq!(
        events_at(&c, r.index),
        vec![ev("Evaluation", "EvaluationUpdated", "eval-web-2")]
    );

    // Stop: the job is written; purge: it is deleted and gives no event.
    let r = c.ok(Command::JobDeregister(JobDeregister {
        namespace: "default".into(),
        job_id: "web".into(),
        eval: Some(eval("eval-stop", "web")),
        ..JobDeregister::default()
    }));
    let got = events_at(&c, r.index);
    assert!(
        got.contains(&ev("Job", "JobDeregistered", "web")),
        "{got:?}"
    );
    assert!(got.contains(&ev("Evaluation", "JobDeregistered", "eval-stop")));
    let r = c.ok(Command::JobDeregister(JobDeregister {
        namespace: "default".into(),
        job_id: "web".into(),
        purge: true,
        eval: Some(eval("eval-purge", "web")),
        ..JobDeregister::default()
    }));
    assert_eq!(
        events_at(&c, r.index),
        vec![
            // The purged job's pending evaluation is completed.
            ev("Evaluation", "JobDeregistered", "eval-stop"),
            ev("Evaluation", "JobDeregistered", "eval-purge"),
        ],
        "the purged job gives no event"
    );

    // Entries Nomad publishes nothing for.
    let r = c.ok(Command::EvalDelete(EvalDelete {
        evals: vec!["eval-stop".into()],
        ..EvalDelete::default()
    }));
    assert!(events_at(&c, r.index).is_empty());
    // A refused entry publishes nothing either.
    let r = c.apply(Command::NodeDeregister(NodeDeregister {
        node_ids: vec!["nope".into()],
    }));
    assert!(!r.is_ok());
    assert!(events_at(&c, r.index).is_empty());
}

#[test]
fn node_entries() {
    let mut c = Cluster::default();
    c.add_node("n1");
    let r = c.ok(Command::NodeUpdateStatus(NodeUpdateStatus {
        node_id: "n1".into(),
        status: "down".into(),
        updated_at: 1_700_000_100,
        node_event: None,
    }));
    assert_eq!(
        events_at(&c, r.index),
        vec![ev("Node", "NodeStreamEvent", "n1")]
    );
    let r = c.ok(Command::NodeUpdateDrain(NodeUpdateDrain {
        node_id: "n1".into(),
        drain_strategy: Some(DrainStrategy::default()),
        updated_at: 1_700_000_200,
        ..NodeUpdateDrain::default()
    }));
    assert_eq!(events_at(&c, r.index), vec![ev("Node", "NodeDrain", "n1")]);
    let r = c.ok(Command::NodeUpdateDrain(NodeUpdateDrain {
        node_id: "n1".into(),
        drain_strategy: None,
        updated_at: 1_700_000_300,
        ..NodeUpdateDrain::default()
    }));
    assert_eq!(events_at(&c, r.index), vec![ev("Node", "NodeDrain", "n1")]);
    let r = c.ok(Command::NodeUpdateEligibility(NodeUpdateEligibility {
        node_id: "n1".into(),
        eligibility: "eligible".into(),
        updated_at: 1_700_000_400,
        node_event: None,
    }));
    assert_eq!(
        events_at(&c, r.index),
        vec![ev("Node", "NodeDrain", "n1")],
        "Nomad sends eligibility changes as NodeDrain"
    );
    let r = c.ok(Command::NodeDeregister(NodeDeregister {
        node_ids: vec!["n1".into()],
    }));
    assert_eq!(
        events_at(&c, r.index),
        vec![ev("Node", "NodeDeregistration", "n1")]
    );
    let mut sub = c.store.reader().subscribe_events(r.index);
    let batch = &sub.next_batches(1).unwrap()[0];
    match &batch.events[0].payload {
        EventPayload::Node(n) => assert_eq!(n.id, "n1", "the node as it was"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn wire_lines_carry_the_entry_index_and_filter() {
    let mut c = Cluster::default();
    c.add_node("n1");
    let r = c.register(job("web", &[("g", 1)]));
    let mut sub = c.store.reader().subscribe_events(0);
    let batches = sub.next_batches(10).unwrap();
    assert_eq!(batches.len(), 2);

    let nodes = EventFilter::none("default").with_topic("Node", "*");
    assert!(batches[1].to_wire(&nodes).is_none());
    let line = batches[0].to_wire(&nodes).unwrap();
    assert_eq!(line.index, 1);
    assert_eq!(line.events[0].index, 1);

    let web = EventFilter::none("default").with_topic("Job", "web");
    let line = batches[1].to_wire(&web).unwrap();
    assert_eq!(line.index, r.index);
    assert_eq!(line.events.len(), 1);
    assert_eq!(line.events[0].event_type, "JobRegistered");
    assert_eq!(line.events[0].payload.job.as_ref().unwrap().id(), "web");
    assert!(batches[1]
        .to_wire(&EventFilter::none("default").with_topic("Job", "api"))
        .is_none());
}

#[test]
fn buffer_bounds_and_resume_from_index() {
    let mut c = Cluster {
        store: StateStore::new(StoreConfig::default()).with_event_buffer(3),
        next: 1,
    };
    for n in ["n1", "n2", "n3", "n4", "n5"] {
        c.add_node(n);
    }
    let reader = c.store.reader();
    let mut all = reader.subscribe_events(0);
    let got: Vec<u64> = all
        .next_batches(100)
        .unwrap()
        .iter()
        .map(|b| b.index)
        .collect();
    assert_eq!(got, vec![3, 4, 5], "index 0 starts at the oldest held");
    assert_eq!(all.buffered(), 3);

    let mut from4 = reader.subscribe_events(4);
    let got: Vec<u64> = from4
        .next_batches(100)
        .unwrap()
        .iter()
        .map(|b| b.index)
        .collect();
    assert_eq!(got, vec![4, 5], "from an index on, inclusive");
    assert_eq!(from4.position(), 6);

    // A new entry wakes the waiter at once (it is already applied).
    c.add_node("n6");
    assert_eq!(from4.wait().blocking(Duration::from_secs(5)), Some(6));
    let got = from4.next_batches(100).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].index, 6);
    // Nothing new: the wait times out.
    assert_eq!(from4.wait().blocking(Duration::from_millis(10)), None);

    // `all` stopped reading at 5; 6, 7 and 8 push its unread 6 out.
    for n in ["n7", "n8", "n9"] {
        c.add_node(n);
    }
    assert_eq!(all.next_batches(100).err(), Some(EventStreamError::Dropped));
    assert_eq!(from4.next_batches(100).unwrap().len(), 3);
}

#[test]
fn restore_closes_subscriptions() {
    let mut c = Cluster::default();
    c.add_node("n1");
    let mut sub = c.store.reader().subscribe_events(0);
    assert_eq!(sub.next_batches(10).unwrap().len(), 1);
    let mut image = Vec::new();
    c.store.write_snapshot(&mut image).unwrap();
    c.store.restore_from(image.as_slice()).unwrap();
    // The restore wakes the subscriber although the applied index is the
    // same, and ends its subscription.
    assert!(sub.wait().blocking(Duration::from_secs(5)).is_some());
    assert_eq!(sub.next_batches(10).err(), Some(EventStreamError::Closed));
    let mut fresh = c.store.reader().subscribe_events(0);
    assert!(fresh.next_batches(10).unwrap().is_empty());
}

#[test]
fn events_change_neither_state_nor_snapshots() {
    let run = |store: StateStore| {
        let mut c = Cluster { store, next: 1 };
        for cmd in scenario() {
            c.ok(cmd);
        }
        for cmd in scenario_plans(&c.snap()) {
            c.ok(cmd);
        }
        let mut image = Vec::new();
        c.store.write_snapshot(&mut image).unwrap();
        (
            c.store.digest(),
            image,
            c.store.reader().subscribe_events(0),
        )
    };
    let (d1, img1, mut with) = run(StateStore::default());
    let (d2, img2, mut without) = run(StateStore::default().with_event_buffer(0));
    assert_eq!(d1, d2);
    assert_eq!(img1, img2);
    assert!(!with.next_batches(100).unwrap().is_empty());
    assert_eq!(
        without.next_batches(100).map(|b| b.len()),
        Err(EventStreamError::Disabled)
    );
}

#[test]
fn entry_kinds_without_events() {
    for cmd in [
        Command::Noop,
        Command::SchedulerConfig(SchedulerConfigUpdate::default()),
        Command::EvalDelete(EvalDelete::default()),
        Command::DeploymentDelete(DeploymentDelete::default()),
        Command::PeriodicLaunch(PeriodicLaunchUpdate::default()),
        Command::JobStability(JobStability::default()),
        Command::ScalingEventRegister(ScalingEventRegister::default()),
    ] {
        assert_eq!(EventType::of(&cmd), None, "{}", cmd.type_name());
    }
    let scale = Command::ScalingEventRegister(ScalingEventRegister {
        job_register: Some(JobRegister::default()),
        ..ScalingEventRegister::default()
    });
    assert_eq!(EventType::of(&scale), Some(EventType::JobRegistered));
}

#[test]
fn deployment_entries() {
    use nomad_types::{AllocDeploymentStatus, Deployment, DeploymentState, Nanos};
    let mut c = Cluster::default();
    c.add_node("n1");
    c.register(job("web", &[("g", 1)]));
    let web = c.snap().job_by_id("default", "web").unwrap();
    let mut tgs = std::collections::BTreeMap::new();
    tgs.insert(
        "g".to_string(),
        DeploymentState {
            desired_total: 1,
            desired_canaries: 1,
            progress_deadline: Nanos(10_000_000_000),
            ..Default::default()
        },
    );
    let mut a1 = alloc("a1", "web", "g", "n1", "eval-web-2");
    a1.deployment_id = "dep1".into();
    a1.deployment_status = Some(AllocDeploymentStatus {
        canary: true,
        ..Default::default()
    });
    let r = c.ok(Command::ApplyPlanResults(ApplyPlanResults {
        job: Some(web),
        allocs_updated: vec![a1],
        deployment: Some(Deployment {
            id: "dep1".into(),
            namespace: "default".into(),
            job_id: "web".into(),
            status: "running".into(),
            task_groups: tgs,
            ..Deployment::default()
        }),
        ..ApplyPlanResults::default()
    }));
    assert_eq!(
        events_at(&c, r.index),
        vec![
            ev("Deployment", "PlanResult", "dep1"),
            ev("Allocation", "PlanResult", "a1"),
            ev("Job", "PlanResult", "web"),
        ]
    );
    let r = c.ok(Command::DeploymentAllocHealth(DeploymentAllocHealth {
        deployment_id: "dep1".into(),
        healthy_allocation_ids: vec!["a1".into()],
        timestamp: 1_500_000_000,
        ..Default::default()
    }));
    assert_eq!(
        events_at(&c, r.index),
        vec![
            ev("Deployment", "DeploymentAllocHealth", "dep1"),
            ev("Allocation", "DeploymentAllocHealth", "a1"),
        ]
    );
    let r = c.ok(Command::DeploymentPromotion(DeploymentPromotion {
        deployment_id: "dep1".into(),
        all: true,
        promoted_at: 2_000_000_000,
        eval: Some(eval("eval-promote", "web")),
        ..Default::default()
    }));
    assert_eq!(
        events_at(&c, r.index),
        vec![
            ev("Deployment", "DeploymentPromotion", "dep1"),
            ev("Evaluation", "DeploymentPromotion", "eval-promote"),
            ev("Allocation", "DeploymentPromotion", "a1"),
        ]
    );
    let r = c.ok(Command::DeploymentStatusUpdate(
        DeploymentStatusUpdateRequest {
            deployment_update: DeploymentStatusUpdate {
                deployment_id: "dep1".into(),
                status: "successful".into(),
                status_description: "done".into(),
            },
            updated_at: 3,
            ..Default::default()
        },
    ));
    assert_eq!(
        events_at(&c, r.index),
        vec![
            ev("Deployment", "DeploymentStatusUpdate", "dep1"),
            // A successful deployment marks the job version stable.
            ev("Job", "DeploymentStatusUpdate", "web"),
        ]
    );
    let r = c.ok(Command::AllocUpdateDesiredTransition(
        AllocUpdateDesiredTransition {
            allocs: [(
                "a1".to_string(),
                nomad_types::DesiredTransition {
                    migrate: Some(true),
                    ..Default::default()
                },
            )]
            .into_iter()
            .collect(),
            evals: vec![eval("eval-migrate", "web")],
        },
    ));
    assert_eq!(
        events_at(&c, r.index),
        vec![
            ev("Allocation", "AllocationUpdateDesiredStatus", "a1"),
            ev(
                "Evaluation",
                "AllocationUpdateDesiredStatus",
                "eval-migrate"
            ),
        ]
    );
}
