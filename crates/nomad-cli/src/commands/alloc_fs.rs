//! `nomad alloc fs` (`command/alloc_fs.go`): list, stat or print the files
//! of an allocation's directory; `-f` follows a file and `-tail` starts near
//! its end (`/v1/client/fs/stream`).

use clap::Args;
use nomad_api_client::FileStreamRequest;
use nomad_types::api::AllocFileInfo;
use nomad_types::GoTime;

use super::alloc_actions::alloc_or_job;
use super::tail::{FirstChunk, Position, TailArgs};
use crate::ctx::{Ctx, GlobalArgs};
use crate::format::{format_go_time, format_list, ibytes};
use crate::Io;

#[derive(Debug, Args)]
pub struct AllocFsArgs {
    /// Sizes in bytes rather than KiB, MiB, ….
    #[arg(short = 'H')]
    machine: bool,
    /// Show the file's entry instead of its contents.
    #[arg(long)]
    stat: bool,
    /// Full IDs.
    #[arg(long)]
    verbose: bool,
    #[command(flatten)]
    tail: TailArgs,
    /// Take a random allocation of the job named instead.
    #[arg(long = "job")]
    job: bool,
    /// `<alloc> [<path>]` (the path defaults to the allocation directory).
    args: Vec<String>,
}

/// `nomad alloc fs [-H] [-stat] [-verbose] [-f] [-tail [-n N | -c N]]
/// <alloc> [<path>]`: a directory is listed, a file printed (from near its
/// end with `-tail`, and then followed with `-f`); `-stat` shows the entry
/// of either.
pub fn fs(args: AllocFsArgs, g: &GlobalArgs, io: &mut Io<'_>) -> i32 {
    let (alloc, path) = match args.args.as_slice() {
        [alloc] => (alloc, "/"),
        [alloc, path] => (alloc, path.as_str()),
        _ => {
            let _ = writeln!(
                io.err,
                "This command takes one or two arguments: <alloc> [<path>]"
            );
            let _ = writeln!(io.err, "{}", super::servers::help_hint("alloc fs"));
            return 1;
        }
    };
    let pos = match args.tail.position() {
        Ok(p) => p,
        Err(e) => {
            let _ = writeln!(io.err, "Error: {e}");
            return 1;
        }
    };
    let Some(ctx) = Ctx::new(g, io) else { return 1 };
    let alloc = match alloc_or_job(&ctx, alloc, args.job, args.verbose, io) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let file = match ctx.block(ctx.client.alloc_fs_stat(&alloc.id, path)) {
        Ok(f) => f,
        Err(e) => {
            let _ = writeln!(io.err, "Error stating file: {e}");
            return 1;
        }
    };
    if args.stat {
        let _ = writeln!(io.out, "{}", table(&[file], args.machine));
        return 0;
    }
    let streamed = args.tail.follow || args.tail.tail;
    if file.is_dir && streamed {
        let _ = writeln!(
            io.err,
            "Error: {path} is a directory; -f and -tail read files"
        );
        return 1;
    }
    if streamed {
        return stream(&ctx, &alloc.id, path, pos, args.tail.follow, io);
    }
    if file.is_dir {
        let files = match ctx.block(ctx.client.alloc_fs_list(&alloc.id, path)) {
            Ok(f) => f,
            Err(e) => {
                let _ = writeln!(io.err, "Error listing alloc dir: {e}");
                return 1;
            }
        };
        if !files.is_empty() {
            let _ = writeln!(io.out, "{}", table(&files, args.machine));
        }
        return 0;
    }
    let mut stream = match ctx.block(ctx.client.alloc_fs_cat(&alloc.id, path)) {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(io.err, "Error reading file: {e}");
            return 1;
        }
    };
    loop {
        match ctx.block(stream.next_chunk()) {
            Ok(Some(chunk)) => {
                if io.out.write_all(&chunk).is_err() {
                    return 1;
                }
            }
            Ok(None) => return 0,
            Err(e) => {
                let _ = writeln!(io.err, "Error reading file: {e}");
                return 1;
            }
        }
    }
}

/// Prints the file from `pos`, following it with `follow`, until the agent
/// ends the stream (or the file is deleted).
fn stream(
    ctx: &Ctx,
    alloc_id: &str,
    path: &str,
    pos: Position,
    follow: bool,
    io: &mut Io<'_>,
) -> i32 {
    let req = FileStreamRequest {
        path: path.to_string(),
        offset: pos.offset,
        from_end: pos.from_end,
        follow,
    };
    let mut frames = match ctx.block(ctx.client.alloc_fs_stream(alloc_id, &req)) {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(io.err, "Error reading file: {e}");
            return 1;
        }
    };
    let mut first = FirstChunk::new(pos);
    loop {
        match ctx.block(frames.next()) {
            Ok(Some(frame)) if frame.data.is_empty() => continue,
            Ok(Some(frame)) => {
                if io.out.write_all(&first.cut(frame.data)).is_err() {
                    return 1;
                }
                let _ = io.out.flush();
            }
            Ok(None) => return 0,
            Err(e) => {
                let _ = writeln!(io.err, "Error reading file: {e}");
                return 1;
            }
        }
    }
}

/// Nomad's `Mode  Size  Modified Time  Name` table; directories end in `/`.
fn table(files: &[AllocFileInfo], machine: bool) -> String {
    let mut out = vec!["Mode|Size|Modified Time|Name".to_string()];
    for f in files {
        let size = if machine {
            f.size.to_string()
        } else {
            ibytes(u64::try_from(f.size).unwrap_or(0))
        };
        let name = if f.is_dir {
            format!("{}/", f.name)
        } else {
            f.name.clone()
        };
        let modified = format_go_time(&GoTime(f.mod_time.clone()));
        out.push(format!("{}|{size}|{modified}|{name}", f.file_mode));
    }
    format_list(&out)
}
