//! Deployment health of an allocation, from its task states.
//!
//! Nomad's client decides whether an allocation of a deployment is healthy:
//! with `health_check = "task_states"` (and with `"checks"` when the group
//! has no checks, as here, since service checks are not run yet) an
//! allocation is healthy once every main task has been running for
//! `min_healthy_time`, and unhealthy if a task fails first or the
//! `healthy_deadline` passes. `manual` leaves it to the operator.

use crate::state::AllocRecord;
use nomad_types::{AllocDeploymentStatus, GoTime};

/// Nomad's defaults for an update block that leaves these unset.
const DEFAULT_MIN_HEALTHY: i64 = 10_000_000_000;
const DEFAULT_HEALTHY_DEADLINE: i64 = 300_000_000_000;

/// The health to report for `rec` at `now` (Unix nanoseconds), or `None`
/// while it is undecided, when the allocation is not part of a deployment,
/// or when the servers already know its health.
pub fn deployment_health(rec: &AllocRecord, now: i64) -> Option<AllocDeploymentStatus> {
    let alloc = &rec.alloc;
    if alloc.deployment_id.is_empty() {
        return None;
    }
    if alloc
        .deployment_status
        .as_ref()
        .is_some_and(|d| d.healthy.is_some())
    {
        return None;
    }
    let tg = alloc.job.as_ref()?.lookup_task_group(&alloc.task_group)?;
    let update = tg.update.as_ref();
    if update.and_then(|u| u.health_check.as_deref()) == Some("manual") {
        return None;
    }
    let min_healthy = update
        .and_then(|u| u.min_healthy_time)
        .map_or(DEFAULT_MIN_HEALTHY, |n| n.0);
    let deadline = update
        .and_then(|u| u.healthy_deadline)
        .map_or(DEFAULT_HEALTHY_DEADLINE, |n| n.0);
    let canary = alloc.deployment_status.as_ref().is_some_and(|d| d.canary);
    let verdict = |healthy: bool| AllocDeploymentStatus {
        healthy: Some(healthy),
        timestamp: GoTime::from_unix_nanos(now),
        canary,
        modify_index: 0,
    };

    let main: Vec<_> = tg
        .tasks
        .iter()
        .filter(|t| t.is_main())
        .filter_map(|t| rec.tasks.get(&t.name))
        .collect();
    if rec.client_status == "failed" || main.iter().any(|t| t.state.failed) {
        return Some(verdict(false));
    }
    let all_running = !main.is_empty() && main.iter().all(|t| t.state.state == "running");
    if all_running {
        // Healthy once the most recent (re)start is min_healthy_time old.
        let since = main
            .iter()
            .map(|t| {
                let started = t.state.started_at.to_unix_nanos().unwrap_or(now);
                let restarted = t.state.last_restart.to_unix_nanos().unwrap_or(0);
                started.max(restarted)
            })
            .max()
            .unwrap_or(now);
        if now.saturating_sub(since) >= min_healthy {
            return Some(verdict(true));
        }
    }
    if alloc.create_time > 0 && now.saturating_sub(alloc.create_time) >= deadline {
        return Some(verdict(false));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::TaskRecord;
    use nomad_types::{Allocation, Job, Nanos, TaskGroup, TaskState, UpdateStrategy};
    use std::sync::Arc;

    const S: i64 = 1_000_000_000;

    fn record(state: &str, failed: bool, started: i64) -> AllocRecord {
        let mut job = Job::default();
        let tg = TaskGroup {
            name: Some("web".into()),
            tasks: vec![nomad_types::Task {
                name: "t".into(),
                ..Default::default()
            }],
            update: Some(UpdateStrategy {
                min_healthy_time: Some(Nanos(10 * S)),
                healthy_deadline: Some(Nanos(60 * S)),
                ..Default::default()
            }),
            ..Default::default()
        };
        job.task_groups = vec![tg];
        let alloc = Allocation {
            deployment_id: "d1".into(),
            task_group: "web".into(),
            job: Some(Arc::new(job)),
            create_time: 100 * S,
            ..Default::default()
        };
        let mut rec = AllocRecord {
            alloc,
            client_status: "running".into(),
            ..Default::default()
        };
        let ts = TaskState {
            state: state.into(),
            failed,
            started_at: GoTime::from_unix_nanos(started),
            ..Default::default()
        };
        rec.tasks.insert(
            "t".into(),
            TaskRecord {
                state: ts,
                handle: None,
                log_keeper: None,
            },
        );
        rec
    }

    #[test]
    fn healthy_after_min_healthy_time_of_running() {
        let rec = record("running", false, 100 * S);
        assert_eq!(deployment_health(&rec, 105 * S), None, "not yet: 5s of 10s");
        let h = deployment_health(&rec, 110 * S).map(|d| d.healthy);
        assert_eq!(h, Some(Some(true)));
    }

    #[test]
    fn a_failed_task_is_unhealthy_at_once() {
        let rec = record("dead", true, 100 * S);
        assert_eq!(
            deployment_health(&rec, 101 * S).map(|d| d.healthy),
            Some(Some(false))
        );
    }

    #[test]
    fn past_the_healthy_deadline_is_unhealthy() {
        let rec = record("pending", false, 0);
        assert_eq!(deployment_health(&rec, 150 * S), None);
        assert_eq!(
            deployment_health(&rec, 160 * S).map(|d| d.healthy),
            Some(Some(false))
        );
    }

    #[test]
    fn no_deployment_or_known_health_reports_nothing() {
        let mut rec = record("running", false, 0);
        rec.alloc.deployment_id.clear();
        assert_eq!(deployment_health(&rec, 1_000 * S), None);
        let mut rec = record("running", false, 0);
        rec.alloc.deployment_status = Some(AllocDeploymentStatus {
            healthy: Some(true),
            ..Default::default()
        });
        assert_eq!(deployment_health(&rec, 1_000 * S), None);
    }
}
