//! Deployment bookkeeping shared by both reconcilers: reading a group's
//! update block, creating a deployment for a new job version, cancelling
//! deployments a job no longer needs, and the status texts of a created
//! deployment.

use std::sync::Arc;

use nomad_types::consts::deployment_status;
use nomad_types::{Deployment, DeploymentState, Job, TaskGroup, UpdateStrategy};

use crate::descriptions;
use crate::types::DeploymentStatusUpdate;

/// The update block that applies to a group: its own (merged by
/// canonicalisation), else the job's.
pub fn group_update<'a>(job: &'a Job, tg: &'a TaskGroup) -> Option<&'a UpdateStrategy> {
    tg.update.as_ref().or(job.update.as_ref())
}

/// `update.max_parallel`; an update block without one gets Nomad's default
/// of 1, no update block means 0.
pub fn max_parallel(u: Option<&UpdateStrategy>) -> i64 {
    u.map_or(0, |u| u.max_parallel.unwrap_or(1).max(0))
}

/// Nomad's `UpdateStrategy.IsEmpty`: no block, or `max_parallel = 0`
/// (rolling updates disabled).
pub fn update_is_empty(u: Option<&UpdateStrategy>) -> bool {
    max_parallel(u) == 0
}

/// `update.canary` (0 when unset).
pub fn canary_count(u: Option<&UpdateStrategy>) -> i64 {
    u.and_then(|u| u.canary).unwrap_or(0).max(0)
}

/// The deployment state a group starts with when a deployment is created.
pub fn initial_state(u: Option<&UpdateStrategy>) -> DeploymentState {
    let mut s = DeploymentState::default();
    if let Some(u) = u.filter(|u| !update_is_empty(Some(u))) {
        s.auto_revert = u.auto_revert.unwrap_or(false);
        s.auto_promote = u.auto_promote.unwrap_or(false);
        s.progress_deadline = u.progress_deadline.unwrap_or_default();
    }
    s
}

/// A new running deployment of `job`'s current version.
pub fn new_deployment(job: &Job, eval_priority: i64, now: i64, id: String) -> Deployment {
    Deployment {
        id,
        namespace: job.namespace().to_string(),
        job_id: job.id().to_string(),
        job_version: job.version(),
        job_modify_index: job.modify_index.unwrap_or(0),
        job_spec_modify_index: job.job_modify_index.unwrap_or(0),
        job_create_index: job.create_index.unwrap_or(0),
        is_multiregion: job.is_multiregion(),
        task_groups: Default::default(),
        status: deployment_status::RUNNING.to_string(),
        status_description: descriptions::DEPLOYMENT_RUNNING.to_string(),
        eval_priority,
        create_index: 0,
        modify_index: 0,
        create_time: now,
        modify_time: now,
    }
}

/// Some group waits for canaries to be promoted (only while running).
pub fn requires_promotion(d: &Deployment) -> bool {
    d.status == deployment_status::RUNNING
        && d.task_groups
            .values()
            .any(|s| s.desired_canaries > 0 && !s.promoted)
}

/// Every group with canaries promotes them automatically.
pub fn has_auto_promote(d: &Deployment) -> bool {
    !d.task_groups.is_empty()
        && d.status == deployment_status::RUNNING
        && d.task_groups
            .values()
            .all(|s| s.desired_canaries <= 0 || s.auto_promote)
}

/// Sets the description of a freshly created deployment that waits for a
/// promotion.
pub fn describe_created(d: &mut Deployment) {
    if requires_promotion(d) {
        d.status_description = if has_auto_promote(d) {
            descriptions::DEPLOYMENT_RUNNING_AUTO_PROMOTION
        } else {
            descriptions::DEPLOYMENT_RUNNING_NEEDS_PROMOTION
        }
        .to_string();
    }
}

/// The outcome of [`cancel_unneeded`].
#[derive(Debug, Default)]
pub struct DeploymentSplit {
    /// A deployment of an older version (or a finished one): its unpromoted
    /// canaries are stopped.
    pub old: Option<Arc<Deployment>>,
    /// The deployment of the job's current version still in progress.
    pub current: Option<Arc<Deployment>>,
    /// Cancellations.
    pub updates: Vec<DeploymentStatusUpdate>,
}

fn cancel(d: &Deployment, description: &str) -> DeploymentStatusUpdate {
    DeploymentStatusUpdate {
        deployment_id: d.id.clone(),
        status: deployment_status::CANCELLED.to_string(),
        status_description: description.to_string(),
    }
}

/// Splits the job's latest deployment into old and current, cancelling it
/// when the job is stopped ("Cancelled because job is stopped") or when it
/// belongs to another job version ("Cancelled due to newer version of
/// job"). A successful deployment is old.
pub fn cancel_unneeded(job: Option<&Job>, d: Option<&Arc<Deployment>>) -> DeploymentSplit {
    let mut out = DeploymentSplit::default();
    let Some(job) = job.filter(|j| !j.is_stopped()) else {
        if let Some(d) = d.filter(|d| d.active()) {
            out.updates
                .push(cancel(d, descriptions::DEPLOYMENT_STOPPED_JOB));
        }
        out.old = d.cloned();
        return out;
    };
    let Some(d) = d else {
        return out;
    };
    if d.job_create_index != job.create_index.unwrap_or(0) || d.job_version != job.version() {
        if d.active() {
            out.updates
                .push(cancel(d, descriptions::DEPLOYMENT_NEWER_JOB));
        }
        out.old = Some(d.clone());
        return out;
    }
    if d.status == deployment_status::SUCCESSFUL {
        out.old = Some(d.clone());
        return out;
    }
    out.current = Some(d.clone());
    out
}

/// Paused by the user, or waiting for peers (multiregion pending /
/// initializing): no new placements.
pub fn is_paused(d: &Deployment) -> bool {
    matches!(
        d.status.as_str(),
        deployment_status::PAUSED | deployment_status::PENDING | deployment_status::INITIALIZING
    )
}

/// The deployment failed: no further rollout.
pub fn is_failed(d: &Deployment) -> bool {
    d.status == deployment_status::FAILED
}

/// The status changes for the current deployment once the groups are
/// computed: successful when `complete` (blocked for multiregion jobs), and
/// pending once an initializing multiregion deployment has its state.
pub fn completion_updates(
    job: &Job,
    current: &Deployment,
    complete: bool,
) -> Vec<DeploymentStatusUpdate> {
    let mut out = Vec::new();
    if complete {
        if job.is_multiregion() {
            if current.status != deployment_status::UNBLOCKING
                && current.status != deployment_status::SUCCESSFUL
            {
                out.push(DeploymentStatusUpdate {
                    deployment_id: current.id.clone(),
                    status: deployment_status::BLOCKED.to_string(),
                    status_description: descriptions::DEPLOYMENT_BLOCKED.to_string(),
                });
            }
        } else {
            out.push(DeploymentStatusUpdate {
                deployment_id: current.id.clone(),
                status: deployment_status::SUCCESSFUL.to_string(),
                status_description: descriptions::DEPLOYMENT_SUCCESSFUL.to_string(),
            });
        }
    }
    if current.status == deployment_status::INITIALIZING {
        out.push(DeploymentStatusUpdate {
            deployment_id: current.id.clone(),
            status: deployment_status::PENDING.to_string(),
            status_description: descriptions::DEPLOYMENT_PENDING_FOR_PEER.to_string(),
        });
    }
    out
}
