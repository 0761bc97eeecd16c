//! The client's view of its servers: `nomad_client::ServerApi` over a
//! `nomad_server::Server` in the same process (the dev agent), or over the
//! servers' RPC listener (a client-only agent).

use std::time::Duration;

use async_trait::async_trait;
use nomad_client::{
    AllocUpdate, AllocWatch, HeartbeatResponse, RegisterResponse, ServerApi, ServerError,
};
use nomad_server::rpc::RpcClient;
use nomad_server::{ClientAllocUpdate, Server, ServerError as SErr};
use nomad_types::{Allocation, Node};

/// A server in this process.
pub struct LocalServer(pub Server);

fn map(e: SErr) -> ServerError {
    match e {
        SErr::NodeUnknown(id) => ServerError::NodeUnknown(id),
        SErr::PermissionDenied => ServerError::PermissionDenied,
        SErr::NoLeader | SErr::Shutdown | SErr::Raft(_) => ServerError::Unavailable(e.to_string()),
        other => ServerError::Other(other.to_string()),
    }
}

#[async_trait]
impl ServerApi for LocalServer {
    async fn register(&self, node: &Node) -> Result<RegisterResponse, ServerError> {
        let (heartbeat_ttl, index) = self.0.node_register(node.clone()).await.map_err(map)?;
        Ok(RegisterResponse {
            heartbeat_ttl,
            index,
        })
    }

    async fn heartbeat(
        &self,
        node_id: &str,
        secret_id: &str,
        status: &str,
    ) -> Result<HeartbeatResponse, ServerError> {
        let (heartbeat_ttl, index) = self
            .0
            .node_update_status(node_id, secret_id, status)
            .await
            .map_err(map)?;
        Ok(HeartbeatResponse {
            heartbeat_ttl,
            index,
        })
    }

    async fn watch_allocs(
        &self,
        node_id: &str,
        secret_id: &str,
        min_index: u64,
        wait: Duration,
    ) -> Result<AllocWatch, ServerError> {
        let w = self
            .0
            .node_client_allocs(node_id, secret_id, min_index, wait)
            .await
            .map_err(map)?;
        Ok(AllocWatch {
            allocs: w.allocs,
            index: w.index,
        })
    }

    async fn get_allocs(
        &self,
        _node_secret_id: &str,
        ids: &[String],
    ) -> Result<Vec<Allocation>, ServerError> {
        Ok(self.0.allocs_by_ids(ids))
    }

    async fn update_allocs(
        &self,
        _node_secret_id: &str,
        updates: Vec<AllocUpdate>,
    ) -> Result<u64, ServerError> {
        self.0
            .node_update_allocs(convert(updates))
            .await
            .map_err(map)
    }
}

fn convert(updates: Vec<AllocUpdate>) -> Vec<ClientAllocUpdate> {
    updates
        .into_iter()
        .map(|u| ClientAllocUpdate {
            id: u.id,
            client_status: u.client_status,
            client_description: u.client_description,
            task_states: u.task_states,
            deployment_status: u.deployment_status,
            network_status: None,
            modify_time: u.modify_time,
        })
        .collect()
}

/// Servers reached through their RPC listener.
pub struct RemoteServer(pub RpcClient);

#[async_trait]
impl ServerApi for RemoteServer {
    async fn register(&self, node: &Node) -> Result<RegisterResponse, ServerError> {
        let (heartbeat_ttl, index) = self.0.register(node).await.map_err(map)?;
        Ok(RegisterResponse {
            heartbeat_ttl,
            index,
        })
    }

    async fn heartbeat(
        &self,
        node_id: &str,
        secret_id: &str,
        status: &str,
    ) -> Result<HeartbeatResponse, ServerError> {
        let (heartbeat_ttl, index) = self
            .0
            .heartbeat(node_id, secret_id, status)
            .await
            .map_err(map)?;
        Ok(HeartbeatResponse {
            heartbeat_ttl,
            index,
        })
    }

    async fn watch_allocs(
        &self,
        node_id: &str,
        secret_id: &str,
        min_index: u64,
        wait: Duration,
    ) -> Result<AllocWatch, ServerError> {
        let w = self
            .0
            .watch_allocs(node_id, secret_id, min_index, wait)
            .await
            .map_err(map)?;
        Ok(AllocWatch {
            allocs: w.allocs,
            index: w.index,
        })
    }

    async fn get_allocs(
        &self,
        node_secret_id: &str,
        ids: &[String],
    ) -> Result<Vec<Allocation>, ServerError> {
        self.0.get_allocs(node_secret_id, ids).await.map_err(map)
    }

    async fn update_allocs(
        &self,
        node_secret_id: &str,
        updates: Vec<AllocUpdate>,
    ) -> Result<u64, ServerError> {
        self.0
            .update_allocs(node_secret_id, convert(updates))
            .await
            .map_err(map)
    }
}
