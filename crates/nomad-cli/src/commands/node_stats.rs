//! The host statistics part of `nomad node status` (`Host Resource
//! Utilization`, and with `-stats` the detailed CPU, memory and disk
//! tables), and `-self`'s lookup of the local client's node.

use nomad_api_client::stats::HostStats;
use nomad_types::Node;

use crate::ctx::Ctx;
use crate::format::{format_kv, format_list, ibytes};
use crate::Io;

/// The node ID of the agent's client (`stats.client.node_id` of
/// `/v1/agent/self`).
pub fn local_node_id(ctx: &Ctx) -> Result<String, String> {
    let me = ctx
        .block(ctx.client.agent_self())
        .map_err(|e| e.to_string())?;
    me.stats
        .get("client")
        .and_then(|c| c.get("node_id"))
        .filter(|id| !id.is_empty())
        .cloned()
        .ok_or_else(|| "Nomad not running in client mode".to_string())
}

/// Prints `Host Resource Utilization` when the node's client answers
/// (Nomad leaves it out otherwise), and the detailed tables with `-stats`.
pub fn host_utilization(ctx: &Ctx, node: &Node, detailed: bool, io: &mut Io<'_>) {
    if node.status != "ready" {
        return;
    }
    let stats = match ctx.block(ctx.client.client_stats(&node.id)) {
        Ok(s) => s,
        Err(e) => {
            if detailed {
                let _ = writeln!(io.err, "\nError querying node stats: {e}");
            }
            return;
        }
    };
    let total_mhz = node
        .node_resources
        .as_ref()
        .map(|r| r.cpu.cpu_shares)
        .unwrap_or(0);
    let _ = writeln!(
        io.out,
        "\nHost Resource Utilization\n{}",
        format_list(&host_resources(&stats, total_mhz))
    );
    if detailed {
        let _ = writeln!(io.out, "\n{}", detailed_stats(&stats));
    }
}

/// Nomad's `getHostResources`.
fn host_resources(s: &HostStats, total_mhz: i64) -> Vec<String> {
    let (mem_used, mem_total) = s
        .memory
        .as_ref()
        .map(|m| (m.used, m.total))
        .unwrap_or((0, 0));
    let (disk_used, disk_size) = s
        .alloc_dir_stats
        .as_ref()
        .map(|d| (d.used, d.size))
        .unwrap_or((0, 0));
    vec![
        "CPU|Memory|Disk".to_string(),
        format!(
            "{}/{total_mhz} MHz|{}/{}|{}/{}",
            s.cpu_ticks_consumed.floor(),
            ibytes(mem_used),
            ibytes(mem_total),
            ibytes(disk_used),
            ibytes(disk_size)
        ),
    ]
}

fn pct(v: f64) -> String {
    format!("{v:.2}%")
}

/// Nomad's `printCpuStats`, `printMemoryStats` and `printDiskStats`.
fn detailed_stats(s: &HostStats) -> String {
    let mut out = vec!["CPU Stats".to_string()];
    let cores: Vec<String> = s
        .cpu
        .iter()
        .map(|c| {
            format_kv(&[
                format!("CPU|{}", c.cpu),
                format!("User|{}", pct(c.user)),
                format!("System|{}", pct(c.system)),
                format!("Idle|{}", pct(c.idle)),
            ])
        })
        .collect();
    out.push(cores.join("\n\n"));
    if let Some(m) = &s.memory {
        out.push(String::new());
        out.push("Memory Stats".to_string());
        out.push(format_kv(&[
            format!("Total|{}", ibytes(m.total)),
            format!("Available|{}", ibytes(m.available)),
            format!("Used|{}", ibytes(m.used)),
            format!("Free|{}", ibytes(m.free)),
        ]));
    }
    if !s.disk_stats.is_empty() {
        out.push(String::new());
        out.push("Disk Stats".to_string());
        let disks: Vec<String> = s
            .disk_stats
            .iter()
            .map(|d| {
                format_kv(&[
                    format!("Device|{}", d.device),
                    format!("MountPoint|{}", d.mountpoint),
                    format!("Size|{}", ibytes(d.size)),
                    format!("Used|{}", ibytes(d.used)),
                    format!("Available|{}", ibytes(d.available)),
                    format!("Used Percent|{}", pct(d.used_percent)),
                    format!("Inodes Percent|{}", pct(d.inodes_used_percent)),
                ])
            })
            .collect();
        out.push(disks.join("\n\n"));
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use nomad_api_client::stats::{HostDiskStats, HostMemoryStats};

    #[test]
    fn host_resources_read_like_nomads() {
        let s = HostStats {
            memory: Some(HostMemoryStats {
                total: 4 << 30,
                used: 1 << 30,
                ..HostMemoryStats::default()
            }),
            alloc_dir_stats: Some(HostDiskStats {
                size: 20 << 30,
                used: 5 << 30,
                ..HostDiskStats::default()
            }),
            cpu_ticks_consumed: 125.7,
            ..HostStats::default()
        };
        assert_eq!(
            host_resources(&s, 2494)[1],
            "125/2494 MHz|1.0 GiB/4.0 GiB|5.0 GiB/20 GiB"
        );
    }
}
