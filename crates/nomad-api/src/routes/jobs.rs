//! `/v1/jobs`, `/v1/job/:id/…`, `/v1/jobs/parse`, `/v1/validate/job`; the
//! job actions (`revert`, `stable`, `dispatch`, `periodic/force`, `scale`)
//! live in `job_actions`.

use axum::http::Method;
use nomad_state::Table;
use nomad_types::api::{
    JobDeregisterRequest, JobEvaluateRequest, JobPlanRequest, JobRegisterRequest,
    JobValidateRequest, JobValidateResponse, JobVersionsResponse, JobsParseRequest,
};
use nomad_types::{diff_jobs, Job, JobListStub};

use super::{job_actions, require_get, require_write};
use crate::cluster::{ClusterApi, ClusterError};
use crate::query::{blocking, multierror, paginate, Reply, Req};

/// `GET /v1/jobs` (list) and `PUT|POST /v1/jobs` (register).
pub(crate) async fn jobs(api: &dyn ClusterApi, req: &Req) -> Result<Reply, ClusterError> {
    if req.is_write() {
        return register(api, req, "").await;
    }
    require_get(req)?;
    let q = req.query_options()?;
    let with_meta = req.bool_param("meta")?.unwrap_or(false);
    let (stubs, index, meta) = blocking(api, &q, &[Table::Jobs, Table::JobSummary], |snap| {
        let mut out: Vec<JobListStub> = Vec::new();
        for j in snap.jobs() {
            if !q.ns_matches(j.namespace()) || !j.id().starts_with(&q.prefix) || !q.passes(&**j)? {
                continue;
            }
            let summary = snap
                .job_summary(j.namespace(), j.id())
                .map(|s| (*s).clone());
            let mut stub = j.stub(summary);
            if !with_meta {
                stub.meta.clear();
            }
            out.push(stub);
        }
        out.sort_by(|a, b| a.id.cmp(&b.id).then(a.namespace.cmp(&b.namespace)));
        let idx = snap
            .table_index(Table::Jobs)
            .max(snap.table_index(Table::JobSummary));
        Ok((out, idx))
    })
    .await?;
    let (page, next) = paginate(stubs, &q, |s| s.id.clone());
    Ok(Reply::json(&page, req.pretty())?
        .with_meta(index, meta)
        .with_next_token(next))
}

/// Register (or update, with `job_id` from the path).
async fn register(api: &dyn ClusterApi, req: &Req, job_id: &str) -> Result<Reply, ClusterError> {
    let mut body: JobRegisterRequest = req.json_body()?;
    let Some(job) = body.job.as_mut() else {
        return Err(ClusterError::BadRequest("Job must be specified".into()));
    };
    let Some(id) = job.id.as_deref() else {
        return Err(ClusterError::BadRequest(
            "Job ID hasn't been provided".into(),
        ));
    };
    if !job_id.is_empty() && id != job_id {
        return Err(ClusterError::BadRequest(
            "Job ID does not match name".into(),
        ));
    }
    if body.eval_priority != 0 && !(1..=100).contains(&body.eval_priority) {
        return Err(ClusterError::BadRequest(
            "Eval priority must be between 1 and 100 inclusively".into(),
        ));
    }
    fill_job_target(job, req, api);
    body.namespace = job.namespace().to_string();
    body.region = job.region.clone().unwrap_or_default();
    let resp = api.job_register(body).await?;
    let index = resp.index;
    Ok(Reply::json(&resp, req.pretty())?.with_index(index))
}

/// A job without a namespace or region takes the request's (Nomad's
/// `apiJobAndRequestToStructs`).
fn fill_job_target(job: &mut Job, req: &Req, api: &dyn ClusterApi) {
    if job.namespace.as_deref().is_none_or(str::is_empty) {
        job.namespace = Some(req.namespace());
    }
    if job.region.as_deref().is_none_or(str::is_empty) {
        job.region = Some(
            req.param("region")
                .map(str::to_string)
                .unwrap_or_else(|| api.region()),
        );
    }
}

/// The routes under `/v1/job/`.
pub(crate) async fn job_specific(api: &dyn ClusterApi, req: &Req) -> Result<Reply, ClusterError> {
    const SUFFIXES: &[&str] = &[
        "/allocations",
        "/evaluations",
        "/evaluate",
        "/plan",
        "/summary",
        "/versions",
        "/deployments",
        "/deployment",
        "/periodic/force",
        "/revert",
        "/stable",
        "/dispatch",
        "/scale",
    ];
    let path = req.rest.as_str();
    for suffix in SUFFIXES {
        if let Some(id) = path.strip_suffix(suffix) {
            if id.is_empty() {
                continue;
            }
            return match *suffix {
                "/allocations" => job_allocations(api, req, id).await,
                "/evaluations" => job_evaluations(api, req, id).await,
                "/evaluate" => job_evaluate(api, req, id).await,
                "/plan" => job_plan(api, req, id).await,
                "/summary" => job_summary(api, req, id).await,
                "/versions" => job_versions(api, req, id).await,
                "/deployments" => job_deployments(api, req, id, true).await,
                "/deployment" => job_deployments(api, req, id, false).await,
                "/periodic/force" => job_actions::periodic_force(api, req, id).await,
                "/revert" => job_actions::revert(api, req, id).await,
                "/stable" => job_actions::stable(api, req, id).await,
                "/dispatch" => job_actions::dispatch(api, req, id).await,
                _ => job_actions::scale(api, req, id).await,
            };
        }
    }
    let id = path.trim_end_matches('/');
    if id.is_empty() {
        return Err(ClusterError::BadRequest("Missing job ID".into()));
    }
    match req.method {
        Method::GET | Method::HEAD => job_get(api, req, id).await,
        Method::PUT | Method::POST => register(api, req, id).await,
        Method::DELETE => job_delete(api, req, id).await,
        _ => Err(ClusterError::InvalidMethod),
    }
}

async fn job_get(api: &dyn ClusterApi, req: &Req, id: &str) -> Result<Reply, ClusterError> {
    let q = req.query_options()?;
    let version = match req.param("version") {
        None => None,
        Some(v) => Some(v.parse::<u64>().map_err(|_| {
            ClusterError::BadRequest(format!(
                "Failed to parse value of \"version\" ({v}) as a uint64"
            ))
        })?),
    };
    let (job, index, meta) = blocking(api, &q, &[Table::Jobs, Table::JobVersion], |snap| {
        let job = match version {
            None => snap.job_by_id(&q.namespace, id),
            Some(v) => snap.job_by_id_and_version(&q.namespace, id, v),
        };
        let idx = job
            .as_ref()
            .and_then(|j| j.modify_index)
            .unwrap_or_else(|| snap.table_index(Table::Jobs));
        Ok((job, idx))
    })
    .await?;
    let job = job.ok_or_else(|| ClusterError::NotFound("job not found".into()))?;
    Ok(Reply::json(&*job, req.pretty())?.with_meta(index, meta))
}

async fn job_delete(api: &dyn ClusterApi, req: &Req, id: &str) -> Result<Reply, ClusterError> {
    let purge = req.bool_param("purge")?.unwrap_or(false);
    let global = req.bool_param("global")?.unwrap_or(false);
    let no_shutdown_delay = req.bool_param("no_shutdown_delay")?.unwrap_or(false);
    let eval_priority = req.int_param("eval_priority")?.unwrap_or(0);
    if eval_priority > 100 {
        return Err(ClusterError::BadRequest(
            "Eval priority must be between 1 and 100 inclusively".into(),
        ));
    }
    let resp = api
        .job_deregister(JobDeregisterRequest {
            job_id: id.to_string(),
            namespace: req.namespace(),
            purge,
            global,
            eval_priority,
            no_shutdown_delay,
        })
        .await?;
    let index = resp.index;
    Ok(Reply::json(&resp, req.pretty())?.with_index(index))
}

async fn job_plan(api: &dyn ClusterApi, req: &Req, id: &str) -> Result<Reply, ClusterError> {
    require_write(req)?;
    let mut body: JobPlanRequest = req.json_body()?;
    let Some(job) = body.job.as_mut() else {
        return Err(ClusterError::BadRequest("Job must be specified".into()));
    };
    let Some(job_id) = job.id.as_deref() else {
        return Err(ClusterError::BadRequest("Job must have a valid ID".into()));
    };
    if job_id != id {
        return Err(ClusterError::BadRequest("Job ID does not match".into()));
    }
    fill_job_target(job, req, api);
    body.namespace = job.namespace().to_string();
    body.region = job.region.clone().unwrap_or_default();
    let resp = api.job_plan(body).await?;
    Reply::json(&resp, req.pretty())
}

async fn job_evaluate(api: &dyn ClusterApi, req: &Req, id: &str) -> Result<Reply, ClusterError> {
    require_write(req)?;
    let mut body: JobEvaluateRequest = if req.body.is_empty() {
        JobEvaluateRequest::default()
    } else {
        req.json_body()?
    };
    if !body.job_id.is_empty() && body.job_id != id {
        return Err(ClusterError::BadRequest(
            "JobID not same as job name".into(),
        ));
    }
    body.job_id = id.to_string();
    body.namespace = req.namespace();
    let resp = api.job_evaluate(body).await?;
    let index = resp.index;
    Ok(Reply::json(&resp, req.pretty())?.with_index(index))
}

async fn job_allocations(api: &dyn ClusterApi, req: &Req, id: &str) -> Result<Reply, ClusterError> {
    require_get(req)?;
    let q = req.query_options()?;
    let all = req.bool_param("all")?.unwrap_or(false);
    let (stubs, index, meta) = blocking(api, &q, &[Table::Allocs], |snap| {
        let current = snap
            .job_by_id(&q.namespace, id)
            .and_then(|j| j.create_index);
        let out: Vec<_> = snap
            .allocs_by_job(&q.namespace, id)
            .iter()
            .filter(|a| {
                all || current.is_none()
                    || a.job
                        .as_ref()
                        .and_then(|j| j.create_index)
                        .is_none_or(|ci| Some(ci) == current)
            })
            .map(|a| a.stub())
            .collect();
        Ok((out, snap.table_index(Table::Allocs)))
    })
    .await?;
    Ok(Reply::json(&stubs, req.pretty())?.with_meta(index, meta))
}

async fn job_evaluations(api: &dyn ClusterApi, req: &Req, id: &str) -> Result<Reply, ClusterError> {
    require_get(req)?;
    let q = req.query_options()?;
    let (evals, index, meta) = blocking(api, &q, &[Table::Evals], |snap| {
        let out: Vec<_> = snap
            .evals_by_job(&q.namespace, id)
            .iter()
            .map(|e| (**e).clone())
            .collect();
        Ok((out, snap.table_index(Table::Evals)))
    })
    .await?;
    Ok(Reply::json(&evals, req.pretty())?.with_meta(index, meta))
}

async fn job_deployments(
    api: &dyn ClusterApi,
    req: &Req,
    id: &str,
    all: bool,
) -> Result<Reply, ClusterError> {
    require_get(req)?;
    let q = req.query_options()?;
    let pretty = req.pretty();
    if all {
        let (deps, index, meta) = blocking(api, &q, &[Table::Deployment], |snap| {
            let mut out: Vec<_> = snap
                .deployments_by_job(&q.namespace, id)
                .iter()
                .map(|d| (**d).clone())
                .collect();
            out.sort_by_key(|d| std::cmp::Reverse(d.create_index));
            Ok((out, snap.table_index(Table::Deployment)))
        })
        .await?;
        return Ok(Reply::json(&deps, pretty)?.with_meta(index, meta));
    }
    let (dep, index, meta) = blocking(api, &q, &[Table::Deployment], |snap| {
        let d = snap.latest_deployment_by_job(&q.namespace, id);
        let idx = d
            .as_ref()
            .map(|d| d.modify_index)
            .unwrap_or_else(|| snap.table_index(Table::Deployment));
        Ok((d, idx))
    })
    .await?;
    Ok(Reply::json(&dep.as_deref(), pretty)?.with_meta(index, meta))
}

async fn job_summary(api: &dyn ClusterApi, req: &Req, id: &str) -> Result<Reply, ClusterError> {
    require_get(req)?;
    let q = req.query_options()?;
    let (summary, index, meta) = blocking(api, &q, &[Table::JobSummary], |snap| {
        let s = snap.job_summary(&q.namespace, id);
        let idx = s
            .as_ref()
            .map(|s| s.modify_index)
            .unwrap_or_else(|| snap.table_index(Table::JobSummary));
        Ok((s, idx))
    })
    .await?;
    let summary = summary.ok_or_else(|| ClusterError::NotFound("job not found".into()))?;
    Ok(Reply::json(&*summary, req.pretty())?.with_meta(index, meta))
}

async fn job_versions(api: &dyn ClusterApi, req: &Req, id: &str) -> Result<Reply, ClusterError> {
    require_get(req)?;
    let q = req.query_options()?;
    let diffs = req.bool_param("diffs")?.unwrap_or(false);
    let (versions, index, meta) = blocking(api, &q, &[Table::JobVersion], |snap| {
        let v: Vec<Job> = snap
            .job_versions(&q.namespace, id)
            .iter()
            .map(|j| (**j).clone())
            .collect();
        Ok((v, snap.table_index(Table::JobVersion)))
    })
    .await?;
    if versions.is_empty() {
        return Err(ClusterError::NotFound("job versions not found".into()));
    }
    let diffs = if diffs {
        versions
            .windows(2)
            .map(|w| diff_jobs(Some(&w[1]), &w[0], false))
            .collect()
    } else {
        Vec::new()
    };
    let resp = JobVersionsResponse {
        versions,
        diffs,
        index,
        last_contact: meta.last_contact_ms as i64,
        known_leader: meta.known_leader,
        next_token: String::new(),
    };
    Ok(Reply::json(&resp, req.pretty())?.with_meta(index, meta))
}

/// `POST /v1/jobs/parse`: HCL2 to the JSON job.
pub(crate) fn parse(req: &Req) -> Result<Reply, ClusterError> {
    require_write(req)?;
    let body: JobsParseRequest = req.json_body()?;
    if body.hclv1 {
        return Err(ClusterError::BadRequest(
            "HCLv1: HCL1 job files are not supported; write the job in HCL2".into(),
        ));
    }
    if body.job_hcl.trim().is_empty() {
        return Err(ClusterError::BadRequest("Job spec is empty".into()));
    }
    let var_file = if body.variables.trim().is_empty() {
        None
    } else {
        Some(
            TempFile::write(&body.variables)
                .map_err(|e| ClusterError::Internal(format!("writing variables: {e}")))?,
        )
    };
    let opts = nomad_jobspec::ParseOptions {
        filename: "input.hcl".into(),
        base_dir: std::env::temp_dir(),
        vars: Vec::new(),
        var_files: var_file.iter().map(|f| f.path.clone()).collect(),
        env: Vec::new(),
        strict: true,
    };
    let (mut job, _) = nomad_jobspec::parse_hcl(&body.job_hcl, &opts)
        .map_err(|e| ClusterError::BadRequest(format!("Failed to parse job: {e}")))?;
    if body.canonicalize {
        job.canonicalize();
    }
    Reply::json(&job, req.pretty())
}

/// `POST /v1/validate/job`.
pub(crate) fn validate(req: &Req) -> Result<Reply, ClusterError> {
    require_write(req)?;
    let body: JobValidateRequest = req.json_body()?;
    let Some(mut job) = body.job else {
        return Err(ClusterError::BadRequest("Job must be specified".into()));
    };
    if job.namespace.as_deref().is_none_or(str::is_empty) {
        job.namespace = Some(req.namespace());
    }
    job.canonicalize();
    let mut resp = JobValidateResponse::default();
    if let Err(errs) = job.validate() {
        resp.validation_errors = errs.iter().map(|e| e.to_string()).collect();
        resp.error = multierror(&resp.validation_errors);
    }
    Reply::json(&resp, req.pretty())
}

/// A variables file for the parser, removed when dropped.
struct TempFile {
    path: std::path::PathBuf,
}

impl TempFile {
    fn write(text: &str) -> std::io::Result<TempFile> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("nomad-api-vars-{}-{n}.hcl", std::process::id()));
        std::fs::write(&path, text)?;
        Ok(TempFile { path })
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
