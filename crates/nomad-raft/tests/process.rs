//! Three `raft-kv` processes on loopback: write steadily, `kill -9` the leader, restart it,
//! and check that every acknowledged write is on every node.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Proc {
    id: u64,
    raft: SocketAddr,
    client: SocketAddr,
    child: Option<Child>,
}

fn free_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

fn spawn(p: &Proc, root: &Path, bootstrap: &str) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(root.join(format!("n{}.log", p.id)))
        .expect("log file");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_raft-kv"));
    cmd.args(["--id", &p.id.to_string()])
        .args(["--raft", &p.raft.to_string()])
        .args(["--client", &p.client.to_string()])
        .arg("--data")
        .arg(root.join(format!("n{}", p.id)))
        .args(["--timeout-ms", "1000"])
        .stdout(Stdio::null())
        .stderr(Stdio::from(log));
    if !bootstrap.is_empty() {
        cmd.args(["--bootstrap", bootstrap]);
    }
    cmd.spawn().expect("spawn raft-kv")
}

/// One request on a fresh connection; None on any failure or timeout.
fn ask(addr: SocketAddr, line: &str, timeout: Duration) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    s.write_all(format!("{line}\n").as_bytes()).ok()?;
    let mut r = BufReader::new(s);
    let mut out = String::new();
    r.read_line(&mut out).ok()?;
    let out = out.trim().to_string();
    (!out.is_empty()).then_some(out)
}

fn status(p: &Proc) -> Option<(bool, u64, u64, u64)> {
    let s = ask(p.client, "STATUS", Duration::from_secs(1))?;
    let field = |name: &str| {
        s.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")).map(str::to_string))
    };
    Some((
        field("role")? == "Leader",
        field("leader")?.parse().ok()?,
        field("commit")?.parse().ok()?,
        field("applied")?.parse().ok()?,
    ))
}

fn leader(ps: &[Proc]) -> Option<usize> {
    ps.iter()
        .position(|p| p.child.is_some() && status(p).is_some_and(|s| s.0))
}

#[test]
fn kill_dash_nine_the_leader_loses_no_acknowledged_write() {
    let root = tempfile::tempdir().expect("tempdir");
    let mut ps: Vec<Proc> = (1..=3)
        .map(|id| Proc {
            id,
            raft: free_port(),
            client: free_port(),
            child: None,
        })
        .collect();
    let voters: Vec<String> = ps.iter().map(|p| format!("{}={}", p.id, p.raft)).collect();
    let voters = voters.join(",");
    for (i, p) in ps.iter_mut().enumerate() {
        // Only the first server bootstraps (bootstrap_expect = 3 reached on it).
        let b = if i == 0 { voters.as_str() } else { "" };
        p.child = Some(spawn(p, root.path(), b));
    }
    let mut cluster = Cluster(ps);
    let ps = &mut cluster.0;

    let t0 = Instant::now();
    while leader(ps).is_none() {
        assert!(t0.elapsed() < Duration::from_secs(20), "no leader");
        std::thread::sleep(Duration::from_millis(50));
    }

    let mut acked: Vec<String> = Vec::new();
    let mut target = 0usize;
    let mut n = 0u64;
    let mut killed: Option<(Instant, usize)> = None;
    let mut recovered: Option<Duration> = None;
    let mut restarted = false;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        let el = start.elapsed();
        if killed.is_none() && el > Duration::from_millis(1500) {
            if let Some(l) = leader(ps) {
                if let Some(mut c) = ps[l].child.take() {
                    c.kill().expect("kill -9");
                    let _ = c.wait();
                }
                killed = Some((Instant::now(), l));
            }
        }
        if let Some((at, l)) = killed {
            if !restarted && at.elapsed() > Duration::from_secs(2) {
                ps[l].child = Some(spawn(&ps[l], root.path(), ""));
                restarted = true;
            }
        }
        let key = format!("w{n}");
        n += 1;
        let p = &ps[target];
        let ok = p.child.is_some()
            && ask(
                p.client,
                &format!("SET {key} v"),
                Duration::from_millis(1500),
            )
            .is_some_and(|r| r.starts_with("OK "));
        if ok {
            acked.push(key);
            if let Some((at, _)) = killed {
                if recovered.is_none() {
                    recovered = Some(at.elapsed());
                }
            }
        } else {
            target = (target + 1) % ps.len();
        }
    }
    let (_, killed_idx) = killed.expect("a leader was killed");
    let recovered = recovered.expect("writes accepted again after the kill");
    eprintln!(
        "killed leader {}: writes accepted again after {recovered:?}; {} writes acknowledged",
        ps[killed_idx].id,
        acked.len()
    );
    assert!(
        recovered < Duration::from_secs(3),
        "recovery took {recovered:?}"
    );
    assert!(
        acked.len() > 100,
        "only {} writes acknowledged",
        acked.len()
    );

    // Converge: same commit, applied and digest everywhere.
    let t0 = Instant::now();
    loop {
        let st: Vec<_> = ps.iter().map(status).collect();
        let digests: Vec<_> = ps
            .iter()
            .map(|p| ask(p.client, "DIGEST", Duration::from_secs(1)))
            .collect();
        let same = st
            .iter()
            .all(|s| s.is_some_and(|s| s.2 == s.3 && Some(s.2) == st[0].map(|x| x.2)))
            && digests.iter().all(|d| d.is_some() && *d == digests[0]);
        if same {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "no convergence: {st:?} {digests:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    for p in ps.iter() {
        // One pipelined connection per node for the checks.
        let mut s = TcpStream::connect(p.client).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let batch: String = acked.iter().map(|k| format!("CHECK {k}\n")).collect();
        s.write_all(batch.as_bytes()).expect("write");
        let mut r = BufReader::new(s);
        for k in &acked {
            let mut line = String::new();
            r.read_line(&mut line).expect("read");
            assert_eq!(
                line.trim(),
                "YES",
                "acknowledged {k} missing on node {}",
                p.id
            );
        }
    }
    // A linearizable read through every node.
    let last = acked.last().expect("acked");
    for p in ps.iter() {
        let r = ask(p.client, &format!("GET {last}"), Duration::from_secs(2));
        assert_eq!(r.as_deref(), Some("VAL v"), "node {}", p.id);
    }
}

/// Kills every child process when the test ends, pass or fail.
struct Cluster(Vec<Proc>);

impl Drop for Cluster {
    fn drop(&mut self) {
        for p in self.0.iter_mut() {
            if let Some(mut c) = p.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}
