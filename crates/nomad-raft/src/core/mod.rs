//! The sans-I/O heart of a node: a raft-rs `RawNode`, the state machine, and the requests
//! waiting on them. Time is a tick counter and randomness a seeded generator, so the same
//! inputs give the same outputs; the tokio driver ([`crate::node`]) and the deterministic
//! simulator ([`crate::sim`]) both drive this type.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use protobuf::Message as _;
use raft::eraftpb::{
    ConfChange, ConfChangeSingle, ConfChangeType, ConfChangeV2, Entry, EntryType, Message,
    MessageType, Snapshot,
};
use raft::{RawNode, StateRole};
use tokio::sync::oneshot;

use crate::config::Config;
use crate::error::{RaftError, StorageError};
use crate::fsm::{Decoded, StateMachine};
use crate::status::{RaftStatus, Role, SINGLE_SERVER_WARNING};
use crate::storage::{decode_image, encode_image, LogStore};

/// Where a request's answer goes.
pub(crate) type Reply<T> = oneshot::Sender<Result<T, RaftError>>;

/// A membership change.
#[derive(Debug, Clone)]
pub(crate) enum Membership {
    AddVoter(u64, String),
    RemoveVoter(u64),
}

enum Waiter {
    Write(Reply<(u64, Vec<u8>)>),
    Conf(Reply<u64>),
}

impl Waiter {
    fn fail(self, e: RaftError) {
        match self {
            Waiter::Write(r) => {
                let _ = r.send(Err(e));
            }
            Waiter::Conf(r) => {
                let _ = r.send(Err(e));
            }
        }
    }
}

/// A proposal waiting for the next batch: its sequence number, entry and reply.
type Queued = (u64, Entry, Option<Decoded>, Reply<(u64, Vec<u8>)>);

struct Pending {
    deadline: u64,
    waiter: Waiter,
    /// The proposer's in-memory form of the entry, for the local apply.
    decoded: Option<Decoded>,
}

/// SplitMix64: small, seedable, good enough for timeouts and ids.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
}

const CTX_LEN: usize = 24;
const SEEN_CAP: usize = 65_536;

fn encode_ctx(origin: u64, incarnation: u64, seq: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(CTX_LEN);
    v.extend_from_slice(&origin.to_be_bytes());
    v.extend_from_slice(&incarnation.to_be_bytes());
    v.extend_from_slice(&seq.to_be_bytes());
    v
}

fn decode_ctx(ctx: &[u8]) -> Option<(u64, u64, u64)> {
    if ctx.len() != CTX_LEN {
        return None;
    }
    let mut w = [0u64; 3];
    for (i, chunk) in ctx.chunks_exact(8).enumerate() {
        let mut b = [0u8; 8];
        b.copy_from_slice(chunk);
        w[i] = u64::from_be_bytes(b);
    }
    Some((w[0], w[1], w[2]))
}

/// See the module docs.
pub(crate) struct Core<S: LogStore, F: StateMachine> {
    cfg: Config,
    id: u64,
    node: RawNode<S>,
    fsm: F,
    rng: Rng,
    incarnation: u64,
    next_seq: u64,
    now: u64,
    applied: u64,
    peers: BTreeMap<u64, String>,
    peers_dirty: bool,
    proposals: BTreeMap<u64, Pending>,
    /// Proposals queued for the next batch.
    batch: Vec<Queued>,
    /// Log index → seq of a proposal this node appended as leader.
    expected: BTreeMap<u64, u64>,
    reads: BTreeMap<u64, (u64, Reply<u64>)>,
    /// Read index → waiters whose read index is known but not yet applied locally.
    reads_ready: BTreeMap<u64, Vec<(u64, Reply<u64>)>>,
    seen_forwarded: BTreeSet<Vec<u8>>,
    seen_order: VecDeque<Vec<u8>>,
    last_leader_contact: Option<u64>,
    campaign_pending: bool,
    observed: (u64, u64, Role),
    snapshots_installed: u64,
    snap: Snapshots,
}

impl<S: LogStore, F: StateMachine> Core<S, F> {
    /// Builds the node from what the store holds: restores the FSM from the latest snapshot
    /// (unless the FSM is already at or past it); the log after it is replayed by Raft.
    pub(crate) fn new(cfg: Config, store: S, mut fsm: F) -> Result<Self, RaftError> {
        cfg.validate()?;
        let snap = store.stored_snapshot();
        let snap_index = snap.get_metadata().index;
        let mut peers = BTreeMap::new();
        if snap_index > 0 {
            let (p, image) = decode_image(&snap.data).map_err(|detail| StorageError::Corrupt {
                path: "<snapshot>".into(),
                detail,
            })?;
            peers = p;
            if fsm.applied_index() < snap_index {
                fsm.restore(image)
                    .map_err(|e| RaftError::Restore(e.to_string()))?;
            }
        }
        let seed = cfg.seed.unwrap_or_else(clock_seed) ^ cfg.id.rotate_left(17);
        let mut rng = Rng::new(seed);
        let incarnation = rng.next_u64();
        let logger = crate::logger::raft_logger(cfg.id);
        let node = RawNode::new(&cfg.to_raft(snap_index), store, &logger)?;
        let snap = Snapshots::new(&cfg, seed);
        let mut core = Core {
            id: cfg.id,
            cfg,
            node,
            fsm,
            rng,
            incarnation,
            next_seq: 1,
            now: 0,
            applied: snap_index,
            peers,
            peers_dirty: true,
            proposals: BTreeMap::new(),
            batch: Vec::new(),
            expected: BTreeMap::new(),
            reads: BTreeMap::new(),
            reads_ready: BTreeMap::new(),
            seen_forwarded: BTreeSet::new(),
            seen_order: VecDeque::new(),
            last_leader_contact: None,
            campaign_pending: false,
            observed: (0, 0, Role::Follower),
            snapshots_installed: 0,
            snap,
        };
        core.fix_election_timeout();
        if core.sole_voter() {
            tracing::warn!(node = core.id, "{SINGLE_SERVER_WARNING}");
            core.campaign_pending = true;
        }
        Ok(core)
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    pub(crate) fn fsm(&self) -> &F {
        &self.fsm
    }

    fn voters(&self) -> Vec<u64> {
        let mut v = self.node.raft.prs().conf().to_conf_state().voters;
        v.sort_unstable();
        v
    }

    fn sole_voter(&self) -> bool {
        self.voters() == [self.id]
    }

    fn is_leader(&self) -> bool {
        self.node.raft.state == StateRole::Leader
    }

    fn leader_id(&self) -> Option<u64> {
        let l = self.node.raft.leader_id;
        (l != raft::INVALID_ID).then_some(l)
    }

    fn initialized(&self) -> bool {
        let r = &self.node.raft;
        r.term > 0
            || r.raft_log.last_index() > 0
            || r.raft_log.unstable_snapshot().is_some()
            || !self.voters().is_empty()
    }

    fn not_leader(&self) -> RaftError {
        match self.leader_id() {
            Some(l) => RaftError::NotLeader {
                leader: Some(l),
                address: self.peers.get(&l).cloned(),
            },
            None => RaftError::NoLeader,
        }
    }

    fn next_ctx(&mut self) -> (u64, Vec<u8>) {
        let seq = self.next_seq;
        self.next_seq += 1;
        (seq, encode_ctx(self.id, self.incarnation, seq))
    }

    fn deadline(&self) -> u64 {
        self.now + self.cfg.request_timeout_ticks()
    }

    /// raft-rs draws election timeouts from the thread RNG; redraw them from ours so that a
    /// seeded simulation is reproducible.
    fn fix_election_timeout(&mut self) {
        let r = &mut self.node.raft;
        if r.election_elapsed == 0 {
            let min = self.cfg.election_ticks as u64;
            let t = min + self.rng.below(min);
            r.set_randomized_election_timeout(t as usize);
        }
    }

    /// Advances the logical clock by one tick.
    pub(crate) fn tick(&mut self) {
        self.now += 1;
        self.node.tick();
        if self.is_leader() {
            self.last_leader_contact = Some(self.now);
        }
        self.fix_election_timeout();
        self.expire_requests();
    }

    /// Feeds a message from a peer.
    pub(crate) fn step(&mut self, mut msg: Message) {
        if msg.to != self.id || msg.from == self.id || msg.from == raft::INVALID_ID {
            tracing::debug!(
                node = self.id,
                to = msg.to,
                from = msg.from,
                "dropping misaddressed message"
            );
            return;
        }
        if msg.get_msg_type() == MessageType::MsgPropose && !self.filter_forwarded(&mut msg) {
            return;
        }
        self.guard_lost_log(&mut msg);
        let from = msg.from;
        tracing::trace!(
            node = self.id,
            from,
            kind = ?msg.get_msg_type(),
            term = msg.term,
            index = msg.index,
            entries = msg.entries.len(),
            commit = msg.commit,
            "step"
        );
        if let Err(e) = self.node.step(msg) {
            tracing::debug!(node = self.id, from, error = %e, "step failed");
        }
        if self.node.raft.leader_id == from && !self.is_leader() {
            self.last_leader_contact = Some(self.now);
        }
        self.fix_election_timeout();
    }

    /// The transport could not reach `id`.
    pub(crate) fn report_unreachable(&mut self, id: u64) {
        self.node.report_unreachable(id);
    }

    /// A snapshot message to `id` was delivered (`ok`) or lost.
    pub(crate) fn report_snapshot(&mut self, id: u64, ok: bool) {
        let status = if ok {
            raft::SnapshotStatus::Finish
        } else {
            raft::SnapshotStatus::Failure
        };
        self.node.report_snapshot(id, status);
    }

    /// Queues a command; all queued commands go to raft as one batch (one `MsgPropose`, one
    /// append message per follower) at the next `handle_ready`. The reply comes once the entry
    /// is committed and applied locally.
    pub(crate) fn propose(
        &mut self,
        data: Vec<u8>,
        decoded: Option<Decoded>,
        reply: Reply<(u64, Vec<u8>)>,
    ) {
        if !self.is_leader() && (!self.cfg.forward_proposals || self.leader_id().is_none()) {
            let _ = reply.send(Err(self.not_leader()));
            return;
        }
        let (seq, ctx) = self.next_ctx();
        let e = Entry {
            data: data.into(),
            context: ctx.into(),
            ..Default::default()
        };
        self.batch.push((seq, e, decoded, reply));
        if self.batch.len() >= self.cfg.max_batch {
            self.flush_proposals();
        }
    }

    /// Hands the queued proposals to raft.
    pub(crate) fn flush_proposals(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.batch);
        let leader = self.is_leader();
        if !leader && (!self.cfg.forward_proposals || self.leader_id().is_none()) {
            for (_, _, _, reply) in batch {
                let _ = reply.send(Err(self.not_leader()));
            }
            return;
        }
        let n = batch.len() as u64;
        let mut entries = Vec::with_capacity(batch.len());
        let mut waiters = Vec::with_capacity(batch.len());
        for (seq, e, decoded, reply) in batch {
            entries.push(e);
            waiters.push((seq, decoded, reply));
        }
        let mut m = Message::default();
        m.set_msg_type(MessageType::MsgPropose);
        m.from = self.id;
        m.set_entries(entries.into());
        match self.node.step(m) {
            Ok(()) => {
                let deadline = self.deadline();
                // As leader the batch was appended as the last `n` entries.
                let first = (self.node.raft.raft_log.last_index() + 1).saturating_sub(n);
                for (i, (seq, decoded, reply)) in waiters.into_iter().enumerate() {
                    if leader {
                        self.expected.insert(first + i as u64, seq);
                    }
                    self.proposals.insert(
                        seq,
                        Pending {
                            deadline,
                            waiter: Waiter::Write(reply),
                            decoded,
                        },
                    );
                }
            }
            Err(e) => {
                let no_leader = self.leader_id().is_none();
                for (_, _, reply) in waiters {
                    let err = match &e {
                        raft::Error::ProposalDropped if no_leader => RaftError::NoLeader,
                        raft::Error::ProposalDropped => RaftError::Dropped,
                        other => RaftError::Raft(other.to_string()),
                    };
                    let _ = reply.send(Err(err));
                }
            }
        }
    }

    /// Requests a linearizable read index; the reply comes once the local state machine has
    /// applied at least that index.
    pub(crate) fn read_index(&mut self, reply: Reply<u64>) {
        if !self.is_leader() && (!self.cfg.forward_proposals || self.leader_id().is_none()) {
            let _ = reply.send(Err(self.not_leader()));
            return;
        }
        let (seq, ctx) = self.next_ctx();
        self.node.read_index(ctx);
        let deadline = self.deadline();
        self.reads.insert(seq, (deadline, reply));
    }

    /// Proposes a membership change (leader only).
    pub(crate) fn change_membership(&mut self, change: Membership, reply: Reply<u64>) {
        if !self.is_leader() {
            let _ = reply.send(Err(self.not_leader()));
            return;
        }
        if self.node.raft.has_pending_conf() {
            let _ = reply.send(Err(RaftError::ConfChangeInProgress));
            return;
        }
        let voters = self.voters();
        let mut single = ConfChangeSingle::default();
        let mut cc = ConfChangeV2::default();
        match &change {
            Membership::AddVoter(id, addr) => {
                if *id == raft::INVALID_ID {
                    let _ = reply.send(Err(RaftError::ConfChangeRejected("node id 0".into())));
                    return;
                }
                if voters.contains(id) && self.peers.get(id) == Some(addr) {
                    let _ = reply.send(Ok(self.applied));
                    return;
                }
                single.set_change_type(ConfChangeType::AddNode);
                single.node_id = *id;
                cc.context = addr.clone().into_bytes().into();
            }
            Membership::RemoveVoter(id) => {
                if *id == self.id {
                    let msg =
                        "the leader cannot remove itself; transfer leadership first".to_string();
                    let _ = reply.send(Err(RaftError::ConfChangeRejected(msg)));
                    return;
                }
                if !voters.contains(id) {
                    let msg = format!("node {id} is not a voter");
                    let _ = reply.send(Err(RaftError::ConfChangeRejected(msg)));
                    return;
                }
                if voters.len() == 1 {
                    let msg = "cannot remove the last voter".to_string();
                    let _ = reply.send(Err(RaftError::ConfChangeRejected(msg)));
                    return;
                }
                single.set_change_type(ConfChangeType::RemoveNode);
                single.node_id = *id;
            }
        }
        cc.set_changes(vec![single].into());
        let (seq, ctx) = self.next_ctx();
        match self.node.propose_conf_change(ctx, cc) {
            Ok(()) => {
                self.expected
                    .insert(self.node.raft.raft_log.last_index(), seq);
                let deadline = self.deadline();
                self.proposals.insert(
                    seq,
                    Pending {
                        deadline,
                        waiter: Waiter::Conf(reply),
                        decoded: None,
                    },
                );
            }
            Err(e) => {
                let _ = reply.send(Err(e.into()));
            }
        }
    }

    /// Asks the leader to hand leadership to `to`.
    pub(crate) fn transfer_leader(&mut self, to: u64) -> Result<(), RaftError> {
        if !self.is_leader() {
            return Err(self.not_leader());
        }
        if !self.voters().contains(&to) {
            return Err(RaftError::ConfChangeRejected(format!(
                "node {to} is not a voter"
            )));
        }
        self.node.transfer_leader(to);
        Ok(())
    }

    /// Creates the cluster on this uninitialised node with `voters` (which must include this
    /// node). Several servers may bootstrap with the same voter list; the rest join by
    /// receiving a snapshot from the leader.
    pub(crate) fn bootstrap(&mut self, voters: &[(u64, String)]) -> Result<(), RaftError> {
        if self.initialized() {
            return Err(RaftError::AlreadyBootstrapped);
        }
        let mut peers = BTreeMap::new();
        for (id, addr) in voters {
            if *id == raft::INVALID_ID || peers.insert(*id, addr.clone()).is_some() {
                return Err(RaftError::Config(format!("bad or duplicate voter id {id}")));
            }
        }
        if !peers.contains_key(&self.id) {
            return Err(RaftError::Config(format!(
                "the voters must include this node ({})",
                self.id
            )));
        }
        let mut snap = Snapshot {
            data: encode_image(&peers, &self.fsm.snapshot()).into(),
            ..Default::default()
        };
        let meta = snap.mut_metadata();
        meta.index = 1;
        meta.term = 1;
        meta.mut_conf_state().voters = peers.keys().copied().collect();
        if !self.node.raft.restore(snap) {
            return Err(RaftError::Raft(
                "raft refused the bootstrap snapshot".into(),
            ));
        }
        tracing::info!(node = self.id, voters = ?peers.keys().collect::<Vec<_>>(), "bootstrapping cluster");
        self.peers = peers;
        self.peers_dirty = true;
        if voters.len() == 1 {
            tracing::warn!(node = self.id, "{SINGLE_SERVER_WARNING}");
            self.campaign_pending = true;
        }
        Ok(())
    }

    /// The address book, when it changed since the last call.
    pub(crate) fn take_peer_update(&mut self) -> Option<BTreeMap<u64, String>> {
        if std::mem::take(&mut self.peers_dirty) {
            Some(self.peers.clone())
        } else {
            None
        }
    }

    /// Fails every waiting request (shutdown).
    pub(crate) fn fail_all(&mut self, e: impl Fn() -> RaftError) {
        for (_, _, _, r) in std::mem::take(&mut self.batch) {
            let _ = r.send(Err(e()));
        }
        for (_, p) in std::mem::take(&mut self.proposals) {
            p.waiter.fail(e());
        }
        for (_, (_, r)) in std::mem::take(&mut self.reads) {
            let _ = r.send(Err(e()));
        }
        for (_, v) in std::mem::take(&mut self.reads_ready) {
            for (_, r) in v {
                let _ = r.send(Err(e()));
            }
        }
        self.expected.clear();
    }

    fn expire_requests(&mut self) {
        let now = self.now;
        let timeout = self.cfg.request_timeout;
        let expired: Vec<u64> = self
            .proposals
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(s, _)| *s)
            .collect();
        for seq in expired {
            if let Some(p) = self.proposals.remove(&seq) {
                p.waiter.fail(RaftError::Timeout(timeout));
            }
        }
        let proposals = &self.proposals;
        self.expected.retain(|_, seq| proposals.contains_key(seq));
        let expired: Vec<u64> = self
            .reads
            .iter()
            .filter(|(_, (d, _))| *d <= now)
            .map(|(s, _)| *s)
            .collect();
        for seq in expired {
            if let Some((_, r)) = self.reads.remove(&seq) {
                let _ = r.send(Err(RaftError::Timeout(timeout)));
            }
        }
        for waiters in self.reads_ready.values_mut() {
            let (gone, keep): (Vec<_>, Vec<_>) = waiters.drain(..).partition(|(d, _)| *d <= now);
            *waiters = keep;
            for (_, r) in gone {
                let _ = r.send(Err(RaftError::Timeout(timeout)));
            }
        }
        self.reads_ready.retain(|_, v| !v.is_empty());
    }
}

fn clock_seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    t ^ u64::from(std::process::id()).rotate_left(32)
}

mod guard;
mod ready;
mod snapshot;

pub(crate) use ready::Output;
pub(crate) use snapshot::SnapshotWritten;
use snapshot::Snapshots;

impl<S: LogStore, F: StateMachine> Core<S, F> {
    /// A view of the node's state.
    pub(crate) fn status(&self) -> RaftStatus {
        let r = &self.node.raft;
        let cs = r.prs().conf().to_conf_state();
        let mut voters = cs.voters.clone();
        voters.sort_unstable();
        let mut learners = cs.learners.clone();
        learners.sort_unstable();
        let leader_id = self.leader_id();
        let last_contact = if self.is_leader() {
            Some(Duration::ZERO)
        } else {
            self.last_leader_contact.map(|t| {
                let ticks = self.now.saturating_sub(t) as u32;
                self.cfg.tick_interval.saturating_mul(ticks)
            })
        };
        RaftStatus {
            id: self.id,
            role: Role::from(r.state),
            leader_id,
            leader_address: leader_id.and_then(|l| self.peers.get(&l).cloned()),
            term: r.term,
            commit: r.raft_log.committed,
            applied: self.applied,
            first_index: r.raft_log.first_index(),
            last_index: r.raft_log.last_index(),
            snapshot_index: self.node.store().snapshot_index(),
            last_contact,
            voters,
            learners,
            peers: self.peers.clone(),
            initialized: self.initialized(),
            snapshots_installed: self.snapshots_installed,
            snapshots_taken: self.snap.taken,
        }
    }
}

/// Decodes a conf-change entry into its V2 form.
pub(crate) fn conf_change_of(e: &Entry) -> Result<ConfChangeV2, protobuf::ProtobufError> {
    match e.get_entry_type() {
        EntryType::EntryConfChange => {
            let mut cc = ConfChange::parse_from_bytes(&e.data)?;
            let mut single = ConfChangeSingle::default();
            single.set_change_type(cc.get_change_type());
            single.node_id = cc.node_id;
            let mut v2 = ConfChangeV2::default();
            v2.set_changes(vec![single].into());
            v2.set_context(cc.take_context());
            Ok(v2)
        }
        _ => ConfChangeV2::parse_from_bytes(&e.data),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctx_roundtrip() {
        let c = encode_ctx(3, 0xdead_beef, 42);
        assert_eq!(decode_ctx(&c), Some((3, 0xdead_beef, 42)));
        assert_eq!(decode_ctx(&c[1..]), None);
    }
}
