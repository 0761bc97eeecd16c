//! The task runner: runs one task of an allocation through its life —
//! hooks (task dir, logs, artifacts, templates), start, wait, restarts by
//! policy, kill — recording Nomad's task events and state, and re-attaching
//! to a task a previous client started.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use nomad_driver::{
    Driver, DriverError, ExitResult, TaskConfig, TaskDirs, TaskHandle, TaskResources,
};
use nomad_types::consts::task_state;
use nomad_types::{Allocation, Task, TaskEvent};
use tokio::sync::watch;
use tracing::Instrument;

use crate::artifact;
use crate::events;
use crate::logs::{LogCollector, Rotation};
use crate::restarts::{Decision, Outcome, RestartTracker};
use crate::shared::AllocShared;
use crate::taskenv::{EnvInputs, TaskEnv};
use crate::template;

/// A request to kill a task, with the event explaining why (emitted
/// before "Killing").
#[derive(Debug, Clone)]
pub struct Kill {
    /// Reason event ("Sibling Task Failed", …).
    pub reason: Option<TaskEvent>,
}

/// The alloc runner's end of a task runner.
pub struct TaskCtl {
    /// Task name.
    pub name: String,
    /// The task.
    pub task: Task,
    /// Opens the start gate.
    pub gate: watch::Sender<bool>,
    /// Requests a kill.
    pub kill: watch::Sender<Option<Kill>>,
    /// True once the runner returned.
    pub done: watch::Receiver<bool>,
}

impl TaskCtl {
    /// Asks the task to stop and waits until its runner is done.
    pub async fn kill_and_wait(&self, reason: Option<TaskEvent>) {
        self.request_kill(reason);
        self.wait().await;
    }

    /// Asks the task to stop (once; later requests are ignored).
    pub fn request_kill(&self, reason: Option<TaskEvent>) {
        if *self.done.borrow() {
            return;
        }
        self.kill.send_if_modified(|k| {
            if k.is_none() {
                *k = Some(Kill { reason });
                true
            } else {
                false
            }
        });
    }

    /// Waits until the runner is done.
    pub async fn wait(&self) {
        let mut d = self.done.clone();
        let _ = d.wait_for(|v| *v).await;
    }

    /// Opens the start gate.
    pub fn open(&self) {
        self.gate.send_if_modified(|g| !std::mem::replace(g, true));
    }
}

/// Runs one task.
pub struct TaskRunner {
    shared: Arc<AllocShared>,
    alloc: Arc<Allocation>,
    task: Task,
    driver: Option<Arc<dyn Driver>>,
    dirs: TaskDirs,
    restart: RestartTracker,
    /// The templates of the current run, watched for changes.
    templates: Option<template::Watcher>,
    gate: watch::Receiver<bool>,
    kill: watch::Receiver<Option<Kill>>,
    done: watch::Sender<bool>,
}

impl TaskRunner {
    /// A runner and its control end.
    pub fn new(
        shared: Arc<AllocShared>,
        alloc: Arc<Allocation>,
        task: Task,
        driver: Option<Arc<dyn Driver>>,
    ) -> (Self, TaskCtl) {
        let (gate_tx, gate) = watch::channel(false);
        let (kill_tx, kill) = watch::channel(None);
        let (done, done_rx) = watch::channel(false);
        let job_type = alloc
            .job
            .as_ref()
            .map(|j| j.job_type().to_string())
            .unwrap_or_default();
        let group_policy = alloc
            .task_group_spec()
            .and_then(|g| g.restart_policy.clone());
        let restart = RestartTracker::new(&task, group_policy.as_ref(), &job_type);
        let dirs = shared.dir.task_dirs(&task.name);
        let ctl = TaskCtl {
            name: task.name.clone(),
            task: task.clone(),
            gate: gate_tx,
            kill: kill_tx,
            done: done_rx,
        };
        (
            TaskRunner {
                shared,
                alloc,
                task,
                driver,
                dirs,
                restart,
                templates: None,
                gate,
                kill,
                done,
            },
            ctl,
        )
    }

    fn killed(&self) -> Option<Kill> {
        self.kill.borrow().clone()
    }

    fn emit(&self, ev: TaskEvent, state: Option<&str>) {
        self.shared.emit(&self.task.name, ev, state, false);
    }

    fn kill_timeout(&self) -> Duration {
        let t = self
            .task
            .kill_timeout
            .and_then(|n| n.to_std())
            .unwrap_or(nomad_driver::DEFAULT_KILL_TIMEOUT);
        t.min(self.shared.config.max_kill_timeout)
    }

    /// Runs the task to the end. `restore` re-attaches to a task started
    /// by a previous client.
    pub async fn run(self) {
        let span = tracing::info_span!("task", alloc_id = %self.shared.id,
            node_id = %self.shared.node.id, task = %self.task.name);
        let done = self.done.clone();
        self.run_inner().instrument(span).await;
        done.send_replace(true);
    }

    async fn run_inner(mut self) {
        let name = self.task.name.clone();
        let rec = self.shared.task_record(&name);
        if rec.state.state == task_state::DEAD {
            return;
        }
        let Some(driver) = self.driver.clone() else {
            let msg = format!(
                "driver {:?} is not available on this node",
                self.task.driver
            );
            self.shared.emit(
                &name,
                events::setup_failure(&msg),
                Some(task_state::DEAD),
                true,
            );
            return;
        };
        let rotation = Rotation::from_config(self.task.log_config.as_ref());
        let mut collector: Option<LogCollector> = None;
        let mut running: Option<String> = None;

        if let Some(handle) = rec.handle.clone() {
            match driver.recover_task(&handle).await {
                Ok(()) => {
                    tracing::info!(task_id = %handle.config.id, "re-attached to task");
                    match LogCollector::start(&self.dirs.log_dir, &name, rotation, rec.log_keeper) {
                        Ok(c) => {
                            let keeper = c.keeper;
                            self.shared
                                .update_task(&name, true, |t| t.log_keeper = keeper);
                            collector = Some(c);
                        }
                        Err(e) => tracing::warn!(error = %e, "restarting log collection"),
                    }
                    running = Some(handle.config.id.clone());
                    self.resume_templates(&driver);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not re-attach to task");
                    self.emit(events::restore_failed(&e.to_string()), None);
                    self.shared.update_task(&name, true, |t| t.handle = None);
                }
            }
        } else if !self.wait_gate().await {
            self.shared.update_task(&name, true, |t| {
                crate::shared::set_state(&mut t.state, task_state::DEAD)
            });
            return;
        }

        let mut first = running.is_none() && rec.state.started_at.is_zero();
        let mut restarts = self.shared.restarts.subscribe();
        loop {
            let id = match running.take() {
                Some(id) => id,
                None => {
                    if self.killed().is_some() {
                        break;
                    }
                    match self.start(&driver, first, rotation, &mut collector).await {
                        Ok(id) => id,
                        Err(recoverable) => {
                            first = false;
                            if !self.after_exit(Outcome::StartFailed(recoverable)).await {
                                break;
                            }
                            continue;
                        }
                    }
                }
            };
            first = false;
            let mut kill = self.kill.clone();
            let exit = tokio::select! {
                r = driver.wait_task(&id) => r.unwrap_or_else(|e| ExitResult::error(e.to_string())),
                _ = kill_requested(&mut kill) => {
                    self.do_kill(&driver, &id).await;
                    break;
                }
                _ = crate::actions::restart_requested(&mut restarts, &name) => {
                    let timeout = self.kill_timeout();
                    let signal = self.task.kill_signal.clone();
                    crate::actions::stop_for_restart(
                        &self.shared, &name, &driver, &id, timeout, &signal,
                    )
                    .await;
                    continue;
                }
                change = template::next_change(&mut self.templates) => {
                    match change {
                        template::Change::Restart => {
                            self.stop_for_restart(&driver, &id, events::template_restart()).await;
                        }
                        template::Change::Signal(signals) => {
                            if !self.signal_for_templates(&driver, &id, &signals).await {
                                self.do_kill(&driver, &id).await;
                                break;
                            }
                            running = Some(id);
                        }
                    }
                    continue;
                }
            };
            self.emit(events::terminated(&exit), None);
            self.forget(&driver, &id).await;
            if !self.after_exit(Outcome::Exited(exit.successful())).await {
                break;
            }
        }
        if let Some(c) = collector.take() {
            c.stop().await;
        }
        self.shared.update_task(&name, true, |t| {
            t.log_keeper = None;
            t.handle = None;
            crate::shared::set_state(&mut t.state, task_state::DEAD);
        });
    }

    /// Waits for the start gate; false when killed first.
    async fn wait_gate(&mut self) -> bool {
        let mut kill = self.kill.clone();
        tokio::select! {
            r = gate_opened(&mut self.gate) => r,
            _ = kill_requested(&mut kill) => false,
        }
    }

    /// Decides what follows an exit or failed start; true to start again.
    async fn after_exit(&mut self, outcome: Outcome) -> bool {
        if self.killed().is_some() {
            return false;
        }
        match self.restart.decide(outcome) {
            Decision::Terminated => false,
            Decision::NotRestarting(reason) => {
                tracing::info!(%reason, "not restarting task");
                self.emit(events::not_restarting(&reason), Some(task_state::DEAD));
                false
            }
            Decision::Restart(delay, reason) => {
                tracing::info!(%reason, ?delay, "restarting task");
                self.emit(
                    events::restarting(delay, &reason),
                    Some(task_state::PENDING),
                );
                let mut kill = self.kill.clone();
                tokio::select! {
                    _ = tokio::time::sleep(delay) => true,
                    _ = kill_requested(&mut kill) => false,
                }
            }
        }
    }

    async fn forget(&self, driver: &Arc<dyn Driver>, id: &str) {
        if let Err(e) = driver.destroy_task(id, true).await {
            if !e.is_not_found() {
                tracing::warn!(error = %e, "destroying task in driver");
            }
        }
        self.shared
            .update_task(&self.task.name, true, |t| t.handle = None);
    }

    async fn do_kill(&self, driver: &Arc<dyn Driver>, id: &str) {
        let kill = self.killed();
        if let Some(reason) = kill.and_then(|k| k.reason) {
            self.emit(reason, None);
        }
        let timeout = self.kill_timeout();
        self.emit(events::killing(timeout), None);
        let err = driver
            .stop_task(id, timeout, &self.task.kill_signal)
            .await
            .err()
            .map(|e| e.to_string());
        if let Ok(Ok(exit)) =
            tokio::time::timeout(Duration::from_secs(5), driver.wait_task(id)).await
        {
            self.emit(events::terminated(&exit), None);
        }
        self.emit(events::killed(err.as_deref()), None);
        self.forget(driver, id).await;
    }

    /// Runs the prestart hooks and starts the task. Err(recoverable) on
    /// failure (events already emitted).
    async fn start(
        &mut self,
        driver: &Arc<dyn Driver>,
        first: bool,
        rotation: Rotation,
        collector: &mut Option<LogCollector>,
    ) -> Result<String, bool> {
        let name = self.task.name.clone();
        if first {
            self.emit(events::setup("Building Task Directory"), None);
        }
        if let Err(e) = self.dirs.create_all() {
            self.emit(events::hook_failed("task_dir", &e.to_string()), None);
            return Err(true);
        }
        if collector.is_none() {
            match LogCollector::start(&self.dirs.log_dir, &name, rotation, None) {
                Ok(c) => {
                    let keeper = c.keeper;
                    self.shared
                        .update_task(&name, false, |t| t.log_keeper = keeper);
                    *collector = Some(c);
                }
                Err(e) => {
                    self.emit(events::hook_failed("logmon", &e.to_string()), None);
                    return Err(true);
                }
            }
        }
        let Some(c) = collector.as_ref() else {
            return Err(true);
        };
        let (stdout, stderr) = (c.stdout_path.clone(), c.stderr_path.clone());
        let fs_iso = driver.capabilities().fs_isolation;
        let region = self.shared.config.region.clone();
        let denylist = self.shared.config.env_denylist();
        let no_template_env = BTreeMap::new();
        let base = TaskEnv::build(EnvInputs {
            node: &self.shared.node,
            alloc: &self.alloc,
            task: &self.task,
            dirs: &self.dirs,
            fs_isolation: fs_iso,
            region: &region,
            env_denylist: &denylist,
            template_env: &no_template_env,
        });

        if first {
            if let Err(e) =
                crate::payload::write(self.alloc.job.as_deref(), &self.task, &self.dirs.local_dir)
            {
                self.emit(events::hook_failed("dispatch_payload", &e), None);
                return Err(true);
            }
        }
        if first && !self.task.artifacts.is_empty() {
            self.emit(events::downloading_artifacts(), None);
            for a in &self.task.artifacts {
                if let Err(e) = artifact::fetch(
                    a,
                    &base,
                    &self.shared.dir.root,
                    &self.dirs.task_dir,
                    &self.shared.http,
                )
                .await
                {
                    let msg = format!(
                        "failed to download artifact {:?}: {e}",
                        a.getter_source.as_deref().unwrap_or("")
                    );
                    self.emit(events::artifact_failed(&msg), None);
                    return Err(true);
                }
            }
        }

        let template_env = match self.render_templates(&base) {
            Ok(t) => t,
            Err(e) => {
                self.emit(events::hook_failed("template", &e), None);
                return Err(true);
            }
        };
        let env = if template_env.is_empty() {
            base
        } else {
            TaskEnv::build(EnvInputs {
                node: &self.shared.node,
                alloc: &self.alloc,
                task: &self.task,
                dirs: &self.dirs,
                fs_isolation: fs_iso,
                region: &region,
                env_denylist: &denylist,
                template_env: &template_env,
            })
        };

        let cfg = self.task_config(&env, stdout, stderr);
        let id = cfg.id.clone();
        match driver.start_task(cfg).await {
            Ok(handle) => {
                self.record_start(handle);
                Ok(id)
            }
            Err(DriverError::InvalidConfig(msg)) => {
                self.emit(events::failed_validation(&msg), None);
                Err(false)
            }
            Err(e) => {
                self.emit(events::driver_failure(&e.to_string()), None);
                Err(true)
            }
        }
    }

    fn record_start(&self, handle: TaskHandle) {
        let ev = events::started();
        self.shared.update_task(&self.task.name, true, move |t| {
            t.handle = Some(handle);
            crate::shared::apply_event(&mut t.state, ev);
            crate::shared::set_state(&mut t.state, task_state::RUNNING);
        });
    }

    fn task_config(
        &self,
        env: &TaskEnv,
        stdout: std::path::PathBuf,
        stderr: std::path::PathBuf,
    ) -> TaskConfig {
        let alloc = &self.alloc;
        let ports = alloc
            .allocated_resources
            .as_ref()
            .map(|r| r.shared.ports.clone())
            .unwrap_or_default();
        let mut resources = match alloc
            .allocated_resources
            .as_ref()
            .and_then(|r| r.tasks.get(&self.task.name))
        {
            Some(tr) => TaskResources {
                cpu_mhz: tr.cpu.cpu_shares,
                memory_mb: tr.memory.memory_mb,
                memory_max_mb: tr.memory.memory_max_mb,
                cpuset_cpus: tr
                    .cpu
                    .reserved_cores
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
                secrets_mb: self
                    .task
                    .resources
                    .as_ref()
                    .and_then(|r| r.secrets_mb)
                    .unwrap_or(0),
                ports: Vec::new(),
            },
            None => self
                .task
                .resources
                .as_ref()
                .map(TaskResources::from)
                .unwrap_or_default(),
        };
        resources.ports = ports;
        let driver_config = self
            .task
            .config
            .iter()
            .map(|(k, v)| (k.clone(), env.replace_value(v)))
            .collect();
        let suffix = &uuid::Uuid::new_v4().simple().to_string()[..8];
        TaskConfig {
            id: format!("{}/{}/{suffix}", alloc.id, self.task.name),
            alloc_id: alloc.id.clone(),
            namespace: alloc.namespace.clone(),
            job_id: alloc.job_id.clone(),
            job_name: alloc
                .job
                .as_ref()
                .map(|j| j.name().to_string())
                .unwrap_or_else(|| alloc.job_id.clone()),
            task_group: alloc.task_group.clone(),
            name: self.task.name.clone(),
            driver_config,
            env: env.env.clone(),
            user: self.task.user.clone(),
            resources,
            dirs: self.dirs.clone(),
            stdout_path: stdout,
            stderr_path: stderr,
            kill_signal: self.task.kill_signal.clone(),
            kill_timeout: self.kill_timeout(),
        }
    }

    /// Renders the task's templates into the task directory and keeps
    /// their watcher for this run; returns the variables of `env = true`
    /// templates.
    fn render_templates(&mut self, env: &TaskEnv) -> Result<BTreeMap<String, String>, String> {
        self.templates = None;
        if self.task.templates.is_empty() {
            return Ok(BTreeMap::new());
        }
        let (vars, watcher) = template::render_task_templates(
            &self.task.templates,
            env,
            &self.shared.dir.root,
            &self.dirs.task_dir,
        )?;
        self.templates = Some(watcher);
        Ok(vars)
    }

    /// Watches the templates of a task re-attached after a client restart.
    fn resume_templates(&mut self, driver: &Arc<dyn Driver>) {
        if self.task.templates.is_empty() {
            return;
        }
        let region = self.shared.config.region.clone();
        let denylist = self.shared.config.env_denylist();
        let no_template_env = BTreeMap::new();
        let env = TaskEnv::build(EnvInputs {
            node: &self.shared.node,
            alloc: &self.alloc,
            task: &self.task,
            dirs: &self.dirs,
            fs_isolation: driver.capabilities().fs_isolation,
            region: &region,
            env_denylist: &denylist,
            template_env: &no_template_env,
        });
        match template::resume_task_templates(
            &self.task.templates,
            &env,
            &self.shared.dir.root,
            &self.dirs.task_dir,
        ) {
            Ok(w) => self.templates = Some(w),
            Err(e) => {
                tracing::warn!(error = %e, "not watching the templates of the re-attached task")
            }
        }
    }

    /// Stops the running task so that the loop starts it again at once,
    /// outside the restart policy (a template re-rendered): `reason`
    /// ("Restart Signaled"), "Terminated", "Restarting" with no delay.
    async fn stop_for_restart(&mut self, driver: &Arc<dyn Driver>, id: &str, reason: TaskEvent) {
        tracing::info!(reason = %reason.display_message, "restarting task");
        self.templates = None;
        self.emit(reason, None);
        if let Err(e) = driver
            .stop_task(id, self.kill_timeout(), &self.task.kill_signal)
            .await
        {
            tracing::warn!(error = %e, "stopping task for restart");
        }
        if let Ok(Ok(exit)) =
            tokio::time::timeout(Duration::from_secs(5), driver.wait_task(id)).await
        {
            self.emit(events::terminated(&exit), None);
        }
        self.forget(driver, id).await;
        self.emit(
            events::restarting(Duration::ZERO, ""),
            Some(task_state::PENDING),
        );
    }

    /// Sends the signals re-rendered templates ask for ("Signaling" each);
    /// false when one could not be sent (the task is then killed, as in
    /// Nomad, with an event that fails it).
    async fn signal_for_templates(
        &self,
        driver: &Arc<dyn Driver>,
        id: &str,
        signals: &[String],
    ) -> bool {
        let mut failed = Vec::new();
        for sig in signals {
            self.emit(events::template_signaling(sig), None);
            if let Err(e) = driver.signal_task(id, sig).await {
                tracing::warn!(signal = %sig, error = %e, "template signal failed");
                failed.push(format!("{sig}: {e}"));
            }
        }
        if failed.is_empty() {
            return true;
        }
        self.emit(events::template_signal_failed(&failed.join(", ")), None);
        false
    }
}

/// Resolves once a kill is requested (never holds the watch's lock).
async fn kill_requested(rx: &mut watch::Receiver<Option<Kill>>) {
    if rx.wait_for(|k| k.is_some()).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Resolves once the gate opens; false if the alloc runner is gone.
async fn gate_opened(rx: &mut watch::Receiver<bool>) -> bool {
    rx.wait_for(|g| *g).await.is_ok()
}
