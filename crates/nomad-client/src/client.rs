//! The client agent: node identity and fingerprints, registration and
//! heartbeats, the blocking watch of the node's allocations, one
//! allocation runner per allocation, batched status updates to the
//! servers, garbage collection of terminal allocations, and recovery of a
//! previous agent's allocations from the local state.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use nomad_driver::Driver;
use nomad_types::consts::node_status;
use nomad_types::{Allocation, Node};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::allocdir::AllocDir;
use crate::allocrunner::{self, AllocHandle};
use crate::config::ClientConfig;
use crate::drivers::DriverSet;
use crate::error::{ClientError, Context};
use crate::fingerprint;
use crate::server::{AllocUpdate, ServerApi, ServerError};
use crate::shared::{lock, AllocShared, Dirty};
use crate::state::{AllocRecord, NodeIdentity, StateStore};

mod ops;
mod repoll;
pub use ops::ClientOps;

/// Retry backoff bounds for calls to the servers.
const RETRY_MIN: Duration = Duration::from_millis(200);
/// Nomad retries registration every 15s at most.
const RETRY_MAX: Duration = Duration::from_secs(15);

/// A client agent. Dropping it (or [`Client::shutdown`]) stops the agent
/// but leaves tasks running, for the next agent on the same data dir to
/// re-attach to.
pub struct Client {
    inner: Arc<Inner>,
    loops: Vec<JoinHandle<()>>,
}

enum Entry {
    /// Runs (or ran) here.
    Running(AllocHandle),
    /// Terminal and kept on disk until collected.
    Terminal(Box<AllocRecord>),
    /// Known from the servers but not run (already stopped when seen).
    Ignored(u64),
}

struct Inner {
    config: Arc<ClientConfig>,
    server: Arc<dyn ServerApi>,
    drivers: DriverSet,
    store: StateStore,
    identity: NodeIdentity,
    node: RwLock<Arc<Node>>,
    allocs: Mutex<BTreeMap<String, Entry>>,
    dirty: Arc<Dirty>,
    /// True while the servers know this node.
    registered: watch::Sender<bool>,
    /// Asks the heartbeat loop to heartbeat now: a server answered that it
    /// does not know the node, and only the heartbeat (forwarded to the
    /// leader) can tell a lagging follower from a node really forgotten.
    check_node: Notify,
    gc_now: Notify,
    http: reqwest::Client,
    /// Host usage samples for `/v1/client/stats`.
    host_stats: crate::hoststats::HostStatsCollector,
}

impl Client {
    /// Starts a client with the built-in drivers named in the config.
    pub async fn start(
        config: ClientConfig,
        server: Arc<dyn ServerApi>,
    ) -> Result<Client, ClientError> {
        Self::start_with_drivers(config, server, Vec::new()).await
    }

    /// Starts a client with the built-in drivers plus `extra` (which
    /// replace built-ins of the same name).
    pub async fn start_with_drivers(
        config: ClientConfig,
        server: Arc<dyn ServerApi>,
        extra: Vec<Arc<dyn Driver>>,
    ) -> Result<Client, ClientError> {
        config.validate()?;
        let alloc_dir = config.alloc_dir();
        std::fs::create_dir_all(&alloc_dir)
            .ctx(|| format!("creating alloc dir {}", alloc_dir.display()))?;
        let store = StateStore::open(config.state_dir())?;
        let identity = store.node_identity()?;
        let mut drivers = DriverSet::builtin(&config.drivers, &config.state_dir().join("drivers"))?;
        for d in extra {
            drivers.insert(d);
        }
        let node = build_node(&config, &identity, &drivers).await;
        tracing::info!(node_id = %node.id, name = %node.name, drivers = ?drivers, "client starting");
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| ClientError::Config(format!("http client: {e}")))?;
        let (registered, _) = watch::channel(false);
        let total_mhz = node
            .node_resources
            .as_ref()
            .map(|r| r.cpu.cpu_shares as f64)
            .unwrap_or(0.0);
        let inner = Arc::new(Inner {
            host_stats: crate::hoststats::HostStatsCollector::new(total_mhz),
            config: Arc::new(config),
            server,
            drivers,
            store,
            identity,
            node: RwLock::new(Arc::new(node)),
            allocs: Mutex::new(BTreeMap::new()),
            dirty: Arc::new(Dirty::default()),
            registered,
            check_node: Notify::new(),
            gc_now: Notify::new(),
            http,
        });
        inner.restore()?;
        let span = tracing::info_span!("client", node_id = %inner.identity.id);
        let loops = vec![
            tokio::spawn(inner.clone().register_loop().instrument(span.clone())),
            tokio::spawn(inner.clone().watch_loop().instrument(span.clone())),
            tokio::spawn(inner.clone().sync_loop().instrument(span.clone())),
            tokio::spawn(repoll::driver_loop(inner.clone()).instrument(span.clone())),
            tokio::spawn(inner.clone().gc_loop().instrument(span)),
        ];
        Ok(Client { inner, loops })
    }

    /// The node as registered.
    pub fn node(&self) -> Node {
        (**self.inner.node.read().unwrap_or_else(|p| p.into_inner())).clone()
    }

    /// The node's id.
    pub fn node_id(&self) -> &str {
        &self.inner.identity.id
    }

    /// Ids of the allocations the client knows (running or kept).
    pub fn alloc_ids(&self) -> Vec<String> {
        lock(&self.inner.allocs)
            .iter()
            .filter(|(_, e)| !matches!(e, Entry::Ignored(_)))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// An allocation with the client's view of it: client status and task
    /// states (what `/v1/client/allocation/:id` serves).
    pub fn alloc(&self, id: &str) -> Option<Allocation> {
        let rec = match lock(&self.inner.allocs).get(id)? {
            Entry::Running(h) => h.shared.snapshot(),
            Entry::Terminal(r) => (**r).clone(),
            Entry::Ignored(_) => return None,
        };
        Some(record_to_alloc(rec))
    }

    /// The directory of a known allocation.
    pub fn alloc_dir(&self, id: &str) -> Result<AllocDir, ClientError> {
        if self.alloc(id).is_none() {
            return Err(ClientError::UnknownAlloc(id.to_string()));
        }
        Ok(AllocDir::new(&self.inner.config.alloc_dir(), id))
    }

    /// The driver handle id of a running task (tests, `alloc exec`).
    pub fn task_handle(&self, alloc_id: &str, task: &str) -> Option<nomad_driver::TaskHandle> {
        match lock(&self.inner.allocs).get(alloc_id)? {
            Entry::Running(h) => h.shared.task_record(task).handle,
            _ => None,
        }
    }

    /// The driver called `name`.
    pub fn driver(&self, name: &str) -> Option<Arc<dyn Driver>> {
        self.inner.drivers.get(name)
    }

    /// Stops the agent, leaving tasks running (like dropping it).
    pub async fn shutdown(mut self) {
        self.stop_loops();
        tokio::task::yield_now().await;
    }

    fn stop_loops(&mut self) {
        for l in self.loops.drain(..) {
            l.abort();
        }
        for e in lock(&self.inner.allocs).values() {
            if let Entry::Running(h) = e {
                h.abandon();
            }
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.stop_loops();
    }
}

/// The allocation of a record with the client's status filled in.
pub fn record_to_alloc(rec: AllocRecord) -> Allocation {
    let mut a = rec.alloc;
    a.client_status = rec.client_status;
    a.client_description = rec.client_description;
    a.task_states = rec.tasks.into_iter().map(|(k, v)| (k, v.state)).collect();
    a
}

async fn build_node(config: &ClientConfig, id: &NodeIdentity, drivers: &DriverSet) -> Node {
    let host = fingerprint::fingerprint_host(config);
    let (infos, driver_attrs) = drivers.fingerprint().await;
    let mut attributes = host.attributes;
    attributes.extend(driver_attrs);
    let name = if config.name.is_empty() {
        attributes
            .get("unique.hostname")
            .cloned()
            .unwrap_or_else(|| id.id.clone())
    } else {
        config.name.clone()
    };
    let mut node = Node {
        id: id.id.clone(),
        secret_id: id.secret_id.clone(),
        datacenter: config.datacenter.clone(),
        name,
        attributes,
        node_resources: Some(host.resources),
        reserved_resources: Some(host.reserved),
        meta: config.meta.clone(),
        node_class: config.node_class.clone(),
        node_pool: config.node_pool.clone(),
        drivers: infos,
        host_volumes: config.host_volumes.clone(),
        http_addr: config.http_addr.clone(),
        status: node_status::INIT.into(),
        ..Node::default()
    };
    node.canonicalize();
    node.computed_class = node.compute_class();
    node
}

fn backoff(attempt: u32) -> Duration {
    let base = RETRY_MIN.saturating_mul(1u32 << attempt.min(7));
    let d = base.min(RETRY_MAX);
    d + Duration::from_millis(fastrand::u64(0..=d.as_millis() as u64 / 4))
}

impl Inner {
    fn shared_for(&self, rec: AllocRecord) -> Arc<AllocShared> {
        let (changed, _) = watch::channel(0);
        let id = rec.alloc.id.clone();
        Arc::new(AllocShared {
            dir: AllocDir::new(&self.config.alloc_dir(), &id),
            id,
            record: Mutex::new(rec),
            store: self.store.clone(),
            version: Default::default(),
            written: Default::default(),
            changed,
            node: self.node.read().unwrap_or_else(|p| p.into_inner()).clone(),
            config: self.config.clone(),
            dirty: self.dirty.clone(),
            http: self.http.clone(),
            restarts: watch::channel(BTreeMap::new()).0,
        })
    }

    /// Loads the previous agent's allocations: terminal ones are kept for
    /// GC, others get a runner that re-attaches to their tasks.
    fn restore(self: &Arc<Self>) -> Result<(), ClientError> {
        let (recs, bad) = self.store.load_allocs()?;
        for b in bad {
            tracing::warn!(record = %b, "skipping unreadable allocation state");
        }
        let mut allocs = lock(&self.allocs);
        for rec in recs {
            let id = rec.alloc.id.clone();
            if rec.terminal_at != 0 {
                allocs.insert(id, Entry::Terminal(Box::new(rec)));
                continue;
            }
            tracing::info!(alloc_id = %id, "restoring allocation");
            let h = allocrunner::spawn(self.shared_for(rec), &self.drivers);
            self.watch_done(&id, &h);
            allocs.insert(id, Entry::Running(h));
        }
        Ok(())
    }

    fn watch_done(self: &Arc<Self>, id: &str, h: &AllocHandle) {
        let mut done = h.done.clone();
        let me = Arc::downgrade(self);
        let id = id.to_string();
        tokio::spawn(async move {
            if done.wait_for(|d| *d).await.is_err() {
                return;
            }
            if let Some(me) = me.upgrade() {
                tracing::debug!(alloc_id = %id, "allocation terminal");
                me.gc_now.notify_one();
            }
        });
    }

    async fn register(&self) {
        let mut attempt = 0;
        loop {
            let node = self.node.read().unwrap_or_else(|p| p.into_inner()).clone();
            match self.server.register(&node).await {
                Ok(resp) => {
                    tracing::info!(ttl = ?resp.heartbeat_ttl, "node registered");
                    self.registered.send_replace(true);
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "registering node");
                    tokio::time::sleep(backoff(attempt)).await;
                    attempt += 1;
                }
            }
        }
    }

    async fn register_loop(self: Arc<Self>) {
        self.register().await;
        let mut ttl = Duration::from_secs(10);
        let mut attempt = 0;
        loop {
            let node = self.node.read().unwrap_or_else(|p| p.into_inner()).clone();
            match self
                .server
                .heartbeat(&node.id, &node.secret_id, node_status::READY)
                .await
            {
                Ok(r) => {
                    attempt = 0;
                    if !r.heartbeat_ttl.is_zero() {
                        ttl = r.heartbeat_ttl;
                    }
                }
                Err(ServerError::NodeUnknown(_)) => {
                    tracing::warn!("servers do not know this node; registering again");
                    self.registered.send_replace(false);
                    self.register().await;
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "heartbeat failed");
                    tokio::time::sleep(backoff(attempt).min(ttl / 3)).await;
                    attempt += 1;
                    continue;
                }
            }
            // Half the TTL, minus up to 10 % jitter so clients spread out.
            let half = ttl / 2;
            let jitter = Duration::from_millis(fastrand::u64(0..=half.as_millis() as u64 / 5));
            tokio::select! {
                _ = tokio::time::sleep(half.saturating_sub(jitter)) => {}
                _ = self.check_node.notified() => {}
            }
        }
    }

    async fn wait_registered(&self) {
        let mut rx = self.registered.subscribe();
        let _ = rx.wait_for(|r| *r).await;
    }

    async fn watch_loop(self: Arc<Self>) {
        let mut index = 0u64;
        let mut attempt = 0;
        loop {
            self.wait_registered().await;
            let (id, secret) = (self.identity.id.clone(), self.identity.secret_id.clone());
            let res = self
                .server
                .watch_allocs(&id, &secret, index, self.config.alloc_watch_wait)
                .await;
            match res {
                Ok(w) => {
                    attempt = 0;
                    if w.index < index {
                        tracing::warn!(
                            old = index,
                            new = w.index,
                            "alloc index went backwards; resyncing"
                        );
                    }
                    if w.index == index && index != 0 {
                        continue;
                    }
                    index = w.index;
                    if let Err(e) = self.sync_allocs(w.allocs).await {
                        tracing::warn!(error = %e, "fetching allocations");
                        index = 0;
                        tokio::time::sleep(backoff(attempt)).await;
                        attempt += 1;
                    }
                }
                Err(ServerError::NodeUnknown(_)) => {
                    // The server asked may be a follower that has not yet
                    // applied the registration. Retry, and let the
                    // heartbeat loop find out whether the node must
                    // register again (this loop must not wait for a
                    // registration that nobody else would start).
                    tracing::debug!("server does not know the node yet; retrying the watch");
                    self.check_node.notify_one();
                    tokio::time::sleep(backoff(attempt)).await;
                    attempt += 1;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "watching allocations");
                    tokio::time::sleep(backoff(attempt)).await;
                    attempt += 1;
                }
            }
        }
    }

    /// Applies the servers' list of the node's allocations.
    async fn sync_allocs(
        self: &Arc<Self>,
        listed: BTreeMap<String, u64>,
    ) -> Result<(), ClientError> {
        let (pull, removed) = {
            let allocs = lock(&self.allocs);
            let mut pull = Vec::new();
            for (id, idx) in &listed {
                let known = match allocs.get(id) {
                    None => None,
                    Some(Entry::Running(h)) => Some(h.update.borrow().alloc_modify_index),
                    Some(Entry::Terminal(r)) => Some(r.alloc.alloc_modify_index),
                    Some(Entry::Ignored(i)) => Some(*i),
                };
                if known.is_none_or(|k| k < *idx) {
                    pull.push(id.clone());
                }
            }
            let removed: Vec<String> = allocs
                .keys()
                .filter(|k| !listed.contains_key(*k))
                .cloned()
                .collect();
            (pull, removed)
        };
        for id in removed {
            self.remove_alloc(&id).await;
        }
        if pull.is_empty() {
            return Ok(());
        }
        let fetched = self
            .server
            .get_allocs(&self.identity.secret_id, &pull)
            .await?;
        for a in fetched {
            self.add_or_update(a);
        }
        Ok(())
    }

    fn add_or_update(self: &Arc<Self>, a: Allocation) {
        // The servers marked the allocation `unknown` while this client was
        // out of reach: report what it really is, so that the servers can
        // reconcile it with any replacement (Nomad's reconnect).
        let reconnect = a.client_status == nomad_types::consts::alloc_client_status::UNKNOWN;
        let mut allocs = lock(&self.allocs);
        match allocs.get_mut(&a.id) {
            Some(Entry::Running(h)) => {
                if reconnect {
                    tracing::info!(alloc_id = %a.id, "reconnected: reporting the allocation's state");
                    self.dirty.mark(&a.id);
                }
                h.update.send_replace(Arc::new(a));
            }
            Some(Entry::Terminal(r)) => {
                if reconnect {
                    self.dirty.mark(&a.id);
                }
                r.alloc = a;
            }
            Some(Entry::Ignored(i)) => *i = a.alloc_modify_index,
            None if a.server_terminal_status() || a.client_terminal_status() => {
                tracing::debug!(alloc_id = %a.id, "ignoring allocation stopped before it ran here");
                allocs.insert(a.id.clone(), Entry::Ignored(a.alloc_modify_index));
            }
            None => {
                if a.task_group_spec().is_none() {
                    tracing::warn!(alloc_id = %a.id, "allocation without its job or group; ignored");
                    allocs.insert(a.id.clone(), Entry::Ignored(a.alloc_modify_index));
                    return;
                }
                tracing::info!(alloc_id = %a.id, name = %a.name, "starting allocation");
                let id = a.id.clone();
                let rec = AllocRecord {
                    alloc: a,
                    client_status: nomad_types::consts::alloc_client_status::PENDING.into(),
                    ..AllocRecord::default()
                };
                let h = allocrunner::spawn(self.shared_for(rec), &self.drivers);
                self.watch_done(&id, &h);
                allocs.insert(id, Entry::Running(h));
            }
        }
    }

    /// Destroys an allocation: kills its tasks, removes its directory and
    /// its state.
    async fn remove_alloc(&self, id: &str) {
        let entry = lock(&self.allocs).remove(id);
        if let Some(Entry::Running(h)) = entry {
            h.destroy.send_replace(true);
            let mut done = h.done.clone();
            let _ = done.wait_for(|d| *d).await;
        }
        let dir = AllocDir::new(&self.config.alloc_dir(), id);
        if let Err(e) = dir.destroy() {
            tracing::warn!(alloc_id = %id, error = %e, "removing allocation directory");
        }
        if let Err(e) = self.store.delete_alloc(id) {
            tracing::warn!(alloc_id = %id, error = %e, "removing allocation state");
        }
        tracing::info!(alloc_id = %id, "allocation destroyed");
    }

    async fn sync_loop(self: Arc<Self>) {
        let mut attempt = 0;
        // Updates are batched: one batch in flight at a time, batches at
        // least `update_interval` apart, and a change after a quiet
        // interval waits `BURST_GAP` for the changes that follow it (the
        // tasks of a group start together). The servers merge the reports
        // of all clients into shared Raft entries, so a short interval
        // costs them little; Nomad's clients wait 200 ms.
        const BURST_GAP: Duration = Duration::from_millis(1);
        let mut last_sent: Option<std::time::Instant> = None;
        loop {
            self.dirty.notify.notified().await;
            match last_sent {
                Some(t) if t.elapsed() + BURST_GAP < self.config.update_interval => {
                    tokio::time::sleep_until((t + self.config.update_interval).into()).await;
                }
                _ => tokio::time::sleep(BURST_GAP.min(self.config.update_interval)).await,
            }
            last_sent = Some(std::time::Instant::now());
            self.wait_registered().await;
            let ids = self.dirty.take();
            if ids.is_empty() {
                continue;
            }
            let updates: Vec<AllocUpdate> = {
                let allocs = lock(&self.allocs);
                ids.iter()
                    .filter_map(|id| {
                        let rec = match allocs.get(id)? {
                            Entry::Running(h) => h.shared.snapshot(),
                            Entry::Terminal(r) => (**r).clone(),
                            Entry::Ignored(_) => return None,
                        };
                        let deployment_status = crate::health::reported(&rec);
                        Some(AllocUpdate {
                            id: id.clone(),
                            client_status: rec.client_status,
                            client_description: rec.client_description,
                            task_states: rec.tasks.into_iter().map(|(k, v)| (k, v.state)).collect(),
                            deployment_status,
                            modify_time: nomad_driver::unix_nanos(std::time::SystemTime::now()),
                        })
                    })
                    .collect()
            };
            if updates.is_empty() {
                self.dirty.sent(&ids);
                continue;
            }
            let n = updates.len();
            let any_terminal = updates
                .iter()
                .any(|u| matches!(u.client_status.as_str(), "complete" | "failed" | "lost"));
            match self
                .server
                .update_allocs(&self.identity.secret_id, updates)
                .await
            {
                Ok(_) => {
                    self.dirty.sent(&ids);
                    if any_terminal {
                        // Now collectable.
                        self.gc_now.notify_one();
                    }
                    attempt = 0;
                    tracing::debug!(count = n, "sent allocation updates");
                }
                Err(e) => {
                    tracing::warn!(error = %e, "sending allocation updates");
                    for id in &ids {
                        self.dirty.mark(id);
                    }
                    self.dirty.sent(&ids);
                    tokio::time::sleep(backoff(attempt)).await;
                    attempt += 1;
                }
            }
        }
    }

    async fn gc_loop(self: Arc<Self>) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.config.gc.interval) => {}
                _ = self.gc_now.notified() => {}
            }
            self.collect().await;
        }
    }

    /// Destroys the oldest terminal allocations beyond `gc.max_allocs`.
    async fn collect(&self) {
        let victims: Vec<String> = {
            let mut allocs = lock(&self.allocs);
            // Runners that finished become plain terminal records.
            let finished: Vec<String> = allocs
                .iter()
                .filter(|(_, e)| matches!(e, Entry::Running(h) if *h.done.borrow()))
                .map(|(k, _)| k.clone())
                .collect();
            for id in finished {
                if let Some(Entry::Running(h)) = allocs.remove(&id) {
                    allocs.insert(id, Entry::Terminal(Box::new(h.shared.snapshot())));
                }
            }
            let mut terminal: Vec<(i64, String)> = allocs
                .iter()
                .filter_map(|(k, e)| match e {
                    Entry::Terminal(r) if !self.dirty.is_pending(k) => {
                        Some((r.terminal_at, k.clone()))
                    }
                    _ => None,
                })
                .collect();
            terminal.sort();
            let excess = terminal.len().saturating_sub(self.config.gc.max_allocs);
            terminal.into_iter().take(excess).map(|(_, k)| k).collect()
        };
        for id in victims {
            tracing::info!(alloc_id = %id, "garbage collecting terminal allocation");
            self.remove_alloc(&id).await;
        }
    }
}
