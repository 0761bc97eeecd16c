//! Blocked evaluations (leader only): evaluations whose placements did not
//! fit, held until capacity changes (Nomad's `nomad/blocked_evals.go`).
//!
//! Simplification: every capacity change (node registered or ready or made
//! eligible, allocation stopped or terminal) unblocks every blocked
//! evaluation; class eligibility is not consulted. The unblock index closes
//! the race where capacity changes while an evaluation is being scheduled:
//! an evaluation blocked on a snapshot older than the last unblock is
//! handed back at once.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use nomad_types::Evaluation;

#[derive(Default)]
struct State {
    enabled: bool,
    by_job: HashMap<(String, String), Evaluation>,
    unblock_index: u64,
}

/// What blocking an evaluation did.
#[derive(Debug, Default)]
pub struct BlockOutcome {
    /// An older blocked evaluation of the same job, to cancel.
    pub cancelled: Option<Evaluation>,
    /// The evaluation itself when capacity changed since its snapshot: enqueue it now.
    pub unblock_now: Option<Evaluation>,
}

/// The blocked set.
#[derive(Default)]
pub struct BlockedEvals {
    state: Mutex<State>,
}

impl BlockedEvals {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Enables, or disables and empties.
    pub fn set_enabled(&self, enabled: bool) {
        let mut s = self.lock();
        if !enabled {
            *s = State::default();
        }
        s.enabled = enabled;
    }

    /// Number of blocked evaluations.
    pub fn len(&self) -> usize {
        self.lock().by_job.len()
    }

    /// True when nothing is blocked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Blocks an evaluation (one per job: an older one is returned to cancel).
    pub fn block(&self, eval: Evaluation) -> BlockOutcome {
        let mut s = self.lock();
        let mut out = BlockOutcome::default();
        if !s.enabled {
            return out;
        }
        if eval.snapshot_index != 0 && eval.snapshot_index < s.unblock_index {
            out.unblock_now = Some(eval);
            return out;
        }
        let key = (eval.namespace.clone(), eval.job_id.clone());
        if let Some(old) = s.by_job.insert(key, eval.clone()) {
            if old.id != eval.id {
                out.cancelled = Some(old);
            }
        }
        out
    }

    /// Capacity changed at `index`: every blocked evaluation is returned.
    pub fn unblock(&self, index: u64) -> Vec<Evaluation> {
        let mut s = self.lock();
        s.unblock_index = s.unblock_index.max(index);
        s.by_job.drain().map(|(_, e)| e).collect()
    }

    /// Forgets a job's blocked evaluation (job deregistered).
    pub fn untrack(&self, namespace: &str, job_id: &str) -> Option<Evaluation> {
        self.lock()
            .by_job
            .remove(&(namespace.to_string(), job_id.to_string()))
    }
}
