//! The API and the CLI path, measured against real agents started from the
//! release binaries (see docs/benchmarks.md, "The API and the CLI").
//!
//! ```sh
//! cargo build --release --bins
//! cargo run --release -p nomad-benches --bin api-harness -- MODE [ARGS]
//! ```
//!
//! * `run [JOBS]`: `nomad agent -dev`; one raw_exec service job at a time
//!   (200 by default): the time from `PUT /v1/jobs` to the allocation
//!   reported running, read from the event stream (no polling). Each job is
//!   stopped (and its task gone) before the next is submitted. Baseline:
//!   a bare `GET /v1/status/leader` round trip on the same agent.
//! * `register [SECS] [SUBMITTERS]`: three `nomad-server` processes on
//!   loopback (bootstrap_expect 3), no clients; SUBMITTERS (64) concurrent
//!   submitters register distinct jobs for SECS (10) seconds, first all at
//!   the leader, then spread over the three servers (followers forward to
//!   the leader). Each registration creates an evaluation that the
//!   scheduler blocks (no node can run it). Registrations/s, p50/p99;
//!   baseline: `GET /v1/status/leader` at the same concurrency. Afterwards
//!   every server must hold every acknowledged job.
//! * `register SECS SUBMITTERS settle`: the same, then waits until the
//!   scheduler has processed every evaluation the load left queued (each
//!   registration ends as a complete evaluation and a blocked one) and
//!   reports how long that backlog took to work off.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nomad_api_client::{Client, Config, EventStreamRequest, QueryOptions};
use nomad_e2e::{Cluster, DevAgent};

/// Positional argument `n` after the mode, or `default`.
fn arg(n: usize, default: usize) -> usize {
    std::env::args()
        .nth(n + 1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match mode.as_str() {
        "run" => rt.block_on(run(arg(1, 200))),
        "register" => rt.block_on(register(
            arg(1, 10) as u64,
            arg(2, 64),
            std::env::args().nth(4).as_deref() == Some("settle"),
        )),
        _ => {
            eprintln!("usage: api-harness run [JOBS] | register [SECS] [SUBMITTERS] [settle]");
            std::process::exit(2);
        }
    }
}

/// `p`-th percentile of sorted durations, in ms.
fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn summary(name: &str, mut d: Vec<Duration>) {
    d.sort();
    println!(
        "{name}: n={} p50={:.2} ms p99={:.2} ms max={:.2} ms",
        d.len(),
        pct(&d, 0.50),
        pct(&d, 0.99),
        pct(&d, 1.0)
    );
}

fn client(addr: &str) -> Client {
    Client::new(Config {
        address: addr.to_string(),
        ..Config::default()
    })
    .expect("API client")
}

fn uptime() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

// ---------------------------------------------------------------- run

fn service_job(id: &str) -> String {
    // The task lives until this harness exits, whatever happens to the agent.
    format!(
        r#"{{"Job":{{"ID":"{id}","Name":"{id}","Type":"service","Datacenters":["dc1"],
        "TaskGroups":[{{"Name":"g","Count":1,"Tasks":[{{"Name":"t","Driver":"raw_exec",
        "Config":{{"command":"/usr/bin/tail","args":["--pid={pid}","-f","/dev/null"]}},
        "Resources":{{"CPU":20,"MemoryMB":16}}}}]}}]}}}}"#,
        pid = std::process::id()
    )
}

/// An allocation event: job, client status, when the harness saw it, and
/// the task's `StartedAt` (Unix ns) once it has started.
type Seen = (String, String, Instant, Option<i64>);

/// Waits for the next event naming `job` with client status `status`.
async fn await_status(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Seen>,
    job: &str,
    status: &str,
) -> (Instant, Option<i64>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some((j, s, at, started))) if j == job && s == status => return (at, started),
            Ok(Some(_)) => {}
            Ok(None) => panic!("event stream ended"),
            Err(_) => panic!("{job} not {status} after 60 s"),
        }
    }
}

async fn run(jobs: usize) {
    println!(
        "mode run: {jobs} raw_exec jobs, one at a time; load {}",
        uptime()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let agent = DevAgent::start(dir.path());
    let api = client(&agent.addr);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok((nodes, _)) = api.nodes_list(&QueryOptions::default()).await {
            if nodes.iter().any(|n| n.status == "ready") {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no ready node:\n{}",
            agent.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Baseline: the bare HTTP round trip.
    let mut floor = Vec::new();
    for _ in 0..1000 {
        let t = Instant::now();
        api.status_leader("").await.expect("status/leader");
        floor.push(t.elapsed());
    }
    summary("baseline GET /v1/status/leader (serial)", floor);

    // Allocation events: (job, client status, when seen).
    let mut stream = api
        .event_stream(&EventStreamRequest::default().topic("Allocation", "*"))
        .await
        .expect("event stream");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(Some(events)) = stream.next().await {
            let at = Instant::now();
            for e in events.events {
                if let Some(a) = e.payload.allocation {
                    let started = a
                        .task_states
                        .get("t")
                        .and_then(|t| t.started_at.to_unix_nanos())
                        .filter(|n| *n > 0);
                    let _ = tx.send((a.job_id.clone(), a.client_status.clone(), at, started));
                }
            }
        }
    });

    let http = reqwest::Client::new();
    let url = format!("{}/v1/jobs", agent.addr);
    let (mut reg, mut to_running, mut after_reg) = (Vec::new(), Vec::new(), Vec::new());
    let mut to_started = Vec::new();
    for i in 0..jobs {
        let id = format!("bench-{i}");
        let body = service_job(&id);
        let t0 = Instant::now();
        let wall0 = unix_nanos();
        let r = http
            .put(&url)
            .body(body)
            .send()
            .await
            .expect("PUT /v1/jobs");
        let acked = Instant::now();
        assert!(r.status().is_success(), "register: {}", r.status());
        let (running, started) = await_status(&mut rx, &id, "running").await;
        if let Some(s) = started {
            to_started.push(Duration::from_nanos(s.saturating_sub(wall0).max(0) as u64));
        }
        reg.push(acked - t0);
        to_running.push(running - t0);
        after_reg.push(running.saturating_duration_since(acked));
        api.job_deregister(&id, "", false, false, false, 0)
            .await
            .expect("deregister");
        await_status(&mut rx, &id, "complete").await;
    }
    summary("PUT /v1/jobs round trip", reg);
    summary("registered -> running", after_reg);
    summary("submit -> task started (its StartedAt)", to_started);
    summary("submit -> running (reported to the servers)", to_running);
    println!("load after: {}", uptime());
    drop(agent);
}

fn unix_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

// ----------------------------------------------------------- register

/// A job no node can run (and there are no nodes): its evaluation blocks.
fn blocked_job(id: &str) -> String {
    format!(
        r#"{{"Job":{{"ID":"{id}","Name":"{id}","Type":"service","Datacenters":["dc1"],
        "Constraints":[{{"LTarget":"${{attr.kernel.name}}","RTarget":"no-such-os","Operand":"="}}],
        "TaskGroups":[{{"Name":"g","Count":1,"Tasks":[{{"Name":"t","Driver":"raw_exec",
        "Config":{{"command":"/bin/true"}},"Resources":{{"CPU":20,"MemoryMB":16}}}}]}}]}}}}"#
    )
}

struct Load {
    done: usize,
    errors: usize,
    secs: f64,
    latencies: Vec<Duration>,
}

/// `submitters` tasks send requests made by `make(n)` to `urls` (round
/// robin by submitter) for `secs` seconds.
async fn load(
    urls: Vec<String>,
    submitters: usize,
    secs: u64,
    make: Arc<dyn Fn(usize) -> (reqwest::Method, Option<String>) + Send + Sync>,
) -> Load {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(submitters)
        .build()
        .expect("http client");
    let next = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for s in 0..submitters {
        let (http, next, stop, make) = (http.clone(), next.clone(), stop.clone(), make.clone());
        let url = urls[s % urls.len()].clone();
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut errors) = (Vec::new(), 0usize);
            while !stop.load(Ordering::Relaxed) {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let (method, body) = make(n);
                let mut req = http.request(method, &url);
                if let Some(b) = body {
                    req = req.body(b);
                }
                let t = Instant::now();
                match req.send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        lat.push(t.elapsed());
                    }
                    _ => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut out = Load {
        done: 0,
        errors: 0,
        secs: 0.0,
        latencies: Vec::new(),
    };
    for t in tasks {
        let (lat, errors) = t.await.expect("submitter");
        out.done += lat.len();
        out.errors += errors;
        out.latencies.extend(lat);
    }
    out.secs = start.elapsed().as_secs_f64();
    out
}

fn report(name: &str, mut l: Load) {
    l.latencies.sort();
    println!(
        "{name}: {} ok, {} errors in {:.1} s = {:.0}/s; p50 {:.2} ms, p99 {:.2} ms; load {}",
        l.done,
        l.errors,
        l.secs,
        l.done as f64 / l.secs,
        pct(&l.latencies, 0.50),
        pct(&l.latencies, 0.99),
        uptime()
    );
}

/// A gauge of `/v1/metrics?format=prometheus` on `addr`.
async fn gauge(addr: &str, name: &str) -> Option<f64> {
    let text = reqwest::get(format!("{addr}/v1/metrics?format=prometheus&stale=true"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
}

async fn register(secs: u64, submitters: usize, settle: bool) {
    println!(
        "mode register: 3 servers, {submitters} submitters, {secs} s per phase; load {}",
        uptime()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let cluster = Cluster::start_servers(dir.path(), 3);
    let leader = cluster.wait_formed(60);
    let addrs: Vec<String> = (0..3).map(|i| cluster.addr(i).to_string()).collect();
    let leader_addr = addrs[leader].clone();
    println!("leader: {} ({leader_addr})", cluster.servers[leader].name());

    let leader_url = vec![format!("{leader_addr}/v1/status/leader")];
    let floor = load(
        leader_url,
        submitters,
        secs,
        Arc::new(|_| (reqwest::Method::GET, None)),
    )
    .await;
    report("baseline GET /v1/status/leader at the leader", floor);

    let jobs_before = gauge(&leader_addr, "nomad_state_jobs").await.unwrap_or(0.0) as usize;
    let phase = Arc::new(AtomicUsize::new(0));
    let mut acked = 0;
    for (name, urls) in [
        ("PUT /v1/jobs at the leader", vec![leader_addr.clone()]),
        ("PUT /v1/jobs spread over the 3 servers", addrs.clone()),
    ] {
        let p = phase.fetch_add(1, Ordering::Relaxed);
        let urls = urls.iter().map(|a| format!("{a}/v1/jobs")).collect();
        let l = load(
            urls,
            submitters,
            secs,
            Arc::new(move |n| {
                (
                    reqwest::Method::PUT,
                    Some(blocked_job(&format!("reg-{p}-{n}"))),
                )
            }),
        )
        .await;
        acked += l.done;
        report(name, l);
    }

    // Every server holds every acknowledged job; the evaluations settle.
    let want = jobs_before + acked;
    let t = Instant::now();
    for a in &addrs {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let jobs = gauge(a, "nomad_state_jobs").await.unwrap_or(0.0) as usize;
            if jobs >= want {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{a} holds {jobs} jobs, {want} acknowledged"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let evals = gauge(&leader_addr, "nomad_state_evaluations")
        .await
        .unwrap_or(0.0);
    println!(
        "all 3 servers hold the {want} jobs ({:.1} s after the load); {evals} evaluations in the state",
        t.elapsed().as_secs_f64()
    );
    if settle {
        // Every registration's evaluation is processed into a complete one
        // and a blocked one (no node can run the job).
        let goal = 2 * want;
        let start_evals = evals as usize;
        let deadline = Instant::now() + Duration::from_secs(900);
        let mut evals = start_evals;
        while evals < goal {
            assert!(
                Instant::now() < deadline,
                "{evals} of {goal} evaluations after {:.0} s",
                t.elapsed().as_secs_f64()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
            evals = gauge(&leader_addr, "nomad_state_evaluations")
                .await
                .unwrap_or(0.0) as usize;
        }
        // At the end of the load the state held one evaluation per job plus
        // one blocked evaluation per evaluation already processed.
        let left = want.saturating_sub(start_evals.saturating_sub(want));
        let secs = t.elapsed().as_secs_f64();
        println!(
            "every evaluation processed {secs:.1} s after the load ({left} were queued: {:.0}/s)",
            left as f64 / secs
        );
    }
    drop(cluster);
}
