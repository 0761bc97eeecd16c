//! Node drain: the leader's drainer with simulated clients.

use std::sync::Arc;
use std::time::Duration;

use nomad_server::drainer::{
    drain_deadline, NODE_DRAIN_EVENT_COMPLETE, NODE_DRAIN_EVENT_DETAIL_DEADLINED,
    NODE_DRAIN_EVENT_DISABLED, NODE_DRAIN_EVENT_SET,
};
use nomad_server::testing::{self, register, SimClient};
use nomad_server::Server;
use nomad_types::api::NodeUpdateDrainRequest;
use nomad_types::consts::{drain_status, node_eligibility};
use nomad_types::node::DrainSpec;
use nomad_types::{Allocation, Job, MigrateStrategy, Nanos, Node};

const T: Duration = Duration::from_secs(20);

fn allocs_on(s: &Server, node: &str) -> Vec<Arc<Allocation>> {
    s.state().snapshot().allocs_by_node(node).to_vec()
}

fn live_of(s: &Server, node: &str, job: &str) -> Vec<Arc<Allocation>> {
    allocs_on(s, node)
        .into_iter()
        .filter(|a| a.job_id == job && !a.terminal_status())
        .collect()
}

/// Allocations on `node` marked to migrate that the client still runs.
fn migrating(s: &Server, node: &str) -> usize {
    allocs_on(s, node)
        .iter()
        .filter(|a| a.desired_transition.should_migrate() && !a.client_terminal_status())
        .count()
}

fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos() as i64
}

fn node(s: &Server, id: &str) -> Arc<Node> {
    s.state().snapshot().node_by_id(id).expect("node")
}

fn drain(node: &str, deadline: Nanos, ignore_system_jobs: bool) -> NodeUpdateDrainRequest {
    NodeUpdateDrainRequest {
        node_id: node.into(),
        drain_spec: Some(DrainSpec {
            deadline,
            ignore_system_jobs,
        }),
        ..Default::default()
    }
}

fn web(count: i64, max_parallel: i64) -> Job {
    let mut j = testing::service_job("web", count, 500);
    j.task_groups[0].migrate = Some(MigrateStrategy {
        max_parallel: Some(max_parallel),
        ..MigrateStrategy::default()
    });
    j
}

fn drain_complete_event(n: &Node) -> Option<&nomad_types::node::NodeEvent> {
    n.events
        .iter()
        .rev()
        .find(|e| e.message == NODE_DRAIN_EVENT_COMPLETE)
}

/// Node `a` runs four `web` allocations and one of `sys`; `b` joins later.
async fn setup(s: &Server) -> (SimClient, SimClient) {
    let a = SimClient::join(s, testing::node("a", 8000, 16384))
        .await
        .expect("join a");
    s.job_register(register(testing::system_job("sys")))
        .await
        .expect("register sys");
    s.job_register(register(web(4, 1)))
        .await
        .expect("register web");
    assert!(
        testing::wait_until(T, || live_of(s, &a.node.id, "web").len() == 4
            && live_of(s, &a.node.id, "sys").len() == 1)
        .await,
        "not placed on a"
    );
    a.sync(true).await.expect("healthy");
    let b = SimClient::join(s, testing::node("b", 8000, 16384))
        .await
        .expect("join b");
    assert!(
        testing::wait_until(T, || live_of(s, &b.node.id, "sys").len() == 1).await,
        "sys not placed on b"
    );
    b.sync(true).await.expect("b healthy");
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_moves_one_batch_at_a_time_system_jobs_last() {
    let s = testing::start(testing::test_config()).await.expect("start");
    let (a, b) = setup(&s).await;
    let hb = [
        a.keep_alive(Duration::from_millis(100)),
        b.keep_alive(Duration::from_millis(100)),
    ];
    s.node_update_drain(drain(&a.node.id, Nanos::from_hours(1), false))
        .await
        .expect("drain");
    let n = node(&s, &a.node.id);
    assert_eq!(n.scheduling_eligibility, node_eligibility::INELIGIBLE);
    assert!(n.events.iter().any(|e| e.message == NODE_DRAIN_EVENT_SET));

    // Play both clients until the drain is over, checking the pacing and
    // the order at every step. Pacing: at most max_parallel (1) of web's
    // count of 4 are without a healthy allocation that stays (one not
    // stopped and not marked to migrate).
    let mut max_unhealthy = 0;
    let mut marked = std::collections::BTreeSet::new();
    testing::within("drain", T, async {
        loop {
            let snap = s.state().snapshot();
            let index = snap.latest_index();
            let web = snap.allocs_by_job("default", "web");
            let healthy = web
                .iter()
                .filter(|x| {
                    !x.terminal_status()
                        && !x.desired_transition.should_migrate()
                        && x.deployment_status
                            .as_ref()
                            .is_some_and(|d| d.healthy == Some(true))
                })
                .count();
            max_unhealthy = max_unhealthy.max(4 - healthy as i64);
            marked.extend(
                web.iter()
                    .filter(|x| x.desired_transition.should_migrate())
                    .map(|x| x.id.clone()),
            );
            let web_left = snap
                .allocs_by_node(&a.node.id)
                .iter()
                .filter(|x| x.job_id == "web" && !x.client_terminal_status())
                .count();
            let sys_marked = snap
                .allocs_by_node(&a.node.id)
                .iter()
                .any(|x| x.job_id == "sys" && x.desired_transition.should_migrate());
            assert!(
                !(sys_marked && web_left > 0),
                "the system allocation was drained before the service ones"
            );
            if snap
                .node_by_id(&a.node.id)
                .is_some_and(|n| n.drain_strategy.is_none())
            {
                return;
            }
            a.sync(true).await.expect("sync a");
            b.sync(true).await.expect("sync b");
            let _ = tokio::time::timeout(
                Duration::from_millis(500),
                s.state().wait_past(&nomad_state::Table::ALL, index),
            )
            .await;
        }
    })
    .await;
    assert_eq!(
        max_unhealthy, 1,
        "max_parallel 1 allows one migration at a time"
    );
    assert_eq!(marked.len(), 4, "every web allocation on a migrated");
    let n = node(&s, &a.node.id);
    assert_eq!(
        n.scheduling_eligibility,
        node_eligibility::INELIGIBLE,
        "stays ineligible"
    );
    assert_eq!(
        n.last_drain.as_ref().map(|d| d.status.as_str()),
        Some(drain_status::COMPLETE)
    );
    let ev = drain_complete_event(&n).expect("drain complete event");
    assert!(!ev.details.contains_key(NODE_DRAIN_EVENT_DETAIL_DEADLINED));
    // Everything of web moved to b; the system allocation on a is stopped.
    assert!(
        testing::wait_until(T, || live_of(&s, &b.node.id, "web").len() == 4
            && live_of(&s, &a.node.id, "sys").is_empty())
        .await,
        "web on b: {}, sys on a: {}",
        live_of(&s, &b.node.id, "web").len(),
        live_of(&s, &a.node.id, "sys").len()
    );
    for h in hb {
        h.abort();
    }
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadline_force_stops_what_is_left() {
    let s = testing::start(testing::test_config()).await.expect("start");
    let (a, b) = setup(&s).await;
    let hb = [
        a.keep_alive(Duration::from_millis(100)),
        b.keep_alive(Duration::from_millis(100)),
    ];
    // A batch allocation too: batch work is left to finish until the deadline.
    s.job_register(register(testing::batch_job("crunch", 1)))
        .await
        .expect("register batch");
    assert!(
        testing::wait_until(T, || live_of(&s, &a.node.id, "crunch").len()
            + live_of(&s, &b.node.id, "crunch").len()
            == 1)
        .await
    );
    // Replacements never become healthy, so only the first batch moves
    // before the deadline.
    s.node_update_drain(drain(&a.node.id, Nanos::from_secs(3), false))
        .await
        .expect("drain");
    let mut before_deadline = 0;
    assert!(
        testing::wait_until(T, || {
            // Sampled well before the deadline (the clock read first):
            // how many move while the drain paces itself.
            let now = now_nanos();
            let snap = s.state().snapshot();
            let strategy = snap
                .node_by_id(&a.node.id)
                .and_then(|n| n.drain_strategy.clone());
            let Some(strategy) = strategy else {
                return true;
            };
            let deadline = drain_deadline(&strategy).expect("a deadline");
            if now < deadline - 1_000_000_000 {
                let m = snap
                    .allocs_by_node(&a.node.id)
                    .iter()
                    .filter(|x| {
                        x.desired_transition.should_migrate() && !x.client_terminal_status()
                    })
                    .count();
                before_deadline = before_deadline.max(m);
            }
            false
        })
        .await,
        "drain did not end at its deadline"
    );
    assert_eq!(before_deadline, 1, "one batch before the deadline");
    let n = node(&s, &a.node.id);
    let ev = drain_complete_event(&n).expect("drain complete event");
    assert_eq!(
        ev.details
            .get(NODE_DRAIN_EVENT_DETAIL_DEADLINED)
            .map(String::as_str),
        Some("true")
    );
    // Every allocation on a is marked and stopped.
    assert!(
        testing::wait_until(T, || allocs_on(&s, &a.node.id).iter().all(|x| x
            .terminal_status()
            && x.desired_transition.should_migrate()
            || x.client_terminal_status()))
        .await,
        "left on a: {:?}",
        allocs_on(&s, &a.node.id)
            .iter()
            .filter(|x| !x.terminal_status())
            .map(|x| x.job_id.clone())
            .collect::<Vec<_>>()
    );
    for h in hb {
        h.abort();
    }
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn force_drain_stops_everything_at_once_but_ignored_system_jobs() {
    let s = testing::start(testing::test_config()).await.expect("start");
    let (a, b) = setup(&s).await;
    let hb = [
        a.keep_alive(Duration::from_millis(100)),
        b.keep_alive(Duration::from_millis(100)),
    ];
    s.node_update_drain(drain(&a.node.id, Nanos(-1), true))
        .await
        .expect("force drain");
    assert!(
        testing::wait_until(T, || node(&s, &a.node.id).drain_strategy.is_none()).await,
        "force drain did not end"
    );
    assert!(
        testing::wait_until(T, || live_of(&s, &a.node.id, "web").is_empty()).await,
        "web still on a"
    );
    let sys = live_of(&s, &a.node.id, "sys");
    assert_eq!(
        sys.len(),
        1,
        "ignore_system_jobs keeps the system allocation"
    );
    assert!(!sys[0].desired_transition.should_migrate());
    let n = node(&s, &a.node.id);
    assert_eq!(n.scheduling_eligibility, node_eligibility::INELIGIBLE);
    assert!(drain_complete_event(&n).is_some());
    // Replacements go to b.
    assert!(testing::wait_until(T, || live_of(&s, &b.node.id, "web").len() == 4).await);
    for h in hb {
        h.abort();
    }
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_a_drain_cancels_it() {
    let s = testing::start(testing::test_config()).await.expect("start");
    let a = SimClient::join(&s, testing::node("a", 8000, 16384))
        .await
        .expect("join a");
    let hb = a.keep_alive(Duration::from_millis(100));
    s.job_register(register(web(2, 1))).await.expect("register");
    assert!(testing::wait_until(T, || live_of(&s, &a.node.id, "web").len() == 2).await);
    // No health reported: nothing can move while the drain runs.
    a.sync(false).await.expect("running");
    s.node_update_drain(drain(&a.node.id, Nanos(0), false))
        .await
        .expect("drain");
    assert!(node(&s, &a.node.id).drain_strategy.is_some());
    s.node_update_drain(NodeUpdateDrainRequest {
        node_id: a.node.id.clone(),
        mark_eligible: true,
        ..Default::default()
    })
    .await
    .expect("cancel");
    let n = node(&s, &a.node.id);
    assert!(n.drain_strategy.is_none());
    assert_eq!(n.scheduling_eligibility, node_eligibility::ELIGIBLE);
    assert_eq!(
        n.last_drain.as_ref().map(|d| d.status.as_str()),
        Some(drain_status::CANCELED)
    );
    assert!(n
        .events
        .iter()
        .any(|e| e.message == NODE_DRAIN_EVENT_DISABLED));
    assert_eq!(live_of(&s, &a.node.id, "web").len(), 2);
    assert_eq!(migrating(&s, &a.node.id), 0);
    let err = s
        .node_update_drain(drain("no-such-node", Nanos(0), false))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "node not found: no-such-node");
    hb.abort();
    s.shutdown().await;
}
