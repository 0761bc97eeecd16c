//! `/v1/agent/*`, `/v1/status/*`, `/v1/regions`, `/v1/system/gc`,
//! `/v1/operator/raft/configuration`, `/v1/metrics`.

use axum::http::StatusCode;
use serde_json::json;

use super::{require_get, require_write};
use crate::cluster::{ClusterApi, ClusterError};
use crate::query::{Reply, Req};

pub(crate) async fn agent_self(api: &dyn ClusterApi, req: &Req) -> Result<Reply, ClusterError> {
    require_get(req)?;
    Reply::json(&api.agent_self().await?, req.pretty())
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
