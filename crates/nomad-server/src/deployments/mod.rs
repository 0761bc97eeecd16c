//! Deployments: the operators' actions on them (`Deployment.Promote`,
//! `Deployment.Fail`, `Deployment.Pause`) and the leader's deployment
//! watcher ([`watcher`]), after Nomad's `nomad/deploymentwatcher`.
//!
//! Every status change is one Raft entry that also writes an evaluation of
//! the job (`TriggeredBy: deployment-watcher`, with the deployment's ID),
//! so the scheduler acts on it: places the next batch after a promotion or
//! a resume, or stops placing after a failure. A failure of a deployment
//! whose groups ask for `auto_revert` registers the job's latest stable
//! version again, as a new version, in the same entry.

mod watcher;

pub(crate) use watcher::WatchState;

use std::sync::Arc;

use nomad_state::command::{
    DeploymentAllocHealth, DeploymentPromotion, DeploymentStatusUpdate,
    DeploymentStatusUpdateRequest,
};
use nomad_state::{ApplyResult, Command, StateSnapshot};
use nomad_types::api::{
    DeploymentAllocHealthRequest, DeploymentPauseRequest, DeploymentPromoteRequest,
    DeploymentUpdateResponse,
};
use nomad_types::consts::{deployment_description, deployment_status, eval_trigger};
use nomad_types::{Deployment, Evaluation, Job};

use crate::error::ServerError;
use crate::jobs::{apply_error, new_eval};
use crate::server::Server;

/// An evaluation of `job` on behalf of deployment `d` (Nomad's
/// `deploymentWatcher.getEval`): the deployment's priority, else the job's.
pub(crate) fn deployment_eval(d: &Deployment, job: &Job, now: i64) -> Evaluation {
    let mut e = new_eval(job, eval_trigger::DEPLOYMENT_WATCHER, now);
    e.deployment_id = d.id.clone();
    if d.eval_priority > 0 {
        e.priority = d.eval_priority;
    }
    e
}

/// True when `new` differs from `old` in more than the fields the servers
/// manage (Nomad's `Job.SpecChanged`).
pub(crate) fn spec_changed(old: &Job, new: &Job) -> bool {
    let mut c = new.clone();
    c.status = old.status.clone();
    c.status_description = old.status_description.clone();
    c.stable = old.stable;
    c.version = old.version;
    c.create_index = old.create_index;
    c.modify_index = old.modify_index;
    c.job_modify_index = old.job_modify_index;
    c.submit_time = old.submit_time;
    c.version_tag = old.version_tag.clone();
    c != *old
}

/// An older version of a job, prepared to be registered again as a new
/// version (revert and auto-revert): not stable until its own deployment
/// succeeds, without the old version's tag, submitted now.
pub(crate) fn revert_copy(old: &Job, now: i64) -> Job {
    let mut j = old.clone();
    j.stable = Some(false);
    j.version_tag = None;
    j.submit_time = Some(now);
    j
}

/// What failing a deployment does to its job.
#[derive(Debug, Default)]
pub(crate) struct Rollback {
    /// The job to register (the latest stable version, as a new version).
    pub job: Option<Job>,
    /// The deployment's description, with the rollback's outcome appended.
    pub description: String,
    /// The stable version reverted to.
    pub version: Option<u64>,
}

/// Nomad's rollback decision for a failed deployment whose groups ask for
/// `auto_revert`: the newest stable version of the job, unless its spec
/// equals the current one (a revert would fail the same way) or there is
/// none.
pub(crate) fn rollback(snap: &StateSnapshot, job: &Job, base: &str, now: i64) -> Rollback {
    let stable = snap
        .job_versions(job.namespace(), job.id())
        .iter()
        .find(|j| j.stable == Some(true))
        .cloned();
    match stable {
        None => Rollback {
            description: format!("{base} - no stable job version to auto revert to"),
            ..Rollback::default()
        },
        Some(s) if !spec_changed(job, &s) => Rollback {
            description: format!(
                "{base} - not rolling back to stable job version {} as current job has same specification",
                s.version()
            ),
            ..Rollback::default()
        },
        Some(s) => Rollback {
            description: format!("{base} - rolling back to job version {}", s.version()),
            version: Some(s.version()),
            job: Some(revert_copy(&s, now)),
        },
    }
}

/// The deployment `id` if it is still active; `terminal` is the error for
/// one that has finished (Nomad's `can't … terminal deployment`).
fn active_deployment(
    snap: &StateSnapshot,
    id: &str,
    terminal: &str,
) -> Result<Arc<Deployment>, ServerError> {
    if id.is_empty() {
        return Err(ServerError::BadRequest("missing deployment ID".into()));
    }
    let d = snap
        .deployment_by_id(id)
        .ok_or_else(|| ServerError::NotFound("deployment not found".into()))?;
    if !d.active() {
        return Err(ServerError::BadRequest(terminal.into()));
    }
    Ok(d)
}

fn job_of(snap: &StateSnapshot, d: &Deployment) -> Result<Arc<Job>, ServerError> {
    snap.job_by_id(&d.namespace, &d.job_id)
        .ok_or_else(|| ServerError::NotFound(format!("job {:?} not found", d.job_id)))
}

fn checked(r: ApplyResult) -> Result<ApplyResult, ServerError> {
    match r.error {
        Some(e) => Err(apply_error(e)),
        None => Ok(r),
    }
}

impl Server {
    /// Sets a deployment's status in one entry with an optional evaluation
    /// and an optional job to register (a rollback).
    pub(crate) async fn set_deployment_status(
        &self,
        d: &Deployment,
        status: &str,
        description: &str,
        eval: Option<Evaluation>,
        job: Option<Job>,
    ) -> Result<ApplyResult, ServerError> {
        let r = self
            .propose(Command::DeploymentStatusUpdate(
                DeploymentStatusUpdateRequest {
                    deployment_update: DeploymentStatusUpdate {
                        deployment_id: d.id.clone(),
                        status: status.to_string(),
                        status_description: description.to_string(),
                    },
                    updated_at: crate::now_nanos(),
                    job,
                    eval,
                },
            ))
            .await?;
        checked(r)
    }

    /// Fails a deployment with `base` as its description, rolling the job
    /// back to its latest stable version when `revert` (see [`rollback`]).
    pub(crate) async fn fail_deployment(
        &self,
        snap: &StateSnapshot,
        d: &Deployment,
        job: &Job,
        base: &str,
        revert: bool,
    ) -> Result<DeploymentUpdateResponse, ServerError> {
        let now = crate::now_nanos();
        let rb = if revert {
            rollback(snap, job, base, now)
        } else {
            Rollback {
                description: base.to_string(),
                ..Rollback::default()
            }
        };
        let eval = deployment_eval(d, job, now);
        let eval_id = eval.id.clone();
        let r = self
            .set_deployment_status(
                d,
                deployment_status::FAILED,
                &rb.description,
                Some(eval),
                rb.job,
            )
            .await?;
        tracing::info!(
            deployment_id = %d.id,
            job_id = %d.job_id,
            eval_id = %eval_id,
            description = %rb.description,
            reverted_to = ?rb.version,
            "deployment failed"
        );
        Ok(DeploymentUpdateResponse {
            eval_id,
            eval_create_index: r.index,
            deployment_modify_index: r.index,
            reverted_job_version: rb.version,
            index: r.index,
        })
    }

    /// `Deployment.Promote`: promotes the canaries of every group (`all`)
    /// or of the named groups, and evaluates the job so the rollout goes
    /// on. Refused for a finished deployment, when a selected group lacks
    /// healthy canaries (`Task group "web" has 0/1 healthy allocations`),
    /// and when there is nothing to promote (`no canaries to promote`).
    pub async fn deployment_promote(
        &self,
        req: DeploymentPromoteRequest,
    ) -> Result<DeploymentUpdateResponse, ServerError> {
        let snap = self.inner.reader.snapshot();
        let d = active_deployment(
            &snap,
            &req.deployment_id,
            "can't promote terminal deployment",
        )?;
        let job = job_of(&snap, &d)?;
        let selected = |tg: &str| req.all || req.groups.iter().any(|g| g == tg);
        // The FSM names groups short of healthy canaries; an entry is only
        // worth proposing when it would promote something or say that.
        let mut short = false;
        let mut healthy = 0;
        for (_, s) in d.task_groups.iter().filter(|(tg, _)| selected(tg)) {
            let n = s
                .placed_canaries
                .iter()
                .filter_map(|id| snap.alloc_by_id(id))
                .filter(|a| !a.terminal_status() && watcher::is_healthy(a))
                .count();
            healthy += n;
            short |= s.desired_canaries > 0 && (n as i64) < s.desired_canaries;
        }
        if !short && healthy == 0 {
            return Err(ServerError::BadRequest("no canaries to promote".into()));
        }
        let now = crate::now_nanos();
        let eval = deployment_eval(&d, &job, now);
        let eval_id = eval.id.clone();
        let r = self
            .propose(Command::DeploymentPromotion(DeploymentPromotion {
                deployment_id: d.id.clone(),
                all: req.all,
                groups: req.groups.clone(),
                promoted_at: now,
                eval: Some(eval),
            }))
            .await?;
        let r = checked(r)?;
        tracing::info!(deployment_id = %d.id, job_id = %d.job_id, eval_id = %eval_id, all = req.all, groups = ?req.groups, "deployment promoted");
        self.deployments_changed([d.id.clone()]);
        Ok(DeploymentUpdateResponse {
            eval_id,
            eval_create_index: r.index,
            deployment_modify_index: r.index,
            reverted_job_version: None,
            index: r.index,
        })
    }

    /// `Deployment.Fail`: marks an active deployment failed ("Deployment
    /// marked as failed") and, when one of its groups asks for
    /// `auto_revert`, registers the job's latest stable version again.
    pub async fn deployment_fail(
        &self,
        deployment_id: &str,
    ) -> Result<DeploymentUpdateResponse, ServerError> {
        let snap = self.inner.reader.snapshot();
        let d = active_deployment(&snap, deployment_id, "can't fail terminal deployment")?;
        let job = job_of(&snap, &d)?;
        let revert = d.task_groups.values().any(|s| s.auto_revert);
        let r = self
            .fail_deployment(
                &snap,
                &d,
                &job,
                deployment_description::FAILED_BY_USER,
                revert,
            )
            .await;
        self.job_deployments_changed(&d.namespace, &d.job_id);
        r
    }

    /// `Deployment.Pause`: pauses an active deployment ("Deployment is
    /// paused"; no placements, no progress deadline) or resumes it
    /// ("Deployment is running", its progress deadlines start over, and the
    /// job is evaluated).
    pub async fn deployment_pause(
        &self,
        req: DeploymentPauseRequest,
    ) -> Result<DeploymentUpdateResponse, ServerError> {
        let snap = self.inner.reader.snapshot();
        let terminal = if req.pause {
            "can't pause terminal deployment"
        } else {
            "can't resume terminal deployment"
        };
        let d = active_deployment(&snap, &req.deployment_id, terminal)?;
        let job = job_of(&snap, &d)?;
        let (status, desc, eval) = if req.pause {
            (
                deployment_status::PAUSED,
                deployment_description::PAUSED,
                None,
            )
        } else {
            (
                deployment_status::RUNNING,
                deployment_description::RUNNING,
                Some(deployment_eval(&d, &job, crate::now_nanos())),
            )
        };
        let eval_id = eval.as_ref().map(|e| e.id.clone()).unwrap_or_default();
        let r = self
            .set_deployment_status(&d, status, desc, eval, None)
            .await?;
        tracing::info!(deployment_id = %d.id, job_id = %d.job_id, eval_id = %eval_id, status, "deployment status set");
        self.deployments_changed([d.id.clone()]);
        Ok(DeploymentUpdateResponse {
            eval_create_index: if eval_id.is_empty() { 0 } else { r.index },
            eval_id,
            deployment_modify_index: r.index,
            reverted_job_version: None,
            index: r.index,
        })
    }

    /// `Deployment.SetAllocHealth`: marks allocations of an active
    /// deployment healthy or unhealthy by hand, and evaluates the job. The
    /// watcher then reacts as to health a client reported (an unhealthy
    /// allocation may fail the deployment, and revert it under
    /// `auto_revert`).
    pub async fn deployment_alloc_health(
        &self,
        req: DeploymentAllocHealthRequest,
    ) -> Result<DeploymentUpdateResponse, ServerError> {
        let snap = self.inner.reader.snapshot();
        let d = active_deployment(
            &snap,
            &req.deployment_id,
            "can't set health of allocations for a terminal deployment",
        )?;
        if req.healthy_allocation_ids.is_empty() && req.unhealthy_allocation_ids.is_empty() {
            return Err(ServerError::BadRequest(
                "must specify at least one healthy/unhealthy allocation ID".into(),
            ));
        }
        for id in req
            .healthy_allocation_ids
            .iter()
            .chain(&req.unhealthy_allocation_ids)
        {
            match snap.alloc_by_id(id) {
                None => return Err(ServerError::NotFound(format!("unknown alloc {id:?}"))),
                Some(a) if a.deployment_id != d.id => {
                    return Err(ServerError::BadRequest(format!(
                        "allocation {id:?} is not part of deployment {:?}",
                        d.id
                    )))
                }
                Some(_) => {}
            }
        }
        let job = job_of(&snap, &d)?;
        let now = crate::now_nanos();
        let eval = deployment_eval(&d, &job, now);
        let eval_id = eval.id.clone();
        let r = self
            .propose(Command::DeploymentAllocHealth(DeploymentAllocHealth {
                deployment_id: d.id.clone(),
                healthy_allocation_ids: req.healthy_allocation_ids,
                unhealthy_allocation_ids: req.unhealthy_allocation_ids,
                timestamp: now,
                deployment_update: None,
                job: None,
                eval: Some(eval),
            }))
            .await?;
        if let Some(e) = r.error {
            return Err(apply_error(e));
        }
        tracing::info!(deployment_id = %d.id, job_id = %d.job_id, eval_id = %eval_id, "allocation health set by hand");
        self.deployments_changed([d.id.clone()]);
        Ok(DeploymentUpdateResponse {
            eval_id,
            eval_create_index: r.index,
            deployment_modify_index: r.index,
            reverted_job_version: None,
            index: r.index,
        })
    }
}
