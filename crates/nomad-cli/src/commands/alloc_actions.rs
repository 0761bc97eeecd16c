//! `nomad alloc exec` (`command/alloc_exec.go`), `nomad alloc restart`
//! (`command/alloc_restart.go`), `nomad alloc signal`
//! (`command/alloc_signal.go`) and `nomad alloc stop`
//! (`command/alloc_stop.go`).

use clap::{ArgAction, Args};
use nomad_api_client::{Error, ExecReader, ExecWriter, QueryOptions};
use nomad_types::Allocation;
use tokio::sync::mpsc;

use super::alloc::alloc_by_prefix;

#[path = "alloc_exec_term.rs"]
mod term;
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
    /// Allocate a pseudo-terminal (default: when standard input and output
    /// are terminals).
    #[arg(short = 't', long = "t", action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true")]
    tty: Option<bool>,
    /// The escape character of sessions with a terminal (`~`): at the
    /// start of a line, followed by `.`, it closes the session. `none`
    /// disables it.
    #[arg(short = 'e', long = "e", default_value = "~")]
    escape: String,
    /// Take a random running allocation of the job named instead.
    #[arg(long = "job")]
    job: bool,
    /// Full IDs in messages.
    #[arg(long)]
    verbose: bool,
    /// The allocation (ID or prefix), or the job with `-job`.
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
pub struct AllocStopArgs {
    /// Return right after the stop, printing the evaluation's ID.
    #[arg(long)]
    detach: bool,
    /// Full IDs.
    #[arg(long)]
    verbose: bool,
    /// The allocation (ID or prefix).
    alloc: String,
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

/// The allocation a command's argument names: with `-job`, a random one of
/// that job; otherwise the allocation with that ID or prefix.
pub(super) fn alloc_or_job(
    ctx: &Ctx,
    arg: &str,
    job: bool,
    verbose: bool,
    io: &mut Io<'_>,
) -> Result<Allocation, i32> {
    if job {
        random_job_alloc(ctx, arg, io)
    } else {
        alloc_by_prefix(ctx, arg, verbose, io, 1)
    }
}

/// An allocation of `job` (`-job`): a random running one, else any, as
/// Nomad picks it.
fn random_job_alloc(ctx: &Ctx, job: &str, io: &mut Io<'_>) -> Result<Allocation, i32> {
    let fail = |io: &mut Io<'_>, e: String| {
        let _ = writeln!(io.err, "Error fetching allocations: {e}");
        Err(1)
    };
    let stubs = match ctx.block(
        ctx.client
            .job_allocations(job, false, &QueryOptions::default()),
    ) {
        Ok((s, _)) => s,
        Err(e) => return fail(io, format!("error querying job {job:?}: {e}")),
    };
    if stubs.is_empty() {
        return fail(
            io,
            format!("job {job:?} doesn't exist or it has no allocations"),
        );
    }
    let running: Vec<_> = stubs
        .iter()
        .filter(|a| a.client_status == "running")
        .collect();
    let pool: Vec<_> = if running.is_empty() {
        stubs.iter().collect()
    } else {
        running
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as usize)
        .unwrap_or(0);
    let stub = pool[nanos % pool.len()];
    let q = QueryOptions::default().in_namespace(stub.namespace.clone());
    match ctx.block(ctx.client.allocation_info(&stub.id, &q)) {
        Ok((a, _)) => Ok(a),
        Err(e) => {
            let _ = writeln!(io.err, "Error querying allocation: {e}");
            Err(1)
        }
    }
}

pub fn exec(args: AllocExecArgs, g: &GlobalArgs, io: &mut Io<'_>) -> i32 {
    use std::io::IsTerminal;
    let tty = args
        .tty
        .unwrap_or_else(|| std::io::stdin().is_terminal() && std::io::stdout().is_terminal());
    if tty && !args.stdin {
        let _ = writeln!(io.err, "-i must be enabled if running with tty");
        return 1;
    }
    let escape = match args.escape.as_str() {
        "none" | "" => None,
        e if e.len() == 1 => Some(e.as_bytes()[0]),
        _ => {
            let _ = writeln!(io.err, "-e requires 'none' or a single character");
            return 1;
        }
    };
    let Some(ctx) = Ctx::new(g, io) else { return 1 };
    let alloc = match alloc_or_job(&ctx, &args.alloc, args.job, args.verbose, io) {
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
    let result = ctx.block(async {
        let session = ctx
            .client
            .alloc_exec(&alloc.id, &task, &args.command, tty)
            .await?;
        let (writer, reader) = session.split();
        // Raw mode only once connected, so connection errors print as
        // usual; the guard restores the terminal on every way out.
        let raw = if tty && std::io::stdin().is_terminal() {
            Some(term::RawMode::enter().map_err(Error::Config)?)
        } else {
            None
        };
        let input = if args.stdin { read_stdin() } else { None };
        let opts = SessionOpts {
            tty,
            escape: if tty { escape } else { None },
            raw,
        };
        run_session(writer, reader, input, opts, io).await
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

/// How a session treats the local terminal.
struct SessionOpts {
    /// A terminal was asked for: its size is sent, at start and on
    /// SIGWINCH.
    tty: bool,
    /// The escape character (only with a terminal).
    escape: Option<u8>,
    /// Raw mode, restored when this drops.
    raw: Option<term::RawMode>,
}

/// The session ended on the user's side (`~.`, SIGINT, SIGTERM), as
/// Nomad's CLI reports it.
fn cancelled() -> Error {
    Error::Transport("context canceled".into())
}

/// Pipes input to the session and its output to `io` until the command
/// exits; its exit code.
async fn run_session(
    mut writer: ExecWriter,
    mut reader: ExecReader,
    mut input: Option<mpsc::Receiver<Vec<u8>>>,
    mut opts: SessionOpts,
    io: &mut Io<'_>,
) -> Result<i32, Error> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut escaper = term::Escaper::new(opts.escape);
    let mut winch = if opts.tty {
        signal(SignalKind::window_change()).ok()
    } else {
        None
    };
    let mut interrupt = signal(SignalKind::interrupt()).ok();
    let mut terminate = signal(SignalKind::terminate()).ok();
    if opts.tty {
        if let Some(size) = term::size() {
            writer.resize(size).await?;
        }
    }
    if input.is_none() {
        writer.close_stdin().await?;
    }
    loop {
        tokio::select! {
            chunk = async { input.as_mut()?.recv().await }, if input.is_some() => match chunk {
                Some(data) => {
                    let (data, detach) = escaper.feed(&data);
                    if !data.is_empty() {
                        writer.send_stdin(&data).await?;
                    }
                    if detach {
                        // The terminal back first, so the message starts
                        // a line of its own.
                        drop(opts.raw.take());
                        let _ = io.err.write_all(b"\nConnection closed\n");
                        let _ = io.err.flush();
                        return Err(cancelled());
                    }
                }
                None => {
                    input = None;
                    let rest = escaper.finish();
                    if !rest.is_empty() {
                        writer.send_stdin(&rest).await?;
                    }
                    writer.close_stdin().await?;
                }
            },
            Some(()) = async { winch.as_mut()?.recv().await }, if winch.is_some() => {
                if let Some(size) = term::size() {
                    writer.resize(size).await?;
                }
            }
            Some(()) = async { interrupt.as_mut()?.recv().await }, if interrupt.is_some() => {
                return Err(cancelled());
            }
            Some(()) = async { terminate.as_mut()?.recv().await }, if terminate.is_some() => {
                return Err(cancelled());
            }
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

/// `nomad alloc stop [-detach] [-verbose] <alloc>`: stops the allocation
/// (the scheduler replaces it) and monitors the evaluation that follows.
pub fn stop(args: AllocStopArgs, g: &GlobalArgs, io: &mut Io<'_>) -> i32 {
    let Some(ctx) = Ctx::new(g, io) else { return 1 };
    let len = if args.verbose {
        crate::format::FULL_ID
    } else {
        crate::format::SHORT_ID
    };
    let alloc = match alloc_by_prefix(&ctx, &args.alloc, args.verbose, io, 1) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let resp = match ctx.block(ctx.client.allocation_stop(&alloc.id)) {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(io.err, "Error stopping allocation: {e}");
            return 1;
        }
    };
    if args.detach {
        let _ = writeln!(io.out, "{}", resp.eval_id);
        return 0;
    }
    super::monitor::monitor(&ctx, io, &resp.eval_id, len)
}
