//! Release-mode scheduler harness: placements per second and peak memory
//! for the workloads of docs/benchmarks.md ("Scheduler").
//!
//! ```text
//! cargo run --release -p nomad-benches --bin scheduler-harness            # everything
//! cargo run --release -p nomad-benches --bin scheduler-harness -- c1m     # one scenario
//! ```
//!
//! Scenarios: `service` (one count-1,000 service job onto 5,000 nodes,
//! binpack and spread), `c1m` (1,000 jobs × 1,000 onto 5,000 nodes, half
//! constrained to half the nodes; `c1m <jobs>` for a slice), `system` (a
//! system job onto 10,000 nodes). With no argument each scenario runs in
//! its own process, so each peak RSS (VmHWM) is its own. Rates are given
//! per CPU-second of the scheduling thread (what one core does, even when
//! other processes share the machine) and per wall-clock second.
//!
//! Every placement here goes the whole way: the scheduler's plan, the plan
//! applier's fit check against the newest state, and the commit into the
//! simulator's store (allocation indexes, per-node totals).

#[path = "workloads.rs"]
mod workloads;

use std::time::Instant;

use nomad_scheduler::{
    process_eval, Plan, PlanResult, Planner, PlannerError, SchedulerOptions, State, Submission,
};
use nomad_types::Evaluation;

/// Bytes glibc's malloc has handed out and not had back (chunk overhead
/// included), from `mallinfo2`: the live heap, without hooking the
/// allocator (a counting `#[global_allocator]` slows this workload by a
/// third or more).
fn heap_in_use() -> usize {
    // SAFETY: mallinfo2 only reads the allocator's statistics.
    let info = unsafe { libc::mallinfo2() };
    info.uordblks + info.hblkhd
}

/// The heap bytes one stored allocation asked for beyond what it shares
/// (the allocation itself, its strings, its metric's score rows).
fn own_heap_bytes(a: &nomad_types::Allocation) -> usize {
    let strings = [
        &a.id,
        &a.namespace,
        &a.eval_id,
        &a.name,
        &a.node_id,
        &a.node_name,
        &a.job_id,
        &a.task_group,
        &a.desired_status,
        &a.desired_description,
        &a.client_status,
        &a.client_description,
        &a.previous_allocation,
        &a.next_allocation,
        &a.deployment_id,
        &a.followup_eval_id,
        &a.preempted_by_allocation,
        &a.signing_key_id,
    ];
    let rows = a.metrics.as_ref().map_or(0, |m| {
        m.score_meta_data.capacity() * std::mem::size_of::<nomad_types::NodeScoreMeta>()
    });
    2 * std::mem::size_of::<usize>()
        + std::mem::size_of::<nomad_types::Allocation>()
        + strings.iter().map(|s| s.capacity()).sum::<usize>()
        + rows
}

/// `VmHWM` and `VmRSS` of this process, MiB.
fn memory_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// CPU time this thread has used, seconds: rates per CPU-second say what
/// one core does even when other processes share it.
fn cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through the pointer given.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0.0;
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// Wall and CPU time of `f`.
fn timed<T>(f: impl FnOnce() -> T) -> (T, f64, f64) {
    let wall = Instant::now();
    let cpu = cpu_seconds();
    let out = f();
    (out, wall.elapsed().as_secs_f64(), cpu_seconds() - cpu)
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Accepts every plan without storing it: the scheduler alone.
struct Discard;

impl<S> Planner<S> for Discard {
    fn submit_plan(&mut self, plan: &Plan) -> Result<Submission<S>, PlannerError> {
        Ok(Submission::new(PlanResult::committed(plan, 1)))
    }
    fn update_eval(&mut self, _: &Evaluation) -> Result<(), PlannerError> {
        Ok(())
    }
    fn create_eval(&mut self, _: &Evaluation) -> Result<(), PlannerError> {
        Ok(())
    }
    fn reblock_eval(&mut self, _: &Evaluation) -> Result<(), PlannerError> {
        Ok(())
    }
}

/// Medians and bests of a series of rates.
struct Rates(Vec<f64>);

impl Rates {
    fn median(&self) -> f64 {
        median(&mut self.0.clone())
    }
    fn best(&self) -> f64 {
        self.0.iter().copied().fold(0.0, f64::max)
    }
    fn show(&self) -> String {
        format!("median {:.0}/s, best {:.0}/s", self.median(), self.best())
    }
}

/// Runs `make()`'s queued evaluation `rounds` times on fresh forks, end to
/// end (scheduler, plan applier, commit), then as many times with the
/// scheduler alone (plans discarded). Returns (placed, end-to-end wall,
/// end-to-end CPU, alone wall, alone CPU) rates.
fn rounds(make: impl Fn() -> nomad_sim::Simulator, rounds: usize) -> (u64, [Rates; 4]) {
    let base = make();
    let (mut wall, mut cpu, mut alone_wall, mut alone_cpu) = (vec![], vec![], vec![], vec![]);
    let mut placed = 0;
    for r in 0..rounds {
        let mut trial = base.fork();
        let mut o = trial.options().clone();
        o.seed = r as u64 + 1;
        trial.set_options(o);
        let (report, w, c) = timed(|| trial.run().expect("run"));
        placed = report.placed;
        wall.push(report.placed as f64 / w);
        cpu.push(report.placed as f64 / c.max(1e-9));
        drop(trial);
    }
    let store = base.store().clone();
    let job = store.jobs().into_iter().next().expect("a job");
    for r in 0..rounds {
        let eval =
            nomad_scheduler::testing::eval_for(&job, &format!("9c3b1a8e-6f0a-4d5e-8a4b-{r:012}"));
        let options = SchedulerOptions {
            now: 0,
            seed: r as u64 + 1,
        };
        let (out, w, c) =
            timed(|| process_eval(&store, &mut Discard, &eval, &options).expect("process"));
        alone_wall.push(out.allocs_placed as f64 / w);
        alone_cpu.push(out.allocs_placed as f64 / c.max(1e-9));
    }
    (
        placed,
        [Rates(wall), Rates(cpu), Rates(alone_wall), Rates(alone_cpu)],
    )
}

fn print_rounds(what: &str, placed: u64, r: &[Rates; 4]) {
    println!("{what}: {placed} placed");
    println!(
        "  end to end (scheduler + plan applier + commit): per CPU-second {}; wall clock {}",
        r[1].show(),
        r[0].show()
    );
    println!(
        "  scheduler alone (plans discarded):              per CPU-second {}; wall clock {}",
        r[3].show(),
        r[2].show()
    );
}

fn service() {
    for algorithm in ["binpack", "spread"] {
        let (placed, r) = rounds(|| workloads::one_service_job(5000, 1000, algorithm), 20);
        print_rounds(
            &format!("service count=1000 onto 5000 nodes, {algorithm}"),
            placed,
            &r,
        );
    }
    let (hwm, _) = memory_mib();
    println!("service: peak RSS {hwm:.0} MiB");
}

fn system() {
    let (placed, r) = rounds(|| workloads::one_system_job(10_000), 10);
    print_rounds("system job onto 10000 nodes", placed, &r);
    let (hwm, _) = memory_mib();
    println!("system: peak RSS {hwm:.0} MiB");
}

fn c1m(jobs: usize) {
    let start = Instant::now();
    let mut sim = workloads::cluster(5000, "binpack", 1);
    let (_, rss_nodes) = memory_mib();
    let heap_nodes = heap_in_use();
    let setup = start.elapsed().as_secs_f64();
    let batch = 100.min(jobs.max(1));
    let (mut placed, mut failures) = (0u64, 0i64);
    let (mut wall, mut cpu, mut registering) = (0.0, 0.0, 0.0);
    let mut rates = Vec::new();
    let mut first = 0;
    while first < jobs {
        let last = (first + batch).min(jobs);
        let ((), w, _) = timed(|| {
            for i in first..last {
                sim.add_jobs(&workloads::c1m_job(i, 1000))
                    .expect("valid job");
            }
        });
        registering += w;
        let (report, w, c) = timed(|| sim.run().expect("run"));
        wall += w;
        cpu += c;
        placed += report.placed;
        failures += report.unplaced();
        rates.push(report.placed as f64 / c.max(1e-9));
        first = last;
    }
    let total = start.elapsed().as_secs_f64();
    let (hwm, rss) = memory_mib();
    let heap = heap_in_use().saturating_sub(heap_nodes);
    let u = sim.utilisation();
    println!("c1m: {jobs} jobs x 1000 onto 5000 nodes: {placed} placed, {failures} unplaced");
    println!(
        "c1m: scheduling + plan apply + commit: {cpu:.2} CPU-s ({:.0} placements per CPU-second), {wall:.2} s wall clock ({:.0}/s); registering jobs {registering:.2} s; building nodes {setup:.2} s; total {total:.2} s",
        placed as f64 / cpu.max(1e-9),
        placed as f64 / wall.max(1e-9)
    );
    println!(
        "c1m: placements per CPU-second, per {batch}-job batch: {}",
        rates
            .iter()
            .map(|r| format!("{r:.0}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!("c1m: peak RSS (VmHWM) {hwm:.0} MiB, RSS now {rss:.0} MiB ({rss_nodes:.0} MiB after building nodes)");
    println!(
        "c1m: malloc heap in use above the empty cluster {:.0} MiB = {:.0} bytes per allocation (store indexes and malloc overhead included)",
        heap as f64 / 1048576.0,
        heap as f64 / placed.max(1) as f64
    );
    println!(
        "c1m: cluster cpu {:.1}%, memory {:.1}%, {} allocations",
        u.total.cpu_fraction() * 100.0,
        u.total.memory_fraction() * 100.0,
        u.total.allocs
    );
    let sample = sim
        .store()
        .nodes_in_slot_order()
        .iter()
        .find_map(|n| sim.store().allocs_by_node(&n.id).first().cloned());
    if let Some(a) = sample {
        println!(
            "c1m: one stored allocation asks for {} B of its own ({} B inline; job, resources, metric maps and node IDs shared)",
            own_heap_bytes(&a),
            std::mem::size_of::<nomad_types::Allocation>(),
        );
    }
    // Exit without freeing a million allocations one by one.
    std::mem::forget(sim);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let which = args.first().map_or("all", String::as_str);
    println!("load average at start: {}", load());
    match which {
        "service" => service(),
        "system" => system(),
        "c1m" => c1m(args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1000)),
        "all" => {
            let exe = std::env::current_exe().expect("own path");
            for s in ["service", "system", "c1m"] {
                let status = std::process::Command::new(&exe).arg(s).status();
                if !status.is_ok_and(|s| s.success()) {
                    eprintln!("scenario {s} failed");
                }
            }
        }
        other => {
            eprintln!(
                "unknown scenario {other:?}: expected service, system, c1m [jobs], or nothing"
            );
            std::process::exit(2);
        }
    }
    println!("load average at end: {}", load());
}
