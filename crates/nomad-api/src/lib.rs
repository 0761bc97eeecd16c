//! Nomad's `/v1` HTTP API.
//!
//! Owns: the routes of Nomad's HTTP API and their conventions — query
//! parameters (`index`/`wait` blocking queries, `stale`, `namespace` with
//! `*`, `region`, `prefix`, `per_page`/`next_token`, `filter` (go-bexpr,
//! [`filter`]), `pretty`), Go's boolean
//! syntax, lenient JSON request bodies, Go-compatible JSON responses with the
//! `X-Nomad-Index`, `X-Nomad-KnownLeader` and `X-Nomad-LastContact` headers,
//! and the mapping of errors to Nomad's status codes with plain-text bodies.
//! The agent plugs in behind one trait, [`ClusterApi`]: reads come from its
//! state-store replica (snapshots, watches), writes are methods mirroring
//! Nomad's RPCs. `GET /v1/event/stream` streams the replica's event buffer
//! as Nomad's newline-delimited JSON (topic/key/namespace filters, `index`
//! to resume, `{}` heartbeats every [`ClusterApi::event_heartbeat`]).
//! The client routes (`/v1/client/fs/*`, `/v1/client/stats`,
//! `/v1/client/allocation/:id/{stats,restart,signal,exec}`, exec being a
//! websocket of Nomad's JSON frames) are answered by the agent's client
//! ([`ClientFs`]; followed logs and files come as Nomad's framed JSON with
//! `{}` heartbeats) or forwarded to the `HTTPAddr` of the node running the
//! allocation; [`client_agent_router`] is the API of a client-only agent,
//! which answers those itself and forwards everything else to its servers.
//! [`testing::InMemoryCluster`] implements it over a real
//! `nomad_state::StateStore` (no raft, no scheduler) for tests of this crate,
//! the API client and the CLI.
//!
//! Must not depend on: raft, RocksDB or the scheduler (the server implements
//! [`ClusterApi`]; this crate never sees its internals).
//!
//! Start a server with [`serve`] on a bound listener.

pub mod cluster;
pub mod filter;
mod query;
mod routes;
pub mod testing;

use std::sync::Arc;

pub use cluster::{
    ByteStream, ClientFs, ClusterApi, ClusterError, ExecChannels, ExecChunk, ExecStart, FileFrame,
    FrameStream, FsStreamRequest, LogsRequest, ReadMeta, DEFAULT_EVENT_HEARTBEAT,
};
pub use nomad_api_client::stats;
/// The terminal size an exec session's caller sends.
pub use nomad_api_client::TerminalSize;
pub use query::{parse_go_bool, MAX_QUERY_TIME};

/// The `/v1` router over an agent.
pub fn router(api: Arc<dyn ClusterApi>) -> axum::Router {
    routes::router(api)
}

/// The `/v1` router of a client-only agent: `/v1/client/*` (files, logs,
/// stats, restart, signal, exec) and `/v1/agent/self` are answered by
/// `client`; every other request is forwarded to the first of `servers`
/// (HTTP addresses, `ip:port`) that answers.
pub fn client_agent_router(client: Arc<dyn ClientFs>, servers: Vec<String>) -> axum::Router {
    routes::client_agent_router(client, servers)
}

/// Serves `router` on `listener` until `shutdown` resolves.
pub async fn serve_router(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(no_delay(listener), router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Sets `TCP_NODELAY` on every accepted connection, as Go's (and so
/// Nomad's) listeners do: a small write (an event, a streamed log frame)
/// must not wait for the peer's delayed acknowledgement of the previous
/// one (up to 40 ms on Linux).
fn no_delay(
    listener: tokio::net::TcpListener,
) -> impl axum::serve::Listener<Addr = std::net::SocketAddr> {
    use axum::serve::ListenerExt;
    listener.tap_io(|stream| {
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "setting TCP_NODELAY");
        }
    })
}

/// Serves the `/v1` API on `listener` until `shutdown` resolves. This is
/// what `nomad agent` runs for its HTTP address.
pub async fn serve(
    listener: tokio::net::TcpListener,
    api: Arc<dyn ClusterApi>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_router(listener, router(api), shutdown).await
}
