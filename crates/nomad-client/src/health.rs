//! Deployment health of an allocation, from its task states.
//!
//! Nomad's client decides whether an allocation of a deployment is healthy:
//! with `health_check = "task_states"` (and with `"checks"` when the group
//! has no checks, as here, since service checks are not run yet) an
//! allocation is healthy once every task it waits for has been running for
//! `min_healthy_time`, and unhealthy as soon as a task fails or a task that
//! should keep running finishes, or when the `healthy_deadline` passes.
//! `manual` leaves it to the operator. A service allocation outside a
//! deployment (a replacement a drain placed after the job's deployment
//! finished) is judged the same way by its group's `migrate` block, since
//! a drain moves the next allocation only once the last one is healthy.
//!
//! The allocation runner calls [`decide`] on every task state change (so a
//! failure is reported in the same update batch as the failed task) and on
//! a timer for `min_healthy_time` and the deadline; the verdict is kept in
//! the allocation's record ([`DecidedHealth`]) and sent to the servers with
//! every update of the allocation.

use std::time::Duration;

use crate::state::AllocRecord;
use nomad_types::consts::task_state;
use nomad_types::{AllocDeploymentStatus, GoTime};
use serde::{Deserialize, Serialize};

/// Nomad's defaults for an update block that leaves these unset.
const DEFAULT_MIN_HEALTHY: i64 = 10_000_000_000;
const DEFAULT_HEALTHY_DEADLINE: i64 = 300_000_000_000;

/// How often an undecided allocation is looked at again without a task
/// state change (for `min_healthy_time` and the deadline).
pub const RECHECK: Duration = Duration::from_millis(250);

/// Health decided by this client for one deployment of the allocation.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DecidedHealth {
    /// The deployment the verdict is for; a new deployment of the same
    /// allocation (an in-place update) is decided again.
    pub deployment_id: String,
    /// What is reported to the servers.
    pub status: AllocDeploymentStatus,
}

/// What to change in `rec.health` at `now`: `Some(new)` when it changes
/// (`Some(None)` forgets a verdict for an older deployment), `None` when
/// nothing changes.
pub fn decide(rec: &AllocRecord, now: i64) -> Option<Option<DecidedHealth>> {
    if let Some(h) = &rec.health {
        if h.deployment_id != rec.alloc.deployment_id {
            return Some(None);
        }
        return None;
    }
    let status = deployment_health(rec, now)?;
    Some(Some(DecidedHealth {
        deployment_id: rec.alloc.deployment_id.clone(),
        status,
    }))
}

/// The health to send with an update of `rec`.
pub fn reported(rec: &AllocRecord) -> Option<AllocDeploymentStatus> {
    rec.health
        .as_ref()
        .filter(|h| h.deployment_id == rec.alloc.deployment_id)
        .map(|h| h.status.clone())
}

/// Whether this client decides the allocation's health: it is part of a
/// deployment, or of a service job (whose drains wait for it).
pub fn watched(alloc: &nomad_types::Allocation) -> bool {
    !alloc.deployment_id.is_empty()
        || alloc
            .job
            .as_ref()
            .is_some_and(|j| j.job_type() == nomad_types::consts::job_type::SERVICE)
}

/// The health to report for `rec` at `now` (Unix nanoseconds), or `None`
/// while it is undecided, when it is not [`watched`], when the servers
/// stopped it, or when the servers already know its health.
pub fn deployment_health(rec: &AllocRecord, now: i64) -> Option<AllocDeploymentStatus> {
    let alloc = &rec.alloc;
    if !watched(alloc) || alloc.server_terminal_status() {
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
    // In a deployment the group's `update` block says how health is
    // decided; outside one (a replacement placed by a drain after the
    // job's deployment finished) its `migrate` block does, as in Nomad: the
    // drain moves the next allocation only once this one is healthy.
    let (check, min_healthy, deadline) = if alloc.deployment_id.is_empty() {
        let m = tg.migrate.as_ref();
        (
            m.and_then(|m| m.health_check.as_deref()),
            m.and_then(|m| m.min_healthy_time),
            m.and_then(|m| m.healthy_deadline),
        )
    } else {
        let u = tg.update.as_ref();
        (
            u.and_then(|u| u.health_check.as_deref()),
            u.and_then(|u| u.min_healthy_time),
            u.and_then(|u| u.healthy_deadline),
        )
    };
    if check == Some("manual") {
        return None;
    }
    let min_healthy = min_healthy.map_or(DEFAULT_MIN_HEALTHY, |n| n.0);
    let deadline = deadline.map_or(DEFAULT_HEALTHY_DEADLINE, |n| n.0);
    let canary = alloc.deployment_status.as_ref().is_some_and(|d| d.canary);
    let verdict = |healthy: bool| AllocDeploymentStatus {
        healthy: Some(healthy),
        timestamp: GoTime::from_unix_nanos(now),
        canary,
        modify_index: 0,
    };

    if rec.client_status == "failed" {
        return Some(verdict(false));
    }
    // Poststop tasks only run at the end; they are not watched.
    let watched: Vec<_> = tg
        .tasks
        .iter()
        .filter(|t| !t.is_poststop())
        .filter_map(|t| rec.tasks.get(&t.name).map(|r| (t, &r.state)))
        .collect();
    let mut all_running = !watched.is_empty();
    let mut since = 0i64;
    for (task, state) in &watched {
        let finished = state.state == task_state::DEAD;
        // A prestart task may finish by design, and so may a poststart
        // task that succeeds; any other task that stops is a failure of
        // the allocation, as is any failed task.
        let completed_hook =
            finished && !state.failed && (task.is_prestart() || task.is_poststart());
        if state.failed || (finished && !completed_hook && !task.is_prestart()) {
            return Some(verdict(false));
        }
        if completed_hook {
            continue;
        }
        if state.state != task_state::RUNNING {
            all_running = false;
            continue;
        }
        // Healthy once the most recent (re)start is min_healthy_time old.
        let started = state.started_at.to_unix_nanos().unwrap_or(now);
        let restarted = state.last_restart.to_unix_nanos().unwrap_or(0);
        since = since.max(started).max(restarted);
    }
    if all_running && now.saturating_sub(since) >= min_healthy {
        return Some(verdict(true));
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

    /// A replacement a drain placed after the job's deployment finished
    /// has no deployment: its health follows the group's `migrate` block
    /// (the drain waits for it before moving the next allocation); a batch
    /// allocation outside a deployment is not watched.
    #[test]
    fn outside_a_deployment_a_service_allocation_is_judged_by_its_migrate_block() {
        let mut rec = record(task_state::RUNNING, false, 100 * S);
        rec.alloc.deployment_id.clear();
        let mut job = (**rec.alloc.job.as_ref().expect("job")).clone();
        job.task_groups[0].migrate = Some(nomad_types::MigrateStrategy {
            min_healthy_time: Some(Nanos(2 * S)),
            healthy_deadline: Some(Nanos(60 * S)),
            ..Default::default()
        });
        rec.alloc.job = Some(Arc::new(job.clone()));
        assert_eq!(deployment_health(&rec, 101 * S), None, "1s of migrate's 2s");
        assert_eq!(
            deployment_health(&rec, 102 * S).map(|d| d.healthy),
            Some(Some(true)),
            "migrate's min_healthy_time, not update's 10s"
        );
        job.job_type = Some("batch".into());
        rec.alloc.job = Some(Arc::new(job));
        assert!(!watched(&rec.alloc));
        assert_eq!(deployment_health(&rec, 200 * S), None);
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
    fn a_batch_allocation_outside_a_deployment_or_known_health_reports_nothing() {
        let mut rec = record("running", false, 0);
        rec.alloc.deployment_id.clear();
        let mut job = (**rec.alloc.job.as_ref().expect("job")).clone();
        job.job_type = Some("batch".into());
        rec.alloc.job = Some(Arc::new(job));
        assert_eq!(deployment_health(&rec, 1_000 * S), None);
        let mut rec = record("running", false, 0);
        rec.alloc.deployment_status = Some(AllocDeploymentStatus {
            healthy: Some(true),
            ..Default::default()
        });
        assert_eq!(deployment_health(&rec, 1_000 * S), None);
    }

    #[test]
    fn a_task_that_stops_is_unhealthy_but_a_finished_prestart_is_not() {
        let rec = record("dead", false, 100 * S);
        assert_eq!(
            deployment_health(&rec, 101 * S).map(|d| d.healthy),
            Some(Some(false)),
            "a main task that exits is not healthy"
        );

        let mut rec = record("running", false, 100 * S);
        let mut job = (**rec.alloc.job.as_ref().unwrap()).clone();
        let mut init = nomad_types::Task {
            name: "init".into(),
            ..Default::default()
        };
        init.lifecycle = Some(nomad_types::TaskLifecycle {
            hook: "prestart".into(),
            sidecar: false,
        });
        job.task_groups[0].tasks.push(init);
        rec.alloc.job = Some(Arc::new(job));
        rec.tasks.insert(
            "init".into(),
            TaskRecord {
                state: TaskState {
                    state: "dead".into(),
                    ..Default::default()
                },
                ..Default::default()
            },
        );
        assert_eq!(
            deployment_health(&rec, 110 * S).map(|d| d.healthy),
            Some(Some(true))
        );
    }

    #[test]
    fn a_stopped_allocation_reports_nothing() {
        let mut rec = record("dead", true, 100 * S);
        rec.alloc.desired_status = "stop".into();
        assert_eq!(deployment_health(&rec, 101 * S), None);
    }

    #[test]
    fn decide_keeps_a_verdict_per_deployment() {
        let mut rec = record("dead", true, 100 * S);
        let first = decide(&rec, 101 * S).unwrap().unwrap();
        assert_eq!(first.deployment_id, "d1");
        assert_eq!(first.status.healthy, Some(false));
        rec.health = Some(first);
        assert_eq!(decide(&rec, 102 * S), None, "decided once");
        assert_eq!(
            reported(&rec).and_then(|d| d.healthy),
            Some(false),
            "and reported"
        );
        rec.alloc.deployment_id = "d2".into();
        assert_eq!(reported(&rec), None);
        assert_eq!(
            decide(&rec, 103 * S),
            Some(None),
            "a new deployment forgets it"
        );
    }
}
