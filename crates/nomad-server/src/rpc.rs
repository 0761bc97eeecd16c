//! The RPC listener for client agents in other processes (Nomad's port
//! 4647), and a matching caller.
//!
//! Wire format: a connection opens with one byte naming its protocol, as
//! Nomad's RPC port does: [`RPC_NOMAD`] (`0x01`) for these RPCs,
//! [`RPC_RAFT`] (`0x02`) for Raft traffic between servers, which is handed
//! to the Raft transport. After `0x01` each message is a frame, a 4-byte
//! big-endian length then that many bytes of JSON. A connection carries one request and its
//! response at a time: `{"Method": "Node.Register", "Body": …}` →
//! `{"Body": …}` or `{"Error": {"Kind": …, "Message": …}}`. Methods mirror
//! Nomad's client RPCs: `Node.Register`, `Node.UpdateStatus`,
//! `Node.GetClientAllocs`, `Alloc.GetAllocs`, `Node.UpdateAlloc`; servers
//! forward `System.GarbageCollect` to the leader. `Status.Members` lists
//! the region's alive servers with their RPC and HTTP addresses: a
//! client-only agent forwards its `/v1` requests to those HTTP addresses.
//!
//! Differences from Nomad, on purpose for now: JSON instead of msgpack, no
//! yamux multiplexing or TLS.

use std::net::SocketAddr;
use std::time::Duration;

use nomad_types::{Allocation, Node};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::{AllocWatch, ClientAllocUpdate, Server, ServerError};

/// First byte of a connection carrying these RPCs.
pub const RPC_NOMAD: u8 = 0x01;
/// First byte of a connection carrying Raft messages.
pub const RPC_RAFT: u8 = 0x02;

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

/// One server as `Status.Members` lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ServerEndpoint {
    /// `<node name>.<region>`.
    pub name: String,
    /// RPC address, `ip:port`.
    pub rpc_addr: String,
    /// HTTP API address, `ip:port`; empty when the server has not
    /// published one (not bound yet, or an older build).
    #[serde(rename = "HTTPAddr")]
    pub http_addr: String,
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
    if req.method == "Serf.PushPull" {
        let pp: crate::members::PushPull = serde_json::from_value(req.body)
            .map_err(|e| ServerError::BadRequest(format!("Serf.PushPull: {e}")))?;
        return json(server.handle_push_pull(pp));
    }
    if req.method == "Status.Members" {
        return json(server.server_endpoints());
    }
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
        "System.GarbageCollect" => json(server.system_gc().await?),
        other => Err(ServerError::BadRequest(format!(
            "rpc: can't find method {other}"
        ))),
    }
}

async fn serve_conn(server: Server, mut s: TcpStream, peer: SocketAddr) {
    let mut proto = [0u8; 1];
    match tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut proto)).await {
        Ok(Ok(_)) => {}
        _ => return,
    }
    match proto[0] {
        RPC_NOMAD => {}
        RPC_RAFT => {
            match server.inner.raft_acceptor.as_ref() {
                Some(a) => a.accept(s),
                None => tracing::debug!(%peer, "raft connection on a listener without raft"),
            }
            return;
        }
        other => {
            tracing::debug!(%peer, byte = other, "unknown rpc protocol byte; closing");
            return;
        }
    }
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

/// Why a call could not reach a server at all (as opposed to the server
/// answering with an error): the caller tries the next server.
enum CallError {
    Unreachable(ServerError),
    Answered(ServerError),
}

async fn call_addr(addr: &str, frame: &[u8]) -> Result<serde_json::Value, CallError> {
    let unreachable = |m: String| CallError::Unreachable(ServerError::Raft(m));
    let mut s = TcpStream::connect(addr)
        .await
        .map_err(|e| unreachable(format!("connecting to {addr}: {e}")))?;
    let _ = s.set_nodelay(true);
    s.write_all(&[RPC_NOMAD])
        .await
        .map_err(|e| unreachable(format!("{addr}: {e}")))?;
    write_frame(&mut s, frame)
        .await
        .map_err(|e| unreachable(format!("{addr}: {e}")))?;
    let frame = match read_frame(&mut s).await {
        Ok(Some(f)) => f,
        Ok(None) => return Err(unreachable(format!("{addr}: connection closed"))),
        Err(e) => return Err(unreachable(format!("{addr}: {e}"))),
    };
    let resp: Response = serde_json::from_slice(&frame).map_err(|e| {
        CallError::Answered(ServerError::Internal(format!(
            "{addr}: malformed response: {e}"
        )))
    })?;
    match resp.error {
        Some(e) => Err(CallError::Answered(error_of(e))),
        None => Ok(resp.body),
    }
}

fn request_frame(method: &str, body: serde_json::Value) -> Result<Vec<u8>, ServerError> {
    serde_json::to_vec(&Request {
        method: method.into(),
        body,
    })
    .map_err(|e| ServerError::Internal(e.to_string()))
}

/// One call to one server.
pub(crate) async fn call_one(
    addr: &str,
    method: &str,
    body: serde_json::Value,
) -> Result<serde_json::Value, ServerError> {
    let frame = request_frame(method, body)?;
    call_addr(addr, &frame).await.map_err(|e| match e {
        CallError::Unreachable(e) | CallError::Answered(e) => e,
    })
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
        let frame = request_frame(method, json(args)?)?;
        let mut last = ServerError::NoLeader;
        for addr in &self.servers {
            match call_addr(addr, &frame).await {
                Ok(body) => {
                    return serde_json::from_value(body)
                        .map_err(|e| ServerError::Internal(format!("{addr}: {method}: {e}")))
                }
                Err(CallError::Answered(e)) => return Err(e),
                Err(CallError::Unreachable(e)) => last = e,
            }
        }
        Err(last)
    }

    /// `Status.Members`: the alive servers of the region, as the first
    /// server that answers knows them.
    pub async fn server_endpoints(&self) -> Result<Vec<ServerEndpoint>, ServerError> {
        self.call("Status.Members", NodeArgs::default()).await
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
