//! The [`RawExecDriver`].

use std::fs::{self, OpenOptions};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use nomad_driver::executor::procfs::{self, CpuTracker, PROC_MEASURED_CPU};
use nomad_driver::executor::{
    self, launch, program_candidates, run_session, LaunchSpec, ProcRef, Supervisor, TaskStore,
    UserIds,
};
use nomad_driver::{
    async_trait, signal, Capabilities, Driver, DriverError, ExecRequest, ExecStreams, ExitResult,
    Fingerprint, FsIsolation, IoContext, MountConfigSupport, NetIsolationMode, ResourceUsage,
    TaskConfig, TaskHandle, TaskResourceUsage, TaskStatus,
};
use serde::{Deserialize, Serialize};

use crate::config::{RawExecConfig, RawExecTaskConfig};

/// The driver's name in jobs.
pub const DRIVER_NAME: &str = "raw_exec";
/// Version of [`TaskHandle::driver_state`] this driver writes.
pub const HANDLE_VERSION: u32 = 1;

/// What the handle carries for recovery.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RawExecState {
    shim: ProcRef,
    task: ProcRef,
    started_at: SystemTime,
    status_path: PathBuf,
}

struct RawTask {
    sup: Arc<Supervisor>,
    cpu: CpuTracker,
    user: Option<UserIds>,
    work_dir: PathBuf,
}

/// Nomad's `raw_exec` driver.
pub struct RawExecDriver {
    config: RawExecConfig,
    tasks: TaskStore<RawTask>,
}

impl RawExecDriver {
    /// A driver with this plugin config.
    pub fn new(config: RawExecConfig) -> Self {
        RawExecDriver {
            config,
            tasks: TaskStore::default(),
        }
    }

    fn ensure_enabled(&self) -> Result<(), DriverError> {
        if self.config.enabled {
            Ok(())
        } else {
            Err(DriverError::Unavailable {
                driver: DRIVER_NAME.into(),
                reason: "disabled".into(),
            })
        }
    }

    /// The user a task runs as: `None` keeps the client's user.
    fn task_user(&self, name: &str) -> Result<Option<UserIds>, DriverError> {
        let user = if name.is_empty() {
            None
        } else {
            let u = executor::lookup_user(name)?;
            let (uid, gid) = executor::user::current_ids();
            if u.uid == uid && u.gid == gid {
                None
            } else {
                Some(u)
            }
        };
        let (uid, gid) = match &user {
            Some(u) => (u.uid, u.gid),
            None => executor::user::current_ids(),
        };
        if self.config.denied_uids()?.contains(uid) {
            return Err(DriverError::InvalidConfig(format!(
                "running as uid {uid} is disallowed by denied_host_uids"
            )));
        }
        if self.config.denied_gids()?.contains(gid) {
            return Err(DriverError::InvalidConfig(format!(
                "running as gid {gid} is disallowed by denied_host_gids"
            )));
        }
        Ok(user)
    }

    fn state_dir(&self) -> Result<PathBuf, DriverError> {
        let dir = self.config.state_dir.clone();
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .context(|| format!("creating state dir {dir:?}"))?;
        Ok(dir)
    }

    fn launch_spec(
        cfg: &TaskConfig,
        command: &str,
        args: &[String],
        work_dir: &std::path::Path,
        user: Option<UserIds>,
    ) -> LaunchSpec {
        let dirs = &cfg.dirs;
        let programs = program_candidates(
            command,
            Some(&dirs.task_dir),
            &[dirs.local_dir.clone(), dirs.task_dir.clone()],
            cfg.env.get("PATH").map(String::as_str),
        );
        let mut argv = vec![command.to_string()];
        argv.extend(args.iter().cloned());
        let mut spec = LaunchSpec::new(programs, argv, cfg.env_list());
        spec.cwd = Some(work_dir.to_path_buf());
        spec.user = user;
        spec
    }

    fn open_log(path: &std::path::Path) -> Result<OwnedFd, DriverError> {
        let f = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o644)
            .open(path)
            .context(|| format!("opening log {path:?}"))?;
        Ok(f.into())
    }
}

#[async_trait]
impl Driver for RawExecDriver {
    fn name(&self) -> &str {
        DRIVER_NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            send_signals: true,
            exec: true,
            fs_isolation: FsIsolation::None,
            net_isolation_modes: vec![NetIsolationMode::Host, NetIsolationMode::Group],
            mount_configs: MountConfigSupport::None,
            ..Capabilities::default()
        }
    }

    async fn fingerprint(&self) -> Fingerprint {
        if self.config.enabled {
            Fingerprint::healthy().with_attribute("driver.raw_exec", "true")
        } else {
            Fingerprint::undetected("disabled")
        }
    }

    async fn start_task(&self, cfg: TaskConfig) -> Result<TaskHandle, DriverError> {
        self.ensure_enabled()?;
        let reservation = self.tasks.reserve(&cfg.id)?;
        let tc: RawExecTaskConfig = cfg.decode_driver_config()?;
        if tc.command.trim().is_empty() {
            return Err(DriverError::InvalidConfig(
                "command must not be empty".into(),
            ));
        }
        let user = self.task_user(&cfg.user)?;
        let work_dir = match &tc.work_dir {
            Some(w) => cfg.dirs.task_dir.join(w),
            None => cfg.dirs.task_dir.clone(),
        };
        let status_path = executor::status_path(&self.state_dir()?, &cfg.id);
        let status = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&status_path)
            .context(|| format!("creating status file {status_path:?}"))?;

        let mut spec = Self::launch_spec(&cfg, &tc.command, &tc.args, &work_dir, user.clone());
        spec.status = Some(status.into());
        spec.oom_score_adj = Some(tc.oom_score_adj.unwrap_or(0));

        tracing::info!(alloc_id = %cfg.alloc_id, task = %cfg.name, command = %tc.command,
            args = ?tc.args, "starting raw_exec task");
        let (out, err) = (cfg.stdout_path.clone(), cfg.stderr_path.clone());
        // Opening a FIFO blocks until its reader is there: off the runtime.
        let launched = tokio::task::spawn_blocking(move || {
            spec.stdout = Some(Self::open_log(&out)?);
            spec.stderr = Some(Self::open_log(&err)?);
            launch(spec).map_err(|e| DriverError::StartFailed(e.to_string()))
        })
        .await
        .map_err(|e| DriverError::Other(format!("launch panicked: {e}")))?;
        let launched = match launched {
            Ok(l) => l,
            Err(e) => {
                let _ = fs::remove_file(&status_path);
                tracing::warn!(alloc_id = %cfg.alloc_id, task = %cfg.name, error = %e,
                    "raw_exec task failed to start");
                return Err(e);
            }
        };
        let state = RawExecState {
            shim: launched.shim,
            task: launched.task,
            started_at: SystemTime::now(),
            status_path: status_path.clone(),
        };
        let mut handle = TaskHandle::new(DRIVER_NAME, HANDLE_VERSION, cfg.clone());
        handle.set_driver_state(&state)?;
        tracing::debug!(alloc_id = %cfg.alloc_id, task = %cfg.name, pid = launched.task.pid,
            "raw_exec task started");
        let sup = Supervisor::start(
            cfg.clone(),
            launched.shim,
            launched.task,
            launched.shim_pidfd,
            status_path,
            None,
        );
        reservation.commit(Arc::new(RawTask {
            sup,
            cpu: CpuTracker::default(),
            user,
            work_dir,
        }));
        Ok(handle)
    }

    async fn recover_task(&self, handle: &TaskHandle) -> Result<(), DriverError> {
        handle.check(DRIVER_NAME, HANDLE_VERSION)?;
        let cfg = &handle.config;
        if self.tasks.contains(&cfg.id) {
            return Ok(());
        }
        let state: RawExecState = handle.driver_state()?;
        let tc: RawExecTaskConfig = cfg.decode_driver_config()?;
        let user = self.task_user(&cfg.user)?;
        let work_dir = match &tc.work_dir {
            Some(w) => cfg.dirs.task_dir.join(w),
            None => cfg.dirs.task_dir.clone(),
        };
        let sup = Supervisor::recover(
            cfg.clone(),
            state.shim,
            state.task,
            state.status_path,
            state.started_at,
            None,
        )?;
        tracing::info!(alloc_id = %cfg.alloc_id, task = %cfg.name, pid = state.task.pid,
            "recovered raw_exec task");
        self.tasks.insert(
            &cfg.id,
            Arc::new(RawTask {
                sup,
                cpu: CpuTracker::default(),
                user,
                work_dir,
            }),
        )
    }

    async fn wait_task(&self, task_id: &str) -> Result<ExitResult, DriverError> {
        let t = self.tasks.get(task_id)?;
        Ok(t.sup.wait().await)
    }

    async fn stop_task(
        &self,
        task_id: &str,
        timeout: Duration,
        sig: &str,
    ) -> Result<(), DriverError> {
        let t = self.tasks.get(task_id)?;
        let sig = signal::parse_kill_signal(sig)?;
        let sup = t.sup.clone();
        let kill = move || sup.kill_group();
        t.sup.stop(timeout, sig, &kill).await
    }

    async fn destroy_task(&self, task_id: &str, force: bool) -> Result<(), DriverError> {
        let t = self.tasks.get(task_id)?;
        if t.sup.is_running() {
            if !force {
                return Err(DriverError::TaskRunning);
            }
            let sup = t.sup.clone();
            let kill = move || sup.kill_group();
            t.sup.stop(Duration::ZERO, libc_sigkill(), &kill).await?;
        }
        if let Err(e) = fs::remove_file(&t.sup.status_path) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(alloc_id = %t.sup.config.alloc_id, task = %t.sup.config.name,
                    error = %e, "removing status file");
            }
        }
        self.tasks.remove(task_id);
        Ok(())
    }

    async fn inspect_task(&self, task_id: &str) -> Result<TaskStatus, DriverError> {
        Ok(self.tasks.get(task_id)?.sup.status())
    }

    async fn task_stats(&self, task_id: &str) -> Result<TaskResourceUsage, DriverError> {
        let t = self.tasks.get(task_id)?;
        let procs = if t.sup.is_running() && t.sup.task.is_alive() {
            procfs::session_members(t.sup.task.pid)
        } else {
            Vec::new()
        };
        let (memory_stats, times) = procfs::processes_usage(&procs);
        let cpu_stats = t.cpu.sample(times, PROC_MEASURED_CPU);
        Ok(TaskResourceUsage {
            resource_usage: ResourceUsage {
                memory_stats,
                cpu_stats,
            },
            timestamp: nomad_driver::unix_nanos(SystemTime::now()),
            pids: procfs::per_process_usage(&procs),
        })
    }

    async fn signal_task(&self, task_id: &str, sig: &str) -> Result<(), DriverError> {
        let t = self.tasks.get(task_id)?;
        t.sup.signal(signal::parse_signal(sig)?)
    }

    async fn exec_task(
        &self,
        task_id: &str,
        request: ExecRequest,
        streams: ExecStreams,
    ) -> Result<ExitResult, DriverError> {
        let t = self.tasks.get(task_id)?;
        let Some((command, args)) = request.command.split_first() else {
            return Err(DriverError::InvalidConfig("exec needs a command".into()));
        };
        if !t.sup.is_running() {
            return Err(DriverError::Other("task is not running".into()));
        }
        let cfg = &t.sup.config;
        tracing::debug!(alloc_id = %cfg.alloc_id, task = %cfg.name, ?request.command, "exec in raw_exec task");
        let spec = Self::launch_spec(cfg, command, args, &t.work_dir, t.user.clone());
        run_session(spec, request.tty, streams).await
    }
}

fn libc_sigkill() -> i32 {
    // SIGKILL is 9 on every Linux architecture.
    signal::parse_signal("SIGKILL").unwrap_or(9)
}
