//! Deployments that heal: rolling updates batch by batch, canaries with
//! manual and automatic promotion, auto-revert, progress deadlines,
//! pause/resume, failing by hand and cancellation by a newer version.
//! Health comes from simulated clients; every wait is on a condition.

use std::sync::Arc;
use std::time::Duration;

use nomad_server::testing::{self, register, service_job, SimClient};
use nomad_server::{Server, ServerError};
use nomad_types::api::{DeploymentPauseRequest, DeploymentPromoteRequest};
use nomad_types::consts::{deployment_status, eval_status};
use nomad_types::{Allocation, Deployment, Job, Nanos, UpdateStrategy};

const T: Duration = Duration::from_secs(15);

struct Cluster {
    s: Server,
    c: SimClient,
    hb: tokio::task::JoinHandle<()>,
}

impl Cluster {
    async fn start() -> Cluster {
        let s = testing::start(testing::test_config()).await.expect("start");
        let c = SimClient::join(&s, testing::node("n1", 16000, 65536))
            .await
            .expect("join");
        let hb = c.keep_alive(Duration::from_millis(100));
        Cluster { s, c, hb }
    }

    async fn stop(self) {
        self.hb.abort();
        self.s.shutdown().await;
    }

    /// Live allocations of `job` at `version`.
    fn live(&self, job: &str, version: u64) -> Vec<Arc<Allocation>> {
        self.s
            .state()
            .snapshot()
            .allocs_by_job("default", job)
            .iter()
            .filter(|a| !a.terminal_status())
            .filter(|a| a.job.as_ref().is_some_and(|j| j.version() == version))
            .cloned()
            .collect()
    }

    /// Live allocations of `job` at `version` without a health verdict.
    fn undecided(&self, job: &str, version: u64) -> Vec<String> {
        self.live(job, version)
            .iter()
            .filter(|a| {
                a.deployment_status
                    .as_ref()
                    .and_then(|d| d.healthy)
                    .is_none()
            })
            .map(|a| a.id.clone())
            .collect()
    }

    fn deployment_of(&self, job: &str, version: u64) -> Option<Arc<Deployment>> {
        self.s
            .state()
            .snapshot()
            .deployments_by_job("default", job)
            .iter()
            .find(|d| d.job_version == version)
            .cloned()
    }

    fn job(&self, id: &str) -> Arc<Job> {
        self.s
            .state()
            .snapshot()
            .job_by_id("default", id)
            .expect("job")
    }

    async fn register(&self, job: Job) {
        self.s.job_register(register(job)).await.expect("register");
    }

    /// Waits for the deployment of `version` to reach `status`.
    async fn wait_status(&self, job: &str, version: u64, status: &str) -> Arc<Deployment> {
        let ok = testing::wait_until(T, || {
            self.deployment_of(job, version)
                .is_some_and(|d| d.status == status)
        })
        .await;
        assert!(
            ok,
            "deployment of {job} v{version} not {status}: {:?}",
            self.deployment_of(job, version)
        );
        self.deployment_of(job, version).expect("deployment")
    }

    /// Reports every new allocation of `version` healthy as it appears,
    /// never seeing more than `max_parallel` undecided ones at once, until
    /// the deployment succeeds. Returns how many batches it took.
    async fn roll(&self, job: &str, version: u64, max_parallel: usize) -> usize {
        let mut batches = 0;
        loop {
            let ok = testing::wait_until(T, || {
                self.deployment_of(job, version)
                    .is_some_and(|d| d.status == deployment_status::SUCCESSFUL)
                    || !self.undecided(job, version).is_empty()
            })
            .await;
            assert!(
                ok,
                "rollout of {job} v{version} stalled: {:?}",
                self.deployment_of(job, version)
            );
            let pending = self.undecided(job, version);
            if pending.is_empty() {
                return batches;
            }
            assert!(
                pending.len() <= max_parallel,
                "{} undecided allocations, max_parallel is {max_parallel}",
                pending.len()
            );
            batches += 1;
            self.c.report_health(&pending, true).await.expect("healthy");
        }
    }

    /// Registers `job` and rolls its first version out healthy.
    async fn establish(&self, job: Job) {
        let id = job.id().to_string();
        let count = job.task_groups[0].count.unwrap_or(0) as usize;
        self.register(job).await;
        assert!(
            testing::wait_until(T, || self.live(&id, 0).len() == count).await,
            "{id} not placed"
        );
        self.roll(&id, 0, count).await;
        let d = self
            .wait_status(&id, 0, deployment_status::SUCCESSFUL)
            .await;
        assert_eq!(d.status_description, "Deployment completed successfully");
        assert!(
            testing::wait_until(T, || self.job(&id).stable == Some(true)).await,
            "v0 of {id} not stable"
        );
    }
}

fn update(max_parallel: i64) -> UpdateStrategy {
    UpdateStrategy {
        max_parallel: Some(max_parallel),
        canary: Some(0),
        progress_deadline: Some(Nanos::ZERO),
        ..UpdateStrategy::default_strategy()
    }
}

/// A service job whose group uses `u`.
fn job_with(id: &str, count: i64, u: UpdateStrategy) -> Job {
    let mut j = service_job(id, count, 100);
    j.update = Some(u.clone());
    for tg in &mut j.task_groups {
        tg.update = Some(u.clone());
        for t in &mut tg.tasks {
            t.kill_timeout = Some(Nanos::from_millis(100));
        }
    }
    j
}

/// The same job with a change that replaces its allocations.
fn changed(mut j: Job, value: &str) -> Job {
    for t in j.task_groups.iter_mut().flat_map(|g| g.tasks.iter_mut()) {
        t.env.insert("VERSION".into(), value.into());
    }
    j
}

/// Equal apart from the fields the servers manage.
fn same_spec(a: &Job, b: &Job) -> bool {
    let norm = |j: &Job| {
        let mut j = j.clone();
        j.status = None;
        j.status_description = None;
        j.stable = None;
        j.version = None;
        j.create_index = None;
        j.modify_index = None;
        j.job_modify_index = None;
        j.submit_time = None;
        j.version_tag = None;
        j
    };
    norm(a) == norm(b)
}

fn promote_all(id: &str) -> DeploymentPromoteRequest {
    DeploymentPromoteRequest {
        deployment_id: id.to_string(),
        all: true,
        groups: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_update_goes_batch_by_batch_to_successful() {
    let k = Cluster::start().await;
    let v0 = job_with("web", 3, update(1));
    k.establish(v0.clone()).await;

    k.register(changed(v0, "1")).await;
    let batches = k.roll("web", 1, 1).await;
    assert_eq!(batches, 3, "one allocation per batch");
    let d = k.wait_status("web", 1, deployment_status::SUCCESSFUL).await;
    assert_eq!(d.status_description, "Deployment completed successfully");
    assert_eq!(d.task_groups["web"].healthy_allocs, 3);
    assert_eq!(k.live("web", 1).len(), 3);
    assert!(k.live("web", 0).is_empty(), "old version still running");
    assert!(
        testing::wait_until(T, || k.job("web").stable == Some(true)).await,
        "v1 not stable"
    );
    k.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_waits_for_promotion_then_completes() {
    let k = Cluster::start().await;
    let mut u = update(1);
    u.canary = Some(1);
    let v0 = job_with("web", 2, u);
    k.establish(v0.clone()).await;

    k.register(changed(v0, "1")).await;
    assert!(
        testing::wait_until(T, || k.undecided("web", 1).len() == 1).await,
        "no canary"
    );
    let d = k.deployment_of("web", 1).expect("deployment");
    assert_eq!(
        d.status_description,
        "Deployment is running but requires manual promotion"
    );
    // Not healthy yet: refused.
    let err =
        k.s.deployment_promote(promote_all(&d.id))
            .await
            .unwrap_err();
    assert!(
        err.to_string()
            .contains(r#"Task group "web" has 0/1 healthy allocations"#),
        "{err}"
    );
    // A group without canaries has nothing to promote.
    let err =
        k.s.deployment_promote(DeploymentPromoteRequest {
            deployment_id: d.id.clone(),
            all: false,
            groups: vec!["other".into()],
        })
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ServerError::BadRequest("no canaries to promote".into())
    );

    let canary = k.undecided("web", 1);
    k.c.report_health(&canary, true).await.expect("healthy");
    // The watcher evaluates the job; the scheduler places nothing more
    // while the canary waits for its promotion.
    let evaluated = testing::wait_until(T, || {
        k.s.state()
            .snapshot()
            .evals_by_job("default", "web")
            .iter()
            .any(|e| {
                e.deployment_id == d.id
                    && e.triggered_by == "deployment-watcher"
                    && e.status == eval_status::COMPLETE
            })
    })
    .await;
    assert!(evaluated, "no deployment-watcher evaluation");
    let d = k.deployment_of("web", 1).expect("deployment");
    assert_eq!(d.status, deployment_status::RUNNING);
    assert!(!d.task_groups["web"].promoted);
    assert_eq!(k.live("web", 1).len(), 1, "placed past the canary");
    assert_eq!(k.live("web", 0).len(), 2, "old allocations stopped early");

    let r =
        k.s.deployment_promote(promote_all(&d.id))
            .await
            .expect("promote");
    assert!(!r.eval_id.is_empty());
    assert!(r.deployment_modify_index > 0);
    let d = k.deployment_of("web", 1).expect("deployment");
    assert!(d.task_groups["web"].promoted);
    assert_eq!(d.status_description, "Deployment is running");

    k.roll("web", 1, 1).await;
    k.wait_status("web", 1, deployment_status::SUCCESSFUL).await;
    assert_eq!(k.live("web", 1).len(), 2);
    assert!(
        testing::wait_until(T, || k.job("web").stable == Some(true)
            && k.job("web").version == Some(1))
        .await,
        "v1 not stable"
    );
    let err =
        k.s.deployment_promote(promote_all(&d.id))
            .await
            .unwrap_err();
    assert_eq!(
        err,
        ServerError::BadRequest("can't promote terminal deployment".into())
    );
    k.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_promote_promotes_healthy_canaries() {
    let k = Cluster::start().await;
    let mut u = update(1);
    u.canary = Some(1);
    u.auto_promote = Some(true);
    let v0 = job_with("web", 2, u);
    k.establish(v0.clone()).await;

    k.register(changed(v0, "1")).await;
    assert!(
        testing::wait_until(T, || k.undecided("web", 1).len() == 1).await,
        "no canary"
    );
    let d = k.deployment_of("web", 1).expect("deployment");
    assert_eq!(
        d.status_description,
        "Deployment is running pending automatic promotion"
    );
    k.c.report_health(&k.undecided("web", 1), true)
        .await
        .expect("healthy");
    assert!(
        testing::wait_until(T, || k
            .deployment_of("web", 1)
            .is_some_and(|d| d.task_groups["web"].promoted))
        .await,
        "not promoted automatically"
    );
    k.roll("web", 1, 1).await;
    k.wait_status("web", 1, deployment_status::SUCCESSFUL).await;
    assert_eq!(k.live("web", 1).len(), 2);
    k.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unhealthy_canary_fails_and_auto_reverts_to_the_stable_version() {
    let k = Cluster::start().await;
    let mut u = update(1);
    u.canary = Some(1);
    u.auto_revert = Some(true);
    let v0 = job_with("web", 2, u);
    k.establish(v0.clone()).await;
    let stable = k.job("web");

    k.register(changed(v0, "bad")).await;
    assert!(
        testing::wait_until(T, || k.undecided("web", 1).len() == 1).await,
        "no canary"
    );
    k.c.report_health(&k.undecided("web", 1), false)
        .await
        .expect("unhealthy");
    let d = k.wait_status("web", 1, deployment_status::FAILED).await;
    assert_eq!(
        d.status_description,
        "Failed due to unhealthy allocations - rolling back to job version 0"
    );
    let ok = testing::wait_until(T, || k.job("web").version == Some(2)).await;
    assert!(ok, "no new version: {:?}", k.job("web").version);
    let reverted = k.job("web");
    assert!(same_spec(&reverted, &stable), "v2 is not v0's spec");
    let bad =
        k.s.state()
            .snapshot()
            .job_by_id_and_version("default", "web", 1)
            .expect("v1");
    assert!(!same_spec(&reverted, &bad));
    // The failed canary goes; the stable allocations stay.
    assert!(
        testing::wait_until(T, || k.live("web", 1).is_empty()).await,
        "canary of the failed version still live"
    );
    k.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_deadline_fails_a_deployment_without_progress() {
    let k = Cluster::start().await;
    let mut u = update(1);
    u.min_healthy_time = Some(Nanos::from_millis(50));
    u.healthy_deadline = Some(Nanos::from_millis(300));
    u.progress_deadline = Some(Nanos::from_millis(600));
    k.register(job_with("web", 1, u)).await;
    let d = k.wait_status("web", 0, deployment_status::FAILED).await;
    assert_eq!(d.status_description, "Failed due to progress deadline");
    let cutoff = d.task_groups["web"]
        .require_progress_by
        .to_unix_nanos()
        .expect("deadline");
    assert!(
        d.modify_time >= cutoff,
        "failed before its deadline: {} < {cutoff}",
        d.modify_time
    );
    // The failure evaluated the job.
    assert!(k
        .s
        .state()
        .snapshot()
        .evals_by_job("default", "web")
        .iter()
        .any(|e| e.deployment_id == d.id && e.triggered_by == "deployment-watcher"));
    k.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_deployment_waits_past_its_deadline_and_resumes() {
    let k = Cluster::start().await;
    let v0 = job_with("web", 2, update(1));
    k.establish(v0.clone()).await;

    let mut u = update(1);
    u.min_healthy_time = Some(Nanos::from_millis(50));
    u.healthy_deadline = Some(Nanos::from_millis(500));
    u.progress_deadline = Some(Nanos::from_millis(1000));
    let mut v1 = changed(v0, "1");
    v1.update = Some(u.clone());
    v1.task_groups[0].update = Some(u);
    k.register(v1).await;
    assert!(
        testing::wait_until(T, || k.undecided("web", 1).len() == 1).await,
        "first batch not placed"
    );
    let d = k.deployment_of("web", 1).expect("deployment");
    let r =
        k.s.deployment_pause(DeploymentPauseRequest {
            deployment_id: d.id.clone(),
            pause: true,
        })
        .await
        .expect("pause");
    assert!(r.eval_id.is_empty(), "pausing evaluates nothing");
    let d = k.deployment_of("web", 1).expect("deployment");
    assert_eq!(d.status, deployment_status::PAUSED);
    assert_eq!(d.status_description, "Deployment is paused");

    // Healthy while paused: no progress.
    k.c.report_health(&k.undecided("web", 1), true)
        .await
        .expect("healthy");
    let ev =
        k.s.job_evaluate(nomad_types::api::JobEvaluateRequest {
            job_id: "web".into(),
            ..Default::default()
        })
        .await
        .expect("evaluate");
    assert!(
        testing::wait_until(T, || k
            .s
            .state()
            .snapshot()
            .eval_by_id(&ev.eval_id)
            .is_some_and(|e| e.status == eval_status::COMPLETE))
        .await,
        "evaluation not done"
    );
    assert_eq!(k.live("web", 1).len(), 1, "a paused deployment placed more");

    // Past the deadline, paused: not failed.
    let d = k.deployment_of("web", 1).expect("deployment");
    let deadline = d.task_groups["web"]
        .require_progress_by
        .to_unix_nanos()
        .expect("deadline");
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as i64
    };
    assert!(testing::wait_until(T, || now() > deadline).await);
    k.s.watch_deployments_now().await;
    let d = k.deployment_of("web", 1).expect("deployment");
    assert_eq!(d.status, deployment_status::PAUSED, "{d:?}");

    let r =
        k.s.deployment_pause(DeploymentPauseRequest {
            deployment_id: d.id.clone(),
            pause: false,
        })
        .await
        .expect("resume");
    assert!(!r.eval_id.is_empty(), "resuming evaluates the job");
    let d = k.deployment_of("web", 1).expect("deployment");
    assert_eq!(d.status_description, "Deployment is running");
    k.roll("web", 1, 1).await;
    let d = k.wait_status("web", 1, deployment_status::SUCCESSFUL).await;

    let err =
        k.s.deployment_pause(DeploymentPauseRequest {
            deployment_id: d.id.clone(),
            pause: true,
        })
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ServerError::BadRequest("can't pause terminal deployment".into())
    );
    let err =
        k.s.deployment_pause(DeploymentPauseRequest {
            deployment_id: d.id.clone(),
            pause: false,
        })
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ServerError::BadRequest("can't resume terminal deployment".into())
    );
    let err =
        k.s.deployment_pause(DeploymentPauseRequest {
            deployment_id: "no-such-deployment".into(),
            pause: true,
        })
        .await
        .unwrap_err();
    assert_eq!(err, ServerError::NotFound("deployment not found".into()));
    k.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_by_hand_reverts_only_when_asked() {
    let k = Cluster::start().await;
    // auto_revert: back to v0.
    let mut u = update(1);
    u.canary = Some(1);
    u.auto_revert = Some(true);
    let web = job_with("web", 1, u.clone());
    k.establish(web.clone()).await;
    k.register(changed(web.clone(), "1")).await;
    assert!(
        testing::wait_until(T, || k.deployment_of("web", 1).is_some()).await,
        "no deployment"
    );
    let d = k.deployment_of("web", 1).expect("deployment");
    let r = k.s.deployment_fail(&d.id).await.expect("fail");
    assert_eq!(r.reverted_job_version, Some(0));
    assert!(!r.eval_id.is_empty());
    let d = k.deployment_of("web", 1).expect("deployment");
    assert_eq!(d.status, deployment_status::FAILED);
    assert_eq!(
        d.status_description,
        "Deployment marked as failed - rolling back to job version 0"
    );
    let cur = k.job("web");
    assert_eq!(cur.version, Some(2));
    assert_eq!(
        cur.stable,
        Some(false),
        "a reverted version is not stable yet"
    );
    assert!(same_spec(&cur, &web));
    let err = k.s.deployment_fail(&d.id).await.unwrap_err();
    assert_eq!(
        err,
        ServerError::BadRequest("can't fail terminal deployment".into())
    );

    // Without auto_revert: failed, job untouched.
    u.auto_revert = Some(false);
    let api = job_with("api", 1, u);
    k.establish(api.clone()).await;
    k.register(changed(api, "1")).await;
    assert!(
        testing::wait_until(T, || k.deployment_of("api", 1).is_some()).await,
        "no deployment"
    );
    let d = k.deployment_of("api", 1).expect("deployment");
    let r = k.s.deployment_fail(&d.id).await.expect("fail");
    assert_eq!(r.reverted_job_version, None);
    let d = k.deployment_of("api", 1).expect("deployment");
    assert_eq!(d.status_description, "Deployment marked as failed");
    assert_eq!(k.job("api").version, Some(1));
    k.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_version_cancels_the_older_deployment() {
    let k = Cluster::start().await;
    let v0 = job_with("web", 2, update(1));
    k.register(v0.clone()).await;
    assert!(
        testing::wait_until(T, || k.deployment_of("web", 0).is_some()).await,
        "no deployment"
    );
    // v0 never becomes healthy; v1 supersedes it.
    k.register(changed(v0, "1")).await;
    let d = k.wait_status("web", 0, deployment_status::CANCELLED).await;
    assert_eq!(
        d.status_description,
        "Cancelled due to newer version of job"
    );
    assert!(
        testing::wait_until(T, || k
            .deployment_of("web", 1)
            .is_some_and(|d| d.status == deployment_status::RUNNING))
        .await,
        "no deployment of v1"
    );
    k.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_allocation_within_the_deadline_is_replaced_and_the_rollout_goes_on() {
    let k = Cluster::start().await;
    let v0 = job_with("web", 2, update(1));
    k.establish(v0.clone()).await;

    let mut u = update(1);
    u.min_healthy_time = Some(Nanos::from_millis(50));
    u.healthy_deadline = Some(Nanos::from_secs(5));
    u.progress_deadline = Some(Nanos::from_secs(10));
    let mut v1 = changed(v0, "1");
    v1.update = Some(u.clone());
    for tg in &mut v1.task_groups {
        tg.update = Some(u.clone());
        tg.reschedule_policy = Some(nomad_types::ReschedulePolicy {
            attempts: Some(0),
            interval: Some(Nanos::ZERO),
            delay: Some(Nanos::from_secs(5)),
            delay_function: Some("constant".into()),
            max_delay: Some(Nanos::ZERO),
            unlimited: Some(true),
        });
    }
    k.register(v1).await;
    assert!(
        testing::wait_until(T, || k.undecided("web", 1).len() == 1).await,
        "first batch not placed"
    );
    let first = k.undecided("web", 1);
    k.c.report(&first, "failed", Some(false))
        .await
        .expect("failed");
    // The watcher lets the scheduler replace it (after the policy's 5s
    // delay, Nomad's minimum) rather than failing the deployment.
    let replaced = testing::wait_until(T, || {
        let snap = k.s.state().snapshot();
        snap.alloc_by_id(&first[0])
            .is_some_and(|a| a.desired_transition.reschedule == Some(true))
    })
    .await;
    assert!(replaced, "failed allocation not marked for replacement");
    assert_eq!(
        k.deployment_of("web", 1).expect("deployment").status,
        deployment_status::RUNNING
    );
    k.roll("web", 1, 1).await;
    let d = k.wait_status("web", 1, deployment_status::SUCCESSFUL).await;
    assert_eq!(d.task_groups["web"].unhealthy_allocs, 1);
    assert_eq!(k.live("web", 1).len(), 2);
    k.stop().await;
}
