//! `nomad alloc exec` (`command/alloc_exec.go`), `nomad alloc restart`
//! (`command/alloc_restart.go`) and `nomad alloc signal`
//! (`command/alloc_signal.go`).

use clap::{ArgAction, Args};
use nomad_api_client::{Error, ExecReader, ExecWriter};
use nomad_types::Allocation;
use tokio::sync::mpsc;

use super::alloc::alloc_by_prefix;
use crate::ctx::{Ctx, GlobalArgs};
use crate::Io;

#[derive(Debug, Args)]
pub struct AllocExecArgs {
    /// The task to run the command in (needed when the group has several).
    #[arg(long)]
    task: Option<String>,
    /// Pass standard input to the command (`-i=false` to close it).
    #[arg(short = 'i', long = "i", action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_value_t = true, default_missing_value = "true")]
    stdin: bool,
    /// Allocate a pseudo-terminal (default: when standard input is one).
    #[arg(short = 't', long = "t", action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true")]
    tty: Option<bool>,
    /// Full IDs in messages.
    #[arg(long)]
    verbose: bool,
    /// The allocation (ID or prefix).
    alloc: String,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct AllocRestartArgs {
    /// The task to restart.
    #[arg(long)]
    task: Option<String>,
    /// Restart every task, not only the running ones.
    #[arg(long = "all-tasks")]
    all_tasks: bool,
    /// Full IDs.
    #[arg(long)]
    verbose: bool,
    /// The allocation (ID or prefix).
    alloc: String,
    /// The task to restart (as `-task`).
    task_arg: Option<String>,
}

#[derive(Debug, Args)]
pub struct AllocSignalArgs {
    /// The signal to send (default SIGKILL).
    #[arg(short = 's')]
    signal: Option<String>,
    /// The task to signal.
    #[arg(long)]
    task: Option<String>,
    /// Full IDs.
    #[arg(long)]
    verbose: bool,
    /// The allocation (ID or prefix).
    alloc: String,
    /// The task to signal (as `-task`).
    task_arg: Option<String>,
}

/// The one task of the allocation's group, or the named one.
fn pick_task(a: &Allocation, task: Option<&str>) -> Result<String, String> {
    let names: Vec<String> = match a.task_group_spec() {
        Some(g) => g.tasks.iter().map(|t| t.name.clone()).collect(),
        None => a.task_states.keys().cloned().collect(),
    };
    match task {
        Some(t) if names.iter().any(|n| n == t) => Ok(t.to_string()),
        Some(t) => Err(format!("Could not find task named: {t}")),
        None if names.len() == 1 => Ok(names[0].clone()),
        None => Err("Please specify the task.".to_string()),
    }
}

pub fn exec(args: AllocExecArgs, g: &GlobalArgs, io: &mut Io<'_>) -> i32 {
    let Some(ctx) = Ctx::new(g, io) else { return 1 };
    let alloc = match alloc_by_prefix(&ctx, &args.alloc, args.verbose, io, 1) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let task = match pick_task(&alloc, args.task.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            let _ = writeln!(io.err, "{e}");
            return 1;
        }
    };
    let tty = args
        .tty
        .unwrap_or_else(|| std::io::IsTerminal::is_terminal(&std::io::stdin()));
    let result = ctx.block(async {
        let session = ctx
            .client
            .alloc_exec(&alloc.id, &task, &args.command, tty)
            .await?;
        let (writer, reader) = session.split();
        let input = if args.stdin { read_stdin() } else { None };
        run_session(writer, reader, input, io).await
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(io.err, "failed to exec into task: {e}");
            1
        }
    }
}

/// Standard input, read on a thread of its own (from a duplicate of the
/// descriptor: the command's `Io` holds the stdin lock) and handed over in
/// chunks; the channel closes at end of input.
fn read_stdin() -> Option<mpsc::Receiver<Vec<u8>>> {
    use std::io::Read;
    use std::os::fd::AsFd;
    let fd = std::io::stdin().as_fd().try_clone_to_owned().ok()?;
    let mut file = std::fs::File::from(fd);
    let (tx, rx) = mpsc::channel(8);
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 8192];
        loop {
            match file.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.blocking_send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    Some(rx)
}

/// Pipes input to the session and its output to `io` until the command
/// exits; its exit code.
async fn run_session(
    mut writer: ExecWriter,
    mut reader: ExecReader,
    mut input: Option<mpsc::Receiver<Vec<u8>>>,
    io: &mut Io<'_>,
) -> Result<i32, Error> {
    if input.is_none() {
        writer.close_stdin().await?;
    }
    loop {
        tokio::select! {
            chunk = async { input.as_mut()?.recv().await }, if input.is_some() => match chunk {
                Some(data) => writer.send_stdin(&data).await?,
                None => {
                    input = None;
                    writer.close_stdin().await?;
                }
            },
            frame = reader.next() => {
                let Some(f) = frame? else {
                    return Err(Error::Transport(
                        "the connection closed before the command exited".into(),
                    ));
                };
                if let Some(out) = f.stdout.filter(|o| !o.data.is_empty()) {
                    let _ = io.out.write_all(&out.data);
                    let _ = io.out.flush();
                }
                if let Some(err) = f.stderr.filter(|o| !o.data.is_empty()) {
                    let _ = io.err.write_all(&err.data);
                    let _ = io.err.flush();
                }
                if f.exited {
                    return Ok(f.result.map(|r| r.exit_code).unwrap_or(0));
                }
            }
        }
    }
}

pub fn restart(args: AllocRestartArgs, g: &GlobalArgs, io: &mut Io<'_>) -> i32 {
    let Some(ctx) = Ctx::new(g, io) else { return 1 };
    let task = args.task.clone().or(args.task_arg.clone());
    if task.is_some() && args.all_tasks {
        let _ = writeln!(
            io.err,
            "The -all-tasks option is not allowed when restarting a specific task"
        );
        return 1;
    }
    let alloc = match alloc_by_prefix(&ctx, &args.alloc, args.verbose, io, 1) {
        Ok(a) => a,
        Err(code) => return code,
    };
    if let Some(t) = &task {
        if let Err(e) = pick_task(&alloc, Some(t)) {
            let _ = writeln!(io.err, "{e}");
            return 1;
        }
    }
    let task = task.unwrap_or_default();
    match ctx.block(ctx.client.alloc_restart(&alloc.id, &task, args.all_tasks)) {
        Ok(()) => 0,
        Err(e) => {
            let _ = writeln!(io.err, "Failed to restart allocation:\n\n{e}");
            1
        }
    }
}

pub fn signal(args: AllocSignalArgs, g: &GlobalArgs, io: &mut Io<'_>) -> i32 {
    let Some(ctx) = Ctx::new(g, io) else { return 1 };
    let task = args.task.clone().or(args.task_arg.clone());
    let alloc = match alloc_by_prefix(&ctx, &args.alloc, args.verbose, io, 1) {
        Ok(a) => a,
        Err(code) => return code,
    };
    if let Some(t) = &task {
        if let Err(e) = pick_task(&alloc, Some(t)) {
            let _ = writeln!(io.err, "{e}");
            return 1;
        }
    }
    let signal = args.signal.unwrap_or_default();
    match ctx.block(
        ctx.client
            .alloc_signal(&alloc.id, &task.unwrap_or_default(), &signal),
    ) {
        Ok(()) => 0,
        Err(e) => {
            let _ = writeln!(io.err, "Error signalling allocation: {e}");
            1
        }
    }
}
