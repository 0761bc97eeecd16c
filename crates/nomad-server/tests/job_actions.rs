//! Operators' job actions: revert, stable, scale and scale status, with
//! their error cases.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use nomad_server::testing::{self, register, service_job, SimClient};
use nomad_server::{Server, ServerError};
use nomad_types::api::{JobRevertRequest, JobStabilityRequest, ScalingRequest};
use nomad_types::consts::eval_status;
use nomad_types::{Job, ScalingPolicy, UpdateStrategy};

const T: Duration = Duration::from_secs(15);

fn job(s: &Server, id: &str) -> Arc<Job> {
    s.state().snapshot().job_by_id("default", id).expect("job")
}

/// A service job without rolling updates (so no deployments), optionally
/// with a scaling policy.
fn plain_job(id: &str, count: i64, scaling: Option<(i64, i64)>) -> Job {
    let mut j = service_job(id, count, 100);
    let u = UpdateStrategy {
        max_parallel: Some(0),
        ..UpdateStrategy::default_strategy()
    };
    j.update = Some(u.clone());
    for tg in &mut j.task_groups {
        tg.update = Some(u.clone());
        tg.scaling = scaling.map(|(min, max)| ScalingPolicy {
            min: Some(min),
            max: Some(max),
            ..ScalingPolicy::default()
        });
    }
    j
}

fn with_env(mut j: Job, v: &str) -> Job {
    for t in j.task_groups.iter_mut().flat_map(|g| g.tasks.iter_mut()) {
        t.env.insert("VERSION".into(), v.into());
    }
    j
}

fn spec(j: &Job) -> Job {
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
}

fn scale(group: &str, count: Option<i64>, message: &str) -> ScalingRequest {
    let mut target = BTreeMap::new();
    target.insert("Group".to_string(), group.to_string());
    ScalingRequest {
        count,
        target,
        message: message.to_string(),
        ..ScalingRequest::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revert_registers_an_older_version_as_a_new_one() {
    let s = testing::start(testing::test_config()).await.expect("start");
    let base = plain_job("web", 1, None);
    for v in ["0", "1", "2"] {
        s.job_register(register(with_env(base.clone(), v)))
            .await
            .expect("register");
    }
    assert_eq!(job(&s, "web").version, Some(2));
    let v0 = s
        .state()
        .snapshot()
        .job_by_id_and_version("default", "web", 0)
        .expect("v0");

    let r = s
        .job_revert(JobRevertRequest {
            job_id: "web".into(),
            job_version: 0,
            ..Default::default()
        })
        .await
        .expect("revert");
    assert!(!r.eval_id.is_empty(), "a revert evaluates the job");
    let cur = job(&s, "web");
    assert_eq!(cur.version, Some(3));
    assert_eq!(spec(&cur), spec(&v0));
    assert_eq!(cur.job_modify_index, Some(r.job_modify_index));

    // Errors.
    let err = |r: Result<_, ServerError>| {
        r.map(|_: nomad_types::api::JobRegisterResponse| ())
            .unwrap_err()
    };
    let e = err(s
        .job_revert(JobRevertRequest {
            job_id: "web".into(),
            job_version: 3,
            ..Default::default()
        })
        .await);
    assert_eq!(
        e,
        ServerError::BadRequest("can't revert to current version".into())
    );
    let e = err(s
        .job_revert(JobRevertRequest {
            job_id: "web".into(),
            job_version: 42,
            ..Default::default()
        })
        .await);
    assert_eq!(
        e,
        ServerError::NotFound(r#"job "web" in namespace "default" at version 42 not found"#.into())
    );
    let e = err(s
        .job_revert(JobRevertRequest {
            job_id: "nope".into(),
            job_version: 0,
            ..Default::default()
        })
        .await);
    assert!(matches!(e, ServerError::NotFound(_)), "{e:?}");
    let e = err(s
        .job_revert(JobRevertRequest {
            job_id: "web".into(),
            job_version: 1,
            enforce_prior_version: Some(2),
            ..Default::default()
        })
        .await);
    assert_eq!(
        e,
        ServerError::Conflict("Current job has version 3; enforcing version 2".into())
    );
    assert_eq!(
        job(&s, "web").version,
        Some(3),
        "a refused revert changed the job"
    );
    s.job_revert(JobRevertRequest {
        job_id: "web".into(),
        job_version: 1,
        enforce_prior_version: Some(3),
        ..Default::default()
    })
    .await
    .expect("revert with the right prior version");
    assert_eq!(job(&s, "web").version, Some(4));
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stable_marks_a_tracked_version() {
    let s = testing::start(testing::test_config()).await.expect("start");
    let base = plain_job("web", 1, None);
    s.job_register(register(with_env(base.clone(), "0")))
        .await
        .expect("register");
    s.job_register(register(with_env(base, "1")))
        .await
        .expect("register");
    let r = s
        .job_stable(JobStabilityRequest {
            job_id: "web".into(),
            job_version: 0,
            stable: true,
            ..Default::default()
        })
        .await
        .expect("stable");
    assert!(r.index > 0);
    let snap = s.state().snapshot();
    assert_eq!(
        snap.job_by_id_and_version("default", "web", 0)
            .unwrap()
            .stable,
        Some(true)
    );
    assert_ne!(job(&s, "web").stable, Some(true), "only v0 was marked");
    s.job_stable(JobStabilityRequest {
        job_id: "web".into(),
        job_version: 1,
        stable: true,
        ..Default::default()
    })
    .await
    .expect("stable");
    assert_eq!(job(&s, "web").stable, Some(true));
    let e = s
        .job_stable(JobStabilityRequest {
            job_id: "web".into(),
            job_version: 9,
            stable: true,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        e,
        ServerError::NotFound(r#"job "web" in namespace "default" at version 9 not found"#.into())
    );
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_changes_the_count_and_records_events() {
    let s = testing::start(testing::test_config()).await.expect("start");
    let c = SimClient::join(&s, testing::node("n1", 16000, 65536))
        .await
        .expect("join");
    let hb = c.keep_alive(Duration::from_millis(100));
    s.job_register(register(plain_job("web", 2, Some((1, 5)))))
        .await
        .expect("register");
    let before = job(&s, "web");

    let r = s
        .job_scale("web", scale("web", Some(4), "more"))
        .await
        .expect("scale");
    assert!(!r.eval_id.is_empty());
    let cur = job(&s, "web");
    assert_eq!(cur.task_groups[0].count, Some(4));
    assert_eq!(cur.version, Some(before.version.unwrap() + 1));
    assert_eq!(cur.job_modify_index, Some(r.job_modify_index));
    let eval = s.state().snapshot().eval_by_id(&r.eval_id).expect("eval");
    assert_eq!(eval.triggered_by, "job-scaling");
    let live = || {
        s.state()
            .snapshot()
            .allocs_by_job("default", "web")
            .iter()
            .filter(|a| !a.terminal_status())
            .count()
    };
    assert!(
        testing::wait_until(T, || live() == 4).await,
        "not scaled up"
    );
    assert!(
        testing::wait_until(T, || s
            .state()
            .snapshot()
            .eval_by_id(&r.eval_id)
            .is_some_and(|e| e.status == eval_status::COMPLETE))
        .await
    );
    c.mark_running().await.expect("running");

    // An event without a count: recorded, the job unchanged.
    let r2 = s
        .job_scale("web", scale("web", None, "just a note"))
        .await
        .expect("event");
    assert!(r2.eval_id.is_empty());
    assert_eq!(job(&s, "web").version, cur.version);

    let st = s.job_scale_status("default", "web").expect("status");
    assert_eq!(st.job_id, "web");
    assert!(!st.job_stopped);
    let g = &st.task_groups["web"];
    assert_eq!((g.desired, g.placed, g.running), (4, 4, 4));
    assert_eq!((g.healthy, g.unhealthy), (0, 0));
    assert_eq!(g.events.len(), 2);
    assert_eq!(g.events[0].message, "just a note", "newest first");
    assert_eq!(g.events[0].count, None);
    assert_eq!(g.events[1].count, Some(4));
    assert_eq!(g.events[1].previous_count, 2);
    assert_eq!(g.events[1].eval_id.as_deref(), Some(r.eval_id.as_str()));
    assert!(g.events[0].create_index > g.events[1].create_index);

    // Errors, none of which changes the job or records an event.
    let e = s
        .job_scale("web", scale("web", Some(6), ""))
        .await
        .unwrap_err();
    assert_eq!(
        e,
        ServerError::BadRequest(
            "group count was greater than scaling policy maximum: 6 > 5".into()
        )
    );
    let e = s
        .job_scale("web", scale("web", Some(0), ""))
        .await
        .unwrap_err();
    assert_eq!(
        e,
        ServerError::BadRequest("group count was less than scaling policy minimum: 0 < 1".into())
    );
    let mut stale = scale("web", Some(3), "");
    stale.job_modify_index = before.job_modify_index.unwrap();
    let e = s.job_scale("web", stale).await.unwrap_err();
    assert_eq!(
        e,
        ServerError::Conflict(format!(
            "Enforcing job modify index {}: job exists with conflicting job modify index: {}",
            before.job_modify_index.unwrap(),
            cur.job_modify_index.unwrap()
        ))
    );
    let e = s
        .job_scale("web", scale("db", Some(3), ""))
        .await
        .unwrap_err();
    assert_eq!(
        e,
        ServerError::BadRequest(
            r#"task group "db" specified for scaling does not exist in job"#.into()
        )
    );
    let e = s
        .job_scale("nope", scale("web", Some(3), ""))
        .await
        .unwrap_err();
    assert_eq!(e, ServerError::NotFound(r#"job "nope" not found"#.into()));
    let mut both = scale("web", Some(3), "");
    both.error = true;
    let e = s.job_scale("web", both).await.unwrap_err();
    assert_eq!(
        e,
        ServerError::BadRequest("scaling action should not contain count if error is true".into())
    );
    let e = s
        .job_scale("web", scale("", Some(3), ""))
        .await
        .unwrap_err();
    assert_eq!(
        e,
        ServerError::BadRequest("missing task group name for scaling action".into())
    );
    assert_eq!(job(&s, "web").version, cur.version);
    let st = s.job_scale_status("default", "web").expect("status");
    assert_eq!(st.task_groups["web"].events.len(), 2);

    // The right check-index scales.
    let mut fresh = scale("web", Some(3), "fewer");
    fresh.job_modify_index = cur.job_modify_index.unwrap();
    s.job_scale("web", fresh).await.expect("scale with index");
    assert_eq!(job(&s, "web").task_groups[0].count, Some(3));
    assert!(
        testing::wait_until(T, || live() == 3).await,
        "not scaled down"
    );

    let e = s.job_scale_status("default", "nope").unwrap_err();
    assert_eq!(e, ServerError::NotFound("job not found".into()));
    hb.abort();
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_is_blocked_by_an_active_deployment() {
    let s = testing::start(testing::test_config()).await.expect("start");
    let c = SimClient::join(&s, testing::node("n1", 16000, 65536))
        .await
        .expect("join");
    let hb = c.keep_alive(Duration::from_millis(100));
    // The default update block makes a deployment, which waits for health.
    s.job_register(register(service_job("web", 1, 100)))
        .await
        .expect("register");
    assert!(
        testing::wait_until(T, || s
            .state()
            .snapshot()
            .latest_deployment_by_job("default", "web")
            .is_some())
        .await
    );
    let e = s
        .job_scale("web", scale("web", Some(2), ""))
        .await
        .unwrap_err();
    assert_eq!(
        e,
        ServerError::BadRequest("job scaling blocked due to active deployment".into())
    );
    // Recording an event alone is allowed.
    s.job_scale("web", scale("web", None, "note"))
        .await
        .expect("event");
    hb.abort();
    s.shutdown().await;
}
