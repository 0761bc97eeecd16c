//! `GET /v1/client/allocation/:id/exec?task=T&command=["cmd","arg"]&tty=B`:
//! a websocket of JSON frames, as Nomad's (see
//! `nomad_api_client::ExecInput` and `ExecOutput`). Errors found before
//! the upgrade (unknown allocation, missing task or command) are plain
//! HTTP errors; later ones close the socket with code 1011 and the error
//! as the reason. A socket closed by the caller kills the command.

use std::future::Future;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Response};
use futures_util::{SinkExt, StreamExt};
use nomad_api_client::{ExecExitResult, ExecInput, ExecIo, ExecOutput};
use tokio::sync::mpsc;

use super::client::ClientSide;
use super::ClientAgent;
use crate::cluster::{ClusterApi, ClusterError, ExecChannels, ExecChunk, ExecStart};
use crate::query::{error_response, parse_query};

/// Most bytes of a close reason (the websocket limit is 123).
const MAX_REASON: usize = 120;

fn parse_start(alloc_id: String, query: &[(String, String)]) -> Result<ExecStart, ClusterError> {
    let get = |k: &str| {
        query
            .iter()
            .find(|(key, v)| key == k && !v.is_empty())
            .map(|(_, v)| v.as_str())
    };
    let task = get("task")
        .ok_or_else(|| ClusterError::BadRequest("missing task name".into()))?
        .to_string();
    let command: Vec<String> = match get("command") {
        None => Vec::new(),
        Some(c) => serde_json::from_str(c)
            .map_err(|e| ClusterError::BadRequest(format!("failed to parse command field: {e}")))?,
    };
    if command.is_empty() || command[0].is_empty() {
        return Err(ClusterError::BadRequest("command is not present".into()));
    }
    let tty = match get("tty") {
        None => false,
        Some(v) => crate::parse_go_bool(v)
            .ok_or_else(|| ClusterError::BadRequest(format!("tty: invalid value {v:?}")))?,
    };
    Ok(ExecStart {
        alloc_id,
        task,
        command,
        tty,
    })
}

/// The route on an agent with a server: forwarded to the node running
/// the allocation, or answered by this agent's client.
pub(crate) async fn cluster_exec(
    State(api): State<Arc<dyn ClusterApi>>,
    Path(alloc_id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response<Body> {
    let query = parse_query(raw.as_deref());
    let path = format!("/v1/client/allocation/{alloc_id}/exec");
    if let Some(addr) = super::forward::remote_for(api.as_ref(), &path, &query) {
        let url = format!(
            "{}{path}?{}",
            super::forward::base_url(&addr).replacen("http://", "ws://", 1),
            raw.unwrap_or_default()
        );
        return ws.on_upgrade(move |socket| proxy_ws(socket, vec![url], headers));
    }
    let start = match super::client::ViaCluster(api.as_ref())
        .resolve_alloc(&alloc_id)
        .and_then(|id| parse_start(id, &query))
    {
        Ok(s) => s,
        Err(e) => return error_response(&e),
    };
    ws.on_upgrade(move |socket| async move {
        let alloc_id = start.alloc_id.clone();
        session(socket, &alloc_id, |io| async move {
            api.alloc_exec(start, io).await
        })
        .await
    })
}

/// The route on a client-only agent: its client answers, or for an
/// allocation it does not run, the servers (which know the node).
pub(crate) async fn client_exec(
    State(agent): State<Arc<ClientAgent>>,
    Path(alloc_id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response<Body> {
    if !agent.client.has_alloc(&alloc_id) {
        let path = format!("/v1/client/allocation/{alloc_id}/exec");
        let q = raw.unwrap_or_default();
        let urls = agent
            .servers
            .iter()
            .map(|s| {
                let base = super::forward::base_url(s).replacen("http://", "ws://", 1);
                format!("{base}{path}?{q}")
            })
            .collect();
        return ws.on_upgrade(move |socket| proxy_ws(socket, urls, headers));
    }
    let query = parse_query(raw.as_deref());
    let start = match parse_start(alloc_id, &query) {
        Ok(s) => s,
        Err(e) => return error_response(&e),
    };
    ws.on_upgrade(move |socket| async move {
        let alloc_id = start.alloc_id.clone();
        let c = super::client::Direct(agent.client.clone());
        session(socket, &alloc_id, |io| async move {
            c.alloc_exec(start, io).await
        })
        .await
    })
}

fn frame(out: &ExecOutput) -> Option<Message> {
    serde_json::to_string(out)
        .ok()
        .map(|s| Message::Text(Utf8Bytes::from(s)))
}

fn close(code: u16, reason: &str) -> Message {
    let mut r = reason.to_string();
    while r.len() > MAX_REASON {
        r.pop();
    }
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from(r),
    }))
}

/// Runs one exec session over `socket`.
async fn session<F, Fut>(socket: WebSocket, alloc_id: &str, run: F)
where
    F: FnOnce(ExecChannels) -> Fut,
    Fut: Future<Output = Result<i32, ClusterError>>,
{
    let (stdin_tx, stdin_rx) = mpsc::channel::<Vec<u8>>(16);
    let (resize_tx, resize_rx) = mpsc::channel(4);
    let (out_tx, mut out_rx) = mpsc::channel::<ExecChunk>(64);
    let (mut sink, mut stream) = socket.split();
    let reader = async move {
        let mut stdin_tx = Some(stdin_tx);
        while let Some(Ok(msg)) = stream.next().await {
            let text = match msg {
                Message::Text(t) => t.as_str().to_string(),
                Message::Binary(b) => String::from_utf8_lossy(&b).into_owned(),
                Message::Close(_) => break,
                _ => continue,
            };
            let Ok(input) = serde_json::from_str::<ExecInput>(&text) else {
                continue;
            };
            if let Some(io) = input.stdin {
                if let Some(tx) = &stdin_tx {
                    if !io.data.is_empty() && tx.send(io.data).await.is_err() {
                        stdin_tx = None;
                    }
                }
                if io.close {
                    stdin_tx = None;
                }
            }
            if let Some(size) = input.tty_size {
                let _ = resize_tx.try_send(size);
            }
        }
    };
    let exec = run(ExecChannels {
        stdin: stdin_rx,
        resize: resize_rx,
        output: out_tx,
    });
    let mut exec = std::pin::pin!(exec);
    let mut reader = std::pin::pin!(reader);
    let to_frame = |c: ExecChunk| {
        let io = |data| ExecIo { data, close: false };
        match c {
            ExecChunk::Stdout(d) => ExecOutput {
                stdout: Some(io(d)),
                ..ExecOutput::default()
            },
            ExecChunk::Stderr(d) => ExecOutput {
                stderr: Some(io(d)),
                ..ExecOutput::default()
            },
        }
    };
    let result = loop {
        tokio::select! {
            r = &mut exec => break Some(r),
            Some(chunk) = out_rx.recv() => {
                if let Some(m) = frame(&to_frame(chunk)) {
                    if sink.send(m).await.is_err() {
                        break None;
                    }
                }
            }
            _ = &mut reader => break None,
        }
    };
    let Some(result) = result else {
        tracing::info!(alloc_id, "exec session closed by the caller");
        return;
    };
    while let Ok(chunk) = out_rx.try_recv() {
        if let Some(m) = frame(&to_frame(chunk)) {
            let _ = sink.send(m).await;
        }
    }
    match result {
        Ok(code) => {
            let done = ExecOutput {
                exited: true,
                result: Some(ExecExitResult { exit_code: code }),
                ..ExecOutput::default()
            };
            if let Some(m) = frame(&done) {
                let _ = sink.send(m).await;
            }
            let _ = sink.send(close(1000, "")).await;
        }
        Err(e) => {
            tracing::info!(alloc_id, error = %e, "exec failed");
            let _ = sink.send(close(1011, &e.to_string())).await;
        }
    }
}

/// Relays a websocket to the same route on another agent: the first of
/// `urls` that accepts it.
async fn proxy_ws(socket: WebSocket, urls: Vec<String>, headers: HeaderMap) {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message as T;
    let (mut sink, mut stream) = socket.split();
    let mut upstream = None;
    let mut last = String::from("no agent to forward the exec session to");
    for url in &urls {
        let mut req = match url.as_str().into_client_request() {
            Ok(r) => r,
            Err(e) => {
                last = e.to_string();
                continue;
            }
        };
        if let Some(t) = headers.get("x-nomad-token") {
            req.headers_mut().insert("X-Nomad-Token", t.clone());
        }
        match tokio_tungstenite::connect_async(req).await {
            Ok((u, _)) => {
                upstream = Some(u);
                break;
            }
            Err(e) => {
                tracing::warn!(url = %url, error = %e, "forwarding exec");
                last = format!("forwarding exec: {e}");
            }
        }
    }
    let Some(upstream) = upstream else {
        let _ = sink.send(close(1011, &last)).await;
        return;
    };
    let (mut up_sink, mut up_stream) = upstream.split();
    let down = async {
        while let Some(Ok(m)) = stream.next().await {
            let m = match m {
                Message::Text(t) => T::text(t.as_str().to_string()),
                Message::Binary(b) => T::Binary(b),
                Message::Close(_) => break,
                _ => continue,
            };
            if up_sink.send(m).await.is_err() {
                break;
            }
        }
        let _ = up_sink.close().await;
    };
    let up = async {
        while let Some(Ok(m)) = up_stream.next().await {
            let m = match m {
                T::Text(t) => Message::Text(Utf8Bytes::from(t.as_str().to_string())),
                T::Binary(b) => Message::Binary(b),
                T::Close(Some(f)) => close(f.code.into(), f.reason.as_str()),
                T::Close(None) => close(1000, ""),
                _ => continue,
            };
            let last = matches!(m, Message::Close(_));
            if sink.send(m).await.is_err() || last {
                break;
            }
        }
    };
    tokio::select! {
        _ = down => {}
        _ = up => {}
    }
}
