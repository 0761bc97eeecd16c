//! `nomad eval status ID` and `nomad eval list` (`command/eval_*.go`).

use clap::Args;
use nomad_api_client::QueryOptions;
use nomad_types::Evaluation;

use super::common::{
    eval_failure_status, failed_tg_line, format_alloc_metrics, format_alloc_stubs, print_json,
    ID_TOO_SHORT,
};
use crate::ctx::{Ctx, GlobalArgs};
use crate::format::{
    format_go_time, format_kv, format_list, format_unix_nanos, limit, now_nanos, pretty_time_diff,
    sanitize_uuid_prefix, FULL_ID, SHORT_ID,
};
use crate::Io;

#[derive(Debug, Args)]
pub struct EvalStatusArgs {
    /// Full IDs and times.
    #[arg(long)]
    verbose: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Monitor the evaluation (as `job run` does).
    #[arg(long)]
    monitor: bool,
    /// The evaluation (ID or prefix).
    eval: Option<String>,
}

#[derive(Debug, Args)]
pub struct EvalListArgs {
    /// Full IDs.
    #[arg(long)]
    verbose: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Only evaluations of this job.
    #[arg(long)]
    job: Option<String>,
    /// Only evaluations with this status.
    #[arg(long)]
    status: Option<String>,
    /// Page size.
    #[arg(long = "per-page", default_value_t = 0)]
    per_page: u32,
    /// Page token.
    #[arg(long = "page-token", default_value = "")]
    page_token: String,
    /// Only the objects this go-bexpr expression passes
    /// (`Status == "running"`).
    #[arg(long, default_value = "")]
    filter: String,
}

/// `formatEvalList`.
fn format_eval_list(evals: &[Evaluation], verbose: bool) -> String {
    let len = if verbose { FULL_ID } else { SHORT_ID };
    let mut rows = vec![
        "ID|Priority|Triggered By|Job ID|Namespace|Node ID|Status|Placement Failures".to_string(),
    ];
    for e in evals {
        rows.push(format!(
            "{}|{}|{}|{}|{}|{}|{}|{}",
            limit(&e.id, len),
            e.priority,
            e.triggered_by,
            e.job_id,
            e.namespace,
            limit(&e.node_id, len),
            e.status,
            eval_failure_status(e).0
        ));
    }
    format_list(&rows)
}

pub fn list(args: EvalListArgs, g: &GlobalArgs, io: &mut Io<'_>) -> i32 {
    let Some(ctx) = Ctx::new(g, io) else { return 1 };
    let mut q = QueryOptions {
        per_page: args.per_page,
        next_token: args.page_token.clone(),
        filter: args.filter.clone(),
        ..QueryOptions::default()
    };
    if let Some(j) = &args.job {
        q = q.param("job", j.clone());
    }
    if let Some(s) = &args.status {
        q = q.param("status", s.clone());
    }
    let (evals, meta) = match ctx.block(ctx.client.evaluations_list(&q)) {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(io.err, "Error querying evaluations: {e}");
            return 1;
        }
    };
    if args.json {
        return print_json(io, &evals);
    }
    if evals.is_empty() {
        let _ = writeln!(io.out, "No evals found");
        return 0;
    }
    let _ = writeln!(io.out, "{}", format_eval_list(&evals, args.verbose));
    if !meta.next_token.is_empty() {
        let _ = writeln!(
            io.out,
            "\nResults have been paginated. To get the next page run:\n\nnomad eval list -page-token {}",
            meta.next_token
        );
    }
    0
}

pub fn status(args: EvalStatusArgs, g: &GlobalArgs, io: &mut Io<'_>) -> i32 {
    let Some(ctx) = Ctx::new(g, io) else { return 1 };
    let Some(id) = args.eval.clone() else {
        let _ = writeln!(io.err, "This command takes one argument");
        return 1;
    };
    if args.monitor {
        let len = if args.verbose { FULL_ID } else { SHORT_ID };
        return match resolve(&ctx, &id, args.verbose, io) {
            Ok(e) => super::monitor::monitor(&ctx, io, &e.id, len),
            Err(code) => code,
        };
    }
    status_of(&ctx, &id, args.verbose, args.json, io)
}

fn resolve(ctx: &Ctx, id: &str, verbose: bool, io: &mut Io<'_>) -> Result<Evaluation, i32> {
    if id.len() == 1 {
        let _ = writeln!(io.err, "{ID_TOO_SHORT}");
        return Err(1);
    }
    let id = sanitize_uuid_prefix(id);
    let evals = match ctx.block(
        ctx.client
            .evaluations_list(&QueryOptions::prefix(id.clone())),
    ) {
        Ok((e, _)) => e,
        Err(e) => {
            let _ = writeln!(io.err, "Error querying evaluation: {e}");
            return Err(1);
        }
    };
    match evals.len() {
        0 => {
            let _ = writeln!(io.err, "No evaluation(s) with prefix or id {id:?} found");
            Err(1)
        }
        1 => Ok(evals.into_iter().next().unwrap_or_default()),
        _ => {
            let _ = writeln!(
                io.err,
                "Prefix matched multiple evaluations\n\n{}",
                format_eval_list(&evals, verbose)
            );
            Err(1)
        }
    }
}

/// `eval status <prefix>`.
pub fn status_of(ctx: &Ctx, id: &str, verbose: bool, json: bool, io: &mut Io<'_>) -> i32 {
    let stub = match resolve(ctx, id, verbose, io) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let q = QueryOptions::default().param("related", "true");
    let eval = match ctx.block(ctx.client.evaluation_info(&stub.id, &q)) {
        Ok((e, _)) => e,
        Err(e) => {
            let _ = writeln!(io.err, "Error querying evaluation: {e}");
            return 1;
        }
    };
    if json {
        return print_json(io, &eval);
    }
    let placed = match ctx.block(
        ctx.client
            .evaluation_allocations(&eval.id, &QueryOptions::default()),
    ) {
        Ok((a, _)) => a,
        Err(e) => {
            let _ = writeln!(io.err, "Error querying related allocations: {e}");
            return 1;
        }
    };
    let len = if verbose { FULL_ID } else { SHORT_ID };
    let (failure_text, failures) = eval_failure_status(&eval);
    let status_desc = if eval.status_description.is_empty() {
        eval.status.clone()
    } else {
        eval.status_description.clone()
    };
    let (created, modified) = if verbose {
        (
            format_unix_nanos(eval.create_time),
            format_unix_nanos(eval.modify_time),
        )
    } else {
        let now = now_nanos();
        (
            pretty_time_diff(eval.create_time, now),
            pretty_time_diff(eval.modify_time, now),
        )
    };
    let mut basic = vec![
        format!("ID|{}", limit(&eval.id, len)),
        format!("Create Time|{created}"),
        format!("Modify Time|{modified}"),
        format!("Status|{}", eval.status),
        format!("Status Description|{status_desc}"),
        format!("Type|{}", eval.eval_type),
        format!("TriggeredBy|{}", eval.triggered_by),
        format!("Job ID|{}", eval.job_id),
        format!("Namespace|{}", eval.namespace),
    ];
    match eval.triggered_by.as_str() {
        "node-update" => basic.push(format!("Node ID|{}", eval.node_id)),
        "max-plan-attempts" => basic.push(format!("Previous Eval|{}", eval.previous_eval)),
        _ => {}
    }
    basic.push(format!("Priority|{}", eval.priority));
    basic.push(format!("Placement Failures|{failure_text}"));
    if !eval.wait_until.is_zero() {
        basic.push(format!("Wait Until|{}", format_go_time(&eval.wait_until)));
    }
    basic.push(format!("Previous Eval|{}", limit(&eval.previous_eval, len)));
    basic.push(format!("Next Eval|{}", limit(&eval.next_eval, len)));
    basic.push(format!("Blocked Eval|{}", limit(&eval.blocked_eval, len)));
    let _ = writeln!(io.out, "{}", format_kv(&basic));
    if !eval.related_evals.is_empty() {
        let mut rows = vec!["ID|Priority|Triggered By|Node ID|Status|Description".to_string()];
        for r in &eval.related_evals {
            rows.push(format!(
                "{}|{}|{}|{}|{}|{}",
                limit(&r.id, len),
                r.priority,
                r.triggered_by,
                limit(&r.node_id, len),
                r.status,
                r.status_description
            ));
        }
        let _ = writeln!(io.out, "\nRelated Evaluations\n{}", format_list(&rows));
    }
    if let Some(pa) = eval
        .plan_annotations
        .as_ref()
        .filter(|p| !p.desired_tg_updates.is_empty())
    {
        let mut rows = vec!["Task Group|Ignore|Place|Stop|InPlace|Destructive".to_string()];
        for (tg, u) in &pa.desired_tg_updates {
            rows.push(format!(
                "{tg}|{}|{}|{}|{}|{}",
                u.ignore, u.place, u.stop, u.in_place_update, u.destructive_update
            ));
        }
        let _ = writeln!(io.out, "\nPlan Annotations\n{}", format_list(&rows));
    }
    if !placed.is_empty() {
        let _ = writeln!(
            io.out,
            "\nPlaced Allocations\n{}",
            format_alloc_stubs(&placed, false, len)
        );
    }
    if failures {
        let _ = writeln!(io.out, "\nFailed Placements");
        for (tg, m) in &eval.failed_tg_allocs {
            let _ = writeln!(io.out, "{}", failed_tg_line(tg, m));
            let _ = writeln!(io.out, "{}", format_alloc_metrics(m, "  "));
        }
        if !eval.blocked_eval.is_empty() {
            let _ = writeln!(
                io.out,
                "\nEvaluation {:?} waiting for additional capacity to place remainder",
                limit(&eval.blocked_eval, len)
            );
        }
    }
    0
}
