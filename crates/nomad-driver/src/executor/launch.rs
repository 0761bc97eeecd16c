//! Starting a task process under a shim.
//!
//! ```text
//! driver (tokio, many threads)
//!   └─ fork ─► shim: new session, closes every inherited fd, [joins/creates the
//!              pid namespace], forks the task, waits for it, writes
//!              "nomad-exit v1 <code> <signal>" to the status fd, exits
//!                └─ fork ─► task: new session (pgid = pid), joins cgroups,
//!                           [namespaces, mounts, pivot_root], stdio, user,
//!                           cwd, execve
//! ```
//!
//! The shim is what lets a restarted client learn how a task ended: it is
//! not tied to the driver's lifetime, and it records the exit status in a
//! file the new driver instance reads. It is a forked copy of the driver
//! process that never returns into Rust code that allocates: both the shim
//! and the task run only raw system calls on data prepared before `fork`
//! (async-signal-safe), which is what POSIX allows after forking a
//! multi-threaded process. No helper binary is needed, so the driver works
//! the same from the client binary and from a test binary.
//!
//! Setup failures in the shim or the task are sent back over a close-on-exec
//! pipe as `(step, errno)`; a successful `execve` closes the pipe, so
//! [`launch`] returns only once the task really runs (or with the reason it
//! could not).

use std::ffi::CString;
use std::fs;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use libc::{c_char, c_int};

use super::child::{
    shim_main, Prepared, KIND_FAIL, KIND_PID, SETUP_BASE, STEP_CAPS, STEP_CGROUP, STEP_CHDIR,
    STEP_CTTY, STEP_EXEC, STEP_FORK, STEP_NO_NEW_PRIVS, STEP_OOM_ADJ, STEP_SETGID, STEP_SETGROUPS,
    STEP_SETNS, STEP_SETSID, STEP_SETUID, STEP_SHIM_SETNS, STEP_SHIM_SETSID, STEP_SHIM_UNSHARE,
    STEP_STDIO, STEP_UNSHARE,
};
use super::procfs::ProcRef;
use super::user::UserIds;

/// The first line a shim writes to its status fd starts with this.
pub const STATUS_MAGIC: &str = "nomad-exit v1";

/// A failed step inside the task process: which step, and `errno`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChildFailure {
    /// The setup's own step number.
    pub step: u32,
    /// `errno` of the failed call.
    pub errno: i32,
}

/// Extra work done inside the task process, after it joined its cgroups and
/// namespaces and before stdio, user and `execve` (mounts, `pivot_root`…).
///
/// # Safety
///
/// `run` is called in a child forked from a multi-threaded process: it must
/// only make async-signal-safe calls (raw system calls) on data prepared
/// before the fork, must not allocate, lock, panic or unwind.
pub unsafe trait ChildSetup: Send + Sync {
    /// Runs in the task process.
    fn run(&self) -> Result<(), ChildFailure>;
    /// Describes a step for the error message ("mount /proc").
    fn describe(&self, step: u32) -> String;
}

/// What to start and how.
pub struct LaunchSpec {
    /// Paths tried in order with `execve` (the first that exists wins).
    pub programs: Vec<PathBuf>,
    /// `argv`, including `argv[0]`.
    pub argv: Vec<String>,
    /// Environment as `KEY=value`.
    pub env: Vec<String>,
    /// Working directory (in the task's root if it has one).
    pub cwd: Option<PathBuf>,
    /// Switch to this user (requires root).
    pub user: Option<UserIds>,
    /// stdin; `None` is `/dev/null`.
    pub stdin: Option<OwnedFd>,
    /// stdout; `None` is `/dev/null`.
    pub stdout: Option<OwnedFd>,
    /// stderr; `None` is `/dev/null`.
    pub stderr: Option<OwnedFd>,
    /// Make stdin the controlling terminal (it must be a pty slave).
    pub controlling_tty: bool,
    /// Where the shim writes the exit status (a file or a pipe).
    pub status: Option<OwnedFd>,
    /// Namespaces the shim joins before forking the task (`setns`), e.g.
    /// the pid namespace of a running task for an exec session.
    pub shim_setns: Vec<(OwnedFd, c_int)>,
    /// Namespaces the shim creates before forking (`CLONE_NEWPID` makes the
    /// task pid 1 of a new pid namespace).
    pub shim_unshare: c_int,
    /// Namespaces the task joins.
    pub child_setns: Vec<(OwnedFd, c_int)>,
    /// Namespaces the task creates (`CLONE_NEWNS | CLONE_NEWIPC | …`).
    pub child_unshare: c_int,
    /// `cgroup.procs` files (opened for writing) the task joins.
    pub cgroup_procs: Vec<OwnedFd>,
    /// Value for `/proc/self/oom_score_adj` (tasks should not inherit the
    /// client's).
    pub oom_score_adj: Option<i32>,
    /// Set `PR_SET_NO_NEW_PRIVS`.
    pub no_new_privs: bool,
    /// Capabilities kept in the bounding set (bit `n` = capability `n`);
    /// the others are dropped before switching user, so a task running as
    /// root gets at most these. `None` keeps the bounding set.
    pub keep_caps: Option<u64>,
    /// Extra setup in the task process.
    pub setup: Option<Arc<dyn ChildSetup>>,
}

impl LaunchSpec {
    /// A spec with everything optional left out.
    pub fn new(programs: Vec<PathBuf>, argv: Vec<String>, env: Vec<String>) -> Self {
        LaunchSpec {
            programs,
            argv,
            env,
            cwd: None,
            user: None,
            stdin: None,
            stdout: None,
            stderr: None,
            controlling_tty: false,
            status: None,
            shim_setns: Vec::new(),
            shim_unshare: 0,
            child_setns: Vec::new(),
            child_unshare: 0,
            cgroup_procs: Vec::new(),
            oom_score_adj: Some(0),
            no_new_privs: false,
            keep_caps: None,
            setup: None,
        }
    }
}

/// A started task.
#[derive(Debug)]
pub struct Launched {
    /// The shim (our child).
    pub shim: ProcRef,
    /// The task (the shim's child); `start_time` is 0 if it already exited.
    pub task: ProcRef,
    /// A pidfd of the shim: readable once the shim exited.
    pub shim_pidfd: OwnedFd,
}

/// Why a launch failed.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// Bad input (a NUL byte in an argument, …).
    #[error("{0}")]
    Invalid(String),
    /// A call in the driver process failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// The error.
        source: io::Error,
    },
    /// A step in the shim or the task failed.
    #[error("failed to {step}: {source}")]
    Step {
        /// The step, for humans.
        step: String,
        /// The errno.
        source: io::Error,
    },
}

/// The paths `execve` should try for `command`, the way Nomad's executor
/// looks binaries up: a path with a `/` is used as is (relative to
/// `relative_to`); a bare name is looked for in `first_dirs` (the task's
/// `local/` and root) and then in each `PATH` entry.
pub fn program_candidates(
    command: &str,
    relative_to: Option<&Path>,
    first_dirs: &[PathBuf],
    path_env: Option<&str>,
) -> Vec<PathBuf> {
    if command.contains('/') {
        let p = PathBuf::from(command);
        return match (p.is_absolute(), relative_to) {
            (false, Some(base)) => vec![base.join(p)],
            _ => vec![p],
        };
    }
    let path = path_env
        .filter(|p| !p.is_empty())
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    first_dirs
        .iter()
        .cloned()
        .chain(path.split(':').filter(|d| !d.is_empty()).map(PathBuf::from))
        .map(|d| d.join(command))
        .collect()
}

fn cstring(s: &[u8], what: &str) -> Result<CString, LaunchError> {
    CString::new(s).map_err(|_| LaunchError::Invalid(format!("{what} contains a NUL byte")))
}

/// Makes sure an fd is not 0, 1 or 2 (they are replaced in the children).
fn above_stdio(fd: OwnedFd) -> Result<OwnedFd, LaunchError> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    // SAFETY: F_DUPFD_CLOEXEC on a valid fd returns a new fd we own.
    let new = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if new < 0 {
        return Err(LaunchError::Io {
            context: "duplicating a descriptor",
            source: io::Error::last_os_error(),
        });
    }
    // SAFETY: `new` is a fresh descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// Creates a close-on-exec pipe: (read end, write end).
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as c_int; 2];
    // SAFETY: fds has room for two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 returned two fresh descriptors.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Opens a pidfd for `pid` (Linux 5.3+).
pub fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags; it returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = RawFd::try_from(fd).map_err(|_| io::Error::other("pidfd out of range"))?;
    // SAFETY: a fresh descriptor (pidfds are close-on-exec).
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Reaps `pid` if it is an exited child of this process (ignores anything
/// else: not our child, still running).
pub fn reap(pid: i32) -> Option<i32> {
    let mut status: c_int = 0;
    // SAFETY: waitpid with WNOHANG on a specific pid.
    let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    (r == pid).then_some(status)
}

/// Parses what a shim wrote to its status fd: `(exit_code, signal)`.
pub fn parse_status(text: &str) -> Option<(i32, i32)> {
    let rest = text.trim().strip_prefix(STATUS_MAGIC)?;
    let mut it = rest.split_whitespace();
    let code = it.next()?.parse().ok()?;
    let signal = it.next()?.parse().ok()?;
    Some((code, signal))
}

/// Reads a shim's status file.
pub fn read_status_file(path: &Path) -> Option<(i32, i32)> {
    fs::read_to_string(path).ok().and_then(|t| parse_status(&t))
}

fn prepare(
    spec: LaunchSpec,
    report: RawFd,
    devnull: RawFd,
) -> Result<(Prepared, Vec<OwnedFd>), LaunchError> {
    if spec.programs.is_empty() || spec.argv.is_empty() {
        return Err(LaunchError::Invalid("no command given".into()));
    }
    let programs = spec
        .programs
        .iter()
        .map(|p| cstring(p.as_os_str().as_bytes(), "command"))
        .collect::<Result<Vec<_>, _>>()?;
    let argv = spec
        .argv
        .iter()
        .map(|a| cstring(a.as_bytes(), "an argument"))
        .collect::<Result<Vec<_>, _>>()?;
    let envp = spec
        .env
        .iter()
        .map(|e| cstring(e.as_bytes(), "an environment variable"))
        .collect::<Result<Vec<_>, _>>()?;
    let mut argv_ptrs: Vec<*const c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let mut envp_ptrs: Vec<*const c_char> = envp.iter().map(|a| a.as_ptr()).collect();
    envp_ptrs.push(std::ptr::null());
    let cwd = spec
        .cwd
        .as_ref()
        .map(|c| cstring(c.as_os_str().as_bytes(), "the working directory"))
        .transpose()?;

    let mut owned: Vec<OwnedFd> = Vec::new();
    let keep_fd = |fd: Option<OwnedFd>, owned: &mut Vec<OwnedFd>| -> Result<RawFd, LaunchError> {
        match fd {
            Some(fd) => {
                let fd = above_stdio(fd)?;
                let raw = fd.as_raw_fd();
                owned.push(fd);
                Ok(raw)
            }
            None => Ok(devnull),
        }
    };
    let stdio = [
        keep_fd(spec.stdin, &mut owned)?,
        keep_fd(spec.stdout, &mut owned)?,
        keep_fd(spec.stderr, &mut owned)?,
    ];
    let status = keep_fd(spec.status, &mut owned)?;
    let ns = |list: Vec<(OwnedFd, c_int)>, owned: &mut Vec<OwnedFd>| {
        list.into_iter()
            .map(|(fd, t)| Ok((keep_fd(Some(fd), owned)?, t)))
            .collect::<Result<Vec<_>, LaunchError>>()
    };
    let shim_setns = ns(spec.shim_setns, &mut owned)?;
    let child_setns = ns(spec.child_setns, &mut owned)?;
    let cgroups = spec
        .cgroup_procs
        .into_iter()
        .map(|fd| keep_fd(Some(fd), &mut owned))
        .collect::<Result<Vec<_>, _>>()?;

    let oom = spec.oom_score_adj.map(|v| {
        let s = v.to_string();
        let mut buf = [0u8; 16];
        let n = s.len().min(16);
        buf[..n].copy_from_slice(&s.as_bytes()[..n]);
        (buf, n)
    });
    let mut keep: Vec<RawFd> = owned.iter().map(|f| f.as_raw_fd()).collect();
    keep.push(report);
    keep.push(devnull);
    keep.sort_unstable();
    keep.dedup();

    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: rl is a valid out-pointer.
    let max_fd = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) } == 0 {
        libc::c_uint::try_from(rl.rlim_cur.min(1 << 20)).unwrap_or(1 << 20)
    } else {
        4096
    };
    let ids = spec.user.map(|u| (u.uid, u.gid, u.groups));
    Ok((
        Prepared {
            programs,
            argv,
            argv_ptrs,
            _envp: envp,
            envp_ptrs,
            cwd,
            ids,
            stdio,
            devnull,
            ctty: spec.controlling_tty,
            status,
            report,
            shim_setns,
            shim_unshare: spec.shim_unshare,
            child_setns,
            child_unshare: spec.child_unshare,
            cgroups,
            oom,
            oom_path: c"/proc/self/oom_score_adj".to_owned(),
            nnp: spec.no_new_privs,
            keep_caps: spec.keep_caps,
            keep,
            max_fd,
            setup: spec.setup,
        },
        owned,
    ))
}

/// Starts the task described by `spec`. Blocking (fork, then waits for the
/// task's `execve`): call it from `spawn_blocking`.
pub fn launch(spec: LaunchSpec) -> Result<Launched, LaunchError> {
    let io_err =
        |context: &'static str| move |source: io::Error| LaunchError::Io { context, source };
    let (report_r, report_w) = pipe().map_err(io_err("creating a pipe"))?;
    let devnull = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(io_err("opening /dev/null"))?;
    let devnull: OwnedFd = above_stdio(devnull.into())?;
    let report_w = above_stdio(report_w)?;
    let (prepared, child_fds) = prepare(spec, report_w.as_raw_fd(), devnull.as_raw_fd())?;

    // SAFETY: the child only runs `shim_main`, which makes raw system calls
    // on `prepared` and never returns.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: we are the forked child.
        unsafe { shim_main(&prepared) }
    }
    if pid < 0 {
        return Err(io_err("forking the executor")(io::Error::last_os_error()));
    }
    drop(report_w);
    drop(child_fds);
    drop(devnull);
    let pidfd = pidfd_open(pid);

    let records = read_reports(&report_r);
    let mut task_pid = None;
    let mut failure = None;
    for rec in records {
        match rec {
            (KIND_PID, a, _) => task_pid = i32::try_from(a).ok(),
            (KIND_FAIL, step, errno) => failure = Some((step, errno)),
            _ => {}
        }
    }
    if let Some((step, errno)) = failure {
        wait_blocking(pid);
        return Err(LaunchError::Step {
            step: describe_step(step, &prepared),
            source: io::Error::from_raw_os_error(errno),
        });
    }
    let Some(task_pid) = task_pid else {
        wait_blocking(pid);
        return Err(LaunchError::Invalid(
            "the executor exited before starting the task".into(),
        ));
    };
    let shim_pidfd = match pidfd {
        Ok(fd) => fd,
        Err(e) => {
            // SAFETY: plain kill of our own child's process group and child.
            unsafe {
                libc::kill(-task_pid, libc::SIGKILL);
                libc::kill(task_pid, libc::SIGKILL);
            }
            wait_blocking(pid);
            return Err(io_err("opening a pidfd for the executor")(e));
        }
    };
    let shim = ProcRef::of(pid).unwrap_or(ProcRef { pid, start_time: 0 });
    let task = ProcRef::of(task_pid).unwrap_or(ProcRef {
        pid: task_pid,
        start_time: 0,
    });
    Ok(Launched {
        shim,
        task,
        shim_pidfd,
    })
}

fn wait_blocking(pid: i32) {
    let mut status: c_int = 0;
    loop {
        // SAFETY: waitpid on our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r >= 0 || io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return;
        }
    }
}

fn read_reports(fd: &OwnedFd) -> Vec<(u32, u32, i32)> {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        // SAFETY: buf is valid for its length.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            if io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            break;
        }
        let n = usize::try_from(n).unwrap_or(0);
        if n == 0 {
            break;
        }
        bytes.extend_from_slice(&buf[..n]);
    }
    bytes
        .chunks_exact(12)
        .map(|c| {
            let w = |i: usize| [c[i], c[i + 1], c[i + 2], c[i + 3]];
            (
                u32::from_le_bytes(w(0)),
                u32::from_le_bytes(w(4)),
                i32::from_le_bytes(w(8)),
            )
        })
        .collect()
}

fn describe_step(step: u32, p: &Prepared) -> String {
    let lossy = |c: &CString| c.to_string_lossy().into_owned();
    match step {
        STEP_SHIM_SETSID => "start the executor session".into(),
        STEP_SHIM_SETNS => "join the task's pid namespace".into(),
        STEP_SHIM_UNSHARE => "create the pid namespace".into(),
        STEP_FORK => "fork the task process".into(),
        STEP_SETSID => "start the task session".into(),
        STEP_CGROUP => "join the task cgroup".into(),
        STEP_SETNS => "join the task's namespaces".into(),
        STEP_UNSHARE => "create namespaces".into(),
        STEP_OOM_ADJ => "set oom_score_adj".into(),
        STEP_STDIO => "set up stdin/stdout/stderr".into(),
        STEP_CTTY => "set the controlling terminal".into(),
        STEP_SETGROUPS => "set supplementary groups".into(),
        STEP_SETGID => "switch group".into(),
        STEP_SETUID => "switch user".into(),
        STEP_NO_NEW_PRIVS => "set no_new_privs".into(),
        STEP_CAPS => "drop capabilities".into(),
        STEP_CHDIR => format!(
            "change to working directory {:?}",
            p.cwd.as_ref().map(lossy).unwrap_or_default()
        ),
        STEP_EXEC => match p.programs.as_slice() {
            [one] => format!("execute {:?}", lossy(one)),
            _ => format!(
                "find executable {:?} in the task's PATH",
                p.argv.first().map(lossy).unwrap_or_default()
            ),
        },
        s if s >= SETUP_BASE => match &p.setup {
            Some(setup) => setup.describe(s - SETUP_BASE),
            None => format!("setup step {}", s - SETUP_BASE),
        },
        s => format!("launch step {s}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_parse() {
        assert_eq!(parse_status("nomad-exit v1 137 9\n"), Some((137, 9)));
        assert_eq!(parse_status("nomad-exit v1 0 0"), Some((0, 0)));
        assert_eq!(parse_status(""), None);
        assert_eq!(parse_status("garbage 1 2"), None);
    }

    #[test]
    fn candidates_follow_nomads_lookup() {
        let local = PathBuf::from("/t/local");
        let c = program_candidates("sh", None, std::slice::from_ref(&local), Some("/a:/b"));
        assert_eq!(
            c,
            vec![
                PathBuf::from("/t/local/sh"),
                PathBuf::from("/a/sh"),
                PathBuf::from("/b/sh")
            ]
        );
        assert_eq!(
            program_candidates("/bin/sh", None, &[], None),
            vec![PathBuf::from("/bin/sh")]
        );
        assert_eq!(
            program_candidates("local/run.sh", Some(Path::new("/t")), &[], None),
            vec![PathBuf::from("/t/local/run.sh")]
        );
    }
}
