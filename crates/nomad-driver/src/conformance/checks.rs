//! The checks themselves. Each returns `Err(message)` on failure.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Check, ConformanceOptions, DriverFactory, Outcome};
use crate::driver::{exec_capture, Driver, ExecRequest, ExecStreams};
use crate::error::DriverError;
use crate::executor::procfs::ProcRef;
use crate::status::{ExitResult, HealthState, TaskState};
use crate::task::{TaskConfig, TaskDirs, TaskHandle};

type CheckResult = Result<Outcome, String>;

/// A script that prints `ready` and then idles until stopped.
const IDLE: &str = "echo ready; while :; do sleep 0.1; done";

static COUNTER: AtomicU64 = AtomicU64::new(0);

pub(super) struct Ctx {
    factory: DriverFactory,
    pub(super) driver: Arc<dyn Driver>,
    opts: ConformanceOptions,
    check: Check,
    started: Vec<String>,
}

impl Ctx {
    pub(super) fn new(factory: DriverFactory, opts: ConformanceOptions, check: Check) -> Self {
        let driver = factory();
        Ctx {
            factory,
            driver,
            opts,
            check,
            started: Vec::new(),
        }
    }

    /// Destroys every task the check started, with whatever driver instance
    /// is current.
    pub(super) async fn cleanup(&mut self) {
        for id in std::mem::take(&mut self.started) {
            let _ = self.driver.destroy_task(&id, true).await;
        }
    }

    fn config(&self, script: &str, env: &[(&str, &str)]) -> Result<TaskConfig, String> {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let alloc_id = format!("conf-{}-{}-{n}", std::process::id(), self.check.name());
        let name = format!("task-{}", self.check.name().replace('_', "-"));
        let dirs = TaskDirs::new(self.opts.base_dir.join(&alloc_id), &name);
        dirs.create_all()
            .map_err(|e| format!("creating task dirs under {:?}: {e}", dirs.alloc_dir))?;
        let args = vec!["-c".to_string(), script.to_string()];
        Ok(TaskConfig {
            id: format!("{alloc_id}/{name}/{n}"),
            alloc_id,
            namespace: "default".into(),
            job_id: "conformance".into(),
            job_name: "conformance".into(),
            task_group: "group".into(),
            driver_config: (self.opts.command_config)(&self.opts.shell, &args),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .chain([(
                    "PATH".to_string(),
                    "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin".to_string(),
                )])
                .collect(),
            user: self.opts.user.clone(),
            resources: self.opts.resources.clone(),
            stdout_path: dirs.log_dir.join(format!("{name}.stdout.0")),
            stderr_path: dirs.log_dir.join(format!("{name}.stderr.0")),
            name,
            dirs,
            kill_signal: "SIGTERM".into(),
            kill_timeout: self.opts.kill_timeout,
        })
    }

    async fn start(&mut self, cfg: TaskConfig) -> Result<TaskHandle, String> {
        let id = cfg.id.clone();
        let handle = self
            .driver
            .start_task(cfg)
            .await
            .map_err(|e| format!("start_task: {e}"))?;
        self.started.push(id);
        Ok(handle)
    }

    async fn run_script(
        &mut self,
        script: &str,
        env: &[(&str, &str)],
    ) -> Result<(TaskConfig, ExitResult), String> {
        let cfg = self.config(script, env)?;
        self.start(cfg.clone()).await?;
        let exit = self.wait(&cfg.id).await?;
        Ok((cfg, exit))
    }

    async fn wait(&self, id: &str) -> Result<ExitResult, String> {
        match tokio::time::timeout(self.opts.timeout, self.driver.wait_task(id)).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(format!("wait_task: {e}")),
            Err(_) => Err(format!("task did not exit within {:?}", self.opts.timeout)),
        }
    }

    async fn wait_output(&self, path: &Path, needle: &str) -> Result<(), String> {
        let deadline = Instant::now() + self.opts.timeout;
        loop {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            if text.contains(needle) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{needle:?} never appeared in {path:?} (it holds {text:?})"
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Starts an idle task and waits until it printed `ready`.
    async fn start_idle(&mut self, script: &str) -> Result<(TaskConfig, TaskHandle), String> {
        let cfg = self.config(script, &[("CONFORMANCE_VAR", "exec env")])?;
        let handle = self.start(cfg.clone()).await?;
        self.wait_output(&cfg.stdout_path, "ready").await?;
        Ok((cfg, handle))
    }
}

fn expect_exit(r: &ExitResult, code: i32, signal: i32) -> Result<(), String> {
    if r.exit_code != code || r.signal != signal || r.err.is_some() {
        return Err(format!(
            "expected exit code {code} signal {signal}, got {r:?}"
        ));
    }
    Ok(())
}

fn expect_not_found<T: std::fmt::Debug>(
    what: &str,
    r: Result<T, DriverError>,
) -> Result<(), String> {
    match r {
        Err(DriverError::TaskNotFound(_)) => Ok(()),
        other => Err(format!(
            "{what} of an unknown task: expected TaskNotFound, got {other:?}"
        )),
    }
}

pub(super) async fn run(ctx: &mut Ctx, check: Check) -> CheckResult {
    match check {
        Check::Fingerprint => fingerprint(ctx).await,
        Check::ExitZero => exit_code(ctx, 0).await,
        Check::ExitNonZero => exit_code(ctx, 3).await,
        Check::Inspect => inspect(ctx).await,
        Check::Logs => logs(ctx).await,
        Check::Env => env(ctx).await,
        Check::StopGraceful => stop_graceful(ctx).await,
        Check::StopEscalation => stop_escalation(ctx).await,
        Check::Signal => signal(ctx).await,
        Check::Stats => stats(ctx).await,
        Check::Exec => exec(ctx).await,
        Check::ExecTty => exec_tty(ctx).await,
        Check::Recover => recover(ctx).await,
        Check::RecoverExited => recover_exited(ctx).await,
        Check::Destroy => destroy(ctx).await,
        Check::UnknownTask => unknown_task(ctx).await,
        Check::DuplicateStart => duplicate_start(ctx).await,
        Check::BadCommand => bad_command(ctx).await,
    }
}

async fn fingerprint(ctx: &mut Ctx) -> CheckResult {
    let fp = ctx.driver.fingerprint().await;
    if fp.health != HealthState::Healthy {
        return Err(format!("driver is not healthy: {fp:?}"));
    }
    let key = format!("driver.{}", ctx.driver.name());
    if !fp.attributes.contains_key(&key) {
        return Err(format!("fingerprint lacks attribute {key:?}: {fp:?}"));
    }
    Ok(Outcome::Passed)
}

async fn exit_code(ctx: &mut Ctx, code: i32) -> CheckResult {
    let (cfg, exit) = ctx.run_script(&format!("exit {code}"), &[]).await?;
    expect_exit(&exit, code, 0)?;
    if exit.oom_killed {
        return Err("a plain exit was reported as OOM-killed".into());
    }
    let status = ctx
        .driver
        .inspect_task(&cfg.id)
        .await
        .map_err(|e| format!("inspect_task: {e}"))?;
    if status.state != TaskState::Exited || status.exit_result.as_ref() != Some(&exit) {
        return Err(format!("inspect after exit: {status:?}"));
    }
    if status.completed_at.is_none() {
        return Err("inspect after exit has no completion time".into());
    }
    Ok(Outcome::Passed)
}

async fn inspect(ctx: &mut Ctx) -> CheckResult {
    let (cfg, _) = ctx.start_idle(IDLE).await?;
    let status = ctx
        .driver
        .inspect_task(&cfg.id)
        .await
        .map_err(|e| format!("inspect_task: {e}"))?;
    if status.state != TaskState::Running || status.exit_result.is_some() {
        return Err(format!("a running task inspects as {status:?}"));
    }
    if status.id != cfg.id || status.name != cfg.name {
        return Err(format!("inspect returned another task: {status:?}"));
    }
    ctx.driver
        .stop_task(&cfg.id, Duration::ZERO, "SIGKILL")
        .await
        .map_err(|e| format!("stop_task: {e}"))?;
    let exit = ctx.wait(&cfg.id).await?;
    expect_exit(&exit, 137, libc::SIGKILL)?;
    let status = ctx
        .driver
        .inspect_task(&cfg.id)
        .await
        .map_err(|e| format!("inspect_task: {e}"))?;
    if status.state != TaskState::Exited {
        return Err(format!("a stopped task inspects as {status:?}"));
    }
    Ok(Outcome::Passed)
}

async fn logs(ctx: &mut Ctx) -> CheckResult {
    let (cfg, exit) = ctx
        .run_script("echo out-line; echo err-line 1>&2", &[])
        .await?;
    expect_exit(&exit, 0, 0)?;
    ctx.wait_output(&cfg.stdout_path, "out-line\n").await?;
    ctx.wait_output(&cfg.stderr_path, "err-line\n").await?;
    let out = std::fs::read_to_string(&cfg.stdout_path).unwrap_or_default();
    if out.contains("err-line") {
        return Err("stderr went to the stdout log".into());
    }
    Ok(Outcome::Passed)
}

async fn env(ctx: &mut Ctx) -> CheckResult {
    let (cfg, exit) = ctx
        .run_script(
            "printf '%s|%s\\n' \"$CONFORMANCE_VAR\" \"$SECOND_VAR\"",
            &[("CONFORMANCE_VAR", "hello world"), ("SECOND_VAR", "x=y")],
        )
        .await?;
    expect_exit(&exit, 0, 0)?;
    ctx.wait_output(&cfg.stdout_path, "hello world|x=y\n")
        .await?;
    Ok(Outcome::Passed)
}

async fn stop_graceful(ctx: &mut Ctx) -> CheckResult {
    let (cfg, _) = ctx
        .start_idle(&format!("trap 'echo got-term; exit 0' TERM; {IDLE}"))
        .await?;
    let t0 = Instant::now();
    ctx.driver
        .stop_task(&cfg.id, Duration::from_secs(10), "SIGTERM")
        .await
        .map_err(|e| format!("stop_task: {e}"))?;
    let took = t0.elapsed();
    if took > Duration::from_secs(5) {
        return Err(format!("a task handling SIGTERM took {took:?} to stop"));
    }
    let exit = ctx.wait(&cfg.id).await?;
    expect_exit(&exit, 0, 0)?;
    ctx.wait_output(&cfg.stdout_path, "got-term").await?;
    // Stopping again is a no-op.
    ctx.driver
        .stop_task(&cfg.id, Duration::from_secs(1), "SIGTERM")
        .await
        .map_err(|e| format!("second stop_task: {e}"))?;
    Ok(Outcome::Passed)
}

async fn stop_escalation(ctx: &mut Ctx) -> CheckResult {
    let (cfg, _) = ctx.start_idle(&format!("trap '' TERM; {IDLE}")).await?;
    let kt = ctx.opts.kill_timeout;
    let t0 = Instant::now();
    ctx.driver
        .stop_task(&cfg.id, kt, "SIGTERM")
        .await
        .map_err(|e| format!("stop_task: {e}"))?;
    let took = t0.elapsed();
    if took < kt.mul_f64(0.9) || took > kt + Duration::from_secs(5) {
        return Err(format!(
            "escalation to SIGKILL took {took:?} with kill_timeout {kt:?}"
        ));
    }
    let exit = ctx.wait(&cfg.id).await?;
    expect_exit(&exit, 128 + libc::SIGKILL, libc::SIGKILL)?;
    Ok(Outcome::Passed)
}

async fn signal(ctx: &mut Ctx) -> CheckResult {
    if !ctx.driver.capabilities().send_signals {
        return Ok(Outcome::Skipped("driver cannot send signals".into()));
    }
    let (cfg, _) = ctx
        .start_idle(&format!("trap 'echo got-usr1; exit 0' USR1; {IDLE}"))
        .await?;
    if ctx.driver.signal_task(&cfg.id, "SIGNOTREAL").await.is_ok() {
        return Err("an unknown signal name was accepted".into());
    }
    ctx.driver
        .signal_task(&cfg.id, "SIGUSR1")
        .await
        .map_err(|e| format!("signal_task: {e}"))?;
    let exit = ctx.wait(&cfg.id).await?;
    expect_exit(&exit, 0, 0)?;
    ctx.wait_output(&cfg.stdout_path, "got-usr1").await?;
    Ok(Outcome::Passed)
}

async fn stats(ctx: &mut Ctx) -> CheckResult {
    let (cfg, _) = ctx
        .start_idle("echo ready; i=0; while :; do i=$((i+1)); done")
        .await?;
    let first = ctx
        .driver
        .task_stats(&cfg.id)
        .await
        .map_err(|e| format!("task_stats: {e}"))?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = ctx
        .driver
        .task_stats(&cfg.id)
        .await
        .map_err(|e| format!("task_stats: {e}"))?;
    if first.timestamp <= 0 || second.timestamp < first.timestamp {
        return Err(format!(
            "bad timestamps {} then {}",
            first.timestamp, second.timestamp
        ));
    }
    let mem = &second.resource_usage.memory_stats;
    if mem.measured.is_empty() || (mem.rss == 0 && mem.usage == 0) {
        return Err(format!("no memory measured: {mem:?}"));
    }
    let cpu = &second.resource_usage.cpu_stats;
    if cpu.measured.iter().any(|m| m == "Percent") && cpu.percent <= 0.0 {
        return Err(format!("a busy task shows no CPU use: {cpu:?}"));
    }
    Ok(Outcome::Passed)
}

async fn exec(ctx: &mut Ctx) -> CheckResult {
    if !ctx.driver.capabilities().exec {
        return Ok(Outcome::Skipped("driver cannot exec".into()));
    }
    let (cfg, _) = ctx.start_idle(IDLE).await?;
    let shell = ctx.opts.shell.clone();
    let t = ctx.opts.timeout;
    let out = exec_capture(
        ctx.driver.as_ref(),
        &cfg.id,
        vec![
            shell.clone(),
            "-c".into(),
            "echo exec-out; echo exec-err >&2; printf '%s\\n' \"$CONFORMANCE_VAR\"; exit 4".into(),
        ],
        None,
        t,
    )
    .await
    .map_err(|e| format!("exec_task: {e}"))?;
    expect_exit(&out.exit, 4, 0)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stdout != "exec-out\nexec env\n" || stderr != "exec-err\n" {
        return Err(format!("exec output: stdout {stdout:?}, stderr {stderr:?}"));
    }
    let cat = exec_capture(
        ctx.driver.as_ref(),
        &cfg.id,
        vec![shell, "-c".into(), "cat".into()],
        Some(b"piped input\n".to_vec()),
        t,
    )
    .await
    .map_err(|e| format!("exec_task with stdin: {e}"))?;
    expect_exit(&cat.exit, 0, 0)?;
    if cat.stdout != b"piped input\n" {
        return Err(format!(
            "stdin did not reach the command: {:?}",
            String::from_utf8_lossy(&cat.stdout)
        ));
    }
    let missing = exec_capture(
        ctx.driver.as_ref(),
        &cfg.id,
        vec!["/definitely/not/here".into()],
        None,
        t,
    )
    .await;
    match missing {
        Err(_) => {}
        Ok(o) if o.exit.exit_code != 0 => {}
        Ok(o) => return Err(format!("exec of a missing binary succeeded: {o:?}")),
    }
    Ok(Outcome::Passed)
}

async fn exec_tty(ctx: &mut Ctx) -> CheckResult {
    if !ctx.driver.capabilities().exec {
        return Ok(Outcome::Skipped("driver cannot exec".into()));
    }
    let (cfg, _) = ctx.start_idle(IDLE).await?;
    let (streams, out, _err) = ExecStreams::capture(None);
    let request = ExecRequest {
        command: vec![
            ctx.opts.shell.clone(),
            "-c".into(),
            "test -t 0 && test -t 1 && echo is-a-tty".into(),
        ],
        tty: true,
    };
    let exit = tokio::time::timeout(
        ctx.opts.timeout,
        ctx.driver.exec_task(&cfg.id, request, streams),
    )
    .await
    .map_err(|_| "tty exec timed out".to_string())?
    .map_err(|e| format!("exec_task: {e}"))?;
    let text = out.take_string();
    expect_exit(&exit, 0, 0).map_err(|e| format!("{e}; output {text:?}"))?;
    if !text.contains("is-a-tty") {
        return Err(format!("command saw no terminal: {text:?}"));
    }
    Ok(Outcome::Passed)
}

async fn recover(ctx: &mut Ctx) -> CheckResult {
    let (cfg, handle) = ctx
        .start_idle(&format!("trap 'exit 5' TERM; {IDLE}"))
        .await?;
    let json = serde_json::to_string(&handle).map_err(|e| format!("serializing handle: {e}"))?;
    // "Restart the client": drop the driver, build a new one.
    ctx.driver = (ctx.factory)();
    let handle: TaskHandle =
        serde_json::from_str(&json).map_err(|e| format!("deserializing handle: {e}"))?;
    ctx.driver
        .recover_task(&handle)
        .await
        .map_err(|e| format!("recover_task: {e}"))?;
    ctx.driver
        .recover_task(&handle)
        .await
        .map_err(|e| format!("recover_task is not idempotent: {e}"))?;
    let status = ctx
        .driver
        .inspect_task(&cfg.id)
        .await
        .map_err(|e| format!("inspect_task after recovery: {e}"))?;
    if status.state != TaskState::Running {
        return Err(format!("recovered task inspects as {status:?}"));
    }
    ctx.driver
        .stop_task(&cfg.id, Duration::from_secs(10), "SIGTERM")
        .await
        .map_err(|e| format!("stop_task after recovery: {e}"))?;
    let exit = ctx.wait(&cfg.id).await?;
    expect_exit(&exit, 5, 0)?;
    Ok(Outcome::Passed)
}

async fn recover_exited(ctx: &mut Ctx) -> CheckResult {
    let cfg = ctx.config("sleep 0.3; exit 7", &[])?;
    let handle = ctx.start(cfg.clone()).await?;
    ctx.driver = (ctx.factory)();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    ctx.driver
        .recover_task(&handle)
        .await
        .map_err(|e| format!("recover_task of a task that exited meanwhile: {e}"))?;
    let exit = ctx.wait(&cfg.id).await?;
    expect_exit(&exit, 7, 0)?;
    Ok(Outcome::Passed)
}

async fn destroy(ctx: &mut Ctx) -> CheckResult {
    let (cfg, _) = ctx.start_idle(IDLE).await?;
    let status = ctx
        .driver
        .inspect_task(&cfg.id)
        .await
        .map_err(|e| format!("inspect_task: {e}"))?;
    let proc_ref = status
        .driver_attributes
        .get("pid")
        .and_then(|p| p.parse::<i32>().ok())
        .and_then(|pid| ProcRef::of(pid).ok());
    if ctx.driver.destroy_task(&cfg.id, false).await.is_ok() {
        return Err("destroy_task without force removed a running task".into());
    }
    ctx.driver
        .destroy_task(&cfg.id, true)
        .await
        .map_err(|e| format!("destroy_task(force): {e}"))?;
    expect_not_found("inspect_task", ctx.driver.inspect_task(&cfg.id).await)?;
    expect_not_found("wait_task", ctx.driver.wait_task(&cfg.id).await)?;
    if let Some(p) = proc_ref {
        let deadline = Instant::now() + Duration::from_secs(5);
        while p.is_alive() {
            if Instant::now() > deadline {
                return Err(format!("task process {} survived destroy_task", p.pid));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    Ok(Outcome::Passed)
}

async fn unknown_task(ctx: &mut Ctx) -> CheckResult {
    let d = ctx.driver.clone();
    let id = "no-such-task";
    expect_not_found("wait_task", d.wait_task(id).await)?;
    expect_not_found("inspect_task", d.inspect_task(id).await)?;
    expect_not_found("task_stats", d.task_stats(id).await)?;
    expect_not_found("signal_task", d.signal_task(id, "SIGTERM").await)?;
    expect_not_found(
        "stop_task",
        d.stop_task(id, Duration::from_secs(1), "SIGTERM").await,
    )?;
    expect_not_found("destroy_task", d.destroy_task(id, true).await)?;
    Ok(Outcome::Passed)
}

async fn duplicate_start(ctx: &mut Ctx) -> CheckResult {
    let (cfg, _) = ctx.start_idle(IDLE).await?;
    match ctx.driver.start_task(cfg.clone()).await {
        Err(DriverError::AlreadyStarted(_)) => Ok(Outcome::Passed),
        other => Err(format!("second start_task of one id: {other:?}")),
    }
}

async fn bad_command(ctx: &mut Ctx) -> CheckResult {
    let mut cfg = ctx.config("exit 0", &[])?;
    cfg.driver_config = (ctx.opts.command_config)("/definitely/not/a/binary", &[]);
    let id = cfg.id.clone();
    match ctx.driver.start_task(cfg).await {
        Ok(_) => {
            ctx.started.push(id);
            Err("start_task of a missing binary succeeded".into())
        }
        Err(_) => {
            // A failed start leaves nothing behind.
            expect_not_found("inspect_task", ctx.driver.inspect_task(&id).await)?;
            Ok(Outcome::Passed)
        }
    }
}
