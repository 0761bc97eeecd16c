//! The task's filesystem: a chroot rooted at the task directory, built
//! inside the task's own mount namespace from read-only bind mounts of host
//! directories (Nomad's `chroot_env`), the shared alloc dir at `/alloc`, a
//! fresh `/proc`, a minimal `/dev` and a read-only `/sys`; then
//! `pivot_root` (or `chroot` with `no_pivot_root`).
//!
//! Host-side preparation (mount-point directories, the `secrets/` tmpfs)
//! happens in the driver; the mounts themselves run in the task process
//! before `execve`, as a list of steps prepared in advance so that the
//! forked process only makes raw system calls. Since every mount happens in
//! the task's private mount namespace (made a slave of the host's, so
//! nothing propagates back), nothing needs unmounting when the task ends.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use libc::{c_ulong, mode_t};
use nomad_driver::executor::{ChildFailure, ChildSetup};

/// Nomad's default `chroot_env`: host path → path in the chroot.
pub fn default_chroot_env() -> BTreeMap<String, String> {
    [
        "/bin",
        "/etc",
        "/lib",
        "/lib32",
        "/lib64",
        "/run/resolvconf",
        "/sbin",
        "/usr",
        "/run/systemd/resolve",
    ]
    .into_iter()
    .map(|p| (p.to_string(), p.to_string()))
    .collect()
}

/// Device nodes bind-mounted from the host into `/dev`.
const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

#[derive(Debug)]
enum Step {
    Mount {
        source: Option<CString>,
        target: CString,
        fstype: Option<CString>,
        flags: c_ulong,
        data: Option<CString>,
        optional: bool,
    },
    Mkdir {
        path: CString,
        mode: mode_t,
    },
    Touch {
        path: CString,
    },
    Symlink {
        target: CString,
        link: CString,
        optional: bool,
    },
    PivotRoot {
        root: CString,
    },
    Chroot {
        root: CString,
    },
}

/// The mount steps of one task, ready to run in the task process.
#[derive(Debug)]
pub struct ChrootPlan {
    steps: Vec<Step>,
}

fn cpath(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, format!("NUL in path {p:?}")))
}

fn cstr(s: &str) -> CString {
    CString::new(s).unwrap_or_default()
}

/// `root` joined with an absolute in-chroot path, refusing `..`.
fn inside(root: &Path, dest: &str) -> io::Result<PathBuf> {
    let rel = Path::new(dest);
    let mut out = root.to_path_buf();
    for c in rel.components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(n) => out.push(n),
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("chroot path {dest:?} must be absolute without '..'"),
                ))
            }
        }
    }
    Ok(out)
}

/// Options for building a [`ChrootPlan`].
#[derive(Debug, Clone)]
pub struct ChrootOptions {
    /// The task directory (the new root).
    pub root: PathBuf,
    /// The shared alloc directory, mounted at `/alloc`.
    pub shared_alloc_dir: PathBuf,
    /// Host path → chroot path.
    pub chroot_env: BTreeMap<String, String>,
    /// Use `chroot` instead of `pivot_root`.
    pub no_pivot_root: bool,
    /// The task has a private IPC namespace (mounts `/dev/mqueue`).
    pub private_ipc: bool,
}

impl ChrootPlan {
    /// Prepares the host side (mount points inside the task dir) and the
    /// steps for the task process.
    pub fn prepare(opts: &ChrootOptions) -> io::Result<Self> {
        let root = &opts.root;
        let mut steps = Vec::new();
        let bind = libc::MS_BIND;
        // Nothing done below may reach the host's mount table.
        steps.push(Step::Mount {
            source: None,
            target: cstr("/"),
            fstype: None,
            flags: libc::MS_REC | libc::MS_SLAVE,
            data: None,
            optional: false,
        });
        // pivot_root needs the new root to be a mount point. Everything the
        // task can write (its dir, /alloc) is nodev and nosuid.
        steps.push(Step::Mount {
            source: Some(cpath(root)?),
            target: cpath(root)?,
            fstype: None,
            flags: bind | libc::MS_REC,
            data: None,
            optional: false,
        });
        steps.push(Step::Mount {
            source: None,
            target: cpath(root)?,
            fstype: None,
            flags: bind | libc::MS_REMOUNT | libc::MS_NODEV | libc::MS_NOSUID | kept_flags(root),
            data: None,
            optional: false,
        });

        let mut entries: Vec<(&String, &String)> = opts.chroot_env.iter().collect();
        entries.sort_by(|a, b| a.1.cmp(b.1));
        for (src, dest) in entries {
            let src_path = Path::new(src);
            let Ok(meta) = fs::symlink_metadata(src_path) else {
                continue; // absent on this host, like Nomad
            };
            let target = inside(root, dest)?;
            if meta.file_type().is_symlink() {
                // Merged-/usr hosts: /bin -> usr/bin. Recreate the link.
                if fs::symlink_metadata(&target).is_err() {
                    if let Some(parent) = target.parent() {
                        fs::create_dir_all(parent)?;
                    }
                    std::os::unix::fs::symlink(fs::read_link(src_path)?, &target)?;
                }
                if fs::symlink_metadata(&target)?.file_type().is_symlink() {
                    continue;
                }
            }
            let is_dir = fs::metadata(src_path)?.is_dir();
            if is_dir {
                fs::create_dir_all(&target)?;
            } else {
                if let Some(parent) = target.parent() {
                    fs::create_dir_all(parent)?;
                }
                if fs::symlink_metadata(&target).is_err() {
                    fs::File::create(&target)?;
                }
            }
            let t = cpath(&target)?;
            steps.push(Step::Mount {
                source: Some(cpath(src_path)?),
                target: t.clone(),
                fstype: None,
                flags: bind | libc::MS_REC,
                data: None,
                optional: false,
            });
            steps.push(Step::Mount {
                source: None,
                target: t,
                fstype: None,
                flags: bind
                    | libc::MS_REMOUNT
                    | libc::MS_RDONLY
                    | libc::MS_NOSUID
                    | kept_flags(src_path),
                data: None,
                optional: false,
            });
        }

        // /alloc: the group's shared directory, writable.
        let alloc = root.join("alloc");
        fs::create_dir_all(&alloc)?;
        steps.push(Step::Mount {
            source: Some(cpath(&opts.shared_alloc_dir)?),
            target: cpath(&alloc)?,
            fstype: None,
            flags: bind | libc::MS_REC,
            data: None,
            optional: false,
        });
        steps.push(Step::Mount {
            source: None,
            target: cpath(&alloc)?,
            fstype: None,
            flags: bind
                | libc::MS_REMOUNT
                | libc::MS_NODEV
                | libc::MS_NOSUID
                | kept_flags(&opts.shared_alloc_dir),
            data: None,
            optional: false,
        });

        // /proc of the task's pid namespace, with the sensitive bits hidden.
        let proc_dir = root.join("proc");
        fs::create_dir_all(&proc_dir)?;
        let nodev_noexec = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
        steps.push(Step::Mount {
            source: Some(cstr("proc")),
            target: cpath(&proc_dir)?,
            fstype: Some(cstr("proc")),
            flags: nodev_noexec,
            data: None,
            optional: false,
        });
        for ro in ["sys", "sysrq-trigger", "irq", "bus"] {
            let p = cpath(&proc_dir.join(ro))?;
            steps.push(Step::Mount {
                source: Some(p.clone()),
                target: p.clone(),
                fstype: None,
                flags: bind | libc::MS_REC,
                data: None,
                optional: true,
            });
            steps.push(Step::Mount {
                source: None,
                target: p,
                fstype: None,
                flags: bind | libc::MS_REMOUNT | libc::MS_RDONLY | nodev_noexec,
                data: None,
                optional: true,
            });
        }
        steps.push(Step::Mount {
            source: Some(cstr("/dev/null")),
            target: cpath(&proc_dir.join("kcore"))?,
            fstype: None,
            flags: bind,
            data: None,
            optional: true,
        });

        // /sys, read-only (optional: some container hosts refuse it).
        let sys = root.join("sys");
        fs::create_dir_all(&sys)?;
        steps.push(Step::Mount {
            source: Some(cstr("sysfs")),
            target: cpath(&sys)?,
            fstype: Some(cstr("sysfs")),
            flags: nodev_noexec | libc::MS_RDONLY,
            data: None,
            optional: true,
        });

        // A minimal /dev on a fresh tmpfs.
        let dev = root.join("dev");
        fs::create_dir_all(&dev)?;
        steps.push(Step::Mount {
            source: Some(cstr("tmpfs")),
            target: cpath(&dev)?,
            fstype: Some(cstr("tmpfs")),
            flags: libc::MS_NOSUID | libc::MS_NODEV | libc::MS_STRICTATIME,
            data: Some(cstr("mode=755,size=65536k")),
            optional: false,
        });
        for d in DEVICES {
            let target = cpath(&dev.join(d))?;
            steps.push(Step::Touch {
                path: target.clone(),
            });
            steps.push(Step::Mount {
                source: Some(cstr(&format!("/dev/{d}"))),
                target,
                fstype: None,
                flags: bind,
                data: None,
                optional: *d == "tty",
            });
        }
        let pts = dev.join("pts");
        steps.push(Step::Mkdir {
            path: cpath(&pts)?,
            mode: 0o755,
        });
        steps.push(Step::Mount {
            source: Some(cstr("devpts")),
            target: cpath(&pts)?,
            fstype: Some(cstr("devpts")),
            flags: libc::MS_NOSUID | libc::MS_NOEXEC,
            data: Some(cstr("newinstance,ptmxmode=0666,mode=0620")),
            optional: true,
        });
        let shm = dev.join("shm");
        steps.push(Step::Mkdir {
            path: cpath(&shm)?,
            mode: 0o1777,
        });
        steps.push(Step::Mount {
            source: Some(cstr("shm")),
            target: cpath(&shm)?,
            fstype: Some(cstr("tmpfs")),
            flags: nodev_noexec,
            data: Some(cstr("mode=1777,size=65536k")),
            optional: false,
        });
        if opts.private_ipc {
            let mq = dev.join("mqueue");
            steps.push(Step::Mkdir {
                path: cpath(&mq)?,
                mode: 0o755,
            });
            steps.push(Step::Mount {
                source: Some(cstr("mqueue")),
                target: cpath(&mq)?,
                fstype: Some(cstr("mqueue")),
                flags: nodev_noexec,
                data: None,
                optional: true,
            });
        }
        for (target, link) in [
            ("pts/ptmx", "ptmx"),
            ("/proc/self/fd", "fd"),
            ("/proc/self/fd/0", "stdin"),
            ("/proc/self/fd/1", "stdout"),
            ("/proc/self/fd/2", "stderr"),
        ] {
            steps.push(Step::Symlink {
                target: cstr(target),
                link: cpath(&dev.join(link))?,
                optional: true,
            });
        }

        // tmp/ exists in the task dir (the client made it); make sure.
        let tmp = root.join("tmp");
        if !tmp.exists() {
            fs::create_dir_all(&tmp)?;
            fs::set_permissions(&tmp, fs::Permissions::from_mode(0o1777))?;
        }

        steps.push(if opts.no_pivot_root {
            Step::Chroot { root: cpath(root)? }
        } else {
            Step::PivotRoot { root: cpath(root)? }
        });
        Ok(ChrootPlan { steps })
    }
}

/// Flags of the mount holding `path` that a bind remount must keep
/// (`noexec`, `ro`, atime settings): a remount sets all flags at once.
fn kept_flags(path: &Path) -> c_ulong {
    let Ok(c) = cpath(path) else {
        return 0;
    };
    // SAFETY: statvfs fills the struct; c is NUL-terminated.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } < 0 {
        return 0;
    }
    let mut flags = 0;
    for (st_flag, ms_flag) in [
        (libc::ST_RDONLY, libc::MS_RDONLY),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (libc::ST_RELATIME, libc::MS_RELATIME),
    ] {
        if st.f_flag & st_flag != 0 {
            flags |= ms_flag;
        }
    }
    flags
}

fn errno() -> i32 {
    // SAFETY: reads this thread's errno.
    unsafe { *libc::__errno_location() }
}

fn opt_ptr(c: &Option<CString>) -> *const libc::c_char {
    c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr())
}

// SAFETY: `run` only makes raw system calls on CStrings built before the
// fork; it does not allocate, lock or panic.
unsafe impl ChildSetup for ChrootPlan {
    fn run(&self) -> Result<(), ChildFailure> {
        for (i, step) in self.steps.iter().enumerate() {
            let fail = |optional: bool| -> Result<(), ChildFailure> {
                if optional {
                    Ok(())
                } else {
                    Err(ChildFailure {
                        step: i as u32,
                        errno: errno(),
                    })
                }
            };
            // SAFETY: every pointer is a valid NUL-terminated string or null.
            unsafe {
                match step {
                    Step::Mount {
                        source,
                        target,
                        fstype,
                        flags,
                        data,
                        optional,
                    } => {
                        let rc = libc::mount(
                            opt_ptr(source),
                            target.as_ptr(),
                            opt_ptr(fstype),
                            *flags,
                            opt_ptr(data).cast(),
                        );
                        if rc < 0 {
                            fail(*optional)?;
                        }
                    }
                    Step::Mkdir { path, mode } => {
                        if libc::mkdir(path.as_ptr(), *mode) < 0 && errno() != libc::EEXIST {
                            fail(false)?;
                        }
                        if libc::chmod(path.as_ptr(), *mode) < 0 {
                            fail(false)?;
                        }
                    }
                    Step::Touch { path } => {
                        let fd = libc::open(
                            path.as_ptr(),
                            libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
                            0o666,
                        );
                        if fd < 0 {
                            fail(false)?;
                        } else {
                            libc::close(fd);
                        }
                    }
                    Step::Symlink {
                        target,
                        link,
                        optional,
                    } => {
                        if libc::symlink(target.as_ptr(), link.as_ptr()) < 0 {
                            fail(*optional)?;
                        }
                    }
                    Step::PivotRoot { root } => {
                        if libc::chdir(root.as_ptr()) < 0 {
                            fail(false)?;
                        }
                        let dot = c".".as_ptr();
                        if libc::syscall(libc::SYS_pivot_root, dot, dot) < 0 {
                            fail(false)?;
                        }
                        // The old root is stacked under the new one: detach it.
                        if libc::umount2(dot, libc::MNT_DETACH) < 0 {
                            fail(false)?;
                        }
                        if libc::chdir(c"/".as_ptr()) < 0 {
                            fail(false)?;
                        }
                    }
                    Step::Chroot { root } => {
                        if libc::chdir(root.as_ptr()) < 0
                            || libc::chroot(c".".as_ptr()) < 0
                            || libc::chdir(c"/".as_ptr()) < 0
                        {
                            fail(false)?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn describe(&self, step: u32) -> String {
        let s = |c: &CString| c.to_string_lossy().into_owned();
        match self.steps.get(step as usize) {
            Some(Step::Mount {
                source,
                target,
                fstype,
                ..
            }) => format!(
                "mount {} on {}{}",
                source.as_ref().map(s).unwrap_or_else(|| "(remount)".into()),
                s(target),
                fstype
                    .as_ref()
                    .map(|f| format!(" ({})", s(f)))
                    .unwrap_or_default()
            ),
            Some(Step::Mkdir { path, .. }) => format!("create directory {}", s(path)),
            Some(Step::Touch { path }) => format!("create {}", s(path)),
            Some(Step::Symlink { link, .. }) => format!("create symlink {}", s(link)),
            Some(Step::PivotRoot { root }) => format!("pivot_root into {}", s(root)),
            Some(Step::Chroot { root }) => format!("chroot into {}", s(root)),
            None => format!("chroot step {step}"),
        }
    }
}

/// True when `dir` is a mount point (its device differs from its parent's).
pub fn is_mount_point(dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let (Ok(d), Some(Ok(p))) = (fs::metadata(dir), dir.parent().map(fs::metadata)) else {
        return false;
    };
    d.dev() != p.dev()
}

/// Makes `secrets/` a tmpfs (noexec, `size_mb`), keeping files already
/// written there (templates render before the task starts). Returns false
/// when it already was a mount point (the client mounted it, as Nomad's
/// allocdir does), true when this call mounted it.
pub fn mount_secrets(dir: &Path, size_mb: i64) -> io::Result<bool> {
    if is_mount_point(dir) {
        return Ok(false);
    }
    // Read what is there, mount over it, write it back, remove the copies
    // left underneath so secrets do not stay on disk.
    let mut files = Vec::new();
    collect(dir, Path::new(""), &mut files)?;
    let mode = fs::metadata(dir)?.permissions().mode() & 0o7777;
    let size = if size_mb > 0 { size_mb } else { 1 };
    let data = cstr(&format!("size={size}m,mode={mode:o}"));
    let target = cpath(dir)?;
    // SAFETY: valid NUL-terminated strings.
    let rc = unsafe {
        libc::mount(
            c"tmpfs".as_ptr(),
            target.as_ptr(),
            c"tmpfs".as_ptr(),
            libc::MS_NOEXEC | libc::MS_NOSUID | libc::MS_NODEV,
            data.as_ptr().cast(),
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    for (rel, contents, perm) in &files {
        let p = dir.join(rel);
        match contents {
            None => fs::create_dir_all(&p)?,
            Some(bytes) => {
                if let Some(parent) = p.parent() {
                    fs::create_dir_all(parent)?;
                }
                fs::write(&p, bytes)?;
            }
        }
        fs::set_permissions(&p, fs::Permissions::from_mode(*perm))?;
    }
    Ok(true)
}

type SecretFile = (PathBuf, Option<Vec<u8>>, u32);

fn collect(base: &Path, rel: &Path, out: &mut Vec<SecretFile>) -> io::Result<()> {
    for entry in fs::read_dir(base.join(rel))? {
        let entry = entry?;
        let r = rel.join(entry.file_name());
        let meta = entry.metadata()?;
        let perm = meta.permissions().mode() & 0o7777;
        if meta.is_dir() {
            out.push((r.clone(), None, perm));
            collect(base, &r, out)?;
        } else if meta.is_file() {
            out.push((r.clone(), Some(fs::read(base.join(&r))?), perm));
            fs::remove_file(base.join(&r))?;
        }
    }
    Ok(())
}

/// Unmounts a secrets tmpfs this driver mounted.
pub fn unmount_secrets(dir: &Path) -> io::Result<()> {
    let target = cpath(dir)?;
    // SAFETY: valid NUL-terminated string.
    if unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) } < 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINVAL) && e.raw_os_error() != Some(libc::ENOENT) {
            return Err(e);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_chroot_env_is_nomads() {
        let env = default_chroot_env();
        for p in [
            "/bin",
            "/etc",
            "/lib",
            "/lib32",
            "/lib64",
            "/run/resolvconf",
            "/sbin",
            "/usr",
        ] {
            assert_eq!(env.get(p).map(String::as_str), Some(p));
        }
    }

    #[test]
    fn inside_refuses_escapes() {
        let root = Path::new("/r");
        assert_eq!(
            inside(root, "/usr/lib").unwrap(),
            PathBuf::from("/r/usr/lib")
        );
        assert!(inside(root, "/../etc").is_err());
    }

    #[test]
    fn plan_creates_mount_points_and_describes_steps() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("task");
        let shared = dir.path().join("alloc");
        fs::create_dir_all(&root).unwrap();
        fs::create_dir_all(&shared).unwrap();
        let mut env = BTreeMap::new();
        env.insert("/etc".to_string(), "/etc".to_string());
        env.insert("/no/such/dir".to_string(), "/x".to_string());
        let plan = ChrootPlan::prepare(&ChrootOptions {
            root: root.clone(),
            shared_alloc_dir: shared,
            chroot_env: env,
            no_pivot_root: false,
            private_ipc: true,
        })
        .unwrap();
        assert!(root.join("etc").is_dir() && root.join("proc").is_dir());
        assert!(root.join("alloc").is_dir() && root.join("dev").is_dir());
        assert!(!root.join("x").exists());
        let described: Vec<String> = (0..plan.steps.len() as u32)
            .map(|i| plan.describe(i))
            .collect();
        assert!(
            described.iter().any(|d| d.starts_with("mount /etc on")),
            "{described:?}"
        );
        assert!(described.last().unwrap().starts_with("pivot_root into"));
    }
}
