//! User actions on a running task (`nomad alloc restart`): the task
//! runner's side. A restart requested by a user does not count against
//! the restart policy and happens at once, as in Nomad: "Restart
//! Signaled", the task is stopped ("Terminated"), "Restarting" with no
//! delay, and the runner starts it again.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use nomad_driver::Driver;
use nomad_types::consts::task_state;
use tokio::sync::watch;

use crate::events;
use crate::shared::AllocShared;

/// The reason Nomad records for `alloc restart`.
pub const USER_RESTART_REASON: &str = "User requested restart";

/// Resolves when a restart of `task` is requested after the runner
/// subscribed; never if the allocation goes away.
pub async fn restart_requested(rx: &mut watch::Receiver<BTreeMap<String, u64>>, task: &str) {
    loop {
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
        if rx.borrow_and_update().contains_key(task) {
            return;
        }
    }
}

/// Asks the runner of `task` to restart it.
pub fn request_restart(shared: &AllocShared, task: &str) {
    shared.restarts.send_modify(|m| {
        *m.entry(task.to_string()).or_insert(0) += 1;
    });
}

/// Stops the task for a user-requested restart and records the events;
/// the runner then starts it again.
pub async fn stop_for_restart(
    shared: &AllocShared,
    task: &str,
    driver: &Arc<dyn Driver>,
    id: &str,
    timeout: Duration,
    signal: &str,
) {
    tracing::info!(alloc_id = %shared.id, task, "restarting task on request");
    shared.emit(
        task,
        events::restart_signaled(USER_RESTART_REASON),
        None,
        false,
    );
    if let Err(e) = driver.stop_task(id, timeout, signal).await {
        tracing::warn!(alloc_id = %shared.id, task, error = %e, "stopping task for restart");
    }
    if let Ok(Ok(exit)) = tokio::time::timeout(Duration::from_secs(5), driver.wait_task(id)).await {
        shared.emit(task, events::terminated(&exit), None, false);
    }
    if let Err(e) = driver.destroy_task(id, true).await {
        if !e.is_not_found() {
            tracing::warn!(alloc_id = %shared.id, task, error = %e, "destroying task in driver");
        }
    }
    shared.update_task(task, true, |t| t.handle = None);
    shared.emit(
        task,
        events::restarting(Duration::ZERO, ""),
        Some(task_state::PENDING),
        false,
    );
}
