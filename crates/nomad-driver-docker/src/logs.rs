//! Copying a container's stdout and stderr into the task's log files
//! (Nomad's `docklog`): the logs API is followed from the container's
//! start, or, after a client restart, from where the files left off.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptions;
use bollard::Docker;
use futures_util::StreamExt;
use nomad_types::GoTime;
use tokio::io::AsyncWriteExt;

/// Where to start copying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Since {
    /// Everything the container wrote.
    Start,
    /// Messages logged after this instant (Unix nanoseconds). With
    /// `dedupe`, messages within [`AMBIGUITY`] of it are compared with the
    /// end of the files instead (a file's mtime comes from a coarse clock,
    /// so it does not order the last write exactly against Docker's
    /// timestamps).
    After { ns: i64, dedupe: bool },
}

/// Half-width of the window around a resume point in which a message may or
/// may not have been written already.
pub(crate) const AMBIGUITY: i64 = 50_000_000;

impl Since {
    /// The resume point of a recovered task: after the last write to its
    /// log files (regular files; FIFOs resume from now), or from the start
    /// when neither file exists.
    pub(crate) fn for_recovery(stdout: &Path, stderr: &Path) -> Since {
        let mut latest: Option<SystemTime> = None;
        let mut fifo = false;
        for p in [stdout, stderr] {
            match std::fs::metadata(p) {
                Ok(m) if m.file_type().is_file() => {
                    if let Ok(t) = m.modified() {
                        latest = Some(latest.map_or(t, |l| l.max(t)));
                    }
                }
                Ok(_) => fifo = true,
                Err(_) => {}
            }
        }
        if fifo {
            return Since::After {
                ns: nomad_driver::unix_nanos(SystemTime::now()),
                dedupe: false,
            };
        }
        match latest {
            Some(t) => Since::After {
                ns: nomad_driver::unix_nanos(t),
                dedupe: true,
            },
            None => Since::Start,
        }
    }
}

/// Who the log lines belong to, for tracing.
#[derive(Debug, Clone)]
pub(crate) struct LogJob {
    pub alloc_id: String,
    pub task: String,
    pub container_id: String,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
    pub since: Since,
}

async fn open(path: &Path) -> std::io::Result<tokio::fs::File> {
    tokio::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .await
}

/// Splits `2024-01-02T03:04:05.123456789Z payload` into the timestamp (Unix
/// nanoseconds) and the payload.
fn split_timestamp(bytes: &[u8]) -> (Option<i64>, &[u8]) {
    let Some(space) = bytes.iter().position(|b| *b == b' ') else {
        return (None, bytes);
    };
    let ts = std::str::from_utf8(&bytes[..space])
        .ok()
        .and_then(|s| GoTime(s.to_string()).to_unix_nanos());
    match ts {
        Some(ts) => (Some(ts), &bytes[space + 1..]),
        None => (None, bytes),
    }
}

/// One output stream being copied to its file.
struct Sink {
    file: tokio::fs::File,
    path: PathBuf,
    /// Messages of the ambiguous window, until resolved.
    pending: Option<Vec<Vec<u8>>>,
}

impl Sink {
    async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.file.write_all(bytes).await
    }

    /// Writes the pending messages that the file does not already end with.
    async fn resolve(&mut self) -> std::io::Result<()> {
        let Some(pending) = self.pending.take() else {
            return Ok(());
        };
        if pending.is_empty() {
            return Ok(());
        }
        let total: usize = pending.iter().map(|b| b.len()).sum();
        let tail = read_tail(&self.path, total).await?;
        let mut skip = 0;
        for k in (1..=pending.len()).rev() {
            let joined: Vec<u8> = pending[..k]
                .iter()
                .flat_map(|b| b.iter().copied())
                .collect();
            if tail.ends_with(&joined) {
                skip = k;
                break;
            }
        }
        for b in &pending[skip..] {
            self.write(b).await?;
        }
        Ok(())
    }
}

async fn read_tail(path: &Path, n: usize) -> std::io::Result<Vec<u8>> {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let mut f = tokio::fs::File::open(path).await?;
    let len = f.metadata().await?.len();
    let start = len.saturating_sub(n as u64);
    f.seek(std::io::SeekFrom::Start(start)).await?;
    let mut buf = Vec::with_capacity(n);
    f.read_to_end(&mut buf).await?;
    Ok(buf)
}

/// How long a resolving copy waits for more messages of the window.
const RESOLVE_IDLE: Duration = Duration::from_millis(200);

/// Follows the container's logs until the container stops (the stream
/// ends) and appends them to the task's files.
pub(crate) async fn copy_logs(docker: Docker, job: LogJob) {
    let (out, err) = match (open(&job.stdout).await, open(&job.stderr).await) {
        (Ok(o), Ok(e)) => (o, e),
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(alloc_id = %job.alloc_id, task = %job.task, error = %e,
                "cannot open the task's log files; container output is not collected");
            return;
        }
    };
    let (after, dedupe) = match job.since {
        Since::Start => (None, false),
        Since::After { ns, dedupe } => (Some(ns), dedupe),
    };
    let window = if dedupe { AMBIGUITY } else { 0 };
    let pending = || dedupe.then(Vec::new);
    let mut sinks = [
        Sink {
            file: out,
            path: job.stdout.clone(),
            pending: pending(),
        },
        Sink {
            file: err,
            path: job.stderr.clone(),
            pending: pending(),
        },
    ];
    let options = LogsOptions {
        follow: true,
        stdout: true,
        stderr: true,
        timestamps: after.is_some(),
        since: after.map_or(0, |ns| {
            i32::try_from((ns - window) / 1_000_000_000).unwrap_or(0)
        }),
        ..LogsOptions::default()
    };
    let mut stream = docker.logs(&job.container_id, Some(options));
    let result: std::io::Result<()> = async {
        loop {
            let resolving = sinks
                .iter()
                .any(|s| s.pending.as_ref().is_some_and(|p| !p.is_empty()));
            let next = if resolving {
                match tokio::time::timeout(RESOLVE_IDLE, stream.next()).await {
                    Ok(n) => n,
                    Err(_) => {
                        for s in &mut sinks {
                            s.resolve().await?;
                        }
                        continue;
                    }
                }
            } else {
                stream.next().await
            };
            let Some(item) = next else { break };
            let (i, bytes) = match item {
                Ok(LogOutput::StdErr { message }) => (1, message),
                Ok(LogOutput::StdOut { message }) | Ok(LogOutput::Console { message }) => {
                    (0, message)
                }
                Ok(LogOutput::StdIn { .. }) => continue,
                Err(e) => {
                    tracing::warn!(alloc_id = %job.alloc_id, task = %job.task, error = %e,
                        "following container logs failed");
                    break;
                }
            };
            let sink = &mut sinks[i];
            let Some(after) = after else {
                sink.write(&bytes).await?;
                continue;
            };
            let (ts, payload) = split_timestamp(&bytes);
            match ts {
                Some(ts) if ts < after - window => {}
                Some(ts) if ts <= after + window => {
                    // Without dedupe (window 0) a message at the resume
                    // instant itself was written already.
                    if let Some(p) = &mut sink.pending {
                        p.push(payload.to_vec());
                    }
                }
                _ => {
                    sink.resolve().await?;
                    sink.write(payload).await?;
                }
            }
        }
        for s in &mut sinks {
            s.resolve().await?;
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(alloc_id = %job.alloc_id, task = %job.task, error = %e,
            "writing container logs failed");
    }
    for s in &mut sinks {
        let _ = s.file.flush().await;
    }
    tracing::debug!(alloc_id = %job.alloc_id, task = %job.task, "container log stream ended");
}

/// How long an exit waits for the log copy to catch up.
pub(crate) const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_docker_timestamps() {
        let (ts, rest) = split_timestamp(b"2024-01-02T03:04:05.5Z hello world\n");
        assert_eq!(rest, b"hello world\n");
        assert_eq!(ts, Some(1_704_164_645_500_000_000));
        let (ts, rest) = split_timestamp(b"no timestamp here");
        assert!(ts.is_none());
        assert_eq!(rest, b"no timestamp here");
    }

    #[test]
    fn recovery_resumes_after_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let (o, e) = (dir.path().join("o"), dir.path().join("e"));
        assert_eq!(Since::for_recovery(&o, &e), Since::Start);
        std::fs::write(&o, "x").unwrap();
        assert!(matches!(
            Since::for_recovery(&o, &e),
            Since::After { ns, dedupe: true } if ns > 0
        ));
    }
}
