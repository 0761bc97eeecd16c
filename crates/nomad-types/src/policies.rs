//! Placement rules and lifecycle policies shared by jobs, groups and tasks:
//! constraints, affinities, spreads, restart / reschedule / update / migrate
//! policies and the disconnect strategy.
//!
//! Policy fields are `Option`s: `None` means "not given" (JSON `null`), so a
//! user's explicit zero survives defaulting and merging.

use serde::{Deserialize, Serialize};

use crate::consts::{delay_function, health_check, job_type, reconcile_option, restart_mode};
use crate::duration::Nanos;
use crate::serde_util::nullable;

/// A hard placement rule: `LTarget Operand RTarget`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Constraint {
    /// Left-hand side, usually an interpolated node attribute (`${attr.kernel.name}`).
    pub l_target: String,
    /// Right-hand side value.
    pub r_target: String,
    /// Operator, see [`crate::consts::operand`].
    pub operand: String,
}

impl Constraint {
    /// Builds a constraint.
    pub fn new(
        l_target: impl Into<String>,
        operand: impl Into<String>,
        r_target: impl Into<String>,
    ) -> Self {
        Constraint {
            l_target: l_target.into(),
            r_target: r_target.into(),
            operand: operand.into(),
        }
    }
}

impl std::fmt::Display for Constraint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.l_target, self.operand, self.r_target)
    }
}

/// A soft placement preference with a weight in `-100..=100`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Affinity {
    /// Left-hand side.
    pub l_target: String,
    /// Right-hand side.
    pub r_target: String,
    /// Operator.
    pub operand: String,
    /// Weight; defaults to 50.
    pub weight: Option<i8>,
}

impl std::fmt::Display for Affinity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {} {}",
            self.l_target,
            self.operand,
            self.r_target,
            self.weight.unwrap_or(0)
        )
    }
}

/// Spread allocations across the values of a node attribute.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Spread {
    /// The attribute to spread over.
    pub attribute: String,
    /// Relative weight, `0..=100`; defaults to 50.
    pub weight: Option<i8>,
    /// Desired percentages per attribute value.
    #[serde(with = "nullable")]
    pub spread_target: Vec<SpreadTarget>,
}

/// The desired share of allocations for one attribute value.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct SpreadTarget {
    /// Attribute value.
    pub value: String,
    /// Percentage of allocations.
    pub percent: u8,
}

/// How the client restarts failed tasks in place.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct RestartPolicy {
    /// Window in which `attempts` are counted.
    pub interval: Option<Nanos>,
    /// Restarts allowed per interval.
    pub attempts: Option<i64>,
    /// Wait before restarting.
    pub delay: Option<Nanos>,
    /// `fail` or `delay` once attempts are exhausted.
    pub mode: Option<String>,
    /// Re-render templates on restart.
    pub render_templates: Option<bool>,
}

impl RestartPolicy {
    /// Nomad's default for a job type: service and system jobs get
    /// 2 attempts / 30m / 15s / fail; everything else 3 / 24h / 15s / fail.
    pub fn default_for(job_type_name: &str) -> Self {
        let service_like = job_type_name == job_type::SERVICE || job_type_name == job_type::SYSTEM;
        RestartPolicy {
            interval: Some(if service_like {
                Nanos::from_mins(30)
            } else {
                Nanos::from_hours(24)
            }),
            attempts: Some(if service_like { 2 } else { 3 }),
            delay: Some(Nanos::from_secs(15)),
            mode: Some(restart_mode::FAIL.to_string()),
            render_templates: Some(false),
        }
    }

    /// Overwrites every field that `other` sets.
    pub fn merge(&mut self, other: &RestartPolicy) {
        merge_opt(&mut self.interval, &other.interval);
        merge_opt(&mut self.attempts, &other.attempts);
        merge_opt(&mut self.delay, &other.delay);
        merge_opt(&mut self.mode, &other.mode);
        merge_opt(&mut self.render_templates, &other.render_templates);
    }
}

/// How the server replaces failed allocations on other nodes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ReschedulePolicy {
    /// Reschedules allowed per interval.
    pub attempts: Option<i64>,
    /// Window in which attempts are counted.
    pub interval: Option<Nanos>,
    /// Initial delay.
    pub delay: Option<Nanos>,
    /// `constant`, `exponential` or `fibonacci`.
    pub delay_function: Option<String>,
    /// Upper bound of the delay.
    pub max_delay: Option<Nanos>,
    /// Reschedule forever.
    pub unlimited: Option<bool>,
}

impl ReschedulePolicy {
    /// Nomad's default for a job type. Service: unlimited, exponential from
    /// 30s up to 1h. Batch: 1 attempt per 24h, constant 5s. Others (system,
    /// sysbatch, unknown): all zero values (they do not reschedule).
    pub fn default_for(job_type_name: &str) -> Self {
        match job_type_name {
            job_type::SERVICE => ReschedulePolicy {
                attempts: Some(0),
                interval: Some(Nanos::ZERO),
                delay: Some(Nanos::from_secs(30)),
                delay_function: Some(delay_function::EXPONENTIAL.to_string()),
                max_delay: Some(Nanos::from_hours(1)),
                unlimited: Some(true),
            },
            job_type::BATCH => ReschedulePolicy {
                attempts: Some(1),
                interval: Some(Nanos::from_hours(24)),
                delay: Some(Nanos::from_secs(5)),
                delay_function: Some(delay_function::CONSTANT.to_string()),
                max_delay: Some(Nanos::ZERO),
                unlimited: Some(false),
            },
            _ => ReschedulePolicy {
                attempts: Some(0),
                interval: Some(Nanos::ZERO),
                delay: Some(Nanos::ZERO),
                delay_function: Some(String::new()),
                max_delay: Some(Nanos::ZERO),
                unlimited: Some(false),
            },
        }
    }

    /// Overwrites every field that `other` sets.
    pub fn merge(&mut self, other: &ReschedulePolicy) {
        merge_opt(&mut self.attempts, &other.attempts);
        merge_opt(&mut self.interval, &other.interval);
        merge_opt(&mut self.delay, &other.delay);
        merge_opt(&mut self.delay_function, &other.delay_function);
        merge_opt(&mut self.max_delay, &other.max_delay);
        merge_opt(&mut self.unlimited, &other.unlimited);
    }

    /// Fills unset fields from the job type's default.
    pub fn fill_defaults(&mut self, job_type_name: &str) {
        let mut full = ReschedulePolicy::default_for(job_type_name);
        full.merge(self);
        *self = full;
    }

    /// True when the policy allows any rescheduling.
    pub fn enabled(&self) -> bool {
        self.attempts.unwrap_or(0) > 0 || self.unlimited.unwrap_or(false)
    }
}

/// Rolling-update and canary settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct UpdateStrategy {
    /// Delay between updates (legacy).
    pub stagger: Option<Nanos>,
    /// Allocations updated at once.
    pub max_parallel: Option<i64>,
    /// `checks`, `task_states` or `manual`.
    pub health_check: Option<String>,
    /// Time an allocation must be healthy.
    pub min_healthy_time: Option<Nanos>,
    /// Deadline to become healthy.
    pub healthy_deadline: Option<Nanos>,
    /// Deadline for deployment progress.
    pub progress_deadline: Option<Nanos>,
    /// Canaries placed before the rollout.
    pub canary: Option<i64>,
    /// Roll back to the last stable version on failure.
    pub auto_revert: Option<bool>,
    /// Promote canaries automatically once healthy.
    pub auto_promote: Option<bool>,
}

impl UpdateStrategy {
    /// Nomad's defaults: max_parallel 1, checks, 10s / 5m / 10m, canary 0,
    /// no auto revert or promote, stagger 30s.
    pub fn default_strategy() -> Self {
        UpdateStrategy {
            stagger: Some(Nanos::from_secs(30)),
            max_parallel: Some(1),
            health_check: Some(health_check::CHECKS.to_string()),
            min_healthy_time: Some(Nanos::from_secs(10)),
            healthy_deadline: Some(Nanos::from_mins(5)),
            progress_deadline: Some(Nanos::from_mins(10)),
            canary: Some(0),
            auto_revert: Some(false),
            auto_promote: Some(false),
        }
    }

    /// Overwrites every field that `other` sets.
    pub fn merge(&mut self, other: &UpdateStrategy) {
        merge_opt(&mut self.stagger, &other.stagger);
        merge_opt(&mut self.max_parallel, &other.max_parallel);
        merge_opt(&mut self.health_check, &other.health_check);
        merge_opt(&mut self.min_healthy_time, &other.min_healthy_time);
        merge_opt(&mut self.healthy_deadline, &other.healthy_deadline);
        merge_opt(&mut self.progress_deadline, &other.progress_deadline);
        merge_opt(&mut self.canary, &other.canary);
        merge_opt(&mut self.auto_revert, &other.auto_revert);
        merge_opt(&mut self.auto_promote, &other.auto_promote);
    }

    /// Fills unset fields from [`UpdateStrategy::default_strategy`].
    pub fn fill_defaults(&mut self) {
        let mut full = UpdateStrategy::default_strategy();
        full.merge(self);
        *self = full;
    }

    /// True when nothing meaningful is set (all unset, zero or false).
    pub fn is_empty(&self) -> bool {
        self.stagger.is_none_or(|v| v.0 == 0)
            && self.max_parallel.is_none_or(|v| v == 0)
            && self.health_check.as_deref().is_none_or(str::is_empty)
            && self.min_healthy_time.is_none_or(|v| v.0 == 0)
            && self.healthy_deadline.is_none_or(|v| v.0 == 0)
            && self.progress_deadline.is_none_or(|v| v.0 == 0)
            && !self.auto_revert.unwrap_or(false)
            && !self.auto_promote.unwrap_or(false)
            && self.canary.is_none_or(|v| v == 0)
    }
}

/// How allocations move off draining nodes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct MigrateStrategy {
    /// Allocations migrated at once.
    pub max_parallel: Option<i64>,
    /// `checks` or `task_states`.
    pub health_check: Option<String>,
    /// Time a replacement must be healthy.
    pub min_healthy_time: Option<Nanos>,
    /// Deadline for a replacement to become healthy.
    pub healthy_deadline: Option<Nanos>,
}

impl MigrateStrategy {
    /// Nomad's defaults: 1, checks, 10s, 5m.
    pub fn default_strategy() -> Self {
        MigrateStrategy {
            max_parallel: Some(1),
            health_check: Some(health_check::CHECKS.to_string()),
            min_healthy_time: Some(Nanos::from_secs(10)),
            healthy_deadline: Some(Nanos::from_mins(5)),
        }
    }

    /// Overwrites every field that `other` sets.
    pub fn merge(&mut self, other: &MigrateStrategy) {
        merge_opt(&mut self.max_parallel, &other.max_parallel);
        merge_opt(&mut self.health_check, &other.health_check);
        merge_opt(&mut self.min_healthy_time, &other.min_healthy_time);
        merge_opt(&mut self.healthy_deadline, &other.healthy_deadline);
    }

    /// Fills unset fields from [`MigrateStrategy::default_strategy`].
    pub fn fill_defaults(&mut self) {
        let mut full = MigrateStrategy::default_strategy();
        full.merge(self);
        *self = full;
    }
}

/// What happens when a client stops heartbeating.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DisconnectStrategy {
    /// How long the server treats the node as disconnected before lost.
    pub lost_after: Option<Nanos>,
    /// How long the client keeps allocations running while disconnected.
    pub stop_on_client_after: Option<Nanos>,
    /// Replace allocations while disconnected.
    pub replace: Option<bool>,
    /// Which allocation survives a reconnect, see [`crate::consts::reconcile_option`].
    pub reconcile: Option<String>,
}

impl DisconnectStrategy {
    /// Fills `Replace = true` and `Reconcile = "best_score"` when unset.
    pub fn fill_defaults(&mut self) {
        self.replace.get_or_insert(true);
        if self.reconcile.as_deref().is_none_or(str::is_empty) {
            self.reconcile = Some(reconcile_option::BEST_SCORE.to_string());
        }
    }
}

/// Copies `src` into `dst` when `src` is set.
pub(crate) fn merge_opt<T: Clone>(dst: &mut Option<T>, src: &Option<T>) {
    if let Some(v) = src {
        *dst = Some(v.clone());
    }
}
