//! Resource usage as Nomad's clients report it: `GET /v1/client/stats`
//! ([`HostStats`]) and `GET /v1/client/allocation/:id/stats`
//! ([`AllocResourceUsage`]), with Nomad's field names. Shared by the agent
//! (which serializes them) and the CLI (which reads them).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The host's memory, in bytes (Nomad's `HostMemoryStats`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostMemoryStats {
    /// Physical memory.
    pub total: u64,
    /// Available to new processes.
    pub available: u64,
    /// Total less available.
    pub used: u64,
    /// Unused.
    pub free: u64,
}

/// One core, in percent since the previous sample (Nomad's `HostCPUStats`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostCpuStats {
    /// `cpu0`, `cpu1`, …
    #[serde(rename = "CPU")]
    pub cpu: String,
    /// User time.
    #[serde(serialize_with = "go_float")]
    pub user: f64,
    /// Kernel time.
    #[serde(serialize_with = "go_float")]
    pub system: f64,
    /// Idle time.
    #[serde(serialize_with = "go_float")]
    pub idle: f64,
    /// Busy time.
    #[serde(serialize_with = "go_float")]
    pub total: f64,
}

/// One file system (Nomad's `HostDiskStats`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostDiskStats {
    /// Device.
    pub device: String,
    /// Mount point.
    pub mountpoint: String,
    /// Size in bytes.
    pub size: u64,
    /// Used bytes.
    pub used: u64,
    /// Available bytes.
    pub available: u64,
    /// Used, in percent.
    #[serde(serialize_with = "go_float")]
    pub used_percent: f64,
    /// Inodes used, in percent.
    #[serde(serialize_with = "go_float")]
    pub inodes_used_percent: f64,
}

/// `GET /v1/client/stats` (Nomad's `HostStats`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostStats {
    /// Memory.
    pub memory: Option<HostMemoryStats>,
    /// Per core.
    #[serde(rename = "CPU")]
    pub cpu: Vec<HostCpuStats>,
    /// Mounted devices.
    pub disk_stats: Vec<HostDiskStats>,
    /// The file system of the allocation directory.
    pub alloc_dir_stats: Option<HostDiskStats>,
    /// Device plugin statistics (none on this agent).
    pub device_stats: Option<Vec<serde_json::Value>>,
    /// Seconds since boot.
    pub uptime: u64,
    /// Unix nanoseconds of the sample.
    pub timestamp: i64,
    /// Busy CPU, in MHz over all cores.
    #[serde(rename = "CPUTicksConsumed")]
    #[serde(serialize_with = "go_float")]
    pub cpu_ticks_consumed: f64,
}

/// Memory of a task or allocation, in bytes (Nomad's `MemoryStats`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct MemoryStats {
    /// Resident set size.
    #[serde(rename = "RSS")]
    pub rss: u64,
    /// Page cache.
    pub cache: u64,
    /// Swap.
    pub swap: u64,
    /// Usage as the cgroup counts it.
    pub usage: u64,
    /// Peak usage.
    pub max_usage: u64,
    /// Kernel memory.
    pub kernel_usage: u64,
    /// Peak kernel memory.
    pub kernel_max_usage: u64,
    /// Which fields were measured (`"RSS"`, `"Cache"`, …).
    pub measured: Vec<String>,
}

/// CPU of a task or allocation (Nomad's `CpuStats`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CpuStats {
    /// Percent of a core in kernel mode.
    #[serde(serialize_with = "go_float")]
    pub system_mode: f64,
    /// Percent of a core in user mode.
    #[serde(serialize_with = "go_float")]
    pub user_mode: f64,
    /// CPU used, in MHz.
    #[serde(serialize_with = "go_float")]
    pub total_ticks: f64,
    /// CFS periods throttled.
    pub throttled_periods: u64,
    /// Time throttled (ns).
    pub throttled_time: u64,
    /// Percent of a core.
    #[serde(serialize_with = "go_float")]
    pub percent: f64,
    /// Which fields were measured.
    pub measured: Vec<String>,
}

/// Nomad's `ResourceUsage`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ResourceUsage {
    /// Memory.
    pub memory_stats: MemoryStats,
    /// CPU.
    pub cpu_stats: CpuStats,
    /// Device plugin statistics (none on this agent).
    pub device_stats: Option<Vec<serde_json::Value>>,
}

impl ResourceUsage {
    /// Adds `other` into `self`, as Nomad sums its tasks into the
    /// allocation's usage.
    pub fn add(&mut self, other: &ResourceUsage) {
        let (m, o) = (&mut self.memory_stats, &other.memory_stats);
        m.rss += o.rss;
        m.cache += o.cache;
        m.swap += o.swap;
        m.usage += o.usage;
        m.max_usage += o.max_usage;
        m.kernel_usage += o.kernel_usage;
        m.kernel_max_usage += o.kernel_max_usage;
        merge_measured(&mut m.measured, &o.measured);
        let (c, o) = (&mut self.cpu_stats, &other.cpu_stats);
        c.system_mode += o.system_mode;
        c.user_mode += o.user_mode;
        c.total_ticks += o.total_ticks;
        c.throttled_periods += o.throttled_periods;
        c.throttled_time += o.throttled_time;
        c.percent += o.percent;
        merge_measured(&mut c.measured, &o.measured);
    }
}

/// A float as Go's encoder writes it: whole numbers without a fraction
/// (`0`, not `0.0`).
fn go_float<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        s.serialize_i64(*v as i64)
    } else {
        s.serialize_f64(*v)
    }
}

fn merge_measured(into: &mut Vec<String>, from: &[String]) {
    for f in from {
        if !into.contains(f) {
            into.push(f.clone());
        }
    }
}

/// One task's usage (Nomad's `TaskResourceUsage`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TaskResourceUsage {
    /// The whole task.
    pub resource_usage: ResourceUsage,
    /// Unix nanoseconds of the sample.
    pub timestamp: i64,
    /// Per process, by pid (`null` when the driver does not report them).
    pub pids: Option<BTreeMap<String, ResourceUsage>>,
}

/// `GET /v1/client/allocation/:id/stats` (Nomad's `AllocResourceUsage`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocResourceUsage {
    /// The sum over the tasks.
    pub resource_usage: ResourceUsage,
    /// By task name.
    pub tasks: BTreeMap<String, TaskResourceUsage>,
    /// Unix nanoseconds of the newest sample.
    pub timestamp: i64,
}

impl AllocResourceUsage {
    /// The allocation's usage from its tasks' samples.
    pub fn from_tasks(tasks: BTreeMap<String, TaskResourceUsage>) -> Self {
        let mut total = ResourceUsage::default();
        let mut timestamp = 0;
        for t in tasks.values() {
            total.add(&t.resource_usage);
            timestamp = timestamp.max(t.timestamp);
        }
        AllocResourceUsage {
            resource_usage: total,
            tasks,
            timestamp,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_are_nomads() {
        let h = serde_json::to_value(HostStats {
            memory: Some(HostMemoryStats::default()),
            cpu: vec![HostCpuStats::default()],
            ..HostStats::default()
        })
        .unwrap();
        for k in [
            "Memory",
            "CPU",
            "DiskStats",
            "AllocDirStats",
            "DeviceStats",
            "Uptime",
            "Timestamp",
            "CPUTicksConsumed",
        ] {
            assert!(h.get(k).is_some(), "{k} missing in {h}");
        }
        assert!(h["CPU"][0].get("CPU").is_some());
        assert_eq!(
            serde_json::to_string(&HostCpuStats {
                idle: 99.5,
                ..HostCpuStats::default()
            })
            .unwrap(),
            r#"{"CPU":"","User":0,"System":0,"Idle":99.5,"Total":0}"#
        );
        let a = serde_json::to_value(AllocResourceUsage::default()).unwrap();
        assert!(a["ResourceUsage"]["MemoryStats"].get("RSS").is_some());
        assert!(a["ResourceUsage"]["CpuStats"].get("TotalTicks").is_some());
    }

    #[test]
    fn allocation_usage_is_the_sum_of_its_tasks() {
        let task = |rss, ticks| TaskResourceUsage {
            resource_usage: ResourceUsage {
                memory_stats: MemoryStats {
                    rss,
                    measured: vec!["RSS".into()],
                    ..MemoryStats::default()
                },
                cpu_stats: CpuStats {
                    total_ticks: ticks,
                    ..CpuStats::default()
                },
                device_stats: None,
            },
            timestamp: rss as i64,
            pids: None,
        };
        let a = AllocResourceUsage::from_tasks(BTreeMap::from([
            ("a".to_string(), task(10, 1.5)),
            ("b".to_string(), task(20, 2.5)),
        ]));
        assert_eq!(a.resource_usage.memory_stats.rss, 30);
        assert_eq!(a.resource_usage.memory_stats.measured, vec!["RSS"]);
        assert!((a.resource_usage.cpu_stats.total_ticks - 4.0).abs() < 1e-9);
        assert_eq!(a.timestamp, 20);
    }
}
