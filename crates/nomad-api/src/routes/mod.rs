//! Request dispatch. Nomad's job IDs may contain `/` (periodic and
//! dispatched children), so, like Nomad's mux, object routes are matched on
//! a prefix and the rest of the path is parsed by the handler.

mod agent;
mod client;
mod events;
mod exec;
mod forward;
mod fs;
mod job_actions;
mod jobs;
mod nodes;
mod objects;
mod operator;
mod search;
mod ui;

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, Response, Uri};

use crate::cluster::{ClientFs, ClusterApi, ClusterError};
use crate::query::{error_response, parse_query, percent_decode, Reply, Req};

type Api = Arc<dyn ClusterApi>;

pub(crate) fn router(api: Api) -> axum::Router {
    axum::Router::new()
        .merge(ui::routes())
        .route(EXEC_ROUTE, axum::routing::get(exec::cluster_exec))
        .fallback(handle)
        .with_state(api)
}

const EXEC_ROUTE: &str = "/v1/client/allocation/{alloc_id}/exec";

/// A client-only agent: its client and its servers' HTTP addresses.
pub(crate) struct ClientAgent {
    pub client: Arc<dyn ClientFs>,
    pub servers: Vec<String>,
}

/// The API of a client-only agent: `/v1/client/*` and `/v1/agent/self`
/// answered by its client, everything else forwarded to a server.
pub(crate) fn client_agent_router(client: Arc<dyn ClientFs>, servers: Vec<String>) -> axum::Router {
    axum::Router::new()
        .route(EXEC_ROUTE, axum::routing::get(exec::client_exec))
        .fallback(handle_client_agent)
        .with_state(Arc::new(ClientAgent { client, servers }))
}

async fn handle_client_agent(
    State(agent): State<Arc<ClientAgent>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response<Body> {
    let body = match axum::body::to_bytes(body, MAX_SNAPSHOT_BODY).await {
        Ok(b) => b,
        Err(e) => {
            return error_response(&ClusterError::BadRequest(format!(
                "reading request body: {e}"
            )))
        }
    };
    let path = uri.path().to_string();
    let query = parse_query(uri.query());
    let local = match forward::alloc_of_path(&path) {
        // Another node's allocation: the servers know where it runs.
        Some(alloc) => agent.client.has_alloc(alloc),
        None if path.trim_end_matches('/') == "/v1/client/stats" => query
            .iter()
            .find(|(k, v)| k == "node_id" && !v.is_empty())
            .is_none_or(|(_, v)| *v == agent.client.node_id()),
        None => path.starts_with("/v1/client/") || path.trim_end_matches('/') == "/v1/agent/self",
    };
    let result = if local {
        let req = |rest: &str| Req {
            method: method.clone(),
            rest: percent_decode(rest, false),
            query: query.clone(),
            headers: headers.clone(),
            body: body.clone(),
        };
        let c = client::Direct(agent.client.clone());
        if let Some(rest) = path.strip_prefix("/v1/client/fs/") {
            client_fs_reply(fs::client_fs(&c, &req(rest)).await)
        } else if let Some(rest) = path.strip_prefix("/v1/client/allocation/") {
            client_fs_reply(client::allocation(&c, &req(rest)).await)
        } else if path.trim_end_matches('/') == "/v1/client/stats" {
            client_fs_reply(client::stats(&c, &req("")).await)
        } else if path.starts_with("/v1/client/") {
            Err(ClusterError::NotFound("404 page not found".into()))
        } else {
            agent::client_agent_self(agent.client.as_ref(), &req("")).map(Reply::into_response)
        }
    } else {
        forward::proxy(&agent.servers, method, &uri, &headers, body).await
    };
    match result {
        Ok(resp) => resp,
        Err(e) => {
            if e.status() >= 500 {
                tracing::error!(path = %path, error = %e, "request failed");
            }
            error_response(&e)
        }
    }
}

fn client_fs_reply(r: Result<Reply, ClusterError>) -> Result<Response<Body>, ClusterError> {
    r.map(Reply::into_response)
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
    if path.starts_with("/v1/client/") {
        if let Some(addr) = forward::remote_for(api.as_ref(), &path, &query) {
            tracing::debug!(path = %path, node = %addr, "forwarding to the allocation's node");
            return match forward::proxy(&[addr], method, &uri, &headers, body).await {
                Ok(resp) => resp,
                Err(e) => error_response(&e),
            };
        }
    }
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
        return fs::client_fs(&client::ViaCluster(api), &mk(rest)).await;
    }
    if let Some(rest) = path.strip_prefix("/v1/client/allocation/") {
        return client::allocation(&client::ViaCluster(api), &mk(rest)).await;
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
        "/v1/search" => search::search(api, &req).await,
        "/v1/event/stream" => events::stream(api, &req).await,
        "/v1/client/stats" => client::stats(&client::ViaCluster(api), &req).await,
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
