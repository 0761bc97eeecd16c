//! The write actions under `/v1/job/:id/`: `revert`, `stable`, `dispatch`,
//! `periodic/force` and `scale` (with its `GET` status). Request-shape
//! checks (IDs in the body against the path, the scaling target) answer 400
//! with Nomad's texts here; the rest is the agent's ([`ClusterApi`]).

use axum::http::Method;
use base64::Engine;
use nomad_types::api::{JobDispatchRequest, JobRevertRequest, JobStabilityRequest, ScalingRequest};

use super::require_write;
use crate::cluster::{ClusterApi, ClusterError};
use crate::query::{Reply, Req};

/// The namespace of a write: the `namespace` query parameter wins over the
/// body's, which wins over `default` (Nomad's `parseNamespace`).
fn write_namespace(req: &Req, body_ns: &str) -> String {
    match req.param("namespace") {
        Some(ns) => ns.to_string(),
        None if !body_ns.is_empty() => body_ns.to_string(),
        None => req.namespace(),
    }
}

/// `PUT|POST /v1/job/:id/revert`: `{"JobID", "JobVersion",
/// "EnforcePriorVersion"}`; answers a `JobRegisterResponse`.
pub(crate) async fn revert(
    api: &dyn ClusterApi,
    req: &Req,
    id: &str,
) -> Result<Reply, ClusterError> {
    require_write(req)?;
    let mut body: JobRevertRequest = req.json_body()?;
    if body.job_id.is_empty() {
        return Err(ClusterError::BadRequest("JobID must be specified".into()));
    }
    if body.job_id != id {
        return Err(ClusterError::BadRequest("Job ID does not match".into()));
    }
    body.namespace = write_namespace(req, &body.namespace);
    let resp = api.job_revert(body).await?;
    let index = resp.index;
    Ok(Reply::json(&resp, req.pretty())?.with_index(index))
}

/// `PUT|POST /v1/job/:id/stable`: `{"JobID", "JobVersion", "Stable"}`.
pub(crate) async fn stable(
    api: &dyn ClusterApi,
    req: &Req,
    id: &str,
) -> Result<Reply, ClusterError> {
    require_write(req)?;
    let mut body: JobStabilityRequest = req.json_body()?;
    if body.job_id.is_empty() {
        return Err(ClusterError::BadRequest("JobID must be specified".into()));
    }
    if body.job_id != id {
        return Err(ClusterError::BadRequest("Job ID does not match".into()));
    }
    body.namespace = write_namespace(req, &body.namespace);
    let resp = api.job_stable(body).await?;
    let index = resp.index;
    Ok(Reply::json(&resp, req.pretty())?.with_index(index))
}

/// `PUT|POST /v1/job/:id/dispatch[?idempotency_token=T]`: `{"JobID",
/// "Payload" (base64), "Meta", "IdPrefixTemplate", "IdempotencyToken"}`.
/// The query's token wins over the body's, as Nomad's `parseWriteRequest`.
pub(crate) async fn dispatch(
    api: &dyn ClusterApi,
    req: &Req,
    id: &str,
) -> Result<Reply, ClusterError> {
    require_write(req)?;
    let mut body: JobDispatchRequest = req.json_body()?;
    if !body.job_id.is_empty() && body.job_id != id {
        return Err(ClusterError::BadRequest("Job ID does not match".into()));
    }
    body.job_id = id.to_string();
    if let Some(p) = body.payload.as_deref() {
        base64::engine::general_purpose::STANDARD
            .decode(p)
            .map_err(|e| ClusterError::BadRequest(format!("Payload: illegal base64 data: {e}")))?;
    }
    if let Some(t) = req.param("idempotency_token") {
        body.idempotency_token = t.to_string();
    }
    body.namespace = write_namespace(req, &body.namespace);
    let resp = api.job_dispatch(body).await?;
    let index = resp.index;
    Ok(Reply::json(&resp, req.pretty())?.with_index(index))
}

/// `PUT|POST /v1/job/:id/periodic/force`: `{"EvalID", "EvalCreateIndex"}`.
pub(crate) async fn periodic_force(
    api: &dyn ClusterApi,
    req: &Req,
    id: &str,
) -> Result<Reply, ClusterError> {
    require_write(req)?;
    let resp = api
        .job_periodic_force(req.namespace(), id.to_string())
        .await?;
    let index = resp.index;
    Ok(Reply::json(&resp, req.pretty())?.with_index(index))
}

/// `GET /v1/job/:id/scale` (the scale status) and `PUT|POST` (a scaling
/// action: `{"Count", "Target": {"Group"}, "Message", "Error", "Meta"}`).
pub(crate) async fn scale(
    api: &dyn ClusterApi,
    req: &Req,
    id: &str,
) -> Result<Reply, ClusterError> {
    match req.method {
        Method::GET | Method::HEAD => {
            let meta = api.read_barrier(false).await?;
            let status = api
                .job_scale_status(req.namespace(), id.to_string())
                .await?;
            let index = status.job_modify_index.max(status.job_create_index);
            Ok(Reply::json(&status, req.pretty())?.with_meta(index, meta))
        }
        Method::PUT | Method::POST => {
            let mut body: ScalingRequest = req.json_body()?;
            let namespace = write_namespace(req, &body.namespace);
            check_scaling_request(&body, id, &namespace)?;
            body.namespace = namespace;
            let resp = api.job_scale(id.to_string(), body).await?;
            let index = resp.index;
            Ok(Reply::json(&resp, req.pretty())?.with_index(index))
        }
        _ => Err(ClusterError::InvalidMethod),
    }
}

/// Nomad's checks of a scaling request's shape (`JobScaleRequest.Validate`).
fn check_scaling_request(
    body: &ScalingRequest,
    id: &str,
    namespace: &str,
) -> Result<(), ClusterError> {
    let target = |k: &str| body.target.get(k).map(String::as_str).unwrap_or("");
    if !target("Job").is_empty() && target("Job") != id {
        return Err(ClusterError::BadRequest(
            "job ID in payload did not match URL".into(),
        ));
    }
    if !target("Namespace").is_empty() && target("Namespace") != namespace {
        return Err(ClusterError::BadRequest(
            "namespace in payload did not match header".into(),
        ));
    }
    if target("Group").is_empty() {
        return Err(ClusterError::BadRequest(
            "missing task group name for scaling action".into(),
        ));
    }
    if let Some(count) = body.count {
        if count < 0 {
            return Err(ClusterError::BadRequest(
                "scaling action count can't be negative".into(),
            ));
        }
        if body.error {
            return Err(ClusterError::BadRequest(
                "scaling action should not contain count if error is true".into(),
            ));
        }
    }
    Ok(())
}
