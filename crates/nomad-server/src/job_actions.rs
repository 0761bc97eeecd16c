//! Operators' actions on a registered job: `Job.Revert`, `Job.Stable`,
//! `Job.Scale` and `Job.ScaleStatus`.
//!
//! Scaling events live in nomad-state's `scaling_event` table (per job and
//! task group, newest first, the last 20 kept, removed with the job). A
//! scale with a count registers the job with the group's new count, its
//! evaluation and the event in one Raft entry
//! (`Command::ScalingEventRegister`), so a check-index conflict leaves no
//! event behind and the event always names its evaluation.

use std::collections::BTreeMap;

use nomad_state::command::{JobRegister, JobStability, ScalingEventRegister};
use nomad_state::{Command, StateSnapshot};
use nomad_types::api::{
    JobRegisterRequest, JobRegisterResponse, JobRevertRequest, JobScaleStatusResponse,
    JobStabilityRequest, JobStabilityResponse, ScalingEvent, ScalingRequest, TaskGroupScaleStatus,
};
use nomad_types::consts::{alloc_client_status, eval_trigger, job_type};
use nomad_types::Job;

use crate::deployments::revert_copy;
use crate::error::ServerError;
use crate::jobs::{apply_error, new_eval, ENFORCE_PREFIX};
use crate::server::Server;

/// `Target` keys of a scaling request (Nomad's `ScalingTarget*`).
const TARGET_NAMESPACE: &str = "Namespace";
const TARGET_JOB: &str = "Job";
const TARGET_GROUP: &str = "Group";

fn namespace_or_default(ns: &str) -> &str {
    if ns.is_empty() {
        "default"
    } else {
        ns
    }
}

fn version_not_found(job_id: &str, ns: &str, version: u64) -> ServerError {
    ServerError::NotFound(format!(
        "job {job_id:?} in namespace {ns:?} at version {version} not found"
    ))
}

/// Nomad's `JobScaleRequest.Validate`.
fn validate_scale(job_id: &str, ns: &str, req: &ScalingRequest) -> Result<(), ServerError> {
    let bad = |m: &str| Err(ServerError::BadRequest(m.to_string()));
    if let Some(t) = req.target.get(TARGET_NAMESPACE) {
        if !t.is_empty() && t != ns {
            return bad("namespace in payload did not match header");
        }
    }
    if let Some(t) = req.target.get(TARGET_JOB) {
        if !t.is_empty() && t != job_id {
            return bad("job ID in payload did not match URL");
        }
    }
    if req.target.get(TARGET_GROUP).is_none_or(|g| g.is_empty()) {
        return bad("missing task group name for scaling action");
    }
    if let Some(c) = req.count {
        if c < 0 {
            return bad("scaling action count can't be negative");
        }
        if req.error {
            return bad("scaling action should not contain count if error is true");
        }
    }
    Ok(())
}

fn check_modify_index(job: &Job, want: u64) -> Result<(), ServerError> {
    let have = job.job_modify_index.unwrap_or(0);
    if want > 0 && want != have {
        return Err(ServerError::Conflict(format!(
            "{ENFORCE_PREFIX} {want}: job exists with conflicting job modify index: {have}"
        )));
    }
    Ok(())
}

impl Server {
    /// `Job.Revert`: registers an older version of a job again, as a new
    /// version (with its evaluation). With `EnforcePriorVersion` the
    /// current version must be that one (else a conflict); reverting to the
    /// current version is refused.
    pub async fn job_revert(
        &self,
        req: JobRevertRequest,
    ) -> Result<JobRegisterResponse, ServerError> {
        if req.job_id.is_empty() {
            return Err(ServerError::BadRequest("missing job ID for revert".into()));
        }
        let ns = namespace_or_default(&req.namespace).to_string();
        let snap = self.inner.reader.snapshot();
        let cur = snap
            .job_by_id(&ns, &req.job_id)
            .ok_or_else(|| ServerError::NotFound(format!("job {:?} not found", req.job_id)))?;
        if req.job_version == cur.version() {
            return Err(ServerError::BadRequest(
                "can't revert to current version".into(),
            ));
        }
        let old = snap
            .job_by_id_and_version(&ns, &req.job_id, req.job_version)
            .ok_or_else(|| version_not_found(&req.job_id, &ns, req.job_version))?;
        if let Some(prior) = req.enforce_prior_version {
            if cur.version() != prior {
                return Err(ServerError::Conflict(format!(
                    "Current job has version {}; enforcing version {prior}",
                    cur.version()
                )));
            }
        }
        let resp = self
            .job_register(JobRegisterRequest {
                job: Some(revert_copy(&old, crate::now_nanos())),
                enforce_index: req.enforce_prior_version.is_some(),
                job_modify_index: cur.job_modify_index.unwrap_or(0),
                namespace: ns.clone(),
                ..JobRegisterRequest::default()
            })
            .await?;
        tracing::info!(job_id = %req.job_id, namespace = %ns, eval_id = %resp.eval_id, from = cur.version(), to = req.job_version, "job reverted");
        Ok(resp)
    }

    /// `Job.Stable`: marks a tracked version of a job (un)stable.
    pub async fn job_stable(
        &self,
        req: JobStabilityRequest,
    ) -> Result<JobStabilityResponse, ServerError> {
        if req.job_id.is_empty() {
            return Err(ServerError::BadRequest(
                "missing job ID for marking job as stable".into(),
            ));
        }
        let ns = namespace_or_default(&req.namespace).to_string();
        let snap = self.inner.reader.snapshot();
        if snap
            .job_by_id_and_version(&ns, &req.job_id, req.job_version)
            .is_none()
        {
            return Err(version_not_found(&req.job_id, &ns, req.job_version));
        }
        let r = self
            .propose(Command::JobStability(JobStability {
                namespace: ns.clone(),
                job_id: req.job_id.clone(),
                job_version: req.job_version,
                stable: req.stable,
            }))
            .await?;
        if let Some(e) = r.error {
            return Err(apply_error(e));
        }
        tracing::info!(job_id = %req.job_id, namespace = %ns, version = req.job_version, stable = req.stable, "job stability set");
        Ok(JobStabilityResponse { index: r.index })
    }

    /// `Job.Scale`: records a scaling event for a task group and, with a
    /// count, registers the job with the group's new count (a new version)
    /// and evaluates it. The count must lie within the group's scaling
    /// policy; a job with an active deployment is not scaled; a non-zero
    /// `JobModifyIndex` must match the job's.
    pub async fn job_scale(
        &self,
        job_id: &str,
        req: ScalingRequest,
    ) -> Result<JobRegisterResponse, ServerError> {
        let ns = namespace_or_default(&req.namespace).to_string();
        validate_scale(job_id, &ns, &req)?;
        let snap = self.inner.reader.snapshot();
        let cur = snap
            .job_by_id(&ns, job_id)
            .ok_or_else(|| ServerError::NotFound(format!("job {job_id:?} not found")))?;
        if cur.job_type() == job_type::SYSTEM && req.count.is_some_and(|c| c > 1) {
            return Err(ServerError::BadRequest(
                r#"jobs of type "system" can only be scaled to 1 or 0"#.into(),
            ));
        }
        let group = req.target.get(TARGET_GROUP).cloned().unwrap_or_default();
        let tg = cur.lookup_task_group(&group).ok_or_else(|| {
            ServerError::BadRequest(format!(
                "task group {group:?} specified for scaling does not exist in job"
            ))
        })?;
        let now = crate::now_nanos();
        let mut event = ScalingEvent {
            time: now.max(0) as u64,
            count: req.count,
            previous_count: tg.count.unwrap_or(0),
            message: req.message.clone(),
            error: req.error,
            meta: req.meta.clone(),
            ..ScalingEvent::default()
        };
        let mut register = None;
        let mut eval_id = String::new();
        if let Some(count) = req.count {
            if let Some(s) = &tg.scaling {
                if let Some(min) = s.min.filter(|m| count < *m) {
                    return Err(ServerError::BadRequest(format!(
                        "group count was less than scaling policy minimum: {count} < {min}"
                    )));
                }
                if let Some(max) = s.max.filter(|m| count > *m) {
                    return Err(ServerError::BadRequest(format!(
                        "group count was greater than scaling policy maximum: {count} > {max}"
                    )));
                }
            }
            if let Some(d) = snap.latest_deployment_by_job(&ns, job_id) {
                if d.active() && d.job_create_index == cur.create_index.unwrap_or(0) {
                    return Err(ServerError::BadRequest(
                        "job scaling blocked due to active deployment".into(),
                    ));
                }
            }
            check_modify_index(&cur, req.job_modify_index)?;
            let mut job = Job::clone(&cur);
            if let Some(g) = job.lookup_task_group_mut(&group) {
                g.count = Some(count);
            }
            job.submit_time = Some(now);
            let eval = (!job.is_periodic() && !job.is_parameterized())
                .then(|| new_eval(&job, eval_trigger::SCALING, now));
            if let Some(e) = &eval {
                eval_id = e.id.clone();
                event.eval_id = Some(e.id.clone());
            }
            register = Some(JobRegister {
                job,
                eval,
                deployment: None,
                submit_time: now,
                // The job must still be the one checked above.
                enforce_index: Some(cur.job_modify_index.unwrap_or(0)),
                preserve_counts: false,
                canonical: false,
            });
        }
        let scaled = register.is_some();
        let r = self
            .propose(Command::ScalingEventRegister(ScalingEventRegister {
                namespace: ns.clone(),
                job_id: job_id.to_string(),
                task_group: group.clone(),
                event,
                job_register: register,
            }))
            .await?;
        if let Some(e) = r.error {
            // A register in between: say so with the caller's index.
            if let Some(j) = self.inner.reader.snapshot().job_by_id(&ns, job_id) {
                check_modify_index(&j, req.job_modify_index)?;
            }
            return Err(apply_error(e));
        }
        tracing::info!(job_id = %job_id, namespace = %ns, group = %group, count = ?req.count, eval_id = %eval_id, index = r.index, "job scaled");
        Ok(JobRegisterResponse {
            eval_create_index: if eval_id.is_empty() { 0 } else { r.index },
            eval_id,
            job_modify_index: if scaled {
                r.job_modify_index.unwrap_or(r.index)
            } else {
                cur.modify_index.unwrap_or(0)
            },
            index: r.index,
            known_leader: true,
            ..JobRegisterResponse::default()
        })
    }

    /// `Job.ScaleStatus`: per task group the desired count, the placed,
    /// running, healthy and unhealthy allocations (canaries and terminal
    /// allocations left out, as Nomad does) and the scaling events, newest
    /// first.
    pub fn job_scale_status(
        &self,
        namespace: &str,
        job_id: &str,
    ) -> Result<JobScaleStatusResponse, ServerError> {
        let ns = namespace_or_default(namespace);
        let snap = self.inner.reader.snapshot();
        scale_status(&snap, ns, job_id).ok_or_else(|| ServerError::NotFound("job not found".into()))
    }
}

/// The scale status of a job in `snap`, `None` when it does not exist.
pub(crate) fn scale_status(
    snap: &StateSnapshot,
    ns: &str,
    job_id: &str,
) -> Option<JobScaleStatusResponse> {
    let job = snap.job_by_id(ns, job_id)?;
    let mut events = snap
        .scaling_events(ns, job_id)
        .map(|e| e.scaling_events.clone())
        .unwrap_or_default();
    let mut groups: BTreeMap<String, TaskGroupScaleStatus> = job
        .task_groups
        .iter()
        .map(|tg| {
            (
                tg.name().to_string(),
                TaskGroupScaleStatus {
                    desired: tg.count.unwrap_or(0),
                    events: events.remove(tg.name()).unwrap_or_default(),
                    ..TaskGroupScaleStatus::default()
                },
            )
        })
        .collect();
    for a in snap.allocs_by_job(ns, job_id) {
        if a.deployment_status.as_ref().is_some_and(|d| d.canary)
            || a.terminal_status()
            || a.client_status == alloc_client_status::UNKNOWN
        {
            continue;
        }
        let Some(g) = groups.get_mut(&a.task_group) else {
            continue;
        };
        g.placed += 1;
        if a.client_status == alloc_client_status::RUNNING {
            g.running += 1;
        }
        match a.deployment_status.as_ref().and_then(|d| d.healthy) {
            Some(true) => g.healthy += 1,
            Some(false) => g.unhealthy += 1,
            None => {}
        }
    }
    Some(JobScaleStatusResponse {
        job_id: job.id().to_string(),
        namespace: job.namespace().to_string(),
        job_create_index: job.create_index.unwrap_or(0),
        job_modify_index: job.modify_index.unwrap_or(0),
        job_stopped: job.is_stopped(),
        task_groups: groups,
    })
}
