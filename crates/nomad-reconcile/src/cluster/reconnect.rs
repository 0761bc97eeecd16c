//! Allocations whose disconnected node came back: keep them, or keep the
//! replacements placed while they were away, according to the group's
//! `disconnect.reconcile` strategy.

use std::collections::HashSet;
use std::sync::Arc;

use nomad_types::consts::{alloc_client_status as client, reconcile_option};
use nomad_types::{Allocation, Job, TaskGroup};

use super::sets::{name_order, AllocSet};
use crate::allocs;
use crate::descriptions::{ALLOC_NOT_NEEDED, ALLOC_RECONNECTED, ALLOC_RESCHEDULED};
use crate::types::StopRequest;

/// Which of an original and its replacement survives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// The allocation that reconnected.
    Original,
    /// The allocation placed while it was disconnected.
    Replacement,
}

/// Picks the survivor of a reconnect. A replacement running a newer job
/// version always wins; otherwise the strategy decides (`best_score` for
/// unknown strategies).
pub fn pick_reconnecting(
    strategy: &str,
    tg: Option<&TaskGroup>,
    original: &Allocation,
    replacement: &Allocation,
) -> Keep {
    if allocs::job_version(replacement) > allocs::job_version(original)
        || allocs::job_create_index(replacement) > allocs::job_create_index(original)
    {
        return Keep::Replacement;
    }
    match strategy {
        reconcile_option::KEEP_ORIGINAL => Keep::Original,
        reconcile_option::KEEP_REPLACEMENT => Keep::Replacement,
        reconcile_option::LONGEST_RUNNING => longest_running(tg, original, replacement),
        _ => best_score(original, replacement),
    }
}

fn best_score(original: &Allocation, replacement: &Allocation) -> Keep {
    let better = match (
        allocs::max_norm_score(original),
        allocs::max_norm_score(replacement),
    ) {
        (None, Some(_)) => true,
        (Some(o), Some(r)) => r > o,
        _ => false,
    };
    let replacement_running = replacement.client_status == client::RUNNING;
    let original_not_running = original.client_status != client::RUNNING;
    if better && (replacement_running || original_not_running) {
        Keep::Replacement
    } else {
        Keep::Original
    }
}

/// The start of the group's leader task, else of its earliest started task.
fn started(alloc: &Allocation, tg: Option<&TaskGroup>) -> Option<i64> {
    let tg = tg?;
    let mut oldest: Option<i64> = None;
    for task in &tg.tasks {
        let start = allocs::last_start_of_task(alloc, &task.name);
        if task.leader {
            return start;
        }
        if let Some(s) = start {
            oldest = Some(oldest.map_or(s, |o: i64| o.min(s)));
        }
    }
    oldest
}

fn longest_running(
    tg: Option<&TaskGroup>,
    original: &Allocation,
    replacement: &Allocation,
) -> Keep {
    match (started(original, tg), started(replacement, tg)) {
        (None, Some(_)) => Keep::Replacement,
        (Some(_), None) => Keep::Original,
        (None, None) => best_score(original, replacement),
        (Some(o), Some(r)) => {
            if o < r {
                Keep::Original
            } else {
                Keep::Replacement
            }
        }
    }
}

/// The replacements of `alloc`, following `NextAllocation` links.
fn replacement_chain(alloc: &Allocation, all: &AllocSet) -> Vec<Arc<Allocation>> {
    let mut seen: HashSet<&str> = HashSet::new();
    seen.insert(alloc.id.as_str());
    let mut out = Vec::new();
    let mut next = alloc.next_allocation.as_str();
    while let Some(a) = all.get(next) {
        if !seen.insert(a.id.as_str()) {
            break;
        }
        out.push(a.clone());
        next = a.next_allocation.as_str();
    }
    out
}

/// User or scheduler asked the allocation to go, or it runs an old version.
fn must_not_resume(a: &Allocation, job: &Job) -> bool {
    allocs::wants_migrate(a)
        || allocs::wants_reschedule(a)
        || allocs::wants_force_reschedule(a)
        || allocs::older_than(a, job)
}

/// Decides for each reconnecting allocation whether it resumes or stops,
/// and which of its replacements stop. Returns the allocations that resume
/// and the set of everything stopped (the stop requests go to `stops`).
pub(crate) fn reconcile_reconnecting(
    reconnecting: &AllocSet,
    all: &AllocSet,
    job: &Job,
    tg: &TaskGroup,
    stops: &mut Vec<StopRequest>,
) -> (AllocSet, AllocSet) {
    let strategy = allocs::reconcile_strategy(Some(tg));
    let mut stopped = AllocSet::new();
    let mut stop = |a: &Arc<Allocation>, status: Option<&str>, desc: &str, set: &mut AllocSet| {
        if set.insert(a.id.clone(), a.clone()).is_none() {
            stops.push(StopRequest {
                alloc: a.clone(),
                client_status: status.map(str::to_string),
                description: desc.to_string(),
                followup_eval_id: None,
            });
        }
    };
    for original in name_order(reconnecting) {
        if !original.server_terminal_status() && original.client_status == client::FAILED {
            stop(
                &original,
                Some(client::FAILED),
                ALLOC_RESCHEDULED,
                &mut stopped,
            );
            continue;
        }
        if !allocs::desired_run(&original) || must_not_resume(&original, job) {
            stop(&original, None, ALLOC_NOT_NEEDED, &mut stopped);
            continue;
        }
        for replacement in replacement_chain(&original, all) {
            if replacement.server_terminal_status() {
                continue;
            }
            match pick_reconnecting(strategy, Some(tg), &original, &replacement) {
                Keep::Replacement => stop(&original, None, ALLOC_NOT_NEEDED, &mut stopped),
                Keep::Original => stop(&replacement, None, ALLOC_RECONNECTED, &mut stopped),
            }
        }
    }
    let resume = reconnecting
        .iter()
        .filter(|(id, _)| !stopped.contains_key(*id))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    (resume, stopped)
}

/// The updates that record a reconnect: for each resuming allocation still
/// running, desired to run and current, a copy with its client status
/// recorded again (so later evaluations see it reconnected).
pub(crate) fn reconnect_updates(resume: &AllocSet, job: &Job, now: i64) -> AllocSet {
    resume
        .iter()
        .filter(|(_, a)| !must_not_resume(a, job))
        .filter(|(_, a)| allocs::desired_run(a) && a.client_status == client::RUNNING)
        .map(|(id, a)| {
            (
                id.clone(),
                Arc::new(allocs::with_state_entry(a, &a.client_status, now)),
            )
        })
        .collect()
}
