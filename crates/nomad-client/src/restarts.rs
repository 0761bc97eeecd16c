//! The restart policy (Nomad's restart tracker): `attempts` restarts within
//! `interval`, each after `delay` plus up to 25 % jitter; once exhausted,
//! mode `fail` fails the task and mode `delay` waits for the next interval.

use std::time::{Duration, Instant};

use nomad_types::consts::{job_type, restart_mode};
use nomad_types::{RestartPolicy, Task};

/// Nomad's jitter on restart delays: up to 25 % of the delay.
pub const JITTER: f64 = 0.25;
/// Reason when a restart is within the policy.
pub const REASON_WITHIN_POLICY: &str = "Restart within policy";
/// Reason when attempts are 0.
pub const REASON_NO_RESTARTS: &str = "Policy allows no restarts";
/// Reason for an unrecoverable start error.
pub const REASON_UNRECOVERABLE: &str = "Error was unrecoverable";
/// Reason in mode delay once attempts are used up.
pub const REASON_DELAY: &str = "Exceeded allowed attempts, applying a delay";

/// What to do after a task exited or failed to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Start again after the delay.
    Restart(Duration, String),
    /// Do not restart; the task failed.
    NotRestarting(String),
    /// Done, successfully (batch task exited 0, …).
    Terminated,
}

/// The outcome being judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The task ran and exited; `true` when successfully.
    Exited(bool),
    /// Starting failed; `true` when retrying may help.
    StartFailed(bool),
}

/// Tracks restarts of one task.
#[derive(Debug, Clone)]
pub struct RestartTracker {
    policy: RestartPolicy,
    on_success: bool,
    count: i64,
    interval_start: Instant,
}

impl RestartTracker {
    /// A tracker for `task` of a job of `job_type_name`.
    pub fn new(task: &Task, group_policy: Option<&RestartPolicy>, job_type_name: &str) -> Self {
        let mut policy = RestartPolicy::default_for(job_type_name);
        if let Some(g) = group_policy {
            policy.merge(g);
        }
        if let Some(t) = &task.restart_policy {
            policy.merge(t);
        }
        // Batch jobs do not restart tasks that exited 0; lifecycle tasks
        // restart on success only when they are sidecars; poststop never.
        let mut on_success =
            !(job_type_name == job_type::BATCH || job_type_name == job_type::SYSBATCH);
        if let Some(l) = &task.lifecycle {
            if task.is_prestart() || task.is_poststart() {
                on_success = l.sidecar;
            } else if task.is_poststop() {
                on_success = false;
            }
        }
        RestartTracker {
            policy,
            on_success,
            count: 0,
            interval_start: Instant::now(),
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> &RestartPolicy {
        &self.policy
    }

    fn interval(&self) -> Duration {
        self.policy
            .interval
            .and_then(|n| n.to_std())
            .unwrap_or(Duration::from_secs(0))
    }

    fn delay(&self) -> Duration {
        self.policy
            .delay
            .and_then(|n| n.to_std())
            .unwrap_or(Duration::from_secs(0))
    }

    /// Judges an outcome, counting the restart when there is one.
    pub fn decide(&mut self, outcome: Outcome) -> Decision {
        let attempts = self.policy.attempts.unwrap_or(0);
        let success = matches!(outcome, Outcome::Exited(true));
        if attempts == 0 {
            if !self.on_success && success {
                return Decision::Terminated;
            }
            return Decision::NotRestarting(REASON_NO_RESTARTS.into());
        }
        let now = Instant::now();
        if now > self.interval_start + self.interval() {
            self.count = 0;
            self.interval_start = now;
        }
        self.count += 1;
        match outcome {
            Outcome::StartFailed(false) => {
                return Decision::NotRestarting(REASON_UNRECOVERABLE.into())
            }
            Outcome::Exited(true) if !self.on_success => return Decision::Terminated,
            _ => {}
        }
        if self.count > attempts {
            if self.policy.mode.as_deref() == Some(restart_mode::DELAY) {
                let left = (self.interval_start + self.interval()).saturating_duration_since(now);
                return Decision::Restart(left, REASON_DELAY.into());
            }
            return Decision::NotRestarting(format!(
                "Exceeded allowed attempts {attempts} in interval {} and mode is \"fail\"",
                nomad_types::Nanos::from_std(self.interval())
            ));
        }
        Decision::Restart(self.jittered_delay(), REASON_WITHIN_POLICY.into())
    }

    fn jittered_delay(&self) -> Duration {
        let d = self.delay().as_nanos().max(1) as u64;
        let j = (fastrand::u64(0..d) as f64 * JITTER) as u64;
        Duration::from_nanos(d + j)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nomad_types::Nanos;

    fn policy(attempts: i64, mode: &str) -> RestartPolicy {
        RestartPolicy {
            attempts: Some(attempts),
            interval: Some(Nanos::from_secs(60)),
            delay: Some(Nanos::from_millis(100)),
            mode: Some(mode.into()),
            render_templates: None,
        }
    }

    #[test]
    fn fail_mode_gives_up_after_attempts() {
        let t = Task::new("t", "raw_exec");
        let mut r = RestartTracker::new(&t, Some(&policy(2, "fail")), "service");
        for _ in 0..2 {
            match r.decide(Outcome::Exited(false)) {
                Decision::Restart(d, reason) => {
                    assert!(d >= Duration::from_millis(100) && d <= Duration::from_millis(125));
                    assert_eq!(reason, REASON_WITHIN_POLICY);
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(
            r.decide(Outcome::Exited(false)),
            Decision::NotRestarting(
                "Exceeded allowed attempts 2 in interval 1m0s and mode is \"fail\"".into()
            )
        );
    }

    #[test]
    fn delay_mode_waits_for_the_interval() {
        let t = Task::new("t", "raw_exec");
        let mut r = RestartTracker::new(&t, Some(&policy(1, "delay")), "service");
        assert!(matches!(
            r.decide(Outcome::Exited(false)),
            Decision::Restart(..)
        ));
        match r.decide(Outcome::Exited(false)) {
            Decision::Restart(d, reason) => {
                assert!(d > Duration::from_secs(50));
                assert_eq!(reason, REASON_DELAY);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn batch_success_terminates_and_unrecoverable_fails() {
        let t = Task::new("t", "raw_exec");
        let mut r = RestartTracker::new(&t, Some(&policy(3, "fail")), "batch");
        assert_eq!(r.decide(Outcome::Exited(true)), Decision::Terminated);
        assert_eq!(
            r.decide(Outcome::StartFailed(false)),
            Decision::NotRestarting(REASON_UNRECOVERABLE.into())
        );
        let mut r = RestartTracker::new(&t, Some(&policy(0, "fail")), "service");
        assert_eq!(
            r.decide(Outcome::Exited(true)),
            Decision::NotRestarting(REASON_NO_RESTARTS.into())
        );
    }
}
