//! The exec driver through the client (root and cgroups only).

mod common;

use common::*;
use nomad_client::logs::{read_logs, Origin};
use nomad_client::testing::{alloc, job, FakeServer};
use nomad_client::Client;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_task_sees_isolated_paths() {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.drivers.insert(
        "exec".into(),
        serde_json::json!({"cgroup_parent": "nomad-rs-client-test"}),
    );
    let server = Arc::new(FakeServer::new());
    let client = Client::start(cfg, server.clone()).await.unwrap();
    let fp = client.driver("exec").unwrap().fingerprint().await;
    if skip_unless(
        fp.health == nomad_driver::HealthState::Healthy,
        "exec_task_sees_isolated_paths",
        &format!("exec driver not usable here: {}", fp.health_description),
    ) {
        return;
    }
    wait_registered(&server, client.node_id()).await;
    let mut t = nomad_types::Task::new("web", "exec");
    t.config
        .insert("command".into(), serde_json::json!("/bin/sh"));
    t.config.insert(
        "args".into(),
        serde_json::json!([
            "-c",
            "echo $NOMAD_TASK_DIR $NOMAD_ALLOC_DIR; ls /local >/dev/null && echo ok"
        ]),
    );
    let a = alloc(job("execjob", "batch", vec![t], None), client.node_id());
    server.add_alloc(a.clone());
    server
        .wait_alloc(&a.id, WAIT, |a| a.client_status == "complete")
        .await
        .unwrap();
    let d = client.alloc_dir(&a.id).unwrap();
    let out = read_logs(&d, "web", "stdout", Origin::Start, 0, 1024).unwrap();
    assert_eq!(String::from_utf8_lossy(&out), "/local /alloc\nok\n");
}
