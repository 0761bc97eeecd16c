//! `/v1/agent/*` (including `join` and `force-leave`), `/v1/status/*`,
//! `/v1/regions`, `/v1/system/gc`, `/v1/operator/raft/configuration`,
//! `/v1/metrics`.

use axum::http::StatusCode;
use serde_json::json;

use super::{require_get, require_write};
use crate::cluster::{ClientFs, ClusterApi, ClusterError};
use crate::query::{Reply, Req};

/// `GET /v1/agent/self`; with a client in the agent, its node ID is in
/// `stats.client.node_id` (what `nomad node status -self` reads).
pub(crate) async fn agent_self(api: &dyn ClusterApi, req: &Req) -> Result<Reply, ClusterError> {
    require_get(req)?;
    let mut me = api.agent_self().await?;
    if let Some(c) = api.client_fs() {
        add_client_stats(&mut me, c.as_ref());
    }
    Reply::json(&me, req.pretty())
}

fn add_client_stats(me: &mut nomad_types::api::AgentSelf, c: &dyn ClientFs) {
    let node_id = c.node_id();
    if !node_id.is_empty() {
        me.stats
            .entry("client".into())
            .or_default()
            .insert("node_id".into(), node_id);
    }
}

/// `GET /v1/agent/self` of a client-only agent.
pub(crate) fn client_agent_self(c: &dyn ClientFs, req: &Req) -> Result<Reply, ClusterError> {
    require_get(req)?;
    let mut me = nomad_types::api::AgentSelf::default();
    add_client_stats(&mut me, c);
    Reply::json(&me, req.pretty())
}

pub(crate) async fn members(api: &dyn ClusterApi, req: &Req) -> Result<Reply, ClusterError> {
    require_get(req)?;
    Reply::json(&api.members().await?, req.pretty())
}

pub(crate) async fn servers(api: &dyn ClusterApi, req: &Req) -> Result<Reply, ClusterError> {
    require_get(req)?;
    Reply::json(&api.agent_servers().await?, req.pretty())
}

/// `GET /v1/agent/health`: 200 when every role is healthy, 500 otherwise,
/// with the same body.
pub(crate) async fn health(api: &dyn ClusterApi, req: &Req) -> Result<Reply, ClusterError> {
    require_get(req)?;
    let h = api.agent_health().await?;
    let ok = h.client.as_ref().is_none_or(|c| c.ok) && h.server.as_ref().is_none_or(|s| s.ok);
    let mut reply = Reply::json(&h, req.pretty())?;
    if !ok {
        reply.status = StatusCode::INTERNAL_SERVER_ERROR;
    }
    Ok(reply)
}

/// `PUT /v1/agent/join?address=A&address=B`: `{"num_joined": N, "error": ""}`.
/// As Nomad, a failed join is still a 200: `num_joined` 0 and the error's
/// text; only a refusal to try at all (no server on this agent, no
/// permission) is an error status.
pub(crate) async fn join(api: &dyn ClusterApi, req: &Req) -> Result<Reply, ClusterError> {
    require_write(req)?;
    let addresses: Vec<String> = req
        .params("address")
        .into_iter()
        .map(str::to_string)
        .collect();
    if addresses.is_empty() {
        return Err(ClusterError::BadRequest("missing address to join".into()));
    }
    let (num_joined, error) = match api.agent_join(addresses).await {
        Ok(n) => (n, String::new()),
        Err(
            e @ (ClusterError::NotImplemented(_)
            | ClusterError::PermissionDenied
            | ClusterError::InvalidMethod),
        ) => return Err(e),
        Err(e) => (0, e.to_string()),
    };
    Reply::json(
        &json!({"num_joined": num_joined, "error": error}),
        req.pretty(),
    )
}

/// `PUT /v1/agent/force-leave?node=NAME[&prune=BOOL]`: an empty 200.
/// `prune` is checked as Nomad checks it; the agent always removes the
/// server from the member list and the Raft configuration.
pub(crate) async fn force_leave(api: &dyn ClusterApi, req: &Req) -> Result<Reply, ClusterError> {
    require_write(req)?;
    let node = req
        .param("node")
        .ok_or_else(|| ClusterError::BadRequest("missing node to force leave".into()))?
        .to_string();
    if let Some(p) = req.param("prune") {
        if crate::query::parse_go_bool(p).is_none() {
            return Err(ClusterError::BadRequest("invalid prune value".into()));
        }
    }
    api.agent_force_leave(node).await?;
    Ok(Reply::empty())
}

pub(crate) async fn leader(api: &dyn ClusterApi, req: &Req) -> Result<Reply, ClusterError> {
    require_get(req)?;
    Reply::json(&api.leader().await?, req.pretty())
}

pub(crate) async fn peers(api: &dyn ClusterApi, req: &Req) -> Result<Reply, ClusterError> {
    require_get(req)?;
    Reply::json(&api.peers().await?, req.pretty())
}

pub(crate) async fn regions(api: &dyn ClusterApi, req: &Req) -> Result<Reply, ClusterError> {
    require_get(req)?;
    let mut r = api.regions().await?;
    r.sort();
    Reply::json(&r, req.pretty())
}

/// `PUT /v1/system/gc`: an empty 200 once the collection was started.
pub(crate) async fn system_gc(api: &dyn ClusterApi, req: &Req) -> Result<Reply, ClusterError> {
    require_write(req)?;
    api.system_gc().await?;
    Ok(Reply::empty())
}

pub(crate) async fn raft_configuration(
    api: &dyn ClusterApi,
    req: &Req,
) -> Result<Reply, ClusterError> {
    require_get(req)?;
    Reply::json(&api.raft_configuration().await?, req.pretty())
}

/// `GET /v1/metrics`: gauges of the state store (object counts and the
/// applied index) in go-metrics' JSON layout, or Prometheus text with
/// `?format=prometheus`.
pub(crate) async fn metrics(api: &dyn ClusterApi, req: &Req) -> Result<Reply, ClusterError> {
    require_get(req)?;
    let snap = api.state()?.snapshot();
    let gauges: Vec<(&str, f64)> = vec![
        ("nomad.state.applied_index", snap.applied_index() as f64),
        ("nomad.state.jobs", snap.jobs().count() as f64),
        ("nomad.state.nodes", snap.nodes().len() as f64),
        ("nomad.state.allocations", snap.alloc_count() as f64),
        ("nomad.state.evaluations", snap.evals().count() as f64),
        ("nomad.state.deployments", snap.deployments().count() as f64),
    ];
    if req.param("format") == Some("prometheus") {
        let mut text = String::new();
        for (name, v) in &gauges {
            let n = name.replace('.', "_");
            text.push_str(&format!("# TYPE {n} gauge\n{n} {v}\n"));
        }
        return Ok(Reply::raw(text.into(), "text/plain; version=0.0.4"));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64 * 1_000_000_000)
        .unwrap_or(0);
    let body = json!({
        "Timestamp": nomad_types::GoTime::from_unix_nanos(now).0,
        "Gauges": gauges.iter().map(|(n, v)| json!({"Name": n, "Value": v, "Labels": {}})).collect::<Vec<_>>(),
        "Points": [],
        "Counters": [],
        "Samples": [],
    });
    Reply::json(&body, req.pretty())
}
