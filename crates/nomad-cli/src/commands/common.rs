//! Lookups and formatters shared by several commands (Nomad's
//! `command/helpers.go`, `meta.go`, and the list formatters of
//! `job_status.go`, `monitor.go`, `deployment_status.go`).

use std::collections::BTreeMap;

use nomad_api_client::QueryOptions;
use nomad_types::{
    AllocMetric, Allocation, AllocationListStub, Deployment, DeploymentState, Evaluation,
    JobListStub,
};

use crate::ctx::Ctx;
use crate::format::{
    format_go_time, format_kv, format_list, format_unix_nanos, limit, now_nanos, pretty_time_diff,
};
use crate::Io;

/// Nomad's `JobIDByPrefix`: the one job a prefix names, with its namespace;
/// several matches (other than an exact one) list them.
pub fn job_id_by_prefix(ctx: &Ctx, prefix: &str) -> Result<(String, String), String> {
    job_id_by_prefix_where(ctx, prefix, |_| true)
}

/// Nomad's `NoJobWithPrefixError` text.
pub fn no_job_with_prefix(prefix: &str) -> String {
    format!("No job(s) with prefix or ID {prefix:?} found")
}

/// [`job_id_by_prefix`] among the jobs `keep` accepts (parameterized
/// jobs for `job dispatch`, periodic ones for `job periodic force`).
pub fn job_id_by_prefix_where(
    ctx: &Ctx,
    prefix: &str,
    keep: impl Fn(&JobListStub) -> bool,
) -> Result<(String, String), String> {
    let q = QueryOptions {
        prefix: prefix.to_string(),
        per_page: 20,
        ..QueryOptions::default()
    };
    let jobs = match ctx.block(ctx.client.jobs_list(&q)) {
        Ok((j, _)) => j,
        Err(e) => return Err(format!("Error querying job prefix {prefix:?}: {e}")),
    };
    let jobs: Vec<JobListStub> = jobs.into_iter().filter(|j| keep(j)).collect();
    let truncated = jobs.len() >= 20;
    if jobs.is_empty() {
        return Err(no_job_with_prefix(prefix));
    }
    if jobs.len() > 1 {
        let exact = jobs[0].id == prefix;
        let multi_ns = ctx.all_namespaces() && jobs[0].id == jobs[1].id;
        if !exact || multi_ns {
            return Err(format!(
                "Prefix {prefix:?} matched multiple jobs\n\n{}{}",
                format_job_list(&jobs, ctx.all_namespaces()),
                if truncated {
                    "\n(results may be truncated)"
                } else {
                    ""
                }
            ));
        }
    }
    let ns = if jobs[0].namespace.is_empty() {
        "default".to_string()
    } else {
        jobs[0].namespace.clone()
    };
    Ok((jobs[0].id.clone(), ns))
}

/// `job status` without an ID.
pub fn format_job_list(jobs: &[JobListStub], with_ns: bool) -> String {
    let mut out = Vec::with_capacity(jobs.len() + 1);
    if with_ns {
        out.push("ID|Namespace|Type|Priority|Status|Submit Date".to_string());
    } else {
        out.push("ID|Type|Priority|Status|Submit Date".to_string());
    }
    for j in jobs {
        let mut t = j.job_type.clone();
        if j.periodic {
            t.push_str("/periodic");
        }
        if j.parameterized_job {
            t.push_str("/parameterized");
        }
        let status = status_string(&j.status, j.stop);
        let date = format_unix_nanos(j.submit_time);
        if with_ns {
            out.push(format!(
                "{}|{}|{}|{}|{}|{}",
                j.id, j.namespace, t, j.priority, status, date
            ));
        } else {
            out.push(format!("{}|{}|{}|{}|{}", j.id, t, j.priority, status, date));
        }
    }
    format_list(&out)
}

/// `dead (stopped)`.
pub fn status_string(status: &str, stop: bool) -> String {
    if stop {
        format!("{status} (stopped)")
    } else {
        status.to_string()
    }
}

/// `formatAllocListStubs`.
pub fn format_alloc_stubs(stubs: &[AllocationListStub], verbose: bool, len: usize) -> String {
    if stubs.is_empty() {
        return "No allocations placed".to_string();
    }
    let now = now_nanos();
    let mut out = Vec::with_capacity(stubs.len() + 1);
    if verbose {
        out.push(
            "ID|Eval ID|Node ID|Node Name|Task Group|Version|Desired|Status|Created|Modified"
                .to_string(),
        );
        for a in stubs {
            out.push(format!(
                "{}|{}|{}|{}|{}|{}|{}|{}|{}|{}",
                limit(&a.id, len),
                limit(&a.eval_id, len),
                limit(&a.node_id, len),
                a.node_name,
                a.task_group,
                a.job_version,
                a.desired_status,
                a.client_status,
                format_unix_nanos(a.create_time),
                format_unix_nanos(a.modify_time)
            ));
        }
    } else {
        out.push("ID|Node ID|Task Group|Version|Desired|Status|Created|Modified".to_string());
        for a in stubs {
            out.push(format!(
                "{}|{}|{}|{}|{}|{}|{}|{}",
                limit(&a.id, len),
                limit(&a.node_id, len),
                a.task_group,
                a.job_version,
                a.desired_status,
                a.client_status,
                pretty_time_diff(a.create_time, now),
                pretty_time_diff(a.modify_time, now)
            ));
        }
    }
    format_list(&out)
}

/// `formatAllocList` (full allocations, as `node status <id>` lists them).
pub fn format_alloc_list(allocs: &[Allocation], verbose: bool, len: usize) -> String {
    if allocs.is_empty() {
        return "No allocations placed".to_string();
    }
    let now = now_nanos();
    let mut out = Vec::with_capacity(allocs.len() + 1);
    let version = |a: &Allocation| a.job.as_ref().map(|j| j.version()).unwrap_or(0);
    if verbose {
        out.push(
            "ID|Eval ID|Node ID|Task Group|Version|Desired|Status|Created|Modified".to_string(),
        );
        for a in allocs {
            out.push(format!(
                "{}|{}|{}|{}|{}|{}|{}|{}|{}",
                limit(&a.id, len),
                limit(&a.eval_id, len),
                limit(&a.node_id, len),
                a.task_group,
                version(a),
                a.desired_status,
                a.client_status,
                format_unix_nanos(a.create_time),
                format_unix_nanos(a.modify_time)
            ));
        }
    } else {
        out.push("ID|Node ID|Task Group|Version|Desired|Status|Created|Modified".to_string());
        for a in allocs {
            out.push(format!(
                "{}|{}|{}|{}|{}|{}|{}|{}",
                limit(&a.id, len),
                limit(&a.node_id, len),
                a.task_group,
                version(a),
                a.desired_status,
                a.client_status,
                pretty_time_diff(a.create_time, now),
                pretty_time_diff(a.modify_time, now)
            ));
        }
    }
    format_list(&out)
}

/// `formatDeploymentGroups`: the `Deployed` table.
pub fn format_deployment_groups(tgs: &BTreeMap<String, DeploymentState>) -> String {
    let autorevert = tgs.values().any(|s| s.auto_revert);
    let canaries = tgs.values().any(|s| s.desired_canaries > 0);
    let deadline = tgs.values().any(|s| s.progress_deadline.0 != 0);
    let mut head = "Task Group|".to_string();
    if autorevert {
        head.push_str("Auto Revert|");
    }
    if canaries {
        head.push_str("Promoted|");
    }
    head.push_str("Desired|");
    if canaries {
        head.push_str("Canaries|");
    }
    head.push_str("Placed|Healthy|Unhealthy");
    if deadline {
        head.push_str("|Progress Deadline");
    }
    let mut rows = vec![head];
    for (tg, s) in tgs {
        let mut row = format!("{tg}|");
        if autorevert {
            row.push_str(&format!("{}|", s.auto_revert));
        }
        if canaries {
            if s.desired_canaries > 0 {
                row.push_str(&format!("{}|", s.promoted));
            } else {
                row.push_str("N/A|");
            }
        }
        row.push_str(&format!("{}|", s.desired_total));
        if canaries {
            row.push_str(&format!("{}|", s.desired_canaries));
        }
        row.push_str(&format!(
            "{}|{}|{}",
            s.placed_allocs, s.healthy_allocs, s.unhealthy_allocs
        ));
        if deadline {
            if s.require_progress_by.is_zero() {
                row.push_str("|N/A");
            } else {
                row.push_str(&format!("|{}", format_go_time(&s.require_progress_by)));
            }
        }
        rows.push(row);
    }
    format_list(&rows)
}

/// `formatDeployment` of `deployment status` (and the deployment monitor).
pub fn format_deployment(d: &Deployment, len: usize) -> String {
    let mut base = format_kv(&[
        format!("ID|{}", limit(&d.id, len)),
        format!("Job ID|{}", d.job_id),
        format!("Job Version|{}", d.job_version),
        format!("Status|{}", d.status),
        format!("Description|{}", d.status_description),
    ]);
    if !d.task_groups.is_empty() {
        base.push_str("\n\nDeployed\n");
        base.push_str(&format_deployment_groups(&d.task_groups));
    }
    base
}

/// `formatAllocMetrics` without scores.
pub fn format_alloc_metrics(m: &AllocMetric, prefix: &str) -> String {
    let mut out = String::new();
    if m.nodes_evaluated == 0 {
        out.push_str(&format!(
            "{prefix}* No nodes were eligible for evaluation\n"
        ));
    }
    for (dc, n) in &m.nodes_available {
        if *n == 0 {
            out.push_str(&format!(
                "{prefix}* No nodes are available in datacenter {dc:?}\n"
            ));
        }
    }
    for (class, n) in &m.class_filtered {
        out.push_str(&format!(
            "{prefix}* Class {class:?}: {n} nodes excluded by filter\n"
        ));
    }
    for (c, n) in &m.constraint_filtered {
        out.push_str(&format!(
            "{prefix}* Constraint {c:?}: {n} nodes excluded by filter\n"
        ));
    }
    if m.nodes_exhausted > 0 {
        out.push_str(&format!(
            "{prefix}* Resources exhausted on {} nodes\n",
            m.nodes_exhausted
        ));
    }
    for (class, n) in &m.class_exhausted {
        out.push_str(&format!(
            "{prefix}* Class {class:?} exhausted on {n} nodes\n"
        ));
    }
    for (dim, n) in &m.dimension_exhausted {
        out.push_str(&format!(
            "{prefix}* Dimension {dim:?} exhausted on {n} nodes\n"
        ));
    }
    for q in &m.quota_exhausted {
        out.push_str(&format!("{prefix}* Quota limit hit {q:?}\n"));
    }
    out.truncate(out.trim_end_matches('\n').len());
    out
}

/// `evalFailureStatus`.
pub fn eval_failure_status(e: &Evaluation) -> (String, bool) {
    let failures = !e.failed_tg_allocs.is_empty();
    let text = if e.status == "blocked" {
        "N/A - In Progress".to_string()
    } else {
        failures.to_string()
    };
    (text, failures)
}

/// `Task Group "x" (failed to place N allocation(s)):`.
pub fn failed_tg_line(tg: &str, m: &AllocMetric) -> String {
    let noun = if m.coalesced_failures > 0 {
        "allocations"
    } else {
        "allocation"
    };
    format!(
        "Task Group {tg:?} (failed to place {} {noun}):",
        m.coalesced_failures + 1
    )
}

/// Nomad refuses one-character identifiers.
pub const ID_TOO_SHORT: &str = "Identifier must contain at least two characters.";

/// Prints a value as Go's indented JSON.
pub fn print_json<T: serde::Serialize>(io: &mut Io<'_>, v: &T) -> i32 {
    match nomad_types::json::to_string_pretty_go(v) {
        Ok(s) => {
            let _ = writeln!(io.out, "{s}");
            0
        }
        Err(e) => {
            let _ = writeln!(io.err, "{e}");
            1
        }
    }
}
