//! Artifacts (Nomad's `artifact` block, go-getter's subset): `http://` and
//! `https://` URLs and local files (inside the allocation directory),
//! verified with `checksum = "<md5|sha1|sha256|sha512>:<hex>"`, and
//! `.tar`, `.tar.gz`/`.tgz` and `.zip` unpacked into the destination
//! (disable with `archive = "false"`). The destination, relative to the
//! task directory (default `local/`), must stay inside it, and so must
//! every archive entry.
//!
//! Escapes are refused in three places: the destination is resolved
//! through the symlinks already on disk ([`resolve_inside`]); a tar archive
//! is read once in full before anything is written, refusing absolute
//! paths, `..` that leaves the destination, paths through one of the
//! archive's own symlinks, and symlinks or hard links pointing outside;
//! and while unpacking, each entry's parent directory is resolved on disk
//! again.
//!
//! The agent downloads and verifies; archives are unpacked by a
//! low-privilege child process (`nobody` when the agent runs as root, see
//! [`helper`]) into a staging directory, whose contents the agent checks
//! again and moves into place. Binaries that do not call [`helper_main`]
//! (library users, tests) unpack in the agent instead.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

use md5::Md5;
use nomad_types::TaskArtifact;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

use crate::taskenv::TaskEnv;

pub mod helper;
pub use helper::helper_main;

/// Why an artifact could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// Bad source, options or destination.
    #[error("{0}")]
    Invalid(String),
    /// Download failed.
    #[error("{0}")]
    Download(String),
    /// Checksums differ.
    #[error("checksums did not match: expected {expected}, got {actual}")]
    Checksum {
        /// Wanted hex digest.
        expected: String,
        /// Computed hex digest.
        actual: String,
    },
    /// A path in the destination or an archive leaves the task directory.
    #[error("{0:?} escapes the task directory")]
    Escapes(String),
    /// Local I/O.
    #[error("{0}")]
    Io(#[from] io::Error),
}

enum Hasher {
    Md5(Md5),
    Sha1(Sha1),
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Hasher {
    fn new(kind: &str) -> Result<Self, ArtifactError> {
        Ok(match kind {
            "md5" => Hasher::Md5(Md5::new()),
            "sha1" => Hasher::Sha1(Sha1::new()),
            "sha256" => Hasher::Sha256(Sha256::new()),
            "sha512" => Hasher::Sha512(Sha512::new()),
            other => {
                return Err(ArtifactError::Invalid(format!(
                    "unsupported checksum type {other:?}"
                )))
            }
        })
    }

    fn update(&mut self, b: &[u8]) {
        match self {
            Hasher::Md5(h) => h.update(b),
            Hasher::Sha1(h) => h.update(b),
            Hasher::Sha256(h) => h.update(b),
            Hasher::Sha512(h) => h.update(b),
        }
    }

    fn hex(self) -> String {
        let bytes: Vec<u8> = match self {
            Hasher::Md5(h) => h.finalize().to_vec(),
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
        };
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// A source with go-getter's query options (`checksum`, `archive`) taken
/// out.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Source {
    url: String,
    checksum: Option<(String, String)>,
    archive: Option<bool>,
}

fn parse_source(
    raw: &str,
    options: &std::collections::BTreeMap<String, String>,
) -> Result<Source, ArtifactError> {
    let (base, query) = match raw.split_once('?') {
        Some((b, q)) if b.contains("://") || b.starts_with('/') || b.starts_with('.') => (b, q),
        _ => (raw, ""),
    };
    let mut kept = Vec::new();
    let mut checksum = options.get("checksum").cloned();
    let mut archive = options.get("archive").cloned();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("checksum", v)) => checksum = Some(v.to_string()),
            Some(("archive", v)) => archive = Some(v.to_string()),
            _ => kept.push(pair),
        }
    }
    let url = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    let checksum = match checksum {
        None => None,
        Some(c) => {
            let (t, v) = c.split_once(':').ok_or_else(|| {
                ArtifactError::Invalid(format!("invalid checksum {c:?}: want type:value"))
            })?;
            Hasher::new(t)?;
            Some((t.to_string(), v.to_ascii_lowercase()))
        }
    };
    let archive = match archive.as_deref() {
        None => None,
        Some("false") => Some(false),
        Some(_) => Some(true),
    };
    Ok(Source {
        url,
        checksum,
        archive,
    })
}

/// Joins a relative path under `root`, refusing `..` that leaves it and
/// absolute paths.
pub fn join_inside(root: &Path, rel: &str) -> Result<PathBuf, ArtifactError> {
    let mut out = root.to_path_buf();
    let mut depth = 0usize;
    for c in Path::new(rel).components() {
        match c {
            Component::Normal(p) => {
                out.push(p);
                depth += 1;
            }
            Component::CurDir => {}
            Component::ParentDir => {
                if depth == 0 {
                    return Err(ArtifactError::Escapes(rel.to_string()));
                }
                out.pop();
                depth -= 1;
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(ArtifactError::Escapes(rel.to_string()))
            }
        }
    }
    Ok(out)
}

/// Most symlinks followed while resolving one path (Linux's limit).
const MAX_SYMLINKS: usize = 40;

/// Resolves `rel` under `root` as the kernel would, following the
/// symlinks that already exist on disk, and refuses any step (a `..`, an
/// absolute path or link target, a link pointing outside) that leaves
/// `root`. Components that do not exist yet are taken as they are. The
/// result is `root` joined with the resolved relative path.
pub fn resolve_inside(root: &Path, rel: &str) -> Result<PathBuf, ArtifactError> {
    let escapes = || ArtifactError::Escapes(rel.to_string());
    if Path::new(rel).is_absolute() {
        return Err(escapes());
    }
    // Components still to walk, last first.
    let mut todo: Vec<std::ffi::OsString> = Path::new(rel)
        .components()
        .rev()
        .map(|c| c.as_os_str().to_os_string())
        .collect();
    let mut done: Vec<std::ffi::OsString> = Vec::new();
    let mut links = 0;
    while let Some(c) = todo.pop() {
        match c.to_str() {
            Some(".") => continue,
            Some("..") => {
                if done.pop().is_none() {
                    return Err(escapes());
                }
                continue;
            }
            _ => {}
        }
        let mut here = root.to_path_buf();
        here.extend(&done);
        here.push(&c);
        let is_link = fs::symlink_metadata(&here).is_ok_and(|m| m.file_type().is_symlink());
        if !is_link {
            done.push(c);
            continue;
        }
        links += 1;
        if links > MAX_SYMLINKS {
            return Err(ArtifactError::Invalid(format!(
                "too many levels of symbolic links in {rel:?}"
            )));
        }
        let target = fs::read_link(&here)?;
        if target.is_absolute() {
            return Err(ArtifactError::Escapes(format!(
                "{rel} -> {}",
                target.display()
            )));
        }
        // Walk the target from the link's directory.
        todo.extend(
            target
                .components()
                .rev()
                .map(|c| c.as_os_str().to_os_string()),
        );
    }
    let mut out = root.to_path_buf();
    out.extend(&done);
    Ok(out)
}

/// Walks `path` from `from` (both relative to an archive's root, as
/// `/`-rooted paths) component by component, as the kernel would once
/// unpacked: refuses leaving the root and going through (into or `..` out
/// of) one of the archive's `symlinks`. The last component may be a
/// symlink (its own target is checked as its entry).
fn walk_archive_path(
    from: &Path,
    path: &Path,
    symlinks: &std::collections::BTreeSet<PathBuf>,
) -> Option<PathBuf> {
    let mut cur = from.to_path_buf();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::Normal(p) => {
                if symlinks.contains(&cur) {
                    return None;
                }
                cur.push(p);
            }
            Component::ParentDir => {
                if symlinks.contains(&cur) || !cur.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(cur)
}

/// Checks every entry of a tar archive before anything is written: no
/// absolute path, no `..` leaving the destination, no path through a
/// symlink of the archive, no symlink or hard link pointing outside.
fn check_tar<R: Read>(r: R) -> Result<(), ArtifactError> {
    let mut ar = tar::Archive::new(r);
    let mut symlinks: std::collections::BTreeSet<PathBuf> = Default::default();
    for entry in ar.entries()? {
        let entry = entry?;
        let path = entry.path()?.into_owned();
        let name = path.display().to_string();
        let norm = walk_archive_path(Path::new(""), &path, &symlinks)
            .ok_or_else(|| ArtifactError::Escapes(name.clone()))?;
        let kind = entry.header().entry_type();
        if norm.as_os_str().is_empty() {
            // `./`: the destination itself.
            if kind.is_dir() {
                continue;
            }
            return Err(ArtifactError::Escapes(name));
        }
        if symlinks.contains(&norm) {
            return Err(ArtifactError::Escapes(format!(
                "{name} (replaces a symlink of the archive)"
            )));
        }
        if let Some(target) = entry.link_name()? {
            // Hard link targets name an entry of the archive; symlink
            // targets are relative to the link's directory.
            let from = if kind.is_hard_link() {
                PathBuf::new()
            } else {
                norm.parent().map(Path::to_path_buf).unwrap_or_default()
            };
            if walk_archive_path(&from, &target, &symlinks).is_none() {
                return Err(ArtifactError::Escapes(format!(
                    "{name} -> {}",
                    target.display()
                )));
            }
        }
        if kind.is_symlink() {
            symlinks.insert(norm);
        }
    }
    Ok(())
}

/// The archive formats unpacked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArchiveKind {
    Tar,
    TarGz,
    Zip,
}

impl ArchiveKind {
    /// The name passed to the helper process.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ArchiveKind::Tar => "tar",
            ArchiveKind::TarGz => "tar.gz",
            ArchiveKind::Zip => "zip",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "tar" => Some(ArchiveKind::Tar),
            "tar.gz" => Some(ArchiveKind::TarGz),
            "zip" => Some(ArchiveKind::Zip),
            _ => None,
        }
    }
}

fn archive_kind(url: &str) -> Option<ArchiveKind> {
    let path = url.split('?').next().unwrap_or(url).to_ascii_lowercase();
    if path.ends_with(".tar.gz") || path.ends_with(".tgz") {
        Some(ArchiveKind::TarGz)
    } else if path.ends_with(".tar") {
        Some(ArchiveKind::Tar)
    } else if path.ends_with(".zip") {
        Some(ArchiveKind::Zip)
    } else {
        None
    }
}

/// Fetches one artifact for a task whose directory is `task_dir`, inside
/// allocation directory `alloc_dir` (which bounds local sources).
pub async fn fetch(
    artifact: &TaskArtifact,
    env: &TaskEnv,
    alloc_dir: &Path,
    task_dir: &Path,
    http: &reqwest::Client,
) -> Result<(), ArtifactError> {
    let raw = env.replace(artifact.getter_source.as_deref().unwrap_or(""));
    if raw.trim().is_empty() {
        return Err(ArtifactError::Invalid("artifact has no source".into()));
    }
    let options = artifact
        .getter_options
        .iter()
        .map(|(k, v)| (k.clone(), env.replace(v)))
        .collect();
    let src = parse_source(&raw, &options)?;
    let dest_rel = env.replace(artifact.relative_dest.as_deref().unwrap_or("local/"));
    let dest = resolve_inside(task_dir, &dest_rel)?;
    let mode = artifact.getter_mode.as_deref().unwrap_or("any");

    let tmp_dir = task_dir.join("tmp");
    fs::create_dir_all(&tmp_dir)?;
    let tmp = tmp_dir.join(format!(".artifact-{}", uuid::Uuid::new_v4()));
    let result = async {
        let mut hasher = match &src.checksum {
            Some((t, _)) => Some(Hasher::new(t)?),
            None => None,
        };
        download(
            &src.url,
            artifact,
            env,
            alloc_dir,
            task_dir,
            http,
            &tmp,
            &mut hasher,
        )
        .await?;
        if let (Some(h), Some((_, want))) = (hasher, &src.checksum) {
            let got = h.hex();
            if &got != want {
                return Err(ArtifactError::Checksum {
                    expected: want.clone(),
                    actual: got,
                });
            }
        }
        let kind = if src.archive == Some(false) || mode == "file" {
            None
        } else {
            archive_kind(&src.url)
        };
        match kind {
            Some(kind) => helper::unpack(&tmp, &dest, &tmp_dir, kind).await,
            None => {
                let (tmp, dest, url) = (tmp.clone(), dest.clone(), src.url.clone());
                let file_mode = mode == "file";
                tokio::task::spawn_blocking(move || place_file(&tmp, &dest, &url, file_mode))
                    .await
                    .map_err(|e| ArtifactError::Invalid(format!("copying panicked: {e}")))?
            }
        }
    }
    .await;
    let _ = fs::remove_file(&tmp);
    result
}

#[allow(clippy::too_many_arguments)]
async fn download(
    url: &str,
    artifact: &TaskArtifact,
    env: &TaskEnv,
    alloc_dir: &Path,
    task_dir: &Path,
    http: &reqwest::Client,
    to: &Path,
    hasher: &mut Option<Hasher>,
) -> Result<(), ArtifactError> {
    let mut out = File::create(to)?;
    if url.starts_with("http://") || url.starts_with("https://") {
        let mut req = http.get(url);
        for (k, v) in &artifact.getter_headers {
            req = req.header(k.as_str(), env.replace(v));
        }
        let mut resp = req
            .send()
            .await
            .map_err(|e| ArtifactError::Download(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(ArtifactError::Download(format!(
                "bad response code: {}",
                resp.status().as_u16()
            )));
        }
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| ArtifactError::Download(e.to_string()))?
        {
            if let Some(h) = hasher.as_mut() {
                h.update(&chunk);
            }
            out.write_all(&chunk)?;
        }
        out.sync_all()?;
        return Ok(());
    }
    if let Some((scheme, _)) = url.split_once("://") {
        if scheme != "file" {
            return Err(ArtifactError::Invalid(format!(
                "unsupported artifact source scheme {scheme:?} (http, https and local files are)"
            )));
        }
    }
    let path = url.strip_prefix("file://").unwrap_or(url);
    let full = task_dir.join(path);
    let real = full
        .canonicalize()
        .map_err(|e| ArtifactError::Download(format!("{path}: {e}")))?;
    let root = alloc_dir.canonicalize()?;
    if !real.starts_with(&root) {
        return Err(ArtifactError::Invalid(format!(
            "local artifact {path:?} is outside the allocation directory"
        )));
    }
    let mut f = File::open(&real)?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        if let Some(h) = hasher.as_mut() {
            h.update(&buf[..n]);
        }
        out.write_all(&buf[..n])?;
    }
    Ok(())
}

fn base_name(url: &str) -> String {
    let path = url.split('?').next().unwrap_or(url);
    let name = path.rsplit('/').next().unwrap_or("");
    if name.is_empty() || name == ".." || name == "." {
        "artifact".to_string()
    } else {
        name.to_string()
    }
}

/// A file that is not unpacked: copied to `dest` (`mode = "file"`) or
/// into it under its own name.
fn place_file(tmp: &Path, dest: &Path, url: &str, file_mode: bool) -> Result<(), ArtifactError> {
    if file_mode {
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::copy(tmp, dest)?;
    } else {
        fs::create_dir_all(dest)?;
        fs::copy(tmp, dest.join(base_name(url)))?;
    }
    Ok(())
}

/// Checks and unpacks `archive` into `dest` (in this process: the helper
/// child runs this too, with `dest` its working directory).
pub(crate) fn unpack_archive(
    mut archive: File,
    dest: &Path,
    kind: ArchiveKind,
) -> Result<(), ArtifactError> {
    use std::io::{Seek, SeekFrom};
    match kind {
        ArchiveKind::Tar => {
            check_tar(&archive)?;
            archive.seek(SeekFrom::Start(0))?;
            untar(&archive, dest)
        }
        ArchiveKind::TarGz => {
            check_tar(flate2::read::GzDecoder::new(&archive))?;
            archive.seek(SeekFrom::Start(0))?;
            untar(flate2::read::GzDecoder::new(&archive), dest)
        }
        ArchiveKind::Zip => unzip(archive, dest),
    }
}

/// Unpacks a checked tar archive. Every entry is placed by path under
/// `dest` resolved on disk (never through `dest`'s canonical path, which a
/// helper running as `nobody` may not be allowed to look up); hard links
/// must name a file already unpacked inside `dest`.
fn untar<R: Read>(r: R, dest: &Path) -> Result<(), ArtifactError> {
    fs::create_dir_all(dest)?;
    let mut ar = tar::Archive::new(r);
    ar.set_preserve_permissions(true);
    for entry in ar.entries()? {
        let mut entry = entry?;
        let name = entry.path()?.display().to_string();
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions()
            || kind.is_pax_local_extensions()
            || kind.is_gnu_longname()
            || kind.is_gnu_longlink()
        {
            continue;
        }
        join_inside(dest, &name)?;
        let rel = Path::new(&name);
        let Some(file_name) = rel.file_name() else {
            // `./` (the destination itself) or a name ending in `..`.
            if kind.is_dir() && join_inside(dest, &name)? == dest {
                continue;
            }
            return Err(ArtifactError::Escapes(name));
        };
        // What is already on disk (an earlier entry, an earlier artifact)
        // must not lead the entry outside either.
        let parent = rel
            .parent()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let dir = resolve_inside(dest, &parent)?;
        fs::create_dir_all(&dir)?;
        let out = dir.join(file_name);
        if let Ok(Some(target)) = entry.link_name() {
            let t = target.display().to_string();
            if Path::new(&t).is_absolute() || join_inside(dest, &format!("{parent}/{t}")).is_err() {
                return Err(ArtifactError::Escapes(format!("{name} -> {t}")));
            }
            if kind.is_hard_link() {
                // Hard link targets name an entry of the archive.
                let src = resolve_inside(dest, &t)?;
                if !fs::symlink_metadata(&src).is_ok_and(|m| m.is_file()) {
                    return Err(ArtifactError::Invalid(format!(
                        "{name}: hard link to {t}, which is not a file of the archive"
                    )));
                }
                if fs::symlink_metadata(&out).is_ok() {
                    fs::remove_file(&out)?;
                }
                fs::hard_link(&src, &out)?;
                continue;
            }
        }
        entry.unpack(&out)?;
    }
    Ok(())
}

fn unzip(archive: File, dest: &Path) -> Result<(), ArtifactError> {
    fs::create_dir_all(dest)?;
    let mut z = zip::ZipArchive::new(archive)
        .map_err(|e| ArtifactError::Invalid(format!("bad zip archive: {e}")))?;
    for i in 0..z.len() {
        let mut f = z
            .by_index(i)
            .map_err(|e| ArtifactError::Invalid(format!("bad zip archive: {e}")))?;
        let rel = f.enclosed_name().ok_or_else(|| {
            ArtifactError::Escapes(String::from_utf8_lossy(f.name_raw()).into_owned())
        })?;
        let out = resolve_inside(dest, &rel.display().to_string())?;
        if f.is_dir() {
            fs::create_dir_all(&out)?;
            continue;
        }
        if let Some(p) = out.parent() {
            fs::create_dir_all(p)?;
        }
        let mut w = File::create(&out)?;
        io::copy(&mut f, &mut w)?;
        if let Some(mode) = f.unix_mode() {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&out, fs::Permissions::from_mode(mode & 0o777))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
