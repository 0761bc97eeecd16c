//! The running node: a dedicated thread owns the [`Core`] and the transport, ticks the
//! logical clock, batches queued requests and messages into each Ready (one disk sync for the
//! batch), and publishes a [`RaftStatus`]. [`RaftHandle`] is the async, cloneable front.
//!
//! The loop runs on a blocking thread (`spawn_blocking`) rather than an async task because it
//! fsyncs on every Ready; doing that on a runtime worker would stall other tasks.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use raft::eraftpb::Message;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::core::{Core, Membership, Output, Reply, SnapshotWritten};
use crate::error::{RaftError, Result};
use crate::fsm::Decoded;
use crate::fsm::StateMachine;
use crate::status::RaftStatus;
use crate::storage::{LogStore, RocksStorage};
use crate::transport::{Inbox, Transport};

/// Inbound messages queued for the node before the transport starts dropping them.
const INBOX_CAP: usize = 65_536;

/// What the node thread receives.
pub(crate) enum Event {
    Raft(Message),
    Unreachable(u64),
    SnapshotStatus(u64, bool),
    /// A snapshot written in the background is ready to install.
    SnapshotWritten(SnapshotWritten),
    Cmd(Command),
}

pub(crate) enum Command {
    Propose(Vec<u8>, Option<Decoded>, Reply<(u64, Vec<u8>)>),
    ReadIndex(Reply<u64>),
    Membership(Membership, Reply<u64>),
    Bootstrap(Vec<(u64, String)>, Reply<()>),
    TransferLeader(u64, Reply<()>),
    Shutdown,
}

/// Starts Raft nodes.
pub struct RaftNode;

impl RaftNode {
    /// Opens (or creates) the RocksDB data directory and starts the node. Must be called
    /// inside a tokio runtime. An unusable data directory is an error and nothing starts.
    ///
    /// A node with a fresh data directory waits, uninitialised, until it is bootstrapped
    /// ([`RaftHandle::bootstrap`]) or a leader adds it ([`RaftHandle::add_voter`]) and sends
    /// it a snapshot.
    pub fn start<F: StateMachine, T: Transport>(
        config: Config,
        storage_dir: &Path,
        transport: T,
        fsm: F,
    ) -> Result<(RaftHandle, JoinHandle<Result<()>>)> {
        config.validate()?;
        let store = RocksStorage::open(storage_dir, config.id, &config.cluster_id)?;
        Self::start_with_store(config, store, transport, fsm)
    }

    /// Starts a node on any [`LogStore`].
    pub fn start_with_store<S: LogStore, F: StateMachine, T: Transport>(
        config: Config,
        store: S,
        mut transport: T,
        fsm: F,
    ) -> Result<(RaftHandle, JoinHandle<Result<()>>)> {
        let mut core = Core::new(config.clone(), store, fsm)?;
        let (tx, rx) = mpsc::channel::<Event>();
        let sink = tx.clone();
        core.set_snapshot_sink(Arc::new(move |w| {
            // Gone only when the node stopped; the staged file is removed at the next open.
            let _ = sink.send(Event::SnapshotWritten(w));
        }));
        let queued = Arc::new(AtomicUsize::new(0));
        transport.start(Inbox::new(tx.clone(), queued.clone(), INBOX_CAP))?;
        let (status_tx, status_rx) = watch::channel(core.status());
        let id = config.id;
        let join = tokio::task::spawn_blocking(move || {
            run_loop(core, transport, rx, queued, status_tx, config)
        });
        let handle = RaftHandle {
            inner: Arc::new(HandleInner {
                id,
                tx,
                status: status_rx,
            }),
        };
        Ok((handle, join))
    }
}

struct TransportOut<'a, T: Transport>(&'a mut T);

impl<T: Transport> Output for TransportOut<'_, T> {
    fn send(&mut self, msg: Message) {
        self.0.send(msg);
    }
}

fn run_loop<S: LogStore, F: StateMachine, T: Transport>(
    mut core: Core<S, F>,
    mut transport: T,
    rx: mpsc::Receiver<Event>,
    queued: Arc<AtomicUsize>,
    status: watch::Sender<RaftStatus>,
    cfg: Config,
) -> Result<()> {
    let tick = cfg.tick_interval;
    let mut next_tick = Instant::now() + tick;
    let result = 'run: loop {
        let wait = next_tick.saturating_duration_since(Instant::now());
        let mut stop = false;
        match rx.recv_timeout(wait) {
            Ok(ev) => {
                stop |= handle_event(&mut core, ev, &queued);
                for _ in 1..cfg.max_batch {
                    match rx.try_recv() {
                        Ok(ev) => stop |= handle_event(&mut core, ev, &queued),
                        Err(_) => break,
                    }
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => stop = true,
        }
        if stop {
            break 'run Ok(());
        }
        let now = Instant::now();
        if now >= next_tick {
            core.tick();
            next_tick += tick;
            if next_tick < now {
                next_tick = now + tick;
            }
        }
        if core.has_ready() {
            if let Err(e) = core.handle_ready(&mut TransportOut(&mut transport)) {
                tracing::error!(node = core.id(), error = %e, "raft node stopping after a fatal error");
                break 'run Err(e);
            }
        }
        if let Some(peers) = core.take_peer_update() {
            transport.update_peers(&peers);
        }
        status.send_if_modified(|s| {
            let new = core.status();
            if *s != new {
                *s = new;
                true
            } else {
                false
            }
        });
    };
    core.fail_all(|| RaftError::Shutdown);
    transport.shutdown();
    tracing::info!(node = core.id(), "raft node stopped");
    result
}

/// Returns true on shutdown.
fn handle_event<S: LogStore, F: StateMachine>(
    core: &mut Core<S, F>,
    ev: Event,
    queued: &AtomicUsize,
) -> bool {
    match ev {
        Event::Raft(m) => {
            queued.fetch_sub(1, Ordering::Relaxed);
            core.step(m);
        }
        Event::Unreachable(id) => core.report_unreachable(id),
        Event::SnapshotStatus(id, ok) => core.report_snapshot(id, ok),
        Event::SnapshotWritten(w) => core.snapshot_written(w),
        Event::Cmd(cmd) => match cmd {
            Command::Propose(data, decoded, reply) => core.propose(data, decoded, reply),
            Command::ReadIndex(reply) => core.read_index(reply),
            Command::Membership(change, reply) => core.change_membership(change, reply),
            Command::Bootstrap(voters, reply) => {
                let _ = reply.send(core.bootstrap(&voters));
            }
            Command::TransferLeader(to, reply) => {
                let _ = reply.send(core.transfer_leader(to));
            }
            Command::Shutdown => return true,
        },
    }
    false
}

struct HandleInner {
    id: u64,
    tx: mpsc::Sender<Event>,
    status: watch::Receiver<RaftStatus>,
}

impl Drop for HandleInner {
    fn drop(&mut self) {
        let _ = self.tx.send(Event::Cmd(Command::Shutdown));
    }
}

/// Cloneable front of a running node. Dropping the last clone stops the node.
#[derive(Clone)]
pub struct RaftHandle {
    inner: Arc<HandleInner>,
}

impl RaftHandle {
    async fn request<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        self.inner
            .tx
            .send(Event::Cmd(make(tx)))
            .map_err(|_| RaftError::Shutdown)?;
        rx.await.map_err(|_| RaftError::Shutdown)?
    }

    /// This node's id.
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// Proposes a command. Resolves with `(index, fsm_result)` once the entry is committed
    /// and applied by this node's state machine. At a follower the proposal is forwarded to the
    /// leader (unless `forward_proposals` is off: then [`RaftError::NotLeader`]).
    pub async fn propose(&self, data: Vec<u8>) -> Result<(u64, Vec<u8>)> {
        self.request(|r| Command::Propose(data, None, r)).await
    }

    /// [`RaftHandle::propose`], with the caller's in-memory form of `data`: when this node
    /// applies the entry it calls [`StateMachine::apply_decoded`] with it instead of
    /// decoding `data` again. Other servers decode `data` as usual.
    pub async fn propose_decoded(&self, data: Vec<u8>, decoded: Decoded) -> Result<(u64, Vec<u8>)> {
        self.request(|r| Command::Propose(data, Some(decoded), r))
            .await
    }

    /// A linearizable read barrier (ReadIndex): resolves with an index once the leader has
    /// confirmed its leadership with a quorum and this node has applied at least that index.
    /// Reads of the local state machine after this see every write acknowledged before the
    /// call.
    pub async fn read_index(&self) -> Result<u64> {
        self.request(Command::ReadIndex).await
    }

    /// Adds (or re-addresses) voter `id` at Raft address `addr` (leader only). Resolves with
    /// the index of the change once applied here. The new server then receives a snapshot.
    pub async fn add_voter(&self, id: u64, addr: impl Into<String>) -> Result<u64> {
        let change = Membership::AddVoter(id, addr.into());
        self.request(|r| Command::Membership(change, r)).await
    }

    /// Removes voter `id` (leader only).
    pub async fn remove_voter(&self, id: u64) -> Result<u64> {
        self.request(|r| Command::Membership(Membership::RemoveVoter(id), r))
            .await
    }

    /// Creates the cluster with these voters (this node must be one). Only for a node without
    /// Raft state. With a single voter the node elects itself at once.
    pub async fn bootstrap(&self, voters: Vec<(u64, String)>) -> Result<()> {
        self.request(|r| Command::Bootstrap(voters, r)).await
    }

    /// Asks the leader to hand leadership to voter `to` (best effort).
    pub async fn transfer_leadership(&self, to: u64) -> Result<()> {
        self.request(|r| Command::TransferLeader(to, r)).await
    }

    /// The latest published status.
    pub fn status(&self) -> RaftStatus {
        self.inner.status.borrow().clone()
    }

    /// A receiver that sees every status change.
    pub fn subscribe(&self) -> watch::Receiver<RaftStatus> {
        self.inner.status.clone()
    }

    /// The known leader's id.
    pub fn leader_id(&self) -> Option<u64> {
        self.inner.status.borrow().leader_id
    }

    /// The known leader's Raft address (for forwarding requests to it).
    pub fn leader_address(&self) -> Option<String> {
        self.inner.status.borrow().leader_address.clone()
    }

    /// Waits until `pred` holds for the status, up to `timeout`. Returns the status that
    /// satisfied it.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        mut pred: impl FnMut(&RaftStatus) -> bool,
    ) -> Option<RaftStatus> {
        let mut rx = self.inner.status.clone();
        let fut = async {
            loop {
                {
                    let s = rx.borrow_and_update();
                    if pred(&s) {
                        return Some(s.clone());
                    }
                }
                if rx.changed().await.is_err() {
                    return None;
                }
            }
        };
        tokio::time::timeout(timeout, fut).await.ok().flatten()
    }

    /// Waits until a leader is known.
    pub async fn wait_for_leader(&self, timeout: Duration) -> Option<u64> {
        self.wait_for(timeout, |s| s.leader_id.is_some())
            .await
            .and_then(|s| s.leader_id)
    }

    /// Stops the node (the join handle then completes).
    pub fn shutdown(&self) {
        let _ = self.inner.tx.send(Event::Cmd(Command::Shutdown));
    }
}
