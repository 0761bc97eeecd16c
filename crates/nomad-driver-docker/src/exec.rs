//! `exec_task` through `docker exec`: streamed stdin/stdout/stderr, an
//! optional TTY with resizes, the exit code from the exec's inspect, and
//! the command killed when the caller drops the future.

use std::time::{Duration, Instant};

use bollard::exec::{CreateExecOptions, ResizeExecOptions, StartExecOptions, StartExecResults};
use bollard::models::ExecConfig;
use bollard::Docker;
use futures_util::StreamExt;
use nomad_driver::executor::ProcRef;
use nomad_driver::{DriverError, ExecRequest, ExecStreams, ExitResult};
use tokio::io::AsyncWriteExt;

use crate::error;
use crate::handle::{DockerTask, API_TIMEOUT};

/// How long to wait for Docker to record the exit code after the output
/// ended.
const EXIT_CODE_WAIT: Duration = Duration::from_secs(10);

/// Kills the exec'd process if the caller goes away before it exited
/// (Docker has no API to stop an exec).
struct KillOnDrop {
    docker: Docker,
    exec_id: String,
    pumps: Vec<tokio::task::AbortHandle>,
    done: bool,
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        for p in &self.pumps {
            p.abort();
        }
        if self.done {
            return;
        }
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(kill_exec(self.docker.clone(), self.exec_id.clone()));
        }
    }
}

/// SIGKILLs an exec's process (its host pid, from the exec's inspect).
async fn kill_exec(docker: Docker, exec_id: String) {
    for _ in 0..50 {
        let info = match tokio::time::timeout(API_TIMEOUT, docker.inspect_exec(&exec_id)).await {
            Ok(Ok(info)) => info,
            _ => return,
        };
        if info.running != Some(true) {
            return;
        }
        let proc = info
            .pid
            .and_then(|p| i32::try_from(p).ok())
            .filter(|p| *p > 0)
            .and_then(|p| ProcRef::of(p).ok());
        if let Some(p) = proc {
            tracing::debug!(exec_id = %exec_id, pid = p.pid, "killing an abandoned exec");
            // SAFETY: kill with a pid Docker just reported for the running
            // exec, checked to exist.
            unsafe {
                libc::kill(p.pid, libc::SIGKILL);
            }
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn io_err(what: &str) -> impl Fn(std::io::Error) -> DriverError + '_ {
    move |e| DriverError::io(what.to_string(), e)
}

/// Runs `request` in the task's container.
pub(crate) async fn run(
    docker: &Docker,
    task: &DockerTask,
    request: ExecRequest,
    streams: ExecStreams,
) -> Result<ExitResult, DriverError> {
    if request.command.is_empty() {
        return Err(DriverError::InvalidConfig("exec needs a command".into()));
    }
    let ExecStreams {
        stdin,
        mut stdout,
        mut stderr,
        resize,
        initial_size,
    } = streams;
    let cfg = &task.config;
    tracing::debug!(alloc_id = %cfg.alloc_id, task = %cfg.name, command = ?request.command,
        tty = request.tty, "docker exec");
    let mut create: ExecConfig = CreateExecOptions {
        attach_stdin: Some(stdin.is_some() || request.tty),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        tty: Some(request.tty),
        cmd: Some(request.command.clone()),
        ..CreateExecOptions::default()
    }
    .into();
    if request.tty {
        // Engines from API 1.42 size the terminal before the command starts;
        // older ones ignore this and get the resize right after the start.
        create.console_size = initial_size.map(|s| vec![usize::from(s.rows), usize::from(s.cols)]);
    }
    let exec_id = error::bounded(
        "creating exec",
        API_TIMEOUT,
        docker.create_exec(&task.container_id, create),
    )
    .await
    .map_err(|e| DriverError::Other(e.to_string()))?
    .id;
    let start = StartExecOptions {
        detach: false,
        tty: request.tty,
        output_capacity: None,
    };
    let started = error::bounded(
        "starting exec",
        API_TIMEOUT,
        docker.start_exec(&exec_id, Some(start)),
    )
    .await
    .map_err(|e| DriverError::Other(e.to_string()))?;
    let StartExecResults::Attached {
        mut output,
        mut input,
    } = started
    else {
        return Err(DriverError::Other(
            "docker started the exec detached".into(),
        ));
    };
    let mut guard = KillOnDrop {
        docker: docker.clone(),
        exec_id: exec_id.clone(),
        pumps: Vec::new(),
        done: false,
    };
    if request.tty {
        if let Some(size) = initial_size {
            let opts = ResizeExecOptions {
                height: size.rows,
                width: size.cols,
            };
            if let Err(e) = docker.resize_exec(&exec_id, opts).await {
                tracing::debug!(error = %e, "initial exec resize failed");
            }
        }
        if let Some(mut rx) = resize {
            let (d, id) = (docker.clone(), exec_id.clone());
            let h = tokio::spawn(async move {
                while let Some(size) = rx.recv().await {
                    let opts = ResizeExecOptions {
                        height: size.rows,
                        width: size.cols,
                    };
                    if let Err(e) = d.resize_exec(&id, opts).await {
                        tracing::debug!(error = %e, "exec resize failed");
                    }
                }
            });
            guard.pumps.push(h.abort_handle());
        }
    }
    // Keep the write half open while the command runs when there is no
    // input: closing it would end a TTY session's stdin.
    let mut held_input = None;
    match stdin {
        Some(mut src) => {
            let h = tokio::spawn(async move {
                if let Err(e) = tokio::io::copy(&mut src, &mut input).await {
                    tracing::debug!(error = %e, "exec stdin copy ended");
                }
                let _ = input.shutdown().await;
            });
            guard.pumps.push(h.abort_handle());
        }
        None => held_input = Some(input),
    }

    while let Some(item) = output.next().await {
        use bollard::container::LogOutput;
        match item {
            Ok(LogOutput::StdOut { message }) | Ok(LogOutput::Console { message }) => stdout
                .write_all(&message)
                .await
                .map_err(io_err("writing exec stdout"))?,
            Ok(LogOutput::StdErr { message }) => stderr
                .write_all(&message)
                .await
                .map_err(io_err("writing exec stderr"))?,
            Ok(LogOutput::StdIn { .. }) => {}
            Err(e) => {
                tracing::debug!(error = %e, "exec output stream ended with an error");
                break;
            }
        }
    }
    stdout
        .flush()
        .await
        .map_err(io_err("flushing exec stdout"))?;
    stderr
        .flush()
        .await
        .map_err(io_err("flushing exec stderr"))?;
    drop(held_input);

    let deadline = Instant::now() + EXIT_CODE_WAIT;
    loop {
        let info = error::bounded(
            "inspecting exec",
            API_TIMEOUT,
            docker.inspect_exec(&exec_id),
        )
        .await
        .map_err(|e| DriverError::Other(e.to_string()))?;
        if info.running != Some(true) {
            guard.done = true;
            let code = info.exit_code.unwrap_or(-1);
            return Ok(ExitResult {
                exit_code: i32::try_from(code).unwrap_or(-1),
                ..ExitResult::default()
            });
        }
        if Instant::now() > deadline {
            return Err(DriverError::Other(format!(
                "exec {exec_id}: output ended but the command is still running"
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
