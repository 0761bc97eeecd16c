//! Periodic and parameterized jobs: the leader's periodic dispatcher,
//! `Periodic.Force` and `Job.Dispatch`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use nomad_server::testing::{self, register, SimClient};
use nomad_server::Server;
use nomad_types::api::{JobDeregisterRequest, JobDispatchRequest};
use nomad_types::consts::eval_trigger;
use nomad_types::Job;

const T: Duration = Duration::from_secs(15);
const EVERY_SECOND: &str = "* * * * * * *";

/// The children of `parent`, by ID.
fn children(s: &Server, parent: &str) -> Vec<Arc<Job>> {
    let snap = s.state().snapshot();
    snap.jobs_by_namespace("default")
        .filter(|j| j.parent_id.as_deref() == Some(parent))
        .cloned()
        .collect()
}

/// The launch second in a periodic child's ID.
fn launch_secs(child: &Job) -> i64 {
    child
        .id()
        .rsplit_once("/periodic-")
        .and_then(|(_, s)| s.parse().ok())
        .expect("periodic child ID")
}

fn unix_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// Every child was registered once: one `periodic-job` evaluation each.
fn assert_one_eval_each(s: &Server, kids: &[Arc<Job>]) {
    let snap = s.state().snapshot();
    for c in kids {
        // (The scheduler may add a blocked evaluation of its own.)
        let launches = snap
            .evals_by_job("default", c.id())
            .iter()
            .filter(|e| e.triggered_by == eval_trigger::PERIODIC_JOB)
            .count();
        assert_eq!(
            launches,
            1,
            "child {} was launched {launches} times",
            c.id()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_second_cron_launches_children_on_schedule() {
    let s = testing::start(testing::test_config()).await.expect("start");
    let r = s
        .job_register(register(testing::periodic_job("tick", EVERY_SECOND, false)))
        .await
        .expect("register");
    assert!(r.eval_id.is_empty(), "a periodic parent is not evaluated");
    assert!(
        testing::wait_until(T, || children(&s, "tick").len() >= 3).await,
        "children: {:?}",
        children(&s, "tick")
            .iter()
            .map(|c| c.id().to_string())
            .collect::<Vec<_>>()
    );
    let kids = children(&s, "tick");
    let secs: Vec<i64> = kids.iter().map(|c| launch_secs(c)).collect();
    let distinct: BTreeSet<i64> = secs.iter().copied().collect();
    assert_eq!(distinct.len(), secs.len(), "{secs:?}");
    for c in &kids {
        assert!(c.periodic.is_none(), "{}: Periodic must be cleared", c.id());
        assert_eq!(c.parent_id.as_deref(), Some("tick"));
        assert_eq!(c.name(), c.id());
    }
    assert_one_eval_each(&s, &kids);
    // The last launch is recorded for the parent.
    let snap = s.state().snapshot();
    let recorded = snap.periodic_launch("default", "tick").expect("launch");
    let newest = snap
        .jobs_by_namespace("default")
        .filter(|j| j.parent_id.as_deref() == Some("tick"))
        .map(|c| launch_secs(c))
        .max()
        .expect("a child");
    assert_eq!(recorded.launch, newest * 1_000_000_000);
    // A stopped parent launches no more.
    s.job_deregister(JobDeregisterRequest {
        job_id: "tick".into(),
        ..Default::default()
    })
    .await
    .expect("deregister");
    let n = children(&s, "tick").len();
    let last = children(&s, "tick").iter().map(|c| launch_secs(c)).max();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let after: Vec<i64> = children(&s, "tick")
        .iter()
        .map(|c| launch_secs(c))
        .filter(|t| Some(*t) > last)
        .collect();
    // A launch already under way when the stop landed may still finish.
    assert!(
        after.len() <= 1,
        "launched after deregistration: {after:?} (had {n})"
    );
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prohibit_overlap_skips_while_a_child_runs() {
    let s = testing::start(testing::test_config()).await.expect("start");
    let c = SimClient::join(&s, testing::node("n1", 4000, 8192))
        .await
        .expect("join");
    let hb = c.keep_alive(Duration::from_millis(100));
    s.job_register(register(testing::periodic_job("solo", EVERY_SECOND, true)))
        .await
        .expect("register");
    // The first child is placed and runs.
    assert!(
        testing::wait_until(T, || c.allocs().len() == 1).await,
        "first child not placed"
    );
    c.mark_running().await.expect("running");
    let first = children(&s, "solo");
    assert_eq!(first.len(), 1);
    // Several scheduled launches pass while it runs: none is launched.
    let since = launch_secs(&first[0]);
    assert!(testing::wait_until(T, || unix_secs() >= since + 3).await);
    assert_eq!(
        children(&s, "solo").len(),
        1,
        "launched while a child ran: {:?}",
        children(&s, "solo")
            .iter()
            .map(|c| c.id().to_string())
            .collect::<Vec<_>>()
    );
    // Once it finished, the next launch goes ahead.
    c.complete_all().await.expect("complete");
    assert!(
        testing::wait_until(T, || children(&s, "solo").len() >= 2).await,
        "no launch after the child finished"
    );
    hb.abort();
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn force_launch_returns_the_childs_eval() {
    let s = testing::start(testing::test_config()).await.expect("start");
    // No launch before 2099's New Year.
    s.job_register(register(testing::periodic_job(
        "yearly",
        "0 0 1 1 * 2099",
        true,
    )))
    .await
    .expect("register");
    s.job_register(register(testing::batch_job("plain", 1)))
        .await
        .expect("register plain");
    let r = s.job_periodic_force("", "yearly").await.expect("force");
    assert!(!r.eval_id.is_empty());
    assert!(r.eval_create_index > 0);
    let snap = s.state().snapshot();
    let eval = snap.eval_by_id(&r.eval_id).expect("eval");
    assert_eq!(eval.triggered_by, eval_trigger::PERIODIC_JOB);
    let child = snap.job_by_id("default", &eval.job_id).expect("child");
    assert_eq!(child.parent_id.as_deref(), Some("yearly"));
    assert!(child.id().starts_with("yearly/periodic-"));
    assert!(child.periodic.is_none());
    // Forced launches ignore prohibit_overlap.
    let again = s.job_periodic_force("default", "yearly").await;
    assert!(again.is_ok(), "{again:?}");
    let err = s.job_periodic_force("", "plain").await.unwrap_err();
    assert_eq!(err.to_string(), "can't force launch non-periodic job");
    let err = s.job_periodic_force("", "nope").await.unwrap_err();
    assert_eq!(err.to_string(), "job not found");
    // Registration checks the time zone and the spec in full; a plan
    // tells the next launch.
    let mut bad = testing::periodic_job("bad", "0 0 * * *", false);
    if let Some(p) = bad.periodic.as_mut() {
        p.time_zone = Some("Nowhere/Atlantis".into());
    }
    let err = s.job_register(register(bad)).await.unwrap_err().to_string();
    assert!(
        err.contains("Invalid time zone \"Nowhere/Atlantis\""),
        "{err}"
    );
    let plan = s
        .job_plan(nomad_types::api::JobPlanRequest {
            job: Some(testing::periodic_job("nightly", "@daily", false)),
            ..Default::default()
        })
        .await
        .expect("plan");
    let next = plan
        .next_periodic_launch
        .to_unix_nanos()
        .expect("next launch");
    assert_eq!(next % (86_400 * 1_000_000_000), 0, "midnight UTC");
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_resumes_without_duplicates_and_launches_a_missed_run_once() {
    let dir = std::env::temp_dir().join(format!("nomad-server-periodic-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut cfg = testing::test_config();
    cfg.data_dir = Some(dir.clone());
    let s = testing::start(cfg.clone()).await.expect("start");
    s.job_register(register(testing::periodic_job("tick", EVERY_SECOND, false)))
        .await
        .expect("register");
    assert!(testing::wait_until(T, || children(&s, "tick").len() >= 2).await);
    s.shutdown().await;
    let before: BTreeSet<i64> = children(&s, "tick")
        .iter()
        .map(|c| launch_secs(c))
        .collect();
    drop(s);
    // Down across several launches: the seconds strictly between `down`
    // and `up` are missed (a launch made just before the shutdown may
    // still be applied at the restart; it has a second up to `down`).
    let down = unix_secs();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let up = unix_secs();
    assert!(up >= down + 3);
    let s = testing::start(cfg).await.expect("restart");
    assert!(
        testing::wait_until(T, || children(&s, "tick")
            .iter()
            .filter(|c| launch_secs(c) >= up)
            .count()
            >= 3)
        .await,
        "no launches after the restart"
    );
    let kids = children(&s, "tick");
    assert_one_eval_each(&s, &kids);
    let secs: BTreeSet<i64> = kids.iter().map(|c| launch_secs(c)).collect();
    assert!(before.is_subset(&secs));
    // The missed launches were made up by one launch, at the restart.
    assert!(
        !secs.iter().any(|t| *t > down && *t < up),
        "launched while down ({down}..{up}): {secs:?}"
    );
    let after: Vec<i64> = secs.iter().copied().filter(|t| *t >= up).collect();
    assert!(
        after.windows(2).all(|w| w[1] == w[0] + 1),
        "after the restart: {after:?}"
    );
    s.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

fn dispatch(job: &str) -> JobDispatchRequest {
    JobDispatchRequest {
        job_id: job.into(),
        ..Default::default()
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatch_validates_like_nomad() {
    let s = testing::start(testing::test_config()).await.expect("start");
    let r = s
        .job_register(register(testing::parameterized_job(
            "render",
            "required",
            &["scene"],
            &["quality"],
        )))
        .await
        .expect("register");
    assert!(
        r.eval_id.is_empty(),
        "a parameterized template is not evaluated"
    );
    s.job_register(register(testing::parameterized_job(
        "quiet",
        "forbidden",
        &[],
        &[],
    )))
    .await
    .expect("register quiet");
    s.job_register(register(testing::batch_job("plain", 1)))
        .await
        .expect("register plain");
    let err = |r: Result<_, nomad_server::ServerError>| {
        r.map(|_: nomad_types::api::JobDispatchResponse| ())
            .unwrap_err()
            .to_string()
    };

    let mut req = dispatch("render");
    req.meta.insert("scene".into(), "1".into());
    assert_eq!(
        err(s.job_dispatch(req.clone()).await),
        "Payload is not provided but required by parameterized job"
    );
    let mut big = req.clone();
    big.payload = Some(b64(&vec![b'x'; 16 * 1024 + 1]));
    assert_eq!(
        err(s.job_dispatch(big).await),
        "Payload exceeds maximum size; 16385 > 16384"
    );
    req.payload = Some(b64(b"hello"));
    let mut extra = req.clone();
    extra.meta.insert("zeta".into(), "1".into());
    extra.meta.insert("alpha".into(), "1".into());
    assert_eq!(
        err(s.job_dispatch(extra).await),
        "Dispatch request included unpermitted metadata keys: [alpha zeta]"
    );
    let mut missing = req.clone();
    missing.meta.clear();
    missing.meta.insert("quality".into(), "high".into());
    assert_eq!(
        err(s.job_dispatch(missing).await),
        "Dispatch did not provide required meta keys: [scene]"
    );
    let mut forbidden = dispatch("quiet");
    forbidden.payload = Some(b64(b"x"));
    assert_eq!(
        err(s.job_dispatch(forbidden).await),
        "Payload provided but forbidden by parameterized job"
    );
    assert_eq!(
        err(s.job_dispatch(dispatch("plain")).await),
        "Specified job \"plain\" is not a parameterized job"
    );
    assert_eq!(
        err(s.job_dispatch(dispatch("nope")).await),
        "parameterized job not found"
    );
    s.job_deregister(JobDeregisterRequest {
        job_id: "quiet".into(),
        ..Default::default()
    })
    .await
    .expect("stop quiet");
    assert_eq!(
        err(s.job_dispatch(dispatch("quiet")).await),
        "Specified job \"quiet\" is stopped"
    );
    assert!(children(&s, "render").is_empty());
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatch_stores_payload_and_meta_and_honours_idempotency() {
    let s = testing::start(testing::test_config()).await.expect("start");
    let mut parent = testing::parameterized_job("render", "optional", &["scene"], &["quality"]);
    parent.meta.insert("owner".into(), "ops".into());
    parent.meta.insert("quality".into(), "low".into());
    s.job_register(register(parent)).await.expect("register");

    let mut req = dispatch("render");
    req.payload = Some(b64(b"frame 42"));
    req.meta.insert("scene".into(), "castle".into());
    req.meta.insert("quality".into(), "high".into());
    req.idempotency_token = "once".into();
    let r = s.job_dispatch(req.clone()).await.expect("dispatch");
    assert!(
        r.dispatched_job_id.starts_with("render/dispatch-"),
        "{}",
        r.dispatched_job_id
    );
    assert!(!r.eval_id.is_empty());
    assert!(r.job_create_index > 0 && r.eval_create_index > 0);
    let snap = s.state().snapshot();
    let child = snap
        .job_by_id("default", &r.dispatched_job_id)
        .expect("child");
    assert!(child.dispatched);
    assert_eq!(child.parent_id.as_deref(), Some("render"));
    assert_eq!(child.payload.as_deref(), Some(b64(b"frame 42").as_str()));
    assert_eq!(child.meta.get("scene").map(String::as_str), Some("castle"));
    assert_eq!(child.meta.get("quality").map(String::as_str), Some("high"));
    assert_eq!(child.meta.get("owner").map(String::as_str), Some("ops"));
    assert_eq!(child.dispatch_idempotency_token.as_deref(), Some("once"));
    let eval = snap.eval_by_id(&r.eval_id).expect("eval");
    assert_eq!(eval.job_id, r.dispatched_job_id);
    assert_eq!(eval.triggered_by, eval_trigger::JOB_REGISTER);

    // The same token: the same child, no new evaluation.
    let again = s.job_dispatch(req.clone()).await.expect("again");
    assert_eq!(again.dispatched_job_id, r.dispatched_job_id);
    assert!(again.eval_id.is_empty());
    assert_eq!(children(&s, "render").len(), 1);

    // Another token (and a prefix template): a second child.
    req.idempotency_token = "twice".into();
    req.id_prefix_template = "nightly".into();
    let other = s.job_dispatch(req).await.expect("other");
    assert!(
        other
            .dispatched_job_id
            .starts_with("render/dispatch-nightly-"),
        "{}",
        other.dispatched_job_id
    );
    assert_eq!(children(&s, "render").len(), 2);
    s.shutdown().await;
}
