//! The typed operator calls against the in-memory cluster: join,
//! force-leave, Raft peers, snapshots.

use std::sync::Arc;

use nomad_api::testing::InMemoryCluster;
use nomad_api_client::{Client, Config, JoinResponse};

fn client() -> (Arc<InMemoryCluster>, Client) {
    let cluster = Arc::new(InMemoryCluster::new());
    let address = cluster.clone().spawn().expect("serve");
    let client = Client::new(Config {
        address,
        ..Config::default()
    })
    .expect("client");
    (cluster, client)
}

#[tokio::test]
async fn join_force_leave_and_remove_peers() {
    let (cluster, c) = client();
    let r = c
        .agent_join(&["10.0.0.2".into(), "10.0.0.3:4648".into()])
        .await
        .expect("join");
    assert_eq!(
        r,
        JoinResponse {
            num_joined: 2,
            error: String::new()
        }
    );
    cluster.set_unreachable("10.0.0.9:4648");
    let r = c.agent_join(&["10.0.0.9".into()]).await.expect("join");
    assert_eq!(r.num_joined, 0);
    assert!(r.error.contains("connection refused"), "{}", r.error);
    let err = c.agent_join(&[]).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Unexpected response code: 400 (missing address to join)"
    );

    let raft = c.raft_configuration().await.expect("raft");
    assert_eq!(raft.servers.len(), 3);
    c.raft_remove_peer_by_address("10.0.0.2:4647")
        .await
        .expect("remove by address");
    let id = c.raft_configuration().await.expect("raft").servers[1]
        .id
        .clone();
    c.raft_remove_peer_by_id(&id).await.expect("remove by id");
    assert_eq!(c.raft_configuration().await.expect("raft").servers.len(), 1);
    let err = c.raft_remove_peer_by_id("nope").await.unwrap_err();
    assert_eq!(err.status(), Some(500));

    c.agent_join(&["10.0.0.4".into()]).await.expect("join");
    c.agent_force_leave("10.0.0.4.global")
        .await
        .expect("force-leave");
    let members = c.agent_members().await.expect("members").members;
    assert!(members
        .iter()
        .any(|m| m.name == "10.0.0.4.global" && m.status == "left"));
    assert_eq!(
        c.agent_force_leave("").await.unwrap_err().to_string(),
        "Unexpected response code: 400 (missing node to force leave)"
    );
}

#[tokio::test]
async fn snapshot_round_trip() {
    let (cluster, c) = client();
    cluster.add_node("node-a").expect("node");
    let (index, image) = c.snapshot_save().await.expect("save");
    assert_eq!(index, cluster.reader().snapshot().applied_index());
    cluster.add_node("node-b").expect("node");
    assert_eq!(cluster.reader().snapshot().nodes().len(), 2);
    c.snapshot_restore(image.clone()).await.expect("restore");
    assert_eq!(cluster.reader().snapshot().nodes().len(), 1);
    assert_eq!(c.snapshot_save().await.expect("save again"), (index, image));
    let err = c.snapshot_restore(b"nope".to_vec()).await.unwrap_err();
    assert_eq!(err.status(), Some(400));
}

#[tokio::test]
async fn prefix_search_by_context_and_node_purge() {
    let (cluster, c) = client();
    cluster.add_node("node-a").expect("node");
    let all = c.search_prefix("", "all").await.expect("search");
    assert_eq!(all.matches["nodes"].len(), 1);
    assert!(!all.truncations["nodes"]);
    assert!(all.matches["jobs"].is_empty());
    let id = &all.matches["nodes"][0];
    let one = c.search_prefix(&id[..4], "nodes").await.expect("search");
    assert_eq!(one.matches.keys().collect::<Vec<_>>(), ["nodes"]);
    assert_eq!(one.matches["nodes"], std::slice::from_ref(id));
    let r = c.node_evaluate(id).await.expect("evaluate");
    assert!(r.eval_ids.is_empty(), "no jobs on the node: {r:?}");
    c.node_purge(id).await.expect("purge");
    let after = c.search_prefix("", "nodes").await.expect("search");
    assert!(after.matches["nodes"].is_empty());
    assert_eq!(c.node_purge(id).await.unwrap_err().status(), Some(404));
    let err = c.search_prefix("a", "pods").await.unwrap_err();
    assert_eq!(err.status(), Some(400));
}
