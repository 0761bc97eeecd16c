//! Following files as they grow: the data behind `/v1/client/fs/stream`
//! (one file of an allocation, [`stream_file`]) and, through the same
//! poller, `alloc logs -f` ([`crate::logs::follow_logs`], which also
//! crosses rotated files).
//!
//! A follower is a tokio task that polls the file and sends what is new
//! over a bounded channel; it stops when the receiver is dropped, so a
//! closed HTTP connection ends it.

use std::fs;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::allocdir::{read_resolved, regular_file_len, AllocDir};
use crate::error::{ClientError, Context};
use crate::logs::Origin;

/// The most one read of a followed file returns.
pub(crate) const READ_CHUNK: u64 = 64 * 1024;

/// What one poll of a follower found: items to send, and whether the
/// follower is done after sending them.
pub(crate) struct Step<T> {
    pub items: Vec<T>,
    pub done: bool,
}

/// Runs `step` until it is done, the receiver is gone or it fails (the
/// error is sent last). After a poll that found nothing it waits `poll`;
/// after one that found data it reads again at once, so a backlog drains
/// at disk speed.
pub(crate) fn spawn_poller<T, F>(
    poll: Duration,
    mut step: F,
) -> mpsc::Receiver<Result<T, ClientError>>
where
    T: Send + 'static,
    F: FnMut() -> Result<Step<T>, ClientError> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        loop {
            let found = match step() {
                Ok(s) => s,
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            };
            let empty = found.items.is_empty();
            for item in found.items {
                if tx.send(Ok(item)).await.is_err() {
                    return;
                }
            }
            if found.done {
                return;
            }
            if !empty {
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = tx.closed() => return,
            }
        }
    });
    rx
}

/// Something that happened to a followed file (Nomad's `FileEvent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileEvent {
    /// The file shrank below the position read so far; reading restarts
    /// at its beginning.
    Truncated,
    /// The file is gone; the stream ends.
    Deleted,
}

impl FileEvent {
    /// Nomad's text for the event (`file truncated`, `file deleted`).
    pub fn as_str(self) -> &'static str {
        match self {
            FileEvent::Truncated => "file truncated",
            FileEvent::Deleted => "file deleted",
        }
    }
}

/// One piece of a streamed file: `data` ending at byte `offset` of the
/// file, or an event (then `data` is empty and `offset` is where reading
/// goes on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFrame {
    /// Offset in the file just after `data`.
    pub offset: u64,
    /// Bytes read.
    pub data: Vec<u8>,
    /// What happened to the file, if anything.
    pub event: Option<FileEvent>,
}

/// Where and how to stream a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamFrom {
    /// Whether `offset` counts from the start or back from the end.
    pub origin: Origin,
    /// Bytes from `origin`.
    pub offset: u64,
    /// Keep the stream open and send what is appended; otherwise end at
    /// the end of the file as it is now.
    pub follow: bool,
}

/// Streams the file at `path` of an allocation directory from `from`,
/// polling every `poll` when following. The path must name a regular file
/// inside the directory (checked before this returns).
pub fn stream_file(
    dir: &AllocDir,
    path: &str,
    from: StreamFrom,
    poll: Duration,
) -> Result<mpsc::Receiver<Result<FileFrame, ClientError>>, ClientError> {
    let real = dir.resolve(path)?;
    let len = regular_file_len(&real, path)?;
    let mut offset = match from.origin {
        Origin::Start => from.offset.min(len),
        Origin::End => len.saturating_sub(from.offset),
    };
    let path = path.to_string();
    Ok(spawn_poller(poll, move || {
        let len = match fs::metadata(&real) {
            Ok(md) => md.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Step {
                    items: vec![event(offset, FileEvent::Deleted)],
                    done: true,
                });
            }
            Err(e) => return Err(e).ctx(|| format!("stat {path}")),
        };
        if len < offset {
            offset = 0;
            return Ok(Step {
                items: vec![event(0, FileEvent::Truncated)],
                done: false,
            });
        }
        let data = read_resolved(&real, &path, offset, Some(READ_CHUNK.min(len - offset)))?;
        if data.is_empty() {
            return Ok(Step {
                items: Vec::new(),
                done: !from.follow,
            });
        }
        offset += data.len() as u64;
        Ok(Step {
            items: vec![FileFrame {
                offset,
                data,
                event: None,
            }],
            done: false,
        })
    }))
}

fn event(offset: u64, e: FileEvent) -> FileFrame {
    FileFrame {
        offset,
        data: Vec::new(),
        event: Some(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    async fn next(rx: &mut mpsc::Receiver<Result<FileFrame, ClientError>>) -> Option<FileFrame> {
        tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("a frame within 5 s")
            .map(|r| r.expect("no error"))
    }

    fn dir() -> (tempfile::TempDir, AllocDir) {
        let base = tempfile::tempdir().unwrap();
        let a = AllocDir::new(base.path(), "a");
        a.build(["t"]).unwrap();
        (base, a)
    }

    #[tokio::test]
    async fn without_follow_the_stream_ends_at_the_end_of_the_file() {
        let (_b, a) = dir();
        fs::write(a.root.join("alloc/data.txt"), b"hello world").unwrap();
        let from = StreamFrom {
            origin: Origin::End,
            offset: 5,
            follow: false,
        };
        let mut rx = stream_file(&a, "alloc/data.txt", from, Duration::from_millis(10)).unwrap();
        let f = next(&mut rx).await.unwrap();
        assert_eq!((f.offset, f.data.as_slice()), (11, &b"world"[..]));
        assert_eq!(next(&mut rx).await, None);
    }

    #[tokio::test]
    async fn follow_sends_appends_truncation_and_deletion() {
        let (_b, a) = dir();
        let file = a.root.join("alloc/data.txt");
        fs::write(&file, b"abc").unwrap();
        let from = StreamFrom {
            origin: Origin::Start,
            offset: 1,
            follow: true,
        };
        let mut rx = stream_file(&a, "/alloc/data.txt", from, Duration::from_millis(10)).unwrap();
        assert_eq!(next(&mut rx).await.unwrap().data, b"bc");
        fs::OpenOptions::new()
            .append(true)
            .open(&file)
            .unwrap()
            .write_all(b"de")
            .unwrap();
        let f = next(&mut rx).await.unwrap();
        assert_eq!((f.offset, f.data.as_slice()), (5, &b"de"[..]));
        fs::write(&file, b"x").unwrap();
        let f = next(&mut rx).await.unwrap();
        assert_eq!((f.offset, f.event), (0, Some(FileEvent::Truncated)));
        let f = next(&mut rx).await.unwrap();
        assert_eq!((f.offset, f.data.as_slice()), (1, &b"x"[..]));
        fs::remove_file(&file).unwrap();
        assert_eq!(next(&mut rx).await.unwrap().event, Some(FileEvent::Deleted));
        assert_eq!(next(&mut rx).await, None);
    }

    #[test]
    fn refuses_directories_missing_files_and_escapes() {
        let (_b, a) = dir();
        let from = StreamFrom {
            origin: Origin::Start,
            offset: 0,
            follow: false,
        };
        let poll = Duration::from_millis(10);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _g = rt.enter();
        let err = stream_file(&a, "alloc", from, poll).unwrap_err();
        assert!(err.to_string().contains("alloc is a directory"), "{err}");
        assert!(matches!(
            stream_file(&a, "alloc/none", from, poll),
            Err(ClientError::NotFound(_))
        ));
        assert!(matches!(
            stream_file(&a, "../../etc/passwd", from, poll),
            Err(ClientError::PathEscapes(_))
        ));
    }
}
