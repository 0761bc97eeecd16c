//! When a failed allocation may be replaced: reschedule delays and
//! eligibility, exactly as Nomad computes them.
//!
//! Times are nanoseconds since the Unix epoch and durations are
//! nanoseconds, both `i64` like Go's `UnixNano` and `time.Duration`. The
//! caller supplies "now" and every time; nothing here reads a clock.
//!
//! The delay before the next attempt depends on the policy's function and
//! on the previous attempts' delays (the allocation's reschedule events):
//! * `constant`: always `delay`;
//! * `exponential`: twice the last delay;
//! * `fibonacci`: the sum of the last two delays (with one event, `delay`);
//!   after a series hit the ceiling and restarted (last two delays are
//!   `max_delay` then `delay`), it starts over from `delay`;
//! * exponential and fibonacci delays are capped at `max_delay` (when set);
//!   and when capped, if the allocation ran longer than `max_delay` since
//!   its last reschedule, the delay resets to `delay`.
//!
//! Eligibility: `unlimited` policies always allow another attempt; otherwise
//! at most `attempts` reschedules within the trailing `interval`, and the
//! next delay must be shorter than the interval.

use std::str::FromStr;

use thiserror::Error;

/// One second in nanoseconds.
pub const SECOND: i64 = 1_000_000_000;
/// One minute in nanoseconds.
pub const MINUTE: i64 = 60 * SECOND;
/// One hour in nanoseconds.
pub const HOUR: i64 = 60 * MINUTE;

/// The shortest `interval` job validation accepts.
pub const MIN_INTERVAL: i64 = 15 * SECOND;
/// The shortest `delay` (and `max_delay`) job validation accepts.
pub const MIN_DELAY: i64 = 5 * SECOND;
/// A failed allocation due within this window of now is rescheduled now
/// rather than through a delayed follow-up evaluation.
pub const RESCHEDULE_WINDOW: i64 = SECOND;
/// Failed allocations due within this window of each other share one
/// follow-up evaluation.
pub const BATCHED_FAILED_ALLOC_WINDOW: i64 = 5 * SECOND;

/// How successive reschedule delays grow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DelayFunction {
    /// The same delay every time.
    Constant,
    /// Doubling.
    Exponential,
    /// Fibonacci progression.
    Fibonacci,
}

/// A delay function name other than `constant`, `exponential`, `fibonacci`.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error(
    "invalid delay function {0:?}, must be one of \"constant\", \"exponential\", \"fibonacci\""
)]
pub struct UnknownDelayFunction(pub String);

impl FromStr for DelayFunction {
    type Err = UnknownDelayFunction;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "constant" => Ok(DelayFunction::Constant),
            "exponential" => Ok(DelayFunction::Exponential),
            "fibonacci" => Ok(DelayFunction::Fibonacci),
            _ => Err(UnknownDelayFunction(s.to_owned())),
        }
    }
}

impl DelayFunction {
    /// The jobspec spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DelayFunction::Constant => "constant",
            DelayFunction::Exponential => "exponential",
            DelayFunction::Fibonacci => "fibonacci",
        }
    }
}

/// A task group's `reschedule` block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReschedulePolicy {
    /// Reschedules allowed per `interval` (ignored when `unlimited`).
    pub attempts: u32,
    /// The trailing window `attempts` applies to.
    pub interval: i64,
    /// The base delay.
    pub delay: i64,
    /// How the delay grows.
    pub delay_function: DelayFunction,
    /// Ceiling for growing delays (0 = none).
    pub max_delay: i64,
    /// No limit on attempts.
    pub unlimited: bool,
}

impl ReschedulePolicy {
    /// Nomad's default for service jobs: unlimited, exponential from 30s,
    /// capped at 1h.
    pub const DEFAULT_SERVICE: ReschedulePolicy = ReschedulePolicy {
        attempts: 0,
        interval: 0,
        delay: 30 * SECOND,
        delay_function: DelayFunction::Exponential,
        max_delay: HOUR,
        unlimited: true,
    };

    /// Nomad's default for batch jobs: one attempt per 24h, constant 5s.
    pub const DEFAULT_BATCH: ReschedulePolicy = ReschedulePolicy {
        attempts: 1,
        interval: 24 * HOUR,
        delay: 5 * SECOND,
        delay_function: DelayFunction::Constant,
        max_delay: 0,
        unlimited: false,
    };

    /// Whether the policy allows any rescheduling.
    pub fn enabled(&self) -> bool {
        self.attempts > 0 || self.unlimited
    }
}

/// A previous reschedule of the allocation's lineage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RescheduleEvent {
    /// When the reschedule happened (ns since the epoch).
    pub reschedule_time: i64,
    /// The delay that was applied.
    pub delay: i64,
}

/// An allocation's reschedule tracker. Nomad distinguishes a tracker whose
/// event list is absent (`events: None`) from one with an empty list; the
/// two differ in [`next_reschedule_time_at`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RescheduleTracker<'a> {
    /// Previous reschedules, oldest first.
    pub events: Option<&'a [RescheduleEvent]>,
    /// Whether the last attempt to reschedule failed to find a placement.
    pub last_reschedule_failed: bool,
}

fn events<'a>(tracker: Option<&RescheduleTracker<'a>>) -> &'a [RescheduleEvent] {
    tracker.and_then(|t| t.events).unwrap_or(&[])
}

/// The delay before the next reschedule of an allocation whose last task
/// event happened at `last_event_time` (its failure time). No policy means
/// no delay.
pub fn next_delay(
    policy: Option<&ReschedulePolicy>,
    tracker: Option<&RescheduleTracker<'_>>,
    last_event_time: i64,
) -> i64 {
    let Some(policy) = policy else {
        return 0;
    };
    let events = events(tracker);
    let Some(last) = events.last() else {
        return policy.delay;
    };
    let mut delay = match policy.delay_function {
        DelayFunction::Constant => return policy.delay,
        DelayFunction::Exponential => last.delay.wrapping_mul(2),
        DelayFunction::Fibonacci => match events {
            [.., before, last] => {
                if before.delay == policy.max_delay && last.delay == policy.delay {
                    // The previous series hit the ceiling and was reset.
                    last.delay
                } else {
                    last.delay.wrapping_add(before.delay)
                }
            }
            _ => policy.delay,
        },
    };
    if policy.max_delay > 0 && delay > policy.max_delay {
        delay = policy.max_delay;
        let ran_for = last_event_time.wrapping_sub(last.reschedule_time);
        if ran_for > delay {
            delay = policy.delay;
        }
    }
    delay
}

/// How many reschedules happened within the policy's interval before
/// `fail_time`, and how many are allowed: `(attempted, attempts)`. Unlimited
/// policies count nothing.
pub fn attempts_in_interval(
    policy: Option<&ReschedulePolicy>,
    tracker: Option<&RescheduleTracker<'_>>,
    fail_time: i64,
) -> (u32, u32) {
    let Some(policy) = policy else {
        return (0, 0);
    };
    if policy.attempts == 0 {
        return (0, 0);
    }
    let attempted = events(tracker)
        .iter()
        .filter(|e| fail_time.wrapping_sub(e.reschedule_time) < policy.interval)
        .count();
    (attempted.min(u32::MAX as usize) as u32, policy.attempts)
}

/// Whether an allocation that failed at `fail_time` may be rescheduled
/// under its policy (Nomad's `RescheduleEligible`).
pub fn reschedule_eligible(
    policy: Option<&ReschedulePolicy>,
    tracker: Option<&RescheduleTracker<'_>>,
    fail_time: i64,
) -> bool {
    let Some(p) = policy else {
        return false;
    };
    if !p.enabled() {
        return false;
    }
    if p.unlimited {
        return true;
    }
    if events(tracker).is_empty() {
        return true;
    }
    let (attempted, attempts) = attempts_in_interval(policy, tracker, fail_time);
    attempted < attempts
}

/// When an allocation may next be rescheduled, and whether it may at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NextReschedule {
    /// The earliest time (ns since the epoch).
    pub at: i64,
    /// Whether another reschedule is allowed.
    pub eligible: bool,
}

/// Nomad's `nextRescheduleTime`: `fail_time` plus [`next_delay`], eligible
/// when unlimited, or when attempts are limited and either there is no
/// tracker or the attempts within the interval are not used up and the
/// delay is shorter than the interval.
pub fn next_reschedule_time_at(
    policy: &ReschedulePolicy,
    tracker: Option<&RescheduleTracker<'_>>,
    fail_time: i64,
    last_event_time: i64,
) -> NextReschedule {
    let delay = next_delay(Some(policy), tracker, last_event_time);
    let at = fail_time.saturating_add(delay);
    let mut eligible = policy.unlimited || (policy.attempts > 0 && tracker.is_none());
    if policy.attempts > 0 {
        if let Some(RescheduleTracker {
            events: Some(_), ..
        }) = tracker
        {
            let (attempted, attempts) = attempts_in_interval(Some(policy), tracker, fail_time);
            eligible = attempted < attempts && delay < policy.interval;
        }
    }
    NextReschedule { at, eligible }
}

/// The allocation facts Nomad's `NextRescheduleTime` looks at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AllocRescheduleState {
    /// Desired status is `stop`.
    pub desired_stop: bool,
    /// Client status is `failed` or `lost`.
    pub failed_or_lost: bool,
    /// A batch job's allocation whose desired transition asks for a
    /// reschedule.
    pub batch_reschedule_requested: bool,
}

/// Nomad's `NextRescheduleTime` for an allocation that failed at
/// `fail_time` (its [`last_event_time`]): `None` (Nomad's zero time, not
/// eligible) when the policy is absent or disabled, when the allocation was
/// stopped (unless its last reschedule failed to place), or when it neither
/// failed nor was lost (unless it is a batch allocation marked for
/// rescheduling).
pub fn next_reschedule_time(
    policy: Option<&ReschedulePolicy>,
    state: AllocRescheduleState,
    tracker: Option<&RescheduleTracker<'_>>,
    fail_time: i64,
) -> Option<NextReschedule> {
    let policy = policy.filter(|p| p.enabled())?;
    let last_failed = tracker.is_some_and(|t| t.last_reschedule_failed);
    if (state.desired_stop && !last_failed)
        || (!state.batch_reschedule_requested && !state.failed_or_lost)
    {
        return None;
    }
    Some(next_reschedule_time_at(
        policy, tracker, fail_time, fail_time,
    ))
}

/// An allocation's failure time: the latest `finished_at` among its tasks
/// (`None` = never finished), or its modify time if no task finished.
pub fn last_event_time<I: IntoIterator<Item = Option<i64>>>(
    finished_at: I,
    modify_time: i64,
) -> i64 {
    finished_at
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(modify_time)
}

/// What the reconciler does with a failed allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RescheduleDecision {
    /// Replace it in this evaluation.
    Now,
    /// Create a follow-up evaluation for its reschedule time.
    Later,
    /// Leave it (not eligible, or a follow-up evaluation already exists).
    Neither,
}

/// The reconciler's final step for a failed allocation: reschedule now when
/// eligible and either this is its follow-up evaluation or its time is at
/// most [`RESCHEDULE_WINDOW`] away; later when eligible and it has no
/// follow-up evaluation yet.
pub fn reschedule_decision(
    next: NextReschedule,
    now: i64,
    is_followup_eval: bool,
    has_followup_eval: bool,
) -> RescheduleDecision {
    if next.eligible && (is_followup_eval || next.at.saturating_sub(now) <= RESCHEDULE_WINDOW) {
        RescheduleDecision::Now
    } else if next.eligible && !has_followup_eval {
        RescheduleDecision::Later
    } else {
        RescheduleDecision::Neither
    }
}

#[cfg(test)]
#[path = "reschedule_tests.rs"]
mod tests;
