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
//! again. Unpacking runs on a blocking thread of the agent with the
//! agent's privileges: it is not (yet) done in a separate low-privilege
//! process.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

use md5::Md5;
use nomad_types::TaskArtifact;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

use crate::taskenv::TaskEnv;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArchiveKind {
    Tar,
    TarGz,
    Zip,
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
        let dest = dest.clone();
        let tmp2 = tmp.clone();
        let url = src.url.clone();
        let file_mode = mode == "file";
        tokio::task::spawn_blocking(move || place(&tmp2, &dest, &url, kind, file_mode))
            .await
            .map_err(|e| ArtifactError::Invalid(format!("unpacking panicked: {e}")))?
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

fn place(
    tmp: &Path,
    dest: &Path,
    url: &str,
    kind: Option<ArchiveKind>,
    file_mode: bool,
) -> Result<(), ArtifactError> {
    match kind {
        None if file_mode => {
            if let Some(parent) = dest.parent() {
                fs::create_dir_all(parent)?;
            }
            fs::copy(tmp, dest)?;
        }
        None => {
            fs::create_dir_all(dest)?;
            fs::copy(tmp, dest.join(base_name(url)))?;
        }
        Some(ArchiveKind::Tar) => {
            check_tar(File::open(tmp)?)?;
            untar(File::open(tmp)?, dest)?
        }
        Some(ArchiveKind::TarGz) => {
            check_tar(flate2::read::GzDecoder::new(File::open(tmp)?))?;
            untar(flate2::read::GzDecoder::new(File::open(tmp)?), dest)?
        }
        Some(ArchiveKind::Zip) => unzip(tmp, dest)?,
    }
    Ok(())
}

fn untar<R: Read>(r: R, dest: &Path) -> Result<(), ArtifactError> {
    fs::create_dir_all(dest)?;
    let mut ar = tar::Archive::new(r);
    ar.set_preserve_permissions(true);
    for entry in ar.entries()? {
        let mut entry = entry?;
        let name = entry.path()?.display().to_string();
        join_inside(dest, &name)?;
        // What is already on disk (an earlier entry, an earlier artifact)
        // must not lead the entry outside either.
        if let Some(parent) = Path::new(&name).parent() {
            resolve_inside(dest, &parent.display().to_string())?;
        }
        if let Ok(Some(target)) = entry.link_name() {
            let t = target.display().to_string();
            let parent = Path::new(&name)
                .parent()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            if Path::new(&t).is_absolute() || join_inside(dest, &format!("{parent}/{t}")).is_err() {
                return Err(ArtifactError::Escapes(format!("{name} -> {t}")));
            }
        }
        if !entry.unpack_in(dest)? {
            return Err(ArtifactError::Escapes(name));
        }
    }
    Ok(())
}

fn unzip(path: &Path, dest: &Path) -> Result<(), ArtifactError> {
    fs::create_dir_all(dest)?;
    let mut z = zip::ZipArchive::new(File::open(path)?)
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
mod tests {
    use super::*;

    #[test]
    fn sources_and_destinations() {
        let s = parse_source(
            "https://h/x.tar.gz?checksum=sha256:AB&archive=false&v=1",
            &Default::default(),
        )
        .unwrap();
        assert_eq!(s.url, "https://h/x.tar.gz?v=1");
        assert_eq!(s.checksum, Some(("sha256".into(), "ab".into())));
        assert_eq!(s.archive, Some(false));
        assert!(parse_source("http://h/x?checksum=crc:1", &Default::default()).is_err());
        let root = Path::new("/t");
        assert_eq!(
            join_inside(root, "local/a").unwrap(),
            Path::new("/t/local/a")
        );
        assert_eq!(join_inside(root, "local/../x").unwrap(), Path::new("/t/x"));
        assert!(join_inside(root, "../x").is_err());
        assert!(join_inside(root, "/etc").is_err());
        assert_eq!(archive_kind("http://h/a.TGZ"), Some(ArchiveKind::TarGz));
        assert_eq!(archive_kind("http://h/a.zip?x=1"), Some(ArchiveKind::Zip));
        assert_eq!(base_name("http://h/dir/file.bin?x"), "file.bin");
    }

    #[test]
    fn tar_with_escaping_entry_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, "evil", "/etc/passwd").unwrap();
        let bytes = b.into_inner().unwrap();
        let err = untar(&bytes[..], d.path()).unwrap_err();
        assert!(matches!(err, ArtifactError::Escapes(_)), "{err}");
    }

    /// A tar whose entries are written as given (no validation), so that
    /// hostile archives can be built.
    fn raw_tar(entries: &[(&str, tar::EntryType, &str)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, kind, link) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_mode(0o644);
            h.set_size(0);
            let name = &mut h.as_gnu_mut().unwrap().name;
            name[..path.len()].copy_from_slice(path.as_bytes());
            if !link.is_empty() {
                let l = &mut h.as_gnu_mut().unwrap().linkname;
                l[..link.len()].copy_from_slice(link.as_bytes());
            }
            h.set_cksum();
            b.append(&h, &[][..]).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn hostile_archives_are_refused_before_anything_is_written() {
        use tar::EntryType::{Directory, Link, Regular, Symlink};
        let refused: &[&[(&str, tar::EntryType, &str)]] = &[
            &[("../evil", Regular, "")],
            &[("/etc/evil", Regular, "")],
            &[("a/../../evil", Regular, "")],
            &[("ok", Regular, ""), ("l", Symlink, "../outside")],
            &[("l", Symlink, "/etc")],
            // A link to "." looks harmless; "d/.." through it is the
            // destination's parent.
            &[("d", Symlink, "."), ("d2", Symlink, "d/..")],
            &[("d", Symlink, "sub"), ("d/x", Regular, "")],
            &[("h", Link, "../../etc/passwd")],
            &[("l", Symlink, "x"), ("l", Regular, "")],
        ];
        for entries in refused {
            let bytes = raw_tar(entries);
            let err = check_tar(&bytes[..]).unwrap_err();
            assert!(
                matches!(err, ArtifactError::Escapes(_)),
                "{entries:?}: {err}"
            );
        }
        let fine = raw_tar(&[
            ("./", Directory, ""),
            ("lib/", Directory, ""),
            ("lib/libx.so.1", Regular, ""),
            ("lib/libx.so", Symlink, "libx.so.1"),
            ("bin/", Directory, ""),
            ("bin/tool", Symlink, "../lib/libx.so"),
            ("bin/hard", Link, "lib/libx.so.1"),
        ]);
        check_tar(&fine[..]).unwrap();
        let d = tempfile::tempdir().unwrap();
        untar(&fine[..], d.path()).unwrap();
        assert!(d.path().join("bin/tool").exists());
    }

    #[test]
    fn resolve_inside_follows_links_on_disk() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        fs::create_dir_all(root.join("local/sub")).unwrap();
        std::os::unix::fs::symlink("sub", root.join("local/in")).unwrap();
        std::os::unix::fs::symlink("../..", root.join("local/up")).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("local/abs")).unwrap();
        assert_eq!(
            resolve_inside(root, "local/in/x").unwrap(),
            root.join("local/sub/x")
        );
        assert_eq!(
            resolve_inside(root, "new/dir").unwrap(),
            root.join("new/dir")
        );
        assert!(resolve_inside(root, "local/up/x").is_err());
        assert!(resolve_inside(root, "local/abs").is_err());
        assert!(resolve_inside(root, "../x").is_err());
        std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
        assert!(resolve_inside(root, "loop/x").is_err());
    }

    #[test]
    fn zip_unpacks() {
        let d = tempfile::tempdir().unwrap();
        let zpath = d.path().join("a.zip");
        {
            let mut w = zip::ZipWriter::new(File::create(&zpath).unwrap());
            let o: zip::write::SimpleFileOptions = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored);
            w.start_file("dir/hello.txt", o).unwrap();
            w.write_all(b"hi").unwrap();
            w.finish().unwrap();
        }
        let out = d.path().join("out");
        unzip(&zpath, &out).unwrap();
        assert_eq!(fs::read(out.join("dir/hello.txt")).unwrap(), b"hi");
    }
}
