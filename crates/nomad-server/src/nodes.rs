//! Node operations (`Node.Register`, `Node.UpdateStatus`,
//! `Node.GetClientAllocs`, `Node.UpdateAlloc`, drain, eligibility) and the
//! node evaluations they create.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use nomad_state::command::{
    EvalUpdate, NodeDeregister, NodeRegister, NodeUpdateEligibility, NodeUpdateStatus,
};
use nomad_state::{Command, Table};
use nomad_types::api::{
    NodeEligibilityUpdateResponse, NodeUpdateEligibilityRequest, NodeUpdateResponse,
};
use nomad_types::consts::{
    alloc_client_status, eval_trigger, job_type, node_eligibility, node_status,
};
use nomad_types::node::NodeEvent;
use nomad_types::{Allocation, Evaluation, GoTime, Node};

use crate::error::ServerError;
use crate::jobs::new_eval;
use crate::server::Server;

pub use nomad_state::command::ClientAllocUpdate;

/// What `Node.GetClientAllocs` answers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllocWatch {
    /// Allocation ID → `AllocModifyIndex`.
    pub allocs: BTreeMap<String, u64>,
    /// Index of the answer.
    pub index: u64,
}

fn now_secs() -> i64 {
    crate::now_nanos() / 1_000_000_000
}

impl Server {
    fn ttl(&self, node_id: &str) -> Duration {
        let c = &self.inner.config;
        self.inner.heartbeats.reset(
            node_id,
            c.max_heartbeats_per_second,
            c.min_heartbeat_ttl,
            c.heartbeat_grace,
        )
    }

    fn check_secret(
        &self,
        node_id: &str,
        secret: &str,
    ) -> Result<std::sync::Arc<Node>, ServerError> {
        let node = self
            .inner
            .reader
            .snapshot()
            .node_by_id(node_id)
            .ok_or_else(|| ServerError::NodeUnknown(node_id.to_string()))?;
        if !secret.is_empty() && !node.secret_id.is_empty() && node.secret_id != secret {
            return Err(ServerError::PermissionDenied);
        }
        Ok(node)
    }

    /// `Node.Register`: returns (heartbeat TTL, index).
    pub async fn node_register(&self, node: Node) -> Result<(Duration, u64), ServerError> {
        if let Some(leader) = self.forward_target()? {
            return crate::rpc::RpcClient::new(vec![leader])
                .register(&node)
                .await;
        }
        if node.id.is_empty() {
            return Err(ServerError::BadRequest(
                "missing node ID for client registration".into(),
            ));
        }
        if node.secret_id.is_empty() {
            return Err(ServerError::BadRequest(
                "missing node secret ID for client registration".into(),
            ));
        }
        let mut node = node;
        if node.status.is_empty() {
            node.status = node_status::INIT.to_string();
        }
        let prev = self.inner.reader.snapshot().node_by_id(&node.id);
        if let Some(p) = &prev {
            if !p.secret_id.is_empty() && p.secret_id != node.secret_id {
                return Err(ServerError::PermissionDenied);
            }
        }
        node.status_updated_at = now_secs();
        let id = node.id.clone();
        let ready = node.status == node_status::READY;
        let r = self
            .propose(Command::NodeRegister(NodeRegister { node }))
            .await?;
        if let Some(e) = r.error {
            return Err(ServerError::BadRequest(e.to_string()));
        }
        tracing::info!(node_id = %id, index = r.index, "node registered");
        if ready {
            self.node_became_ready(&id, r.index).await;
        }
        Ok((self.ttl(&id), r.index))
    }

    /// `Node.UpdateStatus` (the heartbeat): returns (TTL, index).
    pub async fn node_update_status(
        &self,
        node_id: &str,
        secret: &str,
        status: &str,
    ) -> Result<(Duration, u64), ServerError> {
        // Heartbeat timers live on the leader.
        if let Some(leader) = self.forward_target()? {
            return crate::rpc::RpcClient::new(vec![leader])
                .heartbeat(node_id, secret, status)
                .await;
        }
        let node = self.check_secret(node_id, secret)?;
        let mut index = self.inner.reader.snapshot().latest_index();
        if node.status != status {
            index = self.update_node_status_raw(node_id, status, "").await?;
        }
        if status == node_status::DOWN {
            self.inner.heartbeats.clear(node_id);
            return Ok((Duration::ZERO, index));
        }
        Ok((self.ttl(node_id), index))
    }

    pub(crate) async fn update_node_status_raw(
        &self,
        node_id: &str,
        status: &str,
        message: &str,
    ) -> Result<u64, ServerError> {
        let prev = self.inner.reader.snapshot().node_by_id(node_id);
        let event = (!message.is_empty()).then(|| NodeEvent {
            message: message.to_string(),
            subsystem: "Cluster".to_string(),
            timestamp: GoTime::from_unix_nanos(crate::now_nanos()),
            ..NodeEvent::default()
        });
        let r = self
            .propose(Command::NodeUpdateStatus(NodeUpdateStatus {
                node_id: node_id.to_string(),
                status: status.to_string(),
                updated_at: now_secs(),
                node_event: event,
            }))
            .await?;
        if let Some(e) = r.error {
            return Err(match e {
                nomad_state::ApplyError::NotFound { .. } => {
                    ServerError::NodeUnknown(node_id.to_string())
                }
                other => ServerError::Internal(other.to_string()),
            });
        }
        tracing::info!(node_id = %node_id, status, index = r.index, "node status updated");
        let was = prev.map(|n| n.status.clone()).unwrap_or_default();
        if status == node_status::READY && was != node_status::READY {
            self.node_became_ready(node_id, r.index).await;
        } else if status == node_status::DOWN || status == node_status::DISCONNECTED {
            self.create_node_evals(node_id).await;
        }
        Ok(r.index)
    }

    async fn node_became_ready(&self, node_id: &str, index: u64) {
        self.create_node_evals(node_id).await;
        self.unblock_if_schedulable(node_id, index);
    }

    /// One `node-update` evaluation per job with allocations on the node,
    /// and per system job; failures are logged (the next node update
    /// tries again).
    pub(crate) async fn create_node_evals(&self, node_id: &str) {
        if let Err(e) = self.node_evals(node_id).await {
            tracing::warn!(node_id = %node_id, error = %e, "creating node evaluations");
        }
    }

    /// The evaluations of [`Server::create_node_evals`]: their IDs and the
    /// index that wrote them (none: 0).
    async fn node_evals(&self, node_id: &str) -> Result<(Vec<String>, u64), ServerError> {
        let snap = self.inner.reader.snapshot();
        let mut jobs: BTreeSet<(String, String)> = BTreeSet::new();
        let mut evals = Vec::new();
        let now = crate::now_nanos();
        let node_index = snap
            .node_by_id(node_id)
            .map(|n| n.modify_index)
            .unwrap_or(0);
        let mut push = |job: &nomad_types::Job, evals: &mut Vec<Evaluation>| {
            if jobs.insert((job.namespace().to_string(), job.id().to_string())) {
                let mut e = new_eval(job, eval_trigger::NODE_UPDATE, now);
                e.node_id = node_id.to_string();
                e.node_modify_index = node_index;
                evals.push(e);
            }
        };
        for a in snap.allocs_by_node(node_id) {
            if let Some(job) = a
                .job
                .clone()
                .or_else(|| snap.job_by_id(&a.namespace, &a.job_id))
            {
                push(&job, &mut evals);
            }
        }
        for j in snap.jobs() {
            if (j.job_type() == job_type::SYSTEM || j.job_type() == job_type::SYSBATCH)
                && !j.stop.unwrap_or(false)
            {
                push(j, &mut evals);
            }
        }
        if evals.is_empty() {
            return Ok((Vec::new(), 0));
        }
        tracing::debug!(node_id = %node_id, count = evals.len(), "creating node evaluations");
        let ids = evals.iter().map(|e| e.id.clone()).collect();
        let r = self
            .propose(Command::EvalUpdate(EvalUpdate { evals }))
            .await?;
        if let Some(e) = r.error {
            return Err(ServerError::Internal(format!("node evaluations: {e}")));
        }
        Ok((ids, r.index))
    }

    /// `Node.Evaluate` (`PUT /v1/node/:id/evaluate`): evaluations of every
    /// job with allocations on the node, and of the system jobs.
    pub async fn node_evaluate(&self, node_id: &str) -> Result<NodeUpdateResponse, ServerError> {
        let node = self
            .inner
            .reader
            .snapshot()
            .node_by_id(node_id)
            .ok_or_else(|| ServerError::NotFound(format!("node not found: {node_id}")))?;
        let (eval_ids, index) = self.node_evals(node_id).await?;
        Ok(NodeUpdateResponse {
            eval_ids,
            eval_create_index: index,
            node_modify_index: node.modify_index,
            index,
            ..NodeUpdateResponse::default()
        })
    }

    /// `Node.Deregister` (`PUT /v1/node/:id/purge`): removes the node from
    /// the state, then evaluates the jobs that had allocations on it, so
    /// they are replaced elsewhere.
    pub async fn node_purge(&self, node_id: &str) -> Result<NodeUpdateResponse, ServerError> {
        let r = self
            .propose(Command::NodeDeregister(NodeDeregister {
                node_ids: vec![node_id.to_string()],
            }))
            .await?;
        if let Some(e) = r.error {
            return Err(match e {
                nomad_state::ApplyError::NotFound { .. } => {
                    ServerError::NotFound(format!("node not found: {node_id}"))
                }
                other => ServerError::BadRequest(other.to_string()),
            });
        }
        self.inner.heartbeats.clear(node_id);
        let (eval_ids, eval_index) = self.node_evals(node_id).await?;
        Ok(NodeUpdateResponse {
            eval_ids,
            eval_create_index: eval_index,
            node_modify_index: r.index,
            index: eval_index.max(r.index),
            ..NodeUpdateResponse::default()
        })
    }

    /// `Node.GetClientAllocs`: blocks until the allocations' index passes
    /// `min_index` or `wait` elapses.
    pub async fn node_client_allocs(
        &self,
        node_id: &str,
        secret: &str,
        min_index: u64,
        wait: Duration,
    ) -> Result<AllocWatch, ServerError> {
        self.check_secret(node_id, secret)?;
        let reader = &self.inner.reader;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let snap = reader.snapshot();
            let index = snap.table_index(Table::Allocs).max(1);
            if index > min_index || tokio::time::Instant::now() >= deadline {
                let allocs = snap
                    .allocs_by_node(node_id)
                    .iter()
                    .map(|a| (a.id.clone(), a.alloc_modify_index))
                    .collect();
                return Ok(AllocWatch { allocs, index });
            }
            let w = reader.wait_past(&[Table::Allocs], index);
            let _ = tokio::time::timeout_at(deadline, w).await;
        }
    }

    /// `Alloc.GetAllocs`: full allocations (with their job).
    pub fn allocs_by_ids(&self, ids: &[String]) -> Vec<Allocation> {
        let snap = self.inner.reader.snapshot();
        ids.iter()
            .filter_map(|id| snap.alloc_by_id(id))
            .map(|a| {
                let mut a = Allocation::clone(&a);
                if a.job.is_none() {
                    a.job = snap.job_by_id(&a.namespace, &a.job_id);
                }
                a
            })
            .collect()
    }

    /// `Node.UpdateAlloc`: client-reported allocation states. Failed
    /// allocations get an `alloc-failure` evaluation; terminal ones free
    /// capacity for blocked evaluations.
    pub async fn node_update_allocs(
        &self,
        mut updates: Vec<ClientAllocUpdate>,
    ) -> Result<u64, ServerError> {
        if updates.is_empty() {
            return Ok(self.inner.reader.snapshot().latest_index());
        }
        // Unblocking evaluations happens on the leader.
        if let Some(leader) = self.forward_target()? {
            return crate::rpc::RpcClient::new(vec![leader])
                .update_allocs("", updates)
                .await;
        }
        let snap = self.inner.reader.snapshot();
        let now = crate::now_nanos();
        let mut evals = Vec::new();
        let mut seen = BTreeSet::new();
        // Nodes where an allocation finished (complete or failed, as Nomad
        // counts it): their classes have room again.
        let mut freed: BTreeSet<String> = BTreeSet::new();
        for u in &mut updates {
            // The server's clock stamps the change, as in Nomad (garbage
            // collection ages allocations by it).
            u.modify_time = now;
        }
        for u in &updates {
            if matches!(
                u.client_status.as_str(),
                alloc_client_status::COMPLETE | alloc_client_status::FAILED
            ) {
                if let Some(a) = snap.alloc_by_id(&u.id) {
                    freed.insert(a.node_id.clone());
                }
            }
            if u.client_status == alloc_client_status::FAILED {
                if let Some(a) = snap.alloc_by_id(&u.id) {
                    if let Some(job) = a
                        .job
                        .clone()
                        .or_else(|| snap.job_by_id(&a.namespace, &a.job_id))
                    {
                        if seen.insert((a.namespace.clone(), a.job_id.clone())) {
                            evals.push(new_eval(&job, "alloc-failure", now));
                        }
                    }
                }
            }
        }
        let deployments: Vec<String> = updates
            .iter()
            .filter_map(|u| snap.alloc_by_id(&u.id))
            .map(|a| a.deployment_id.clone())
            .filter(|d| !d.is_empty())
            .collect();
        let index = self.commit_alloc_updates(updates, evals).await?;
        self.deployments_changed(deployments);
        if !freed.is_empty() {
            self.unblock_nodes(freed.iter().map(String::as_str), index);
        }
        Ok(index)
    }

    /// Commits one client's report together with whatever other reports
    /// arrive while an entry is in flight (see [`crate::alloc_updates`]).
    async fn commit_alloc_updates(
        &self,
        allocs: Vec<nomad_state::command::ClientAllocUpdate>,
        evals: Vec<Evaluation>,
    ) -> Result<u64, ServerError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let report = crate::alloc_updates::Report {
            allocs,
            evals,
            reply,
        };
        if self.inner.alloc_updates.push(report) {
            let server = self.clone();
            tokio::spawn(async move { server.flush_alloc_updates().await });
        }
        answer.await.map_err(|_| ServerError::Shutdown)?
    }

    /// Proposes the queued reports, one merged entry at a time, until none
    /// are left.
    async fn flush_alloc_updates(&self) {
        while let Some((cmd, replies)) = self.inner.alloc_updates.take() {
            let reports = replies.len();
            let allocs = cmd.allocs.len();
            let outcome = match self.propose(Command::AllocClientUpdate(cmd)).await {
                Ok(r) => match r.error {
                    Some(e) => Err(ServerError::BadRequest(e.to_string())),
                    None => Ok(r.index),
                },
                Err(e) => Err(e),
            };
            tracing::trace!(
                reports,
                allocs,
                ok = outcome.is_ok(),
                "committed client updates"
            );
            for r in replies {
                let _ = r.send(outcome.clone());
            }
        }
    }

    /// `Node.UpdateEligibility`.
    pub async fn node_update_eligibility(
        &self,
        req: NodeUpdateEligibilityRequest,
    ) -> Result<NodeEligibilityUpdateResponse, ServerError> {
        if req.eligibility != node_eligibility::ELIGIBLE
            && req.eligibility != node_eligibility::INELIGIBLE
        {
            return Err(ServerError::BadRequest(format!(
                "invalid scheduling eligibility {:?}",
                req.eligibility
            )));
        }
        let r = self
            .propose(Command::NodeUpdateEligibility(NodeUpdateEligibility {
                node_id: req.node_id.clone(),
                eligibility: req.eligibility.clone(),
                updated_at: now_secs(),
                node_event: None,
            }))
            .await?;
        if let Some(e) = r.error {
            return Err(match e {
                nomad_state::ApplyError::NotFound { .. } => {
                    ServerError::NotFound(format!("node not found: {}", req.node_id))
                }
                other => ServerError::BadRequest(other.to_string()),
            });
        }
        if req.eligibility == node_eligibility::ELIGIBLE {
            self.unblock_if_schedulable(&req.node_id, r.index);
        }
        Ok(NodeEligibilityUpdateResponse {
            node_modify_index: r.index,
            index: r.index,
            ..Default::default()
        })
    }
}
