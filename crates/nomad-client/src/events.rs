//! Task events with Nomad's types, fields and display messages
//! (`TaskEvent.PopulateEventDisplayMessage`).

use std::time::{Duration, SystemTime};

use nomad_driver::unix_nanos;
use nomad_types::consts::task_event as ev;
use nomad_types::{Nanos, TaskEvent};

use crate::restarts::REASON_WITHIN_POLICY;

fn now() -> i64 {
    unix_nanos(SystemTime::now())
}

fn new(kind: &str) -> TaskEvent {
    TaskEvent::new(kind, now())
}

/// "Received": "Task received by client".
pub fn received() -> TaskEvent {
    new(ev::RECEIVED).with_message("Task received by client")
}

/// "Task Setup" with a message ("Building Task Directory").
pub fn setup(message: &str) -> TaskEvent {
    let mut e = new(ev::SETUP).with_message(message);
    e.message = message.into();
    e
}

/// "Started": "Task started by client".
pub fn started() -> TaskEvent {
    new(ev::STARTED).with_message("Task started by client")
}

/// "Driver Failure" with the driver's error.
pub fn driver_failure(error: &str) -> TaskEvent {
    let mut e = new(ev::DRIVER_FAILURE).with_message(if error.is_empty() {
        "Failed to start task"
    } else {
        error
    });
    e.driver_error = error.into();
    e
}

/// "Failed Validation".
pub fn failed_validation(error: &str) -> TaskEvent {
    let mut e = new(ev::FAILED_VALIDATION).with_message(if error.is_empty() {
        "Validation of task failed"
    } else {
        error
    });
    e.validation_error = error.into();
    e
}

/// "Setup Failure" (fails the task).
pub fn setup_failure(error: &str) -> TaskEvent {
    let mut e = new(ev::SETUP_FAILURE).with_message(if error.is_empty() {
        "Task setup failed"
    } else {
        error
    });
    e.setup_error = error.into();
    e.fails_task = true;
    e
}

/// "Task hook failed": `<hook>: <error>`.
pub fn hook_failed(hook: &str, error: &str) -> TaskEvent {
    let msg = format!("{hook}: {error}");
    let mut e = new(ev::HOOK_FAILED).with_message(&msg);
    e.message = msg;
    e
}

/// "Downloading Artifacts".
pub fn downloading_artifacts() -> TaskEvent {
    new(ev::DOWNLOADING_ARTIFACTS).with_message("Client is downloading artifacts")
}

/// "Failed Artifact Download".
pub fn artifact_failed(error: &str) -> TaskEvent {
    let mut e = new(ev::ARTIFACT_DOWNLOAD_FAILED).with_message(error);
    e.download_error = error.into();
    e
}

/// "Killing": "Sent interrupt. Waiting 5s before force killing".
pub fn killing(kill_timeout: Duration) -> TaskEvent {
    let mut e = new(ev::KILLING);
    e.kill_timeout = Nanos::from_std(kill_timeout);
    e.display_message = if kill_timeout.is_zero() {
        "Sent interrupt".into()
    } else {
        format!(
            "Sent interrupt. Waiting {} before force killing",
            Nanos::from_std(kill_timeout)
        )
    };
    e
}

/// "Killed": "Task successfully killed", or the kill error.
pub fn killed(error: Option<&str>) -> TaskEvent {
    let mut e = new(ev::KILLED);
    match error {
        Some(err) => {
            e.kill_error = err.into();
            e.display_message = err.into();
        }
        None => e.display_message = "Task successfully killed".into(),
    }
    e
}

/// "Restarting": "Task restarting in 15.2s" (with the reason unless it
/// is the ordinary one).
pub fn restarting(delay: Duration, reason: &str) -> TaskEvent {
    let mut e = new(ev::RESTARTING);
    e.start_delay = i64::try_from(delay.as_nanos()).unwrap_or(i64::MAX);
    e.restart_reason = reason.into();
    let within = format!("Task restarting in {}", Nanos::from_std(delay));
    e.display_message = if !reason.is_empty() && reason != REASON_WITHIN_POLICY {
        format!("{reason} - {within}")
    } else {
        within
    };
    e
}

/// "Not Restarting" with the reason (fails the task).
pub fn not_restarting(reason: &str) -> TaskEvent {
    let mut e = new(ev::NOT_RESTARTING).with_message(if reason.is_empty() {
        "Task exceeded restart policy"
    } else {
        reason
    });
    e.restart_reason = reason.into();
    e.fails_task = true;
    e
}

/// "Sibling Task Failed".
pub fn sibling_failed(sibling: &str) -> TaskEvent {
    let mut e = new(ev::SIBLING_FAILED).with_message(format!("Task's sibling {sibling:?} failed"));
    e.failed_sibling = sibling.into();
    e
}

/// "Leader Task Dead".
pub fn leader_dead() -> TaskEvent {
    new(ev::LEADER_DEAD).with_message("Leader Task in Group dead")
}

/// "Main Tasks Dead".
pub fn main_dead() -> TaskEvent {
    new(ev::MAIN_DEAD).with_message("Main tasks in the group died")
}

/// "Failed Restoring Task".
pub fn restore_failed(error: &str) -> TaskEvent {
    let mut e = new(ev::RESTORE_FAILED).with_message(error);
    e.message = error.into();
    e
}

/// "Terminated" from a driver exit result.
pub fn terminated(exit: &nomad_driver::ExitResult) -> TaskEvent {
    exit.to_task_event(now())
}

/// "Signaling".
pub fn signaling(signal: &str, reason: &str) -> TaskEvent {
    let mut e = new(ev::SIGNALING);
    e.task_signal = signal.into();
    e.task_signal_reason = reason.into();
    e.display_message = match (signal.is_empty(), reason.is_empty()) {
        (true, true) => "Task being sent a signal".into(),
        (true, false) => reason.into(),
        (false, true) => format!("Task being sent signal {signal}"),
        (false, false) => format!("Task being sent signal {signal}: {reason}"),
    };
    e
}

/// "Restart Signaled".
pub fn restart_signaled(reason: &str) -> TaskEvent {
    let mut e = new(ev::RESTART_SIGNAL).with_message(if reason.is_empty() {
        "Task signaled to restart"
    } else {
        reason
    });
    e.restart_reason = reason.into();
    e
}

/// "Restart Signaled" when a `change_mode = "restart"` template
/// re-rendered (Nomad's wording; not counted by the restart policy).
pub fn template_restart() -> TaskEvent {
    new(ev::RESTART_SIGNAL).with_message("Template with change_mode restart re-rendered")
}

/// "Signaling" when a `change_mode = "signal"` template re-rendered.
pub fn template_signaling(signal: &str) -> TaskEvent {
    let mut e = new(ev::SIGNALING).with_message("Template re-rendered");
    e.task_signal = signal.into();
    e
}

/// "Killing" (fails the task) when the signals of re-rendered templates
/// could not be sent.
pub fn template_signal_failed(error: &str) -> TaskEvent {
    let msg = format!("Template failed to send signals: {error}");
    let mut e = new(ev::KILLING).with_message(&msg);
    e.kill_reason = msg;
    e.fails_task = true;
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_messages_match_nomad() {
        assert_eq!(
            killing(Duration::from_secs(5)).display_message,
            "Sent interrupt. Waiting 5s before force killing"
        );
        assert_eq!(
            restarting(Duration::from_millis(15_200), REASON_WITHIN_POLICY).display_message,
            "Task restarting in 15.2s"
        );
        assert_eq!(
            restarting(Duration::from_secs(60), crate::restarts::REASON_DELAY).display_message,
            "Exceeded allowed attempts, applying a delay - Task restarting in 1m0s"
        );
        assert_eq!(
            sibling_failed("web").display_message,
            "Task's sibling \"web\" failed"
        );
        assert!(not_restarting("x").fails_task);
        assert_eq!(killed(None).display_message, "Task successfully killed");
    }
}
