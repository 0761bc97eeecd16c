//! `nomad_api::ClusterApi` for [`Server`]: reads from the store's snapshots
//! and watches, writes through the server's operations.

use async_trait::async_trait;
use nomad_api::{ClusterApi, ClusterError, ReadMeta};
use nomad_state::StateReader;
use nomad_types::api::{
    AgentHealth, AgentHealthResponse, AgentMember, AgentSelf, AllocStopRequest, AllocStopResponse,
    DeploymentAllocHealthRequest, DeploymentPauseRequest, DeploymentPromoteRequest,
    DeploymentUpdateResponse, JobDeregisterRequest, JobDeregisterResponse, JobEvaluateRequest,
    JobPlanRequest, JobRegisterRequest, JobRegisterResponse, NodeDrainUpdateResponse,
    NodeEligibilityUpdateResponse, NodeUpdateDrainRequest, NodeUpdateEligibilityRequest,
    NodeUpdateResponse, RaftConfiguration, RaftServer, ServerMembers,
};
use nomad_types::JobPlanResponse;

use crate::members::{MemberInfo, MemberStatus};
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
    async fn job_dispatch(
        &self,
        req: nomad_types::api::JobDispatchRequest,
    ) -> Result<nomad_types::api::JobDispatchResponse, ClusterError> {
        Ok(Server::job_dispatch(self, req).await?)
    }
    async fn job_periodic_force(
        &self,
        namespace: String,
        job_id: String,
    ) -> Result<nomad_types::api::PeriodicForceResponse, ClusterError> {
        Ok(Server::job_periodic_force(self, &namespace, &job_id).await?)
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
    async fn node_evaluate(&self, node_id: String) -> Result<NodeUpdateResponse, ClusterError> {
        Ok(Server::node_evaluate(self, &node_id).await?)
    }
    async fn node_purge(&self, node_id: String) -> Result<NodeUpdateResponse, ClusterError> {
        Ok(Server::node_purge(self, &node_id).await?)
    }
    async fn deployment_alloc_health(
        &self,
        req: DeploymentAllocHealthRequest,
    ) -> Result<DeploymentUpdateResponse, ClusterError> {
        Ok(Server::deployment_alloc_health(self, req).await?)
    }
    async fn deployment_promote(
        &self,
        req: DeploymentPromoteRequest,
    ) -> Result<DeploymentUpdateResponse, ClusterError> {
        Ok(Server::deployment_promote(self, req).await?)
    }
    async fn deployment_fail(&self, id: String) -> Result<DeploymentUpdateResponse, ClusterError> {
        Ok(Server::deployment_fail(self, &id).await?)
    }
    async fn deployment_pause(
        &self,
        req: DeploymentPauseRequest,
    ) -> Result<DeploymentUpdateResponse, ClusterError> {
        Ok(Server::deployment_pause(self, req).await?)
    }
    async fn job_revert(
        &self,
        req: nomad_types::api::JobRevertRequest,
    ) -> Result<JobRegisterResponse, ClusterError> {
        Ok(Server::job_revert(self, req).await?)
    }
    async fn job_stable(
        &self,
        req: nomad_types::api::JobStabilityRequest,
    ) -> Result<nomad_types::api::JobStabilityResponse, ClusterError> {
        Ok(Server::job_stable(self, req).await?)
    }
    async fn job_scale(
        &self,
        job_id: String,
        req: nomad_types::api::ScalingRequest,
    ) -> Result<JobRegisterResponse, ClusterError> {
        Ok(Server::job_scale(self, &job_id, req).await?)
    }
    async fn job_scale_status(
        &self,
        namespace: String,
        job_id: String,
    ) -> Result<nomad_types::api::JobScaleStatusResponse, ClusterError> {
        Ok(Server::job_scale_status(self, &namespace, &job_id)?)
    }
    async fn system_gc(&self) -> Result<(), ClusterError> {
        Server::system_gc(self).await?;
        Ok(())
    }
    async fn agent_self(&self) -> Result<AgentSelf, ClusterError> {
        Ok(AgentSelf {
            member: self.member(),
            ..AgentSelf::default()
        })
    }
    async fn members(&self) -> Result<ServerMembers, ClusterError> {
        let mut members: Vec<AgentMember> = self
            .server_members()
            .into_iter()
            .map(|(m, status)| member_of(&m, status))
            .collect();
        members.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(ServerMembers {
            server_name: self.config().node_name.clone(),
            server_region: self.config().region.clone(),
            server_dc: self.config().datacenter.clone(),
            members,
        })
    }
    async fn agent_servers(&self) -> Result<Vec<String>, ClusterError> {
        Ok(self
            .server_members()
            .into_iter()
            .filter(|(_, s)| *s == MemberStatus::Alive)
            .map(|(m, _)| m.rpc_addr)
            .collect())
    }
    async fn agent_join(&self, addresses: Vec<String>) -> Result<usize, ClusterError> {
        Ok(self.join(&addresses).await?)
    }
    async fn agent_force_leave(&self, node: String) -> Result<(), ClusterError> {
        Ok(self.force_leave(&node).await?)
    }
    async fn raft_remove_peer(
        &self,
        id: Option<String>,
        address: Option<String>,
    ) -> Result<(), ClusterError> {
        Ok(Server::raft_remove_peer(self, id.as_deref(), address.as_deref()).await?)
    }
    async fn snapshot_save(&self) -> Result<(u64, Vec<u8>), ClusterError> {
        Ok(Server::snapshot_save(self).await?)
    }
    async fn snapshot_restore(&self, image: Vec<u8>) -> Result<(), ClusterError> {
        Server::snapshot_restore(self, &image).await?;
        Ok(())
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
        let names: std::collections::BTreeMap<u64, String> = self
            .server_members()
            .into_iter()
            .map(|(m, _)| {
                let node = m
                    .name
                    .rsplit_once('.')
                    .map(|(n, _)| n.to_string())
                    .unwrap_or(m.name);
                (m.raft_id, node)
            })
            .collect();
        let servers = st
            .voters
            .iter()
            .map(|id| RaftServer {
                id: id.to_string(),
                node: names.get(id).cloned().unwrap_or_else(|| "(unknown)".into()),
                address: st.peers.get(id).cloned().unwrap_or_default(),
                leader: st.leader_id == Some(*id),
                voter: true,
                raft_protocol: "3".into(),
            })
            .collect();
        Ok(RaftConfiguration {
            servers,
            index: st.commit,
        })
    }
}

/// A server as `/v1/agent/members` shows it: the serf address and port,
/// and in the tags the RPC port (which the CLI matches against the leader's
/// address), the Raft id and what `nomad server members` prints.
fn member_of(m: &MemberInfo, status: MemberStatus) -> AgentMember {
    let split = |a: &str| -> (String, u16) {
        match a.parse::<std::net::SocketAddr>() {
            Ok(sa) => (sa.ip().to_string(), sa.port()),
            Err(_) => (a.to_string(), 0),
        }
    };
    let (addr, port) = split(&m.serf_addr);
    let (_, rpc_port) = split(&m.rpc_addr);
    let mut member = AgentMember::nomad_server(
        m.name.clone(),
        addr,
        port,
        rpc_port,
        &m.region,
        &m.datacenter,
        &m.build,
        status.as_str(),
    );
    member
        .tags
        .insert("expect".into(), m.bootstrap_expect.to_string());
    member.tags.insert("id".into(), m.raft_id.to_string());
    member
}

impl Server {
    /// This server as a cluster member.
    fn member(&self) -> AgentMember {
        member_of(&self.inner.members.me(), MemberStatus::Alive)
    }
}
