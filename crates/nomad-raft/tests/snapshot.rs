//! Snapshots written in the background: real nodes on loopback with RocksDB data directories
//! and a state machine whose snapshot writer the test can hold, fail and watch.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use nomad_raft::{
    Config, KvCommand, KvStateMachine, RaftHandle, RaftNode, RaftStatus, SnapshotWriter,
    StateMachine, TcpOptions, TcpTransport,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

const THRESHOLD: u64 = 64;
const TRAILING: u64 = 16;

fn cfg(id: u64) -> Config {
    Config {
        cluster_id: "test".into(),
        snapshot_threshold: THRESHOLD,
        snapshot_interval: Duration::from_millis(100),
        trailing_logs: TRAILING,
        request_timeout: Duration::from_secs(5),
        ..Config::new(id)
    }
}

/// A writer started: the index of the state it writes, and the thread it runs on.
#[derive(Debug)]
struct Started {
    index: u64,
    thread: ThreadId,
}

/// What the test controls and observes of [`Gated`]'s snapshot writers.
struct Ctl {
    started: mpsc::UnboundedSender<Started>,
    /// While set, writers wait (up to a minute) before writing.
    hold: Mutex<bool>,
    released: Condvar,
    /// Writers that fail instead of writing.
    fail: AtomicUsize,
    writers: AtomicUsize,
    restores: AtomicUsize,
    apply_thread: Mutex<Option<ThreadId>>,
    writing: AtomicBool,
}

impl Ctl {
    fn set_hold(&self, hold: bool) {
        *self.hold.lock().expect("hold") = hold;
        self.released.notify_all();
    }

    fn wait_released(&self) {
        let g = self.hold.lock().expect("hold");
        let (_g, timeout) = self
            .released
            .wait_timeout_while(g, Duration::from_secs(60), |held| *held)
            .expect("hold");
        assert!(!timeout.timed_out(), "the test never released the writer");
    }
}

/// A key/value state machine shared with the test; its snapshot writer clones the map and
/// reports to [`Ctl`].
#[derive(Clone)]
struct Gated {
    kv: Arc<Mutex<KvStateMachine>>,
    ctl: Arc<Ctl>,
}

impl Gated {
    fn new() -> (Gated, mpsc::UnboundedReceiver<Started>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let ctl = Ctl {
            started: tx,
            hold: Mutex::new(false),
            released: Condvar::new(),
            fail: AtomicUsize::new(0),
            writers: AtomicUsize::new(0),
            restores: AtomicUsize::new(0),
            apply_thread: Mutex::new(None),
            writing: AtomicBool::new(false),
        };
        let g = Gated {
            kv: Arc::new(Mutex::new(KvStateMachine::new())),
            ctl: Arc::new(ctl),
        };
        (g, rx)
    }

    fn digest(&self) -> (u64, usize) {
        let kv = self.kv.lock().expect("kv");
        (kv.digest(), kv.len())
    }
}

impl StateMachine for Gated {
    fn apply(&mut self, index: u64, data: &[u8]) -> Vec<u8> {
        *self.ctl.apply_thread.lock().expect("thread") = Some(std::thread::current().id());
        self.kv.lock().expect("kv").apply(index, data)
    }
    fn snapshot(&self) -> Vec<u8> {
        self.kv.lock().expect("kv").snapshot()
    }
    fn snapshot_writer(&self) -> Option<SnapshotWriter> {
        let copy = self.kv.lock().expect("kv").clone();
        let ctl = Arc::clone(&self.ctl);
        Some(Box::new(move |w| {
            ctl.writers.fetch_add(1, Ordering::SeqCst);
            ctl.writing.store(true, Ordering::SeqCst);
            let _ = ctl.started.send(Started {
                index: copy.applied_index(),
                thread: std::thread::current().id(),
            });
            ctl.wait_released();
            ctl.writing.store(false, Ordering::SeqCst);
            let failing = ctl
                .fail
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if failing {
                return Err(std::io::Error::other("injected write failure"));
            }
            w.write_all(&copy.snapshot())
        }))
    }
    fn restore(&mut self, data: &[u8]) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.ctl.restores.fetch_add(1, Ordering::SeqCst);
        self.kv.lock().expect("kv").restore(data)
    }
    fn applied_index(&self) -> u64 {
        self.kv.lock().expect("kv").applied_index()
    }
}

struct Node {
    addr: SocketAddr,
    dir: PathBuf,
    handle: RaftHandle,
    join: JoinHandle<nomad_raft::Result<()>>,
}

async fn start(id: u64, dir: &Path, fsm: Gated) -> Node {
    let any: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    let transport = TcpTransport::bind(id, "test", any, TcpOptions::default())
        .await
        .expect("bind");
    let addr = transport.local_addr();
    let (handle, join) = RaftNode::start(cfg(id), dir, transport, fsm).expect("start node");
    Node {
        addr,
        dir: dir.to_path_buf(),
        handle,
        join,
    }
}

/// A single-voter cluster, elected.
async fn single(dir: &Path, fsm: Gated) -> Node {
    let n = start(1, dir, fsm).await;
    n.handle
        .bootstrap(vec![(1, n.addr.to_string())])
        .await
        .expect("bootstrap");
    n.handle
        .wait_for(Duration::from_secs(5), |s| s.is_leader())
        .await
        .expect("leader");
    n
}

async fn stop(n: Node) {
    n.handle.shutdown();
    tokio::time::timeout(Duration::from_secs(10), n.join)
        .await
        .expect("node stops in time")
        .expect("join")
        .expect("clean stop");
}

fn set(k: &str) -> Vec<u8> {
    KvCommand::Set(k.as_bytes().to_vec(), b"v".to_vec()).encode()
}

/// Writes `n` keys; returns the index of the last.
async fn write(h: &RaftHandle, prefix: &str, n: usize) -> u64 {
    let mut last = 0;
    for i in 0..n {
        (last, _) = h
            .propose(set(&format!("{prefix}{i}")))
            .await
            .unwrap_or_else(|e| panic!("write {prefix}{i}: {e}"));
    }
    last
}

async fn wait_status(
    h: &RaftHandle,
    what: &str,
    pred: impl FnMut(&RaftStatus) -> bool,
) -> RaftStatus {
    match h.wait_for(Duration::from_secs(10), pred).await {
        Some(s) => s,
        None => panic!("timed out waiting for {what}: {:?}", h.status()),
    }
}

async fn next_writer(rx: &mut mpsc::UnboundedReceiver<Started>) -> Started {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a snapshot writer starts")
        .expect("channel open")
}

/// Waits until no snapshot is being written or waits to be installed (the snapshot
/// directory holds just the stored image), then returns the status.
async fn settled(n: &Node) -> RaftStatus {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = n.handle.status();
        let files = snapshot_files(&n.dir);
        if files == [format!("{}-{}.image", s.snapshot_index, s.term)] {
            return s;
        }
        assert!(Instant::now() < deadline, "not settled: {files:?} {s:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The names of the files in the snapshot directory.
fn snapshot_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("snapshot"))
        .expect("snapshot dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_written_in_the_background_is_installed_and_compacts_the_log() {
    let root = tempfile::tempdir().expect("tempdir");
    let (fsm, mut started) = Gated::new();
    let ctl = Arc::clone(&fsm.ctl);
    let n = single(&root.path().join("n1"), fsm).await;
    write(&n.handle, "k", 150).await;
    let w = next_writer(&mut started).await;
    wait_status(&n.handle, "a snapshot", |s| s.snapshot_index >= w.index).await;
    assert!(w.index > THRESHOLD, "{w:?}");
    let apply_thread = ctl.apply_thread.lock().expect("thread").expect("applied");
    assert_ne!(w.thread, apply_thread, "written off the Raft thread");
    // The image is in place and no staged file is left.
    let s = settled(&n).await;
    assert!(s.snapshots_taken >= 1);
    assert_eq!(
        s.first_index,
        s.snapshot_index - TRAILING + 1,
        "compacted, keeping trailing_logs entries"
    );
    stop(n).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proposals_commit_while_a_snapshot_is_written() {
    let root = tempfile::tempdir().expect("tempdir");
    let (fsm, mut started) = Gated::new();
    let ctl = Arc::clone(&fsm.ctl);
    ctl.set_hold(true);
    let n = single(&root.path().join("n1"), fsm).await;
    write(&n.handle, "a", 100).await;
    let w = next_writer(&mut started).await;
    assert!(ctl.writing.load(Ordering::SeqCst));

    // The writer is held: Raft goes on committing.
    let t = Instant::now();
    write(&n.handle, "b", 300).await;
    let took = t.elapsed();
    assert!(took < Duration::from_secs(10), "300 writes took {took:?}");
    // Several checks pass while it is held; none starts a second writer.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let s = n.handle.status();
    assert!(s.applied >= w.index + 300, "{s:?}");
    assert!(
        s.snapshot_index < w.index,
        "not installed before it is written: {s:?}"
    );
    assert!(ctl.writing.load(Ordering::SeqCst), "still held");
    assert_eq!(
        ctl.writers.load(Ordering::SeqCst),
        1,
        "one snapshot at a time"
    );

    ctl.set_hold(false);
    let s = wait_status(&n.handle, "the held snapshot", |s| {
        s.snapshot_index >= w.index
    })
    .await;
    assert!(s.first_index > w.index - TRAILING, "compacted: {s:?}");
    // The entries applied meanwhile make the next check take another one.
    let next = next_writer(&mut started).await;
    assert!(next.index > w.index + THRESHOLD, "{next:?}");
    wait_status(&n.handle, "the next snapshot", |s| {
        s.snapshot_index >= next.index
    })
    .await;
    stop(n).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_background_write_is_dropped_and_retried_at_the_next_check() {
    let root = tempfile::tempdir().expect("tempdir");
    let (fsm, mut started) = Gated::new();
    let ctl = Arc::clone(&fsm.ctl);
    ctl.fail.store(1, Ordering::SeqCst);
    let n = single(&root.path().join("n1"), fsm).await;
    write(&n.handle, "k", 100).await;
    let first = next_writer(&mut started).await;
    let second = next_writer(&mut started).await;
    assert!(second.index >= first.index);
    wait_status(&n.handle, "a snapshot", |s| {
        s.snapshot_index >= second.index
    })
    .await;
    assert_eq!(ctl.fail.load(Ordering::SeqCst), 0, "the first write failed");
    // The failed write left no file.
    let s = settled(&n).await;
    assert_eq!(s.snapshots_taken, 1, "the failed one is not counted");
    stop(n).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_after_a_background_snapshot_restores_the_same_state() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("n1");
    let (fsm, mut started) = Gated::new();
    let before_fsm = fsm.clone();
    let n = single(&dir, fsm).await;
    write(&n.handle, "k", 150).await;
    let w = next_writer(&mut started).await;
    let s = wait_status(&n.handle, "a snapshot", |s| {
        s.snapshot_index >= w.index && s.first_index > w.index - TRAILING
    })
    .await;
    // Entries after the snapshot are replayed from the log.
    let applied = write(&n.handle, "after", 10).await;
    let before = before_fsm.digest();
    assert_eq!(before.1, 160);
    stop(n).await;

    let (fsm, _started) = Gated::new();
    let after_fsm = fsm.clone();
    let n = start(1, &dir, fsm).await;
    assert_eq!(
        after_fsm.ctl.restores.load(Ordering::SeqCst),
        1,
        "restored from the snapshot"
    );
    let r = wait_status(&n.handle, "replay", |r| r.applied >= applied).await;
    assert!(r.snapshot_index >= s.snapshot_index);
    assert_eq!(after_fsm.digest(), before);
    write(&n.handle, "more", 5).await;
    stop(n).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_that_needs_a_snapshot_gets_one_written_in_the_background() {
    let root = tempfile::tempdir().expect("tempdir");
    let (fsm, mut started) = Gated::new();
    let leader_fsm = fsm.clone();
    let ctl = Arc::clone(&fsm.ctl);
    let n1 = single(&root.path().join("n1"), fsm).await;
    write(&n1.handle, "k", 150).await;
    let w = next_writer(&mut started).await;
    wait_status(&n1.handle, "the periodic snapshot", |s| {
        s.snapshot_index >= w.index
    })
    .await;
    let before = ctl.writers.load(Ordering::SeqCst);

    // A server that joins now needs a snapshot that has it in its configuration: raft asks
    // for one and it is written in the background, however recent the last one is.
    ctl.set_hold(true);
    let (fsm2, _s2) = Gated::new();
    let follower_fsm = fsm2.clone();
    let n2 = start(2, &root.path().join("n2"), fsm2).await;
    let add = {
        let h = n1.handle.clone();
        let addr = n2.addr.to_string();
        tokio::spawn(async move { h.add_voter(2, addr).await })
    };
    next_writer(&mut started).await;
    assert_eq!(n2.handle.status().snapshots_installed, 0);
    ctl.set_hold(false);
    let added = add.await.expect("join").expect("add voter");
    let s2 = wait_status(&n2.handle, "the follower's snapshot", |s| {
        s.snapshots_installed >= 1 && s.applied >= added
    })
    .await;
    assert!(s2.voters.contains(&2));
    assert!(ctl.writers.load(Ordering::SeqCst) > before);
    let last = write(&n1.handle, "after", 10).await;
    wait_status(&n2.handle, "catch up", |s| s.applied >= last).await;
    assert_eq!(follower_fsm.digest(), leader_fsm.digest());
    stop(n2).await;
    stop(n1).await;
}
