//! `nomad node status [-verbose] [ID]` (`command/node_status.go`).

use clap::Args;
use nomad_api_client::QueryOptions;
use nomad_types::{Node, NodeListStub};

use super::common::{format_alloc_list, print_json, ID_TOO_SHORT};
use crate::ctx::{Ctx, GlobalArgs};
use crate::format::{
    format_go_time, format_kv, format_list, limit, mb, sanitize_uuid_prefix, FULL_ID, SHORT_ID,
};
use crate::Io;

#[derive(Debug, Args)]
pub struct NodeStatusArgs {
    /// Full IDs, addresses, versions, attributes and meta.
    #[arg(long)]
    verbose: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Add an OS column.
    #[arg(long)]
    os: bool,
    /// Only node IDs.
    #[arg(long)]
    quiet: bool,
    /// Add a Running Allocs column.
    #[arg(long)]
    allocs: bool,
    /// Only the basic information of a node.
    #[arg(long)]
    short: bool,
    /// The node of the local agent's client.
    #[arg(long = "self")]
    self_: bool,
    /// Detailed resource usage of the node's host.
    #[arg(long)]
    stats: bool,
    /// Only the objects this go-bexpr expression passes
    /// (`Status == "running"`).
    #[arg(long, default_value = "")]
    filter: String,
    /// The node (ID or prefix).
    node: Option<String>,
}

pub fn status(args: NodeStatusArgs, g: &GlobalArgs, io: &mut Io<'_>) -> i32 {
    let Some(ctx) = Ctx::new(g, io) else { return 1 };
    if args.self_ {
        if args.node.is_some() {
            let _ = writeln!(io.err, "-self cannot be used with a node ID");
            return 1;
        }
        let id = match super::node_stats::local_node_id(&ctx) {
            Ok(id) => id,
            Err(e) => {
                let _ = writeln!(io.err, "Error determining local node ID: {e}");
                return 1;
            }
        };
        return status_of_with(&ctx, &id, args.verbose, args.json, args.stats, io);
    }
    if let Some(id) = &args.node {
        return status_of_with(&ctx, id, args.verbose, args.json, args.stats, io);
    }
    if args.quiet && (args.verbose || args.json) {
        let _ = writeln!(io.err, "-quiet cannot be used with -verbose or -json");
        return 1;
    }
    let mut q = QueryOptions::default().filtered(args.filter.clone());
    if args.os {
        q = q.param("os", "true");
    }
    let nodes = match ctx.block(ctx.client.nodes_list(&q)) {
        Ok((n, _)) => n,
        Err(e) => {
            let _ = writeln!(io.err, "Error querying node status: {e}");
            return 1;
        }
    };
    if args.json {
        return print_json(io, &nodes);
    }
    if nodes.is_empty() {
        let _ = writeln!(io.out, "No nodes registered");
        return 0;
    }
    if args.quiet {
        let ids: Vec<String> = nodes.iter().map(|n| n.id.clone()).collect();
        let _ = writeln!(io.out, "{}", format_list(&ids));
        return 0;
    }
    let len = if args.verbose { FULL_ID } else { SHORT_ID };
    let mut head = "ID|Node Pool|DC|Name|Class|".to_string();
    if args.os {
        head.push_str("OS|");
    }
    if args.verbose {
        head.push_str("Address|Version|");
    }
    head.push_str("Drain|Eligibility|Status");
    if args.allocs {
        head.push_str("|Running Allocs");
    }
    let mut rows = vec![head];
    for n in &nodes {
        let mut row = format!(
            "{}|{}|{}|{}|{}",
            limit(&n.id, len),
            n.node_pool,
            n.datacenter,
            n.name,
            n.node_class
        );
        if args.os {
            row.push_str(&format!(
                "|{}",
                n.attributes.get("os.name").cloned().unwrap_or_default()
            ));
        }
        if args.verbose {
            row.push_str(&format!("|{}|{}", n.address, n.version));
        }
        row.push_str(&format!(
            "|{}|{}|{}",
            n.drain, n.scheduling_eligibility, n.status
        ));
        if args.allocs {
            let running = ctx
                .block(ctx.client.node_allocations(&n.id, &QueryOptions::default()))
                .map(|(a, _)| a.iter().filter(|a| a.client_status == "running").count());
            match running {
                Ok(c) => row.push_str(&format!("|{c}")),
                Err(e) => {
                    let _ = writeln!(io.err, "Error querying node allocations: {e}");
                    return 1;
                }
            }
        }
        rows.push(row);
    }
    let _ = writeln!(io.out, "{}", format_list(&rows));
    0
}

/// The short node list of an ambiguous prefix.
pub(crate) fn stub_list(nodes: &[NodeListStub], verbose: bool) -> String {
    let len = if verbose { FULL_ID } else { SHORT_ID };
    let mut rows = vec!["ID|DC|Name|Class|Drain|Eligibility|Status".to_string()];
    for n in nodes {
        rows.push(format!(
            "{}|{}|{}|{}|{}|{}|{}",
            limit(&n.id, len),
            n.datacenter,
            n.name,
            n.node_class,
            n.drain,
            n.scheduling_eligibility,
            n.status
        ));
    }
    format_list(&rows)
}

/// `node status <prefix>`.
pub fn status_of(ctx: &Ctx, id: &str, verbose: bool, json: bool, io: &mut Io<'_>) -> i32 {
    status_of_with(ctx, id, verbose, json, false, io)
}

/// `node status [-stats] <prefix>`.
pub fn status_of_with(
    ctx: &Ctx,
    id: &str,
    verbose: bool,
    json: bool,
    stats: bool,
    io: &mut Io<'_>,
) -> i32 {
    if id.len() == 1 {
        let _ = writeln!(io.err, "{ID_TOO_SHORT}");
        return 1;
    }
    let id = sanitize_uuid_prefix(id);
    let nodes = match ctx.block(ctx.client.nodes_list(&QueryOptions::prefix(id.clone()))) {
        Ok((n, _)) => n,
        Err(e) => {
            let _ = writeln!(io.err, "Error querying node info: {e}");
            return 1;
        }
    };
    if nodes.is_empty() {
        let _ = writeln!(io.err, "No node(s) with prefix {id:?} found");
        return 1;
    }
    if nodes.len() > 1 {
        let _ = writeln!(
            io.err,
            "Prefix matched multiple nodes\n\n{}",
            stub_list(&nodes, verbose)
        );
        return 1;
    }
    let node = match ctx.block(ctx.client.node_info(&nodes[0].id, &QueryOptions::default())) {
        Ok((n, _)) => n,
        Err(e) => {
            let _ = writeln!(io.err, "Error querying node info: {e}");
            return 1;
        }
    };
    if json {
        return print_json(io, &node);
    }
    let allocs = match ctx.block(
        ctx.client
            .node_allocations(&node.id, &QueryOptions::default()),
    ) {
        Ok((a, _)) => a,
        Err(e) => {
            let _ = writeln!(io.err, "Error querying node allocations: {e}");
            return 1;
        }
    };
    let len = if verbose { FULL_ID } else { SHORT_ID };
    let mut basic = vec![
        format!("ID|{}", node.id),
        format!("Name|{}", node.name),
        format!("Node Pool|{}", node.node_pool),
        format!("Class|{}", node.node_class),
        format!("DC|{}", node.datacenter),
        format!("Drain|{}", format_drain(&node)),
        format!("Eligibility|{}", node.scheduling_eligibility),
        format!("Status|{}", node.status),
        "CSI Controllers|".to_string(),
        "CSI Drivers|".to_string(),
    ];
    if !verbose {
        basic.push(format!(
            "Host Volumes|{}",
            node.host_volumes
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(",")
        ));
        basic.push(format!(
            "Host Networks|{}",
            node.host_networks
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(",")
        ));
        basic.push("CSI Volumes|".to_string());
        basic.push(format!("Driver Status| {}", driver_status(&node)));
    }
    let _ = writeln!(io.out, "{}", format_kv(&basic));

    let _ = writeln!(io.out, "\nNode Events");
    let mut rows = vec![if verbose {
        "Time|Subsystem|Message|Details"
    } else {
        "Time|Subsystem|Message"
    }
    .to_string()];
    for e in node.events.iter().rev() {
        let subsystem = match e.details.get("driver") {
            Some(d) if !d.is_empty() => format!("Driver: {d}"),
            _ => e.subsystem.clone(),
        };
        if verbose {
            let details: Vec<String> = e.details.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            rows.push(format!(
                "{}|{subsystem}|{}|{}",
                format_go_time(&e.timestamp),
                e.message,
                details.join(", ")
            ));
        } else {
            rows.push(format!(
                "{}|{subsystem}|{}",
                format_go_time(&e.timestamp),
                e.message
            ));
        }
    }
    let _ = writeln!(io.out, "{}", format_list(&rows));

    let running: Vec<_> = allocs
        .iter()
        .filter(|a| a.client_status == "running")
        .collect();
    let (mut cpu, mut mem, mut disk) = (0i64, 0i64, 0i64);
    for a in &running {
        if let Some(r) = &a.resources {
            cpu += r.cpu.unwrap_or(0);
            mem += r.memory_mb.unwrap_or(0);
            disk += r.disk_mb.unwrap_or(0);
        }
    }
    let (tcpu, tmem, tdisk) = node
        .node_resources
        .as_ref()
        .map(|r| (r.cpu.cpu_shares, r.memory.memory_mb, r.disk.disk_mb))
        .unwrap_or((0, 0, 0));
    let (rcpu, rmem, rdisk) = node
        .reserved_resources
        .as_ref()
        .map(|r| (r.cpu.cpu_shares, r.memory.memory_mb, r.disk.disk_mb))
        .unwrap_or((0, 0, 0));
    let count = if node.node_max_allocs != 0 {
        format!("{}/{}", running.len(), node.node_max_allocs)
    } else {
        running.len().to_string()
    };
    let res = vec![
        "CPU|Memory|Disk|Alloc Count".to_string(),
        format!(
            "{cpu}/{} MHz|{}/{}|{}/{}|{count}",
            tcpu - rcpu,
            mb(mem),
            mb(tmem - rmem),
            mb(disk),
            mb(tdisk - rdisk)
        ),
    ];
    let _ = writeln!(io.out, "\nAllocated Resources\n{}", format_list(&res));
    super::node_stats::host_utilization(ctx, &node, stats, io);
    let _ = writeln!(
        io.out,
        "\nAllocations\n{}",
        format_alloc_list(&allocs, verbose, len)
    );
    if verbose {
        let attrs: Vec<String> = node
            .attributes
            .iter()
            .map(|(k, v)| format!("{k}|{v}"))
            .collect();
        let _ = writeln!(io.out, "\nAttributes\n{}", format_kv(&attrs));
        let meta: Vec<String> = node.meta.iter().map(|(k, v)| format!("{k}|{v}")).collect();
        let _ = writeln!(io.out, "\nMeta\n{}", format_kv(&meta));
    }
    0
}

fn driver_status(n: &Node) -> String {
    let mut drivers: Vec<String> = n
        .drivers
        .iter()
        .filter(|(_, d)| d.detected)
        .map(|(name, d)| {
            if d.healthy {
                name.clone()
            } else {
                format!("{name} (unhealthy)")
            }
        })
        .collect();
    drivers.sort();
    drivers.join(",")
}

/// Nomad's `formatDrain`.
fn format_drain(n: &Node) -> String {
    let Some(d) = &n.drain_strategy else {
        return "false".to_string();
    };
    let mut s = "true".to_string();
    if d.deadline.0 < 0 {
        s.push_str("; force drain");
    } else if d.force_deadline.is_zero() {
        s.push_str("; no deadline");
    } else {
        s.push_str(&format!("; {} deadline", format_go_time(&d.force_deadline)));
    }
    if d.ignore_system_jobs {
        s.push_str("; ignoring system jobs");
    }
    s
}
