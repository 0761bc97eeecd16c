//! A deterministic in-process cluster for tests: real node cores (the same code the tokio
//! driver runs) over a simulated network that can drop, delay, duplicate, reorder and
//! partition messages, with crashes and restarts on the same in-memory "disk". Time is a
//! millisecond counter and all randomness comes from one seed, so a run is reproducible.
//!
//! This module is test support; it is public so that server-layer tests can use it too.

use std::collections::{BTreeMap, BTreeSet};

use raft::eraftpb::{Message, MessageType};
use tokio::sync::oneshot;

use crate::config::Config;
use crate::core::{Core, Membership, Rng};
use crate::error::RaftError;
use crate::fsm::StateMachine;
use crate::status::{RaftStatus, Role};
use crate::storage::MemStore;

/// Network fault rates of the simulated network.
#[derive(Debug, Clone, Copy)]
pub struct Faults {
    /// Messages dropped, per thousand.
    pub drop_per_mille: u64,
    /// Messages delivered twice, per thousand.
    pub dup_per_mille: u64,
    /// Shortest delivery delay (ms).
    pub min_delay_ms: u64,
    /// Longest delivery delay (ms); different delays reorder messages.
    pub max_delay_ms: u64,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            drop_per_mille: 0,
            dup_per_mille: 0,
            min_delay_ms: 1,
            max_delay_ms: 3,
        }
    }
}

/// Counters of the simulated network.
#[derive(Debug, Clone, Copy, Default)]
pub struct NetStats {
    /// Messages handed to the network.
    pub sent: u64,
    /// Messages delivered.
    pub delivered: u64,
    /// Messages dropped (faults, partitions, dead targets).
    pub dropped: u64,
    /// Extra copies delivered.
    pub duplicated: u64,
    /// Snapshot messages delivered.
    pub snapshots_delivered: u64,
}

/// A request made in the simulation; poll it as the simulation runs.
pub struct SimRequest<T> {
    rx: oneshot::Receiver<Result<T, RaftError>>,
    done: Option<Result<T, RaftError>>,
}

impl<T> SimRequest<T> {
    fn new(rx: oneshot::Receiver<Result<T, RaftError>>) -> Self {
        SimRequest { rx, done: None }
    }

    /// The outcome, once there is one.
    pub fn poll(&mut self) -> Option<&Result<T, RaftError>> {
        if self.done.is_none() {
            match self.rx.try_recv() {
                Ok(v) => self.done = Some(v),
                Err(oneshot::error::TryRecvError::Empty) => {}
                Err(oneshot::error::TryRecvError::Closed) => {
                    self.done = Some(Err(RaftError::Shutdown))
                }
            }
        }
        self.done.as_ref()
    }

    /// True once an outcome is known.
    pub fn is_done(&mut self) -> bool {
        self.poll().is_some()
    }

    /// Takes the outcome.
    pub fn take(mut self) -> Option<Result<T, RaftError>> {
        self.poll();
        self.done
    }
}

struct SimNode<F: StateMachine> {
    core: Option<Core<MemStore, F>>,
    store: MemStore,
    starts: u64,
}

/// The simulated cluster; see the module docs.
pub struct SimCluster<F: StateMachine> {
    seed: u64,
    rng: Rng,
    now: u64,
    tick_ms: u64,
    template: Config,
    make_fsm: Box<dyn Fn() -> F>,
    nodes: BTreeMap<u64, SimNode<F>>,
    in_flight: BTreeMap<(u64, u64), Message>,
    msg_seq: u64,
    cut: BTreeSet<(u64, u64)>,
    faults: Faults,
    stats: NetStats,
    leaders: BTreeMap<u64, u64>,
    violations: Vec<String>,
}

/// The address a simulated node advertises.
pub fn sim_addr(id: u64) -> String {
    format!("sim-{id}")
}

impl<F: StateMachine> SimCluster<F> {
    /// A cluster of `ids`, all bootstrapped with every id as a voter. `template` supplies the
    /// Raft settings (its `id` and `seed` are replaced); a tick is 10 ms of simulated time.
    pub fn new(
        ids: &[u64],
        seed: u64,
        template: Config,
        make_fsm: impl Fn() -> F + 'static,
    ) -> Self {
        let mut c = Self::empty(seed, template, make_fsm);
        let voters: Vec<(u64, String)> = ids.iter().map(|i| (*i, sim_addr(*i))).collect();
        for id in ids {
            c.add_node(*id);
            if let Err(e) = c
                .core_mut(*id)
                .map(|core| core.bootstrap(&voters))
                .unwrap_or(Ok(()))
            {
                c.violations.push(format!("bootstrap of {id} failed: {e}"));
            }
        }
        c
    }

    /// A cluster with no nodes.
    pub fn empty(seed: u64, template: Config, make_fsm: impl Fn() -> F + 'static) -> Self {
        SimCluster {
            seed,
            rng: Rng::new(seed),
            now: 0,
            tick_ms: 10,
            template,
            make_fsm: Box::new(make_fsm),
            nodes: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            msg_seq: 0,
            cut: BTreeSet::new(),
            faults: Faults::default(),
            stats: NetStats::default(),
            leaders: BTreeMap::new(),
            violations: Vec::new(),
        }
    }

    fn boot(&mut self, id: u64) {
        let Some(n) = self.nodes.get_mut(&id) else {
            return;
        };
        n.starts += 1;
        let mut cfg = self.template.clone();
        cfg.id = id;
        cfg.seed = Some(self.seed ^ id.wrapping_mul(0x9e37_79b9) ^ n.starts.rotate_left(40));
        match Core::new(cfg, n.store.clone(), (self.make_fsm)()) {
            Ok(core) => n.core = Some(core),
            Err(e) => self
                .violations
                .push(format!("node {id} failed to start: {e}")),
        }
    }

    /// Adds a running node with an empty store (not a member until a leader adds it).
    pub fn add_node(&mut self, id: u64) {
        self.nodes.insert(
            id,
            SimNode {
                core: None,
                store: MemStore::new(),
                starts: 0,
            },
        );
        self.boot(id);
    }

    fn core_mut(&mut self, id: u64) -> Option<&mut Core<MemStore, F>> {
        self.nodes.get_mut(&id).and_then(|n| n.core.as_mut())
    }

    fn core(&self, id: u64) -> Option<&Core<MemStore, F>> {
        self.nodes.get(&id).and_then(|n| n.core.as_ref())
    }

    /// Bootstraps node `id` with `voters`.
    pub fn bootstrap(&mut self, id: u64, voters: &[u64]) -> Result<(), RaftError> {
        let voters: Vec<(u64, String)> = voters.iter().map(|i| (*i, sim_addr(*i))).collect();
        match self.core_mut(id) {
            Some(c) => c.bootstrap(&voters),
            None => Err(RaftError::Shutdown),
        }
    }

    /// Sets the network fault rates.
    pub fn set_faults(&mut self, faults: Faults) {
        self.faults = faults;
    }

    /// Cuts the links between `a` and `b` in both directions.
    pub fn cut(&mut self, a: u64, b: u64) {
        self.cut.insert((a, b));
        self.cut.insert((b, a));
    }

    /// Cuts the link from `from` to `to` only.
    pub fn cut_one_way(&mut self, from: u64, to: u64) {
        self.cut.insert((from, to));
    }

    /// Cuts `id` off from every other node.
    pub fn isolate(&mut self, id: u64) {
        let others: Vec<u64> = self.nodes.keys().copied().filter(|o| *o != id).collect();
        for o in others {
            self.cut(id, o);
        }
    }

    /// Splits the cluster: nodes in different groups cannot talk.
    pub fn partition(&mut self, groups: &[&[u64]]) {
        for (i, g) in groups.iter().enumerate() {
            for h in &groups[i + 1..] {
                for a in *g {
                    for b in *h {
                        self.cut(*a, *b);
                    }
                }
            }
        }
    }

    /// Restores every link.
    pub fn heal(&mut self) {
        self.cut.clear();
    }

    /// Stops node `id`: its memory (state machine, pending requests) is lost, its store kept.
    pub fn crash(&mut self, id: u64) {
        if let Some(n) = self.nodes.get_mut(&id) {
            n.core = None;
        }
    }

    /// Starts a crashed node again on its store.
    pub fn restart(&mut self, id: u64) {
        if self.core(id).is_none() {
            self.boot(id);
        }
    }

    /// Crashes node `id` and restarts it with an empty store.
    pub fn wipe(&mut self, id: u64) {
        if let Some(n) = self.nodes.get_mut(&id) {
            n.core = None;
            n.store = MemStore::new();
        }
        self.boot(id);
    }

    /// Whether node `id` is running.
    pub fn is_up(&self, id: u64) -> bool {
        self.core(id).is_some()
    }

    /// Ids of all nodes (running or not).
    pub fn ids(&self) -> Vec<u64> {
        self.nodes.keys().copied().collect()
    }

    /// Simulated milliseconds since the start.
    pub fn now_ms(&self) -> u64 {
        self.now
    }

    /// Network counters.
    pub fn net_stats(&self) -> NetStats {
        self.stats
    }

    /// The status of a running node.
    pub fn status(&self, id: u64) -> Option<RaftStatus> {
        self.core(id).map(Core::status)
    }

    /// The state machine of a running node.
    pub fn fsm(&self, id: u64) -> Option<&F> {
        self.core(id).map(Core::fsm)
    }

    /// The store of node `id`.
    pub fn store(&self, id: u64) -> Option<MemStore> {
        self.nodes.get(&id).map(|n| n.store.clone())
    }

    /// The running leader with the highest term, if any.
    pub fn leader(&self) -> Option<u64> {
        self.nodes
            .keys()
            .filter_map(|id| self.status(*id))
            .filter(|s| s.role == Role::Leader)
            .max_by_key(|s| s.term)
            .map(|s| s.id)
    }

    /// Safety violations seen so far (two leaders in one term, fatal node errors, ...).
    pub fn violations(&self) -> &[String] {
        &self.violations
    }

    fn request<T>(
        &mut self,
        id: u64,
        f: impl FnOnce(&mut Core<MemStore, F>, oneshot::Sender<Result<T, RaftError>>),
    ) -> SimRequest<T> {
        let (tx, rx) = oneshot::channel();
        match self.core_mut(id) {
            Some(core) => f(core, tx),
            None => {
                let _ = tx.send(Err(RaftError::Shutdown));
            }
        }
        SimRequest::new(rx)
    }

    /// Proposes `data` at node `id`.
    pub fn propose(&mut self, id: u64, data: Vec<u8>) -> SimRequest<(u64, Vec<u8>)> {
        self.request(id, |c, r| c.propose(data, None, r))
    }

    /// Proposes `data` at node `id` with its in-memory form (see
    /// [`crate::RaftHandle::propose_decoded`]).
    pub fn propose_decoded(
        &mut self,
        id: u64,
        data: Vec<u8>,
        decoded: crate::fsm::Decoded,
    ) -> SimRequest<(u64, Vec<u8>)> {
        self.request(id, |c, r| c.propose(data, Some(decoded), r))
    }

    /// Requests a ReadIndex at node `id`.
    pub fn read_index(&mut self, id: u64) -> SimRequest<u64> {
        self.request(id, |c, r| c.read_index(r))
    }

    /// Asks leader `at` to add voter `id`.
    pub fn add_voter(&mut self, at: u64, id: u64) -> SimRequest<u64> {
        self.request(at, |c, r| {
            c.change_membership(Membership::AddVoter(id, sim_addr(id)), r)
        })
    }

    /// Asks leader `at` to remove voter `id`.
    pub fn remove_voter(&mut self, at: u64, id: u64) -> SimRequest<u64> {
        self.request(at, |c, r| {
            c.change_membership(Membership::RemoveVoter(id), r)
        })
    }

    /// Asks leader `at` to transfer leadership to `to`.
    pub fn transfer_leader(&mut self, at: u64, to: u64) -> Result<(), RaftError> {
        self.core_mut(at)
            .map_or(Err(RaftError::Shutdown), |c| c.transfer_leader(to))
    }

    fn send(&mut self, msg: Message) {
        self.stats.sent += 1;
        let (from, to) = (msg.from, msg.to);
        let is_snap = msg.get_msg_type() == MessageType::MsgSnapshot;
        let lost =
            self.cut.contains(&(from, to)) || self.rng.below(1000) < self.faults.drop_per_mille;
        if lost {
            self.stats.dropped += 1;
            if is_snap {
                if let Some(c) = self.core_mut(from) {
                    c.report_snapshot(to, false);
                }
            }
            return;
        }
        let copies = if self.rng.below(1000) < self.faults.dup_per_mille {
            self.stats.duplicated += 1;
            2
        } else {
            1
        };
        for _ in 0..copies {
            let span = self
                .faults
                .max_delay_ms
                .saturating_sub(self.faults.min_delay_ms)
                + 1;
            let at = self.now + self.faults.min_delay_ms.max(1) + self.rng.below(span) - 1;
            self.msg_seq += 1;
            self.in_flight
                .insert((at.max(self.now + 1), self.msg_seq), msg.clone());
        }
    }

    /// Advances simulated time by one millisecond.
    pub fn step(&mut self) {
        self.now += 1;
        while let Some(entry) = self.in_flight.first_entry() {
            if entry.key().0 > self.now {
                break;
            }
            let msg = entry.remove();
            let (from, to) = (msg.from, msg.to);
            let is_snap = msg.get_msg_type() == MessageType::MsgSnapshot;
            let cut = self.cut.contains(&(from, to));
            match self.core_mut(to) {
                Some(core) if !cut => {
                    core.step(msg);
                    self.stats.delivered += 1;
                    if is_snap {
                        self.stats.snapshots_delivered += 1;
                        if let Some(c) = self.core_mut(from) {
                            c.report_snapshot(to, true);
                        }
                    }
                }
                _ => {
                    self.stats.dropped += 1;
                    if is_snap {
                        if let Some(c) = self.core_mut(from) {
                            c.report_snapshot(to, false);
                        }
                    }
                }
            }
        }
        let tick = self.now.is_multiple_of(self.tick_ms);
        let ids: Vec<u64> = self.nodes.keys().copied().collect();
        for id in ids {
            let mut out = Vec::new();
            let mut fatal = None;
            if let Some(core) = self.core_mut(id) {
                if tick {
                    core.tick();
                }
                if core.has_ready() {
                    let mut push = |m: Message| out.push(m);
                    if let Err(e) = core.handle_ready(&mut push) {
                        fatal = Some(e);
                    }
                }
                let _ = core.take_peer_update();
            }
            if let Some(e) = fatal {
                self.violations.push(format!("node {id} stopped: {e}"));
                self.crash(id);
            }
            for m in out {
                self.send(m);
            }
            if let Some(s) = self.status(id) {
                if s.role == Role::Leader {
                    let prev = *self.leaders.entry(s.term).or_insert(id);
                    if prev != id {
                        self.violations
                            .push(format!("two leaders in term {}: {prev} and {id}", s.term));
                    }
                }
            }
        }
    }

    /// Runs for `ms` simulated milliseconds.
    pub fn run_for(&mut self, ms: u64) {
        for _ in 0..ms {
            self.step();
        }
    }

    /// Runs until `done` holds (checked every millisecond) or `max_ms` pass. Returns whether
    /// it held.
    pub fn run_until(&mut self, max_ms: u64, mut done: impl FnMut(&mut Self) -> bool) -> bool {
        for _ in 0..max_ms {
            if done(self) {
                return true;
            }
            self.step();
        }
        done(self)
    }

    /// Runs until `req` resolves or `max_ms` pass.
    pub fn wait<T>(&mut self, req: &mut SimRequest<T>, max_ms: u64) -> bool {
        self.run_until(max_ms, |_| req.is_done())
    }

    /// Runs until a leader is known to every running node (and they agree), up to `max_ms`.
    pub fn wait_for_leader(&mut self, max_ms: u64) -> Option<u64> {
        let ok = self.run_until(max_ms, |c| {
            let Some(l) = c.leader() else { return false };
            c.nodes
                .keys()
                .filter_map(|id| c.status(*id))
                .filter(|s| s.voters.contains(&s.id))
                .all(|s| s.leader_id == Some(l))
        });
        if ok {
            self.leader()
        } else {
            None
        }
    }

    /// Checks that, for every pair of running nodes, the committed entries both still hold
    /// agree (Raft's log matching + state machine safety on the log).
    pub fn check_logs(&self) -> Result<(), String> {
        let logs: Vec<(u64, u64, Vec<raft::eraftpb::Entry>)> = self
            .nodes
            .iter()
            .filter_map(|(id, n)| {
                let s = n.core.as_ref()?.status();
                Some((*id, s.commit, n.store.entries_all()))
            })
            .collect();
        for (i, (a, ca, la)) in logs.iter().enumerate() {
            for (b, cb, lb) in &logs[i + 1..] {
                let upto = (*ca).min(*cb);
                let by_index: BTreeMap<u64, &raft::eraftpb::Entry> =
                    lb.iter().map(|e| (e.index, e)).collect();
                for e in la.iter().filter(|e| e.index <= upto) {
                    if let Some(f) = by_index.get(&e.index) {
                        if f.term != e.term || f.data != e.data {
                            return Err(format!(
                                "committed entry {} differs between {a} (term {}) and {b} (term {})",
                                e.index, e.term, f.term
                            ));
                        }
                    }
                }
            }
        }
        Ok(())
    }
}
