//! Request dispatch. Nomad's job IDs may contain `/` (periodic and
//! dispatched children), so, like Nomad's mux, object routes are matched on
//! a prefix and the rest of the path is parsed by the handler.

mod agent;
mod events;
mod fs;
mod job_actions;
mod jobs;
mod nodes;
mod objects;
mod operator;
mod ui;

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, Response, Uri};

use crate::cluster::{ClusterApi, ClusterError};
use crate::query::{error_response, parse_query, percent_decode, Reply, Req};

type Api = Arc<dyn ClusterApi>;

pub(crate) fn router(api: Api) -> axum::Router {
    axum::Router::new()
        .merge(ui::routes())
        .fallback(handle)
        .with_state(api)
}

/// Largest request body accepted (a job with big templates fits easily).
const MAX_BODY: usize = 32 << 20;

/// Largest snapshot accepted by `PUT /v1/operator/snapshot`: a whole state
/// image, far bigger than any other request.
const MAX_SNAPSHOT_BODY: usize = u32::MAX as usize;

async fn handle(
    State(api): State<Api>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response<Body> {
    let limit = if uri.path().trim_end_matches('/') == "/v1/operator/snapshot" {
        MAX_SNAPSHOT_BODY
    } else {
        MAX_BODY
    };
    let body = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(e) => {
            return error_response(&ClusterError::BadRequest(format!(
                "reading request body: {e}"
            )))
        }
    };
    let path = uri.path().to_string();
    let query = parse_query(uri.query());
    let result = dispatch(&api, &path, method, query, headers, body).await;
    match result {
        Ok(reply) => reply.into_response(),
        Err(e) => {
            if e.status() >= 500 {
                tracing::error!(path = %path, error = %e, "request failed");
            }
            error_response(&e)
        }
    }
}

async fn dispatch(
    api: &Api,
    path: &str,
    method: Method,
    query: Vec<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Reply, ClusterError> {
    let api: &dyn ClusterApi = api.as_ref();
    let mk = |rest: &str| Req {
        method: method.clone(),
        rest: percent_decode(rest, false),
        query: query.clone(),
        headers: headers.clone(),
        body: body.clone(),
    };
    if let Some(rest) = path.strip_prefix("/v1/job/") {
        return jobs::job_specific(api, &mk(rest)).await;
    }
    if let Some(rest) = path.strip_prefix("/v1/allocation/") {
        return objects::alloc_specific(api, &mk(rest)).await;
    }
    if let Some(rest) = path.strip_prefix("/v1/evaluation/") {
        return objects::eval_specific(api, &mk(rest)).await;
    }
    if let Some(rest) = path.strip_prefix("/v1/deployment/") {
        return objects::deployment_specific(api, &mk(rest)).await;
    }
    if let Some(rest) = path.strip_prefix("/v1/node/") {
        return nodes::node_specific(api, &mk(rest)).await;
    }
    if let Some(rest) = path.strip_prefix("/v1/client/fs/") {
        return fs::client_fs(api, &mk(rest)).await;
    }
    let req = mk("");
    match path.trim_end_matches('/') {
        "/v1/jobs" => jobs::jobs(api, &req).await,
        "/v1/jobs/parse" => jobs::parse(&req),
        "/v1/validate/job" => jobs::validate(&req),
        "/v1/allocations" => objects::allocs_list(api, &req).await,
        "/v1/evaluations" => objects::evals_list(api, &req).await,
        "/v1/deployments" => objects::deployments_list(api, &req).await,
        "/v1/nodes" => nodes::nodes_list(api, &req).await,
        "/v1/agent/self" => agent::agent_self(api, &req).await,
        "/v1/agent/members" => agent::members(api, &req).await,
        "/v1/agent/servers" => agent::servers(api, &req).await,
        "/v1/agent/health" => agent::health(api, &req).await,
        "/v1/agent/join" => agent::join(api, &req).await,
        "/v1/agent/force-leave" => agent::force_leave(api, &req).await,
        "/v1/status/leader" => agent::leader(api, &req).await,
        "/v1/status/peers" => agent::peers(api, &req).await,
        "/v1/regions" => agent::regions(api, &req).await,
        "/v1/system/gc" => agent::system_gc(api, &req).await,
        "/v1/operator/raft/configuration" => agent::raft_configuration(api, &req).await,
        "/v1/operator/raft/peer" => operator::raft_peer(api, &req).await,
        "/v1/operator/snapshot" => operator::snapshot(api, &req).await,
        "/v1/metrics" => agent::metrics(api, &req).await,
        "/v1/event/stream" => events::stream(api, &req).await,
        _ => Err(ClusterError::NotFound("404 page not found".into())),
    }
}

/// Only GET (and HEAD) reads.
pub(crate) fn require_get(req: &Req) -> Result<(), ClusterError> {
    if req.method == Method::GET || req.method == Method::HEAD {
        Ok(())
    } else {
        Err(ClusterError::InvalidMethod)
    }
}

/// Only PUT or POST writes.
pub(crate) fn require_write(req: &Req) -> Result<(), ClusterError> {
    if req.is_write() {
        Ok(())
    } else {
        Err(ClusterError::InvalidMethod)
    }
}
