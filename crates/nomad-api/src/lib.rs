//! Nomad's `/v1` HTTP API.
//!
//! Owns: the routes of Nomad's HTTP API and their conventions — query
//! parameters (`index`/`wait` blocking queries, `stale`, `namespace` with
//! `*`, `region`, `prefix`, `per_page`/`next_token`, `pretty`), Go's boolean
//! syntax, lenient JSON request bodies, Go-compatible JSON responses with the
//! `X-Nomad-Index`, `X-Nomad-KnownLeader` and `X-Nomad-LastContact` headers,
//! and the mapping of errors to Nomad's status codes with plain-text bodies.
//! The agent plugs in behind one trait, [`ClusterApi`]: reads come from its
//! state-store replica (snapshots, watches), writes are methods mirroring
//! Nomad's RPCs. `GET /v1/event/stream` streams the replica's event buffer
//! as Nomad's newline-delimited JSON (topic/key/namespace filters, `index`
//! to resume, `{}` heartbeats every [`ClusterApi::event_heartbeat`]).
//! [`testing::InMemoryCluster`] implements it over a real
//! `nomad_state::StateStore` (no raft, no scheduler) for tests of this crate,
//! the API client and the CLI.
//!
//! Must not depend on: raft, RocksDB or the scheduler (the server implements
//! [`ClusterApi`]; this crate never sees its internals).
//!
//! Start a server with [`serve`] on a bound listener.

pub mod cluster;
mod query;
mod routes;
pub mod testing;

use std::sync::Arc;

pub use cluster::{
    ByteStream, ClientFs, ClusterApi, ClusterError, LogsRequest, ReadMeta, DEFAULT_EVENT_HEARTBEAT,
};
pub use query::{parse_go_bool, MAX_QUERY_TIME};

/// The `/v1` router over an agent.
pub fn router(api: Arc<dyn ClusterApi>) -> axum::Router {
    routes::router(api)
}

/// Serves the `/v1` API on `listener` until `shutdown` resolves. This is
/// what `nomad agent` runs for its HTTP address.
pub async fn serve(
    listener: tokio::net::TcpListener,
    api: Arc<dyn ClusterApi>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(api))
        .with_graceful_shutdown(shutdown)
        .await
}
