//! Host resource usage for `GET /v1/client/stats` (Nomad's `HostStats`),
//! read from `/proc` and `statvfs(3)`: memory, per-core CPU percentages
//! since the previous sample, the CPU consumed in MHz, disk usage of the
//! mounted devices and of the allocation directory, uptime.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::SystemTime;

use crate::shared::lock;

/// Memory of the host, in bytes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostMemory {
    /// `MemTotal`.
    pub total: u64,
    /// `MemAvailable`.
    pub available: u64,
    /// Total less available.
    pub used: u64,
    /// `MemFree`.
    pub free: u64,
}

/// One core's time split since the previous sample, in percent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostCpu {
    /// `cpu0`, `cpu1`, …
    pub cpu: String,
    /// User (and nice) time.
    pub user: f64,
    /// Kernel time (with interrupts).
    pub system: f64,
    /// Idle (and I/O wait) time.
    pub idle: f64,
    /// Busy time: 100 − idle.
    pub total: f64,
}

/// Usage of one file system.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostDisk {
    /// Device (`/dev/sda1`); empty for the allocation directory.
    pub device: String,
    /// Mount point; empty for the allocation directory.
    pub mountpoint: String,
    /// Size in bytes.
    pub size: u64,
    /// Used bytes.
    pub used: u64,
    /// Bytes available to unprivileged users.
    pub available: u64,
    /// Used, in percent of used + available.
    pub used_percent: f64,
    /// Inodes used, in percent.
    pub inodes_used_percent: f64,
}

/// One sample of the host's usage.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostStats {
    /// Memory.
    pub memory: HostMemory,
    /// Per core.
    pub cpu: Vec<HostCpu>,
    /// Busy CPU in MHz, over all cores.
    pub cpu_ticks_consumed: f64,
    /// Mounted devices.
    pub disks: Vec<HostDisk>,
    /// The file system of the allocation directory.
    pub alloc_dir: Option<HostDisk>,
    /// Seconds since boot.
    pub uptime: u64,
    /// Unix nanoseconds of the sample.
    pub timestamp: i64,
}

/// Cumulative jiffies of one core (`/proc/stat`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct CpuTimes {
    user: u64,
    system: u64,
    idle: u64,
    total: u64,
}

/// Takes host samples; CPU percentages are measured between two calls
/// (the first one: since the collector was made).
#[derive(Debug)]
pub struct HostStatsCollector {
    prev: Mutex<BTreeMap<String, CpuTimes>>,
    /// Total compute of the node, in MHz (its fingerprint).
    total_mhz: f64,
}

impl HostStatsCollector {
    /// A collector for a node of `total_mhz` MHz (all cores).
    pub fn new(total_mhz: f64) -> Self {
        let prev = std::fs::read_to_string("/proc/stat")
            .map(|t| parse_proc_stat(&t))
            .unwrap_or_default();
        HostStatsCollector {
            prev: Mutex::new(prev),
            total_mhz,
        }
    }

    /// One sample; `alloc_dir` is measured too.
    pub fn collect(&self, alloc_dir: &Path) -> HostStats {
        let now = std::fs::read_to_string("/proc/stat")
            .map(|t| parse_proc_stat(&t))
            .unwrap_or_default();
        let cpu = {
            let mut prev = lock(&self.prev);
            let cpu = cpu_percentages(&prev, &now);
            *prev = now;
            cpu
        };
        let per_core = if cpu.is_empty() {
            0.0
        } else {
            self.total_mhz / cpu.len() as f64
        };
        let cpu_ticks_consumed = cpu.iter().map(|c| c.total / 100.0 * per_core).sum();
        let memory = std::fs::read_to_string("/proc/meminfo")
            .map(|t| parse_meminfo(&t))
            .unwrap_or_default();
        let uptime = std::fs::read_to_string("/proc/uptime")
            .ok()
            .and_then(|t| parse_uptime(&t))
            .unwrap_or(0);
        let disks = std::fs::read_to_string("/proc/self/mounts")
            .map(|t| {
                physical_mounts(&t)
                    .into_iter()
                    .filter_map(|(dev, mnt)| disk_usage(&dev, &mnt))
                    .collect()
            })
            .unwrap_or_default();
        let alloc_dir = disk_usage("", &alloc_dir.to_string_lossy());
        HostStats {
            memory,
            cpu,
            cpu_ticks_consumed,
            disks,
            alloc_dir,
            uptime,
            timestamp: nomad_driver::unix_nanos(SystemTime::now()),
        }
    }
}

/// The `cpuN` lines of `/proc/stat`.
fn parse_proc_stat(text: &str) -> BTreeMap<String, CpuTimes> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let Some(name) = f.next() else { continue };
        if !name.starts_with("cpu") || name == "cpu" {
            continue;
        }
        let v: Vec<u64> = f.filter_map(|x| x.parse().ok()).collect();
        let at = |i: usize| v.get(i).copied().unwrap_or(0);
        // user nice system idle iowait irq softirq steal (guest counts are
        // already inside user and nice).
        let user = at(0) + at(1);
        let system = at(2) + at(5) + at(6);
        let idle = at(3) + at(4);
        let total = user + system + idle + at(7);
        out.insert(
            name.to_string(),
            CpuTimes {
                user,
                system,
                idle,
                total,
            },
        );
    }
    out
}

fn cpu_percentages(
    prev: &BTreeMap<String, CpuTimes>,
    now: &BTreeMap<String, CpuTimes>,
) -> Vec<HostCpu> {
    let mut cores: Vec<(&String, &CpuTimes)> = now.iter().collect();
    // cpu2 before cpu10.
    cores.sort_by_key(|(n, _)| n[3..].parse::<u32>().unwrap_or(u32::MAX));
    cores
        .into_iter()
        .map(|(name, t)| {
            let p = prev.get(name).copied().unwrap_or_default();
            let dt = t.total.saturating_sub(p.total);
            let pct = |a: u64, b: u64| {
                if dt == 0 {
                    0.0
                } else {
                    a.saturating_sub(b) as f64 * 100.0 / dt as f64
                }
            };
            let idle = if dt == 0 { 100.0 } else { pct(t.idle, p.idle) };
            HostCpu {
                cpu: name.clone(),
                user: pct(t.user, p.user),
                system: pct(t.system, p.system),
                idle,
                total: (100.0 - idle).max(0.0),
            }
        })
        .collect()
}

fn parse_meminfo(text: &str) -> HostMemory {
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
    };
    let total = field("MemTotal").unwrap_or(0);
    let free = field("MemFree").unwrap_or(0);
    let available = field("MemAvailable").unwrap_or(free);
    HostMemory {
        total,
        available,
        used: total.saturating_sub(available),
        free,
    }
}

fn parse_uptime(text: &str) -> Option<u64> {
    let secs: f64 = text.split_whitespace().next()?.parse().ok()?;
    Some(secs as u64)
}

/// Devices under `/dev` and their mount points, each device once.
fn physical_mounts(text: &str) -> Vec<(String, String)> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let (Some(dev), Some(mnt)) = (f.next(), f.next()) else {
            continue;
        };
        if !dev.starts_with("/dev/") || !seen.insert((dev.to_string(), mnt.to_string())) {
            continue;
        }
        // Mount points escape spaces as \040.
        out.push((dev.to_string(), mnt.replace("\\040", " ")));
    }
    out
}

fn disk_usage(device: &str, mountpoint: &str) -> Option<HostDisk> {
    let c = std::ffi::CString::new(mountpoint).ok()?;
    // SAFETY: statvfs writes into the zeroed struct we own; `c` outlives the call.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    if rc != 0 {
        return None;
    }
    let bs = st.f_frsize as u64;
    let size = st.f_blocks as u64 * bs;
    let free = st.f_bfree as u64 * bs;
    let available = st.f_bavail as u64 * bs;
    let used = size.saturating_sub(free);
    let used_percent = if used + available == 0 {
        0.0
    } else {
        used as f64 * 100.0 / (used + available) as f64
    };
    let inodes = st.f_files as u64;
    let inodes_used_percent = if inodes == 0 {
        0.0
    } else {
        inodes.saturating_sub(st.f_ffree as u64) as f64 * 100.0 / inodes as f64
    };
    let (device, mountpoint) = if device.is_empty() {
        (String::new(), String::new())
    } else {
        (device.to_string(), mountpoint.to_string())
    };
    Some(HostDisk {
        device,
        mountpoint,
        size,
        used,
        available,
        used_percent,
        inodes_used_percent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_percentages_come_from_the_delta_between_samples() {
        let a = parse_proc_stat("cpu 1 2 3 4\ncpu0 100 0 50 850 0 0 0 0\ncpu1 0 0 0 1000\n");
        let b = parse_proc_stat("cpu 1 2 3 4\ncpu0 130 0 60 910 0 0 0 0\ncpu1 0 0 0 1100\n");
        let c = cpu_percentages(&a, &b);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].cpu, "cpu0");
        assert!((c[0].user - 30.0).abs() < 1e-9, "{c:?}");
        assert!((c[0].system - 10.0).abs() < 1e-9);
        assert!((c[0].idle - 60.0).abs() < 1e-9);
        assert!((c[0].total - 40.0).abs() < 1e-9);
        assert!((c[1].idle - 100.0).abs() < 1e-9);
    }

    #[test]
    fn memory_and_uptime_parse() {
        let m = parse_meminfo(
            "MemTotal:       1000 kB\nMemFree:         200 kB\nMemAvailable:    600 kB\n",
        );
        assert_eq!(m.total, 1_024_000);
        assert_eq!(m.available, 614_400);
        assert_eq!(m.used, 409_600);
        assert_eq!(m.free, 204_800);
        assert_eq!(parse_uptime("350735.47 234388.90\n"), Some(350735));
    }

    #[test]
    fn a_real_sample_has_memory_cores_and_the_alloc_dir() {
        let c = HostStatsCollector::new(4000.0);
        let s = c.collect(Path::new("/"));
        assert!(s.memory.total > 0);
        assert!(!s.cpu.is_empty());
        assert!(s.alloc_dir.is_some_and(|d| d.size > 0));
        assert!(s.timestamp > 0);
    }
}
