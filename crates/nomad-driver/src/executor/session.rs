//! Exec sessions (`nomad alloc exec`, script checks): a launched command whose
//! stdio is wired to the caller's streams through pipes or a pseudo-terminal.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::unix::pipe;

use super::launch::{launch, parse_status, pipe as make_pipe, reap, LaunchSpec};
use super::procfs::ProcRef;
use super::supervise::wait_pidfd;
use crate::driver::{ExecStreams, TerminalSize};
use crate::error::DriverError;
use crate::status::ExitResult;

/// How long output is still copied after the command exited (a background
/// child may keep the pipe open).
const DRAIN: Duration = Duration::from_secs(2);

/// Kills the session's command if the caller stops waiting for it.
struct KillGuard {
    task: ProcRef,
    shim_pid: i32,
    pidfd: Option<OwnedFd>,
}

impl Drop for KillGuard {
    fn drop(&mut self) {
        let Some(fd) = self.pidfd.take() else {
            return;
        };
        if self.task.is_alive() {
            // SAFETY: signalling a verified live process group.
            unsafe {
                libc::kill(-self.task.pid, libc::SIGKILL);
                libc::kill(self.task.pid, libc::SIGKILL);
            }
        }
        let shim = self.shim_pid;
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = wait_pidfd(fd).await;
                reap(shim);
            });
        }
    }
}

fn set_nonblocking_cloexec(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a valid descriptor.
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        if fl < 0 || libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
        let fdfl = libc::fcntl(fd, libc::F_GETFD);
        if fdfl < 0 || libc::fcntl(fd, libc::F_SETFD, fdfl | libc::FD_CLOEXEC) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

fn dup(fd: &OwnedFd) -> io::Result<OwnedFd> {
    fd.try_clone()
}

/// Opens a pseudo-terminal: (master, slave).
fn open_pty(size: Option<TerminalSize>) -> io::Result<(OwnedFd, OwnedFd)> {
    let (mut master, mut slave): (libc::c_int, libc::c_int) = (-1, -1);
    let ws = size.map(|s| libc::winsize {
        ws_row: s.rows,
        ws_col: s.cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    });
    let ws_ptr = ws
        .as_ref()
        .map_or(std::ptr::null(), |w| w as *const libc::winsize);
    // SAFETY: out-pointers are valid; name and termios may be null.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            ws_ptr,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: openpty returned two fresh descriptors.
    let (m, s) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    set_nonblocking_cloexec(m.as_raw_fd())?;
    // SAFETY: fcntl on a valid descriptor.
    unsafe { libc::fcntl(s.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
    Ok((m, s))
}

fn resize_pty(master: RawFd, size: TerminalSize) {
    let ws = libc::winsize {
        ws_row: size.rows,
        ws_col: size.cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize.
    unsafe { libc::ioctl(master, libc::TIOCSWINSZ, &ws) };
}

async fn pump_out(mut from: impl AsyncRead + Unpin, mut to: Box<dyn AsyncWrite + Send + Unpin>) {
    let _ = tokio::io::copy(&mut from, &mut to).await;
    let _ = to.flush().await;
}

async fn pty_read(master: Arc<AsyncFd<OwnedFd>>, mut to: Box<dyn AsyncWrite + Send + Unpin>) {
    let mut buf = vec![0u8; 8192];
    loop {
        let Ok(mut guard) = master.readable().await else {
            break;
        };
        let res = guard.try_io(|fd| {
            // SAFETY: buf is valid for its length.
            let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(usize::try_from(n).unwrap_or(0))
            }
        });
        match res {
            Err(_would_block) => continue,
            Ok(Ok(0)) | Ok(Err(_)) => break, // EOF, or EIO once the slave side closed
            Ok(Ok(n)) => {
                if to.write_all(&buf[..n]).await.is_err() {
                    break;
                }
                let _ = to.flush().await;
            }
        }
    }
    let _ = to.flush().await;
}

async fn pty_write(master: Arc<AsyncFd<OwnedFd>>, mut from: Box<dyn AsyncRead + Send + Unpin>) {
    let mut buf = vec![0u8; 4096];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut off = 0;
        while off < n {
            let Ok(mut guard) = master.writable().await else {
                return;
            };
            let chunk = &buf[off..n];
            match guard.try_io(|fd| {
                // SAFETY: chunk is valid for its length.
                let w = unsafe { libc::write(fd.as_raw_fd(), chunk.as_ptr().cast(), chunk.len()) };
                if w < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(usize::try_from(w).unwrap_or(0))
                }
            }) {
                Err(_would_block) => continue,
                Ok(Ok(w)) => off += w,
                Ok(Err(_)) => return,
            }
        }
    }
}

/// Runs an exec session: launches `spec` (its stdio and status fields are
/// replaced) with `streams` wired to the command, and returns its exit once
/// it exited and its output was copied. Dropping the future kills the
/// command.
pub async fn run_session(
    mut spec: LaunchSpec,
    tty: bool,
    streams: ExecStreams,
) -> Result<ExitResult, DriverError> {
    let io_err = |ctx: &'static str| move |e: io::Error| DriverError::io(ctx, e);
    let (status_r, status_w) = make_pipe().map_err(io_err("creating status pipe"))?;
    spec.status = Some(status_w);
    let ExecStreams {
        stdin,
        stdout,
        stderr,
        resize,
        initial_size,
    } = streams;

    enum Wiring {
        Pipes {
            stdin: Option<OwnedFd>,
            stdout: OwnedFd,
            stderr: OwnedFd,
        },
        Pty(OwnedFd),
    }
    let wiring = if tty {
        let (master, slave) = open_pty(initial_size).map_err(io_err("opening a pty"))?;
        spec.stdin = Some(dup(&slave).map_err(io_err("duplicating pty"))?);
        spec.stdout = Some(dup(&slave).map_err(io_err("duplicating pty"))?);
        spec.stderr = Some(slave);
        spec.controlling_tty = true;
        Wiring::Pty(master)
    } else {
        let stdin_w = if stdin.is_some() {
            let (r, w) = make_pipe().map_err(io_err("creating stdin pipe"))?;
            spec.stdin = Some(r);
            Some(w)
        } else {
            None
        };
        let (out_r, out_w) = make_pipe().map_err(io_err("creating stdout pipe"))?;
        let (err_r, err_w) = make_pipe().map_err(io_err("creating stderr pipe"))?;
        spec.stdout = Some(out_w);
        spec.stderr = Some(err_w);
        Wiring::Pipes {
            stdin: stdin_w,
            stdout: out_r,
            stderr: err_r,
        }
    };

    let launched = tokio::task::spawn_blocking(move || launch(spec))
        .await
        .map_err(|e| DriverError::Other(format!("exec launch panicked: {e}")))?
        .map_err(|e| DriverError::StartFailed(e.to_string()))?;
    let pidfd = launched
        .shim_pidfd
        .try_clone()
        .map_err(io_err("duplicating pidfd"))?;
    let mut guard = KillGuard {
        task: launched.task,
        shim_pid: launched.shim.pid,
        pidfd: Some(launched.shim_pidfd),
    };

    let mut pumps = Vec::new();
    let mut feeders = Vec::new();
    match wiring {
        Wiring::Pipes {
            stdin: stdin_w,
            stdout: out_r,
            stderr: err_r,
        } => {
            let out = pipe::Receiver::from_owned_fd(out_r).map_err(io_err("stdout pipe"))?;
            let err = pipe::Receiver::from_owned_fd(err_r).map_err(io_err("stderr pipe"))?;
            pumps.push(tokio::spawn(pump_out(out, stdout)));
            pumps.push(tokio::spawn(pump_out(err, stderr)));
            if let (Some(w), Some(mut input)) = (stdin_w, stdin) {
                let mut tx = pipe::Sender::from_owned_fd(w).map_err(io_err("stdin pipe"))?;
                feeders.push(tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut input, &mut tx).await;
                    // Dropping tx closes the pipe: the command sees EOF.
                }));
            }
        }
        Wiring::Pty(master) => {
            // SAFETY: the OwnedFd stays open and unchanged while the AsyncFd owns it.
            let master = unsafe { AsyncFd::register(master) }
                .map_err(|e| io_err("registering pty")(e.into()))?;
            let master = Arc::new(master);
            pumps.push(tokio::spawn(pty_read(master.clone(), stdout)));
            drop(stderr);
            if let Some(input) = stdin {
                feeders.push(tokio::spawn(pty_write(master.clone(), input)));
            }
            if let Some(mut rx) = resize {
                let keep = master.clone();
                feeders.push(tokio::spawn(async move {
                    while let Some(size) = rx.recv().await {
                        resize_pty(keep.as_ref().as_raw_fd(), size);
                    }
                }));
            }
        }
    }

    let waited = wait_pidfd(pidfd).await;
    reap(launched.shim.pid);
    guard.pidfd = None; // exited: nothing to kill
    drop(guard);
    for p in pumps {
        let abort = p.abort_handle();
        if tokio::time::timeout(DRAIN, p).await.is_err() {
            abort.abort();
        }
    }
    for f in feeders {
        f.abort();
    }
    waited.map_err(io_err("waiting for exec session"))?;

    let mut text = Vec::new();
    let mut file = std::fs::File::from(status_r);
    let _ = io::Read::read_to_end(&mut file, &mut text);
    Ok(match parse_status(&String::from_utf8_lossy(&text)) {
        Some((exit_code, signal)) => ExitResult {
            exit_code,
            signal,
            oom_killed: false,
            err: None,
        },
        None => ExitResult::error("exec session ended without an exit status"),
    })
}
