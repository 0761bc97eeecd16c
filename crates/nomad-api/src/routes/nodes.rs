//! `/v1/nodes` and `/v1/node/:id/…`.

use nomad_state::Table;
use nomad_types::api::{NodeUpdateDrainRequest, NodeUpdateEligibilityRequest};
use nomad_types::consts::node_eligibility;
use nomad_types::{Allocation, NodeListStub};

use super::{require_get, require_write};
use crate::cluster::{ClusterApi, ClusterError};
use crate::query::{blocking, paginate, Reply, Req};

/// `GET /v1/nodes`.
pub(crate) async fn nodes_list(api: &dyn ClusterApi, req: &Req) -> Result<Reply, ClusterError> {
    require_get(req)?;
    let q = req.query_options()?;
    let resources = req.bool_param("resources")?.unwrap_or(false);
    let os = req.bool_param("os")?.unwrap_or(false);
    let (stubs, index, meta) = blocking(api, &q, &[Table::Nodes], |snap| {
        let mut out: Vec<NodeListStub> = Vec::new();
        for n in snap.nodes_by_id_prefix(&q.prefix) {
            if !q.passes(&n)? {
                continue;
            }
            let mut s = n.stub(resources);
            if os {
                if let Some(v) = n.attributes.get("os.name") {
                    s.attributes.insert("os.name".into(), v.clone());
                }
            }
            out.push(s);
        }
        Ok((out, snap.table_index(Table::Nodes)))
    })
    .await?;
    let (page, next) = paginate(stubs, &q, |s| s.id.clone());
    Ok(Reply::json(&page, req.pretty())?
        .with_meta(index, meta)
        .with_next_token(next))
}

/// `GET /v1/node/:id`, `GET /v1/node/:id/allocations`,
/// `PUT /v1/node/:id/drain`, `PUT /v1/node/:id/eligibility`,
/// `PUT /v1/node/:id/evaluate`, `PUT /v1/node/:id/purge`.
pub(crate) async fn node_specific(api: &dyn ClusterApi, req: &Req) -> Result<Reply, ClusterError> {
    let path = req.rest.trim_end_matches('/');
    let pretty = req.pretty();
    if let Some(id) = path.strip_suffix("/drain") {
        require_write(req)?;
        let mut body: NodeUpdateDrainRequest = req.json_body()?;
        body.node_id = id.to_string();
        let resp = api.node_update_drain(body).await?;
        let index = resp.index;
        return Ok(Reply::json(&resp, pretty)?.with_index(index));
    }
    if let Some(id) = path.strip_suffix("/evaluate") {
        require_write(req)?;
        let resp = api.node_evaluate(id.to_string()).await?;
        let index = resp.index;
        return Ok(Reply::json(&resp, pretty)?.with_index(index));
    }
    if let Some(id) = path.strip_suffix("/purge") {
        require_write(req)?;
        let resp = api.node_purge(id.to_string()).await?;
        let index = resp.index;
        return Ok(Reply::json(&resp, pretty)?.with_index(index));
    }
    if let Some(id) = path.strip_suffix("/eligibility") {
        require_write(req)?;
        let mut body: NodeUpdateEligibilityRequest = req.json_body()?;
        if body.eligibility != node_eligibility::ELIGIBLE
            && body.eligibility != node_eligibility::INELIGIBLE
        {
            return Err(ClusterError::BadRequest(format!(
                "Eligibility: invalid scheduling eligibility {:?}",
                body.eligibility
            )));
        }
        body.node_id = id.to_string();
        let resp = api.node_update_eligibility(body).await?;
        let index = resp.index;
        return Ok(Reply::json(&resp, pretty)?.with_index(index));
    }
    require_get(req)?;
    let q = req.query_options()?;
    if let Some(id) = path.strip_suffix("/allocations") {
        let (allocs, index, meta) = blocking(api, &q, &[Table::Allocs], |snap| {
            let out: Vec<Allocation> = snap
                .allocs_by_node(id)
                .iter()
                .map(|a| (**a).clone())
                .collect();
            Ok((out, snap.table_index(Table::Allocs)))
        })
        .await?;
        return Ok(Reply::json(&allocs, pretty)?.with_meta(index, meta));
    }
    if path.contains('/') || path.is_empty() {
        return Err(ClusterError::NotFound("404 page not found".into()));
    }
    let (node, index, meta) = blocking(api, &q, &[Table::Nodes], |snap| {
        let n = snap.node_by_id(path);
        let idx = n
            .as_ref()
            .map(|n| n.modify_index)
            .unwrap_or_else(|| snap.table_index(Table::Nodes));
        Ok((n, idx))
    })
    .await?;
    let node = node.ok_or_else(|| ClusterError::NotFound("node not found".into()))?;
    // The node's secret never leaves the servers.
    let mut node = (*node).clone();
    node.secret_id.clear();
    Ok(Reply::json(&node, pretty)?.with_meta(index, meta))
}
