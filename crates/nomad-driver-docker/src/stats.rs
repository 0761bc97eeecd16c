//! Docker's stats API turned into Nomad's resource usage.
//!
//! Samples are taken one-shot (no second sample inside Docker), and CPU
//! percentages are computed against the previous `task_stats` call, as the
//! driver contract asks (the first call reports 0 %).

use std::sync::Mutex;
use std::time::SystemTime;

use bollard::models::ContainerStatsResponse;
use nomad_driver::{CpuStats, MemoryStats, ResourceUsage, TaskResourceUsage};

/// Nomad's measured CPU fields for docker.
pub const MEASURED_CPU: &[&str] = &["Throttled Periods", "Throttled Time", "Percent"];
/// Nomad's measured memory fields on cgroups v1.
pub const MEASURED_MEMORY_V1: &[&str] = &["RSS", "Cache", "Swap", "Usage", "Max Usage"];
/// Nomad's measured memory fields on cgroups v2.
pub const MEASURED_MEMORY_V2: &[&str] = &["RSS", "Cache", "Swap", "Usage"];

/// CPU counters of one sample (nanoseconds).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct CpuSample {
    total: u64,
    system: u64,
    kernel: u64,
    user: u64,
}

/// The previous sample of a task.
#[derive(Debug, Default)]
pub(crate) struct StatsTracker(Mutex<Option<CpuSample>>);

impl StatsTracker {
    /// Converts a Docker sample, updating the previous one.
    pub(crate) fn convert(
        &self,
        s: &ContainerStatsResponse,
        mhz_per_core: f64,
    ) -> TaskResourceUsage {
        let mut g = match self.0.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let (usage, sample) = convert(s, *g, mhz_per_core);
        if sample.is_some() {
            *g = sample;
        }
        usage
    }
}

fn percent(new: u64, old: u64, new_total: u64, old_total: u64, cores: f64) -> f64 {
    let d = new.saturating_sub(old) as f64;
    let t = new_total.saturating_sub(old_total) as f64;
    if d > 0.0 && t > 0.0 {
        d / t * cores * 100.0
    } else {
        0.0
    }
}

/// Converts a sample given the previous one.
pub(crate) fn convert(
    s: &ContainerStatsResponse,
    prev: Option<CpuSample>,
    mhz_per_core: f64,
) -> (TaskResourceUsage, Option<CpuSample>) {
    let mem = s.memory_stats.clone().unwrap_or_default();
    let stats = mem.stats.clone().unwrap_or_default();
    let get = |k: &str| stats.get(k).copied().unwrap_or(0);
    let usage = mem.usage.unwrap_or(0);
    let max_usage = mem.max_usage.unwrap_or(0);
    let v2 = max_usage == 0 && usage != 0;
    let cache = match get("cache") {
        0 => get("file"),
        c => c,
    };
    let rss = match get("rss") {
        0 => get("anon"),
        r => r,
    };
    let memory_stats = MemoryStats {
        rss,
        cache,
        swap: get("swap"),
        usage,
        max_usage,
        kernel_usage: 0,
        kernel_max_usage: 0,
        measured: if v2 {
            MEASURED_MEMORY_V2
        } else {
            MEASURED_MEMORY_V1
        }
        .iter()
        .map(|m| m.to_string())
        .collect(),
    };

    let cpu = s.cpu_stats.clone().unwrap_or_default();
    let cu = cpu.cpu_usage.clone().unwrap_or_default();
    let sample = cpu.system_cpu_usage.map(|system| CpuSample {
        total: cu.total_usage.unwrap_or(0),
        system,
        kernel: cu.usage_in_kernelmode.unwrap_or(0),
        user: cu.usage_in_usermode.unwrap_or(0),
    });
    let cores = cpu
        .online_cpus
        .map(f64::from)
        .or_else(|| cu.percpu_usage.as_ref().map(|p| p.len() as f64))
        .filter(|c| *c > 0.0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64));
    let throttling = cpu.throttling_data.clone().unwrap_or_default();
    let mut cpu_stats = CpuStats {
        throttled_periods: throttling.throttled_periods.unwrap_or(0),
        throttled_time: throttling.throttled_time.unwrap_or(0),
        measured: MEASURED_CPU.iter().map(|m| m.to_string()).collect(),
        ..CpuStats::default()
    };
    if let (Some(now), Some(before)) = (sample, prev) {
        cpu_stats.percent = percent(now.total, before.total, now.system, before.system, cores);
        cpu_stats.system_mode =
            percent(now.kernel, before.kernel, now.system, before.system, cores);
        cpu_stats.user_mode = percent(now.user, before.user, now.system, before.system, cores);
        cpu_stats.total_ticks = cpu_stats.percent / 100.0 * mhz_per_core;
    }
    (
        TaskResourceUsage {
            resource_usage: ResourceUsage {
                memory_stats,
                cpu_stats,
            },
            timestamp: nomad_driver::unix_nanos(SystemTime::now()),
            pids: Default::default(),
        },
        sample,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{ContainerCpuStats, ContainerCpuUsage, ContainerMemoryStats};

    fn sample(total: u64, system: u64) -> ContainerStatsResponse {
        ContainerStatsResponse {
            cpu_stats: Some(ContainerCpuStats {
                cpu_usage: Some(ContainerCpuUsage {
                    total_usage: Some(total),
                    usage_in_usermode: Some(total),
                    ..ContainerCpuUsage::default()
                }),
                system_cpu_usage: Some(system),
                online_cpus: Some(2),
                ..ContainerCpuStats::default()
            }),
            memory_stats: Some(ContainerMemoryStats {
                usage: Some(4096),
                max_usage: Some(8192),
                stats: Some([("rss".to_string(), 1000), ("cache".to_string(), 500)].into()),
                ..ContainerMemoryStats::default()
            }),
            ..ContainerStatsResponse::default()
        }
    }

    #[test]
    fn cpu_percent_is_against_the_previous_sample() {
        let t = StatsTracker::default();
        let first = t.convert(&sample(1_000, 10_000), 2000.0);
        assert_eq!(first.resource_usage.cpu_stats.percent, 0.0);
        let m = &first.resource_usage.memory_stats;
        assert_eq!(
            (m.rss, m.cache, m.usage, m.max_usage),
            (1000, 500, 4096, 8192)
        );
        assert!(m.measured.iter().any(|x| x == "Max Usage"));
        // 1000 ns of 2000 ns of both cores' time: half of the machine = one core.
        let second = t.convert(&sample(2_000, 12_000), 2000.0);
        let c = &second.resource_usage.cpu_stats;
        assert!((c.percent - 100.0).abs() < 1e-9, "{c:?}");
        assert!((c.total_ticks - 2000.0).abs() < 1e-6);
        assert!(c.measured.iter().any(|x| x == "Percent"));
    }
}
