//! Allocation directories (`<alloc_dir>/<alloc_id>/…`, Nomad's `allocdir`)
//! and the data behind `nomad alloc fs`: list, stat, read, read at an
//! offset, never outside the allocation's directory.

use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::time::UNIX_EPOCH;

use nomad_driver::TaskDirs;
use serde::{Deserialize, Serialize};

use crate::error::{ClientError, Context};

/// The directory of one allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocDir {
    /// `<alloc_dir>/<alloc_id>`.
    pub root: PathBuf,
}

impl AllocDir {
    /// The directory of `alloc_id` under the client's alloc dir.
    pub fn new(base: &Path, alloc_id: &str) -> Self {
        AllocDir {
            root: base.join(alloc_id),
        }
    }

    /// `alloc/` shared by the tasks.
    pub fn shared(&self) -> PathBuf {
        self.root.join("alloc")
    }

    /// `alloc/logs`.
    pub fn log_dir(&self) -> PathBuf {
        self.root.join("alloc").join("logs")
    }

    /// The directories of `task`.
    pub fn task_dirs(&self, task: &str) -> TaskDirs {
        TaskDirs::new(&self.root, task)
    }

    /// Creates the shared directories and those of every task.
    pub fn build<'a>(&self, tasks: impl IntoIterator<Item = &'a str>) -> Result<(), ClientError> {
        for t in tasks {
            self.task_dirs(t)
                .create_all()
                .ctx(|| format!("building task directory of {t} in {}", self.root.display()))?;
        }
        Ok(())
    }

    /// Removes the whole directory.
    pub fn destroy(&self) -> Result<(), ClientError> {
        match fs::remove_dir_all(&self.root) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(ClientError::io(
                format!("removing {}", self.root.display()),
                e,
            )),
        }
    }

    /// Resolves a user-supplied path (`alloc/logs/web.stdout.0`, `/`,
    /// `web/local/x`) inside the allocation directory. `..` that leaves the
    /// directory, and symlinks pointing outside it, are refused.
    pub fn resolve(&self, user_path: &str) -> Result<PathBuf, ClientError> {
        if user_path.contains('\0') {
            return Err(ClientError::Invalid(format!(
                "path {user_path:?} contains a NUL byte"
            )));
        }
        let rel = Path::new(user_path.trim_start_matches('/'));
        let mut clean = PathBuf::new();
        for c in rel.components() {
            match c {
                Component::Normal(p) => clean.push(p),
                Component::CurDir => {}
                Component::ParentDir => {
                    if !clean.pop() {
                        return Err(ClientError::PathEscapes(PathBuf::from(user_path)));
                    }
                }
                Component::RootDir | Component::Prefix(_) => {}
            }
        }
        let full = self.root.join(&clean);
        let root = self
            .root
            .canonicalize()
            .ctx(|| format!("resolving {}", self.root.display()))?;
        match full.canonicalize() {
            Ok(real) if real.starts_with(&root) => Ok(real),
            Ok(_) => Err(ClientError::PathEscapes(PathBuf::from(user_path))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(ClientError::NotFound(PathBuf::from(user_path)))
            }
            Err(e) => Err(ClientError::io(format!("resolving {user_path}"), e)),
        }
    }
}

/// One entry of `alloc fs` (Nomad's `AllocFileInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FileInfo {
    /// Base name.
    pub name: String,
    /// Directory.
    pub is_dir: bool,
    /// Size in bytes.
    pub size: u64,
    /// Mode as `ls -l` writes it (`-rw-r--r--`).
    pub file_mode: String,
    /// Modification time, Unix nanoseconds.
    pub mod_time: i64,
}

fn file_info(name: String, md: &fs::Metadata) -> FileInfo {
    let mod_time = md
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    FileInfo {
        name,
        is_dir: md.is_dir(),
        size: md.len(),
        file_mode: mode_string(md),
        mod_time,
    }
}

/// `drwxr-xr-x` / `-rw-r--r--` / `prw-------` / `Lrwxrwxrwx`, as Go's
/// `FileMode.String` writes it.
fn mode_string(md: &fs::Metadata) -> String {
    use std::os::unix::fs::FileTypeExt;
    let ft = md.file_type();
    let kind = if ft.is_dir() {
        'd'
    } else if ft.is_symlink() {
        'L'
    } else if ft.is_fifo() {
        'p'
    } else if ft.is_socket() {
        'S'
    } else if ft.is_char_device() {
        'c'
    } else if ft.is_block_device() {
        'D'
    } else {
        '-'
    };
    let mode = md.permissions().mode();
    let mut s = String::with_capacity(10);
    s.push(kind);
    for (i, ch) in "rwxrwxrwx".chars().enumerate() {
        s.push(if mode & (1 << (8 - i)) != 0 { ch } else { '-' });
    }
    s
}

/// `alloc fs <alloc> <path>` on a directory: its entries, sorted by name.
pub fn list(dir: &AllocDir, path: &str) -> Result<Vec<FileInfo>, ClientError> {
    let real = dir.resolve(path)?;
    if !real.is_dir() {
        return Err(ClientError::Invalid(format!("{path} is not a directory")));
    }
    let mut out = Vec::new();
    for e in fs::read_dir(&real).ctx(|| format!("listing {path}"))? {
        let e = e.ctx(|| format!("listing {path}"))?;
        let md = match e.metadata() {
            Ok(m) => m,
            Err(_) => continue,
        };
        out.push(file_info(e.file_name().to_string_lossy().into_owned(), &md));
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// `alloc fs -stat`.
pub fn stat(dir: &AllocDir, path: &str) -> Result<FileInfo, ClientError> {
    let real = dir.resolve(path)?;
    let md = fs::metadata(&real).ctx(|| format!("stat {path}"))?;
    let name = real
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "/".into());
    Ok(file_info(name, &md))
}

/// Reads up to `limit` bytes (all with `None`) of a file from `offset`
/// (`/v1/client/fs/readat`; `cat` is offset 0 without limit).
pub fn read_at(
    dir: &AllocDir,
    path: &str,
    offset: u64,
    limit: Option<u64>,
) -> Result<Vec<u8>, ClientError> {
    let real = dir.resolve(path)?;
    regular_file_len(&real, path)?;
    read_resolved(&real, path, offset, limit)
}

/// The length of the regular file at `real`, a resolved path (`path` as
/// the user gave it, for messages); directories and devices are refused.
pub(crate) fn regular_file_len(real: &Path, path: &str) -> Result<u64, ClientError> {
    let md = fs::metadata(real).ctx(|| format!("stat {path}"))?;
    if md.is_dir() {
        return Err(ClientError::Invalid(format!("{path} is a directory")));
    }
    if !md.is_file() {
        return Err(ClientError::Invalid(format!(
            "{path} is not a regular file"
        )));
    }
    Ok(md.len())
}

/// Up to `limit` bytes (all with `None`) of the file at `real`, a resolved
/// path, from `offset`.
pub(crate) fn read_resolved(
    real: &Path,
    path: &str,
    offset: u64,
    limit: Option<u64>,
) -> Result<Vec<u8>, ClientError> {
    let mut f = fs::File::open(real).ctx(|| format!("opening {path}"))?;
    f.seek(SeekFrom::Start(offset))
        .ctx(|| format!("seeking {path}"))?;
    let mut out = Vec::new();
    match limit {
        Some(n) => {
            f.take(n)
                .read_to_end(&mut out)
                .ctx(|| format!("reading {path}"))?;
        }
        None => {
            f.read_to_end(&mut out).ctx(|| format!("reading {path}"))?;
        }
    }
    Ok(out)
}

/// `alloc fs <alloc> <file>`: the whole file.
pub fn cat(dir: &AllocDir, path: &str) -> Result<Vec<u8>, ClientError> {
    read_at(dir, path, 0, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_layout_and_refuses_escapes() {
        let base = tempfile::tempdir().unwrap();
        let d = AllocDir::new(base.path(), "a1");
        d.build(["web"]).unwrap();
        for p in [
            "alloc/data",
            "alloc/logs",
            "alloc/tmp",
            "web/local",
            "web/secrets",
            "web/tmp",
        ] {
            assert!(d.root.join(p).is_dir(), "{p}");
        }
        fs::write(d.root.join("web/local/f.txt"), b"hello world").unwrap();
        std::os::unix::fs::symlink("/etc", d.root.join("web/local/etc")).unwrap();
        fs::write(base.path().join("secret"), b"s").unwrap();

        let names: Vec<String> = list(&d, "/").unwrap().into_iter().map(|f| f.name).collect();
        assert_eq!(names, vec!["alloc", "web"]);
        // Bad input is the caller's error (a 400), not the agent's.
        let err = list(&d, "web/local/f.txt").unwrap_err();
        assert!(
            matches!(&err, ClientError::Invalid(m) if m == "web/local/f.txt is not a directory"),
            "{err}"
        );
        let err = stat(&d, "web\0x").unwrap_err();
        assert_eq!(err.to_string(), r#"path "web\0x" contains a NUL byte"#);
        assert!(matches!(
            cat(&d, "web/local/f.txt\0"),
            Err(ClientError::Invalid(_))
        ));
        let st = stat(&d, "web/local/f.txt").unwrap();
        assert_eq!((st.size, st.is_dir), (11, false));
        assert!(st.file_mode.starts_with('-'));
        assert_eq!(cat(&d, "web/local/f.txt").unwrap(), b"hello world");
        assert_eq!(read_at(&d, "web/local/f.txt", 6, Some(3)).unwrap(), b"wor");
        assert_eq!(
            read_at(&d, "web/local/../local/./f.txt", 6, None).unwrap(),
            b"world"
        );
        assert!(matches!(
            cat(&d, "../secret"),
            Err(ClientError::PathEscapes(_))
        ));
        assert!(matches!(
            cat(&d, "web/../../secret"),
            Err(ClientError::PathEscapes(_))
        ));
        assert!(matches!(
            list(&d, "web/local/etc"),
            Err(ClientError::PathEscapes(_))
        ));
        assert!(matches!(cat(&d, "nope"), Err(ClientError::NotFound(_))));
        assert!(cat(&d, "web").is_err());
        d.destroy().unwrap();
        assert!(!d.root.exists());
    }
}
