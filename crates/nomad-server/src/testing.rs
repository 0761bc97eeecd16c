//! Simulated in-process clients and helpers for tests of the server (and of
//! anything built on it).

use std::future::Future;
use std::time::Duration;

use nomad_types::api::JobRegisterRequest;
use nomad_types::consts::{alloc_client_status, node_status};
use nomad_types::{Allocation, Job, Node};

use crate::{ClientAllocUpdate, Server, ServerConfig, ServerError};

/// A configuration for tests: two workers, short heartbeat TTLs.
pub fn test_config() -> ServerConfig {
    ServerConfig {
        node_name: "test-server".into(),
        num_schedulers: 2,
        min_heartbeat_ttl: Duration::from_millis(300),
        heartbeat_grace: Duration::from_millis(200),
        failover_heartbeat_ttl: Duration::from_secs(2),
        eval_nack_timeout: Duration::from_secs(5),
        ..ServerConfig::default()
    }
}

/// Starts a dev server with `config` and waits for its leadership.
pub async fn start(config: ServerConfig) -> Result<Server, ServerError> {
    let s = Server::start(config).await?;
    if !s.wait_for_leadership(Duration::from_secs(5)).await {
        return Err(ServerError::NoLeader);
    }
    Ok(s)
}

/// A ready node with `cpu` MHz and `memory_mb` MB, with the exec, docker
/// and raw_exec drivers.
pub fn node(name: &str, cpu: i64, memory_mb: i64) -> Node {
    let id = crate::new_id();
    let mut n = nomad_scheduler::testing::node(&id);
    n.name = name.to_string();
    n.secret_id = crate::new_id();
    if let Some(r) = n.node_resources.as_mut() {
        r.cpu.cpu_shares = cpu;
        r.memory.memory_mb = memory_mb;
    }
    n.drivers.insert(
        "raw_exec".into(),
        nomad_types::DriverInfo {
            detected: true,
            healthy: true,
            ..Default::default()
        },
    );
    n
}

/// A service job with one group of `count`, each asking `cpu` MHz and 256 MB.
pub fn service_job(id: &str, count: i64, cpu: i64) -> Job {
    let mut j = nomad_scheduler::testing::job(id, "service", count);
    for tg in &mut j.task_groups {
        for t in &mut tg.tasks {
            if let Some(r) = t.resources.as_mut() {
                r.cpu = Some(cpu);
            }
        }
    }
    j
}

/// A register request for `job`.
pub fn register(job: Job) -> JobRegisterRequest {
    JobRegisterRequest {
        job: Some(job),
        ..Default::default()
    }
}

/// Polls `f` every 20 ms until it is true or `timeout` passes.
pub async fn wait_until<F: FnMut() -> bool>(timeout: Duration, mut f: F) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A simulated client: registers its node, heartbeats, and reports its
/// allocations running.
#[derive(Debug, Clone)]
pub struct SimClient {
    /// The server.
    pub server: Server,
    /// The node.
    pub node: Node,
}

impl SimClient {
    /// Registers `node` as ready.
    pub async fn join(server: &Server, mut node: Node) -> Result<SimClient, ServerError> {
        node.status = node_status::READY.into();
        server.node_register(node.clone()).await?;
        Ok(SimClient {
            server: server.clone(),
            node,
        })
    }

    /// One heartbeat.
    pub async fn heartbeat(&self) -> Result<Duration, ServerError> {
        let (ttl, _) = self
            .server
            .node_update_status(&self.node.id, &self.node.secret_id, node_status::READY)
            .await?;
        Ok(ttl)
    }

    /// Heartbeats every `every` until the returned task is aborted.
    pub fn keep_alive(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                let _ = me.heartbeat().await;
                tokio::time::sleep(every).await;
            }
        })
    }

    /// The allocations the servers placed here (not stopped by the servers).
    pub fn allocs(&self) -> Vec<Allocation> {
        let snap = self.server.state().snapshot();
        snap.allocs_by_node(&self.node.id)
            .iter()
            .filter(|a| !a.server_terminal_status())
            .map(|a| Allocation::clone(a))
            .collect()
    }

    /// Reports every live allocation here as running.
    pub async fn mark_running(&self) -> Result<usize, ServerError> {
        let ups: Vec<ClientAllocUpdate> = self
            .allocs()
            .into_iter()
            .filter(|a| a.client_status != alloc_client_status::RUNNING)
            .map(|a| ClientAllocUpdate {
                id: a.id,
                client_status: alloc_client_status::RUNNING.into(),
                client_description: "Tasks are running".into(),
                modify_time: crate::now_nanos(),
                ..Default::default()
            })
            .collect();
        let n = ups.len();
        self.server.node_update_allocs(ups).await?;
        Ok(n)
    }
}

impl SimClient {
    /// Reports every live allocation here running and healthy (as a
    /// client's health watcher would for a deployment).
    pub async fn mark_healthy(&self) -> Result<usize, ServerError> {
        let now = crate::now_nanos();
        let ups: Vec<ClientAllocUpdate> = self
            .allocs()
            .into_iter()
            .map(|a| ClientAllocUpdate {
                id: a.id,
                client_status: alloc_client_status::RUNNING.into(),
                client_description: "Tasks are running".into(),
                deployment_status: Some(nomad_types::AllocDeploymentStatus {
                    healthy: Some(true),
                    timestamp: nomad_types::GoTime::from_unix_nanos(now),
                    ..Default::default()
                }),
                modify_time: now,
                ..Default::default()
            })
            .collect();
        let n = ups.len();
        self.server.node_update_allocs(ups).await?;
        Ok(n)
    }
}

/// Hands `plan` to the leader's plan applier as a worker would, without an
/// evaluation token (tests of the applier: rejections, partial commits).
pub async fn submit_plan(
    server: &Server,
    plan: nomad_scheduler::plan::Plan,
) -> Result<nomad_scheduler::plan::PlanResult, ServerError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    server
        .inner
        .plan_tx
        .send(crate::server::PlanRequest {
            plan,
            token: String::new(),
            reply: tx,
        })
        .await
        .map_err(|_| ServerError::Shutdown)?;
    rx.await.map_err(|_| ServerError::Shutdown)?
}

/// Runs `f` with a timeout, panicking with `what` when it elapses (tests only).
pub async fn within<T>(what: &str, d: Duration, f: impl Future<Output = T>) -> T {
    match tokio::time::timeout(d, f).await {
        Ok(v) => v,
        Err(_) => panic!("timed out: {what}"),
    }
}

/// A batch job with one group of `count` (500 MHz, 256 MB each).
pub fn batch_job(id: &str, count: i64) -> Job {
    nomad_scheduler::testing::job(id, nomad_types::consts::job_type::BATCH, count)
}

/// A system job (one allocation per node, 100 MHz, 256 MB).
pub fn system_job(id: &str) -> Job {
    let mut j = nomad_scheduler::testing::job(id, nomad_types::consts::job_type::SYSTEM, 1);
    for tg in &mut j.task_groups {
        for t in &mut tg.tasks {
            if let Some(r) = t.resources.as_mut() {
                r.cpu = Some(100);
            }
        }
    }
    j
}

/// A periodic batch job launched on `spec` (a cron expression).
pub fn periodic_job(id: &str, spec: &str, prohibit_overlap: bool) -> Job {
    let mut j = batch_job(id, 1);
    j.periodic = Some(nomad_types::job::PeriodicConfig {
        spec: Some(spec.to_string()),
        prohibit_overlap: Some(prohibit_overlap),
        ..Default::default()
    });
    j
}

/// A parameterized batch job: `payload` is `optional`, `required` or
/// `forbidden`.
pub fn parameterized_job(id: &str, payload: &str, required: &[&str], optional: &[&str]) -> Job {
    let mut j = batch_job(id, 1);
    j.parameterized_job = Some(nomad_types::job::ParameterizedJobConfig {
        payload: payload.to_string(),
        meta_required: required.iter().map(|s| s.to_string()).collect(),
        meta_optional: optional.iter().map(|s| s.to_string()).collect(),
    });
    j
}

impl SimClient {
    /// Plays the client for one round: allocations the servers stopped
    /// (or marked to migrate and stopped) are reported `complete`; live
    /// ones `running`, with deployment health when `healthy`. Returns how
    /// many allocations were reported.
    pub async fn sync(&self, healthy: bool) -> Result<usize, ServerError> {
        let now = crate::now_nanos();
        let snap = self.server.state().snapshot();
        let mut ups = Vec::new();
        for a in snap.allocs_by_node(&self.node.id) {
            if a.client_terminal_status() {
                continue;
            }
            let up = if a.server_terminal_status() {
                ClientAllocUpdate {
                    id: a.id.clone(),
                    client_status: alloc_client_status::COMPLETE.into(),
                    client_description: "All tasks have completed".into(),
                    modify_time: now,
                    ..Default::default()
                }
            } else {
                let has_health = a
                    .deployment_status
                    .as_ref()
                    .is_some_and(|d| d.healthy.is_some());
                if a.client_status == alloc_client_status::RUNNING && (has_health || !healthy) {
                    continue;
                }
                ClientAllocUpdate {
                    id: a.id.clone(),
                    client_status: alloc_client_status::RUNNING.into(),
                    client_description: "Tasks are running".into(),
                    deployment_status: healthy.then(|| nomad_types::AllocDeploymentStatus {
                        healthy: Some(true),
                        timestamp: nomad_types::GoTime::from_unix_nanos(now),
                        ..Default::default()
                    }),
                    modify_time: now,
                    ..Default::default()
                }
            };
            ups.push(up);
        }
        let n = ups.len();
        if n > 0 {
            self.server.node_update_allocs(ups).await?;
        }
        Ok(n)
    }

    /// Reports every live allocation here `complete` (a batch job that
    /// finished).
    pub async fn complete_all(&self) -> Result<usize, ServerError> {
        let now = crate::now_nanos();
        let ups: Vec<ClientAllocUpdate> = self
            .allocs()
            .into_iter()
            .filter(|a| !a.client_terminal_status())
            .map(|a| ClientAllocUpdate {
                id: a.id,
                client_status: alloc_client_status::COMPLETE.into(),
                client_description: "All tasks have completed".into(),
                modify_time: now,
                ..Default::default()
            })
            .collect();
        let n = ups.len();
        if n > 0 {
            self.server.node_update_allocs(ups).await?;
        }
        Ok(n)
    }
}

impl SimClient {
    /// Reports allocations `ids` (placed here) with `client_status` and,
    /// when `healthy` is set, that deployment health, as a client's health
    /// watcher would once it decided.
    pub async fn report(
        &self,
        ids: &[String],
        client_status: &str,
        healthy: Option<bool>,
    ) -> Result<u64, ServerError> {
        let now = crate::now_nanos();
        let ups: Vec<ClientAllocUpdate> = ids
            .iter()
            .map(|id| ClientAllocUpdate {
                id: id.clone(),
                client_status: client_status.to_string(),
                client_description: String::new(),
                deployment_status: healthy.map(|h| nomad_types::AllocDeploymentStatus {
                    healthy: Some(h),
                    timestamp: nomad_types::GoTime::from_unix_nanos(now),
                    ..Default::default()
                }),
                modify_time: now,
                ..Default::default()
            })
            .collect();
        self.server.node_update_allocs(ups).await
    }

    /// Reports allocations `ids` running and healthy (or unhealthy).
    pub async fn report_health(&self, ids: &[String], healthy: bool) -> Result<u64, ServerError> {
        self.report(ids, alloc_client_status::RUNNING, Some(healthy))
            .await
    }
}
