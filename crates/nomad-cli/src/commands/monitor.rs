//! The evaluation monitor of `job run` and `job stop` (`command/monitor.go`)
//! and the non-terminal deployment monitor (`deployment_status.go`).
//!
//! Info lines are prefixed `==> `, output lines four spaces, each with the
//! time. Instead of Nomad's one-second polling it waits with blocking
//! queries, so a change shows as soon as it is committed.

use std::collections::BTreeMap;
use std::time::Duration;

use nomad_api_client::QueryOptions;
use nomad_types::Deployment;

use super::common::{failed_tg_line, format_alloc_metrics, format_alloc_stubs, format_deployment};
use crate::ctx::Ctx;
use crate::format::{limit, now_time, FULL_ID};
use crate::Io;

#[derive(Clone, Default)]
struct AllocState {
    group: String,
    node: String,
    desired: String,
    client: String,
    client_desc: String,
    index: u64,
}

#[derive(Clone)]
struct EvalState {
    status: String,
    node: String,
    deployment: String,
    job: String,
    allocs: BTreeMap<String, AllocState>,
    index: u64,
}

impl EvalState {
    fn new() -> Self {
        EvalState {
            status: "pending".into(),
            node: String::new(),
            deployment: String::new(),
            job: String::new(),
            allocs: BTreeMap::new(),
            index: 0,
        }
    }
}

fn info(io: &mut Io<'_>, msg: &str) {
    let _ = writeln!(io.out, "==> {msg}");
}

fn output(io: &mut Io<'_>, msg: &str) {
    let _ = writeln!(io.out, "    {msg}");
}

/// Prints what changed between two observations.
fn update(io: &mut Io<'_>, old: &EvalState, new: &EvalState, len: usize) {
    let t = now_time();
    if old.node.is_empty() && !new.node.is_empty() {
        output(
            io,
            &format!(
                "{t}: Evaluation triggered by node {:?}",
                limit(&new.node, len)
            ),
        );
    }
    if old.job.is_empty() && !new.job.is_empty() {
        output(
            io,
            &format!("{t}: Evaluation triggered by job {:?}", new.job),
        );
    }
    if old.deployment.is_empty() && !new.deployment.is_empty() {
        output(
            io,
            &format!(
                "{t}: Evaluation within deployment: {:?}",
                limit(&new.deployment, len)
            ),
        );
    }
    for (id, a) in &new.allocs {
        match old.allocs.get(id) {
            None => {
                if a.index < new.index {
                    output(
                        io,
                        &format!(
                            "{t}: Allocation {:?} modified: node {:?}, group {:?}",
                            limit(id, len),
                            limit(&a.node, len),
                            a.group
                        ),
                    );
                } else if a.desired == "run" {
                    output(
                        io,
                        &format!(
                            "{t}: Allocation {:?} created: node {:?}, group {:?}",
                            limit(id, len),
                            limit(&a.node, len),
                            a.group
                        ),
                    );
                }
            }
            Some(prev) if prev.client != a.client => {
                let desc = if a.client_desc.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", a.client_desc)
                };
                output(
                    io,
                    &format!(
                        "{t}: Allocation {:?} status changed: {:?} -> {:?}{desc}",
                        limit(id, len),
                        prev.client,
                        a.client
                    ),
                );
            }
            Some(_) => {}
        }
    }
    if !old.status.is_empty() && new.status != "pending" && old.status != new.status {
        output(
            io,
            &format!(
                "{t}: Evaluation status changed: {:?} -> {:?}",
                old.status, new.status
            ),
        );
    }
}

/// Monitors an evaluation (then its deployment, if any) to the end.
/// Returns 0 on success, 2 on placement failures, 1 on errors or a failed
/// deployment.
pub fn monitor(ctx: &Ctx, io: &mut Io<'_>, eval_id: &str, len: usize) -> i32 {
    let mut state = EvalState::new();
    let mut eval_id = eval_id.to_string();
    let mut sched_failure = false;
    info(
        io,
        &format!(
            "{}: Monitoring evaluation {:?}",
            now_time(),
            limit(&eval_id, len)
        ),
    );
    let mut index = 0u64;
    loop {
        let q = QueryOptions::blocking(index, Duration::from_secs(2));
        let eval = match ctx.block(ctx.client.evaluation_info(&eval_id, &q)) {
            Ok((e, meta)) => {
                index = meta.last_index;
                e
            }
            Err(_) => {
                info(io, &format!("No evaluation with id {eval_id:?} found"));
                return 1;
            }
        };
        let allocs = match ctx.block(
            ctx.client
                .evaluation_allocations(&eval.id, &QueryOptions::default()),
        ) {
            Ok((a, _)) => a,
            Err(e) => {
                info(
                    io,
                    &format!("{}: Error reading allocations: {e}", now_time()),
                );
                return 1;
            }
        };
        let mut new = EvalState {
            status: eval.status.clone(),
            node: eval.node_id.clone(),
            job: eval.job_id.clone(),
            deployment: eval.deployment_id.clone(),
            index: eval.create_index,
            allocs: BTreeMap::new(),
        };
        for a in allocs {
            new.allocs.insert(
                a.id.clone(),
                AllocState {
                    group: a.task_group,
                    node: a.node_id,
                    desired: a.desired_status,
                    client: a.client_status,
                    client_desc: a.client_description,
                    index: a.create_index,
                },
            );
        }
        update(io, &state, &new, len);
        state = new;
        match eval.status.as_str() {
            "complete" | "failed" | "canceled" => {}
            _ => continue,
        }
        if eval.failed_tg_allocs.is_empty() {
            info(
                io,
                &format!(
                    "{}: Evaluation {:?} finished with status {:?}",
                    now_time(),
                    limit(&eval.id, len),
                    eval.status
                ),
            );
        } else {
            sched_failure = true;
            info(
                io,
                &format!(
                    "{}: Evaluation {:?} finished with status {:?} but failed to place all allocations:",
                    now_time(),
                    limit(&eval.id, len),
                    eval.status
                ),
            );
            for (tg, m) in &eval.failed_tg_allocs {
                output(io, &format!("{}: {}", now_time(), failed_tg_line(tg, m)));
                for line in format_alloc_metrics(m, "  ").lines() {
                    output(io, line);
                }
            }
            if !eval.blocked_eval.is_empty() {
                output(
                    io,
                    &format!(
                        "{}: Evaluation {:?} waiting for additional capacity to place remainder",
                        now_time(),
                        limit(&eval.blocked_eval, len)
                    ),
                );
            }
        }
        if !eval.next_eval.is_empty() {
            if let Some(wait) = eval.wait.to_std().filter(|w| !w.is_zero()) {
                info(
                    io,
                    &format!(
                        "{}: Monitoring next evaluation {:?} in {}",
                        now_time(),
                        limit(&eval.next_eval, len),
                        eval.wait
                    ),
                );
                ctx.sleep(wait);
            }
            eval_id = eval.next_eval.clone();
            state = EvalState::new();
            index = 0;
            continue;
        }
        break;
    }
    if !state.deployment.is_empty() {
        let dep = state.deployment.clone();
        info(
            io,
            &format!(
                "{}: Monitoring deployment {:?}",
                now_time(),
                limit(&dep, len)
            ),
        );
        let status = monitor_deployment(
            ctx,
            io,
            &dep,
            DeployWatch {
                verbose: len == FULL_ID,
                wait: Duration::from_secs(5),
                prefix: "    ",
            },
        );
        if status != "successful" {
            return 1;
        }
        sched_failure = false;
    }
    if sched_failure {
        2
    } else {
        0
    }
}

/// How [`monitor_deployment`] follows a deployment.
#[derive(Debug, Clone, Copy)]
pub struct DeployWatch {
    /// Full IDs, and the deployment's allocations under each block.
    pub verbose: bool,
    /// How long one poll waits for a change.
    pub wait: Duration,
    /// Written before each block's leading blank line: `"    "` inside
    /// `job run`'s monitor (Nomad's prefixed output), `""` for
    /// `deployment status -monitor`.
    pub prefix: &'static str,
}

/// Nomad's non-interactive deployment monitor: follows a deployment until
/// it is terminal, printing a blank line, the time and its status block
/// (with the `Deployed` table) each time it changes; after a failure with
/// `auto_revert`, follows the rollback deployment too. Returns the final
/// status (of this deployment, not the rollback), empty on errors.
pub fn monitor_deployment(ctx: &Ctx, io: &mut Io<'_>, id: &str, w: DeployWatch) -> String {
    let len = if w.verbose {
        FULL_ID
    } else {
        crate::format::SHORT_ID
    };
    let mut index = 0;
    let mut printed: Option<u64> = None;
    loop {
        let q = QueryOptions {
            allow_stale: true,
            ..QueryOptions::blocking(index, w.wait)
        };
        let d: Deployment = match ctx.block(ctx.client.deployment_info(id, &q)) {
            Ok((d, meta)) => {
                index = meta.last_index;
                d
            }
            Err(e) => {
                let _ = writeln!(io.err, "{}: Error fetching deployment: {e}", now_time());
                return String::new();
            }
        };
        if printed != Some(d.modify_index) {
            printed = Some(d.modify_index);
            let mut info = format!("{}\n{}", now_time(), format_deployment(&d, len));
            if w.verbose {
                info.push_str("\n\nAllocations\n");
                match ctx.block(
                    ctx.client
                        .deployment_allocations(id, &QueryOptions::default()),
                ) {
                    Ok((allocs, _)) => info.push_str(&format_alloc_stubs(&allocs, true, len)),
                    Err(e) => info.push_str(&format!("Error fetching allocations: {e}")),
                }
            }
            let _ = writeln!(io.out, "{}\n{info}", w.prefix);
        }
        match d.status.as_str() {
            "failed" => {
                if d.task_groups.values().any(|s| s.auto_revert) {
                    ctx.sleep(Duration::from_secs(1));
                    let rollback = ctx.block(
                        ctx.client
                            .job_latest_deployment(&d.job_id, &QueryOptions::default()),
                    );
                    let _ = writeln!(io.out);
                    match rollback {
                        Ok((Some(r), _)) if r.id != d.id => {
                            monitor_deployment(ctx, io, &r.id, w);
                        }
                        Ok(_) => {}
                        Err(e) => {
                            let _ = writeln!(
                                io.err,
                                "{}: Error fetching deployment of previous job version: {e}",
                                now_time()
                            );
                        }
                    }
                }
                return d.status;
            }
            "successful" | "cancelled" | "blocked" => return d.status,
            _ => {}
        }
    }
}
