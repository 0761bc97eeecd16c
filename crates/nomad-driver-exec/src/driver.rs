//! The [`ExecDriver`].

use std::fs::{self, File, OpenOptions};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use nomad_driver::executor::procfs::{self, CpuTracker};
use nomad_driver::executor::{
    self, launch, run_session, ChildFailure, ChildSetup, LaunchSpec, ProcRef, Supervisor,
    TaskStore, UserIds,
};
use nomad_driver::{
    async_trait, signal, Capabilities, Driver, DriverError, ExecRequest, ExecStreams, ExitResult,
    Fingerprint, FsIsolation, IoContext, MountConfigSupport, NetIsolationMode, ResourceUsage,
    TaskConfig, TaskHandle, TaskResourceUsage, TaskStatus, DRIVER_REQUIRES_ROOT, NO_CGROUP_MOUNT,
};
use serde::{Deserialize, Serialize};

use crate::cgroup::{self, CgroupMode, TaskCgroup};
use crate::chroot::{self, ChrootOptions, ChrootPlan};
use crate::config::{ExecConfig, ExecTaskConfig, Modes};

/// The driver's name in jobs.
pub const DRIVER_NAME: &str = "exec";
/// Version of [`TaskHandle::driver_state`] this driver writes.
pub const HANDLE_VERSION: u32 = 1;

/// What the handle carries for recovery.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ExecState {
    shim: ProcRef,
    task: ProcRef,
    started_at: SystemTime,
    status_path: PathBuf,
    cgroup: TaskCgroup,
    secrets_mounted: bool,
}

struct ExecTask {
    sup: Arc<Supervisor>,
    state: ExecState,
    modes: Modes,
    user: UserIds,
    work_dir: String,
    cpu: CpuTracker,
}

impl ExecTask {
    fn kill_all(&self) {
        self.sup.kill_group();
        for pid in self.state.cgroup.procs() {
            // SAFETY: plain kill of a pid in the task's cgroup.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// Nomad's `exec` driver.
pub struct ExecDriver {
    config: ExecConfig,
    tasks: TaskStore<ExecTask>,
}

/// Re-enters a `chroot` after joining a task's mount namespace (only needed
/// with `no_pivot_root`, where the namespace's root is still the host's).
struct EnterRoot(std::ffi::CString);

// SAFETY: raw system calls on a CString built before the fork.
unsafe impl ChildSetup for EnterRoot {
    fn run(&self) -> Result<(), ChildFailure> {
        // SAFETY: valid NUL-terminated paths.
        let ok = unsafe {
            libc::chdir(self.0.as_ptr()) == 0
                && libc::chroot(c".".as_ptr()) == 0
                && libc::chdir(c"/".as_ptr()) == 0
        };
        if ok {
            Ok(())
        } else {
            Err(ChildFailure {
                step: 0,
                // SAFETY: reads this thread's errno.
                errno: unsafe { *libc::__errno_location() },
            })
        }
    }

    fn describe(&self, _step: u32) -> String {
        format!("chroot into {}", self.0.to_string_lossy())
    }
}

impl ExecDriver {
    /// A driver with this plugin config.
    pub fn new(config: ExecConfig) -> Self {
        ExecDriver {
            config,
            tasks: TaskStore::default(),
        }
    }

    fn cgroup_mode(&self) -> Result<CgroupMode, DriverError> {
        if !executor::is_root() {
            return Err(DriverError::Unavailable {
                driver: DRIVER_NAME.into(),
                reason: DRIVER_REQUIRES_ROOT.into(),
            });
        }
        cgroup::detect().ok_or_else(|| DriverError::Unavailable {
            driver: DRIVER_NAME.into(),
            reason: NO_CGROUP_MOUNT.into(),
        })
    }

    fn task_user(&self, name: &str) -> Result<UserIds, DriverError> {
        let name = if name.is_empty() {
            self.config.default_user.as_str()
        } else {
            name
        };
        let user = executor::lookup_user(name)?;
        if self.config.denied_uids()?.contains(user.uid) {
            return Err(DriverError::InvalidConfig(format!(
                "running as uid {} is disallowed by denied_host_uids",
                user.uid
            )));
        }
        if self.config.denied_gids()?.contains(user.gid) {
            return Err(DriverError::InvalidConfig(format!(
                "running as gid {} is disallowed by denied_host_gids",
                user.gid
            )));
        }
        Ok(user)
    }

    /// Paths to try inside the chroot for `command`.
    fn programs(cfg: &TaskConfig, command: &str, work_dir: &str) -> Vec<PathBuf> {
        executor::program_candidates(
            command,
            Some(Path::new(if work_dir.is_empty() { "/" } else { work_dir })),
            &[PathBuf::from("/local"), PathBuf::from("/")],
            cfg.env.get("PATH").map(String::as_str),
        )
    }

    fn exec_spec(
        cfg: &TaskConfig,
        command: &str,
        args: &[String],
        work_dir: &str,
        user: UserIds,
    ) -> LaunchSpec {
        let mut argv = vec![command.to_string()];
        argv.extend(args.iter().cloned());
        let mut spec =
            LaunchSpec::new(Self::programs(cfg, command, work_dir), argv, cfg.env_list());
        spec.cwd = Some(PathBuf::from(if work_dir.is_empty() {
            "/"
        } else {
            work_dir
        }));
        spec.user = Some(user);
        spec
    }

    fn open_log(path: &Path) -> Result<OwnedFd, DriverError> {
        let f = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o644)
            .open(path)
            .context(|| format!("opening log {path:?}"))?;
        Ok(f.into())
    }

    fn oom_hook(cg: TaskCgroup) -> executor::ExitHook {
        Box::new(move |r: &mut ExitResult| {
            if cg.oom_killed() {
                r.oom_killed = true;
            }
        })
    }
}

/// Undoes the host-side setup of a task that failed to start or is gone.
fn cleanup(cg: Option<&TaskCgroup>, secrets: Option<&Path>, status: &Path) {
    if let Some(cg) = cg {
        if let Err(e) = cg.destroy() {
            tracing::warn!(error = %e, "removing task cgroup");
        }
    }
    if let Some(dir) = secrets {
        if let Err(e) = chroot::unmount_secrets(dir) {
            tracing::warn!(error = %e, dir = ?dir, "unmounting secrets tmpfs");
        }
    }
    let _ = fs::remove_file(status);
}

#[async_trait]
impl Driver for ExecDriver {
    fn name(&self) -> &str {
        DRIVER_NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            send_signals: true,
            exec: true,
            fs_isolation: FsIsolation::Chroot,
            net_isolation_modes: vec![NetIsolationMode::Host, NetIsolationMode::Group],
            mount_configs: MountConfigSupport::None,
            ..Capabilities::default()
        }
    }

    async fn fingerprint(&self) -> Fingerprint {
        if !cfg!(target_os = "linux") {
            return Fingerprint::undetected("exec driver unsupported on client OS");
        }
        match self.cgroup_mode() {
            Ok(_) => Fingerprint::healthy().with_attribute("driver.exec", "true"),
            Err(DriverError::Unavailable { reason, .. }) if reason == DRIVER_REQUIRES_ROOT => {
                Fingerprint::undetected(reason)
            }
            Err(e) => Fingerprint::unhealthy(match e {
                DriverError::Unavailable { reason, .. } => reason,
                other => other.to_string(),
            }),
        }
    }

    async fn start_task(&self, cfg: TaskConfig) -> Result<TaskHandle, DriverError> {
        let mode = self.cgroup_mode()?;
        let reservation = self.tasks.reserve(&cfg.id)?;
        let tc: ExecTaskConfig = cfg.decode_driver_config()?;
        let modes = tc.validate(&self.config)?;
        let user = self.task_user(&cfg.user)?;

        let state_dir = self.config.state_dir.clone();
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&state_dir)
            .context(|| format!("creating state dir {state_dir:?}"))?;
        let status_path = executor::status_path(&state_dir, &cfg.id);
        let status: File = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&status_path)
            .context(|| format!("creating status file {status_path:?}"))?;

        tracing::info!(alloc_id = %cfg.alloc_id, task = %cfg.name, command = %tc.command,
            args = ?tc.args, user = %user.name, "starting exec task");
        let cg_name = executor::task_file_name(&cfg.id);
        let plugin = self.config.clone();
        let task_cfg = cfg.clone();
        let spec_user = user.clone();
        let status_for_setup = status_path.clone();
        let tc_for_setup = tc.clone();
        // Host-side setup and the launch are blocking: off the runtime.
        let setup = tokio::task::spawn_blocking(move || {
            let dirs = &task_cfg.dirs;
            // Opening a FIFO blocks until its reader is there: off the runtime.
            let open = |p: &Path| Self::open_log(p).map_err(|e| e.to_string());
            let (stdout, stderr) = match (open(&task_cfg.stdout_path), open(&task_cfg.stderr_path))
            {
                (Ok(o), Ok(e)) => (o, e),
                (Err(e), _) | (_, Err(e)) => {
                    cleanup(None, None, &status_for_setup);
                    return Err(e);
                }
            };
            let secrets_mounted = if dirs.secrets_dir.is_dir() {
                chroot::mount_secrets(&dirs.secrets_dir, task_cfg.resources.secrets_mb)
                    .map_err(|e| format!("mounting secrets tmpfs: {e}"))?
            } else {
                false
            };
            let secrets = secrets_mounted.then_some(dirs.secrets_dir.as_path());
            let cg = match TaskCgroup::create(
                &mode,
                &plugin.cgroup_parent,
                &cg_name,
                &task_cfg.resources,
                plugin.pids_limit,
            ) {
                Ok(cg) => cg,
                Err(e) => {
                    cleanup(None, secrets, &status_for_setup);
                    return Err(format!("creating cgroup: {e}"));
                }
            };
            let fail = |msg: String| {
                cleanup(Some(&cg), secrets, &status_for_setup);
                Err(msg)
            };
            let plan = match ChrootPlan::prepare(&ChrootOptions {
                root: dirs.task_dir.clone(),
                shared_alloc_dir: dirs.shared_alloc_dir.clone(),
                chroot_env: plugin.chroot_env.clone(),
                no_pivot_root: plugin.no_pivot_root,
                private_ipc: modes.private_ipc,
            }) {
                Ok(p) => p,
                Err(e) => return fail(format!("preparing chroot: {e}")),
            };
            let procs = match cg.open_procs() {
                Ok(p) => p,
                Err(e) => return fail(e.to_string()),
            };
            let mut spec = Self::exec_spec(
                &task_cfg,
                &tc_for_setup.command,
                &tc_for_setup.args,
                &tc_for_setup.work_dir,
                spec_user,
            );
            spec.stdout = Some(stdout);
            spec.stderr = Some(stderr);
            spec.status = Some(status.into());
            spec.cgroup_procs = procs;
            spec.shim_unshare = if modes.private_pid {
                libc::CLONE_NEWPID
            } else {
                0
            };
            spec.child_unshare = libc::CLONE_NEWNS
                | libc::CLONE_NEWUTS
                | if modes.private_ipc {
                    libc::CLONE_NEWIPC
                } else {
                    0
                };
            spec.setup = Some(Arc::new(plan));
            spec.keep_caps = Some(modes.caps);
            match launch(spec) {
                Ok(l) => Ok((l, cg, secrets_mounted)),
                Err(e) => fail(e.to_string()),
            }
        })
        .await
        .map_err(|e| DriverError::Other(format!("exec setup panicked: {e}")))?;
        let (launched, cg, secrets_mounted) = setup.map_err(|e| {
            tracing::warn!(alloc_id = %cfg.alloc_id, task = %cfg.name, error = %e,
                "exec task failed to start");
            DriverError::StartFailed(e)
        })?;

        let state = ExecState {
            shim: launched.shim,
            task: launched.task,
            started_at: SystemTime::now(),
            status_path: status_path.clone(),
            cgroup: cg.clone(),
            secrets_mounted,
        };
        let mut handle = TaskHandle::new(DRIVER_NAME, HANDLE_VERSION, cfg.clone());
        handle.set_driver_state(&state)?;
        tracing::debug!(alloc_id = %cfg.alloc_id, task = %cfg.name, pid = launched.task.pid,
            cgroup = ?cg.paths, "exec task started");
        let sup = Supervisor::start(
            cfg.clone(),
            launched.shim,
            launched.task,
            launched.shim_pidfd,
            status_path,
            Some(Self::oom_hook(cg)),
        );
        reservation.commit(Arc::new(ExecTask {
            sup,
            state,
            modes,
            user,
            work_dir: tc.work_dir,
            cpu: CpuTracker::default(),
        }));
        Ok(handle)
    }

    async fn recover_task(&self, handle: &TaskHandle) -> Result<(), DriverError> {
        handle.check(DRIVER_NAME, HANDLE_VERSION)?;
        let cfg = &handle.config;
        if self.tasks.contains(&cfg.id) {
            return Ok(());
        }
        let state: ExecState = handle.driver_state()?;
        let tc: ExecTaskConfig = cfg.decode_driver_config()?;
        let modes = tc.validate(&self.config)?;
        let user = self.task_user(&cfg.user)?;
        let sup = Supervisor::recover(
            cfg.clone(),
            state.shim,
            state.task,
            state.status_path.clone(),
            state.started_at,
            Some(Self::oom_hook(state.cgroup.clone())),
        )?;
        tracing::info!(alloc_id = %cfg.alloc_id, task = %cfg.name, pid = state.task.pid,
            "recovered exec task");
        self.tasks.insert(
            &cfg.id,
            Arc::new(ExecTask {
                sup,
                state,
                modes,
                user,
                work_dir: tc.work_dir,
                cpu: CpuTracker::default(),
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
        let task = t.clone();
        let kill = move || task.kill_all();
        t.sup.stop(timeout, sig, &kill).await
    }

    async fn destroy_task(&self, task_id: &str, force: bool) -> Result<(), DriverError> {
        let t = self.tasks.get(task_id)?;
        if t.sup.is_running() {
            if !force {
                return Err(DriverError::TaskRunning);
            }
            let task = t.clone();
            let kill = move || task.kill_all();
            t.sup.stop(Duration::ZERO, libc::SIGKILL, &kill).await?;
        }
        let state = t.state.clone();
        let secrets = t.sup.config.dirs.secrets_dir.clone();
        tokio::task::spawn_blocking(move || {
            cleanup(
                Some(&state.cgroup),
                state.secrets_mounted.then_some(secrets.as_path()),
                &state.status_path,
            );
        })
        .await
        .map_err(|e| DriverError::Other(format!("exec cleanup panicked: {e}")))?;
        self.tasks.remove(task_id);
        tracing::debug!(alloc_id = %t.sup.config.alloc_id, task = %t.sup.config.name, "exec task destroyed");
        Ok(())
    }

    async fn inspect_task(&self, task_id: &str) -> Result<TaskStatus, DriverError> {
        let t = self.tasks.get(task_id)?;
        let mut status = t.sup.status();
        let paths = &t.state.cgroup.paths;
        if let Some(dir) = paths.get("memory").or_else(|| paths.get("unified")) {
            status
                .driver_attributes
                .insert("cgroup".into(), dir.display().to_string());
        }
        for (ctrl, dir) in paths {
            status
                .driver_attributes
                .insert(format!("cgroup.{ctrl}"), dir.display().to_string());
        }
        Ok(status)
    }

    async fn task_stats(&self, task_id: &str) -> Result<TaskResourceUsage, DriverError> {
        let t = self.tasks.get(task_id)?;
        let (memory_stats, times, periods, throttled) = t.state.cgroup.stats();
        let measured = [
            "System Mode",
            "User Mode",
            "Throttled Periods",
            "Throttled Time",
            "Percent",
        ];
        let mut cpu_stats = t.cpu.sample(times, &measured);
        cpu_stats.throttled_periods = periods;
        cpu_stats.throttled_time = throttled;
        let procs: Vec<_> = t
            .state
            .cgroup
            .procs()
            .into_iter()
            .filter_map(|pid| procfs::read_stat(pid).ok())
            .collect();
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
        if !t.sup.is_running() || !t.sup.task.is_alive() {
            return Err(DriverError::Other("task is not running".into()));
        }
        let cfg = &t.sup.config;
        tracing::debug!(alloc_id = %cfg.alloc_id, task = %cfg.name, ?request.command, "exec in exec task");
        let pid = t.sup.task.pid;
        let ns = |name: &str| -> Result<OwnedFd, DriverError> {
            let p = format!("/proc/{pid}/ns/{name}");
            File::open(&p)
                .map(OwnedFd::from)
                .context(|| format!("opening {p}"))
        };
        let mut spec = Self::exec_spec(cfg, command, args, &t.work_dir, t.user.clone());
        if t.modes.private_pid {
            spec.shim_setns = vec![(ns("pid")?, libc::CLONE_NEWPID)];
        }
        let mut child = vec![
            (ns("mnt")?, libc::CLONE_NEWNS),
            (ns("uts")?, libc::CLONE_NEWUTS),
        ];
        if t.modes.private_ipc {
            child.push((ns("ipc")?, libc::CLONE_NEWIPC));
        }
        spec.child_setns = child;
        spec.keep_caps = Some(t.modes.caps);
        spec.cgroup_procs = t
            .state
            .cgroup
            .open_procs()
            .map_err(|e| DriverError::Other(e.to_string()))?;
        if self.config.no_pivot_root {
            let root = std::ffi::CString::new(cfg.dirs.task_dir.as_os_str().as_encoded_bytes())
                .map_err(|_| DriverError::InvalidConfig("task dir contains NUL".into()))?;
            spec.setup = Some(Arc::new(EnterRoot(root)));
        }
        // The task is still this pid (checked above, just before the
        // namespace files were opened).
        if !t.sup.task.is_alive() {
            return Err(DriverError::Other("task is not running".into()));
        }
        run_session(spec, request.tty, streams).await
    }
}
