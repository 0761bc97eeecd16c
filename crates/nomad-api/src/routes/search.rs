//! `PUT /v1/search`: prefix search over IDs, per context (Nomad's
//! `Search.PrefixSearch`).

use nomad_state::{StateSnapshot, Table};
use nomad_types::api::{SearchRequest, SearchResponse};

use super::require_write;
use crate::cluster::{ClusterApi, ClusterError};
use crate::query::{blocking, QueryOptions, Reply, Req};

/// Matches returned per context; `Truncations` says when there were more.
const TRUNCATE_LIMIT: usize = 20;

/// Every context `all` searches, as Nomad names them. Those this server
/// keeps no objects for (CSI plugins and volumes, scaling policies,
/// variables, host volumes) answer with no matches.
const CONTEXTS: [&str; 12] = [
    "allocs",
    "jobs",
    "nodes",
    "node_pools",
    "evals",
    "deployment",
    "plugins",
    "volumes",
    "scaling_policy",
    "variables",
    "namespaces",
    "host_volumes",
];

/// `PUT /v1/search`.
pub(crate) async fn search(api: &dyn ClusterApi, req: &Req) -> Result<Reply, ClusterError> {
    require_write(req)?;
    let q = req.query_options()?;
    let body: SearchRequest = req.json_body()?;
    let contexts: Vec<&str> = match body.context.as_str() {
        "" | "all" => CONTEXTS.to_vec(),
        c => match CONTEXTS.iter().find(|k| **k == c) {
            Some(k) => vec![*k],
            None => {
                return Err(ClusterError::BadRequest(format!(
                    "Context: unknown context {c:?}; valid contexts are all, {}",
                    CONTEXTS.join(", ")
                )))
            }
        },
    };
    let tables: Vec<Table> = contexts.iter().filter_map(|c| table_of(c)).collect();
    let (mut resp, index, meta) = blocking(api, &q, &tables, |snap| {
        let mut resp = SearchResponse::default();
        for c in &contexts {
            let (ids, truncated) = matches(snap, &q, c, &body.prefix);
            resp.matches.insert(c.to_string(), ids);
            resp.truncations.insert(c.to_string(), truncated);
        }
        let index = tables
            .iter()
            .map(|t| snap.table_index(*t))
            .max()
            .unwrap_or(0);
        Ok((resp, index))
    })
    .await?;
    resp.index = index;
    resp.known_leader = meta.known_leader;
    resp.last_contact = meta.last_contact_ms as i64;
    Ok(Reply::json(&resp, req.pretty())?.with_meta(index, meta))
}

/// The table a context reads (none for the contexts kept nowhere).
fn table_of(context: &str) -> Option<Table> {
    Some(match context {
        "allocs" => Table::Allocs,
        "jobs" => Table::Jobs,
        "nodes" | "node_pools" => Table::Nodes,
        "evals" => Table::Evals,
        "deployment" => Table::Deployment,
        _ => return None,
    })
}

/// The first [`TRUNCATE_LIMIT`] IDs of `context` starting with `prefix`,
/// and whether there were more.
fn matches(
    snap: &StateSnapshot,
    q: &QueryOptions,
    context: &str,
    prefix: &str,
) -> (Vec<String>, bool) {
    // An odd number of hex digits cannot be looked up in a UUID index:
    // Nomad drops the last one (jobs are names, not UUIDs).
    let uuid = round_uuid_prefix(prefix);
    let ids: Box<dyn Iterator<Item = String> + '_> = match context {
        // One namespace is a range of the job table; `*` is a scan.
        "jobs" if !q.all_namespaces() => Box::new(
            snap.jobs_by_id_prefix(&q.namespace, prefix)
                .map(|j| j.id().to_string()),
        ),
        "jobs" => Box::new(
            snap.jobs()
                .filter(|j| j.id().starts_with(prefix))
                .map(|j| j.id().to_string()),
        ),
        "allocs" => Box::new(
            snap.allocs_by_id_prefix(uuid)
                .filter(|a| q.ns_matches(&a.namespace))
                .map(|a| a.id.clone()),
        ),
        "evals" => Box::new(
            snap.evals_by_id_prefix(uuid)
                .filter(|e| q.ns_matches(&e.namespace))
                .map(|e| e.id.clone()),
        ),
        "deployment" => Box::new(
            snap.deployments_by_id_prefix(uuid)
                .filter(|d| q.ns_matches(&d.namespace))
                .map(|d| d.id.clone()),
        ),
        "nodes" => Box::new(snap.nodes_by_id_prefix(uuid).map(|n| n.id.clone())),
        "node_pools" => {
            let mut pools: Vec<String> = ["all", "default"]
                .into_iter()
                .map(str::to_string)
                .chain(snap.nodes_by_id_prefix("").map(|n| n.node_pool.clone()))
                .filter(|p| !p.is_empty() && p.starts_with(prefix))
                .collect();
            pools.sort();
            pools.dedup();
            Box::new(pools.into_iter())
        }
        "namespaces" => {
            Box::new(std::iter::once("default".to_string()).filter(move |n| n.starts_with(prefix)))
        }
        _ => Box::new(std::iter::empty()),
    };
    let mut out: Vec<String> = ids.take(TRUNCATE_LIMIT + 1).collect();
    let truncated = out.len() > TRUNCATE_LIMIT;
    out.truncate(TRUNCATE_LIMIT);
    (out, truncated)
}

/// `prefix` without its last character when it holds an odd number of
/// characters other than hyphens (Nomad's `roundUUIDDownIfOdd`).
fn round_uuid_prefix(prefix: &str) -> &str {
    let digits = prefix.chars().filter(|c| *c != '-').count();
    if digits % 2 == 0 {
        prefix
    } else {
        let cut = prefix.char_indices().last().map_or(0, |(i, _)| i);
        &prefix[..cut]
    }
}

#[cfg(test)]
mod tests {
    use super::round_uuid_prefix;

    #[test]
    fn odd_uuid_prefixes_lose_their_last_digit() {
        assert_eq!(round_uuid_prefix("abc"), "ab");
        assert_eq!(round_uuid_prefix("e3671fa4-21"), "e3671fa4-21");
        assert_eq!(round_uuid_prefix("e3671fa4-2"), "e3671fa4-");
        assert_eq!(round_uuid_prefix(""), "");
    }
}
