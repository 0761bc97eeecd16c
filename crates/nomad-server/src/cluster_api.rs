//! `nomad_api::ClusterApi` for [`Server`]: reads from the store's snapshots
//! and watches, writes through the server's operations.

use async_trait::async_trait;
use nomad_api::{ClusterApi, ClusterError, ReadMeta};
use nomad_state::StateReader;
use nomad_types::api::{
    AgentHealth, AgentHealthResponse, AgentMember, AgentSelf, AllocStopRequest, AllocStopResponse,
    DeploymentPauseRequest, DeploymentPromoteRequest, DeploymentUpdateResponse,
    JobDeregisterRequest, JobDeregisterResponse, JobEvaluateRequest, JobPlanRequest,
    JobRegisterRequest, JobRegisterResponse, NodeDrainUpdateResponse,
    NodeEligibilityUpdateResponse, NodeUpdateDrainRequest, NodeUpdateEligibilityRequest,
    RaftConfiguration, RaftServer, ServerMembers,
};
use nomad_types::JobPlanResponse;

use crate::{Server, ServerError};

impl From<ServerError> for ClusterError {
    fn from(e: ServerError) -> Self {
        match e {
            ServerError::BadRequest(m) => ClusterError::BadRequest(m),
            ServerError::NotFound(m) => ClusterError::NotFound(m),
            ServerError::Conflict(m) => ClusterError::Conflict(m),
            ServerError::NodeUnknown(id) => ClusterError::NotFound(format!("node not found: {id}")),
            ServerError::PermissionDenied => ClusterError::PermissionDenied,
            ServerError::NoLeader => ClusterError::NoLeader,
            other => ClusterError::Internal(other.to_string()),
        }
    }
}

fn not_yet(what: &str) -> ClusterError {
    ClusterError::NotImplemented(format!("{what} is not implemented by this server yet"))
}

#[async_trait]
impl ClusterApi for Server {
    fn client_fs(&self) -> Option<std::sync::Arc<dyn nomad_api::ClientFs>> {
        self.inner.client_fs.get().cloned()
    }

    fn region(&self) -> String {
        self.config().region.clone()
    }
    fn datacenter(&self) -> String {
        self.config().datacenter.clone()
    }
    fn state(&self) -> Result<StateReader, ClusterError> {
        Ok(Server::state(self))
    }
    async fn read_barrier(&self, stale: bool) -> Result<ReadMeta, ClusterError> {
        let st = self.raft().status();
        if !stale {
            let idx = self.raft().read_index().await.map_err(ServerError::from)?;
            let _ = tokio::time::timeout(
                std::time::Duration::from_secs(5),
                Server::state(self).wait_applied(idx),
            )
            .await;
        }
        Ok(ReadMeta {
            known_leader: st.known_leader(),
            last_contact_ms: st.last_contact.map(|d| d.as_millis() as u64).unwrap_or(0),
        })
    }
    async fn job_register(
        &self,
        req: JobRegisterRequest,
    ) -> Result<JobRegisterResponse, ClusterError> {
        Ok(Server::job_register(self, req).await?)
    }
    async fn job_deregister(
        &self,
        req: JobDeregisterRequest,
    ) -> Result<JobDeregisterResponse, ClusterError> {
        Ok(Server::job_deregister(self, req).await?)
    }
    async fn job_plan(&self, req: JobPlanRequest) -> Result<JobPlanResponse, ClusterError> {
        Ok(Server::job_plan(self, req).await?)
    }
    async fn job_evaluate(
        &self,
        req: JobEvaluateRequest,
    ) -> Result<JobRegisterResponse, ClusterError> {
        Ok(Server::job_evaluate(self, req).await?)
    }
    async fn alloc_stop(&self, req: AllocStopRequest) -> Result<AllocStopResponse, ClusterError> {
        Ok(Server::alloc_stop(self, req).await?)
    }
    async fn node_update_drain(
        &self,
        req: NodeUpdateDrainRequest,
    ) -> Result<NodeDrainUpdateResponse, ClusterError> {
        Ok(Server::node_update_drain(self, req).await?)
    }
    async fn node_update_eligibility(
        &self,
        req: NodeUpdateEligibilityRequest,
    ) -> Result<NodeEligibilityUpdateResponse, ClusterError> {
        Ok(Server::node_update_eligibility(self, req).await?)
    }
    async fn deployment_promote(
        &self,
        _req: DeploymentPromoteRequest,
    ) -> Result<DeploymentUpdateResponse, ClusterError> {
        Err(not_yet("deployment promotion"))
    }
    async fn deployment_fail(&self, _id: String) -> Result<DeploymentUpdateResponse, ClusterError> {
        Err(not_yet("failing a deployment"))
    }
    async fn deployment_pause(
        &self,
        _req: DeploymentPauseRequest,
    ) -> Result<DeploymentUpdateResponse, ClusterError> {
        Err(not_yet("pausing a deployment"))
    }
    async fn system_gc(&self) -> Result<(), ClusterError> {
        Err(not_yet("garbage collection"))
    }
    async fn agent_self(&self) -> Result<AgentSelf, ClusterError> {
        Ok(AgentSelf {
            member: self.member(),
            ..AgentSelf::default()
        })
    }
    async fn members(&self) -> Result<ServerMembers, ClusterError> {
        Ok(ServerMembers {
            server_name: self.config().node_name.clone(),
            server_region: self.config().region.clone(),
            server_dc: self.config().datacenter.clone(),
            members: vec![self.member()],
        })
    }
    async fn agent_servers(&self) -> Result<Vec<String>, ClusterError> {
        Ok(vec![self.raft_addr().to_string()])
    }
    async fn agent_health(&self) -> Result<AgentHealthResponse, ClusterError> {
        let ok = self.raft().status().known_leader();
        Ok(AgentHealthResponse {
            client: None,
            server: Some(AgentHealth {
                ok,
                message: if ok {
                    "ok".into()
                } else {
                    "No cluster leader".into()
                },
            }),
        })
    }
    async fn leader(&self) -> Result<String, ClusterError> {
        Ok(self.raft().leader_address().unwrap_or_default())
    }
    async fn peers(&self) -> Result<Vec<String>, ClusterError> {
        Ok(self.raft().status().peers.values().cloned().collect())
    }
    async fn raft_configuration(&self) -> Result<RaftConfiguration, ClusterError> {
        let st = self.raft().status();
        let servers = st
            .voters
            .iter()
            .map(|id| RaftServer {
                id: id.to_string(),
                node: self.config().node_name.clone(),
                address: st.peers.get(id).cloned().unwrap_or_default(),
                leader: st.leader_id == Some(*id),
                ..RaftServer::default()
            })
            .collect();
        Ok(RaftConfiguration {
            servers,
            index: st.commit,
        })
    }
}

impl Server {
    /// This server as a cluster member. There is no gossip layer: the
    /// member's port is the Raft transport's (server-to-server traffic, the
    /// slot Serf's port has in Nomad), and the tags carry what `nomad server
    /// members` shows. `port` in the tags is the same address `leader()`
    /// reports, so the CLI can tell which member leads.
    fn member(&self) -> AgentMember {
        let cfg = self.config();
        let (addr, port) = match self.raft_addr().rsplit_once(':') {
            Some((a, p)) => (a.to_string(), p.parse::<u16>().unwrap_or(0)),
            None => ("127.0.0.1".to_string(), 0),
        };
        let mut tags = std::collections::BTreeMap::new();
        for (k, v) in [
            ("role", "nomad".to_string()),
            ("region", cfg.region.clone()),
            ("dc", cfg.datacenter.clone()),
            ("build", env!("CARGO_PKG_VERSION").to_string()),
            ("port", port.to_string()),
            ("raft_vsn", "3".to_string()),
            ("vsn", "1".to_string()),
            ("mvn", "1".to_string()),
            ("expect", cfg.bootstrap_expect.to_string()),
            ("id", cfg.raft_id.to_string()),
        ] {
            tags.insert(k.to_string(), v);
        }
        AgentMember {
            name: format!("{}.{}", cfg.node_name, cfg.region),
            addr,
            port,
            tags,
            status: "alive".into(),
            protocol_min: 1,
            protocol_max: 5,
            protocol_cur: 2,
            delegate_min: 2,
            delegate_max: 5,
            delegate_cur: 4,
        }
    }
}
