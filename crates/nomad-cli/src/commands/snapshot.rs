//! `nomad operator snapshot save` and `nomad operator snapshot restore`.

use std::io::Write as _;
use std::path::Path;

use clap::Args;
use nomad_api_client::QueryOptions;

use super::servers::help_hint;
use crate::ctx::{Ctx, GlobalArgs};
use crate::format::now_nanos;
use crate::Io;

#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Let any server answer (for a cluster without a leader).
    #[arg(long, num_args = 0..=1, require_equals = true, default_value_t = false, default_missing_value = "true", action = clap::ArgAction::Set)]
    stale: bool,
    /// Where to write the snapshot (default `nomad-state-<date>-<unix>.snap`).
    #[arg(value_name = "file")]
    files: Vec<String>,
}

/// `nomad operator snapshot save [<file>]`: writes the state image to a
/// temporary file next to the destination and renames it into place, so
/// the destination is either absent or complete.
pub fn save(args: SaveArgs, g: &GlobalArgs, io: &mut Io<'_>) -> i32 {
    if args.files.len() > 1 {
        let _ = writeln!(
            io.err,
            "This command takes either no arguments or one: <filename>"
        );
        let _ = writeln!(io.err, "{}", help_hint("operator snapshot save"));
        return 1;
    }
    let filename = args.files.first().cloned().unwrap_or_else(default_filename);
    match std::fs::symlink_metadata(&filename) {
        Ok(_) => {
            let _ = writeln!(io.err, "Destination file already exists: {filename:?}");
            let _ = writeln!(io.err, "{}", help_hint("operator snapshot save"));
            return 1;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            let _ = writeln!(
                io.err,
                "Unexpected failure checking {filename:?}: {}",
                go_path_error("lstat", &filename, &e)
            );
            return 1;
        }
    }
    let Some(ctx) = Ctx::new(g, io) else { return 1 };
    let q = QueryOptions {
        allow_stale: args.stale,
        ..QueryOptions::default()
    };
    let image = match ctx.block(ctx.client.snapshot_save_with(&q)) {
        Ok((_, image)) => image,
        Err(e) => {
            let _ = writeln!(io.err, "Failed to get snapshot file: {e}");
            return 1;
        }
    };
    let tmp = format!("{filename}.tmp");
    let mut file = match std::fs::File::create(&tmp) {
        Ok(f) => f,
        Err(e) => {
            let _ = writeln!(
                io.err,
                "Failed to create file: {}",
                go_path_error("open", &tmp, &e)
            );
            return 1;
        }
    };
    // Nomad's own words, typo included.
    if let Err(e) = file.write_all(&image).and_then(|()| file.sync_all()) {
        drop(file);
        let _ = std::fs::remove_file(&tmp);
        let _ = writeln!(
            io.err,
            "Filed to download snapshot file: {}",
            go_path_error("write", &tmp, &e)
        );
        return 1;
    }
    drop(file);
    if let Err(e) = std::fs::rename(&tmp, &filename) {
        let _ = std::fs::remove_file(&tmp);
        let _ = writeln!(
            io.err,
            "Filed to finalize snapshot file: rename {tmp} {filename}: {}",
            os_error_text(&e)
        );
        return 1;
    }
    let _ = writeln!(io.out, "State file written to {filename}");
    0
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The snapshot file to restore.
    #[arg(value_name = "file")]
    files: Vec<String>,
}

/// `nomad operator snapshot restore <file>`.
pub fn restore(args: RestoreArgs, g: &GlobalArgs, io: &mut Io<'_>) -> i32 {
    let [filename] = args.files.as_slice() else {
        let _ = writeln!(io.err, "This command takes one argument: <filename>");
        let _ = writeln!(io.err, "{}", help_hint("operator snapshot restore"));
        return 1;
    };
    let image = match std::fs::read(filename) {
        Ok(b) => b,
        Err(e) => {
            let text = go_path_error("open", filename, &e);
            let _ = writeln!(io.err, "Error opening snapshot file: {text:?}");
            return 1;
        }
    };
    let Some(ctx) = Ctx::new(g, io) else { return 1 };
    match ctx.block(ctx.client.snapshot_restore(image)) {
        Ok(()) => {
            let _ = writeln!(io.out, "Snapshot Restored");
            0
        }
        Err(e) => {
            let _ = writeln!(io.err, "Failed to get restore snapshot: {e}");
            1
        }
    }
}

/// Nomad's default name, `nomad-state-<YYYY><MM><D>-<unix seconds>.snap`
/// (its format pads the month but not the day).
fn default_filename() -> String {
    let nanos = now_nanos();
    let secs = nanos.div_euclid(1_000_000_000);
    let date = crate::format::format_unix_nanos(nanos);
    let y = date.get(0..4).unwrap_or("1970");
    let m = date.get(5..7).unwrap_or("01");
    let d: u32 = date.get(8..10).and_then(|d| d.parse().ok()).unwrap_or(1);
    format!("nomad-state-{y}{m}{d}-{secs}.snap")
}

/// An I/O error as Go's `*PathError` prints it: `open PATH: no such file or
/// directory`.
pub(crate) fn go_path_error(op: &str, path: impl AsRef<Path>, e: &std::io::Error) -> String {
    format!("{op} {}: {}", path.as_ref().display(), os_error_text(e))
}

/// The OS's text for an error, without Rust's ` (os error N)` and with a
/// lower-case first letter, as Go's `syscall.Errno` prints it.
fn os_error_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    let s = match s.find(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    };
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_style_errors_and_default_name() {
        let e = std::io::Error::from_raw_os_error(2);
        assert_eq!(
            go_path_error("open", "/x/y.snap", &e),
            "open /x/y.snap: no such file or directory"
        );
        let name = default_filename();
        assert!(
            name.starts_with("nomad-state-") && name.ends_with(".snap"),
            "{name}"
        );
    }
}
