//! Defences around raft-rs for inputs it trusts blindly: duplicated forwarded proposals and
//! peers that lost their log.

use raft::eraftpb::{Message, MessageType};
use raft::StateRole;

use super::{Core, SEEN_CAP};
use crate::fsm::StateMachine;
use crate::storage::LogStore;

impl<S: LogStore, F: StateMachine> Core<S, F> {
    /// Keeps raft-rs from panicking when a peer lost its log (a server restarted with an
    /// empty data directory) while the leader still remembers its old progress:
    ///
    /// * follower side: a heartbeat may carry a commit index beyond our last entry; commit
    ///   nothing from it (raft-rs would abort on "to_commit out of range");
    /// * leader side: a rejection from a peer that has no log at all (hint 0, commit 0) while
    ///   we believe it matched entries is not stale: reset the peer to probing from the start,
    ///   so that it gets a snapshot, instead of ignoring it forever.
    pub(super) fn guard_lost_log(&mut self, msg: &mut Message) {
        let r = &mut self.node.raft;
        match msg.get_msg_type() {
            MessageType::MsgHeartbeat if msg.commit > r.raft_log.last_index() => {
                tracing::warn!(
                    node = self.id,
                    leader = msg.from,
                    commit = msg.commit,
                    last = r.raft_log.last_index(),
                    "leader believes this node has entries it does not have (was the data directory lost?)"
                );
                msg.commit = r.raft_log.committed;
                if r.raft_log.last_index() == 0 && r.term == msg.term {
                    // Tell the leader we have nothing, so that it sends a snapshot.
                    let mut nack = Message::default();
                    nack.set_msg_type(MessageType::MsgAppendResponse);
                    nack.to = msg.from;
                    nack.from = self.id;
                    nack.term = r.term;
                    nack.index = 0;
                    nack.reject = true;
                    nack.reject_hint = 0;
                    nack.commit = 0;
                    r.msgs.push(nack);
                }
            }
            MessageType::MsgAppendResponse
                if msg.reject
                    && msg.reject_hint == 0
                    && msg.commit == 0
                    && r.state == StateRole::Leader =>
            {
                let from = msg.from;
                if let Some(pr) = r.mut_prs().get_mut(from) {
                    if pr.matched > 0 {
                        tracing::warn!(
                            node = self.id,
                            peer = from,
                            matched = pr.matched,
                            "peer lost its log; resending from the start"
                        );
                        pr.matched = 0;
                        pr.become_probe();
                        pr.next_idx = 1;
                        msg.index = 0;
                    }
                }
            }
            _ => {}
        }
    }

    /// Drops forwarded proposals this leader has already appended (a duplicated message).
    pub(super) fn filter_forwarded(&mut self, msg: &mut Message) -> bool {
        let mut kept = Vec::new();
        for e in msg.take_entries().into_iter() {
            if e.context.is_empty() {
                kept.push(e);
                continue;
            }
            let key = e.context.to_vec();
            if self.seen_forwarded.insert(key.clone()) {
                self.seen_order.push_back(key);
                if self.seen_order.len() > SEEN_CAP {
                    if let Some(old) = self.seen_order.pop_front() {
                        self.seen_forwarded.remove(&old);
                    }
                }
                kept.push(e);
            }
        }
        let any = !kept.is_empty();
        msg.set_entries(kept.into());
        any
    }
}
