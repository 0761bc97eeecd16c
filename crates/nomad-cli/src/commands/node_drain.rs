//! `nomad node drain` (`command/node_drain.go`, with the drain monitor of
//! the Go API's `Nodes.MonitorDrain`) and `nomad node eligibility`
//! (`command/node_eligibility.go`).
//!
//! The drain monitor follows the node and its allocations with blocking
//! queries, one after the other on this thread, and prints what Nomad's
//! does: allocations marked for migration, draining and changing status,
//! `All allocations on node "…" have stopped` once none is pending or
//! running, and `Drain complete for node …` once the node's drain strategy
//! is gone. It returns when both have been seen.

use std::collections::BTreeMap;
use std::io::BufRead as _;
use std::time::Duration;

use clap::Args;
use nomad_api_client::QueryOptions;
use nomad_types::api::NodeUpdateDrainRequest;
use nomad_types::node::DrainSpec;
use nomad_types::{Allocation, Nanos, Node};

use super::common::ID_TOO_SHORT;
use super::node::stub_list;
use super::servers::help_hint;
use crate::ctx::{Ctx, GlobalArgs};
use crate::format::{now_time, sanitize_uuid_prefix};
use crate::Io;

/// The deadline when none is given.
const DEFAULT_DEADLINE: Nanos = Nanos(3_600_000_000_000);

/// How long one poll of the drain monitor waits for a change.
const MONITOR_WAIT: Duration = Duration::from_millis(500);

#[derive(Debug, Args)]
pub struct DrainArgs {
    /// Enable draining.
    #[arg(long)]
    enable: bool,
    /// Disable draining.
    #[arg(long)]
    disable: bool,
    /// Force-stop what is left after this long (Go duration; default 1h).
    #[arg(long, default_value = "")]
    deadline: String,
    /// Return right after the update, without monitoring.
    #[arg(long)]
    detach: bool,
    /// Only monitor the drain in progress.
    #[arg(long)]
    monitor: bool,
    /// Stop every allocation now.
    #[arg(long)]
    force: bool,
    /// Never force-stop allocations.
    #[arg(long = "no-deadline")]
    no_deadline: bool,
    /// Leave system jobs' allocations in place.
    #[arg(long = "ignore-system")]
    ignore_system: bool,
    /// Keep the node ineligible when disabling the drain.
    #[arg(long = "keep-ineligible")]
    keep_ineligible: bool,
    /// A message stored in the drain's metadata.
    #[arg(short = 'm', default_value = "")]
    message: String,
    /// `key=value` stored in the drain's metadata (repeatable).
    #[arg(long)]
    meta: Vec<String>,
    /// Drain the local node.
    #[arg(long = "self")]
    self_: bool,
    /// Do not ask for confirmation.
    #[arg(long)]
    yes: bool,
    /// The node (ID or prefix).
    args: Vec<String>,
}

/// Prints a usage error with Nomad's help hint.
fn usage(io: &mut Io<'_>, msg: &str, command: &str) -> i32 {
    let _ = writeln!(io.err, "{msg}");
    let _ = writeln!(io.err, "{}", help_hint(command));
    1
}

/// `nomad node drain -enable|-disable [options] <node>|-self`.
pub fn drain(args: DrainArgs, g: &GlobalArgs, io: &mut Io<'_>) -> i32 {
    const CMD: &str = "node drain";
    if args.monitor && (args.enable || args.disable) {
        return usage(
            io,
            "The -monitor flag cannot be used with the '-enable' or '-disable' flags",
            CMD,
        );
    }
    if (args.enable && args.disable) || (!args.monitor && !args.enable && !args.disable) {
        return usage(
            io,
            "Either the '-enable' or '-disable' flag must be set, unless using '-monitor'",
            CMD,
        );
    }
    if (args.self_ && !args.args.is_empty()) || (!args.self_ && args.args.len() != 1) {
        return usage(
            io,
            "Node ID must be specified if -self isn't being used",
            CMD,
        );
    }
    let has_deadline = !args.deadline.is_empty();
    if args.disable && (has_deadline || args.force || args.no_deadline || args.ignore_system) {
        return usage(
            io,
            "-disable can't be combined with flags configuring drain strategy",
            CMD,
        );
    }
    if has_deadline && (args.force || args.no_deadline) {
        return usage(
            io,
            "-deadline can't be combined with -force or -no-deadline",
            CMD,
        );
    }
    if args.force && args.no_deadline {
        return usage(io, "-force and -no-deadline are mutually exclusive", CMD);
    }
    let deadline = if args.force {
        Nanos(-1_000_000_000)
    } else if args.no_deadline {
        Nanos(0)
    } else if has_deadline {
        match args.deadline.trim().parse::<Nanos>() {
            Ok(d) if d.0 <= 0 => {
                let _ = writeln!(io.err, "A positive drain duration must be given");
                return 1;
            }
            Ok(d) => d,
            Err(_) => {
                let _ = writeln!(
                    io.err,
                    "Failed to parse deadline {:?}: time: invalid duration {:?}",
                    args.deadline, args.deadline
                );
                return 1;
            }
        }
    } else {
        DEFAULT_DEADLINE
    };
    let Some(ctx) = Ctx::new(g, io) else { return 1 };
    let (prefix, node, index) =
        match find_node(&ctx, &args.args, args.self_, io, "toggling drain mode") {
            Ok(x) => x,
            Err(code) => return code,
        };
    if args.monitor {
        if node.drain_strategy.is_none() {
            let _ = writeln!(io.err, "No drain strategy set");
            return 0;
        }
        let _ = writeln!(
            io.out,
            "{}: Monitoring node {:?}: Ctrl-C to detach monitoring",
            now_time(),
            node.id
        );
        monitor_drain(&ctx, io, &node.id, index, args.ignore_system);
        return 0;
    }
    if prefix != node.id && !args.yes {
        let verb = if args.disable { "disable" } else { "enable" };
        match confirm(
            io,
            &format!(
                "Are you sure you want to {verb} drain mode for node {:?}? [y/N]",
                node.id
            ),
            "Canceling drain toggle",
        ) {
            Ok(()) => {}
            Err(code) => return code,
        }
    }
    let spec = args.enable.then_some(DrainSpec {
        deadline,
        ignore_system_jobs: args.ignore_system,
    });
    let mut meta: BTreeMap<String, String> = BTreeMap::new();
    if args.disable {
        if let Some(d) = &node.last_drain {
            meta = d.meta.clone();
        }
    }
    if !args.message.is_empty() {
        let key = if args.enable {
            "message"
        } else {
            "cancel_message"
        };
        meta.insert(key.to_string(), args.message.clone());
    }
    for m in args.meta.iter().filter(|m| !m.is_empty()) {
        let (k, v) = m.split_once('=').unwrap_or((m.as_str(), ""));
        meta.insert(k.to_string(), v.to_string());
    }
    let req = NodeUpdateDrainRequest {
        node_id: node.id.clone(),
        drain_spec: spec,
        mark_eligible: !args.keep_ineligible,
        meta,
    };
    let resp = match ctx.block(ctx.client.node_drain(&req)) {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(io.err, "Error updating drain specification: {e}");
            return 1;
        }
    };
    if !args.enable || args.detach {
        let what = if args.enable { "set" } else { "unset" };
        let _ = writeln!(io.out, "Node {:?} drain strategy {what}", node.id);
    }
    if args.enable && !args.detach {
        let now = now_time();
        let _ = writeln!(
            io.out,
            "{now}: Ctrl-C to stop monitoring: will not cancel the node drain"
        );
        let _ = writeln!(io.out, "{now}: Node {:?} drain strategy set", node.id);
        monitor_drain(&ctx, io, &node.id, resp.index, args.ignore_system);
    }
    0
}

/// Asks `question` (Nomad's `Ui.Ask`); `Ok` on an exact `y`.
fn confirm(io: &mut Io<'_>, question: &str, cancelled: &str) -> Result<(), i32> {
    let _ = write!(io.out, "{question} ");
    let _ = io.out.flush();
    let mut answer = String::new();
    let mut reader = std::io::BufReader::new(&mut *io.stdin);
    if let Err(e) = reader.read_line(&mut answer) {
        let _ = writeln!(io.err, "Failed to parse answer: {e}");
        return Err(1);
    }
    let answer = answer.trim();
    let lower = answer.to_lowercase();
    if answer.is_empty() || lower.starts_with('n') {
        let _ = writeln!(io.out, "{cancelled}");
        return Err(0);
    }
    if lower.starts_with('y') && answer.len() > 1 {
        let _ = writeln!(io.out, "For confirmation, an exact ‘y’ is required.");
        return Err(0);
    }
    if answer != "y" {
        let _ = writeln!(
            io.out,
            "No confirmation detected. For confirmation, an exact 'y' is required."
        );
        return Err(1);
    }
    Ok(())
}

/// The node `args` (or `-self`) names: the sanitized prefix, the node and
/// the index it was read at. `Err(exit code)` once the error is printed.
fn find_node(
    ctx: &Ctx,
    args: &[String],
    self_: bool,
    io: &mut Io<'_>,
    doing: &str,
) -> Result<(String, Node, u64), i32> {
    let id = if self_ {
        match local_node_id(ctx) {
            Ok(id) => id,
            Err(e) => {
                let _ = writeln!(io.err, "{e}");
                return Err(1);
            }
        }
    } else {
        args[0].clone()
    };
    if id.len() == 1 {
        let _ = writeln!(io.err, "{ID_TOO_SHORT}");
        return Err(1);
    }
    let id = sanitize_uuid_prefix(&id);
    let nodes = match ctx.block(ctx.client.nodes_list(&QueryOptions::prefix(id.clone()))) {
        Ok((n, _)) => n,
        Err(e) => {
            let _ = writeln!(io.err, "Error {doing}: {e}");
            return Err(1);
        }
    };
    match nodes.len() {
        0 => {
            let _ = writeln!(io.err, "No node(s) with prefix or id {id:?} found");
            return Err(1);
        }
        1 => {}
        _ => {
            let _ = writeln!(
                io.err,
                "Prefix matched multiple nodes\n\n{}",
                stub_list(&nodes, true)
            );
            return Err(1);
        }
    }
    match ctx.block(ctx.client.node_info(&nodes[0].id, &QueryOptions::default())) {
        Ok((n, meta)) => Ok((id, n, meta.last_index)),
        Err(e) => {
            let _ = writeln!(io.err, "Error {doing}: {e}");
            Err(1)
        }
    }
}

/// Nomad's `getLocalNodeID`: the agent's client node.
fn local_node_id(ctx: &Ctx) -> Result<String, String> {
    let info = ctx
        .block(ctx.client.agent_self())
        .map_err(|e| format!("Error querying agent info: {e}"))?;
    let client = info
        .stats
        .get("client")
        .ok_or_else(|| "Nomad not running in client mode".to_string())?;
    client
        .get("node_id")
        .cloned()
        .ok_or_else(|| "Failed to determine node ID".to_string())
}

/// The allocation half of the drain monitor: what it has seen so far.
struct AllocWatch<'a> {
    node_id: &'a str,
    ignore_system: bool,
    index: u64,
    seen: Option<BTreeMap<String, Allocation>>,
    done: bool,
}

impl AllocWatch<'_> {
    /// One poll of the node's allocations (blocking when `block`): prints
    /// their changes, and `All allocations … have stopped` once none is
    /// pending or running. `false` on an error (printed).
    fn poll(&mut self, ctx: &Ctx, io: &mut Io<'_>, block: bool) -> bool {
        let wait = if block { self.index } else { 0 };
        let q = QueryOptions {
            allow_stale: true,
            ..QueryOptions::blocking(wait, MONITOR_WAIT)
        };
        let (mut allocs, meta) = match ctx.block(ctx.client.node_allocations(self.node_id, &q)) {
            Ok(x) => x,
            Err(e) => {
                let _ = writeln!(io.err, "{}: Error monitoring allocations: {e}", now_time());
                return false;
            }
        };
        self.index = meta.last_index;
        allocs.sort_by(|a, b| a.create_index.cmp(&b.create_index).then(a.id.cmp(&b.id)));
        let first = self.seen.is_none();
        let prev = self.seen.get_or_insert_with(BTreeMap::new);
        let mut running = 0;
        for a in &allocs {
            let old = prev.insert(a.id.clone(), a.clone());
            if let (false, Some(o)) = (first, old.as_ref()) {
                if let Some(msg) = alloc_change(o, a) {
                    let _ = writeln!(io.out, "{}: Alloc {:?} {msg}", now_time(), a.id);
                }
            } else if first
                && a.desired_transition.should_migrate()
                && a.desired_status == "run"
                && !a.client_terminal_status()
            {
                // Marked before the monitor's first look (the drainer can
                // be quicker than the first query): still worth a line.
                let _ = writeln!(
                    io.out,
                    "{}: Alloc {:?} marked for migration",
                    now_time(),
                    a.id
                );
            }
            let Some(job) = &a.job else { continue };
            if self.ignore_system && job.job_type() == "system" {
                continue;
            }
            if matches!(a.client_status.as_str(), "pending" | "running") {
                running += 1;
            }
        }
        if running == 0 {
            let _ = writeln!(
                io.out,
                "{}: All allocations on node {:?} have stopped",
                now_time(),
                self.node_id
            );
            self.done = true;
        }
        true
    }
}

/// Follows a drain (see the module documentation). `index` is the index
/// of the drain update: node changes after it are reported.
fn monitor_drain(ctx: &Ctx, io: &mut Io<'_>, node_id: &str, index: u64, ignore_system: bool) {
    let mut node_index = index;
    let mut node_done = false;
    let mut last_strategy = None;
    let mut allocs = AllocWatch {
        node_id,
        ignore_system,
        index: 0,
        seen: None,
        done: false,
    };
    while !(node_done && allocs.done) {
        if !allocs.done && !allocs.poll(ctx, io, true) {
            return;
        }
        if node_done {
            continue;
        }
        let q = QueryOptions {
            allow_stale: true,
            ..QueryOptions::blocking(node_index, MONITOR_WAIT)
        };
        let (node, meta) = match ctx.block(ctx.client.node_info(node_id, &q)) {
            Ok(x) => x,
            Err(e) => {
                let _ = writeln!(io.err, "{}: Error monitoring node: {e}", now_time());
                return;
            }
        };
        let changed = meta.last_index != node_index;
        node_index = meta.last_index;
        match &node.drain_strategy {
            None => {
                // What the allocations did meanwhile comes first.
                if !allocs.done && !allocs.poll(ctx, io, false) {
                    return;
                }
                let _ = writeln!(io.out, "{}: Drain complete for node {node_id}", now_time());
                node_done = true;
            }
            Some(s) => {
                if changed && node.status == "down" {
                    let _ = writeln!(io.err, "{}: Node {node_id:?} down", now_time());
                }
                if last_strategy.as_ref().is_some_and(|l| l != s) {
                    let _ = writeln!(
                        io.out,
                        "{}: Node {node_id:?} drain updated: {}",
                        now_time(),
                        drain_string(s)
                    );
                }
                last_strategy = Some(s.clone());
            }
        }
    }
}

/// What changed in an allocation, as the drain monitor words it.
fn alloc_change(old: &Allocation, new: &Allocation) -> Option<String> {
    let migrating = new.desired_transition.should_migrate();
    if old.client_status != new.client_status {
        return Some(format!(
            "status {} -> {}",
            old.client_status, new.client_status
        ));
    }
    if migrating && !old.desired_transition.should_migrate() {
        return Some("marked for migration".to_string());
    }
    if migrating && old.desired_status != new.desired_status && new.desired_status == "stop" {
        return Some("draining".to_string());
    }
    None
}

/// The Go API's `DrainStrategy.String`.
fn drain_string(s: &nomad_types::DrainStrategy) -> String {
    if s.ignore_system_jobs {
        format!(
            "drain ignoring system jobs and deadline at {}",
            s.force_deadline.0
        )
    } else {
        format!("drain with deadline at {}", s.force_deadline.0)
    }
}

#[derive(Debug, Args)]
pub struct EligibilityArgs {
    /// Mark the node eligible for scheduling.
    #[arg(long)]
    enable: bool,
    /// Mark the node ineligible for scheduling.
    #[arg(long)]
    disable: bool,
    /// The local node.
    #[arg(long = "self")]
    self_: bool,
    /// The node (ID or prefix).
    args: Vec<String>,
}

/// `nomad node eligibility -enable|-disable <node>|-self`.
pub fn eligibility(args: EligibilityArgs, g: &GlobalArgs, io: &mut Io<'_>) -> i32 {
    const CMD: &str = "node eligibility";
    if args.enable == args.disable {
        return usage(
            io,
            "Either the '-enable' or '-disable' flag must be set",
            CMD,
        );
    }
    if (args.self_ && !args.args.is_empty()) || (!args.self_ && args.args.len() != 1) {
        return usage(
            io,
            "Node ID must be specified if -self isn't being used",
            CMD,
        );
    }
    let Some(ctx) = Ctx::new(g, io) else { return 1 };
    let (_, node, _) = match find_node(
        &ctx,
        &args.args,
        args.self_,
        io,
        "updating scheduling eligibility",
    ) {
        Ok(x) => x,
        Err(code) => return code,
    };
    if let Err(e) = ctx.block(ctx.client.node_eligibility(&node.id, args.enable)) {
        let _ = writeln!(io.err, "Error updating scheduling eligibility: {e}");
        return 1;
    }
    let what = if args.enable {
        "eligible"
    } else {
        "ineligible"
    };
    let _ = writeln!(
        io.out,
        "Node {:?} scheduling eligibility set: {what} for scheduling",
        node.id
    );
    0
}
