//! State shared by an allocation runner, its task runners and the client:
//! the allocation's record (persisted on every change) and the signals
//! that something changed.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use nomad_driver::unix_nanos;
use nomad_types::consts::{alloc_client_status, task_event, task_state};
use nomad_types::{GoTime, Node, TaskEvent, TaskState};
use tokio::sync::{watch, Notify};

use crate::allocdir::AllocDir;
use crate::config::ClientConfig;
use crate::state::{AllocRecord, StateStore, TaskRecord};

/// Task events kept per task (Nomad keeps the 10 most recent).
pub const MAX_TASK_EVENTS: usize = 10;

/// Allocations whose state the servers have not seen yet.
#[derive(Debug, Default)]
pub struct Dirty {
    ids: Mutex<BTreeSet<String>>,
    in_flight: Mutex<BTreeSet<String>>,
    /// Woken when an id is added.
    pub notify: Notify,
}

impl Dirty {
    /// Marks `id` for the next update batch.
    pub fn mark(&self, id: &str) {
        lock(&self.ids).insert(id.to_string());
        self.notify.notify_one();
    }

    /// Takes every marked id; they count as pending until [`Dirty::sent`].
    pub fn take(&self) -> BTreeSet<String> {
        let ids = std::mem::take(&mut *lock(&self.ids));
        lock(&self.in_flight).extend(ids.iter().cloned());
        ids
    }

    /// The updates of `ids` were sent (or re-marked after a failure).
    pub fn sent(&self, ids: &BTreeSet<String>) {
        let mut f = lock(&self.in_flight);
        for id in ids {
            f.remove(id);
        }
    }

    /// True while the servers have not acknowledged `id`'s last state:
    /// such an allocation must not be garbage collected yet.
    pub fn is_pending(&self, id: &str) -> bool {
        lock(&self.ids).contains(id) || lock(&self.in_flight).contains(id)
    }
}

/// Locks a mutex, recovering from poisoning (a panicked holder leaves
/// plain data behind).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What an allocation's runners share.
pub struct AllocShared {
    /// Allocation id.
    pub id: String,
    /// The record, written through to the store.
    pub record: Mutex<AllocRecord>,
    /// The store.
    pub store: StateStore,
    /// Number of the record's last change ([`AllocShared::update`]).
    pub version: AtomicU64,
    /// Number of the change last written to the store.
    pub written: Mutex<u64>,
    /// Bumped on every task state change.
    pub changed: watch::Sender<u64>,
    /// The allocation's directory.
    pub dir: AllocDir,
    /// The node (for task environments).
    pub node: Arc<Node>,
    /// Client settings.
    pub config: Arc<ClientConfig>,
    /// Updates to send to the servers.
    pub dirty: Arc<Dirty>,
    /// HTTP client for artifacts.
    pub http: reqwest::Client,
    /// User-requested restarts (`alloc restart`): a counter per task name,
    /// bumped for each request; the task runner restarts its task when its
    /// counter moves (see [`crate::actions`]).
    pub restarts: watch::Sender<std::collections::BTreeMap<String, u64>>,
}

impl AllocShared {
    /// The current record.
    pub fn snapshot(&self) -> AllocRecord {
        lock(&self.record).clone()
    }

    /// Record of `task`.
    pub fn task_record(&self, task: &str) -> TaskRecord {
        lock(&self.record)
            .tasks
            .get(task)
            .cloned()
            .unwrap_or_default()
    }

    /// Changes the record of `task`, persists, recomputes the client
    /// status and wakes the runner and the update loop.
    pub fn update_task(&self, task: &str, durable: bool, f: impl FnOnce(&mut TaskRecord)) {
        self.update(durable, |rec| {
            let t = rec.tasks.entry(task.to_string()).or_default();
            f(t);
        });
    }

    /// Changes the record, signals, then persists it.
    ///
    /// The servers hear of the change without waiting for the disk (a
    /// durable write is two `fsync`s, milliseconds); what the client needs
    /// after a crash (the task handle) is on disk when this returns.
    pub fn update(&self, durable: bool, f: impl FnOnce(&mut AllocRecord)) {
        let encoded = {
            let mut rec = lock(&self.record);
            f(&mut rec);
            let states: Vec<&TaskState> = rec.tasks.values().map(|t| &t.state).collect();
            let (status, desc) = client_status(&states);
            if !status.is_empty() {
                rec.client_status = status.to_string();
                rec.client_description = desc.to_string();
            }
            // Numbered under the record's lock: the order of the changes.
            let version = self.version.fetch_add(1, Ordering::Relaxed) + 1;
            crate::state::encode_record(&rec).map(|bytes| (version, bytes))
        };
        self.changed.send_modify(|n| *n += 1);
        self.dirty.mark(&self.id);
        let persisted = encoded.and_then(|(version, bytes)| {
            let mut written = lock(&self.written);
            if version > *written {
                *written = version;
                self.store.write_alloc(&self.id, &bytes, durable)
            } else if durable {
                // A newer record is on disk already; it holds this change.
                self.store.sync_alloc(&self.id)
            } else {
                Ok(())
            }
        });
        if let Err(e) = persisted {
            tracing::error!(alloc_id = %self.id, error = %e, "persisting allocation state");
        }
    }

    /// Appends an event to `task` (Nomad's rules: `FailsTask` marks the task
    /// failed, "Restarting" counts a restart) and optionally moves it to
    /// `new_state`.
    pub fn emit(&self, task: &str, event: TaskEvent, new_state: Option<&str>, durable: bool) {
        tracing::debug!(alloc_id = %self.id, task, event = %event.event_type,
            message = %event.display_message, "task event");
        self.update_task(task, durable, |t| {
            apply_event(&mut t.state, event);
            if let Some(s) = new_state {
                set_state(&mut t.state, s);
            }
        });
    }
}

/// Applies one event to a task state.
pub fn apply_event(state: &mut TaskState, event: TaskEvent) {
    if state.state.is_empty() {
        state.state = task_state::PENDING.into();
    }
    if event.fails_task {
        state.failed = true;
    }
    if event.event_type == task_event::RESTARTING {
        state.restarts += 1;
        state.last_restart = GoTime::from_unix_nanos(event.time);
    }
    if state.events.len() >= MAX_TASK_EVENTS {
        state.events.remove(0);
    }
    state.events.push(event);
}

/// Moves a task state to `pending`, `running` or `dead`, setting
/// `StartedAt` the first time it runs and `FinishedAt` when it dies.
pub fn set_state(state: &mut TaskState, new_state: &str) {
    let now = GoTime::from_unix_nanos(unix_nanos(SystemTime::now()));
    match new_state {
        task_state::RUNNING if state.started_at.is_zero() => state.started_at = now,
        task_state::DEAD if state.finished_at.is_zero() => state.finished_at = now,
        _ => {}
    }
    state.state = new_state.to_string();
}

/// Nomad's client status from task states: any failed task → `failed`,
/// else any running → `running`, else any pending → `pending`, else all
/// dead → `complete`.
pub fn client_status(states: &[&TaskState]) -> (&'static str, &'static str) {
    let (mut pending, mut running, mut dead, mut failed) = (false, false, false, false);
    for s in states {
        match s.state.as_str() {
            task_state::RUNNING => running = true,
            task_state::DEAD if s.failed => failed = true,
            task_state::DEAD => dead = true,
            _ => pending = true,
        }
    }
    if failed {
        (alloc_client_status::FAILED, "Failed tasks")
    } else if running {
        (alloc_client_status::RUNNING, "Tasks are running")
    } else if pending {
        (alloc_client_status::PENDING, "No tasks have started")
    } else if dead {
        (alloc_client_status::COMPLETE, "All tasks have completed")
    } else {
        ("", "")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(state: &str, failed: bool) -> TaskState {
        TaskState {
            state: state.into(),
            failed,
            ..TaskState::default()
        }
    }

    #[test]
    fn client_status_follows_nomad() {
        let (p, r, d, f) = (
            st("pending", false),
            st("running", false),
            st("dead", false),
            st("dead", true),
        );
        assert_eq!(client_status(&[&p, &r]).0, "running");
        assert_eq!(client_status(&[&p, &d]).0, "pending");
        assert_eq!(client_status(&[&d, &d]).0, "complete");
        assert_eq!(client_status(&[&r, &f]).0, "failed");
        assert_eq!(client_status(&[]).0, "");
    }

    #[test]
    fn events_count_restarts_and_failures_and_are_capped() {
        let mut s = TaskState::default();
        for _ in 0..12 {
            apply_event(
                &mut s,
                crate::events::restarting(std::time::Duration::from_secs(1), ""),
            );
        }
        assert_eq!(s.restarts, 12);
        assert_eq!(s.events.len(), MAX_TASK_EVENTS);
        apply_event(&mut s, crate::events::not_restarting("x"));
        assert!(s.failed);
        set_state(&mut s, "running");
        assert!(!s.started_at.is_zero());
        set_state(&mut s, "dead");
        assert!(!s.finished_at.is_zero());
    }
}
