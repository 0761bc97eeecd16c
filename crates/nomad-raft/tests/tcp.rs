//! Real nodes on loopback: RocksDB data directories, the TCP transport, wall-clock ticks.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nomad_raft::{
    BootstrapExpect, Config, KvCommand, KvStateMachine, RaftError, RaftHandle, RaftNode,
    StateMachine as _, StorageError, TcpOptions, TcpTransport,
};
use tokio::task::JoinHandle;

type Kv = Arc<Mutex<KvStateMachine>>;

struct Node {
    id: u64,
    addr: SocketAddr,
    dir: PathBuf,
    handle: RaftHandle,
    join: JoinHandle<nomad_raft::Result<()>>,
    kv: Kv,
}

fn cfg(id: u64) -> Config {
    Config {
        cluster_id: "test".into(),
        snapshot_threshold: 64,
        // Checked often, so that these short tests compact their logs.
        snapshot_interval: Duration::from_millis(100),
        trailing_logs: 16,
        request_timeout: Duration::from_secs(5),
        ..Config::new(id)
    }
}

async fn bind(id: u64, addr: SocketAddr) -> TcpTransport {
    // Re-binding a port a stopped node just released may need a moment.
    for _ in 0..50 {
        if let Ok(t) = TcpTransport::bind(id, "test", addr, TcpOptions::default()).await {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("cannot bind {addr}");
}

async fn start(id: u64, addr: SocketAddr, dir: &Path) -> Node {
    let transport = bind(id, addr).await;
    let addr = transport.local_addr();
    let kv: Kv = Arc::new(Mutex::new(KvStateMachine::new()));
    let (handle, join) = RaftNode::start(cfg(id), dir, transport, kv.clone()).expect("start node");
    Node {
        id,
        addr,
        dir: dir.to_path_buf(),
        handle,
        join,
        kv,
    }
}

async fn stop(n: Node) -> (u64, SocketAddr, PathBuf) {
    n.handle.shutdown();
    let r = tokio::time::timeout(Duration::from_secs(10), n.join)
        .await
        .expect("node stops in time")
        .expect("join");
    r.expect("clean stop");
    (n.id, n.addr, n.dir)
}

fn set(k: &str) -> Vec<u8> {
    KvCommand::Set(k.as_bytes().to_vec(), b"v".to_vec()).encode()
}

fn digest(n: &Node) -> (u64, usize) {
    let kv = n.kv.lock().expect("kv");
    (kv.digest(), kv.len())
}

fn has(n: &Node, k: &str) -> bool {
    n.kv.lock().expect("kv").get(k.as_bytes()).is_some()
}

/// Writes `keys` through `via`, retrying while leadership settles. Returns the keys that were
/// acknowledged.
async fn write_all(via: &RaftHandle, keys: impl Iterator<Item = String>) -> Vec<String> {
    let mut acked = Vec::new();
    for k in keys {
        for attempt in 0..50 {
            match via.propose(set(&k)).await {
                Ok(_) => {
                    acked.push(k.clone());
                    break;
                }
                Err(e) if attempt < 49 => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("write {k} failed: {e}"),
            }
        }
    }
    acked
}

/// Waits until every node applied what the leader committed, and at least the highest
/// index any write was acknowledged at (statuses are published a moment after replies).
async fn wait_caught_up(nodes: &[&Node], timeout: Duration) {
    let deadline = Instant::now() + timeout;
    let floor = nodes
        .iter()
        .map(|n| n.kv.lock().expect("kv").applied_index())
        .max()
        .unwrap_or(0);
    loop {
        let leader = nodes
            .iter()
            .map(|n| n.handle.status())
            .find(|s| s.is_leader());
        if let Some(ls) = leader {
            let all = nodes.iter().all(|n| {
                let s = n.handle.status();
                s.applied == ls.commit && s.commit == ls.commit && s.applied >= floor
            });
            if all {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "not caught up: {:?}",
            nodes.iter().map(|n| n.handle.status()).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn three_nodes(root: &Path) -> Vec<Node> {
    let any: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    let mut nodes = Vec::new();
    for id in 1..=3 {
        nodes.push(start(id, any, &root.join(format!("n{id}"))).await);
    }
    // Nomad's bootstrap_expect = 3: the first server bootstraps once it knows all three.
    let mut expect = BootstrapExpect::new(3, 1, nodes[0].addr.to_string());
    assert!(expect.join(2, nodes[1].addr.to_string()).is_none());
    let voters = expect
        .join(3, nodes[2].addr.to_string())
        .expect("three known");
    nodes[0].handle.bootstrap(voters).await.expect("bootstrap");
    nodes
}

fn leader_of(nodes: &[Node]) -> Option<usize> {
    nodes.iter().position(|n| n.handle.status().is_leader())
}

async fn wait_leader(nodes: &[Node], timeout: Duration) -> usize {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(i) = leader_of(nodes) {
            let id = nodes[i].id;
            if nodes
                .iter()
                .all(|n| n.handle.status().leader_id == Some(id))
            {
                return i;
            }
        }
        assert!(Instant::now() < deadline, "no leader");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_kill_failover_and_restart_catch_up() {
    let root = tempfile::tempdir().expect("tempdir");
    let mut nodes = three_nodes(root.path()).await;
    let l = wait_leader(&nodes, Duration::from_secs(5)).await;
    let mut acked = write_all(&nodes[l].handle, (0..100).map(|i| format!("a{i}"))).await;
    // A write at a follower is forwarded to the leader.
    let f = (l + 1) % 3;
    acked.extend(write_all(&nodes[f].handle, (0..20).map(|i| format!("f{i}"))).await);
    let status = nodes[f].handle.status();
    assert!(
        status.known_leader()
            && status
                .last_contact
                .is_some_and(|d| d < Duration::from_secs(1))
    );
    assert_eq!(
        nodes[f].handle.leader_address(),
        Some(nodes[l].addr.to_string())
    );

    // Kill the leader.
    let old = nodes.remove(l);
    let old_id = old.id;
    let killed = Instant::now();
    let (id, addr, dir) = stop(old).await;
    let nl = wait_leader(&nodes, Duration::from_secs(5)).await;
    let elected = killed.elapsed();
    assert!(
        elected < Duration::from_secs(2),
        "new leader after {elected:?}"
    );
    acked.extend(write_all(&nodes[nl].handle, (0..100).map(|i| format!("b{i}"))).await);
    let accepted = killed.elapsed();
    eprintln!(
        "leader {old_id} killed: new leader in {elected:?}, 100 writes done after {accepted:?}"
    );

    // Restart the old leader on its data directory and address.
    let back = start(id, addr, &dir).await;
    nodes.push(back);
    acked.extend(write_all(&nodes[nl].handle, (0..10).map(|i| format!("c{i}"))).await);
    let refs: Vec<&Node> = nodes.iter().collect();
    wait_caught_up(&refs, Duration::from_secs(10)).await;
    let d0 = digest(&nodes[0]);
    for n in &nodes {
        assert_eq!(digest(n), d0, "node {} differs", n.id);
        for k in &acked {
            assert!(has(n, k), "acknowledged {k} missing on node {}", n.id);
        }
    }
    assert_eq!(d0.1, acked.len());
    // Linearizable read at every node.
    for n in &nodes {
        let idx = n.handle.read_index().await.expect("read index");
        assert!(n.handle.status().applied >= idx);
    }
    for n in nodes {
        stop(n).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_with_empty_data_dir_rejoins_by_snapshot() {
    let root = tempfile::tempdir().expect("tempdir");
    let mut nodes = three_nodes(root.path()).await;
    let l = wait_leader(&nodes, Duration::from_secs(5)).await;
    let acked = write_all(&nodes[l].handle, (0..200).map(|i| format!("k{i}"))).await;
    let f = (l + 1) % 3;
    let victim = nodes.remove(f);
    let (id, addr, dir) = stop(victim).await;
    std::fs::remove_dir_all(&dir).expect("wipe");
    let back = start(id, addr, &dir).await;
    assert!(!back.handle.status().initialized);
    nodes.push(back);
    let refs: Vec<&Node> = nodes.iter().collect();
    wait_caught_up(&refs, Duration::from_secs(10)).await;
    let back = nodes.last().expect("node");
    let s = back.handle.status();
    assert!(
        s.snapshots_installed >= 1,
        "caught up without a snapshot: {s:?}"
    );
    for k in &acked {
        assert!(has(back, k), "{k} missing");
    }
    assert_eq!(digest(back), digest(&nodes[0]));
    for n in nodes {
        stop(n).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_server_elects_itself_and_others_join() {
    let root = tempfile::tempdir().expect("tempdir");
    let any: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    let n1 = start(1, any, &root.path().join("n1")).await;
    let t = Instant::now();
    let mut expect = BootstrapExpect::new(1, 1, n1.addr.to_string());
    n1.handle
        .bootstrap(expect.ready().expect("expect=1 is ready at once"))
        .await
        .expect("bootstrap");
    n1.handle
        .wait_for(Duration::from_secs(2), |s| s.is_leader())
        .await
        .expect("leader");
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "took {:?}",
        t.elapsed()
    );
    let again = n1.handle.bootstrap(vec![(1, n1.addr.to_string())]).await;
    assert!(matches!(again, Err(RaftError::AlreadyBootstrapped)));
    write_all(&n1.handle, (0..100).map(|i| format!("k{i}"))).await;

    // A second server starts empty and joins through the leader.
    let n2 = start(2, any, &root.path().join("n2")).await;
    let r = n2.handle.propose(set("x")).await;
    assert!(matches!(r, Err(RaftError::NoLeader)), "{r:?}");
    n1.handle
        .add_voter(2, n2.addr.to_string())
        .await
        .expect("add voter");
    wait_caught_up(&[&n1, &n2], Duration::from_secs(10)).await;
    assert_eq!(digest(&n1), digest(&n2));
    n2.handle
        .wait_for(Duration::from_secs(1), |s| s.voters == [1, 2])
        .await
        .expect("voters [1, 2]");
    // Removing it again.
    n1.handle.remove_voter(2).await.expect("remove voter");
    n1.handle
        .wait_for(Duration::from_secs(1), |s| s.voters == [1])
        .await
        .expect("voters [1]");
    stop(n2).await;
    write_all(&n1.handle, std::iter::once("after".to_string())).await;

    // Restart: the single server recovers its state and elects itself again.
    let (id, addr, dir) = stop(n1).await;
    let n1 = start(id, addr, &dir).await;
    n1.handle
        .wait_for(Duration::from_secs(2), |s| {
            s.is_leader() && s.applied >= s.commit
        })
        .await
        .expect("leader after restart");
    n1.handle.read_index().await.expect("read");
    assert!(has(&n1, "after") && has(&n1, "k99"));
    stop(n1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_data_dir_refuses_to_start() {
    let root = tempfile::tempdir().expect("tempdir");
    std::fs::write(root.path().join("important.db"), b"do not touch").expect("write");
    let any: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    let transport = bind(1, any).await;
    let kv: Kv = Arc::new(Mutex::new(KvStateMachine::new()));
    let err = RaftNode::start(cfg(1), root.path(), transport, kv)
        .err()
        .expect("refused");
    assert!(
        matches!(err, RaftError::Storage(StorageError::NotADataDir { .. })),
        "{err}"
    );
    assert_eq!(
        std::fs::read(root.path().join("important.db")).expect("read"),
        b"do not touch"
    );
    assert_eq!(std::fs::read_dir(root.path()).expect("ls").count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_the_raft_port_is_survived() {
    use nomad_raft::{encode_frame, Frame, WIRE_VERSION};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let root = tempfile::tempdir().expect("tempdir");
    let any: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    let n1 = start(1, any, &root.path().join("n1")).await;
    n1.handle
        .bootstrap(vec![(1, n1.addr.to_string())])
        .await
        .expect("bootstrap");
    n1.handle
        .wait_for(Duration::from_secs(2), |s| s.is_leader())
        .await
        .expect("leader");
    let hello = |cluster: &str| {
        encode_frame(&Frame::Hello {
            version: WIRE_VERSION,
            from: 9,
            cluster: cluster.into(),
            advertise: "127.0.0.1:1".into(),
        })
        .expect("hello")
    };
    let mut bad_proto = hello("test");
    bad_proto.extend_from_slice(&[0, 0, 0, 5, 2, 0xff, 0xff, 0xff, 0xff]);
    let mut groups = hello("test");
    let body: Vec<u8> = std::iter::once(2u8)
        .chain(std::iter::repeat_n([0xa3u8, 0x01], 50_000).flatten())
        .collect();
    groups.extend_from_slice(&(body.len() as u32).to_be_bytes());
    groups.extend_from_slice(&body);
    let inputs: Vec<Vec<u8>> = vec![
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        vec![0xff, 0xff, 0xff, 0xff, 1, 2, 3],
        vec![0, 0, 0, 0],
        hello("other-cluster"),
        bad_proto,
        groups,
    ];
    for input in inputs {
        let mut s = tokio::net::TcpStream::connect(n1.addr)
            .await
            .expect("connect");
        let _ = s.write_all(&input).await;
        // The server closes the connection.
        let mut buf = [0u8; 16];
        let closed = tokio::time::timeout(Duration::from_secs(6), s.read(&mut buf)).await;
        assert!(
            matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
            "connection left open for {:?}",
            &input[..input.len().min(8)]
        );
    }
    write_all(&n1.handle, (0..10).map(|i| format!("k{i}"))).await;
    assert!(n1.handle.status().is_leader());
    stop(n1).await;
}
