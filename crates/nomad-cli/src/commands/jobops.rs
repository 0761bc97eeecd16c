//! `nomad job stop`, `nomad job inspect`, `nomad job allocs`.

use std::io::BufRead as _;

use clap::Args;
use nomad_api_client::QueryOptions;

use super::common::{format_alloc_stubs, job_id_by_prefix};
use super::monitor;
use crate::ctx::{Ctx, GlobalArgs};
use crate::format::{FULL_ID, SHORT_ID};
use crate::Io;

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Return right after the deregistration, printing the evaluation ID.
    #[arg(long)]
    detach: bool,
    /// Remove the job from the cluster instead of only stopping it.
    #[arg(long)]
    purge: bool,
    /// Stop a multiregion job in every region.
    #[arg(long)]
    global: bool,
    /// Skip the tasks' shutdown delay.
    #[arg(long = "no-shutdown-delay")]
    no_shutdown_delay: bool,
    /// Do not ask for confirmation.
    #[arg(long)]
    yes: bool,
    /// Priority of the evaluation.
    #[arg(long = "eval-priority", default_value_t = 0)]
    eval_priority: i64,
    /// Full IDs.
    #[arg(long)]
    verbose: bool,
    /// The jobs (IDs or prefixes).
    jobs: Vec<String>,
}

pub fn stop(args: StopArgs, g: &GlobalArgs, io: &mut Io<'_>) -> i32 {
    if args.jobs.is_empty() {
        let _ = writeln!(io.err, "This command takes at least one argument: <job>");
        return 1;
    }
    let Some(ctx) = Ctx::new(g, io) else { return 1 };
    let len = if args.verbose { FULL_ID } else { SHORT_ID };
    let mut status = 0;
    for prefix in &args.jobs {
        let prefix = prefix.trim();
        let (id, ns) = match job_id_by_prefix(&ctx, prefix) {
            Ok(x) => x,
            Err(e) => {
                let _ = writeln!(io.err, "{e}");
                status = status.max(1);
                continue;
            }
        };
        if args.jobs.len() == 1 && prefix != id && !args.yes {
            let _ = write!(io.out, "Are you sure you want to stop job {id:?}? [y/N] ");
            let _ = io.out.flush();
            let mut answer = String::new();
            let mut reader = std::io::BufReader::new(&mut *io.stdin);
            if reader.read_line(&mut answer).is_err() {
                let _ = writeln!(io.err, "Failed to parse answer");
                return 1;
            }
            let answer = answer.trim();
            let lower = answer.to_lowercase();
            if answer.is_empty() || lower.starts_with('n') {
                let _ = writeln!(io.out, "Cancelling job stop");
                return 0;
            } else if lower.starts_with('y') && answer.len() > 1 {
                let _ = writeln!(io.out, "For confirmation, an exact ‘y’ is required.");
                return 0;
            } else if answer != "y" {
                let _ = writeln!(
                    io.out,
                    "No confirmation detected. For confirmation, an exact 'y' is required."
                );
                return 1;
            }
        }
        let resp = match ctx.block(ctx.client.job_deregister(
            &id,
            &ns,
            args.purge,
            args.global,
            args.no_shutdown_delay,
            args.eval_priority,
        )) {
            Ok(r) => r,
            Err(e) => {
                let _ = writeln!(io.err, "Error deregistering job with id {prefix} err: {e}");
                status = status.max(1);
                continue;
            }
        };
        if resp.eval_id.is_empty() {
            continue;
        }
        if args.detach {
            let _ = writeln!(io.out, "{}", resp.eval_id);
            continue;
        }
        let code = monitor::monitor(&ctx, io, &resp.eval_id, len);
        if code != 0 && status == 0 {
            status = code;
        }
    }
    status
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A specific version.
    #[arg(long)]
    version: Option<u64>,
    /// Print JSON (the default).
    #[arg(long)]
    json: bool,
    /// The job (ID or prefix).
    job: Option<String>,
}

pub fn inspect(args: InspectArgs, g: &GlobalArgs, io: &mut Io<'_>) -> i32 {
    let Some(ctx) = Ctx::new(g, io) else { return 1 };
    let Some(prefix) = args.job.as_deref() else {
        let _ = writeln!(io.err, "This command takes one argument: <job>");
        return 1;
    };
    let (id, ns) = match job_id_by_prefix(&ctx, prefix.trim()) {
        Ok(x) => x,
        Err(e) => {
            let _ = writeln!(io.err, "{e}");
            return 1;
        }
    };
    let mut q = QueryOptions::default().in_namespace(ns);
    if let Some(v) = args.version {
        q = q.param("version", v.to_string());
    }
    let job = match ctx.block(ctx.client.job_info(&id, &q)) {
        Ok((j, _)) => j,
        Err(e) => {
            let _ = writeln!(io.err, "Error inspecting job: {e}");
            return 1;
        }
    };
    match nomad_types::json::to_string_pretty_go(&serde_json::json!({ "Job": job })) {
        Ok(s) => {
            let _ = writeln!(io.out, "{s}");
            0
        }
        Err(e) => {
            let _ = writeln!(io.err, "Error converting job: {e}");
            1
        }
    }
}

#[derive(Debug, Args)]
pub struct AllocsArgs {
    /// Allocations of every instance of the job ID.
    #[arg(long)]
    all: bool,
    /// Full IDs.
    #[arg(long)]
    verbose: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// The job (ID or prefix).
    job: Option<String>,
}

pub fn allocs(args: AllocsArgs, g: &GlobalArgs, io: &mut Io<'_>) -> i32 {
    let Some(ctx) = Ctx::new(g, io) else { return 1 };
    let Some(prefix) = args.job.as_deref() else {
        let _ = writeln!(io.err, "This command takes one argument: <job>");
        return 1;
    };
    let (id, ns) = match job_id_by_prefix(&ctx, prefix.trim()) {
        Ok(x) => x,
        Err(e) => {
            let _ = writeln!(io.err, "{e}");
            return 1;
        }
    };
    let q = QueryOptions::default().in_namespace(ns);
    let allocs = match ctx.block(ctx.client.job_allocations(&id, args.all, &q)) {
        Ok((a, _)) => a,
        Err(e) => {
            let _ = writeln!(io.err, "Error retrieving allocations: {e}");
            return 1;
        }
    };
    if args.json {
        return match nomad_types::json::to_string_pretty_go(&allocs) {
            Ok(s) => {
                let _ = writeln!(io.out, "{s}");
                0
            }
            Err(e) => {
                let _ = writeln!(io.err, "{e}");
                1
            }
        };
    }
    let len = if args.verbose { FULL_ID } else { SHORT_ID };
    let _ = writeln!(io.out, "{}", format_alloc_stubs(&allocs, args.verbose, len));
    0
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Reschedule failed allocations even if their reschedule policy says
    /// not to.
    #[arg(long = "force-reschedule")]
    force_reschedule: bool,
    /// Return right after creating the evaluation, printing its ID.
    #[arg(long)]
    detach: bool,
    /// Full IDs.
    #[arg(long)]
    verbose: bool,
    /// The job (ID or prefix).
    args: Vec<String>,
}

/// `nomad job eval [-force-reschedule] [-detach] [-verbose] <job>`: asks
/// the servers for a new evaluation of the job (Nomad's `job eval`), then
/// monitors it as `job run` does.
pub fn eval(args: EvalArgs, g: &GlobalArgs, io: &mut Io<'_>) -> i32 {
    let len = if args.verbose { FULL_ID } else { SHORT_ID };
    let [job] = args.args.as_slice() else {
        let _ = writeln!(io.err, "This command takes one argument: <job>");
        let _ = writeln!(io.err, "{}", super::servers::help_hint("job eval"));
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
    let resp = match ctx.block(ctx.client.job_evaluate(&id, args.force_reschedule, &ns)) {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(io.err, "Error evaluating job: {e}");
            return 1;
        }
    };
    if args.detach {
        let short: String = resp.eval_id.chars().take(len).collect();
        let _ = writeln!(io.out, "Created eval ID: {short:?}");
        return 0;
    }
    monitor::monitor(&ctx, io, &resp.eval_id, len)
}
