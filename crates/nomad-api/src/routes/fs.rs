//! `/v1/client/fs/{logs,ls,stat,cat,readat,stream}/:alloc`, delegated to the
//! agent's client through [`ClusterApi`]. Logs and streamed files come as
//! raw bytes with `plain=true`, otherwise as a stream of JSON frames
//! (`{"Offset":…,"Data":"<base64>","File":…,"FileEvent":…}`) as Nomad sends
//! them.

use axum::body::Body;
use base64::Engine;
use futures_util::{Stream, StreamExt};
use nomad_types::api::StreamFrame;
use std::time::Duration;

use super::client::ClientSide;
use super::require_get;
use crate::cluster::{ClusterError, FsStreamRequest, LogsRequest};
use crate::query::{Reply, Req};

pub(crate) async fn client_fs(api: &dyn ClientSide, req: &Req) -> Result<Reply, ClusterError> {
    require_get(req)?;
    let (op, alloc) = req.rest.split_once('/').unwrap_or((req.rest.as_str(), ""));
    let alloc = alloc.trim_end_matches('/');
    if alloc.is_empty() {
        return Err(ClusterError::BadRequest("missing allocation ID".into()));
    }
    let alloc_id = api.resolve_alloc(alloc)?;
    let path = req.param("path").unwrap_or("/").to_string();
    match op {
        "logs" => logs(api, req, alloc_id).await,
        "ls" => Reply::json(&api.alloc_fs_list(alloc_id, path).await?, req.pretty()),
        "stat" => Reply::json(&api.alloc_fs_stat(alloc_id, path).await?, req.pretty()),
        "cat" => {
            let s = api.alloc_fs_cat(alloc_id, path).await?;
            Ok(Reply::raw(Body::from_stream(s), "text/plain"))
        }
        "readat" => read_at(api, req, alloc_id).await,
        "stream" => stream(api, req, alloc_id).await,
        _ => Err(ClusterError::NotFound("404 page not found".into())),
    }
}

/// `readat`: `limit` bytes of the file at `path` from byte `offset`.
async fn read_at(api: &dyn ClientSide, req: &Req, alloc_id: String) -> Result<Reply, ClusterError> {
    let path = file_name(req)?;
    let offset = required_count(req, "offset")?;
    let limit = required_count(req, "limit")?;
    // (bytes still to skip, bytes still to send); the stream ends once the
    // window is sent, and chunks before it are dropped.
    let window =
        api.alloc_fs_cat(alloc_id, path)
            .await?
            .scan((offset, limit), |(skip, left), chunk| {
                let out = match chunk {
                    _ if *left == 0 => None,
                    Err(e) => Some(Err(e)),
                    Ok(mut data) => {
                        let drop = (*skip).min(data.len());
                        *skip -= drop;
                        data.drain(..drop);
                        data.truncate(*left);
                        *left -= data.len();
                        Some(Ok(data))
                    }
                };
                std::future::ready(out)
            });
    Ok(Reply::raw(
        Body::from_stream(skip_empty(window)),
        "text/plain",
    ))
}

/// The `path` that `readat` and `stream` require.
fn file_name(req: &Req) -> Result<String, ClusterError> {
    req.param("path")
        .map(str::to_string)
        .ok_or_else(|| ClusterError::BadRequest("must provide a file name".into()))
}

/// Drops empty chunks (nothing read is nothing to send).
fn skip_empty<S>(s: S) -> impl Stream<Item = Result<Vec<u8>, ClusterError>>
where
    S: Stream<Item = Result<Vec<u8>, ClusterError>>,
{
    s.filter(|chunk| std::future::ready(!matches!(chunk, Ok(d) if d.is_empty())))
}

/// A required non-negative integer parameter of `readat`.
fn required_count(req: &Req, key: &str) -> Result<usize, ClusterError> {
    let v = req
        .int_param(key)?
        .ok_or_else(|| ClusterError::BadRequest(format!("{key}: must be given")))?;
    usize::try_from(v).map_err(|_| ClusterError::BadRequest(format!("{key}: must not be negative")))
}

async fn logs(api: &dyn ClientSide, req: &Req, alloc_id: String) -> Result<Reply, ClusterError> {
    let task = req
        .param("task")
        .ok_or_else(|| ClusterError::BadRequest("task: must provide task name".into()))?
        .to_string();
    let log_type = req
        .param("type")
        .ok_or_else(|| {
            ClusterError::BadRequest("type: must provide log type (stdout/stderr)".into())
        })?
        .to_string();
    if log_type != "stdout" && log_type != "stderr" {
        return Err(ClusterError::BadRequest(format!(
            "type: log type must be stdout or stderr, not {log_type:?}"
        )));
    }
    let follow = req.bool_param("follow")?.unwrap_or(false);
    let plain = req.bool_param("plain")?.unwrap_or(false);
    let (origin, offset) = position(req)?;
    let file = format!("alloc/logs/{task}.{log_type}.0");
    let stream = api
        .alloc_logs(LogsRequest {
            alloc_id,
            task,
            log_type,
            follow,
            offset,
            origin,
        })
        .await?;
    if plain {
        return Ok(Reply::raw(Body::from_stream(stream), "text/plain"));
    }
    let mut sent: i64 = 0;
    // Nothing to read is no frame (an empty one would read as a heartbeat).
    let framed = skip_empty(stream).map(move |chunk| {
        chunk.and_then(|data| {
            sent += data.len() as i64;
            encode_frame(sent, &data, &file, "")
        })
    });
    Ok(framed_reply(framed, follow, api.heartbeat()))
}

/// `stream`: the file at `path` from (`origin`, `offset`), followed unless
/// `follow=false`; frames carry `file truncated` and `file deleted` events.
async fn stream(api: &dyn ClientSide, req: &Req, alloc_id: String) -> Result<Reply, ClusterError> {
    let path = file_name(req)?;
    let follow = req.bool_param("follow")?.unwrap_or(true);
    let plain = req.bool_param("plain")?.unwrap_or(false);
    let (origin, offset) = position(req)?;
    let frames = api
        .alloc_fs_stream(FsStreamRequest {
            alloc_id,
            path: path.clone(),
            offset,
            origin,
            follow,
        })
        .await?;
    if plain {
        let bytes = skip_empty(frames.map(|f| f.map(|f| f.data)));
        return Ok(Reply::raw(Body::from_stream(bytes), "text/plain"));
    }
    let framed =
        frames.map(move |f| f.and_then(|f| encode_frame(f.offset, &f.data, &path, &f.file_event)));
    Ok(framed_reply(framed, follow, api.heartbeat()))
}

/// A framed stream as the response. A followed one gets a heartbeat frame
/// (`{}`, as Nomad sends) after `every` of silence, telling the caller,
/// and any proxy between, that it is alive.
fn framed_reply<S>(framed: S, follow: bool, every: Duration) -> Reply
where
    S: Stream<Item = Result<Vec<u8>, ClusterError>> + Send + 'static,
{
    if !follow {
        return Reply::raw(Body::from_stream(framed), "application/json");
    }
    let beating = futures_util::stream::unfold(Box::pin(framed), move |mut s| async move {
        tokio::select! {
            item = s.next() => item.map(|i| (i, s)),
            _ = tokio::time::sleep(every) => Some((Ok(b"{}".to_vec()), s)),
        }
    });
    Reply::raw(Body::from_stream(beating), "application/json")
}

/// `origin` (`start`, the default, or `end`) and `offset` (≥ 0) of a
/// `logs` or `stream` request.
fn position(req: &Req) -> Result<(String, i64), ClusterError> {
    let origin = req.param("origin").unwrap_or("start").to_string();
    if origin != "start" && origin != "end" {
        return Err(ClusterError::BadRequest(
            "origin: origin must be start or end".into(),
        ));
    }
    let offset = req.int_param("offset")?.unwrap_or(0);
    if offset < 0 {
        return Err(ClusterError::BadRequest(
            "offset: must be a positive offset".into(),
        ));
    }
    Ok((origin, offset))
}

/// One frame as Nomad sends it: JSON with `Data` in base64.
fn encode_frame(
    offset: i64,
    data: &[u8],
    file: &str,
    event: &str,
) -> Result<Vec<u8>, ClusterError> {
    let frame = StreamFrame {
        offset,
        data: base64::engine::general_purpose::STANDARD.encode(data),
        file: file.to_string(),
        file_event: event.to_string(),
    };
    nomad_types::json::to_string_go(&frame)
        .map(String::into_bytes)
        .map_err(|e| ClusterError::Internal(e.to_string()))
}
