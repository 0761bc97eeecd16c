//! Job actions of the in-memory cluster: revert, stable, dispatch, periodic
//! force, scale and scale status, with Nomad's rules and error texts.
//! Where Nomad answers a plain RPC error (500), these answer 404 for a
//! missing object and 400 for a refused request, as the rest of this
//! cluster does. Scaling events are kept here, beside the store (newest
//! first, 20 per group, as Nomad keeps them).

use std::collections::BTreeMap;

use base64::Engine;
use nomad_state::command::{JobStability, PeriodicLaunchUpdate};
use nomad_state::Command;
use nomad_types::api::{
    JobDispatchRequest, JobDispatchResponse, JobRegisterRequest, JobRegisterResponse,
    JobRevertRequest, JobScaleStatusResponse, JobStabilityRequest, JobStabilityResponse,
    PeriodicForceResponse, ScalingEvent, ScalingRequest, TaskGroupScaleStatus,
};
use nomad_types::consts::{alloc_client_status, dispatch_payload, eval_trigger, job_defaults};

use super::{now_nanos, sched, InMemoryCluster};
use crate::cluster::ClusterError;

/// Scaling events per job (`(namespace, job)`) and group, newest first.
pub(super) type ScalingEvents = BTreeMap<(String, String), BTreeMap<String, Vec<ScalingEvent>>>;

/// How many events Nomad keeps per group.
const TRACKED_SCALING_EVENTS: usize = 20;

/// Largest dispatch payload (Nomad's `DispatchPayloadSizeLimit`, 16 KiB).
const DISPATCH_PAYLOAD_LIMIT: usize = 16 * 1024;

fn bad(msg: impl Into<String>) -> ClusterError {
    ClusterError::BadRequest(msg.into())
}

impl InMemoryCluster {
    pub(super) fn revert(
        &self,
        req: JobRevertRequest,
    ) -> Result<JobRegisterResponse, ClusterError> {
        let snap = self.reader.snapshot();
        let ns = &req.namespace;
        let cur = snap
            .job_by_id(ns, &req.job_id)
            .ok_or_else(|| ClusterError::NotFound(format!("job {:?} not found", req.job_id)))?;
        if req.job_version == cur.version() {
            return Err(bad("can't revert to current version"));
        }
        let old = snap
            .job_by_id_and_version(ns, &req.job_id, req.job_version)
            .ok_or_else(|| {
                ClusterError::NotFound(format!(
                    "job {:?} in namespace {ns:?} at version {} not found",
                    req.job_id, req.job_version
                ))
            })?;
        let mut reg = JobRegisterRequest::default();
        if let Some(prior) = req.enforce_prior_version {
            if cur.version() != prior {
                return Err(bad(format!(
                    "Current job has version {}; enforcing version {prior}",
                    cur.version()
                )));
            }
            reg.enforce_index = true;
            reg.job_modify_index = cur.job_modify_index.unwrap_or(0);
        }
        let mut job = (*old).clone();
        job.version_tag = None;
        job.stable = Some(false);
        reg.job = Some(job);
        self.register_with(reg, eval_trigger::JOB_REGISTER)
    }

    pub(super) fn stable(
        &self,
        req: JobStabilityRequest,
    ) -> Result<JobStabilityResponse, ClusterError> {
        let snap = self.reader.snapshot();
        if snap
            .job_by_id_and_version(&req.namespace, &req.job_id, req.job_version)
            .is_none()
        {
            return Err(ClusterError::NotFound(format!(
                "job {:?} in namespace {:?} at version {} not found",
                req.job_id, req.namespace, req.job_version
            )));
        }
        let res = self.apply(Command::JobStability(JobStability {
            namespace: req.namespace,
            job_id: req.job_id,
            job_version: req.job_version,
            stable: req.stable,
        }))?;
        Ok(JobStabilityResponse { index: res.index })
    }

    pub(super) fn dispatch(
        &self,
        req: JobDispatchRequest,
    ) -> Result<JobDispatchResponse, ClusterError> {
        let snap = self.reader.snapshot();
        let parent = snap
            .job_by_id(&req.namespace, &req.job_id)
            .ok_or_else(|| ClusterError::NotFound("parameterized job not found".into()))?;
        if !parent.is_parameterized() {
            return Err(bad(format!(
                "Specified job {:?} is not a parameterized job",
                req.job_id
            )));
        }
        if parent.is_stopped() {
            return Err(bad(format!("Specified job {:?} is stopped", req.job_id)));
        }
        let payload = match req.payload.as_deref() {
            Some(p) => base64::engine::general_purpose::STANDARD
                .decode(p)
                .map_err(|e| bad(format!("Payload: {e}")))?,
            None => Vec::new(),
        };
        check_dispatch(&parent, &payload, &req.meta)?;
        if !req.idempotency_token.is_empty() {
            let existing = snap.jobs().find(|j| {
                j.namespace() == parent.namespace()
                    && j.parent_id.as_deref() == Some(parent.id())
                    && j.dispatch_idempotency_token.as_deref() == Some(&req.idempotency_token)
            });
            if let Some(j) = existing {
                return Ok(JobDispatchResponse {
                    dispatched_job_id: j.id().to_string(),
                    job_create_index: j.create_index.unwrap_or(0),
                    index: j.modify_index.unwrap_or(0),
                    ..JobDispatchResponse::default()
                });
            }
        }
        let now = now_nanos();
        let suffix = &self.new_id()[..8];
        let id = if req.id_prefix_template.is_empty() {
            format!(
                "{}{}{}-{suffix}",
                parent.id(),
                job_defaults::DISPATCH_LAUNCH_SUFFIX,
                now / 1_000_000_000
            )
        } else {
            format!(
                "{}{}{}-{}-{suffix}",
                parent.id(),
                job_defaults::DISPATCH_LAUNCH_SUFFIX,
                req.id_prefix_template,
                now / 1_000_000_000
            )
        };
        let mut child = (*parent).clone();
        child.id = Some(id.clone());
        child.name = Some(id.clone());
        child.parent_id = Some(parent.id().to_string());
        child.dispatched = true;
        child.status = None;
        child.status_description = None;
        child.version = Some(0);
        child.stable = Some(false);
        child.create_index = None;
        child.modify_index = None;
        child.job_modify_index = None;
        child.dispatch_idempotency_token =
            (!req.idempotency_token.is_empty()).then(|| req.idempotency_token.clone());
        child.meta.extend(req.meta.clone());
        child.payload = req.payload.clone().filter(|p| !p.is_empty());
        let periodic = child.is_periodic();
        let resp = self.register_with(
            JobRegisterRequest {
                job: Some(child),
                ..JobRegisterRequest::default()
            },
            eval_trigger::JOB_REGISTER,
        )?;
        let snap = self.reader.snapshot();
        let create_index = snap
            .job_by_id(&req.namespace, &id)
            .and_then(|j| j.create_index)
            .unwrap_or(resp.index);
        Ok(JobDispatchResponse {
            dispatched_job_id: id,
            eval_id: if periodic {
                String::new()
            } else {
                resp.eval_id
            },
            eval_create_index: resp.eval_create_index,
            job_create_index: create_index,
            index: resp.index,
        })
    }

    pub(super) fn periodic_force(
        &self,
        namespace: &str,
        job_id: &str,
    ) -> Result<PeriodicForceResponse, ClusterError> {
        let snap = self.reader.snapshot();
        let job = snap
            .job_by_id(namespace, job_id)
            .ok_or_else(|| ClusterError::NotFound("job not found".into()))?;
        if !job.is_periodic() {
            return Err(bad("can't force launch non-periodic job"));
        }
        let now = now_nanos();
        let id = format!(
            "{}{}{}",
            job.id(),
            job_defaults::PERIODIC_LAUNCH_SUFFIX,
            now / 1_000_000_000
        );
        let mut child = (*job).clone();
        child.id = Some(id.clone());
        child.name = Some(id);
        child.parent_id = Some(job.id().to_string());
        child.periodic = None;
        child.status = None;
        child.status_description = None;
        child.version = Some(0);
        child.stable = Some(false);
        child.create_index = None;
        child.modify_index = None;
        child.job_modify_index = None;
        let resp = self.register_with(
            JobRegisterRequest {
                job: Some(child),
                ..JobRegisterRequest::default()
            },
            eval_trigger::PERIODIC_JOB,
        )?;
        self.apply(Command::PeriodicLaunch(PeriodicLaunchUpdate {
            namespace: namespace.to_string(),
            job_id: job_id.to_string(),
            launch: now,
        }))?;
        Ok(PeriodicForceResponse {
            eval_id: resp.eval_id,
            eval_create_index: resp.eval_create_index,
            index: resp.index,
        })
    }

    pub(super) fn scale(
        &self,
        job_id: &str,
        req: ScalingRequest,
    ) -> Result<JobRegisterResponse, ClusterError> {
        let snap = self.reader.snapshot();
        let ns = req.namespace.clone();
        let job = snap
            .job_by_id(&ns, job_id)
            .ok_or_else(|| ClusterError::NotFound(format!("job {job_id:?} not found")))?;
        if job.job_type() == "system" && req.count.is_some_and(|c| c > 1) {
            return Err(bad(r#"jobs of type "system" can only be scaled to 1 or 0"#));
        }
        let group = req.target.get("Group").cloned().unwrap_or_default();
        let tg = job
            .lookup_task_group(&group)
            .ok_or_else(|| {
                bad(format!(
                    "task group {group:?} specified for scaling does not exist in job"
                ))
            })?
            .clone();
        let now = now_nanos();
        let previous_count = tg.count();
        let mut event = ScalingEvent {
            time: u64::try_from(now).unwrap_or(0),
            count: req.count,
            previous_count,
            message: req.message.clone(),
            error: req.error,
            meta: req.meta.clone(),
            eval_id: None,
            create_index: 0,
        };
        let mut resp = JobRegisterResponse {
            known_leader: true,
            ..JobRegisterResponse::default()
        };
        if let Some(count) = req.count {
            if let Some(s) = &tg.scaling {
                if let Some(min) = s.min.filter(|m| count < *m) {
                    return Err(bad(format!(
                        "group count was less than scaling policy minimum: {count} < {min}"
                    )));
                }
                if let Some(max) = s.max.filter(|m| count > *m) {
                    return Err(bad(format!(
                        "group count was greater than scaling policy maximum: {count} > {max}"
                    )));
                }
            }
            let active = snap
                .latest_deployment_by_job(&ns, job_id)
                .is_some_and(|d| d.active() && Some(d.job_create_index) == job.create_index);
            if active {
                return Err(bad("job scaling blocked due to active deployment"));
            }
            if req.job_modify_index > 0 && Some(req.job_modify_index) != job.job_modify_index {
                return Err(ClusterError::Conflict(format!(
                    "Enforcing job modify index {}: job exists with conflicting job modify index: {}",
                    req.job_modify_index,
                    job.job_modify_index.unwrap_or(0)
                )));
            }
            let mut scaled = (*job).clone();
            if let Some(g) = scaled.lookup_task_group_mut(&group) {
                g.count = Some(count);
            }
            let reg = self.register_with(
                JobRegisterRequest {
                    job: Some(scaled),
                    ..JobRegisterRequest::default()
                },
                eval_trigger::SCALING,
            )?;
            if !reg.eval_id.is_empty() {
                event.eval_id = Some(reg.eval_id.clone());
            }
            resp = reg;
        } else {
            resp.job_modify_index = job.modify_index.unwrap_or(0);
        }
        // The event's index: the next one, as if it had its own entry.
        let res = self.apply(Command::Noop)?;
        event.create_index = res.index;
        resp.index = res.index;
        let mut events = self
            .scaling_events
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let list = events
            .entry((ns, job_id.to_string()))
            .or_default()
            .entry(group)
            .or_default();
        list.insert(0, event);
        list.truncate(TRACKED_SCALING_EVENTS);
        Ok(resp)
    }

    pub(super) fn scale_status(
        &self,
        namespace: &str,
        job_id: &str,
    ) -> Result<JobScaleStatusResponse, ClusterError> {
        let snap = self.reader.snapshot();
        let job = snap
            .job_by_id(namespace, job_id)
            .ok_or_else(|| ClusterError::NotFound("job not found".into()))?;
        let events = self
            .scaling_events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(namespace.to_string(), job_id.to_string()))
            .cloned()
            .unwrap_or_default();
        let mut groups: BTreeMap<String, TaskGroupScaleStatus> = job
            .task_groups
            .iter()
            .map(|tg| {
                (
                    tg.name().to_string(),
                    TaskGroupScaleStatus {
                        desired: tg.count(),
                        events: events.get(tg.name()).cloned().unwrap_or_default(),
                        ..TaskGroupScaleStatus::default()
                    },
                )
            })
            .collect();
        for a in snap.allocs_by_job(namespace, job_id) {
            let canary = a.deployment_status.as_ref().is_some_and(|d| d.canary);
            if canary || a.terminal_status() {
                continue;
            }
            let Some(s) = groups.get_mut(&a.task_group) else {
                continue;
            };
            s.placed += 1;
            if a.client_status == alloc_client_status::RUNNING {
                s.running += 1;
            }
            match a.deployment_status.as_ref().and_then(|d| d.healthy) {
                Some(true) => s.healthy += 1,
                Some(false) => s.unhealthy += 1,
                None => {}
            }
        }
        Ok(JobScaleStatusResponse {
            job_id: job.id().to_string(),
            namespace: job.namespace().to_string(),
            job_create_index: job.create_index.unwrap_or(0),
            job_modify_index: job.modify_index.unwrap_or(0),
            job_stopped: job.is_stopped(),
            task_groups: groups,
        })
    }

    /// Places what an evaluation created by an action asks for.
    pub(super) fn run_eval(&self, eval_id: &str) -> Result<(), ClusterError> {
        if self.auto_schedule && !eval_id.is_empty() {
            sched::process(self, eval_id)?;
        }
        Ok(())
    }
}

/// Nomad's `validateDispatchRequest`.
fn check_dispatch(
    parent: &nomad_types::Job,
    payload: &[u8],
    meta: &BTreeMap<String, String>,
) -> Result<(), ClusterError> {
    let Some(pj) = &parent.parameterized_job else {
        return Ok(());
    };
    let has_payload = !payload.is_empty();
    if pj.payload == dispatch_payload::REQUIRED && !has_payload {
        return Err(bad(
            "Payload is not provided but required by parameterized job",
        ));
    }
    if pj.payload == dispatch_payload::FORBIDDEN && has_payload {
        return Err(bad("Payload provided but forbidden by parameterized job"));
    }
    if payload.len() > DISPATCH_PAYLOAD_LIMIT {
        return Err(bad(format!(
            "Payload exceeds maximum size; {} > {DISPATCH_PAYLOAD_LIMIT}",
            payload.len()
        )));
    }
    let unpermitted: Vec<&str> = meta
        .keys()
        .filter(|k| !pj.meta_required.contains(k) && !pj.meta_optional.contains(k))
        .map(String::as_str)
        .collect();
    if !unpermitted.is_empty() {
        return Err(bad(format!(
            "Dispatch request included unpermitted metadata keys: [{}]",
            unpermitted.join(" ")
        )));
    }
    let missing: Vec<&str> = pj
        .meta_required
        .iter()
        .filter(|k| !meta.contains_key(*k))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(bad(format!(
            "Dispatch did not provide required meta keys: [{}]",
            missing.join(" ")
        )));
    }
    Ok(())
}
