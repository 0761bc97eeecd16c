use super::*;

/// A fixed "now" for the tests (2023-11-14T22:13:20Z).
const NOW: i64 = 1_700_000_000 * SECOND;

fn policy(function: DelayFunction, delay: i64, max_delay: i64) -> ReschedulePolicy {
    ReschedulePolicy {
        attempts: 0,
        interval: 0,
        delay,
        delay_function: function,
        max_delay,
        unlimited: true,
    }
}

fn event(ago: i64, delay: i64) -> RescheduleEvent {
    RescheduleEvent {
        reschedule_time: NOW - ago,
        delay,
    }
}

fn tracker(events: &[RescheduleEvent]) -> RescheduleTracker<'_> {
    RescheduleTracker {
        events: Some(events),
        last_reschedule_failed: false,
    }
}

const FAILED: AllocRescheduleState = AllocRescheduleState {
    desired_stop: false,
    failed_or_lost: true,
    batch_reschedule_requested: false,
};

/// Runs Nomad's `NextRescheduleTime` for an allocation that failed `ago`
/// before NOW.
fn next(
    p: &ReschedulePolicy,
    events: Option<&[RescheduleEvent]>,
    failed_ago: i64,
) -> Option<NextReschedule> {
    let t = events.map(tracker);
    next_reschedule_time(Some(p), FAILED, t.as_ref(), NOW - failed_ago)
}

fn at(failed_ago: i64, delay: i64, eligible: bool) -> Option<NextReschedule> {
    Some(NextReschedule {
        at: NOW - failed_ago + delay,
        eligible,
    })
}

#[test]
fn defaults_match_nomad() {
    let s = ReschedulePolicy::DEFAULT_SERVICE;
    assert!(s.unlimited && s.enabled());
    assert_eq!(s.delay, 30 * SECOND);
    assert_eq!(s.max_delay, HOUR);
    assert_eq!(s.delay_function, DelayFunction::Exponential);
    let b = ReschedulePolicy::DEFAULT_BATCH;
    assert_eq!(
        (b.attempts, b.interval, b.delay),
        (1, 24 * HOUR, 5 * SECOND)
    );
    assert_eq!(b.delay_function, DelayFunction::Constant);
    assert!(!b.unlimited);
    assert_eq!(MIN_DELAY, 5 * SECOND);
    assert_eq!(MIN_INTERVAL, 15 * SECOND);
}

#[test]
fn delay_function_names() {
    for f in [
        DelayFunction::Constant,
        DelayFunction::Exponential,
        DelayFunction::Fibonacci,
    ] {
        assert_eq!(f.as_str().parse(), Ok(f));
    }
    assert!("linear".parse::<DelayFunction>().is_err());
}

// The cases below are Nomad's TestAllocation_NextDelay, in order.
#[test]
fn not_failed_or_no_policy() {
    let p = ReschedulePolicy {
        unlimited: false,
        ..policy(DelayFunction::Constant, 5 * SECOND, 0)
    };
    assert_eq!(
        next_reschedule_time(Some(&p), AllocRescheduleState::default(), None, NOW),
        None
    );
    assert_eq!(next_reschedule_time(None, FAILED, None, NOW), None);
}

#[test]
fn constant_delay() {
    let p = policy(DelayFunction::Constant, 5 * SECOND, 0);
    assert_eq!(next(&p, None, 0), at(0, 5 * SECOND, true));
    assert_eq!(next(&p, None, 2 * SECOND), at(2 * SECOND, 5 * SECOND, true));

    let limited = ReschedulePolicy {
        attempts: 2,
        interval: 10 * MINUTE,
        unlimited: false,
        ..p
    };
    let one = [event(2 * MINUTE, 5 * SECOND)];
    assert_eq!(
        next(&limited, Some(&one), 2 * SECOND),
        at(2 * SECOND, 5 * SECOND, true)
    );
    let two = [event(3 * MINUTE, 5 * SECOND), event(2 * MINUTE, 5 * SECOND)];
    assert_eq!(
        next(&limited, Some(&two), 2 * SECOND),
        at(2 * SECOND, 5 * SECOND, false)
    );
}

#[test]
fn exponential_delay() {
    let p = policy(DelayFunction::Exponential, 5 * SECOND, 90 * SECOND);
    assert_eq!(next(&p, None, 2 * SECOND), at(2 * SECOND, 5 * SECOND, true));
    let events = [
        event(2 * HOUR, 5 * SECOND),
        event(HOUR, 10 * SECOND),
        event(HOUR, 20 * SECOND),
    ];
    assert_eq!(
        next(&p, Some(&events), 2 * SECOND),
        at(2 * SECOND, 40 * SECOND, true)
    );
    // Ceiling reached: 160s capped at 90s (ran 25s since, so no reset).
    let events = [
        event(2 * HOUR, 5 * SECOND),
        event(HOUR, 10 * SECOND),
        event(HOUR, 20 * SECOND),
        event(HOUR, 40 * SECOND),
        event(40 * SECOND, 80 * SECOND),
    ];
    assert_eq!(
        next(&p, Some(&events), 15 * SECOND),
        at(15 * SECOND, 90 * SECOND, true)
    );
    // Ceiling reached but the allocation ran 45 minutes: back to 5s.
    let events = [
        event(2 * HOUR, 5 * SECOND),
        event(HOUR, 10 * SECOND),
        event(HOUR, 20 * SECOND),
        event(HOUR, 40 * SECOND),
        event(HOUR, 80 * SECOND),
        event(HOUR, 90 * SECOND),
        event(HOUR, 90 * SECOND),
    ];
    assert_eq!(
        next(&p, Some(&events), 15 * MINUTE),
        at(15 * MINUTE, 5 * SECOND, true)
    );
}

#[test]
fn fibonacci_delay() {
    let p = policy(DelayFunction::Fibonacci, 5 * SECOND, 90 * SECOND);
    assert_eq!(next(&p, None, 2 * SECOND), at(2 * SECOND, 5 * SECOND, true));
    // One event: still the base delay.
    let one = [event(HOUR, 5 * SECOND)];
    assert_eq!(next_delay(Some(&p), Some(&tracker(&one)), NOW), 5 * SECOND);
    let events = [
        event(2 * HOUR, 5 * SECOND),
        event(HOUR, 5 * SECOND),
        event(HOUR, 10 * SECOND),
        event(HOUR, 15 * SECOND),
        event(HOUR, 25 * SECOND),
    ];
    assert_eq!(
        next(&p, Some(&events), 2 * SECOND),
        at(2 * SECOND, 40 * SECOND, true)
    );

    let p = policy(DelayFunction::Fibonacci, 5 * SECOND, 50 * SECOND);
    // 25 + 40 = 65, capped at 50 (ran 25s: no reset).
    let events = [
        event(2 * HOUR, 5 * SECOND),
        event(HOUR, 5 * SECOND),
        event(HOUR, 10 * SECOND),
        event(HOUR, 15 * SECOND),
        event(HOUR, 25 * SECOND),
        event(40 * SECOND, 40 * SECOND),
    ];
    assert_eq!(
        next(&p, Some(&events), 15 * SECOND),
        at(15 * SECOND, 50 * SECOND, true)
    );
    // Same, but it ran 55 minutes: reset to 5s.
    let events = [
        event(2 * HOUR, 5 * SECOND),
        event(HOUR, 5 * SECOND),
        event(HOUR, 10 * SECOND),
        event(HOUR, 15 * SECOND),
        event(HOUR, 25 * SECOND),
        event(HOUR, 40 * SECOND),
    ];
    assert_eq!(
        next(&p, Some(&events), 5 * MINUTE),
        at(5 * MINUTE, 5 * SECOND, true)
    );
    // The last event was a reset (max, then base): a new series starts.
    let events = [
        event(2 * HOUR, 5 * SECOND),
        event(HOUR, 5 * SECOND),
        event(HOUR, 10 * SECOND),
        event(HOUR, 15 * SECOND),
        event(HOUR, 25 * SECOND),
        event(HOUR, 40 * SECOND),
        event(HOUR, 50 * SECOND),
        event(MINUTE, 5 * SECOND),
    ];
    assert_eq!(
        next(&p, Some(&events), 5 * SECOND),
        at(5 * SECOND, 5 * SECOND, true)
    );
}

#[test]
fn constant_ignores_max_delay() {
    let p = policy(DelayFunction::Constant, 10 * MINUTE, 5 * MINUTE);
    let events = [event(HOUR, 10 * MINUTE)];
    assert_eq!(
        next_delay(Some(&p), Some(&tracker(&events)), NOW),
        10 * MINUTE
    );
    assert_eq!(next_delay(None, None, NOW), 0);
}

#[test]
fn eligibility_within_interval() {
    let p = ReschedulePolicy {
        attempts: 2,
        interval: 10 * MINUTE,
        delay: 5 * SECOND,
        delay_function: DelayFunction::Constant,
        max_delay: 0,
        unlimited: false,
    };
    assert!(reschedule_eligible(Some(&p), None, NOW));
    assert!(reschedule_eligible(Some(&p), Some(&tracker(&[])), NOW));
    let recent = [event(MINUTE, 5 * SECOND)];
    assert!(reschedule_eligible(Some(&p), Some(&tracker(&recent)), NOW));
    let two = [event(9 * MINUTE, 5 * SECOND), event(MINUTE, 5 * SECOND)];
    assert!(!reschedule_eligible(Some(&p), Some(&tracker(&two)), NOW));
    assert_eq!(
        attempts_in_interval(Some(&p), Some(&tracker(&two)), NOW),
        (2, 2)
    );
    // One of the two falls out of the 10-minute window.
    let old = [event(11 * MINUTE, 5 * SECOND), event(MINUTE, 5 * SECOND)];
    assert!(reschedule_eligible(Some(&p), Some(&tracker(&old)), NOW));
    assert_eq!(
        attempts_in_interval(Some(&p), Some(&tracker(&old)), NOW),
        (1, 2)
    );
    // Exactly `interval` ago no longer counts.
    let edge = [event(10 * MINUTE, 5 * SECOND), event(MINUTE, 5 * SECOND)];
    assert!(reschedule_eligible(Some(&p), Some(&tracker(&edge)), NOW));

    let disabled = ReschedulePolicy { attempts: 0, ..p };
    assert!(!reschedule_eligible(Some(&disabled), None, NOW));
    assert!(!reschedule_eligible(None, None, NOW));
    let unlimited = ReschedulePolicy {
        unlimited: true,
        ..disabled
    };
    assert!(reschedule_eligible(
        Some(&unlimited),
        Some(&tracker(&two)),
        NOW
    ));
}

#[test]
fn next_time_eligibility_rules() {
    let p = ReschedulePolicy {
        attempts: 3,
        interval: 30 * SECOND,
        delay: 5 * SECOND,
        delay_function: DelayFunction::Exponential,
        max_delay: HOUR,
        unlimited: false,
    };
    // No tracker: eligible.
    assert!(next_reschedule_time_at(&p, None, NOW, NOW).eligible);
    // Tracker without an event list: not eligible (Nomad's nil Events).
    let bare = RescheduleTracker::default();
    assert!(!next_reschedule_time_at(&p, Some(&bare), NOW, NOW).eligible);
    // Empty list: eligible if the delay fits the interval.
    assert!(next_reschedule_time_at(&p, Some(&tracker(&[])), NOW, NOW).eligible);
    // Delay (2 × 20s = 40s) not shorter than the interval: not eligible.
    let events = [event(HOUR, 20 * SECOND)];
    let n = next_reschedule_time_at(&p, Some(&tracker(&events)), NOW, NOW);
    assert_eq!(n.at, NOW + 40 * SECOND);
    assert!(!n.eligible);
}

#[test]
fn status_gates() {
    let p = policy(DelayFunction::Constant, 5 * SECOND, 0);
    let stopped = AllocRescheduleState {
        desired_stop: true,
        ..FAILED
    };
    assert_eq!(next_reschedule_time(Some(&p), stopped, None, NOW), None);
    // A stopped allocation whose last reschedule failed to place is retried.
    let failed_place = RescheduleTracker {
        events: Some(&[]),
        last_reschedule_failed: true,
    };
    assert!(next_reschedule_time(Some(&p), stopped, Some(&failed_place), NOW).is_some());
    let running = AllocRescheduleState::default();
    assert_eq!(next_reschedule_time(Some(&p), running, None, NOW), None);
    let batch = AllocRescheduleState {
        batch_reschedule_requested: true,
        ..running
    };
    assert_eq!(
        next_reschedule_time(Some(&p), batch, None, NOW),
        Some(NextReschedule {
            at: NOW + 5 * SECOND,
            eligible: true
        })
    );
}

#[test]
fn failure_time() {
    assert_eq!(last_event_time([Some(5), None, Some(9)], 1), 9);
    assert_eq!(last_event_time([None, None], 7), 7);
    assert_eq!(last_event_time(std::iter::empty(), 7), 7);
}

#[test]
fn reconciler_decision() {
    let due = |in_ns, eligible| NextReschedule {
        at: NOW + in_ns,
        eligible,
    };
    use RescheduleDecision::*;
    assert_eq!(reschedule_decision(due(0, true), NOW, false, false), Now);
    assert_eq!(
        reschedule_decision(due(SECOND, true), NOW, false, false),
        Now
    );
    assert_eq!(
        reschedule_decision(due(SECOND + 1, true), NOW, false, false),
        Later
    );
    assert_eq!(reschedule_decision(due(HOUR, true), NOW, true, true), Now);
    assert_eq!(
        reschedule_decision(due(HOUR, true), NOW, false, true),
        Neither
    );
    assert_eq!(
        reschedule_decision(due(0, false), NOW, true, false),
        Neither
    );
}

#[test]
fn extreme_values_do_not_panic() {
    let p = policy(DelayFunction::Exponential, i64::MAX, 0);
    let events = [event(0, i64::MAX)];
    let _ = next_delay(Some(&p), Some(&tracker(&events)), i64::MIN);
    let _ = next_reschedule_time_at(&p, Some(&tracker(&events)), i64::MAX, i64::MIN);
    let f = policy(DelayFunction::Fibonacci, i64::MAX, i64::MAX);
    let events = [event(0, i64::MAX), event(0, i64::MAX)];
    let _ = next_delay(Some(&f), Some(&tracker(&events)), 0);
    let _ = reschedule_decision(
        NextReschedule {
            at: i64::MIN,
            eligible: true,
        },
        i64::MAX,
        false,
        false,
    );
}
