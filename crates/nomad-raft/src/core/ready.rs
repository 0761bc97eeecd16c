//! Ready handling for [`Core`](super::Core), in the order raft-rs documents: send the
//! leader's messages, persist snapshot + entries + hard state in one (synced when Raft needs
//! it) write, install a received snapshot, apply committed entries, send the messages that
//! must follow persistence, `advance`, then handle the `LightReady` the same way.

use raft::eraftpb::{ConfChangeType, Entry, EntryType, Message, Snapshot};
use raft::{ReadState, StateRole};

use super::{conf_change_of, decode_ctx, Core, Waiter};
use crate::error::{RaftError, StorageError};
use crate::fsm::{Committed, StateMachine};
use crate::status::Role;
use crate::storage::{decode_image, LogStore};

/// Where outbound messages go.
pub(crate) trait Output {
    /// Queues `msg` for its `to` peer. Must not block.
    fn send(&mut self, msg: Message);
}

impl<T: FnMut(Message)> Output for T {
    fn send(&mut self, msg: Message) {
        self(msg)
    }
}

/// Readies handled per call at most (each is one disk write).
const MAX_READIES_PER_CALL: usize = 16;

impl<S: LogStore, F: StateMachine> Core<S, F> {
    /// Whether `handle_ready` has work.
    pub(crate) fn has_ready(&self) -> bool {
        self.node.has_ready()
            || self.campaign_pending
            || !self.batch.is_empty()
            || self.snapshot_has_work()
    }

    /// Processes everything raft-rs has ready. A storage or restore error is fatal: the
    /// caller must stop the node.
    pub(crate) fn handle_ready(&mut self, out: &mut dyn Output) -> Result<(), RaftError> {
        self.flush_proposals();
        for _ in 0..MAX_READIES_PER_CALL {
            if self.node.has_ready() {
                self.process_ready(out)?;
                continue;
            }
            if std::mem::take(&mut self.campaign_pending) && self.sole_voter() && !self.is_leader()
            {
                tracing::info!(node = self.id, "single voter: electing itself");
                self.node.campaign()?;
                self.fix_election_timeout();
                continue;
            }
            break;
        }
        self.maybe_snapshot()?;
        self.observe_changes();
        Ok(())
    }

    fn process_ready(&mut self, out: &mut dyn Output) -> Result<(), RaftError> {
        let mut rd = self.node.ready();
        // 1. The leader may send before persisting (Raft thesis 10.2.1).
        for m in rd.take_messages() {
            out.send(m);
        }
        // 2. One atomic write: snapshot, entries, hard state.
        let snapshot = (!rd.snapshot().is_empty()).then(|| rd.snapshot().clone());
        if snapshot.is_some() || !rd.entries().is_empty() || rd.hs().is_some() {
            let sync = rd.must_sync();
            tracing::trace!(
                node = self.id,
                snapshot = snapshot.as_ref().map(|s| s.get_metadata().index),
                first = rd.entries().first().map(|e| e.index),
                last = rd.entries().last().map(|e| e.index),
                hs = ?rd.hs(),
                sync,
                "persist"
            );
            self.node
                .mut_store()
                .persist(snapshot.as_ref(), rd.entries(), rd.hs(), sync)?;
        }
        // 3. A snapshot from the leader replaces the state machine.
        if let Some(snap) = snapshot {
            self.install_snapshot(&snap)?;
        }
        // 4. Reads whose index is now known.
        for rs in rd.take_read_states() {
            self.on_read_state(rs);
        }
        // 5. Apply what is committed.
        let committed = rd.take_committed_entries();
        self.apply_entries(committed);
        // 6. Messages that must follow persistence (votes, append responses).
        for m in rd.take_persisted_messages() {
            out.send(m);
        }
        // 7. Advance, then the light ready.
        let mut light = self.node.advance_append(rd);
        if light.commit_index().is_some() {
            let hs = self.node.raft.hard_state();
            self.node.mut_store().persist(None, &[], Some(&hs), false)?;
        }
        for m in light.take_messages() {
            out.send(m);
        }
        let committed = light.take_committed_entries();
        self.apply_entries(committed);
        self.node.advance_apply_to(self.applied);
        Ok(())
    }

    fn install_snapshot(&mut self, snap: &Snapshot) -> Result<(), RaftError> {
        let index = snap.get_metadata().index;
        let (peers, image) = decode_image(&snap.data).map_err(|detail| StorageError::Corrupt {
            path: "<snapshot from leader>".into(),
            detail,
        })?;
        self.fsm
            .restore(image)
            .map_err(|e| RaftError::Restore(e.to_string()))?;
        self.peers = peers;
        self.peers_dirty = true;
        self.applied = index;
        // Proposals at or below the snapshot may or may not be in it: leave them to time out.
        self.expected.retain(|i, _| *i > index);
        self.snapshots_installed += 1;
        self.release_reads();
        tracing::info!(
            node = self.id,
            index,
            term = snap.get_metadata().term,
            "installed snapshot"
        );
        Ok(())
    }

    fn on_read_state(&mut self, rs: ReadState) {
        let Some(seq) = self.own_seq(&rs.request_ctx) else {
            return;
        };
        if let Some((deadline, reply)) = self.reads.remove(&seq) {
            if self.applied >= rs.index {
                let _ = reply.send(Ok(rs.index));
            } else {
                self.reads_ready
                    .entry(rs.index)
                    .or_default()
                    .push((deadline, reply));
            }
        }
    }

    fn release_reads(&mut self) {
        while let Some(entry) = self.reads_ready.first_entry() {
            if *entry.key() > self.applied {
                break;
            }
            let index = *entry.key();
            for (_, r) in entry.remove() {
                let _ = r.send(Ok(index));
            }
        }
    }

    /// Applies committed entries: runs of normal entries go to the state machine as one batch
    /// (see [`StateMachine::apply_batch`]); a membership change ends a run. Proposers are
    /// answered in log order once their entry's run is applied.
    fn apply_entries(&mut self, entries: Vec<Entry>) {
        if entries.is_empty() {
            return;
        }
        let mut run: Vec<Committed<'_>> = Vec::new();
        // (index, proposer, result when it is not the state machine's)
        let mut answers: Vec<(u64, Option<u64>, Option<Vec<u8>>)> = Vec::new();
        for e in &entries {
            let index = e.index;
            if index <= self.applied {
                continue;
            }
            let mine = self.own_seq(&e.context);
            match e.get_entry_type() {
                EntryType::EntryNormal => {
                    let decoded = mine.and_then(|seq| self.proposals.get_mut(&seq)?.decoded.take());
                    if e.data.is_empty() || index <= self.fsm.applied_index() {
                        answers.push((index, mine, Some(Vec::new())));
                    } else {
                        run.push(Committed {
                            index,
                            data: &e.data,
                            decoded,
                            wanted: mine.is_some(),
                        });
                        answers.push((index, mine, None));
                    }
                    self.applied = index;
                }
                EntryType::EntryConfChange | EntryType::EntryConfChangeV2 => {
                    self.apply_run(std::mem::take(&mut run), std::mem::take(&mut answers));
                    let outcome = self.apply_conf_change(e);
                    self.applied = index;
                    self.resolve(index, mine, outcome.map(|()| Vec::new()));
                }
            }
        }
        self.apply_run(run, answers);
        self.release_reads();
    }

    /// Applies one run of normal entries and answers their proposers, in log order.
    fn apply_run(
        &mut self,
        run: Vec<Committed<'_>>,
        answers: Vec<(u64, Option<u64>, Option<Vec<u8>>)>,
    ) {
        let expected = run.len();
        let mut results = if run.is_empty() {
            Vec::new()
        } else {
            self.fsm.apply_batch(run)
        }
        .into_iter();
        if results.len() != expected {
            tracing::error!(
                node = self.id,
                expected,
                got = results.len(),
                "state machine returned the wrong number of results"
            );
        }
        for (index, mine, own) in answers {
            let result = match own {
                Some(r) => r,
                None => results.next().unwrap_or_default(),
            };
            self.resolve(index, mine, Ok(result));
        }
    }

    fn apply_conf_change(&mut self, e: &Entry) -> Result<(), RaftError> {
        let cc = match conf_change_of(e) {
            Ok(cc) => cc,
            Err(err) => {
                tracing::error!(node = self.id, index = e.index, error = %err, "undecodable conf change; skipped");
                return Err(RaftError::ConfChangeRejected(err.to_string()));
            }
        };
        match self.node.apply_conf_change(&cc) {
            Ok(cs) => {
                let addr = String::from_utf8_lossy(&cc.context).into_owned();
                for ch in cc.get_changes() {
                    match ch.get_change_type() {
                        ConfChangeType::AddNode | ConfChangeType::AddLearnerNode => {
                            if !addr.is_empty() {
                                self.peers.insert(ch.node_id, addr.clone());
                            }
                        }
                        ConfChangeType::RemoveNode => {
                            self.peers.remove(&ch.node_id);
                        }
                    }
                }
                self.peers_dirty = true;
                tracing::info!(node = self.id, index = e.index, voters = ?cs.voters, learners = ?cs.learners, "membership changed");
                Ok(())
            }
            Err(err) => {
                tracing::warn!(node = self.id, index = e.index, error = %err, "conf change rejected");
                Err(RaftError::ConfChangeRejected(err.to_string()))
            }
        }
    }

    /// The sequence number of the request of this node's current incarnation that `ctx`
    /// names (a proposal, a conf change or a read), if it names one. An entry whose context
    /// names a proposal carries exactly the data proposed with it.
    fn own_seq(&self, ctx: &[u8]) -> Option<u64> {
        let (origin, inc, seq) = decode_ctx(ctx)?;
        (origin == self.id && inc == self.incarnation).then_some(seq)
    }

    /// Answers the proposal behind the entry at `index` (`mine`: its sequence number when
    /// this node proposed it), and fails a proposal this node expected at `index` when another
    /// entry took its place.
    fn resolve(&mut self, index: u64, mine: Option<u64>, outcome: Result<Vec<u8>, RaftError>) {
        if let Some(seq) = self.expected.remove(&index) {
            if mine != Some(seq) {
                if let Some(p) = self.proposals.remove(&seq) {
                    p.waiter.fail(RaftError::Dropped);
                }
            }
        }
        let Some(seq) = mine else { return };
        let Some(p) = self.proposals.remove(&seq) else {
            return;
        };
        match (p.waiter, outcome) {
            (Waiter::Write(r), Ok(v)) => {
                let _ = r.send(Ok((index, v)));
            }
            (Waiter::Conf(r), Ok(_)) => {
                let _ = r.send(Ok(index));
            }
            (w, Err(e)) => w.fail(e),
        }
    }

    /// Logs leadership changes and fails reads that a change of leader or term has lost.
    fn observe_changes(&mut self) {
        let r = &self.node.raft;
        let now = (r.term, r.leader_id, Role::from(r.state));
        if now == self.observed {
            return;
        }
        let (old_term, _, old_role) = self.observed;
        self.observed = now;
        if now.2 == Role::Leader && old_role != Role::Leader {
            tracing::info!(node = self.id, term = now.0, "became leader");
        } else if now.1 != raft::INVALID_ID && now.1 != self.id {
            tracing::debug!(node = self.id, term = now.0, leader = now.1, "following");
        }
        if now.0 != old_term || (old_role == Role::Leader && r.state != StateRole::Leader) {
            for (_, (_, reply)) in std::mem::take(&mut self.reads) {
                let _ = reply.send(Err(RaftError::Dropped));
            }
        }
        if now.0 != old_term {
            // Proposals this node forwarded went to a leader of an older term: nobody will
            // tell us their fate unless they show up in the log, so fail them now instead of
            // at the timeout. (Proposals appended here as leader are settled by the entry that
            // ends up at their index.)
            let expected: std::collections::BTreeSet<u64> =
                self.expected.values().copied().collect();
            let forwarded: Vec<u64> = self
                .proposals
                .keys()
                .copied()
                .filter(|seq| !expected.contains(seq))
                .collect();
            for seq in forwarded {
                if let Some(p) = self.proposals.remove(&seq) {
                    p.waiter.fail(RaftError::LeaderChanged);
                }
            }
        }
    }
}
