//! Deployment health as the client reports it to the servers.

mod common;

use std::time::{Duration, Instant};

use common::*;
use nomad_client::testing::{alloc, job, raw_exec_task};
use nomad_types::{Allocation, Nanos, RestartPolicy, UpdateStrategy};

fn deployment_alloc(
    node_id: &str,
    command: &str,
    min_healthy: Nanos,
    restart: RestartPolicy,
) -> Allocation {
    let t = raw_exec_task("web", "/bin/sh", &["-c", command]);
    let mut j = job("deployed", "service", vec![t], Some(restart));
    j.task_groups[0].update = Some(UpdateStrategy {
        min_healthy_time: Some(min_healthy),
        healthy_deadline: Some(Nanos::from_secs(300)),
        ..Default::default()
    });
    let mut a = alloc(j, node_id);
    a.deployment_id = uuid::Uuid::new_v4().to_string();
    a
}

fn no_restart() -> RestartPolicy {
    RestartPolicy {
        attempts: Some(0),
        interval: Some(Nanos::from_secs(60)),
        delay: Some(Nanos::from_millis(10)),
        mode: Some("fail".into()),
        render_templates: None,
    }
}

fn healthy(a: &Allocation) -> Option<bool> {
    a.deployment_status.as_ref().and_then(|d| d.healthy)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_failing_before_min_healthy_time_reports_unhealthy_at_once() {
    let env = start().await;
    // min_healthy_time is 30 s and the healthy deadline 5 m: only the
    // failure can decide the health within the wait below.
    let a = deployment_alloc(
        env.client.node_id(),
        "sleep 0.2; exit 1",
        Nanos::from_secs(30),
        no_restart(),
    );
    env.server.add_alloc(a.clone());
    let begun = Instant::now();
    let got = env
        .server
        .wait_alloc(&a.id, Duration::from_secs(10), |a| healthy(a).is_some())
        .await
        .unwrap();
    assert_eq!(healthy(&got), Some(false), "a failed task is unhealthy");
    assert_eq!(got.client_status, "failed");
    assert!(begun.elapsed() < Duration::from_secs(10));
    // The verdict travels with (or right after) the failure, never alone
    // before it.
    let first_unhealthy = env
        .server
        .updates()
        .into_iter()
        .find(|u| {
            u.deployment_status
                .as_ref()
                .is_some_and(|d| d.healthy == Some(false))
        })
        .unwrap();
    assert_eq!(first_unhealthy.client_status, "failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_running_for_min_healthy_time_reports_healthy() {
    let env = start().await;
    let a = deployment_alloc(
        env.client.node_id(),
        "sleep 60",
        Nanos::from_millis(800),
        no_restart(),
    );
    env.server.add_alloc(a.clone());
    let running = env
        .server
        .wait_alloc(&a.id, WAIT, |a| a.client_status == "running")
        .await
        .unwrap();
    assert_eq!(
        healthy(&running),
        None,
        "not healthy before min_healthy_time"
    );
    let got = env
        .server
        .wait_alloc(&a.id, WAIT, |a| healthy(a).is_some())
        .await
        .unwrap();
    assert_eq!(healthy(&got), Some(true));
    let started = got.task_states["web"]
        .started_at
        .to_unix_nanos()
        .unwrap_or(0);
    let decided = got
        .deployment_status
        .as_ref()
        .and_then(|d| d.timestamp.to_unix_nanos())
        .unwrap_or(0);
    assert!(
        decided - started >= 800_000_000,
        "healthy only after min_healthy_time ({}ms)",
        (decided - started) / 1_000_000
    );
    env.server.stop_alloc(&a.id);
    env.server
        .wait_alloc(&a.id, WAIT, |a| a.client_status == "complete")
        .await
        .unwrap();
}
