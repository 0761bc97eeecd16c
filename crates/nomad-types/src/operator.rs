//! The cluster-wide scheduler configuration
//! (`GET`/`PUT /v1/operator/scheduler/configuration`).

use serde::{Deserialize, Serialize};

/// `SchedulerAlgorithm` values.
pub mod scheduler_algorithm {
    /// Prefer fuller nodes (the default).
    pub const BINPACK: &str = "binpack";
    /// Prefer emptier nodes.
    pub const SPREAD: &str = "spread";
}

/// Default of [`SchedulerConfiguration::node_limit_for_feasibility_checks`]
/// when it is zero.
pub const DEFAULT_NODE_LIMIT_FOR_FEASIBILITY_CHECKS: u64 = 100;

/// How the schedulers place work, set by operators at run time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct SchedulerConfiguration {
    /// `binpack` or `spread`; empty means `binpack`.
    pub scheduler_algorithm: String,
    /// Which schedulers may evict lower-priority work.
    pub preemption_config: PreemptionConfig,
    /// Honour tasks' `memory_max`.
    pub memory_oversubscription_enabled: bool,
    /// Refuse job registrations without a management token.
    pub reject_job_registration: bool,
    /// Stop the evaluation broker.
    pub pause_eval_broker: bool,
    /// Nodes scored for a group with affinities or spreads; 0 means 100.
    pub node_limit_for_feasibility_checks: u64,
    /// Raft create index.
    pub create_index: u64,
    /// Raft modify index.
    pub modify_index: u64,
}

impl Default for SchedulerConfiguration {
    /// Nomad's server defaults: bin packing, preemption for system jobs
    /// only.
    fn default() -> Self {
        SchedulerConfiguration {
            scheduler_algorithm: scheduler_algorithm::BINPACK.to_string(),
            preemption_config: PreemptionConfig::default(),
            memory_oversubscription_enabled: false,
            reject_job_registration: false,
            pause_eval_broker: false,
            node_limit_for_feasibility_checks: 0,
            create_index: 0,
            modify_index: 0,
        }
    }
}

impl SchedulerConfiguration {
    /// The algorithm in effect (`binpack` when unset).
    pub fn effective_algorithm(&self) -> &str {
        if self.scheduler_algorithm.is_empty() {
            scheduler_algorithm::BINPACK
        } else {
            &self.scheduler_algorithm
        }
    }

    /// The node limit in effect (100 when unset).
    pub fn effective_node_limit(&self) -> u64 {
        if self.node_limit_for_feasibility_checks == 0 {
            DEFAULT_NODE_LIMIT_FOR_FEASIBILITY_CHECKS
        } else {
            self.node_limit_for_feasibility_checks
        }
    }

    /// Whether the scheduler for `job_type` may preempt.
    pub fn preemption_enabled(&self, job_type: &str) -> bool {
        let p = &self.preemption_config;
        match job_type {
            crate::consts::job_type::SYSTEM => p.system_scheduler_enabled,
            crate::consts::job_type::SYSBATCH => p.sys_batch_scheduler_enabled,
            crate::consts::job_type::BATCH => p.batch_scheduler_enabled,
            _ => p.service_scheduler_enabled,
        }
    }
}

/// Preemption switches per scheduler.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct PreemptionConfig {
    /// System jobs may preempt (default on).
    pub system_scheduler_enabled: bool,
    /// Sysbatch jobs may preempt.
    pub sys_batch_scheduler_enabled: bool,
    /// Batch jobs may preempt.
    pub batch_scheduler_enabled: bool,
    /// Service jobs may preempt.
    pub service_scheduler_enabled: bool,
}

impl Default for PreemptionConfig {
    fn default() -> Self {
        PreemptionConfig {
            system_scheduler_enabled: true,
            sys_batch_scheduler_enabled: false,
            batch_scheduler_enabled: false,
            service_scheduler_enabled: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_json() {
        let c = SchedulerConfiguration::default();
        assert!(c.preemption_enabled("system"));
        assert!(!c.preemption_enabled("service"));
        assert_eq!(c.effective_node_limit(), 100);
        let json = serde_json::to_string(&c).unwrap();
        assert!(json.starts_with(
            r#"{"SchedulerAlgorithm":"binpack","PreemptionConfig":{"SystemSchedulerEnabled":true"#
        ));
        let back: SchedulerConfiguration = serde_json::from_str("{}").unwrap();
        assert_eq!(back, c);
    }
}
