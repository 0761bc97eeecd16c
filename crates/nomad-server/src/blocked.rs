//! Blocked evaluations (leader only): evaluations whose placements did not
//! fit, held until capacity changes where they could use it (Nomad's
//! `nomad/blocked_evals.go`).
//!
//! An evaluation is *captured* when the scheduler could judge every node it
//! saw by its computed class: it records, per class, whether the job could
//! run there (`ClassEligibility`). A capacity change on a class unblocks the
//! captured evaluations that found the class eligible or never saw it (a
//! class that joined since); a class the evaluation found ineligible is
//! ignored. An evaluation whose constraints use unique attributes
//! (`${node.unique.name}`, …) has *escaped* computed classes: any capacity
//! change may help it, so it is unblocked on every change.
//!
//! At most one blocked evaluation is kept per job: blocking a second one
//! keeps the newer (by its create or snapshot index) and hands back the
//! other to be cancelled.
//!
//! The unblock indexes close the race where capacity changes while an
//! evaluation is in the scheduler: an evaluation blocked on a snapshot older
//! than a later unblock of a class it could use (or, escaped, of any class)
//! is handed back at once. Indexes older than 15 minutes are pruned, as in
//! Nomad.
//!
//! Differences from Nomad, on purpose: no quotas (an Enterprise feature) and
//! no per-node tracking of blocked system evaluations; system evaluations
//! follow the same class rules.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nomad_types::consts::eval_trigger;
use nomad_types::Evaluation;

/// Unblock indexes older than this are forgotten (Nomad's `pruneThreshold`).
pub const PRUNE_THRESHOLD: Duration = Duration::from_secs(15 * 60);
/// How often the unblock indexes are pruned (Nomad's `pruneInterval`).
pub const PRUNE_INTERVAL: Duration = Duration::from_secs(5 * 60);

type JobKey = (String, String);

struct State {
    enabled: bool,
    /// Evaluation ID → evaluation, for evaluations captured by classes.
    captured: HashMap<String, Evaluation>,
    /// Evaluation ID → evaluation, for evaluations that escaped classes.
    escaped: HashMap<String, Evaluation>,
    /// (namespace, job) → the job's blocked evaluation ID.
    jobs: HashMap<JobKey, String>,
    /// Computed class → (index of its last unblock, when).
    unblock_indexes: HashMap<String, (u64, Instant)>,
    last_prune: Instant,
}

impl Default for State {
    fn default() -> Self {
        State {
            enabled: false,
            captured: HashMap::new(),
            escaped: HashMap::new(),
            jobs: HashMap::new(),
            unblock_indexes: HashMap::new(),
            last_prune: Instant::now(),
        }
    }
}

/// What blocking an evaluation did.
#[derive(Debug, Default)]
pub struct BlockOutcome {
    /// A blocked evaluation of the same job that is no longer needed (the
    /// older of the two, which may be the one just offered): cancel it.
    pub cancelled: Option<Evaluation>,
    /// The evaluation itself when capacity it could use changed since its
    /// snapshot: enqueue it now.
    pub unblock_now: Option<Evaluation>,
}

/// Counts of the blocked set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlockedStats {
    /// Blocked evaluations.
    pub total_blocked: usize,
    /// Of which escaped computed classes.
    pub total_escaped: usize,
}

/// The blocked set.
#[derive(Default)]
pub struct BlockedEvals {
    state: Mutex<State>,
}

/// The larger of an evaluation's create and snapshot indexes.
fn latest_eval_index(e: &Evaluation) -> u64 {
    e.create_index.max(e.snapshot_index)
}

impl State {
    /// Whether `eval` was scheduled before an unblock it should have seen.
    fn missed_unblock(&self, eval: &Evaluation) -> bool {
        let mut max = 0;
        for (class, (index, _)) in &self.unblock_indexes {
            max = max.max(*index);
            let seen_before = eval.snapshot_index < *index;
            match eval.class_eligibility.get(class) {
                // A class that appeared after the snapshot, or an eligible one
                // that changed since.
                None | Some(true) if seen_before => return true,
                _ => {}
            }
        }
        eval.escaped_computed_class && eval.snapshot_index < max
    }

    fn remove(&mut self, id: &str) -> Option<Evaluation> {
        self.captured.remove(id).or_else(|| self.escaped.remove(id))
    }

    fn prune(&mut self, now: Instant) {
        if now.duration_since(self.last_prune) < PRUNE_INTERVAL {
            return;
        }
        self.last_prune = now;
        self.unblock_indexes
            .retain(|_, (_, at)| now.duration_since(*at) < PRUNE_THRESHOLD);
    }
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
        let s = self.lock();
        s.captured.len() + s.escaped.len()
    }

    /// True when nothing is blocked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Counts of blocked and escaped evaluations.
    pub fn stats(&self) -> BlockedStats {
        let s = self.lock();
        BlockedStats {
            total_blocked: s.captured.len() + s.escaped.len(),
            total_escaped: s.escaped.len(),
        }
    }

    /// Whether the evaluation is held here.
    pub fn contains(&self, eval_id: &str) -> bool {
        let s = self.lock();
        s.captured.contains_key(eval_id) || s.escaped.contains_key(eval_id)
    }

    /// Blocks an evaluation: one per job (the older one is returned to
    /// cancel), and handed back at once if it missed an unblock.
    pub fn block(&self, eval: Evaluation) -> BlockOutcome {
        let mut s = self.lock();
        let mut out = BlockOutcome::default();
        if !s.enabled {
            return out;
        }
        let key = (eval.namespace.clone(), eval.job_id.clone());
        if let Some(existing_id) = s.jobs.get(&key).cloned() {
            if existing_id == eval.id {
                // Already held (the same evaluation routed twice).
                return out;
            }
            match s.remove(&existing_id) {
                Some(existing) if latest_eval_index(&existing) > latest_eval_index(&eval) => {
                    // The one held is newer: keep it, cancel the new one.
                    let id = existing.id.clone();
                    if existing.escaped_computed_class {
                        s.escaped.insert(id, existing);
                    } else {
                        s.captured.insert(id, existing);
                    }
                    out.cancelled = Some(eval);
                    return out;
                }
                Some(existing) => out.cancelled = Some(existing),
                None => {}
            }
            s.jobs.remove(&key);
        }
        if s.missed_unblock(&eval) {
            out.unblock_now = Some(eval);
            return out;
        }
        s.jobs.insert(key, eval.id.clone());
        if eval.escaped_computed_class {
            s.escaped.insert(eval.id.clone(), eval);
        } else {
            s.captured.insert(eval.id.clone(), eval);
        }
        out
    }

    /// Capacity changed at `index` on nodes of `computed_class`: returns
    /// every escaped evaluation, and every captured one that found the
    /// class eligible or never saw it.
    pub fn unblock(&self, computed_class: &str, index: u64) -> Vec<Evaluation> {
        self.unblock_classes([computed_class], index)
    }

    /// [`unblock`](Self::unblock) for several classes at once.
    pub fn unblock_classes<'a>(
        &self,
        classes: impl IntoIterator<Item = &'a str>,
        index: u64,
    ) -> Vec<Evaluation> {
        let mut s = self.lock();
        if !s.enabled {
            return Vec::new();
        }
        let now = Instant::now();
        s.prune(now);
        let classes: Vec<&str> = classes.into_iter().collect();
        if classes.is_empty() {
            return Vec::new();
        }
        for c in &classes {
            let slot = s.unblock_indexes.entry(c.to_string()).or_insert((0, now));
            *slot = (slot.0.max(index), now);
        }
        let mut out: Vec<Evaluation> = s.escaped.drain().map(|(_, e)| e).collect();
        let ids: Vec<String> = s
            .captured
            .iter()
            .filter(|(_, e)| {
                classes
                    .iter()
                    .any(|c| e.class_eligibility.get(*c) != Some(&false))
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            if let Some(e) = s.captured.remove(&id) {
                out.push(e);
            }
        }
        for e in &out {
            s.jobs.remove(&(e.namespace.clone(), e.job_id.clone()));
        }
        out
    }

    /// Returns the evaluations blocked because their scheduler ran out of
    /// plan attempts (`max-plan-attempts`); the leader retries them
    /// periodically, as Nomad does every minute.
    pub fn unblock_failed(&self) -> Vec<Evaluation> {
        let mut s = self.lock();
        if !s.enabled {
            return Vec::new();
        }
        let ids: Vec<String> = s
            .captured
            .iter()
            .chain(s.escaped.iter())
            .filter(|(_, e)| e.triggered_by == eval_trigger::MAX_PLANS)
            .map(|(id, _)| id.clone())
            .collect();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(e) = s.remove(&id) {
                s.jobs.remove(&(e.namespace.clone(), e.job_id.clone()));
                out.push(e);
            }
        }
        out
    }

    /// Forgets a job's blocked evaluation (job deregistered, or an
    /// evaluation of the job completed with everything placed).
    pub fn untrack(&self, namespace: &str, job_id: &str) -> Option<Evaluation> {
        let mut s = self.lock();
        let id = s
            .jobs
            .remove(&(namespace.to_string(), job_id.to_string()))?;
        s.remove(&id)
    }

    /// Forgets `eval` if it is the one held for its job (it was cancelled
    /// or otherwise finished elsewhere).
    pub fn untrack_eval(&self, eval: &Evaluation) -> Option<Evaluation> {
        let mut s = self.lock();
        let key = (eval.namespace.clone(), eval.job_id.clone());
        if s.jobs.get(&key) != Some(&eval.id) {
            return None;
        }
        s.jobs.remove(&key);
        s.remove(&eval.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(id: &str, job: &str, classes: &[(&str, bool)], escaped: bool) -> Evaluation {
        Evaluation {
            id: id.into(),
            namespace: "default".into(),
            job_id: job.into(),
            status: "blocked".into(),
            class_eligibility: classes.iter().map(|(c, e)| (c.to_string(), *e)).collect(),
            escaped_computed_class: escaped,
            create_index: 10,
            snapshot_index: 9,
            ..Evaluation::default()
        }
    }

    fn enabled() -> BlockedEvals {
        let b = BlockedEvals::default();
        b.set_enabled(true);
        b
    }

    fn ids(v: Vec<Evaluation>) -> Vec<String> {
        let mut v: Vec<String> = v.into_iter().map(|e| e.id).collect();
        v.sort();
        v
    }

    #[test]
    fn ineligible_class_does_not_unblock_but_eligible_and_unseen_do() {
        let b = enabled();
        b.block(eval(
            "a",
            "ja",
            &[("v1:cpu", false), ("v1:gpu", true)],
            false,
        ));
        b.block(eval(
            "b",
            "jb",
            &[("v1:cpu", false), ("v1:gpu", false)],
            false,
        ));
        assert!(b.unblock("v1:cpu", 20).is_empty());
        assert_eq!(b.len(), 2);
        assert_eq!(ids(b.unblock("v1:gpu", 21)), ["a"]);
        // A class b never saw.
        assert_eq!(ids(b.unblock("v1:new", 22)), ["b"]);
        assert!(b.is_empty());
    }

    #[test]
    fn escaped_evals_unblock_on_any_class() {
        let b = enabled();
        b.block(eval("e", "je", &[("v1:cpu", false)], true));
        b.block(eval("c", "jc", &[("v1:cpu", false)], false));
        assert_eq!(
            b.stats(),
            BlockedStats {
                total_blocked: 2,
                total_escaped: 1
            }
        );
        assert_eq!(ids(b.unblock("v1:cpu", 20)), ["e"]);
        assert!(b.contains("c"));
    }

    #[test]
    fn one_per_job_keeping_the_newer() {
        let b = enabled();
        assert!(b.block(eval("old", "j", &[], false)).cancelled.is_none());
        let mut newer = eval("new", "j", &[], false);
        newer.create_index = 30;
        let out = b.block(newer);
        assert_eq!(out.cancelled.map(|e| e.id).as_deref(), Some("old"));
        assert_eq!(b.len(), 1);
        // An older one offered later is the duplicate.
        let out = b.block(eval("older", "j", &[], false));
        assert_eq!(out.cancelled.map(|e| e.id).as_deref(), Some("older"));
        assert!(b.contains("new") && b.len() == 1);
        assert_eq!(
            b.untrack("default", "j").map(|e| e.id).as_deref(),
            Some("new")
        );
        assert!(b.is_empty());
    }

    #[test]
    fn missed_unblocks_hand_the_eval_back() {
        let b = enabled();
        assert!(b.unblock("v1:cpu", 50).is_empty());
        // Scheduled at 40 and found cpu ineligible: nothing it missed.
        let mut e = eval("a", "ja", &[("v1:cpu", false)], false);
        e.snapshot_index = 40;
        assert!(b.block(e).unblock_now.is_none());
        // Found cpu eligible at 40: the unblock at 50 is news.
        let mut e = eval("b", "jb", &[("v1:cpu", true)], false);
        e.snapshot_index = 40;
        assert!(b.block(e).unblock_now.is_some());
        // Never saw cpu.
        let mut e = eval("c", "jc", &[], false);
        e.snapshot_index = 40;
        assert!(b.block(e).unblock_now.is_some());
        // Escaped, scheduled after the unblock.
        let mut e = eval("d", "jd", &[("v1:cpu", false)], true);
        e.snapshot_index = 60;
        assert!(b.block(e).unblock_now.is_none());
        let mut e = eval("f", "jf", &[("v1:cpu", false)], true);
        e.snapshot_index = 40;
        assert!(b.block(e).unblock_now.is_some());
        assert_eq!(b.len(), 2);
    }

    #[test]
    fn failed_evals_and_disabled_set() {
        let b = enabled();
        let mut f = eval("f", "jf", &[("v1:cpu", false)], false);
        f.triggered_by = eval_trigger::MAX_PLANS.into();
        b.block(f);
        b.block(eval("g", "jg", &[("v1:cpu", false)], false));
        assert_eq!(ids(b.unblock_failed()), ["f"]);
        b.set_enabled(false);
        assert!(b.is_empty());
        assert!(b.block(eval("h", "jh", &[], false)).cancelled.is_none());
        assert!(b.is_empty());
    }
}
