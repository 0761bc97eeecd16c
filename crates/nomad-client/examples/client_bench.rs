//! Client latency and memory harness (release mode):
//!
//! ```text
//! cargo run --release -p nomad-client --example client_bench
//! ```
//!
//! 1. Idle RSS of a registered client with no allocations.
//! 2. Allocation received → task running, for 100 raw_exec allocations
//!    placed one after another (from the fake server's commit to the
//!    client having the started task's handle, i.e. the task's `execve`
//!    succeeded), against spawning the same command directly with
//!    `std::process::Command` in the same run. p50/p99.
//! 3. RSS with 50 running allocations.
//!
//! The RSS is the client process's (`VmRSS`); each task also has the
//! driver's shim process and the client's log-FIFO keeper (`sleep`), which
//! are separate processes and reported separately.

use std::sync::Arc;
use std::time::{Duration, Instant};

use nomad_client::testing::{alloc, job, raw_exec_task, FakeServer};
use nomad_client::{Client, ClientConfig};

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Proportional set size: shared copy-on-write pages split between the
/// processes sharing them (the shims are forked from the client).
fn pss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Pss:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i.min(v.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn start_alloc(server: &FakeServer, client: &Client, name: &str) -> (String, Duration) {
    let a = alloc(
        job(
            name,
            "service",
            vec![raw_exec_task("t", "/bin/sleep", &["1000"])],
            None,
        ),
        client.node_id(),
    );
    let id = a.id.clone();
    let t0 = Instant::now();
    server.add_alloc(a);
    loop {
        if client.task_handle(&id, "t").is_some() {
            return (id, t0.elapsed());
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
}

async fn stop_all(server: &FakeServer, ids: &[String]) {
    for id in ids {
        server.stop_alloc(id);
    }
    for id in ids {
        let _ = server
            .wait_alloc(id, Duration::from_secs(60), |a| {
                a.client_status == "complete"
            })
            .await;
        server.remove_alloc(id);
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let dir = tempfile::tempdir()?;
        let server = Arc::new(FakeServer::new());
        let mut cfg = ClientConfig::dev(dir.path());
        cfg.alloc_watch_wait = Duration::from_secs(30);
        let client = Client::start(cfg, server.clone()).await?;
        while server.node(client.node_id()).is_none() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let me = std::process::id();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let idle = rss_kib(me);

        // Baseline: the same command spawned directly.
        let mut base = Vec::new();
        let mut children = Vec::new();
        for _ in 0..100 {
            let t0 = Instant::now();
            let c = std::process::Command::new("/bin/sleep")
                .arg("1000")
                .spawn()?;
            base.push(t0.elapsed());
            children.push(c);
        }
        for mut c in children {
            let _ = c.kill();
            let _ = c.wait();
        }

        // Client: 100 allocations, one after another.
        let mut lat = Vec::new();
        let mut ids = Vec::new();
        for i in 0..100 {
            let (id, d) = start_alloc(&server, &client, &format!("bench{i}")).await;
            lat.push(d);
            ids.push(id);
        }
        stop_all(&server, &ids).await;

        // 50 running allocations.
        let mut ids = Vec::new();
        for i in 0..50 {
            ids.push(start_alloc(&server, &client, &format!("rss{i}")).await.0);
        }
        for id in &ids {
            server
                .wait_alloc(id, Duration::from_secs(30), |a| {
                    a.client_status == "running"
                })
                .await?;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let with50 = rss_kib(me);
        let mut helper_kib = 0;
        for id in &ids {
            if let Some(h) = client.task_handle(id, "t") {
                if let Some(pid) = h.driver_state["shim"]["pid"].as_u64() {
                    helper_kib += pss_kib(pid as u32);
                }
            }
        }
        stop_all(&server, &ids).await;

        println!("raw_exec: allocation received -> task running (n=100)");
        println!(
            "  client  p50 {:.2} ms  p99 {:.2} ms",
            ms(pct(&mut lat, 0.5)),
            ms(pct(&mut lat, 0.99))
        );
        println!(
            "  direct  p50 {:.2} ms  p99 {:.2} ms   (std::process::Command::spawn)",
            ms(pct(&mut base, 0.5)),
            ms(pct(&mut base, 0.99))
        );
        println!("client RSS");
        println!("  idle, 0 allocations      {:.1} MiB", idle as f64 / 1024.0);
        println!(
            "  50 running allocations   {:.1} MiB",
            with50 as f64 / 1024.0
        );
        println!(
            "  (driver shims of those 50 tasks, separate processes: {:.1} MiB PSS in all)",
            helper_kib as f64 / 1024.0
        );
        Ok::<(), Box<dyn std::error::Error>>(())
    })?;
    Ok(())
}
