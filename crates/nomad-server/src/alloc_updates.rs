//! Group commit of the clients' allocation updates (`Node.UpdateAlloc`).
//!
//! Every client reports its allocations' states as they change. Proposing
//! one Raft entry per report would make the leader's log (and each
//! follower's apply) grow with the number of clients, so reports are
//! merged: while one merged entry is in flight, the reports that arrive
//! queue up and all go into the next entry. An idle leader commits a lone
//! report at once (no timer to wait for, unlike Nomad's 50 ms batch); a
//! busy one writes bigger entries, not more of them.
//!
//! Invariant: every queued report gets exactly one answer, the result of
//! the entry it went into (an entry that fails fails all its reports; the
//! clients send them again).

use std::sync::Mutex;

use nomad_state::command::{AllocClientUpdate, ClientAllocUpdate};
use nomad_types::Evaluation;
use tokio::sync::oneshot;

use crate::error::ServerError;

/// What one entry's result is, as each of its reports sees it: the index
/// it was committed at.
pub(crate) type Outcome = Result<u64, ServerError>;

/// One client's report waiting for its entry.
pub(crate) struct Report {
    pub allocs: Vec<ClientAllocUpdate>,
    pub evals: Vec<Evaluation>,
    pub reply: oneshot::Sender<Outcome>,
}

/// The queue of reports not yet proposed, and whether a flusher runs.
#[derive(Default)]
pub(crate) struct UpdateBatcher {
    queue: Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    reports: Vec<Report>,
    flushing: bool,
}

impl UpdateBatcher {
    /// Queues a report. True when the caller must start a flusher (none
    /// runs); false when the running one will take the report.
    pub fn push(&self, r: Report) -> bool {
        let mut q = self.lock();
        q.reports.push(r);
        let start = !q.flushing;
        q.flushing = true;
        start
    }

    /// The reports queued since the last call, merged into one command
    /// with their reply channels, or `None` when there are none (the
    /// flusher then stops; the next `push` starts another).
    pub fn take(&self) -> Option<(AllocClientUpdate, Vec<oneshot::Sender<Outcome>>)> {
        let reports = {
            let mut q = self.lock();
            if q.reports.is_empty() {
                q.flushing = false;
                return None;
            }
            std::mem::take(&mut q.reports)
        };
        let mut cmd = AllocClientUpdate::default();
        let mut replies = Vec::with_capacity(reports.len());
        for r in reports {
            cmd.allocs.extend(r.allocs);
            cmd.evals.extend(r.evals);
            replies.push(r.reply);
        }
        Some((cmd, replies))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        // The queue holds no invariant a panic could break half-way.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(id: &str) -> (Report, oneshot::Receiver<Outcome>) {
        let (tx, rx) = oneshot::channel();
        let r = Report {
            allocs: vec![ClientAllocUpdate {
                id: id.into(),
                ..Default::default()
            }],
            evals: Vec::new(),
            reply: tx,
        };
        (r, rx)
    }

    #[test]
    fn one_flusher_takes_everything_queued_meanwhile() {
        let b = UpdateBatcher::default();
        let (r1, _) = report("a");
        let (r2, _) = report("b");
        let (r3, _) = report("c");
        assert!(b.push(r1), "the first report starts a flusher");
        assert!(!b.push(r2), "a running flusher takes the second");
        let (cmd, replies) = b.take().expect("queued reports");
        let ids: Vec<_> = cmd.allocs.iter().map(|u| u.id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(replies.len(), 2);
        assert!(!b.push(r3), "still flushing until the queue is seen empty");
        assert_eq!(b.take().map(|(c, _)| c.allocs.len()), Some(1));
        assert!(b.take().is_none());
        let (r4, _) = report("d");
        assert!(b.push(r4), "an idle queue needs a new flusher");
    }
}
