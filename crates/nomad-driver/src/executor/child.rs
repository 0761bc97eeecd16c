//! The code that runs in the forked shim and task processes: raw system
//! calls only, on data prepared before `fork` ([`Prepared`]), without
//! allocating, locking or panicking (async-signal-safe, as required after
//! forking a multi-threaded process).

use std::ffi::CString;
use std::os::fd::RawFd;
use std::sync::Arc;

use libc::{c_char, c_int};

use super::launch::{ChildSetup, STATUS_MAGIC};

pub(super) const KIND_PID: u32 = 1;
pub(super) const KIND_FAIL: u32 = 2;

/// Steps that can fail in the shim or the task; reported with the errno.
pub(super) const STEP_SHIM_SETSID: u32 = 1;
pub(super) const STEP_SHIM_SETNS: u32 = 2;
pub(super) const STEP_SHIM_UNSHARE: u32 = 3;
pub(super) const STEP_FORK: u32 = 4;
pub(super) const STEP_SETSID: u32 = 5;
pub(super) const STEP_CGROUP: u32 = 6;
pub(super) const STEP_SETNS: u32 = 7;
pub(super) const STEP_UNSHARE: u32 = 8;
pub(super) const STEP_OOM_ADJ: u32 = 9;
pub(super) const STEP_STDIO: u32 = 10;
pub(super) const STEP_CTTY: u32 = 11;
pub(super) const STEP_SETGROUPS: u32 = 12;
pub(super) const STEP_SETGID: u32 = 13;
pub(super) const STEP_SETUID: u32 = 14;
pub(super) const STEP_NO_NEW_PRIVS: u32 = 15;
pub(super) const STEP_CHDIR: u32 = 16;
pub(super) const STEP_EXEC: u32 = 17;
pub(super) const STEP_CAPS: u32 = 18;
/// Steps of a [`ChildSetup`] are reported as `SETUP_BASE + step`.
pub(super) const SETUP_BASE: u32 = 1000;

/// Everything the forked processes touch, prepared before `fork`.
pub(super) struct Prepared {
    pub(super) programs: Vec<CString>,
    pub(super) argv: Vec<CString>,
    pub(super) argv_ptrs: Vec<*const c_char>,
    /// Owns the strings `envp_ptrs` points into.
    pub(super) _envp: Vec<CString>,
    pub(super) envp_ptrs: Vec<*const c_char>,
    pub(super) cwd: Option<CString>,
    pub(super) ids: Option<(libc::uid_t, libc::gid_t, Vec<libc::gid_t>)>,
    pub(super) stdio: [RawFd; 3],
    pub(super) devnull: RawFd,
    pub(super) ctty: bool,
    pub(super) status: RawFd,
    pub(super) report: RawFd,
    pub(super) shim_setns: Vec<(RawFd, c_int)>,
    pub(super) shim_unshare: c_int,
    pub(super) child_setns: Vec<(RawFd, c_int)>,
    pub(super) child_unshare: c_int,
    pub(super) cgroups: Vec<RawFd>,
    pub(super) oom: Option<([u8; 16], usize)>,
    pub(super) oom_path: CString,
    pub(super) nnp: bool,
    pub(super) keep_caps: Option<u64>,
    pub(super) keep: Vec<RawFd>,
    pub(super) max_fd: libc::c_uint,
    pub(super) setup: Option<Arc<dyn ChildSetup>>,
}

fn errno() -> i32 {
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe { *libc::__errno_location() }
}

unsafe fn report(fd: RawFd, kind: u32, a: u32, b: i32) {
    let mut buf = [0u8; 12];
    let (k, rest) = buf.split_at_mut(4);
    let (x, y) = rest.split_at_mut(4);
    k.copy_from_slice(&kind.to_le_bytes());
    x.copy_from_slice(&a.to_le_bytes());
    y.copy_from_slice(&b.to_le_bytes());
    libc::write(fd, buf.as_ptr().cast(), buf.len());
}

unsafe fn fail(p: &Prepared, step: u32, code: c_int) -> ! {
    report(p.report, KIND_FAIL, step, errno());
    libc::_exit(code)
}

unsafe fn close_except(keep: &[RawFd], max_fd: libc::c_uint) {
    let mut lo: libc::c_uint = 3;
    for &k in keep {
        let Ok(k) = libc::c_uint::try_from(k) else {
            continue;
        };
        if k > lo {
            close_range(lo, k - 1, max_fd);
        }
        if k >= lo {
            lo = k + 1;
        }
    }
    close_range(lo, libc::c_uint::MAX, max_fd);
}

unsafe fn close_range(lo: libc::c_uint, hi: libc::c_uint, max_fd: libc::c_uint) {
    if libc::syscall(libc::SYS_close_range, lo, hi, 0) == 0 {
        return;
    }
    let mut fd = lo;
    while fd <= hi && fd < max_fd {
        libc::close(fd as c_int);
        fd += 1;
    }
}

unsafe fn reset_signals() {
    for sig in 1..65 {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            libc::signal(sig, libc::SIG_DFL);
        }
    }
    let mut set: libc::sigset_t = std::mem::zeroed();
    libc::sigemptyset(&mut set);
    libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
}

/// Formats `v` in decimal into `buf`, returning the length.
fn fmt_i32(v: i32, buf: &mut [u8; 12]) -> usize {
    let mut tmp = [0u8; 12];
    let mut n = 0;
    let neg = v < 0;
    let mut u = i64::from(v).unsigned_abs();
    loop {
        if let Some(slot) = tmp.get_mut(n) {
            *slot = b'0' + (u % 10) as u8;
        }
        n += 1;
        u /= 10;
        if u == 0 || n >= 11 {
            break;
        }
    }
    let mut len = 0;
    if neg {
        buf[0] = b'-';
        len = 1;
    }
    while n > 0 && len < 12 {
        n -= 1;
        buf[len] = tmp[n];
        len += 1;
    }
    len
}

unsafe fn write_status(fd: RawFd, code: i32, signal: i32) {
    let mut line = [0u8; 64];
    let mut len = 0;
    let mut push = |bytes: &[u8]| {
        for &b in bytes {
            if let Some(slot) = line.get_mut(len) {
                *slot = b;
                len += 1;
            }
        }
    };
    push(STATUS_MAGIC.as_bytes());
    push(b" ");
    let mut num = [0u8; 12];
    let n = fmt_i32(code, &mut num);
    push(&num[..n]);
    push(b" ");
    let n = fmt_i32(signal, &mut num);
    push(&num[..n]);
    push(b"\n");
    libc::write(fd, line.as_ptr().cast(), len);
}

pub(super) unsafe fn shim_main(p: &Prepared) -> ! {
    reset_signals();
    libc::prctl(libc::PR_SET_NAME, c"nomad-executor".as_ptr(), 0, 0, 0);
    close_except(&p.keep, p.max_fd);
    for std_fd in 0..3 {
        libc::dup2(p.devnull, std_fd);
    }
    if libc::setsid() < 0 {
        fail(p, STEP_SHIM_SETSID, 126);
    }
    for &(fd, nstype) in &p.shim_setns {
        if libc::setns(fd, nstype) < 0 {
            fail(p, STEP_SHIM_SETNS, 126);
        }
    }
    if p.shim_unshare != 0 && libc::unshare(p.shim_unshare) < 0 {
        fail(p, STEP_SHIM_UNSHARE, 126);
    }
    let pid = libc::fork();
    if pid == 0 {
        task_main(p);
    }
    if pid < 0 {
        fail(p, STEP_FORK, 126);
    }
    report(p.report, KIND_PID, pid as u32, 0);
    close_except(&[p.status], p.max_fd);
    let mut status: c_int = 0;
    loop {
        let r = libc::waitpid(pid, &mut status, 0);
        if r == pid {
            break;
        }
        if r < 0 && errno() != libc::EINTR {
            libc::_exit(1);
        }
    }
    let (code, signal) = if libc::WIFSIGNALED(status) {
        let sig = libc::WTERMSIG(status);
        (128 + sig, sig)
    } else {
        (libc::WEXITSTATUS(status), 0)
    };
    write_status(p.status, code, signal);
    libc::_exit(0)
}

unsafe fn task_main(p: &Prepared) -> ! {
    if libc::setsid() < 0 {
        fail(p, STEP_SETSID, 127);
    }
    for &fd in &p.cgroups {
        if libc::write(fd, c"0".as_ptr().cast(), 1) < 0 {
            fail(p, STEP_CGROUP, 127);
        }
    }
    for &(fd, nstype) in &p.child_setns {
        if libc::setns(fd, nstype) < 0 {
            fail(p, STEP_SETNS, 127);
        }
    }
    if p.child_unshare != 0 && libc::unshare(p.child_unshare) < 0 {
        fail(p, STEP_UNSHARE, 127);
    }
    if let Some((buf, len)) = &p.oom {
        let fd = libc::open(p.oom_path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 || libc::write(fd, buf.as_ptr().cast(), *len) < 0 {
            fail(p, STEP_OOM_ADJ, 127);
        }
        libc::close(fd);
    }
    if let Some(setup) = &p.setup {
        if let Err(f) = setup.run() {
            report(p.report, KIND_FAIL, SETUP_BASE + f.step, f.errno);
            libc::_exit(127);
        }
    }
    for (target, &fd) in p.stdio.iter().enumerate() {
        if libc::dup2(fd, target as c_int) < 0 {
            fail(p, STEP_STDIO, 127);
        }
    }
    if p.ctty && libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
        fail(p, STEP_CTTY, 127);
    }
    // The task gets exactly stdin, stdout and stderr (the report pipe is
    // close-on-exec and signals a successful execve by closing).
    close_except(&[p.report], p.max_fd);
    if let Some(keep) = p.keep_caps {
        for cap in 0..64u32 {
            if keep & (1u64 << cap) == 0
                && libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) < 0
                && errno() != libc::EINVAL
            {
                fail(p, STEP_CAPS, 127);
            }
        }
    }
    if let Some((uid, gid, groups)) = &p.ids {
        if libc::setgroups(groups.len(), groups.as_ptr()) < 0 {
            fail(p, STEP_SETGROUPS, 127);
        }
        if libc::setgid(*gid) < 0 {
            fail(p, STEP_SETGID, 127);
        }
        if libc::setuid(*uid) < 0 {
            fail(p, STEP_SETUID, 127);
        }
    }
    if p.nnp && libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 {
        fail(p, STEP_NO_NEW_PRIVS, 127);
    }
    if let Some(cwd) = &p.cwd {
        if libc::chdir(cwd.as_ptr()) < 0 {
            fail(p, STEP_CHDIR, 127);
        }
    }
    let mut last = libc::ENOENT;
    for prog in &p.programs {
        libc::execve(prog.as_ptr(), p.argv_ptrs.as_ptr(), p.envp_ptrs.as_ptr());
        let e = errno();
        // Like execvp: keep looking on "not here", remember "not allowed".
        if e == libc::EACCES {
            last = e;
        } else if e != libc::ENOENT && e != libc::ENOTDIR {
            last = e;
            break;
        }
    }
    report(p.report, KIND_FAIL, STEP_EXEC, last);
    libc::_exit(127)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_numbers_without_allocating() {
        let mut b = [0u8; 12];
        for v in [0, 7, 42, 137, -1, i32::MAX, i32::MIN] {
            let n = fmt_i32(v, &mut b);
            assert_eq!(std::str::from_utf8(&b[..n]).unwrap(), v.to_string());
        }
    }
}
