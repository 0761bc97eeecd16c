//! `/v1/client/stats`, `/v1/client/allocation/:id/{stats,restart,signal,exec}`
//! answered by the client agent of this process: the conversions between
//! the client's types and the API's, and the plumbing of an exec session
//! (the HTTP side's channels into the driver's byte streams).

use std::collections::BTreeMap;
use std::time::Duration;

use nomad_api::stats::{
    AllocResourceUsage, HostCpuStats, HostDiskStats, HostMemoryStats, HostStats, TaskResourceUsage,
};
use nomad_api::{ClusterError, ExecChannels, ExecChunk, ExecStart};
use nomad_client::{ClientOps, HostDisk};
use nomad_driver::{ExecRequest, ExecStreams, TerminalSize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::client_fs::to_cluster;

/// Size of the in-process pipes between the websocket and the driver.
const PIPE: usize = 64 * 1024;
/// How long output still in a pipe may take to reach the socket after the
/// command exited (the driver closes its ends when it returns).
const DRAIN: Duration = Duration::from_secs(5);
/// How long a terminal session waits for the caller's terminal size before
/// starting the command without one.
const FIRST_SIZE_WAIT: Duration = Duration::from_millis(500);

fn disk(d: HostDisk) -> HostDiskStats {
    HostDiskStats {
        device: d.device,
        mountpoint: d.mountpoint,
        size: d.size,
        used: d.used,
        available: d.available,
        used_percent: d.used_percent,
        inodes_used_percent: d.inodes_used_percent,
    }
}

/// The client's host sample in Nomad's `HostStats`.
pub fn host_stats(ops: &ClientOps) -> HostStats {
    let s = ops.host_stats();
    HostStats {
        memory: Some(HostMemoryStats {
            total: s.memory.total,
            available: s.memory.available,
            used: s.memory.used,
            free: s.memory.free,
        }),
        cpu: s
            .cpu
            .into_iter()
            .map(|c| HostCpuStats {
                cpu: c.cpu,
                user: c.user,
                system: c.system,
                idle: c.idle,
                total: c.total,
            })
            .collect(),
        disk_stats: s.disks.into_iter().map(disk).collect(),
        alloc_dir_stats: s.alloc_dir.map(disk),
        device_stats: None,
        uptime: s.uptime,
        timestamp: s.timestamp,
        cpu_ticks_consumed: s.cpu_ticks_consumed,
    }
}

/// The allocation's usage from its drivers' samples.
pub async fn alloc_stats(
    ops: &ClientOps,
    alloc_id: &str,
    task: Option<&str>,
) -> Result<AllocResourceUsage, ClusterError> {
    let samples = ops.alloc_stats(alloc_id, task).await.map_err(to_cluster)?;
    let mut tasks = BTreeMap::new();
    for (name, usage) in samples {
        // The driver's type has Nomad's field names; the API's adds
        // `DeviceStats`.
        let v = serde_json::to_value(&usage).map_err(|e| ClusterError::Internal(e.to_string()))?;
        let mut t: TaskResourceUsage =
            serde_json::from_value(v).map_err(|e| ClusterError::Internal(e.to_string()))?;
        if t.pids.as_ref().is_some_and(|p| p.is_empty()) {
            t.pids = None;
        }
        tasks.insert(name, t);
    }
    Ok(AllocResourceUsage::from_tasks(tasks))
}

/// Runs an exec session: the HTTP side's channels become the driver's
/// streams; returns the command's exit code once its output was handed
/// over.
pub async fn exec(
    ops: &ClientOps,
    start: ExecStart,
    io: ExecChannels,
) -> Result<i32, ClusterError> {
    let ExecChannels {
        stdin: mut stdin_rx,
        resize: mut resize_rx,
        output,
    } = io;
    let (mut stdin_w, stdin_r) = tokio::io::duplex(PIPE);
    let feed = tokio::spawn(async move {
        while let Some(data) = stdin_rx.recv().await {
            if stdin_w.write_all(&data).await.is_err() {
                break;
            }
        }
        // Dropping the writer is the command's end of input.
    });
    let to_size = |s: nomad_api::TerminalSize| TerminalSize {
        cols: s.width,
        rows: s.height,
    };
    // A caller with a terminal sends its size first thing; a command
    // started before that arrives would see a 0x0 terminal.
    let initial_size = if start.tty {
        match tokio::time::timeout(FIRST_SIZE_WAIT, resize_rx.recv()).await {
            Ok(Some(s)) => Some(to_size(s)),
            _ => None,
        }
    } else {
        None
    };
    let (resize_tx, resize) = mpsc::channel(4);
    let sizes = tokio::spawn(async move {
        while let Some(s) = resize_rx.recv().await {
            if resize_tx.send(to_size(s)).await.is_err() {
                break;
            }
        }
    });
    let (out_w, out_r) = tokio::io::duplex(PIPE);
    let (err_w, err_r) = tokio::io::duplex(PIPE);
    let pumps = [
        pump(out_r, ExecChunk::Stdout, output.clone()),
        pump(err_r, ExecChunk::Stderr, output),
    ];
    let streams = ExecStreams {
        stdin: Some(Box::new(stdin_r)),
        stdout: Box::new(out_w),
        stderr: Box::new(err_w),
        resize: Some(resize),
        initial_size,
    };
    let request = ExecRequest {
        command: start.command,
        tty: start.tty,
    };
    let result = ops
        .exec(&start.alloc_id, &start.task, request, streams)
        .await;
    for p in pumps {
        let abort = p.abort_handle();
        if tokio::time::timeout(DRAIN, p).await.is_err() {
            tracing::warn!(alloc_id = %start.alloc_id, "exec output not drained in time");
            abort.abort();
        }
    }
    feed.abort();
    sizes.abort();
    let exit = result.map_err(to_cluster)?;
    Ok(exit.exit_code)
}

fn pump(
    mut r: tokio::io::DuplexStream,
    kind: fn(Vec<u8>) -> ExecChunk,
    tx: mpsc::Sender<ExecChunk>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match r.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send(kind(buf[..n].to_vec())).await.is_err() {
                        break;
                    }
                }
            }
        }
    })
}
