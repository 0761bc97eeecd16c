//! `/v1/allocations`, `/v1/allocation/:id/…`, `/v1/evaluations`,
//! `/v1/evaluation/:id/…`, `/v1/deployments`, `/v1/deployment/…`.

use nomad_state::Table;
use nomad_types::api::{
    AllocStopRequest, DeploymentAllocHealthRequest, DeploymentPauseRequest,
    DeploymentPromoteRequest,
};
use nomad_types::{AllocationListStub, Evaluation};

use super::{require_get, require_write};
use crate::cluster::{ClusterApi, ClusterError};
use crate::query::{blocking, paginate, Reply, Req};

/// `GET /v1/allocations`.
pub(crate) async fn allocs_list(api: &dyn ClusterApi, req: &Req) -> Result<Reply, ClusterError> {
    require_get(req)?;
    let q = req.query_options()?;
    let resources = req.bool_param("resources")?.unwrap_or(false);
    let task_states = req.bool_param("task_states")?.unwrap_or(true);
    let (stubs, index, meta) = blocking(api, &q, &[Table::Allocs], |snap| {
        let mut out: Vec<AllocationListStub> = Vec::new();
        for a in snap.allocs_by_id_prefix(&q.prefix) {
            if !q.ns_matches(&a.namespace) || !q.passes(&a)? {
                continue;
            }
            let mut s = a.stub();
            if !resources {
                s.allocated_resources = None;
            }
            if !task_states {
                s.task_states.clear();
            }
            out.push(s);
        }
        Ok((out, snap.table_index(Table::Allocs)))
    })
    .await?;
    let (page, next) = paginate(stubs, &q, |s| s.id.clone());
    Ok(Reply::json(&page, req.pretty())?
        .with_meta(index, meta)
        .with_next_token(next))
}

/// `GET /v1/allocation/:id`, `PUT /v1/allocation/:id/stop`.
pub(crate) async fn alloc_specific(api: &dyn ClusterApi, req: &Req) -> Result<Reply, ClusterError> {
    let path = req.rest.trim_end_matches('/');
    if let Some(id) = path.strip_suffix("/stop") {
        require_write(req)?;
        let no_shutdown_delay = req.bool_param("no_shutdown_delay")?.unwrap_or(false);
        let resp = api
            .alloc_stop(AllocStopRequest {
                alloc_id: id.to_string(),
                no_shutdown_delay,
                namespace: req.namespace(),
            })
            .await?;
        let index = resp.index;
        return Ok(Reply::json(&resp, req.pretty())?.with_index(index));
    }
    if path.contains('/') {
        return Err(ClusterError::NotFound("404 page not found".into()));
    }
    require_get(req)?;
    let q = req.query_options()?;
    let (alloc, index, meta) = blocking(api, &q, &[Table::Allocs], |snap| {
        let a = snap.alloc_by_id(path);
        let idx = a
            .as_ref()
            .map(|a| a.modify_index)
            .unwrap_or_else(|| snap.table_index(Table::Allocs));
        Ok((a, idx))
    })
    .await?;
    let alloc = alloc.ok_or_else(|| ClusterError::NotFound("alloc not found".into()))?;
    Ok(Reply::json(&*alloc, req.pretty())?.with_meta(index, meta))
}

/// `GET /v1/evaluations`.
pub(crate) async fn evals_list(api: &dyn ClusterApi, req: &Req) -> Result<Reply, ClusterError> {
    require_get(req)?;
    let q = req.query_options()?;
    let job = req.param("job").map(str::to_string);
    let status = req.param("status").map(str::to_string);
    let (evals, index, meta) = blocking(api, &q, &[Table::Evals], |snap| {
        let mut out: Vec<Evaluation> = Vec::new();
        for e in snap.evals_by_id_prefix(&q.prefix) {
            let listed = q.ns_matches(&e.namespace)
                && job.as_deref().is_none_or(|j| e.job_id == j)
                && status.as_deref().is_none_or(|s| e.status == s);
            if listed && q.passes(&**e)? {
                out.push((**e).clone());
            }
        }
        Ok((out, snap.table_index(Table::Evals)))
    })
    .await?;
    let (page, next) = paginate(evals, &q, |e| e.id.clone());
    Ok(Reply::json(&page, req.pretty())?
        .with_meta(index, meta)
        .with_next_token(next))
}

/// `GET /v1/evaluation/:id` and `/v1/evaluation/:id/allocations`.
pub(crate) async fn eval_specific(api: &dyn ClusterApi, req: &Req) -> Result<Reply, ClusterError> {
    require_get(req)?;
    let q = req.query_options()?;
    let path = req.rest.trim_end_matches('/');
    if let Some(id) = path.strip_suffix("/allocations") {
        let (stubs, index, meta) = blocking(api, &q, &[Table::Allocs], |snap| {
            let out: Vec<_> = snap.allocs_by_eval(id).iter().map(|a| a.stub()).collect();
            Ok((out, snap.table_index(Table::Allocs)))
        })
        .await?;
        return Ok(Reply::json(&stubs, req.pretty())?.with_meta(index, meta));
    }
    if path.contains('/') {
        return Err(ClusterError::NotFound("404 page not found".into()));
    }
    let related = req.bool_param("related")?.unwrap_or(false);
    let (eval, index, meta) = blocking(api, &q, &[Table::Evals], |snap| {
        let e = snap.eval_by_id(path).map(|e| {
            let mut e = (*e).clone();
            if related {
                e.related_evals = related_evals(snap, &e);
            }
            e
        });
        let idx = e
            .as_ref()
            .map(|e| e.modify_index)
            .unwrap_or_else(|| snap.table_index(Table::Evals));
        Ok((e, idx))
    })
    .await?;
    let eval = eval.ok_or_else(|| ClusterError::NotFound("eval not found".into()))?;
    Ok(Reply::json(&eval, req.pretty())?.with_meta(index, meta))
}

/// The evaluations linked to `e` through `NextEval`, `PreviousEval` and
/// `BlockedEval`, in both directions.
fn related_evals(
    snap: &nomad_state::StateSnapshot,
    e: &Evaluation,
) -> Vec<nomad_types::EvaluationStub> {
    let mut seen = std::collections::BTreeSet::from([e.id.clone()]);
    let mut todo = vec![e.clone()];
    let mut out = Vec::new();
    while let Some(cur) = todo.pop() {
        let mut links: Vec<String> = [&cur.next_eval, &cur.previous_eval, &cur.blocked_eval]
            .into_iter()
            .filter(|s| !s.is_empty())
            .cloned()
            .collect();
        links.extend(
            snap.evals_by_job(&cur.namespace, &cur.job_id)
                .iter()
                .filter(|o| {
                    o.previous_eval == cur.id || o.next_eval == cur.id || o.blocked_eval == cur.id
                })
                .map(|o| o.id.clone()),
        );
        for id in links {
            if seen.insert(id.clone()) {
                if let Some(o) = snap.eval_by_id(&id) {
                    out.push(o.stub());
                    todo.push((*o).clone());
                }
            }
        }
    }
    out
}

/// `GET /v1/deployments`.
pub(crate) async fn deployments_list(
    api: &dyn ClusterApi,
    req: &Req,
) -> Result<Reply, ClusterError> {
    require_get(req)?;
    let q = req.query_options()?;
    let (deps, index, meta) = blocking(api, &q, &[Table::Deployment], |snap| {
        let mut out = Vec::new();
        for d in snap.deployments_by_id_prefix(&q.prefix) {
            if q.ns_matches(&d.namespace) && q.passes(&**d)? {
                out.push((**d).clone());
            }
        }
        Ok((out, snap.table_index(Table::Deployment)))
    })
    .await?;
    let (page, next) = paginate(deps, &q, |d| d.id.clone());
    Ok(Reply::json(&page, req.pretty())?
        .with_meta(index, meta)
        .with_next_token(next))
}

/// `GET /v1/deployment/:id`, `/v1/deployment/allocations/:id`, and the
/// `promote`, `fail`, `pause` and `allocation-health` actions.
pub(crate) async fn deployment_specific(
    api: &dyn ClusterApi,
    req: &Req,
) -> Result<Reply, ClusterError> {
    let path = req.rest.trim_end_matches('/');
    let pretty = req.pretty();
    if let Some(id) = path.strip_prefix("promote/") {
        require_write(req)?;
        let mut body: DeploymentPromoteRequest = req.json_body()?;
        check_deployment_id(&body.deployment_id, id)?;
        body.deployment_id = id.to_string();
        let resp = api.deployment_promote(body).await?;
        let index = resp.index;
        return Ok(Reply::json(&resp, pretty)?.with_index(index));
    }
    if let Some(id) = path.strip_prefix("fail/") {
        require_write(req)?;
        let resp = api.deployment_fail(id.to_string()).await?;
        let index = resp.index;
        return Ok(Reply::json(&resp, pretty)?.with_index(index));
    }
    if let Some(id) = path.strip_prefix("allocation-health/") {
        require_write(req)?;
        let mut body: DeploymentAllocHealthRequest = req.json_body()?;
        check_deployment_id(&body.deployment_id, id)?;
        body.deployment_id = id.to_string();
        let resp = api.deployment_alloc_health(body).await?;
        let index = resp.index;
        return Ok(Reply::json(&resp, pretty)?.with_index(index));
    }
    if let Some(id) = path.strip_prefix("pause/") {
        require_write(req)?;
        let mut body: DeploymentPauseRequest = req.json_body()?;
        check_deployment_id(&body.deployment_id, id)?;
        body.deployment_id = id.to_string();
        let resp = api.deployment_pause(body).await?;
        let index = resp.index;
        return Ok(Reply::json(&resp, pretty)?.with_index(index));
    }
    require_get(req)?;
    let q = req.query_options()?;
    if let Some(id) = path.strip_prefix("allocations/") {
        let (stubs, index, meta) = blocking(api, &q, &[Table::Allocs], |snap| {
            let out: Vec<_> = snap
                .allocs_by_deployment(id)
                .iter()
                .map(|a| a.stub())
                .collect();
            Ok((out, snap.table_index(Table::Allocs)))
        })
        .await?;
        return Ok(Reply::json(&stubs, pretty)?.with_meta(index, meta));
    }
    if path.contains('/') {
        return Err(ClusterError::NotFound("404 page not found".into()));
    }
    let (dep, index, meta) = blocking(api, &q, &[Table::Deployment], |snap| {
        let d = snap.deployment_by_id(path);
        let idx = d
            .as_ref()
            .map(|d| d.modify_index)
            .unwrap_or_else(|| snap.table_index(Table::Deployment));
        Ok((d, idx))
    })
    .await?;
    let dep = dep.ok_or_else(|| ClusterError::NotFound("deployment not found".into()))?;
    Ok(Reply::json(&*dep, pretty)?.with_meta(index, meta))
}

/// Nomad's checks of the `DeploymentID` a promote or pause body carries.
fn check_deployment_id(body_id: &str, path_id: &str) -> Result<(), ClusterError> {
    if body_id.is_empty() {
        return Err(ClusterError::BadRequest(
            "DeploymentID must be specified".into(),
        ));
    }
    if body_id != path_id {
        return Err(ClusterError::BadRequest(
            "Deployment ID does not match".into(),
        ));
    }
    Ok(())
}
