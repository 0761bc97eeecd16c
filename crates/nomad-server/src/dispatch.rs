//! `Job.Dispatch`: children of parameterized jobs (after Nomad's
//! `Job.Dispatch` in `nomad/job_endpoint.go`).
//!
//! The child is the parent with the ID
//! `<parent>/dispatch-[<prefix>-]<Unix seconds>-<8 hex>`, `ParentID` set,
//! `Dispatched` true, the request's meta merged over the parent's and the
//! payload kept on the job; it is registered with its evaluation in one
//! entry (a periodic child gets none: the periodic dispatcher launches it).
//!
//! Difference on purpose: Nomad keeps the payload snappy-compressed in
//! `Job.Payload`; we keep the payload bytes themselves (base64 in JSON, as
//! every `[]byte`), so a client writes `Job.Payload` decoded from base64 to
//! the task's `dispatch_payload.file`.

use std::collections::BTreeSet;

use base64::Engine as _;
use nomad_state::command::JobRegister;
use nomad_state::Command;
use nomad_types::api::{JobDispatchRequest, JobDispatchResponse};
use nomad_types::consts::{dispatch_payload, eval_trigger, job_defaults};
use nomad_types::Job;

use crate::error::ServerError;
use crate::jobs::new_eval;
use crate::server::Server;

/// The largest payload accepted, in bytes (Nomad's
/// `DispatchPayloadSizeLimit`).
pub const DISPATCH_PAYLOAD_SIZE_LIMIT: usize = 16 * 1024;

/// The ID of a dispatched child launched at `unix_secs`.
pub fn dispatched_id(parent: &str, prefix_template: &str, unix_secs: i64) -> String {
    let suffix = &crate::new_id()[..8];
    if prefix_template.is_empty() {
        format!(
            "{parent}{}{unix_secs}-{suffix}",
            job_defaults::DISPATCH_LAUNCH_SUFFIX
        )
    } else {
        format!(
            "{parent}{}{prefix_template}-{unix_secs}-{suffix}",
            job_defaults::DISPATCH_LAUNCH_SUFFIX
        )
    }
}

/// Nomad's `%v` of a string slice: `[a b]`.
fn go_list(keys: &BTreeSet<&str>) -> String {
    format!("[{}]", keys.iter().copied().collect::<Vec<_>>().join(" "))
}

/// Checks a dispatch against the parent's `parameterized` block, with
/// Nomad's messages (keys sorted).
fn validate(req: &JobDispatchRequest, payload: &[u8], parent: &Job) -> Result<(), ServerError> {
    let Some(cfg) = parent.parameterized_job.as_ref() else {
        return Ok(());
    };
    let bad = |m: String| Err(ServerError::BadRequest(m));
    match cfg.payload.as_str() {
        dispatch_payload::REQUIRED if payload.is_empty() => {
            return bad("Payload is not provided but required by parameterized job".into())
        }
        dispatch_payload::FORBIDDEN if !payload.is_empty() => {
            return bad("Payload provided but forbidden by parameterized job".into())
        }
        _ => {}
    }
    if payload.len() > DISPATCH_PAYLOAD_SIZE_LIMIT {
        return bad(format!(
            "Payload exceeds maximum size; {} > {DISPATCH_PAYLOAD_SIZE_LIMIT}",
            payload.len()
        ));
    }
    let unpermitted: BTreeSet<&str> = req
        .meta
        .keys()
        .map(String::as_str)
        .filter(|k| !cfg.meta_required.iter().any(|r| r == k))
        .filter(|k| !cfg.meta_optional.iter().any(|o| o == k))
        .collect();
    if !unpermitted.is_empty() {
        return bad(format!(
            "Dispatch request included unpermitted metadata keys: {}",
            go_list(&unpermitted)
        ));
    }
    let missing: BTreeSet<&str> = cfg
        .meta_required
        .iter()
        .map(String::as_str)
        .filter(|k| !req.meta.contains_key(*k))
        .collect();
    if !missing.is_empty() {
        return bad(format!(
            "Dispatch did not provide required meta keys: {}",
            go_list(&missing)
        ));
    }
    Ok(())
}

impl Server {
    /// `Job.Dispatch`: creates a child of a parameterized job. A request
    /// whose idempotency token matches a child that still exists (not yet
    /// garbage collected, whatever its status) gets that child back, with
    /// no evaluation.
    pub async fn job_dispatch(
        &self,
        req: JobDispatchRequest,
    ) -> Result<JobDispatchResponse, ServerError> {
        if req.job_id.is_empty() {
            return Err(ServerError::BadRequest(
                "missing parameterized job ID".into(),
            ));
        }
        let ns = if req.namespace.is_empty() {
            job_defaults::NAMESPACE.to_string()
        } else {
            req.namespace.clone()
        };
        let snap = self.inner.reader.snapshot();
        let parent = snap
            .job_by_id(&ns, &req.job_id)
            .ok_or_else(|| ServerError::NotFound("parameterized job not found".into()))?;
        if !parent.is_parameterized() {
            return Err(ServerError::BadRequest(format!(
                "Specified job {:?} is not a parameterized job",
                req.job_id
            )));
        }
        if parent.is_stopped() {
            return Err(ServerError::BadRequest(format!(
                "Specified job {:?} is stopped",
                req.job_id
            )));
        }
        let payload = match req.payload.as_deref().unwrap_or("") {
            "" => Vec::new(),
            p => base64::engine::general_purpose::STANDARD
                .decode(p)
                .map_err(|e| ServerError::BadRequest(format!("invalid payload: {e}")))?,
        };
        validate(&req, &payload, &parent)?;

        if !req.idempotency_token.is_empty() {
            let existing = snap.jobs_by_id_prefix(&ns, parent.id()).find(|j| {
                j.parent_id.as_deref() == Some(parent.id())
                    && j.dispatch_idempotency_token.as_deref() == Some(&req.idempotency_token)
            });
            if let Some(j) = existing {
                tracing::debug!(job_id = %parent.id(), child_id = %j.id(), "dispatch matched an existing child by idempotency token");
                return Ok(JobDispatchResponse {
                    dispatched_job_id: j.id().to_string(),
                    job_create_index: j.create_index.unwrap_or(0),
                    index: j.modify_index.unwrap_or(0),
                    ..JobDispatchResponse::default()
                });
            }
        }

        let now = crate::now_nanos();
        let mut child = Job::clone(&parent);
        let id = dispatched_id(
            parent.id(),
            &req.id_prefix_template,
            now.div_euclid(1_000_000_000),
        );
        child.parent_id = Some(parent.id().to_string());
        child.name = Some(id.clone());
        child.id = Some(id.clone());
        child.dispatched = true;
        child.status = None;
        child.status_description = None;
        child.stable = None;
        child.version = None;
        child.create_index = None;
        child.modify_index = None;
        child.job_modify_index = None;
        child.dispatch_idempotency_token =
            (!req.idempotency_token.is_empty()).then(|| req.idempotency_token.clone());
        child.meta.extend(req.meta.clone());
        child.payload = (!payload.is_empty())
            .then(|| base64::engine::general_purpose::STANDARD.encode(&payload));
        let eval =
            (!child.is_periodic()).then(|| new_eval(&child, eval_trigger::JOB_REGISTER, now));
        let eval_id = eval.as_ref().map(|e| e.id.clone()).unwrap_or_default();
        let r = self
            .propose(Command::JobRegister(JobRegister {
                job: child,
                eval,
                submit_time: now,
                ..JobRegister::default()
            }))
            .await?;
        if let Some(e) = r.error {
            return Err(ServerError::Internal(format!(
                "dispatched job register failed: {e}"
            )));
        }
        tracing::info!(job_id = %parent.id(), child_id = %id, eval_id = %eval_id, index = r.index, "parameterized job dispatched");
        Ok(JobDispatchResponse {
            dispatched_job_id: id,
            eval_create_index: if eval_id.is_empty() { 0 } else { r.index },
            eval_id,
            job_create_index: r.index,
            index: r.index,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        let a = dispatched_id("job", "", 1700000000);
        assert!(a.starts_with("job/dispatch-1700000000-"), "{a}");
        assert_eq!(a.len(), "job/dispatch-1700000000-".len() + 8);
        let b = dispatched_id("job", "nightly", 1700000000);
        assert!(b.starts_with("job/dispatch-nightly-1700000000-"), "{b}");
        assert_ne!(dispatched_id("j", "", 1), dispatched_id("j", "", 1));
    }
}
