//! Three servers in one process, over real sockets and RocksDB: cluster
//! formation by `bootstrap_expect` + `retry_join`, writes through a follower,
//! leader loss, a server that lost its data dir, and operator snapshots.

use std::time::Duration;

use nomad_server::members::MemberStatus;
use nomad_server::testing::{self, register, service_job, SimClient};
use nomad_server::{Server, ServerConfig};
use nomad_types::consts::eval_status;

const T: Duration = Duration::from_secs(20);

fn config(name: &str, dir: &std::path::Path, join: &[String]) -> ServerConfig {
    ServerConfig {
        node_name: name.into(),
        data_dir: Some(dir.join(name)),
        bootstrap_expect: 3,
        retry_join: join.to_vec(),
        retry_interval: Duration::from_millis(200),
        ..testing::test_config()
    }
}

async fn leader_of(servers: &[&Server]) -> Option<usize> {
    for _ in 0..(T.as_millis() / 20) {
        if let Some(i) = servers.iter().position(|s| s.is_leader()) {
            if servers[i].wait_for_leadership(Duration::from_secs(2)).await {
                return Some(i);
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

/// Starts three servers: the first alone, the others `retry_join` it.
async fn three(dir: &std::path::Path) -> Vec<Server> {
    let a = Server::start(config("a", dir, &[])).await.expect("start a");
    let join = vec![a.serf_addr().to_string()];
    let b = Server::start(config("b", dir, &join))
        .await
        .expect("start b");
    let c = Server::start(config("c", dir, &join))
        .await
        .expect("start c");
    vec![a, b, c]
}

fn voters(s: &Server) -> usize {
    s.raft().status().voters.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_expect_forms_one_cluster_and_survives_the_leader() {
    let dir = tempfile::tempdir().expect("tmp");
    let servers = three(dir.path()).await;
    let refs: Vec<&Server> = servers.iter().collect();
    let li = leader_of(&refs).await.expect("a leader is elected");
    assert!(
        testing::wait_until(T, || servers.iter().all(|s| voters(s) == 3)).await,
        "every server sees 3 voters: {:?}",
        servers.iter().map(voters).collect::<Vec<_>>()
    );
    // Every server learned every other through one join address.
    assert!(
        testing::wait_until(T, || servers.iter().all(|s| s
            .server_members()
            .iter()
            .filter(|(_, st)| *st == MemberStatus::Alive)
            .count()
            == 3))
        .await
    );

    // A job registered through a follower is scheduled by the leader.
    let follower = &servers[(li + 1) % 3];
    let node_server = &servers[li];
    let client = SimClient::join(node_server, testing::node("n1", 4000, 8192))
        .await
        .expect("client joins");
    let hb = client.keep_alive(Duration::from_millis(100));
    let r = follower
        .job_register(register(service_job("web", 2, 500)))
        .await
        .expect("register at a follower");
    assert!(
        testing::wait_until(T, || servers.iter().all(|s| s
            .state()
            .snapshot()
            .eval_by_id(&r.eval_id)
            .is_some_and(|e| e.status == eval_status::COMPLETE)))
        .await,
        "the follower's evaluation completes on every server"
    );
    // The leader applied its own entries from memory, the followers decoded
    // them from the log: the three states are the same, row for row.
    let digests = || {
        servers
            .iter()
            .map(|s| {
                let snap = s.state().snapshot();
                (snap.latest_index(), snap.digest().combined())
            })
            .collect::<Vec<_>>()
    };
    assert!(
        testing::wait_until(T, || {
            let d = digests();
            d.iter().all(|x| *x == d[0])
        })
        .await,
        "the servers' states differ: {:?}",
        digests()
    );
    hb.abort();
    // `system gc` at a follower runs on the leader.
    follower.system_gc().await.expect("system gc at a follower");

    // The leader goes away; the other two elect a new one that takes writes.
    let old = servers[li].clone();
    old.shutdown().await;
    let rest: Vec<&Server> = servers
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != li)
        .map(|(_, s)| s)
        .collect();
    let started = std::time::Instant::now();
    let ni = leader_of(&rest).await.expect("a new leader");
    let r2 = rest[(ni + 1) % 2]
        .job_register(register(service_job("api", 1, 100)))
        .await
        .expect("write after failover");
    assert!(r2.index > r.index);
    eprintln!(
        "new leader accepted writes {:?} after the old one stopped",
        started.elapsed()
    );
    assert!(
        testing::wait_until(T, || rest.iter().all(|s| s
            .state()
            .snapshot()
            .job_by_id("default", "api")
            .is_some()))
        .await
    );
    for s in rest {
        s.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_with_an_empty_data_dir_rejoins_by_snapshot() {
    let dir = tempfile::tempdir().expect("tmp");
    let servers = three(dir.path()).await;
    let refs: Vec<&Server> = servers.iter().collect();
    let li = leader_of(&refs).await.expect("leader");
    assert!(testing::wait_until(T, || servers.iter().all(|s| voters(s) == 3)).await);
    for i in 0..20 {
        servers[li]
            .job_register(register(service_job(&format!("j{i}"), 1, 100)))
            .await
            .expect("register");
    }
    // A follower loses its disk and comes back on the same addresses.
    let victim = (li + 1) % 3;
    let name = ["a", "b", "c"][victim];
    let (rpc, serf) = (servers[victim].rpc_addr(), servers[victim].serf_addr());
    let old_id = servers[victim].raft().status().id;
    servers[victim].shutdown().await;
    std::fs::remove_dir_all(dir.path().join(name)).expect("wipe");
    let join = vec![servers[li].serf_addr().to_string()];
    let mut cfg = config(name, dir.path(), &join);
    cfg.rpc_bind = rpc;
    cfg.serf_bind = serf;
    let back = Server::start(cfg).await.expect("restart empty");
    assert_ne!(
        back.raft().status().id,
        old_id,
        "a new data dir is a new raft id"
    );
    assert!(
        testing::wait_until(T, || back.state().snapshot().jobs().count() == 20).await,
        "the new server catches up ({} jobs)",
        back.state().snapshot().jobs().count()
    );
    // The stale voter at that address was replaced, not added beside.
    assert!(
        testing::wait_until(T, || {
            let st = servers[li].raft().status();
            st.voters.len() == 3 && !st.voters.contains(&old_id)
        })
        .await,
        "voters: {:?}",
        servers[li].raft().status().voters
    );
    back.shutdown().await;
    for (i, s) in servers.iter().enumerate() {
        if i != victim {
            s.shutdown().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_save_and_restore_round_trip() {
    let s = testing::start(testing::test_config()).await.expect("start");
    s.job_register(register(service_job("keep", 1, 100)))
        .await
        .expect("register");
    // Let the scheduler settle first, so nothing changes the restored
    // state behind the test's back.
    assert!(
        testing::wait_until(T, || s
            .state()
            .snapshot()
            .evals()
            .all(|e| e.status != eval_status::PENDING))
        .await
    );
    let (index, image) = s.snapshot_save().await.expect("save");
    assert!(index > 0 && !image.is_empty());
    let mut saved = nomad_state::StateStore::new(nomad_state::StoreConfig::default());
    saved
        .restore_from(image.as_slice())
        .expect("the image decodes");
    let before = saved.digest().tables;
    s.job_register(register(service_job("later", 1, 100)))
        .await
        .expect("register");
    assert!(s.state().snapshot().job_by_id("default", "later").is_some());

    let bad = s.snapshot_restore(b"not a snapshot").await.unwrap_err();
    assert!(bad.to_string().contains("invalid snapshot"), "{bad}");
    assert!(s.state().snapshot().job_by_id("default", "later").is_some());

    let at = s.snapshot_restore(&image).await.expect("restore");
    let snap = s.state().snapshot();
    assert!(snap.job_by_id("default", "later").is_none());
    assert!(snap.job_by_id("default", "keep").is_some());
    assert_eq!(
        snap.digest().tables,
        before,
        "the restored tables equal the saved ones"
    );
    assert!(snap.latest_index() >= at, "indexes never go backwards");
    // The leader keeps working after the restore.
    s.job_register(register(service_job("after", 1, 100)))
        .await
        .expect("register after restore");
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_operator_input_gets_clear_errors() {
    let s = testing::start(testing::test_config()).await.expect("start");
    let e = s.raft_remove_peer(Some("abc"), None).await.unwrap_err();
    assert!(e.to_string().contains("invalid peer id \"abc\""), "{e}");
    let e = s.raft_remove_peer(None, None).await.unwrap_err();
    assert!(
        e.to_string().contains("exactly one of id or address"),
        "{e}"
    );
    let e = s
        .raft_remove_peer(None, Some("10.9.9.9:4647"))
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("was not found in the Raft configuration"),
        "{e}"
    );
    let e = s.join(&["127.0.0.1:1".to_string()]).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("Error joining address(es): 127.0.0.1:1"),
        "{e}"
    );
    s.shutdown().await;

    // A data directory whose marker lost its node id is refused, not rewritten.
    let dir = tempfile::tempdir().expect("tmp");
    let raft = dir.path().join("server").join("raft");
    std::fs::create_dir_all(&raft).expect("mkdir");
    std::fs::write(raft.join(nomad_raft::MARKER_FILE), "garbage\n").expect("marker");
    let cfg = ServerConfig {
        data_dir: Some(dir.path().to_path_buf()),
        ..testing::test_config()
    };
    let e = Server::start(cfg).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("has no node_id line; the data directory is damaged"),
        "{e}"
    );
    assert_eq!(
        std::fs::read_to_string(raft.join(nomad_raft::MARKER_FILE)).expect("read"),
        "garbage\n"
    );
}
