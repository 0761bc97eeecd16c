//! A restarted client re-attaches to its running tasks instead of
//! restarting them.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use nomad_client::logs::{read_logs, Origin};
use nomad_client::testing::{alloc, job, raw_exec_task, FakeServer};
use nomad_client::Client;

#[test]
fn restarted_client_reattaches_to_running_task() {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let server = Arc::new(FakeServer::new());

    // First client, in its own runtime, dropped whole afterwards.
    let (alloc_id, pid, node_id) = {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let server = server.clone();
        let path = dir.path().to_path_buf();
        rt.block_on(async move {
            let client = Client::start(config(&path), server.clone()).await.unwrap();
            wait_registered(&server, client.node_id()).await;
            let t = raw_exec_task(
                "web",
                "/bin/sh",
                &["-c", "while true; do echo tick; sleep 0.05; done"],
            );
            let a = alloc(job("long", "service", vec![t], None), client.node_id());
            server.add_alloc(a.clone());
            server
                .wait_alloc(&a.id, WAIT, |a| a.client_status == "running")
                .await
                .unwrap();
            let h = client.task_handle(&a.id, "web").unwrap();
            let pid = h.driver_state["task"]["pid"].as_i64().unwrap() as i32;
            tokio::time::sleep(Duration::from_millis(200)).await;
            (a.id.clone(), pid, client.node_id().to_string())
        })
        // `rt` and the client in it are dropped here.
    };
    assert!(is_alive(pid), "task died with its client");
    // Output written while no client runs is kept by the FIFO.
    std::thread::sleep(Duration::from_millis(300));
    assert!(is_alive(pid), "task died while no client was running");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = Client::start(config(dir.path()), server.clone())
            .await
            .unwrap();
        assert_eq!(client.node_id(), node_id, "node identity must persist");
        let before = server.updates().len();
        // Same process, still running, not restarted.
        let h = client.task_handle(&alloc_id, "web").unwrap();
        assert_eq!(h.driver_state["task"]["pid"].as_i64().unwrap() as i32, pid);
        let a = client.alloc(&alloc_id).unwrap();
        assert_eq!(a.client_status, "running");
        let st = &a.task_states["web"];
        assert_eq!(st.restarts, 0);
        let types = event_types(&a, "web");
        assert_eq!(
            types.iter().filter(|t| *t == "Started").count(),
            1,
            "{types:?}"
        );
        assert!(
            !types.iter().any(|t| t == "Failed Restoring Task"),
            "{types:?}"
        );

        // Logs keep flowing into the same files.
        let dir_a = client.alloc_dir(&alloc_id).unwrap();
        let n0 = read_logs(&dir_a, "web", "stdout", Origin::Start, 0, 1 << 20)
            .unwrap()
            .len();
        tokio::time::sleep(Duration::from_millis(400)).await;
        let n1 = read_logs(&dir_a, "web", "stdout", Origin::Start, 0, 1 << 20)
            .unwrap()
            .len();
        assert!(n1 > n0, "no new output after recovery ({n0} -> {n1})");

        // It still reports and can stop the task.
        server.stop_alloc(&alloc_id);
        let got = server
            .wait_alloc(&alloc_id, WAIT, |a| a.client_status == "complete")
            .await
            .unwrap();
        assert!(server.updates().len() > before);
        assert!(!is_alive(pid));
        let types = event_types(&got, "web");
        assert!(
            types.ends_with(&["Killing".into(), "Terminated".into(), "Killed".into()]),
            "{types:?}"
        );
    });
}
