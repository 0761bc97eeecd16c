//! `nomad job dispatch` (`command/job_dispatch.go`), `nomad job periodic
//! force` (`job_periodic_force.go`), `nomad job scale` (`job_scale.go`) and
//! `nomad job scaling-events` (`job_scaling_events.go`).

use std::collections::BTreeMap;

use clap::Args;
use nomad_api_client::{Dispatch, QueryOptions};

use super::common::{job_id_by_prefix, job_id_by_prefix_where, no_job_with_prefix};
use super::monitor;
use super::servers::help_hint;
use super::snapshot::go_path_error;
use crate::ctx::{Ctx, GlobalArgs};
use crate::format::{format_kv, format_list, format_unix_nanos, limit, FULL_ID, SHORT_ID};
use crate::Io;

#[derive(Debug, Args)]
pub struct DispatchArgs {
    /// `key=value` merged into the child's meta (repeatable).
    #[arg(long, value_name = "key>=<value")]
    meta: Vec<String>,
    /// Return right after the dispatch, without monitoring.
    #[arg(long)]
    detach: bool,
    /// Dispatch at most one child with this token.
    #[arg(long = "idempotency-token", default_value = "")]
    idempotency_token: String,
    /// A prefix for the child's ID.
    #[arg(long = "id-prefix-template", default_value = "")]
    id_prefix_template: String,
    /// Full IDs.
    #[arg(long)]
    verbose: bool,
    /// `<parameterized job> [input source]` (a file, or `-` for stdin).
    args: Vec<String>,
}

/// `nomad job dispatch [options] <parameterized job> [input source]`.
pub fn dispatch(args: DispatchArgs, g: &GlobalArgs, io: &mut Io<'_>) -> i32 {
    let len = if args.verbose { FULL_ID } else { SHORT_ID };
    if args.args.is_empty() || args.args.len() > 2 {
        let _ = writeln!(
            io.err,
            "This command takes one or two argument: <parameterized job> [input source]"
        );
        let _ = writeln!(io.err, "{}", help_hint("job dispatch"));
        return 1;
    }
    let mut payload = Vec::new();
    if let Some(src) = args.args.get(1) {
        let read = if src == "-" {
            io.stdin.read_to_end(&mut payload).map(|_| ())
        } else {
            std::fs::read(src).map(|b| payload = b)
        };
        if let Err(e) = read {
            let text = if src == "-" {
                e.to_string()
            } else {
                go_path_error("open", src, &e)
            };
            let _ = writeln!(io.err, "Error reading input data: {text}");
            return 1;
        }
    }
    let mut meta = BTreeMap::new();
    for m in &args.meta {
        let Some((k, v)) = m.split_once('=') else {
            let _ = writeln!(io.err, "Error parsing meta value: {m}");
            return 1;
        };
        meta.insert(k.to_string(), v.to_string());
    }
    let Some(ctx) = Ctx::new(g, io) else { return 1 };
    let (id, ns) = match job_id_by_prefix_where(&ctx, args.args[0].trim(), |j| j.parameterized_job)
    {
        Ok(x) => x,
        Err(e) => {
            let _ = writeln!(io.err, "{e}");
            return 1;
        }
    };
    let req = Dispatch {
        job_id: &id,
        namespace: &ns,
        meta,
        payload: &payload,
        id_prefix_template: &args.id_prefix_template,
        idempotency_token: &args.idempotency_token,
    };
    let resp = match ctx.block(ctx.client.job_dispatch(&req)) {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(io.err, "Failed to dispatch job: {e}");
            return 1;
        }
    };
    let mut basic = vec![format!("Dispatched Job ID|{}", resp.dispatched_job_id)];
    let eval_created = !resp.eval_id.is_empty();
    if eval_created {
        basic.push(format!("Evaluation ID|{}", limit(&resp.eval_id, len)));
    }
    let _ = writeln!(io.out, "{}", format_kv(&basic));
    if args.detach || !eval_created {
        return 0;
    }
    let _ = writeln!(io.out);
    monitor::monitor(&ctx, io, &resp.eval_id, len)
}

#[derive(Debug, Args)]
pub struct PeriodicForceArgs {
    /// Return right after the launch, printing the evaluation ID.
    #[arg(long)]
    detach: bool,
    /// Full IDs.
    #[arg(long)]
    verbose: bool,
    /// The periodic job (ID or prefix).
    args: Vec<String>,
}

/// `nomad job periodic force [-detach] <job id>`.
pub fn periodic_force(args: PeriodicForceArgs, g: &GlobalArgs, io: &mut Io<'_>) -> i32 {
    let [prefix] = args.args.as_slice() else {
        let _ = writeln!(io.err, "This command takes one argument: <job id>");
        let _ = writeln!(io.err, "{}", help_hint("job periodic force"));
        return 1;
    };
    let len = if args.verbose { FULL_ID } else { SHORT_ID };
    let Some(ctx) = Ctx::new(g, io) else { return 1 };
    let prefix = prefix.trim();
    let (id, ns) = match job_id_by_prefix_where(&ctx, prefix, |j| j.periodic) {
        Ok(x) => x,
        Err(e) => {
            let e = if e == no_job_with_prefix(prefix) {
                format!("No periodic job(s) with prefix or ID {prefix:?} found")
            } else {
                e
            };
            let _ = writeln!(io.err, "{e}");
            return 1;
        }
    };
    let resp = match ctx.block(ctx.client.job_periodic_force(&id, &ns)) {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(io.err, "Error forcing periodic job {id:?}: {e}");
            return 1;
        }
    };
    if args.detach {
        let _ = writeln!(io.out, "Force periodic successful");
        let _ = writeln!(io.out, "Evaluation ID: {}", resp.eval_id);
        return 0;
    }
    monitor::monitor(&ctx, io, &resp.eval_id, len)
}

#[derive(Debug, Args)]
pub struct ScaleArgs {
    /// Return right after the scaling request, printing the evaluation ID.
    #[arg(long)]
    detach: bool,
    /// Full IDs.
    #[arg(long)]
    verbose: bool,
    /// `<job> [<group>] <count>`.
    #[arg(allow_negative_numbers = true)]
    args: Vec<String>,
}

/// `nomad job scale [-detach] <job> [<group>] <count>`.
pub fn scale(args: ScaleArgs, g: &GlobalArgs, io: &mut Io<'_>) -> i32 {
    let (job, mut group, count) = match args.args.as_slice() {
        [job, count] => (job, String::new(), count),
        [job, group, count] => (job, group.clone(), count),
        _ => {
            let _ = writeln!(
                io.err,
                "Command requires at least two arguments and no more than three"
            );
            return 1;
        }
    };
    let count: i64 = match count.parse::<i64>() {
        Ok(c) => c,
        Err(e) => {
            let why = match e.kind() {
                std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                    "value out of range"
                }
                _ => "invalid syntax",
            };
            let _ = writeln!(
                io.err,
                "Failed to convert count string to int: strconv.Atoi: parsing {count:?}: {why}"
            );
            return 1;
        }
    };
    let Some(ctx) = Ctx::new(g, io) else { return 1 };
    let (id, ns) = match job_id_by_prefix(&ctx, job.trim()) {
        Ok(x) => x,
        Err(e) => {
            let _ = writeln!(io.err, "{e}");
            return 1;
        }
    };
    let q = QueryOptions::default().in_namespace(ns.clone());
    let status = match ctx.block(ctx.client.job_scale_status(&id, &q)) {
        Ok((s, _)) => s,
        Err(e) => {
            let _ = writeln!(io.err, "Error querying job: {e}");
            return 1;
        }
    };
    let groups: Vec<&String> = status.task_groups.keys().collect();
    if groups.len() > 1 && group.is_empty() {
        let _ = writeln!(io.err, "Group name required");
        return 1;
    }
    if groups.len() == 1 && group.is_empty() {
        group = groups[0].clone();
    } else if !groups.contains(&&group) {
        let _ = writeln!(io.err, "Group {group} not found within job");
        return 1;
    }
    let resp = match ctx.block(ctx.client.job_scale(
        &id,
        &group,
        Some(count),
        "submitted using the Nomad CLI",
        &ns,
    )) {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(io.err, "Error submitting scaling request: {e}");
            return 1;
        }
    };
    if !resp.warnings.is_empty() {
        let _ = writeln!(io.out, "Job Warnings:\n{}\n", resp.warnings);
    }
    if args.detach {
        let _ = writeln!(io.out, "Evaluation ID: {}", resp.eval_id);
        return 0;
    }
    let len = if args.verbose { FULL_ID } else { SHORT_ID };
    monitor::monitor(&ctx, io, &resp.eval_id, len)
}

#[derive(Debug, Args)]
pub struct ScalingEventsArgs {
    /// Add the Error, Message and Eval ID columns.
    #[arg(long)]
    verbose: bool,
    /// The job (ID or prefix).
    args: Vec<String>,
}

/// `nomad job scaling-events [-verbose] <job>`: every group's events,
/// newest first.
pub fn scaling_events(args: ScalingEventsArgs, g: &GlobalArgs, io: &mut Io<'_>) -> i32 {
    let [job] = args.args.as_slice() else {
        let _ = writeln!(io.err, "This command takes one argument: <job_id>");
        let _ = writeln!(io.err, "{}", help_hint("job scaling-events"));
        return 1;
    };
    let Some(ctx) = Ctx::new(g, io) else { return 1 };
    let (id, ns) = match job_id_by_prefix(&ctx, job.trim()) {
        Ok(x) => x,
        Err(e) => {
            let _ = writeln!(io.err, "{e}");
            return 1;
        }
    };
    let q = QueryOptions::default().in_namespace(ns);
    let status = match ctx.block(ctx.client.job_scale_status(&id, &q)) {
        Ok((s, _)) => s,
        Err(e) => {
            let _ = writeln!(io.err, "Error listing scaling events: {e}");
            return 1;
        }
    };
    let mut events: Vec<(&String, &nomad_types::api::ScalingEvent)> = status
        .task_groups
        .iter()
        .flat_map(|(g, s)| s.events.iter().map(move |e| (g, e)))
        .collect();
    if events.is_empty() {
        let _ = writeln!(io.out, "No events found");
        return 0;
    }
    events.sort_by_key(|e| std::cmp::Reverse(e.1.time));
    let mut head = "Task Group|Count|PrevCount".to_string();
    if args.verbose {
        head.push_str("|Error|Message|Eval ID");
    }
    head.push_str("|Date");
    let mut rows = vec![head];
    for (g, e) in events {
        let count = e.count.map(|c| c.to_string()).unwrap_or_default();
        let mut row = format!("{g}|{count}|{}", e.previous_count);
        if args.verbose {
            row.push_str(&format!(
                "|{}|{}|{}",
                e.error,
                e.message,
                e.eval_id.clone().unwrap_or_default()
            ));
        }
        row.push_str(&format!(
            "|{}",
            format_unix_nanos(i64::try_from(e.time).unwrap_or(0))
        ));
        rows.push(row);
    }
    let _ = writeln!(io.out, "{}", format_list(&rows));
    0
}
