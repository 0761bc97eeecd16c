//! Commit throughput and latency of nomad-raft on loopback with real fsync.
//!
//! ```text
//! cargo run --release -p nomad-raft --example raft_bench -- [--secs 3] [--payload 128] [--dir PATH]
//! ```
//!
//! For 1 and 3 in-process nodes (TCP transport, RocksDB data dirs) and 1, 10 and 100
//! concurrent proposers (so up to that many entries per Ready and per disk sync), it reports
//! commits/s and p50/p99 latency of `propose` (committed and applied on the leader). It first
//! measures the disk's write+fdatasync latency in the same directory: the floor of one commit.

use std::io::Write as _;
use std::net::SocketAddr;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nomad_raft::{
    Config, KvCommand, KvStateMachine, LogStore, RaftHandle, RaftNode, RocksStorage, TcpOptions,
    TcpTransport,
};
use raft::eraftpb::{Entry, HardState};

struct Opts {
    secs: u64,
    payload: usize,
    dir: PathBuf,
}

fn opts() -> Opts {
    let mut o = Opts {
        secs: 3,
        payload: 128,
        dir: std::env::temp_dir(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(f) = it.next() {
        let v = it.next().unwrap_or_default();
        match f.as_str() {
            "--secs" => o.secs = v.parse().unwrap_or(o.secs),
            "--payload" => o.payload = v.parse().unwrap_or(o.payload),
            "--dir" => o.dir = PathBuf::from(v),
            _ => {}
        }
    }
    o
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn fdatasync_floor(dir: &Path) -> std::io::Result<(Duration, Duration)> {
    let path = dir.join("fsync-probe");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&path)?;
    let block = vec![0x5au8; 4096];
    let mut lat = Vec::new();
    for i in 0..300u64 {
        let t = Instant::now();
        // Append like a WAL does, then sync the data.
        f.write_all_at(&block, i * 4096)?;
        f.sync_data()?;
        lat.push(t.elapsed());
    }
    std::fs::remove_file(&path)?;
    lat.sort();
    Ok((pct(&lat, 0.5), pct(&lat, 0.99)))
}

/// Latency of one synced RocksDB write of one entry plus hard state (what a Ready costs).
fn rocks_floor(
    dir: &Path,
    payload: usize,
) -> Result<(Duration, Duration), Box<dyn std::error::Error>> {
    let tmp = tempfile::tempdir_in(dir)?;
    let mut st = RocksStorage::open(tmp.path(), 1, "")?;
    let mut lat = Vec::new();
    for i in 1..=500u64 {
        let e = Entry {
            index: i,
            term: 1,
            data: vec![7u8; payload].into(),
            ..Default::default()
        };
        let hs = HardState {
            term: 1,
            commit: i - 1,
            ..Default::default()
        };
        let t = Instant::now();
        st.persist(None, &[e], Some(&hs), true)?;
        lat.push(t.elapsed());
    }
    lat.sort();
    Ok((pct(&lat, 0.5), pct(&lat, 0.99)))
}

async fn cluster(n: u64, root: &Path) -> Vec<RaftHandle> {
    let any: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    let mut handles = Vec::new();
    let mut voters = Vec::new();
    for id in 1..=n {
        let t = TcpTransport::bind(id, "bench", any, TcpOptions::default())
            .await
            .expect("bind");
        voters.push((id, t.local_addr().to_string()));
        let cfg = Config {
            cluster_id: "bench".into(),
            snapshot_threshold: 100_000,
            ..Config::new(id)
        };
        let (h, _join) =
            RaftNode::start(cfg, &root.join(format!("n{id}")), t, KvStateMachine::new())
                .expect("start");
        handles.push(h);
    }
    handles[0].bootstrap(voters).await.expect("bootstrap");
    handles
}

async fn leader(hs: &[RaftHandle]) -> RaftHandle {
    let t = Instant::now();
    loop {
        if let Some(h) = hs.iter().find(|h| h.status().is_leader()) {
            return h.clone();
        }
        assert!(t.elapsed() < Duration::from_secs(10), "no leader");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn run(nodes: u64, conc: usize, o: &Opts) -> (f64, Duration, Duration) {
    let root = tempfile::tempdir_in(&o.dir).expect("tempdir");
    let hs = cluster(nodes, root.path()).await;
    let l = leader(&hs).await;
    let value = vec![b'x'; o.payload];
    // Warm up.
    for i in 0..200 {
        let cmd = KvCommand::Set(format!("warm{i}").into_bytes(), value.clone()).encode();
        l.propose(cmd).await.expect("warm-up write");
    }
    let deadline = Instant::now() + Duration::from_secs(o.secs);
    let value = Arc::new(value);
    let mut tasks = Vec::new();
    let t0 = Instant::now();
    for w in 0..conc {
        let l = l.clone();
        let value = value.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut i = 0u64;
            while Instant::now() < deadline {
                let cmd = KvCommand::Set(format!("w{w}-{i}").into_bytes(), value.to_vec()).encode();
                let t = Instant::now();
                if l.propose(cmd).await.is_ok() {
                    lat.push(t.elapsed());
                }
                i += 1;
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.expect("task"));
    }
    let secs = t0.elapsed().as_secs_f64();
    lat.sort();
    let rate = lat.len() as f64 / secs;
    for h in &hs {
        h.shutdown();
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    (rate, pct(&lat, 0.5), pct(&lat, 0.99))
}

fn main() {
    let o = opts();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    match fdatasync_floor(&o.dir) {
        Ok((p50, p99)) => println!(
            "disk {}: 4 KiB write + fdatasync p50 {:.3} ms, p99 {:.3} ms",
            o.dir.display(),
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        ),
        Err(e) => println!("fdatasync probe failed: {e}"),
    }
    match rocks_floor(&o.dir, o.payload) {
        Ok((p50, p99)) => println!(
            "rocksdb synced write of one entry: p50 {:.3} ms, p99 {:.3} ms",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        ),
        Err(e) => println!("rocksdb probe failed: {e}"),
    }
    println!("payload {} B, {} s per run", o.payload, o.secs);
    println!(
        "{:>5} {:>11} {:>12} {:>10} {:>10}",
        "nodes", "concurrency", "commits/s", "p50 ms", "p99 ms"
    );
    for nodes in [1u64, 3] {
        for conc in [1usize, 10, 100] {
            let (rate, p50, p99) = rt.block_on(run(nodes, conc, &o));
            println!(
                "{:>5} {:>11} {:>12.0} {:>10.3} {:>10.3}",
                nodes,
                conc,
                rate,
                p50.as_secs_f64() * 1e3,
                p99.as_secs_f64() * 1e3
            );
            let _ = std::io::stdout().flush();
        }
    }
}
