//! The allocation runner: builds the allocation directory, runs one task
//! runner per task in lifecycle order, kills what must die (a failed
//! sibling, a dead leader, sidecars once the main tasks are done, every
//! task when the servers stop the allocation), and records the client
//! status (through [`crate::shared::AllocShared`]).
//!
//! Lifecycle order, as Nomad's task coordinator: prestart tasks first;
//! main tasks once every prestart non-sidecar task completed successfully
//! and every prestart sidecar runs; poststart tasks once every main task
//! has started; poststop tasks once every other task is dead.

use std::collections::BTreeMap;
use std::sync::Arc;

use nomad_types::consts::task_state;
use nomad_types::{Allocation, TaskEvent, TaskState};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::drivers::DriverSet;
use crate::events;
use crate::health;
use crate::shared::AllocShared;
use crate::taskrunner::{TaskCtl, TaskRunner};

/// What the client holds for a running allocation.
pub struct AllocHandle {
    /// Shared state.
    pub shared: Arc<AllocShared>,
    /// New versions of the allocation from the servers.
    pub update: watch::Sender<Arc<Allocation>>,
    /// Set to destroy the allocation (kill everything, then stop).
    pub destroy: watch::Sender<bool>,
    /// True once every task is dead.
    pub done: watch::Receiver<bool>,
    /// The runner task.
    pub join: JoinHandle<()>,
}

impl AllocHandle {
    /// Aborts the runner and its task runners without touching the tasks
    /// (the client is going away; a new one will re-attach).
    pub fn abandon(&self) {
        self.join.abort();
    }
}

struct Runner {
    shared: Arc<AllocShared>,
    ctls: Vec<TaskCtl>,
    joins: Vec<JoinHandle<()>>,
    update: watch::Receiver<Arc<Allocation>>,
    destroy: watch::Receiver<bool>,
    done: watch::Sender<bool>,
}

impl Drop for Runner {
    fn drop(&mut self) {
        for j in &self.joins {
            j.abort();
        }
    }
}

/// Starts the runner of an allocation whose record is in `shared` (new,
/// or restored from the local state).
pub fn spawn(shared: Arc<AllocShared>, drivers: &DriverSet) -> AllocHandle {
    let alloc = Arc::new(shared.snapshot().alloc);
    let (update_tx, update) = watch::channel(alloc.clone());
    let (destroy_tx, destroy) = watch::channel(false);
    let (done_tx, done) = watch::channel(false);
    let tasks = alloc
        .task_group_spec()
        .map(|g| g.tasks.clone())
        .unwrap_or_default();

    // Every task gets its state entry (and "Received") before anything runs.
    shared.update(false, |rec| {
        for t in &tasks {
            rec.tasks.entry(t.name.clone()).or_insert_with(|| {
                let mut tr = crate::state::TaskRecord::default();
                crate::shared::apply_event(&mut tr.state, events::received());
                tr.state.state = task_state::PENDING.into();
                tr
            });
        }
    });

    let mut ctls = Vec::new();
    let mut joins = Vec::new();
    for t in tasks {
        let driver = drivers.get(&t.driver);
        let (runner, ctl) = TaskRunner::new(shared.clone(), alloc.clone(), t, driver);
        joins.push(tokio::spawn(runner.run()));
        ctls.push(ctl);
    }
    let span = tracing::info_span!("alloc", alloc_id = %shared.id, node_id = %shared.node.id);
    let runner = Runner {
        shared: shared.clone(),
        ctls,
        joins,
        update,
        destroy,
        done: done_tx,
    };
    let join = tokio::spawn(runner.run().instrument(span));
    AllocHandle {
        shared,
        update: update_tx,
        destroy: destroy_tx,
        done,
        join,
    }
}

fn is_sidecar(t: &nomad_types::Task) -> bool {
    t.lifecycle.as_ref().is_some_and(|l| l.sidecar)
}

fn dead(s: &TaskState) -> bool {
    s.state == task_state::DEAD
}

impl Runner {
    fn states(&self) -> BTreeMap<String, TaskState> {
        self.shared
            .snapshot()
            .tasks
            .into_iter()
            .map(|(k, v)| (k, v.state))
            .collect()
    }

    async fn run(mut self) {
        if let Err(e) = self
            .shared
            .dir
            .build(self.ctls.iter().map(|c| c.name.as_str()))
        {
            tracing::error!(error = %e, "building allocation directory");
            let msg = e.to_string();
            for c in &self.ctls {
                self.shared.emit(
                    &c.name,
                    events::setup_failure(&msg),
                    Some(task_state::DEAD),
                    true,
                );
            }
        }
        let mut changed = self.shared.changed.subscribe();
        let mut stopping = false;
        loop {
            let destroy = *self.destroy.borrow();
            let alloc = self.update.borrow().clone();
            if alloc.alloc_modify_index != self.shared.snapshot().alloc.alloc_modify_index
                || alloc.desired_status != self.shared.snapshot().alloc.desired_status
            {
                let a = (*alloc).clone();
                self.shared.update(true, move |rec| rec.alloc = a);
            }
            if (alloc.server_terminal_status() || destroy) && !stopping {
                stopping = true;
                tracing::info!(desired = %alloc.desired_status, "stopping allocation");
                self.kill_all(None, destroy).await;
            }
            if destroy {
                // Poststop tasks too.
                for c in &self.ctls {
                    c.kill_and_wait(None).await;
                }
            }

            let recheck = self.check_health();
            let states = self.states();
            if self.step(&states, stopping).await {
                continue;
            }
            let states = self.states();
            if self
                .ctls
                .iter()
                .all(|c| states.get(&c.name).is_some_and(dead))
            {
                break;
            }
            tokio::select! {
                r = changed.changed() => { if r.is_err() { break; } }
                r = self.update.changed() => { if r.is_err() { break; } }
                r = self.destroy.changed() => { if r.is_err() { break; } }
                _ = tokio::time::sleep(recheck) => {}
            }
        }
        for c in &self.ctls {
            c.wait().await;
        }
        // The final task states may decide the deployment health (a failed
        // allocation is unhealthy); record it before the runner is done.
        self.check_health();
        let now = nomad_driver::unix_nanos(std::time::SystemTime::now());
        self.shared.update(true, |rec| {
            if rec.terminal_at == 0 {
                rec.terminal_at = now;
            }
        });
        tracing::info!(status = %self.shared.snapshot().client_status, "allocation finished");
        self.done.send_replace(true);
    }

    /// Decides the deployment health when the task states allow it and
    /// records it (the update goes to the servers with the task states);
    /// returns when to look again without a state change.
    fn check_health(&self) -> std::time::Duration {
        let now = nomad_driver::unix_nanos(std::time::SystemTime::now());
        let rec = self.shared.snapshot();
        if let Some(change) = health::decide(&rec, now) {
            if let Some(h) = &change {
                tracing::info!(alloc_id = %self.shared.id, deployment_id = %h.deployment_id,
                    healthy = ?h.status.healthy, "deployment health decided");
            }
            self.shared.update(true, move |rec| rec.health = change);
        }
        const IDLE: std::time::Duration = std::time::Duration::from_secs(3600);
        let undecided = health::watched(&rec.alloc) && rec.health.is_none();
        if undecided {
            health::RECHECK
        } else {
            IDLE
        }
    }

    /// Opens gates and kills per the lifecycle rules; true when it acted
    /// (states may have changed).
    async fn step(&self, states: &BTreeMap<String, TaskState>, stopping: bool) -> bool {
        let st = |name: &str| states.get(name).cloned().unwrap_or_default();
        let ctls = &self.ctls;

        if !stopping {
            // Prestart gates.
            for c in ctls.iter().filter(|c| c.task.is_prestart()) {
                c.open();
            }
            let prestart_ready = ctls.iter().filter(|c| c.task.is_prestart()).all(|c| {
                let s = st(&c.name);
                if is_sidecar(&c.task) {
                    s.state == task_state::RUNNING
                } else {
                    dead(&s) && !s.failed
                }
            });
            if prestart_ready {
                for c in ctls.iter().filter(|c| c.task.is_main()) {
                    c.open();
                }
                let mains_started = ctls
                    .iter()
                    .filter(|c| c.task.is_main())
                    .all(|c| !st(&c.name).started_at.is_zero());
                if mains_started {
                    for c in ctls.iter().filter(|c| c.task.is_poststart()) {
                        c.open();
                    }
                }
            }
        }
        let others_dead = ctls
            .iter()
            .filter(|c| !c.task.is_poststop())
            .all(|c| dead(&st(&c.name)));
        if others_dead {
            for c in ctls.iter().filter(|c| c.task.is_poststop()) {
                c.open();
            }
        }

        // Nomad's kill rules over the non-poststop tasks.
        let mut kill_event: Option<TaskEvent> = None;
        let mut live = Vec::new();
        for c in ctls.iter().filter(|c| !c.task.is_poststop()) {
            let s = st(&c.name);
            if !dead(&s) {
                live.push(c);
                continue;
            }
            if s.failed {
                if kill_event.is_none() {
                    kill_event = Some(events::sibling_failed(&c.name));
                }
            } else if c.task.leader {
                kill_event = Some(events::leader_dead());
            }
        }
        if live.is_empty() {
            return false;
        }
        let has_sidecars = ctls.iter().any(|c| is_sidecar(&c.task));
        if kill_event.is_none() && has_sidecars && live.iter().all(|c| is_sidecar(&c.task)) {
            kill_event = Some(events::main_dead());
        }
        let Some(ev) = kill_event else {
            return false;
        };
        tracing::debug!(reason = %ev.event_type, "killing remaining tasks");
        self.kill_all(Some(ev), false).await;
        true
    }

    /// Kills live tasks: the leader first, then the other non-sidecar
    /// tasks together, then sidecars; poststop tasks only when destroying.
    async fn kill_all(&self, reason: Option<TaskEvent>, include_poststop: bool) {
        let states = self.states();
        let live = |c: &&TaskCtl| {
            !states.get(&c.name).is_some_and(dead) && (include_poststop || !c.task.is_poststop())
        };
        let with_reason = |c: &TaskCtl| {
            // Only tasks that were running see the reason event.
            reason.clone().filter(|_| {
                states
                    .get(&c.name)
                    .is_some_and(|s| s.state == task_state::RUNNING)
            })
        };
        for c in self.ctls.iter().filter(live).filter(|c| c.task.leader) {
            c.kill_and_wait(with_reason(c)).await;
        }
        let rest: Vec<&TaskCtl> = self
            .ctls
            .iter()
            .filter(live)
            .filter(|c| !c.task.leader && !is_sidecar(&c.task))
            .collect();
        for c in &rest {
            c.request_kill(with_reason(c));
        }
        for c in &rest {
            c.wait().await;
        }
        let sidecars: Vec<&TaskCtl> = self
            .ctls
            .iter()
            .filter(live)
            .filter(|c| is_sidecar(&c.task))
            .collect();
        for c in &sidecars {
            c.request_kill(with_reason(c));
        }
        for c in &sidecars {
            c.wait().await;
        }
    }
}
