//! Explanations (not in Nomad): for a group that could not be placed, one
//! short sentence naming the smallest change that would let it fit, e.g.
//!
//! * `no node in dc1 has 2048 MB of memory free; the closest, node-17, has 1536 MB`
//! * `all 12 nodes were filtered by constraint ${attr.kernel.name} = windows; nodes have: linux (12)`
//!
//! The sentence goes into [`nomad_types::AllocMetric::explanation`], which
//! is omitted from the JSON when empty, so Nomad's own clients never see
//! it. Computed only on the failure path: it re-walks the candidate nodes
//! to attribute each to the first check it fails, without the class cache.

use std::collections::BTreeMap;

use nomad_types::{AllocMetric, Node};

use crate::context::Ctx;
use crate::feasible::{check_network, has_drivers, has_host_volumes, GroupSpec};
use crate::state::State;

/// Why one node cannot run the group, as far as the re-walk can tell.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Why {
    JobConstraint(usize),
    Drivers,
    GroupConstraint(usize),
    Devices,
    Network(String),
    HostVolumes,
    DistinctHosts,
}

fn first_failure<S: State + ?Sized>(
    ctx: &mut Ctx<'_, S>,
    g: &GroupSpec,
    group_key: u32,
    node: &Node,
) -> Option<Why> {
    if let Some(spec) = &ctx.spec {
        if let Some(i) = spec
            .constraints
            .iter()
            .position(|c| !c.compiled.matches(node, &mut ctx.cache))
        {
            return Some(Why::JobConstraint(i));
        }
    }
    if !has_drivers(node, &g.drivers) {
        return Some(Why::Drivers);
    }
    if let Some(i) = g
        .constraints
        .iter()
        .position(|c| !c.compiled.matches(node, &mut ctx.cache))
    {
        return Some(Why::GroupConstraint(i));
    }
    if !crate::devices::has_devices(node, &g.devices, &mut ctx.cache) {
        return Some(Why::Devices);
    }
    if let Some(Err(reason)) = g.network.as_ref().map(|n| check_network(node, n)) {
        return Some(Why::Network(reason));
    }
    if !g.host_volumes.is_empty() && !has_host_volumes(node, &g.host_volumes, "") {
        return Some(Why::HostVolumes);
    }
    if !ctx.kind.is_system() {
        let job_distinct = ctx.spec.as_ref().is_some_and(|s| s.distinct_hosts);
        if job_distinct || g.distinct_hosts {
            let (total, same) = ctx
                .table
                .slot(&node.id)
                .map_or((0, 0), |slot| ctx.job_on_node(slot, group_key));
            if (job_distinct && total > 0) || same > 0 {
                return Some(Why::DistinctHosts);
            }
        }
    }
    None
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

/// The top values of `values`, as `linux (10), darwin (2)`.
fn tally(values: impl Iterator<Item = String>) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for v in values {
        *counts.entry(v).or_default() += 1;
    }
    let mut list: Vec<(String, usize)> = counts.into_iter().collect();
    list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let shown: Vec<String> = list
        .iter()
        .take(3)
        .map(|(v, n)| format!("{v} ({n})"))
        .collect();
    let mut out = shown.join(", ");
    if list.len() > 3 {
        out.push_str(&format!(", … ({} more values)", list.len() - 3));
    }
    out
}

/// The explanation for group `g` whose placement failed with `metric`.
pub(crate) fn explain<S: State + ?Sized>(
    ctx: &mut Ctx<'_, S>,
    g: usize,
    metric: &AllocMetric,
) -> String {
    let groups = std::mem::take(&mut ctx.groups);
    let text = explain_group(ctx, &groups[g], g as u32, metric);
    ctx.groups = groups;
    text
}

fn where_phrase<S: State + ?Sized>(ctx: &Ctx<'_, S>) -> String {
    let dcs = ctx
        .spec
        .as_ref()
        .map(|s| s.job.datacenters.clone())
        .unwrap_or_default();
    if dcs.is_empty() || dcs.iter().any(|d| d == "*") {
        "no eligible node".to_string()
    } else {
        format!("no node in {}", dcs.join(", "))
    }
}

fn explain_group<S: State + ?Sized>(
    ctx: &mut Ctx<'_, S>,
    g: &GroupSpec,
    key: u32,
    metric: &AllocMetric,
) -> String {
    let n = ctx.table.ring_len;
    if n == 0 {
        let pool = ctx
            .spec
            .as_ref()
            .map_or("default", |s| crate::nodes::job_pool(&s.job))
            .to_string();
        let dcs = ctx
            .spec
            .as_ref()
            .map(|s| s.job.datacenters.join(", "))
            .unwrap_or_default();
        return format!("no ready, eligible nodes in node pool {pool} match datacenters {dcs}");
    }
    let mut why: Vec<(Why, usize)> = Vec::new();
    let mut failing: BTreeMap<Why, Vec<u32>> = BTreeMap::new();
    for slot in 0..n as u32 {
        let node = ctx.table.node(slot).clone();
        if let Some(w) = first_failure(ctx, g, key, &node) {
            failing.entry(w).or_default().push(slot);
        }
    }
    for (w, slots) in &failing {
        why.push((w.clone(), slots.len()));
    }
    why.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let filtered: usize = why.iter().map(|(_, c)| c).sum();

    if filtered == n {
        let (top, count) = why[0].clone();
        let scope = if count == n {
            format!("all {}", plural(n, "node was", "nodes were"))
        } else {
            format!("{count} of {n} nodes were")
        };
        let slots = &failing[&top];
        let mut text = describe_filter(ctx, g, &top, slots, &scope);
        if why.len() > 1 {
            let rest: usize = why[1..].iter().map(|(_, c)| c).sum();
            text.push_str(&format!(
                "; {} by {}",
                plural(rest, "other was filtered", "others were filtered"),
                short_reason(ctx, g, &why[1].0)
            ));
        }
        return text;
    }

    let mut text = describe_exhaustion(ctx, g, metric);
    if filtered > 0 {
        text.push_str(&format!(
            " ({} filtered, mostly by {})",
            plural(filtered, "other node was", "other nodes were"),
            short_reason(ctx, g, &why[0].0)
        ));
    }
    text
}

fn short_reason<S: State + ?Sized>(ctx: &Ctx<'_, S>, g: &GroupSpec, why: &Why) -> String {
    match why {
        Why::JobConstraint(i) => ctx
            .spec
            .as_ref()
            .and_then(|s| s.constraints.get(*i))
            .map_or_else(String::new, |c| format!("constraint {}", c.source)),
        Why::GroupConstraint(i) => g
            .constraints
            .get(*i)
            .map_or_else(String::new, |c| format!("constraint {}", c.source)),
        Why::Drivers => "missing drivers".to_string(),
        Why::Devices => "missing devices".to_string(),
        Why::Network(r) => r.clone(),
        Why::HostVolumes => "missing host volumes".to_string(),
        Why::DistinctHosts => "distinct_hosts".to_string(),
    }
}

fn describe_filter<S: State + ?Sized>(
    ctx: &Ctx<'_, S>,
    g: &GroupSpec,
    why: &Why,
    slots: &[u32],
    scope: &str,
) -> String {
    let nodes = || slots.iter().map(|s| ctx.table.node(*s));
    match why {
        Why::JobConstraint(_) | Why::GroupConstraint(_) => {
            let c = match why {
                Why::JobConstraint(i) => ctx.spec.as_ref().and_then(|s| s.constraints.get(*i)),
                Why::GroupConstraint(i) => g.constraints.get(*i),
                _ => None,
            };
            let Some(c) = c else {
                return format!("{scope} filtered by a constraint");
            };
            let values = tally(nodes().map(|n| {
                c.compiled
                    .ltarget()
                    .resolve(&**n)
                    .map_or_else(|| "(not set)".to_string(), str::to_string)
            }));
            format!("{scope} filtered by constraint {}; nodes have: {values}", c.source)
        }
        Why::Drivers => {
            let missing: Vec<&str> = g
                .drivers
                .iter()
                .filter(|d| nodes().any(|n| !has_drivers(n, std::slice::from_ref(*d))))
                .map(String::as_str)
                .collect();
            let have = tally(nodes().flat_map(|n| {
                n.drivers
                    .iter()
                    .filter(|(_, i)| i.detected && i.healthy)
                    .map(|(k, _)| k.clone())
                    .collect::<Vec<_>>()
            }));
            let have = if have.is_empty() { "none".to_string() } else { have };
            format!(
                "{scope} filtered for lack of a healthy {} driver; nodes have: {have}",
                missing.join(", ")
            )
        }
        Why::Devices => {
            let asks: Vec<String> = g
                .devices
                .iter()
                .map(|d| format!("{} × {}", d.request.count.unwrap_or(1), d.request.name))
                .collect();
            format!("{scope} filtered: none has {} (healthy, matching the constraints)", asks.join(" and "))
        }
        Why::Network(reason) => format!("{scope} filtered: {reason}"),
        Why::HostVolumes => {
            let vols: Vec<String> = g
                .host_volumes
                .iter()
                .map(|v| {
                    if v.read_only {
                        format!("{:?}", v.source)
                    } else {
                        format!("{:?} (writable)", v.source)
                    }
                })
                .collect();
            format!("{scope} filtered: none has host volume {}", vols.join(", "))
        }
        Why::DistinctHosts => format!(
            "{scope} filtered by distinct_hosts: each already runs an allocation of group {}; add nodes or lower the count",
            g.name
        ),
    }
}

fn describe_exhaustion<S: State + ?Sized>(
    ctx: &Ctx<'_, S>,
    g: &GroupSpec,
    metric: &AllocMetric,
) -> String {
    let top = metric
        .dimension_exhausted
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(k, _)| k.clone());
    let Some(dim) = top else {
        return format!(
            "{} of {} candidate nodes could take the group",
            metric.nodes_evaluated - metric.nodes_filtered,
            metric.nodes_evaluated
        );
    };
    let place = where_phrase(ctx);
    let (index, need, unit) = match dim.as_str() {
        "cpu" => (0, g.ask.total.cpu, "MHz of CPU"),
        "memory" => (1, g.ask.total.memory_mb, "MB of memory"),
        "disk" => (2, g.ask.total.disk_mb, "MB of disk"),
        "max allocation exceeded" => {
            return "every eligible node already holds its maximum number of allocations (node_max_allocs)".to_string();
        }
        "cores" => return format!("{place} has {} free CPU cores", g.ask.cores),
        other => {
            let rest = other
                .strip_prefix("network: ")
                .or_else(|| other.strip_prefix("devices: "))
                .unwrap_or(other);
            return format!("{place} can satisfy the request: {rest}");
        }
    };
    let closest = ctx.metrics.closest[index];
    if !closest.seen {
        return format!("{place} has {need} {unit} free");
    }
    let node = ctx.table.node(closest.slot);
    let unit_short = unit.split(' ').next().unwrap_or(unit);
    if metric.nodes_evaluated <= 1 {
        return format!(
            "node {} has {} {unit} free; the group needs {need}",
            node.name,
            closest.free.max(0)
        );
    }
    format!(
        "{place} has {need} {unit} free; the closest, {}, has {} {unit_short}",
        node.name,
        closest.free.max(0)
    )
}
