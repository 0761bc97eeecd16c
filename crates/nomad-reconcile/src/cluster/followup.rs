//! Follow-up evaluations: delayed reschedules of failed allocations, the
//! wait for clients to stop lost allocations (`stop_on_client_after`), and
//! the `lost_after` timeout of disconnected allocations. Allocations due
//! within [`BATCHED_FAILED_ALLOC_WINDOW`] of a batch's first one share its
//! evaluation.

use std::collections::HashMap;

use nomad_types::consts::{eval_status, eval_trigger};
use nomad_types::{Evaluation, GoTime, Job};

use super::sets::{AllocSet, Delayed};
use crate::allocs;
use crate::descriptions;
use crate::reschedule::BATCHED_FAILED_ALLOC_WINDOW;
use crate::types::IdFn;

/// What the follow-up evaluations copy from the job and the evaluation.
pub(crate) struct EvalTemplate<'a> {
    pub job: &'a Job,
    pub eval_id: &'a str,
    pub priority: i64,
}

impl EvalTemplate<'_> {
    fn eval(&self, id: String, trigger: &str, description: &str, wait_until: i64) -> Evaluation {
        Evaluation {
            id,
            namespace: self.job.namespace().to_string(),
            priority: self.priority,
            eval_type: self.job.job_type().to_string(),
            triggered_by: trigger.to_string(),
            job_id: self.job.id().to_string(),
            job_modify_index: self.job.modify_index.unwrap_or(0),
            status: eval_status::PENDING.to_string(),
            status_description: description.to_string(),
            wait_until: GoTime::from_unix_nanos(wait_until),
            previous_eval: self.eval_id.to_string(),
            ..Evaluation::default()
        }
    }
}

/// Allocation ID to the ID of its follow-up evaluation.
pub(crate) type FollowupIds = HashMap<String, String>;

fn sort_by_time(items: &mut [Delayed]) {
    items.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.alloc.id.cmp(&b.alloc.id)));
}

/// Batched evaluations for delayed reschedules (or lost-allocation waits).
/// As in Nomad, the first evaluation carries `trigger` and a description;
/// further batches are plain `alloc-failure` evaluations.
pub(crate) fn later_evals(
    t: &EvalTemplate<'_>,
    items: &mut [Delayed],
    trigger: &str,
    new_id: &mut IdFn<'_>,
) -> (FollowupIds, Vec<Evaluation>) {
    let mut ids = FollowupIds::new();
    let mut evals: Vec<Evaluation> = Vec::new();
    if items.is_empty() {
        return (ids, evals);
    }
    sort_by_time(items);
    let mut batch_start = items[0].at;
    evals.push(t.eval(
        new_id(),
        trigger,
        descriptions::EVAL_RESCHEDULING_FOLLOWUP,
        batch_start,
    ));
    for item in items.iter() {
        if item.at.saturating_sub(batch_start) >= BATCHED_FAILED_ALLOC_WINDOW {
            batch_start = item.at;
            evals.push(t.eval(new_id(), eval_trigger::RETRY_FAILED_ALLOC, "", batch_start));
        }
        if let Some(e) = evals.last() {
            ids.insert(item.alloc.id.clone(), e.id.clone());
        }
    }
    (ids, evals)
}

/// Batched evaluations that fire when disconnected allocations' `lost_after`
/// runs out.
pub(crate) fn timeout_evals(
    t: &EvalTemplate<'_>,
    disconnecting: &AllocSet,
    now: i64,
    new_id: &mut IdFn<'_>,
) -> (FollowupIds, Vec<Evaluation>) {
    let mut items: Vec<Delayed> = disconnecting
        .values()
        .map(|a| Delayed {
            alloc: a.clone(),
            at: allocs::disconnect_timeout(a, now),
        })
        .collect();
    let mut ids = FollowupIds::new();
    let mut evals: Vec<Evaluation> = Vec::new();
    if items.is_empty() {
        return (ids, evals);
    }
    sort_by_time(&mut items);
    let mut batch_start = items[0].at;
    let trigger = eval_trigger::MAX_DISCONNECT_TIMEOUT;
    let desc = descriptions::EVAL_DISCONNECT_TIMEOUT_FOLLOWUP;
    evals.push(t.eval(new_id(), trigger, desc, batch_start));
    for item in &items {
        if item.at.saturating_sub(batch_start) >= BATCHED_FAILED_ALLOC_WINDOW {
            batch_start = item.at;
            evals.push(t.eval(new_id(), trigger, desc, batch_start));
        }
        if let Some(e) = evals.last() {
            ids.insert(item.alloc.id.clone(), e.id.clone());
        }
    }
    (ids, evals)
}

/// Lost allocations whose group asks clients to stop them after a
/// disconnect (`stop_on_client_after`) and whose wait is not over yet.
pub(crate) fn delay_by_stop_after(lost: &AllocSet, now: i64) -> Vec<Delayed> {
    lost.values()
        .filter(|a| allocs::should_client_stop(a))
        .filter_map(|a| {
            let at = allocs::wait_client_stop(a, now);
            (at > now).then(|| Delayed {
                alloc: a.clone(),
                at,
            })
        })
        .collect()
}
