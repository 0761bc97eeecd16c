//! Facts about one allocation that the reconcilers need: its name index,
//! deployment health, the group and policies of the job version it runs,
//! reschedule timing and disconnect bookkeeping.
//!
//! Everything tolerates missing data (no job snapshot, unknown group,
//! unparseable times): a missing policy means "not rescheduled", a missing
//! disconnect block means "no disconnect handling".

use std::sync::Arc;

use nomad_types::alloc::AllocState;
use nomad_types::consts::{alloc_client_status, alloc_desired_status, job_type, reconcile_option};
use nomad_types::{Allocation, GoTime, Job, TaskGroup};

use crate::reschedule::{
    self, DelayFunction, NextReschedule, RescheduleEvent, RescheduleTracker, SECOND,
};

/// The `Field` value this crate writes on allocation state entries that
/// record a client status change. Nomad's API encodes the field as the
/// number 0, so `"0"` and an empty field are read as client status too.
pub const ALLOC_STATE_FIELD_CLIENT_STATUS: &str = "ClientStatus";

/// Nomad's default kill timeout, used when a task gives none.
const DEFAULT_KILL_TIMEOUT: i64 = 5 * SECOND;

/// `<job>.<group>[<index>]`.
pub fn alloc_name(job_id: &str, group: &str, index: u64) -> String {
    format!("{job_id}.{group}[{index}]")
}

/// The index between the last `[` and the final `]` of an allocation name;
/// 0 when the name has no readable index.
pub fn name_index(name: &str) -> u64 {
    let Some(body) = name.strip_suffix(']') else {
        return 0;
    };
    match body.rfind('[') {
        Some(open) => body[open + 1..].parse().unwrap_or(0),
        None => 0,
    }
}

/// The allocation's name index.
pub fn index_of(alloc: &Allocation) -> u64 {
    name_index(&alloc.name)
}

/// Placed as a canary.
pub fn is_canary(alloc: &Allocation) -> bool {
    alloc.deployment_status.as_ref().is_some_and(|d| d.canary)
}

/// Explicitly marked healthy by its deployment.
pub fn is_healthy(alloc: &Allocation) -> bool {
    alloc
        .deployment_status
        .as_ref()
        .is_some_and(|d| d.healthy == Some(true))
}

/// Explicitly marked unhealthy by its deployment.
pub fn is_unhealthy(alloc: &Allocation) -> bool {
    alloc
        .deployment_status
        .as_ref()
        .is_some_and(|d| d.healthy == Some(false))
}

/// The job version the allocation runs (0 without a job snapshot).
pub fn job_version(alloc: &Allocation) -> u64 {
    alloc.job.as_ref().map_or(0, |j| j.version())
}

/// The create index of the allocation's job.
pub fn job_create_index(alloc: &Allocation) -> u64 {
    alloc.job.as_ref().and_then(|j| j.create_index).unwrap_or(0)
}

/// The job modify index of the allocation's job.
pub fn job_modify_index(alloc: &Allocation) -> u64 {
    alloc
        .job
        .as_ref()
        .and_then(|j| j.job_modify_index)
        .unwrap_or(0)
}

/// The allocation's job is a batch job.
pub fn is_batch_alloc(alloc: &Allocation) -> bool {
    alloc
        .job
        .as_ref()
        .is_some_and(|j| j.job_type() == job_type::BATCH)
}

/// The allocation's job is older than `job` (lower version or create index).
pub fn older_than(alloc: &Allocation, job: &Job) -> bool {
    job_version(alloc) < job.version() || job_create_index(alloc) < job.create_index.unwrap_or(0)
}

/// The group of the job version the allocation runs.
pub fn group_of(alloc: &Allocation) -> Option<&TaskGroup> {
    alloc.job.as_ref()?.lookup_task_group(&alloc.task_group)
}

/// Desired status is `run` (an empty status counts as `run`).
pub fn desired_run(alloc: &Allocation) -> bool {
    alloc.desired_status.is_empty() || alloc.desired_status == alloc_desired_status::RUN
}

/// `DesiredTransition.Migrate`.
pub fn wants_migrate(alloc: &Allocation) -> bool {
    alloc.desired_transition.should_migrate()
}

/// `DesiredTransition.Reschedule`.
pub fn wants_reschedule(alloc: &Allocation) -> bool {
    alloc.desired_transition.reschedule.unwrap_or(false)
}

/// `DesiredTransition.ForceReschedule`.
pub fn wants_force_reschedule(alloc: &Allocation) -> bool {
    alloc.desired_transition.should_force_reschedule()
}

/// `DesiredTransition.MigrateDisablePlacement` (batch drains).
pub fn migrate_placement_disabled(alloc: &Allocation) -> bool {
    alloc
        .desired_transition
        .migrate_disable_placement
        .unwrap_or(false)
}

/// The scheduler tried to reschedule this allocation and found no node.
pub fn last_reschedule_failed(alloc: &Allocation) -> bool {
    alloc
        .reschedule_tracker
        .as_ref()
        .is_some_and(|t| !t.last_reschedule.is_empty() && t.last_reschedule != "ok")
}

// ---------------------------------------------------------------------------
// Reschedule timing

/// The group's reschedule policy in [`crate::reschedule`] form. `None` when
/// the group has none; unset fields take zero values, an unknown delay
/// function behaves as `constant`.
pub fn reschedule_policy(tg: &TaskGroup) -> Option<reschedule::ReschedulePolicy> {
    let p = tg.reschedule_policy.as_ref()?;
    Some(reschedule::ReschedulePolicy {
        attempts: p.attempts.unwrap_or(0).clamp(0, i64::from(u32::MAX)) as u32,
        interval: p.interval.map_or(0, |n| n.0),
        delay: p.delay.map_or(0, |n| n.0),
        delay_function: p
            .delay_function
            .as_deref()
            .and_then(|f| f.parse().ok())
            .unwrap_or(DelayFunction::Constant),
        max_delay: p.max_delay.map_or(0, |n| n.0),
        unlimited: p.unlimited.unwrap_or(false),
    })
}

fn tracker_events(alloc: &Allocation) -> Option<Vec<RescheduleEvent>> {
    alloc.reschedule_tracker.as_ref().map(|t| {
        t.events
            .iter()
            .map(|e| RescheduleEvent {
                reschedule_time: e.reschedule_time,
                delay: e.delay.0,
            })
            .collect()
    })
}

/// The time the allocation failed: its tasks' latest finish, else its
/// modify time.
pub fn last_event_time(alloc: &Allocation) -> i64 {
    reschedule::last_event_time(
        alloc
            .task_states
            .values()
            .map(|s| s.finished_at.to_unix_nanos()),
        alloc.modify_time,
    )
}

fn next_at(
    alloc: &Allocation,
    policy: &reschedule::ReschedulePolicy,
    fail_time: i64,
) -> NextReschedule {
    let events = tracker_events(alloc);
    let tracker = events.as_deref().map(|ev| RescheduleTracker {
        events: Some(ev),
        last_reschedule_failed: last_reschedule_failed(alloc),
    });
    reschedule::next_reschedule_time_at(policy, tracker.as_ref(), fail_time, last_event_time(alloc))
}

/// Nomad's `NextRescheduleTime`: when the failed (or lost) allocation may
/// be replaced, and whether it may at all. `None` means never.
pub fn next_reschedule_time(alloc: &Allocation) -> Option<NextReschedule> {
    let policy = group_of(alloc).and_then(reschedule_policy)?;
    if !policy.enabled() {
        return None;
    }
    let batch_requested = is_batch_alloc(alloc) && wants_reschedule(alloc);
    let failed_or_lost = matches!(
        alloc.client_status.as_str(),
        alloc_client_status::FAILED | alloc_client_status::LOST
    );
    let stopped = alloc.desired_status == alloc_desired_status::STOP;
    if (stopped && !last_reschedule_failed(alloc)) || (!batch_requested && !failed_or_lost) {
        return None;
    }
    Some(next_at(alloc, &policy, last_event_time(alloc)))
}

/// Nomad's `NextRescheduleTimeByTime`: like [`next_reschedule_time`] with
/// `fail_time` as the failure time and no status checks.
pub fn next_reschedule_time_from(alloc: &Allocation, fail_time: i64) -> Option<NextReschedule> {
    let policy = group_of(alloc).and_then(reschedule_policy)?;
    Some(next_at(alloc, &policy, fail_time))
}

// ---------------------------------------------------------------------------
// Disconnect bookkeeping

/// `disconnect.lost_after` (or the legacy `max_client_disconnect`) in
/// nanoseconds; 0 when unset.
pub fn lost_after(tg: &TaskGroup) -> i64 {
    tg.disconnect
        .as_ref()
        .and_then(|d| d.lost_after)
        .or(tg.max_client_disconnect)
        .map_or(0, |n| n.0.max(0))
}

/// `disconnect.stop_on_client_after` (or the legacy
/// `stop_after_client_disconnect`); `None` or 0 when unset.
pub fn stop_on_client_after(tg: &TaskGroup) -> Option<i64> {
    tg.disconnect
        .as_ref()
        .and_then(|d| d.stop_on_client_after)
        .or(tg.stop_after_client_disconnect)
        .map(|n| n.0)
}

/// `disconnect.replace` (or the negation of the legacy
/// `prevent_reschedule_on_lost`); true when unset.
pub fn replace_on_disconnect_tg(tg: &TaskGroup) -> bool {
    match tg.disconnect.as_ref().and_then(|d| d.replace) {
        Some(r) => r,
        None => !tg.prevent_reschedule_on_lost.unwrap_or(false),
    }
}

/// When an allocation whose node just disconnected is replaced (Nomad's
/// `RescheduleTimeOnDisconnect`): at once when its group sets
/// `disconnect.replace` explicitly (true: now; false: never), else by its
/// reschedule policy from `now`, as before `disconnect` blocks existed.
pub fn reschedule_on_disconnect(alloc: &Allocation, now: i64) -> Option<NextReschedule> {
    let explicit = group_of(alloc)
        .and_then(|tg| tg.disconnect.as_ref())
        .and_then(|d| d.replace);
    match explicit {
        Some(replace) => Some(NextReschedule {
            at: now,
            eligible: replace,
        }),
        None => next_reschedule_time_from(alloc, now),
    }
}

/// Whether the allocation may be replaced while its node is disconnected.
pub fn replace_on_disconnect(alloc: &Allocation) -> bool {
    group_of(alloc).is_none_or(replace_on_disconnect_tg)
}

/// `disconnect.reconcile`, `best_score` when unset.
pub fn reconcile_strategy(tg: Option<&TaskGroup>) -> &str {
    tg.and_then(|g| g.disconnect.as_ref())
        .and_then(|d| d.reconcile.as_deref())
        .filter(|s| !s.is_empty())
        .unwrap_or(reconcile_option::BEST_SCORE)
}

fn is_client_status_field(state: &AllocState) -> bool {
    matches!(state.field.as_str(), "" | "0") || state.field.eq_ignore_ascii_case("ClientStatus")
}

/// The client has not reported back since the allocation was marked
/// `unknown`: the latest client status entry is `unknown`.
pub fn needs_to_reconnect(alloc: &Allocation) -> bool {
    alloc
        .alloc_states
        .iter()
        .rev()
        .find(|s| is_client_status_field(s) && !s.value.is_empty())
        .is_some_and(|s| s.value == alloc_client_status::UNKNOWN)
}

/// When the allocation last became `unknown` (the start of its latest run
/// of `unknown` entries); `None` if never.
pub fn last_unknown(alloc: &Allocation) -> Option<i64> {
    let mut found: Option<&AllocState> = None;
    for s in alloc.alloc_states.iter().rev() {
        if !is_client_status_field(s) {
            continue;
        }
        if s.value == alloc_client_status::UNKNOWN {
            found = Some(s);
        } else if found.is_some() {
            break;
        }
    }
    found.and_then(|s| s.time.to_unix_nanos())
}

/// An `unknown` allocation whose `lost_after` has run out.
pub fn expired(alloc: &Allocation, now: i64) -> bool {
    if alloc.client_status != alloc_client_status::UNKNOWN {
        return false;
    }
    let (Some(since), Some(tg)) = (last_unknown(alloc), group_of(alloc)) else {
        return false;
    };
    since.saturating_add(lost_after(tg)) <= now
}

/// When an allocation that disconnects now becomes lost.
pub fn disconnect_timeout(alloc: &Allocation, now: i64) -> i64 {
    match group_of(alloc) {
        Some(tg) => now.saturating_add(lost_after(tg)),
        None => now,
    }
}

/// The group asks the client to stop allocations after a disconnect.
pub fn should_client_stop(alloc: &Allocation) -> bool {
    group_of(alloc)
        .and_then(stop_on_client_after)
        .is_some_and(|t| t != 0)
}

/// When a lost allocation's client has surely stopped it: the first time it
/// was marked lost (or now) plus `stop_on_client_after` plus the longest
/// kill timeout of its tasks.
pub fn wait_client_stop(alloc: &Allocation, now: i64) -> i64 {
    let since = alloc
        .alloc_states
        .iter()
        .find(|s| is_client_status_field(s) && s.value == alloc_client_status::LOST)
        .and_then(|s| s.time.to_unix_nanos())
        .unwrap_or(now);
    let Some(tg) = group_of(alloc) else {
        return since;
    };
    let kill = tg
        .tasks
        .iter()
        .filter_map(|t| t.kill_timeout.map(|k| k.0))
        .fold(DEFAULT_KILL_TIMEOUT, i64::max);
    since
        .saturating_add(stop_on_client_after(tg).unwrap_or(0))
        .saturating_add(kill)
}

/// A copy of `alloc` with a client status entry appended at `now`.
pub fn with_state_entry(alloc: &Allocation, value: &str, now: i64) -> Allocation {
    let mut copy = alloc.clone();
    copy.alloc_states.push(AllocState {
        field: ALLOC_STATE_FIELD_CLIENT_STATUS.to_string(),
        value: value.to_string(),
        time: GoTime::from_unix_nanos(now),
    });
    copy
}

/// The copy Nomad stores for an allocation whose node disconnected: client
/// status `unknown`, the state change recorded, and the follow-up
/// evaluation that will mark it lost.
pub fn mark_unknown(alloc: &Allocation, followup_eval_id: &str, now: i64) -> Allocation {
    let mut copy = with_state_entry(alloc, alloc_client_status::UNKNOWN, now);
    copy.client_status = alloc_client_status::UNKNOWN.to_string();
    copy.client_description = crate::descriptions::ALLOC_UNKNOWN.to_string();
    copy.followup_eval_id = followup_eval_id.to_string();
    copy
}

/// When the task last (re)started; `None` if it never started.
pub fn last_start_of_task(alloc: &Allocation, task: &str) -> Option<i64> {
    let state = alloc.task_states.get(task)?;
    if state.restarts > 0 {
        state.last_restart.to_unix_nanos()
    } else {
        state.started_at.to_unix_nanos()
    }
}

/// The normalised score of the node the allocation was placed on (the
/// first, best, entry of its score metadata).
pub fn max_norm_score(alloc: &Allocation) -> Option<f64> {
    alloc
        .metrics
        .as_ref()
        .and_then(|m| m.score_meta_data.first())
        .map(|s| s.norm_score)
}

/// Orders allocations by name index, then ID (the order Nomad stops and
/// replaces them in).
pub fn by_name_order(a: &Arc<Allocation>, b: &Arc<Allocation>) -> std::cmp::Ordering {
    index_of(a)
        .cmp(&index_of(b))
        .then_with(|| a.name.cmp(&b.name))
        .then_with(|| a.id.cmp(&b.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_indexes() {
        assert_eq!(name_index("web.cache[3]"), 3);
        assert_eq!(name_index("a.b[c].d[12]"), 12);
        assert_eq!(name_index("web.cache"), 0);
        assert_eq!(name_index("web.cache[x]"), 0);
        assert_eq!(name_index("]"), 0);
        assert_eq!(name_index(""), 0);
        assert_eq!(alloc_name("web", "cache", 7), "web.cache[7]");
    }

    #[test]
    fn reconnect_bookkeeping() {
        let mut a = Allocation::default();
        assert!(!needs_to_reconnect(&a));
        a = with_state_entry(&a, "unknown", 10 * SECOND);
        assert!(needs_to_reconnect(&a));
        assert_eq!(last_unknown(&a), Some(10 * SECOND));
        a = with_state_entry(&a, "running", 20 * SECOND);
        assert!(!needs_to_reconnect(&a));
        a = with_state_entry(&a, "unknown", 30 * SECOND);
        a = with_state_entry(&a, "unknown", 40 * SECOND);
        assert_eq!(last_unknown(&a), Some(30 * SECOND));
    }
}
