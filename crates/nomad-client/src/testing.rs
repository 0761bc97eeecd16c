//! An in-memory [`ServerApi`] for tests ([`FakeServer`]) and builders of
//! jobs and allocations, public so that the server's tests can reuse the
//! client scenarios.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use nomad_types::alloc::{
    AllocatedCpuResources, AllocatedMemoryResources, AllocatedResources, AllocatedTaskResources,
};
use nomad_types::consts::alloc_desired_status;
use nomad_types::{Allocation, Job, Node, RestartPolicy, Task, TaskGroup};
use tokio::sync::watch;

use crate::server::{
    AllocUpdate, AllocWatch, HeartbeatResponse, RegisterResponse, ServerApi, ServerError,
};
use crate::shared::lock;

#[derive(Default)]
struct State {
    index: u64,
    nodes: BTreeMap<String, Node>,
    allocs: BTreeMap<String, Allocation>,
    updates: Vec<AllocUpdate>,
    heartbeats: u64,
    registrations: u64,
    unavailable: bool,
    lagging_watches: u32,
}

/// A fake server cluster in memory: registers nodes, serves their
/// allocations with blocking-query semantics, records client updates.
pub struct FakeServer {
    state: Mutex<State>,
    bump: watch::Sender<u64>,
    ttl: Duration,
}

impl Default for FakeServer {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeServer {
    /// A fake with a 10s heartbeat TTL.
    pub fn new() -> Self {
        Self::with_ttl(Duration::from_secs(10))
    }

    /// A fake answering `ttl` to registrations and heartbeats.
    pub fn with_ttl(ttl: Duration) -> Self {
        FakeServer {
            state: Mutex::new(State::default()),
            bump: watch::channel(0).0,
            ttl,
        }
    }

    fn commit(&self, f: impl FnOnce(&mut State, u64)) {
        let idx = {
            let mut s = lock(&self.state);
            s.index += 1;
            let i = s.index;
            f(&mut s, i);
            i
        };
        self.bump.send_replace(idx);
    }

    /// Places an allocation (its `node_id` says where).
    pub fn add_alloc(&self, mut alloc: Allocation) {
        self.commit(|s, i| {
            alloc.create_index = i;
            alloc.modify_index = i;
            alloc.alloc_modify_index = i;
            if alloc.desired_status.is_empty() {
                alloc.desired_status = alloc_desired_status::RUN.into();
            }
            s.allocs.insert(alloc.id.clone(), alloc);
        });
    }

    /// Sets an allocation's desired status to `stop`.
    pub fn stop_alloc(&self, id: &str) {
        self.commit(|s, i| {
            if let Some(a) = s.allocs.get_mut(id) {
                a.desired_status = alloc_desired_status::STOP.into();
                a.desired_description = "alloc is being stopped".into();
                a.alloc_modify_index = i;
                a.modify_index = i;
            }
        });
    }

    /// Garbage collects an allocation (the client destroys it).
    pub fn remove_alloc(&self, id: &str) {
        self.commit(|s, _| {
            s.allocs.remove(id);
        });
    }

    /// Forgets a node: its next heartbeat is answered "unknown".
    pub fn forget_node(&self, id: &str) {
        self.commit(|s, _| {
            s.nodes.remove(id);
        });
    }

    /// Answers the next `n` allocation watches "node unknown" even though
    /// the node is registered: a follower that has not yet applied the
    /// registration answers so.
    pub fn lag_watches(&self, n: u32) {
        lock(&self.state).lagging_watches = n;
    }

    /// Makes every call fail with `Unavailable` (or stop failing).
    pub fn set_unavailable(&self, v: bool) {
        lock(&self.state).unavailable = v;
    }

    /// The allocation with the client's updates applied.
    pub fn alloc(&self, id: &str) -> Option<Allocation> {
        lock(&self.state).allocs.get(id).cloned()
    }

    /// A registered node.
    pub fn node(&self, id: &str) -> Option<Node> {
        lock(&self.state).nodes.get(id).cloned()
    }

    /// Every update received, oldest first.
    pub fn updates(&self) -> Vec<AllocUpdate> {
        lock(&self.state).updates.clone()
    }

    /// Heartbeats received.
    pub fn heartbeats(&self) -> u64 {
        lock(&self.state).heartbeats
    }

    /// Registrations received.
    pub fn registrations(&self) -> u64 {
        lock(&self.state).registrations
    }

    /// Waits until `pred` holds for allocation `id` (as updated by the
    /// client), or fails after `timeout` with the last state seen.
    pub async fn wait_alloc(
        &self,
        id: &str,
        timeout: Duration,
        pred: impl Fn(&Allocation) -> bool,
    ) -> Result<Allocation, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let a = self.alloc(id);
            if let Some(a) = &a {
                if pred(a) {
                    return Ok(a.clone());
                }
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "timed out waiting for allocation {id}; last seen: {}",
                    a.map(|a| format!(
                        "client_status={} task_states={}",
                        a.client_status,
                        serde_json::to_string(&a.task_states).unwrap_or_default()
                    ))
                    .unwrap_or_else(|| "none".into())
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn check(&self) -> Result<(), ServerError> {
        if lock(&self.state).unavailable {
            return Err(ServerError::Unavailable("fake server is down".into()));
        }
        Ok(())
    }
}

#[async_trait]
impl ServerApi for FakeServer {
    async fn register(&self, node: &Node) -> Result<RegisterResponse, ServerError> {
        self.check()?;
        let mut index = 0;
        let node = node.clone();
        self.commit(|s, i| {
            s.registrations += 1;
            s.nodes.insert(node.id.clone(), node);
            index = i;
        });
        Ok(RegisterResponse {
            heartbeat_ttl: self.ttl,
            index,
        })
    }

    async fn heartbeat(
        &self,
        node_id: &str,
        secret_id: &str,
        status: &str,
    ) -> Result<HeartbeatResponse, ServerError> {
        self.check()?;
        let mut s = lock(&self.state);
        s.heartbeats += 1;
        let index = s.index;
        let n = s
            .nodes
            .get_mut(node_id)
            .ok_or_else(|| ServerError::NodeUnknown(node_id.to_string()))?;
        if n.secret_id != secret_id {
            return Err(ServerError::PermissionDenied);
        }
        n.status = status.to_string();
        Ok(HeartbeatResponse {
            heartbeat_ttl: self.ttl,
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
        self.check()?;
        {
            let mut s = lock(&self.state);
            if s.lagging_watches > 0 {
                s.lagging_watches -= 1;
                return Err(ServerError::NodeUnknown(node_id.to_string()));
            }
            match s.nodes.get(node_id) {
                None => return Err(ServerError::NodeUnknown(node_id.to_string())),
                Some(n) if n.secret_id != secret_id => return Err(ServerError::PermissionDenied),
                _ => {}
            }
        }
        let mut rx = self.bump.subscribe();
        let _ = tokio::time::timeout(wait, rx.wait_for(|i| *i > min_index)).await;
        let s = lock(&self.state);
        Ok(AllocWatch {
            allocs: s
                .allocs
                .values()
                .filter(|a| a.node_id == node_id)
                .map(|a| (a.id.clone(), a.alloc_modify_index))
                .collect(),
            index: s.index.max(1),
        })
    }

    async fn get_allocs(
        &self,
        _secret: &str,
        ids: &[String],
    ) -> Result<Vec<Allocation>, ServerError> {
        self.check()?;
        let s = lock(&self.state);
        Ok(ids
            .iter()
            .filter_map(|id| s.allocs.get(id).cloned())
            .collect())
    }

    async fn update_allocs(
        &self,
        _secret: &str,
        updates: Vec<AllocUpdate>,
    ) -> Result<u64, ServerError> {
        self.check()?;
        let mut index = 0;
        // Client updates do not move AllocModifyIndex (as in Nomad), so
        // they do not wake the client's own watch.
        let mut s = lock(&self.state);
        s.index += 1;
        index = index.max(s.index);
        for u in &updates {
            if let Some(a) = s.allocs.get_mut(&u.id) {
                a.client_status = u.client_status.clone();
                a.client_description = u.client_description.clone();
                a.task_states = u.task_states.clone();
                a.modify_index = index;
                a.modify_time = u.modify_time;
                if u.deployment_status.is_some() {
                    a.deployment_status = u.deployment_status.clone();
                }
            }
        }
        s.updates.extend(updates);
        Ok(index)
    }
}

/// A job with one group `group` of the given tasks, restart policy
/// `restart` (None: Nomad's default for `job_type`).
pub fn job(id: &str, job_type: &str, tasks: Vec<Task>, restart: Option<RestartPolicy>) -> Job {
    let mut j = Job::new(id, job_type);
    j.name = Some(id.to_string());
    j.datacenters = vec!["dc1".into()];
    let mut g = TaskGroup::new("group", 1);
    g.tasks = tasks;
    g.restart_policy = restart;
    j.task_groups = vec![g];
    j
}

/// A raw_exec task running `command args…`.
pub fn raw_exec_task(name: &str, command: &str, args: &[&str]) -> Task {
    let mut t = Task::new(name, "raw_exec");
    t.config
        .insert("command".into(), serde_json::json!(command));
    t.config.insert("args".into(), serde_json::json!(args));
    t
}

/// An allocation of `job`'s first group, index 0, on `node_id`, with
/// 100 MHz / 64 MB per task.
pub fn alloc(job: Job, node_id: &str) -> Allocation {
    let group = job
        .task_groups
        .first()
        .map(|g| g.name().to_string())
        .unwrap_or_default();
    let mut res = AllocatedResources::default();
    if let Some(g) = job.task_groups.first() {
        for t in &g.tasks {
            res.tasks.insert(
                t.name.clone(),
                AllocatedTaskResources {
                    cpu: AllocatedCpuResources {
                        cpu_shares: 100,
                        reserved_cores: vec![],
                    },
                    memory: AllocatedMemoryResources {
                        memory_mb: 64,
                        memory_max_mb: 0,
                    },
                    ..AllocatedTaskResources::default()
                },
            );
            res.task_lifecycles
                .insert(t.name.clone(), t.lifecycle.clone());
        }
    }
    let id = uuid::Uuid::new_v4().to_string();
    Allocation {
        id,
        namespace: "default".into(),
        eval_id: uuid::Uuid::new_v4().to_string(),
        name: format!("{}.{}[0]", job.id(), group),
        node_id: node_id.to_string(),
        job_id: job.id().to_string(),
        task_group: group,
        allocated_resources: Some(res.into()),
        desired_status: alloc_desired_status::RUN.into(),
        client_status: "pending".into(),
        job: Some(Arc::new(job)),
        ..Allocation::default()
    }
}
