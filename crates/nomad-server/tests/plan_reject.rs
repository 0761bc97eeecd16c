//! The plan applier's rejected-node tracking: a node whose plans keep being
//! rejected is marked ineligible (with Nomad's node event), so schedulers
//! stop placing there; below the threshold, or with the tracker off,
//! nothing is marked.

use std::sync::Arc;
use std::time::Duration;

use nomad_scheduler::plan::Plan;
use nomad_server::bad_nodes::PlanRejectionConfig;
use nomad_server::testing::{self, register, service_job, SimClient};
use nomad_server::{Server, ServerConfig};
use nomad_types::consts::{eval_status, node_eligibility};
use nomad_types::resources::Resources;
use nomad_types::Allocation;

const T: Duration = Duration::from_secs(10);

fn config(enabled: bool, threshold: usize) -> ServerConfig {
    ServerConfig {
        plan_rejection: PlanRejectionConfig {
            enabled,
            node_threshold: threshold,
            node_window: Duration::from_secs(60),
        },
        ..testing::test_config()
    }
}

/// A plan placing on `node_id` an allocation far larger than the node: the
/// applier always rejects it.
fn oversized_plan(node_id: &str) -> Plan {
    let alloc = Allocation {
        id: "00000000-0000-4000-8000-000000000001".into(),
        namespace: "default".into(),
        job_id: "huge".into(),
        task_group: "web".into(),
        node_id: node_id.into(),
        resources: Some(Arc::new(Resources {
            cpu: Some(1_000_000),
            memory_mb: Some(256),
            ..Resources::default()
        })),
        ..Allocation::default()
    };
    let mut plan = Plan {
        eval_id: "no-such-eval".into(),
        ..Plan::default()
    };
    plan.node_allocation
        .insert(node_id.to_string(), vec![Arc::new(alloc)]);
    plan
}

fn eligibility(s: &Server, node_id: &str) -> String {
    s.state()
        .snapshot()
        .node_by_id(node_id)
        .map(|n| n.scheduling_eligibility.clone())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_plans_are_always_rejected_becomes_ineligible() {
    let s = testing::start(config(true, 3)).await.expect("start");
    let c = SimClient::join(&s, testing::node("bad", 4000, 8192))
        .await
        .expect("join");
    let hb = c.keep_alive(Duration::from_millis(100));
    let id = c.node.id.clone();

    for i in 0..2 {
        let r = testing::submit_plan(&s, oversized_plan(&id))
            .await
            .expect("plan");
        assert_eq!(r.rejected_nodes, std::slice::from_ref(&id), "plan {i}");
        assert!(r.node_allocation.is_empty());
        assert_eq!(eligibility(&s, &id), node_eligibility::ELIGIBLE, "plan {i}");
    }
    let r = testing::submit_plan(&s, oversized_plan(&id))
        .await
        .expect("plan");
    assert_eq!(r.rejected_nodes, std::slice::from_ref(&id));
    assert_eq!(eligibility(&s, &id), node_eligibility::INELIGIBLE);
    let node = s.state().snapshot().node_by_id(&id).expect("node");
    let event = node.events.last().expect("event");
    assert_eq!(event.subsystem, "Scheduler");
    assert!(
        event.message.contains("multiple plan rejections"),
        "{}",
        event.message
    );

    // The schedulers no longer place there: the job waits blocked.
    let r = s
        .job_register(register(service_job("web", 1, 500)))
        .await
        .expect("register");
    assert!(
        testing::wait_until(T, || s
            .state()
            .snapshot()
            .eval_by_id(&r.eval_id)
            .is_some_and(|e| e.status == eval_status::COMPLETE))
        .await
    );
    assert!(testing::wait_until(T, || !s.blocked().is_empty()).await);
    assert!(s.state().snapshot().allocs_by_node(&id).is_empty());
    hb.abort();
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn below_the_threshold_or_disabled_nothing_is_marked() {
    for (enabled, threshold) in [(true, 10), (false, 1)] {
        let s = testing::start(config(enabled, threshold))
            .await
            .expect("start");
        let c = SimClient::join(&s, testing::node("n", 4000, 8192))
            .await
            .expect("join");
        for _ in 0..5 {
            let r = testing::submit_plan(&s, oversized_plan(&c.node.id))
                .await
                .expect("plan");
            assert_eq!(r.rejected_nodes.len(), 1);
        }
        assert_eq!(
            eligibility(&s, &c.node.id),
            node_eligibility::ELIGIBLE,
            "enabled {enabled}, threshold {threshold}"
        );
        s.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disconnected_node_takes_only_unknown_markings() {
    let s = testing::start(testing::test_config()).await.expect("start");
    let c = SimClient::join(&s, testing::node("away", 4000, 8192))
        .await
        .expect("join");
    let id = c.node.id.clone();
    s.node_update_status(
        &id,
        &c.node.secret_id,
        nomad_types::consts::node_status::DISCONNECTED,
    )
    .await
    .expect("disconnect");
    let snap = s.state().snapshot();
    let mut plan = oversized_plan(&id);
    let err = nomad_server::plan_apply::evaluate_node(&snap, &plan, &id)
        .expect_err("a placement on a disconnected node");
    assert_eq!(err, "node is disconnected and contains invalid updates");
    each_placement(&mut plan, |a| {
        a.client_status = nomad_types::consts::alloc_client_status::UNKNOWN.into();
    });
    assert_eq!(
        nomad_server::plan_apply::evaluate_node(&snap, &plan, &id),
        Ok(())
    );
    s.shutdown().await;
}

/// Edits every allocation the plan places.
fn each_placement(plan: &mut Plan, mut f: impl FnMut(&mut Allocation)) {
    for allocs in plan.node_allocation.values_mut() {
        for a in allocs.iter_mut() {
            f(Arc::make_mut(a));
        }
    }
}

/// A plan placing `cpu` MHz on `node_id` (a fresh allocation each time),
/// stopping `stops` there.
fn placement(node_id: &str, n: u8, cpu: i64, stops: Vec<Arc<Allocation>>) -> Plan {
    let mut plan = oversized_plan(node_id);
    each_placement(&mut plan, |a| {
        a.id = format!("00000000-0000-4000-8000-0000000001{n:02}");
        if let Some(r) = a.resources.as_mut() {
            Arc::make_mut(r).cpu = Some(cpu);
        }
    });
    if !stops.is_empty() {
        plan.node_update.insert(node_id.to_string(), stops);
    }
    plan
}

/// The fit check counts the node's live allocations (kept as a running
/// total by the store), credits what the plan stops, and, as Nomad's, does
/// not count allocations already told to stop that still run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fit_check_counts_live_allocations_and_credits_stops() {
    let s = testing::start(testing::test_config()).await.expect("start");
    let c = SimClient::join(&s, testing::node("n", 1000, 8192))
        .await
        .expect("join");
    let id = c.node.id.clone();
    s.job_register(register(service_job("a", 1, 600)))
        .await
        .expect("register");
    assert!(testing::wait_until(T, || c.allocs().len() == 1).await);
    c.mark_running().await.expect("running");
    let existing = Arc::new(c.allocs().remove(0));

    let check =
        |plan: &Plan| nomad_server::plan_apply::evaluate_node(&s.state().snapshot(), plan, &id);
    assert_eq!(
        check(&placement(&id, 1, 600, Vec::new())),
        Err("cpu exhausted".to_string()),
        "600 + 600 MHz on a 1000 MHz node"
    );
    assert_eq!(check(&placement(&id, 2, 400, Vec::new())), Ok(()));
    assert_eq!(
        check(&placement(&id, 3, 600, vec![existing.clone()])),
        Ok(()),
        "the plan stops the running allocation"
    );

    // Stopped by the servers, still running on the client: not counted.
    s.job_deregister(nomad_types::api::JobDeregisterRequest {
        job_id: "a".into(),
        namespace: "default".into(),
        ..Default::default()
    })
    .await
    .expect("stop");
    assert!(
        testing::wait_until(T, || {
            s.state()
                .snapshot()
                .alloc_by_id(&existing.id)
                .is_some_and(|a| a.desired_status == "stop" && a.client_status == "running")
        })
        .await
    );
    assert_eq!(check(&placement(&id, 4, 900, Vec::new())), Ok(()));
    s.shutdown().await;
}
