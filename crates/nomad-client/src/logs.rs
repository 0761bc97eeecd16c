//! Task logs: collection with rotation (Nomad's `logmon`) and reading (the
//! data behind `nomad alloc logs`).
//!
//! # Collection
//!
//! The driver writes a task's stdout and stderr into two FIFOs in
//! `alloc/logs/` (`.<task>.stdout.fifo`, `.<task>.stderr.fifo`; the
//! [`nomad_driver::TaskConfig`] log paths point at them). The client reads
//! them and writes `alloc/logs/<task>.stdout.<N>` / `.stderr.<N>`, starting
//! a new file with the next index when the current one reaches
//! `max_file_size` and deleting the oldest beyond `max_files`, as Nomad's
//! file rotator does. On restart it appends to the newest file.
//!
//! A FIFO whose last reader is gone makes the writer fail (`SIGPIPE`), so a
//! task would die while its client restarts. A tiny keeper process
//! (`sleep infinity` holding both read ends, in its own process group)
//! keeps the FIFOs open across client restarts; during the gap the task can
//! fill the pipe buffer and then blocks instead of dying. The keeper is
//! recorded in the task's state and killed when the task is done.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nomad_driver::executor::ProcRef;
use serde::{Deserialize, Serialize};
use tokio::net::unix::pipe;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::allocdir::AllocDir;
use crate::error::{ClientError, Context};
use crate::follow::{spawn_poller, Step, READ_CHUNK};

/// Rotation settings of one task (`logs { max_files, max_file_size }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// Files kept per stream.
    pub max_files: usize,
    /// Bytes per file.
    pub max_file_size: u64,
}

impl Default for Rotation {
    fn default() -> Self {
        Rotation {
            max_files: 10,
            max_file_size: 10 * 1024 * 1024,
        }
    }
}

impl Rotation {
    /// From a task's `LogConfig` (sizes in MB), with Nomad's defaults.
    pub fn from_config(cfg: Option<&nomad_types::LogConfig>) -> Self {
        let d = Rotation::default();
        let Some(c) = cfg else { return d };
        Rotation {
            max_files: c
                .max_files
                .filter(|n| *n > 0)
                .map(|n| n as usize)
                .unwrap_or(d.max_files),
            max_file_size: c
                .max_file_size_mb
                .filter(|n| *n > 0)
                .map(|n| n as u64 * 1024 * 1024)
                .unwrap_or(d.max_file_size),
        }
    }
}

/// Writes a stream into `<prefix>.<N>` files, rotating by size.
#[derive(Debug)]
pub struct FileRotator {
    dir: PathBuf,
    prefix: String,
    rotation: Rotation,
    index: u64,
    size: u64,
    file: File,
}

impl FileRotator {
    /// Opens the newest `<prefix>.<N>` in `dir` for appending (index 0 when
    /// there is none).
    pub fn open(dir: &Path, prefix: &str, rotation: Rotation) -> io::Result<Self> {
        let index = indexed_files(dir, prefix)
            .last()
            .map(|(i, _)| *i)
            .unwrap_or(0);
        let (file, size) = open_append(&dir.join(format!("{prefix}.{index}")))?;
        let mut r = FileRotator {
            dir: dir.to_path_buf(),
            prefix: prefix.to_string(),
            rotation,
            index,
            size,
            file,
        };
        if r.size >= r.rotation.max_file_size {
            r.rotate()?;
        }
        Ok(r)
    }

    /// Index of the file being written.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Appends `buf`, starting new files as each fills up.
    pub fn write(&mut self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            let room = self.rotation.max_file_size.saturating_sub(self.size);
            if room == 0 {
                self.rotate()?;
                continue;
            }
            let n = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
            self.file.write_all(&buf[..n])?;
            self.size += n as u64;
            buf = &buf[n..];
        }
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.index += 1;
        let (file, size) = open_append(&self.dir.join(format!("{}.{}", self.prefix, self.index)))?;
        self.file = file;
        self.size = size;
        self.purge();
        Ok(())
    }

    fn purge(&self) {
        let keep = self.rotation.max_files.max(1) as u64;
        for (i, path) in indexed_files(&self.dir, &self.prefix) {
            if i + keep <= self.index {
                let _ = fs::remove_file(path);
            }
        }
    }
}

fn open_append(path: &Path) -> io::Result<(File, u64)> {
    let f = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o644)
        .open(path)?;
    let size = f.metadata()?.len();
    Ok((f, size))
}

/// `<prefix>.<N>` files in `dir`, by index.
pub fn indexed_files(dir: &Path, prefix: &str) -> Vec<(u64, PathBuf)> {
    let mut out = Vec::new();
    let Ok(rd) = fs::read_dir(dir) else {
        return out;
    };
    let dotted = format!("{prefix}.");
    for e in rd.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(idx) = name
            .strip_prefix(&dotted)
            .and_then(|s| s.parse::<u64>().ok())
        {
            out.push((idx, e.path()));
        }
    }
    out.sort_by_key(|(i, _)| *i);
    out
}

/// The FIFO paths a task's driver writes its stdout and stderr to.
pub fn fifo_paths(log_dir: &Path, task: &str) -> (PathBuf, PathBuf) {
    (
        log_dir.join(format!(".{task}.stdout.fifo")),
        log_dir.join(format!(".{task}.stderr.fifo")),
    )
}

fn ensure_fifo(path: &Path) -> Result<(), ClientError> {
    match fs::symlink_metadata(path) {
        Ok(md) if md.file_type().is_fifo() => return Ok(()),
        Ok(_) => fs::remove_file(path).ctx(|| format!("replacing {}", path.display()))?,
        Err(_) => {}
    }
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| ClientError::Invalid(format!("bad path {}", path.display())))?;
    // SAFETY: plain syscall on a NUL-terminated path we own.
    if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } != 0 {
        return Err(ClientError::io(
            format!("creating fifo {}", path.display()),
            io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// A running log collector of one task.
#[derive(Debug)]
pub struct LogCollector {
    stop: watch::Sender<bool>,
    loops: Vec<JoinHandle<()>>,
    keeper_child: Option<Child>,
    /// The process keeping the FIFOs open (persisted by the task runner).
    pub keeper: Option<ProcRef>,
    /// FIFO for stdout.
    pub stdout_path: PathBuf,
    /// FIFO for stderr.
    pub stderr_path: PathBuf,
}

impl LogCollector {
    /// Starts collecting `task`'s logs under `log_dir`. `keeper` is the
    /// keeper recorded by an earlier client, reused while it lives.
    pub fn start(
        log_dir: &Path,
        task: &str,
        rotation: Rotation,
        keeper: Option<ProcRef>,
    ) -> Result<Self, ClientError> {
        let (out, err) = fifo_paths(log_dir, task);
        ensure_fifo(&out)?;
        ensure_fifo(&err)?;
        let (stop, stop_rx) = watch::channel(false);
        let mut loops = Vec::with_capacity(2);
        for (fifo, kind) in [(&out, "stdout"), (&err, "stderr")] {
            let rx = pipe::OpenOptions::new()
                .read_write(true)
                .open_receiver(fifo)
                .ctx(|| format!("opening {}", fifo.display()))?;
            let rotator = FileRotator::open(log_dir, &format!("{task}.{kind}"), rotation)
                .ctx(|| format!("opening {task}.{kind} log"))?;
            loops.push(tokio::spawn(pump(rx, rotator, stop_rx.clone())));
        }
        let mut c = LogCollector {
            stop,
            loops,
            keeper_child: None,
            keeper: keeper.filter(ProcRef::is_alive),
            stdout_path: out,
            stderr_path: err,
        };
        if c.keeper.is_none() {
            match spawn_keeper(&c.stdout_path, &c.stderr_path) {
                Ok((child, r)) => {
                    c.keeper_child = Some(child);
                    c.keeper = Some(r);
                }
                Err(e) => tracing::warn!(task, error = %e,
                    "no log keeper: the task may get SIGPIPE while the client restarts"),
            }
        }
        Ok(c)
    }

    /// Stops collecting after reading what the task wrote, and ends the
    /// keeper. Call once the task has exited.
    pub async fn stop(mut self) {
        self.stop.send_replace(true);
        for l in self.loops.drain(..) {
            let _ = l.await;
        }
        self.kill_keeper();
    }

    fn kill_keeper(&mut self) {
        if let Some(mut child) = self.keeper_child.take() {
            let _ = child.kill();
            let _ = child.wait();
        } else if let Some(k) = self.keeper.take() {
            if k.is_alive() {
                // SAFETY: plain syscall; the pid was checked against its start time.
                unsafe { libc::kill(k.pid, libc::SIGKILL) };
            }
        }
        self.keeper = None;
    }
}

impl Drop for LogCollector {
    fn drop(&mut self) {
        // Dropped without stop(): the client is going away; the keeper
        // stays for the next client, the pumps end with the runtime.
        for l in &self.loops {
            l.abort();
        }
        if let Some(child) = self.keeper_child.take() {
            // Not waited: it must outlive us.
            drop(child);
        }
    }
}

fn spawn_keeper(out: &Path, err: &Path) -> io::Result<(Child, ProcRef)> {
    use std::os::unix::process::CommandExt;
    let open = |p: &Path| {
        OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(p)
    };
    let child = Command::new("sleep")
        .arg("infinity")
        .stdin(Stdio::from(open(out)?))
        .stdout(Stdio::from(open(err)?))
        .stderr(Stdio::null())
        .current_dir("/")
        .process_group(0)
        .spawn()?;
    let r = ProcRef::of(child.id() as i32)?;
    Ok((child, r))
}

async fn pump(rx: pipe::Receiver, mut rotator: FileRotator, mut stop: watch::Receiver<bool>) {
    let mut buf = vec![0u8; 8 * 1024];
    loop {
        tokio::select! {
            r = rx.readable() => {
                if r.is_err() { return; }
                if !drain(&rx, &mut rotator, &mut buf) { return; }
            }
            _ = stop.changed() => {
                drain(&rx, &mut rotator, &mut buf);
                return;
            }
        }
    }
}

/// Reads everything available; false when the pipe failed.
fn drain(rx: &pipe::Receiver, rotator: &mut FileRotator, buf: &mut [u8]) -> bool {
    loop {
        match rx.try_read(buf) {
            Ok(0) => return true,
            Ok(n) => {
                if let Err(e) = rotator.write(&buf[..n]) {
                    tracing::warn!(error = %e, "writing task log");
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::warn!(error = %e, "reading task log fifo");
                return false;
            }
        }
    }
}

/// Where reading starts (`-origin` / `origin=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// `offset` bytes from the start of the oldest file kept.
    Start,
    /// `offset` bytes before the end of the newest file.
    End,
}

impl std::str::FromStr for Origin {
    type Err = ClientError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "start" | "" => Ok(Origin::Start),
            "end" => Ok(Origin::End),
            other => Err(ClientError::Invalid(format!(
                "origin must be start or end, not {other:?}"
            ))),
        }
    }
}

/// A piece of a log (Nomad's `StreamFrame`): bytes of `file` from `offset`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LogChunk {
    /// File name (`web.stdout.3`).
    pub file: String,
    /// Offset of `data` in the file.
    pub offset: u64,
    /// Bytes.
    pub data: Vec<u8>,
}

/// A position in a task's log stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogCursor {
    /// File index.
    pub index: u64,
    /// Offset in that file.
    pub offset: u64,
}

fn check_stream(task: &str, stream: &str) -> Result<(), ClientError> {
    if !matches!(stream, "stdout" | "stderr") {
        return Err(ClientError::Invalid(format!(
            "log type must be stdout or stderr, not {stream:?}"
        )));
    }
    if task.is_empty() || task.contains(['/', '\0']) || task.starts_with('.') {
        return Err(ClientError::Invalid(format!("bad task name {task:?}")));
    }
    Ok(())
}

fn sizes(dir: &Path, prefix: &str) -> Vec<(u64, PathBuf, u64)> {
    indexed_files(dir, prefix)
        .into_iter()
        .map(|(i, p)| {
            let len = fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
            (i, p, len)
        })
        .collect()
}

/// Turns (origin, offset) into a position over the files kept.
pub fn seek_logs(
    dir: &AllocDir,
    task: &str,
    stream: &str,
    origin: Origin,
    offset: u64,
) -> Result<LogCursor, ClientError> {
    check_stream(task, stream)?;
    let files = sizes(&dir.log_dir(), &format!("{task}.{stream}"));
    if files.is_empty() {
        return Ok(LogCursor {
            index: 0,
            offset: 0,
        });
    }
    let total: u64 = files.iter().map(|f| f.2).sum();
    let mut skip = match origin {
        Origin::Start => offset.min(total),
        Origin::End => total.saturating_sub(offset),
    };
    for (i, _, len) in &files {
        if skip < *len {
            return Ok(LogCursor {
                index: *i,
                offset: skip,
            });
        }
        skip -= len;
    }
    let (i, _, len) = &files[files.len() - 1];
    Ok(LogCursor {
        index: *i,
        offset: *len,
    })
}

/// Reads from `cursor` to the end of what is written now, at most `limit`
/// bytes, advancing the cursor. Files rotated away meanwhile are skipped.
pub fn read_from(
    dir: &AllocDir,
    task: &str,
    stream: &str,
    cursor: &mut LogCursor,
    limit: u64,
) -> Result<Vec<LogChunk>, ClientError> {
    check_stream(task, stream)?;
    let files = sizes(&dir.log_dir(), &format!("{task}.{stream}"));
    let mut out = Vec::new();
    let mut left = limit;
    for (i, path, len) in files {
        if i < cursor.index || left == 0 {
            continue;
        }
        if i > cursor.index {
            cursor.index = i;
            cursor.offset = 0;
        }
        if cursor.offset >= len {
            continue;
        }
        let mut f = File::open(&path).ctx(|| format!("opening {}", path.display()))?;
        f.seek(SeekFrom::Start(cursor.offset))
            .ctx(|| format!("seeking {}", path.display()))?;
        let mut data = Vec::new();
        f.take(left.min(len - cursor.offset))
            .read_to_end(&mut data)
            .ctx(|| format!("reading {}", path.display()))?;
        if data.is_empty() {
            continue;
        }
        left -= data.len() as u64;
        out.push(LogChunk {
            file: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            offset: cursor.offset,
            data: std::mem::take(&mut data),
        });
        cursor.offset += out.last().map(|c| c.data.len() as u64).unwrap_or(0);
    }
    Ok(out)
}

/// `nomad alloc logs` without `-f`: up to `limit` bytes from (origin,
/// offset), concatenated.
pub fn read_logs(
    dir: &AllocDir,
    task: &str,
    stream: &str,
    origin: Origin,
    offset: u64,
    limit: u64,
) -> Result<Vec<u8>, ClientError> {
    let mut cur = seek_logs(dir, task, stream, origin, offset)?;
    let chunks = read_from(dir, task, stream, &mut cur, limit)?;
    Ok(chunks.into_iter().flat_map(|c| c.data).collect())
}

/// `nomad alloc logs -f`: chunks as they are written, polled every
/// `poll`, until the receiver is dropped.
pub fn follow_logs(
    dir: AllocDir,
    task: String,
    stream: String,
    origin: Origin,
    offset: u64,
    poll: Duration,
) -> Result<mpsc::Receiver<Result<LogChunk, ClientError>>, ClientError> {
    let mut cur = seek_logs(&dir, &task, &stream, origin, offset)?;
    Ok(spawn_poller(poll, move || {
        Ok(Step {
            items: read_from(&dir, &task, &stream, &mut cur, READ_CHUNK)?,
            done: false,
        })
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotator_rotates_and_purges_like_nomad() {
        let d = tempfile::tempdir().unwrap();
        let rot = Rotation {
            max_files: 3,
            max_file_size: 10,
        };
        let mut r = FileRotator::open(d.path(), "web.stdout", rot).unwrap();
        r.write(b"0123456789abcdefghij0123456789ABCDE").unwrap();
        let files: Vec<u64> = indexed_files(d.path(), "web.stdout")
            .into_iter()
            .map(|f| f.0)
            .collect();
        assert_eq!(files, vec![1, 2, 3]);
        assert_eq!(fs::read(d.path().join("web.stdout.3")).unwrap(), b"ABCDE");
        drop(r);
        // Reopened: continue in the newest file.
        let mut r = FileRotator::open(d.path(), "web.stdout", rot).unwrap();
        assert_eq!(r.index(), 3);
        r.write(b"FG").unwrap();
        assert_eq!(fs::read(d.path().join("web.stdout.3")).unwrap(), b"ABCDEFG");
    }

    #[test]
    fn reads_across_files_from_either_origin() {
        let base = tempfile::tempdir().unwrap();
        let a = AllocDir::new(base.path(), "a");
        a.build(["t"]).unwrap();
        fs::write(a.log_dir().join("t.stdout.0"), b"hello ").unwrap();
        fs::write(a.log_dir().join("t.stdout.1"), b"world").unwrap();
        let all = read_logs(&a, "t", "stdout", Origin::Start, 0, 1 << 20).unwrap();
        assert_eq!(all, b"hello world");
        assert_eq!(
            read_logs(&a, "t", "stdout", Origin::End, 3, 1 << 20).unwrap(),
            b"rld"
        );
        assert_eq!(
            read_logs(&a, "t", "stdout", Origin::Start, 4, 4).unwrap(),
            b"o wo"
        );
        assert!(read_logs(&a, "t", "stdin", Origin::Start, 0, 1).is_err());
        assert!(read_logs(&a, "../x", "stdout", Origin::Start, 0, 1).is_err());
        let err = read_logs(&a, "t\0", "stdout", Origin::Start, 0, 1).unwrap_err();
        assert!(err.to_string().contains(r#"bad task name "t\0""#), "{err}");
        assert!(read_logs(&a, "none", "stdout", Origin::End, 0, 10)
            .unwrap()
            .is_empty());
    }
    #[tokio::test]
    async fn follow_streams_new_writes_across_rotation() {
        let base = tempfile::tempdir().unwrap();
        let a = AllocDir::new(base.path(), "a");
        a.build(["t"]).unwrap();
        fs::write(a.log_dir().join("t.stdout.0"), b"old").unwrap();
        let mut rx = follow_logs(
            a.clone(),
            "t".into(),
            "stdout".into(),
            Origin::End,
            0,
            Duration::from_millis(10),
        )
        .unwrap();
        let rot = Rotation {
            max_files: 5,
            max_file_size: 4,
        };
        let mut r = FileRotator::open(&a.log_dir(), "t.stdout", rot).unwrap();
        r.write(b"new data").unwrap();
        let mut got = Vec::new();
        while got.len() < 8 {
            let c = tokio::time::timeout(Duration::from_secs(5), rx.recv())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            got.extend(c.data);
        }
        assert_eq!(got, b"new data");
    }
}
