//! A complete, tiny task driver: a "task" is a timer that exits with a
//! chosen code after a chosen time. It shows what a third-party driver
//! implements, how it keeps its own task table, what it puts in the handle
//! so that a restarted client can recover, and how it runs the conformance
//! kit (the checks that do not need a real process).
//!
//! Job config for this driver:
//!
//! ```hcl
//! task "nap" {
//!   driver = "sleep"
//!   config {
//!     duration_ms = 1500
//!     exit_code   = 0
//!   }
//! }
//! ```
//!
//! Run it with `cargo run -p nomad-driver --example sleep_driver`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use nomad_driver::conformance::{self, Check, ConformanceOptions, DriverFactory};
use nomad_driver::{
    async_trait, signal, Capabilities, CpuStats, Driver, DriverError, ExecRequest, ExecStreams,
    ExitResult, Fingerprint, MemoryStats, ResourceUsage, TaskConfig, TaskHandle, TaskResourceUsage,
    TaskState, TaskStatus,
};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// The task's `config` block.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SleepConfig {
    duration_ms: u64,
    #[serde(default)]
    exit_code: i32,
}

/// What goes into the handle: enough to rebuild the task after a restart.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SleepState {
    started_at: SystemTime,
    deadline: SystemTime,
    exit_code: i32,
}

struct SleepTask {
    config: TaskConfig,
    state: SleepState,
    done: watch::Sender<Option<ExitResult>>,
}

impl SleepTask {
    fn finish(&self, result: ExitResult) {
        self.done.send_if_modified(|slot| {
            if slot.is_none() {
                *slot = Some(result);
                true
            } else {
                false
            }
        });
    }

    fn exit(&self) -> Option<ExitResult> {
        self.done.borrow().clone()
    }
}

#[derive(Default)]
struct SleepDriver {
    tasks: Mutex<HashMap<String, Arc<SleepTask>>>,
}

impl SleepDriver {
    fn get(&self, id: &str) -> Result<Arc<SleepTask>, DriverError> {
        let tasks = self
            .tasks
            .lock()
            .map_err(|_| DriverError::Other("poisoned".into()))?;
        tasks
            .get(id)
            .cloned()
            .ok_or_else(|| DriverError::TaskNotFound(id.to_string()))
    }

    /// Registers a task and arms its timer.
    fn track(&self, config: TaskConfig, state: SleepState) -> Result<(), DriverError> {
        let (done, _) = watch::channel(None);
        let task = Arc::new(SleepTask {
            config,
            state,
            done,
        });
        {
            let mut tasks = self
                .tasks
                .lock()
                .map_err(|_| DriverError::Other("poisoned".into()))?;
            if tasks.contains_key(&task.config.id) {
                return Err(DriverError::AlreadyStarted(task.config.id.clone()));
            }
            tasks.insert(task.config.id.clone(), task.clone());
        }
        let left = task
            .state
            .deadline
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO);
        let weak = Arc::downgrade(&task);
        tokio::spawn(async move {
            tokio::time::sleep(left).await;
            if let Some(task) = weak.upgrade() {
                let code = task.state.exit_code;
                task.finish(ExitResult {
                    exit_code: code,
                    ..ExitResult::default()
                });
            }
        });
        Ok(())
    }
}

#[async_trait]
impl Driver for SleepDriver {
    fn name(&self) -> &str {
        "sleep"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            send_signals: true,
            ..Capabilities::default()
        }
    }

    async fn fingerprint(&self) -> Fingerprint {
        Fingerprint::healthy()
            .with_attribute("driver.sleep", "true")
            .with_attribute("driver.sleep.version", "0.1.0")
    }

    async fn start_task(&self, config: TaskConfig) -> Result<TaskHandle, DriverError> {
        let cfg: SleepConfig = config.decode_driver_config()?;
        let now = SystemTime::now();
        let state = SleepState {
            started_at: now,
            deadline: now + Duration::from_millis(cfg.duration_ms),
            exit_code: cfg.exit_code,
        };
        // A real driver sends the task's output to these paths.
        std::fs::write(&config.stdout_path, "ready\n")
            .map_err(|e| DriverError::io("writing stdout log", e))?;
        let mut handle = TaskHandle::new("sleep", 1, config.clone());
        handle.set_driver_state(&state)?;
        self.track(config, state)?;
        Ok(handle)
    }

    async fn recover_task(&self, handle: &TaskHandle) -> Result<(), DriverError> {
        handle.check("sleep", 1)?;
        if self.get(&handle.config.id).is_ok() {
            return Ok(());
        }
        let state: SleepState = handle.driver_state()?;
        self.track(handle.config.clone(), state)
    }

    async fn wait_task(&self, task_id: &str) -> Result<ExitResult, DriverError> {
        let mut rx = self.get(task_id)?.done.subscribe();
        loop {
            if let Some(r) = rx.borrow_and_update().clone() {
                return Ok(r);
            }
            rx.changed()
                .await
                .map_err(|_| DriverError::Other("task dropped".into()))?;
        }
    }

    async fn stop_task(
        &self,
        task_id: &str,
        _timeout: Duration,
        sig: &str,
    ) -> Result<(), DriverError> {
        let task = self.get(task_id)?;
        // A timer cannot handle signals: any stop kills it at once.
        let sig = signal::parse_kill_signal(sig)?;
        task.finish(ExitResult {
            exit_code: 128 + sig,
            signal: sig,
            ..ExitResult::default()
        });
        Ok(())
    }

    async fn destroy_task(&self, task_id: &str, force: bool) -> Result<(), DriverError> {
        let task = self.get(task_id)?;
        if task.exit().is_none() {
            if !force {
                return Err(DriverError::TaskRunning);
            }
            task.finish(ExitResult {
                exit_code: 137,
                signal: 9,
                ..ExitResult::default()
            });
        }
        if let Ok(mut tasks) = self.tasks.lock() {
            tasks.remove(task_id);
        }
        Ok(())
    }

    async fn inspect_task(&self, task_id: &str) -> Result<TaskStatus, DriverError> {
        let task = self.get(task_id)?;
        let exit = task.exit();
        Ok(TaskStatus {
            id: task.config.id.clone(),
            name: task.config.name.clone(),
            state: if exit.is_some() {
                TaskState::Exited
            } else {
                TaskState::Running
            },
            started_at: task.state.started_at,
            completed_at: exit.as_ref().map(|_| SystemTime::now()),
            exit_result: exit,
            driver_attributes: BTreeMap::new(),
        })
    }

    async fn task_stats(&self, task_id: &str) -> Result<TaskResourceUsage, DriverError> {
        self.get(task_id)?;
        Ok(TaskResourceUsage {
            resource_usage: ResourceUsage {
                memory_stats: MemoryStats::default(),
                cpu_stats: CpuStats::default(),
            },
            timestamp: nomad_driver::unix_nanos(SystemTime::now()),
            pids: BTreeMap::new(),
        })
    }

    async fn signal_task(&self, task_id: &str, sig: &str) -> Result<(), DriverError> {
        self.get(task_id)?;
        signal::parse_signal(sig)?;
        Ok(()) // a timer ignores signals
    }

    async fn exec_task(
        &self,
        _task_id: &str,
        _request: ExecRequest,
        _streams: ExecStreams,
    ) -> Result<ExitResult, DriverError> {
        Err(DriverError::NotSupported("exec"))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base = std::env::temp_dir().join(format!("sleep-driver-{}", std::process::id()));

    // Use the driver the way the client does.
    let driver: Arc<dyn Driver> = Arc::new(SleepDriver::default());
    let dirs = nomad_driver::TaskDirs::new(base.join("alloc1"), "nap");
    dirs.create_all()?;
    let mut config = TaskConfig {
        id: "alloc1/nap/1".into(),
        alloc_id: "alloc1".into(),
        name: "nap".into(),
        stdout_path: dirs.log_dir.join("nap.stdout.0"),
        stderr_path: dirs.log_dir.join("nap.stderr.0"),
        dirs,
        ..TaskConfig::default()
    };
    config
        .driver_config
        .insert("duration_ms".into(), 200.into());
    config.driver_config.insert("exit_code".into(), 3.into());
    let handle = driver.start_task(config).await?;
    println!("handle: {}", serde_json::to_string(&handle)?);
    let exit = driver.wait_task("alloc1/nap/1").await?;
    println!("exited: {exit:?}");
    driver.destroy_task("alloc1/nap/1", false).await?;

    // Run the conformance checks that fit a driver without processes. The
    // kit's tasks are shell scripts; this driver maps any shell command to
    // a long nap and anything else to an invalid config.
    let factory: DriverFactory = Arc::new(|| Arc::new(SleepDriver::default()) as Arc<dyn Driver>);
    let mut options = ConformanceOptions::new(base.join("conformance"));
    options.command_config = Arc::new(|command: &str, _args: &[String]| {
        let mut m = BTreeMap::new();
        if command == "/bin/sh" {
            m.insert("duration_ms".to_string(), 600_000.into());
        } else {
            m.insert("not_a_sleep_field".to_string(), command.into());
        }
        m
    });
    for check in [
        Check::Fingerprint,
        Check::Inspect,
        Check::Destroy,
        Check::UnknownTask,
        Check::DuplicateStart,
        Check::BadCommand,
    ] {
        let outcome = conformance::run_check(&factory, &options, check).await?;
        println!("conformance {check}: {outcome:?}");
    }
    let _ = std::fs::remove_dir_all(&base);
    Ok(())
}
