//! Unpacking archives in a low-privilege child process.
//!
//! Archives come from anywhere; reading them (decompression, tar and zip
//! parsing) is kept out of the agent. The agent runs its own executable
//! again (`/proc/self/exe __artifact-unpack <tar|tar.gz|zip>`) as `nobody`
//! when it runs as root (as itself otherwise), with no environment, no
//! new privileges, the downloaded archive on standard input and, as its
//! working directory, a fresh staging directory in the task's `tmp/`
//! owned by that user. The child checks and unpacks the archive there
//! (the same code as in-process unpacking) and reports on standard output
//! as one JSON object: `{"Uid":…,"Gid":…,"Error":null|{"Kind":…,"Message":…}}`.
//!
//! The agent then trusts nothing it did: every symlink in the staging
//! directory is checked again (relative, and resolving inside), everything
//! is given back to the agent's user (what in-process unpacking would have
//! left; a chown also clears set-user-ID bits), and the tree is moved into
//! the destination, merged with what is already there, each directory
//! resolved through the symlinks on disk so nothing lands outside the task
//! directory. The staging directory is removed in every case.
//!
//! The child is available only in binaries that call [`helper_main`] first
//! thing in `main` (`nomad`, `nomad-client`); elsewhere (library users,
//! tests) archives are unpacked in the agent, logged at debug level.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use super::{resolve_inside, unpack_archive, ArchiveKind, ArtifactError};

/// The hidden first argument that turns a binary into the helper.
pub const HELPER_ARG: &str = "__artifact-unpack";

/// Whether this process's binary called [`helper_main`].
static AVAILABLE: AtomicBool = AtomicBool::new(false);

/// The helper's entry point. Call it first thing in `main`: when the
/// process was started as the helper, it unpacks and exits; otherwise it
/// records that the helper is available and returns.
pub fn helper_main() {
    let mut args = std::env::args_os().skip(1);
    if args.next().as_deref() != Some(OsStr::new(HELPER_ARG)) {
        AVAILABLE.store(true, Ordering::Relaxed);
        return;
    }
    let report = match args
        .next()
        .as_deref()
        .and_then(OsStr::to_str)
        .and_then(ArchiveKind::parse)
    {
        Some(kind) => child_unpack(kind),
        None => Report {
            error: Some(WireError::of(&ArtifactError::Invalid(
                "artifact helper: unknown archive kind".into(),
            ))),
            ..Report::default()
        },
    };
    let code = i32::from(report.error.is_some());
    let _ = serde_json::to_writer(io::stdout(), &report);
    std::process::exit(code);
}

/// Whether archives are unpacked in a child process.
pub fn available() -> bool {
    AVAILABLE.load(Ordering::Relaxed)
}

/// What the child reports.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct Report {
    /// The user the child ran as.
    uid: u32,
    /// Its group.
    gid: u32,
    /// Why unpacking failed.
    error: Option<WireError>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireError {
    kind: String,
    message: String,
}

impl WireError {
    fn of(e: &ArtifactError) -> Self {
        let (kind, message) = match e {
            ArtifactError::Escapes(p) => ("escapes", p.clone()),
            ArtifactError::Invalid(m) => ("invalid", m.clone()),
            other => ("io", other.to_string()),
        };
        WireError {
            kind: kind.into(),
            message,
        }
    }

    fn into_error(self) -> ArtifactError {
        match self.kind.as_str() {
            "escapes" => ArtifactError::Escapes(self.message),
            "invalid" => ArtifactError::Invalid(self.message),
            _ => ArtifactError::Io(io::Error::other(self.message)),
        }
    }
}

fn effective_ids() -> (u32, u32) {
    // SAFETY: geteuid and getegid only read the process's credentials.
    unsafe { (libc::geteuid(), libc::getegid()) }
}

/// The child: the archive on stdin, the staging directory as the working
/// directory.
fn child_unpack(kind: ArchiveKind) -> Report {
    let (uid, gid) = effective_ids();
    let result = io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .map_err(ArtifactError::from)
        .and_then(|fd| unpack_archive(File::from(fd), Path::new("."), kind));
    Report {
        uid,
        gid,
        error: result.err().map(|e| WireError::of(&e)),
    }
}

/// `nobody`'s uid and gid from `/etc/passwd` (65534 when absent).
fn nobody() -> (u32, u32) {
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 3 && f[0] == "nobody")
                .then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
                .flatten()
        })
        .unwrap_or((65534, 65534))
}

/// Unpacks `archive` into `dest`, in a child process when the binary has
/// one (see the module docs), in this process otherwise. `tmp_dir` (the
/// task's `tmp/`) holds the staging directory.
pub(crate) async fn unpack(
    archive: &Path,
    dest: &Path,
    tmp_dir: &Path,
    kind: ArchiveKind,
) -> Result<(), ArtifactError> {
    let (archive, dest, tmp_dir) = (
        archive.to_path_buf(),
        dest.to_path_buf(),
        tmp_dir.to_path_buf(),
    );
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let _g = span.enter();
        unpack_blocking(&archive, &dest, &tmp_dir, kind)
    })
    .await
    .map_err(|e| ArtifactError::Invalid(format!("unpacking panicked: {e}")))?
}

fn unpack_blocking(
    archive: &Path,
    dest: &Path,
    tmp_dir: &Path,
    kind: ArchiveKind,
) -> Result<(), ArtifactError> {
    if !available() {
        tracing::debug!(
            "artifact helper not available (the binary does not call \
             nomad_client::artifact::helper_main); unpacking in the agent"
        );
        return unpack_archive(File::open(archive)?, dest, kind);
    }
    let (euid, egid) = effective_ids();
    let child_ids = (euid == 0).then(nobody);
    let stage = tmp_dir.join(format!(".artifact-stage-{}", uuid::Uuid::new_v4()));
    fs::DirBuilder::new().mode(0o700).create(&stage)?;
    let result = (|| {
        if let Some((uid, gid)) = child_ids {
            std::os::unix::fs::chown(&stage, Some(uid), Some(gid))?;
        }
        let mut report = match run_child(archive, &stage, kind, child_ids) {
            Ok(r) => r,
            Err(Spawn(e)) => {
                tracing::warn!(error = %e, "could not start the artifact helper; unpacking in the agent");
                return unpack_archive(File::open(archive)?, dest, kind);
            }
        };
        if let Some(e) = report.error.take() {
            return Err(e.into_error());
        }
        tracing::debug!(
            uid = report.uid,
            gid = report.gid,
            kind = kind.as_str(),
            "artifact unpacked by the helper process"
        );
        // The files go back to the agent's user only if someone else
        // wrote them.
        let owner = (report.uid != euid || report.gid != egid).then_some((euid, egid));
        adopt(&stage, Path::new(""), owner)?;
        merge(&stage, dest, Path::new(""))
    })();
    if let Err(e) = fs::remove_dir_all(&stage) {
        tracing::debug!(error = %e, dir = %stage.display(), "removing the artifact staging directory");
    }
    result
}

/// The child could not be started at all.
struct Spawn(io::Error);

/// Runs the helper; its report, or its failure as an artifact error.
fn run_child(
    archive: &Path,
    stage: &Path,
    kind: ArchiveKind,
    ids: Option<(u32, u32)>,
) -> Result<Report, Spawn> {
    let input = File::open(archive).map_err(Spawn)?;
    let dir = File::open(stage).map_err(Spawn)?;
    let dir_fd = dir.as_raw_fd();
    let mut cmd = Command::new("/proc/self/exe");
    cmd.arg(HELPER_ARG)
        .arg(kind.as_str())
        .env_clear()
        .stdin(Stdio::from(input))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some((uid, gid)) = ids {
        // std drops supplementary groups too when it changes the uid of a
        // root process.
        cmd.uid(uid).gid(gid);
    }
    // SAFETY: runs in the forked child before exec and calls only
    // async-signal-safe functions (fchdir, prctl) on a descriptor that
    // `dir` keeps open until the child has been spawned. The staging
    // directory is entered by descriptor: its path may not be searchable
    // by the child's user.
    unsafe {
        cmd.pre_exec(move || {
            if libc::fchdir(dir_fd) != 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().map_err(Spawn)?;
    drop(dir);
    let parsed: Option<Report> = serde_json::from_slice(&out.stdout).ok();
    Ok(match parsed {
        Some(r) => r,
        None => Report {
            error: Some(WireError::of(&ArtifactError::Invalid(format!(
                "artifact helper failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )))),
            ..Report::default()
        },
    })
}

/// Checks what the child left in `stage` (every symlink relative and
/// resolving inside) and, with `owner`, gives every entry to that user.
fn adopt(stage: &Path, rel: &Path, owner: Option<(u32, u32)>) -> Result<(), ArtifactError> {
    for entry in fs::read_dir(stage.join(rel))? {
        let entry = entry?;
        let r = rel.join(entry.file_name());
        let path = stage.join(&r);
        let md = fs::symlink_metadata(&path)?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::lchown(&path, Some(uid), Some(gid))?;
        }
        let ft = md.file_type();
        if ft.is_symlink() {
            let target = fs::read_link(&path)?;
            let via: PathBuf = rel.join(&target);
            if target.is_absolute() || resolve_inside(stage, &via.display().to_string()).is_err() {
                return Err(ArtifactError::Escapes(format!(
                    "{} -> {}",
                    r.display(),
                    target.display()
                )));
            }
        } else if ft.is_dir() {
            adopt(stage, &r, owner)?;
        }
    }
    Ok(())
}

/// Moves the contents of `stage/rel` into `dest/rel`, merging with
/// directories already there; `dest/rel` is resolved through the symlinks
/// on disk and must stay inside `dest`.
fn merge(stage: &Path, dest: &Path, rel: &Path) -> Result<(), ArtifactError> {
    let into = resolve_inside(dest, &rel.display().to_string())?;
    fs::create_dir_all(&into)?;
    for entry in fs::read_dir(stage.join(rel))? {
        let entry = entry?;
        let name = entry.file_name();
        let src = stage.join(rel).join(&name);
        let to = into.join(&name);
        let src_is_dir = fs::symlink_metadata(&src)?.is_dir();
        match fs::symlink_metadata(&to) {
            Ok(m) if src_is_dir && (m.is_dir() || m.file_type().is_symlink()) => {
                merge(stage, dest, &rel.join(&name))?
            }
            Ok(m) if m.is_dir() => {
                return Err(ArtifactError::Io(io::Error::other(format!(
                    "{}: a directory is in the way",
                    rel.join(&name).display()
                ))))
            }
            _ => move_entry(&src, &to)?,
        }
    }
    Ok(())
}

/// `rename`, or a copy when `to` is on another file system.
fn move_entry(src: &Path, to: &Path) -> io::Result<()> {
    match fs::rename(src, to) {
        Err(e) if e.kind() == io::ErrorKind::CrossesDevices => copy_tree(src, to),
        other => other,
    }
}

fn copy_tree(src: &Path, to: &Path) -> io::Result<()> {
    let md = fs::symlink_metadata(src)?;
    if md.file_type().is_symlink() {
        if fs::symlink_metadata(to).is_ok() {
            fs::remove_file(to)?;
        }
        return std::os::unix::fs::symlink(fs::read_link(src)?, to);
    }
    if !md.is_dir() {
        if fs::symlink_metadata(to).is_ok_and(|m| m.file_type().is_symlink()) {
            fs::remove_file(to)?;
        }
        return fs::copy(src, to).map(|_| ());
    }
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(src)? {
        let entry = entry?;
        copy_tree(&entry.path(), &to.join(entry.file_name()))?;
    }
    fs::set_permissions(to, md.permissions())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_trees_merge_into_the_destination() {
        let d = tempfile::tempdir().unwrap();
        let (stage, dest) = (d.path().join("stage"), d.path().join("dest"));
        fs::create_dir_all(stage.join("site/sub")).unwrap();
        fs::write(stage.join("site/sub/a"), "new").unwrap();
        std::os::unix::fs::symlink("sub/a", stage.join("site/link")).unwrap();
        fs::create_dir_all(dest.join("site")).unwrap();
        fs::write(dest.join("site/keep"), "old").unwrap();
        adopt(&stage, Path::new(""), None).unwrap();
        merge(&stage, &dest, Path::new("")).unwrap();
        assert_eq!(fs::read_to_string(dest.join("site/sub/a")).unwrap(), "new");
        assert_eq!(fs::read_to_string(dest.join("site/keep")).unwrap(), "old");
        assert_eq!(fs::read_to_string(dest.join("site/link")).unwrap(), "new");
    }

    #[test]
    fn a_staged_symlink_out_of_the_tree_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let stage = d.path().join("stage");
        fs::create_dir_all(stage.join("a")).unwrap();
        std::os::unix::fs::symlink(".", stage.join("a/d")).unwrap();
        std::os::unix::fs::symlink("d/../..", stage.join("a/up")).unwrap();
        let err = adopt(&stage, Path::new(""), None).unwrap_err();
        assert!(matches!(err, ArtifactError::Escapes(_)), "{err}");
        let stage2 = d.path().join("stage2");
        fs::create_dir_all(&stage2).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", stage2.join("p")).unwrap();
        assert!(adopt(&stage2, Path::new(""), None).is_err());
    }

    #[test]
    fn a_directory_link_on_disk_leading_out_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let (stage, dest) = (d.path().join("stage"), d.path().join("dest"));
        fs::create_dir_all(stage.join("out")).unwrap();
        fs::write(stage.join("out/x"), "x").unwrap();
        fs::create_dir_all(&dest).unwrap();
        std::os::unix::fs::symlink("..", dest.join("out")).unwrap();
        let err = merge(&stage, &dest, Path::new("")).unwrap_err();
        assert!(matches!(err, ArtifactError::Escapes(_)), "{err}");
        assert!(!d.path().join("x").exists());
    }

    #[test]
    fn reports_round_trip_their_errors() {
        let e = WireError::of(&ArtifactError::Escapes("../x".into())).into_error();
        assert!(matches!(e, ArtifactError::Escapes(p) if p == "../x"));
        assert!(nobody().0 > 0);
    }
}
