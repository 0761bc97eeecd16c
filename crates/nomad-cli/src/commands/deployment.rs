//! `nomad deployment list` and `nomad deployment status`
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
    let deps = match ctx.block(ctx.client.deployments_list(&QueryOptions::default())) {
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
        let len = if args.verbose { FULL_ID } else { SHORT_ID };
        return match resolve(&ctx, &id, len, io) {
            Ok(d) => {
                let _ = writeln!(
                    io.out,
                    "{}: Monitoring deployment {:?}",
                    now_time(),
                    limit(&d.id, len)
                );
                let status = super::monitor::monitor_deployment(&ctx, io, &d.id, args.verbose);
                i32::from(status != "successful")
            }
            Err(code) => code,
        };
    }
    status_of(&ctx, &id, args.verbose, args.json, io)
}

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
