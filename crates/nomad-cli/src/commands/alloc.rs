//! `nomad alloc status` (`command/alloc_status.go`) and `nomad alloc logs`
//! (`command/alloc_logs.go`).

use clap::Args;
use nomad_api_client::stats::{AllocResourceUsage, TaskResourceUsage};
use nomad_api_client::QueryOptions;
use nomad_types::{Allocation, TaskEvent};

use super::alloc_actions::alloc_or_job;
use super::common::{format_alloc_metrics, format_alloc_stubs, print_json, ID_TOO_SHORT};
use super::tail::{FirstChunk, TailArgs};
use crate::ctx::{Ctx, GlobalArgs};
use crate::format::{
    format_go_time, format_kv, format_list, format_list_with_spaces, format_unix_nanos, limit, mb,
    now_nanos, pretty_time_diff, sanitize_uuid_prefix, FULL_ID, SHORT_ID,
};
use crate::Io;

#[derive(Debug, Args)]
pub struct AllocStatusArgs {
    /// Full IDs and placement metrics.
    #[arg(long)]
    verbose: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Only the basic information.
    #[arg(long)]
    short: bool,
    /// Resource usage of the running tasks.
    #[arg(long)]
    stats: bool,
    /// The allocation (ID or prefix).
    alloc: Option<String>,
}

pub fn status(args: AllocStatusArgs, g: &GlobalArgs, io: &mut Io<'_>) -> i32 {
    let Some(ctx) = Ctx::new(g, io) else { return 1 };
    let Some(id) = args.alloc else {
        if args.json {
            return match ctx.block(ctx.client.allocations_list(&QueryOptions::default())) {
                Ok((a, _)) => print_json(io, &a),
                Err(e) => {
                    let _ = writeln!(io.err, "Error querying allocations: {e}");
                    1
                }
            };
        }
        let _ = writeln!(
            io.err,
            "This command takes one of the following argument conditions:"
        );
        let _ = writeln!(io.err, " * A single <allocation>");
        let _ = writeln!(io.err, " * No arguments, with output format specified");
        return 1;
    };
    status_of_with(&ctx, &id, args.verbose, args.json, args.stats, io)
}

/// Resolves an allocation prefix the way Nomad does; `Err(code)` when the
/// command is done (not found, ambiguous, error).
pub fn alloc_by_prefix(
    ctx: &Ctx,
    id: &str,
    verbose: bool,
    io: &mut Io<'_>,
    ambiguous_code: i32,
) -> Result<Allocation, i32> {
    if id.len() == 1 {
        let _ = writeln!(io.err, "{ID_TOO_SHORT}");
        return Err(1);
    }
    let id = sanitize_uuid_prefix(id);
    let stubs = match ctx.block(
        ctx.client
            .allocations_list(&QueryOptions::prefix(id.clone())),
    ) {
        Ok((s, _)) => s,
        Err(e) => {
            let _ = writeln!(io.err, "Error querying allocation: {e}");
            return Err(1);
        }
    };
    if stubs.is_empty() {
        let _ = writeln!(io.err, "No allocation(s) with prefix or id {id:?} found");
        return Err(1);
    }
    if stubs.len() > 1 {
        let len = if verbose { FULL_ID } else { SHORT_ID };
        let text = format!(
            "Prefix matched multiple allocations\n\n{}",
            format_alloc_stubs(&stubs, verbose, len)
        );
        if ambiguous_code == 0 {
            let _ = writeln!(io.out, "{text}");
        } else {
            let _ = writeln!(io.err, "{text}");
        }
        return Err(ambiguous_code);
    }
    let q = QueryOptions::default().in_namespace(stubs[0].namespace.clone());
    match ctx.block(ctx.client.allocation_info(&stubs[0].id, &q)) {
        Ok((a, _)) => Ok(a),
        Err(e) => {
            let _ = writeln!(io.err, "Error querying allocation: {e}");
            Err(1)
        }
    }
}

/// `alloc status <prefix>`.
pub fn status_of(ctx: &Ctx, id: &str, verbose: bool, json: bool, io: &mut Io<'_>) -> i32 {
    status_of_with(ctx, id, verbose, json, false, io)
}

/// `alloc status [-stats] <prefix>`.
pub fn status_of_with(
    ctx: &Ctx,
    id: &str,
    verbose: bool,
    json: bool,
    stats: bool,
    io: &mut Io<'_>,
) -> i32 {
    let alloc = match alloc_by_prefix(ctx, id, verbose, io, 0) {
        Ok(a) => a,
        Err(code) => return code,
    };
    if json {
        return print_json(io, &alloc);
    }
    let len = if verbose { FULL_ID } else { SHORT_ID };
    let eligibility = future_eval_time(ctx, &alloc.followup_eval_id);
    let _ = writeln!(
        io.out,
        "{}",
        basic_info(&alloc, len, verbose, eligibility.as_deref())
    );
    if let Some(addrs) = network_info(&alloc) {
        let _ = writeln!(io.out, "\n{addrs}");
    }
    let usage = if stats && alloc.client_status == "running" {
        match ctx.block(ctx.client.alloc_stats(&alloc.id)) {
            Ok(u) => Some(u),
            Err(e) => {
                let _ = writeln!(io.err, "\nCouldn't retrieve stats: {e}");
                None
            }
        }
    } else {
        None
    };
    task_details(&alloc, usage.as_ref(), io);
    if verbose {
        if let Some(m) = &alloc.metrics {
            let _ = writeln!(
                io.out,
                "\nPlacement Metrics\n{}",
                format_alloc_metrics(m, "  ")
            );
        }
    }
    0
}

/// Nomad's `futureEvalTimePretty`: when a follow-up evaluation will run
/// (`25s from now`), if it is in the future.
pub(crate) fn future_eval_time(ctx: &Ctx, eval_id: &str) -> Option<String> {
    if eval_id.is_empty() {
        return None;
    }
    let (eval, _) = ctx
        .block(
            ctx.client
                .evaluation_info(eval_id, &QueryOptions::default()),
        )
        .ok()?;
    let when = eval.wait_until.to_unix_nanos()?;
    let now = now_nanos();
    (when > now).then(|| pretty_time_diff(when, now))
}

/// The allocation's reschedule attempts within its group's reschedule
/// interval, and the attempts the policy allows (the Go API's
/// `Allocation.RescheduleInfo`, at the allocation's modify time).
fn reschedule_info(a: &Allocation) -> (usize, i64) {
    let Some(policy) = a
        .task_group_spec()
        .and_then(|tg| tg.reschedule_policy.as_ref())
    else {
        return (0, 0);
    };
    let available = policy.attempts.unwrap_or(0);
    let interval = policy.interval.map(|i| i.0).unwrap_or(0);
    let mut attempted = 0;
    if let Some(t) = &a.reschedule_tracker {
        if available > 0 && interval > 0 {
            attempted = t
                .events
                .iter()
                .filter(|e| a.modify_time - e.reschedule_time < interval)
                .count();
        }
    }
    (attempted, available)
}

fn basic_info(a: &Allocation, len: usize, verbose: bool, eligibility: Option<&str>) -> String {
    let (created, modified) = if verbose {
        (
            format_unix_nanos(a.create_time),
            format_unix_nanos(a.modify_time),
        )
    } else {
        let now = now_nanos();
        (
            pretty_time_diff(a.create_time, now),
            pretty_time_diff(a.modify_time, now),
        )
    };
    let mut kv = vec![
        format!("ID|{}", a.id),
        format!("Eval ID|{}", limit(&a.eval_id, len)),
        format!("Name|{}", a.name),
        format!("Node ID|{}", limit(&a.node_id, len)),
        format!("Node Name|{}", a.node_name),
        format!("Job ID|{}", a.job_id),
        format!(
            "Job Version|{}",
            a.job.as_ref().map(|j| j.version()).unwrap_or(0)
        ),
        format!("Client Status|{}", a.client_status),
        format!("Client Description|{}", a.client_description),
        format!("Desired Status|{}", a.desired_status),
        format!("Desired Description|{}", a.desired_description),
        format!("Created|{created}"),
        format!("Modified|{modified}"),
    ];
    if !a.deployment_id.is_empty() {
        let (health, canary) = match &a.deployment_status {
            Some(ds) => (
                match ds.healthy {
                    Some(true) => "healthy",
                    Some(false) => "unhealthy",
                    None => "unset",
                },
                ds.canary,
            ),
            None => ("unset", false),
        };
        kv.push(format!("Deployment ID|{}", limit(&a.deployment_id, len)));
        kv.push(format!("Deployment Health|{health}"));
        if canary {
            kv.push("Canary|true".to_string());
        }
    }
    if a.reschedule_tracker
        .as_ref()
        .is_some_and(|t| !t.events.is_empty())
    {
        // Shown only when the policy limits the attempts.
        let (attempts, total) = reschedule_info(a);
        if total > 0 {
            kv.push(format!("Reschedule Attempts|{attempts}/{total}"));
        }
    }
    if !a.next_allocation.is_empty() {
        kv.push(format!(
            "Replacement Alloc ID|{}",
            limit(&a.next_allocation, len)
        ));
    }
    if let Some(when) = eligibility {
        kv.push(format!("Reschedule Eligibility|{when}"));
    }
    if verbose {
        let m = a.metrics.clone().unwrap_or_default();
        kv.push(format!("Evaluated Nodes|{}", m.nodes_evaluated));
        kv.push(format!("Filtered Nodes|{}", m.nodes_filtered));
        kv.push(format!("Exhausted Nodes|{}", m.nodes_exhausted));
        kv.push(format!("Allocation Time|{}", m.allocation_time));
        kv.push(format!("Failures|{}", m.coalesced_failures));
    }
    format_kv(&kv)
}

fn network_info(a: &Allocation) -> Option<String> {
    let shared = &a.allocated_resources.as_ref()?.shared;
    let nw = shared.networks.first()?;
    let mut rows = vec!["Label|Dynamic|Address".to_string()];
    let port = |label: &str, value: i64, to: i64, ip: &str| {
        let mut s = format!("{label}|yes|{ip}:{value}");
        if to > 0 {
            s.push_str(&format!(" -> {to}"));
        }
        s
    };
    if !shared.ports.is_empty() {
        for p in &shared.ports {
            rows.push(port(&format!("*{}", p.label), p.value, p.to, &p.host_ip));
        }
    } else {
        for p in nw.dynamic_ports.iter().chain(nw.reserved_ports.iter()) {
            rows.push(port(&p.label, p.value, p.to, &nw.ip));
        }
    }
    if rows.len() == 1 {
        return None;
    }
    let mode = if nw.mode.is_empty() {
        String::new()
    } else {
        format!(" (mode = {:?})", nw.mode)
    };
    Some(format!(
        "Allocation Addresses{mode}:\n{}",
        format_list(&rows)
    ))
}

fn task_details(a: &Allocation, usage: Option<&AllocResourceUsage>, io: &mut Io<'_>) {
    let tg = a.task_group_spec();
    let lifecycle = |task: &str| {
        tg.and_then(|g| g.tasks.iter().find(|t| t.name == task))
            .and_then(|t| t.lifecycle.clone())
    };
    let mut names: Vec<&String> = a.task_states.keys().collect();
    // Main tasks after prestart ones, sidecars last, as Nomad sorts them.
    names.sort_by_key(|n| {
        lifecycle(n)
            .map(|l| if l.sidecar { 1 } else { 0 })
            .unwrap_or(2)
    });
    for name in names {
        let Some(state) = a.task_states.get(name) else {
            continue;
        };
        let lc = lifecycle(name)
            .map(|l| {
                if l.sidecar {
                    format!(" ({} sidecar)", l.hook)
                } else {
                    format!(" ({})", l.hook)
                }
            })
            .unwrap_or_default();
        let _ = writeln!(io.out, "\nTask {name:?}{lc} is {:?}", state.state);
        let task_usage = usage.and_then(|u| u.tasks.get(name.as_str()));
        if let Some(r) = task_resources(a, name, task_usage) {
            let _ = writeln!(io.out, "Task Resources:\n{r}");
        }
        if let Some(u) = task_usage {
            let detail = super::alloc_stats::detailed_usage(&u.resource_usage);
            if !detail.is_empty() {
                let _ = writeln!(io.out, "\n{detail}");
            }
        }
        let _ = writeln!(io.out);
        let times = |t: &nomad_types::GoTime| {
            let s = format_go_time(t);
            if s.is_empty() {
                "N/A".to_string()
            } else {
                s
            }
        };
        let _ = writeln!(io.out, "Task Events:");
        let _ = writeln!(
            io.out,
            "{}",
            format_kv(&[
                format!("Started At|{}", times(&state.started_at)),
                format!("Finished At|{}", times(&state.finished_at)),
                format!("Total Restarts|{}", state.restarts),
                format!("Last Restart|{}", times(&state.last_restart)),
            ])
        );
        let _ = writeln!(io.out);
        let _ = writeln!(io.out, "Recent Events:");
        let mut rows = vec!["Time|Type|Description".to_string()];
        for e in state.events.iter().rev() {
            let msg = if e.display_message.is_empty() {
                display_message(e)
            } else {
                e.display_message.clone()
            };
            rows.push(format!(
                "{}|{}|{msg}",
                format_unix_nanos(e.time),
                e.event_type
            ));
        }
        let _ = writeln!(io.out, "{}", format_list(&rows));
    }
}

/// The `CPU  Memory  Disk  Addresses` table of one task.
fn task_resources(a: &Allocation, task: &str, usage: Option<&TaskResourceUsage>) -> Option<String> {
    let (cpu, mem, mem_max) = match a.task_resources.get(task) {
        Some(r) => (
            r.cpu.unwrap_or(0),
            r.memory_mb.unwrap_or(0),
            r.memory_max_mb.unwrap_or(0),
        ),
        None => {
            let t = a.allocated_resources.as_ref()?.tasks.get(task)?;
            (t.cpu.cpu_shares, t.memory.memory_mb, t.memory.memory_max_mb)
        }
    };
    let disk = a
        .resources
        .as_ref()
        .and_then(|r| r.disk_mb)
        .or_else(|| a.allocated_resources.as_ref().map(|r| r.shared.disk_mb))
        .unwrap_or(0);
    let (mut cpu_col, mut mem_col) = (format!("{cpu} MHz"), mb(mem));
    if let Some(u) = usage {
        // Nomad's `0/100 MHz  1.2 MiB/300 MiB`: what the task uses of what
        // it was given.
        let ru = &u.resource_usage;
        cpu_col = format!("{}/{cpu_col}", ru.cpu_stats.total_ticks.floor());
        let m = &ru.memory_stats;
        let used = if m.rss > 0 { m.rss } else { m.usage };
        mem_col = format!("{}/{mem_col}", crate::format::ibytes(used));
    }
    let mut rows = vec![
        "CPU|Memory|Disk|Addresses".to_string(),
        format!("{cpu_col}|{mem_col}|{}|", mb(disk)),
    ];
    if mem_max != 0 && mem_max != mem {
        rows.push(format!("|Max: {}||", mb(mem_max)));
    }
    Some(format_list_with_spaces(&rows))
}

/// Nomad's `buildDisplayMessage` for events without a display message.
fn display_message(e: &TaskEvent) -> String {
    let or = |s: &str, d: &str| {
        if s.is_empty() {
            d.to_string()
        } else {
            s.to_string()
        }
    };
    match e.event_type.as_str() {
        "Started" => "Task started by client".into(),
        "Received" => "Task received by client".into(),
        "Failed Validation" => or(&e.validation_error, "Validation of task failed"),
        "Setup Failure" => or(&e.setup_error, "Task setup failed"),
        "Driver Failure" => or(&e.driver_error, "Failed to start task"),
        "Downloading Artifacts" => "Client is downloading artifacts".into(),
        "Failed Artifact Download" => or(&e.download_error, "Failed to download artifacts"),
        "Killing" => {
            if !e.kill_reason.is_empty() {
                format!("Killing task: {}", e.kill_reason)
            } else if e.kill_timeout.0 != 0 {
                format!(
                    "Sent interrupt. Waiting {} before force killing",
                    e.kill_timeout
                )
            } else {
                "Sent interrupt".into()
            }
        }
        "Killed" => or(&e.kill_error, "Task successfully killed"),
        "Terminated" => {
            let mut parts = vec![format!("Exit Code: {}", e.exit_code)];
            if e.signal != 0 {
                parts.push(format!("Signal: {}", e.signal));
            }
            if !e.message.is_empty() {
                parts.push(format!("Exit Message: {:?}", e.message));
            }
            parts.join(", ")
        }
        "Restarting" => {
            let within = format!("Task restarting in {}", nomad_types::Nanos(e.start_delay));
            if !e.restart_reason.is_empty() && e.restart_reason != "Restart within policy" {
                format!("{} - {within}", e.restart_reason)
            } else {
                within
            }
        }
        "Not Restarting" => or(&e.restart_reason, "Task exceeded restart policy"),
        "Sibling Task Failed" => {
            if e.failed_sibling.is_empty() {
                "Task's sibling failed".into()
            } else {
                format!("Task's sibling {:?} failed", e.failed_sibling)
            }
        }
        "Driver" => e.driver_message.clone(),
        "Leader Task Dead" => "Leader Task in Group dead".into(),
        _ => e.message.clone(),
    }
}

#[derive(Debug, Args)]
pub struct AllocLogsArgs {
    /// Show stderr instead of stdout.
    #[arg(long)]
    stderr: bool,
    /// Show stdout (the default).
    #[arg(long)]
    stdout: bool,
    #[command(flatten)]
    tail: TailArgs,
    /// Full IDs.
    #[arg(long)]
    verbose: bool,
    /// The task (instead of the second argument).
    #[arg(long)]
    task: Option<String>,
    /// The allocation (ID or prefix).
    alloc: Option<String>,
    /// The task.
    task_arg: Option<String>,
    /// Take a random allocation of the job named instead.
    #[arg(long = "job")]
    job: bool,
}

pub fn logs(args: AllocLogsArgs, g: &GlobalArgs, io: &mut Io<'_>) -> i32 {
    let Some(alloc_id) = args.alloc.clone() else {
        let _ = writeln!(io.err, "An allocation ID is required");
        return 1;
    };
    let Some(ctx) = Ctx::new(g, io) else { return 1 };
    if alloc_id.len() == 1 && !args.job {
        let _ = writeln!(io.err, "Alloc ID must contain at least two characters.");
        return 1;
    }
    let alloc = match alloc_or_job(&ctx, &alloc_id, args.job, args.verbose, io) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let task = match args.task.clone().or(args.task_arg.clone()) {
        Some(t) if t.is_empty() => {
            let _ = writeln!(io.err, "Task name required");
            return 1;
        }
        Some(t) => {
            let known = alloc
                .task_group_spec()
                .is_none_or(|g| g.tasks.iter().any(|x| x.name == t));
            if !known {
                let _ = writeln!(
                    io.err,
                    "Failed to validate task: task {t:?} not found in allocation {:?}",
                    alloc.id
                );
                return 1;
            }
            t
        }
        None => match alloc.task_group_spec() {
            None => {
                let _ = writeln!(
                    io.err,
                    "Failed to validate task: Could not find allocation task group: {}",
                    alloc.task_group
                );
                return 1;
            }
            Some(g) if g.tasks.len() == 1 => g.tasks[0].name.clone(),
            Some(g) => {
                let mut s = format!(
                    "Allocation {:?} is running the following tasks:\n",
                    limit(&alloc.id, SHORT_ID)
                );
                for t in &g.tasks {
                    s.push_str(&format!("  * {}\n", t.name));
                }
                s.push_str("\nPlease specify the task.");
                let _ = writeln!(io.err, "Failed to validate task: {s}");
                return 1;
            }
        },
    };
    if args.stderr && args.stdout {
        let _ = writeln!(io.err, "Unable to support both stdout and stderr");
        return 1;
    }
    let log_type = if args.stderr { "stderr" } else { "stdout" };
    let pos = match args.tail.position() {
        Ok(p) => p,
        Err(e) => {
            let _ = writeln!(io.err, "Failed to read {log_type} file: {e}");
            return 1;
        }
    };
    let mut stream = match ctx.block(ctx.client.alloc_logs(
        &alloc.id,
        &task,
        log_type,
        args.tail.follow,
        pos.origin(),
        pos.offset,
    )) {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(
                io.err,
                "Failed to read {log_type} file: error reading file: {e}"
            );
            return 1;
        }
    };
    // With -n, only the last N lines of what is there now are printed.
    let mut first = FirstChunk::new(pos);
    loop {
        match ctx.block(stream.next_chunk()) {
            Ok(Some(chunk)) => {
                let _ = io.out.write_all(&first.cut(chunk));
                let _ = io.out.flush();
            }
            Ok(None) => return 0,
            Err(e) => {
                let _ = writeln!(
                    io.err,
                    "Failed to read {log_type} file: error following logs: {e}"
                );
                return 1;
            }
        }
    }
}
