//! The resource usage part of `nomad alloc status -stats`: Nomad's
//! `Memory Stats` and `CPU Stats` tables under a task's resources, with the
//! fields its driver measured.

use nomad_api_client::stats::ResourceUsage;

use crate::format::{format_list, ibytes};

/// Nomad's `outputVerboseResourceUsage`: one table per kind, the measured
/// fields in name order; empty when the driver measured nothing.
pub fn detailed_usage(ru: &ResourceUsage) -> String {
    let mut parts = Vec::new();
    let m = &ru.memory_stats;
    if !m.measured.is_empty() {
        let mut names = m.measured.clone();
        names.sort();
        let values: Vec<String> = names
            .iter()
            .map(|n| match n.as_str() {
                "RSS" => ibytes(m.rss),
                "Cache" => ibytes(m.cache),
                "Swap" => ibytes(m.swap),
                "Usage" => ibytes(m.usage),
                "Max Usage" => ibytes(m.max_usage),
                "Kernel Usage" => ibytes(m.kernel_usage),
                "Kernel Max Usage" => ibytes(m.kernel_max_usage),
                _ => String::new(),
            })
            .collect();
        parts.push(format!(
            "Memory Stats\n{}",
            format_list(&[names.join("|"), values.join("|")])
        ));
    }
    let c = &ru.cpu_stats;
    if !c.measured.is_empty() {
        let mut names = c.measured.clone();
        names.sort();
        let values: Vec<String> = names
            .iter()
            .map(|n| match n.as_str() {
                "Percent" => format!("{:.2}%", c.percent),
                "Throttled Periods" => c.throttled_periods.to_string(),
                "Throttled Time" => c.throttled_time.to_string(),
                "User Mode" => format!("{:.2}%", c.user_mode),
                "System Mode" => format!("{:.2}%", c.system_mode),
                _ => String::new(),
            })
            .collect();
        parts.push(format!(
            "CPU Stats\n{}",
            format_list(&[names.join("|"), values.join("|")])
        ));
    }
    parts.join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use nomad_api_client::stats::{CpuStats, MemoryStats};

    #[test]
    fn measured_fields_in_name_order() {
        let ru = ResourceUsage {
            memory_stats: MemoryStats {
                rss: 6 << 20,
                measured: vec!["RSS".into(), "Swap".into()],
                ..MemoryStats::default()
            },
            cpu_stats: CpuStats {
                percent: 97.654,
                user_mode: 97.654,
                measured: vec!["System Mode".into(), "User Mode".into(), "Percent".into()],
                ..CpuStats::default()
            },
            device_stats: None,
        };
        assert_eq!(
            detailed_usage(&ru),
            "Memory Stats\nRSS      Swap\n6.0 MiB  0 B\n\n\
             CPU Stats\nPercent  System Mode  User Mode\n97.65%   0.00%        97.65%"
        );
        assert_eq!(detailed_usage(&ResourceUsage::default()), "");
    }
}
