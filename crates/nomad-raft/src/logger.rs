//! Bridges raft-rs's `slog` logging into `tracing` (target `raft`).

use std::fmt::Write as _;

use slog::{Drain, Key, OwnedKVList, Record, KV};

/// A `slog` drain that re-emits every record as a `tracing` event.
struct TracingDrain;

struct KvCollector(String);

impl slog::Serializer for KvCollector {
    fn emit_arguments(&mut self, key: Key, val: &std::fmt::Arguments<'_>) -> slog::Result {
        let _ = write!(self.0, " {key}={val}");
        Ok(())
    }
}

fn enabled(level: slog::Level) -> bool {
    match level {
        slog::Level::Critical | slog::Level::Error => {
            tracing::enabled!(target: "raft", tracing::Level::ERROR)
        }
        slog::Level::Warning => tracing::enabled!(target: "raft", tracing::Level::WARN),
        slog::Level::Info => tracing::enabled!(target: "raft", tracing::Level::INFO),
        slog::Level::Debug => tracing::enabled!(target: "raft", tracing::Level::DEBUG),
        slog::Level::Trace => tracing::enabled!(target: "raft", tracing::Level::TRACE),
    }
}

impl Drain for TracingDrain {
    type Ok = ();
    type Err = slog::Never;

    fn log(&self, record: &Record<'_>, values: &OwnedKVList) -> Result<(), slog::Never> {
        if !enabled(record.level()) {
            return Ok(());
        }
        let mut kv = KvCollector(String::new());
        let _ = record.kv().serialize(record, &mut kv);
        let _ = values.serialize(record, &mut kv);
        let msg = record.msg();
        let kv = kv.0;
        match record.level() {
            slog::Level::Critical | slog::Level::Error => {
                tracing::error!(target: "raft", "{msg}{kv}")
            }
            slog::Level::Warning => tracing::warn!(target: "raft", "{msg}{kv}"),
            slog::Level::Info => tracing::info!(target: "raft", "{msg}{kv}"),
            slog::Level::Debug => tracing::debug!(target: "raft", "{msg}{kv}"),
            slog::Level::Trace => tracing::trace!(target: "raft", "{msg}{kv}"),
        }
        Ok(())
    }
}

/// A logger for raft-rs that writes through `tracing`, tagged with the node id.
pub(crate) fn raft_logger(id: u64) -> slog::Logger {
    slog::Logger::root(TracingDrain.fuse(), slog::o!("raft_id" => id))
}
