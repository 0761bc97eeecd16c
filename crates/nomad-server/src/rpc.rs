//! The RPC listener for client agents in other processes (Nomad's port
//! 4647), and a matching caller.
//!
//! Wire format: each message is a frame, a 4-byte big-endian length then
//! that many bytes of JSON. A connection carries one request and its
//! response at a time: `{"Method": "Node.Register", "Body": …}` →
//! `{"Body": …}` or `{"Error": {"Kind": …, "Message": …}}`. Methods mirror
//! Nomad's client RPCs: `Node.Register`, `Node.UpdateStatus`,
//! `Node.GetClientAllocs`, `Alloc.GetAllocs`, `Node.UpdateAlloc`.
//!
//! Differences from Nomad, on purpose for now: JSON instead of msgpack, no
//! yamux multiplexing or TLS, and Raft does not share this port (it has
//! its own listener).

use std::net::SocketAddr;
use std::time::Duration;

use nomad_types::{Allocation, Node};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::{AllocWatch, ClientAllocUpdate, Server, ServerError};

/// Largest frame accepted (64 MiB).
pub const MAX_FRAME: usize = 64 << 20;

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Request {
    method: String,
    #[serde(default)]
    body: serde_json::Value,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Response {
    #[serde(default)]
    body: serde_json::Value,
    #[serde(default)]
    error: Option<WireError>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireError {
    kind: String,
    message: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct NodeArgs {
    #[serde(rename = "NodeID")]
    node_id: String,
    #[serde(rename = "SecretID")]
    secret_id: String,
    status: String,
    min_index: u64,
    wait_ms: u64,
    #[serde(rename = "AllocIDs")]
    alloc_ids: Vec<String>,
    updates: Vec<ClientAllocUpdate>,
    node: Option<Node>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct TtlReply {
    heartbeat_ttl_ms: u64,
    index: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct AllocsReply {
    allocs: std::collections::BTreeMap<String, u64>,
    index: u64,
}

async fn read_frame(s: &mut TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match s.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let n = u32::from_be_bytes(len) as usize;
    if n > MAX_FRAME {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("frame of {n} bytes is too large"),
        ));
    }
    let mut buf = vec![0u8; n];
    s.read_exact(&mut buf).await?;
    Ok(Some(buf))
}

async fn write_frame(s: &mut TcpStream, body: &[u8]) -> std::io::Result<()> {
    let n = u32::try_from(body.len())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "frame too large"))?;
    s.write_all(&n.to_be_bytes()).await?;
    s.write_all(body).await?;
    s.flush().await
}

fn kind_of(e: &ServerError) -> &'static str {
    match e {
        ServerError::BadRequest(_) => "BadRequest",
        ServerError::NotFound(_) => "NotFound",
        ServerError::Conflict(_) => "Conflict",
        ServerError::NodeUnknown(_) => "NodeUnknown",
        ServerError::PermissionDenied => "PermissionDenied",
        ServerError::NoLeader => "NoLeader",
        ServerError::Shutdown => "Shutdown",
        ServerError::Raft(_) => "Raft",
        ServerError::Internal(_) => "Internal",
    }
}

fn error_of(w: WireError) -> ServerError {
    match w.kind.as_str() {
        "BadRequest" => ServerError::BadRequest(w.message),
        "NotFound" => ServerError::NotFound(w.message),
        "Conflict" => ServerError::Conflict(w.message),
        "NodeUnknown" => ServerError::NodeUnknown(w.message),
        "PermissionDenied" => ServerError::PermissionDenied,
        "NoLeader" => ServerError::NoLeader,
        "Shutdown" => ServerError::Shutdown,
        "Raft" => ServerError::Raft(w.message),
        _ => ServerError::Internal(w.message),
    }
}

fn json<T: Serialize>(v: T) -> Result<serde_json::Value, ServerError> {
    serde_json::to_value(v).map_err(|e| ServerError::Internal(e.to_string()))
}

async fn dispatch(server: &Server, req: Request) -> Result<serde_json::Value, ServerError> {
    let a: NodeArgs = serde_json::from_value(req.body)
        .map_err(|e| ServerError::BadRequest(format!("{}: {e}", req.method)))?;
    match req.method.as_str() {
        "Node.Register" => {
            let node = a.node.ok_or_else(|| {
                ServerError::BadRequest("missing node for client registration".into())
            })?;
            let (ttl, index) = server.node_register(node).await?;
            json(TtlReply {
                heartbeat_ttl_ms: ttl.as_millis() as u64,
                index,
            })
        }
        "Node.UpdateStatus" => {
            let (ttl, index) = server
                .node_update_status(&a.node_id, &a.secret_id, &a.status)
                .await?;
            json(TtlReply {
                heartbeat_ttl_ms: ttl.as_millis() as u64,
                index,
            })
        }
        "Node.GetClientAllocs" => {
            let wait = Duration::from_millis(a.wait_ms.min(10 * 60 * 1000));
            let w = server
                .node_client_allocs(&a.node_id, &a.secret_id, a.min_index, wait)
                .await?;
            json(AllocsReply {
                allocs: w.allocs,
                index: w.index,
            })
        }
        "Alloc.GetAllocs" => json(server.allocs_by_ids(&a.alloc_ids)),
        "Node.UpdateAlloc" => json(server.node_update_allocs(a.updates).await?),
        other => Err(ServerError::BadRequest(format!(
            "rpc: can't find method {other}"
        ))),
    }
}

async fn serve_conn(server: Server, mut s: TcpStream, peer: SocketAddr) {
    loop {
        let frame = match read_frame(&mut s).await {
            Ok(Some(f)) => f,
            Ok(None) => return,
            Err(e) => {
                tracing::debug!(%peer, error = %e, "rpc connection closed");
                return;
            }
        };
        let resp = match serde_json::from_slice::<Request>(&frame) {
            Ok(req) => match dispatch(&server, req).await {
                Ok(body) => Response { body, error: None },
                Err(e) => Response {
                    body: serde_json::Value::Null,
                    error: Some(WireError {
                        kind: kind_of(&e).into(),
                        message: e.to_string(),
                    }),
                },
            },
            Err(e) => Response {
                body: serde_json::Value::Null,
                error: Some(WireError {
                    kind: "BadRequest".into(),
                    message: format!("malformed request: {e}"),
                }),
            },
        };
        let bytes = match serde_json::to_vec(&resp) {
            Ok(b) => b,
            Err(_) => return,
        };
        if write_frame(&mut s, &bytes).await.is_err() {
            return;
        }
    }
}

impl Server {
    /// Serves client RPCs on `listener` until the server shuts down.
    pub fn serve_rpc(&self, listener: TcpListener) {
        let server = self.clone();
        self.spawn_task(async move {
            loop {
                match listener.accept().await {
                    Ok((s, peer)) => {
                        let _ = s.set_nodelay(true);
                        tokio::spawn(serve_conn(server.clone(), s, peer));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "rpc accept");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
    }
}

/// Calls a server's RPC listener (one connection per call).
#[derive(Debug, Clone)]
pub struct RpcClient {
    servers: Vec<String>,
}

impl RpcClient {
    /// A caller of `servers` (`host:port`), tried in order.
    pub fn new(servers: Vec<String>) -> Self {
        RpcClient { servers }
    }

    async fn call<T: for<'de> Deserialize<'de>>(
        &self,
        method: &str,
        args: NodeArgs,
    ) -> Result<T, ServerError> {
        let body = serde_json::to_vec(&Request {
            method: method.into(),
            body: json(args)?,
        })
        .map_err(|e| ServerError::Internal(e.to_string()))?;
        let mut last = ServerError::NoLeader;
        for addr in &self.servers {
            let mut s = match TcpStream::connect(addr.as_str()).await {
                Ok(s) => s,
                Err(e) => {
                    last = ServerError::Raft(format!("connecting to {addr}: {e}"));
                    continue;
                }
            };
            let _ = s.set_nodelay(true);
            if let Err(e) = write_frame(&mut s, &body).await {
                last = ServerError::Raft(format!("{addr}: {e}"));
                continue;
            }
            let frame = match read_frame(&mut s).await {
                Ok(Some(f)) => f,
                Ok(None) => {
                    last = ServerError::Raft(format!("{addr}: connection closed"));
                    continue;
                }
                Err(e) => {
                    last = ServerError::Raft(format!("{addr}: {e}"));
                    continue;
                }
            };
            let resp: Response = serde_json::from_slice(&frame)
                .map_err(|e| ServerError::Internal(format!("{addr}: malformed response: {e}")))?;
            if let Some(e) = resp.error {
                return Err(error_of(e));
            }
            return serde_json::from_value(resp.body)
                .map_err(|e| ServerError::Internal(format!("{addr}: {method}: {e}")));
        }
        Err(last)
    }

    /// `Node.Register`: (TTL, index).
    pub async fn register(&self, node: &Node) -> Result<(Duration, u64), ServerError> {
        let r: TtlReply = self
            .call(
                "Node.Register",
                NodeArgs {
                    node: Some(node.clone()),
                    ..Default::default()
                },
            )
            .await?;
        Ok((Duration::from_millis(r.heartbeat_ttl_ms), r.index))
    }

    /// `Node.UpdateStatus`: (TTL, index).
    pub async fn heartbeat(
        &self,
        node_id: &str,
        secret_id: &str,
        status: &str,
    ) -> Result<(Duration, u64), ServerError> {
        let r: TtlReply = self
            .call(
                "Node.UpdateStatus",
                NodeArgs {
                    node_id: node_id.into(),
                    secret_id: secret_id.into(),
                    status: status.into(),
                    ..Default::default()
                },
            )
            .await?;
        Ok((Duration::from_millis(r.heartbeat_ttl_ms), r.index))
    }

    /// `Node.GetClientAllocs` (blocking).
    pub async fn watch_allocs(
        &self,
        node_id: &str,
        secret_id: &str,
        min_index: u64,
        wait: Duration,
    ) -> Result<AllocWatch, ServerError> {
        let r: AllocsReply = self
            .call(
                "Node.GetClientAllocs",
                NodeArgs {
                    node_id: node_id.into(),
                    secret_id: secret_id.into(),
                    min_index,
                    wait_ms: wait.as_millis() as u64,
                    ..Default::default()
                },
            )
            .await?;
        Ok(AllocWatch {
            allocs: r.allocs,
            index: r.index,
        })
    }

    /// `Alloc.GetAllocs`.
    pub async fn get_allocs(
        &self,
        secret_id: &str,
        ids: &[String],
    ) -> Result<Vec<Allocation>, ServerError> {
        self.call(
            "Alloc.GetAllocs",
            NodeArgs {
                secret_id: secret_id.into(),
                alloc_ids: ids.to_vec(),
                ..Default::default()
            },
        )
        .await
    }

    /// `Node.UpdateAlloc`: the index.
    pub async fn update_allocs(
        &self,
        secret_id: &str,
        updates: Vec<ClientAllocUpdate>,
    ) -> Result<u64, ServerError> {
        self.call(
            "Node.UpdateAlloc",
            NodeArgs {
                secret_id: secret_id.into(),
                updates,
                ..Default::default()
            },
        )
        .await
    }
}
