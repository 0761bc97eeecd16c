//! `nomad job plan` (`command/job_plan.go`): the diff against the running
//! job, the scheduler dry-run, and the `-check-index` hint. Exit codes:
//! 0 no changes, 1 changes (allocations created or destroyed), 255 error.

use clap::Args;
use nomad_types::{FieldDiff, JobDiff, JobPlanResponse, ObjectDiff, TaskDiff, TaskGroupDiff};

use super::common::{failed_tg_line, format_alloc_metrics};
use crate::ctx::{Ctx, GlobalArgs};
use crate::jobfile::{self, JobFileArgs};
use crate::Io;

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    file: JobFileArgs,
    /// Show the diff (default true).
    #[arg(long, num_args = 0..=1, default_value_t = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    diff: bool,
    /// Override soft-mandatory policies (accepted; there are none).
    #[arg(long = "policy-override")]
    policy_override: bool,
    /// Full diff, including unchanged fields of changed blocks.
    #[arg(long)]
    verbose: bool,
    /// Print the plan response as JSON.
    #[arg(long = "json-output")]
    json_output: bool,
    /// Vault namespace (accepted; Vault is not integrated).
    #[arg(long = "vault-namespace", hide = true)]
    vault_namespace: Option<String>,
    /// The job file, or `-` for stdin.
    path: String,
}

const MODIFY_INDEX_HELP: &str = "To submit the job with version verification run:

nomad job run -check-index {index} {args}{path}

When running the job with the check-index flag, the job will only be run if the
job modify index given matches the server-side version. If the index has
changed, another user has modified the job and the plan's results are
potentially invalid.";

pub fn plan(args: PlanArgs, g: &GlobalArgs, io: &mut Io<'_>) -> i32 {
    let loaded = match jobfile::load(&args.path, &args.file, io) {
        Ok(j) => j,
        Err(e) => {
            let _ = writeln!(io.err, "{e}");
            return 255;
        }
    };
    let Some(mut ctx) = Ctx::new(g, io) else {
        return 255;
    };
    let job = loaded.job;
    if let Some(r) = job.region.as_deref().filter(|r| !r.is_empty()) {
        ctx.client.set_region(r);
    }
    if let Some(n) = job.namespace.as_deref().filter(|n| !n.is_empty()) {
        ctx.client.set_namespace(n);
    }
    let resp = match ctx.block(ctx.client.job_plan(&job, true)) {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(io.err, "Error during plan: {e}");
            return 255;
        }
    };
    if args.json_output {
        match nomad_types::json::to_string_pretty_go(&resp) {
            Ok(s) => {
                let _ = writeln!(io.out, "{s}");
            }
            Err(e) => {
                let _ = writeln!(io.err, "{e}");
                return 255;
            }
        }
        return exit_code(&resp);
    }
    let mut run_args = String::new();
    for v in &args.file.vars {
        run_args.push_str(&format!("-var={v:?} "));
    }
    for f in &args.file.var_files {
        run_args.push_str(&format!("-var-file={:?} ", f.display().to_string()));
    }
    if !ctx.namespace.is_empty() {
        run_args.push_str(&format!("-namespace={:?} ", ctx.namespace));
    }
    if !args.file.hcl2_strict {
        run_args.push_str("-hcl2-strict=false ");
    }
    if args.diff {
        if let Some(d) = &resp.diff {
            let _ = writeln!(io.out, "{}\n", format_job_diff(d, args.verbose).trim());
        }
    }
    let _ = writeln!(io.out, "Scheduler dry-run:");
    let _ = writeln!(
        io.out,
        "{}",
        format_dry_run(&resp, job.job_type() == "system")
    );
    let _ = writeln!(io.out);
    if !resp.warnings.is_empty() {
        let _ = writeln!(io.out, "Job Warnings:\n{}\n", resp.warnings);
    }
    let _ = writeln!(io.out, "Job Modify Index: {}", resp.job_modify_index);
    let help = MODIFY_INDEX_HELP
        .replace("{index}", &resp.job_modify_index.to_string())
        .replace("{args}", &run_args)
        .replace("{path}", &args.path);
    let _ = writeln!(io.out, "{help}");
    exit_code(&resp)
}

/// 1 when the plan creates, stops, migrates or replaces allocations.
fn exit_code(resp: &JobPlanResponse) -> i32 {
    if resp
        .diff
        .as_ref()
        .is_none_or(|d| d.diff_type.as_str() == "None")
    {
        return 0;
    }
    let changes = resp.annotations.as_ref().is_some_and(|a| {
        a.desired_tg_updates
            .values()
            .any(|d| d.stop + d.place + d.migrate + d.destructive_update + d.canary > 0)
    });
    i32::from(changes)
}

fn format_dry_run(resp: &JobPlanResponse, system: bool) -> String {
    let rolling = resp
        .created_evals
        .iter()
        .rev()
        .find(|e| e.triggered_by == "rolling-update");
    let mut out = String::new();
    if resp.failed_tg_allocs.is_empty() {
        out.push_str("- All tasks successfully allocated.\n");
    } else {
        if system {
            out.push_str("- WARNING: Failed to place allocations on all nodes.\n");
        } else {
            out.push_str("- WARNING: Failed to place all allocations.\n");
        }
        for (tg, m) in &resp.failed_tg_allocs {
            out.push_str(&format!("  {}\n", failed_tg_line(tg, m)));
            out.push_str(&format!("{}\n\n", format_alloc_metrics(m, "    ")));
        }
        if rolling.is_none() {
            out.truncate(out.trim_end_matches('\n').len() + 1);
        }
    }
    if let Some(r) = rolling {
        out.push_str(&format!(
            "- Rolling update, next evaluation will be in {}.\n",
            r.wait
        ));
    }
    out.truncate(out.trim_end_matches('\n').len());
    out
}

/// The marker of a diff type and its width.
fn marker(t: &str) -> (&'static str, usize) {
    match t {
        "Added" => ("+ ", 2),
        "Deleted" => ("- ", 2),
        "Edited" => ("+/- ", 4),
        _ => ("", 0),
    }
}

/// `formatJobDiff`, without colors.
pub fn format_job_diff(job: &JobDiff, verbose: bool) -> String {
    let (m, _) = marker(job.diff_type.as_str());
    let mut out = format!("{m}Job: {:?}\n", job.id);
    let (longest_field, mut longest_marker) = longest_prefixes(&job.fields, &job.objects);
    for tg in &job.task_groups {
        longest_marker = longest_marker.max(marker(tg.diff_type.as_str()).1);
    }
    if job.diff_type.as_str() == "Edited" || verbose {
        let fo = aligned(&job.fields, &job.objects, 0, longest_field, longest_marker);
        out.push_str(&fo);
        if !fo.is_empty() {
            out.push('\n');
        }
    }
    for tg in &job.task_groups {
        let pad = longest_marker - marker(tg.diff_type.as_str()).1;
        out.push_str(&format!("{}\n", format_tg_diff(tg, pad, verbose)));
    }
    out
}

fn format_tg_diff(tg: &TaskGroupDiff, tg_prefix: usize, verbose: bool) -> String {
    let (m, _) = marker(tg.diff_type.as_str());
    let mut out = format!("{m}{}Task Group: {:?}", " ".repeat(tg_prefix), tg.name);
    if tg.updates.is_empty() {
        out.push('\n');
    } else {
        let ups: Vec<String> = tg.updates.iter().map(|(k, n)| format!("{n} {k}")).collect();
        out.push_str(&format!(" ({})\n", ups.join(", ")));
    }
    let (longest_field, mut longest_marker) = longest_prefixes(&tg.fields, &tg.objects);
    for t in &tg.tasks {
        longest_marker = longest_marker.max(marker(t.diff_type.as_str()).1);
    }
    let sub = tg_prefix + 2;
    if tg.diff_type.as_str() == "Edited" || verbose {
        let fo = aligned(&tg.fields, &tg.objects, sub, longest_field, longest_marker);
        out.push_str(&fo);
        if !fo.is_empty() {
            out.push('\n');
        }
    }
    for t in &tg.tasks {
        let pad = longest_marker - marker(t.diff_type.as_str()).1;
        out.push_str(&format!("{}\n", format_task_diff(t, sub, pad, verbose)));
    }
    out
}

fn format_task_diff(task: &TaskDiff, start: usize, task_prefix: usize, verbose: bool) -> String {
    let (m, _) = marker(task.diff_type.as_str());
    let mut out = format!(
        "{}{m}{}Task: {:?}",
        " ".repeat(start),
        " ".repeat(task_prefix),
        task.name
    );
    if !task.annotations.is_empty() {
        out.push_str(&format!(" ({})", task.annotations.join(", ")));
    }
    let t = task.diff_type.as_str();
    if t == "None" || ((t == "Deleted" || t == "Added") && !verbose) {
        return out;
    }
    out.push('\n');
    let (lf, lm) = longest_prefixes(&task.fields, &task.objects);
    out.push_str(&aligned(&task.fields, &task.objects, start + 2, lf, lm));
    out
}

fn format_object_diff(d: &ObjectDiff, start: usize, key_prefix: usize) -> String {
    let (m, mlen) = marker(d.diff_type.as_str());
    let mut out = format!(
        "{}{m}{}{} {{\n",
        " ".repeat(start),
        " ".repeat(key_prefix),
        d.name
    );
    let (lf, lm) = longest_prefixes(&d.fields, &d.objects);
    out.push_str(&aligned(
        &d.fields,
        &d.objects,
        start + key_prefix + 2,
        lf,
        lm,
    ));
    format!("{out}\n{}}}", " ".repeat(start + mlen + key_prefix))
}

fn format_field_diff(
    d: &FieldDiff,
    start: usize,
    key_prefix: usize,
    value_prefix: usize,
) -> String {
    let (m, _) = marker(d.diff_type.as_str());
    let mut out = format!(
        "{}{m}{}{}: {}",
        " ".repeat(start),
        " ".repeat(key_prefix),
        d.name,
        " ".repeat(value_prefix)
    );
    match d.diff_type.as_str() {
        "Added" => out.push_str(&format!("{:?}", d.new)),
        "Deleted" => out.push_str(&format!("{:?}", d.old)),
        "Edited" => out.push_str(&format!("{:?} => {:?}", d.old, d.new)),
        _ => out.push_str(&format!("{:?}", d.new)),
    }
    if !d.annotations.is_empty() {
        out.push_str(&format!(" ({})", d.annotations.join(", ")));
    }
    out
}

fn aligned(
    fields: &[FieldDiff],
    objects: &[ObjectDiff],
    start: usize,
    longest_field: usize,
    longest_marker: usize,
) -> String {
    let mut out = String::new();
    for (i, f) in fields.iter().enumerate() {
        let kp = longest_marker - marker(f.diff_type.as_str()).1;
        let vp = longest_field.saturating_sub(f.name.len());
        out.push_str(&format_field_diff(f, start, kp, vp));
        if i + 1 != fields.len() || !objects.is_empty() {
            out.push('\n');
        }
    }
    for (i, o) in objects.iter().enumerate() {
        let kp = longest_marker - marker(o.diff_type.as_str()).1;
        out.push_str(&format_object_diff(o, start, kp));
        if i + 1 != objects.len() {
            out.push('\n');
        }
    }
    out
}

fn longest_prefixes(fields: &[FieldDiff], objects: &[ObjectDiff]) -> (usize, usize) {
    let mut lf = 0;
    let mut lm = 0;
    for f in fields {
        lf = lf.max(f.name.len());
        lm = lm.max(marker(f.diff_type.as_str()).1);
    }
    for o in objects {
        lm = lm.max(marker(o.diff_type.as_str()).1);
    }
    (lf, lm)
}
