//! What users ask of a running allocation through the client: restart in
//! place, signals, `alloc exec`, resource usage.

mod common;

use common::*;
use nomad_client::logs::{read_logs, Origin};
use nomad_client::testing::{alloc, job, raw_exec_task};
use nomad_driver::{ExecRequest, ExecStreams};
use nomad_types::{Nanos, RestartPolicy};

/// Stops the allocation as the servers would and waits until its tasks
/// are gone (tasks outlive a dropped client).
async fn stop(env: &Env, id: &str) {
    env.server.stop_alloc(id);
    env.server
        .wait_alloc(id, WAIT, |a| a.client_status == "complete")
        .await
        .unwrap();
}

/// No restarts at all: a task that dies on its own fails the allocation.
fn no_restarts() -> Option<RestartPolicy> {
    Some(RestartPolicy {
        attempts: Some(0),
        interval: Some(Nanos::from_secs(60)),
        delay: Some(Nanos::from_secs(15)),
        mode: Some("fail".into()),
        render_templates: None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_restart_is_immediate_and_not_counted_against_the_policy() {
    let env = start().await;
    let t = raw_exec_task("web", "/bin/sh", &["-c", "echo up; sleep 300"]);
    let a = alloc(
        job("rs", "service", vec![t], no_restarts()),
        env.client.node_id(),
    );
    env.server.add_alloc(a.clone());
    env.server
        .wait_alloc(&a.id, WAIT, |a| a.client_status == "running")
        .await
        .unwrap();
    let first = env.client.task_handle(&a.id, "web").unwrap();

    env.client.ops().restart(&a.id, None).unwrap();
    let got = env
        .server
        .wait_alloc(&a.id, WAIT, |a| {
            event_types(a, "web")
                .iter()
                .filter(|t| *t == "Started")
                .count()
                == 2
                && a.client_status == "running"
        })
        .await
        .unwrap();
    let types = event_types(&got, "web");
    let tail: Vec<&str> = types
        .iter()
        .rev()
        .take(4)
        .rev()
        .map(String::as_str)
        .collect();
    assert_eq!(
        tail,
        ["Restart Signaled", "Terminated", "Restarting", "Started"],
        "{types:?}"
    );
    let signaled = events(&got, "web")
        .iter()
        .find(|e| e.event_type == "Restart Signaled")
        .unwrap();
    assert_eq!(signaled.display_message, "User requested restart");
    assert!(!got.task_states["web"].failed);
    let second = env.client.task_handle(&a.id, "web").unwrap();
    assert_ne!(
        first.driver_state["task"]["pid"],
        second.driver_state["task"]["pid"]
    );
    stop(&env, &a.id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_reach_the_task_and_are_recorded() {
    let env = start().await;
    let t = raw_exec_task(
        "web",
        "/bin/sh",
        &[
            "-c",
            "trap 'echo got-usr1' USR1; echo ready; while true; do sleep 0.05; done",
        ],
    );
    let a = alloc(
        job("sig", "service", vec![t], no_restarts()),
        env.client.node_id(),
    );
    env.server.add_alloc(a.clone());
    env.server
        .wait_alloc(&a.id, WAIT, |a| a.client_status == "running")
        .await
        .unwrap();
    let dir = env.client.alloc_dir(&a.id).unwrap();
    // The trap is set once the shell printed "ready".
    let deadline = std::time::Instant::now() + WAIT;
    while read_logs(&dir, "web", "stdout", Origin::Start, 0, 1024).unwrap_or_default() != b"ready\n"
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the task never got ready"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    let ops = env.client.ops();
    ops.signal(&a.id, Some("web"), "SIGUSR1").await.unwrap();
    let err = ops
        .signal(&a.id, Some("nope"), "SIGUSR1")
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "unknown task name \"nope\"");

    let got = env
        .server
        .wait_alloc(&a.id, WAIT, |a| {
            event_types(a, "web").contains(&"Signaling".to_string())
        })
        .await
        .unwrap();
    let ev = events(&got, "web")
        .iter()
        .find(|e| e.event_type == "Signaling")
        .unwrap();
    assert_eq!(ev.task_signal, "SIGUSR1");
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let out = read_logs(&dir, "web", "stdout", Origin::Start, 0, 1024).unwrap_or_default();
        if out == b"ready\ngot-usr1\n" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no trap output: {:?}",
            String::from_utf8_lossy(&out)
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(got.client_status, "running");
    stop(&env, &a.id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_runs_in_the_task_and_stats_measure_it() {
    let env = start().await;
    let t = raw_exec_task("web", "/bin/sleep", &["300"]);
    let a = alloc(
        job("ex", "service", vec![t], no_restarts()),
        env.client.node_id(),
    );
    env.server.add_alloc(a.clone());
    env.server
        .wait_alloc(&a.id, WAIT, |a| a.client_status == "running")
        .await
        .unwrap();
    let ops = env.client.ops();

    let (streams, out, err) = ExecStreams::capture(Some(b"piped\n".to_vec()));
    let cmd = [
        "/bin/sh",
        "-c",
        "cat; echo \"$NOMAD_TASK_NAME\"; echo oops >&2; exit 3",
    ];
    let exit = ops
        .exec(&a.id, "web", ExecRequest::new(cmd), streams)
        .await
        .unwrap();
    assert_eq!(exit.exit_code, 3);
    assert_eq!(out.take_string(), "piped\nweb\n");
    assert_eq!(err.take_string(), "oops\n");

    let e = ops
        .exec(
            &a.id,
            "nope",
            ExecRequest::new(["true"]),
            ExecStreams::capture(None).0,
        )
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "unknown task name \"nope\"");

    let usage = ops.alloc_stats(&a.id, None).await.unwrap();
    let web = &usage["web"];
    assert!(web.resource_usage.memory_stats.rss > 0, "{web:?}");
    assert!(web.timestamp > 0);
    let host = ops.host_stats();
    assert!(host.memory.total > 0 && !host.cpu.is_empty());
    assert!(ops.alloc_stats("no-such-alloc", None).await.is_err());
    stop(&env, &a.id).await;
}
