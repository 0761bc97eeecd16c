//! An in-memory [`ClusterApi`] for tests: a real `nomad_state::StateStore`
//! written through its FSM directly (each write is the next "Raft" index),
//! with no raft and no real scheduler. A tiny placement stand-in
//! ([`sched`]) turns evaluations into allocations on ready nodes so that
//! `job run`, `job stop` and `alloc stop` behave end to end; it knows
//! nothing about resources, constraints or spreads.
//!
//! Seed it with [`InMemoryCluster::add_node`], [`InMemoryCluster::register_job`]
//! and [`InMemoryCluster::set_alloc_client_status`]; serve it with
//! [`crate::serve`] or [`InMemoryCluster::spawn`].
//!
//! Operator routes work too: `agent_join` adds the joined addresses as
//! follower voters (see [`servers`]), `agent_force_leave` and
//! `raft_remove_peer` take them out again, `snapshot_save` encodes the
//! store and `snapshot_restore` replaces it with a decoded image.
//!
//! Job actions (revert, stable, dispatch, periodic force, scale) follow
//! Nomad's rules (see [`actions`]); deployments (opt-in) and drains are
//! played by [`deploy`].

mod actions;
mod deploy;
mod fixtures;
mod sched;
mod servers;

use fixtures::{apply_error, uuid_v4};
pub use fixtures::{enforce_index, now_nanos, test_node};

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use futures_util::StreamExt;
use nomad_state::command::{
    AllocClientUpdate, ClientAllocUpdate, DeploymentPromotion, DeploymentStatusUpdate,
    DeploymentStatusUpdateRequest, JobDeregister, JobRegister, NodeRegister, NodeUpdateDrain,
    NodeUpdateEligibility,
};
use nomad_state::{ApplyResult, Command, StateReader, StateStore, StoreConfig};
use nomad_types::api::{
    AgentHealth, AgentHealthResponse, AgentSelf, AllocFileInfo, AllocStopRequest,
    AllocStopResponse, DeploymentAllocHealthRequest, DeploymentPauseRequest,
    DeploymentPromoteRequest, DeploymentUpdateResponse, JobDeregisterRequest,
    JobDeregisterResponse, JobDispatchRequest, JobDispatchResponse, JobEvaluateRequest,
    JobPlanRequest, JobRegisterRequest, JobRegisterResponse, JobRevertRequest,
    JobScaleStatusResponse, JobStabilityRequest, JobStabilityResponse, NodeDrainUpdateResponse,
    NodeEligibilityUpdateResponse, NodeUpdateDrainRequest, NodeUpdateEligibilityRequest,
    NodeUpdateResponse, PeriodicForceResponse, RaftConfiguration, ScalingRequest, ServerMembers,
};
use nomad_types::consts::{deployment_description, deployment_status, eval_status, eval_trigger};
use nomad_types::{
    DesiredTransition, DrainStrategy, Evaluation, GoTime, Job, JobPlanResponse, Node, TaskState,
};

use crate::cluster::{
    ByteStream, ClusterApi, ClusterError, FileFrame, FrameStream, FsStreamRequest, LogsRequest,
    ReadMeta,
};
use servers::Servers;

/// Where reading a `len`-byte file starts: `offset` bytes from its start,
/// or back from its end with `origin` `end`.
fn start_of(len: usize, offset: i64, origin: &str) -> usize {
    let skip = usize::try_from(offset).unwrap_or(0).min(len);
    if origin == "end" {
        len - skip
    } else {
        skip
    }
}

/// The version the in-memory agent reports.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// An in-memory single-server "cluster".
pub struct InMemoryCluster {
    store: Mutex<StateStore>,
    reader: StateReader,
    seq: AtomicU64,
    /// Place allocations for new evaluations at once.
    auto_schedule: bool,
    region: String,
    datacenter: String,
    node_name: String,
    logs: Mutex<BTreeMap<(String, String, String), Vec<u8>>>,
    servers: Mutex<Servers>,
    scaling_events: Mutex<actions::ScalingEvents>,
    /// Open deployments for service jobs (see [`deploy`]).
    deployments: bool,
    /// `GET /v1/event/stream`'s heartbeat interval.
    event_heartbeat: std::time::Duration,
    /// The client "in this agent" (`attach_client`).
    client: std::sync::OnceLock<Arc<dyn crate::ClientFs>>,
}

impl Default for InMemoryCluster {
    fn default() -> Self {
        InMemoryCluster::new()
    }
}

impl InMemoryCluster {
    /// An empty cluster in region `global`, datacenter `dc1`, that places
    /// allocations as soon as a job is registered.
    pub fn new() -> Self {
        let store = StateStore::new(StoreConfig::default());
        let reader = store.reader();
        InMemoryCluster {
            store: Mutex::new(store),
            reader,
            seq: AtomicU64::new(1),
            auto_schedule: true,
            region: "global".into(),
            datacenter: "dc1".into(),
            node_name: "nomad-rs-test".into(),
            logs: Mutex::new(BTreeMap::new()),
            servers: Mutex::new(Servers::new("nomad-rs-test.global")),
            scaling_events: Mutex::new(BTreeMap::new()),
            deployments: false,
            event_heartbeat: crate::cluster::DEFAULT_EVENT_HEARTBEAT,
            client: std::sync::OnceLock::new(),
        }
    }

    /// Plays a client agent in the same process: `/v1/client/stats` and
    /// the allocation actions reach `client` (logs and files stay the
    /// cluster's own, see [`InMemoryCluster::set_log`]).
    pub fn attach_client(&self, client: Arc<dyn crate::ClientFs>) {
        let _ = self.client.set(client);
    }

    /// Sends event-stream heartbeats every `every` (for fast tests).
    pub fn with_event_heartbeat(mut self, every: std::time::Duration) -> Self {
        self.event_heartbeat = every;
        self
    }

    /// Leaves new evaluations `pending` (no placements).
    pub fn without_scheduler(mut self) -> Self {
        self.auto_schedule = false;
        self
    }

    fn lock(&self) -> MutexGuard<'_, StateStore> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn servers(&self) -> MutexGuard<'_, Servers> {
        self.servers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes joins to `addr` (`host:port`, or the address exactly as it
    /// will be passed) fail as a refused connection.
    pub fn set_unreachable(&self, addr: &str) {
        self.servers().unreachable.insert(addr.to_string());
    }

    /// The gossip addresses (`host:port`) of every server that joined and
    /// has not left, the cluster's own excluded.
    pub fn joined(&self) -> Vec<String> {
        self.servers()
            .list
            .iter()
            .filter(|s| !s.leader && s.status == "alive")
            .map(|s| format!("{}:{}", s.host, s.serf_port))
            .collect()
    }

    /// Applies one entry at the next index.
    pub fn apply(&self, cmd: Command) -> Result<ApplyResult, ClusterError> {
        let mut store = self.lock();
        let index = store.applied_index() + 1;
        let res = store.apply(index, cmd);
        match res.error.clone() {
            None => Ok(res),
            Some(e) => Err(apply_error(e)),
        }
    }

    /// A new random UUID (v4 layout).
    pub fn new_id(&self) -> String {
        uuid_v4(self.seq.fetch_add(1, Ordering::Relaxed))
    }

    /// Registers a ready, eligible client node and returns its ID.
    pub fn add_node(&self, name: &str) -> Result<String, ClusterError> {
        let mut node = test_node(&self.new_id(), name, &self.datacenter);
        node.canonicalize();
        let id = node.id.clone();
        self.apply(Command::NodeRegister(NodeRegister { node }))?;
        Ok(id)
    }

    /// Registers a node as given.
    pub fn upsert_node(&self, node: Node) -> Result<(), ClusterError> {
        self.apply(Command::NodeRegister(NodeRegister { node }))
            .map(|_| ())
    }

    /// Registers a job as `PUT /v1/jobs` would (and places it).
    pub fn register_job(&self, job: Job) -> Result<JobRegisterResponse, ClusterError> {
        self.register(JobRegisterRequest {
            job: Some(job),
            ..JobRegisterRequest::default()
        })
    }

    /// Reports an allocation's client status, with a task state for every
    /// task of its group (`running` tasks get a `Started` event).
    pub fn set_alloc_client_status(
        &self,
        alloc_id: &str,
        status: &str,
    ) -> Result<(), ClusterError> {
        let snap = self.reader.snapshot();
        let alloc = snap
            .alloc_by_id(alloc_id)
            .ok_or_else(|| ClusterError::NotFound("alloc not found".into()))?;
        let now = now_nanos();
        let mut task_states = BTreeMap::new();
        if let Some(tg) = alloc.task_group_spec() {
            for t in &tg.tasks {
                let task_state = if status == "running" {
                    "running"
                } else if status == "pending" {
                    "pending"
                } else {
                    "dead"
                };
                let mut events = vec![nomad_types::TaskEvent::new("Received", now)
                    .with_message("Task received by client")];
                if task_state != "pending" {
                    events.push(
                        nomad_types::TaskEvent::new("Started", now)
                            .with_message("Task started by client"),
                    );
                }
                task_states.insert(
                    t.name.clone(),
                    TaskState {
                        state: task_state.into(),
                        failed: status == "failed",
                        started_at: GoTime::from_unix_nanos(now),
                        events,
                        ..TaskState::default()
                    },
                );
            }
        }
        self.apply(Command::AllocClientUpdate(AllocClientUpdate {
            allocs: vec![ClientAllocUpdate {
                id: alloc_id.to_string(),
                client_status: status.to_string(),
                task_states,
                modify_time: now,
                ..ClientAllocUpdate::default()
            }],
            evals: Vec::new(),
        }))
        .map(|_| ())
    }

    /// Stores an allocation as given (a test's reschedule tracker, links
    /// to replacements and follow-up evaluations).
    pub fn upsert_alloc(&self, alloc: nomad_types::Allocation) -> Result<(), ClusterError> {
        self.apply(Command::ApplyPlanResults(
            nomad_state::command::ApplyPlanResults {
                allocs_updated: vec![alloc],
                updated_at: now_nanos(),
                ..Default::default()
            },
        ))
        .map(|_| ())
    }

    /// Stores an evaluation as given (not scheduled).
    pub fn upsert_eval(&self, eval: Evaluation) -> Result<(), ClusterError> {
        self.apply(Command::EvalUpdate(nomad_state::command::EvalUpdate {
            evals: vec![eval],
        }))
        .map(|_| ())
    }

    /// The store's read handle.
    pub fn reader(&self) -> StateReader {
        self.reader.clone()
    }

    /// Every allocation ID, sorted.
    pub fn alloc_ids(&self) -> Vec<String> {
        self.reader
            .snapshot()
            .allocs()
            .map(|a| a.id.clone())
            .collect()
    }

    /// Sets the text `alloc logs` returns for a task's stdout or stderr.
    pub fn set_log(&self, alloc_id: &str, task: &str, log_type: &str, text: &str) {
        let mut logs = self.logs.lock().unwrap_or_else(|e| e.into_inner());
        logs.insert(
            (alloc_id.into(), task.into(), log_type.into()),
            text.as_bytes().to_vec(),
        );
    }

    /// The contents of `alloc/logs/<task>.<type>.0` as [`Self::set_log`]
    /// wrote it; other paths are not found.
    fn log_file(&self, alloc_id: &str, path: &str) -> Result<Vec<u8>, ClusterError> {
        path.trim_start_matches('/')
            .strip_prefix("alloc/logs/")
            .and_then(|f| f.strip_suffix(".0"))
            .and_then(|f| f.rsplit_once('.'))
            .and_then(|(task, kind)| {
                let logs = self.logs.lock().unwrap_or_else(|e| e.into_inner());
                logs.get(&(alloc_id.to_string(), task.to_string(), kind.to_string()))
                    .cloned()
            })
            .ok_or_else(|| ClusterError::NotFound(format!("file not found: {path}")))
    }

    /// Binds 127.0.0.1:0 and serves the API on a background thread with its
    /// own runtime; returns the base address (`http://127.0.0.1:PORT`).
    /// The server lives as long as the process.
    pub fn spawn(self: Arc<Self>) -> std::io::Result<String> {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let api: Arc<dyn ClusterApi> = self;
        std::thread::Builder::new()
            .name("nomad-api-test".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(_) => return,
                };
                rt.block_on(async move {
                    if let Ok(listener) = tokio::net::TcpListener::from_std(std_listener) {
                        let _ = crate::serve(listener, api, std::future::pending()).await;
                    }
                });
            })?;
        Ok(format!("http://{addr}"))
    }

    fn register(&self, req: JobRegisterRequest) -> Result<JobRegisterResponse, ClusterError> {
        self.register_with(req, eval_trigger::JOB_REGISTER)
    }

    /// Registers a job with an evaluation triggered by `trigger`, and
    /// places it.
    fn register_with(
        &self,
        req: JobRegisterRequest,
        trigger: &str,
    ) -> Result<JobRegisterResponse, ClusterError> {
        let mut job = req
            .job
            .ok_or_else(|| ClusterError::BadRequest("Job must be specified".into()))?;
        job.canonicalize();
        if let Err(errs) = job.validate() {
            let errs: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
            return Err(ClusterError::BadRequest(crate::query::multierror(&errs)));
        }
        let snap = self.reader.snapshot();
        let existing = snap.job_by_id(job.namespace(), job.id());
        if req.enforce_index {
            enforce_index(existing.as_deref(), req.job_modify_index)?;
        }
        let now = now_nanos();
        let eval = (!job.is_periodic() && !job.is_parameterized()).then(|| {
            let priority = if req.eval_priority > 0 {
                req.eval_priority
            } else {
                job.priority()
            };
            self.new_eval(&job, trigger, priority, now)
        });
        let eval_id = eval.as_ref().map(|e| e.id.clone()).unwrap_or_default();
        let res = self.apply(Command::JobRegister(JobRegister {
            job,
            eval,
            deployment: None,
            submit_time: now,
            enforce_index: None,
            preserve_counts: req.preserve_counts,
            canonical: false,
        }))?;
        if self.auto_schedule && !eval_id.is_empty() {
            sched::process(self, &eval_id)?;
        }
        Ok(JobRegisterResponse {
            eval_create_index: if eval_id.is_empty() { 0 } else { res.index },
            eval_id,
            job_modify_index: res.job_modify_index.unwrap_or(0),
            warnings: String::new(),
            index: res.index,
            last_contact: 0,
            known_leader: true,
            next_token: String::new(),
        })
    }

    fn new_eval(&self, job: &Job, trigger: &str, priority: i64, now: i64) -> Evaluation {
        Evaluation {
            id: self.new_id(),
            namespace: job.namespace().to_string(),
            priority,
            eval_type: job.job_type().to_string(),
            triggered_by: trigger.to_string(),
            job_id: job.id().to_string(),
            status: eval_status::PENDING.to_string(),
            create_time: now,
            modify_time: now,
            ..Evaluation::default()
        }
    }

    fn eval_for_existing_job(
        &self,
        namespace: &str,
        job_id: &str,
        trigger: &str,
    ) -> Result<(Evaluation, u64), ClusterError> {
        let snap = self.reader.snapshot();
        let job = snap
            .job_by_id(namespace, job_id)
            .ok_or_else(|| ClusterError::NotFound(format!("job {job_id:?} not found")))?;
        let mut eval = self.new_eval(&job, trigger, job.priority(), now_nanos());
        eval.job_modify_index = job.job_modify_index.unwrap_or(0);
        let res = self.apply(Command::EvalUpdate(nomad_state::command::EvalUpdate {
            evals: vec![eval.clone()],
        }))?;
        Ok((eval, res.index))
    }

    /// One `node-update` evaluation per job with allocations on the node
    /// (the servers' rule, without system jobs), scheduled at once.
    fn node_evals(&self, node_id: &str) -> Result<(Vec<String>, u64), ClusterError> {
        let snap = self.reader.snapshot();
        let mut jobs = std::collections::BTreeSet::new();
        for a in snap.allocs_by_node(node_id) {
            jobs.insert((a.namespace.clone(), a.job_id.clone()));
        }
        let (mut ids, mut index) = (Vec::new(), 0);
        for (ns, job) in jobs {
            let (eval, i) = self.eval_for_existing_job(&ns, &job, eval_trigger::NODE_UPDATE)?;
            if self.auto_schedule {
                sched::process(self, &eval.id)?;
            }
            ids.push(eval.id);
            index = i;
        }
        Ok((ids, index))
    }

    fn deployment_update(
        &self,
        id: &str,
        status: &str,
        desc: &str,
        eval: Option<Evaluation>,
    ) -> Result<DeploymentUpdateResponse, ClusterError> {
        let eval_id = eval.as_ref().map(|e| e.id.clone()).unwrap_or_default();
        let res = self.apply(Command::DeploymentStatusUpdate(
            DeploymentStatusUpdateRequest {
                deployment_update: DeploymentStatusUpdate {
                    deployment_id: id.to_string(),
                    status: status.to_string(),
                    status_description: desc.to_string(),
                },
                updated_at: now_nanos(),
                job: None,
                eval,
            },
        ))?;
        self.run_eval(&eval_id)?;
        Ok(DeploymentUpdateResponse {
            eval_create_index: if eval_id.is_empty() { 0 } else { res.index },
            eval_id,
            deployment_modify_index: res.index,
            index: res.index,
            ..DeploymentUpdateResponse::default()
        })
    }

    /// The deployment `id`, refused as Nomad refuses acting on a terminal
    /// one (`can't promote terminal deployment`).
    fn active_deployment(
        &self,
        id: &str,
        verb: &str,
    ) -> Result<std::sync::Arc<nomad_types::Deployment>, ClusterError> {
        let d = self
            .reader
            .snapshot()
            .deployment_by_id(id)
            .ok_or_else(|| ClusterError::NotFound("deployment not found".into()))?;
        if !d.active() {
            return Err(ClusterError::BadRequest(format!(
                "can't {verb} terminal deployment"
            )));
        }
        Ok(d)
    }

    /// The evaluation Nomad's deployment watcher creates after a promotion,
    /// a resume or a failure (`deployment-watcher`, within the deployment).
    fn deployment_eval(&self, d: &nomad_types::Deployment) -> Option<Evaluation> {
        let job = self.reader.snapshot().job_by_id(&d.namespace, &d.job_id)?;
        let mut e = self.new_eval(
            &job,
            eval_trigger::DEPLOYMENT_WATCHER,
            job.priority(),
            now_nanos(),
        );
        e.deployment_id = d.id.clone();
        Some(e)
    }
}

#[async_trait]
impl ClusterApi for InMemoryCluster {
    fn client_fs(&self) -> Option<Arc<dyn crate::ClientFs>> {
        self.client.get().cloned()
    }

    fn region(&self) -> String {
        self.region.clone()
    }

    fn datacenter(&self) -> String {
        self.datacenter.clone()
    }

    fn state(&self) -> Result<StateReader, ClusterError> {
        Ok(self.reader.clone())
    }

    fn event_heartbeat(&self) -> std::time::Duration {
        self.event_heartbeat
    }

    async fn read_barrier(&self, _stale: bool) -> Result<ReadMeta, ClusterError> {
        Ok(ReadMeta {
            known_leader: true,
            last_contact_ms: 0,
        })
    }

    async fn job_register(
        &self,
        req: JobRegisterRequest,
    ) -> Result<JobRegisterResponse, ClusterError> {
        self.register(req)
    }

    async fn job_deregister(
        &self,
        req: JobDeregisterRequest,
    ) -> Result<JobDeregisterResponse, ClusterError> {
        let snap = self.reader.snapshot();
        let job = snap
            .job_by_id(&req.namespace, &req.job_id)
            .ok_or_else(|| ClusterError::NotFound("job not found".into()))?;
        let mut eval = self.new_eval(
            &job,
            eval_trigger::JOB_DEREGISTER,
            job.priority(),
            now_nanos(),
        );
        if req.eval_priority > 0 {
            eval.priority = req.eval_priority;
        }
        let eval_id = eval.id.clone();
        let res = self.apply(Command::JobDeregister(JobDeregister {
            namespace: req.namespace.clone(),
            job_id: req.job_id.clone(),
            purge: req.purge,
            eval: Some(eval),
            submit_time: now_nanos(),
            no_shutdown_delay: req.no_shutdown_delay,
        }))?;
        if self.auto_schedule {
            sched::process(self, &eval_id)?;
        }
        Ok(JobDeregisterResponse {
            eval_id,
            eval_create_index: res.index,
            job_modify_index: res.job_modify_index.unwrap_or(res.index),
            index: res.index,
            known_leader: true,
            ..JobDeregisterResponse::default()
        })
    }

    async fn job_plan(&self, req: JobPlanRequest) -> Result<JobPlanResponse, ClusterError> {
        sched::plan(self, req)
    }

    async fn job_evaluate(
        &self,
        req: JobEvaluateRequest,
    ) -> Result<JobRegisterResponse, ClusterError> {
        let (eval, index) =
            self.eval_for_existing_job(&req.namespace, &req.job_id, eval_trigger::JOB_REGISTER)?;
        if self.auto_schedule {
            sched::process(self, &eval.id)?;
        }
        Ok(JobRegisterResponse {
            eval_id: eval.id,
            eval_create_index: index,
            job_modify_index: eval.job_modify_index,
            index,
            known_leader: true,
            ..JobRegisterResponse::default()
        })
    }

    async fn job_revert(&self, req: JobRevertRequest) -> Result<JobRegisterResponse, ClusterError> {
        self.revert(req)
    }

    async fn job_stable(
        &self,
        req: JobStabilityRequest,
    ) -> Result<JobStabilityResponse, ClusterError> {
        self.stable(req)
    }

    async fn job_dispatch(
        &self,
        req: JobDispatchRequest,
    ) -> Result<JobDispatchResponse, ClusterError> {
        self.dispatch(req)
    }

    async fn job_periodic_force(
        &self,
        namespace: String,
        job_id: String,
    ) -> Result<PeriodicForceResponse, ClusterError> {
        self.periodic_force(&namespace, &job_id)
    }

    async fn job_scale(
        &self,
        job_id: String,
        req: ScalingRequest,
    ) -> Result<JobRegisterResponse, ClusterError> {
        self.scale(&job_id, req)
    }

    async fn job_scale_status(
        &self,
        namespace: String,
        job_id: String,
    ) -> Result<JobScaleStatusResponse, ClusterError> {
        self.scale_status(&namespace, &job_id)
    }

    async fn alloc_stop(&self, req: AllocStopRequest) -> Result<AllocStopResponse, ClusterError> {
        let snap = self.reader.snapshot();
        let alloc = snap
            .alloc_by_id(&req.alloc_id)
            .ok_or_else(|| ClusterError::NotFound("alloc not found".into()))?;
        let job = snap
            .job_by_id(&alloc.namespace, &alloc.job_id)
            .ok_or_else(|| ClusterError::NotFound("job not found".into()))?;
        let eval = self.new_eval(&job, eval_trigger::ALLOC_STOP, job.priority(), now_nanos());
        let eval_id = eval.id.clone();
        let mut allocs = BTreeMap::new();
        allocs.insert(
            alloc.id.clone(),
            DesiredTransition {
                migrate: Some(true),
                no_shutdown_delay: req.no_shutdown_delay.then_some(true),
                ..DesiredTransition::default()
            },
        );
        let res = self.apply(Command::AllocUpdateDesiredTransition(
            nomad_state::command::AllocUpdateDesiredTransition {
                allocs,
                evals: vec![eval],
            },
        ))?;
        if self.auto_schedule {
            sched::process(self, &eval_id)?;
        }
        Ok(AllocStopResponse {
            eval_id,
            index: res.index,
        })
    }

    async fn node_update_drain(
        &self,
        req: NodeUpdateDrainRequest,
    ) -> Result<NodeDrainUpdateResponse, ClusterError> {
        let now = now_nanos();
        let strategy = req.drain_spec.map(|spec| DrainStrategy {
            deadline: spec.deadline,
            ignore_system_jobs: spec.ignore_system_jobs,
            force_deadline: if spec.deadline.0 > 0 {
                GoTime::from_unix_nanos(now + spec.deadline.0)
            } else {
                GoTime::zero()
            },
            started_at: GoTime::from_unix_nanos(now),
        });
        let res = self.apply(Command::NodeUpdateDrain(NodeUpdateDrain {
            node_id: req.node_id,
            drain_strategy: strategy,
            mark_eligible: req.mark_eligible,
            updated_at: now / 1_000_000_000,
            meta: req.meta,
            ..NodeUpdateDrain::default()
        }))?;
        Ok(NodeDrainUpdateResponse {
            node_modify_index: res.index,
            index: res.index,
            ..NodeDrainUpdateResponse::default()
        })
    }

    async fn node_update_eligibility(
        &self,
        req: NodeUpdateEligibilityRequest,
    ) -> Result<NodeEligibilityUpdateResponse, ClusterError> {
        let draining = self
            .reader
            .snapshot()
            .node_by_id(&req.node_id)
            .is_some_and(|n| n.drain_strategy.is_some());
        if draining && req.eligibility == nomad_types::consts::node_eligibility::ELIGIBLE {
            return Err(ClusterError::BadRequest(
                "can not set node's scheduling eligibility to eligible while it is draining".into(),
            ));
        }
        let res = self.apply(Command::NodeUpdateEligibility(NodeUpdateEligibility {
            node_id: req.node_id,
            eligibility: req.eligibility,
            updated_at: now_nanos() / 1_000_000_000,
            node_event: None,
        }))?;
        Ok(NodeEligibilityUpdateResponse {
            node_modify_index: res.index,
            index: res.index,
            ..NodeEligibilityUpdateResponse::default()
        })
    }

    async fn node_evaluate(&self, node_id: String) -> Result<NodeUpdateResponse, ClusterError> {
        let node = self
            .reader
            .snapshot()
            .node_by_id(&node_id)
            .ok_or_else(|| ClusterError::NotFound(format!("node not found: {node_id}")))?;
        let (eval_ids, index) = self.node_evals(&node_id)?;
        Ok(NodeUpdateResponse {
            eval_ids,
            eval_create_index: index,
            node_modify_index: node.modify_index,
            index,
            ..NodeUpdateResponse::default()
        })
    }

    async fn node_purge(&self, node_id: String) -> Result<NodeUpdateResponse, ClusterError> {
        if self.reader.snapshot().node_by_id(&node_id).is_none() {
            return Err(ClusterError::NotFound(format!("node not found: {node_id}")));
        }
        let res = self.apply(Command::NodeDeregister(
            nomad_state::command::NodeDeregister {
                node_ids: vec![node_id.clone()],
            },
        ))?;
        let (eval_ids, index) = self.node_evals(&node_id)?;
        Ok(NodeUpdateResponse {
            eval_ids,
            eval_create_index: index,
            node_modify_index: res.index,
            index: index.max(res.index),
            ..NodeUpdateResponse::default()
        })
    }

    async fn deployment_alloc_health(
        &self,
        req: DeploymentAllocHealthRequest,
    ) -> Result<DeploymentUpdateResponse, ClusterError> {
        let d = self.active_deployment(&req.deployment_id, "set health of allocations for")?;
        if req.healthy_allocation_ids.is_empty() && req.unhealthy_allocation_ids.is_empty() {
            return Err(ClusterError::BadRequest(
                "must specify at least one healthy/unhealthy allocation ID".into(),
            ));
        }
        let eval = self.deployment_eval(&d);
        let eval_id = eval.as_ref().map(|e| e.id.clone()).unwrap_or_default();
        let res = self.apply(Command::DeploymentAllocHealth(
            nomad_state::command::DeploymentAllocHealth {
                deployment_id: req.deployment_id,
                healthy_allocation_ids: req.healthy_allocation_ids,
                unhealthy_allocation_ids: req.unhealthy_allocation_ids,
                timestamp: now_nanos(),
                eval,
                ..Default::default()
            },
        ))?;
        self.run_eval(&eval_id)?;
        Ok(DeploymentUpdateResponse {
            eval_create_index: if eval_id.is_empty() { 0 } else { res.index },
            eval_id,
            deployment_modify_index: res.index,
            index: res.index,
            ..DeploymentUpdateResponse::default()
        })
    }

    async fn deployment_promote(
        &self,
        req: DeploymentPromoteRequest,
    ) -> Result<DeploymentUpdateResponse, ClusterError> {
        let d = self.active_deployment(&req.deployment_id, "promote")?;
        let eval = self.deployment_eval(&d);
        let eval_id = eval.as_ref().map(|e| e.id.clone()).unwrap_or_default();
        let res = self.apply(Command::DeploymentPromotion(DeploymentPromotion {
            deployment_id: req.deployment_id,
            all: req.all,
            groups: req.groups,
            promoted_at: now_nanos(),
            eval,
        }))?;
        self.run_eval(&eval_id)?;
        Ok(DeploymentUpdateResponse {
            eval_create_index: if eval_id.is_empty() { 0 } else { res.index },
            eval_id,
            deployment_modify_index: res.index,
            index: res.index,
            ..DeploymentUpdateResponse::default()
        })
    }

    async fn deployment_fail(
        &self,
        deployment_id: String,
    ) -> Result<DeploymentUpdateResponse, ClusterError> {
        let d = self.active_deployment(&deployment_id, "fail")?;
        self.fail_deployment(&d, deployment_description::FAILED_BY_USER)
    }

    async fn deployment_pause(
        &self,
        req: DeploymentPauseRequest,
    ) -> Result<DeploymentUpdateResponse, ClusterError> {
        let verb = if req.pause { "pause" } else { "resume" };
        let d = self.active_deployment(&req.deployment_id, verb)?;
        let (status, desc) = if req.pause {
            (deployment_status::PAUSED, deployment_description::PAUSED)
        } else if d.requires_promotion() {
            (
                deployment_status::RUNNING,
                deployment_description::RUNNING_NEEDS_PROMOTION,
            )
        } else {
            (deployment_status::RUNNING, deployment_description::RUNNING)
        };
        let eval = if req.pause {
            None
        } else {
            self.deployment_eval(&d)
        };
        self.deployment_update(&req.deployment_id, status, desc, eval)
    }

    async fn system_gc(&self) -> Result<(), ClusterError> {
        Ok(())
    }

    async fn agent_self(&self) -> Result<AgentSelf, ClusterError> {
        let member = self
            .members()
            .await?
            .members
            .into_iter()
            .next()
            .unwrap_or_default();
        let snap = self.reader.snapshot();
        let mut stats: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        let kv = |pairs: &[(&str, String)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect()
        };
        stats.insert(
            "nomad".into(),
            kv(&[
                ("server", "true".into()),
                ("leader", "true".into()),
                ("leader_addr", "127.0.0.1:4647".into()),
                ("bootstrap", "true".into()),
                ("known_regions", "1".into()),
            ]),
        );
        stats.insert(
            "raft".into(),
            kv(&[
                ("applied_index", snap.applied_index().to_string()),
                ("commit_index", snap.applied_index().to_string()),
                ("state", "Leader".into()),
                (
                    "num_peers",
                    self.servers()
                        .list
                        .iter()
                        .filter(|s| s.in_raft && !s.leader)
                        .count()
                        .to_string(),
                ),
            ]),
        );
        stats.insert(
            "runtime".into(),
            kv(&[
                ("arch", std::env::consts::ARCH.into()),
                ("version", "rust".into()),
            ]),
        );
        Ok(AgentSelf {
            config: serde_json::json!({
                "Region": self.region,
                "Datacenter": self.datacenter,
                "NodeName": self.node_name,
                "Version": {"Version": VERSION},
                "Server": {"Enabled": true},
                "Client": {"Enabled": false},
            }),
            member,
            stats,
        })
    }

    async fn members(&self) -> Result<ServerMembers, ClusterError> {
        Ok(ServerMembers {
            server_name: self.node_name.clone(),
            server_region: self.region.clone(),
            server_dc: self.datacenter.clone(),
            members: self.servers().members(&self.region, &self.datacenter),
        })
    }

    async fn agent_servers(&self) -> Result<Vec<String>, ClusterError> {
        Ok(vec!["127.0.0.1:4647".into()])
    }

    async fn agent_health(&self) -> Result<AgentHealthResponse, ClusterError> {
        Ok(AgentHealthResponse {
            client: None,
            server: Some(AgentHealth {
                ok: true,
                message: "ok".into(),
            }),
        })
    }

    async fn leader(&self) -> Result<String, ClusterError> {
        Ok("127.0.0.1:4647".into())
    }

    async fn peers(&self) -> Result<Vec<String>, ClusterError> {
        Ok(self
            .servers()
            .raft_servers()
            .into_iter()
            .map(|s| s.address)
            .collect())
    }

    async fn raft_configuration(&self) -> Result<RaftConfiguration, ClusterError> {
        Ok(RaftConfiguration {
            servers: self.servers().raft_servers(),
            index: self.reader.snapshot().applied_index(),
        })
    }

    async fn agent_join(&self, addresses: Vec<String>) -> Result<usize, ClusterError> {
        let region = self.region.clone();
        self.servers().join(&addresses, &region, || self.new_id())
    }

    async fn agent_force_leave(&self, node: String) -> Result<(), ClusterError> {
        self.servers().force_leave(&node, &self.region);
        Ok(())
    }

    async fn raft_remove_peer(
        &self,
        id: Option<String>,
        address: Option<String>,
    ) -> Result<(), ClusterError> {
        if id.is_some() && address.is_some() {
            return Err(ClusterError::BadRequest(
                "Must specify only one of ?id or ?address".into(),
            ));
        }
        self.servers()
            .remove_peer(id.as_deref(), address.as_deref())
    }

    async fn snapshot_save(&self) -> Result<(u64, Vec<u8>), ClusterError> {
        let store = self.lock();
        let mut image = Vec::new();
        store
            .write_snapshot(&mut image)
            .map_err(|e| ClusterError::Internal(format!("encoding the snapshot: {e}")))?;
        Ok((store.applied_index(), image))
    }

    async fn snapshot_restore(&self, image: Vec<u8>) -> Result<(), ClusterError> {
        self.lock()
            .restore_from(image.as_slice())
            .map_err(|e| ClusterError::BadRequest(format!("restoring the snapshot: {e}")))
    }

    async fn alloc_logs(&self, req: LogsRequest) -> Result<ByteStream, ClusterError> {
        let data = {
            let logs = self.logs.lock().unwrap_or_else(|e| e.into_inner());
            logs.get(&(req.alloc_id.clone(), req.task.clone(), req.log_type.clone()))
                .cloned()
                .unwrap_or_default()
        };
        let data = data[start_of(data.len(), req.offset, &req.origin)..].to_vec();
        let once = futures_util::stream::iter(vec![Ok(data)]);
        if req.follow {
            Ok(once.chain(futures_util::stream::pending()).boxed())
        } else {
            Ok(once.boxed())
        }
    }

    async fn alloc_fs_list(
        &self,
        _alloc_id: String,
        path: String,
    ) -> Result<Vec<AllocFileInfo>, ClusterError> {
        if path.trim_matches('/') != "alloc/logs" {
            return Ok(vec![AllocFileInfo {
                name: "alloc".into(),
                is_dir: true,
                file_mode: "drwxrwxrwx".into(),
                mod_time: GoTime::from_unix_nanos(now_nanos()).0,
                ..AllocFileInfo::default()
            }]);
        }
        Ok(Vec::new())
    }

    /// The log files [`InMemoryCluster::set_log`] wrote
    /// (`alloc/logs/<task>.<type>.0`), in 3-byte chunks.
    async fn alloc_fs_cat(
        &self,
        alloc_id: String,
        path: String,
    ) -> Result<ByteStream, ClusterError> {
        let data = self.log_file(&alloc_id, &path)?;
        let chunks: Vec<Result<Vec<u8>, ClusterError>> =
            data.chunks(3).map(|c| Ok(c.to_vec())).collect();
        Ok(futures_util::stream::iter(chunks).boxed())
    }

    /// A log file as `alloc_fs_cat` reads it, from the position asked, in
    /// 3-byte frames; when following, the stream then stays open.
    async fn alloc_fs_stream(&self, req: FsStreamRequest) -> Result<FrameStream, ClusterError> {
        let data = self.log_file(&req.alloc_id, &req.path)?;
        let start = start_of(data.len(), req.offset, &req.origin);
        let frames: Vec<Result<FileFrame, ClusterError>> = data[start..]
            .chunks(3)
            .scan(start, |at, c| {
                *at += c.len();
                Some(Ok(FileFrame {
                    offset: *at as i64,
                    data: c.to_vec(),
                    file_event: String::new(),
                }))
            })
            .collect();
        let frames = futures_util::stream::iter(frames);
        if req.follow {
            Ok(frames.chain(futures_util::stream::pending()).boxed())
        } else {
            Ok(frames.boxed())
        }
    }

    async fn alloc_fs_stat(
        &self,
        _alloc_id: String,
        path: String,
    ) -> Result<AllocFileInfo, ClusterError> {
        Ok(AllocFileInfo {
            name: path.rsplit('/').next().unwrap_or_default().to_string(),
            is_dir: true,
            file_mode: "drwxrwxrwx".into(),
            mod_time: GoTime::from_unix_nanos(now_nanos()).0,
            ..AllocFileInfo::default()
        })
    }
}
