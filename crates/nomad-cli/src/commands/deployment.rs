//! `nomad deployment list|status|promote|fail|pause|resume`
//! (`command/deployment_*.go`).

use clap::Args;
use nomad_api_client::QueryOptions;
use nomad_types::Deployment;

use super::common::{format_deployment, print_json, ID_TOO_SHORT};
use crate::ctx::{Ctx, GlobalArgs};
use crate::format::{format_list, limit, now_time, FULL_ID, SHORT_ID};
use crate::Io;

#[derive(Debug, Args)]
pub struct DeploymentListArgs {
    /// Full IDs.
    #[arg(long)]
    verbose: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Only the objects this go-bexpr expression passes
    /// (`Status == "running"`).
    #[arg(long, default_value = "")]
    filter: String,
}

#[derive(Debug, Args)]
pub struct DeploymentStatusArgs {
    /// Full IDs.
    #[arg(long)]
    verbose: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Follow the deployment until it ends.
    #[arg(long)]
    monitor: bool,
    /// How long each poll of the monitor waits for a change (Go duration).
    #[arg(long, default_value = "2s")]
    wait: String,
    /// The deployment (ID or prefix).
    deployment: Option<String>,
}

/// `formatDeployments`: newest first.
fn format_deployments(deps: &[Deployment], len: usize) -> String {
    let mut sorted: Vec<&Deployment> = deps.iter().collect();
    sorted.sort_by_key(|d| std::cmp::Reverse(d.create_index));
    let mut rows = vec!["ID|Job ID|Job Version|Status|Description".to_string()];
    for d in sorted {
        rows.push(format!(
            "{}|{}|{}|{}|{}",
            limit(&d.id, len),
            d.job_id,
            d.job_version,
            d.status,
            d.status_description
        ));
    }
    format_list(&rows)
}

pub fn list(args: DeploymentListArgs, g: &GlobalArgs, io: &mut Io<'_>) -> i32 {
    let Some(ctx) = Ctx::new(g, io) else { return 1 };
    let q = QueryOptions::default().filtered(args.filter.clone());
    let deps = match ctx.block(ctx.client.deployments_list(&q)) {
        Ok((d, _)) => d,
        Err(e) => {
            let _ = writeln!(io.err, "Error retrieving deployments: {e}");
            return 1;
        }
    };
    if args.json {
        return print_json(io, &deps);
    }
    if deps.is_empty() {
        let _ = writeln!(io.out, "No deployments found");
        return 0;
    }
    let len = if args.verbose { FULL_ID } else { SHORT_ID };
    let _ = writeln!(io.out, "{}", format_deployments(&deps, len));
    0
}

pub fn status(args: DeploymentStatusArgs, g: &GlobalArgs, io: &mut Io<'_>) -> i32 {
    let Some(ctx) = Ctx::new(g, io) else { return 1 };
    let Some(id) = args.deployment.clone() else {
        let _ = writeln!(io.err, "This command takes one argument: <deployment id>");
        return 1;
    };
    if args.monitor {
        if args.json {
            let _ = writeln!(
                io.err,
                "The monitor flag cannot be used with the '-json' or '-t' flags"
            );
            return 1;
        }
        let wait = match args.wait.trim().parse::<nomad_types::Nanos>() {
            Ok(w) => w.to_std().unwrap_or_default(),
            Err(_) => {
                let _ = writeln!(
                    io.err,
                    "invalid value {:?} for flag -wait: parse error",
                    args.wait
                );
                return 1;
            }
        };
        let len = if args.verbose { FULL_ID } else { SHORT_ID };
        return match resolve(&ctx, &id, len, io) {
            Ok(d) => {
                let _ = writeln!(
                    io.out,
                    "{}: Monitoring deployment {:?}",
                    now_time(),
                    limit(&d.id, len)
                );
                // As Nomad's, the command succeeds whatever the outcome.
                super::monitor::monitor_deployment(
                    &ctx,
                    io,
                    &d.id,
                    super::monitor::DeployWatch {
                        verbose: args.verbose,
                        wait,
                        prefix: "",
                    },
                );
                0
            }
            Err(code) => code,
        };
    }
    status_of(&ctx, &id, args.verbose, args.json, io)
}

/// Nomad's `getDeployment` with its error texts; `Err(exit code)` when the
/// command is done.
fn resolve(ctx: &Ctx, id: &str, len: usize, io: &mut Io<'_>) -> Result<Deployment, i32> {
    if id.len() == 36 {
        return ctx
            .block(ctx.client.deployment_info(id, &QueryOptions::default()))
            .map(|(d, _)| d)
            .map_err(|e| {
                let _ = writeln!(io.err, "Error retrieving deployment: {e}");
                1
            });
    }
    let mut prefix = id.replace('-', "");
    if prefix.len() == 1 {
        let _ = writeln!(io.err, "Error retrieving deployment: {ID_TOO_SHORT}");
        return Err(1);
    }
    if prefix.len() % 2 == 1 {
        prefix.pop();
    }
    let deps = match ctx.block(
        ctx.client
            .deployments_list(&QueryOptions::prefix(prefix.clone())),
    ) {
        Ok((d, _)) => d,
        Err(e) => {
            let _ = writeln!(io.err, "Error retrieving deployment: {e}");
            return Err(1);
        }
    };
    match deps.len() {
        0 => {
            let _ = writeln!(
                io.err,
                "Error retrieving deployment: Deployment ID {prefix:?} matched no deployments"
            );
            Err(1)
        }
        1 => Ok(deps.into_iter().next().unwrap_or_default()),
        _ => {
            let _ = writeln!(
                io.err,
                "Prefix matched multiple deployments\n\n{}",
                format_deployments(&deps, len)
            );
            Err(1)
        }
    }
}

/// `deployment status <prefix>`.
pub fn status_of(ctx: &Ctx, id: &str, verbose: bool, json: bool, io: &mut Io<'_>) -> i32 {
    let len = if verbose { FULL_ID } else { SHORT_ID };
    let d = match resolve(ctx, id, len, io) {
        Ok(d) => d,
        Err(code) => return code,
    };
    if json {
        return print_json(io, &d);
    }
    let _ = writeln!(io.out, "{}", format_deployment(&d, len));
    0
}

#[derive(Debug, Args)]
pub struct DeploymentPromoteArgs {
    /// Promote only this group's canaries (repeatable; default: all groups).
    #[arg(long, value_name = "group")]
    group: Vec<String>,
    /// Return right after the promotion, printing the evaluation ID.
    #[arg(long)]
    detach: bool,
    /// Full IDs.
    #[arg(long)]
    verbose: bool,
    /// The deployment (ID or prefix).
    args: Vec<String>,
}

/// Arguments of `deployment fail` and `deployment resume`.
#[derive(Debug, Args)]
pub struct DeploymentActionArgs {
    /// Return right after the change, without monitoring its evaluation.
    #[arg(long)]
    detach: bool,
    /// Full IDs.
    #[arg(long)]
    verbose: bool,
    /// The deployment (ID or prefix).
    args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct DeploymentPauseArgs {
    /// Full IDs.
    #[arg(long)]
    verbose: bool,
    /// The deployment (ID or prefix).
    args: Vec<String>,
}

/// The one deployment argument, or Nomad's usage error.
fn one_deployment<'a>(args: &'a [String], command: &str, io: &mut Io<'_>) -> Option<&'a str> {
    match args {
        [id] => Some(id.as_str()),
        _ => {
            let _ = writeln!(io.err, "This command takes one argument: <deployment id>");
            let _ = writeln!(io.err, "{}", super::servers::help_hint(command));
            None
        }
    }
}

/// Monitors the evaluation an action created, unless detached or none.
fn follow_eval(ctx: &Ctx, io: &mut Io<'_>, eval_id: &str, detach: bool, len: usize) -> i32 {
    if detach || eval_id.is_empty() {
        return 0;
    }
    let _ = writeln!(io.out);
    super::monitor::monitor(ctx, io, eval_id, len)
}

/// `nomad deployment promote [-group G]... [-detach] <deployment>`.
pub fn promote(args: DeploymentPromoteArgs, g: &GlobalArgs, io: &mut Io<'_>) -> i32 {
    let Some(id) = one_deployment(&args.args, "deployment promote", io) else {
        return 1;
    };
    let len = if args.verbose { FULL_ID } else { SHORT_ID };
    let Some(ctx) = Ctx::new(g, io) else { return 1 };
    let d = match resolve(&ctx, id, len, io) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let all = args.group.is_empty();
    let u = match ctx.block(
        ctx.client
            .deployment_promote(&d.id, all, args.group.clone()),
    ) {
        Ok(u) => u,
        Err(e) => {
            let _ = writeln!(io.err, "Error promoting deployment: {e}");
            return 1;
        }
    };
    if u.eval_id.is_empty() {
        return 0;
    }
    if args.detach {
        let _ = writeln!(io.out, "Evaluation ID: {}", u.eval_id);
        return 0;
    }
    super::monitor::monitor(&ctx, io, &u.eval_id, len)
}

/// `nomad deployment fail [-detach] <deployment>`.
pub fn fail(args: DeploymentActionArgs, g: &GlobalArgs, io: &mut Io<'_>) -> i32 {
    let Some(id) = one_deployment(&args.args, "deployment fail", io) else {
        return 1;
    };
    let len = if args.verbose { FULL_ID } else { SHORT_ID };
    let Some(ctx) = Ctx::new(g, io) else { return 1 };
    let d = match resolve(&ctx, id, len, io) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let u = match ctx.block(ctx.client.deployment_fail(&d.id)) {
        Ok(u) => u,
        Err(e) => {
            let _ = writeln!(io.err, "Error failing deployment: {e}");
            return 1;
        }
    };
    match u.reverted_job_version {
        None => {
            let _ = writeln!(io.out, "Deployment {:?} failed", d.id);
        }
        Some(v) => {
            let _ = writeln!(
                io.out,
                "Deployment {:?} failed. Auto-reverted to job version {v}.",
                d.id
            );
        }
    }
    follow_eval(&ctx, io, &u.eval_id, args.detach, len)
}

/// `nomad deployment pause <deployment>`.
pub fn pause(args: DeploymentPauseArgs, g: &GlobalArgs, io: &mut Io<'_>) -> i32 {
    let Some(id) = one_deployment(&args.args, "deployment pause", io) else {
        return 1;
    };
    let len = if args.verbose { FULL_ID } else { SHORT_ID };
    let Some(ctx) = Ctx::new(g, io) else { return 1 };
    let d = match resolve(&ctx, id, len, io) {
        Ok(d) => d,
        Err(code) => return code,
    };
    if let Err(e) = ctx.block(ctx.client.deployment_pause(&d.id, true)) {
        let _ = writeln!(io.err, "Error pausing deployment: {e}");
        return 1;
    }
    let _ = writeln!(io.out, "Deployment {:?} paused", d.id);
    0
}

/// `nomad deployment resume [-detach] <deployment>`.
pub fn resume(args: DeploymentActionArgs, g: &GlobalArgs, io: &mut Io<'_>) -> i32 {
    let Some(id) = one_deployment(&args.args, "deployment resume", io) else {
        return 1;
    };
    let len = if args.verbose { FULL_ID } else { SHORT_ID };
    let Some(ctx) = Ctx::new(g, io) else { return 1 };
    let d = match resolve(&ctx, id, len, io) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let u = match ctx.block(ctx.client.deployment_pause(&d.id, false)) {
        Ok(u) => u,
        Err(e) => {
            let _ = writeln!(io.err, "Error resuming deployment: {e}");
            return 1;
        }
    };
    let _ = writeln!(io.out, "Deployment {:?} resumed", d.id);
    follow_eval(&ctx, io, &u.eval_id, args.detach, len)
}
