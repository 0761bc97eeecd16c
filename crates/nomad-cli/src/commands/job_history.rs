//! `nomad job history` (`command/job_history.go`) and `nomad job revert`
//! (`command/job_revert.go`).

use clap::Args;
use nomad_api_client::QueryOptions;
use nomad_types::{Job, JobDiff};

use super::common::{job_id_by_prefix, print_json};
use super::monitor;
use super::plan::format_job_diff;
use super::servers::help_hint;
use crate::ctx::{Ctx, GlobalArgs};
use crate::format::{format_unix_nanos, FULL_ID, SHORT_ID};
use crate::Io;

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Show the difference between each version and its predecessor.
    #[arg(short = 'p')]
    diff: bool,
    /// Show the full job definition of each version.
    #[arg(long)]
    full: bool,
    /// Only this version.
    #[arg(long, value_name = "job version")]
    version: Option<String>,
    /// Print the versions as JSON.
    #[arg(long)]
    json: bool,
    /// The job (ID or prefix).
    args: Vec<String>,
}

/// `nomad job history [-p] [-full] [-version N] [-json] <job>`.
pub fn history(args: HistoryArgs, g: &GlobalArgs, io: &mut Io<'_>) -> i32 {
    if args.args.is_empty() || args.args.len() > 2 {
        let _ = writeln!(io.err, "This command takes one argument: <job>");
        let _ = writeln!(io.err, "{}", help_hint("job history"));
        return 1;
    }
    if args.json && (args.diff || args.full) {
        let _ = writeln!(io.err, "-json and -t are exclusive with -p and -full");
        return 1;
    }
    let Some(ctx) = Ctx::new(g, io) else { return 1 };
    let (id, ns) = match job_id_by_prefix(&ctx, args.args[0].trim()) {
        Ok(x) => x,
        Err(e) => {
            let _ = writeln!(io.err, "{e}");
            return 1;
        }
    };
    let q = QueryOptions::default().in_namespace(ns);
    let resp = match ctx.block(ctx.client.job_versions(&id, args.diff, &q)) {
        Ok((r, _)) => r,
        Err(e) => {
            let _ = writeln!(io.err, "Error retrieving job versions: {e}");
            return 1;
        }
    };
    let (versions, diffs) = (resp.versions, resp.diffs);
    if let Some(v) = args.version.as_deref().filter(|v| !v.is_empty()) {
        let want: u64 = match v.parse() {
            Ok(n) => n,
            Err(e) => {
                let _ = writeln!(
                    io.err,
                    "Error parsing version value {v:?}: strconv.ParseUint: parsing {v:?}: {}",
                    go_parse_error(&e)
                );
                return 1;
            }
        };
        let found = versions.iter().position(|j| j.version() == want);
        let job = found.map(|i| &versions[i]);
        let diff = found.and_then(|i| diffs.get(i));
        if args.json {
            return print_json(io, &job);
        }
        return match format_version(job, diff, args.full) {
            Ok(text) => {
                let _ = writeln!(io.out, "{text}");
                0
            }
            Err(e) => {
                let _ = writeln!(io.err, "{e}");
                1
            }
        };
    }
    if args.json {
        return print_json(io, &versions);
    }
    if !diffs.is_empty() && versions.len() != diffs.len() + 1 {
        let _ = writeln!(
            io.err,
            "Number of job versions {} doesn't match number of diffs {}",
            versions.len(),
            diffs.len()
        );
        return 1;
    }
    for (i, job) in versions.iter().enumerate() {
        match format_version(Some(job), diffs.get(i), args.full) {
            Ok(text) => {
                let _ = writeln!(io.out, "{text}");
            }
            Err(e) => {
                let _ = writeln!(io.err, "{e}");
                return 1;
            }
        }
        if i + 1 != versions.len() {
            let _ = writeln!(io.out);
        }
    }
    0
}

/// Go's `strconv` error text for a bad unsigned number.
fn go_parse_error(e: &std::num::ParseIntError) -> &'static str {
    match e.kind() {
        std::num::IntErrorKind::PosOverflow => "value out of range",
        _ => "invalid syntax",
    }
}

/// `formatJobVersion`: a key/value block (columnize with `NoTrim`), whose
/// `Diff` and `Full` values start on the line after their key.
fn format_version(job: Option<&Job>, diff: Option<&JobDiff>, full: bool) -> Result<String, String> {
    let Some(job) = job else {
        return Err("Error printing job history for non-existing job or job version".to_string());
    };
    let mut rows: Vec<(&str, String)> = vec![
        ("Version", job.version().to_string()),
        ("Stable", job.stable.unwrap_or(false).to_string()),
        (
            "Submit Date",
            format_unix_nanos(job.submit_time.unwrap_or(0)),
        ),
    ];
    if let Some(tag) = &job.version_tag {
        rows.push(("Tag Name", tag.name.clone()));
        if !tag.description.is_empty() {
            rows.push(("Tag Description", tag.description.clone()));
        }
    }
    if let Some(d) = diff.filter(|d| d.diff_type.as_str() != "None") {
        rows.push(("Diff", format!("\n{}", format_job_diff(d, false).trim())));
    }
    if full {
        let text = nomad_types::json::to_string_pretty_go(job)
            .map_err(|e| format!("Error formatting the data: {e}"))?;
        rows.push(("Full", format!("JSON Job:\n{text}")));
    }
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let lines: Vec<String> = rows
        .iter()
        .map(|(k, v)| format!("{k:<width$} = {v}"))
        .collect();
    Ok(lines.join("\n"))
}

#[derive(Debug, Args)]
pub struct RevertArgs {
    /// Return right after the revert, printing the evaluation ID.
    #[arg(long)]
    detach: bool,
    /// Full IDs.
    #[arg(long)]
    verbose: bool,
    /// Consul token (accepted; Consul is not integrated).
    #[arg(long = "consul-token", hide = true)]
    consul_token: Option<String>,
    /// Vault token (accepted; Vault is not integrated).
    #[arg(long = "vault-token", hide = true)]
    vault_token: Option<String>,
    /// `<job> <version|tag>`.
    args: Vec<String>,
}

/// `nomad job revert [-detach] [-verbose] <job> <version|tag>`: registers
/// the version again, then monitors the evaluation as `job run` does.
pub fn revert(args: RevertArgs, g: &GlobalArgs, io: &mut Io<'_>) -> i32 {
    let len = if args.verbose { FULL_ID } else { SHORT_ID };
    let [job, version] = args.args.as_slice() else {
        let _ = writeln!(
            io.err,
            "This command takes two arguments: <job> <version|tag>"
        );
        let _ = writeln!(io.err, "{}", help_hint("job revert"));
        return 1;
    };
    let Some(ctx) = Ctx::new(g, io) else { return 1 };
    let version = match version.parse::<u64>() {
        Ok(v) => v,
        Err(_) => match version_by_tag(&ctx, job, version) {
            Ok(v) => v,
            Err(e) => {
                let _ = writeln!(io.err, "Error retrieving job versions: {e}");
                return 1;
            }
        },
    };
    let (id, ns) = match job_id_by_prefix(&ctx, job.trim()) {
        Ok(x) => x,
        Err(e) => {
            let _ = writeln!(io.err, "{e}");
            return 1;
        }
    };
    let resp = match ctx.block(ctx.client.job_revert(&id, version, None, &ns)) {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(io.err, "Error retrieving job versions: {e}");
            return 1;
        }
    };
    if resp.eval_id.is_empty() {
        return 0;
    }
    if args.detach {
        let _ = writeln!(io.out, "Evaluation ID: {}", resp.eval_id);
        return 0;
    }
    monitor::monitor(&ctx, io, &resp.eval_id, len)
}

/// The version of `job` tagged `tag` (Nomad's `Jobs.VersionByTag`).
fn version_by_tag(ctx: &Ctx, job: &str, tag: &str) -> Result<u64, String> {
    let (resp, _) = ctx
        .block(
            ctx.client
                .job_versions(job, false, &QueryOptions::default()),
        )
        .map_err(|e| e.to_string())?;
    resp.versions
        .iter()
        .find(|j| j.version_tag.as_ref().is_some_and(|t| t.name == tag))
        .map(|j| j.version())
        .ok_or_else(|| format!("version tag {tag} not found for job {job}"))
}
