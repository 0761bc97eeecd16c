//! `/v1/operator/raft/peer` and `/v1/operator/snapshot`.

use axum::body::Body;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::require_write;
use crate::cluster::{ClusterApi, ClusterError};
use crate::query::{Reply, Req};

/// `DELETE /v1/operator/raft/peer?id=ID` or `?address=HOST:PORT`: removes
/// one server from the Raft configuration; an empty 200. Exactly one of the
/// two parameters (present, even empty, as Nomad counts them) must be given.
/// Other methods answer 404, as Nomad's handler does.
pub(crate) async fn raft_peer(api: &dyn ClusterApi, req: &Req) -> Result<Reply, ClusterError> {
    if req.method != axum::http::Method::DELETE {
        return Err(ClusterError::NotFound("Invalid method".into()));
    }
    let has_id = req.has_param("id");
    let has_address = req.has_param("address");
    let value = |k: &str| {
        req.query
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    match (has_id, has_address) {
        (false, false) => Err(ClusterError::BadRequest(
            "Must specify either ?id with the server's ID or ?address with IP:port of peer to remove"
                .into(),
        )),
        (true, true) => Err(ClusterError::BadRequest(
            "Must specify only one of ?id or ?address".into(),
        )),
        (true, false) => {
            api.raft_remove_peer(Some(value("id")), None).await?;
            Ok(Reply::empty())
        }
        (false, true) => {
            api.raft_remove_peer(None, Some(value("address"))).await?;
            Ok(Reply::empty())
        }
    }
}

/// `GET /v1/operator/snapshot`: the state image as the body
/// (`application/octet-stream`), with `X-Nomad-Index` (the index it was
/// taken at) and, as Nomad sends it for its client to verify the transfer,
/// `Digest: sha-256=<base64>`. `PUT`/`POST` with an image as the body
/// restores it; an empty 200.
pub(crate) async fn snapshot(api: &dyn ClusterApi, req: &Req) -> Result<Reply, ClusterError> {
    if req.method == axum::http::Method::GET {
        let (index, image) = api.snapshot_save().await?;
        let digest = format!(
            "sha-256={}",
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&image))
        );
        let mut reply = Reply::raw(Body::from(image), "application/octet-stream").with_index(index);
        reply.headers.push(("Digest", digest));
        return Ok(reply);
    }
    require_write(req)?;
    api.snapshot_restore(req.body.to_vec()).await?;
    Ok(Reply::empty())
}
