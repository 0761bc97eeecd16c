//! The server: Raft + state store, and the leader's subsystems.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use std::net::SocketAddr;

use nomad_raft::{BootstrapExpect, RaftAcceptor, RaftHandle, RaftNode, TcpOptions, TcpTransport};
use nomad_scheduler::plan::{Plan, PlanResult};
use nomad_state::command::EvalUpdate;
use nomad_state::{ApplyResult, Command, StateReader, StateStore, StoreConfig};
use nomad_types::consts::{alloc_client_status, eval_status, node_status};
use nomad_types::Evaluation;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::blocked::BlockedEvals;
use crate::broker::{EvalBroker, Outcome};
use crate::config::ServerConfig;
use crate::error::ServerError;
use crate::fsm::StoreMachine;
use crate::heartbeat::Heartbeats;
use crate::plan_apply;

pub(crate) struct PlanRequest {
    pub plan: Plan,
    /// The broker token of the plan's evaluation; empty skips the check.
    pub token: String,
    pub reply: oneshot::Sender<Result<PlanResult, ServerError>>,
}

pub(crate) struct Inner {
    pub config: ServerConfig,
    pub raft: RaftHandle,
    pub reader: StateReader,
    pub broker: EvalBroker,
    pub blocked: BlockedEvals,
    pub heartbeats: Heartbeats,
    pub plan_tx: mpsc::Sender<PlanRequest>,
    /// RPC address (Raft shares it), as announced.
    pub raft_addr: String,
    pub rpc_addr: SocketAddr,
    pub serf_addr: SocketAddr,
    pub members: crate::members::Members,
    /// The deployment watcher's memory between passes (leader only).
    pub deployment_watch: crate::deployments::WatchState,
    pub raft_acceptor: Option<RaftAcceptor>,
    /// Held by a garbage collection pass: passes never overlap.
    pub gc_lock: tokio::sync::Mutex<()>,
    /// Client allocation reports waiting to be merged into one entry.
    pub alloc_updates: crate::alloc_updates::UpdateBatcher,
    shutdown: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Tasks that run only while this server leads (periodic dispatcher,
    /// drainer); aborted when leadership is lost.
    leader_tasks: Mutex<Vec<JoinHandle<()>>>,
    raft_join: Mutex<Option<JoinHandle<nomad_raft::Result<()>>>>,
    _tmp: Option<tempfile::TempDir>,
    /// The client agent of the same process, answering `/v1/client/fs`.
    #[cfg(feature = "cluster-api")]
    pub client_fs: std::sync::OnceLock<Arc<dyn nomad_api::ClientFs>>,
}

/// A running server. Cheap to clone.
#[derive(Clone)]
pub struct Server {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("raft_addr", &self.inner.raft_addr)
            .finish()
    }
}

impl Server {
    /// Lets the HTTP API answer `/v1/client/fs` from the client agent that
    /// runs in the same process (`nomad agent -dev`). Set once; later calls
    /// are ignored.
    #[cfg(feature = "cluster-api")]
    pub fn attach_client_fs(&self, fs: Arc<dyn nomad_api::ClientFs>) {
        let _ = self.inner.client_fs.set(fs);
    }

    /// Opens Raft under the data directory (a temporary one in dev mode),
    /// bootstraps when `bootstrap_expect` is 1, and starts the leadership
    /// monitor, which runs the broker, workers, plan applier and heartbeat
    /// timers while this server leads. Must be called inside a tokio runtime.
    pub async fn start(config: ServerConfig) -> Result<Server, ServerError> {
        let (tmp, dir) = match &config.data_dir {
            Some(d) => (None, d.join("server").join("raft")),
            None => {
                let t = tempfile::Builder::new()
                    .prefix("nomad-server-")
                    .tempdir()
                    .map_err(|e| {
                        ServerError::Internal(format!("creating a temporary data dir: {e}"))
                    })?;
                let d = t.path().join("raft");
                (Some(t), d)
            }
        };
        std::fs::create_dir_all(&dir)
            .map_err(|e| ServerError::Internal(format!("creating {}: {e}", dir.display())))?;
        let mut store = StateStore::new(StoreConfig::default());
        if let Some(n) = config.event_buffer_size {
            store.set_event_buffer(n);
        }
        let reader = store.reader();
        let id = resolve_raft_id(&config, &dir)?;
        let bind = |addr: SocketAddr, what: &str| {
            let what = what.to_string();
            async move {
                tokio::net::TcpListener::bind(addr).await.map_err(|e| {
                    ServerError::Internal(format!("binding the {what} listener on {addr}: {e}"))
                })
            }
        };
        let rpc = bind(config.rpc_bind, "RPC").await?;
        let serf = bind(config.serf_bind, "serf").await?;
        let announce = |l: &tokio::net::TcpListener, fallback: SocketAddr| {
            let mut a = l.local_addr().unwrap_or(fallback);
            if a.ip().is_unspecified() {
                a.set_ip(
                    config
                        .advertise_ip
                        .unwrap_or(std::net::IpAddr::from([127, 0, 0, 1])),
                );
            }
            a
        };
        let rpc_addr = announce(&rpc, config.rpc_bind);
        let serf_addr = announce(&serf, config.serf_bind);
        let (transport, acceptor) = TcpTransport::unbound(
            id,
            &config.region,
            rpc_addr,
            TcpOptions {
                connect_prefix: Some(crate::rpc::RPC_RAFT),
                ..TcpOptions::default()
            },
        );
        let raft_addr = rpc_addr.to_string();
        let mut raft_cfg = nomad_raft::Config {
            cluster_id: config.region.clone(),
            ..nomad_raft::Config::new(id)
        };
        if let Some(n) = config.raft_snapshot_threshold {
            raft_cfg.snapshot_threshold = n;
        }
        if let Some(d) = config.raft_snapshot_interval {
            raft_cfg.snapshot_interval = d;
        }
        if let Some(n) = config.raft_trailing_logs {
            raft_cfg.trailing_logs = n;
        }
        let (evals_tx, evals_rx) = mpsc::unbounded_channel();
        let (raft, join) = RaftNode::start(
            raft_cfg,
            &dir,
            transport,
            StoreMachine {
                store,
                evals: evals_tx,
            },
        )
        .map_err(|e| ServerError::Internal(format!("starting raft in {}: {e}", dir.display())))?;
        tracing::debug!(dir = %dir.display(), raft_id = id, initialized = raft.status().initialized, "raft opened");
        if !raft.status().initialized && config.bootstrap_expect <= 1 {
            let mut expect = BootstrapExpect::new(1, id, raft_addr.clone());
            if let Some(voters) = expect.ready() {
                if let Err(e) = raft.bootstrap(voters).await {
                    tracing::warn!(error = %e, "raft bootstrap");
                }
                tracing::debug!("raft bootstrapped");
            }
        }
        let me = crate::members::MemberInfo {
            name: format!("{}.{}", config.node_name, config.region),
            region: config.region.clone(),
            datacenter: config.datacenter.clone(),
            raft_id: id,
            rpc_addr: rpc_addr.to_string(),
            serf_addr: serf_addr.to_string(),
            http_addr: String::new(),
            build: env!("CARGO_PKG_VERSION").to_string(),
            bootstrap_expect: config.bootstrap_expect.max(1),
            raft_initialized: raft.status().initialized,
        };
        let (plan_tx, plan_rx) = mpsc::channel(64);
        let (shutdown, _) = watch::channel(false);
        let inner = Arc::new(Inner {
            broker: EvalBroker::new(config.eval_nack_timeout, config.eval_delivery_limit),
            blocked: BlockedEvals::default(),
            heartbeats: Heartbeats::default(),
            config,
            raft,
            reader,
            plan_tx,
            raft_addr,
            rpc_addr,
            serf_addr,
            members: crate::members::Members::new(me),
            deployment_watch: Default::default(),
            raft_acceptor: Some(acceptor),
            gc_lock: tokio::sync::Mutex::new(()),
            alloc_updates: Default::default(),
            shutdown,
            tasks: Mutex::new(Vec::new()),
            leader_tasks: Mutex::new(Vec::new()),
            raft_join: Mutex::new(Some(join)),
            _tmp: tmp,
            #[cfg(feature = "cluster-api")]
            client_fs: std::sync::OnceLock::new(),
        });
        let server = Server { inner };
        server.serve_rpc(rpc);
        server.serve_rpc(serf);
        server.spawn(route_applied_evals(server.clone(), evals_rx));
        server.spawn(leader_loop(server.clone()));
        server.spawn(plan_apply::plan_applier(server.clone(), plan_rx));
        server.spawn(crate::members::membership_loop(server.clone()));
        for i in 0..server.inner.config.num_schedulers.max(1) {
            server.spawn(crate::worker::worker_loop(server.clone(), i));
        }
        tracing::info!(rpc_addr = %server.inner.rpc_addr, serf_addr = %server.inner.serf_addr, raft_id = id, "server started");
        Ok(server)
    }

    pub(crate) fn spawn_task(&self, fut: impl std::future::Future<Output = ()> + Send + 'static) {
        self.spawn(fut)
    }

    fn spawn(&self, fut: impl std::future::Future<Output = ()> + Send + 'static) {
        let h = tokio::spawn(fut);
        self.inner
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(h);
    }

    /// The state store's read side (snapshots and watches).
    pub fn state(&self) -> StateReader {
        self.inner.reader.clone()
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.inner.config
    }

    /// The Raft handle (status, leader).
    pub fn raft(&self) -> &RaftHandle {
        &self.inner.raft
    }

    /// The Raft address: the RPC address, which Raft shares.
    pub fn raft_addr(&self) -> &str {
        &self.inner.raft_addr
    }

    /// The RPC listener's address (as announced).
    pub fn rpc_addr(&self) -> SocketAddr {
        self.inner.rpc_addr
    }

    /// The serf listener's address (as announced).
    pub fn serf_addr(&self) -> SocketAddr {
        self.inner.serf_addr
    }

    /// Known servers with their status (`alive`, `failed`, `left`), this
    /// one first.
    pub fn server_members(
        &self,
    ) -> Vec<(crate::members::MemberInfo, crate::members::MemberStatus)> {
        self.inner.members.all()
    }

    /// The leader's RPC address when another server leads; `None` when this
    /// server leads. `NoLeader` when no leader is known.
    pub(crate) fn forward_target(&self) -> Result<Option<String>, ServerError> {
        if self.is_leader() {
            return Ok(None);
        }
        match self.inner.raft.leader_address() {
            Some(a) if a != self.inner.raft_addr => Ok(Some(a)),
            _ => Err(ServerError::NoLeader),
        }
    }

    /// The eval broker.
    pub fn broker(&self) -> &EvalBroker {
        &self.inner.broker
    }

    /// The blocked evaluations.
    pub fn blocked(&self) -> &BlockedEvals {
        &self.inner.blocked
    }

    /// Whether this server leads.
    pub fn is_leader(&self) -> bool {
        self.inner.raft.status().is_leader()
    }

    /// Waits until this server leads and its leader subsystems run.
    pub async fn wait_for_leadership(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < deadline {
            if self.is_leader() && self.inner.broker.enabled() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    /// `nomad operator snapshot save`: a consistent image of the whole
    /// state (after a read barrier) and the index it was taken at.
    pub async fn snapshot_save(&self) -> Result<(u64, Vec<u8>), ServerError> {
        let idx = self.inner.raft.read_index().await?;
        let _ =
            tokio::time::timeout(Duration::from_secs(5), self.inner.reader.wait_applied(idx)).await;
        let snap = self.inner.reader.snapshot();
        let mut out = Vec::new();
        snap.write_to(&mut out)
            .map_err(|e| ServerError::Internal(format!("encoding the state: {e}")))?;
        Ok((snap.applied_index(), out))
    }

    /// `nomad operator snapshot restore`: replaces the whole state with an
    /// image from [`snapshot_save`](Self::snapshot_save), through Raft, so
    /// every server restores it. A malformed image changes nothing.
    pub async fn snapshot_restore(&self, image: &[u8]) -> Result<u64, ServerError> {
        use base64::Engine as _;
        nomad_state::StateSnapshot::check_image(image)
            .map_err(|e| ServerError::BadRequest(format!("invalid snapshot: {e}")))?;
        let cmd = Command::Restore(nomad_state::command::StateRestore {
            image: base64::engine::general_purpose::STANDARD.encode(image),
        });
        // Work scheduled against the old state must not land in the new
        // one: the broker is reset first (outstanding tokens die) and
        // rebuilt from the restored state afterwards.
        let leading = self.inner.broker.enabled();
        if leading {
            self.revoke_leadership();
        }
        let r = self.propose(cmd).await;
        if leading && self.is_leader() {
            self.establish_leadership().await;
        }
        let r = r?;
        if let Some(e) = r.error {
            return Err(ServerError::BadRequest(format!("invalid snapshot: {e}")));
        }
        tracing::info!(
            index = r.index,
            bytes = image.len(),
            "state restored from a snapshot"
        );
        Ok(r.index)
    }

    /// Stops the subsystems and Raft.
    pub async fn shutdown(&self) {
        let _ = self.inner.shutdown.send(true);
        self.stop_leader_tasks();
        self.inner.broker.set_enabled(false);
        let tasks: Vec<_> =
            std::mem::take(&mut *self.inner.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        for t in &tasks {
            t.abort();
        }
        self.inner.raft.shutdown();
        let join = self
            .inner
            .raft_join
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(j) = join {
            let _ = tokio::time::timeout(Duration::from_secs(5), j).await;
        }
        tracing::info!("server stopped");
    }

    /// Proposes a log entry and waits for it to be applied. Evaluations it
    /// wrote reach the leader's broker through [`route_applied_evals`],
    /// whichever server proposed it.
    pub(crate) async fn propose(&self, cmd: Command) -> Result<ApplyResult, ServerError> {
        let kind = cmd.type_name();
        let data = cmd
            .try_encode()
            .ok_or_else(|| ServerError::Internal(format!("{kind}: cannot encode the entry")))?;
        let (index, bytes) = self.inner.raft.propose_decoded(data, Box::new(cmd)).await?;
        let result = ApplyResult::decode(&bytes)
            .map_err(|e| ServerError::Internal(format!("{kind} at {index}: {e}")))?;
        Ok(result)
    }

    async fn route_eval_ids(&self, ids: &[String]) {
        let snap = self.inner.reader.snapshot();
        for id in ids {
            if let Some(e) = snap.eval_by_id(id) {
                self.route_eval(Evaluation::clone(&e)).await;
            }
        }
    }

    pub(crate) fn route_eval<'a>(
        &'a self,
        eval: Evaluation,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            match eval.status.as_str() {
                eval_status::PENDING => self.inner.broker.enqueue(eval),
                eval_status::BLOCKED => {
                    let out = self.inner.blocked.block(eval);
                    if let Some(e) = out.unblock_now {
                        self.inner.broker.enqueue(e);
                    }
                    if let Some(old) = out.cancelled {
                        self.write_status(
                            vec![old],
                            eval_status::CANCELLED,
                            "canceled after more recent blocked eval",
                        )
                        .await;
                    }
                }
                eval_status::COMPLETE if eval.failed_tg_allocs.is_empty() => {
                    // Everything placed: the job's blocked evaluation is moot
                    // (the FSM has cancelled it).
                    self.inner.blocked.untrack(&eval.namespace, &eval.job_id);
                }
                _ => {
                    self.inner.blocked.untrack_eval(&eval);
                }
            }
        })
    }

    /// Writes evaluations with a new status.
    pub(crate) async fn write_status(&self, evals: Vec<Evaluation>, status: &str, desc: &str) {
        if evals.is_empty() {
            return;
        }
        let now = crate::now_nanos();
        let evals: Vec<Evaluation> = evals
            .into_iter()
            .map(|mut e| {
                e.status = status.to_string();
                e.status_description = desc.to_string();
                e.modify_time = now;
                e
            })
            .collect();
        if let Err(e) = self
            .propose(Command::EvalUpdate(EvalUpdate { evals }))
            .await
        {
            tracing::warn!(error = %e, status, "writing evaluation status");
        }
    }

    pub(crate) async fn handle_broker_outcome(&self, out: Outcome) {
        self.write_status(
            out.cancelled,
            eval_status::CANCELLED,
            "canceled after more recent eval was processed",
        )
        .await;
        for e in &out.failed {
            tracing::warn!(eval_id = %e.id, job_id = %e.job_id, "evaluation reached its delivery limit");
        }
        self.write_status(
            out.failed,
            eval_status::FAILED,
            "evaluation reached delivery limit (3)",
        )
        .await;
    }

    /// Capacity changed at `index` on these nodes: the blocked evaluations
    /// that could use their computed classes go back to the broker.
    pub(crate) fn unblock_nodes<'a>(
        &self,
        node_ids: impl IntoIterator<Item = &'a str>,
        index: u64,
    ) {
        let snap = self.inner.reader.snapshot();
        let classes: std::collections::BTreeSet<String> = node_ids
            .into_iter()
            .filter_map(|id| snap.node_by_id(id))
            .map(|n| n.computed_class.clone())
            .collect();
        if classes.is_empty() {
            return;
        }
        let evals = self
            .inner
            .blocked
            .unblock_classes(classes.iter().map(String::as_str), index);
        for e in evals {
            tracing::debug!(eval_id = %e.id, job_id = %e.job_id, index, "unblocking evaluation");
            self.inner.broker.enqueue(e);
        }
    }

    /// A node became usable at `index` (registered or turned ready or
    /// eligible): unblocks for its class when it is ready and eligible.
    pub(crate) fn unblock_if_schedulable(&self, node_id: &str, index: u64) {
        let usable = self
            .inner
            .reader
            .snapshot()
            .node_by_id(node_id)
            .is_some_and(|n| {
                n.status == node_status::READY
                    && n.scheduling_eligibility == nomad_types::consts::node_eligibility::ELIGIBLE
            });
        if usable {
            self.unblock_nodes([node_id], index);
        }
    }

    /// Gaining leadership: enable the broker and blocked set, restore
    /// evaluations from state, give every node the failover TTL.
    async fn establish_leadership(&self) {
        // A barrier: everything committed before this term is applied.
        if let Err(e) = self.propose(Command::Noop).await {
            tracing::warn!(error = %e, "leader barrier");
        }
        self.inner.broker.set_enabled(true);
        self.inner.blocked.set_enabled(true);
        self.all_deployments_changed();
        let snap = self.inner.reader.snapshot();
        let mut restored = 0;
        for e in snap.evals() {
            if e.status == eval_status::PENDING || e.status == eval_status::BLOCKED {
                self.route_eval(Evaluation::clone(e)).await;
                restored += 1;
            }
        }
        for n in snap.nodes() {
            if n.status != node_status::DOWN {
                self.inner
                    .heartbeats
                    .set(&n.id, self.inner.config.failover_heartbeat_ttl);
            }
        }
        self.start_leader_tasks();
        tracing::info!(restored_evals = restored, "cluster leadership acquired");
    }

    /// Starts the periodic dispatcher and the node drainer (after any
    /// previous ones are stopped).
    fn start_leader_tasks(&self) {
        self.stop_leader_tasks();
        let mut tasks = self
            .inner
            .leader_tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        tasks.push(tokio::spawn(crate::periodic::run_dispatcher(self.clone())));
        tasks.push(tokio::spawn(crate::drainer::run_drainer(self.clone())));
        tasks.push(tokio::spawn(crate::gc::run_collector(self.clone())));
    }

    fn stop_leader_tasks(&self) {
        let tasks = std::mem::take(
            &mut *self
                .inner
                .leader_tasks
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        for t in tasks {
            t.abort();
        }
    }

    fn revoke_leadership(&self) {
        self.stop_leader_tasks();
        self.inner.broker.set_enabled(false);
        self.inner.blocked.set_enabled(false);
        self.inner.heartbeats.clear_all();
        tracing::info!("cluster leadership lost");
    }

    /// A node missed its heartbeat deadline. It goes `disconnected` while
    /// one of its allocations may outlive a disconnect (a group with
    /// `disconnect.lost_after`, or the older `max_client_disconnect`) and
    /// its window is open, and is checked again when the last window
    /// closes; otherwise, or then, it goes `down`.
    async fn node_expired(&self, node_id: String) {
        let snap = self.inner.reader.snapshot();
        let status = match snap.node_by_id(&node_id) {
            Some(n) if n.status != node_status::DOWN => n.status.clone(),
            _ => return,
        };
        let now = crate::now_nanos();
        if let Some(open) = disconnect_window(&snap, &node_id, now) {
            if status != node_status::DISCONNECTED {
                tracing::warn!(node_id = %node_id, window = ?open, "node heartbeat missed; marking disconnected");
                if let Err(e) = self
                    .update_node_status_raw(
                        &node_id,
                        node_status::DISCONNECTED,
                        "Node heartbeat missed",
                    )
                    .await
                {
                    tracing::warn!(node_id = %node_id, error = %e, "marking node disconnected");
                }
            }
            self.inner.heartbeats.set(&node_id, open);
            return;
        }
        tracing::warn!(node_id = %node_id, "node heartbeat missed; marking down");
        if let Err(e) = self
            .update_node_status_raw(&node_id, node_status::DOWN, "Node heartbeat missed")
            .await
        {
            tracing::warn!(node_id = %node_id, error = %e, "marking node down");
        }
    }
}

/// How long the longest disconnect window among the node's live
/// allocations stays open from `now`; `None` when none is open.
fn disconnect_window(
    snap: &nomad_state::StateSnapshot,
    node_id: &str,
    now: i64,
) -> Option<Duration> {
    use nomad_reconcile::allocs::{group_of, last_unknown, lost_after};
    snap.allocs_by_node(node_id)
        .iter()
        .filter(|a| !a.terminal_status())
        .filter_map(|a| {
            let window = group_of(a).map(lost_after).filter(|w| *w > 0)?;
            let since = if a.client_status == alloc_client_status::UNKNOWN {
                last_unknown(a).unwrap_or(now)
            } else {
                now
            };
            let left = since.saturating_add(window).saturating_sub(now);
            (left > 0).then(|| Duration::from_nanos(left as u64))
        })
        .max()
}

/// Every server's FSM reports the evaluations each entry wrote; on the
/// leader they go to the broker or the blocked set (as Nomad's FSM does),
/// so an evaluation created through a follower is scheduled too.
/// After an operator's restore the leader rebuilds its broker and blocked
/// set from the new state.
async fn route_applied_evals(server: Server, mut rx: mpsc::UnboundedReceiver<crate::fsm::Applied>) {
    while let Some(a) = rx.recv().await {
        match a {
            crate::fsm::Applied::Evals(ids) => {
                if server.inner.broker.enabled() {
                    server.route_eval_ids(&ids).await;
                }
            }
            crate::fsm::Applied::Restored => {
                if server.inner.broker.enabled() {
                    tracing::info!("state restored from a snapshot; reloading leader state");
                    server.revoke_leadership();
                    server.establish_leadership().await;
                }
            }
        }
    }
}

/// The Raft id: the one the data directory was created with, else the
/// configured one, else a new random one (1 in dev mode).
fn resolve_raft_id(config: &ServerConfig, dir: &std::path::Path) -> Result<u64, ServerError> {
    let marker = dir.join(nomad_raft::MARKER_FILE);
    if let Ok(text) = std::fs::read_to_string(&marker) {
        let found = text
            .lines()
            .find_map(|l| l.strip_prefix("node_id="))
            .and_then(|v| v.trim().parse::<u64>().ok());
        return match found {
            Some(id) if config.raft_id == 0 || config.raft_id == id => Ok(id),
            Some(id) => Err(ServerError::Internal(format!(
                "{} belongs to raft id {id}, but raft id {} is configured",
                dir.display(),
                config.raft_id
            ))),
            None => Err(ServerError::Internal(format!(
                "{} has no node_id line; the data directory is damaged",
                marker.display()
            ))),
        };
    }
    if config.raft_id != 0 {
        return Ok(config.raft_id);
    }
    if config.data_dir.is_none() {
        return Ok(1);
    }
    // 63 random bits, never 0.
    let r = (uuid::Uuid::new_v4().as_u128() as u64) >> 1;
    Ok(r.max(1))
}

async fn leader_loop(server: Server) {
    let mut status = server.inner.raft.subscribe();
    let mut shutdown = server.inner.shutdown.subscribe();
    let mut leading = false;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        let is_leader = status.borrow().is_leader();
        if is_leader && !leading {
            leading = true;
            server.establish_leadership().await;
        } else if !is_leader && leading {
            leading = false;
            server.revoke_leadership();
        }
        tokio::select! {
            _ = shutdown.changed() => return,
            r = status.changed() => if r.is_err() { return },
            _ = tick.tick() => {
                if leading {
                    let out = server.inner.broker.tick();
                    server.handle_broker_outcome(out).await;
                    for node in server.inner.heartbeats.expired() {
                        server.node_expired(node).await;
                    }
                    // Each pass returns at once unless deployments,
                    // allocations or jobs changed or a deadline came due.
                    server.watch_deployments().await;
                }
            }
        }
    }
}
