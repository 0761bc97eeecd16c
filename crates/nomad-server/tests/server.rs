//! End-to-end tests of the server core with simulated clients.

use std::time::Duration;

use nomad_server::testing::{self, register, service_job, SimClient};
use nomad_types::api::JobRegisterRequest;
use nomad_types::consts::{eval_status, node_status};

const T: Duration = Duration::from_secs(10);

fn live(s: &nomad_server::Server, job: &str) -> Vec<std::sync::Arc<nomad_types::Allocation>> {
    s.state()
        .snapshot()
        .allocs_by_job("default", job)
        .iter()
        .filter(|a| !a.terminal_status())
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eval_completes_with_allocations() {
    let s = testing::start(testing::test_config()).await.expect("start");
    let c = SimClient::join(&s, testing::node("n1", 4000, 8192))
        .await
        .expect("join");
    let hb = c.keep_alive(Duration::from_millis(100));
    let r = s
        .job_register(register(service_job("web", 2, 500)))
        .await
        .expect("register");
    assert!(!r.eval_id.is_empty());
    let ok = testing::wait_until(T, || {
        s.state()
            .snapshot()
            .eval_by_id(&r.eval_id)
            .is_some_and(|e| e.status == eval_status::COMPLETE)
    })
    .await;
    assert!(
        ok,
        "eval did not complete: {:?}",
        s.state().snapshot().eval_by_id(&r.eval_id)
    );
    assert_eq!(live(&s, "web").len(), 2);
    assert_eq!(c.mark_running().await.expect("running"), 2);
    hb.abort();
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_workers_never_overcommit() {
    let mut cfg = testing::test_config();
    cfg.num_schedulers = 4;
    let s = testing::start(cfg).await.expect("start");
    // Room for 4 allocations of 1000 MHz.
    let c = SimClient::join(&s, testing::node("n1", 4000, 65536))
        .await
        .expect("join");
    let hb = c.keep_alive(Duration::from_millis(100));
    let mut evals = Vec::new();
    for i in 0..4 {
        let r = s
            .job_register(register(service_job(&format!("j{i}"), 2, 1000)))
            .await
            .expect("register");
        evals.push(r.eval_id);
    }
    let ok = testing::wait_until(T, || {
        let snap = s.state().snapshot();
        evals.iter().all(|id| {
            snap.eval_by_id(id)
                .is_some_and(|e| e.terminal_status() || e.status == eval_status::BLOCKED)
        })
    })
    .await;
    assert!(ok, "evals did not finish");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let snap = s.state().snapshot();
    let used: i64 = snap
        .allocs_by_node(&c.node.id)
        .iter()
        .filter(|a| !a.terminal_status())
        .map(|a| nomad_scheduler::resources::alloc_usage(a).cpu)
        .sum();
    assert!(used <= 4000, "node overcommitted: {used} MHz");
    assert_eq!(used, 4000, "capacity should be used fully");
    hb.abort();
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_eval_unblocks_when_node_joins() {
    let s = testing::start(testing::test_config()).await.expect("start");
    let r = s
        .job_register(register(service_job("web", 1, 500)))
        .await
        .expect("register");
    let blocked = testing::wait_until(T, || !s.blocked().is_empty()).await;
    assert!(
        blocked,
        "no blocked eval; eval = {:?}",
        s.state().snapshot().eval_by_id(&r.eval_id)
    );
    assert!(live(&s, "web").is_empty());
    let c = SimClient::join(&s, testing::node("n1", 4000, 8192))
        .await
        .expect("join");
    let hb = c.keep_alive(Duration::from_millis(100));
    assert!(
        testing::wait_until(T, || live(&s, "web").len() == 1).await,
        "not placed after node joined"
    );
    hb.abort();
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_node_goes_down_and_allocs_are_replaced() {
    let s = testing::start(testing::test_config()).await.expect("start");
    let a = SimClient::join(&s, testing::node("a", 4000, 8192))
        .await
        .expect("join a");
    let r = s
        .job_register(register(service_job("web", 2, 500)))
        .await
        .expect("register");
    assert!(
        testing::wait_until(T, || live(&s, "web").len() == 2).await,
        "{:?}",
        r
    );
    a.mark_running().await.expect("running");
    // A second node that keeps heartbeating; `a` goes silent.
    let b = SimClient::join(&s, testing::node("b", 4000, 8192))
        .await
        .expect("join b");
    let hb = b.keep_alive(Duration::from_millis(100));
    let down = testing::wait_until(T, || {
        s.state()
            .snapshot()
            .node_by_id(&a.node.id)
            .is_some_and(|n| n.status == node_status::DOWN)
    })
    .await;
    assert!(down, "node a not marked down");
    let replaced = testing::wait_until(T, || {
        let l = live(&s, "web");
        l.len() == 2 && l.iter().all(|x| x.node_id == b.node.id)
    })
    .await;
    assert!(
        replaced,
        "allocations not replaced on b: {:?}",
        s.state()
            .snapshot()
            .allocs_by_job("default", "web")
            .iter()
            .map(|a| (
                a.node_id.clone(),
                a.client_status.clone(),
                a.desired_status.clone()
            ))
            .collect::<Vec<_>>()
    );
    hb.abort();
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_index_mismatch_is_refused() {
    let s = testing::start(testing::test_config()).await.expect("start");
    let job = service_job("web", 1, 500);
    let first = s
        .job_register(register(job.clone()))
        .await
        .expect("register");
    let err = s
        .job_register(JobRegisterRequest {
            job: Some(job.clone()),
            enforce_index: true,
            job_modify_index: 0,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Enforcing job modify index 0: job already exists"
    );
    let stale = first.job_modify_index + 100;
    let err = s
        .job_register(JobRegisterRequest {
            job: Some(job.clone()),
            enforce_index: true,
            job_modify_index: stale,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "Enforcing job modify index {stale}: job exists with conflicting job modify index: {}",
            first.job_modify_index
        )
    );
    let mut changed = job;
    changed.task_groups[0].count = Some(2);
    let ok = s
        .job_register(JobRegisterRequest {
            job: Some(changed),
            enforce_index: true,
            job_modify_index: first.job_modify_index,
            ..Default::default()
        })
        .await
        .expect("matching index");
    assert!(ok.job_modify_index > first.job_modify_index);
    let err = s
        .job_register(JobRegisterRequest {
            job: Some(service_job("other", 1, 100)),
            enforce_index: true,
            job_modify_index: 7,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Enforcing job modify index 7: job does not exist"
    );
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_deployment_succeeds() {
    let s = testing::start(testing::test_config()).await.expect("start");
    let c = SimClient::join(&s, testing::node("n1", 4000, 8192))
        .await
        .expect("join");
    let hb = c.keep_alive(Duration::from_millis(100));
    s.job_register(register(service_job("web", 2, 500)))
        .await
        .expect("register");
    assert!(testing::wait_until(T, || live(&s, "web").len() == 2).await);
    let dep = s
        .state()
        .snapshot()
        .latest_deployment_by_job("default", "web")
        .expect("deployment");
    assert_eq!(dep.status, "running");
    assert_eq!(c.mark_healthy().await.expect("healthy"), 2);
    let ok = testing::wait_until(T, || {
        s.state()
            .snapshot()
            .deployment_by_id(&dep.id)
            .is_some_and(|d| d.status == "successful")
    })
    .await;
    assert!(
        ok,
        "deployment not successful: {:?}",
        s.state().snapshot().deployment_by_id(&dep.id)
    );
    hb.abort();
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_is_a_dry_run_and_stop_replaces() {
    let s = testing::start(testing::test_config()).await.expect("start");
    let c = SimClient::join(&s, testing::node("n1", 1000, 8192))
        .await
        .expect("join");
    let hb = c.keep_alive(Duration::from_millis(100));
    // Two fit, the third does not: the plan reports the failed placement.
    let plan = s
        .job_plan(nomad_types::api::JobPlanRequest {
            job: Some(service_job("web", 3, 400)),
            diff: true,
            ..Default::default()
        })
        .await
        .expect("plan");
    assert!(plan.failed_tg_allocs.contains_key("web"), "{plan:?}");
    assert!(plan.diff.is_some());
    assert!(
        s.state().snapshot().job_by_id("default", "web").is_none(),
        "plan must not register"
    );
    assert!(plan.annotations.is_some());
    // Register two, stop one: it is replaced.
    s.job_register(register(service_job("web", 2, 400)))
        .await
        .expect("register");
    assert!(testing::wait_until(T, || live(&s, "web").len() == 2).await);
    let victim = live(&s, "web")[0].id.clone();
    s.alloc_stop(nomad_types::api::AllocStopRequest {
        alloc_id: victim.clone(),
        ..Default::default()
    })
    .await
    .expect("stop");
    let replaced = testing::wait_until(T, || {
        let l = live(&s, "web");
        let snap = s.state().snapshot();
        let stopped = snap
            .alloc_by_id(&victim)
            .is_some_and(|a| a.desired_status == "stop");
        stopped && l.iter().filter(|a| a.desired_status == "run").count() == 2
    })
    .await;
    assert!(replaced, "stopped alloc not replaced");
    hb.abort();
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_restores_blocked_evals() {
    let dir = std::env::temp_dir().join(format!("nomad-server-restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut cfg = testing::test_config();
    cfg.data_dir = Some(dir.clone());
    let s = testing::start(cfg.clone()).await.expect("start");
    s.job_register(register(service_job("web", 1, 500)))
        .await
        .expect("register");
    assert!(testing::wait_until(T, || !s.blocked().is_empty()).await);
    s.shutdown().await;
    drop(s);
    let s = testing::start(cfg).await.expect("restart");
    assert!(
        testing::wait_until(T, || !s.blocked().is_empty()).await,
        "blocked eval not restored"
    );
    let c = SimClient::join(&s, testing::node("n1", 4000, 8192))
        .await
        .expect("join");
    let hb = c.keep_alive(Duration::from_millis(100));
    assert!(
        testing::wait_until(T, || live(&s, "web").len() == 1).await,
        "not placed after restart"
    );
    hb.abort();
    s.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpc_round_trip() {
    let s = testing::start(testing::test_config()).await.expect("start");
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = l.local_addr().expect("addr").to_string();
    s.serve_rpc(l);
    let rpc = nomad_server::rpc::RpcClient::new(vec![addr]);
    let mut node = testing::node("remote", 4000, 8192);
    node.status = node_status::READY.into();
    let (ttl, _) = rpc.register(&node).await.expect("register");
    assert!(ttl >= Duration::from_millis(300));
    rpc.heartbeat(&node.id, &node.secret_id, node_status::READY)
        .await
        .expect("heartbeat");
    let err = rpc
        .heartbeat("nope", "", node_status::READY)
        .await
        .unwrap_err();
    assert!(
        matches!(err, nomad_server::ServerError::NodeUnknown(_)),
        "{err:?}"
    );
    s.job_register(register(service_job("web", 1, 500)))
        .await
        .expect("register job");
    let w = rpc
        .watch_allocs(&node.id, &node.secret_id, 0, Duration::from_secs(5))
        .await
        .expect("watch");
    let w = if w.allocs.is_empty() {
        rpc.watch_allocs(&node.id, &node.secret_id, w.index, Duration::from_secs(5))
            .await
            .expect("watch")
    } else {
        w
    };
    assert_eq!(w.allocs.len(), 1, "{w:?}");
    let ids: Vec<String> = w.allocs.keys().cloned().collect();
    let allocs = rpc.get_allocs(&node.secret_id, &ids).await.expect("get");
    assert!(allocs[0].job.is_some());
    let up = nomad_server::ClientAllocUpdate {
        id: ids[0].clone(),
        client_status: "running".into(),
        ..Default::default()
    };
    rpc.update_allocs(&node.secret_id, vec![up])
        .await
        .expect("update");
    assert_eq!(
        s.state()
            .snapshot()
            .alloc_by_id(&ids[0])
            .expect("alloc")
            .client_status,
        "running"
    );
    s.shutdown().await;
}

/// `(node, client status, desired status)` of the job's allocations.
fn states(s: &nomad_server::Server, job: &str) -> Vec<(String, String, String)> {
    s.state()
        .snapshot()
        .allocs_by_job("default", job)
        .iter()
        .map(|a| {
            (
                a.node_id.clone(),
                a.client_status.clone(),
                a.desired_status.clone(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_node_with_a_disconnect_block_goes_disconnected_reconnects_then_goes_down() {
    use nomad_types::consts::{alloc_client_status as client, alloc_desired_status as desired};
    let s = testing::start(testing::test_config()).await.expect("start");
    let a = SimClient::join(&s, testing::node("a", 4000, 8192))
        .await
        .expect("join a");
    let mut job = service_job("web", 1, 500);
    job.task_groups[0].disconnect = Some(nomad_types::DisconnectStrategy {
        lost_after: Some(nomad_types::Nanos(3_000_000_000)),
        replace: Some(true),
        reconcile: Some("keep_original".into()),
        ..Default::default()
    });
    s.job_register(register(job)).await.expect("register");
    assert!(testing::wait_until(T, || live(&s, "web").len() == 1).await);
    a.mark_healthy().await.expect("running");
    let original = live(&s, "web")[0].id.clone();
    let b = SimClient::join(&s, testing::node("b", 4000, 8192))
        .await
        .expect("join b");
    let hb_b = b.keep_alive(Duration::from_millis(100));
    let node_status_of = |id: &str| {
        s.state()
            .snapshot()
            .node_by_id(id)
            .map(|n| n.status.clone())
            .unwrap_or_default()
    };

    // `a` goes silent: disconnected, not down; its allocation unknown and
    // replaced on `b`.
    assert!(
        testing::wait_until(T, || node_status_of(&a.node.id)
            == node_status::DISCONNECTED)
        .await,
        "node a is {:?}",
        node_status_of(&a.node.id)
    );
    assert!(
        testing::wait_until(T, || {
            let st = states(&s, "web");
            st.iter()
                .any(|x| x.0 == a.node.id && x.1 == client::UNKNOWN && x.2 == desired::RUN)
                && st.iter().any(|x| x.0 == b.node.id && x.2 == desired::RUN)
        })
        .await,
        "{:?}",
        states(&s, "web")
    );
    b.mark_running().await.expect("replacement running");

    // `a` comes back and reports its allocation still running: with
    // keep_original the replacement on `b` is stopped.
    let hb_a = a.keep_alive(Duration::from_millis(100));
    assert!(testing::wait_until(T, || node_status_of(&a.node.id) == node_status::READY).await);
    a.report(std::slice::from_ref(&original), client::RUNNING, None)
        .await
        .expect("report");
    assert!(
        testing::wait_until(T, || {
            let st = states(&s, "web");
            st.iter()
                .any(|x| x.0 == a.node.id && x.1 == client::RUNNING && x.2 == desired::RUN)
                && st
                    .iter()
                    .filter(|x| x.0 == b.node.id)
                    .all(|x| x.2 == desired::STOP)
        })
        .await,
        "{:?}",
        states(&s, "web")
    );

    // Silent again for longer than lost_after: disconnected, then down
    // once the window closes, and the original is lost.
    hb_a.abort();
    assert!(
        testing::wait_until(T, || node_status_of(&a.node.id)
            == node_status::DISCONNECTED)
        .await
    );
    assert!(
        testing::wait_until(T, || node_status_of(&a.node.id) == node_status::DOWN).await,
        "node a is {:?}",
        node_status_of(&a.node.id)
    );
    assert!(
        testing::wait_until(T, || states(&s, "web")
            .iter()
            .any(|x| x.0 == a.node.id && x.1 == client::LOST))
        .await,
        "{:?}",
        states(&s, "web")
    );
    hb_b.abort();
    s.shutdown().await;
}

/// Reports from many clients at once share Raft entries: each is answered
/// with the index its entry committed at, and every report is applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_client_reports_share_entries() {
    const NODES: usize = 40;
    let s = testing::start(testing::test_config()).await.expect("start");
    let mut clients = Vec::new();
    for i in 0..NODES {
        // Room for one allocation each.
        let node = testing::node(&format!("n{i}"), 1000, 1024);
        clients.push(SimClient::join(&s, node).await.expect("join"));
    }
    let r = s
        .job_register(register(service_job("web", NODES as i64, 800)))
        .await
        .expect("register");
    let placed = testing::wait_until(T, || live(&s, "web").len() == NODES).await;
    assert!(
        placed,
        "eval {:?}",
        s.state().snapshot().eval_by_id(&r.eval_id)
    );
    let before = s.state().snapshot().latest_index();
    let mut reports = tokio::task::JoinSet::new();
    for c in clients {
        reports.spawn(async move {
            let ids: Vec<String> = c.allocs().into_iter().map(|a| a.id).collect();
            c.report(&ids, "running", None).await.expect("report")
        });
    }
    let mut indexes = std::collections::BTreeSet::new();
    while let Some(r) = reports.join_next().await {
        indexes.insert(r.expect("reporter"));
    }
    assert!(
        indexes.len() < NODES,
        "{NODES} concurrent reports took {} entries",
        indexes.len()
    );
    assert!(indexes.iter().all(|i| *i > before));
    let snap = s.state().snapshot();
    let running = snap
        .allocs_by_job("default", "web")
        .iter()
        .filter(|a| a.client_status == "running")
        .count();
    assert_eq!(running, NODES, "every report applied");
    s.shutdown().await;
}

/// `PUT /v1/node/:id/evaluate` and `/purge` (Nomad's `Node.Evaluate` and
/// `Node.Deregister`): a purged node's allocations are replaced elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_evaluate_and_purge_replace_allocations() {
    let s = testing::start(testing::test_config()).await.expect("start");
    let a = SimClient::join(&s, testing::node("a", 4000, 8192))
        .await
        .expect("join a");
    s.job_register(register(service_job("web", 2, 500)))
        .await
        .expect("register");
    assert!(testing::wait_until(T, || live(&s, "web").len() == 2).await);
    a.mark_running().await.expect("running");

    let r = s.node_evaluate(&a.node.id).await.expect("evaluate");
    assert_eq!(r.eval_ids.len(), 1, "{r:?}");
    let eval = s
        .state()
        .snapshot()
        .eval_by_id(&r.eval_ids[0])
        .expect("eval");
    assert_eq!(
        (eval.triggered_by.as_str(), eval.job_id.as_str()),
        ("node-update", "web")
    );
    assert!(s.node_evaluate("nope").await.is_err());

    let b = SimClient::join(&s, testing::node("b", 4000, 8192))
        .await
        .expect("join b");
    let hb = b.keep_alive(Duration::from_millis(100));
    let r = s.node_purge(&a.node.id).await.expect("purge");
    assert_eq!(r.eval_ids.len(), 1, "{r:?}");
    assert!(s.state().snapshot().node_by_id(&a.node.id).is_none());
    let replaced = testing::wait_until(T, || {
        let l = live(&s, "web");
        l.len() == 2 && l.iter().all(|x| x.node_id == b.node.id)
    })
    .await;
    assert!(replaced, "allocations not replaced on b");
    assert!(s.node_purge(&a.node.id).await.is_err(), "purged twice");
    hb.abort();
    s.shutdown().await;
}

/// `PUT /v1/deployment/allocation-health/:id` (Nomad's
/// `Deployment.SetAllocHealth`): allocations marked healthy by hand
/// finish the deployment; bad requests say what is wrong.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allocation_health_set_by_hand_finishes_the_deployment() {
    use nomad_types::api::DeploymentAllocHealthRequest;
    let s = testing::start(testing::test_config()).await.expect("start");
    let c = SimClient::join(&s, testing::node("n1", 4000, 8192))
        .await
        .expect("join");
    let hb = c.keep_alive(Duration::from_millis(100));
    s.job_register(register(service_job("web", 2, 500)))
        .await
        .expect("register");
    assert!(testing::wait_until(T, || live(&s, "web").len() == 2).await);
    c.mark_running().await.expect("running");
    let dep = s
        .state()
        .snapshot()
        .latest_deployment_by_job("default", "web")
        .expect("deployment");
    let ids: Vec<String> = live(&s, "web").iter().map(|a| a.id.clone()).collect();

    let req = |healthy: Vec<String>| DeploymentAllocHealthRequest {
        deployment_id: dep.id.clone(),
        healthy_allocation_ids: healthy,
        ..DeploymentAllocHealthRequest::default()
    };
    let err = s
        .deployment_alloc_health(req(Vec::new()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("at least one"), "{err}");
    let err = s
        .deployment_alloc_health(req(vec!["nope".into()]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("unknown alloc \"nope\""), "{err}");

    let r = s
        .deployment_alloc_health(req(ids))
        .await
        .expect("set health");
    assert!(!r.eval_id.is_empty());
    let ok = testing::wait_until(T, || {
        s.state()
            .snapshot()
            .deployment_by_id(&dep.id)
            .is_some_and(|d| d.status == "successful")
    })
    .await;
    assert!(ok, "{:?}", s.state().snapshot().deployment_by_id(&dep.id));
    let err = s
        .deployment_alloc_health(req(Vec::new()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("terminal deployment"), "{err}");
    hb.abort();
    s.shutdown().await;
}
