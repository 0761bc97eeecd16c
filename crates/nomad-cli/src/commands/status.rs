//! `nomad job status [ID]` (`command/job_status.go`) and the top-level
//! `nomad status [ID]`, which finds what an ID prefix names (a job first,
//! then an allocation, node, evaluation or deployment).

use clap::Args;
use nomad_api_client::QueryOptions;
use nomad_types::{Deployment, Evaluation, Job};

use super::common::{
    eval_failure_status, format_alloc_metrics, format_alloc_stubs, format_deployment_groups,
    format_job_list, job_id_by_prefix, print_json, status_string,
};
use crate::ctx::{Ctx, GlobalArgs};
use crate::format::{
    format_kv, format_list, format_unix_nanos, limit, sanitize_uuid_prefix, FULL_ID, SHORT_ID,
};
use crate::Io;

#[derive(Debug, Clone, Args)]
pub struct JobStatusArgs {
    /// Only the job's key/value block.
    #[arg(long)]
    pub short: bool,
    /// Show the job's evaluations.
    #[arg(long)]
    pub evals: bool,
    /// Show allocations of every job instance, not only the current one.
    #[arg(long = "all-allocs")]
    pub all_allocs: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Full IDs and more detail.
    #[arg(long)]
    pub verbose: bool,
    /// Only the objects this go-bexpr expression passes
    /// (`Status == "running"`).
    #[arg(long, default_value = "")]
    pub filter: String,
    /// The job (ID or prefix).
    pub job: Option<String>,
}

pub fn job_status(args: JobStatusArgs, g: &GlobalArgs, io: &mut Io<'_>) -> i32 {
    let Some(ctx) = Ctx::new(g, io) else { return 1 };
    run(&ctx, &args, io)
}

/// The top-level `nomad status [ID]`.
pub fn status(args: JobStatusArgs, g: &GlobalArgs, io: &mut Io<'_>) -> i32 {
    let Some(ctx) = Ctx::new(g, io) else { return 1 };
    let Some(id) = args.job.clone() else {
        return run(&ctx, &args, io);
    };
    // A job wins; otherwise whichever object the prefix names.
    let q = QueryOptions::prefix(id.clone());
    if let Ok((jobs, _)) = ctx.block(ctx.client.jobs_list(&q)) {
        if !jobs.is_empty() {
            return run(&ctx, &args, io);
        }
    }
    let uuid = sanitize_uuid_prefix(&id);
    if uuid.len() >= 2 {
        let q = QueryOptions::prefix(uuid.clone());
        if ctx
            .block(ctx.client.allocations_list(&q))
            .is_ok_and(|(a, _)| !a.is_empty())
        {
            return super::alloc::status_of(&ctx, &uuid, args.verbose, args.json, io);
        }
        if ctx
            .block(ctx.client.nodes_list(&q))
            .is_ok_and(|(n, _)| !n.is_empty())
        {
            return super::node::status_of(&ctx, &uuid, args.verbose, args.json, io);
        }
        if ctx
            .block(ctx.client.evaluations_list(&q))
            .is_ok_and(|(e, _)| !e.is_empty())
        {
            return super::eval::status_of(&ctx, &uuid, args.verbose, args.json, io);
        }
        if ctx
            .block(ctx.client.deployments_list(&q))
            .is_ok_and(|(d, _)| !d.is_empty())
        {
            return super::deployment::status_of(&ctx, &uuid, args.verbose, args.json, io);
        }
    }
    let _ = writeln!(io.err, "No matches returned for query: {id:?}");
    1
}

fn run(ctx: &Ctx, args: &JobStatusArgs, io: &mut Io<'_>) -> i32 {
    let len = if args.verbose { FULL_ID } else { SHORT_ID };
    let Some(prefix) = args.job.as_deref().map(str::trim) else {
        let q = QueryOptions::default().filtered(args.filter.clone());
        let jobs = match ctx.block(ctx.client.jobs_list(&q)) {
            Ok((j, _)) => j,
            Err(e) => {
                let _ = writeln!(io.err, "Error querying jobs: {e}");
                return 1;
            }
        };
        if jobs.is_empty() {
            let _ = writeln!(io.out, "No running jobs");
        } else if args.json {
            return print_json(io, &jobs);
        } else {
            let _ = writeln!(io.out, "{}", format_job_list(&jobs, ctx.all_namespaces()));
        }
        return 0;
    };
    let (job_id, ns) = match job_id_by_prefix(ctx, prefix) {
        Ok(x) => x,
        Err(e) => {
            let _ = writeln!(io.err, "{e}");
            return 1;
        }
    };
    let q = QueryOptions::default().in_namespace(ns.clone());
    let job = match ctx.block(ctx.client.job_info(&job_id, &q)) {
        Ok((j, _)) => j,
        Err(e) => {
            let _ = writeln!(io.err, "Error querying job: {e}");
            return 1;
        }
    };
    if args.json {
        return json_output(ctx, io, &job, &q, args.all_allocs);
    }
    let mut basic = vec![
        format!("ID|{}", job.id()),
        format!("Name|{}", job.name()),
        format!(
            "Submit Date|{}",
            format_unix_nanos(job.submit_time.unwrap_or(0))
        ),
        format!("Type|{}", job.job_type()),
        format!("Priority|{}", job.priority()),
        format!("Datacenters|{}", job.datacenters.join(",")),
        format!("Namespace|{}", job.namespace()),
        format!("Node Pool|{}", job.node_pool.clone().unwrap_or_default()),
        format!(
            "Status|{}",
            status_string(job.status.as_deref().unwrap_or(""), job.is_stopped())
        ),
        format!("Periodic|{}", job.is_periodic()),
        format!("Parameterized|{}", job.is_parameterized()),
    ];
    if let Some(t) = job
        .dispatch_idempotency_token
        .as_deref()
        .filter(|t| !t.is_empty())
    {
        basic.push(format!("Idempotency Token|{t}"));
    }
    let _ = writeln!(io.out, "{}", format_kv(&basic));
    if args.short {
        return 0;
    }
    match job_info(ctx, args, io, &job, &q, len) {
        Ok(()) => 0,
        Err(e) => {
            let _ = writeln!(io.err, "{e}");
            1
        }
    }
}

/// `-json`: summary, allocations, latest deployment and evaluations.
fn json_output(ctx: &Ctx, io: &mut Io<'_>, job: &Job, q: &QueryOptions, all: bool) -> i32 {
    let id = job.id();
    let summary = ctx.block(ctx.client.job_summary(id, q)).map(|r| r.0);
    let allocs = ctx
        .block(ctx.client.job_allocations(id, all, q))
        .map(|r| r.0);
    let dep = ctx
        .block(ctx.client.job_latest_deployment(id, q))
        .map(|r| r.0);
    let evals = ctx.block(ctx.client.job_evaluations(id, q)).map(|r| r.0);
    match (summary, allocs, dep, evals) {
        (Ok(s), Ok(a), Ok(d), Ok(e)) => print_json(
            io,
            &serde_json::json!([{ "Summary": s, "Allocations": a, "LatestDeployment": d, "Evaluations": e }]),
        ),
        (Err(e), ..) | (_, Err(e), ..) | (_, _, Err(e), _) | (.., Err(e)) => {
            let _ = writeln!(io.err, "Error querying job: {e}");
            1
        }
    }
}

fn job_info(
    ctx: &Ctx,
    args: &JobStatusArgs,
    io: &mut Io<'_>,
    job: &Job,
    q: &QueryOptions,
    len: usize,
) -> Result<(), String> {
    let id = job.id();
    let allocs = ctx
        .block(ctx.client.job_allocations(id, args.all_allocs, q))
        .map_err(|e| format!("Error querying job allocations: {e}"))?
        .0;
    let evals = ctx
        .block(ctx.client.job_evaluations(id, q))
        .map_err(|e| format!("Error querying job evaluations: {e}"))?
        .0;
    let latest = ctx
        .block(ctx.client.job_latest_deployment(id, q))
        .map_err(|e| format!("Error querying latest job deployment: {e}"))?
        .0;
    let summary = ctx
        .block(ctx.client.job_summary(id, q))
        .map_err(|e| format!("Error querying job summary: {e}"))?
        .0;
    if job.is_parameterized() {
        if let Some(p) = &job.parameterized_job {
            let rows = vec![
                format!("Payload|{}", p.payload),
                format!("Required Metadata|{}", p.meta_required.join(", ")),
                format!("Optional Metadata|{}", p.meta_optional.join(", ")),
            ];
            let _ = writeln!(io.out, "\nParameterized Job\n{}", format_kv(&rows));
        }
    }
    if !job.is_periodic() && !job.is_parameterized() {
        let mut rows =
            vec!["Task Group|Queued|Starting|Running|Failed|Complete|Lost|Unknown".to_string()];
        for (tg, s) in &summary.summary {
            rows.push(format!(
                "{tg}|{}|{}|{}|{}|{}|{}|{}",
                s.queued, s.starting, s.running, s.failed, s.complete, s.lost, s.unknown
            ));
        }
        let _ = writeln!(io.out, "\nSummary\n{}", format_list(&rows));
    }
    if let Some(c) = summary
        .children
        .as_ref()
        .filter(|c| c.total() > 0 || job.is_periodic() || job.is_parameterized())
    {
        let title = if job.is_parameterized() {
            "Parameterized Job Summary"
        } else {
            "Children Job Summary"
        };
        let rows = vec![
            "Pending|Running|Dead".to_string(),
            format!("{}|{}|{}", c.pending, c.running, c.dead),
        ];
        let _ = writeln!(io.out, "\n{title}\n{}", format_list(&rows));
    }
    if job.is_periodic() || job.is_parameterized() {
        return children(ctx, io, job);
    }
    let mut rows = vec!["ID|Priority|Triggered By|Status|Placement Failures".to_string()];
    let mut blocked = false;
    let mut latest_failed: Option<&Evaluation> = None;
    for e in &evals {
        rows.push(format!(
            "{}|{}|{}|{}|{}",
            limit(&e.id, len),
            e.priority,
            e.triggered_by,
            e.status,
            eval_failure_status(e).0
        ));
        blocked |= e.status == "blocked";
        if !e.failed_tg_allocs.is_empty()
            && latest_failed.is_none_or(|l| l.create_index < e.create_index)
        {
            latest_failed = Some(e);
        }
    }
    if args.verbose || args.evals {
        let _ = writeln!(io.out, "\nEvaluations\n{}", format_list(&rows));
    }
    if let (true, Some(failed)) = (blocked, latest_failed) {
        let _ = writeln!(io.out, "\nPlacement Failure");
        let n = failed.failed_tg_allocs.len();
        for (i, (tg, m)) in failed.failed_tg_allocs.iter().enumerate() {
            let _ = writeln!(io.out, "Task Group {tg:?}:");
            let _ = writeln!(io.out, "{}", format_alloc_metrics(m, "  "));
            if i + 1 != n {
                let _ = writeln!(io.out);
            }
        }
    }
    rescheduling_evals(ctx, io, job, &allocs, args.verbose, len);
    if let Some(d) = latest {
        let _ = writeln!(
            io.out,
            "\nLatest Deployment\n{}",
            format_latest_deployment(&d, len)
        );
    }
    let _ = writeln!(
        io.out,
        "\nAllocations\n{}",
        format_alloc_stubs(&allocs, args.verbose, len)
    );
    Ok(())
}

/// The `Latest Deployment` block of `job status`.
fn format_latest_deployment(d: &Deployment, len: usize) -> String {
    let mut base = format_kv(&[
        format!("ID|{}", limit(&d.id, len)),
        format!("Status|{}", d.status),
        format!("Description|{}", d.status_description),
    ]);
    if !d.task_groups.is_empty() {
        base.push_str("\n\nDeployed\n");
        base.push_str(&format_deployment_groups(&d.task_groups));
    }
    base
}

/// `Previously Launched Jobs` of a periodic job, `Dispatched Jobs` of a
/// parameterized one (children whose ID starts with the launch suffix).
fn children(ctx: &Ctx, io: &mut Io<'_>, job: &Job) -> Result<(), String> {
    let (suffix, title, none) = if job.is_parameterized() {
        (
            nomad_types::consts::job_defaults::DISPATCH_LAUNCH_SUFFIX,
            "Dispatched Jobs",
            "No dispatched instances of parameterized job found",
        )
    } else {
        (
            nomad_types::consts::job_defaults::PERIODIC_LAUNCH_SUFFIX,
            "Previously Launched Jobs",
            "No instances of periodic job found",
        )
    };
    let q = QueryOptions::prefix(format!("{}{suffix}", job.id())).in_namespace(job.namespace());
    let kids = ctx
        .block(ctx.client.jobs_list(&q))
        .map_err(|e| format!("Error querying job: {e}"))?
        .0;
    if kids.is_empty() {
        let _ = writeln!(io.out, "\n{none}");
        return Ok(());
    }
    let mut rows = vec!["ID|Status".to_string()];
    for k in kids.iter().filter(|k| k.parent_id == job.id()) {
        rows.push(format!("{}|{}", k.id, k.status));
    }
    let _ = writeln!(io.out, "\n{title}\n{}", format_list(&rows));
    Ok(())
}

/// `Future Rescheduling Attempts`: the follow-up evaluation of each
/// group's most recently modified allocation, when it is still to run.
fn rescheduling_evals(
    ctx: &Ctx,
    io: &mut Io<'_>,
    job: &Job,
    allocs: &[nomad_types::AllocationListStub],
    verbose: bool,
    len: usize,
) {
    let mut latest: std::collections::BTreeMap<&str, &nomad_types::AllocationListStub> =
        std::collections::BTreeMap::new();
    for a in allocs {
        let newer = latest
            .get(a.task_group.as_str())
            .is_none_or(|l| a.modify_time > l.modify_time);
        if newer {
            latest.insert(&a.task_group, a);
        }
    }
    let mut rows = Vec::new();
    for (tg, a) in latest {
        if a.followup_eval_id.is_empty() {
            continue;
        }
        let Some(when) = super::alloc::future_eval_time(ctx, &a.followup_eval_id) else {
            continue;
        };
        let eval = limit(&a.followup_eval_id, len);
        if verbose {
            let policy = job
                .lookup_task_group(tg)
                .and_then(|g| g.reschedule_policy.as_ref())
                .map(reschedule_policy_string)
                .unwrap_or_default();
            rows.push(format!("{tg}|{policy}|{eval}|{when}"));
        } else {
            rows.push(format!("{tg}|{eval}|{when}"));
        }
    }
    if rows.is_empty() {
        return;
    }
    let head = if verbose {
        "Task Group|Reschedule Policy|Eval ID|Eval Time"
    } else {
        "Task Group|Eval ID|Eval Time"
    };
    rows.insert(0, head.to_string());
    let _ = writeln!(
        io.out,
        "\nFuture Rescheduling Attempts\n{}",
        format_list(&rows)
    );
}

/// The Go API's `ReschedulePolicy.String`.
fn reschedule_policy_string(p: &nomad_types::ReschedulePolicy) -> String {
    let func = p.delay_function.clone().unwrap_or_default();
    let max = p.max_delay.unwrap_or_default();
    if p.unlimited.unwrap_or(false) {
        format!("unlimited with {func} delay, max_delay = {max}")
    } else {
        format!(
            "{}/{} with {func} delay, max_delay = {max}",
            p.attempts.unwrap_or(0),
            p.interval.unwrap_or_default()
        )
    }
}
