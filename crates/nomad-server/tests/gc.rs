//! Garbage collection: the leader's periodic passes reap what has been
//! terminal for longer than its threshold and nothing younger; `system gc`
//! reaps everything eligible, whatever its age; live objects always stay.

use std::sync::Arc;
use std::time::Duration;

use nomad_server::testing::{self, batch_job, register, service_job, SimClient};
use nomad_server::{GcConfig, Server, ServerConfig};
use nomad_types::api::JobDeregisterRequest;
use nomad_types::consts::{alloc_desired_status, deployment_status, job_status, node_status};
use nomad_types::{Allocation, Job, Nanos, UpdateStrategy};

const T: Duration = Duration::from_secs(15);

/// Collection every 50 ms with the given thresholds.
fn config(threshold: Duration) -> ServerConfig {
    let every = Duration::from_millis(50);
    ServerConfig {
        gc: GcConfig {
            eval_gc_threshold: threshold,
            batch_eval_gc_threshold: threshold,
            job_gc_threshold: threshold,
            node_gc_threshold: threshold,
            deployment_gc_threshold: threshold,
            eval_gc_interval: every,
            job_gc_interval: every,
            node_gc_interval: every,
            deployment_gc_interval: every,
            ..GcConfig::default()
        },
        ..testing::test_config()
    }
}

fn allocs(s: &Server, job: &str) -> Vec<Arc<Allocation>> {
    s.state().snapshot().allocs_by_job("default", job).to_vec()
}

fn live(s: &Server, job: &str) -> Vec<Arc<Allocation>> {
    allocs(s, job)
        .into_iter()
        .filter(|a| !a.terminal_status())
        .collect()
}

fn job(s: &Server, id: &str) -> Option<Arc<Job>> {
    s.state().snapshot().job_by_id("default", id)
}

fn eval_ids(s: &Server, job: &str) -> Vec<String> {
    s.state()
        .snapshot()
        .evals_by_job("default", job)
        .iter()
        .map(|e| e.id.clone())
        .collect()
}

fn has_node(s: &Server, id: &str) -> bool {
    s.state().snapshot().node_by_id(id).is_some()
}

async fn placed(s: &Server, job: &str, n: usize) {
    assert!(
        testing::wait_until(T, || live(s, job).len() == n).await,
        "{job}: {} live allocations, want {n}",
        live(s, job).len()
    );
}

/// Waits for the job to be dead (or already reaped).
async fn job_dead(s: &Server, id: &str) {
    assert!(
        testing::wait_until(T, || job(s, id)
            .is_none_or(|j| j.status.as_deref() == Some(job_status::DEAD)))
        .await,
        "{id} not dead: {:?}",
        job(s, id).and_then(|j| j.status.clone())
    );
}

/// A node that registered and then went down.
async fn down_node(s: &Server, name: &str) -> String {
    let n = SimClient::join(s, testing::node(name, 1000, 1024))
        .await
        .expect("join");
    s.node_update_status(&n.node.id, &n.node.secret_id, node_status::DOWN)
        .await
        .expect("down");
    n.node.id.clone()
}

/// A finished batch job, a stopped service job whose allocation completed,
/// a live service job and a down node; returns the live client.
struct Scene {
    c: SimClient,
    hb: tokio::task::JoinHandle<()>,
    down: String,
    batch_evals: Vec<String>,
    batch_allocs: Vec<String>,
    old_evals: Vec<String>,
}

async fn scene(s: &Server) -> Scene {
    let c = SimClient::join(s, testing::node("n1", 8000, 16384))
        .await
        .expect("join");
    let hb = c.keep_alive(Duration::from_millis(100));

    let mut batch_evals = Vec::new();
    let r = s
        .job_register(register(batch_job("batch", 1)))
        .await
        .expect("batch");
    batch_evals.push(r.eval_id);
    placed(s, "batch", 1).await;
    let batch_allocs = allocs(s, "batch").iter().map(|a| a.id.clone()).collect();
    c.complete_all().await.expect("complete");
    job_dead(s, "batch").await;

    s.job_register(register(service_job("web", 1, 500)))
        .await
        .expect("web");
    placed(s, "web", 1).await;
    c.sync(false).await.expect("running");

    let mut old_evals = Vec::new();
    let r = s
        .job_register(register(service_job("old", 1, 500)))
        .await
        .expect("old");
    old_evals.push(r.eval_id);
    placed(s, "old", 1).await;
    c.sync(false).await.expect("running");
    let r = s
        .job_deregister(JobDeregisterRequest {
            job_id: "old".into(),
            namespace: "default".into(),
            ..Default::default()
        })
        .await
        .expect("stop old");
    old_evals.push(r.eval_id);
    assert!(
        testing::wait_until(T, || allocs(s, "old")
            .iter()
            .all(|a| a.desired_status == alloc_desired_status::STOP))
        .await,
        "old not stopped"
    );
    c.sync(false).await.expect("sync");
    job_dead(s, "old").await;

    let down = down_node(s, "gone").await;
    Scene {
        batch_evals,
        batch_allocs,
        old_evals,
        c,
        hb,
        down,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn young_objects_survive_periodic_gc_and_system_gc_reaps_them() {
    // Nomad's default thresholds (an hour and more): nothing is old enough.
    let s = testing::start(config(GcConfig::default().eval_gc_threshold))
        .await
        .expect("start");
    let k = scene(&s).await;
    // Several passes of every kind.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(job(&s, "batch").is_some() && job(&s, "old").is_some());
    assert!(has_node(&s, &k.down));
    let snap = s.state().snapshot();
    for id in k.batch_evals.iter().chain(&k.old_evals) {
        assert!(snap.eval_by_id(id).is_some(), "young eval {id} reaped");
    }

    let r = s.system_gc().await.expect("system gc");
    let snap = s.state().snapshot();
    assert!(job(&s, "batch").is_none(), "dead batch job kept");
    assert!(job(&s, "old").is_none(), "stopped job kept");
    assert!(!has_node(&s, &k.down), "down node kept");
    for id in k.batch_evals.iter().chain(&k.old_evals) {
        assert!(snap.eval_by_id(id).is_none(), "eval {id} kept");
    }
    for id in &k.batch_allocs {
        assert!(snap.alloc_by_id(id).is_none(), "alloc {id} kept");
    }
    assert_eq!(r.jobs, 2, "{r:?}");
    assert_eq!(r.nodes, 1, "{r:?}");
    assert!(r.evals >= 2 && r.allocs >= 2, "{r:?}");
    // What lives stays.
    assert!(job(&s, "web").is_some());
    assert_eq!(live(&s, "web").len(), 1);
    assert!(
        !eval_ids(&s, "web").is_empty(),
        "the live job's evaluation went"
    );
    assert!(has_node(&s, &k.c.node.id));
    // Nothing left to reap.
    assert_eq!(s.system_gc().await.expect("again"), Default::default());
    k.hb.abort();
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn periodic_gc_reaps_old_objects() {
    let s = testing::start(config(Duration::ZERO)).await.expect("start");
    let k = scene(&s).await;
    assert!(
        testing::wait_until(T, || job(&s, "batch").is_none()
            && job(&s, "old").is_none()
            && !has_node(&s, &k.down))
        .await,
        "not reaped: batch {} old {} node {}",
        job(&s, "batch").is_some(),
        job(&s, "old").is_some(),
        has_node(&s, &k.down)
    );
    let snap = s.state().snapshot();
    for id in k.batch_evals.iter().chain(&k.old_evals) {
        assert!(snap.eval_by_id(id).is_none(), "eval {id} kept");
    }

    // A destructive update of the live job: the first version's
    // evaluation and its stopped allocation go, the job and its running
    // allocation stay.
    let v0_evals = eval_ids(&s, "web");
    let v0_alloc = live(&s, "web")[0].id.clone();
    let mut v1 = service_job("web", 1, 500);
    v1.task_groups[0].tasks[0]
        .env
        .insert("VERSION".into(), "1".into());
    s.job_register(register(v1)).await.expect("update");
    assert!(
        testing::wait_until(T, || live(&s, "web")
            .first()
            .is_some_and(|a| a.id != v0_alloc))
        .await,
        "not replaced"
    );
    k.c.sync(false).await.expect("sync");
    assert!(
        testing::wait_until(T, || {
            let snap = s.state().snapshot();
            snap.alloc_by_id(&v0_alloc).is_none()
                && v0_evals.iter().all(|id| snap.eval_by_id(id).is_none())
        })
        .await,
        "the old version's evaluation and allocation were not reaped"
    );
    assert!(job(&s, "web").is_some());
    assert_eq!(live(&s, "web").len(), 1);
    assert!(has_node(&s, &k.c.node.id));
    k.hb.abort();
    s.shutdown().await;
}

fn rolling(id: &str) -> Job {
    let u = UpdateStrategy {
        max_parallel: Some(1),
        canary: Some(0),
        progress_deadline: Some(Nanos::ZERO),
        ..UpdateStrategy::default_strategy()
    };
    let mut j = service_job(id, 1, 100);
    j.update = Some(u.clone());
    for tg in &mut j.task_groups {
        tg.update = Some(u.clone());
        for t in &mut tg.tasks {
            t.kill_timeout = Some(Nanos::from_millis(100));
        }
    }
    j
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminal_deployments_go_once_no_allocation_lives() {
    let s = testing::start(testing::test_config()).await.expect("start");
    let c = SimClient::join(&s, testing::node("n1", 8000, 16384))
        .await
        .expect("join");
    let hb = c.keep_alive(Duration::from_millis(100));
    let deployment = |version: u64| {
        s.state()
            .snapshot()
            .deployments_by_job("default", "web")
            .iter()
            .find(|d| d.job_version == version)
            .cloned()
    };
    let successful = |version: u64| {
        deployment(version).is_some_and(|d| d.status == deployment_status::SUCCESSFUL)
    };
    let v0 = rolling("web");
    s.job_register(register(v0.clone())).await.expect("v0");
    placed(&s, "web", 1).await;
    c.sync(true).await.expect("healthy");
    assert!(
        testing::wait_until(T, || successful(0)).await,
        "{:?}",
        deployment(0)
    );
    let d0 = deployment(0).expect("d0").id.clone();

    let mut v1 = v0;
    v1.task_groups[0].tasks[0]
        .env
        .insert("VERSION".into(), "1".into());
    s.job_register(register(v1)).await.expect("v1");
    // Play the client until the rollout ends: the new allocation healthy,
    // the old one complete.
    let deadline = tokio::time::Instant::now() + T;
    while !successful(1) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            deployment(1)
        );
        c.sync(true).await.expect("sync");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    c.sync(true).await.expect("sync");
    let d1 = deployment(1).expect("d1").id.clone();

    // Through the HTTP API's trait, as `nomad system gc` calls it.
    #[cfg(feature = "cluster-api")]
    nomad_api::ClusterApi::system_gc(&s)
        .await
        .expect("system gc");
    #[cfg(not(feature = "cluster-api"))]
    s.system_gc().await.expect("system gc");
    let snap = s.state().snapshot();
    assert!(
        snap.deployment_by_id(&d0).is_none(),
        "finished deployment kept"
    );
    assert!(
        snap.deployment_by_id(&d1).is_some(),
        "deployment with a live allocation reaped"
    );
    assert_eq!(live(&s, "web").len(), 1);
    hb.abort();
    s.shutdown().await;
}
