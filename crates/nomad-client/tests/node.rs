//! Registration, heartbeats and the node the client advertises.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use nomad_client::testing::FakeServer;
use nomad_client::Client;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registers_fingerprinted_node_and_heartbeats_at_half_ttl() {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let server = Arc::new(FakeServer::with_ttl(Duration::from_millis(400)));
    let mut cfg = config(dir.path());
    cfg.node_class = "web".into();
    cfg.meta.insert("rack".into(), "r1".into());
    cfg.reserved.memory_mb = 256;
    let client = Client::start(cfg, server.clone()).await.unwrap();
    wait_registered(&server, client.node_id()).await;
    let node = server.node(client.node_id()).unwrap();
    assert_eq!(node.node_class, "web");
    assert_eq!(node.node_pool, "default");
    assert_eq!(node.datacenter, "dc1");
    assert_eq!(node.meta["rack"], "r1");
    assert_eq!(node.attributes["driver.raw_exec"], "1");
    assert!(node.drivers["raw_exec"].healthy);
    assert_eq!(node.drivers["raw_exec"].health_description, "Healthy");
    let res = node.node_resources.as_ref().unwrap();
    assert!(res.cpu.cpu_shares > 0 && res.memory.memory_mb > 0 && res.disk.disk_mb > 0);
    assert_eq!(
        node.reserved_resources.as_ref().unwrap().memory.memory_mb,
        256
    );
    assert!(node.computed_class.starts_with("v1:"));
    assert_eq!(node.id.len(), 36);
    assert_eq!(node.secret_id.len(), 36);

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let hb = server.heartbeats();
    assert!(
        (3..=8).contains(&hb),
        "{hb} heartbeats in 1.1s with a 400ms TTL"
    );
    assert_eq!(server.node(client.node_id()).unwrap().status, "ready");

    // A server that forgot the node gets it registered again.
    server.forget_node(client.node_id());
    for _ in 0..200 {
        if server.node(client.node_id()).is_some() {
            assert!(server.registrations() >= 2);
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("node was not registered again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survives_unavailable_servers() {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let server = Arc::new(FakeServer::new());
    server.set_unavailable(true);
    let client = Client::start(config(dir.path()), server.clone())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(server.node(client.node_id()).is_none());
    server.set_unavailable(false);
    wait_registered(&server, client.node_id()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_server_that_does_not_know_the_node_yet_does_not_stop_the_watch() {
    // A follower may answer the first watches before it has applied the
    // node's registration; the node stays registered and its allocations
    // must still start.
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let server = Arc::new(FakeServer::with_ttl(Duration::from_secs(30)));
    server.lag_watches(2);
    let client = Client::start(config(dir.path()), server.clone())
        .await
        .unwrap();
    wait_registered(&server, client.node_id()).await;
    let job = nomad_client::testing::job(
        "lag",
        "batch",
        vec![nomad_client::testing::raw_exec_task("t", "/bin/true", &[])],
        None,
    );
    let a = nomad_client::testing::alloc(job, client.node_id());
    let id = a.id.clone();
    server.add_alloc(a);
    server
        .wait_alloc(&id, Duration::from_secs(10), |a| {
            a.client_status == "complete"
        })
        .await
        .unwrap();
    assert_eq!(server.registrations(), 1, "the node was never forgotten");
}
