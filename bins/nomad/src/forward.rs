//! A client-only agent's view of its servers' HTTP API: the addresses the
//! servers publish (the `Status.Members` RPC on their RPC port), followed
//! while the agent runs, and a router that is rebuilt when they change.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::Request;
use axum::response::IntoResponse;
use nomad_server::rpc::{RpcClient, ServerEndpoint};
use tower::ServiceExt;

use crate::agent::server_http_addrs;

/// How long one `Status.Members` call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the servers are asked again once one has answered.
const REFRESH: Duration = Duration::from_secs(10);
/// How often they are asked while none has answered yet.
const RETRY: Duration = Duration::from_secs(1);

/// The servers' endpoints, from the first configured server that answers;
/// `None` when none did in time.
pub async fn fetch_endpoints(rpc: &RpcClient) -> Option<Vec<ServerEndpoint>> {
    match tokio::time::timeout(CALL_TIMEOUT, rpc.server_endpoints()).await {
        Ok(Ok(eps)) => Some(eps),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "asking the servers for their HTTP addresses");
            None
        }
        Err(_) => {
            tracing::debug!("asking the servers for their HTTP addresses: no answer in 2s");
            None
        }
    }
}

/// Keeps `current` forwarding to the servers' published HTTP addresses:
/// asks every [`REFRESH`] (every [`RETRY`] until a server answered) and
/// rebuilds the router when the addresses change. Runs until aborted.
pub async fn follow_servers(
    rpc: RpcClient,
    configured: Vec<String>,
    fs: Arc<dyn nomad_api::ClientFs>,
    current: Arc<RwLock<axum::Router>>,
    mut servers: Vec<String>,
    mut answered: bool,
) {
    loop {
        tokio::time::sleep(if answered { REFRESH } else { RETRY }).await;
        let Some(eps) = fetch_endpoints(&rpc).await else {
            continue;
        };
        answered = true;
        let now = server_http_addrs(&configured, &eps);
        if now == servers {
            continue;
        }
        tracing::info!(servers = ?now, previous = ?servers, "the servers' HTTP addresses changed; forwarding the HTTP API there");
        let router = nomad_api::client_agent_router(fs.clone(), now.clone());
        match current.write() {
            Ok(mut g) => *g = router,
            Err(p) => *p.into_inner() = router,
        }
        servers = now;
    }
}

/// A router that hands every request to the one in `current` at the time
/// of the request (websocket upgrades included: the request keeps its
/// extensions).
pub fn swappable(current: Arc<RwLock<axum::Router>>) -> axum::Router {
    axum::Router::new().fallback(move |req: Request| {
        let router = match current.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        };
        async move {
            match router.oneshot(req).await {
                Ok(resp) => resp,
                Err(never) => match never {},
            }
            .into_response()
        }
    })
}
